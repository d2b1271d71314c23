/* json_nif.c - CouncilEx.JSON: term walking and scheduling only. Decode is
 * json_strict_read (checks, notes) + cJSON + json_walk, building terms;
 * encode walks the term, writing through json_out into one binary.
 *
 * Stack: both walks keep explicit heap stacks. Only cJSON's parser (and
 * cJSON_Delete) recurse, about 110 bytes per level, so max_depth <= 1000
 * needs ~110 KB: safe on a dirty CPU scheduler's 40-kiloword stack. */
#include <cJSON.h>
#include <erl_nif.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "atoms.h"
#include "buf.h"
#include "chat.h"
#include "etf.h"
#include "json_nif.h"
#include "json_out.h"
#include "json_strict.h"
#include "json_walk.h"
#include "terms.h"

/* Work, in units of about a nanosecond, that one call on a normal
 * scheduler may do (nif_finish, terms.h): 0.2 ms, well under the 1 ms
 * rule. Decode estimates its cost before cJSON runs; encode charges as it
 * goes. */
#define JSON_BUDGET 196608
/* Decode estimates: cJSON spends about 100 ns per value (strtod,
 * localeconv, malloc), so 1536 values or a 16 KB input fill the budget. */
#define JSON_DECODE_NODE_COST (JSON_BUDGET / 1536)
#define JSON_DECODE_BYTE_COST (JSON_BUDGET / (16 * 1024))
/* Encode costs, charged as the walk goes. */
#define JSON_ENCODE_NODE_COST 60    /* any value, or a map key */
#define JSON_ENCODE_FLOAT_COST 1000 /* up to three snprintf + strtod */
#define JSON_ENCODE_BIG_COST 500    /* enif_term_to_binary, allocations */
/* enif_make_map_from_arrays only detects duplicate keys for flatmaps (up to
 * 32 keys) on OTP 25; bigger objects are checked here (erlang/otp#10975). */
#define JSON_FLATMAP_LIMIT 32

/* {error, Reason}, or {error, {Tag, Arg}} when tag is not 0. */
static ERL_NIF_TERM error_term(ErlNifEnv *env, ERL_NIF_TERM tag,
                               ERL_NIF_TERM arg) {
  return nif_error(env, tag ? enif_make_tuple2(env, tag, arg) : arg);
}

static size_t decode_cost(size_t bytes, size_t nodes) {
  size_t by_bytes = bytes * JSON_DECODE_BYTE_COST;
  size_t by_nodes = nodes * JSON_DECODE_NODE_COST;
  return by_bytes > by_nodes ? by_bytes : by_nodes;
}

/* --- Decode: cJSON tree to terms ---------------------------------------- */

enum { DEC_OK, DEC_NOMEM, DEC_RANGE };

typedef struct {
  ERL_NIF_TERM *items;
  size_t len, cap;
} term_stack;

static int push(term_stack *st, ERL_NIF_TERM t) {
  if (buf_grow_array(&st->items, &st->cap, st->len, sizeof(t)) != 0)
    return DEC_NOMEM;
  st->items[st->len++] = t;
  return DEC_OK;
}

/* The string of the walk's step: cstr as cJSON decoded it or, when it
 * holds \u0000 (cJSON cut it there), the token decoded again from text. */
static int make_string(ErlNifEnv *env, const json_walk *w, const char *cstr,
                       const char *text, size_t len, ERL_NIF_TERM *out) {
  int cut = w->nul_at != (size_t)-1;
  size_t n = cut ? json_strict_unescape(text, len, w->nul_at, NULL)
                 : (cstr != NULL ? strlen(cstr) : 0);
  unsigned char *data = enif_make_new_binary(env, n, out);

  if (data == NULL)
    return DEC_NOMEM;
  if (cut)
    json_strict_unescape(text, len, w->nul_at, (char *)data);
  else if (n > 0)
    memcpy(data, cstr, n);
  return DEC_OK;
}

static int scalar_term(ErlNifEnv *env, const json_walk *w, const char *text,
                       size_t len, ERL_NIF_TERM *out) {
  const cJSON *item = w->item;
  double d = item->valuedouble;

  *out = cJSON_IsTrue(item) ? am_true : cJSON_IsFalse(item) ? am_false : am_nil;
  if (cJSON_IsString(item))
    return make_string(env, w, item->valuestring, text, len, out);
  if (!cJSON_IsNumber(item))
    return DEC_OK;
  if (w->is_int)
    *out = enif_make_int64(env, (ErlNifSInt64)d);
  else if (isfinite(d))
    *out = enif_make_double(env, d);
  else
    return DEC_RANGE; /* number w->number */
  return DEC_OK;
}

/* 1 if two of the n keys are equal; -1 when out of memory. */
static int has_duplicate_keys(const ERL_NIF_TERM *keys, size_t n) {
  size_t slots = 64, *table;
  int dup = 0;

  while (slots < 2 * n)
    slots *= 2;
  if ((table = enif_alloc(slots * sizeof(*table))) == NULL)
    return -1;
  memset(table, 0xFF, slots * sizeof(*table)); /* SIZE_MAX: empty */
  for (size_t k = 0; k < n && !dup; k++) {
    size_t p = enif_hash(ERL_NIF_INTERNAL_HASH, keys[k], 0x9e3779b9);
    for (p &= slots - 1; table[p] != SIZE_MAX; p = (p + 1) & (slots - 1))
      if ((dup = enif_is_identical(keys[table[p]], keys[k])))
        break;
    table[p] = k;
  }
  enif_free(table);
  return dup;
}

/* The term of the container the walk just closed, made from (and popping)
 * its children's terms. In objects the last of equal keys wins. */
static int close_container(ErlNifEnv *env, const json_walk *w, term_stack *keys,
                           term_stack *values, ERL_NIF_TERM *out) {
  size_t n = w->count;
  ERL_NIF_TERM *k, *v = values->items + (values->len -= n);
  int dup = 0;

  if (cJSON_IsArray(w->item)) {
    *out = enif_make_list_from_array(env, v, (unsigned)n);
    return DEC_OK;
  }
  k = keys->items + (keys->len -= n);
  if (n > JSON_FLATMAP_LIMIT && (dup = has_duplicate_keys(k, n)) < 0)
    return DEC_NOMEM;
  if (!dup && enif_make_map_from_arrays(env, k, v, n, out))
    return DEC_OK;
  *out = enif_make_new_map(env);
  for (size_t i = 0; i < n; i++)
    if (!enif_make_map_put(env, *out, k[i], v[i], out))
      return DEC_NOMEM;
  return DEC_OK;
}

/* {ok, Term} for root, the tree of text[0..len), which follows `base`
 * bytes (a byte order mark) of the input: offsets count from the input.
 * The walk keeps its stack on the heap: no recursion per level. */
static ERL_NIF_TERM tree_result(ErlNifEnv *env, const cJSON *root,
                                const char *text, size_t len,
                                const json_strict_notes *notes, size_t base) {
  term_stack keys = {0}, values = {0};
  ERL_NIF_TERM t, result;
  json_walk w;
  int ev, rc = DEC_OK;

  json_walk_init(&w, root, notes);
  while (rc == DEC_OK && (ev = json_walk_next(&w)) != JSON_WALK_END) {
    if (ev == JSON_WALK_KEY)
      rc = make_string(env, &w, w.item->string, text, len, &t);
    else if (ev == JSON_WALK_SCALAR)
      rc = scalar_term(env, &w, text, len, &t);
    else if (ev == JSON_WALK_CLOSE)
      rc = close_container(env, &w, &keys, &values, &t);
    else if (ev == JSON_WALK_NOMEM)
      rc = DEC_NOMEM;
    if (rc == DEC_OK && ev != JSON_WALK_OPEN)
      rc = push(ev == JSON_WALK_KEY ? &keys : &values, t);
  }
  if (rc == DEC_OK)
    result = enif_make_tuple2(env, am_ok, values.items[0]);
  else if (rc == DEC_RANGE)
    result = error_term(env, am_number_out_of_range,
                        enif_make_uint64(env, base + json_strict_number_at(
                                                         text, len, w.number)));
  else
    result = error_term(env, 0, am_out_of_memory);
  json_walk_free(&w);
  free(keys.items);
  free(values.items);
  return result;
}

/* Reads text[0..len) as CouncilEx.JSON does (\u0000 kept, numbers of any
 * length, nothing after the value), keeping notes; on failure sets *err.
 * An input that ends too early is reported at its last byte (cJSON's habit,
 * kept). base: as in tree_result. */
static int read_text(ErlNifEnv *env, const char *text, size_t len, size_t base,
                     unsigned max_depth, json_strict_notes *notes,
                     ERL_NIF_TERM *err) {
  json_strict_opts opts = {
      (int)max_depth,
      JSON_STRICT_NUL | JSON_STRICT_LONG_NUMBERS | JSON_STRICT_WHOLE, notes};
  size_t end, at;
  const char *msg;
  int rc = json_strict_read(text, len, 0, &opts, &end, &at, &msg);

  if (rc == JSON_STRICT_DEEP)
    *err = error_term(env, am_too_deep, enif_make_uint(env, max_depth));
  else if (rc == JSON_STRICT_NOMEM)
    *err = error_term(env, 0, am_out_of_memory);
  else if (rc != JSON_STRICT_OK)
    *err = error_term(env, am_invalid_json,
                      enif_make_uint64(env, base + (at < len  ? at
                                                    : len > 0 ? len - 1
                                                              : 0)));
  return rc == JSON_STRICT_OK;
}

ERL_NIF_TERM json_nif_tree_to_term(ErlNifEnv *env, const cJSON *root,
                                   const char *text, size_t len) {
  json_strict_notes notes = {0};
  ERL_NIF_TERM result;

  if (read_text(env, text, len, 0, JSON_STRICT_DEPTH_LIMIT, &notes, &result))
    result = tree_result(env, root, text, len, &notes, 0);
  json_strict_notes_free(&notes);
  return result;
}

/* json_decode(Binary, MaxDepth): on a normal scheduler, an input found
 * to be past the budget (by its size, then by its values) moves to a
 * dirty one. */
ERL_NIF_TERM json_nif_decode(ErlNifEnv *env, int argc,
                             const ERL_NIF_TERM argv[]) {
  json_strict_notes notes = {0};
  ErlNifBinary in;
  unsigned max_depth;
  size_t bom = 0, len, cost;
  ERL_NIF_TERM result = 0;
  cJSON *root = NULL;
  int budget = nif_on_normal();

  if (!enif_inspect_binary(env, argv[0], &in) ||
      !enif_get_uint(env, argv[1], &max_depth) || max_depth < 1 ||
      max_depth > JSON_STRICT_DEPTH_LIMIT)
    return enif_make_badarg(env);
  if (budget && (cost = decode_cost(in.size, 0)) > JSON_BUDGET)
    return nif_finish(env, cost, JSON_BUDGET, "json_decode", json_nif_decode,
                      argc, argv, 0);
  /* A leading byte order mark is ignored (RFC 8259 section 8.1). It is
   * skipped here because cJSON skips it only in inputs of 5+ bytes. */
  if (in.size >= 3 && memcmp(in.data, "\xEF\xBB\xBF", 3) == 0)
    bom = 3;
  const char *text = (const char *)in.data + bom;
  len = in.size - bom;
  if (!chat_utf8_valid((const char *)in.data, in.size))
    result = error_term(env, 0, am_invalid_utf8);
  else if (read_text(env, text, len, bom, max_depth, &notes, &result) &&
           !(budget && decode_cost(in.size, notes.nodes) > JSON_BUDGET))
    result = (root = cJSON_ParseWithLength(text, len)) != NULL
                 ? tree_result(env, root, text, len, &notes, bom)
                 : error_term(env, 0, am_out_of_memory); /* good text */
  cost = decode_cost(in.size, notes.nodes);
  if (result && cost > JSON_BUDGET) /* a bad text is done with: no retry */
    cost = JSON_BUDGET;
  cJSON_Delete(root);
  json_strict_notes_free(&notes);
  return nif_finish(env, cost, JSON_BUDGET, "json_decode", json_nif_decode,
                    argc, argv, result);
}

/* --- Encode: terms to JSON ---------------------------------------------- */

enum { ENC_OK, ENC_ERROR, ENC_NOMEM, ENC_YIELD };

/* A list or map being written. */
typedef struct {
  ERL_NIF_TERM container; /* for error reports */
  ERL_NIF_TERM tail;      /* lists: the elements not yet written */
  ErlNifMapIterator it;   /* maps: the next pair */
  int is_map;
  int first; /* no element written yet */
} enc_frame;

typedef struct {
  ErlNifEnv *env;
  enc_frame *frames; /* open lists and maps, innermost last */
  size_t depth, frames_cap;
  ErlNifBinary out; /* out.size is the capacity */
  size_t len;       /* bytes written */
  unsigned max_depth;
  int on_normal;      /* the budget applies */
  size_t spent;       /* work units so far */
  ERL_NIF_TERM error; /* ENC_ERROR: the reason */
} enc_ctx;

/* Spends cost work units; ENC_YIELD once past the budget. */
static int charge(enc_ctx *c, size_t cost) {
  c->spent += cost;
  return c->on_normal && c->spent > JSON_BUDGET ? ENC_YIELD : ENC_OK;
}

static int fail(enc_ctx *c, ERL_NIF_TERM tag, ERL_NIF_TERM term) {
  c->error = enif_make_tuple2(c->env, tag, term);
  return ENC_ERROR;
}

/* Makes room for n more bytes at c->out.data + c->len; returns it. */
static char *room(enc_ctx *c, size_t n) {
  size_t cap = c->out.size;

  while (cap - c->len < n)
    if ((cap *= 2) < c->out.size)
      return NULL; /* overflow */
  if (cap != c->out.size && !enif_realloc_binary(&c->out, cap))
    return NULL;
  return (char *)c->out.data + c->len;
}

/* One byte: the separators and brackets, the commonest write of all. */
static int put_char(enc_ctx *c, char ch) {
  char *o = c->len < c->out.size ? (char *)c->out.data + c->len : room(c, 1);

  if (o == NULL)
    return ENC_NOMEM;
  *o = ch;
  c->len++;
  return ENC_OK;
}

static int put_bytes(enc_ctx *c, const char *data, size_t n) {
  char *o = room(c, n);

  if (o == NULL)
    return ENC_NOMEM;
  memcpy(o, data, n);
  c->len += n;
  return ENC_OK;
}

/* Writes s[0..n) (valid UTF-8) as a JSON string: in the room there is
 * when it fits, else measured first. */
static int put_string(enc_ctx *c, const void *s, size_t n) {
  size_t left = c->out.size - c->len, size;
  char *o = (char *)c->out.data + c->len;

  if ((size = json_write_string(o, left, s, n, 0)) > left &&
      ((o = room(c, size)) == NULL ||
       json_write_string(o, size, s, n, 0) != size))
    return ENC_NOMEM;
  c->len += size;
  return charge(c, (size - n) * 2);
}

/* Writes an atom's name as a string. Latin-1 names come from
 * enif_get_atom; names with code points above 255 (which OTP 25's
 * enif_get_atom cannot return) are read from the external term format,
 * where they are UTF-8. A key of map (map not NULL) that the map also
 * holds as a binary would be written twice: that is an error. */
static int put_atom_name(enc_ctx *c, ERL_NIF_TERM atom,
                         const ERL_NIF_TERM *map) {
  char latin1[256];
  unsigned char utf8[512];
  const unsigned char *name = utf8;
  size_t n;
  ErlNifBinary ext = {0};
  ERL_NIF_TERM text, v;
  int len = enif_get_atom(c->env, atom, latin1, 256, ERL_NIF_LATIN1), rc;

  if (len > 0) {
    n = etf_latin1_to_utf8(latin1, (size_t)len - 1, utf8);
  } else {
    if ((rc = charge(c, JSON_ENCODE_BIG_COST)) != ENC_OK)
      return rc;
    if (!enif_term_to_binary(c->env, atom, &ext))
      return ENC_NOMEM;
    if (!etf_atom_utf8(ext.data, ext.size, &name, &n)) {
      enif_release_binary(&ext);
      return fail(c, am_unsupported_term, atom);
    }
  }
  if (map && (rc = charge(c, JSON_ENCODE_NODE_COST)) == ENC_OK) {
    memcpy(enif_make_new_binary(c->env, n, &text), name, n);
    rc = enif_get_map_value(c->env, *map, text, &v)
             ? fail(c, am_duplicate_key, text)
             : put_string(c, name, n);
  } else if (!map) {
    rc = put_string(c, name, n);
  }
  if (ext.data)
    enif_release_binary(&ext);
  return rc;
}

/* Writes an integer outside the 64-bit range, exactly, from its digits in
 * the external term format. */
static int put_bignum(enc_ctx *c, ERL_NIF_TERM term) {
  const unsigned char *mag;
  ErlNifBinary ext;
  size_t n;
  int negative, rc;
  char *o;

  if (!enif_term_to_binary(c->env, term, &ext))
    return ENC_NOMEM;
  if (!etf_bignum(ext.data, ext.size, &mag, &n, &negative))
    rc = fail(c, am_unsupported_term, term);
  else if ((rc = charge(c, JSON_ENCODE_BIG_COST + n * 4 + n * n / 8)) ==
           ENC_OK) {
    n = (o = room(c, json_bignum_size(n))) != NULL
            ? json_format_bignum(o, mag, n, negative)
            : 0;
    c->len += n;
    rc = n > 0 ? ENC_OK : ENC_NOMEM;
  }
  enif_release_binary(&ext);
  return rc;
}

/* Writes an integer or a float. */
static int put_number(enc_ctx *c, ERL_NIF_TERM term, int is_float) {
  ErlNifSInt64 i;
  ErlNifUInt64 u;
  double d;
  char *o = room(c, JSON_NUMBER_MAX);

  if (o == NULL)
    return ENC_NOMEM;
  if (is_float && enif_get_double(c->env, term, &d)) {
    c->len += json_format_double(o, d, JSON_OUT_FLOAT); /* floats are finite */
    /* Integral floats below 2^53 are written as integers, cheaply. */
    return d == floor(d) && fabs(d) < 9007199254740992.0
               ? ENC_OK
               : charge(c, JSON_ENCODE_FLOAT_COST);
  }
  if (enif_get_int64(c->env, term, &i))
    c->len += json_format_int(o, i);
  else if (enif_get_uint64(c->env, term, &u))
    c->len += json_format_uint(o, u);
  else
    return put_bignum(c, term);
  return ENC_OK;
}

/* Opens a list or map: checks the depth and pushes a frame. */
static int push_frame(enc_ctx *c, ERL_NIF_TERM container, int is_map) {
  enc_frame *f;

  if (c->depth >= c->max_depth)
    return fail(c, am_too_deep, enif_make_uint(c->env, c->max_depth));
  if (buf_grow_array(&c->frames, &c->frames_cap, c->depth, sizeof(*f)) != 0)
    return ENC_NOMEM;
  f = &c->frames[c->depth];
  *f = (enc_frame){container, container, .is_map = is_map, .first = 1};
  if (is_map && !enif_map_iterator_create(c->env, container, &f->it,
                                          ERL_NIF_MAP_ITERATOR_FIRST))
    return ENC_NOMEM;
  c->depth++;
  return put_char(c, is_map ? '{' : '[');
}

/* Writes a scalar, or opens a list or map (its elements come later). A key
 * of map (map not NULL) must be a binary or an atom. */
static int encode_one(enc_ctx *c, ERL_NIF_TERM term, const ERL_NIF_TERM *map) {
  int is_key = map != NULL;
  int rc, type = enif_term_type(c->env, term);
  ErlNifBinary bin;
  ERL_NIF_TERM v;

  if ((rc = charge(c, JSON_ENCODE_NODE_COST)) != ENC_OK)
    return rc;
  if (type == ERL_NIF_TERM_TYPE_BITSTRING &&
      enif_inspect_binary(c->env, term, &bin)) {
    if ((rc = charge(c, bin.size)) != ENC_OK)
      return rc;
    if (!chat_utf8_valid((const char *)bin.data, bin.size))
      return fail(c, am_invalid_string, term);
    return put_string(c, bin.data, bin.size);
  }
  if (type == ERL_NIF_TERM_TYPE_ATOM && !is_key) {
    if (enif_is_identical(term, am_nil))
      return put_bytes(c, "null", 4);
    if (enif_is_identical(term, am_true))
      return put_bytes(c, "true", 4);
    if (enif_is_identical(term, am_false))
      return put_bytes(c, "false", 5);
  }
  if (type == ERL_NIF_TERM_TYPE_ATOM)
    return put_atom_name(c, term, map);
  if (is_key)
    return fail(c, am_invalid_key, term);
  if (type == ERL_NIF_TERM_TYPE_INTEGER || type == ERL_NIF_TERM_TYPE_FLOAT)
    return put_number(c, term, type == ERL_NIF_TERM_TYPE_FLOAT);
  if (type == ERL_NIF_TERM_TYPE_LIST)
    return push_frame(c, term, 0);
  /* maps, but not structs: encoding one would leak its __struct__ key */
  if (type == ERL_NIF_TERM_TYPE_MAP &&
      !(enif_get_map_value(c->env, term, am_struct, &v) &&
        enif_is_atom(c->env, v)))
    return push_frame(c, term, 1);
  /* tuples, pids, ports, references, funs, other bitstrings, structs */
  return fail(c, am_unsupported_term, term);
}

/* Moves to the next element to write, writing the separator (and key)
 * before it and closing the lists and maps that are done; c->depth is 0
 * once the whole term is written. */
static int next_value(enc_ctx *c, ERL_NIF_TERM *value) {
  ERL_NIF_TERM key;
  int rc;

  while (c->depth > 0) {
    enc_frame *f = &c->frames[c->depth - 1];
    if (f->is_map ? enif_map_iterator_get_pair(c->env, &f->it, &key, value)
                  : enif_get_list_cell(c->env, f->tail, value, &f->tail)) {
      if (!f->first && (rc = put_char(c, ',')) != ENC_OK)
        return rc;
      f->first = 0;
      if (!f->is_map)
        return ENC_OK;
      enif_map_iterator_next(c->env, &f->it);
      if ((rc = encode_one(c, key, &f->container)) != ENC_OK)
        return rc;
      return put_char(c, ':');
    }
    /* Checked at the end of the list: measuring it first would be an
     * unbudgeted walk of all of it. */
    if (!f->is_map && !enif_is_empty_list(c->env, f->tail))
      return fail(c, am_unsupported_term, f->container); /* improper */
    if (f->is_map)
      enif_map_iterator_destroy(c->env, &f->it);
    c->depth--;
    if ((rc = put_char(c, f->is_map ? '}' : ']')) != ENC_OK)
      return rc;
  }
  return ENC_OK;
}

/* Writes term. There is no recursion: open lists and maps sit on
 * c->frames, so the C stack use does not grow with nesting depth. */
static int encode_term(enc_ctx *c, ERL_NIF_TERM value) {
  int rc;

  while ((rc = encode_one(c, value, NULL)) == ENC_OK &&
         (rc = next_value(c, &value)) == ENC_OK && c->depth > 0)
    ;
  return rc;
}

/* json_encode(Term, MaxDepth): on a normal scheduler within the budget;
 * past it the partial output is dropped and the whole encode starts again
 * on a dirty scheduler. */
ERL_NIF_TERM json_nif_encode(ErlNifEnv *env, int argc,
                             const ERL_NIF_TERM argv[]) {
  enc_ctx c = {.env = env, .on_normal = nif_on_normal()};
  ERL_NIF_TERM result = 0;
  int rc;

  if (!enif_get_uint(env, argv[1], &c.max_depth) || c.max_depth < 1 ||
      c.max_depth > JSON_STRICT_DEPTH_LIMIT)
    return enif_make_badarg(env);
  if (!enif_alloc_binary(256, &c.out))
    return error_term(env, 0, am_out_of_memory);
  rc = encode_term(&c, argv[0]);
  for (size_t k = 0; k < c.depth; k++)
    if (c.frames[k].is_map)
      enif_map_iterator_destroy(env, &c.frames[k].it);
  free(c.frames);
  if (rc == ENC_OK && !enif_realloc_binary(&c.out, c.len))
    rc = ENC_NOMEM;
  if (rc == ENC_OK)
    result = enif_make_tuple2(env, am_ok, enif_make_binary(env, &c.out));
  else
    enif_release_binary(&c.out);
  if (rc == ENC_ERROR || rc == ENC_NOMEM)
    result = error_term(env, 0, rc == ENC_ERROR ? c.error : am_out_of_memory);
  return nif_finish(env, c.spent, JSON_BUDGET, "json_encode", json_nif_encode,
                    argc, argv, result);
}
