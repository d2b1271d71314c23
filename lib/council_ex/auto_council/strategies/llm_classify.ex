defmodule CouncilEx.AutoCouncil.Strategies.LLMClassify do
  @moduledoc """
  The `:llm_classify` strategy (an LLM picks the catalog entry from the
  descriptions) is not implemented in this version: it returns
  `{:error, :not_implemented}`.
  """
  @behaviour CouncilEx.AutoCouncil.Strategy

  @impl true
  def select(_input, _catalog, _opts), do: {:error, :not_implemented}
end
