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
  its `:input_mapper`): it needs no system prompt, profile or provider, and
  of `:profile_overrides` only `:weight` and `:confidence` apply. In the
  spec it becomes `{id, member, [council: council_or_dynamic, input_mapper: fun]}`,
  as a module council's `member id, council: Council` does.
  """

  alias CouncilEx.{DynamicMember, DynamicRound, Profile, Registry, Spec}
  alias CouncilEx.Dynamic.{Errors, Ref}
  alias CouncilEx.Options.Seat, as: SeatOptions

  @schema_version 1
  @max_depth 8

  @fields [
    :schema_version,
    :id,
    :name,
    :default_profile,
    :router,
    :tools,
    :metadata,
    :members,
    :rounds,
    :chair
  ]

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
  def schema_version, do: @schema_version

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
    case check_id(id) do
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

  Besides types, it checks that there are members, that ids are unique,
  that every member has a system prompt, that every profile, tool, schema,
  router and round type it names is registered (or built in), and that
  every member ends up with a provider and a model once profiles are
  resolved, the provider being one configured under
  `config :council_ex, :providers`. Registry and provider config are read
  as they are when `validate/1` is called.
  """
  @spec validate(t()) :: :ok | {:error, [error()]}
  def validate(%__MODULE__{} = council) do
    case errors(council, 0) do
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

  defp errors(council, depth) do
    List.flatten([
      check_id(council.id),
      check_depth(depth),
      optional_string(council.name, ["name"]),
      check_named(:profile, council.default_profile, ["default_profile"], &Profile.fetch/1),
      router_errors(council.router, ["router"]),
      DynamicMember.check_tools(["tools"], council.tools),
      check_registered_tools(council.tools, ["tools"]),
      check_map(council.metadata, ["metadata"]),
      app_default_profile_errors(),
      seat_errors(council, depth),
      round_errors(council.rounds),
      chair_round_errors(council)
    ])
  end

  defp check_id(id),
    do: Enum.filter(DynamicMember.check(%DynamicMember{id: id}), &(&1.path == ["id"]))

  defp check_depth(depth) when depth <= @max_depth, do: []

  defp check_depth(_),
    do: Errors.new([], :too_deep, "sub-councils nest deeper than #{@max_depth} levels")

  defp optional_string(nil, _path), do: []
  defp optional_string(s, _path) when is_binary(s), do: []

  defp optional_string(other, path),
    do:
      Errors.new(
        path,
        :invalid_type,
        "expected #{List.last(path)} to be a string, got: #{Errors.show(other)}"
      )

  defp check_map(map, _path) when is_map(map) and not is_struct(map), do: []

  defp check_map(other, path),
    do:
      Errors.new(
        path,
        :invalid_type,
        "expected #{List.last(path)} to be a map, got: #{Errors.show(other)}"
      )

  # A reference that must be a registered name: nil is fine.
  defp check_named(_kind, nil, _path, _fetch), do: []

  defp check_named(kind, name, path, fetch) when is_binary(name) and name != "" do
    case fetch.(name) do
      {:ok, _} -> []
      {:error, _} -> Errors.new(path, unknown_code(kind), unknown_message(kind, name))
    end
  end

  defp check_named(kind, other, path, _fetch),
    do:
      Errors.new(
        path,
        :invalid_type,
        "expected a registered #{kind} name, got: #{Errors.show(other)}"
      )

  defp unknown_code(:profile), do: :unknown_profile
  defp unknown_code(:router), do: :unknown_router
  defp unknown_code(:schema), do: :unknown_schema
  defp unknown_code(:sub_council), do: :unknown_sub_council
  defp unknown_code(:input_mapper), do: :unknown_input_mapper

  defp unknown_message(kind, name),
    do:
      "no #{kind} registered as #{Errors.show(name)}; registered: #{Errors.show(Registry.names(kind))}"

  defp lookup(kind, name) do
    case Registry.lookup(kind, name) do
      nil -> {:error, :unknown}
      value -> {:ok, value}
    end
  end

  defp app_default_profile_errors do
    case Application.get_env(:council_ex, :default_profile) do
      nil ->
        []

      ref ->
        case Profile.fetch(ref) do
          {:ok, _} ->
            []

          {:error, why} ->
            Errors.new(
              [],
              :unknown_profile,
              "config :council_ex, :default_profile: #{Errors.show(ref)}: #{why}"
            )
        end
    end
  end

  defp check_registered_tools(tools, path) when is_list(tools) do
    for {ref, i} <- Enum.with_index(tools), Ref.ref?(ref), not tool?(ref) do
      Errors.new(path ++ [i], :unknown_tool, "no tool registered as #{Errors.show(ref)}")
    end
  end

  defp check_registered_tools(_tools, _path), do: []

  defp tool?(name) when is_binary(name), do: Registry.lookup(:tool, name) != nil
  defp tool?(module), do: Code.ensure_loaded?(module)

  ## Seats

  defp seat_errors(council, depth) do
    members = if is_list(council.members), do: council.members, else: []
    chair = council.chair

    List.flatten([
      members_shape(council.members),
      if(members == [] and is_list(council.members),
        do: Errors.new(["members"], :no_members, "a council needs at least one member"),
        else: []
      ),
      duplicate_ids(council),
      for(
        {m, i} <- Enum.with_index(members),
        do: member_errors(council, m, ["members", i], depth)
      ),
      chair_errors(council, chair, depth)
    ])
  end

  defp members_shape(members) when is_list(members) do
    for {m, i} <- Enum.with_index(members),
        not is_struct(m, DynamicMember),
        do:
          Errors.new(
            ["members", i],
            :invalid_type,
            "expected a %CouncilEx.DynamicMember{}, got: #{Errors.show(m)}"
          )
  end

  defp members_shape(other),
    do:
      Errors.new(
        ["members"],
        :invalid_type,
        "expected members to be a list, got: #{Errors.show(other)}"
      )

  defp chair_errors(_council, nil, _depth), do: []

  defp chair_errors(council, %DynamicMember{} = chair, depth) do
    List.flatten([
      member_errors(council, chair, ["chair"], depth),
      fallback_errors(council, chair)
    ])
  end

  defp chair_errors(_council, other, _depth),
    do:
      Errors.new(
        ["chair"],
        :invalid_type,
        "expected the chair to be a %CouncilEx.DynamicMember{} or nil, got: #{Errors.show(other)}"
      )

  defp duplicate_ids(council) do
    seats = seats_with_paths(council)

    {_, errors} =
      Enum.reduce(seats, {MapSet.new(), []}, fn {m, path}, {seen, errors} ->
        if MapSet.member?(seen, m.id),
          do:
            {seen,
             [
               Errors.new(
                 path ++ ["id"],
                 :duplicate_id,
                 "member id #{Errors.show(m.id)} is used more than once"
               )
               | errors
             ]},
          else: {MapSet.put(seen, m.id), errors}
      end)

    Enum.reverse(errors)
  end

  defp seats_with_paths(council) do
    members = if is_list(council.members), do: council.members, else: []
    chair = if is_struct(council.chair, DynamicMember), do: [{council.chair, ["chair"]}], else: []

    for({m, i} <- Enum.with_index(members), is_struct(m, DynamicMember), do: {m, ["members", i]}) ++
      chair
  end

  defp member_errors(_council, m, path, _depth) when not is_struct(m, DynamicMember),
    do: Errors.new(path, :invalid_type, "expected a member")

  defp member_errors(council, m, path, depth) do
    case DynamicMember.check(m) do
      [] when m.sub_council != nil -> sub_council_errors(m, path, depth)
      [] -> seat_semantic_errors(council, m, path)
      type_errors -> Errors.prefix(type_errors, path)
    end
  end

  defp seat_semantic_errors(council, m, path) do
    List.flatten([
      seat_option_errors(m, path),
      if(m.system_prompt in [nil, ""],
        do:
          Errors.new(
            path ++ ["system_prompt"],
            :missing_system_prompt,
            "member #{Errors.show(m.id)} has no system prompt"
          ),
        else: []
      ),
      check_named(:profile, m.profile, path ++ ["profile"], &Profile.fetch/1),
      check_registered_tools(m.tools, path ++ ["tools"]),
      check_named(:schema, m.output_schema, path ++ ["output_schema"], &lookup(:schema, &1)),
      if(m.output_schema && m.output_schema_inline,
        do:
          Errors.new(
            path ++ ["output_schema_inline"],
            :conflicting_output_schema,
            "output_schema and output_schema_inline are mutually exclusive"
          ),
        else: []
      ),
      capability_errors(council, m, path)
    ])
  end

  # Provider and model once profiles are resolved. A profile that does not
  # resolve is reported where it is named, not again for every member.
  defp capability_errors(council, m, path) do
    case Profile.resolve_opts(member_opts(m), valid_name(council.default_profile)) do
      {:ok, opts} ->
        List.flatten([
          missing(opts, :provider, m, path),
          missing(opts, :model, m, path),
          unknown_provider(opts[:provider], path),
          for(
            ref <- List.wrap(opts[:tools]) -- m.tools,
            Ref.ref?(ref),
            not tool?(ref),
            do:
              Errors.new(
                path,
                :unknown_tool,
                "the profile's tool #{Errors.show(ref)} is not registered"
              )
          )
        ])

      {:error, _} ->
        []
    end
  end

  defp valid_name(name) when is_binary(name) and name != "", do: name
  defp valid_name(_), do: nil

  defp missing(opts, key, m, path) do
    if opts[key] in [nil, ""],
      do:
        Errors.new(
          path,
          if(key == :provider, do: :missing_provider, else: :missing_model),
          "member #{Errors.show(m.id)} has no #{key}: set a profile, a default profile or profile_overrides.#{key}"
        ),
      else: []
  end

  defp unknown_provider(nil, _path), do: []

  defp unknown_provider(provider, path) do
    case CouncilEx.Provider.resolve(provider) do
      {:ok, _} ->
        []

      {:error, _} ->
        Errors.new(
          path,
          :unknown_provider,
          "provider #{Errors.show(provider)} is not configured under config :council_ex, :providers"
        )
    end
  end

  defp sub_council_errors(m, path, depth) do
    reference =
      case m.sub_council do
        %__MODULE__{} = inner ->
          Errors.prefix(errors(inner, depth + 1), path ++ ["sub_council"])

        name when is_binary(name) ->
          case lookup(:sub_council, name) do
            {:ok, value} ->
              registered_sub_council_errors(value, path ++ ["sub_council"], depth)

            {:error, _} ->
              check_named(:sub_council, name, path ++ ["sub_council"], &lookup(:sub_council, &1))
          end

        _module ->
          []
      end

    List.flatten([
      reference,
      input_mapper_errors(m.input_mapper, path ++ ["input_mapper"]),
      seat_option_errors(m, path)
    ])
  end

  # A registered sub-council is checked like a nested one.
  defp registered_sub_council_errors(%__MODULE__{} = inner, path, depth),
    do: Errors.prefix(errors(inner, depth + 1), path)

  defp registered_sub_council_errors(%{} = map, path, depth) when not is_struct(map) do
    case cast(map, depth + 1) do
      {:ok, inner} -> Errors.prefix(errors(inner, depth + 1), path)
      {:error, errors} -> Errors.prefix(errors, path)
    end
  end

  defp registered_sub_council_errors(_module, _path, _depth), do: []

  defp input_mapper_errors("&" <> _ = capture, path) do
    Errors.new(
      path,
      :unknown_input_mapper,
      "#{Errors.show(capture)} is not a registered input mapper; " <>
        "functions named in JSON must be registered as an :input_mapper"
    )
  end

  defp input_mapper_errors(name, path) when is_binary(name),
    do: check_named(:input_mapper, name, path, &lookup(:input_mapper, &1))

  defp input_mapper_errors(_fun, _path), do: []

  # Options that only suit some seats: the chair's fallback, and nothing
  # but weight and confidence on a sub-council.
  defp seat_option_errors(%DynamicMember{} = m, path) do
    overrides = if is_map(m.profile_overrides), do: m.profile_overrides, else: %{}

    fallback =
      if Map.has_key?(overrides, :fallback) and path != ["chair"],
        do:
          Errors.new(
            path ++ ["profile_overrides", "fallback"],
            :invalid_type,
            "fallback is a chair option; member #{Errors.show(m.id)} is not the chair"
          ),
        else: []

    sub =
      if m.sub_council != nil do
        for key <- Map.keys(overrides) -- [:weight, :confidence] do
          Errors.new(
            path ++ ["profile_overrides", Atom.to_string(key)],
            :invalid_type,
            "sub-council member #{Errors.show(m.id)} cannot take #{key}: its own council's members do the calls"
          )
        end
      else
        []
      end

    [fallback | sub]
  end

  defp fallback_errors(council, %DynamicMember{} = chair) do
    members = if is_list(council.members), do: council.members, else: []

    case is_map(chair.profile_overrides) && chair.profile_overrides[:fallback] do
      ids when is_list(ids) ->
        for {id, i} <- Enum.with_index(ids), error = fallback_error(members, id) do
          Errors.new(["chair", "profile_overrides", "fallback", i], :unknown_member, error)
        end

      _ ->
        []
    end
  end

  defp fallback_error(members, id) do
    case Enum.find(members, &(is_struct(&1, DynamicMember) and &1.id == id)) do
      nil ->
        "the chair's fallback names #{Errors.show(id)}, which is not a member"

      %DynamicMember{sub_council: nil} ->
        nil

      _ ->
        "the chair's fallback #{Errors.show(id)} is a sub-council; fallback seats must call a model"
    end
  end

  ## Rounds

  defp round_errors(rounds) when is_list(rounds) do
    for {r, i} <- Enum.with_index(rounds) do
      path = ["rounds", i]

      cond do
        not is_struct(r, DynamicRound) ->
          Errors.new(
            path,
            :invalid_type,
            "expected a %CouncilEx.DynamicRound{}, got: #{Errors.show(r)}"
          )

        (type_errors = DynamicRound.check(r)) != [] ->
          Errors.prefix(type_errors, path)

        true ->
          round_reference_errors(r, path)
      end
    end
  end

  defp round_errors(other),
    do:
      Errors.new(
        ["rounds"],
        :invalid_type,
        "expected rounds to be a list, got: #{Errors.show(other)}"
      )

  defp round_reference_errors(r, path) do
    case DynamicRound.fetch_module(r.type) do
      {:ok, module} ->
        List.flatten([
          Errors.prefix(DynamicRound.opts_errors(module, r.opts, :data), path),
          opt_reference_errors(r.opts, path ++ ["opts"])
        ])

      :error ->
        Errors.new(
          path ++ ["type"],
          :unknown_round,
          "unknown round type #{Errors.show(r.type)}; built-in rounds: #{inspect(CouncilEx.Rounds.names())}"
        )
    end
  end

  # Registered names in round options (and in an iterate round's wrap_opts).
  defp opt_reference_errors(opts, path) when is_map(opts) do
    Enum.flat_map(opts, &List.wrap(opt_reference_error(&1, path)))
  end

  defp opt_reference_errors(_opts, _path), do: []

  defp opt_reference_error(opt, path) do
    case opt do
      {:router, name} when is_binary(name) ->
        router_function_errors(name, :select, path ++ ["router"])

      {:until_ref, name} when is_binary(name) ->
        router_function_errors(name, :until, path ++ ["until_ref"])

      {:judge_ref, name} when is_binary(name) ->
        router_function_errors(name, :judge, path ++ ["judge_ref"])

      {:judge, "&" <> _ = capture} ->
        Errors.new(
          path ++ ["judge"],
          :unknown_judge,
          "#{Errors.show(capture)} is not a function of a registered :router module; " <>
            "functions named in JSON must belong to a module registered as a :router"
        )

      {:wrap, name} when is_binary(name) ->
        case DynamicRound.fetch_module(name) do
          {:ok, _} ->
            []

          :error ->
            Errors.new(
              path ++ ["wrap"],
              :unknown_round,
              "unknown round type #{Errors.show(name)}; built-in rounds: #{inspect(CouncilEx.Rounds.names())}"
            )
        end

      {:wrap_opts, wrap_opts} when is_map(wrap_opts) ->
        opt_reference_errors(wrap_opts, path ++ ["wrap_opts"])

      _ ->
        []
    end
  end

  defp router_errors(name, path) when is_binary(name) and name != "",
    do: router_function_errors(name, :select, path)

  defp router_errors(other, path), do: check_named(:router, other, path, &lookup(:router, &1))

  defp router_function_errors(name, fun, path) do
    case lookup(:router, name) do
      {:ok, module} ->
        if is_atom(module) and Code.ensure_loaded?(module) and function_exported?(module, fun, 2),
          do: [],
          else:
            Errors.new(
              path,
              :invalid_type,
              "the router registered as #{Errors.show(name)} (#{inspect(module)}) does not export #{fun}/2"
            )

      {:error, _} ->
        Errors.new(path, :unknown_router, unknown_message(:router, name))
    end
  end

  # A weighted_synthesis (or synthesis) round is the chair's.
  defp chair_round_errors(%__MODULE__{chair: nil, rounds: rounds}) when is_list(rounds) do
    for {%DynamicRound{} = r, i} <- Enum.with_index(rounds),
        {:ok, module} <- [DynamicRound.fetch_module(r.type)],
        CouncilEx.Rounds.chair_round?(module) do
      Errors.new(
        ["rounds", i, "type"],
        :missing_chair,
        "round #{Errors.show(r.type)} is written by the chair, and the council has none"
      )
    end
  end

  defp chair_round_errors(_council), do: []

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
    validate!(council)
    members = Enum.map(council.members, &seat(council, &1))
    chair = council.chair && seat(council, council.chair)

    rounds =
      council.rounds |> Enum.map(&DynamicRound.resolve/1) |> Spec.complete_rounds(chair != nil)

    %Spec{
      council: "dynamic:" <> council.id,
      members: members,
      rounds: rounds,
      chair: chair,
      router: council.router && Registry.lookup(:router, council.router),
      opts: [name: council.name, default_profile: council.default_profile]
    }
  end

  defp seat(_council, %DynamicMember{sub_council: sub} = m) when sub != nil do
    # A sub-council's own members do the calls: of the member's options
    # only its weight and confidence apply (validate/1 refuses the others).
    overrides = if is_map(m.profile_overrides), do: m.profile_overrides, else: %{}

    mapper = resolve_input_mapper(m.input_mapper)

    opts =
      [council: resolve_sub_council(sub)] ++
        if(mapper, do: [input_mapper: mapper], else: []) ++
        for(
          key <- [:weight, :confidence],
          Map.has_key?(overrides, key),
          do: {key, overrides[key]}
        )

    {m.id, m, opts}
  end

  defp seat(council, %DynamicMember{} = m) do
    opts = Profile.resolve(member_opts(m), council.default_profile)
    tools = Enum.uniq(List.wrap(opts[:tools]) ++ m.tools ++ council.tools)

    opts
    |> Keyword.put(:system_prompt, m.system_prompt)
    |> put_present(:tools, Enum.map(tools, &resolve_tool/1))
    |> put_present(:output_schema, output_schema(m))
    |> then(&{m.id, m, &1})
  end

  @doc false
  # The providers the council's seats name once profiles resolve, sub-councils
  # included; what cannot be resolved is left out. No validation.
  @spec providers(t()) :: MapSet.t()
  def providers(%__MODULE__{} = council), do: providers(council, 0)

  defp providers(_council, depth) when depth > @max_depth, do: MapSet.new()

  defp providers(%__MODULE__{} = council, depth) do
    seats = List.wrap(council.members) ++ List.wrap(council.chair)

    for %DynamicMember{} = m <- seats, reduce: MapSet.new() do
      acc -> MapSet.union(acc, seat_providers(council, m, depth))
    end
  end

  defp seat_providers(_council, %DynamicMember{sub_council: nil} = m, _depth)
       when not is_map(m.profile_overrides),
       do: MapSet.new()

  defp seat_providers(council, %DynamicMember{sub_council: nil} = m, _depth) do
    case Profile.resolve_opts(member_opts(m), valid_name(council.default_profile)) do
      {:ok, opts} -> opts |> Keyword.get(:provider) |> List.wrap() |> MapSet.new()
      _ -> MapSet.new()
    end
  end

  defp seat_providers(_council, %DynamicMember{sub_council: sub}, depth) do
    sub = if is_binary(sub), do: Registry.lookup(:sub_council, sub), else: sub

    case sub do
      %__MODULE__{} = inner ->
        providers(inner, depth + 1)

      %{} = map when not is_struct(map) ->
        case from_map(map) do
          {:ok, inner} -> providers(inner, depth + 1)
          {:error, _} -> MapSet.new()
        end

      module when is_atom(module) and module != nil ->
        Spec.council_providers(module)

      _ ->
        MapSet.new()
    end
  end

  # The member's own options for Profile.resolve/2: its profile and overrides.
  defp member_opts(%DynamicMember{} = m) do
    overrides =
      if is_map(m.profile_overrides),
        do: Map.to_list(m.profile_overrides),
        else: m.profile_overrides

    overrides =
      Enum.sort_by(overrides, fn {key, _} ->
        Enum.find_index(SeatOptions.override_keys(), &(&1 == key))
      end)

    if is_binary(m.profile), do: [{:profile, m.profile} | overrides], else: overrides
  end

  defp put_present(opts, _key, value) when value in [nil, []], do: opts
  defp put_present(opts, key, value), do: Keyword.put(opts, key, value)

  # A sub-council as the spec holds it: a council module or a %DynamicCouncil{}.
  defp resolve_sub_council(name) when is_binary(name),
    do: name |> then(&Registry.lookup!(:sub_council, &1)) |> resolve_sub_council()

  defp resolve_sub_council(%{} = map) when not is_struct(map) do
    case from_map(map) do
      {:ok, council} -> council
      {:error, errors} -> raise ArgumentError, "invalid sub-council: " <> Errors.format(errors)
    end
  end

  defp resolve_sub_council(council), do: council

  defp resolve_input_mapper(name) when is_binary(name), do: Registry.lookup!(:input_mapper, name)
  defp resolve_input_mapper(other), do: other

  defp resolve_tool(name) when is_binary(name), do: Registry.lookup!(:tool, name)
  defp resolve_tool(module), do: module

  defp output_schema(%DynamicMember{output_schema: name}) when is_binary(name),
    do: Registry.lookup!(:schema, name)

  defp output_schema(%DynamicMember{output_schema_inline: schema}), do: schema

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
  def to_map(%__MODULE__{} = c) do
    %{
      "schema_version" => @schema_version,
      "id" => c.id,
      "name" => c.name,
      "default_profile" => c.default_profile,
      "router" => c.router,
      "tools" => Enum.map(c.tools, &Ref.to_json/1),
      "metadata" => c.metadata,
      "members" => Enum.map(c.members, &DynamicMember.to_map/1),
      "rounds" => Enum.map(c.rounds, &DynamicRound.to_map/1),
      "chair" => c.chair && DynamicMember.to_map(c.chair)
    }
  end

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
  def from_map(map), do: cast(map, 0)

  @doc false
  def cast(map, depth) when is_map(map) and not is_struct(map) do
    with {:ok, fields, key_errors} <- Errors.fields(map, @fields),
         [] <- List.flatten([check_version(fields[:schema_version]), check_depth(depth)]) do
      case {build(fields, depth), key_errors} do
        {result, []} -> result
        {{:ok, _}, errors} -> {:error, errors}
        {{:error, errors}, key_errors} -> {:error, key_errors ++ errors}
      end
    else
      {:error, errors} -> {:error, errors}
      errors -> {:error, errors}
    end
  end

  def cast(other, _depth),
    do:
      {:error,
       [Errors.new([], :invalid_type, "expected a council map, got: #{Errors.show(other)}")]}

  defp check_version(nil), do: []
  defp check_version(v) when is_integer(v) and v >= 1 and v <= @schema_version, do: []

  defp check_version(v) when is_integer(v) and v > @schema_version,
    do:
      Errors.new(
        ["schema_version"],
        :unsupported_schema_version,
        "schema_version #{v} is newer than this version of CouncilEx reads (#{@schema_version})"
      )

  defp check_version(v),
    do:
      Errors.new(
        ["schema_version"],
        :invalid_type,
        "expected schema_version to be a positive integer, got: #{Errors.show(v)}"
      )

  defp build(fields, depth) do
    {members, member_errors} =
      cast_list(fields[:members], "members", &DynamicMember.cast(&1, depth))

    {rounds, round_errors} = cast_list(fields[:rounds], "rounds", &DynamicRound.cast/1)
    {chair, chair_errors} = cast_chair(fields[:chair], depth)
    tools = fields[:tools] || []

    council = %__MODULE__{
      id: fields[:id],
      name: fields[:name],
      default_profile: fields[:default_profile],
      router: fields[:router],
      tools: if(is_list(tools), do: Enum.map(tools, &Ref.module_or_name/1), else: tools),
      metadata: fields[:metadata] || %{},
      members: members,
      rounds: rounds,
      chair: chair
    }

    shape =
      List.flatten([
        check_id(council.id),
        optional_string(council.name, ["name"]),
        optional_name(council.default_profile, ["default_profile"]),
        optional_name(council.router, ["router"]),
        DynamicMember.check_tools(["tools"], council.tools),
        check_map(council.metadata, ["metadata"])
      ])

    case shape ++ member_errors ++ round_errors ++ chair_errors do
      [] -> {:ok, council}
      errors -> {:error, errors}
    end
  end

  defp optional_name(nil, _path), do: []
  defp optional_name(name, _path) when is_binary(name) and name != "", do: []

  defp optional_name(other, path),
    do:
      Errors.new(
        path,
        :invalid_type,
        "expected #{List.last(path)} to be a registered name, got: #{Errors.show(other)}"
      )

  defp cast_list(nil, _key, _cast), do: {[], []}

  defp cast_list(items, key, cast) when is_list(items) do
    results = items |> Enum.with_index() |> Enum.map(fn {item, i} -> {cast.(item), i} end)
    values = for {{:ok, value}, _} <- results, do: value
    errors = for {{:error, errors}, i} <- results, do: Errors.prefix(errors, [key, i])
    {values, List.flatten(errors)}
  end

  defp cast_list(other, key, _cast),
    do:
      {[],
       [
         Errors.new(
           [key],
           :invalid_type,
           "expected #{key} to be a list, got: #{Errors.show(other)}"
         )
       ]}

  defp cast_chair(nil, _depth), do: {nil, []}

  defp cast_chair(chair, depth) do
    case DynamicMember.cast(chair, depth) do
      {:ok, member} -> {member, []}
      {:error, errors} -> {nil, Errors.prefix(errors, ["chair"])}
    end
  end

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
  def to_graph(%__MODULE__{} = council) do
    members = Enum.map(council.members, &member_node("member", &1))
    chair = if council.chair, do: [member_node("chair", council.chair)], else: []

    input = %{
      id: "input",
      type: "input",
      data: %{label: "Input", rounds: Enum.map(council.rounds, &Ref.to_json(&1.type))}
    }

    output = %{id: "output", type: "output", data: %{label: "Output"}}
    sink = if council.chair, do: hd(chair).id, else: "output"

    edges =
      Enum.map(members, &edge("input", &1.id)) ++
        Enum.map(members, &edge(&1.id, sink)) ++
        if(council.chair, do: [edge(sink, "output")], else: [])

    {[input] ++ members ++ chair ++ [output], edges}
  end

  defp member_node(type, m) do
    data = %{
      label: m.role || m.id,
      member_id: m.id,
      role: m.role,
      profile: m.profile,
      metadata: m.metadata
    }

    %{id: type <> ":" <> m.id, type: type, data: data}
  end

  defp edge(source, target), do: %{id: source <> "->" <> target, source: source, target: target}
end
