defmodule CouncilEx.Councils.LLMCouncil do
  @moduledoc """
  The llm-council pattern: members answer, then each ranks the others'
  answers under anonymous labels ("Response A", ...); the rankings are
  aggregated and the chair writes the final answer knowing the aggregate
  ranking and which label was whose.

      :independent_analysis -> :anonymized_peer_review -> :synthesis (chair)

  ## Example

      council =
        CouncilEx.Councils.LLMCouncil.new(
          members: [
            gpt: [provider: :openrouter, model: "openai/gpt-4o"],
            claude: [provider: :openrouter, model: "anthropic/claude-3.5-sonnet"],
            gemini: [provider: :openrouter, model: "google/gemini-pro-1.5"]
          ],
          chair: [provider: :openrouter, model: "openai/gpt-4o"],
          chair_fallback: [:claude, :gemini]
        )

  ## Options

  Those of `CouncilEx.Councils.ParallelPanel`, plus:

    * `:order` - how labels are assigned: `:per_judge` (default),
      `:shuffle` or `:stable`.
    * `:include_self` - judges also rank their own answer (default `false`).
    * `:chair_fallback` - the chair's `fallback:` option: member ids (or
      `:members`) whose seats write the synthesis when the chair's call
      fails.
  """

  alias CouncilEx.Councils.Builder

  @extra [:order, :include_self, :chair_fallback]

  @doc "Defines the council module and returns its name."
  @spec new(keyword()) :: module()
  def new(opts) do
    opts = Builder.module_opts!(__MODULE__, opts, @extra)
    chair = Builder.chair!(__MODULE__, opts[:chair])

    chair =
      if opts[:chair_fallback],
        do: Builder.put_chair_opts(chair, fallback: opts[:chair_fallback]),
        else: chair

    Builder.compile(
      __MODULE__,
      opts,
      Builder.members!(__MODULE__, opts[:members]),
      chair,
      rounds(opts)
    )
  end

  @doc "Builds the council as a `%CouncilEx.DynamicCouncil{}`; `:chair_fallback` takes member ids (strings)."
  @spec new_dynamic(keyword()) :: CouncilEx.DynamicCouncil.t()
  def new_dynamic(opts) do
    opts = Builder.dynamic_opts!(__MODULE__, opts, @extra)

    chair_fun =
      if opts[:chair_fallback],
        do: &Builder.put_override(&1, :fallback, opts[:chair_fallback]),
        else: & &1

    Builder.dynamic(opts, rounds(opts), & &1, chair_fun)
  end

  defp rounds(opts) do
    review =
      Builder.compact(
        order: Keyword.get(opts, :order, :per_judge),
        include_self: opts[:include_self]
      )

    [{:independent_analysis, []}, {:anonymized_peer_review, review}]
  end
end
