defmodule CouncilEx.Councils.PeerReview do
  @moduledoc """
  Topology #4: members draft, critique each other's drafts and revise, then
  review the revisions under their real ids; the chair synthesizes.

      :independent_analysis (drafts) -> :critique -> :peer_review -> :synthesis (chair)

  ## Example

      council =
        CouncilEx.Councils.PeerReview.new(
          members: [
            drafter: [provider: :openai, model: "gpt-4o", system_prompt: "Write the design."],
            reviewer: [provider: :anthropic, model: "claude-3-5-sonnet-latest", system_prompt: "Find the flaws."]
          ],
          chair: [provider: :openai, model: "gpt-4o"]
        )

      {:ok, result} = CouncilEx.run(council, "Design a rate limiter for our API.")

  Options as `CouncilEx.Councils.ParallelPanel`.
  """

  alias CouncilEx.Councils.Builder

  @doc "Defines the council module and returns its name."
  @spec new(keyword()) :: module()
  def new(opts), do: Builder.new(__MODULE__, opts, [], &rounds/1)

  @doc "Builds the council as a `%CouncilEx.DynamicCouncil{}`."
  @spec new_dynamic(keyword()) :: CouncilEx.DynamicCouncil.t()
  def new_dynamic(opts), do: Builder.new_dynamic(__MODULE__, opts, [], &rounds/1)

  defp rounds(_opts), do: [{:independent_analysis, []}, {:critique, []}, {:peer_review, []}]
end
