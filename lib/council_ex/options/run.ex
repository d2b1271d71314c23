defmodule CouncilEx.Options.Run do
  @moduledoc false
  # The run options of CouncilEx.start/3 and friends, as data: one place
  # validates them and documents them (see CouncilEx.docs/0 use in the
  # CouncilEx moduledoc).

  @schema [
    run_id: {"a non-empty binary", "the run's id; generated when absent"},
    registry:
      {"an atom naming a :unique Registry",
       "the Registry the run registers in (default CouncilEx.RunServer.default_registry/0)"},
    subscribe:
      {"a boolean",
       "subscribe the caller to the run's topics before the run starts, so no event is missed"},
    relay_topics:
      {"a list of binaries", "extra PubSub topics that receive every event of the run"},
    recorder:
      {"{module, args} with a CouncilEx.Recorder module",
       "a recorder process started before the run (see CouncilEx.Recorder)"},
    verbose:
      {"true, false or :debug", "print a timeline of the run (`:debug` adds prompts and answers)"},
    verbose_io: {"an IO device", "where `:verbose` prints (default :stdio)"},
    member_timeout_ms:
      {"a positive integer",
       "total time a member's call may take (default 120 s; a seat's :timeout_ms wins)"},
    connect_timeout_ms: {"a positive integer", "connect timeout of each call (default 10 s)"},
    retry:
      {"{max_attempts, base_ms} with 1..100 attempts",
       "retry transient failures (429, 5xx, connection errors) up to max_attempts in all, waiting base_ms * 2^n with jitter, or the provider's retry-after hint; timed in the engine. A member's :retry wins; default config :council_ex, :default_retry, else {2, 1000}"},
    max_response_bytes:
      {"a positive integer", "larger response bodies fail the call (default 8 MiB)"},
    retention_ms:
      {"a non-negative integer",
       "how long a finished run stays registered for await/2 and state/2 (default 60 s)"},
    await_timeout:
      {"a non-negative integer or :infinity",
       "run/3 only: how long to wait for the result (default :infinity)"},
    auto:
      {"a map",
       "internal: set by CouncilEx when it runs a `CouncilEx.AutoCouncil`, to the choice it made (`%{strategy, kind, catalog_id, reason, latency_ms, score}`), which the result reports as `metadata.auto`; not for callers"}
  ]

  @doc "The known option names."
  def names, do: Keyword.keys(@schema)

  @doc "Markdown list of the options, for docs."
  def docs do
    Enum.map_join(@schema, "\n", fn {key, {_type, doc}} -> "  * `#{inspect(key)}` - #{doc}" end)
  end

  @doc "Raises ArgumentError naming the first bad option; returns the options."
  def validate!(opts) do
    Enum.each(opts, fn {key, value} ->
      case Keyword.fetch(@schema, key) do
        {:ok, {type, _}} ->
          unless valid?(key, value),
            do:
              raise(
                ArgumentError,
                "invalid value for run option #{inspect(key)}: expected #{type}, got: #{inspect(value)}"
              )

        :error ->
          raise ArgumentError,
                "unknown run option #{inspect(key)}; known options: #{inspect(names())}"
      end
    end)

    opts
  end

  defp valid?(:run_id, v), do: is_binary(v) and v != ""
  defp valid?(:registry, v), do: is_atom(v) and v != nil
  defp valid?(:subscribe, v), do: is_boolean(v)
  defp valid?(:relay_topics, v), do: is_list(v) and Enum.all?(v, &is_binary/1)
  defp valid?(:recorder, {mod, _args}), do: is_atom(mod) and CouncilEx.Recorder.recorder?(mod)
  defp valid?(:recorder, _), do: false
  defp valid?(:verbose, v), do: v in [true, false, :debug]
  defp valid?(:verbose_io, v), do: is_pid(v) or (is_atom(v) and v != nil)
  defp valid?(:retention_ms, v), do: is_integer(v) and v >= 0
  defp valid?(:retry, {n, base}), do: n in 1..100 and is_integer(base) and base >= 0
  defp valid?(:retry, _), do: false
  defp valid?(:await_timeout, v), do: v == :infinity or (is_integer(v) and v >= 0)
  defp valid?(:auto, v), do: is_map(v) and not is_struct(v)
  defp valid?(_pos_integer, v), do: is_integer(v) and v > 0
end
