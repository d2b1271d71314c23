defmodule CouncilEx.MemberResult do
  @moduledoc """
  One member's outcome in one round: `:ok` with a `%CouncilEx.Response{}`;
  `:error`, `:timeout` or `:cancelled` with a `%CouncilEx.Error{}`;
  `:invalid_output` when the answer broke the member's `:output_schema` or
  its ballot could not be read (the error's `context.errors` lists why, and
  `response` keeps the answer); `:skipped` when the router left it out
  (`metadata.reason` is `:router_excluded`) or it had nothing to judge; and
  `:eliminated` when it lost a tournament pairing
  (`metadata.reason` is `:tournament_loss`).

  `confidence` is the member's confidence in 0..1 when it has
  `confidence: :self_report` (read from its reply) or `:logprob` (from the
  provider's token logprobs), else nil.
  """

  @typedoc "The outcome of a member's call."
  @type status :: :ok | :error | :timeout | :cancelled | :invalid_output | :skipped | :eliminated

  @typedoc "A member's result."
  @type t :: %__MODULE__{
          member_id: atom(),
          round_name: atom(),
          status: status(),
          response: CouncilEx.Response.t() | nil,
          error: CouncilEx.Error.t() | nil,
          model: String.t(),
          provider: atom(),
          latency_ms: non_neg_integer(),
          attempts: non_neg_integer(),
          confidence: float() | nil,
          metadata: map()
        }

  defstruct [
    :member_id,
    :round_name,
    :status,
    :response,
    :error,
    :model,
    :provider,
    latency_ms: 0,
    attempts: 1,
    confidence: nil,
    metadata: %{}
  ]

  @doc "The member's answer text, or nil when it failed."
  @spec content(t()) :: String.t() | nil
  def content(%__MODULE__{response: %CouncilEx.Response{content: content}}), do: content
  def content(%__MODULE__{}), do: nil
end
