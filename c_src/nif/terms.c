/* terms.c - term helpers for the glue (see terms.h). */
#include "terms.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "atoms.h"
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

ERL_NIF_TERM schedule_if_large(ErlNifEnv *env, size_t cost, size_t limit,
                               const char *name, nif_fun fun, int argc,
                               const ERL_NIF_TERM argv[]) {
  if (cost <= limit)
    return fun(env, argc, argv);
  return enif_schedule_nif(env, name, ERL_NIF_DIRTY_JOB_CPU_BOUND, fun, argc,
                           argv);
}

void consume_timeslice(ErlNifEnv *env, size_t work, size_t full) {
  size_t pct = 1 + (work * 100) / full;

  /* Only a normal scheduler has a timeslice to report. */
  if (enif_thread_type() == ERL_NIF_THR_NORMAL_SCHEDULER)
    enif_consume_timeslice(env, pct > 100 ? 100 : (int)pct);
}
