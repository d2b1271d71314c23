defmodule CouncilEx.RunServer.MemberOutcome do
  @moduledoc false
  # Turns what the C round loop reports about a finished call (a
  # CouncilEx.Native.outcome()) into the %CouncilEx.MemberResult{} users
  # read: status, response, classified error, ballot, timings.

  alias CouncilEx.{Enums, Error, MemberResult, Native, Response}
  alias CouncilEx.RunServer.{RoundOutcome, State}

  @doc """
  The member result of call `outcome` of `step`, answered by `seat` (its
  info). `extra` is what the C side does not keep: a dispatcher's own
  error or a sub-council's run.
  """
  @spec build(State.t(), Native.step(), map(), atom(), Native.outcome(), term()) ::
          MemberResult.t()
  def build(state, step, seat, round_name, outcome, extra) do
    base = %MemberResult{
      member_id: seat.id,
      round_name: round_name,
      model: seat.model,
      provider: seat.provider,
      latency_ms: div(outcome.latency_us, 1000),
      attempts: max(outcome.attempts, 1),
      confidence: outcome.confidence,
      metadata: RoundOutcome.call_metadata(state, step, outcome, extra)
    }

    case outcome do
      %{status: :ok} ->
        %{base | status: :ok, response: response(state, step, outcome, seat)}

      %{status: :skipped} ->
        reason =
          if seat.id in Map.get(state.routed_out, step, []),
            do: :router_excluded,
            else: :nothing_to_judge

        %{base | status: :skipped, attempts: 0, metadata: Map.put(base.metadata, :reason, reason)}

      %{status: :error, error: %{reason: :invalid_output} = e} ->
        reasons =
          for {path, message} <- outcome.invalid_output, do: %{path: path, message: message}

        reasons =
          if outcome.ballot_error,
            do: [%{path: "", message: "ballot: #{outcome.ballot_error}"} | reasons],
            else: reasons

        error = %Error{
          kind: :validation,
          reason: :invalid_output,
          message: e.message,
          context: %{errors: reasons},
          member_id: seat.id,
          round_name: round_name,
          provider: seat.provider
        }

        %{
          base
          | status: :invalid_output,
            error: error,
            response: response(state, step, outcome, seat)
        }

      %{status: :error, error: e} ->
        error =
          case {e.reason, extra} do
            # A dispatcher's own error says more than the C side kept of it.
            {:external_error, %Error{} = ext} -> ext
            _ -> c_error(e)
          end

        error = %{error | member_id: seat.id, round_name: round_name, provider: seat.provider}
        %{base | status: status(error.kind), error: error}
    end
  end

  defp response(state, step, outcome, seat) do
    %Response{
      content: outcome.content || "",
      model: outcome.model || seat.model,
      finish_reason: outcome.finish_reason,
      usage: usage(outcome),
      stop: if(outcome.status == :ok, do: outcome.stop),
      parsed: RoundOutcome.ballot(state, step, outcome) || parsed(outcome)
    }
  end

  defp usage(%{cost: cost} = outcome) when is_float(cost),
    do: %{input_tokens: outcome.input_tokens, output_tokens: outcome.output_tokens, cost: cost}

  defp usage(outcome),
    do: %{input_tokens: outcome.input_tokens, output_tokens: outcome.output_tokens}

  # The JSON document the C side found in (and checked against) the answer,
  # parsed once there and sent as a term.
  defp parsed(outcome), do: outcome.parsed

  defp c_error(e) do
    %Error{
      kind: e.kind,
      reason: e.reason,
      message: e.message || Enums.reason_message(e.reason),
      status: e.http_status,
      type: e.type,
      code: e.code,
      retry_after_ms: e.retry_after_ms
    }
  end

  defp status(:timeout), do: :timeout
  defp status(:cancelled), do: :cancelled
  defp status(_), do: :error
end
