/* json_out.c - the JSON writer (see json_out.h). Strings are escaped here
 * rather than through cJSON because message content is pointer plus length
 * and may hold NUL bytes. */
#include "json_out.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>

#include "chat.h"
#include "json_bytes.h"
#include "json_in.h"

/* The bytes an escape adds for c (0 when c goes out as is). */
static size_t escape_extra(unsigned char c) {
  if (c == '"' || c == '\\' || c == '\b' || c == '\f' || c == '\n' ||
      c == '\r' || c == '\t')
    return 1;              /* \n style */
  return c < 0x20 ? 5 : 0; /* \u00xx */
}

/* 1 when p[0..left) starts with U+2028 or U+2029 (E2 80 A8/A9). */
static int is_js_separator(const unsigned char *p, size_t left) {
  return left >= 3 && p[0] == 0xE2 && p[1] == 0x80 &&
         (p[2] == 0xA8 || p[2] == 0xA9);
}

/* Bytes from p that need no escape. */
static size_t plain_run(const unsigned char *p, size_t len, unsigned flags) {
  size_t i = 0;

  if (!(flags & JSON_OUT_JS))
    return json_plain_prefix(p, len, 0);
  /* Stops at every 0xE2 too: U+2028 and U+2029 start with it. */
  while ((i += json_plain_prefix(p + i, len - i, 0xE2)) < len && p[i] == 0xE2 &&
         !is_js_separator(p + i, len - i))
    i++;
  return i;
}

/* The bytes escapes add to s[0..len). */
static size_t escapes_size(const unsigned char *p, size_t len, unsigned flags) {
  size_t n = 0, i = 0;

  while ((i += plain_run(p + i, len - i, flags)) < len) {
    if (p[i] == 0xE2) { /* a JS separator: 3 bytes become 6 */
      n += 3;
      i += 3;
    } else {
      n += escape_extra(p[i++]);
    }
  }
  return n;
}

/* Writes the escape for the byte (or JS separator) at p; returns the end. */
static char *put_escape(char *o, const unsigned char *p) {
  static const char hex[] = "0123456789abcdef";

  *o++ = '\\';
  switch (p[0]) {
  case '"':
  case '\\':
    *o++ = (char)p[0];
    return o;
  case '\b':
    *o++ = 'b';
    return o;
  case '\f':
    *o++ = 'f';
    return o;
  case '\n':
    *o++ = 'n';
    return o;
  case '\r':
    *o++ = 'r';
    return o;
  case '\t':
    *o++ = 't';
    return o;
  }
  if (p[0] == 0xE2) {
    memcpy(o, p[2] == 0xA8 ? "u2028" : "u2029", 5);
    return o + 5;
  }
  memcpy(o, "u00", 3);
  o[3] = hex[p[0] >> 4];
  o[4] = hex[p[0] & 0xF];
  return o + 5;
}

size_t json_write_string(char *out, size_t cap, const char *s, size_t len,
                         unsigned flags) {
  const unsigned char *p = (const unsigned char *)s;
  size_t i = 0, n = 1, total = 0;

  if (cap < len + 2) /* too small even without escapes */
    return len + 2 + escapes_size(p, len, flags);
  out[0] = '"';
  while (i < len) {
    size_t run = plain_run(p + i, len - i, flags);

    if (run > 0)
      memcpy(out + n, p + i, run);
    n += run;
    i += run;
    if (i == len)
      break;
    /* An escape writes at most 6 bytes for at least 1: while that much
     * room is left for it and the rest, all fits; else measure once. */
    if (total == 0 && cap - n < 7 + (len - i)) {
      total = n + (len - i) + 1 + escapes_size(p + i, len - i, flags);
      if (total > cap)
        return total;
    }
    n = (size_t)(put_escape(out + n, p + i) - out);
    i += p[i] == 0xE2 ? 3 : 1;
  }
  out[n++] = '"';
  return n;
}

/* Writes the magnitude with an optional sign at out; returns the length.
 * The digits are counted first, so they go straight to their place. */
static size_t put_integer(char *out, uint64_t mag, int negative) {
  size_t n = 1, len;
  uint64_t v = mag;

  while (v >= 10) {
    v /= 10;
    n++;
  }
  if (negative)
    *out++ = '-';
  len = n + (negative != 0);
  do {
    out[--n] = (char)('0' + mag % 10);
    mag /= 10;
  } while (n > 0);
  return len;
}

size_t json_format_int(char out[JSON_NUMBER_MAX], int64_t v) {
  return put_integer(out, v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v,
                     v < 0);
}

size_t json_format_uint(char out[JSON_NUMBER_MAX], uint64_t v) {
  return put_integer(out, v, 0);
}

size_t json_format_double(char out[JSON_NUMBER_MAX], double d, unsigned flags) {
  int float_mark = (flags & JSON_OUT_FLOAT) != 0, prec = 15, len = 0;
  /* Below 1e15 "%.15g" prints an integral value as its plain digits; the
   * float form keeps plain digits up to 2^53, where doubles stop being
   * exact integers. */
  double plain_below = float_mark ? 9007199254740992.0 : 1e15;

  if (!isfinite(d))
    return 0;
  if (d == floor(d) && fabs(d) < plain_below) {
    size_t n = put_integer(out, (uint64_t)fabs(d), signbit(d) != 0);

    if (float_mark) {
      memcpy(out + n, ".0", 2);
      n += 2;
    }
    return n;
  }
  /* If 15 significant digits read back, %g's stripped output is already
   * the shortest form: any shorter round-tripping decimal pads out to the
   * same 15 digits. If not, the nearest 16-digit decimal reads back when
   * any 16-digit one does. Subnormals have fewer significant bits, so a
   * short form may read back while 15 digits would too: search from 1. */
  if (fabs(d) < DBL_MIN)
    prec = 1;
  for (; prec <= 17; prec++) {
    len = snprintf(out, JSON_NUMBER_MAX, "%.*g", prec, d);
    if (len <= 0 || len >= JSON_NUMBER_MAX)
      return 0;
    if (prec == 17 || strtod(out, NULL) == d)
      break;
  }
  int plain = 1;
  for (int k = 0; k < len; k++) {
    if (out[k] == ',') /* a locale's decimal comma */
      out[k] = '.';
    if (out[k] == '.' || out[k] == 'e')
      plain = 0;
  }
  if (plain && float_mark) {
    memcpy(out + len, ".0", 2);
    len += 2;
  }
  return (size_t)len;
}

size_t json_bignum_size(size_t nbytes) {
  /* log10(256) < 2.41 digits per byte, one digit at least, and a sign */
  return nbytes * 3 + 2;
}

size_t json_format_bignum(char *out, const unsigned char *mag, size_t nbytes,
                          int negative) {
  size_t nlimbs = (nbytes + 3) / 4, cap = json_bignum_size(nbytes), pos = cap;
  uint32_t *limbs = calloc(nlimbs + 1, sizeof(*limbs));

  if (limbs == NULL)
    return 0;
  for (size_t k = 0; k < nbytes; k++)
    limbs[k / 4] |= (uint32_t)mag[k] << (8 * (k % 4));
  /* Repeated division by 10^9, nine digits a round, written backwards from
   * the end of out and moved to its start at the end. */
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
      out[--pos] = (char)('0' + rem % 10);
      rem /= 10;
    }
  }
  free(limbs);
  if (pos == cap)
    out[--pos] = '0';
  if (negative)
    out[--pos] = '-';
  memmove(out, out + pos, cap - pos);
  return cap - pos;
}

int json_put_string(buf *b, const char *s, size_t len) {
  size_t n, room;

  if (!chat_utf8_valid(s, len) || buf_reserve(b, len + 2) != 0)
    return -1;
  /* Room for the text without escapes is there now (within the buffer's
   * limit); with them, maybe not. */
  room = b->cap - 1 - b->len;
  if (b->limit > 0 && b->limit - b->len < room)
    room = b->limit - b->len;
  n = json_write_string(b->data + b->len, room, s, len, JSON_OUT_JS);
  if (n > room &&
      (buf_reserve(b, n) != 0 ||
       json_write_string(b->data + b->len, n, s, len, JSON_OUT_JS) != n)) {
    b->data[b->len] = '\0'; /* the first try wrote over it */
    return -1;
  }
  b->len += n;
  b->data[b->len] = '\0';
  return 0;
}

int json_put_cstr(buf *b, const char *s) {
  if (s == NULL)
    return -1;
  return json_put_string(b, s, strlen(s));
}

int json_put_number(buf *b, double d) {
  char tmp[JSON_NUMBER_MAX];
  size_t n = json_format_double(tmp, d, 0);

  return n == 0 ? -1 : buf_append(b, tmp, n);
}

int json_put_json_text(buf *b, const char *text, size_t len, int object_only) {
  cJSON *root;
  char *printed;
  int rc = -1;

  if (!chat_utf8_valid(text, len))
    return -1;
  root = json_parse_body(text, len);
  if (root == NULL)
    return -1;
  if (object_only && !cJSON_IsObject(root))
    goto done;
  /* cJSON escapes control characters that it accepted raw inside strings,
   * and prints non-finite numbers as null. */
  printed = cJSON_PrintUnformatted(root);
  if (printed == NULL)
    goto done;
  rc = buf_puts(b, printed);
  cJSON_free(printed);

done:
  cJSON_Delete(root);
  return rc;
}

char *json_object_text(const cJSON *item) {
  char *printed, *copy;

  if (item == NULL)
    return strdup("{}");
  printed = cJSON_PrintUnformatted(item);
  copy = printed != NULL ? strdup(printed) : NULL;
  cJSON_free(printed);
  return copy;
}
