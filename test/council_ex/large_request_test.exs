defmodule CouncilEx.LargeRequestTest do
  # Large request bodies reach CouncilEx.FakeProvider whole, in a number of
  # socket reads that does not grow with their size. (Reading a body a
  # driver buffer at a time, re-parsing and copying all of it after each
  # read, cost 1.2 s per MB.) No clock is read here: the bound on reads is
  # what makes a slow read impossible; `make bench` times it.
  use CouncilEx.FakeCase, async: false

  import CouncilEx.RawHTTP

  alias CouncilEx.JSON

  @size 4 * 1024 * 1024

  # Words, so the fake's token counting has something to count.
  defp text(size) do
    "The council weighs every word of a long brief. "
    |> String.duplicate(div(size, 40) + 1)
    |> binary_part(0, size)
  end

  defp body(model, content) do
    JSON.encode!(%{"model" => model, "messages" => [%{"role" => "user", "content" => content}]})
  end

  test "a 4 MB body with a Content-Length is read in a couple of reads", %{fake: fake} do
    content = text(@size)
    request = IO.iodata_to_binary(request("/v1/chat/completions", body("big", content)))
    socket = connect(FakeProvider.port(fake))

    assert {200, _headers, reply} = post(socket, "/v1/chat/completions", body("big", content))

    assert JSON.decode!(reply)["choices"] |> hd() |> get_in(["message", "content"]) ==
             FakeProvider.default_content("big", content)

    assert [%{body: %{"messages" => [%{"content" => ^content}]}}] = FakeProvider.requests(fake)

    # The head (and whatever came with it), then the rest of the body in
    # one read of its length: 2 reads here, where 1460-byte reads took
    # about 2,900.
    assert %{reads: reads, bytes: bytes} = FakeProvider.reads(fake)
    assert bytes == byte_size(request)
    assert reads <= 3, "#{reads} reads for one #{byte_size(request)}-byte request"
    :gen_tcp.close(socket)
  end

  test "a 4 MB chunked body costs a read or two per chunk", %{fake: fake} do
    content = text(@size)
    payload = body("chunked", content)
    piece = 64 * 1024
    chunks = for <<c::binary-size(piece) <- payload>>, do: c

    tail =
      binary_part(payload, length(chunks) * piece, byte_size(payload) - length(chunks) * piece)

    chunks = if tail == "", do: chunks, else: chunks ++ [tail]

    socket = connect(FakeProvider.port(fake))

    :ok =
      :gen_tcp.send(socket, [
        "POST /v1/chat/completions HTTP/1.1\r\nhost: 127.0.0.1\r\n",
        "content-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n",
        Enum.map(chunks, &[Integer.to_string(byte_size(&1), 16), "\r\n", &1, "\r\n"]),
        "0\r\n\r\n"
      ])

    assert {200, _headers, _reply} = recv_response(socket)
    assert [%{body: %{"messages" => [%{"content" => ^content}]}}] = FakeProvider.requests(fake)

    # A size line (with whatever followed it), then the rest of the chunk
    # in one read of its length.
    assert %{reads: reads} = FakeProvider.reads(fake)
    assert reads <= 2 * length(chunks) + 2, "#{reads} reads for #{length(chunks)} chunks"
    :gen_tcp.close(socket)
  end

  test "a council run with a 4 MB input: every member's request arrives whole", %{fake: fake} do
    input = text(@size)
    assert {:ok, %{status: :ok} = result} = CouncilEx.run(TestCouncils.NoChair, input)

    requests = FakeProvider.requests(fake)
    assert length(requests) == 2

    # Each member was asked about all of the input, and answered about it.
    answers =
      for %{body: %{"model" => model, "messages" => messages}} <- requests, into: %{} do
        %{"content" => prompt} = Enum.find(messages, &(&1["role"] == "user"))
        assert :binary.match(prompt, input) != :nomatch
        {model, FakeProvider.default_content(model, prompt)}
      end

    for {_id, member} <- hd(result.rounds).member_results do
      assert member.status == :ok
      assert member.response.content == answers[member.model]
    end

    %{reads: reads, bytes: bytes} = FakeProvider.reads(fake)
    assert bytes > 2 * @size
    # libcurl may send a head first and the body after the fake's
    # 100 Continue: then a read or two for the head, one for the body.
    assert reads <= 3 * length(requests), "#{reads} reads for #{length(requests)} requests"
  end
end
