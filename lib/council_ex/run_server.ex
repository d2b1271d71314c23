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

  The server checks its options, the council and the input in the calling
  process, before it starts: like `CouncilEx.start/3`, a problem is
  `{:error, %CouncilEx.Error{kind: :validation}}`, never an exit or a
  raise. Once started, a run always ends in `:run_completed` or
  `:run_failed` (an engine that refuses the run fails it).

  The process registers under the registry keyed by `run_id`. A finished
  run stays registered for `:retention_ms` (run option or
  `config :council_ex, :retention_ms`; default 60 s) so `state/2` and
  `CouncilEx.await/2` still answer, unless it was run by `CouncilEx.run/3`.
  """

  use GenServer, restart: :temporary

  alias CouncilEx.{Context, Error, MemberResult, Native, Plan, PubSub, Spec, StreamChunk}
  alias CouncilEx.Council.Rules
  alias CouncilEx.Options.Run

  alias CouncilEx.RunServer.{
    Calls,
    Hooks,
    MemberOutcome,
    RecorderProcess,
    RoundOutcome,
    RunOutcome,
    State,
    Tasks
  }

  @typedoc "Stable curated subset of run state."
  @type run_summary :: %{
          run_id: binary(),
          council: module() | binary(),
          status: :pending | :running | :completed | :failed | :cancelled,
          current_round: %{name: atom(), idx: non_neg_integer()} | nil,
          rounds_completed: non_neg_integer(),
          started_at: DateTime.t()
        }

  ## Public API

  @doc """
  Start a RunServer unsupervised and unlinked.

  Mirrors `GenServer.start/3`: the runner has no parent and the caller is
  responsible for the pid. Most consumers should call `CouncilEx.start/3`.
  """
  @spec start(keyword()) :: GenServer.on_start()
  def start(opts) do
    with {:ok, opts} <- init_arg(opts) do
      subscribed(opts, fn -> GenServer.start(__MODULE__, opts, name: via(opts[:run_id], opts)) end)
    end
  end

  @doc """
  Start a RunServer linked to the calling process.

  Mirrors `GenServer.start_link/3`: the caller owns the run's lifecycle.
  This is the entry point `CouncilEx.Supervisor.start_link/4` and
  caller-owned `DynamicSupervisor` child specs use.
  """
  @spec start_link(keyword()) :: GenServer.on_start()
  def start_link(opts) do
    with {:ok, opts} <- init_arg(opts) do
      subscribed(opts, fn ->
        GenServer.start_link(__MODULE__, opts, name: via(opts[:run_id], opts))
      end)
    end
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

  # The start options, checked in the caller. CouncilEx.start/3 and its kin
  # hand over a run already checked and lowered (the internal :plan
  # option); a direct start is checked and lowered here.
  defp init_arg(opts) do
    with :ok <- start_opts(opts),
         user_opts = Keyword.get(opts, :user_opts, []),
         {:ok, plan} <- plan(opts[:plan], opts[:spec], opts[:input], user_opts) do
      callers =
        Keyword.get_lazy(opts, :callers, fn -> [self() | Process.get(:"$callers", [])] end)

      {:ok, Keyword.merge(opts, callers: callers, user_opts: user_opts, plan: plan)}
    end
  end

  defp start_opts(opts) do
    problem =
      cond do
        not (is_list(opts) and Keyword.keyword?(opts)) ->
          "expected a keyword list of options, got: #{inspect(opts, limit: 5)}"

        key = Enum.find([:run_id, :council, :spec, :input], &(not Keyword.has_key?(opts, &1))) ->
          "required option #{inspect(key)} is missing"

        not (is_binary(opts[:run_id]) and opts[:run_id] != "") ->
          ":run_id must be a non-empty binary, got: #{inspect(opts[:run_id])}"

        not match?(%Spec{}, opts[:spec]) ->
          ":spec must be a %CouncilEx.Spec{}, got: #{inspect(opts[:spec], limit: 5)}"

        not (is_atom(opts[:council]) or
                 (is_binary(opts[:council]) and String.starts_with?(opts[:council], "dynamic:"))) ->
          ~s(:council must be a module or "dynamic:" <> id, got: #{inspect(opts[:council])})

        true ->
          nil
      end

    if problem,
      do:
        {:error,
         %Error{
           kind: :validation,
           reason: :invalid_option,
           message: "CouncilEx.RunServer: " <> problem
         }},
      else: :ok
  end

  defp plan(nil, spec, input, user_opts) do
    case {Run.errors(user_opts), Rules.check(spec, :spec)} do
      {[], []} -> Plan.prepare(spec, input, user_opts)
      {[], errors} -> {:error, Rules.to_error(errors, :invalid_council)}
      {errors, _} -> {:error, Rules.to_error(errors, :invalid_option)}
    end
  end

  defp plan(plan, _spec, _input, _user_opts), do: {:ok, plan}

  ## GenServer

  @impl true
  def init(opts) do
    # The run's tasks are linked to it (see RunServer.Tasks).
    Process.flag(:trap_exit, true)
    Process.put(:"$callers", opts[:callers])
    user_opts = opts[:user_opts]
    tag = make_ref()
    state = State.new(opts, opts[:plan], tag, topics(opts[:run_id], user_opts))

    # Everyone who must see :run_started subscribes before it is sent.
    verbose =
      if mode = user_opts[:verbose],
        do: CouncilEx.Verbose.attach(state.run_id, mode: mode, io: user_opts[:verbose_io])

    owner = if pid = user_opts[:owner], do: Process.monitor(pid)
    state = %{state | verbose: verbose, owner: owner}

    if recorder = user_opts[:recorder], do: RecorderProcess.start(state.run_id, recorder, self())

    # An engine that refuses the run fails it like any other failure: the
    # run started, so it ends with :run_failed, and the caller lives on.
    case Plan.start(opts[:plan], tag) do
      {:ok, run} -> {:ok, %{state | run: run}, {:continue, :started}}
      {:error, %Error{} = error} -> {:ok, state, {:continue, {:refused, error}}}
    end
  end

  @impl true
  def handle_continue(:started, state) do
    broadcast(state, {:run_started, state.run_id, state.council, state.input})
    {:noreply, state}
  end

  def handle_continue({:refused, error}, state) do
    broadcast(state, {:run_started, state.run_id, state.council, state.input})
    finalize(state, :failed, error)
  end

  @impl true
  def handle_call(:run_id, _from, state), do: {:reply, state.run_id, state}

  def handle_call(:summary, _from, state), do: {:reply, {:ok, summary(state)}, state}

  def handle_call({:await, stop?}, from, %{result: nil} = state),
    do: {:noreply, %{state | waiters: [{from, stop?} | state.waiters]}}

  def handle_call({:await, true}, _from, state), do: {:stop, :normal, reply(state), state}
  def handle_call({:await, false}, _from, state), do: {:reply, reply(state), state}

  def handle_call(:cancel, _from, %{run: nil} = state), do: {:reply, :ok, state}

  def handle_call(:cancel, _from, state) do
    :ok = Native.run_cancel(state.run)
    {:reply, :ok, state}
  end

  @impl true
  def handle_info({:council_ex_run, tag, events}, %{tag: tag} = state),
    do: handle_events(events, state)

  def handle_info({:external_token, step, seat, chunk}, state) do
    with {:broadcast, event} <- Calls.token(state, step, seat, chunk), do: broadcast(state, event)
    {:noreply, state}
  end

  def handle_info({:external_timeout, ref}, state), do: {:noreply, Calls.timeout(state, ref)}

  def handle_info({ref, result}, %{external: external} = state) when is_map_key(external, ref),
    do: {:noreply, Calls.done(state, ref, result)}

  def handle_info({:DOWN, ref, :process, _pid, reason}, %{external: external} = state)
      when is_map_key(external, ref),
      do: {:noreply, Calls.crashed(state, ref, reason)}

  def handle_info({:tool_result, step, seat, result}, state) do
    event =
      {:tool_call_result, state.run_id, State.step_name(state, step), State.seat_id(state, seat),
       result}

    broadcast(state, event)
    {:noreply, state}
  end

  def handle_info({ref, texts}, %{tool_turns: turns} = state) when is_map_key(turns, ref),
    do: {:noreply, Calls.tools_done(state, ref, texts)}

  def handle_info({:DOWN, ref, :process, _pid, _reason}, %{tool_turns: turns} = state)
      when is_map_key(turns, ref),
      do: {:noreply, Calls.tools_done(state, ref, :crashed)}

  def handle_info({ref, verdict}, %{judges: judges} = state) when is_map_key(judges, ref),
    do: {:noreply, Calls.judged(state, ref, verdict)}

  def handle_info({:DOWN, ref, :process, _pid, _reason}, %{judges: judges} = state)
      when is_map_key(judges, ref),
      do: {:noreply, Calls.judged(state, ref, :error)}

  def handle_info({:EXIT, pid, reason}, state), do: Tasks.exit_signal(state, pid, reason)

  def handle_info({:DOWN, ref, :process, _pid, reason}, %{owner: ref} = state),
    do: {:stop, {:shutdown, {:owner_down, reason}}, state}

  def handle_info(:expire, state), do: {:stop, :normal, state}
  def handle_info(_other, state), do: {:noreply, state}

  # Stopped by its supervisor, its linked owner, terminate_run/2 or an
  # await that ends it.
  @impl true
  def terminate(_reason, state), do: Tasks.stop_all(state)

  # Crash reports and :sys.get_status/1 show the summary, never the input,
  # answers or seats (a report must not carry user data or grow with it).
  @impl true
  def format_status(_reason, [_pdict, %State{} = state]), do: summary(state)
  def format_status(_reason, [_pdict, state]), do: state

  defp summary(state),
    do:
      Map.take(state, [:run_id, :council, :status, :current_round, :rounds_completed, :started_at])

  ## Engine events (see CouncilEx.Native.event/0)

  # The engine sends the events of one step together, in order.
  defp handle_events([], state), do: {:noreply, state}

  defp handle_events([event | rest], state) do
    case handle_event(event, state) do
      {:noreply, state} -> handle_events(rest, state)
      stop -> stop
    end
  end

  @spec handle_event(Native.event(), State.t()) ::
          {:noreply, State.t()} | {:stop, :normal, State.t()}
  defp handle_event({:round_started, step, round, iteration}, state) do
    name = elem(state.rounds, round).name

    step_info = %{
      round: round,
      iteration: iteration,
      name: name,
      started: System.monotonic_time()
    }

    state = put_in(state.steps[step], step_info)
    broadcast(state, {:round_started, state.run_id, name, step})
    {:noreply, %{state | status: :running, current_round: %{name: name, idx: step}}}
  end

  defp handle_event({:member_started, step, _index, seat}, state) do
    event =
      {:member_started, state.run_id, State.step_name(state, step), State.seat_id(state, seat)}

    broadcast(state, event)
    {:noreply, state}
  end

  defp handle_event({:member_token, step, seat, index, text}, state) do
    chunk = %StreamChunk{content: text, index: index}

    event =
      {:member_token, state.run_id, State.step_name(state, step), State.seat_id(state, seat),
       chunk}

    broadcast(state, event)
    {:noreply, state}
  end

  # Only with verbose: :debug (the plan's debug flag): the tracer prints it.
  defp handle_event({:member_request, step, _index, seat, body}, state) do
    if state.verbose,
      do:
        send(
          state.verbose,
          {:request, State.step_name(state, step), State.seat_id(state, seat), body}
        )

    {:noreply, state}
  end

  defp handle_event({:tool_calls, step, index, seat, calls}, state) do
    {state, tool_calls} = Calls.start_tools(state, step, index, seat, calls)
    round = State.step_name(state, step)
    id = State.seat_id(state, seat)
    Enum.each(tool_calls, &broadcast(state, {:tool_call_request, state.run_id, round, id, &1}))
    {:noreply, state}
  end

  defp handle_event({:call, step, index, seat, body, timeout_ms}, state),
    do: {:noreply, Calls.start_call(state, step, index, seat, body, timeout_ms)}

  defp handle_event({:member_completed, step, index, seat, outcome}, state) do
    state = Calls.drop(state, step, index)
    {extra, state} = pop_in(state.external_errors[{step, index}])
    name = State.step_name(state, step)
    result = MemberOutcome.build(state, step, elem(state.seats, seat), name, outcome, extra)
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
      if RoundOutcome.answers?(State.round_info(state, step).kind),
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
    info = State.round_info(state, step)
    ctx = context(state, step)
    ids = State.member_ids(state)

    with {:ok, picked} <- Hooks.route(info.router, state.input, ctx, ids),
         {:ok, answer} <- Hooks.seat_inputs(info, picked, ids, ctx) do
      out = for {id, sits} <- Enum.zip(ids, answer), sits in [false, nil], do: id
      _ = Native.run_answer(state.run, step, {:seats, answer})
      {:noreply, put_in(state.routed_out[step], out)}
    else
      {:error, %Error{} = error} -> abort(state, error)
    end
  end

  defp handle_event({:judge_needed, step, index, a, b}, state),
    do: {:noreply, Calls.start_judge(state, step, index, a, b)}

  defp handle_event({:iteration_done, step}, state) do
    info = State.round_info(state, step)
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

  @doc false
  def context(state, step) do
    %Context{
      run_id: state.run_id,
      council: state.council,
      input: state.input,
      prior_rounds: Enum.reverse(state.round_results),
      round_idx: step,
      round_name: State.step_name(state, step)
    }
  end

  ## Finalizing

  defp finalize(state, status, reason) do
    result = RunOutcome.build(state, status, reason)

    case status do
      :completed -> broadcast(state, {:run_completed, state.run_id, result})
      _ -> broadcast(state, {:run_failed, state.run_id, result.errors, result})
    end

    state = Tasks.stop_all(state)
    reply_waiters(%{state | status: status, result: result, run: nil, current_round: nil})
  end

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

  # The adapter is looked up once per run, not once per event.
  defp broadcast(%{pubsub: {adapter, config}} = state, event),
    do: Enum.each(state.topics, &adapter.broadcast(config, &1, event))
end
