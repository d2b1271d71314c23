defmodule CouncilEx.ProfileTest do
  # Profiles read app env and the global registry: not async.
  use ExUnit.Case, async: false

  alias CouncilEx.{Profile, Registry, Spec}

  doctest CouncilEx.Profile

  defmodule Mini do
    @moduledoc false
    use CouncilEx.Profile
    provider(:fake)
    model("mini-model")
    temperature(0.2)
    max_tokens(400)
  end

  defmodule Big do
    @moduledoc false
    use CouncilEx.Profile
    provider(:other)
    model("big-model")
    temperature(0.7)
  end

  defmodule Everything do
    @moduledoc false
    use CouncilEx.Profile
    provider(:fake)
    model("m")
    temperature(1)
    max_tokens(10)
    stream(true)
    retry({3, 250})
    tools([CouncilEx.ProfileTest, "web_search"])
    parallel_tools(true)
    parallel_tools_strategy(:fail_fast)
    tool_concurrency_factor(1.5)
    tool_timeout_ms(5_000)
    tool_choice(:required)
  end

  defmodule Skeptic do
    @moduledoc false
    use CouncilEx.Member
    system_prompt("You doubt.")
  end

  defmodule Council do
    @moduledoc false
    use CouncilEx

    default_profile(Mini)
    member(:plain, system_prompt: "Plain.")
    member(:big, Skeptic, profile: Big)
    member(:tuned, profile: Big, temperature: 1.2, model: "tuned-model")
    chair(:chair, max_tokens: 50)
  end

  setup do
    previous = Application.get_env(:council_ex, :default_profile)
    Registry.reset()

    on_exit(fn ->
      if previous,
        do: Application.put_env(:council_ex, :default_profile, previous),
        else: Application.delete_env(:council_ex, :default_profile)

      Registry.reset()
    end)
  end

  describe "use CouncilEx.Profile" do
    test "opts/0 lists the options in the order they were set" do
      assert Mini.opts() == [
               provider: :fake,
               model: "mini-model",
               temperature: 0.2,
               max_tokens: 400
             ]

      assert Everything.opts() == [
               provider: :fake,
               model: "m",
               temperature: 1,
               max_tokens: 10,
               stream: true,
               retry: {3, 250},
               tools: [CouncilEx.ProfileTest, "web_search"],
               parallel_tools: true,
               parallel_tools_strategy: :fail_fast,
               tool_concurrency_factor: 1.5,
               tool_timeout_ms: 5_000,
               tool_choice: :required
             ]
    end

    test "a bad value is a compile error naming the option, the expectation and the value" do
      for {line, message} <- [
            {~s(temperature "hot"),
             ~s(expected temperature to be a number from 0 to 2, got: "hot")},
            {"temperature 2.5", "expected temperature to be a number from 0 to 2, got: 2.5"},
            {"max_tokens 0", "expected max_tokens to be a positive integer, got: 0"},
            {~s(provider "openai"),
             ~s|expected provider to be a provider id (an atom), got: "openai"|},
            {"retry 3",
             "expected retry to be {max_attempts, base_ms} with max_attempts from 1 to 100 and base_ms >= 0, got: 3"},
            {"retry {500, 10}",
             "expected retry to be {max_attempts, base_ms} with max_attempts from 1 to 100 and base_ms >= 0, got: {500, 10}"},
            {"parallel_tools_strategy :random",
             "expected parallel_tools_strategy to be one of [:collect, :fail_fast], got: :random"},
            {"tool_choice :sometimes",
             "expected tool_choice to be :auto, :required, :none or a tool name, got: :sometimes"},
            {"tools [1]",
             "expected tools to be a list of tool modules or registered tool names, got: [1]"}
          ] do
        source = "defmodule CouncilEx.ProfileTest.Bad do use CouncilEx.Profile; #{line} end"

        assert_raise ArgumentError, "CouncilEx.ProfileTest.Bad: " <> message, fn ->
          Code.compile_string(source)
        end
      end
    end

    test "an option set twice is a compile error" do
      source =
        ~s(defmodule CouncilEx.ProfileTest.Twice do use CouncilEx.Profile; model "a"; model "b" end)

      assert_raise ArgumentError,
                   "CouncilEx.ProfileTest.Twice: profile option :model is set more than once",
                   fn ->
                     Code.compile_string(source)
                   end
    end
  end

  describe "resolve/2" do
    test "later layers win: app default < council default < member profile < inline" do
      Application.put_env(:council_ex, :default_profile, Everything)

      resolved = Profile.resolve([profile: Big, max_tokens: 7], Mini)

      assert resolved[:stream] == true, "from the app default"
      assert resolved[:model] == "big-model", "the member profile over the council default"
      assert resolved[:provider] == :other
      assert resolved[:temperature] == 0.7
      assert resolved[:max_tokens] == 7, "inline over everything"
      assert resolved[:profile] == Big, "the :profile key stays for introspection"
      assert resolved[:tool_choice] == :required
    end

    test "with no profile anywhere the member's options come back as they are" do
      assert Profile.resolve([provider: :fake, model: "x"], nil) == [provider: :fake, model: "x"]
      assert Profile.resolve([], nil) == []
    end

    test "a profile may be a registered name whose value is a module or a keyword list" do
      :ok = Registry.register_profile("mini", Mini)
      :ok = Registry.register_profile("kw", provider: :kw, model: "kw-model")

      assert Profile.resolve([], "mini") == Mini.opts()
      assert Profile.resolve([profile: "kw"], "mini")[:model] == "kw-model"
      Application.put_env(:council_ex, :default_profile, "kw")

      assert Profile.resolve([temperature: 0.1], nil) == [
               provider: :kw,
               model: "kw-model",
               temperature: 0.1
             ]
    end

    test "an unknown profile raises ArgumentError naming it" do
      assert_raise ArgumentError,
                   ~s(unknown profile "nope": not a profile module and not registered in CouncilEx.Registry as a :profile),
                   fn -> Profile.resolve([], "nope") end

      assert_raise ArgumentError,
                   ~r/^unknown profile CouncilEx.ProfileTest.Skeptic: not a profile module/,
                   fn ->
                     Profile.resolve([profile: Skeptic], nil)
                   end

      Application.put_env(:council_ex, :default_profile, "gone")
      assert_raise ArgumentError, ~r/^unknown profile "gone"/, fn -> Profile.resolve([], nil) end
    end
  end

  describe "profiles in module councils" do
    test "the spec holds each seat's resolved options" do
      %Spec{members: members, chair: chair, opts: opts} = Council.__council__()

      assert [
               {:plain, nil, plain},
               {:big, Skeptic, big},
               {:tuned, nil, tuned}
             ] = members

      assert plain == Mini.opts() ++ [system_prompt: "Plain."]
      # Big sets no :max_tokens, so the council default's shows through.
      assert big == [max_tokens: 400] ++ Big.opts() ++ [profile: Big]
      assert tuned[:provider] == :other
      assert tuned[:model] == "tuned-model"
      assert tuned[:temperature] == 1.2
      assert {:chair, nil, chair_opts} = chair
      assert chair_opts[:model] == "mini-model"
      assert chair_opts[:max_tokens] == 50
      assert opts == [default_profile: Mini]
    end

    test "a registered profile name works in the DSL" do
      :ok = Registry.register_profile("dsl_mini", Mini)

      [{mod, _}] =
        Code.compile_string("""
        defmodule CouncilEx.ProfileTest.ByName do
          use CouncilEx
          default_profile "dsl_mini"
          member :a, system_prompt: "A."
        end
        """)

      assert [{:a, nil, opts}] = mod.__council__().members
      assert opts[:model] == "mini-model"
    end

    test "the app default applies to councils compiled after it is set" do
      Application.put_env(:council_ex, :default_profile, Big)

      [{mod, _}] =
        Code.compile_string("""
        defmodule CouncilEx.ProfileTest.AppDefault do
          use CouncilEx
          member :a, temperature: 0.0
        end
        """)

      assert [{:a, nil, [provider: :other, model: "big-model", temperature: 0.0]}] =
               mod.__council__().members
    end

    test "an unknown profile is a compile error naming member and profile" do
      source = """
      defmodule CouncilEx.ProfileTest.Unknown do
        use CouncilEx
        member :a, profile: "missing_profile"
      end
      """

      message =
        ~s(nofile:3: CouncilEx.ProfileTest.Unknown: member :a: unknown profile "missing_profile": ) <>
          "not a profile module and not registered in CouncilEx.Registry as a :profile"

      assert_raise CompileError, message, fn -> Code.compile_string(source) end
    end

    test "a member with no provider or model after resolution is still a compile error" do
      source = """
      defmodule CouncilEx.ProfileTest.NoModel do
        use CouncilEx
        member :a, profile: CouncilEx.ProfileTest.NoModelProfile
      end
      """

      Code.compile_string("""
      defmodule CouncilEx.ProfileTest.NoModelProfile do
        use CouncilEx.Profile
        provider :fake
      end
      """)

      assert_raise CompileError,
                   "nofile:3: CouncilEx.ProfileTest.NoModel: member :a has no :model",
                   fn -> Code.compile_string(source) end
    end
  end
end
