/* chat.c - helpers for the provider-neutral chat types: init/free, error
 * classification by HTTP status, and a strict UTF-8 check. Pure C, no
 * erl_nif. The `reason` words a chat_error can carry are enums.def's
 * CX_REASON list, with what each means. */
#include "chat.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "reason.h"

void chat_response_init(chat_response *r) {
  r->content = NULL;
  r->content_len = 0;
  r->model = NULL;
  r->finish_reason = NULL;
  r->stop = CHAT_STOP_NONE;
  r->input_tokens = -1;
  r->output_tokens = -1;
  r->tool_calls = NULL;
  r->n_tool_calls = 0;
  r->max_tool_calls = CHAT_MAX_TOOL_CALLS;
  r->has_cost = 0;
  r->cost = 0.0;
  r->has_logprob = 0;
  r->logprob = 0.0;
}

void chat_tool_call_free(chat_tool_call *c) {
  free(c->id);
  free(c->name);
  free(c->arguments);
  memset(c, 0, sizeof(*c));
}

void chat_response_free(chat_response *r) {
  free(r->content);
  free(r->model);
  free(r->finish_reason);
  for (size_t i = 0; i < r->n_tool_calls; i++)
    chat_tool_call_free(&r->tool_calls[i]);
  free(r->tool_calls);
  chat_response_init(r);
}

chat_tool_call *chat_response_add_tool_call(chat_response *r) {
  chat_tool_call *calls;

  if (r->n_tool_calls >= chat_tool_call_cap(r->max_tool_calls))
    return NULL;
  calls = realloc(r->tool_calls, (r->n_tool_calls + 1) * sizeof(*calls));
  if (calls == NULL)
    return NULL;
  r->tool_calls = calls;
  memset(&calls[r->n_tool_calls], 0, sizeof(*calls));
  return &calls[r->n_tool_calls++];
}

size_t chat_tool_call_cap(size_t max_tool_calls) {
  return max_tool_calls == 0 || max_tool_calls > CHAT_MAX_TOOL_CALLS
             ? CHAT_MAX_TOOL_CALLS
             : max_tool_calls;
}

void chat_error_too_many_tool_calls(chat_error *e, size_t max) {
  char msg[96];

  snprintf(msg, sizeof(msg),
           "the reply holds more than %zu tool calls (max_tool_calls)", max);
  chat_error_set(e, CHAT_ERR_PERMANENT, CX_REASON_WORD(too_many_tool_calls),
                 msg);
}

void chat_error_init(chat_error *e) {
  e->kind = CHAT_OK;
  e->reason = NULL;
  e->http_status = 0;
  e->type = NULL;
  e->code = NULL;
  e->message = NULL;
  e->retry_after_ms = -1;
}

void chat_error_free(chat_error *e) {
  free(e->type);
  free(e->code);
  free(e->message);
  chat_error_init(e);
}

/* Frees type, code and message. http_status and retry_after_ms are kept:
 * the caller may have set them before classifying. `message` is copied
 * before anything is freed, so it may point into e itself. */
void chat_error_set(chat_error *e, chat_error_kind kind, const char *reason,
                    const char *message) {
  char *copy = NULL;

  if (message != NULL)
    copy = strdup(message);
  free(e->type);
  free(e->code);
  free(e->message);
  e->type = NULL;
  e->code = NULL;
  e->message = copy;
  e->kind = kind;
  e->reason = reason;
}

chat_error_kind chat_status_kind(long status) {
  if (status < 400)
    return CHAT_OK;
  switch (status) {
  case 408: /* Request Timeout */
  case 409: /* Conflict: usually a concurrent-request lock */
  case 425: /* Too Early */
  case 429: /* Too Many Requests */
    return CHAT_ERR_TRANSIENT;
  default:
    return status >= 500 ? CHAT_ERR_TRANSIENT : CHAT_ERR_PERMANENT;
  }
}

/* Length of the sequence starting with lead byte c, and the range its
 * second byte must fall in (narrower than 80..BF where that excludes
 * overlongs, surrogates and code points above U+10FFFF). 0 if c can't
 * start a sequence. */
static size_t utf8_lead(unsigned char c, unsigned char *lo, unsigned char *hi) {
  *lo = 0x80;
  *hi = 0xBF;
  if (c >= 0xC2 && c <= 0xDF)
    return 2;
  if (c >= 0xE0 && c <= 0xEF) {
    if (c == 0xE0)
      *lo = 0xA0; /* below is overlong */
    else if (c == 0xED)
      *hi = 0x9F; /* above is U+D800..U+DFFF */
    return 3;
  }
  if (c >= 0xF0 && c <= 0xF4) {
    if (c == 0xF0)
      *lo = 0x90; /* below is overlong */
    else if (c == 0xF4)
      *hi = 0x8F; /* above is past U+10FFFF */
    return 4;
  }
  return 0;
}

int chat_utf8_valid(const char *s, size_t len) {
  const unsigned char *p = (const unsigned char *)s;
  size_t i = 0;

  if (s == NULL)
    return len == 0;
  while (i < len) {
    unsigned char lo, hi;
    size_t n, k;

    if (i + 8 <= len) { /* skip ASCII eight bytes at a time */
      uint64_t w;
      memcpy(&w, p + i, sizeof(w));
      if ((w & 0x8080808080808080ULL) == 0) {
        i += 8;
        continue;
      }
    }
    if (p[i] < 0x80) {
      i++;
      continue;
    }
    n = utf8_lead(p[i], &lo, &hi);
    if (n == 0 || n > len - i)
      return 0;
    if (p[i + 1] < lo || p[i + 1] > hi)
      return 0;
    for (k = 2; k < n; k++) {
      if (p[i + k] < 0x80 || p[i + k] > 0xBF)
        return 0;
    }
    i += n;
  }
  return 1;
}

static const char *const error_kind_names[] = {
#define CX_ERROR_KIND(e, name) [e] = #name,
#include "enums.def"
};

static const char *const stop_names[] = {
#define CX_STOP(e, name) [e] = #name,
#include "enums.def"
};

const char *chat_error_kind_name(chat_error_kind kind) {
  return (unsigned)kind < CHAT_ERROR_KIND_COUNT ? error_kind_names[kind]
                                                : "unknown";
}

const char *chat_stop_name(chat_stop stop) {
  return (unsigned)stop < CHAT_STOP_COUNT ? stop_names[stop] : "other";
}

chat_stop chat_stop_with_calls(chat_stop stop, size_t n_calls) {
  if (n_calls > 0 && (stop == CHAT_STOP_END || stop == CHAT_STOP_NONE))
    return CHAT_STOP_TOOL_CALLS;
  return stop;
}
