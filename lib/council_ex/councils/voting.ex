defmodule CouncilEx.Councils.Voting do
  @moduledoc """
  Topology #5: members analyse, then vote; the vote is aggregated and the
  chair writes the answer knowing the outcome.

      :independent_analysis -> :vote -> :synthesis (chair)

  ## Example

      council =
        CouncilEx.Councils.Voting.new(
          as: MyApp.Councils.Release,
          members: [
            a: [provider: :openai, model: "gpt-4o-mini"],
            b: [provider: :anthropic, model: "claude-3-5-haiku-latest"],
            c: [provider: :gemini, model: "gemini-1.5-flash"]
          ],
          chair: [provider: :openai, model: "gpt-4o"],
          options: ["ship", "wait"],
          aggregator: :weighted_mean
        )

  ## Options

  Those of `CouncilEx.Councils.ParallelPanel`, plus the vote round's:

    * `:aggregator` - default `:plurality`; `:weighted_mean`,
      `:confidence_median`, or a `CouncilEx.Aggregator` module.
    * `:options` - the choices (strings); default: the members' answers.
    * `:tie_break` - `:first` or `:random` (or a remote capture in `new/1`).
  """

  alias CouncilEx.Councils.Builder

  @extra [:aggregator, :options, :tie_break]

  @doc "Defines the council module and returns its name."
  @spec new(keyword()) :: module()
  def new(opts), do: Builder.new(__MODULE__, opts, @extra, &rounds/1)

  @doc "Builds the council as a `%CouncilEx.DynamicCouncil{}`."
  @spec new_dynamic(keyword()) :: CouncilEx.DynamicCouncil.t()
  def new_dynamic(opts), do: Builder.new_dynamic(__MODULE__, opts, @extra, &rounds/1)

  defp rounds(opts) do
    vote =
      Builder.compact(
        options: opts[:options],
        aggregator: Keyword.get(opts, :aggregator, :plurality),
        tie_break: opts[:tie_break]
      )

    [{:independent_analysis, []}, {:vote, vote}]
  end
end
