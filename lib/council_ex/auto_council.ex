defmodule CouncilEx.AutoCouncil do
  @moduledoc """
  A council that picks itself: from a catalog of councils, a strategy
  chooses the one to run for each input.

      auto =
        CouncilEx.AutoCouncil.new(
          name: "general-routing",
          strategy: :rules,
          catalog: [
            %{id: "seo", council: MyApp.Councils.SEO, match: ~r/seo|sitemap/i, desc: "SEO audit"},
            %{id: "legal", council: MyApp.Councils.Legal, match: &MyApp.Routing.legal?/1}
          ],
          on_no_match: {:fallback, MyApp.Councils.GeneralPurpose}
        )

      {:ok, result} = CouncilEx.run(auto, %{question: "Is our sitemap fine?"})
      result.metadata.auto
      #=> %{strategy: :rules, kind: :catalog, catalog_id: "seo", reason: "...", latency_ms: 0, score: nil}

  `CouncilEx.run/3`, `start/3`, `start_link/3` (and `CouncilEx.Supervisor`)
  take an AutoCouncil like any council: it is resolved first (see
  `resolve/2`), a failed choice is returned as
  `{:error, %CouncilEx.Error{kind: :validation}}` before any process
  starts, and the chosen council runs with the choice in the internal run
  option `:auto`, reported as `result.metadata.auto`. `CouncilEx.validate/2`
  checks the AutoCouncil and every council it may run.

  ## Fields

    * `:strategy` - `:rules` (default; `CouncilEx.AutoCouncil.Strategies.Rules`),
      `:cascade` (`CouncilEx.AutoCouncil.Strategies.Cascade`, the
      strategies in `options[:strategies]`), `:embedding`, `:llm_classify`
      and `:llm_build` (not implemented in this version: resolving with
      them gives an error with reason `:not_implemented`), or
      `{module, opts}` for a `CouncilEx.AutoCouncil.Strategy`.
    * `:catalog` - a list of entries, `{:registry, :council}` (the
      `:council` entries of `CouncilEx.Registry`, read at each resolution,
      sorted by name, each entry's id defaulting to its name), or `nil` (no
      entries).
    * `:on_no_match` - what happens when the strategy finds nothing:
      `:error` (the default; `nil` means the same) or
      `{:fallback, council_or_id}`, a council module, a
      `%CouncilEx.DynamicCouncil{}`, or the id of a catalog entry.
    * `:name` - a display name.
    * `:options` - the strategy's options (a keyword list).
    * `:provider_check` - when `true`, entries whose councils use a
      provider that is not configured are left out of the catalog before
      the strategy runs (default `false`).

  ## Catalog entries

  Maps with `:council` (required: a council module or a
  `%CouncilEx.DynamicCouncil{}`) and optionally `:id` (a string or atom),
  `:desc`, `:match` (a `Regex` or a 1-arity function of the input's text,
  for `:rules`), `:vector` (a list of numbers, for `:embedding`) and
  `:tags` (a list).
  """

  alias CouncilEx.{DynamicCouncil, Error, Registry}
  alias CouncilEx.AutoCouncil.Strategies

  @builtin %{
    rules: Strategies.Rules,
    cascade: Strategies.Cascade,
    embedding: Strategies.Embedding,
    llm_classify: Strategies.LLMClassify,
    llm_build: Strategies.LLMBuild
  }

  @entry_keys [:id, :council, :match, :desc, :vector, :tags]
  @text_keys [:question, "question", :prompt, "prompt", :text, "text"]

  @typedoc "A strategy: a built-in name or `{module, opts}`."
  @type strategy ::
          :rules | :cascade | :embedding | :llm_classify | :llm_build | {module(), keyword()}

  @typedoc "A catalog entry, as strategies see it (missing keys are nil, tags [])."
  @type entry :: %{
          id: String.t() | atom() | nil,
          council: module() | DynamicCouncil.t(),
          match: Regex.t() | (String.t() -> boolean()) | nil,
          desc: String.t() | nil,
          vector: [number()] | nil,
          tags: list()
        }

  @typedoc "How the council was chosen; `result.metadata.auto` of the run."
  @type meta :: %{
          strategy: strategy(),
          kind: :catalog | :fallback | :built | atom(),
          catalog_id: String.t() | atom() | nil,
          reason: String.t() | nil,
          latency_ms: non_neg_integer(),
          score: number() | nil
        }

  @typedoc "An AutoCouncil."
  @type t :: %__MODULE__{
          strategy: strategy(),
          catalog: [entry()] | {:registry, :council} | nil,
          on_no_match:
            :error | {:fallback, module() | DynamicCouncil.t() | String.t() | atom()} | nil,
          name: String.t() | nil,
          options: keyword(),
          provider_check: boolean()
        }

  defstruct strategy: :rules,
            catalog: nil,
            on_no_match: :error,
            name: nil,
            options: [],
            provider_check: false

  @doc """
  Builds an AutoCouncil from the fields above, checking them; raises
  `ArgumentError` naming what is wrong.

      iex> auto = CouncilEx.AutoCouncil.new(catalog: [%{id: "a", council: CouncilEx.TestCouncils.Mocked, match: ~r/a/}])
      iex> {auto.strategy, auto.on_no_match, hd(auto.catalog).id}
      {:rules, :error, "a"}
  """
  @spec new(keyword()) :: t()
  def new(opts \\ []) do
    unless Keyword.keyword?(opts),
      do:
        raise(
          ArgumentError,
          "expected AutoCouncil options as a keyword list, got: #{inspect(opts)}"
        )

    known = [:strategy, :catalog, :on_no_match, :name, :options, :provider_check]

    for {key, _} <- opts, key not in known do
      raise ArgumentError,
            "unknown AutoCouncil option #{inspect(key)}; known options: #{inspect(known)}"
    end

    auto = struct(__MODULE__, opts)
    auto = %{auto | catalog: catalog!(auto.catalog)}

    case problems(auto) do
      [] -> auto
      [{_path, message} | _] -> raise ArgumentError, "invalid AutoCouncil: " <> message
    end
  end

  defp catalog!(entries) when is_list(entries) do
    entries
    |> Enum.with_index()
    |> Enum.map(fn {entry, i} ->
      case entry(entry, nil) do
        {:ok, entry} ->
          entry

        {:error, message} ->
          raise ArgumentError, "invalid AutoCouncil: catalog entry #{i}: #{message}"
      end
    end)
  end

  defp catalog!(other), do: other

  # A catalog entry, normalized; `default_id` for registry entries.
  defp entry(%{} = entry, default_id) when not is_struct(entry) do
    entry = Map.new(entry, fn {key, value} -> {entry_key(key), value} end)

    cond do
      (unknown = Map.keys(entry) -- @entry_keys) != [] ->
        {:error, "unknown keys #{inspect(unknown)}; known keys: #{inspect(@entry_keys)}"}

      not council?(entry[:council]) ->
        {:error,
         "expected :council to be a council module or a %CouncilEx.DynamicCouncil{}, got: #{inspect(entry[:council])}"}

      not (is_nil(entry[:match]) or is_struct(entry[:match], Regex) or
               is_function(entry[:match], 1)) ->
        {:error,
         "expected :match to be a Regex or a 1-arity function, got: #{inspect(entry[:match])}"}

      not (is_nil(entry[:id]) or (is_binary(entry[:id]) and entry[:id] != "") or
               (is_atom(entry[:id]) and entry[:id] not in [true, false])) ->
        {:error, "expected :id to be a string or an atom, got: #{inspect(entry[:id])}"}

      not (is_nil(entry[:vector]) or
               (is_list(entry[:vector]) and Enum.all?(entry[:vector], &is_number/1))) ->
        {:error,
         "expected :vector to be a list of numbers, got: #{inspect(entry[:vector], limit: 5)}"}

      not (is_nil(entry[:tags]) or is_list(entry[:tags])) ->
        {:error, "expected :tags to be a list, got: #{inspect(entry[:tags])}"}

      true ->
        {:ok,
         %{
           id: entry[:id] || default_id,
           council: entry[:council],
           match: entry[:match],
           desc: entry[:desc],
           vector: entry[:vector],
           tags: entry[:tags] || []
         }}
    end
  end

  defp entry(other, _default_id),
    do: {:error, "expected a map with a :council key, got: #{inspect(other)}"}

  # Config maps may use string keys; only the known ones become atoms.
  defp entry_key(key) when is_binary(key),
    do: Enum.find(@entry_keys, key, &(Atom.to_string(&1) == key))

  defp entry_key(key), do: key

  defp council?(%DynamicCouncil{}), do: true

  defp council?(module) when is_atom(module) and module not in [nil, true, false],
    do: Code.ensure_loaded?(module) and function_exported?(module, :__council__, 0)

  defp council?(_), do: false

  # Problems with the struct's fields, as {path, message}.
  defp problems(%__MODULE__{} = auto) do
    List.flatten([
      strategy_problems(auto.strategy, ["strategy"]),
      if(auto.strategy == :cascade, do: cascade_problems(auto.options), else: []),
      catalog_problems(auto.catalog),
      fallback_problems(auto.on_no_match),
      if(is_nil(auto.name) or is_binary(auto.name),
        do: [],
        else: [{["name"], "expected :name to be a string, got: #{inspect(auto.name)}"}]
      ),
      if(Keyword.keyword?(auto.options),
        do: [],
        else: [
          {["options"], "expected :options to be a keyword list, got: #{inspect(auto.options)}"}
        ]
      ),
      if(is_boolean(auto.provider_check),
        do: [],
        else: [
          {["provider_check"],
           "expected :provider_check to be a boolean, got: #{inspect(auto.provider_check)}"}
        ]
      )
    ])
  end

  defp strategy_problems(name, _path) when is_map_key(@builtin, name), do: []

  defp strategy_problems({module, opts}, path) when is_atom(module) and is_list(opts) do
    cond do
      not Keyword.keyword?(opts) ->
        [{path, "expected the strategy's options to be a keyword list, got: #{inspect(opts)}"}]

      Code.ensure_loaded?(module) and function_exported?(module, :select, 3) ->
        []

      true ->
        [{path, "#{inspect(module)} is not a CouncilEx.AutoCouncil.Strategy (no select/3)"}]
    end
  end

  defp strategy_problems(other, path),
    do: [
      {path,
       "expected a strategy, one of #{inspect(Map.keys(@builtin) |> Enum.sort())} or {module, opts}, got: #{inspect(other)}"}
    ]

  defp cascade_problems(options) do
    case Keyword.keyword?(options) && options[:strategies] do
      [_ | _] = strategies ->
        for {strategy, i} <- Enum.with_index(strategies),
            problem <- strategy_problems(strategy, ["options", "strategies", i]),
            do: problem

      _ ->
        [
          {["options", "strategies"],
           "a :cascade strategy needs options: [strategies: [...]], a non-empty list of strategies"}
        ]
    end
  end

  defp catalog_problems(nil), do: []
  defp catalog_problems({:registry, :council}), do: []
  defp catalog_problems(entries) when is_list(entries), do: []

  defp catalog_problems(other),
    do: [
      {["catalog"],
       "expected :catalog to be a list of entries, {:registry, :council} or nil, got: #{inspect(other)}"}
    ]

  defp fallback_problems(on_no_match) when on_no_match in [nil, :error], do: []

  defp fallback_problems({:fallback, target}) do
    cond do
      council?(target) ->
        []

      is_binary(target) and target != "" ->
        []

      is_atom(target) and target not in [nil, true, false] ->
        []

      true ->
        [
          {["on_no_match"],
           "expected the fallback to be a council module, a %CouncilEx.DynamicCouncil{} or a catalog id, got: #{inspect(target)}"}
        ]
    end
  end

  defp fallback_problems(other),
    do: [
      {["on_no_match"],
       "expected :on_no_match to be :error, nil or {:fallback, council_or_id}, got: #{inspect(other)}"}
    ]

  ## Resolving

  @doc """
  Chooses the council for `input`: `{:ok, council, meta}` (see
  `t:meta/0`), or `{:error, %CouncilEx.Error{kind: :validation}}` whose
  reason is `:no_match` (nothing fits and `on_no_match` is `:error`),
  `:not_implemented` (a stub strategy), `:strategy_failed` (the strategy
  returned another error, raised, or answered something else),
  `:unknown_fallback` (a fallback id not in the catalog) or
  `:invalid_catalog` (a registry entry that is not a catalog entry).
  """
  @spec resolve(t(), term()) :: {:ok, module() | DynamicCouncil.t(), meta()} | {:error, Error.t()}
  def resolve(%__MODULE__{} = auto, input) do
    started = System.monotonic_time()

    with {:ok, catalog} <- catalog(auto),
         {:ok, council, meta} <- choose(auto, input, catalog) do
      latency = System.convert_time_unit(System.monotonic_time() - started, :native, :millisecond)
      {:ok, council, Map.put(meta, :latency_ms, latency)}
    end
  end

  defp choose(auto, input, catalog) do
    case run_strategy(auto.strategy, input, catalog, auto.options) do
      {:ok, %{council: council} = entry, info} when is_map(info) ->
        if council?(council),
          do:
            {:ok, council,
             meta(auto, Map.get(info, :kind, :catalog), entry[:id], info[:reason], info[:score])},
          else: failed(auto, "picked #{inspect(council, limit: 5)}, which is not a council")

      :no_match ->
        no_match(auto, catalog)

      {:error, :not_implemented} ->
        error(
          :not_implemented,
          "AutoCouncil strategy #{inspect(auto.strategy)} is not implemented in this version",
          auto
        )

      {:error, reason} ->
        failed(auto, "failed: #{inspect(reason, limit: 10)}")

      other ->
        failed(
          auto,
          "answered #{inspect(other, limit: 10)}; expected {:ok, entry, info}, :no_match or {:error, reason}"
        )
    end
  end

  defp no_match(%__MODULE__{on_no_match: {:fallback, target}} = auto, catalog) do
    cond do
      council?(target) ->
        {:ok, target,
         meta(auto, :fallback, nil, "no catalog entry matched; fallback council", nil)}

      entry = Enum.find(catalog, &(&1.id == target)) ->
        {:ok, entry.council,
         meta(
           auto,
           :fallback,
           entry.id,
           "no catalog entry matched; fallback entry #{inspect(target)}",
           nil
         )}

      true ->
        error(
          :unknown_fallback,
          "the fallback #{inspect(target)} is neither a council nor the id of a catalog entry",
          auto
        )
    end
  end

  defp no_match(auto, _catalog),
    do: error(:no_match, "no catalog entry matched the input#{name_suffix(auto)}", auto)

  defp name_suffix(%__MODULE__{name: nil}), do: ""
  defp name_suffix(%__MODULE__{name: name}), do: " (AutoCouncil #{inspect(name)})"

  defp meta(auto, kind, catalog_id, reason, score),
    do: %{
      strategy: auto.strategy,
      kind: kind,
      catalog_id: catalog_id,
      reason: reason,
      score: score
    }

  defp failed(auto, what),
    do: error(:strategy_failed, "AutoCouncil strategy #{inspect(auto.strategy)} #{what}", auto)

  defp error(reason, message, auto) do
    {:error,
     %Error{
       kind: :validation,
       reason: reason,
       message: message,
       context: %{strategy: auto.strategy, name: auto.name}
     }}
  end

  @doc false
  # Runs one strategy; a raise becomes {:error, {:raised, message}}.
  def run_strategy(strategy, input, catalog, opts) do
    {module, strategy_opts} =
      case strategy do
        {module, strategy_opts} -> {module, strategy_opts}
        name -> {Map.fetch!(@builtin, name), opts}
      end

    module.select(input, catalog, strategy_opts)
  rescue
    exception -> {:error, {:raised, Exception.message(exception)}}
  end

  # The entries the strategy sees.
  defp catalog(%__MODULE__{catalog: nil}), do: {:ok, []}

  defp catalog(%__MODULE__{catalog: {:registry, :council}} = auto) do
    Registry.all(:council)
    |> Enum.sort_by(&elem(&1, 0))
    |> Enum.reduce_while({:ok, []}, fn {name, value}, {:ok, acc} ->
      case entry(value, name) do
        {:ok, entry} ->
          {:cont, {:ok, [entry | acc]}}

        {:error, message} ->
          {:halt,
           error(:invalid_catalog, "registered council #{inspect(name)}: #{message}", auto)}
      end
    end)
    |> case do
      {:ok, entries} -> {:ok, auto |> check_providers(Enum.reverse(entries))}
      error -> error
    end
  end

  defp catalog(%__MODULE__{catalog: entries} = auto), do: {:ok, check_providers(auto, entries)}

  defp check_providers(%__MODULE__{provider_check: true}, entries),
    do: Enum.filter(entries, &(CouncilEx.AutoCouncil.Providers.missing(&1.council) == []))

  defp check_providers(_auto, entries), do: entries

  @doc """
  The text of an input that strategies match against: a binary input
  itself; for a map, the first binary under `:question`, `"question"`,
  `:prompt`, `"prompt"`, `:text` or `"text"`; otherwise `nil`.

      iex> CouncilEx.AutoCouncil.text(%{"prompt" => "Audit the sitemap", "lang" => "en"})
      "Audit the sitemap"
      iex> CouncilEx.AutoCouncil.text(42)
      nil
  """
  @spec text(term()) :: String.t() | nil
  def text(input) when is_binary(input), do: input

  def text(%{} = input) when not is_struct(input) do
    Enum.find_value(@text_keys, fn key ->
      case Map.get(input, key) do
        text when is_binary(text) -> text
        _ -> nil
      end
    end)
  end

  def text(_input), do: nil

  ## Validation

  @doc """
  Checks the AutoCouncil and every council it may run (the catalog's,
  registry entries included, and a fallback council), with
  `CouncilEx.validate/2`: `:ok` or `{:error, errors}`, paths starting with
  `"catalog", index` or `"on_no_match"`.
  """
  @spec validate(t()) :: :ok | {:error, [%{path: list(), code: atom(), message: String.t()}]}
  def validate(%__MODULE__{} = auto) do
    errors =
      case problems(auto) do
        [] ->
          council_errors(auto)

        problems ->
          for {path, message} <- problems,
              do: %{path: path, code: :invalid_auto_council, message: message}
      end

    if errors == [], do: :ok, else: {:error, errors}
  end

  defp council_errors(auto) do
    entries =
      case catalog(auto) do
        {:ok, entries} -> entries
        {:error, %Error{message: message}} -> [{:error, message}]
      end

    catalog_errors =
      for {entry, i} <- Enum.with_index(entries),
          error <- entry_errors(entry),
          do: %{error | path: ["catalog", i | error.path]}

    fallback_errors =
      case auto.on_no_match do
        {:fallback, target} ->
          cond do
            council?(target) ->
              prefix(CouncilEx.validate(target), ["on_no_match"])

            Enum.any?(entries, &(is_map(&1) and &1.id == target)) ->
              []

            true ->
              [
                %{
                  path: ["on_no_match"],
                  code: :unknown_fallback,
                  message: "the fallback #{inspect(target)} is not the id of a catalog entry"
                }
              ]
          end

        _ ->
          []
      end

    catalog_errors ++ fallback_errors
  end

  defp entry_errors({:error, message}),
    do: [%{path: [], code: :invalid_catalog, message: message}]

  defp entry_errors(%{council: council}), do: prefix(CouncilEx.validate(council), [])

  defp prefix(:ok, _path), do: []
  defp prefix({:error, errors}, path), do: Enum.map(errors, &%{&1 | path: path ++ &1.path})
end
