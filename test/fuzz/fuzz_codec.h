/* fuzz_codec.h - one dialect's non-streamed parsers, from its codec table:
 * parse_response (a 2xx body) and parse_error (any other status), on any
 * bytes, holding to what codec.h and the dialect's header promise. The
 * per-dialect harnesses (fuzz_codec_<dialect>.c) are this with their codec.
 *
 * Input: a mode byte (even: parse_response; odd: parse_error), for
 * parse_error two status bytes (400 + value % 200, or the raw value when
 * the mode byte is 255) and a retry-after byte (0: -1, else 1000 * it),
 * then the body. */
#ifndef CX_FUZZ_CODEC_H
#define CX_FUZZ_CODEC_H

#include <stdlib.h>
#include <string.h>

#include "chat.h"
#include "codec.h"
#include "fuzz_util.h"

static inline int codec_text_ok(const char *s) {
  return s == NULL || chat_utf8_valid(s, strlen(s));
}

static inline void codec_check_error(const chat_error *e) {
  FUZZ_CHECK(e->reason != NULL, "an error has a reason");
  FUZZ_CHECK(e->kind == CHAT_ERR_TRANSIENT || e->kind == CHAT_ERR_PERMANENT,
             "kind %d", (int)e->kind);
  FUZZ_CHECK(codec_text_ok(e->type) && codec_text_ok(e->code) &&
                 codec_text_ok(e->message),
             "type, code and message are UTF-8");
  FUZZ_CHECK(e->retry_after_ms >= -1, "retry_after_ms %ld", e->retry_after_ms);
}

static inline void codec_parse_response(const chat_codec *codec,
                                        const char *body, size_t len) {
  chat_response r;
  chat_error e;
  int rc;

  chat_response_init(&r);
  chat_error_init(&e);
  /* A small cap now and then, so the past-the-cap path is fuzzed too. */
  size_t cap = len % 5 == 0 ? 2 : 0;

  rc = codec->parse_response(body, len, cap, &r, &e);
  FUZZ_CHECK(rc == 0 || rc == -1, "parse_response returned %d", rc);
  if (rc != 0) {
    codec_check_error(&e);
    FUZZ_CHECK(r.content == NULL && r.model == NULL &&
                   r.finish_reason == NULL && r.tool_calls == NULL &&
                   r.n_tool_calls == 0,
               "a failed parse leaves the response empty");
  } else {
    FUZZ_CHECK(e.reason == NULL, "success with a reason %s", e.reason);
    FUZZ_CHECK(r.content != NULL || r.content_len == 0, "no content, no len");
    FUZZ_CHECK(r.content == NULL || (r.content[r.content_len] == '\0' &&
                                     chat_utf8_valid(r.content, r.content_len)),
               "content is NUL-terminated UTF-8");
    FUZZ_CHECK(codec_text_ok(r.model) && codec_text_ok(r.finish_reason),
               "model and finish_reason are UTF-8");
    FUZZ_CHECK((unsigned)r.stop < CHAT_STOP_COUNT, "stop %d", (int)r.stop);
    FUZZ_CHECK(r.input_tokens >= -1 && r.output_tokens >= -1, "token counts");
    FUZZ_CHECK(r.n_tool_calls <= (cap ? cap : CHAT_MAX_TOOL_CALLS),
               "%zu tool calls past the cap", r.n_tool_calls);
    for (size_t i = 0; i < r.n_tool_calls; i++) {
      const chat_tool_call *c = &r.tool_calls[i];

      FUZZ_CHECK(c->id != NULL && c->name != NULL && c->arguments != NULL,
                 "call %zu has an id, a name and arguments", i);
      FUZZ_CHECK(codec_text_ok(c->id) && codec_text_ok(c->name),
                 "call %zu: id and name are UTF-8", i);
      FUZZ_CHECK(c->arguments_len == 0 ||
                     c->arguments[c->arguments_len] == '\0',
                 "call %zu: arguments NUL-terminated", i);
    }
  }
  chat_response_free(&r);
  chat_error_free(&e);
}

static inline void codec_parse_error(const chat_codec *codec, long status,
                                     long retry_after_ms, const char *body,
                                     size_t len) {
  chat_error e;

  chat_error_init(&e);
  codec->parse_error(status, body, len, retry_after_ms, &e);
  codec_check_error(&e);
  if (retry_after_ms >= 0)
    FUZZ_CHECK(e.retry_after_ms == retry_after_ms, "the hint is copied in");
  chat_error_free(&e);
}

static inline int codec_fuzz_one(const chat_codec *codec, const uint8_t *data,
                                 size_t size) {
  fuzz_in in = fuzz_in_make(data, size);
  unsigned mode = fuzz_byte(&in);
  char *body;

  if (mode % 2 == 0) {
    body = fuzz_exact(in.p, in.n);
    codec_parse_response(codec, body, in.n);
  } else {
    unsigned raw = fuzz_u16(&in), hint = fuzz_byte(&in);
    long status = mode == 255 ? (long)raw : 400 + (long)(raw % 200);

    body = fuzz_exact(in.p, in.n);
    codec_parse_error(codec, status, hint ? 1000L * hint : -1, body, in.n);
  }
  free(body);
  return 0;
}

#endif
