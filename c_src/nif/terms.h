/* terms.h - the term helpers every glue file uses: strings, lists and maps
 * in and out (maps into C structs by one table-driven decoder), and the
 * one rule for normal versus dirty scheduling. */
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
/* The map of keys[0..n) (distinct atoms) to vals[0..n), made in env;
 * cannot fail. NIF_MAP counts the keys of an array. */
ERL_NIF_TERM nif_make_map(ErlNifEnv *env, ERL_NIF_TERM *keys,
                          ERL_NIF_TERM *vals, size_t n);
#define NIF_MAP(env, keys, vals) nif_make_map(env, keys, vals, NIF_COUNT(keys))
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

/* ---- Maps to C structs, one table per map ---------------------------------
 * A field names its key and where (objs[obj] + off) and how its value
 * goes. By default every key must be known (a misspelled key is an error,
 * never a default), a required key must be there, and an optional one may
 * be absent or nil (its default stays); the mode flags relax that. */

typedef struct nif_dctx {
  void *objs[2];     /* what the fields decode into */
  const char *where; /* for messages: "spec", "seat 2", "seat 1 tool 0" */
  char *why;         /* the first failure's message, or NULL for none */
  size_t why_len;
  unsigned mode; /* NIF_MAP_* */
} nif_dctx;

#define NIF_MAP_OPEN 1u         /* unknown keys are ignored */
#define NIF_MAP_NIL_IS_VALUE 2u /* nil is not absent: it must decode */

typedef enum nif_ftype {
  NIF_BIN,  /* char *: a binary (or iodata) without NUL */
  NIF_TEXT, /* char *: NIF_BIN that is UTF-8 */
  NIF_LONG, /* long within [min, max] */
  NIF_UINT, /* unsigned within [min, max] */
  NIF_SIZE, /* size_t within [min, max] */
  NIF_U64,  /* uint64_t */
  NIF_NUM,  /* double: an integer or a float */
  NIF_BOOL, /* int: true or false */
  NIF_ENUM, /* an int-sized enum: names[0..max] */
  NIF_FN    /* fn decodes it into objs[obj] */
} nif_ftype;

#define NIF_REQUIRED 1u /* field flags; the rest are the caller's, for skip */

/* Decodes v into obj: 0, or -1 (saying why through nif_decode_fail). */
typedef int (*nif_decode_fn)(ErlNifEnv *env, ERL_NIF_TERM v, void *obj,
                             nif_dctx *c);

typedef struct nif_field {
  ERL_NIF_TERM *key;
  nif_ftype type;
  unsigned flags;
  unsigned char obj;
  size_t off;
  long min, max;
  const ERL_NIF_TERM *names;
  nif_decode_fn fn;
} nif_field;

/* Decodes map by fields[0..n) (at most 64), fields with a flag in skip
 * counting as unknown. 0, or -1 with c->why set on the first failure; what
 * was decoded so far stays in the objects, for their owner to free. */
int nif_decode_map(ErlNifEnv *env, ERL_NIF_TERM map, const nif_field *fields,
                   size_t n, unsigned skip, nif_dctx *c);

/* Decodes a proper list of min..max terms into a calloc'd array of
 * size-byte elements at *(void **)array, each by each with c->where "<what>
 * <index>" ("seat 2", "seat 1 tool 0"). *n counts the elements begun, so
 * the array's owner frees them even on failure. 0, or -1. */
int nif_decode_list(ErlNifEnv *env, ERL_NIF_TERM list, unsigned min,
                    unsigned max, size_t size, void *array, size_t *n,
                    const char *what, nif_decode_fn each, nif_dctx *c);

/* Says why (unless a message is there already) and returns -1. */
int nif_decode_fail(ErlNifEnv *env, nif_dctx *c, const char *what,
                    ERL_NIF_TERM key);

/* An integer or a float as a double: 1, or 0. */
int nif_get_num(ErlNifEnv *env, ERL_NIF_TERM v, double *out);

/* Field tables: the key is the atom am_<name>, the member st.<name>. */
#define NIF_FIELD(name, type, flags, obj, st, member, min, max, names, fn)     \
  { &am_##name, type, flags, obj, offsetof(st, member), min, max, names, fn }
#define NIF_F(type, st, name, flags)                                           \
  NIF_FIELD(name, type, flags, 0, st, name, 0, 0, 0, 0)
#define NIF_F_INT(type, st, name, min, max)                                    \
  NIF_FIELD(name, type, 0, 0, st, name, min, max, 0, 0)
#define NIF_F_ENUM(st, name, flags, atoms, count)                              \
  NIF_FIELD(name, NIF_ENUM, flags, 0, st, name, 0, (count)-1, atoms, 0)
#define NIF_F_FN(st, name, flags, fn)                                          \
  NIF_FIELD(name, NIF_FN, flags, 0, st, name, 0, 0, 0, fn)
#define NIF_COUNT(array) (sizeof(array) / sizeof((array)[0]))

/* The payload of t, counted until it passes limit: a binary's bytes, or
 * for a list one per element plus the bytes of those that are binaries. */
size_t nif_bytes(ErlNifEnv *env, ERL_NIF_TERM t, size_t limit);
/* The work of reading all of t (maps, lists and tuples at any depth),
 * counted until it passes limit: each binary's bytes plus NIF_TERM_COST per
 * term, so the walk itself visits at most limit / NIF_TERM_COST terms.
 * Nesting deeper than NIF_TERM_DEPTH counts as past the limit. */
#define NIF_TERM_COST 16
#define NIF_TERM_DEPTH 32
size_t nif_term_cost(ErlNifEnv *env, ERL_NIF_TERM t, size_t limit);

/* The one scheduling rule (see nif_funcs[] in council_nif.c), in its two
 * forms. Measured first: fun runs right here when cost <= limit, else on a
 * dirty CPU scheduler. */
ERL_NIF_TERM schedule_if_large(ErlNifEnv *env, size_t cost, size_t limit,
                               const char *name, nif_fun fun, int argc,
                               const ERL_NIF_TERM argv[]);

/* Measured while working: a NIF that learns its cost as it goes runs on
 * the calling scheduler, giving up once its work passes budget when
 * nif_on_normal(), and ends with nif_finish: result, after reporting the
 * share of the timeslice used; or, when a normal-scheduler pass went past
 * budget (it gave up), fun (the NIF itself) again from scratch on a dirty
 * CPU scheduler. */
int nif_on_normal(void);
ERL_NIF_TERM nif_finish(ErlNifEnv *env, size_t work, size_t budget,
                        const char *name, nif_fun fun, int argc,
                        const ERL_NIF_TERM argv[], ERL_NIF_TERM result);

/* Counts one decision of the rule for the NIF called name (as given to
 * the two functions above): kept on the normal scheduler, or moved to a
 * dirty one (council_nif.c keeps the counts). */
void nif_note_decision(const char *name, int dirty);

/* Reports the share of a 1 ms timeslice that work out of full used (on a
 * normal scheduler; elsewhere it does nothing). */
void consume_timeslice(ErlNifEnv *env, size_t work, size_t full);

#endif
