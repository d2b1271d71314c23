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

  Options are a map. Keys naming round options (see `CouncilEx.Rounds`)
  become atoms and their JSON values the Elixir ones, from fixed lists
  only: `"aggregator": "borda"` becomes `:borda`, `"order": "per_judge"`
  `:per_judge`, `"tie_break": "first"` `:first`, `"wrap": "critique"` the
  built-in round name `"critique"` (kept as a string, like `:type`), a
  `"wrap_opts"` map is read the same way, and `"Elixir.Mod"` names become
  modules that already exist. Every other key is kept as a string, so
  options from JSON never create atoms; `resolve/1` passes them on under
  `:extra`.

  Functions cannot be stored, so an iterate round names its stop rule with
  `:until_ref`, a registered `:router` name whose module exports `until/2`,
  and a `:pairwise_elimination` round its judge with `:judge_ref` (the
  module exports `judge/2`) or `:judge`, a remote capture such as
  `&MyApp.Judges.strict/2`. A `:judge` capture is written to JSON as
  `"&MyApp.Judges.strict/2"` and read back as the function only when its
  module is registered as a `:router` (JSON must not be able to name just
  any function); otherwise it stays a string, which
  `CouncilEx.DynamicCouncil.validate/1` reports. `resolve/1` turns
  `until_ref` into `until: &Mod.until/2`, `judge_ref` into
  `judge: &Mod.judge/2`, a `:router` name into its module, and `:wrap`
  into a built-in round name (atom) or module, so the spec holds what a
  module council would.

  Types are checked when a round is built; whether options suit the round
  and names are registered is checked by `CouncilEx.DynamicCouncil.validate/1`
  (with `CouncilEx.Rounds.check_opts/3`).
  """

  alias CouncilEx.Dynamic.{Errors, Ref}

  @known_opts [
    :wrap,
    :wrap_opts,
    :max_iterations,
    :until,
    :until_ref,
    :min_confidence,
    :options,
    :aggregator,
    :tie_break,
    :quorum,
    :order,
    :include_self,
    :expose_confidence,
    :judge,
    :judge_ref,
    :router
  ]

  @enums %{
    aggregator: [
      :plurality,
      :weighted_mean,
      :confidence_median,
      :borda,
      :condorcet,
      :peer_ranking
    ],
    tie_break: [:first, :random],
    order: [:stable, :shuffle, :per_judge]
  }

  @doc false
  def known_opts, do: @known_opts

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
    do:
      name
      |> Ref.module_or_name(CouncilEx.Round)
      |> then(&if(is_atom(&1), do: type(&1), else: &1))

  defp type(other), do: other

  defp builtin_name(type) do
    Enum.find_value(CouncilEx.Rounds.names(), :error, fn name ->
      if name == type or CouncilEx.Rounds.module_for(name) == {:ok, type},
        do: {:ok, Atom.to_string(name)}
    end)
  end

  defp opts(nil), do: %{}

  defp opts(opts) when is_map(opts) or is_list(opts) do
    if (is_map(opts) and not is_struct(opts)) or Keyword.keyword?(opts),
      do: Map.new(opts, fn {key, value} -> opt(opt_key(key), value) end),
      else: opts
  end

  defp opts(other), do: other

  defp opt(key, name) when is_map_key(@enums, key) and is_binary(name),
    do: {key, Enum.find(@enums[key], enum_module(key, name), &(Atom.to_string(&1) == name))}

  defp opt(:wrap, wrap), do: {:wrap, type(wrap)}
  defp opt(:wrap_opts, wrap_opts), do: {:wrap_opts, opts(wrap_opts)}
  defp opt(:router, ref), do: {:router, Ref.module_or_name(ref, CouncilEx.Router)}
  defp opt(:judge, ref), do: {:judge, Ref.judge_or_string(ref)}
  defp opt(key, value), do: {key, value}

  defp enum_module(:aggregator, name), do: Ref.module_or_name(name, CouncilEx.Aggregator)
  defp enum_module(_key, name), do: name

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
    key_errors =
      for {key, _} <- opts, not is_atom(key) and not is_binary(key) do
        Errors.new(
          ["opts"],
          :invalid_type,
          "expected option keys to be strings or known options, got: #{Errors.show(key)}"
        )
      end

    key_errors ++ opts_errors(:any, opts, :shape)
  end

  defp check_opts(other),
    do:
      Errors.new(["opts"], :invalid_type, "expected opts to be a map, got: #{Errors.show(other)}")

  @doc false
  # CouncilEx.Rounds.problems/3 as dynamic-council errors, paths relative to the round.
  def opts_errors(round, opts, context) do
    for {path, code, message} <- CouncilEx.Rounds.problems(round, opts, context) do
      code = if code == :invalid_option, do: :invalid_type, else: code
      Errors.new(["opts" | Enum.map(path, &Atom.to_string/1)], code, message)
    end
  end

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
        {module, resolve_opts(round.opts)}

      :error ->
        raise ArgumentError,
              "unknown round type #{Errors.show(round.type)}; built-in rounds: #{inspect(CouncilEx.Rounds.names())}, " <>
                "registered rounds: #{inspect(CouncilEx.Registry.names(:round))}"
    end
  end

  defp resolve_opts(opts) do
    {known, extra} = Enum.split_with(opts, fn {key, _} -> is_atom(key) end)
    known = Enum.sort_by(known, fn {key, _} -> Enum.find_index(@known_opts, &(&1 == key)) end)
    known = Enum.map(known, &resolve_opt/1)
    if extra == [], do: known, else: known ++ [extra: Map.new(extra)]
  end

  defp resolve_opt({:wrap, wrap}) when is_binary(wrap) do
    case CouncilEx.Rounds.module_for(wrap) do
      {:ok, module} -> {:wrap, module.name()}
      :error -> {:wrap, fetch_module!(wrap)}
    end
  end

  defp resolve_opt({:wrap_opts, opts}), do: {:wrap_opts, resolve_opts(opts)}
  defp resolve_opt({:until_ref, name}), do: {:until, Function.capture(router!(name), :until, 2)}
  defp resolve_opt({:judge_ref, name}), do: {:judge, Function.capture(router!(name), :judge, 2)}
  defp resolve_opt({:router, name}) when is_binary(name), do: {:router, router!(name)}

  defp resolve_opt({:judge, "&" <> _ = capture}),
    do:
      raise(
        ArgumentError,
        "judge #{Errors.show(capture)} is not a function of a registered :router module"
      )

  defp resolve_opt(opt), do: opt

  defp router!(name), do: CouncilEx.Registry.lookup!(:router, name)

  defp fetch_module!(type) do
    case fetch_module(type) do
      {:ok, module} -> module
      :error -> raise ArgumentError, "unknown round type #{Errors.show(type)}"
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

  defp opt_to_json({:wrap_opts, opts}) when is_map(opts),
    do: {"wrap_opts", Map.new(opts, &opt_to_json/1)}

  defp opt_to_json({:judge, fun}) when is_function(fun), do: {"judge", Ref.capture_to_json(fun)}

  defp opt_to_json({key, value})
       when is_atom(key) and is_atom(value) and value not in [nil, true, false],
       do: {Atom.to_string(key), Ref.to_json(value)}

  defp opt_to_json({key, value}), do: {to_string(key), value}
end
