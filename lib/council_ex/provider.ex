defmodule CouncilEx.Provider do
  @moduledoc """
  Provider configuration: named entries under `config :council_ex, :providers`.

      config :council_ex, :providers,
        openai: [
          adapter: CouncilEx.Provider.Adapters.OpenAI,
          api_key: {:system, "OPENAI_API_KEY"}
        ],
        openrouter: [
          adapter: CouncilEx.Provider.Adapters.OpenAI,
          api_key: {:system, "OPENROUTER_API_KEY"},
          base_url: "https://openrouter.ai/api/v1"
        ],
        ollama: [
          adapter: CouncilEx.Provider.Adapters.OpenAI,
          api_key: nil,
          base_url: "http://localhost:11434/v1"
        ]

  Provider ids are any atoms; one adapter can serve several ids. `:api_key`
  is a string, `{:system, "ENV_VAR"}` (read when a run starts) or `nil` for
  servers that need no key. Config is read when each run starts, so
  `Application.put_env/3` takes effect for the next run.
  """

  @doc """
  Looks up a provider id: `{:ok, {adapter, opts}}` or `{:error, :unknown_provider}`.
  """
  @spec resolve(atom()) :: {:ok, {module(), keyword()}} | {:error, :unknown_provider}
  def resolve(id) when is_atom(id) do
    providers = Application.get_env(:council_ex, :providers, [])

    case providers[id] do
      opts when is_list(opts) ->
        case Keyword.fetch(opts, :adapter) do
          {:ok, adapter} when is_atom(adapter) -> {:ok, {adapter, opts}}
          _ -> {:error, :unknown_provider}
        end

      _ ->
        {:error, :unknown_provider}
    end
  end

  def resolve(_id), do: {:error, :unknown_provider}

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
        {:error, "provider #{inspect(id)}: :api_key is missing (use nil for servers without keys)"}
    end
  end
end
