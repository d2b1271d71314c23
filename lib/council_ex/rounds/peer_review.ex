defmodule CouncilEx.Rounds.PeerReview do
  @moduledoc """
  Every member sees the input and the other members' latest answers under
  their real member ids (its own answer is left out), reviews them and
  gives its improved answer. Runs in parallel in the C round loop; no
  aggregation.
  """

  @doc "The round's name in events and results."
  @spec name() :: :peer_review
  def name, do: :peer_review
end
