defmodule CouncilEx.FakeProvider.Dialect.OpenRouter do
  @moduledoc false
  # OpenRouter: OpenAI Chat Completions under `/api/v1`, plus what
  # provider_formats.md §2.1 says OpenRouter adds: `usage.cost`, an SSE
  # comment line before the stream, errors whose `code` is the HTTP status,
  # and a mid-stream error as a chunk with `finish_reason: "error"`.

  @behaviour CouncilEx.FakeProvider.Dialect

  alias CouncilEx.FakeProvider.Dialect
  alias CouncilEx.FakeProvider.Dialect.OpenAI
  alias CouncilEx.JSON

  @impl true
  def name, do: :openrouter

  @impl true
  def authorize(request), do: OpenAI.authorize(request)

  @impl true
  def parse(request) do
    with {:ok, call} <- OpenAI.parse(request), do: {:ok, %{call | dialect: :openrouter}}
  end

  @impl true
  def reply(call, answer), do: JSON.encode!(OpenAI.completion(call, answer, &with_cost/1))

  @impl true
  def stream(call, answer) do
    events = OpenAI.events(call, answer, &with_cost/1, &error_event/2)
    {"text/event-stream", [": OPENROUTER PROCESSING\n\n" | events]}
  end

  @impl true
  def error(status, fields, _call) do
    error =
      %{
        "code" => Map.get(fields, :code, status),
        "message" => Map.get(fields, :message, message(status))
      }
      |> put_type(fields)

    JSON.encode!(%{"error" => error})
  end

  @doc """
  The cost OpenRouter reports, in credits: 0.000001 per prompt token and
  0.000002 per completion token.
  """
  @spec cost(non_neg_integer(), non_neg_integer()) :: float()
  def cost(prompt_tokens, completion_tokens),
    do: (prompt_tokens + 2 * completion_tokens) / 1_000_000

  defp with_cost(usage) do
    Map.put(usage, "cost", cost(usage["prompt_tokens"], usage["completion_tokens"]))
  end

  # The shape of OpenRouter's documented example: a chunk whose error code
  # is a string, unlike the HTTP error bodies.
  defp error_event(call, fields) do
    chunk =
      call
      |> OpenAI.chunk_object(%{"content" => ""}, "error")
      |> Map.put("provider", "fake")
      |> Map.put("error", %{
        "code" => Map.get(fields, :code, "server_error"),
        "message" => Map.get(fields, :message, "Provider disconnected unexpectedly")
      })

    Dialect.sse(nil, chunk)
  end

  defp put_type(error, %{type: type}) when is_binary(type), do: Map.put(error, "type", type)
  defp put_type(error, _fields), do: error

  defp message(400), do: "Bad request."
  defp message(401), do: "No auth credentials found"
  defp message(402), do: "Insufficient credits. Add more using https://openrouter.ai/credits"
  defp message(403), do: "Your input was flagged by moderation."
  defp message(404), do: "No endpoints found for this model."
  defp message(408), do: "Request timed out."
  defp message(429), do: "Rate limit exceeded."
  defp message(502), do: "Provider returned error"
  defp message(503), do: "No available provider meets your routing requirements."
  defp message(_status), do: "Internal Server Error"
end
