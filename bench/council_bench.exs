# The CouncilEx benchmark: `make bench`, i.e.
#
#     MIX_ENV=bench mix run bench/council_bench.exs
#
# Starts nginx on a loopback port as the fastest possible OpenAI-compatible
# provider (one canned chat.completion), then measures for BENCH_SECONDS
# each (default 10), after a BENCH_WARMUP_SECONDS warm-up (default 2):
#
#   (a) wrk, 64 connections, POSTing member-sized requests: the ceiling;
#   (b) a council written with :httpc, 64 concurrent councils: the baseline;
#   (c) the engine, CouncilEx.run/3 on the same council, 64 concurrent runs;
#   (d) the engine's HTTP layer alone (bench/c/engine_floor.c: http_engine.c
#       on the same engine threads, no BEAM, no round loop, no JSON) with as
#       many transfers in flight as (c) at most (64 x 5): what libcurl costs
#       before anything CouncilEx adds. Skipped unless BENCH_FLOOR names the
#       binary (`make bench` builds it).
#
# Then, without nginx:
#
#   (e) one request of BENCH_UPLOAD_BYTES (default 1 MB) to
#       CouncilEx.FakeProvider and to a raw :gen_tcp server that only reads
#       it and answers, alternating, BENCH_UPLOAD_ROUNDS times (default 10):
#       the medians and their ratio, what the fake adds to a big body;
#   (f) the longest CPU time a NIF call held a normal scheduler since load,
#       and how many calls passed 1 ms (CouncilEx.Native.stats/0): a busy
#       machine stretches these, so tests check the scheduling rule's
#       decisions instead and the times are reported here.
#
# A council makes 6 calls (5 members, then the chair), so (b) and (c) report
# 6 calls per completed council. The targets are engine/wrk >= 0.15 and
# engine/httpc >= 3.0; missing them is reported, not fatal. The script exits
# non-zero only when a step could not be measured.

defmodule CouncilEx.Bench.Wrk do
  @moduledoc false
  # Runs wrk and reads its summary.

  @script Path.expand("post.lua", __DIR__)

  @doc "Runs wrk against `url`; the result map has :rate (requests/s)."
  def run(url, seconds, connections, body) do
    args = ["-t1", "-c#{connections}", "-d#{seconds}s", "-s", @script, url]
    {out, status} = System.cmd("wrk", args, env: [{"BENCH_BODY", body}], stderr_to_stdout: true)

    with 0 <- status,
         [_, rate] <- Regex.run(~r/Requests\/sec:\s+([\d.]+)/, out),
         [_, total, elapsed, unit] <- Regex.run(~r/(\d+) requests in ([\d.]+)(\w+)/, out) do
      errors = non_2xx(out) + socket_errors(out)
      total = String.to_integer(total)

      %{
        rate: String.to_float(rate),
        calls: total,
        errors: errors,
        first_error: if(errors > 0, do: out),
        elapsed: to_seconds(elapsed, unit)
      }
    else
      _ -> raise "wrk failed (exit status #{status}):\n#{out}"
    end
  end

  @doc "The wrk version, e.g. \"debian/4.1.0-3+b2\"."
  def version do
    {out, _} = System.cmd("wrk", ["-v"], stderr_to_stdout: true)

    case Regex.run(~r/^wrk (\S+)/, out) do
      [_, version] -> version
      nil -> "unknown"
    end
  end

  defp non_2xx(out) do
    case Regex.run(~r/Non-2xx or 3xx responses: (\d+)/, out) do
      [_, n] -> String.to_integer(n)
      nil -> 0
    end
  end

  defp socket_errors(out) do
    case Regex.run(~r/Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/, out) do
      [_ | counts] -> counts |> Enum.map(&String.to_integer/1) |> Enum.sum()
      nil -> 0
    end
  end

  defp to_seconds(value, unit) do
    {value, _} = Float.parse(value)

    case unit do
      "ms" -> value / 1000
      "s" -> value
      "m" -> value * 60
      _ -> value
    end
  end
end

defmodule CouncilEx.Bench do
  @moduledoc false

  alias CouncilEx.Bench.{FakeUpload, HttpcCouncil, Nginx, ThreadCpu, Wrk}
  alias CouncilEx.JSON

  # ~300 bytes of request JSON per member call, like a real question.
  @question "Our team must choose between rewriting the billing service in Rust or " <>
              "incrementally refactoring the existing Java code. Weigh delivery risk, " <>
              "hiring, runtime cost and correctness, then recommend one path with the " <>
              "three most important reasons."

  # What every member (and the chair) answers: a realistic size, and an
  # apostrophe and a dollar sign to keep the nginx escaping honest.
  @answer "Refactor incrementally. The council's reasons: a rewrite freezes features " <>
            "for a year while the Java code keeps earning; the team's hiring pipeline " <>
            "is Java-heavy; and the runtime savings (about $40k a year) do not pay " <>
            "for the risk. Extract the invoicing core behind an interface first."

  @calls_per_council 6
  @targets [engine_vs_wrk: 0.15, engine_vs_httpc: 3.0]

  def main do
    config = config()
    header(config)
    nginx = Nginx.start(canned_reply())

    results =
      try do
        base_url = "http://127.0.0.1:#{nginx.port}/v1"
        check_reply!(base_url)

        [
          step(:wrk, fn -> wrk(base_url, config) end),
          step(:httpc, fn -> httpc(base_url, config, nginx.os_pid) end),
          step(:engine, fn -> engine(base_url, config, nginx.os_pid) end)
        ] ++ floor_step(base_url, config)
      after
        Nginx.stop(nginx)
      end

    report(results, config)
    upload = step(:upload, fn -> FakeUpload.run(config.upload_bytes, config.upload_rounds) end)
    upload_report(upload)
    nif_report()
    if Enum.any?([upload | results], &Map.has_key?(&1, :failure)), do: System.halt(1)
  end

  # (e): FakeProvider against the raw socket, one large request at a time.
  defp upload_report(%{failure: failure}) do
    IO.puts("\n#{label(:upload)} FAILED:\n#{failure}")
  end

  defp upload_report(upload) do
    ms = &"#{:erlang.float_to_binary(&1, decimals: 1)} ms"

    IO.puts("""

    #{label(:upload)}, #{upload.bytes} bytes, median of each:
      CouncilEx.FakeProvider          #{lpad(ms.(upload.fake_ms), 12)}
      raw :gen_tcp server             #{lpad(ms.(upload.raw_ms), 12)}
      fake / raw                      #{lpad(:erlang.float_to_binary(upload.ratio, decimals: 2), 12)}\
    """)
  end

  # (f): what the scheduling rule's budgets come to in CPU time, here.
  defp nif_report do
    stats = CouncilEx.Native.stats()
    kept = stats.normal_calls |> Map.values() |> Enum.sum()
    moved = stats.dirty_calls |> Map.values() |> Enum.sum()

    IO.puts("""

    (f) NIF calls on normal schedulers, thread CPU time since load:
      longest #{stats.normal_max_us} µs; #{stats.normal_over_1ms} over 1 ms; \
    #{kept} calls kept on a normal scheduler, #{moved} moved to a dirty one\
    """)
  end

  ## The three measurements

  defp wrk(base_url, config) do
    url = base_url <> "/chat/completions"
    body = JSON.encode!(member_request("bench-model-1"))
    Wrk.run(url, config.warmup, config.concurrency, body)
    Wrk.run(url, config.seconds, config.concurrency, body)
  end

  defp httpc(base_url, config, nginx_pid) do
    :ok = HttpcCouncil.start_profile()
    measure(fn -> HttpcCouncil.run(base_url, @question) end, config, nginx_pid)
  end

  defp engine(base_url, config, nginx_pid) do
    Application.put_env(:council_ex, :providers,
      bench: [
        adapter: CouncilEx.Provider.Adapters.OpenAI,
        api_key: "bench-key",
        base_url: base_url
      ]
    )

    council = define_council()

    measure(
      fn ->
        case CouncilEx.run(council, %{question: @question}, []) do
          {:ok, %{status: :ok} = result} -> {:ok, result}
          {:ok, result} -> {:error, {result.status, result.errors}}
          {:error, _} = error -> error
        end
      end,
      config,
      nginx_pid
    )
  end

  defp floor_step(base_url, config) do
    case System.get_env("BENCH_FLOOR") do
      nil -> []
      binary -> [step(:floor, fn -> floor(Path.expand(binary), base_url, config) end)]
    end
  end

  defp floor(binary, base_url, config) do
    url = base_url <> "/chat/completions"
    body = JSON.encode!(member_request("bench-model-1"))
    in_flight = config.concurrency * 5
    engines = Application.get_env(:council_ex, :engine_threads, 2)

    run = fn seconds ->
      System.cmd(binary, [url, "#{seconds}", "#{in_flight}", "#{engines}", body],
        stderr_to_stdout: true
      )
    end

    run.(config.warmup)

    case run.(config.seconds) do
      {out, 0} ->
        [_, calls, seconds, errors, cpu_us] =
          Regex.run(~r/calls=(\d+) seconds=([\d.]+) errors=(\d+) cpu_us=(\d+)/, out)

        {calls, seconds} = {String.to_integer(calls), String.to_float(seconds)}

        %{
          rate: calls / seconds,
          calls: calls,
          errors: String.to_integer(errors),
          first_error: nil,
          elapsed: seconds,
          cpu: %{engine: String.to_integer(cpu_us)}
        }

      {out, status} ->
        raise "#{binary} failed (exit status #{status}):\n#{out}"
    end
  end

  # Compiled here, from a string, rather than at the top of the file: a
  # missing or broken engine then fails step (c) alone, after (a) and (b)
  # have run. (A `quote` would also bind `round` to Kernel.round/1.)
  defp define_council do
    Code.compile_string("""
    defmodule CouncilEx.Bench.Council do
      use CouncilEx

      member :m1, provider: :bench, model: "bench-model-1"
      member :m2, provider: :bench, model: "bench-model-2"
      member :m3, provider: :bench, model: "bench-model-3"
      member :m4, provider: :bench, model: "bench-model-4"
      member :m5, provider: :bench, model: "bench-model-5"
      round :independent_analysis
      chair :chair, provider: :bench, model: "bench-chair"
    end
    """)

    CouncilEx.Bench.Council
  end

  # Runs `fun` in `config.concurrency` loops, first for the warm-up, then
  # for the measured period. A council started before the deadline counts
  # even if it ends after it, and the period is stretched to match. Given
  # nginx's pid, also reports the period's CPU time by thread group.
  defp measure(fun, config, nginx_pid \\ nil) do
    run_loops(fun, config.warmup, config.concurrency)
    before = nginx_pid && ThreadCpu.snapshot(nginx_pid)
    result = run_loops(fun, config.seconds, config.concurrency)

    if nginx_pid,
      do: Map.put(result, :cpu, ThreadCpu.diff(before, ThreadCpu.snapshot(nginx_pid))),
      else: result
  end

  defp run_loops(fun, seconds, concurrency) do
    started = System.monotonic_time(:microsecond)
    deadline = started + seconds * 1_000_000

    totals =
      1..concurrency
      |> Enum.map(fn _ -> Task.async(fn -> loop(fun, deadline, {0, 0, nil}) end) end)
      |> Task.await_many(:infinity)
      |> Enum.reduce({0, 0, nil}, fn {ok, errors, first}, {ok_acc, errors_acc, first_acc} ->
        {ok_acc + ok, errors_acc + errors, first_acc || first}
      end)

    {councils, errors, first_error} = totals
    elapsed = (System.monotonic_time(:microsecond) - started) / 1_000_000
    calls = councils * @calls_per_council

    %{
      rate: calls / elapsed,
      councils: councils,
      calls: calls,
      errors: errors,
      first_error: first_error,
      elapsed: elapsed
    }
  end

  defp loop(fun, deadline, {ok, errors, first} = acc) do
    if System.monotonic_time(:microsecond) >= deadline do
      acc
    else
      case safely(fun) do
        {:ok, _} -> loop(fun, deadline, {ok + 1, errors, first})
        {:error, reason} -> loop(fun, deadline, {ok, errors + 1, first || reason})
      end
    end
  end

  defp safely(fun) do
    fun.()
  rescue
    exception -> {:error, Exception.format(:error, exception, __STACKTRACE__)}
  catch
    kind, reason -> {:error, Exception.format(kind, reason, __STACKTRACE__)}
  end

  # A step that raises, or that completed nothing, could not be measured.
  defp step(name, fun) do
    IO.puts("Running #{label(name)}...")

    case safely(fun) do
      %{calls: 0} = result -> Map.merge(result, %{name: name, failure: "no call completed"})
      %{} = result -> Map.put(result, :name, name)
      {:error, message} -> %{name: name, failure: message}
    end
  end

  ## Requests and replies

  defp member_request(model) do
    %{"model" => model, "messages" => [%{"role" => "user", "content" => @question}]}
  end

  defp canned_reply do
    words = length(String.split(@answer))

    JSON.encode!(%{
      "id" => "chatcmpl-bench",
      "object" => "chat.completion",
      "created" => 1_700_000_000,
      "model" => "bench-model",
      "choices" => [
        %{
          "index" => 0,
          "message" => %{"role" => "assistant", "content" => @answer},
          "finish_reason" => "stop"
        }
      ],
      "usage" => %{
        "prompt_tokens" => 60,
        "completion_tokens" => words,
        "total_tokens" => 60 + words
      }
    })
  end

  # One request through :httpc before measuring anything: proves that the
  # escaped canned reply survived nginx's config parser intact.
  defp check_reply!(base_url) do
    :ok = HttpcCouncil.start_profile()

    case HttpcCouncil.run(base_url, @question) do
      {:ok, @answer} -> :ok
      other -> raise "nginx did not serve the canned reply: #{inspect(other, limit: 20)}"
    end
  end

  ## Report

  defp config do
    %{
      seconds: env_integer("BENCH_SECONDS", 10),
      warmup: env_integer("BENCH_WARMUP_SECONDS", 2),
      concurrency: env_integer("BENCH_CONCURRENCY", 64),
      upload_bytes: env_integer("BENCH_UPLOAD_BYTES", 1_000_000),
      upload_rounds: env_integer("BENCH_UPLOAD_ROUNDS", 10)
    }
  end

  defp env_integer(name, default) do
    case System.get_env(name) do
      nil -> default
      value -> String.to_integer(value)
    end
  end

  defp header(config) do
    IO.puts("""
    CouncilEx benchmark
      #{config.seconds} s per measurement after a #{config.warmup} s warm-up, #{config.concurrency} concurrent clients, 127.0.0.1
      #{Nginx.version()} (1 worker), wrk #{Wrk.version()}, OTP #{System.otp_release()}, Elixir #{System.version()}, #{System.schedulers_online()} schedulers
    """)
  end

  defp report(results, config) do
    by_name = Map.new(results, &{&1.name, &1})

    IO.puts("""

    #{pad("measurement", 34)}#{lpad("calls/s", 12)}#{lpad("councils/s", 12)}#{lpad("errors", 8)}
    #{String.duplicate("-", 66)}\
    """)

    Enum.each(results, &print_row/1)
    IO.puts("")

    engine = by_name[:engine]
    ratio(engine, by_name[:wrk], "engine / wrk", @targets[:engine_vs_wrk])
    ratio(engine, by_name[:httpc], "engine / httpc", @targets[:engine_vs_httpc])
    if by_name[:floor], do: ratio(engine, by_name[:floor], "engine / (d)", nil)
    cpu_report(results)

    for %{failure: failure, name: name} <- results do
      IO.puts("\n#{label(name)} FAILED:\n#{failure}")
    end

    for %{errors: errors, first_error: first, name: name} <- results, errors > 0 do
      IO.puts("\n#{label(name)}: #{errors} errors; first: #{inspect(first, limit: 50)}")
    end

    IO.puts("\n(#{config.seconds} s per measurement; a council is #{@calls_per_council} calls)")
  end

  # Where the CPU went, per call: what the engine threads, the schedulers
  # and nginx spend on each (from /proc, over the measured period).
  defp cpu_report(results) do
    rows =
      for %{cpu: cpu, calls: calls, name: name} <- results, calls > 0 do
        parts =
          for {group, us} <- Enum.sort(cpu),
              do: "#{group} #{:erlang.float_to_binary(us / calls, decimals: 1)}"

        "  #{pad(label(name), 34)}#{Enum.join(parts, ", ")}"
      end

    if rows != [],
      do: IO.puts("\nCPU time per call (µs), by thread group:\n" <> Enum.join(rows, "\n"))
  end

  defp print_row(%{failure: _} = result) do
    IO.puts("#{pad(label(result.name), 34)}#{lpad("FAILED", 12)}")
  end

  defp print_row(result) do
    councils =
      if result.name in [:wrk, :floor], do: "-", else: format(result.councils / result.elapsed)

    IO.puts(
      "#{pad(label(result.name), 34)}#{lpad(format(result.rate), 12)}" <>
        "#{lpad(councils, 12)}#{lpad(result.errors, 8)}"
    )
  end

  defp ratio(%{rate: engine}, %{rate: other}, name, nil) when other > 0 do
    IO.puts(
      "#{pad(name, 18)}#{lpad(:erlang.float_to_binary(engine / other, decimals: 3), 8)}   (no target: what the BEAM side and the round loop cost)"
    )
  end

  defp ratio(%{rate: engine}, %{rate: other}, name, target) when other > 0 do
    value = engine / other
    mark = if value >= target, do: "PASS", else: "FAIL"

    IO.puts(
      "#{pad(name, 18)}#{lpad(:erlang.float_to_binary(value, decimals: 3), 8)}   target >= #{target}   #{mark}"
    )
  end

  defp ratio(_engine, _other, name, target) do
    IO.puts("#{pad(name, 18)}#{lpad("n/a", 8)}#{if target, do: "   target >= #{target}   -"}")
  end

  defp label(:wrk), do: "(a) wrk -> nginx"
  defp label(:httpc), do: "(b) :httpc council (baseline)"
  defp label(:engine), do: "(c) CouncilEx engine"
  defp label(:floor), do: "(d) engine HTTP layer alone (C)"
  defp label(:upload), do: "(e) one large request, FakeProvider vs raw socket"

  defp format(number), do: :erlang.float_to_binary(number / 1, decimals: 1)
  defp pad(text, width), do: String.pad_trailing(to_string(text), width)
  defp lpad(text, width), do: String.pad_leading(to_string(text), width)
end

CouncilEx.Bench.main()
