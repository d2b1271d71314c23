/* json_strict.c - a strict, non-recursive JSON scanner (RFC 8259) that
 * checks text before cJSON parses it. See json_strict.h for what cJSON lets
 * through and why that matters. Pure C, no erl_nif. */
#include "json_strict.h"

#include <string.h>

#include "chat.h"

/* The deepest nesting the scanner can track (its stack is on the C stack). */
#define SCAN_MAX_DEPTH 256

/* cJSON copies a number into a 64-byte buffer before strtod, so it reads at
 * most this many characters of it. */
#define NUMBER_MAX_CHARS 63

/* What the scanner expects next. */
enum scan_state {
  EXPECT_VALUE,          /* after ':' or ',' in an array, or at the start */
  EXPECT_VALUE_OR_CLOSE, /* after '[' */
  EXPECT_KEY,            /* after ',' in an object */
  EXPECT_KEY_OR_CLOSE,   /* after '{' */
  EXPECT_COMMA_OR_CLOSE  /* after a value inside an array or object */
};

typedef struct scanner {
  const unsigned char *s;
  size_t len;
  size_t i;        /* the next byte to read */
  const char *err; /* set on failure, with i at the problem */
} scanner;

static int fail(scanner *sc, const char *err) {
  sc->err = err;
  return -1;
}

static int is_space(unsigned char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static int is_digit(unsigned char c) { return c >= '0' && c <= '9'; }

static void skip_space(scanner *sc) {
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

/* Reads a \u escape at sc->i (pointing at the backslash), and the low half
 * that must follow a high surrogate. */
static int scan_unicode_escape(scanner *sc) {
  long cp = hex4(sc->s, sc->len, sc->i + 2), lo;

  if (cp < 0)
    return fail(sc, "invalid \\u escape");
  if (cp == 0)
    return fail(sc, "\\u0000 in a string is not supported");
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
  sc->i++;
  for (;;) {
    unsigned char c;

    if (sc->i >= sc->len)
      return fail(sc, "unterminated string");
    c = sc->s[sc->i];
    if (c == '"') {
      sc->i++;
      return 0;
    }
    if (c < 0x20)
      return fail(sc, "control character in string");
    if (c != '\\') {
      sc->i++;
      continue;
    }
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
      if (scan_unicode_escape(sc) != 0)
        return -1;
      break;
    default:
      return fail(sc, "invalid escape in string");
    }
  }
}

static void skip_digits(scanner *sc) {
  while (sc->i < sc->len && is_digit(sc->s[sc->i]))
    sc->i++;
}

/* Reads -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? */
static int scan_number(scanner *sc) {
  size_t start = sc->i;

  if (sc->s[sc->i] == '-')
    sc->i++;
  if (sc->i < sc->len && sc->s[sc->i] == '0')
    sc->i++;
  else if (sc->i < sc->len && is_digit(sc->s[sc->i]))
    skip_digits(sc);
  else
    return fail(sc, "invalid number");
  if (sc->i < sc->len && sc->s[sc->i] == '.') {
    sc->i++;
    if (sc->i >= sc->len || !is_digit(sc->s[sc->i]))
      return fail(sc, "invalid number");
    skip_digits(sc);
  }
  if (sc->i < sc->len && (sc->s[sc->i] == 'e' || sc->s[sc->i] == 'E')) {
    sc->i++;
    if (sc->i < sc->len && (sc->s[sc->i] == '+' || sc->s[sc->i] == '-'))
      sc->i++;
    if (sc->i >= sc->len || !is_digit(sc->s[sc->i]))
      return fail(sc, "invalid number");
    skip_digits(sc);
  }
  if (sc->i - start > NUMBER_MAX_CHARS) {
    sc->i = start;
    return fail(sc, "number longer than 63 characters is not supported");
  }
  return 0;
}

static int scan_literal(scanner *sc, const char *word) {
  size_t n = strlen(word);

  if (sc->len - sc->i < n || memcmp(sc->s + sc->i, word, n) != 0)
    return fail(sc, "invalid literal");
  sc->i += n;
  return 0;
}

/* Reads a scalar, or returns 1 when sc->i is at '{' or '[' (not consumed). */
static int scan_scalar(scanner *sc) {
  switch (sc->s[sc->i]) {
  case '{':
  case '[':
    return 1;
  case '"':
    return scan_string(sc);
  case 't':
    return scan_literal(sc, "true");
  case 'f':
    return scan_literal(sc, "false");
  case 'n':
    return scan_literal(sc, "null");
  default:
    if (sc->s[sc->i] == '-' || is_digit(sc->s[sc->i]))
      return scan_number(sc);
    return fail(sc, "unexpected character");
  }
}

/* Reads an object key and its ':'; sc->i is at the key. */
static int scan_key(scanner *sc) {
  if (sc->i >= sc->len)
    return fail(sc, "unexpected end of input");
  if (sc->s[sc->i] != '"')
    return fail(sc, "expected a property name");
  if (scan_string(sc) != 0)
    return -1;
  skip_space(sc);
  if (sc->i >= sc->len || sc->s[sc->i] != ':')
    return fail(sc, "expected ':'");
  sc->i++;
  return 0;
}

/* The scanner proper: a loop over a stack of open containers ('{' or '['),
 * so hostile nesting costs no C stack. */
static int scan(scanner *sc, int max_depth) {
  unsigned char open[SCAN_MAX_DEPTH];
  int depth = 0, rc;
  enum scan_state st = EXPECT_VALUE;

  for (;;) {
    skip_space(sc);
    if (sc->i >= sc->len)
      return fail(sc, "unexpected end of input");

    if (st == EXPECT_KEY || st == EXPECT_KEY_OR_CLOSE) {
      if (st == EXPECT_KEY_OR_CLOSE && sc->s[sc->i] == '}') {
        sc->i++;
        depth--;
        goto after_value;
      }
      if (scan_key(sc) != 0)
        return -1;
      st = EXPECT_VALUE;
      continue;
    }

    if (st == EXPECT_COMMA_OR_CLOSE) {
      unsigned char c = sc->s[sc->i];
      unsigned char close = open[depth - 1] == '{' ? '}' : ']';

      if (c == ',') {
        sc->i++;
        st = open[depth - 1] == '{' ? EXPECT_KEY : EXPECT_VALUE;
        continue;
      }
      if (c != close)
        return fail(sc, close == '}' ? "expected ',' or '}'"
                                     : "expected ',' or ']'");
      sc->i++;
      depth--;
      goto after_value;
    }

    /* EXPECT_VALUE or EXPECT_VALUE_OR_CLOSE */
    if (st == EXPECT_VALUE_OR_CLOSE && sc->s[sc->i] == ']') {
      sc->i++;
      depth--;
      goto after_value;
    }
    rc = scan_scalar(sc);
    if (rc < 0)
      return -1;
    if (rc == 1) {
      if (depth >= max_depth)
        return fail(sc, JSON_STRICT_TOO_DEEP);
      open[depth++] = sc->s[sc->i];
      st = sc->s[sc->i] == '{' ? EXPECT_KEY_OR_CLOSE : EXPECT_VALUE_OR_CLOSE;
      sc->i++;
      continue;
    }

  after_value:
    if (depth == 0)
      return 0;
    st = EXPECT_COMMA_OR_CLOSE;
  }
}

int json_strict_scan(const char *text, size_t len, size_t pos, int max_depth,
                     size_t *end, size_t *err_at, const char **err) {
  scanner sc = {.s = (const unsigned char *)text, .len = len, .i = pos};

  if (max_depth > SCAN_MAX_DEPTH)
    max_depth = SCAN_MAX_DEPTH;
  if (text == NULL || pos > len) {
    *err_at = 0;
    *err = "no input";
    return -1;
  }
  if (scan(&sc, max_depth) != 0) {
    *err_at = sc.i;
    *err = sc.err;
    return -1;
  }
  *end = sc.i;
  return 0;
}

cJSON *json_strict_parse(const char *text, size_t len, int max_depth,
                         size_t *err_at, const char **err) {
  size_t end, i;
  cJSON *root;

  if (!chat_utf8_valid(text, len)) {
    *err_at = 0;
    *err = JSON_STRICT_BAD_UTF8;
    return NULL;
  }
  if (json_strict_scan(text, len, 0, max_depth, &end, err_at, err) != 0)
    return NULL;
  for (i = end; i < len; i++) {
    if (!is_space((unsigned char)text[i])) {
      *err_at = i;
      *err = "unexpected data after the JSON value";
      return NULL;
    }
  }
  root = cJSON_ParseWithLength(text, end);
  if (root == NULL) {
    *err_at = 0;
    *err = JSON_STRICT_OOM;
  }
  return root;
}
