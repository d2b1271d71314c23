defmodule CouncilEx.Dynamic.Errors do
  @moduledoc false
  # Validation errors of dynamic councils: %{path, code, message} maps, and
  # the key whitelisting every map read from JSON goes through.

  @doc "One error."
  def new(path, code, message), do: %{path: path, code: code, message: message}

  @doc "Puts `path` in front of every error's path."
  def prefix(errors, path), do: Enum.map(errors, &%{&1 | path: path ++ &1.path})

  @doc "Errors as one line: `members.1.id: expected ...; rounds.0: ...`."
  defdelegate format(errors), to: CouncilEx.Council.Rules

  @doc "A value, shortened for an error message."
  defdelegate show(value), to: CouncilEx.Options.Schema

  @doc """
  The known fields of a map (atom or string keys) or keyword list, as a map
  with atom keys: `{:ok, fields, errors}`, the errors being unknown keys and
  keys given twice (as atom and string), or `{:error, errors}` when `attrs`
  is not a map or keyword list at all.
  """
  def fields(attrs, known, noun \\ "key")

  def fields(attrs, known, noun) when is_map(attrs) and not is_struct(attrs),
    do: collect(Map.to_list(attrs), known, noun)

  def fields(attrs, known, noun) when is_list(attrs) do
    if Keyword.keyword?(attrs),
      do: collect(attrs, known, noun),
      else:
        {:error, [new([], :invalid_type, "expected a map or keyword list, got: #{show(attrs)}")]}
  end

  def fields(other, _known, _noun),
    do: {:error, [new([], :invalid_type, "expected a map or keyword list, got: #{show(other)}")]}

  defp collect(pairs, known, noun) do
    {fields, errors} =
      Enum.reduce(pairs, {%{}, []}, fn {key, value}, {fields, errors} ->
        case CouncilEx.Options.Seat.key(key, known) do
          {:ok, atom} when is_map_key(fields, atom) ->
            {fields,
             [new([label(key)], :duplicate_key, "#{noun} #{label(key)} is given twice") | errors]}

          {:ok, atom} ->
            {Map.put(fields, atom, value), errors}

          :error ->
            message = "unknown #{noun} #{show(key)}; known #{noun}s: #{Enum.join(known, ", ")}"
            {fields, [new([label(key)], :unknown_key, message) | errors]}
        end
      end)

    {:ok, fields, Enum.sort_by(errors, & &1.path)}
  end

  # A key as it appears in a path: its name, cut short when huge.
  defp label(key) when is_atom(key), do: Atom.to_string(key)
  defp label(key) when is_binary(key) and byte_size(key) <= 64, do: key
  defp label(key) when is_binary(key), do: String.slice(key, 0, 60) <> "..."
  defp label(key), do: show(key)
end
