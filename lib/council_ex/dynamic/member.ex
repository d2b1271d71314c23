defmodule CouncilEx.DynamicMember do
  @moduledoc """
  A member of a `CouncilEx.DynamicCouncil`, as plain data.

  It holds the member's identity (id, role, system prompt, output schema)
  and names its capabilities: a registered profile plus per-member
  overrides. Everything in it survives a trip through JSON.

      iex> member = CouncilEx.DynamicMember.new(%{"id" => "seo", "system_prompt" => "Audit SEO.",
      ...>   "profile_overrides" => %{"temperature" => 0.8}})
      iex> {member.id, member.profile_overrides}
      {"seo", %{temperature: 0.8}}

  ## Fields

    * `:id` - required; a non-empty string of at most 255 bytes, unique in its council.
    * `:role` - a short persona string.
    * `:system_prompt` - required for members that are not sub-councils.
    * `:profile` - a registered profile name; `nil` inherits the council's
      `:default_profile`.
    * `:profile_overrides` - options that override the resolved profile,
      given as a map or keyword list and kept as a map with atom keys:

  #{CouncilEx.Options.Seat.docs(CouncilEx.Options.Seat.override_keys(), 6)}

    * `:tools` - registered tool names or tool modules, added to the
      profile's tools and the council's tools.
    * `:output_schema` - a registered schema name.
    * `:output_schema_inline` - a JSON Schema map; not together with
      `:output_schema`.
    * `:sub_council` - a registered name, a council module, or a nested
      `%CouncilEx.DynamicCouncil{}` (or its map): the member runs that
      council on its input. Its own council's members do the calls, so a
      system prompt, profile, tools or output schema on it is an error, as
      is any override but `:weight` and `:confidence`.
    * `:input_mapper` - for sub-councils: a registered name or a remote
      capture such as `&MyApp.Mappers.brief/1`. Anonymous functions are
      rejected: they cannot be serialized. A capture is written to JSON as
      `"&MyApp.Mappers.brief/1"` and read back as the function only when
      that function is registered as an `:input_mapper` (JSON must not be
      able to name just any function); otherwise it stays a string, which
      `CouncilEx.DynamicCouncil.validate/1` reports.
    * `:metadata` - any map (UI position, comments). Use string keys for it
      to come back unchanged from JSON.

  ## From JSON

  Keys may be atoms or strings. String keys are matched against the field
  and option names above and never turned into new atoms; values that name
  atoms (`"fail_fast"`, a provider id, `"Elixir.MyApp.Tool"`) only become
  atoms that already exist. Anything else is an error, not a new atom.
  """

  alias CouncilEx.DynamicCouncil
  alias CouncilEx.Dynamic.{Errors, Ref}
  alias CouncilEx.Options.Schema
  alias CouncilEx.Options.Seat, as: SeatOptions

  @max_id_bytes 255

  @fields [
    :id,
    :role,
    :system_prompt,
    :profile,
    :profile_overrides,
    :tools,
    :output_schema,
    :output_schema_inline,
    :sub_council,
    :input_mapper,
    :metadata
  ]

  @typedoc "A dynamic member."
  @type t :: %__MODULE__{
          id: String.t(),
          role: String.t() | nil,
          system_prompt: String.t() | nil,
          profile: String.t() | nil,
          profile_overrides: %{optional(atom()) => term()},
          tools: [module() | String.t()],
          output_schema: String.t() | nil,
          output_schema_inline: map() | nil,
          sub_council: String.t() | module() | DynamicCouncil.t() | nil,
          input_mapper: String.t() | (term() -> term()) | nil,
          metadata: map()
        }

  @typedoc "What `new/1` and `cast/1` accept: a struct, a map with atom or string keys, or a keyword list."
  @type attrs :: t() | map() | keyword()

  @enforce_keys [:id]
  defstruct id: nil,
            role: nil,
            system_prompt: nil,
            profile: nil,
            profile_overrides: %{},
            tools: [],
            output_schema: nil,
            output_schema_inline: nil,
            sub_council: nil,
            input_mapper: nil,
            metadata: %{}

  @doc false
  def fields, do: @fields

  @doc false
  def max_id_bytes, do: @max_id_bytes

  @doc """
  Builds a member, raising `ArgumentError` when `attrs` are malformed.

  See `cast/1` for what is checked.

      iex> CouncilEx.DynamicMember.new(id: "skeptic", system_prompt: "Find the risk.").id
      "skeptic"

      iex> CouncilEx.DynamicMember.new(%{"id" => "x", "colour" => "red"})
      ** (ArgumentError) invalid member: colour: unknown key "colour"; known keys: id, role, system_prompt, profile, profile_overrides, tools, output_schema, output_schema_inline, sub_council, input_mapper, metadata
  """
  @spec new(attrs()) :: t()
  def new(attrs) do
    case cast(attrs) do
      {:ok, member} -> member
      {:error, errors} -> raise ArgumentError, "invalid member: " <> Errors.format(errors)
    end
  end

  @doc """
  Builds a member without raising.

  Returns `{:ok, member}` or `{:error, errors}`, each error a map with
  `:path` (relative to the member), `:code` and `:message`. Checked here:
  unknown keys, and the type of every field and override. Whether the
  names it uses are registered is left to `CouncilEx.DynamicCouncil.validate/1`.
  """
  @spec cast(attrs()) :: {:ok, t()} | {:error, [DynamicCouncil.error()]}
  def cast(attrs), do: cast(attrs, 0)

  @doc false
  # `depth` counts the sub-councils around this member.
  def cast(%__MODULE__{} = member, depth), do: member |> Map.from_struct() |> cast(depth)

  def cast(attrs, depth) when is_map(attrs) or is_list(attrs) do
    with {:ok, fields, key_errors} <- Errors.fields(attrs, @fields),
         {fields, errors} = normalize(fields, depth),
         member = struct(__MODULE__, fields),
         [] <- key_errors ++ errors ++ check(member) do
      {:ok, member}
    else
      {:error, errors} -> {:error, errors}
      errors when is_list(errors) -> {:error, errors}
    end
  end

  def cast(other, _depth),
    do:
      {:error,
       [
         Errors.new(
           [],
           :invalid_type,
           "expected a member map or keyword list, got: #{Errors.show(other)}"
         )
       ]}

  defp normalize(fields, depth) do
    {overrides, override_errors} = overrides(Map.get(fields, :profile_overrides, %{}))
    {sub, sub_errors} = sub_council(Map.get(fields, :sub_council), depth)

    # JSON null in a list or map field means "the default".
    fields =
      fields
      |> Map.put(:profile_overrides, overrides)
      |> Map.put(:sub_council, sub)
      |> Map.put(:tools, normalize_tools(Map.get(fields, :tools)))
      |> Map.update(:input_mapper, nil, &Ref.capture_or_name/1)
      |> Map.update(:metadata, %{}, &(&1 || %{}))

    {fields, override_errors ++ sub_errors}
  end

  defp normalize_tools(nil), do: []

  defp normalize_tools(refs) when is_list(refs),
    do: Enum.map(refs, &Ref.module_or_name(&1, CouncilEx.Tool))

  defp normalize_tools(other), do: other

  defp overrides(nil), do: {%{}, []}

  defp overrides(given) when is_map(given) or is_list(given) do
    case Errors.fields(given, SeatOptions.override_keys(), "option") do
      {:ok, fields, errors} ->
        {Map.new(fields, fn {key, value} -> {key, SeatOptions.normalize(key, value)} end),
         Errors.prefix(errors, ["profile_overrides"])}

      {:error, errors} ->
        {given, Errors.prefix(errors, ["profile_overrides"])}
    end
  end

  defp overrides(other), do: {other, []}

  defp sub_council(%{} = map, depth) when not is_struct(map) do
    case CouncilEx.Dynamic.Document.cast(map, depth + 1) do
      {:ok, council} -> {council, []}
      {:error, errors} -> {map, Errors.prefix(errors, ["sub_council"])}
    end
  end

  defp sub_council("Elixir." <> _ = name, _depth) do
    {Ref.module_or_name(name, :council), []}
  end

  defp sub_council(other, _depth), do: {other, []}

  @doc false
  # Type checks of a member's fields. Errors carry paths relative to the member.
  @spec check(t()) :: [DynamicCouncil.error()]
  def check(%__MODULE__{} = m) do
    [
      check_id(m.id),
      optional_string(:role, m.role),
      optional_string(:system_prompt, m.system_prompt),
      optional_string(:profile, m.profile),
      optional_string(:output_schema, m.output_schema),
      check_overrides(m.profile_overrides),
      check_tools(["tools"], m.tools),
      check_inline_schema(m.output_schema_inline),
      check_sub_council(m.sub_council),
      check_input_mapper(m.input_mapper),
      check_metadata(m.metadata)
    ]
    |> List.flatten()
  end

  defp check_id(id) when is_binary(id) and id != "" and byte_size(id) <= @max_id_bytes, do: []

  defp check_id(id) when is_binary(id) and id != "",
    do:
      Errors.new(
        ["id"],
        :too_long,
        "expected id to be at most #{@max_id_bytes} bytes, got #{byte_size(id)} bytes"
      )

  defp check_id(id),
    do:
      Errors.new(
        ["id"],
        :invalid_type,
        "expected id to be a non-empty string, got: #{Errors.show(id)}"
      )

  defp optional_string(_key, nil), do: []
  defp optional_string(_key, s) when is_binary(s), do: []

  defp optional_string(key, other),
    do:
      Errors.new(
        [Atom.to_string(key)],
        :invalid_type,
        "expected #{key} to be a string, got: #{Errors.show(other)}"
      )

  # The overrides' keys and values, against the seat options' schema.
  defp check_overrides(overrides) when is_map(overrides) do
    {keyed, other} = Enum.split_with(overrides, fn {key, _} -> is_atom(key) end)

    problems =
      Schema.errors(SeatOptions.schema(), keyed,
        known: SeatOptions.override_keys(),
        context: :data
      )

    for({key, code, message} <- problems, do: override_error(key, code, message)) ++
      for {key, _} <- other,
          do:
            Errors.new(["profile_overrides"], :unknown_key, "unknown option #{Errors.show(key)}")
  end

  defp check_overrides([{_, _} | _] = overrides) do
    if Keyword.keyword?(overrides),
      do: check_overrides(Map.new(overrides)),
      else: check_overrides(:not_a_map)
  end

  defp check_overrides(other),
    do:
      Errors.new(
        ["profile_overrides"],
        :invalid_type,
        "expected profile_overrides to be a map or keyword list, got: #{Errors.show(other)}"
      )

  # The codes dynamic councils document: :unknown_key and :invalid_type.
  defp override_error(key, :unknown_option, _message),
    do:
      Errors.new(
        ["profile_overrides", to_string(key)],
        :unknown_key,
        "unknown option #{inspect(key)}"
      )

  defp override_error(key, :invalid_option, message),
    do: Errors.new(["profile_overrides", to_string(key)], :invalid_type, message)

  defp override_error(key, code, message),
    do: Errors.new(["profile_overrides", to_string(key)], code, message)

  @doc false
  def check_tools(path, tools) when is_list(tools) do
    for {ref, i} <- Enum.with_index(tools), not Ref.ref?(ref) do
      Errors.new(
        path ++ [i],
        :invalid_type,
        "expected a tool module or a non-empty tool name, got: #{Errors.show(ref)}"
      )
    end
  end

  def check_tools(path, other),
    do:
      Errors.new(
        path,
        :invalid_type,
        "expected #{Enum.join(path, ".")} to be a list, got: #{Errors.show(other)}"
      )

  defp check_inline_schema(nil), do: []
  defp check_inline_schema(schema) when is_map(schema) and not is_struct(schema), do: []

  defp check_inline_schema(other),
    do:
      Errors.new(
        ["output_schema_inline"],
        :invalid_type,
        "expected output_schema_inline to be a JSON Schema map, got: #{Errors.show(other)}"
      )

  defp check_sub_council(nil), do: []
  defp check_sub_council(%DynamicCouncil{}), do: []
  defp check_sub_council(name) when is_binary(name) and name != "", do: []
  defp check_sub_council(%{} = map) when not is_struct(map), do: []

  defp check_sub_council(module) when is_atom(module) do
    if Ref.module_atom?(module) and Code.ensure_loaded?(module) and
         function_exported?(module, :__council__, 0),
       do: [],
       else:
         Errors.new(
           ["sub_council"],
           :invalid_type,
           "expected sub_council to be a council module, got: #{inspect(module)}"
         )
  end

  defp check_sub_council(other),
    do:
      Errors.new(
        ["sub_council"],
        :invalid_type,
        "expected sub_council to be a name, a council module or a dynamic council, got: #{Errors.show(other)}"
      )

  defp check_input_mapper(nil), do: []
  defp check_input_mapper(name) when is_binary(name) and name != "", do: []

  defp check_input_mapper(fun) when is_function(fun) do
    cond do
      not is_function(fun, 1) ->
        Errors.new(
          ["input_mapper"],
          :invalid_type,
          "expected input_mapper to take 1 argument, got: #{inspect(fun)}"
        )

      not Ref.remote_capture?(fun) ->
        Errors.new(
          ["input_mapper"],
          :invalid_type,
          "expected input_mapper to be a registered name or a remote capture such as &Mod.fun/1; " <>
            "anonymous functions cannot be serialized, got: #{inspect(fun)}"
        )

      true ->
        []
    end
  end

  defp check_input_mapper(other),
    do:
      Errors.new(
        ["input_mapper"],
        :invalid_type,
        "expected input_mapper to be a registered name or a remote capture, got: #{Errors.show(other)}"
      )

  defp check_metadata(m) when is_map(m) and not is_struct(m), do: []

  defp check_metadata(other),
    do:
      Errors.new(
        ["metadata"],
        :invalid_type,
        "expected metadata to be a map, got: #{Errors.show(other)}"
      )

  @doc """
  The member as a JSON-friendly map with string keys. Fields left at their
  defaults are omitted; `"id"` is always present.

      iex> CouncilEx.DynamicMember.new(id: "a", system_prompt: "Hi.", profile_overrides: [retry: {3, 500}])
      ...> |> CouncilEx.DynamicMember.to_map()
      %{"id" => "a", "system_prompt" => "Hi.", "profile_overrides" => %{"retry" => [3, 500]}}
  """
  @spec to_map(t()) :: map()
  def to_map(%__MODULE__{} = m) do
    [
      {"id", m.id},
      {"role", m.role},
      {"system_prompt", m.system_prompt},
      {"profile", m.profile},
      {"profile_overrides",
       Map.new(m.profile_overrides, fn {k, v} ->
         {Atom.to_string(k), SeatOptions.to_json(k, v)}
       end)},
      {"tools", Enum.map(m.tools, &Ref.to_json/1)},
      {"output_schema", m.output_schema},
      {"output_schema_inline", m.output_schema_inline},
      {"sub_council", sub_council_to_json(m.sub_council)},
      {"input_mapper", input_mapper_to_json(m.input_mapper)},
      {"metadata", m.metadata}
    ]
    |> Enum.reject(fn {key, value} -> key != "id" and value in [nil, [], %{}] end)
    |> Map.new()
  end

  defp sub_council_to_json(%DynamicCouncil{} = council), do: DynamicCouncil.to_map(council)

  defp sub_council_to_json(module) when is_atom(module) and module != nil,
    do: Atom.to_string(module)

  defp sub_council_to_json(other), do: other

  defp input_mapper_to_json(fun) when is_function(fun), do: Ref.capture_to_json(fun)
  defp input_mapper_to_json(other), do: other
end
