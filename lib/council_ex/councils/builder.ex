defmodule CouncilEx.Councils.Builder do
  @moduledoc false
  # What the prebuilt topologies (CouncilEx.Councils.*) share: reading their
  # options, building their council module, and building the same shape as
  # a %DynamicCouncil{}.
  #
  # A topology describes its rounds as [{type, opts}] (built-in round names
  # and their options). compile/6 builds the spec the DSL would
  # (CouncilEx.Council.DSL.spec/2, so every rule applies) and defines a
  # module whose name comes from the options: the same options give the
  # same module, so calling new/1 per request costs no atom and no code
  # after the first call. dynamic/5 builds DynamicRounds instead.

  alias CouncilEx.{DynamicCouncil, DynamicMember}
  alias CouncilEx.Council.DSL

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
          "#{label(topology)}.new_dynamic/1: expected :id, a non-empty string, got: #{inspect(opts[:id])}"
        )

    opts
  end

  defp replace_members(keys, members_key),
    do: Enum.map(keys, &if(&1 == :members, do: members_key, else: &1))

  defp check_opts!(topology, fun, opts, known, members_key) do
    where = "#{label(topology)}.#{fun}"

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
          "#{label(topology)}: expected #{inspect(key)} to be a positive integer, got: #{inspect(value)}"
        )

    value
  end

  @doc "Raises unless `value` is a number from 0 to 1."
  def unit_number!(topology, key, value) do
    unless is_number(value) and value >= 0 and value <= 1,
      do:
        raise(
          ArgumentError,
          "#{label(topology)}: expected #{inspect(key)} to be a number from 0 to 1, got: #{inspect(value)}"
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
              "#{label(topology)}: expected each of #{inspect(key)} as {id, opts}, {id, Module} or {id, Module, opts}, got: #{inspect(other)}"
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
              "#{label(topology)}: expected :chair as options, {Module, opts}, {id, opts} or Module, got: #{inspect(chair)}"
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
  The council module of a topology's checked options, and returns its
  name: `opts[:as]`, or `name(topology, opts)`. `rounds` are
  `[{type, opts}]`; `extra` is quoted code added to the module (or nil).
  Raises `ArgumentError` naming the problem.
  """
  def compile(topology, opts, members, chair, rounds, extra \\ nil) do
    module = name(topology, opts)

    # A module named from the options was built from these same options.
    if opts[:as] == nil and :erlang.module_loaded(module) do
      module
    else
      spec = spec!(topology, module, opts, members, chair, rounds)

      # One process defines a module at a time; the others find it done.
      :global.trans(
        {{__MODULE__, module}, self()},
        fn -> define(topology, module, spec, extra) end,
        [node()]
      )

      module
    end
  end

  @doc """
  The module `new/1` defines for `opts`: `opts[:as]`, or a name under
  `topology` made from a hash of the options.
  """
  def name(topology, opts) do
    case opts[:as] do
      nil ->
        hash = :crypto.hash(:sha256, :erlang.term_to_binary(Keyword.delete(opts, :as)))
        Module.concat(topology, "Council" <> Base.encode16(binary_part(hash, 0, 8), case: :lower))

      name ->
        module_name!(topology, name)
    end
  end

  defp spec!(topology, module, opts, members, chair, rounds) do
    {chair_first, chair_opts} = chair

    parts = %{
      members: Enum.map(members, &{&1, nil}),
      chair: {ok!(topology, DSL.chair_seat(chair_first, chair_opts)), nil},
      rounds:
        Enum.map(rounds, fn {type, round_opts} ->
          {ok!(topology, DSL.round_entry(type, round_opts)), nil}
        end),
      default_profile: opts[:default_profile] && {opts[:default_profile], nil},
      router: opts[:router] && {opts[:router], nil}
    }

    case DSL.spec(module, parts) do
      {:ok, spec} ->
        spec

      {:error, problems} ->
        raise ArgumentError, "#{label(topology)}: " <> Enum.map_join(problems, "; ", &elem(&1, 0))
    end
  end

  defp ok!(_topology, {:ok, value}), do: value

  defp ok!(topology, {:error, message}),
    do: raise(ArgumentError, "#{label(topology)}: #{message}")

  # Defines the module, unless it holds this spec already.
  defp define(topology, module, spec, extra) do
    unless :erlang.module_loaded(module) and function_exported?(module, :__council__, 0) and
             module.__council__() == spec do
      body =
        quote do
          @moduledoc false

          @doc false
          def __council__, do: unquote(escape!(topology, spec))

          @doc false
          def __providers__, do: CouncilEx.Spec.providers(__council__())

          unquote(extra)
        end

      {:module, ^module, _binary, _} = Module.create(module, body, Macro.Env.location(__ENV__))
    end
  end

  defp module_name!(topology, name) do
    if is_atom(name) and String.starts_with?(Atom.to_string(name), "Elixir."),
      do: name,
      else:
        raise(
          ArgumentError,
          "#{label(topology)}: expected :as to be a module name, got: #{inspect(name)}"
        )
  end

  defp escape!(topology, value) do
    Macro.escape(value)
  rescue
    ArgumentError ->
      raise ArgumentError,
            "#{label(topology)}: anonymous functions cannot be compiled into a council module; " <>
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

  defp label(topology), do: inspect(topology)
end
