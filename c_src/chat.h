/* chat.h - provider-neutral chat request, response and error types.
 *
 * Codecs (openai_codec.c, ...) translate between these and a provider's
 * wire format; the round loop only ever sees these. No erl_nif here. */
#ifndef CX_CHAT_H
#define CX_CHAT_H

#include <stddef.h>

typedef struct chat_message {
  const char *role;    /* "system", "user", "assistant" */
  const char *content; /* UTF-8, content_len bytes, need not be NUL-terminated */
  size_t content_len;
} chat_message;

typedef struct chat_request {
  const char *model;
  const chat_message *messages;
  size_t n_messages;
  int has_temperature;
  double temperature;
  long max_tokens; /* <= 0: not sent */
} chat_request;

typedef enum chat_error_kind {
  CHAT_OK = 0,
  CHAT_ERR_TRANSIENT, /* worth retrying: 429, 5xx, connection failures */
  CHAT_ERR_PERMANENT, /* retrying will not help: 4xx, bad bodies */
  CHAT_ERR_TIMEOUT,
  CHAT_ERR_CANCELLED
} chat_error_kind;

/* A parsed success. Strings are malloc'd and NUL-terminated, or NULL. */
typedef struct chat_response {
  char *content;
  size_t content_len;
  char *model;
  char *finish_reason;
  long input_tokens;  /* -1 when the provider did not say */
  long output_tokens; /* -1 when the provider did not say */
} chat_response;

/* A classified failure. `reason` is a static snake_case word that the NIF
 * turns into an atom (see chat.c for the full list); the other strings are
 * malloc'd copies of what the provider said, or NULL. */
typedef struct chat_error {
  chat_error_kind kind;
  const char *reason;
  long http_status;    /* 0 when there was no HTTP response */
  char *type;          /* provider error type, e.g. "invalid_request_error" */
  char *code;          /* provider error code, numbers given as text */
  char *message;       /* human-readable message */
  long retry_after_ms; /* -1 when there is no hint */
} chat_error;

void chat_response_init(chat_response *r);
void chat_response_free(chat_response *r);
void chat_error_init(chat_error *e);
void chat_error_free(chat_error *e);

/* Sets kind, reason and message (copied) of e; frees what e held before.
 * This function can't fail: on out-of-memory the message stays NULL. */
void chat_error_set(chat_error *e, chat_error_kind kind, const char *reason,
                    const char *message);

/* The kind an HTTP error status implies: 408, 409, 425, 429 and 5xx are
 * transient, everything else >= 400 is permanent. */
chat_error_kind chat_status_kind(long status);

/* 1 when s[0..len) is valid UTF-8 (no overlongs, no surrogates). */
int chat_utf8_valid(const char *s, size_t len);

const char *chat_error_kind_name(chat_error_kind kind);

#endif
