-- wrk script for bench/council_bench.exs: POSTs a chat-completions request
-- shaped and sized like one council member's call (~300 bytes of JSON).
--
--   wrk -t1 -c64 -d10s -s bench/post.lua http://127.0.0.1:PORT/v1/chat/completions
--
-- The bench sets BENCH_BODY to the exact body the other clients send; the
-- default below keeps the script usable on its own.

local default_body = '{"model":"bench-model-1","messages":[{"role":"user","content":'
  .. '"Our team must choose between rewriting the billing service in Rust or '
  .. 'incrementally refactoring the existing Java code. Weigh delivery risk, '
  .. 'hiring, runtime cost and correctness, then recommend one path with the '
  .. 'three most important reasons."}]}'

wrk.method = "POST"
wrk.body = os.getenv("BENCH_BODY") or default_body
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer bench-key"
