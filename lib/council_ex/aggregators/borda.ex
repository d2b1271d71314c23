defmodule CouncilEx.Aggregators.Borda do
  @moduledoc """
  Borda count over each member's `:ordering` (best first): with N
  candidates, position k earns N - k points. The default aggregator of the
  `:ranking` round.

  Each member output has `:ordering` (or `"ordering"`), a list of
  candidates. N is the number of candidates (the `:candidates` option, or
  every candidate any ordering names), not the length of one ordering, so
  a partial ordering gives the candidates it leaves out 0 points. An
  ordering that names a candidate twice is rejected as a whole.

      iex> outputs = %{
      ...>   a: %{ordering: [:x, :y, :z]},
      ...>   b: %{ordering: [:y, :x, :z]},
      ...>   c: %{"ordering" => [:x, :z, :y]}
      ...> }
      iex> {:ok, result} = CouncilEx.Aggregators.Borda.aggregate(outputs, [])
      iex> {result.winner, result.scores}
      {:x, %{x: 5.0, y: 3.0, z: 1.0}}

  `raw`: as `CouncilEx.Aggregators.Plurality`; `votes` counts the
  orderings that ranked each candidate.
  """
  @behaviour CouncilEx.Aggregator

  alias CouncilEx.Aggregators.Orderings

  @impl true
  def aggregate(member_outputs, opts) do
    with {:ok, agg, _result, _cands} <- Orderings.aggregate(:borda, member_outputs, opts) do
      {:ok, agg}
    end
  end
end
