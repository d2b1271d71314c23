defmodule CouncilEx.FakeProviderDialectsTest do
  # The five wire formats of CouncilEx.FakeProvider, read off the socket.
  # Shapes follow the test vectors of provider_formats.md.
  use ExUnit.Case, async: true

  import CouncilEx.RawHTTP

  alias CouncilEx.{FakeProvider, JSON}
  alias CouncilEx.FakeProvider.Dialect.OpenRouter

  @prompt "Why is the sky blue?"
  @anthropic_auth [{"x-api-key", "sk-ant-test"}, {"anthropic-version", "2023-06-01"}]
  @gemini_auth [{"x-goog-api-key", "gemini-test-key"}]
  @weather %{"id" => "call_1", "name" => "get_weather", "arguments" => %{"city" => "Paris"}}

  setup do
    fake = start_supervised!(FakeProvider)
    %{fake: fake, port: FakeProvider.port(fake)}
  end

  describe "routing" do
    test "base_url/2 gives each dialect's base", %{fake: fake, port: port} do
      base = "http://127.0.0.1:#{port}"
      assert FakeProvider.base_url(fake) == base <> "/v1"
      assert FakeProvider.base_url(fake, :openai) == base <> "/v1"
      assert FakeProvider.base_url(fake, :openrouter) == base <> "/api/v1"
      assert FakeProvider.base_url(fake, :anthropic) == base <> "/v1"
      assert FakeProvider.base_url(fake, :gemini) == base <> "/v1beta"
      assert FakeProvider.base_url(fake, :ollama) == base

      assert_raise ArgumentError, ~r/expected a dialect/, fn ->
        FakeProvider.base_url(fake, :bard)
      end
    end

    test "one keep-alive connection serves every dialect in turn and records each",
         %{fake: fake, port: port} do
      socket = connect(port)

      for {path, body, headers, content} <- [
            {"/v1/chat/completions", openai_body("m"), [], &openai_content/1},
            {"/api/v1/chat/completions", openai_body("m"), [], &openai_content/1},
            {"/v1/messages", anthropic_body("m"), @anthropic_auth, &anthropic_content/1},
            {"/v1beta/models/m:generateContent?alt=json", gemini_body(), @gemini_auth,
             &gemini_content/1},
            {"/api/chat", ollama_body("m", stream: false), [], &ollama_content/1},
            # A streamed reply between two others leaves the connection usable.
            {"/v1/messages", anthropic_body("m", stream: true), @anthropic_auth,
             &anthropic_text/1},
            {"/v1/chat/completions", openai_body("m"), [], &openai_content/1}
          ] do
        assert {200, headers, reply} = post(socket, path, body, headers)
        refute {"connection", "close"} in headers
        assert content.(reply) == FakeProvider.default_content("m", @prompt), path
      end

      assert [openai, openrouter, anthropic, gemini, ollama, _, _] = FakeProvider.requests(fake)
      assert %{dialect: :openai, path: "/v1/chat/completions", query: ""} = openai
      assert %{dialect: :openrouter, path: "/api/v1/chat/completions"} = openrouter
      assert %{dialect: :anthropic, body: %{"max_tokens" => 64}} = anthropic
      assert {"anthropic-version", "2023-06-01"} in anthropic.headers

      assert %{dialect: :gemini, path: "/v1beta/models/m:generateContent", query: "alt=json"} =
               gemini

      assert {"x-goog-api-key", "gemini-test-key"} in gemini.headers
      assert %{dialect: :ollama, body: %{"model" => "m", "stream" => false}} = ollama
    end

    test "unknown routes are recorded without a dialect", %{fake: fake, port: port} do
      assert {404, _, _} = call(port, "/v1beta/models/m:countTokens", gemini_body(), @gemini_auth)
      assert [%{dialect: nil, path: "/v1beta/models/m:countTokens"}] = FakeProvider.requests(fake)
    end
  end

  describe "OpenAI" do
    test "streams chunks, a finish chunk, the usage chunk and [DONE]", %{port: port} do
      body =
        Map.put(openai_body("gpt-test", stream: true), "stream_options", %{
          "include_usage" => true
        })

      assert {200, headers, chunks} = call(port, "/v1/chat/completions", body)
      assert {"content-type", "text/event-stream"} in headers
      assert {"transfer-encoding", "chunked"} in headers

      # One event per HTTP chunk.
      events = Enum.map(chunks, &one(sse_events(&1)))
      assert {nil, "[DONE]"} = List.last(events)
      [role | rest] = for {nil, %{} = data} <- events, do: data
      {content_chunks, [finish, usage]} = Enum.split(rest, -2)

      for chunk <- [role | rest] do
        assert %{"id" => "chatcmpl-" <> _, "object" => "chat.completion.chunk", "created" => 0} =
                 chunk

        assert chunk["model"] == "gpt-test"
      end

      assert [
               %{
                 "index" => 0,
                 "delta" => %{"role" => "assistant", "content" => ""},
                 "finish_reason" => nil
               }
             ] = role["choices"]

      assert Enum.all?([role, finish | content_chunks], &match?(%{"usage" => nil}, &1))

      text =
        Enum.map_join(content_chunks, fn %{"choices" => [%{"delta" => %{"content" => c}}]} ->
          c
        end)

      assert text == FakeProvider.default_content("gpt-test", @prompt)
      assert %{"choices" => [%{"delta" => delta, "finish_reason" => "stop"}]} = finish
      assert delta == %{}

      assert %{
               "choices" => [],
               "usage" => %{"prompt_tokens" => 5, "completion_tokens" => 8, "total_tokens" => 13}
             } = usage
    end

    test "without include_usage a stream has no usage at all", %{port: port} do
      assert {200, _, chunks} = call(port, "/v1/chat/completions", openai_body("m", stream: true))
      events = sse_events(chunks)
      refute Enum.any?(events, &match?({nil, %{"usage" => _}}, &1))
      assert {nil, "[DONE]"} = List.last(events)
    end

    test "tool calls carry their arguments as a JSON string", %{fake: fake, port: port} do
      FakeProvider.script(fake, "tools", tool_calls: [@weather, %{name: "now"}])
      assert {200, _, reply} = call(port, "/v1/chat/completions", openai_body("tools"))

      assert %{
               "choices" => [
                 %{
                   "message" => %{
                     "role" => "assistant",
                     "content" => nil,
                     "tool_calls" => [weather, now]
                   },
                   "finish_reason" => "tool_calls"
                 }
               ]
             } = JSON.decode!(reply)

      assert %{"id" => "call_1", "type" => "function", "function" => %{"name" => "get_weather"}} =
               weather

      assert JSON.decode!(weather["function"]["arguments"]) == %{"city" => "Paris"}
      assert %{"id" => "call_2", "function" => %{"name" => "now", "arguments" => "{}"}} = now
    end

    test "streamed tool calls come as fragments to join per index", %{fake: fake, port: port} do
      FakeProvider.script(fake, "tools", tool_calls: [@weather])

      assert {200, _, chunks} =
               call(port, "/v1/chat/completions", openai_body("tools", stream: true))

      deltas = for {nil, %{"choices" => [%{"delta" => delta}]}} <- sse_events(chunks), do: delta
      fragments = for %{"tool_calls" => [fragment]} <- deltas, do: fragment

      assert [%{"index" => 0, "id" => "call_1", "type" => "function", "function" => head} | rest] =
               fragments

      assert head == %{"name" => "get_weather", "arguments" => ""}
      assert length(rest) == 2
      refute Enum.any?(rest, &Map.has_key?(&1, "id"))
      arguments = Enum.map_join(rest, & &1["function"]["arguments"])
      assert JSON.decode!(arguments) == %{"city" => "Paris"}

      assert {nil, %{"choices" => [%{"finish_reason" => "tool_calls"}]}} =
               Enum.at(sse_events(chunks), -2)
    end

    test "a mid-stream error follows the chunks and ends the stream", %{fake: fake, port: port} do
      FakeProvider.script(fake, "broken", chunks: ["Hel", "lo"], midstream_error: "boom")

      assert {200, _, chunks} =
               call(port, "/v1/chat/completions", openai_body("broken", stream: true))

      assert [_role, c1, c2, {nil, error}] = sse_events(chunks)
      assert [{nil, %{"choices" => [%{"delta" => %{"content" => "Hel"}}]}}, {nil, _}] = [c1, c2]

      assert error == %{
               "error" => %{
                 "message" => "boom",
                 "type" => "server_error",
                 "param" => nil,
                 "code" => nil
               }
             }
    end

    test "a mid-stream error on a non-streamed request is a 200 error body", %{
      fake: fake,
      port: port
    } do
      FakeProvider.script(fake, "broken", midstream_error: true)
      assert {200, _, reply} = call(port, "/v1/chat/completions", openai_body("broken"))
      assert %{"error" => %{"type" => "server_error"}} = JSON.decode!(reply)
    end
  end

  describe "OpenRouter" do
    test "adds usage.cost under /api/v1, not under /v1", %{port: port} do
      assert {200, _, reply} =
               call(port, "/api/v1/chat/completions", openai_body("openai/gpt-4o"))

      assert %{"usage" => usage} = JSON.decode!(reply)
      assert %{"prompt_tokens" => 5, "completion_tokens" => 8, "cost" => cost} = usage
      assert cost == OpenRouter.cost(5, 8)
      assert cost == 21 / 1_000_000

      assert {200, _, reply} = call(port, "/v1/chat/completions", openai_body("openai/gpt-4o"))
      refute Map.has_key?(JSON.decode!(reply)["usage"], "cost")
    end

    test "streams a comment line first and the cost in the usage chunk", %{port: port} do
      body = Map.put(openai_body("m", stream: true), "stream_options", %{"include_usage" => true})
      assert {200, _, chunks} = call(port, "/api/v1/chat/completions", body)
      events = sse_events(chunks)
      assert [{:comment, "OPENROUTER PROCESSING"} | _] = events
      assert {nil, %{"choices" => [], "usage" => %{"cost" => cost}}} = Enum.at(events, -2)
      assert cost == OpenRouter.cost(5, 8)
    end

    test "errors carry the status as a numeric code", %{fake: fake, port: port} do
      FakeProvider.script(fake, "broke", [
        [status: 402],
        [status: 429, message: "Slow down", type: "rate_limit_error"]
      ])

      assert {402, _, reply} = call(port, "/api/v1/chat/completions", openai_body("broke"))

      assert %{"error" => %{"code" => 402, "message" => "Insufficient credits" <> _} = error} =
               JSON.decode!(reply)

      refute Map.has_key?(error, "type")

      assert {429, _, reply} = call(port, "/api/v1/chat/completions", openai_body("broke"))

      assert JSON.decode!(reply) == %{
               "error" => %{"code" => 429, "message" => "Slow down", "type" => "rate_limit_error"}
             }
    end

    test "a mid-stream error is a chunk with finish_reason error", %{fake: fake, port: port} do
      FakeProvider.script(fake, "broken", chunks: ["partial"], midstream_error: true)

      assert {200, _, chunks} =
               call(port, "/api/v1/chat/completions", openai_body("broken", stream: true))

      assert {nil, error_chunk} = List.last(sse_events(chunks))

      assert %{
               "object" => "chat.completion.chunk",
               "error" => %{
                 "code" => "server_error",
                 "message" => "Provider disconnected unexpectedly"
               },
               "choices" => [
                 %{"index" => 0, "delta" => %{"content" => ""}, "finish_reason" => "error"}
               ]
             } = error_chunk
    end
  end

  describe "Anthropic" do
    test "answers with a message object", %{port: port} do
      body =
        anthropic_body("claude-test")
        |> Map.put("system", [%{"type" => "text", "text" => "Be brief."}])
        |> Map.put("messages", [
          %{"role" => "user", "content" => "first question"},
          %{"role" => "assistant", "content" => "first answer"},
          %{"role" => "user", "content" => [%{"type" => "text", "text" => @prompt}]}
        ])

      assert {200, headers, reply} = call(port, "/v1/messages", body, @anthropic_auth)
      assert {"content-type", "application/json"} in headers
      content = FakeProvider.default_content("claude-test", @prompt)

      assert %{
               "id" => "msg_" <> _,
               "type" => "message",
               "role" => "assistant",
               "model" => "claude-test",
               "content" => [%{"type" => "text", "text" => ^content}],
               "stop_reason" => "end_turn",
               "stop_sequence" => nil,
               # 2 + 2 + 2 + 5 words, the system prompt included
               "usage" => %{"input_tokens" => 11, "output_tokens" => 8}
             } = JSON.decode!(reply)
    end

    test "streams the typed events in order", %{port: port} do
      body = anthropic_body("claude-test", stream: true)
      assert {200, headers, chunks} = call(port, "/v1/messages", body, @anthropic_auth)
      assert {"content-type", "text/event-stream"} in headers
      events = Enum.map(chunks, &one(sse_events(&1)))

      for {name, data} <- events, do: assert(data["type"] == name)
      names = Enum.map(events, &elem(&1, 0))
      content = FakeProvider.default_content("claude-test", @prompt)
      pieces = length(String.split(content))

      assert names ==
               ["message_start", "content_block_start", "ping"] ++
                 List.duplicate("content_block_delta", pieces) ++
                 ["content_block_stop", "message_delta", "message_stop"]

      [{_, start}, {_, block_start} | _] = events

      assert %{
               "message" => %{
                 "id" => "msg_" <> _,
                 "role" => "assistant",
                 "content" => [],
                 "model" => "claude-test",
                 "stop_reason" => nil,
                 "usage" => %{"input_tokens" => 5}
               }
             } = start

      assert %{"index" => 0, "content_block" => %{"type" => "text", "text" => ""}} = block_start

      text =
        for {"content_block_delta", %{"delta" => %{"type" => "text_delta", "text" => t}}} <-
              events,
            do: t

      assert Enum.join(text) == content

      assert {"message_delta",
              %{
                "delta" => %{"stop_reason" => "end_turn", "stop_sequence" => nil},
                "usage" => %{"output_tokens" => 8}
              }} = Enum.at(events, -2)
    end

    test "requires x-api-key and anthropic-version", %{fake: fake, port: port} do
      FakeProvider.script(fake, "claude", [[content: "first"], [content: "second"]])

      assert {401, _, reply} =
               call(port, "/v1/messages", anthropic_body("claude"), [
                 {"anthropic-version", "2023-06-01"}
               ])

      assert %{
               "type" => "error",
               "error" => %{
                 "type" => "authentication_error",
                 "message" => "x-api-key header is required"
               },
               "request_id" => "req_" <> _
             } = JSON.decode!(reply)

      assert {400, _, reply} =
               call(port, "/v1/messages", anthropic_body("claude"), [{"x-api-key", "k"}])

      assert %{
               "type" => "error",
               "error" => %{"type" => "invalid_request_error", "message" => message}
             } = JSON.decode!(reply)

      assert message =~ "anthropic-version"

      # Rejected requests are recorded but consume no step.
      assert [%{dialect: :anthropic}, %{dialect: :anthropic}] = FakeProvider.requests(fake)

      assert {200, _, reply} =
               call(port, "/v1/messages", anthropic_body("claude"), @anthropic_auth)

      assert anthropic_content(reply) == "first"
    end

    test "scripted statuses get Anthropic error types", %{fake: fake, port: port} do
      FakeProvider.script(fake, "claude", [
        [status: 529],
        [status: 404],
        [status: 429, type: "custom_error"]
      ])

      for {status, type} <- [
            {529, "overloaded_error"},
            {404, "not_found_error"},
            {429, "custom_error"}
          ] do
        assert {^status, _, reply} =
                 call(port, "/v1/messages", anthropic_body("claude"), @anthropic_auth)

        assert %{"type" => "error", "error" => %{"type" => ^type, "message" => _}} =
                 JSON.decode!(reply)
      end
    end

    test "a malformed body gets an invalid_request_error", %{port: port} do
      for body <- [
            "{not json",
            %{"model" => "m", "messages" => []},
            Map.delete(anthropic_body("m"), "max_tokens")
          ] do
        assert {400, _, reply} = call(port, "/v1/messages", body, @anthropic_auth)

        assert %{"type" => "error", "error" => %{"type" => "invalid_request_error"}} =
                 JSON.decode!(reply),
               inspect(body)
      end
    end

    test "tool calls are tool_use blocks with object input", %{fake: fake, port: port} do
      FakeProvider.script(fake, "claude", content: "Let me check.", tool_calls: [@weather])

      assert {200, _, reply} =
               call(port, "/v1/messages", anthropic_body("claude"), @anthropic_auth)

      assert %{
               "content" => [
                 %{"type" => "text", "text" => "Let me check."},
                 %{
                   "type" => "tool_use",
                   "id" => "call_1",
                   "name" => "get_weather",
                   "input" => %{"city" => "Paris"}
                 }
               ],
               "stop_reason" => "tool_use"
             } = JSON.decode!(reply)
    end

    test "streamed tool input comes as input_json_delta pieces", %{fake: fake, port: port} do
      FakeProvider.script(fake, "claude", tool_calls: [@weather])
      body = anthropic_body("claude", stream: true)
      assert {200, _, chunks} = call(port, "/v1/messages", body, @anthropic_auth)
      events = sse_events(chunks)

      assert [{"content_block_start", %{"index" => 0, "content_block" => block}} | _] =
               Enum.drop_while(events, &(elem(&1, 0) != "content_block_start"))

      assert block == %{
               "type" => "tool_use",
               "id" => "call_1",
               "name" => "get_weather",
               "input" => %{}
             }

      partials =
        for {"content_block_delta",
             %{"index" => 0, "delta" => %{"type" => "input_json_delta"} = delta}} <- events,
            do: delta["partial_json"]

      assert ["" | _] = partials
      assert JSON.decode!(Enum.join(partials)) == %{"city" => "Paris"}
      assert {"message_delta", %{"delta" => %{"stop_reason" => "tool_use"}}} = Enum.at(events, -2)
    end

    test "a mid-stream error is an error event", %{fake: fake, port: port} do
      FakeProvider.script(fake, "claude", chunks: ["Hel", "lo"], midstream_error: true)
      body = anthropic_body("claude", stream: true)
      assert {200, _, chunks} = call(port, "/v1/messages", body, @anthropic_auth)
      events = sse_events(chunks)
      names = Enum.map(events, &elem(&1, 0))

      assert names ==
               ~w(message_start content_block_start ping content_block_delta content_block_delta error)

      assert {"error",
              %{
                "type" => "error",
                "error" => %{"type" => "overloaded_error", "message" => "Overloaded"}
              }} = List.last(events)
    end

    test "a user turn holding only tool results does not change the prompt", %{port: port} do
      messages = [
        %{"role" => "user", "content" => @prompt},
        %{
          "role" => "assistant",
          "content" => [%{"type" => "tool_use", "id" => "t1", "name" => "f", "input" => %{}}]
        },
        %{
          "role" => "user",
          "content" => [%{"type" => "tool_result", "tool_use_id" => "t1", "content" => "42"}]
        }
      ]

      body = Map.put(anthropic_body("claude"), "messages", messages)
      assert {200, _, reply} = call(port, "/v1/messages", body, @anthropic_auth)
      assert anthropic_content(reply) == FakeProvider.default_content("claude", @prompt)
    end
  end

  describe "Gemini" do
    test "answers with a GenerateContentResponse for the model in the path", %{port: port} do
      body = Map.put(gemini_body(), "systemInstruction", %{"parts" => [%{"text" => "Be brief."}]})

      assert {200, _, reply} =
               call(port, "/v1beta/models/gemini-test:generateContent", body, @gemini_auth)

      content = FakeProvider.default_content("gemini-test", @prompt)

      assert %{
               "candidates" => [
                 %{
                   "content" => %{"role" => "model", "parts" => [%{"text" => ^content}]},
                   "finishReason" => "STOP",
                   "index" => 0
                 }
               ],
               "usageMetadata" => %{
                 "promptTokenCount" => 7,
                 "candidatesTokenCount" => 8,
                 "totalTokenCount" => 15
               },
               "modelVersion" => "gemini-test",
               "responseId" => _
             } = JSON.decode!(reply)
    end

    test "the model segment is percent-decoded", %{fake: fake, port: port} do
      FakeProvider.script(fake, "tuned/my model", content: "tuned")
      path = "/v1beta/models/tuned%2Fmy%20model:generateContent"
      assert {200, _, reply} = call(port, path, gemini_body(), @gemini_auth)
      assert gemini_content(reply) == "tuned"
    end

    test "streams SSE chunks with alt=sse, the last one finishing", %{port: port} do
      path = "/v1beta/models/gemini-test:streamGenerateContent?alt=sse"
      assert {200, headers, chunks} = call(port, path, gemini_body(), @gemini_auth)
      assert {"content-type", "text/event-stream"} in headers
      objects = Enum.map(chunks, &elem(one(sse_events(&1)), 1))
      {partial, [last]} = Enum.split(objects, -1)

      for object <- partial do
        assert %{
                 "candidates" => [candidate],
                 "usageMetadata" => usage,
                 "modelVersion" => "gemini-test"
               } = object

        refute Map.has_key?(candidate, "finishReason")
        assert usage == %{"promptTokenCount" => 5, "totalTokenCount" => 5}
      end

      assert %{
               "candidates" => [%{"finishReason" => "STOP"}],
               "usageMetadata" => %{"candidatesTokenCount" => 8}
             } = last

      assert Enum.map_join(objects, &gemini_text/1) ==
               FakeProvider.default_content("gemini-test", @prompt)
    end

    test "streams one JSON array without alt=sse", %{port: port} do
      path = "/v1beta/models/gemini-test:streamGenerateContent"
      assert {200, headers, chunks} = call(port, path, gemini_body(), @gemini_auth)
      assert {"content-type", "application/json"} in headers
      assert length(chunks) > 2
      objects = JSON.decode!(IO.iodata_to_binary(chunks))

      assert Enum.map_join(objects, &gemini_text/1) ==
               FakeProvider.default_content("gemini-test", @prompt)
    end

    test "needs an API key, in the header or the query", %{port: port} do
      path = "/v1beta/models/gemini-test:generateContent"
      assert {403, _, reply} = call(port, path, gemini_body())

      assert %{"error" => %{"code" => 403, "status" => "PERMISSION_DENIED", "message" => _}} =
               JSON.decode!(reply)

      assert {200, _, _} = call(port, path <> "?key=k", gemini_body())
    end

    test "a 429 says how long to wait in RetryInfo", %{fake: fake, port: port} do
      FakeProvider.script(fake, "busy", [[status: 429], [status: 429, retry_delay_ms: 250]])
      path = "/v1beta/models/busy:generateContent"

      for delay <- ["1s", "0.25s"] do
        assert {429, _, reply} = call(port, path, gemini_body(), @gemini_auth)

        assert %{
                 "error" => %{
                   "code" => 429,
                   "status" => "RESOURCE_EXHAUSTED",
                   "details" => details
                 }
               } = JSON.decode!(reply)

        assert %{"retryDelay" => ^delay} = Enum.find(details, &(&1["@type"] =~ "RetryInfo"))
      end
    end

    test "other errors use canonical status names", %{fake: fake, port: port} do
      FakeProvider.script(fake, "gone", [
        [status: 404],
        [status: 503],
        [status: 500, type: "CUSTOM", code: 7]
      ])

      path = "/v1beta/models/gone:generateContent"
      assert {404, _, reply} = call(port, path, gemini_body(), @gemini_auth)

      assert %{
               "error" => %{
                 "code" => 404,
                 "status" => "NOT_FOUND",
                 "message" => "models/gone is not found" <> _
               }
             } = JSON.decode!(reply)

      assert {503, _, reply} = call(port, path, gemini_body(), @gemini_auth)
      assert %{"error" => %{"code" => 503, "status" => "UNAVAILABLE"}} = JSON.decode!(reply)
      assert {500, _, reply} = call(port, path, gemini_body(), @gemini_auth)
      assert %{"error" => %{"code" => 7, "status" => "CUSTOM"}} = JSON.decode!(reply)
    end

    test "a malformed body gets INVALID_ARGUMENT", %{port: port} do
      path = "/v1beta/models/m:generateContent"

      for body <- ["{not json", %{"contents" => []}, %{"prompt" => "hi"}] do
        assert {400, _, reply} = call(port, path, body, @gemini_auth)

        assert %{"error" => %{"code" => 400, "status" => "INVALID_ARGUMENT", "details" => [_]}} =
                 JSON.decode!(reply),
               inspect(body)
      end
    end

    test "tool calls are functionCall parts with object args", %{fake: fake, port: port} do
      FakeProvider.script(fake, "caller", tool_calls: [@weather])

      for path <- ["generateContent", "streamGenerateContent?alt=sse"] do
        assert {200, _, reply} =
                 call(port, "/v1beta/models/caller:" <> path, gemini_body(), @gemini_auth)

        objects =
          if is_list(reply),
            do: Enum.map(sse_events(reply), &elem(&1, 1)),
            else: [JSON.decode!(reply)]

        assert [
                 %{
                   "candidates" => [%{"content" => %{"parts" => parts}, "finishReason" => "STOP"}]
                 }
               ] = objects

        assert parts == [
                 %{"functionCall" => %{"name" => "get_weather", "args" => %{"city" => "Paris"}}}
               ]
      end
    end

    test "a mid-stream error is an error object chunk", %{fake: fake, port: port} do
      FakeProvider.script(fake, "broken", chunks: ["The", " sky"], midstream_error: "Stream broke")

      path = "/v1beta/models/broken:streamGenerateContent?alt=sse"
      assert {200, _, chunks} = call(port, path, gemini_body(), @gemini_auth)
      assert [{nil, first}, {nil, second}, {nil, error}] = sse_events(chunks)
      assert gemini_text(first) <> gemini_text(second) == "The sky"

      assert error == %{
               "error" => %{"code" => 500, "message" => "Stream broke", "status" => "INTERNAL"}
             }
    end

    test "function responses in a user turn do not change the prompt", %{port: port} do
      contents = [
        %{"role" => "user", "parts" => [%{"text" => @prompt}]},
        %{"role" => "model", "parts" => [%{"functionCall" => %{"name" => "f", "args" => %{}}}]},
        %{
          "role" => "user",
          "parts" => [%{"functionResponse" => %{"name" => "f", "response" => %{}}}]
        }
      ]

      path = "/v1beta/models/m:generateContent"
      assert {200, _, reply} = call(port, path, %{"contents" => contents}, @gemini_auth)
      assert gemini_content(reply) == FakeProvider.default_content("m", @prompt)
    end
  end

  describe "Ollama" do
    test "answers stream: false with one done object", %{port: port} do
      assert {200, headers, reply} =
               call(port, "/api/chat", ollama_body("llama-test", stream: false))

      assert {"content-type", "application/json"} in headers
      content = FakeProvider.default_content("llama-test", @prompt)

      assert %{
               "model" => "llama-test",
               "created_at" => "1970-01-01T00:00:00Z",
               "message" => %{"role" => "assistant", "content" => ^content},
               "done" => true,
               "done_reason" => "stop",
               "prompt_eval_count" => 5,
               "eval_count" => 8,
               "total_duration" => total
             } = JSON.decode!(reply)

      assert is_integer(total)
    end

    test "streams NDJSON when stream is absent, ending with done: true", %{port: port} do
      assert {200, headers, chunks} = call(port, "/api/chat", ollama_body("llama-test"))
      assert {"content-type", "application/x-ndjson"} in headers
      lines = Enum.map(chunks, &one(ndjson_lines(&1)))
      {partial, [last]} = Enum.split(lines, -1)

      for line <- partial do
        assert %{"model" => "llama-test", "done" => false, "message" => %{"role" => "assistant"}} =
                 line

        refute Map.has_key?(line, "eval_count")
      end

      assert Enum.map_join(partial, & &1["message"]["content"]) ==
               FakeProvider.default_content("llama-test", @prompt)

      assert %{
               "done" => true,
               "done_reason" => "stop",
               "message" => %{"content" => ""},
               "prompt_eval_count" => 5,
               "eval_count" => 8
             } = last
    end

    test "tool calls carry object arguments, whole in one line", %{fake: fake, port: port} do
      FakeProvider.script(fake, "llama", tool_calls: [@weather])
      assert {200, _, reply} = call(port, "/api/chat", ollama_body("llama", stream: false))

      expected = [
        %{
          "id" => "call_1",
          "function" => %{
            "index" => 0,
            "name" => "get_weather",
            "arguments" => %{"city" => "Paris"}
          }
        }
      ]

      assert %{
               "message" => %{"content" => "", "tool_calls" => ^expected},
               "done_reason" => "stop"
             } = JSON.decode!(reply)

      assert {200, _, chunks} = call(port, "/api/chat", ollama_body("llama"))
      assert [tool_line, done] = ndjson_lines(chunks)

      assert %{"done" => false, "message" => %{"content" => "", "tool_calls" => ^expected}} =
               tool_line

      assert %{"done" => true, "done_reason" => "stop"} = done
    end

    test "errors are a bare string", %{fake: fake, port: port} do
      FakeProvider.script(fake, "missing", status: 404)
      assert {404, _, reply} = call(port, "/api/chat", ollama_body("missing"))
      assert JSON.decode!(reply) == %{"error" => "model 'missing' not found"}

      for body <- ["{not json", %{"messages" => []}] do
        assert {400, _, reply} = call(port, "/api/chat", body)
        assert %{"error" => message} = JSON.decode!(reply)
        assert is_binary(message)
      end
    end

    test "a mid-stream error is an error line", %{fake: fake, port: port} do
      FakeProvider.script(fake, "broken", chunks: ["can"], midstream_error: true)
      assert {200, _, chunks} = call(port, "/api/chat", ollama_body("broken"))

      assert [%{"message" => %{"content" => "can"}, "done" => false}, error] =
               ndjson_lines(chunks)

      assert error == %{"error" => "an error was encountered while running the model"}
    end
  end

  describe "streaming" do
    # One HTTP chunk per piece, whatever the reads that brought them: a
    # client that reads late gets several at once, so counting reads made
    # this test fail on a busy machine. That each is sent on its own,
    # chunk_delay_ms apart, "the server-wide chunk delay spaces every
    # stream" shows with a lower bound on time, which load cannot break.
    test "scripted chunks are separate HTTP chunks, one NDJSON line each",
         %{fake: fake, port: port} do
      pieces = ["Hel", "lo, ", "wörld"]
      FakeProvider.script(fake, "chunky", chunks: pieces, chunk_delay_ms: 20)
      assert {200, _headers, chunks} = call(port, "/api/chat", ollama_body("chunky"))
      assert length(chunks) == length(pieces) + 1

      for {chunk, piece} <- Enum.zip(chunks, pieces) do
        assert [line, ""] = String.split(chunk, "\n")
        assert %{"message" => %{"content" => ^piece}, "done" => false} = JSON.decode!(line)
      end

      assert [done, ""] = String.split(List.last(chunks), "\n")
      assert %{"done" => true} = JSON.decode!(done)
    end

    test "the pieces may split words anywhere, in every dialect", %{fake: fake, port: port} do
      pieces = ["a", "b c", " ", "", "d"]
      FakeProvider.script(fake, "m", chunks: pieces)

      assert {200, _, chunks} = call(port, "/v1/chat/completions", openai_body("m", stream: true))

      assert for(
               {nil, %{"choices" => [%{"delta" => %{"content" => c}}]}} <- sse_events(chunks),
               do: c
             ) == ["" | pieces]

      assert {200, _, chunks} =
               call(port, "/v1/messages", anthropic_body("m", stream: true), @anthropic_auth)

      assert for({_, %{"delta" => %{"text" => t}}} <- sse_events(chunks), do: t) == pieces

      path = "/v1beta/models/m:streamGenerateContent?alt=sse"
      assert {200, _, chunks} = call(port, path, gemini_body(), @gemini_auth)
      assert Enum.map(sse_events(chunks), &gemini_text(elem(&1, 1))) == pieces

      assert {200, _, chunks} = call(port, "/api/chat", ollama_body("m"))
      assert Enum.map(ndjson_lines(chunks), & &1["message"]["content"]) == pieces ++ [""]
    end

    test "a non-streamed reply joins the chunks", %{fake: fake, port: port} do
      FakeProvider.script(fake, "m", chunks: ["one ", "two"])
      assert {200, _, reply} = call(port, "/v1/messages", anthropic_body("m"), @anthropic_auth)
      assert anthropic_content(reply) == "one two"
    end

    test "status, headers, body and close apply to streamed requests", %{fake: fake, port: port} do
      FakeProvider.script(fake, "m", [
        [status: 529],
        [headers: [{"x-request-id", "abc"}]],
        [body: "data: {broken\n\n", headers: [{"content-type", "text/event-stream"}]],
        [close: true]
      ])

      body = anthropic_body("m", stream: true)
      assert {529, _, reply} = call(port, "/v1/messages", body, @anthropic_auth)
      assert %{"error" => %{"type" => "overloaded_error"}} = JSON.decode!(reply)
      assert {200, headers, [_ | _]} = call(port, "/v1/messages", body, @anthropic_auth)
      assert {"x-request-id", "abc"} in headers

      assert {200, headers, "data: {broken\n\n"} =
               call(port, "/v1/messages", body, @anthropic_auth)

      assert {"content-type", "text/event-stream"} in headers

      socket = connect(port)
      :ok = :gen_tcp.send(socket, request("/v1/messages", body, @anthropic_auth))
      assert {:error, :closed} = :gen_tcp.recv(socket, 0, 30_000)
    end

    test "an HTTP/1.0 client gets the stream delimited by the connection closing", %{port: port} do
      socket = connect(port)
      :ok = :gen_tcp.send(socket, request("/api/chat", ollama_body("m"), [], "HTTP/1.0"))
      {200, headers} = recv_head(socket)
      refute List.keymember?(headers, "transfer-encoding", 0)
      assert {"connection", "close"} in headers
      lines = ndjson_lines(recv_until_closed(socket))
      assert %{"done" => true} = List.last(lines)
    end

    test "a client hanging up mid-stream stops the stream", %{fake: fake, port: port} do
      FakeProvider.script(fake, "slow", chunks: List.duplicate("x", 50), chunk_delay_ms: 100)
      socket = connect(port)
      :ok = :gen_tcp.send(socket, request("/api/chat", ollama_body("slow")))
      {200, _} = recv_head(socket)
      assert {:ok, _first} = :gen_tcp.recv(socket, 0, 30_000)
      assert FakeProvider.in_flight(fake) == 1
      :ok = :gen_tcp.close(socket)
      assert eventually(fn -> FakeProvider.in_flight(fake) == 0 end)
    end

    test "the server-wide chunk delay spaces every stream" do
      fake = start_supervised!({FakeProvider, name: :spaced_fake, chunk_delay_ms: 40})
      FakeProvider.script(fake, "m", chunks: ["a", "b", "c"])

      {time, {200, _, _}} =
        :timer.tc(fn -> call(FakeProvider.port(fake), "/api/chat", ollama_body("m")) end)

      # Three pauses: between the three pieces and the done line.
      assert div(time, 1000) >= 120
    end
  end

  describe "script/3 steps for dialects" do
    test ":message, :type and :code shape a mid-stream error", %{fake: fake, port: port} do
      FakeProvider.script(fake, "m", midstream_error: true, message: "gone", type: "api_error")
      body = anthropic_body("m", stream: true)
      assert {200, _, chunks} = call(port, "/v1/messages", body, @anthropic_auth)

      assert {"error", %{"error" => %{"type" => "api_error", "message" => "gone"}}} =
               List.last(sse_events(chunks))

      FakeProvider.script(fake, "m", midstream_error: "lost", code: "upstream")

      assert {200, _, chunks} =
               call(port, "/api/v1/chat/completions", openai_body("m", stream: true))

      assert {nil, %{"error" => %{"code" => "upstream", "message" => "lost"}}} =
               List.last(sse_events(chunks))
    end

    test "tool calls take atom keys and get ids in order", %{fake: fake, port: port} do
      FakeProvider.script(fake, "m", tool_calls: [[name: "a"], %{name: "b", arguments: %{x: 1}}])
      assert {200, _, reply} = call(port, "/v1/messages", anthropic_body("m"), @anthropic_auth)

      assert %{"content" => [first, second], "usage" => %{"output_tokens" => 2}} =
               JSON.decode!(reply)

      assert %{"id" => "call_1", "name" => "a", "input" => %{}} = first
      assert %{"id" => "call_2", "name" => "b", "input" => %{"x" => 1}} = second
    end

    test "rejects bad values", %{fake: fake} do
      for step <- [
            [chunks: "abc"],
            [chunks: [1]],
            [midstream_error: 1],
            [chunk_delay_ms: -1],
            [retry_delay_ms: "1s"],
            [tool_calls: %{}],
            [tool_calls: [%{"arguments" => %{}}]],
            [tool_calls: [%{"name" => "f", "arguments" => "{}"}]],
            [tool_calls: [%{"name" => "f", "id" => 1}]]
          ] do
        assert_raise ArgumentError, fn -> FakeProvider.script(fake, "m", step) end
      end
    end
  end

  ## Helpers

  defp openai_body(model, opts \\ []) do
    %{"model" => model, "messages" => [%{"role" => "user", "content" => @prompt}]}
    |> put_stream(opts)
  end

  defp anthropic_body(model, opts \\ []) do
    %{
      "model" => model,
      "max_tokens" => 64,
      "messages" => [%{"role" => "user", "content" => @prompt}]
    }
    |> put_stream(opts)
  end

  defp gemini_body, do: %{"contents" => [%{"role" => "user", "parts" => [%{"text" => @prompt}]}]}

  defp ollama_body(model, opts \\ []) do
    %{"model" => model, "messages" => [%{"role" => "user", "content" => @prompt}]}
    |> put_stream(opts)
  end

  defp put_stream(body, opts) do
    case Keyword.fetch(opts, :stream) do
      {:ok, stream} -> Map.put(body, "stream", stream)
      :error -> body
    end
  end

  # One request on a fresh connection.
  defp call(port, path, body, headers \\ []) do
    socket = connect(port)

    try do
      post(socket, path, body, headers)
    after
      :gen_tcp.close(socket)
    end
  end

  defp openai_content(reply) do
    %{"choices" => [%{"message" => %{"content" => content}}]} = JSON.decode!(reply)
    content
  end

  defp anthropic_content(reply) do
    %{"content" => [%{"type" => "text", "text" => text}]} = JSON.decode!(reply)
    text
  end

  defp anthropic_text(chunks) do
    for({"content_block_delta", %{"delta" => %{"text" => t}}} <- sse_events(chunks), do: t)
    |> Enum.join()
  end

  defp gemini_content(reply), do: reply |> JSON.decode!() |> gemini_text()

  defp gemini_text(%{"candidates" => [%{"content" => %{"parts" => parts}}]}) do
    Enum.map_join(parts, &Map.get(&1, "text", ""))
  end

  defp ollama_content(reply) do
    %{"message" => %{"content" => content}, "done" => true} = JSON.decode!(reply)
    content
  end

  defp one([item]), do: item

  # A generous deadline: a busy machine may take long, and it costs nothing
  # when `fun` soon holds.
  defp eventually(fun), do: CouncilEx.FakeCase.eventually(fun, 30_000)
end
