defmodule CouncilEx.Provider.Adapters.OpenAI do
  @moduledoc """
  The OpenAI chat-completions wire format, spoken by OpenAI itself and by
  OpenAI-compatible servers: OpenRouter (`base_url:
  "https://openrouter.ai/api/v1"`), Ollama's `/v1` (`base_url:
  "http://localhost:11434/v1"`), vLLM, LM Studio and others.

  The request body is built and the response parsed in C
  (`c_src/openai_codec.c`); this module only names the endpoint and the
  headers.

  ## Options

    * `:api_key` - sent as `Authorization: Bearer <key>` (see `CouncilEx.Provider`)
    * `:base_url` - defaults to `"https://api.openai.com/v1"`
    * `:headers` - extra `{name, value}` headers sent with every call
  """

  @default_base_url "https://api.openai.com/v1"

  @doc "The chat-completions URL for these provider options."
  @spec endpoint(keyword()) :: String.t()
  def endpoint(opts) do
    String.trim_trailing(Keyword.get(opts, :base_url, @default_base_url), "/") <>
      "/chat/completions"
  end

  @doc "The request headers, as `Name: value` lines, for an API key and options."
  @spec headers(String.t() | nil, keyword()) :: [String.t()]
  def headers(api_key, opts) do
    auth = if api_key, do: ["Authorization: Bearer " <> api_key], else: []
    extra = for {name, value} <- Keyword.get(opts, :headers, []), do: "#{name}: #{value}"
    auth ++ extra
  end
end
