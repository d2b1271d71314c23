defmodule CouncilEx.Aggregators.WeightedMean do
  @moduledoc """
  Confidence-weighted votes: a candidate's score is the sum of the
  `:confidence` of the members who chose it, and the highest score wins.

  Each member output has `:choice` and `:confidence`, a number in `0..1`.
  A vote whose confidence is outside `0..1` (a `7` is a misread scale, not
  a certainty) or not a number is rejected, not clamped. A vote without a
  confidence is rejected as `:missing_confidence` unless
  `default_confidence: c` says what it is worth.

      iex> outputs = %{
      ...>   a: %{choice: "tea", confidence: 0.9},
      ...>   b: %{choice: "coffee", confidence: 0.6},
      ...>   c: %{choice: "coffee", confidence: 0.2}
      ...> }
      iex> {:ok, result} = CouncilEx.Aggregators.WeightedMean.aggregate(outputs, [])
      iex> result.winner
      "tea"

  `raw`: as `CouncilEx.Aggregators.Plurality`, plus `mean_confidence`
  (`%{candidate => float | nil}`, the mean confidence of its voters).
  """
  @behaviour CouncilEx.Aggregator

  alias CouncilEx.Aggregators.Votes

  @impl true
  def aggregate(member_outputs, opts) do
    with {:ok, agg, _result, _cands} <- Votes.aggregate(:weighted_mean, member_outputs, opts) do
      means =
        Map.new(agg.scores, fn {c, sum} ->
          n = agg.raw.votes[c]
          {c, if(n > 0 and is_float(sum), do: sum / n)}
        end)

      {:ok, put_in(agg.raw[:mean_confidence], means)}
    end
  end
end
