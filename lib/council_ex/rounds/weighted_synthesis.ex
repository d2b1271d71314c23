defmodule CouncilEx.Rounds.WeightedSynthesis do
  @moduledoc """
  The chair's synthesis with each answer's weight shown in its prompt.

  A member's weight is its `:weight` option (default 1.0) times its
  confidence when it reports one, normalized to sum to 1 over the members
  that answered. With `expose_confidence: true` the raw confidences are
  shown too.
  """

  @doc "The round's name in events and results."
  @spec name() :: :weighted_synthesis
  def name, do: :weighted_synthesis
end
