defmodule CouncilEx.RoundsTest do
  # Every round's visibility rules, ballots and aggregates, end to end
  # through the C round loop on the Mock provider. Each member's script
  # answers by round and reports the user message it was sent.
  use ExUnit.Case, async: true

  alias CouncilEx.{Error, MemberResult, Request, Result, RoundResult}
  alias CouncilEx.Providers.Mock

  @members [:a, :b, :c]

  defmodule Peer do
    @moduledoc false
    use CouncilEx
    member(:a, provider: :mock, model: "m-a")
    member(:b, provider: :mock, model: "m-b")
    member(:c, provider: :mock, model: "m-c")
    round(:independent_analysis)
    round(:peer_review)
    chair(:chair, provider: :mock, model: "m-chair")
  end

  defmodule Critique do
    @moduledoc false
    use CouncilEx
    member(:a, provider: :mock, model: "m-a")
    member(:b, provider: :mock, model: "m-b")
    member(:c, provider: :mock, model: "m-c")
    round(:independent_analysis)
    round(:critique)
  end

  defmodule Anon do
    @moduledoc false
    use CouncilEx
    member(:a, provider: :mock, model: "m-a")
    member(:b, provider: :mock, model: "m-b")
    member(:c, provider: :mock, model: "m-c")
    round(:independent_analysis)
    round(:anonymized_peer_review)
    chair(:chair, provider: :mock, model: "m-chair")
  end

  defmodule Ranked do
    @moduledoc false
    use CouncilEx
    member(:a, provider: :mock, model: "m-a")
    member(:b, provider: :mock, model: "m-b")
    member(:c, provider: :mock, model: "m-c")
    round(:independent_analysis)
    round(:ranking)
  end

  defmodule Voted do
    @moduledoc false
    use CouncilEx
    member(:a, provider: :mock, model: "m-a")
    member(:b, provider: :mock, model: "m-b")
    member(:c, provider: :mock, model: "m-c")
    round(:vote, options: ["ship", "wait"])
  end

  defmodule Bracket do
    @moduledoc false
    use CouncilEx
    member(:a, provider: :mock, model: "m-a")
    member(:b, provider: :mock, model: "m-b")
    member(:c, provider: :mock, model: "m-c")
    member(:d, provider: :mock, model: "m-d")
    member(:e, provider: :mock, model: "m-e")
    round(:independent_analysis)
    round(:iterate, wrap: :pairwise_elimination, max_iterations: 8)
    chair(:chair, provider: :mock, model: "m-chair")
  end

  defmodule Routed do
    @moduledoc false
    use CouncilEx
    member(:a, provider: :mock, model: "m-a")
    member(:b, provider: :mock, model: "m-b")
    member(:c, provider: :mock, model: "m-c")
    router(&CouncilEx.RoundsTest.only_a_and_b/2)
    round(:independent_analysis)
  end

  defmodule Quorum do
    @moduledoc false
    use CouncilEx
    member(:a, provider: :mock, model: "m-a")
    member(:b, provider: :mock, model: "m-b")
    member(:c, provider: :mock, model: "m-c")
    round(:independent_analysis, quorum: 3)
  end

  defmodule Fallback do
    @moduledoc false
    use CouncilEx
    member(:a, provider: :mock, model: "m-a")
    member(:b, provider: :mock, model: "m-b")
    round(:independent_analysis)

    chair(:chair,
      provider: :mock,
      model: "m-chair",
      system_prompt: "Chair rules.",
      fallback: [:b, :a]
    )
  end

  defmodule Until do
    @moduledoc false
    use CouncilEx
    member(:a, provider: :mock, model: "m-a")
    member(:b, provider: :mock, model: "m-b")
    round(:independent_analysis)

    round(:iterate, wrap: :critique, max_iterations: 5, until: &CouncilEx.RoundsTest.second_time/2)
  end

  defmodule Confident do
    @moduledoc false
    use CouncilEx
    member(:a, provider: :mock, model: "m-a", confidence: :self_report, weight: 3)
    member(:b, provider: :mock, model: "m-b", confidence: :self_report)
    round(:independent_analysis)
    round(CouncilEx.Rounds.WeightedSynthesis, expose_confidence: true)
    chair(:chair, provider: :mock, model: "m-chair")
  end

  defmodule Inner do
    @moduledoc false
    use CouncilEx
    member(:x, provider: :mock, model: "m-x")
    chair(:inner_chair, provider: :mock, model: "m-inner")
  end

  defmodule Outer do
    @moduledoc false
    use CouncilEx
    member(:a, provider: :mock, model: "m-a")

    member(:legal,
      council: CouncilEx.RoundsTest.Inner,
      input_mapper: &CouncilEx.RoundsTest.legal_input/1
    )

    round(:independent_analysis)
  end

  defmodule Headline do
    @moduledoc false
    @behaviour CouncilEx.Round
    def name, do: :headline
    def build_input(member_id, ctx, _opts), do: "Headline by #{member_id} for: #{ctx.input}"
    def parse_output(%{content: "BAD" <> _}, _id, _opts), do: {:error, :shouting}
    def parse_output(response, _id, _opts), do: {:ok, %{headline: response.content}}

    def aggregate(outputs, _opts),
      do: {:ok, %{winner: nil, scores: %{}, raw: %{n: map_size(outputs)}}}
  end

  defmodule Custom do
    @moduledoc false
    use CouncilEx
    member(:a, provider: :mock, model: "m-a")
    member(:b, provider: :mock, model: "m-b")
    round(CouncilEx.RoundsTest.Headline)
  end

  def only_a_and_b(_input, _ctx), do: [:a, :b]
  def second_time(_prev, curr), do: curr.metadata.iteration >= 1
  def legal_input(input), do: "LEGAL: " <> input

  # Scripts each id to answer `answer.(id, round, user_message)` and to
  # send the test {:seen, id, round, user_message, system_prompt}.
  defp script(ids, answer) do
    test = self()

    for id <- ids do
      Mock.script(id, fn %Request{round_name: round, messages: msgs} ->
        user = msgs |> Enum.filter(&(&1.role == "user")) |> List.last() |> Map.get(:content)
        system = Enum.find_value(msgs, fn m -> m.role == "system" && m.content end)
        send(test, {:seen, id, round, user, system})
        answer.(id, round, user)
      end)
    end
  end

  defp seen(id, round) do
    receive do
      {:seen, ^id, ^round, user, system} -> {user, system}
    after
      2_000 -> flunk("#{id} was not called in #{round}")
    end
  end

  defp round(%Result{rounds: rounds}, idx), do: Enum.at(rounds, idx)

  defp statuses(%RoundResult{member_results: results}),
    do: Map.new(results, fn {id, %MemberResult{status: s}} -> {id, s} end)

  test "peer review: each member sees the others' answers by id, never its own" do
    script(@members ++ [:chair], fn
      id, :independent_analysis, _ -> {:ok, "answer of #{id}"}
      id, :peer_review, _ -> {:ok, "review by #{id}"}
      :chair, :synthesis, _ -> {:ok, "final"}
    end)

    assert {:ok, result} = CouncilEx.run(Peer, "Q?")

    for id <- @members do
      {user, _} = seen(id, :peer_review)
      assert user =~ "Q?"
      others = @members -- [id]
      for o <- others, do: assert(user =~ "### #{o}\nanswer of #{o}")
      refute user =~ "answer of #{id}"
    end

    {chair_user, _} = seen(:chair, :synthesis)
    # The chair reads the latest answers: the reviews.
    for id <- @members, do: assert(chair_user =~ "review by #{id}")
    assert result.final.content == "final"
    assert Enum.map(result.rounds, & &1.name) == [:independent_analysis, :peer_review, :synthesis]
  end

  test "critique: each member sees its own previous answer and the others'" do
    script(@members, fn
      id, :independent_analysis, _ -> {:ok, "draft of #{id}"}
      id, :critique, _ -> {:ok, "revised by #{id}"}
    end)

    assert {:ok, _} = CouncilEx.run(Critique, "Q?")
    {user, _} = seen(:a, :critique)
    assert user =~ "Your previous answer:\ndraft of a"
    assert user =~ "### b\ndraft of b"
    assert user =~ "### c\ndraft of c"
  end

  # A judge that ranks by the answers' quality digits, best first, using
  # the labels it was shown.
  defp rank_by_quality(user) do
    ranked =
      Regex.scan(~r/(Response [A-Z]+):\nanswer q(\d)/, user)
      |> Enum.sort_by(fn [_, _, q] -> -String.to_integer(q) end)
      |> Enum.with_index(1)
      |> Enum.map_join("\n", fn {[_, label, _], i} -> "#{i}. **#{label}**" end)

    "Evaluation...\n\nFINAL RANKING:\n" <> ranked
  end

  test "anonymized peer review: labels per judge, own answer removed, ids restored, chair told the mapping" do
    quality = %{a: 3, b: 2, c: 1}

    script(@members ++ [:chair], fn
      id, :independent_analysis, _ -> {:ok, "answer q#{quality[id]}"}
      _id, :anonymized_peer_review, user -> {:ok, rank_by_quality(user)}
      :chair, :synthesis, _ -> {:ok, "final"}
    end)

    assert {:ok, result} = CouncilEx.run(Anon, "Which is best?")
    review = round(result, 1)
    assert review.name == :anonymized_peer_review

    for id <- @members do
      {user, _} = seen(id, :anonymized_peer_review)
      refute user =~ "answer q#{quality[id]}", "#{id} saw its own answer"
      refute user =~ ~r/\b[abc]\b:/
      assert user =~ "FINAL RANKING:"
      # Every other answer exactly once, under a label.
      assert length(Regex.scan(~r/Response [A-Z]:\n/, user)) == 2

      assert %MemberResult{status: :ok, response: %{parsed: %{"ordering" => ordering}}} =
               Keyword.fetch!(review.member_results, id)

      assert ordering == Enum.sort_by(@members -- [id], &(-quality[&1]))
    end

    # Self-votes excluded: a is ranked first by b and c; b is first for a.
    assert %{winner: :a, scores: scores, raw: raw} = review.aggregated
    assert raw.avg_position == %{a: 1.0, b: 1.5, c: 2.0}
    assert scores[:a] == 1.0 and scores[:c] == 0.0
    assert %{} = labels = review.metadata.label_to_id
    assert Map.keys(labels) |> Enum.sort() == @members

    for {judge, map} <- labels,
        do: assert(Enum.sort(Map.values(map)) == Enum.sort(@members -- [judge]))

    {chair_user, _} = seen(:chair, :synthesis)
    assert chair_user =~ "Its labels: Response A = "
    assert chair_user =~ "Aggregate ranking"
    assert chair_user =~ "Winner: a"
  end

  test "an unreadable ballot is reported, not guessed" do
    script(@members ++ [:chair], fn
      id, :independent_analysis, _ -> {:ok, "answer of #{id}"}
      :a, :anonymized_peer_review, _ -> {:ok, "I liked Response B, then Response A."}
      _, :anonymized_peer_review, _ -> {:ok, "FINAL RANKING:\n1. Response A\n2. Response B"}
      :chair, :synthesis, _ -> {:ok, "final"}
    end)

    assert {:ok, result} = CouncilEx.run(Anon, "Q?")
    review = round(result, 1)

    assert %MemberResult{
             status: :invalid_output,
             error: %Error{reason: :invalid_output} = e,
             response: r
           } = Keyword.fetch!(review.member_results, :a)

    assert r.content =~ "I liked"
    assert e.message =~ "ballot"
    assert review.aggregated.raw.counted == 2
  end

  test "ranking: members rank the answers by id; Borda decides" do
    script(@members, fn
      id, :independent_analysis, _ ->
        {:ok, "answer of #{id}"}

      _id, :ranking, user ->
        assert user =~ "### a\nanswer of a"
        {:ok, ~s({"ordering": ["c", "a", "b"], "rationale": "c is clearest"})}
    end)

    assert {:ok, result} = CouncilEx.run(Ranked, "Q?")
    ranking = round(result, 1)
    assert ranking.aggregated.winner == :c

    assert Keyword.fetch!(ranking.member_results, :a).response.parsed == %{
             "ordering" => [:c, :a, :b]
           }
  end

  test "vote on options: plurality with each voter's confidence" do
    script(@members, fn
      :c, :vote, _ ->
        {:ok, ~s({"choice": "wait", "rationale": "risk", "confidence": 0.9})}

      _id, :vote, user ->
        assert user =~ ~s("ship", "wait")
        {:ok, ~s(Thinking... {"choice": "Ship", "rationale": "ready", "confidence": 0.6})}
    end)

    assert {:ok, result} = CouncilEx.run(Voted, "Ship?")
    vote = round(result, 0)
    assert %{winner: "ship", scores: %{"ship" => 2.0, "wait" => 1.0}} = vote.aggregated

    assert Keyword.fetch!(vote.member_results, :c).response.parsed == %{
             "choice" => "wait",
             "confidence" => 0.9
           }
  end

  test "pairwise elimination: the chair judges pairs until one member remains" do
    strength = %{a: 1, b: 5, c: 3, d: 4, e: 2}

    script([:a, :b, :c, :d, :e, :chair], fn
      id, :independent_analysis, _ ->
        {:ok, "strength #{strength[id]}"}

      :chair, :pairwise_elimination, user ->
        refute user =~ ~r/### [a-e]\n/

        [a, b] =
          Regex.scan(~r/strength (\d)/, user) |> Enum.map(fn [_, n] -> String.to_integer(n) end)

        {:ok, ~s({"choice": "#{if a >= b, do: "A", else: "B"}"})}

      :chair, :synthesis, _ ->
        {:ok, "b wins"}
    end)

    assert {:ok, result} = CouncilEx.run(Bracket, "Q?")
    levels = Enum.filter(result.rounds, &(&1.name == :pairwise_elimination))
    # 5 -> 3 (a-b, c-d, bye e) -> 2 (b-d, bye e) -> 1 (b-e)
    assert Enum.map(levels, & &1.metadata.remaining) == [[:b, :d, :e], [:b, :e], [:b]]
    [first | _] = levels
    assert statuses(first) == %{a: :eliminated, b: :ok, c: :eliminated, d: :ok, e: :ok}
    assert Keyword.fetch!(first.member_results, :a).metadata == %{reason: :tournament_loss}
    assert List.last(levels).aggregated.winner == :b
    {chair_user, _} = seen(:chair, :synthesis)
    assert chair_user =~ "b beat e"
  end

  test "a router's excluded members are reported :skipped" do
    script(@members, fn id, _, _ -> {:ok, "answer of #{id}"} end)
    assert {:ok, result} = CouncilEx.run(Routed, "Q?")
    r = round(result, 0)
    assert statuses(r) == %{a: :ok, b: :ok, c: :skipped}
    assert Keyword.fetch!(r.member_results, :c).metadata.reason == :router_excluded
    refute_received {:seen, :c, _, _, _}
  end

  test "quorum: too few successes fail the run with every member's error" do
    script([:a, :b], fn id, _, _ -> {:ok, "answer of #{id}"} end)
    Mock.script(:c, error: [kind: :permanent, reason: :boom, message: "c broke"])

    assert {:error, %Result{status: :error} = result} = CouncilEx.run(Quorum, "Q?")

    assert [%Error{member_id: :c, message: "c broke"}, %Error{reason: :quorum_not_met}] =
             result.errors
  end

  test "chair fallback: a failed chair hands the synthesis to the next seat, with the chair's prompt" do
    script([:a, :b], fn
      id, :independent_analysis, _ ->
        {:ok, "answer of #{id}"}

      :b, :synthesis, _ ->
        {:error, %Error{kind: :permanent, reason: :model_gone, message: "404 no endpoints"}}

      :a, :synthesis, _ ->
        {:ok, "a's synthesis"}
    end)

    Mock.script(:chair, error: [kind: :permanent, reason: :model_gone, message: "404 chair model"])

    assert {:ok, result} = CouncilEx.run(Fallback, "Q?")
    assert result.final.content == "a's synthesis"
    assert result.status == :partial
    synthesis = List.last(result.rounds)

    assert Enum.map(synthesis.member_results, fn {id, r} -> {id, r.status} end) == [
             chair: :error,
             b: :error,
             a: :ok
           ]

    assert Enum.map(result.errors, & &1.message) == ["404 chair model", "404 no endpoints"]
    {_user, system} = seen(:a, :synthesis)
    assert system == "Chair rules."
  end

  test "iterate with until: stops when the function says so" do
    script([:a, :b], fn id, round, _ -> {:ok, "#{round} by #{id} #{System.unique_integer()}"} end)
    assert {:ok, result} = CouncilEx.run(Until, "Q?")

    assert Enum.map(result.rounds, &{&1.name, &1.metadata.iteration}) ==
             [independent_analysis: 0, critique: 0, critique: 1]
  end

  test "confidence: self-reported, stripped from the answer, and weighted for the chair" do
    script([:a, :b, :chair], fn
      :a, :independent_analysis, _ -> {:ok, "Go.\n{\"confidence\": 0.8}"}
      :b, :independent_analysis, _ -> {:ok, "Wait.\n\n```json\n{\"confidence\": 0.4}\n```"}
      :chair, :weighted_synthesis, _ -> {:ok, "Go, mostly."}
    end)

    assert {:ok, result} = CouncilEx.run(Confident, "Go?")
    first = round(result, 0)

    assert %MemberResult{confidence: 0.8, response: %{content: "Go."}} =
             Keyword.fetch!(first.member_results, :a)

    assert %MemberResult{confidence: 0.4, response: %{content: "Wait."}} =
             Keyword.fetch!(first.member_results, :b)

    {_, system} = seen(:a, :independent_analysis)
    assert system =~ "confidence"
    {chair_user, _} = seen(:chair, :weighted_synthesis)
    # a: 3 * 0.8 = 2.4, b: 1 * 0.4 = 0.4; normalized 0.86 and 0.14
    assert chair_user =~ "### Member a (m-a) - weight 0.86, confidence 0.80"
    assert chair_user =~ "### Member b (m-b) - weight 0.14, confidence 0.40"
  end

  test "a sub-council member runs nested, relays its events, and reports its run" do
    script([:a, :x, :inner_chair], fn
      :a, _, _ -> {:ok, "outer a"}
      :x, _, user -> {:ok, "inner x saw #{user}"}
      :inner_chair, _, _ -> {:ok, "inner verdict"}
    end)

    {:ok, pid} = CouncilEx.start(Outer, "Q?", subscribe: true)
    run_id = CouncilEx.RunServer.run_id(pid)
    :ok = CouncilEx.PubSub.subscribe("council_ex:run:#{run_id}:sub:legal")
    assert {:ok, result} = CouncilEx.await(pid)

    legal = Keyword.fetch!(round(result, 0).member_results, :legal)
    assert %MemberResult{status: :ok, response: %{content: "inner verdict"}} = legal
    assert legal.metadata.sub_run_id =~ run_id
    assert %Result{status: :ok} = legal.metadata.sub_result
    assert {_user, _} = seen(:x, :independent_analysis)
    assert_receive {:run_completed, sub_id, %Result{}} when sub_id == legal.metadata.sub_run_id

    [x_answer] =
      for {:x, r} <- legal.metadata.sub_result.rounds |> hd() |> Map.get(:member_results), do: r

    assert x_answer.response.content == "inner x saw LEGAL: Q?"
  end

  test "a custom round builds each message in Elixir and parses the answers" do
    script([:a, :b], fn
      :a, :headline, user -> {:ok, "Big news: " <> user}
      :b, :headline, _ -> {:ok, "BAD HEADLINE"}
    end)

    assert {:ok, result} = CouncilEx.run(Custom, "rates fall")
    r = round(result, 0)
    assert r.name == :headline

    assert %MemberResult{
             status: :ok,
             response: %{parsed: %{headline: "Big news: Headline by a for: rates fall"}}
           } = Keyword.fetch!(r.member_results, :a)

    assert %MemberResult{status: :invalid_output} = Keyword.fetch!(r.member_results, :b)
    assert r.aggregated == %{winner: nil, scores: %{}, raw: %{n: 1}}
  end
end
