defmodule CouncilEx.FakeProvider.Dialect.Gemini do
  @moduledoc false
  # Google Gemini (`POST .../models/{model}:generateContent` and
  # `:streamGenerateContent`), provider_formats.md §4: the model is in the
  # path, the key in x-goog-api-key (or `?key=`), replies are
  # GenerateContentResponse objects, streamed as SSE with `?alt=sse` and
  # as one growing JSON array without it, and errors are
  # `{"error": {"code", "message", "status", "details"}}`.

  @behaviour CouncilEx.FakeProvider.Dialect

  alias CouncilEx.FakeProvider.{Dialect, Reply}
  alias CouncilEx.JSON

  @path ~r{/models/([^/]+):(generateContent|streamGenerateContent)$}

  @impl true
  def name, do: :gemini

  @doc "The raw model segment and the method of a Gemini path, or nil."
  @spec method(String.t()) :: {String.t(), String.t()} | nil
  def method(path) do
    case Regex.run(@path, path, capture: :all_but_first) do
      [model, method] -> {model, method}
      nil -> nil
    end
  end

  @impl true
  def authorize(request) do
    if present?(Dialect.header(request, "x-goog-api-key")) or
         present?(query_param(request, "key")),
       do: :ok,
       else:
         {:error, 403,
          "Method doesn't allow unregistered callers (callers without established identity). " <>
            "Please use API Key or other form of API consumer identity to call this API."}
  end

  @impl true
  def parse(%{path: path, body: %{"contents" => [_ | _] = contents} = body} = request) do
    {raw_model, method} = method(path)

    case model(raw_model) do
      {:ok, model} ->
        {:ok,
         %{
           dialect: :gemini,
           id: "fake-#{Reply.digest({model, contents})}",
           model: model,
           prompt: contents |> Enum.filter(&user?/1) |> Enum.map(&text/1) |> Reply.last_text(),
           prompt_tokens: prompt_tokens(contents, system_instruction(body)),
           stream?: method == "streamGenerateContent",
           sse?: query_param(request, "alt") == "sse"
         }}

      :error ->
        {:error, 400, "Invalid model name in the request path."}
    end
  end

  def parse(%{body: body}) when is_map(body), do: {:error, 400, "contents is not specified"}
  def parse(_request), do: {:error, 400, "Invalid JSON payload received."}

  @impl true
  def reply(call, answer), do: JSON.encode!(final(call, answer, parts(answer)))

  @doc """
  One response object per piece, then one holding all the function calls;
  the last carries finishReason and the full usage, the others only the
  prompt count. With an error, the pieces are followed by an error object.
  """
  @impl true
  def stream(call, answer) do
    text = for piece <- answer.pieces, do: [%{"text" => piece}]
    calls = for parts <- [Enum.map(answer.tool_calls, &function_call/1)], parts != [], do: parts
    partial = %{"promptTokenCount" => call.prompt_tokens, "totalTokenCount" => call.prompt_tokens}

    objects =
      case {answer.error, text ++ calls} do
        {nil, []} ->
          [final(call, answer, [%{"text" => ""}])]

        {nil, chunks} ->
          Enum.map(Enum.drop(chunks, -1), &chunk(call, &1, partial)) ++
            [final(call, answer, List.last(chunks))]

        {fields, _} ->
          Enum.map(text, &chunk(call, &1, partial)) ++ [error_object(500, fields, call)]
      end

    frame(call, objects)
  end

  @impl true
  def error(status, fields, call), do: JSON.encode!(error_object(status, fields, call))

  defp chunk(call, parts, usage), do: response(call, %{"content" => content(parts)}, usage)

  defp final(call, answer, parts) do
    candidate = %{"content" => content(parts), "finishReason" => "STOP", "index" => 0}
    response(call, candidate, usage(call, answer))
  end

  # `alt=sse`: one `data:` event per object and no terminator. Without it,
  # one JSON array whose elements arrive one frame at a time.
  defp frame(%{sse?: true}, objects),
    do: {"text/event-stream", Enum.map(objects, &Dialect.sse(nil, &1))}

  defp frame(_call, objects) do
    [first | rest] = Enum.map(objects, &JSON.encode!/1)
    {"application/json", [["[", first] | Enum.map(rest, &[",\r\n", &1])] ++ ["]"]}
  end

  defp response(call, candidate, usage) do
    %{
      "candidates" => [candidate],
      "usageMetadata" => usage,
      "modelVersion" => call.model,
      "responseId" => call.id
    }
  end

  defp content(parts), do: %{"parts" => parts, "role" => "model"}

  defp parts(%{content: nil} = answer), do: Enum.map(answer.tool_calls, &function_call/1)

  defp parts(answer),
    do: [%{"text" => answer.content} | Enum.map(answer.tool_calls, &function_call/1)]

  defp function_call(tool_call) do
    %{"functionCall" => %{"name" => tool_call.name, "args" => tool_call.arguments}}
  end

  defp usage(call, answer) do
    %{
      "promptTokenCount" => call.prompt_tokens,
      "candidatesTokenCount" => answer.completion_tokens,
      "totalTokenCount" => call.prompt_tokens + answer.completion_tokens
    }
  end

  defp error_object(status, fields, call) do
    {canonical, message} = error_defaults(status, call)
    message = Map.get(fields, :message, message)

    error =
      %{
        "code" => Map.get(fields, :code, status),
        "message" => message,
        "status" => Map.get(fields, :type, canonical)
      }
      |> put_details(details(status, message, fields))

    %{"error" => error}
  end

  defp put_details(error, []), do: error
  defp put_details(error, details), do: Map.put(error, "details", details)

  # A 429 says how long to wait in a RetryInfo detail, the only retry hint
  # Gemini gives (no headers).
  defp details(429, _message, fields) do
    [
      %{
        "@type" => "type.googleapis.com/google.rpc.QuotaFailure",
        "violations" => [
          %{
            "quotaMetric" => "generativelanguage.googleapis.com/generate_content_requests",
            "quotaId" => "GenerateRequestsPerMinutePerProjectPerModel"
          }
        ]
      },
      %{
        "@type" => "type.googleapis.com/google.rpc.RetryInfo",
        "retryDelay" => duration(Map.get(fields, :retry_delay_ms, 1_000))
      }
    ]
  end

  defp details(400, message, _fields) do
    [
      %{
        "@type" => "type.googleapis.com/google.rpc.BadRequest",
        "fieldViolations" => [%{"description" => message}]
      }
    ]
  end

  defp details(_status, _message, _fields), do: []

  # A protobuf Duration in JSON: "27s", "0.25s".
  defp duration(ms) when rem(ms, 1000) == 0, do: "#{div(ms, 1000)}s"
  defp duration(ms), do: :erlang.float_to_binary(ms / 1000, [:compact, decimals: 3]) <> "s"

  defp model(raw) do
    case URI.decode(raw) do
      "models/" <> model when model != "" -> {:ok, model}
      "" -> :error
      model -> {:ok, model}
    end
  rescue
    ArgumentError -> :error
  end

  # A single-turn request may leave the role out; it is then the user's.
  defp user?(content),
    do:
      match?(%{"role" => "user"}, content) or
        (is_map(content) and not Map.has_key?(content, "role"))

  defp text(%{"parts" => parts}), do: Reply.content_text(parts, &part_text/1)
  defp text(_content), do: nil

  defp part_text(%{"text" => text} = part) when is_binary(text),
    do: unless(part["thought"] == true, do: text)

  defp part_text(_part), do: nil

  defp system_instruction(body), do: body["systemInstruction"] || body["system_instruction"]

  defp prompt_tokens(contents, system) do
    Enum.sum([Reply.words(text(system)) | Enum.map(contents, &Reply.words(text(&1)))])
  end

  defp query_param(%{query: query}, name) do
    Enum.find_value(String.split(query, "&"), fn pair ->
      case String.split(pair, "=", parts: 2) do
        [^name, value] -> value
        _other -> nil
      end
    end)
  end

  defp present?(value), do: value not in [nil, ""]

  defp error_defaults(400, _call),
    do: {"INVALID_ARGUMENT", "Request contains an invalid argument."}

  defp error_defaults(401, _call),
    do: {"UNAUTHENTICATED", "Request had invalid authentication credentials."}

  defp error_defaults(402, _call), do: {"RESOURCE_EXHAUSTED", "Your prepaid credits are used up."}

  defp error_defaults(403, _call),
    do: {"PERMISSION_DENIED", "The caller does not have permission"}

  defp error_defaults(404, %{model: model}) do
    {"NOT_FOUND",
     "models/#{model} is not found for API version v1beta, or is not supported for generateContent. " <>
       "Call ListModels to see the list of available models and their supported methods."}
  end

  defp error_defaults(404, nil), do: {"NOT_FOUND", "Requested entity was not found."}

  defp error_defaults(429, _call),
    do:
      {"RESOURCE_EXHAUSTED",
       "You exceeded your current quota, please check your plan and billing details."}

  defp error_defaults(499, _call), do: {"CANCELLED", "The operation was cancelled."}

  defp error_defaults(503, _call),
    do: {"UNAVAILABLE", "The model is overloaded. Please try again later."}

  defp error_defaults(504, _call),
    do: {"DEADLINE_EXCEEDED", "The request timed out. Please try again."}

  defp error_defaults(status, _call) when status >= 500,
    do: {"INTERNAL", "An internal error has occurred."}

  defp error_defaults(_status, _call), do: {"FAILED_PRECONDITION", "Precondition check failed."}
end
