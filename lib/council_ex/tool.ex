defmodule CouncilEx.Tool do
  @moduledoc """
  A tool a member's model may call.

      defmodule MyApp.Tools.Weather do
        @behaviour CouncilEx.Tool

        @impl true
        def name, do: "get_weather"

        @impl true
        def description, do: "Current weather for a city."

        @impl true
        def parameters_schema do
          %{"type" => "object", "required" => ["city"], "properties" => %{"city" => %{"type" => "string"}}}
        end

        @impl true
        def execute(%{"city" => city}), do: {:ok, %{"city" => city, "temp_c" => 21}}
      end

      member :analyst, provider: :openai, model: "gpt-4o", tools: [MyApp.Tools.Weather]

  When the model asks for tools, its call pauses in the C round loop; the
  run's process broadcasts `:tool_call_request`, runs the tools (in
  parallel unless `parallel_tools: false`, at most
  `ceil(tool_concurrency_factor * System.schedulers_online())` at once,
  default factor 1.0, each within `tool_timeout_ms`, default 30 s),
  broadcasts `:tool_call_result`, and the conversation goes on with the
  results. `parallel_tools_strategy: :fail_fast` stops the other tools of
  a turn once one fails (they report an error); the default `:collect`
  waits for all. `tool_choice` (`:auto`, `:required`, `:none` or a tool
  name) and `max_tool_turns` (default 8) bound the loop; a reply with more
  than `max_tool_calls` tool calls (default 128) fails the call as
  `:too_many_tool_calls`. Tool turns count against the member's
  `timeout_ms`: a turn that outlives it ends the call as a timeout and
  its tools are stopped.

  `execute/1` gets the arguments the model sent, decoded with binary keys,
  and returns `{:ok, result}` (a binary is sent as is, anything else as
  JSON) or `{:error, reason}`.
  """

  @callback name() :: String.t()
  @callback description() :: String.t()
  @callback parameters_schema() :: map()
  @callback execute(args :: map()) :: {:ok, term()} | {:error, term()}

  @doc false
  def tool?(module) do
    is_atom(module) and Code.ensure_loaded?(module) and
      Enum.all?([name: 0, description: 0, parameters_schema: 0, execute: 1], fn {f, a} ->
        function_exported?(module, f, a)
      end)
  end
end
