defmodule CouncilEx.Councils.JuryWithRetry do
  @moduledoc """
  K judges answer independently; when their average confidence is below
  the threshold, the whole round runs again (fresh samples: judges never
  see earlier verdicts), up to `:max_iterations` times; the chair
  synthesizes the last iteration.

      :iterate(wrap: :independent_analysis, min_confidence: threshold) -> :synthesis (chair)

  Judges without a `:confidence` option get `confidence: :self_report`.

  ## Example

      jury =
        CouncilEx.Councils.JuryWithRetry.new(
          judges: [
            j1: [provider: :openai, model: "gpt-4o-mini"],
            j2: [provider: :anthropic, model: "claude-3-5-haiku-latest"],
            j3: [provider: :gemini, model: "gemini-1.5-flash"]
          ],
          chair: [provider: :openai, model: "gpt-4o"],
          confidence_threshold: 0.8,
          max_iterations: 3
        )

  ## Options

  Those of `CouncilEx.Councils.ParallelPanel` with `:judges` in place of
  `:members`, plus:

    * `:confidence_threshold` - stop once the iteration's average member
      confidence reaches it (default 0.7); the iterate round's
      `:min_confidence`.
    * `:max_iterations` - the most runs of the round (default 2).
  """

  alias CouncilEx.Councils.Builder

  @extra [:confidence_threshold, :max_iterations]

  @doc "Defines the council module and returns its name."
  @spec new(keyword()) :: module()
  def new(opts) do
    opts = Builder.module_opts!(__MODULE__, opts, @extra, :judges)

    judges =
      for {id, mod, judge_opts} <- Builder.members!(__MODULE__, opts[:judges], :judges),
          do: {id, mod, Keyword.put_new(judge_opts, :confidence, :self_report)}

    Builder.compile(
      __MODULE__,
      opts,
      judges,
      Builder.chair!(__MODULE__, opts[:chair]),
      rounds(opts)
    )
  end

  @doc "Builds the council as a `%CouncilEx.DynamicCouncil{}`; judges are `CouncilEx.DynamicMember` maps."
  @spec new_dynamic(keyword()) :: CouncilEx.DynamicCouncil.t()
  def new_dynamic(opts) do
    opts = Builder.dynamic_opts!(__MODULE__, opts, @extra, :judges)

    Builder.dynamic(
      opts,
      rounds(opts),
      &Builder.put_new_override(&1, :confidence, :self_report),
      & &1,
      :judges
    )
  end

  defp rounds(opts) do
    max = Builder.pos_integer!(__MODULE__, :max_iterations, Keyword.get(opts, :max_iterations, 2))

    threshold =
      Builder.unit_number!(
        __MODULE__,
        :confidence_threshold,
        Keyword.get(opts, :confidence_threshold, 0.7)
      )

    [{:iterate, wrap: :independent_analysis, max_iterations: max, min_confidence: threshold}]
  end
end
