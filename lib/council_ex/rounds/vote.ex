defmodule CouncilEx.Rounds.Vote do
  @moduledoc """
  Every member votes for one option and replies with JSON
  `{"choice": option, "rationale": "...", "confidence": 0.8}`.

  The options are the round's `:options` list when given (strings), else the
  ids of the members whose latest answers are on the table (a member's vote
  for its own answer is not counted).

  ## Options

    * `:options` - the choices, a list of strings.
    * `:aggregator` - default `:plurality`; `:weighted_mean`,
      `:confidence_median` or any `CouncilEx.Aggregator`.
    * `:tie_break` - `:first` (default, alphabetical), `:random` or a
      function of the tied candidates.
  """

  @doc "The round's name in events and results."
  @spec name() :: :vote
  def name, do: :vote
end
