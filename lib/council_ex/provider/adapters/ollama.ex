defmodule CouncilEx.Provider.Adapters.Ollama do
  @moduledoc """
  Ollama's native chat API (`POST {base_url}/api/chat`): sampling goes in
  `options` (`temperature`, `num_predict`), no key is needed.

      config :council_ex, :providers,
        ollama: CouncilEx.Provider.Adapters.Ollama.default_opts()

  Options: `:api_key` (sent as a Bearer token when set, for proxies),
  `:base_url` (default `"http://localhost:11434"`), `:headers`.
  """

  @behaviour CouncilEx.Provider.Adapter

  @impl true
  def codec, do: "ollama"

  @doc """
  A provider entry for a local Ollama: no key, the default port. `overrides`
  (e.g. `base_url: "http://gpu-box:11434"`) win.

      iex> CouncilEx.Provider.Adapters.Ollama.default_opts()
      [adapter: CouncilEx.Provider.Adapters.Ollama, api_key: nil, base_url: "http://localhost:11434"]
  """
  @spec default_opts(keyword()) :: keyword()
  def default_opts(overrides \\ []) do
    Keyword.merge(
      [adapter: __MODULE__, api_key: nil, base_url: "http://localhost:11434"],
      overrides
    )
  end
end
