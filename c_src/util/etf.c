/* etf.c - reading big integers and UTF-8 atoms in the external term
 * format (see etf.h). */
#include "etf.h"

#define ETF_VERSION 131

/* The payload of ext when tagged small_tag (a 1-byte length) or big_tag
 * (a len_bytes-byte length, big-endian): 1 with its offset and length when
 * it is all there. */
static int payload(const unsigned char *ext, size_t len, int small_tag,
                   int big_tag, size_t len_bytes, size_t *at, size_t *n) {
  int small = len >= 3 && ext[1] == small_tag;

  if (len < 2 || ext[0] != ETF_VERSION ||
      (!small && (len < 2 + len_bytes || ext[1] != big_tag)))
    return 0;
  *at = small ? 3 : 2 + len_bytes;
  *n = 0;
  for (size_t k = 2; k < *at; k++)
    *n = (*n << 8) | ext[k];
  return *n <= len - *at;
}

int etf_bignum(const unsigned char *ext, size_t len, const unsigned char **mag,
               size_t *nbytes, int *negative) {
  size_t at, n;

  /* The count is of digits; the sign byte comes first. */
  if (!payload(ext, len, 110, 111, 4, &at, &n) || n == len - at)
    return 0;
  *negative = ext[at] != 0;
  *mag = ext + at + 1;
  *nbytes = n;
  return 1;
}

int etf_atom_utf8(const unsigned char *ext, size_t len,
                  const unsigned char **name, size_t *n) {
  size_t at;

  if (!payload(ext, len, 119, 118, 2, &at, n))
    return 0;
  *name = ext + at;
  return 1;
}

size_t etf_latin1_to_utf8(const char *s, size_t len, unsigned char *out) {
  size_t n = 0;

  for (size_t k = 0; k < len; k++) {
    unsigned char b = (unsigned char)s[k];

    if (b >= 0x80)
      out[n++] = (unsigned char)(0xC0 | (b >> 6));
    out[n++] = b < 0x80 ? b : (unsigned char)(0x80 | (b & 0x3F));
  }
  return n;
}
