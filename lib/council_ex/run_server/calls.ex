defmodule CouncilEx.RunServer.Calls do
  @moduledoc false
  # The work a run's process does between C steps, in tasks it owns: calls
  # of seats answered in the BEAM (dispatchers, sub-councils), tool turns
  # and judge functions. Each task's answer goes back to the C run; a call
  # that ends in C first (answered, cancelled) stops its tasks.

  alias CouncilEx.{Error, Native, StreamChunk, ToolCall}
  alias CouncilEx.RunServer.{ExternalCall, Hooks, State, Tasks, ToolTurn}

  ## Calls of seats answered in the BEAM

  @doc """
  Starts the task answering an external seat's call `{:call, step, index,
  seat, body, timeout_ms}`: the attempt may take `timeout_ms` (what the C
  round loop leaves it of the member's budget; 0: no bound).
  """
  @spec start_call(
          State.t(),
          Native.step(),
          Native.index(),
          Native.seat(),
          binary(),
          non_neg_integer()
        ) :: State.t()
  def start_call(state, step, index, seat, body, timeout_ms) do
    info = elem(state.seats, seat)

    ctx = %{
      step: step,
      seat: seat,
      round_name: State.step_name(state, step),
      run_id: state.run_id,
      input: state.input
    }

    server = self()
    {task, state} = Tasks.start(state, fn -> ExternalCall.call(info, body, ctx, server) end)
    timeout = if timeout_ms > 0, do: timeout_ms, else: :infinity

    timer =
      if timeout_ms > 0, do: Process.send_after(self(), {:external_timeout, task.ref}, timeout_ms)

    call = %{
      task: task,
      step: step,
      index: index,
      seat: seat,
      timer: timer,
      timeout: timeout,
      started: System.monotonic_time()
    }

    put_in(state.external[task.ref], call)
  end

  @doc "A token of a streamed external answer, broadcast as the C side would."
  @spec token(State.t(), Native.step(), Native.seat(), term()) ::
          {:broadcast, tuple()} | :ignore
  def token(state, step, seat, %StreamChunk{} = chunk) do
    {:broadcast,
     {:member_token, state.run_id, State.step_name(state, step), State.seat_id(state, seat),
      chunk}}
  end

  def token(_state, _step, _seat, _chunk), do: :ignore

  @doc "An external call passed its timeout: it fails as a timeout."
  @spec timeout(State.t(), reference()) :: State.t()
  def timeout(state, ref) do
    case state.external do
      %{^ref => call} ->
        message = "the call took longer than #{call.timeout} ms"

        done(
          Tasks.stop(state, call.task),
          ref,
          {:error, %Error{kind: :timeout, reason: :timeout, message: message}}
        )

      _ ->
        state
    end
  end

  @doc "An external call's task answered (or crashed): the answer goes to C."
  @spec done(State.t(), reference(), term()) :: State.t()
  def done(state, ref, result) do
    {call, external} = Map.pop(state.external, ref)
    Process.demonitor(ref, [:flush])
    if call.timer, do: Process.cancel_timer(call.timer)

    latency_us =
      System.convert_time_unit(System.monotonic_time() - call.started, :native, :microsecond)

    if state.run,
      do:
        Native.run_reply(
          state.run,
          call.step,
          call.index,
          ExternalCall.to_reply(result),
          latency_us
        )

    # What the C side does not keep: a dispatcher's own error, a
    # sub-council's run.
    errors =
      case result do
        {:error, %Error{} = e} -> Map.put(state.external_errors, {call.step, call.index}, e)
        {:ok, _response, meta} -> Map.put(state.external_errors, {call.step, call.index}, meta)
        _ -> state.external_errors
      end

    %{state | external: external, external_errors: errors}
  end

  @doc "An external call's task died: the call fails."
  @spec crashed(State.t(), reference(), term()) :: State.t()
  def crashed(state, ref, reason) do
    done(
      state,
      ref,
      {:error, %Error{kind: :permanent, reason: :dispatcher_crashed, message: inspect(reason)}}
    )
  end

  ## Tool turns

  @doc """
  Starts the task running a call's tool calls `{:tool_calls, step, index,
  seat, calls}`; returns the state and the `%ToolCall{}`s to broadcast.
  """
  @spec start_tools(State.t(), Native.step(), Native.index(), Native.seat(), list()) ::
          {State.t(), [ToolCall.t()]}
  def start_tools(state, step, index, seat, calls) do
    info = elem(state.seats, seat)

    tool_calls =
      for {id, name, args} <- calls do
        args =
          case CouncilEx.JSON.decode(args) do
            {:ok, %{} = map} -> map
            _ -> %{}
          end

        %ToolCall{id: id, name: name, args_raw: args}
      end

    {ctx, server} = {%{step: step, seat: seat}, self()}
    {task, state} = Tasks.start(state, fn -> ToolTurn.run(tool_calls, info.opts, ctx, server) end)
    turn = %{task: task, step: step, index: index, seat: seat, n: length(tool_calls)}
    {put_in(state.tool_turns[task.ref], turn), tool_calls}
  end

  @doc "A tool turn ended (`texts`, one per call) or crashed (`:crashed`): the results go to C."
  @spec tools_done(State.t(), reference(), [binary()] | :crashed) :: State.t()
  def tools_done(state, ref, texts) do
    {turn, turns} = Map.pop(state.tool_turns, ref)
    Process.demonitor(ref, [:flush])

    texts =
      if texts == :crashed,
        do: List.duplicate(~s({"error":"the tool runner crashed"}), turn.n),
        else: texts

    if state.run, do: Native.run_tool_results(state.run, turn.step, turn.index, texts)
    %{state | tool_turns: turns}
  end

  ## Judges

  @doc "Starts the task judging a pair `{:judge_needed, step, index, a, b}`."
  @spec start_judge(State.t(), Native.step(), Native.index(), Native.seat(), Native.seat()) ::
          State.t()
  def start_judge(state, step, index, a, b) do
    info = State.round_info(state, step)
    content = fn seat -> (r = state.answers[State.seat_id(state, seat)]) && r.response.content end

    {task, state} =
      Tasks.start(state, fn -> Hooks.judge(info.judge, content.(a), content.(b)) end)

    put_in(state.judges[task.ref], %{task: task, step: step, index: index})
  end

  @doc "A judge's verdict (`:a`, `:b`, or anything else for none) goes to C."
  @spec judged(State.t(), reference(), term()) :: State.t()
  def judged(state, ref, verdict) do
    {%{step: step, index: index}, judges} = Map.pop(state.judges, ref)
    Process.demonitor(ref, [:flush])

    winner =
      case verdict do
        :a -> 0
        :b -> 1
        _ -> -1
      end

    if state.run, do: Native.run_answer(state.run, step, {:judged, index, winner})
    %{state | judges: judges}
  end

  ## Ending

  @doc """
  A call that finished in C (answered, or cancelled with the run) needs its
  tasks no longer: they are stopped.
  """
  @spec drop(State.t(), Native.step(), Native.index()) :: State.t()
  def drop(state, step, index) do
    state |> drop_task(:external, step, index) |> drop_task(:tool_turns, step, index)
  end

  defp drop_task(state, field, step, index) do
    tasks = Map.fetch!(state, field)

    case Enum.find(tasks, fn {_, t} -> t.step == step and t.index == index end) do
      {ref, t} ->
        if t[:timer], do: Process.cancel_timer(t.timer)
        state |> Tasks.stop(t.task) |> Map.put(field, Map.delete(tasks, ref))

      nil ->
        state
    end
  end
end
