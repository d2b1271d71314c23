defmodule CouncilEx.AutoCouncil.Strategies.Cascade do
  @moduledoc """
  The `:cascade` strategy: tries the strategies in `options[:strategies]`
  in order, and the first that picks an entry wins. Strategies that find
  no match or fail (the `:not_implemented` stubs included) are passed
  over; when none picks, the cascade finds no match.

      CouncilEx.AutoCouncil.new(
        strategy: :cascade,
        options: [strategies: [{MyApp.ByTag, []}, :rules]],
        catalog: [...]
      )

  Built-in strategies given by name get the AutoCouncil's options;
  `{module, opts}` gets its own. The choice's reason names the strategy
  that made it.
  """

  @behaviour CouncilEx.AutoCouncil.Strategy

  alias CouncilEx.AutoCouncil

  @impl true
  def select(input, catalog, opts) do
    opts
    |> Keyword.get(:strategies, [])
    |> Enum.reduce_while({:no_match, []}, fn strategy, {:no_match, passed} ->
      case AutoCouncil.run_strategy(strategy, input, catalog, opts) do
        {:ok, entry, info} ->
          reason = "#{label(strategy)}: #{info[:reason] || "picked"}"
          {:halt, {:ok, entry, Map.put(info, :reason, reason)}}

        :no_match ->
          {:cont, {:no_match, [{strategy, :no_match} | passed]}}

        {:error, why} ->
          {:cont, {:no_match, [{strategy, why} | passed]}}
      end
    end)
    |> case do
      {:ok, _entry, _info} = picked -> picked
      {:no_match, _passed} -> :no_match
    end
  end

  defp label({module, _opts}), do: inspect(module)
  defp label(name), do: inspect(name)
end
