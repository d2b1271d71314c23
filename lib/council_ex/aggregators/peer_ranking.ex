defmodule CouncilEx.Aggregators.PeerRanking do
  @moduledoc """
  llm-council style peer ranking: judges rank each other's answers, and the
  answer with the best (lowest) average position wins. The default
  aggregator of the `:anonymized_peer_review` round.

  `member_outputs` maps each judge's member id to its output, a map or
  struct with `:ordering` (or `"ordering"`), best first. An ordering holds
  member ids, or anonymous labels (`"Response A"`) with `:label_to_id`.
  Candidates are the `:candidates` option, else the ids of `:label_to_id`,
  else every id an ordering names.

  ## Options

    * `:label_to_id` - translates labels to ids before counting; labels it
      does not know are dropped (and listed in `raw.unknown_labels`). Either
      one map shared by every judge, `%{"Response A" => :m1, ...}` (or the
      result of `CouncilEx.Anonymize.relabel/2`), or one map per judge,
      `%{judge_id => %{label => id}}` (the result of
      `CouncilEx.Anonymize.per_judge/2` may be passed as it is).
    * `:include_self` - also count a judge's placement of its own answer
      (the judge's member id), as llm-council does. Default `false`: a
      judge's own answer is dropped from its ordering before positions are
      taken, so a judge cannot vote for itself.
    * `:tie_break`, `:seed`, `:candidates` - see `CouncilEx.Aggregator`.

  A candidate's average position is its mean 1-based position over the
  orderings that ranked it (after the judge's own answer is dropped).
  Equal averages go to the candidate more judges ranked, then to
  `:tie_break`. `scores` are normalized Borda points in `0..1`: in an
  ordering that could rank E candidates, position k earns
  (E - k) / (E - 1), and a candidate's score is the mean over the judges
  that could rank it.

  With llm-council's own example (provider notes 7.1), self-votes counted:

      iex> outputs = %{
      ...>   m1: %{ordering: ["Response C", "Response A", "Response B"]},
      ...>   m2: %{ordering: ["Response C", "Response B", "Response A"]},
      ...>   m3: %{ordering: ["Response A", "Response C", "Response B"]}
      ...> }
      iex> labels = %{"Response A" => :m1, "Response B" => :m2, "Response C" => :m3}
      iex> {:ok, result} =
      ...>   CouncilEx.Aggregators.PeerRanking.aggregate(outputs, label_to_id: labels, include_self: true)
      iex> {result.winner, Map.new(result.raw.avg_position, fn {id, p} -> {id, Float.round(p, 2)} end)}
      {:m3, %{m1: 2.0, m2: 2.67, m3: 1.33}}

  `raw`:

    * `avg_position` - `%{id => float | nil}` (`nil`: no judge ranked it)
    * `normalized_borda` - `%{id => float | nil}`, the same as `scores`
    * `votes` - `%{id => n}`, how many judges ranked it
    * `judge_ballots` - `%{judge_id => [id]}`, each readable ordering in
      ids (unknown labels dropped; the judge's own id still in it)
    * `label_to_id` - the label map used: `%{label => id}`, or
      `%{judge_id => %{label => id}}` per judge (`%{}` without one)
    * `ballot_status` - `%{judge_id => :ok | reason}` for every judge
    * `unknown_labels` - `%{judge_id => [label]}` for judges that named
      labels `:label_to_id` does not have
    * `order`, `tie`, `tied`, `counted`, `rejected` - as in
      `CouncilEx.Aggregators.Plurality`
  """
  @behaviour CouncilEx.Aggregator

  alias CouncilEx.Aggregators.Ballots

  @impl true
  def aggregate(member_outputs, opts) do
    with :ok <- Ballots.check_opts(opts),
         :ok <- Ballots.check_outputs(member_outputs),
         {:ok, nif_opts, tie_fun} <- Ballots.tie_rule(opts),
         {:ok, explicit} <- Ballots.explicit_candidates(opts),
         {:ok, labels} <- label_maps(Keyword.get(opts, :label_to_id)),
         {:ok, include_self} <- include_self(opts) do
      read =
        for judge <- member_outputs |> Map.keys() |> Enum.sort(),
            do: {judge, read(Map.fetch!(member_outputs, judge), judge, labels)}

      seen = label_ids(labels) ++ for({_, {:ok, ids, _}} <- read, id <- ids, do: id)
      cands = Ballots.candidates(explicit, seen)
      {ballots, errors} = index_ballots(read, cands)
      nif_opts = Map.put(nif_opts, :include_self, include_self)

      with {:ok, result, statuses} <- Ballots.run(:peer_ranking, cands, ballots, nif_opts),
           {:ok, winner} <- Ballots.winner(result, cands, tie_fun) do
        rejected = Ballots.rejected(errors, statuses)
        scores = Ballots.by_candidate(cands, result.scores)

        raw =
          result
          |> Ballots.common_raw(cands, rejected)
          |> Map.merge(%{
            avg_position: Ballots.by_candidate(cands, result.avg_position),
            normalized_borda: scores,
            judge_ballots: for({judge, {:ok, ids, _}} <- read, into: %{}, do: {judge, ids}),
            label_to_id: label_raw(labels),
            ballot_status:
              Map.new(read, fn {judge, _} -> {judge, Map.get(rejected, judge, :ok)} end),
            unknown_labels:
              for({judge, {:ok, _, [_ | _] = unknown}} <- read, into: %{}, do: {judge, unknown})
          })

        {:ok, %{winner: winner, scores: scores, raw: raw}}
      end
    end
  end

  # nil, one shared map, or one map per judge (a map whose values are all
  # maps: ids are never maps). Anonymize.relabel/2's result stands for its
  # :label_to_id, and so does each per-judge entry of Anonymize.per_judge/2.
  defp label_maps(nil), do: {:ok, :none}
  defp label_maps(%{label_to_id: map}) when is_map(map), do: label_maps(map)

  defp label_maps(map) when is_map(map) and map_size(map) > 0 do
    if Enum.all?(map, fn {_, v} -> is_map(v) end) do
      per_judge =
        Map.new(map, fn
          {judge, %{label_to_id: m}} when is_map(m) -> {judge, m}
          {judge, m} -> {judge, m}
        end)

      {:ok, {:per_judge, per_judge}}
    else
      {:ok, {:shared, map}}
    end
  end

  defp label_maps(map) when is_map(map), do: {:ok, {:shared, map}}
  defp label_maps(other), do: {:error, {:invalid_option, :label_to_id, other}}

  defp include_self(opts) do
    case Keyword.get(opts, :include_self, false) do
      b when is_boolean(b) -> {:ok, b}
      other -> {:error, {:invalid_option, :include_self, other}}
    end
  end

  defp label_raw(:none), do: %{}
  defp label_raw({_, map}), do: map

  defp label_ids(:none), do: []
  defp label_ids({:shared, map}), do: Map.values(map)
  defp label_ids({:per_judge, maps}), do: for({_, m} <- maps, id <- Map.values(m), do: id)

  # {:ok, ids, unknown_labels} or {:error, reason}.
  defp read(output, judge, labels) do
    with {:ok, items} <- Ballots.read_ordering(output) do
      case labels do
        :none ->
          {:ok, items, []}

        {:shared, map} ->
          translate(items, map)

        {:per_judge, maps} ->
          if map = maps[judge], do: translate(items, map), else: {:error, :missing_label_map}
      end
    end
  end

  defp translate(items, map) do
    {ids, unknown} =
      Enum.reduce(items, {[], []}, fn item, {ids, unknown} ->
        case Map.fetch(map, item) do
          {:ok, id} -> {[id | ids], unknown}
          :error -> {ids, [item | unknown]}
        end
      end)

    {:ok, Enum.reverse(ids), Enum.reverse(unknown)}
  end

  defp index_ballots(read, cands) do
    Enum.reduce(Enum.reverse(read), {[], %{}}, fn
      {judge, {:ok, ids, _}}, {ballots, errors} ->
        self =
          case Ballots.index(cands, judge) do
            {:ok, i} -> i
            :error -> -1
          end

        case Ballots.indices(cands, ids) do
          {:ok, indices} -> {[{judge, {indices, self}} | ballots], errors}
          :error -> {ballots, Map.put(errors, judge, :unknown_candidate)}
        end

      {judge, {:error, reason}}, {ballots, errors} ->
        {ballots, Map.put(errors, judge, reason)}
    end)
  end
end
