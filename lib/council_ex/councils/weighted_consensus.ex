defmodule CouncilEx.Councils.WeightedConsensus do
  @moduledoc """
  Members answer in parallel; the chair synthesizes with each answer shown
  with its normalized weight (the member's `weight:`, default 1.0, times
  its confidence when it reports one), after Wu et al., *Council Mode*.

      :independent_analysis -> :weighted_synthesis (chair)

  ## Example

      council =
        CouncilEx.Councils.WeightedConsensus.new(
          members: [
            senior: [provider: :openai, model: "gpt-4o", weight: 2.0],
            junior: [provider: :openai, model: "gpt-4o-mini", weight: 1.0, confidence: :self_report]
          ],
          chair: [provider: :openai, model: "gpt-4o"],
          expose_confidence: true
        )

  In `new_dynamic/1`, weights and confidence are member overrides:
  `%{id: "senior", system_prompt: "...", profile_overrides: %{weight: 2.0}}`.

  ## Options

  Those of `CouncilEx.Councils.ParallelPanel`, plus `:expose_confidence`
  (show the raw confidences to the chair too; default `false`).
  """

  alias CouncilEx.Councils.Builder

  @doc "Defines the council module and returns its name."
  @spec new(keyword()) :: module()
  def new(opts), do: Builder.new(__MODULE__, opts, [:expose_confidence], &rounds/1)

  @doc "Builds the council as a `%CouncilEx.DynamicCouncil{}`."
  @spec new_dynamic(keyword()) :: CouncilEx.DynamicCouncil.t()
  def new_dynamic(opts),
    do: Builder.new_dynamic(__MODULE__, opts, [:expose_confidence], &rounds/1)

  defp rounds(opts),
    do: [
      {:independent_analysis, []},
      {:weighted_synthesis, Builder.compact(expose_confidence: opts[:expose_confidence])}
    ]
end
