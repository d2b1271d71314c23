defmodule CouncilEx.Rounds.Ranking do
  @moduledoc """
  Every member ranks the latest answers, named by their member ids, best
  first. A member replies with JSON `{"ordering": [ids], "rationale": "..."}`
  or a `FINAL RANKING:` numbered list of ids; the parsed ballot is the
  response's `parsed` (`%{"ordering" => [...]}`).

  ## Options

    * `:aggregator` - default `:borda`; any `CouncilEx.Aggregator`.
    * `:include_self` - count a member's placement of its own answer
      (default `false`).
  """

  @doc "The round's name in events and results."
  @spec name() :: :ranking
  def name, do: :ranking
end
