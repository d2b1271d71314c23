defmodule CouncilEx.RunServer do
  @moduledoc """
  GenServer that drives a single council run from start to finish.

  Most callers should use `CouncilEx.start/3` (unsupervised, mirrors
  `GenServer.start/3`) or `CouncilEx.start_link/3` (linked, mirrors
  `GenServer.start_link/3`). Both return `{:ok, pid}`; fetch the
  auto-generated run id with `run_id/1`. For tenant isolation or bulk
  termination, group runs under a `CouncilEx.Supervisor`.

  The round loop itself runs in C on the engine threads: the server owns
  the run's native resource, turns the engine's reports into
  `%CouncilEx.MemberResult{}`, `%CouncilEx.RoundResult{}` and
  `%CouncilEx.Result{}` values, and broadcasts them as events on
  `"council_ex:run:" <> run_id` (and on every `:relay_topics` topic). When
  the server dies, even by `Process.exit(pid, :kill)`, the engine cancels
  the run's HTTP calls and frees its memory. Seats whose provider names a
  BEAM dispatcher (such as `CouncilEx.Providers.Mock`) are answered in
  tasks under this server.

  ## Direct start

  `start_link/1` is for callers embedding run servers in their own trees.
  Required options:

    * `:run_id` - a unique binary
    * `:council` - the council id: a module or `"dynamic:" <> id`
    * `:spec` - a `%CouncilEx.Spec{}` (`mod.__council__()` or
      `CouncilEx.DynamicCouncil.to_spec/1`)
    * `:input` - the run input (any term)

  Optional: `:user_opts` (the run options of `CouncilEx.start/3`, default
  `[]`), `:callers` (the `$callers` chain; set automatically from the
  calling process) and `:registry` (default `default_registry/0`).

  The process registers under the registry keyed by `run_id`. A finished
  run stays registered for `:retention_ms` (run option or
  `config :council_ex, :retention_ms`; default 60 s) so `state/2` and
  `CouncilEx.await/2` still answer, unless it was run by `CouncilEx.run/3`.
  """

  use GenServer, restart: :temporary

  alias CouncilEx.{
    Context,
    Plan,
    Error,
    JSON,
    MemberResult,
    Native,
    PubSub,
    Response,
    Result,
    RoundResult,
    Spec
  }

  alias CouncilEx.{StreamChunk, ToolCall}
  alias CouncilEx.RunServer.{ExternalCall, Hooks, RecorderProcess, RoundOutcome, ToolTurn}

  @typedoc "Stable curated subset of run state."
  @type run_summary :: %{
          run_id: binary(),
          council: module() | binary(),
          status: :pending | :running | :completed | :failed | :cancelled,
          current_round: %{name: atom(), idx: non_neg_integer()} | nil,
          rounds_completed: non_neg_integer(),
          started_at: DateTime.t()
        }

  @default_retention_ms 60_000

  ## Public API

  @doc """
  Start a RunServer unsupervised and unlinked.

  Mirrors `GenServer.start/3`: the runner has no parent and the caller is
  responsible for the pid. Most consumers should call `CouncilEx.start/3`.
  """
  @spec start(keyword()) :: GenServer.on_start()
  def start(opts) do
    opts = init_arg(opts)
    subscribed(opts, fn -> GenServer.start(__MODULE__, opts, name: via(opts[:run_id], opts)) end)
  end

  @doc """
  Start a RunServer linked to the calling process.

  Mirrors `GenServer.start_link/3`: the caller owns the run's lifecycle.
  This is the entry point `CouncilEx.Supervisor.start_link/4` and
  caller-owned `DynamicSupervisor` child specs use.
  """
  @spec start_link(keyword()) :: GenServer.on_start()
  def start_link(opts) do
    opts = init_arg(opts)

    subscribed(opts, fn ->
      GenServer.start_link(__MODULE__, opts, name: via(opts[:run_id], opts))
    end)
  end

  @doc false
  # The run's topics: its own and its relay topics.
  def topics(run_id, user_opts),
    do: [PubSub.run_topic(run_id) | Keyword.get(user_opts, :relay_topics, [])]

  # `subscribe: true` subscribes the calling process before the run can
  # broadcast anything, and undoes it if the run does not start.
  defp subscribed(opts, start) do
    topics =
      if opts[:user_opts][:subscribe], do: topics(opts[:run_id], opts[:user_opts]), else: []

    Enum.each(topics, &PubSub.subscribe/1)

    case start.() do
      {:ok, _} = ok ->
        ok

      other ->
        Enum.each(topics, &PubSub.unsubscribe/1)
        other
    end
  end

  @doc """
  Default registry used when `:registry` is not passed.

  Override it with `config :council_ex, :runner_registry, MyApp.RunReg`
  (the registry must be a `:unique` `Registry` the application starts).
  """
  @spec default_registry() :: atom()
  def default_registry,
    do: Application.get_env(:council_ex, :runner_registry, CouncilEx.Runner.Registry)

  @doc """
  Build a via tuple keyed by `run_id` under the bundled registry, for
  `GenServer.call/2` against a known run id. Pass `:registry` in opts for
  caller-owned registries.
  """
  @spec via(binary(), keyword()) :: {:via, Registry, {atom(), binary()}}
  def via(run_id, opts \\ []), do: {:via, Registry, {registry(opts), run_id}}

  @doc "Fetch the run_id from a runner pid."
  @spec run_id(pid()) :: binary()
  def run_id(pid), do: GenServer.call(pid, :run_id)

  @doc """
  Look up the pid serving `run_id`.

  Returns `{:ok, pid}`, `{:error, :unknown_run}` when nothing is
  registered, or `{:error, :runner_dead}` when the registry holds a stale
  entry whose process has exited (rare: the Registry normally cleans these
  up). Pass `:registry` in opts for caller-owned registries.
  """
  @spec lookup(binary(), keyword()) :: {:ok, pid()} | {:error, :unknown_run | :runner_dead}
  def lookup(run_id, opts \\ []) do
    case Registry.lookup(registry(opts), run_id) do
      [{pid, _}] -> if Process.alive?(pid), do: {:ok, pid}, else: {:error, :runner_dead}
      [] -> {:error, :unknown_run}
    end
  end

  @doc """
  Curated read of run state for diagnostics.

  Returns `{:ok, run_summary()}` for an active or recently completed run,
  or `{:error, :not_found}` if the run id isn't registered.
  """
  @spec state(binary(), keyword()) :: {:ok, run_summary()} | {:error, :not_found}
  def state(run_id, opts \\ []) do
    with {:ok, pid} <- lookup(run_id, opts),
         {:ok, summary} <- summary(pid, Keyword.get(opts, :timeout, 5_000)) do
      {:ok, summary}
    else
      _ -> {:error, :not_found}
    end
  end

  @doc false
  def summary(pid, timeout) do
    GenServer.call(pid, :summary, timeout)
  catch
    :exit, _ -> {:error, :not_found}
  end

  @doc false
  # Blocks until the run ends. With `stop: true` the server exits right after
  # replying (CouncilEx.run/3 uses this, as nobody can ask for it later).
  def await(pid, timeout, stop?), do: GenServer.call(pid, {:await, stop?}, timeout)

  @doc false
  def cancel(pid), do: GenServer.call(pid, :cancel)

  defp registry(opts), do: Keyword.get(opts, :registry) || default_registry()

  defp init_arg(opts) do
    unless Keyword.keyword?(opts),
      do:
        raise(
          ArgumentError,
          "CouncilEx.RunServer: expected a keyword list of options, got: #{inspect(opts)}"
        )

    for key <- [:run_id, :council, :spec, :input],
        not Keyword.has_key?(opts, key),
        do:
          raise(ArgumentError, "CouncilEx.RunServer: required option #{inspect(key)} is missing")

    unless is_binary(opts[:run_id]) and opts[:run_id] != "",
      do:
        raise(
          ArgumentError,
          "CouncilEx.RunServer: :run_id must be a non-empty binary, got: #{inspect(opts[:run_id])}"
        )

    unless match?(%Spec{}, opts[:spec]),
      do:
        raise(
          ArgumentError,
          "CouncilEx.RunServer: :spec must be a %CouncilEx.Spec{}, got: #{inspect(opts[:spec])}"
        )

    council = opts[:council]

    unless is_atom(council) or (is_binary(council) and String.starts_with?(council, "dynamic:")),
      do:
        raise(
          ArgumentError,
          ~s(CouncilEx.RunServer: :council must be a module or "dynamic:" <> id, got: #{inspect(council)})
        )

    user_opts = Keyword.get(opts, :user_opts, [])

    unless Keyword.keyword?(user_opts),
      do:
        raise(
          ArgumentError,
          "CouncilEx.RunServer: :user_opts must be a keyword list, got: #{inspect(user_opts)}"
        )

    CouncilEx.Options.Run.validate!(user_opts)
    callers = Keyword.get_lazy(opts, :callers, fn -> [self() | Process.get(:"$callers", [])] end)
    opts |> Keyword.put(:callers, callers) |> Keyword.put(:user_opts, user_opts)
  end

  ## GenServer

  @impl true
  def init(opts) do
    Process.put(:"$callers", opts[:callers])
    user_opts = opts[:user_opts]
    run_id = opts[:run_id]
    tag = make_ref()

    with {:ok, plan} <- plan(opts),
         {:ok, run, seats, rounds} <- Plan.start(plan, tag) do
      # Everyone who must see :run_started subscribes before it is sent.
      if verbose = user_opts[:verbose],
        do: CouncilEx.Verbose.attach(run_id, mode: verbose, io: user_opts[:verbose_io])

      if recorder = user_opts[:recorder], do: RecorderProcess.start(run_id, recorder, self())

      {:ok, new_state(opts, run, seats, rounds, tag, topics(run_id, user_opts)),
       {:continue, :started}}
    else
      {:error, %Error{} = error} -> {:stop, {:shutdown, error}}
    end
  end

  # CouncilEx.start/3 and its kin lower the run before starting it (the
  # internal :plan option); a direct start_link/1 lowers it here.
  defp plan(opts) do
    if plan = opts[:plan],
      do: {:ok, plan},
      else: Plan.prepare(opts[:spec], opts[:input], opts[:user_opts])
  end

  defp new_state(opts, run, seats, rounds, tag, topics) do
    user_opts = opts[:user_opts]

    %{
      run_id: opts[:run_id],
      council: opts[:council],
      input: opts[:input],
      user_opts: user_opts,
      run: run,
      tag: tag,
      topics: topics,
      pubsub: PubSub.adapter(),
      seats: List.to_tuple(seats),
      rounds: List.to_tuple(rounds),
      n_members: length(opts[:spec].members),
      steps: %{},
      answers: %{},
      routed_out: %{},
      call_latency: %{},
      judges: %{},
      abort: nil,
      retention_ms:
        Keyword.get_lazy(user_opts, :retention_ms, fn ->
          Application.get_env(:council_ex, :retention_ms, @default_retention_ms)
        end),
      status: :pending,
      current_round: nil,
      rounds_completed: 0,
      started_at: DateTime.utc_now(),
      started_mono: System.monotonic_time(),
      member_results: %{},
      round_results: [],
      result: nil,
      waiters: [],
      external: %{},
      external_errors: %{},
      tool_turns: %{}
    }
  end

  @impl true
  def handle_continue(:started, state) do
    broadcast(state, {:run_started, state.run_id, state.council, state.input})
    {:noreply, state}
  end

  @impl true
  def handle_call(:run_id, _from, state), do: {:reply, state.run_id, state}

  def handle_call(:summary, _from, state) do
    summary =
      Map.take(state, [:run_id, :council, :status, :current_round, :rounds_completed, :started_at])

    {:reply, {:ok, summary}, state}
  end

  def handle_call({:await, stop?}, from, %{result: nil} = state),
    do: {:noreply, %{state | waiters: [{from, stop?} | state.waiters]}}

  def handle_call({:await, true}, _from, state), do: {:stop, :normal, reply(state), state}
  def handle_call({:await, false}, _from, state), do: {:reply, reply(state), state}

  def handle_call(:cancel, _from, %{run: nil} = state), do: {:reply, :ok, state}

  def handle_call(:cancel, _from, state) do
    :ok = CouncilEx.Native.run_cancel(state.run)
    {:reply, :ok, state}
  end

  @impl true
  def handle_info({:council_ex_run, tag, events}, %{tag: tag} = state),
    do: handle_events(events, state)

  def handle_info({:external_token, idx, seat, chunk}, state),
    do: external_token(idx, seat, chunk, state)

  def handle_info({:external_timeout, ref}, state), do: external_timeout(ref, state)

  def handle_info({ref, result}, %{external: external} = state) when is_map_key(external, ref),
    do: external_done(ref, result, state)

  def handle_info({:tool_result, idx, seat, result}, state) do
    broadcast(
      state,
      {:tool_call_result, state.run_id, step_name(state, idx), elem(state.seats, seat).id, result}
    )

    {:noreply, state}
  end

  def handle_info({ref, verdict}, %{judges: judges} = state) when is_map_key(judges, ref),
    do: judged(ref, verdict, state)

  def handle_info({:DOWN, ref, :process, _pid, _reason}, %{judges: judges} = state)
      when is_map_key(judges, ref),
      do: judged(ref, :error, state)

  def handle_info({ref, texts}, %{tool_turns: turns} = state) when is_map_key(turns, ref),
    do: tool_turn_done(ref, texts, state)

  def handle_info({:DOWN, ref, :process, _pid, _reason}, %{tool_turns: turns} = state)
      when is_map_key(turns, ref) do
    tool_turn_done(
      ref,
      List.duplicate(~s({"error":"the tool runner crashed"}), turns[ref].n),
      state
    )
  end

  def handle_info({:DOWN, ref, :process, _pid, reason}, %{external: external} = state)
      when is_map_key(external, ref) do
    external_done(
      ref,
      {:error, %Error{kind: :permanent, reason: :dispatcher_crashed, message: inspect(reason)}},
      state
    )
  end

  def handle_info(:expire, state), do: {:stop, :normal, state}
  def handle_info(_other, state), do: {:noreply, state}

  ## Engine events

  # The engine sends the events of one step together, in order.
  defp handle_events([], state), do: {:noreply, state}

  defp handle_events([event | rest], state) do
    case handle_event(event, state) do
      {:noreply, state} -> handle_events(rest, state)
      stop -> stop
    end
  end

  defp handle_event({:round_started, step, round, iteration}, state) do
    name = elem(state.rounds, round).name

    state =
      put_in(state.steps[step], %{
        round: round,
        iteration: iteration,
        name: name,
        started: System.monotonic_time()
      })

    broadcast(state, {:round_started, state.run_id, name, step})
    {:noreply, %{state | status: :running, current_round: %{name: name, idx: step}}}
  end

  defp handle_event({:member_started, step, _index, seat}, state) do
    broadcast(
      state,
      {:member_started, state.run_id, step_name(state, step), elem(state.seats, seat).id}
    )

    {:noreply, state}
  end

  defp handle_event({:member_token, step, seat, index, text}, state) do
    chunk = %StreamChunk{content: text, index: index}

    broadcast(
      state,
      {:member_token, state.run_id, step_name(state, step), elem(state.seats, seat).id, chunk}
    )

    {:noreply, state}
  end

  defp handle_event({:tool_calls, step, index, seat, calls}, state) do
    info = elem(state.seats, seat)
    round = step_name(state, step)

    tool_calls =
      for {id, name, args} <- calls do
        args =
          case JSON.decode(args) do
            {:ok, %{} = map} -> map
            _ -> %{}
          end

        %ToolCall{id: id, name: name, args_raw: args}
      end

    Enum.each(
      tool_calls,
      &broadcast(state, {:tool_call_request, state.run_id, round, info.id, &1})
    )

    task = ToolTurn.start(tool_calls, info.opts, %{idx: step, seat: seat}, self())

    {:noreply,
     put_in(state.tool_turns[task.ref], %{
       task: task,
       idx: step,
       index: index,
       seat: seat,
       n: length(tool_calls)
     })}
  end

  defp handle_event({:call, step, index, seat, body}, state) do
    info = elem(state.seats, seat)

    ctx = %{
      idx: step,
      seat: seat,
      round_name: step_name(state, step),
      run_id: state.run_id,
      input: state.input
    }

    task = ExternalCall.start(info, body, ctx, self())
    timeout = Plan.member_timeout_ms(info.opts, state.user_opts)
    timer = Process.send_after(self(), {:external_timeout, task.ref}, timeout)

    call = %{
      task: task,
      idx: step,
      index: index,
      seat: seat,
      timer: timer,
      timeout: timeout,
      started: System.monotonic_time()
    }

    {:noreply, put_in(state.external[task.ref], call)}
  end

  defp handle_event({:member_completed, step, index, seat, outcome}, state) do
    state = drop_external(state, step, index)
    {extra, state} = pop_in(state.external_errors[{step, index}])
    name = step_name(state, step)
    result = member_result(state, step, elem(state.seats, seat), name, outcome, extra)
    broadcast(state, {:member_completed, state.run_id, name, result.member_id, result})
    results = Map.update(state.member_results, step, [{index, result}], &[{index, result} | &1])

    latency =
      Map.update(state.call_latency, step, [outcome.latency_us], &[outcome.latency_us | &1])

    {:noreply, %{state | member_results: results, call_latency: latency}}
  end

  defp handle_event({:round_completed, step, info}, state) do
    round = RoundOutcome.build(state, step, info)
    broadcast(state, {:round_completed, state.run_id, round.name, round})

    answers =
      if RoundOutcome.answers?(elem(state.rounds, state.steps[step].round).kind),
        do:
          for(
            {id, %MemberResult{status: :ok} = r} <- round.member_results,
            into: %{},
            do: {id, r}
          ),
        else: state.answers

    {:noreply,
     %{
       state
       | round_results: [round | state.round_results],
         rounds_completed: state.rounds_completed + 1,
         answers: answers
     }}
  end

  defp handle_event({:seats_needed, step}, state) do
    %{round: round} = state.steps[step]
    info = elem(state.rounds, round)
    ctx = context(state, step)

    with {:ok, ids} <- Hooks.route(info.router, state.input, ctx, member_ids(state)),
         {:ok, answer} <- Hooks.seat_inputs(info, ids, member_ids(state), ctx) do
      out =
        for {id, false} <-
              Enum.zip(member_ids(state), Enum.map(answer, &(&1 not in [false, nil]))),
            do: id

      _ = Native.run_answer(state.run, step, {:seats, answer})
      {:noreply, put_in(state.routed_out[step], out)}
    else
      {:error, %Error{} = error} -> abort(state, error)
    end
  end

  defp handle_event({:judge_needed, step, index, a, b}, state) do
    info = elem(state.rounds, state.steps[step].round)
    {id_a, id_b} = {elem(state.seats, a).id, elem(state.seats, b).id}
    content = fn id -> state.answers[id] && state.answers[id].response.content end
    task = Hooks.judge(info.judge, content.(id_a), content.(id_b))
    {:noreply, put_in(state.judges[task.ref], %{task: task, step: step, index: index})}
  end

  defp handle_event({:iteration_done, step}, state) do
    info = elem(state.rounds, state.steps[step].round)
    [curr | rest] = state.round_results
    prev = Enum.find(rest, &(&1.metadata[:round] == curr.metadata[:round]))

    case Hooks.until(info.until, prev, curr) do
      {:ok, stop?} ->
        _ = Native.run_answer(state.run, step, {:continue, stop?})
        {:noreply, state}

      {:error, %Error{} = error} ->
        abort(state, error)
    end
  end

  defp handle_event(:run_completed, state), do: finalize(state, :completed, nil)
  defp handle_event({:run_failed, reason}, state), do: finalize(state, :failed, reason)

  defp handle_event(:run_cancelled, %{abort: %Error{}} = state),
    do: finalize(state, :failed, :hook_failed)

  defp handle_event(:run_cancelled, state), do: finalize(state, :cancelled, :cancelled)

  # A hook (router, until, custom round) failed: the run stops and fails
  # with its error.
  defp abort(state, error) do
    :ok = Native.run_cancel(state.run)
    {:noreply, %{state | abort: error}}
  end

  defp judged(ref, verdict, state) do
    {%{step: step, index: index}, judges} = Map.pop(state.judges, ref)
    Process.demonitor(ref, [:flush])

    winner =
      case verdict do
        :a -> 0
        :b -> 1
        _ -> -1
      end

    if state.run, do: Native.run_answer(state.run, step, {:judged, index, winner})
    {:noreply, %{state | judges: judges}}
  end

  @doc false
  def context(state, step) do
    %Context{
      run_id: state.run_id,
      council: state.council,
      input: state.input,
      prior_rounds: Enum.reverse(state.round_results),
      round_idx: step,
      round_name: step_name(state, step)
    }
  end

  defp member_ids(state) do
    n = state.n_members
    state.seats |> Tuple.to_list() |> Enum.take(n) |> Enum.map(& &1.id)
  end

  defp step_name(state, step), do: state.steps[step].name

  ## External calls

  defp external_token(idx, seat, %StreamChunk{} = chunk, state) do
    broadcast(
      state,
      {:member_token, state.run_id, step_name(state, idx), elem(state.seats, seat).id, chunk}
    )

    {:noreply, state}
  end

  defp external_token(_idx, _seat, _chunk, state), do: {:noreply, state}

  defp external_timeout(ref, state) do
    case state.external do
      %{^ref => call} ->
        Task.shutdown(call.task, :brutal_kill)
        message = "the call took longer than #{call.timeout} ms"

        external_done(
          ref,
          {:error, %Error{kind: :timeout, reason: :timeout, message: message}},
          state
        )

      _ ->
        {:noreply, state}
    end
  end

  defp external_done(ref, result, state) do
    {call, external} = Map.pop(state.external, ref)
    Process.demonitor(ref, [:flush])
    Process.cancel_timer(call.timer)

    latency_us =
      System.convert_time_unit(System.monotonic_time() - call.started, :native, :microsecond)

    reply = ExternalCall.to_reply(result)
    _ = CouncilEx.Native.run_reply(state.run, call.idx, call.index, reply, latency_us)

    # What the C side does not keep: a dispatcher's own error, a
    # sub-council's run.
    errors =
      case result do
        {:error, %Error{} = e} -> Map.put(state.external_errors, {call.idx, call.index}, e)
        {:ok, _response, meta} -> Map.put(state.external_errors, {call.idx, call.index}, meta)
        _ -> state.external_errors
      end

    {:noreply, %{state | external: external, external_errors: errors}}
  end

  defp tool_turn_done(ref, texts, state) do
    {turn, turns} = Map.pop(state.tool_turns, ref)
    Process.demonitor(ref, [:flush])
    if state.run, do: CouncilEx.Native.run_tool_results(state.run, turn.idx, turn.index, texts)
    {:noreply, %{state | tool_turns: turns}}
  end

  # A call that finished in C (answered, or cancelled with the run) needs
  # its tasks no longer.
  defp drop_external(state, idx, index) do
    state |> drop_task(:external, idx, index) |> drop_task(:tool_turns, idx, index)
  end

  # Stops the task `field` (:external or :tool_turns) runs for a call.
  defp drop_task(state, field, idx, index) do
    tasks = Map.fetch!(state, field)

    case Enum.find(tasks, fn {_, t} -> t.idx == idx and t.index == index end) do
      {ref, t} ->
        Task.shutdown(t.task, :brutal_kill)
        if t[:timer], do: Process.cancel_timer(t.timer)
        Map.put(state, field, Map.delete(tasks, ref))

      nil ->
        state
    end
  end

  ## Finalizing

  defp finalize(state, status, reason) do
    rounds = Enum.reverse(unfinished_round(state) ++ state.round_results)
    member_errors = for r <- rounds, {_, %{error: %Error{} = e}} <- r.member_results, do: e
    errors = member_errors ++ run_error(status, reason, state)

    result = %Result{
      run_id: state.run_id,
      council: state.council,
      status: result_status(status, member_errors),
      final: final(rounds, status),
      rounds: rounds,
      errors: errors,
      metadata: metadata(state, rounds)
    }

    case status do
      :completed -> broadcast(state, {:run_completed, state.run_id, result})
      _ -> broadcast(state, {:run_failed, state.run_id, errors, result})
    end

    reply_waiters(%{state | status: status, result: result, run: nil, current_round: nil})
  end

  # A cancelled run stops mid-round: keep what its members reported.
  defp unfinished_round(%{current_round: %{name: name, idx: idx}} = state) do
    case state.round_results do
      [%RoundResult{idx: ^idx} | _] ->
        []

      _ ->
        [
          %RoundResult{
            name: name,
            idx: idx,
            member_results: RoundOutcome.sorted_members(state, idx)
          }
        ]
    end
  end

  defp unfinished_round(_state), do: []

  defp reply_waiters(state) do
    Enum.each(state.waiters, fn {from, _} -> GenServer.reply(from, reply(state)) end)
    stop? = Enum.any?(state.waiters, fn {_, stop?} -> stop? end)
    state = %{state | waiters: []}

    if stop? do
      {:stop, :normal, state}
    else
      # Stays registered for the retention time, so state/2 and await/2 answer.
      Process.send_after(self(), :expire, state.retention_ms)
      {:noreply, state}
    end
  end

  defp reply(%{status: :completed, result: result}), do: {:ok, result}
  defp reply(%{result: result}), do: {:error, result}

  defp result_status(:completed, []), do: :ok
  defp result_status(:completed, _), do: :partial
  defp result_status(:cancelled, _), do: :cancelled
  defp result_status(:failed, _), do: :error

  defp run_error(:completed, _reason, _state), do: []

  defp run_error(:failed, :hook_failed, %{abort: %Error{} = error} = state) do
    [%{error | round_name: error.round_name || (state.current_round && state.current_round.name)}]
  end

  defp run_error(status, reason, state) do
    round = state.current_round && state.current_round.name
    kind = if status == :cancelled, do: :cancelled, else: :permanent
    [%Error{kind: kind, reason: reason, round_name: round, message: run_error_message(reason)}]
  end

  defp run_error_message(:no_member_succeeded), do: "no member of the round succeeded"

  defp run_error_message(:chair_failed),
    do: "the chair failed to synthesize an answer (and so did every fallback)"

  defp run_error_message(:quorum_not_met), do: "fewer members succeeded than the round's quorum"

  defp run_error_message(:nothing_to_judge),
    do: "no member answered, so there was nothing to judge"

  defp run_error_message(:cancelled), do: "the run was cancelled"
  defp run_error_message(other), do: "the run failed: #{inspect(other)}"

  # The chair's answer (or its fallback's): the last round's success.
  defp final(rounds, :completed) do
    case List.last(rounds) do
      %RoundResult{name: name, member_results: results}
      when name in [:synthesis, :weighted_synthesis] ->
        Enum.find_value(results, fn {_, r} -> r.status == :ok && r.response end)

      _ ->
        nil
    end
  end

  defp final(_rounds, _status), do: nil

  defp metadata(state, rounds) do
    responses =
      for r <- rounds, {_, %{response: %Response{} = resp}} <- r.member_results, do: resp

    meta = %{
      duration_ms:
        System.convert_time_unit(
          System.monotonic_time() - state.started_mono,
          :native,
          :millisecond
        ),
      total_input_tokens: sum_usage(responses, :input_tokens),
      total_output_tokens: sum_usage(responses, :output_tokens)
    }

    if auto = state.user_opts[:auto], do: Map.put(meta, :auto, auto), else: meta
  end

  defp sum_usage(responses, key), do: responses |> Enum.map(&(&1.usage[key] || 0)) |> Enum.sum()

  defp member_result(state, step, seat, round_name, outcome, extra) do
    base = %MemberResult{
      member_id: seat.id,
      round_name: round_name,
      model: seat.model,
      provider: seat.provider,
      latency_ms: div(outcome.latency_us, 1000),
      attempts: max(outcome.attempts, 1),
      confidence: outcome.confidence,
      metadata: RoundOutcome.call_metadata(state, step, outcome, extra)
    }

    case outcome do
      %{status: :ok} ->
        %{base | status: :ok, response: response(state, step, outcome, seat)}

      %{status: :skipped} ->
        reason =
          if seat.id in Map.get(state.routed_out, step, []),
            do: :router_excluded,
            else: :nothing_to_judge

        %{base | status: :skipped, attempts: 0, metadata: Map.put(base.metadata, :reason, reason)}

      %{status: :error, error: %{reason: :invalid_output} = e} ->
        reasons =
          for {path, message} <- outcome.invalid_output, do: %{path: path, message: message}

        reasons =
          if outcome.ballot_error,
            do: [%{path: "", message: "ballot: #{outcome.ballot_error}"} | reasons],
            else: reasons

        error = %Error{
          kind: :validation,
          reason: :invalid_output,
          message: e.message,
          context: %{errors: reasons},
          member_id: seat.id,
          round_name: round_name,
          provider: seat.provider
        }

        %{
          base
          | status: :invalid_output,
            error: error,
            response: response(state, step, outcome, seat)
        }

      %{status: :error, error: e} ->
        error =
          case {e.reason, extra} do
            # A dispatcher's own error says more than the C side kept of it.
            {:external_error, %Error{} = ext} -> ext
            _ -> c_error(e)
          end

        error = %{error | member_id: seat.id, round_name: round_name, provider: seat.provider}
        %{base | status: member_status(error.kind), error: error}
    end
  end

  defp response(state, step, outcome, seat) do
    %Response{
      content: outcome.content || "",
      model: outcome.model || seat.model,
      finish_reason: outcome.finish_reason,
      usage: usage(outcome),
      stop: if(outcome.status == :ok, do: outcome.stop),
      parsed: RoundOutcome.ballot(state, step, outcome) || parsed(outcome)
    }
  end

  defp usage(%{cost: cost} = outcome) when is_float(cost),
    do: %{input_tokens: outcome.input_tokens, output_tokens: outcome.output_tokens, cost: cost}

  defp usage(outcome),
    do: %{input_tokens: outcome.input_tokens, output_tokens: outcome.output_tokens}

  # The JSON document the C side found in (and checked against) the answer.
  defp parsed(%{json: {from, to}, content: content}) do
    case CouncilEx.JSON.decode(binary_part(content, from, to - from)) do
      {:ok, term} -> term
      {:error, _} -> nil
    end
  end

  defp parsed(_outcome), do: nil

  defp c_error(e) do
    %Error{
      kind: e.kind,
      reason: e.reason,
      message: e.message,
      status: e.http_status,
      type: e.type,
      code: e.code,
      retry_after_ms: e.retry_after_ms
    }
  end

  defp member_status(:timeout), do: :timeout
  defp member_status(:cancelled), do: :cancelled
  defp member_status(_), do: :error

  # The adapter is looked up once per run, not once per event.
  defp broadcast(%{pubsub: {adapter, config}} = state, event),
    do: Enum.each(state.topics, &adapter.broadcast(config, &1, event))
end
