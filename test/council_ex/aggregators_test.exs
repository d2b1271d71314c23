defmodule CouncilEx.AggregatorsTest do
  use ExUnit.Case, async: true

  import Bitwise, only: [<<<: 2]

  alias CouncilEx.{Aggregator, Anonymize, Native}

  alias CouncilEx.Aggregators.{
    Borda,
    Condorcet,
    ConfidenceMedian,
    PeerRanking,
    Plurality,
    WeightedMean
  }

  doctest CouncilEx.Aggregator
  doctest CouncilEx.Aggregators.Plurality
  doctest CouncilEx.Aggregators.WeightedMean
  doctest CouncilEx.Aggregators.ConfidenceMedian
  doctest CouncilEx.Aggregators.Borda
  doctest CouncilEx.Aggregators.Condorcet
  doctest CouncilEx.Aggregators.PeerRanking

  @fixtures Path.expand("../fixtures/llm_council", __DIR__)
  @abc ["Response A", "Response B", "Response C"]
  @label_to_id %{"Response A" => :m1, "Response B" => :m2, "Response C" => :m3}

  defmodule VoteStruct do
    defstruct [:choice, :confidence, :rationale]
  end

  defmodule Unanimous do
    @behaviour CouncilEx.Aggregator
    @impl true
    def aggregate(outputs, _opts) do
      case outputs |> Map.values() |> Enum.map(& &1[:choice]) |> Enum.uniq() do
        [one] -> {:ok, %{winner: one, scores: %{one => map_size(outputs)}, raw: %{}}}
        _ -> {:ok, %{winner: nil, scores: %{}, raw: %{}}}
      end
    end
  end

  defmodule BadReturn do
    def aggregate(_outputs, _opts), do: :oops
  end

  defmodule Raises do
    def aggregate(_outputs, _opts), do: raise("boom")
  end

  defp votes(pairs), do: Map.new(pairs, fn {m, c} -> {m, %{choice: c}} end)
  defp orderings(pairs), do: Map.new(pairs, fn {m, o} -> {m, %{ordering: o}} end)
  defp round2(map), do: Map.new(map, fn {k, v} -> {k, v && Float.round(v, 2)} end)

  describe "Plurality" do
    test "counts choices under atom or string keys, from maps and structs" do
      outputs = %{
        a: %{choice: "x"},
        b: %{"choice" => "y", "confidence" => 0.9},
        c: %VoteStruct{choice: "x", rationale: "because"},
        d: %{"choice" => "y"},
        e: %{choice: "x"}
      }

      assert {:ok, %{winner: "x", scores: %{"x" => 3, "y" => 2}, raw: raw}} =
               Plurality.aggregate(outputs, [])

      assert raw.votes == %{"x" => 3, "y" => 2}
      assert raw.order == ["x", "y"]
      assert raw.counted == 5
      assert raw.rejected == %{}
      refute raw.tie
      assert raw.tied == []
    end

    test "a tie goes to the alphabetically first candidate by default" do
      outputs = votes(a: "zeta", b: "alpha", c: "mid", d: "mid", e: "alpha", f: "zeta")

      assert {:ok, %{winner: "alpha", raw: raw}} = Plurality.aggregate(outputs, [])
      assert raw.tie
      assert raw.tied == ["alpha", "mid", "zeta"]
      assert {:ok, %{winner: "alpha"}} = Plurality.aggregate(outputs, tie_break: :first)
    end

    test "tie_break: :random is reproducible with a seed and picks among the tied" do
      outputs = votes(a: "x", b: "y", c: "z", d: "w", e: "w")
      outputs = Map.merge(outputs, votes(f: "x", g: "y"))

      winners =
        for seed <- 1..60 do
          {:ok, %{winner: w}} = Plurality.aggregate(outputs, tie_break: :random, seed: seed)

          assert {:ok, %{winner: ^w}} =
                   Plurality.aggregate(outputs, tie_break: :random, seed: seed)

          w
        end

      assert winners |> Enum.uniq() |> Enum.sort() == ["w", "x", "y"]
      # Seeds beyond 64 bits and negative seeds are folded, not refused.
      assert {:ok, %{winner: w}} = Plurality.aggregate(outputs, tie_break: :random, seed: -5)
      assert w in ["w", "x", "y"]

      assert {:ok, %{winner: w}} =
               Plurality.aggregate(outputs, tie_break: :random, seed: 1 <<< 80)

      assert w in ["w", "x", "y"]
      # Without a seed: still one of the tied.
      assert {:ok, %{winner: w}} = Plurality.aggregate(outputs, tie_break: :random)
      assert w in ["w", "x", "y"]
    end

    test "a tie_break function gets the tied candidates, ascending, and picks" do
      outputs = votes(a: "b", b: "a", c: "c", d: "b", e: "a")
      parent = self()

      fun = fn tied ->
        send(parent, {:tied, tied})
        List.last(tied)
      end

      assert {:ok, %{winner: "b", raw: %{tie: true, tied: ["a", "b"]}}} =
               Plurality.aggregate(outputs, tie_break: fun)

      assert_received {:tied, ["a", "b"]}

      assert {:ok, %{winner: nil}} = Plurality.aggregate(outputs, tie_break: fn _ -> nil end)

      assert {:error, {:invalid_tie_break, "c", ["a", "b"]}} =
               Plurality.aggregate(outputs, tie_break: fn _ -> "c" end)

      # Not called without a tie.
      assert {:ok, %{winner: "a"}} =
               Plurality.aggregate(votes(a: "a", b: "a", c: "b"),
                 tie_break: fn _ -> flunk("called") end
               )
    end

    test ":candidates: strings name atom candidates, others are rejected, unnamed ones cannot win" do
      outputs = %{
        m1: %{"choice" => "gpt"},
        m2: %{choice: :claude},
        m3: %{choice: "gpt"},
        m4: %{choice: "llama"}
      }

      assert {:ok, result} = Plurality.aggregate(outputs, candidates: [:gpt, :claude, :gemini])
      assert result.winner == :gpt
      assert result.scores == %{gpt: 2, claude: 1, gemini: 0}
      assert result.raw.rejected == %{m4: :unknown_candidate}
      assert result.raw.order == [:gpt, :claude, :gemini]

      # Nobody named: no winner, even though a candidate exists.
      assert {:ok, %{winner: nil, scores: %{gemini: 0}}} =
               Plurality.aggregate(%{m1: %{choice: "x"}}, candidates: [:gemini])
    end

    test "empty and malformed outputs are reported, never raised" do
      assert {:ok, %{winner: nil, scores: scores, raw: raw}} = Plurality.aggregate(%{}, [])
      assert scores == %{}
      assert raw.counted == 0

      outputs = %{
        a: "just text",
        b: %{},
        c: %{choice: ""},
        d: %{choice: %{"nested" => 1}},
        e: %{choice: [1]},
        f: nil,
        g: %{choice: "ok"},
        h: %{choice: {:tuple}}
      }

      assert {:ok, %{winner: "ok", raw: raw}} = Plurality.aggregate(outputs, [])
      assert raw.counted == 1

      assert raw.rejected == %{
               a: :not_a_map,
               b: :missing_choice,
               c: :missing_choice,
               d: :invalid_choice,
               e: :invalid_choice,
               f: :not_a_map,
               h: :invalid_choice
             }

      assert {:ok, %{winner: nil, raw: %{counted: 0}}} =
               Plurality.aggregate(%{a: 1, b: %{choice: nil}}, [])
    end

    test "bad options are errors" do
      outputs = votes(a: "x")

      assert {:error, {:invalid_option, :tie_break, :last}} =
               Plurality.aggregate(outputs, tie_break: :last)

      assert {:error, {:invalid_option, :seed, "1"}} =
               Plurality.aggregate(outputs, tie_break: :random, seed: "1")

      assert {:error, {:invalid_option, :candidates, :x}} =
               Plurality.aggregate(outputs, candidates: :x)

      assert {:error, {:invalid_option, :candidates, [%{}]}} =
               Plurality.aggregate(outputs, candidates: [%{}])

      assert {:error, {:invalid_options, %{}}} = Plurality.aggregate(outputs, %{})
      assert {:error, {:invalid_outputs, [a: 1]}} = Plurality.aggregate([a: 1], [])
    end

    test "300 members" do
      options = for i <- 1..7, do: "option #{i}"

      outputs =
        Map.new(1..300, fn i -> {"member-#{i}", %{choice: Enum.at(options, rem(i * i, 7))}} end)

      expected = outputs |> Map.values() |> Enum.frequencies_by(& &1.choice)

      top = expected |> Map.values() |> Enum.max()

      assert {:ok, result} = Plurality.aggregate(outputs, [])
      assert result.scores == expected

      assert result.winner ==
               expected
               |> Enum.filter(&(elem(&1, 1) == top))
               |> Enum.map(&elem(&1, 0))
               |> Enum.min()

      assert result.raw.counted == 300
    end
  end

  describe "WeightedMean" do
    test "sums confidences; the mean is in raw" do
      outputs = %{
        a: %{choice: "x", confidence: 0.9},
        b: %{choice: "y", confidence: 0.5},
        c: %{choice: "y", confidence: 0.3},
        d: %{"choice" => "x", "confidence" => 1},
        e: %{choice: "z", confidence: 0}
      }

      assert {:ok, %{winner: "x", scores: scores, raw: raw}} = WeightedMean.aggregate(outputs, [])
      assert round2(scores) == %{"x" => 1.9, "y" => 0.8, "z" => 0.0}
      assert round2(raw.mean_confidence) == %{"x" => 0.95, "y" => 0.4, "z" => 0.0}
      assert raw.votes == %{"x" => 2, "y" => 2, "z" => 1}
    end

    test "confidences outside 0..1, non-numbers and missing ones are rejected" do
      outputs = %{
        a: %{choice: "x", confidence: 7},
        b: %{choice: "x", confidence: "high"},
        c: %{choice: "x"},
        d: %{choice: "y", confidence: -0.1},
        e: %{choice: "y", confidence: 0.2}
      }

      assert {:ok, %{winner: "y", raw: raw}} = WeightedMean.aggregate(outputs, [])

      assert raw.rejected == %{
               a: :bad_confidence,
               b: :bad_confidence,
               c: :missing_confidence,
               d: :bad_confidence
             }

      assert raw.counted == 1
      assert raw.mean_confidence == %{"x" => nil, "y" => 0.2}
    end

    test "default_confidence values votes without one" do
      outputs = %{a: %{choice: "x"}, b: %{choice: "x"}, c: %{choice: "y", confidence: 0.9}}

      assert {:ok, %{winner: "x", scores: %{"x" => 1.0}}} =
               WeightedMean.aggregate(outputs, default_confidence: 0.5)

      assert {:ok, %{winner: "y"}} = WeightedMean.aggregate(outputs, default_confidence: 0.4)

      assert {:error, {:invalid_option, :default_confidence, 2}} =
               WeightedMean.aggregate(outputs, default_confidence: 2)
    end

    test "ties follow tie_break" do
      outputs = %{a: %{choice: "y", confidence: 0.5}, b: %{choice: "x", confidence: 0.5}}
      assert {:ok, %{winner: "x", raw: %{tie: true}}} = WeightedMean.aggregate(outputs, [])
      assert {:ok, %{winner: "y"}} = WeightedMean.aggregate(outputs, tie_break: &List.last/1)
    end
  end

  describe "ConfidenceMedian" do
    test "the median per candidate, the mean of the middle two for an even count" do
      outputs = %{
        a: %{choice: "x", confidence: 0.2},
        b: %{choice: "x", confidence: 0.9},
        c: %{choice: "x", confidence: 0.6},
        d: %{choice: "x", confidence: 0.7},
        e: %{choice: "y", confidence: 0.5},
        f: %{choice: "y", confidence: 1.0}
      }

      assert {:ok, %{winner: "y", scores: scores}} = ConfidenceMedian.aggregate(outputs, [])
      assert round2(scores) == %{"x" => 0.65, "y" => 0.75}
    end

    test "a candidate without voters scores nil; outliers move it little" do
      outputs = %{
        a: %{choice: "x", confidence: 0.6},
        b: %{choice: "x", confidence: 0.6},
        c: %{choice: "y", confidence: 0.55},
        d: %{choice: "y", confidence: 0.55},
        e: %{choice: "y", confidence: 1.0}
      }

      assert {:ok, %{winner: "x", scores: scores}} =
               ConfidenceMedian.aggregate(outputs, candidates: ["x", "y", "z"])

      assert scores == %{"x" => 0.6, "y" => 0.55, "z" => nil}
      # A weighted mean would pick y.
      assert {:ok, %{winner: "y"}} = WeightedMean.aggregate(outputs, [])
    end
  end

  describe "Borda" do
    test "position k of N earns N - k; partial orderings give the rest 0" do
      outputs = orderings(a: ["x", "y", "z", "w"], b: ["y", "x"], c: ["z", "y", "x", "w"])

      assert {:ok, %{winner: "y", scores: scores, raw: raw}} = Borda.aggregate(outputs, [])
      assert scores == %{"w" => 0.0, "x" => 6.0, "y" => 7.0, "z" => 4.0}
      assert raw.votes == %{"w" => 2, "x" => 3, "y" => 3, "z" => 2}
      assert raw.order == ["y", "x", "z", "w"]
    end

    test "repeated, empty, missing and unknown orderings are rejected whole" do
      outputs = %{
        a: %{ordering: ["x", "y", "x"]},
        b: %{ordering: []},
        c: %{},
        d: %{ordering: "x, y"},
        e: %{ordering: ["x", nil]},
        f: %{ordering: ["q"]},
        g: %{"ordering" => ["y", "x"]},
        h: %{ordering: [:x | :improper]}
      }

      assert {:ok, %{winner: "y", raw: raw}} = Borda.aggregate(outputs, candidates: ["x", "y"])

      assert raw.rejected == %{
               a: :duplicate,
               b: :empty,
               c: :missing_ordering,
               d: :invalid_ordering,
               e: :invalid_ordering,
               f: :unknown_candidate,
               h: :invalid_ordering
             }

      assert raw.counted == 1
    end

    test "ties: first, seeded random, function" do
      outputs = orderings(a: [:p, :q], b: [:q, :p])

      assert {:ok, %{winner: :p, raw: %{tie: true, tied: [:p, :q]}}} =
               Borda.aggregate(outputs, [])

      assert {:ok, %{winner: :q}} = Borda.aggregate(outputs, tie_break: fn [_, q] -> q end)

      picks =
        for s <- 1..40, do: elem(Borda.aggregate(outputs, tie_break: :random, seed: s), 1).winner

      assert Enum.sort(Enum.uniq(picks)) == [:p, :q]

      assert picks ==
               for(
                 s <- 1..40,
                 do: elem(Borda.aggregate(outputs, tie_break: :random, seed: s), 1).winner
               )
    end

    test "300 members ranking 300 candidates, checked against a plain count" do
      ids = for i <- 1..300, do: :"m#{i}"
      n = length(ids)

      outputs =
        Map.new(Enum.with_index(ids), fn {id, k} ->
          # A rotation per judge, shuffled a little and cut short for some.
          ranked = Enum.drop(ids, k) ++ Enum.take(ids, k)
          ranked = if rem(k, 3) == 0, do: Enum.take(ranked, 100), else: ranked
          {id, %{ordering: ranked}}
        end)

      expected =
        Enum.reduce(outputs, %{}, fn {_, %{ordering: o}}, acc ->
          o
          |> Enum.with_index(1)
          |> Enum.reduce(acc, fn {c, k}, acc -> Map.update(acc, c, n - k, &(&1 + n - k)) end)
        end)

      assert {:ok, result} = Borda.aggregate(outputs, [])
      assert result.scores == Map.new(expected, fn {c, s} -> {c, s / 1} end)
      {_, best} = Enum.max_by(expected, &elem(&1, 1))
      assert result.scores[result.winner] == best / 1
      assert result.raw.counted == 300
    end
  end

  describe "Condorcet" do
    test "a candidate that beats every other one wins; pairwise counts are exact" do
      outputs = orderings(a: ["x", "y", "z"], b: ["y", "x", "z"], c: ["x", "z", "y"], d: ["z"])

      assert {:ok, %{winner: "x", scores: scores, raw: raw}} = Condorcet.aggregate(outputs, [])
      refute raw.cycle
      # y and z tie 2:2, half a point each.
      assert scores == %{"x" => 2.0, "y" => 0.5, "z" => 0.5}

      # d ranks only z: z is above x and y there, and x, y are not compared.
      assert raw.pairwise == %{
               "x" => %{"y" => 2, "z" => 3},
               "y" => %{"x" => 1, "z" => 2},
               "z" => %{"x" => 1, "y" => 2}
             }
    end

    test "a cycle has no winner, and tie_break does not invent one" do
      outputs = orderings(a: ["x", "y", "z"], b: ["y", "z", "x"], c: ["z", "x", "y"])

      for opts <- [[], [tie_break: :random, seed: 3], [tie_break: fn _ -> flunk("called") end]] do
        assert {:ok, %{winner: nil, scores: scores, raw: %{cycle: true}}} =
                 Condorcet.aggregate(outputs, opts)

        assert scores == %{"x" => 1.0, "y" => 1.0, "z" => 1.0}
      end
    end

    test "a pairwise tie at the top is no winner either" do
      assert {:ok, %{winner: nil, raw: %{cycle: true}}} =
               Condorcet.aggregate(orderings(a: [:x, :y], b: [:y, :x]), [])
    end

    test "no countable orderings: no winner and no cycle" do
      assert {:ok, %{winner: nil, raw: %{cycle: false, pairwise: %{}, counted: 0}}} =
               Condorcet.aggregate(%{}, [])

      assert {:ok, %{winner: nil, raw: %{cycle: false, rejected: %{a: :empty}}}} =
               Condorcet.aggregate(orderings(a: []), candidates: [:x])
    end

    test "300 members over 40 candidates (a dirty-scheduler sized matrix)" do
      cands = for i <- 1..40, do: "c#{String.pad_leading("#{i}", 2, "0")}"
      # Everyone agrees c01 > c02 > ..., except that each judge moves one
      # candidate to the front: c01 still beats each one on most ballots.
      outputs =
        Map.new(1..300, fn j ->
          moved = Enum.at(cands, rem(j, 39) + 1)
          {j, %{ordering: [moved | List.delete(cands, moved)]}}
        end)

      assert {:ok, %{winner: "c01", raw: raw}} = Condorcet.aggregate(outputs, [])
      refute raw.cycle
      assert raw.pairwise["c01"]["c02"] + raw.pairwise["c02"]["c01"] == 300
      assert map_size(raw.pairwise) == 40
      assert Enum.all?(raw.pairwise, fn {_, row} -> map_size(row) == 39 end)
    end
  end

  describe "PeerRanking" do
    defp karpathy_outputs do
      Map.new([m1: "karpathy_m1.txt", m2: "karpathy_m2.txt", m3: "karpathy_m3.txt"], fn {judge,
                                                                                         file} ->
        {:ok, ranking} = Anonymize.parse_ranking(File.read!(Path.join(@fixtures, file)), @abc)
        {judge, %{ordering: ranking.labels}}
      end)
    end

    test "llm-council's 7.1 example, self-votes included" do
      assert {:ok, result} =
               PeerRanking.aggregate(karpathy_outputs(),
                 label_to_id: @label_to_id,
                 include_self: true
               )

      assert result.winner == :m3
      assert round2(result.raw.avg_position) == %{m3: 1.33, m1: 2.0, m2: 2.67}
      assert result.raw.order == [:m3, :m1, :m2]
      assert result.raw.votes == %{m1: 3, m2: 3, m3: 3}
      assert round2(result.scores) == %{m1: 0.5, m2: 0.17, m3: 0.83}
      assert result.raw.normalized_borda == result.scores
      assert result.raw.label_to_id == @label_to_id

      assert result.raw.judge_ballots == %{
               m1: [:m3, :m1, :m2],
               m2: [:m3, :m2, :m1],
               m3: [:m1, :m3, :m2]
             }

      assert result.raw.ballot_status == %{m1: :ok, m2: :ok, m3: :ok}
      assert result.raw.rejected == %{}
    end

    test "the same ballots with self-votes dropped (the default)" do
      assert {:ok, result} = PeerRanking.aggregate(karpathy_outputs(), label_to_id: @label_to_id)

      # m1 keeps C, B; m2 keeps C, A; m3 keeps A, B.
      assert result.winner == :m3
      assert result.raw.avg_position == %{m3: 1.0, m1: 1.5, m2: 2.0}
      assert result.raw.votes == %{m1: 2, m2: 2, m3: 2}
      assert result.scores == %{m1: 0.5, m2: 0.0, m3: 1.0}
      # judge_ballots keep what the judge wrote, in ids.
      assert result.raw.judge_ballots.m1 == [:m3, :m1, :m2]
    end

    test "labels restore through label_to_id; unknown labels are dropped and listed" do
      outputs = %{
        m1: %{ordering: ["Response C", "Response Q", "Response B"]},
        m2: %{"ordering" => ["Response A", "Response C"]},
        m3: %{ordering: ["nonsense"]}
      }

      assert {:ok, result} = PeerRanking.aggregate(outputs, label_to_id: @label_to_id)
      assert result.raw.judge_ballots == %{m1: [:m3, :m2], m2: [:m1, :m3], m3: []}
      assert result.raw.unknown_labels == %{m1: ["Response Q"], m3: ["nonsense"]}
      assert result.raw.ballot_status == %{m1: :ok, m2: :ok, m3: :empty}
      assert result.raw.rejected == %{m3: :empty}
      assert result.raw.avg_position == %{m1: 1.0, m2: 2.0, m3: 1.5}
      assert result.raw.votes == %{m1: 1, m2: 1, m3: 2}
      assert result.winner == :m1
      assert Anonymize.restore(result.raw, "Response B") == :m2

      # relabel's whole result works as the label map.
      relabeled = Anonymize.relabel(%{m1: "a", m2: "b", m3: "c"})
      assert {:ok, same} = PeerRanking.aggregate(outputs, label_to_id: relabeled)
      assert same.raw.avg_position == result.raw.avg_position
    end

    test "orderings of ids without labels; a judge outside the candidates ranks everyone" do
      outputs = %{
        :a => %{ordering: ["b", "c"]},
        :b => %{ordering: [:a, :c]},
        :c => %{ordering: [:a, :b]},
        "outside" => %{ordering: [:c, :a, :b]}
      }

      assert {:ok, result} = PeerRanking.aggregate(outputs, candidates: [:a, :b, :c])
      assert result.raw.avg_position == %{a: 4 / 3, b: 2.0, c: 5 / 3}
      assert result.winner == :a
      assert result.raw.ballot_status == %{:a => :ok, :b => :ok, :c => :ok, "outside" => :ok}
    end

    test "per-judge label maps from Anonymize.per_judge" do
      ids = [:m1, :m2, :m3, :m4]
      maps = Anonymize.per_judge(ids, seed: 42)
      # Every judge ranks the others by the true order m1 > m2 > m3 > m4.
      outputs =
        Map.new(maps, fn {judge, m} ->
          ranked = for id <- ids, id != judge, do: m.id_to_label[id]
          {judge, %{ordering: ranked}}
        end)

      assert {:ok, result} = PeerRanking.aggregate(outputs, label_to_id: maps)
      assert result.winner == :m1
      assert result.raw.order == [:m1, :m2, :m3, :m4]
      assert result.raw.judge_ballots.m1 == [:m2, :m3, :m4]

      # Plain per-judge maps work the same.
      plain = Map.new(maps, fn {j, m} -> {j, m.label_to_id} end)
      assert {:ok, ^result} = PeerRanking.aggregate(outputs, label_to_id: plain)
      assert result.raw.label_to_id == plain

      # A judge with no map of its own.
      assert {:ok, r} =
               PeerRanking.aggregate(Map.put(outputs, :m5, %{ordering: ["Response A"]}),
                 label_to_id: plain
               )

      assert r.raw.rejected == %{m5: :missing_label_map}
    end

    test "malformed outputs and bad options" do
      outputs = %{
        a: %{ordering: "Response A"},
        b: 42,
        c: %{ordering: ["Response A", "Response A"]}
      }

      assert {:ok, %{winner: nil, raw: raw}} =
               PeerRanking.aggregate(outputs, label_to_id: @label_to_id)

      assert raw.ballot_status == %{a: :invalid_ordering, b: :not_a_map, c: :duplicate}
      assert raw.avg_position == %{m1: nil, m2: nil, m3: nil}

      assert {:error, {:invalid_option, :include_self, "yes"}} =
               PeerRanking.aggregate(%{}, include_self: "yes")

      assert {:error, {:invalid_option, :label_to_id, [1]}} =
               PeerRanking.aggregate(%{}, label_to_id: [1])
    end

    test "300 judges ranking each other, against a plain average" do
      ids = for i <- 1..300, do: "m#{i}"
      relabeled = Anonymize.relabel(Map.new(ids, &{&1, "answer"}), order: :shuffle, seed: 7)

      outputs =
        Map.new(Enum.with_index(ids), fn {judge, k} ->
          # Each judge ranks 50 others starting after itself.
          ranked = ids |> Stream.cycle() |> Stream.drop(k + 1) |> Enum.take(50)
          {judge, %{ordering: Enum.map(ranked, &relabeled.id_to_label[&1])}}
        end)

      assert {:ok, result} = PeerRanking.aggregate(outputs, label_to_id: relabeled.label_to_id)
      assert result.raw.counted == 300
      # Every id is ranked by the 50 judges before it, at positions 50..1.
      assert Enum.all?(result.raw.avg_position, fn {_, p} -> p == 25.5 end)
      assert Enum.all?(result.raw.votes, fn {_, n} -> n == 50 end)
      assert result.raw.tie
      assert result.winner == Enum.min(ids)
    end
  end

  describe "Aggregator.run/3" do
    test "short names, strings, modules and nil" do
      outputs = votes(a: "x", b: "x", c: "y")
      assert {:ok, %{winner: "x"}} = Aggregator.run(:plurality, outputs, [])
      assert {:ok, %{winner: "x"}} = Aggregator.run("plurality", outputs)
      assert {:ok, %{winner: "x"}} = Aggregator.run(Plurality, outputs, [])
      assert {:ok, nil} = Aggregator.run(nil, outputs, [])
      assert {:ok, %{winner: nil}} = Aggregator.run(Unanimous, outputs, [])

      assert {:ok, %{winner: "x", scores: %{"x" => 2}}} =
               Aggregator.run(Unanimous, votes(a: "x", b: "x"), [])

      for {name, module} <- [
            plurality: Plurality,
            weighted_mean: WeightedMean,
            confidence_median: ConfidenceMedian,
            borda: Borda,
            condorcet: Condorcet,
            peer_ranking: PeerRanking
          ] do
        assert Aggregator.resolve(name) == {:ok, module}
        assert Aggregator.resolve(Atom.to_string(name)) == {:ok, module}
      end
    end

    test "unknown aggregators, bad returns and exceptions are errors" do
      assert {:error, {:unknown_aggregator, :nope}} = Aggregator.run(:nope, %{}, [])
      assert {:error, {:unknown_aggregator, "Plurality"}} = Aggregator.run("Plurality", %{}, [])
      assert {:error, {:unknown_aggregator, String}} = Aggregator.run(String, %{}, [])
      assert {:error, {:unknown_aggregator, 42}} = Aggregator.run(42, %{}, [])
      assert {:error, {:invalid_return, BadReturn, :oops}} = Aggregator.run(BadReturn, %{}, [])

      assert {:error, {:raised, Raises, %RuntimeError{message: "boom"}}} =
               Aggregator.run(Raises, %{}, [])

      assert {:error, {:raised, Plurality, %RuntimeError{}}} =
               Aggregator.run(:plurality, votes(a: "x", b: "y"),
                 tie_break: fn _ -> raise "tie" end
               )
    end
  end

  describe "the aggregate NIF" do
    test "returns every field" do
      assert {:ok, r} =
               Native.aggregate(
                 :plurality,
                 3,
                 [{0, nil}, {1, 0.5}, {1, nil}, {-1, nil}, {9, 1}],
                 %{}
               )

      assert r == %{
               winner: 1,
               tie: false,
               cycle: false,
               scores: [1.0, 2.0, 0.0],
               votes: [1, 2, 0],
               order: [1, 0, 2],
               ties: [],
               avg_position: nil,
               pairwise: nil,
               status: [:ok, :ok, :ok, :out_of_range, :out_of_range],
               counted: 3
             }

      assert {:ok, %{status: [:bad_confidence, :bad_confidence, :ok, :bad_confidence]}} =
               Native.aggregate(:weighted_mean, 1, [{0, nil}, {0, 2}, {0, 1}, {0, 1 <<< 70}], %{})

      assert {:ok, %{winner: nil, ties: [0, 2], tie: true}} =
               Native.aggregate(:plurality, 3, [{2, nil}, {0, nil}], %{tie: :caller})

      assert {:ok, %{status: [:empty, :out_of_range, :duplicate, :out_of_range, :ok]}} =
               Native.aggregate(
                 :peer_ranking,
                 3,
                 [{[], -1}, {[0, 5], -1}, {[1, 1], -1}, {[0], 7}, {[0, 1], 0}],
                 %{}
               )

      assert {:ok, %{status: [:out_of_range, :out_of_range]}} =
               Native.aggregate(:borda, 3, [{[1 <<< 70], -1}, {[-(1 <<< 70)], -1}], %{})
    end

    test "an ordering longer than n + 1 is cut there, with the same status" do
      long = Enum.to_list(0..99_999)

      assert {:ok, %{status: [:out_of_range, :duplicate]}} =
               Native.aggregate(:borda, 3, [{long, -1}, {[0, 1, 2, 0 | long], -1}], %{})
    end

    test "badarg on terms of the wrong type" do
      bad = [
        {:nope, 1, [], %{}},
        {"plurality", 1, [], %{}},
        {:plurality, -1, [], %{}},
        {:plurality, 1.0, [], %{}},
        {:plurality, 1, :x, %{}},
        {:plurality, 1, [{0, nil} | :improper], %{}},
        {:plurality, 1, [{0}], %{}},
        {:plurality, 1, [{0, "0.5"}], %{}},
        {:plurality, 1, [{:a, nil}], %{}},
        {:plurality, 1, [[0, nil]], %{}},
        {:borda, 1, [{0, nil}], %{}},
        {:borda, 1, [{[0], nil}], %{}},
        {:borda, 1, [{[:a], -1}], %{}},
        {:borda, 1, [{[0 | 1], -1}], %{}},
        {:plurality, 1, [], []},
        {:plurality, 1, [], %{tie: :last}},
        {:plurality, 1, [], %{seed: 1.5}},
        {:plurality, 1, [], %{seed: 1 <<< 64}},
        {:plurality, 1, [], %{include_self: 1}}
      ]

      for {kind, n, ballots, opts} <- bad do
        assert_raise ArgumentError, fn -> Native.aggregate(kind, n, ballots, opts) end
      end

      assert {:ok, _} = Native.aggregate(:plurality, 1, [], %{seed: -(1 <<< 63), other: :ignored})
    end

    test "limits" do
      assert {:error, :too_many_candidates} = Native.aggregate(:plurality, 100_001, [], %{})
      assert {:error, :too_many_candidates} = Native.aggregate(:condorcet, 2049, [], %{})
      assert {:ok, %{order: order}} = Native.aggregate(:plurality, 100_000, [{99_999, nil}], %{})
      assert hd(order) == 99_999
    end

    test "big inputs run on a dirty scheduler and give the same answers" do
      ballots = for i <- 1..50_000, do: {rem(i * 7919, 1000), nil}
      assert {:ok, r} = Native.aggregate(:plurality, 1000, ballots, %{})
      assert Enum.sum(r.votes) == 50_000
      freq = ballots |> Enum.frequencies_by(&elem(&1, 0))
      assert r.votes == for(i <- 0..999, do: Map.get(freq, i, 0))

      n = 600
      all = Enum.to_list(0..(n - 1))
      # Ballot k moves candidate k + 1 to the front of 0, 1, 2, ...
      ballots = for k <- 0..19, do: {[k + 1 | List.delete(all, k + 1)], -1}
      assert {:ok, r} = Native.aggregate(:condorcet, n, ballots, %{})
      assert length(r.pairwise) == n
      assert Enum.all?(r.pairwise, &(length(&1) == n))
      # 0 is above 1 on every ballot but the one moving 1.
      assert r.pairwise |> hd() |> Enum.at(1) == 19
      assert r.pairwise |> Enum.at(1) |> hd() == 1
      assert r.winner == 0
    end
  end

  describe "the ranking_parse NIF" do
    test "the FINAL RANKING format with markdown" do
      labels = for i <- 0..27, do: "Response " <> Anonymize.label(i)
      text = File.read!(Path.join(@fixtures, "markdown_reply.txt"))

      assert {:ok, r} = Native.ranking_parse(text, labels, [0, 1, 27])

      assert r == %{
               order: [1, 0, 27],
               missing: [],
               source: :list,
               duplicates: 0,
               unknown: 0,
               unexpected: 0
             }

      # All 28 expected: incomplete, with the partial order.
      assert {:error, :incomplete, %{order: [1, 0, 27], missing: missing}} =
               Native.ranking_parse(text, labels, nil)

      assert length(missing) == 25
    end

    test "llm-council's replies" do
      for {file, order} <- [
            {"karpathy_m1.txt", [2, 0, 1]},
            {"karpathy_m2.txt", [2, 1, 0]},
            {"karpathy_m3.txt", [0, 2, 1]}
          ] do
        text = File.read!(Path.join(@fixtures, file))
        assert {:ok, %{order: ^order, source: :list}} = Native.ranking_parse(text, @abc, nil)
      end
    end

    test "JSON fallback, counts, and refusals" do
      assert {:ok, %{order: [1, 2, 0], source: :json}} =
               Native.ranking_parse(
                 ~s({"ranking": ["Response B", "Response C", "Response A"]}),
                 @abc,
                 nil
               )

      assert {:ok, %{order: [2, 1], duplicates: 1, unknown: 1, unexpected: 1}} =
               Native.ranking_parse(
                 "FINAL RANKING:\n1. Response C\n2. Response A\n3. Response C\n4. Response Z\n5. Response B",
                 @abc,
                 [1, 2]
               )

      assert {:error, :unparseable, %{order: [], source: :none}} =
               Native.ranking_parse("Response A is best, then Response B.", @abc, nil)

      assert {:error, :invalid_utf8, _} =
               Native.ranking_parse(<<"FINAL RANKING:\n1. Response A", 0xFF>>, @abc, nil)

      assert {:error, :bad_labels, _} = Native.ranking_parse("x", ["A", "A"], nil)
      assert {:error, :bad_labels, _} = Native.ranking_parse("x", [], nil)
      assert {:error, :bad_labels, _} = Native.ranking_parse("x", ["A\0B"], nil)

      assert {:error, :bad_labels, _} =
               Native.ranking_parse("x", [String.duplicate("a", 1025)], nil)

      assert {:error, :bad_labels, _} = Native.ranking_parse("x", @abc, [3])
      assert {:error, :bad_labels, _} = Native.ranking_parse("x", @abc, [-1])
      # NUL bytes in the text are just bytes.
      assert {:ok, %{order: [0, 1, 2]}} =
               Native.ranking_parse(
                 "a\0b\nFINAL RANKING:\n1. Response A\n2. Response B\n3. Response C",
                 @abc,
                 nil
               )

      for {text, labels, expected} <- [
            {:x, @abc, nil},
            {"x", "A", nil},
            {"x", [:a], nil},
            {"x", @abc, [:a]},
            {"x", @abc, 1}
          ] do
        assert_raise ArgumentError, fn -> Native.ranking_parse(text, labels, expected) end
      end
    end

    test "a long reply (dirty scheduler) parses the same" do
      labels = for i <- 0..2999, do: "Response " <> Anonymize.label(i)
      prose = String.duplicate("Response A did well. Response B less so.\n", 2_000)

      list =
        Enum.map_join(Enum.with_index(Enum.reverse(labels), 1), "\n", fn {l, k} ->
          "#{k}. **#{l}**"
        end)

      assert {:ok, %{order: order, source: :list}} =
               Native.ranking_parse(prose <> "FINAL RANKING:\n" <> list, labels, nil)

      assert order == Enum.to_list(2999..0//-1)
    end
  end
end
