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
