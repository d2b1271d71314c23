defmodule CouncilEx.Options.Schema do
  @moduledoc false
  # Options as data, in the habit of Broadway's options.ex (without
  # NimbleOptions, which is a hex package): a schema is a keyword list of
  # `key: [type: type, doc: text]`; errors/3 checks options against it and
  # docs/2 renders its docs, so the two cannot drift. The run, seat and
  # round options each have one schema (CouncilEx.Options.Run,
  # CouncilEx.Options.Seat, CouncilEx.Rounds) and every layer reads them.

  @typedoc """
  A value's type. `{:custom, fun}` calls `fun.(value, context)`, which
  returns `:ok`, `{:error, expectation}` (the value should have been
  `expectation`) or `{:error, code, message}` (a whole message).
  """
  @type type ::
          :boolean
          | :string
          | :line
          | :atom
          | :pos_integer
          | :non_neg_integer
          | {:int, integer(), integer()}
          | {:number, number() | nil, number() | nil}
          | {:in, [term()]}
          | {:or, [type()]}
          | {:list, type()}
          | :retry
          | {:custom,
             (term(), term() -> :ok | {:error, String.t()} | {:error, atom(), String.t()})}

  @type t :: [{atom(), keyword()}]

  @typedoc "A problem with one option: the key, a code and a message."
  @type problem :: {atom(), :unknown_option | :invalid_option | atom(), String.t()}

  @doc """
  The problems of `opts` (a keyword list or map) under `schema`, in the
  order the options were given: unknown keys (when `known` is given, only
  those keys are allowed) and bad values. `nil` values pass when
  `nil_ok?`. `context` is handed to custom types.
  """
  @spec errors(t(), keyword() | map(), keyword()) :: [problem()]
  def errors(schema, opts, settings \\ []) do
    known = Keyword.get_lazy(settings, :known, fn -> Keyword.keys(schema) end)
    nil_ok? = Keyword.get(settings, :nil_ok?, false)
    context = Keyword.get(settings, :context)

    Enum.flat_map(opts, fn {key, value} ->
      cond do
        key not in known ->
          [{key, :unknown_option, unknown(key, known)}]

        nil_ok? and value == nil ->
          []

        true ->
          schema |> Keyword.fetch!(key) |> Keyword.fetch!(:type) |> check(key, value, context)
      end
    end)
  end

  @doc "The message for an option that is not in `known`."
  @spec unknown(term(), [atom()]) :: String.t()
  def unknown(key, known),
    do: "unknown option #{show(key)}; known options: #{inspect(known)}"

  @doc "Checks one value against a type: `[]` or `[problem]`."
  @spec check(type(), atom(), term(), term()) :: [problem()]
  def check(type, key, value, context) do
    case valid(type, value, context) do
      :ok -> []
      {:error, expected} -> [{key, :invalid_option, expected(key, expected, value)}]
      {:error, code, message} -> [{key, code, message}]
    end
  end

  @doc "The standard message: `expected key to be ..., got: value`."
  @spec expected(atom(), String.t(), term()) :: String.t()
  def expected(key, expectation, value),
    do: "expected #{key} to be #{expectation}, got: #{show(value)}"

  @doc "A value, shortened for a message."
  @spec show(term()) :: String.t()
  def show(value), do: inspect(value, limit: 5, printable_limit: 64)

  @doc "Whether `value` has `type`."
  @spec valid?(type(), term(), term()) :: boolean()
  def valid?(type, value, context \\ nil), do: valid(type, value, context) == :ok

  defp valid({:custom, fun}, value, context), do: fun.(value, context)

  defp valid({:or, types}, value, context) do
    if Enum.any?(types, &valid?(&1, value, context)),
      do: :ok,
      else: {:error, Enum.map_join(types, " or ", &expectation/1)}
  end

  defp valid({:list, type}, value, context) when is_list(value) do
    if Enum.all?(value, &valid?(type, &1, context)),
      do: :ok,
      else: {:error, expectation({:list, type})}
  end

  defp valid(type, value, _context),
    do: if(plain?(type, value), do: :ok, else: {:error, expectation(type)})

  defp plain?(:boolean, v), do: is_boolean(v)
  defp plain?(:string, v), do: text?(v)
  defp plain?(:line, v), do: text?(v) and not String.match?(v, ~r/[\x00-\x1f\x7f]/)
  defp plain?(:atom, v), do: is_atom(v) and v not in [nil, true, false]
  defp plain?(:pos_integer, v), do: is_integer(v) and v > 0
  defp plain?(:non_neg_integer, v), do: is_integer(v) and v >= 0
  defp plain?({:int, min, max}, v), do: is_integer(v) and v >= min and v <= max
  defp plain?({:number, min, max}, v), do: is_number(v) and above?(v, min) and below?(v, max)
  defp plain?({:in, values}, v), do: v in values
  defp plain?(:retry, {n, base}), do: n in 1..100 and is_integer(base) and base >= 0
  defp plain?(_type, _v), do: false

  defp above?(_v, nil), do: true
  defp above?(v, min), do: v >= min
  defp below?(_v, nil), do: true
  defp below?(v, max), do: v <= max

  @doc """
  A non-empty, valid UTF-8 binary without NUL bytes: the text the C core
  takes (it passes C strings on, and JSON must be UTF-8).
  """
  @spec text?(term()) :: boolean()
  def text?(v) do
    is_binary(v) and v != "" and is_binary(:unicode.characters_to_binary(v)) and
      not String.contains?(v, <<0>>)
  end

  @doc "What a value of `type` looks like, for messages and docs."
  @spec expectation(type()) :: String.t()
  def expectation(:boolean), do: "a boolean"
  def expectation(:string), do: "a non-empty string (UTF-8, no NUL bytes)"
  def expectation(:line), do: "a non-empty string on one line (UTF-8, no control characters)"
  def expectation(:atom), do: "an atom"
  def expectation(:pos_integer), do: "a positive integer"
  def expectation(:non_neg_integer), do: "a non-negative integer"
  def expectation({:int, 1, max}), do: "a positive integer (at most #{max})"
  def expectation({:int, min, max}), do: "an integer from #{min} to #{max}"
  def expectation({:number, nil, nil}), do: "a number"
  def expectation({:number, min, nil}), do: "a number >= #{min}"
  def expectation({:number, nil, max}), do: "a number <= #{max}"
  def expectation({:number, min, max}), do: "a number from #{min} to #{max}"
  def expectation({:in, [value]}), do: inspect(value)
  def expectation({:in, values}), do: "one of #{inspect(values)}"
  def expectation({:or, types}), do: Enum.map_join(types, " or ", &expectation/1)
  def expectation({:list, type}), do: "a list of (#{expectation(type)})"

  def expectation(:retry),
    do: "{max_attempts, base_ms} with max_attempts from 1 to 100 and base_ms >= 0"

  def expectation({:custom, _}), do: "see the docs"

  @doc """
  The schema's docs as a markdown list, one `* `key` - doc` line per key
  in `keys` (default: all), indented by `indent` spaces.
  """
  @spec docs(t(), [atom()] | nil, non_neg_integer()) :: String.t()
  def docs(schema, keys \\ nil, indent \\ 2) do
    pad = String.duplicate(" ", indent)

    (keys || Keyword.keys(schema))
    |> Enum.map_join("\n", fn key -> "#{pad}* `#{inspect(key)}` - #{schema[key][:doc]}" end)
  end
end
