defmodule CouncilEx.ApiTest do
  use ExUnit.Case, async: true

  import CouncilEx.Test

  alias CouncilEx.{Error, Result, RunServer, TestCouncils}
  alias CouncilEx.Providers.Mock

  defmodule Unconfigured do
    @moduledoc false
    use CouncilEx
    member(:lost, provider: :nowhere, model: "m")
    member(:found, provider: :mock, model: "m")
    chair(:chair, provider: :also_nowhere, model: "m")
  end

  describe "validate/1" do
    test ":ok for a runnable council" do
      assert CouncilEx.validate(TestCouncils.Mocked) == :ok
    end

    test "every problem, with path, code and message" do
      assert {:error, errors} = CouncilEx.validate(Unconfigured)

      assert [
               %{path: ["members", 0, "provider"], code: :unknown_provider, message: m1},
               %{path: ["chair", "provider"], code: :unknown_provider}
             ] = errors

      assert m1 =~ "member :lost: provider :nowhere is not configured"

      # The limits of issue 12 are checked like every other seat option.
      message =
        assert_raise ArgumentError, fn ->
          CouncilEx.DynamicCouncil.new("limits")
          |> CouncilEx.DynamicCouncil.add_member(
            id: "unsure",
            system_prompt: "Hm.",
            profile_overrides: [
              provider: :mock,
              model: "m",
              tool_concurrency_factor: 0,
              max_tool_calls: 1025,
              request_timeout_ms: 0
            ]
          )
        end

      assert message.message =~
               "expected max_tool_calls to be a positive integer (at most 1024), got: 1025"

      assert message.message =~ "expected request_timeout_ms to be a positive integer, got: 0"
      assert message.message =~ "expected tool_concurrency_factor to be a positive number"

      assert_raise CompileError,
                   ~r/member :unsure: expected max_tool_calls to be a positive integer/,
                   fn ->
                     defmodule TooMany do
                       use CouncilEx
                       member(:unsure, provider: :mock, model: "m", max_tool_calls: 0)
                     end
                   end

      assert {:error, [%{path: [], code: :not_a_council}]} = CouncilEx.validate(String)
      assert {:error, [%{code: :not_a_council}]} = CouncilEx.validate(%{members: []})
      assert {:error, [%{code: :not_a_council}]} = CouncilEx.validate(nil)
    end
  end

  describe "bad councils, inputs and options start nothing" do
    test "councils and inputs give a validation error" do
      assert {:error,
              %Error{kind: :validation, reason: :invalid_council, context: %{errors: [_]}}} =
               CouncilEx.start(String, "q", run_id: "bad-1")

      assert {:error,
              %Error{kind: :validation, reason: :unknown_provider, context: %{errors: errors}}} =
               CouncilEx.run(Unconfigured, "q", run_id: "bad-2")

      assert [%{member_id: :lost}, %{member_id: :chair}] = errors

      assert {:error, %Error{kind: :validation, reason: :invalid_input}} =
               CouncilEx.start_link(TestCouncils.Mocked, <<0xFF, 0xFE>>, run_id: "bad-3")

      for id <- ["bad-1", "bad-2", "bad-3"],
          do: assert({:error, :unknown_run} = CouncilEx.lookup(id))

      assert Process.info(self(), :links) == {:links, []}
    end

    test "bad options give a validation error naming the option and the expectation" do
      bad = [
        run_id: 42,
        registry: "reg",
        subscribe: :yes,
        relay_topics: [:atom],
        verbose: :loud,
        member_timeout_ms: 0,
        retention_ms: -1,
        await_timeout: :never
      ]

      for {key, value} <- bad, start <- [:start, :start_link, :run] do
        assert {:error, %Error{kind: :validation, reason: :invalid_option, message: message}} =
                 apply(CouncilEx, start, [TestCouncils.Mocked, "q", [{key, value}]])

        assert message =~ "invalid value for run option #{inspect(key)}: expected"
      end

      assert {:error, %Error{kind: :validation, message: message}} =
               CouncilEx.start(TestCouncils.Mocked, "q", %{run_id: "x"})

      assert message =~ "expected run options as a keyword list"
      assert Process.info(self(), :links) == {:links, []}
    end

    test "a run id already in use gives {:error, {:already_started, pid}}" do
      Mock.script(:optimist, content: "x", delay_ms: 5_000)
      {:ok, pid} = CouncilEx.start(TestCouncils.Mocked, "q", run_id: "taken-id")

      assert {:error, {:already_started, ^pid}} =
               CouncilEx.start(TestCouncils.Mocked, "q", run_id: "taken-id")

      CouncilEx.terminate_run(pid)
    end
  end

  describe "running" do
    test "run/3 gives {:ok, result} and leaves no process behind" do
      script_council(TestCouncils.Mocked, "yes")

      assert {:ok, %Result{final: %{content: "yes"}} = result} =
               CouncilEx.run(TestCouncils.Mocked, "q")

      # The runner exits as it replies; the registry forgets it right after.
      assert CouncilEx.lookup(result.run_id) in [{:error, :unknown_run}, {:error, :runner_dead}]
      refute_received {:EXIT, _, _}
    end

    test "run/3 stops the run when :await_timeout passes" do
      Mock.script(:optimist, content: "x", delay_ms: 5_000)
      Mock.script(:skeptic, content: "x", delay_ms: 5_000)

      assert {:error, %Error{kind: :timeout, reason: :await_timeout}} =
               CouncilEx.run(TestCouncils.Mocked, "q", run_id: "await-timeout", await_timeout: 50)

      Process.sleep(20)
      assert {:error, :unknown_run} = CouncilEx.lookup("await-timeout")
      assert Process.info(self(), :links) == {:links, []}
    end

    test "await/2 by pid or run id, lookup/1, cancel/2 and terminate_run/2" do
      Mock.script(:optimist, content: "x", delay_ms: 5_000)
      Mock.script(:skeptic, content: "x", delay_ms: 5_000)
      {:ok, pid} = CouncilEx.start(TestCouncils.Mocked, "q", run_id: "api-1")
      assert {:ok, ^pid} = CouncilEx.lookup("api-1")
      assert :ok = CouncilEx.cancel("api-1")
      assert {:error, %Result{status: :cancelled}} = CouncilEx.await("api-1", 2_000)
      assert :ok = CouncilEx.cancel(pid), "cancelling an ended run is fine"
      assert {:error, :unknown_run} = CouncilEx.cancel("no-such-run")
      assert {:error, :unknown_run} = CouncilEx.await("no-such-run")

      ref = Process.monitor(pid)
      assert :ok = CouncilEx.terminate_run("api-1")
      assert_receive {:DOWN, ^ref, :process, ^pid, :shutdown}
      assert {:error, :unknown_run} = CouncilEx.terminate_run("api-1")
    end

    test "list_active_runs/0 lists running and recently finished runs, skipping dead ones" do
      Mock.script(:talker, content: "x", delay_ms: 5_000)
      {:ok, running} = CouncilEx.start(TestCouncils.MockedStream, "q", run_id: "list-running")
      script_council(TestCouncils.Mocked, "x")
      {:ok, done} = CouncilEx.start(TestCouncils.Mocked, "q", run_id: "list-done")
      {:ok, _} = CouncilEx.await(done, 2_000)

      runs = Map.new(CouncilEx.list_active_runs(), &{&1.run_id, &1})
      assert %{status: s} = runs["list-running"]
      assert s in [:pending, :running]
      assert %{status: :completed, rounds_completed: 2} = runs["list-done"]
      CouncilEx.terminate_run(running)
    end

    test "verbose: true prints a timeline to :verbose_io; :debug adds the requests and answers" do
      script_council(TestCouncils.Mocked, %{
        optimist: "Go now.",
        skeptic: "Wait.",
        chair: "Go soon."
      })

      {:ok, io} = StringIO.open("")

      {:ok, result} =
        CouncilEx.run(TestCouncils.Mocked, "Ship on Friday?", verbose: :debug, verbose_io: io)

      out = printed(io, "run completed")
      assert out =~ "[#{result.run_id}] run started: CouncilEx.TestCouncils.Mocked"
      assert out =~ "round 0 :independent_analysis"
      assert out =~ ":optimist ok in"
      assert out =~ "Go now."
      assert out =~ "run completed (ok)"

      # The rendered prompts, as sent: the skeptic's system prompt and the
      # input; the chair's request holds the members' answers.
      assert out =~ ":skeptic request (:independent_analysis):"
      assert out =~ "You are the skeptic. Look for what could go wrong."
      assert out =~ "Ship on Friday?"
      assert out =~ ~r/:chair request \(:synthesis\):.*Go now\./s

      {:ok, io} = StringIO.open("")
      {:ok, _} = CouncilEx.run(TestCouncils.Mocked, "q", verbose: true, verbose_io: io)
      refute printed(io, "run completed") =~ "request ("
    end

    test "the run's state holds no secrets" do
      Mock.script(:optimist, content: "x", delay_ms: 5_000)
      {:ok, pid} = CouncilEx.start(TestCouncils.Mocked, "q")
      refute inspect(:sys.get_state(pid), limit: :infinity) =~ "api_key"
      CouncilEx.terminate_run(pid)
    end
  end

  test "RunServer.state/2 for a run that never existed" do
    assert {:error, :not_found} = RunServer.state("nope")
  end

  # What the tracer printed, once it printed `last` (it prints as events
  # arrive, after run/3 has returned).
  defp printed(io, last, tries \\ 300) do
    {_, out} = StringIO.contents(io)

    cond do
      out =~ last -> out
      tries == 0 -> flunk("the tracer never printed #{inspect(last)}: #{out}")
      true -> sleep_then(fn -> printed(io, last, tries - 1) end)
    end
  end

  defp sleep_then(fun) do
    Process.sleep(10)
    fun.()
  end
end

defmodule CouncilEx.DynamicRunTest do
  use ExUnit.Case, async: true

  alias CouncilEx.{DynamicCouncil, Result, RunServer}
  alias CouncilEx.Providers.Mock

  defp council do
    mock = %{provider: :mock, model: "mock"}

    DynamicCouncil.new("panel-#{System.unique_integer([:positive])}", name: "Panel")
    |> DynamicCouncil.add_member(%{
      id: "pro",
      system_prompt: "Argue for.",
      profile_overrides: mock
    })
    |> DynamicCouncil.add_member(%{
      id: "con",
      system_prompt: "Argue against.",
      profile_overrides: mock
    })
    |> DynamicCouncil.add_round(:independent_analysis)
    |> DynamicCouncil.set_chair(%{id: "chair", system_prompt: "Decide.", profile_overrides: mock})
  end

  test "run/3, start/3 and validate/1 take a %DynamicCouncil{}; its council id is \"dynamic:\" <> id" do
    council = council()

    CouncilEx.Test.script_council(council, %{"pro" => "Yes.", "con" => "No.", "chair" => "Maybe."})

    assert CouncilEx.validate(council) == :ok

    assert {:ok, %Result{} = result} = CouncilEx.run(council, "Should we?", subscribe: true)
    assert result.council == "dynamic:" <> council.id
    assert result.final.content == "Maybe."
    assert [r0, _] = result.rounds
    assert Enum.map(r0.member_results, &elem(&1, 0)) == ["pro", "con"]
    run_id = result.run_id
    assert_received {:run_started, ^run_id, "dynamic:" <> _, "Should we?"}

    {:ok, pid} = CouncilEx.start(council, "Again?")
    assert {:ok, %{council: "dynamic:" <> _}} = RunServer.state(RunServer.run_id(pid))
  end

  test "a JSON round trip runs the same" do
    council = council()
    {:ok, json} = DynamicCouncil.to_json(council)
    {:ok, restored} = DynamicCouncil.from_json(json)
    assert restored == council
    Mock.script("pro", content: "a")
    Mock.script("con", content: "b")
    Mock.script("chair", content: "c")
    assert {:ok, %Result{final: %{content: "c"}}} = CouncilEx.run(restored, "q")
  end

  test "an invalid dynamic council is refused with every problem and starts nothing" do
    bad = DynamicCouncil.new("empty", name: "Empty")
    assert {:error, [%{code: :no_members} | _] = errors} = CouncilEx.validate(bad)

    assert {:error,
            %CouncilEx.Error{
              kind: :validation,
              reason: :invalid_council,
              context: %{errors: ^errors}
            }} = CouncilEx.start(bad, "q")
  end
end
