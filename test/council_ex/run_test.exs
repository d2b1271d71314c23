defmodule CouncilEx.RunTest do
  use CouncilEx.FakeCase, async: false

  alias CouncilEx.{Error, MemberResult, Result, RoundResult}

  @question %{question: "Should we ship on Friday?", team: "payments"}

  describe "a three-member council with a chair over HTTP" do
    test "completes with every member's answer and the chair's synthesis", %{fake: fake} do
      assert {:ok, %Result{} = result} = CouncilEx.run(TestCouncils.Three, @question)

      assert result.status == :ok
      assert result.errors == []

      assert [
               %RoundResult{name: :independent_analysis, idx: 0} = r0,
               %RoundResult{name: :synthesis, idx: 1} = r1
             ] = result.rounds

      assert Enum.map(r0.member_results, &elem(&1, 0)) == [:alpha, :beta, :gamma]

      for {id, %MemberResult{} = mr} <- r0.member_results do
        assert mr.status == :ok
        assert mr.member_id == id
        assert mr.provider == :fake
        assert mr.model == "#{id}-model"
        assert mr.response.content =~ "#{id}-model answers:"
        assert mr.response.model == "#{id}-model"
        assert mr.response.finish_reason == "stop"
        assert is_integer(mr.response.usage.input_tokens) and mr.response.usage.input_tokens > 0
        assert is_integer(mr.response.usage.output_tokens)
        assert is_integer(mr.latency_ms) and mr.latency_ms >= 0
      end

      assert [{:chair, %MemberResult{status: :ok} = chair}] = r1.member_results
      assert result.final == chair.response
      assert result.final.content =~ "chair-model answers:"
      assert result.metadata.total_input_tokens > 0

      # What went over the wire: members saw the input, the chair saw every answer.
      requests = FakeProvider.requests(fake)
      assert length(requests) == 4
      {member_reqs, [chair_req]} = Enum.split(requests, 3)

      for req <- member_reqs do
        assert {"authorization", "Bearer sk-test-secret-4242"} in req.headers
        assert %{"messages" => messages, "stream" => false} = req.body

        assert List.last(messages) == %{
                 "role" => "user",
                 "content" => "Should we ship on Friday?\nteam: payments"
               }
      end

      alpha = Enum.find(member_reqs, &(&1.body["model"] == "alpha-model"))
      assert alpha.body["temperature"] == 0.2
      assert hd(alpha.body["messages"])["content"] =~ "You are the skeptic"
      beta = Enum.find(member_reqs, &(&1.body["model"] == "beta-model"))
      assert beta.body["max_completion_tokens"] == 300
      refute Map.has_key?(beta.body, "temperature")

      [system, user] = chair_req.body["messages"]
      assert system["role"] == "system"
      assert user["content"] =~ "Should we ship on Friday?"

      for {id, mr} <- r0.member_results do
        assert user["content"] =~ "### Member #{id} (#{id}-model)"
        assert user["content"] =~ mr.response.content
      end
    end

    test "a council without a chair ends after its member round" do
      assert {:ok, result} = CouncilEx.run(TestCouncils.NoChair, "plain text input")
      assert result.final == nil

      assert [%RoundResult{name: :independent_analysis, member_results: [solo: _, duo: _]}] =
               result.rounds
    end
  end

  describe "large payloads" do
    test "a 1 MB input reaches every member intact and a 2 MB answer comes back whole", %{
      fake: fake
    } do
      input = String.duplicate("Ünïcödé \"quoted\"\n\tline ✓ ", 40_000)
      assert byte_size(input) > 1_000_000
      answer = String.duplicate("long answer 🙂 ", 150_000)
      FakeProvider.script(fake, "solo-model", content: answer)

      assert {:ok, result} = CouncilEx.run(TestCouncils.NoChair, input)
      assert MemberResult.content(hd(result.rounds).member_results[:solo]) == answer

      for req <- FakeProvider.requests(fake) do
        assert List.last(req.body["messages"])["content"] == input
      end
    end
  end

  describe "member failures" do
    test "a member whose call returns 500 is reported as failed and the run completes", %{
      fake: fake
    } do
      FakeProvider.script(fake, "beta-model",
        status: 500,
        message: "upstream exploded",
        type: "server_error"
      )

      assert {:ok, result} = CouncilEx.run(TestCouncils.Three, @question)
      assert result.status == :partial
      [r0, _] = result.rounds
      beta = r0.member_results[:beta]

      assert %MemberResult{status: :error, response: nil, error: %Error{} = error} = beta
      assert error.kind == :transient
      assert error.reason == :http_error
      assert error.status == 500
      assert error.message == "upstream exploded"
      assert error.type == "server_error"
      assert error.member_id == :beta
      assert error.provider == :fake
      assert result.errors == [error]
      assert result.final.content =~ "chair-model answers:"

      chair_req = List.last(FakeProvider.requests(fake))

      assert List.last(chair_req.body["messages"])["content"] =~
               "### Member beta (beta-model)\n(no answer: http_error)"
    end

    test "a malformed 200 body fails only that member", %{fake: fake} do
      FakeProvider.script(fake, "gamma-model", body: ~s({"choices": [{"message": ), status: 200)
      assert {:ok, result} = CouncilEx.run(TestCouncils.Three, @question)
      gamma = hd(result.rounds).member_results[:gamma]
      assert gamma.error.reason == :invalid_json
      assert gamma.error.kind == :permanent
    end

    test "a body over :max_response_bytes fails the call", %{fake: fake} do
      FakeProvider.script(fake, "solo-model", content: String.duplicate("x", 50_000))

      assert {:ok, result} = CouncilEx.run(TestCouncils.NoChair, "hi", max_response_bytes: 10_000)
      solo = hd(result.rounds).member_results[:solo]
      assert solo.error.reason == :response_too_large
      assert hd(result.rounds).member_results[:duo].status == :ok
    end

    test "a call past :member_timeout_ms is a timeout", %{fake: fake} do
      FakeProvider.script(fake, "solo-model", latency_ms: 2_000)

      assert {:ok, result} = CouncilEx.run(TestCouncils.NoChair, "hi", member_timeout_ms: 200)
      solo = hd(result.rounds).member_results[:solo]
      assert solo.status == :timeout
      assert solo.error.kind == :timeout
    end

    test "when every member fails the run fails with every error and a partial result", %{
      fake: fake
    } do
      for m <- ~w(alpha-model beta-model gamma-model),
          do: FakeProvider.script(fake, m, status: 401)

      assert {:error, %Result{status: :error} = result} =
               CouncilEx.run(TestCouncils.Three, @question)

      assert [%RoundResult{name: :independent_analysis}] = result.rounds
      assert length(result.errors) == 4
      assert List.last(result.errors).reason == :no_member_succeeded
      assert Enum.all?(Enum.take(result.errors, 3), &(&1.kind == :permanent and &1.status == 401))
      # The chair was never called.
      assert length(FakeProvider.requests(fake)) == 3
    end

    test "a chair failure fails the run", %{fake: fake} do
      FakeProvider.script(fake, "chair-model", status: 503)
      assert {:error, result} = CouncilEx.run(TestCouncils.Three, @question)
      assert List.last(result.errors).reason == :chair_failed
      assert result.final == nil
    end

    test "an unreachable provider is a transient connect failure" do
      Application.put_env(:council_ex, :providers,
        fake: [
          adapter: CouncilEx.Provider.Adapters.OpenAI,
          api_key: nil,
          base_url: "http://127.0.0.1:1/v1"
        ]
      )

      assert {:error, result} = CouncilEx.run(TestCouncils.NoChair, "hi")

      assert Enum.all?(hd(result.rounds).member_results, fn {_, mr} ->
               mr.error.reason == :connect_failed
             end)
    end
  end

  describe "validation before any process starts" do
    test "an unconfigured provider" do
      Application.put_env(:council_ex, :providers, [])
      before = Process.list()

      assert {:error, %Error{kind: :validation, reason: :unknown_provider} = e} =
               CouncilEx.run(TestCouncils.NoChair, "hi")

      assert [%{member_id: :solo}, %{member_id: :duo}] = e.context.errors
      assert Exception.message(e) =~ "member :solo: provider :fake is not configured"
      assert Enum.filter(Process.list() -- before, &Process.alive?/1) == []
    end

    test "a missing API key names the variable, never a value" do
      Application.put_env(:council_ex, :providers,
        fake: [
          adapter: CouncilEx.Provider.Adapters.OpenAI,
          api_key: {:system, "COUNCIL_EX_UNSET_KEY"}
        ]
      )

      assert {:error, %Error{reason: :missing_api_key, message: msg}} =
               CouncilEx.run(TestCouncils.NoChair, "hi")

      assert msg =~ "COUNCIL_EX_UNSET_KEY is not set"
    end

    test "non-UTF-8 input" do
      assert {:error, %Error{reason: :invalid_input}} =
               CouncilEx.run(TestCouncils.NoChair, <<0xFF, 0xFE>>)
    end

    test "not a council, and unknown options" do
      assert {:error, %Error{reason: :invalid_council}} = CouncilEx.run(String, "hi")

      assert {:error, %Error{reason: :invalid_option, message: message}} =
               CouncilEx.run(TestCouncils.NoChair, "hi", colour: 1)

      assert message =~ "unknown run option :colour"
    end
  end

  describe "events" do
    test "arrive in order on the run topic, from :run_started to :run_completed" do
      {:ok, pid} =
        CouncilEx.start(TestCouncils.Three, @question, subscribe: true, run_id: "events-1")

      events = collect_events("events-1")
      names = Enum.map(events, &elem(&1, 0))

      assert hd(events) == {:run_started, "events-1", TestCouncils.Three, @question}
      assert List.last(names) == :run_completed
      assert Enum.count(names, &(&1 == :member_completed)) == 4

      # Strict round order: every round-0 event comes before round 1 starts.
      assert [{:round_started, _, :independent_analysis, 0} | _] = Enum.drop(events, 1)
      round1 = Enum.find_index(events, &match?({:round_started, _, :synthesis, 1}, &1))

      completed0 =
        Enum.find_index(events, &match?({:round_completed, _, :independent_analysis, _}, &1))

      assert completed0 < round1

      for id <- [:alpha, :beta, :gamma] do
        started = Enum.find_index(events, &match?({:member_started, _, _, ^id}, &1))
        done = Enum.find_index(events, &match?({:member_completed, _, _, ^id, _}, &1))
        assert started < done and done < completed0
      end

      assert {:ok, %Result{status: :ok}} = CouncilEx.await(pid)
    end

    test "API keys appear in no event, result, error or inspect output", %{fake: fake} do
      FakeProvider.script(fake, "beta-model", status: 401, message: "bad key")

      {:ok, pid} =
        CouncilEx.start(TestCouncils.Three, @question, subscribe: true, run_id: "secret-1")

      events = collect_events("secret-1")
      {:ok, result} = CouncilEx.await(pid)

      # Nor do the start options, which carry the run's lowered plan into
      # the RunServer (and into a supervisor's child spec).
      {:ok, start_opts} = CouncilEx.server_opts(TestCouncils.Three, @question, [])
      assert start_opts[:plan]

      text =
        inspect({events, result, :sys.get_state(pid), start_opts},
          limit: :infinity,
          printable_limit: :infinity
        )

      refute text =~ "sk-test-secret-4242"

      assert {"authorization", "Bearer sk-test-secret-4242"} in hd(FakeProvider.requests(fake)).headers
    end
  end

  describe "lifecycle" do
    test "a RunServer killed mid-flight leaves no transfer in flight and frees the run", %{
      fake: fake
    } do
      for m <- ~w(alpha-model beta-model gamma-model),
          do: FakeProvider.script(fake, m, latency_ms: 5_000)

      # Runs of earlier tests are finished but may still be winding down.
      assert eventually(fn -> Native.stats().in_flight == 0 and live_runs() == 0 end)

      {:ok, pid} = CouncilEx.start(TestCouncils.Three, @question)
      assert eventually(fn -> Native.stats().in_flight == 3 end)
      assert eventually(fn -> FakeProvider.in_flight(fake) == 3 end)
      assert Native.stats().runs == 1

      ref = Process.monitor(pid)
      Process.exit(pid, :kill)
      assert_receive {:DOWN, ^ref, :process, ^pid, :killed}

      assert eventually(fn -> Native.stats().in_flight == 0 end, 10_000)
      assert eventually(fn -> live_runs() == 0 end, 10_000)
      # The engine closed the connections: the fake provider stops waiting.
      assert eventually(fn -> FakeProvider.in_flight(fake) == 0 end, 6_000)
    end

    test "cancel stops the calls in C and ends the run as cancelled", %{fake: fake} do
      for m <- ~w(alpha-model beta-model gamma-model),
          do: FakeProvider.script(fake, m, latency_ms: 5_000)

      assert eventually(fn -> Native.stats().in_flight == 0 end)

      {:ok, pid} = CouncilEx.start(TestCouncils.Three, @question)
      assert eventually(fn -> Native.stats().in_flight == 3 end)
      :ok = CouncilEx.cancel(pid)

      assert {:error, %Result{status: :cancelled} = result} = CouncilEx.await(pid, 1_000)
      assert List.last(result.errors).kind == :cancelled

      assert Enum.all?(hd(result.rounds).member_results, fn {_, mr} -> mr.status == :cancelled end)

      assert Native.stats().in_flight == 0
    end

    test "start_link ties the run to its caller" do
      test_pid = self()

      caller =
        spawn(fn ->
          {:ok, pid} = CouncilEx.start_link(TestCouncils.NoChair, "hi", retention_ms: 60_000)
          send(test_pid, {:run, pid})
          Process.sleep(:infinity)
        end)

      assert_receive {:run, pid}
      ref = Process.monitor(pid)
      Process.exit(caller, :kill)
      assert_receive {:DOWN, ^ref, :process, ^pid, :killed}
    end

    test "run/3 leaves no process behind" do
      assert {:ok, %Result{run_id: run_id}} = CouncilEx.run(TestCouncils.NoChair, "hi")
      assert eventually(fn -> CouncilEx.RunServer.lookup(run_id) == {:error, :unknown_run} end)
    end
  end
end
