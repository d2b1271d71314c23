defmodule CouncilEx.Request do
  @moduledoc """
  One chat call as a dispatcher sees it (see `CouncilEx.Provider`).

  Runs built by the C round loop hand requests to BEAM dispatchers, such as
  `CouncilEx.Providers.Mock`, for seats whose provider names a
  `:dispatcher`; `messages` then hold exactly what the round rendered.
  """

  @typedoc "A chat message: `%{role: \"system\" | \"user\" | \"assistant\", content: binary}`."
  @type message :: %{role: String.t(), content: String.t()}

  @typedoc "A chat request."
  @type t :: %__MODULE__{
          model: String.t(),
          messages: [message()],
          temperature: float() | nil,
          max_tokens: pos_integer() | nil,
          member_id: atom() | String.t() | nil,
          round_name: atom() | nil,
          run_id: String.t() | nil,
          stream: boolean(),
          tools: [module()] | nil,
          tool_choice: nil | :auto | :required | :none | String.t(),
          parallel_tools: boolean(),
          parallel_tools_strategy: :collect | :fail_fast,
          tool_concurrency_factor: float(),
          tool_timeout_ms: pos_integer(),
          response_schema: module() | {:json_schema, map()} | nil,
          metadata: map()
        }

  defstruct model: nil,
            messages: [],
            temperature: nil,
            max_tokens: nil,
            member_id: nil,
            round_name: nil,
            run_id: nil,
            stream: false,
            tools: nil,
            tool_choice: nil,
            parallel_tools: true,
            parallel_tools_strategy: :collect,
            tool_concurrency_factor: 1.0,
            tool_timeout_ms: 30_000,
            response_schema: nil,
            metadata: %{}
end
