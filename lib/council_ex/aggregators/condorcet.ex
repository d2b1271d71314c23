defmodule CouncilEx.Aggregators.Condorcet do
  @moduledoc """
  The candidate that beats every other one head to head, from each
  member's `:ordering` (best first).

  In one ordering, a ranked candidate is above every unranked one, and two
  unranked ones are not compared. The winner must beat each other
  candidate on strictly more orderings than lose to it. When no candidate
  does (a cycle such as x > y > z > x, or a pairwise tie) the winner is
  `nil` and `raw.cycle` is `true`; `:tie_break` does not apply, as there
  is at most one winner.

      iex> outputs = %{
      ...>   a: %{ordering: ["x", "y", "z"]},
      ...>   b: %{ordering: ["y", "z", "x"]},
      ...>   c: %{ordering: ["z", "x", "y"]}
      ...> }
      iex> {:ok, result} = CouncilEx.Aggregators.Condorcet.aggregate(outputs, [])
      iex> {result.winner, result.raw.cycle}
      {nil, true}

  `scores` are Copeland scores: pairwise wins plus 0.5 per pairwise tie.
  `raw`: as `CouncilEx.Aggregators.Plurality`, plus `cycle` and
  `pairwise` (`%{a => %{b => n}}`: n orderings prefer a to b, for every
  pair of distinct candidates). At most 2048 candidates.
  """
  @behaviour CouncilEx.Aggregator

  alias CouncilEx.Aggregators.Orderings

  @impl true
  def aggregate(member_outputs, opts) do
    with {:ok, agg, result, cands} <- Orderings.aggregate(:condorcet, member_outputs, opts) do
      raw =
        agg.raw
        |> Map.put(:cycle, result.cycle)
        |> Map.put(:pairwise, pairwise(result.pairwise, cands))

      {:ok, %{agg | raw: raw}}
    end
  end

  defp pairwise(rows, cands) do
    list = cands.list

    rows
    |> Enum.zip(list)
    |> Map.new(fn {row, a} ->
      {a, for({n, b} <- Enum.zip(row, list), b != a, into: %{}, do: {b, n})}
    end)
  end
end
