defmodule CouncilEx.RunServer.SubCouncil do
  @moduledoc false
  # A member that is a council: its call is a nested, synchronous run of
  # that council on the (mapped) input, owned by the parent's task (it
  # stops when that task does, quietly, and its end does not touch the
  # task: the task reads it from await). Its events
  # are relayed on "council_ex:run:<parent>:sub:<member>"; the member's
  # answer is the inner run's final answer, and its metadata carries the
  # inner run's id and result.

  alias CouncilEx.{Error, MemberResult, Response, Result}

  @spec run(term(), (term() -> term()) | nil, map(), map()) ::
          {:ok, Response.t(), map()} | {:error, Error.t()}
  def run(council, mapper, ctx, seat) do
    sub_run_id = "#{ctx.run_id}:sub:#{seat.id}:#{ctx.step}"
    topic = "council_ex:run:#{ctx.run_id}:sub:#{seat.id}"
    input = if mapper, do: mapper.(ctx.input), else: ctx.input

    case run(council, input, run_id: sub_run_id, relay_topics: [topic], owner: self()) do
      {:ok, %Result{} = result} ->
        {:ok, %Response{content: answer(result), model: "council", usage: usage(result)},
         %{sub_run_id: sub_run_id, sub_result: result}}

      {:error, %Result{} = result} ->
        {:error,
         %Error{
           kind: :permanent,
           reason: :sub_council_failed,
           message:
             "sub-council run #{sub_run_id} failed: " <>
               Enum.map_join(result.errors, "; ", &(&1.message || inspect(&1.reason))),
           context: %{sub_run_id: sub_run_id, sub_result: result}
         }}

      {:error, %Error{} = error} ->
        {:error, %{error | context: Map.put(error.context, :sub_run_id, sub_run_id)}}
    end
  end

  defp run(council, input, opts) do
    with {:ok, pid} <- CouncilEx.start(council, input, opts) do
      try do
        CouncilEx.RunServer.await(pid, :infinity, true)
      catch
        :exit, reason ->
          {:error,
           %Error{
             kind: :permanent,
             reason: :sub_council_failed,
             message: "the sub-council run exited: #{inspect(reason)}"
           }}
      end
    end
  end

  # The inner chair's answer; a council without a chair answers with its
  # last round's answers, each under its member id.
  defp answer(%Result{final: %Response{content: content}}), do: content

  defp answer(%Result{rounds: rounds}) do
    case List.last(rounds) do
      nil ->
        ""

      round ->
        Enum.map_join(
          for({id, %MemberResult{status: :ok, response: r}} <- round.member_results, do: {id, r}),
          "\n\n",
          fn {id, r} ->
            "### #{id}\n#{r.content}"
          end
        )
    end
  end

  defp usage(%Result{metadata: meta}),
    do: %{input_tokens: meta[:total_input_tokens], output_tokens: meta[:total_output_tokens]}
end
