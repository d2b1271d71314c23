defmodule CouncilEx.Plan.Rounds do
  @moduledoc false
  # Lowers a spec's rounds ({module, opts}) into the maps the C round loop
  # runs (see get_round in c_src/spec_nif.c), and keeps what the run's
  # process needs between C steps: the round's name, its Elixir hooks
  # (router, until, judge function, custom round, user aggregator, tie-break
  # function) and its vote options.

  alias CouncilEx.{Error, Rounds, Spec}

  @kinds %{
    Rounds.IndependentAnalysis => :independent_analysis,
    Rounds.PeerReview => :peer_review,
    Rounds.AnonymizedPeerReview => :anonymized_peer_review,
    Rounds.Critique => :critique,
    Rounds.Ranking => :ranking,
    Rounds.Vote => :vote,
    Rounds.PairwiseElimination => :pairwise_elimination,
    Rounds.Synthesis => :synthesis,
    Rounds.WeightedSynthesis => :weighted_synthesis
  }

  @default_aggregator %{
    anonymized_peer_review: :peer_ranking,
    ranking: :borda,
    vote: :plurality
  }

  @typedoc "What the run's process keeps about a declared round."
  @type info :: %{
          name: atom(),
          kind: atom(),
          module: module(),
          opts: keyword(),
          router: term(),
          until: term(),
          judge: term(),
          aggregator: module() | nil,
          tie_break: (list() -> term()) | nil,
          options: [String.t()] | nil
        }

  @doc """
  `{:ok, c_rounds, infos}` for the spec, or a validation error. `judges`
  maps a pairwise round's index to the seat of its own judge, if it has one.
  """
  @spec lower(Spec.t(), %{non_neg_integer() => non_neg_integer()}) ::
          {:ok, [map()], [info()]} | {:error, Error.t()}
  def lower(%Spec{} = spec, judges \\ %{}) do
    n_members = length(spec.members)

    spec.rounds
    |> Enum.with_index()
    |> Enum.reduce_while({:ok, [], []}, fn {{module, opts}, idx}, {:ok, cs, infos} ->
      case lower_round(module, opts, spec, idx, Map.get(judges, idx, n_members)) do
        {:ok, c, info} -> {:cont, {:ok, [c | cs], [info | infos]}}
        {:error, why} -> {:halt, {:error, invalid(idx, module, why)}}
      end
    end)
    |> case do
      {:ok, cs, infos} -> {:ok, Enum.reverse(cs), Enum.reverse(infos)}
      error -> error
    end
  end

  @doc "The pairwise rounds that name their own judge seat: `[{round_idx, {module, opts}}]`."
  @spec judge_seats(Spec.t()) :: [{non_neg_integer(), {module() | nil, keyword()}}]
  def judge_seats(%Spec{rounds: rounds}) do
    for {{module, opts}, idx} <- Enum.with_index(rounds),
        {:ok, {Rounds.PairwiseElimination, inner}} <- [unwrap(module, opts)],
        {judge_module, judge_opts} <- [inner[:judge]],
        is_atom(judge_module) and is_list(judge_opts),
        do: {idx, {judge_module, judge_opts}}
  end

  defp invalid(idx, module, why) do
    %Error{
      kind: :validation,
      reason: :invalid_round,
      message: "round #{idx} (#{inspect(module)}): #{why}"
    }
  end

  # An iterate round is the round it wraps, repeated.
  defp unwrap(Rounds.Iterate, opts) do
    case opts[:wrap] do
      nil ->
        {:error, "iterate needs :wrap, the round to repeat"}

      Rounds.Iterate ->
        {:error, "iterate cannot wrap iterate"}

      :iterate ->
        {:error, "iterate cannot wrap iterate"}

      wrap ->
        with {:ok, module} <- round_module(wrap), do: {:ok, {module, opts[:wrap_opts] || []}}
    end
  end

  defp unwrap(module, opts), do: {:ok, {module, opts}}

  defp round_module(name) when is_atom(name) do
    case Rounds.module_for(name) do
      {:ok, module} ->
        {:ok, module}

      :error ->
        if custom?(name), do: {:ok, name}, else: {:error, "unknown round #{inspect(name)}"}
    end
  end

  defp round_module(other), do: {:error, "unknown round #{inspect(other)}"}

  defp custom?(module) do
    Code.ensure_loaded?(module) and function_exported?(module, :build_input, 3) and
      function_exported?(module, :name, 0)
  end

  defp lower_round(module, opts, spec, idx, judge_seat) do
    iterate? = module == Rounds.Iterate

    with {:ok, {inner, inner_opts}} <- unwrap(module, opts),
         {:ok, kind} <- kind(inner),
         {:ok, max_iterations} <- max_iterations(iterate?, opts),
         {:ok, until} <- until(iterate?, opts, inner),
         {:ok, min_confidence} <- min_confidence(opts[:min_confidence]),
         {:ok, c_agg, agg_module} <-
           aggregator(kind, inner_opts[:aggregator] || own_aggregate(kind, inner)),
         {:ok, tie, tie_fun} <- tie_break(inner_opts[:tie_break]),
         {:ok, options} <- vote_options(kind, inner_opts[:options]),
         {:ok, quorum} <- quorum(inner_opts[:quorum] || opts[:quorum]),
         {:ok, order} <- order(inner_opts[:order]),
         {:ok, judge} <- judge(kind, inner_opts[:judge], spec, idx) do
      router = Keyword.get(inner_opts, :router, Keyword.get(opts, :router, spec.router))
      member_round? = kind not in [:synthesis, :weighted_synthesis, :pairwise_elimination]

      c = %{
        kind: kind,
        max_iterations: max_iterations,
        ask_until: until != nil,
        min_confidence: min_confidence,
        ask_seats: member_round? and router != nil,
        ask_judge: is_function(judge),
        judge_seat: judge_seat,
        order: order,
        include_self: inner_opts[:include_self] == true,
        aggregator: c_agg,
        tie: tie,
        quorum: quorum,
        expose_confidence: inner_opts[:expose_confidence] == true,
        options: options
      }

      info = %{
        name: if(kind == :custom, do: inner.name(), else: kind),
        kind: kind,
        module: inner,
        opts: inner_opts,
        router: if(member_round?, do: router),
        until: until,
        judge: judge,
        aggregator: agg_module,
        tie_break: tie_fun,
        options: options
      }

      {:ok, c, info}
    end
  end

  # A custom round aggregates with its own aggregate/2 unless told otherwise.
  defp own_aggregate(:custom, module),
    do: if(function_exported?(module, :aggregate, 2), do: module)

  defp own_aggregate(_kind, _module), do: nil

  defp kind(module) do
    case Map.fetch(@kinds, module) do
      {:ok, kind} -> {:ok, kind}
      :error -> if custom?(module), do: {:ok, :custom}, else: {:error, "not a round module"}
    end
  end

  defp max_iterations(false, _opts), do: {:ok, 1}

  defp max_iterations(true, opts) do
    case Keyword.get(opts, :max_iterations, 3) do
      n when is_integer(n) and n in 1..100_000 -> {:ok, n}
      other -> {:error, "max_iterations must be a positive integer, got: #{inspect(other)}"}
    end
  end

  # What decides when an iteration stops: a 2-arity function, a registered
  # :router whose module exports until/2, or a custom round's converged?/3.
  defp until(false, _opts, _inner), do: {:ok, nil}

  defp until(true, opts, inner) do
    cond do
      is_function(opts[:until], 2) ->
        {:ok, opts[:until]}

      opts[:until] != nil ->
        {:error, ":until must be a 2-arity function"}

      is_binary(opts[:until_ref]) ->
        case CouncilEx.Registry.lookup(:router, opts[:until_ref]) do
          {:ok, module} when is_atom(module) ->
            if function_exported?(module, :until, 2),
              do: {:ok, &module.until/2},
              else: {:error, "#{inspect(module)} (until_ref) does not export until/2"}

          _ ->
            {:error, "until_ref #{inspect(opts[:until_ref])} is not a registered router"}
        end

      custom?(inner) and function_exported?(inner, :converged?, 3) ->
        wrap_opts = opts[:wrap_opts] || []
        {:ok, fn prev, curr -> inner.converged?(prev, curr, wrap_opts) end}

      true ->
        {:ok, nil}
    end
  end

  defp min_confidence(nil), do: {:ok, 0.0}
  defp min_confidence(x) when is_number(x) and x >= 0 and x <= 1, do: {:ok, x / 1}

  defp min_confidence(other),
    do: {:error, "min_confidence must be a number in 0..1, got: #{inspect(other)}"}

  # {c aggregator, Elixir aggregator module}: built-in aggregators run in C;
  # a user module runs in the run's process after the round.
  defp aggregator(kind, nil), do: {:ok, Map.get(@default_aggregator, kind, :none), nil}
  defp aggregator(_kind, :none), do: {:ok, :none, nil}

  defp aggregator(_kind, ref) do
    case CouncilEx.Aggregator.resolve(ref) do
      {:ok, module} ->
        case CouncilEx.Aggregator.builtin_name(module) do
          nil -> {:ok, :none, module}
          name -> {:ok, name, nil}
        end

      {:error, _} ->
        {:error, "aggregator #{inspect(ref)} is not a CouncilEx.Aggregator"}
    end
  end

  defp tie_break(nil), do: {:ok, :first, nil}
  defp tie_break(:first), do: {:ok, :first, nil}
  defp tie_break(:random), do: {:ok, :random, nil}
  defp tie_break(fun) when is_function(fun, 1), do: {:ok, :caller, fun}

  defp tie_break(other),
    do:
      {:error, "tie_break must be :first, :random or a 1-arity function, got: #{inspect(other)}"}

  defp vote_options(_kind, nil), do: {:ok, nil}

  defp vote_options(:vote, options) when is_list(options) and options != [] do
    strings = Enum.map(options, &option_text/1)

    cond do
      Enum.any?(strings, &(&1 in [nil, ""])) ->
        {:error, "vote options must be non-empty strings or atoms"}

      Enum.uniq(strings) != strings ->
        {:error, "vote options must be distinct"}

      true ->
        {:ok, strings}
    end
  end

  defp vote_options(_kind, other),
    do: {:error, "options must be a non-empty list (vote rounds only), got: #{inspect(other)}"}

  defp option_text(o) when is_binary(o), do: o
  defp option_text(o) when is_atom(o) and o not in [nil, true, false], do: Atom.to_string(o)
  defp option_text(_), do: nil

  defp quorum(nil), do: {:ok, 1}
  defp quorum(n) when is_integer(n) and n >= 1, do: {:ok, n}
  defp quorum(other), do: {:error, "quorum must be a positive integer, got: #{inspect(other)}"}

  defp order(nil), do: {:ok, :per_judge}
  defp order(o) when o in [:per_judge, :shuffle, :stable], do: {:ok, o}

  defp order(other),
    do: {:error, "order must be :per_judge, :shuffle or :stable, got: #{inspect(other)}"}

  # A pairwise round's judge: the chair (nil here, judge_seat says which
  # seat), its own seat ({module, opts}), or a function judged in the BEAM.
  defp judge(:pairwise_elimination, nil, %Spec{chair: nil}, _idx),
    do: {:error, "pairwise_elimination needs a :judge or a council chair"}

  defp judge(:pairwise_elimination, nil, _spec, _idx), do: {:ok, nil}
  defp judge(:pairwise_elimination, fun, _spec, _idx) when is_function(fun, 2), do: {:ok, fun}

  defp judge(:pairwise_elimination, {m, o}, _spec, _idx) when is_atom(m) and is_list(o),
    do: {:ok, nil}

  defp judge(:pairwise_elimination, other, _spec, _idx),
    do:
      {:error, ":judge must be fn a, b -> :a | :b end or {module, opts}, got: #{inspect(other)}"}

  defp judge(_kind, nil, _spec, _idx), do: {:ok, nil}

  defp judge(_kind, _judge, _spec, _idx),
    do: {:error, ":judge applies to pairwise_elimination only"}
end
