defmodule CouncilEx.AutoCouncil.Strategy do
  @moduledoc ~S"""
  How an `CouncilEx.AutoCouncil` picks a council.

  A strategy gets the run's input, the catalog (entries as
  `t:CouncilEx.AutoCouncil.entry/0`, in order) and its options, and
  answers one of:

    * `{:ok, entry, info}` - run `entry.council`; `info` may carry
      `:reason` (a string), `:score` (a number) and `:kind` (default
      `:catalog`; a strategy that builds a council rather than picking one
      says `:built`, and its entry need not come from the catalog);
    * `:no_match` - nothing fits; the AutoCouncil's `on_no_match` decides;
    * `{:error, reason}` - the strategy could not decide (`:not_implemented`
      for the built-in stubs).

  Custom strategies are given as `{module, opts}`:

      defmodule MyApp.ByTag do
        @behaviour CouncilEx.AutoCouncil.Strategy

        @impl true
        def select(%{tag: tag}, catalog, _opts) do
          case Enum.find(catalog, &(tag in &1.tags)) do
            nil -> :no_match
            entry -> {:ok, entry, %{reason: "tagged #{tag}"}}
          end
        end

        def select(_input, _catalog, _opts), do: :no_match
      end

      CouncilEx.AutoCouncil.new(strategy: {MyApp.ByTag, []}, catalog: [...])
  """

  @doc "Picks a catalog entry for the input."
  @callback select(input :: term(), catalog :: [CouncilEx.AutoCouncil.entry()], opts :: keyword()) ::
              {:ok, CouncilEx.AutoCouncil.entry(), map()} | :no_match | {:error, term()}
end
