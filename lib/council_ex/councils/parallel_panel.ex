defmodule CouncilEx.Councils.ParallelPanel do
  @moduledoc """
  Topology #1: every member answers on its own, the chair synthesizes.

      :independent_analysis -> :synthesis (chair)

  ## Example

      panel =
        CouncilEx.Councils.ParallelPanel.new(
          as: MyApp.Councils.Panel,
          members: [
            optimist: [provider: :openai, model: "gpt-4o-mini", system_prompt: "Argue for it."],
            skeptic: [provider: :anthropic, model: "claude-3-5-haiku-latest", system_prompt: "Argue against it."]
          ],
          chair: [provider: :openai, model: "gpt-4o"]
        )

      {:ok, result} = CouncilEx.run(panel, %{question: "Should we migrate to Postgres 17?"})

  ## Options of `new/1`

    * `:members` - required: `{id, opts}`, `{id, Module}` or
      `{id, Module, opts}` (a keyword list of `{id, opts}` works too).
    * `:chair` - required: the chair's options (id `:chair` unless `:id`),
      `{Module, opts}`, `{id, opts}` or `Module`.
    * `:as` - the module to define; default a unique name under this module.
    * `:default_profile`, `:router` - as the `default_profile` and `router`
      macros of `use CouncilEx`.

  `new_dynamic/1` takes `:id` (required), `:name`, `:default_profile`,
  `:router`, `:tools`, `:metadata`, `:members` (`CouncilEx.DynamicMember`
  maps or keyword lists) and `:chair` (one such map), and returns the same
  shape as a `%CouncilEx.DynamicCouncil{}`.
  """

  alias CouncilEx.Councils.Builder

  @doc "Defines the council module and returns its name."
  @spec new(keyword()) :: module()
  def new(opts), do: Builder.new(__MODULE__, opts, [], &rounds/1)

  @doc "Builds the council as a `%CouncilEx.DynamicCouncil{}`."
  @spec new_dynamic(keyword()) :: CouncilEx.DynamicCouncil.t()
  def new_dynamic(opts), do: Builder.new_dynamic(__MODULE__, opts, [], &rounds/1)

  defp rounds(_opts), do: [{:independent_analysis, []}]
end
