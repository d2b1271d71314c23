defmodule CouncilEx.Aggregator do
  @moduledoc """
  Turns the parsed outputs of a round's members into one result: a winner,
  a score per candidate, and aggregator-specific details.

  A round with an `aggregator:` option hands its members' parsed outputs,
  `%{member_id => map}`, to the aggregator, and stores what it returns as
  `RoundResult.aggregated`. Results name candidates and member ids, never
  anonymous labels.

  ## Built-in aggregators

  | name                 | module                                      | reads                     |
  |----------------------|---------------------------------------------|---------------------------|
  | `:plurality`         | `CouncilEx.Aggregators.Plurality`           | `:choice`                 |
  | `:weighted_mean`     | `CouncilEx.Aggregators.WeightedMean`        | `:choice`, `:confidence`  |
  | `:confidence_median` | `CouncilEx.Aggregators.ConfidenceMedian`    | `:choice`, `:confidence`  |
  | `:borda`             | `CouncilEx.Aggregators.Borda`               | `:ordering`               |
  | `:condorcet`         | `CouncilEx.Aggregators.Condorcet`           | `:ordering`               |
  | `:peer_ranking`      | `CouncilEx.Aggregators.PeerRanking`         | `:ordering`               |

  They count in C (`c_src/aggregate.c`); the modules map candidates to
  indices and back. Each reads its field under an atom or a string key
  (`:choice` or `"choice"`), from a map or a struct.

      iex> outputs = %{a: %{choice: "x"}, b: %{"choice" => "y"}, c: %{choice: "x"}, d: "not a map"}
      iex> {:ok, result} = CouncilEx.Aggregator.run(:plurality, outputs, [])
      iex> {result.winner, result.raw.rejected}
      {"x", %{d: :not_a_map}}

  ### Options every built-in aggregator takes

    * `:tie_break` - who wins a tie at the top: `:first` (default; the
      first candidate in Erlang term order, so alphabetical among strings
      or among atoms), `:random` (a seeded pick among the tied), or a
      function called with the tied candidates (ascending) that returns
      one of them, or `nil` for no winner.
    * `:seed` - an integer seed for `tie_break: :random`; the same seed
      picks the same candidate. Without one the pick is random.
    * `:candidates` - the candidates, when they are known (a vote's
      options, the members being ranked). A choice or ordering naming
      anything else is rejected as `:unknown_candidate`; a candidate nobody
      names scores nothing and cannot win. A string names an atom candidate
      with that name (a model writes `"gpt"` for member `:gpt`). Without
      this option the candidates are whatever the members name.

  ### Malformed outputs

  A member output that cannot be counted is not an error: its member is
  left out, and `raw.rejected` maps it to the reason:

    * `:not_a_map`, `:missing_choice`, `:invalid_choice` (not a string,
      atom or number), `:missing_confidence`, `:bad_confidence` (not a
      number, or outside `0..1`), `:missing_ordering`, `:invalid_ordering`
      (not a list of strings, atoms or numbers), `:unknown_candidate`,
      `:missing_label_map` (peer ranking with per-judge label maps);
    * from the count itself: `:empty` (an ordering with nothing to count),
      `:duplicate` (an ordering naming a candidate twice).

  With no countable output at all the winner is `nil`. A candidate can only
  win if at least one counted ballot names it.

  Wrong options are `{:error, {:invalid_option, key, value}}`; the C side
  refuses more than 100,000 candidates (2,048 for Condorcet) with
  `{:error, :too_many_candidates}`.

  ## Writing an aggregator

  Implement `c:aggregate/2` and pass the module as `aggregator:`:

      defmodule MyApp.Unanimous do
        @behaviour CouncilEx.Aggregator

        @impl true
        def aggregate(outputs, _opts) do
          choices = outputs |> Map.values() |> Enum.map(& &1[:choice]) |> Enum.uniq()
          winner = with [one] <- choices, do: one, else: (_ -> nil)
          {:ok, %{winner: winner, scores: %{}, raw: %{choices: choices}}}
        end
      end
  """

  alias CouncilEx.Aggregators

  @typedoc "A member id."
  @type member_id :: atom() | String.t()

  @typedoc "What an aggregator returns on success."
  @type result :: %{winner: term(), scores: map(), raw: map()}

  @typedoc "An aggregator: a built-in name (atom or string) or a module."
  @type ref :: atom() | String.t() | module()

  @doc """
  Aggregates the members' parsed outputs. `winner` may be `nil` (no
  countable output, no Condorcet winner, a tie the tie-break left open).
  """
  @callback aggregate(member_outputs :: %{member_id() => map()}, opts :: keyword()) ::
              {:ok, result()} | {:error, term()}

  # The built-in aggregators are the C round loop's (c_src/enums.def); each
  # has a module of the same name under CouncilEx.Aggregators.
  @builtin Map.new(CouncilEx.Enums.aggregator_names(), fn name ->
             {name, Module.concat(Aggregators, Macro.camelize(Atom.to_string(name)))}
           end)
  @builtin_by_string Map.new(@builtin, fn {name, mod} -> {Atom.to_string(name), mod} end)
  @builtin_by_module Map.new(@builtin, fn {name, mod} -> {mod, name} end)

  @doc """
  The short name of a built-in aggregator module (the name the C round
  loop runs it under), or nil for any other module.

      iex> CouncilEx.Aggregator.builtin_name(CouncilEx.Aggregators.Borda)
      :borda
      iex> CouncilEx.Aggregator.builtin_name(MyApp.Aggregator)
      nil
  """
  @spec builtin_name(module()) :: atom() | nil
  def builtin_name(module), do: Map.get(@builtin_by_module, module)

  @doc """
  The module for an aggregator reference: a built-in name as an atom or a
  string (`:plurality`, `"borda"`), or a loaded module that exports
  `aggregate/2`. `nil` resolves to `nil` (no aggregation).

      iex> CouncilEx.Aggregator.resolve(:borda)
      {:ok, CouncilEx.Aggregators.Borda}

      iex> CouncilEx.Aggregator.resolve("peer_ranking")
      {:ok, CouncilEx.Aggregators.PeerRanking}

      iex> CouncilEx.Aggregator.resolve(:nope)
      {:error, {:unknown_aggregator, :nope}}
  """
  @spec resolve(ref() | nil) :: {:ok, module() | nil} | {:error, {:unknown_aggregator, term()}}
  def resolve(nil), do: {:ok, nil}

  def resolve(name) when is_map_key(@builtin, name), do: {:ok, Map.fetch!(@builtin, name)}

  def resolve(name) when is_binary(name) do
    case Map.fetch(@builtin_by_string, name) do
      {:ok, module} -> {:ok, module}
      :error -> {:error, {:unknown_aggregator, name}}
    end
  end

  def resolve(module) when is_atom(module) do
    if Code.ensure_loaded?(module) and function_exported?(module, :aggregate, 2),
      do: {:ok, module},
      else: {:error, {:unknown_aggregator, module}}
  end

  def resolve(other), do: {:error, {:unknown_aggregator, other}}

  @doc """
  Resolves `aggregator` (see `resolve/1`) and runs it over `outputs`.

  Returns what the aggregator returns; `{:ok, nil}` for a `nil`
  aggregator; `{:error, {:unknown_aggregator, ref}}`;
  `{:error, {:invalid_return, module, value}}` when a module returns
  something other than `{:ok, %{winner: _, scores: _, raw: _}}` or
  `{:error, _}`; and `{:error, {:raised, module, exception}}` when it (or
  a `tie_break` function) raises, so a faulty aggregator fails its round
  instead of the run.
  """
  @spec run(ref() | nil, %{member_id() => term()}, keyword()) ::
          {:ok, result() | nil} | {:error, term()}
  def run(aggregator, outputs, opts \\ []) do
    case resolve(aggregator) do
      {:ok, nil} -> {:ok, nil}
      {:ok, module} -> call(module, outputs, opts)
      {:error, _} = error -> error
    end
  end

  defp call(module, outputs, opts) do
    case module.aggregate(outputs, opts) do
      {:ok, %{winner: _, scores: _, raw: _}} = ok -> ok
      {:error, _} = error -> error
      other -> {:error, {:invalid_return, module, other}}
    end
  rescue
    exception -> {:error, {:raised, module, exception}}
  end
end
