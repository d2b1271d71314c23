defmodule CouncilEx.Error do
  @moduledoc """
  A classified failure: a member's call, a round or a whole run.

  ## Kinds

    * `:transient` - retrying may help (HTTP 429 and 5xx, connection failures)
    * `:permanent` - retrying will not help (other 4xx, malformed responses)
    * `:timeout` - the call passed its connect or total timeout
    * `:cancelled` - the run was cancelled or its owner died
    * `:validation` - the council, its options or its input were rejected

  `reason` is a short atom (`:http_error`, `:connect_failed`,
  `:response_too_large`, `:invalid_json`, `:no_member_succeeded`, ...).
  `status`, `type`, `code` and `message` carry what the provider said;
  API keys never appear in any field.
  """

  @typedoc "How a failure is classified."
  @type kind :: :transient | :permanent | :timeout | :cancelled | :validation

  @typedoc "A classified failure."
  @type t :: %__MODULE__{
          kind: kind(),
          reason: atom() | term(),
          message: String.t() | nil,
          member_id: atom() | nil,
          round_name: atom() | nil,
          provider: atom() | nil,
          status: pos_integer() | nil,
          type: String.t() | nil,
          code: String.t() | nil,
          retry_after_ms: non_neg_integer() | nil,
          context: map(),
          stacktrace: list() | nil
        }

  defexception [
    :kind,
    :reason,
    :message,
    :member_id,
    :round_name,
    :provider,
    :status,
    :type,
    :code,
    :retry_after_ms,
    context: %{},
    stacktrace: nil
  ]

  @impl true
  def message(%__MODULE__{} = e) do
    where =
      if e.member_id,
        do: " (member #{inspect(e.member_id)}, round #{inspect(e.round_name)})",
        else: ""

    status = if e.status, do: " HTTP #{e.status}", else: ""
    provider = if e.provider, do: " from #{inspect(e.provider)}", else: ""
    "#{e.kind} #{inspect(e.reason)}#{status}#{provider}#{where}: #{e.message || "no message"}"
  end

  @doc "True for errors worth retrying (`kind: :transient`)."
  @spec retryable?(t()) :: boolean()
  def retryable?(%__MODULE__{kind: kind}), do: kind == :transient
end
