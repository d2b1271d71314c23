defmodule CouncilEx.RegistryTest do
  # The registry is global (one ETS table, one app env): not async.
  use ExUnit.Case, async: false

  alias CouncilEx.Registry

  doctest CouncilEx.Registry

  defmodule Tool do
    @moduledoc false
    def run(_args), do: :ok
  end

  defmodule Round do
    @moduledoc false
    def name, do: :custom_round
  end

  defmodule Profile do
    @moduledoc false
    use CouncilEx.Profile
    provider(:fake)
    model("registry-model")
  end

  # A backend kept in an Agent, to check :registry_backend is honoured.
  defmodule AgentBackend do
    @moduledoc false
    @behaviour CouncilEx.Registry.Backend
    def start_link, do: Agent.start_link(fn -> %{} end, name: __MODULE__)
    @impl true
    def get(kind, name), do: Agent.get(__MODULE__, &Map.get(&1, {kind, name}))
    @impl true
    def put(kind, name, value), do: Agent.update(__MODULE__, &Map.put(&1, {kind, name}, value))
    @impl true
    def delete(kind, name), do: Agent.update(__MODULE__, &Map.delete(&1, {kind, name}))
    @impl true
    def all(kind), do: Agent.get(__MODULE__, &for({{^kind, n}, v} <- &1, into: %{}, do: {n, v}))
    @impl true
    def reset, do: Agent.update(__MODULE__, fn _ -> %{} end)
  end

  setup do
    previous = Application.get_env(:council_ex, :registry)
    Registry.reset()

    on_exit(fn ->
      restore(:registry, previous)
      Registry.reset()
    end)
  end

  defp restore(key, nil), do: Application.delete_env(:council_ex, key)
  defp restore(key, value), do: Application.put_env(:council_ex, key, value)

  describe "kinds/0" do
    test "is the fixed list of kinds" do
      assert Registry.kinds() ==
               [:profile, :tool, :schema, :router, :round, :sub_council, :input_mapper, :council]
    end
  end

  describe "runtime registrations" do
    test "every register_*/2 stores a value lookup/2 returns" do
      mapper = &String.upcase/1

      assert :ok = Registry.register_profile("p", Profile)
      assert :ok = Registry.register_profile("kw", provider: :fake, model: "m")
      assert :ok = Registry.register_tool("t", Tool)
      assert :ok = Registry.register_schema("s", %{"type" => "object"})
      assert :ok = Registry.register_schema("s_mod", Tool)
      assert :ok = Registry.register_router("r", Tool)
      assert :ok = Registry.register_round("round", Round)
      assert :ok = Registry.register_sub_council("sc_mod", CouncilEx.TestCouncils.NoChair)
      assert :ok = Registry.register_sub_council("sc_map", %{"id" => "inner"})
      assert :ok = Registry.register_input_mapper("m", mapper)

      assert :ok =
               Registry.register_council("c", %{
                 council: CouncilEx.TestCouncils.NoChair,
                 desc: "d"
               })

      assert Registry.lookup(:profile, "p") == Profile
      assert Registry.lookup(:profile, "kw") == [provider: :fake, model: "m"]
      assert Registry.lookup(:tool, "t") == Tool
      assert Registry.lookup(:schema, "s") == %{"type" => "object"}
      assert Registry.lookup(:router, "r") == Tool
      assert Registry.lookup(:round, "round") == Round
      assert Registry.lookup(:sub_council, "sc_map") == %{"id" => "inner"}
      assert Registry.lookup(:input_mapper, "m") == mapper
      assert Registry.lookup(:council, "c").desc == "d"
    end

    test "register/3 replaces an earlier value; unregister/2 removes it" do
      :ok = Registry.register(:tool, "t", Tool)
      :ok = Registry.register(:tool, "t", Round)
      assert Registry.lookup(:tool, "t") == Round
      assert :ok = Registry.unregister(:tool, "t")
      assert Registry.lookup(:tool, "t") == nil
      assert :ok = Registry.unregister(:tool, "never-registered")
    end

    test "kinds are separate namespaces" do
      :ok = Registry.register_tool("same", Tool)
      :ok = Registry.register_router("same", Round)
      assert Registry.lookup(:tool, "same") == Tool
      assert Registry.lookup(:router, "same") == Round
    end

    test "lookup!/2 raises naming kind, name and what is registered" do
      :ok = Registry.register_tool("b", Tool)
      :ok = Registry.register_tool("a", Tool)

      assert_raise ArgumentError, ~s(no :tool registered as "zz"; registered: ["a", "b"]), fn ->
        Registry.lookup!(:tool, "zz")
      end

      assert Registry.lookup!(:tool, "a") == Tool
    end

    test "concurrent registrations all land" do
      1..50
      |> Task.async_stream(fn i -> Registry.register_tool("t#{i}", Tool) end)
      |> Enum.each(fn {:ok, :ok} -> :ok end)

      assert length(Registry.names(:tool)) == 50
    end
  end

  describe "the config tier" do
    test "is read on every lookup, and runtime registrations win over it" do
      assert Registry.lookup(:tool, "cfg") == nil

      Application.put_env(:council_ex, :registry,
        tools: %{"cfg" => Tool},
        profiles: [cfg_profile: Profile]
      )

      assert Registry.lookup(:tool, "cfg") == Tool
      # Atom keys in config are read as names.
      assert Registry.lookup(:profile, "cfg_profile") == Profile

      :ok = Registry.register_tool("cfg", Round)
      assert Registry.lookup(:tool, "cfg") == Round
      assert Registry.all(:tool) == %{"cfg" => Round}

      :ok = Registry.unregister(:tool, "cfg")
      assert Registry.lookup(:tool, "cfg") == Tool
    end

    test "all/1 merges both tiers and names/1 sorts them" do
      Application.put_env(:council_ex, :registry, schemas: %{"b" => %{"c" => 1}, "z" => %{}})
      :ok = Registry.register_schema("a", %{})
      :ok = Registry.register_schema("b", %{"r" => 1})

      assert Registry.all(:schema) == %{"a" => %{}, "b" => %{"r" => 1}, "z" => %{}}
      assert Registry.names(:schema) == ["a", "b", "z"]
      assert Registry.names(:router) == []
    end

    test "reset/0 drops runtime entries and keeps config" do
      Application.put_env(:council_ex, :registry, tools: %{"cfg" => Tool})
      :ok = Registry.register_tool("rt", Tool)
      assert :ok = Registry.reset()
      assert Registry.names(:tool) == ["cfg"]
    end

    test "a malformed config raises naming the key" do
      Application.put_env(:council_ex, :registry, tools: "oops")

      assert_raise ArgumentError,
                   ~s(expected config :council_ex, :registry, tools to be a map of names to values, got: "oops"),
                   fn -> Registry.lookup(:tool, "x") end
    end
  end

  describe "argument errors" do
    test "an unknown kind" do
      message =
        "expected kind to be one of [:profile, :tool, :schema, :router, :round, :sub_council, " <>
          ":input_mapper, :council], got: :tools"

      assert_raise ArgumentError, message, fn -> Registry.lookup(:tools, "x") end
      assert_raise ArgumentError, message, fn -> Registry.register(:tools, "x", Tool) end
      assert_raise ArgumentError, message, fn -> Registry.all(:tools) end
      assert_raise ArgumentError, message, fn -> Registry.unregister(:tools, "x") end
    end

    test "names must be non-empty strings" do
      assert_raise ArgumentError, "expected name to be a non-empty string, got: :t", fn ->
        Registry.register_tool(:t, Tool)
      end

      assert_raise ArgumentError, ~s(expected name to be a non-empty string, got: ""), fn ->
        Registry.lookup(:tool, "")
      end
    end

    test "values must suit their kind" do
      assert_raise ArgumentError,
                   ~r/^cannot register :input_mapper "m": expected a 1-arity function, got: #Function/,
                   fn -> Registry.register_input_mapper("m", fn a, b -> {a, b} end) end

      assert_raise ArgumentError,
                   ~s(cannot register :round "r": expected a round module exporting name/0, got: #{inspect(Tool)}),
                   fn -> Registry.register_round("r", Tool) end

      assert_raise ArgumentError,
                   ~s(cannot register :tool "t": expected a tool module, got: "Tool"),
                   fn ->
                     Registry.register_tool("t", "Tool")
                   end

      assert_raise ArgumentError,
                   ~r/cannot register :profile "p": .*expected temperature to be a number from 0 to 2, got: "hot"/,
                   fn ->
                     Registry.register_profile("p", temperature: "hot")
                   end

      assert_raise ArgumentError, ~r/cannot register :profile "p": .*not a profile module/, fn ->
        Registry.register_profile("p", Tool)
      end

      assert_raise ArgumentError,
                   ~r/cannot register :council "c": expected a map with a :council key/,
                   fn ->
                     Registry.register_council("c", %{desc: "no council"})
                   end

      assert_raise ArgumentError, ~r/cannot register :sub_council "s"/, fn ->
        Registry.register_sub_council("s", Tool)
      end

      assert Registry.names(:tool) == []
    end
  end

  describe "backends" do
    test "config :council_ex, :registry_backend selects the backend" do
      {:ok, _} = AgentBackend.start_link()
      Application.put_env(:council_ex, :registry_backend, AgentBackend)
      on_exit(fn -> Application.delete_env(:council_ex, :registry_backend) end)

      assert Registry.backend() == AgentBackend
      :ok = Registry.register_tool("agent", Tool)
      assert Agent.get(AgentBackend, & &1) == %{{:tool, "agent"} => Tool}
      assert Registry.lookup(:tool, "agent") == Tool
      assert CouncilEx.Registry.ETS.get(:tool, "agent") == nil
    end

    test "the ETS backend is the default and its table is public and named" do
      assert Registry.backend() == CouncilEx.Registry.ETS
      :ok = Registry.register_tool("ets", Tool)
      assert :ets.lookup(:council_ex_registry, {:tool, "ets"}) == [{{:tool, "ets"}, Tool}]
      assert :ets.info(:council_ex_registry, :protection) == :public
    end
  end
end
