defmodule CouncilEx.Aggregators.Orderings do
  @moduledoc false
  # The shared path of Borda and Condorcet: read each member's :ordering,
  # count in C, map back.

  alias CouncilEx.Aggregators.Ballots

  @doc """
  Runs `kind` (:borda or :condorcet) and returns
  `{:ok, %{winner, scores, raw}, result, candidates}`.
  """
  def aggregate(kind, outputs, opts) do
    with :ok <- Ballots.check_opts(opts),
         :ok <- Ballots.check_outputs(outputs),
         {:ok, nif_opts, tie_fun} <- Ballots.tie_rule(opts),
         {:ok, explicit} <- Ballots.explicit_candidates(opts) do
      read =
        for member <- outputs |> Map.keys() |> Enum.sort(),
            do: {member, Ballots.read_ordering(Map.fetch!(outputs, member))}

      cands =
        Ballots.candidates(explicit, for({_, {:ok, items}} <- read, item <- items, do: item))

      {ballots, errors} = index_orderings(read, cands)

      with {:ok, result, statuses} <- Ballots.run(kind, cands, ballots, nif_opts),
           {:ok, winner} <- Ballots.winner(result, cands, tie_fun) do
        raw = Ballots.common_raw(result, cands, Ballots.rejected(errors, statuses))
        scores = Ballots.by_candidate(cands, result.scores)
        {:ok, %{winner: winner, scores: scores, raw: raw}, result, cands}
      end
    end
  end

  defp index_orderings(read, cands) do
    Enum.reduce(Enum.reverse(read), {[], %{}}, fn
      {member, {:ok, items}}, {ballots, errors} ->
        case Ballots.indices(cands, items) do
          {:ok, indices} -> {[{member, {indices, -1}} | ballots], errors}
          :error -> {ballots, Map.put(errors, member, :unknown_candidate)}
        end

      {member, {:error, reason}}, {ballots, errors} ->
        {ballots, Map.put(errors, member, reason)}
    end)
  end
end
