defmodule CouncilEx.RunServer.RoundOutcome do
  @moduledoc false
  # Turns what the C round loop reports about a step (seat indices,
  # candidate indices, aggregates) into the RoundResult users read: member
  # ids (never labels or indices), aggregates as %{winner, scores, raw}, and
  # the round's metadata. User aggregators, tie-break functions and custom
  # rounds' parse_output/3 run here, after the C step.

  alias CouncilEx.{Error, MemberResult, Response, RoundResult}

  @doc "Whether a round kind's members write answers later rounds read (c_src/enums.def)."
  @spec answers?(atom()) :: boolean()
  def answers?(kind), do: CouncilEx.Enums.round_kind!(kind).answers?

  @doc "A step's member results in call order, as `{member_id, result}`."
  @spec sorted_members(map(), non_neg_integer()) :: [{term(), MemberResult.t()}]
  def sorted_members(state, step) do
    state.member_results
    |> Map.get(step, [])
    |> Enum.sort_by(fn {index, _} -> index end)
    |> Enum.map(fn {_, r} -> {r.member_id, r} end)
  end

  defp round_info(state, step), do: elem(state.rounds, state.steps[step].round)
  defp seat_id(state, seat), do: elem(state.seats, seat).id

  @doc "What a call's answer said, as `Response.parsed`: a ballot, or nil."
  @spec ballot(map(), non_neg_integer(), map()) :: map() | nil
  def ballot(state, step, outcome) do
    info = round_info(state, step)

    case {info.kind, outcome} do
      {_, %{ordering: ordering}} when is_list(ordering) ->
        %{"ordering" => Enum.map(ordering, &seat_id(state, &1))}

      {:vote, %{choice: choice}} when is_integer(choice) ->
        %{"choice" => vote_choice(state, info, choice), "confidence" => outcome.confidence}

      {:pairwise_elimination, %{choice: choice, pair: {a, b}}} when choice in [0, 1] ->
        %{"winner" => seat_id(state, if(choice == 0, do: a, else: b))}

      _ ->
        nil
    end
  end

  defp vote_choice(_state, %{options: [_ | _] = options}, i), do: Enum.at(options, i)
  defp vote_choice(state, _info, seat), do: seat_id(state, seat)

  @doc "A call's metadata: the pair judged, the labels seen, a ballot note, a sub-council's run."
  @spec call_metadata(map(), non_neg_integer(), map(), term()) :: map()
  def call_metadata(state, _step, outcome, extra) do
    %{}
    |> put_if(:pair, outcome[:pair] && pair_ids(state, outcome.pair))
    |> put_if(:labels, outcome[:labels] && label_map(state, outcome.labels))
    |> put_if(:ballot_error, outcome[:ballot_error])
    |> Map.merge(if is_map(extra) and not is_struct(extra), do: extra, else: %{})
  end

  defp pair_ids(state, {a, b}), do: {seat_id(state, a), seat_id(state, b)}

  defp label_map(state, seats) do
    seats
    |> Enum.with_index()
    |> Map.new(fn {seat, i} -> {CouncilEx.Anonymize.label(i), seat_id(state, seat)} end)
  end

  defp put_if(map, _key, nil), do: map
  defp put_if(map, key, value), do: Map.put(map, key, value)

  @doc "The RoundResult of a finished step, from the C side's round info."
  @spec build(map(), non_neg_integer(), map()) :: RoundResult.t()
  def build(state, step, c_info) do
    %{round: round, iteration: iteration, name: name, started: started} = state.steps[step]
    info = elem(state.rounds, round)
    members = state |> sorted_members(step) |> parse_custom(info)

    {members, extra} =
      if info.kind == :pairwise_elimination,
        do: bracket(state, c_info, members),
        else: {members, %{}}

    metadata =
      %{round: round, iteration: iteration}
      |> Map.merge(timing(started, state, step))
      |> put_if(:mean_confidence, c_info.mean_confidence)
      |> put_if(:label_to_id, label_to_id(members))
      |> put_if(:routed_out, nonempty(Map.get(state.routed_out, step, [])))
      |> Map.merge(extra)

    %RoundResult{
      name: name,
      idx: step,
      member_results: members,
      aggregated: aggregated(state, info, c_info, members),
      metadata: metadata
    }
  end

  # The step's wall time and the part of it not spent waiting on the
  # slowest call: the round loop's own overhead (prompts, parsing,
  # aggregation, messages between C and the run's process).
  defp timing(started, state, step) do
    duration_us =
      System.convert_time_unit(System.monotonic_time() - started, :native, :microsecond)

    slowest_us = state.call_latency |> Map.get(step, [0]) |> Enum.max()
    %{duration_us: duration_us, overhead_us: max(duration_us - slowest_us, 0)}
  end

  defp nonempty([]), do: nil
  defp nonempty(list), do: list

  # Each judge's labels (anonymized review), judge => %{label => id}; a
  # lone judge's map as is.
  defp label_to_id(members) do
    maps =
      for {id, %MemberResult{metadata: %{labels: labels}}} <- members, into: %{}, do: {id, labels}

    case Map.to_list(maps) do
      [] -> nil
      [{_judge, labels}] -> labels
      _ -> maps
    end
  end

  # A custom round's parse_output/3 turns each answer into Response.parsed;
  # an {:error, _} marks the member :invalid_output.
  defp parse_custom(members, %{kind: :custom, module: module, opts: opts}) do
    if function_exported?(module, :parse_output, 3),
      do: Enum.map(members, fn {id, r} -> {id, parse_one(module, opts, id, r)} end),
      else: members
  end

  defp parse_custom(members, _info), do: members

  defp parse_one(module, opts, id, %MemberResult{status: :ok, response: %Response{} = resp} = r) do
    case module.parse_output(resp, id, opts) do
      {:ok, parsed} ->
        %{r | response: %{resp | parsed: parsed}}

      {:error, why} ->
        error = %Error{
          kind: :validation,
          reason: :invalid_output,
          member_id: id,
          message: inspect(why),
          context: %{errors: [why]}
        }

        %{r | status: :invalid_output, error: error}
    end
  rescue
    e ->
      error = %Error{
        kind: :validation,
        reason: :invalid_output,
        member_id: id,
        message: Exception.message(e)
      }

      %{r | status: :invalid_output, error: error}
  end

  defp parse_one(_module, _opts, _id, r), do: r

  # A bracket level: contestants who go on keep :ok (with their answer),
  # the others are :eliminated; the judges' calls go to metadata.
  defp bracket(state, c_info, judge_calls) do
    alive = MapSet.new(c_info.alive || [])

    members =
      for seat <- c_info.cands do
        id = seat_id(state, seat)
        answer = state.answers[id]

        result =
          if MapSet.member?(alive, seat),
            do: %MemberResult{(answer || %MemberResult{member_id: id}) | status: :ok},
            else: %MemberResult{
              (answer || %MemberResult{member_id: id})
              | status: :eliminated,
                metadata: %{reason: :tournament_loss}
            }

        {id, result}
      end

    remaining = for {id, %{status: :ok}} <- members, do: id
    eliminated = for {id, %{status: :eliminated}} <- members, do: id

    {members,
     %{
       remaining: remaining,
       eliminated: eliminated,
       judgements: Enum.map(judge_calls, &elem(&1, 1))
     }}
  end

  defp aggregated(state, info, c_info, members) do
    cond do
      info.aggregator != nil -> user_aggregate(info, members)
      c_info.aggregate != nil -> from_c(state, info, c_info)
      info.kind == :pairwise_elimination -> bracket_winner(state, c_info)
      true -> nil
    end
  end

  defp bracket_winner(state, %{winner: seat}) when is_integer(seat),
    do: %{winner: seat_id(state, seat), scores: %{}, raw: %{}}

  defp bracket_winner(_state, _c_info), do: nil

  defp user_aggregate(info, members) do
    outputs =
      for {id, %MemberResult{status: :ok, response: %Response{} = r}} <- members,
          into: %{},
          do: {id, r.parsed || %{content: r.content}}

    case info.aggregator.aggregate(outputs, info.opts) do
      {:ok, result} -> result
      {:error, why} -> %{winner: nil, scores: %{}, raw: %{error: why}}
    end
  rescue
    e -> %{winner: nil, scores: %{}, raw: %{error: Exception.message(e)}}
  end

  # The C aggregate, from candidate indices to member ids (or options).
  defp from_c(state, info, %{aggregate: agg, cands: cands}) do
    names =
      case info.options do
        [_ | _] = options -> options
        _ -> Enum.map(cands, &seat_id(state, &1))
      end

    name = fn i -> Enum.at(names, i) end
    by_name = fn list -> if list, do: names |> Enum.zip(list) |> Map.new(), else: %{} end
    ties = Enum.map(agg.ties || [], name)

    winner =
      cond do
        agg.winner != nil -> name.(agg.winner)
        info.tie_break != nil and ties != [] -> info.tie_break.(ties)
        true -> nil
      end

    raw =
      %{
        votes: by_name.(agg.votes),
        tie: agg.tie,
        ties: ties,
        counted: agg.counted,
        ballot_status: agg.status
      }
      |> Map.put(:order, Enum.map(agg.order || [], name))
      |> with_kind(info, agg, by_name)

    %{winner: winner, scores: by_name.(agg.scores), raw: raw}
  end

  defp with_kind(raw, %{kind: kind}, agg, by_name)
       when kind in [:anonymized_peer_review, :ranking] do
    raw
    |> Map.put(:avg_position, by_name.(agg.avg_position))
    |> Map.put(:normalized_borda, if(agg.avg_position, do: by_name.(agg.scores)))
    |> Map.put(:cycle, agg.cycle)
  end

  defp with_kind(raw, _info, agg, _by_name), do: Map.put(raw, :cycle, agg.cycle)
end
