defmodule CouncilEx.Councils.Builder do
  @moduledoc false
  # What the prebuilt topologies (CouncilEx.Councils.*) share: reading their
  # options, generating a council module with `use CouncilEx` through
  # Module.create/3, and building the same shape as a %DynamicCouncil{}.
  #
  # A topology describes its rounds as [{type, opts}] (built-in round names
  # and their options); compile/4 turns them into `round` calls, dynamic/4
  # into DynamicRounds. Every check the DSL makes (CouncilEx.__spec__/6,
  # CouncilEx.Rounds.check_opts!/3) applies to the generated module.

  alias CouncilEx.{DynamicCouncil, DynamicMember}

  @module_keys [:as, :members, :chair, :default_profile, :router]
  @dynamic_keys [:id, :name, :default_profile, :router, :tools, :metadata, :members, :chair]

  ## Options

  @doc """
  The options of `topology.new/1`, checked: a keyword list of known keys
  (`extra` are the topology's own), with members (under `members_key`) and
  a chair. Raises ArgumentError.
  """
  def module_opts!(topology, opts, extra, members_key \\ :members),
    do:
      check_opts!(
        topology,
        "new/1",
        opts,
        replace_members(@module_keys, members_key) ++ extra,
        members_key
      )

  @doc "The options of `topology.new_dynamic/1`, checked like module_opts!/4; `:id` is required."
  def dynamic_opts!(topology, opts, extra, members_key \\ :members) do
    opts =
      check_opts!(
        topology,
        "new_dynamic/1",
        opts,
        replace_members(@dynamic_keys, members_key) ++ extra,
        members_key
      )

    unless is_binary(opts[:id]) and opts[:id] != "",
      do:
        raise(
          ArgumentError,
          "#{name(topology)}.new_dynamic/1: expected :id, a non-empty string, got: #{inspect(opts[:id])}"
        )

    opts
  end

  defp replace_members(keys, members_key),
    do: Enum.map(keys, &if(&1 == :members, do: members_key, else: &1))

  defp check_opts!(topology, fun, opts, known, members_key) do
    where = "#{name(topology)}.#{fun}"

    unless is_list(opts) and Keyword.keyword?(opts),
      do:
        raise(
          ArgumentError,
          "#{where}: expected a keyword list of options, got: #{inspect(opts)}"
        )

    for {key, _} <- opts, key not in known do
      raise ArgumentError,
            "#{where}: unknown option #{inspect(key)}; known options: #{inspect(known)}"
    end

    case opts[members_key] do
      [_ | _] ->
        :ok

      nil ->
        raise ArgumentError, "#{where}: #{inspect(members_key)} is required (a non-empty list)"

      other ->
        raise ArgumentError,
              "#{where}: expected #{inspect(members_key)} to be a non-empty list, got: #{inspect(other)}"
    end

    if opts[:chair] == nil, do: raise(ArgumentError, "#{where}: :chair is required")
    opts
  end

  @doc "Raises unless `value` is a positive integer."
  def pos_integer!(topology, key, value) do
    unless is_integer(value) and value > 0,
      do:
        raise(
          ArgumentError,
          "#{name(topology)}: expected #{inspect(key)} to be a positive integer, got: #{inspect(value)}"
        )

    value
  end

  @doc "Raises unless `value` is a number from 0 to 1."
  def unit_number!(topology, key, value) do
    unless is_number(value) and value >= 0 and value <= 1,
      do:
        raise(
          ArgumentError,
          "#{name(topology)}: expected #{inspect(key)} to be a number from 0 to 1, got: #{inspect(value)}"
        )

    value
  end

  ## Module councils

  @doc """
  The members of `new/1`, as `{id, module | nil, opts}`. Accepted:
  `{id, opts}`, `{id, Module}`, `{id, Module, opts}` (ids are atoms).
  """
  def members!(topology, members, key \\ :members) do
    Enum.map(members, fn
      {id, opts} when is_atom(id) and is_list(opts) ->
        {id, nil, opts}

      {id, module} when is_atom(id) and is_atom(module) ->
        {id, module, []}

      {id, module, opts} when is_atom(id) and is_atom(module) and is_list(opts) ->
        {id, module, opts}

      other ->
        raise ArgumentError,
              "#{name(topology)}: expected each of #{inspect(key)} as {id, opts}, {id, Module} or {id, Module, opts}, got: #{inspect(other)}"
    end)
  end

  @doc """
  The chair of `new/1` as the two arguments of the `chair` macro. Accepted:
  options (a keyword list, id `:chair` unless `:id` is given),
  `{Module, opts}`, `{id, opts}` and `Module`.
  """
  def chair!(topology, chair) do
    cond do
      is_list(chair) and Keyword.keyword?(chair) ->
        {chair, []}

      match?({atom, opts} when is_atom(atom) and is_list(opts), chair) ->
        chair

      is_atom(chair) and chair not in [nil, true, false] ->
        {chair, []}

      true ->
        raise ArgumentError,
              "#{name(topology)}: expected :chair as options, {Module, opts}, {id, opts} or Module, got: #{inspect(chair)}"
    end
  end

  @doc "Adds `opts` to the chair's options (the `chair!/2` form)."
  def put_chair_opts({opts, []}, extra) when is_list(opts), do: {Keyword.merge(opts, extra), []}
  def put_chair_opts({first, opts}, extra), do: {first, Keyword.merge(opts, extra)}

  @doc """
  `new/1` of a topology of members and a chair whose rounds follow from its
  checked options: checks `opts` (allowing the `extra` keys), then compiles
  the module (`rounds_fun` gets the checked options).
  """
  def new(topology, opts, extra, rounds_fun) do
    opts = module_opts!(topology, opts, extra)
    members = members!(topology, opts[:members])
    chair = chair!(topology, opts[:chair])
    compile(topology, opts, members, chair, rounds_fun.(opts))
  end

  @doc "`new_dynamic/1` of the same topologies: checks `opts`, then builds the `%DynamicCouncil{}`."
  def new_dynamic(topology, opts, extra, rounds_fun) do
    opts = dynamic_opts!(topology, opts, extra)
    dynamic(opts, rounds_fun.(opts))
  end

  @doc """
  Generates the council module and returns its name: `opts[:as]`, or a
  unique name under `topology`. `rounds` are `[{type, opts}]`; `extra` is
  quoted code added to the module (or nil).
  """
  def compile(topology, opts, members, chair, rounds, extra \\ nil) do
    module = module_name!(topology, opts[:as])
    {chair_first, chair_opts} = chair

    body =
      quote do
        use CouncilEx

        unquote_splicing(
          if opts[:default_profile],
            do: [
              quote(
                do:
                  CouncilEx.default_profile(
                    unquote(escape!(topology, ":default_profile", opts[:default_profile]))
                  )
              )
            ],
            else: []
        )

        unquote_splicing(
          if opts[:router],
            do: [
              quote(do: CouncilEx.router(unquote(escape!(topology, ":router", opts[:router]))))
            ],
            else: []
        )

        unquote_splicing(
          for {id, mod, member_opts} <- members do
            where = "member #{inspect(id)}"

            if mod,
              do:
                quote(
                  do:
                    CouncilEx.member(
                      unquote(id),
                      unquote(mod),
                      unquote(escape!(topology, where, member_opts))
                    )
                ),
              else:
                quote(
                  do:
                    CouncilEx.member(unquote(id), unquote(escape!(topology, where, member_opts)))
                )
          end
        )

        unquote_splicing(
          for {type, round_opts} <- rounds do
            quote(
              do:
                CouncilEx.round(
                  unquote(type),
                  unquote(escape!(topology, "round #{inspect(type)}", round_opts))
                )
            )
          end
        )

        CouncilEx.chair(
          unquote(escape!(topology, "chair", chair_first)),
          unquote(escape!(topology, "chair", chair_opts))
        )

        unquote(extra)
      end

    {:module, ^module, _binary, _} = Module.create(module, body, Macro.Env.location(__ENV__))
    module
  end

  defp module_name!(topology, nil),
    do: Module.concat(topology, "Council#{System.unique_integer([:positive])}")

  defp module_name!(topology, name) do
    if is_atom(name) and String.starts_with?(Atom.to_string(name), "Elixir."),
      do: name,
      else:
        raise(
          ArgumentError,
          "#{name(topology)}: expected :as to be a module name, got: #{inspect(name)}"
        )
  end

  defp escape!(topology, where, value) do
    Macro.escape(value)
  rescue
    ArgumentError ->
      raise ArgumentError,
            "#{name(topology)}: #{where}: anonymous functions cannot be compiled into a council module; " <>
              "use remote captures such as &MyApp.Mod.fun/1, got: #{inspect(value, limit: 10)}"
  end

  ## Dynamic councils

  @doc """
  Builds the topology as a `%DynamicCouncil{}`: members (maps, keyword
  lists or structs, each passed through `member_fun`), rounds as
  `[{type, opts}]`, the chair (passed through `chair_fun`).
  """
  def dynamic(opts, rounds, member_fun \\ & &1, chair_fun \\ & &1, members_key \\ :members) do
    council_opts = Keyword.take(opts, [:name, :default_profile, :router, :tools, :metadata])

    council =
      Enum.reduce(opts[members_key], DynamicCouncil.new(opts[:id], council_opts), fn member,
                                                                                     acc ->
        DynamicCouncil.add_member(acc, member_fun.(DynamicMember.new(member)))
      end)

    council =
      Enum.reduce(rounds, council, fn {type, round_opts}, acc ->
        DynamicCouncil.add_round(acc, %{type: type, opts: Map.new(round_opts)})
      end)

    DynamicCouncil.set_chair(council, chair_fun.(DynamicMember.new(opts[:chair])))
  end

  @doc "Puts `value` under `key` in a dynamic member's overrides unless it has one."
  def put_new_override(%DynamicMember{profile_overrides: overrides} = m, key, value)
      when is_map(overrides),
      do: %{m | profile_overrides: Map.put_new(overrides, key, value)}

  def put_new_override(m, _key, _value), do: m

  @doc "Puts `value` under `key` in a dynamic member's overrides."
  def put_override(%DynamicMember{profile_overrides: overrides} = m, key, value)
      when is_map(overrides),
      do: %{m | profile_overrides: Map.put(overrides, key, value)}

  def put_override(m, _key, _value), do: m

  @doc "A round's options without the nil ones."
  def compact(opts), do: Enum.reject(opts, fn {_key, value} -> is_nil(value) end)

  defp name(topology), do: inspect(topology)
end
