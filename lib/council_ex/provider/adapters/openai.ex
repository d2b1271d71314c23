defmodule CouncilEx.Provider.Adapters.OpenAI do
  @moduledoc """
  OpenAI chat completions (`POST {base_url}/chat/completions`,
  `Authorization: Bearer`). The output cap goes out as
  `max_completion_tokens`, which current OpenAI models require.

  Options: `:api_key`, `:base_url` (default `"https://api.openai.com/v1"`),
  `:headers`. For other OpenAI-compatible servers (vLLM, LM Studio,
  Ollama's `/v1`), which mostly read `max_tokens`, use
  `CouncilEx.Provider.Adapters.OpenRouter` with their `:base_url`, or
  `CouncilEx.Provider.Adapters.Ollama` for Ollama.
  """

  @behaviour CouncilEx.Provider.Adapter

  @impl true
  def codec, do: "openai"
end
