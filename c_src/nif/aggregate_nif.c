/* aggregate_nif.c - the aggregators (aggregate.h, through agg_box.h) and
 * the ranking parser (ranking.h) as NIFs.
 *
 * Ballots come from model output through the Elixir side, which has
 * already mapped candidates to indices, so a bad term here is a caller bug
 * (badarg), while a bad index is a bad ballot (its status says why). An
 * ordering is read only up to n + 1 items (agg_box_item says when): the
 * rest is neither copied nor checked.
 *
 * Scheduling: aggregate reads its ballots on the calling scheduler while
 * the box's work estimate (reading the terms, the aggregation and the
 * result) stays within AGG_NIF_BUDGET; past it, the copy is dropped and
 * the call moves to a dirty CPU scheduler. ranking_parse moves when its
 * text and labels are large. */
#include "aggregate_nif.h"

#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "agg_box.h"
#include "atoms.h"
#include "ranking.h"
#include "terms.h"

#define RANKING_NIF_MAX_LABELS 100000
#define RANKING_NIF_MAX_LABEL_BYTES 1024

/* Work a normal-scheduler call may do, in agg_box_work's units of about a
 * nanosecond: a call at the budget takes 0.15 to 0.3 ms. */
#ifndef AGG_NIF_BUDGET
#define AGG_NIF_BUDGET 250000
#endif
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
  ERL_NIF_TERM values[NIF_COUNT(keys)];

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
  return NIF_MAP(env, keys, values);
}

/* ------------------------------------------------------------------------ */
/* aggregate: reading the arguments                                         */
/* ------------------------------------------------------------------------ */

/* How reading ended, besides agg_box.h's codes. */
enum { SCAN_BADARG = 100, SCAN_DIRTY };

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

/* One ordering ballot {Items, Self}: its first n + 1 items. */
static int read_ordering(ErlNifEnv *env, ERL_NIF_TERM t, agg_box *b) {
  agg_ordering *o = &b->orderings[b->n_ballots - 1];
  const ERL_NIF_TERM *tuple;
  ERL_NIF_TERM list, head;
  int arity, rc = AGG_OK;
  long item;

  if (!enif_get_tuple(env, t, &arity, &tuple) || arity != 2 ||
      !get_index(env, tuple[1], &o->self))
    return SCAN_BADARG;
  for (list = tuple[0];
       rc == AGG_OK && enif_get_list_cell(env, list, &head, &list);) {
    if (!get_index(env, head, &item))
      return SCAN_BADARG;
    rc = agg_box_item(b, item);
  }
  /* Stopped early, or at the end of a proper list. */
  if (rc == AGG_BOX_FULL)
    return AGG_OK;
  return rc != AGG_OK || enif_is_empty_list(env, list) ? rc : SCAN_BADARG;
}

static int read_vote(ErlNifEnv *env, ERL_NIF_TERM t, agg_vote *v) {
  const ERL_NIF_TERM *tuple;
  int arity;

  return enif_get_tuple(env, t, &arity, &tuple) && arity == 2 &&
                 get_index(env, tuple[0], &v->choice) &&
                 get_confidence(env, tuple[1], &v->confidence)
             ? AGG_OK
             : SCAN_BADARG;
}

/* Reads every ballot into b. With limited (a normal scheduler), stops
 * with SCAN_DIRTY as soon as the work estimate passes AGG_NIF_BUDGET. A
 * ballot past a limit wins over a bad one, and the budget over both. */
static int read_ballots(ErlNifEnv *env, ERL_NIF_TERM list, int limited,
                        agg_box *b) {
  int ordering = agg_kind_ballots(b->kind) == AGG_BALLOTS_ordering;
  int rc = AGG_OK;
  ERL_NIF_TERM head;

  if (limited && agg_box_work(b) > AGG_NIF_BUDGET)
    return SCAN_DIRTY;
  while (rc == AGG_OK && enif_get_list_cell(env, list, &head, &list)) {
    if ((rc = agg_box_add(b)) != AGG_OK)
      return rc;
    rc = ordering ? read_ordering(env, head, b)
                  : read_vote(env, head, &b->votes[b->n_ballots - 1]);
    if (agg_box_check(b) != AGG_OK)
      return AGG_BOX_TOO_MANY_ITEMS;
    if (limited && agg_box_work(b) > AGG_NIF_BUDGET)
      return SCAN_DIRTY;
  }
  return rc != AGG_OK || enif_is_empty_list(env, list) ? rc : SCAN_BADARG;
}

/* aggregate/4's answer for how reading or aggregating ended. */
static ERL_NIF_TERM aggregate_error(ErlNifEnv *env, int rc) {
  switch (rc) {
  case SCAN_BADARG:
    return enif_make_badarg(env);
  case AGG_BOX_TOO_MANY_CANDIDATES:
    return nif_error(env, am_too_many_candidates);
  case AGG_BOX_TOO_MANY_BALLOTS:
    return nif_error(env, am_too_many_ballots);
  case AGG_BOX_TOO_MANY_ITEMS:
    return nif_error(env, am_too_many_items);
  case AGG_ENOMEM:
    return nif_error(env, am_out_of_memory);
  }
  return nif_error(env, am_invalid_arguments);
}

ERL_NIF_TERM aggregate_nif_aggregate(ErlNifEnv *env, int argc,
                                     const ERL_NIF_TERM argv[]) {
  rl_agg_kind kind;
  ErlNifUInt64 n;
  agg_opts opts;
  agg_result r;
  agg_box b;
  ERL_NIF_TERM result = 0; /* SCAN_DIRTY: again, on a dirty scheduler */
  double work;
  int rc;

  if (argc != 4 || !get_kind(argv[0], &kind) ||
      !enif_get_uint64(env, argv[1], &n) || !enif_is_list(env, argv[2]) ||
      !get_opts(env, argv[3], &opts))
    return enif_make_badarg(env);
  rc = agg_box_init(&b, kind, n > SIZE_MAX ? SIZE_MAX : (size_t)n);
  if (rc == AGG_OK)
    rc = read_ballots(env, argv[2], nif_on_normal(), &b);
  if (rc == AGG_OK && (rc = agg_box_run(&b, &opts, &r)) == AGG_OK) {
    result = enif_make_tuple2(env, am_ok, aggregate_nif_result(env, &r));
    agg_result_free(&r);
  }
  work = agg_box_work(&b);
  agg_box_free(&b);
  if (rc != AGG_OK && rc != SCAN_DIRTY)
    return aggregate_error(env, rc);
  return nif_finish(env, (size_t)work, AGG_NIF_BUDGET, "aggregate",
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

  return NIF_MAP(env, keys, values);
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
