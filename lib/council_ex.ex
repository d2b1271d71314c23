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
  `:synthesis` round after the declared rounds. Seat options: `:provider`
  (an id under `config :council_ex, :providers`, see `CouncilEx.Provider`),
  `:model`, `:system_prompt`, `:temperature`, `:max_tokens`, `:timeout_ms`,
  `:connect_timeout_ms`, `:retry` (`{max_attempts, base_ms}`), `:stream`
  (broadcast `:member_token` events as the answer arrives), `:output_schema`
  (a JSON Schema map, or a module with `json_schema/0`: sent natively,
  checked in C, see `CouncilEx.Response`), `:tools` with `:tool_choice`,
  `:parallel_tools`, `:parallel_tools_strategy`, `:tool_timeout_ms` and
  `:max_tool_turns` (see `CouncilEx.Tool`), `:profile`, `:weight` and
  `:confidence` (see `member/3`); the chair also takes `:fallback` (see
  `chair/2`). `member id, council: Other` seats a sub-council, `router`
  sets a `CouncilEx.Router`, and round options are checked when the
  council compiles (see `round/2`).
  Capabilities can come from profiles (`CouncilEx.Profile`): the app's
  `:default_profile`, then the council's `default_profile`, then the seat's
  `:profile`, then the seat's own options, later ones winning. An option
  this version cannot run yet (`:tool_concurrency_factor`) is refused by
  `validate/1` and at start, never ignored.

  A council is a module like this one, a `%CouncilEx.DynamicCouncil{}`
  built at runtime, or a `%CouncilEx.AutoCouncil{}` that picks one of
  those for each input; every function below takes any of them.
  Prebuilt shapes (panel, voting, tournament, ...) are in
  `CouncilEx.Councils`.

  ## Running

  `run/3` blocks until the result is there. `start/3` (unlinked, like
  `GenServer.start/3`) and `start_link/3` (linked) return `{:ok, pid}` at
  once; follow the run with `subscribe/1`, `await/2`, `lookup/1` and
  `CouncilEx.RunServer.state/2`, stop it with `cancel/2`. To group runs
  under your own supervision tree, use `CouncilEx.Supervisor`.

  Councils, inputs and options are checked before any process starts: a bad
  council or input gives `{:error, %CouncilEx.Error{kind: :validation}}`
  (see `validate/1`), a bad option raises `ArgumentError`.

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

  alias CouncilEx.{Error, PubSub, RunServer}

  @typedoc "A council: a module that uses `CouncilEx`, or a dynamic council."
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
  """
  @spec await(run(), timeout()) :: {:ok, CouncilEx.Result.t()} | {:error, CouncilEx.Result.t()}
  def await(run, timeout \\ :infinity) do
    with {:ok, pid} <- find(run, []), do: RunServer.await(pid, timeout, false)
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
  Checks a council without running it: `:ok`, or `{:error, errors}` with a
  JSON-friendly list of `%{path: [String.t()], code: atom(), message: String.t()}`.

  Checks that the council compiles to a spec, that every seat's provider is
  configured and its API key resolves. For a `CouncilEx.AutoCouncil`, checks
  it and every council it may choose.
  """
  @spec validate(council()) ::
          :ok | {:error, [%{path: [String.t()], code: atom(), message: String.t()}]}
  def validate(%CouncilEx.AutoCouncil{} = auto), do: CouncilEx.AutoCouncil.validate(auto)

  def validate(council) do
    with {:ok, spec} <- spec_of(council) do
      case CouncilEx.Plan.check_seats(spec) do
        [] -> :ok
        errors -> {:error, errors}
      end
    end
  end

  @doc false
  # The RunServer options for a council, input and run options; shared with
  # CouncilEx.Supervisor. Raises ArgumentError on bad options.
  def server_opts(council, input, opts) do
    unless Keyword.keyword?(opts),
      do: raise(ArgumentError, "expected run options as a keyword list, got: #{inspect(opts)}")

    CouncilEx.Options.Run.validate!(opts)

    with {:ok, council, opts} <- resolve_auto(council, input, opts),
         {:ok, spec} <- fetch_spec(council),
         {:ok, plan} <- CouncilEx.Plan.prepare(spec, input, opts) do
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

  # An AutoCouncil picks the council first; its choice travels as the
  # internal run option :auto (result.metadata.auto).
  defp resolve_auto(%CouncilEx.AutoCouncil{} = auto, input, opts) do
    with {:ok, council, meta} <- CouncilEx.AutoCouncil.resolve(auto, input),
         do: {:ok, council, Keyword.put(opts, :auto, meta)}
  end

  defp resolve_auto(council, _input, opts), do: {:ok, council, opts}

  defp do_start(fun, council, input, opts) do
    with {:ok, server_opts} <- server_opts(council, input, opts) do
      case apply(RunServer, fun, [server_opts]) do
        {:error, {:shutdown, %Error{} = error}} -> {:error, error}
        other -> other
      end
    end
  end

  defp find(pid, _opts) when is_pid(pid), do: {:ok, pid}

  defp find(run_id, opts) when is_binary(run_id) do
    case RunServer.lookup(run_id, opts) do
      {:ok, pid} -> {:ok, pid}
      {:error, _} -> {:error, :unknown_run}
    end
  end

  @doc false
  # The compiled spec of a council, or the problems that stop it compiling.
  def spec(council), do: spec_of(council)

  defp fetch_spec(council) do
    case spec_of(council) do
      {:ok, spec} ->
        {:ok, spec}

      {:error, errors} ->
        message = Enum.map_join(errors, "; ", &"#{Enum.join(&1.path, ".")}: #{&1.message}")

        {:error,
         %Error{
           kind: :validation,
           reason: :invalid_council,
           message: message,
           context: %{errors: errors}
         }}
    end
  end

  defp spec_of(council) when is_atom(council) and council != nil do
    if Code.ensure_loaded?(council) and function_exported?(council, :__council__, 0) do
      {:ok, council.__council__()}
    else
      {:error,
       [
         problem(
           [],
           :not_a_council,
           "#{inspect(council)} is not a council (no __council__/0; did you `use CouncilEx`?)"
         )
       ]}
    end
  end

  defp spec_of(%CouncilEx.DynamicCouncil{} = council) do
    with :ok <- CouncilEx.DynamicCouncil.validate(council),
         do: {:ok, CouncilEx.DynamicCouncil.to_spec(council)}
  end

  defp spec_of(other),
    do: {:error, [problem([], :not_a_council, "not a council: #{inspect(other, limit: 5)}")]}

  defp problem(path, code, message), do: %{path: path, code: code, message: message}

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
      import Kernel, except: [round: 1]

      import CouncilEx,
        only: [
          member: 2,
          member: 3,
          round: 1,
          round: 2,
          chair: 1,
          chair: 2,
          default_profile: 1,
          router: 1
        ]

      Module.register_attribute(__MODULE__, :council_members, accumulate: true)
      Module.register_attribute(__MODULE__, :council_rounds, accumulate: true)
      @council_chair nil
      @council_default_profile nil
      @council_router nil
      @before_compile CouncilEx
    end
  end

  @doc """
  Seats a member: `member id, Module, opts`, `member id, Module` or `member id, opts`.

  `member id, council: OtherCouncil, input_mapper: &Mod.fun/1` seats a
  sub-council: the member runs `OtherCouncil` (a module using `CouncilEx`
  or a `%CouncilEx.DynamicCouncil{}`) on its input, mapped by the optional
  1-arity `:input_mapper` (a remote capture; identity by default). It needs
  no provider or model, and takes no profile.

  Besides the seat options in the module doc, a member takes `weight:` (a
  non-negative number, for `CouncilEx.Rounds.WeightedSynthesis`) and
  `confidence:` (`:self_report` or `:logprob`).
  """
  defmacro member(id, module_or_opts) do
    quote do
      @council_members CouncilEx.__seat__(unquote(id), unquote(module_or_opts), [])
    end
  end

  defmacro member(id, module, opts) do
    quote do
      @council_members CouncilEx.__seat__(unquote(id), unquote(module), unquote(opts))
    end
  end

  @doc """
  Adds a round: a built-in name (`:independent_analysis`) or a round
  module, with its options.

  The options of built-in rounds are checked when the council compiles
  (see `CouncilEx.Rounds` for the table): an unknown option, a missing
  `:wrap` on `:iterate`, or a bad value raises `ArgumentError` naming the
  round and the option. Functions in options (`until:`, `judge:`,
  `tie_break:`, `router:`) must be remote captures such as
  `&MyApp.Rules.settled?/2`, since the council is compiled.

      round :vote, options: ["ship", "wait"], aggregator: :weighted_mean, quorum: 2
      round :iterate, wrap: :critique, max_iterations: 3, until: &MyApp.Rules.settled?/2
  """
  defmacro round(type, opts \\ []) do
    quote do
      @council_rounds {CouncilEx.__round__(unquote(type)), unquote(opts)}
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
      @council_chair CouncilEx.__chair__(unquote(module_or_opts), unquote(opts))
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
      @council_default_profile unquote(profile)
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
      @council_router unquote(router)
    end
  end

  defmacro __before_compile__(env) do
    members = env.module |> Module.get_attribute(:council_members) |> Enum.reverse()
    rounds = env.module |> Module.get_attribute(:council_rounds) |> Enum.reverse()
    chair = Module.get_attribute(env.module, :council_chair)
    default_profile = Module.get_attribute(env.module, :council_default_profile)
    router = Module.get_attribute(env.module, :council_router)
    spec = CouncilEx.__spec__(env.module, members, rounds, chair, default_profile, router)

    quote do
      @doc false
      def __council__, do: unquote(Macro.escape(spec))

      @doc false
      # The providers the council's seats use, sub-councils included.
      def __providers__, do: CouncilEx.Spec.providers(__council__())
    end
  end

  @doc false
  def __seat__(id, module_or_opts, opts) when is_atom(id) do
    cond do
      is_list(module_or_opts) ->
        {id, nil, module_or_opts}

      module?(module_or_opts) and is_list(opts) ->
        {id, module_or_opts, opts}

      true ->
        raise ArgumentError,
              "member #{inspect(id)}: expected a module and/or options, got: #{inspect(module_or_opts)}"
    end
  end

  def __seat__(id, _, _),
    do: raise(ArgumentError, "member id must be an atom, got: #{inspect(id)}")

  @doc false
  def __chair__(opts, []) when is_list(opts), do: {Keyword.get(opts, :id, :chair), nil, opts}

  def __chair__(module_or_id, opts) when is_atom(module_or_id) and is_list(opts) do
    if module?(module_or_id),
      do: {Keyword.get(opts, :id, :chair), module_or_id, opts},
      else: {module_or_id, nil, opts}
  end

  @doc false
  # A round as the spec holds it: built-in names become their modules; other
  # modules are checked (name/0) once the council's body is compiled.
  def __round__(type) do
    case CouncilEx.Rounds.module_for(type) do
      {:ok, module} ->
        module

      :error ->
        if module?(type),
          do: type,
          else:
            raise(
              ArgumentError,
              "unknown round #{inspect(type)}; built-in rounds: #{inspect(CouncilEx.Rounds.names())}, or a round module"
            )
    end
  end

  @doc false
  def __spec__(module, members, rounds, chair, default_profile \\ nil, router \\ nil) do
    members = Enum.map(members, &__resolve_seat__(module, &1, default_profile))
    chair = chair && __resolve_seat__(module, chair, default_profile)
    ids = Enum.map(members, &elem(&1, 0)) ++ if(chair, do: [elem(chair, 0)], else: [])

    case ids -- Enum.uniq(ids) do
      [] ->
        :ok

      dups ->
        raise ArgumentError,
              "#{inspect(module)}: duplicate member ids #{inspect(Enum.uniq(dups))}"
    end

    if members == [],
      do: raise(ArgumentError, "#{inspect(module)}: a council needs at least one member")

    for {id, _mod, opts} <- members ++ List.wrap(chair),
        key <- [:provider, :model],
        not sub_council?(opts) do
      unless opts[key],
        do:
          raise(ArgumentError, "#{inspect(module)}: member #{inspect(id)} has no #{inspect(key)}")
    end

    Enum.each(members, &check_seat_opts!(module, &1, :member, members))
    if chair, do: check_seat_opts!(module, chair, :chair, members)

    for {round_module, opts} <- rounds do
      unless CouncilEx.Rounds.name_of(round_module) != :error or
               (match?({:module, _}, Code.ensure_compiled(round_module)) and
                  function_exported?(round_module, :name, 0)),
             do:
               raise(
                 ArgumentError,
                 "#{inspect(module)}: #{inspect(round_module)} is not a round module (no name/0; see CouncilEx.Round)"
               )

      CouncilEx.Rounds.check_opts!(
        "#{inspect(module)}: #{round_label(round_module)}",
        round_module,
        opts
      )

      if CouncilEx.Rounds.chair_round?(round_module) and chair == nil,
        do:
          raise(
            ArgumentError,
            "#{inspect(module)}: #{round_label(round_module)} is written by the chair; add a chair"
          )
    end

    check_router!(module, router)
    rounds = CouncilEx.Spec.complete_rounds(rounds, chair != nil)
    opts = if default_profile, do: [default_profile: default_profile], else: []

    %CouncilEx.Spec{
      council: module,
      members: members,
      rounds: rounds,
      chair: chair,
      router: router,
      opts: opts
    }
  end

  defp round_label(round_module) do
    case CouncilEx.Rounds.name_of(round_module) do
      {:ok, name} -> "round #{inspect(name)}"
      :error -> "round #{inspect(round_module)}"
    end
  end

  defp sub_council?(opts), do: Keyword.has_key?(opts, :council)

  # Options only some seats take: sub-councils, weight, confidence, fallback.
  defp check_seat_opts!(module, {id, mod, opts}, role, members) do
    where = "#{inspect(module)}: #{if role == :chair, do: "chair", else: "member"} #{inspect(id)}"

    for key <- [:weight, :confidence, :fallback], Keyword.has_key?(opts, key) do
      with {:error, expected} <- CouncilEx.Options.Seat.check(key, opts[key]) do
        raise ArgumentError,
              "#{where}: expected #{key} to be #{expected}, got: #{inspect(opts[key])}"
      end
    end

    if Keyword.has_key?(opts, :fallback) and role != :chair,
      do: raise(ArgumentError, "#{where}: fallback is a chair option")

    with ids when is_list(ids) <- opts[:fallback] do
      for fallback <- ids do
        case List.keyfind(members, fallback, 0) do
          nil ->
            raise ArgumentError, "#{where}: fallback #{inspect(fallback)} is not a member"

          {_, _, seat} ->
            if sub_council?(seat),
              do: raise(ArgumentError, "#{where}: fallback #{inspect(fallback)} is a sub-council")
        end
      end
    end

    if sub_council?(opts) do
      if role == :chair, do: raise(ArgumentError, "#{where}: the chair cannot be a sub-council")

      if mod,
        do:
          raise(
            ArgumentError,
            "#{where}: a sub-council member takes no Member module (#{inspect(mod)})"
          )

      case Keyword.keys(opts) -- [:council, :input_mapper, :weight, :confidence] do
        [] ->
          :ok

        keys ->
          raise ArgumentError,
                "#{where}: a sub-council member takes only :council, :input_mapper, :weight and :confidence " <>
                  "(its council's members do the calls), got: #{inspect(Enum.uniq(keys))}"
      end

      check_sub_council!(module, where, opts[:council])
      check_input_mapper!(where, opts[:input_mapper])
    else
      if Keyword.has_key?(opts, :input_mapper),
        do:
          raise(ArgumentError, "#{where}: input_mapper is for sub-council members (council: ...)")
    end
  end

  defp check_sub_council!(module, where, council) do
    cond do
      is_struct(council, CouncilEx.DynamicCouncil) ->
        :ok

      council == module ->
        raise ArgumentError, "#{where}: a council cannot seat itself"

      module?(council) ->
        unless match?({:module, _}, Code.ensure_compiled(council)) and
                 function_exported?(council, :__council__, 0),
               do:
                 raise(
                   ArgumentError,
                   "#{where}: council #{inspect(council)} is not a council (no __council__/0; does it `use CouncilEx`?)"
                 )

      true ->
        raise ArgumentError,
              "#{where}: expected council to be a council module or a %CouncilEx.DynamicCouncil{}, got: #{inspect(council)}"
    end
  end

  defp check_input_mapper!(_where, nil), do: :ok

  defp check_input_mapper!(where, fun) when is_function(fun, 1) do
    unless Function.info(fun, :type) == {:type, :external},
      do:
        raise(
          ArgumentError,
          "#{where}: input_mapper: anonymous functions cannot be compiled into a council module; use a remote capture such as &MyApp.Mappers.brief/1"
        )
  end

  defp check_input_mapper!(where, other),
    do:
      raise(
        ArgumentError,
        "#{where}: expected input_mapper to be a 1-arity function, got: #{inspect(other)}"
      )

  defp check_router!(_module, nil), do: :ok

  defp check_router!(module, router) do
    case CouncilEx.Rounds.check_opts(:any, [router: router], :dsl) do
      :ok ->
        :ok

      {:error, [{_, _, message} | _]} ->
        raise ArgumentError,
              "#{inspect(module)}: router: #{String.replace_prefix(message, "router: ", "")}"
    end
  end

  @doc false
  # A seat's options with its profiles merged in (CouncilEx.Profile.resolve/2).
  # A sub-council seat takes no profile: its own council's members do the calls.
  def __resolve_seat__(module, {id, member_module, opts} = seat, default_profile) do
    if sub_council?(opts) do
      seat
    else
      case CouncilEx.Profile.resolve_opts(opts, default_profile) do
        {:ok, resolved} ->
          {id, member_module, resolved}

        {:error, {profile, why}} ->
          raise ArgumentError,
                "#{inspect(module)}: member #{inspect(id)}: unknown profile #{inspect(profile)}: #{why}"
      end
    end
  end

  defp module?(atom), do: is_atom(atom) and String.starts_with?(Atom.to_string(atom), "Elixir.")
end
