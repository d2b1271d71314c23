defmodule CouncilEx.AutoCouncil.Strategies.LLMBuild do
  @moduledoc """
  The `:llm_build` strategy (an LLM designs a council for the input) is
  not implemented in this version: it returns `{:error, :not_implemented}`.
  """
  @behaviour CouncilEx.AutoCouncil.Strategy

  @impl true
  def select(_input, _catalog, _opts), do: {:error, :not_implemented}
end
