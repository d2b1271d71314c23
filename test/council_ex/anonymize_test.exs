defmodule CouncilEx.AnonymizeTest do
  use ExUnit.Case, async: true

  import Bitwise, only: [<<<: 2]

  alias CouncilEx.{Anonymize, Native, RoundResult}

  doctest CouncilEx.Anonymize

  @fixtures Path.expand("../fixtures/llm_council", __DIR__)

  # Bijective base 26, written independently of the C code.
  defp letters(i) when i < 26, do: <<?A + i>>
  defp letters(i), do: letters(div(i, 26) - 1) <> <<?A + rem(i, 26)>>

  describe "label/1" do
    test "agrees with an independent bijective base 26 and with the C parser's numbering" do
      for i <- 0..2000, do: assert(Anonymize.label(i) == letters(i), "label #{i}")
      assert Anonymize.label(26 * 26 + 26 - 1) == "ZZ"
      assert Anonymize.label(18_277) == "ZZZ"
      assert Anonymize.label(18_278) == "AAAA"
      assert Native.ranking_label(0xFFFF_FFFF_FFFF_FFFF) =~ ~r/^[A-Z]{14}$/
      assert_raise FunctionClauseError, fn -> Anonymize.label(-1) end
      assert_raise ArgumentError, fn -> Native.ranking_label(1 <<< 64) end
    end

    test "labels made from it are what the C parser reads back" do
      labels = for i <- 0..800, do: "Response " <> Anonymize.label(i)
      ranked = Enum.shuffle(Enum.to_list(0..800))

      text =
        "FINAL RANKING:\n" <>
          Enum.map_join(Enum.with_index(ranked, 1), "\n", fn {i, k} ->
            "#{k}. #{Enum.at(labels, i)}"
          end)

      assert {:ok, %{order: ^ranked}} = Native.ranking_parse(text, labels, nil)
    end
  end

  describe "relabel/2" do
    test "stable by default: sorted ids get A, B, C" do
      r = Anonymize.relabel(%{"zed" => 3, "amy" => 1, "bob" => 2})

      assert r.labels == ["Response A", "Response B", "Response C"]

      assert r.label_to_id == %{
               "Response A" => "amy",
               "Response B" => "bob",
               "Response C" => "zed"
             }

      assert r.id_to_label == %{
               "amy" => "Response A",
               "bob" => "Response B",
               "zed" => "Response C"
             }

      assert r.labeled == %{"Response A" => 1, "Response B" => 2, "Response C" => 3}
      assert Anonymize.relabel(%{"zed" => 3, "amy" => 1, "bob" => 2}, order: :stable) == r
    end

    test "prefix" do
      r = Anonymize.relabel(%{a: "x", b: "y"}, prefix: "Candidate #")
      assert r.labels == ["Candidate #A", "Candidate #B"]
      assert Anonymize.relabel(%{a: "x"}, prefix: "").labels == ["A"]
      assert_raise ArgumentError, fn -> Anonymize.relabel(%{a: "x"}, prefix: :p) end
    end

    test ":as_given follows a list of pairs or a keyword list" do
      r = Anonymize.relabel([{"c", 1}, {"a", 2}, {"b", 3}], order: :as_given)
      assert r.labels |> Enum.map(&r.label_to_id[&1]) == ["c", "a", "b"]
      assert r.labeled["Response A"] == 1

      r = Anonymize.relabel([z: :first, y: :second], order: :as_given)
      assert r.label_to_id == %{"Response A" => :z, "Response B" => :y}
      # A list without :as_given is still sorted.
      assert Anonymize.relabel(z: 1, y: 2).label_to_id == %{
               "Response A" => :y,
               "Response B" => :z
             }
    end

    test ":shuffle is a permutation, reproducible with a seed" do
      inputs = Map.new(1..30, &{"m#{&1}", &1})
      a = Anonymize.relabel(inputs, order: :shuffle, seed: 11)

      assert a == Anonymize.relabel(inputs, order: :shuffle, seed: 11)
      assert a.labels == for(i <- 0..29, do: "Response " <> Anonymize.label(i))

      assert a.labels |> Enum.map(&a.label_to_id[&1]) |> Enum.sort() ==
               Enum.sort(Map.keys(inputs))

      assert Enum.all?(a.labeled, fn {l, content} -> inputs[a.label_to_id[l]] == content end)
      assert "Response AD" in a.labels

      b = Anonymize.relabel(inputs, order: :shuffle, seed: 12)
      assert a.label_to_id != b.label_to_id
      refute Enum.map(a.labels, &a.label_to_id[&1]) == Enum.sort(Map.keys(inputs))
      # Input order does not matter, only the seed.
      assert Anonymize.relabel(Enum.reverse(Map.to_list(inputs)), order: :shuffle, seed: 11) == a
      # Without a seed: still a permutation.
      c = Anonymize.relabel(inputs, order: :shuffle)
      assert c.label_to_id |> Map.values() |> Enum.sort() == Enum.sort(Map.keys(inputs))
    end

    test "an order function gets the sorted ids and must return them reordered" do
      r = Anonymize.relabel(%{a: 1, b: 2, c: 3}, order: &Enum.reverse/1)
      assert r.label_to_id == %{"Response A" => :c, "Response B" => :b, "Response C" => :a}

      assert_raise ArgumentError, ~r/reordered/, fn ->
        Anonymize.relabel(%{a: 1, b: 2}, order: fn [a, _] -> [a, a] end)
      end

      assert_raise ArgumentError, ~r/reordered/, fn ->
        Anonymize.relabel(%{a: 1}, order: fn _ -> :a end)
      end
    end

    test "bad inputs raise" do
      assert_raise ArgumentError, ~r/unique/, fn -> Anonymize.relabel([{"a", 1}, {"a", 2}]) end
      assert_raise ArgumentError, ~r/pairs/, fn -> Anonymize.relabel([:a]) end
      assert_raise ArgumentError, ~r/order/, fn -> Anonymize.relabel(%{a: 1}, order: :random) end

      assert_raise ArgumentError, ~r/seed/, fn ->
        Anonymize.relabel(%{a: 1}, order: :shuffle, seed: "x")
      end
    end

    test "empty inputs" do
      assert Anonymize.relabel(%{}) == %{
               labeled: %{},
               label_to_id: %{},
               id_to_label: %{},
               labels: []
             }
    end
  end

  describe "restore/2 and restore_list/2" do
    setup do
      %{r: Anonymize.relabel(%{m1: "a", m2: "b", m3: "c"})}
    end

    test "from relabel's result, a label_to_id map, a RoundResult or an aggregated raw", %{r: r} do
      round = %RoundResult{
        name: :anonymized_peer_review,
        idx: 1,
        metadata: %{label_to_id: r.label_to_id}
      }

      raw = %{avg_position: %{}, label_to_id: r.label_to_id}

      for source <- [r, r.label_to_id, round, raw] do
        assert Anonymize.restore(source, "Response B") == :m2
        assert Anonymize.restore(source, "Response Q") == nil
        assert Anonymize.restore(source, "response b") == nil
      end

      assert_raise ArgumentError, fn -> Anonymize.restore(%RoundResult{}, "Response A") end
    end

    test "restore_list translates an ordering and drops unknown labels", %{r: r} do
      assert Anonymize.restore_list(r, ["Response C", "Response X", "Response A", "B"]) == [
               :m3,
               :m1
             ]

      assert Anonymize.restore_list(r.label_to_id, []) == []
      assert Anonymize.restore_list(r, ["Response A", "Response A"]) == [:m1, :m1]
    end
  end

  describe "per_judge/2" do
    @ids [:m1, :m2, :m3, :m4, :m5, :m6]

    test "each judge sees every other id once, never its own" do
      maps = Anonymize.per_judge(@ids, seed: 2024)
      assert Map.keys(maps) |> Enum.sort() == @ids

      for {judge, m} <- maps do
        others = List.delete(@ids, judge)
        assert m.labels == for(i <- 0..4, do: "Response " <> Anonymize.label(i))
        assert m.label_to_id |> Map.values() |> Enum.sort() == others
        assert Map.keys(m.id_to_label) |> Enum.sort() == others
        refute Map.has_key?(m.id_to_label, judge)
        assert Enum.all?(m.label_to_id, fn {l, id} -> m.id_to_label[id] == l end)
      end
    end

    test "shuffles differ between judges and are reproducible with a seed" do
      maps = Anonymize.per_judge(@ids, seed: 2024)
      assert maps == Anonymize.per_judge(@ids, seed: 2024)
      # The order in which ids come in does not matter.
      assert maps == Anonymize.per_judge(Enum.reverse(@ids), seed: 2024)

      # Two judges' views of the ids both see: one shared shuffle would put
      # them in the same relative order for every pair of judges.
      seen = fn m -> Enum.map(m.labels, &m.label_to_id[&1]) end

      disagreeing =
        for {j1, m1} <- maps, {j2, m2} <- maps, j1 < j2 do
          common = @ids -- [j1, j2]
          Enum.filter(seen.(m1), &(&1 in common)) != Enum.filter(seen.(m2), &(&1 in common))
        end

      assert Enum.count(disagreeing, & &1) > length(disagreeing) / 2

      other = Anonymize.per_judge(@ids, seed: 2025)
      assert other != maps

      # Who sits at "Response A" varies across judges.
      firsts = for {_, m} <- maps, do: m.label_to_id["Response A"]
      assert length(Enum.uniq(firsts)) > 1
    end

    test "options: include_self, judges, stable order, prefix, map input" do
      maps = Anonymize.per_judge(@ids, seed: 1, include_self: true)
      assert Enum.all?(maps, fn {_, m} -> length(m.labels) == 6 end)

      maps =
        Anonymize.per_judge(%{a: 1, b: 2, c: 3}, judges: [:a, :chair], order: :stable, prefix: "R")

      assert Map.keys(maps) |> Enum.sort() == [:a, :chair]
      assert maps.a.label_to_id == %{"RA" => :b, "RB" => :c}
      assert maps.chair.label_to_id == %{"RA" => :a, "RB" => :b, "RC" => :c}

      assert Anonymize.per_judge([:solo]) == %{
               solo: %{labels: [], label_to_id: %{}, id_to_label: %{}}
             }

      assert_raise ArgumentError, fn -> Anonymize.per_judge(@ids, order: :as_given) end
      assert_raise ArgumentError, fn -> Anonymize.per_judge([:a, :a]) end
      assert_raise ArgumentError, fn -> Anonymize.per_judge(@ids, seed: 1.5) end
    end

    test "without a seed every judge still gets a permutation of the others" do
      maps = Anonymize.per_judge(@ids)

      for {judge, m} <- maps,
          do: assert(m.label_to_id |> Map.values() |> Enum.sort() == List.delete(@ids, judge))
    end
  end

  describe "parse_ranking/3" do
    test "FINAL RANKING with markdown, in labels and in ids" do
      r = Anonymize.relabel(Map.new(0..27, &{:"m#{&1}", &1}), order: &sort_numeric/1)
      text = File.read!(Path.join(@fixtures, "markdown_reply.txt"))

      expected = ["Response A", "Response B", "Response AB"]
      assert {:ok, ranking} = Anonymize.parse_ranking(text, r, expected: expected)
      assert ranking.labels == ["Response B", "Response A", "Response AB"]
      assert ranking.ids == [:m1, :m0, :m27]
      assert ranking.source == :list
      assert ranking.missing == []
      assert %{duplicates: 0, unknown: 0, unexpected: 0} = ranking

      assert {:error, :incomplete, partial} = Anonymize.parse_ranking(text, r)
      assert partial.labels == ["Response B", "Response A", "Response AB"]
      assert length(partial.missing) == 25
      assert "Response C" in partial.missing
    end

    test "a list of labels gives no ids; JSON is read when there is no list" do
      labels = ["Response A", "Response B"]

      assert {:ok, %{labels: ["Response B", "Response A"], ids: nil, source: :json}} =
               Anonymize.parse_ranking(
                 ~s(```json\n{"ranking": ["Response B", "Response A"]}\n```),
                 labels
               )

      assert {:error, :unparseable, %{labels: [], ids: nil, source: :none}} =
               Anonymize.parse_ranking("I liked Response B, then Response A.", labels)

      assert {:error, :bad_labels, _} =
               Anonymize.parse_ranking("x", labels, expected: ["Response Z"])

      assert {:error, :invalid_utf8, _} = Anonymize.parse_ranking(<<0xC3>>, labels)
      assert_raise ArgumentError, fn -> Anonymize.parse_ranking("x", [:a]) end
    end

    test "the judge's own label can be left out of what it must rank" do
      maps = Anonymize.per_judge([:m1, :m2, :m3], order: :stable)
      m = maps.m2
      text = "FINAL RANKING:\n1. Response B\n2. Response A"
      assert {:ok, %{ids: [:m3, :m1]}} = Anonymize.parse_ranking(text, m, expected: m.labels)
    end
  end

  defp sort_numeric(ids),
    do:
      Enum.sort_by(
        ids,
        &(&1 |> Atom.to_string() |> String.trim_leading("m") |> String.to_integer())
      )
end
