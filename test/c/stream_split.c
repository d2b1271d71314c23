/* stream_split.c - feeds a streamed body in every chunking and checks the
 * outcome never changes (see stream_split.h). */
#include "stream_split.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "fixtures.h"

/* --- Chunkings ----------------------------------------------------------- */

/* xorshift64*: small, and the same sequence on every machine. */
static uint64_t next_random(uint64_t *state) {
  *state ^= *state >> 12;
  *state ^= *state << 25;
  *state ^= *state >> 27;
  return *state * 0x2545F4914F6CDD1DULL;
}

/* Random cuts into cuts[] (room for len + 1): mostly short chunks, some
 * long ones, and now and then an empty one. */
static size_t random_cuts(size_t len, uint64_t *state, size_t *cuts) {
  size_t n = 0, at = 0;

  while (n < len + 1) {
    uint64_t r = next_random(state);
    size_t step = (r & 3) == 0 ? (size_t)(r >> 8) % 64 : (size_t)(r >> 8) % 8;

    if (step == 0 && (r & 0x30) != 0)
      step = 1; /* keep empty chunks to about one in four of the short */
    if (step >= len - at)
      break;
    at += step;
    cuts[n++] = at;
  }
  return n;
}

void split_each(size_t len, split_fn fn, void *ctx) {
  size_t *cuts = malloc((len + 1) * sizeof(*cuts));
  uint64_t state = 0x9E3779B97F4A7C15ULL ^ (uint64_t)len;
  char how[64];
  size_t i, n;
  int run;

  cr_assert_not_null(cuts);
  fn(ctx, "whole", cuts, 0);
  for (i = 0; i <= len; i++) {
    cuts[0] = i;
    snprintf(how, sizeof(how), "split at %zu", i);
    fn(ctx, how, cuts, 1);
  }
  for (i = 0; i + 1 < len; i++)
    cuts[i] = i + 1;
  fn(ctx, "byte at a time", cuts, len > 0 ? len - 1 : 0);
  for (run = 0; run < SPLIT_RANDOM_RUNS; run++) {
    n = random_cuts(len, &state, cuts);
    snprintf(how, sizeof(how), "random #%d", run);
    fn(ctx, how, cuts, n);
  }
  free(cuts);
}

int split_feed(const char *body, size_t len, const size_t *cuts, size_t n_cuts,
               feed_fn feed, void *ctx) {
  size_t start = 0, i;
  int failed = 0;

  for (i = 0; i <= n_cuts; i++) {
    size_t end = i < n_cuts ? cuts[i] : len;
    char *chunk;
    int rc;

    cr_assert(end >= start && end <= len, "bad cut %zu", end);
    chunk = fixture_exact_copy(body + start, end - start);
    rc = feed(ctx, chunk, end - start);
    free(chunk);
    cr_assert(rc == 0 || rc == -1, "feed returned %d", rc);
    cr_assert(!(failed && rc == 0),
              "a feed succeeded after an earlier one failed (chunk %zu)", i);
    failed = rc != 0;
    start = end;
  }
  return failed ? -1 : 0;
}

/* --- Running a stream ---------------------------------------------------- */

void stream_outcome_free(stream_outcome *o) {
  chat_response_free(&o->resp);
  chat_error_free(&o->err);
  buf_free(&o->text);
}

/* chat_stream_text_cb */
static void collect_text(void *ud, const char *text, size_t len) {
  stream_outcome *o = ud;

  cr_assert(len > 0, "on_text called with an empty delta");
  cr_assert_eq(buf_append(&o->text, text, len), 0);
  o->n_deltas++;
}

/* feed_fn */
static int feed_stream(void *ctx, const char *chunk, size_t n) {
  return chat_stream_feed(ctx, chunk, n);
}

void stream_run(const chat_codec *codec, size_t max_bytes, const char *body,
                size_t len, const size_t *cuts, size_t n_cuts,
                stream_outcome *out) {
  chat_stream *st;

  memset(out, 0, sizeof(*out));
  chat_response_init(&out->resp);
  chat_error_init(&out->err);
  buf_init(&out->text, 0);
  st = chat_stream_new(codec, max_bytes, 0, collect_text, out);
  cr_assert_not_null(st);
  out->feed_failed = split_feed(body, len, cuts, n_cuts, feed_stream, st) != 0;
  out->rc = chat_stream_finish(st, &out->resp, &out->err);
  chat_stream_free(st);
  cr_assert(out->rc == 0 || out->rc == -1);
  if (out->rc == 0) {
    cr_assert(!out->feed_failed, "finish succeeded after a failed feed");
    cr_assert_not_null(out->resp.content);
    cr_assert_null(out->err.reason);
  } else {
    cr_assert_not_null(out->err.reason);
    cr_assert_neq(out->err.kind, CHAT_OK);
    assert_response_empty(&out->resp);
  }
}

void split_assert_same_log(const buf *got, const buf *want, const char *how) {
  cr_assert_eq(got->len, want->len, "%s: got\n%s\nwant\n%s", how,
               got->data ? got->data : "", want->data ? want->data : "");
  if (got->len > 0)
    cr_assert(memcmp(got->data, want->data, got->len) == 0,
              "%s: got\n%s\nwant\n%s", how, got->data, want->data);
}

/* --- Comparing ----------------------------------------------------------- */

static void same_str(const char *want, const char *got, const char *field,
                     const char *how) {
  if (want == NULL || got == NULL)
    cr_assert(want == got, "%s: %s is %s, want %s", how, field,
              got ? got : "NULL", want ? want : "NULL");
  else
    cr_assert_str_eq(got, want, "%s: %s differs", how, field);
}

static void same_bytes(const char *want, size_t want_len, const char *got,
                       size_t got_len, const char *field, const char *how) {
  cr_assert_eq(got_len, want_len, "%s: %s is %zu bytes, want %zu", how, field,
               got_len, want_len);
  if (want_len > 0)
    cr_assert(memcmp(got, want, want_len) == 0, "%s: %s differs: %.*s", how,
              field, (int)got_len, got);
}

static void same_call(const chat_tool_call *want, const chat_tool_call *got,
                      const char *how) {
  same_str(want->id, got->id, "tool call id", how);
  same_str(want->name, got->name, "tool call name", how);
  same_bytes(want->arguments, want->arguments_len, got->arguments,
             got->arguments_len, "tool call arguments", how);
}

static void same_response(const chat_response *want, const chat_response *got,
                          const char *how) {
  size_t i;

  same_bytes(want->content, want->content_len, got->content, got->content_len,
             "content", how);
  same_str(want->model, got->model, "model", how);
  same_str(want->finish_reason, got->finish_reason, "finish_reason", how);
  cr_assert_eq(got->stop, want->stop, "%s: stop differs", how);
  cr_assert_eq(got->input_tokens, want->input_tokens, "%s: input_tokens", how);
  cr_assert_eq(got->output_tokens, want->output_tokens, "%s: output_tokens",
               how);
  cr_assert_eq(got->has_cost, want->has_cost, "%s: has_cost", how);
  cr_assert(got->cost == want->cost, "%s: cost differs", how);
  cr_assert_eq(got->has_logprob, want->has_logprob, "%s: has_logprob", how);
  cr_assert(got->logprob == want->logprob, "%s: logprob differs", how);
  cr_assert_eq(got->n_tool_calls, want->n_tool_calls, "%s: tool call count",
               how);
  for (i = 0; i < want->n_tool_calls; i++)
    same_call(&want->tool_calls[i], &got->tool_calls[i], how);
}

static void same_error(const chat_error *want, const chat_error *got,
                       const char *how) {
  cr_assert_eq(got->kind, want->kind, "%s: error kind differs", how);
  same_str(want->reason, got->reason, "reason", how);
  cr_assert_eq(got->http_status, want->http_status, "%s: http_status", how);
  same_str(want->type, got->type, "error type", how);
  same_str(want->code, got->code, "error code", how);
  same_str(want->message, got->message, "error message", how);
  cr_assert_eq(got->retry_after_ms, want->retry_after_ms, "%s: retry", how);
}

void stream_assert_same(const stream_outcome *want, const stream_outcome *got,
                        const char *how) {
  cr_assert_eq(got->rc, want->rc, "%s: finish gave %d, want %d (reason %s)",
               how, got->rc, want->rc,
               got->err.reason ? got->err.reason : "none");
  cr_assert_eq(got->feed_failed, want->feed_failed, "%s: feed failure", how);
  same_response(&want->resp, &got->resp, how);
  same_error(&want->err, &got->err, how);
  same_bytes(want->text.data, want->text.len, got->text.data, got->text.len,
             "on_text output", how);
  cr_assert_eq(got->n_deltas, want->n_deltas, "%s: on_text calls", how);
}

typedef struct split_ctx {
  const chat_codec *codec;
  size_t max_bytes;
  const char *body;
  size_t len;
  const stream_outcome *want;
} split_ctx;

/* split_fn */
static void check_one(void *ctx, const char *how, const size_t *cuts,
                      size_t n_cuts) {
  split_ctx *c = ctx;
  stream_outcome got;

  stream_run(c->codec, c->max_bytes, c->body, c->len, cuts, n_cuts, &got);
  stream_assert_same(c->want, &got, how);
  stream_outcome_free(&got);
}

void stream_split_check(const chat_codec *codec, size_t max_bytes,
                        const char *body, size_t len, stream_outcome *out) {
  split_ctx c = {.codec = codec,
                 .max_bytes = max_bytes,
                 .body = body,
                 .len = len,
                 .want = out};

  stream_run(codec, max_bytes, body, len, NULL, 0, out);
  split_each(len, check_one, &c);
}

/* --- Asserting an outcome ------------------------------------------------ */

void expect_ok(const stream_outcome *o) {
  cr_assert_eq(o->rc, 0, "stream failed: %s (%s)",
               o->err.reason ? o->err.reason : "?",
               o->err.message ? o->err.message : "");
  cr_assert_not(o->feed_failed);
}

void expect_fail(const stream_outcome *o, chat_error_kind kind,
                 const char *reason) {
  cr_assert_eq(o->rc, -1, "stream did not fail");
  cr_assert_str_eq(o->err.reason, reason);
  cr_assert_eq(o->err.kind, kind, "kind %s", chat_error_kind_name(o->err.kind));
  cr_assert_eq(o->err.http_status, 0);
  cr_assert_eq(o->err.retry_after_ms, -1);
}

void expect_content(const stream_outcome *o, const char *text) {
  cr_assert_eq(o->resp.content_len, strlen(text));
  cr_assert_str_eq(o->resp.content, text);
  cr_assert_eq(o->text.len, o->resp.content_len);
  if (o->text.len > 0)
    cr_assert(memcmp(o->text.data, text, o->text.len) == 0);
}

void expect_call(const chat_tool_call *c, const char *id, const char *name,
                 const char *args) {
  cr_assert_str_eq(c->id, id);
  cr_assert_str_eq(c->name, name);
  cr_assert_str_eq(c->arguments, args);
  cr_assert_eq(c->arguments_len, strlen(args));
}
