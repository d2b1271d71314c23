defmodule CouncilEx.AutoCouncil.Strategies.Embedding do
  @moduledoc """
  The `:embedding` strategy (nearest catalog `:vector` to the input's
  embedding) is not implemented in this version: it returns
  `{:error, :not_implemented}`, which `CouncilEx.AutoCouncil.resolve/2`
  reports as an error (a `:cascade` passes over it).
  """
  @behaviour CouncilEx.AutoCouncil.Strategy

  @impl true
  def select(_input, _catalog, _opts), do: {:error, :not_implemented}
end
