/* aggregate.c - plurality, confidence-weighted and median votes, Borda,
 * Condorcet and llm-council peer ranking over candidate indices.
 *
 * Each ballot costs time in its own length: validity is checked against a
 * per-candidate stamp (no per-ballot clearing), so hundreds of candidates
 * times hundreds of ballots stay cheap. Only Condorcet is quadratic, in
 * its n*n pairwise matrix. */
#include "aggregate.h"

#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* A candidate's sort key: named ones first, then k1 and k2 ascending
 * (aggregators negate "higher is better" values), then index. */
typedef struct agg_key {
  int named;
  double k1;
  double k2;
  size_t idx;
} agg_key;

/* --- Results ------------------------------------------------------------- */

static void result_zero(agg_result *r) {
  memset(r, 0, sizeof(*r));
  r->winner = AGG_NO_WINNER;
}

void agg_result_free(agg_result *r) {
  if (r == NULL)
    return;
  free(r->scores);
  free(r->votes);
  free(r->order);
  free(r->ties);
  free(r->avg_position);
  free(r->pairwise);
  free(r->status);
  result_zero(r);
}

/* calloc that never returns NULL for a zero count. */
static void *alloc0(size_t count, size_t size) {
  return calloc(count > 0 ? count : 1, size);
}

/* Allocates the arrays every aggregator fills. */
static int result_alloc(agg_result *r, size_t n, size_t n_ballots) {
  r->n = n;
  r->n_ballots = n_ballots;
  r->scores = alloc0(n, sizeof(*r->scores));
  r->votes = alloc0(n, sizeof(*r->votes));
  r->order = alloc0(n, sizeof(*r->order));
  r->status = alloc0(n_ballots, sizeof(*r->status));
  if (r->scores == NULL || r->votes == NULL || r->order == NULL ||
      r->status == NULL)
    return AGG_ENOMEM;
  return AGG_OK;
}

/* Checks the arguments shared by every aggregator and prepares *out. */
static int start(size_t n, const void *ballots, size_t n_ballots,
                 const agg_opts *opts, agg_result *out) {
  if (out == NULL)
    return AGG_EINVAL;
  result_zero(out);
  if ((ballots == NULL && n_ballots > 0) || n > (size_t)LONG_MAX)
    return AGG_EINVAL;
  if (opts != NULL && (unsigned)opts->tie >= AGG_TIE_COUNT)
    return AGG_EINVAL;
  return result_alloc(out, n, n_ballots);
}

/* Frees a half-built result and passes rc on. */
static int fail(agg_result *out, int rc) {
  agg_result_free(out);
  return rc;
}

const char *agg_ballot_status_name(agg_ballot_status s) {
  switch (s) {
  case AGG_BALLOT_OK:
    return "ok";
  case AGG_BALLOT_EMPTY:
    return "empty";
  case AGG_BALLOT_OUT_OF_RANGE:
    return "out_of_range";
  case AGG_BALLOT_DUPLICATE:
    return "duplicate";
  case AGG_BALLOT_BAD_CONFIDENCE:
    return "bad_confidence";
  case AGG_BALLOT_MALFORMED:
    return "malformed";
  }
  return "unknown";
}

/* --- Order, ties and the winner ------------------------------------------ */

static int key_cmp(const void *pa, const void *pb) {
  const agg_key *a = pa, *b = pb;

  if (a->named != b->named)
    return a->named ? -1 : 1;
  if (a->k1 != b->k1)
    return a->k1 < b->k1 ? -1 : 1;
  if (a->k2 != b->k2)
    return a->k2 < b->k2 ? -1 : 1;
  return a->idx < b->idx ? -1 : (a->idx > b->idx);
}

static uint64_t splitmix64(uint64_t *state) {
  uint64_t z = (*state += 0x9E3779B97F4A7C15ULL);

  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

/* An unbiased index below k (k > 0) drawn from the seed: splitmix64
 * outputs at or above the largest multiple of k are skipped. */
static size_t seeded_pick(uint64_t seed, size_t k) {
  uint64_t state = seed, rem = (UINT64_MAX % k + 1) % k; /* 2^64 mod k */
  uint64_t x;

  do {
    x = splitmix64(&state);
  } while (rem != 0 && x >= 0 - rem);
  return (size_t)(x % k);
}

/* Sorts keys into out->order and, when pick is set, decides the winner:
 * the one best key, or the tied best ones broken by opts->tie. */
static int finish(agg_result *out, agg_key *keys, const agg_opts *opts,
                  int pick) {
  size_t i, m = 0, n = out->n;

  if (n > 0)
    qsort(keys, n, sizeof(*keys), key_cmp);
  for (i = 0; i < n; i++)
    out->order[i] = keys[i].idx;
  if (!pick || n == 0 || out->counted == 0 || !keys[0].named)
    return AGG_OK;

  while (m < n && keys[m].named && keys[m].k1 == keys[0].k1 &&
         keys[m].k2 == keys[0].k2)
    m++;
  if (m == 1) {
    out->winner = (long)keys[0].idx;
    return AGG_OK;
  }

  /* Equal keys sort by index, so the tied set is already ascending. */
  out->tie = 1;
  out->n_ties = m;
  out->ties = malloc(m * sizeof(*out->ties));
  if (out->ties == NULL)
    return AGG_ENOMEM;
  memcpy(out->ties, out->order, m * sizeof(*out->ties));
  switch (opts != NULL ? opts->tie : AGG_TIE_FIRST) {
  case AGG_TIE_FIRST:
    out->winner = (long)out->ties[0];
    break;
  case AGG_TIE_RANDOM:
    out->winner = (long)out->ties[seeded_pick(opts->seed, m)];
    break;
  case AGG_TIE_CALLER:
  case AGG_TIE_COUNT: /* refused by start() */
    break;
  }
  return AGG_OK;
}

/* Keys for "higher score wins, only candidates with votes can win". */
static int finish_by_score(agg_result *out, const agg_opts *opts) {
  agg_key *keys = alloc0(out->n, sizeof(*keys));
  size_t i;
  int rc;

  if (keys == NULL)
    return AGG_ENOMEM;
  for (i = 0; i < out->n; i++) {
    keys[i].named = out->votes[i] > 0;
    keys[i].k1 = out->votes[i] > 0 ? -out->scores[i] : 0;
    keys[i].idx = i;
  }
  rc = finish(out, keys, opts, 1);
  free(keys);
  return rc;
}

/* --- Votes --------------------------------------------------------------- */

static agg_ballot_status vote_status(size_t n, const agg_vote *v,
                                     int need_confidence) {
  if (v->choice < 0 || (size_t)v->choice >= n)
    return AGG_BALLOT_OUT_OF_RANGE;
  /* Written so that NaN fails too. */
  if (need_confidence && !(v->confidence >= 0.0 && v->confidence <= 1.0))
    return AGG_BALLOT_BAD_CONFIDENCE;
  return AGG_BALLOT_OK;
}

/* Sets every vote's status and counts the valid ones per candidate; with
 * add_confidence, scores get the sum of confidences, else the count. */
static void tally_votes(const agg_vote *ballots, int need_confidence,
                        int add_confidence, agg_result *out) {
  size_t i;

  for (i = 0; i < out->n_ballots; i++) {
    const agg_vote *v = &ballots[i];

    out->status[i] = (unsigned char)vote_status(out->n, v, need_confidence);
    if (out->status[i] != AGG_BALLOT_OK)
      continue;
    out->counted++;
    out->votes[v->choice]++;
    out->scores[v->choice] += add_confidence ? v->confidence : 1.0;
  }
}

int agg_plurality(size_t n, const agg_vote *ballots, size_t n_ballots,
                  const agg_opts *opts, agg_result *out) {
  int rc = start(n, ballots, n_ballots, opts, out);

  if (rc != AGG_OK)
    return fail(out, rc);
  tally_votes(ballots, 0, 0, out);
  rc = finish_by_score(out, opts);
  return rc == AGG_OK ? rc : fail(out, rc);
}

int agg_weighted_mean(size_t n, const agg_vote *ballots, size_t n_ballots,
                      const agg_opts *opts, agg_result *out) {
  int rc = start(n, ballots, n_ballots, opts, out);

  if (rc != AGG_OK)
    return fail(out, rc);
  tally_votes(ballots, 1, 1, out);
  rc = finish_by_score(out, opts);
  return rc == AGG_OK ? rc : fail(out, rc);
}

static int double_cmp(const void *pa, const void *pb) {
  double a = *(const double *)pa, b = *(const double *)pb;

  return (a > b) - (a < b);
}

/* Groups the counted confidences by candidate (a counting sort on the
 * choice), then takes each group's median. */
static int medians(const agg_vote *ballots, agg_result *out) {
  size_t n = out->n, i, *next;
  double *conf;

  conf = alloc0(out->counted, sizeof(*conf));
  next = alloc0(n, sizeof(*next));
  if (conf == NULL || next == NULL) {
    free(conf);
    free(next);
    return AGG_ENOMEM;
  }
  for (i = 1; i < n; i++)
    next[i] = next[i - 1] + out->votes[i - 1];
  for (i = 0; i < out->n_ballots; i++) {
    if (out->status[i] == AGG_BALLOT_OK)
      conf[next[ballots[i].choice]++] = ballots[i].confidence;
  }
  /* next[i] now ends candidate i's group. */
  for (i = 0; i < n; i++) {
    size_t k = out->votes[i];
    double *g = conf + next[i] - k;

    if (k == 0) {
      out->scores[i] = NAN;
      continue;
    }
    qsort(g, k, sizeof(*g), double_cmp);
    out->scores[i] = k % 2 ? g[k / 2] : (g[k / 2 - 1] + g[k / 2]) / 2;
  }
  free(conf);
  free(next);
  return AGG_OK;
}

int agg_confidence_median(size_t n, const agg_vote *ballots, size_t n_ballots,
                          const agg_opts *opts, agg_result *out) {
  int rc = start(n, ballots, n_ballots, opts, out);

  if (rc != AGG_OK)
    return fail(out, rc);
  tally_votes(ballots, 1, 0, out);
  rc = medians(ballots, out);
  if (rc == AGG_OK)
    rc = finish_by_score(out, opts);
  return rc == AGG_OK ? rc : fail(out, rc);
}

/* --- Orderings ----------------------------------------------------------- */

/* Checks one ordering. stamp (n entries, zeroed once per call) remembers
 * the last mark that saw each candidate, so duplicates are found without
 * clearing anything per ballot; mark must differ for every ballot. With
 * drop_self, the judge's own candidate does not count toward the length. */
static agg_ballot_status ordering_status(size_t n, const agg_ordering *o,
                                         size_t *stamp, size_t mark,
                                         int check_self, int drop_self) {
  size_t i, kept = 0;

  if (o->items == NULL && o->len > 0)
    return AGG_BALLOT_MALFORMED;
  if (check_self && o->self != -1 && (o->self < 0 || (size_t)o->self >= n))
    return AGG_BALLOT_OUT_OF_RANGE;
  for (i = 0; i < o->len; i++) {
    long c = o->items[i];

    if (c < 0 || (size_t)c >= n)
      return AGG_BALLOT_OUT_OF_RANGE;
    if (stamp[c] == mark)
      return AGG_BALLOT_DUPLICATE;
    stamp[c] = mark;
    if (!(drop_self && c == o->self))
      kept++;
  }
  return kept > 0 ? AGG_BALLOT_OK : AGG_BALLOT_EMPTY;
}

/* Sets every ordering's status and counts the valid ones. */
static int check_orderings(const agg_ordering *ballots, int check_self,
                           int drop_self, agg_result *out) {
  size_t *stamp = alloc0(out->n, sizeof(*stamp));
  size_t i;

  if (stamp == NULL)
    return AGG_ENOMEM;
  for (i = 0; i < out->n_ballots; i++) {
    out->status[i] = (unsigned char)ordering_status(
        out->n, &ballots[i], stamp, i + 1, check_self, drop_self);
    if (out->status[i] == AGG_BALLOT_OK)
      out->counted++;
  }
  free(stamp);
  return AGG_OK;
}

int agg_borda(size_t n, const agg_ordering *ballots, size_t n_ballots,
              const agg_opts *opts, agg_result *out) {
  size_t i, k;
  int rc = start(n, ballots, n_ballots, opts, out);

  if (rc == AGG_OK)
    rc = check_orderings(ballots, 0, 0, out);
  if (rc != AGG_OK)
    return fail(out, rc);
  for (i = 0; i < n_ballots; i++) {
    if (out->status[i] != AGG_BALLOT_OK)
      continue;
    for (k = 0; k < ballots[i].len; k++) {
      long c = ballots[i].items[k];

      out->scores[c] += (double)(n - 1 - k);
      out->votes[c]++;
    }
  }
  rc = finish_by_score(out, opts);
  return rc == AGG_OK ? rc : fail(out, rc);
}

/* Fills out->pairwise. First A[i][j] counts ballots ranking both with i
 * above j (the only per-ballot quadratic work); then, with C[i] the
 * ballots ranking i, the ballots preferring i to j are
 * A[i][j] + (C[i] - A[i][j] - A[j][i]) = C[i] - A[j][i]. Counts are 32-bit
 * (agg_condorcet refuses more ballots): half the memory traffic of size_t,
 * which is most of the time spent here. */
static int pairwise_matrix(const agg_ordering *ballots, agg_result *out) {
  size_t n = out->n, b, p, q, i, j;
  uint32_t *m;

  if (n > 0 && n > SIZE_MAX / n)
    return AGG_ENOMEM;
  m = out->pairwise = alloc0(n * n, sizeof(*out->pairwise));
  if (m == NULL)
    return AGG_ENOMEM;
  for (b = 0; b < out->n_ballots; b++) {
    const agg_ordering *o = &ballots[b];

    if (out->status[b] != AGG_BALLOT_OK)
      continue;
    for (p = 0; p < o->len; p++) {
      uint32_t *row = m + (size_t)o->items[p] * n;

      out->votes[o->items[p]]++;
      for (q = p + 1; q < o->len; q++)
        row[o->items[q]]++;
    }
  }
  for (i = 0; i < n; i++) {
    for (j = i + 1; j < n; j++) {
      uint32_t a = m[i * n + j], c = m[j * n + i];

      m[i * n + j] = (uint32_t)out->votes[i] - c;
      m[j * n + i] = (uint32_t)out->votes[j] - a;
    }
  }
  return AGG_OK;
}

int agg_condorcet(size_t n, const agg_ordering *ballots, size_t n_ballots,
                  const agg_opts *opts, agg_result *out) {
  agg_key *keys = NULL;
  size_t i, j;
  int rc = start(n, ballots, n_ballots, opts, out);

  if (rc == AGG_OK && n_ballots > UINT32_MAX)
    rc = AGG_EINVAL;
  if (rc == AGG_OK)
    rc = check_orderings(ballots, 0, 0, out);
  if (rc == AGG_OK)
    rc = pairwise_matrix(ballots, out);
  if (rc == AGG_OK && (keys = alloc0(n, sizeof(*keys))) == NULL)
    rc = AGG_ENOMEM;
  if (rc != AGG_OK)
    return fail(out, rc);

  for (i = 0; i < n; i++) {
    size_t wins = 0, ties = 0;

    for (j = 0; j < n; j++) {
      uint32_t ij = out->pairwise[i * n + j], ji = out->pairwise[j * n + i];

      if (j != i) {
        wins += ij > ji;
        ties += ij == ji;
      }
    }
    out->scores[i] = (double)wins + 0.5 * (double)ties;
    if (out->counted > 0 && wins == n - 1)
      out->winner = (long)i;
    keys[i].named = out->votes[i] > 0;
    keys[i].k1 = -out->scores[i];
    keys[i].idx = i;
  }
  out->cycle = out->counted > 0 && out->winner == AGG_NO_WINNER;
  rc = finish(out, keys, opts, 0);
  free(keys);
  return rc == AGG_OK ? rc : fail(out, rc);
}

/* Sums positions and normalized Borda points per candidate over the
 * counted ballots; self_ballots[c] counts those judged by c. */
static void peer_sums(const agg_ordering *ballots, int drop_self,
                      size_t *pos_sum, size_t *self_ballots, agg_result *out) {
  size_t b, i;

  for (b = 0; b < out->n_ballots; b++) {
    const agg_ordering *o = &ballots[b];
    int dropping = drop_self && o->self >= 0;
    size_t e = out->n - (dropping ? 1 : 0), k = 0;

    if (out->status[b] != AGG_BALLOT_OK)
      continue;
    if (o->self >= 0)
      self_ballots[o->self]++;
    for (i = 0; i < o->len; i++) {
      long c = o->items[i];

      if (dropping && c == o->self)
        continue;
      k++;
      pos_sum[c] += k;
      out->votes[c]++;
      out->scores[c] += e == 1 ? 1.0 : (double)(e - k) / (double)(e - 1);
    }
  }
}

int agg_peer_ranking(size_t n, const agg_ordering *ballots, size_t n_ballots,
                     const agg_opts *opts, agg_result *out) {
  int drop_self = opts == NULL || !opts->include_self;
  size_t *pos_sum = NULL, *self_ballots = NULL, i;
  agg_key *keys = NULL;
  int rc = start(n, ballots, n_ballots, opts, out);

  if (rc == AGG_OK)
    rc = check_orderings(ballots, 1, drop_self, out);
  if (rc == AGG_OK) {
    pos_sum = alloc0(n, sizeof(*pos_sum));
    self_ballots = alloc0(n, sizeof(*self_ballots));
    keys = alloc0(n, sizeof(*keys));
    out->avg_position = alloc0(n, sizeof(*out->avg_position));
    if (pos_sum == NULL || self_ballots == NULL || keys == NULL ||
        out->avg_position == NULL)
      rc = AGG_ENOMEM;
  }
  if (rc != AGG_OK)
    goto done;

  peer_sums(ballots, drop_self, pos_sum, self_ballots, out);
  for (i = 0; i < n; i++) {
    /* The ballots that could have ranked i: a judge never ranks itself
     * when self-votes are dropped. */
    size_t eligible = out->counted - (drop_self ? self_ballots[i] : 0);

    out->scores[i] = eligible > 0 ? out->scores[i] / (double)eligible : NAN;
    out->avg_position[i] =
        out->votes[i] > 0 ? (double)pos_sum[i] / (double)out->votes[i] : NAN;
    keys[i].named = out->votes[i] > 0;
    keys[i].k1 = keys[i].named ? out->avg_position[i] : 0;
    keys[i].k2 = -(double)out->votes[i];
    keys[i].idx = i;
  }
  rc = finish(out, keys, opts, 1);

done:
  free(pos_sum);
  free(self_ballots);
  free(keys);
  return rc == AGG_OK ? rc : fail(out, rc);
}

/* --- By kind (enums.def) -------------------------------------------------- */

typedef int (*vote_fn)(size_t, const agg_vote *, size_t, const agg_opts *,
                       agg_result *);
typedef int (*ordering_fn)(size_t, const agg_ordering *, size_t,
                           const agg_opts *, agg_result *);

/* Each aggregator of enums.def is agg_<name> above, reading the ballots
 * its ballot column names. */
#define METHOD_none(name)                                                      \
  { AGG_BALLOTS_none, NULL, NULL }
#define METHOD_vote(name)                                                      \
  { AGG_BALLOTS_vote, agg_##name, NULL }
#define METHOD_ordering(name)                                                  \
  { AGG_BALLOTS_ordering, NULL, agg_##name }

static const struct {
  agg_ballot_kind ballots;
  vote_fn vote;
  ordering_fn ordering;
} methods[] = {
#define CX_AGGREGATOR(e, name, ballot) [e] = METHOD_##ballot(name),
#include "enums.def"
};

static const char *const kind_names[] = {
#define CX_AGGREGATOR(e, name, ballot) [e] = #name,
#include "enums.def"
};

static const char *const tie_names[] = {
#define CX_TIE(e, name) [e] = #name,
#include "enums.def"
};

agg_ballot_kind agg_kind_ballots(rl_agg_kind kind) {
  return (unsigned)kind < RL_AGG_COUNT ? methods[kind].ballots
                                       : AGG_BALLOTS_none;
}

int agg_run(rl_agg_kind kind, size_t n, const agg_vote *votes,
            const agg_ordering *orderings, size_t n_ballots,
            const agg_opts *opts, agg_result *out) {
  switch (agg_kind_ballots(kind)) {
  case AGG_BALLOTS_vote:
    return methods[kind].vote(n, votes, n_ballots, opts, out);
  case AGG_BALLOTS_ordering:
    return methods[kind].ordering(n, orderings, n_ballots, opts, out);
  case AGG_BALLOTS_none:
    break;
  }
  return AGG_EINVAL;
}

const char *agg_kind_name(rl_agg_kind kind) {
  return (unsigned)kind < RL_AGG_COUNT ? kind_names[kind] : NULL;
}

const char *agg_tie_name(agg_tie tie) {
  return (unsigned)tie < AGG_TIE_COUNT ? tie_names[tie] : NULL;
}
