defmodule CouncilEx.Provider.Adapter do
  @moduledoc """
  A provider's wire protocol. The request bodies, URLs, auth headers and
  the parsing of replies and errors live in C (`c_src/providers/`); an
  adapter names the codec and documents the options its provider entry
  takes.

  Every adapter accepts `:api_key` (see `CouncilEx.Provider`), `:base_url`
  (the API root; each adapter has a default) and `:headers` (extra
  `{name, value}` headers sent with every call).
  """

  @doc "The name of the C codec speaking this protocol."
  @callback codec() :: String.t()

  @doc false
  # The seat fields the NIF reads to point a seat at the provider. The key
  # is a {:api_key, provider, member} placeholder in a plan; CouncilEx.Plan
  # puts the key in just before the map goes to the engine, and nowhere else.
  @spec endpoint(module(), keyword(), String.t() | nil | {:api_key, atom(), term()}) :: map()
  def endpoint(adapter, provider_opts, api_key) do
    %{
      codec: adapter.codec(),
      base_url: provider_opts[:base_url],
      api_key: api_key,
      referer: provider_opts[:referer],
      title: provider_opts[:title],
      headers:
        for({name, value} <- Keyword.get(provider_opts, :headers, []), do: "#{name}: #{value}")
    }
  end
end
