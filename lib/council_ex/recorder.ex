defmodule CouncilEx.Recorder do
  @moduledoc """
  A single-writer process per run that sees every event: persistence,
  message queues, tracing, eval harnesses.

      defmodule MyApp.RunLog do
        @behaviour CouncilEx.Recorder

        @impl true
        def init(run_id, path), do: {:ok, %{run_id: run_id, file: File.open!(path, [:append])}}

        @impl true
        def handle_event(event, state) do
          IO.inspect(state.file, elem(event, 0), [])
          {:ok, state}
        end

        @impl true
        def handle_finalize(outcome, state) do
          File.close(state.file)
          :ok
        end
      end

      CouncilEx.start(MyCouncil, input, recorder: {MyApp.RunLog, "/tmp/runs.log"})

  ## Guarantees

    * The recorder process starts, and `init/2` returns, before the run
      broadcasts its first event; it then receives every event in order.
    * `handle_finalize/2` is called exactly once, with `{:ok, result}` for a
      completed run, `:cancelled` for a cancelled one, `{:error, result}`
      for a failed one, and `{:error, {:runserver_crashed, reason}}` when the
      run's process dies without a terminal event (killed, shut down by its
      supervisor, crashed). The process then exits normally.
    * A recorder never harms its run: it is not linked to it. An exception
      in `handle_event/2` is logged and the event skipped (the state is
      kept); if `init/2` returns `{:stop, reason}` or raises, nothing is
      recorded and the run goes on.
  """

  @typedoc "How a run ended, as the recorder is told."
  @type outcome ::
          {:ok, CouncilEx.Result.t()} | {:error, CouncilEx.Result.t() | term()} | :cancelled

  @callback init(run_id :: String.t(), args :: term()) ::
              {:ok, state :: term()} | {:stop, reason :: term()}
  @callback handle_event(event :: tuple(), state :: term()) :: {:ok, term()}
  @callback handle_finalize(outcome(), state :: term()) :: term()

  @doc false
  def recorder?(module) do
    Code.ensure_loaded?(module) and function_exported?(module, :init, 2) and
      function_exported?(module, :handle_event, 2) and
      function_exported?(module, :handle_finalize, 2)
  end
end
