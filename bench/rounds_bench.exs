# Round-loop overhead of the big topologies: `make bench-rounds`, i.e.
#
#     MIX_ENV=bench mix run bench/rounds_bench.exs
#
# nginx on loopback answers every call at once with one canned reply that
# reads as an answer, a pairwise verdict ({"choice": "A"}) and a complete
# FINAL RANKING of seven labels, so the HTTP wait is as short as it gets
# and every ballot parses. Two councils run BENCH_RUNS times each (default
# 20), one at a time:
#
#   * a Tournament of 64 members: independent answers, six bracket levels
#     of pairwise judging by the chair (32, 16, 8, 4, 2, 1 calls), synthesis;
#   * an LLMCouncil of 8 members: answers, anonymized peer review (8 judges,
#     7 labels each, per-judge shuffles), synthesis.
#
# For every round it reports the mean wall time and the mean round-loop
# overhead: the round's wall time minus its slowest call's HTTP time, i.e.
# prompt building, ballot parsing and aggregation in C plus the messages to
# and from the run's process (RoundResult.metadata.overhead_us).

alias CouncilEx.Bench.Nginx
alias CouncilEx.Councils.{LLMCouncil, Tournament}
alias CouncilEx.JSON

runs = String.to_integer(System.get_env("BENCH_RUNS", "20"))
labels = Enum.map_join(1..7, "\n", fn i -> "#{i}. Response #{<<?A + i - 1>>}" end)

reply =
  JSON.encode!(%{
    "id" => "chatcmpl-bench",
    "object" => "chat.completion",
    "created" => 1_700_000_000,
    "model" => "bench-model",
    "choices" => [
      %{
        "index" => 0,
        "message" => %{
          "role" => "assistant",
          "content" =>
            ~s({"choice": "A", "rationale": "clearer"}\nA fine answer.\n\nFINAL RANKING:\n) <>
              labels
        },
        "finish_reason" => "stop"
      }
    ],
    "usage" => %{"prompt_tokens" => 60, "completion_tokens" => 20, "total_tokens" => 80}
  })

nginx = Nginx.start(reply)

Application.put_env(:council_ex, :providers,
  bench: [
    adapter: CouncilEx.Provider.Adapters.OpenAI,
    api_key: "bench",
    base_url: "http://127.0.0.1:#{nginx.port}/v1"
  ]
)

members = fn n -> for i <- 1..n, do: {:"m#{i}", [provider: :bench, model: "bench-model-#{i}"]} end
chair = [id: :chair, provider: :bench, model: "bench-chair"]

councils = [
  {"Tournament of 64", Tournament.new(members: members.(64), chair: chair)},
  {"LLMCouncil of 8", LLMCouncil.new(members: members.(8), chair: chair)}
]

try do
  for {label, council} <- councils do
    # one warm-up run, then the measured ones
    {:ok, _} = CouncilEx.run(council, "Should we ship on Friday?")

    results =
      for _ <- 1..runs do
        {:ok, result} = CouncilEx.run(council, "Should we ship on Friday?")
        result
      end

    calls =
      results
      |> hd()
      |> Map.get(:rounds)
      |> Enum.map(&length(&1.metadata[:judgements] || &1.member_results))

    # The rounds' wall time (Result.metadata.duration_ms is whole ms).
    total_ms =
      Enum.sum(for r <- results, round <- r.rounds, do: round.metadata.duration_us) / runs / 1000

    IO.puts("\n#{label}: #{runs} runs, #{Float.round(total_ms, 2)} ms of rounds per run")

    IO.puts(
      String.pad_trailing("round", 28) <>
        String.pad_leading("calls", 6) <>
        String.pad_leading("wall (us)", 12) <>
        String.pad_leading("overhead (us)", 15) <>
        String.pad_leading("per call (us)", 15)
    )

    results
    |> Enum.map(& &1.rounds)
    |> Enum.zip()
    |> Enum.map(&Tuple.to_list/1)
    |> Enum.zip(calls)
    |> Enum.each(fn {[first | _] = rounds, n} ->
      mean = fn key -> Enum.sum(Enum.map(rounds, & &1.metadata[key])) / length(rounds) end
      name = "#{first.idx} #{first.name}"
      overhead = mean.(:overhead_us)

      IO.puts(
        String.pad_trailing(name, 28) <>
          String.pad_leading("#{n}", 6) <>
          String.pad_leading("#{round(mean.(:duration_us))}", 12) <>
          String.pad_leading("#{round(overhead)}", 15) <>
          String.pad_leading("#{Float.round(overhead / max(n, 1), 1)}", 15)
      )
    end)
  end
after
  Nginx.stop(nginx)
end
