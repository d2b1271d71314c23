defmodule CouncilEx.Options.Run do
  @moduledoc false
  # The run options of CouncilEx.start/3 and its kin, as data: one schema
  # validates them (once, in the caller, before any process starts) and
  # documents them (the CouncilEx moduledoc renders docs/0).

  alias CouncilEx.Options.Schema

  @schema [
    run_id: [type: :string, doc: "the run's id (a non-empty string); generated when absent"],
    registry: [
      type: :atom,
      doc:
        "the `:unique` Registry the run registers in (default `CouncilEx.RunServer.default_registry/0`)"
    ],
    subscribe: [
      type: :boolean,
      doc: "subscribe the caller to the run's topics before the run starts, so no event is missed"
    ],
    relay_topics: [
      type: {:custom, &__MODULE__.topics/2},
      doc: "extra PubSub topics (strings) that receive every event of the run"
    ],
    owner: [
      type: {:custom, &__MODULE__.owner/2},
      doc:
        "a pid the run watches (a monitor, not a link): when it exits, the run stops with `{:shutdown, {:owner_down, reason}}` and everything it started stops too; the owner is not affected by the run's end"
    ],
    recorder: [
      type: {:custom, &__MODULE__.recorder/2},
      doc: "`{module, args}`: a `CouncilEx.Recorder` process started before the run"
    ],
    verbose: [
      type: {:in, [true, false, :debug]},
      doc: "print a timeline of the run; `:debug` adds each call's prompt and answer"
    ],
    verbose_io: [
      type: {:custom, &__MODULE__.device/2},
      doc: "where `:verbose` prints: a pid or a registered name (default `:stdio`)"
    ],
    member_timeout_ms: [
      type: :pos_integer,
      default: 120_000,
      config: :member_timeout_ms,
      doc:
        "the whole budget of a member's call, from its start: every attempt, backoff wait and tool turn (default 120 s, or `config :council_ex, :member_timeout_ms`; a seat's `:timeout_ms` wins). A seat's `:request_timeout_ms` bounds one attempt"
    ],
    connect_timeout_ms: [
      type: :pos_integer,
      default: 10_000,
      config: :connect_timeout_ms,
      doc:
        "connect timeout of each call (default 10 s, or `config :council_ex, :connect_timeout_ms`)"
    ],
    retry: [
      type: :retry,
      default: {2, 1000},
      config: :default_retry,
      doc:
        "`{max_attempts, base_ms}`: retry transient failures (429, 5xx, connection errors, attempts cut short by `:request_timeout_ms`) up to max_attempts (1..100) in all, waiting base_ms * 2^n with jitter, or the provider's retry-after hint; timed in the engine, and never past the member's timeout budget (a wait that would end after it fails the call as `:timeout` at once). A member's `:retry` wins; default `config :council_ex, :default_retry`, else `{2, 1000}`"
    ],
    max_response_bytes: [
      type: :pos_integer,
      default: 8 * 1024 * 1024,
      config: :max_response_bytes,
      doc: "larger response bodies fail the call (default 8 MiB)"
    ],
    retention_ms: [
      type: :non_neg_integer,
      default: 60_000,
      config: :retention_ms,
      doc:
        "how long a finished run stays registered for `await/2` and `state/2` (default 60 s, or `config :council_ex, :retention_ms`)"
    ],
    await_timeout: [
      type: {:or, [:non_neg_integer, {:in, [:infinity]}]},
      doc: "`run/3` only: how long to wait for the result (default `:infinity`)"
    ],
    auto: [
      type: {:custom, &__MODULE__.auto/2},
      doc:
        "internal: set by CouncilEx when it runs a `CouncilEx.AutoCouncil`, to the choice it made (`%{strategy, kind, catalog_id, reason, latency_ms, score}`), which the result reports as `metadata.auto`; not for callers"
    ]
  ]

  # The options with a default in the application's config.
  @configured for {key, entry} <- @schema, entry[:config], do: {key, entry[:config], entry[:type]}

  @doc "The run options' schema."
  @spec schema() :: Schema.t()
  def schema, do: @schema

  @doc "The known option names."
  @spec names() :: [atom()]
  def names, do: Keyword.keys(@schema)

  @doc "Markdown list of the options, for docs."
  @spec docs() :: String.t()
  def docs, do: Schema.docs(@schema)

  @doc """
  The problems of a run's options, as `%{path: ["options", key], code,
  message}` maps; `[]` when they are fine.
  """
  @spec errors(term()) :: [CouncilEx.Council.Rules.error()]
  def errors(opts) do
    if is_list(opts) and Keyword.keyword?(opts) do
      for {key, code, message} <- Schema.errors(@schema, opts),
          do: %{
            path: ["options", to_string(key)],
            code: code,
            message: message(key, code, message)
          }
    else
      [
        %{
          path: ["options"],
          code: :invalid_option,
          message: "expected run options as a keyword list, got: #{Schema.show(opts)}"
        }
      ]
    end
  end

  @doc """
  A run setting: the run option when given, else the application's
  `config :council_ex` value (`:default_retry` for `:retry`), else the
  default. Only for options with a default.
  """
  @spec setting(keyword(), atom()) :: term()
  def setting(opts, key) do
    entry = Keyword.fetch!(@schema, key)

    Keyword.get_lazy(opts, key, fn ->
      Application.get_env(:council_ex, entry[:config], entry[:default])
    end)
  end

  @doc """
  The problems of the run-wide defaults set in the application's config
  (`config :council_ex, member_timeout_ms: ...`), as errors with path
  `["config", key]`.
  """
  @spec config_errors() :: [CouncilEx.Council.Rules.error()]
  def config_errors do
    for {key, config, type} <- @configured,
        {:ok, value} <- [Application.fetch_env(:council_ex, config)],
        {_, code, message} <- Schema.check(type, key, value, nil) do
      %{
        path: ["config", to_string(config)],
        code: code,
        message: "config :council_ex, #{inspect(config)}: " <> message
      }
    end
  end

  defp message(key, :unknown_option, _message),
    do: "unknown run option #{inspect(key)}; known options: #{inspect(names())}"

  defp message(key, _code, message),
    do:
      "invalid value for run option #{inspect(key)}: " <>
        String.replace_prefix(message, "expected #{key} to be ", "expected ")

  @doc false
  def topics(topics, _context) do
    if is_list(topics) and Enum.all?(topics, &is_binary/1),
      do: :ok,
      else: {:error, "a list of strings"}
  end

  @doc false
  def recorder({module, _args}, _context) when is_atom(module) do
    if CouncilEx.Recorder.recorder?(module),
      do: :ok,
      else: {:error, "{module, args} with a CouncilEx.Recorder module"}
  end

  def recorder(_other, _context), do: {:error, "{module, args} with a CouncilEx.Recorder module"}

  @doc false
  def owner(pid, _context) when is_pid(pid), do: :ok
  def owner(_other, _context), do: {:error, "a pid"}

  @doc false
  def device(io, _context) when is_pid(io) or (is_atom(io) and io not in [nil, true, false]),
    do: :ok

  def device(_io, _context), do: {:error, "a pid or a registered name"}

  @doc false
  def auto(map, _context) when is_map(map) and not is_struct(map), do: :ok
  def auto(_other, _context), do: {:error, "a map"}
end
