defmodule CouncilEx.DynamicRound do
  @moduledoc """
  A round of a `CouncilEx.DynamicCouncil`, as plain data: a type and options.

  The type is the name of a built-in round (`"independent_analysis"`, see
  `CouncilEx.Rounds`), a name registered in `CouncilEx.Registry` as a
  `:round`, or a round module. `resolve/1` turns it into the
  `{module, opts}` pair a `%CouncilEx.Spec{}` holds.

      iex> round = CouncilEx.DynamicRound.new("independent_analysis")
      iex> CouncilEx.DynamicRound.resolve(round)
      {CouncilEx.Rounds.IndependentAnalysis, []}

  ## Options

  Options are a map. Keys that are known round options become atoms:
  `:max_iterations` and `:until_ref` (for an iterate round; `:until_ref` is
  a registered `:router` name, since a function cannot be stored) and
  `:aggregator`. Every other key is kept as a string, so options from JSON
  never create atoms; `resolve/1` passes them on under `:extra`.
  """

  alias CouncilEx.DynamicCouncil.{Errors, Ref}

  @known_opts [:max_iterations, :until_ref, :aggregator]

  @typedoc "A dynamic round."
  @type t :: %__MODULE__{
          type: String.t() | module(),
          opts: %{optional(atom() | String.t()) => term()}
        }

  @typedoc "What `new/1` accepts: a struct, a type (string, atom or module), or a map or keyword list with `:type` and `:opts`."
  @type attrs :: t() | String.t() | atom() | map() | keyword()

  @enforce_keys [:type]
  defstruct type: nil, opts: %{}

  @doc """
  Builds a round, raising `ArgumentError` when `attrs` are malformed.

      iex> CouncilEx.DynamicRound.new(:independent_analysis)
      %CouncilEx.DynamicRound{type: "independent_analysis", opts: %{}}

      iex> CouncilEx.DynamicRound.new(%{"type" => "iterate", "opts" => %{"max_iterations" => 3, "label" => "x"}})
      %CouncilEx.DynamicRound{type: "iterate", opts: %{:max_iterations => 3, "label" => "x"}}

      iex> CouncilEx.DynamicRound.new(%{"type" => "vote", "kind" => "ranked"})
      ** (ArgumentError) invalid round: kind: unknown key "kind"; known keys: type, opts
  """
  @spec new(attrs()) :: t()
  def new(attrs) do
    case cast(attrs) do
      {:ok, round} -> round
      {:error, errors} -> raise ArgumentError, "invalid round: " <> Errors.format(errors)
    end
  end

  @doc """
  Builds a round without raising: `{:ok, round}` or `{:error, errors}`
  (paths relative to the round). Whether the type exists is left to
  `CouncilEx.DynamicCouncil.validate/1`.
  """
  @spec cast(attrs()) :: {:ok, t()} | {:error, [CouncilEx.DynamicCouncil.error()]}
  def cast(%__MODULE__{} = round), do: round |> Map.from_struct() |> cast()
  def cast(type) when is_binary(type), do: cast(%{type: type})
  def cast(type) when is_atom(type) and type not in [nil, true, false], do: cast(%{type: type})

  def cast(attrs) when is_map(attrs) or is_list(attrs) do
    with {:ok, fields, key_errors} <- Errors.fields(attrs, [:type, :opts]),
         round = %__MODULE__{type: type(fields[:type]), opts: opts(fields[:opts])},
         [] <- key_errors ++ check(round) do
      {:ok, round}
    else
      {:error, errors} -> {:error, errors}
      errors -> {:error, errors}
    end
  end

  def cast(other),
    do:
      {:error,
       [
         Errors.new(
           [],
           :invalid_type,
           "expected a round type, map or keyword list, got: #{Errors.show(other)}"
         )
       ]}

  # Built-in rounds are kept by name, whether given as atom, string or module.
  defp type(type) when is_atom(type) and type not in [nil, true, false] do
    case builtin_name(type) do
      {:ok, name} -> name
      :error -> type
    end
  end

  defp type("Elixir." <> _ = name),
    do: name |> Ref.module_or_name() |> then(&if(is_atom(&1), do: type(&1), else: &1))

  defp type(other), do: other

  defp builtin_name(type) do
    Enum.find_value(CouncilEx.Rounds.names(), :error, fn name ->
      if name == type or CouncilEx.Rounds.module_for(name) == {:ok, type},
        do: {:ok, Atom.to_string(name)}
    end)
  end

  defp opts(nil), do: %{}

  defp opts(opts) when is_map(opts) or is_list(opts) do
    if is_map(opts) or Keyword.keyword?(opts),
      do: Map.new(opts, fn {key, value} -> opt(opt_key(key), value) end),
      else: opts
  end

  defp opts(other), do: other

  defp opt(:aggregator, ref), do: {:aggregator, Ref.module_or_name(ref)}
  defp opt(key, value), do: {key, value}

  defp opt_key(key) when is_atom(key),
    do: if(key in @known_opts, do: key, else: Atom.to_string(key))

  defp opt_key(key) when is_binary(key),
    do: Enum.find(@known_opts, key, &(Atom.to_string(&1) == key))

  defp opt_key(key), do: key

  @doc false
  # Type checks; paths relative to the round.
  def check(%__MODULE__{type: type, opts: opts}) do
    List.flatten([check_type(type), check_opts(opts)])
  end

  defp check_type(type) when is_binary(type) and type != "", do: []
  defp check_type(type) when is_atom(type) and type not in [nil, true, false], do: []

  defp check_type(type),
    do:
      Errors.new(
        ["type"],
        :invalid_type,
        "expected type to be a round name or module, got: #{Errors.show(type)}"
      )

  defp check_opts(opts) when is_map(opts) and not is_struct(opts) do
    for {key, value} <- opts, error = opt_error(key, value), do: error
  end

  defp check_opts(other),
    do:
      Errors.new(["opts"], :invalid_type, "expected opts to be a map, got: #{Errors.show(other)}")

  defp opt_error(:max_iterations, n) when is_integer(n) and n > 0, do: nil
  defp opt_error(:until_ref, name) when is_binary(name) and name != "", do: nil

  defp opt_error(:aggregator, ref),
    do:
      if(Ref.ref?(ref), do: nil, else: bad_opt(:aggregator, "an aggregator module or name", ref))

  defp opt_error(:max_iterations, n), do: bad_opt(:max_iterations, "a positive integer", n)
  defp opt_error(:until_ref, name), do: bad_opt(:until_ref, "a registered router name", name)
  defp opt_error(key, _value) when is_binary(key), do: nil

  defp opt_error(key, _value),
    do:
      Errors.new(
        ["opts"],
        :invalid_type,
        "expected option keys to be strings or known options, got: #{Errors.show(key)}"
      )

  defp bad_opt(key, expected, value),
    do:
      Errors.new(
        ["opts", Atom.to_string(key)],
        :invalid_type,
        "expected #{key} to be #{expected}, got: #{Errors.show(value)}"
      )

  @doc """
  The `{round_module, opts}` pair of a round, as `%CouncilEx.Spec{}` holds it.

  Known options become keyword entries; the others are passed together as
  `extra: %{"key" => value}`. Raises `ArgumentError` when the type is not a
  built-in round, a registered `:round` or a round module.

      iex> CouncilEx.DynamicRound.resolve(CouncilEx.DynamicRound.new(%{type: "synthesis", opts: %{"note" => 1}}))
      {CouncilEx.Rounds.Synthesis, [extra: %{"note" => 1}]}
  """
  @spec resolve(t()) :: {module(), keyword()}
  def resolve(%__MODULE__{} = round) do
    case fetch_module(round.type) do
      {:ok, module} ->
        {known, extra} = Enum.split_with(round.opts, fn {key, _} -> is_atom(key) end)
        known = Enum.sort_by(known, fn {key, _} -> Enum.find_index(@known_opts, &(&1 == key)) end)
        {module, if(extra == [], do: known, else: known ++ [extra: Map.new(extra)])}

      :error ->
        raise ArgumentError,
              "unknown round type #{Errors.show(round.type)}; built-in rounds: #{inspect(CouncilEx.Rounds.names())}, " <>
                "registered rounds: #{inspect(CouncilEx.Registry.names(:round))}"
    end
  end

  @doc false
  # The module of a round type: {:ok, module} or :error.
  def fetch_module(type) when is_binary(type) do
    with :error <- CouncilEx.Rounds.module_for(type) do
      case CouncilEx.Registry.lookup(:round, type) do
        nil -> :error
        module -> {:ok, module}
      end
    end
  end

  def fetch_module(module) when is_atom(module) do
    if Code.ensure_loaded?(module) and function_exported?(module, :name, 0),
      do: {:ok, module},
      else: :error
  end

  def fetch_module(_other), do: :error

  @doc """
  The round as a JSON-friendly map: `%{"type" => name, "opts" => map}`.

      iex> CouncilEx.DynamicRound.to_map(CouncilEx.DynamicRound.new(%{type: "synthesis", opts: [max_iterations: 2]}))
      %{"type" => "synthesis", "opts" => %{"max_iterations" => 2}}
  """
  @spec to_map(t()) :: map()
  def to_map(%__MODULE__{type: type, opts: opts}) do
    %{"type" => Ref.to_json(type), "opts" => Map.new(opts, &opt_to_json/1)}
  end

  defp opt_to_json({:aggregator, ref}), do: {"aggregator", Ref.to_json(ref)}
  defp opt_to_json({key, value}), do: {to_string(key), value}
end
