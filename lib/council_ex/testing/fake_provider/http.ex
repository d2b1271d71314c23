defmodule CouncilEx.FakeProvider.HTTP do
  @moduledoc false
  # HTTP/1.1 request parsing for CouncilEx.FakeProvider, over a buffer that
  # may hold a partial request, exactly one, or several pipelined ones.
  #
  # The request line and headers go through :erlang.decode_packet/3 (the
  # parser behind gen_tcp's {packet, http_bin}); working on a buffer rather
  # than switching socket modes keeps pipelined bytes and the body in one
  # place. Parsing is restarted from the start of the buffer when more bytes
  # arrive: heads are small and the limits below bound the work. Bodies are
  # what can be big, so once a head is read the answer says how many body
  # bytes are still missing (the connection reads them in one go, not a
  # driver buffer's worth at a time), and a chunked body's complete chunks
  # are handed back as a partial request, to resume from, rather than
  # parsed, and copied, again with every chunk that arrives.

  @max_line 8_192
  @max_head 65_536
  @max_body 16 * 1024 * 1024

  @type request :: %{
          method: String.t(),
          path: String.t(),
          query: String.t(),
          version: {non_neg_integer(), non_neg_integer()},
          headers: [{String.t(), String.t()}],
          body: binary(),
          keep_alive?: boolean()
        }

  @typedoc """
  A request whose chunked body is being read: its head, the chunks so far
  and their total size.
  """
  @opaque partial :: {:chunked, map(), iodata(), non_neg_integer()}

  @typedoc """
  `{:more, continue?, need, partial, rest}` asks for more bytes, to be
  parsed after `rest` with `partial` (nil, or the chunks of a body read so
  far, which `rest` no longer holds). `continue?` is true once a complete
  head asked for `Expect: 100-continue` and its body is still missing.
  `need` is how many more bytes must arrive before parsing can get any
  further, when that is known (the rest of a body of known length, or of a
  chunk), else 0 (a head, a chunk's size line, trailers).
  `{:error, status, message}` means the connection can't be trusted any
  further: answer with `status` and close it.
  """
  @type result ::
          {:ok, request(), rest :: binary()}
          | {:more, continue? :: boolean(), need :: non_neg_integer(), partial() | nil,
             rest :: binary()}
          | {:error, pos_integer(), String.t()}

  @doc """
  Parses the first request in `buffer`, or with `partial` from an earlier
  `{:more, ...}`, goes on with that request.
  """
  @spec parse(binary(), partial() | nil) :: result()
  def parse(buffer, partial \\ nil)

  def parse(buffer, nil) do
    buffer
    |> skip_empty_lines()
    |> parse_request_line()
  end

  def parse(buffer, {:chunked, head, acc, total}), do: chunked(head, buffer, acc, total)

  @doc "Largest buffer worth keeping while waiting for one request to complete."
  @spec max_request_size() :: pos_integer()
  def max_request_size, do: @max_head + @max_body + 1024

  # RFC 9112 §2.2: a server should ignore empty lines before a request line
  # (some clients send a stray CRLF after a POST body).
  defp skip_empty_lines(<<"\r\n", rest::binary>>), do: skip_empty_lines(rest)
  defp skip_empty_lines(<<"\n", rest::binary>>), do: skip_empty_lines(rest)
  defp skip_empty_lines(buffer), do: buffer

  defp parse_request_line(buffer) do
    case :erlang.decode_packet(:http_bin, buffer, packet_size: @max_line) do
      {:ok, {:http_request, method, uri, version}, rest} ->
        with {:ok, path, query} <- request_target(uri),
             :ok <- check_version(version) do
          head = %{method: to_string(method), path: path, query: query, version: version}
          parse_headers(rest, head, [], buffer)
        end

      {:more, _} ->
        if line_too_long?(buffer),
          do: {:error, 414, "Request line too long."},
          else: {:more, false, 0, nil, buffer}

      _error_or_response ->
        if line_too_long?(buffer),
          do: {:error, 414, "Request line too long."},
          else: {:error, 400, "Malformed request line."}
    end
  end

  # `start` is the buffer the request line began.
  defp parse_headers(buffer, head, acc, start) do
    case :erlang.decode_packet(:httph_bin, buffer, packet_size: @max_line) do
      {:ok, {:http_header, _, _field, name, value}, rest} ->
        header = {String.downcase(to_string(name)), String.trim(to_string(value))}
        parse_headers(rest, head, [header | acc], start)

      {:ok, :http_eoh, rest} ->
        head |> Map.put(:headers, Enum.reverse(acc)) |> parse_body(rest, start)

      {:more, _}
      when byte_size(start) - byte_size(buffer) > @max_head or byte_size(buffer) > @max_line ->
        {:error, 431, "Request header fields too large."}

      {:more, _} ->
        {:more, false, 0, nil, start}

      _error ->
        {:error, 400, "Malformed header."}
    end
  end

  defp parse_body(head, buffer, start) do
    case framing(head.headers) do
      {:length, length} when length > @max_body ->
        {:error, 413, "Request body too large."}

      {:length, length} when byte_size(buffer) >= length ->
        <<body::binary-size(length), rest::binary>> = buffer
        {:ok, complete(head, body), rest}

      {:length, length} ->
        {:more, expects_continue?(head), length - byte_size(buffer), nil, start}

      :chunked ->
        chunked(head, buffer, [], 0)

      {:error, status, message} ->
        {:error, status, message}
    end
  end

  defp complete(head, body) do
    head
    |> Map.put(:body, body)
    |> Map.put(:keep_alive?, keep_alive?(head))
  end

  # How the body is delimited (RFC 9112 §6.3). A request carrying both
  # Transfer-Encoding and Content-Length is a smuggling vector, and
  # transfer codings other than a lone "chunked" are not worth supporting.
  defp framing(headers) do
    lengths = for {"content-length", value} <- headers, do: value
    codings = for {"transfer-encoding", value} <- headers, do: String.downcase(value)

    case {codings, Enum.uniq(lengths)} do
      {[], []} -> {:length, 0}
      {[], [length]} -> parse_length(length)
      {[], _several} -> {:error, 400, "Conflicting Content-Length headers."}
      {["chunked"], []} -> :chunked
      {[_ | _], []} -> {:error, 501, "Unsupported Transfer-Encoding."}
      {_codings, _lengths} -> {:error, 400, "Both Transfer-Encoding and Content-Length."}
    end
  end

  defp parse_length(value) do
    case Integer.parse(value) do
      {length, ""} when length >= 0 -> {:length, length}
      _ -> {:error, 400, "Invalid Content-Length."}
    end
  end

  # A chunked body from `buffer` on, after the chunks in `acc` (`total`
  # bytes). When it needs more, the chunks read so far become the partial
  # request, and the rest starts at the first chunk not complete yet.
  defp chunked(head, buffer, acc, total) do
    case dechunk(buffer, acc, total) do
      {:ok, body, rest} ->
        {:ok, complete(head, body), rest}

      {:more, need, acc, total, rest} ->
        {:more, expects_continue?(head), need, {:chunked, head, acc, total}, rest}

      {:error, status, message} ->
        {:error, status, message}
    end
  end

  defp dechunk(buffer, acc, total) do
    with {:ok, size_line, rest} <- take_line(buffer, acc, total),
         {:ok, size} <- chunk_size(size_line) do
      cond do
        size == 0 ->
          skip_trailers(rest, buffer, acc, total)

        total + size > @max_body ->
          {:error, 413, "Request body too large."}

        byte_size(rest) < size + 2 ->
          {:more, size + 2 - byte_size(rest), acc, total, buffer}

        true ->
          case rest do
            <<chunk::binary-size(size), "\r\n", rest::binary>> ->
              dechunk(rest, [acc, chunk], total + size)

            _ ->
              {:error, 400, "Malformed chunk."}
          end
      end
    end
  end

  # Trailers are read again from the last chunk's line (`last`) until the
  # empty line that ends them has arrived.
  defp skip_trailers(buffer, last, acc, total) do
    case take_line(buffer, acc, total) do
      {:ok, "", rest} -> {:ok, IO.iodata_to_binary(acc), rest}
      {:ok, _trailer, rest} -> skip_trailers(rest, last, acc, total)
      {:more, need, acc, total, _buffer} -> {:more, need, acc, total, last}
      error -> error
    end
  end

  defp take_line(buffer, acc, total) do
    case :binary.split(buffer, "\r\n") do
      [line, rest] -> {:ok, line, rest}
      [_partial] when byte_size(buffer) > @max_line -> {:error, 400, "Chunk line too long."}
      [_partial] -> {:more, 0, acc, total, buffer}
    end
  end

  # Chunk extensions (";name=value") are allowed and ignored.
  defp chunk_size(line) do
    [hex | _extensions] = :binary.split(line, ";")

    case Integer.parse(String.trim(hex), 16) do
      {size, ""} when size >= 0 -> {:ok, size}
      _ -> {:error, 400, "Malformed chunk size."}
    end
  end

  defp line_too_long?(buffer) do
    byte_size(buffer) > @max_line and
      :binary.match(buffer, "\n", scope: {0, @max_line}) == :nomatch
  end

  # The path and the raw query string ("" when there is none): Gemini puts
  # `alt=sse` and sometimes its API key in the query.
  defp request_target({:abs_path, target}), do: split_query(target)
  defp request_target({:absoluteURI, _scheme, _host, _port, target}), do: split_query(target)
  defp request_target(_other), do: {:error, 400, "Unsupported request target."}

  defp split_query(target) do
    case :binary.split(target, "?") do
      [path, query] -> {:ok, path, query}
      [path] -> {:ok, path, ""}
    end
  end

  defp check_version({1, minor}) when minor in [0, 1], do: :ok
  defp check_version(_version), do: {:error, 505, "HTTP version not supported."}

  defp expects_continue?(%{version: {1, 1}, headers: headers}) do
    Enum.any?(headers, fn {name, value} ->
      name == "expect" and String.downcase(value) == "100-continue"
    end)
  end

  defp expects_continue?(_head), do: false

  # HTTP/1.1 keeps the connection unless told to close; HTTP/1.0 closes it
  # unless told to keep it.
  defp keep_alive?(%{version: version, headers: headers}) do
    tokens =
      for {"connection", value} <- headers,
          token <- String.split(value, ","),
          do: token |> String.trim() |> String.downcase()

    case version do
      {1, 1} -> "close" not in tokens
      {1, 0} -> "keep-alive" in tokens
    end
  end
end
