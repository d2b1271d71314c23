defmodule CouncilEx.Spec do
  @moduledoc """
  The compiled form of a council: what `use CouncilEx` generates as
  `__council__/0` and what a run executes.

  Rounds are already resolved to modules, and when a chair is set the
  `CouncilEx.Rounds.Synthesis` round is appended after the declared rounds.
  """

  @typedoc """
  A member: its id (an atom in module councils, a string in dynamic ones),
  its identity (a `CouncilEx.Member` module, a `%CouncilEx.DynamicMember{}`,
  or nil for inline members) and its resolved options.
  """
  @type member :: {atom() | String.t(), module() | struct() | nil, keyword()}

  @typedoc "The compiled council."
  @type t :: %__MODULE__{
          council: module() | String.t(),
          members: [member()],
          rounds: [{module(), keyword()}],
          chair: member() | nil,
          router: module() | (term(), term() -> [atom()]) | nil,
          opts: keyword()
        }

  defstruct council: nil, members: [], rounds: [], chair: nil, router: nil, opts: []

  @doc "Every seat of the council in run order: the members, then the chair if any."
  @spec seats(t()) :: [member()]
  def seats(%__MODULE__{members: members, chair: nil}), do: members
  def seats(%__MODULE__{members: members, chair: chair}), do: members ++ [chair]

  @doc """
  A council's declared rounds as they run: `:independent_analysis` when
  none are declared, and, when the council has a chair, the
  `CouncilEx.Rounds.Synthesis` round appended unless the rounds already end
  in a chair round (`CouncilEx.Rounds.WeightedSynthesis`, say).
  """
  @spec complete_rounds([{module(), keyword()}], boolean()) :: [{module(), keyword()}]
  def complete_rounds(rounds, chair?) do
    rounds = if rounds == [], do: [{CouncilEx.Rounds.IndependentAnalysis, []}], else: rounds

    case List.last(rounds) do
      {module, _} when chair? ->
        if CouncilEx.Rounds.chair_round?(module),
          do: rounds,
          else: rounds ++ [{CouncilEx.Rounds.Synthesis, []}]

      _ ->
        rounds
    end
  end

  @doc """
  The providers a spec's seats use, sub-councils included (their seats'
  providers, recursively), as a `MapSet` of provider ids.
  """
  @spec providers(t()) :: MapSet.t(atom() | String.t())
  def providers(%__MODULE__{} = spec) do
    spec
    |> seats()
    |> Enum.reduce(MapSet.new(), fn {_id, _mod, opts}, acc ->
      case opts[:council] do
        nil -> if opts[:provider], do: MapSet.put(acc, opts[:provider]), else: acc
        council -> MapSet.union(acc, council_providers(council))
      end
    end)
  end

  @doc false
  # The providers of any council: a module (its __providers__/0) or a dynamic one.
  def council_providers(module) when is_atom(module) do
    cond do
      Code.ensure_loaded?(module) and function_exported?(module, :__providers__, 0) ->
        module.__providers__()

      Code.ensure_loaded?(module) and function_exported?(module, :__council__, 0) ->
        providers(module.__council__())

      true ->
        MapSet.new()
    end
  end

  def council_providers(%CouncilEx.DynamicCouncil{} = council),
    do: CouncilEx.DynamicCouncil.providers(council)

  def council_providers(_other), do: MapSet.new()

  @doc "The round names (atoms) in run order."
  @spec round_names(t()) :: [atom()]
  def round_names(%__MODULE__{rounds: rounds}),
    do: Enum.map(rounds, fn {mod, _} -> mod.name() end)
end
