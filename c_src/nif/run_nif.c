/* run_nif.c - a run's C state as a resource owned by its RunServer, the
 * rl_io adapter that plugs the round loop into the HTTP engine and the
 * owner, and the run_* NIFs.
 *
 * The resource monitors its owner: when the owner dies the run is
 * cancelled on its engine thread and its memory freed. Everything a run
 * does happens on its engine thread; NIFs only copy their arguments into
 * an owner task and post it there. */
#include "run_nif.h"

#include <limits.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "atoms.h"
#include "events_nif.h"
#include "http_pool.h"
#include "round_loop.h"
#include "spec_nif.h"
#include "terms.h"

/* Payloads past this size are copied and checked on a dirty CPU
 * scheduler (see nif_funcs[] in council_nif.c). */
#define RUN_DIRTY_BYTES (128 * 1024)

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
static atomic_long live_runs;

/* ---- The round loop's I/O: the engine and the owner ---------------------*/

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

static void http_done_cb(http_engine *eng, void *ud, const http_result *res) {
  rl_call *call = ud;
  run_res *r = rl_run_ctx(call->run);
  (void)eng;

  rl_call_done(call, res);
  engine_step_done(r);
}

static int seat_external(const rl_call *call) {
  return rl_run_spec(call->run)->seats[call->seat].external;
}

/* An external seat's call goes to the owner as {call, ...}; its answer
 * comes back by run_reply. The call itself stands in as the handle. */
static void *io_start_call(void *ctx, rl_call *call, const http_request *req) {
  run_res *r = ctx;

  if (!seat_external(call))
    return http_transfer_start(r->eng, req, http_done_cb, call);
  queue_owner(r, events_make_call(r->msg_env, call, req));
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

  rl_call_timer(call);
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

static uint64_t io_now_ms(void *ctx) {
  (void)ctx;
  return http_clock_ms();
}

static void io_emit(void *ctx, rl_run *run, const rl_event *ev) {
  run_res *r = ctx;

  if (ev->type == RL_EV_RUN_COMPLETED || ev->type == RL_EV_RUN_FAILED ||
      ev->type == RL_EV_RUN_CANCELLED)
    r->finished = 1;
  queue_owner(r, events_make(r->msg_env, run, ev));
  /* Tokens arrive from curl's write callback, not at the end of a step. */
  if (ev->type == RL_EV_MEMBER_TOKEN)
    flush_owner(r);
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

/* ---- Owner tasks: the owner's answers on their way to the engine --------*/

typedef enum task_kind {
  TASK_REPLY,   /* run_reply: an external seat's answer */
  TASK_TOOLS,   /* run_tool_results */
  TASK_SEATS,   /* run_answer {seats, ...} */
  TASK_JUDGED,  /* run_answer {judged, ...} */
  TASK_CONTINUE /* run_answer {continue, ...} */
} task_kind;

typedef struct owner_task {
  task_kind kind;
  run_res *r; /* a reference held by the task */
  size_t step, index;
  int value;          /* reply: ok; seats: texts given; judged: winner;
                         continue: stop */
  nif_strs strs;      /* tools: results; seats: who sits (on), texts */
  chat_response resp; /* reply, when ok */
  chat_error err;     /* reply, when not */
  uint64_t latency_us;
} owner_task;

static void task_free(owner_task *t) {
  nif_strs_free(&t->strs);
  chat_response_free(&t->resp);
  chat_error_free(&t->err);
  free(t);
}

/* Answers the run on its engine thread; a run that has finished (or an
 * unloading library, eng NULL) drops the answer. */
static void task_owner(http_engine *eng, void *arg) {
  owner_task *t = arg;
  run_res *r = t->r;

  if (eng && r->engine_ref) {
    rl_run *run = r->run; /* engine thread only */
    switch (t->kind) {
    case TASK_REPLY:
      rl_call_complete(run, t->step, t->index, t->value ? &t->resp : NULL,
                       t->value ? NULL : &t->err, t->latency_us);
      break;
    case TASK_TOOLS:
      rl_call_tool_results(run, t->step, t->index,
                           (const char *const *)t->strs.s, t->strs.lens,
                           t->strs.n);
      break;
    case TASK_SEATS:
      rl_run_seats(run, t->step, t->strs.on,
                   t->value ? (const char *const *)t->strs.s : NULL,
                   t->strs.lens, t->strs.n);
      break;
    case TASK_JUDGED:
      rl_run_judged(run, t->step, t->index, t->value);
      break;
    case TASK_CONTINUE:
      rl_run_continue(run, t->step, t->value);
      break;
    }
    engine_step_done(r);
  }
  task_free(t);
  enif_release_resource(r);
}

/* A task for argv[0] (the run) and argv[1] (the step), or NULL with
 * *bad set to badarg (or the out_of_memory exception). */
static owner_task *task_new(ErlNifEnv *env, const ERL_NIF_TERM argv[],
                            task_kind kind, ERL_NIF_TERM *bad) {
  run_res *r;
  ErlNifUInt64 step;
  owner_task *t;

  if (!enif_get_resource(env, argv[0], run_type, (void **)&r) ||
      !enif_get_uint64(env, argv[1], &step)) {
    *bad = enif_make_badarg(env);
    return NULL;
  }
  if (!(t = calloc(1, sizeof(*t)))) {
    *bad = nif_raise_oom(env);
    return NULL;
  }
  chat_response_init(&t->resp);
  chat_error_init(&t->err);
  t->kind = kind;
  t->r = r;
  t->step = step;
  return t;
}

/* Posts t to its run's engine: ok, or {error, overloaded}. */
static ERL_NIF_TERM task_post(ErlNifEnv *env, owner_task *t) {
  run_res *r = t->r;

  enif_keep_resource(r);
  if (http_engine_post(r->eng, task_owner, t) != 0) {
    task_free(t);
    enif_release_resource(r);
    return nif_error(env, am_overloaded);
  }
  return am_ok;
}

/* The task is dropped and the call raises badarg. */
static ERL_NIF_TERM task_badarg(ErlNifEnv *env, owner_task *t) {
  task_free(t);
  return enif_make_badarg(env);
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

/* run_start(Spec, Tag) -> {ok, Run} | {error, {invalid_spec, Why}} |
 * {error, overloaded}. Starts a run owned (and monitored) by the calling
 * process; events come back as {council_ex_run, Tag, [Event]}
 * (events_nif.c). */
static ERL_NIF_TERM run_start_impl(ErlNifEnv *env, int argc,
                                   const ERL_NIF_TERM argv[]) {
  char why[256] = "";
  rl_io io = {.start_call = io_start_call,
              .cancel_call = io_cancel_call,
              .start_timer = io_start_timer,
              .cancel_timer = io_cancel_timer,
              .emit = io_emit,
              .now_ms = io_now_ms};
  (void)argc;

  http_engine *eng = http_pool_next();
  if (!eng)
    return nif_error(env, am_overloaded);
  rl_spec *spec = spec_nif_decode(env, argv[0], why, sizeof(why));
  if (!spec)
    return nif_error(
        env, enif_make_tuple2(env, am_invalid_spec, nif_make_cstr(env, why)));

  run_res *r = enif_alloc_resource(run_type, sizeof(run_res));
  memset(r, 0, sizeof(*r));
  atomic_fetch_add(&live_runs, 1);
  io.ctx = r;
  r->run = rl_run_new(spec, &io);
  r->tag_env = enif_alloc_env();
  r->msg_env = enif_alloc_env();
  if (!r->run || !r->tag_env || !r->msg_env) {
    enif_release_resource(r);
    return nif_raise_oom(env);
  }
  r->tag = enif_make_copy(r->tag_env, argv[1]);
  enif_self(env, &r->owner);
  r->eng = eng;

  ERL_NIF_TERM term = enif_make_resource(env, r);
  r->engine_ref = 1;
  enif_keep_resource(r); /* the engine's reference, dropped when it finishes */
  if (http_engine_post(r->eng, task_start, r) != 0) {
    r->engine_ref = 0;
    enif_release_resource(r);
    enif_release_resource(r);
    return nif_error(env, am_overloaded);
  }
  /* Monitored only once the engine holds it, so run_down always finds a
   * run it can cancel. */
  enif_monitor_process(env, r, &r->owner, NULL);
  enif_release_resource(r);
  return enif_make_tuple2(env, am_ok, term);
}

ERL_NIF_TERM run_start_nif(ErlNifEnv *env, int argc,
                           const ERL_NIF_TERM argv[]) {
  if (argc != 2 || !enif_is_map(env, argv[0]))
    return enif_make_badarg(env);
  /* The whole spec: prompts, schemas and seats weigh as much as the input. */
  return schedule_if_large(env, nif_term_cost(env, argv[0], RUN_DIRTY_BYTES),
                           RUN_DIRTY_BYTES, "run_start", run_start_impl, argc,
                           argv);
}

/* run_cancel(Run) -> ok. The run ends with run_cancelled (if it had not
 * ended already); its transfers stop on the engine thread. */
ERL_NIF_TERM run_cancel_nif(ErlNifEnv *env, int argc,
                            const ERL_NIF_TERM argv[]) {
  run_res *r;

  if (argc != 1 || !enif_get_resource(env, argv[0], run_type, (void **)&r))
    return enif_make_badarg(env);
  post_cancel(r);
  return am_ok;
}

/* The answer may hold NUL bytes: it is kept with its length. */
static int get_content(ErlNifEnv *env, ERL_NIF_TERM v, void *obj, nif_dctx *c) {
  chat_response *resp = obj;
  ErlNifBinary bin;
  (void)c;

  if (!enif_inspect_binary(env, v, &bin) ||
      !(resp->content = str_ndup((const char *)bin.data, bin.size)))
    return -1;
  resp->content_len = bin.size;
  return 0;
}

/* Other keys are ignored; nil is absent (NULL, or -1 tokens). */
static const nif_field reply_fields[] = {
    NIF_F_FN(chat_response, content, NIF_REQUIRED, get_content),
    NIF_F(NIF_BIN, chat_response, model, 0),
    NIF_F(NIF_BIN, chat_response, finish_reason, 0),
    NIF_F_INT(NIF_LONG, chat_response, input_tokens, LONG_MIN, LONG_MAX),
    NIF_F_INT(NIF_LONG, chat_response, output_tokens, LONG_MIN, LONG_MAX),
};

/* {ok, #{content, model, finish_reason, input_tokens, output_tokens}} or
 * {error, Kind, Message} into t. 0, or -1 on a malformed reply. */
static int decode_reply(ErlNifEnv *env, ERL_NIF_TERM reply, owner_task *t) {
  nif_dctx c = {.objs = {&t->resp}, .mode = NIF_MAP_OPEN};
  const ERL_NIF_TERM *el;
  char *message;
  int arity, kind;

  if (!enif_get_tuple(env, reply, &arity, &el))
    return -1;
  if (arity == 2 && enif_is_identical(el[0], am_ok)) {
    t->value = 1;
    return nif_decode_map(env, el[1], reply_fields, NIF_COUNT(reply_fields), 0,
                          &c);
  }
  if (arity != 3 || !enif_is_identical(el[0], am_error) ||
      !enif_is_atom(env, el[1]) || nif_copy_str(env, el[2], 1, &message, NULL))
    return -1;
  /* Transient, timeout and cancelled keep their meaning; anything else
   * the dispatcher says is permanent. */
  kind = atom_index(el[1], ea_error_kind, CHAT_ERROR_KIND_COUNT);
  if (kind != CHAT_ERR_TRANSIENT && kind != CHAT_ERR_TIMEOUT &&
      kind != CHAT_ERR_CANCELLED)
    kind = CHAT_ERR_PERMANENT;
  chat_error_set(&t->err, (chat_error_kind)kind, CX_REASON_WORD(external_error),
                 message);
  free(message);
  return 0;
}

/* run_reply(Run, Step, Index, Reply, LatencyUs) -> ok | {error, overloaded}
 * Answers an external seat's {call, Step, Index, Seat, Body}; Reply is
 * {ok, #{content, model, finish_reason, input_tokens, output_tokens}} or
 * {error, Kind, Message}. A reply the run no longer waits for is dropped
 * on the engine thread. */
static ERL_NIF_TERM run_reply_impl(ErlNifEnv *env, int argc,
                                   const ERL_NIF_TERM argv[]) {
  ERL_NIF_TERM bad;
  ErlNifUInt64 index, latency;
  owner_task *t = task_new(env, argv, TASK_REPLY, &bad);
  (void)argc;

  if (!t)
    return bad;
  if (!enif_get_uint64(env, argv[2], &index) ||
      !enif_get_uint64(env, argv[4], &latency) ||
      decode_reply(env, argv[3], t) != 0)
    return task_badarg(env, t);
  t->index = index;
  t->latency_us = latency;
  return task_post(env, t);
}

ERL_NIF_TERM run_reply_nif(ErlNifEnv *env, int argc,
                           const ERL_NIF_TERM argv[]) {
  const ERL_NIF_TERM *el;
  ERL_NIF_TERM content = am_nil;
  int arity;

  if (argc != 5)
    return enif_make_badarg(env);
  if (enif_get_tuple(env, argv[3], &arity, &el) && arity == 2 &&
      enif_is_map(env, el[1]))
    enif_get_map_value(env, el[1], am_content, &content);
  return schedule_if_large(env, nif_bytes(env, content, RUN_DIRTY_BYTES),
                           RUN_DIRTY_BYTES, "run_reply", run_reply_impl, argc,
                           argv);
}

/* run_tool_results(Run, Step, Index, [Result]) -> ok | {error, overloaded}
 * Answers a {tool_calls, Step, Index, Seat, Calls} event: one binary per
 * call, in order. Results the run no longer waits for are dropped. */
static ERL_NIF_TERM run_tool_results_impl(ErlNifEnv *env, int argc,
                                          const ERL_NIF_TERM argv[]) {
  ERL_NIF_TERM bad;
  ErlNifUInt64 index;
  owner_task *t = task_new(env, argv, TASK_TOOLS, &bad);
  (void)argc;

  if (!t)
    return bad;
  if (!enif_get_uint64(env, argv[2], &index) ||
      nif_get_strs(env, argv[3], 1000000, 0, &t->strs) != 0)
    return task_badarg(env, t);
  t->index = index;
  return task_post(env, t);
}

ERL_NIF_TERM run_tool_results_nif(ErlNifEnv *env, int argc,
                                  const ERL_NIF_TERM argv[]) {
  if (argc != 4)
    return enif_make_badarg(env);
  return schedule_if_large(env, nif_bytes(env, argv[3], RUN_DIRTY_BYTES),
                           RUN_DIRTY_BYTES, "run_tool_results",
                           run_tool_results_impl, argc, argv);
}

/* run_answer(Run, Step, Answer) -> ok | {error, overloaded}
 * Answer: {seats, [true | false]} (a router's pick) or {seats, [binary |
 * nil]} (a custom round's messages); {judged, Index, 0 | 1 | -1};
 * {continue, Stop}. Answers the run no longer waits for are dropped. */
static ERL_NIF_TERM run_answer_impl(ErlNifEnv *env, int argc,
                                    const ERL_NIF_TERM argv[]) {
  const ERL_NIF_TERM *el;
  ERL_NIF_TERM bad;
  ErlNifUInt64 index;
  int arity, value;
  owner_task *t;
  (void)argc;

  if (!enif_get_tuple(env, argv[2], &arity, &el) || arity < 2)
    return enif_make_badarg(env);
  if (!(t = task_new(env, argv, TASK_SEATS, &bad)))
    return bad;
  if (arity == 2 && enif_is_identical(el[0], am_seats)) {
    if (nif_get_strs(env, el[1], 1000000, NIF_STRS_ATOMS, &t->strs) != 0)
      return task_badarg(env, t);
    for (size_t i = 0; i < t->strs.n; i++)
      t->value |= t->strs.s[i] != NULL;
  } else if (arity == 3 && enif_is_identical(el[0], am_judged) &&
             enif_get_uint64(env, el[1], &index) &&
             enif_get_int(env, el[2], &value) && value >= -1 && value <= 1) {
    t->kind = TASK_JUDGED;
    t->index = index;
    t->value = value;
  } else if (arity == 2 && enif_is_identical(el[0], am_continue) &&
             (enif_is_identical(el[1], am_true) ||
              enif_is_identical(el[1], am_false))) {
    t->kind = TASK_CONTINUE;
    t->value = enif_is_identical(el[1], am_true);
  } else
    return task_badarg(env, t);
  return task_post(env, t);
}

ERL_NIF_TERM run_answer_nif(ErlNifEnv *env, int argc,
                            const ERL_NIF_TERM argv[]) {
  const ERL_NIF_TERM *el;
  int arity;
  size_t bytes = 0;

  if (argc != 3)
    return enif_make_badarg(env);
  /* A custom round's texts may be large. */
  if (enif_get_tuple(env, argv[2], &arity, &el) && arity == 2)
    bytes = nif_bytes(env, el[1], RUN_DIRTY_BYTES);
  return schedule_if_large(env, bytes, RUN_DIRTY_BYTES, "run_answer",
                           run_answer_impl, argc, argv);
}

/* stats() -> #{in_flight => N, runs => N, normal_max_us => N,
 *             normal_over_1ms => N} (the last two since load: council_nif.c) */
ERL_NIF_TERM stats_nif(ErlNifEnv *env, int argc, const ERL_NIF_TERM argv[]) {
  uint64_t max_us, over_1ms;
  nif_normal_times(&max_us, &over_1ms);
  ERL_NIF_TERM keys[] = {am_in_flight,       am_runs,         am_normal_max_us,
                         am_normal_over_1ms, am_normal_calls, am_dirty_calls};
  ERL_NIF_TERM vals[] = {enif_make_long(env, http_pool_in_flight()),
                         enif_make_long(env, atomic_load(&live_runs)),
                         enif_make_uint64(env, max_us),
                         enif_make_uint64(env, over_1ms),
                         nif_decisions(env, 0),
                         nif_decisions(env, 1)};
  (void)argc;
  (void)argv;

  return NIF_MAP(env, keys, vals);
}

/* ---- Load / unload -------------------------------------------------------*/

typedef struct engines_in {
  long engines, max_host_connections;
} engines_in;

static const nif_field engines_fields[] = {
    NIF_F_INT(NIF_LONG, engines_in, engines, INT_MIN, INT_MAX),
    NIF_F_INT(NIF_LONG, engines_in, max_host_connections, LONG_MIN, LONG_MAX),
};

/* #{engines => 1..16, max_host_connections => N >= 0}, both optional, other
 * keys ignored; a value of the wrong type (nil too) fails the load. */
static int start_engines(ErlNifEnv *env, ERL_NIF_TERM info) {
  engines_in in = {.engines = 2, .max_host_connections = 0};
  nif_dctx c = {.objs = {&in}, .mode = NIF_MAP_OPEN | NIF_MAP_NIL_IS_VALUE};

  if (enif_is_map(env, info) &&
      nif_decode_map(env, info, engines_fields, NIF_COUNT(engines_fields), 0,
                     &c) != 0)
    return -1;
  return http_pool_start((int)in.engines, in.max_host_connections);
}

void run_nif_unload(void) { http_pool_stop(); }

int run_nif_load(ErlNifEnv *env, ERL_NIF_TERM info, int first) {
  ErlNifResourceTypeInit init = {run_dtor, NULL, run_down, 3, NULL};

  run_type = enif_init_resource_type(
      env, "council_run", &init, ERL_NIF_RT_CREATE | ERL_NIF_RT_TAKEOVER, NULL);
  if (!run_type)
    return -1;
  return first ? start_engines(env, info) : 0;
}
