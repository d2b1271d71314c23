defmodule CouncilEx.RecorderTest do
  use ExUnit.Case, async: true

  import CouncilEx.Test
  import ExUnit.CaptureLog

  alias CouncilEx.{Result, TestCouncils, TestRecorder}
  alias CouncilEx.Providers.Mock

  defp recorded(run_id) do
    receive do
      {:recorder, ^run_id, {:finalize, outcome}} -> [{:finalize, outcome}]
      {:recorder, ^run_id, {:event, event}} -> [elem(event, 0) | recorded(run_id)]
    after
      3_000 -> flunk("the recorder never finalized")
    end
  end

  test "starts before the run, sees every event in order, finalizes once with {:ok, result}" do
    script_council(TestCouncils.Mocked, "x")

    {:ok, pid} =
      CouncilEx.start(TestCouncils.Mocked, "q", recorder: {TestRecorder, self()}, subscribe: true)

    run_id = CouncilEx.RunServer.run_id(pid)
    assert_receive {:recorder, ^run_id, {:init, recorder}}
    ref = Process.monitor(recorder)

    events = recorded(run_id)
    assert hd(events) == :run_started
    assert {:finalize, {:ok, %Result{status: :ok}}} = List.last(events)

    assert_receive {:recorder, ^run_id, {:seen, n}} when n == length(events) - 1
    # The same events, in the same order, as a subscriber saw.
    assert Enum.drop(events, -1) == collect_types(run_id)
    # It stops once it has finalized: normally, or before this test could
    # monitor it.
    assert_receive {:DOWN, ^ref, :process, ^recorder, reason} when reason in [:normal, :noproc]
    refute_receive {:recorder, ^run_id, {:finalize, _}}, 50
  end

  defp collect_types(run_id) do
    receive do
      {:recorder, _, _} -> collect_types(run_id)
      e when is_tuple(e) and elem(e, 1) == run_id -> [elem(e, 0) | collect_types(run_id)]
    after
      0 -> []
    end
  end

  test "a failed run finalizes with {:error, result}, a cancelled one with :cancelled" do
    Mock.script(:optimist, error: :timeout)
    Mock.script(:skeptic, error: :timeout)

    {:ok, _} =
      CouncilEx.start(TestCouncils.Mocked, "q",
        run_id: "rec-fail",
        recorder: {TestRecorder, self()}
      )

    assert {:finalize, {:error, %Result{status: :error}}} = List.last(recorded("rec-fail"))

    Mock.script(:optimist, content: "x", delay_ms: 5_000)

    {:ok, _} =
      CouncilEx.start(TestCouncils.Mocked, "q",
        run_id: "rec-cancel",
        recorder: {TestRecorder, self()}
      )

    assert_receive {:recorder, "rec-cancel", {:event, {:member_started, _, _, _}}}
    :ok = CouncilEx.cancel("rec-cancel")
    assert {:finalize, :cancelled} = List.last(recorded("rec-cancel"))
  end

  test "a killed run finalizes with {:error, {:runserver_crashed, reason}}" do
    Mock.script(:optimist, content: "x", delay_ms: 5_000)
    Mock.script(:skeptic, content: "x", delay_ms: 5_000)

    {:ok, pid} =
      CouncilEx.start(TestCouncils.Mocked, "q",
        run_id: "rec-kill",
        recorder: {TestRecorder, self()}
      )

    assert_receive {:recorder, "rec-kill", {:event, {:member_started, _, _, _}}}
    Process.exit(pid, :kill)
    assert {:finalize, {:error, {:runserver_crashed, :killed}}} = List.last(recorded("rec-kill"))
    refute_receive {:recorder, "rec-kill", {:finalize, _}}, 50
  end

  test "a recorder that raises never harms the run and still finalizes once" do
    script_council(TestCouncils.Mocked, "x")

    log =
      capture_log(fn ->
        {:ok, result} =
          CouncilEx.run(TestCouncils.Mocked, "q",
            run_id: "rec-crash",
            recorder: {TestRecorder, {self(), crash_on: :round_started}}
          )

        assert result.status == :ok
        events = recorded("rec-crash")
        refute :round_started in events
        assert :round_completed in events
        assert {:finalize, {:ok, %Result{}}} = List.last(events)
      end)

    assert log =~ "skipped round_started"
  end

  test "a recorder whose init refuses records nothing, and the run proceeds" do
    script_council(TestCouncils.Mocked, "x")

    log =
      capture_log(fn ->
        assert {:ok, %Result{}} =
                 CouncilEx.run(TestCouncils.Mocked, "q",
                   run_id: "rec-stop",
                   recorder: {TestRecorder, {self(), init: {:stop, :no_db}}}
                 )
      end)

    assert_received {:recorder, "rec-stop", {:init, _}}
    refute_received {:recorder, "rec-stop", {:event, _}}
    assert log =~ "did not start"
  end

  test "a recorder module without the callbacks is rejected before anything starts" do
    assert {:error, %CouncilEx.Error{kind: :validation, message: message}} =
             CouncilEx.start(TestCouncils.Mocked, "q", recorder: {String, []})

    assert message =~ "invalid value for run option :recorder"

    assert {:error, %CouncilEx.Error{kind: :validation, message: message}} =
             CouncilEx.start(TestCouncils.Mocked, "q", recorder: TestRecorder)

    assert message =~ ":recorder"
  end
end
