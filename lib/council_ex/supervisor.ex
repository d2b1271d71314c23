defmodule CouncilEx.Supervisor do
  @moduledoc """
  Optional `DynamicSupervisor` wrapper for grouping council runs.

  CouncilEx itself ships no supervisor for runs: `CouncilEx.start/3` spawns
  runners unsupervised (`GenServer.start/3` semantics) and
  `CouncilEx.start_link/3` links them to the caller. Use this module when
  you want group management of several runs:

    * tenant isolation - one supervisor per tenant; bulk-cancel with
      `Supervisor.stop/1` or `terminate_all/1`
    * visibility - `DynamicSupervisor.which_children/1` lists in-flight runs
    * lifecycle ownership - runs survive their caller's exit and die when
      the supervisor exits

  Children are `:temporary` (never restarted): re-running a half-finished
  council from scratch wastes tokens and produces odd state.

  ## Setup

      children = [
        {CouncilEx.Supervisor, name: MyApp.RunSup}
      ]

      {:ok, pid} = CouncilEx.Supervisor.start_link(MyApp.RunSup, council, input)
      run_id = CouncilEx.RunServer.run_id(pid)

  Any `CouncilEx.start/3` option (`:run_id`, `:registry`, `:recorder`,
  `:verbose`, `:subscribe`, ...) is forwarded to the runner.
  """

  alias CouncilEx.{Error, RunServer}

  @doc """
  Returns a specification to start this module under a supervisor. See
  `Supervisor`.
  """
  @spec child_spec(keyword()) :: Supervisor.child_spec()
  def child_spec(opts) do
    %{
      id: Keyword.get(opts, :name, __MODULE__),
      start: {__MODULE__, :start_link, [opts]},
      type: :supervisor
    }
  end

  @doc """
  Starts the supervisor. Pass `:name` (required for named lookup); other
  options are `DynamicSupervisor` options (`:max_children`, ...).
  """
  @spec start_link(keyword()) :: Supervisor.on_start()
  def start_link(opts \\ []) when is_list(opts) do
    DynamicSupervisor.start_link(Keyword.put(opts, :strategy, :one_for_one))
  end

  @doc """
  Starts a run as a child of `supervisor`. The runner is linked to the
  supervisor, not to the caller.

  Returns `{:ok, pid}`; fetch the run id with `CouncilEx.RunServer.run_id/1`
  or supply your own with the `:run_id` option. Validation, options and
  PubSub semantics match `CouncilEx.start/3` (with `subscribe: true` it is
  the caller that is subscribed).
  """
  @spec start_link(Supervisor.supervisor(), module() | struct(), term(), keyword()) ::
          {:ok, pid()} | {:error, term()}
  def start_link(supervisor, council, input, opts \\ []) do
    with {:ok, server_opts} <- CouncilEx.server_opts(council, input, opts) do
      # The caller subscribes here: the runner starts in the supervisor.
      {subscribe?, user_opts} = Keyword.pop(server_opts[:user_opts], :subscribe, false)

      server_opts =
        Keyword.merge(server_opts,
          user_opts: user_opts,
          callers: [self() | Process.get(:"$callers", [])]
        )

      topics = if subscribe?, do: RunServer.topics(server_opts[:run_id], user_opts), else: []
      Enum.each(topics, &CouncilEx.PubSub.subscribe/1)

      case start_child(supervisor, server_opts) do
        {:ok, pid} ->
          {:ok, pid}

        other ->
          Enum.each(topics, &CouncilEx.PubSub.unsubscribe/1)
          other
      end
    end
  end

  # A supervisor that is not running is an error, not an exit.
  defp start_child(supervisor, server_opts) do
    DynamicSupervisor.start_child(supervisor, {RunServer, server_opts})
  catch
    :exit, reason ->
      {:error,
       %Error{
         kind: :permanent,
         reason: :supervisor_unavailable,
         message: "#{inspect(supervisor)} did not start the run: #{inspect(reason, limit: 5)}"
       }}
  end

  @doc """
  Terminates every child runner under `supervisor`. Synchronous: returns
  once they are all gone.

  Each runner receives `:shutdown`; processes monitoring a runner see
  `:DOWN`. Use this for tenant teardown.
  """
  @spec terminate_all(Supervisor.supervisor()) :: :ok
  def terminate_all(supervisor) do
    for {_, pid, _, _} <- DynamicSupervisor.which_children(supervisor), is_pid(pid) do
      DynamicSupervisor.terminate_child(supervisor, pid)
    end

    :ok
  end
end
