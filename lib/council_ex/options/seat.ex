defmodule CouncilEx.Options.Seat do
  @moduledoc false
  # The options a seat (member, chair, pairwise judge) takes, as data: one
  # schema drives the profile macros, the DSL's compile-time checks,
  # CouncilEx.Council.Rules, dynamic members and their JSON form, and the
  # docs. Which keys a seat may carry depends on its role (keys_for/1).
  #
  # Values also arrive from JSON: normalize/2 turns the JSON forms into the
  # Elixir ones (["collect"] strings into the known atoms, [max, base_ms]
  # lists into tuples) without ever creating an atom; to_json/2 goes back.

  alias CouncilEx.Dynamic.Ref
  alias CouncilEx.Options.Schema

  @confidences CouncilEx.Enums.confidences() -- [:none]
  @tool_calls_cap CouncilEx.Enums.limit(:max_tool_calls)

  @schema [
    provider: [
      type: {:custom, &__MODULE__.provider/2},
      doc: "a provider id configured under `config :council_ex, :providers`"
    ],
    model: [type: :line, doc: "the model name"],
    temperature: [type: {:number, 0, 2}, doc: "sampling temperature, from 0 to 2"],
    max_tokens: [type: :pos_integer, doc: "the most tokens a reply may have"],
    stream: [type: :boolean, doc: "stream tokens as they arrive (`:member_token` events)"],
    retry: [
      type: :retry,
      doc: "`{max_attempts, base_ms}` for retrying transient failures (1..100 attempts in all)"
    ],
    tools: [
      type: {:custom, &__MODULE__.tools/2},
      doc: "tool modules (`CouncilEx.Tool`), or in dynamic councils registered tool names"
    ],
    parallel_tools: [type: :boolean, doc: "run a reply's tool calls in parallel (default true)"],
    parallel_tools_strategy: [
      type: {:in, [:collect, :fail_fast]},
      doc: "`:collect` (default) or `:fail_fast`"
    ],
    tool_concurrency_factor: [
      type: {:custom, &__MODULE__.pos_number/2},
      default: 1.0,
      doc:
        "how many of a turn's tool calls run at once, per scheduler (a positive number): at most `ceil(factor * System.schedulers_online())`, at least 1 (default 1.0)"
    ],
    tool_timeout_ms: [type: :pos_integer, doc: "time a tool call may take (default 30 s)"],
    tool_choice: [
      type: {:custom, &__MODULE__.tool_choice/2},
      doc: "`nil`, `:auto`, `:required`, `:none` or a tool name"
    ],
    system_prompt: [type: :string, doc: "the seat's system prompt"],
    output_schema: [
      type: {:custom, &__MODULE__.output_schema/2},
      doc:
        "a JSON Schema map (or `{:json_schema, map}`, or a module exporting `json_schema/0`) the answer must follow"
    ],
    profile: [
      type: {:custom, &__MODULE__.profile/2},
      doc: "a `CouncilEx.Profile` module or registered profile name (see `CouncilEx.Profile`)"
    ],
    timeout_ms: [
      type: :pos_integer,
      doc:
        "the member call's whole budget, from its start: every attempt, backoff wait and tool turn (default the run's `:member_timeout_ms`); a retry whose wait would end past it is not taken, and the call fails as `:timeout`"
    ],
    request_timeout_ms: [
      type: :pos_integer,
      doc:
        "time one HTTP attempt may take (default: none, so an attempt may take what is left of `:timeout_ms`); an attempt it cuts short is retried like a transient failure while the budget lasts"
    ],
    connect_timeout_ms: [type: :pos_integer, doc: "connect timeout per call"],
    max_tool_turns: [
      type: {:int, 1, 1000},
      doc: "tool-call rounds a call may take before it fails (default 8)"
    ],
    max_tool_calls: [
      type: {:int, 1, @tool_calls_cap},
      default: 128,
      doc:
        "tool calls one reply may hold, streamed or not (1 to #{@tool_calls_cap}, default 128): a reply with more fails the call (`:too_many_tool_calls`)"
    ],
    weight: [
      type: {:number, 0, nil},
      doc: "the member's weight in a weighted synthesis, a number >= 0 (default 1.0)"
    ],
    confidence: [
      type: {:in, @confidences},
      doc: "how the member's confidence is read: `:self_report` or `:logprob`"
    ],
    fallback: [
      type: {:custom, &__MODULE__.fallback/2},
      doc:
        "chair only: the members (ids) whose seats retry the synthesis, in order, when the chair's call fails, or `:members` for all of them"
    ],
    council: [
      type: {:custom, &__MODULE__.council/2},
      doc: "sub-council members: the council the member runs on its input"
    ],
    input_mapper: [
      type: {:custom, &__MODULE__.input_mapper/2},
      doc: "sub-council members: a 1-arity function mapping the run's input (a remote capture)"
    ]
  ]

  @profile_keys [
    :provider,
    :model,
    :temperature,
    :max_tokens,
    :stream,
    :retry,
    :tools,
    :parallel_tools,
    :parallel_tools_strategy,
    :tool_concurrency_factor,
    :tool_timeout_ms,
    :tool_choice
  ]
  @seat_keys [
    :timeout_ms,
    :request_timeout_ms,
    :connect_timeout_ms,
    :max_tool_turns,
    :max_tool_calls,
    :weight,
    :confidence,
    :fallback
  ]

  @member_keys @profile_keys ++ [:system_prompt, :output_schema, :profile] ++ @seat_keys

  @doc "The seat options' schema."
  @spec schema() :: Schema.t()
  def schema, do: @schema

  @doc """
  A seat's setting for an option with a default: the seat's value, else
  the schema's default (`nil` stands for "not set").
  """
  @spec setting(keyword(), atom()) :: term()
  def setting(opts, key) do
    case opts[key] do
      nil -> Keyword.fetch!(@schema, key)[:default]
      value -> value
    end
  end

  @doc "The options a profile may set, in order."
  @spec profile_keys() :: [atom()]
  def profile_keys, do: @profile_keys

  @doc "The options a dynamic member may override: the profile's plus the seat's own."
  @spec override_keys() :: [atom()]
  def override_keys, do: @profile_keys ++ @seat_keys

  @doc """
  The options a seat in `role` takes: `:member`, `:chair` (also
  `:fallback`), `:judge` (a pairwise round's own judge seat, also `:id`),
  `:sub_council` (only `:council`, `:input_mapper`, `:weight` and
  `:confidence`: its own council's members do the calls).
  """
  @spec keys_for(:member | :chair | :judge | :sub_council | :profile) :: [atom()]
  def keys_for(:profile), do: @profile_keys
  def keys_for(:member), do: @member_keys -- [:fallback]
  def keys_for(:chair), do: @member_keys
  def keys_for(:judge), do: (@member_keys -- [:fallback]) ++ [:id]
  def keys_for(:sub_council), do: [:council, :input_mapper, :weight, :confidence]

  @doc "A markdown list of `keys`, for docs, each line indented by `indent` spaces."
  @spec docs([atom()], non_neg_integer()) :: String.t()
  def docs(keys, indent \\ 2), do: Schema.docs(@schema, keys, indent)

  @doc """
  The problems of a seat's options as `{key, code, message}`: keys its role
  does not take, and bad values (`nil` stands for "not set"). `context` is
  `:dsl` (a module council compiling: functions must be remote captures,
  modules may still be compiling), `:spec` (a council being run) or
  `:data` (dynamic councils and registered profiles: names of registered
  values are strings).
  """
  @spec errors(keyword() | map(), atom(), atom()) :: [Schema.problem()]
  def errors(opts, role, context) do
    known = keys_for(role)

    Enum.flat_map(opts, fn {key, _value} = opt ->
      cond do
        role == :judge and key == :id ->
          []

        role == :sub_council and key in @member_keys and key not in known ->
          [
            {key, :invalid_option,
             "a sub-council member takes only :council, :input_mapper, :weight and :confidence " <>
               "(its council's members do the calls), got: #{inspect(key)}"}
          ]

        key == :fallback and role != :chair ->
          [{key, :invalid_option, "fallback is a chair option"}]

        key == :input_mapper and role != :sub_council ->
          [{key, :invalid_option, "input_mapper is for sub-council members (council: ...)"}]

        true ->
          Schema.errors(@schema, [opt], known: known, context: context, nil_ok?: true)
      end
    end)
  end

  @doc "The option named by a JSON key, if it is one (never creates an atom)."
  @spec key(term(), [atom()]) :: {:ok, atom()} | :error
  def key(name, keys) when is_atom(name), do: if(name in keys, do: {:ok, name}, else: :error)

  def key(name, keys) when is_binary(name) do
    case Enum.find(keys, &(Atom.to_string(&1) == name)) do
      nil -> :error
      key -> {:ok, key}
    end
  end

  def key(_name, _keys), do: :error

  @doc "Turns the JSON form of a value into its Elixir form; anything else is returned as is."
  @spec normalize(atom(), term()) :: term()
  def normalize(:provider, name) when is_binary(name) do
    # A provider id is a config key, so it is an atom that exists already
    # when it is configured; an unknown name stays a string and fails checks.
    String.to_existing_atom(name)
  rescue
    ArgumentError -> name
  end

  def normalize(:retry, [max, base]), do: {max, base}
  def normalize(:fallback, "members"), do: :members

  def normalize(:tools, refs) when is_list(refs),
    do: Enum.map(refs, &Ref.module_or_name(&1, CouncilEx.Tool))

  def normalize(:tool_choice, name) when is_binary(name),
    do: known_atom(name, [:auto, :required, :none])

  def normalize(key, name) when is_binary(name) do
    case @schema[key][:type] do
      {:in, atoms} -> known_atom(name, atoms)
      _ -> name
    end
  end

  def normalize(_key, value), do: value

  defp known_atom(name, atoms), do: Enum.find(atoms, name, &(Atom.to_string(&1) == name))

  @doc "The JSON form of a checked value."
  @spec to_json(atom(), term()) :: term()
  def to_json(:retry, {max, base}), do: [max, base]
  def to_json(:tools, refs), do: Enum.map(refs, &Ref.to_json/1)

  def to_json(_key, value) when is_atom(value) and value not in [nil, true, false],
    do: Atom.to_string(value)

  def to_json(_key, value), do: value

  ## Types

  @doc false
  def provider(p, _context) do
    if (is_atom(p) and p not in [nil, true, false]) or (is_binary(p) and p != ""),
      do: :ok,
      else: {:error, "a provider id (an atom, or its name as a string)"}
  end

  @doc false
  def tools(refs, :data) when is_list(refs) do
    if Enum.all?(refs, &Ref.ref?/1),
      do: :ok,
      else: {:error, "a list of tool modules or registered tool names"}
  end

  def tools(refs, context) when is_list(refs) do
    case Enum.reject(refs, &tool_ref?(&1, context)) do
      [] ->
        :ok

      [bad | _] ->
        {:error, :invalid_option,
         "#{Schema.show(bad)} is not a CouncilEx.Tool (name/0, description/0, parameters_schema/0, execute/1)"}
    end
  end

  def tools(_refs, :data), do: {:error, "a list of tool modules or registered tool names"}
  def tools(_refs, _context), do: {:error, "a list of CouncilEx.Tool modules"}

  defp tool_ref?(module, :dsl) when is_atom(module),
    do: compiled?(module) and CouncilEx.Tool.tool?(module)

  defp tool_ref?(module, _context), do: CouncilEx.Tool.tool?(module)

  @doc false
  def pos_number(n, _context),
    do: if(is_number(n) and n > 0, do: :ok, else: {:error, "a positive number"})

  @doc false
  def tool_choice(choice, _context) do
    if choice in [:auto, :required, :none] or Schema.text?(choice),
      do: :ok,
      else: {:error, ":auto, :required, :none or a tool name"}
  end

  @doc false
  def output_schema({:json_schema, map}, context), do: output_schema(map, context)
  def output_schema(map, _context) when is_map(map) and not is_struct(map), do: :ok

  def output_schema(module, context) when is_atom(module) and module not in [nil, true, false] do
    if (context != :dsl or compiled?(module)) and Code.ensure_loaded?(module) and
         function_exported?(module, :json_schema, 0),
       do: :ok,
       else: {:error, :invalid_output_schema, "#{inspect(module)} does not export json_schema/0"}
  end

  def output_schema(_other, _context),
    do: {:error, "a JSON Schema map, {:json_schema, map} or a module exporting json_schema/0"}

  @doc false
  def profile(ref, _context) do
    if Ref.ref?(ref),
      do: :ok,
      else: {:error, "a profile module or a registered profile name"}
  end

  @doc false
  def fallback(:members, _context), do: :ok

  def fallback(ids, _context) when is_list(ids) do
    if Enum.all?(ids, &(Ref.module_atom?(&1) or (is_binary(&1) and &1 != ""))),
      do: :ok,
      else: {:error, "a list of member ids or :members"}
  end

  def fallback(_other, _context), do: {:error, "a list of member ids or :members"}

  @doc false
  def council(%CouncilEx.DynamicCouncil{}, _context), do: :ok

  def council(module, context) when is_atom(module) and module not in [nil, true, false] do
    if (context != :dsl or compiled?(module)) and Code.ensure_loaded?(module) and
         function_exported?(module, :__council__, 0),
       do: :ok,
       else:
         {:error, :invalid_option,
          "council #{inspect(module)} is not a council (no __council__/0; does it `use CouncilEx`?)"}
  end

  def council(_other, _context),
    do: {:error, "a council module or a %CouncilEx.DynamicCouncil{}"}

  @doc false
  def input_mapper(fun, context) when is_function(fun, 1) do
    if context == :dsl and not Ref.remote_capture?(fun),
      do:
        {:error, :invalid_option,
         "input_mapper: anonymous functions cannot be compiled into a council module; use a remote capture such as &MyApp.Mappers.brief/1"},
      else: :ok
  end

  def input_mapper(_other, _context), do: {:error, "a 1-arity function"}

  # In a module council the module may still be compiling: wait for it.
  defp compiled?(module), do: match?({:module, _}, Code.ensure_compiled(module))
end
