defmodule CouncilEx.FakeProviderTest do
  use ExUnit.Case, async: true

  alias CouncilEx.{FakeProvider, JSON}

  doctest FakeProvider

  setup_all do
    {:ok, _} = Application.ensure_all_started(:inets)
    :ok
  end

  setup do
    fake = start_supervised!(FakeProvider)
    %{fake: fake, port: FakeProvider.port(fake), url: FakeProvider.base_url(fake)}
  end

  describe "start_link/1" do
    test "listens on an ephemeral loopback port", %{fake: fake, port: port} do
      assert port > 0
      assert FakeProvider.base_url(fake) == "http://127.0.0.1:#{port}/v1"
    end

    test "registers a name and stops" do
      name = :"fake_#{System.unique_integer([:positive])}"
      {:ok, pid} = FakeProvider.start_link(name: name)
      port = FakeProvider.port(name)
      assert :ok = FakeProvider.stop(name)
      refute Process.alive?(pid)
      assert {:error, :econnrefused} = :gen_tcp.connect({127, 0, 0, 1}, port, [])
    end

    test "child_spec uses the name as id" do
      assert %{id: :named_fake} = FakeProvider.child_spec(name: :named_fake)
      assert %{id: FakeProvider} = FakeProvider.child_spec([])
    end

    test "stopping the server drops its open connections", %{fake: fake, port: port} do
      socket = connect(port)
      :ok = :gen_tcp.send(socket, chat_request("m", "hello"))
      assert {200, _, _} = recv_response(socket)
      stop_supervised!(FakeProvider)
      refute Process.alive?(fake)
      assert {:error, :closed} = :gen_tcp.recv(socket, 0, 30_000)
    end
  end

  describe "default reply" do
    test "is an OpenAI chat.completion answering the last user message", %{url: url} do
      body = %{
        "model" => "gpt-test",
        "messages" => [
          %{"role" => "system", "content" => "You are terse."},
          %{"role" => "user", "content" => "first question"},
          %{"role" => "assistant", "content" => "first answer"},
          %{"role" => "user", "content" => "What is the capital of France?"}
        ]
      }

      assert {200, headers, reply} = post(url <> "/chat/completions", body)
      assert {~c"content-type", ~c"application/json"} in headers

      content = FakeProvider.default_content("gpt-test", "What is the capital of France?")

      assert %{
               "id" => "chatcmpl-" <> _,
               "object" => "chat.completion",
               "created" => 0,
               "model" => "gpt-test",
               "choices" => [
                 %{
                   "index" => 0,
                   "message" => %{"role" => "assistant", "content" => ^content},
                   "finish_reason" => "stop"
                 }
               ],
               "usage" => %{
                 "prompt_tokens" => 13,
                 "completion_tokens" => completion_tokens,
                 "total_tokens" => total_tokens
               }
             } = JSON.decode!(reply)

      assert content =~ "gpt-test answers: What is the capital of France?"
      assert completion_tokens == length(String.split(content))
      assert total_tokens == 13 + completion_tokens
    end

    test "is deterministic and differs between prompts", %{url: url} do
      reply = fn prompt -> post(url <> "/chat/completions", chat_body("m", prompt)) end

      assert {200, _, same} = reply.("alpha")
      assert {200, _, ^same} = reply.("alpha")
      assert {200, _, other} = reply.("beta")
      refute same == other

      # A shared 60-character prefix still gives different answers.
      prefix = String.duplicate("x", 60)

      assert FakeProvider.default_content("m", prefix <> "1") !=
               FakeProvider.default_content("m", prefix <> "2")
    end

    test "also answers on /chat/completions", %{port: port} do
      url = "http://127.0.0.1:#{port}/chat/completions"
      assert {200, _, reply} = post(url, chat_body("m", "hi"))
      assert %{"model" => "m"} = JSON.decode!(reply)
    end

    test "understands content given as parts", %{url: url} do
      message = %{"role" => "user", "content" => [%{"type" => "text", "text" => "in parts"}]}
      body = %{"model" => "m", "messages" => [message]}
      assert {200, _, reply} = post(url <> "/chat/completions", body)
      assert content(reply) == FakeProvider.default_content("m", "in parts")
    end

    test "answers 400 to a body that is not a chat request", %{url: url} do
      assert {400, _, reply} = post_raw(url <> "/chat/completions", "{not json")

      assert %{"error" => %{"type" => "invalid_request_error", "param" => nil}} =
               JSON.decode!(reply)

      assert {400, _, _} = post(url <> "/chat/completions", %{"messages" => []})
    end
  end

  describe "requests/1 and reset/1" do
    test "records requests in order with headers and decoded bodies", %{fake: fake, url: url} do
      post(url <> "/chat/completions", chat_body("a", "one"), [{~c"authorization", ~c"Bearer k"}])
      post_raw(url <> "/chat/completions", "raw bytes")

      assert [first, second] = FakeProvider.requests(fake)
      assert %{method: "POST", path: "/v1/chat/completions", body: %{"model" => "a"}} = first
      assert {"authorization", "Bearer k"} in first.headers
      assert {"content-type", "application/json"} in first.headers
      assert second.body == "raw bytes"

      FakeProvider.script(fake, "a", content: "scripted")
      assert :ok = FakeProvider.reset(fake)
      assert FakeProvider.requests(fake) == []
      assert {200, _, reply} = post(url <> "/chat/completions", chat_body("a", "one"))
      assert content(reply) == FakeProvider.default_content("a", "one")
    end

    test "keeps only the most recent requests" do
      fake = start_supervised!({FakeProvider, name: :bounded_fake, max_recorded: 3})
      url = FakeProvider.base_url(fake)
      for i <- 1..5, do: post(url <> "/chat/completions", chat_body("m", "q#{i}"))

      prompts =
        for %{body: %{"messages" => [%{"content" => prompt}]}} <- FakeProvider.requests(fake),
            do: prompt

      assert prompts == ["q3", "q4", "q5"]
    end
  end

  describe "script/3" do
    test "consumes one step per request and repeats the last", %{fake: fake, url: url} do
      :ok = FakeProvider.script(fake, "flaky", [[status: 500], %{content: "better now"}])

      assert {500, _, error} = post(url <> "/chat/completions", chat_body("flaky", "q"))

      assert %{
               "error" => %{
                 "message" => message,
                 "type" => "server_error",
                 "param" => nil,
                 "code" => nil
               }
             } = JSON.decode!(error)

      assert is_binary(message)

      for _ <- 1..2 do
        assert {200, _, reply} = post(url <> "/chat/completions", chat_body("flaky", "q"))
        assert content(reply) == "better now"
      end

      # Other models are not affected.
      assert {200, _, reply} = post(url <> "/chat/completions", chat_body("steady", "q"))
      assert content(reply) == FakeProvider.default_content("steady", "q")
    end

    test "sends error fields, extra headers and raw bodies", %{fake: fake, url: url} do
      FakeProvider.script(fake, "limited", [
        [status: 429, headers: [{"retry-after", "1"}]],
        [status: 429, code: "insufficient_quota", type: "insufficient_quota", message: "Pay up."],
        [body: "this is not json"]
      ])

      assert {429, headers, error} = post(url <> "/chat/completions", chat_body("limited", "q"))
      assert {~c"retry-after", ~c"1"} in headers
      assert %{"error" => %{"code" => "rate_limit_exceeded"}} = JSON.decode!(error)

      assert {429, _, error} = post(url <> "/chat/completions", chat_body("limited", "q"))

      assert %{"error" => %{"code" => "insufficient_quota", "message" => "Pay up."}} =
               JSON.decode!(error)

      assert {200, _, "this is not json"} =
               post(url <> "/chat/completions", chat_body("limited", "q"))
    end

    test "a latency delays only its own connection", %{fake: fake, url: url} do
      # Ordering, not wall-clock limits: the fast reply comes while the slow
      # one still waits, however loaded the machine is.
      FakeProvider.script(fake, "slow", latency_ms: 3_000)

      slow =
        Task.async(fn ->
          {time, result} =
            :timer.tc(fn -> post(url <> "/chat/completions", chat_body("slow", "q")) end)

          {div(time, 1000), result}
        end)

      Process.sleep(50)
      assert {200, _, _} = post(url <> "/chat/completions", chat_body("fast", "q"))
      assert Task.yield(slow, 0) == nil, "the slow reply is still delayed"

      assert {slow_ms, {200, _, _}} = Task.await(slow, 60_000)
      assert slow_ms >= 3_000
    end

    test "the server-wide latency applies to every chat reply" do
      fake = start_supervised!({FakeProvider, name: :slow_fake, latency_ms: 150})
      url = FakeProvider.base_url(fake)

      {time, {200, _, _}} =
        :timer.tc(fn -> post(url <> "/chat/completions", chat_body("m", "q")) end)

      assert div(time, 1000) >= 150
    end

    test "close: true drops the connection without a reply", %{fake: fake, port: port} do
      FakeProvider.script(fake, "rude", close: true)
      socket = connect(port)
      :ok = :gen_tcp.send(socket, chat_request("rude", "q"))
      assert {:error, :closed} = :gen_tcp.recv(socket, 0, 30_000)
      assert [%{body: %{"model" => "rude"}}] = FakeProvider.requests(fake)
    end

    test "close: :reset resets the connection", %{fake: fake, port: port} do
      FakeProvider.script(fake, "ruder", close: :reset)
      socket = connect(port)
      :ok = :gen_tcp.send(socket, chat_request("ruder", "q"))
      assert {:error, reason} = :gen_tcp.recv(socket, 0, 30_000)
      assert reason in [:econnreset, :closed]
    end

    test "truncate: n cuts a reply after n bytes of its body", %{fake: fake, port: port} do
      FakeProvider.script(fake, "short", truncate: 10)
      socket = connect(port)
      :ok = :gen_tcp.send(socket, chat_request("short", "q"))
      {200, headers} = CouncilEx.RawHTTP.recv_head(socket)
      {_, length} = List.keyfind(headers, "content-length", 0)
      assert String.to_integer(length) > 10
      assert {:ok, <<_::binary-size(10)>>} = :gen_tcp.recv(socket, 10, 30_000)
      assert {:error, :closed} = :gen_tcp.recv(socket, 0, 30_000)
    end

    test "truncate: n cuts a stream, chunk framing counted", %{fake: fake, port: port} do
      FakeProvider.script(fake, "cut", chunks: ["abc", "def"], truncate: 40)
      socket = connect(port)
      body = chat_body("cut", "q") |> Map.put("stream", true) |> JSON.encode!()

      :ok =
        :gen_tcp.send(socket, [
          "POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\n",
          "content-length: #{byte_size(body)}\r\n\r\n",
          body
        ])

      {200, headers} = CouncilEx.RawHTTP.recv_head(socket)
      assert {"transfer-encoding", "chunked"} in headers
      assert {:ok, cut} = :gen_tcp.recv(socket, 40, 30_000)
      assert [size, "data: " <> _] = String.split(cut, "\r\n", parts: 2)
      assert String.to_integer(size, 16) > 40
      assert {:error, :closed} = :gen_tcp.recv(socket, 0, 30_000)
    end

    test "rejects bad steps", %{fake: fake} do
      assert_raise ArgumentError, fn -> FakeProvider.script(fake, "m", []) end
      assert_raise ArgumentError, fn -> FakeProvider.script(fake, "m", close: :later) end
      assert_raise ArgumentError, fn -> FakeProvider.script(fake, "m", truncate: -1) end
      assert_raise ArgumentError, fn -> FakeProvider.script(fake, "m", [[stauts: 500]]) end
      assert_raise ArgumentError, fn -> FakeProvider.script(fake, "m", [:oops]) end
      assert_raise ArgumentError, fn -> FakeProvider.script(fake, "m", status: "500") end
      assert_raise ArgumentError, fn -> FakeProvider.script(fake, "m", content: 42) end
      assert_raise ArgumentError, fn -> FakeProvider.script(fake, "m", latency_ms: -1) end
    end
  end

  describe "in_flight/1" do
    test "counts requests being handled and drops a client that hangs up",
         %{fake: fake, port: port} do
      FakeProvider.script(fake, "slow", latency_ms: 10_000)
      assert FakeProvider.in_flight(fake) == 0

      socket = connect(port)
      :ok = :gen_tcp.send(socket, chat_request("slow", "q"))
      assert eventually(fn -> FakeProvider.in_flight(fake) == 1 end)

      :ok = :gen_tcp.close(socket)
      assert eventually(fn -> FakeProvider.in_flight(fake) == 0 end)
    end
  end

  describe "HTTP/1.1" do
    test "keeps the connection alive and answers pipelined requests", %{port: port} do
      socket = connect(port)

      :ok = :gen_tcp.send(socket, chat_request("m", "one"))
      assert {200, headers, reply} = recv_response(socket)
      refute {"connection", "close"} in headers
      assert content(reply) == FakeProvider.default_content("m", "one")

      :ok = :gen_tcp.send(socket, chat_request("m", "two"))
      assert {200, _, reply} = recv_response(socket)
      assert content(reply) == FakeProvider.default_content("m", "two")

      # Two requests in one packet, answered in order.
      :ok = :gen_tcp.send(socket, [chat_request("m", "three"), chat_request("m", "four")])
      assert {200, _, three} = recv_response(socket)
      assert {200, _, four} = recv_response(socket)
      assert content(three) == FakeProvider.default_content("m", "three")
      assert content(four) == FakeProvider.default_content("m", "four")
    end

    test "closes after a request asking for it", %{port: port} do
      socket = connect(port)
      :ok = :gen_tcp.send(socket, chat_request("m", "q", [{"connection", "close"}]))
      assert {200, headers, _} = recv_response(socket)
      assert {"connection", "close"} in headers
      assert {:error, :closed} = :gen_tcp.recv(socket, 0, 30_000)
    end

    test "a request split into single bytes still parses", %{port: port} do
      socket = connect(port)

      for <<byte <- IO.iodata_to_binary(chat_request("m", "slowly"))>> do
        :ok = :gen_tcp.send(socket, <<byte>>)
      end

      assert {200, _, reply} = recv_response(socket)
      assert content(reply) == FakeProvider.default_content("m", "slowly")
    end

    test "accepts chunked request bodies", %{fake: fake, port: port} do
      body = JSON.encode!(chat_body("m", "chunky"))
      {a, b} = String.split_at(body, 10)

      chunked = [
        Integer.to_string(byte_size(a), 16),
        "\r\n",
        a,
        "\r\n",
        Integer.to_string(byte_size(b), 16),
        ";ext=1\r\n",
        b,
        "\r\n0\r\n\r\n"
      ]

      socket = connect(port)

      :ok =
        :gen_tcp.send(socket, [
          "POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\n",
          "transfer-encoding: chunked\r\n\r\n",
          chunked
        ])

      assert {200, _, reply} = recv_response(socket)
      assert content(reply) == FakeProvider.default_content("m", "chunky")
      assert [%{body: %{"model" => "m"}}] = FakeProvider.requests(fake)
    end

    test "a chunked body with trailers, a byte at a time, then a pipelined request",
         %{fake: fake, port: port} do
      body = JSON.encode!(chat_body("m", "dribbled"))
      {a, b} = String.split_at(body, 17)

      request = [
        "POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\n\r\n",
        Integer.to_string(byte_size(a), 16),
        "\r\n",
        a,
        "\r\n",
        Integer.to_string(byte_size(b), 16),
        "\r\n",
        b,
        "\r\n0\r\nx-trailer: 1\r\n\r\n",
        chat_request("m", "next")
      ]

      socket = connect(port)

      for <<byte <- IO.iodata_to_binary(request)>> do
        :ok = :gen_tcp.send(socket, <<byte>>)
      end

      assert {200, _, reply} = recv_response(socket)
      assert content(reply) == FakeProvider.default_content("m", "dribbled")
      assert {200, _, reply} = recv_response(socket)
      assert content(reply) == FakeProvider.default_content("m", "next")

      assert [%{body: %{"model" => "m"}}, %{body: %{"model" => "m"}}] =
               FakeProvider.requests(fake)
    end

    test "a body that stalls halfway is read whole once the rest comes", %{fake: fake, port: port} do
      body = IO.iodata_to_binary(chat_request("m", String.duplicate("pause ", 50_000)))
      {first, second} = String.split_at(body, div(byte_size(body), 2))
      socket = connect(port)
      :ok = :gen_tcp.send(socket, first)
      # Long enough for the fake's read of the body to look up from the
      # socket at least once (it keeps what it has); how long it really
      # takes changes nothing.
      Process.sleep(500)
      :ok = :gen_tcp.send(socket, second)
      assert {200, _, reply} = recv_response(socket)

      assert content(reply) ==
               FakeProvider.default_content("m", String.duplicate("pause ", 50_000))

      assert %{bytes: bytes} = FakeProvider.reads(fake)
      assert bytes == byte_size(body)
    end

    test "with no idle timeout, a body is still read in one go" do
      fake = start_supervised!({FakeProvider, name: :patient_fake, idle_timeout: :infinity})
      socket = connect(FakeProvider.port(fake))
      :ok = :gen_tcp.send(socket, chat_request("m", String.duplicate("patience ", 50_000)))
      assert {200, _, reply} = recv_response(socket)
      assert content(reply) =~ "m answers: patience"
      assert FakeProvider.reads(fake).reads <= 3
    end

    test "stopping the server drops a connection halfway through a body", %{
      fake: fake,
      port: port
    } do
      socket = connect(port)
      request = IO.iodata_to_binary(chat_request("m", String.duplicate("stop ", 50_000)))
      :ok = :gen_tcp.send(socket, binary_part(request, 0, div(byte_size(request), 2)))
      assert eventually(fn -> FakeProvider.reads(fake).reads > 0 end)
      stop_supervised!(FakeProvider)
      refute Process.alive?(fake)
      assert {:error, :closed} = :gen_tcp.recv(socket, 0, 30_000)
    end

    test "answers Expect: 100-continue before the body is sent", %{port: port} do
      body = JSON.encode!(chat_body("m", "expect"))
      socket = connect(port)

      :ok =
        :gen_tcp.send(socket, [
          "POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\nexpect: 100-continue\r\n",
          "content-length: #{byte_size(body)}\r\n\r\n"
        ])

      assert {:ok, "HTTP/1.1 100 Continue\r\n\r\n"} = :gen_tcp.recv(socket, 0, 30_000)
      :ok = :gen_tcp.send(socket, body)
      assert {200, _, reply} = recv_response(socket)
      assert content(reply) == FakeProvider.default_content("m", "expect")
    end

    test "unknown routes get a 404 with an OpenAI error body", %{port: port, url: url} do
      assert {404, _, reply} = post(url <> "/embeddings", %{"input" => "x"})

      assert %{"error" => %{"message" => "Invalid URL (POST /v1/embeddings)", "param" => nil}} =
               JSON.decode!(reply)

      {:ok, {{_, 404, _}, _, _}} =
        :httpc.request(:get, {~c"http://127.0.0.1:#{port}/v1/chat/completions", []}, [], [])
    end

    test "garbage gets a 400 and the server keeps serving", %{fake: fake, port: port, url: url} do
      for garbage <- [
            "hello there\r\n\r\n",
            <<0, 1, 2, 255, 254, "\r\n\r\n">>,
            "POST /v1/chat/completions HTTP/1.1\r\ncontent-length: nope\r\n\r\n",
            "POST /v1/chat/completions HTTP/1.1\r\ncontent-length: 1\r\ncontent-length: 2\r\n\r\n",
            "POST /v1/chat/completions HTTP/1.1\r\nbad header line\r\n\r\n",
            "POST /v1/chat/completions HTTP/1.1\r\ntransfer-encoding: chunked\r\n\r\nzz\r\n"
          ] do
        socket = connect(port)
        :ok = :gen_tcp.send(socket, garbage)
        assert {400, headers, body} = recv_response(socket), inspect(garbage)
        assert {"connection", "close"} in headers
        assert %{"error" => %{"type" => "invalid_request_error"}} = JSON.decode!(body)
        assert {:error, :closed} = :gen_tcp.recv(socket, 0, 30_000)
      end

      socket = connect(port)
      :ok = :gen_tcp.send(socket, String.duplicate("A", 20_000))
      assert {414, _, _} = recv_response(socket)

      socket = connect(port)
      :ok = :gen_tcp.send(socket, "POST / HTTP/1.1\r\ncontent-length: 999999999999\r\n\r\n")
      assert {413, _, _} = recv_response(socket)

      socket = connect(port)
      :ok = :gen_tcp.send(socket, "GET / HTTP/2.0\r\n\r\n")
      assert {505, _, _} = recv_response(socket)

      # A client that sends half a request and hangs up changes nothing.
      socket = connect(port)
      :ok = :gen_tcp.send(socket, "POST /v1/chat/completions HTTP/1.1\r\ncontent-le")
      :ok = :gen_tcp.close(socket)

      assert Process.alive?(fake)
      assert {200, _, _} = post(url <> "/chat/completions", chat_body("m", "still there?"))
    end
  end

  describe "load" do
    test "200 concurrent connections all get their answer", %{fake: fake, port: port} do
      FakeProvider.script(fake, "loaded", latency_ms: 50)

      results =
        1..200
        |> Task.async_stream(
          fn i ->
            socket = connect(port)
            :ok = :gen_tcp.send(socket, chat_request("loaded", "question #{i}"))
            {200, _, reply} = recv_response(socket)
            :gen_tcp.close(socket)
            {i, content(reply)}
          end,
          max_concurrency: 200,
          timeout: 30_000
        )
        |> Enum.map(fn {:ok, result} -> result end)

      assert length(results) == 200

      for {i, content} <- results do
        assert content == FakeProvider.default_content("loaded", "question #{i}")
      end

      assert length(FakeProvider.requests(fake)) == 200
    end

    test "many concurrent httpc requests complete", %{url: url} do
      profile = :"fake_provider_test_#{System.unique_integer([:positive])}"
      {:ok, _} = :inets.start(:httpc, profile: profile)
      :ok = :httpc.set_options([max_sessions: 50, max_keep_alive_length: 10], profile)

      try do
        1..400
        |> Task.async_stream(
          fn i ->
            post(url <> "/chat/completions", chat_body("m#{rem(i, 5)}", "q#{i}"), [], profile)
          end,
          max_concurrency: 200,
          timeout: 30_000
        )
        |> Enum.each(fn {:ok, result} -> assert {200, _, _} = result end)
      after
        :inets.stop(:httpc, profile)
      end
    end
  end

  ## Helpers

  defp chat_body(model, prompt) do
    %{"model" => model, "messages" => [%{"role" => "user", "content" => prompt}]}
  end

  defp content(reply) do
    %{"choices" => [%{"message" => %{"content" => content}}]} = JSON.decode!(reply)
    content
  end

  defp post(url, body, headers \\ [], profile \\ :default) do
    post_raw(url, JSON.encode!(body), headers, profile)
  end

  defp post_raw(url, body, headers \\ [], profile \\ :default) do
    request = {String.to_charlist(url), headers, ~c"application/json", body}

    {:ok, {{_, status, _}, headers, reply}} =
      :httpc.request(:post, request, [timeout: 15_000], [body_format: :binary], profile)

    {status, headers, reply}
  end

  defp connect(port) do
    {:ok, socket} =
      :gen_tcp.connect({127, 0, 0, 1}, port, [:binary, active: false, packet: :raw], 5_000)

    socket
  end

  defp chat_request(model, prompt, headers \\ []) do
    body = JSON.encode!(chat_body(model, prompt))

    [
      "POST /v1/chat/completions HTTP/1.1\r\nhost: 127.0.0.1\r\n",
      "content-type: application/json\r\ncontent-length: #{byte_size(body)}\r\n",
      Enum.map(headers, fn {name, value} -> [name, ": ", value, "\r\n"] end),
      "\r\n",
      body
    ]
  end

  # Reads one response with a Content-Length body, using the socket's own
  # HTTP parser for the head.
  defp recv_response(socket) do
    :ok = :inet.setopts(socket, packet: :http_bin)
    {:ok, {:http_response, _, status, _}} = :gen_tcp.recv(socket, 0, 30_000)
    headers = recv_headers(socket, [])
    :ok = :inet.setopts(socket, packet: :raw)

    body =
      case List.keyfind(headers, "content-length", 0) do
        {_, "0"} ->
          ""

        {_, length} ->
          {:ok, body} = :gen_tcp.recv(socket, String.to_integer(length), 30_000)
          body
      end

    {status, headers, body}
  end

  defp recv_headers(socket, acc) do
    case :gen_tcp.recv(socket, 0, 30_000) do
      {:ok, {:http_header, _, _, name, value}} ->
        recv_headers(socket, [{String.downcase(name), value} | acc])

      {:ok, :http_eoh} ->
        Enum.reverse(acc)
    end
  end

  # A generous deadline: a busy machine may take long, and it costs nothing
  # when `fun` soon holds.
  defp eventually(fun), do: CouncilEx.FakeCase.eventually(fun, 30_000)
end
