/* fuzz_aggregate.c - the aggregators (aggregate.c: agg_run over every kind)
 * on ballots derived from the input, malformed ones included, checked for
 * what aggregate.h promises of a result, for determinism, and against the
 * same ballots gathered one by one in an agg_box (agg_box.c), which keeps
 * an ordering's first n + 1 items only and must not change the outcome.
 *
 * Input: kind byte (% RL_AGG_COUNT, so RL_AGG_NONE too), candidates byte
 * (% 13), tie byte (% 4: one past the last rule), include_self byte, seed
 * byte, then ballots until the input ends: a vote is a choice byte (minus
 * 2, so -2 and -1 come up) and a confidence byte (a table of edge values,
 * else byte / 200); an ordering is a self byte (minus 1), a length byte
 * (% (n + 4)) and that many item bytes (minus 1). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "agg_box.h"
#include "aggregate.h"
#include "fuzz_util.h"

#define MAX_BALLOTS 64
#define MAX_ITEMS 16

typedef struct ballots {
  agg_vote votes[MAX_BALLOTS];
  agg_ordering orderings[MAX_BALLOTS];
  long items[MAX_BALLOTS][MAX_ITEMS];
  size_t n;
} ballots;

static double confidence_of(unsigned b) {
  static const double edge[] = {NAN,  INFINITY, -INFINITY, -0.0, -0.01,
                                1.01, 0,        1,         0.5,  1e-300};
  return b < sizeof(edge) / sizeof(edge[0]) ? edge[b] : (double)b / 200;
}

static void read_ballots(fuzz_in *in, int ordering, size_t n, ballots *b) {
  memset(b, 0, sizeof(*b));
  while (in->n > 0 && b->n < MAX_BALLOTS) {
    if (ordering) {
      agg_ordering *o = &b->orderings[b->n];
      size_t len;

      o->self = (long)fuzz_byte(in) - 1;
      len = fuzz_byte(in) % (n + 4);
      len = len < MAX_ITEMS ? len : MAX_ITEMS;
      for (size_t k = 0; k < len; k++)
        b->items[b->n][k] = (long)fuzz_byte(in) - 1;
      o->items = len ? b->items[b->n] : NULL;
      o->len = len;
    } else {
      b->votes[b->n].choice = (long)fuzz_byte(in) - 2;
      b->votes[b->n].confidence = confidence_of(fuzz_byte(in));
    }
    b->n++;
  }
}

static int same_double(double a, double b) {
  return (isnan(a) && isnan(b)) || a == b;
}

static void check_result(const agg_result *r, rl_agg_kind kind, size_t n,
                         size_t n_ballots, const agg_opts *opts) {
  size_t counted = 0;
  unsigned char seen[16] = {0};

  FUZZ_CHECK(r->n == n && r->n_ballots == n_ballots, "n %zu, ballots %zu", r->n,
             r->n_ballots);
  FUZZ_CHECK(r->winner == AGG_NO_WINNER ||
                 (r->winner >= 0 && (size_t)r->winner < n),
             "winner %ld of %zu", r->winner, n);
  for (size_t i = 0; i < n_ballots; i++) {
    FUZZ_CHECK(r->status[i] <= AGG_BALLOT_MALFORMED, "status %u", r->status[i]);
    counted += r->status[i] == AGG_BALLOT_OK;
  }
  FUZZ_CHECK(counted == r->counted, "counted %zu, statuses say %zu", r->counted,
             counted);
  if (r->order != NULL) {
    for (size_t i = 0; i < n; i++) {
      FUZZ_CHECK(r->order[i] < n && !seen[r->order[i]],
                 "order is not a permutation at %zu", i);
      seen[r->order[i]] = 1;
    }
    if (r->winner != AGG_NO_WINNER)
      FUZZ_CHECK(r->order[0] == (size_t)r->winner || r->tie,
                 "the winner %ld comes first, not %zu", r->winner, r->order[0]);
  }
  if (r->ties != NULL) {
    FUZZ_CHECK(r->n_ties >= 2 && r->n_ties <= n, "%zu tied", r->n_ties);
    for (size_t i = 0; i < r->n_ties; i++)
      FUZZ_CHECK(r->ties[i] < n && (i == 0 || r->ties[i] > r->ties[i - 1]),
                 "ties are ascending candidates");
    if (r->winner != AGG_NO_WINNER) {
      int among = 0;

      for (size_t i = 0; i < r->n_ties; i++)
        among |= r->ties[i] == (size_t)r->winner;
      FUZZ_CHECK(among, "the winner %ld is not among the tied", r->winner);
      if (opts->tie == AGG_TIE_FIRST && kind != RL_AGG_CONDORCET)
        FUZZ_CHECK((size_t)r->winner == r->ties[0], "FIRST takes the lowest");
    } else if (kind != RL_AGG_CONDORCET) {
      FUZZ_CHECK(opts->tie == AGG_TIE_CALLER, "a tie left without a winner");
    }
  } else {
    FUZZ_CHECK(r->n_ties == 0, "no ties array, %zu tied", r->n_ties);
  }
  /* A candidate only wins when a counted ballot named it. */
  if (r->winner != AGG_NO_WINNER && r->votes != NULL)
    FUZZ_CHECK(r->votes[r->winner] > 0, "winner %ld got no ballot", r->winner);
  for (size_t i = 0; r->votes != NULL && i < n; i++)
    FUZZ_CHECK(r->votes[i] <= counted, "candidate %zu: %zu of %zu", i,
               r->votes[i], counted);
  if (kind == RL_AGG_CONDORCET && r->pairwise != NULL) {
    for (size_t i = 0; i < n; i++) {
      FUZZ_CHECK(r->pairwise[i * n + i] == 0, "%zu beats itself", i);
      for (size_t j = 0; j < n; j++)
        FUZZ_CHECK(r->pairwise[i * n + j] + r->pairwise[j * n + i] <= counted,
                   "pair %zu,%zu counted more than once a ballot", i, j);
    }
  }
  for (size_t i = 0; r->avg_position != NULL && i < n; i++)
    FUZZ_CHECK(isnan(r->avg_position[i]) ||
                   (r->avg_position[i] >= 1 && r->avg_position[i] <= n),
               "avg_position[%zu] = %g", i, r->avg_position[i]);
}

static void assert_same(const agg_result *a, const agg_result *b,
                        const char *what) {
  FUZZ_CHECK(a->winner == b->winner && a->tie == b->tie &&
                 a->cycle == b->cycle && a->counted == b->counted &&
                 a->n_ties == b->n_ties,
             "%s: winner %ld / %ld, counted %zu / %zu", what, a->winner,
             b->winner, a->counted, b->counted);
  FUZZ_CHECK(memcmp(a->status, b->status, a->n_ballots) == 0,
             "%s: statuses differ", what);
  for (size_t i = 0; i < a->n; i++)
    FUZZ_CHECK(same_double(a->scores[i], b->scores[i]) &&
                   (a->order == NULL || a->order[i] == b->order[i]),
               "%s: candidate %zu differs", what, i);
}

/* The same ballots through an agg_box, fed as the NIF feeds it. */
static void run_box(rl_agg_kind kind, size_t n, const ballots *b,
                    const agg_opts *opts, agg_result *out) {
  agg_box box;
  int rc = agg_box_init(&box, kind, n);

  FUZZ_CHECK(rc == AGG_OK, "agg_box_init %d", rc);
  for (size_t i = 0; i < b->n; i++) {
    FUZZ_CHECK(agg_box_add(&box) == AGG_OK, "agg_box_add");
    if (agg_kind_ballots(kind) == AGG_BALLOTS_ordering) {
      box.orderings[i].self = b->orderings[i].self;
      for (size_t k = 0; k < b->orderings[i].len; k++) {
        rc = agg_box_item(&box, b->orderings[i].items[k]);
        FUZZ_CHECK(rc == AGG_OK || rc == AGG_BOX_FULL, "agg_box_item %d", rc);
        if (rc == AGG_BOX_FULL)
          break;
      }
    } else {
      box.votes[i] = b->votes[i];
    }
  }
  FUZZ_CHECK(agg_box_check(&box) == AGG_OK, "agg_box_check");
  FUZZ_CHECK(agg_box_work(&box) >= 0, "agg_box_work");
  rc = agg_box_run(&box, opts, out);
  FUZZ_CHECK(rc == AGG_OK, "agg_box_run %d", rc);
  agg_box_free(&box);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  fuzz_in in = fuzz_in_make(data, size);
  rl_agg_kind kind = (rl_agg_kind)(fuzz_byte(&in) % RL_AGG_COUNT);
  size_t n = fuzz_byte(&in) % 13;
  agg_opts opts = {.tie = (agg_tie)(fuzz_byte(&in) % (AGG_TIE_COUNT + 1)),
                   .include_self = (int)(fuzz_byte(&in) & 1),
                   .seed = fuzz_byte(&in)};
  int ordering = agg_kind_ballots(kind) == AGG_BALLOTS_ordering;
  static ballots b;
  agg_result r, again, boxed;
  int rc;

  read_ballots(&in, ordering, n, &b);
  memset(&r, 0, sizeof(r)); /* agg_run leaves it alone for RL_AGG_NONE */
  rc = agg_run(kind, n, b.votes, b.orderings, b.n, &opts, &r);
  if (kind == RL_AGG_NONE || opts.tie == AGG_TIE_COUNT) {
    FUZZ_CHECK(rc == AGG_EINVAL, "kind %d, tie %d: rc %d", (int)kind,
               (int)opts.tie, rc);
    FUZZ_CHECK(r.winner == AGG_NO_WINNER || kind == RL_AGG_NONE,
               "an error leaves no winner");
    FUZZ_CHECK(r.scores == NULL && r.status == NULL && r.order == NULL,
               "an error leaves the result zeroed");
    return 0;
  }
  FUZZ_CHECK(rc == AGG_OK, "kind %d: rc %d", (int)kind, rc);
  check_result(&r, kind, n, b.n, &opts);
  FUZZ_CHECK(agg_run(kind, n, b.votes, b.orderings, b.n, &opts, &again) ==
                 AGG_OK,
             "again");
  assert_same(&r, &again, "a second run");
  run_box(kind, n, &b, &opts, &boxed);
  assert_same(&r, &boxed, "the box");
  agg_result_free(&r);
  agg_result_free(&again);
  agg_result_free(&boxed);
  return 0;
}
