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

#include "aggregate.h"
#include "chat.h"
#include "chat_stream.h"
#include "codec.h"
#include "conversation.h"
#include "http_engine.h"
#include "json_schema.h"
#include "str.h"

/* The enumerations below come from enums.def (one table for C and
 * Elixir), in its line order.
 *
 * Round kinds: independent_analysis (every member answers the input),
 * peer_review (sees the others' latest answers by id),
 * anonymized_peer_review (ranks the others' answers under labels),
 * critique (sees its own and the others' answers), ranking (ranks the
 * latest answers by member id), vote (picks one option),
 * pairwise_elimination (a judge picks the better of two answers),
 * synthesis (the chair sees everything and concludes), weighted_synthesis
 * (the same, with each answer's weight shown), custom (the owner writes
 * each member's message). Their flags (rl_kind_*): */
#define RL_KF_ANSWERS 1u /* later rounds read its answers */
#define RL_KF_JUDGES 2u  /* its calls carry ballots */
#define RL_KF_MEMBERS 4u /* members sit (a router applies) */
#define RL_KF_CHAIR 8u   /* the chair writes it (the final answer) */

typedef enum rl_round_kind {
#define CX_ROUND_KIND(e, name, flags, agg) e,
#include "enums.def"
  RL_ROUND_COUNT
} rl_round_kind;

/* How anonymous labels are dealt to judges: per_judge (each judge its own
 * shuffle), shuffle (one shuffle for all judges), stable (member order). */
typedef enum rl_order {
#define CX_ORDER(e, name) e,
#include "enums.def"
  RL_ORDER_COUNT
} rl_order;

/* How a member's confidence is read: none; self_report (asked for in the
 * system prompt, read from the reply's trailing {"confidence": c});
 * logprob (mean token probability, when the provider reports logprobs). */
typedef enum rl_confidence {
#define CX_CONFIDENCE(e, name) e,
#include "enums.def"
  RL_CONF_COUNT
} rl_confidence;

/* Each enumeration's names, as enums.def spells them (the atoms the NIF
 * reads and writes); NULL for a value out of range. */
const char *rl_round_kind_name(rl_round_kind kind);
const char *rl_order_name(rl_order order);
const char *rl_confidence_name(rl_confidence confidence);

/* The round kinds' flags (enums.def's FLAGS column), as predicates. */
int rl_kind_answers(rl_round_kind kind); /* RL_KF_ANSWERS */
int rl_kind_judges(rl_round_kind kind);  /* RL_KF_JUDGES */
int rl_kind_members(rl_round_kind kind); /* RL_KF_MEMBERS */
int rl_kind_chair(rl_round_kind kind);   /* RL_KF_CHAIR */

/* A round as declared. Iterate rounds are the round they wrap with
 * max_iterations > 1; each iteration runs as its own step. */
typedef struct rl_round {
  rl_round_kind kind;
  unsigned max_iterations; /* 0 or 1: once */
  int ask_until;           /* after each iteration the owner says whether to
                              stop (RL_EV_ITERATION_DONE, rl_run_continue) */
  double min_confidence;   /* > 0: stop iterating once the members' mean
                              confidence reaches it */
  int ask_seats;           /* the owner picks who sits (a router) before each
                              step: RL_EV_SEATS_NEEDED, rl_run_seats */
  int ask_judge;           /* pairwise: the owner judges each pair
                              (RL_EV_JUDGE_NEEDED, rl_run_judged) */
  size_t judge_seat;       /* pairwise: the judging seat when !ask_judge */
  rl_order order;
  int include_self;       /* judges also see (and rank) their own answer */
  rl_agg_kind aggregator; /* aggregate.h */
  agg_tie tie;
  unsigned quorum; /* members that must succeed; 0 means 1 */
  int expose_confidence;
  char **options; /* vote options (owned); none: vote on members */
  size_t n_options;
} rl_round;

/* A member, or the chair. All strings are owned (malloc'd) by the seat. */
#define RL_SECRET_MIN 8

typedef struct rl_seat {
  char *id;            /* label used in prompts and reports */
  int external;        /* answered by the owner process (a BEAM dispatcher
                          such as the Mock provider), not over HTTP */
  json_schema *schema; /* the JSON Schema the answer must follow, compiled
                          (one reference, dropped with the seat); its text
                          is sent natively. NULL: free text */
  chat_tool *tools;    /* tools offered to the model (strings owned) */
  size_t n_tools;
  char *tool_choice;       /* NULL, "auto", "required", "none" or a tool name */
  unsigned max_tool_turns; /* tool-call rounds before the call fails;
                              0 means 8 */
  int stream;              /* ask for a streamed reply; text arrives as
                              RL_EV_MEMBER_TOKEN events (HTTP seats) */
  const chat_codec *codec; /* the provider's dialect; NULL: OpenAI-compatible
                              with max_tokens. External seats always get
                              OpenAI-style bodies. */
  char *url;               /* full chat-completions URL; NULL when external */
  char **headers;          /* "Name: value", secrets included; never reported */
  char *secret;            /* the API key (RL_SECRET_MIN bytes or more), to
                              redact from the provider's error texts */
  size_t n_headers;
  char *model;
  char *system_prompt; /* NULL: none */
  int has_temperature;
  double temperature;
  long max_tokens; /* <= 0: not sent */
  long connect_timeout_ms;
  long timeout_ms;         /* the call's whole budget: every attempt, backoff
                              wait and tool turn, from the call's start
                              (rl_call.deadline_ms); <= 0: none */
  long request_timeout_ms; /* one attempt at most; <= 0: what is left of
                              the budget */
  size_t max_tool_calls;   /* tool calls one reply may hold (more fail the
                              call, too_many_tool_calls); read by
                              chat_tool_call_cap: 0 means CHAT_MAX_TOOL_CALLS */
  unsigned retry_max_attempts; /* attempts in all, transient failures only;
                                  0 counts as 1 (no retry) */
  long retry_base_ms;          /* backoff before retry n: base * 2^(n-1),
                                  with jitter; a retry-after hint wins */
  double weight;               /* weighted synthesis: finite, >= 0 (0: the
                                  answer counts for nothing) */
  rl_confidence confidence;
} rl_seat;

/* The council as the loop runs it. seats[0..n_members) are the members;
 * when has_chair is set the chair is seats[n_members]; seats after that
 * only judge (pairwise judges given as their own seat). */
typedef struct rl_spec {
  char *input; /* the rendered user input, UTF-8 */
  size_t input_len;
  rl_seat *seats;
  size_t n_seats;
  size_t n_members;
  int has_chair;
  int debug;              /* report each request as RL_EV_MEMBER_REQUEST */
  size_t *chair_fallback; /* member seats that take over a failed chair's
                             synthesis, in order */
  size_t n_chair_fallback;
  rl_round *rounds;
  size_t n_rounds;
  size_t max_response_bytes;
  uint64_t seed; /* for backoff jitter; any value */
} rl_spec;

typedef enum rl_seat_status {
  RL_SEAT_IDLE = 0,
  RL_SEAT_RUNNING,
  RL_SEAT_OK,
  RL_SEAT_FAILED,
  RL_SEAT_SKIPPED /* left out by the router, or nothing to judge */
} rl_seat_status;

typedef struct rl_run rl_run;

/* One call in one step: a member's (or the chair's, or a judge's) request
 * and its outcome. Its address is stable for the run's life: the
 * transport carries it as the call's identity. */
typedef struct rl_call {
  rl_run *run;
  size_t step;           /* the step it belongs to */
  size_t index;          /* its place in the step's calls */
  size_t seat;           /* the seat answering it */
  size_t pair_a, pair_b; /* pairwise: the member seats compared */
  rl_seat_status status;
  void *handle;         /* the transport's handle, or a timer's: the backoff
                           timer (backing_off) or, while awaiting_tools, the
                           deadline timer */
  int backing_off;      /* handle is a backoff timer: a retry is due */
  uint64_t deadline_ms; /* when the seat's timeout_ms budget ends, on the
                           io's clock (rl_io.now_ms); 0: no budget */
  int attempt_capped;   /* the running attempt's timeout was the seat's
                           request_timeout_ms, not the rest of the budget:
                           its timeout may be retried */
  chat_stream *stream;  /* a streamed attempt's assembler, or NULL */
  conversation conv;    /* tool calls made and answered so far */
  int awaiting_tools;   /* the model asked for tools: the owner runs them
                           and answers with rl_call_tool_results */
  json_schema_errors schema_errs; /* why the answer broke the seat's schema
                                     (err.reason "invalid_output") */
  size_t json_start, json_end;    /* the JSON document inside resp.content,
                                     when the seat has a schema and it held */
  cJSON *parsed;      /* that document as json_strict_parse read it from exactly
                         resp.content[json_start..json_end), when it held: parsed
                         once, on the engine thread, and kept for the owner's
                         term. Owned by the call, freed with it (cJSON_Delete) */
  size_t tokens;      /* text deltas reported so far (the next index) */
  unsigned attempts;  /* attempts started so far */
  chat_response resp; /* when status == RL_SEAT_OK */
  chat_error err;     /* when status == RL_SEAT_FAILED */
  long http_status;
  uint64_t latency_us;
  char *input; /* custom rounds: the owner's message (owned) */
  size_t input_len;
  /* What the answer says, read when it arrives (judging rounds): */
  double confidence; /* 0..1, or NaN when the member gave none */
  long choice;       /* vote: option index; pairwise: 0 (a) or 1 (b);
                        -1 when unread */
  size_t *ordering;  /* ranking rounds: member seats, best first */
  size_t n_ordering;
  const char *ballot_error; /* a CX_REASON word: why the ballot was not read */
  size_t *labels;           /* anonymous review: the member seat behind each
                               label this judge saw (Response A = labels[0]) */
  size_t n_labels;
} rl_call;

/* One executed round: a declared round, or one iteration of it. */
typedef struct rl_step {
  size_t round;       /* index in spec->rounds */
  unsigned iteration; /* 0 for the first */
  rl_call *calls;     /* one per member seat in member rounds; one per
                         pair in pairwise rounds; the chair and its
                         fallbacks in synthesis rounds */
  size_t n_calls;
  size_t n_started; /* calls in use (synthesis grows on fallback) */
  size_t pending;   /* calls not finished */
  size_t answers;   /* the step whose answers this one reads, or
                       RL_NO_STEP */
  size_t *cands;    /* the member seats being judged, in member order */
  size_t n_cands;
  unsigned char *alive; /* pairwise: per member seat, still in after it */
  int has_agg;
  void *agg;              /* an agg_result (aggregate.h) when has_agg */
  long winner;            /* has_agg: the winning member seat or option
                             index, or -1 */
  double mean_confidence; /* over the members that gave one; NaN if none */
  int waiting;            /* for the owner (seats, a judgement, continue) */
  const char *failure;    /* a CX_REASON word when the step failed the run */
} rl_step;

#define RL_NO_STEP ((size_t)-1)

typedef enum rl_event_type {
  RL_EV_ROUND_STARTED,
  RL_EV_MEMBER_STARTED,
  RL_EV_MEMBER_TOKEN,   /* a piece of a streamed answer: text, index */
  RL_EV_MEMBER_REQUEST, /* spec->debug: a request as sent (text: its body),
                           for every attempt and tool turn */
  RL_EV_TOOL_CALLS, /* call asks for tools: conversation_pending(&call->conv) */
  RL_EV_MEMBER_COMPLETED, /* success, failure and skip alike: see call->status
                           */
  RL_EV_ROUND_COMPLETED,
  RL_EV_SEATS_NEEDED,   /* answer with rl_run_seats */
  RL_EV_JUDGE_NEEDED,   /* answer with rl_run_judged; call says which pair */
  RL_EV_ITERATION_DONE, /* answer with rl_run_continue */
  RL_EV_RUN_COMPLETED,
  RL_EV_RUN_FAILED, /* reason says why */
  RL_EV_RUN_CANCELLED
} rl_event_type;

/* `round` is the step's index (steps count up from 0 through iterations);
 * rl_run_step(run, round)->round is the declared round. */
typedef struct rl_event {
  rl_event_type type;
  size_t round;
  size_t seat;
  const rl_call *call; /* member events, RL_EV_JUDGE_NEEDED */
  const char *reason;  /* RL_EV_RUN_FAILED only: a CX_REASON word */
  const char *text;    /* RL_EV_MEMBER_TOKEN, _REQUEST: text_len bytes */
  size_t text_len;
  size_t index; /* RL_EV_MEMBER_TOKEN only: 0, 1, ... per attempt */
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
  /* Calls rl_call_timer(call) after delay_ms; returns a handle, or NULL
   * (a retry then fails with the error it had; a tool turn goes on without
   * a deadline timer). */
  void *(*start_timer)(void *ctx, rl_call *call, long delay_ms);
  void (*cancel_timer)(void *ctx, void *handle);
  void (*emit)(void *ctx, rl_run *run, const rl_event *ev);
  /* Milliseconds on a monotonic clock, the one start_timer's delays run
   * on: deadlines (rl_seat.timeout_ms) are read against it. */
  uint64_t (*now_ms)(void *ctx);
} rl_io;

/* Points an HTTP seat at a provider: sets its codec, and its URL and
 * headers from the codec and ep (ep->model is the seat's). Headers the seat
 * already holds (extra ones) are kept after the codec's. 0, or -1 when the
 * codec refuses the endpoint (bad URL or header text) or memory runs out. */
int rl_seat_connect(rl_seat *s, const chat_codec *codec,
                    const chat_endpoint *ep);

/* Checks a spec before it is run. Returns 0, or -1 with a message in why. */
int rl_spec_check(const rl_spec *spec, char *why, size_t why_len);
void rl_spec_free(rl_spec *spec);

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
/* Feeds back the answer of an external seat's call (call `index` of step
 * `step`): exactly one of resp (success) or err (failure) is non-NULL, and
 * its contents are moved out (the struct is left empty). A reply for a
 * call that is not running (cancelled, already answered, not external) is
 * dropped: returns -1 then, else 0. Text that is not valid UTF-8 fails the
 * call. */
int rl_call_complete(rl_run *run, size_t step, size_t index,
                     chat_response *resp, chat_error *err, uint64_t latency_us);
/* Answers a call's pending tool calls (one result per call, in order, as
 * UTF-8 text); the member's conversation then goes on with a new request.
 * -1 (and nothing happens) when the call is not waiting for tools or the
 * results do not match its calls. */
int rl_call_tool_results(rl_run *run, size_t step, size_t index,
                         const char *const *results, const size_t *lens,
                         size_t n);
/* A call's timer has fired (if the run still waits for this call): after
 * a backoff the next attempt starts; while the owner runs the call's tools
 * its deadline has passed, and the call fails as a timeout. */
void rl_call_timer(rl_call *call);

/* Answers RL_EV_SEATS_NEEDED for step `step`: sits[i] says whether member
 * seat i sits (the others are reported skipped); for a custom round,
 * texts[i] (lens[i] bytes, UTF-8) is that member's message and a NULL
 * text means it does not sit. -1 when the step does not wait for seats
 * or the texts are not UTF-8 (nothing happens then). */
int rl_run_seats(rl_run *run, size_t step, const unsigned char *sits,
                 const char *const *texts, const size_t *lens, size_t n);
/* Answers RL_EV_JUDGE_NEEDED: winner 0 (pair_a) or 1 (pair_b), or -1
 * when the judge failed (pair_a goes on, and the call is failed). */
int rl_run_judged(rl_run *run, size_t step, size_t index, int winner);
/* Answers RL_EV_ITERATION_DONE: stop ends the iteration. */
int rl_run_continue(rl_run *run, size_t step, int stop);

/* Cancels every running call and finishes with RL_EV_RUN_CANCELLED.
 * Does nothing on a finished run. */
void rl_run_cancel(rl_run *run);

int rl_run_finished(const rl_run *run);
const rl_spec *rl_run_spec(const rl_run *run);
/* The ctx of the rl_io the run was created with. */
void *rl_run_ctx(const rl_run *run);
size_t rl_run_n_steps(const rl_run *run);
const rl_step *rl_run_step(const rl_run *run, size_t step);
/* The call of a member seat in a step (or of the chair in a synthesis
 * step), or NULL when there is none. */
const rl_call *rl_run_call(const rl_run *run, size_t step, size_t seat);

/* Deadline arithmetic, on the io's clock (exposed for tests):
 * rl_deadline: when a budget of budget_ms that starts at now ends; 0 (no
 *   deadline) when budget_ms <= 0.
 * rl_remaining_ms: what is left of it at now: 0 once it has passed,
 *   LONG_MAX when there is no deadline.
 * rl_attempt_timeout_ms: the timeout of one attempt: request_timeout_ms
 *   when it is set and ends first, else what remains; 0 (none) when
 *   neither bounds it.
 * rl_wait_fits: whether a wait of delay_ms (a backoff, a retry hint)
 *   ends with some of the remaining budget left for an attempt. */
uint64_t rl_deadline(uint64_t now, long budget_ms);
long rl_remaining_ms(uint64_t deadline, uint64_t now);
long rl_attempt_timeout_ms(long request_timeout_ms, long remaining_ms);
int rl_wait_fits(long delay_ms, long remaining_ms);

/* Renders call `index` of step `step` as a JSON request body (malloc'd),
 * or NULL. Exposed for tests. */
char *rl_render_request(const rl_run *run, size_t step, size_t index,
                        size_t *len);

#endif
