#!/usr/bin/env bash
# Runs every libFuzzer harness given for a fixed time, a bounded number at
# a time, each from a scratch working copy of its committed seed corpus
# (test/fuzz/corpus/<harness>/), so the repository is never written to.
# Fails when any harness reports a crash, leak, sanitizer error or timeout,
# and prints the log's report and the file holding the input.
#
#   scripts/fuzz_run.sh OUT_DIR SECONDS JOBS BIN...
set -uo pipefail

out=$1 seconds=$2 jobs=$3
shift 3
logs=$out/logs
mkdir -p "$logs" "$out/artifacts"

# One harness: its corpus, its log, its exit status in the log's last line.
run_one() {
  local bin=$1 out=$2 seconds=$3 name work dict
  name=$(basename "$bin")
  work=$out/corpus/$name
  mkdir -p "$work"
  if [ -d "test/fuzz/corpus/$name" ]; then
    cp -r "test/fuzz/corpus/$name/." "$work/"
  fi
  dict=()
  if [ -f "test/fuzz/dict/$name.dict" ]; then
    dict=(-dict="test/fuzz/dict/$name.dict")
  fi
  # -timeout: an input that takes seconds is a bug (a parser gone
  # quadratic); -rss_limit_mb bounds a leak or a runaway allocation.
  "$bin" -max_total_time="$seconds" -print_final_stats=1 -timeout=20 \
    -rss_limit_mb=2048 -artifact_prefix="$out/artifacts/$name-" \
    "${dict[@]}" "$work" >"$out/logs/$name.log" 2>&1
  echo "exit=$?" >>"$out/logs/$name.log"
}
export -f run_one

start=$(date +%s)
printf '%s\n' "$@" | xargs -P "$jobs" -I{} bash -c 'run_one "$@"' _ {} "$out" "$seconds"

failed=0
printf '%-28s %12s %8s  %s\n' harness executions exec/s result
for bin in "$@"; do
  name=$(basename "$bin")
  log=$logs/$name.log
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
  status=$(tail -1 "$log")
  if [ "$status" = "exit=0" ]; then
    result=ok
  else
    result="FAILED ($status)"
    failed=1
  fi
  printf '%-28s %12s %8s  %s\n' "$name" "${execs:-?}" "${rate:-?}" "$result"
done
echo "fuzz: $# harnesses, ${seconds}s each, $jobs at a time, $(( $(date +%s) - start ))s wall"

if [ "$failed" -ne 0 ]; then
  for bin in "$@"; do
    name=$(basename "$bin")
    log=$logs/$name.log
    [ "$(tail -1 "$log")" = "exit=0" ] && continue
    echo "=== $name ($log)"
    grep -E -A40 '^==[0-9]+==ERROR|runtime error|fuzz invariant broken|ERROR: libFuzzer' "$log" | head -60
    grep -E 'Test unit written to|artifact_prefix' "$log" || true
  done
  exit 1
fi
