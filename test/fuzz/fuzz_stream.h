/* fuzz_stream.h - stream assembly (chat_stream.c with one dialect's
 * stream_event) fed whole and in fuzzed chunks: the response or error and
 * the text handed to on_text must be the same whatever the cuts, and hold
 * what chat_stream.h promises. The per-dialect harnesses
 * (fuzz_stream_<dialect>.c) are this with their codec.
 *
 * Input: max_bytes byte (0: the 8 MiB default, else 16 * it), the cuts
 * (fuzz_read_cuts), then the body. */
#ifndef CX_FUZZ_STREAM_H
#define CX_FUZZ_STREAM_H

#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "chat.h"
#include "chat_stream.h"
#include "codec.h"
#include "fuzz_util.h"
#include "json_strict.h"

typedef struct stream_outcome {
  int rc; /* chat_stream_finish's */
  chat_response resp;
  chat_error err;
  buf text; /* everything on_text got */
  size_t n_deltas;
  int feed_failed;
} stream_outcome;

static inline void stream_on_text(void *ud, const char *text, size_t len) {
  stream_outcome *o = ud;

  FUZZ_CHECK(len > 0, "on_text got an empty delta");
  if (buf_append(&o->text, text, len) != 0)
    abort();
  o->n_deltas++;
}

static inline int stream_feed(void *ctx, const char *chunk, size_t n) {
  return chat_stream_feed(ctx, chunk, n);
}

/* What chat_stream.h promises of a finished stream's result. */
static inline void stream_check_result(const stream_outcome *o) {
  const chat_response *r = &o->resp;

  FUZZ_CHECK(o->rc == 0 || o->rc == -1, "finish returned %d", o->rc);
  if (o->rc != 0) {
    FUZZ_CHECK(o->err.reason != NULL && o->err.kind != CHAT_OK,
               "a failure says why");
    FUZZ_CHECK(r->content == NULL && r->n_tool_calls == 0 &&
                   r->tool_calls == NULL && r->model == NULL &&
                   r->finish_reason == NULL,
               "a failure leaves the response empty");
    return;
  }
  FUZZ_CHECK(!o->feed_failed, "finish succeeded after a failed feed");
  FUZZ_CHECK(o->err.reason == NULL, "success with a reason %s", o->err.reason);
  FUZZ_CHECK(r->content != NULL && r->content[r->content_len] == '\0',
             "content is there and NUL-terminated");
  FUZZ_CHECK(chat_utf8_valid(r->content, r->content_len), "content is UTF-8");
  FUZZ_CHECK(fuzz_same(r->content, r->content_len,
                       o->text.len ? o->text.data : r->content, o->text.len),
             "on_text saw %zu bytes, content is %zu", o->text.len,
             r->content_len);
  FUZZ_CHECK((unsigned)r->stop < CHAT_STOP_COUNT, "stop %d", (int)r->stop);
  for (size_t i = 0; i < r->n_tool_calls; i++) {
    const chat_tool_call *c = &r->tool_calls[i];
    size_t end = 0, at = 0;
    const char *why = NULL;

    FUZZ_CHECK(c->id != NULL && c->id[0] != '\0', "call %zu has an id", i);
    FUZZ_CHECK(c->name != NULL && c->name[0] != '\0', "call %zu has a name", i);
    FUZZ_CHECK(chat_utf8_valid(c->id, strlen(c->id)) &&
                   chat_utf8_valid(c->name, strlen(c->name)),
               "call %zu: id and name are UTF-8", i);
    FUZZ_CHECK(c->arguments != NULL && c->arguments[c->arguments_len] == '\0',
               "call %zu has NUL-terminated arguments", i);
    FUZZ_CHECK(
        json_strict_read(
            c->arguments, c->arguments_len, 0,
            &(json_strict_opts){.max_depth = JSON_STRICT_DEPTH_LIMIT,
                                .flags = JSON_STRICT_WHOLE | JSON_STRICT_NUL |
                                         JSON_STRICT_LONG_NUMBERS},
            &end, &at, &why) == JSON_STRICT_OK,
        "call %zu: arguments are one JSON value (%s at %zu)", i, why, at);
  }
}

/* Runs body through a fresh stream cut as c says (NULL: whole). */
static inline void stream_run(const chat_codec *codec, size_t max_bytes,
                              const char *body, size_t len, const fuzz_cuts *c,
                              stream_outcome *o) {
  chat_stream *st;
  chat_response again;
  chat_error again_err;
  int rc2;

  memset(o, 0, sizeof(*o));
  chat_response_init(&o->resp);
  chat_error_init(&o->err);
  buf_init(&o->text, 0);
  st = chat_stream_new(codec, max_bytes, len % 5 == 0 ? 2 : 0, stream_on_text,
                       o);
  FUZZ_CHECK(st != NULL, "chat_stream_new");
  o->feed_failed = fuzz_feed(body, len, c, stream_feed, st) != 0;
  o->rc = chat_stream_finish(st, &o->resp, &o->err);
  stream_check_result(o);
  /* "Calling it again gives the same result." */
  chat_response_init(&again);
  chat_error_init(&again_err);
  rc2 = chat_stream_finish(st, &again, &again_err);
  FUZZ_CHECK(rc2 == o->rc, "finish again: %d then %d", o->rc, rc2);
  FUZZ_CHECK(fuzz_same(again.content, again.content_len, o->resp.content,
                       o->resp.content_len) &&
                 fuzz_same_str(again_err.reason, o->err.reason),
             "finish again gives another result");
  chat_response_free(&again);
  chat_error_free(&again_err);
  chat_stream_free(st);
}

static inline void stream_outcome_free(stream_outcome *o) {
  chat_response_free(&o->resp);
  chat_error_free(&o->err);
  buf_free(&o->text);
}

static inline void stream_same_call(const chat_tool_call *a,
                                    const chat_tool_call *b, size_t i) {
  FUZZ_CHECK(fuzz_same_str(a->id, b->id) && fuzz_same_str(a->name, b->name) &&
                 fuzz_same(a->arguments, a->arguments_len, b->arguments,
                           b->arguments_len),
             "tool call %zu differs", i);
}

/* The split run gave exactly what the whole one did. */
static inline void stream_assert_same(const stream_outcome *w,
                                      const stream_outcome *s) {
  const chat_response *a = &w->resp, *b = &s->resp;

  FUZZ_CHECK(w->rc == s->rc, "finish %d whole, %d split", w->rc, s->rc);
  FUZZ_CHECK(w->feed_failed == s->feed_failed, "feed failed %d whole, %d split",
             w->feed_failed, s->feed_failed);
  FUZZ_CHECK(fuzz_same(w->text.data, w->text.len, s->text.data, s->text.len) &&
                 w->n_deltas == s->n_deltas,
             "on_text differs: %zu bytes in %zu whole, %zu in %zu split",
             w->text.len, w->n_deltas, s->text.len, s->n_deltas);
  FUZZ_CHECK(w->err.kind == s->err.kind &&
                 fuzz_same_str(w->err.reason, s->err.reason) &&
                 fuzz_same_str(w->err.type, s->err.type) &&
                 fuzz_same_str(w->err.code, s->err.code) &&
                 fuzz_same_str(w->err.message, s->err.message) &&
                 w->err.retry_after_ms == s->err.retry_after_ms,
             "error differs: %s whole, %s split", w->err.reason, s->err.reason);
  FUZZ_CHECK(fuzz_same(a->content, a->content_len, b->content, b->content_len),
             "content differs");
  FUZZ_CHECK(fuzz_same_str(a->model, b->model) &&
                 fuzz_same_str(a->finish_reason, b->finish_reason) &&
                 a->stop == b->stop && a->input_tokens == b->input_tokens &&
                 a->output_tokens == b->output_tokens &&
                 a->has_cost == b->has_cost &&
                 (!a->has_cost || a->cost == b->cost) &&
                 a->has_logprob == b->has_logprob &&
                 (!a->has_logprob || a->logprob == b->logprob),
             "response fields differ");
  FUZZ_CHECK(a->n_tool_calls == b->n_tool_calls, "%zu calls whole, %zu split",
             a->n_tool_calls, b->n_tool_calls);
  for (size_t i = 0; i < a->n_tool_calls; i++)
    stream_same_call(&a->tool_calls[i], &b->tool_calls[i], i);
}

/* The whole harness for one dialect. */
static inline int stream_fuzz_one(const chat_codec *codec, const uint8_t *data,
                                  size_t size) {
  fuzz_in in = fuzz_in_make(data, size);
  size_t max_bytes = 16 * (size_t)fuzz_byte(&in);
  fuzz_cuts cuts = fuzz_read_cuts(&in);
  char *body = fuzz_exact(in.p, in.n);
  stream_outcome whole, split;

  stream_run(codec, max_bytes, body, in.n, NULL, &whole);
  stream_run(codec, max_bytes, body, in.n, &cuts, &split);
  stream_assert_same(&whole, &split);
  stream_outcome_free(&whole);
  stream_outcome_free(&split);
  free(body);
  return 0;
}

#endif
