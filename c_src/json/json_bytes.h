/* json_bytes.h - word-at-a-time byte tests shared by the strict reader and
 * the writer: most of a JSON string is plain text, and testing it eight bytes
 * at a time is what keeps both as fast as a plain copy. Pure C, no erl_nif. */
#ifndef CX_JSON_BYTES_H
#define CX_JSON_BYTES_H

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

/* Nonzero when some byte of w is zero. Exact for the word as a whole (the
 * classic test's per-byte false positives only follow a real zero). */
static inline uint64_t json_zero8(uint64_t w) {
  return (w - JSON_ONES8) & ~w & JSON_HIGH8;
}

/* Nonzero when some byte of w equals b. */
static inline uint64_t json_byte8(uint64_t w, unsigned char b) {
  return json_zero8(w ^ (JSON_ONES8 * b));
}

/* 1 when no byte of w is a quote, a backslash or a control character
 * (< 0x20): inside a JSON string, all eight are copied as they are. */
static inline int json_plain8(uint64_t w) {
  uint64_t ctl = (w - JSON_ONES8 * 0x20) & ~w & JSON_HIGH8;

  return (ctl | json_byte8(w, '"') | json_byte8(w, '\\')) == 0;
}

#endif
