defmodule CouncilEx.Rounds do
  @moduledoc """
  The built-in rounds, by name, and the options each one takes.

  `round :independent_analysis` in a council, `"independent_analysis"` in a
  `CouncilEx.DynamicRound`: both resolve through this table, so a string
  from JSON never becomes an atom unless it names a built-in round.

  ## Round options

  Every built-in round takes the common options:

    * `:quorum` - the fewest members that must succeed (a positive integer,
      default 1).
    * `:router` - this round's router, overriding the council's: a
      `CouncilEx.Router` module or a remote capture `&Mod.select/2` (in a
      dynamic council, a registered `:router` name).
    * `:aggregator` - `nil`, one of `:plurality`, `:weighted_mean`,
      `:confidence_median`, `:borda`, `:condorcet`, `:peer_ranking`
      or a module exporting `aggregate/2` (a `CouncilEx.Aggregator`).
    * `:tie_break` - `:first`, `:random` or a 1-arity function of the tied
      candidates (a remote capture in a module council; dynamic councils
      take the atoms only).
    * `:order` - `:stable`, `:shuffle` or `:per_judge`.
    * `:include_self` - a boolean.

  and these of its own:

  | Round | Options |
  |---|---|
  | `:vote` | `:options` (a non-empty list of strings) |
  | `:weighted_synthesis` | `:expose_confidence` (a boolean) |
  | `:iterate` | `:wrap` (required: a built-in round name other than `:iterate`, or a round module), `:wrap_opts` (that round's options, checked against it), `:max_iterations` (a positive integer), `:until` (a 2-arity function; a remote capture in a module council), `:until_ref` (dynamic councils: a registered `:router` name whose module exports `until/2`), `:min_confidence` (a number from 0 to 1) |
  | `:pairwise_elimination` | `:judge` (a 2-arity function, or `{module, opts}`), `:judge_ref` (dynamic councils: a registered `:router` name whose module exports `judge/2`) |

  Round modules that are not built in take any options; the options above
  are still type-checked when they use them. `check_opts/3` applies this
  table; `use CouncilEx` and `CouncilEx.DynamicCouncil.validate/1` both
  call it.
  """

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

  @aggregators [:plurality, :weighted_mean, :confidence_median, :borda, :condorcet, :peer_ranking]
  @tie_breaks [:first, :random]
  @orders [:stable, :shuffle, :per_judge]

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

  @chair_rounds [CouncilEx.Rounds.Synthesis, CouncilEx.Rounds.WeightedSynthesis]

  @typedoc """
  Where options come from, which decides how references are checked:
  `:dsl` (a module council: functions must be remote captures, modules must
  compile), `:data` (a validated dynamic council: names of registered
  values are strings, checked against the registry by
  `CouncilEx.DynamicCouncil`), `:shape` (a dynamic round being read:
  types only).
  """
  @type context :: :dsl | :data | :shape

  @typedoc "A problem with an option: its path (`[:wrap_opts, :quorum]`), a code and a message."
  @type problem :: {[atom()], :unknown_option | :missing_option | :invalid_option, String.t()}

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
  def all_option_keys do
    own = @own |> Map.values() |> List.flatten()
    Enum.uniq(@common ++ Enum.filter(own_order(), &(&1 in own)))
  end

  defp own_order,
    do: [
      :wrap,
      :wrap_opts,
      :max_iterations,
      :until,
      :until_ref,
      :min_confidence,
      :options,
      :expose_confidence,
      :judge,
      :judge_ref
    ]

  @doc """
  True for the rounds in which the chair writes the final answer
  (`:synthesis`, `:weighted_synthesis`). A council with a chair whose rounds
  do not end in one gets `:synthesis` appended.
  """
  @spec chair_round?(module()) :: boolean()
  def chair_round?(module), do: module in @chair_rounds

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
      :ok ->
        :ok

      {:error, [{path, _code, message} | _]} ->
        where = if length(path) > 1, do: " (in #{Enum.map_join(path, ".", &inspect/1)})", else: ""
        raise ArgumentError, "#{label}: #{message}#{where}"
    end
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
        [{[], :invalid_option, "expected round options as a keyword list, got: #{show(opts)}"}]
    end
  end

  defp do_problems(round, opts, context) do
    # Reading a dynamic round checks types only: what suits the round is
    # for validation, once the type is known to resolve.
    keys = if context == :shape, do: :any, else: option_keys(round)
    # String keys (dynamic rounds' extra data) are not options.
    atom_opts = Enum.filter(opts, fn {key, _} -> is_atom(key) end)

    unknown =
      for {key, _} <- atom_opts, keys != :any, key not in keys do
        {[key], :unknown_option,
         "unknown option #{inspect(key)}; known options: #{inspect(keys)}"}
      end

    missing =
      case context != :shape and builtin_name(round) do
        {:ok, name} ->
          for key <- Map.get(@required, name, []),
              not Enum.any?(atom_opts, &(elem(&1, 0) == key)) do
            {[key], :missing_option, "option #{inspect(key)} is required"}
          end

        _ ->
          []
      end

    values =
      for {key, value} <- atom_opts,
          keys == :any or key in keys,
          problem <- value_problems(key, value, opts, context) do
        problem
      end

    unknown ++ missing ++ values
  end

  defp builtin_name(round) when is_atom(round) do
    if Map.has_key?(@builtin, round), do: {:ok, round}, else: name_of(round)
  end

  defp builtin_name(_), do: :error

  ## Values

  defp value_problems(:wrap_opts, value, opts, context) do
    wrapped = wrapped_round(List.keyfind(opts, :wrap, 0), context)

    cond do
      not (is_map(value) and not is_struct(value)) and
          not (is_list(value) and (value == [] or Keyword.keyword?(value))) ->
        [
          invalid(
            :wrap_opts,
            "expected wrap_opts to be the wrapped round's options (a keyword list or map), got: #{show(value)}"
          )
        ]

      true ->
        wrapped
        |> problems(value, context)
        |> Enum.map(fn {path, code, message} -> {[:wrap_opts | path], code, message} end)
    end
  end

  defp value_problems(key, value, _opts, context) do
    case value_error(key, value, context) do
      nil -> []
      message -> [invalid(key, message)]
    end
  end

  # The round wrap_opts are checked against: a built-in name when known.
  defp wrapped_round({:wrap, wrap}, _context) when is_atom(wrap) and wrap != nil do
    case builtin_name(wrap) do
      {:ok, name} -> name
      :error -> wrap
    end
  end

  defp wrapped_round({:wrap, wrap}, _context) when is_binary(wrap) do
    case module_for(wrap) do
      {:ok, module} -> module
      :error -> :unknown
    end
  end

  defp wrapped_round(_, _context), do: :unknown

  defp invalid(key, message), do: {[key], :invalid_option, message}

  defp value_error(:quorum, n, _) when is_integer(n) and n > 0, do: nil
  defp value_error(:quorum, n, _), do: "expected quorum to be a positive integer, got: #{show(n)}"
  defp value_error(:max_iterations, n, _) when is_integer(n) and n > 0, do: nil

  defp value_error(:max_iterations, n, _),
    do: "expected max_iterations to be a positive integer, got: #{show(n)}"

  defp value_error(:min_confidence, x, _) when is_number(x) and x >= 0 and x <= 1, do: nil

  defp value_error(:min_confidence, x, _),
    do: "expected min_confidence to be a number from 0 to 1, got: #{show(x)}"

  defp value_error(key, b, _) when key in [:include_self, :expose_confidence] and is_boolean(b),
    do: nil

  defp value_error(key, b, _) when key in [:include_self, :expose_confidence],
    do: "expected #{key} to be a boolean, got: #{show(b)}"

  defp value_error(:order, order, _) when order in @orders, do: nil

  defp value_error(:order, order, _),
    do: "expected order to be one of #{inspect(@orders)}, got: #{show(order)}"

  defp value_error(:options, [_ | _] = options, _) do
    if Enum.all?(options, &(is_binary(&1) and &1 != "")),
      do: nil,
      else: "expected options to be a non-empty list of non-empty strings, got: #{show(options)}"
  end

  defp value_error(:options, other, _),
    do: "expected options to be a non-empty list of non-empty strings, got: #{show(other)}"

  defp value_error(:aggregator, agg, _) when agg == nil or agg in @aggregators, do: nil

  defp value_error(:aggregator, agg, :shape)
       when (is_binary(agg) and agg != "") or (is_atom(agg) and agg not in [true, false]),
       do: nil

  defp value_error(:aggregator, agg, context) do
    if module_atom?(agg) and exports?(agg, :aggregate, 2, context),
      do: nil,
      else:
        "expected aggregator to be nil, one of #{inspect(@aggregators)} or a module exporting aggregate/2 (a CouncilEx.Aggregator), got: #{show(agg)}"
  end

  defp value_error(:tie_break, tb, _) when tb in @tie_breaks, do: nil

  defp value_error(:tie_break, fun, :dsl) when is_function(fun, 1),
    do: if(remote?(fun), do: nil, else: anonymous(:tie_break, "&Mod.fun/1", fun))

  defp value_error(:tie_break, tb, :dsl),
    do: "expected tie_break to be :first, :random or a 1-arity function, got: #{show(tb)}"

  defp value_error(:tie_break, tb, _),
    do: "expected tie_break to be :first or :random, got: #{show(tb)}"

  defp value_error(:router, router, context) do
    cond do
      is_function(router, 2) and context == :dsl ->
        if remote?(router), do: nil, else: anonymous(:router, "&Mod.select/2", router)

      module_atom?(router) and context != :shape ->
        if exports?(router, :select, 2, context),
          do: nil,
          else: "expected router to implement CouncilEx.Router (select/2), got: #{show(router)}"

      module_atom?(router) ->
        nil

      is_binary(router) and router != "" and context != :dsl ->
        nil

      context == :dsl ->
        "expected router to be a CouncilEx.Router module or a remote capture &Mod.fun/2, got: #{show(router)}"

      true ->
        "expected router to be a registered router name or a CouncilEx.Router module, got: #{show(router)}"
    end
  end

  defp value_error(:wrap, wrap, context) do
    cond do
      wrap == :iterate or wrap == CouncilEx.Rounds.Iterate or wrap == "iterate" ->
        "an iterate round cannot wrap another iterate round"

      is_atom(wrap) and Map.has_key?(@builtin, wrap) ->
        nil

      module_atom?(wrap) and context == :shape ->
        nil

      module_atom?(wrap) ->
        if exports?(wrap, :name, 0, context),
          do: nil,
          else:
            "expected wrap to be a built-in round name or a round module (exporting name/0), got: #{show(wrap)}"

      is_binary(wrap) and wrap != "" and context != :dsl ->
        nil

      true ->
        "expected wrap to be a built-in round (one of #{inspect(names() -- [:iterate])}) or a round module, got: #{show(wrap)}"
    end
  end

  defp value_error(:until, fun, :dsl) when is_function(fun, 2),
    do: if(remote?(fun), do: nil, else: anonymous(:until, "&Mod.fun/2", fun))

  defp value_error(:until, fun, :dsl),
    do: "expected until to be a 2-arity function, got: #{show(fun)}"

  defp value_error(:until, _fun, _),
    do:
      "until cannot be stored in a dynamic council; use until_ref, a registered :router name whose module exports until/2"

  defp value_error(key, _name, :dsl) when key in [:until_ref, :judge_ref] do
    plain = key |> Atom.to_string() |> String.trim_trailing("_ref")
    "#{key} is for dynamic councils; in a module council use #{plain}: &Mod.fun/2"
  end

  defp value_error(key, name, _)
       when key in [:until_ref, :judge_ref] and is_binary(name) and name != "",
       do: nil

  defp value_error(key, name, _) when key in [:until_ref, :judge_ref],
    do: "expected #{key} to be a registered router name, got: #{show(name)}"

  defp value_error(:judge, fun, context) when is_function(fun, 2) do
    cond do
      remote?(fun) ->
        nil

      context == :dsl ->
        anonymous(:judge, "&Mod.fun/2", fun)

      true ->
        "expected judge to be a remote capture such as &Mod.fun/2 (anonymous functions cannot be serialized), got: #{show(fun)}"
    end
  end

  defp value_error(:judge, {module, opts}, :dsl) when is_atom(module) and is_list(opts) do
    if module_atom?(module) and Keyword.keyword?(opts),
      do: nil,
      else:
        "expected judge to be a 2-arity function or {module, opts}, got: #{show({module, opts})}"
  end

  defp value_error(:judge, "&" <> _, context) when context != :dsl, do: nil

  defp value_error(:judge, judge, :dsl),
    do: "expected judge to be a 2-arity function or {module, opts}, got: #{show(judge)}"

  defp value_error(:judge, judge, _),
    do: "expected judge to be a remote capture &Mod.fun/2 (or use judge_ref), got: #{show(judge)}"

  # Options of rounds that are not built in: theirs to interpret.
  defp value_error(_key, _value, _context), do: nil

  defp anonymous(key, example, fun),
    do:
      "#{key}: anonymous functions cannot be compiled into a council module; " <>
        "use a remote capture such as #{example}, got: #{show(fun)}"

  defp remote?(fun), do: Function.info(fun, :type) == {:type, :external}

  defp module_atom?(atom), do: is_atom(atom) and atom not in [nil, true, false]

  # In a module council the module may still be compiling: wait for it.
  defp exports?(module, fun, arity, :dsl) do
    match?({:module, _}, Code.ensure_compiled(module)) and function_exported?(module, fun, arity)
  end

  defp exports?(module, fun, arity, _),
    do: Code.ensure_loaded?(module) and function_exported?(module, fun, arity)

  defp show(value), do: inspect(value, limit: 5, printable_limit: 64)
end
