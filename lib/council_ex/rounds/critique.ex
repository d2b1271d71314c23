defmodule CouncilEx.Rounds.Critique do
  @moduledoc """
  Debate-style revision: every member sees the input, its own latest answer
  and the other members' latest answers (real member ids), critiques them
  and writes a revised answer. Runs in parallel in the C round loop; wrap it
  in `CouncilEx.Rounds.Iterate` for several rounds of debate.
  """

  @doc "The round's name in events and results."
  @spec name() :: :critique
  def name, do: :critique
end
