defmodule CouncilEx.RunServer.RunOutcome do
  @moduledoc false
  # The %CouncilEx.Result{} of a run that ended: its rounds (a cancelled
  # run's unfinished one included), its errors, the final answer and the
  # run's metadata.

  alias CouncilEx.{Enums, Error, Response, Result, RoundResult}
  alias CouncilEx.RunServer.{RoundOutcome, State}

  @doc """
  The result of a run that ended with `status` (`:completed`, `:failed` or
  `:cancelled`); `reason` is why it failed: a reason word from the C core,
  `:hook_failed` (the error is in `state.abort`) or an `%Error{}`.
  """
  @spec build(State.t(), :completed | :failed | :cancelled, atom() | Error.t() | nil) ::
          Result.t()
  def build(state, status, reason) do
    rounds = Enum.reverse(unfinished_round(state) ++ state.round_results)
    member_errors = for r <- rounds, {_, %{error: %Error{} = e}} <- r.member_results, do: e

    %Result{
      run_id: state.run_id,
      council: state.council,
      status: result_status(status, member_errors),
      final: if(status == :completed, do: final(state, rounds)),
      rounds: rounds,
      errors: member_errors ++ run_error(status, reason, state),
      metadata: metadata(state, rounds)
    }
  end

  # A cancelled run stops mid-round: keep what its members reported.
  defp unfinished_round(%{current_round: %{name: name, idx: idx}} = state) do
    case state.round_results do
      [%RoundResult{idx: ^idx} | _] ->
        []

      _ ->
        [
          %RoundResult{
            name: name,
            idx: idx,
            member_results: RoundOutcome.sorted_members(state, idx)
          }
        ]
    end
  end

  defp unfinished_round(_state), do: []

  defp result_status(:completed, []), do: :ok
  defp result_status(:completed, _), do: :partial
  defp result_status(:cancelled, _), do: :cancelled
  defp result_status(:failed, _), do: :error

  defp run_error(:completed, _reason, _state), do: []

  defp run_error(:failed, :hook_failed, %{abort: %Error{} = error} = state),
    do: [%{error | round_name: error.round_name || current_round(state)}]

  defp run_error(:failed, %Error{} = error, state),
    do: [%{error | round_name: error.round_name || current_round(state)}]

  defp run_error(status, reason, state) do
    kind = if status == :cancelled, do: :cancelled, else: :permanent

    [
      %Error{
        kind: kind,
        reason: reason,
        round_name: current_round(state),
        message: Enums.reason_message(reason) || "the run failed: #{inspect(reason)}"
      }
    ]
  end

  defp current_round(state), do: state.current_round && state.current_round.name

  # The chair's answer (or its fallback's): the success of the last round,
  # when the chair writes it.
  defp final(state, rounds) do
    with %RoundResult{member_results: results, metadata: %{round: round}} <- List.last(rounds),
         %{kind: kind} when kind != :custom <- elem(state.rounds, round),
         true <- Enums.round_kind!(kind).chair? do
      Enum.find_value(results, fn {_, r} -> r.status == :ok && r.response end)
    else
      _ -> nil
    end
  end

  defp metadata(state, rounds) do
    responses =
      for r <- rounds, {_, %{response: %Response{} = resp}} <- r.member_results, do: resp

    meta = %{
      duration_ms:
        System.convert_time_unit(
          System.monotonic_time() - state.started_mono,
          :native,
          :millisecond
        ),
      total_input_tokens: sum_usage(responses, :input_tokens),
      total_output_tokens: sum_usage(responses, :output_tokens)
    }

    if auto = state.user_opts[:auto], do: Map.put(meta, :auto, auto), else: meta
  end

  defp sum_usage(responses, key), do: responses |> Enum.map(&(&1.usage[key] || 0)) |> Enum.sum()
end
