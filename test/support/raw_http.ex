defmodule CouncilEx.RawHTTP do
  @moduledoc false
  # A bare HTTP/1.1 client over :gen_tcp for tests of CouncilEx.FakeProvider
  # that need to see the wire: keep-alive on one socket, the chunked framing
  # of streamed replies, and the SSE and NDJSON inside them.

  alias CouncilEx.JSON

  # What is awaited comes at once; the margin is for a busy machine.
  @timeout 30_000

  @doc "Connects to the fake on loopback; a passive binary socket."
  def connect(port) do
    {:ok, socket} =
      :gen_tcp.connect({127, 0, 0, 1}, port, [:binary, active: false, packet: :raw], @timeout)

    socket
  end

  @doc """
  A POST request as iodata. `body` is JSON-encoded unless it is a binary;
  `headers` are `{name, value}` pairs.
  """
  def request(path, body, headers \\ [], version \\ "HTTP/1.1") do
    body = if is_binary(body), do: body, else: JSON.encode!(body)

    [
      "POST #{path} #{version}\r\nhost: 127.0.0.1\r\n",
      "content-type: application/json\r\ncontent-length: #{byte_size(body)}\r\n",
      Enum.map(headers, fn {name, value} -> [name, ": ", value, "\r\n"] end),
      "\r\n",
      body
    ]
  end

  @doc "Sends a request and reads its response; see `recv_response/1`."
  def post(socket, path, body, headers \\ []) do
    :ok = :gen_tcp.send(socket, request(path, body, headers))
    recv_response(socket)
  end

  @doc """
  Reads one response: `{status, headers, body}` where headers are
  lowercase-named binaries and body is the binary for a Content-Length
  response, or the list of chunk payloads for a chunked one.
  """
  def recv_response(socket) do
    {status, headers} = recv_head(socket)

    body =
      cond do
        List.keymember?(headers, "content-length", 0) ->
          {_, length} = List.keyfind(headers, "content-length", 0)
          recv_exactly(socket, String.to_integer(length))

        {"transfer-encoding", "chunked"} in headers ->
          recv_chunks(socket, [])
      end

    {status, headers, body}
  end

  @doc "Reads a status line and headers, leaving the socket in raw mode."
  def recv_head(socket) do
    :ok = :inet.setopts(socket, packet: :http_bin)
    {:ok, {:http_response, _, status, _}} = :gen_tcp.recv(socket, 0, @timeout)
    headers = recv_headers(socket, [])
    :ok = :inet.setopts(socket, packet: :raw)
    {status, headers}
  end

  @doc "Reads until the peer closes the connection."
  def recv_until_closed(socket, acc \\ []) do
    case :gen_tcp.recv(socket, 0, @timeout) do
      {:ok, data} -> recv_until_closed(socket, [acc, data])
      {:error, :closed} -> IO.iodata_to_binary(acc)
    end
  end

  @doc """
  The events of an SSE body as `{event_name | nil, data}` pairs, data
  JSON-decoded unless it is `[DONE]`; comment lines are returned as
  `{:comment, text}`.
  """
  def sse_events(body) do
    body
    |> IO.iodata_to_binary()
    |> String.split("\n\n", trim: true)
    |> Enum.map(&sse_event/1)
  end

  @doc "The decoded lines of an NDJSON body; each must end with a newline."
  def ndjson_lines(body) do
    body = IO.iodata_to_binary(body)
    true = String.ends_with?(body, "\n")
    body |> String.split("\n", trim: true) |> Enum.map(&JSON.decode!/1)
  end

  defp sse_event(": " <> comment), do: {:comment, comment}

  defp sse_event(text) do
    lines = String.split(text, "\n")

    event =
      Enum.find_value(lines, fn line ->
        with "event: " <> name <- line, do: name, else: (_ -> nil)
      end)

    data =
      for "data: " <> data <- lines do
        if data == "[DONE]", do: data, else: JSON.decode!(data)
      end

    {event, hd(data)}
  end

  defp recv_headers(socket, acc) do
    case :gen_tcp.recv(socket, 0, @timeout) do
      {:ok, {:http_header, _, _, name, value}} ->
        recv_headers(socket, [{String.downcase(to_string(name)), value} | acc])

      {:ok, :http_eoh} ->
        Enum.reverse(acc)
    end
  end

  defp recv_chunks(socket, acc) do
    :ok = :inet.setopts(socket, packet: :line)
    {:ok, size_line} = :gen_tcp.recv(socket, 0, @timeout)
    :ok = :inet.setopts(socket, packet: :raw)
    {size, ""} = size_line |> String.trim_trailing("\r\n") |> Integer.parse(16)

    if size == 0 do
      "\r\n" = recv_exactly(socket, 2)
      Enum.reverse(acc)
    else
      <<chunk::binary-size(size), "\r\n">> = recv_exactly(socket, size + 2)
      recv_chunks(socket, [chunk | acc])
    end
  end

  defp recv_exactly(_socket, 0), do: ""

  defp recv_exactly(socket, length) do
    {:ok, data} = :gen_tcp.recv(socket, length, @timeout)
    data
  end
end
