defmodule CouncilEx.Response do
  @moduledoc "A provider's normalized answer to one chat call."

  @typedoc """
  Token usage as the provider reported it (`nil` when it did not), and
  `:cost` when the provider reports one (OpenRouter's `usage.cost`).
  """
  @type usage :: %{
          required(:input_tokens) => non_neg_integer() | nil,
          required(:output_tokens) => non_neg_integer() | nil,
          optional(:cost) => float()
        }

  @typedoc """
  A normalized response. `finish_reason` is the provider's own word; `stop`
  the same normalized across providers (`:stop`, `:length`, `:tool_calls`,
  `:content_filter`, `:other`, `:none`). `parsed` holds the decoded JSON
  answer of a member seated with an `:output_schema` (binary keys), once it
  passed the schema.
  """
  @type t :: %__MODULE__{
          content: String.t(),
          model: String.t() | nil,
          finish_reason: String.t() | nil,
          usage: usage(),
          stop: atom() | nil,
          parsed: term()
        }

  defstruct content: "",
            model: nil,
            finish_reason: nil,
            usage: %{input_tokens: nil, output_tokens: nil},
            stop: nil,
            parsed: nil
end
