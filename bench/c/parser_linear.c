/* parser_linear.c - each parser of the core timed on inputs of 64 KB,
 * 256 KB and 1 MB made of realistic repeated content (SSE with many
 * events, a long JSON array, a long ranking text, ...). `make fuzz-linear`
 * runs it; the fuzzers keep inputs small, so this is where a parser that
 * goes quadratic on a big reply would show: the 1 MB / 256 KB ratio of a
 * linear parser is about 4, of a quadratic one about 16.
 *
 * Prints one line per parser: the best of several runs at each size, in
 * milliseconds, and the ratio. Exits 1 when a ratio passes 8. */
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "anthropic_codec.h"
#include "ballot.h"
#include "buf.h"
#include "chat_stream.h"
#include "confidence.h"
#include "gemini_codec.h"
#include "json_schema.h"
#include "json_strict.h"
#include "ndjson.h"
#include "ollama_codec.h"
#include "openai_codec.h"
#include "ranking.h"
#include "reply_json.h"
#include "sse.h"

#define KB 1024
#define RATIO_LIMIT 8.0

/* Builds an input of about `size` bytes: head, then unit repeated, then
 * tail. */
static char *build(size_t size, const char *head, const char *unit,
                   const char *tail, size_t *len) {
  buf b;

  buf_init(&b, 0);
  if (buf_puts(&b, head) != 0)
    abort();
  while (b.len + strlen(unit) + strlen(tail) <= size)
    if (buf_puts(&b, unit) != 0)
      abort();
  if (buf_puts(&b, tail) != 0)
    abort();
  return buf_detach(&b, len);
}

/* --- The parsers, each run once over text[0..len) ------------------------ */

typedef struct input {
  const char *head, *unit, *tail;
} input;

typedef struct parser {
  const char *name;
  input in;
  void (*run)(const char *text, size_t len);
} parser;

static size_t sink; /* keeps the work from being optimised away */

static int count_event(void *ud, const char *event, const char *data,
                       size_t len) {
  (void)ud;
  (void)event;
  (void)data;
  sink += len;
  return 0;
}

static void run_sse(const char *text, size_t len) {
  sse_parser p;

  sse_init(&p, 0, count_event, NULL);
  /* 16 KB chunks, as a socket hands them over. */
  for (size_t at = 0; at < len; at += 16 * KB)
    sse_feed(&p, text + at, len - at < 16 * KB ? len - at : 16 * KB);
  sse_finish(&p);
  sse_free(&p);
}

static int count_line(void *ud, const char *line, size_t len) {
  (void)ud;
  (void)line;
  sink += len;
  return 0;
}

static void run_ndjson(const char *text, size_t len) {
  ndjson_parser p;

  ndjson_init(&p, 0, count_line, NULL);
  for (size_t at = 0; at < len; at += 16 * KB)
    ndjson_feed(&p, text + at, len - at < 16 * KB ? len - at : 16 * KB);
  ndjson_finish(&p);
  ndjson_free(&p);
}

static void run_stream(const chat_codec *codec, const char *text, size_t len) {
  chat_stream *st = chat_stream_new(codec, 0, 0, NULL, NULL);
  chat_response r;
  chat_error e;

  chat_response_init(&r);
  chat_error_init(&e);
  for (size_t at = 0; at < len; at += 16 * KB)
    chat_stream_feed(st, text + at, len - at < 16 * KB ? len - at : 16 * KB);
  if (chat_stream_finish(st, &r, &e) == 0)
    sink += r.content_len;
  else
    fprintf(stderr, "stream failed: %s\n", e.reason), exit(2);
  chat_response_free(&r);
  chat_error_free(&e);
  chat_stream_free(st);
}

static void run_stream_openai(const char *t, size_t n) {
  run_stream(&chat_codec_openai, t, n);
}
static void run_stream_anthropic(const char *t, size_t n) {
  run_stream(&chat_codec_anthropic, t, n);
}
static void run_stream_gemini(const char *t, size_t n) {
  run_stream(&chat_codec_gemini, t, n);
}
static void run_stream_ollama(const char *t, size_t n) {
  run_stream(&chat_codec_ollama, t, n);
}

static void run_response(const chat_codec *codec, const char *text,
                         size_t len) {
  chat_response r;
  chat_error e;

  chat_response_init(&r);
  chat_error_init(&e);
  if (codec->parse_response(text, len, 0, &r, &e) != 0)
    fprintf(stderr, "parse failed: %s\n", e.reason), exit(2);
  sink += r.content_len + r.n_tool_calls;
  chat_response_free(&r);
  chat_error_free(&e);
}

static void run_openai(const char *t, size_t n) {
  run_response(&chat_codec_openai, t, n);
}
static void run_anthropic(const char *t, size_t n) {
  run_response(&chat_codec_anthropic, t, n);
}
static void run_gemini(const char *t, size_t n) {
  run_response(&chat_codec_gemini, t, n);
}
static void run_ollama(const char *t, size_t n) {
  run_response(&chat_codec_ollama, t, n);
}

static void run_error(const char *text, size_t len) {
  chat_error e;

  chat_error_init(&e);
  openai_parse_error(429, text, len, -1, &e);
  sink += e.message ? strlen(e.message) : 0;
  chat_error_free(&e);
}

static void run_strict(const char *text, size_t len) {
  json_strict_notes notes;
  json_strict_opts opts = {
      .max_depth = 64, .flags = JSON_STRICT_WHOLE, .notes = &notes};
  size_t end, at;
  const char *err;

  memset(&notes, 0, sizeof(notes));
  if (json_strict_read(text, len, 0, &opts, &end, &at, &err) != 0)
    fprintf(stderr, "strict: %s at %zu\n", err, at), exit(2);
  sink += notes.nodes;
  json_strict_notes_free(&notes);
}

static json_schema *array_schema;

static void run_schema(const char *text, size_t len) {
  json_schema_errors errs;

  json_schema_errors_init(&errs);
  if (json_schema_validate(array_schema, text, len, &errs) != 0)
    fprintf(stderr, "schema: %s\n", errs.items[0].message), exit(2);
  json_schema_errors_free(&errs);
}

static void run_extract(const char *text, size_t len) {
  size_t start, end;

  json_extract_reply(text, len, &start, &end);
  sink += end - start;
}

static const char *const LABELS[] = {"Response A", "Response B", "Response C"};

static void run_ranking(const char *text, size_t len) {
  ranking_result r;

  if (ranking_parse(text, len, LABELS, 3, NULL, 0, &r) != 0)
    fprintf(stderr, "ranking: %s\n", r.reason), exit(2);
  sink += r.n_order;
  ranking_result_free(&r);
}

static void run_vote(const char *text, size_t len) {
  static const char *const options[] = {"A", "B", "C"};
  ballot_vote v;

  if (ballot_parse_vote(text, len, options, 3, &v) != 0)
    fprintf(stderr, "vote: %s\n", v.reason), exit(2);
  sink += (size_t)v.choice;
  ballot_vote_free(&v);
}

static void run_pair(const char *text, size_t len) {
  int winner;

  if (ballot_parse_pair(text, len, "A", "B", &winner) != 0)
    fprintf(stderr, "pair: unreadable\n"), exit(2);
  sink += (size_t)winner;
}

static void run_confidence(const char *text, size_t len) {
  double v;
  size_t keep;

  if (confidence_self_report(text, len, &v, &keep) != 0)
    fprintf(stderr, "confidence: no trailer\n"), exit(2);
  sink += keep;
}

#define PROSE "The answer weighs both options; see the second point.\n"

static const parser PARSERS[] = {
    {"sse (openai chunks)",
     {"",
      "data: {\"id\":\"c\",\"choices\":[{\"index\":0,\"delta\":{\"content\":"
      "\"Hello\"}}]}\n\n",
      "data: [DONE]\n\n"},
     run_sse},
    {"ndjson (ollama lines)",
     {"",
      "{\"model\":\"llama3\",\"message\":{\"role\":\"assistant\",\"content\":"
      "\"Hi\"},\"done\":false}\n",
      "{\"model\":\"llama3\",\"done\":true}\n"},
     run_ndjson},
    {"chat_stream openai",
     {"",
      "data: {\"id\":\"c\",\"choices\":[{\"index\":0,\"delta\":{\"content\":"
      "\"Hello\"}}]}\n\n",
      "data: {\"id\":\"c\",\"choices\":[{\"index\":0,\"delta\":{},"
      "\"finish_reason\":\"stop\"}]}\n\ndata: [DONE]\n\n"},
     run_stream_openai},
    {"chat_stream anthropic",
     {"event: message_start\ndata: {\"type\":\"message_start\",\"message\":"
      "{\"model\":\"claude\",\"usage\":{\"input_tokens\":5}}}\n\n"
      "event: content_block_start\ndata: {\"type\":\"content_block_start\","
      "\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n",
      "event: content_block_delta\ndata: {\"type\":\"content_block_delta\","
      "\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"Hello\"}}\n\n",
      "event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":"
      "{\"stop_reason\":\"end_turn\"},\"usage\":{\"output_tokens\":9}}\n\n"
      "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n"},
     run_stream_anthropic},
    {"chat_stream gemini",
     {"",
      "data: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"Hello\"}],"
      "\"role\":\"model\"},\"index\":0}]}\r\n\r\n",
      "data: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":\".\"}],"
      "\"role\":\"model\"},\"finishReason\":\"STOP\",\"index\":0}]}\r\n\r\n"},
     run_stream_gemini},
    {"chat_stream ollama",
     {"",
      "{\"model\":\"llama3\",\"message\":{\"role\":\"assistant\",\"content\":"
      "\"Hi\"},\"done\":false}\n",
      "{\"model\":\"llama3\",\"message\":{\"role\":\"assistant\",\"content\":"
      "\"\"},\"done\":true,\"done_reason\":\"stop\"}\n"},
     run_stream_ollama},
    {"openai_parse_response",
     {"{\"id\":\"c\",\"model\":\"gpt\",\"choices\":[{\"index\":0,\"message\":"
      "{\"role\":\"assistant\",\"content\":\"",
      "Hello \\\"world\\\" \\u00e9\\n", "\"},\"finish_reason\":\"stop\"}]}"},
     run_openai},
    {"anthropic_parse_response",
     {"{\"type\":\"message\",\"model\":\"claude\",\"content\":[",
      "{\"type\":\"text\",\"text\":\"Hello there. \"},",
      "{\"type\":\"text\",\"text\":\"End.\"}],\"stop_reason\":\"end_turn\"}"},
     run_anthropic},
    {"gemini_parse_response",
     {"{\"candidates\":[{\"content\":{\"role\":\"model\",\"parts\":[",
      "{\"text\":\"Hello there. \"},",
      "{\"text\":\"End.\"}]},\"finishReason\":\"STOP\"}]}"},
     run_gemini},
    {"ollama_parse_response",
     {"{\"model\":\"llama3\",\"message\":{\"role\":\"assistant\","
      "\"content\":\"",
      "Hello \\\"world\\\"\\n", "\"},\"done\":true}"},
     run_ollama},
    {"openai_parse_error",
     {"{\"error\":{\"type\":\"rate_limit\",\"message\":\"", "Slow down. ",
      "\"}}"},
     run_error},
    {"json_strict_read (array)",
     {"[", "{\"id\":12345,\"name\":\"caf\\u00e9\",\"ok\":true,\"x\":-1.5e3},",
      "null]"},
     run_strict},
    {"json_schema_validate (array)",
     {"[", "{\"id\":12345,\"name\":\"caf\\u00e9\",\"ok\":true},",
      "{\"id\":0,\"name\":\"\",\"ok\":false}]"},
     run_schema},
    {"json_extract_reply (prose + fence)",
     {"", PROSE, "```json\n{\"verdict\": \"yes\"}\n```\n"},
     run_extract},
    {"json_extract_reply (many braces)",
     {"", "see {a} and [b, {c: d}] here\n", "{\"verdict\": \"yes\"}"},
     run_extract},
    {"ranking_parse (prose + list)",
     {"", PROSE, "FINAL RANKING:\n1. Response C\n2. Response A\n3. Response B"},
     run_ranking},
    {"ranking_parse (many lists)",
     {"", "FINAL RANKING:\n1. Response C\n2. Response A\n3. Response B\n\n",
      ""},
     run_ranking},
    {"ballot_parse_vote (prose + line)",
     {"", PROSE, "FINAL VOTE: B"},
     run_vote},
    {"ballot_parse_vote (many objects)",
     {"", "{\"note\": 1} [2] {\"x\": {\"y\": 3}}\n", "\nVOTE: B"},
     run_vote},
    {"ballot_parse_pair (prose + line)", {"", PROSE, "WINNER: A"}, run_pair},
    {"confidence_self_report",
     {"", PROSE, "\n{\"confidence\": 0.8}\n"},
     run_confidence},
    {"confidence_self_report (many {)",
     {"", "{\"confidence\": 0.5} {\n", "\n{\"confidence\": 0.8}"},
     run_confidence},
};

static double now_ms(void) {
  struct timespec ts;

  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* The best time of at least 5 runs and 200 ms of runs. */
static double time_one(const parser *p, size_t size) {
  size_t len;
  char *text = build(size, p->in.head, p->in.unit, p->in.tail, &len);
  double best = 1e30, spent = 0;

  for (int i = 0; i < 5 || spent < 200; i++) {
    double t0 = now_ms(), dt;

    p->run(text, len);
    dt = now_ms() - t0;
    spent += dt;
    if (dt < best)
      best = dt;
  }
  free(text);
  return best;
}

/* parser_linear [NAME]: every parser, or those whose name holds NAME. */
int main(int argc, char **argv) {
  static const char schema[] =
      "{\"type\":\"array\",\"items\":{\"type\":\"object\",\"properties\":"
      "{\"id\":{\"type\":\"integer\",\"minimum\":0},\"name\":{\"type\":"
      "\"string\",\"maxLength\":40},\"ok\":{\"type\":\"boolean\"}},"
      "\"required\":[\"id\",\"name\"],\"additionalProperties\":false}}";
  char why[200];
  int bad = 0;

  /* Big buffers come from the heap and stay there between runs: otherwise
   * each run of a 1 MB input takes fresh pages from mmap, and on a VM their
   * page faults cost more than the parsing being timed. */
  mallopt(M_MMAP_THRESHOLD, 256 << 20);
  mallopt(M_TRIM_THRESHOLD, 512 << 20);
  array_schema = json_schema_compile(schema, strlen(schema), why, sizeof(why));
  if (array_schema == NULL)
    return fprintf(stderr, "schema: %s\n", why), 2;
  printf("%-38s %9s %9s %9s %8s\n", "parser", "64KB ms", "256KB ms", "1MB ms",
         "1M/256K");
  for (size_t i = 0; i < sizeof(PARSERS) / sizeof(PARSERS[0]); i++) {
    const parser *p = &PARSERS[i];
    double t64, t256, t1m, ratio;

    if (argc > 1 && strstr(p->name, argv[1]) == NULL)
      continue;
    t64 = time_one(p, 64 * KB);
    t256 = time_one(p, 256 * KB);
    t1m = time_one(p, 1024 * KB);
    ratio = t1m / t256;

    printf("%-38s %9.3f %9.3f %9.3f %8.2f%s\n", p->name, t64, t256, t1m, ratio,
           ratio > RATIO_LIMIT ? "  NOT LINEAR" : "");
    bad |= ratio > RATIO_LIMIT;
  }
  json_schema_free(array_schema);
  return bad || sink == 0;
}
