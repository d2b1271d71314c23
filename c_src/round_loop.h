/* round_loop.h - the council round loop: one run's state machine.
 *
 * A run walks its rounds in order. For each round it renders every seat's
 * chat request, starts the calls through the rl_io it was given, collects
 * each outcome (success or classified failure) and reports progress as
 * rl_events. It never blocks and never touches erl_nif or libcurl: the NIF
 * glue plugs the HTTP engine in through rl_io, and tests plug in a fake.
 * All calls on one run must come from one thread. */
#ifndef CX_ROUND_LOOP_H
#define CX_ROUND_LOOP_H

#include <stddef.h>
#include <stdint.h>

#include "chat.h"
#include "chat_stream.h"
#include "codec.h"
#include "conversation.h"
#include "http_engine.h"
#include "json_schema.h"

typedef enum rl_round_kind {
  RL_ROUND_INDEPENDENT, /* every member answers the input */
  RL_ROUND_SYNTHESIS    /* the chair sees the input and every answer */
} rl_round_kind;

/* A member, or the chair. All strings are owned (malloc'd) by the seat. */
typedef struct rl_seat {
  char *id;            /* label used in prompts and reports */
  int external;        /* answered by the owner process (a BEAM dispatcher
                          such as the Mock provider), not over HTTP */
  char *output_schema; /* JSON Schema the answer must follow (JSON text),
                          sent natively; NULL: free text */
  json_schema *schema; /* output_schema compiled (rl_seat_compile_schema) */
  chat_tool *tools;    /* tools offered to the model (strings owned) */
  size_t n_tools;
  char *tool_choice;   /* NULL, "auto", "required", "none" or a tool name */
  unsigned max_tool_turns; /* tool-call rounds before the call fails;
                              0 means 8 */
  int stream;          /* ask for a streamed reply; text arrives as
                          RL_EV_MEMBER_TOKEN events (HTTP seats) */
  const chat_codec *codec; /* the provider's dialect; NULL: OpenAI-compatible
                              with max_tokens. External seats always get
                              OpenAI-style bodies. */
  char *url;           /* full chat-completions URL; NULL when external */
  char **headers;      /* "Name: value", secrets included; never reported */
  size_t n_headers;
  char *model;
  char *system_prompt; /* NULL: none */
  int has_temperature;
  double temperature;
  long max_tokens;     /* <= 0: not sent */
  long connect_timeout_ms;
  long timeout_ms;
  unsigned retry_max_attempts; /* attempts in all, transient failures only;
                                  0 counts as 1 (no retry) */
  long retry_base_ms;          /* backoff before retry n: base * 2^(n-1),
                                  with jitter; a retry-after hint wins */
} rl_seat;

/* The council as the loop runs it. Members come first in seats; when
 * has_chair is set, the chair is the last seat. */
typedef struct rl_spec {
  char *input;         /* the rendered user input, UTF-8 */
  size_t input_len;
  rl_seat *seats;
  size_t n_seats;
  int has_chair;
  rl_round_kind *rounds;
  size_t n_rounds;
  size_t max_response_bytes;
  uint64_t seed;       /* for backoff jitter; any value */
} rl_spec;

typedef enum rl_seat_status {
  RL_SEAT_IDLE = 0,
  RL_SEAT_RUNNING,
  RL_SEAT_OK,
  RL_SEAT_FAILED
} rl_seat_status;

typedef struct rl_run rl_run;

/* One seat's call in one round. Its address is stable for the run's life:
 * the transport carries it as the call's identity. */
typedef struct rl_call {
  rl_run *run;
  size_t round;
  size_t seat;
  rl_seat_status status;
  void *handle;        /* the transport's (or the backoff timer's) handle */
  int backing_off;     /* handle is a backoff timer: a retry is due */
  chat_stream *stream; /* a streamed attempt's assembler, or NULL */
  conversation conv;   /* tool calls made and answered so far */
  int awaiting_tools;  /* the model asked for tools: the owner runs them
                          and answers with rl_call_tool_results */
  json_schema_errors schema_errs; /* why the answer broke the seat's schema
                                     (err.reason "invalid_output") */
  size_t json_start, json_end;    /* the JSON document inside resp.content,
                                     when the seat has a schema and it held */
  size_t tokens;       /* text deltas reported so far (the next index) */
  unsigned attempts;   /* attempts started so far */
  chat_response resp;  /* when status == RL_SEAT_OK */
  chat_error err;      /* when status == RL_SEAT_FAILED */
  long http_status;
  uint64_t latency_us;
} rl_call;

typedef enum rl_event_type {
  RL_EV_ROUND_STARTED,
  RL_EV_MEMBER_STARTED,
  RL_EV_MEMBER_TOKEN,     /* a piece of a streamed answer: text, index */
  RL_EV_TOOL_CALLS,       /* call asks for tools: conversation_pending(&call->conv) */
  RL_EV_MEMBER_COMPLETED, /* success and failure alike: see call->status */
  RL_EV_ROUND_COMPLETED,
  RL_EV_RUN_COMPLETED,
  RL_EV_RUN_FAILED,       /* reason says why */
  RL_EV_RUN_CANCELLED
} rl_event_type;

typedef struct rl_event {
  rl_event_type type;
  size_t round;
  size_t seat;
  const rl_call *call;    /* RL_EV_MEMBER_COMPLETED only */
  const char *reason;     /* RL_EV_RUN_FAILED only: a static snake_case word */
  const char *text;       /* RL_EV_MEMBER_TOKEN only: text_len bytes */
  size_t text_len;
  size_t index;           /* RL_EV_MEMBER_TOKEN only: 0, 1, ... per attempt */
} rl_event;

typedef struct rl_io {
  void *ctx;
  /* Starts the call: over HTTP, or by asking the owner for an external
   * seat (req->url is NULL then). Returns a handle, or NULL when it could
   * not start. Must not complete the call from inside: completion comes
   * later through rl_call_done or rl_call_complete. */
  void *(*start_call)(void *ctx, rl_call *call, const http_request *req);
  /* Stops a running call; call->handle is still set. */
  void (*cancel_call)(void *ctx, rl_call *call);
  /* Calls rl_call_retry(call) after delay_ms; returns a handle, or NULL
   * (the call then fails with the error it had). */
  void *(*start_timer)(void *ctx, rl_call *call, long delay_ms);
  void (*cancel_timer)(void *ctx, void *handle);
  void (*emit)(void *ctx, rl_run *run, const rl_event *ev);
} rl_io;

/* Points an HTTP seat at a provider: sets its codec, and its URL and
 * headers from the codec and ep (ep->model is the seat's). Headers the seat
 * already holds (extra ones) are kept after the codec's. 0, or -1 when the
 * codec refuses the endpoint (bad URL or header text) or memory runs out. */
int rl_seat_connect(rl_seat *s, const chat_codec *codec,
                    const chat_endpoint *ep);

/* Compiles s->output_schema into s->schema. 0, or -1 with why. */
int rl_seat_compile_schema(rl_seat *s, char *why, size_t why_len);

/* Checks a spec before it is run. Returns 0, or -1 with a message in why. */
int rl_spec_check(const rl_spec *spec, char *why, size_t why_len);
void rl_spec_free(rl_spec *spec);
/* malloc'd copy of s[0..len) with a NUL added; NULL on out-of-memory. */
char *rl_strndup(const char *s, size_t len);

/* Takes ownership of spec (also on failure). NULL on out-of-memory. */
rl_run *rl_run_new(rl_spec *spec, const rl_io *io);
void rl_run_free(rl_run *run); /* the run must not have calls running */

/* Starts the first round. Emits events through io->emit, possibly all the
 * way to RL_EV_RUN_FAILED if no call can start. */
void rl_run_start(rl_run *run);
/* Feeds a piece of a streamed 2xx body (http_request.on_chunk). */
void rl_call_chunk(rl_call *call, const char *data, size_t len);
/* Feeds a finished HTTP call back; the transport handle is dropped. */
void rl_call_done(rl_call *call, const http_result *res);
/* Feeds back the answer of an external seat's call in `round`: exactly one
 * of resp (success) or err (failure) is non-NULL, and its contents are
 * moved out (the struct is left empty). A reply for a call that is not
 * running (cancelled, already answered, not external) is dropped: returns
 * -1 then, else 0. Text that is not valid UTF-8 fails the call. */
int rl_call_complete(rl_run *run, size_t round, size_t seat,
                     chat_response *resp, chat_error *err,
                     uint64_t latency_us);
/* Answers a call's pending tool calls (one result per call, in order, as
 * UTF-8 text); the member's conversation then goes on with a new request.
 * -1 (and nothing happens) when the call is not waiting for tools or the
 * results do not match its calls. */
int rl_call_tool_results(rl_run *run, size_t round, size_t seat,
                         const char *const *results, const size_t *lens,
                         size_t n);
/* The backoff timer of a call that failed transiently has fired: the next
 * attempt starts (if the run still waits for this call). */
void rl_call_retry(rl_call *call);
/* Cancels every running call and finishes with RL_EV_RUN_CANCELLED.
 * Does nothing on a finished run. */
void rl_run_cancel(rl_run *run);

int rl_run_finished(const rl_run *run);
const rl_spec *rl_run_spec(const rl_run *run);
/* The ctx of the rl_io the run was created with. */
void *rl_run_ctx(const rl_run *run);
/* The call of a seat in a round, or NULL if that seat does not sit in it. */
const rl_call *rl_run_call(const rl_run *run, size_t round, size_t seat);

/* Renders the messages a seat is sent in a round into buf-backed storage.
 * Exposed for tests; returns a malloc'd JSON request body or NULL. */
char *rl_render_request(const rl_run *run, size_t round, size_t seat,
                        size_t *len);

#endif
