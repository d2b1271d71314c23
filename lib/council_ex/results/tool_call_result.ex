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
