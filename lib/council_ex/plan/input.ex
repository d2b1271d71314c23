defmodule CouncilEx.Plan.Input do
  @moduledoc false
  # Turns a run's input into the text every member is asked about (the
  # rules are documented in CouncilEx's moduledoc, "Input"):
  #
  #   * a string is the text itself;
  #   * a map puts its :question (or "question") first, then its other
  #     fields as "key: value" lines sorted by key; strings stay as they
  #     are, numbers, atoms and booleans become their text, lists and maps
  #     become JSON;
  #   * a list of messages (%{role, content}, atom or string keys; role
  #     "system", "user" or "assistant") becomes one "role: content" line
  #     per message.
  #
  # Anything else (a tuple, a pid, a function, ...) is refused: its
  # inspect/1 text would mean nothing to a model. The text must be valid
  # UTF-8 without NUL bytes (the C core passes it on as a C string).

  alias CouncilEx.Options.Schema

  @roles ["system", "user", "assistant"]

  @spec render(term()) :: {:ok, String.t()} | {:error, String.t()}
  def render(input) when is_binary(input), do: text(input)

  def render(%{} = input) when not is_struct(input) do
    {question, rest} = pop_question(input)

    lines =
      rest
      |> Enum.sort_by(fn {k, _} -> to_string(k) end)
      |> Enum.map(fn {k, v} -> with {:ok, v} <- value(v, k), do: {:ok, "#{k}: #{v}"} end)

    with {:ok, question} <- question,
         nil <- Enum.find(lines, &match?({:error, _}, &1)) do
      [question | for({:ok, line} <- lines, do: line)]
      |> Enum.reject(&is_nil/1)
      |> Enum.join("\n")
      |> text()
    end
  end

  def render([_ | _] = messages) do
    lines = Enum.map(messages, &message/1)

    case Enum.find(lines, &match?({:error, _}, &1)) do
      nil -> lines |> Enum.map_join("\n", &elem(&1, 1)) |> text()
      error -> error
    end
  end

  def render(other) do
    {:error,
     "input must be a string, a map or a list of messages (%{role: \"user\", content: \"...\"}), got: #{Schema.show(other)}"}
  end

  defp pop_question(input) do
    cond do
      Map.has_key?(input, :question) ->
        {value(input.question, :question), Map.delete(input, :question)}

      Map.has_key?(input, "question") ->
        {value(input["question"], "question"), Map.delete(input, "question")}

      true ->
        {{:ok, nil}, input}
    end
  end

  defp message(%{} = m) do
    role = m[:role] || m["role"]
    content = m[:content] || m["content"]
    role = if is_atom(role) and role != nil, do: Atom.to_string(role), else: role

    if role in @roles and is_binary(content),
      do: {:ok, "#{role}: #{content}"},
      else: message(:bad)
  end

  defp message(_other),
    do:
      {:error,
       "input: a list input must be messages, each %{role: \"system\" | \"user\" | \"assistant\", content: text}"}

  defp value(v, _key) when is_binary(v), do: {:ok, v}
  defp value(v, _key) when is_number(v) or is_atom(v), do: {:ok, to_string(v)}

  defp value(v, key) when is_list(v) or (is_map(v) and not is_struct(v)) do
    case CouncilEx.JSON.encode(v) do
      {:ok, json} -> {:ok, json}
      {:error, _} -> bad(key, v)
    end
  end

  defp value(v, key) do
    if String.Chars.impl_for(v) && is_struct(v), do: {:ok, to_string(v)}, else: bad(key, v)
  end

  defp bad(key, v),
    do:
      {:error,
       "input #{inspect(key)}: expected text, a number, an atom, a list or a map, got: #{Schema.show(v)}"}

  # A BIF: String.valid?/1 walks the text in Elixir, codepoint by codepoint.
  defp text(text) do
    cond do
      not is_binary(:unicode.characters_to_binary(text)) -> {:error, "input is not valid UTF-8"}
      :binary.match(text, <<0>>) != :nomatch -> {:error, "input holds a NUL byte"}
      true -> {:ok, text}
    end
  end
end
