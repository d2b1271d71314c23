defmodule CouncilEx.Plan.Input do
  @moduledoc false
  # Turns a run's input (any term) into the text members are asked about.
  # Maps with a :question (or "question") key put the question first and the
  # other fields after it as "key: value" lines.

  @spec render(term()) :: {:ok, String.t()} | {:error, String.t()}
  def render(input) when is_binary(input) do
    # A BIF: String.valid?/1 walks the text in Elixir, codepoint by codepoint.
    if is_binary(:unicode.characters_to_binary(input)),
      do: {:ok, input},
      else: {:error, "input is not valid UTF-8"}
  end

  def render(%{} = input) when not is_struct(input) do
    {question, rest} = pop_question(input)

    lines =
      rest
      |> Enum.sort_by(fn {k, _} -> to_string(k) end)
      |> Enum.map(fn {k, v} -> "#{k}: #{text(v)}" end)

    [question | lines]
    |> Enum.reject(&is_nil/1)
    |> Enum.join("\n")
    |> render()
  end

  def render(input), do: {:ok, text(input)}

  defp pop_question(input) do
    cond do
      Map.has_key?(input, :question) -> {text(input.question), Map.delete(input, :question)}
      Map.has_key?(input, "question") -> {text(input["question"]), Map.delete(input, "question")}
      true -> {nil, input}
    end
  end

  defp text(v) when is_binary(v), do: v
  defp text(v), do: inspect(v, limit: :infinity, printable_limit: :infinity)
end
