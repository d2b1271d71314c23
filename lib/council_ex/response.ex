defmodule CouncilEx.Response do
  @moduledoc "A provider's normalized answer to one chat call."

  @typedoc "Token usage as the provider reported it (`nil` when it did not)."
  @type usage :: %{input_tokens: non_neg_integer() | nil, output_tokens: non_neg_integer() | nil}

  @typedoc """
  A normalized response. `parsed` holds the decoded JSON answer of a member
  seated with an `:output_schema` (binary keys), once it passed the schema.
  """
  @type t :: %__MODULE__{
          content: String.t(),
          model: String.t() | nil,
          finish_reason: String.t() | nil,
          usage: usage(),
          parsed: term()
        }

  defstruct content: "", model: nil, finish_reason: nil, usage: %{input_tokens: nil, output_tokens: nil}, parsed: nil
end
