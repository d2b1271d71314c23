defmodule CouncilEx.Provider.Adapters.Gemini do
  @moduledoc """
  Google Gemini `generateContent`
  (`POST {base_url}/models/{model}:generateContent`, `x-goog-api-key`).
  System prompts go in `systemInstruction`; sampling in `generationConfig`.

  Options: `:api_key`, `:base_url` (default
  `"https://generativelanguage.googleapis.com/v1beta"`), `:headers`.
  """

  @behaviour CouncilEx.Provider.Adapter

  @impl true
  def codec, do: "gemini"
end
