defmodule CouncilEx.FakeProvider.Connection do
  @moduledoc false
  # One process per accepted socket of a CouncilEx.FakeProvider.
  #
  # While it waits for a request's head, and while it sits out a scripted
  # latency or a stream's chunk delay, the socket is in {active, once}
  # mode and the process blocks in `receive`. That is what lets it notice
  # at any point that the client went away (to keep `in_flight` truthful)
  # or that the server stopped (it monitors the server and exits with it).
  # Connections are not linked to the server: a bug in one must not take
  # the others down.
  #
  # Once a head says how many body bytes are missing, they are read with
  # one passive recv of that length: the driver gathers them, so a body
  # costs one read (and one copy) however its client cut it, where reading
  # it in active mode cost one message per 1460-byte driver buffer and a
  # re-parse and copy of the whole buffer after each (1.2 s per MB). A
  # chunked body is read a chunk at a time, its complete chunks set aside
  # (HTTP.parse/2's partial request) rather than parsed again. The recv is
  # polled in slices to keep noticing a stopped server. Outside
  # await_data/2 the socket is passive and none of its messages is waiting.
  #
  # The dialect modules write the bodies; this module frames them: whole
  # replies with Content-Length, streams as one HTTP chunk per frame
  # (close-delimited for HTTP/1.0 clients), each frame its own send.

  alias CouncilEx.FakeProvider.{Dialect, HTTP, Reply}
  alias CouncilEx.JSON

  # How often a passive read looks up from the socket for the server's
  # DOWN message (bytes already received are kept across slices).
  @recv_slice_ms 200

  @typedoc """
  What the server hands every connection. `reads` counts the socket reads
  that brought bytes (slot 1) and those bytes (slot 2).
  """
  @type config :: %{
          server: pid(),
          in_flight: :counters.counters_ref(),
          reads: :counters.counters_ref(),
          latency_ms: non_neg_integer(),
          chunk_delay_ms: non_neg_integer(),
          idle_timeout: timeout()
        }

  @doc """
  Starts a connection process for `socket`, freshly accepted by the calling
  process, and gives it the socket.
  """
  @spec start(:gen_tcp.socket(), config()) :: :ok
  def start(socket, config) do
    pid = spawn(fn -> init(config) end)

    case :gen_tcp.controlling_process(socket, pid) do
      :ok ->
        send(pid, {:socket, socket})
        :ok

      {:error, _reason} ->
        Process.exit(pid, :kill)
        :gen_tcp.close(socket)
        :ok
    end
  end

  defp init(config) do
    monitor = Process.monitor(config.server)

    receive do
      {:socket, socket} ->
        state = %{
          socket: socket,
          buffer: "",
          partial: nil,
          continued?: false,
          monitor: monitor,
          reads: config.reads
        }

        serve(state, config)

      {:DOWN, ^monitor, _, _, _} ->
        :ok
    end
  end

  # Answers every complete request in the buffer, then waits for more.
  defp serve(state, config) do
    case HTTP.parse(state.buffer, state.partial) do
      {:ok, request, rest} ->
        state = %{state | buffer: rest, partial: nil, continued?: false}

        case handle(request, state, config) do
          {:keep_alive, state} -> serve(state, config)
          :close -> close(state)
        end

      {:more, continue?, need, partial, rest} ->
        state = maybe_continue(%{state | buffer: rest, partial: partial}, continue?)

        case read_more(state, need, config) do
          {:ok, state} -> serve(state, config)
          _closed_or_idle -> close(state)
        end

      {:error, status, message} ->
        # The framing is lost: answer, then drop the connection.
        send_response(state, status, [], openai_error(status, message), false)
        close(state)
    end
  end

  # libcurl sends `Expect: 100-continue` with larger POST bodies (a chair
  # prompt holding five answers easily qualifies) and otherwise waits a
  # full second before sending the body anyway.
  defp maybe_continue(%{continued?: false} = state, true) do
    :gen_tcp.send(state.socket, "HTTP/1.1 100 Continue\r\n\r\n")
    %{state | continued?: true}
  end

  defp maybe_continue(state, _continue?), do: state

  defp handle(request, state, config) do
    :counters.add(config.in_flight, 1, 1)

    try do
      request
      |> decode_body()
      |> dispatch(state, config)
    rescue
      # A bug here must show up in the client's test as a 500 with the
      # reason, not as a mysteriously dropped connection.
      exception ->
        message = "CouncilEx.FakeProvider failed: " <> Exception.message(exception)
        send_response(state, 500, [], openai_error(500, message), false)
        :close
    after
      :counters.sub(config.in_flight, 1, 1)
    end
  end

  defp decode_body(%{body: ""} = request), do: request

  defp decode_body(%{body: body} = request) do
    case JSON.decode(body) do
      {:ok, decoded} -> %{request | body: decoded}
      {:error, _reason} -> request
    end
  end

  defp dispatch(%{method: "POST"} = request, state, config) do
    case Dialect.route(request.path) do
      nil -> not_found(request, state, config)
      dialect -> chat(dialect, request, state, config)
    end
  end

  defp dispatch(request, state, config), do: not_found(request, state, config)

  defp not_found(request, state, config) do
    record(request, nil, nil, config)
    message = "Invalid URL (#{request.method} #{request.path})"

    respond(
      request,
      state,
      404,
      [],
      Dialect.OpenAI.error(404, %{message: message, code: nil}, nil)
    )
  end

  # A request the dialect can't accept is answered at once, in that
  # dialect's error shape, and consumes no script step.
  defp chat(dialect, request, state, config) do
    with :ok <- dialect.authorize(request),
         {:ok, call} <- dialect.parse(request) do
      step = record(request, dialect.name(), call.model, config)
      answer(dialect, call, step, request, state, config)
    else
      {:error, status, message} ->
        record(request, dialect.name(), nil, config)
        respond(request, state, status, [], dialect.error(status, %{message: message}, nil))
    end
  end

  defp record(request, dialect, model, config) do
    entry =
      request |> Map.take([:method, :path, :query, :headers, :body]) |> Map.put(:dialect, dialect)

    GenServer.call(config.server, {:arrive, entry, model})
  end

  defp answer(dialect, call, step, request, state, config) do
    with {:ok, state} <- pause(state, Map.get(step, :latency_ms, config.latency_ms)) do
      case Map.get(step, :close, false) do
        false -> send_answer(dialect, call, step, request, state, config)
        true -> :close
        :reset -> reset(state)
      end
    else
      :closed -> :close
    end
  end

  # Closing with a zero linger time sends a TCP RST instead of a FIN.
  defp reset(state) do
    :inet.setopts(state.socket, linger: {true, 0})
    :close
  end

  defp send_answer(dialect, call, step, request, state, config) do
    case {reply(dialect, call, step, config), step[:truncate]} do
      {{:whole, status, headers, body}, nil} ->
        respond(request, state, status, headers, body)

      {{:stream, status, headers, frames, delay}, nil} ->
        stream(request, state, status, headers, frames, delay)

      {reply, bytes} ->
        cut(request, state, reply, bytes)
    end
  end

  # What the step answers with: a whole body, or a stream's frames.
  defp reply(dialect, call, step, config) do
    status = Map.get(step, :status, 200)
    headers = Map.get(step, :headers, [])

    cond do
      Map.has_key?(step, :body) ->
        {:whole, status, headers, step.body}

      status not in 200..299 ->
        {:whole, status, headers, dialect.error(status, step, call)}

      call.stream? ->
        {type, frames} = dialect.stream(call, Reply.answer(call, step))
        frames = resplit(frames, step[:split_bytes])
        delay = Map.get(step, :chunk_delay_ms, config.chunk_delay_ms)
        {:stream, status, [{"content-type", type} | headers], frames, delay}

      Map.has_key?(step, :midstream_error) ->
        # No stream to break: the error object arrives as a 2xx body.
        {:whole, status, headers, dialect.error(500, Reply.error_fields(step), call)}

      true ->
        {:whole, status, headers, dialect.reply(call, Reply.answer(call, step))}
    end
  end

  # `truncate: n`: the head, then only the first n bytes of what follows
  # it on the wire (a stream's chunk framing and last chunk included), at
  # once, then the connection closes: a body short of its Content-Length,
  # a stream cut without its end.
  defp cut(request, state, {:whole, status, headers, body}, bytes) do
    headers = [{"content-length", Integer.to_string(IO.iodata_length(body))} | headers]
    send_cut(state, head(status, headers, request.keep_alive?), body, bytes)
  end

  defp cut(request, state, {:stream, status, headers, frames, _delay}, bytes) do
    {head, chunked?, _keep_alive?} = stream_head(request, status, headers)
    frames = Enum.reject(frames, &(IO.iodata_length(&1) == 0))
    wire = if chunked?, do: [Enum.map(frames, &chunk/1), "0\r\n\r\n"], else: frames
    send_cut(state, head, wire, bytes)
  end

  defp send_cut(state, head, wire, bytes) do
    wire = IO.iodata_to_binary(wire)
    :gen_tcp.send(state.socket, [head, binary_part(wire, 0, min(bytes, byte_size(wire)))])
    :close
  end

  defp respond(request, state, status, headers, body) do
    if send_response(state, status, headers, body, request.keep_alive?) == :ok and
         request.keep_alive? do
      {:keep_alive, state}
    else
      :close
    end
  end

  # Streams `frames` as the body, one send per frame and `delay` ms
  # between them, so a client sees each arrive on its own. HTTP/1.1 gets
  # one chunk per frame; HTTP/1.0 has no chunked coding, so its stream
  # ends with the connection.
  defp stream(request, state, status, headers, frames, delay) do
    {head, chunked?, keep_alive?} = stream_head(request, status, headers)
    frames = Enum.reject(frames, &(IO.iodata_length(&1) == 0))

    with :ok <- :gen_tcp.send(state.socket, head),
         {:ok, state} <- send_frames(state, frames, chunked?, delay),
         :ok <- if(chunked?, do: :gen_tcp.send(state.socket, "0\r\n\r\n"), else: :ok) do
      if keep_alive?, do: {:keep_alive, state}, else: :close
    else
      _closed -> :close
    end
  end

  defp stream_head(request, status, headers) do
    chunked? = request.version == {1, 1}
    keep_alive? = request.keep_alive? and chunked?
    framing = if chunked?, do: [{"transfer-encoding", "chunked"}], else: []
    head = head(status, [{"cache-control", "no-cache"} | framing] ++ headers, keep_alive?)
    {head, chunked?, keep_alive?}
  end

  # `split_bytes: n` re-cuts the whole stream into n-byte sends, so events
  # and even UTF-8 characters straddle them.
  defp resplit(frames, nil), do: frames

  defp resplit(frames, n) do
    frames |> IO.iodata_to_binary() |> bytes(n)
  end

  defp bytes(binary, n) when byte_size(binary) > n do
    <<piece::binary-size(n), rest::binary>> = binary
    [piece | bytes(rest, n)]
  end

  defp bytes(rest, _n), do: [rest]

  defp send_frames(state, [], _chunked?, _delay), do: {:ok, state}

  defp send_frames(state, [frame | rest], chunked?, delay) do
    data = if chunked?, do: chunk(frame), else: frame

    with :ok <- :gen_tcp.send(state.socket, data),
         {:ok, state} <- if(rest == [], do: {:ok, state}, else: pause(state, delay)) do
      send_frames(state, rest, chunked?, delay)
    end
  end

  defp chunk(frame) do
    [Integer.to_string(IO.iodata_length(frame), 16), "\r\n", frame, "\r\n"]
  end

  defp openai_error(status, message), do: Dialect.OpenAI.error(status, %{message: message}, nil)

  defp send_response(state, status, headers, body, keep_alive?) do
    headers = [{"content-length", Integer.to_string(IO.iodata_length(body))} | headers]
    :gen_tcp.send(state.socket, [head(status, headers, keep_alive?), body])
  end

  # The status line and headers. Content-Type is application/json unless
  # a header sets it; when several do, the last wins, so a script's own
  # content-type header replaces a stream's.
  defp head(status, headers, keep_alive?) do
    headers = Enum.map(headers, fn {name, value} -> {to_string(name), to_string(value)} end)

    {types, others} =
      Enum.split_with(headers, fn {name, _} -> String.downcase(name) == "content-type" end)

    type = List.last(types) || {"content-type", "application/json"}

    [
      "HTTP/1.1 #{status} #{reason(status)}\r\n",
      Enum.map([type | others], fn {name, value} -> [name, ": ", value, "\r\n"] end),
      if(keep_alive?, do: [], else: "connection: close\r\n"),
      "\r\n"
    ]
  end

  # Sits out `ms` milliseconds without blocking anything but this
  # connection, while still noticing a client that hangs up meanwhile.
  defp pause(state, ms) when ms <= 0, do: {:ok, state}

  defp pause(state, ms) do
    deadline = System.monotonic_time(:millisecond) + ms
    pause_until(state, deadline)
  end

  defp pause_until(state, deadline) do
    case await_data(state, max(deadline - System.monotonic_time(:millisecond), 0)) do
      {:ok, state} -> pause_until(state, deadline)
      :timeout -> {:ok, state}
      :closed -> :closed
    end
  end

  # Bytes the parser asked for: with a count, exactly that many in one
  # read (they are a body's or a chunk's, and the client is sending them);
  # without one, whatever arrives next.
  defp read_more(state, 0, config), do: await_data(state, config.idle_timeout)

  defp read_more(state, need, %{idle_timeout: :infinity}),
    do: read_exactly(state, need, :infinity)

  defp read_more(state, need, config) do
    deadline = System.monotonic_time(:millisecond) + config.idle_timeout
    read_exactly(state, need, deadline)
  end

  # The whole of `need` must arrive within the idle timeout (any integer
  # is less than :infinity).
  defp read_exactly(state, need, deadline) do
    %{socket: socket, monitor: monitor} = state

    case :gen_tcp.recv(socket, need, @recv_slice_ms) do
      {:ok, data} ->
        {:ok, received(state, data)}

      {:error, :timeout} ->
        receive do
          {:DOWN, ^monitor, _, _, _} -> :closed
        after
          0 ->
            if System.monotonic_time(:millisecond) < deadline,
              do: read_exactly(state, need, deadline),
              else: :timeout
        end

      {:error, _closed} ->
        :closed
    end
  end

  # Arms the socket for one more message and waits for it. Bytes arriving
  # while a reply is pending (pipelining) are kept for the next request.
  defp await_data(state, timeout) do
    %{socket: socket, monitor: monitor} = state

    if byte_size(state.buffer) > HTTP.max_request_size() do
      :closed
    else
      :inet.setopts(socket, active: :once)

      receive do
        {:tcp, ^socket, data} -> {:ok, received(state, data)}
        {:tcp_closed, ^socket} -> :closed
        {:tcp_error, ^socket, _reason} -> :closed
        {:DOWN, ^monitor, _, _, _} -> :closed
      after
        timeout -> disarm(state)
      end
    end
  end

  # Back to passive; a message the socket sent meanwhile is taken in.
  defp disarm(state) do
    socket = state.socket
    :inet.setopts(socket, active: false)

    receive do
      {:tcp, ^socket, data} -> {:ok, received(state, data)}
      {:tcp_closed, ^socket} -> :closed
      {:tcp_error, ^socket, _reason} -> :closed
    after
      0 -> :timeout
    end
  end

  defp received(state, data) do
    :counters.add(state.reads, 1, 1)
    :counters.add(state.reads, 2, byte_size(data))
    %{state | buffer: state.buffer <> data}
  end

  defp close(state), do: :gen_tcp.close(state.socket)

  defp reason(200), do: "OK"
  defp reason(201), do: "Created"
  defp reason(204), do: "No Content"
  defp reason(400), do: "Bad Request"
  defp reason(401), do: "Unauthorized"
  defp reason(402), do: "Payment Required"
  defp reason(403), do: "Forbidden"
  defp reason(404), do: "Not Found"
  defp reason(408), do: "Request Timeout"
  defp reason(409), do: "Conflict"
  defp reason(413), do: "Content Too Large"
  defp reason(414), do: "URI Too Long"
  defp reason(429), do: "Too Many Requests"
  defp reason(431), do: "Request Header Fields Too Large"
  defp reason(500), do: "Internal Server Error"
  defp reason(501), do: "Not Implemented"
  defp reason(502), do: "Bad Gateway"
  defp reason(503), do: "Service Unavailable"
  defp reason(504), do: "Gateway Timeout"
  defp reason(505), do: "HTTP Version Not Supported"
  defp reason(529), do: "Site Overloaded"
  defp reason(_status), do: "Status"
end
