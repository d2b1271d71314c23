/* json_bytes.h - word-at-a-time byte tests shared by the strict reader and
 * the writer: most of a JSON string is plain text, and testing it eight bytes
 * at a time is what keeps both as fast as a plain copy. Pure C, no erl_nif. */
#ifndef CX_JSON_BYTES_H
#define CX_JSON_BYTES_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define JSON_ONES8 0x0101010101010101ULL
#define JSON_HIGH8 0x8080808080808080ULL

/* The 8 bytes at p, in memory order whatever the alignment. */
static inline uint64_t json_load8(const unsigned char *p) {
  uint64_t w;

  memcpy(&w, p, sizeof(w));
  return w;
}

/* The high bit of each byte of w that is below n (n <= 0x80). The lowest
 * bit set marks the first such byte exactly: a borrow can only mark bytes
 * above a real one. */
static inline uint64_t json_below8(uint64_t w, unsigned char n) {
  return (w - JSON_ONES8 * n) & ~w & JSON_HIGH8;
}

/* The same for the bytes of w equal to b. */
static inline uint64_t json_equal8(uint64_t w, unsigned char b) {
  return json_below8(w ^ (JSON_ONES8 * b), 1);
}

/* The bytes of w that a JSON string cannot hold as they are: a quote, a
 * backslash or a control character (< 0x20). */
static inline uint64_t json_special8(uint64_t w) {
  return json_below8(w, 0x20) | json_equal8(w, '"') | json_equal8(w, '\\');
}

/* How many bytes of p[0..len) come before the first special byte (or the
 * byte `also`, if nonzero), eight at a time: len if there is none. */
static inline size_t json_plain_prefix(const unsigned char *p, size_t len,
                                       unsigned char also) {
  size_t i = 0;

  for (; len - i >= 8; i += 8) {
    uint64_t w = json_load8(p + i), m = json_special8(w);

    if (also != 0)
      m |= json_equal8(w, also);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    if (m != 0)
      return i + (size_t)__builtin_ctzll(m) / 8;
#else
    if (m != 0)
      break;
#endif
  }
  for (; i < len; i++)
    if (p[i] < 0x20 || p[i] == '"' || p[i] == '\\' ||
        (also != 0 && p[i] == also))
      break;
  return i;
}

#endif
