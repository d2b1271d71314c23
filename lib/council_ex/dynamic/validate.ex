defmodule CouncilEx.Dynamic.Validate do
  @moduledoc false
  # Checks a %CouncilEx.DynamicCouncil{} in two steps. First what only a
  # council as data has: types, the names it refers to registered in
  # CouncilEx.Registry (profiles, tools, schemas, routers, round types,
  # sub-councils, input mappers), a system prompt on every member. Then,
  # lowered to a %CouncilEx.Spec{}, the rules every council follows
  # (CouncilEx.Council.Rules) and what the environment allows
  # (CouncilEx.Plan.check/2), with their paths and codes translated into
  # the document's: ["members", 0, "temperature"] becomes
  # ["members", 0, "profile_overrides", "temperature"].

  alias CouncilEx.{DynamicCouncil, DynamicMember, DynamicRound, Profile}
  alias CouncilEx.Council.Rules
  alias CouncilEx.Dynamic.{Document, Errors, Lower, Ref}
  alias CouncilEx.Registry, as: Catalog

  import Document, only: [check_id: 1, check_depth: 1, optional_string: 2, check_map: 2]

  @doc """
  The council's spec, checked against its data checks and the rules:
  `{:ok, spec}` or `{:error, errors}` (document paths).
  """
  @spec checked_spec(%DynamicCouncil{}, non_neg_integer()) ::
          {:ok, CouncilEx.Spec.t()} | {:error, [DynamicCouncil.error()]}
  def checked_spec(council, depth \\ 0) do
    data = data_errors(council, depth)

    if lowerable?(council) do
      spec = Lower.spec(council)
      rules = council |> translate(Rules.check(spec, :spec)) |> Enum.reject(&covered?(&1, data))

      case Enum.sort_by(data ++ rules, &section(&1.path)) do
        [] -> {:ok, spec}
        errors -> {:error, errors}
      end
    else
      {:error, data}
    end
  end

  @doc "Every problem of the council, the environment's included (document paths)."
  @spec errors(%DynamicCouncil{}, non_neg_integer()) :: [DynamicCouncil.error()]
  def errors(council, depth \\ 0), do: council_errors(council, depth)

  defp council_errors(council, depth) do
    case checked_spec(council, depth) do
      {:ok, spec} -> translate(council, CouncilEx.Plan.check(spec, []))
      {:error, errors} -> errors
    end
  end

  # A struct edited by hand into something that is not a council at all
  # (the data checks say where) cannot be lowered.
  defp lowerable?(%DynamicCouncil{members: members, chair: chair, rounds: rounds}) do
    is_list(members) and Enum.all?(members, &is_struct(&1, DynamicMember)) and
      (chair == nil or is_struct(chair, DynamicMember)) and is_list(rounds) and
      Enum.all?(rounds, &is_struct(&1, DynamicRound))
  end

  # A seat or round with a data problem (an unknown profile, say) lowers
  # with what resolves; what the rules then find there follows from that
  # problem and is not reported again. So do a seat's missing provider and
  # model when a default profile does not resolve, and its tools when a
  # council tool does not.
  defp covered?(%{path: path, code: code}, data) do
    Enum.any?(data, fn %{path: data_path} = d ->
      List.starts_with?(path, place(data_path)) or
        (code in [:missing_provider, :missing_model] and d.code == :unknown_profile) or
        (match?(["tools" | _], data_path) and List.last(path) == "tools")
    end)
  end

  defp place(["members", i | _]), do: ["members", i]
  defp place(["chair" | _]), do: ["chair"]
  defp place(["rounds", i | _]), do: ["rounds", i]
  defp place(path), do: path

  # Errors in the order of the document's fields.
  @sections ["schema_version", "id", "name", "default_profile", "router", "tools", "metadata"] ++
              ["members", "chair", "rounds"]

  defp section(["rounds", i | _]), do: {length(@sections) - 1, i}

  defp section([field | _]),
    do: {Enum.find_index(@sections, &(&1 == field)) || length(@sections), 0}

  defp section([]), do: {length(@sections), 0}

  ## What only a council as data has

  defp data_errors(council, depth) do
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
      round_errors(council.rounds)
    ])
  end

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
      "no #{kind} registered as #{Errors.show(name)}; registered: #{Errors.show(Catalog.names(kind))}"

  defp lookup(kind, name) do
    case Catalog.lookup(kind, name) do
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

  defp tool?(name) when is_binary(name), do: Catalog.lookup(:tool, name) != nil
  defp tool?(module), do: CouncilEx.Tool.tool?(module)

  ## Seats

  defp seat_errors(council, depth) do
    members = if is_list(council.members), do: council.members, else: []

    List.flatten([
      members_shape(council.members),
      for(
        {m, i} <- Enum.with_index(members),
        do: member_errors(council, m, ["members", i], depth)
      ),
      chair_errors(council, council.chair, depth)
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

  defp chair_errors(council, %DynamicMember{} = chair, depth),
    do: member_errors(council, chair, ["chair"], depth)

  defp chair_errors(_council, other, _depth),
    do:
      Errors.new(
        ["chair"],
        :invalid_type,
        "expected the chair to be a %CouncilEx.DynamicMember{} or nil, got: #{Errors.show(other)}"
      )

  defp member_errors(_council, m, path, _depth) when not is_struct(m, DynamicMember),
    do: Errors.new(path, :invalid_type, "expected a member")

  defp member_errors(council, m, path, depth) do
    case DynamicMember.check(m) do
      [] when m.sub_council != nil -> sub_council_errors(m, path, depth)
      [] -> reference_errors(council, m, path)
      type_errors -> Errors.prefix(type_errors, path)
    end
  end

  defp reference_errors(council, m, path) do
    List.flatten([
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
      profile_tool_errors(council, m, path)
    ])
  end

  # The tools a member's profile names must be registered too. A profile
  # that does not resolve is reported where it is named.
  defp profile_tool_errors(council, m, path) do
    case Profile.resolve_opts(Lower.member_opts(m), valid_name(council.default_profile)) do
      {:ok, opts} ->
        for ref <- List.wrap(opts[:tools]) -- m.tools, Ref.ref?(ref), not tool?(ref) do
          Errors.new(
            path,
            :unknown_tool,
            "the profile's tool #{Errors.show(ref)} is not registered"
          )
        end

      {:error, _} ->
        []
    end
  end

  defp valid_name(name) when is_binary(name) and name != "", do: name
  defp valid_name(_), do: nil

  defp sub_council_errors(m, path, depth) do
    reference =
      case m.sub_council do
        %DynamicCouncil{} = inner ->
          Errors.prefix(council_errors(inner, depth + 1), path ++ ["sub_council"])

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
      for {field, value} <- [
            system_prompt: m.system_prompt,
            profile: m.profile,
            tools: m.tools,
            output_schema: m.output_schema,
            output_schema_inline: m.output_schema_inline
          ],
          value not in [nil, []] do
        Errors.new(
          path ++ [Atom.to_string(field)],
          :invalid_type,
          "sub-council member #{Errors.show(m.id)} takes no #{field}: its own council's members do the calls"
        )
      end
    ])
  end

  # A registered sub-council is checked like a nested one.
  defp registered_sub_council_errors(%DynamicCouncil{} = inner, path, depth),
    do: Errors.prefix(council_errors(inner, depth + 1), path)

  defp registered_sub_council_errors(%{} = map, path, depth) when not is_struct(map) do
    case Document.cast(map, depth + 1) do
      {:ok, inner} -> Errors.prefix(council_errors(inner, depth + 1), path)
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
      {:ok, _module} ->
        opt_reference_errors(r.opts, path ++ ["opts"])

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

  ## Rules and environment, in the document's terms

  # Spec paths name seats by index, as the document does; a seat's options
  # live under profile_overrides unless they are member fields.
  defp translate(council, errors) do
    Enum.map(errors, fn error ->
      %{
        path: path(council, error.path, error.code),
        code: code(error.path, error.code),
        message: error.message
      }
    end)
  end

  @member_fields ["id", "system_prompt", "tools", "profile", "input_mapper"]
  @seat_codes [:missing_provider, :missing_model, :unknown_provider, :invalid_provider] ++
                [:missing_api_key, :invalid_adapter, :invalid_dispatcher]

  defp path(council, ["members", i | rest], code),
    do: ["members", i | seat_path(Enum.at(council.members, i), rest, code)]

  defp path(council, ["chair" | rest], code), do: ["chair" | seat_path(council.chair, rest, code)]
  defp path(_council, ["rounds", i, "judge" | _], _code), do: ["rounds", i, "opts", "judge"]
  defp path(_council, ["rounds", i], :missing_judge), do: ["rounds", i, "opts"]
  defp path(_council, ["rounds", i], _code), do: ["rounds", i, "type"]
  defp path(_council, ["rounds", i | [_ | _] = rest], _code), do: ["rounds", i, "opts" | rest]
  defp path(_council, path, _code), do: path

  defp seat_path(_m, [], _code), do: []
  defp seat_path(_m, [_key | _], code) when code in @seat_codes, do: []
  defp seat_path(_m, [key | _] = rest, _code) when key in @member_fields, do: rest
  defp seat_path(_m, ["council" | _], _code), do: ["sub_council"]

  defp seat_path(%DynamicMember{output_schema: nil}, ["output_schema" | _], _code),
    do: ["output_schema_inline"]

  defp seat_path(_m, ["output_schema" | _] = rest, _code), do: rest
  defp seat_path(_m, rest, _code), do: ["profile_overrides" | rest]

  # The codes the document's errors are documented with.
  defp code(_path, :invalid_option), do: :invalid_type
  defp code(["rounds" | _], code), do: code
  defp code(_path, :unknown_option), do: :unknown_key
  defp code(_path, code), do: code
end
