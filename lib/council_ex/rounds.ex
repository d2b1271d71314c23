defmodule CouncilEx.Rounds do
  alias CouncilEx.{Enums, Spec}
  alias CouncilEx.Options.Schema

  @builtin %{
    independent_analysis: CouncilEx.Rounds.IndependentAnalysis,
    peer_review: CouncilEx.Rounds.PeerReview,
    anonymized_peer_review: CouncilEx.Rounds.AnonymizedPeerReview,
    critique: CouncilEx.Rounds.Critique,
    ranking: CouncilEx.Rounds.Ranking,
    vote: CouncilEx.Rounds.Vote,
    synthesis: CouncilEx.Rounds.Synthesis,
    weighted_synthesis: CouncilEx.Rounds.WeightedSynthesis,
    iterate: CouncilEx.Rounds.Iterate,
    pairwise_elimination: CouncilEx.Rounds.PairwiseElimination
  }

  # Every built-in round but :iterate is a kind of the C round loop
  # (c_src/enums.def): round_kind!/1 raises, so the module does not compile
  # when the two disagree.
  for name <- Map.keys(@builtin) -- [:iterate], do: Enums.round_kind!(name)

  @aggregators Enums.aggregator_names()
  @orders Enums.orders()

  @schema [
    quorum: [type: :pos_integer, doc: "the fewest members that must succeed (default 1)"],
    router: [
      type: {:custom, &__MODULE__.router/2},
      doc:
        "this round's router, overriding the council's: a `CouncilEx.Router` module or a remote capture `&Mod.select/2` (in a dynamic council, a registered `:router` name)"
    ],
    aggregator: [
      type: {:custom, &__MODULE__.aggregator/2},
      doc:
        "`nil`, one of `#{inspect(@aggregators)}` or a module exporting `aggregate/2` (a `CouncilEx.Aggregator`)"
    ],
    tie_break: [
      type: {:custom, &__MODULE__.tie_break/2},
      doc:
        "`:first`, `:random` or a 1-arity function of the tied candidates (a remote capture in a module council; dynamic councils take the atoms only)"
    ],
    order: [
      type: {:in, @orders},
      doc: "how anonymous labels are dealt: one of `#{inspect(@orders)}`"
    ],
    include_self: [type: :boolean, doc: "judges also see, and rank, their own answer"],
    options: [
      type: {:custom, &__MODULE__.vote_options/2},
      doc: "`:vote`: the choices, a non-empty list of distinct non-empty strings"
    ],
    expose_confidence: [
      type: :boolean,
      doc: "`:weighted_synthesis`: show the chair each member's confidence"
    ],
    wrap: [
      type: {:custom, &__MODULE__.wrap/2},
      doc:
        "`:iterate`, required: the round to repeat, a built-in round name other than `:iterate` or a round module"
    ],
    wrap_opts: [
      type: {:custom, &__MODULE__.wrap_opts/2},
      doc: "`:iterate`: the wrapped round's options, checked against it"
    ],
    max_iterations: [
      type: {:int, 1, 100_000},
      doc: "`:iterate`: the most iterations (default 3)"
    ],
    until: [
      type: {:custom, &__MODULE__.until/2},
      doc:
        "`:iterate`: a 2-arity function of the previous and current round results; true stops (a remote capture in a module council)"
    ],
    until_ref: [
      type: {:custom, &__MODULE__.until_ref/2},
      doc:
        "`:iterate`, dynamic councils: a registered `:router` name whose module exports `until/2`"
    ],
    min_confidence: [
      type: {:number, 0, 1},
      doc: "`:iterate`: stop once the members' mean confidence reaches it (a number from 0 to 1)"
    ],
    judge: [
      type: {:custom, &__MODULE__.judge/2},
      doc:
        "`:pairwise_elimination`: `fn a, b -> :a | :b end` (a remote capture in a module council), or `{module, seat_opts}`, a seat of its own"
    ],
    judge_ref: [
      type: {:custom, &__MODULE__.judge_ref/2},
      doc:
        "`:pairwise_elimination`, dynamic councils: a registered `:router` name whose module exports `judge/2`"
    ]
  ]

  @moduledoc """
  The built-in rounds, by name, and the options each one takes.

  `round :independent_analysis` in a council, `"independent_analysis"` in a
  `CouncilEx.DynamicRound`: both resolve through this table, so a string
  from JSON never becomes an atom unless it names a built-in round.

  ## Round options

  Every built-in round takes the common options:

  #{Schema.docs(@schema, [:quorum, :router, :aggregator, :tie_break, :order, :include_self], 4)}

  and these of its own:

  | Round | Options |
  |---|---|
  | `:vote` | `:options` |
  | `:weighted_synthesis` | `:expose_confidence` |
  | `:iterate` | `:wrap` (required), `:wrap_opts`, `:max_iterations`, `:until`, `:until_ref`, `:min_confidence` |
  | `:pairwise_elimination` | `:judge`, `:judge_ref` |

  #{Schema.docs(@schema, [:options, :expose_confidence, :wrap, :wrap_opts, :max_iterations, :until, :until_ref, :min_confidence, :judge, :judge_ref], 4)}

  Round modules that are not built in take any options; the options above
  are still type-checked when they use them. `check_opts/3` applies this
  table; `use CouncilEx`, `CouncilEx.validate/2` and
  `CouncilEx.DynamicCouncil.validate/1` all go through it.
  """

  @common [:quorum, :router, :aggregator, :tie_break, :order, :include_self]

  # Options a built-in round takes besides the common ones.
  @own %{
    independent_analysis: [],
    peer_review: [],
    anonymized_peer_review: [],
    critique: [],
    ranking: [],
    vote: [:options],
    synthesis: [],
    weighted_synthesis: [:expose_confidence],
    iterate: [:wrap, :wrap_opts, :max_iterations, :until, :until_ref, :min_confidence],
    pairwise_elimination: [:judge, :judge_ref]
  }

  @required %{iterate: [:wrap]}

  @typedoc """
  Where options come from, which decides how references are checked:
  `:dsl` (a module council compiling: functions must be remote captures,
  modules must compile), `:spec` (a council about to run: functions of any
  kind), `:data` (a dynamic council: names of registered values are
  strings, checked against the registry by `CouncilEx.DynamicCouncil`),
  `:shape` (a dynamic round being read: types only).
  """
  @type context :: :dsl | :spec | :data | :shape

  @typedoc "A problem with an option: its path (`[:wrap_opts, :quorum]`), a code and a message."
  @type problem :: {[atom()], :unknown_option | :missing_option | :invalid_option, String.t()}

  @doc false
  def __schema__, do: @schema

  @doc "The built-in round names."
  @spec names() :: [atom()]
  def names, do: @builtin |> Map.keys() |> Enum.sort()

  @doc """
  The module of a built-in round, given its name as an atom or a string.

      iex> CouncilEx.Rounds.module_for(:synthesis)
      {:ok, CouncilEx.Rounds.Synthesis}
      iex> CouncilEx.Rounds.module_for("independent_analysis")
      {:ok, CouncilEx.Rounds.IndependentAnalysis}
      iex> CouncilEx.Rounds.module_for("debate")
      :error
  """
  @spec module_for(atom() | String.t()) :: {:ok, module()} | :error
  def module_for(name) when is_atom(name), do: Map.fetch(@builtin, name)

  def module_for(name) when is_binary(name) do
    case Enum.find(@builtin, fn {key, _} -> Atom.to_string(key) == name end) do
      {_, module} -> {:ok, module}
      nil -> :error
    end
  end

  def module_for(_), do: :error

  @doc """
  The name of a built-in round module, or `:error` for any other module.

      iex> CouncilEx.Rounds.name_of(CouncilEx.Rounds.Vote)
      {:ok, :vote}
  """
  @spec name_of(module()) :: {:ok, atom()} | :error
  def name_of(module) do
    case Enum.find(@builtin, fn {_, mod} -> mod == module end) do
      {name, _} -> {:ok, name}
      nil -> :error
    end
  end

  @doc "The aggregator names built into the C round loop."
  @spec aggregators() :: [atom()]
  def aggregators, do: @aggregators

  @doc """
  The options a round takes: a list for a built-in round (name or module),
  `:any` for any other round module.

      iex> CouncilEx.Rounds.option_keys(:vote)
      [:quorum, :router, :aggregator, :tie_break, :order, :include_self, :options]
  """
  @spec option_keys(atom() | module()) :: [atom()] | :any
  def option_keys(round) do
    case builtin_name(round) do
      {:ok, name} -> @common ++ Map.fetch!(@own, name)
      :error -> :any
    end
  end

  @doc "Every option key some built-in round takes, common ones first."
  @spec all_option_keys() :: [atom()]
  def all_option_keys, do: Keyword.keys(@schema)

  @doc """
  True for the rounds in which the chair writes the final answer
  (`:synthesis`, `:weighted_synthesis`). A council with a chair whose rounds
  do not end in one gets `:synthesis` appended.
  """
  @spec chair_round?(module()) :: boolean()
  def chair_round?(module) do
    case name_of(module) do
      {:ok, name} when name != :iterate -> Enums.round_kind!(name).chair?
      _ -> false
    end
  end

  @doc """
  Checks a round's options: `:ok` or `{:error, problems}`, in option order.

  `round` is a round module or a built-in name. For a built-in round, keys
  outside its table are `:unknown_option` and required ones
  (`:wrap` for `:iterate`) `:missing_option`; every known key's value is
  checked (`:invalid_option`). `context` says where the options come from
  (see `t:context/0`).

      iex> CouncilEx.Rounds.check_opts(:vote, aggregator: :borda, quorum: 2)
      :ok
      iex> CouncilEx.Rounds.check_opts(:vote, colour: :red)
      {:error, [{[:colour], :unknown_option,
        "unknown option :colour; known options: [:quorum, :router, :aggregator, :tie_break, :order, :include_self, :options]"}]}
  """
  @spec check_opts(atom() | module(), keyword() | map(), context()) :: :ok | {:error, [problem()]}
  def check_opts(round, opts, context \\ :dsl) do
    case problems(round, opts, context) do
      [] -> :ok
      problems -> {:error, problems}
    end
  end

  @doc """
  Like `check_opts/3` with context `:dsl`, raising `ArgumentError` whose
  message starts with `label` (e.g. `"MyCouncil: round :vote"`) and names
  the option.
  """
  @spec check_opts!(String.t(), atom() | module(), keyword()) :: :ok
  def check_opts!(label, round, opts) do
    case check_opts(round, opts, :dsl) do
      :ok -> :ok
      {:error, [problem | _]} -> raise ArgumentError, "#{label}: #{format(problem)}"
    end
  end

  @doc false
  # A problem as one line: its message, and where it is when nested.
  def format({path, _code, message}) do
    where = if length(path) > 1, do: " (in #{Enum.map_join(path, ".", &inspect/1)})", else: ""
    message <> where
  end

  @doc false
  # Problems as {path, code, message}; [] when fine.
  def problems(round, opts, context) do
    cond do
      is_map(opts) and not is_struct(opts) ->
        do_problems(round, Map.to_list(opts), context)

      is_list(opts) and (opts == [] or Keyword.keyword?(opts)) ->
        do_problems(round, opts, context)

      true ->
        [
          {[], :invalid_option,
           "expected round options as a keyword list, got: #{Schema.show(opts)}"}
        ]
    end
  end

  defp do_problems(round, opts, context) do
    # Reading a dynamic round checks types only: what suits the round is
    # for validation, once the type is known to resolve.
    keys = if context == :shape, do: :any, else: option_keys(round)
    # String keys and :extra (a dynamic round's other data, from JSON) are
    # not options; neither are a custom round's own keys.
    opts = Enum.reject(opts, &match?({:extra, %{}}, &1))

    known_opts =
      for {key, _} = opt <- opts,
          is_atom(key),
          keys != :any or key in Keyword.keys(@schema),
          do: opt

    unknown =
      for {key, _} <- opts, is_atom(key), keys != :any, key not in keys do
        {[key], :unknown_option, Schema.unknown(key, keys)}
      end

    missing =
      case context != :shape and builtin_name(round) do
        {:ok, name} ->
          for key <- Map.get(@required, name, []),
              not Keyword.has_key?(known_opts, key),
              do: {[key], :missing_option, "option #{inspect(key)} is required"}

        _ ->
          []
      end

    values =
      for {key, value} <- known_opts, keys == :any or key in keys do
        context = {context, opts}

        for {key, code, message} <- Schema.check(@schema[key][:type], key, value, context) do
          nested(key, code, message)
        end
      end

    unknown ++ missing ++ List.flatten(values)
  end

  # wrap_opts problems come back already nested under their own path.
  defp nested(_key, :nested, problems), do: problems
  defp nested(key, code, message), do: {[key], code, message}

  defp builtin_name(round) when is_atom(round) do
    if Map.has_key?(@builtin, round), do: {:ok, round}, else: name_of(round)
  end

  defp builtin_name(_), do: :error

  @doc """
  The seats of the pairwise rounds that name their own judge seat
  (`judge: {module, opts}`), directly or as an iterate round's wrap:
  `[{round_idx, {module, opts}}]`.
  """
  @spec judge_seats(Spec.t()) :: [{non_neg_integer(), {module() | nil, keyword()}}]
  def judge_seats(%Spec{rounds: rounds}) do
    for {{module, opts}, idx} <- Enum.with_index(rounds),
        {CouncilEx.Rounds.PairwiseElimination, inner} <- [unwrap(module, opts)],
        {judge_module, judge_opts} <- [inner[:judge]],
        is_atom(judge_module) and is_list(judge_opts),
        do: {idx, {judge_module, judge_opts}}
  end

  @doc """
  The round an iterate round repeats, with its options; any other round
  as it is. Assumes checked options.
  """
  @spec unwrap(module(), keyword()) :: {module(), keyword()}
  def unwrap(CouncilEx.Rounds.Iterate, opts) do
    wrap = opts[:wrap]
    module = if Map.has_key?(@builtin, wrap), do: @builtin[wrap], else: wrap
    {module, opts[:wrap_opts] || []}
  end

  def unwrap(module, opts), do: {module, opts}

  ## Value types (Schema custom types; context is {context, all_opts})

  @doc false
  def router(router, {context, _opts}) do
    cond do
      is_function(router, 2) and context == :dsl ->
        remote(router, :router, "&Mod.select/2")

      is_function(router, 2) and context == :spec ->
        :ok

      module_atom?(router) and context != :shape ->
        if exports?(router, :select, 2, context),
          do: :ok,
          else: {:error, "a module implementing CouncilEx.Router (select/2)"}

      module_atom?(router) ->
        :ok

      is_binary(router) and router != "" and context in [:data, :shape] ->
        :ok

      context in [:dsl, :spec] ->
        {:error, "a CouncilEx.Router module or a remote capture &Mod.fun/2"}

      true ->
        {:error, "a registered router name or a CouncilEx.Router module"}
    end
  end

  @doc false
  def aggregator(agg, _context) when agg == nil or agg in @aggregators, do: :ok

  def aggregator(agg, {:shape, _})
      when (is_binary(agg) and agg != "") or (is_atom(agg) and agg not in [true, false]),
      do: :ok

  def aggregator(agg, {context, _}) do
    if module_atom?(agg) and exports?(agg, :aggregate, 2, context),
      do: :ok,
      else:
        {:error,
         "nil, one of #{inspect(@aggregators)} or a module exporting aggregate/2 (a CouncilEx.Aggregator)"}
  end

  @doc false
  def tie_break(tb, _context) when tb in [:first, :random], do: :ok

  def tie_break(fun, {:dsl, _}) when is_function(fun, 1),
    do: remote(fun, :tie_break, "&Mod.fun/1")

  def tie_break(fun, {:spec, _}) when is_function(fun, 1), do: :ok

  def tie_break(_tb, {context, _}) when context in [:dsl, :spec],
    do: {:error, ":first, :random or a 1-arity function"}

  def tie_break(_tb, _context), do: {:error, ":first or :random"}

  @doc false
  def vote_options([_ | _] = options, _context) do
    cond do
      not Enum.all?(options, &Schema.text?/1) ->
        {:error, "a non-empty list of non-empty strings"}

      Enum.uniq(options) != options ->
        {:error, "a list of distinct strings"}

      length(options) > 10_000 ->
        {:error, "a list of at most 10000 strings"}

      true ->
        :ok
    end
  end

  def vote_options(_other, _context), do: {:error, "a non-empty list of non-empty strings"}

  @doc false
  def wrap(wrap, {context, _}) do
    cond do
      wrap in [:iterate, CouncilEx.Rounds.Iterate, "iterate"] ->
        {:error, :invalid_option, "an iterate round cannot wrap another iterate round"}

      is_atom(wrap) and Map.has_key?(@builtin, wrap) ->
        :ok

      module_atom?(wrap) and context == :shape ->
        :ok

      module_atom?(wrap) ->
        if name_of(wrap) != :error or custom_round?(wrap, context),
          do: :ok,
          else:
            {:error,
             "a built-in round name or a round module (exporting name/0 and build_input/3)"}

      is_binary(wrap) and wrap != "" and context in [:data, :shape] ->
        :ok

      true ->
        {:error, "a built-in round (one of #{inspect(names() -- [:iterate])}) or a round module"}
    end
  end

  @doc false
  def wrap_opts(value, {context, opts}) do
    if (is_map(value) and not is_struct(value)) or
         (is_list(value) and (value == [] or Keyword.keyword?(value))) do
      case problems(wrapped_round(List.keyfind(opts, :wrap, 0)), value, context) do
        [] ->
          :ok

        problems ->
          {:error, :nested,
           Enum.map(problems, fn {path, c, m} -> {[:wrap_opts | path], c, m} end)}
      end
    else
      {:error, "the wrapped round's options (a keyword list or map)"}
    end
  end

  # The round wrap_opts are checked against: a built-in name when known.
  defp wrapped_round({:wrap, wrap}) when is_atom(wrap) and wrap != nil do
    case builtin_name(wrap) do
      {:ok, name} -> name
      :error -> wrap
    end
  end

  defp wrapped_round({:wrap, wrap}) when is_binary(wrap) do
    case module_for(wrap) do
      {:ok, module} -> module
      :error -> :unknown
    end
  end

  defp wrapped_round(_), do: :unknown

  @doc false
  def until(fun, {:dsl, _}) when is_function(fun, 2), do: remote(fun, :until, "&Mod.fun/2")
  def until(fun, {:spec, _}) when is_function(fun, 2), do: :ok
  def until(_fun, {context, _}) when context in [:dsl, :spec], do: {:error, "a 2-arity function"}

  def until(_fun, _context),
    do:
      {:error, :invalid_option,
       "until cannot be stored in a dynamic council; use until_ref, a registered :router name whose module exports until/2"}

  @doc false
  def until_ref(name, context), do: ref(:until, name, context)

  @doc false
  def judge_ref(name, context), do: ref(:judge, name, context)

  defp ref(_plain, name, {context, _}) when context in [:data, :shape] do
    if is_binary(name) and name != "", do: :ok, else: {:error, "a registered router name"}
  end

  defp ref(plain, _name, _context),
    do:
      {:error, :invalid_option,
       "#{plain}_ref is for dynamic councils; in a module council use #{plain}: &Mod.fun/2"}

  @doc false
  def judge(fun, {context, _}) when is_function(fun, 2) do
    cond do
      context == :spec ->
        :ok

      Function.info(fun, :type) == {:type, :external} ->
        :ok

      context == :dsl ->
        remote(fun, :judge, "&Mod.fun/2")

      true ->
        {:error, "a remote capture such as &Mod.fun/2 (anonymous functions cannot be serialized)"}
    end
  end

  def judge({module, opts}, {context, _}) when context in [:dsl, :spec] and is_atom(module) do
    if is_list(opts) and Keyword.keyword?(opts) and (module == nil or module_atom?(module)),
      do: :ok,
      else: {:error, "a 2-arity function or {module, seat_opts}"}
  end

  def judge("&" <> _, {context, _}) when context in [:data, :shape], do: :ok

  def judge(_judge, {context, _}) when context in [:dsl, :spec],
    do: {:error, "a 2-arity function or {module, seat_opts}"}

  def judge(_judge, _context), do: {:error, "a remote capture &Mod.fun/2 (or use judge_ref)"}

  @doc false
  # A round module that is not built in: it names itself and builds each
  # member's message.
  def custom_round?(module, context \\ :spec) do
    (context != :dsl or match?({:module, _}, Code.ensure_compiled(module))) and
      Code.ensure_loaded?(module) and function_exported?(module, :name, 0) and
      function_exported?(module, :build_input, 3)
  end

  defp remote(fun, key, example) do
    if Function.info(fun, :type) == {:type, :external},
      do: :ok,
      else:
        {:error, :invalid_option,
         "#{key}: anonymous functions cannot be compiled into a council module; " <>
           "use a remote capture such as #{example}, got: #{Schema.show(fun)}"}
  end

  defp module_atom?(atom), do: is_atom(atom) and atom not in [nil, true, false]

  # In a module council the module may still be compiling: wait for it.
  defp exports?(module, fun, arity, :dsl) do
    match?({:module, _}, Code.ensure_compiled(module)) and function_exported?(module, fun, arity)
  end

  defp exports?(module, fun, arity, _),
    do: Code.ensure_loaded?(module) and function_exported?(module, fun, arity)
end
