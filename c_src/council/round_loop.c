/* round_loop.c - one council run's state machine (see round_loop.h).
 *
 * Rounds run strictly in order, each as one step (an iterated round as one
 * step per iteration); inside a step every call runs in parallel. The loop
 * decides who sits, starts the calls, classifies outcomes, waits for the
 * owner where a round needs it (router, custom round, judge function,
 * until function) and decides what comes next. Prompts are built in
 * round_prompt.c and ballots read in round_tally.c. It never blocks and
 * never calls erl_nif or libcurl. */
#include "round_loop.h"

#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "openai_codec.h"
#include "reply_json.h"
#include "round_internal.h"
#include "str.h"

typedef enum rl_state { RL_NEW, RL_RUNNING, RL_FINISHED } rl_state;

struct rl_run {
  rl_spec *spec;
  rl_io io;
  rl_step **steps; /* pointers: a step's calls never move */
  size_t n_steps, cap_steps;
  uint64_t rng; /* jitter, shuffles, random tie-breaks */
  int starting; /* inside step_launch: defer the step's completion */
  rl_state state;
};

/* A provider's retry hint is honoured up to this long, and never past the
 * call's deadline. */
#define RETRY_HINT_MAX_MS (10L * 60L * 1000L)

static void step_begin(rl_run *run, size_t round, unsigned iteration);
static void step_finish(rl_run *run, rl_step *step);
static void call_start(rl_run *run, rl_call *call);
static void start_attempt(rl_run *run, rl_call *call);

static rl_step *current(const rl_run *run) {
  return run->n_steps ? run->steps[run->n_steps - 1] : NULL;
}

static const rl_round *round_of(const rl_run *run, const rl_step *step) {
  return &run->spec->rounds[step->round];
}

uint64_t rl_run_random(rl_run *run) {
  /* xorshift64*: plenty for jitter and shuffles */
  uint64_t x = run->rng ? run->rng : 0x9E3779B97F4A7C15u;
  x ^= x >> 12;
  x ^= x << 25;
  x ^= x >> 27;
  run->rng = x;
  return x * 0x2545F4914F6CDD1Du;
}

/* ---- Deadlines -----------------------------------------------------------*/

/* A member call's timeout_ms is its whole budget: it starts when the call
 * does (call_start) and covers every attempt, every backoff wait and every
 * tool turn. Each attempt gets what is left of it, or request_timeout_ms
 * when that ends first; a wait that would end past the deadline is not
 * taken (the call fails as a timeout then); and while the owner runs the
 * call's tools a timer holds the deadline. */

uint64_t rl_deadline(uint64_t now, long budget_ms) {
  if (budget_ms <= 0)
    return 0;
  if ((uint64_t)budget_ms > UINT64_MAX - now)
    return UINT64_MAX;
  return now + (uint64_t)budget_ms;
}

long rl_remaining_ms(uint64_t deadline, uint64_t now) {
  if (deadline == 0)
    return LONG_MAX;
  if (deadline <= now)
    return 0;
  return deadline - now > (uint64_t)LONG_MAX ? LONG_MAX
                                             : (long)(deadline - now);
}

long rl_attempt_timeout_ms(long request_timeout_ms, long remaining_ms) {
  if (request_timeout_ms > 0 && request_timeout_ms < remaining_ms)
    return request_timeout_ms;
  return remaining_ms == LONG_MAX ? 0 : remaining_ms;
}

int rl_wait_fits(long delay_ms, long remaining_ms) {
  return remaining_ms == LONG_MAX || delay_ms < remaining_ms;
}

/* The io's clock; one that stands still when the io has none. */
static uint64_t now_ms(const rl_run *run) {
  return run->io.now_ms ? run->io.now_ms(run->io.ctx) : 0;
}

/* What is left of call's budget now. */
static long remaining_ms(const rl_run *run, const rl_call *call) {
  return rl_remaining_ms(call->deadline_ms, now_ms(run));
}

/* ---- The run -------------------------------------------------------------*/

rl_run *rl_run_new(rl_spec *spec, const rl_io *io) {
  rl_run *run = calloc(1, sizeof(*run));
  if (!run) {
    rl_spec_free(spec);
    return NULL;
  }
  run->spec = spec;
  run->io = *io;
  run->rng = spec->seed;
  return run;
}

static void call_free(rl_call *c) {
  chat_stream_free(c->stream);
  json_schema_errors_free(&c->schema_errs);
  cJSON_Delete(c->parsed);
  conversation_free(&c->conv);
  chat_response_free(&c->resp);
  chat_error_free(&c->err);
  free(c->input);
  free(c->ordering);
  free(c->labels);
}

static void step_free(rl_step *step) {
  if (!step)
    return;
  for (size_t i = 0; i < step->n_calls; i++)
    call_free(&step->calls[i]);
  free(step->calls);
  free(step->cands);
  free(step->alive);
  rl_tally_free(step);
  free(step);
}

void rl_run_free(rl_run *run) {
  if (!run)
    return;
  for (size_t i = 0; i < run->n_steps; i++)
    step_free(run->steps[i]);
  free(run->steps);
  rl_spec_free(run->spec);
  free(run);
}

static void emit_at(rl_run *run, rl_event_type type, size_t step, size_t seat,
                    const rl_call *call, const char *reason) {
  rl_event ev = {.type = type,
                 .round = step,
                 .seat = seat,
                 .call = call,
                 .reason = reason};
  run->io.emit(run->io.ctx, run, &ev);
}

static void emit_call(rl_run *run, rl_event_type type, const rl_call *call) {
  emit_at(run, type, call->step, call->seat, call, NULL);
}

static void finish(rl_run *run, rl_event_type type, const char *reason) {
  size_t step = run->n_steps ? run->n_steps - 1 : 0;

  run->state = RL_FINISHED;
  emit_at(run, type, step, 0, NULL, reason);
}

/* ---- Steps ---------------------------------------------------------------*/

/* The latest step whose members wrote answers, or RL_NO_STEP. */
static size_t latest_answers(const rl_run *run) {
  for (size_t i = run->n_steps; i > 0; i--) {
    if (rl_kind_answers(round_of(run, run->steps[i - 1])->kind))
      return i - 1;
  }
  return RL_NO_STEP;
}

/* The members a judging step weighs: those who answered in `answers`, or
 * for a later bracket level, the survivors of the one before. */
static int pick_cands(rl_run *run, rl_step *step) {
  const rl_spec *spec = run->spec;
  const rl_step *prev = run->n_steps > 1 ? run->steps[run->n_steps - 2] : NULL;
  const rl_round *rd = round_of(run, step);

  step->cands = calloc(spec->n_members ? spec->n_members : 1, sizeof(size_t));
  if (!step->cands)
    return -1;
  if (rd->kind == RL_ROUND_VOTE && rd->n_options > 0)
    return 0; /* a vote on options, not on members */
  for (size_t s = 0; s < spec->n_members; s++) {
    int in;
    if (rd->kind == RL_ROUND_PAIRWISE && step->iteration > 0 && prev &&
        prev->alive)
      in = prev->alive[s];
    else
      in = step->answers != RL_NO_STEP &&
           run->steps[step->answers]->calls[s].status == RL_SEAT_OK;
    if (in)
      step->cands[step->n_cands++] = s;
  }
  return 0;
}

static rl_step *step_new(rl_run *run, size_t round, unsigned iteration) {
  const rl_spec *spec = run->spec;
  const rl_round *rd = &spec->rounds[round];
  rl_step *step;
  size_t n;

  if (run->n_steps == run->cap_steps) {
    size_t cap = run->cap_steps ? run->cap_steps * 2 : 8;
    rl_step **steps = realloc(run->steps, cap * sizeof(*steps));
    if (!steps)
      return NULL;
    run->steps = steps;
    run->cap_steps = cap;
  }
  step = calloc(1, sizeof(*step));
  if (!step)
    return NULL;
  step->answers = latest_answers(run); /* before this step counts */
  run->steps[run->n_steps++] = step;
  step->round = round;
  step->iteration = iteration;
  step->winner = -1;
  step->mean_confidence = NAN;
  if (rl_kind_judges(rd->kind) && pick_cands(run, step) != 0)
    return NULL;

  if (rl_kind_chair(rd->kind))
    n = 1 + spec->n_chair_fallback;
  else if (rd->kind == RL_ROUND_PAIRWISE)
    n = step->n_cands / 2;
  else
    n = spec->n_members;
  step->calls = calloc(n ? n : 1, sizeof(rl_call));
  if (!step->calls)
    return NULL;
  step->n_calls = n;
  for (size_t i = 0; i < n; i++) {
    rl_call *c = &step->calls[i];
    c->run = run;
    c->step = run->n_steps - 1;
    c->index = i;
    c->seat = i;
    c->confidence = NAN;
    c->choice = -1;
    chat_response_init(&c->resp);
    chat_error_init(&c->err);
    json_schema_errors_init(&c->schema_errs);
    conversation_init(&c->conv);
    if (rl_kind_chair(rd->kind))
      c->seat = i == 0 ? spec->n_members : spec->chair_fallback[i - 1];
    else if (rd->kind == RL_ROUND_PAIRWISE) {
      c->seat = rd->judge_seat;
      c->pair_a = step->cands[2 * i];
      c->pair_b = step->cands[2 * i + 1];
    }
  }
  return step;
}

/* Who a judge sees, under which label: the candidates (its own answer
 * removed unless include_self), shuffled per the round's order. */
static int deal_labels(rl_run *run, rl_step *step, const size_t *shared) {
  const rl_round *rd = round_of(run, step);

  for (size_t i = 0; i < step->n_calls; i++) {
    rl_call *c = &step->calls[i];
    size_t n = 0;
    c->labels = calloc(step->n_cands ? step->n_cands : 1, sizeof(size_t));
    if (!c->labels)
      return -1;
    for (size_t k = 0; k < step->n_cands; k++) {
      size_t cand = shared ? shared[k] : step->cands[k];
      if (cand != c->seat || rd->include_self)
        c->labels[n++] = cand;
    }
    c->n_labels = n;
    if (rd->order != RL_ORDER_PER_JUDGE)
      continue;
    for (size_t k = n; k > 1; k--) { /* Fisher-Yates */
      size_t j = (size_t)(rl_run_random(run) % k), t = c->labels[k - 1];
      c->labels[k - 1] = c->labels[j];
      c->labels[j] = t;
    }
  }
  return 0;
}

static int prepare_labels(rl_run *run, rl_step *step) {
  const rl_round *rd = round_of(run, step);
  size_t *shared = NULL;
  int rc;

  if (rd->order == RL_ORDER_SHUFFLE) {
    shared = malloc((step->n_cands ? step->n_cands : 1) * sizeof(size_t));
    if (!shared)
      return -1;
    memcpy(shared, step->cands, step->n_cands * sizeof(size_t));
    for (size_t k = step->n_cands; k > 1; k--) {
      size_t j = (size_t)(rl_run_random(run) % k), t = shared[k - 1];
      shared[k - 1] = shared[j];
      shared[j] = t;
    }
  }
  rc = deal_labels(run, step, shared);
  free(shared);
  return rc;
}

/* Starts the step's calls (the ones not skipped). */
static void step_launch(rl_run *run, rl_step *step) {
  const rl_round *rd = round_of(run, step);
  size_t n = rl_kind_chair(rd->kind) ? 1 : step->n_calls;

  step->n_started = n;
  step->pending = 0;
  for (size_t i = 0; i < n; i++)
    step->pending += step->calls[i].status != RL_SEAT_SKIPPED;
  run->starting = 1;
  for (size_t i = 0; i < n && run->state == RL_RUNNING; i++) {
    rl_call *call = &step->calls[i];
    if (call->status == RL_SEAT_SKIPPED) {
      emit_call(run, RL_EV_MEMBER_COMPLETED, call);
      continue;
    }
    call->status = RL_SEAT_RUNNING;
    if (rd->kind == RL_ROUND_PAIRWISE && rd->ask_judge) {
      step->waiting++;
      emit_call(run, RL_EV_JUDGE_NEEDED, call);
      continue;
    }
    emit_call(run, RL_EV_MEMBER_STARTED, call);
    if (run->state != RL_RUNNING)
      break;
    call_start(run, call);
  }
  run->starting = 0;
  if (step->pending == 0 && run->state == RL_RUNNING)
    step_finish(run, step);
}

static void step_begin(rl_run *run, size_t round, unsigned iteration) {
  const rl_round *rd = &run->spec->rounds[round];
  rl_step *step = step_new(run, round, iteration);

  if (!step) {
    finish(run, RL_EV_RUN_FAILED, CX_REASON_WORD(out_of_memory));
    return;
  }
  emit_at(run, RL_EV_ROUND_STARTED, run->n_steps - 1, 0, NULL, NULL);
  if (run->state != RL_RUNNING)
    return;
  if (rl_kind_judges(rd->kind) && step->n_cands == 0 &&
      !(rd->kind == RL_ROUND_VOTE && rd->n_options > 0)) {
    step->failure = CX_REASON_WORD(nothing_to_judge);
    emit_at(run, RL_EV_ROUND_COMPLETED, run->n_steps - 1, 0, NULL, NULL);
    if (run->state == RL_RUNNING)
      finish(run, RL_EV_RUN_FAILED, CX_REASON_WORD(nothing_to_judge));
    return;
  }
  if (rd->kind == RL_ROUND_ANON_REVIEW && prepare_labels(run, step) != 0) {
    finish(run, RL_EV_RUN_FAILED, CX_REASON_WORD(out_of_memory));
    return;
  }
  if (rd->kind == RL_ROUND_CUSTOM ||
      (rd->ask_seats && rl_kind_members(rd->kind))) {
    step->waiting = 1;
    emit_at(run, RL_EV_SEATS_NEEDED, run->n_steps - 1, 0, NULL, NULL);
    return;
  }
  /* A judge with nothing of others' to judge sits out. */
  if (rd->kind == RL_ROUND_ANON_REVIEW) {
    for (size_t i = 0; i < step->n_calls; i++) {
      if (step->calls[i].n_labels == 0)
        step->calls[i].status = RL_SEAT_SKIPPED;
    }
  }
  step_launch(run, step);
}

int rl_run_seats(rl_run *run, size_t idx, const unsigned char *sits,
                 const char *const *texts, const size_t *lens, size_t n) {
  rl_step *step = current(run);
  const rl_round *rd;

  if (run->state != RL_RUNNING || !step || idx != run->n_steps - 1 ||
      step->waiting != 1 || n != run->spec->n_members || step->pending)
    return -1;
  rd = round_of(run, step);
  if (rd->kind == RL_ROUND_CUSTOM && !texts)
    return -1;
  for (size_t i = 0; texts && i < n; i++) {
    if (texts[i] && !chat_utf8_valid(texts[i], lens[i]))
      return -1;
  }
  for (size_t i = 0; i < n; i++) {
    rl_call *c = &step->calls[i];
    int sit = texts ? texts[i] != NULL : sits && sits[i];
    if (sit && texts && !(c->input = str_ndup(texts[i], lens[i])))
      sit = 0;
    if (sit && texts)
      c->input_len = lens[i];
    if (sit && rd->kind == RL_ROUND_ANON_REVIEW && c->n_labels == 0)
      sit = 0;
    if (!sit)
      c->status = RL_SEAT_SKIPPED;
  }
  step->waiting = 0;
  step_launch(run, step);
  return 0;
}

/* ---- Calls ---------------------------------------------------------------*/

/* chat_stream's on_text: each delta becomes a MEMBER_TOKEN event. */
static void stream_text(void *ud, const char *text, size_t len) {
  rl_call *call = ud;
  rl_run *run = call->run;
  rl_event ev = {.type = RL_EV_MEMBER_TOKEN,
                 .round = call->step,
                 .seat = call->seat,
                 .call = call,
                 .text = text,
                 .text_len = len,
                 .index = call->tokens++};

  if (run->state == RL_RUNNING)
    run->io.emit(run->io.ctx, run, &ev);
}

static void stream_drop(rl_call *call) {
  chat_stream_free(call->stream);
  call->stream = NULL;
}

/* The codec a seat's replies are read with. */
static const chat_codec *seat_codec(const rl_seat *seat) {
  return seat->codec ? seat->codec : &chat_codec_openrouter;
}

/* Records a finished call and moves the step on when it was the last. A
 * failed synthesis hands over to the next fallback seat first. */
static void call_finished(rl_call *call) {
  rl_run *run = call->run;
  rl_step *step = run->steps[call->step];

  call->handle = NULL;
  stream_drop(call);
  if (call->status == RL_SEAT_OK && rl_tally_call(run, step, call) != 0) {
    char msg[96];
    snprintf(msg, sizeof(msg), "the ballot could not be read (%s)",
             call->ballot_error ? call->ballot_error
                                : CX_REASON_WORD(unparseable));
    call->status = RL_SEAT_FAILED; /* the answer is kept for the record */
    chat_error_set(&call->err, CHAT_ERR_PERMANENT,
                   CX_REASON_WORD(invalid_output), msg);
  }
  emit_call(run, RL_EV_MEMBER_COMPLETED, call);
  if (run->state != RL_RUNNING) /* emit may have cancelled the run */
    return;
  if (call->status == RL_SEAT_FAILED &&
      rl_kind_chair(round_of(run, step)->kind) &&
      step->n_started < step->n_calls) {
    rl_call *next = &step->calls[step->n_started++];
    next->status = RL_SEAT_RUNNING;
    emit_call(run, RL_EV_MEMBER_STARTED, next);
    if (run->state == RL_RUNNING)
      call_start(run, next);
    return;
  }
  if (--step->pending == 0 && !run->starting)
    step_finish(run, step);
}

static void call_fail(rl_call *call, chat_error_kind kind, const char *reason,
                      const char *message) {
  call->status = RL_SEAT_FAILED;
  chat_error_set(&call->err, kind, reason, message);
  call_finished(call);
}

/* An answer arrived. Tool calls (for a seat with tools) pause the call
 * until the owner answers them (RL_EV_TOOL_CALLS). Otherwise it succeeds,
 * unless the seat has an output schema the answer breaks: a permanent
 * "invalid_output" failure whose reasons are in call->schema_errs (the
 * answer is kept for the record). */
static void answer_ok(rl_call *call) {
  rl_run *run = call->run;
  const rl_seat *seat = &run->spec->seats[call->seat];
  unsigned max_turns = seat->max_tool_turns ? seat->max_tool_turns : 8;
  long left;
  int rc;

  if (seat->n_tools > 0 && call->resp.n_tool_calls > 0) {
    if (call->conv.n_turns >= max_turns) {
      chat_response_free(&call->resp);
      call_fail(call, CHAT_ERR_PERMANENT, CX_REASON_WORD(too_many_tool_turns),
                "the model kept calling tools past max_tool_turns");
      return;
    }
    if (conversation_add_calls(&call->conv, &call->resp) != 0) {
      chat_response_free(&call->resp);
      call_fail(call, CHAT_ERR_PERMANENT, CX_REASON_WORD(out_of_memory),
                "could not keep the tool calls");
      return;
    }
    chat_response_free(&call->resp);
    call->handle = NULL;
    left = remaining_ms(run, call);
    if (left == 0) {
      call_fail(call, CHAT_ERR_TIMEOUT, CX_REASON_WORD(timeout),
                "the call used up its timeout_ms budget before its tools ran");
      return;
    }
    call->awaiting_tools = 1;
    /* The tool turn counts against the budget: a timer holds the deadline
     * (set before the event, so a cancel from inside it finds the timer). */
    if (left != LONG_MAX && run->io.start_timer)
      call->handle = run->io.start_timer(run->io.ctx, call, left);
    emit_call(run, RL_EV_TOOL_CALLS, call);
    return;
  }

  /* The confidence trailer goes first: the JSON is looked for in what is
   * left, so its span never reaches past the content's end. */
  rl_tally_confidence(run, run->steps[call->step], call);
  if (seat->schema) {
    /* Found and parsed once: validated here, the tree kept for the
     * owner's term. */
    json_extract_reply(call->resp.content, call->resp.content_len,
                       &call->json_start, &call->json_end);
    cJSON_Delete(call->parsed);
    rc = json_schema_validate_tree(
        seat->schema,
        call->resp.content ? call->resp.content + call->json_start : NULL,
        call->json_end - call->json_start, &call->schema_errs, &call->parsed);
    if (rc != 0) {
      call->status = RL_SEAT_FAILED;
      call->confidence = NAN; /* only an accepted answer reports one */
      chat_error_set(&call->err, CHAT_ERR_PERMANENT,
                     rc == -1 ? CX_REASON_WORD(invalid_output)
                              : CX_REASON_WORD(out_of_memory),
                     "the answer does not follow the member's output_schema");
      call_finished(call);
      return;
    }
  }
  call->status = RL_SEAT_OK;
  call_finished(call);
}

static void on_chunk(void *ud, const char *data, size_t len) {
  rl_call_chunk(ud, data, len);
}

/* Starts a call: its budget (the seat's timeout_ms) runs from here. */
static void call_start(rl_run *run, rl_call *call) {
  call->deadline_ms =
      rl_deadline(now_ms(run), run->spec->seats[call->seat].timeout_ms);
  start_attempt(run, call);
}

/* Renders the call's request and hands it to the transport, bounded by
 * what is left of the call's budget (or request_timeout_ms, sooner). */
static void start_attempt(rl_run *run, rl_call *call) {
  const rl_spec *spec = run->spec;
  const rl_seat *seat = &spec->seats[call->seat];
  long left = remaining_ms(run, call);
  size_t len = 0;
  char *body;

  if (left == 0) {
    call_fail(call, CHAT_ERR_TIMEOUT, CX_REASON_WORD(timeout),
              "the call used up its timeout_ms budget");
    return;
  }
  body = rl_render_request(run, call->step, call->index, &len);
  call->attempts++;
  call->attempt_capped =
      seat->request_timeout_ms > 0 && seat->request_timeout_ms < left;
  stream_drop(call);
  call->tokens = 0;
  if (seat->stream && !seat->external) {
    call->stream = chat_stream_new(seat_codec(seat), spec->max_response_bytes,
                                   seat->max_tool_calls, stream_text, call);
    if (!call->stream) {
      free(body);
      call_fail(call, CHAT_ERR_PERMANENT, CX_REASON_WORD(out_of_memory),
                "could not set up the stream");
      return;
    }
  }
  if (!body) {
    call_fail(call, CHAT_ERR_PERMANENT, CX_REASON_WORD(render_failed),
              "could not render the request (invalid UTF-8 or no memory)");
    return;
  }
  if (spec->debug) {
    rl_event ev = {.type = RL_EV_MEMBER_REQUEST,
                   .round = call->step,
                   .seat = call->seat,
                   .call = call,
                   .text = body,
                   .text_len = len};
    run->io.emit(run->io.ctx, run, &ev);
  }
  http_request req = {
      .url = seat->url,
      .headers = (const char *const *)seat->headers,
      .n_headers = seat->n_headers,
      .body = body,
      .body_len = len,
      .connect_timeout_ms = seat->connect_timeout_ms,
      .timeout_ms = rl_attempt_timeout_ms(seat->request_timeout_ms, left),
      .max_response_bytes = spec->max_response_bytes,
      .on_chunk = call->stream ? on_chunk : NULL,
  };
  call->handle = run->io.start_call(run->io.ctx, call, &req);
  free(body);
  if (!call->handle)
    call_fail(call, CHAT_ERR_PERMANENT, CX_REASON_WORD(start_failed),
              "the HTTP call could not be started (bad URL or no memory)");
}

/* The wait before the next attempt: the provider's hint when it gave one,
 * else base * 2^(attempts-1) with equal jitter (half fixed, half random),
 * so a burst of failures does not retry in lockstep. */
static long backoff_ms(rl_run *run, const rl_call *call) {
  const rl_seat *seat = &run->spec->seats[call->seat];
  unsigned shift = call->attempts > 1 ? call->attempts - 1 : 0;
  long delay;

  if (call->err.retry_after_ms >= 0)
    return call->err.retry_after_ms < RETRY_HINT_MAX_MS
               ? call->err.retry_after_ms
               : RETRY_HINT_MAX_MS;
  if (seat->retry_base_ms <= 0)
    return 0;
  delay = shift > 20 || seat->retry_base_ms > (RETRY_HINT_MAX_MS >> shift)
              ? RETRY_HINT_MAX_MS
              : seat->retry_base_ms << shift;
  return delay / 2 + (long)(rl_run_random(run) % (uint64_t)(delay / 2 + 1));
}

/* Whether another attempt may help: a transient failure, or an attempt
 * cut short by request_timeout_ms while the budget had more. */
static int retryable(const rl_call *call) {
  return call->err.kind == CHAT_ERR_TRANSIENT ||
         (call->err.kind == CHAT_ERR_TIMEOUT && call->attempt_capped);
}

/* The wait before the next attempt would end past the deadline: the call
 * fails now, as a timeout, saying why (the failed attempt's status and
 * retry hint stay on the error). */
static void wait_past_deadline(rl_call *call, long delay, long left) {
  char msg[512];
  const char *last = call->err.message;

  if (call->err.retry_after_ms >= 0)
    snprintf(msg, sizeof(msg),
             "the retry hint (%ld ms) exceeds the remaining budget (%ld ms "
             "left of timeout_ms)%s%s",
             call->err.retry_after_ms, left, last ? "; the last attempt: " : "",
             last ? last : "");
  else
    snprintf(msg, sizeof(msg),
             "the backoff before the next attempt (%ld ms) exceeds the "
             "remaining budget (%ld ms left of timeout_ms)%s%s",
             delay, left, last ? "; the last attempt: " : "", last ? last : "");
  call_fail(call, CHAT_ERR_TIMEOUT, CX_REASON_WORD(timeout), msg);
}

/* A failed attempt: another one follows after a backoff when the failure
 * is worth retrying, attempts remain and the wait ends before the
 * deadline; otherwise the call is finished. */
static void attempt_failed(rl_call *call) {
  rl_run *run = call->run;
  const rl_seat *seat = &run->spec->seats[call->seat];
  unsigned max = seat->retry_max_attempts ? seat->retry_max_attempts : 1;

  /* What the provider says about a failure is reported as is, except the
   * key: a provider may quote it back ("Incorrect API key: sk-..."). */
  str_redact_in(&call->err.message, seat->secret);
  str_redact_in(&call->err.type, seat->secret);
  str_redact_in(&call->err.code, seat->secret);
  call->handle = NULL;
  stream_drop(call);
  if (retryable(call) && call->attempts < max && run->io.start_timer) {
    long delay = backoff_ms(run, call), left = remaining_ms(run, call);

    if (!rl_wait_fits(delay, left)) {
      wait_past_deadline(call, delay, left);
      return;
    }
    call->handle = run->io.start_timer(run->io.ctx, call, delay);
    if (call->handle) {
      call->backing_off = 1;
      return;
    }
  }
  call->status = RL_SEAT_FAILED;
  call_finished(call);
}

/* The running call (index) of the current step, or NULL. */
static rl_call *running_call(rl_run *run, size_t step, size_t index) {
  rl_step *cur = current(run);

  if (run->state != RL_RUNNING || !cur || step != run->n_steps - 1 ||
      index >= cur->n_calls || cur->calls[index].status != RL_SEAT_RUNNING)
    return NULL;
  return &cur->calls[index];
}

int rl_call_tool_results(rl_run *run, size_t step, size_t index,
                         const char *const *results, const size_t *lens,
                         size_t n) {
  rl_call *call = running_call(run, step, index);

  if (!call || !call->awaiting_tools ||
      conversation_answer(&call->conv, results, lens, n) != 0)
    return -1;
  if (call->handle) /* the deadline timer */
    run->io.cancel_timer(run->io.ctx, call->handle);
  call->handle = NULL;
  call->awaiting_tools = 0;
  call->attempts = 0; /* a new request: its own retries (the budget goes on) */
  start_attempt(run, call);
  return 0;
}

void rl_call_timer(rl_call *call) {
  rl_run *run = call->run;
  int backoff = call->backing_off, tools = call->awaiting_tools;

  call->handle = NULL;
  call->backing_off = 0;
  if (run->state != RL_RUNNING || call->status != RL_SEAT_RUNNING)
    return;
  if (tools) {
    call->awaiting_tools = 0;
    call_fail(call, CHAT_ERR_TIMEOUT, CX_REASON_WORD(timeout),
              "the tool calls outlived the call's timeout_ms budget");
    return;
  }
  if (!backoff)
    return;
  chat_error_free(&call->err);
  json_schema_errors_free(&call->schema_errs);
  cJSON_Delete(call->parsed);
  call->parsed = NULL;
  call->http_status = 0;
  start_attempt(run, call);
}

void rl_run_start(rl_run *run) {
  if (run->state != RL_NEW)
    return;
  run->state = RL_RUNNING;
  step_begin(run, 0, 0);
}

/* Maps a transport failure onto the error a member reports. */
static void transport_error(const http_result *res, chat_error *err) {
  switch (res->failure) {
  case HTTP_FAIL_TIMEOUT:
    chat_error_set(err, CHAT_ERR_TIMEOUT, CX_REASON_WORD(timeout), res->error);
    break;
  case HTTP_FAIL_CONNECT:
    chat_error_set(err, CHAT_ERR_TRANSIENT, CX_REASON_WORD(connect_failed),
                   res->error);
    break;
  case HTTP_FAIL_TOO_LARGE:
    chat_error_set(err, CHAT_ERR_PERMANENT, CX_REASON_WORD(response_too_large),
                   "the response body is larger than max_response_bytes");
    break;
  case HTTP_FAIL_HEADER_TOO_LARGE:
    chat_error_set(err, CHAT_ERR_PERMANENT, CX_REASON_WORD(response_too_large),
                   "a response header is larger than libcurl accepts "
                   "(100 KB)");
    break;
  case HTTP_FAIL_TLS_VERIFY:
    chat_error_set(err, CHAT_ERR_PERMANENT, CX_REASON_WORD(tls_verify_failed),
                   res->error);
    break;
  default:
    chat_error_set(err, CHAT_ERR_TRANSIENT, CX_REASON_WORD(transport_error),
                   res->error);
    break;
  }
}

void rl_call_chunk(rl_call *call, const char *data, size_t len) {
  /* A failing stream keeps its error for rl_call_done to report. */
  if (call->stream && call->run->state == RL_RUNNING &&
      call->status == RL_SEAT_RUNNING && !call->backing_off)
    chat_stream_feed(call->stream, data, len);
}

void rl_call_done(rl_call *call, const http_result *res) {
  rl_run *run = call->run;
  const chat_codec *codec = seat_codec(&run->spec->seats[call->seat]);

  if (run->state != RL_RUNNING || call->status != RL_SEAT_RUNNING ||
      call->backing_off || call->awaiting_tools)
    return;
  call->latency_us = res->elapsed_us;
  call->http_status = res->status;
  if (res->failure != HTTP_OK) {
    transport_error(res, &call->err);
    call->err.http_status = res->status;
  } else if (res->status >= 200 && res->status < 300) {
    int rc =
        call->stream
            ? chat_stream_finish(call->stream, &call->resp, &call->err)
            : codec->parse_response(res->body, res->body_len,
                                    run->spec->seats[call->seat].max_tool_calls,
                                    &call->resp, &call->err);
    stream_drop(call);
    call->err.http_status = res->status;
    if (rc == 0) {
      answer_ok(call);
      return;
    }
  } else
    codec->parse_error(res->status, res->body, res->body_len,
                       res->retry_after_ms, &call->err);
  attempt_failed(call);
}

int rl_call_complete(rl_run *run, size_t step, size_t index,
                     chat_response *resp, chat_error *err,
                     uint64_t latency_us) {
  rl_call *call = running_call(run, step, index);

  if (!call || !run->spec->seats[call->seat].external || (!resp == !err) ||
      call->backing_off || call->awaiting_tools ||
      (round_of(run, run->steps[step])->ask_judge &&
       round_of(run, run->steps[step])->kind == RL_ROUND_PAIRWISE))
    goto drop;
  call->latency_us = latency_us;
  if (resp && !chat_utf8_valid(resp->content, resp->content_len)) {
    chat_response_free(resp);
    call_fail(call, CHAT_ERR_PERMANENT, CX_REASON_WORD(invalid_utf8),
              "the reply is not valid UTF-8");
    return 0;
  }
  if (resp) {
    call->resp = *resp;
    chat_response_init(resp);
    answer_ok(call);
  } else {
    chat_error_free(&call->err);
    call->err = *err;
    chat_error_init(err);
    attempt_failed(call);
  }
  return 0;

drop:
  if (resp)
    chat_response_free(resp);
  if (err)
    chat_error_free(err);
  return -1;
}

int rl_run_judged(rl_run *run, size_t step, size_t index, int winner) {
  rl_call *call = running_call(run, step, index);
  rl_step *cur = current(run);

  if (!call || !round_of(run, cur)->ask_judge || winner < -1 || winner > 1)
    return -1;
  cur->waiting--;
  call->choice = winner;
  call->status = winner < 0 ? RL_SEAT_FAILED : RL_SEAT_OK;
  if (winner < 0)
    chat_error_set(&call->err, CHAT_ERR_PERMANENT, CX_REASON_WORD(judge_failed),
                   "the judge function gave no verdict");
  if (--cur->pending == 0 && !run->starting)
    step_finish(run, cur);
  return 0;
}

/* ---- Finishing a step ----------------------------------------------------*/

/* Moves on after a step: the next iteration, the next round, or the end. */
static void advance(rl_run *run, const rl_step *step, int stop) {
  const rl_round *rd = round_of(run, step);
  unsigned max = rd->max_iterations ? rd->max_iterations : 1;

  if (!stop && step->iteration + 1 < max) {
    step_begin(run, step->round, step->iteration + 1);
    return;
  }
  if (step->round + 1 < run->spec->n_rounds) {
    step_begin(run, step->round + 1, 0);
    return;
  }
  finish(run, RL_EV_RUN_COMPLETED, NULL);
}

/* Why the step fails the run, or NULL: too few members succeeded. */
static const char *quorum_failure(const rl_run *run, const rl_step *step) {
  const rl_round *rd = round_of(run, step);
  unsigned need = rd->quorum ? rd->quorum : 1;
  size_t ok = 0;

  if (rd->kind == RL_ROUND_PAIRWISE)
    return NULL; /* a failed judgement lets the first of the pair through */
  for (size_t i = 0; i < step->n_calls; i++)
    ok += step->calls[i].status == RL_SEAT_OK;
  if (ok >= need)
    return NULL;
  if (rl_kind_chair(rd->kind))
    return CX_REASON_WORD(chair_failed);
  return ok == 0 && need == 1 ? CX_REASON_WORD(no_member_succeeded)
                              : CX_REASON_WORD(quorum_not_met);
}

static int alive_count(const rl_run *run, const rl_step *step) {
  size_t n = 0;
  for (size_t s = 0; step->alive && s < run->spec->n_members; s++)
    n += step->alive[s];
  return (int)n;
}

static void step_finish(rl_run *run, rl_step *step) {
  const rl_round *rd = round_of(run, step);
  size_t idx = run->n_steps - 1;

  step->failure = quorum_failure(run, step);
  if (!step->failure && rl_tally_step(run, step) != 0)
    step->failure = CX_REASON_WORD(out_of_memory);
  emit_at(run, RL_EV_ROUND_COMPLETED, idx, 0, NULL, NULL);
  if (run->state != RL_RUNNING)
    return;
  if (step->failure) {
    finish(run, RL_EV_RUN_FAILED, step->failure);
    return;
  }
  if (step->iteration + 1 >= (rd->max_iterations ? rd->max_iterations : 1)) {
    advance(run, step, 1);
    return;
  }
  /* A bracket ends on one survivor; rl_tally_converged never ends it. */
  if (rd->kind == RL_ROUND_PAIRWISE && alive_count(run, step) <= 1) {
    advance(run, step, 1);
    return;
  }
  if (rd->ask_until) {
    step->waiting = 1;
    emit_at(run, RL_EV_ITERATION_DONE, idx, 0, NULL, NULL);
    return;
  }
  if (rd->min_confidence > 0) {
    advance(run, step,
            !isnan(step->mean_confidence) &&
                step->mean_confidence >= rd->min_confidence);
    return;
  }
  advance(run, step, rl_tally_converged(run, step));
}

int rl_run_continue(rl_run *run, size_t idx, int stop) {
  rl_step *step = current(run);

  if (run->state != RL_RUNNING || !step || idx != run->n_steps - 1 ||
      !step->waiting || step->pending)
    return -1;
  step->waiting = 0;
  advance(run, step, stop);
  return 0;
}

void rl_run_cancel(rl_run *run) {
  rl_step *step = current(run);

  if (run->state != RL_RUNNING) {
    if (run->state == RL_NEW)
      finish(run, RL_EV_RUN_CANCELLED, NULL);
    return;
  }
  run->state = RL_FINISHED; /* no completion may move the step on now */
  for (size_t i = 0; step && i < step->n_calls; i++) {
    rl_call *call = &step->calls[i];
    if (call->status != RL_SEAT_RUNNING)
      continue;
    if (call->handle && (call->backing_off || call->awaiting_tools))
      run->io.cancel_timer(run->io.ctx, call->handle);
    else if (call->handle)
      run->io.cancel_call(run->io.ctx, call);
    call->handle = NULL;
    call->backing_off = 0;
    call->awaiting_tools = 0;
    stream_drop(call);
    call->status = RL_SEAT_FAILED;
    chat_error_set(&call->err, CHAT_ERR_CANCELLED, CX_REASON_WORD(cancelled),
                   "the run was cancelled");
    emit_call(run, RL_EV_MEMBER_COMPLETED, call);
  }
  emit_at(run, RL_EV_RUN_CANCELLED, run->n_steps ? run->n_steps - 1 : 0, 0,
          NULL, NULL);
}

int rl_run_finished(const rl_run *run) { return run->state == RL_FINISHED; }

const rl_spec *rl_run_spec(const rl_run *run) { return run->spec; }

void *rl_run_ctx(const rl_run *run) { return run->io.ctx; }

size_t rl_run_n_steps(const rl_run *run) { return run->n_steps; }

const rl_step *rl_run_step(const rl_run *run, size_t step) {
  return step < run->n_steps ? run->steps[step] : NULL;
}

const rl_call *rl_run_call(const rl_run *run, size_t step, size_t seat) {
  const rl_step *s = rl_run_step(run, step);

  if (!s)
    return NULL;
  for (size_t i = 0; i < s->n_calls; i++) {
    if (s->calls[i].seat == seat && s->calls[i].status != RL_SEAT_IDLE)
      return &s->calls[i];
  }
  return NULL;
}
