defmodule CouncilEx.EventsTest do
  # The Mock provider is async-safe: scripts are found through $callers.
  use ExUnit.Case, async: true

  import CouncilEx.Test

  alias CouncilEx.{Error, MemberResult, Result, RoundResult, StreamChunk, TestCouncils}
  alias CouncilEx.Providers.Mock

  @answers %{optimist: "Ship it.", skeptic: "Wait a week.", chair: "Ship next Tuesday."}

  defp start_subscribed(council, input, opts \\ []) do
    {:ok, pid} = CouncilEx.start(council, input, Keyword.put(opts, :subscribe, true))
    {pid, CouncilEx.RunServer.run_id(pid)}
  end

  defp events(run_id) do
    receive do
      {:run_completed, ^run_id, _} = e -> [e]
      {:run_failed, ^run_id, _, _} = e -> [e]
      e when is_tuple(e) and elem(e, 1) == run_id -> [e | events(run_id)]
    after
      5_000 -> flunk("no terminal event for #{run_id}")
    end
  end

  # {type, round, member} for each event, for comparing sequences.
  defp shape(events) do
    Enum.map(events, fn
      {:run_started, _, _, _} ->
        :run_started

      {:round_started, _, round, idx} ->
        {:round_started, round, idx}

      {:member_started, _, round, id} ->
        {:member_started, round, id}

      {:member_completed, _, round, id, %MemberResult{status: s}} ->
        {:member_completed, round, id, s}

      {:round_completed, _, round, %RoundResult{}} ->
        {:round_completed, round}

      {:run_completed, _, %Result{}} ->
        :run_completed

      {:run_failed, _, [_ | _], %Result{}} ->
        :run_failed
    end)
  end

  # The events naming member `id`, in order.
  defp member_events(events, id) do
    for e <- events, tuple_size(e) >= 4, elem(e, 0) != :run_started, elem(e, 3) == id, do: e
  end

  # Within a round members may interleave: sort each round's member events.
  defp by_round(shapes) do
    Enum.chunk_by(shapes, fn
      {:member_started, _, _} -> :member
      {:member_completed, _, _, _} -> :member
      other -> other
    end)
    |> Enum.map(fn chunk -> Enum.sort(chunk) end)
  end

  describe "the ten events" do
    test "a completed run, with subscribe: true catching :run_started" do
      script_council(TestCouncils.Mocked, @answers)
      {_pid, run_id} = start_subscribed(TestCouncils.Mocked, %{question: "Ship?"})
      events = events(run_id)

      assert [{:run_started, ^run_id, TestCouncils.Mocked, %{question: "Ship?"}} | _] = events

      assert by_round(shape(events)) ==
               by_round([
                 :run_started,
                 {:round_started, :independent_analysis, 0},
                 {:member_started, :independent_analysis, :optimist},
                 {:member_started, :independent_analysis, :skeptic},
                 {:member_completed, :independent_analysis, :optimist, :ok},
                 {:member_completed, :independent_analysis, :skeptic, :ok},
                 {:round_completed, :independent_analysis},
                 {:round_started, :synthesis, 1},
                 {:member_started, :synthesis, :chair},
                 {:member_completed, :synthesis, :chair, :ok},
                 {:round_completed, :synthesis},
                 :run_completed
               ])

      # Each member's own events stay in order.
      for id <- [:optimist, :skeptic] do
        assert [{:member_started, _, _, ^id}, {:member_completed, _, _, ^id, _}] =
                 member_events(events, id)
      end

      assert {:run_completed, ^run_id, %Result{status: :ok, final: final}} = List.last(events)
      assert final.content == "Ship next Tuesday."
    end

    test "a failed run: every member fails, the chair is never called" do
      Mock.script(:optimist, error: [kind: :transient, reason: :rate_limit, message: "slow down"])
      Mock.script(:skeptic, error: :timeout)
      {_pid, run_id} = start_subscribed(TestCouncils.Mocked, "Ship?")
      events = events(run_id)

      assert by_round(shape(events)) ==
               by_round([
                 :run_started,
                 {:round_started, :independent_analysis, 0},
                 {:member_started, :independent_analysis, :optimist},
                 {:member_started, :independent_analysis, :skeptic},
                 {:member_completed, :independent_analysis, :optimist, :error},
                 {:member_completed, :independent_analysis, :skeptic, :timeout},
                 {:round_completed, :independent_analysis},
                 :run_failed
               ])

      assert {:run_failed, ^run_id, errors, %Result{status: :error, final: nil}} =
               List.last(events)

      assert %Error{
               kind: :transient,
               reason: :rate_limit,
               member_id: :optimist,
               provider: :mock,
               message: "slow down"
             } = Enum.find(errors, &(&1.member_id == :optimist))

      assert %Error{kind: :timeout, member_id: :skeptic} =
               Enum.find(errors, &(&1.member_id == :skeptic))

      assert %Error{kind: :permanent, reason: :no_member_succeeded} = List.last(errors)
    end

    test "a cancelled run ends in :run_failed with a :cancelled error" do
      Mock.script(:optimist, content: "fast")
      Mock.script(:skeptic, content: "slow", delay_ms: 5_000)
      {pid, run_id} = start_subscribed(TestCouncils.Mocked, "Ship?")
      assert_receive {:member_completed, ^run_id, :independent_analysis, :optimist, _}, 2_000

      assert :ok = CouncilEx.cancel(run_id)
      events = events(run_id)

      # (optimist's completion was taken out of the mailbox above)
      assert [
               :run_started,
               {:round_started, :independent_analysis, 0},
               {:member_started, :independent_analysis, :optimist},
               {:member_started, :independent_analysis, :skeptic},
               {:member_completed, :independent_analysis, :skeptic, :cancelled},
               :run_failed
             ] = shape(events)

      assert {:run_failed, ^run_id, errors, %Result{status: :cancelled} = result} =
               List.last(events)

      assert Enum.any?(errors, &match?(%Error{kind: :cancelled, member_id: nil}, &1))
      assert [%RoundResult{name: :independent_analysis, member_results: members}] = result.rounds
      assert members[:optimist].status == :ok
      assert members[:skeptic].status == :cancelled
      assert {:ok, %{status: :cancelled}} = CouncilEx.RunServer.state(run_id)
      assert Process.alive?(pid)
    end

    test "streamed members broadcast :member_token chunks in order; the result is the joined text" do
      Mock.script(:talker, stream: ["Lo", "rem ", "ip", "sum"], chunk_delay_ms: 2)
      Mock.script(:quiet, stream: ["not ", "streamed"])
      {_pid, run_id} = start_subscribed(TestCouncils.MockedStream, "Speak")
      events = events(run_id)

      tokens =
        for {:member_token, _, :independent_analysis, id, %StreamChunk{} = c} <- events,
            do: {id, c}

      assert Enum.map(tokens, fn {:talker, c} -> c.content end) == ["Lo", "rem ", "ip", "sum"]
      assert Enum.map(tokens, fn {_, c} -> c.index end) == [0, 1, 2, 3]
      assert {_, %StreamChunk{finish_reason: :stop}} = List.last(tokens)

      # Every token comes between the member's started and completed events.
      assert Enum.map(member_events(events, :talker), &elem(&1, 0)) == [
               :member_started,
               :member_token,
               :member_token,
               :member_token,
               :member_token,
               :member_completed
             ]

      {:run_completed, _, result} = List.last(events)
      [round] = result.rounds
      assert round.member_results[:talker].response.content == "Lorem ipsum"
      assert round.member_results[:quiet].response.content == "not streamed"
    end

    test "relay_topics receive every event too" do
      script_council(TestCouncils.Mocked, "same")
      topic = "tenant:#{System.unique_integer([:positive])}"
      :ok = CouncilEx.PubSub.subscribe(topic)
      {:ok, result} = CouncilEx.run(TestCouncils.Mocked, "hi", relay_topics: [topic])
      run_id = result.run_id

      assert_receive {:run_started, ^run_id, _, _}
      assert_receive {:round_completed, ^run_id, :synthesis, _}
      assert_receive {:run_completed, ^run_id, ^result}
    end
  end

  describe "CouncilEx.Test helpers" do
    test "script_council/2 with a function, capture_events/2 and assert_round_completed/3" do
      script_council(TestCouncils.Mocked, fn id, module -> "#{id} via #{inspect(module)}" end)
      {_pid, run_id} = start_subscribed(TestCouncils.Mocked, "q")

      round = assert_round_completed(:independent_analysis, run_id, 2_000)

      assert round.member_results[:skeptic].response.content ==
               "skeptic via CouncilEx.TestCouncils.Skeptic"

      assert round.member_results[:optimist].response.content == "optimist via nil"
      assert_round_completed(:synthesis, run_id, 2_000)
    end

    test "capture_events/2 collects up to the terminal event" do
      Mock.script(:optimist, content: "a", delay_ms: 50)
      Mock.script(:skeptic, content: "b", delay_ms: 50)
      Mock.script(:chair, content: "c")
      {:ok, pid} = CouncilEx.start(TestCouncils.Mocked, "q")
      events = capture_events(CouncilEx.RunServer.run_id(pid))

      assert {:run_completed, _, %Result{final: %{content: "c"}}} = List.last(events)
      assert Enum.any?(events, &match?({:round_completed, _, :synthesis, _}, &1))
    end

    test "a missing script fails only that member, naming it" do
      Mock.script(:optimist, content: "here")
      Mock.script(:chair, content: "done")
      {:ok, result} = CouncilEx.run(TestCouncils.Mocked, "q")

      assert result.status == :partial

      assert [%Error{reason: :not_scripted, member_id: :skeptic, message: message}] =
               result.errors

      assert message =~ "no Mock script for member :skeptic"
    end

    test "a script function sees the rendered request" do
      parent = self()

      Mock.script(:optimist, fn request ->
        send(parent, {:request, request})

        {:ok,
         %CouncilEx.Response{
           content: "ok",
           model: "custom",
           usage: %{input_tokens: 1, output_tokens: 2}
         }}
      end)

      Mock.script(:skeptic, fn _ -> {:error, :boom} end)
      Mock.script(:chair, fn _ -> raise "chair exploded" end)

      assert {:error, %Result{} = result} = CouncilEx.run(TestCouncils.Mocked, "What now?")
      assert_received {:request, %CouncilEx.Request{} = req}
      assert req.member_id == :optimist
      assert req.round_name == :independent_analysis
      assert req.run_id == result.run_id
      assert req.model == "mock-a"
      assert [%{role: "user", content: "What now?"}] = req.messages

      [r0, r1] = result.rounds
      assert r0.member_results[:optimist].response.model == "custom"
      assert r0.member_results[:optimist].response.usage == %{input_tokens: 1, output_tokens: 2}
      assert %Error{kind: :permanent, reason: :boom} = r0.member_results[:skeptic].error

      assert %Error{reason: :dispatcher_crashed, message: "chair exploded"} =
               r1.member_results[:chair].error
    end

    test "scripts are per test process: another process's scripts are not seen" do
      task =
        Task.async(fn ->
          # Not a $caller of the runs below.
          Mock.script(:optimist, content: "from elsewhere")
          receive do: (:done -> :ok)
        end)

      Mock.script(:skeptic, content: "mine")
      Mock.script(:chair, content: "done")
      {:ok, result} = CouncilEx.run(TestCouncils.Mocked, "q")
      send(task.pid, :done)
      Task.await(task)

      assert [%RoundResult{member_results: members} | _] = result.rounds
      assert members[:optimist].error.reason == :not_scripted
    end
  end
end
