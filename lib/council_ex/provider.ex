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
          key when is_binary(key) and key != "" -> {:ok, key}
          _ -> {:error, "provider #{inspect(id)}: environment variable #{var} is not set"}
        end

      {:ok, key} when is_binary(key) or is_nil(key) ->
        {:ok, key}

      {:ok, _other} ->
        {:error, "provider #{inspect(id)}: :api_key must be a string, {:system, \"ENV\"} or nil"}

      :error ->
        {:error,
         "provider #{inspect(id)}: :api_key is missing (use nil for servers without keys)"}
    end
  end
end
