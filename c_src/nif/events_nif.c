/* events_nif.c - rl_event and rl_call outcomes to terms, on the engine
 * thread into the run's message env. They reach the owner batched as
 * {council_ex_run, Tag, [Event]}, in order. The shapes (Step counts steps
 * from 0 through iterations, Index is the call's place in its step, Seat
 * the seat answering it; all non-negative integers):
 *
 *   {round_started, Step, Round, Iteration}   Round: the declared round
 *   {member_started, Step, Index, Seat}
 *   {member_token, Step, Seat, TokenIndex, Text}
 *   {member_request, Step, Index, Seat, Body}  only with the spec's debug
 *   {tool_calls, Step, Index, Seat, [{Id, Name, ArgumentsJson}]}
 *       answered with run_tool_results/4
 *   {member_completed, Step, Index, Seat, Outcome}
 *   {round_completed, Step, RoundInfo}
 *   {seats_needed, Step}                      answered with run_answer/3
 *   {judge_needed, Step, Index, SeatA, SeatB} answered with run_answer/3
 *   {iteration_done, Step}                    answered with run_answer/3
 *   {call, Step, Index, Seat, Body, TimeoutMs} answered with run_reply/5;
 *       TimeoutMs bounds this attempt (0: nothing does)
 *   run_completed | {run_failed, Reason} | run_cancelled
 *
 * Outcome: #{status => ok | error | skipped, content, model,
 * finish_reason (binary | nil), input_tokens, output_tokens (integer |
 * nil), latency_us, http_status (integer | nil), error => ErrorMap | nil,
 * attempts, parsed => Term | nil (the JSON document in content, as
 * CouncilEx.JSON.decode/1 gives it, when the seat has a schema and it held:
 * the round loop's own parse, rl_call.parsed, made a term here),
 * invalid_output => [{Path, Message}],
 * cost (float | nil), stop (atom), confidence (float | nil), ordering
 * ([Seat] | nil), choice (integer | nil: a vote on members as the seat, on
 * options as the index, a pairwise verdict as 0 or 1), ballot_error (atom |
 * nil), labels ([Seat] | nil), pair ({SeatA, SeatB} | nil)}.
 * ErrorMap: #{kind, reason (atoms), http_status, type, code, message,
 * retry_after_ms (nil when unknown)}.
 * RoundInfo: #{aggregate => AggregateMap | nil (aggregate_nif.h), winner,
 * cands ([Seat]), alive ([Seat] | nil), failure (atom | nil),
 * mean_confidence (float | nil)}.
 * Reasons and ballot errors are enums.def's CX_REASON words. */
#include "events_nif.h"

#include <stdlib.h>

#include "aggregate_nif.h"
#include "atoms.h"
#include "json_nif.h"
#include "terms.h"

static ERL_NIF_TERM make_count(ErlNifEnv *env, long n) {
  return n >= 0 ? enif_make_long(env, n) : am_nil;
}

/* Reasons are static CX_REASON words; a skipped call has none. */
static ERL_NIF_TERM make_reason(ErlNifEnv *env, const char *word) {
  return enif_make_atom(env, word ? word : CX_REASON_WORD(unknown));
}

static ERL_NIF_TERM make_error_map(ErlNifEnv *env, const chat_error *e) {
  ERL_NIF_TERM keys[] = {am_kind, am_reason,  am_http_status,   am_type,
                         am_code, am_message, am_retry_after_ms};
  ERL_NIF_TERM vals[] = {
      (unsigned)e->kind < CHAT_ERROR_KIND_COUNT ? ea_error_kind[e->kind]
                                                : am_unknown,
      make_reason(env, e->reason),
      e->http_status > 0 ? enif_make_long(env, e->http_status) : am_nil,
      nif_make_cstr(env, e->type),
      nif_make_cstr(env, e->code),
      nif_make_cstr(env, e->message),
      make_count(env, e->retry_after_ms),
  };
  return NIF_MAP(env, keys, vals);
}

/* [{Path, Message}] for an answer that broke its output schema. */
static ERL_NIF_TERM make_schema_errors(ErlNifEnv *env, const rl_call *c) {
  ERL_NIF_TERM list = enif_make_list(env, 0);

  for (size_t i = c->schema_errs.count; i > 0; i--) {
    const json_schema_error *e = &c->schema_errs.items[i - 1];
    list =
        enif_make_list_cell(env,
                            enif_make_tuple2(env, nif_make_cstr(env, e->path),
                                             nif_make_cstr(env, e->message)),
                            list);
  }
  return list;
}

static ERL_NIF_TERM make_seats(ErlNifEnv *env, const size_t *seats, size_t n) {
  return seats ? nif_make_sizes(env, seats, n) : am_nil;
}

static ERL_NIF_TERM make_choice(ErlNifEnv *env, const rl_call *c,
                                const rl_step *step, const rl_round *rd) {
  if (c->choice < 0)
    return am_nil;
  if (rd->kind == RL_ROUND_VOTE && rd->n_options == 0 &&
      (size_t)c->choice < step->n_cands)
    return enif_make_uint64(env, step->cands[c->choice]);
  return enif_make_long(env, c->choice);
}

/* The accepted structured answer as a term, or nil. */
static ERL_NIF_TERM make_parsed(ErlNifEnv *env, const rl_call *c) {
  const ERL_NIF_TERM *el;
  ERL_NIF_TERM result;
  int arity;

  if (c->parsed == NULL || c->status != RL_SEAT_OK)
    return am_nil;
  /* The span must lie in the content as it is now (the core keeps it so;
   * a stale one is dropped here rather than read past the answer). */
  if (c->json_start > c->json_end || c->json_end > c->resp.content_len)
    return am_nil;
  result =
      json_nif_tree_to_term(env, c->parsed, c->resp.content + c->json_start,
                            c->json_end - c->json_start);
  /* {ok, Term}, or {error, _} for a number too big for a double */
  return enif_get_tuple(env, result, &arity, &el) &&
                 enif_is_identical(el[0], am_ok)
             ? el[1]
             : am_nil;
}

static ERL_NIF_TERM make_outcome(ErlNifEnv *env, const rl_call *c) {
  const rl_spec *spec = rl_run_spec(c->run);
  const rl_step *step = rl_run_step(c->run, c->step);
  const rl_round *rd = &spec->rounds[step->round];
  int ok = c->status == RL_SEAT_OK;
  ERL_NIF_TERM keys[] = {
      am_status,       am_content,       am_model,      am_finish_reason,
      am_input_tokens, am_output_tokens, am_latency_us, am_http_status,
      am_error,        am_attempts,      am_parsed,     am_invalid_output,
      am_cost,         am_stop,          am_confidence, am_ordering,
      am_choice,       am_ballot_error,  am_labels,     am_pair};
  ERL_NIF_TERM vals[] = {
      ok                             ? am_ok
      : c->status == RL_SEAT_SKIPPED ? am_skipped
                                     : am_error,
      /* a failed answer is kept when it arrived (it broke its schema) */
      nif_make_str(env, c->resp.content, c->resp.content_len),
      nif_make_cstr(env, c->resp.model),
      nif_make_cstr(env, c->resp.finish_reason),
      make_count(env, c->resp.input_tokens),
      make_count(env, c->resp.output_tokens),
      enif_make_uint64(env, c->latency_us),
      c->http_status > 0 ? enif_make_long(env, c->http_status) : am_nil,
      ok ? am_nil : make_error_map(env, &c->err),
      enif_make_uint(env, c->attempts),
      make_parsed(env, c),
      make_schema_errors(env, c),
      c->resp.has_cost ? enif_make_double(env, c->resp.cost) : am_nil,
      (unsigned)c->resp.stop < CHAT_STOP_COUNT ? ea_stop[c->resp.stop]
                                               : ea_stop[CHAT_STOP_OTHER],
      nif_make_float(env, c->confidence),
      make_seats(env, c->ordering, c->n_ordering),
      make_choice(env, c, step, rd),
      c->ballot_error ? enif_make_atom(env, c->ballot_error) : am_nil,
      make_seats(env, c->labels, c->n_labels),
      rd->kind == RL_ROUND_PAIRWISE
          ? enif_make_tuple2(env, enif_make_uint64(env, c->pair_a),
                             enif_make_uint64(env, c->pair_b))
          : am_nil,
  };
  return NIF_MAP(env, keys, vals);
}

/* [Seat] still in after a pairwise step, in seat order; nil otherwise. */
static ERL_NIF_TERM make_alive(ErlNifEnv *env, const rl_run *run,
                               const rl_step *step) {
  ERL_NIF_TERM list = enif_make_list(env, 0);

  if (!step->alive)
    return am_nil;
  for (size_t s = rl_run_spec(run)->n_members; s > 0; s--) {
    if (step->alive[s - 1])
      list = enif_make_list_cell(env, enif_make_uint64(env, s - 1), list);
  }
  return list;
}

static ERL_NIF_TERM make_round_info(ErlNifEnv *env, const rl_run *run,
                                    size_t idx) {
  const rl_step *step = rl_run_step(run, idx);
  ERL_NIF_TERM keys[] = {am_aggregate, am_winner,  am_cands,
                         am_alive,     am_failure, am_mean_confidence};
  ERL_NIF_TERM vals[] = {
      step->has_agg ? aggregate_nif_result(env, step->agg) : am_nil,
      step->winner < 0 ? am_nil : enif_make_long(env, step->winner),
      make_seats(env, step->cands, step->n_cands),
      make_alive(env, run, step),
      step->failure ? enif_make_atom(env, step->failure) : am_nil,
      nif_make_float(env, step->mean_confidence),
  };
  return NIF_MAP(env, keys, vals);
}

static ERL_NIF_TERM make_tool_calls(ErlNifEnv *env, const rl_call *call) {
  const conv_turn *t = conversation_pending(&call->conv);
  ERL_NIF_TERM calls = enif_make_list(env, 0);

  for (size_t i = t ? t->n_calls : 0; i > 0; i--) {
    const chat_tool_call *c = &t->calls[i - 1];
    calls = enif_make_list_cell(
        env,
        enif_make_tuple3(env, nif_make_cstr(env, c->id),
                         nif_make_cstr(env, c->name),
                         nif_make_str(env, c->arguments, c->arguments_len)),
        calls);
  }
  return calls;
}

ERL_NIF_TERM events_make_call(ErlNifEnv *env, const rl_call *call,
                              const http_request *req) {
  ERL_NIF_TERM el[] = {
      am_call,
      enif_make_uint64(env, call->step),
      enif_make_uint64(env, call->index),
      enif_make_uint64(env, call->seat),
      nif_make_str(env, req->body, req->body_len),
      enif_make_long(env, req->timeout_ms > 0 ? req->timeout_ms : 0)};

  return enif_make_tuple_from_array(env, el, 6);
}

ERL_NIF_TERM events_make(ErlNifEnv *env, const rl_run *run,
                         const rl_event *ev) {
  ERL_NIF_TERM step = enif_make_uint64(env, ev->round);
  ERL_NIF_TERM seat = enif_make_uint64(env, ev->seat);
  ERL_NIF_TERM index =
      ev->call ? enif_make_uint64(env, ev->call->index) : am_nil;
  const rl_step *s;

  switch (ev->type) {
  case RL_EV_ROUND_STARTED:
    s = rl_run_step(run, ev->round);
    return enif_make_tuple4(env, am_round_started, step,
                            enif_make_uint64(env, s->round),
                            enif_make_uint(env, s->iteration));
  case RL_EV_MEMBER_STARTED:
    return enif_make_tuple4(env, am_member_started, step, index, seat);
  case RL_EV_TOOL_CALLS:
    return enif_make_tuple5(env, am_tool_calls, step, index, seat,
                            make_tool_calls(env, ev->call));
  case RL_EV_MEMBER_TOKEN:
    return enif_make_tuple5(env, am_member_token, step, seat,
                            enif_make_uint64(env, ev->index),
                            nif_make_str(env, ev->text, ev->text_len));
  case RL_EV_MEMBER_REQUEST:
    return enif_make_tuple5(env, am_member_request, step, index, seat,
                            nif_make_str(env, ev->text, ev->text_len));
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
    return enif_make_tuple2(env, am_run_failed, make_reason(env, ev->reason));
  case RL_EV_RUN_CANCELLED:
  default:
    return am_run_cancelled;
  }
}
