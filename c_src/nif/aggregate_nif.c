/* aggregate_nif.c - the aggregators (aggregate.h) and the ranking parser
 * (ranking.h) as NIFs.
 *
 * Ballots are read in two passes: the first checks every term's type and
 * measures the work (ballots, ordering items, Condorcet's pairs), the
 * second copies them into C arrays. Ballots come from model output through
 * the Elixir side, which has already mapped candidates to indices, so a bad
 * term here is a caller bug (badarg), while a bad index is a bad ballot
 * (its status says why).
 *
 * An ordering longer than n + 1 is read only up to n + 1 items (the rest is
 * neither copied nor type-checked): its first n + 1 items already hold an
 * out-of-range or repeated candidate, so the ballot's status is the same,
 * and a hostile ballot cannot make us copy more than n + 1 items.
 *
 * Scheduling: a call whose estimated work is over AGG_NIF_BUDGET (about a
 * nanosecond per unit; the estimate covers reading the terms, the
 * aggregation and building the result) moves to a dirty CPU scheduler
 * before copying anything; the first pass stops as soon as the estimate
 * runs over. ranking_parse moves when its text or labels are large. Both
 * keep a normal-scheduler call well under a millisecond. */
#include "aggregate_nif.h"

#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "atoms.h"
#include "ranking.h"
#include "terms.h"

/* Hard limits, on any scheduler. Condorcet's matrix is n*n 32-bit counts,
 * and becomes n*n terms. */
#define AGG_NIF_MAX_CANDIDATES 100000
#define AGG_NIF_MAX_CONDORCET 2048
#define AGG_NIF_MAX_BALLOTS 1000000
#define AGG_NIF_MAX_ITEMS 10000000
#define RANKING_NIF_MAX_LABELS 100000
#define RANKING_NIF_MAX_LABEL_BYTES 1024

/* Work a normal-scheduler call may do, in units of about a nanosecond, and
 * what things cost (reading, aggregating and returning each), measured on
 * OTP 25 / x86-64: a call at the budget takes 0.15 to 0.3 ms. */
#ifndef AGG_NIF_BUDGET
#define AGG_NIF_BUDGET 250000
#endif
#define AGG_COST_BALLOT                                                        \
  80                           /* a tuple read, a status atom out, a median's  \
                                  share of sorting */
#define AGG_COST_ITEM 18       /* an ordering item read and counted */
#define AGG_COST_CANDIDATE 120 /* scores, votes, order: sorting and terms */
#define AGG_COST_CELL 12       /* Condorcet: a matrix cell, and its term */
#define AGG_COST_PAIR 2        /* Condorcet: two items of one ballot */
/* ranking_parse moves to a dirty scheduler past these sizes. Its worst
 * cases run at about 30 ns per byte of text: a JSON fallback (cJSON's
 * ~100 ns per value) and numbered lines full of word boundaries checked
 * against long labels. Typical replies take 0.5 ns per byte. */
#ifndef RANKING_NIF_DIRTY_BYTES
#define RANKING_NIF_DIRTY_BYTES (8 * 1024)
#endif
#define RANKING_NIF_DIRTY_LABELS 2048

/* An integer too big for a long: an index no candidate has. */
#define BIG_INDEX LONG_MAX

/* ------------------------------------------------------------------------ */
/* Results to terms                                                         */
/* ------------------------------------------------------------------------ */

static ERL_NIF_TERM make_bool(int b) { return b ? am_true : am_false; }

static ERL_NIF_TERM float_list(ErlNifEnv *env, const double *v, size_t n) {
  ERL_NIF_TERM list = enif_make_list(env, 0);

  if (v == NULL)
    return am_nil;
  for (size_t i = n; i > 0; i--)
    list = enif_make_list_cell(env, nif_make_float(env, v[i - 1]), list);
  return list;
}

static ERL_NIF_TERM pairwise_rows(ErlNifEnv *env, const uint32_t *m, size_t n) {
  ERL_NIF_TERM rows = enif_make_list(env, 0);

  if (m == NULL)
    return am_nil;
  for (size_t i = n; i > 0; i--) {
    ERL_NIF_TERM row = enif_make_list(env, 0);
    const uint32_t *r = m + (i - 1) * n;

    for (size_t j = n; j > 0; j--)
      row = enif_make_list_cell(env, enif_make_uint(env, r[j - 1]), row);
    rows = enif_make_list_cell(env, row, rows);
  }
  return rows;
}

static ERL_NIF_TERM status_list(ErlNifEnv *env, const unsigned char *s,
                                size_t n) {
  ERL_NIF_TERM list = enif_make_list(env, 0);

  for (size_t i = n; s != NULL && i > 0; i--) {
    unsigned v = s[i - 1];

    list = enif_make_list_cell(
        env,
        ea_ballot_status[v < EA_BALLOT_STATUSES ? v : EA_BALLOT_STATUSES - 1],
        list);
  }
  return list;
}

ERL_NIF_TERM aggregate_nif_result(ErlNifEnv *env, const agg_result *r) {
  ERL_NIF_TERM keys[] = {am_winner,   am_tie,    am_cycle,  am_scores,
                         am_votes,    am_order,  am_ties,   am_avg_position,
                         am_pairwise, am_status, am_counted};
  ERL_NIF_TERM values[sizeof(keys) / sizeof(keys[0])], map;

  values[0] =
      r->winner == AGG_NO_WINNER ? am_nil : enif_make_long(env, r->winner);
  values[1] = make_bool(r->tie);
  values[2] = make_bool(r->cycle);
  values[3] = float_list(env, r->scores, r->n);
  values[4] = nif_make_sizes(env, r->votes, r->n);
  values[5] = nif_make_sizes(env, r->order, r->n);
  values[6] = nif_make_sizes(env, r->ties, r->n_ties);
  values[7] = float_list(env, r->avg_position, r->n);
  values[8] = pairwise_rows(env, r->pairwise, r->n);
  values[9] = status_list(env, r->status, r->n_ballots);
  values[10] = enif_make_uint64(env, r->counted);
  /* The keys are distinct atoms, so this cannot fail. */
  enif_make_map_from_arrays(env, keys, values, sizeof(keys) / sizeof(keys[0]),
                            &map);
  return map;
}

/* ------------------------------------------------------------------------ */
/* aggregate: reading the arguments                                         */
/* ------------------------------------------------------------------------ */

typedef struct agg_args {
  rl_agg_kind kind;
  size_t n;
  agg_opts opts;
  size_t n_ballots;
  size_t n_items;          /* ordering items to copy (each ballot's capped) */
  double pairs;            /* Condorcet: item pairs within ballots */
  agg_vote *votes;         /* vote kinds: n_ballots */
  agg_ordering *orderings; /* ordering kinds: n_ballots */
  long *items;             /* every ordering's items, back to back */
} agg_args;

/* How a first pass ended. */
enum { SCAN_OK, SCAN_BADARG, SCAN_DIRTY, SCAN_LIMIT };

static int is_ordering_kind(rl_agg_kind k) {
  return agg_kind_ballots(k) == AGG_BALLOTS_ordering;
}

/* An aggregator of enums.def, but none. */
static int get_kind(ERL_NIF_TERM t, rl_agg_kind *kind) {
  int k = atom_index(t, ea_aggregator, RL_AGG_COUNT);

  *kind = (rl_agg_kind)k;
  return k > 0 && agg_kind_ballots(*kind) != AGG_BALLOTS_none;
}

/* A candidate index: any integer; those outside a long become BIG_INDEX,
 * which no candidate has. 0 when t is not an integer. */
static int get_index(ErlNifEnv *env, ERL_NIF_TERM t, long *out) {
  if (enif_get_long(env, t, out))
    return 1;
  if (enif_term_type(env, t) != ERL_NIF_TERM_TYPE_INTEGER)
    return 0;
  *out = BIG_INDEX;
  return 1;
}

/* A confidence: a float, an integer, or nil (NaN, which the confidence
 * aggregators reject). */
static int get_confidence(ErlNifEnv *env, ERL_NIF_TERM t, double *out) {
  ErlNifSInt64 i;

  if (enif_get_double(env, t, out))
    return 1;
  if (enif_is_identical(t, am_nil)) {
    *out = NAN;
    return 1;
  }
  if (enif_get_int64(env, t, &i)) {
    *out = (double)i;
    return 1;
  }
  if (enif_term_type(env, t) != ERL_NIF_TERM_TYPE_INTEGER)
    return 0;
  *out = INFINITY; /* a bignum: certainly outside [0, 1] */
  return 1;
}

/* Opts: a map; tie, seed and include_self are read when present. */
static int get_opts(ErlNifEnv *env, ERL_NIF_TERM t, agg_opts *opts) {
  ERL_NIF_TERM v;
  ErlNifUInt64 u;
  ErlNifSInt64 s;

  memset(opts, 0, sizeof(*opts));
  if (!enif_is_map(env, t))
    return 0;
  if (enif_get_map_value(env, t, am_tie, &v)) {
    int tie = atom_index(v, ea_tie, AGG_TIE_COUNT);
    if (tie < 0)
      return 0;
    opts->tie = (agg_tie)tie;
  }
  if (enif_get_map_value(env, t, am_seed, &v)) {
    if (enif_get_uint64(env, v, &u))
      opts->seed = u;
    else if (enif_get_int64(env, v, &s))
      opts->seed = (uint64_t)s;
    else
      return 0;
  }
  if (enif_get_map_value(env, t, am_include_self, &v)) {
    if (enif_is_identical(v, am_true))
      opts->include_self = 1;
    else if (!enif_is_identical(v, am_false))
      return 0;
  }
  return 1;
}

/* The estimated work of what has been counted so far. */
static double work_of(const agg_args *a) {
  double w = (double)a->n * AGG_COST_CANDIDATE +
             (double)a->n_ballots * AGG_COST_BALLOT +
             (double)a->n_items * AGG_COST_ITEM;

  if (a->kind == RL_AGG_CONDORCET)
    w += (double)a->n * (double)a->n * AGG_COST_CELL + a->pairs * AGG_COST_PAIR;
  return w;
}

/* Checks one ordering ballot {Items, Self}; *len is how many items will be
 * copied (at most n + 1). */
static int scan_ordering(ErlNifEnv *env, ERL_NIF_TERM t, size_t n,
                         size_t *len) {
  const ERL_NIF_TERM *tuple;
  ERL_NIF_TERM list, head;
  int arity;
  long v;

  *len = 0;
  if (!enif_get_tuple(env, t, &arity, &tuple) || arity != 2 ||
      !get_index(env, tuple[1], &v))
    return 0;
  list = tuple[0];
  while (*len <= n && enif_get_list_cell(env, list, &head, &list)) {
    if (!get_index(env, head, &v))
      return 0;
    (*len)++;
  }
  /* Stopped early, or at the end of a proper list. */
  return *len > n || enif_is_empty_list(env, list);
}

static int scan_vote(ErlNifEnv *env, ERL_NIF_TERM t) {
  const ERL_NIF_TERM *tuple;
  int arity;
  long choice;
  double conf;

  return enif_get_tuple(env, t, &arity, &tuple) && arity == 2 &&
         get_index(env, tuple[0], &choice) &&
         get_confidence(env, tuple[1], &conf);
}

/* First pass: checks every ballot's terms and counts the work. With
 * limited (a normal scheduler), returns SCAN_DIRTY as soon as the work
 * estimate passes AGG_NIF_BUDGET. */
static int scan_ballots(ErlNifEnv *env, ERL_NIF_TERM ballots, int limited,
                        agg_args *a, ERL_NIF_TERM *limit) {
  ERL_NIF_TERM list = ballots, head;
  int ordering = is_ordering_kind(a->kind);

  if (limited && work_of(a) > AGG_NIF_BUDGET)
    return SCAN_DIRTY;
  while (enif_get_list_cell(env, list, &head, &list)) {
    size_t len = 0;

    if (a->n_ballots == AGG_NIF_MAX_BALLOTS) {
      *limit = am_too_many_ballots;
      return SCAN_LIMIT;
    }
    if (ordering ? !scan_ordering(env, head, a->n, &len)
                 : !scan_vote(env, head))
      return SCAN_BADARG;
    a->n_ballots++;
    a->n_items += len;
    a->pairs += (double)len * (double)(len > 0 ? len - 1 : 0) / 2;
    if (a->n_items > AGG_NIF_MAX_ITEMS) {
      *limit = am_too_many_items;
      return SCAN_LIMIT;
    }
    if (limited && work_of(a) > AGG_NIF_BUDGET)
      return SCAN_DIRTY;
  }
  return enif_is_empty_list(env, list) ? SCAN_OK : SCAN_BADARG;
}

/* Second pass: copies the checked ballots. 0 when out of memory. */
static int copy_ballots(ErlNifEnv *env, ERL_NIF_TERM ballots, agg_args *a) {
  ERL_NIF_TERM list = ballots, head, items, item;
  const ERL_NIF_TERM *tuple;
  size_t b = 0, at = 0, cap = a->n_ballots > 0 ? a->n_ballots : 1;
  int arity;

  if (!is_ordering_kind(a->kind)) {
    a->votes = enif_alloc(cap * sizeof(*a->votes));
    if (a->votes == NULL)
      return 0;
    while (enif_get_list_cell(env, list, &head, &list)) {
      enif_get_tuple(env, head, &arity, &tuple);
      get_index(env, tuple[0], &a->votes[b].choice);
      get_confidence(env, tuple[1], &a->votes[b].confidence);
      b++;
    }
    return 1;
  }

  a->orderings = enif_alloc(cap * sizeof(*a->orderings));
  a->items = enif_alloc((a->n_items > 0 ? a->n_items : 1) * sizeof(long));
  if (a->orderings == NULL || a->items == NULL)
    return 0;
  while (enif_get_list_cell(env, list, &head, &list)) {
    agg_ordering *o = &a->orderings[b++];

    enif_get_tuple(env, head, &arity, &tuple);
    get_index(env, tuple[1], &o->self);
    o->items = a->items + at;
    o->len = 0;
    items = tuple[0];
    while (o->len <= a->n && enif_get_list_cell(env, items, &item, &items))
      get_index(env, item, &a->items[at + o->len++]);
    at += o->len;
  }
  return 1;
}

static void free_args(agg_args *a) {
  if (a->votes != NULL)
    enif_free(a->votes);
  if (a->orderings != NULL)
    enif_free(a->orderings);
  if (a->items != NULL)
    enif_free(a->items);
}

/* Runs aggregate; limited selects the normal-scheduler budget. Sets
 * *dirty (and returns 0) when the work is too big for it. */
static ERL_NIF_TERM aggregate_run(ErlNifEnv *env, int argc,
                                  const ERL_NIF_TERM argv[], int limited,
                                  int *dirty) {
  agg_args a;
  agg_result r;
  ErlNifUInt64 n;
  ERL_NIF_TERM limit = am_too_many_items, result;
  int rc;

  memset(&a, 0, sizeof(a));
  *dirty = 0;
  if (argc != 4 || !get_kind(argv[0], &a.kind) ||
      !enif_get_uint64(env, argv[1], &n) || !enif_is_list(env, argv[2]) ||
      !get_opts(env, argv[3], &a.opts))
    return enif_make_badarg(env);
  if (n > AGG_NIF_MAX_CANDIDATES ||
      (a.kind == RL_AGG_CONDORCET && n > AGG_NIF_MAX_CONDORCET))
    return nif_error(env, am_too_many_candidates);
  a.n = (size_t)n;

  switch (scan_ballots(env, argv[2], limited, &a, &limit)) {
  case SCAN_BADARG:
    return enif_make_badarg(env);
  case SCAN_DIRTY:
    *dirty = 1;
    return 0;
  case SCAN_LIMIT:
    return nif_error(env, limit);
  }

  if (!copy_ballots(env, argv[2], &a)) {
    free_args(&a);
    return nif_error(env, am_out_of_memory);
  }
  rc = agg_run(a.kind, a.n, a.votes, a.orderings, a.n_ballots, &a.opts, &r);
  if (rc != AGG_OK) {
    free_args(&a);
    return nif_error(env, rc == AGG_ENOMEM ? am_out_of_memory
                                           : am_invalid_arguments);
  }
  result = enif_make_tuple2(env, am_ok, aggregate_nif_result(env, &r));
  agg_result_free(&r);
  free_args(&a);
  if (limited)
    consume_timeslice(env, (size_t)work_of(&a), AGG_NIF_BUDGET);
  return result;
}

static ERL_NIF_TERM aggregate_dirty(ErlNifEnv *env, int argc,
                                    const ERL_NIF_TERM argv[]) {
  int dirty;

  return aggregate_run(env, argc, argv, 0, &dirty);
}

ERL_NIF_TERM aggregate_nif_aggregate(ErlNifEnv *env, int argc,
                                     const ERL_NIF_TERM argv[]) {
  int dirty;
  ERL_NIF_TERM result = aggregate_run(env, argc, argv, 1, &dirty);

  /* The first pass stopped once the estimate passed the budget. */
  return dirty ? schedule_if_large(env, SIZE_MAX, AGG_NIF_BUDGET, "aggregate",
                                   aggregate_dirty, argc, argv)
               : result;
}

/* ------------------------------------------------------------------------ */
/* ranking_parse and ranking_label                                          */
/* ------------------------------------------------------------------------ */

/* The labels as NUL-terminated strings in one block. */
typedef struct label_copy {
  char **labels;
  size_t n;
  size_t bytes; /* without the NULs */
  size_t *expected;
  size_t n_expected;
  int has_expected;
  int bad; /* a label or an expected index ranking_parse must refuse */
} label_copy;

static void free_labels(label_copy *lc) {
  if (lc->labels != NULL)
    enif_free(lc->labels);
  if (lc->expected != NULL)
    enif_free(lc->expected);
}

/* Checks the labels' and expected indices' types and measures them.
 * Labels the C parser would misread (a NUL inside, over
 * RANKING_NIF_MAX_LABEL_BYTES) or too many of either mark lc->bad. With
 * limited, stops with SCAN_DIRTY past RANKING_NIF_DIRTY_LABELS of either. */
static int scan_labels(ErlNifEnv *env, ERL_NIF_TERM labels,
                       ERL_NIF_TERM expected, int limited, label_copy *lc) {
  ERL_NIF_TERM list = labels, head;
  ErlNifBinary bin;
  ErlNifUInt64 u;
  size_t seen = 0;

  while (enif_get_list_cell(env, list, &head, &list)) {
    if (limited && ++seen > RANKING_NIF_DIRTY_LABELS)
      return SCAN_DIRTY;
    if (!enif_inspect_binary(env, head, &bin))
      return SCAN_BADARG;
    if (bin.size > RANKING_NIF_MAX_LABEL_BYTES ||
        memchr(bin.data, '\0', bin.size) != NULL ||
        lc->n == RANKING_NIF_MAX_LABELS)
      lc->bad = 1;
    if (lc->bad)
      continue; /* only the types still matter */
    lc->n++;
    lc->bytes += bin.size;
  }
  if (!enif_is_empty_list(env, list))
    return SCAN_BADARG;
  if (enif_is_identical(expected, am_nil))
    return SCAN_OK;
  lc->has_expected = 1;
  for (list = expected, seen = 0;
       enif_get_list_cell(env, list, &head, &list);) {
    if (limited && ++seen > RANKING_NIF_DIRTY_LABELS)
      return SCAN_DIRTY;
    if (!enif_get_uint64(env, head, &u)) {
      if (enif_term_type(env, head) != ERL_NIF_TERM_TYPE_INTEGER)
        return SCAN_BADARG;
      lc->bad = 1; /* negative, or beyond any label */
    }
    if (lc->n_expected == RANKING_NIF_MAX_LABELS)
      lc->bad = 1;
    else
      lc->n_expected++;
  }
  return enif_is_empty_list(env, list) ? SCAN_OK : SCAN_BADARG;
}

/* Copies what scan_labels measured. 0 when out of memory. */
static int copy_labels(ErlNifEnv *env, ERL_NIF_TERM labels,
                       ERL_NIF_TERM expected, label_copy *lc) {
  ERL_NIF_TERM list = labels, head;
  ErlNifBinary bin;
  ErlNifUInt64 u;
  size_t ptrs = (lc->n > 0 ? lc->n : 1) * sizeof(char *), i = 0;
  char *text;

  lc->labels = enif_alloc(ptrs + lc->bytes + lc->n);
  if (lc->labels == NULL)
    return 0;
  text = (char *)lc->labels + ptrs;
  while (i < lc->n && enif_get_list_cell(env, list, &head, &list)) {
    enif_inspect_binary(env, head, &bin);
    memcpy(text, bin.data, bin.size);
    text[bin.size] = '\0';
    lc->labels[i++] = text;
    text += bin.size + 1;
  }
  if (!lc->has_expected)
    return 1;
  lc->expected = enif_alloc((lc->n_expected > 0 ? lc->n_expected : 1) *
                            sizeof(*lc->expected));
  if (lc->expected == NULL)
    return 0;
  for (i = 0, list = expected;
       i < lc->n_expected && enif_get_list_cell(env, list, &head, &list);) {
    enif_get_uint64(env, head, &u);
    /* Past SIZE_MAX (32-bit hosts): still no label, as ranking.c sees. */
    lc->expected[i++] = (ErlNifUInt64)(size_t)u == u ? (size_t)u : SIZE_MAX;
  }
  return 1;
}

static ERL_NIF_TERM source_atom(ranking_source s) {
  switch (s) {
  case RANKING_FROM_LIST:
    return am_list;
  case RANKING_FROM_JSON:
    return am_json;
  case RANKING_FROM_NONE:
    break;
  }
  return am_none;
}

static ERL_NIF_TERM ranking_map(ErlNifEnv *env, const ranking_result *r) {
  ERL_NIF_TERM keys[] = {am_order,      am_missing, am_source,
                         am_duplicates, am_unknown, am_unexpected};
  ERL_NIF_TERM values[] = {nif_make_sizes(env, r->order, r->n_order),
                           nif_make_sizes(env, r->missing, r->n_missing),
                           source_atom(r->source),
                           enif_make_uint64(env, r->duplicates),
                           enif_make_uint64(env, r->unknown),
                           enif_make_uint64(env, r->unexpected)};
  ERL_NIF_TERM map;

  enif_make_map_from_arrays(env, keys, values, sizeof(keys) / sizeof(keys[0]),
                            &map);
  return map;
}

/* {error, Reason, Map} for a failure found before parsing. */
static ERL_NIF_TERM ranking_error(ErlNifEnv *env, ERL_NIF_TERM reason) {
  ranking_result empty;

  memset(&empty, 0, sizeof(empty));
  return enif_make_tuple3(env, am_error, reason, ranking_map(env, &empty));
}

static ERL_NIF_TERM ranking_run(ErlNifEnv *env, int argc,
                                const ERL_NIF_TERM argv[], int limited,
                                int *dirty) {
  ErlNifBinary text;
  label_copy lc;
  ranking_result r;
  ERL_NIF_TERM result;

  memset(&lc, 0, sizeof(lc));
  *dirty = 0;
  if (argc != 3 || !enif_inspect_binary(env, argv[0], &text) ||
      !enif_is_list(env, argv[1]) ||
      (!enif_is_identical(argv[2], am_nil) && !enif_is_list(env, argv[2])))
    return enif_make_badarg(env);
  switch (scan_labels(env, argv[1], argv[2], limited, &lc)) {
  case SCAN_BADARG:
    return enif_make_badarg(env);
  case SCAN_DIRTY:
    *dirty = 1;
    return 0;
  }
  if (lc.bad)
    return ranking_error(env, am_bad_labels);
  if (limited && (text.size > RANKING_NIF_DIRTY_BYTES ||
                  lc.bytes > RANKING_NIF_DIRTY_BYTES)) {
    *dirty = 1;
    return 0;
  }
  if (!copy_labels(env, argv[1], argv[2], &lc)) {
    free_labels(&lc);
    return ranking_error(env, am_out_of_memory);
  }

  if (ranking_parse((const char *)text.data, text.size,
                    (const char *const *)lc.labels, lc.n, lc.expected,
                    lc.n_expected, &r) == 0)
    result = enif_make_tuple2(env, am_ok, ranking_map(env, &r));
  else
    /* reason is one of ranking.h's few static words. */
    result = enif_make_tuple3(env, am_error, enif_make_atom(env, r.reason),
                              ranking_map(env, &r));
  ranking_result_free(&r);
  free_labels(&lc);
  if (limited)
    consume_timeslice(env, text.size + lc.bytes, RANKING_NIF_DIRTY_BYTES * 4);
  return result;
}

static ERL_NIF_TERM ranking_parse_dirty(ErlNifEnv *env, int argc,
                                        const ERL_NIF_TERM argv[]) {
  int dirty;

  return ranking_run(env, argc, argv, 0, &dirty);
}

ERL_NIF_TERM aggregate_nif_ranking_parse(ErlNifEnv *env, int argc,
                                         const ERL_NIF_TERM argv[]) {
  int dirty;
  ERL_NIF_TERM result = ranking_run(env, argc, argv, 1, &dirty);

  /* Too many labels, or text or labels past RANKING_NIF_DIRTY_BYTES. */
  return dirty ? schedule_if_large(env, SIZE_MAX, RANKING_NIF_DIRTY_BYTES,
                                   "ranking_parse", ranking_parse_dirty, argc,
                                   argv)
               : result;
}

ERL_NIF_TERM aggregate_nif_ranking_label(ErlNifEnv *env, int argc,
                                         const ERL_NIF_TERM argv[]) {
  char label[RANKING_LABEL_MAX];
  ErlNifUInt64 index;
  size_t len;
  unsigned char *data;
  ERL_NIF_TERM bin;

  if (argc != 1 || !enif_get_uint64(env, argv[0], &index) ||
      (ErlNifUInt64)(size_t)index != index)
    return enif_make_badarg(env);
  len = ranking_label((size_t)index, label, sizeof(label));
  data = enif_make_new_binary(env, len, &bin);
  if (data == NULL)
    return enif_make_badarg(env);
  memcpy(data, label, len);
  return bin;
}
