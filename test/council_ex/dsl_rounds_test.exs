defmodule CouncilEx.DslRoundsTest do
  # Dynamic councils read the global registry.
  use ExUnit.Case, async: false

  alias CouncilEx.{DynamicCouncil, DynamicRound, Registry, Rounds}

  doctest CouncilEx.Rounds

  defmodule Agg do
    @moduledoc false
    def aggregate(_outputs, _opts), do: {:ok, %{winner: nil, scores: %{}, raw: %{}}}
  end

  defmodule Rules do
    @moduledoc false
    def settled?(_prev, _curr), do: true
    def pick(a, _b), do: if(a == "", do: :b, else: :a)
    def tie(candidates), do: hd(candidates)
    def select(_input, _ctx), do: []
    def until(_prev, _curr), do: true
    def brief(input), do: input
  end

  defmodule Analyst do
    @moduledoc false
    use CouncilEx.Member
    role("analyst")
    system_prompt("You analyse.")
  end

  defmodule MyRound do
    @moduledoc false
    def name, do: :mine
    def build_input(_id, _ctx, _opts), do: "Go."
  end

  defmodule Inner do
    @moduledoc false
    use CouncilEx
    member(:x, provider: :mock, model: "inner")
    member(:y, provider: :inner_only, model: "inner")
  end

  setup do
    Registry.reset()
    on_exit(&Registry.reset/0)
  end

  # Compiles a council module with `body` after `use CouncilEx`.
  defp compile(body) do
    name = Module.concat(__MODULE__, "C#{System.unique_integer([:positive])}")

    Code.compile_quoted(
      quote do
        defmodule unquote(name) do
          use CouncilEx
          unquote(body)
        end
      end
    )

    name
  end

  defp seats do
    quote do
      member(:a, provider: :mock, model: "m")
      member(:b, provider: :mock, model: "m")
    end
  end

  describe "round options in the DSL" do
    test "valid options compile and reach the spec as given" do
      council =
        compile(
          quote do
            unquote(seats())

            round(:vote,
              options: ["ship", "wait"],
              aggregator: :weighted_mean,
              quorum: 2,
              tie_break: &CouncilEx.DslRoundsTest.Rules.tie/1
            )

            round(:iterate,
              wrap: :critique,
              wrap_opts: [quorum: 1, router: CouncilEx.DslRoundsTest.Rules],
              max_iterations: 4,
              until: &CouncilEx.DslRoundsTest.Rules.settled?/2,
              min_confidence: 0.5
            )

            round(:anonymized_peer_review,
              order: :per_judge,
              include_self: true,
              aggregator: CouncilEx.DslRoundsTest.Agg
            )

            round(:iterate,
              wrap: CouncilEx.Rounds.PairwiseElimination,
              wrap_opts: [judge: &CouncilEx.DslRoundsTest.Rules.pick/2]
            )

            round(CouncilEx.DslRoundsTest.MyRound, anything: :goes)
            round(:weighted_synthesis, expose_confidence: true)
            chair(provider: :mock, model: "c")
          end
        )

      assert [
               {Rounds.Vote, vote},
               {Rounds.Iterate, iterate},
               {Rounds.AnonymizedPeerReview,
                [order: :per_judge, include_self: true, aggregator: Agg]},
               {Rounds.Iterate, [wrap: Rounds.PairwiseElimination, wrap_opts: [judge: judge]]},
               {MyRound, [anything: :goes]},
               {Rounds.WeightedSynthesis, [expose_confidence: true]}
             ] = council.__council__().rounds

      assert vote[:tie_break] == (&Rules.tie/1)
      assert iterate[:until] == (&Rules.settled?/2)
      assert iterate[:wrap_opts] == [quorum: 1, router: Rules]
      assert judge == (&Rules.pick/2)
    end

    test "a chair round ending the rounds is not followed by :synthesis; others are" do
      # (round/1 in a quote here would be Kernel.round/1: the test module imports it.)
      ends_weighted =
        compile(
          quote(
            do:
              (
                unquote(seats())
                round(:independent_analysis, [])
                round(:weighted_synthesis, [])
                chair(provider: :mock, model: "c")
              )
          )
        )

      assert Enum.map(ends_weighted.__council__().rounds, &elem(&1, 0)) == [
               Rounds.IndependentAnalysis,
               Rounds.WeightedSynthesis
             ]

      # The chair writes from earlier rounds: it cannot go first (the
      # engine refused such a council at run start; now it does not compile).
      assert_raise CompileError,
                   ~r/round :weighted_synthesis is written from earlier rounds/,
                   fn ->
                     compile(
                       quote(
                         do:
                           (
                             unquote(seats())
                             round(:weighted_synthesis, [])
                             chair(provider: :mock, model: "c")
                           )
                       )
                     )
                   end

      plain =
        compile(
          quote(
            do:
              (
                unquote(seats())
                round(:critique, [])
                chair(provider: :mock, model: "c")
              )
          )
        )

      assert Enum.map(plain.__council__().rounds, &elem(&1, 0)) == [
               Rounds.Critique,
               Rounds.Synthesis
             ]
    end

    test "bad options are a compile error naming the round and the option" do
      for {round, message} <- [
            {quote(do: round(:vote, colour: :red)),
             ~r/: round :vote: unknown option :colour; known options: \[:quorum/},
            {quote(do: round(:independent_analysis, options: ["a"])),
             ~r/round :independent_analysis: unknown option :options/},
            {quote(do: round(:iterate, max_iterations: 2)),
             ~r/round :iterate: option :wrap is required/},
            {quote(do: round(:iterate, wrap: :debate)),
             ~r/round :iterate: expected wrap to be a built-in round/},
            {quote(do: round(:iterate, wrap: :iterate)),
             ~r/an iterate round cannot wrap another iterate round/},
            {quote(do: round(:iterate, wrap: String)),
             ~r/expected wrap to be a built-in round name or a round module/},
            {quote(do: round(:iterate, wrap: :critique, max_iterations: 0)),
             ~r/round :iterate: expected max_iterations to be a positive integer \(at most 100000\), got: 0/},
            {quote(do: round(:iterate, wrap: :critique, max_iterations: 100_001)),
             ~r/round :iterate: expected max_iterations to be a positive integer \(at most 100000\), got: 100001/},
            {quote(do: round(:vote, options: ["ship", "ship"])),
             ~r/round :vote: expected options to be a list of distinct strings/},
            {quote(do: round(:iterate, wrap: :critique, wrap_opts: [options: ["x"]])),
             ~r/round :iterate: unknown option :options; .* \(in :wrap_opts.:options\)/},
            {quote(do: round(:iterate, wrap: :vote, wrap_opts: [quorum: -1])),
             ~r/expected quorum to be a positive integer, got: -1 \(in :wrap_opts.:quorum\)/},
            {quote(do: round(:iterate, wrap: :critique, until: fn _a, _b -> true end)),
             ~r/until: anonymous functions cannot be compiled into a council module; use a remote capture such as &Mod.fun\/2/},
            {quote(
               do: round(:iterate, wrap: :critique, until: &CouncilEx.DslRoundsTest.Rules.brief/1)
             ), ~r/expected until to be a 2-arity function/},
            {quote(do: round(:iterate, wrap: :critique, until_ref: "x")),
             ~r/until_ref is for dynamic councils; in a module council use until: &Mod.fun\/2/},
            {quote(do: round(:iterate, wrap: :critique, min_confidence: 1.5)),
             ~r/expected min_confidence to be a number from 0 to 1, got: 1.5/},
            {quote(do: round(:vote, quorum: 0)),
             ~r/round :vote: expected quorum to be a positive integer, got: 0/},
            {quote(do: round(:anonymized_peer_review, order: :random)),
             ~r/expected order to be one of \[:per_judge, :shuffle, :stable\], got: :random/},
            {quote(do: round(:vote, aggregator: :loudest)),
             ~r/expected aggregator to be nil, one of \[:plurality/},
            {quote(do: round(:vote, aggregator: CouncilEx.DslRoundsTest.Rules)),
             ~r/a module exporting aggregate\/2/},
            {quote(do: round(:vote, options: [])),
             ~r/expected options to be a non-empty list of non-empty strings/},
            {quote(do: round(:vote, options: [:ship])),
             ~r/expected options to be a non-empty list of non-empty strings/},
            {quote(do: round(:vote, tie_break: :coin)),
             ~r/expected tie_break to be :first, :random or a 1-arity function/},
            {quote(do: round(:ranking, include_self: "yes")),
             ~r/expected include_self to be a boolean/},
            {quote(do: round(:pairwise_elimination, judge: :chair)),
             ~r/expected judge to be a 2-arity function or \{module, seat_opts\}/},
            {quote(do: round(:pairwise_elimination, judge: {nil, [provider: :mock]})),
             ~r/judge :judge has no :model/},
            {quote(do: round(:vote, router: fn _i, _c -> [] end)),
             ~r/router: anonymous functions cannot be compiled/},
            {quote(do: round(:vote, router: String)),
             ~r/expected router to be a module implementing CouncilEx.Router \(select\/2\)/},
            {quote(do: round(:weighted_synthesis, [])),
             ~r/round :weighted_synthesis is written by the chair; add a chair/},
            {quote(do: round(:vote, [:quorum])), ~r/expected round options as a keyword list/}
          ] do
        assert_raise CompileError, message, fn ->
          compile(
            quote(
              do:
                (
                  unquote(seats())
                  unquote(round)
                )
            )
          )
        end
      end
    end

    test "check_opts/3 reports every problem with its path" do
      assert {:error,
              [
                {[:wrap_opts, :colour], :unknown_option, unknown},
                {[:max_iterations], :invalid_option, invalid}
              ]} =
               Rounds.check_opts(:iterate,
                 wrap: :critique,
                 wrap_opts: [colour: 1],
                 max_iterations: 0
               )

      assert unknown ==
               "unknown option :colour; known options: [:quorum, :router, :aggregator, :tie_break, :order, :include_self]"

      assert invalid ==
               "expected max_iterations to be a positive integer (at most 100000), got: 0"

      assert Rounds.check_opts(:iterate, max_iterations: 2) ==
               {:error, [{[:wrap], :missing_option, "option :wrap is required"}]}

      assert Rounds.check_opts(
               Rounds.Iterate,
               [wrap: "critique", wrap_opts: %{quorum: 2}, until_ref: "r", max_iterations: 1],
               :data
             ) == :ok

      assert {:error, [{[:judge], :unknown_option, _}]} =
               Rounds.check_opts(:iterate, wrap: :vote, judge: nil)

      assert {:error, [{[:wrap], :invalid_option, _}]} =
               Rounds.check_opts(:iterate, wrap: "critique")

      assert Rounds.check_opts(MyRound, whatever: 1, quorum: 2) == :ok

      assert {:error, [{[:quorum], :invalid_option, _}]} =
               Rounds.check_opts(MyRound, quorum: :many)

      assert Rounds.option_keys(MyRound) == :any
      assert :wrap in Rounds.all_option_keys()
    end
  end

  describe "seat options in the DSL" do
    test "weight, confidence and the chair's fallback" do
      council =
        compile(
          quote do
            member(:a, provider: :mock, model: "m", weight: 2, confidence: :self_report)
            member(:b, provider: :mock, model: "m", confidence: :logprob)
            chair(provider: :mock, model: "c", fallback: [:b, :a])
          end
        )

      spec = council.__council__()
      assert [{:a, nil, a}, {:b, nil, _}] = spec.members
      assert a[:weight] == 2 and a[:confidence] == :self_report
      assert elem(spec.chair, 2)[:fallback] == [:b, :a]

      all =
        compile(
          quote(
            do:
              (
                unquote(seats())
                chair(provider: :mock, model: "c", fallback: :members)
              )
          )
        )

      assert elem(all.__council__().chair, 2)[:fallback] == :members
    end

    test "bad seat options raise" do
      for {body, message} <- [
            {quote(do: member(:a, provider: :mock, model: "m", weight: -1)),
             ~r/member :a: expected weight to be a number >= 0, got: -1/},
            {quote(do: member(:a, provider: :mock, model: "m", temperature: "hot")),
             ~r/member :a: expected temperature to be a number from 0 to 2, got: "hot"/},
            {quote(do: member(:a, provider: :mock, model: "m", retyr: {3, 100})),
             ~r/member :a: unknown option :retyr; known options: \[:provider/},
            {quote(do: member(:a, provider: :mock, model: "m", confidence: :vibes)),
             ~r/member :a: expected confidence to be one of \[:self_report, :logprob\], got: :vibes/},
            {quote(do: member(:a, provider: :mock, model: "m", fallback: [:b])),
             ~r/member :a: fallback is a chair option/},
            {quote(
               do:
                 (
                   member(:a, provider: :mock, model: "m")
                   chair(provider: :mock, model: "c", fallback: [:z])
                 )
             ), ~r/chair :chair: fallback :z is not a member/},
            {quote(
               do:
                 (
                   member(:a, provider: :mock, model: "m")
                   chair(provider: :mock, model: "c", fallback: "a")
                 )
             ), ~r/expected fallback to be a list of member ids or :members/},
            {quote(
               do:
                 member(:a,
                   provider: :mock,
                   model: "m",
                   input_mapper: &CouncilEx.DslRoundsTest.Rules.brief/1
                 )
             ), ~r/member :a: input_mapper is for sub-council members/}
          ] do
        assert_raise CompileError, message, fn -> compile(body) end
      end
    end
  end

  describe "sub-council members in the DSL" do
    test "a council module or a dynamic council, no provider needed; __providers__/0 recurses" do
      dynamic =
        DynamicCouncil.new("dyn")
        |> DynamicCouncil.add_member(
          id: "d",
          system_prompt: "D.",
          profile_overrides: %{provider: :dyn_only, model: "m"}
        )

      council =
        compile(
          quote do
            member(:a, provider: :mock, model: "m")

            member(:legal,
              council: CouncilEx.DslRoundsTest.Inner,
              input_mapper: &CouncilEx.DslRoundsTest.Rules.brief/1,
              weight: 2
            )

            member(:nested, council: unquote(Macro.escape(dynamic)))
            chair(provider: :chair_only, model: "c")
          end
        )

      assert [{:a, nil, _}, {:legal, nil, legal}, {:nested, nil, nested}] =
               council.__council__().members

      assert legal == [council: Inner, input_mapper: &Rules.brief/1, weight: 2]
      assert nested == [council: dynamic]
      assert council.__providers__() == MapSet.new([:mock, :inner_only, :dyn_only, :chair_only])
      assert Inner.__providers__() == MapSet.new([:mock, :inner_only])
    end

    test "bad sub-councils raise" do
      for {body, message} <- [
            {quote(do: member(:s, council: String)),
             ~r/member :s: council String is not a council \(no __council__\/0/},
            {quote(do: member(:s, council: "legal")),
             ~r/expected council to be a council module or a %CouncilEx.DynamicCouncil\{\}/},
            {quote(do: member(:s, council: __MODULE__)), ~r/a council cannot seat itself/},
            {quote(
               do: member(:s, council: CouncilEx.DslRoundsTest.Inner, input_mapper: fn x -> x end)
             ),
             ~r/member :s: input_mapper: anonymous functions cannot be compiled into a council module/},
            {quote(do: member(:s, council: CouncilEx.DslRoundsTest.Inner, input_mapper: :upcase)),
             ~r/expected input_mapper to be a 1-arity function/},
            {quote(
               do:
                 member(:s,
                   council: CouncilEx.DslRoundsTest.Inner,
                   provider: :mock,
                   temperature: 0.1
                 )
             ),
             ~r/member :s: a sub-council member takes only :council, :input_mapper, :weight and :confidence .*got: :provider/},
            {quote(
               do:
                 member(:s, CouncilEx.DslRoundsTest.Analyst,
                   council: CouncilEx.DslRoundsTest.Inner
                 )
             ), ~r/member :s: a sub-council member takes no Member module/},
            {quote(
               do:
                 (
                   member(:a, provider: :mock, model: "m")
                   chair(council: CouncilEx.DslRoundsTest.Inner)
                 )
             ), ~r/chair :chair: the chair cannot be a sub-council/},
            {quote(
               do:
                 (
                   member(:a, provider: :mock, model: "m")
                   member(:s, council: CouncilEx.DslRoundsTest.Inner)
                   chair(provider: :mock, model: "c", fallback: [:s])
                 )
             ), ~r/fallback :s is a sub-council/}
          ] do
        assert_raise CompileError, message, fn -> compile(body) end
      end
    end
  end

  describe "dynamic rounds" do
    test "JSON option values become atoms only from fixed lists" do
      round =
        DynamicRound.new(%{
          "type" => "iterate",
          "opts" => %{
            "wrap" => "anonymized_peer_review",
            "wrap_opts" => %{
              "order" => "shuffle",
              "include_self" => true,
              "aggregator" => "borda",
              "tie_break" => "first"
            },
            "max_iterations" => 2,
            "min_confidence" => 0.6,
            "note" => "kept"
          }
        })

      assert round.opts == %{
               :wrap => "anonymized_peer_review",
               :wrap_opts => %{
                 order: :shuffle,
                 include_self: true,
                 aggregator: :borda,
                 tie_break: :first
               },
               :max_iterations => 2,
               :min_confidence => 0.6,
               "note" => "kept"
             }

      assert DynamicRound.resolve(round) ==
               {Rounds.Iterate,
                [
                  wrap: :anonymized_peer_review,
                  wrap_opts: [
                    aggregator: :borda,
                    tie_break: :first,
                    order: :shuffle,
                    include_self: true
                  ],
                  max_iterations: 2,
                  min_confidence: 0.6,
                  extra: %{"note" => "kept"}
                ]}

      assert DynamicRound.new(type: :iterate, opts: [wrap: Rounds.Critique]).opts == %{
               wrap: "critique"
             }

      assert DynamicRound.new(type: :iterate, opts: [wrap: MyRound]).opts == %{wrap: MyRound}

      # Unknown names stay strings (left to validate/1), unknown enum values
      # are errors: no atom is created for either.
      read = fn tag ->
        {:ok, odd} =
          DynamicRound.cast(%{
            "type" => "vote",
            "opts" => %{"aggregator" => "agg_#{tag}", "wrap" => "w_#{tag}"}
          })

        {:error, errors} =
          DynamicRound.cast(%{
            "type" => "vote",
            "opts" => %{"order" => "o_#{tag}", "tie_break" => "t_#{tag}"}
          })

        {odd, errors}
      end

      read.("warmup")
      tag = "t#{System.unique_integer([:positive])}zz"
      before = :erlang.system_info(:atom_count)
      {odd, errors} = read.(tag)
      assert :erlang.system_info(:atom_count) == before
      assert odd.opts == %{aggregator: "agg_#{tag}", wrap: "w_#{tag}"}

      assert Enum.map(errors, & &1.path) |> Enum.sort() == [
               ["opts", "order"],
               ["opts", "tie_break"]
             ]
    end

    test "types are checked when a round is read" do
      assert {:error, errors} =
               DynamicRound.cast(%{
                 "type" => "vote",
                 "opts" => %{
                   "quorum" => 0,
                   "include_self" => "yes",
                   "options" => "a,b",
                   "until" => 1,
                   "min_confidence" => 3
                 }
               })

      assert Enum.map(errors, &{&1.path, &1.code}) |> Enum.sort() == [
               {["opts", "include_self"], :invalid_type},
               {["opts", "min_confidence"], :invalid_type},
               {["opts", "options"], :invalid_type},
               {["opts", "quorum"], :invalid_type},
               {["opts", "until"], :invalid_type}
             ]

      assert_raise ArgumentError,
                   ~r/until cannot be stored in a dynamic council; use until_ref/,
                   fn ->
                     DynamicRound.new(
                       type: "iterate",
                       opts: %{wrap: "critique", until: &Rules.until/2}
                     )
                   end

      assert_raise ArgumentError,
                   ~r/expected judge to be a remote capture such as &Mod.fun\/2/,
                   fn ->
                     DynamicRound.new(
                       type: "pairwise_elimination",
                       opts: %{judge: fn a, _ -> a end}
                     )
                   end
    end

    defp council(rounds, chair? \\ true) do
      c =
        DynamicCouncil.new("d")
        |> DynamicCouncil.add_member(
          id: "a",
          system_prompt: "A.",
          profile_overrides: %{provider: :mock, model: "m"}
        )
        |> DynamicCouncil.add_member(
          id: "b",
          system_prompt: "B.",
          profile_overrides: %{provider: :mock, model: "m"}
        )

      c = Enum.reduce(rounds, c, &DynamicCouncil.add_round(&2, &1))

      if chair?,
        do:
          DynamicCouncil.set_chair(c,
            id: "chair",
            system_prompt: "C.",
            profile_overrides: %{provider: :mock, model: "c"}
          ),
        else: c
    end

    defp codes(council) do
      {:error, errors} = DynamicCouncil.validate(council)
      Enum.map(errors, &{&1.path, &1.code})
    end

    test "validate/1 applies the per-round option table" do
      :ok = Registry.register_router("rules", Rules)
      :ok = Registry.register_router("no_select", Agg)

      c =
        council([
          %{type: "vote", opts: %{"wrap" => "critique", "aggregator" => "loudest"}},
          %{type: "iterate", opts: %{max_iterations: 2}},
          %{
            type: "iterate",
            opts: %{
              wrap: "debate",
              until_ref: "nope",
              wrap_opts: %{options: ["x"], router: "no_select"}
            }
          },
          %{
            type: "pairwise_elimination",
            opts: %{judge: "&String.duplicate/2", judge_ref: "no_select"}
          },
          %{type: "ranking", opts: %{router: "rules", order: "stable"}}
        ])

      assert codes(c) == [
               {["rounds", 0, "opts", "wrap"], :unknown_option},
               {["rounds", 0, "opts", "aggregator"], :invalid_type},
               {["rounds", 1, "opts", "wrap"], :missing_option},
               {["rounds", 2, "opts", "until_ref"], :unknown_router},
               {["rounds", 2, "opts", "wrap"], :unknown_round},
               {["rounds", 2, "opts", "wrap_opts", "router"], :invalid_type},
               {["rounds", 3, "opts", "judge"], :unknown_judge},
               {["rounds", 3, "opts", "judge_ref"], :invalid_type}
             ]

      spec =
        DynamicCouncil.to_spec(
          council([
            %{type: "ranking", opts: %{"router" => "rules", "order" => "stable", "quorum" => 2}}
          ])
        )

      assert hd(spec.rounds) == {Rounds.Ranking, [quorum: 2, order: :stable, router: Rules]}
    end

    test "a judge capture read from JSON resolves once its module is a registered router" do
      json =
        council([
          %{type: "pairwise_elimination", opts: %{judge: "&CouncilEx.DslRoundsTest.Rules.pick/2"}}
        ])
        |> DynamicCouncil.to_json!()

      unresolved = DynamicCouncil.from_json!(json)

      assert {:error, [%{code: :unknown_judge, message: message}]} =
               DynamicCouncil.validate(unresolved)

      assert message =~ "functions named in JSON must belong to a module registered as a :router"

      :ok = Registry.register_router("rules", Rules)
      back = DynamicCouncil.from_json!(json)
      assert hd(back.rounds).opts.judge == (&Rules.pick/2)

      assert [{Rounds.PairwiseElimination, [judge: judge]}, _] =
               DynamicCouncil.to_spec(back).rounds

      assert judge == (&Rules.pick/2)
    end

    test "chair rounds: weighted_synthesis needs a chair, and ends the rounds" do
      assert codes(council([:independent_analysis, :weighted_synthesis], false)) == [
               {["rounds", 1, "type"], :missing_chair}
             ]

      spec =
        DynamicCouncil.to_spec(
          council([
            :independent_analysis,
            %{type: "weighted_synthesis", opts: %{"expose_confidence" => true}}
          ])
        )

      assert spec.rounds == [
               {Rounds.IndependentAnalysis, []},
               {Rounds.WeightedSynthesis, [expose_confidence: true]}
             ]
    end

    test "weight, confidence and fallback are member overrides, also from JSON" do
      c =
        council([])
        |> DynamicCouncil.put_member(%{
          "id" => "a",
          "system_prompt" => "A.",
          "profile_overrides" => %{
            "provider" => "mock",
            "model" => "m",
            "weight" => 1.5,
            "confidence" => "logprob"
          }
        })
        |> DynamicCouncil.set_chair(%{
          "id" => "chair",
          "system_prompt" => "C.",
          "profile_overrides" => %{"provider" => "mock", "model" => "c", "fallback" => "members"}
        })

      assert hd(c.members).profile_overrides.confidence == :logprob
      assert c.chair.profile_overrides.fallback == :members
      assert c |> DynamicCouncil.to_json!() |> DynamicCouncil.from_json!() == c
      spec = DynamicCouncil.to_spec(c)
      assert [{"a", _, a}, _] = spec.members
      assert a[:weight] == 1.5 and a[:confidence] == :logprob
      assert elem(spec.chair, 2)[:fallback] == :members

      bad =
        c
        |> DynamicCouncil.put_member(
          id: "b",
          system_prompt: "B.",
          profile_overrides: %{provider: :mock, model: "m", fallback: ["a"]}
        )
        |> DynamicCouncil.set_chair(
          id: "chair",
          system_prompt: "C.",
          profile_overrides: %{provider: :mock, model: "c", fallback: ["a", "zed"]}
        )

      assert codes(bad) == [
               {["members", 1, "profile_overrides", "fallback"], :invalid_type},
               {["chair", "profile_overrides", "fallback", 1], :unknown_member}
             ]

      assert_raise ArgumentError,
                   ~r/expected confidence to be one of \[:self_report, :logprob\]/,
                   fn ->
                     DynamicCouncil.add_member(c, %{
                       "id" => "x",
                       "profile_overrides" => %{"confidence" => "vibes"}
                     })
                   end
    end

    test "sub-council members lower to council: and input_mapper: seats" do
      :ok = Registry.register_input_mapper("brief", &Rules.brief/1)

      :ok =
        Registry.register_sub_council("inner_map", %{
          "id" => "inner",
          "members" => [
            %{
              "id" => "i",
              "system_prompt" => "I.",
              "profile_overrides" => %{"provider" => "mock", "model" => "m"}
            }
          ]
        })

      c =
        council([])
        |> DynamicCouncil.add_member(
          id: "legal",
          sub_council: Inner,
          input_mapper: "brief",
          profile_overrides: %{weight: 3}
        )
        |> DynamicCouncil.add_member(id: "named", sub_council: "inner_map")

      assert DynamicCouncil.validate(c) == :ok
      spec = DynamicCouncil.to_spec(c)
      assert [_, _, {"legal", _, legal}, {"named", _, named}] = spec.members
      assert legal == [council: Inner, input_mapper: &Rules.brief/1, weight: 3]
      assert [council: %DynamicCouncil{id: "inner"}] = named
      assert DynamicCouncil.providers(c) == MapSet.new([:mock, :inner_only])

      with_extras =
        DynamicCouncil.put_member(c,
          id: "legal",
          sub_council: Inner,
          profile_overrides: %{temperature: 0.2}
        )

      assert codes(with_extras) == [
               {["members", 2, "profile_overrides", "temperature"], :invalid_type}
             ]
    end
  end
end
