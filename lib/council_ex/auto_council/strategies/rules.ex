defmodule CouncilEx.AutoCouncil.Strategies.Rules do
  @moduledoc """
  The `:rules` strategy: the first catalog entry whose `:match` matches the
  input's text wins.

  `:match` is a `Regex` or a 1-arity function of the text returning
  `true`; entries without one never match. The text is taken from the
  input by `CouncilEx.AutoCouncil.text/1`: a binary input is the text; of a
  map, the first binary under `:question`, `"question"`, `:prompt`,
  `"prompt"`, `:text` or `"text"`. An input without text matches nothing.
  A match function that raises makes the strategy fail with
  `{:error, {:match_failed, entry_id, message}}`.
  """

  @behaviour CouncilEx.AutoCouncil.Strategy

  @impl true
  def select(input, catalog, _opts) do
    case CouncilEx.AutoCouncil.text(input) do
      nil -> :no_match
      text -> first_match(catalog, text)
    end
  end

  defp first_match([], _text), do: :no_match

  defp first_match([entry | rest], text) do
    case matches?(entry.match, text) do
      {:ok, true} -> {:ok, entry, %{reason: reason(entry.match), score: nil}}
      {:ok, _} -> first_match(rest, text)
      {:error, message} -> {:error, {:match_failed, entry.id, message}}
    end
  end

  defp matches?(%Regex{} = regex, text), do: {:ok, Regex.match?(regex, text)}

  defp matches?(fun, text) when is_function(fun, 1) do
    {:ok, fun.(text) == true}
  rescue
    exception -> {:error, Exception.message(exception)}
  end

  defp matches?(_none, _text), do: {:ok, false}

  defp reason(%Regex{} = regex), do: "the input matched #{inspect(regex)}"
  defp reason(_fun), do: "the input matched the entry's match function"
end
