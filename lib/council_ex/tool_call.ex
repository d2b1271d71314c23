defmodule CouncilEx.ToolCall do
  @moduledoc """
  A tool call a member's model asked for, broadcast as
  `{:tool_call_request, run_id, round, member_id, %CouncilEx.ToolCall{}}`.

  `id` is the provider's call id (needed to answer it), `args_raw` the
  arguments as the model sent them (a map with binary keys), `args_parsed`
  the arguments cast for the tool, when it declares a schema.
  """

  @typedoc "A requested tool call."
  @type t :: %__MODULE__{id: String.t(), name: String.t(), args_raw: map(), args_parsed: term()}

  defstruct [:id, :name, args_raw: %{}, args_parsed: nil]
end

defmodule CouncilEx.ToolCallResult do
  @moduledoc """
  The outcome of a tool call, broadcast as
  `{:tool_call_result, run_id, round, member_id, %CouncilEx.ToolCallResult{}}`
  and sent back to the model. Exactly one of `result` and `error` is set.
  """

  @typedoc "A tool call's outcome."
  @type t :: %__MODULE__{id: String.t(), name: String.t(), result: term(), error: term()}

  defstruct [:id, :name, :result, :error]
end
