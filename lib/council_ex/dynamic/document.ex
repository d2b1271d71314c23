defmodule CouncilEx.Dynamic.Document do
  @moduledoc false
  # A dynamic council as a document: the JSON-friendly map it is stored as
  # (to_map/1) and read back from (cast/2, which checks shape and types and
  # never creates atoms), and the field checks both directions share with
  # CouncilEx.Dynamic.Validate.

  alias CouncilEx.{DynamicCouncil, DynamicMember, DynamicRound}
  alias CouncilEx.Dynamic.{Errors, Ref}

  # The newest document version this library reads and writes, and how
  # deep sub-councils may nest.
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

  @doc false
  def schema_version, do: @schema_version

  @doc false
  def max_depth, do: @max_depth

  @doc "The council as a JSON-friendly map with string keys (see `CouncilEx.DynamicCouncil.to_map/1`)."
  @spec to_map(DynamicCouncil.t()) :: map()
  def to_map(%DynamicCouncil{} = c) do
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

  @doc "Reads a council map (see `CouncilEx.DynamicCouncil.from_map/1`); `depth` counts the councils around it."
  @spec cast(term(), non_neg_integer()) ::
          {:ok, DynamicCouncil.t()} | {:error, [DynamicCouncil.error()]}
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

    council = %DynamicCouncil{
      id: fields[:id],
      name: fields[:name],
      default_profile: fields[:default_profile],
      router: fields[:router],
      tools:
        if(is_list(tools),
          do: Enum.map(tools, &Ref.module_or_name(&1, CouncilEx.Tool)),
          else: tools
        ),
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

  ## Field checks

  @doc false
  def check_id(id),
    do: Enum.filter(DynamicMember.check(%DynamicMember{id: id}), &(&1.path == ["id"]))

  @doc false
  def check_depth(depth) when depth <= @max_depth, do: []

  def check_depth(_),
    do: Errors.new([], :too_deep, "sub-councils nest deeper than #{@max_depth} levels")

  @doc false
  def optional_string(nil, _path), do: []
  def optional_string(s, _path) when is_binary(s), do: []

  def optional_string(other, path),
    do:
      Errors.new(
        path,
        :invalid_type,
        "expected #{List.last(path)} to be a string, got: #{Errors.show(other)}"
      )

  @doc false
  def check_map(map, _path) when is_map(map) and not is_struct(map), do: []

  def check_map(other, path),
    do:
      Errors.new(
        path,
        :invalid_type,
        "expected #{List.last(path)} to be a map, got: #{Errors.show(other)}"
      )
end
