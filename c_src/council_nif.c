/* council_nif.c - the NIF glue: atoms, the run resource, the engine threads'
 * lifecycle and the function table.
 *
 * Logic lives in the pure C files; this file converts terms and hands work
 * to the engine threads. A run's C state lives in a resource owned by its
 * RunServer process: the resource monitors that process, and when it dies
 * the run is cancelled on its engine thread and its memory freed. No NIF
 * here does more than a bounded copy on a normal scheduler. */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <erl_nif.h>

#include "aggregate_nif.h"
#include "json_nif.h"
#include "http_engine.h"
#include "round_loop.h"

#define MAX_ENGINES 16
/* Inputs past this size are copied and checked on a dirty CPU scheduler. */
#define DIRTY_INPUT_BYTES (128 * 1024)

typedef struct run_res {
  rl_run *run;
  http_engine *eng;
  ErlNifPid owner;
  ErlNifEnv *tag_env; /* holds the caller's tag for the run's lifetime */
  ERL_NIF_TERM tag;
  ErlNifEnv *msg_env; /* engine thread only: messages to the owner */
  int engine_ref;     /* engine thread only: the engine holds a reference */
  int finished;       /* engine thread only: a terminal event went out */
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
    am_run_cancelled, am_invalid_spec, am_overloaded, am_call, am_external,
    am_transient, am_permanent, am_timeout, am_cancelled, am_retry_max_attempts,
    am_retry_base_ms, am_seed, am_attempts, am_codec, am_base_url, am_api_key,
    am_referer, am_title, am_stream, am_member_token, am_output_schema,
    am_json, am_invalid_output, am_tools, am_tool_choice, am_max_tool_turns,
    am_tool_calls, am_name, am_description, am_parameters, am_cost, am_stop;
static ERL_NIF_TERM am_input, am_seats, am_has_chair, am_rounds,
    am_max_response_bytes, am_id, am_url, am_headers, am_model,
    am_system_prompt, am_temperature, am_max_tokens, am_connect_timeout_ms,
    am_timeout_ms, am_independent_analysis, am_synthesis, am_engines,
    am_max_host_connections;
static ERL_NIF_TERM am_status, am_content, am_finish_reason, am_input_tokens,
    am_output_tokens, am_latency_us, am_http_status, am_kind, am_reason,
    am_type, am_code, am_message, am_retry_after_ms, am_in_flight, am_runs;

static void make_atoms(ErlNifEnv *env) {
#define ATOM(var, name) var = enif_make_atom(env, name)
  ATOM(am_ok, "ok");
  ATOM(am_error, "error");
  ATOM(am_nil, "nil");
  ATOM(am_true, "true");
  ATOM(am_false, "false");
  ATOM(am_council_ex_run, "council_ex_run");
  ATOM(am_round_started, "round_started");
  ATOM(am_member_started, "member_started");
  ATOM(am_member_completed, "member_completed");
  ATOM(am_round_completed, "round_completed");
  ATOM(am_run_completed, "run_completed");
  ATOM(am_run_failed, "run_failed");
  ATOM(am_run_cancelled, "run_cancelled");
  ATOM(am_invalid_spec, "invalid_spec");
  ATOM(am_overloaded, "overloaded");
  ATOM(am_call, "call");
  ATOM(am_external, "external");
  ATOM(am_transient, "transient");
  ATOM(am_permanent, "permanent");
  ATOM(am_timeout, "timeout");
  ATOM(am_cancelled, "cancelled");
  ATOM(am_retry_max_attempts, "retry_max_attempts");
  ATOM(am_retry_base_ms, "retry_base_ms");
  ATOM(am_seed, "seed");
  ATOM(am_attempts, "attempts");
  ATOM(am_codec, "codec");
  ATOM(am_base_url, "base_url");
  ATOM(am_api_key, "api_key");
  ATOM(am_referer, "referer");
  ATOM(am_title, "title");
  ATOM(am_stream, "stream");
  ATOM(am_member_token, "member_token");
  ATOM(am_output_schema, "output_schema");
  ATOM(am_json, "json");
  ATOM(am_invalid_output, "invalid_output");
  ATOM(am_tools, "tools");
  ATOM(am_tool_choice, "tool_choice");
  ATOM(am_max_tool_turns, "max_tool_turns");
  ATOM(am_tool_calls, "tool_calls");
  ATOM(am_name, "name");
  ATOM(am_description, "description");
  ATOM(am_parameters, "parameters");
  ATOM(am_cost, "cost");
  ATOM(am_stop, "stop");
  ATOM(am_input, "input");
  ATOM(am_seats, "seats");
  ATOM(am_has_chair, "has_chair");
  ATOM(am_rounds, "rounds");
  ATOM(am_max_response_bytes, "max_response_bytes");
  ATOM(am_id, "id");
  ATOM(am_url, "url");
  ATOM(am_headers, "headers");
  ATOM(am_model, "model");
  ATOM(am_system_prompt, "system_prompt");
  ATOM(am_temperature, "temperature");
  ATOM(am_max_tokens, "max_tokens");
  ATOM(am_connect_timeout_ms, "connect_timeout_ms");
  ATOM(am_timeout_ms, "timeout_ms");
  ATOM(am_independent_analysis, "independent_analysis");
  ATOM(am_synthesis, "synthesis");
  ATOM(am_engines, "engines");
  ATOM(am_max_host_connections, "max_host_connections");
  ATOM(am_status, "status");
  ATOM(am_content, "content");
  ATOM(am_finish_reason, "finish_reason");
  ATOM(am_input_tokens, "input_tokens");
  ATOM(am_output_tokens, "output_tokens");
  ATOM(am_latency_us, "latency_us");
  ATOM(am_http_status, "http_status");
  ATOM(am_kind, "kind");
  ATOM(am_reason, "reason");
  ATOM(am_type, "type");
  ATOM(am_code, "code");
  ATOM(am_message, "message");
  ATOM(am_retry_after_ms, "retry_after_ms");
  ATOM(am_in_flight, "in_flight");
  ATOM(am_runs, "runs");
#undef ATOM
}

static ERL_NIF_TERM error_tuple(ErlNifEnv *env, ERL_NIF_TERM reason) {
  return enif_make_tuple2(env, am_error, reason);
}

/* ---- Outcomes to terms (engine thread, into the run's msg_env) -----------*/

static ERL_NIF_TERM make_str(ErlNifEnv *env, const char *s, size_t len) {
  ERL_NIF_TERM t;
  unsigned char *p;

  if(!s)
    return am_nil;
  p = enif_make_new_binary(env, len, &t);
  if(len)
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
  ERL_NIF_TERM keys[] = {am_kind, am_reason, am_http_status, am_type,
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

  for(size_t i = c->schema_errs.count; i > 0; i--) {
    const json_schema_error *e = &c->schema_errs.items[i - 1];
    list = enif_make_list_cell(
        env, enif_make_tuple2(env, make_cstr(env, e->path),
                              make_cstr(env, e->message)),
        list);
  }
  return list;
}

static ERL_NIF_TERM make_outcome(ErlNifEnv *env, const rl_call *c) {
  int ok = c->status == RL_SEAT_OK;
  int has_schema = rl_run_spec(c->run)->seats[c->seat].schema != NULL;
  ERL_NIF_TERM keys[] = {am_status,        am_content,      am_model,
                         am_finish_reason, am_input_tokens, am_output_tokens,
                         am_latency_us,    am_http_status,  am_error,
                         am_attempts,      am_json,         am_invalid_output,
                         am_cost,          am_stop};
  ERL_NIF_TERM vals[] = {
      ok ? am_ok : am_error,
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
  };
  ERL_NIF_TERM map;
  enif_make_map_from_arrays(env, keys, vals, 14, &map);
  return map;
}

static ERL_NIF_TERM make_event(ErlNifEnv *env, const rl_event *ev) {
  ERL_NIF_TERM round = enif_make_uint64(env, ev->round);
  ERL_NIF_TERM seat = enif_make_uint64(env, ev->seat);

  switch(ev->type) {
  case RL_EV_ROUND_STARTED:
    return enif_make_tuple2(env, am_round_started, round);
  case RL_EV_MEMBER_STARTED:
    return enif_make_tuple3(env, am_member_started, round, seat);
  case RL_EV_TOOL_CALLS: {
    const conv_turn *t = conversation_pending(&ev->call->conv);
    ERL_NIF_TERM calls = enif_make_list(env, 0);
    for(size_t i = t ? t->n_calls : 0; i > 0; i--) {
      const chat_tool_call *c = &t->calls[i - 1];
      calls = enif_make_list_cell(
          env,
          enif_make_tuple3(env, make_cstr(env, c->id), make_cstr(env, c->name),
                           make_str(env, c->arguments, c->arguments_len)),
          calls);
    }
    return enif_make_tuple4(env, am_tool_calls, round, seat, calls);
  }
  case RL_EV_MEMBER_TOKEN:
    return enif_make_tuple5(env, am_member_token, round, seat,
                            enif_make_uint64(env, ev->index),
                            make_str(env, ev->text, ev->text_len));
  case RL_EV_MEMBER_COMPLETED:
    return enif_make_tuple4(env, am_member_completed, round, seat,
                            make_outcome(env, ev->call));
  case RL_EV_ROUND_COMPLETED:
    return enif_make_tuple2(env, am_round_completed, round);
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

/* Sends {council_ex_run, Tag, Event} to the owner (dropped if it is dead). */
static void send_owner(run_res *r, ERL_NIF_TERM event) {
  ERL_NIF_TERM msg = enif_make_tuple3(r->msg_env, am_council_ex_run,
                                      enif_make_copy(r->msg_env, r->tag), event);
  enif_send(NULL, &r->owner, r->msg_env, msg);
  enif_clear_env(r->msg_env);
}

static int seat_external(const rl_call *call) {
  return rl_run_spec(call->run)->seats[call->seat].external;
}

/* An external seat's call goes to the owner as {call, Round, Seat, Body}
 * (the rendered OpenAI-style request); its answer comes back by run_reply.
 * The call itself stands in as the handle. */
static void *io_start_call(void *ctx, rl_call *call, const http_request *req) {
  run_res *r = ctx;

  if(!seat_external(call))
    return http_transfer_start(r->eng, req, http_done_cb, call);
  send_owner(r, enif_make_tuple4(r->msg_env, am_call,
                                 enif_make_uint64(r->msg_env, call->round),
                                 enif_make_uint64(r->msg_env, call->seat),
                                 make_str(r->msg_env, req->body, req->body_len)));
  return call;
}

/* The owner learns of an external call's cancellation from the
 * member_completed event that follows. */
static void io_cancel_call(void *ctx, rl_call *call) {
  run_res *r = ctx;

  if(!seat_external(call))
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
  (void)run;

  if(ev->type == RL_EV_RUN_COMPLETED || ev->type == RL_EV_RUN_FAILED ||
     ev->type == RL_EV_RUN_CANCELLED)
    r->finished = 1;
  send_owner(r, make_event(r->msg_env, ev));
}

/* Called on the engine thread after every step of a run: once the run has
 * finished, the engine lets go of it. Releasing may free the run right here,
 * so nothing may touch r afterwards. */
static void engine_step_done(run_res *r) {
  if(r->finished && r->engine_ref) {
    r->engine_ref = 0;
    enif_release_resource(r);
  }
}

static void task_start(http_engine *eng, void *arg) {
  run_res *r = arg;

  if(!eng) { /* the library is unloading */
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

  if(eng && r->engine_ref) {
    rl_run_cancel(r->run);
    engine_step_done(r);
  }
  enif_release_resource(r);
}

static int post_cancel(run_res *r) {
  enif_keep_resource(r);
  if(http_engine_post(r->eng, task_cancel, r) != 0) {
    enif_release_resource(r);
    return -1;
  }
  return 0;
}

/* An external seat's answer on its way to the engine thread. */
typedef struct reply_task {
  run_res *r; /* a reference held by the task */
  size_t round, seat;
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

  if(eng && r->engine_ref) {
    rl_call_complete(r->run, t->round, t->seat, t->ok ? &t->resp : NULL,
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
  if(r->tag_env)
    enif_free_env(r->tag_env);
  if(r->msg_env)
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

/* ---- Spec decoding -------------------------------------------------------*/

/* Copies a binary (or iodata) term; nil gives NULL when allow_nil. */
static int copy_str(ErlNifEnv *env, ERL_NIF_TERM v, int allow_nil, char **out,
                    size_t *len) {
  ErlNifBinary bin;

  *out = NULL;
  if(enif_is_identical(v, am_nil))
    return allow_nil ? 0 : -1;
  if(!enif_inspect_iolist_as_binary(env, v, &bin))
    return -1;
  if(memchr(bin.data, '\0', bin.size))
    return -1; /* C strings downstream */
  *out = rl_strndup((const char *)bin.data, bin.size);
  if(len)
    *len = bin.size;
  return *out ? 0 : -1;
}

/* Copies a map's binary field; a missing or nil field gives NULL when
 * allow_nil. */
static int get_str(ErlNifEnv *env, ERL_NIF_TERM map, ERL_NIF_TERM key,
                   int allow_nil, char **out, size_t *len) {
  ERL_NIF_TERM v;

  *out = NULL;
  if(!enif_get_map_value(env, map, key, &v))
    return allow_nil ? 0 : -1;
  return copy_str(env, v, allow_nil, out, len);
}

static int get_long(ErlNifEnv *env, ERL_NIF_TERM map, ERL_NIF_TERM key,
                    long dflt, long *out) {
  ERL_NIF_TERM v;

  *out = dflt;
  if(!enif_get_map_value(env, map, key, &v) || enif_is_identical(v, am_nil))
    return 0;
  return enif_get_long(env, v, out) ? 0 : -1;
}

static int get_headers(ErlNifEnv *env, ERL_NIF_TERM map, rl_seat *s) {
  ERL_NIF_TERM list, head;
  unsigned n;

  if(!enif_get_map_value(env, map, am_headers, &list))
    return 0;
  if(!enif_get_list_length(env, list, &n))
    return -1;
  s->headers = calloc(n ? n : 1, sizeof(char *));
  if(!s->headers)
    return -1;
  for(; enif_get_list_cell(env, list, &head, &list); s->n_headers++) {
    ErlNifBinary bin;
    if(!enif_inspect_binary(env, head, &bin) ||
       memchr(bin.data, '\0', bin.size) || memchr(bin.data, '\n', bin.size) ||
       memchr(bin.data, '\r', bin.size))
      return -1; /* no header injection */
    s->headers[s->n_headers] = rl_strndup((const char *)bin.data, bin.size);
    if(!s->headers[s->n_headers])
      return -1;
  }
  return 0;
}

/* [#{name, description, parameters}] into s->tools. */
static int get_tools(ErlNifEnv *env, ERL_NIF_TERM map, rl_seat *s) {
  ERL_NIF_TERM list, head;
  unsigned n;

  if(!enif_get_map_value(env, map, am_tools, &list) ||
     enif_is_identical(list, am_nil))
    return 0;
  if(!enif_get_list_length(env, list, &n))
    return -1;
  if(n == 0)
    return 0;
  s->tools = calloc(n, sizeof(chat_tool));
  if(!s->tools)
    return -1;
  for(; enif_get_list_cell(env, list, &head, &list); s->n_tools++) {
    char *name, *description, *parameters;
    if(!enif_is_map(env, head))
      return -1;
    int bad = get_str(env, head, am_name, 0, &name, NULL);
    bad |= get_str(env, head, am_description, 1, &description, NULL);
    bad |= get_str(env, head, am_parameters, 1, &parameters, NULL);
    s->tools[s->n_tools] =
        (chat_tool){.name = name, .description = description,
                    .parameters = parameters};
    if(bad) {
      s->n_tools++; /* so seat_free frees what was copied */
      return -1;
    }
  }
  return 0;
}

/* An HTTP seat names its provider's codec and endpoint; the codec builds
 * the URL and the auth headers (extra headers come after them). */
static int get_endpoint(ErlNifEnv *env, ERL_NIF_TERM map, rl_seat *s) {
  char *name = NULL, *base_url = NULL, *api_key = NULL, *referer = NULL,
       *title = NULL;
  const chat_codec *codec;
  int rc = -1;

  if(get_str(env, map, am_codec, 0, &name, NULL) ||
     get_str(env, map, am_base_url, 1, &base_url, NULL) ||
     get_str(env, map, am_api_key, 1, &api_key, NULL) ||
     get_str(env, map, am_referer, 1, &referer, NULL) ||
     get_str(env, map, am_title, 1, &title, NULL))
    goto done;
  codec = chat_codec_find(name);
  if(codec) {
    chat_endpoint ep = {.base_url = base_url, .api_key = api_key,
                        .model = s->model, .stream = s->stream,
                        .referer = referer, .title = title};
    rc = rl_seat_connect(s, codec, &ep);
  }

done:
  free(name);
  free(base_url);
  free(api_key);
  free(referer);
  free(title);
  return rc;
}

static int get_seat(ErlNifEnv *env, ERL_NIF_TERM map, rl_seat *s) {
  ERL_NIF_TERM v;
  double d;
  long l;

  s->external = enif_get_map_value(env, map, am_external, &v) &&
                enif_is_identical(v, am_true);
  s->stream = !s->external && enif_get_map_value(env, map, am_stream, &v) &&
              enif_is_identical(v, am_true);
  if(!enif_is_map(env, map) || get_str(env, map, am_id, 0, &s->id, NULL) ||
     get_str(env, map, am_url, 1, &s->url, NULL) ||
     get_str(env, map, am_model, 0, &s->model, NULL) ||
     get_str(env, map, am_system_prompt, 1, &s->system_prompt, NULL) ||
     get_str(env, map, am_output_schema, 1, &s->output_schema, NULL) ||
     get_str(env, map, am_tool_choice, 1, &s->tool_choice, NULL) ||
     get_tools(env, map, s) ||
     get_headers(env, map, s) ||
     get_long(env, map, am_max_tokens, 0, &s->max_tokens) ||
     get_long(env, map, am_connect_timeout_ms, 0, &s->connect_timeout_ms) ||
     get_long(env, map, am_timeout_ms, 0, &s->timeout_ms) ||
     get_long(env, map, am_retry_max_attempts, 1, &l) || l < 1 ||
     l > 100 || get_long(env, map, am_retry_base_ms, 0, &s->retry_base_ms) ||
     s->retry_base_ms < 0)
    return -1;
  s->retry_max_attempts = (unsigned)l;
  if(get_long(env, map, am_max_tool_turns, 0, &l) || l < 0 || l > 1000)
    return -1;
  s->max_tool_turns = (unsigned)l;
  if(!s->external && enif_get_map_value(env, map, am_codec, &v) &&
     get_endpoint(env, map, s) != 0)
    return -1;
  if(enif_get_map_value(env, map, am_temperature, &v) &&
     !enif_is_identical(v, am_nil)) {
    if(enif_get_double(env, v, &d))
      s->temperature = d;
    else if(enif_get_long(env, v, &l))
      s->temperature = (double)l;
    else
      return -1;
    s->has_temperature = 1;
  }
  return 0;
}

static int get_rounds(ErlNifEnv *env, ERL_NIF_TERM list, rl_spec *spec) {
  ERL_NIF_TERM head;
  unsigned n;

  if(!enif_get_list_length(env, list, &n) || n == 0)
    return -1;
  spec->rounds = calloc(n, sizeof(rl_round_kind));
  if(!spec->rounds)
    return -1;
  for(; enif_get_list_cell(env, list, &head, &list); spec->n_rounds++) {
    if(enif_is_identical(head, am_independent_analysis))
      spec->rounds[spec->n_rounds] = RL_ROUND_INDEPENDENT;
    else if(enif_is_identical(head, am_synthesis))
      spec->rounds[spec->n_rounds] = RL_ROUND_SYNTHESIS;
    else
      return -1;
  }
  return 0;
}

/* Builds an rl_spec from the map CouncilEx.Engine.Spec produces. Returns
 * NULL and a message in why on a malformed map. */
static rl_spec *decode_spec(ErlNifEnv *env, ERL_NIF_TERM map, char *why,
                            size_t why_len) {
  ERL_NIF_TERM seats, rounds, head, v;
  unsigned n;
  long max_bytes;
  rl_spec *spec = calloc(1, sizeof(*spec));

  if(!spec || !enif_is_map(env, map))
    goto err;
  if(get_str(env, map, am_input, 0, &spec->input, &spec->input_len)) {
    snprintf(why, why_len, "input must be a binary without NUL bytes");
    goto err;
  }
  if(!enif_get_map_value(env, map, am_seats, &seats) ||
     !enif_get_list_length(env, seats, &n) || n == 0 ||
     !(spec->seats = calloc(n, sizeof(rl_seat))))
    goto err;
  for(; enif_get_list_cell(env, seats, &head, &seats); spec->n_seats++) {
    if(get_seat(env, head, &spec->seats[spec->n_seats])) {
      spec->n_seats++; /* so rl_spec_free frees it */
      snprintf(why, why_len, "seat %u is malformed", (unsigned)spec->n_seats);
      goto err;
    }
    if(rl_seat_compile_schema(&spec->seats[spec->n_seats], why, why_len)) {
      spec->n_seats++;
      goto err;
    }
  }
  spec->has_chair = enif_get_map_value(env, map, am_has_chair, &v) &&
                    enif_is_identical(v, am_true);
  if(!enif_get_map_value(env, map, am_rounds, &rounds) ||
     get_rounds(env, rounds, spec)) {
    snprintf(why, why_len, "rounds must be a non-empty list of known rounds");
    goto err;
  }
  if(get_long(env, map, am_max_response_bytes, 0, &max_bytes) || max_bytes < 0)
    goto err;
  spec->max_response_bytes = (size_t)max_bytes;
  if(enif_get_map_value(env, map, am_seed, &v))
    enif_get_uint64(env, v, &spec->seed);
  if(rl_spec_check(spec, why, why_len) != 0)
    goto err;
  return spec;

err:
  if(!why[0])
    snprintf(why, why_len, "malformed run spec");
  rl_spec_free(spec);
  return NULL;
}

/* ---- NIFs ----------------------------------------------------------------*/

/* run_start(Spec, Tag) -> {ok, Run} | {error, Reason}
 * Starts a run owned (and monitored) by the calling process; events come
 * back as {council_ex_run, Tag, Event}. */
static ERL_NIF_TERM run_start_impl(ErlNifEnv *env, int argc,
                                   const ERL_NIF_TERM argv[]) {
  char why[256] = "";
  rl_io io = {.start_call = io_start_call,
              .cancel_call = io_cancel_call,
              .start_timer = io_start_timer,
              .cancel_timer = io_cancel_timer,
              .emit = io_emit};
  (void)argc;

  if(n_engines == 0)
    return error_tuple(env, am_overloaded);
  rl_spec *spec = decode_spec(env, argv[0], why, sizeof(why));
  if(!spec)
    return error_tuple(env, enif_make_tuple2(env, am_invalid_spec,
                                             make_cstr(env, why)));

  run_res *r = enif_alloc_resource(run_type, sizeof(run_res));
  memset(r, 0, sizeof(*r));
  atomic_fetch_add(&live_runs, 1);
  io.ctx = r;
  r->run = rl_run_new(spec, &io);
  r->tag_env = enif_alloc_env();
  r->msg_env = enif_alloc_env();
  if(!r->run || !r->tag_env || !r->msg_env) {
    enif_release_resource(r);
    return enif_raise_exception(env, enif_make_atom(env, "out_of_memory"));
  }
  r->tag = enif_make_copy(r->tag_env, argv[1]);
  enif_self(env, &r->owner);
  r->eng = engines[atomic_fetch_add(&next_engine, 1) % (unsigned)n_engines];

  ERL_NIF_TERM term = enif_make_resource(env, r);
  r->engine_ref = 1;
  enif_keep_resource(r); /* the engine's reference, dropped when it finishes */
  if(http_engine_post(r->eng, task_start, r) != 0) {
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

  if(argc != 2 || !enif_is_map(env, argv[0]))
    return enif_make_badarg(env);
  ErlNifBinary bin;
  if(enif_get_map_value(env, argv[0], am_input, &input) &&
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

  if(argc != 1 || !enif_get_resource(env, argv[0], run_type, (void **)&r))
    return enif_make_badarg(env);
  post_cancel(r);
  return am_ok;
}

static chat_error_kind kind_of(ERL_NIF_TERM kind) {
  if(enif_is_identical(kind, am_transient))
    return CHAT_ERR_TRANSIENT;
  if(enif_is_identical(kind, am_timeout))
    return CHAT_ERR_TIMEOUT;
  if(enif_is_identical(kind, am_cancelled))
    return CHAT_ERR_CANCELLED;
  return CHAT_ERR_PERMANENT;
}

/* Decodes {ok, #{content, model, finish_reason, input_tokens,
 * output_tokens}} or {error, Kind, Message} into t. 0, or -1 on badarg. */
static int decode_reply(ErlNifEnv *env, ERL_NIF_TERM reply, reply_task *t) {
  const ERL_NIF_TERM *el;
  int arity;
  char *message = NULL;

  if(!enif_get_tuple(env, reply, &arity, &el))
    return -1;
  if(arity == 2 && enif_is_identical(el[0], am_ok) && enif_is_map(env, el[1])) {
    ERL_NIF_TERM content;
    ErlNifBinary bin;
    t->ok = 1;
    /* The answer may hold NUL bytes: it is kept with its length. */
    if(!enif_get_map_value(env, el[1], am_content, &content) ||
       !enif_inspect_binary(env, content, &bin) ||
       !(t->resp.content = rl_strndup((const char *)bin.data, bin.size)))
      return -1;
    t->resp.content_len = bin.size;
    return get_str(env, el[1], am_model, 1, &t->resp.model, NULL) ||
                   get_str(env, el[1], am_finish_reason, 1,
                           &t->resp.finish_reason, NULL) ||
                   get_long(env, el[1], am_input_tokens, -1,
                            &t->resp.input_tokens) ||
                   get_long(env, el[1], am_output_tokens, -1,
                            &t->resp.output_tokens)
               ? -1
               : 0;
  }
  if(arity != 3 || !enif_is_identical(el[0], am_error) || !enif_is_atom(env, el[1]))
    return -1;
  if(copy_str(env, el[2], 1, &message, NULL))
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
  ErlNifUInt64 round, seat, latency;
  reply_task *t;
  (void)argc;

  if(!enif_get_resource(env, argv[0], run_type, (void **)&r) ||
     !enif_get_uint64(env, argv[1], &round) ||
     !enif_get_uint64(env, argv[2], &seat) ||
     !enif_get_uint64(env, argv[4], &latency))
    return enif_make_badarg(env);
  t = calloc(1, sizeof(*t));
  if(!t)
    return enif_raise_exception(env, enif_make_atom(env, "out_of_memory"));
  chat_response_init(&t->resp);
  chat_error_init(&t->err);
  if(decode_reply(env, argv[3], t) != 0) {
    reply_task_free(t);
    return enif_make_badarg(env);
  }
  t->r = r;
  t->round = round;
  t->seat = seat;
  t->latency_us = latency;
  enif_keep_resource(r);
  if(http_engine_post(r->eng, task_reply, t) != 0) {
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

  if(argc != 5)
    return enif_make_badarg(env);
  if(enif_get_tuple(env, argv[3], &arity, &el) && arity == 2 &&
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
  size_t round, seat, n;
  char **results;
  size_t *lens;
} tools_task;

static void tools_task_free(tools_task *t) {
  for(size_t i = 0; t->results && i < t->n; i++)
    free(t->results[i]);
  free(t->results);
  free(t->lens);
  free(t);
}

static void task_tool_results(http_engine *eng, void *arg) {
  tools_task *t = arg;
  run_res *r = t->r;

  if(eng && r->engine_ref) {
    rl_call_tool_results(r->run, t->round, t->seat,
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
  ErlNifUInt64 round, seat;
  ERL_NIF_TERM list = argv[3], head;
  unsigned n;
  tools_task *t;
  (void)argc;

  if(!enif_get_resource(env, argv[0], run_type, (void **)&r) ||
     !enif_get_uint64(env, argv[1], &round) ||
     !enif_get_uint64(env, argv[2], &seat) ||
     !enif_get_list_length(env, list, &n))
    return enif_make_badarg(env);
  t = calloc(1, sizeof(*t));
  if(!t || !(t->results = calloc(n ? n : 1, sizeof(char *))) ||
     !(t->lens = calloc(n ? n : 1, sizeof(size_t)))) {
    if(t)
      tools_task_free(t);
    return enif_raise_exception(env, enif_make_atom(env, "out_of_memory"));
  }
  for(; enif_get_list_cell(env, list, &head, &list); t->n++) {
    ErlNifBinary bin;
    if(!enif_inspect_binary(env, head, &bin) ||
       !(t->results[t->n] = rl_strndup((const char *)bin.data, bin.size))) {
      tools_task_free(t);
      return enif_make_badarg(env);
    }
    t->lens[t->n] = bin.size;
  }
  t->r = r;
  t->round = round;
  t->seat = seat;
  enif_keep_resource(r);
  if(http_engine_post(r->eng, task_tool_results, t) != 0) {
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

  if(argc != 4)
    return enif_make_badarg(env);
  for(list = argv[3]; enif_get_list_cell(env, list, &head, &list);)
    if(enif_inspect_binary(env, head, &bin))
      total += bin.size;
  if(total > DIRTY_INPUT_BYTES)
    return enif_schedule_nif(env, "run_tool_results",
                             ERL_NIF_DIRTY_JOB_CPU_BOUND,
                             run_tool_results_impl, argc, argv);
  return run_tool_results_impl(env, argc, argv);
}

/* schema_check(Json) -> ok | {error, Message}: whether an output schema
 * compiles, so a bad one is refused before a run's process starts. */
static ERL_NIF_TERM schema_check_impl(ErlNifEnv *env, int argc,
                                      const ERL_NIF_TERM argv[]) {
  ErlNifBinary bin;
  char why[256] = "";
  json_schema *schema;
  (void)argc;

  if(!enif_inspect_binary(env, argv[0], &bin))
    return enif_make_badarg(env);
  schema = json_schema_compile((const char *)bin.data, bin.size, why,
                               sizeof(why));
  if(!schema)
    return error_tuple(env, make_cstr(env, why));
  json_schema_free(schema);
  return am_ok;
}

static ERL_NIF_TERM schema_check_nif(ErlNifEnv *env, int argc,
                                     const ERL_NIF_TERM argv[]) {
  ErlNifBinary bin;

  if(argc != 1 || !enif_inspect_binary(env, argv[0], &bin))
    return enif_make_badarg(env);
  if(bin.size > DIRTY_INPUT_BYTES / 2)
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

  for(int i = 0; i < n_engines; i++)
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
  run_type = enif_init_resource_type(env, "council_run", &init,
                                     ERL_NIF_RT_CREATE | ERL_NIF_RT_TAKEOVER,
                                     NULL);
  return run_type ? 0 : -1;
}

static int start_engines(ErlNifEnv *env, ERL_NIF_TERM info) {
  ERL_NIF_TERM v;
  int n = 2;
  long max_host = 0;

  if(enif_is_map(env, info) && enif_get_map_value(env, info, am_engines, &v) &&
     (!enif_get_int(env, v, &n) || n < 1 || n > MAX_ENGINES))
    return -1;
  if(enif_is_map(env, info) &&
     enif_get_map_value(env, info, am_max_host_connections, &v) &&
     (!enif_get_long(env, v, &max_host) || max_host < 0))
    return -1;
  if(curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
    return -1;
  http_engine_config cfg = {max_host, 0, 0};
  for(n_engines = 0; n_engines < n; n_engines++) {
    engines[n_engines] = http_engine_start(&cfg);
    if(!engines[n_engines])
      return -1;
  }
  return 0;
}

static void stop_engines(void) {
  while(n_engines > 0)
    http_engine_stop(engines[--n_engines]);
  curl_global_cleanup();
}

static int load(ErlNifEnv *env, void **priv, ERL_NIF_TERM info) {
  (void)priv;
  make_atoms(env);
  if(open_types(env) != 0 || json_nif_load(env) != 0 ||
     aggregate_nif_load(env) != 0)
    return -1;
  if(library_refc++ == 0 && start_engines(env, info) != 0) {
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
  if(--library_refc == 0)
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
    {"stats", 0, stats_nif, 0},
    {"aggregate", 4, aggregate_nif_aggregate, 0},
    {"ranking_parse", 3, aggregate_nif_ranking_parse, 0},
    {"ranking_label", 1, aggregate_nif_ranking_label, 0},
};

ERL_NIF_INIT(Elixir.CouncilEx.Native, nif_funcs, load, NULL, upgrade, unload)
