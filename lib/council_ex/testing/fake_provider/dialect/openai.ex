defmodule CouncilEx.FakeProvider.Dialect.OpenAI do
  @moduledoc false
  # OpenAI Chat Completions (`POST .../chat/completions`), as also spoken
  # by Ollama's /v1 and, with a few extras, OpenRouter (Dialect.OpenRouter
  # builds on the functions here). provider_formats.md §1, §2.2 and §5.2.

  @behaviour CouncilEx.FakeProvider.Dialect

  alias CouncilEx.FakeProvider.{Dialect, Reply}
  alias CouncilEx.JSON

  @impl true
  def name, do: :openai

  # OpenAI-compatible servers differ on keys (Ollama ignores them), so any
  # or no Authorization header is accepted; requests/1 shows what came.
  @impl true
  def authorize(_request), do: :ok

  @impl true
  def parse(%{body: %{"model" => model, "messages" => messages} = body})
      when is_binary(model) and is_list(messages) do
    {:ok,
     %{
       dialect: :openai,
       id: "chatcmpl-fake-#{Reply.digest({model, messages})}",
       model: model,
       prompt: messages |> Enum.filter(&match?(%{"role" => "user"}, &1)) |> user_turns(),
       prompt_tokens: messages |> Enum.map(&Reply.words(text(&1))) |> Enum.sum(),
       stream?: Map.get(body, "stream") == true,
       include_usage?: match?(%{"stream_options" => %{"include_usage" => true}}, body)
     }}
  end

  def parse(_request) do
    {:error, 400, "The body must be a JSON object with a string model and a messages list."}
  end

  @impl true
  def reply(call, answer), do: JSON.encode!(completion(call, answer, & &1))

  @impl true
  def stream(call, answer), do: {"text/event-stream", events(call, answer, & &1, &error_event/2)}

  @impl true
  def error(status, fields, _call), do: JSON.encode!(%{"error" => error_object(status, fields)})

  @doc """
  A chat.completion object; `usage` passes the usage object through a
  function (OpenRouter adds its cost there).
  """
  @spec completion(map(), map(), (map() -> map())) :: map()
  def completion(call, answer, usage) do
    message = Map.merge(%{"role" => "assistant", "content" => answer.content}, tools(answer))

    %{
      "id" => call.id,
      "object" => "chat.completion",
      # Fixed so that identical requests get byte-identical replies.
      "created" => 0,
      "model" => call.model,
      "choices" => [
        %{"index" => 0, "message" => message, "finish_reason" => finish_reason(answer)}
      ],
      "usage" => usage.(usage(call, answer))
    }
  end

  @doc """
  The SSE frames of a streamed reply: a role chunk, one chunk per piece,
  the tool calls (a head fragment, then the arguments in two halves), the
  finish chunk, the usage chunk when asked for, `[DONE]`. With an error,
  the pieces are followed by `error_event.(call, fields)` and nothing else.
  """
  @spec events(map(), map(), (map() -> map()), (map(), map() -> iodata())) :: [iodata()]
  def events(call, %{error: nil} = answer, usage, _error_event) do
    opening(call, answer) ++
      Enum.map(tool_deltas(answer.tool_calls), &chunk(call, &1, nil)) ++
      [chunk(call, %{}, finish_reason(answer))] ++
      usage_tail(call, answer, usage) ++ ["data: [DONE]\n\n"]
  end

  def events(call, answer, _usage, error_event) do
    opening(call, answer) ++ [error_event.(call, answer.error)]
  end

  @doc "One chat.completion.chunk object with a single choice."
  @spec chunk_object(map(), map(), String.t() | nil) :: map()
  def chunk_object(call, delta, finish_reason) do
    %{
      "id" => call.id,
      "object" => "chat.completion.chunk",
      "created" => 0,
      "model" => call.model,
      "choices" => [%{"index" => 0, "delta" => delta, "finish_reason" => finish_reason}]
    }
    |> with_null_usage(call)
  end

  @doc "An OpenAI error object; `fields` may override message, type and code."
  @spec error_object(pos_integer(), map()) :: map()
  def error_object(status, fields) do
    {type, code, message} = error_defaults(status)

    %{
      "message" => Map.get(fields, :message, message),
      "type" => Map.get(fields, :type, type),
      "param" => nil,
      "code" => Map.get(fields, :code, code)
    }
  end

  defp opening(call, answer) do
    role = %{"role" => "assistant", "content" => if(answer.content, do: "")}
    [chunk(call, role, nil) | Enum.map(answer.pieces, &chunk(call, %{"content" => &1}, nil))]
  end

  defp chunk(call, delta, finish_reason),
    do: Dialect.sse(nil, chunk_object(call, delta, finish_reason))

  defp tool_deltas(tool_calls) do
    tool_calls
    |> Enum.with_index()
    |> Enum.flat_map(fn {tool_call, index} ->
      head = %{
        "index" => index,
        "id" => tool_call.id,
        "type" => "function",
        "function" => %{"name" => tool_call.name, "arguments" => ""}
      }

      pieces =
        for half <- Reply.halves(Reply.arguments_json(tool_call)),
            half != "",
            do: %{"index" => index, "function" => %{"arguments" => half}}

      Enum.map([head | pieces], &%{"tool_calls" => [&1]})
    end)
  end

  # stream_options.include_usage: one more chunk, with no choices, and
  # every chunk before it carries "usage": null.
  defp usage_tail(%{include_usage?: true} = call, answer, usage) do
    tail = %{
      chunk_object(call, %{}, nil)
      | "choices" => [],
        "usage" => usage.(usage(call, answer))
    }

    [Dialect.sse(nil, tail)]
  end

  defp usage_tail(_call, _answer, _usage), do: []

  defp with_null_usage(chunk, %{include_usage?: true}), do: Map.put(chunk, "usage", nil)
  defp with_null_usage(chunk, _call), do: chunk

  defp error_event(_call, fields), do: Dialect.sse(nil, %{"error" => error_object(500, fields)})

  defp tools(%{tool_calls: []}), do: %{}

  defp tools(%{tool_calls: tool_calls}) do
    %{
      "tool_calls" =>
        for tool_call <- tool_calls do
          %{
            "id" => tool_call.id,
            "type" => "function",
            "function" => %{
              "name" => tool_call.name,
              "arguments" => Reply.arguments_json(tool_call)
            }
          }
        end
    }
  end

  defp finish_reason(%{tool_calls: []}), do: "stop"
  defp finish_reason(_answer), do: "tool_calls"

  defp usage(call, answer) do
    %{
      "prompt_tokens" => call.prompt_tokens,
      "completion_tokens" => answer.completion_tokens,
      "total_tokens" => call.prompt_tokens + answer.completion_tokens
    }
  end

  defp user_turns(messages), do: messages |> Enum.map(&text/1) |> Reply.last_text()

  defp text(%{"content" => content}), do: Reply.content_text(content, &part_text/1)
  defp text(_message), do: nil

  defp part_text(%{"type" => "text", "text" => text}) when is_binary(text), do: text
  defp part_text(_part), do: nil

  defp error_defaults(400), do: {"invalid_request_error", nil, "Bad request."}

  defp error_defaults(401),
    do: {"invalid_request_error", "invalid_api_key", "Incorrect API key provided."}

  defp error_defaults(403),
    do: {"permission_error", nil, "You are not allowed to use this model."}

  defp error_defaults(404),
    do: {"invalid_request_error", "model_not_found", "The model does not exist."}

  defp error_defaults(408), do: {"server_error", nil, "Request timed out."}

  defp error_defaults(429),
    do: {"requests", "rate_limit_exceeded", "Rate limit reached for requests."}

  defp error_defaults(status) when status >= 500,
    do: {"server_error", nil, "The server had an error while processing your request."}

  defp error_defaults(_status), do: {"invalid_request_error", nil, "Request failed."}
end
