defmodule CouncilEx.Anonymize do
  @moduledoc """
  Anonymous labels for answers judged by peers: `"Response A"`,
  `"Response B"`, ... in place of member ids, and the way back.

      iex> r = CouncilEx.Anonymize.relabel(%{gpt: "Paris.", claude: "It is Paris."})
      iex> r.label_to_id
      %{"Response A" => :claude, "Response B" => :gpt}
      iex> r.labeled["Response B"]
      "Paris."
      iex> CouncilEx.Anonymize.restore(r, "Response A")
      :claude
      iex> CouncilEx.Anonymize.restore_list(r, ["Response B", "Response Z", "Response A"])
      [:gpt, :claude]

  Labels follow the alphabet A..Z, then AA, AB, ... (`label/1`), the same
  sequence the C ranking parser reads. Ids are atoms or strings.

  ## Position bias

  Judges favour answers by where they appear, so one label order shared by
  every judge carries the same bias into every ballot. `per_judge/2` gives
  every judge its own shuffled order (seeded, so a run can be replayed),
  with the judge's own answer left out.
  """

  import Bitwise, only: [<<<: 2]

  alias CouncilEx.Native

  @typedoc "A member id."
  @type id :: atom() | String.t()

  @typedoc "A label, such as `\"Response A\"`."
  @type label :: String.t()

  @typedoc "How labels are ordered over the ids."
  @type order :: :stable | :shuffle | :as_given | ([id()] -> [id()])

  @typedoc "What `relabel/2` returns; `labels` lists the labels in order."
  @type relabeled :: %{
          labeled: %{label() => term()},
          label_to_id: %{label() => id()},
          id_to_label: %{id() => label()},
          labels: [label()]
        }

  @default_prefix "Response "

  @doc """
  Labels the inputs, `%{id => content}` or a list of `{id, content}`
  pairs.

  Options:

    * `:order` - which id gets "A", "B", ...: `:stable` (default; ids
      sorted), `:shuffle` (random; reproducible with `:seed`), `:as_given`
      (the order of a list of pairs; a map's own iteration order, which is
      sorted only up to 32 keys), or a function that receives the sorted
      ids and returns them reordered.
    * `:prefix` - the text before the letter; default `"Response "`.
    * `:seed` - an integer seed for `:shuffle`.

  Raises `ArgumentError` on a repeated id, an unknown option value, or an
  order function that does not return a permutation of the ids.

      iex> r = CouncilEx.Anonymize.relabel([b: "x", a: "y"], order: :as_given, prefix: "Answer ")
      iex> {r.labels, r.id_to_label}
      {["Answer A", "Answer B"], %{a: "Answer B", b: "Answer A"}}
  """
  @spec relabel(%{id() => term()} | [{id(), term()}], keyword()) :: relabeled()
  def relabel(inputs, opts \\ []) do
    pairs = pairs!(inputs)
    prefix = prefix!(opts)
    contents = Map.new(pairs)

    ids =
      order_ids!(Enum.map(pairs, &elem(&1, 0)), Keyword.get(opts, :order, :stable), opts[:seed])

    labels = for {_, i} <- Enum.with_index(ids), do: prefix <> label(i)

    %{
      labeled: Map.new(Enum.zip(labels, ids), fn {l, id} -> {l, Map.fetch!(contents, id)} end),
      label_to_id: Map.new(Enum.zip(labels, ids)),
      id_to_label: Map.new(Enum.zip(ids, labels)),
      labels: labels
    }
  end

  @doc """
  One label map per judge: judge `j` sees every id but its own, in its
  own shuffled order, labelled A, B, ... So no two judges need share a
  position bias, and no judge is shown its own answer.

  `ids` is a list of ids (or a map, whose keys are used). Options:

    * `:judges` - the judges (default: `ids`). A judge that is not among
      `ids` sees every id.
    * `:include_self` - keep each judge's own id too (default `false`).
    * `:order` - `:shuffle` (default) or `:stable` (sorted ids for every
      judge; only the own slot differs).
    * `:seed` - an integer; each judge's shuffle is seeded from it and the
      judge's id, so the same seed gives the same maps.
    * `:prefix` - as in `relabel/2`.

  Returns `%{judge => %{labels: [label], label_to_id: map, id_to_label:
  map}}`.

      iex> maps = CouncilEx.Anonymize.per_judge([:a, :b, :c], order: :stable)
      iex> maps.b.label_to_id
      %{"Response A" => :a, "Response B" => :c}
  """
  @spec per_judge([id()] | %{id() => term()}, keyword()) :: %{
          id() => %{
            labels: [label()],
            label_to_id: %{label() => id()},
            id_to_label: %{id() => label()}
          }
        }
  def per_judge(ids, opts \\ [])

  def per_judge(ids, opts) when is_map(ids), do: per_judge(Map.keys(ids), opts)

  def per_judge(ids, opts) when is_list(ids) do
    ids = unique_ids!(ids)
    judges = unique_ids!(Keyword.get(opts, :judges, ids))
    include_self = Keyword.get(opts, :include_self, false)
    seed = seed!(opts[:seed])

    order =
      case Keyword.get(opts, :order, :shuffle) do
        o when o in [:shuffle, :stable] ->
          o

        other ->
          raise ArgumentError,
                "per_judge order must be :shuffle or :stable, got: #{inspect(other)}"
      end

    # Without a seed, one random base seed for all judges, each still
    # shuffled on its own.
    seed = seed || :rand.uniform(1 <<< 62)

    Map.new(judges, fn judge ->
      seen = if include_self, do: ids, else: List.delete(ids, judge)
      judge_seed = {seed, :erlang.phash2(judge, 1 <<< 32), 0x5EED}

      r =
        relabel(Enum.map(seen, &{&1, nil}), prefix: prefix!(opts), order: order, seed: judge_seed)

      {judge, Map.take(r, [:labels, :label_to_id, :id_to_label])}
    end)
  end

  @doc """
  The id behind `label`, or `nil`. `source` is what `relabel/2` returned, a
  map or struct holding `:label_to_id` (an aggregated result's `raw`), a
  `RoundResult` whose `metadata` holds it, or the `label_to_id` map itself.
  """
  @spec restore(map(), label()) :: id() | nil
  def restore(source, label), do: Map.get(label_map(source), label)

  @doc """
  Translates a list of labels (an ordering) to ids, dropping labels that
  are not in the map. `source` is as in `restore/2`.
  """
  @spec restore_list(map(), [label()]) :: [id()]
  def restore_list(source, labels) when is_list(labels) do
    map = label_map(source)
    for l <- labels, Map.has_key?(map, l), do: Map.fetch!(map, l)
  end

  @doc """
  The letters for a 0-based index: `"A"`..`"Z"`, then `"AA"`, `"AB"`, ...
  (bijective base 26), as the C ranking parser numbers labels.

      iex> Enum.map([0, 25, 26, 27, 701, 702], &CouncilEx.Anonymize.label/1)
      ["A", "Z", "AA", "AB", "ZZ", "AAA"]
  """
  @spec label(non_neg_integer()) :: String.t()
  def label(index) when is_integer(index) and index >= 0, do: Native.ranking_label(index)

  @doc """
  Reads a judge's ranking out of its reply, in the `FINAL RANKING:` format
  llm-council asks for (a numbered list of labels under the header; case,
  markdown, and `1)` numbering tolerated), or as JSON (`{"ranking":
  [labels]}` or `[labels]`, fenced or bare). The last header with a list
  wins; a label matches whole (`"Response AB"` is never `"Response A"`);
  repeats keep their first place; the order of mentions in prose is never
  used.

  `source` is a list of labels, or anything `restore/2` takes (its labels
  are used, and the ranking is also given in ids). Options:
  `:expected` - the labels the judge had to rank (default: all); others
  are dropped and counted as `unexpected`.

  Returns `{:ok, ranking}` when every expected label was ranked, else
  `{:error, reason, ranking}` with what could be read: `reason` is
  `:incomplete` (labels missing; `ranking.missing` lists them),
  `:unparseable`, `:invalid_utf8` or `:bad_labels`. `ranking` holds
  `labels` (best first), `ids` (when `source` maps labels to ids, else
  `nil`), `missing`, `source` (`:list`, `:json` or `:none`), and the
  counts `duplicates`, `unknown` (list items naming no label) and
  `unexpected`.

      iex> text = "A is thin.\\n\\n**FINAL RANKING:**\\n1. **Response B**\\n2) `Response A`"
      iex> {:ok, ranking} = CouncilEx.Anonymize.parse_ranking(text, %{"Response A" => :m1, "Response B" => :m2})
      iex> {ranking.labels, ranking.ids, ranking.source}
      {["Response B", "Response A"], [:m2, :m1], :list}
  """
  @spec parse_ranking(binary(), [label()] | map(), keyword()) ::
          {:ok, map()} | {:error, atom(), map()}
  def parse_ranking(text, source, opts \\ []) when is_binary(text) do
    {labels, map} =
      case source do
        list when is_list(list) -> {list, nil}
        other -> label_map(other) |> then(&{&1 |> Map.keys() |> Enum.sort(), &1})
      end

    unless Enum.all?(labels, &is_binary/1),
      do: raise(ArgumentError, "labels must be strings, got: #{inspect(labels)}")

    index = labels |> Enum.with_index() |> Map.new()

    expected =
      case Keyword.get(opts, :expected) do
        nil -> nil
        # A label not among the labels cannot be ranked: the parser refuses it.
        list when is_list(list) -> Enum.map(list, &Map.get(index, &1, length(labels)))
      end

    tuple = List.to_tuple(labels)
    to_labels = fn indices -> Enum.map(indices, &elem(tuple, &1)) end

    shape = fn r ->
      ranked = to_labels.(r.order)

      r
      |> Map.drop([:order])
      |> Map.merge(%{
        labels: ranked,
        ids: map && Enum.map(ranked, &Map.fetch!(map, &1)),
        missing: to_labels.(r.missing)
      })
    end

    case Native.ranking_parse(text, labels, expected) do
      {:ok, r} -> {:ok, shape.(r)}
      {:error, reason, r} -> {:error, reason, shape.(r)}
    end
  end

  ## Helpers

  defp label_map(%{label_to_id: map}) when is_map(map), do: map
  defp label_map(%{metadata: %{label_to_id: map}}) when is_map(map), do: map

  defp label_map(%{__struct__: _} = struct),
    do: raise(ArgumentError, "no label_to_id in #{inspect(struct)}")

  defp label_map(map) when is_map(map), do: map

  defp pairs!(inputs) when is_map(inputs), do: Map.to_list(inputs)

  defp pairs!(inputs) when is_list(inputs) do
    unless Enum.all?(inputs, &match?({_, _}, &1)),
      do: raise(ArgumentError, "inputs must be a map or a list of {id, content} pairs")

    unique_ids!(Enum.map(inputs, &elem(&1, 0)))
    inputs
  end

  defp unique_ids!(ids) when is_list(ids) do
    if length(Enum.uniq(ids)) != length(ids),
      do: raise(ArgumentError, "ids must be unique, got: #{inspect(ids)}")

    ids
  end

  defp prefix!(opts) do
    case Keyword.get(opts, :prefix, @default_prefix) do
      p when is_binary(p) -> p
      other -> raise ArgumentError, "prefix must be a string, got: #{inspect(other)}"
    end
  end

  defp seed!(nil), do: nil
  defp seed!(seed) when is_integer(seed), do: seed
  defp seed!(other), do: raise(ArgumentError, "seed must be an integer, got: #{inspect(other)}")

  defp order_ids!(ids, :as_given, _seed), do: ids
  defp order_ids!(ids, :stable, _seed), do: Enum.sort(ids)
  defp order_ids!(ids, :shuffle, seed), do: shuffle(Enum.sort(ids), seed)

  defp order_ids!(ids, fun, _seed) when is_function(fun, 1) do
    sorted = Enum.sort(ids)
    ordered = fun.(sorted)

    unless is_list(ordered) and Enum.sort(ordered) == sorted,
      do:
        raise(
          ArgumentError,
          "the order function must return the ids reordered, got: #{inspect(ordered)}"
        )

    ordered
  end

  defp order_ids!(_ids, other, _seed),
    do:
      raise(
        ArgumentError,
        "order must be :stable, :shuffle, :as_given or a function, got: #{inspect(other)}"
      )

  # Seeded from an integer or a 3-tuple of integers; random without one.
  defp shuffle(ids, seed) do
    state =
      case seed do
        nil -> :rand.seed_s(:exsss)
        {_, _, _} = t -> :rand.seed_s(:exsss, t)
        s when is_integer(s) -> :rand.seed_s(:exsss, s)
        other -> raise ArgumentError, "seed must be an integer, got: #{inspect(other)}"
      end

    {keyed, _} =
      Enum.map_reduce(ids, state, fn id, st ->
        {x, st} = :rand.uniform_s(st)
        {{x, id}, st}
      end)

    keyed |> Enum.sort() |> Enum.map(&elem(&1, 1))
  end
end
