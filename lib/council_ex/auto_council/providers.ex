defmodule CouncilEx.AutoCouncil.Providers do
  @moduledoc """
  Which providers a council references, and which of them are not
  configured (used by `CouncilEx.AutoCouncil`'s `provider_check: true`).
  """

  @doc """
  The provider ids a council's seats use, sub-councils included: a module
  council's `__providers__/0`, or a dynamic council's members' resolved
  profiles.
  """
  @spec of(module() | CouncilEx.DynamicCouncil.t()) :: MapSet.t()
  def of(council), do: CouncilEx.Spec.council_providers(council)

  @doc "The providers of `council` not configured under `config :council_ex, :providers`."
  @spec missing(module() | CouncilEx.DynamicCouncil.t()) :: [atom() | String.t()]
  def missing(council) do
    council
    |> of()
    |> Enum.reject(&match?({:ok, _}, CouncilEx.Provider.resolve(&1)))
    |> Enum.sort()
  end
end
