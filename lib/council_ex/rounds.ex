defmodule CouncilEx.Rounds do
  @moduledoc """
  The built-in rounds, by name.

  `round :independent_analysis` in a council, `"independent_analysis"` in a
  `CouncilEx.DynamicRound`: both resolve through this table, so a string
  from JSON never becomes an atom unless it names a built-in round.
  """

  @builtin %{
    independent_analysis: CouncilEx.Rounds.IndependentAnalysis,
    peer_review: CouncilEx.Rounds.PeerReview,
    anonymized_peer_review: CouncilEx.Rounds.AnonymizedPeerReview,
    critique: CouncilEx.Rounds.Critique,
    ranking: CouncilEx.Rounds.Ranking,
    vote: CouncilEx.Rounds.Vote,
    synthesis: CouncilEx.Rounds.Synthesis,
    weighted_synthesis: CouncilEx.Rounds.WeightedSynthesis,
    iterate: CouncilEx.Rounds.Iterate,
    pairwise_elimination: CouncilEx.Rounds.PairwiseElimination
  }

  @doc "The built-in round names."
  @spec names() :: [atom()]
  def names, do: @builtin |> Map.keys() |> Enum.sort()

  @doc """
  The module of a built-in round, given its name as an atom or a string.

      iex> CouncilEx.Rounds.module_for(:synthesis)
      {:ok, CouncilEx.Rounds.Synthesis}
      iex> CouncilEx.Rounds.module_for("independent_analysis")
      {:ok, CouncilEx.Rounds.IndependentAnalysis}
      iex> CouncilEx.Rounds.module_for("debate")
      :error
  """
  @spec module_for(atom() | String.t()) :: {:ok, module()} | :error
  def module_for(name) when is_atom(name), do: Map.fetch(@builtin, name)

  def module_for(name) when is_binary(name) do
    case Enum.find(@builtin, fn {key, _} -> Atom.to_string(key) == name end) do
      {_, module} -> {:ok, module}
      nil -> :error
    end
  end

  def module_for(_), do: :error
end
