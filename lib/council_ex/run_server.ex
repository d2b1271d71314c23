defmodule CouncilEx.RunServer do
  @moduledoc """
  GenServer that drives a single council run from start to finish.

  Most callers should use `CouncilEx.start/3` (unsupervised, mirrors
  `GenServer.start/3`) or `CouncilEx.start_link/3` (linked, mirrors
  `GenServer.start_link/3`). Both return `{:ok, pid}`; fetch the run id with
  `run_id/1`.

  The round loop itself runs in C on the engine threads: the server owns the
  run's native resource, turns the engine's reports into
  `%CouncilEx.MemberResult{}`, `%CouncilEx.RoundResult{}` and
  `%CouncilEx.Result{}` values, and broadcasts them as events on
  `"council_ex:run:" <> run_id`. When the server dies, even by
  `Process.exit(pid, :kill)`, the engine cancels the run's HTTP calls and
  frees its memory.

  ## Direct start

  `start_link/1` is for callers embedding run servers in their own trees.
  Required options: `:run_id` (a unique binary), `:council` (a module or
  `"dynamic:" <> id`), `:spec` (a `%CouncilEx.Spec{}`), `:input` (any term).
  Optional: `:user_opts` (keyword list of run options, default `[]`),
  `:callers` (the `$callers` chain, set automatically) and `:registry`.

  The process registers under `CouncilEx.Runner.Registry` (or `:registry`)
  keyed by `run_id`.
  """

  use GenServer, restart: :temporary

  alias CouncilEx.{Engine, Error, MemberResult, PubSub, Response, Result, RoundResult, Spec}

  @typedoc "Stable curated subset of run state."
  @type run_summary :: %{
          run_id: binary(),
          council: module() | binary(),
          status: :pending | :running | :completed | :failed | :cancelled,
          current_round: %{name: atom(), idx: non_neg_integer()} | nil,
          rounds_completed: non_neg_integer(),
          started_at: DateTime.t()
        }

  @default_retention_ms 60_000

  ## Public API

  @doc "Start a RunServer unsupervised and unlinked. Mirrors `GenServer.start/3`."
  @spec start(keyword()) :: GenServer.on_start()
  def start(opts), do: GenServer.start(__MODULE__, init_arg(opts), name: via(opts[:run_id], opts))

  @doc "Start a RunServer linked to the calling process. Mirrors `GenServer.start_link/3`."
  @spec start_link(keyword()) :: GenServer.on_start()
  def start_link(opts),
    do: GenServer.start_link(__MODULE__, init_arg(opts), name: via(opts[:run_id], opts))

  @doc "Default registry used when `:registry` is not passed; `config :council_ex, :runner_registry` overrides it."
  @spec default_registry() :: atom()
  def default_registry, do: Application.get_env(:council_ex, :runner_registry, CouncilEx.Runner.Registry)

  @doc "Build a via tuple keyed by `run_id` (pass `:registry` for a caller-owned registry)."
  @spec via(binary(), keyword()) :: {:via, Registry, {atom(), binary()}}
  def via(run_id, opts \\ []), do: {:via, Registry, {registry(opts), run_id}}

  @doc "Fetch the run_id from a runner pid."
  @spec run_id(pid()) :: binary()
  def run_id(pid), do: GenServer.call(pid, :run_id)

  @doc """
  Look up the pid serving `run_id`: `{:ok, pid}`, `{:error, :unknown_run}`
  when nothing is registered, or `{:error, :runner_dead}` for a stale entry.
  """
  @spec lookup(binary(), keyword()) :: {:ok, pid()} | {:error, :unknown_run | :runner_dead}
  def lookup(run_id, opts \\ []) do
    case Registry.lookup(registry(opts), run_id) do
      [{pid, _}] -> if Process.alive?(pid), do: {:ok, pid}, else: {:error, :runner_dead}
      [] -> {:error, :unknown_run}
    end
  end

  @doc "Curated read of run state for an active or recently completed run."
  @spec state(binary(), keyword()) :: {:ok, run_summary()} | {:error, :not_found}
  def state(run_id, opts \\ []) do
    with {:ok, pid} <- lookup(run_id, opts) do
      GenServer.call(pid, :summary)
    end
  catch
    :exit, _ -> {:error, :not_found}
  else
    {:ok, summary} -> {:ok, summary}
    {:error, _} -> {:error, :not_found}
  end

  @doc false
  # Blocks until the run ends. With `stop: true` the server exits right after
  # replying (CouncilEx.run/3 uses this, as nobody can ask for it later).
  def await(pid, timeout, stop?), do: GenServer.call(pid, {:await, stop?}, timeout)

  @doc false
  def cancel(pid), do: GenServer.call(pid, :cancel)

  defp registry(opts), do: Keyword.get(opts, :registry) || default_registry()

  defp init_arg(opts) do
    for key <- [:run_id, :council, :spec, :input],
        not Keyword.has_key?(opts, key),
        do: raise(ArgumentError, "CouncilEx.RunServer: required option #{inspect(key)} is missing")

    unless is_binary(opts[:run_id]),
      do: raise(ArgumentError, "CouncilEx.RunServer: :run_id must be a binary, got: #{inspect(opts[:run_id])}")

    unless match?(%Spec{}, opts[:spec]),
      do: raise(ArgumentError, "CouncilEx.RunServer: :spec must be a %CouncilEx.Spec{}")

    callers = Keyword.get_lazy(opts, :callers, fn -> [self() | Process.get(:"$callers", [])] end)
    Keyword.put(opts, :callers, callers)
  end

  ## GenServer

  @impl true
  def init(opts) do
    Process.put(:"$callers", opts[:callers])
    spec = opts[:spec]
    user_opts = Keyword.get(opts, :user_opts, [])
    tag = make_ref()

    case Engine.start(spec, opts[:input], user_opts, tag) do
      {:ok, run} ->
        state = %{
          run_id: opts[:run_id],
          council: opts[:council],
          input: opts[:input],
          run: run,
          tag: tag,
          seats: spec |> Engine.seat_info() |> List.to_tuple(),
          rounds: spec |> Spec.round_names() |> List.to_tuple(),
          retention_ms: Keyword.get(user_opts, :retention_ms, @default_retention_ms),
          status: :pending,
          current_round: nil,
          rounds_completed: 0,
          started_at: DateTime.utc_now(),
          started_mono: System.monotonic_time(),
          member_results: %{},
          round_results: [],
          result: nil,
          waiters: []
        }

        {:ok, state, {:continue, :started}}

      {:error, %Error{} = error} ->
        {:stop, {:shutdown, error}}
    end
  end

  @impl true
  def handle_continue(:started, state) do
    broadcast(state, {:run_started, state.run_id, state.council, state.input})
    {:noreply, state}
  end

  @impl true
  def handle_call(:run_id, _from, state), do: {:reply, state.run_id, state}

  def handle_call(:summary, _from, state) do
    summary =
      Map.take(state, [:run_id, :council, :status, :current_round, :rounds_completed, :started_at])

    {:reply, {:ok, summary}, state}
  end

  def handle_call({:await, stop?}, from, %{result: nil} = state),
    do: {:noreply, %{state | waiters: [{from, stop?} | state.waiters]}}

  def handle_call({:await, true}, _from, state), do: {:stop, :normal, reply(state), state}
  def handle_call({:await, false}, _from, state), do: {:reply, reply(state), state}

  def handle_call(:cancel, _from, %{run: nil} = state), do: {:reply, :ok, state}

  def handle_call(:cancel, _from, state) do
    :ok = CouncilEx.Native.run_cancel(state.run)
    {:reply, :ok, state}
  end

  @impl true
  def handle_info({:council_ex_run, tag, event}, %{tag: tag} = state), do: handle_event(event, state)
  def handle_info(:expire, state), do: {:stop, :normal, state}
  def handle_info(_other, state), do: {:noreply, state}

  ## Engine events

  defp handle_event({:round_started, idx}, state) do
    name = elem(state.rounds, idx)
    broadcast(state, {:round_started, state.run_id, name, idx})
    {:noreply, %{state | status: :running, current_round: %{name: name, idx: idx}}}
  end

  defp handle_event({:member_started, idx, seat}, state) do
    {id, _provider, _model} = elem(state.seats, seat)
    broadcast(state, {:member_started, state.run_id, elem(state.rounds, idx), id})
    {:noreply, state}
  end

  defp handle_event({:member_completed, idx, seat, outcome}, state) do
    name = elem(state.rounds, idx)
    result = member_result(elem(state.seats, seat), name, outcome)
    broadcast(state, {:member_completed, state.run_id, name, result.member_id, result})
    results = Map.update(state.member_results, idx, [result], &[result | &1])
    {:noreply, %{state | member_results: results}}
  end

  defp handle_event({:round_completed, idx}, state) do
    name = elem(state.rounds, idx)

    round = %RoundResult{name: name, idx: idx, member_results: sorted_members(state, idx)}
    broadcast(state, {:round_completed, state.run_id, name, round})

    {:noreply,
     %{state | round_results: [round | state.round_results], rounds_completed: state.rounds_completed + 1}}
  end

  defp handle_event(:run_completed, state), do: finalize(state, :completed, nil)
  defp handle_event({:run_failed, reason}, state), do: finalize(state, :failed, reason)
  defp handle_event(:run_cancelled, state), do: finalize(state, :cancelled, :cancelled)

  defp finalize(state, status, reason) do
    rounds = Enum.reverse(unfinished_round(state) ++ state.round_results)
    member_errors = for r <- rounds, {_, %{error: %Error{} = e}} <- r.member_results, do: e
    errors = member_errors ++ run_error(status, reason, state)

    result = %Result{
      run_id: state.run_id,
      council: state.council,
      status: result_status(status, member_errors),
      final: final(state, rounds, status),
      rounds: rounds,
      errors: errors,
      metadata: metadata(state, rounds)
    }

    case status do
      :completed -> broadcast(state, {:run_completed, state.run_id, result})
      _ -> broadcast(state, {:run_failed, state.run_id, errors, result})
    end

    state = %{state | status: status, result: result, run: nil, current_round: nil}
    Process.send_after(self(), :expire, state.retention_ms)
    reply_waiters(state)
  end

  # A cancelled run stops mid-round: keep what its members reported.
  defp unfinished_round(%{current_round: %{name: name, idx: idx}} = state) do
    case state.round_results do
      [%RoundResult{idx: ^idx} | _] -> []
      _ -> [%RoundResult{name: name, idx: idx, member_results: sorted_members(state, idx)}]
    end
  end

  defp unfinished_round(_state), do: []

  defp sorted_members(state, idx) do
    state.member_results
    |> Map.get(idx, [])
    |> Enum.sort_by(&seat_index(state, &1.member_id))
    |> Enum.map(&{&1.member_id, &1})
  end

  defp reply_waiters(state) do
    Enum.each(state.waiters, fn {from, _} -> GenServer.reply(from, reply(state)) end)
    stop? = Enum.any?(state.waiters, fn {_, stop?} -> stop? end)
    state = %{state | waiters: []}
    if stop?, do: {:stop, :normal, state}, else: {:noreply, state}
  end

  defp reply(%{status: :completed, result: result}), do: {:ok, result}
  defp reply(%{result: result}), do: {:error, result}

  defp result_status(:completed, []), do: :ok
  defp result_status(:completed, _), do: :partial
  defp result_status(:cancelled, _), do: :cancelled
  defp result_status(:failed, _), do: :error

  defp run_error(:completed, _reason, _state), do: []

  defp run_error(status, reason, state) do
    round = state.current_round && state.current_round.name
    kind = if status == :cancelled, do: :cancelled, else: :permanent
    [%Error{kind: kind, reason: reason, round_name: round, message: run_error_message(reason)}]
  end

  defp run_error_message(:no_member_succeeded), do: "no member of the round succeeded"
  defp run_error_message(:chair_failed), do: "the chair failed to synthesize an answer"
  defp run_error_message(:cancelled), do: "the run was cancelled"
  defp run_error_message(other), do: "the run failed: #{inspect(other)}"

  defp final(_state, rounds, :completed) do
    case List.last(rounds) do
      %RoundResult{name: :synthesis, member_results: [{_, %MemberResult{response: response}}]} -> response
      _ -> nil
    end
  end

  defp final(_state, _rounds, _status), do: nil

  defp metadata(state, rounds) do
    responses = for r <- rounds, {_, %{response: %Response{} = resp}} <- r.member_results, do: resp

    %{
      duration_ms:
        System.convert_time_unit(System.monotonic_time() - state.started_mono, :native, :millisecond),
      total_input_tokens: sum_usage(responses, :input_tokens),
      total_output_tokens: sum_usage(responses, :output_tokens)
    }
  end

  defp sum_usage(responses, key), do: responses |> Enum.map(&(&1.usage[key] || 0)) |> Enum.sum()

  defp member_result({id, provider, model}, round_name, outcome) do
    base = %MemberResult{
      member_id: id,
      round_name: round_name,
      model: model,
      provider: provider,
      latency_ms: div(outcome.latency_us, 1000)
    }

    case outcome do
      %{status: :ok} ->
        response = %Response{
          content: outcome.content,
          model: outcome.model || model,
          finish_reason: outcome.finish_reason,
          usage: %{input_tokens: outcome.input_tokens, output_tokens: outcome.output_tokens}
        }

        %{base | status: :ok, response: response}

      %{status: :error, error: e} ->
        error = %Error{
          kind: e.kind,
          reason: e.reason,
          message: e.message,
          member_id: id,
          round_name: round_name,
          provider: provider,
          status: e.http_status,
          type: e.type,
          code: e.code,
          retry_after_ms: e.retry_after_ms
        }

        %{base | status: member_status(e.kind), error: error}
    end
  end

  defp member_status(:timeout), do: :timeout
  defp member_status(:cancelled), do: :cancelled
  defp member_status(_), do: :error

  defp seat_index(state, member_id) do
    Enum.find_index(Tuple.to_list(state.seats), fn {id, _, _} -> id == member_id end)
  end

  defp broadcast(state, event), do: PubSub.broadcast(PubSub.run_topic(state.run_id), event)
end
