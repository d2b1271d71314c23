defmodule CouncilEx.Rounds.PairwiseElimination do
  @moduledoc """
  One level of a tournament bracket.

  The remaining members (all that answered, or the survivors of the previous
  level) are paired in order; each pair's answers go to the judge, all pairs
  in parallel. The odd member out gets a bye. Winners and byes keep `:ok`;
  losers get `:eliminated` with `metadata: %{reason: :tournament_loss}`.
  The round's metadata holds `remaining` and `eliminated`.

  ## Options

    * `:judge` - the council's chair (default), `{module, opts}` for another
      seat, or `fn answer_a, answer_b -> :a | :b end`.

  Wrap it in `CouncilEx.Rounds.Iterate` for a whole bracket; it converges
  when one member remains.
  """

  @doc "The round's name in events and results."
  @spec name() :: :pairwise_elimination
  def name, do: :pairwise_elimination
end
