defmodule CouncilEx.Rounds.IndependentAnalysis do
  @moduledoc """
  Every member answers the input on its own, seeing no other member's output.

  The round runs in the C round loop: each member's request is rendered from
  its system prompt and the input, and all calls go out in parallel.
  """

  @doc "The round's name in events and results."
  @spec name() :: :independent_analysis
  def name, do: :independent_analysis
end
