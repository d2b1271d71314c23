defmodule CouncilEx.SupervisorTest do
  # One test per sentence of the CouncilEx.Supervisor page.
  use ExUnit.Case, async: true

  import CouncilEx.Test

  alias CouncilEx.{Result, RunServer, TestCouncils}
  alias CouncilEx.Providers.Mock

  setup do
    name = :"run_sup_#{System.unique_integer([:positive])}"
    sup = start_supervised!({CouncilEx.Supervisor, name: name})
    script_council(TestCouncils.Mocked, "answer")
    %{sup: sup, name: name}
  end

  defp hold_members do
    Mock.script(:optimist, content: "a", delay_ms: 10_000)
    Mock.script(:skeptic, content: "b", delay_ms: 10_000)
  end

  test "child_spec/1 and start_link/1 with :name give a named DynamicSupervisor", %{
    sup: sup,
    name: name
  } do
    assert Process.whereis(name) == sup

    assert %{
             id: ^name,
             start: {CouncilEx.Supervisor, :start_link, [[name: ^name]]},
             type: :supervisor
           } = CouncilEx.Supervisor.child_spec(name: name)

    assert %{active: 0, workers: 0} = DynamicSupervisor.count_children(name)
  end

  test "start_link/4 starts a run linked to the supervisor, not to the caller", %{
    name: name,
    sup: sup
  } do
    {:ok, pid} = CouncilEx.Supervisor.start_link(name, TestCouncils.Mocked, "q")
    {:links, links} = Process.info(pid, :links)
    assert sup in links
    refute self() in links
    assert is_binary(RunServer.run_id(pid))
    assert {:ok, %Result{}} = CouncilEx.await(pid, 2_000)
  end

  test "runs survive their caller's exit", %{name: name} do
    hold_members()
    parent = self()

    caller =
      spawn(fn ->
        {:ok, pid} = CouncilEx.Supervisor.start_link(name, TestCouncils.Mocked, "q")
        send(parent, {:run, pid})
      end)

    assert_receive {:run, pid}
    ref = Process.monitor(caller)
    assert_receive {:DOWN, ^ref, _, _, _}
    Process.sleep(20)
    assert Process.alive?(pid)
  end

  test "runs die when the supervisor exits", %{sup: sup, name: name} do
    hold_members()
    {:ok, pid} = CouncilEx.Supervisor.start_link(name, TestCouncils.Mocked, "q")
    ref = Process.monitor(pid)
    Supervisor.stop(sup)
    assert_receive {:DOWN, ^ref, :process, ^pid, :shutdown}
  end

  test "children are :temporary: a crashed run is not restarted", %{name: name} do
    hold_members()
    {:ok, pid} = CouncilEx.Supervisor.start_link(name, TestCouncils.Mocked, "q")
    ref = Process.monitor(pid)
    Process.exit(pid, :kill)
    assert_receive {:DOWN, ^ref, _, _, :killed}
    Process.sleep(20)
    assert DynamicSupervisor.which_children(name) == []
  end

  test "which_children/1 lists in-flight runs", %{name: name} do
    hold_members()

    pids =
      for _ <- 1..3, do: elem(CouncilEx.Supervisor.start_link(name, TestCouncils.Mocked, "q"), 1)

    children = DynamicSupervisor.which_children(name)
    assert Enum.sort(for {_, pid, :worker, [RunServer]} <- children, do: pid) == Enum.sort(pids)
  end

  test "terminate_all/1 returns after every runner is gone, monitors see :DOWN with :shutdown", %{
    name: name
  } do
    hold_members()

    pids =
      for _ <- 1..4, do: elem(CouncilEx.Supervisor.start_link(name, TestCouncils.Mocked, "q"), 1)

    refs = Map.new(pids, &{Process.monitor(&1), &1})

    assert :ok = CouncilEx.Supervisor.terminate_all(name)
    assert Enum.all?(pids, &(not Process.alive?(&1)))

    for {ref, pid} <- refs, do: assert_received({:DOWN, ^ref, :process, ^pid, :shutdown})
    assert DynamicSupervisor.which_children(name) == []
    eventually(fn -> CouncilEx.Native.stats().in_flight == 0 end)
  end

  test "start/3 options are forwarded: :run_id, :registry, :subscribe, :recorder, :verbose", %{
    name: name
  } do
    registry = :"sup_reg_#{System.unique_integer([:positive])}"
    start_supervised!({Registry, keys: :unique, name: registry})
    {:ok, io} = StringIO.open("")

    {:ok, pid} =
      CouncilEx.Supervisor.start_link(name, TestCouncils.Mocked, "q",
        run_id: "sup-run-1",
        registry: registry,
        subscribe: true,
        recorder: {CouncilEx.TestRecorder, self()},
        verbose: true,
        verbose_io: io
      )

    assert RunServer.run_id(pid) == "sup-run-1"
    assert {:ok, ^pid} = RunServer.lookup("sup-run-1", registry: registry)
    assert_receive {:run_started, "sup-run-1", TestCouncils.Mocked, "q"}
    assert_receive {:run_completed, "sup-run-1", %Result{}}, 2_000
    assert_receive {:recorder, "sup-run-1", {:finalize, {:ok, %Result{}}}}, 2_000
    eventually(fn -> StringIO.contents(io) |> elem(1) =~ "run completed" end)
  end

  test "validation matches CouncilEx.start/3: nothing starts for a bad council or option", %{
    name: name
  } do
    assert {:error, %CouncilEx.Error{kind: :validation, reason: :invalid_council}} =
             CouncilEx.Supervisor.start_link(name, NotACouncil, "q")

    assert {:error, %CouncilEx.Error{kind: :validation, reason: :invalid_option, message: m}} =
             CouncilEx.Supervisor.start_link(name, TestCouncils.Mocked, "q", nope: true)

    assert m =~ "unknown run option :nope"

    assert DynamicSupervisor.which_children(name) == []
  end

  defp eventually(fun, tries \\ 200) do
    cond do
      fun.() -> true
      tries == 0 -> flunk("condition never held")
      true -> Process.sleep(10) && eventually(fun, tries - 1)
    end
  end
end
