#!/usr/bin/env bash
# Writes the fuzzers' seed corpora, test/fuzz/corpus/<harness>/, from the
# test fixtures and a few literal replies. Each seed is the harness's
# parameter bytes (see the comment at the top of each test/fuzz/fuzz_*.c)
# followed by a real body, named by its SHA-1 as libFuzzer names inputs.
# Run from the repository root; the output is committed, so this only
# needs running again when fixtures or a harness's input layout change.
set -euo pipefail

root=test/fuzz/corpus
fx=test/fixtures

# seed HARNESS PREFIX FILE|-: PREFIX is printf-escaped parameter bytes;
# the body is FILE, or stdin for "-".
seed() {
  local dir=$root/$1 tmp
  mkdir -p "$dir"
  tmp=$(mktemp)
  { printf "$2"; if [ "$3" = - ]; then cat; else cat "$3"; fi; } >"$tmp"
  mv "$tmp" "$dir/$(sha1sum "$tmp" | cut -c1-40)"
}

# seed_text HARNESS PREFIX TEXT: the body is TEXT as printf writes it.
seed_text() {
  printf "$3" | seed "$1" "$2" -
}

rm -rf "$root"

# --- Framing: max byte, stop byte, cuts (none; then three) -------------------
for f in $fx/stream/*.sse $fx/anthropic/*.sse $fx/gemini/*.sse; do
  seed fuzz_sse '\0\0\0' "$f"
  seed fuzz_sse '\0\0\3\0\7\0\50\1\0' "$f"
done
for f in $fx/stream/*.ndjson $fx/ollama/stream_tool_call.json; do
  seed fuzz_ndjson '\0\0\0' "$f"
  seed fuzz_ndjson '\0\0\3\0\7\0\50\1\0' "$f"
done
seed_text fuzz_sse '\0\0\0' '\xef\xbb\xbfdata: a\r\ndata: b\r\rdata:c\n\n: comment\nevent: x\ndata\n\n'
seed_text fuzz_ndjson '\0\0\0' '{"a":1}\r\n  \n\n{"b":2}'

# --- Stream assembly: max byte, cuts (none; then two) ------------------------
for d in openai:openai openai:openrouter anthropic:anthropic gemini:gemini ollama:ollama; do
  h=fuzz_stream_${d%%:*}
  for f in $fx/stream/${d#*:}_*; do
    seed "$h" '\0\0' "$f"
    seed "$h" '\0\2\0\11\0\100' "$f"
  done
done
for f in $fx/anthropic/stream_*.sse; do seed fuzz_stream_anthropic '\0\0' "$f"; done
for f in $fx/gemini/stream_*.sse; do seed fuzz_stream_gemini '\0\0' "$f"; done
seed fuzz_stream_ollama '\0\0' $fx/ollama/stream_tool_call.json

# --- Non-streamed parsers: mode 0 (response), mode 1 + status + hint (error) --
for d in openai anthropic gemini ollama; do
  for f in $fx/$d/*.json; do
    case $(basename "$f") in
    request.json) ;;
    error_* | ollama_v1_404.json | openrouter_4*)
      seed "fuzz_codec_$d" '\1\0\35\0' "$f" ;;
    *) seed "fuzz_codec_$d" '\0' "$f" ;;
    esac
  done
done
seed fuzz_codec_openai '\1\0\35\0' $fx/ollama/error_404.json
seed_text fuzz_codec_openai '\1\0\144\0' '<html><body>Bad gateway</body></html>'

# --- Strict JSON: flags, depth, start ------------------------------------------
for f in $fx/openai/*.json $fx/json_schema/*.json $fx/gemini/function_call_response.json; do
  seed fuzz_json_strict '\14\100\0' "$f"
done
seed_text fuzz_json_strict '\17\100\0' '{"a\\u0000b": [1, -0.5e+10, 12345678901234567890, "\\ud83d\\ude00", true, false, null]}'
seed_text fuzz_json_strict '\10\3\2' '  [[[[{"x":[]}]]]]  '
