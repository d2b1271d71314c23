defmodule CouncilEx.ToolsTest do
  # A tool round trip on every provider dialect, against the fake server.
  use CouncilEx.FakeCase, async: false

  alias CouncilEx.{Error, ToolCall, ToolCallResult}
  alias CouncilEx.Provider.Adapters

  defmodule Weather do
    @moduledoc false
    @behaviour CouncilEx.Tool
    def name, do: "get_weather"
    def description, do: "Current weather for a city."

    def parameters_schema,
      do: %{"type" => "object", "properties" => %{"city" => %{"type" => "string"}}}

    def execute(%{"city" => "Nowhere"}), do: {:error, "no such city"}
    def execute(%{"city" => "Slow"}), do: Process.sleep(5_000) && {:ok, "late"}
    def execute(%{"city" => city}), do: {:ok, %{"city" => city, "temp_c" => 21}}
  end

  @dialects [
    openai: Adapters.OpenAI,
    openrouter: Adapters.OpenRouter,
    anthropic: Adapters.Anthropic,
    gemini: Adapters.Gemini,
    ollama: Adapters.Ollama
  ]

  for {dialect, _} <- @dialects do
    module = Module.concat(__MODULE__, "Council#{dialect}")

    defmodule module do
      @moduledoc false
      use CouncilEx

      member(:analyst,
        provider: :"t_#{dialect}",
        model: "tool-model",
        tools: [CouncilEx.ToolsTest.Weather],
        tool_timeout_ms: 300
      )
    end
  end

  setup %{fake: fake} do
    providers = Application.get_env(:council_ex, :providers)

    configured =
      for {d, adapter} <- @dialects,
          do:
            {:"t_#{d}",
             [adapter: adapter, api_key: "k", base_url: FakeProvider.base_url(fake, d)]}

    Application.put_env(:council_ex, :providers, providers ++ configured)
    :ok
  end

  defp council(dialect), do: Module.concat(__MODULE__, "Council#{dialect}")

  for {dialect, _} <- @dialects do
    test "a tool round trip over #{dialect}", %{fake: fake} do
      FakeProvider.script(fake, "tool-model", [
        [
          tool_calls: [
            %{"id" => "call_1", "name" => "get_weather", "arguments" => %{"city" => "Paris"}}
          ]
        ],
        [content: "It is 21 C in Paris."]
      ])

      {:ok, pid} =
        CouncilEx.start(council(unquote(dialect)), "Weather in Paris?", subscribe: true)

      run_id = CouncilEx.RunServer.run_id(pid)
      events = collect_events(run_id)
      {:run_completed, _, result} = List.last(events)

      assert hd(result.rounds).member_results[:analyst].response.content == "It is 21 C in Paris."

      assert [
               {:tool_call_request, _, :independent_analysis, :analyst,
                %ToolCall{name: "get_weather", args_raw: %{"city" => "Paris"}} = call}
             ] = Enum.filter(events, &(elem(&1, 0) == :tool_call_request))

      assert [
               {:tool_call_result, _, _, :analyst,
                %ToolCallResult{id: id, result: %{"temp_c" => 21}, error: nil}}
             ] = Enum.filter(events, &(elem(&1, 0) == :tool_call_result))

      assert id == call.id
      # Request, then result, then the member's completion.
      kinds =
        for e <- events,
            elem(e, 0) in [:tool_call_request, :tool_call_result, :member_completed],
            do: elem(e, 0)

      assert kinds == [:tool_call_request, :tool_call_result, :member_completed]

      [first, second] = FakeProvider.requests(fake)
      assert inspect(first.body) =~ "get_weather"
      assert inspect(second.body) =~ "temp_c", "the result went back to the model"
    end
  end

  test "tool errors and timeouts go back to the model as errors (:collect)", %{fake: fake} do
    FakeProvider.script(fake, "tool-model", [
      [
        tool_calls: [
          %{"id" => "a", "name" => "get_weather", "arguments" => %{"city" => "Nowhere"}},
          %{"id" => "b", "name" => "get_weather", "arguments" => %{"city" => "Slow"}},
          %{"id" => "c", "name" => "no_such_tool", "arguments" => %{}}
        ]
      ],
      [content: "Sorry."]
    ])

    {:ok, pid} = CouncilEx.start(council(:openai), "q", subscribe: true)
    events = collect_events(CouncilEx.RunServer.run_id(pid))
    results = for {:tool_call_result, _, _, _, r} <- events, into: %{}, do: {r.id, r}
    assert results["a"].error == "no such city"
    assert results["b"].error =~ "timed out after 300 ms"
    assert results["c"].error =~ "unknown tool"
    [_, second] = FakeProvider.requests(fake)
    assert inspect(second.body) =~ "no such city"
    {:run_completed, _, result} = List.last(events)
    assert hd(result.rounds).member_results[:analyst].response.content == "Sorry."
  end

  test ":fail_fast stops a turn at its first failing tool", %{fake: fake} do
    FakeProvider.script(fake, "tool-model", [
      [
        tool_calls: [
          %{"id" => "a", "name" => "get_weather", "arguments" => %{"city" => "Nowhere"}},
          %{"id" => "b", "name" => "get_weather", "arguments" => %{"city" => "Rome"}}
        ]
      ],
      [content: "Partial."]
    ])

    defmodule FailFast do
      @moduledoc false
      use CouncilEx

      member(:analyst,
        provider: :t_openai,
        model: "tool-model",
        tools: [CouncilEx.ToolsTest.Weather],
        parallel_tools: false,
        parallel_tools_strategy: :fail_fast
      )
    end

    {:ok, pid} = CouncilEx.start(FailFast, "q", subscribe: true)
    events = collect_events(CouncilEx.RunServer.run_id(pid))
    results = for {:tool_call_result, _, _, _, r} <- events, do: {r.id, r.error}
    assert [{"a", "no such city"}, {"b", "not run: another tool of this turn failed"}] = results
  end

  test "a model that keeps calling tools fails the member past max_tool_turns", %{fake: fake} do
    FakeProvider.script(fake, "tool-model", [
      [tool_calls: [%{"id" => "x", "name" => "get_weather", "arguments" => %{"city" => "Oslo"}}]]
    ])

    defmodule Loopy do
      @moduledoc false
      use CouncilEx

      member(:analyst,
        provider: :t_openai,
        model: "tool-model",
        tools: [CouncilEx.ToolsTest.Weather],
        max_tool_turns: 2
      )
    end

    {:error, result} = CouncilEx.run(Loopy, "q")
    assert %Error{reason: :too_many_tool_turns} = hd(result.rounds).member_results[:analyst].error
    assert length(FakeProvider.requests(fake)) == 3
  end

  test "tools on a Mock (dispatcher) seat and bad tool modules are refused" do
    defmodule MockTools do
      @moduledoc false
      use CouncilEx
      member(:m, provider: :mock, model: "m", tools: [CouncilEx.ToolsTest.Weather])
    end

    assert {:error, %Error{reason: :unsupported_option, message: m1}} =
             CouncilEx.run(MockTools, "q")

    assert m1 =~ "dispatcher"

    # A module that is not a tool is refused when the council compiles.
    assert_raise CompileError, ~r/member :m: String is not a CouncilEx.Tool/, fn ->
      defmodule BadTool do
        @moduledoc false
        use CouncilEx
        member(:m, provider: :t_openai, model: "m", tools: [String])
      end
    end
  end
end
