defmodule CouncilEx.Provider.Adapters.Anthropic do
  @moduledoc """
  Anthropic Messages (`POST {base_url}/messages`, `x-api-key`,
  `anthropic-version: 2023-06-01`). System prompts go in the top-level
  `system` field; `max_tokens`, which Anthropic requires, defaults to 4096.

  Options: `:api_key`, `:base_url` (default `"https://api.anthropic.com/v1"`),
  `:headers`.
  """

  @behaviour CouncilEx.Provider.Adapter

  @impl true
  def codec, do: "anthropic"
end
