/* atoms.h - every atom the glue uses, made once at load (jiffy's habit):
 * am_<name> for the plain ones, ea_<enum>[value] for enums.def's
 * enumerations in enum order, so a C value becomes its atom by indexing. */
#ifndef CX_ATOMS_H
#define CX_ATOMS_H

#include <erl_nif.h>

#include "aggregate.h"
#include "chat.h"
#include "reason.h"
#include "round_loop.h"

/* clang-format off */
#define CX_ATOMS(A)                                                            \
  A(ok) A(error) A(nil) A(true) A(false) A(out_of_memory) A(overloaded)        \
  A(invalid_spec) A(badarg)                                                    \
  /* events (events_nif.c) */                                                  \
  A(council_ex_run) A(round_started) A(member_started) A(member_completed)     \
  A(round_completed) A(run_completed) A(run_failed) A(run_cancelled) A(call)   \
  A(tool_calls) A(member_token) A(member_request) A(seats_needed)              \
  A(judge_needed)                                                              \
  A(iteration_done) A(status) A(content) A(model) A(finish_reason)             \
  A(input_tokens) A(output_tokens) A(latency_us) A(http_status) A(attempts)    \
  A(parsed) A(invalid_output) A(cost) A(stop) A(confidence) A(ordering)        \
  A(choice) A(ballot_error) A(labels) A(pair) A(skipped) A(kind) A(reason)     \
  A(type) A(code) A(message) A(retry_after_ms) A(aggregate) A(winner)          \
  A(cands) A(alive) A(failure) A(mean_confidence)                              \
  /* owner answers, load, stats (run_nif.c, council_nif.c) */                  \
  A(seats) A(judged) A(continue) A(engines) A(max_host_connections)            \
  A(in_flight) A(runs) A(normal_max_us) A(normal_over_1ms)                     \
  A(normal_calls) A(dirty_calls)                                               \
  /* the spec map (spec_nif.c) */                                              \
  A(input) A(n_members) A(has_chair) A(debug) A(chair_fallback) A(rounds)      \
  A(max_response_bytes) A(seed) A(codec) A(base_url) A(api_key) A(referer)     \
  A(title) A(headers) A(id) A(system_prompt) A(temperature) A(max_tokens)      \
  A(stream) A(output_schema) A(tools) A(tool_choice) A(max_tool_turns)         \
  A(weight) A(retry_max_attempts) A(retry_base_ms) A(timeout_ms)               \
  A(request_timeout_ms) A(max_tool_calls) A(connect_timeout_ms) A(external) A(name) A(description) A(parameters)       \
  A(max_iterations) A(ask_until) A(min_confidence) A(ask_seats) A(ask_judge)   \
  A(judge_seat) A(order) A(include_self) A(aggregator) A(tie) A(quorum)        \
  A(expose_confidence) A(options)                                              \
  /* aggregate and ranking_parse (aggregate_nif.c) */                          \
  A(cycle) A(scores) A(votes) A(ties) A(avg_position) A(pairwise) A(counted)   \
  A(too_many_candidates) A(too_many_ballots) A(too_many_items)                 \
  A(invalid_arguments) A(missing) A(source) A(duplicates) A(unknown)           \
  A(unexpected) A(list) A(json) A(none) A(bad_labels)                          \
  /* enums/0 */                                                                \
  A(round_kinds) A(orders) A(aggregators) A(confidences) A(error_kinds)        \
  A(stops) A(reasons) A(limits)                                              \
  /* json_decode and json_encode (json_nif.c) */                               \
  A(invalid_utf8) A(invalid_json) A(too_deep) A(number_out_of_range)           \
  A(unsupported_term) A(invalid_string) A(invalid_key) A(duplicate_key)
/* Atoms whose names are not C identifiers: N(c_name, "name"). */
#define CX_NAMED_ATOMS(N) N(struct, "__struct__")
/* clang-format on */

#define CX_ATOM_DECLARE(name) extern ERL_NIF_TERM am_##name;
#define CX_NAMED_ATOM_DECLARE(name, text) extern ERL_NIF_TERM am_##name;
CX_ATOMS(CX_ATOM_DECLARE)
CX_NAMED_ATOMS(CX_NAMED_ATOM_DECLARE)
#undef CX_ATOM_DECLARE
#undef CX_NAMED_ATOM_DECLARE

/* enums.def's enumerations, indexed by the C value. */
extern ERL_NIF_TERM ea_round_kind[RL_ROUND_COUNT], ea_order[RL_ORDER_COUNT],
    ea_aggregator[RL_AGG_COUNT], ea_tie[AGG_TIE_COUNT],
    ea_confidence[RL_CONF_COUNT], ea_error_kind[CHAT_ERROR_KIND_COUNT],
    ea_stop[CHAT_STOP_COUNT], ea_reason[CX_R_COUNT];
/* agg_ballot_status values, the last one "unknown" for anything else. */
#define EA_BALLOT_STATUSES (AGG_BALLOT_MALFORMED + 2)
extern ERL_NIF_TERM ea_ballot_status[EA_BALLOT_STATUSES];

/* Makes every atom; called from the library's load (and upgrade). */
void atoms_load(ErlNifEnv *env);

/* The index of atom v among atoms[0..n), or -1. */
int atom_index(ERL_NIF_TERM v, const ERL_NIF_TERM *atoms, int n);

/* enums() -> #{round_kinds => [atom], orders, ties, aggregators,
 * confidences, error_kinds, stops, reasons, limits => #{name => value}}:
 * each enumeration of enums.def in enum order, and its limits, so the
 * Elixir tables (read from the same file) can be checked against the
 * loaded library. */
ERL_NIF_TERM enums_nif(ErlNifEnv *env, int argc, const ERL_NIF_TERM argv[]);

#endif
