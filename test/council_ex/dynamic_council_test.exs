defmodule CouncilEx.DynamicCouncilTest do
  # FakeCase sets the global provider config; the registry is global too.
  use CouncilEx.FakeCase, async: false

  alias CouncilEx.{
    DynamicCouncil,
    DynamicMember,
    DynamicRound,
    MemberResult,
    Registry,
    Result,
    RoundResult,
    Spec
  }

  alias CouncilEx.JSON

  doctest CouncilEx.DynamicCouncil
  doctest CouncilEx.DynamicMember
  doctest CouncilEx.DynamicRound

  defmodule Tool do
    @moduledoc false
    @behaviour CouncilEx.Tool
    def name, do: "tool"
    def description, do: "A tool."
    def parameters_schema, do: %{"type" => "object"}
    def execute(_), do: {:ok, "done"}
  end

  defmodule OtherTool do
    @moduledoc false
    @behaviour CouncilEx.Tool
    def name, do: "other_tool"
    def description, do: "Another tool."
    def parameters_schema, do: %{"type" => "object"}
    def execute(_), do: {:ok, "done"}
  end

  defmodule Router do
    @moduledoc false
    def select(_input, _ctx), do: []
    def until(_round, _ctx), do: true
    def judge(_a, _b), do: :a
    def shorter(a, b), do: if(String.length(a) <= String.length(b), do: :a, else: :b)
  end

  defmodule Agg do
    @moduledoc false
    def aggregate(_outputs, _opts), do: {:ok, %{}}
  end

  defmodule CustomRound do
    @moduledoc false
    def name, do: :custom
    def build_input(_member, _ctx, _opts), do: "custom"
  end

  defmodule Mappers do
    @moduledoc false
    def brief(input), do: input
  end

  defmodule FakeProfile do
    @moduledoc false
    use CouncilEx.Profile
    provider(:fake)
    model("profile-model")
    temperature(0.3)
    tools(["search"])
  end

  setup do
    Registry.reset()
    :ok = Registry.register_profile("fake_mini", FakeProfile)

    :ok =
      Registry.register_profile("fake_big", provider: :fake, model: "big-model", max_tokens: 900)

    :ok = Registry.register_tool("search", Tool)
    :ok = Registry.register_schema("verdict", %{"type" => "object"})
    :ok = Registry.register_router("stop_early", Router)
    :ok = Registry.register_input_mapper("brief", &Mappers.brief/1)
    on_exit(&Registry.reset/0)
  end

  defp seo_council do
    DynamicCouncil.new("seo-council-1", name: "SEO audit")
    |> DynamicCouncil.set_default_profile("fake_mini")
    |> DynamicCouncil.add_member(%{id: "seo", system_prompt: "Audit SEO."})
    |> DynamicCouncil.add_member(%{
      "id" => "content",
      "system_prompt" => "Audit content.",
      "profile" => "fake_big"
    })
    |> DynamicCouncil.add_round(:independent_analysis)
    |> DynamicCouncil.set_chair(%{id: "synth", system_prompt: "Synthesize."})
  end

  # A council touching every field, for round trips.
  defp full_council do
    inner =
      DynamicCouncil.new("inner", metadata: %{"depth" => 1})
      |> DynamicCouncil.add_member(id: "i1", system_prompt: "Inner.", profile: "fake_mini")

    DynamicCouncil.new("full",
      name: "Everything",
      router: "stop_early",
      tools: ["search", OtherTool]
    )
    |> DynamicCouncil.set_default_profile("fake_mini")
    |> DynamicCouncil.set_metadata(%{
      "owner" => "ops",
      "layout" => %{"zoom" => 1.5, "nodes" => [%{"x" => 1, "y" => [2, 3]}, nil, true]},
      "tags" => ["a", "b"]
    })
    |> DynamicCouncil.add_member(
      id: "alpha",
      role: "skeptic",
      system_prompt: "Doubt everything.",
      profile: "fake_big",
      profile_overrides: %{
        provider: :fake,
        model: "alpha-model",
        temperature: 0.9,
        max_tokens: 100,
        stream: false,
        retry: {3, 500},
        tools: [Tool, "search"],
        parallel_tools: true,
        parallel_tools_strategy: :fail_fast,
        tool_concurrency_factor: 2,
        tool_timeout_ms: 1_000,
        tool_choice: :auto,
        timeout_ms: 30_000,
        connect_timeout_ms: 2_000,
        weight: 2.5,
        confidence: :self_report
      },
      tools: ["search", Tool],
      output_schema: "verdict",
      metadata: %{"position" => %{"x" => 10, "y" => 20}}
    )
    |> DynamicCouncil.add_member(%{
      "id" => "beta",
      "system_prompt" => "Be precise.",
      "profile_overrides" => %{"tool_choice" => "search"},
      "output_schema_inline" => %{
        "type" => "object",
        "properties" => %{"ok" => %{"type" => "boolean"}}
      }
    })
    |> DynamicCouncil.add_member(id: "nested", sub_council: inner, input_mapper: &Mappers.brief/1)
    |> DynamicCouncil.add_member(id: "by_module", sub_council: CouncilEx.TestCouncils.NoChair)
    |> DynamicCouncil.add_round(:independent_analysis)
    |> DynamicCouncil.add_round(%{
      type: CustomRound,
      opts: %{"note" => %{"deep" => [1, 2]}, aggregator: Agg}
    })
    |> DynamicCouncil.add_round(%{
      "type" => "iterate",
      "opts" => %{"max_iterations" => 3, "until_ref" => "stop_early"}
    })
    |> DynamicCouncil.add_round(%{
      "type" => "vote",
      "opts" => %{
        "options" => ["ship", "wait"],
        "aggregator" => "weighted_mean",
        "tie_break" => "random",
        "quorum" => 2,
        "router" => "stop_early"
      }
    })
    |> DynamicCouncil.add_round(%{
      type: :iterate,
      opts: %{
        wrap: :anonymized_peer_review,
        wrap_opts: %{order: :per_judge, include_self: true, aggregator: :peer_ranking},
        min_confidence: 0.7
      }
    })
    |> DynamicCouncil.add_round(%{
      type: "pairwise_elimination",
      opts: %{judge_ref: "stop_early", judge: &Router.shorter/2}
    })
    |> DynamicCouncil.add_round(%{type: "weighted_synthesis", opts: %{expose_confidence: true}})
    |> DynamicCouncil.set_chair(
      role: "chair",
      system_prompt: "Decide.",
      id: "chair",
      profile_overrides: [max_tokens: 2000, fallback: ["alpha", "beta"]]
    )
  end

  defp roundtrip(council) do
    {:ok, json} = DynamicCouncil.to_json(council)
    {:ok, back} = DynamicCouncil.from_json(json)
    back
  end

  defp codes(council) do
    {:error, errors} = DynamicCouncil.validate(council)
    Enum.map(errors, &{&1.path, &1.code})
  end

  describe "the builder" do
    test "builds the council the pipeline describes" do
      c = seo_council()

      assert %DynamicCouncil{id: "seo-council-1", name: "SEO audit", default_profile: "fake_mini"} =
               c

      assert Enum.map(c.members, & &1.id) == ["seo", "content"]
      assert hd(tl(c.members)).profile == "fake_big"
      assert c.rounds == [%DynamicRound{type: "independent_analysis", opts: %{}}]
      assert %DynamicMember{id: "synth", system_prompt: "Synthesize."} = c.chair
      assert DynamicCouncil.validate(c) == :ok
    end

    test "put_member/2 replaces in place or appends; remove_member/2 removes" do
      c =
        seo_council()
        |> DynamicCouncil.put_member(id: "seo", system_prompt: "Audit SEO harder.")
        |> DynamicCouncil.put_member(id: "links", system_prompt: "Check links.")

      assert Enum.map(c.members, &{&1.id, &1.system_prompt}) == [
               {"seo", "Audit SEO harder."},
               {"content", "Audit content."},
               {"links", "Check links."}
             ]

      c = DynamicCouncil.remove_member(c, "content")
      assert Enum.map(c.members, & &1.id) == ["seo", "links"]
      assert DynamicCouncil.remove_member(c, "nobody") == c
    end

    test "add_member/2 refuses a taken id, the chair's included" do
      assert_raise ArgumentError,
                   ~s(member "synth" is already in council "seo-council-1"; use put_member/2 to replace it),
                   fn ->
                     DynamicCouncil.add_member(seo_council(), id: "synth", system_prompt: "x")
                   end

      assert_raise ArgumentError,
                   ~s(the chair's id "seo" is already a member of council "seo-council-1"),
                   fn ->
                     DynamicCouncil.set_chair(seo_council(), id: "seo", system_prompt: "x")
                   end
    end

    test "rounds from structs, atoms, strings, modules, maps and keyword lists" do
      c =
        DynamicCouncil.new("r")
        |> DynamicCouncil.add_round(%DynamicRound{type: "synthesis"})
        |> DynamicCouncil.add_round(:independent_analysis)
        |> DynamicCouncil.add_round("synthesis")
        |> DynamicCouncil.add_round(CouncilEx.Rounds.IndependentAnalysis)
        |> DynamicCouncil.add_round(CustomRound)
        |> DynamicCouncil.add_round(type: "custom", opts: [max_iterations: 2])

      assert Enum.map(c.rounds, & &1.type) == [
               "synthesis",
               "independent_analysis",
               "synthesis",
               "independent_analysis",
               CustomRound,
               "custom"
             ]

      assert List.last(c.rounds).opts == %{max_iterations: 2}
    end

    test "set_chair(nil), tools, metadata and names" do
      c =
        seo_council()
        |> DynamicCouncil.set_chair(nil)
        |> DynamicCouncil.add_council_tool("search")
        |> DynamicCouncil.add_council_tool(Tool)
        |> DynamicCouncil.add_council_tool("search")
        |> DynamicCouncil.set_metadata(%{"k" => "v"})
        |> DynamicCouncil.set_router("stop_early")
        |> DynamicCouncil.set_default_profile(nil)

      assert c.chair == nil
      assert c.tools == ["search", Tool]
      assert c.metadata == %{"k" => "v"}
      assert c.router == "stop_early"
      assert c.default_profile == nil
      assert DynamicCouncil.set_council_tools(c, [OtherTool]).tools == [OtherTool]
    end

    test "malformed arguments raise ArgumentError naming the option and the value" do
      c = DynamicCouncil.new("c")

      for {fun, message} <- [
            {fn -> DynamicCouncil.new(:c) end, "expected id to be a non-empty string, got: :c"},
            {fn -> DynamicCouncil.new("c", colour: 1) end,
             "unknown option :colour; known options: [:name, :default_profile, :router, :tools, :metadata]"},
            {fn -> DynamicCouncil.new("c", name: 1) end, "expected :name to be a string, got: 1"},
            {fn -> DynamicCouncil.set_default_profile(c, :mini) end,
             "expected default_profile to be a registered name (a non-empty string) or nil, got: :mini"},
            {fn -> DynamicCouncil.set_router(c, "") end,
             ~s|expected router to be a registered name (a non-empty string) or nil, got: ""|},
            {fn -> DynamicCouncil.set_metadata(c, a: 1) end,
             "expected metadata to be a map, got: [a: 1]"},
            {fn -> DynamicCouncil.add_council_tool(c, 1) end,
             "expected a tool module or a non-empty tool name, got: 1"},
            {fn -> DynamicCouncil.set_council_tools(c, "search") end,
             ~s(expected tools to be a list, got: "search")},
            {fn -> DynamicCouncil.add_member(c, id: 1) end,
             "invalid member: id: expected id to be a non-empty string, got: 1"},
            {fn ->
               DynamicCouncil.add_member(c, %{
                 "id" => "a",
                 "profile_overrides" => %{"temperature" => "hot"}
               })
             end,
             ~s(invalid member: profile_overrides.temperature: expected temperature to be a number from 0 to 2, got: "hot")},
            {fn -> DynamicCouncil.add_member(c, "a") end,
             ~s(invalid member: expected a member map or keyword list, got: "a")},
            {fn -> DynamicCouncil.add_round(c, 42) end,
             "invalid round: expected a round type, map or keyword list, got: 42"},
            {fn -> DynamicCouncil.add_round(c, type: "iterate", opts: %{max_iterations: 0}) end,
             "invalid round: opts.max_iterations: expected max_iterations to be a positive integer (at most 100000), got: 0"}
          ] do
        assert_raise ArgumentError, message, fun
      end
    end
  end

  describe "DynamicMember.new/1" do
    test "takes atom keys, string keys or a keyword list alike" do
      a =
        DynamicMember.new(%{id: "a", system_prompt: "P", profile_overrides: %{temperature: 0.5}})

      b =
        DynamicMember.new(%{
          "id" => "a",
          "system_prompt" => "P",
          "profile_overrides" => %{"temperature" => 0.5}
        })

      c = DynamicMember.new(id: "a", system_prompt: "P", profile_overrides: [temperature: 0.5])
      assert a == b and b == c
    end

    test "turns JSON forms of overrides into their Elixir forms" do
      m =
        DynamicMember.new(%{
          "id" => "a",
          "profile_overrides" => %{
            "provider" => "fake",
            "retry" => [2, 100],
            "parallel_tools_strategy" => "collect",
            "tool_choice" => "none",
            "tools" => ["search", "Elixir.CouncilEx.DynamicCouncilTest.Tool"]
          },
          "tools" => [
            "Elixir.CouncilEx.DynamicCouncilTest.OtherTool",
            "Elixir.No.Such.Module.Anywhere"
          ],
          "input_mapper" => "&CouncilEx.DynamicCouncilTest.Mappers.brief/1"
        })

      assert m.profile_overrides == %{
               provider: :fake,
               retry: {2, 100},
               parallel_tools_strategy: :collect,
               tool_choice: :none,
               tools: ["search", Tool]
             }

      assert m.tools == [OtherTool, "Elixir.No.Such.Module.Anywhere"]
      assert m.input_mapper == (&Mappers.brief/1)
    end

    test "rejects unknown keys and keys given twice, reporting every problem" do
      assert {:error, errors} =
               DynamicMember.cast(%{
                 :id => "a",
                 "id" => "b",
                 "colour" => 1,
                 "profile_overrides" => %{"seed" => 1}
               })

      assert Enum.map(errors, &{&1.path, &1.code}) == [
               {["colour"], :unknown_key},
               {["id"], :duplicate_key},
               {["profile_overrides", "seed"], :unknown_key}
             ]
    end

    test "a capture read from JSON is only a function when it is registered" do
      :ok = Registry.unregister(:input_mapper, "brief")

      c =
        DynamicCouncil.new("c")
        |> DynamicCouncil.add_member(id: "n", sub_council: "x", input_mapper: &Mappers.brief/1)

      back = roundtrip(c)
      assert hd(back.members).input_mapper == "&CouncilEx.DynamicCouncilTest.Mappers.brief/1"

      assert {:error,
              [
                %{path: ["members", 0, "sub_council"], code: :unknown_sub_council},
                mapper_error
              ]} = DynamicCouncil.validate(back)

      assert mapper_error.path == ["members", 0, "input_mapper"]
      assert mapper_error.code == :unknown_input_mapper

      assert mapper_error.message =~
               "functions named in JSON must be registered as an :input_mapper"

      # Existing functions are not reachable from JSON either.
      assert DynamicMember.new(%{"id" => "a", "input_mapper" => "&:os.cmd/1"}).input_mapper ==
               "&:os.cmd/1"

      :ok = Registry.register_input_mapper("brief", &Mappers.brief/1)
      assert roundtrip(c) == c
    end

    test "anonymous input mappers are refused: they cannot be serialized" do
      assert_raise ArgumentError,
                   ~r/input_mapper: expected input_mapper to be a registered name or a remote capture such as &Mod.fun\/1; anonymous functions cannot be serialized/,
                   fn ->
                     DynamicMember.new(id: "a", input_mapper: fn x -> x end)
                   end
    end
  end

  describe "DynamicRound" do
    test "resolve/1 maps built-in names, registered names and modules" do
      :ok = Registry.register_round("custom", CustomRound)

      assert DynamicRound.resolve(DynamicRound.new("independent_analysis")) ==
               {CouncilEx.Rounds.IndependentAnalysis, []}

      assert DynamicRound.resolve(DynamicRound.new("custom")) == {CustomRound, []}
      assert DynamicRound.resolve(DynamicRound.new(CustomRound)) == {CustomRound, []}

      round =
        DynamicRound.new(%{
          type: "custom",
          opts: %{
            "until_ref" => "stop_early",
            "max_iterations" => 2,
            "x" => 1,
            aggregator: "plurality"
          }
        })

      assert DynamicRound.resolve(round) ==
               {CustomRound,
                [
                  max_iterations: 2,
                  until: &Router.until/2,
                  aggregator: :plurality,
                  extra: %{"x" => 1}
                ]}
    end

    test "resolve/1 raises for an unknown type" do
      assert_raise ArgumentError,
                   ~r/^unknown round type "debate"; built-in rounds: \[:anonymized_peer_review, :critique, :independent_analysis, /,
                   fn ->
                     DynamicRound.resolve(DynamicRound.new("debate"))
                   end
    end

    test "unknown option keys stay strings, also when given as atoms" do
      assert DynamicRound.new(type: "synthesis", opts: [weight: 2]).opts == %{"weight" => 2}
    end
  end

  describe "validate/1" do
    test "a council without members" do
      assert codes(DynamicCouncil.new("empty")) == [{["members"], :no_members}]
    end

    test "duplicate ids between members and with the chair" do
      c = seo_council()
      c = %{c | members: c.members ++ [hd(c.members)], chair: %{c.chair | id: "content"}}
      assert codes(c) == [{["members", 2, "id"], :duplicate_id}, {["chair", "id"], :duplicate_id}]
    end

    test "a missing system prompt, for members and the chair" do
      c =
        seo_council()
        |> DynamicCouncil.put_member(id: "seo", system_prompt: "")
        |> DynamicCouncil.set_chair(id: "synth")

      assert codes(c) == [
               {["members", 0, "system_prompt"], :missing_system_prompt},
               {["chair", "system_prompt"], :missing_system_prompt}
             ]

      {:error, [error | _]} = DynamicCouncil.validate(c)
      assert error.message == ~s(member "seo" has no system prompt)
    end

    test "unknown round types and routers" do
      c =
        seo_council()
        |> DynamicCouncil.add_round("debate")
        |> DynamicCouncil.add_round(
          type: "iterate",
          opts: %{wrap: "critique", until_ref: "no_router"}
        )
        |> DynamicCouncil.set_router("nope")

      assert codes(c) == [
               {["router"], :unknown_router},
               {["rounds", 1, "type"], :unknown_round},
               {["rounds", 2, "opts", "until_ref"], :unknown_router}
             ]
    end

    test "unknown profile names, and members left without provider or model" do
      c =
        DynamicCouncil.new("p")
        |> DynamicCouncil.set_default_profile("nope")
        |> DynamicCouncil.add_member(id: "a", system_prompt: "A.", profile: "also_nope")
        |> DynamicCouncil.add_member(id: "b", system_prompt: "B.")

      assert codes(c) == [
               {["default_profile"], :unknown_profile},
               {["members", 0, "profile"], :unknown_profile}
             ]

      {:error, [error | _]} = DynamicCouncil.validate(c)

      assert error.message =~
               ~s(no profile registered as "nope"; registered: ["fake_big", "fake_mini"])

      bare =
        DynamicCouncil.new("bare")
        |> DynamicCouncil.add_member(id: "a", system_prompt: "A.")
        |> DynamicCouncil.add_member(
          id: "b",
          system_prompt: "B.",
          profile_overrides: %{provider: :fake}
        )

      assert codes(bare) == [
               {["members", 0], :missing_provider},
               {["members", 0], :missing_model},
               {["members", 1], :missing_model}
             ]
    end

    test "a provider that is not configured" do
      c =
        DynamicCouncil.new("p")
        |> DynamicCouncil.add_member(
          id: "a",
          system_prompt: "A.",
          profile_overrides: %{"provider" => "no_such_provider_anywhere", model: "m"}
        )

      assert codes(c) == [{["members", 0], :unknown_provider}]
    end

    test "output_schema and output_schema_inline together, unknown schemas and tools" do
      c =
        seo_council()
        |> DynamicCouncil.put_member(
          id: "seo",
          system_prompt: "S.",
          output_schema: "verdict",
          output_schema_inline: %{"type" => "string"}
        )
        |> DynamicCouncil.put_member(
          id: "content",
          system_prompt: "C.",
          output_schema: "missing",
          tools: ["search", "nope"]
        )
        |> DynamicCouncil.add_council_tool("gone")

      assert codes(c) == [
               {["tools", 0], :unknown_tool},
               {["members", 0, "output_schema_inline"], :conflicting_output_schema},
               {["members", 1, "tools", 1], :unknown_tool},
               {["members", 1, "output_schema"], :unknown_schema}
             ]
    end

    test "bad types in a struct edited by hand" do
      c = seo_council()
      [seo, content] = c.members

      c = %{
        c
        | name: 5,
          tools: "search",
          metadata: [],
          members: [
            %{seo | id: 7, tools: [nil]},
            %{content | profile_overrides: %{temperature: "x"}},
            %{"id" => "raw"}
          ],
          rounds: [%DynamicRound{type: 3}, :vote]
      }

      assert codes(c) == [
               {["name"], :invalid_type},
               {["tools"], :invalid_type},
               {["metadata"], :invalid_type},
               {["members", 2], :invalid_type},
               {["members", 0, "id"], :invalid_type},
               {["members", 0, "tools", 0], :invalid_type},
               {["members", 1, "profile_overrides", "temperature"], :invalid_type},
               {["members", 2], :invalid_type},
               {["rounds", 0, "type"], :invalid_type},
               {["rounds", 1], :invalid_type}
             ]
    end

    test "sub-council members are checked, registered ones included" do
      :ok = Registry.register_sub_council("registered_inner", %{"id" => "x"})
      inner = DynamicCouncil.new("inner")

      c =
        seo_council()
        |> DynamicCouncil.add_member(id: "nested", sub_council: inner)
        |> DynamicCouncil.add_member(
          id: "named",
          sub_council: "registered_inner",
          input_mapper: "no_mapper"
        )

      assert codes(c) == [
               {["members", 2, "sub_council", "members"], :no_members},
               {["members", 3, "sub_council", "members"], :no_members},
               {["members", 3, "input_mapper"], :unknown_input_mapper}
             ]
    end

    test "the errors are JSON-friendly" do
      {:error, errors} =
        DynamicCouncil.validate(DynamicCouncil.new("x") |> DynamicCouncil.add_round("debate"))

      assert {:ok, json} = CouncilEx.JSON.encode(errors)
      assert json =~ ~s("code":"unknown_round")
    end

    test "validate!/1 raises listing every problem" do
      assert_raise ArgumentError,
                   ~s(invalid dynamic council "empty": members: a council needs at least one member; rounds.0.type: unknown round type "debate"; built-in rounds: [:anonymized_peer_review, :critique, :independent_analysis, :iterate, :pairwise_elimination, :peer_review, :ranking, :synthesis, :vote, :weighted_synthesis]),
                   fn ->
                     DynamicCouncil.new("empty")
                     |> DynamicCouncil.add_round("debate")
                     |> DynamicCouncil.validate!()
                   end

      assert DynamicCouncil.validate!(seo_council()) == :ok
    end
  end

  describe "to_spec/1" do
    test "lowers members, rounds and chair with profiles resolved, as the DSL does" do
      c = seo_council() |> DynamicCouncil.add_council_tool(OtherTool)
      [seo, content] = c.members

      assert %Spec{
               council: "dynamic:seo-council-1",
               members: [{"seo", ^seo, seo_opts}, {"content", ^content, content_opts}],
               rounds: [
                 {CouncilEx.Rounds.IndependentAnalysis, []},
                 {CouncilEx.Rounds.Synthesis, []}
               ],
               chair: {"synth", chair, chair_opts},
               router: nil,
               opts: [name: "SEO audit", default_profile: "fake_mini"]
             } = DynamicCouncil.to_spec(c)

      assert chair == c.chair

      assert seo_opts == [
               tools: [Tool, OtherTool],
               system_prompt: "Audit SEO.",
               provider: :fake,
               model: "profile-model",
               temperature: 0.3
             ]

      # The member's profile over the default, the default's options showing through.
      assert content_opts[:model] == "big-model"
      assert content_opts[:max_tokens] == 900
      assert content_opts[:temperature] == 0.3
      assert content_opts[:profile] == "fake_big"
      assert content_opts[:system_prompt] == "Audit content."
      assert chair_opts[:tools] == [Tool, OtherTool], "council tools reach the chair"
      assert chair_opts[:system_prompt] == "Synthesize."
    end

    test "overrides, member tools, output schemas and the router" do
      c =
        DynamicCouncil.new("o", router: "stop_early")
        |> DynamicCouncil.add_member(
          id: "a",
          system_prompt: "A.",
          profile: "fake_mini",
          profile_overrides: %{"temperature" => 1.1, "tools" => [], "timeout_ms" => 5_000},
          tools: ["search"],
          output_schema: "verdict"
        )
        |> DynamicCouncil.add_member(
          id: "b",
          system_prompt: "B.",
          profile: "fake_big",
          output_schema_inline: %{"type" => "string"}
        )

      %Spec{members: [{"a", _, a}, {"b", _, b}], rounds: rounds, chair: nil, router: Router} =
        DynamicCouncil.to_spec(c)

      assert rounds == [{CouncilEx.Rounds.IndependentAnalysis, []}],
             "no rounds means :independent_analysis"

      assert a[:temperature] == 1.1
      assert a[:timeout_ms] == 5_000
      assert a[:tools] == [Tool]
      assert a[:output_schema] == %{"type" => "object"}
      assert b[:output_schema] == %{"type" => "string"}
    end

    test "raises when the council is not valid" do
      assert_raise ArgumentError,
                   ~r/^invalid dynamic council "empty": members: a council needs at least one member/,
                   fn ->
                     DynamicCouncil.to_spec(DynamicCouncil.new("empty"))
                   end
    end
  end

  describe "running" do
    # The RunServer started on the spec directly (CouncilEx.run/3 is tested
    # with dynamic councils in api_test.exs). The engine does not run tools
    # yet, so "fake_mini" is re-registered without them.
    setup do
      :ok =
        Registry.register_profile("fake_mini",
          provider: :fake,
          model: "profile-model",
          temperature: 0.3
        )
    end

    test "a council built with the builder runs end to end", %{fake: fake} do
      c =
        seo_council()
        |> DynamicCouncil.put_member(
          id: "seo",
          system_prompt: "Audit SEO.",
          profile_overrides: %{"temperature" => 0.9}
        )

      spec = DynamicCouncil.to_spec(c)
      run_id = "dyn-#{System.unique_integer([:positive])}"
      CouncilEx.subscribe(run_id)

      {:ok, pid} =
        CouncilEx.RunServer.start_link(
          run_id: run_id,
          council: spec.council,
          spec: spec,
          input: %{question: "Is the site fine?"}
        )

      assert {:ok, %Result{status: :ok, council: "dynamic:seo-council-1"} = result} =
               CouncilEx.await(pid)

      assert [%RoundResult{name: :independent_analysis} = r0, %RoundResult{name: :synthesis} = r1] =
               result.rounds

      assert Enum.map(r0.member_results, &elem(&1, 0)) == ["seo", "content"]
      assert [{"synth", %MemberResult{status: :ok}}] = r1.member_results
      assert result.final.content =~ "profile-model answers:"

      assert [{:run_started, ^run_id, "dynamic:seo-council-1", _} | _] = collect_events(run_id)

      # The members' calls race each other; the chair's comes last.
      [member_a, member_b, chair_req] = FakeProvider.requests(fake)
      system = fn req -> hd(req.body["messages"])["content"] end

      {[seo_req], [content_req]} =
        Enum.split_with([member_a, member_b], &(system.(&1) == "Audit SEO."))

      assert seo_req.body["model"] == "profile-model"
      assert seo_req.body["temperature"] == 0.9
      assert hd(seo_req.body["messages"]) == %{"role" => "system", "content" => "Audit SEO."}
      assert content_req.body["model"] == "big-model"
      assert content_req.body["max_completion_tokens"] == 900
      assert hd(chair_req.body["messages"])["content"] == "Synthesize."
      assert List.last(chair_req.body["messages"])["content"] =~ "### Member seo (profile-model)"
    end

    test "a council read back from JSON runs the same way", %{fake: fake} do
      json = DynamicCouncil.to_json!(seo_council())
      spec = json |> DynamicCouncil.from_json!() |> DynamicCouncil.to_spec()

      {:ok, pid} =
        CouncilEx.RunServer.start_link(
          run_id: "dyn-json-#{System.unique_integer([:positive])}",
          council: spec.council,
          spec: spec,
          input: "hi"
        )

      assert {:ok, %Result{status: :ok}} = CouncilEx.await(pid)
      assert length(FakeProvider.requests(fake)) == 3
    end
  end

  describe "JSON round trips" do
    test "give back an equal struct" do
      councils = [
        DynamicCouncil.new("minimal"),
        seo_council(),
        full_council(),
        DynamicCouncil.new("unicode", name: "Conseil ✓ 🙂", metadata: %{"note" => "ünï\n\"q\""})
        |> DynamicCouncil.add_member(id: "ç", system_prompt: "Réponds.")
      ]

      for c <- councils do
        assert roundtrip(c) == c
        assert DynamicCouncil.from_map(DynamicCouncil.to_map(c)) == {:ok, c}
      end
    end

    test "the JSON document has the documented shape" do
      {:ok, map} = full_council() |> DynamicCouncil.to_json!() |> CouncilEx.JSON.decode()
      assert map["schema_version"] == 1
      assert map["tools"] == ["search", "Elixir.CouncilEx.DynamicCouncilTest.OtherTool"]

      assert Enum.at(map["rounds"], 1) == %{
               "type" => "Elixir.CouncilEx.DynamicCouncilTest.CustomRound",
               "opts" => %{
                 "note" => %{"deep" => [1, 2]},
                 "aggregator" => "Elixir.CouncilEx.DynamicCouncilTest.Agg"
               }
             }

      [alpha, beta, nested, by_module] = map["members"]
      assert alpha["profile_overrides"]["retry"] == [3, 500]
      assert alpha["profile_overrides"]["parallel_tools_strategy"] == "fail_fast"
      assert beta["profile_overrides"] == %{"tool_choice" => "search"}
      assert nested["input_mapper"] == "&CouncilEx.DynamicCouncilTest.Mappers.brief/1"
      assert nested["sub_council"]["id"] == "inner"
      assert by_module["sub_council"] == "Elixir.CouncilEx.TestCouncils.NoChair"

      assert map["chair"]["profile_overrides"] == %{
               "max_tokens" => 2000,
               "fallback" => ["alpha", "beta"]
             }

      assert alpha["profile_overrides"]["weight"] == 2.5
      assert alpha["profile_overrides"]["confidence"] == "self_report"

      assert Enum.drop(map["rounds"], 3) == [
               %{
                 "type" => "vote",
                 "opts" => %{
                   "options" => ["ship", "wait"],
                   "aggregator" => "weighted_mean",
                   "tie_break" => "random",
                   "quorum" => 2,
                   "router" => "stop_early"
                 }
               },
               %{
                 "type" => "iterate",
                 "opts" => %{
                   "wrap" => "anonymized_peer_review",
                   "wrap_opts" => %{
                     "order" => "per_judge",
                     "include_self" => true,
                     "aggregator" => "peer_ranking"
                   },
                   "min_confidence" => 0.7
                 }
               },
               %{
                 "type" => "pairwise_elimination",
                 "opts" => %{
                   "judge_ref" => "stop_early",
                   "judge" => "&CouncilEx.DynamicCouncilTest.Router.shorter/2"
                 }
               },
               %{"type" => "weighted_synthesis", "opts" => %{"expose_confidence" => true}}
             ]
    end

    test "to_json/1 reports what has no JSON form" do
      c = DynamicCouncil.set_metadata(DynamicCouncil.new("x"), %{"pid" => self()})
      assert {:error, {:unsupported_term, pid}} = DynamicCouncil.to_json(c)
      assert pid == self()
      assert_raise CouncilEx.JSON.EncodeError, fn -> DynamicCouncil.to_json!(c) end
    end

    test "schema_version is checked" do
      assert {:ok, _} = DynamicCouncil.from_map(%{"id" => "c"})
      assert {:ok, _} = DynamicCouncil.from_map(%{"id" => "c", "schema_version" => 1})

      assert {:error, [%{code: :unsupported_schema_version}]} =
               DynamicCouncil.from_map(%{"id" => "c", "schema_version" => 2})

      assert {:error, [%{code: :invalid_type, path: ["schema_version"]}]} =
               DynamicCouncil.from_map(%{"id" => "c", "schema_version" => "1"})

      assert {:error, [%{code: :invalid_type}]} =
               DynamicCouncil.from_map(%{"id" => "c", "schema_version" => 0})

      assert_raise ArgumentError,
                   ~r/schema_version 3 is newer than this version of CouncilEx reads \(1\)/,
                   fn ->
                     DynamicCouncil.from_json!(~s({"id": "c", "schema_version": 3}))
                   end
    end
  end

  describe "hostile JSON" do
    # A module on the code path that nothing has loaded, exporting `funs`.
    defp unloaded_module(name, funs) do
      module = Module.concat(__MODULE__, name)

      dir =
        Path.join(System.tmp_dir!(), "council_ex_unloaded_#{System.unique_integer([:positive])}")

      File.mkdir_p!(dir)

      forms =
        [{:attribute, 1, :module, module}, {:attribute, 1, :export, funs}] ++
          for {fun, arity} <- funs do
            args = for i <- 1..arity//1, do: {:var, 1, :"_A#{i}"}
            {:function, 1, fun, arity, [{:clause, 1, args, [], [{:atom, 1, :ok}]}]}
          end

      {:ok, ^module, beam} = :compile.forms(forms)
      File.write!(Path.join(dir, "#{module}.beam"), beam)
      :code.add_patha(String.to_charlist(dir))
      on_exit(fn -> :code.del_path(String.to_charlist(dir)) end)
      refute :code.is_loaded(module)
      module
    end

    test "a module name stands for a module only when it is of the kind expected; others are not loaded" do
      not_a_tool = unloaded_module(NotATool, hello: 0)
      a_tool = unloaded_module(ATool, name: 0, description: 0, parameters_schema: 0, execute: 1)

      doc = fn tools, router, round ->
        JSON.encode!(%{
          "id" => "mods",
          "tools" => tools,
          "router" => router,
          "members" => [%{"id" => "a", "system_prompt" => "A.", "profile" => "fake_mini"}],
          "rounds" => [%{"type" => round}]
        })
      end

      names = ["Elixir.System", Atom.to_string(not_a_tool)]
      c = DynamicCouncil.from_json!(doc.(names, "Elixir.System", "Elixir.String"))
      assert c.tools == names
      assert c.router == "Elixir.System"
      assert [%DynamicRound{type: "Elixir.String"}] = c.rounds
      refute :code.is_loaded(not_a_tool)

      assert {:error, errors} = DynamicCouncil.validate(c)
      codes = Enum.map(errors, &{&1.path, &1.code})
      assert {["tools", 0], :unknown_tool} in codes
      assert {["tools", 1], :unknown_tool} in codes
      assert {["router"], :unknown_router} in codes
      assert {["rounds", 0, "type"], :unknown_round} in codes

      c = DynamicCouncil.from_json!(doc.([Atom.to_string(a_tool)], nil, "independent_analysis"))
      assert c.tools == [a_tool]
      assert {:file, _} = :code.is_loaded(a_tool)
    end

    test "wrong types are reported with their paths" do
      json = ~s({
        "id": 5, "name": [], "default_profile": 1, "router": {}, "tools": [1, ""], "metadata": [],
        "members": [
          {"id": "a", "role": 1, "system_prompt": false, "profile": [], "tools": "x",
           "profile_overrides": {"temperature": "hot", "max_tokens": -1, "retry": [1], "stream": "yes",
                                 "tool_choice": 3, "parallel_tools_strategy": "random"},
           "output_schema": 1, "output_schema_inline": "x", "sub_council": 1, "input_mapper": 1, "metadata": "m"},
          "member", null
        ],
        "rounds": [{"type": 1, "opts": "x"}, {"type": "x", "opts": {"max_iterations": "3", "until_ref": 1}}, 7],
        "chair": "x"
      })

      assert {:error, errors} = DynamicCouncil.from_json(json)
      paths = Enum.map(errors, & &1.path)

      for path <- [
            ["id"],
            ["name"],
            ["default_profile"],
            ["router"],
            ["tools", 0],
            ["tools", 1],
            ["metadata"],
            ["members", 0, "role"],
            ["members", 0, "system_prompt"],
            ["members", 0, "profile"],
            ["members", 0, "tools"],
            ["members", 0, "profile_overrides", "temperature"],
            ["members", 0, "profile_overrides", "max_tokens"],
            ["members", 0, "profile_overrides", "retry"],
            ["members", 0, "profile_overrides", "stream"],
            ["members", 0, "profile_overrides", "tool_choice"],
            ["members", 0, "profile_overrides", "parallel_tools_strategy"],
            ["members", 0, "output_schema"],
            ["members", 0, "output_schema_inline"],
            ["members", 0, "sub_council"],
            ["members", 0, "input_mapper"],
            ["members", 0, "metadata"],
            ["members", 1],
            ["members", 2],
            ["rounds", 0, "type"],
            ["rounds", 0, "opts"],
            ["rounds", 1, "opts", "max_iterations"],
            ["rounds", 1, "opts", "until_ref"],
            ["rounds", 2],
            ["chair"]
          ] do
        assert path in paths, "no error at #{inspect(path)} in #{inspect(paths)}"
      end

      assert Enum.all?(errors, &(&1.code == :invalid_type))
      assert {:ok, _} = CouncilEx.JSON.encode(errors)
    end

    test "unknown keys at every level" do
      json =
        ~s({"id": "c", "evil": 1, "members": [{"id": "a", "__struct__": "Elixir.Kernel"}],
                 "rounds": [{"type": "synthesis", "module": "x"}], "chair": {"id": "z", "exec": "rm"}})

      assert {:error, errors} = DynamicCouncil.from_json(json)

      assert Enum.map(errors, &{&1.path, &1.code}) == [
               {["evil"], :unknown_key},
               {["members", 0, "__struct__"], :unknown_key},
               {["rounds", 0, "module"], :unknown_key},
               {["chair", "exec"], :unknown_key}
             ]
    end

    test "a huge id is refused without echoing it" do
      huge = String.duplicate("x", 1_000_000)
      json = CouncilEx.JSON.encode!(%{"id" => huge, "members" => [%{"id" => huge, huge => 1}]})

      assert {:error, errors} = DynamicCouncil.from_json(json)

      assert [
               {["id"], :too_long},
               {["members", 0, _], :unknown_key},
               {["members", 0, "id"], :too_long}
             ] = Enum.map(errors, &{&1.path, &1.code})

      assert hd(errors).message == "expected id to be at most 255 bytes, got 1000000 bytes"

      assert Enum.all?(
               errors,
               &(byte_size(&1.message) < 1_000 and byte_size(inspect(&1.path)) < 1_000)
             )

      assert DynamicCouncil.from_map(%{"id" => String.duplicate("é", 127)}) |> elem(0) == :ok
    end

    test "deep nesting" do
      # JSON deeper than the decoder's limit never reaches from_map.
      deep = String.duplicate(~s({"metadata":), 5_000) <> "1" <> String.duplicate("}", 5_000)
      assert {:error, [%{code: :invalid_json, message: message}]} = DynamicCouncil.from_json(deep)
      assert message =~ "nest deeper"

      assert {:error, [%{code: :invalid_json}]} =
               DynamicCouncil.from_json(String.duplicate("[", 100_000))

      # Sub-councils nest at most 8 deep.
      nest = fn depth ->
        Enum.reduce(1..depth, %{"id" => "leaf"}, fn i, inner ->
          %{"id" => "c#{i}", "members" => [%{"id" => "m", "sub_council" => inner}]}
        end)
      end

      assert {:ok, _} = DynamicCouncil.from_map(nest.(8))
      assert {:error, [error]} = DynamicCouncil.from_map(nest.(9))
      assert error.code == :too_deep
      assert length(error.path) == 9 * 3
    end

    test "reading unknown names never creates atoms" do
      # Names that are no atom anywhere: in valid places they stay strings.
      valid = fn tag ->
        %{
          "id" => "c",
          "default_profile" => "profile_#{tag}",
          "router" => "router_#{tag}",
          "tools" => ["tool_#{tag}", "Elixir.Tool#{tag}"],
          "members" => [
            %{
              "id" => "a",
              "profile_overrides" => %{
                "provider" => "provider_#{tag}",
                "tool_choice" => "choice_#{tag}",
                "tools" => ["Elixir.Mod#{tag}"]
              },
              "sub_council" => "Elixir.Council#{tag}",
              "input_mapper" => "&Mapper#{tag}.fun_#{tag}/1"
            },
            %{
              "id" => "b",
              "input_mapper" => "&:erl_#{tag}.fun/1",
              "output_schema" => "schema_#{tag}"
            }
          ],
          "rounds" => [
            %{
              "type" => "round_#{tag}",
              "opts" => %{"opt_#{tag}" => 1, "aggregator" => "Elixir.Agg#{tag}"}
            },
            %{"type" => "Elixir.Round#{tag}"}
          ]
        }
      end

      # ... and unknown keys and enum values are errors.
      hostile = fn tag ->
        valid.(tag)
        |> Map.put("unknown_top_#{tag}", 1)
        |> put_in(["members", Access.at(0), "unknown_member_#{tag}"], 1)
        |> put_in(["members", Access.at(0), "profile_overrides", "unknown_opt_#{tag}"], 1)
        |> put_in(["members", Access.at(1), "profile_overrides"], %{
          "parallel_tools_strategy" => "s_#{tag}"
        })
      end

      exercise = fn tag ->
        {:error, errors} = DynamicCouncil.from_json(CouncilEx.JSON.encode!(hostile.(tag)))
        {:ok, council} = DynamicCouncil.from_json(CouncilEx.JSON.encode!(valid.(tag)))
        {:error, _} = DynamicCouncil.validate(council)
        {:ok, _} = DynamicCouncil.to_json(council)
        _ = DynamicCouncil.to_graph(council)
        {errors, council}
      end

      # Warm up, so the modules on the path are loaded before counting.
      exercise.("warmup")

      tag = "t#{System.unique_integer([:positive])}zz"
      before = :erlang.system_info(:atom_count)
      {errors, council} = exercise.(tag)
      assert :erlang.system_info(:atom_count) == before

      assert Enum.map(errors, & &1.code) == [
               :unknown_key,
               :unknown_key,
               :unknown_key,
               :invalid_type
             ]

      [a, b] = council.members
      assert a.profile_overrides.provider == "provider_#{tag}"
      assert a.profile_overrides.tools == ["Elixir.Mod#{tag}"]
      assert a.sub_council == "Elixir.Council#{tag}"
      assert a.input_mapper == "&Mapper#{tag}.fun_#{tag}/1"
      assert b.input_mapper == "&:erl_#{tag}.fun/1"
      assert Enum.map(council.rounds, & &1.type) == ["round_#{tag}", "Elixir.Round#{tag}"]
    end
  end

  describe "to_graph/1" do
    test "input feeds the members, members the chair, the chair the output" do
      {nodes, edges} = DynamicCouncil.to_graph(seo_council())

      assert Enum.map(nodes, &{&1.id, &1.type}) == [
               {"input", "input"},
               {"member:seo", "member"},
               {"member:content", "member"},
               {"chair:synth", "chair"},
               {"output", "output"}
             ]

      assert Enum.map(edges, &{&1.source, &1.target}) == [
               {"input", "member:seo"},
               {"input", "member:content"},
               {"member:seo", "chair:synth"},
               {"member:content", "chair:synth"},
               {"chair:synth", "output"}
             ]

      assert hd(nodes).data.rounds == ["independent_analysis"]
      assert {:ok, _} = CouncilEx.JSON.encode(%{nodes: nodes, edges: edges})
    end
  end
end
