defmodule CouncilEx.RouterTest do
  # Dynamic routers are registered in the global registry.
  use ExUnit.Case, async: false

  alias CouncilEx.{Context, DynamicCouncil, Error, Registry, Router, Rounds}

  doctest CouncilEx.Router

  defmodule OnlyA do
    @moduledoc false
    @behaviour CouncilEx.Router
    @impl true
    def select(_input, _ctx), do: [:a]
  end

  defmodule Routes do
    @moduledoc false
    def by_length(input, _ctx) when byte_size(input) > 10, do: [:a, :b]
    def by_length(_input, _ctx), do: [:b]
    def strings(_input, _ctx), do: ["a"]
    def boom(_input, _ctx), do: raise("no route")
    def until(_prev, _curr), do: true
  end

  defmodule Routed do
    @moduledoc false
    use CouncilEx
    router(CouncilEx.RouterTest.OnlyA)
    member(:a, provider: :mock, model: "m")
    member(:b, provider: :mock, model: "m")
    round(:independent_analysis, router: &CouncilEx.RouterTest.Routes.by_length/2)
    chair(provider: :mock, model: "c")
  end

  setup do
    Registry.reset()
    on_exit(&Registry.reset/0)
  end

  defp ctx(extra \\ []),
    do: struct(Context, [input: "q", metadata: %{member_ids: [:a, :b]}] ++ extra)

  describe "select/4" do
    test "modules, remote captures and functions, answers checked against the members" do
      assert Router.select(OnlyA, "q", ctx()) == {:ok, [:a]}
      assert Router.select(&Routes.by_length/2, "a long question", ctx()) == {:ok, [:a, :b]}

      assert Router.select(
               fn _input, %Context{round_name: name} -> if name == :vote, do: [:a], else: [] end,
               "q",
               ctx(round_name: :vote)
             ) ==
               {:ok, [:a]}

      assert Router.select(fn _, _ -> [] end, "q", ctx()) == {:ok, []}
      assert Router.select(&Routes.strings/2, "q", ctx(), ["a", "b"]) == {:ok, ["a"]}
    end

    test "the members come from the argument, the context's metadata, or the council module" do
      assert {:error, %Error{reason: :unknown_members}} = Router.select(OnlyA, "q", ctx(), [:b])
      assert Router.select(OnlyA, "q", %Context{council: Routed}) == {:ok, [:a]}

      assert {:error,
              %Error{kind: :validation, reason: :unknown_members, context: %{unknown: ["a"]}}} =
               Router.select(&Routes.strings/2, "q", %Context{council: Routed})

      # Nothing to check against: any ids pass.
      assert Router.select(&Routes.strings/2, "q", %Context{council: "dynamic:x"}) == {:ok, ["a"]}
    end

    test "bad answers, failing routers and non-routers are errors, not crashes" do
      assert {:error, %Error{reason: :invalid_router_result, message: m1}} =
               Router.select(fn _, _ -> :a end, "q", ctx())

      assert m1 =~ "expected the router to return a list of member ids, got: :a"

      assert {:error, %Error{reason: :invalid_router_result}} =
               Router.select(fn _, _ -> [:a, nil] end, "q", ctx())

      assert {:error, %Error{reason: :router_failed, message: m2}} =
               Router.select(&Routes.boom/2, "q", ctx())

      assert m2 =~ "no route"

      assert {:error, %Error{reason: :router_failed}} =
               Router.select(fn _, _ -> throw(:nope) end, "q", ctx())

      assert {:error, %Error{reason: :invalid_router}} = Router.select(String, "q", ctx())
      assert {:error, %Error{reason: :invalid_router}} = Router.select(fn _ -> [] end, "q", ctx())
    end
  end

  describe "the router macro and round option" do
    test "set Spec.router and pass the round's router through" do
      spec = Routed.__council__()
      assert spec.router == OnlyA

      assert [{Rounds.IndependentAnalysis, [router: router]}, {Rounds.Synthesis, []}] =
               spec.rounds

      assert router == (&Routes.by_length/2)
    end

    defp compile(router) do
      name = Module.concat(__MODULE__, "C#{System.unique_integer([:positive])}")

      Code.compile_quoted(
        quote do
          defmodule unquote(name) do
            use CouncilEx
            router(unquote(router))
            member(:a, provider: :mock, model: "m")
          end
        end
      )

      name
    end

    test "take a module or a remote capture; anything else raises" do
      assert compile(quote(do: &CouncilEx.RouterTest.Routes.by_length/2)).__council__().router ==
               (&Routes.by_length/2)

      assert_raise CompileError,
                   ~r/C\d+: router: anonymous functions cannot be compiled into a council module; use a remote capture such as &Mod.select\/2/,
                   fn ->
                     compile(quote(do: fn _input, _ctx -> [:a] end))
                   end

      assert_raise CompileError,
                   ~r/router: expected router to be a module implementing CouncilEx.Router \(select\/2\), got: String/,
                   fn ->
                     compile(quote(do: String))
                   end

      assert_raise CompileError,
                   ~r/expected router to be a CouncilEx.Router module or a remote capture &Mod.fun\/2, got: "by_name"/,
                   fn ->
                     compile("by_name")
                   end

      assert_raise CompileError,
                   ~r/router: expected router to be a CouncilEx.Router module or a remote capture/,
                   fn ->
                     compile(quote(do: &CouncilEx.RouterTest.Routes.until/1))
                   end
    end
  end

  describe "dynamic councils" do
    defp council do
      DynamicCouncil.new("routed")
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
    end

    test "set_router/2 and the round option name registered routers, resolved in the spec" do
      :ok = Registry.register_router("only_a", OnlyA)

      c =
        council()
        |> DynamicCouncil.set_router("only_a")
        |> DynamicCouncil.add_round(%{
          "type" => "independent_analysis",
          "opts" => %{"router" => "only_a"}
        })

      assert DynamicCouncil.validate(c) == :ok
      spec = DynamicCouncil.to_spec(c)
      assert spec.router == OnlyA
      assert spec.rounds == [{Rounds.IndependentAnalysis, [router: OnlyA]}]
      assert c |> DynamicCouncil.to_json!() |> DynamicCouncil.from_json!() == c
    end

    test "unknown routers and modules without select/2 are reported" do
      :ok = Registry.register_router("no_select", Routes)

      c =
        council()
        |> DynamicCouncil.set_router("no_select")
        |> DynamicCouncil.add_round(%{"type" => "vote", "opts" => %{"router" => "missing"}})

      assert {:error, [e1, e2]} = DynamicCouncil.validate(c)
      assert {e1.path, e1.code} == {["router"], :invalid_type}
      assert e1.message =~ "does not export select/2"
      assert {e2.path, e2.code} == {["rounds", 0, "opts", "router"], :unknown_router}
    end
  end
end
