defmodule CouncilEx.CouncilsTest do
  # Registers routers for the dynamic judges: the registry is global.
  use ExUnit.Case, async: false

  alias CouncilEx.{DynamicCouncil, DynamicMember, Registry, Spec}

  alias CouncilEx.Councils.{
    Consensus,
    JuryWithRetry,
    LLMCouncil,
    ParallelPanel,
    PeerReview,
    Specialist,
    Tournament,
    Voting,
    WeightedConsensus
  }

  alias CouncilEx.Rounds.{
    AnonymizedPeerReview,
    Critique,
    IndependentAnalysis,
    Iterate,
    Synthesis,
    Vote,
    WeightedSynthesis
  }

  defmodule Judges do
    @moduledoc false
    def shorter(a, b), do: if(String.length(a) <= String.length(b), do: :a, else: :b)
    def judge(a, b), do: shorter(a, b)
    def until(_prev, _curr), do: true
  end

  defmodule Analyst do
    @moduledoc false
    use CouncilEx.Member
    role("analyst")
    system_prompt("You analyse.")
  end

  @members [a: [provider: :mock, model: "m-a"], b: [provider: :mock, model: "m-b"]]
  @chair [provider: :mock, model: "m-chair"]

  @dyn_members [
    %{id: "a", system_prompt: "A.", profile_overrides: %{provider: :mock, model: "m-a"}},
    %{
      "id" => "b",
      "system_prompt" => "B.",
      "profile_overrides" => %{"provider" => "mock", "model" => "m-b"}
    }
  ]
  @dyn_chair %{
    id: "chair",
    system_prompt: "Decide.",
    profile_overrides: %{provider: :mock, model: "m-chair"}
  }

  setup do
    Registry.reset()
    :ok = Registry.register_router("judges", Judges)
    on_exit(&Registry.reset/0)
  end

  defp rounds(module), do: module.__council__().rounds

  defp dynamic(topology, extra),
    do:
      topology.new_dynamic(
        [id: "t-#{System.unique_integer([:positive])}", members: @dyn_members, chair: @dyn_chair] ++
          extra
      )

  # The JSON round trip gives back an equal council, lowering to the same rounds.
  defp assert_round_trip(%DynamicCouncil{} = council) do
    back = council |> DynamicCouncil.to_json!() |> DynamicCouncil.from_json!()
    assert back == council
    assert DynamicCouncil.validate(council) == :ok
    assert DynamicCouncil.to_spec(back).rounds == DynamicCouncil.to_spec(council).rounds
    DynamicCouncil.to_spec(council)
  end

  describe "new/1 generates a council module of the topology's shape" do
    test "ParallelPanel" do
      panel = ParallelPanel.new(members: @members, chair: @chair)

      assert %Spec{council: ^panel, chair: {:chair, nil, [provider: :mock, model: "m-chair"]}} =
               panel.__council__()

      assert rounds(panel) == [{IndependentAnalysis, []}, {Synthesis, []}]
      assert Enum.map(panel.__council__().members, &elem(&1, 0)) == [:a, :b]
      assert panel.__providers__() == MapSet.new([:mock])
      assert inspect(panel) =~ "CouncilEx.Councils.ParallelPanel.Council"
    end

    test "PeerReview" do
      council = PeerReview.new(as: __MODULE__.PeerReviewed, members: @members, chair: @chair)
      assert council == __MODULE__.PeerReviewed

      assert rounds(council) == [
               {IndependentAnalysis, []},
               {Critique, []},
               {CouncilEx.Rounds.PeerReview, []},
               {Synthesis, []}
             ]
    end

    test "Voting, with the default aggregator and with options passed through" do
      assert rounds(Voting.new(members: @members, chair: @chair)) ==
               [{IndependentAnalysis, []}, {Vote, [aggregator: :plurality]}, {Synthesis, []}]

      voting =
        Voting.new(
          members: @members,
          chair: @chair,
          aggregator: :weighted_mean,
          options: ["ship", "wait"],
          tie_break: :random
        )

      assert rounds(voting) == [
               {IndependentAnalysis, []},
               {Vote,
                [options: ["ship", "wait"], aggregator: :weighted_mean, tie_break: :random]},
               {Synthesis, []}
             ]
    end

    test "Specialist, with member modules and a chair module" do
      council =
        Specialist.new(
          members: [
            {:security, Analyst, provider: :mock, model: "m"},
            {:finance, Analyst, [provider: :mock, model: "f"]}
          ],
          chair: {Analyst, provider: :mock, model: "c"}
        )

      spec = council.__council__()

      assert spec.rounds == [
               {IndependentAnalysis, []},
               {CouncilEx.Rounds.PeerReview, []},
               {Synthesis, []}
             ]

      assert [{:security, Analyst, _}, {:finance, Analyst, [provider: :mock, model: "f"]}] =
               spec.members

      assert {:chair, Analyst, [provider: :mock, model: "c"]} = spec.chair
    end

    test "Consensus: iterate critique, max_iterations 3 by default, until passed through" do
      assert rounds(Consensus.new(members: @members, chair: @chair)) ==
               [
                 {IndependentAnalysis, []},
                 {Iterate, [wrap: :critique, max_iterations: 3]},
                 {Synthesis, []}
               ]

      council =
        Consensus.new(members: @members, chair: @chair, max_iterations: 5, until: &Judges.until/2)

      assert rounds(council) == [
               {IndependentAnalysis, []},
               {Iterate, [wrap: :critique, max_iterations: 5, until: &Judges.until/2]},
               {Synthesis, []}
             ]
    end

    test "Tournament: iterate pairwise elimination, max 16 levels, the chair judging by default" do
      council = Tournament.new(members: @members, chair: @chair)

      assert rounds(council) ==
               [
                 {IndependentAnalysis, []},
                 {Iterate, [wrap: :pairwise_elimination, max_iterations: 16]},
                 {Synthesis, []}
               ]

      refute function_exported?(council, :__pairwise_judge__, 2)
    end

    test "Tournament: a judge function is kept in :persistent_term and exposed as __pairwise_judge__/2" do
      judge = fn a, b -> if a > b, do: :a, else: :b end

      council =
        Tournament.new(
          as: __MODULE__.Bracket,
          members: @members,
          chair: @chair,
          judge: judge,
          max_iterations: 4
        )

      assert rounds(council) == [
               {IndependentAnalysis, []},
               {Iterate,
                [
                  wrap: :pairwise_elimination,
                  wrap_opts: [judge: Function.capture(__MODULE__.Bracket, :__pairwise_judge__, 2)],
                  max_iterations: 4
                ]},
               {Synthesis, []}
             ]

      assert :persistent_term.get({Tournament, __MODULE__.Bracket}) == judge
      assert council.__pairwise_judge__("b", "a") == :a
      assert council.__pairwise_judge__("a", "b") == :b

      # A module that fails to compile leaves no judge behind.
      assert_raise ArgumentError, ~r/member :a has no :model/, fn ->
        Tournament.new(
          as: __MODULE__.Broken,
          members: [a: [provider: :mock]],
          chair: @chair,
          judge: judge
        )
      end

      assert :persistent_term.get({Tournament, __MODULE__.Broken}, :none) == :none

      seat =
        Tournament.new(
          members: @members,
          chair: @chair,
          judge: {Analyst, provider: :mock, model: "j"}
        )

      assert [_, {Iterate, opts}, _] = rounds(seat)
      assert opts[:wrap_opts] == [judge: {Analyst, [provider: :mock, model: "j"]}]
    end

    test "WeightedConsensus: the chair writes a weighted synthesis; members keep their weights" do
      council =
        WeightedConsensus.new(
          members: [
            a: [provider: :mock, model: "m", weight: 2.0],
            b: [provider: :mock, model: "m", confidence: :logprob]
          ],
          chair: @chair,
          expose_confidence: true
        )

      spec = council.__council__()

      assert spec.rounds == [
               {IndependentAnalysis, []},
               {WeightedSynthesis, [expose_confidence: true]}
             ]

      assert [{:a, nil, a}, {:b, nil, b}] = spec.members
      assert a[:weight] == 2.0
      assert b[:confidence] == :logprob

      assert rounds(WeightedConsensus.new(members: @members, chair: @chair)) == [
               {IndependentAnalysis, []},
               {WeightedSynthesis, []}
             ]
    end

    test "JuryWithRetry: judges re-run independently until confident; :self_report by default" do
      jury =
        JuryWithRetry.new(
          judges: [
            j1: [provider: :mock, model: "m"],
            j2: [provider: :mock, model: "m", confidence: :logprob]
          ],
          chair: @chair
        )

      spec = jury.__council__()

      assert spec.rounds == [
               {Iterate, [wrap: :independent_analysis, max_iterations: 2, min_confidence: 0.7]},
               {Synthesis, []}
             ]

      assert [{:j1, nil, j1}, {:j2, nil, j2}] = spec.members
      assert j1[:confidence] == :self_report
      assert j2[:confidence] == :logprob

      tuned =
        JuryWithRetry.new(
          judges: @members,
          chair: @chair,
          confidence_threshold: 0.9,
          max_iterations: 4
        )

      assert [{Iterate, [wrap: :independent_analysis, max_iterations: 4, min_confidence: 0.9]}, _] =
               rounds(tuned)
    end

    test "LLMCouncil: anonymized peer review, per-judge order by default, chair fallback" do
      council = LLMCouncil.new(members: @members, chair: @chair, chair_fallback: [:b, :a])
      spec = council.__council__()

      assert spec.rounds == [
               {IndependentAnalysis, []},
               {AnonymizedPeerReview, [order: :per_judge]},
               {Synthesis, []}
             ]

      assert {:chair, nil, chair_opts} = spec.chair
      assert chair_opts[:fallback] == [:b, :a]

      stable =
        LLMCouncil.new(
          members: @members,
          chair: {:boss, @chair},
          order: :stable,
          include_self: true,
          chair_fallback: :members
        )

      assert [_, {AnonymizedPeerReview, [order: :stable, include_self: true]}, _] = rounds(stable)
      assert {:boss, nil, boss} = stable.__council__().chair
      assert boss[:fallback] == :members
    end

    test "generated councils take a default profile and a router" do
      council =
        ParallelPanel.new(
          members: @members,
          chair: @chair,
          router: __MODULE__.PickA,
          default_profile: [temperature: 0.1]
        )

      spec = council.__council__()
      assert spec.router == __MODULE__.PickA
      assert spec.opts == [default_profile: [temperature: 0.1]]
      assert {:a, nil, a} = hd(spec.members)
      assert a[:temperature] == 0.1
    end
  end

  defmodule PickA do
    @moduledoc false
    @behaviour CouncilEx.Router
    @impl true
    def select(_input, _ctx), do: [:a]
  end

  describe "new/1 refuses bad arguments" do
    test "missing members or chair, unknown options, bad shapes" do
      for {fun, message} <- [
            {fn -> ParallelPanel.new(chair: @chair) end,
             ~r/ParallelPanel.new\/1: :members is required/},
            {fn -> ParallelPanel.new(members: [], chair: @chair) end,
             ~r/expected :members to be a non-empty list, got: \[\]/},
            {fn -> ParallelPanel.new(members: @members) end,
             ~r/ParallelPanel.new\/1: :chair is required/},
            {fn -> Voting.new(members: @members, chair: @chair, colour: 1) end,
             ~r/Voting.new\/1: unknown option :colour/},
            {fn -> JuryWithRetry.new(members: @members, chair: @chair) end,
             ~r/unknown option :members/},
            {fn ->
               JuryWithRetry.new(judges: @members, chair: @chair, confidence_threshold: 2)
             end, ~r/expected :confidence_threshold to be a number from 0 to 1, got: 2/},
            {fn -> Consensus.new(members: @members, chair: @chair, max_iterations: 0) end,
             ~r/expected :max_iterations to be a positive integer, got: 0/},
            {fn -> ParallelPanel.new(members: [{"a", []}], chair: @chair) end,
             ~r/expected each of :members as \{id, opts\}, \{id, Module\} or \{id, Module, opts\}, got: \{"a", \[\]\}/},
            {fn -> ParallelPanel.new(members: @members, chair: "boss") end,
             ~r/expected :chair as options/},
            {fn -> ParallelPanel.new(members: @members, chair: @chair, as: "Name") end,
             ~r/expected :as to be a module name/},
            {fn -> ParallelPanel.new(members: [a: [provider: :mock]], chair: @chair) end,
             ~r/member :a has no :model/},
            {fn -> Voting.new(members: @members, chair: @chair, aggregator: :loudest) end,
             ~r/round :vote: expected aggregator to be nil, one of/},
            {fn -> Tournament.new(members: @members, chair: @chair, judge: :coin) end,
             ~r/expected :judge to be fn answer_a, answer_b -> :a \| :b end or \{Module, opts\}/},
            {fn ->
               ParallelPanel.new(
                 members: [a: [provider: :mock, model: "m", tie: fn -> 1 end]],
                 chair: @chair
               )
             end, ~r/member :a: unknown option :tie/},
            {fn ->
               ParallelPanel.new(members: @members, chair: @chair, router: fn _, _ -> [] end)
             end, ~r/router: anonymous functions cannot be compiled into a council module/},
            {fn -> LLMCouncil.new(members: @members, chair: @chair, chair_fallback: [:zed]) end,
             ~r/chair :chair: fallback :zed is not a member/}
          ] do
        assert_raise ArgumentError, message, fun
      end
    end
  end

  describe "new_dynamic/1 builds the same shape as a DynamicCouncil" do
    test "every topology round-trips through JSON and lowers like its module twin" do
      for {topology, extra} <- [
            {ParallelPanel, []},
            {PeerReview, []},
            {Voting, []},
            {Voting, [aggregator: :borda, options: ["x", "y"], tie_break: :first]},
            {Specialist, []},
            {Consensus, [max_iterations: 2]},
            {Tournament, []},
            {WeightedConsensus, [expose_confidence: true]},
            {LLMCouncil, [order: :shuffle, include_self: true]}
          ] do
        spec = assert_round_trip(dynamic(topology, extra))
        module = topology.new([members: @members, chair: @chair] ++ extra)
        assert spec.rounds == rounds(module), inspect(topology)
      end
    end

    test "Voting stores the aggregator by name in JSON" do
      c = dynamic(Voting, aggregator: :weighted_mean, options: ["ship", "wait"])
      assert Enum.at(c.rounds, 1).opts == %{aggregator: :weighted_mean, options: ["ship", "wait"]}
      json = DynamicCouncil.to_json!(c)
      assert json =~ ~s("aggregator":"weighted_mean")
    end

    test "Consensus takes until_ref, a registered router exporting until/2" do
      c = dynamic(Consensus, until_ref: "judges")
      spec = assert_round_trip(c)
      assert [_, {Iterate, [wrap: :critique, max_iterations: 3, until: until]}, _] = spec.rounds
      assert until == (&Judges.until/2)
    end

    test "Tournament: a remote-capture judge round-trips when its module is a registered router" do
      c = dynamic(Tournament, judge: &Judges.shorter/2, max_iterations: 3)

      assert %{wrap: "pairwise_elimination", wrap_opts: %{judge: judge}, max_iterations: 3} =
               Enum.at(c.rounds, 1).opts

      assert judge == (&Judges.shorter/2)
      assert DynamicCouncil.to_json!(c) =~ ~s("judge":"&CouncilEx.CouncilsTest.Judges.shorter/2")
      spec = assert_round_trip(c)

      assert [
               _,
               {Iterate,
                [wrap: :pairwise_elimination, wrap_opts: [judge: resolved], max_iterations: 3]},
               _
             ] = spec.rounds

      assert resolved == (&Judges.shorter/2)

      # Unregistered, the capture read back stays a string, which validate/1 reports.
      :ok = Registry.unregister(:router, "judges")
      back = c |> DynamicCouncil.to_json!() |> DynamicCouncil.from_json!()

      assert Enum.at(back.rounds, 1).opts.wrap_opts.judge ==
               "&CouncilEx.CouncilsTest.Judges.shorter/2"

      assert {:error,
              [%{path: ["rounds", 1, "opts", "wrap_opts", "judge"], code: :unknown_judge}]} =
               DynamicCouncil.validate(back)
    end

    test "Tournament: a registered router name becomes judge_ref" do
      c = dynamic(Tournament, judge: "judges")
      assert Enum.at(c.rounds, 1).opts.wrap_opts == %{judge_ref: "judges"}
      spec = assert_round_trip(c)
      assert [_, {Iterate, opts}, _] = spec.rounds
      assert opts[:wrap_opts] == [judge: &Judges.judge/2]
    end

    test "Tournament: anonymous judges cannot be stored" do
      assert_raise ArgumentError,
                   ~r/:judge must be a remote capture such as &MyApp.Judges.shorter\/2/,
                   fn ->
                     dynamic(Tournament, judge: fn a, _b -> a end)
                   end
    end

    test "JuryWithRetry: judges get confidence :self_report unless they say otherwise" do
      judges = [
        %{id: "j1", system_prompt: "J.", profile_overrides: %{provider: :mock, model: "m"}},
        %{
          id: "j2",
          system_prompt: "J.",
          profile_overrides: %{provider: :mock, model: "m", confidence: :logprob}
        }
      ]

      c =
        JuryWithRetry.new_dynamic(
          id: "jury",
          judges: judges,
          chair: @dyn_chair,
          confidence_threshold: 0.8
        )

      assert [
               %DynamicMember{profile_overrides: %{confidence: :self_report}},
               %DynamicMember{profile_overrides: %{confidence: :logprob}}
             ] = c.members

      spec = assert_round_trip(c)

      assert [
               {Iterate, [wrap: :independent_analysis, max_iterations: 2, min_confidence: 0.8]},
               {Synthesis, []}
             ] = spec.rounds

      assert [{"j1", _, j1}, _] = spec.members
      assert j1[:confidence] == :self_report
    end

    test "LLMCouncil: chair_fallback lands in the chair's overrides" do
      c = dynamic(LLMCouncil, chair_fallback: ["b"])
      assert c.chair.profile_overrides.fallback == ["b"]
      spec = assert_round_trip(c)
      assert {"chair", _, chair} = spec.chair
      assert chair[:fallback] == ["b"]
    end

    test "bad arguments raise" do
      assert_raise ArgumentError,
                   ~r/ParallelPanel.new_dynamic\/1: expected :id, a non-empty string/,
                   fn ->
                     ParallelPanel.new_dynamic(members: @dyn_members, chair: @dyn_chair)
                   end

      assert_raise ArgumentError, ~r/new_dynamic\/1: :chair is required/, fn ->
        ParallelPanel.new_dynamic(id: "x", members: @dyn_members)
      end

      assert_raise ArgumentError, ~r/unknown option :as/, fn ->
        ParallelPanel.new_dynamic(id: "x", as: Foo, members: @dyn_members, chair: @dyn_chair)
      end

      assert_raise ArgumentError, ~r/invalid member: colour: unknown key/, fn ->
        ParallelPanel.new_dynamic(id: "x", members: [%{id: "a", colour: 1}], chair: @dyn_chair)
      end
    end
  end
end
