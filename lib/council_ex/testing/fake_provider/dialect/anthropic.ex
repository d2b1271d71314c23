defmodule CouncilEx.FakeProvider.Dialect.Anthropic do
  @moduledoc false
  # Anthropic Messages (`POST /v1/messages`), provider_formats.md §3: the
  # x-api-key and anthropic-version headers, `message` objects with text
  # and tool_use blocks, the typed SSE events, and error bodies
  # `{"type": "error", "error": {"type", "message"}, "request_id"}`.

  @behaviour CouncilEx.FakeProvider.Dialect

  alias CouncilEx.FakeProvider.{Dialect, Reply}
  alias CouncilEx.JSON

  @impl true
  def name, do: :anthropic

  @impl true
  def authorize(request) do
    cond do
      blank?(Dialect.header(request, "x-api-key")) ->
        {:error, 401, "x-api-key header is required"}

      blank?(Dialect.header(request, "anthropic-version")) ->
        {:error, 400, "anthropic-version: header is required"}

      true ->
        :ok
    end
  end

  @impl true
  def parse(%{body: %{"model" => model, "messages" => [_ | _] = messages} = body})
      when is_binary(model) do
    case Map.get(body, "max_tokens") do
      max_tokens when is_integer(max_tokens) and max_tokens > 0 ->
        {:ok,
         %{
           dialect: :anthropic,
           id: "msg_fake_#{Reply.digest({model, messages})}",
           model: model,
           prompt: messages |> Enum.filter(&match?(%{"role" => "user"}, &1)) |> last_text(),
           prompt_tokens: prompt_tokens(messages, Map.get(body, "system")),
           stream?: Map.get(body, "stream") == true
         }}

      nil ->
        {:error, 400, "max_tokens: Field required"}

      _other ->
        {:error, 400, "max_tokens: Input should be a positive integer"}
    end
  end

  def parse(%{body: body}) when is_map(body) do
    {:error, 400, "model: a string is required; messages: at least one message is required"}
  end

  def parse(_request), do: {:error, 400, "The request body is not valid JSON."}

  @impl true
  def reply(call, answer) do
    JSON.encode!(%{
      "id" => call.id,
      "type" => "message",
      "role" => "assistant",
      "model" => call.model,
      "content" =>
        text_blocks(answer) ++ Enum.map(answer.tool_calls, &tool_use(&1, &1.arguments)),
      "stop_reason" => stop_reason(answer),
      "stop_sequence" => nil,
      "usage" => %{
        "input_tokens" => call.prompt_tokens,
        "output_tokens" => answer.completion_tokens
      }
    })
  end

  @doc """
  The typed events: message_start, then per block content_block_start,
  its deltas (text_delta per piece, input_json_delta for tool input) and
  content_block_stop, then message_delta and message_stop. A ping follows
  the first block's start. With an error, `event: error` follows the text
  deltas instead of the rest.
  """
  @impl true
  def stream(call, %{error: nil} = answer) do
    text = if answer.content, do: [text_block_events(answer.pieces)], else: []
    blocks = text ++ Enum.map(answer.tool_calls, &tool_block_events/1)

    events =
      [message_start(call)] ++
        Enum.concat(numbered(blocks)) ++
        [
          event("message_delta", %{
            "delta" => %{"stop_reason" => stop_reason(answer), "stop_sequence" => nil},
            "usage" => %{"output_tokens" => answer.completion_tokens}
          }),
          event("message_stop", %{})
        ]

    {"text/event-stream", events}
  end

  def stream(call, answer) do
    [text] = numbered([text_block_events(answer.pieces)])
    opening = if answer.pieces == [], do: [event("ping", %{})], else: Enum.drop(text, -1)
    {"text/event-stream", [message_start(call) | opening] ++ [error_event(answer.error)]}
  end

  @impl true
  def error(status, fields, call) do
    {type, message} = error_defaults(status)

    error = %{
      "type" => Map.get(fields, :type, type),
      "message" => Map.get(fields, :message, message)
    }

    JSON.encode!(%{
      "type" => "error",
      "error" => error,
      "request_id" => "req_fake_#{Reply.digest({status, error, call && call.id})}"
    })
  end

  defp message_start(call) do
    message = %{
      "id" => call.id,
      "type" => "message",
      "role" => "assistant",
      "content" => [],
      "model" => call.model,
      "stop_reason" => nil,
      "stop_sequence" => nil,
      "usage" => %{"input_tokens" => call.prompt_tokens, "output_tokens" => 1}
    }

    event("message_start", %{"message" => message})
  end

  # Blocks as functions of their index, numbered in order; the first one
  # gets a ping after its start, as in Anthropic's example stream.
  defp numbered(blocks) do
    blocks
    |> Enum.with_index()
    |> Enum.map(fn
      {block, 0} -> List.insert_at(block.(0), 1, event("ping", %{}))
      {block, index} -> block.(index)
    end)
  end

  defp text_block_events(pieces) do
    fn index ->
      [block_start(index, %{"type" => "text", "text" => ""})] ++
        Enum.map(pieces, &block_delta(index, %{"type" => "text_delta", "text" => &1})) ++
        [block_stop(index)]
    end
  end

  defp tool_block_events(tool_call) do
    # The first partial_json is "", as in Anthropic's example stream.
    partials = [
      "" | for(half <- Reply.halves(Reply.arguments_json(tool_call)), half != "", do: half)
    ]

    fn index ->
      [block_start(index, tool_use(tool_call, %{}))] ++
        Enum.map(
          partials,
          &block_delta(index, %{"type" => "input_json_delta", "partial_json" => &1})
        ) ++
        [block_stop(index)]
    end
  end

  defp block_start(index, block),
    do: event("content_block_start", %{"index" => index, "content_block" => block})

  defp block_delta(index, delta),
    do: event("content_block_delta", %{"index" => index, "delta" => delta})

  defp block_stop(index), do: event("content_block_stop", %{"index" => index})

  defp error_event(fields) do
    error = %{
      "type" => Map.get(fields, :type, "overloaded_error"),
      "message" => Map.get(fields, :message, "Overloaded")
    }

    event("error", %{"error" => error})
  end

  # The JSON's type always equals the event's name.
  defp event(name, data), do: Dialect.sse(name, Map.put(data, "type", name))

  defp text_blocks(%{content: nil}), do: []
  defp text_blocks(%{content: text}), do: [%{"type" => "text", "text" => text}]

  defp tool_use(tool_call, input) do
    %{"type" => "tool_use", "id" => tool_call.id, "name" => tool_call.name, "input" => input}
  end

  defp stop_reason(%{tool_calls: []}), do: "end_turn"
  defp stop_reason(_answer), do: "tool_use"

  defp last_text(messages), do: messages |> Enum.map(&text(&1["content"])) |> Reply.last_text()

  defp prompt_tokens(messages, system) do
    Enum.sum([Reply.words(text(system)) | Enum.map(messages, &Reply.words(text(&1["content"])))])
  end

  defp text(content), do: Reply.content_text(content, &block_text/1)

  defp block_text(%{"type" => "text", "text" => text}) when is_binary(text), do: text
  defp block_text(_block), do: nil

  defp blank?(value), do: value in [nil, ""]

  defp error_defaults(400), do: {"invalid_request_error", "Invalid request."}
  defp error_defaults(401), do: {"authentication_error", "invalid x-api-key"}
  defp error_defaults(402), do: {"billing_error", "Your credit balance is too low."}

  defp error_defaults(403),
    do:
      {"permission_error", "Your API key does not have permission to use the specified resource."}

  defp error_defaults(404), do: {"not_found_error", "The requested resource could not be found."}
  defp error_defaults(409), do: {"conflict_error", "Conflict."}

  defp error_defaults(413),
    do: {"request_too_large", "Request exceeds the maximum allowed number of bytes."}

  defp error_defaults(429),
    do: {"rate_limit_error", "Number of requests has exceeded your rate limit."}

  defp error_defaults(504), do: {"timeout_error", "Request timed out."}
  defp error_defaults(529), do: {"overloaded_error", "Overloaded"}
  defp error_defaults(status) when status >= 500, do: {"api_error", "Internal server error"}
  defp error_defaults(_status), do: {"invalid_request_error", "Invalid request."}
end
