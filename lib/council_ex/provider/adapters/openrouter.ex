defmodule CouncilEx.Provider.Adapters.OpenRouter do
  @moduledoc """
  OpenRouter, and any OpenAI-compatible server that reads `max_tokens`:
  the OpenAI wire format plus OpenRouter's attribution headers and its
  `usage.cost`.

  Options: `:api_key`, `:base_url` (default
  `"https://openrouter.ai/api/v1"`), `:referer` and `:title` (sent as
  `HTTP-Referer` and `X-Title`), `:headers`. Model ids look like
  `"anthropic/claude-3.5-sonnet"` or `"openrouter/auto"`.
  """

  @behaviour CouncilEx.Provider.Adapter

  @impl true
  def codec, do: "openrouter"
end
