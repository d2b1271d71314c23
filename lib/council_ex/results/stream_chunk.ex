defmodule CouncilEx.StreamChunk do
  @moduledoc """
  A piece of a streamed answer, broadcast as
  `{:member_token, run_id, round, member_id, %CouncilEx.StreamChunk{}}` for
  members seated with `stream: true`. Joining every chunk's `content` in
  order gives the member's whole answer.
  """

  @typedoc """
  A streamed piece of text. `index` counts the member's chunks from 0 (a
  retried call starts again at 0); `finish_reason` may be set on the last
  one.
  """
  @type t :: %__MODULE__{
          content: String.t(),
          finish_reason: nil | :stop | :length | :tool_calls | :content_filter,
          index: non_neg_integer()
        }

  defstruct content: "", finish_reason: nil, index: 0
end
