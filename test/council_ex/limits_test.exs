defmodule CouncilEx.LimitsTest do
  # Issue 12's limits, against the fake provider: a member's timeout_ms is
  # its whole budget (every attempt, backoff wait and tool turn), one
  # attempt may be bounded by request_timeout_ms, a reply may hold at most
  # max_tool_calls tool calls, and a tool turn runs at most
  # tool_concurrency_factor * schedulers calls at once. Times are asserted
  # as bounds with wide margins, never as exact durations.
  use CouncilEx.FakeCase, async: false

  alias CouncilEx.{Error, ToolCallResult}
  alias CouncilEx.RunServer.ToolTurn

  defmodule Slow do
    @moduledoc false
    @behaviour CouncilEx.Tool
    def name, do: "slow"
    def description, do: "Takes its time."
    def parameters_schema, do: %{"type" => "object"}

    def execute(_args) do
      send(CouncilEx.LimitsTest.Listener, {:tool_running, self()})
      Process.sleep(30_000)
      {:ok, "too late"}
    end
  end

  defmodule Counted do
    @moduledoc false
    # Counts how many of its calls run at once, in an Agent the test starts.
    @behaviour CouncilEx.Tool
    def name, do: "counted"
    def description, do: "Counts."
    def parameters_schema, do: %{"type" => "object"}

    def execute(_args) do
      Agent.update(CouncilEx.LimitsTest.Peak, fn {running, peak} ->
        {running + 1, max(peak, running + 1)}
      end)

      Process.sleep(100)
      Agent.update(CouncilEx.LimitsTest.Peak, fn {running, peak} -> {running - 1, peak} end)
      {:ok, "counted"}
    end
  end

  defmodule Hinted do
    @moduledoc false
    use CouncilEx
    member(:solo, provider: :fake, model: "solo-model", timeout_ms: 1_000, retry: {3, 100})
    member(:duo, provider: :fake, model: "duo-model")
    round(:independent_analysis)
  end

  defmodule SlowTool do
    @moduledoc false
    use CouncilEx

    member(:solo,
      provider: :fake,
      model: "tool-model",
      tools: [CouncilEx.LimitsTest.Slow],
      tool_timeout_ms: 60_000,
      timeout_ms: 1_000
    )
  end

  defmodule PerAttempt do
    @moduledoc false
    use CouncilEx

    member(:solo,
      provider: :fake,
      model: "solo-model",
      timeout_ms: 8_000,
      request_timeout_ms: 1_000,
      retry: {2, 10}
    )
  end

  defmodule WholeBudget do
    @moduledoc false
    use CouncilEx
    member(:solo, provider: :fake, model: "solo-model", timeout_ms: 500, retry: {3, 10})
  end

  defmodule Capped do
    @moduledoc false
    use CouncilEx

    member(:solo,
      provider: :fake,
      model: "tool-model",
      tools: [CouncilEx.LimitsTest.Counted],
      max_tool_calls: 3
    )
  end

  defmodule CappedStream do
    @moduledoc false
    use CouncilEx

    member(:solo,
      provider: :fake,
      model: "tool-model",
      tools: [CouncilEx.LimitsTest.Counted],
      max_tool_calls: 3,
      stream: true
    )
  end

  defmodule DefaultCap do
    @moduledoc false
    use CouncilEx
    member(:solo, provider: :fake, model: "tool-model", tools: [CouncilEx.LimitsTest.Counted])
  end

  defmodule Narrow do
    @moduledoc false
    use CouncilEx

    member(:solo,
      provider: :fake,
      model: "tool-model",
      tools: [CouncilEx.LimitsTest.Counted],
      tool_concurrency_factor: 0.5
    )
  end

  defp calls(n),
    do: for(i <- 1..n, do: %{"id" => "call_#{i}", "name" => "counted", "arguments" => %{}})

  defp requests_for(fake, model),
    do: Enum.count(FakeProvider.requests(fake), &(&1.body["model"] == model))

  defp timed(fun) do
    started = System.monotonic_time(:millisecond)
    result = fun.()
    {result, System.monotonic_time(:millisecond) - started}
  end

  describe "timeout_ms is the member call's whole budget" do
    test "a 429 asking for 20 s within a 1 s budget fails the member as a timeout, well before the hint",
         %{fake: fake} do
      FakeProvider.script(fake, "solo-model", [
        [status: 429, headers: [{"retry-after", "20"}], message: "Rate limit reached"],
        [content: "Too late."]
      ])

      {{:ok, result}, elapsed} = timed(fn -> CouncilEx.run(Hinted, "q") end)
      assert elapsed < 10_000, "took #{elapsed} ms: the 20 s hint was slept on"

      solo = hd(result.rounds).member_results[:solo]
      assert solo.status == :timeout
      assert solo.attempts == 1

      assert %Error{
               kind: :timeout,
               reason: :timeout,
               status: 429,
               retry_after_ms: 20_000,
               member_id: :solo,
               message: message
             } = solo.error

      assert message =~ "the retry hint (20000 ms) exceeds the remaining budget"
      assert message =~ "of timeout_ms"
      assert hd(result.rounds).member_results[:duo].status == :ok
      assert requests_for(fake, "solo-model") == 1
    end

    test "a tool turn that outlives the budget ends the member as a timeout and stops the tool",
         %{fake: fake} do
      Process.register(self(), CouncilEx.LimitsTest.Listener)

      FakeProvider.script(fake, "tool-model", [
        [tool_calls: [%{"id" => "call_1", "name" => "slow", "arguments" => %{}}]],
        [content: "Never asked."]
      ])

      {{:error, result}, elapsed} = timed(fn -> CouncilEx.run(SlowTool, "q") end)
      assert elapsed < 10_000, "took #{elapsed} ms: the tool turn was not bounded"

      solo = hd(result.rounds).member_results[:solo]
      assert solo.status == :timeout
      assert %Error{kind: :timeout, reason: :timeout, message: message} = solo.error
      assert message =~ "tool calls outlived"

      assert_received {:tool_running, tool}
      ref = Process.monitor(tool)
      assert_receive {:DOWN, ^ref, :process, ^tool, _}, 5_000
      assert requests_for(fake, "tool-model") == 1
    end

    test "request_timeout_ms bounds one attempt, and the retry succeeds within timeout_ms",
         %{fake: fake} do
      FakeProvider.script(fake, "solo-model", [
        [latency_ms: 10_000, content: "Slow."],
        [content: "Second time lucky."]
      ])

      {{:ok, result}, elapsed} = timed(fn -> CouncilEx.run(PerAttempt, "q") end)
      assert elapsed < 8_000, "took #{elapsed} ms: the first attempt was not cut short"

      solo = hd(result.rounds).member_results[:solo]
      assert solo.status == :ok
      assert solo.response.content == "Second time lucky."
      assert solo.attempts == 2
      assert requests_for(fake, "solo-model") == 2
    end

    test "without request_timeout_ms an attempt may take the whole budget, and then no retry follows",
         %{fake: fake} do
      FakeProvider.script(fake, "solo-model", [
        [latency_ms: 10_000, content: "Slow."],
        [content: "Never asked."]
      ])

      {{:error, result}, elapsed} = timed(fn -> CouncilEx.run(WholeBudget, "q") end)
      assert elapsed < 8_000, "took #{elapsed} ms"

      solo = hd(result.rounds).member_results[:solo]
      assert solo.status == :timeout
      assert %Error{kind: :timeout, reason: :timeout} = solo.error
      assert solo.attempts == 1
    end
  end

  describe "max_tool_calls caps the tool calls of one reply" do
    test "a non-streamed reply with one call past the cap fails the member, naming the cap",
         %{fake: fake} do
      FakeProvider.script(fake, "tool-model", [[tool_calls: calls(4)], [content: "Never."]])

      {:ok, pid} = CouncilEx.start(Capped, "q", subscribe: true)
      events = collect_events(CouncilEx.RunServer.run_id(pid))
      {:run_failed, _, _, result} = List.last(events)

      solo = hd(result.rounds).member_results[:solo]
      assert solo.status == :error

      assert %Error{
               kind: :permanent,
               reason: :too_many_tool_calls,
               member_id: :solo,
               message: "the reply holds more than 3 tool calls (max_tool_calls)"
             } = solo.error

      assert Enum.filter(events, &(elem(&1, 0) == :tool_call_request)) == []
      assert requests_for(fake, "tool-model") == 1
    end

    test "a streamed reply with one call past the cap fails the member the same way",
         %{fake: fake} do
      FakeProvider.script(fake, "tool-model", [[tool_calls: calls(4)], [content: "Never."]])

      {:error, result} = CouncilEx.run(CappedStream, "q")
      solo = hd(result.rounds).member_results[:solo]

      assert %Error{
               kind: :permanent,
               reason: :too_many_tool_calls,
               message: "the reply holds more than 3 tool calls (max_tool_calls)"
             } = solo.error

      assert requests_for(fake, "tool-model") == 1
    end

    test "the default cap is 128", %{fake: fake} do
      FakeProvider.script(fake, "tool-model", [[tool_calls: calls(129)], [content: "Never."]])
      {:error, result} = CouncilEx.run(DefaultCap, "q")
      solo = hd(result.rounds).member_results[:solo]
      assert %Error{reason: :too_many_tool_calls, message: message} = solo.error
      assert message =~ "more than 128 tool calls"
    end

    test "a reply at the cap runs its calls", %{fake: fake} do
      start_supervised!(%{
        id: :peak,
        start: {Agent, :start_link, [fn -> {0, 0} end, [name: CouncilEx.LimitsTest.Peak]]}
      })

      FakeProvider.script(fake, "tool-model", [[tool_calls: calls(3)], [content: "Counted."]])
      {:ok, result} = CouncilEx.run(Capped, "q")
      assert hd(result.rounds).member_results[:solo].response.content == "Counted."
    end
  end

  describe "tool_concurrency_factor bounds the calls of a turn that run at once" do
    test "a turn of many calls never runs more than the limit at once", %{fake: fake} do
      start_supervised!(%{
        id: :peak,
        start: {Agent, :start_link, [fn -> {0, 0} end, [name: CouncilEx.LimitsTest.Peak]]}
      })

      limit = max(ceil(0.5 * System.schedulers_online()), 1)
      n = 8
      assert limit < n, "the test needs more calls than the limit"

      FakeProvider.script(fake, "tool-model", [[tool_calls: calls(n)], [content: "Counted."]])

      {:ok, pid} = CouncilEx.start(Narrow, "q", subscribe: true)
      events = collect_events(CouncilEx.RunServer.run_id(pid))
      assert {:run_completed, _, _} = List.last(events)

      results = for {:tool_call_result, _, _, _, %ToolCallResult{} = r} <- events, do: r
      assert length(results) == n
      assert Enum.all?(results, &(&1.result == "counted"))

      {running, peak} = Agent.get(CouncilEx.LimitsTest.Peak, & &1)
      assert running == 0
      assert peak >= 1 and peak <= limit, "#{peak} calls ran at once, the limit is #{limit}"
    end

    test "the limit: 1 without parallel tools, else factor * schedulers (at least 1)" do
      schedulers = System.schedulers_online()
      assert ToolTurn.concurrency(parallel_tools: false, tool_concurrency_factor: 8) == 1
      assert ToolTurn.concurrency([]) == schedulers, "the default factor is 1.0"
      assert ToolTurn.concurrency(tool_concurrency_factor: 2) == 2 * schedulers
      assert ToolTurn.concurrency(tool_concurrency_factor: 1.0e-9) == 1
    end
  end
end
