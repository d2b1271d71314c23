defmodule CouncilEx.FakeProvider.Connection do
  @moduledoc false
  # One process per accepted socket of a CouncilEx.FakeProvider.
  #
  # The socket runs in {active, once} mode, so the process only ever blocks
  # in `receive`: while it waits for bytes, and while it sits out a
  # scripted latency. That is what lets it notice at any point that the
  # client went away (to keep `in_flight` truthful) or that the server
  # stopped (it monitors the server and exits with it). Connections are not
  # linked to the server: a bug in one must not take the others down.

  alias CouncilEx.FakeProvider.{HTTP, Reply}
  alias CouncilEx.JSON

  @chat_paths ["/v1/chat/completions", "/chat/completions"]

  @typedoc "What the server hands every connection."
  @type config :: %{
          server: pid(),
          in_flight: :counters.counters_ref(),
          latency_ms: non_neg_integer(),
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
        state = %{socket: socket, buffer: "", continued?: false, monitor: monitor}
        serve(state, config)

      {:DOWN, ^monitor, _, _, _} ->
        :ok
    end
  end

  # Answers every complete request in the buffer, then waits for more.
  defp serve(state, config) do
    case HTTP.parse(state.buffer) do
      {:ok, request, rest} ->
        state = %{state | buffer: rest, continued?: false}

        case handle(request, state, config) do
          {:keep_alive, state} -> serve(state, config)
          :close -> close(state)
        end

      {:more, continue?} ->
        state = maybe_continue(state, continue?)

        case await_data(state, config.idle_timeout) do
          {:ok, state} -> serve(state, config)
          _closed_or_idle -> close(state)
        end

      {:error, status, message} ->
        # The framing is lost: answer, then drop the connection.
        send_response(state, status, [], Reply.error(status, %{message: message}), false)
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
        send_response(state, 500, [], Reply.error(500, %{message: message}), false)
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

  defp dispatch(%{method: "POST", path: path} = request, state, config)
       when path in @chat_paths do
    case request.body do
      %{"model" => model, "messages" => messages} when is_binary(model) and is_list(messages) ->
        step = record(request, model, config)
        chat(request, step, state, config)

      _invalid ->
        record(request, nil, config)
        message = "The body must be a JSON object with a string model and a messages list."
        respond(request, state, 400, [], Reply.error(400, %{message: message}))
    end
  end

  defp dispatch(request, state, config) do
    record(request, nil, config)
    message = "Invalid URL (#{request.method} #{request.path})"
    respond(request, state, 404, [], Reply.error(404, %{message: message, code: nil}))
  end

  defp record(request, model, config) do
    entry = Map.take(request, [:method, :path, :headers, :body])
    GenServer.call(config.server, {:arrive, entry, model})
  end

  defp chat(request, step, state, config) do
    with {:ok, state} <- pause(state, Map.get(step, :latency_ms, config.latency_ms)) do
      if Map.get(step, :close, false) do
        :close
      else
        status = Map.get(step, :status, 200)
        respond(request, state, status, Map.get(step, :headers, []), chat_body(request, step))
      end
    else
      :closed -> :close
    end
  end

  defp chat_body(_request, %{body: body}), do: body

  defp chat_body(_request, %{status: status} = step) when status not in 200..299,
    do: Reply.error(status, step)

  defp chat_body(request, step), do: Reply.completion(request.body, Map.get(step, :content))

  defp respond(request, state, status, headers, body) do
    if send_response(state, status, headers, body, request.keep_alive?) == :ok and
         request.keep_alive? do
      {:keep_alive, state}
    else
      :close
    end
  end

  defp send_response(state, status, headers, body, keep_alive?) do
    headers = Enum.map(headers, fn {name, value} -> {to_string(name), to_string(value)} end)
    custom_type? = Enum.any?(headers, fn {name, _} -> String.downcase(name) == "content-type" end)

    head = [
      "HTTP/1.1 #{status} #{reason(status)}\r\n",
      if(custom_type?, do: [], else: "content-type: application/json\r\n"),
      "content-length: #{byte_size(body)}\r\n",
      if(keep_alive?, do: [], else: "connection: close\r\n"),
      Enum.map(headers, fn {name, value} -> [name, ": ", value, "\r\n"] end),
      "\r\n"
    ]

    :gen_tcp.send(state.socket, [head, body])
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

  # Arms the socket for one more message and waits for it. Bytes arriving
  # while a reply is pending (pipelining) are kept for the next request.
  defp await_data(state, timeout) do
    %{socket: socket, monitor: monitor} = state

    if byte_size(state.buffer) > HTTP.max_request_size() do
      :closed
    else
      :inet.setopts(socket, active: :once)

      receive do
        {:tcp, ^socket, data} -> {:ok, %{state | buffer: state.buffer <> data}}
        {:tcp_closed, ^socket} -> :closed
        {:tcp_error, ^socket, _reason} -> :closed
        {:DOWN, ^monitor, _, _, _} -> :closed
      after
        timeout -> :timeout
      end
    end
  end

  defp close(state), do: :gen_tcp.close(state.socket)

  defp reason(200), do: "OK"
  defp reason(201), do: "Created"
  defp reason(204), do: "No Content"
  defp reason(400), do: "Bad Request"
  defp reason(401), do: "Unauthorized"
  defp reason(403), do: "Forbidden"
  defp reason(404), do: "Not Found"
  defp reason(408), do: "Request Timeout"
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
  defp reason(_status), do: "Status"
end
