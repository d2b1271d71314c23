defmodule CouncilEx.LoadTest do
  use CouncilEx.FakeCase, async: false

  alias CouncilEx.Result

  @runs 200

  test "200 concurrent runs complete without any NIF holding a normal scheduler for 1 ms",
       %{fake: fake} do
    # Warm up: load every module and the NIF before measuring.
    {:ok, _} = CouncilEx.run(TestCouncils.Three, "warm-up")
    FakeProvider.reset(fake)

    tracer = start_nif_tracer()
    :erlang.system_monitor(self(), [{:long_schedule, 1}])

    results =
      1..@runs
      |> Task.async_stream(&CouncilEx.run(TestCouncils.Three, "question #{&1}"),
        max_concurrency: @runs,
        timeout: 60_000
      )
      |> Enum.map(fn {:ok, reply} -> reply end)

    :erlang.system_monitor(:undefined)
    nif_calls = stop_nif_tracer(tracer)

    assert length(results) == @runs
    assert Enum.all?(results, &match?({:ok, %Result{status: :ok}}, &1))
    finals = Enum.map(results, fn {:ok, r} -> r.final.content end)
    assert length(Enum.uniq(finals)) == @runs, "each run's chair saw its own question"
    assert length(FakeProvider.requests(fake)) == 4 * @runs
    assert eventually(fn -> Native.stats().in_flight == 0 end)

    # Every run_start plus the fake server's JSON calls were measured.
    assert Enum.count(nif_calls, fn {fun, _} -> fun == :run_start end) == @runs
    slow = for {fun, us} <- nif_calls, us > 1_000, do: {fun, us}
    assert slow == [], "NIF calls over 1 ms of scheduler CPU time: #{inspect(slow)}"
    max = nif_calls |> Enum.map(&elem(&1, 1)) |> Enum.max()
    IO.puts("\n#{length(nif_calls)} NIF calls traced, slowest #{max} us of scheduler CPU time")
    assert nif_long_schedules() == []
  end

  # Traces every call into CouncilEx.Native with CPU-time stamps, so a
  # call's duration is the scheduler thread's CPU time spent in it: what a
  # long NIF would steal, without the noise of the OS preempting the thread
  # on this 2-core machine (which wall-clock long_schedule reports too).
  defp start_nif_tracer do
    tracer = spawn_link(fn -> trace_loop(%{}, []) end)
    :erlang.trace(:all, true, [:call, :timestamp, :cpu_timestamp, {:tracer, tracer}])
    :erlang.trace_pattern({CouncilEx.Native, :_, :_}, [{:_, [], [{:return_trace}]}], [:local])
    tracer
  end

  defp stop_nif_tracer(tracer) do
    :erlang.trace(:all, false, [:call])
    :erlang.trace_pattern({CouncilEx.Native, :_, :_}, false, [:local])
    send(tracer, {:done, self()})
    assert_receive {:nif_calls, calls}, 5_000
    calls
  end

  # Pairs each call with its return. After {:done, from} it keeps draining
  # until the queue is quiet, as other processes' trace messages may still
  # be on their way.
  defp trace_loop(open, done, reply_to \\ nil) do
    receive do
      {:trace_ts, pid, :call, {_, fun, _}, ts} ->
        trace_loop(Map.put(open, {pid, fun}, ts), done, reply_to)

      {:trace_ts, pid, :return_from, {_, fun, _}, _ret, ts} ->
        {start, open} = Map.pop(open, {pid, fun})
        done = if start, do: [{fun, :timer.now_diff(ts, start)} | done], else: done
        trace_loop(open, done, reply_to)

      {:done, from} ->
        trace_loop(open, done, from)
    after
      if(reply_to, do: 100, else: :infinity) -> send(reply_to, {:nif_calls, done})
    end
  end

  # Long schedules reported at a NIF boundary: a long NIF call shows up under
  # CouncilEx.Native or under the function that called it (CouncilEx.Plan
  # for run_start, CouncilEx.JSON for the fake server's JSON).
  defp nif_long_schedules(acc \\ []) do
    receive do
      {:monitor, _pid, :long_schedule, info} ->
        if nif_frame?(info[:in]) or nif_frame?(info[:out]),
          do: nif_long_schedules([info | acc]),
          else: nif_long_schedules(acc)
    after
      0 -> acc
    end
  end

  defp nif_frame?({mod, _, _}), do: mod in [CouncilEx.Native, CouncilEx.Plan, CouncilEx.JSON]
  defp nif_frame?(_), do: false
end
