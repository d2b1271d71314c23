defmodule CouncilEx.LoadTest do
  use CouncilEx.FakeCase, async: false

  alias CouncilEx.Result

  @runs 200

  test "200 concurrent runs complete without any NIF holding a normal scheduler for 1 ms",
       %{fake: fake} do
    # Warm up: load every module and the NIF before measuring.
    {:ok, _} = CouncilEx.run(TestCouncils.Three, "warm-up")
    FakeProvider.reset(fake)
    before = Native.stats()

    results =
      1..@runs
      |> Task.async_stream(&CouncilEx.run(TestCouncils.Three, "question #{&1}"),
        max_concurrency: @runs,
        timeout: 60_000
      )
      |> Enum.map(fn {:ok, reply} -> reply end)

    assert length(results) == @runs
    assert Enum.all?(results, &match?({:ok, %Result{status: :ok}}, &1))
    finals = Enum.map(results, fn {:ok, r} -> r.final.content end)
    assert length(Enum.uniq(finals)) == @runs, "each run's chair saw its own question"
    assert length(FakeProvider.requests(fake)) == 4 * @runs
    assert eventually(fn -> Native.stats().in_flight == 0 end)

    # The library times every NIF call by its scheduler thread's CPU time,
    # until the call returns or moves itself to a dirty scheduler, so a busy
    # machine's preemptions do not count. Measured here: the runs' calls and
    # the fake server's JSON.
    after_runs = Native.stats()

    assert after_runs.normal_over_1ms == before.normal_over_1ms,
           "NIF calls held a normal scheduler over 1 ms (longest: #{after_runs.normal_max_us} us)"

    IO.puts(
      "\nlongest NIF call on a normal scheduler: #{after_runs.normal_max_us} us of CPU time"
    )
  end
end
