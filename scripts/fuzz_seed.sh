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
  { printf -- "$2"; if [ "$3" = - ]; then cat; else cat "$3"; fi; } >"$tmp"
  mv "$tmp" "$dir/$(sha1sum "$tmp" | cut -c1-40)"
}

# seed_text HARNESS PREFIX TEXT: the body is TEXT as printf writes it.
seed_text() {
  printf -- "$3" | seed "$1" "$2" -
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

# --- JSON written and read back: mode, text ----------------------------------
seed_text fuzz_json_roundtrip '\0' 'plain text, "quotes", \\ backslash, \t tab, \xe2\x80\xa8 line sep, \xf0\x9f\x98\x80'
seed_text fuzz_json_roundtrip '\200' '\x01\x1f\x7f \xc3\xa9'
printf '\1\232\231\231\231\231\231\271\77' | seed fuzz_json_roundtrip '' -
printf '\101\0\0\0\0\0\0\360\77' | seed fuzz_json_roundtrip '' -
seed_text fuzz_json_roundtrip '\2' '{"type":"object","properties":{"a":{"type":"integer"}}}'
seed_text fuzz_json_roundtrip '\102' '{"city": "Paris", "n": [1, 2.5, -0, 1e999]}'

# --- Finding the reply's JSON: accept rule, reply ----------------------------
for f in $fx/json_schema/vote_reply_* $fx/llm_council/markdown_reply.txt; do
  seed fuzz_reply_json '\0' "$f"
  seed fuzz_reply_json '\203' "$f"
done
seed_text fuzz_reply_json '\0' 'Sure! {"a": 1} and then [1, 2]\n~~~json\n{"b": 2}\n~~~\n````\n```json\nnot this\n````\n'
seed_text fuzz_reply_json '\5' '  ```JSON  \n[1,\n 2]\n   ```\n{"choice": "B"}'

# --- JSON Schema: schema byte + reply; room + reply byte + schema -------------
for i in 0 1 2 3 4 5; do
  for f in $fx/json_schema/vote_reply_*; do seed fuzz_schema_reply "\\$i" "$f"; done
done
seed_text fuzz_schema_reply '\2' '[1, null, 3]'
seed_text fuzz_schema_reply '\3' '"abc"'
seed_text fuzz_schema_reply '\3' '{"k": [true]}'
seed_text fuzz_schema_reply '\4' '{"verdict": "yes", "score": 10, "note": "x"}'
seed fuzz_schema_compile '\100\12' $fx/json_schema/vote.schema.json
seed_text fuzz_schema_compile '\20\3' '{"type":["string","null"],"minLength":1,"maxLength":3,"enum":["a","bb",null]}'
seed_text fuzz_schema_compile '\77\10' '{"type":"array","items":{"anyOf":[{"type":"integer","minimum":0,"exclusiveMaximum":10},{"const":"x"}]},"minItems":2}'
seed_text fuzz_schema_compile '\10\0' '{"type":"object","properties":{"a":{"$ref":"#"}},"pattern":"x"}'
seed_text fuzz_schema_compile '\377\4' 'true'

# --- Rankings: shape (labels), expected mask, reply --------------------------
for f in $fx/llm_council/*.txt; do
  seed fuzz_ranking '\22\0' "$f"
  seed fuzz_ranking '\2\3' "$f"
done
seed_text fuzz_ranking '\32\0' '**FINAL RANKING:**\n1) gamma - best\n2. alpha\n3. beta\n'
seed_text fuzz_ranking '\23\0' '```json\n{"ranking": ["Response B", "Response A", "Response D", "Response C"]}\n```'
seed_text fuzz_ranking '\33\0' '["m10", "m1", "alpha", "beta"]'

# --- Ballots: mode (vote/pair, option set), reply ----------------------------
seed_text fuzz_ballot '\0' '{"choice": "B", "rationale": "clearer", "confidence": "0.8"}'
seed_text fuzz_ballot '\2' 'After thinking it over...\n\n**FINAL VOTE:**\n`Yes, but`.\n'
seed_text fuzz_ballot '\4' 'VOTE:\n\n  [gpt-4o]\n'
seed_text fuzz_ballot '\1' '{"winner": "A", "choice": "a"}'
seed_text fuzz_ballot '\3' 'Response B is better.\n\nWINNER: beta'
seed_text fuzz_ballot '\5' 'FINAL WINNER: gpt-4o-mini'

# --- Confidence: mode, text --------------------------------------------------
seed_text fuzz_confidence '\0' 'The Nile.\n{"confidence": 0.85}\n'
seed_text fuzz_confidence '\1' 'The Nile, in Africa.\n\n```json\n{"confidence": "0.9"}\n```'
seed_text fuzz_confidence '\0' 'Amazon\n{\n  "confidence": 80\n}'
seed_text fuzz_confidence '\2' '"1e-1"'
seed_text fuzz_confidence '\2' '-0.0'
printf '\3\0\0\0\0\0\0\340\277\232\231\231\231\231\231\271\277' | seed fuzz_confidence '' -

# --- External term format: the term's bytes ----------------------------------
seed_text fuzz_etf '' '\203n\11\0\0\0\0\0\0\0\0\0\1'
seed_text fuzz_etf '' '\203n\10\1\377\377\377\377\377\377\377\377'
seed_text fuzz_etf '' '\203o\0\0\0\3\1\1\2\3'
seed_text fuzz_etf '' '\203w\5h\xc3\xa9llo'
seed_text fuzz_etf '' '\203v\0\3abc'

# --- Aggregators: kind, n, tie, include_self, seed, ballots ------------------
seed_text fuzz_aggregate '\1\3\0\0\7' '\2\310\3\240\2\1\4\310'
seed_text fuzz_aggregate '\2\4\1\0\7' '\2\12\3\240\2\377\5\0\6\310'
seed_text fuzz_aggregate '\4\4\0\0\0' '\1\4\1\2\3\4\2\3\2\1\4\0\2\4\2\1'
seed_text fuzz_aggregate '\5\3\2\0\0' '\0\3\1\2\3\0\3\2\3\1\0\3\3\1\2'
seed_text fuzz_aggregate '\6\4\1\1\11' '\1\4\1\2\3\4\2\2\3\3\3\3\3\4\1'

# --- The round loop's reply path: seat byte, round byte, logprob byte, reply ---
seed_text fuzz_round_reply '\11\0\0' '{"confidence": 0}'
seed_text fuzz_round_reply '\11\0\0' '{"answer": 42}\n{"confidence": 0.9}'
seed_text fuzz_round_reply '\14\0\0' 'Sure:\n```json\n{"verdict": "yes"}\n```\n\n```json\n{"confidence": 0.4}\n```'
seed_text fuzz_round_reply '\51\1\0' 'FINAL RANKING:\n1. gamma\n2. beta\n3. alpha\n{"confidence": 0.8}'
seed_text fuzz_round_reply '\10\32\0' '{"choice": "no", "confidence": 0.3}'
seed_text fuzz_round_reply '\20\2\40' '{"choice": "beta"}'
seed_text fuzz_round_reply '\0\3\0' 'FINAL RANKING:\n1. Response A\n2. Response B'
seed_text fuzz_round_reply '\13\104\0' '[1, 2, 3]\n{"confidence": "0.5"}'

# --- What the fuzzers found, cut down: kept as seeds so every pass retries them --
# tool call arguments cJSON takes but the strict reader refuses (8d70853)
seed_text fuzz_stream_openai '\0\0' 'data: {"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"c1","type":"function","function":{"name":"f","arguments":"\x14\x14{\\"a\\": 01}"}}]}}]}\n\ndata: {"choices":[{"index":0,"delta":{},"finish_reason":"tool_calls"}]}\n\ndata: [DONE]\n\n'
seed_text fuzz_stream_anthropic '\0\0' 'event: content_block_start\ndata: {"type":"content_block_start","index":0,"content_block":{"type":"tool_use","id":"t1","name":"f","input":{}}}\n\nevent: content_block_delta\ndata: {"type":"content_block_delta","index":0,"delta":{"type":"input_json_delta","partial_json":"{\\"u\\": \\"f\x17\\"}"}}\n\nevent: message_stop\ndata: {"type":"message_stop"}\n\n'
# a duplicate property after a merged one: freed twice (63a3f02)
seed_text fuzz_schema_compile '\100\0' '{"properties":{"b":{},"c":{"type":"string"},"c":{}},"required":["b"]}'
