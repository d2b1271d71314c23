/* aggregate.h - aggregators for council rounds (vote and ranking ballots).
 *
 * Candidates are indices 0..n-1; the Elixir side maps member ids to indices
 * (sorted, so "lowest index" means alphabetical) and back. Every
 * aggregator reads an array of ballots and fills an agg_result: a winner
 * (or none), one score per candidate, and aggregator-specific raw data.
 * Pure C, no erl_nif, no global state.
 *
 * Ballots come from model output and are not trusted: a malformed ballot
 * is rejected as a whole (its status says why) and the rest still count.
 * A candidate can only win when at least one counted ballot named it. */
#ifndef CX_AGGREGATE_H
#define CX_AGGREGATE_H

#include <stddef.h>
#include <stdint.h>

#define AGG_NO_WINNER (-1L)

/* Return codes. */
#define AGG_OK 0
#define AGG_EINVAL                                                             \
  (-1)                  /* NULL pointers, n > LONG_MAX, unknown tie rule,      \
                           Condorcet over more than UINT32_MAX ballots */
#define AGG_ENOMEM (-2) /* out of memory, or Condorcet's n*n overflows */

/* How a tie at the top is broken (enums.def's CX_TIE): first (lowest
 * candidate index), random (a seeded pick among the tied, see
 * agg_opts.seed), caller (no winner; result.ties lists the tied candidates
 * for the caller's own function). */
typedef enum agg_tie {
#define CX_TIE(e, name) e,
#include "enums.def"
  AGG_TIE_COUNT
} agg_tie;

/* The aggregators by name (enums.def's CX_AGGREGATOR, in its order): the
 * round loop's rounds and the NIF's aggregate/4 name them with it.
 * RL_AGG_NONE is no aggregation. */
typedef enum rl_agg_kind {
#define CX_AGGREGATOR(e, name, ballot) e,
#include "enums.def"
  RL_AGG_COUNT
} rl_agg_kind;

/* What an aggregator reads (enums.def's ballot column). */
typedef enum agg_ballot_kind {
  AGG_BALLOTS_none,    /* nothing: RL_AGG_NONE */
  AGG_BALLOTS_vote,    /* agg_vote */
  AGG_BALLOTS_ordering /* agg_ordering */
} agg_ballot_kind;

typedef struct agg_opts {
  agg_tie tie;
  /* AGG_TIE_RANDOM: a splitmix64 generator starts from seed; its first
   * output below the largest multiple of k (the number tied; rejection
   * keeps the pick unbiased), modulo k, indexes the tied candidates in
   * ascending order. The same seed always picks the same candidate. */
  uint64_t seed;
  /* agg_peer_ranking only: also count a judge's placement of its own
   * candidate, as karpathy/llm-council does. Default 0: self-votes are
   * dropped. */
  int include_self;
} agg_opts;

/* A vote: the chosen candidate (the caller passes -1 for a missing or
 * unknown choice) and the voter's confidence in 0..1 (read only by
 * agg_weighted_mean and agg_confidence_median). */
typedef struct agg_vote {
  long choice;
  double confidence;
} agg_vote;

/* An ordering, best first. `self` is the judge's own candidate or -1; only
 * agg_peer_ranking reads it. Items may be NULL when len is 0. */
typedef struct agg_ordering {
  const long *items;
  size_t len;
  long self;
} agg_ordering;

/* Why a ballot was or was not counted (one byte each in result.status). */
typedef enum agg_ballot_status {
  AGG_BALLOT_OK = 0,
  AGG_BALLOT_EMPTY,          /* an ordering with nothing to count */
  AGG_BALLOT_OUT_OF_RANGE,   /* a choice, item or self outside 0..n-1 */
  AGG_BALLOT_DUPLICATE,      /* an ordering naming a candidate twice */
  AGG_BALLOT_BAD_CONFIDENCE, /* NaN, infinite, or outside [0, 1] */
  AGG_BALLOT_MALFORMED       /* items NULL with len > 0 */
} agg_ballot_status;

/* Every array is malloc'd and owned by the result; free with
 * agg_result_free. Arrays an aggregator does not produce are NULL. */
typedef struct agg_result {
  long winner;    /* candidate index or AGG_NO_WINNER */
  int tie;        /* more than one candidate shared the top */
  int cycle;      /* Condorcet: ballots were counted but no candidate
                     beats every other one strictly */
  size_t n;       /* candidates */
  double *scores; /* n; meaning per aggregator, NaN = no data */
  size_t *votes;  /* n; counted ballots that chose/ranked each one */
  size_t *order;  /* n; candidates best first (ties by lowest index,
                     never-named candidates last). With RANDOM or
                     CALLER the winner is within the tied prefix. */
  size_t *ties;   /* n_ties (>= 2) tied at the top, ascending; NULL
                     when there is no tie */
  size_t n_ties;
  double *avg_position;  /* peer ranking: n, 1-based over the ballots that
                            ranked each one, NaN when none did */
  uint32_t *pairwise;    /* Condorcet: n*n, [i*n+j] = ballots preferring i
                            to j */
  unsigned char *status; /* n_ballots agg_ballot_status values */
  size_t n_ballots;
  size_t counted; /* ballots with status AGG_BALLOT_OK */
} agg_result;

/* Every aggregator: n candidates, n_ballots ballots (ballots may be NULL
 * when n_ballots is 0), opts NULL for the defaults (FIRST, seed 0, self
 * excluded). Returns AGG_OK and fills *out, or an error code with *out
 * zeroed (winner AGG_NO_WINNER, all arrays NULL). *out is overwritten, not
 * freed. Ties use opts->tie unless stated otherwise. */

/* scores = number of votes. Confidence is ignored. */
int agg_plurality(size_t n, const agg_vote *ballots, size_t n_ballots,
                  const agg_opts *opts, agg_result *out);

/* scores = sum of the confidences of the voters who chose each candidate.
 * A vote whose confidence is NaN, infinite or outside [0, 1] is rejected
 * (not clamped: a 7 is a misread scale, not a certainty); the caller
 * decides what a missing confidence is worth before calling. */
int agg_weighted_mean(size_t n, const agg_vote *ballots, size_t n_ballots,
                      const agg_opts *opts, agg_result *out);

/* scores = median confidence of each candidate's voters (mean of the two
 * middle values for an even count; NaN with no voters). Confidences are
 * validated as for agg_weighted_mean. */
int agg_confidence_median(size_t n, const agg_vote *ballots, size_t n_ballots,
                          const agg_opts *opts, agg_result *out);

/* Borda count: position k (1-based) earns n-k points, n being the number
 * of candidates (not the ballot's length), so a partial ballot gives its
 * unranked candidates 0. scores = total points. */
int agg_borda(size_t n, const agg_ordering *ballots, size_t n_ballots,
              const agg_opts *opts, agg_result *out);

/* Condorcet. pairwise[i*n+j] counts ballots that rank i above j; a ranked
 * candidate is above every unranked one and two unranked ones are not
 * compared. The winner beats every other candidate strictly; when counted
 * ballots have none (a cycle or a pairwise tie), winner is AGG_NO_WINNER
 * and cycle is 1. scores = Copeland score (pairwise wins + 0.5 per
 * pairwise tie). opts->tie is not used: there is at most one winner. */
int agg_condorcet(size_t n, const agg_ordering *ballots, size_t n_ballots,
                  const agg_opts *opts, agg_result *out);

/* Peer ranking (llm-council style). Unless opts->include_self, a judge's
 * own candidate is dropped from its ordering before positions are taken.
 * avg_position = mean 1-based position over the ballots that ranked the
 * candidate; votes = how many did. scores = normalized Borda in 0..1: in
 * a ballot that could rank E candidates (n, or n-1 when self is dropped)
 * position k earns (E-k)/(E-1) (1 when E is 1), unranked earn 0, averaged
 * over the counted ballots that could rank the candidate. The winner has
 * the lowest avg_position; equal averages go to the candidate more ballots
 * ranked, then to opts->tie. */
int agg_peer_ranking(size_t n, const agg_ordering *ballots, size_t n_ballots,
                     const agg_opts *opts, agg_result *out);

/* Runs aggregator kind: agg_<name> of the functions above, over votes
 * or orderings as agg_kind_ballots(kind) says (the other array is not
 * read and may be NULL). AGG_EINVAL for RL_AGG_NONE or an unknown kind;
 * otherwise as the aggregator returns. */
int agg_run(rl_agg_kind kind, size_t n, const agg_vote *votes,
            const agg_ordering *orderings, size_t n_ballots,
            const agg_opts *opts, agg_result *out);

/* What kind reads; AGG_BALLOTS_none for RL_AGG_NONE or an unknown kind. */
agg_ballot_kind agg_kind_ballots(rl_agg_kind kind);

/* The names of the enumerations, as enums.def spells them; NULL for a
 * value out of range. */
const char *agg_kind_name(rl_agg_kind kind);
const char *agg_tie_name(agg_tie tie);

void agg_result_free(agg_result *r);

/* "ok", "empty", "out_of_range", "duplicate", "bad_confidence",
 * "malformed"; "unknown" for any other value. */
const char *agg_ballot_status_name(agg_ballot_status s);

#endif
