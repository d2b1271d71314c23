defmodule CouncilEx.RunServer.RecorderProcess do
  @moduledoc false
  # Hosts a CouncilEx.Recorder for one run: subscribes to the run's topic
  # before the run's first broadcast, forwards events in order, monitors the
  # run and finalizes exactly once. Unlinked: its crashes stay its own.

  use GenServer, restart: :temporary
  require Logger

  alias CouncilEx.{Error, PubSub}

  @doc "Starts the recorder for `run_pid` and returns once it is subscribed and initialized."
  @spec start(String.t(), {module(), term()}, pid()) :: {:ok, pid()} | :ignore | {:error, term()}
  def start(run_id, {module, args}, run_pid) do
    GenServer.start(__MODULE__, {run_id, module, args, run_pid})
  end

  @impl true
  def init({run_id, module, args, run_pid}) do
    :ok = PubSub.subscribe(PubSub.run_topic(run_id))

    case safely(fn -> module.init(run_id, args) end) do
      {:ok, {:ok, user_state}} ->
        ref = Process.monitor(run_pid)
        {:ok, %{module: module, run_id: run_id, run_monitor: ref, user_state: user_state}}

      other ->
        Logger.warning(
          "CouncilEx.Recorder #{inspect(module)} did not start for run #{run_id}: #{describe(other)}"
        )

        :ignore
    end
  end

  @impl true
  def handle_info({:run_completed, run_id, result} = event, %{run_id: run_id} = state) do
    state |> record(event) |> finalize({:ok, result})
  end

  def handle_info({:run_failed, run_id, errors, result} = event, %{run_id: run_id} = state) do
    outcome =
      if Enum.any?(errors, &match?(%Error{kind: :cancelled}, &1)),
        do: :cancelled,
        else: {:error, result}

    state |> record(event) |> finalize(outcome)
  end

  # Signals from one process arrive in order: a terminal event sent before
  # the run exited has been handled before this.
  def handle_info({:DOWN, ref, :process, _, reason}, %{run_monitor: ref} = state) do
    finalize(state, {:error, {:runserver_crashed, reason}})
  end

  def handle_info(event, %{run_id: run_id} = state)
      when is_tuple(event) and tuple_size(event) > 2 and elem(event, 1) == run_id do
    {:noreply, record(state, event)}
  end

  def handle_info(_other, state), do: {:noreply, state}

  defp record(state, event) do
    case safely(fn -> state.module.handle_event(event, state.user_state) end) do
      {:ok, {:ok, user_state}} ->
        %{state | user_state: user_state}

      other ->
        Logger.warning(
          "CouncilEx.Recorder #{inspect(state.module)} skipped #{elem(event, 0)}: #{describe(other)}"
        )

        state
    end
  end

  defp finalize(state, outcome) do
    case safely(fn -> state.module.handle_finalize(outcome, state.user_state) end) do
      {:ok, _} ->
        :ok

      other ->
        Logger.warning(
          "CouncilEx.Recorder #{inspect(state.module)} failed to finalize: #{describe(other)}"
        )
    end

    {:stop, :normal, state}
  end

  defp safely(fun) do
    {:ok, fun.()}
  rescue
    e -> {:raised, Exception.message(e)}
  catch
    kind, value -> {:raised, "#{kind} #{inspect(value)}"}
  end

  defp describe({:raised, message}), do: "raised #{message}"
  defp describe({:ok, other}), do: "returned #{inspect(other, limit: 5)}"
end
