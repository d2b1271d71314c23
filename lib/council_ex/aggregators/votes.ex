defmodule CouncilEx.Aggregators.Votes do
  @moduledoc false
  # The shared path of Plurality, WeightedMean and ConfidenceMedian: read
  # each member's :choice (and :confidence), count in C, map back.

  alias CouncilEx.Aggregators.Ballots

  @doc """
  Runs `kind` (:plurality, :weighted_mean or :confidence_median) and
  returns `{:ok, %{winner, scores, raw}, result, candidates}` so the caller
  can add its own raw fields.
  """
  def aggregate(kind, outputs, opts) do
    with :ok <- Ballots.check_opts(opts),
         :ok <- Ballots.check_outputs(outputs),
         {:ok, nif_opts, tie_fun} <- Ballots.tie_rule(opts),
         {:ok, explicit} <- Ballots.explicit_candidates(opts),
         {:ok, default} <- default_confidence(kind, opts) do
      read =
        for member <- outputs |> Map.keys() |> Enum.sort(),
            do: {member, read_vote(Map.fetch!(outputs, member), kind, default)}

      cands = Ballots.candidates(explicit, for({_, {:ok, choice, _}} <- read, do: choice))
      {ballots, errors} = index_votes(read, cands)

      with {:ok, result, statuses} <- Ballots.run(kind, cands, ballots, nif_opts),
           {:ok, winner} <- Ballots.winner(result, cands, tie_fun) do
        raw = Ballots.common_raw(result, cands, Ballots.rejected(errors, statuses))
        scores = Ballots.by_candidate(cands, result.scores)
        {:ok, %{winner: winner, scores: scores, raw: raw}, result, cands}
      end
    end
  end

  # Plurality ignores confidence; the others need one in [0, 1] per vote,
  # or :default_confidence for votes without one.
  defp default_confidence(:plurality, _opts), do: {:ok, nil}

  defp default_confidence(_kind, opts) do
    case Keyword.get(opts, :default_confidence) do
      nil -> {:ok, nil}
      c when is_number(c) and c >= 0 and c <= 1 -> {:ok, c / 1}
      c -> {:error, {:invalid_option, :default_confidence, c}}
    end
  end

  defp read_vote(output, kind, default) when is_map(output) do
    case Ballots.field(output, :choice) do
      c when c in [nil, ""] ->
        {:error, :missing_choice}

      choice ->
        cond do
          not Ballots.candidate_term?(choice) -> {:error, :invalid_choice}
          kind == :plurality -> {:ok, choice, nil}
          true -> read_confidence(Ballots.field(output, :confidence), choice, default)
        end
    end
  end

  defp read_vote(_output, _kind, _default), do: {:error, :not_a_map}

  defp read_confidence(c, choice, _default) when is_number(c), do: {:ok, choice, c / 1}
  defp read_confidence(nil, _choice, nil), do: {:error, :missing_confidence}
  defp read_confidence(nil, choice, default), do: {:ok, choice, default}
  defp read_confidence(_c, _choice, _default), do: {:error, :bad_confidence}

  defp index_votes(read, cands) do
    Enum.reduce(Enum.reverse(read), {[], %{}}, fn
      {member, {:ok, choice, conf}}, {ballots, errors} ->
        case Ballots.index(cands, choice) do
          {:ok, i} -> {[{member, {i, conf}} | ballots], errors}
          :error -> {ballots, Map.put(errors, member, :unknown_candidate)}
        end

      {member, {:error, reason}}, {ballots, errors} ->
        {ballots, Map.put(errors, member, reason)}
    end)
  end
end
