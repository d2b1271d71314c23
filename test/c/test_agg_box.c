/* test_agg_box.c - unit tests for agg_box.c: limits, defaults of a new
 * ballot, an ordering cut at n + 1 items, growth over many ballots, the
 * work estimate, and results equal to calling the aggregators directly. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "agg_box.h"

/* Runs the box, frees it, and returns its first ballot's status. */
static int first_status(agg_box *b) {
  agg_result r;
  int status;

  cr_assert_eq(agg_box_run(b, NULL, &r), AGG_OK);
  status = r.status[0];
  agg_result_free(&r);
  agg_box_free(b);
  return status;
}

Test(agg_box, init_checks_the_kind_and_the_limits) {
  agg_box b;

  cr_assert_eq(agg_box_init(&b, RL_AGG_NONE, 3), AGG_EINVAL);
  agg_box_free(&b);
  cr_assert_eq(agg_box_init(&b, RL_AGG_COUNT, 3), AGG_EINVAL);
  agg_box_free(&b);
  cr_assert_eq(agg_box_init(&b, RL_AGG_PLURALITY, AGG_BOX_MAX_CANDIDATES + 1),
               AGG_BOX_TOO_MANY_CANDIDATES);
  agg_box_free(&b);
  cr_assert_eq(agg_box_init(&b, RL_AGG_CONDORCET, AGG_BOX_MAX_CONDORCET + 1),
               AGG_BOX_TOO_MANY_CANDIDATES);
  agg_box_free(&b);
  cr_assert_eq(agg_box_init(&b, RL_AGG_BORDA, AGG_BOX_MAX_CONDORCET + 1),
               AGG_OK);
  cr_assert_eq(b.n_ballots, 0);
  agg_box_free(&b);
}

Test(agg_box, a_new_ballot_is_empty_until_filled) {
  agg_box v, o;
  agg_result r;

  cr_assert_eq(agg_box_init(&v, RL_AGG_WEIGHTED_MEAN, 2), AGG_OK);
  cr_assert_eq(agg_box_add(&v), AGG_OK);
  cr_assert_eq(v.votes[0].choice, -1);
  cr_assert(isnan(v.votes[0].confidence));
  cr_assert_eq(agg_box_add(&v), AGG_OK);
  v.votes[1] = (agg_vote){.choice = 1, .confidence = 0.5};
  cr_assert_eq(agg_box_run(&v, NULL, &r), AGG_OK);
  cr_assert_eq(r.status[0], AGG_BALLOT_OUT_OF_RANGE);
  cr_assert_eq(r.status[1], AGG_BALLOT_OK);
  cr_assert_eq(r.winner, 1);
  agg_result_free(&r);
  agg_box_free(&v);

  cr_assert_eq(agg_box_init(&o, RL_AGG_PEER_RANKING, 2), AGG_OK);
  cr_assert_eq(agg_box_add(&o), AGG_OK);
  cr_assert_eq(o.orderings[0].self, -1);
  cr_assert_eq(o.orderings[0].len, 0);
  cr_assert_eq(first_status(&o), AGG_BALLOT_EMPTY);
}

Test(agg_box, an_ordering_is_full_at_n_plus_one_items) {
  agg_box b;

  cr_assert_eq(agg_box_init(&b, RL_AGG_BORDA, 3), AGG_OK);
  cr_assert_eq(agg_box_add(&b), AGG_OK);
  for (long i = 0; i < 3; i++)
    cr_assert_eq(agg_box_item(&b, i), AGG_OK);
  cr_assert_eq(agg_box_item(&b, 0), AGG_BOX_FULL, "the 4th of 3 candidates");
  cr_assert_eq(b.orderings[0].len, 4);
  /* n = 0: the first item already fills it. */
  agg_box_free(&b);
  cr_assert_eq(agg_box_init(&b, RL_AGG_BORDA, 0), AGG_OK);
  cr_assert_eq(agg_box_add(&b), AGG_OK);
  cr_assert_eq(agg_box_item(&b, 0), AGG_BOX_FULL);
  cr_assert_eq(first_status(&b), AGG_BALLOT_OUT_OF_RANGE);
}

Test(agg_box, ballot_and_item_limits) {
  agg_box b;

  cr_assert_eq(agg_box_init(&b, RL_AGG_PLURALITY, 2), AGG_OK);
  cr_assert_eq(agg_box_add(&b), AGG_OK);
  b.n_ballots = AGG_BOX_MAX_BALLOTS; /* as if full; nothing is read */
  cr_assert_eq(agg_box_add(&b), AGG_BOX_TOO_MANY_BALLOTS);
  cr_assert_eq(b.n_ballots, AGG_BOX_MAX_BALLOTS);
  b.n_ballots = 1;
  agg_box_free(&b);

  cr_assert_eq(agg_box_init(&b, RL_AGG_BORDA, 2), AGG_OK);
  cr_assert_eq(agg_box_check(&b), AGG_OK);
  b.n_items = AGG_BOX_MAX_ITEMS;
  cr_assert_eq(agg_box_check(&b), AGG_OK, "the limit itself is allowed");
  b.n_items = AGG_BOX_MAX_ITEMS + 1;
  cr_assert_eq(agg_box_check(&b), AGG_BOX_TOO_MANY_ITEMS);
  b.n_items = 0;
  agg_box_free(&b);
}

Test(agg_box, work_counts_candidates_ballots_items_cells_and_pairs) {
  agg_box b;

  cr_assert_eq(agg_box_init(&b, RL_AGG_CONDORCET, 3), AGG_OK);
  cr_assert_float_eq(agg_box_work(&b),
                     3 * AGG_BOX_COST_CANDIDATE + 9 * AGG_BOX_COST_CELL, 1e-9);
  cr_assert_eq(agg_box_add(&b), AGG_OK);
  for (long i = 0; i < 3; i++)
    cr_assert_eq(agg_box_item(&b, i), AGG_OK);
  cr_assert_float_eq(agg_box_work(&b),
                     3 * AGG_BOX_COST_CANDIDATE + AGG_BOX_COST_BALLOT +
                         3 * AGG_BOX_COST_ITEM + 9 * AGG_BOX_COST_CELL +
                         3 * AGG_BOX_COST_PAIR,
                     1e-9, "three items make three pairs");
  agg_box_free(&b);
  cr_assert_eq(agg_box_init(&b, RL_AGG_BORDA, 3), AGG_OK);
  cr_assert_eq(agg_box_add(&b), AGG_OK);
  for (long i = 0; i < 3; i++)
    cr_assert_eq(agg_box_item(&b, i), AGG_OK);
  cr_assert_float_eq(agg_box_work(&b),
                     3 * AGG_BOX_COST_CANDIDATE + AGG_BOX_COST_BALLOT +
                         3 * AGG_BOX_COST_ITEM,
                     1e-9, "no matrix but Condorcet's");
  agg_box_free(&b);
}

/* 1000 ballots of 50 items (the arrays grow many times) give exactly what
 * the aggregator gives over the same ballots built in place. */
Test(agg_box, grows_and_matches_the_aggregator) {
  enum { N = 50, BALLOTS = 1000 };
  static const rl_agg_kind kinds[] = {RL_AGG_BORDA, RL_AGG_CONDORCET,
                                      RL_AGG_PEER_RANKING};
  long *items = malloc(sizeof(long) * N * BALLOTS);
  agg_ordering *direct = malloc(sizeof(agg_ordering) * BALLOTS);
  agg_opts opts = {.tie = AGG_TIE_FIRST};

  cr_assert(items && direct);
  for (size_t k = 0; k < BALLOTS; k++) {
    for (size_t i = 0; i < N; i++)
      items[k * N + i] = (long)((i * 7 + k * 13) % N);
    direct[k] =
        (agg_ordering){.items = items + k * N, .len = N, .self = (long)(k % N)};
  }
  for (size_t t = 0; t < sizeof(kinds) / sizeof(kinds[0]); t++) {
    agg_result want, got;
    agg_box b;

    cr_assert_eq(agg_box_init(&b, kinds[t], N), AGG_OK);
    for (size_t k = 0; k < BALLOTS; k++) {
      cr_assert_eq(agg_box_add(&b), AGG_OK);
      b.orderings[k].self = direct[k].self;
      for (size_t i = 0; i < N; i++)
        cr_assert_eq(agg_box_item(&b, items[k * N + i]), AGG_OK);
    }
    cr_assert_eq(agg_run(kinds[t], N, NULL, direct, BALLOTS, &opts, &want),
                 AGG_OK);
    cr_assert_eq(agg_box_run(&b, &opts, &got), AGG_OK);
    cr_assert_eq(got.winner, want.winner);
    cr_assert_eq(got.counted, want.counted);
    cr_assert_eq(memcmp(got.order, want.order, N * sizeof(size_t)), 0);
    for (size_t c = 0; c < N; c++)
      cr_assert(got.scores[c] == want.scores[c] ||
                (isnan(got.scores[c]) && isnan(want.scores[c])));
    agg_result_free(&want);
    agg_result_free(&got);
    agg_box_free(&b);
  }
  free(items);
  free(direct);
}
