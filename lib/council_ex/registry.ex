defmodule CouncilEx.Registry do
  @moduledoc """
  Named references for dynamic councils: profiles, tools, schemas, routers,
  rounds, sub-councils, input mappers and catalog councils, by string name.

  A `CouncilEx.DynamicCouncil` is plain data, so it cannot hold a module or
  a function directly once it has been through JSON. It names them instead
  (`"openai_mini"`, `"web_search"`), and those names are looked up here.

  ## Two tiers

  Entries come from application config, read on every lookup:

      config :council_ex, :registry,
        profiles: %{"openai_mini" => MyApp.Profiles.OpenAIMini},
        tools: %{"web_search" => MyApp.Tools.WebSearch},
        schemas: %{"verdict" => %{"type" => "object"}}

  and from `register/3` (or one of the `register_*/2` shorthands) at
  runtime. A runtime entry wins over a config entry of the same kind and
  name. Runtime entries are kept by a `CouncilEx.Registry.Backend`,
  `CouncilEx.Registry.ETS` unless `config :council_ex, :registry_backend`
  names another.

  ## Kinds

  | Kind            | Config key       | Value                                        |
  |-----------------|------------------|----------------------------------------------|
  | `:profile`      | `:profiles`      | a `CouncilEx.Profile` module or a keyword list of profile options |
  | `:tool`         | `:tools`         | a tool module                                |
  | `:schema`       | `:schemas`       | a schema module or a JSON Schema map         |
  | `:router`       | `:routers`       | a router module                              |
  | `:round`        | `:rounds`        | a round module (one exporting `name/0`)      |
  | `:sub_council`  | `:sub_councils`  | a council module, a `%CouncilEx.DynamicCouncil{}` or its map |
  | `:input_mapper` | `:input_mappers` | a 1-arity function                           |
  | `:council`      | `:councils`      | a catalog entry: a map with a `:council` key |

  Names are non-empty strings. Config maps may use atom keys; they are
  read as their names.

  ## Examples

      iex> CouncilEx.Registry.register(:schema, "doc_verdict", %{"type" => "object"})
      :ok
      iex> CouncilEx.Registry.lookup(:schema, "doc_verdict")
      %{"type" => "object"}
      iex> CouncilEx.Registry.unregister(:schema, "doc_verdict")
      :ok
      iex> CouncilEx.Registry.lookup(:schema, "doc_verdict")
      nil

  """

  @typedoc "What a registered value is."
  @type kind ::
          :profile | :tool | :schema | :router | :round | :sub_council | :input_mapper | :council

  @typedoc "A registered name: a non-empty string."
  @type name :: String.t()

  @kinds [:profile, :tool, :schema, :router, :round, :sub_council, :input_mapper, :council]

  @config_keys %{
    profile: :profiles,
    tool: :tools,
    schema: :schemas,
    router: :routers,
    round: :rounds,
    sub_council: :sub_councils,
    input_mapper: :input_mappers,
    council: :councils
  }

  @doc """
  The kinds a registry entry may have.

      iex> CouncilEx.Registry.kinds()
      [:profile, :tool, :schema, :router, :round, :sub_council, :input_mapper, :council]
  """
  @spec kinds() :: [kind()]
  def kinds, do: @kinds

  ## Lookup

  @doc """
  The value registered as `name` of `kind`, or `nil`.

  A runtime registration wins over config. Raises `ArgumentError` for an
  unknown kind or a name that is not a string.
  """
  @spec lookup(kind(), name()) :: term() | nil
  def lookup(kind, name) do
    check_kind!(kind)
    check_name!(name)

    case backend().get(kind, name) do
      nil -> Map.get(config(kind), name)
      value -> value
    end
  end

  @doc """
  Like `lookup/2`, but raises `ArgumentError` when nothing is registered.

      iex> CouncilEx.Registry.lookup!(:tool, "no_such_tool")
      ** (ArgumentError) no :tool registered as "no_such_tool"; registered: []
  """
  @spec lookup!(kind(), name()) :: term()
  def lookup!(kind, name) do
    case lookup(kind, name) do
      nil ->
        raise ArgumentError,
              "no #{inspect(kind)} registered as #{inspect(name)}; registered: #{inspect(names(kind))}"

      value ->
        value
    end
  end

  @doc "Every entry of `kind`, config and runtime merged (runtime wins), as a map of name to value."
  @spec all(kind()) :: %{optional(name()) => term()}
  def all(kind) do
    check_kind!(kind)
    Map.merge(config(kind), backend().all(kind))
  end

  @doc "The sorted names registered for `kind`."
  @spec names(kind()) :: [name()]
  def names(kind), do: kind |> all() |> Map.keys() |> Enum.sort()

  ## Registration

  @doc """
  Registers `value` as `name` of `kind` in the runtime tier.

  Returns `:ok`, or `{:error, reason}` when the backend cannot store it
  (the ETS backend before the application has started). Raises
  `ArgumentError` for an unknown kind, a name that is not a non-empty
  string, or a value the kind does not hold (see "Kinds").
  """
  @spec register(kind(), name(), term()) :: :ok | {:error, term()}
  def register(kind, name, value) do
    check_kind!(kind)
    check_name!(name)
    check_value!(kind, name, value)
    backend().put(kind, name, value)
  end

  @doc "Registers a profile: a `CouncilEx.Profile` module or a keyword list of profile options."
  @spec register_profile(name(), module() | keyword()) :: :ok | {:error, term()}
  def register_profile(name, profile), do: register(:profile, name, profile)

  @doc "Registers a tool module."
  @spec register_tool(name(), module()) :: :ok | {:error, term()}
  def register_tool(name, tool), do: register(:tool, name, tool)

  @doc "Registers an output schema: a schema module or a JSON Schema map."
  @spec register_schema(name(), module() | map()) :: :ok | {:error, term()}
  def register_schema(name, schema), do: register(:schema, name, schema)

  @doc "Registers a router module."
  @spec register_router(name(), module()) :: :ok | {:error, term()}
  def register_router(name, router), do: register(:router, name, router)

  @doc "Registers a custom round module (it must export `name/0`)."
  @spec register_round(name(), module()) :: :ok | {:error, term()}
  def register_round(name, round), do: register(:round, name, round)

  @doc "Registers a sub-council: a council module, a `%CouncilEx.DynamicCouncil{}` or its map."
  @spec register_sub_council(name(), module() | struct() | map()) :: :ok | {:error, term()}
  def register_sub_council(name, council), do: register(:sub_council, name, council)

  @doc "Registers an input mapper: a 1-arity function."
  @spec register_input_mapper(name(), (term() -> term())) :: :ok | {:error, term()}
  def register_input_mapper(name, fun), do: register(:input_mapper, name, fun)

  @doc "Registers a catalog council: a map with at least a `:council` key (plus `:match`, `:desc`)."
  @spec register_council(name(), map()) :: :ok | {:error, term()}
  def register_council(name, entry), do: register(:council, name, entry)

  @doc """
  Removes a runtime registration. Config entries cannot be removed this way:
  after `unregister/2` a config entry of the same name is visible again.
  """
  @spec unregister(kind(), name()) :: :ok | {:error, term()}
  def unregister(kind, name) do
    check_kind!(kind)
    check_name!(name)
    backend().delete(kind, name)
  end

  @doc "Removes every runtime registration of every kind; config entries stay."
  @spec reset() :: :ok | {:error, term()}
  def reset, do: backend().reset()

  @doc "The configured backend module (`CouncilEx.Registry.ETS` by default)."
  @spec backend() :: module()
  def backend, do: Application.get_env(:council_ex, :registry_backend, CouncilEx.Registry.ETS)

  ## Helpers

  defp config(kind) do
    case Application.get_env(:council_ex, :registry, []) do
      entries when is_list(entries) or is_map(entries) ->
        entries |> Access.get(@config_keys[kind]) |> config_map(kind)

      other ->
        raise ArgumentError,
              "expected config :council_ex, :registry to be a keyword list, got: #{inspect(other)}"
    end
  end

  defp config_map(nil, _kind), do: %{}

  defp config_map(entries, kind) when is_map(entries) or is_list(entries) do
    Map.new(entries, fn
      {name, value} when is_binary(name) ->
        {name, value}

      {name, value} when is_atom(name) ->
        {Atom.to_string(name), value}

      other ->
        raise ArgumentError,
              "invalid entry in config :council_ex, :registry, #{@config_keys[kind]}: #{inspect(other)}"
    end)
  end

  defp config_map(other, kind) do
    raise ArgumentError,
          "expected config :council_ex, :registry, #{@config_keys[kind]} to be a map of names to values, got: #{inspect(other)}"
  end

  defp check_kind!(kind) when kind in @kinds, do: :ok

  defp check_kind!(kind),
    do:
      raise(ArgumentError, "expected kind to be one of #{inspect(@kinds)}, got: #{inspect(kind)}")

  defp check_name!(name) when is_binary(name) and name != "", do: :ok

  defp check_name!(name),
    do: raise(ArgumentError, "expected name to be a non-empty string, got: #{inspect(name)}")

  defp check_value!(kind, name, value) do
    case valid_value(kind, value) do
      :ok ->
        :ok

      {:error, expected} ->
        raise ArgumentError,
              "cannot register #{inspect(kind)} #{inspect(name)}: expected #{expected}, got: #{inspect(value)}"
    end
  end

  defp valid_value(:profile, name) when is_binary(name),
    do: {:error, "a profile module or a keyword list of profile options"}

  defp valid_value(:profile, value) do
    case CouncilEx.Profile.fetch(value) do
      {:ok, _opts} -> :ok
      {:error, why} -> {:error, "a profile module or a keyword list of profile options (#{why})"}
    end
  end

  defp valid_value(:schema, value) when is_map(value) and not is_struct(value), do: :ok
  defp valid_value(:schema, value), do: module(value, "a schema module or a JSON Schema map")
  defp valid_value(:round, value), do: exports(value, :name, 0, "a round module exporting name/0")
  defp valid_value(:sub_council, value) when is_struct(value, CouncilEx.DynamicCouncil), do: :ok
  defp valid_value(:sub_council, value) when is_map(value) and not is_struct(value), do: :ok

  defp valid_value(:sub_council, value),
    do:
      exports(
        value,
        :__council__,
        0,
        "a council module, a %CouncilEx.DynamicCouncil{} or its map"
      )

  defp valid_value(:input_mapper, fun) when is_function(fun, 1), do: :ok
  defp valid_value(:input_mapper, _), do: {:error, "a 1-arity function"}
  defp valid_value(:council, %{council: _}), do: :ok
  defp valid_value(:council, _), do: {:error, "a map with a :council key"}

  defp valid_value(kind, value) when kind in [:tool, :router],
    do: module(value, "a #{kind} module")

  defp module(value, expected) do
    if is_atom(value) and Code.ensure_loaded?(value), do: :ok, else: {:error, expected}
  end

  defp exports(value, fun, arity, expected) do
    if is_atom(value) and Code.ensure_loaded?(value) and function_exported?(value, fun, arity),
      do: :ok,
      else: {:error, expected}
  end
end
