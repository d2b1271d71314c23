defmodule CouncilEx.DynamicCouncil do
  @moduledoc """
  A council as data: built at runtime, edited, stored as JSON and run
  without defining a module.

  A module council (`use CouncilEx`) is fixed when it compiles. A dynamic
  council is a struct a program (or a UI such as a node-graph editor)
  builds and changes: its members are `CouncilEx.DynamicMember`s, its
  rounds `CouncilEx.DynamicRound`s, and everything code-like (profiles,
  tools, schemas, routers, custom rounds) is referred to by a name
  registered in `CouncilEx.Registry`. Both forms lower to the same
  `%CouncilEx.Spec{}` and run the same way.

  ## Building

      alias CouncilEx.DynamicCouncil

      council =
        DynamicCouncil.new("seo-council-1", name: "SEO audit")
        |> DynamicCouncil.set_default_profile("openai_mini")
        |> DynamicCouncil.add_member(%{id: "seo", system_prompt: "Audit SEO."})
        |> DynamicCouncil.add_member(%{id: "content", system_prompt: "Audit content."})
        |> DynamicCouncil.add_round(:independent_analysis)
        |> DynamicCouncil.set_chair(%{id: "synth", system_prompt: "Synthesize."})

  The builder functions raise `ArgumentError` for malformed arguments (an
  unknown member key, a member id that is already taken). Whether the
  council can run is a separate question, answered by `validate/1`: a
  council may be saved and loaded while incomplete.

  ## Validating and running

  `validate/1` returns `:ok` or every problem found, as JSON-friendly maps
  with a `:path` into the council, a `:code` and a `:message`:

      {:error, [%{path: ["members", 1, "system_prompt"], code: :missing_system_prompt,
                  message: "member \\"content\\" has no system prompt"}]}

  `to_spec/1` validates and lowers the council to a `%CouncilEx.Spec{}`
  whose `:council` is `"dynamic:" <> id`. Each member's options are its
  profile resolved (see `CouncilEx.Profile`) with its overrides, its system
  prompt, its tools (the profile's, the member's and the council's) and
  its output schema merged in. When a chair is set, the
  `CouncilEx.Rounds.Synthesis` round is appended, as for module councils.

  ## JSON

  `to_json/1` and `from_json/1` (and `to_map/1`, `from_map/1` for decoded
  maps) store a council as JSON. The document carries
  `"schema_version"` (see `schema_version/0`); a newer version than this
  library knows is refused. Reading never creates atoms: keys are matched
  against the known fields, and names only become atoms that already
  exist. `from_map/1` checks shape and types; call `validate/1` before
  running what it returns.

  ## Errors

  Error codes: `:invalid_type`, `:unknown_key`, `:duplicate_key`,
  `:too_long`, `:too_deep`, `:invalid_json`, `:unsupported_schema_version`,
  `:no_members`, `:duplicate_id`, `:missing_system_prompt`,
  `:missing_provider`, `:missing_model`, `:unknown_provider`,
  `:unknown_profile`, `:unknown_round`, `:unknown_router`, `:unknown_tool`,
  `:unknown_schema`, `:unknown_sub_council`, `:unknown_input_mapper`,
  `:conflicting_output_schema`, `:unknown_option` (a round option the
  round does not take), `:missing_option` (`:wrap` of an iterate round),
  `:unknown_judge`, `:unknown_member` (in the chair's `fallback`),
  `:missing_chair` (a synthesis round without a chair).

  ## Sub-councils

  A member with `:sub_council` runs a whole council on its input (mapped by
  its `:input_mapper`): it takes no system prompt, profile, tools, output
  schema or provider (its council's members do the calls), and of
  `:profile_overrides` only `:weight` and `:confidence`; `validate/1`
  reports any other. In the
  spec it becomes `{id, member, [council: council_or_dynamic, input_mapper: fun]}`,
  as a module council's `member id, council: Council` does.
  """

  alias CouncilEx.{DynamicMember, DynamicRound, Spec}
  alias CouncilEx.Dynamic.{Document, Errors, Graph, Lower, Ref, Validate}

  @typedoc "A dynamic council."
  @type t :: %__MODULE__{
          id: String.t(),
          name: String.t() | nil,
          default_profile: String.t() | nil,
          router: String.t() | nil,
          tools: [module() | String.t()],
          metadata: map(),
          members: [DynamicMember.t()],
          rounds: [DynamicRound.t()],
          chair: DynamicMember.t() | nil
        }

  @typedoc """
  A problem found in a council: where (`:path`, field names and list
  indexes from the council down), what (`:code`) and a readable `:message`.
  """
  @type error :: %{path: [String.t() | non_neg_integer()], code: atom(), message: String.t()}

  @enforce_keys [:id]
  defstruct id: nil,
            name: nil,
            default_profile: nil,
            router: nil,
            tools: [],
            metadata: %{},
            members: [],
            rounds: [],
            chair: nil

  @doc """
  The latest JSON schema version this library reads and writes.

      iex> CouncilEx.DynamicCouncil.schema_version()
      1
  """
  @spec schema_version() :: pos_integer()
  def schema_version, do: Document.schema_version()

  ## Builder

  @doc """
  An empty council.

  ## Options

    * `:name` - a display name.
    * `:default_profile` - see `set_default_profile/2`.
    * `:router` - see `set_router/2`.
    * `:tools` - see `set_council_tools/2`.
    * `:metadata` - see `set_metadata/2`.

  ## Examples

      iex> council = CouncilEx.DynamicCouncil.new("review", name: "Code review")
      iex> {council.id, council.name, council.members}
      {"review", "Code review", []}

      iex> CouncilEx.DynamicCouncil.new("")
      ** (ArgumentError) expected id to be a non-empty string, got: ""
  """
  @spec new(String.t(), keyword()) :: t()
  def new(id, opts \\ []) do
    case Document.check_id(id) do
      [] -> :ok
      [error | _] -> raise ArgumentError, error.message
    end

    Enum.reduce(opts, %__MODULE__{id: id}, fn
      {:name, name}, c when is_binary(name) or is_nil(name) ->
        %{c | name: name}

      {:name, name}, _ ->
        raise ArgumentError, "expected :name to be a string, got: #{inspect(name)}"

      {:default_profile, name}, c ->
        set_default_profile(c, name)

      {:router, name}, c ->
        set_router(c, name)

      {:tools, refs}, c ->
        set_council_tools(c, refs)

      {:metadata, map}, c ->
        set_metadata(c, map)

      {key, _}, _ ->
        raise ArgumentError,
              "unknown option #{inspect(key)}; known options: [:name, :default_profile, :router, :tools, :metadata]"
    end)
  end

  @doc """
  Adds a member: a `%CouncilEx.DynamicMember{}`, or a map or keyword list
  for `CouncilEx.DynamicMember.new/1`.

  Raises `ArgumentError` when the member is malformed or its id is taken
  (by a member or the chair); use `put_member/2` to replace a member.

      iex> CouncilEx.DynamicCouncil.new("c")
      ...> |> CouncilEx.DynamicCouncil.add_member(id: "a", system_prompt: "A.")
      ...> |> CouncilEx.DynamicCouncil.add_member(%{"id" => "a", "system_prompt" => "Again."})
      ** (ArgumentError) member "a" is already in council "c"; use put_member/2 to replace it
  """
  @spec add_member(t(), DynamicMember.attrs()) :: t()
  def add_member(%__MODULE__{} = council, member) do
    member = DynamicMember.new(member)

    if member.id in member_ids(council) do
      raise ArgumentError,
            "member #{inspect(member.id)} is already in council #{inspect(council.id)}; use put_member/2 to replace it"
    end

    %{council | members: council.members ++ [member]}
  end

  @doc "Replaces the member with the same id in place, or adds it at the end."
  @spec put_member(t(), DynamicMember.attrs()) :: t()
  def put_member(%__MODULE__{} = council, member) do
    member = DynamicMember.new(member)

    case Enum.find_index(council.members, &(&1.id == member.id)) do
      nil -> add_member(council, member)
      idx -> %{council | members: List.replace_at(council.members, idx, member)}
    end
  end

  @doc "Removes the member with the given id; a missing id leaves the council as it is."
  @spec remove_member(t(), String.t()) :: t()
  def remove_member(%__MODULE__{} = council, id) when is_binary(id),
    do: %{council | members: Enum.reject(council.members, &(&1.id == id))}

  @doc """
  Appends a round: a `%CouncilEx.DynamicRound{}`, a type (string, atom or
  module), or a map or keyword list for `CouncilEx.DynamicRound.new/1`.
  A council without rounds runs `:independent_analysis`.
  """
  @spec add_round(t(), DynamicRound.attrs()) :: t()
  def add_round(%__MODULE__{} = council, round),
    do: %{council | rounds: council.rounds ++ [DynamicRound.new(round)]}

  @doc """
  Sets the chair, which writes the final answer in a synthesis round after
  the others; `nil` removes it. Raises like `add_member/2`.
  """
  @spec set_chair(t(), DynamicMember.attrs() | nil) :: t()
  def set_chair(%__MODULE__{} = council, nil), do: %{council | chair: nil}

  def set_chair(%__MODULE__{} = council, chair) do
    chair = DynamicMember.new(chair)

    if chair.id in Enum.map(council.members, & &1.id) do
      raise ArgumentError,
            "the chair's id #{inspect(chair.id)} is already a member of council #{inspect(council.id)}"
    end

    %{council | chair: chair}
  end

  @doc "Sets the council's default profile, a registered profile name; `nil` clears it."
  @spec set_default_profile(t(), String.t() | nil) :: t()
  def set_default_profile(%__MODULE__{} = council, name) do
    optional_name!(:default_profile, name)
    %{council | default_profile: name}
  end

  @doc "Sets the council's router, a registered router name; `nil` clears it."
  @spec set_router(t(), String.t() | nil) :: t()
  def set_router(%__MODULE__{} = council, name) do
    optional_name!(:router, name)
    %{council | router: name}
  end

  @doc "Replaces the council's metadata (any map; use string keys for it to survive JSON unchanged)."
  @spec set_metadata(t(), map()) :: t()
  def set_metadata(%__MODULE__{} = council, map) when is_map(map) and not is_struct(map),
    do: %{council | metadata: map}

  def set_metadata(%__MODULE__{}, other),
    do: raise(ArgumentError, "expected metadata to be a map, got: #{inspect(other)}")

  @doc """
  Appends a council tool (a registered tool name or a tool module). Council
  tools are given to every member, the chair included. Adding a tool the
  council already has changes nothing.
  """
  @spec add_council_tool(t(), module() | String.t()) :: t()
  def add_council_tool(%__MODULE__{} = council, ref) do
    unless Ref.ref?(ref),
      do:
        raise(
          ArgumentError,
          "expected a tool module or a non-empty tool name, got: #{inspect(ref)}"
        )

    if ref in council.tools, do: council, else: %{council | tools: council.tools ++ [ref]}
  end

  @doc "Replaces the council's tools."
  @spec set_council_tools(t(), [module() | String.t()]) :: t()
  def set_council_tools(%__MODULE__{} = council, refs) when is_list(refs),
    do: Enum.reduce(refs, %{council | tools: []}, &add_council_tool(&2, &1))

  def set_council_tools(%__MODULE__{}, other),
    do: raise(ArgumentError, "expected tools to be a list, got: #{inspect(other)}")

  defp optional_name!(_key, nil), do: :ok
  defp optional_name!(_key, name) when is_binary(name) and name != "", do: :ok

  defp optional_name!(key, other),
    do:
      raise(
        ArgumentError,
        "expected #{key} to be a registered name (a non-empty string) or nil, got: #{inspect(other)}"
      )

  defp member_ids(council),
    do: Enum.map(council.members, & &1.id) ++ List.wrap(council.chair && council.chair.id)

  ## Validation

  @doc """
  Checks that the council can run: `:ok` or `{:error, errors}` listing
  every problem (see "Errors" in the module doc).

  Besides types, it checks that every member has a system prompt, that
  every profile, tool, schema, router and round type it names is
  registered (or built in), and then, on the council lowered to a
  `%CouncilEx.Spec{}`, the rules every council follows (there are members,
  ids are unique, every member ends up with a provider and a model once
  profiles are resolved, the options are valid for their seat and round)
  and what the environment allows (the provider is configured under
  `config :council_ex, :providers`, its API key is set, output schemas
  compile). Registry and provider config are read as they are when
  `validate/1` is called.
  """
  @spec validate(t()) :: :ok | {:error, [error()]}
  def validate(%__MODULE__{} = council) do
    case Validate.errors(council) do
      [] -> :ok
      errors -> {:error, errors}
    end
  end

  @doc """
  Like `validate/1`, but raises `ArgumentError` listing the problems.
  """
  @spec validate!(t()) :: :ok
  def validate!(%__MODULE__{} = council) do
    case validate(council) do
      :ok ->
        :ok

      {:error, errors} ->
        raise ArgumentError,
              "invalid dynamic council #{inspect(council.id)}: " <> Errors.format(errors)
    end
  end

  ## Lowering

  @doc """
  Validates the council and lowers it to a `%CouncilEx.Spec{}` for
  `CouncilEx.RunServer`; raises `ArgumentError` (as `validate!/1`) when it
  is not valid.

  Members become `{id, %CouncilEx.DynamicMember{}, opts}` where `opts` is
  the resolved keyword list: the profile options, the overrides,
  `:system_prompt`, `:tools` (registered names resolved to their values)
  and `:output_schema` (the registered schema, or the inline one). Rounds
  are resolved with `CouncilEx.DynamicRound.resolve/1`; a council without
  rounds runs `:independent_analysis`, and a chair appends the synthesis
  round.
  """
  @spec to_spec(t()) :: Spec.t()
  def to_spec(%__MODULE__{} = council) do
    case checked_spec(council) do
      {:ok, spec} ->
        spec

      {:error, errors} ->
        raise ArgumentError,
              "invalid dynamic council #{inspect(council.id)}: " <> Errors.format(errors)
    end
  end

  @doc false
  # The spec of a valid council, checked once (its data, then the rules on
  # the spec): what a run starts from. The environment is checked when the
  # run is lowered (CouncilEx.Plan).
  @spec checked_spec(t()) :: {:ok, Spec.t()} | {:error, [error()]}
  def checked_spec(%__MODULE__{} = council), do: Validate.checked_spec(council)

  @doc false
  # The providers the council's seats name once profiles resolve,
  # sub-councils included. No validation.
  @spec providers(t()) :: MapSet.t()
  def providers(%__MODULE__{} = council), do: Lower.providers(council)

  ## Maps and JSON

  @doc """
  The council as a JSON-friendly map with string keys, including
  `"schema_version"`.

      iex> CouncilEx.DynamicCouncil.new("c", name: "C")
      ...> |> CouncilEx.DynamicCouncil.add_round("independent_analysis")
      ...> |> CouncilEx.DynamicCouncil.to_map()
      %{"schema_version" => 1, "id" => "c", "name" => "C", "default_profile" => nil, "router" => nil,
        "tools" => [], "metadata" => %{}, "members" => [], "chair" => nil,
        "rounds" => [%{"type" => "independent_analysis", "opts" => %{}}]}
  """
  @spec to_map(t()) :: map()
  def to_map(%__MODULE__{} = council), do: Document.to_map(council)

  @doc """
  Reads a council from a map such as `to_map/1` returns (string or atom
  keys): `{:ok, council}` or `{:error, errors}`.

  Shape and types are checked (unknown keys, wrong types, ids over 255
  bytes, sub-councils nested too deep, a `"schema_version"` newer than
  `schema_version/0`); registry references and the other run-time rules
  are left to `validate/1`. A missing `"schema_version"` reads as the
  current one.
  """
  @spec from_map(map()) :: {:ok, t()} | {:error, [error()]}
  def from_map(map), do: Document.cast(map, 0)

  @doc """
  Encodes the council as JSON: `{:ok, json}`, or `{:error, reason}` (a
  `CouncilEx.JSON` encode reason) when something in it, such as a tuple in
  its metadata, has no JSON form.
  """
  @spec to_json(t()) :: {:ok, String.t()} | {:error, CouncilEx.JSON.encode_error_reason()}
  def to_json(%__MODULE__{} = council), do: CouncilEx.JSON.encode(to_map(council))

  @doc "Like `to_json/1`, but returns the JSON or raises `CouncilEx.JSON.EncodeError`."
  @spec to_json!(t()) :: String.t()
  def to_json!(%__MODULE__{} = council), do: CouncilEx.JSON.encode!(to_map(council))

  @doc """
  Decodes a council from JSON: `{:ok, council}` or `{:error, errors}`; JSON
  that does not parse is one error with code `:invalid_json`. See
  `from_map/1`.

      iex> {:ok, council} = CouncilEx.DynamicCouncil.from_json(~s({"id": "c", "members": [{"id": "a"}]}))
      iex> hd(council.members).id
      "a"
      iex> CouncilEx.DynamicCouncil.from_json(~s({"id": "c", "schema_version": 9}))
      {:error, [%{path: ["schema_version"], code: :unsupported_schema_version,
                  message: "schema_version 9 is newer than this version of CouncilEx reads (1)"}]}
  """
  @spec from_json(String.t()) :: {:ok, t()} | {:error, [error()]}
  def from_json(json) when is_binary(json) do
    case CouncilEx.JSON.decode(json) do
      {:ok, map} ->
        from_map(map)

      {:error, reason} ->
        {:error,
         [
           Errors.new(
             [],
             :invalid_json,
             Exception.message(%CouncilEx.JSON.DecodeError{reason: reason})
           )
         ]}
    end
  end

  @doc """
  Like `from_json/1`, but returns the council or raises:
  `CouncilEx.JSON.DecodeError` when the JSON does not parse,
  `ArgumentError` when it is not a council.
  """
  @spec from_json!(String.t()) :: t()
  def from_json!(json) when is_binary(json) do
    case json |> CouncilEx.JSON.decode!() |> from_map() do
      {:ok, council} ->
        council

      {:error, errors} ->
        raise ArgumentError, "invalid dynamic council JSON: " <> Errors.format(errors)
    end
  end

  ## Graph

  @doc """
  The council as a node graph for UIs (React Flow and the like):
  `{nodes, edges}`.

  Nodes are maps with `:id`, `:type` (`"input"`, `"member"`, `"chair"`,
  `"output"`) and `:data` (a label, the member id, role, profile and
  metadata, and on the input node the round types). Edges are maps with
  `:id`, `:source` and `:target`: the input feeds every member, members
  feed the chair (or the output when there is none), the chair feeds the
  output.

      iex> {nodes, edges} =
      ...>   CouncilEx.DynamicCouncil.new("c")
      ...>   |> CouncilEx.DynamicCouncil.add_member(id: "a", system_prompt: "A.")
      ...>   |> CouncilEx.DynamicCouncil.to_graph()
      iex> Enum.map(nodes, & &1.id)
      ["input", "member:a", "output"]
      iex> Enum.map(edges, &{&1.source, &1.target})
      [{"input", "member:a"}, {"member:a", "output"}]
  """
  @spec to_graph(t()) :: {[map()], [map()]}
  def to_graph(%__MODULE__{} = council), do: Graph.to_graph(council)
end
