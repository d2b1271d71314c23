defmodule CouncilEx.ProvidersTest do
  # One council seating a member on every provider, each against the fake
  # server speaking that provider's dialect.
  use CouncilEx.FakeCase, async: false

  alias CouncilEx.{Error, StreamChunk}
  alias CouncilEx.Provider.Adapters

  @adapters [
    openai: Adapters.OpenAI,
    openrouter: Adapters.OpenRouter,
    anthropic: Adapters.Anthropic,
    gemini: Adapters.Gemini,
    ollama: Adapters.Ollama
  ]

  defmodule Five do
    @moduledoc false
    use CouncilEx
    member(:gpt, provider: :p_openai, model: "gpt-x", max_tokens: 100)
    member(:router, provider: :p_openrouter, model: "vendor/model-r", temperature: 0.5)
    member(:claude, provider: :p_anthropic, model: "claude-x", system_prompt: "Be terse.")
    member(:gemini, provider: :p_gemini, model: "gemini-x")
    member(:llama, provider: :p_ollama, model: "llama-x")
    round(:independent_analysis)
    chair(:chair, provider: :p_anthropic, model: "claude-chair")
  end

  defmodule FiveStreaming do
    @moduledoc false
    use CouncilEx
    member(:gpt, provider: :p_openai, model: "gpt-x", stream: true)
    member(:router, provider: :p_openrouter, model: "vendor/model-r", stream: true)
    member(:claude, provider: :p_anthropic, model: "claude-x", stream: true)
    member(:gemini, provider: :p_gemini, model: "gemini-x", stream: true)
    member(:llama, provider: :p_ollama, model: "llama-x", stream: true)
  end

  setup %{fake: fake} do
    providers = Application.get_env(:council_ex, :providers)

    configured =
      for {dialect, adapter} <- @adapters do
        {:"p_#{dialect}",
         [
           adapter: adapter,
           api_key: "key-#{dialect}",
           base_url: FakeProvider.base_url(fake, dialect),
           title: "CouncilEx"
         ]}
      end

    Application.put_env(:council_ex, :providers, providers ++ configured)
    :ok
  end

  defp by_model(fake, model),
    do:
      Enum.filter(
        FakeProvider.requests(fake),
        &(&1.body["model"] == model or String.contains?(&1.path, model))
      )

  test "a council with members on all five providers completes", %{fake: fake} do
    assert {:ok, result} = CouncilEx.run(Five, "Which way?")
    assert result.status == :ok, inspect(result.errors)
    [members, _chair] = result.rounds

    for {id, model} <- [
          gpt: "gpt-x",
          router: "vendor/model-r",
          claude: "claude-x",
          gemini: "gemini-x",
          llama: "llama-x"
        ] do
      mr = members.member_results[id]

      assert mr.response.content ==
               CouncilEx.FakeProvider.Reply.default_content(model, "Which way?"),
             "#{id}"

      assert mr.response.usage.input_tokens > 0
    end

    assert result.final.content =~ "claude-chair answers:"

    # Each went out in its own dialect, with its own auth and options.
    dialects = FakeProvider.requests(fake) |> Enum.map(& &1.dialect) |> Enum.frequencies()
    assert dialects == %{openai: 1, openrouter: 1, anthropic: 2, gemini: 1, ollama: 1}
    [gpt] = by_model(fake, "gpt-x")
    assert gpt.body["max_completion_tokens"] == 100
    assert {"authorization", "Bearer key-openai"} in gpt.headers
    [router] = by_model(fake, "vendor/model-r")
    assert {"x-title", "CouncilEx"} in router.headers
    assert router.body["temperature"] == 0.5

    assert is_float(members.member_results[:router].response.usage.cost),
           "OpenRouter's usage.cost"

    refute Map.has_key?(members.member_results[:gpt].response.usage, :cost)
    assert members.member_results[:gemini].response.stop == :stop
    [claude] = by_model(fake, "claude-x")
    assert claude.body["system"] == "Be terse."
    assert {"x-api-key", "key-anthropic"} in claude.headers
    [gemini] = by_model(fake, "gemini-x")
    assert gemini.path =~ "/models/gemini-x:generateContent"
    assert {"x-goog-api-key", "key-gemini"} in gemini.headers
    [llama] = by_model(fake, "llama-x")
    assert llama.path == "/api/chat"
    assert llama.body["stream"] == false
  end

  test "streamed members broadcast tokens in order and assemble the same answers", %{fake: fake} do
    for model <- ["gpt-x", "vendor/model-r", "claude-x", "gemini-x", "llama-x"] do
      FakeProvider.script(fake, model, chunks: ["One ", "two ", "three."])
    end

    {:ok, pid} = CouncilEx.start(FiveStreaming, "Count.", subscribe: true)
    run_id = CouncilEx.RunServer.run_id(pid)
    events = collect_events(run_id)
    {:run_completed, _, result} = List.last(events)

    for id <- [:gpt, :router, :claude, :gemini, :llama] do
      chunks = for {:member_token, _, _, ^id, %StreamChunk{} = c} <- events, do: c

      assert Enum.map(chunks, & &1.content) == ["One ", "two ", "three."],
             "#{id}: #{inspect(chunks)}"

      assert Enum.map(chunks, & &1.index) == [0, 1, 2]
      assert hd(result.rounds).member_results[id].response.content == "One two three."
    end

    assert Enum.all?(
             FakeProvider.requests(fake),
             &(&1.body["stream"] == true or &1.query =~ "alt=sse")
           )
  end

  test "streams cut at any byte still assemble the same answers", %{fake: fake} do
    text = "Déjà vu, naïve café: ünïcode splits."

    for model <- ["gpt-x", "vendor/model-r", "claude-x", "gemini-x", "llama-x"] do
      FakeProvider.script(fake, model, content: text, split_bytes: 3)
    end

    {:ok, pid} = CouncilEx.start(FiveStreaming, "Count.", subscribe: true)
    events = collect_events(CouncilEx.RunServer.run_id(pid))
    {:run_completed, _, result} = List.last(events)

    for id <- [:gpt, :router, :claude, :gemini, :llama] do
      assert hd(result.rounds).member_results[id].response.content == text, "#{id}"
      tokens = for {:member_token, _, _, ^id, c} <- events, do: c.content
      assert IO.iodata_to_binary(tokens) == text
    end
  end

  test "a mid-stream error fails the member with the provider's message", %{fake: fake} do
    FakeProvider.script(fake, "claude-x", chunks: ["Part"], midstream_error: "Overloaded")
    {:ok, result} = CouncilEx.run(FiveStreaming, "q")
    claude = hd(result.rounds).member_results[:claude]
    assert %Error{provider: :p_anthropic, message: message} = claude.error
    assert message =~ "Overloaded"
  end

  test "errors are parsed per dialect: Anthropic 529 is transient, Gemini 429 carries its retry delay",
       %{fake: fake} do
    FakeProvider.script(fake, "claude-x", status: 529, message: "Overloaded")

    FakeProvider.script(fake, "gemini-x",
      status: 429,
      retry_delay_ms: 2500,
      message: "Quota exceeded"
    )

    {:ok, result} = CouncilEx.run(Five, "q")
    [members, _] = result.rounds

    assert %Error{kind: :transient, status: 529, provider: :p_anthropic, message: "Overloaded"} =
             members.member_results[:claude].error

    assert %Error{kind: :transient, status: 429, retry_after_ms: 2500, message: "Quota exceeded"} =
             members.member_results[:gemini].error
  end
end
