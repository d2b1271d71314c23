defmodule CouncilEx.AutoCouncilTest do
  # The registry catalog is global.
  use ExUnit.Case, async: false

  import CouncilEx.Test

  alias CouncilEx.{AutoCouncil, DynamicCouncil, Error, Registry, Result, TestCouncils}
  alias CouncilEx.Councils.ParallelPanel

  doctest CouncilEx.AutoCouncil

  defmodule ByTag do
    @moduledoc false
    @behaviour CouncilEx.AutoCouncil.Strategy

    @impl true
    def select(%{tag: tag}, catalog, opts) do
      case Enum.find(catalog, &(tag in &1.tags)) do
        nil -> :no_match
        entry -> {:ok, entry, %{reason: "tagged #{tag}", score: opts[:score]}}
      end
    end

    def select(_input, _catalog, _opts), do: :no_match
  end

  defmodule Broken do
    @moduledoc false
    def select(_input, _catalog, _opts), do: {:error, :backend_down}
  end

  defmodule Matchers do
    @moduledoc false
    def legal?(text), do: text =~ "contract"
  end

  defmodule Offline do
    @moduledoc false
    use CouncilEx
    member(:x, provider: :not_configured_anywhere, model: "m")
  end

  setup do
    Registry.reset()
    on_exit(&Registry.reset/0)

    panel =
      ParallelPanel.new(
        members: [
          optimist: [provider: :mock, model: "mock-a"],
          skeptic: [provider: :mock, model: "mock-b"]
        ],
        chair: [provider: :mock, model: "mock-chair"]
      )

    catalog = [
      %{id: "seo", council: panel, match: ~r/seo|sitemap/i, desc: "SEO audit"},
      %{id: "legal", council: TestCouncils.Mocked, match: &Matchers.legal?/1, tags: [:law]}
    ]

    %{panel: panel, catalog: catalog}
  end

  describe "new/1" do
    test "defaults and normalized entries", %{catalog: catalog, panel: panel} do
      auto = AutoCouncil.new(catalog: catalog, name: "routing")

      assert %AutoCouncil{
               strategy: :rules,
               on_no_match: :error,
               options: [],
               provider_check: false,
               name: "routing"
             } = auto

      assert [
               %{id: "seo", council: ^panel, desc: "SEO audit", tags: [], vector: nil},
               %{id: "legal", tags: [:law]}
             ] = auto.catalog

      assert AutoCouncil.new(catalog: [%{"council" => panel, "id" => "p"}]).catalog
             |> hd()
             |> Map.get(:id) == "p"
    end

    test "raises ArgumentError naming the problem", %{panel: panel} do
      for {opts, message} <- [
            {[colour: 1], ~r/unknown AutoCouncil option :colour/},
            {[strategy: :psychic],
             ~r/expected a strategy, one of \[:cascade, :embedding, :llm_build, :llm_classify, :rules\] or \{module, opts\}/},
            {[strategy: {String, []}],
             ~r/String is not a CouncilEx.AutoCouncil.Strategy \(no select\/3\)/},
            {[strategy: :cascade],
             ~r/a :cascade strategy needs options: \[strategies: \[...\]\]/},
            {[strategy: :cascade, options: [strategies: [:rules, :nope]]],
             ~r/expected a strategy/},
            {[catalog: [%{id: "x"}]],
             ~r/catalog entry 0: expected :council to be a council module or a %CouncilEx.DynamicCouncil\{\}, got: nil/},
            {[catalog: [%{council: String}]],
             ~r/catalog entry 0: expected :council to be a council module/},
            {[catalog: [%{council: panel, match: "seo"}]],
             ~r/expected :match to be a Regex or a 1-arity function/},
            {[catalog: [%{council: panel, colour: 1}]], ~r/unknown keys \[:colour\]/},
            {[catalog: [%{council: panel, vector: [1, :x]}]],
             ~r/expected :vector to be a list of numbers/},
            {[catalog: :all],
             ~r/expected :catalog to be a list of entries, \{:registry, :council\} or nil/},
            {[on_no_match: :ignore],
             ~r/expected :on_no_match to be :error, nil or \{:fallback, council_or_id\}/},
            {[on_no_match: {:fallback, 42}], ~r/expected the fallback to be a council module/},
            {[provider_check: :yes], ~r/expected :provider_check to be a boolean/},
            {[options: :fast], ~r/expected :options to be a keyword list/}
          ] do
        assert_raise ArgumentError, message, fn -> AutoCouncil.new(opts) end
      end
    end
  end

  describe "resolve/2 with :rules" do
    test "the first regex or function match wins, on the input's text", %{
      catalog: catalog,
      panel: panel
    } do
      auto = AutoCouncil.new(catalog: catalog)

      assert {:ok, ^panel, meta} = AutoCouncil.resolve(auto, "Check the SITEMAP please")

      assert %{strategy: :rules, kind: :catalog, catalog_id: "seo", score: nil, latency_ms: ms} =
               meta

      assert is_integer(ms) and ms >= 0
      assert meta.reason == "the input matched ~r/seo|sitemap/i"

      assert {:ok, TestCouncils.Mocked,
              %{catalog_id: "legal", reason: "the input matched the entry's match function"}} =
               AutoCouncil.resolve(auto, %{question: "Review this contract", team: "legal"})

      for input <- [
            %{"question" => "seo?"},
            %{prompt: "seo?"},
            %{"prompt" => "seo?"},
            %{text: "seo?"},
            %{"text" => "seo?"}
          ] do
        assert {:ok, ^panel, %{catalog_id: "seo"}} = AutoCouncil.resolve(auto, input)
      end

      # Both match: catalog order decides.
      assert {:ok, ^panel, _} = AutoCouncil.resolve(auto, "seo contract")
    end

    test "no text, no match: on_no_match decides", %{catalog: catalog, panel: panel} do
      for on_no_match <- [:error, nil] do
        auto = AutoCouncil.new(catalog: catalog, on_no_match: on_no_match, name: "r")

        assert {:error, %Error{kind: :validation, reason: :no_match, message: message}} =
                 AutoCouncil.resolve(auto, "weather?")

        assert message == ~s[no catalog entry matched the input (AutoCouncil "r")]
        assert {:error, %Error{reason: :no_match}} = AutoCouncil.resolve(auto, %{other: "seo"})
        assert {:error, %Error{reason: :no_match}} = AutoCouncil.resolve(auto, 42)
      end

      auto = AutoCouncil.new(catalog: catalog, on_no_match: {:fallback, TestCouncils.NoChair})

      assert {:ok, TestCouncils.NoChair, %{kind: :fallback, catalog_id: nil, strategy: :rules}} =
               AutoCouncil.resolve(auto, "weather?")

      by_id = AutoCouncil.new(catalog: catalog, on_no_match: {:fallback, "seo"})

      assert {:ok, ^panel, %{kind: :fallback, catalog_id: "seo"}} =
               AutoCouncil.resolve(by_id, "weather?")

      missing = AutoCouncil.new(catalog: catalog, on_no_match: {:fallback, "nope"})

      assert {:error, %Error{reason: :unknown_fallback}} =
               AutoCouncil.resolve(missing, "weather?")

      dynamic = DynamicCouncil.new("fallback-dyn")

      assert {:ok, ^dynamic, %{kind: :fallback}} =
               AutoCouncil.resolve(AutoCouncil.new(on_no_match: {:fallback, dynamic}), "x")
    end

    test "a match function that raises fails the resolution", %{panel: panel} do
      auto =
        AutoCouncil.new(
          catalog: [%{id: "bad", council: panel, match: fn _text -> raise "boom" end}]
        )

      assert {:error, %Error{reason: :strategy_failed, message: message}} =
               AutoCouncil.resolve(auto, "x")

      assert message =~ ~s({:match_failed, "bad", "boom"})
    end
  end

  describe "other strategies" do
    test "custom {module, opts} strategies", %{catalog: catalog} do
      auto = AutoCouncil.new(strategy: {ByTag, score: 0.9}, catalog: catalog)

      assert {:ok, TestCouncils.Mocked,
              %{
                strategy: {ByTag, [score: 0.9]},
                kind: :catalog,
                catalog_id: "legal",
                reason: "tagged law",
                score: 0.9
              }} = AutoCouncil.resolve(auto, %{tag: :law})

      assert {:error, %Error{reason: :no_match}} = AutoCouncil.resolve(auto, %{tag: :seo})

      assert {:error, %Error{reason: :strategy_failed, message: message}} =
               AutoCouncil.resolve(AutoCouncil.new(strategy: {Broken, []}, catalog: catalog), "x")

      assert message =~ "failed: :backend_down"
    end

    test "stubs say they are not implemented", %{catalog: catalog} do
      for strategy <- [:embedding, :llm_classify, :llm_build] do
        auto =
          AutoCouncil.new(strategy: strategy, catalog: catalog, on_no_match: {:fallback, "seo"})

        assert {:error, %Error{kind: :validation, reason: :not_implemented, message: message}} =
                 AutoCouncil.resolve(auto, "seo")

        assert message ==
                 "AutoCouncil strategy #{inspect(strategy)} is not implemented in this version"
      end
    end

    test ":cascade: the first strategy that picks wins; failures and stubs are passed over", %{
      catalog: catalog,
      panel: panel
    } do
      auto =
        AutoCouncil.new(
          strategy: :cascade,
          options: [strategies: [:embedding, {Broken, []}, {ByTag, []}, :rules]],
          catalog: catalog
        )

      assert {:ok, TestCouncils.Mocked,
              %{strategy: :cascade, reason: "CouncilEx.AutoCouncilTest.ByTag: tagged law"}} =
               AutoCouncil.resolve(auto, %{tag: :law, question: "seo"})

      assert {:ok, ^panel,
              %{
                strategy: :cascade,
                catalog_id: "seo",
                reason: ":rules: the input matched ~r/seo|sitemap/i"
              }} = AutoCouncil.resolve(auto, %{question: "seo"})

      assert {:error, %Error{reason: :no_match}} = AutoCouncil.resolve(auto, "weather")
    end
  end

  describe "catalogs" do
    test "{:registry, :council} reads registered entries, by name", %{panel: panel} do
      :ok = Registry.register_council("b_seo", %{council: panel, match: ~r/seo/})

      :ok =
        Registry.register_council("a_legal", %{
          council: TestCouncils.Mocked,
          match: ~r/contract/,
          desc: "Legal"
        })

      auto = AutoCouncil.new(catalog: {:registry, :council})

      assert {:ok, TestCouncils.Mocked, %{catalog_id: "a_legal"}} =
               AutoCouncil.resolve(auto, "seo contract")

      assert {:ok, ^panel, %{catalog_id: "b_seo"}} = AutoCouncil.resolve(auto, "seo")

      # Entries are read at each resolution.
      :ok = Registry.unregister(:council, "a_legal")
      assert {:ok, ^panel, _} = AutoCouncil.resolve(auto, "seo contract")

      :ok = Registry.register_council("c_bad", %{council: String})

      assert {:error, %Error{reason: :invalid_catalog, message: message}} =
               AutoCouncil.resolve(auto, "x")

      assert message =~ ~s(registered council "c_bad")
    end

    test "provider_check leaves out councils whose providers are not configured", %{panel: panel} do
      catalog = [
        %{id: "offline", council: Offline, match: ~r/./},
        %{id: "seo", council: panel, match: ~r/./}
      ]

      assert {:ok, Offline, _} = AutoCouncil.resolve(AutoCouncil.new(catalog: catalog), "x")

      assert {:ok, ^panel, %{catalog_id: "seo"}} =
               AutoCouncil.resolve(AutoCouncil.new(catalog: catalog, provider_check: true), "x")

      assert AutoCouncil.Providers.of(Offline) == MapSet.new([:not_configured_anywhere])
      assert AutoCouncil.Providers.missing(Offline) == [:not_configured_anywhere]
      assert AutoCouncil.Providers.missing(panel) == []
    end
  end

  describe "validate/1" do
    test "checks every council the AutoCouncil may run", %{catalog: catalog} do
      assert CouncilEx.validate(
               AutoCouncil.new(catalog: catalog, on_no_match: {:fallback, TestCouncils.Mocked})
             ) == :ok

      bad =
        AutoCouncil.new(
          catalog: catalog ++ [%{id: "off", council: Offline}],
          on_no_match: {:fallback, "nope"}
        )

      assert {:error, errors} = CouncilEx.validate(bad)

      assert [
               %{path: ["catalog", 2, "members", 0, "provider"], code: :unknown_provider},
               %{path: ["on_no_match"], code: :unknown_fallback}
             ] = errors

      assert {:error, [%{path: ["strategy"], code: :invalid_auto_council}]} =
               CouncilEx.validate(%AutoCouncil{strategy: :psychic})
    end
  end

  describe "running" do
    test "run/3 resolves the AutoCouncil, then runs the chosen council", %{
      catalog: catalog,
      panel: panel
    } do
      auto = AutoCouncil.new(catalog: catalog)
      script_council(panel, "Fine sitemap.")

      assert {:ok, %Result{status: :ok, council: ^panel} = result} =
               CouncilEx.run(auto, %{question: "Is our sitemap fine?"})

      assert result.final.content == "Fine sitemap."
      assert Enum.map(result.rounds, & &1.name) == [:independent_analysis, :synthesis]
    end

    test "the choice travels as the internal :auto run option", %{catalog: catalog, panel: panel} do
      {:ok, server_opts} =
        CouncilEx.server_opts(AutoCouncil.new(catalog: catalog), "seo", run_id: "auto-opts")

      assert server_opts[:council] == panel

      assert %{strategy: :rules, kind: :catalog, catalog_id: "seo"} =
               server_opts[:user_opts][:auto]

      assert server_opts[:user_opts][:run_id] == "auto-opts"
    end

    test "a failed choice starts nothing", %{catalog: catalog} do
      auto = AutoCouncil.new(catalog: catalog)

      assert {:error, %Error{kind: :validation, reason: :no_match}} =
               CouncilEx.run(auto, "weather", run_id: "auto-none")

      assert {:error, %Error{reason: :no_match}} = CouncilEx.start(auto, "weather")
      assert {:error, :unknown_run} = CouncilEx.lookup("auto-none")
    end
  end
end
