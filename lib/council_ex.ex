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
  `:connect_timeout_ms`.

  ## Run options

    * `:run_id` - the run's id (a binary); generated when absent
    * `:registry` - the `Registry` the run registers in
    * `:subscribe` - subscribe the caller to the run's events before it starts
    * `:member_timeout_ms` - total time a member call may take (default 120 s)
    * `:connect_timeout_ms` - connect timeout per call (default 10 s)
    * `:max_response_bytes` - larger response bodies fail the call (default 8 MiB)
    * `:retention_ms` - how long a finished run started with `start/3` or
      `start_link/3` stays registered for `await/2` and `CouncilEx.RunServer.state/2`
    * `:await_timeout` - `run/3` only: how long to wait (default `:infinity`)

  ## Events

  Subscribers of `"council_ex:run:" <> run_id` receive, in order:
  `{:run_started, run_id, council, input}`, then per round
  `{:round_started, run_id, round, idx}`, `{:member_started, run_id, round, member_id}`,
  `{:member_completed, run_id, round, member_id, %CouncilEx.MemberResult{}}`,
  `{:round_completed, run_id, round, %CouncilEx.RoundResult{}}`, and finally
  exactly one of `{:run_completed, run_id, %CouncilEx.Result{}}` or
  `{:run_failed, run_id, [%CouncilEx.Error{}], %CouncilEx.Result{}}`.
  """

  alias CouncilEx.{PubSub, RunServer, Spec}

  @run_opts [
    :run_id,
    :registry,
    :subscribe,
    :member_timeout_ms,
    :connect_timeout_ms,
    :max_response_bytes,
    :retention_ms,
    :await_timeout
  ]

  ## Running

  @doc """
  Runs a council synchronously: `start_link/3` plus `await/2`.

  Returns `{:ok, %CouncilEx.Result{}}` when the run completes (members may
  still have failed: see `result.status` and `result.errors`), or
  `{:error, %CouncilEx.Result{}}` when it failed or was cancelled, holding
  the partial result and every error. A council or input that cannot run
  gives `{:error, %CouncilEx.Error{kind: :validation}}` before any process
  starts.
  """
  @spec run(module(), term(), keyword()) ::
          {:ok, CouncilEx.Result.t()} | {:error, CouncilEx.Result.t() | CouncilEx.Error.t()}
  def run(council, input, opts \\ []) do
    timeout = Keyword.get(opts, :await_timeout, :infinity)

    with {:ok, pid} <- start_link(council, input, opts) do
      reply = RunServer.await(pid, timeout, true)
      Process.unlink(pid)

      receive do
        {:EXIT, ^pid, _} -> :ok
      after
        0 -> :ok
      end

      reply
    end
  end

  @doc """
  Starts a run unlinked and unsupervised (`GenServer.start/3` semantics).
  Returns `{:ok, pid}`; the caller owns the pid.
  """
  @spec start(module(), term(), keyword()) :: {:ok, pid()} | {:error, term()}
  def start(council, input, opts \\ []), do: do_start(:start, council, input, opts)

  @doc """
  Starts a run linked to the caller (`GenServer.start_link/3` semantics):
  the caller's death kills the run and cancels its HTTP calls.
  """
  @spec start_link(module(), term(), keyword()) :: {:ok, pid()} | {:error, term()}
  def start_link(council, input, opts \\ []), do: do_start(:start_link, council, input, opts)

  @doc """
  Waits for a run started with `start/3` or `start_link/3` to finish and
  returns what `run/3` would.
  """
  @spec await(pid(), timeout()) :: {:ok, CouncilEx.Result.t()} | {:error, CouncilEx.Result.t()}
  def await(pid, timeout \\ :infinity), do: RunServer.await(pid, timeout, false)

  @doc "Cancels a run; it ends with `:run_failed` and a `:cancelled` error, its calls stopped in C."
  @spec cancel(pid()) :: :ok
  def cancel(pid) when is_pid(pid), do: RunServer.cancel(pid)

  @doc "Subscribes the caller to a run's events."
  @spec subscribe(String.t()) :: :ok
  def subscribe(run_id), do: PubSub.subscribe(PubSub.run_topic(run_id))

  @doc "Unsubscribes the caller from a run's events."
  @spec unsubscribe(String.t()) :: :ok
  def unsubscribe(run_id), do: PubSub.unsubscribe(PubSub.run_topic(run_id))

  @doc false
  # The RunServer options for a council, input and run options; shared with
  # CouncilEx.Supervisor.
  def server_opts(council, input, opts) do
    Enum.each(Keyword.keys(opts), fn key ->
      unless key in @run_opts,
        do: raise(ArgumentError, "unknown option #{inspect(key)}; known options: #{inspect(@run_opts)}")
    end)

    with {:ok, spec} <- fetch_spec(council),
         :ok <- CouncilEx.Engine.check(spec, input, opts) do
      run_id = Keyword.get_lazy(opts, :run_id, &generate_run_id/0)
      if opts[:subscribe], do: subscribe(run_id)

      {:ok,
       [
         run_id: run_id,
         council: spec.council,
         spec: spec,
         input: input,
         user_opts: opts,
         registry: opts[:registry]
       ]}
    end
  end

  defp do_start(fun, council, input, opts) do
    with {:ok, server_opts} <- server_opts(council, input, opts) do
      case apply(RunServer, fun, [server_opts]) do
        {:error, {:shutdown, %CouncilEx.Error{} = error}} -> {:error, error}
        other -> other
      end
    end
  end

  defp fetch_spec(council) when is_atom(council) do
    if Code.ensure_loaded?(council) and function_exported?(council, :__council__, 0) do
      {:ok, council.__council__()}
    else
      {:error,
       %CouncilEx.Error{
         kind: :validation,
         reason: :invalid_council,
         message: "#{inspect(council)} is not a council (no __council__/0; did you `use CouncilEx`?)"
       }}
    end
  end

  defp fetch_spec(other) do
    {:error,
     %CouncilEx.Error{kind: :validation, reason: :invalid_council, message: "not a council: #{inspect(other)}"}}
  end

  defp generate_run_id do
    "run-" <> Base.url_encode64(:crypto.strong_rand_bytes(12), padding: false)
  end

  ## The DSL

  defmacro __using__(_opts) do
    quote do
      import Kernel, except: [round: 1]
      import CouncilEx,
        only: [member: 2, member: 3, round: 1, round: 2, chair: 1, chair: 2, default_profile: 1]

      Module.register_attribute(__MODULE__, :council_members, accumulate: true)
      Module.register_attribute(__MODULE__, :council_rounds, accumulate: true)
      @council_chair nil
      @council_default_profile nil
      @before_compile CouncilEx
    end
  end

  @doc "Seats a member: `member id, Module, opts`, `member id, Module` or `member id, opts`."
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

  @doc "Adds a round: a built-in name (`:independent_analysis`) or a round module."
  defmacro round(type, opts \\ []) do
    quote do
      @council_rounds {CouncilEx.__round__(unquote(type)), unquote(opts)}
    end
  end

  @doc "Sets the chair: `chair Module, opts`, `chair id, opts` or `chair opts` (id `:chair`)."
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

  defmacro __before_compile__(env) do
    members = env.module |> Module.get_attribute(:council_members) |> Enum.reverse()
    rounds = env.module |> Module.get_attribute(:council_rounds) |> Enum.reverse()
    chair = Module.get_attribute(env.module, :council_chair)
    default_profile = Module.get_attribute(env.module, :council_default_profile)
    spec = CouncilEx.__spec__(env.module, members, rounds, chair, default_profile)

    quote do
      @doc false
      def __council__, do: unquote(Macro.escape(spec))
    end
  end

  @doc false
  def __seat__(id, module_or_opts, opts) when is_atom(id) do
    cond do
      is_list(module_or_opts) -> {id, nil, module_or_opts}
      module?(module_or_opts) and is_list(opts) -> {id, module_or_opts, opts}
      true -> raise ArgumentError, "member #{inspect(id)}: expected a module and/or options, got: #{inspect(module_or_opts)}"
    end
  end

  def __seat__(id, _, _), do: raise(ArgumentError, "member id must be an atom, got: #{inspect(id)}")

  @doc false
  def __chair__(opts, []) when is_list(opts), do: {Keyword.get(opts, :id, :chair), nil, opts}

  def __chair__(module_or_id, opts) when is_atom(module_or_id) and is_list(opts) do
    if module?(module_or_id),
      do: {Keyword.get(opts, :id, :chair), module_or_id, opts},
      else: {module_or_id, nil, opts}
  end

  @doc false
  def __round__(type) do
    case CouncilEx.Rounds.module_for(type) do
      {:ok, module} ->
        module

      :error ->
        raise ArgumentError,
              "unknown round #{inspect(type)}; this version runs #{inspect(CouncilEx.Rounds.names())}"
    end
  end

  @doc false
  def __spec__(module, members, rounds, chair, default_profile \\ nil) do
    members = Enum.map(members, &__resolve_seat__(module, &1, default_profile))
    chair = chair && __resolve_seat__(module, chair, default_profile)
    ids = Enum.map(members, &elem(&1, 0)) ++ if(chair, do: [elem(chair, 0)], else: [])

    case ids -- Enum.uniq(ids) do
      [] -> :ok
      dups -> raise ArgumentError, "#{inspect(module)}: duplicate member ids #{inspect(Enum.uniq(dups))}"
    end

    if members == [], do: raise(ArgumentError, "#{inspect(module)}: a council needs at least one member")

    for {id, _mod, opts} <- members ++ List.wrap(chair), key <- [:provider, :model] do
      unless opts[key], do: raise(ArgumentError, "#{inspect(module)}: member #{inspect(id)} has no #{inspect(key)}")
    end

    rounds = if rounds == [], do: [{CouncilEx.Rounds.IndependentAnalysis, []}], else: rounds
    rounds = if chair, do: rounds ++ [{CouncilEx.Rounds.Synthesis, []}], else: rounds
    opts = if default_profile, do: [default_profile: default_profile], else: []
    %Spec{council: module, members: members, rounds: rounds, chair: chair, opts: opts}
  end

  @doc false
  # A seat's options with its profiles merged in (CouncilEx.Profile.resolve/2).
  def __resolve_seat__(module, {id, member_module, opts}, default_profile) do
    case CouncilEx.Profile.resolve_opts(opts, default_profile) do
      {:ok, resolved} ->
        {id, member_module, resolved}

      {:error, {profile, why}} ->
        raise ArgumentError, "#{inspect(module)}: member #{inspect(id)}: unknown profile #{inspect(profile)}: #{why}"
    end
  end

  defp module?(atom), do: is_atom(atom) and String.starts_with?(Atom.to_string(atom), "Elixir.")
end
