defmodule CouncilEx.Dynamic.Lower do
  @moduledoc false
  # Lowers a %CouncilEx.DynamicCouncil{} to the %CouncilEx.Spec{} a module
  # council compiles to: registered names resolved to their values,
  # profiles merged with overrides, rounds resolved. It checks nothing: the
  # spec then goes through CouncilEx.Council.Rules like any other. A name
  # that does not resolve (CouncilEx.Dynamic.Validate reports it) is left
  # as it is, so a council with such problems still lowers and its other
  # problems can be reported beside them.

  alias CouncilEx.{DynamicCouncil, DynamicMember, DynamicRound, Profile, Spec}
  alias CouncilEx.Options.Seat, as: SeatOptions
  alias CouncilEx.Registry, as: Catalog

  @doc "The council's spec; the rules are checked on it."
  @spec spec(%DynamicCouncil{}) :: Spec.t()
  def spec(%DynamicCouncil{} = council) do
    members = Enum.map(List.wrap(council.members), &seat(council, &1))
    chair = council.chair && seat(council, council.chair)

    rounds =
      council.rounds
      |> List.wrap()
      |> Enum.map(&resolve_round/1)
      |> Spec.complete_rounds(chair != nil)

    %Spec{
      council: "dynamic:" <> council.id,
      members: members,
      rounds: rounds,
      chair: chair,
      router: council.router && Catalog.lookup(:router, council.router),
      opts: [name: council.name, default_profile: council.default_profile]
    }
  end

  # A sub-council's own members do the calls: of the member's overrides
  # only weight and confidence apply, and the rules refuse the others.
  defp seat(_council, %DynamicMember{sub_council: sub} = m) when sub != nil do
    mapper = resolve_input_mapper(m.input_mapper)
    mapper_opt = if mapper, do: [input_mapper: mapper], else: []
    overrides = Keyword.delete(member_opts(m), :profile)
    {id(m), m, [council: resolve_sub_council(sub)] ++ mapper_opt ++ overrides}
  end

  defp seat(council, %DynamicMember{} = m) do
    opts =
      case Profile.resolve_opts(member_opts(m), valid_name(council.default_profile)) do
        {:ok, opts} -> opts
        {:error, _} -> member_opts(m)
      end

    tools = Enum.uniq(List.wrap(opts[:tools]) ++ List.wrap(m.tools) ++ List.wrap(council.tools))

    opts
    |> Keyword.put(:system_prompt, m.system_prompt)
    |> put_present(:tools, Enum.map(tools, &resolve_tool/1))
    |> put_present(:output_schema, output_schema(m))
    |> then(&{id(m), m, &1})
  end

  # An id that is not a string was reported by the data checks.
  defp id(%DynamicMember{id: id}) when is_binary(id), do: id
  defp id(_m), do: "?"

  # A round that does not resolve stands as an independent analysis.
  defp resolve_round(round) do
    DynamicRound.resolve(round)
  rescue
    _ -> {CouncilEx.Rounds.IndependentAnalysis, []}
  end

  @doc """
  The providers the council's seats name once profiles resolve,
  sub-councils included; what cannot be resolved is left out. No
  validation.
  """
  @spec providers(DynamicCouncil.t()) :: MapSet.t()
  def providers(%DynamicCouncil{} = council), do: providers(council, 0)

  defp providers(council, depth) do
    if depth > CouncilEx.Dynamic.Document.max_depth(),
      do: MapSet.new(),
      else: seats_providers(council, depth)
  end

  defp seats_providers(%DynamicCouncil{} = council, depth) do
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
    sub = if is_binary(sub), do: Catalog.lookup(:sub_council, sub), else: sub

    case sub do
      %DynamicCouncil{} = inner ->
        providers(inner, depth + 1)

      %{} = map when not is_struct(map) ->
        case CouncilEx.Dynamic.Document.cast(map, 0) do
          {:ok, inner} -> providers(inner, depth + 1)
          {:error, _} -> MapSet.new()
        end

      module when is_atom(module) and module != nil ->
        Spec.council_providers(module)

      _ ->
        MapSet.new()
    end
  end

  defp valid_name(name) when is_binary(name) and name != "", do: name
  defp valid_name(_), do: nil

  @doc "A member's own options for `CouncilEx.Profile.resolve/2`: its profile and overrides."
  @spec member_opts(%DynamicMember{}) :: keyword()
  def member_opts(%DynamicMember{} = m) do
    overrides =
      cond do
        is_map(m.profile_overrides) -> Map.to_list(m.profile_overrides)
        Keyword.keyword?(m.profile_overrides) -> m.profile_overrides
        true -> []
      end

    overrides =
      Enum.sort_by(overrides, fn {key, _} ->
        Enum.find_index(SeatOptions.override_keys(), &(&1 == key))
      end)

    if is_binary(m.profile), do: [{:profile, m.profile} | overrides], else: overrides
  end

  defp put_present(opts, _key, value) when value in [nil, []], do: opts
  defp put_present(opts, key, value), do: Keyword.put(opts, key, value)

  # A sub-council as the spec holds it: a council module or a %DynamicCouncil{}.
  defp resolve_sub_council(name) when is_binary(name) do
    case Catalog.lookup(:sub_council, name) do
      nil -> name
      council -> resolve_sub_council(council)
    end
  end

  defp resolve_sub_council(%{} = map) when not is_struct(map) do
    case CouncilEx.Dynamic.Document.cast(map, 0) do
      {:ok, council} -> council
      {:error, _errors} -> map
    end
  end

  defp resolve_sub_council(council), do: council

  defp resolve_input_mapper(name) when is_binary(name),
    do: Catalog.lookup(:input_mapper, name) || name

  defp resolve_input_mapper(other), do: other

  defp resolve_tool(name) when is_binary(name), do: Catalog.lookup(:tool, name) || name
  defp resolve_tool(module), do: module

  defp output_schema(%DynamicMember{output_schema: name}) when is_binary(name),
    do: Catalog.lookup(:schema, name)

  defp output_schema(%DynamicMember{output_schema_inline: schema}), do: schema
end
