defmodule CouncilEx.FakeProvider do
  @moduledoc """
  A chat server on loopback that speaks the wire formats of OpenAI,
  OpenRouter, Anthropic, Gemini and Ollama, for tests, demos and benches
  that must not reach a real provider.

  It speaks HTTP/1.1 with keep-alive over `:gen_tcp` and picks the dialect
  from each request's path, so one server can stand in for every provider
  of a council at once, even over one connection:

  | dialect       | path                                   | `base_url(fake, dialect)` | auth checked                      |
  |---------------|----------------------------------------|---------------------------|-----------------------------------|
  | `:openai`     | `.../chat/completions`                 | `http://127.0.0.1:P/v1`     | none                            |
  | `:openrouter` | `/api/v1/chat/completions`             | `http://127.0.0.1:P/api/v1` | none                            |
  | `:anthropic`  | `.../messages`                         | `http://127.0.0.1:P/v1`     | `x-api-key`, `anthropic-version` |
  | `:gemini`     | `.../models/{model}:generateContent`, `.../models/{model}:streamGenerateContent` | `http://127.0.0.1:P/v1beta` | `x-goog-api-key` or `?key=` |
  | `:ollama`     | `/api/chat`                            | `http://127.0.0.1:P`        | none                            |

  All are `POST`. Ollama's OpenAI-compatible `/v1` is the `:openai`
  dialect. A missing Anthropic key is a 401 and a missing
  `anthropic-version` a 400; a missing Gemini key a 403
  `PERMISSION_DENIED`, as Google answers unregistered callers.

  Replies are deterministic: the reply to a given model and prompt is
  always the same text, `default_content/2` of the model and the last user
  text of the request (the last user turn that has text, so a tool result
  sent back in a user turn, as Anthropic and Gemini do, does not change
  it). The model comes from the body, or for Gemini from the path. Token
  counts are words: the input counts the words of every message and of
  the system prompt, the output those of the reply text plus those of each
  tool call's arguments as JSON.

  Any other route gets a 404 with an OpenAI-style error body, bytes that
  are not HTTP get a 400, and a body the dialect can't read (not JSON, no
  model, ...) gets the dialect's own 400; none of them affects the other
  connections.

      {:ok, fake} = CouncilEx.FakeProvider.start_link([])
      base_url = CouncilEx.FakeProvider.base_url(fake)
      #=> "http://127.0.0.1:41235/v1"

  In ExUnit, start one per test and point a provider at it:

      setup do
        fake = start_supervised!(CouncilEx.FakeProvider)

        Application.put_env(:council_ex, :providers,
          fake: [
            adapter: CouncilEx.Provider.Adapters.OpenAI,
            api_key: "test-key",
            base_url: CouncilEx.FakeProvider.base_url(fake)
          ]
        )

        %{fake: fake}
      end

  (Provider config is global, so tests doing this should not be `async`
  unless each uses its own provider id.)

  ## Dialects

  Each dialect answers with the shapes of `provider_formats.md`:

    * `:openai` - `chat.completion` objects; with `"stream": true`, SSE
      `chat.completion.chunk` events (a role chunk, one per piece of text,
      tool-call fragments, a finish chunk) and `data: [DONE]`, plus a
      usage chunk with no choices when `stream_options.include_usage` is
      true. Errors are `{"error": {"message", "type", "param", "code"}}`.
    * `:openrouter` - the same, plus `usage.cost` (0.000001 per prompt
      token plus 0.000002 per completion token, computed as
      `(prompt + 2 * completion) / 1_000_000`), a `: OPENROUTER
      PROCESSING` comment line before the stream, and errors
      `{"error": {"code": status, "message"}}`. The rule is the path:
      only requests under `/api/v1/` are OpenRouter's.
    * `:anthropic` - `message` objects with `text` and `tool_use` blocks;
      with `"stream": true`, the typed events `message_start`,
      `content_block_start`, `ping`, `content_block_delta`,
      `content_block_stop`, `message_delta` and `message_stop`. Errors are
      `{"type": "error", "error": {"type", "message"}, "request_id"}`,
      `max_tokens` is required (400 without it).
    * `:gemini` - `GenerateContentResponse` objects; `:streamGenerateContent`
      streams one object per piece as SSE with `?alt=sse` and as one JSON
      array without it. Errors are
      `{"error": {"code", "message", "status", "details"}}`, a 429 with a
      `RetryInfo` detail giving `retryDelay`.
    * `:ollama` - `/api/chat` objects ending `"done": true`, streamed as
      NDJSON unless the body has `"stream": false` (Ollama streams by
      default). Errors are `{"error": "..."}`.

  Streamed replies use `Transfer-Encoding: chunked` with one HTTP chunk
  per event (or NDJSON line), each sent on its own, `:chunk_delay_ms`
  apart. An HTTP/1.0 request gets the stream close-delimited instead.

  ## Scripting

  Replies for a model can be scripted with `script/3`: a list of steps,
  one consumed per request for that model, the last repeating once the
  list runs out. Steps apply to every dialect. A step is a keyword list or
  map with any of:

    * `:status` - the HTTP status (default 200). A non-2xx status sends the
      dialect's error body unless `:body` is given; `:message`, `:type`
      and `:code` override the fields of that error (`:type` is the error
      type for OpenAI and Anthropic, the `status` for Gemini; `:code` the
      `code` where the dialect has one).
    * `:content` - the assistant's reply text for a 2xx status.
    * `:chunks` - a list of strings: a streamed reply sends its text in
      exactly these pieces, one event each (a non-streamed reply joins
      them, unless `:content` is given too). Without it a stream cuts the
      text after each run of whitespace.
    * `:tool_calls` - a list of maps with `"id"` (default `"call_N"`),
      `"name"` and `"arguments"` (a map; string or atom keys): the reply
      calls these tools, in the dialect's shape (OpenAI `tool_calls` with
      arguments as a JSON string, Anthropic `tool_use` blocks, Gemini
      `functionCall` parts, Ollama `tool_calls` with object arguments),
      streamed or not. The reply has no text unless `:content` or
      `:chunks` gives some.
    * `:midstream_error` - `true` or an error message: a streamed reply
      sends the `:chunks` (without them, the first half of the text's
      pieces) and then the dialect's in-stream error, with status 200:
      Anthropic `event: error`, OpenAI `data: {"error": ...}`, OpenRouter
      a chunk with `finish_reason: "error"`, Ollama an `{"error": ...}`
      line, Gemini an error object. `:message`, `:type` and `:code` apply. A
      non-streamed reply gets the dialect's 500 error body with a 2xx
      status.
    * `:split_bytes` - re-cut a streamed reply into sends of this many
      bytes, whatever the event boundaries (1 sends a byte at a time).
    * `:retry_delay_ms` - Gemini's `RetryInfo` `retryDelay` on a 429
      (default 1000).
    * `:body` - a raw body sent verbatim with a Content-Length, e.g. to
      test malformed replies, whether or not the request streams.
    * `:latency_ms` - how long to wait before replying, replacing the
      server's `:latency_ms`. Only this connection waits.
    * `:chunk_delay_ms` - the pause between the frames of a stream,
      replacing the server's `:chunk_delay_ms`.
    * `:headers` - extra response headers, e.g. `[{"retry-after", "1"}]`.
    * `:close` - when `true`, close the connection (after the latency)
      without sending anything; `:reset` resets it (a TCP RST) instead.
    * `:truncate` - send the reply's head and then only this many bytes of
      what follows it on the wire, then close the connection: a body that
      falls short of its Content-Length, or a stream cut off (chunk
      framing counts, and its last chunk never comes unless the cut is
      past the end). `0` sends the head alone.

  For example, a model that fails once and then recovers:

      CouncilEx.FakeProvider.script(fake, "gpt-4o", [
        [status: 500],
        [content: "Recovered."]
      ])

  and one that calls a tool, then answers in three pieces:

      CouncilEx.FakeProvider.script(fake, "claude-x", [
        [tool_calls: [%{"id" => "call_1", "name" => "get_weather", "arguments" => %{"city" => "Paris"}}]],
        [chunks: ["It is ", "sunny in ", "Paris."]]
      ])

  A request the dialect rejects (missing auth header, unreadable body) is
  answered at once and consumes no step.

  ## Inspecting traffic

  `requests/1` lists what the server received, in arrival order, with the
  dialect each request was read in, and `in_flight/1` tells how many
  requests are being handled right now, which shows whether a cancelled
  client really dropped its connection. `reads/1` counts the socket reads
  it took.
  """

  use GenServer

  alias CouncilEx.FakeProvider.{Connection, Reply}

  @step_keys [
    :status,
    :body,
    :content,
    :chunks,
    :split_bytes,
    :tool_calls,
    :midstream_error,
    :retry_delay_ms,
    :latency_ms,
    :chunk_delay_ms,
    :headers,
    :close,
    :truncate,
    :message,
    :type,
    :code
  ]

  @dialect_paths [
    openai: "/v1",
    openrouter: "/api/v1",
    anthropic: "/v1",
    gemini: "/v1beta",
    ollama: ""
  ]

  @typedoc "A server: its pid or registered name."
  @type server :: GenServer.server()

  @typedoc "A wire format the server speaks; see the module documentation."
  @type dialect :: :openai | :openrouter | :anthropic | :gemini | :ollama

  @typedoc """
  A request as recorded by `requests/1`: `dialect` is nil for a route no
  dialect answers, `query` the raw query string ("" for none).
  """
  @type recorded_request :: %{
          method: String.t(),
          path: String.t(),
          query: String.t(),
          headers: [{String.t(), String.t()}],
          body: term(),
          dialect: dialect() | nil
        }

  @typedoc "One scripted reply; see the module documentation."
  @type step :: keyword() | map()

  @typedoc "Options for `start_link/1`."
  @type option ::
          {:port, :inet.port_number()}
          | {:ip, :inet.ip_address()}
          | {:latency_ms, non_neg_integer()}
          | {:chunk_delay_ms, non_neg_integer()}
          | {:name, GenServer.name()}
          | {:acceptors, pos_integer()}
          | {:backlog, pos_integer()}
          | {:idle_timeout, timeout()}
          | {:max_recorded, non_neg_integer()}

  @defaults [
    port: 0,
    ip: {127, 0, 0, 1},
    latency_ms: 0,
    chunk_delay_ms: 0,
    name: nil,
    acceptors: 8,
    backlog: 1024,
    idle_timeout: 60_000,
    max_recorded: 10_000
  ]

  ## Client API

  @doc """
  Starts a server linked to the caller.

  ## Options

    * `:port` - the TCP port, 0 (the default) for an ephemeral one; see
      `port/1`.
    * `:ip` - the address to listen on, `{127, 0, 0, 1}` by default.
    * `:latency_ms` - delay before every chat reply, 0 by default.
    * `:chunk_delay_ms` - pause between the frames of a streamed reply, 0
      by default (each frame is still sent on its own).
    * `:name` - registers the server under this name.
    * `:acceptors` - processes accepting connections, 8 by default.
    * `:backlog` - the listen backlog, 1024 by default.
    * `:idle_timeout` - how long an idle keep-alive connection stays open,
      60 seconds by default.
    * `:max_recorded` - how many requests `requests/1` keeps (the most
      recent ones), 10 000 by default.
  """
  @spec start_link([option()]) :: GenServer.on_start()
  def start_link(opts \\ []) do
    opts = Keyword.validate!(opts, @defaults)

    case Keyword.fetch!(opts, :name) do
      nil -> GenServer.start_link(__MODULE__, opts)
      name -> GenServer.start_link(__MODULE__, opts, name: name)
    end
  end

  @doc """
  A child specification for supervisors. The child id is the `:name`
  option when given, so several servers can run under one supervisor.
  """
  @spec child_spec([option()]) :: Supervisor.child_spec()
  def child_spec(opts) do
    %{
      id: Keyword.get(opts, :name) || __MODULE__,
      start: {__MODULE__, :start_link, [opts]}
    }
  end

  @doc "Stops the server, closing its listening socket and its connections."
  @spec stop(server(), timeout()) :: :ok
  def stop(server, timeout \\ :infinity), do: GenServer.stop(server, :normal, timeout)

  @doc "The TCP port the server listens on."
  @spec port(server()) :: :inet.port_number()
  def port(server), do: GenServer.call(server, :port)

  @doc ~S"""
  The base URL to configure a provider of `dialect` with, `:openai` by
  default:

    * `:openai` - `"http://127.0.0.1:41235/v1"`, also for Ollama's `/v1`
    * `:openrouter` - `"http://127.0.0.1:41235/api/v1"`
    * `:anthropic` - `"http://127.0.0.1:41235/v1"`
    * `:gemini` - `"http://127.0.0.1:41235/v1beta"`
    * `:ollama` - `"http://127.0.0.1:41235"`, for the native `/api/chat`

  Each is the base the provider's client appends its usual path to
  (`/chat/completions`, `/messages`, `/models/...`, `/api/chat`).
  """
  @spec base_url(server(), dialect()) :: String.t()
  def base_url(server, dialect \\ :openai) do
    path =
      Keyword.get_lazy(@dialect_paths, dialect, fn ->
        raise ArgumentError,
              "expected a dialect (one of #{inspect(Keyword.keys(@dialect_paths))}), got: #{inspect(dialect)}"
      end)

    {ip, port} = GenServer.call(server, :address)
    host = if tuple_size(ip) == 8, do: "[#{:inet.ntoa(ip)}]", else: "#{:inet.ntoa(ip)}"
    "http://#{host}:#{port}#{path}"
  end

  @doc """
  Scripts the replies to requests for `model`, replacing any earlier
  script for it. See the module documentation for the steps.

  A single step (a keyword list or a map) can be given instead of a list,
  and then applies to every request:

      CouncilEx.FakeProvider.script(fake, "slow-model", latency_ms: 500)

  Raises `ArgumentError` when `steps` is empty or a step has an unknown key.
  """
  @spec script(server(), String.t() | atom(), [step(), ...] | step()) :: :ok
  def script(server, model, steps) when is_map(steps), do: script(server, model, [steps])

  def script(server, model, [{key, _} | _] = step) when is_atom(key) do
    script(server, model, [step])
  end

  def script(server, model, [_ | _] = steps) do
    GenServer.call(server, {:script, to_string(model), Enum.map(steps, &validate_step!/1)})
  end

  def script(_server, _model, steps) do
    raise ArgumentError, "expected a non-empty list of steps, got: #{inspect(steps)}"
  end

  @doc "Forgets all scripts and recorded requests, and zeroes `reads/1`."
  @spec reset(server()) :: :ok
  def reset(server), do: GenServer.call(server, :reset)

  @doc """
  The requests received so far, oldest first (at most `:max_recorded` of
  them), each with the dialect it was read in. Header names are
  lowercase; a body that is valid JSON is decoded, any other body is kept
  as the raw binary.
  """
  @spec requests(server()) :: [recorded_request()]
  def requests(server), do: GenServer.call(server, :requests)

  @doc """
  The number of requests read completely but not yet answered, including
  those sitting out a latency. A request whose client hangs up stops
  counting at once.
  """
  @spec in_flight(server()) :: non_neg_integer()
  def in_flight(server), do: GenServer.call(server, :in_flight)

  @doc """
  How the server has read its requests so far, over all connections: the
  socket reads that brought bytes (`reads`) and those bytes (`bytes`).

  Once a request's head gives the length of its body, or of a chunk of it,
  the rest is read in one read of that length, however the client cut
  its sends. So `reads` grows with the number of requests (and chunks),
  not with their size: a 4 MB body takes a read or two beyond its head.
  """
  @spec reads(server()) :: %{reads: non_neg_integer(), bytes: non_neg_integer()}
  def reads(server), do: GenServer.call(server, :reads)

  @doc """
  The reply text for a request to `model` whose last user message is
  `prompt`, when no script sets `:content`: the model, the first 60
  characters of the prompt and a short hash of all of it.

      iex> CouncilEx.FakeProvider.default_content("gpt-4o", "Why?")
      "gpt-4o answers: Why? [169ac1]"
  """
  @spec default_content(String.t(), String.t()) :: String.t()
  defdelegate default_content(model, prompt), to: Reply

  defp validate_step!(step) when is_list(step) or is_map(step) do
    step = Map.new(step)

    case Map.keys(step) -- @step_keys do
      [] -> Enum.each(step, &validate_step_value!(&1, step))
      unknown -> raise ArgumentError, "unknown step keys #{inspect(unknown)} in #{inspect(step)}"
    end

    case step do
      %{tool_calls: calls} -> %{step | tool_calls: normalize_tool_calls!(calls, step)}
      _ -> step
    end
  end

  defp validate_step!(step) do
    raise ArgumentError, "expected a step to be a keyword list or map, got: #{inspect(step)}"
  end

  # Caught here, in the test process, rather than as a crash in a
  # connection process that the test would only see as a dropped socket.
  defp validate_step_value!({key, value}, step) do
    valid? =
      case key do
        :status -> is_integer(value) and value in 200..599
        :latency_ms -> is_integer(value) and value >= 0
        :close -> is_boolean(value) or value == :reset
        :truncate -> is_integer(value) and value >= 0
        :headers -> is_list(value) and Enum.all?(value, &match?({_, _}, &1))
        :body -> is_binary(value)
        :content -> is_binary(value)
        :message -> is_binary(value)
        :type -> is_binary(value) or is_nil(value)
        :code -> is_binary(value) or is_integer(value) or is_nil(value)
        :chunks -> is_list(value) and Enum.all?(value, &is_binary/1)
        :tool_calls -> is_list(value)
        :midstream_error -> value == true or is_binary(value)
        :retry_delay_ms -> is_integer(value) and value >= 0
        :split_bytes -> is_integer(value) and value > 0
        :chunk_delay_ms -> is_integer(value) and value >= 0
      end

    unless valid?, do: raise(ArgumentError, "invalid #{inspect(key)} in step #{inspect(step)}")
  end

  # Tool calls as the dialects read them: atom keys, an id for each.
  defp normalize_tool_calls!(calls, step) do
    for {call, index} <- Enum.with_index(calls, 1) do
      call = if is_list(call) or is_map(call), do: Map.new(call), else: %{}
      id = Map.get(call, "id", Map.get(call, :id, "call_#{index}"))
      name = Map.get(call, "name", Map.get(call, :name))
      arguments = Map.get(call, "arguments", Map.get(call, :arguments, %{}))

      unless is_binary(id) and is_binary(name) and name != "" and is_map(arguments) do
        raise ArgumentError,
              "invalid :tool_calls in step #{inspect(step)}: expected maps with a string " <>
                "\"name\", a map of \"arguments\" and an optional string \"id\""
      end

      %{id: id, name: name, arguments: arguments}
    end
  end

  ## Server

  @impl true
  def init(opts) do
    # Trapping exits makes terminate/2 run on a supervisor's shutdown too,
    # so the listening socket is closed before the server is reported down.
    Process.flag(:trap_exit, true)

    listen_opts = [
      :binary,
      packet: :raw,
      active: false,
      reuseaddr: true,
      nodelay: true,
      ip: opts[:ip],
      backlog: opts[:backlog],
      # A client that stops reading must not pin a connection forever.
      send_timeout: 30_000,
      send_timeout_close: true
    ]

    case :gen_tcp.listen(opts[:port], listen_opts) do
      {:ok, socket} ->
        {:ok, {ip, port}} = :inet.sockname(socket)

        config = %{
          server: self(),
          in_flight: :counters.new(1, [:write_concurrency]),
          reads: :counters.new(2, [:write_concurrency]),
          latency_ms: opts[:latency_ms],
          chunk_delay_ms: opts[:chunk_delay_ms],
          idle_timeout: opts[:idle_timeout]
        }

        # Several processes blocked in accept/1 on the same socket keep
        # accepting while one of them hands a socket over, which matters
        # when hundreds of clients connect at once.
        for _ <- 1..opts[:acceptors], do: spawn_link(fn -> accept_loop(socket, config) end)

        {:ok,
         %{
           socket: socket,
           address: {ip, port},
           config: config,
           max_recorded: opts[:max_recorded],
           scripts: %{},
           requests: :queue.new(),
           recorded: 0
         }}

      {:error, reason} ->
        {:stop, reason}
    end
  end

  @impl true
  def handle_call({:arrive, request, model}, _from, state) do
    {step, state} = next_step(state, model)
    {:reply, step, record(state, request)}
  end

  def handle_call(:port, _from, state), do: {:reply, elem(state.address, 1), state}
  def handle_call(:address, _from, state), do: {:reply, state.address, state}

  def handle_call({:script, model, steps}, _from, state) do
    {:reply, :ok, put_in(state.scripts[model], steps)}
  end

  def handle_call(:reset, _from, state) do
    :counters.put(state.config.reads, 1, 0)
    :counters.put(state.config.reads, 2, 0)
    {:reply, :ok, %{state | scripts: %{}, requests: :queue.new(), recorded: 0}}
  end

  def handle_call(:requests, _from, state), do: {:reply, :queue.to_list(state.requests), state}

  def handle_call(:in_flight, _from, state) do
    {:reply, :counters.get(state.config.in_flight, 1), state}
  end

  def handle_call(:reads, _from, %{config: %{reads: reads}} = state) do
    {:reply, %{reads: :counters.get(reads, 1), bytes: :counters.get(reads, 2)}, state}
  end

  @impl true
  def handle_info({:EXIT, _pid, :normal}, state), do: {:noreply, state}

  # An acceptor died: without it the server would quietly accept less.
  def handle_info({:EXIT, _pid, reason}, state), do: {:stop, reason, state}

  @impl true
  def terminate(_reason, state) do
    # A port linked to a dying process closes asynchronously; closing it
    # here means a stopped server refuses connections at once. Connections
    # see the server go through their monitors and close themselves.
    :gen_tcp.close(state.socket)
  end

  # Consumes the model's next step; the last one stays for good.
  defp next_step(state, model) do
    case Map.get(state.scripts, model, []) do
      [] -> {%{}, state}
      [last] -> {last, state}
      [step | rest] -> {step, put_in(state.scripts[model], rest)}
    end
  end

  defp record(%{max_recorded: 0} = state, _request), do: state

  defp record(%{recorded: count, max_recorded: max} = state, request) when count >= max do
    {_, requests} = :queue.out(state.requests)
    %{state | requests: :queue.in(request, requests)}
  end

  defp record(state, request) do
    %{state | requests: :queue.in(request, state.requests), recorded: state.recorded + 1}
  end

  ## Acceptors

  # Runs in each acceptor process, linked to the server: when the server
  # goes, the listening socket closes and accept/1 returns {:error, :closed}.
  defp accept_loop(socket, config) do
    case :gen_tcp.accept(socket) do
      {:ok, client} ->
        Connection.start(client, config)
        accept_loop(socket, config)

      {:error, :closed} ->
        :ok

      {:error, reason} when reason in [:emfile, :enfile, :system_limit] ->
        # Out of descriptors: back off instead of spinning.
        Process.sleep(10)
        accept_loop(socket, config)

      {:error, _transient} ->
        accept_loop(socket, config)
    end
  end
end
