/* json_nif.c - CouncilEx.JSON: JSON text to terms through cJSON, and terms to
 * JSON text by a direct walk of the term.
 *
 * Decode: the input is checked in one linear pass (strict UTF-8), then
 * pre-scanned (nesting depth, the byte-level rules cJSON does not enforce,
 * number shapes, strings holding \u0000), and only then handed to cJSON,
 * whose parser recurses once per nesting level. The cJSON tree is converted
 * to terms in document order, so the pre-scan's per-token notes line up
 * with the tree's number and string nodes.
 *
 * Encode: the term is written straight into a binary. cJSON is not used for
 * output: its strings are NUL-terminated (a binary holding <<0>> would be
 * cut short) and it would cost a second full copy of the document.
 *
 * Stack: nothing here recurses per nesting level; both tree walks keep
 * explicit heap stacks. Only cJSON's parser (and cJSON_Delete) recurse,
 * about 110 bytes per level, so max_depth <= 1000 needs ~110 KB: safe on a
 * dirty CPU scheduler's 40-kiloword (320 KB) stack.
 *
 * Scheduling: decode moves to a dirty CPU scheduler when the input is over
 * JSON_DECODE_DIRTY_BYTES or holds over JSON_DECODE_DIRTY_NODES values.
 * Encode starts on the calling scheduler with a work budget; if the budget
 * runs out, the partial output is dropped and the whole encode is
 * rescheduled on a dirty CPU scheduler. Both keep a normal-scheduler call
 * around 0.3 ms at most. */
#include <cJSON.h>
#include <erl_nif.h>

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chat.h"
#include "json_nif.h"

/* Decode runs on a dirty CPU scheduler when the input is larger than
 * JSON_DECODE_DIRTY_BYTES, or has more than JSON_DECODE_DIRTY_NODES values
 * (cJSON spends roughly 100 ns per value, mostly strtod, localeconv and
 * malloc, so a 16 KB array of small numbers alone takes ~0.5 ms). */
#ifndef JSON_DECODE_DIRTY_BYTES
#define JSON_DECODE_DIRTY_BYTES (16 * 1024)
#endif
#ifndef JSON_DECODE_DIRTY_NODES
#define JSON_DECODE_DIRTY_NODES 1536
#endif
/* Work units (about a nanosecond each) an encode may spend on a normal
 * scheduler before it moves to a dirty one, and what things cost. */
#ifndef JSON_ENCODE_BUDGET
#define JSON_ENCODE_BUDGET 200000
#endif
#define JSON_ENCODE_NODE_COST 60    /* any value, or a map key */
#define JSON_ENCODE_FLOAT_COST 1000 /* up to three snprintf + strtod */
#define JSON_ENCODE_BIG_COST 500    /* enif_term_to_binary, allocations */
/* Hard ceiling for max_depth: cJSON's compile-time CJSON_NESTING_LIMIT. */
#define JSON_MAX_DEPTH_LIMIT 1000
/* enif_make_map_from_arrays only detects duplicate keys for flatmaps (up to
 * 32 keys) on OTP 25; bigger objects are checked here (erlang/otp#10975). */
#define JSON_FLATMAP_LIMIT 32
/* Largest integer a double holds exactly; bigger integers become floats. */
#define JSON_MAX_SAFE_INT 9007199254740992ULL

static ERL_NIF_TERM am_ok;
static ERL_NIF_TERM am_error;
static ERL_NIF_TERM am_true;
static ERL_NIF_TERM am_false;
static ERL_NIF_TERM am_nil;
static ERL_NIF_TERM am_struct;
static ERL_NIF_TERM am_invalid_utf8;
static ERL_NIF_TERM am_invalid_json;
static ERL_NIF_TERM am_too_deep;
static ERL_NIF_TERM am_number_out_of_range;
static ERL_NIF_TERM am_out_of_memory;
static ERL_NIF_TERM am_unsupported_term;
static ERL_NIF_TERM am_invalid_string;
static ERL_NIF_TERM am_invalid_key;

int json_nif_load(ErlNifEnv *env) {
  am_ok = enif_make_atom(env, "ok");
  am_error = enif_make_atom(env, "error");
  am_true = enif_make_atom(env, "true");
  am_false = enif_make_atom(env, "false");
  am_nil = enif_make_atom(env, "nil");
  am_struct = enif_make_atom(env, "__struct__");
  am_invalid_utf8 = enif_make_atom(env, "invalid_utf8");
  am_invalid_json = enif_make_atom(env, "invalid_json");
  am_too_deep = enif_make_atom(env, "too_deep");
  am_number_out_of_range = enif_make_atom(env, "number_out_of_range");
  am_out_of_memory = enif_make_atom(env, "out_of_memory");
  am_unsupported_term = enif_make_atom(env, "unsupported_term");
  am_invalid_string = enif_make_atom(env, "invalid_string");
  am_invalid_key = enif_make_atom(env, "invalid_key");
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

/* Reports the share of a 1 ms timeslice that `work` out of `full` used. */
static void consume_timeslice(ErlNifEnv *env, size_t work, size_t full) {
  size_t pct = 1 + (work * 100) / full;
  enif_consume_timeslice(env, pct > 100 ? 100 : (int)pct);
}

/* ------------------------------------------------------------------------ */
/* Decode: pre-scan                                                         */
/* ------------------------------------------------------------------------ */

enum { SCAN_OK, SCAN_TOO_DEEP, SCAN_BAD, SCAN_NOMEM };

typedef struct {
  size_t str_index; /* ordinal of the string token in document order */
  size_t offset;    /* offset of its opening quote */
} nul_string;

typedef struct {
  uint8_t *int_bits; /* one bit per number token: 1 = make an integer */
  size_t nnumbers;   /* number tokens seen */
  size_t bits_cap;   /* bytes allocated for int_bits */
  nul_string *nul;   /* strings containing \u0000, in document order */
  size_t nnul, nul_cap;
  size_t nstrings; /* string tokens seen */
  size_t bad_at;   /* SCAN_BAD: offset of the offending byte */
} scan_info;

static void scan_free(scan_info *si) {
  if (si->int_bits != NULL)
    enif_free(si->int_bits);
  if (si->nul != NULL)
    enif_free(si->nul);
}

static int is_digit(unsigned char c) { return c >= '0' && c <= '9'; }

static int is_number_char(unsigned char c) {
  return is_digit(c) || c == '-' || c == '+' || c == '.' || c == 'e' ||
         c == 'E';
}

static int hex_value(unsigned char c) {
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

/* Reads 4 hex digits; -1 if any is not a hex digit. */
static long hex4(const unsigned char *s) {
  long v = 0;
  for (int k = 0; k < 4; k++) {
    int h = hex_value(s[k]);
    if (h < 0)
      return -1;
    v = (v << 4) | h;
  }
  return v;
}

/* Checks the run s[0..n) against the JSON number grammar
 * -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?. Returns 1 when the whole
 * run matches; else 0, with *bad at the first byte that does not fit (n if
 * the run ends too early). On success *as_int says whether the number
 * becomes an integer: no fraction, no exponent and a magnitude of at most
 * 2^53. */
static int check_number(const unsigned char *s, size_t n, size_t *bad,
                        int *as_int) {
  size_t p = 0, digits_at, int_end;
  int plain = 1;

  *as_int = 0;
  if (p < n && s[p] == '-')
    p++;
  digits_at = p;
  if (p < n && s[p] == '0') {
    p++;
  } else if (p < n && s[p] >= '1' && s[p] <= '9') {
    while (p < n && is_digit(s[p]))
      p++;
  } else {
    goto fail;
  }
  int_end = p;
  if (p < n && s[p] == '.') {
    plain = 0;
    p++;
    if (p >= n || !is_digit(s[p]))
      goto fail;
    while (p < n && is_digit(s[p]))
      p++;
  }
  if (p < n && (s[p] == 'e' || s[p] == 'E')) {
    plain = 0;
    p++;
    if (p < n && (s[p] == '+' || s[p] == '-'))
      p++;
    if (p >= n || !is_digit(s[p]))
      goto fail;
    while (p < n && is_digit(s[p]))
      p++;
  }
  if (p != n)
    goto fail;
  if (plain && int_end - digits_at <= 16) {
    uint64_t v = 0;
    for (size_t k = digits_at; k < int_end; k++)
      v = v * 10 + (uint64_t)(s[k] - '0');
    *as_int = v <= JSON_MAX_SAFE_INT;
  }
  return 1;

fail:
  *bad = p;
  return 0;
}

static int push_number_bit(scan_info *si, int bit) {
  size_t byte = si->nnumbers / 8;
  if (byte >= si->bits_cap) {
    size_t cap = si->bits_cap ? si->bits_cap * 2 : 64;
    uint8_t *bits = enif_realloc(si->int_bits, cap);
    if (bits == NULL)
      return 0;
    memset(bits + si->bits_cap, 0, cap - si->bits_cap);
    si->int_bits = bits;
    si->bits_cap = cap;
  }
  if (bit)
    si->int_bits[byte] |= (uint8_t)(1u << (si->nnumbers % 8));
  si->nnumbers++;
  return 1;
}

static int push_nul_string(scan_info *si, size_t offset) {
  if (si->nnul == si->nul_cap) {
    size_t cap = si->nul_cap ? si->nul_cap * 2 : 8;
    nul_string *nul = enif_realloc(si->nul, cap * sizeof(*nul));
    if (nul == NULL)
      return 0;
    si->nul = nul;
    si->nul_cap = cap;
  }
  si->nul[si->nnul].str_index = si->nstrings;
  si->nul[si->nnul].offset = offset;
  si->nnul++;
  return 1;
}

/* Scans the string token whose opening quote is at s[at]. Returns the offset
 * just past the closing quote, or n when the string is unterminated (cJSON
 * reports that). On a byte cJSON would accept but JSON forbids (a raw
 * control character, an unknown escape, \u without 4 hex digits) sets
 * si->bad_at and returns SIZE_MAX. */
static size_t scan_string(const unsigned char *s, size_t n, size_t at,
                          scan_info *si, int *nomem) {
  size_t i = at + 1;
  int has_nul = 0;

  while (i < n && s[i] != '"') {
    if (s[i] < 0x20) {
      si->bad_at = i;
      return SIZE_MAX;
    }
    if (s[i] != '\\') {
      i++;
      continue;
    }
    if (i + 1 >= n)
      return n;
    switch (s[i + 1]) {
    case '"':
    case '\\':
    case '/':
    case 'b':
    case 'f':
    case 'n':
    case 'r':
    case 't':
      i += 2;
      break;
    case 'u': {
      long cp = i + 6 <= n ? hex4(s + i + 2) : -1;
      if (cp < 0) {
        si->bad_at = i;
        return SIZE_MAX;
      }
      has_nul |= cp == 0;
      i += 6;
      break;
    }
    default:
      si->bad_at = i;
      return SIZE_MAX;
    }
  }
  if (has_nul && i < n && !push_nul_string(si, at)) {
    *nomem = 1;
    return SIZE_MAX;
  }
  si->nstrings++;
  return i < n ? i + 1 : n;
}

/* One linear pass over the input, before cJSON sees it:
 *  - tracks [ and { nesting outside strings and stops as soon as it goes
 *    past max_depth, so cJSON's recursion is bounded by max_depth;
 *  - rejects what JSON forbids but cJSON accepts: control characters other
 *    than tab, LF and CR (cJSON treats every byte <= 32 as whitespace, and
 *    copies raw control bytes into strings), non-ASCII bytes outside
 *    strings (cJSON skips a byte order mark wherever it starts parsing),
 *    malformed \u escapes (cJSON reads "\uZZZZ" as U+0000) and numbers
 *    outside the JSON grammar (cJSON uses strtod, which takes "01", "1.");
 *  - notes, per number token, whether it becomes an integer, and which
 *    strings contain \u0000 (cJSON's NUL-terminated strings would cut them).
 * Stops at the first problem found. */
static int scan(const unsigned char *s, size_t n, unsigned max_depth,
                scan_info *si) {
  size_t depth = 0, i = 0;
  int nomem = 0;

  while (i < n) {
    unsigned char c = s[i];
    if (c == '"') {
      size_t next = scan_string(s, n, i, si, &nomem);
      if (next == SIZE_MAX)
        return nomem ? SCAN_NOMEM : SCAN_BAD;
      i = next;
    } else if (c == '[' || c == '{') {
      if (++depth > max_depth)
        return SCAN_TOO_DEEP;
      i++;
    } else if (c == ']' || c == '}') {
      if (depth > 0)
        depth--;
      i++;
    } else if (c == '-' || is_digit(c)) {
      size_t end = i, bad = 0;
      int as_int;
      while (end < n && is_number_char(s[end]))
        end++;
      if (!check_number(s + i, end - i, &bad, &as_int)) {
        si->bad_at = i + bad;
        return SCAN_BAD;
      }
      if (!push_number_bit(si, as_int))
        return SCAN_NOMEM;
      i = end;
    } else if ((c < 0x20 && c != '\t' && c != '\n' && c != '\r') || c >= 0x80) {
      si->bad_at = i;
      return SCAN_BAD;
    } else {
      i++;
    }
  }
  return SCAN_OK;
}

/* Offset of the index-th number token (0-based) of an input that parsed. */
static size_t nth_number_offset(const unsigned char *s, size_t n,
                                size_t index) {
  size_t i = 0, seen = 0;

  while (i < n) {
    if (s[i] == '"') {
      for (i++; i < n && s[i] != '"'; i++)
        if (s[i] == '\\')
          i++;
      i++;
    } else if (s[i] == '-' || is_digit(s[i])) {
      if (seen++ == index)
        return i;
      while (i < n && is_number_char(s[i]))
        i++;
    } else {
      i++;
    }
  }
  return 0;
}

/* Roughly the cost of decoding s[0..n) in values: the [ { , outside
 * strings, and : twice (a key costs a string plus its share of the map).
 * Stops counting once past limit. */
static size_t count_nodes(const unsigned char *s, size_t n, size_t limit) {
  size_t nodes = 0;

  for (size_t i = 0; i < n && nodes <= limit; i++) {
    unsigned char c = s[i];
    if (c == '"') {
      for (i++; i < n && s[i] != '"'; i++)
        if (s[i] == '\\')
          i++;
    } else if (c == '[' || c == '{' || c == ',') {
      nodes++;
    } else if (c == ':') {
      nodes += 2;
    }
  }
  return nodes;
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
  const unsigned char *src;
  size_t size;
  const scan_info *si;
  dec_frame *frames; /* open containers, innermost last */
  size_t depth, frames_cap;
  size_t num_i;      /* next number token */
  size_t str_i;      /* next string token */
  size_t nul_i;      /* next entry of si->nul */
  size_t bad_number; /* DEC_RANGE: index of the number token */
  term_stack keys, values;
} dec_ctx;

static int stack_push(term_stack *st, ERL_NIF_TERM t) {
  if (st->len == st->cap) {
    size_t cap = st->cap ? st->cap * 2 : 64;
    ERL_NIF_TERM *items = enif_realloc(st->items, cap * sizeof(*items));
    if (items == NULL)
      return 0;
    st->items = items;
    st->cap = cap;
  }
  st->items[st->len++] = t;
  return 1;
}

static size_t put_utf8(unsigned char *out, unsigned long cp) {
  if (cp < 0x80) {
    out[0] = (unsigned char)cp;
    return 1;
  }
  if (cp < 0x800) {
    out[0] = (unsigned char)(0xC0 | (cp >> 6));
    out[1] = (unsigned char)(0x80 | (cp & 0x3F));
    return 2;
  }
  if (cp < 0x10000) {
    out[0] = (unsigned char)(0xE0 | (cp >> 12));
    out[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
    out[2] = (unsigned char)(0x80 | (cp & 0x3F));
    return 3;
  }
  out[0] = (unsigned char)(0xF0 | (cp >> 18));
  out[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
  out[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
  out[3] = (unsigned char)(0x80 | (cp & 0x3F));
  return 4;
}

/* Unescapes the string token at s[at] (its opening quote) into out, or only
 * measures it when out is NULL. Used for the strings holding \u0000, which
 * cJSON cannot represent; cJSON has already accepted the token, so escapes
 * and surrogate pairs are well formed. Returns the unescaped length. */
static size_t unescape_string(const unsigned char *s, size_t n, size_t at,
                              unsigned char *out) {
  unsigned char tmp[4];
  size_t i = at + 1, len = 0;

  while (i < n && s[i] != '"') {
    if (s[i] != '\\' || i + 1 >= n) {
      if (out != NULL)
        out[len] = s[i];
      len++;
      i++;
      continue;
    }
    unsigned char e = s[i + 1], b;
    if (e == 'u' && i + 6 <= n) {
      long cp = hex4(s + i + 2);
      i += 6;
      if (cp >= 0xD800 && cp <= 0xDBFF && i + 6 <= n) {
        long lo = hex4(s + i + 2);
        cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
        i += 6;
      }
      size_t k = put_utf8(out != NULL ? out + len : tmp, (unsigned long)cp);
      len += k;
      continue;
    }
    switch (e) {
    case 'b':
      b = '\b';
      break;
    case 'f':
      b = '\f';
      break;
    case 'n':
      b = '\n';
      break;
    case 'r':
      b = '\r';
      break;
    case 't':
      b = '\t';
      break;
    default:
      b = e;
      break;
    }
    if (out != NULL)
      out[len] = b;
    len++;
    i += 2;
  }
  return len;
}

/* The next string token of the document, which cJSON decoded into cstr. */
static int make_string(dec_ctx *c, const char *cstr, ERL_NIF_TERM *out) {
  size_t index = c->str_i++, len;
  const unsigned char *from = (const unsigned char *)cstr;
  size_t at = 0;
  int own = 0;
  unsigned char *data;

  if (c->nul_i < c->si->nnul && c->si->nul[c->nul_i].str_index == index) {
    at = c->si->nul[c->nul_i++].offset;
    len = unescape_string(c->src, c->size, at, NULL);
    own = 1;
  } else {
    len = cstr != NULL ? strlen(cstr) : 0;
  }
  data = enif_make_new_binary(c->env, len, out);
  if (data == NULL)
    return DEC_NOMEM;
  if (own)
    unescape_string(c->src, c->size, at, data);
  else if (len > 0)
    memcpy(data, from, len);
  return DEC_OK;
}

static int make_number(dec_ctx *c, const cJSON *item, ERL_NIF_TERM *out) {
  size_t index = c->num_i++;
  double d = item->valuedouble;

  if (index < c->si->nnumbers &&
      (c->si->int_bits[index / 8] >> (index % 8)) & 1) {
    *out = enif_make_int64(c->env, (ErlNifSInt64)d);
    return DEC_OK;
  }
  if (!isfinite(d)) {
    c->bad_number = index;
    return DEC_RANGE;
  }
  *out = enif_make_double(c->env, d);
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
  for (size_t k = 0; k < slots; k++)
    table[k] = SIZE_MAX;
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
static int make_object(dec_ctx *c, const ERL_NIF_TERM *keys,
                       const ERL_NIF_TERM *values, size_t n,
                       ERL_NIF_TERM *out) {
  ERL_NIF_TERM map;

  if (n > JSON_FLATMAP_LIMIT) {
    int dup = has_duplicate_keys(keys, n);
    if (dup < 0)
      return DEC_NOMEM;
    if (!dup && enif_make_map_from_arrays(c->env, (ERL_NIF_TERM *)keys,
                                          (ERL_NIF_TERM *)values, n, out))
      return DEC_OK;
  } else if (enif_make_map_from_arrays(c->env, (ERL_NIF_TERM *)keys,
                                       (ERL_NIF_TERM *)values, n, out)) {
    return DEC_OK;
  }
  map = enif_make_new_map(c->env);
  for (size_t k = 0; k < n; k++)
    if (!enif_make_map_put(c->env, map, keys[k], values[k], &map))
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
  else if (n == 0)
    *out = enif_make_new_map(c->env);
  else
    rc = make_object(c, c->keys.items + f->kbase, c->values.items + f->vbase, n,
                     out);
  c->keys.len = f->kbase;
  c->values.len = f->vbase;
  return rc;
}

/* Converts the tree at root in document order. There is no recursion: open
 * arrays and objects sit on c->frames, and finished child terms on
 * c->keys/c->values until their container closes. Only cJSON recurses per
 * nesting level (about 110 bytes of stack per level). */
static int to_term(dec_ctx *c, const cJSON *root, ERL_NIF_TERM *out) {
  const cJSON *item = root;
  ERL_NIF_TERM t;
  int rc;

  for (;;) {
    if (is_container(item)) {
      if (c->depth == c->frames_cap) {
        size_t cap = c->frames_cap ? c->frames_cap * 2 : 16;
        dec_frame *frames = enif_realloc(c->frames, cap * sizeof(*frames));
        if (frames == NULL)
          return DEC_NOMEM;
        c->frames = frames;
        c->frames_cap = cap;
      }
      dec_frame *f = &c->frames[c->depth++];
      f->node = item;
      f->next = item->child;
      f->kbase = c->keys.len;
      f->vbase = c->values.len;
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
        if ((f->node->type & 0xFF) == cJSON_Object) {
          if ((rc = make_string(c, item->string, &t)) != DEC_OK)
            return rc;
          if (!stack_push(&c->keys, t))
            return DEC_NOMEM;
        }
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

static size_t skip_json_ws(const unsigned char *s, size_t n, size_t i) {
  while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r'))
    i++;
  return i;
}

/* Where cJSON finds an error in s[0..n), or n if it finds none before the
 * end of s (running out of input is reported at n - 1, so that position
 * counts as none too). */
static size_t cjson_error_offset(const unsigned char *s, size_t n) {
  const char *end = NULL;
  cJSON *root;
  size_t at;

  if (n <= 1)
    return n;
  root = cJSON_ParseWithLengthOpts((const char *)s, n, &end, 0);
  if (root != NULL) {
    cJSON_Delete(root);
    return n;
  }
  at = end != NULL ? (size_t)(end - (const char *)s) : n;
  return at >= n - 1 ? n : at;
}

static int get_decode_args(ErlNifEnv *env, int argc, const ERL_NIF_TERM argv[],
                           ErlNifBinary *in, unsigned *max_depth) {
  return argc == 2 && enif_inspect_binary(env, argv[0], in) &&
         enif_get_uint(env, argv[1], max_depth) && *max_depth >= 1 &&
         *max_depth <= JSON_MAX_DEPTH_LIMIT;
}

/* Decodes s[0..n), which follows `base` bytes (a byte order mark) of the
 * input; reported offsets count from the start of the input. */
static ERL_NIF_TERM decode_text(ErlNifEnv *env, const unsigned char *s,
                                size_t n, size_t base, unsigned max_depth) {
  scan_info si;
  dec_ctx c;
  cJSON *root;
  const char *end = NULL;
  ERL_NIF_TERM result, term;
  size_t at;
  int rc;

  memset(&si, 0, sizeof(si));
  switch (scan(s, n, max_depth, &si)) {
  case SCAN_TOO_DEEP:
    scan_free(&si);
    return make_error(env, enif_make_tuple2(env, am_too_deep,
                                            enif_make_uint(env, max_depth)));
  case SCAN_NOMEM:
    scan_free(&si);
    return make_error(env, am_out_of_memory);
  case SCAN_BAD:
    /* cJSON may find a structural error earlier; the prefix is within the
     * depth limit because the scan stopped there. */
    at = cjson_error_offset(s, si.bad_at);
    scan_free(&si);
    return make_error_at(env, am_invalid_json,
                         base + (at < si.bad_at ? at : si.bad_at));
  default:
    break;
  }

  root = cJSON_ParseWithLengthOpts((const char *)s, n, &end, 0);
  if (root == NULL) {
    /* cJSON also returns NULL when malloc fails; it cannot say which. */
    scan_free(&si);
    at = end != NULL ? (size_t)(end - (const char *)s) : 0;
    return make_error_at(env, am_invalid_json, base + at);
  }
  at = skip_json_ws(s, n, (size_t)(end - (const char *)s));
  if (at != n) {
    cJSON_Delete(root);
    scan_free(&si);
    return make_error_at(env, am_invalid_json, base + at);
  }

  memset(&c, 0, sizeof(c));
  c.env = env;
  c.src = s;
  c.size = n;
  c.si = &si;
  rc = to_term(&c, root, &term);
  if (rc == DEC_OK)
    result = enif_make_tuple2(env, am_ok, term);
  else if (rc == DEC_RANGE)
    result = make_error_at(env, am_number_out_of_range,
                           base + nth_number_offset(s, n, c.bad_number));
  else
    result = make_error(env, am_out_of_memory);

  cJSON_Delete(root);
  if (c.frames != NULL)
    enif_free(c.frames);
  if (c.keys.items != NULL)
    enif_free(c.keys.items);
  if (c.values.items != NULL)
    enif_free(c.values.items);
  scan_free(&si);
  return result;
}

static ERL_NIF_TERM decode_run(ErlNifEnv *env, int argc,
                               const ERL_NIF_TERM argv[]) {
  ErlNifBinary in;
  unsigned max_depth;
  size_t bom = 0;

  if (!get_decode_args(env, argc, argv, &in, &max_depth))
    return enif_make_badarg(env);
  if (!chat_utf8_valid((const char *)in.data, in.size))
    return make_error(env, am_invalid_utf8);
  /* A leading byte order mark is ignored (RFC 8259 section 8.1). It is
   * skipped here because cJSON skips it only in inputs of 5+ bytes. */
  if (in.size >= 3 && memcmp(in.data, "\xEF\xBB\xBF", 3) == 0)
    bom = 3;
  if (in.size == bom)
    return make_error_at(env, am_invalid_json, bom);
  return decode_text(env, in.data + bom, in.size - bom, bom, max_depth);
}

ERL_NIF_TERM json_nif_decode(ErlNifEnv *env, int argc,
                             const ERL_NIF_TERM argv[]) {
  ErlNifBinary in;
  unsigned max_depth;
  size_t nodes = 0;
  ERL_NIF_TERM result;

  if (!get_decode_args(env, argc, argv, &in, &max_depth))
    return enif_make_badarg(env);
  if (in.size <= JSON_DECODE_DIRTY_BYTES)
    nodes = count_nodes(in.data, in.size, JSON_DECODE_DIRTY_NODES);
  if (in.size > JSON_DECODE_DIRTY_BYTES || nodes > JSON_DECODE_DIRTY_NODES)
    return enif_schedule_nif(env, "json_decode_dirty",
                             ERL_NIF_DIRTY_JOB_CPU_BOUND, decode_run, argc,
                             argv);
  result = decode_run(env, argc, argv);
  /* The node count dominates the cost; bytes are cheap. */
  consume_timeslice(env, nodes * 4 + in.size / 4,
                    (size_t)JSON_DECODE_DIRTY_NODES * 4);
  return result;
}

/* ------------------------------------------------------------------------ */
/* Encode                                                                   */
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
  long budget;        /* work units left when limited */
  ERL_NIF_TERM error; /* ENC_ERROR: the reason */
} enc_ctx;

/* Spends cost work units; ENC_YIELD once the budget is gone. */
static int charge(enc_ctx *c, size_t cost) {
  if (!c->limited)
    return ENC_OK;
  if ((size_t)c->budget < cost) {
    c->budget = 0;
    return ENC_YIELD;
  }
  c->budget -= (long)cost;
  return ENC_OK;
}

/* Makes room for n more bytes. */
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
  if (rc != ENC_OK)
    return rc;
  memcpy(c->out.data + c->len, data, n);
  c->len += n;
  return ENC_OK;
}

static int put_byte(enc_ctx *c, unsigned char b) {
  int rc = reserve(c, 1);
  if (rc != ENC_OK)
    return rc;
  c->out.data[c->len++] = b;
  return ENC_OK;
}

static int fail(enc_ctx *c, ERL_NIF_TERM tag, ERL_NIF_TERM term) {
  c->error = enif_make_tuple2(c->env, tag, term);
  return ENC_ERROR;
}

/* Writes s[0..n) (valid UTF-8) as a JSON string: quote, backslash and
 * control characters are escaped, everything else is copied as is. */
static int put_string(enc_ctx *c, const unsigned char *s, size_t n) {
  static const char hex[] = "0123456789abcdef";
  size_t extra = 0, start = 0;
  unsigned char *o;
  int rc;

  for (size_t i = 0; i < n; i++) {
    unsigned char b = s[i];
    if (b == '"' || b == '\\' || b == '\b' || b == '\f' || b == '\n' ||
        b == '\r' || b == '\t')
      extra += 1;
    else if (b < 0x20)
      extra += 5;
  }
  if ((rc = charge(c, extra * 4)) != ENC_OK)
    return rc;
  if ((rc = reserve(c, n + extra + 2)) != ENC_OK)
    return rc;
  o = c->out.data + c->len;
  *o++ = '"';
  if (extra == 0) {
    memcpy(o, s, n);
    o += n;
  } else {
    for (size_t i = 0; i < n; i++) {
      unsigned char b = s[i];
      if (b >= 0x20 && b != '"' && b != '\\')
        continue;
      memcpy(o, s + start, i - start);
      o += i - start;
      start = i + 1;
      *o++ = '\\';
      switch (b) {
      case '"':
        *o++ = '"';
        break;
      case '\\':
        *o++ = '\\';
        break;
      case '\b':
        *o++ = 'b';
        break;
      case '\f':
        *o++ = 'f';
        break;
      case '\n':
        *o++ = 'n';
        break;
      case '\r':
        *o++ = 'r';
        break;
      case '\t':
        *o++ = 't';
        break;
      default:
        *o++ = 'u';
        *o++ = '0';
        *o++ = '0';
        *o++ = (unsigned char)hex[b >> 4];
        *o++ = (unsigned char)hex[b & 0xF];
        break;
      }
    }
    memcpy(o, s + start, n - start);
    o += n - start;
  }
  *o++ = '"';
  c->len = (size_t)(o - c->out.data);
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

/* Writes an atom's name as a string. Latin-1 names come from
 * enif_get_atom; names with code points above 255 (which OTP 25's
 * enif_get_atom cannot return) are read from the external term format,
 * where they are stored as UTF-8. */
static int put_atom_name(enc_ctx *c, ERL_NIF_TERM atom) {
  char latin1[256];
  unsigned char utf8[512];
  size_t n = 0;
  int len, rc;

  len = enif_get_atom(c->env, atom, latin1, sizeof(latin1), ERL_NIF_LATIN1);
  if (len > 0) {
    for (int k = 0; k < len - 1; k++) {
      unsigned char b = (unsigned char)latin1[k];
      if (b < 0x80) {
        utf8[n++] = b;
      } else {
        utf8[n++] = (unsigned char)(0xC0 | (b >> 6));
        utf8[n++] = (unsigned char)(0x80 | (b & 0x3F));
      }
    }
    return put_string(c, utf8, n);
  }

  ErlNifBinary ext;
  size_t at = 0;
  if ((rc = charge(c, JSON_ENCODE_BIG_COST)) != ENC_OK)
    return rc;
  if (!enif_term_to_binary(c->env, atom, &ext))
    return ENC_NOMEM;
  /* 131, then ATOM_UTF8_EXT (118, 2-byte length) or SMALL_ATOM_UTF8_EXT
   * (119, 1-byte length). */
  if (ext.size >= 3 && ext.data[1] == 119) {
    n = ext.data[2];
    at = 3;
  } else if (ext.size >= 4 && ext.data[1] == 118) {
    n = ((size_t)ext.data[2] << 8) | ext.data[3];
    at = 4;
  }
  if (at == 0 || at + n > ext.size)
    rc = fail(c, am_unsupported_term, atom);
  else
    rc = put_string(c, ext.data + at, n);
  enif_release_binary(&ext);
  return rc;
}

/* Decimal digits of v, written backwards ending at end; returns the start. */
static char *format_u64(uint64_t v, char *end) {
  do {
    *--end = (char)('0' + v % 10);
    v /= 10;
  } while (v != 0);
  return end;
}

/* Writes an integer outside the 64-bit range, exactly. The digits come
 * from the external term format (SMALL_BIG_EXT 110 or LARGE_BIG_EXT 111:
 * sign byte, then little-endian base-256 digits) and are converted by
 * repeated division by 10^9, which is quadratic in the number's size. */
static int put_bignum(enc_ctx *c, ERL_NIF_TERM term) {
  ErlNifBinary ext;
  size_t nbytes, at, nlimbs, cap, pos;
  uint32_t *limbs = NULL;
  char *digits = NULL;
  int negative, rc;

  if (!enif_term_to_binary(c->env, term, &ext))
    return ENC_NOMEM;
  if (ext.size >= 3 && ext.data[1] == 110) {
    nbytes = ext.data[2];
    at = 3;
  } else if (ext.size >= 6 && ext.data[1] == 111) {
    nbytes = ((size_t)ext.data[2] << 24) | ((size_t)ext.data[3] << 16) |
             ((size_t)ext.data[4] << 8) | ext.data[5];
    at = 6;
  } else {
    enif_release_binary(&ext);
    return fail(c, am_unsupported_term, term);
  }
  if (at + 1 + nbytes > ext.size) {
    enif_release_binary(&ext);
    return fail(c, am_unsupported_term, term);
  }
  rc = charge(c, JSON_ENCODE_BIG_COST + nbytes * 4 + nbytes * nbytes / 8);
  if (rc != ENC_OK) {
    enif_release_binary(&ext);
    return rc;
  }
  negative = ext.data[at] != 0;
  at++;

  nlimbs = (nbytes + 3) / 4;
  cap = nbytes * 3 + 16; /* log10(256) < 2.41 digits per byte */
  limbs = enif_alloc(nlimbs * sizeof(*limbs) + 1);
  digits = enif_alloc(cap);
  if (limbs == NULL || digits == NULL) {
    rc = ENC_NOMEM;
    goto done;
  }
  memset(limbs, 0, nlimbs * sizeof(*limbs));
  for (size_t k = 0; k < nbytes; k++)
    limbs[k / 4] |= (uint32_t)ext.data[at + k] << (8 * (k % 4));

  pos = cap;
  while (nlimbs > 0 && limbs[nlimbs - 1] == 0)
    nlimbs--;
  while (nlimbs > 0) {
    uint64_t rem = 0;
    for (size_t k = nlimbs; k-- > 0;) {
      uint64_t cur = (rem << 32) | limbs[k];
      limbs[k] = (uint32_t)(cur / 1000000000u);
      rem = cur % 1000000000u;
    }
    while (nlimbs > 0 && limbs[nlimbs - 1] == 0)
      nlimbs--;
    for (int k = 0; k < 9 && (nlimbs > 0 || rem != 0); k++) {
      digits[--pos] = (char)('0' + rem % 10);
      rem /= 10;
    }
  }
  if (pos == cap)
    digits[--pos] = '0';
  if (negative)
    digits[--pos] = '-';
  rc = put_bytes(c, digits + pos, cap - pos);

done:
  if (limbs != NULL)
    enif_free(limbs);
  if (digits != NULL)
    enif_free(digits);
  enif_release_binary(&ext);
  return rc;
}

static int put_integer(enc_ctx *c, ERL_NIF_TERM term) {
  char buf[24], *end = buf + sizeof(buf), *start;
  ErlNifSInt64 i;
  ErlNifUInt64 u;

  if (enif_get_int64(c->env, term, &i)) {
    uint64_t mag = i < 0 ? (uint64_t)0 - (uint64_t)i : (uint64_t)i;
    start = format_u64(mag, end);
    if (i < 0)
      *--start = '-';
    return put_bytes(c, start, (size_t)(end - start));
  }
  if (enif_get_uint64(c->env, term, &u)) {
    start = format_u64(u, end);
    return put_bytes(c, start, (size_t)(end - start));
  }
  return put_bignum(c, term);
}

/* Shortest "%.Ng" (N = 15, 16 or 17) that reads back as the same double. If
 * 15 significant digits round-trip, %g's stripped output is already the
 * shortest form, because any shorter round-tripping decimal pads out to the
 * same 15 digits (for normal doubles). A ".0" is added when the text would
 * read as an integer. */
static int put_double(enc_ctx *c, double d) {
  char buf[40];
  int len = 0, prec = 15, rc;

  /* Integral values print exactly as integers (and fast). */
  if (d == floor(d) && fabs(d) < 9007199254740992.0) {
    char *end = buf + sizeof(buf) - 2, *start;
    start = format_u64((uint64_t)fabs(d), end);
    if (signbit(d))
      *--start = '-';
    memcpy(end, ".0", 2);
    return put_bytes(c, start, (size_t)(end + 2 - start));
  }
  if ((rc = charge(c, JSON_ENCODE_FLOAT_COST)) != ENC_OK)
    return rc;
  /* Subnormals have fewer significant bits, so 15 digits may round-trip
   * while fewer would too; search from 1 for them. */
  if (fabs(d) < 2.2250738585072014e-308)
    prec = 1;
  for (; prec <= 17; prec++) {
    len = snprintf(buf, sizeof(buf), "%.*g", prec, d);
    if (len <= 0 || (size_t)len >= sizeof(buf))
      return ENC_NOMEM;
    if (prec == 17 || strtod(buf, NULL) == d)
      break;
  }
  int plain = 1;
  for (int k = 0; k < len; k++) {
    if (buf[k] == ',') /* a locale's decimal comma */
      buf[k] = '.';
    if (buf[k] == '.' || buf[k] == 'e')
      plain = 0;
  }
  if (plain && (size_t)len + 2 < sizeof(buf)) {
    buf[len++] = '.';
    buf[len++] = '0';
  }
  return put_bytes(c, buf, (size_t)len);
}

static int too_deep(enc_ctx *c) {
  c->error = enif_make_tuple2(c->env, am_too_deep,
                              enif_make_uint(c->env, c->max_depth));
  return ENC_ERROR;
}

/* Opens a list or map: checks the depth and pushes a frame. */
static int push_frame(enc_ctx *c, ERL_NIF_TERM container, int is_map) {
  enc_frame *f;

  if (c->depth >= c->max_depth)
    return too_deep(c);
  if (c->depth == c->frames_cap) {
    size_t cap = c->frames_cap ? c->frames_cap * 2 : 16;
    enc_frame *frames = enif_realloc(c->frames, cap * sizeof(*frames));
    if (frames == NULL)
      return ENC_NOMEM;
    c->frames = frames;
    c->frames_cap = cap;
  }
  f = &c->frames[c->depth];
  f->container = container;
  f->tail = container;
  f->is_map = is_map;
  f->first = 1;
  if (is_map && !enif_map_iterator_create(c->env, container, &f->it,
                                          ERL_NIF_MAP_ITERATOR_FIRST))
    return ENC_NOMEM;
  c->depth++;
  return put_byte(c, is_map ? '{' : '[');
}

static int encode_key(enc_ctx *c, ERL_NIF_TERM key) {
  switch (enif_term_type(c->env, key)) {
  case ERL_NIF_TERM_TYPE_BITSTRING:
    if (!enif_is_binary(c->env, key))
      return fail(c, am_invalid_key, key);
    return put_binary(c, key);
  case ERL_NIF_TERM_TYPE_ATOM:
    return put_atom_name(c, key);
  default:
    return fail(c, am_invalid_key, key);
  }
}

/* Writes a scalar, or opens a list or map (its elements come later). */
static int encode_one(enc_ctx *c, ERL_NIF_TERM term) {
  ERL_NIF_TERM v;
  double d;
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
    if (!enif_is_binary(c->env, term))
      return fail(c, am_unsupported_term, term);
    return put_binary(c, term);
  case ERL_NIF_TERM_TYPE_INTEGER:
    return put_integer(c, term);
  case ERL_NIF_TERM_TYPE_FLOAT:
    if (!enif_get_double(c->env, term, &d))
      return fail(c, am_unsupported_term, term);
    return put_double(c, d);
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

/* Writes term. There is no recursion: open lists and maps sit on
 * c->frames, so the C stack use does not grow with nesting depth. */
static int encode_term(enc_ctx *c, ERL_NIF_TERM term) {
  ERL_NIF_TERM value = term, key;
  int rc;

  for (;;) {
    if ((rc = encode_one(c, value)) != ENC_OK)
      return rc;
    /* Move to the next element, closing the lists and maps that are done. */
    for (;;) {
      if (c->depth == 0)
        return ENC_OK;
      enc_frame *f = &c->frames[c->depth - 1];
      if (!f->is_map && enif_get_list_cell(c->env, f->tail, &value, &f->tail)) {
        if (!f->first && (rc = put_byte(c, ',')) != ENC_OK)
          return rc;
        f->first = 0;
        break;
      }
      if (f->is_map &&
          enif_map_iterator_get_pair(c->env, &f->it, &key, &value)) {
        enif_map_iterator_next(c->env, &f->it);
        if (!f->first && (rc = put_byte(c, ',')) != ENC_OK)
          return rc;
        f->first = 0;
        if ((rc = charge(c, JSON_ENCODE_NODE_COST)) != ENC_OK ||
            (rc = encode_key(c, key)) != ENC_OK ||
            (rc = put_byte(c, ':')) != ENC_OK)
          return rc;
        break;
      }
      /* Checked at the end of the list: measuring it first would be an
       * unbudgeted walk of all of it. */
      if (!f->is_map && !enif_is_empty_list(c->env, f->tail))
        return fail(c, am_unsupported_term, f->container); /* improper */
      if (f->is_map)
        enif_map_iterator_destroy(c->env, &f->it);
      c->depth--;
      if ((rc = put_byte(c, f->is_map ? '}' : ']')) != ENC_OK)
        return rc;
    }
  }
}

static int get_encode_args(ErlNifEnv *env, int argc, const ERL_NIF_TERM argv[],
                           unsigned *max_depth) {
  return argc == 2 && enif_get_uint(env, argv[1], max_depth) &&
         *max_depth >= 1 && *max_depth <= JSON_MAX_DEPTH_LIMIT;
}

/* Runs the encode; limited selects the normal-scheduler budget. Sets
 * *yielded (and returns 0) when the budget ran out. */
static ERL_NIF_TERM encode_run(ErlNifEnv *env, const ERL_NIF_TERM argv[],
                               unsigned max_depth, int limited, int *yielded) {
  enc_ctx c;
  ERL_NIF_TERM bin;
  int rc;

  memset(&c, 0, sizeof(c));
  c.env = env;
  c.max_depth = max_depth;
  c.limited = limited;
  c.budget = JSON_ENCODE_BUDGET;
  *yielded = 0;
  if (!enif_alloc_binary(256, &c.out))
    return make_error(env, am_out_of_memory);

  rc = encode_term(&c, argv[0]);
  for (size_t k = 0; k < c.depth; k++)
    if (c.frames[k].is_map)
      enif_map_iterator_destroy(env, &c.frames[k].it);
  if (c.frames != NULL)
    enif_free(c.frames);
  if (rc == ENC_OK && !enif_realloc_binary(&c.out, c.len))
    rc = ENC_NOMEM;
  if (rc != ENC_OK) {
    enif_release_binary(&c.out);
    if (rc == ENC_YIELD) {
      *yielded = 1;
      return 0;
    }
    return make_error(env, rc == ENC_ERROR ? c.error : am_out_of_memory);
  }
  bin = enif_make_binary(env, &c.out);
  if (limited)
    consume_timeslice(env, (size_t)(JSON_ENCODE_BUDGET - c.budget),
                      JSON_ENCODE_BUDGET);
  return enif_make_tuple2(env, am_ok, bin);
}

static ERL_NIF_TERM encode_dirty(ErlNifEnv *env, int argc,
                                 const ERL_NIF_TERM argv[]) {
  unsigned max_depth;
  int yielded;

  if (!get_encode_args(env, argc, argv, &max_depth))
    return enif_make_badarg(env);
  return encode_run(env, argv, max_depth, 0, &yielded);
}

ERL_NIF_TERM json_nif_encode(ErlNifEnv *env, int argc,
                             const ERL_NIF_TERM argv[]) {
  unsigned max_depth;
  int yielded;
  ERL_NIF_TERM result;

  if (!get_encode_args(env, argc, argv, &max_depth))
    return enif_make_badarg(env);
  result = encode_run(env, argv, max_depth, 1, &yielded);
  if (!yielded)
    return result;
  enif_consume_timeslice(env, 100);
  return enif_schedule_nif(env, "json_encode_dirty",
                           ERL_NIF_DIRTY_JOB_CPU_BOUND, encode_dirty, argc,
                           argv);
}
