/* test_anthropic_gemini_streams.c - the Anthropic and Gemini stream codecs
 * through the real stream assembly.
 *
 * Every body goes to chat_stream_new(&chat_codec_anthropic or
 * &chat_codec_gemini) through stream_split_check, which feeds it whole,
 * split at every offset, a byte at a time and in random chunkings, and
 * asserts the outcome is the same each time. The tests then assert that
 * outcome: the assembled chat_response (text, tool calls, stop, usage,
 * model) or chat_error, and the deltas on_text saw. Bodies are the vectors
 * in test/fixtures/anthropic, gemini and stream, hostile variants of them,
 * and streamed forms of non-streamed vectors, whose result must equal what
 * the codec's parse_response gives for the whole body. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>
#include <criterion/criterion.h>

#include "anthropic_codec.h"
#include "buf.h"
#include "chat.h"
#include "chat_stream.h"
#include "codec.h"
#include "fixtures.h"
#include "gemini_codec.h"
#include "stream_split.h"

#define N_ELEMS(a) (sizeof(a) / sizeof((a)[0]))

static const chat_codec *const anthropic = &chat_codec_anthropic;
static const chat_codec *const gemini = &chat_codec_gemini;

/* --- Bodies -------------------------------------------------------------- */

/* One SSE event, named or not. */
#define EV(name, json) "event: " name "\ndata: " json "\n\n"
#define DATA(json) "data: " json "\n\n"

/* Anthropic events, as the API sends them. */
#define A_START(model, in)                                                     \
  EV("message_start",                                                          \
     "{\"type\":\"message_start\",\"message\":{\"model\":\"" model             \
     "\",\"usage\":{\"input_tokens\":" #in ",\"output_tokens\":1}}}")
#define A_TEXT_BLOCK(idx)                                                      \
  EV("content_block_start",                                                    \
     "{\"type\":\"content_block_start\",\"index\":" #idx                       \
     ",\"content_block\":{\"type\":\"text\","                                  \
     "\"text\":\"\"}}")
#define A_TEXT(idx, s)                                                         \
  EV("content_block_delta",                                                    \
     "{\"type\":\"content_block_delta\",\"index\":" #idx                       \
     ",\"delta\":{\"type\":\"text_delta\","                                    \
     "\"text\":\"" s "\"}}")
#define A_TOOL(idx, id, name)                                                  \
  EV("content_block_start",                                                    \
     "{\"type\":\"content_block_start\",\"index\":" #idx                       \
     ",\"content_block\":{\"type\":\"tool_use\","                              \
     "\"id\":\"" id "\",\"name\":\"" name "\",\"input\":{}}}")
/* frag is JSON text escaped for a JSON string: "{\\\"x\\\":1}" */
#define A_ARGS(idx, frag)                                                      \
  EV("content_block_delta",                                                    \
     "{\"type\":\"content_block_delta\",\"index\":" #idx                       \
     ",\"delta\":{\"type\":\"input_json_delta\","                              \
     "\"partial_json\":\"" frag "\"}}")
#define A_BLOCK_STOP(idx)                                                      \
  EV("content_block_stop",                                                     \
     "{\"type\":\"content_block_stop\",\"index\":" #idx "}")
#define A_DELTA(reason, out)                                                   \
  EV("message_delta", "{\"type\":\"message_delta\",\"delta\":{"                \
                      "\"stop_reason\":\"" reason "\"},\"usage\":{"            \
                      "\"output_tokens\":" #out "}}")
#define A_END EV("message_stop", "{\"type\":\"message_stop\"}")

/* Gemini alt=sse chunks. */
#define G_TEXT(s)                                                              \
  DATA("{\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"" s "\"}],"      \
       "\"role\":\"model\"}}]}")
#define G_FINISH(raw) DATA("{\"candidates\":[{\"finishReason\":\"" raw "\"}]}")

/* body as SSE: each line of it one `data:` line, then a blank line. This
 * is how a non-streamed body (pretty-printed or not) would come as one
 * alt=sse chunk: the SSE parser joins the lines with LF again. */
static void sse_frame(const char *body, size_t len, buf *out) {
  size_t start = 0, i;

  buf_init(out, 0);
  while (len > 0 && body[len - 1] == '\n')
    len--;
  for (i = 0; i <= len; i++) {
    if (i == len || body[i] == '\n') {
      cr_assert_eq(buf_puts(out, "data: "), 0);
      cr_assert_eq(buf_append(out, body + start, i - start), 0);
      cr_assert_eq(buf_puts(out, "\n"), 0);
      start = i + 1;
    }
  }
  cr_assert_eq(buf_puts(out, "\n"), 0);
}

/* body with every LF turned into CRLF. */
static void to_crlf(const char *body, size_t len, buf *out) {
  size_t i;

  buf_init(out, 0);
  for (i = 0; i < len; i++) {
    if (body[i] == '\n')
      cr_assert_eq(buf_append(out, "\r", 1), 0);
    cr_assert_eq(buf_append(out, body + i, 1), 0);
  }
}

/* --- Running and checking ------------------------------------------------ */

#define CHECK(codec, lit, o) STREAM_SPLIT_CHECK((codec), lit, (o))

/* test/fixtures/<name> through codec under every chunking; the outcome of
 * the whole body in *o. */
static void check_fixture(const chat_codec *codec, const char *name,
                          stream_outcome *o) {
  size_t len;
  char *body = fixture_load(name, &len);

  stream_split_check(codec, 0, body, len, o);
  free(body);
}

/* chat_stream_text_cb: logs each delta as "[text]". */
static void log_delta(void *ud, const char *text, size_t len) {
  cr_assert_eq(buf_printf(ud, "[%.*s]", (int)len, text), 0);
}

/* Asserts the deltas on_text gets when body is fed whole, each as
 * "[text]". stream_split_check has already shown that no chunking changes
 * them. */
static void expect_deltas(const chat_codec *codec, const char *body, size_t len,
                          const char *want) {
  chat_stream *st;
  chat_response r;
  chat_error e;
  char *copy = fixture_exact_copy(body, len);
  buf log;

  buf_init(&log, 0);
  chat_error_init(&e);
  st = chat_stream_new(codec, 0, 0, log_delta, &log);
  cr_assert_not_null(st);
  chat_stream_feed(st, copy, len);
  chat_stream_finish(st, &r, &e);
  cr_assert_str_eq(log.len > 0 ? log.data : "", want);
  chat_response_free(&r);
  chat_error_free(&e);
  chat_stream_free(st);
  buf_free(&log);
  free(copy);
}

#define EXPECT_DELTAS(codec, lit, want)                                        \
  expect_deltas((codec), (lit), sizeof(lit) - 1, (want))

static void expect_fixture_deltas(const chat_codec *codec, const char *name,
                                  const char *want) {
  size_t len;
  char *body = fixture_load(name, &len);

  expect_deltas(codec, body, len, want);
  free(body);
}

/* What on_text saw before the stream failed. */
static void expect_text_seen(const stream_outcome *o, const char *text) {
  cr_assert_eq(o->text.len, strlen(text), "on_text saw %zu bytes", o->text.len);
  if (o->text.len > 0)
    cr_assert(memcmp(o->text.data, text, o->text.len) == 0);
}

static void expect_json_eq(const char *text, size_t len, const char *want) {
  cJSON *a = cJSON_ParseWithLength(text, len), *b = cJSON_Parse(want);

  cr_assert_not_null(a, "not JSON: %.*s", (int)len, text);
  cr_assert_not_null(b);
  cr_assert(cJSON_Compare(a, b, 1), "%.*s != %s", (int)len, text, want);
  cJSON_Delete(a);
  cJSON_Delete(b);
}

/* The body with one event spliced in: before, then `event: name` (unless
 * name is NULL) and `data: ` data[0..len), then after. */
static void splice(const char *before, const char *name, const char *data,
                   size_t len, const char *after, buf *out) {
  buf_init(out, 0);
  cr_assert_eq(buf_puts(out, before), 0);
  if (name != NULL)
    cr_assert_eq(buf_printf(out, "event: %s\n", name), 0);
  cr_assert_eq(buf_puts(out, "data: "), 0);
  cr_assert_eq(buf_append(out, data, len), 0);
  cr_assert_eq(buf_puts(out, "\n\n"), 0);
  cr_assert_eq(buf_puts(out, after), 0);
}

/* --- Streamed against non-streamed --------------------------------------- */

static int str_same(const char *a, const char *b) {
  return (a == NULL && b == NULL) ||
         (a != NULL && b != NULL && strcmp(a, b) == 0);
}

/* Asserts a stream's outcome is what codec->parse_response gives for the
 * whole body: every field the same, and on_text saw exactly the content.
 * Tool arguments are compared as JSON values: a stream carries them as
 * the provider's text, a whole body as an object the codec prints
 * compactly. skip_logprob leaves out the mean logprob, which no stream
 * event carries (see the Gemini test). */
static void expect_same_as_unary(const chat_codec *codec,
                                 const stream_outcome *o, const char *body,
                                 size_t len, int skip_logprob) {
  char *copy = fixture_exact_copy(body, len);
  chat_response u;
  chat_error e;
  size_t i;

  chat_error_init(&e);
  cr_assert_eq(codec->parse_response(copy, len, 0, &u, &e), 0,
               "the whole body does not parse: %s", e.reason);
  expect_ok(o);
  cr_assert_eq(o->resp.content_len, u.content_len);
  cr_assert(memcmp(o->resp.content, u.content, u.content_len) == 0,
            "content: %s != %s", o->resp.content, u.content);
  expect_content(o, u.content);
  cr_assert(str_same(o->resp.model, u.model), "model: %s != %s", o->resp.model,
            u.model);
  cr_assert(str_same(o->resp.finish_reason, u.finish_reason),
            "finish_reason: %s != %s", o->resp.finish_reason, u.finish_reason);
  cr_assert_eq(o->resp.stop, u.stop, "stop: %s != %s",
               chat_stop_name(o->resp.stop), chat_stop_name(u.stop));
  cr_assert_eq(o->resp.input_tokens, u.input_tokens);
  cr_assert_eq(o->resp.output_tokens, u.output_tokens);
  cr_assert_eq(o->resp.has_cost, u.has_cost);
  cr_assert(o->resp.cost == u.cost);
  if (!skip_logprob) {
    cr_assert_eq(o->resp.has_logprob, u.has_logprob);
    cr_assert(o->resp.logprob == u.logprob);
  }
  cr_assert_eq(o->resp.n_tool_calls, u.n_tool_calls);
  for (i = 0; i < u.n_tool_calls; i++) {
    const chat_tool_call *s = &o->resp.tool_calls[i], *w = &u.tool_calls[i];

    cr_assert_str_eq(s->id, w->id, "call %zu", i);
    cr_assert_str_eq(s->name, w->name, "call %zu", i);
    expect_json_eq(s->arguments, s->arguments_len, w->arguments);
  }
  chat_response_free(&u);
  chat_error_free(&e);
  free(copy);
}

/* The same for a failure: the stream's error against the one
 * parse_response gives for an error object in a 2xx body. skip_code
 * leaves out the error code, which chat_stream_fail does not take. */
static void expect_same_error_as_unary(const chat_codec *codec,
                                       const stream_outcome *o,
                                       const char *body, size_t len,
                                       int skip_code) {
  char *copy = fixture_exact_copy(body, len);
  chat_response u;
  chat_error e;

  chat_error_init(&e);
  cr_assert_eq(codec->parse_response(copy, len, 0, &u, &e), -1);
  cr_assert_eq(o->rc, -1);
  cr_assert_eq(o->err.kind, e.kind);
  cr_assert_str_eq(o->err.reason, e.reason);
  cr_assert(str_same(o->err.type, e.type), "type: %s != %s", o->err.type,
            e.type);
  cr_assert(str_same(o->err.message, e.message), "message: %s != %s",
            o->err.message, e.message);
  if (!skip_code)
    cr_assert(str_same(o->err.code, e.code));
  cr_assert_eq(o->err.http_status, e.http_status);
  cr_assert_eq(o->err.retry_after_ms, e.retry_after_ms);
  chat_error_free(&e);
  free(copy);
}

static void expect_fixture_same_as_unary(const chat_codec *codec,
                                         const stream_outcome *o,
                                         const char *name, int skip_logprob) {
  size_t len;
  char *body = fixture_load(name, &len);

  expect_same_as_unary(codec, o, body, len, skip_logprob);
  free(body);
}

/* --- Truncation ---------------------------------------------------------- */

/* Feeds every prefix of test/fixtures/<name> (whole; the full body went
 * through every chunking already). Until the line end of the last data
 * line, the stream is cut short of its end marker (Gemini's: the
 * finishReason, or an error): truncated_stream, with on_text having seen
 * a prefix of the full text. From there on it is the full outcome. */
static void every_prefix(const chat_codec *codec, const char *name) {
  size_t len, p;
  char *body = fixture_load(name, &len);
  stream_outcome full;

  cr_assert(len >= 2 && body[len - 1] == '\n' && body[len - 2] == '\n');
  stream_split_check(codec, 0, body, len, &full);
  for (p = 0; p <= len; p++) {
    stream_outcome o;
    char how[64];

    stream_run(codec, 0, body, p, NULL, 0, &o);
    snprintf(how, sizeof(how), "%s cut at %zu", name, p);
    if (p < len - 1) {
      cr_assert_eq(o.rc, -1, "%s", how);
      cr_assert_str_eq(o.err.reason, "truncated_stream", "%s", how);
      cr_assert_eq(o.err.kind, CHAT_ERR_TRANSIENT, "%s", how);
      cr_assert_not(o.feed_failed, "%s", how);
      cr_assert_leq(o.text.len, full.text.len, "%s", how);
      if (o.text.len > 0)
        cr_assert(memcmp(o.text.data, full.text.data, o.text.len) == 0, "%s",
                  how);
    } else {
      /* Cut before its blank line, the last event is dispatched by
       * chat_stream_finish, not by a feed. */
      if (p == len - 1)
        o.feed_failed = full.feed_failed;
      stream_assert_same(&full, &o, how);
    }
    stream_outcome_free(&o);
  }
  stream_outcome_free(&full);
  free(body);
}

/* The copies of a vector in test/fixtures/stream (for the framing tests)
 * are the same bytes as the dialect's, so they give the same result. */
static void expect_same_file(const char *a, const char *b) {
  size_t len_a, len_b;
  char *x = fixture_load(a, &len_a), *y = fixture_load(b, &len_b);

  cr_assert(len_a == len_b && memcmp(x, y, len_a) == 0, "%s differs from %s", b,
            a);
  free(x);
  free(y);
}

/* --- Anthropic: the vectors ---------------------------------------------- */

Test(anthropic_stream, basic_vector) {
  static const char *const copies[] = {"anthropic/stream_basic.sse",
                                       "stream/anthropic_basic.sse"};
  stream_outcome o;

  check_fixture(anthropic, copies[0], &o);
  expect_ok(&o);
  expect_content(&o, "Hello!");
  cr_assert_eq(o.n_deltas, 2);
  cr_assert_str_eq(o.resp.model, "claude-sonnet-4-5-20250929");
  cr_assert_str_eq(o.resp.finish_reason, "end_turn");
  cr_assert_eq(o.resp.stop, CHAT_STOP_END);
  /* input from message_start; output from message_delta, cumulative */
  cr_assert_eq(o.resp.input_tokens, 25);
  cr_assert_eq(o.resp.output_tokens, 15);
  cr_assert_eq(o.resp.n_tool_calls, 0);
  cr_assert_null(o.resp.tool_calls);
  cr_assert_eq(o.resp.has_cost, 0);
  cr_assert_eq(o.resp.has_logprob, 0);
  expect_fixture_deltas(anthropic, copies[0], "[Hello][!]");
  expect_same_file(copies[0], copies[1]);
  stream_outcome_free(&o);
}

Test(anthropic_stream, tool_use_vector) {
  static const char *const copies[] = {"anthropic/stream_tool_use.sse",
                                       "stream/anthropic_tool_use.sse"};
  stream_outcome o;

  check_fixture(anthropic, copies[0], &o);
  expect_ok(&o);
  expect_content(&o, "");
  cr_assert_eq(o.n_deltas, 0);
  cr_assert_eq(o.resp.n_tool_calls, 1);
  /* The fragments joined as sent (the first one is empty). */
  expect_call(&o.resp.tool_calls[0], "toolu_01T1x1fJ34qAmk2tNTrN7Up6",
              "get_weather",
              "{\"location\": \"San Francisco, CA\", \"unit\": "
              "\"fahrenheit\"}");
  cr_assert_eq(o.resp.stop, CHAT_STOP_TOOL_CALLS);
  cr_assert_str_eq(o.resp.finish_reason, "tool_use");
  /* The fragment has no message_start: no model, no input count. */
  cr_assert_null(o.resp.model);
  cr_assert_eq(o.resp.input_tokens, -1);
  cr_assert_eq(o.resp.output_tokens, 89);
  expect_same_file(copies[0], copies[1]);
  stream_outcome_free(&o);
}

Test(anthropic_stream, error_vector) {
  static const char *const copies[] = {"anthropic/stream_error.sse",
                                       "stream/anthropic_error.sse"};
  stream_outcome o;

  check_fixture(anthropic, copies[0], &o);
  expect_fail(&o, CHAT_ERR_TRANSIENT, "provider_error");
  cr_assert_str_eq(o.err.type, "overloaded_error");
  cr_assert_str_eq(o.err.message, "Overloaded");
  cr_assert_null(o.err.code);
  cr_assert(o.feed_failed);
  cr_assert_eq(o.n_deltas, 0);
  assert_response_empty(&o.resp);
  expect_same_file(copies[0], copies[1]);
  stream_outcome_free(&o);
}

Test(anthropic_stream, vectors_with_crlf_line_ends) {
  static const char *const files[] = {
      "anthropic/stream_basic.sse", "anthropic/stream_tool_use.sse",
      "anthropic/stream_error.sse", "anthropic/stream_tool_use_response.sse"};
  size_t i;

  for (i = 0; i < N_ELEMS(files); i++) {
    stream_outcome lf, crlf;
    size_t len;
    char *body = fixture_load(files[i], &len);
    buf b;

    to_crlf(body, len, &b);
    stream_run(anthropic, 0, body, len, NULL, 0, &lf);
    stream_split_check(anthropic, 0, b.data, b.len, &crlf);
    stream_assert_same(&lf, &crlf, files[i]);
    stream_outcome_free(&lf);
    stream_outcome_free(&crlf);
    buf_free(&b);
    free(body);
  }
}

Test(anthropic_stream, every_prefix_of_the_vectors) {
  every_prefix(anthropic, "anthropic/stream_basic.sse");
  every_prefix(anthropic, "anthropic/stream_tool_use.sse");
  every_prefix(anthropic, "anthropic/stream_error.sse");
  every_prefix(anthropic, "anthropic/stream_tool_use_response.sse");
}

/* --- Anthropic: streamed equals non-streamed ----------------------------- */

Test(anthropic_stream, basic_vector_equals_its_message) {
  stream_outcome o;

  check_fixture(anthropic, "anthropic/stream_basic.sse", &o);
  expect_fixture_same_as_unary(anthropic, &o,
                               "anthropic/stream_basic_response.json", 0);
  stream_outcome_free(&o);
}

Test(anthropic_stream, tool_use_message_streamed_equals_it) {
  stream_outcome o;

  check_fixture(anthropic, "anthropic/stream_tool_use_response.sse", &o);
  expect_fixture_same_as_unary(anthropic, &o,
                               "anthropic/tool_use_response.json", 0);
  /* ...and what that is, so the comparison is not of two empty things. */
  expect_content(&o, "Okay, let's check the weather.");
  cr_assert_eq(o.resp.n_tool_calls, 1);
  expect_call(&o.resp.tool_calls[0], "toolu_01T1x1fJ34qAmk2tNTrN7Up6",
              "get_weather", "{\"location\": \"San Francisco, CA\"}");
  cr_assert_eq(o.resp.stop, CHAT_STOP_TOOL_CALLS);
  cr_assert_eq(o.resp.input_tokens, 472);
  cr_assert_eq(o.resp.output_tokens, 89);
  cr_assert_str_eq(o.resp.model, "claude-sonnet-4-5");
  expect_fixture_deltas(anthropic, "anthropic/stream_tool_use_response.sse",
                        "[Okay, let's][ check the weather.]");
  stream_outcome_free(&o);
}

Test(anthropic_stream, error_event_equals_the_error_body) {
  stream_outcome o;
  size_t len;
  char *body = fixture_load("anthropic/error_529.json", &len);

  check_fixture(anthropic, "anthropic/stream_error.sse", &o);
  expect_same_error_as_unary(anthropic, &o, body, len, 0);
  stream_outcome_free(&o);
  free(body);
}

Test(anthropic_stream, text_only_message_streamed_equals_it) {
  /* text_response.json as the API would stream it. */
  static const char body[] = A_START("claude-3-7-sonnet-20250219", 2095)
      A_TEXT_BLOCK(0) A_TEXT(0, "Hi! ") A_TEXT(0, "My name") EV("ping", "{}")
          A_TEXT(0, " is Claude.") A_BLOCK_STOP(0) A_DELTA("end_turn", 503)
              A_END;
  stream_outcome o;
  size_t len;
  char *unary = fixture_load("anthropic/text_response.json", &len);

  CHECK(anthropic, body, &o);
  expect_same_as_unary(anthropic, &o, unary, len, 0);
  EXPECT_DELTAS(anthropic, body, "[Hi! ][My name][ is Claude.]");
  stream_outcome_free(&o);
  free(unary);
}

/* --- Anthropic: events --------------------------------------------------- */

Test(anthropic_stream, error_kinds_follow_the_type) {
  static const struct {
    const char *data;
    chat_error_kind kind;
    const char *type, *message;
  } cases[] = {
      {"{\"type\":\"error\",\"error\":{\"type\":\"api_error\",\"message\":"
       "\"boom\"}}",
       CHAT_ERR_TRANSIENT, "api_error", "boom"},
      {"{\"type\":\"error\",\"error\":{\"type\":\"rate_limit_error\","
       "\"message\":\"slow\"}}",
       CHAT_ERR_TRANSIENT, "rate_limit_error", "slow"},
      {"{\"type\":\"error\",\"error\":{\"type\":\"timeout_error\","
       "\"message\":\"late\"}}",
       CHAT_ERR_TRANSIENT, "timeout_error", "late"},
      {"{\"type\":\"error\",\"error\":{\"type\":\"invalid_request_error\","
       "\"message\":\"bad\"}}",
       CHAT_ERR_PERMANENT, "invalid_request_error", "bad"},
      /* No message: the data itself stands in, as for HTTP bodies. */
      {"{\"type\":\"error\"}", CHAT_ERR_PERMANENT, NULL,
       "{\"type\":\"error\"}"},
      /* Unreadable data is still an error event: it fails, with the text
       * as the message. */
      {"upstream connect error", CHAT_ERR_PERMANENT, NULL,
       "upstream connect error"},
      {"", CHAT_ERR_PERMANENT, NULL, NULL},
  };
  size_t i;

  for (i = 0; i < N_ELEMS(cases); i++) {
    stream_outcome o;
    buf body;

    /* Text went out before the error; nothing after it does. */
    splice(A_START("m", 3) A_TEXT(0, "partial"), "error", cases[i].data,
           strlen(cases[i].data), A_TEXT(0, " more") A_END, &body);
    stream_split_check(anthropic, 0, body.data, body.len, &o);
    expect_fail(&o, cases[i].kind, "provider_error");
    cr_assert(str_same(o.err.type, cases[i].type), "case %zu: type %s", i,
              o.err.type);
    cr_assert(str_same(o.err.message, cases[i].message), "case %zu: message %s",
              i, o.err.message);
    cr_assert(o.feed_failed);
    expect_text_seen(&o, "partial");
    assert_response_empty(&o.resp);
    stream_outcome_free(&o);
    buf_free(&body);
  }
}

Test(anthropic_stream, error_event_that_is_not_utf8) {
  /* Every event is checked as UTF-8 before the codec sees it, an error
   * event too: the stream fails, but not with the provider's error. */
  stream_outcome o;

  CHECK(anthropic, A_START("m", 3) EV("error", "\xff\xfe") A_END, &o);
  expect_fail(&o, CHAT_ERR_PERMANENT, "invalid_utf8");
  cr_assert_null(o.err.type);
  cr_assert_null(o.err.message);
  stream_outcome_free(&o);
}

Test(anthropic_stream, text_block_then_two_tool_blocks) {
  /* Content block indexes count the text block too; tool calls are
   * numbered on their own, in the order their blocks start, and keep
   * their ids. Each call's fragments go to it, not to the other. */
  static const char body[] = A_START("claude-sonnet-4-5", 12) A_TEXT_BLOCK(0)
      A_TEXT(0, "Checking.") A_BLOCK_STOP(0) A_TOOL(1, "t1", "a") A_ARGS(1, "")
          A_ARGS(1, "{\\\"x\\\":1}") A_BLOCK_STOP(1) A_TOOL(2, "t2", "b")
              A_ARGS(2, "{\\\"y\\\":") A_ARGS(2, "2}") A_BLOCK_STOP(2)
      /* a third one whose arguments never come */
      A_TOOL(3, "t3", "c") A_BLOCK_STOP(3) A_DELTA("tool_use", 40) A_END;
  stream_outcome o;

  CHECK(anthropic, body, &o);
  expect_ok(&o);
  expect_content(&o, "Checking.");
  cr_assert_eq(o.resp.n_tool_calls, 3);
  expect_call(&o.resp.tool_calls[0], "t1", "a", "{\"x\":1}");
  expect_call(&o.resp.tool_calls[1], "t2", "b", "{\"y\":2}");
  expect_call(&o.resp.tool_calls[2], "t3", "c", "{}");
  cr_assert_eq(o.resp.stop, CHAT_STOP_TOOL_CALLS);
  cr_assert_str_eq(o.resp.finish_reason, "tool_use");
  cr_assert_eq(o.resp.input_tokens, 12);
  cr_assert_eq(o.resp.output_tokens, 40);
  EXPECT_DELTAS(anthropic, body, "[Checking.]");
  stream_outcome_free(&o);
}

Test(anthropic_stream, tool_calls_without_a_stop_reason) {
  /* A stream that never says why it stopped: tool calls make it
   * tool_calls, with no raw word. */
  stream_outcome o;

  CHECK(anthropic, A_TOOL(0, "t", "f") A_ARGS(0, "[]") A_END, &o);
  expect_ok(&o);
  expect_call(&o.resp.tool_calls[0], "t", "f", "[]");
  cr_assert_eq(o.resp.stop, CHAT_STOP_TOOL_CALLS);
  cr_assert_null(o.resp.finish_reason);
  stream_outcome_free(&o);
}

Test(anthropic_stream, tool_arguments_that_never_make_json_fail) {
  static const char *const bodies[] = {
      A_TOOL(0, "t", "f") A_ARGS(0, "{\\\"a\\\":") A_END,
      A_TOOL(0, "t", "f") A_ARGS(0, "{}") A_ARGS(0, "{}") A_END,
      A_TOOL(0, "t", "f") A_ARGS(0, "{\\\"a\\\":\\\"\\\\ud800\\\"}") A_END,
  };
  size_t i;

  for (i = 0; i < N_ELEMS(bodies); i++) {
    stream_outcome o;

    stream_split_check(anthropic, 0, bodies[i], strlen(bodies[i]), &o);
    expect_fail(&o, CHAT_ERR_PERMANENT, "invalid_tool_arguments");
    cr_assert_not(o.feed_failed, "found only at the end");
    stream_outcome_free(&o);
  }
}

Test(anthropic_stream, multibyte_text_under_every_chunking) {
  static const char body[] = A_START("m", 3) A_TEXT_BLOCK(0)
      A_TEXT(0, "Grüße, ") A_TEXT(0, "日本") A_TEXT(0, " \\u00e9\\ud83d\\ude00")
          A_TEXT(0, "😀") A_DELTA("end_turn", 9) A_END;
  stream_outcome o;

  CHECK(anthropic, body, &o);
  expect_ok(&o);
  expect_content(&o, "Grüße, 日本 é😀😀");
  EXPECT_DELTAS(anthropic, body, "[Grüße, ][日本][ é😀][😀]");
  stream_outcome_free(&o);
}

Test(anthropic_stream, ignored_events) {
  /* The same stream with and without events that carry nothing: ping,
   * content_block_stop and unknown names (their data is not read),
   * unnamed events of unknown or no-op type, empty unnamed data. */
  static const char plain[] =
      A_START("m", 3) A_TEXT(0, "hi") A_DELTA("end_turn", 2) A_END;
  static const char noisy[] = EV("ping", "{not json") A_START("m", 3) EV(
      "content_block_stop", "{not json") EV("future_event", "{not json")
      EV("message", "[]") "event: ping\ndata:\n\n" DATA(
          "{\"type\":\"future_event\",\"x\":1}") "data:\n\n" DATA("{\"type\":"
                                                                  "\"ping\"}")
          DATA("{\"type\":\"content_block_stop\"}") "event: \ndata: "
                                                    "{\"type\":\"ping\"}\n\n"
                                                    ": a comment\n\n"
                                                    /* an event without data is
                                                       not an event at all */
                                                    "event: error\n\n" A_TEXT(
                                                        0, "hi")
                                                        EV("Message_Stop", "{}")
                                                            A_DELTA("end_turn",
                                                                    2)
                                                                EV("ping", "{}")
                                                                    A_END;
  stream_outcome want, got;

  CHECK(anthropic, plain, &want);
  expect_ok(&want);
  expect_content(&want, "hi");
  CHECK(anthropic, noisy, &got);
  stream_assert_same(&want, &got, "noisy");
  stream_outcome_free(&want);
  stream_outcome_free(&got);
}

Test(anthropic_stream, ignored_event_that_is_not_utf8_still_fails) {
  /* The stream checks every event as UTF-8 before the codec decides it
   * would ignore it. */
  stream_outcome o;

  CHECK(anthropic, A_TEXT(0, "a") EV("ping", "\xff") A_END, &o);
  expect_fail(&o, CHAT_ERR_PERMANENT, "invalid_utf8");
  expect_text_seen(&o, "a");
  stream_outcome_free(&o);
}

Test(anthropic_stream, thinking_blocks_are_skipped) {
  static const char body[] = A_START("m", 3) EV(
      "content_block_start",
      "{\"type\":\"content_block_start\",\"index\":0,\"content_block\":"
      "{\"type\":\"thinking\",\"thinking\":\"\"}}")
      EV("content_block_delta",
         "{\"type\":\"content_block_delta\",\"index\":0,\"delta\":"
         "{\"type\":\"thinking_delta\",\"thinking\":\"hmm\"}}")
          EV("content_block_delta",
             "{\"type\":\"content_block_delta\",\"index\":0,\"delta\":"
             "{\"type\":\"signature_delta\",\"signature\":\"EqQB\"}}")
              A_BLOCK_STOP(0) EV(
                  "content_block_start",
                  "{\"type\":\"content_block_start\",\"index\":1,\"content_"
                  "block\":"
                  "{\"type\":\"redacted_thinking\",\"data\":\"xyz\"}}")
                  A_BLOCK_STOP(1) A_TEXT_BLOCK(2) A_TEXT(2, "Answer.") EV(
                      "content_block_delta",
                      "{\"type\":\"content_block_delta\",\"index\":2,\"delta\":"
                      "{\"type\":\"citations_delta\",\"citation\":{}}}")
                      A_BLOCK_STOP(2) A_DELTA("end_turn", 20) A_END;
  stream_outcome o;

  CHECK(anthropic, body, &o);
  expect_ok(&o);
  expect_content(&o, "Answer.");
  cr_assert_eq(o.resp.n_tool_calls, 0);
  EXPECT_DELTAS(anthropic, body, "[Answer.]");
  stream_outcome_free(&o);
}

Test(anthropic_stream, text_in_content_block_start) {
  /* A text block that starts with text carries it as a delta. */
  static const char body[] =
      EV("content_block_start",
         "{\"type\":\"content_block_start\",\"index\":0,\"content_block\":"
         "{\"type\":\"text\",\"text\":\"Hi\"}}") A_TEXT(0, " there") A_END;
  stream_outcome o;

  CHECK(anthropic, body, &o);
  expect_ok(&o);
  expect_content(&o, "Hi there");
  EXPECT_DELTAS(anthropic, body, "[Hi][ there]");
  stream_outcome_free(&o);
}

Test(anthropic_stream, unnamed_events_dispatch_on_type) {
  /* A gateway that sends only data: lines. */
  static const char body[] = DATA(
      "{\"type\":\"message_start\",\"message\":{\"model\":\"m\","
      "\"usage\":{\"input_tokens\":3}}}")
      DATA("{\"type\":\"content_block_start\",\"index\":0,"
           "\"content_block\":{\"type\":\"tool_use\",\"id\":\"t\","
           "\"name\":\"f\",\"input\":{}}}")
          DATA("{\"type\":\"content_block_delta\",\"index\":0,\"delta\":"
               "{\"type\":\"input_json_delta\",\"partial_json\":\"[1]\"}}")
              DATA("{\"type\":\"content_block_delta\",\"index\":1,"
                   "\"delta\":{\"type\":\"text_delta\",\"text\":\"hi\"}}")
                  DATA("{\"type\":\"message_delta\",\"delta\":{\"stop_reason\":"
                       "\"max_tokens\"},\"usage\":{\"output_tokens\":9}}")
                      DATA("{\"type\":\"message_stop\"}");
  stream_outcome o;

  CHECK(anthropic, body, &o);
  expect_ok(&o);
  expect_content(&o, "hi");
  cr_assert_str_eq(o.resp.model, "m");
  cr_assert_eq(o.resp.input_tokens, 3);
  cr_assert_eq(o.resp.output_tokens, 9);
  expect_call(&o.resp.tool_calls[0], "t", "f", "[1]");
  /* length wins over the tool call */
  cr_assert_eq(o.resp.stop, CHAT_STOP_LENGTH);
  cr_assert_str_eq(o.resp.finish_reason, "max_tokens");
  stream_outcome_free(&o);

  CHECK(anthropic,
        DATA("{\"type\":\"content_block_delta\",\"index\":0,"
             "\"delta\":{\"type\":\"text_delta\",\"text\":\"hi\"}}")
            DATA("{\"type\":\"error\",\"error\":{\"type\":"
                 "\"overloaded_error\",\"message\":\"Overloaded\"}}")
                DATA("{\"type\":\"message_stop\"}"),
        &o);
  expect_fail(&o, CHAT_ERR_TRANSIENT, "provider_error");
  cr_assert_str_eq(o.err.type, "overloaded_error");
  cr_assert_str_eq(o.err.message, "Overloaded");
  expect_text_seen(&o, "hi");
  stream_outcome_free(&o);

  /* An unnamed error without a message: none (the data is not quoted, as
   * it is for a named one). */
  CHECK(anthropic, DATA("{\"type\":\"error\"}") A_END, &o);
  expect_fail(&o, CHAT_ERR_PERMANENT, "provider_error");
  cr_assert_null(o.err.type);
  cr_assert_null(o.err.message);
  stream_outcome_free(&o);
}

Test(anthropic_stream, message_stop_ends_the_stream) {
  stream_outcome o;

  /* It needs no data, and its data is not read... */
  CHECK(anthropic, A_TEXT(0, "a") "event: message_stop\ndata:\n\n", &o);
  expect_ok(&o);
  expect_content(&o, "a");
  stream_outcome_free(&o);
  CHECK(anthropic, A_TEXT(0, "a") EV("message_stop", "garbage"), &o);
  expect_ok(&o);
  stream_outcome_free(&o);
  /* ...but it must be an event: a name without a data line is not. */
  CHECK(anthropic, A_TEXT(0, "a") "event: message_stop\n\n", &o);
  expect_fail(&o, CHAT_ERR_TRANSIENT, "truncated_stream");
  expect_text_seen(&o, "a");
  stream_outcome_free(&o);
  /* Without it the stream was cut off, whatever came before. */
  CHECK(anthropic, A_START("m", 3) A_TEXT(0, "a") A_DELTA("end_turn", 2), &o);
  expect_fail(&o, CHAT_ERR_TRANSIENT, "truncated_stream");
  stream_outcome_free(&o);
  CHECK(anthropic, "", &o);
  expect_fail(&o, CHAT_ERR_TRANSIENT, "truncated_stream");
  stream_outcome_free(&o);
  /* What comes after it still counts. */
  CHECK(anthropic, A_TEXT(0, "a") A_END A_TEXT(0, "b") A_DELTA("end_turn", 4),
        &o);
  expect_ok(&o);
  expect_content(&o, "ab");
  cr_assert_eq(o.resp.output_tokens, 4);
  stream_outcome_free(&o);
}

Test(anthropic_stream, usage_from_a_gateway_and_cache_counts) {
  /* message_start says 0 input tokens; message_delta has the real count
   * plus cache reads and writes, which wins. A later delta without
   * input_tokens leaves it. */
  static const char body[] =
      EV("message_start", "{\"type\":\"message_start\",\"message\":{"
                          "\"usage\":{\"input_tokens\":0,"
                          "\"output_tokens\":1}}}")
          EV("message_delta", "{\"type\":\"message_delta\",\"delta\":{"
                              "\"stop_reason\":null},\"usage\":{"
                              "\"input_tokens\":10,"
                              "\"cache_read_input_tokens\":90,"
                              "\"cache_creation_input_tokens\":5,"
                              "\"output_tokens\":7}}")
              EV("message_delta", "{\"type\":\"message_delta\",\"delta\":{},"
                                  "\"usage\":{\"output_tokens\":8}}") A_END;
  stream_outcome o;

  CHECK(anthropic, body, &o);
  expect_ok(&o);
  cr_assert_eq(o.resp.input_tokens, 105);
  cr_assert_eq(o.resp.output_tokens, 8);
  /* a null stop_reason is no stop reason */
  cr_assert_eq(o.resp.stop, CHAT_STOP_NONE);
  cr_assert_null(o.resp.finish_reason);
  stream_outcome_free(&o);
}

Test(anthropic_stream, stop_reasons) {
  static const struct {
    const char *raw;
    chat_stop stop;
  } cases[] = {
      {"end_turn", CHAT_STOP_END},
      {"stop_sequence", CHAT_STOP_END},
      {"max_tokens", CHAT_STOP_LENGTH},
      {"model_context_window_exceeded", CHAT_STOP_LENGTH},
      {"tool_use", CHAT_STOP_TOOL_CALLS},
      {"refusal", CHAT_STOP_CONTENT_FILTER},
      {"pause_turn", CHAT_STOP_OTHER},
      {"something_new", CHAT_STOP_OTHER},
  };
  size_t i;

  for (i = 0; i < N_ELEMS(cases); i++) {
    char data[256];
    stream_outcome o;
    buf body;

    snprintf(data, sizeof(data),
             "{\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"%s\"}}",
             cases[i].raw);
    splice(A_TEXT(0, "x"), "message_delta", data, strlen(data), A_END, &body);
    stream_split_check(anthropic, 0, body.data, body.len, &o);
    expect_ok(&o);
    cr_assert_eq(o.resp.stop, cases[i].stop, "%s", cases[i].raw);
    cr_assert_str_eq(o.resp.finish_reason, cases[i].raw);
    stream_outcome_free(&o);
    buf_free(&body);
  }
}

Test(anthropic_stream, malformed_events_fail) {
  static const struct {
    const char *event, *data, *reason;
  } cases[] = {
      {"content_block_delta", "{\"type\":\"content_block_delta\",",
       "invalid_json"},
      {"content_block_delta", "[1,2]", "missing_field"},
      {"content_block_delta", "{\"delta\":{}}", "missing_field"},
      {"content_block_delta", "{\"delta\":{\"type\":\"text_delta\"}}",
       "missing_field"},
      {"content_block_delta",
       "{\"delta\":{\"type\":\"text_delta\",\"text\":5}}", "missing_field"},
      /* arguments for a tool call that never started */
      {"content_block_delta",
       "{\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"{\"}}",
       "missing_field"},
      {"content_block_start",
       "{\"content_block\":{\"type\":\"tool_use\",\"name\":\"x\"}}",
       "missing_field"},
      {"content_block_start",
       "{\"content_block\":{\"type\":\"tool_use\",\"id\":\"t\","
       "\"name\":\"\"}}",
       "missing_field"},
      {"content_block_start",
       "{\"content_block\":{\"type\":\"text\",\"text\":[]}}", "missing_field"},
      {"content_block_start", "{}", "missing_field"},
      {"message_start", "{\"type\":\"message_start\"}", "missing_field"},
      {"message_start", "", "invalid_json"},
      {"message_delta", "{\"delta\":{\"stop_reason\":7}}", "missing_field"},
      {"message_delta", "{} {}", "invalid_json"},
      {NULL, "{\"no_type\":1}", "missing_field"},
      {NULL, "not json", "invalid_json"},
      {NULL, "\"\xc3\"", "invalid_utf8"},
      {NULL,
       "{\"type\":\"content_block_delta\",\"delta\":{\"type\":"
       "\"text_delta\",\"text\":\"\\ud800\"}}",
       "invalid_json"},
      {"content_block_delta",
       "{\"delta\":{\"type\":\"text_delta\",\"text\":\"\xed\xa0\x80\"}}",
       "invalid_utf8"},
  };
  size_t i;

  for (i = 0; i < N_ELEMS(cases); i++) {
    stream_outcome o;
    buf body;

    splice(A_START("m", 3) A_TEXT(0, "a"), cases[i].event, cases[i].data,
           strlen(cases[i].data), A_TEXT(0, "b") A_END, &body);
    stream_split_check(anthropic, 0, body.data, body.len, &o);
    cr_assert_eq(o.rc, -1, "case %zu", i);
    cr_assert_str_eq(o.err.reason, cases[i].reason, "case %zu", i);
    expect_fail(&o, CHAT_ERR_PERMANENT, cases[i].reason);
    cr_assert_null(o.err.type);
    cr_assert_null(o.err.message);
    cr_assert(o.feed_failed);
    expect_text_seen(&o, "a");
    stream_outcome_free(&o);
    buf_free(&body);
  }
}

Test(anthropic_stream, raw_nul_in_data_fails) {
  static const char body[] =
      A_TEXT(0, "a") "event: message_start\ndata: {\"message\":{}}\0\n\n" A_END;
  stream_outcome o;

  CHECK(anthropic, body, &o);
  expect_fail(&o, CHAT_ERR_PERMANENT, "invalid_json");
  expect_text_seen(&o, "a");
  stream_outcome_free(&o);
}

/* message is data[0..len) with the whitespace around it trimmed, as an
 * error quotes data it can't read; NULL when that is empty. */
static void expect_snippet(const char *message, const char *data, size_t len) {
  size_t start = 0;

  while (start < len && strchr(" \t\r\n", data[start]) != NULL)
    start++;
  while (len > start && strchr(" \t\r\n", data[len - 1]) != NULL)
    len--;
  if (len == start) {
    cr_assert_null(message);
    return;
  }
  cr_assert_not_null(message, "no message for %.*s", (int)len, data);
  cr_assert(strlen(message) == len - start &&
                memcmp(message, data + start, len - start) == 0,
            "message %s, want %.*s", message, (int)(len - start), data + start);
}

Test(anthropic_stream, every_cut_of_every_event_is_handled) {
  static const char *const files[] = {"anthropic/stream_basic.sse",
                                      "anthropic/stream_tool_use.sse",
                                      "anthropic/stream_error.sse"};
  size_t f;

  /* Each event's data cut short, in a stream that is otherwise whole,
   * must fail cleanly or, for events whose data is not read, change
   * nothing: never crash or read past the end. */
  for (f = 0; f < N_ELEMS(files); f++) {
    size_t len;
    char *text = fixture_load(files[f], &len);
    char *p = text;

    while ((p = strstr(p, "event: ")) != NULL) {
      char name[64];
      char *data = strstr(p, "data: "), *end;
      size_t n, cut;
      int ignored, is_error;

      cr_assert_not_null(data);
      snprintf(name, sizeof(name), "%.*s", (int)strcspn(p + 7, "\n"), p + 7);
      data += 6;
      end = strchr(data, '\n');
      n = (size_t)(end - data);
      ignored = strcmp(name, "ping") == 0 ||
                strcmp(name, "content_block_stop") == 0 ||
                strcmp(name, "message_stop") == 0;
      is_error = strcmp(name, "error") == 0;
      for (cut = 0; cut < n; cut++) {
        stream_outcome o;
        buf body;

        /* A tool call is open, as deltas with arguments need. */
        splice(A_START("m", 3) A_TOOL(0, "t", "f"), name, data, cut, A_END,
               &body);
        stream_run(anthropic, 0, body.data, body.len, NULL, 0, &o);
        if (ignored) {
          expect_ok(&o);
          expect_call(&o.resp.tool_calls[0], "t", "f", "{}");
        } else if (is_error) {
          /* Still an error; its data can't be read, only quoted. */
          expect_fail(&o, CHAT_ERR_PERMANENT, "provider_error");
          cr_assert_null(o.err.type);
          expect_snippet(o.err.message, data, cut);
        } else {
          cr_assert_eq(o.rc, -1, "%s cut at %zu", name, cut);
          cr_assert_str_eq(o.err.reason, "invalid_json", "%s cut at %zu", name,
                           cut);
        }
        stream_outcome_free(&o);
        buf_free(&body);
      }
      p = end;
    }
    free(text);
  }
}

/* --- Anthropic: refusals from the stream --------------------------------- */

Test(anthropic_stream, text_over_the_cap_stops_the_stream) {
  /* 25 deltas of 10 bytes against a cap of 200; every event is < 200. */
  stream_outcome o;
  buf body, want;
  int i;

  buf_init(&body, 0);
  buf_init(&want, 0);
  for (i = 0; i < 25; i++)
    cr_assert_eq(buf_puts(&body, DATA("{\"type\":\"content_block_delta\","
                                      "\"delta\":{\"type\":\"text_delta\","
                                      "\"text\":\"0123456789\"}}")),
                 0);
  cr_assert_eq(buf_puts(&body, A_END), 0);
  for (i = 0; i < 20; i++)
    cr_assert_eq(buf_puts(&want, "0123456789"), 0);
  stream_split_check(anthropic, 200, body.data, body.len, &o);
  expect_fail(&o, CHAT_ERR_PERMANENT, "response_too_large");
  cr_assert(o.feed_failed);
  expect_text_seen(&o, want.data);
  stream_outcome_free(&o);
  buf_free(&body);
  buf_free(&want);
}

/* Anthropic body: 6 bytes of text, a tool call, n argument fragments of
 * 60 spaces (blank arguments become "{}"), the end, and text after it. */
static void args_body(int n, buf *body) {
  int i;

  buf_init(body, 0);
  cr_assert_eq(buf_puts(body,
                        DATA("{\"type\":\"content_block_delta\",\"delta\":"
                             "{\"type\":\"text_delta\",\"text\":\"abcdef\"}}")
                            DATA("{\"type\":\"content_block_start\","
                                 "\"content_block\":{\"type\":\"tool_use\","
                                 "\"id\":\"t\",\"name\":\"f\"}}")),
               0);
  for (i = 0; i < n; i++)
    cr_assert_eq(buf_printf(body,
                            DATA("{\"type\":\"content_block_delta\","
                                 "\"delta\":{\"type\":\"input_json_delta\","
                                 "\"partial_json\":\"%60s\"}}"),
                            ""),
                 0);
  cr_assert_eq(buf_puts(body, A_END A_TEXT(0, "late")), 0);
}

Test(anthropic_stream, tool_arguments_over_the_cap_stop_the_stream) {
  /* Text and arguments share the cap of 200: 6 + 3 x 60 fit, 6 + 4 x 60
   * do not. Every event is under 200 bytes. */
  stream_outcome o;
  buf body;

  args_body(3, &body);
  stream_split_check(anthropic, 200, body.data, body.len, &o);
  expect_ok(&o);
  expect_content(&o, "abcdeflate");
  expect_call(&o.resp.tool_calls[0], "t", "f", "{}");
  stream_outcome_free(&o);
  buf_free(&body);

  args_body(4, &body);
  stream_split_check(anthropic, 200, body.data, body.len, &o);
  expect_fail(&o, CHAT_ERR_PERMANENT, "response_too_large");
  cr_assert(o.feed_failed);
  expect_text_seen(&o, "abcdef");
  stream_outcome_free(&o);
  buf_free(&body);
}

/* n tool_use blocks (ids t0, t1, ...), then the end. */
static void calls_body(size_t n, buf *body) {
  size_t i;

  buf_init(body, 0);
  for (i = 0; i < n; i++)
    cr_assert_eq(buf_printf(body,
                            DATA("{\"type\":\"content_block_start\","
                                 "\"index\":%zu,\"content_block\":{\"type\":"
                                 "\"tool_use\",\"id\":\"t%zu\",\"name\":"
                                 "\"f\"}}"),
                            i, i),
                 0);
  cr_assert_eq(buf_puts(body, A_END), 0);
}

Test(anthropic_stream, too_many_tool_calls_stop_the_stream) {
  stream_outcome o;
  buf body;

  /* Too long for every 2-way split: fed whole only. 1024 calls are the
   * most a stream takes... */
  calls_body(1024, &body);
  stream_run(anthropic, 0, body.data, body.len, NULL, 0, &o);
  expect_ok(&o);
  cr_assert_eq(o.resp.n_tool_calls, 1024);
  expect_call(&o.resp.tool_calls[1023], "t1023", "f", "{}");
  stream_outcome_free(&o);
  buf_free(&body);
  /* ...and one more fails it. */
  calls_body(1025, &body);
  stream_run(anthropic, 0, body.data, body.len, NULL, 0, &o);
  expect_fail(&o, CHAT_ERR_PERMANENT, "too_many_tool_calls");
  cr_assert(o.feed_failed);
  stream_outcome_free(&o);
  buf_free(&body);
}

/* Calls fn(st, event, data) on a stream that has failed already: it must
 * return -1 (each chat_stream_* call refuses), and the first failure must
 * stay the stream's. */
static void expect_refused(const chat_codec *codec, const char *event,
                           const char *data) {
  chat_stream *st = chat_stream_new(codec, 0, 0, NULL, NULL);
  size_t len = strlen(data);
  char *copy = fixture_exact_copy(data, len);
  chat_response r;
  chat_error e;

  cr_assert_not_null(st);
  chat_error_init(&e);
  cr_assert_eq(chat_stream_fail(st, CHAT_ERR_TIMEOUT, "first", NULL, NULL), -1);
  cr_assert_eq(codec->stream_event(st, event, copy, len), -1, "%s: %s",
               event ? event : "-", data);
  chat_stream_end(st);
  cr_assert_eq(chat_stream_finish(st, &r, &e), -1);
  cr_assert_str_eq(e.reason, "first");
  cr_assert_eq(e.kind, CHAT_ERR_TIMEOUT);
  assert_response_empty(&r);
  chat_error_free(&e);
  chat_stream_free(st);
  free(copy);
}

Test(anthropic_stream, refusals_from_the_stream_propagate) {
  static const struct {
    const char *event, *data;
  } cases[] = {
      {"content_block_delta",
       "{\"delta\":{\"type\":\"text_delta\",\"text\":\"x\"}}"},
      {"content_block_delta",
       "{\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"{\"}}"},
      {"content_block_start",
       "{\"content_block\":{\"type\":\"text\",\"text\":\"x\"}}"},
      {"content_block_start",
       "{\"content_block\":{\"type\":\"tool_use\",\"id\":\"t\","
       "\"name\":\"n\"}}"},
      {"message_delta", "{\"delta\":{\"stop_reason\":\"end_turn\"}}"},
      {"message_start", "{\"message\":{\"model\":\"m\"}}"},
      {"error", "{\"error\":{\"type\":\"api_error\"}}"},
      {NULL, "{\"type\":\"message_start\",\"message\":{\"model\":\"m\"}}"},
  };
  size_t i;

  for (i = 0; i < N_ELEMS(cases); i++)
    expect_refused(anthropic, cases[i].event, cases[i].data);
}

/* --- Gemini: the vectors ------------------------------------------------- */

Test(gemini_stream, basic_vector) {
  static const char *const copies[] = {"gemini/stream_basic.sse",
                                       "stream/gemini_basic.sse"};
  stream_outcome o;

  check_fixture(gemini, copies[0], &o);
  expect_ok(&o);
  expect_content(&o, "The capital of Wyoming is **Cheyenne**.\n");
  cr_assert_eq(o.n_deltas, 3);
  cr_assert_str_eq(o.resp.model, "gemini-3.1-flash-lite");
  cr_assert_str_eq(o.resp.finish_reason, "STOP");
  cr_assert_eq(o.resp.stop, CHAT_STOP_END);
  /* Early chunks carry only the prompt count; the last one both. */
  cr_assert_eq(o.resp.input_tokens, 7);
  cr_assert_eq(o.resp.output_tokens, 10);
  cr_assert_eq(o.resp.n_tool_calls, 0);
  cr_assert_eq(o.resp.has_cost, 0);
  cr_assert_eq(o.resp.has_logprob, 0);
  expect_fixture_deltas(gemini, copies[0],
                        "[The][ capital of Wyoming][ is **Cheyenne**.\n]");
  expect_same_file(copies[0], copies[1]);
  stream_outcome_free(&o);
}

Test(gemini_stream, function_calls_vector) {
  stream_outcome o;

  check_fixture(gemini, "gemini/stream_function_calls.sse", &o);
  expect_ok(&o);
  /* the thought part is not text */
  expect_content(&o, "Let me check the time and the weather.");
  cr_assert_eq(o.resp.n_tool_calls, 2);
  expect_call(&o.resp.tool_calls[0], "call_0", "now", "{}");
  expect_call(&o.resp.tool_calls[1], "fc_7", "get_weather",
              "{\"location\":\"Tōkyō\",\"days\":[1,2]}");
  cr_assert_eq(o.resp.stop, CHAT_STOP_TOOL_CALLS);
  cr_assert_str_eq(o.resp.finish_reason, "STOP");
  cr_assert_eq(o.resp.input_tokens, 40);
  cr_assert_eq(o.resp.output_tokens, 42, "candidates plus thoughts");
  cr_assert_str_eq(o.resp.model, "gemini-2.5-pro");
  expect_fixture_deltas(gemini, "gemini/stream_function_calls.sse",
                        "[Let me check ][the time and the weather.]");
  stream_outcome_free(&o);
}

/* test/fixtures/<name>, a non-streamed body, as one alt=sse chunk through
 * every chunking. */
static void check_as_chunk(const char *name, stream_outcome *o) {
  size_t len;
  char *body = fixture_load(name, &len);
  buf sse;

  sse_frame(body, len, &sse);
  stream_split_check(gemini, 0, sse.data, sse.len, o);
  buf_free(&sse);
  free(body);
}

Test(gemini_stream, blocked_prompt_chunk) {
  stream_outcome o;

  check_as_chunk("gemini/stream_blocked_chunk.json", &o);
  expect_ok(&o);
  expect_content(&o, "");
  cr_assert_eq(o.n_deltas, 0);
  cr_assert_eq(o.resp.stop, CHAT_STOP_CONTENT_FILTER);
  cr_assert_str_eq(o.resp.finish_reason, "SAFETY");
  cr_assert_null(o.resp.model);
  cr_assert_eq(o.resp.input_tokens, -1);
  cr_assert_eq(o.resp.output_tokens, -1);
  expect_fixture_same_as_unary(gemini, &o, "gemini/stream_blocked_chunk.json",
                               0);
  stream_outcome_free(&o);

  /* After text had started: the text stays, the stop is the block. */
  CHECK(gemini,
        G_TEXT("Once upon") DATA(
            "{\"promptFeedback\":{\"blockReason\":\"PROHIBITED_CONTENT\"}}"),
        &o);
  expect_ok(&o);
  expect_content(&o, "Once upon");
  cr_assert_eq(o.resp.stop, CHAT_STOP_CONTENT_FILTER);
  cr_assert_str_eq(o.resp.finish_reason, "PROHIBITED_CONTENT");
  stream_outcome_free(&o);
}

Test(gemini_stream, function_call_chunk) {
  /* The unary function-call vector is also a valid single chunk. */
  stream_outcome o;

  check_as_chunk("gemini/function_call_response.json", &o);
  expect_ok(&o);
  expect_content(&o, "");
  cr_assert_eq(o.n_deltas, 0, "the thought part is not text");
  cr_assert_eq(o.resp.n_tool_calls, 1);
  expect_call(&o.resp.tool_calls[0], "call_0", "now", "{}");
  cr_assert_eq(o.resp.stop, CHAT_STOP_TOOL_CALLS);
  cr_assert_str_eq(o.resp.finish_reason, "STOP");
  cr_assert_eq(o.resp.input_tokens, 38);
  cr_assert_eq(o.resp.output_tokens, 509);
  cr_assert_str_eq(o.resp.model, "gemini-2.5-pro");
  stream_outcome_free(&o);
}

Test(gemini_stream, vectors_with_crlf_line_ends) {
  static const char *const files[] = {"gemini/stream_basic.sse",
                                      "gemini/stream_function_calls.sse"};
  size_t i;

  for (i = 0; i < N_ELEMS(files); i++) {
    stream_outcome lf, crlf;
    size_t len;
    char *body = fixture_load(files[i], &len);
    buf b;

    to_crlf(body, len, &b);
    stream_run(gemini, 0, body, len, NULL, 0, &lf);
    stream_split_check(gemini, 0, b.data, b.len, &crlf);
    stream_assert_same(&lf, &crlf, files[i]);
    stream_outcome_free(&lf);
    stream_outcome_free(&crlf);
    buf_free(&b);
    free(body);
  }
}

Test(gemini_stream, every_prefix_of_the_vectors) {
  every_prefix(gemini, "gemini/stream_basic.sse");
  every_prefix(gemini, "gemini/stream_function_calls.sse");
}

/* --- Gemini: streamed equals non-streamed -------------------------------- */

Test(gemini_stream, basic_vector_equals_its_response) {
  stream_outcome o;

  check_fixture(gemini, "gemini/stream_basic.sse", &o);
  expect_fixture_same_as_unary(gemini, &o, "gemini/stream_basic_response.json",
                               0);
  stream_outcome_free(&o);
}

Test(gemini_stream, function_calls_vector_equals_its_response) {
  stream_outcome o;

  check_fixture(gemini, "gemini/stream_function_calls.sse", &o);
  expect_fixture_same_as_unary(gemini, &o,
                               "gemini/stream_function_calls_response.json", 0);
  stream_outcome_free(&o);
}

Test(gemini_stream, whole_responses_as_one_chunk_equal_themselves) {
  stream_outcome o;

  check_as_chunk("gemini/function_call_response.json", &o);
  expect_fixture_same_as_unary(gemini, &o, "gemini/function_call_response.json",
                               0);
  stream_outcome_free(&o);

  /* The stream has no event for avgLogprobs, so the mean logprob is the
   * one thing a stream can't give (chat_stream.h has no call for it). */
  check_as_chunk("gemini/text_response.json", &o);
  expect_fixture_same_as_unary(gemini, &o, "gemini/text_response.json", 1);
  cr_assert_eq(o.resp.has_logprob, 0);
  stream_outcome_free(&o);
}

Test(gemini_stream, error_chunk_equals_the_error_body) {
  /* The same error object in a 2xx body and as a chunk. chat_stream_fail
   * takes no code, so the stream's error lacks the "429" the body gives. */
  stream_outcome o;
  size_t len;
  char *body = fixture_load("gemini/error_429.json", &len);

  check_as_chunk("gemini/error_429.json", &o);
  expect_fail(&o, CHAT_ERR_TRANSIENT, "provider_error");
  cr_assert_str_eq(o.err.type, "RESOURCE_EXHAUSTED");
  expect_same_error_as_unary(gemini, &o, body, len, 1);
  stream_outcome_free(&o);
  free(body);
}

/* --- Gemini: chunks ------------------------------------------------------ */

Test(gemini_stream, calls_across_chunks_are_numbered_in_order) {
  static const char body[] =
      DATA("{\"candidates\":[{\"content\":{\"parts\":[{\"functionCall\":"
           "{\"name\":\"a\",\"args\":{\"q\":\"x\"}}},{\"functionCall\":"
           "{\"name\":\"b\",\"id\":\"given\"}}],\"role\":\"model\"}}]}")
          DATA("{\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"and \"},"
               "{\"functionCall\":{\"name\":\"c\",\"args\":{}}}]}}]}")
      /* The last chunk has no call of its own, but calls were made. */
      G_FINISH("STOP");
  stream_outcome o;

  CHECK(gemini, body, &o);
  expect_ok(&o);
  expect_content(&o, "and ");
  cr_assert_eq(o.resp.n_tool_calls, 3);
  expect_call(&o.resp.tool_calls[0], "call_0", "a", "{\"q\":\"x\"}");
  expect_call(&o.resp.tool_calls[1], "given", "b", "{}");
  expect_call(&o.resp.tool_calls[2], "call_2", "c", "{}");
  cr_assert_eq(o.resp.stop, CHAT_STOP_TOOL_CALLS);
  cr_assert_str_eq(o.resp.finish_reason, "STOP");
  stream_outcome_free(&o);
}

Test(gemini_stream, finish_reasons) {
  static const struct {
    const char *raw;
    chat_stop stop;
  } cases[] = {
      {"STOP", CHAT_STOP_END},
      {"MAX_TOKENS", CHAT_STOP_LENGTH},
      {"SAFETY", CHAT_STOP_CONTENT_FILTER},
      {"RECITATION", CHAT_STOP_CONTENT_FILTER},
      {"PROHIBITED_CONTENT", CHAT_STOP_CONTENT_FILTER},
      {"BLOCKLIST", CHAT_STOP_CONTENT_FILTER},
      {"SPII", CHAT_STOP_CONTENT_FILTER},
      {"IMAGE_SAFETY", CHAT_STOP_CONTENT_FILTER},
      {"MALFORMED_FUNCTION_CALL", CHAT_STOP_OTHER},
      {"OTHER", CHAT_STOP_OTHER},
      {"LANGUAGE", CHAT_STOP_OTHER},
  };
  size_t i;

  for (i = 0; i < N_ELEMS(cases); i++) {
    char data[128];
    stream_outcome o;
    buf body;

    snprintf(data, sizeof(data), "{\"candidates\":[{\"finishReason\":\"%s\"}]}",
             cases[i].raw);
    splice(G_TEXT("x"), NULL, data, strlen(data), "", &body);
    stream_split_check(gemini, 0, body.data, body.len, &o);
    expect_ok(&o);
    expect_content(&o, "x");
    cr_assert_eq(o.resp.stop, cases[i].stop, "%s", cases[i].raw);
    cr_assert_str_eq(o.resp.finish_reason, cases[i].raw);
    stream_outcome_free(&o);
    buf_free(&body);
  }
}

Test(gemini_stream, finish_reason_with_calls_and_chunks_after_it) {
  stream_outcome o;

  /* MAX_TOKENS with a call stays length; a usage chunk after the
   * finishReason still counts. */
  CHECK(gemini,
        DATA("{\"candidates\":[{\"content\":{\"parts\":[{\"functionCall\":"
             "{\"name\":\"f\"}}]},\"finishReason\":\"MAX_TOKENS\"}]}")
            DATA("{\"usageMetadata\":{\"promptTokenCount\":4,"
                 "\"candidatesTokenCount\":6}}"),
        &o);
  expect_ok(&o);
  expect_call(&o.resp.tool_calls[0], "call_0", "f", "{}");
  cr_assert_eq(o.resp.stop, CHAT_STOP_LENGTH);
  cr_assert_eq(o.resp.input_tokens, 4);
  cr_assert_eq(o.resp.output_tokens, 6);
  stream_outcome_free(&o);
}

Test(gemini_stream, stream_without_finish_reason_is_truncated) {
  stream_outcome o;

  CHECK(gemini, G_TEXT("Hel") G_TEXT("lo"), &o);
  expect_fail(&o, CHAT_ERR_TRANSIENT, "truncated_stream");
  cr_assert_not(o.feed_failed);
  expect_text_seen(&o, "Hello");
  stream_outcome_free(&o);
  CHECK(gemini, "", &o);
  expect_fail(&o, CHAT_ERR_TRANSIENT, "truncated_stream");
  stream_outcome_free(&o);
}

Test(gemini_stream, error_chunks_fail_the_stream) {
  static const struct {
    const char *data;
    chat_error_kind kind;
    const char *type, *message;
  } cases[] = {
      {"{\"error\":{\"code\":503,\"message\":\"The model is overloaded.\","
       "\"status\":\"UNAVAILABLE\"}}",
       CHAT_ERR_TRANSIENT, "UNAVAILABLE", "The model is overloaded."},
      {"{\"error\":{\"code\":400,\"message\":\"bad\",\"status\":"
       "\"INVALID_ARGUMENT\"}}",
       CHAT_ERR_PERMANENT, "INVALID_ARGUMENT", "bad"},
      {"{\"error\":{\"message\":\"later\",\"status\":"
       "\"RESOURCE_EXHAUSTED\"}}",
       CHAT_ERR_TRANSIENT, "RESOURCE_EXHAUSTED", "later"},
      /* the array-wrapped form */
      {"[{\"error\":{\"code\":500,\"message\":\"x\",\"status\":"
       "\"INTERNAL\"}}]",
       CHAT_ERR_TRANSIENT, "INTERNAL", "x"},
      {"{\"error\":{}}", CHAT_ERR_PERMANENT, NULL, NULL},
  };
  size_t i;

  for (i = 0; i < N_ELEMS(cases); i++) {
    stream_outcome o;
    buf body;

    splice(G_TEXT("partial"), NULL, cases[i].data, strlen(cases[i].data),
           G_TEXT(" more") G_FINISH("STOP"), &body);
    stream_split_check(gemini, 0, body.data, body.len, &o);
    expect_fail(&o, cases[i].kind, "provider_error");
    cr_assert(str_same(o.err.type, cases[i].type), "case %zu: %s", i,
              o.err.type);
    cr_assert(str_same(o.err.message, cases[i].message), "case %zu: %s", i,
              o.err.message);
    cr_assert(o.feed_failed);
    expect_text_seen(&o, "partial");
    stream_outcome_free(&o);
    buf_free(&body);
  }
}

Test(gemini_stream, malformed_chunks_fail) {
  static const struct {
    const char *data, *reason;
  } cases[] = {
      {"{\"candidates\":[", "invalid_json"},
      {"data: {}", "invalid_json"},
      {"{} {}", "invalid_json"},
      {"\"\xf0\x9f\x98\"", "invalid_utf8"},
      {"[1]", "missing_field"},
      {"7", "missing_field"},
      {"{\"candidates\":{}}", "missing_field"},
      {"{\"candidates\":[7]}", "missing_field"},
      {"{\"candidates\":[{\"content\":[]}]}", "missing_field"},
      {"{\"candidates\":[{\"content\":{\"parts\":{}}}]}", "missing_field"},
      {"{\"candidates\":[{\"content\":{\"parts\":[{\"text\":1}]}}]}",
       "missing_field"},
      {"{\"candidates\":[{\"content\":{\"parts\":[\"x\"]}}]}", "missing_field"},
      {"{\"candidates\":[{\"content\":{\"parts\":[{\"functionCall\":"
       "{\"args\":{}}}]}}]}",
       "missing_field"},
      {"{\"candidates\":[{\"content\":{\"parts\":[{\"functionCall\":"
       "{\"name\":\"f\",\"args\":[1]}}]}}]}",
       "missing_field"},
  };
  size_t i;

  for (i = 0; i < N_ELEMS(cases); i++) {
    stream_outcome o;
    buf body;

    splice(G_TEXT("a"), NULL, cases[i].data, strlen(cases[i].data),
           G_TEXT("b") G_FINISH("STOP"), &body);
    stream_split_check(gemini, 0, body.data, body.len, &o);
    cr_assert_eq(o.rc, -1, "case %zu", i);
    cr_assert_str_eq(o.err.reason, cases[i].reason, "case %zu", i);
    expect_fail(&o, CHAT_ERR_PERMANENT, cases[i].reason);
    cr_assert(o.feed_failed);
    expect_text_seen(&o, "a");
    stream_outcome_free(&o);
    buf_free(&body);
  }
}

Test(gemini_stream, quiet_chunks) {
  /* Empty data, an event name (ignored), an empty object, thought text,
   * empty text and a bare thoughtSignature are no deltas. */
  static const char body[] =
      "data:\n\n" EV("message", "{}") DATA("{\"candidates\":[]}")
          DATA("{\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"hmm\","
               "\"thought\":true},{\"text\":\"\"},{\"thoughtSignature\":"
               "\"abc\"}]}}]}")
              DATA("{\"candidates\":[{\"content\":{\"role\":\"model\"}}]}")
                  G_TEXT("ok") G_FINISH("STOP");
  stream_outcome o;

  CHECK(gemini, body, &o);
  expect_ok(&o);
  expect_content(&o, "ok");
  cr_assert_eq(o.n_deltas, 1);
  cr_assert_null(o.resp.model);
  stream_outcome_free(&o);
}

Test(gemini_stream, multibyte_text_under_every_chunking) {
  static const char body[] = G_TEXT("Grüße, ") G_TEXT("日本")
      G_TEXT(" \\u00e9\\ud83d\\ude00") G_TEXT("😀") G_FINISH("STOP");
  stream_outcome o;

  CHECK(gemini, body, &o);
  expect_ok(&o);
  expect_content(&o, "Grüße, 日本 é😀😀");
  EXPECT_DELTAS(gemini, body, "[Grüße, ][日本][ é😀][😀]");
  stream_outcome_free(&o);
}

Test(gemini_stream, every_cut_of_every_chunk_fails_cleanly) {
  size_t len;
  char *text = fixture_load("gemini/stream_basic.sse", &len);
  char *p = text;

  while ((p = strstr(p, "data: ")) != NULL) {
    char *data = p + 6, *end = strchr(data, '\n');
    size_t n = (size_t)(end - data), cut;

    for (cut = 0; cut < n; cut++) {
      stream_outcome o;
      buf body;

      splice(G_TEXT("a"), NULL, data, cut, G_FINISH("STOP"), &body);
      stream_run(gemini, 0, body.data, body.len, NULL, 0, &o);
      if (cut == 0) {
        /* empty data is a quiet chunk */
        expect_ok(&o);
        expect_content(&o, "a");
      } else {
        expect_fail(&o, CHAT_ERR_PERMANENT, "invalid_json");
        expect_text_seen(&o, "a");
      }
      stream_outcome_free(&o);
      buf_free(&body);
    }
    p = end;
  }
  free(text);
}

/* --- Gemini: refusals from the stream ------------------------------------ */

#define TEXT70                                                                 \
  "0123456789012345678901234567890123456789012345678901234567890123456789"
#define ARGS60 "012345678901234567890123456789012345678901234567890123456789"

Test(gemini_stream, text_over_the_cap_stops_the_stream) {
  /* Three chunks of 70 bytes of text against a cap of 180 (each chunk is
   * under it); the chunk that passes it also holds a call, which never
   * gets made. */
  static const char body[] = G_TEXT(TEXT70) G_TEXT(TEXT70)
      DATA("{\"candidates\":[{\"content\":{\"parts\":[{\"text\":"
           "\"" TEXT70 "\"},{\"functionCall\":{\"name\":\"f\"}}]}}]}")
          G_FINISH("STOP");
  stream_outcome o;

  stream_split_check(gemini, 180, body, sizeof(body) - 1, &o);
  expect_fail(&o, CHAT_ERR_PERMANENT, "response_too_large");
  cr_assert(o.feed_failed);
  expect_text_seen(&o, TEXT70 TEXT70);
  stream_outcome_free(&o);
}

Test(gemini_stream, tool_arguments_over_the_cap_stop_the_stream) {
  /* Each call's arguments are printed whole: 68 bytes each. Two fit a cap
   * of 160, three do not. */
#define G_CALL                                                                 \
  DATA("{\"candidates\":[{\"content\":{\"parts\":[{\"functionCall\":"          \
       "{\"name\":\"f\",\"args\":{\"k\":\"" ARGS60 "\"}}}]}}]}")
  static const char two[] = G_CALL G_CALL G_FINISH("STOP");
  static const char three[] = G_CALL G_CALL G_CALL G_FINISH("STOP");
#undef G_CALL
  stream_outcome o;

  stream_split_check(gemini, 160, two, sizeof(two) - 1, &o);
  expect_ok(&o);
  cr_assert_eq(o.resp.n_tool_calls, 2);
  expect_call(&o.resp.tool_calls[1], "call_1", "f", "{\"k\":\"" ARGS60 "\"}");
  stream_outcome_free(&o);
  stream_split_check(gemini, 160, three, sizeof(three) - 1, &o);
  expect_fail(&o, CHAT_ERR_PERMANENT, "response_too_large");
  cr_assert(o.feed_failed);
  stream_outcome_free(&o);
}

Test(gemini_stream, too_many_tool_calls_stop_the_stream) {
  stream_outcome o;
  buf body;
  size_t i;

  /* All in one chunk. */
  buf_init(&body, 0);
  cr_assert_eq(buf_puts(&body, "data: {\"candidates\":[{\"content\":{"
                               "\"parts\":["),
               0);
  for (i = 0; i <= 1024; i++)
    cr_assert_eq(buf_printf(&body, "%s{\"functionCall\":{\"name\":\"f\"}}",
                            i > 0 ? "," : ""),
                 0);
  cr_assert_eq(buf_puts(&body, "]},\"finishReason\":\"STOP\"}]}\n\n"), 0);
  stream_run(gemini, 0, body.data, body.len, NULL, 0, &o);
  expect_fail(&o, CHAT_ERR_PERMANENT, "too_many_tool_calls");
  stream_outcome_free(&o);
  buf_free(&body);
}

Test(gemini_stream, refusals_from_the_stream_propagate) {
  static const char *const cases[] = {
      "{\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"x\"}]}}]}",
      "{\"candidates\":[{\"content\":{\"parts\":[{\"functionCall\":"
      "{\"name\":\"f\"}}]}}]}",
      "{\"candidates\":[{\"finishReason\":\"STOP\"}]}",
      "{\"promptFeedback\":{\"blockReason\":\"SAFETY\"}}",
      "{\"modelVersion\":\"m\"}",
      "{\"error\":{\"code\":503}}",
  };
  size_t i;

  for (i = 0; i < N_ELEMS(cases); i++)
    expect_refused(gemini, NULL, cases[i]);
}
