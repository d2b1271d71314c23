defmodule CouncilEx.CouncilsRunTest do
  # Every prebuilt topology run end to end: on the fake HTTP provider
  # (loopback, OpenAI dialect) and on the Mock provider, module form and
  # dynamic form.
  use CouncilEx.FakeCase, async: false

  alias CouncilEx.{DynamicCouncil, MemberResult, Result}

  alias CouncilEx.Councils.{
    Consensus,
    JuryWithRetry,
    LLMCouncil,
    ParallelPanel,
    PeerReview,
    Specialist
  }

  alias CouncilEx.Councils.{Tournament, Voting, WeightedConsensus}
  alias CouncilEx.Providers.Mock

  # One reply that reads as an answer, a vote for "x" and a ranking of the
  # two answers a judge of three sees.
  @member_reply ~s({"choice": "x", "confidence": 0.9}\nFINAL RANKING:\n1. Response A\n2. Response B)
  # The chair picks answer A when judging pairs.
  @chair_reply ~s({"choice": "A"})

  @topologies [
    {ParallelPanel, [], [:independent_analysis, :synthesis]},
    {PeerReview, [], [:independent_analysis, :critique, :peer_review, :synthesis]},
    {Voting, [options: ["x", "y"]], [:independent_analysis, :vote, :synthesis]},
    {Specialist, [], [:independent_analysis, :peer_review, :synthesis]},
    # Nobody changed their answer: the critique converges after one pass.
    {Consensus, [max_iterations: 3], [:independent_analysis, :critique, :synthesis]},
    {Tournament, [],
     [:independent_analysis, :pairwise_elimination, :pairwise_elimination, :synthesis]},
    {WeightedConsensus, [expose_confidence: true], [:independent_analysis, :weighted_synthesis]},
    {JuryWithRetry, [], [:independent_analysis, :independent_analysis, :synthesis]},
    {LLMCouncil, [], [:independent_analysis, :anonymized_peer_review, :synthesis]}
  ]

  defp members_key(JuryWithRetry), do: :judges
  defp members_key(_), do: :members

  defp check(%Result{} = result, names, topology) do
    assert result.status == :ok, "#{inspect(topology)}: #{inspect(result.errors)}"
    assert Enum.map(result.rounds, & &1.name) == names, inspect(topology)
    assert %CouncilEx.Response{content: content} = result.final
    assert content =~ ~s("choice")

    for round <- result.rounds,
        {_id, %MemberResult{} = r} <- round.member_results,
        do:
          assert(
            r.status in [:ok, :eliminated],
            "#{inspect(topology)} #{round.name}: #{inspect(r.error)}"
          )
  end

  test "every topology completes over HTTP", %{fake: fake} do
    for model <- ["m1", "m2", "m3"], do: FakeProvider.script(fake, model, content: @member_reply)
    FakeProvider.script(fake, "chair", content: @chair_reply)

    members =
      for {id, model} <- [m1: "m1", m2: "m2", m3: "m3"], do: {id, [provider: :fake, model: model]}

    chair = [id: :chair, provider: :fake, model: "chair"]

    for {topology, extra, names} <- @topologies do
      council = topology.new([{members_key(topology), members}, chair: chair] ++ extra)
      assert {:ok, result} = CouncilEx.run(council, "Ship on Friday?"), inspect(topology)
      check(result, names, topology)
    end

    # The LLMCouncil chair was given the aggregate ranking and every
    # judge's labels.
    synth =
      fake
      |> FakeProvider.requests()
      |> Enum.filter(&(&1.body["model"] == "chair"))
      |> List.last()

    user = synth.body["messages"] |> List.last() |> Map.get("content")
    assert user =~ "Aggregate ranking"
    assert user =~ "Its labels: Response A = m"
  end

  test "every topology completes on the Mock provider, module and dynamic forms" do
    for id <- [:m1, :m2, :m3, "m1", "m2", "m3"], do: Mock.script(id, content: @member_reply)
    for id <- [:chair, "chair"], do: Mock.script(id, content: @chair_reply)

    members = for id <- [:m1, :m2, :m3], do: {id, [provider: :mock, model: "mock-#{id}"]}

    for {topology, extra, names} <- @topologies do
      council =
        topology.new(
          [{members_key(topology), members}, chair: [id: :chair, provider: :mock, model: "mc"]] ++
            extra
        )

      assert {:ok, result} = CouncilEx.run(council, "Q?"), inspect(topology)
      check(result, names, topology)
    end
  end

  test "a dynamic topology survives JSON and runs the same" do
    Mock.reset()
    for id <- ["m1", "m2", "m3"], do: Mock.script(id, content: @member_reply)
    Mock.script("chair", content: @chair_reply)
    profile = %{provider: :mock, model: "mock-dyn"}

    members =
      for id <- ["m1", "m2", "m3"],
          do: %{id: id, system_prompt: "You are #{id}.", profile_overrides: profile}

    council =
      LLMCouncil.new_dynamic(
        id: "llm-dyn",
        members: members,
        chair: %{id: "chair", system_prompt: "Chair.", profile_overrides: profile}
      )

    back = council |> DynamicCouncil.to_json!() |> DynamicCouncil.from_json!()
    assert back == council
    assert {:ok, result} = CouncilEx.run(back, "Q?")
    check(result, [:independent_analysis, :anonymized_peer_review, :synthesis], LLMCouncil)
    assert %{winner: winner} = Enum.at(result.rounds, 1).aggregated
    assert winner in ["m1", "m2", "m3"]
  end
end
