defmodule CouncilEx.Rounds.Synthesis do
  @moduledoc """
  The chair writes the council's final answer.

  The chair sees the input and every member's answer from the latest member
  round (members that failed are listed as silent). Added automatically after
  the declared rounds when a council has a chair.
  """

  @doc "The round's name in events and results."
  @spec name() :: :synthesis
  def name, do: :synthesis
end
