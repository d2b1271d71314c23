/* aggregate_nif.h - CouncilEx.Native's aggregators and ranking parser: terms
 * in, aggregate.h / ranking.h calls, terms out. */
#ifndef CX_AGGREGATE_NIF_H
#define CX_AGGREGATE_NIF_H

#include <erl_nif.h>

#include "aggregate.h"

/* aggregate(Kind, N, Ballots, Opts) -> {ok, Map} | {error, Reason}
 * Kind: an aggregator of enums.def but none: plurality | weighted_mean |
 * confidence_median (ballots {Choice, Confidence | nil}) or borda |
 * condorcet | peer_ranking (ballots {[Index], Self}); Opts: #{tie =>
 * first | random | caller, seed => integer, include_self => boolean},
 * every key optional, others ignored. Map: see aggregate_nif_result.
 * Reason: too_many_candidates | too_many_ballots | too_many_items |
 * out_of_memory | invalid_arguments. Raises badarg on a term of the wrong
 * type. */
ERL_NIF_TERM aggregate_nif_aggregate(ErlNifEnv *env, int argc,
                                     const ERL_NIF_TERM argv[]);

/* ranking_parse(Text, Labels, Expected | nil)
 *   -> {ok, Map} | {error, Reason, Map}
 * Map: #{order, missing, source => list | json | none, duplicates, unknown,
 * unexpected}; Reason: a ranking_result reason (a CX_REASON word). */
ERL_NIF_TERM aggregate_nif_ranking_parse(ErlNifEnv *env, int argc,
                                         const ERL_NIF_TERM argv[]);

/* ranking_label(Index) -> Binary ("A", ..., "Z", "AA", ...) */
ERL_NIF_TERM aggregate_nif_ranking_label(ErlNifEnv *env, int argc,
                                         const ERL_NIF_TERM argv[]);

/* The map for a filled agg_result:
 *   winner        index or nil        tie, cycle     booleans
 *   scores        [float | nil]       (nil for NaN or infinity)
 *   votes, order  [integer]           ties           [integer] ([] if none)
 *   avg_position  [float | nil] | nil pairwise       [[integer]] (rows) | nil
 *   status        [atom] per ballot   counted        integer
 * Allocates only terms in env and cannot fail. Costs O(n + n_ballots), and
 * O(n*n) when r->pairwise is set: callers with big inputs should be on a
 * dirty scheduler. */
ERL_NIF_TERM aggregate_nif_result(ErlNifEnv *env, const agg_result *r);

#endif
