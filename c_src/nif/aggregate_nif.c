/* aggregate_nif.c - the aggregators (aggregate.h) and the ranking parser
 * (ranking.h) as NIFs.
 *
 * Ballots come from model output through the Elixir side, which has
 * already mapped candidates to indices, so a bad term here is a caller bug
 * (badarg), while a bad index is a bad ballot (its status says why). An
 * ordering is read only up to n + 1 items (the rest is neither copied nor
 * checked): those already hold an out-of-range or repeated candidate, so
 * the ballot's status is the same, and a hostile ballot cannot make us
 * copy more.
 *
 * Scheduling: aggregate reads its ballots on the calling scheduler while
 * its estimated work (about a nanosecond per unit: reading the terms, the
 * aggregation and the result) stays within AGG_NIF_BUDGET; past it, the
 * copy is dropped and the call moves to a dirty CPU scheduler.
 * ranking_parse moves when its text and labels are large. */
#include "aggregate_nif.h"

#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
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
/* ranking_parse moves to a dirty scheduler past this many bytes of text
 * and labels (each label or index counting one more). Its worst cases run
 * at about 30 ns per byte of text: a JSON fallback (cJSON's
 * ~100 ns per value) and numbered lines full of word boundaries checked
 * against long labels. Typical replies take 0.5 ns per byte. */
#ifndef RANKING_NIF_DIRTY_BYTES
#define RANKING_NIF_DIRTY_BYTES (8 * 1024)
#endif

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
  size_t n_ballots, cap_ballots;
  size_t n_items, cap_items; /* ordering items, back to back */
  double pairs;              /* Condorcet: item pairs within ballots */
  agg_vote *votes;           /* vote kinds */
  agg_ordering *orderings;   /* ordering kinds; items set once all are read */
  long *items;
} agg_args;

/* How reading ended. */
enum { SCAN_OK, SCAN_BADARG, SCAN_DIRTY, SCAN_LIMIT, SCAN_NOMEM };

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

/* Any 64-bit integer: the generator takes its bits. */
static int get_seed(ErlNifEnv *env, ERL_NIF_TERM v, void *obj, nif_dctx *c) {
  agg_opts *opts = obj;
  ErlNifSInt64 s;
  (void)c;

  if (enif_get_uint64(env, v, &opts->seed))
    return 0;
  if (!enif_get_int64(env, v, &s))
    return -1;
  opts->seed = (uint64_t)s;
  return 0;
}

/* Opts: a map; tie, seed and include_self are read when present, other
 * keys ignored, nil a bad value. */
static const nif_field opts_fields[] = {
    NIF_F_ENUM(agg_opts, tie, 0, ea_tie, AGG_TIE_COUNT),
    NIF_F_FN(agg_opts, seed, 0, get_seed),
    NIF_F(NIF_BOOL, agg_opts, include_self, 0),
};

static int get_opts(ErlNifEnv *env, ERL_NIF_TERM t, agg_opts *opts) {
  nif_dctx c = {.objs = {opts}, .mode = NIF_MAP_OPEN | NIF_MAP_NIL_IS_VALUE};

  memset(opts, 0, sizeof(*opts));
  return nif_decode_map(env, t, opts_fields, NIF_COUNT(opts_fields), 0, &c) ==
         0;
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

/* Makes room for one more of n elements of size (doubling). */
static int room(void *pp, size_t *cap, size_t n, size_t size) {
  void **p = pp, *q;

  if (n < *cap)
    return 1;
  q = realloc(*p, (*cap ? *cap * 2 : 16) * size);
  if (!q)
    return 0;
  *p = q;
  *cap = *cap ? *cap * 2 : 16;
  return 1;
}

/* One ordering ballot {Items, Self}: its first n + 1 items. */
static int read_ordering(ErlNifEnv *env, ERL_NIF_TERM t, agg_args *a) {
  const ERL_NIF_TERM *tuple;
  ERL_NIF_TERM list, head;
  agg_ordering *o = &a->orderings[a->n_ballots];
  int arity;

  if (!enif_get_tuple(env, t, &arity, &tuple) || arity != 2 ||
      !get_index(env, tuple[1], &o->self))
    return SCAN_BADARG;
  o->len = 0;
  for (list = tuple[0];
       o->len <= a->n && enif_get_list_cell(env, list, &head, &list);
       o->len++) {
    if (!room(&a->items, &a->cap_items, a->n_items, sizeof(long)))
      return SCAN_NOMEM;
    if (!get_index(env, head, &a->items[a->n_items++]))
      return SCAN_BADARG;
  }
  a->pairs += (double)o->len * (double)(o->len > 0 ? o->len - 1 : 0) / 2;
  /* Stopped early, or at the end of a proper list. */
  return o->len > a->n || enif_is_empty_list(env, list) ? SCAN_OK : SCAN_BADARG;
}

static int read_vote(ErlNifEnv *env, ERL_NIF_TERM t, agg_vote *v) {
  const ERL_NIF_TERM *tuple;
  int arity;

  return enif_get_tuple(env, t, &arity, &tuple) && arity == 2 &&
                 get_index(env, tuple[0], &v->choice) &&
                 get_confidence(env, tuple[1], &v->confidence)
             ? SCAN_OK
             : SCAN_BADARG;
}

/* Reads every ballot into a. With limited (a normal scheduler), stops
 * with SCAN_DIRTY as soon as the work estimate passes AGG_NIF_BUDGET. */
static int read_ballots(ErlNifEnv *env, ERL_NIF_TERM list, int limited,
                        agg_args *a, ERL_NIF_TERM *limit) {
  int ordering = is_ordering_kind(a->kind), rc = SCAN_OK;
  ERL_NIF_TERM head;
  size_t at = 0;

  if (limited && work_of(a) > AGG_NIF_BUDGET)
    return SCAN_DIRTY;
  while (rc == SCAN_OK && enif_get_list_cell(env, list, &head, &list)) {
    if (a->n_ballots == AGG_NIF_MAX_BALLOTS) {
      *limit = am_too_many_ballots;
      return SCAN_LIMIT;
    }
    if (ordering
            ? !room(&a->orderings, &a->cap_ballots, a->n_ballots,
                    sizeof(agg_ordering))
            : !room(&a->votes, &a->cap_ballots, a->n_ballots, sizeof(agg_vote)))
      return SCAN_NOMEM;
    rc = ordering ? read_ordering(env, head, a)
                  : read_vote(env, head, &a->votes[a->n_ballots]);
    a->n_ballots++;
    if (a->n_items > AGG_NIF_MAX_ITEMS) {
      *limit = am_too_many_items;
      return SCAN_LIMIT;
    }
    if (limited && work_of(a) > AGG_NIF_BUDGET)
      return SCAN_DIRTY;
  }
  if (rc != SCAN_OK)
    return rc;
  if (!enif_is_empty_list(env, list))
    return SCAN_BADARG;
  for (size_t b = 0; ordering && b < a->n_ballots; b++) {
    a->orderings[b].items = a->items + at; /* the array has stopped moving */
    at += a->orderings[b].len;
  }
  return SCAN_OK;
}

static void free_args(agg_args *a) {
  free(a->votes);
  free(a->orderings);
  free(a->items);
}

ERL_NIF_TERM aggregate_nif_aggregate(ErlNifEnv *env, int argc,
                                     const ERL_NIF_TERM argv[]) {
  agg_args a;
  agg_result r;
  ErlNifUInt64 n;
  ERL_NIF_TERM limit = am_too_many_items, result;
  int rc;

  memset(&a, 0, sizeof(a));
  if (argc != 4 || !get_kind(argv[0], &a.kind) ||
      !enif_get_uint64(env, argv[1], &n) || !enif_is_list(env, argv[2]) ||
      !get_opts(env, argv[3], &a.opts))
    return enif_make_badarg(env);
  if (n > AGG_NIF_MAX_CANDIDATES ||
      (a.kind == RL_AGG_CONDORCET && n > AGG_NIF_MAX_CONDORCET))
    return nif_error(env, am_too_many_candidates);
  a.n = (size_t)n;

  switch (read_ballots(env, argv[2], nif_on_normal(), &a, &limit)) {
  case SCAN_BADARG:
    result = enif_make_badarg(env);
    break;
  case SCAN_DIRTY: /* past the budget: again, on a dirty scheduler */
    result = 0;
    break;
  case SCAN_LIMIT:
    result = nif_error(env, limit);
    break;
  case SCAN_NOMEM:
    result = nif_error(env, am_out_of_memory);
    break;
  default:
    rc = agg_run(a.kind, a.n, a.votes, a.orderings, a.n_ballots, &a.opts, &r);
    if (rc != AGG_OK)
      result = nif_error(env, rc == AGG_ENOMEM ? am_out_of_memory
                                               : am_invalid_arguments);
    else
      result = enif_make_tuple2(env, am_ok, aggregate_nif_result(env, &r));
    agg_result_free(&r);
  }
  free_args(&a);
  return nif_finish(env, (size_t)work_of(&a), AGG_NIF_BUDGET, "aggregate",
                    aggregate_nif_aggregate, argc, argv, result);
}

/* ------------------------------------------------------------------------ */
/* ranking_parse and ranking_label                                          */
/* ------------------------------------------------------------------------ */

/* The labels (NUL-free) and the expected indices. 1 when read; 0 on a
 * term of the wrong type (badarg); -1 when a label or an index is one the
 * parser must refuse (bad_labels): a NUL inside, over
 * RANKING_NIF_MAX_LABEL_BYTES, negative, or too many. */
static int read_labels(ErlNifEnv *env, ERL_NIF_TERM labels,
                       ERL_NIF_TERM expected, nif_strs *l, size_t **exp,
                       size_t *n_exp) {
  ERL_NIF_TERM head, list;
  ErlNifUInt64 u;
  unsigned n;
  int bad = 0;

  if (nif_get_strs(env, labels, RANKING_NIF_MAX_LABELS, NIF_STRS_CSTR, l)) {
    for (list = labels; enif_get_list_cell(env, list, &head, &list);) {
      if (!enif_is_binary(env, head))
        return 0;
    }
    return enif_is_empty_list(env, list) ? -1 : 0;
  }
  for (size_t i = 0; i < l->n; i++)
    bad |= l->lens[i] > RANKING_NIF_MAX_LABEL_BYTES;
  if (enif_is_identical(expected, am_nil))
    return bad ? -1 : 1;
  if (!enif_get_list_length(env, expected, &n) ||
      !(*exp = calloc(n ? n : 1, sizeof(size_t))))
    return 0;
  for (list = expected; enif_get_list_cell(env, list, &head, &list);) {
    if (enif_get_uint64(env, head, &u))
      /* Past SIZE_MAX (32-bit hosts): still no label, as ranking.c sees. */
      (*exp)[(*n_exp)++] = (ErlNifUInt64)(size_t)u == u ? (size_t)u : SIZE_MAX;
    else if (enif_term_type(env, head) == ERL_NIF_TERM_TYPE_INTEGER)
      bad = 1; /* negative, or beyond any label */
    else
      return 0;
  }
  return bad || n > RANKING_NIF_MAX_LABELS ? -1 : 1;
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

static ERL_NIF_TERM ranking_impl(ErlNifEnv *env, int argc,
                                 const ERL_NIF_TERM argv[]) {
  ErlNifBinary text;
  nif_strs l = {0};
  size_t *exp = NULL, n_exp = 0;
  ranking_result r;
  ERL_NIF_TERM result;
  int rc;
  (void)argc;

  if (!enif_inspect_binary(env, argv[0], &text) ||
      !enif_is_list(env, argv[1]) ||
      (!enif_is_identical(argv[2], am_nil) && !enif_is_list(env, argv[2])))
    return enif_make_badarg(env);
  rc = read_labels(env, argv[1], argv[2], &l, &exp, &n_exp);
  if (rc == 0)
    result = enif_make_badarg(env);
  else if (rc < 0)
    result = ranking_error(env, am_bad_labels);
  else {
    rc = ranking_parse((const char *)text.data, text.size,
                       (const char *const *)l.s, l.n, exp, n_exp, &r);
    /* reason is one of ranking.h's CX_REASON words. */
    result =
        rc == 0 ? enif_make_tuple2(env, am_ok, ranking_map(env, &r))
                : enif_make_tuple3(env, am_error, enif_make_atom(env, r.reason),
                                   ranking_map(env, &r));
    ranking_result_free(&r);
  }
  nif_strs_free(&l);
  free(exp);
  consume_timeslice(env, text.size, RANKING_NIF_DIRTY_BYTES * 4);
  return result;
}

ERL_NIF_TERM aggregate_nif_ranking_parse(ErlNifEnv *env, int argc,
                                         const ERL_NIF_TERM argv[]) {
  size_t cost;

  if (argc != 3)
    return enif_make_badarg(env);
  cost = nif_bytes(env, argv[0], RANKING_NIF_DIRTY_BYTES) +
         nif_bytes(env, argv[1], RANKING_NIF_DIRTY_BYTES) +
         nif_bytes(env, argv[2], RANKING_NIF_DIRTY_BYTES);
  return schedule_if_large(env, cost, RANKING_NIF_DIRTY_BYTES, "ranking_parse",
                           ranking_impl, argc, argv);
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
