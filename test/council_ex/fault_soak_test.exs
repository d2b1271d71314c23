defmodule CouncilEx.FaultSoakTest do
  # A fault soak: 300 councils against the fake provider, 24 at a time,
  # each with one scripted fault (or none) from the table below:
  # error statuses with and without retry-after, retries that recover,
  # connections closed, reset or cut short, malformed JSON, invalid UTF-8,
  # missing fields, replies past their size limit, timeouts, streams cut
  # off or failing mid-way, every member failing, the chair failing, and
  # cancellation. Every run must end in exactly one terminal event, with
  # the outcome its fault calls for; afterwards the engine's transfers and
  # run resources, CouncilEx's processes and the VM's file descriptors
  # must be back where they were.
  #
  # Tagged :soak to be easy to pick out (or leave out with
  # `mix test --exclude soak`); test_helper.exs excludes nothing, so it
  # runs with the rest of `mix test`. Nothing here reads a clock except
  # the deadlines that bound a failure, and the only timings are the
  # scripted faults' own (a 300 ms seat timeout against a 60 s latency).
  use CouncilEx.FakeCase, async: false

  alias CouncilEx.{DynamicCouncil, MemberResult, Result}

  @moduletag :soak
  # About 3 s on the 2-core development machine, 4-10 s with both cores
  # kept busy by other work; the margin is for a machine busier still.
  @moduletag timeout: 600_000

  @runs 300
  # Runs in flight at once. A run has at most two calls in flight (its two
  # members, then its chair), so libcurl never needs more connections to
  # the fake than twice this.
  @window 24
  @max_parallel_calls 2 * @window

  @sse [{"content-type", "text/event-stream"}]
  @slow 60_000

  # {name, weight, scenario}. A scenario scripts member a (`:a`, with seat
  # options `:seat`), and for some faults member b or the chair; `:expect`
  # is the outcome, and `:requests` how many requests the fake got for a:
  #
  #   {:ok, attempts}                 completed, status :ok, a took one of
  #                                   `attempts` (the engine's count)
  #   {:partial, status, kind, reasons, http}
  #                                   completed, status :partial: a failed
  #                                   so (a reason among `reasons`; http
  #                                   nil when there is no status), b did not
  #   {:failed, reason}               :run_failed for this reason
  #   :cancelled                      cancelled once a started
  #
  # A connection closed, reset or cut short (a body short of its
  # Content-Length, a stream without its end) is one transient failure
  # whatever the engine calls it: libcurl's GOT_NOTHING, RECV_ERROR and
  # PARTIAL_FILE are all :connect_failed today (http_engine.c, classify/2).
  #
  # A request whose reused connection is closed or reset before any reply
  # may be sent again on a new connection by libcurl itself, before the
  # engine hears of it: the fake then sees two requests where the engine
  # counts one attempt (so :retry_reset takes one attempt or two).
  @cut [:connect_failed, :transport_error, :truncated_stream]
  defp scenarios do
    [
      {:ok, 8, %{expect: {:ok, [1]}, requests: 1}},
      {:ok_stream, 4,
       %{a: [chunks: ["All ", "good."]], seat: %{stream: true}, expect: {:ok, [1]}}},
      {:large_input, 1, %{input: String.duplicate("a long brief ", 40_000), expect: {:ok, [1]}}},
      {:status_429, 2,
       %{
         a: [status: 429, headers: [{"retry-after", "1"}]],
         expect: {:partial, :error, :transient, [:http_error], 429}
       }},
      {:status_500, 2,
       %{a: [status: 500], expect: {:partial, :error, :transient, [:http_error], 500}}},
      {:status_503, 2,
       %{
         a: [status: 503, headers: [{"retry-after", "2"}]],
         expect: {:partial, :error, :transient, [:http_error], 503}
       }},
      {:status_400, 1,
       %{a: [status: 400], expect: {:partial, :error, :permanent, [:http_error], 400}}},
      {:retry_after_429, 2,
       %{
         a: [[status: 429, headers: [{"retry-after", "1"}]], [content: "Recovered."]],
         seat: %{retry: {2, 10}},
         expect: {:ok, [2]},
         requests: 2
       }},
      {:retry_500, 2,
       %{
         a: [[status: 500], [content: "Recovered."]],
         seat: %{retry: {3, 10}},
         expect: {:ok, [2]},
         requests: 2
       }},
      {:retry_reset, 1,
       %{
         a: [[close: :reset], [content: "Recovered."]],
         seat: %{retry: {3, 10}},
         expect: {:ok, [1, 2]},
         requests: 2
       }},
      {:closed, 2, %{a: [close: true], expect: {:partial, :error, :transient, @cut, nil}}},
      {:reset, 2, %{a: [close: :reset], expect: {:partial, :error, :transient, @cut, nil}}},
      {:truncated_body, 2,
       %{a: [truncate: 25], expect: {:partial, :error, :transient, @cut, 200}}},
      {:malformed_json, 2,
       %{
         a: [body: ~s({"choices": [{"mess)],
         expect: {:partial, :error, :permanent, [:invalid_json], 200}
       }},
      {:invalid_utf8, 1,
       %{
         a: [body: "{\"choices\":[{\"message\":{\"role\":\"assistant\",\"content\":\"x\xFF\"}}]}"],
         expect: {:partial, :error, :permanent, [:invalid_utf8], 200}
       }},
      {:missing_field, 1,
       %{a: [body: "{}"], expect: {:partial, :error, :permanent, [:missing_field], 200}}},
      {:over_limit, 1,
       %{
         a: [content: String.duplicate("x", 100_000)],
         run: [max_response_bytes: 64 * 1024],
         expect: {:partial, :error, :permanent, [:response_too_large], 200}
       }},
      {:huge, 1,
       %{
         a: [content: String.duplicate("huge ", 1_800_000)],
         expect: {:partial, :error, :permanent, [:response_too_large], 200}
       }},
      {:timeout, 2,
       %{
         a: [latency_ms: @slow],
         seat: %{timeout_ms: 300},
         expect: {:partial, :timeout, :timeout, [:timeout], nil}
       }},
      {:stream_cut, 2,
       %{
         a: [chunks: ["one ", "two ", "three"], truncate: 200],
         seat: %{stream: true},
         expect: {:partial, :error, :transient, @cut, 200}
       }},
      {:stream_error, 2,
       %{
         a: [chunks: ["half"], midstream_error: true],
         seat: %{stream: true},
         expect: {:partial, :error, :transient, [:provider_error], 200}
       }},
      {:stream_invalid_utf8, 1,
       %{
         a: [
           body: "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"x\xFF\"}}]}\n\n",
           headers: @sse
         ],
         seat: %{stream: true},
         expect: {:partial, :error, :permanent, [:invalid_utf8], 200}
       }},
      {:stream_garbage, 1,
       %{
         a: [body: "data: {broken\n\n", headers: @sse],
         seat: %{stream: true},
         expect: {:partial, :error, :permanent, [:invalid_json], 200}
       }},
      {:all_members_fail, 2,
       %{a: [status: 500], b: [status: 503], expect: {:failed, :no_member_succeeded}}},
      {:chair_fails, 2, %{chair: [status: 500], expect: {:failed, :chair_failed}}},
      {:cancelled, 2, %{a: [latency_ms: @slow], cancel: true, expect: :cancelled}}
    ]
  end

  test "300 councils with mixed faults each end once, as scripted, and leave nothing behind",
       %{fake: fake} do
    port = FakeProvider.port(fake)
    plan = plan()

    # Warm-up: every module loaded, libcurl's connections to the fake open.
    warm_up()
    base = baseline(port)

    outcomes = soak(fake, plan)
    assert map_size(outcomes) == @runs

    requests = fake |> FakeProvider.requests() |> Enum.frequencies_by(& &1.body["model"])

    for {i, outcome} <- outcomes do
      {name, scenario} = Enum.at(plan, i)
      check_outcome(name, scenario, outcome)

      if n = scenario[:requests],
        do:
          assert(requests["soak-#{i}-a"] == n, "run #{name}: #{requests["soak-#{i}-a"]} requests")
    end

    # One terminal event each, and nothing after it: a run's events all
    # come before its process's DOWN, which the soak waited for.
    assert stray_messages() == []

    # The engine is done with every transfer and every run resource, the
    # fake with every request, CouncilEx with every process. (At most the
    # baseline: runs other tests left to their retention time may end
    # meanwhile.)
    assert eventually(fn -> Native.stats().in_flight <= base.in_flight end, 60_000),
           "engine transfers in flight: #{Native.stats().in_flight}"

    assert eventually(fn -> live_runs() <= base.runs end, 60_000),
           "live run resources: #{live_runs()}, before: #{base.runs}"

    assert eventually(fn -> FakeProvider.in_flight(fake) == 0 end, 60_000)
    assert eventually(fn -> Registry.count(CouncilEx.Runner.Registry) <= base.registered end)
    assert eventually(fn -> task_children() <= base.tasks end)
    assert eventually(fn -> pg_groups() <= base.pg_groups end)

    # The fake goes: its listening socket and connections close, and
    # libcurl's connections to it stay in its cache, dead, until a later
    # transfer prunes them. Every other descriptor is back to its count.
    stop_supervised!(FakeProvider)

    assert eventually(fn -> fds(port).fake_side == 0 end, 60_000),
           "the fake's sockets still open: #{inspect(fds(port))}"

    assert eventually(fn -> fds(port).other <= base.fds.other end, 60_000),
           "descriptors: #{inspect(fds(port))}, before: #{inspect(base.fds)}"

    assert fds(port).to_fake <= @max_parallel_calls,
           "libcurl holds more connections to the fake than calls ever ran at once: " <>
             inspect(fds(port))

    # The fake's processes are gone too, so the VM holds no more processes
    # than before, with no allowance needed.
    assert eventually(fn -> length(Process.list()) <= base.processes end, 60_000),
           "processes: #{length(Process.list())}, before: #{base.processes}"
  end

  ## The runs

  # Run i gets scenario i of a cycle of the weighted table.
  defp plan do
    cycle = for {name, weight, s} <- scenarios(), _ <- 1..weight, do: {name, s}
    Enum.map(0..(@runs - 1), &Enum.at(cycle, rem(&1, length(cycle))))
  end

  defp warm_up do
    for i <- 1..4 do
      {:ok, %Result{status: :ok}} = CouncilEx.run(council("warm-#{i}", %{}), "warm-up #{i}")
    end
  end

  defp council(id, seat) do
    member = fn name, overrides ->
      [
        id: name,
        system_prompt: "You are #{name}.",
        profile_overrides: Map.merge(%{provider: :fake, model: "#{id}-#{name}"}, overrides)
      ]
    end

    DynamicCouncil.new(id)
    |> DynamicCouncil.add_member(member.("a", seat))
    |> DynamicCouncil.add_member(member.("b", %{}))
    |> DynamicCouncil.add_round(:independent_analysis)
    |> DynamicCouncil.set_chair(member.("chair", %{}))
  end

  defp start(fake, plan, i) do
    {_name, scenario} = Enum.at(plan, i)
    id = "soak-#{i}"

    for seat <- [:a, :b, :chair], Map.has_key?(scenario, seat) do
      FakeProvider.script(fake, "#{id}-#{seat}", scenario[seat])
    end

    input = "Question #{i}: " <> Map.get(scenario, :input, "what now?")
    # The id is given, not asked of the run: with no retention, a run that
    # fails at once may be gone before it could answer.
    run_id = "#{id}-#{System.unique_integer([:positive])}"
    opts = [run_id: run_id, subscribe: true, retention_ms: 0] ++ Map.get(scenario, :run, [])
    {:ok, pid} = CouncilEx.start(council(id, Map.get(scenario, :seat, %{})), input, opts)

    %{
      i: i,
      pid: pid,
      ref: Process.monitor(pid),
      run_id: run_id,
      cancel: scenario[:cancel],
      events: []
    }
  end

  # Keeps @window runs going until all have ended. Events are taken in
  # arrival order; a run is over when its process is DOWN, which comes
  # after every event it sent.
  defp soak(fake, plan), do: soak(fake, plan, Enum.to_list(0..(@runs - 1)), %{}, %{})

  defp soak(fake, plan, [i | todo], running, done) when map_size(running) < @window do
    run = start(fake, plan, i)
    soak(fake, plan, todo, Map.put(running, run.run_id, run), done)
  end

  defp soak(_fake, _plan, [], running, done) when map_size(running) == 0, do: done

  defp soak(fake, plan, todo, running, done) do
    receive do
      {:DOWN, ref, :process, _pid, reason} ->
        {run_id, run} = Enum.find(running, fn {_, run} -> run.ref == ref end)
        CouncilEx.unsubscribe(run_id)
        outcome = %{events: Enum.reverse(run.events), exit: reason}
        soak(fake, plan, todo, Map.delete(running, run_id), Map.put(done, run.i, outcome))

      event
      when is_tuple(event) and tuple_size(event) > 2 and is_map_key(running, elem(event, 1)) ->
        run = running[elem(event, 1)]
        maybe_cancel(run, event)
        run = %{run | events: [event | run.events]}
        soak(fake, plan, todo, Map.put(running, run.run_id, run), done)
    after
      120_000 ->
        flunk("no event in 120 s; #{map_size(running)} runs going, #{length(todo)} to start")
    end
  end

  # A run scripted to be cancelled is, once its slow member has started.
  defp maybe_cancel(%{cancel: true, pid: pid}, {:member_started, _, _, id}) do
    if to_string(id) == "a", do: :ok = CouncilEx.cancel(pid)
  end

  defp maybe_cancel(_run, _event), do: :ok

  ## Outcomes

  defp check_outcome(name, scenario, %{events: events, exit: exit}) do
    where = "run #{name}: #{inspect(Enum.map(events, &elem(&1, 0)))}"
    # :noproc: the run was over before the soak's monitor was set.
    assert exit in [:normal, :noproc], "#{where}, exit #{inspect(exit)}"
    assert [{:run_started, _, _, _} | _] = events
    terminals = Enum.filter(events, &(elem(&1, 0) in [:run_completed, :run_failed]))
    assert [terminal] = terminals, "#{where}: #{length(terminals)} terminal events"
    assert List.last(events) == terminal, where
    check_terminal(scenario.expect, terminal, where)
  end

  defp check_terminal({:ok, attempts}, terminal, where) do
    assert {:run_completed, _, %Result{status: :ok} = result} = terminal, where
    assert %MemberResult{status: :ok} = a = member(result, "a"), where
    assert a.attempts in attempts, "#{where}: #{a.attempts} attempts"
    assert %MemberResult{status: :ok} = member(result, "b"), where
    assert is_binary(result.final.content), where
  end

  defp check_terminal({:partial, status, kind, reasons, http}, terminal, where) do
    assert {:run_completed, _, %Result{status: :partial} = result} = terminal, where
    a = member(result, "a")
    assert %MemberResult{status: ^status, response: nil} = a, where
    assert a.error.kind == kind, "#{where}: #{inspect(a.error)}"
    assert a.error.reason in reasons, "#{where}: #{inspect(a.error)}"
    if http, do: assert(a.error.status == http, "#{where}: #{inspect(a.error)}")
    assert %MemberResult{status: :ok} = member(result, "b"), where
    assert is_binary(result.final.content), where
  end

  defp check_terminal({:failed, reason}, terminal, where) do
    assert {:run_failed, _, [_ | _] = errors, %Result{}} = terminal, where
    assert Enum.any?(errors, &(&1.reason == reason)), "#{where}: #{inspect(errors)}"
  end

  defp check_terminal(:cancelled, terminal, where) do
    assert {:run_failed, _, [_ | _] = errors, %Result{}} = terminal, where
    assert Enum.any?(errors, &(&1.kind == :cancelled)), "#{where}: #{inspect(errors)}"
  end

  defp member(%Result{rounds: [round | _]}, id) do
    Enum.find_value(round.member_results, fn {key, result} ->
      if to_string(key) == id, do: result
    end)
  end

  defp stray_messages do
    receive do
      message -> [message | stray_messages()]
    after
      0 -> []
    end
  end

  ## Resources

  defp baseline(port) do
    assert eventually(fn -> Native.stats().in_flight == 0 end, 60_000)

    %{
      in_flight: 0,
      runs: live_runs(),
      registered: Registry.count(CouncilEx.Runner.Registry),
      tasks: task_children(),
      pg_groups: pg_groups(),
      fds: fds(port),
      processes: length(Process.list())
    }
  end

  defp task_children, do: length(Task.Supervisor.children(CouncilEx.Runner.TaskSupervisor))

  # Topics with a subscriber: each run's goes when its subscribers leave.
  defp pg_groups, do: length(:pg.which_groups(CouncilEx.PubSub.PG.scope()))

  # The VM's open descriptors: its TCP sockets with `port` (the fake's) at
  # the local end (the fake's listening socket and connections), those
  # with it at the remote end (libcurl's connections to the fake), and
  # every other descriptor.
  defp fds(port) do
    dir = "/proc/#{System.pid()}/fd"
    links = for fd <- File.ls!(dir), {:ok, link} <- [File.read_link(Path.join(dir, fd))], do: link
    ports = tcp_ports()

    ends =
      for "socket:[" <> inode <- links, {local, remote} <- [ports[String.trim(inode, "]")]] do
        cond do
          local == port -> :fake_side
          remote == port -> :to_fake
          true -> :other
        end
      end

    fake_side = Enum.count(ends, &(&1 == :fake_side))
    to_fake = Enum.count(ends, &(&1 == :to_fake))
    %{fake_side: fake_side, to_fake: to_fake, other: length(links) - fake_side - to_fake}
  end

  # inode => {local port, remote port} for the TCP sockets of this network
  # namespace (/proc/net/tcp: "sl local rem st ... uid timeout inode").
  defp tcp_ports do
    for file <- ["/proc/net/tcp", "/proc/net/tcp6"],
        {:ok, text} <- [File.read(file)],
        line <- tl(String.split(text, "\n", trim: true)),
        [_sl, local, remote, _st, _q, _tm, _rx, _uid, _timeout, inode | _] <-
          [String.split(line)],
        into: %{} do
      {inode, {hex_port(local), hex_port(remote)}}
    end
  end

  defp hex_port(address) do
    [_, port] = String.split(address, ":")
    String.to_integer(port, 16)
  end
end
