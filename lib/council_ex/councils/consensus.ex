defmodule CouncilEx.Councils.Consensus do
  @moduledoc """
  Topology #9: members analyse, then debate (each critiques the others and
  revises) until they converge or `:max_iterations` rounds have run; the
  chair synthesizes.

      :independent_analysis -> :iterate(wrap: :critique) -> :synthesis (chair)

  ## Example

      council =
        CouncilEx.Councils.Consensus.new(
          members: [
            a: [provider: :openai, model: "gpt-4o-mini"],
            b: [provider: :anthropic, model: "claude-3-5-haiku-latest"]
          ],
          chair: [provider: :openai, model: "gpt-4o"],
          max_iterations: 4,
          until: &MyApp.Rules.settled?/2
        )

  ## Options

  Those of `CouncilEx.Councils.ParallelPanel`, plus:

    * `:max_iterations` - the most critique rounds (default 3).
    * `:until` (`new/1`) - `fn previous, current -> boolean end` as a
      remote capture; without it the critique round's own convergence rule
      applies (no member changed its answer).
    * `:until_ref` (`new_dynamic/1`) - a registered `:router` name whose
      module exports `until/2`.
  """

  alias CouncilEx.Councils.Builder

  @doc "Defines the council module and returns its name."
  @spec new(keyword()) :: module()
  def new(opts), do: Builder.new(__MODULE__, opts, [:max_iterations, :until], &rounds(&1, :until))

  @doc "Builds the council as a `%CouncilEx.DynamicCouncil{}`."
  @spec new_dynamic(keyword()) :: CouncilEx.DynamicCouncil.t()
  def new_dynamic(opts),
    do:
      Builder.new_dynamic(
        __MODULE__,
        opts,
        [:max_iterations, :until_ref],
        &rounds(&1, :until_ref)
      )

  defp rounds(opts, until_key) do
    max = Builder.pos_integer!(__MODULE__, :max_iterations, Keyword.get(opts, :max_iterations, 3))

    iterate =
      Builder.compact([{:wrap, :critique}, {:max_iterations, max}, {until_key, opts[until_key]}])

    [{:independent_analysis, []}, {:iterate, iterate}]
  end
end
