defmodule CouncilEx do
  @moduledoc """
  Multi-model LLM councils for Elixir/OTP.

  A council seats several LLM members, runs them through ordered rounds and
  returns one `%CouncilEx.Result{}`. The round loop (prompt building, the
  HTTP calls through libcurl, JSON, aggregation) runs in C on the library's
  own engine threads; each run is a `CouncilEx.RunServer` process that
  reports progress as events.

  ## Defining a council

      defmodule MyCouncil do
        use CouncilEx

        member :optimist, MyApp.Members.Optimist, provider: :openai, model: "gpt-4o-mini"
        member :skeptic, provider: :openai, model: "gpt-4o-mini",
          system_prompt: "You look for what could go wrong."
        round :independent_analysis
        chair :chair, provider: :openai, model: "gpt-4o"
      end

      {:ok, result} = CouncilEx.run(MyCouncil, %{question: "Go or wait?"})
      result.final.content

  `member id, Module, opts` seats a `CouncilEx.Member` module with the given
  capabilities; `member id, opts` seats an inline member. `chair` adds the
  `:synthesis` round after the declared rounds. The seat options are listed
  under `member/2`; the chair also takes `:fallback` (see `chair/2`).
  `member id, council: Other` seats a sub-council, `router` sets a
  `CouncilEx.Router`, and round options are listed in `CouncilEx.Rounds`.
  Every option is checked when the council compiles: an unknown option or
  a bad value is a compile error at the member's or round's line, naming
  the option; none is ever ignored.
  Capabilities can come from profiles (`CouncilEx.Profile`): the app's
  `:default_profile`, then the council's `default_profile`, then the seat's
  `:profile`, then the seat's own options, later ones winning.

  A council is a module like this one, a `%CouncilEx.DynamicCouncil{}`
  built at runtime, a `%CouncilEx.AutoCouncil{}` that picks one of those
  for each input, or a `%CouncilEx.Spec{}` (what a council module compiles
  to, held to the same rules); every function below takes any of them.
  Prebuilt shapes (panel, voting, tournament, ...) are in
  `CouncilEx.Councils`.

  ## Running

  `run/3` blocks until the result is there. `start/3` (unlinked, like
  `GenServer.start/3`) and `start_link/3` (linked) return `{:ok, pid}` at
  once; follow the run with `subscribe/1`, `await/2`, `lookup/1` and
  `CouncilEx.RunServer.state/2`, stop it with `cancel/2`. To group runs
  under your own supervision tree, use `CouncilEx.Supervisor`.

  Councils, inputs and options are checked before any process starts, and
  no start function exits or raises for them: a council, input or option
  that cannot run gives `{:error, %CouncilEx.Error{kind: :validation}}`
  whose message names the member or round and the option, with every
  problem in `context.errors` (see `validate/2`, which runs the same
  checks).

  ## Input

  The input is what every member is asked about:

    * a string is sent as it is;
    * a map puts its `:question` (or `"question"`) first, then its other
      fields as `key: value` lines sorted by key (strings as they are;
      numbers, atoms and booleans as their text; lists and maps as JSON);
    * a list of messages, `%{role: "system" | "user" | "assistant",
      content: text}` (atom or string keys), is sent as one
      `role: content` line each.

  Anything else (a tuple, a pid, a function, ...) is a validation error,
  as is text that is not valid UTF-8 or holds a NUL byte.

  ## Run options

  #{CouncilEx.Options.Run.docs()}

  ## Events

  Subscribers of `"council_ex:run:" <> run_id` (and of every relay topic)
  receive, in order:

      {:run_started, run_id, council, input}
      {:round_started, run_id, round_name, idx}
      {:member_started, run_id, round_name, member_id}
      {:member_token, run_id, round_name, member_id, %CouncilEx.StreamChunk{}}
      {:tool_call_request, run_id, round_name, member_id, %CouncilEx.ToolCall{}}
      {:tool_call_result, run_id, round_name, member_id, %CouncilEx.ToolCallResult{}}
      {:member_completed, run_id, round_name, member_id, %CouncilEx.MemberResult{}}
      {:round_completed, run_id, round_name, %CouncilEx.RoundResult{}}
      {:run_completed, run_id, %CouncilEx.Result{}}
      {:run_failed, run_id, [%CouncilEx.Error{}], %CouncilEx.Result{}}

  One process broadcasts them all, so rounds are strictly ordered; within a
  round, different members' events may interleave but each member's stay in
  order. `:member_completed` comes for every member, failed or not (see its
  `status`). Exactly one of `:run_completed` and `:run_failed` ends a run; a
  cancelled run ends in `:run_failed` with a `kind: :cancelled` error.
  `:member_token` comes only for members with `stream: true`.
  """

  alias CouncilEx.{Error, Options, Plan, PubSub, RunServer}
  alias CouncilEx.Council.Rules

  @typedoc """
  A council: a module that uses `CouncilEx`, a `%CouncilEx.DynamicCouncil{}`,
  a `%CouncilEx.AutoCouncil{}`, or a `%CouncilEx.Spec{}` (what a council
  module compiles to, held to the same rules).
  """
  @type council :: module() | struct()

  @typedoc "A run, by pid or by run id."
  @type run :: pid() | String.t()

  ## Running

  @doc """
  Runs a council synchronously: `start_link/3` plus `await/2`.

  Returns `{:ok, %CouncilEx.Result{}}` when the run completes (members may
  still have failed: see `result.status` and `result.errors`), or
  `{:error, %CouncilEx.Result{}}` when it failed or was cancelled, holding
  the partial result and every error. A council or input that cannot run
  gives `{:error, %CouncilEx.Error{kind: :validation}}` before any process
  starts. When `:await_timeout` passes first, the run is stopped and
  `{:error, %CouncilEx.Error{kind: :timeout, reason: :await_timeout}}` is
  returned.
  """
  @spec run(council(), term(), keyword()) ::
          {:ok, CouncilEx.Result.t()} | {:error, CouncilEx.Result.t() | Error.t()}
  def run(council, input, opts \\ []) do
    timeout = Keyword.get(opts, :await_timeout, :infinity)

    with {:ok, pid} <- start_link(council, input, opts) do
      try do
        RunServer.await(pid, timeout, true)
      catch
        :exit, {:timeout, _} ->
          Process.unlink(pid)
          Process.exit(pid, :kill)

          {:error,
           %Error{
             kind: :timeout,
             reason: :await_timeout,
             message: "the run took longer than #{timeout} ms"
           }}
      after
        Process.unlink(pid)
        flush_exit(pid)
      end
    end
  end

  defp flush_exit(pid) do
    receive do
      {:EXIT, ^pid, _} -> :ok
    after
      0 -> :ok
    end
  end

  @doc """
  Starts a run unlinked and unsupervised (`GenServer.start/3` semantics).
  Returns `{:ok, pid}`; the caller owns the pid (lose it and the run runs
  on unwatched until it ends).
  """
  @spec start(council(), term(), keyword()) :: {:ok, pid()} | {:error, term()}
  def start(council, input, opts \\ []), do: do_start(:start, council, input, opts)

  @doc """
  Starts a run linked to the caller (`GenServer.start_link/3` semantics):
  the caller's death kills the run and cancels its HTTP calls, and a run
  crash reaches the caller unless it traps exits.
  """
  @spec start_link(council(), term(), keyword()) :: {:ok, pid()} | {:error, term()}
  def start_link(council, input, opts \\ []), do: do_start(:start_link, council, input, opts)

  @doc """
  Waits for a run started with `start/3` or `start_link/3` to finish and
  returns what `run/3` would. A run that ended within its retention time
  still answers.

  Never raises or exits: `{:error, :unknown_run}` when no such run is
  registered (or its pid is dead), `{:error, :timeout}` when `timeout`
  passes first (the run goes on), `{:error, {:down, reason}}` when the run's
  process exits while waiting (killed, or stopped by `terminate_run/2`).
  """
  @spec await(run(), timeout()) ::
          {:ok, CouncilEx.Result.t()}
          | {:error, CouncilEx.Result.t() | :unknown_run | :timeout | {:down, term()}}
  def await(run, timeout \\ :infinity) do
    with {:ok, pid} <- find(run, []) do
      try do
        RunServer.await(pid, timeout, false)
      catch
        :exit, {:timeout, _} -> {:error, :timeout}
        :exit, {:noproc, _} -> {:error, :unknown_run}
        :exit, {reason, _} -> {:error, {:down, reason}}
      end
    end
  end

  @doc """
  Cancels a run cooperatively: its in-flight calls are stopped in C and it
  ends with `:run_failed` carrying a `kind: :cancelled` error (its result's
  status is `:cancelled`). Returns `:ok`, also for a run that already
  ended, or `{:error, :unknown_run}`. Options: `:registry`.
  """
  @spec cancel(run(), keyword()) :: :ok | {:error, :unknown_run}
  def cancel(run, opts \\ []) do
    with {:ok, pid} <- find(run, opts) do
      RunServer.cancel(pid)
    end
  catch
    :exit, _ -> {:error, :unknown_run}
  end

  @doc """
  Stops a run at once (`Process.exit(pid, :shutdown)`): no terminal event
  is sent, its calls are cancelled in C, and a recorder finalizes with
  `{:error, {:runserver_crashed, :shutdown}}`. Options: `:registry`.
  """
  @spec terminate_run(run(), keyword()) :: :ok | {:error, :unknown_run}
  def terminate_run(run, opts \\ []) do
    with {:ok, pid} <- find(run, opts) do
      Process.exit(pid, :shutdown)
      :ok
    end
  end

  @doc """
  Looks up the pid of a run: `{:ok, pid}`, `{:error, :unknown_run}` or
  `{:error, :runner_dead}` (see `CouncilEx.RunServer.lookup/2`).
  """
  @spec lookup(String.t(), keyword()) :: {:ok, pid()} | {:error, :unknown_run | :runner_dead}
  def lookup(run_id, opts \\ []), do: RunServer.lookup(run_id, opts)

  @doc """
  Lists the summaries (`t:CouncilEx.RunServer.run_summary/0`) of active and
  recently finished runs in the registry (option `:registry`). A run that
  does not answer within 500 ms, or dies meanwhile, is skipped.
  """
  @spec list_active_runs(keyword()) :: [RunServer.run_summary()]
  def list_active_runs(opts \\ []) do
    registry = Keyword.get(opts, :registry) || RunServer.default_registry()

    registry
    |> Registry.select([{{:_, :"$1", :_}, [], [:"$1"]}])
    |> Task.async_stream(&RunServer.summary(&1, 500),
      timeout: 1_000,
      on_timeout: :kill_task,
      max_concurrency: 64
    )
    |> Enum.flat_map(fn
      {:ok, {:ok, summary}} -> [summary]
      _ -> []
    end)
    |> Enum.sort_by(& &1.started_at, DateTime)
  end

  @doc "Subscribes the caller to a run's events (`\"council_ex:run:\" <> run_id`)."
  @spec subscribe(String.t()) :: :ok
  def subscribe(run_id) when is_binary(run_id), do: PubSub.subscribe(PubSub.run_topic(run_id))

  @doc "Unsubscribes the caller from a run's events."
  @spec unsubscribe(String.t()) :: :ok
  def unsubscribe(run_id) when is_binary(run_id), do: PubSub.unsubscribe(PubSub.run_topic(run_id))

  @doc """
  Checks a council, and optionally run options, without running it:
  `:ok`, or `{:error, errors}` with a JSON-friendly list of
  `%{path: [String.t() | non_neg_integer()], code: atom(), message: String.t()}`
  (each message names the member or round and the option).

  It applies every check a start function applies before any process
  starts, so `validate(council, opts)` is `:ok` exactly when
  `start(council, input, opts)` starts a run for a valid input: the
  council's rules (module councils passed them when they compiled), every
  seat's provider configured and its API key set, output schemas that
  compile, the run options, and the defaults in `config :council_ex`. For
  a `CouncilEx.AutoCouncil`, checks it and every council it may choose.
  """
  @spec validate(council(), keyword()) :: :ok | {:error, [CouncilEx.Council.Rules.error()]}
  def validate(council, opts \\ [])

  def validate(%CouncilEx.AutoCouncil{} = auto, opts) do
    case Options.Run.errors(opts) do
      [] -> CouncilEx.AutoCouncil.validate(auto)
      errors -> {:error, errors}
    end
  end

  def validate(council, opts) do
    opt_errors = Options.Run.errors(opts)
    opts = if opt_errors == [], do: opts, else: []

    council_errors =
      case council do
        %CouncilEx.DynamicCouncil{} ->
          CouncilEx.Dynamic.Validate.errors(council)

        _ ->
          case spec_of(council) do
            {:ok, spec} -> Plan.check(spec, opts)
            {:error, errors} -> errors
          end
      end

    case opt_errors ++ council_errors do
      [] -> :ok
      errors -> {:error, Enum.map(errors, &Map.take(&1, [:path, :code, :message]))}
    end
  end

  @doc false
  # Everything a run needs, checked and lowered before any process starts:
  # the RunServer's start options, or the validation error. Shared with
  # CouncilEx.Supervisor.
  @spec server_opts(council(), term(), keyword()) :: {:ok, keyword()} | {:error, Error.t()}
  def server_opts(council, input, opts) do
    with :ok <- run_opts(opts),
         {:ok, council, opts} <- resolve_auto(council, input, opts),
         {:ok, spec} <- fetch_spec(council),
         {:ok, plan} <- Plan.prepare(spec, input, opts) do
      run_id = Keyword.get_lazy(opts, :run_id, &generate_run_id/0)

      {:ok,
       [
         run_id: run_id,
         council: spec.council,
         spec: spec,
         input: input,
         user_opts: opts,
         registry: opts[:registry],
         plan: plan
       ]}
    end
  end

  defp run_opts(opts) do
    case Options.Run.errors(opts) do
      [] -> :ok
      errors -> {:error, Rules.to_error(errors, :invalid_option)}
    end
  end

  # An AutoCouncil picks the council first; its choice travels as the
  # internal run option :auto (result.metadata.auto).
  defp resolve_auto(%CouncilEx.AutoCouncil{} = auto, input, opts) do
    with {:ok, council, meta} <- CouncilEx.AutoCouncil.resolve(auto, input),
         do: {:ok, council, Keyword.put(opts, :auto, meta)}
  end

  defp resolve_auto(council, _input, opts), do: {:ok, council, opts}

  defp do_start(fun, council, input, opts) do
    with {:ok, server_opts} <- server_opts(council, input, opts) do
      apply(RunServer, fun, [server_opts])
    end
  end

  defp find(pid, _opts) when is_pid(pid) do
    if Process.alive?(pid), do: {:ok, pid}, else: {:error, :unknown_run}
  end

  defp find(run_id, opts) when is_binary(run_id) do
    case RunServer.lookup(run_id, opts) do
      {:ok, pid} -> {:ok, pid}
      {:error, _} -> {:error, :unknown_run}
    end
  end

  defp find(_other, _opts), do: {:error, :unknown_run}

  @doc false
  # The compiled spec of a council, or the problems that stop it running.
  def spec(council), do: spec_of(council)

  defp fetch_spec(council) do
    case spec_of(council) do
      {:ok, spec} -> {:ok, spec}
      {:error, errors} -> {:error, Rules.to_error(errors, :invalid_council)}
    end
  end

  # A module council passed the rules when it compiled; a dynamic one is
  # checked (once) as it is lowered.
  defp spec_of(council) when is_atom(council) and council not in [nil, true, false] do
    if Code.ensure_loaded?(council) and function_exported?(council, :__council__, 0) do
      {:ok, council.__council__()}
    else
      {:error,
       [
         Rules.error(
           [],
           :not_a_council,
           "#{inspect(council)} is not a council (no __council__/0; did you `use CouncilEx`?)"
         )
       ]}
    end
  end

  defp spec_of(%CouncilEx.DynamicCouncil{} = council),
    do: CouncilEx.DynamicCouncil.checked_spec(council)

  # A spec built by hand (or taken from a council and changed) is held to
  # the same rules.
  defp spec_of(%CouncilEx.Spec{} = spec) do
    case Rules.check(spec, :spec) do
      [] -> {:ok, spec}
      errors -> {:error, errors}
    end
  end

  defp spec_of(other),
    do: {:error, [Rules.error([], :not_a_council, "not a council: #{inspect(other, limit: 5)}")]}

  # Unique on this node by a counter, and across nodes and restarts by a
  # random prefix drawn once: cheaper than 12 random bytes per run.
  defp generate_run_id do
    "run-" <> run_id_prefix() <> Integer.to_string(System.unique_integer([:positive]), 36)
  end

  defp run_id_prefix do
    with nil <- :persistent_term.get({__MODULE__, :run_id_prefix}, nil) do
      prefix = Base.url_encode64(:crypto.strong_rand_bytes(9), padding: false) <> "-"
      :persistent_term.put({__MODULE__, :run_id_prefix}, prefix)
      prefix
    end
  end

  ## The DSL

  defmacro __using__(_opts) do
    quote do
      use CouncilEx.Council.DSL
    end
  end

  @doc """
  Seats a member: `member id, Module, opts`, `member id, Module` or `member id, opts`.

  `member id, council: OtherCouncil, input_mapper: &Mod.fun/1` seats a
  sub-council: the member runs `OtherCouncil` (a module using `CouncilEx`
  or a `%CouncilEx.DynamicCouncil{}`) on its input, mapped by the optional
  1-arity `:input_mapper` (a remote capture; identity by default). It needs
  no provider or model, and takes no profile; of the seat options it takes
  only `:weight` and `:confidence`.

  Seat options (an unknown one, or a bad value, is a compile error naming
  the member and the option):

  #{CouncilEx.Options.Seat.docs(CouncilEx.Options.Seat.keys_for(:chair) -- [:fallback])}
  """
  defmacro member(id, module_or_opts) do
    quote do
      @council_members CouncilEx.Council.DSL.seat(
                         unquote(id),
                         unquote(module_or_opts),
                         [],
                         __ENV__
                       )
    end
  end

  @doc false
  defmacro member(id, module, opts) do
    quote do
      @council_members CouncilEx.Council.DSL.seat(
                         unquote(id),
                         unquote(module),
                         unquote(opts),
                         __ENV__
                       )
    end
  end

  @doc """
  Adds a round: a built-in name (`:independent_analysis`) or a round
  module, with its options.

  The options of built-in rounds are checked when the council compiles
  (see `CouncilEx.Rounds` for the table): an unknown option, a missing
  `:wrap` on `:iterate`, or a bad value is a compile error naming the
  round and the option. Functions in options (`until:`, `judge:`,
  `tie_break:`, `router:`) must be remote captures such as
  `&MyApp.Rules.settled?/2`, since the council is compiled.

      round :vote, options: ["ship", "wait"], aggregator: :weighted_mean, quorum: 2
      round :iterate, wrap: :critique, max_iterations: 3, until: &MyApp.Rules.settled?/2
  """
  defmacro round(type, opts \\ []) do
    quote do
      @council_rounds CouncilEx.Council.DSL.round(unquote(type), unquote(opts), __ENV__)
    end
  end

  @doc """
  Sets the chair: `chair Module, opts`, `chair id, opts` or `chair opts` (id `:chair`).

  Besides the seat options, the chair takes `fallback:`, a list of member
  ids (or `:members` for all of them) whose seats retry the synthesis in
  order, with the chair's prompt, when the chair's call fails.
  """
  defmacro chair(module_or_opts, opts \\ []) do
    quote do
      @council_chair CouncilEx.Council.DSL.chair(unquote(module_or_opts), unquote(opts), __ENV__)
    end
  end

  @doc """
  Sets the council's default profile: a `CouncilEx.Profile` module or a
  name registered in `CouncilEx.Registry`. Members without their own
  `:profile` take their capabilities from it; see `CouncilEx.Profile` for
  the resolution order.
  """
  defmacro default_profile(profile) do
    quote do
      @council_default_profile {unquote(profile), __ENV__.line}
    end
  end

  @doc """
  Sets the council's router, consulted before each round to pick the
  members that take part (see `CouncilEx.Router`): a module implementing
  `CouncilEx.Router`, or a remote capture `&MyApp.Routing.pick/2`.
  Anonymous functions cannot be compiled into the council. A round's
  `router:` option overrides it for that round.
  """
  defmacro router(router) do
    quote do
      @council_router {unquote(router), __ENV__.line}
    end
  end
end
