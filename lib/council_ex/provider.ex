defmodule CouncilEx.Provider do
  @moduledoc """
  Provider configuration: named entries under `config :council_ex, :providers`.

      config :council_ex, :providers,
        openai: [adapter: CouncilEx.Provider.Adapters.OpenAI, api_key: {:system, "OPENAI_API_KEY"}],
        anthropic: [adapter: CouncilEx.Provider.Adapters.Anthropic, api_key: {:system, "ANTHROPIC_API_KEY"}],
        gemini: [adapter: CouncilEx.Provider.Adapters.Gemini, api_key: {:system, "GEMINI_API_KEY"}],
        openrouter: [
          adapter: CouncilEx.Provider.Adapters.OpenRouter,
          api_key: {:system, "OPENROUTER_API_KEY"},
          referer: "https://example.com",
          title: "MyApp"
        ],
        ollama: CouncilEx.Provider.Adapters.Ollama.default_opts()

  Each adapter (`CouncilEx.Provider.Adapter`) names a C codec that builds
  the provider's URL, auth headers and request bodies and parses its
  replies, streams and errors; `:base_url` points it elsewhere (a gateway,
  a local server).

  Provider ids are any atoms; one adapter can serve several ids. `:api_key`
  is a string, `{:system, "ENV_VAR"}` (read when a run starts) or `nil` for
  servers that need no key. Config is read when each run starts, so
  `Application.put_env/3` takes effect for the next run.

  ## Dispatchers

  By default a seat's calls run over HTTP in the C engine. A provider entry
  with `dispatcher: Module` (and no `:adapter` or `:api_key` needed) hands
  each call to that module instead, in a task under the run's process:
  `CouncilEx.Providers.Mock` is one. A dispatcher implements this
  behaviour: `complete/2` gets a `%CouncilEx.Request{}` and the provider's
  options, and `stream/3`, when exported, is used for members seated with
  `stream: true`, calling its third argument with each
  `%CouncilEx.StreamChunk{}`.
  """

  @doc "Answers one chat call."
  @callback complete(CouncilEx.Request.t(), keyword()) ::
              {:ok, CouncilEx.Response.t()} | {:error, CouncilEx.Error.t() | term()}

  @doc "Answers one chat call, reporting the text as it is produced."
  @callback stream(CouncilEx.Request.t(), keyword(), (CouncilEx.StreamChunk.t() -> :ok)) ::
              {:ok, CouncilEx.Response.t()} | {:error, CouncilEx.Error.t() | term()}

  @optional_callbacks stream: 3

  @doc """
  Looks up a provider id: `{:ok, {adapter_or_dispatcher, opts}}` or
  `{:error, :unknown_provider}`. Entries with a `:dispatcher` resolve to it.
  """
  @spec resolve(atom(), keyword()) :: {:ok, {module(), keyword()}} | {:error, :unknown_provider}
  def resolve(id, providers \\ Application.get_env(:council_ex, :providers, []))

  def resolve(id, providers) when is_atom(id) and is_list(providers) do
    with opts when is_list(opts) <- providers[id],
         module when is_atom(module) and module != nil <- opts[:dispatcher] || opts[:adapter] do
      {:ok, {module, opts}}
    else
      _ -> {:error, :unknown_provider}
    end
  end

  def resolve(_id, _providers), do: {:error, :unknown_provider}

  @doc """
  Resolves a provider's API key without ever putting its value in an error.
  Returns `{:ok, key_or_nil}` or `{:error, message}`.
  """
  @spec api_key(atom(), keyword()) :: {:ok, String.t() | nil} | {:error, String.t()}
  def api_key(id, opts) do
    case Keyword.fetch(opts, :api_key) do
      {:ok, {:system, var}} when is_binary(var) ->
        case System.get_env(var) do
          key when is_binary(key) and key != "" ->
            header_safe(id, "environment variable #{var}", key)

          _ ->
            {:error, "provider #{inspect(id)}: environment variable #{var} is not set"}
        end

      {:ok, key} when is_binary(key) ->
        header_safe(id, ":api_key", key)

      {:ok, nil} ->
        {:ok, nil}

      {:ok, _other} ->
        {:error, "provider #{inspect(id)}: :api_key must be a string, {:system, \"ENV\"} or nil"}

      :error ->
        {:error,
         "provider #{inspect(id)}: :api_key is missing (use nil for servers without keys)"}
    end
  end

  # The key goes into a header: a line break or NUL in it would inject one.
  defp header_safe(id, where, key) do
    if header_value?(key),
      do: {:ok, key},
      else:
        {:error, "provider #{inspect(id)}: #{where} holds a control character (CR, LF or NUL)"}
  end

  @doc """
  Checks the parts of a provider's config that reach the wire, naming the
  provider and the key but never the value: `:base_url` (an http or https
  URL without spaces or control characters), `:headers` (`{name, value}`
  pairs of text without control characters), `:referer` and `:title`.
  """
  @spec check_config(atom(), keyword()) :: :ok | {:error, String.t()}
  def check_config(id, opts) do
    problem =
      cond do
        not url?(opts[:base_url]) ->
          ":base_url must be an http:// or https:// URL without spaces or control characters"

        not headers?(Keyword.get(opts, :headers, [])) ->
          ":headers must be a list of {name, value} with text names and values, without control characters"

        not (opts[:referer] == nil or header_value?(opts[:referer])) ->
          ":referer must be text without control characters"

        not (opts[:title] == nil or header_value?(opts[:title])) ->
          ":title must be text without control characters"

        true ->
          nil
      end

    if problem, do: {:error, "provider #{inspect(id)}: #{problem}"}, else: :ok
  end

  defp url?(nil), do: true

  defp url?(url) when is_binary(url) do
    (String.starts_with?(url, "http://") or String.starts_with?(url, "https://")) and
      String.valid?(url) and not String.match?(url, ~r/[\x00-\x20\x7f]/)
  end

  defp url?(_), do: false

  defp headers?(headers) when is_list(headers) do
    Enum.all?(headers, fn
      {name, value} ->
        header_value?(to_text(name)) and not String.contains?(to_text(name), [":", " "]) and
          header_value?(to_text(value))

      _ ->
        false
    end)
  end

  defp headers?(_), do: false

  defp to_text(v) when is_binary(v), do: v
  defp to_text(v) when is_atom(v) and v not in [nil, true, false], do: Atom.to_string(v)
  defp to_text(_), do: nil

  defp header_value?(v),
    do: is_binary(v) and String.valid?(v) and not String.match?(v, ~r/[\x00-\x1f\x7f]/)
end
