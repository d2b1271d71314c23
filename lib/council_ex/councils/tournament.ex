defmodule CouncilEx.Councils.Tournament do
  @moduledoc ~S"""
  Topology #7: members answer, then a single-elimination bracket: each level
  pairs the remaining answers and a judge keeps one of each pair, until one
  remains; the chair synthesizes.

      :independent_analysis -> :iterate(wrap: :pairwise_elimination) -> :synthesis (chair)

  ## Example

      council =
        CouncilEx.Councils.Tournament.new(
          as: MyApp.Councils.Slogans,
          members: for(i <- 1..8, do: {:"writer_#{i}", [provider: :openai, model: "gpt-4o-mini"]}),
          chair: [provider: :openai, model: "gpt-4o"],
          judge: fn a, b -> if String.length(a) <= String.length(b), do: :a, else: :b end
        )

  ## Options

  Those of `CouncilEx.Councils.ParallelPanel`, plus:

    * `:max_iterations` - the most bracket levels (default 16, enough for
      65,536 members).
    * `:judge` - who judges each pair: by default the chair. In `new/1`, a
      function `fn answer_a, answer_b -> :a | :b end` (any function: it is
      kept in `:persistent_term` under `{CouncilEx.Councils.Tournament, module}`
      and the generated module exports it as `__pairwise_judge__/2`, which
      is what the round's `judge:` option names), or `{Module, opts}` for
      another seat. In `new_dynamic/1`, a remote capture such as
      `&MyApp.Judges.shorter/2` (its module must be registered as a
      `:router` for the council to read back from JSON and validate, see
      `CouncilEx.DynamicRound`), or a registered `:router` name whose module
      exports `judge/2` (stored as `judge_ref`).
  """

  alias CouncilEx.Councils.Builder

  @doc "Defines the council module and returns its name."
  @spec new(keyword()) :: module()
  def new(opts) do
    opts = Builder.module_opts!(__MODULE__, opts, [:max_iterations, :judge])
    members = Builder.members!(__MODULE__, opts[:members])
    chair = Builder.chair!(__MODULE__, opts[:chair])

    case opts[:judge] do
      fun when is_function(fun, 2) ->
        # The module keeps the function in :persistent_term; its name comes
        # from the options, the function included.
        module = Builder.name(__MODULE__, opts)
        :persistent_term.put({__MODULE__, module}, fun)
        judge = Function.capture(module, :__pairwise_judge__, 2)

        extra =
          quote do
            @doc false
            # The tournament's judge, kept in :persistent_term by CouncilEx.Councils.Tournament.new/1.
            def __pairwise_judge__(answer_a, answer_b),
              do:
                :persistent_term.get({CouncilEx.Councils.Tournament, __MODULE__}).(
                  answer_a,
                  answer_b
                )
          end

        try do
          Builder.compile(__MODULE__, opts, members, chair, rounds(opts, judge: judge), extra)
        rescue
          error ->
            :persistent_term.erase({__MODULE__, module})
            reraise error, __STACKTRACE__
        end

      nil ->
        Builder.compile(__MODULE__, opts, members, chair, rounds(opts, []))

      {module, judge_opts} = judge when is_atom(module) and is_list(judge_opts) ->
        Builder.compile(__MODULE__, opts, members, chair, rounds(opts, judge: judge))

      other ->
        raise ArgumentError,
              "#{inspect(__MODULE__)}: expected :judge to be fn answer_a, answer_b -> :a | :b end or {Module, opts}, got: #{inspect(other)}"
    end
  end

  @doc "Builds the council as a `%CouncilEx.DynamicCouncil{}`."
  @spec new_dynamic(keyword()) :: CouncilEx.DynamicCouncil.t()
  def new_dynamic(opts) do
    opts = Builder.dynamic_opts!(__MODULE__, opts, [:max_iterations, :judge])

    judge =
      case opts[:judge] do
        nil ->
          []

        name when is_binary(name) and name != "" ->
          [judge_ref: name]

        fun when is_function(fun, 2) ->
          if Function.info(fun, :type) == {:type, :external},
            do: [judge: fun],
            else:
              raise(
                ArgumentError,
                "#{inspect(__MODULE__)}.new_dynamic/1: :judge must be a remote capture such as &MyApp.Judges.shorter/2 " <>
                  "(anonymous functions cannot be serialized), got: #{inspect(fun)}"
              )

        other ->
          raise ArgumentError,
                "#{inspect(__MODULE__)}.new_dynamic/1: expected :judge to be a remote capture &Mod.fun/2 or a registered router name, got: #{inspect(other)}"
      end

    Builder.dynamic(opts, rounds(opts, judge))
  end

  defp rounds(opts, judge) do
    max =
      Builder.pos_integer!(__MODULE__, :max_iterations, Keyword.get(opts, :max_iterations, 16))

    wrap_opts = if judge == [], do: [], else: [wrap_opts: judge]

    [
      {:independent_analysis, []},
      {:iterate, [wrap: :pairwise_elimination] ++ wrap_opts ++ [max_iterations: max]}
    ]
  end
end
