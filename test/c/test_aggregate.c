/* test_aggregate.c - unit tests for aggregate.c: every aggregator with
 * exact scores, ties under each tie rule, Condorcet cycles, empty and
 * malformed ballots, the llm-council worked example (provider notes 7.1,
 * parsed from test/fixtures/llm_council), and 500 candidates x 500 ballots
 * checked against naive reference counts and timed loosely. */
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <criterion/criterion.h>

#include "aggregate.h"
#include "fixtures.h"
#include "ranking.h"

/* --- Helpers ------------------------------------------------------------- */

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))
enum { A, B, C, D };

static const agg_opts tie_first = {.tie = AGG_TIE_FIRST};
static const agg_opts tie_caller = {.tie = AGG_TIE_CALLER};
static const agg_opts with_self = {.include_self = 1};

static agg_vote vote(long choice, double confidence) {
  agg_vote v = {.choice = choice, .confidence = confidence};

  return v;
}

static agg_ordering ranked(const long *items, size_t len, long self) {
  agg_ordering o = {.items = items, .len = len, .self = self};

  return o;
}

#define RANKED(self, ...)                                                      \
  ranked((const long[]){__VA_ARGS__},                                          \
         sizeof((const long[]){__VA_ARGS__}) / sizeof(long), self)

static void assert_order(const agg_result *r, const size_t *want, size_t n) {
  size_t i;

  cr_assert_eq(r->n, n);
  for (i = 0; i < n; i++)
    cr_assert_eq(r->order[i], want[i], "order[%zu] = %zu, want %zu", i,
                 r->order[i], want[i]);
}

#define ASSERT_ORDER(r, ...)                                                   \
  assert_order(r, (const size_t[]){__VA_ARGS__},                               \
               sizeof((const size_t[]){__VA_ARGS__}) / sizeof(size_t))

static void assert_scores(const agg_result *r, const double *want, size_t n) {
  size_t i;

  cr_assert_eq(r->n, n);
  for (i = 0; i < n; i++) {
    if (isnan(want[i]))
      cr_assert(isnan(r->scores[i]), "scores[%zu] = %g, want NaN", i,
                r->scores[i]);
    else
      cr_assert_float_eq(r->scores[i], want[i], 1e-12,
                         "scores[%zu] = %.17g, want %.17g", i, r->scores[i],
                         want[i]);
  }
}

#define ASSERT_SCORES(r, ...)                                                  \
  assert_scores(r, (const double[]){__VA_ARGS__},                              \
                sizeof((const double[]){__VA_ARGS__}) / sizeof(double))

static void assert_ties(const agg_result *r, const size_t *want, size_t n) {
  size_t i;

  cr_assert_eq(r->tie, 1);
  cr_assert_eq(r->n_ties, n);
  cr_assert_not_null(r->ties);
  for (i = 0; i < n; i++)
    cr_assert_eq(r->ties[i], want[i]);
}

#define ASSERT_TIES(r, ...)                                                    \
  assert_ties(r, (const size_t[]){__VA_ARGS__},                                \
              sizeof((const size_t[]){__VA_ARGS__}) / sizeof(size_t))

static void assert_no_tie(const agg_result *r) {
  cr_assert_eq(r->tie, 0);
  cr_assert_eq(r->n_ties, 0);
  cr_assert_null(r->ties);
}

/* An error leaves the result as a zeroed, freeable value. */
static void assert_zeroed(const agg_result *r) {
  cr_assert_eq(r->winner, AGG_NO_WINNER);
  cr_assert_null(r->scores);
  cr_assert_null(r->votes);
  cr_assert_null(r->order);
  cr_assert_null(r->ties);
  cr_assert_null(r->avg_position);
  cr_assert_null(r->pairwise);
  cr_assert_null(r->status);
  cr_assert_eq(r->counted, 0);
}

static double seconds_since(const struct timespec *t0) {
  struct timespec t1;

  clock_gettime(CLOCK_MONOTONIC, &t1);
  return (double)(t1.tv_sec - t0->tv_sec) +
         (double)(t1.tv_nsec - t0->tv_nsec) / 1e9;
}

/* The test's own splitmix64, written from the published algorithm, to
 * pin the documented RANDOM tie rule. */
static uint64_t ref_splitmix64(uint64_t *s) {
  uint64_t z = (*s += 0x9E3779B97F4A7C15ULL);

  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

/* --- Plurality ----------------------------------------------------------- */

Test(plurality, most_votes_win) {
  agg_vote v[] = {vote(B, 0), vote(B, 0), vote(A, 0), vote(C, 0), vote(B, 0)};
  agg_result r;

  cr_assert_eq(agg_plurality(3, v, COUNT(v), NULL, &r), AGG_OK);
  cr_assert_eq(r.winner, B);
  ASSERT_SCORES(&r, 1, 3, 1);
  cr_assert_eq(r.votes[A], 1);
  cr_assert_eq(r.votes[B], 3);
  cr_assert_eq(r.votes[C], 1);
  ASSERT_ORDER(&r, B, A, C);
  assert_no_tie(&r);
  cr_assert_eq(r.counted, 5);
  cr_assert_eq(r.n_ballots, 5);
  cr_assert_null(r.pairwise);
  cr_assert_null(r.avg_position);
  agg_result_free(&r);
}

Test(plurality, confidence_is_not_read) {
  agg_vote v[] = {vote(A, NAN), vote(A, 7), vote(B, INFINITY)};
  agg_result r;

  cr_assert_eq(agg_plurality(2, v, COUNT(v), NULL, &r), AGG_OK);
  cr_assert_eq(r.counted, 3);
  cr_assert_eq(r.winner, A);
  ASSERT_SCORES(&r, 2, 1);
  agg_result_free(&r);
}

Test(plurality, tie_first_takes_lowest_index) {
  agg_vote v[] = {vote(C, 0), vote(B, 0), vote(C, 0), vote(B, 0), vote(A, 0)};
  agg_result r;

  cr_assert_eq(agg_plurality(3, v, COUNT(v), &tie_first, &r), AGG_OK);
  cr_assert_eq(r.winner, B);
  ASSERT_TIES(&r, B, C);
  ASSERT_ORDER(&r, B, C, A);
  agg_result_free(&r);
}

Test(plurality, tie_caller_reports_the_tied_set) {
  agg_vote v[] = {vote(D, 0), vote(A, 0), vote(D, 0), vote(A, 0), vote(C, 0)};
  agg_result r;

  cr_assert_eq(agg_plurality(4, v, COUNT(v), &tie_caller, &r), AGG_OK);
  cr_assert_eq(r.winner, AGG_NO_WINNER);
  ASSERT_TIES(&r, A, D);
  agg_result_free(&r);
}

Test(plurality, tie_caller_without_a_tie_still_has_a_winner) {
  agg_vote v[] = {vote(C, 0), vote(C, 0), vote(A, 0)};
  agg_result r;

  cr_assert_eq(agg_plurality(3, v, COUNT(v), &tie_caller, &r), AGG_OK);
  cr_assert_eq(r.winner, C);
  assert_no_tie(&r);
  agg_result_free(&r);
}

Test(plurality, tie_random_follows_the_documented_generator) {
  /* Three-way tie: 2^64 mod 3 = 1, so only the output 2^64-1 would be
   * redrawn; seed 0's first output is 0xe220a8397b1dcdaf. */
  agg_vote v[] = {vote(A, 0), vote(B, 0), vote(C, 0)};
  agg_opts o = {.tie = AGG_TIE_RANDOM, .seed = 0};
  int seen[3] = {0, 0, 0};
  uint64_t seed;
  agg_result r;

  cr_assert_eq(agg_plurality(3, v, 3, &o, &r), AGG_OK);
  cr_assert_eq(r.winner, (long)(0xe220a8397b1dcdafULL % 3));
  ASSERT_TIES(&r, A, B, C);
  agg_result_free(&r);

  for (seed = 0; seed < 200; seed++) {
    uint64_t s = seed;
    long want = (long)(ref_splitmix64(&s) % 3);

    o.seed = seed;
    cr_assert_eq(agg_plurality(3, v, 3, &o, &r), AGG_OK);
    cr_assert_eq(r.winner, want, "seed %llu", (unsigned long long)seed);
    seen[r.winner]++;
    agg_result_free(&r);
  }
  /* Every tied candidate gets picked for some seed. */
  cr_assert(seen[0] > 30 && seen[1] > 30 && seen[2] > 30);
}

Test(plurality, tie_random_is_deterministic_and_within_ties) {
  agg_vote v[] = {vote(B, 0), vote(D, 0), vote(A, 0),
                  vote(A, 0), vote(B, 0), vote(D, 0)};
  agg_opts o = {.tie = AGG_TIE_RANDOM, .seed = 0xDEADBEEFULL};
  agg_result r1, r2;

  cr_assert_eq(agg_plurality(5, v, COUNT(v), &o, &r1), AGG_OK);
  cr_assert_eq(agg_plurality(5, v, COUNT(v), &o, &r2), AGG_OK);
  cr_assert_eq(r1.winner, r2.winner);
  cr_assert(r1.winner == A || r1.winner == B || r1.winner == D);
  ASSERT_TIES(&r1, A, B, D);
  agg_result_free(&r1);
  agg_result_free(&r2);
}

Test(plurality, invalid_choices_are_rejected_one_by_one) {
  agg_vote v[] = {vote(-1, 0), vote(3, 0), vote(LONG_MIN, 0), vote(LONG_MAX, 0),
                  vote(C, 0)};
  agg_result r;
  size_t i;

  cr_assert_eq(agg_plurality(3, v, COUNT(v), NULL, &r), AGG_OK);
  for (i = 0; i < 4; i++)
    cr_assert_eq(r.status[i], AGG_BALLOT_OUT_OF_RANGE);
  cr_assert_eq(r.status[4], AGG_BALLOT_OK);
  cr_assert_eq(r.counted, 1);
  cr_assert_eq(r.winner, C);
  ASSERT_SCORES(&r, 0, 0, 1);
  agg_result_free(&r);
}

Test(plurality, no_valid_votes_means_no_winner) {
  agg_vote v[] = {vote(-1, 0), vote(9, 0)};
  agg_result r;

  cr_assert_eq(agg_plurality(3, v, COUNT(v), NULL, &r), AGG_OK);
  cr_assert_eq(r.winner, AGG_NO_WINNER);
  cr_assert_eq(r.counted, 0);
  assert_no_tie(&r);
  ASSERT_ORDER(&r, A, B, C);
  agg_result_free(&r);

  cr_assert_eq(agg_plurality(3, NULL, 0, &tie_caller, &r), AGG_OK);
  cr_assert_eq(r.winner, AGG_NO_WINNER);
  assert_no_tie(&r);
  ASSERT_SCORES(&r, 0, 0, 0);
  agg_result_free(&r);
}

Test(plurality, zero_candidates) {
  agg_vote v[] = {vote(0, 0)};
  agg_result r;

  cr_assert_eq(agg_plurality(0, v, 1, NULL, &r), AGG_OK);
  cr_assert_eq(r.winner, AGG_NO_WINNER);
  cr_assert_eq(r.status[0], AGG_BALLOT_OUT_OF_RANGE);
  cr_assert_eq(r.n, 0);
  agg_result_free(&r);
}

Test(plurality, bad_arguments) {
  agg_vote v[] = {vote(0, 0)};
  agg_opts bad = {.tie = (agg_tie)7};
  agg_result r;

  cr_assert_eq(agg_plurality(2, v, 1, NULL, NULL), AGG_EINVAL);
  cr_assert_eq(agg_plurality(2, NULL, 1, NULL, &r), AGG_EINVAL);
  assert_zeroed(&r);
  cr_assert_eq(agg_plurality(2, v, 1, &bad, &r), AGG_EINVAL);
  assert_zeroed(&r);
  cr_assert_eq(agg_plurality((size_t)LONG_MAX + 1, v, 1, NULL, &r), AGG_EINVAL);
  assert_zeroed(&r);
  agg_result_free(&r); /* freeing a zeroed result is harmless */
  agg_result_free(NULL);
}

/* --- Weighted mean and median -------------------------------------------- */

Test(weighted_mean, sums_confidences) {
  /* A has fewer votes but more total confidence. */
  agg_vote v[] = {vote(A, 0.9), vote(B, 0.3), vote(B, 0.25), vote(B, 0.125),
                  vote(A, 0.0)};
  agg_result r;

  cr_assert_eq(agg_weighted_mean(3, v, COUNT(v), NULL, &r), AGG_OK);
  cr_assert_eq(r.winner, A);
  ASSERT_SCORES(&r, 0.9, 0.675, 0);
  cr_assert_eq(r.votes[A], 2);
  cr_assert_eq(r.votes[B], 3);
  cr_assert_eq(r.votes[C], 0);
  ASSERT_ORDER(&r, A, B, C);
  agg_result_free(&r);
}

Test(weighted_mean, rejects_confidence_outside_0_1) {
  agg_vote v[] = {vote(A, NAN),   vote(A, INFINITY), vote(A, -INFINITY),
                  vote(A, -0.01), vote(A, 1.0001),   vote(A, 7),
                  vote(B, 0.0),   vote(B, 1.0),      vote(B, -0.0),
                  vote(9, NAN)};
  agg_result r;
  size_t i;

  cr_assert_eq(agg_weighted_mean(2, v, COUNT(v), NULL, &r), AGG_OK);
  for (i = 0; i < 6; i++)
    cr_assert_eq(r.status[i], AGG_BALLOT_BAD_CONFIDENCE, "ballot %zu", i);
  for (i = 6; i < 9; i++)
    cr_assert_eq(r.status[i], AGG_BALLOT_OK, "ballot %zu", i);
  /* The choice is checked first. */
  cr_assert_eq(r.status[9], AGG_BALLOT_OUT_OF_RANGE);
  cr_assert_eq(r.counted, 3);
  cr_assert_eq(r.winner, B);
  ASSERT_SCORES(&r, 0, 1);
  agg_result_free(&r);
}

Test(weighted_mean, zero_confidence_voters_still_name_a_winner) {
  agg_vote v[] = {vote(B, 0.0)};
  agg_result r;

  cr_assert_eq(agg_weighted_mean(3, v, 1, NULL, &r), AGG_OK);
  cr_assert_eq(r.winner, B);
  assert_no_tie(&r);
  agg_result_free(&r);
}

Test(weighted_mean, equal_sums_tie) {
  agg_vote v[] = {vote(C, 0.5), vote(A, 0.25), vote(A, 0.25), vote(B, 0.1)};
  agg_result r;

  cr_assert_eq(agg_weighted_mean(3, v, COUNT(v), &tie_caller, &r), AGG_OK);
  cr_assert_eq(r.winner, AGG_NO_WINNER);
  ASSERT_TIES(&r, A, C);
  agg_result_free(&r);
}

Test(confidence_median, medians_per_option) {
  /* A: 0.9 0.1 0.8 -> 0.8; B: 0.5 1.0 -> 0.75; C: 0.2 0.6 0.4 0.3 -> 0.35;
   * D: nobody. Groups arrive interleaved. */
  agg_vote v[] = {vote(A, 0.9), vote(C, 0.2), vote(B, 0.5),
                  vote(A, 0.1), vote(C, 0.6), vote(B, 1.0),
                  vote(C, 0.4), vote(A, 0.8), vote(C, 0.3)};
  agg_result r;

  cr_assert_eq(agg_confidence_median(4, v, COUNT(v), NULL, &r), AGG_OK);
  ASSERT_SCORES(&r, 0.8, 0.75, 0.35, NAN);
  cr_assert_eq(r.winner, A);
  ASSERT_ORDER(&r, A, B, C, D);
  cr_assert_eq(r.votes[C], 4);
  cr_assert_eq(r.votes[D], 0);
  agg_result_free(&r);
}

Test(confidence_median, robust_to_an_outlier) {
  /* The mean of A would be 0.6; one zero does not drag its median. */
  agg_vote v[] = {vote(A, 0.9), vote(A, 0.9), vote(A, 0.0), vote(B, 0.85)};
  agg_result r;

  cr_assert_eq(agg_confidence_median(2, v, COUNT(v), NULL, &r), AGG_OK);
  ASSERT_SCORES(&r, 0.9, 0.85);
  cr_assert_eq(r.winner, A);
  agg_result_free(&r);
}

Test(confidence_median, bad_confidence_and_ties) {
  agg_vote v[] = {vote(A, 0.5), vote(B, NAN), vote(B, 0.5), vote(C, 2)};
  agg_result r;

  cr_assert_eq(agg_confidence_median(3, v, COUNT(v), NULL, &r), AGG_OK);
  cr_assert_eq(r.status[1], AGG_BALLOT_BAD_CONFIDENCE);
  cr_assert_eq(r.status[3], AGG_BALLOT_BAD_CONFIDENCE);
  ASSERT_SCORES(&r, 0.5, 0.5, NAN);
  cr_assert_eq(r.winner, A);
  ASSERT_TIES(&r, A, B);
  agg_result_free(&r);
}

Test(confidence_median, nothing_counted) {
  agg_result r;

  cr_assert_eq(agg_confidence_median(2, NULL, 0, NULL, &r), AGG_OK);
  ASSERT_SCORES(&r, NAN, NAN);
  cr_assert_eq(r.winner, AGG_NO_WINNER);
  agg_result_free(&r);
}

/* --- Borda --------------------------------------------------------------- */

Test(borda, full_ballots) {
  /* n = 3: first 2 points, second 1, third 0. C = 2+2+1, A = 1+0+2,
   * B = 0+1+0. */
  agg_ordering b[] = {RANKED(-1, C, A, B), RANKED(-1, C, B, A),
                      RANKED(-1, A, C, B)};
  agg_result r;

  cr_assert_eq(agg_borda(3, b, COUNT(b), NULL, &r), AGG_OK);
  ASSERT_SCORES(&r, 3, 1, 5);
  cr_assert_eq(r.winner, C);
  ASSERT_ORDER(&r, C, A, B);
  cr_assert_eq(r.votes[A], 3);
  cr_assert_eq(r.counted, 3);
  agg_result_free(&r);
}

Test(borda, partial_ballots_leave_unranked_at_zero) {
  /* n = 4: a lone first place still earns 3. */
  agg_ordering b[] = {RANKED(-1, D), RANKED(-1, B, D)};
  agg_result r;

  cr_assert_eq(agg_borda(4, b, COUNT(b), NULL, &r), AGG_OK);
  ASSERT_SCORES(&r, 0, 3, 0, 5);
  cr_assert_eq(r.votes[D], 2);
  cr_assert_eq(r.votes[A], 0);
  cr_assert_eq(r.winner, D);
  ASSERT_ORDER(&r, D, B, A, C);
  agg_result_free(&r);
}

Test(borda, malformed_ballots_count_nothing) {
  agg_ordering b[] = {
      RANKED(-1, A, B, A), /* duplicate */
      RANKED(-1, A, 3),    /* out of range */
      RANKED(-1, -1, B),   /* negative */
      ranked(NULL, 0, -1), /* empty */
      ranked(NULL, 2, -1), /* NULL items with a length */
      RANKED(99, C, B, A), /* self is not read by Borda */
  };
  agg_result r;

  cr_assert_eq(agg_borda(3, b, COUNT(b), NULL, &r), AGG_OK);
  cr_assert_eq(r.status[0], AGG_BALLOT_DUPLICATE);
  cr_assert_eq(r.status[1], AGG_BALLOT_OUT_OF_RANGE);
  cr_assert_eq(r.status[2], AGG_BALLOT_OUT_OF_RANGE);
  cr_assert_eq(r.status[3], AGG_BALLOT_EMPTY);
  cr_assert_eq(r.status[4], AGG_BALLOT_MALFORMED);
  cr_assert_eq(r.status[5], AGG_BALLOT_OK);
  cr_assert_eq(r.counted, 1);
  ASSERT_SCORES(&r, 0, 1, 2);
  cr_assert_eq(r.votes[A], 1);
  cr_assert_eq(r.winner, C);
  agg_result_free(&r);
}

Test(borda, duplicates_are_found_in_every_ballot) {
  /* The same candidates appear in many ballots; only the ballot repeating
   * one is refused (the stamp array is not cleared between ballots). */
  agg_ordering b[] = {RANKED(-1, A, B), RANKED(-1, B, A), RANKED(-1, B, B),
                      RANKED(-1, A, B)};
  agg_result r;

  cr_assert_eq(agg_borda(2, b, COUNT(b), NULL, &r), AGG_OK);
  cr_assert_eq(r.status[0], AGG_BALLOT_OK);
  cr_assert_eq(r.status[1], AGG_BALLOT_OK);
  cr_assert_eq(r.status[2], AGG_BALLOT_DUPLICATE);
  cr_assert_eq(r.status[3], AGG_BALLOT_OK);
  ASSERT_SCORES(&r, 2, 1);
  agg_result_free(&r);
}

Test(borda, ties) {
  agg_ordering b[] = {RANKED(-1, A, B, C), RANKED(-1, C, B, A)};
  agg_result r;

  /* A = 2, B = 2, C = 2. */
  cr_assert_eq(agg_borda(3, b, COUNT(b), NULL, &r), AGG_OK);
  cr_assert_eq(r.winner, A);
  ASSERT_TIES(&r, A, B, C);
  agg_result_free(&r);

  cr_assert_eq(agg_borda(3, b, COUNT(b), &tie_caller, &r), AGG_OK);
  cr_assert_eq(r.winner, AGG_NO_WINNER);
  ASSERT_TIES(&r, A, B, C);
  agg_result_free(&r);
}

Test(borda, single_candidate_wins_with_zero_points) {
  agg_ordering b[] = {RANKED(-1, A)};
  agg_result r;

  cr_assert_eq(agg_borda(1, b, 1, NULL, &r), AGG_OK);
  cr_assert_eq(r.winner, A);
  ASSERT_SCORES(&r, 0);
  agg_result_free(&r);
}

Test(borda, no_ballots) {
  agg_result r;

  cr_assert_eq(agg_borda(3, NULL, 0, NULL, &r), AGG_OK);
  cr_assert_eq(r.winner, AGG_NO_WINNER);
  cr_assert_eq(r.counted, 0);
  assert_no_tie(&r);
  agg_result_free(&r);
  cr_assert_eq(agg_borda(3, NULL, 2, NULL, &r), AGG_EINVAL);
  assert_zeroed(&r);
}

/* --- Condorcet ----------------------------------------------------------- */

static uint32_t pw(const agg_result *r, size_t i, size_t j) {
  return r->pairwise[i * r->n + j];
}

Test(condorcet, winner_and_pairwise_matrix) {
  agg_ordering b[] = {RANKED(-1, C, A, B), RANKED(-1, C, B, A),
                      RANKED(-1, A, C, B)};
  agg_result r;

  cr_assert_eq(agg_condorcet(3, b, COUNT(b), NULL, &r), AGG_OK);
  cr_assert_eq(r.winner, C);
  cr_assert_eq(r.cycle, 0);
  cr_assert_eq(pw(&r, C, A), 2);
  cr_assert_eq(pw(&r, A, C), 1);
  cr_assert_eq(pw(&r, C, B), 3);
  cr_assert_eq(pw(&r, B, C), 0);
  cr_assert_eq(pw(&r, A, B), 2);
  cr_assert_eq(pw(&r, B, A), 1);
  cr_assert_eq(pw(&r, A, A), 0);
  ASSERT_SCORES(&r, 1, 0, 2);
  ASSERT_ORDER(&r, C, A, B);
  assert_no_tie(&r);
  agg_result_free(&r);
}

Test(condorcet, differs_from_borda) {
  /* 3 x A>B>C, 2 x B>C>A: Borda gives B 7, A 6; but A beats B and C 3-2. */
  agg_ordering b[] = {RANKED(-1, A, B, C), RANKED(-1, A, B, C),
                      RANKED(-1, A, B, C), RANKED(-1, B, C, A),
                      RANKED(-1, B, C, A)};
  agg_result r;

  cr_assert_eq(agg_borda(3, b, COUNT(b), NULL, &r), AGG_OK);
  cr_assert_eq(r.winner, B);
  agg_result_free(&r);
  cr_assert_eq(agg_condorcet(3, b, COUNT(b), NULL, &r), AGG_OK);
  cr_assert_eq(r.winner, A);
  cr_assert_eq(pw(&r, A, B), 3);
  cr_assert_eq(pw(&r, B, A), 2);
  agg_result_free(&r);
}

Test(condorcet, cycle_has_no_winner) {
  agg_ordering b[] = {RANKED(-1, A, B, C), RANKED(-1, B, C, A),
                      RANKED(-1, C, A, B)};
  agg_result r;

  cr_assert_eq(agg_condorcet(3, b, COUNT(b), NULL, &r), AGG_OK);
  cr_assert_eq(r.winner, AGG_NO_WINNER);
  cr_assert_eq(r.cycle, 1);
  ASSERT_SCORES(&r, 1, 1, 1);
  cr_assert_eq(pw(&r, A, B), 2);
  cr_assert_eq(pw(&r, B, C), 2);
  cr_assert_eq(pw(&r, C, A), 2);
  assert_no_tie(&r);
  agg_result_free(&r);
}

Test(condorcet, pairwise_tie_has_no_winner) {
  agg_ordering b[] = {RANKED(-1, A, B), RANKED(-1, B, A)};
  agg_result r;

  cr_assert_eq(agg_condorcet(2, b, COUNT(b), &tie_first, &r), AGG_OK);
  cr_assert_eq(r.winner, AGG_NO_WINNER);
  cr_assert_eq(r.cycle, 1);
  ASSERT_SCORES(&r, 0.5, 0.5);
  agg_result_free(&r);
}

Test(condorcet, ranked_beats_unranked) {
  /* One ballot ranks only B: B beats A and C; A and C are not compared. */
  agg_ordering b[] = {RANKED(-1, B)};
  agg_result r;

  cr_assert_eq(agg_condorcet(3, b, 1, NULL, &r), AGG_OK);
  cr_assert_eq(r.winner, B);
  cr_assert_eq(pw(&r, B, A), 1);
  cr_assert_eq(pw(&r, B, C), 1);
  cr_assert_eq(pw(&r, A, C), 0);
  cr_assert_eq(pw(&r, C, A), 0);
  ASSERT_SCORES(&r, 0.5, 2, 0.5);
  agg_result_free(&r);
}

Test(condorcet, mixed_partial_ballots) {
  /* [A,B] [C] [B,C,A] [B]: A>C 1 (ballot 1) vs C>A 2 (2, 3); B>C 3 vs
   * C>B 1; A>B 1 vs B>A 2 (3, 4); [C] says nothing about A and B. */
  agg_ordering b[] = {RANKED(-1, A, B), RANKED(-1, C), RANKED(-1, B, C, A),
                      RANKED(-1, B)};
  agg_result r;

  cr_assert_eq(agg_condorcet(3, b, COUNT(b), NULL, &r), AGG_OK);
  cr_assert_eq(pw(&r, A, C), 1);
  cr_assert_eq(pw(&r, C, A), 2);
  cr_assert_eq(pw(&r, B, C), 3);
  cr_assert_eq(pw(&r, C, B), 1);
  cr_assert_eq(pw(&r, A, B), 1);
  cr_assert_eq(pw(&r, B, A), 2);
  cr_assert_eq(r.winner, B);
  ASSERT_SCORES(&r, 0, 2, 1);
  agg_result_free(&r);
}

Test(condorcet, empty_and_malformed) {
  agg_ordering b[] = {ranked(NULL, 0, -1), RANKED(-1, A, A)};
  agg_result r;

  cr_assert_eq(agg_condorcet(2, b, COUNT(b), NULL, &r), AGG_OK);
  cr_assert_eq(r.status[0], AGG_BALLOT_EMPTY);
  cr_assert_eq(r.status[1], AGG_BALLOT_DUPLICATE);
  cr_assert_eq(r.winner, AGG_NO_WINNER);
  /* Nothing was compared, so there is no cycle either. */
  cr_assert_eq(r.cycle, 0);
  cr_assert_eq(pw(&r, A, B), 0);
  agg_result_free(&r);

  cr_assert_eq(agg_condorcet(0, NULL, 0, NULL, &r), AGG_OK);
  cr_assert_eq(r.winner, AGG_NO_WINNER);
  cr_assert_eq(r.cycle, 0);
  agg_result_free(&r);
}

Test(condorcet, single_candidate) {
  agg_ordering b[] = {RANKED(-1, A)};
  agg_result r;

  cr_assert_eq(agg_condorcet(1, b, 1, NULL, &r), AGG_OK);
  cr_assert_eq(r.winner, A);
  cr_assert_eq(r.cycle, 0);
  agg_result_free(&r);
}

/* --- Peer ranking -------------------------------------------------------- */

/* Parses a judge reply from the fixtures into an ordering over A, B, C. */
static size_t parse_fixture(const char *name, long *items) {
  static const char *const labels[] = {"Response A", "Response B",
                                       "Response C"};
  char path[128];
  ranking_result rr;
  size_t len, i, n;
  char *text;

  snprintf(path, sizeof(path), "llm_council/%s", name);
  text = fixture_load(path, &len);
  cr_assert_eq(ranking_parse(text, len, labels, 3, NULL, 0, &rr), 0, "%s: %s",
               name, rr.reason);
  n = rr.n_order;
  for (i = 0; i < n; i++)
    items[i] = (long)rr.order[i];
  ranking_result_free(&rr);
  free(text);
  return n;
}

/* Rounds a positive x to two decimals as Python's round(x, 2) would for
 * these values (the test binary is not linked with libm). */
static double round2(double x) {
  return (double)(long long)(x * 100 + 0.5) / 100;
}

/* Provider notes 7.1: judges m1, m2, m3 own Responses A, B, C; C=(1+1+2)/3,
 * A=(2+3+1)/3, B=(3+2+3)/3, so llm-council reports m3, m1, m2. */
Test(peer_ranking, llm_council_worked_example_with_self_votes) {
  long items[3][3];
  agg_ordering b[3];
  agg_result r;
  size_t i;

  b[0] = ranked(items[0], parse_fixture("karpathy_m1.txt", items[0]), A);
  b[1] = ranked(items[1], parse_fixture("karpathy_m2.txt", items[1]), B);
  b[2] = ranked(items[2], parse_fixture("karpathy_m3.txt", items[2]), C);
  for (i = 0; i < 3; i++)
    cr_assert_eq(b[i].len, 3);

  cr_assert_eq(agg_peer_ranking(3, b, 3, &with_self, &r), AGG_OK);
  cr_assert_float_eq(r.avg_position[C], 4.0 / 3, 1e-12);
  cr_assert_float_eq(r.avg_position[A], 2.0, 1e-12);
  cr_assert_float_eq(r.avg_position[B], 8.0 / 3, 1e-12);
  cr_assert_eq(round2(r.avg_position[C]), 1.33);
  cr_assert_eq(round2(r.avg_position[A]), 2.0);
  cr_assert_eq(round2(r.avg_position[B]), 2.67);
  for (i = 0; i < 3; i++)
    cr_assert_eq(r.votes[i], 3);
  ASSERT_ORDER(&r, C, A, B);
  cr_assert_eq(r.winner, C);
  assert_no_tie(&r);
  /* Normalized Borda, E = 3: 1st 1, 2nd 0.5, 3rd 0. */
  ASSERT_SCORES(&r, 1.5 / 3, 0.5 / 3, 2.5 / 3);
  cr_assert_null(r.pairwise);
  agg_result_free(&r);
}

Test(peer_ranking, worked_example_without_self_votes) {
  /* Dropping each judge's own response: m1 ranks C, B; m2 ranks C, A;
   * m3 ranks A, B. */
  long items[3][3];
  agg_ordering b[3];
  agg_result r;

  b[0] = ranked(items[0], parse_fixture("karpathy_m1.txt", items[0]), A);
  b[1] = ranked(items[1], parse_fixture("karpathy_m2.txt", items[1]), B);
  b[2] = ranked(items[2], parse_fixture("karpathy_m3.txt", items[2]), C);

  cr_assert_eq(agg_peer_ranking(3, b, 3, NULL, &r), AGG_OK);
  cr_assert_float_eq(r.avg_position[A], 1.5, 1e-12);
  cr_assert_float_eq(r.avg_position[B], 2.0, 1e-12);
  cr_assert_float_eq(r.avg_position[C], 1.0, 1e-12);
  cr_assert_eq(r.votes[A], 2);
  cr_assert_eq(r.votes[B], 2);
  cr_assert_eq(r.votes[C], 2);
  /* E = 2: 1st 1, 2nd 0; each candidate is eligible on two ballots. */
  ASSERT_SCORES(&r, 0.5, 0, 1);
  cr_assert_eq(r.winner, C);
  ASSERT_ORDER(&r, C, A, B);
  agg_result_free(&r);
}

Test(peer_ranking, own_slot_already_removed_gives_the_same_result) {
  /* AnonymizedPeerReview never shows a judge its own response. */
  agg_ordering with[] = {RANKED(A, C, A, B), RANKED(B, C, B, A),
                         RANKED(C, A, C, B)};
  agg_ordering without[] = {RANKED(A, C, B), RANKED(B, C, A), RANKED(C, A, B)};
  agg_result r1, r2;
  size_t i;

  cr_assert_eq(agg_peer_ranking(3, with, 3, NULL, &r1), AGG_OK);
  cr_assert_eq(agg_peer_ranking(3, without, 3, NULL, &r2), AGG_OK);
  for (i = 0; i < 3; i++) {
    cr_assert_eq(r1.avg_position[i], r2.avg_position[i]);
    cr_assert_eq(r1.scores[i], r2.scores[i]);
    cr_assert_eq(r1.votes[i], r2.votes[i]);
    cr_assert_eq(r1.order[i], r2.order[i]);
  }
  cr_assert_eq(r1.winner, r2.winner);
  agg_result_free(&r1);
  agg_result_free(&r2);
}

Test(peer_ranking, equal_average_goes_to_more_ballots) {
  /* A and B both average 1.0, but two ballots put B first. */
  agg_ordering b[] = {RANKED(-1, B), RANKED(-1, B), RANKED(-1, A)};
  agg_result r;

  cr_assert_eq(agg_peer_ranking(3, b, COUNT(b), NULL, &r), AGG_OK);
  cr_assert_eq(r.winner, B);
  assert_no_tie(&r);
  ASSERT_ORDER(&r, B, A, C);
  cr_assert(isnan(r.avg_position[C]));
  /* C was never ranked but every ballot could have: 0, not NaN. */
  ASSERT_SCORES(&r, 1.0 / 3, 2.0 / 3, 0);
  agg_result_free(&r);
}

Test(peer_ranking, full_tie_uses_the_tie_rule) {
  agg_ordering b[] = {RANKED(-1, A, B), RANKED(-1, B, A)};
  agg_result r;

  cr_assert_eq(agg_peer_ranking(2, b, COUNT(b), NULL, &r), AGG_OK);
  cr_assert_eq(r.winner, A);
  ASSERT_TIES(&r, A, B);
  agg_result_free(&r);

  cr_assert_eq(agg_peer_ranking(2, b, COUNT(b), &tie_caller, &r), AGG_OK);
  cr_assert_eq(r.winner, AGG_NO_WINNER);
  ASSERT_TIES(&r, A, B);
  agg_result_free(&r);
}

Test(peer_ranking, bad_self_and_only_self) {
  agg_ordering b[] = {
      RANKED(5, A, B),  /* self out of range */
      RANKED(-2, A, B), /* only -1 means "no judge" */
      RANKED(C, C),     /* nothing left once self is dropped */
      RANKED(A, B, B),  /* duplicate */
      RANKED(A, B, C),
  };
  agg_result r;

  cr_assert_eq(agg_peer_ranking(3, b, COUNT(b), NULL, &r), AGG_OK);
  cr_assert_eq(r.status[0], AGG_BALLOT_OUT_OF_RANGE);
  cr_assert_eq(r.status[1], AGG_BALLOT_OUT_OF_RANGE);
  cr_assert_eq(r.status[2], AGG_BALLOT_EMPTY);
  cr_assert_eq(r.status[3], AGG_BALLOT_DUPLICATE);
  cr_assert_eq(r.status[4], AGG_BALLOT_OK);
  cr_assert_eq(r.counted, 1);
  cr_assert_eq(r.winner, B);
  /* A judged the one counted ballot, so nobody could rank A. */
  ASSERT_SCORES(&r, NAN, 1, 0);
  agg_result_free(&r);

  /* With self-votes included, C's vote for itself counts. */
  cr_assert_eq(agg_peer_ranking(3, b, COUNT(b), &with_self, &r), AGG_OK);
  cr_assert_eq(r.status[2], AGG_BALLOT_OK);
  cr_assert_eq(r.counted, 2);
  cr_assert_eq(r.votes[C], 2);
  cr_assert_float_eq(r.avg_position[C], 1.5, 1e-12);
  cr_assert_eq(r.winner, B);
  agg_result_free(&r);
}

Test(peer_ranking, nothing_counted) {
  agg_ordering b[] = {RANKED(A, A)};
  agg_result r;

  cr_assert_eq(agg_peer_ranking(1, b, 1, NULL, &r), AGG_OK);
  cr_assert_eq(r.status[0], AGG_BALLOT_EMPTY);
  cr_assert_eq(r.winner, AGG_NO_WINNER);
  ASSERT_SCORES(&r, NAN);
  cr_assert(isnan(r.avg_position[A]));
  agg_result_free(&r);

  cr_assert_eq(agg_peer_ranking(1, b, 1, &with_self, &r), AGG_OK);
  cr_assert_eq(r.winner, A);
  ASSERT_SCORES(&r, 1);
  agg_result_free(&r);
}

Test(aggregate, ballot_status_names) {
  cr_assert_str_eq(agg_ballot_status_name(AGG_BALLOT_OK), "ok");
  cr_assert_str_eq(agg_ballot_status_name(AGG_BALLOT_EMPTY), "empty");
  cr_assert_str_eq(agg_ballot_status_name(AGG_BALLOT_OUT_OF_RANGE),
                   "out_of_range");
  cr_assert_str_eq(agg_ballot_status_name(AGG_BALLOT_DUPLICATE), "duplicate");
  cr_assert_str_eq(agg_ballot_status_name(AGG_BALLOT_BAD_CONFIDENCE),
                   "bad_confidence");
  cr_assert_str_eq(agg_ballot_status_name(AGG_BALLOT_MALFORMED), "malformed");
  cr_assert_str_eq(agg_ballot_status_name((agg_ballot_status)42), "unknown");
}

/* --- Hundreds of members ------------------------------------------------- */

#define BIG 500
#define FAVOURITE 7

/* BIG ballots over BIG candidates: seeded shuffles, with FAVOURITE moved
 * to the front of three ballots in five; ballot b is judged by b. */
typedef struct big_election {
  long *items; /* BIG * BIG */
  agg_ordering *ballots;
} big_election;

static void big_init(big_election *e, size_t len) {
  uint64_t s = 12345;
  size_t b, i;

  e->items = malloc(sizeof(long) * BIG * BIG);
  e->ballots = malloc(sizeof(agg_ordering) * BIG);
  cr_assert(e->items != NULL && e->ballots != NULL);
  for (b = 0; b < BIG; b++) {
    long *o = e->items + b * BIG;

    for (i = 0; i < BIG; i++)
      o[i] = (long)i;
    for (i = BIG - 1; i > 0; i--) {
      size_t j = (size_t)(ref_splitmix64(&s) % (i + 1));
      long t = o[i];

      o[i] = o[j];
      o[j] = t;
    }
    if (b % 5 < 3) {
      for (i = 0; o[i] != FAVOURITE; i++)
        ;
      memmove(o + 1, o, i * sizeof(long));
      o[0] = FAVOURITE;
    }
    e->ballots[b] = ranked(o, len, (long)b);
  }
}

static void big_free(big_election *e) {
  free(e->items);
  free(e->ballots);
}

/* The position of c in ballot b, or len when unranked. */
static size_t big_pos(const big_election *e, size_t b, size_t c) {
  size_t i;

  for (i = 0; i < e->ballots[b].len; i++) {
    if ((size_t)e->ballots[b].items[i] == c)
      return i;
  }
  return e->ballots[b].len;
}

Test(scale, borda_500_by_500) {
  big_election e;
  struct timespec t0;
  agg_result r;
  double secs;
  size_t b, c;

  big_init(&e, BIG);
  clock_gettime(CLOCK_MONOTONIC, &t0);
  cr_assert_eq(agg_borda(BIG, e.ballots, BIG, NULL, &r), AGG_OK);
  secs = seconds_since(&t0);
  cr_assert(secs < 1.0, "Borda took %.3f s", secs);
  cr_assert_eq(r.counted, BIG);
  cr_assert_eq(r.winner, FAVOURITE);
  for (c = 0; c < BIG; c += 37) {
    double want = 0;

    for (b = 0; b < BIG; b++)
      want += (double)(BIG - 1 - big_pos(&e, b, c));
    cr_assert_eq(r.scores[c], want, "candidate %zu", c);
  }
  agg_result_free(&r);
  big_free(&e);
}

Test(scale, condorcet_500_by_500) {
  big_election e;
  struct timespec t0;
  agg_result r;
  double secs;
  size_t b, c, k;
  uint64_t s = 99;

  big_init(&e, BIG);
  clock_gettime(CLOCK_MONOTONIC, &t0);
  cr_assert_eq(agg_condorcet(BIG, e.ballots, BIG, NULL, &r), AGG_OK);
  secs = seconds_since(&t0);
  /* Loose: the n^2 pairs per full ballot are inherent. */
  cr_assert(secs < 4.0, "Condorcet took %.3f s", secs);
  cr_assert_eq(r.winner, FAVOURITE);
  cr_assert_eq(r.scores[FAVOURITE], BIG - 1);
  for (k = 0; k < 200; k++) {
    size_t i = (size_t)(ref_splitmix64(&s) % BIG);
    size_t j = (size_t)(ref_splitmix64(&s) % BIG);
    size_t want = 0;

    for (b = 0; b < BIG; b++)
      want += i != j && big_pos(&e, b, i) < big_pos(&e, b, j);
    cr_assert_eq(pw(&r, i, j), want, "pair %zu, %zu", i, j);
  }
  for (c = 0; c < BIG; c++) {
    if (c != FAVOURITE)
      cr_assert(pw(&r, FAVOURITE, c) > pw(&r, c, FAVOURITE));
  }
  agg_result_free(&r);
  big_free(&e);
}

Test(scale, condorcet_partial_ballots) {
  /* Top 20 of 500: ranked-over-unranked counts must match a naive count. */
  big_election e;
  agg_result r;
  size_t b, k;
  uint64_t s = 7;

  big_init(&e, 20);
  cr_assert_eq(agg_condorcet(BIG, e.ballots, BIG, NULL, &r), AGG_OK);
  for (k = 0; k < 300; k++) {
    size_t i = (size_t)(ref_splitmix64(&s) % BIG);
    size_t j = k < 50 ? FAVOURITE : (size_t)(ref_splitmix64(&s) % BIG);
    size_t want = 0;

    for (b = 0; b < BIG; b++)
      want += i != j && big_pos(&e, b, i) < big_pos(&e, b, j);
    cr_assert_eq(pw(&r, i, j), want, "pair %zu, %zu", i, j);
  }
  cr_assert_eq(r.winner, FAVOURITE);
  agg_result_free(&r);
  big_free(&e);
}

Test(scale, peer_ranking_500_by_500) {
  big_election e;
  struct timespec t0;
  agg_result r;
  double secs;
  size_t b, c;

  big_init(&e, BIG);
  clock_gettime(CLOCK_MONOTONIC, &t0);
  cr_assert_eq(agg_peer_ranking(BIG, e.ballots, BIG, NULL, &r), AGG_OK);
  secs = seconds_since(&t0);
  cr_assert(secs < 1.0, "peer ranking took %.3f s", secs);
  cr_assert_eq(r.winner, FAVOURITE);
  for (c = 0; c < BIG; c += 41) {
    size_t sum = 0;

    for (b = 0; b < BIG; b++) {
      size_t p = big_pos(&e, b, c), own = big_pos(&e, b, b);

      if (b == c)
        continue;
      /* Positions after the judge's own slot move up by one. */
      sum += p + 1 - (own < p);
    }
    cr_assert_eq(r.votes[c], BIG - 1);
    cr_assert_float_eq(r.avg_position[c], (double)sum / (BIG - 1), 1e-9,
                       "candidate %zu", c);
  }
  agg_result_free(&r);
  big_free(&e);
}

Test(scale, plurality_100k_votes) {
  size_t n = 100000, i;
  agg_vote *v = malloc(n * sizeof(*v));
  struct timespec t0;
  agg_result r;
  double secs;

  cr_assert_not_null(v);
  for (i = 0; i < n; i++)
    v[i] = vote((long)(i % BIG), (double)(i % 100) / 100);
  v[0].choice = 499; /* 499 gets one vote more than the rest */
  clock_gettime(CLOCK_MONOTONIC, &t0);
  cr_assert_eq(agg_plurality(BIG, v, n, NULL, &r), AGG_OK);
  cr_assert_eq(r.winner, 499);
  agg_result_free(&r);
  cr_assert_eq(agg_confidence_median(BIG, v, n, NULL, &r), AGG_OK);
  cr_assert_eq(r.counted, n);
  agg_result_free(&r);
  secs = seconds_since(&t0);
  cr_assert(secs < 1.0, "votes took %.3f s", secs);
  free(v);
}

/* --- Scale and edges, checked against naive references -------------------
 *
 * The references below recount from the ballots with the plainest loops
 * (no stamps, no counting sorts, no Copeland shortcut), so a bug in
 * aggregate.c's bookkeeping cannot hide in a shared helper. */

#define MANY 300

/* The documented RANDOM rule, written again: the first splitmix64 output
 * below the largest multiple of k, modulo k. */
static size_t ref_pick(uint64_t seed, size_t k) {
  uint64_t s = seed, limit = UINT64_MAX - (UINT64_MAX % k + 1) % k, x;

  /* limit is the largest multiple of k minus one, wrapping to
   * UINT64_MAX when k divides 2^64. */
  do {
    x = ref_splitmix64(&s);
  } while (x > limit);
  return (size_t)(x % k);
}

/* The expected order: named candidates first, then better[] descending
 * (NaN never occurs for named ones here), then index; a selection sort.
 * Returns how many share the top among named ones (0 when none is). */
static size_t ref_order(size_t n, const int *named, const double *better,
                        size_t *order) {
  unsigned char *used = calloc(n ? n : 1, 1);
  size_t i, k, top = 0;

  cr_assert_not_null(used);
  for (k = 0; k < n; k++) {
    size_t best = n;

    for (i = 0; i < n; i++) {
      if (used[i])
        continue;
      if (best == n || (named[i] && !named[best]) ||
          (named[i] == named[best] && named[i] && better[i] > better[best]))
        best = i;
    }
    used[best] = 1;
    order[k] = best;
  }
  for (k = 0; k < n && named[order[k]] && better[order[k]] == better[order[0]];
       k++)
    top++;
  free(used);
  return top;
}

static void assert_order_is(const agg_result *r, const size_t *want) {
  size_t i;

  for (i = 0; i < r->n; i++)
    cr_assert_eq(r->order[i], want[i], "order[%zu] = %zu, want %zu", i,
                 r->order[i], want[i]);
}

/* Checks winner, tie and ties for a result whose expected order and top
 * size are known, under the rule the call used. */
static void assert_top(const agg_result *r, const size_t *order, size_t top,
                       agg_tie tie, uint64_t seed) {
  size_t i;

  if (top == 0) {
    cr_assert_eq(r->winner, AGG_NO_WINNER);
    assert_no_tie(r);
    return;
  }
  if (top == 1) {
    cr_assert_eq(r->winner, (long)order[0]);
    assert_no_tie(r);
    return;
  }
  cr_assert_eq(r->tie, 1);
  cr_assert_eq(r->n_ties, top);
  for (i = 0; i < top; i++)
    cr_assert_eq(r->ties[i], order[i]); /* ascending: ties sort by index */
  if (tie == AGG_TIE_FIRST)
    cr_assert_eq(r->winner, (long)order[0]);
  else if (tie == AGG_TIE_CALLER)
    cr_assert_eq(r->winner, AGG_NO_WINNER);
  else
    cr_assert_eq(r->winner, (long)order[ref_pick(seed, top)]);
}

/* A vote is counted when its choice is a candidate and, where read, its
 * confidence a finite number in [0, 1]. */
static int ref_vote_ok(size_t n, const agg_vote *v, int need_confidence) {
  if (v->choice < 0 || v->choice >= (long)n)
    return 0;
  return !need_confidence ||
         (isfinite(v->confidence) && v->confidence >= 0 && v->confidence <= 1);
}

typedef enum ref_vote_kind {
  REF_PLURALITY,
  REF_WEIGHTED,
  REF_MEDIAN
} ref_vote_kind;

/* Recounts votes naively and checks every field of r. */
static void check_votes(size_t n, const agg_vote *v, size_t nb,
                        ref_vote_kind kind, agg_tie tie, uint64_t seed,
                        const agg_result *r) {
  int need = kind != REF_PLURALITY;
  int *named = calloc(n, sizeof(*named));
  double *score = calloc(n, sizeof(*score)), *group = calloc(nb + 1, 8);
  size_t *order = calloc(n, sizeof(*order)), c, b, counted = 0, top;

  cr_assert(named && score && group && order);
  for (b = 0; b < nb; b++) {
    int ok = ref_vote_ok(n, &v[b], need);

    cr_assert_eq(r->status[b],
                 ok ? AGG_BALLOT_OK
                    : (v[b].choice < 0 || v[b].choice >= (long)n
                           ? AGG_BALLOT_OUT_OF_RANGE
                           : AGG_BALLOT_BAD_CONFIDENCE),
                 "ballot %zu", b);
    counted += ok;
  }
  cr_assert_eq(r->counted, counted);
  for (c = 0; c < n; c++) {
    size_t k = 0, i, j;

    for (b = 0; b < nb; b++) {
      if (ref_vote_ok(n, &v[b], need) && v[b].choice == (long)c)
        group[k++] = v[b].confidence;
    }
    cr_assert_eq(r->votes[c], k, "votes[%zu]", c);
    named[c] = k > 0;
    if (kind == REF_PLURALITY) {
      score[c] = (double)k;
    } else if (kind == REF_WEIGHTED) {
      for (i = 0; i < k; i++)
        score[c] += group[i];
    } else if (k == 0) {
      score[c] = NAN;
    } else {
      for (i = 1; i < k; i++) /* insertion sort */
        for (j = i; j > 0 && group[j - 1] > group[j]; j--) {
          double t = group[j];

          group[j] = group[j - 1];
          group[j - 1] = t;
        }
      score[c] = k % 2 ? group[k / 2] : (group[k / 2 - 1] + group[k / 2]) / 2;
    }
    if (isnan(score[c]))
      cr_assert(isnan(r->scores[c]), "scores[%zu] not NaN", c);
    else
      cr_assert_float_eq(r->scores[c], score[c], 1e-9, "scores[%zu]", c);
  }
  top = ref_order(n, named, score, order);
  assert_order_is(r, order);
  assert_top(r, order, top, tie, seed);
  free(named);
  free(score);
  free(group);
  free(order);
}

/* MANY voters over MANY candidates: voter v picks (37v + 11) mod MANY (a
 * permutation, one vote each) with confidence (v mod 65)/64, except every
 * seventh, which all pick 250 with confidence 0. */
static void many_votes(agg_vote *v) {
  size_t i;

  for (i = 0; i < MANY; i++) {
    v[i].choice = (long)((37 * i + 11) % MANY);
    v[i].confidence = (double)(i % 65) / 64;
    if (i % 7 == 0) {
      v[i].choice = 250;
      v[i].confidence = 0;
    }
  }
}

Test(scale_edges, votes_300_by_300) {
  agg_vote v[MANY];
  agg_result r;

  many_votes(v);
  cr_assert_eq(agg_plurality(MANY, v, MANY, NULL, &r), AGG_OK);
  check_votes(MANY, v, MANY, REF_PLURALITY, AGG_TIE_FIRST, 0, &r);
  /* The 43 sevenths and voter 47 (37 * 47 + 11 = 1750 = 5 * 300 + 250). */
  cr_assert_eq(r.winner, 250);
  cr_assert_eq(r.scores[250], 44);
  agg_result_free(&r);

  cr_assert_eq(agg_weighted_mean(MANY, v, MANY, NULL, &r), AGG_OK);
  check_votes(MANY, v, MANY, REF_WEIGHTED, AGG_TIE_FIRST, 0, &r);
  /* Voters 64, 129 and 194 (confidence 64/64) pick 279, 284 and 289:
   * a three-way tie at 1.0, above 250's 47/64 (voter 47's alone). */
  cr_assert_float_eq(r.scores[250], 47.0 / 64, 1e-15);
  ASSERT_TIES(&r, 279, 284, 289);
  cr_assert_eq(r.winner, 279);
  agg_result_free(&r);

  cr_assert_eq(agg_confidence_median(MANY, v, MANY, &tie_caller, &r), AGG_OK);
  check_votes(MANY, v, MANY, REF_MEDIAN, AGG_TIE_CALLER, 0, &r);
  cr_assert_eq(r.scores[250], 0); /* 43 zeros and one 47/64 */
  cr_assert_eq(r.winner, AGG_NO_WINNER);
  ASSERT_TIES(&r, 279, 284, 289);
  agg_result_free(&r);
}

Test(scale_edges, vote_ties_at_scale_under_every_rule) {
  /* 600 voters, voter v picks v mod 100: 100 candidates tie on 6 votes,
   * 200 are never named. */
  agg_vote v[2 * MANY];
  agg_opts rnd = {.tie = AGG_TIE_RANDOM};
  agg_result r;
  size_t i;
  uint64_t seed;

  for (i = 0; i < 2 * MANY; i++)
    v[i] = vote((long)(i % 100), 0.5);
  cr_assert_eq(agg_plurality(MANY, v, 2 * MANY, NULL, &r), AGG_OK);
  check_votes(MANY, v, 2 * MANY, REF_PLURALITY, AGG_TIE_FIRST, 0, &r);
  cr_assert_eq(r.n_ties, 100);
  agg_result_free(&r);
  cr_assert_eq(agg_weighted_mean(MANY, v, 2 * MANY, &tie_caller, &r), AGG_OK);
  check_votes(MANY, v, 2 * MANY, REF_WEIGHTED, AGG_TIE_CALLER, 0, &r);
  agg_result_free(&r);
  for (seed = 0; seed < 20; seed++) {
    rnd.seed = seed * 0x1234567ULL;
    cr_assert_eq(agg_confidence_median(MANY, v, 2 * MANY, &rnd, &r), AGG_OK);
    check_votes(MANY, v, 2 * MANY, REF_MEDIAN, AGG_TIE_RANDOM, rnd.seed, &r);
    agg_result_free(&r);
  }
}

Test(scale_edges, nan_and_infinite_confidences) {
  /* Every voter picks (v mod 30); one voter in six has an unusable
   * confidence, one has -0.0 (usable: it is >= 0), one a subnormal. */
  static const double bad[] = {NAN, INFINITY, -INFINITY, 1.0000000001, -1e-300};
  agg_vote v[MANY];
  agg_result r;
  size_t i, rejected = 0;

  for (i = 0; i < MANY; i++) {
    v[i] = vote((long)(i % 30), (double)(i % 17) / 16);
    if (i % 6 == 0) {
      v[i].confidence = bad[(i / 6) % COUNT(bad)];
      rejected++;
    } else if (i % 6 == 1) {
      v[i].confidence = -0.0;
    } else if (i % 6 == 2) {
      v[i].confidence = 4.9e-324;
    }
  }
  /* -NAN, from a sign flip, is no more a confidence than NAN. */
  v[6].confidence = -v[0].confidence;
  cr_assert(isnan(v[6].confidence));

  cr_assert_eq(agg_weighted_mean(30, v, MANY, NULL, &r), AGG_OK);
  check_votes(30, v, MANY, REF_WEIGHTED, AGG_TIE_FIRST, 0, &r);
  cr_assert_eq(r.counted, MANY - rejected);
  for (i = 0; i < MANY; i += 6)
    cr_assert_eq(r.status[i], AGG_BALLOT_BAD_CONFIDENCE, "ballot %zu", i);
  for (i = 0; i < 30; i++)
    cr_assert(isfinite(r.scores[i]), "scores[%zu] = %g", i, r.scores[i]);
  agg_result_free(&r);

  cr_assert_eq(agg_confidence_median(30, v, MANY, NULL, &r), AGG_OK);
  check_votes(30, v, MANY, REF_MEDIAN, AGG_TIE_FIRST, 0, &r);
  agg_result_free(&r);

  /* Plurality does not read confidences: every vote counts. */
  cr_assert_eq(agg_plurality(30, v, MANY, NULL, &r), AGG_OK);
  check_votes(30, v, MANY, REF_PLURALITY, AGG_TIE_FIRST, 0, &r);
  cr_assert_eq(r.counted, MANY);
  agg_result_free(&r);

  /* All unusable: nothing counted, no winner, medians NaN. */
  for (i = 0; i < MANY; i++)
    v[i].confidence = bad[i % COUNT(bad)];
  cr_assert_eq(agg_confidence_median(30, v, MANY, NULL, &r), AGG_OK);
  check_votes(30, v, MANY, REF_MEDIAN, AGG_TIE_FIRST, 0, &r);
  cr_assert_eq(r.counted, 0);
  cr_assert_eq(r.winner, AGG_NO_WINNER);
  agg_result_free(&r);
  cr_assert_eq(agg_weighted_mean(30, v, MANY, NULL, &r), AGG_OK);
  cr_assert_eq(r.counted, 0);
  cr_assert_eq(r.winner, AGG_NO_WINNER);
  agg_result_free(&r);
}

Test(scale_edges, all_malformed_votes) {
  agg_vote v[MANY];
  agg_result r;
  size_t i;

  for (i = 0; i < MANY; i++)
    v[i] = vote(i % 2 ? -1 - (long)i : MANY + (long)i, 0.5);
  cr_assert_eq(agg_plurality(MANY, v, MANY, NULL, &r), AGG_OK);
  check_votes(MANY, v, MANY, REF_PLURALITY, AGG_TIE_FIRST, 0, &r);
  cr_assert_eq(r.counted, 0);
  cr_assert_eq(r.winner, AGG_NO_WINNER);
  agg_result_free(&r);
}

/* --- Orderings at scale -------------------------------------------------- */

/* pos[b * n + c]: candidate c's 0-based place in ballot b, or the
 * ballot's length when unranked (below every ranked one). */
static size_t *ref_positions(size_t n, const agg_ordering *o, size_t nb) {
  size_t *pos = malloc(sizeof(size_t) * n * nb), b, c, k;

  cr_assert_not_null(pos);
  for (b = 0; b < nb; b++) {
    for (c = 0; c < n; c++)
      pos[b * n + c] = o[b].len;
    for (k = 0; k < o[b].len; k++)
      pos[b * n + (size_t)o[b].items[k]] = k;
  }
  return pos;
}

/* Checks a Condorcet result of valid ballots against a naive pairwise
 * count and Copeland scores. */
static void check_condorcet(size_t n, const agg_ordering *o, size_t nb,
                            const agg_result *r) {
  size_t *pos = ref_positions(n, o, nb), *order = calloc(n, sizeof(size_t));
  size_t *m = calloc(n * n, sizeof(size_t)); /* m[i*n+j]: i above j */
  int *named = calloc(n, sizeof(int));
  double *score = calloc(n, sizeof(double));
  long winner = AGG_NO_WINNER;
  size_t i, j, b;

  cr_assert(order && m && named && score);
  cr_assert_eq(r->counted, nb);
  for (b = 0; b < nb; b++) {
    const size_t *p = pos + b * n;

    for (i = 0; i < n; i++) {
      named[i] |= p[i] < o[b].len;
      for (j = i + 1; j < n; j++) {
        m[i * n + j] += p[i] < p[j];
        m[j * n + i] += p[j] < p[i];
      }
    }
  }
  for (i = 0; i < n; i++) {
    size_t wins = 0, ties = 0;

    for (j = 0; j < n; j++) {
      size_t ij = m[i * n + j], ji = m[j * n + i];

      if (j == i)
        continue;
      cr_assert_eq(pw(r, i, j), ij, "pair %zu, %zu", i, j);
      wins += ij > ji;
      ties += ij == ji;
    }
    score[i] = (double)wins + 0.5 * (double)ties;
    cr_assert_eq(r->scores[i], score[i], "scores[%zu]", i);
    if (wins == n - 1)
      winner = (long)i;
  }
  cr_assert_eq(r->winner, winner);
  cr_assert_eq(r->cycle, winner == AGG_NO_WINNER);
  assert_no_tie(r);
  ref_order(n, named, score, order);
  assert_order_is(r, order);
  free(pos);
  free(m);
  free(order);
  free(named);
  free(score);
}

Test(scale_edges, condorcet_200_candidates) {
  /* 101 ballots over 200 candidates, seeded shuffles with 123 always
   * second; every third ballot ranks only its top 30. 123 is rarely
   * anyone's first choice but beats everyone head to head. */
  enum { N = 200, NB = 101, W = 123 };
  long *items = malloc(sizeof(long) * N * NB);
  agg_ordering o[NB];
  agg_result r;
  size_t b, i, firsts = 0;
  uint64_t s = 2024;

  cr_assert_not_null(items);
  for (b = 0; b < NB; b++) {
    long *it = items + b * N;

    for (i = 0; i < N; i++)
      it[i] = (long)i;
    for (i = N - 1; i > 0; i--) {
      size_t j = (size_t)(ref_splitmix64(&s) % (i + 1));
      long t = it[i];

      it[i] = it[j];
      it[j] = t;
    }
    for (i = 0; it[i] != W; i++)
      ;
    if (i == 0) { /* W was first: swap it to second */
      it[0] = it[1];
      it[1] = W;
    } else if (i > 1) {
      memmove(it + 2, it + 1, (i - 1) * sizeof(long));
      it[1] = W;
    }
    firsts += it[0] == W;
    o[b] = ranked(it, b % 3 == 0 ? 30 : N, -1);
  }
  cr_assert_eq(firsts, 0);
  cr_assert_eq(agg_condorcet(N, o, NB, NULL, &r), AGG_OK);
  check_condorcet(N, o, NB, &r);
  cr_assert_eq(r.winner, W);
  cr_assert_eq(r.scores[W], N - 1);
  agg_result_free(&r);
  free(items);
}

Test(scale_edges, cycle_of_three_inside_50) {
  /* 99 ballots: 10 > 20 > 30, 20 > 30 > 10 and 30 > 10 > 20 in turn,
   * then the 47 others in ascending order. Each of the three beats the
   * next 66 to 33 and every other candidate 99 to 0; no one beats all. */
  enum { N = 50, NB = 99 };
  static const long heads[3][3] = {{10, 20, 30}, {20, 30, 10}, {30, 10, 20}};
  long items[NB][N];
  agg_ordering o[NB];
  agg_result r;
  size_t b, i, k;

  for (b = 0; b < NB; b++) {
    memcpy(items[b], heads[b % 3], sizeof(heads[0]));
    for (i = 0, k = 3; i < N; i++) {
      if (i != 10 && i != 20 && i != 30)
        items[b][k++] = (long)i;
    }
    o[b] = ranked(items[b], N, -1);
  }
  cr_assert_eq(agg_condorcet(N, o, NB, NULL, &r), AGG_OK);
  check_condorcet(N, o, NB, &r);
  cr_assert_eq(r.winner, AGG_NO_WINNER);
  cr_assert_eq(r.cycle, 1);
  cr_assert_eq(pw(&r, 10, 20), 66);
  cr_assert_eq(pw(&r, 20, 10), 33);
  cr_assert_eq(pw(&r, 30, 10), 66);
  cr_assert_eq(pw(&r, 10, 0), NB);
  cr_assert_eq(r.scores[10], N - 2);
  cr_assert_eq(r.scores[20], N - 2);
  cr_assert_eq(r.scores[30], N - 2);
  cr_assert_eq(r.order[0], 10);
  cr_assert_eq(r.order[1], 20);
  cr_assert_eq(r.order[2], 30);
  /* Candidate 0, first of the rest, beats the other 46. */
  cr_assert_eq(r.scores[0], 46);
  cr_assert_eq(r.order[3], 0);
  agg_result_free(&r);

  /* Borda sees no cycle: 10, 20 and 30 share the top score. */
  cr_assert_eq(agg_borda(N, o, NB, NULL, &r), AGG_OK);
  ASSERT_TIES(&r, 10, 20, 30);
  cr_assert_eq(r.scores[10], 33.0 * (49 + 48 + 47));
  agg_result_free(&r);
}

/* Checks a peer ranking of valid ballots against a naive recount. */
static void check_peer(size_t n, const agg_ordering *o, size_t nb,
                       int drop_self, agg_tie tie, uint64_t seed,
                       const agg_result *r) {
  size_t *order = calloc(n, sizeof(size_t)), c, b, i, top;
  int *named = calloc(n, sizeof(int));
  double *avg = calloc(n, sizeof(double));

  cr_assert(order && named && avg);
  cr_assert_eq(r->counted, nb);
  for (c = 0; c < n; c++) {
    size_t ranked_by = 0, pos_sum = 0, eligible = 0;
    double points = 0;

    for (b = 0; b < nb; b++) {
      int dropping = drop_self && o[b].self >= 0;
      size_t e = n - (dropping ? 1 : 0), k = 0;

      if (dropping && o[b].self == (long)c)
        continue;
      eligible++;
      for (i = 0; i < o[b].len; i++) {
        if (dropping && o[b].items[i] == o[b].self)
          continue;
        k++;
        if (o[b].items[i] == (long)c) {
          ranked_by++;
          pos_sum += k;
          points += e == 1 ? 1.0 : (double)(e - k) / (double)(e - 1);
          break;
        }
      }
    }
    cr_assert_eq(r->votes[c], ranked_by, "votes[%zu]", c);
    named[c] = ranked_by > 0;
    if (ranked_by > 0)
      cr_assert_float_eq(r->avg_position[c], (double)pos_sum / ranked_by, 1e-12,
                         "avg_position[%zu]", c);
    else
      cr_assert(isnan(r->avg_position[c]));
    if (eligible > 0)
      cr_assert_float_eq(r->scores[c], points / eligible, 1e-12, "scores[%zu]",
                         c);
    else
      cr_assert(isnan(r->scores[c]));
    avg[c] = ranked_by > 0 ? (double)pos_sum / ranked_by : 0;
  }
  /* The expected order by selection: named first, then the lower
   * average, then more ballots, then the lower index. */
  {
    unsigned char *used = calloc(n, 1);
    size_t k;

    cr_assert_not_null(used);
    for (k = 0; k < n; k++) {
      size_t best = n;

      for (c = 0; c < n; c++) {
        if (used[c])
          continue;
        if (best == n || (named[c] && !named[best]) ||
            (named[c] && named[best] &&
             (avg[c] < avg[best] ||
              (avg[c] == avg[best] && r->votes[c] > r->votes[best]))))
          best = c;
      }
      used[best] = 1;
      order[k] = best;
    }
    free(used);
  }
  assert_order_is(r, order);
  for (top = 0;
       top < n && named[order[top]] && avg[order[top]] == avg[order[0]] &&
       r->votes[order[top]] == r->votes[order[0]];
       top++)
    ;
  assert_top(r, order, top, tie, seed);
  free(order);
  free(named);
  free(avg);
}

Test(scale_edges, peer_ranking_500_judges_partial_ballots) {
  /* 500 judges, each ranking its top 40 of 500 (its own candidate among
   * them in some ballots), self excluded. */
  big_election e;
  agg_result r;
  size_t b, own = 0;

  big_init(&e, 40);
  for (b = 0; b < BIG; b++)
    own += big_pos(&e, b, b) < 40;
  cr_assert(own > 0 && own < BIG);
  cr_assert_eq(agg_peer_ranking(BIG, e.ballots, BIG, NULL, &r), AGG_OK);
  check_peer(BIG, e.ballots, BIG, 1, AGG_TIE_FIRST, 0, &r);
  cr_assert_eq(r.winner, FAVOURITE);
  agg_result_free(&r);
  /* The same ballots with self-votes counted. */
  cr_assert_eq(agg_peer_ranking(BIG, e.ballots, BIG, &with_self, &r), AGG_OK);
  check_peer(BIG, e.ballots, BIG, 0, AGG_TIE_FIRST, 0, &r);
  agg_result_free(&r);
  big_free(&e);
}

/* n rotations: ballot b ranks b+1, b+2, ... (mod n), all but b, judged by
 * b. Every candidate holds every place once among the others' ballots. */
static long *rotations(size_t n, agg_ordering *o) {
  long *items = malloc(sizeof(long) * n * n);
  size_t b, k;

  cr_assert_not_null(items);
  for (b = 0; b < n; b++) {
    for (k = 0; k + 1 < n; k++)
      items[b * n + k] = (long)((b + 1 + k) % n);
    o[b] = ranked(items + b * n, n - 1, (long)b);
  }
  return items;
}

Test(scale_edges, ranking_ties_at_scale) {
  agg_ordering o[MANY];
  long *items = rotations(MANY, o);
  agg_opts rnd = {.tie = AGG_TIE_RANDOM, .seed = 77};
  agg_result r;
  size_t c;

  /* Places 1..MANY-1 once each: average MANY/2, normalized Borda 1/2. */
  cr_assert_eq(agg_peer_ranking(MANY, o, MANY, NULL, &r), AGG_OK);
  cr_assert_eq(r.winner, 0);
  cr_assert_eq(r.n_ties, MANY);
  for (c = 0; c < MANY; c++) {
    cr_assert_eq(r.ties[c], c);
    cr_assert_eq(r.votes[c], MANY - 1);
    cr_assert_float_eq(r.avg_position[c], MANY / 2.0, 1e-12);
    cr_assert_float_eq(r.scores[c], 0.5, 1e-12);
  }
  agg_result_free(&r);
  cr_assert_eq(agg_peer_ranking(MANY, o, MANY, &rnd, &r), AGG_OK);
  check_peer(MANY, o, MANY, 1, AGG_TIE_RANDOM, rnd.seed, &r);
  agg_result_free(&r);

  /* Borda: each candidate gets 0 + 1 + ... + (MANY - 2) plus one point
   * per place it gains from the ballot being one short. */
  cr_assert_eq(agg_borda(MANY, o, MANY, &tie_caller, &r), AGG_OK);
  cr_assert_eq(r.winner, AGG_NO_WINNER);
  cr_assert_eq(r.n_ties, MANY);
  for (c = 0; c < MANY; c++)
    cr_assert_eq(r.scores[c], (double)(MANY - 1) * (MANY - 2) / 2 + (MANY - 1),
                 "scores[%zu]", c);
  agg_result_free(&r);

  /* Condorcet: i beats j on the ballots where it comes first, and the
   * rotations make half of the others beat i; with MANY even every pair
   * is decided one way or tied, and no one beats all. */
  cr_assert_eq(agg_condorcet(MANY, o, MANY, NULL, &r), AGG_OK);
  check_condorcet(MANY, o, MANY, &r);
  cr_assert_eq(r.winner, AGG_NO_WINNER);
  cr_assert_eq(r.cycle, 1);
  agg_result_free(&r);
  free(items);
}

Test(scale_edges, all_empty_ballots) {
  agg_ordering o[MANY];
  long selfs[MANY];
  agg_result r;
  size_t i;

  for (i = 0; i < MANY; i++)
    o[i] = ranked(i % 2 ? NULL : selfs, 0, (long)i);
  cr_assert_eq(agg_borda(MANY, o, MANY, NULL, &r), AGG_OK);
  cr_assert_eq(r.counted, 0);
  cr_assert_eq(r.winner, AGG_NO_WINNER);
  assert_no_tie(&r);
  for (i = 0; i < MANY; i++) {
    cr_assert_eq(r.status[i], AGG_BALLOT_EMPTY);
    cr_assert_eq(r.scores[i], 0);
    cr_assert_eq(r.order[i], i);
  }
  agg_result_free(&r);

  cr_assert_eq(agg_condorcet(MANY, o, MANY, NULL, &r), AGG_OK);
  cr_assert_eq(r.counted, 0);
  cr_assert_eq(r.winner, AGG_NO_WINNER);
  cr_assert_eq(r.cycle, 0); /* nothing counted is no cycle */
  for (i = 0; i < MANY; i++) {
    cr_assert_eq(r.status[i], AGG_BALLOT_EMPTY);
    /* Every pair is tied at 0 - 0. */
    cr_assert_eq(r.scores[i], (MANY - 1) / 2.0);
    cr_assert_eq(r.order[i], i);
  }
  agg_result_free(&r);

  /* Peer ranking: each judge ranks only itself, which is dropped. */
  for (i = 0; i < MANY; i++) {
    selfs[i] = (long)i;
    o[i] = ranked(&selfs[i], 1, (long)i);
  }
  cr_assert_eq(agg_peer_ranking(MANY, o, MANY, NULL, &r), AGG_OK);
  cr_assert_eq(r.counted, 0);
  cr_assert_eq(r.winner, AGG_NO_WINNER);
  for (i = 0; i < MANY; i++) {
    cr_assert_eq(r.status[i], AGG_BALLOT_EMPTY);
    cr_assert(isnan(r.scores[i]));
    cr_assert(isnan(r.avg_position[i]));
    cr_assert_eq(r.votes[i], 0);
  }
  agg_result_free(&r);
}

Test(scale_edges, all_malformed_ballots) {
  /* Each ballot is bad in one of four ways; none counts anywhere. */
  agg_ordering o[MANY];
  long dup[] = {3, 4, 3}, range[] = {5, MANY}, neg[] = {-2};
  agg_result r;
  size_t i;

  for (i = 0; i < MANY; i++) {
    switch (i % 4) {
    case 0:
      o[i] = ranked(NULL, 5, -1);
      break;
    case 1:
      o[i] = ranked(dup, COUNT(dup), -1);
      break;
    case 2:
      o[i] = ranked(range, COUNT(range), -1);
      break;
    default:
      o[i] = ranked(neg, COUNT(neg), -1);
      break;
    }
  }
  cr_assert_eq(agg_borda(MANY, o, MANY, NULL, &r), AGG_OK);
  for (i = 0; i < MANY; i++) {
    static const agg_ballot_status want[] = {
        AGG_BALLOT_MALFORMED, AGG_BALLOT_DUPLICATE, AGG_BALLOT_OUT_OF_RANGE,
        AGG_BALLOT_OUT_OF_RANGE};

    cr_assert_eq(r.status[i], want[i % 4], "ballot %zu", i);
  }
  cr_assert_eq(r.counted, 0);
  cr_assert_eq(r.winner, AGG_NO_WINNER);
  for (i = 0; i < MANY; i++)
    cr_assert_eq(r.votes[i], 0);
  agg_result_free(&r);

  cr_assert_eq(agg_condorcet(MANY, o, MANY, NULL, &r), AGG_OK);
  cr_assert_eq(r.counted, 0);
  cr_assert_eq(r.winner, AGG_NO_WINNER);
  cr_assert_eq(r.cycle, 0);
  for (i = 0; i < (size_t)MANY * MANY; i++)
    cr_assert_eq(r.pairwise[i], 0);
  agg_result_free(&r);

  /* Peer ranking also refuses a judge outside the candidates. */
  for (i = 0; i < MANY; i += 4)
    o[i] = ranked(dup, 2, MANY + 1);
  cr_assert_eq(agg_peer_ranking(MANY, o, MANY, NULL, &r), AGG_OK);
  cr_assert_eq(r.counted, 0);
  cr_assert_eq(r.winner, AGG_NO_WINNER);
  for (i = 0; i < MANY; i += 4)
    cr_assert_eq(r.status[i], AGG_BALLOT_OUT_OF_RANGE);
  agg_result_free(&r);
}
