/* council_nif.c - the NIF glue: atoms, the run resource, the engine threads'
 * lifecycle and the function table.
 *
 * Logic lives in the pure C files; this file converts terms and hands work
 * to the engine threads. A run's C state lives in a resource owned by its
 * RunServer process: the resource monitors that process, and when it dies
 * the run is cancelled on its engine thread and its memory freed. No NIF
 * here does more than a bounded copy on a normal scheduler. */
#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <erl_nif.h>

#include "aggregate_nif.h"
#include "http_engine.h"
#include "json_nif.h"
#include "round_loop.h"
#include "spec_nif.h"

#define MAX_ENGINES 16
/* Inputs past this size are copied and checked on a dirty CPU scheduler. */
#define DIRTY_INPUT_BYTES (128 * 1024)

typedef struct run_res {
  rl_run *run;
  http_engine *eng;
  ErlNifPid owner;
  ErlNifEnv *tag_env; /* holds the caller's tag for the run's lifetime */
  ERL_NIF_TERM tag;
  ErlNifEnv *msg_env;  /* engine thread only: messages to the owner */
  ERL_NIF_TERM queued; /* engine thread only: unsent events, newest first */
  unsigned n_queued;   /* engine thread only: how many */
  int engine_ref;      /* engine thread only: the engine holds a reference */
  int finished;        /* engine thread only: a terminal event went out */
} run_res;

static ErlNifResourceType *run_type;
static http_engine *engines[MAX_ENGINES];
static int n_engines;
static atomic_uint next_engine;
static atomic_long live_runs;
static int library_refc; /* load/upgrade calls are serialized by ERTS */

static ERL_NIF_TERM am_ok, am_error, am_nil, am_true, am_false;
static ERL_NIF_TERM am_council_ex_run, am_round_started, am_member_started,
    am_member_completed, am_round_completed, am_run_completed, am_run_failed,
    am_run_cancelled, am_invalid_spec, am_overloaded, am_call, am_transient,
    am_permanent, am_timeout, am_cancelled, am_attempts, am_member_token,
    am_json, am_invalid_output, am_tool_calls, am_cost, am_stop, am_input,
    am_model, am_engines, am_max_host_connections, am_seats_needed,
    am_judge_needed, am_iteration_done, am_seats, am_judged, am_continue,
    am_skipped, am_confidence, am_ordering, am_choice, am_ballot_error,
    am_labels, am_pair, am_aggregate, am_winner, am_cands, am_alive, am_failure,
    am_mean_confidence;
static ERL_NIF_TERM am_status, am_content, am_finish_reason, am_input_tokens,
    am_output_tokens, am_latency_us, am_http_status, am_kind, am_reason,
    am_type, am_code, am_message, am_retry_after_ms, am_in_flight, am_runs;

static void make_atoms(ErlNifEnv *env) {
#define ATOM(name) am_##name = enif_make_atom(env, #name)
  ATOM(ok);
  ATOM(error);
  ATOM(nil);
  ATOM(true);
  ATOM(false);
  ATOM(council_ex_run);
  ATOM(round_started);
  ATOM(member_started);
  ATOM(member_completed);
  ATOM(round_completed);
  ATOM(run_completed);
  ATOM(run_failed);
  ATOM(run_cancelled);
  ATOM(invalid_spec);
  ATOM(overloaded);
  ATOM(call);
  ATOM(transient);
  ATOM(permanent);
  ATOM(timeout);
  ATOM(cancelled);
  ATOM(attempts);
  ATOM(member_token);
  ATOM(json);
  ATOM(invalid_output);
  ATOM(tool_calls);
  ATOM(cost);
  ATOM(stop);
  ATOM(input);
  ATOM(model);
  ATOM(engines);
  ATOM(max_host_connections);
  ATOM(seats_needed);
  ATOM(judge_needed);
  ATOM(iteration_done);
  ATOM(seats);
  ATOM(judged);
  ATOM(continue);
  ATOM(skipped);
  ATOM(confidence);
  ATOM(ordering);
  ATOM(choice);
  ATOM(ballot_error);
  ATOM(labels);
  ATOM(pair);
  ATOM(aggregate);
  ATOM(winner);
  ATOM(cands);
  ATOM(alive);
  ATOM(failure);
  ATOM(mean_confidence);
  ATOM(status);
  ATOM(content);
  ATOM(finish_reason);
  ATOM(input_tokens);
  ATOM(output_tokens);
  ATOM(latency_us);
  ATOM(http_status);
  ATOM(kind);
  ATOM(reason);
  ATOM(type);
  ATOM(code);
  ATOM(message);
  ATOM(retry_after_ms);
  ATOM(in_flight);
  ATOM(runs);
#undef ATOM
}

static ERL_NIF_TERM error_tuple(ErlNifEnv *env, ERL_NIF_TERM reason) {
  return enif_make_tuple2(env, am_error, reason);
}

/* ---- Outcomes to terms (engine thread, into the run's msg_env) -----------*/

static ERL_NIF_TERM make_str(ErlNifEnv *env, const char *s, size_t len) {
  ERL_NIF_TERM t;
  unsigned char *p;

  if (!s)
    return am_nil;
  p = enif_make_new_binary(env, len, &t);
  if (len)
    memcpy(p, s, len);
  return t;
}

static ERL_NIF_TERM make_cstr(ErlNifEnv *env, const char *s) {
  return s ? make_str(env, s, strlen(s)) : am_nil;
}

static ERL_NIF_TERM make_count(ErlNifEnv *env, long n) {
  return n >= 0 ? enif_make_long(env, n) : am_nil;
}

static ERL_NIF_TERM make_error_map(ErlNifEnv *env, const chat_error *e) {
  ERL_NIF_TERM keys[] = {am_kind, am_reason,  am_http_status,   am_type,
                         am_code, am_message, am_retry_after_ms};
  ERL_NIF_TERM vals[] = {
      enif_make_atom(env, chat_error_kind_name(e->kind)),
      /* reasons come from a fixed set of static words in the C core */
      enif_make_atom(env, e->reason ? e->reason : "unknown"),
      e->http_status > 0 ? enif_make_long(env, e->http_status) : am_nil,
      make_cstr(env, e->type),
      make_cstr(env, e->code),
      make_cstr(env, e->message),
      make_count(env, e->retry_after_ms),
  };
  ERL_NIF_TERM map;
  enif_make_map_from_arrays(env, keys, vals, 7, &map);
  return map;
}

/* [{Path, Message}] for an answer that broke its output schema. */
static ERL_NIF_TERM make_schema_errors(ErlNifEnv *env, const rl_call *c) {
  ERL_NIF_TERM list = enif_make_list(env, 0);

  for (size_t i = c->schema_errs.count; i > 0; i--) {
    const json_schema_error *e = &c->schema_errs.items[i - 1];
    list = enif_make_list_cell(env,
                               enif_make_tuple2(env, make_cstr(env, e->path),
                                                make_cstr(env, e->message)),
                               list);
  }
  return list;
}

static ERL_NIF_TERM make_seats(ErlNifEnv *env, const size_t *seats, size_t n) {
  ERL_NIF_TERM list = enif_make_list(env, 0);

  if (!seats)
    return am_nil;
  for (size_t i = n; i > 0; i--)
    list = enif_make_list_cell(env, enif_make_uint64(env, seats[i - 1]), list);
  return list;
}

static ERL_NIF_TERM make_float(ErlNifEnv *env, double d) {
  return isfinite(d) ? enif_make_double(env, d) : am_nil;
}

/* A call's ballot choice: a vote on members as the member's seat, a vote
 * on options as the option's index, a pairwise verdict as 0 or 1. */
static ERL_NIF_TERM make_choice(ErlNifEnv *env, const rl_call *c) {
  const rl_step *step = rl_run_step(c->run, c->step);
  const rl_round *rd = &rl_run_spec(c->run)->rounds[step->round];

  if (c->choice < 0)
    return am_nil;
  if (rd->kind == RL_ROUND_VOTE && rd->n_options == 0 &&
      (size_t)c->choice < step->n_cands)
    return enif_make_uint64(env, step->cands[c->choice]);
  return enif_make_long(env, c->choice);
}

static ERL_NIF_TERM make_outcome(ErlNifEnv *env, const rl_call *c) {
  int ok = c->status == RL_SEAT_OK;
  int has_schema = rl_run_spec(c->run)->seats[c->seat].schema != NULL;
  ERL_NIF_TERM keys[] = {
      am_status,       am_content,       am_model,      am_finish_reason,
      am_input_tokens, am_output_tokens, am_latency_us, am_http_status,
      am_error,        am_attempts,      am_json,       am_invalid_output,
      am_cost,         am_stop,          am_confidence, am_ordering,
      am_choice,       am_ballot_error,  am_labels,     am_pair};
  ERL_NIF_TERM vals[] = {
      ok                             ? am_ok
      : c->status == RL_SEAT_SKIPPED ? am_skipped
                                     : am_error,
      /* a failed answer is kept when it arrived (it broke its schema) */
      make_str(env, c->resp.content, c->resp.content_len),
      make_cstr(env, c->resp.model),
      make_cstr(env, c->resp.finish_reason),
      make_count(env, c->resp.input_tokens),
      make_count(env, c->resp.output_tokens),
      enif_make_uint64(env, c->latency_us),
      c->http_status > 0 ? enif_make_long(env, c->http_status) : am_nil,
      ok ? am_nil : make_error_map(env, &c->err),
      enif_make_uint(env, c->attempts),
      ok && has_schema
          ? enif_make_tuple2(env, enif_make_uint64(env, c->json_start),
                             enif_make_uint64(env, c->json_end))
          : am_nil,
      make_schema_errors(env, c),
      c->resp.has_cost ? enif_make_double(env, c->resp.cost) : am_nil,
      enif_make_atom(env, chat_stop_name(c->resp.stop)),
      make_float(env, c->confidence),
      make_seats(env, c->ordering, c->n_ordering),
      make_choice(env, c),
      c->ballot_error ? enif_make_atom(env, c->ballot_error) : am_nil,
      make_seats(env, c->labels, c->n_labels),
      rl_run_spec(c->run)->rounds[rl_run_step(c->run, c->step)->round].kind ==
              RL_ROUND_PAIRWISE
          ? enif_make_tuple2(env, enif_make_uint64(env, c->pair_a),
                             enif_make_uint64(env, c->pair_b))
          : am_nil,
  };
  ERL_NIF_TERM map;
  enif_make_map_from_arrays(env, keys, vals, sizeof(keys) / sizeof(keys[0]),
                            &map);
  return map;
}

static ERL_NIF_TERM make_round_info(ErlNifEnv *env, const rl_run *run,
                                    size_t idx) {
  const rl_step *step = rl_run_step(run, idx);
  size_t n = rl_run_spec(run)->n_members, n_alive = 0;
  size_t *alive = step->alive ? calloc(n ? n : 1, sizeof(size_t)) : NULL;
  ERL_NIF_TERM keys[] = {am_aggregate, am_winner,  am_cands,
                         am_alive,     am_failure, am_mean_confidence};

  for (size_t s = 0; alive && s < n; s++) {
    if (step->alive[s])
      alive[n_alive++] = s;
  }
  ERL_NIF_TERM vals[] = {
      step->has_agg ? aggregate_nif_result(env, step->agg) : am_nil,
      step->winner < 0 ? am_nil : enif_make_long(env, step->winner),
      make_seats(env, step->cands, step->n_cands),
      make_seats(env, alive, n_alive),
      step->failure ? enif_make_atom(env, step->failure) : am_nil,
      make_float(env, step->mean_confidence),
  };
  free(alive);
  ERL_NIF_TERM map;
  enif_make_map_from_arrays(env, keys, vals, sizeof(keys) / sizeof(keys[0]),
                            &map);
  return map;
}

static ERL_NIF_TERM make_event(ErlNifEnv *env, const rl_run *run,
                               const rl_event *ev) {
  ERL_NIF_TERM step = enif_make_uint64(env, ev->round);
  ERL_NIF_TERM seat = enif_make_uint64(env, ev->seat);
  ERL_NIF_TERM index =
      ev->call ? enif_make_uint64(env, ev->call->index) : am_nil;

  switch (ev->type) {
  case RL_EV_ROUND_STARTED: {
    const rl_step *s = rl_run_step(run, ev->round);
    return enif_make_tuple4(env, am_round_started, step,
                            enif_make_uint64(env, s->round),
                            enif_make_uint(env, s->iteration));
  }
  case RL_EV_MEMBER_STARTED:
    return enif_make_tuple4(env, am_member_started, step, index, seat);
  case RL_EV_TOOL_CALLS: {
    const conv_turn *t = conversation_pending(&ev->call->conv);
    ERL_NIF_TERM calls = enif_make_list(env, 0);
    for (size_t i = t ? t->n_calls : 0; i > 0; i--) {
      const chat_tool_call *c = &t->calls[i - 1];
      calls = enif_make_list_cell(
          env,
          enif_make_tuple3(env, make_cstr(env, c->id), make_cstr(env, c->name),
                           make_str(env, c->arguments, c->arguments_len)),
          calls);
    }
    return enif_make_tuple5(env, am_tool_calls, step, index, seat, calls);
  }
  case RL_EV_MEMBER_TOKEN:
    return enif_make_tuple5(env, am_member_token, step, seat,
                            enif_make_uint64(env, ev->index),
                            make_str(env, ev->text, ev->text_len));
  case RL_EV_MEMBER_COMPLETED:
    return enif_make_tuple5(env, am_member_completed, step, index, seat,
                            make_outcome(env, ev->call));
  case RL_EV_ROUND_COMPLETED:
    return enif_make_tuple3(env, am_round_completed, step,
                            make_round_info(env, run, ev->round));
  case RL_EV_SEATS_NEEDED:
    return enif_make_tuple2(env, am_seats_needed, step);
  case RL_EV_JUDGE_NEEDED:
    return enif_make_tuple5(env, am_judge_needed, step, index,
                            enif_make_uint64(env, ev->call->pair_a),
                            enif_make_uint64(env, ev->call->pair_b));
  case RL_EV_ITERATION_DONE:
    return enif_make_tuple2(env, am_iteration_done, step);
  case RL_EV_RUN_COMPLETED:
    return am_run_completed;
  case RL_EV_RUN_FAILED:
    return enif_make_tuple2(env, am_run_failed,
                            enif_make_atom(env, ev->reason));
  case RL_EV_RUN_CANCELLED:
  default:
    return am_run_cancelled;
  }
}

/* ---- The round loop's I/O: the engine and the owner ---------------------*/

static void engine_step_done(run_res *r);

static void http_done_cb(http_engine *eng, void *ud, const http_result *res) {
  rl_call *call = ud;
  run_res *r = rl_run_ctx(call->run);
  (void)eng;

  rl_call_done(call, res);
  engine_step_done(r);
}

/* Events go to the owner in batches, one message per engine callback:
 * {council_ex_run, Tag, [Event]} in order. A council's member_started
 * events, or a chair's completion with its round's and the run's, then cost
 * the engine one enif_send and the owner one receive. */
static void queue_owner(run_res *r, ERL_NIF_TERM event) {
  if (r->n_queued++ == 0)
    r->queued = enif_make_list(r->msg_env, 0);
  r->queued = enif_make_list_cell(r->msg_env, event, r->queued);
}

/* Sends what is queued (dropped if the owner is dead). */
static void flush_owner(run_res *r) {
  ERL_NIF_TERM events;

  if (r->n_queued == 0)
    return;
  r->n_queued = 0;
  enif_make_reverse_list(r->msg_env, r->queued, &events);
  ERL_NIF_TERM msg =
      enif_make_tuple3(r->msg_env, am_council_ex_run,
                       enif_make_copy(r->msg_env, r->tag), events);
  enif_send(NULL, &r->owner, r->msg_env, msg);
  enif_clear_env(r->msg_env);
}

static int seat_external(const rl_call *call) {
  return rl_run_spec(call->run)->seats[call->seat].external;
}

/* An external seat's call goes to the owner as {call, Step, Index, Seat, Body}
 * (the rendered OpenAI-style request); its answer comes back by run_reply.
 * The call itself stands in as the handle. */
static void *io_start_call(void *ctx, rl_call *call, const http_request *req) {
  run_res *r = ctx;

  if (!seat_external(call))
    return http_transfer_start(r->eng, req, http_done_cb, call);
  queue_owner(r,
              enif_make_tuple5(r->msg_env, am_call,
                               enif_make_uint64(r->msg_env, call->step),
                               enif_make_uint64(r->msg_env, call->index),
                               enif_make_uint64(r->msg_env, call->seat),
                               make_str(r->msg_env, req->body, req->body_len)));
  return call;
}

/* The owner learns of an external call's cancellation from the
 * member_completed event that follows. */
static void io_cancel_call(void *ctx, rl_call *call) {
  run_res *r = ctx;

  if (!seat_external(call))
    http_transfer_cancel(r->eng, call->handle);
}

static void timer_fired(http_engine *eng, void *ud) {
  rl_call *call = ud;
  run_res *r = rl_run_ctx(call->run);
  (void)eng;

  rl_call_retry(call);
  engine_step_done(r);
}

static void *io_start_timer(void *ctx, rl_call *call, long delay_ms) {
  run_res *r = ctx;
  return http_timer_start(r->eng, delay_ms, timer_fired, call);
}

static void io_cancel_timer(void *ctx, void *handle) {
  run_res *r = ctx;
  http_timer_cancel(r->eng, handle);
}

static void io_emit(void *ctx, rl_run *run, const rl_event *ev) {
  run_res *r = ctx;

  if (ev->type == RL_EV_RUN_COMPLETED || ev->type == RL_EV_RUN_FAILED ||
      ev->type == RL_EV_RUN_CANCELLED)
    r->finished = 1;
  queue_owner(r, make_event(r->msg_env, run, ev));
  /* Tokens arrive from curl's write callback, not at the end of a step. */
  if (ev->type == RL_EV_MEMBER_TOKEN)
    flush_owner(r);
}

/* Called on the engine thread after every step of a run: sends its events;
 * once the run has finished, the engine frees it and lets go of it.
 * Releasing may free r right here, so nothing may touch r afterwards. */
static void engine_step_done(run_res *r) {
  flush_owner(r);
  if (r->finished && r->engine_ref) {
    /* Nothing reads a finished run: free it here, on the thread that
     * allocated most of it, not in the destructor on a scheduler. */
    rl_run_free(r->run);
    r->run = NULL;
    r->engine_ref = 0;
    enif_release_resource(r);
  }
}

static void task_start(http_engine *eng, void *arg) {
  run_res *r = arg;

  if (!eng) { /* the library is unloading */
    r->engine_ref = 0;
    enif_release_resource(r);
    return;
  }
  rl_run_start(r->run);
  engine_step_done(r);
}

/* Holds its own reference, taken by whoever posted it. */
static void task_cancel(http_engine *eng, void *arg) {
  run_res *r = arg;

  if (eng && r->engine_ref) {
    rl_run_cancel(r->run);
    engine_step_done(r);
  }
  enif_release_resource(r);
}

static int post_cancel(run_res *r) {
  enif_keep_resource(r);
  if (http_engine_post(r->eng, task_cancel, r) != 0) {
    enif_release_resource(r);
    return -1;
  }
  return 0;
}

/* An external seat's answer on its way to the engine thread. */
typedef struct reply_task {
  run_res *r; /* a reference held by the task */
  size_t step, index;
  int ok;
  chat_response resp;
  chat_error err;
  uint64_t latency_us;
} reply_task;

static void reply_task_free(reply_task *t) {
  chat_response_free(&t->resp);
  chat_error_free(&t->err);
  free(t);
}

static void task_reply(http_engine *eng, void *arg) {
  reply_task *t = arg;
  run_res *r = t->r;

  if (eng && r->engine_ref) {
    rl_call_complete(r->run, t->step, t->index, t->ok ? &t->resp : NULL,
                     t->ok ? NULL : &t->err, t->latency_us);
    engine_step_done(r);
  }
  reply_task_free(t);
  enif_release_resource(r);
}

/* ---- The run resource ---------------------------------------------------*/

static void run_dtor(ErlNifEnv *env, void *obj) {
  run_res *r = obj;
  (void)env;

  rl_run_free(r->run);
  if (r->tag_env)
    enif_free_env(r->tag_env);
  if (r->msg_env)
    enif_free_env(r->msg_env);
  atomic_fetch_sub(&live_runs, 1);
}

/* The owner died (killed or not): stop its transfers on the engine. */
static void run_down(ErlNifEnv *env, void *obj, ErlNifPid *pid,
                     ErlNifMonitor *mon) {
  (void)env;
  (void)pid;
  (void)mon;
  post_cancel(obj);
}

/* ---- NIFs ----------------------------------------------------------------*/

/* run_start(Spec, Tag) -> {ok, Run} | {error, Reason}
 * Starts a run owned (and monitored) by the calling process; events come
 * back as {council_ex_run, Tag, [Event]}. */
static ERL_NIF_TERM run_start_impl(ErlNifEnv *env, int argc,
                                   const ERL_NIF_TERM argv[]) {
  char why[256] = "";
  rl_io io = {.start_call = io_start_call,
              .cancel_call = io_cancel_call,
              .start_timer = io_start_timer,
              .cancel_timer = io_cancel_timer,
              .emit = io_emit};
  (void)argc;

  if (n_engines == 0)
    return error_tuple(env, am_overloaded);
  rl_spec *spec = spec_nif_decode(env, argv[0], why, sizeof(why));
  if (!spec)
    return error_tuple(
        env, enif_make_tuple2(env, am_invalid_spec, make_cstr(env, why)));

  run_res *r = enif_alloc_resource(run_type, sizeof(run_res));
  memset(r, 0, sizeof(*r));
  atomic_fetch_add(&live_runs, 1);
  io.ctx = r;
  r->run = rl_run_new(spec, &io);
  r->tag_env = enif_alloc_env();
  r->msg_env = enif_alloc_env();
  if (!r->run || !r->tag_env || !r->msg_env) {
    enif_release_resource(r);
    return enif_raise_exception(env, enif_make_atom(env, "out_of_memory"));
  }
  r->tag = enif_make_copy(r->tag_env, argv[1]);
  enif_self(env, &r->owner);
  r->eng = engines[atomic_fetch_add(&next_engine, 1) % (unsigned)n_engines];

  ERL_NIF_TERM term = enif_make_resource(env, r);
  r->engine_ref = 1;
  enif_keep_resource(r); /* the engine's reference, dropped when it finishes */
  if (http_engine_post(r->eng, task_start, r) != 0) {
    r->engine_ref = 0;
    enif_release_resource(r);
    enif_release_resource(r);
    return error_tuple(env, am_overloaded);
  }
  /* Monitored only once the engine holds it, so run_down always finds a
   * run it can cancel. */
  enif_monitor_process(env, r, &r->owner, NULL);
  enif_release_resource(r);
  return enif_make_tuple2(env, am_ok, term);
}

static ERL_NIF_TERM run_start_nif(ErlNifEnv *env, int argc,
                                  const ERL_NIF_TERM argv[]) {
  ERL_NIF_TERM input;

  if (argc != 2 || !enif_is_map(env, argv[0]))
    return enif_make_badarg(env);
  ErlNifBinary bin;
  if (enif_get_map_value(env, argv[0], am_input, &input) &&
      enif_inspect_binary(env, input, &bin) && bin.size > DIRTY_INPUT_BYTES)
    return enif_schedule_nif(env, "run_start", ERL_NIF_DIRTY_JOB_CPU_BOUND,
                             run_start_impl, argc, argv);
  return run_start_impl(env, argc, argv);
}

/* run_cancel(Run) -> ok. The run ends with run_cancelled (if it had not
 * ended already); its transfers stop on the engine thread. */
static ERL_NIF_TERM run_cancel_nif(ErlNifEnv *env, int argc,
                                   const ERL_NIF_TERM argv[]) {
  run_res *r;

  if (argc != 1 || !enif_get_resource(env, argv[0], run_type, (void **)&r))
    return enif_make_badarg(env);
  post_cancel(r);
  return am_ok;
}

static chat_error_kind kind_of(ERL_NIF_TERM kind) {
  if (enif_is_identical(kind, am_transient))
    return CHAT_ERR_TRANSIENT;
  if (enif_is_identical(kind, am_timeout))
    return CHAT_ERR_TIMEOUT;
  if (enif_is_identical(kind, am_cancelled))
    return CHAT_ERR_CANCELLED;
  return CHAT_ERR_PERMANENT;
}

/* Decodes {ok, #{content, model, finish_reason, input_tokens,
 * output_tokens}} or {error, Kind, Message} into t. 0, or -1 on badarg. */
static int decode_reply(ErlNifEnv *env, ERL_NIF_TERM reply, reply_task *t) {
  const ERL_NIF_TERM *el;
  int arity;
  char *message = NULL;

  if (!enif_get_tuple(env, reply, &arity, &el))
    return -1;
  if (arity == 2 && enif_is_identical(el[0], am_ok) &&
      enif_is_map(env, el[1])) {
    ERL_NIF_TERM content;
    ErlNifBinary bin;
    t->ok = 1;
    /* The answer may hold NUL bytes: it is kept with its length. */
    if (!enif_get_map_value(env, el[1], am_content, &content) ||
        !enif_inspect_binary(env, content, &bin) ||
        !(t->resp.content = str_ndup((const char *)bin.data, bin.size)))
      return -1;
    t->resp.content_len = bin.size;
    return nif_get_str(env, el[1], am_model, 1, &t->resp.model, NULL) ||
                   nif_get_str(env, el[1], am_finish_reason, 1,
                               &t->resp.finish_reason, NULL) ||
                   nif_get_long(env, el[1], am_input_tokens, -1,
                                &t->resp.input_tokens) ||
                   nif_get_long(env, el[1], am_output_tokens, -1,
                                &t->resp.output_tokens)
               ? -1
               : 0;
  }
  if (arity != 3 || !enif_is_identical(el[0], am_error) ||
      !enif_is_atom(env, el[1]))
    return -1;
  if (nif_copy_str(env, el[2], 1, &message, NULL))
    return -1;
  chat_error_set(&t->err, kind_of(el[1]), "external_error", message);
  free(message);
  return 0;
}

/* run_reply(Run, Round, Seat, Reply) -> ok
 * Answers an external seat's {call, Round, Seat, Body}. A reply the run no
 * longer waits for is dropped on the engine thread. */
static ERL_NIF_TERM run_reply_impl(ErlNifEnv *env, int argc,
                                   const ERL_NIF_TERM argv[]) {
  run_res *r;
  ErlNifUInt64 step, index, latency;
  reply_task *t;
  (void)argc;

  if (!enif_get_resource(env, argv[0], run_type, (void **)&r) ||
      !enif_get_uint64(env, argv[1], &step) ||
      !enif_get_uint64(env, argv[2], &index) ||
      !enif_get_uint64(env, argv[4], &latency))
    return enif_make_badarg(env);
  t = calloc(1, sizeof(*t));
  if (!t)
    return enif_raise_exception(env, enif_make_atom(env, "out_of_memory"));
  chat_response_init(&t->resp);
  chat_error_init(&t->err);
  if (decode_reply(env, argv[3], t) != 0) {
    reply_task_free(t);
    return enif_make_badarg(env);
  }
  t->r = r;
  t->step = step;
  t->index = index;
  t->latency_us = latency;
  enif_keep_resource(r);
  if (http_engine_post(r->eng, task_reply, t) != 0) {
    reply_task_free(t);
    enif_release_resource(r);
    return error_tuple(env, am_overloaded);
  }
  return am_ok;
}

static ERL_NIF_TERM run_reply_nif(ErlNifEnv *env, int argc,
                                  const ERL_NIF_TERM argv[]) {
  const ERL_NIF_TERM *el;
  ERL_NIF_TERM content;
  ErlNifBinary bin;
  int arity;

  if (argc != 5)
    return enif_make_badarg(env);
  if (enif_get_tuple(env, argv[3], &arity, &el) && arity == 2 &&
      enif_is_map(env, el[1]) &&
      enif_get_map_value(env, el[1], am_content, &content) &&
      enif_inspect_binary(env, content, &bin) && bin.size > DIRTY_INPUT_BYTES)
    return enif_schedule_nif(env, "run_reply", ERL_NIF_DIRTY_JOB_CPU_BOUND,
                             run_reply_impl, argc, argv);
  return run_reply_impl(env, argc, argv);
}

/* Tool results on their way to the engine thread. */
typedef struct tools_task {
  run_res *r; /* a reference held by the task */
  size_t step, index, n;
  char **results;
  size_t *lens;
} tools_task;

static void tools_task_free(tools_task *t) {
  for (size_t i = 0; t->results && i < t->n; i++)
    free(t->results[i]);
  free(t->results);
  free(t->lens);
  free(t);
}

static void task_tool_results(http_engine *eng, void *arg) {
  tools_task *t = arg;
  run_res *r = t->r;

  if (eng && r->engine_ref) {
    rl_call_tool_results(r->run, t->step, t->index,
                         (const char *const *)t->results, t->lens, t->n);
    engine_step_done(r);
  }
  tools_task_free(t);
  enif_release_resource(r);
}

/* run_tool_results(Run, Round, Seat, [Result]) -> ok
 * Answers a {tool_calls, Round, Seat, Calls} event: one binary per call,
 * in order. Results the run no longer waits for are dropped. */
static ERL_NIF_TERM run_tool_results_impl(ErlNifEnv *env, int argc,
                                          const ERL_NIF_TERM argv[]) {
  run_res *r;
  ErlNifUInt64 step, index;
  ERL_NIF_TERM list = argv[3], head;
  unsigned n;
  tools_task *t;
  (void)argc;

  if (!enif_get_resource(env, argv[0], run_type, (void **)&r) ||
      !enif_get_uint64(env, argv[1], &step) ||
      !enif_get_uint64(env, argv[2], &index) ||
      !enif_get_list_length(env, list, &n))
    return enif_make_badarg(env);
  t = calloc(1, sizeof(*t));
  if (!t || !(t->results = calloc(n ? n : 1, sizeof(char *))) ||
      !(t->lens = calloc(n ? n : 1, sizeof(size_t)))) {
    if (t)
      tools_task_free(t);
    return enif_raise_exception(env, enif_make_atom(env, "out_of_memory"));
  }
  for (; enif_get_list_cell(env, list, &head, &list); t->n++) {
    ErlNifBinary bin;
    if (!enif_inspect_binary(env, head, &bin) ||
        !(t->results[t->n] = str_ndup((const char *)bin.data, bin.size))) {
      tools_task_free(t);
      return enif_make_badarg(env);
    }
    t->lens[t->n] = bin.size;
  }
  t->r = r;
  t->step = step;
  t->index = index;
  enif_keep_resource(r);
  if (http_engine_post(r->eng, task_tool_results, t) != 0) {
    tools_task_free(t);
    enif_release_resource(r);
    return error_tuple(env, am_overloaded);
  }
  return am_ok;
}

static ERL_NIF_TERM run_tool_results_nif(ErlNifEnv *env, int argc,
                                         const ERL_NIF_TERM argv[]) {
  ErlNifBinary bin;
  ERL_NIF_TERM list, head;
  size_t total = 0;

  if (argc != 4)
    return enif_make_badarg(env);
  for (list = argv[3]; enif_get_list_cell(env, list, &head, &list);)
    if (enif_inspect_binary(env, head, &bin))
      total += bin.size;
  if (total > DIRTY_INPUT_BYTES)
    return enif_schedule_nif(env, "run_tool_results",
                             ERL_NIF_DIRTY_JOB_CPU_BOUND, run_tool_results_impl,
                             argc, argv);
  return run_tool_results_impl(env, argc, argv);
}

/* schema_check(Json) -> ok | {error, Message}: whether an output schema
 * compiles, so a bad one is refused before a run's process starts. */
/* An owner's answer to seats_needed, judge_needed or iteration_done, on
 * its way to the engine thread. */
typedef struct answer_task {
  run_res *r; /* a reference held by the task */
  size_t step;
  enum { ANSWER_SEATS, ANSWER_JUDGED, ANSWER_CONTINUE } kind;
  size_t index;
  int value;           /* judged: winner; continue: stop */
  unsigned char *sits; /* seats: per member */
  char **texts;        /* seats of a custom round: per member, or NULL */
  size_t *lens;
  size_t n;
} answer_task;

static void answer_task_free(answer_task *t) {
  for (size_t i = 0; t->texts && i < t->n; i++)
    free(t->texts[i]);
  free(t->texts);
  free(t->lens);
  free(t->sits);
  free(t);
}

static void task_answer(http_engine *eng, void *arg) {
  answer_task *t = arg;
  run_res *r = t->r;

  if (eng && r->engine_ref) {
    if (t->kind == ANSWER_SEATS)
      rl_run_seats(r->run, t->step, t->sits,
                   t->texts ? (const char *const *)t->texts : NULL, t->lens,
                   t->n);
    else if (t->kind == ANSWER_JUDGED)
      rl_run_judged(r->run, t->step, t->index, t->value);
    else
      rl_run_continue(r->run, t->step, t->value);
    engine_step_done(r);
  }
  answer_task_free(t);
  enif_release_resource(r);
}

/* [true | false] (who sits) or [binary | nil] (a custom round's texts). */
static int decode_seats(ErlNifEnv *env, ERL_NIF_TERM list, answer_task *t) {
  ERL_NIF_TERM head;
  unsigned n;

  if (!enif_get_list_length(env, list, &n) || n > 1000000)
    return -1;
  t->sits = calloc(n ? n : 1, 1);
  t->texts = calloc(n ? n : 1, sizeof(char *));
  t->lens = calloc(n ? n : 1, sizeof(size_t));
  if (!t->sits || !t->texts || !t->lens)
    return -1;
  int texts = 0;
  for (; enif_get_list_cell(env, list, &head, &list); t->n++) {
    ErlNifBinary bin;
    if (enif_is_identical(head, am_true))
      t->sits[t->n] = 1;
    else if (enif_is_identical(head, am_false) ||
             enif_is_identical(head, am_nil))
      t->sits[t->n] = 0;
    else if (enif_inspect_binary(env, head, &bin)) {
      texts = 1;
      t->sits[t->n] = 1;
      t->lens[t->n] = bin.size;
      if (!(t->texts[t->n] = str_ndup((const char *)bin.data, bin.size)))
        return -1;
    } else
      return -1;
  }
  if (!texts) {
    free(t->texts);
    t->texts = NULL;
  }
  return 0;
}

/* run_answer(Run, Step, Answer) -> ok
 * Answer: {seats, [true | false]} (a router's pick) or {seats, [binary |
 * nil]} (a custom round's messages); {judged, Index, 0 | 1 | -1};
 * {continue, Stop}. Answers the run no longer waits for are dropped. */
static ERL_NIF_TERM run_answer_impl(ErlNifEnv *env, int argc,
                                    const ERL_NIF_TERM argv[]) {
  run_res *r;
  ErlNifUInt64 step, index;
  const ERL_NIF_TERM *el;
  int arity, value;
  answer_task *t;
  (void)argc;

  if (!enif_get_resource(env, argv[0], run_type, (void **)&r) ||
      !enif_get_uint64(env, argv[1], &step) ||
      !enif_get_tuple(env, argv[2], &arity, &el) || arity < 2)
    return enif_make_badarg(env);
  t = calloc(1, sizeof(*t));
  if (!t)
    return enif_raise_exception(env, enif_make_atom(env, "out_of_memory"));
  t->step = step;
  if (arity == 2 && enif_is_identical(el[0], am_seats)) {
    t->kind = ANSWER_SEATS;
    if (decode_seats(env, el[1], t) != 0)
      goto bad;
  } else if (arity == 3 && enif_is_identical(el[0], am_judged) &&
             enif_get_uint64(env, el[1], &index) &&
             enif_get_int(env, el[2], &value) && value >= -1 && value <= 1) {
    t->kind = ANSWER_JUDGED;
    t->index = index;
    t->value = value;
  } else if (arity == 2 && enif_is_identical(el[0], am_continue) &&
             (enif_is_identical(el[1], am_true) ||
              enif_is_identical(el[1], am_false))) {
    t->kind = ANSWER_CONTINUE;
    t->value = enif_is_identical(el[1], am_true);
  } else
    goto bad;
  t->r = r;
  enif_keep_resource(r);
  if (http_engine_post(r->eng, task_answer, t) != 0) {
    answer_task_free(t);
    enif_release_resource(r);
    return error_tuple(env, am_overloaded);
  }
  return am_ok;

bad:
  answer_task_free(t);
  return enif_make_badarg(env);
}

static ERL_NIF_TERM run_answer_nif(ErlNifEnv *env, int argc,
                                   const ERL_NIF_TERM argv[]) {
  const ERL_NIF_TERM *el;
  int arity;
  ErlNifBinary bin;
  ERL_NIF_TERM list, head;
  size_t bytes = 0;

  if (argc != 3)
    return enif_make_badarg(env);
  /* A custom round's texts may be large: copy them on a dirty scheduler. */
  if (enif_get_tuple(env, argv[2], &arity, &el) && arity == 2) {
    list = el[1];
    while (enif_get_list_cell(env, list, &head, &list) &&
           bytes <= DIRTY_INPUT_BYTES) {
      if (enif_inspect_binary(env, head, &bin))
        bytes += bin.size;
    }
    if (bytes > DIRTY_INPUT_BYTES)
      return enif_schedule_nif(env, "run_answer", ERL_NIF_DIRTY_JOB_CPU_BOUND,
                               run_answer_impl, argc, argv);
  }
  return run_answer_impl(env, argc, argv);
}

static ERL_NIF_TERM schema_check_impl(ErlNifEnv *env, int argc,
                                      const ERL_NIF_TERM argv[]) {
  ErlNifBinary bin;
  char why[256] = "";
  json_schema *schema;
  (void)argc;

  if (!enif_inspect_binary(env, argv[0], &bin))
    return enif_make_badarg(env);
  schema =
      json_schema_compile((const char *)bin.data, bin.size, why, sizeof(why));
  if (!schema)
    return error_tuple(env, make_cstr(env, why));
  json_schema_free(schema);
  return am_ok;
}

static ERL_NIF_TERM schema_check_nif(ErlNifEnv *env, int argc,
                                     const ERL_NIF_TERM argv[]) {
  ErlNifBinary bin;

  if (argc != 1 || !enif_inspect_binary(env, argv[0], &bin))
    return enif_make_badarg(env);
  if (bin.size > DIRTY_INPUT_BYTES / 2)
    return enif_schedule_nif(env, "schema_check", ERL_NIF_DIRTY_JOB_CPU_BOUND,
                             schema_check_impl, argc, argv);
  return schema_check_impl(env, argc, argv);
}

/* stats() -> #{in_flight => N, runs => N} */
static ERL_NIF_TERM stats_nif(ErlNifEnv *env, int argc,
                              const ERL_NIF_TERM argv[]) {
  long in_flight = 0;
  (void)argc;
  (void)argv;

  for (int i = 0; i < n_engines; i++)
    in_flight += http_engine_in_flight(engines[i]);
  ERL_NIF_TERM keys[] = {am_in_flight, am_runs};
  ERL_NIF_TERM vals[] = {enif_make_long(env, in_flight),
                         enif_make_long(env, atomic_load(&live_runs))};
  ERL_NIF_TERM map;
  enif_make_map_from_arrays(env, keys, vals, 2, &map);
  return map;
}

/* ---- Load / upgrade / unload --------------------------------------------*/

static int open_types(ErlNifEnv *env) {
  ErlNifResourceTypeInit init = {run_dtor, NULL, run_down, 3, NULL};
  run_type = enif_init_resource_type(
      env, "council_run", &init, ERL_NIF_RT_CREATE | ERL_NIF_RT_TAKEOVER, NULL);
  return run_type ? 0 : -1;
}

static int start_engines(ErlNifEnv *env, ERL_NIF_TERM info) {
  ERL_NIF_TERM v;
  int n = 2;
  long max_host = 0;

  if (enif_is_map(env, info) && enif_get_map_value(env, info, am_engines, &v) &&
      (!enif_get_int(env, v, &n) || n < 1 || n > MAX_ENGINES))
    return -1;
  if (enif_is_map(env, info) &&
      enif_get_map_value(env, info, am_max_host_connections, &v) &&
      (!enif_get_long(env, v, &max_host) || max_host < 0))
    return -1;
  if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
    return -1;
  http_engine_config cfg = {max_host, 0, 0};
  for (n_engines = 0; n_engines < n; n_engines++) {
    engines[n_engines] = http_engine_start(&cfg);
    if (!engines[n_engines])
      return -1;
  }
  return 0;
}

static void stop_engines(void) {
  while (n_engines > 0)
    http_engine_stop(engines[--n_engines]);
  curl_global_cleanup();
}

static int load(ErlNifEnv *env, void **priv, ERL_NIF_TERM info) {
  (void)priv;
  make_atoms(env);
  spec_nif_load(env);
  if (open_types(env) != 0 || json_nif_load(env) != 0 ||
      aggregate_nif_load(env) != 0)
    return -1;
  if (library_refc++ == 0 && start_engines(env, info) != 0) {
    library_refc--;
    stop_engines();
    return -1;
  }
  return 0;
}

static int upgrade(ErlNifEnv *env, void **priv, void **old_priv,
                   ERL_NIF_TERM info) {
  (void)old_priv;
  return load(env, priv, info);
}

static void unload(ErlNifEnv *env, void *priv) {
  (void)env;
  (void)priv;
  if (--library_refc == 0)
    stop_engines();
}

static ErlNifFunc nif_funcs[] = {
    {"json_decode", 2, json_nif_decode, 0},
    {"json_encode", 2, json_nif_encode, 0},
    {"run_start", 2, run_start_nif, 0},
    {"run_cancel", 1, run_cancel_nif, 0},
    {"run_reply", 5, run_reply_nif, 0},
    {"schema_check", 1, schema_check_nif, 0},
    {"run_tool_results", 4, run_tool_results_nif, 0},
    {"run_answer", 3, run_answer_nif, 0},
    {"stats", 0, stats_nif, 0},
    {"aggregate", 4, aggregate_nif_aggregate, 0},
    {"ranking_parse", 3, aggregate_nif_ranking_parse, 0},
    {"ranking_label", 1, aggregate_nif_ranking_label, 0},
};

ERL_NIF_INIT(Elixir.CouncilEx.Native, nif_funcs, load, NULL, upgrade, unload)
