defmodule CouncilEx.Rounds.AnonymizedPeerReview do
  @moduledoc """
  Peer review under anonymous labels, llm-council style, with its known
  flaws fixed.

  Every member (judge) sees the input and the latest answers relabelled
  `"Response A"`, `"Response B"`, ... with its own answer removed (unless
  `include_self: true`), evaluates them and ends with a `FINAL RANKING:`
  numbered list (or a JSON `{"ranking": [...]}`). The C round loop parses
  each ballot strictly (see `CouncilEx.Aggregators.PeerRanking`), reports a
  ballot it cannot read instead of guessing, and aggregates the ballots
  with self-votes excluded.

  ## Options

    * `:order` - how labels are assigned: `:per_judge` (default; every judge
      gets its own shuffle, so position bias does not correlate across
      judges), `:shuffle` (one shuffle shared by all judges) or `:stable`
      (member order).
    * `:include_self` - also show each judge its own answer and count its
      self-placement (default `false`).
    * `:aggregator` - default `:peer_ranking`.

  The result's `aggregated` is in member-id space; `metadata.label_to_id`
  maps each judge's labels back to member ids.
  """

  @doc "The round's name in events and results."
  @spec name() :: :anonymized_peer_review
  def name, do: :anonymized_peer_review
end
