defmodule CouncilEx.RunServerTest do
  # One test per sentence of the RunServer page. Runs use the Mock provider.
  use ExUnit.Case, async: true

  import CouncilEx.Test

  alias CouncilEx.{Result, RunServer, TestCouncils}
  alias CouncilEx.Providers.Mock

  defp server_opts(extra \\ []) do
    Keyword.merge(
      [
        run_id: "rs-#{System.unique_integer([:positive])}",
        council: TestCouncils.Mocked,
        spec: TestCouncils.Mocked.__council__(),
        input: "Ship?"
      ],
      extra
    )
  end

  defp slow_script(delay_ms \\ 300) do
    Mock.script(:optimist, content: "a", delay_ms: delay_ms)
    Mock.script(:skeptic, content: "b", delay_ms: delay_ms)
    Mock.script(:chair, content: "c")
  end

  setup do
    script_council(TestCouncils.Mocked, "answer")
    :ok
  end

  describe "start/1 and start_link/1" do
    test "start/1 is unlinked: the runner survives its caller and the caller survives the runner" do
      parent = self()

      {:ok, caller} =
        Task.start(fn ->
          slow_script(200)
          {:ok, pid} = RunServer.start(server_opts())
          send(parent, {:started, pid})
        end)

      assert_receive {:started, pid}, 2_000
      ref = Process.monitor(caller)
      assert_receive {:DOWN, ^ref, _, _, _}
      assert Process.alive?(pid)
      refute pid in (Process.info(self(), :links) |> elem(1))
      assert {:ok, %Result{}} = CouncilEx.await(pid, 2_000)
    end

    test "start_link/1 links: the caller's death kills the run" do
      parent = self()

      caller =
        spawn(fn ->
          slow_script(5_000)
          {:ok, pid} = RunServer.start_link(server_opts())
          send(parent, {:started, pid})
          Process.sleep(:infinity)
        end)

      assert_receive {:started, pid}
      ref = Process.monitor(pid)
      Process.exit(caller, :kill)
      # The run traps exits and stops its tasks first: a deadline that
      # only bounds a failure.
      assert_receive {:DOWN, ^ref, :process, ^pid, :killed}, 5_000
    end

    test "required options are checked before a process starts: errors, never raises" do
      for key <- [:run_id, :council, :spec, :input] do
        assert_invalid(~r/required option #{inspect(key)} is missing/, fn ->
          RunServer.start_link(Keyword.delete(server_opts(), key))
        end)
      end

      assert_invalid(~r/:run_id must be a non-empty binary/, fn ->
        RunServer.start(server_opts(run_id: :nope))
      end)

      assert_invalid(~r/:spec must be a %CouncilEx.Spec{}/, fn ->
        RunServer.start(server_opts(spec: %{}))
      end)

      assert_invalid(~r/:council must be a module or "dynamic:"/, fn ->
        RunServer.start(server_opts(council: "mine"))
      end)

      assert_invalid(~r/unknown run option :bogus/, fn ->
        RunServer.start(server_opts(user_opts: [bogus: 1]))
      end)

      assert_invalid(~r/expected a keyword list of options/, fn -> RunServer.start_link(:nope) end)

      assert Process.info(self(), :links) == {:links, []}
    end

    test "a hand-made spec is held to the council rules before a process starts" do
      spec = %{TestCouncils.Mocked.__council__() | members: []}

      assert_invalid(~r/a council needs at least one member/, fn ->
        RunServer.start_link(server_opts(spec: spec))
      end)
    end

    test "registers under CouncilEx.Runner.Registry keyed by run_id; a second start with the same id fails" do
      slow_script()
      opts = server_opts()
      {:ok, pid} = RunServer.start(opts)
      assert Registry.lookup(CouncilEx.Runner.Registry, opts[:run_id]) == [{pid, nil}]
      assert {:error, {:already_started, ^pid}} = RunServer.start(opts)
    end

    test "broadcasts events on \"council_ex:run:\" <> run_id" do
      opts = server_opts()
      :ok = CouncilEx.PubSub.subscribe("council_ex:run:" <> opts[:run_id])
      {:ok, _pid} = RunServer.start_link(opts)
      run_id = opts[:run_id]
      assert_receive {:run_started, ^run_id, TestCouncils.Mocked, "Ship?"}
      assert_receive {:run_completed, ^run_id, %Result{}}, 2_000
    end

    test "user_opts are forwarded to the runner" do
      opts = server_opts(user_opts: [subscribe: true, relay_topics: ["rs-relay"]])
      {:ok, _} = RunServer.start(opts)
      run_id = opts[:run_id]
      assert_receive {:run_started, ^run_id, _, _}
      assert_receive {:run_started, ^run_id, _, _}, 1_000, "relay topic got the event too"
    end

    test "$callers is inherited, so the Mock finds this test's scripts from the runner's tasks" do
      Mock.script(:optimist, content: "from this test")
      {:ok, pid} = RunServer.start(server_opts())
      assert {:ok, result} = CouncilEx.await(pid, 2_000)
      assert hd(result.rounds).member_results[:optimist].response.content == "from this test"

      # An explicit :callers chain wins.
      stranger = spawn(fn -> Process.sleep(:infinity) end)
      {:ok, pid} = RunServer.start(server_opts(callers: [stranger]))
      assert {:error, %Result{errors: errors}} = CouncilEx.await(pid, 2_000)
      assert Enum.all?(errors, &(&1.reason in [:not_scripted, :no_member_succeeded]))
    end
  end

  test "child_spec/1 starts a temporary worker under any supervisor" do
    # Started by a supervisor, the runner can't know this test is its caller.
    opts = server_opts(callers: [self()])

    assert %{id: RunServer, start: {RunServer, :start_link, [^opts]}, restart: :temporary} =
             RunServer.child_spec(opts)

    {:ok, sup} = DynamicSupervisor.start_link(strategy: :one_for_one)
    {:ok, pid} = DynamicSupervisor.start_child(sup, {RunServer, opts})
    assert {:ok, _} = CouncilEx.await(pid, 2_000)
  end

  test "run_id/1 fetches the run_id from a pid" do
    opts = server_opts()
    {:ok, pid} = RunServer.start(opts)
    assert RunServer.run_id(pid) == opts[:run_id]
  end

  describe "lookup/2" do
    test "{:ok, pid}, then {:error, :unknown_run} once the run is gone" do
      opts = server_opts(user_opts: [retention_ms: 0])
      {:ok, pid} = RunServer.start(opts)
      assert {:ok, ^pid} = RunServer.lookup(opts[:run_id])
      ref = Process.monitor(pid)
      assert_receive {:DOWN, ^ref, _, _, _}, 2_000
      Process.sleep(20)
      assert {:error, :unknown_run} = RunServer.lookup(opts[:run_id])
      assert {:error, :unknown_run} = RunServer.lookup("never-started")
    end

    test "{:error, :runner_dead} for a stale entry whose process has exited" do
      registry = :"stale_reg_#{System.unique_integer([:positive])}"
      start_supervised!({Registry, keys: :unique, name: registry})
      slow_script(5_000)
      opts = server_opts(registry: registry)
      {:ok, pid} = RunServer.start(opts)

      # Hold the registry's cleanup back so the dead pid's entry stays.
      partition = Process.whereis(Module.concat(registry, PIDPartition0))
      :sys.suspend(partition)

      try do
        Process.exit(pid, :kill)
        ref = Process.monitor(pid)
        assert_receive {:DOWN, ^ref, _, _, _}
        assert {:error, :runner_dead} = RunServer.lookup(opts[:run_id], registry: registry)
        assert {:error, :not_found} = RunServer.state(opts[:run_id], registry: registry)
      after
        :sys.resume(partition)
      end
    end
  end

  describe "state/2" do
    test "walks through :pending, :running and :completed, and still answers after completion" do
      # The first member answer is held until the test lets it go.
      test = self()

      Mock.script(:optimist, fn _ ->
        send(test, {:waiting, self()})
        receive do: (:go -> {:ok, "a"})
      end)

      opts = server_opts()
      {:ok, pid} = RunServer.start(opts)
      run_id = opts[:run_id]
      assert_receive {:waiting, task}, 2_000

      assert {:ok,
              %{
                status: :running,
                current_round: %{name: :independent_analysis, idx: 0},
                rounds_completed: 0
              } = s} = RunServer.state(run_id)

      assert Map.keys(s) |> Enum.sort() ==
               [:council, :current_round, :rounds_completed, :run_id, :started_at, :status]

      assert %DateTime{} = s.started_at
      assert s.council == TestCouncils.Mocked
      send(task, :go)
      assert {:ok, _} = CouncilEx.await(pid, 2_000)

      assert {:ok,
              %{status: :completed, current_round: nil, rounds_completed: 2, run_id: ^run_id}} =
               RunServer.state(run_id)
    end

    test ":pending until the engine reports the first round" do
      # init/1 is run here, in the test process, so nothing can move on.
      {:ok, plan} = CouncilEx.Plan.prepare(TestCouncils.Mocked.__council__(), "Ship?", [])

      {:ok, state, {:continue, :started}} =
        RunServer.init(Keyword.merge(server_opts(), callers: [self()], user_opts: [], plan: plan))

      assert state.status == :pending
      assert state.current_round == nil
      :ok = CouncilEx.Native.run_cancel(state.run)
      assert :run_cancelled in engine_events(state.tag)
    end

    test ":failed and {:error, :not_found} after the retention time" do
      Mock.script(:optimist, error: :timeout)
      Mock.script(:skeptic, error: :timeout)
      opts = server_opts(user_opts: [retention_ms: 100])
      {:ok, pid} = RunServer.start(opts)
      assert {:error, _} = CouncilEx.await(pid, 2_000)
      assert {:ok, %{status: :failed}} = RunServer.state(opts[:run_id])
      ref = Process.monitor(pid)
      assert_receive {:DOWN, ^ref, _, _, :normal}, 1_000
      assert {:error, :not_found} = RunServer.state(opts[:run_id])
    end
  end

  test "via/2 works with GenServer.call/2" do
    opts = server_opts()
    {:ok, _pid} = RunServer.start(opts)
    assert GenServer.call(RunServer.via(opts[:run_id]), :run_id) == opts[:run_id]
  end

  test "a caller-owned registry works end to end" do
    registry = :"own_reg_#{System.unique_integer([:positive])}"
    start_supervised!({Registry, keys: :unique, name: registry})
    run_id = "own-#{System.unique_integer([:positive])}"

    {:ok, pid} = CouncilEx.start(TestCouncils.Mocked, "q", run_id: run_id, registry: registry)
    assert {:ok, ^pid} = RunServer.lookup(run_id, registry: registry)
    assert {:error, :unknown_run} = RunServer.lookup(run_id)
    assert GenServer.call(RunServer.via(run_id, registry: registry), :run_id) == run_id
    assert {:ok, %Result{}} = CouncilEx.await(pid, 2_000)
    assert {:ok, %{status: :completed}} = RunServer.state(run_id, registry: registry)
    assert [%{run_id: ^run_id}] = CouncilEx.list_active_runs(registry: registry)
    assert :ok = CouncilEx.cancel(run_id, registry: registry)
  end

  # The engine's events for `tag`, batch after batch, up to the last one.
  defp engine_events(tag, acc \\ []) do
    receive do
      {:council_ex_run, ^tag, events} ->
        acc = acc ++ events

        if List.last(events) in [:run_completed, :run_cancelled],
          do: acc,
          else: engine_events(tag, acc)
    after
      1_000 -> flunk("no terminal event; got: #{inspect(acc)}")
    end
  end

  defp assert_invalid(message, start) do
    assert {:error, %CouncilEx.Error{kind: :validation, message: text}} = start.()
    assert text =~ message
  end
end

defmodule CouncilEx.RunServerConfigTest do
  # Changes app config: not async.
  use ExUnit.Case, async: false

  alias CouncilEx.{RunServer, TestCouncils}

  test "default_registry/0 follows config :council_ex, :runner_registry" do
    assert RunServer.default_registry() == CouncilEx.Runner.Registry
    start_supervised!({Registry, keys: :unique, name: :configured_run_reg})
    Application.put_env(:council_ex, :runner_registry, :configured_run_reg)

    try do
      assert RunServer.default_registry() == :configured_run_reg
      CouncilEx.Test.script_council(TestCouncils.Mocked, "x")
      {:ok, pid} = CouncilEx.start(TestCouncils.Mocked, "q", run_id: "configured-1")
      assert [{^pid, _}] = Registry.lookup(:configured_run_reg, "configured-1")
      assert {:ok, ^pid} = RunServer.lookup("configured-1")
      assert GenServer.call(RunServer.via("configured-1"), :run_id) == "configured-1"
    after
      Application.delete_env(:council_ex, :runner_registry)
    end
  end
end
