/* terms.c - term helpers for the glue (see terms.h). */
#include "terms.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "atoms.h"
#include "chat.h"
#include "str.h"

int nif_copy_str(ErlNifEnv *env, ERL_NIF_TERM v, int allow_nil, char **out,
                 size_t *len) {
  ErlNifBinary bin;

  *out = NULL;
  if (enif_is_identical(v, am_nil))
    return allow_nil ? 0 : -1;
  if (!enif_inspect_iolist_as_binary(env, v, &bin) ||
      memchr(bin.data, '\0', bin.size))
    return -1; /* C strings downstream */
  *out = str_ndup((const char *)bin.data, bin.size);
  if (len)
    *len = bin.size;
  return *out ? 0 : -1;
}

ERL_NIF_TERM nif_make_str(ErlNifEnv *env, const char *s, size_t len) {
  ERL_NIF_TERM t;
  unsigned char *p;

  if (!s)
    return am_nil;
  p = enif_make_new_binary(env, len, &t);
  if (len)
    memcpy(p, s, len);
  return t;
}

ERL_NIF_TERM nif_make_cstr(ErlNifEnv *env, const char *s) {
  return s ? nif_make_str(env, s, strlen(s)) : am_nil;
}

ERL_NIF_TERM nif_make_float(ErlNifEnv *env, double d) {
  return isfinite(d) ? enif_make_double(env, d) : am_nil;
}

/* Built from the back, so nothing is allocated outside env. */
ERL_NIF_TERM nif_make_sizes(ErlNifEnv *env, const size_t *v, size_t n) {
  ERL_NIF_TERM list = enif_make_list(env, 0);

  for (size_t i = n; v && i > 0; i--)
    list = enif_make_list_cell(env, enif_make_uint64(env, v[i - 1]), list);
  return list;
}

ERL_NIF_TERM nif_make_map(ErlNifEnv *env, ERL_NIF_TERM *keys,
                          ERL_NIF_TERM *vals, size_t n) {
  ERL_NIF_TERM map;

  enif_make_map_from_arrays(env, keys, vals, n, &map); /* distinct keys */
  return map;
}

ERL_NIF_TERM nif_error(ErlNifEnv *env, ERL_NIF_TERM reason) {
  return enif_make_tuple2(env, am_error, reason);
}

ERL_NIF_TERM nif_raise_oom(ErlNifEnv *env) {
  return enif_raise_exception(env, am_out_of_memory);
}

static int bad_bytes(const ErlNifBinary *b, unsigned flags) {
  if ((flags & (NIF_STRS_CSTR | NIF_STRS_HEADER)) &&
      memchr(b->data, '\0', b->size))
    return 1;
  return (flags & NIF_STRS_HEADER) &&
         (memchr(b->data, '\n', b->size) || memchr(b->data, '\r', b->size));
}

int nif_get_strs(ErlNifEnv *env, ERL_NIF_TERM list, unsigned max,
                 unsigned flags, nif_strs *out) {
  ERL_NIF_TERM head;
  ErlNifBinary bin;
  unsigned n;

  memset(out, 0, sizeof(*out));
  if (!enif_get_list_length(env, list, &n) || n > max)
    return -1;
  out->s = calloc(n ? n : 1, sizeof(char *));
  out->lens = calloc(n ? n : 1, sizeof(size_t));
  out->on = calloc(n ? n : 1, 1);
  if (!out->s || !out->lens || !out->on)
    return -1;
  for (; enif_get_list_cell(env, list, &head, &list); out->n++) {
    if ((flags & NIF_STRS_ATOMS) && (enif_is_identical(head, am_true) ||
                                     enif_is_identical(head, am_false) ||
                                     enif_is_identical(head, am_nil))) {
      out->on[out->n] = enif_is_identical(head, am_true);
      continue;
    }
    if (!enif_inspect_binary(env, head, &bin) || bad_bytes(&bin, flags) ||
        !(out->s[out->n] = str_ndup((const char *)bin.data, bin.size)))
      return -1;
    out->lens[out->n] = bin.size;
    out->on[out->n] = 1;
  }
  return 0;
}

void nif_strs_free(nif_strs *s) {
  for (size_t i = 0; s->s && i < s->n; i++)
    free(s->s[i]);
  free(s->s);
  free(s->lens);
  free(s->on);
  memset(s, 0, sizeof(*s));
}

size_t nif_bytes(ErlNifEnv *env, ERL_NIF_TERM t, size_t limit) {
  ErlNifBinary bin;
  ERL_NIF_TERM head;
  size_t bytes = 0;

  if (enif_inspect_binary(env, t, &bin))
    return bin.size;
  while (bytes <= limit && enif_get_list_cell(env, t, &head, &t)) {
    bytes++; /* the element itself */
    if (enif_inspect_binary(env, head, &bin))
      bytes += bin.size;
  }
  return bytes;
}

static void term_cost(ErlNifEnv *env, ERL_NIF_TERM t, size_t limit, int depth,
                      size_t *cost) {
  ErlNifBinary bin;
  ErlNifMapIterator it;
  ERL_NIF_TERM head, key, value;
  const ERL_NIF_TERM *el;
  int arity;

  *cost += NIF_TERM_COST;
  if (*cost > limit)
    return;
  if (depth > NIF_TERM_DEPTH) {
    *cost = limit + 1;
  } else if (enif_is_binary(env, t) && enif_inspect_binary(env, t, &bin)) {
    *cost += bin.size;
  } else if (enif_is_list(env, t)) {
    while (*cost <= limit && enif_get_list_cell(env, t, &head, &t))
      term_cost(env, head, limit, depth + 1, cost);
  } else if (enif_get_tuple(env, t, &arity, &el)) {
    for (int i = 0; i < arity && *cost <= limit; i++)
      term_cost(env, el[i], limit, depth + 1, cost);
  } else if (enif_is_map(env, t) &&
             enif_map_iterator_create(env, t, &it,
                                      ERL_NIF_MAP_ITERATOR_FIRST)) {
    while (*cost <= limit &&
           enif_map_iterator_get_pair(env, &it, &key, &value)) {
      term_cost(env, key, limit, depth + 1, cost);
      term_cost(env, value, limit, depth + 1, cost);
      enif_map_iterator_next(env, &it);
    }
    enif_map_iterator_destroy(env, &it);
  }
}

size_t nif_term_cost(ErlNifEnv *env, ERL_NIF_TERM t, size_t limit) {
  size_t cost = 0;

  term_cost(env, t, limit, 0, &cost);
  return cost;
}

ERL_NIF_TERM schedule_if_large(ErlNifEnv *env, size_t cost, size_t limit,
                               const char *name, nif_fun fun, int argc,
                               const ERL_NIF_TERM argv[]) {
  nif_note_decision(name, cost > limit);
  if (cost <= limit)
    return fun(env, argc, argv);
  return enif_schedule_nif(env, name, ERL_NIF_DIRTY_JOB_CPU_BOUND, fun, argc,
                           argv);
}

int nif_on_normal(void) {
  return enif_thread_type() == ERL_NIF_THR_NORMAL_SCHEDULER;
}

ERL_NIF_TERM nif_finish(ErlNifEnv *env, size_t work, size_t budget,
                        const char *name, nif_fun fun, int argc,
                        const ERL_NIF_TERM argv[], ERL_NIF_TERM result) {
  consume_timeslice(env, work, budget);
  if (!nif_on_normal())
    return result; /* the dirty pass: decided on the normal one */
  nif_note_decision(name, work > budget);
  if (work <= budget)
    return result;
  return enif_schedule_nif(env, name, ERL_NIF_DIRTY_JOB_CPU_BOUND, fun, argc,
                           argv);
}

void consume_timeslice(ErlNifEnv *env, size_t work, size_t full) {
  size_t pct = 1 + (work > SIZE_MAX / 100 ? SIZE_MAX : work * 100) / full;

  /* Only a normal scheduler has a timeslice to report. */
  if (nif_on_normal())
    enif_consume_timeslice(env, pct > 100 ? 100 : (int)pct);
}

/* ---- Maps to C structs --------------------------------------------------*/

int nif_decode_fail(ErlNifEnv *env, nif_dctx *c, const char *what,
                    ERL_NIF_TERM key) {
  char name[64];

  if (c->why == NULL || c->why[0] != '\0')
    return -1;
  if (!enif_get_atom(env, key, name, sizeof(name), ERL_NIF_LATIN1))
    snprintf(name, sizeof(name), "(not an atom)");
  snprintf(c->why, c->why_len, "%s: %s %s", c->where, what, name);
  return -1;
}

int nif_get_num(ErlNifEnv *env, ERL_NIF_TERM v, double *out) {
  long l;

  if (enif_get_double(env, v, out))
    return 1;
  if (!enif_get_long(env, v, &l))
    return 0;
  *out = (double)l;
  return 1;
}

/* Decodes one value into its field. 0, or -1. */
static int decode_value(ErlNifEnv *env, const nif_field *f, ERL_NIF_TERM v,
                        nif_dctx *c) {
  char *at = (char *)c->objs[f->obj] + f->off;
  long l;
  size_t len;
  int i;

  switch (f->type) {
  case NIF_BIN:
  case NIF_TEXT:
    free(*(char **)at);
    if (nif_copy_str(env, v, 0, (char **)at, &len) != 0)
      return -1;
    return f->type == NIF_TEXT && !chat_utf8_valid(*(char **)at, len) ? -1 : 0;
  case NIF_LONG:
  case NIF_UINT:
  case NIF_SIZE:
    if (!enif_get_long(env, v, &l) || l < f->min || l > f->max)
      return -1;
    if (f->type == NIF_LONG)
      *(long *)at = l;
    else if (f->type == NIF_UINT)
      *(unsigned *)at = (unsigned)l;
    else
      *(size_t *)at = (size_t)l;
    return 0;
  case NIF_U64:
    return enif_get_uint64(env, v, (ErlNifUInt64 *)at) ? 0 : -1;
  case NIF_NUM:
    return nif_get_num(env, v, (double *)at) ? 0 : -1;
  case NIF_BOOL:
    if (!enif_is_identical(v, am_true) && !enif_is_identical(v, am_false))
      return -1;
    *(int *)at = enif_is_identical(v, am_true);
    return 0;
  case NIF_ENUM:
    if ((i = atom_index(v, f->names, (int)f->max + 1)) < 0)
      return -1;
    *(int *)at = i; /* enums.def's enums are int-sized and non-negative */
    return 0;
  case NIF_FN:
    return f->fn(env, v, c->objs[f->obj], c);
  }
  return -1;
}

int nif_decode_map(ErlNifEnv *env, ERL_NIF_TERM map, const nif_field *fields,
                   size_t n, unsigned skip, nif_dctx *c) {
  ErlNifMapIterator it;
  ERL_NIF_TERM key, v;
  uint64_t seen = 0;
  size_t i;
  int rc = 0;

  if (!enif_map_iterator_create(env, map, &it, ERL_NIF_MAP_ITERATOR_FIRST)) {
    if (c->why)
      snprintf(c->why, c->why_len, "%s: not a map", c->where);
    return -1;
  }
  for (; rc == 0 && enif_map_iterator_get_pair(env, &it, &key, &v);
       enif_map_iterator_next(env, &it)) {
    for (i = 0; i < n; i++) {
      if (!(fields[i].flags & skip) && enif_is_identical(key, *fields[i].key))
        break;
    }
    if (i == n) {
      if (!(c->mode & NIF_MAP_OPEN))
        rc = nif_decode_fail(env, c, "unknown key", key);
      continue;
    }
    if (enif_is_identical(v, am_nil) && !(fields[i].flags & NIF_REQUIRED) &&
        !(c->mode & NIF_MAP_NIL_IS_VALUE))
      continue; /* as if absent: the default stays */
    if (decode_value(env, &fields[i], v, c) != 0)
      rc = nif_decode_fail(env, c, "bad value for key", key);
    seen |= 1ull << i;
  }
  enif_map_iterator_destroy(env, &it);
  for (i = 0; rc == 0 && i < n; i++) {
    if ((fields[i].flags & NIF_REQUIRED) && !(fields[i].flags & skip) &&
        !(seen & (1ull << i)))
      rc = nif_decode_fail(env, c, "missing key", *fields[i].key);
  }
  return rc;
}

int nif_decode_list(ErlNifEnv *env, ERL_NIF_TERM list, unsigned min,
                    unsigned max, size_t size, void *array, size_t *n,
                    const char *what, nif_decode_fn each, nif_dctx *c) {
  void **items = array;
  nif_dctx ec = *c;
  ERL_NIF_TERM head;
  char where[64];
  unsigned len;

  if (!enif_get_list_length(env, list, &len) || len < min || len > max ||
      !(*items = calloc(len ? len : 1, size)))
    return -1;
  ec.where = where;
  while (enif_get_list_cell(env, list, &head, &list)) {
    snprintf(where, sizeof(where), "%s %zu", what, *n);
    if (each(env, head, (char *)*items + (*n)++ * size, &ec) != 0)
      return -1;
  }
  return 0;
}
