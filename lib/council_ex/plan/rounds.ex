defmodule CouncilEx.Plan.Rounds do
  @moduledoc false
  # Lowers a checked council's rounds ({module, opts}) into the maps the C
  # round loop runs, and keeps what the run's process needs between C
  # steps: the round's name, its Elixir hooks (router, until, judge
  # function, custom round, user aggregator, tie-break function) and its
  # vote options. The rounds passed CouncilEx.Council.Rules: nothing here
  # checks them again.

  alias CouncilEx.{Aggregator, Enums, Rounds, Spec}

  @typedoc "A round as the C round loop takes it (see c_src/nif/spec_nif.c)."
  @type c_round :: %{
          kind: atom(),
          max_iterations: pos_integer(),
          ask_until: boolean(),
          min_confidence: float(),
          ask_seats: boolean(),
          ask_judge: boolean(),
          judge_seat: non_neg_integer(),
          order: atom(),
          include_self: boolean(),
          aggregator: atom(),
          tie: atom(),
          quorum: pos_integer(),
          expose_confidence: boolean(),
          options: [String.t()] | nil
        }

  @typedoc "What the run's process keeps about a declared round."
  @type info :: %{
          name: atom(),
          kind: atom(),
          module: module(),
          opts: keyword(),
          router: term(),
          until: (term(), term() -> boolean()) | nil,
          judge: (term(), term() -> :a | :b) | nil,
          aggregator: module() | nil,
          tie_break: (list() -> term()) | nil,
          options: [String.t()] | nil
        }

  @kinds Map.new(Rounds.names() -- [:iterate], fn name ->
           {elem(Rounds.module_for(name), 1), Enums.round_kind!(name)}
         end)

  @doc """
  `{c_rounds, infos}` for a checked council. `judges` maps a pairwise
  round's index to the seat of its own judge, if it has one.
  """
  @spec lower(Spec.t(), %{non_neg_integer() => non_neg_integer()}) :: {[c_round()], [info()]}
  def lower(%Spec{} = spec, judges) do
    n_members = length(spec.members)

    spec.rounds
    |> Enum.with_index()
    |> Enum.map(fn {{module, opts}, idx} ->
      round(module, opts, spec, Map.get(judges, idx, n_members))
    end)
    |> Enum.unzip()
  end

  defp round(module, opts, spec, judge_seat) do
    iterate? = module == Rounds.Iterate
    {inner, inner_opts} = Rounds.unwrap(module, opts)
    kind = Map.get(@kinds, inner, %{name: :custom, members?: true, default_aggregator: :none})
    {c_agg, agg_module} = aggregator(kind, inner_opts[:aggregator] || own_aggregate(kind, inner))
    {tie, tie_fun} = tie_break(inner_opts[:tie_break])
    router = Keyword.get(inner_opts, :router, Keyword.get(opts, :router, spec.router))
    until = if iterate?, do: until(opts, inner)
    judge = if is_function(inner_opts[:judge], 2), do: inner_opts[:judge]

    c = %{
      kind: kind.name,
      max_iterations: if(iterate?, do: Keyword.get(opts, :max_iterations, 3), else: 1),
      ask_until: until != nil,
      min_confidence: (opts[:min_confidence] || 0) / 1,
      ask_seats: kind.members? and router != nil,
      ask_judge: judge != nil,
      judge_seat: judge_seat,
      order: inner_opts[:order] || :per_judge,
      include_self: inner_opts[:include_self] == true,
      aggregator: c_agg,
      tie: tie,
      quorum: inner_opts[:quorum] || opts[:quorum] || 1,
      expose_confidence: inner_opts[:expose_confidence] == true,
      options: inner_opts[:options]
    }

    info = %{
      name: if(kind.name == :custom, do: inner.name(), else: kind.name),
      kind: kind.name,
      module: inner,
      opts: inner_opts,
      router: if(kind.members?, do: router),
      until: until,
      judge: judge,
      aggregator: agg_module,
      tie_break: tie_fun,
      options: inner_opts[:options]
    }

    {c, info}
  end

  # A custom round aggregates with its own aggregate/2 unless told otherwise.
  defp own_aggregate(%{name: :custom}, module),
    do: if(function_exported?(module, :aggregate, 2), do: module)

  defp own_aggregate(_kind, _module), do: nil

  # What decides when an iteration stops: a 2-arity function, or a custom
  # round's converged?/3 (the C loop has the built-in rules).
  defp until(opts, inner) do
    cond do
      is_function(opts[:until], 2) ->
        opts[:until]

      kind_of(inner) == :custom and function_exported?(inner, :converged?, 3) ->
        wrap_opts = opts[:wrap_opts] || []
        fn prev, curr -> inner.converged?(prev, curr, wrap_opts) end

      true ->
        nil
    end
  end

  defp kind_of(module),
    do: if(Map.has_key?(@kinds, module), do: @kinds[module].name, else: :custom)

  # {C aggregator, Elixir aggregator module}: built-in aggregators run in C;
  # a user module runs in the run's process after the round.
  defp aggregator(kind, nil), do: {kind.default_aggregator, nil}
  defp aggregator(_kind, :none), do: {:none, nil}

  defp aggregator(_kind, ref) do
    {:ok, module} = Aggregator.resolve(ref)

    case Aggregator.builtin_name(module) do
      nil -> {:none, module}
      name -> {name, nil}
    end
  end

  defp tie_break(fun) when is_function(fun, 1), do: {:caller, fun}
  defp tie_break(tie), do: {tie || :first, nil}
end
