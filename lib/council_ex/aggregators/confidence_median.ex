defmodule CouncilEx.Aggregators.ConfidenceMedian do
  @moduledoc """
  The median `:confidence` of each candidate's voters, highest wins: one
  over-confident voter moves a median less than a sum or a mean.

  Member outputs and confidences are read as in
  `CouncilEx.Aggregators.WeightedMean` (including `default_confidence:`).
  A candidate's score is the median of its voters' confidences (the mean
  of the two middle ones for an even count), `nil` with no voters. The
  score counts confidence only, not how many voted: a single voter at 0.95
  beats five at 0.9.

      iex> outputs = %{
      ...>   a: %{choice: "x", confidence: 0.9},
      ...>   b: %{choice: "x", confidence: 0.1},
      ...>   c: %{choice: "x", confidence: 0.8},
      ...>   d: %{choice: "y", confidence: 0.7}
      ...> }
      iex> {:ok, result} = CouncilEx.Aggregators.ConfidenceMedian.aggregate(outputs, [])
      iex> {result.winner, result.scores}
      {"x", %{"x" => 0.8, "y" => 0.7}}

  `raw`: as `CouncilEx.Aggregators.Plurality`.
  """
  @behaviour CouncilEx.Aggregator

  alias CouncilEx.Aggregators.Votes

  @impl true
  def aggregate(member_outputs, opts) do
    with {:ok, agg, _result, _cands} <- Votes.aggregate(:confidence_median, member_outputs, opts) do
      {:ok, agg}
    end
  end
end
