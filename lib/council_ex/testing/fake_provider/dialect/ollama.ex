defmodule CouncilEx.FakeProvider.Dialect.Ollama do
  @moduledoc false
  # Ollama's native chat API (`POST /api/chat`), provider_formats.md §5.1:
  # no auth, streamed as NDJSON unless the body says `"stream": false`
  # (streaming is Ollama's default), a final object with `done: true` and
  # the counts, tool calls with object arguments, errors `{"error": "..."}`.
  # (Ollama's /v1 is Dialect.OpenAI.)

  @behaviour CouncilEx.FakeProvider.Dialect

  alias CouncilEx.FakeProvider.Reply
  alias CouncilEx.JSON

  # Fixed so that identical requests get byte-identical replies.
  @created_at "1970-01-01T00:00:00Z"

  @impl true
  def name, do: :ollama

  @impl true
  def authorize(_request), do: :ok

  @impl true
  def parse(%{body: %{"model" => model, "messages" => messages} = body})
      when is_binary(model) and model != "" and is_list(messages) do
    {:ok,
     %{
       dialect: :ollama,
       model: model,
       prompt:
         messages
         |> Enum.filter(&match?(%{"role" => "user"}, &1))
         |> Enum.map(&text/1)
         |> Reply.last_text(),
       prompt_tokens: messages |> Enum.map(&Reply.words(text(&1))) |> Enum.sum(),
       stream?: Map.get(body, "stream") != false
     }}
  end

  def parse(%{body: %{"model" => model}}) when is_binary(model) and model != "",
    do: {:error, 400, "messages must be a list"}

  def parse(%{body: body}) when is_map(body), do: {:error, 400, "model is required"}
  def parse(_request), do: {:error, 400, "invalid JSON in the request body"}

  @impl true
  def reply(call, answer) do
    message =
      Map.merge(%{"role" => "assistant", "content" => answer.content || ""}, tools(answer))

    JSON.encode!(done(call, answer, message))
  end

  @doc """
  One line per piece, one line holding all the tool calls (Ollama sends a
  call whole), then the `done: true` line. With an error, the pieces are
  followed by an `{"error": ...}` line.
  """
  @impl true
  def stream(call, answer) do
    pieces =
      Enum.map(answer.pieces, &line(partial(call, %{"role" => "assistant", "content" => &1})))

    rest =
      case answer do
        %{error: nil, tool_calls: []} ->
          [line(done(call, answer, empty()))]

        %{error: nil} ->
          [
            line(partial(call, Map.merge(empty(), tools(answer)))),
            line(done(call, answer, empty()))
          ]

        %{error: fields} ->
          [line(%{"error" => Map.get(fields, :message, message(500, call))})]
      end

    {"application/x-ndjson", pieces ++ rest}
  end

  @impl true
  def error(status, fields, call),
    do: JSON.encode!(%{"error" => Map.get(fields, :message, message(status, call))})

  defp partial(call, message) do
    %{"model" => call.model, "created_at" => @created_at, "message" => message, "done" => false}
  end

  defp done(call, answer, message) do
    %{partial(call, message) | "done" => true}
    |> Map.put("done_reason", "stop")
    |> Map.merge(metrics(call.prompt_tokens, answer.completion_tokens))
  end

  defp empty, do: %{"role" => "assistant", "content" => ""}

  # Durations are in nanoseconds and made up from the counts; like Ollama
  # (Go's omitempty), zero counts and durations are left out.
  defp metrics(prompt_tokens, eval_count) do
    prompt_eval_duration = prompt_tokens * 1_000_000
    eval_duration = eval_count * 10_000_000
    load_duration = 1_000_000

    %{
      "total_duration" => load_duration + prompt_eval_duration + eval_duration,
      "load_duration" => load_duration,
      "prompt_eval_count" => prompt_tokens,
      "prompt_eval_duration" => prompt_eval_duration,
      "eval_count" => eval_count,
      "eval_duration" => eval_duration
    }
    |> Map.reject(fn {_key, value} -> value == 0 end)
  end

  defp tools(%{tool_calls: []}), do: %{}

  defp tools(%{tool_calls: tool_calls}) do
    calls =
      for {tool_call, index} <- Enum.with_index(tool_calls) do
        function = %{
          "index" => index,
          "name" => tool_call.name,
          "arguments" => tool_call.arguments
        }

        %{"id" => tool_call.id, "function" => function}
      end

    %{"tool_calls" => calls}
  end

  defp line(object), do: [JSON.encode!(object), "\n"]

  defp text(%{"content" => content}), do: Reply.content_text(content, fn _part -> nil end)
  defp text(_message), do: nil

  defp message(404, %{model: model}), do: "model '#{model}' not found"
  defp message(404, nil), do: "model not found"
  defp message(400, _call), do: "invalid request"
  defp message(401, _call), do: "unauthorized"
  defp message(429, _call), do: "too many requests"
  defp message(502, _call), do: "bad gateway"

  defp message(503, _call),
    do: "server busy, please try again.  maximum pending requests exceeded"

  defp message(_status, _call), do: "an error was encountered while running the model"
end
