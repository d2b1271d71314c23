/* json_nif.c - CouncilEx.JSON: term walking only. Reading, escaping and
 * number formatting live in the core (json_strict, json_out).
 *
 * Decode: json_strict_read checks the text (depth, RFC 8259, numbers) and
 * notes per token what cJSON's tree loses (integer or float, strings
 * holding \u0000); cJSON parses; the tree becomes terms in document order,
 * so the notes line up with the tree's number and string nodes.
 *
 * Encode: the term is written straight into a binary through json_out. Not
 * through cJSON: its strings are NUL-terminated (a binary holding <<0>>
 * would be cut short) and it would cost a second copy of the document.
 *
 * Stack: both walks keep explicit heap stacks. Only cJSON's parser (and
 * cJSON_Delete) recurse, about 110 bytes per level, so max_depth <= 1000
 * needs ~110 KB: safe on a dirty CPU scheduler's 40-kiloword stack.
 *
 * Scheduling: see past_budget. */
#include <cJSON.h>
#include <erl_nif.h>

#include <math.h>
#include <string.h>

#include "chat.h"
#include "json_nif.h"
#include "json_out.h"
#include "json_strict.h"

/* Work, in units of about a nanosecond, that one call on a normal
 * scheduler may do: 0.2 ms, well under the 1 ms rule. */
#define JSON_BUDGET 196608
/* Decode cost estimates: cJSON spends about 100 ns per value (strtod,
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

#define ATOM_DECLARE(name, text) static ERL_NIF_TERM am_##name;
JSON_NIF_ATOMS(ATOM_DECLARE)

int json_nif_load(ErlNifEnv *env) {
#define ATOM_MAKE(name, text) am_##name = enif_make_atom(env, text);
  JSON_NIF_ATOMS(ATOM_MAKE)
  return 0;
}

static ERL_NIF_TERM make_error(ErlNifEnv *env, ERL_NIF_TERM reason) {
  return enif_make_tuple2(env, am_error, reason);
}

static ERL_NIF_TERM make_error_at(ErlNifEnv *env, ERL_NIF_TERM tag,
                                  size_t offset) {
  return make_error(env,
                    enif_make_tuple2(env, tag, enif_make_uint64(env, offset)));
}

/* The scheduling decision, in one place: whether `units` of work is more
 * than a call on a normal scheduler may do. Decode estimates its cost up
 * front (decode_cost); encode charges as it goes and, once over, starts
 * again from scratch. Either way the rest runs on a dirty CPU scheduler. */
static int past_budget(size_t units) { return units > JSON_BUDGET; }

static size_t decode_cost(size_t bytes, size_t nodes) {
  size_t by_bytes = bytes * JSON_DECODE_BYTE_COST;
  size_t by_nodes = nodes * JSON_DECODE_NODE_COST;

  return by_bytes > by_nodes ? by_bytes : by_nodes;
}

/* Reports the share of the timeslice that `units` of work used. */
static void consume_timeslice(ErlNifEnv *env, size_t units) {
  size_t pct = 1 + units * 100 / JSON_BUDGET;
  enif_consume_timeslice(env, pct > 100 ? 100 : (int)pct);
}

static ERL_NIF_TERM go_dirty(ErlNifEnv *env, const char *name,
                             ERL_NIF_TERM (*fun)(ErlNifEnv *, int,
                                                 const ERL_NIF_TERM[]),
                             int argc, const ERL_NIF_TERM argv[]) {
  return enif_schedule_nif(env, name, ERL_NIF_DIRTY_JOB_CPU_BOUND, fun, argc,
                           argv);
}

/* ------------------------------------------------------------------------ */
/* Decode: cJSON tree to terms                                              */
/* ------------------------------------------------------------------------ */

enum { DEC_OK, DEC_NOMEM, DEC_RANGE };

typedef struct {
  ERL_NIF_TERM *items;
  size_t len, cap;
} term_stack;

/* An array or object being converted: its node, the next child to convert,
 * and where its children's terms start on the key and value stacks. */
typedef struct {
  const cJSON *node;
  const cJSON *next;
  size_t kbase, vbase;
} dec_frame;

typedef struct {
  ErlNifEnv *env;
  const char *text;
  size_t len;
  const json_strict_notes *notes;
  dec_frame *frames; /* open containers, innermost last */
  size_t depth, frames_cap;
  size_t num_i, str_i, nul_i; /* next number, string, notes->nul entry */
  term_stack keys, values;
} dec_ctx;

/* Makes room for one more item of `size` bytes in *items. */
static int grow(void **items, size_t *cap, size_t len, size_t size) {
  if (len < *cap)
    return 1;
  size_t n = *cap ? *cap * 2 : 16;
  void *p = enif_realloc(*items, n * size);
  if (p == NULL)
    return 0;
  *items = p;
  *cap = n;
  return 1;
}

static int stack_push(term_stack *st, ERL_NIF_TERM t) {
  if (!grow((void **)&st->items, &st->cap, st->len, sizeof(t)))
    return 0;
  st->items[st->len++] = t;
  return 1;
}

/* The next string token of the document, which cJSON decoded into cstr
 * (cut short at a \u0000: those are decoded again from the text). */
static int make_string(dec_ctx *c, const char *cstr, ERL_NIF_TERM *out) {
  const json_strict_notes *n = c->notes;
  size_t index = c->str_i++;
  int noted = c->nul_i < n->nnul && n->nul[c->nul_i].string == index;
  size_t at = noted ? n->nul[c->nul_i++].at : 0, len;
  unsigned char *data;

  if (noted)
    len = json_strict_unescape(c->text, c->len, at, NULL);
  else
    len = cstr != NULL ? strlen(cstr) : 0;
  data = enif_make_new_binary(c->env, len, out);
  if (data == NULL)
    return DEC_NOMEM;
  if (noted)
    json_strict_unescape(c->text, c->len, at, (char *)data);
  else if (len > 0)
    memcpy(data, cstr, len);
  return DEC_OK;
}

static int make_number(dec_ctx *c, const cJSON *item, ERL_NIF_TERM *out) {
  double d = item->valuedouble;

  if (json_strict_is_int(c->notes, c->num_i++))
    *out = enif_make_int64(c->env, (ErlNifSInt64)d);
  else if (isfinite(d))
    *out = enif_make_double(c->env, d);
  else
    return DEC_RANGE; /* number c->num_i - 1 */
  return DEC_OK;
}

/* 1 if two of the n keys are equal; -1 when out of memory. */
static int has_duplicate_keys(const ERL_NIF_TERM *keys, size_t n) {
  size_t slots = 64, *table;
  int dup = 0;

  while (slots < 2 * n)
    slots *= 2;
  table = enif_alloc(slots * sizeof(*table));
  if (table == NULL)
    return -1;
  memset(table, 0xFF, slots * sizeof(*table)); /* SIZE_MAX: empty */
  for (size_t k = 0; k < n && !dup; k++) {
    size_t h = (size_t)enif_hash(ERL_NIF_INTERNAL_HASH, keys[k], 0x9e3779b9);
    for (size_t p = h & (slots - 1);; p = (p + 1) & (slots - 1)) {
      if (table[p] == SIZE_MAX) {
        table[p] = k;
        break;
      }
      if (enif_is_identical(keys[table[p]], keys[k])) {
        dup = 1;
        break;
      }
    }
  }
  enif_free(table);
  return dup;
}

/* Builds a map from n key/value pairs; on duplicate keys the last wins. */
static int make_object(ErlNifEnv *env, ERL_NIF_TERM *keys, ERL_NIF_TERM *values,
                       size_t n, ERL_NIF_TERM *out) {
  int dup = n > JSON_FLATMAP_LIMIT ? has_duplicate_keys(keys, n) : 0;
  ERL_NIF_TERM map;

  if (dup < 0)
    return DEC_NOMEM;
  if (!dup && enif_make_map_from_arrays(env, keys, values, n, out))
    return DEC_OK;
  map = enif_make_new_map(env);
  for (size_t k = 0; k < n; k++)
    if (!enif_make_map_put(env, map, keys[k], values[k], &map))
      return DEC_NOMEM;
  *out = map;
  return DEC_OK;
}

static int scalar_term(dec_ctx *c, const cJSON *item, ERL_NIF_TERM *out) {
  switch (item->type & 0xFF) {
  case cJSON_False:
    *out = am_false;
    return DEC_OK;
  case cJSON_True:
    *out = am_true;
    return DEC_OK;
  case cJSON_Number:
    return make_number(c, item, out);
  case cJSON_String:
    return make_string(c, item->valuestring, out);
  default:
    /* cJSON_NULL; cJSON_Raw and cJSON_Invalid never come out of the parser */
    *out = am_nil;
    return DEC_OK;
  }
}

static int is_container(const cJSON *item) {
  int type = item->type & 0xFF;
  return type == cJSON_Array || type == cJSON_Object;
}

/* Makes the term of a container whose children are all converted, and
 * drops the children from the key/value stacks. */
static int close_container(dec_ctx *c, const dec_frame *f, ERL_NIF_TERM *out) {
  size_t n = c->values.len - f->vbase;
  int rc = DEC_OK;

  if ((f->node->type & 0xFF) == cJSON_Array)
    *out = enif_make_list_from_array(c->env, c->values.items + f->vbase,
                                     (unsigned)n);
  else
    rc = make_object(c->env, c->keys.items + f->kbase,
                     c->values.items + f->vbase, n, out);
  c->keys.len = f->kbase;
  c->values.len = f->vbase;
  return rc;
}

/* Converts the tree at root in document order, without recursion: open
 * arrays and objects sit on c->frames, finished child terms on
 * c->keys/c->values until their container closes. */
static int to_term(dec_ctx *c, const cJSON *root, ERL_NIF_TERM *out) {
  const cJSON *item = root;
  ERL_NIF_TERM t;
  int rc;

  for (;;) {
    if (is_container(item)) {
      if (!grow((void **)&c->frames, &c->frames_cap, c->depth,
                sizeof(dec_frame)))
        return DEC_NOMEM;
      c->frames[c->depth++] =
          (dec_frame){item, item->child, c->keys.len, c->values.len};
    } else {
      if ((rc = scalar_term(c, item, &t)) != DEC_OK)
        return rc;
      if (c->depth == 0) {
        *out = t;
        return DEC_OK;
      }
      if (!stack_push(&c->values, t))
        return DEC_NOMEM;
    }
    /* Move to the next child, closing the containers that are done. */
    for (;;) {
      dec_frame *f = &c->frames[c->depth - 1];
      if (f->next != NULL) {
        item = f->next;
        f->next = item->next;
        if ((f->node->type & 0xFF) == cJSON_Object &&
            ((rc = make_string(c, item->string, &t)) != DEC_OK ||
             !stack_push(&c->keys, t)))
          return rc != DEC_OK ? rc : DEC_NOMEM;
        break;
      }
      if ((rc = close_container(c, f, &t)) != DEC_OK)
        return rc;
      if (--c->depth == 0) {
        *out = t;
        return DEC_OK;
      }
      if (!stack_push(&c->values, t))
        return DEC_NOMEM;
    }
  }
}

/* {ok, Term} for the tree of text[0..len), which follows `base` bytes (a
 * byte order mark) of the input: error offsets count from the input. */
static ERL_NIF_TERM tree_result(ErlNifEnv *env, const cJSON *root,
                                const char *text, size_t len,
                                const json_strict_notes *notes, size_t base) {
  dec_ctx c = {.env = env, .text = text, .len = len, .notes = notes};
  ERL_NIF_TERM term, result;
  int rc = to_term(&c, root, &term);

  if (rc == DEC_OK)
    result = enif_make_tuple2(env, am_ok, term);
  else if (rc == DEC_RANGE)
    result =
        make_error_at(env, am_number_out_of_range,
                      base + json_strict_number_at(text, len, c.num_i - 1));
  else
    result = make_error(env, am_out_of_memory);
  enif_free(c.frames);
  enif_free(c.keys.items);
  enif_free(c.values.items);
  return result;
}

/* The error for a failed json_strict_read of text[0..len) (after `base`
 * bytes). An input that ends too early is reported at its last byte, as
 * cJSON did before the strict reader came first. */
static ERL_NIF_TERM read_error(ErlNifEnv *env, int rc, size_t at, size_t len,
                               size_t base, unsigned max_depth) {
  if (rc == JSON_STRICT_DEEP)
    return make_error(env, enif_make_tuple2(env, am_too_deep,
                                            enif_make_uint(env, max_depth)));
  if (rc == JSON_STRICT_NOMEM)
    return make_error(env, am_out_of_memory);
  return make_error_at(env, am_invalid_json,
                       base + (at >= len && len > 0 ? len - 1 : at));
}

/* How CouncilEx.JSON reads text: \u0000 kept, numbers of any length. */
static json_strict_opts read_opts(unsigned max_depth,
                                  json_strict_notes *notes) {
  return (json_strict_opts){
      (int)max_depth,
      JSON_STRICT_NUL | JSON_STRICT_LONG_NUMBERS | JSON_STRICT_WHOLE, notes};
}

ERL_NIF_TERM json_nif_tree_to_term(ErlNifEnv *env, const cJSON *root,
                                   const char *text, size_t len) {
  json_strict_notes notes = {0};
  json_strict_opts opts = read_opts(JSON_STRICT_DEPTH_LIMIT, &notes);
  size_t end, at;
  const char *err;
  int rc = json_strict_read(text, len, 0, &opts, &end, &at, &err);
  ERL_NIF_TERM result =
      rc == JSON_STRICT_OK
          ? tree_result(env, root, text, len, &notes, 0)
          : read_error(env, rc, at, len, 0, JSON_STRICT_DEPTH_LIMIT);

  json_strict_notes_free(&notes);
  return result;
}

static ERL_NIF_TERM decode_dirty(ErlNifEnv *env, int argc,
                                 const ERL_NIF_TERM argv[]);

/* The decode proper; on a normal scheduler (!dirty) it moves to a dirty
 * one once the input turns out to be past the budget. */
static ERL_NIF_TERM decode(ErlNifEnv *env, int argc, const ERL_NIF_TERM argv[],
                           int dirty) {
  ErlNifBinary in;
  unsigned max_depth;
  json_strict_notes notes = {0};
  json_strict_opts opts = read_opts(0, &notes);
  size_t bom = 0, end, at;
  const char *err, *text;
  ERL_NIF_TERM result;
  cJSON *root;
  int rc;

  if (argc != 2 || !enif_inspect_binary(env, argv[0], &in) ||
      !enif_get_uint(env, argv[1], &max_depth) || max_depth < 1 ||
      max_depth > JSON_STRICT_DEPTH_LIMIT)
    return enif_make_badarg(env);
  if (!dirty && past_budget(decode_cost(in.size, 0)))
    return go_dirty(env, "json_decode_dirty", decode_dirty, argc, argv);
  if (!chat_utf8_valid((const char *)in.data, in.size))
    return make_error(env, am_invalid_utf8);
  /* A leading byte order mark is ignored (RFC 8259 section 8.1). It is
   * skipped here because cJSON skips it only in inputs of 5+ bytes. */
  if (in.size >= 3 && memcmp(in.data, "\xEF\xBB\xBF", 3) == 0)
    bom = 3;
  text = (const char *)in.data + bom;
  opts.max_depth = (int)max_depth;
  rc = json_strict_read(text, in.size - bom, 0, &opts, &end, &at, &err);
  if (rc != JSON_STRICT_OK) {
    result = read_error(env, rc, at, in.size - bom, bom, max_depth);
  } else if (!dirty && past_budget(decode_cost(in.size, notes.nodes))) {
    json_strict_notes_free(&notes);
    return go_dirty(env, "json_decode_dirty", decode_dirty, argc, argv);
  } else if ((root = cJSON_ParseWithLength(text, in.size - bom)) == NULL) {
    result = make_error(env, am_out_of_memory); /* the text was good */
  } else {
    result = tree_result(env, root, text, in.size - bom, &notes, bom);
    cJSON_Delete(root);
  }
  if (!dirty)
    consume_timeslice(env, decode_cost(in.size, notes.nodes));
  json_strict_notes_free(&notes);
  return result;
}

static ERL_NIF_TERM decode_dirty(ErlNifEnv *env, int argc,
                                 const ERL_NIF_TERM argv[]) {
  return decode(env, argc, argv, 1);
}

ERL_NIF_TERM json_nif_decode(ErlNifEnv *env, int argc,
                             const ERL_NIF_TERM argv[]) {
  return decode(env, argc, argv, 0);
}

/* ------------------------------------------------------------------------ */
/* Encode: terms to JSON                                                    */
/* ------------------------------------------------------------------------ */

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
  int limited;        /* 1 on a normal scheduler: the budget applies */
  size_t spent;       /* work units so far */
  ERL_NIF_TERM error; /* ENC_ERROR: the reason */
} enc_ctx;

/* Spends cost work units; ENC_YIELD once past the budget. */
static int charge(enc_ctx *c, size_t cost) {
  c->spent += cost;
  return c->limited && past_budget(c->spent) ? ENC_YIELD : ENC_OK;
}

/* Makes room for n more bytes at c->out.data + c->len. */
static int reserve(enc_ctx *c, size_t n) {
  size_t cap = c->out.size;

  if (c->len + n <= cap)
    return ENC_OK;
  while (cap < c->len + n) {
    if (cap > SIZE_MAX / 2)
      return ENC_NOMEM;
    cap *= 2;
  }
  return enif_realloc_binary(&c->out, cap) ? ENC_OK : ENC_NOMEM;
}

static int put_bytes(enc_ctx *c, const void *data, size_t n) {
  int rc = reserve(c, n);
  if (rc == ENC_OK) {
    memcpy(c->out.data + c->len, data, n);
    c->len += n;
  }
  return rc;
}

static int fail(enc_ctx *c, ERL_NIF_TERM tag, ERL_NIF_TERM term) {
  c->error = enif_make_tuple2(c->env, tag, term);
  return ENC_ERROR;
}

/* Writes s[0..n) (valid UTF-8) as a JSON string. */
static int put_string(enc_ctx *c, const unsigned char *s, size_t n) {
  size_t size = json_string_size((const char *)s, n, 0);
  int rc;

  if ((rc = charge(c, (size - n) * 2)) != ENC_OK ||
      (rc = reserve(c, size)) != ENC_OK)
    return rc;
  json_write_string((char *)c->out.data + c->len, (const char *)s, n, 0);
  c->len += size;
  return ENC_OK;
}

/* Writes a binary as a string, or fails with {invalid_string, Bin}. */
static int put_binary(enc_ctx *c, ERL_NIF_TERM term) {
  ErlNifBinary bin;
  int rc;

  if (!enif_inspect_binary(c->env, term, &bin))
    return fail(c, am_unsupported_term, term);
  if ((rc = charge(c, bin.size)) != ENC_OK)
    return rc;
  if (!chat_utf8_valid((const char *)bin.data, bin.size))
    return fail(c, am_invalid_string, term);
  return put_string(c, bin.data, bin.size);
}

/* The external term format of term, with the header fields of tags
 * small_tag (1-byte length) or big_tag (length of len_bytes bytes): sets
 * *at to the payload and *n to its length. 0 if it has neither form. */
static int ext_payload(const ErlNifBinary *ext, int small_tag, int big_tag,
                       size_t len_bytes, size_t *at, size_t *n) {
  if (ext->size >= 3 && ext->data[1] == small_tag) {
    *n = ext->data[2];
    *at = 3;
  } else if (ext->size >= 2 + len_bytes && ext->data[1] == big_tag) {
    *n = 0;
    for (size_t k = 0; k < len_bytes; k++)
      *n = (*n << 8) | ext->data[2 + k];
    *at = 2 + len_bytes;
  } else {
    return 0;
  }
  return *n <= ext->size - *at;
}

/* Writes an atom's name as a string. Latin-1 names come from
 * enif_get_atom; names with code points above 255 (which OTP 25's
 * enif_get_atom cannot return) are read from the external term format
 * (SMALL_ATOM_UTF8_EXT 119 or ATOM_UTF8_EXT 118), where they are UTF-8. */
static int put_atom_name(enc_ctx *c, ERL_NIF_TERM atom) {
  char latin1[256];
  unsigned char utf8[512];
  size_t n = 0, at;
  ErlNifBinary ext;
  int len, rc;

  len = enif_get_atom(c->env, atom, latin1, sizeof(latin1), ERL_NIF_LATIN1);
  if (len > 0) {
    for (int k = 0; k < len - 1; k++) {
      unsigned char b = (unsigned char)latin1[k];
      if (b >= 0x80)
        utf8[n++] = (unsigned char)(0xC0 | (b >> 6));
      utf8[n++] = b < 0x80 ? b : (unsigned char)(0x80 | (b & 0x3F));
    }
    return put_string(c, utf8, n);
  }
  if ((rc = charge(c, JSON_ENCODE_BIG_COST)) != ENC_OK)
    return rc;
  if (!enif_term_to_binary(c->env, atom, &ext))
    return ENC_NOMEM;
  if (!ext_payload(&ext, 119, 118, 2, &at, &n))
    rc = fail(c, am_unsupported_term, atom);
  else
    rc = put_string(c, ext.data + at, n);
  enif_release_binary(&ext);
  return rc;
}

/* Writes an integer outside the 64-bit range, exactly: its magnitude comes
 * from the external term format (SMALL_BIG_EXT 110 or LARGE_BIG_EXT 111:
 * sign byte, then little-endian base-256 digits). */
static int put_bignum(enc_ctx *c, ERL_NIF_TERM term) {
  ErlNifBinary ext;
  size_t at, n, len;
  int rc;

  if (!enif_term_to_binary(c->env, term, &ext))
    return ENC_NOMEM;
  if (!ext_payload(&ext, 110, 111, 4, &at, &n) || n == ext.size - at)
    rc = fail(c, am_unsupported_term, term);
  else if ((rc = charge(c, JSON_ENCODE_BIG_COST + n * 4 + n * n / 8)) ==
               ENC_OK &&
           (rc = reserve(c, json_bignum_size(n))) == ENC_OK) {
    len = json_format_bignum((char *)c->out.data + c->len, ext.data + at + 1, n,
                             ext.data[at] != 0);
    c->len += len;
    rc = len > 0 ? ENC_OK : ENC_NOMEM;
  }
  enif_release_binary(&ext);
  return rc;
}

/* Writes an integer or a float. */
static int put_number(enc_ctx *c, ERL_NIF_TERM term, int is_float) {
  char *o;
  ErlNifSInt64 i;
  ErlNifUInt64 u;
  double d;
  int rc;

  if (is_float && !enif_get_double(c->env, term, &d))
    return fail(c, am_unsupported_term, term);
  if (!is_float && !enif_get_int64(c->env, term, &i) &&
      !enif_get_uint64(c->env, term, &u))
    return put_bignum(c, term);
  /* Integral floats below 2^53 are written as integers, cheaply. */
  if ((is_float && !(d == floor(d) && fabs(d) < 9007199254740992.0) &&
       (rc = charge(c, JSON_ENCODE_FLOAT_COST)) != ENC_OK) ||
      (rc = reserve(c, JSON_NUMBER_MAX)) != ENC_OK)
    return rc;
  o = (char *)c->out.data + c->len;
  if (is_float)
    c->len += json_format_double(o, d, JSON_OUT_FLOAT); /* finite */
  else if (enif_get_int64(c->env, term, &i))
    c->len += json_format_int(o, i);
  else
    c->len += json_format_uint(o, u);
  return ENC_OK;
}

/* Opens a list or map: checks the depth and pushes a frame. */
static int push_frame(enc_ctx *c, ERL_NIF_TERM container, int is_map) {
  enc_frame *f;

  if (c->depth >= c->max_depth)
    return fail(c, am_too_deep, enif_make_uint(c->env, c->max_depth));
  if (!grow((void **)&c->frames, &c->frames_cap, c->depth, sizeof(*f)))
    return ENC_NOMEM;
  f = &c->frames[c->depth];
  *f = (enc_frame){
      .container = container, .tail = container, .is_map = is_map, .first = 1};
  if (is_map && !enif_map_iterator_create(c->env, container, &f->it,
                                          ERL_NIF_MAP_ITERATOR_FIRST))
    return ENC_NOMEM;
  c->depth++;
  return put_bytes(c, is_map ? "{" : "[", 1);
}

static int encode_key(enc_ctx *c, ERL_NIF_TERM key) {
  if (enif_is_binary(c->env, key))
    return put_binary(c, key);
  if (enif_is_atom(c->env, key))
    return put_atom_name(c, key);
  return fail(c, am_invalid_key, key);
}

/* Writes a scalar, or opens a list or map (its elements come later). */
static int encode_one(enc_ctx *c, ERL_NIF_TERM term) {
  ERL_NIF_TERM v;
  int rc;

  if ((rc = charge(c, JSON_ENCODE_NODE_COST)) != ENC_OK)
    return rc;
  switch (enif_term_type(c->env, term)) {
  case ERL_NIF_TERM_TYPE_ATOM:
    if (enif_is_identical(term, am_nil))
      return put_bytes(c, "null", 4);
    if (enif_is_identical(term, am_true))
      return put_bytes(c, "true", 4);
    if (enif_is_identical(term, am_false))
      return put_bytes(c, "false", 5);
    return put_atom_name(c, term);
  case ERL_NIF_TERM_TYPE_BITSTRING:
    return put_binary(c, term); /* not a binary: unsupported */
  case ERL_NIF_TERM_TYPE_INTEGER:
    return put_number(c, term, 0);
  case ERL_NIF_TERM_TYPE_FLOAT:
    return put_number(c, term, 1);
  case ERL_NIF_TERM_TYPE_LIST:
    return push_frame(c, term, 0);
  case ERL_NIF_TERM_TYPE_MAP:
    if (enif_get_map_value(c->env, term, am_struct, &v) &&
        enif_is_atom(c->env, v))
      return fail(c, am_unsupported_term, term); /* structs are not encoded */
    return push_frame(c, term, 1);
  default:
    /* tuples, pids, ports, references, funs */
    return fail(c, am_unsupported_term, term);
  }
}

/* Moves to the next element of the innermost open list or map, writing
 * the separator (and key); *value is the element. ENC_OK with 0 in *more
 * when the container is done (and closed). */
static int next_element(enc_ctx *c, ERL_NIF_TERM *value, int *more) {
  enc_frame *f = &c->frames[c->depth - 1];
  ERL_NIF_TERM key;
  int rc;

  *more = f->is_map ? enif_map_iterator_get_pair(c->env, &f->it, &key, value)
                    : enif_get_list_cell(c->env, f->tail, value, &f->tail);
  if (*more) {
    if (!f->first && (rc = put_bytes(c, ",", 1)) != ENC_OK)
      return rc;
    f->first = 0;
    if (!f->is_map)
      return ENC_OK;
    enif_map_iterator_next(c->env, &f->it);
    if ((rc = charge(c, JSON_ENCODE_NODE_COST)) != ENC_OK ||
        (rc = encode_key(c, key)) != ENC_OK)
      return rc;
    return put_bytes(c, ":", 1);
  }
  /* Checked at the end of the list: measuring it first would be an
   * unbudgeted walk of all of it. */
  if (!f->is_map && !enif_is_empty_list(c->env, f->tail))
    return fail(c, am_unsupported_term, f->container); /* improper */
  if (f->is_map)
    enif_map_iterator_destroy(c->env, &f->it);
  c->depth--;
  return put_bytes(c, f->is_map ? "}" : "]", 1);
}

/* Writes term. There is no recursion: open lists and maps sit on
 * c->frames, so the C stack use does not grow with nesting depth. */
static int encode_term(enc_ctx *c, ERL_NIF_TERM term) {
  ERL_NIF_TERM value = term;
  int rc, more;

  for (;;) {
    if ((rc = encode_one(c, value)) != ENC_OK)
      return rc;
    do {
      if (c->depth == 0)
        return ENC_OK;
      if ((rc = next_element(c, &value, &more)) != ENC_OK)
        return rc;
    } while (!more);
  }
}

/* The encode proper. On a normal scheduler (!dirty) it works within the
 * budget; once past it, the partial output is dropped and the whole encode
 * starts again on a dirty scheduler. */
static ERL_NIF_TERM encode(ErlNifEnv *env, int argc, const ERL_NIF_TERM argv[],
                           int dirty);

static ERL_NIF_TERM encode_dirty(ErlNifEnv *env, int argc,
                                 const ERL_NIF_TERM argv[]) {
  return encode(env, argc, argv, 1);
}

static ERL_NIF_TERM encode(ErlNifEnv *env, int argc, const ERL_NIF_TERM argv[],
                           int dirty) {
  enc_ctx c = {.env = env, .limited = !dirty};
  int rc;

  if (argc != 2 || !enif_get_uint(env, argv[1], &c.max_depth) ||
      c.max_depth < 1 || c.max_depth > JSON_STRICT_DEPTH_LIMIT)
    return enif_make_badarg(env);
  if (!enif_alloc_binary(256, &c.out))
    return make_error(env, am_out_of_memory);
  rc = encode_term(&c, argv[0]);
  for (size_t k = 0; k < c.depth; k++)
    if (c.frames[k].is_map)
      enif_map_iterator_destroy(env, &c.frames[k].it);
  enif_free(c.frames);
  if (rc == ENC_OK && !enif_realloc_binary(&c.out, c.len))
    rc = ENC_NOMEM;
  if (rc != ENC_OK)
    enif_release_binary(&c.out);
  if (!dirty)
    consume_timeslice(env, c.spent);
  if (rc == ENC_YIELD)
    return go_dirty(env, "json_encode_dirty", encode_dirty, argc, argv);
  if (rc != ENC_OK)
    return make_error(env, rc == ENC_ERROR ? c.error : am_out_of_memory);
  return enif_make_tuple2(env, am_ok, enif_make_binary(env, &c.out));
}

ERL_NIF_TERM json_nif_encode(ErlNifEnv *env, int argc,
                             const ERL_NIF_TERM argv[]) {
  return encode(env, argc, argv, 0);
}
