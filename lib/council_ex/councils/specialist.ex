defmodule CouncilEx.Councils.Specialist do
  @moduledoc """
  Topology #6: specialists analyse the input each from their angle, then
  read each other's analyses (real ids) and refine; the chair synthesizes.

      :independent_analysis -> :peer_review -> :synthesis (chair)

  ## Example

      council =
        CouncilEx.Councils.Specialist.new(
          as: MyApp.Councils.Launch,
          members: [
            {:security, MyApp.Members.Security, provider: :openai, model: "gpt-4o"},
            {:finance, MyApp.Members.Finance, provider: :openai, model: "gpt-4o-mini"}
          ],
          chair: {MyApp.Members.Chair, provider: :openai, model: "gpt-4o"}
        )

      dynamic =
        CouncilEx.Councils.Specialist.new_dynamic(
          id: "launch",
          default_profile: "openai_mini",
          members: [%{id: "security", system_prompt: "Security review."}, %{id: "finance", system_prompt: "Cost review."}],
          chair: %{id: "chair", system_prompt: "Decide."}
        )

  Options as `CouncilEx.Councils.ParallelPanel`.
  """

  alias CouncilEx.Councils.Builder

  @doc "Defines the council module and returns its name."
  @spec new(keyword()) :: module()
  def new(opts), do: Builder.new(__MODULE__, opts, [], &rounds/1)

  @doc "Builds the council as a `%CouncilEx.DynamicCouncil{}`."
  @spec new_dynamic(keyword()) :: CouncilEx.DynamicCouncil.t()
  def new_dynamic(opts), do: Builder.new_dynamic(__MODULE__, opts, [], &rounds/1)

  defp rounds(_opts), do: [{:independent_analysis, []}, {:peer_review, []}]
end
