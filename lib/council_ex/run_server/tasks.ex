defmodule CouncilEx.RunServer.Tasks do
  @moduledoc false
  # The tasks a run's process starts (calls answered in the BEAM, which
  # include sub-council runs, tool turns and judge functions) are linked
  # to it, so a run killed outright takes them with it; a sub-council run
  # watches its task (the :owner run option) and stops when it does. The
  # run's process traps exits: a run that ends any other way stops them in
  # stop_all/1, and their own exit signals are dropped here (their ends
  # arrive as :DOWN, with their task).

  alias CouncilEx.RunServer.State

  @kinds [:external, :tool_turns, :judges]

  @doc "Starts `fun` in a task linked to the calling run's process."
  @spec start(State.t(), (() -> term())) :: {Task.t(), State.t()}
  def start(state, fun) do
    task = Task.Supervisor.async(CouncilEx.Runner.TaskSupervisor, fun)
    {task, %{state | linked: MapSet.put(state.linked, task.pid)}}
  end

  @doc "Stops one task now; its answer, if any, is dropped."
  @spec stop(State.t(), Task.t()) :: State.t()
  def stop(state, task) do
    Task.shutdown(task, :brutal_kill)
    %{state | linked: MapSet.delete(state.linked, task.pid)}
  end

  @doc "Stops every task the run still has."
  @spec stop_all(State.t()) :: State.t()
  def stop_all(state) do
    state =
      for kind <- @kinds, {_ref, info} <- Map.fetch!(state, kind), reduce: state do
        acc -> stop(acc, info.task)
      end

    %{state | external: %{}, tool_turns: %{}, judges: %{}}
  end

  @doc """
  An exit signal the run's process received: a task's is dropped; any
  other acts as on a process that does not trap exits (`:normal` is
  ignored, anything else stops the run with that reason).
  """
  @spec exit_signal(State.t(), pid(), term()) ::
          {:noreply, State.t()} | {:stop, term(), State.t()}
  def exit_signal(state, pid, reason) do
    if reason == :normal or MapSet.member?(state.linked, pid),
      do: {:noreply, %{state | linked: MapSet.delete(state.linked, pid)}},
      else: {:stop, reason, state}
  end
end
