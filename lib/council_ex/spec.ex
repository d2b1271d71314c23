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

  @doc "The round names (atoms) in run order."
  @spec round_names(t()) :: [atom()]
  def round_names(%__MODULE__{rounds: rounds}), do: Enum.map(rounds, fn {mod, _} -> mod.name() end)
end
