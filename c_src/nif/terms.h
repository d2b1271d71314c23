/* terms.h - the term helpers every glue file uses: strings in and out,
 * lists of binaries, and the one rule for normal versus dirty
 * scheduling. */
#ifndef CX_TERMS_H
#define CX_TERMS_H

#include <stddef.h>

#include <erl_nif.h>

typedef ERL_NIF_TERM (*nif_fun)(ErlNifEnv *env, int argc,
                                const ERL_NIF_TERM argv[]);

/* Copies a binary (or iodata) without NUL bytes as a C string (malloc'd,
 * length in *len when len is not NULL); nil gives NULL when allow_nil.
 * 0, or -1 (and *out NULL) on any other term or out of memory. */
int nif_copy_str(ErlNifEnv *env, ERL_NIF_TERM v, int allow_nil, char **out,
                 size_t *len);

/* A binary of s[0..len), or nil when s is NULL. */
ERL_NIF_TERM nif_make_str(ErlNifEnv *env, const char *s, size_t len);
/* nif_make_str of a C string. */
ERL_NIF_TERM nif_make_cstr(ErlNifEnv *env, const char *s);
/* A float, or nil for NaN and infinities. */
ERL_NIF_TERM nif_make_float(ErlNifEnv *env, double d);
/* [integer] of v[0..n); [] when v is NULL. */
ERL_NIF_TERM nif_make_sizes(ErlNifEnv *env, const size_t *v, size_t n);
/* {error, Reason} */
ERL_NIF_TERM nif_error(ErlNifEnv *env, ERL_NIF_TERM reason);
/* Raises out_of_memory. */
ERL_NIF_TERM nif_raise_oom(ErlNifEnv *env);

/* A list of binaries copied out: s[i] is a malloc'd NUL-terminated copy
 * of lens[i] bytes, or NULL for an atom the flags let through; on[i] is 1
 * for a binary or true. Every array has n entries. */
typedef struct nif_strs {
  char **s;
  size_t *lens;
  unsigned char *on;
  size_t n;
} nif_strs;

#define NIF_STRS_CSTR 1u   /* no NUL byte (C strings downstream) */
#define NIF_STRS_HEADER 2u /* no NUL, CR or LF (no header injection) */
#define NIF_STRS_ATOMS 4u  /* true, false and nil are let through */

/* Reads a proper list of at most max binaries (checked as flags say)
 * into *out. 0, or -1 on a bad term or out of memory; *out is then
 * still safe to free. */
int nif_get_strs(ErlNifEnv *env, ERL_NIF_TERM list, unsigned max,
                 unsigned flags, nif_strs *out);
void nif_strs_free(nif_strs *s);

/* The payload of t, counted until it passes limit: a binary's bytes, or
 * for a list one per element plus the bytes of those that are binaries. */
size_t nif_bytes(ErlNifEnv *env, ERL_NIF_TERM t, size_t limit);

/* The one scheduling rule (see nif_funcs[] in council_nif.c): fun runs
 * right here when cost <= limit, else on a dirty CPU scheduler. */
ERL_NIF_TERM schedule_if_large(ErlNifEnv *env, size_t cost, size_t limit,
                               const char *name, nif_fun fun, int argc,
                               const ERL_NIF_TERM argv[]);

/* Reports the share of a 1 ms timeslice that work out of full used (on a
 * normal scheduler; elsewhere it does nothing). */
void consume_timeslice(ErlNifEnv *env, size_t work, size_t full);

#endif
