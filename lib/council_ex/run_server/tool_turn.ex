defmodule CouncilEx.RunServer.ToolTurn do
  @moduledoc false
  # One turn of a member's tool calls, run in a task under the run's
  # process: every call (in parallel unless parallel_tools: false, at most
  # concurrency/2 at once) within tool_timeout_ms. Each outcome goes to the
  # run's process as {:tool_result, step, seat, %ToolCallResult{}} as it is
  # known; the task's own result is the list of texts sent back to the
  # model, in call order. The turn counts against the member's timeout_ms:
  # the C round loop holds the deadline, and a turn that outlives it is
  # shut down when the member completes as a timeout.

  alias CouncilEx.{JSON, ToolCall, ToolCallResult}
  alias CouncilEx.Options.Seat

  @default_timeout_ms 30_000

  @doc "Runs the turn (in a task the run's process owns); returns `[binary]`."
  @spec run([ToolCall.t()], keyword(), map(), pid()) :: [binary()]
  def run(calls, seat_opts, ctx, server) do
    tools = Map.new(seat_opts[:tools] || [], &{&1.name(), &1})
    timeout = seat_opts[:tool_timeout_ms] || @default_timeout_ms
    fail_fast? = seat_opts[:parallel_tools_strategy] == :fail_fast
    concurrency = min(concurrency(seat_opts), max(length(calls), 1))

    outcomes =
      calls
      |> Task.async_stream(&execute(&1, tools),
        timeout: timeout,
        on_timeout: :kill_task,
        max_concurrency: concurrency
      )
      |> Enum.zip(calls)
      |> Enum.reduce_while([], fn {outcome, call}, acc ->
        result = result(call, outcome, timeout)
        send(server, {:tool_result, ctx.step, ctx.seat, result})

        if fail_fast? and result.error != nil,
          do: {:halt, [result | acc]},
          else: {:cont, [result | acc]}
      end)
      |> Enum.reverse()

    # Calls a fail-fast turn did not wait for still need an answer.
    skipped =
      for call <- Enum.drop(calls, length(outcomes)) do
        result = %ToolCallResult{
          id: call.id,
          name: call.name,
          error: "not run: another tool of this turn failed"
        }

        send(server, {:tool_result, ctx.step, ctx.seat, result})
        result
      end

    Enum.map(outcomes ++ skipped, &text/1)
  end

  @doc """
  How many of a turn's calls run at once: 1 with `parallel_tools: false`,
  else `ceil(tool_concurrency_factor * System.schedulers_online())`, at
  least 1.
  """
  @spec concurrency(keyword()) :: pos_integer()
  def concurrency(seat_opts) do
    if seat_opts[:parallel_tools] == false do
      1
    else
      factor = Seat.setting(seat_opts, :tool_concurrency_factor)
      max(ceil(factor * System.schedulers_online()), 1)
    end
  end

  defp execute(%ToolCall{name: name, args_raw: args}, tools) do
    case Map.fetch(tools, name) do
      {:ok, tool} -> tool.execute(args)
      :error -> {:error, "unknown tool #{inspect(name)}"}
    end
  rescue
    e -> {:error, "the tool raised: " <> Exception.message(e)}
  end

  defp result(call, {:ok, {:ok, value}}, _timeout),
    do: %ToolCallResult{id: call.id, name: call.name, result: value}

  defp result(call, {:ok, {:error, why}}, _timeout),
    do: %ToolCallResult{id: call.id, name: call.name, error: why}

  defp result(call, {:ok, other}, _timeout),
    do: %ToolCallResult{
      id: call.id,
      name: call.name,
      error: "expected {:ok, _} or {:error, _}, got: #{inspect(other)}"
    }

  defp result(call, {:exit, :timeout}, timeout),
    do: %ToolCallResult{id: call.id, name: call.name, error: "timed out after #{timeout} ms"}

  defp result(call, {:exit, reason}, _timeout),
    do: %ToolCallResult{id: call.id, name: call.name, error: "crashed: #{inspect(reason)}"}

  # What the model reads back: a binary as is, anything else as JSON.
  defp text(%ToolCallResult{error: nil, result: value}) when is_binary(value), do: value
  defp text(%ToolCallResult{error: nil, result: value}), do: json(value)

  defp text(%ToolCallResult{error: why}),
    do: json(%{"error" => if(is_binary(why), do: why, else: inspect(why))})

  defp json(value) do
    case JSON.encode(value) do
      {:ok, text} -> text
      {:error, _} -> inspect(value, limit: :infinity, printable_limit: :infinity)
    end
  end
end
