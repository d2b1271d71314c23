defmodule CouncilEx.FakeProvider.Dialect do
  @moduledoc false
  # One provider wire format spoken by CouncilEx.FakeProvider, chosen by the
  # request path (see route/1). A dialect module reads a request into a
  # `call`, and writes the bodies answering it: a whole reply, the frames
  # of a streamed one, and error bodies. Framing on the wire (Content-Length
  # or chunked) and the timing between frames are the connection's job; a
  # dialect's functions are pure, so every reply is a function of the
  # request and the script step alone.

  alias CouncilEx.FakeProvider.Dialect

  @typedoc "A dialect's name, as recorded by `CouncilEx.FakeProvider.requests/1`."
  @type name :: :openai | :openrouter | :anthropic | :gemini | :ollama

  @typedoc """
  What a dialect read from a request: at least the model, the last user
  text (`prompt`), the input token count and whether to stream; dialects
  keep whatever else they need (e.g. OpenAI's `include_usage?`).
  """
  @type call :: %{
          required(:dialect) => name(),
          required(:model) => String.t(),
          required(:prompt) => String.t(),
          required(:prompt_tokens) => non_neg_integer(),
          required(:stream?) => boolean(),
          optional(atom()) => term()
        }

  @typedoc "A tool call to answer with: id, name and decoded arguments."
  @type tool_call :: %{id: String.t(), name: String.t(), arguments: map()}

  @typedoc """
  What to answer, built by `CouncilEx.FakeProvider.Reply.answer/2`: the
  text (nil for none), the pieces a stream sends it in (none when the
  request does not stream), tool calls, the output token count, and
  `error` (nil, or the fields of an error to send after `pieces` instead
  of finishing the stream).
  """
  @type answer :: %{
          content: String.t() | nil,
          pieces: [String.t()],
          tool_calls: [tool_call()],
          completion_tokens: non_neg_integer(),
          error: error_fields() | nil
        }

  @typedoc "Overrides for an error body: any of `:message`, `:type`, `:code`, `:retry_delay_ms`."
  @type error_fields :: map()

  @doc "The dialect's name."
  @callback name() :: name()

  @doc "Checks the auth headers the real provider insists on."
  @callback authorize(request :: map()) :: :ok | {:error, pos_integer(), String.t()}

  @doc "Reads a request whose body is decoded JSON, or the raw binary when it was not JSON."
  @callback parse(request :: map()) :: {:ok, call()} | {:error, pos_integer(), String.t()}

  @doc "The body of a non-streamed 2xx reply."
  @callback reply(call(), answer()) :: iodata()

  @doc """
  A streamed reply: its content type and its frames, in order. Each frame
  is one event (or NDJSON line) with its framing, and goes out on its own.
  """
  @callback stream(call(), answer()) :: {String.t(), [iodata()]}

  @doc "The error body for `status`; `call` is nil when the request could not be read."
  @callback error(pos_integer(), error_fields(), call() | nil) :: iodata()

  @doc """
  The dialect module answering `path`, or nil:

    * `.../chat/completions`: OpenAI, or OpenRouter under `/api/v1/`
    * `.../messages`: Anthropic
    * `.../models/{model}:generateContent` and `:streamGenerateContent`: Gemini
    * `/api/chat`: Ollama's native API
  """
  @spec route(String.t()) :: module() | nil
  def route("/api/chat"), do: Dialect.Ollama

  def route(path) do
    cond do
      String.ends_with?(path, "/chat/completions") and String.starts_with?(path, "/api/v1/") ->
        Dialect.OpenRouter

      String.ends_with?(path, "/chat/completions") ->
        Dialect.OpenAI

      String.ends_with?(path, "/messages") ->
        Dialect.Anthropic

      Dialect.Gemini.method(path) != nil ->
        Dialect.Gemini

      true ->
        nil
    end
  end

  @doc "One header's value (names are lowercase), or nil."
  @spec header(map(), String.t()) :: String.t() | nil
  def header(%{headers: headers}, name) do
    case List.keyfind(headers, name, 0) do
      {^name, value} -> value
      nil -> nil
    end
  end

  @doc "An SSE event: `data: json`, with an `event:` line when `event` is given."
  @spec sse(String.t() | nil, term()) :: iodata()
  def sse(nil, data), do: ["data: ", CouncilEx.JSON.encode!(data), "\n\n"]
  def sse(event, data), do: ["event: ", event, "\n", sse(nil, data)]
end
