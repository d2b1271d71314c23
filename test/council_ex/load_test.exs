defmodule CouncilEx.LoadTest do
  use CouncilEx.FakeCase, async: false

  alias CouncilEx.Result

  @runs 200
  # Runs whose input is past the 128 KiB that run_start copies on a normal
  # scheduler (RUN_DIRTY_BYTES in c_src/nif/run_nif.c); their members'
  # requests are past what the fake's JSON decode does on one too.
  @large_runs 4
  @large_input 256 * 1024

  test "200 concurrent runs complete, and every NIF call is scheduled by the rule",
       %{fake: fake} do
    # Warm up: load every module and the NIF before counting.
    {:ok, _} = CouncilEx.run(TestCouncils.Three, "warm-up")
    FakeProvider.reset(fake)
    before = Native.stats()

    large = String.duplicate("A long brief, word after word. ", div(@large_input, 31) + 1)

    inputs =
      Enum.map(1..@runs, &"question #{&1}") ++
        Enum.map(1..@large_runs, &"large question #{&1}\n#{large}")

    results =
      inputs
      |> Task.async_stream(&CouncilEx.run(TestCouncils.Three, &1),
        max_concurrency: @runs,
        timeout: :infinity
      )
      |> Enum.map(fn {:ok, reply} -> reply end)

    assert length(results) == @runs + @large_runs
    assert Enum.all?(results, &match?({:ok, %Result{status: :ok}}, &1))
    finals = Enum.map(results, fn {:ok, r} -> r.final.content end)
    assert length(Enum.uniq(finals)) == length(inputs), "each run's chair saw its own question"
    assert length(FakeProvider.requests(fake)) == 4 * length(inputs)
    assert eventually(fn -> Native.stats().in_flight == 0 end, 60_000)

    # The scheduling rule (c_src/nif/council_nif.c) keeps a NIF call on its
    # normal scheduler only while its input, or the work it measures as it
    # goes, is within a budget sized to stay well under 1 ms; past it the
    # call moves to a dirty scheduler. Checked here by the rule's own
    # counts of what it decided, which a busy machine cannot change (the
    # CPU time a call takes, which it can, is `make bench`'s to report).
    after_runs = Native.stats()
    normal = delta(after_runs.normal_calls, before.normal_calls)
    dirty = delta(after_runs.dirty_calls, before.dirty_calls)

    # Each run copies its input in run_start: on the normal scheduler for
    # the small ones, on a dirty one for the large ones.
    assert normal.run_start == @runs
    assert dirty.run_start == @large_runs

    # The fake server decodes every request with CouncilEx.JSON: the large
    # runs' members' requests (and their chairs', which quote the input)
    # go dirty, the small runs' stay.
    assert dirty.json_decode >= 3 * @large_runs
    assert normal.json_decode >= 4 * @runs

    # Every NIF that decided is one the rule knows by name.
    assert normal.other == 0 and dirty.other == 0
  end

  defp delta(later, earlier), do: Map.new(later, fn {nif, n} -> {nif, n - earlier[nif]} end)
end
