defmodule CouncilEx.Aggregators.Plurality do
  @moduledoc """
  Most votes wins: each member's `:choice` is one vote. The default
  aggregator of the `:vote` round.

  Each member output is a map or struct with `:choice` (or `"choice"`);
  `:confidence` is ignored. `scores` maps every candidate to its number of
  votes. A tie at the top is broken by `:tie_break` (`:first`, the
  alphabetically first candidate, by default); see `CouncilEx.Aggregator`
  for the options every built-in aggregator takes.

      iex> outputs = %{a: %{choice: "tea"}, b: %{"choice" => "coffee"}, c: %{choice: "tea"}}
      iex> {:ok, %{winner: winner, scores: scores}} = CouncilEx.Aggregators.Plurality.aggregate(outputs, [])
      iex> {winner, scores}
      {"tea", %{"coffee" => 1, "tea" => 2}}

  `raw`: `votes`, `order` (candidates best first), `tie`, `tied` (the
  candidates tied at the top, `[]` without a tie), `counted` (ballots
  counted) and `rejected` (`%{member_id => reason}`, see
  `CouncilEx.Aggregator`).
  """
  @behaviour CouncilEx.Aggregator

  alias CouncilEx.Aggregators.Votes

  @impl true
  def aggregate(member_outputs, opts) do
    with {:ok, agg, _result, _cands} <- Votes.aggregate(:plurality, member_outputs, opts) do
      {:ok, %{agg | scores: agg.raw.votes}}
    end
  end
end
