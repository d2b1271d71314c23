/* json_strict.c - a strict, non-recursive JSON reader (RFC 8259) that
 * checks text before cJSON parses it, and keeps the per-token notes a tree
 * walker needs. See json_strict.h for what cJSON lets through and why that
 * matters. Pure C, no erl_nif. */
#include "json_strict.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "chat.h"
#include "json_bytes.h"

/* Upstream cJSON 1.7.15 copies a number into a 64-byte buffer before
 * strtod, so it reads at most this many characters of it. */
#define NUMBER_MAX_CHARS 63

/* Largest integer a double holds exactly; bigger integers are floats. */
#define MAX_SAFE_INT 9007199254740992ULL

typedef struct scanner {
  const unsigned char *s;
  size_t len;
  size_t i;        /* the next byte to read */
  unsigned flags;  /* JSON_STRICT_* */
  const char *err; /* set on failure, with i at the problem */
  int code;        /* JSON_STRICT_* error code on failure */
  json_strict_notes *notes;
} scanner;

static int fail_code(scanner *sc, int code, const char *err) {
  sc->err = err;
  sc->code = code;
  return -1;
}

static int fail(scanner *sc, const char *err) {
  return fail_code(sc, JSON_STRICT_INVALID, err);
}

static int is_space(unsigned char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static int is_digit(unsigned char c) { return c >= '0' && c <= '9'; }

static inline void skip_space(scanner *sc) {
  while (sc->i < sc->len && is_space(sc->s[sc->i]))
    sc->i++;
}

/* The value of the four hex digits at s[i], or -1. */
static long hex4(const unsigned char *s, size_t len, size_t i) {
  long v = 0;
  size_t k;

  if (len - i < 4)
    return -1;
  for (k = 0; k < 4; k++) {
    unsigned char c = s[i + k];

    v <<= 4;
    if (is_digit(c))
      v |= c - '0';
    else if (c >= 'a' && c <= 'f')
      v |= c - 'a' + 10;
    else if (c >= 'A' && c <= 'F')
      v |= c - 'A' + 10;
    else
      return -1;
  }
  return v;
}

/* --- notes ------------------------------------------------------------- */

static int note_number(scanner *sc, int as_int) {
  json_strict_notes *n = sc->notes;
  size_t byte = n->numbers / 8;

  if (byte >= n->bits_cap) {
    size_t cap = n->bits_cap ? n->bits_cap * 2 : 64;
    unsigned char *bits = realloc(n->int_bits, cap);

    if (bits == NULL)
      return fail_code(sc, JSON_STRICT_NOMEM, JSON_STRICT_OOM);
    memset(bits + n->bits_cap, 0, cap - n->bits_cap);
    n->int_bits = bits;
    n->bits_cap = cap;
  }
  if (as_int)
    n->int_bits[byte] |= (unsigned char)(1u << (n->numbers % 8));
  n->numbers++;
  return 0;
}

static int note_nul_string(scanner *sc, size_t at) {
  json_strict_notes *n = sc->notes;

  if (buf_grow_array(&n->nul, &n->nul_cap, n->nnul, sizeof(*n->nul)) != 0)
    return fail_code(sc, JSON_STRICT_NOMEM, JSON_STRICT_OOM);
  n->nul[n->nnul].string = n->strings;
  n->nul[n->nnul].at = at;
  n->nnul++;
  return 0;
}

/* --- tokens ------------------------------------------------------------ */

/* Reads a \u escape at sc->i (pointing at the backslash), and the low half
 * that must follow a high surrogate. Sets *nul for \u0000. */
static int scan_unicode_escape(scanner *sc, int *nul) {
  long cp = hex4(sc->s, sc->len, sc->i + 2), lo;

  if (cp < 0)
    return fail(sc, "invalid \\u escape");
  if (cp == 0) {
    if (!(sc->flags & JSON_STRICT_NUL))
      return fail(sc, "\\u0000 in a string is not supported");
    *nul = 1;
  }
  if (cp >= 0xDC00 && cp <= 0xDFFF)
    return fail(sc, "unpaired surrogate in \\u escape");
  if (cp < 0xD800 || cp > 0xDBFF) {
    sc->i += 6;
    return 0;
  }
  if (sc->len - sc->i < 12 || sc->s[sc->i + 6] != '\\' ||
      sc->s[sc->i + 7] != 'u')
    return fail(sc, "unpaired surrogate in \\u escape");
  lo = hex4(sc->s, sc->len, sc->i + 8);
  if (lo < 0xDC00 || lo > 0xDFFF)
    return fail(sc, "unpaired surrogate in \\u escape");
  sc->i += 12;
  return 0;
}

/* Reads a string; sc->i is at the opening quote. */
static int scan_string(scanner *sc) {
  size_t at = sc->i;
  int nul = 0;

  sc->i++;
  for (;;) {
    sc->i += json_plain_prefix(sc->s + sc->i, sc->len - sc->i, 0);
    if (sc->i >= sc->len)
      return fail(sc, "unterminated string");
    if (sc->s[sc->i] == '"')
      break;
    if (sc->s[sc->i] < 0x20)
      return fail(sc, "control character in string");
    /* a backslash */
    if (sc->i + 1 >= sc->len)
      return fail(sc, "unterminated string");
    switch (sc->s[sc->i + 1]) {
    case '"':
    case '\\':
    case '/':
    case 'b':
    case 'f':
    case 'n':
    case 'r':
    case 't':
      sc->i += 2;
      break;
    case 'u':
      if (scan_unicode_escape(sc, &nul) != 0)
        return -1;
      break;
    default:
      return fail(sc, "invalid escape in string");
    }
  }
  sc->i++;
  if (sc->notes != NULL) {
    if (nul && note_nul_string(sc, at) != 0)
      return -1;
    sc->notes->strings++;
  }
  return 0;
}

static void skip_digits(scanner *sc) {
  while (sc->i < sc->len && is_digit(sc->s[sc->i]))
    sc->i++;
}

/* 1 when the integer digits s[0..n) are at most 2^53. */
static int fits_double(const unsigned char *s, size_t n) {
  uint64_t v = 0;

  if (n > 16)
    return 0;
  for (size_t k = 0; k < n; k++)
    v = v * 10 + (uint64_t)(s[k] - '0');
  return v <= MAX_SAFE_INT;
}

/* Reads -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? */
static int scan_number(scanner *sc) {
  size_t start = sc->i, digits, int_end;
  int plain = 1;

  if (sc->s[sc->i] == '-')
    sc->i++;
  digits = sc->i;
  if (sc->i < sc->len && sc->s[sc->i] == '0')
    sc->i++;
  else if (sc->i < sc->len && is_digit(sc->s[sc->i]))
    skip_digits(sc);
  else
    return fail(sc, "invalid number");
  int_end = sc->i;
  if (sc->i < sc->len && sc->s[sc->i] == '.') {
    plain = 0;
    sc->i++;
    if (sc->i >= sc->len || !is_digit(sc->s[sc->i]))
      return fail(sc, "invalid number");
    skip_digits(sc);
  }
  if (sc->i < sc->len && (sc->s[sc->i] == 'e' || sc->s[sc->i] == 'E')) {
    plain = 0;
    sc->i++;
    if (sc->i < sc->len && (sc->s[sc->i] == '+' || sc->s[sc->i] == '-'))
      sc->i++;
    if (sc->i >= sc->len || !is_digit(sc->s[sc->i]))
      return fail(sc, "invalid number");
    skip_digits(sc);
  }
  if (sc->i - start > NUMBER_MAX_CHARS &&
      !(sc->flags & JSON_STRICT_LONG_NUMBERS)) {
    sc->i = start;
    return fail(sc, "number longer than 63 characters is not supported");
  }
  if (sc->notes != NULL)
    return note_number(sc,
                       plain && fits_double(sc->s + digits, int_end - digits));
  return 0;
}

static int scan_literal(scanner *sc, const char *word, size_t n) {
  if (sc->len - sc->i < n || memcmp(sc->s + sc->i, word, n) != 0)
    return fail(sc, "invalid literal");
  sc->i += n;
  return 0;
}

/* Reads a string, number or literal at sc->i (not at the end). */
static int scan_scalar(scanner *sc) {
  switch (sc->s[sc->i]) {
  case '"':
    return scan_string(sc);
  case 't':
    return scan_literal(sc, "true", 4);
  case 'f':
    return scan_literal(sc, "false", 5);
  case 'n':
    return scan_literal(sc, "null", 4);
  default:
    if (sc->s[sc->i] == '-' || is_digit(sc->s[sc->i]))
      return scan_number(sc);
    return fail(sc, "unexpected character");
  }
}

/* Skips whitespace; 0 when input remains, else fails at the end. */
static inline int next_token(scanner *sc) {
  skip_space(sc);
  return sc->i < sc->len ? 0 : fail(sc, "unexpected end of input");
}

/* The reader proper, a state machine over a stack of open containers (one
 * bit each: set for '{'), so hostile nesting costs no C stack. */
static int scan(scanner *sc, unsigned max_depth) {
  unsigned char is_obj[(JSON_STRICT_DEPTH_LIMIT + 7) / 8] = {0};
  unsigned depth = 0, obj = 0;
  size_t nodes = 0;

value: /* a value is next */
  if (next_token(sc) != 0)
    return -1;
  nodes++;
  if (sc->s[sc->i] == '[' || sc->s[sc->i] == '{') {
    if (depth >= max_depth)
      return fail_code(sc, JSON_STRICT_DEEP, JSON_STRICT_TOO_DEEP);
    obj = sc->s[sc->i++] == '{';
    is_obj[depth / 8] =
        (unsigned char)((is_obj[depth / 8] & ~(1u << depth % 8)) |
                        obj << depth % 8);
    depth++;
    if (next_token(sc) != 0)
      return -1;
    if (sc->s[sc->i] != (obj ? '}' : ']'))
      goto member;
    sc->i++;
    depth--;
  } else if (scan_scalar(sc) != 0) {
    return -1;
  }

after: /* a value ended */
  if (depth == 0) {
    if (sc->notes != NULL)
      sc->notes->nodes += nodes;
    return 0;
  }
  obj = (is_obj[(depth - 1) / 8] >> (depth - 1) % 8) & 1;
  if (next_token(sc) != 0)
    return -1;
  if (sc->s[sc->i] == ',') {
    sc->i++;
    if (!obj)
      goto value;
    if (next_token(sc) != 0)
      return -1;
    goto member;
  }
  if (sc->s[sc->i] != (obj ? '}' : ']'))
    return fail(sc, obj ? "expected ',' or '}'" : "expected ',' or ']'");
  sc->i++;
  depth--;
  goto after;

member: /* an array element, or an object key and ':', at sc->i */
  if (!obj)
    goto value;
  if (sc->s[sc->i] != '"')
    return fail(sc, "expected a property name");
  if (scan_string(sc) != 0)
    return -1;
  skip_space(sc);
  if (sc->i >= sc->len || sc->s[sc->i] != ':')
    return fail(sc, "expected ':'");
  sc->i++;
  nodes++;
  goto value;
}

int json_strict_read(const char *text, size_t len, size_t pos,
                     const json_strict_opts *opts, size_t *end, size_t *err_at,
                     const char **err) {
  scanner sc = {.s = (const unsigned char *)text,
                .len = len,
                .i = pos,
                .flags = opts->flags,
                .notes = opts->notes};
  unsigned max_depth = opts->max_depth < 0 ? 0 : (unsigned)opts->max_depth;

  if (max_depth > JSON_STRICT_DEPTH_LIMIT)
    max_depth = JSON_STRICT_DEPTH_LIMIT;
  if (text == NULL || pos > len) {
    *err_at = 0;
    *err = "no input";
    return JSON_STRICT_INVALID;
  }
  if (scan(&sc, max_depth) != 0) {
    *err_at = sc.i;
    *err = sc.err;
    return sc.code;
  }
  if (opts->flags & JSON_STRICT_WHOLE) {
    skip_space(&sc);
    if (sc.i < len) {
      *err_at = sc.i;
      *err = "unexpected data after the JSON value";
      return JSON_STRICT_INVALID;
    }
  }
  *end = sc.i;
  return JSON_STRICT_OK;
}

int json_strict_scan(const char *text, size_t len, size_t pos, int max_depth,
                     size_t *end, size_t *err_at, const char **err) {
  json_strict_opts opts = {.max_depth = max_depth};

  return json_strict_read(text, len, pos, &opts, end, err_at, err) ==
                 JSON_STRICT_OK
             ? 0
             : -1;
}

cJSON *json_strict_parse(const char *text, size_t len, int max_depth,
                         size_t *err_at, const char **err) {
  json_strict_opts opts = {.max_depth = max_depth, .flags = JSON_STRICT_WHOLE};
  size_t end;
  cJSON *root;

  if (!chat_utf8_valid(text, len)) {
    *err_at = 0;
    *err = JSON_STRICT_BAD_UTF8;
    return NULL;
  }
  if (json_strict_read(text, len, 0, &opts, &end, err_at, err) != 0)
    return NULL;
  root = cJSON_ParseWithLength(text, len);
  if (root == NULL) {
    *err_at = 0;
    *err = JSON_STRICT_OOM;
  }
  return root;
}

int json_strict_is_int(const json_strict_notes *notes, size_t number) {
  return number < notes->numbers &&
         ((notes->int_bits[number / 8] >> (number % 8)) & 1);
}

size_t json_strict_number_at(const char *text, size_t len, size_t number) {
  const unsigned char *s = (const unsigned char *)text;
  json_strict_opts opts = {.flags = JSON_STRICT_NUL | JSON_STRICT_LONG_NUMBERS};
  scanner sc = {.s = s, .len = len, .flags = opts.flags};
  size_t seen = 0;

  /* Token by token: strings are skipped whole, so a digit inside one is
   * never taken for a number. */
  while (sc.i < len) {
    unsigned char c = s[sc.i];

    if (c == '"') {
      if (scan_string(&sc) != 0)
        break;
    } else if (c == '-' || is_digit(c)) {
      if (seen++ == number)
        return sc.i;
      if (scan_number(&sc) != 0)
        break;
    } else {
      sc.i++;
    }
  }
  return len;
}

/* Writes code point cp as UTF-8 at out; returns its length. */
static size_t put_utf8(char *out, unsigned long cp) {
  unsigned char *o = (unsigned char *)out;

  if (cp < 0x80) {
    o[0] = (unsigned char)cp;
    return 1;
  }
  if (cp < 0x800) {
    o[0] = (unsigned char)(0xC0 | (cp >> 6));
    o[1] = (unsigned char)(0x80 | (cp & 0x3F));
    return 2;
  }
  if (cp < 0x10000) {
    o[0] = (unsigned char)(0xE0 | (cp >> 12));
    o[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
    o[2] = (unsigned char)(0x80 | (cp & 0x3F));
    return 3;
  }
  o[0] = (unsigned char)(0xF0 | (cp >> 18));
  o[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
  o[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
  o[3] = (unsigned char)(0x80 | (cp & 0x3F));
  return 4;
}

/* The byte a one-letter escape stands for ('"', '\\' and '/' stand for
 * themselves). */
static char simple_escape(unsigned char e) {
  switch (e) {
  case 'b':
    return '\b';
  case 'f':
    return '\f';
  case 'n':
    return '\n';
  case 'r':
    return '\r';
  case 't':
    return '\t';
  default:
    return (char)e;
  }
}

size_t json_strict_unescape(const char *text, size_t len, size_t at,
                            char *out) {
  const unsigned char *s = (const unsigned char *)text;
  size_t i = at + 1, n = 0;
  char tmp[4];

  /* The token was read already: escapes and surrogate pairs are whole. */
  while (i < len && s[i] != '"') {
    if (s[i] != '\\') {
      if (out != NULL)
        out[n] = (char)s[i];
      n++;
      i++;
    } else if (s[i + 1] == 'u') {
      unsigned long cp = (unsigned long)hex4(s, len, i + 2);

      i += 6;
      if (cp >= 0xD800 && cp <= 0xDBFF) {
        cp = 0x10000 + ((cp - 0xD800) << 10) +
             ((unsigned long)hex4(s, len, i + 2) - 0xDC00);
        i += 6;
      }
      n += put_utf8(out != NULL ? out + n : tmp, cp);
    } else {
      if (out != NULL)
        out[n] = simple_escape(s[i + 1]);
      n++;
      i += 2;
    }
  }
  return n;
}

void json_strict_notes_free(json_strict_notes *notes) {
  free(notes->int_bits);
  free(notes->nul);
  memset(notes, 0, sizeof(*notes));
}
