/* chat.h - provider-neutral chat request, response and error types.
 *
 * Codecs (openai_codec.c, ...) translate between these and a provider's
 * wire format; the round loop only ever sees these. Pure C, no NIF calls. */
#ifndef CX_CHAT_H
#define CX_CHAT_H

#include <stddef.h>

/* A tool call the model asked for. Strings are malloc'd, NUL-terminated. */
typedef struct chat_tool_call {
  char *id; /* the provider's call id; codecs make one up
               ("call_<index>") for dialects without ids */
  char *name;
  char *arguments; /* the arguments object as JSON text, "{}" if none */
  size_t arguments_len;
} chat_tool_call;

/* A tool offered to the model. */
typedef struct chat_tool {
  const char *name;
  const char *description; /* NULL: none */
  const char *parameters;  /* JSON Schema of the arguments, as JSON text;
                              NULL: {"type":"object"} */
} chat_tool;

typedef struct chat_message {
  const char *role;    /* "system", "user", "assistant", "tool" */
  const char *content; /* UTF-8, content_len bytes, need not be NUL-terminated;
                          may be NULL (len 0) for an assistant turn that only
                          called tools */
  size_t content_len;
  /* role "assistant": the tool calls it made (n_tool_calls == 0: none) */
  const chat_tool_call *tool_calls;
  size_t n_tool_calls;
  /* role "tool": the call this message answers, and the tool's name
   * (Anthropic needs the id, Gemini the name) */
  const char *tool_call_id;
  const char *tool_name;
} chat_message;

typedef struct chat_request {
  const char *model;
  const chat_message *messages;
  size_t n_messages;
  int has_temperature;
  double temperature;
  long max_tokens; /* <= 0: not sent (Anthropic: a default) */
  const chat_tool *tools;
  size_t n_tools;
  const char *tool_choice;   /* NULL (provider default), "auto", "required",
                                "none", or the name of one tool */
  const char *output_schema; /* JSON Schema the reply must follow, as JSON
                                text; NULL: free text */
  const char *output_schema_name; /* NULL: "output" */
  int stream;                     /* ask for a streamed response */
  int logprobs;                   /* ask for token logprobs where supported */
} chat_request;

/* Why the model stopped, normalized across dialects (the raw word is kept
 * in chat_response.finish_reason); enums.def's CX_STOP:
 *   none            not reported
 *   stop            stop, end_turn, stop_sequence, STOP
 *   length          length, max_tokens, MAX_TOKENS
 *   tool_calls      tool_calls, tool_use, or tool calls present
 *   content_filter  content_filter, refusal, SAFETY, ...
 *   other */
typedef enum chat_stop {
#define CX_STOP(e, name) e,
#include "enums.def"
  CHAT_STOP_COUNT
} chat_stop;

/* How a failure is classified (enums.def's CX_ERROR_KIND): ok (none),
 * transient (worth retrying: 429, 5xx, connection failures), permanent
 * (retrying will not help: 4xx, bad bodies), timeout, cancelled. */
typedef enum chat_error_kind {
#define CX_ERROR_KIND(e, name) e,
#include "enums.def"
  CHAT_ERROR_KIND_COUNT
} chat_error_kind;

/* The bounds enums.def's CX_LIMIT shares with the Elixir side:
 *   CHAT_MAX_TOOL_CALLS     the most tool calls one reply may hold, whatever
 *                           a seat allows (its max_tool_calls is at most this)
 *   JSON_DEFAULT_MAX_DEPTH  CouncilEx.JSON.decode's default max_depth */
enum {
#define CX_LIMIT(e, name, value) e = (value),
#include "enums.def"
};

/* A parsed success. Strings are malloc'd and NUL-terminated, or NULL. */
typedef struct chat_response {
  char *content;
  size_t content_len;
  char *model;
  char *finish_reason; /* the provider's own word, or NULL */
  chat_stop stop;
  long input_tokens;          /* -1 when the provider did not say */
  long output_tokens;         /* -1 when the provider did not say */
  chat_tool_call *tool_calls; /* malloc'd array, n_tool_calls entries */
  size_t n_tool_calls;
  size_t max_tool_calls; /* while a reply is read: the most tool calls it may
                            hold (chat_response_add_tool_call refuses more);
                            CHAT_MAX_TOOL_CALLS after chat_response_init */
  int has_cost;          /* OpenRouter's usage.cost, in credits (USD) */
  double cost;
  int has_logprob; /* mean token logprob, when logprobs were asked for */
  double logprob;
} chat_response;

/* A classified failure. `reason` is a static word from enums.def's
 * CX_REASON (written CX_REASON_WORD(word), see reason.h), which the NIF
 * turns into an atom; the other strings are malloc'd copies of what the
 * provider said, or NULL. */
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

/* The names enums.def gives them: "transient", ...; "unknown" for a
 * kind out of range. */
const char *chat_error_kind_name(chat_error_kind kind);
/* "stop", "length", ...; "other" for a stop out of range. */
const char *chat_stop_name(chat_stop stop);
/* The stop of a response that made n_calls tool calls: calls present mean
 * CHAT_STOP_TOOL_CALLS where the dialect says only "stop" (Ollama, Gemini)
 * or nothing. */
chat_stop chat_stop_with_calls(chat_stop stop, size_t n_calls);

void chat_tool_call_free(chat_tool_call *c);
/* Appends a zeroed tool call to r->tool_calls; NULL on out-of-memory or
 * when r holds r->max_tool_calls already. */
chat_tool_call *chat_response_add_tool_call(chat_response *r);

/* A seat's max_tool_calls as a reader applies it: 0 (no cap of its own)
 * and anything above CHAT_MAX_TOOL_CALLS become CHAT_MAX_TOOL_CALLS. */
size_t chat_tool_call_cap(size_t max_tool_calls);
/* Sets e to the failure of a reply holding more than max tool calls:
 * permanent, reason "too_many_tool_calls", a message naming the cap. */
void chat_error_too_many_tool_calls(chat_error *e, size_t max);

#endif
