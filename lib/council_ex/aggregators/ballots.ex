defmodule CouncilEx.Aggregators.Ballots do
  @moduledoc false
  # What the built-in aggregators share: reading member outputs, mapping
  # candidates to the indices the C aggregators count (sorted, so the
  # lowest index is the alphabetically first), calling the NIF, and mapping
  # its result back to candidates and member ids.
  #
  # A member output that cannot be read becomes a rejected ballot with a
  # reason; it never raises. Options that are wrong are an {:error, _}.

  alias CouncilEx.Native

  @seed_mask 0xFFFF_FFFF_FFFF_FFFF

  defmodule Candidates do
    @moduledoc false
    # The sorted candidates, their indices, and the string names an atom
    # candidate also answers to (a model writes "gpt" for member :gpt).
    defstruct list: [], tuple: {}, exact: %{}, aliases: %{}
  end

  alias __MODULE__.Candidates

  ## Options

  @doc "The options as a keyword list, or an error."
  def check_opts(opts) when is_list(opts) do
    if Keyword.keyword?(opts), do: :ok, else: {:error, {:invalid_options, opts}}
  end

  def check_opts(opts), do: {:error, {:invalid_options, opts}}

  @doc "The member outputs as a map, or an error."
  def check_outputs(outputs) when is_map(outputs) and not is_struct(outputs), do: :ok
  def check_outputs(outputs), do: {:error, {:invalid_outputs, outputs}}

  @doc """
  The NIF options for `:tie_break` (and `:seed`), and the caller's tie
  function if there is one.
  """
  def tie_rule(opts) do
    case Keyword.get(opts, :tie_break, :first) do
      :first ->
        {:ok, %{tie: :first}, nil}

      :random ->
        case Keyword.get(opts, :seed) do
          nil ->
            {:ok, %{tie: :random, seed: :rand.uniform(@seed_mask + 1) - 1}, nil}

          seed when is_integer(seed) ->
            {:ok, %{tie: :random, seed: Bitwise.band(seed, @seed_mask)}, nil}

          seed ->
            {:error, {:invalid_option, :seed, seed}}
        end

      fun when is_function(fun, 1) ->
        {:ok, %{tie: :caller}, fun}

      other ->
        {:error, {:invalid_option, :tie_break, other}}
    end
  end

  @doc "The `:candidates` option: nil or a list of candidate terms."
  def explicit_candidates(opts) do
    case Keyword.get(opts, :candidates) do
      nil ->
        {:ok, nil}

      list when is_list(list) ->
        if proper_list?(list) and Enum.all?(list, &candidate_term?/1),
          do: {:ok, list},
          else: {:error, {:invalid_option, :candidates, list}}

      other ->
        {:error, {:invalid_option, :candidates, other}}
    end
  end

  ## Reading outputs

  @doc "The value under `key` (an atom) or its string name, in a map or struct."
  def field(output, key) when is_map(output) do
    case Map.get(output, key) do
      nil -> Map.get(output, Atom.to_string(key))
      value -> value
    end
  end

  @doc "A candidate: a non-empty binary, an atom other than nil, or a number."
  def candidate_term?(""), do: false
  def candidate_term?(nil), do: false
  def candidate_term?(t), do: is_binary(t) or is_atom(t) or is_number(t)

  @doc "The member's `:ordering` as a list of candidate terms, or why not."
  def read_ordering(output) when is_map(output) do
    case field(output, :ordering) do
      nil ->
        {:error, :missing_ordering}

      list when is_list(list) ->
        if valid_items?(list), do: {:ok, list}, else: {:error, :invalid_ordering}

      _ ->
        {:error, :invalid_ordering}
    end
  end

  def read_ordering(_), do: {:error, :not_a_map}

  defp valid_items?(list), do: proper_list?(list) and Enum.all?(list, &candidate_term?/1)

  @doc "True for a proper list."
  def proper_list?([]), do: true
  def proper_list?([_ | tail]), do: proper_list?(tail)
  def proper_list?(_), do: false

  ## Candidates

  @doc "Candidates from the explicit list, or else from the terms seen; sorted."
  def candidates(explicit, seen) do
    list = (explicit || seen) |> Enum.uniq() |> Enum.sort()
    exact = list |> Enum.with_index() |> Map.new()

    aliases =
      for {c, i} <- exact,
          is_atom(c),
          name = Atom.to_string(c),
          not Map.has_key?(exact, name),
          into: %{} do
        {name, i}
      end

    %Candidates{list: list, tuple: List.to_tuple(list), exact: exact, aliases: aliases}
  end

  @doc "The index of a candidate term: the term itself, or an atom's name."
  def index(%Candidates{exact: exact, aliases: aliases}, term) do
    case Map.fetch(exact, term) do
      {:ok, i} -> {:ok, i}
      :error when is_binary(term) -> Map.fetch(aliases, term)
      :error when is_atom(term) -> Map.fetch(exact, Atom.to_string(term))
      :error -> :error
    end
  end

  @doc "Index of every item, or :error when one is not a candidate."
  def indices(cands, items) do
    Enum.reduce_while(items, {:ok, []}, fn item, {:ok, acc} ->
      case index(cands, item) do
        {:ok, i} -> {:cont, {:ok, [i | acc]}}
        :error -> {:halt, :error}
      end
    end)
    |> case do
      {:ok, acc} -> {:ok, Enum.reverse(acc)}
      :error -> :error
    end
  end

  def candidate(%Candidates{tuple: tuple}, index), do: elem(tuple, index)

  def count(%Candidates{list: list}), do: length(list)

  ## Running and reading the result

  @doc """
  Runs the C aggregator over `ballots` (`[{member, ballot}]`, ballot as the
  NIF takes it) and returns the result with per-member statuses:
  `{:ok, result, statuses}`, statuses a list of `{member, status}`.
  """
  def run(kind, cands, ballots, nif_opts) do
    case Native.aggregate(kind, count(cands), Enum.map(ballots, &elem(&1, 1)), nif_opts) do
      {:ok, result} ->
        {:ok, result, Enum.zip(Enum.map(ballots, &elem(&1, 0)), result.status)}

      {:error, _} = error ->
        error
    end
  end

  @doc "Rejected members: the read errors plus the C statuses other than :ok."
  def rejected(read_errors, statuses) do
    Enum.reduce(statuses, read_errors, fn
      {_member, :ok}, acc -> acc
      {member, status}, acc -> Map.put(acc, member, status)
    end)
  end

  @doc """
  The winner as a candidate: C's pick, or the caller's tie function over the
  tied candidates (it may return one of them or nil).
  """
  def winner(%{winner: nil, ties: [_ | _] = ties}, cands, fun) when is_function(fun, 1) do
    tied = Enum.map(ties, &candidate(cands, &1))
    picked = fun.(tied)

    if is_nil(picked) or picked in tied,
      do: {:ok, picked},
      else: {:error, {:invalid_tie_break, picked, tied}}
  end

  def winner(%{winner: nil}, _cands, _fun), do: {:ok, nil}
  def winner(%{winner: i}, cands, _fun), do: {:ok, candidate(cands, i)}

  @doc "A per-candidate map from a per-index list."
  def by_candidate(%Candidates{list: list}, values), do: Map.new(Enum.zip(list, values))

  @doc "Candidates for a list of indices."
  def candidate_list(cands, indices), do: Enum.map(indices, &candidate(cands, &1))

  @doc "The raw fields every aggregator reports."
  def common_raw(result, cands, rejected) do
    %{
      votes: by_candidate(cands, result.votes),
      order: candidate_list(cands, result.order),
      tie: result.tie,
      tied: candidate_list(cands, result.ties),
      counted: result.counted,
      rejected: rejected
    }
  end
end
