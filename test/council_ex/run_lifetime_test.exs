defmodule CouncilEx.RunLifetimeTest do
  # Everything a run starts stops with it, however it ends: killed, shut
  # down, cancelled, timed out in run/3, or stopped with its supervisor.
  # Each council below has work of every kind in flight when it ends: an
  # HTTP call, a dispatcher (Mock) call, a sub-council run with its own
  # HTTP call, a tool turn, and a judge function.
  use CouncilEx.FakeCase, async: false
  # A run whose linked owner is killed reports it, as any GenServer would.
  @moduletag :capture_log

  alias CouncilEx.Providers.Mock
  alias CouncilEx.Councils.Tournament

  defmodule Probe do
    @moduledoc false
    # Tells the test which process it runs in, then blocks.
    def park(what) do
      send(:persistent_term.get(__MODULE__), {:started, what, self()})
      Process.sleep(:infinity)
    end
  end

  defmodule SlowTool do
    @moduledoc false
    @behaviour CouncilEx.Tool
    def name, do: "slow"
    def description, do: "Never returns."
    def parameters_schema, do: %{"type" => "object"}
    def execute(_args), do: Probe.park(:tool)
  end

  defmodule Inner do
    @moduledoc false
    use CouncilEx
    member(:inner_http, provider: :fake, model: "inner-member")
    chair(:inner_chair, provider: :fake, model: "inner-chair")
  end

  defmodule Outer do
    @moduledoc false
    use CouncilEx
    member(:http, provider: :fake, model: "outer-http")
    member(:dispatched, provider: :mock, model: "m")
    member(:nested, council: CouncilEx.RunLifetimeTest.Inner)

    member(:tooled,
      provider: :fake,
      model: "tool-model",
      tools: [CouncilEx.RunLifetimeTest.SlowTool],
      tool_timeout_ms: 600_000
    )

    round(:independent_analysis)
    chair(:chair, provider: :fake, model: "outer-chair")
  end

  setup %{fake: fake} do
    :persistent_term.put(Probe, self())
    on_exit(fn -> :persistent_term.erase(Probe) end)

    FakeProvider.script(fake, "outer-http", latency_ms: 600_000)
    FakeProvider.script(fake, "inner-member", latency_ms: 300)
    FakeProvider.script(fake, "tool-model", tool_calls: [%{"name" => "slow", "arguments" => %{}}])
    Mock.script(:dispatched, fn _request -> Probe.park(:dispatcher) end)
    :ok
  end

  # Starts Outer and waits until every kind of work is in flight.
  defp start_outer(start) do
    {:ok, pid} = start.()
    run_id = CouncilEx.RunServer.run_id(pid)
    started = for _ <- 1..2, do: assert_receive({:started, what, task}, 10_000) && {what, task}
    assert started |> Keyword.keys() |> Enum.sort() == [:dispatcher, :tool]
    inner = "#{run_id}:sub:nested:0"
    assert eventually(fn -> match?({:ok, _}, CouncilEx.lookup(inner)) end, 10_000)
    {:ok, inner_pid} = CouncilEx.lookup(inner)
    %{pid: pid, run_id: run_id, tasks: Keyword.values(started), inner: inner_pid}
  end

  # Nothing the run started is alive, no call is in flight in C or at the
  # fake provider, and no request arrives after the end.
  defp assert_all_stopped(run, fake) do
    for p <- [run.pid, run.inner | run.tasks], p do
      assert eventually(fn -> not Process.alive?(p) end, 5_000), "#{inspect(p)} is still alive"
    end

    assert eventually(fn -> Native.stats().in_flight == 0 end, 5_000)
    assert eventually(fn -> FakeProvider.in_flight(fake) == 0 end, 5_000)
    seen = length(FakeProvider.requests(fake))
    # The inner member answers 300 ms after it was asked: were the inner
    # run still alive, its chair would be asked next.
    Process.sleep(600)
    assert length(FakeProvider.requests(fake)) == seen
    refute Enum.any?(FakeProvider.requests(fake), &(&1.body["model"] == "inner-chair"))
  end

  test "Process.exit(pid, :kill)", %{fake: fake} do
    run = start_outer(fn -> CouncilEx.start(Outer, "q") end)
    Process.exit(run.pid, :kill)
    assert_all_stopped(run, fake)
  end

  test "terminate_run/2 (a :shutdown exit)", %{fake: fake} do
    run = start_outer(fn -> CouncilEx.start(Outer, "q") end)
    assert :ok = CouncilEx.terminate_run(run.run_id)
    assert_all_stopped(run, fake)
  end

  test "cancel/2", %{fake: fake} do
    run = start_outer(fn -> CouncilEx.start(Outer, "q") end)
    assert :ok = CouncilEx.cancel(run.run_id)
    assert {:error, %CouncilEx.Result{status: :cancelled}} = CouncilEx.await(run.pid)
    # The cancelled run stays registered for its retention time; its work does not.
    for p <- [run.inner | run.tasks] do
      assert eventually(fn -> not Process.alive?(p) end, 5_000)
    end

    Process.exit(run.pid, :kill)
    assert_all_stopped(run, fake)
  end

  test "run/3's :await_timeout", %{fake: fake} do
    # The inner member answers only after the timeout, so the inner chair
    # can only be asked if the inner run outlives it.
    FakeProvider.script(fake, "inner-member", latency_ms: 2_300)
    test = self()
    run = fn -> CouncilEx.run(Outer, "q", await_timeout: 2_000, run_id: "lifetime") end
    {:ok, _} = Task.start(fn -> send(test, {:done, run.()}) end)

    assert_receive {:done, {:error, %CouncilEx.Error{reason: :await_timeout}}}, 30_000
    # What started before the timeout (all of it, unless the machine is
    # very busy) has stopped, and so has the sub-council run.
    tasks = for {:started, _what, task} <- flush(), do: task

    assert eventually(fn ->
             CouncilEx.lookup("lifetime:sub:nested:0") == {:error, :unknown_run}
           end)

    assert_all_stopped(%{pid: nil, inner: nil, tasks: tasks}, fake)
  end

  defp flush do
    receive do
      message -> [message | flush()]
    after
      0 -> []
    end
  end

  test "the owner of start_link/3 dies", %{fake: fake} do
    test = self()

    owner =
      spawn(fn ->
        # The Mock answers on behalf of the test.
        Process.put(:"$callers", [test])
        {:ok, pid} = CouncilEx.start_link(Outer, "q")
        send(test, {:run, pid})
        Process.sleep(:infinity)
      end)

    assert_receive {:run, pid}
    run = start_outer(fn -> {:ok, pid} end)
    Process.exit(owner, :kill)
    assert_all_stopped(run, fake)
  end

  test ":owner: the run stops when its owner exits, the owner lives on when the run ends", %{
    fake: fake
  } do
    owner = spawn(fn -> Process.sleep(:infinity) end)
    run = start_outer(fn -> CouncilEx.start(Outer, "q", owner: owner) end)
    ref = Process.monitor(run.pid)
    Process.exit(owner, :kill)
    assert_receive {:DOWN, ^ref, :process, _, {:shutdown, {:owner_down, :killed}}}, 5_000
    assert_all_stopped(run, fake)

    owner = spawn(fn -> Process.sleep(:infinity) end)
    Mock.script(:dispatched, content: "ok")
    FakeProvider.script(fake, "outer-http", content: "ok")
    FakeProvider.script(fake, "tool-model", content: "ok")
    assert {:ok, _} = CouncilEx.run(Outer, "q", owner: owner)
    assert Process.alive?(owner)

    assert {:error, %CouncilEx.Error{kind: :validation, message: message}} =
             CouncilEx.start(Outer, "q", owner: :me)

    assert message =~ "owner"
  end

  test "its supervisor stops", %{fake: fake} do
    {:ok, sup} = CouncilEx.Supervisor.start_link([])
    Process.unlink(sup)
    run = start_outer(fn -> CouncilEx.Supervisor.start_link(sup, Outer, "q") end)
    :ok = Supervisor.stop(sup)
    assert_all_stopped(run, fake)
  end

  test "a judge function in flight stops with its run" do
    council =
      Tournament.new(
        as: __MODULE__.Bracket,
        members: [a: [provider: :mock, model: "m-a"], b: [provider: :mock, model: "m-b"]],
        chair: [provider: :mock, model: "m-chair"],
        judge: fn _a, _b -> Probe.park(:judge) end
      )

    Mock.script(:a, content: "A")
    Mock.script(:b, content: "B")
    {:ok, pid} = CouncilEx.start(council, "q")
    assert_receive {:started, :judge, judge}, 10_000
    Process.exit(pid, :kill)
    assert eventually(fn -> not Process.alive?(judge) end, 5_000)
  end
end
