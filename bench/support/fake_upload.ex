defmodule CouncilEx.Bench.FakeUpload do
  @moduledoc false
  # One large request, timed against CouncilEx.FakeProvider and against a
  # raw :gen_tcp server that only reads it and answers a canned reply: what
  # the fake adds to a big body (its HTTP parsing, the JSON decode, the
  # token count) over the socket itself. The two are measured side by side,
  # alternating, on one keep-alive connection each, so the ratio holds on a
  # busy machine better than either time does.

  alias CouncilEx.FakeProvider
  alias CouncilEx.JSON

  @reply ~s({"ok":true})

  @doc """
  Times `rounds` requests of about `bytes` bytes to each server; returns
  the median milliseconds of each and their ratio.
  """
  @spec run(pos_integer(), pos_integer()) :: %{
          bytes: pos_integer(),
          fake_ms: float(),
          raw_ms: float(),
          ratio: float()
        }
  def run(bytes, rounds) do
    {:ok, fake} = FakeProvider.start_link(max_recorded: 0)
    {raw_port, raw} = start_raw()

    try do
      request = request(bytes)
      fake_socket = connect(FakeProvider.port(fake))
      raw_socket = connect(raw_port)

      # Warm-up: modules loaded, connections open.
      _ = time(fake_socket, request)
      _ = time(raw_socket, request)

      {fake_times, raw_times} =
        Enum.reduce(1..rounds, {[], []}, fn _, {f, r} ->
          {[time(fake_socket, request) | f], [time(raw_socket, request) | r]}
        end)

      fake_ms = median(fake_times)
      raw_ms = median(raw_times)

      %{
        bytes: IO.iodata_length(request),
        fake_ms: fake_ms,
        raw_ms: raw_ms,
        ratio: fake_ms / raw_ms
      }
    after
      FakeProvider.stop(fake)
      Process.exit(raw, :kill)
    end
  end

  defp request(bytes) do
    sentence = "A long brief for the council, word after word. "
    content = sentence |> String.duplicate(div(bytes, byte_size(sentence)) + 1)
    content = binary_part(content, 0, bytes)

    body =
      JSON.encode!(%{
        "model" => "bench-upload",
        "messages" => [%{"role" => "user", "content" => content}]
      })

    [
      "POST /v1/chat/completions HTTP/1.1\r\nhost: 127.0.0.1\r\n",
      "content-type: application/json\r\ncontent-length: #{byte_size(body)}\r\n\r\n",
      body
    ]
  end

  defp connect(port) do
    {:ok, socket} =
      :gen_tcp.connect({127, 0, 0, 1}, port, [:binary, active: false, packet: :raw, nodelay: true])

    socket
  end

  # From the first byte sent to the last byte of the reply read.
  defp time(socket, request) do
    started = System.monotonic_time(:microsecond)
    :ok = :gen_tcp.send(socket, request)
    read_response(socket)
    (System.monotonic_time(:microsecond) - started) / 1000
  end

  defp read_response(socket) do
    {head, rest} = read_head(socket, "")
    [_, length] = Regex.run(~r/content-length: (\d+)/i, head)
    read_exactly(socket, String.to_integer(length) - byte_size(rest))
  end

  defp read_head(socket, buffer) do
    case :binary.split(buffer, "\r\n\r\n") do
      [head, rest] ->
        {head, rest}

      [_] ->
        {:ok, data} = :gen_tcp.recv(socket, 0, 60_000)
        read_head(socket, buffer <> data)
    end
  end

  defp read_exactly(_socket, n) when n <= 0, do: :ok

  defp read_exactly(socket, n) do
    {:ok, _} = :gen_tcp.recv(socket, n, 60_000)
    :ok
  end

  # The raw server: reads a head, then the Content-Length body in one recv
  # of its length, and answers; one process per connection.
  defp start_raw do
    parent = self()

    pid =
      spawn(fn ->
        {:ok, listen} =
          :gen_tcp.listen(0, [
            :binary,
            active: false,
            packet: :raw,
            reuseaddr: true,
            nodelay: true
          ])

        {:ok, port} = :inet.port(listen)
        send(parent, {:raw_port, port})
        accept(listen)
      end)

    receive do
      {:raw_port, port} -> {port, pid}
    end
  end

  defp accept(listen) do
    {:ok, socket} = :gen_tcp.accept(listen)
    pid = spawn(fn -> receive(do: (:go -> serve(socket, ""))) end)
    :ok = :gen_tcp.controlling_process(socket, pid)
    send(pid, :go)
    accept(listen)
  end

  defp serve(socket, buffer) do
    case read_request(socket, buffer) do
      {:ok, rest} ->
        :ok =
          :gen_tcp.send(socket, [
            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n",
            "content-length: #{byte_size(@reply)}\r\n\r\n",
            @reply
          ])

        serve(socket, rest)

      :closed ->
        :gen_tcp.close(socket)
    end
  end

  defp read_request(socket, buffer) do
    case :binary.split(buffer, "\r\n\r\n") do
      [head, body] ->
        [_, length] = Regex.run(~r/content-length: (\d+)/i, head)
        missing = String.to_integer(length) - byte_size(body)

        # The client sends one request at a time: nothing follows a body.
        if missing <= 0 do
          {:ok, ""}
        else
          case :gen_tcp.recv(socket, missing) do
            {:ok, _} -> {:ok, ""}
            {:error, _} -> :closed
          end
        end

      [_] ->
        case :gen_tcp.recv(socket, 0) do
          {:ok, data} -> read_request(socket, buffer <> data)
          {:error, _} -> :closed
        end
    end
  end

  defp median(times) do
    sorted = Enum.sort(times)
    Enum.at(sorted, div(length(sorted), 2))
  end
end
