defmodule CouncilEx.Error do
  # The reasons the BEAM side gives, by where they come from; the engine's
  # own are in c_src/enums.def (CouncilEx.Enums.reasons/0). One table each,
  # read by the docs and by @type reason below.
  @reasons [
    validation: [
      invalid_council: "the council breaks a rule (see `context.errors`)",
      invalid_option: "a run option is unknown or has a bad value",
      invalid_input: "the input is not a string, a map or a list of messages, or not valid text",
      not_a_council: "what was given is not a council",
      unknown_provider: "a seat's provider is not configured",
      invalid_provider: "a provider's config holds a bad URL, header or key",
      missing_api_key: "a provider's API key is not set",
      invalid_adapter: "a provider's adapter is not a `CouncilEx.Provider.Adapter`",
      invalid_dispatcher: "a provider's dispatcher is not a `CouncilEx.Provider`",
      invalid_output_schema: "an output schema does not compile",
      invalid_tool: "a tool's parameters schema does not encode as JSON",
      unsupported_option: "an option this version cannot run yet",
      invalid_spec: "the engine refused the run's spec (a bug: validation should have)",
      no_match: "an `CouncilEx.AutoCouncil` found no council for the input",
      not_implemented: "an `CouncilEx.AutoCouncil` strategy this version does not have"
    ],
    run: [
      hook_failed: "a router, custom round, `until` or judge function failed",
      router_failed: "a router raised or answered something unusable",
      unknown_members: "a router picked members the council does not have",
      dispatcher_crashed: "a BEAM dispatcher (such as the Mock) crashed",
      sub_council_failed: "a sub-council's run failed",
      strategy_failed: "an `CouncilEx.AutoCouncil` strategy failed",
      overloaded: "the engine could not take the run",
      await_timeout: "`run/3`'s `:await_timeout` passed first",
      supervisor_unavailable: "the `CouncilEx.Supervisor` is not running"
    ]
  ]

  @moduledoc """
  A classified failure: a member's call, a round or a whole run.

  ## Kinds

    * `:transient` - retrying may help (HTTP 429 and 5xx, connection failures)
    * `:permanent` - retrying will not help (other 4xx, malformed responses)
    * `:timeout` - the call passed its connect or total timeout
    * `:cancelled` - the run was cancelled or its owner died
    * `:validation` - the council, its options or its input were rejected

  ## Reasons

  `reason` is a short atom. From the engine (a call's or a run's failure):

  #{Enum.map_join(CouncilEx.Enums.reasons(), "\n", fn {name, text} -> "  * `#{inspect(name)}` - #{text}" end)}

  Before a run starts (`kind: :validation`):

  #{Enum.map_join(@reasons[:validation], "\n", fn {name, text} -> "  * `#{inspect(name)}` - #{text}" end)}

  While it runs:

  #{Enum.map_join(@reasons[:run], "\n", fn {name, text} -> "  * `#{inspect(name)}` - #{text}" end)}

  A dispatcher's or a hook's own error keeps the reason it gave.
  `status`, `type`, `code` and `message` carry what the provider said; API
  keys never appear in any field.
  """

  # The engine classifies with these kinds too (c_src/enums.def).
  for kind <- CouncilEx.Enums.error_kinds() -- [:ok],
      kind not in [:transient, :permanent, :timeout, :cancelled],
      do: raise("c_src/enums.def: error kind #{inspect(kind)} is not a CouncilEx.Error kind")

  @typedoc "How a failure is classified."
  @type kind :: :transient | :permanent | :timeout | :cancelled | :validation

  @typedoc "Why, as a short atom (see \"Reasons\"); a dispatcher's or hook's own error may carry any term."
  @type reason ::
          unquote(
            (Enum.map(CouncilEx.Enums.reasons(), &elem(&1, 0)) ++
               Keyword.keys(@reasons[:validation] ++ @reasons[:run]))
            |> Enum.uniq()
            |> Enum.reduce(quote(do: term()), &{:|, [], [&1, &2]})
          )

  @typedoc "A classified failure."
  @type t :: %__MODULE__{
          kind: kind(),
          reason: reason(),
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
