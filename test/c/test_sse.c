/* test_sse.c - unit tests for sse.c. Every body is parsed under every
 * chunking (split_each: whole, each 2-way split, byte at a time, random)
 * and must give the same events and the same error each time: comments,
 * multi-line data, CRLF and lone-CR line ends cut between CR and LF, the
 * BOM, a missing final blank line, the size cap, NULs, and the provider
 * vectors in test/fixtures/stream. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>
#include <criterion/criterion.h>

#include "buf.h"
#include "fixtures.h"
#include "sse.h"
#include "stream_split.h"

/* --- Recording events ---------------------------------------------------- */

/* An expected event; data NULL ends a list. */
typedef struct ev {
  const char *event;
  const char *data;
  size_t len;
} ev;

#define EV(name, lit)                                                          \
  { (name), (lit), sizeof(lit) - 1 }
#define END                                                                    \
  { NULL, NULL, 0 }

/* The events one run dispatched, written out one per line as
 * "[name]len:data" so two runs compare as strings. */
typedef struct sse_run {
  buf log;
  size_t n;
  size_t stop_at;  /* > 0: the callback stops the parser at event n */
  sse_error error; /* the parser's error after finish */
  sse_parser p;
} sse_run;

static void log_event(buf *log, const char *event, const char *data,
                      size_t len) {
  cr_assert_eq(buf_printf(log, "[%s]%zu:", event ? event : "-", len), 0);
  cr_assert_eq(buf_append(log, data, len), 0);
  cr_assert_eq(buf_append(log, "\n", 1), 0);
}

/* sse_event_cb */
static int record(void *ud, const char *event, const char *data, size_t len) {
  sse_run *r = ud;

  cr_assert_not_null(data);
  cr_assert_eq(data[len], '\0', "data is not NUL-terminated");
  if (event != NULL)
    cr_assert_neq(event[0], '\0', "an empty name must come as NULL");
  log_event(&r->log, event, data, len);
  r->n++;
  return r->stop_at > 0 && r->n == r->stop_at;
}

/* feed_fn */
static int feed_sse(void *ctx, const char *chunk, size_t n) {
  return sse_feed(ctx, chunk, n);
}

static void run_sse(const char *body, size_t len, size_t max,
                    const size_t *cuts, size_t n_cuts, sse_run *r) {
  buf_init(&r->log, 0);
  r->n = 0;
  sse_init(&r->p, max, record, r);
  if (split_feed(body, len, cuts, n_cuts, feed_sse, &r->p) == 0)
    sse_finish(&r->p);
  r->error = r->p.error;
  sse_free(&r->p);
}

typedef struct expect_ctx {
  const char *body;
  size_t len, max;
  const buf *want;
  sse_error want_error;
} expect_ctx;

/* split_fn */
static void expect_one(void *ctx, const char *how, const size_t *cuts,
                       size_t n_cuts) {
  expect_ctx *c = ctx;
  sse_run r = {.stop_at = 0};

  run_sse(c->body, c->len, c->max, cuts, n_cuts, &r);
  cr_assert_eq(r.error, c->want_error, "%s: error %d, want %d", how, r.error,
               c->want_error);
  split_assert_same_log(&r.log, c->want, how);
  buf_free(&r.log);
}

/* Parses body under every chunking, expecting exactly evs (END-terminated)
 * and the parser's error want_error. */
static void expect_sse(const char *body, size_t len, size_t max,
                       sse_error want_error, const ev *evs) {
  buf want;
  expect_ctx c = {.body = body,
                  .len = len,
                  .max = max,
                  .want = &want,
                  .want_error = want_error};

  buf_init(&want, 0);
  for (; evs->data != NULL; evs++)
    log_event(&want, evs->event, evs->data, evs->len);
  split_each(len, expect_one, &c);
  buf_free(&want);
}

#define EXPECT_SSE(lit, max, error, ...)                                       \
  do {                                                                         \
    const ev evs_[] = {__VA_ARGS__};                                           \
    expect_sse((lit), sizeof(lit) - 1, (max), (error), evs_);                  \
  } while (0)

/* --- Fields and events --------------------------------------------------- */

Test(sse, one_data_event_has_no_name) {
  EXPECT_SSE("data: {\"a\":1}\n\n", 0, SSE_OK, EV(NULL, "{\"a\":1}"), END);
}

Test(sse, named_events_in_order) {
  EXPECT_SSE("event: message_start\ndata: one\n\n"
             "event: ping\ndata: two\n\n"
             "data: three\n\n",
             0, SSE_OK, EV("message_start", "one"), EV("ping", "two"),
             EV(NULL, "three"), END);
}

Test(sse, unknown_event_names_are_passed_through) {
  EXPECT_SSE("event: some_future_event\ndata: {}\n\n", 0, SSE_OK,
             EV("some_future_event", "{}"), END);
}

Test(sse, name_after_data_and_last_name_wins) {
  EXPECT_SSE("data: x\nevent: a\nevent: b\n\n", 0, SSE_OK, EV("b", "x"), END);
}

Test(sse, empty_event_name_comes_as_null) {
  EXPECT_SSE("event:\ndata: x\n\nevent\ndata: y\n\n", 0, SSE_OK, EV(NULL, "x"),
             EV(NULL, "y"), END);
}

Test(sse, comments_are_skipped) {
  EXPECT_SSE(": OPENROUTER PROCESSING\n\n"
             ":no space\n"
             "data: a\n"
             ": between the lines of one event\n"
             "data: b\n"
             ":\n\n",
             0, SSE_OK, EV(NULL, "a\nb"), END);
}

Test(sse, multi_line_data_joined_with_lf) {
  EXPECT_SSE("data: {\ndata: \"k\": 1\ndata: }\n\n", 0, SSE_OK,
             EV(NULL, "{\n\"k\": 1\n}"), END);
}

Test(sse, only_one_space_after_the_colon_is_dropped) {
  EXPECT_SSE("data:x\n\ndata:  x\n\ndata:\tx\n\ndata: x \n\n", 0, SSE_OK,
             EV(NULL, "x"), EV(NULL, " x"), EV(NULL, "\tx"), EV(NULL, "x "),
             END);
}

Test(sse, value_may_hold_colons) {
  EXPECT_SSE("data: a:b: c\n\n", 0, SSE_OK, EV(NULL, "a:b: c"), END);
}

Test(sse, empty_data) {
  /* "data:" and a bare "data" are data lines with an empty value: the
   * event is dispatched, with empty data. Two of them give one LF. */
  EXPECT_SSE("data:\n\ndata\n\ndata: \n\ndata:\ndata:\n\n", 0, SSE_OK,
             EV(NULL, ""), EV(NULL, ""), EV(NULL, ""), EV(NULL, "\n"), END);
}

Test(sse, event_without_data_is_not_dispatched) {
  /* ...and its name does not leak into the next event. */
  EXPECT_SSE("event: ping\n\nid: 7\nretry: 100\n\n\n\ndata: x\n\n", 0, SSE_OK,
             EV(NULL, "x"), END);
}

Test(sse, id_retry_and_unknown_fields_are_ignored) {
  EXPECT_SSE("id: 1\nretry: 5\nfoo: bar\nDATA: shouting\nData: x\n"
             "data: kept\n\n",
             0, SSE_OK, EV(NULL, "kept"), END);
}

Test(sse, empty_body_and_blank_lines_only) {
  EXPECT_SSE("", 0, SSE_OK, END);
  EXPECT_SSE("\n\n\r\n\r\r", 0, SSE_OK, END);
}

/* --- Line ends ----------------------------------------------------------- */

Test(sse, crlf_line_ends) {
  /* split_each cuts between every CR and its LF. */
  EXPECT_SSE("event: a\r\ndata: 1\r\ndata: 2\r\n\r\ndata: 3\r\n\r\n", 0, SSE_OK,
             EV("a", "1\n2"), EV(NULL, "3"), END);
}

Test(sse, lone_cr_line_ends) {
  EXPECT_SSE("event: a\rdata: 1\rdata: 2\r\rdata: 3\r\r", 0, SSE_OK,
             EV("a", "1\n2"), EV(NULL, "3"), END);
}

Test(sse, mixed_line_ends) {
  EXPECT_SSE("data: 1\r\n\rdata: 2\n\r\ndata: 3\r\r\n", 0, SSE_OK,
             EV(NULL, "1"), EV(NULL, "2"), EV(NULL, "3"), END);
}

Test(sse, cr_lf_is_one_line_end_not_two) {
  /* CR LF CR LF is two line ends (one blank line), not four. */
  EXPECT_SSE("data: a\r\n\r\ndata: b\r\n\r\n", 0, SSE_OK, EV(NULL, "a"),
             EV(NULL, "b"), END);
  /* LF CR is two line ends: the CR after a LF is a blank line. */
  EXPECT_SSE("data: a\n\rdata: b\n\n", 0, SSE_OK, EV(NULL, "a"), EV(NULL, "b"),
             END);
}

Test(sse, cr_at_chunk_end_then_lf_in_the_next) {
  sse_run r = {.stop_at = 0};
  sse_parser *p = &r.p;

  buf_init(&r.log, 0);
  sse_init(p, 0, record, &r);
  cr_assert_eq(sse_feed(p, "data: a\r", 8), 0);
  cr_assert_eq(r.n, 0);
  cr_assert_eq(sse_feed(p, "\n", 1), 0);
  cr_assert_eq(r.n, 0, "the LF of a CRLF cut in two is not a blank line");
  cr_assert_eq(sse_feed(p, "\r", 1), 0);
  cr_assert_eq(r.n, 1, "a blank line ending in CR dispatches at once");
  cr_assert_eq(sse_feed(p, "\n", 1), 0);
  cr_assert_eq(sse_feed(p, "data: b\n\n", 9), 0);
  cr_assert_eq(r.n, 2);
  cr_assert_str_eq(r.log.data, "[-]1:a\n[-]1:b\n");
  cr_assert_eq(sse_finish(p), 0);
  sse_free(p);
  buf_free(&r.log);
}

/* --- The byte-order mark ------------------------------------------------- */

Test(sse, bom_at_start_is_skipped) {
  EXPECT_SSE("\xEF\xBB\xBF"
             "data: x\n\n",
             0, SSE_OK, EV(NULL, "x"), END);
  EXPECT_SSE("\xEF\xBB\xBF"
             "event: e\ndata: x\n\n",
             0, SSE_OK, EV("e", "x"), END);
}

Test(sse, only_one_bom_is_skipped) {
  /* A second BOM is part of the field name, which is then unknown. */
  EXPECT_SSE("\xEF\xBB\xBF\xEF\xBB\xBF"
             "data: x\n\ndata: y\n\n",
             0, SSE_OK, EV(NULL, "y"), END);
}

Test(sse, bom_later_is_text) {
  EXPECT_SSE("data: x\n\n\xEF\xBB\xBF"
             "data: y\n\ndata: \xEF\xBB\xBF\n\n",
             0, SSE_OK, EV(NULL, "x"), EV(NULL, "\xEF\xBB\xBF"), END);
}

Test(sse, partial_bom_is_text) {
  /* EF BB not followed by BF: the bytes stay, making an unknown field. */
  EXPECT_SSE("\xEF\xBB"
             "data: x\n\ndata: y\n\n",
             0, SSE_OK, EV(NULL, "y"), END);
  EXPECT_SSE("\xEF"
             "\n"
             "data: y\n\n",
             0, SSE_OK, EV(NULL, "y"), END);
  EXPECT_SSE("\xEF\xBB", 0, SSE_OK, END);
}

/* --- End of stream ------------------------------------------------------- */

Test(sse, last_event_without_blank_line_after_a_line_end) {
  EXPECT_SSE("data: a\n\ndata: b\n", 0, SSE_OK, EV(NULL, "a"), EV(NULL, "b"),
             END);
  EXPECT_SSE("data: a\r\n", 0, SSE_OK, EV(NULL, "a"), END);
  EXPECT_SSE("event: x\ndata: a\rdata: b\r", 0, SSE_OK, EV("x", "a\nb"), END);
}

Test(sse, body_cut_inside_a_line_drops_the_event) {
  EXPECT_SSE("data: a\n\ndata: {\"cut", 0, SSE_OK, EV(NULL, "a"), END);
  /* The whole pending event goes, not just its last line. */
  EXPECT_SSE("data: a\n\nevent: e\ndata: 1\ndata: 2", 0, SSE_OK, EV(NULL, "a"),
             END);
  EXPECT_SSE("data: a\n: keep-alive, cut", 0, SSE_OK, END);
}

Test(sse, finish_after_finish_dispatches_nothing_more) {
  sse_run r = {.stop_at = 0};

  buf_init(&r.log, 0);
  sse_init(&r.p, 0, record, &r);
  cr_assert_eq(sse_feed(&r.p, "data: a\n", 8), 0);
  cr_assert_eq(sse_finish(&r.p), 0);
  cr_assert_eq(sse_finish(&r.p), 0);
  cr_assert_eq(r.n, 1);
  sse_free(&r.p);
  buf_free(&r.log);
}

/* --- Size cap ------------------------------------------------------------ */

Test(sse, event_at_the_cap_passes) {
  /* max 8: the line "data: 12" is 8 bytes, the data 2; a data total of 8
   * over several lines passes too. */
  EXPECT_SSE("data: 12\n\n", 8, SSE_OK, EV(NULL, "12"), END);
  EXPECT_SSE("data:123\ndata:123\ndata\n\n", 8, SSE_OK, EV(NULL, "123\n123\n"),
             END);
}

Test(sse, line_over_the_cap_fails) {
  EXPECT_SSE("data: a\n\ndata: 123\n\ndata: b\n\n", 8, SSE_TOO_LARGE,
             EV(NULL, "a"), END);
  /* A long line fails even before its end arrives, and even at the end
   * of the body. */
  EXPECT_SSE("data: 12345678901234567890", 8, SSE_TOO_LARGE, END);
  EXPECT_SSE("event: 12345\ndata: x\n\n", 8, SSE_TOO_LARGE, END);
}

Test(sse, data_over_the_cap_across_lines_fails) {
  /* Each line fits; the data, "123\n123\n1", does not. */
  EXPECT_SSE("data: ok\n\ndata:123\ndata:123\ndata:1\n\n", 8, SSE_TOO_LARGE,
             EV(NULL, "ok"), END);
}

Test(sse, comments_are_not_capped) {
  EXPECT_SSE(": a very long keep-alive comment, longer than the cap\n"
             "data: ok\n\n",
             8, SSE_OK, EV(NULL, "ok"), END);
}

Test(sse, parser_stays_failed) {
  sse_run r = {.stop_at = 0};

  buf_init(&r.log, 0);
  sse_init(&r.p, 4, record, &r);
  cr_assert_eq(sse_feed(&r.p, "data: toolong\n\n", 15), -1);
  cr_assert_eq(r.p.error, SSE_TOO_LARGE);
  cr_assert_eq(sse_feed(&r.p, "data:a\n\n", 8), -1);
  cr_assert_eq(sse_feed(&r.p, "", 0), -1);
  cr_assert_eq(sse_finish(&r.p), -1);
  cr_assert_eq(r.n, 0);
  sse_free(&r.p);
  buf_free(&r.log);
}

/* --- Hostile bytes ------------------------------------------------------- */

Test(sse, nul_in_data_is_passed_with_its_length) {
  EXPECT_SSE("data: a\0b\n\n", 0, SSE_OK, EV(NULL, "a\0b"), END);
}

Test(sse, nul_in_event_name_fails) {
  /* "message_stop\0junk" must not pass for "message_stop". */
  EXPECT_SSE("data: a\n\nevent: message_stop\0junk\ndata: {}\n\n", 0,
             SSE_BAD_NAME, EV(NULL, "a"), END);
}

Test(sse, invalid_utf8_is_passed_through) {
  /* Checking the encoding is the reader's job (chat_stream does). */
  EXPECT_SSE("event: \xC3\ndata: \xFF\xFE\n\n", 0, SSE_OK,
             EV("\xC3", "\xFF\xFE"), END);
}

Test(sse, callback_can_stop_the_parser) {
  sse_run r = {.stop_at = 2};

  run_sse("data: 1\n\ndata: 2\n\ndata: 3\n\n", 27, 0, NULL, 0, &r);
  cr_assert_eq(r.error, SSE_STOPPED);
  cr_assert_eq(r.n, 2);
  cr_assert_str_eq(r.log.data, "[-]1:1\n[-]1:2\n");
  buf_free(&r.log);
}

Test(sse, empty_and_null_chunks) {
  sse_run r = {.stop_at = 0};

  buf_init(&r.log, 0);
  sse_init(&r.p, 0, record, &r);
  cr_assert_eq(sse_feed(&r.p, NULL, 0), 0);
  cr_assert_eq(sse_feed(&r.p, "", 0), 0);
  cr_assert_eq(sse_feed(&r.p, NULL, 3), -1, "NULL with a length is refused");
  sse_free(&r.p);
  buf_free(&r.log);
}

/* --- Provider vectors ---------------------------------------------------- */

typedef struct vector_ctx {
  const char *names[32]; /* expected event names, NULL for none */
  size_t n;
  int type_is_name; /* each data's JSON "type" equals the name */
  int last_is_done; /* the last data is [DONE] */
  size_t seen;
} vector_ctx;

/* sse_event_cb: checks each event of a provider vector. */
static int check_vector_event(void *ud, const char *event, const char *data,
                              size_t len) {
  vector_ctx *c = ud;
  const cJSON *type;
  cJSON *root;

  cr_assert_lt(c->seen, c->n, "more events than expected");
  if (c->names[c->seen] == NULL)
    cr_assert_null(event, "event %zu has a name: %s", c->seen, event);
  else
    cr_assert_str_eq(event, c->names[c->seen]);
  c->seen++;
  if (c->last_is_done && c->seen == c->n) {
    cr_assert_eq(len, 6);
    cr_assert_str_eq(data, "[DONE]");
    return 0;
  }
  root = cJSON_ParseWithLength(data, len);
  cr_assert(cJSON_IsObject(root), "event %zu is not a JSON object: %s", c->seen,
            data);
  if (c->type_is_name) {
    type = cJSON_GetObjectItemCaseSensitive(root, "type");
    cr_assert(cJSON_IsString(type));
    cr_assert_str_eq(type->valuestring, event);
  }
  cJSON_Delete(root);
  return 0;
}

/* Checks the events of body fed whole against want, then that every
 * other chunking gives the very same events. */
static void check_vector_body(const char *body, size_t len,
                              const vector_ctx *want) {
  vector_ctx c = *want;
  sse_run whole = {.stop_at = 0};
  expect_ctx e = {.body = body, .len = len, .want = &whole.log};
  sse_parser p;

  sse_init(&p, 0, check_vector_event, &c);
  cr_assert_eq(sse_feed(&p, body, len), 0);
  cr_assert_eq(sse_finish(&p), 0);
  cr_assert_eq(c.seen, c.n, "%zu events, want %zu", c.seen, c.n);
  sse_free(&p);

  run_sse(body, len, 0, NULL, 0, &whole);
  split_each(len, expect_one, &e);
  buf_free(&whole.log);
}

/* Replaces every LF in s[0..len) by eol; the caller frees the result. */
static char *with_line_ends(const char *s, size_t len, const char *eol,
                            size_t *out_len) {
  buf b;
  size_t i;

  buf_init(&b, 0);
  for (i = 0; i < len; i++) {
    if (s[i] == '\n')
      cr_assert_eq(buf_puts(&b, eol), 0);
    else
      cr_assert_eq(buf_append(&b, &s[i], 1), 0);
  }
  return buf_detach(&b, out_len);
}

/* The vector under every chunking, with LF, CRLF and CR line ends. */
static void check_vector(const char *file, const vector_ctx *want) {
  static const char *const eols[] = {"\n", "\r\n", "\r"};
  char path[128];
  size_t len, i;
  char *body;

  snprintf(path, sizeof(path), "stream/%s", file);
  body = fixture_load(path, &len);
  for (i = 0; i < 3; i++) {
    size_t n;
    char *copy = with_line_ends(body, len, eols[i], &n);

    check_vector_body(copy, n, want);
    free(copy);
  }
  free(body);
}

Test(sse_vectors, openai_text) {
  vector_ctx want = {
      .names = {NULL, NULL, NULL, NULL}, .n = 4, .last_is_done = 1};

  check_vector("openai_text.sse", &want);
}

Test(sse_vectors, openai_tool_call_and_usage_tail) {
  vector_ctx calls = {.n = 5, .last_is_done = 1};
  vector_ctx tail = {.n = 1};

  check_vector("openai_tool_call.sse", &calls);
  check_vector("openai_usage_tail.sse", &tail);
}

Test(sse_vectors, openrouter_error_with_keepalive_comments) {
  vector_ctx want = {.n = 1};

  check_vector("openrouter_midstream_error.sse", &want);
}

Test(sse_vectors, anthropic_basic) {
  vector_ctx want = {.names = {"message_start", "content_block_start", "ping",
                               "content_block_delta", "content_block_delta",
                               "content_block_stop", "message_delta",
                               "message_stop"},
                     .n = 8,
                     .type_is_name = 1};

  check_vector("anthropic_basic.sse", &want);
}

Test(sse_vectors, anthropic_tool_use_and_error) {
  vector_ctx tool = {
      .names = {"content_block_start"}, .n = 13, .type_is_name = 1};
  vector_ctx error = {.names = {"error"}, .n = 1, .type_is_name = 1};
  size_t i;

  for (i = 1; i <= 9; i++)
    tool.names[i] = "content_block_delta";
  tool.names[10] = "content_block_stop";
  tool.names[11] = "message_delta";
  tool.names[12] = "message_stop";
  check_vector("anthropic_tool_use.sse", &tool);
  check_vector("anthropic_error.sse", &error);
}

Test(sse_vectors, gemini_basic) {
  vector_ctx want = {.n = 3};

  check_vector("gemini_basic.sse", &want);
}

Test(sse_vectors, openrouter_keepalives_between_events) {
  /* §2.1: ": OPENROUTER PROCESSING" lines come between chunks. */
  static const char body[] =
      ": OPENROUTER PROCESSING\n\n"
      "data: {\"choices\":[{\"delta\":{\"content\":\"Hi\"}}]}\n\n"
      ": OPENROUTER PROCESSING\n\n"
      ": OPENROUTER PROCESSING\n"
      "data: [DONE]\n\n";
  vector_ctx want = {.n = 2, .last_is_done = 1};

  check_vector_body(body, sizeof(body) - 1, &want);
}
