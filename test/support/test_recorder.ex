defmodule CouncilEx.TestRecorder do
  @moduledoc false
  # Reports every callback to the test process given as args:
  # {:recorder, run_id, {:init, pid} | {:event, event} | {:finalize, outcome}}.
  # Args may also be {test_pid, opts} with opts :crash_on (an event type
  # whose handle_event raises) and :init (a value init/2 returns instead).
  @behaviour CouncilEx.Recorder

  @impl true
  def init(run_id, {test, opts}) do
    send(test, {:recorder, run_id, {:init, self()}})
    Keyword.get(opts, :init, {:ok, %{run_id: run_id, test: test, opts: opts, seen: 0}})
  end

  def init(run_id, test), do: init(run_id, {test, []})

  @impl true
  def handle_event(event, state) do
    if elem(event, 0) == state.opts[:crash_on], do: raise("recorder crash on #{elem(event, 0)}")
    send(state.test, {:recorder, state.run_id, {:event, event}})
    {:ok, %{state | seen: state.seen + 1}}
  end

  @impl true
  def handle_finalize(outcome, state) do
    send(state.test, {:recorder, state.run_id, {:finalize, outcome}})
    send(state.test, {:recorder, state.run_id, {:seen, state.seen}})
    :ok
  end
end
