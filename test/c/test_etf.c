/* test_etf.c - unit tests for etf.c: big integers and UTF-8 atoms in the
 * external term format, small and large tags, truncated and foreign
 * terms, and Latin-1 to UTF-8. Bytes go through exact-size copies so ASan
 * catches any read past the end. */
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "etf.h"
#include "fixtures.h"

static int bignum(const unsigned char *ext, size_t len, size_t *nbytes,
                  int *negative, unsigned char *first) {
  char *copy = fixture_exact_copy((const char *)ext, len);
  const unsigned char *mag = NULL;
  int ok = etf_bignum((const unsigned char *)copy, len, &mag, nbytes, negative);

  if (ok)
    *first = *nbytes ? mag[0] : 0;
  free(copy);
  return ok;
}

Test(etf, big_integers_small_and_large) {
  /* 2^64 and -(2^64) as SMALL_BIG_EXT: 9 digits, the last 1. */
  static const unsigned char pos[] = {131, 110, 9, 0, 0, 0, 0,
                                      0,   0,   0, 0, 0, 1};
  static const unsigned char neg[] = {131, 110, 1, 1, 7};
  static const unsigned char large[] = {131, 111, 0, 0, 0, 2, 0, 5, 6};
  size_t n;
  int negative;
  unsigned char first;

  cr_assert(bignum(pos, sizeof(pos), &n, &negative, &first));
  cr_assert_eq(n, 9);
  cr_assert_eq(negative, 0);
  cr_assert(bignum(neg, sizeof(neg), &n, &negative, &first));
  cr_assert(n == 1 && negative && first == 7);
  cr_assert(bignum(large, sizeof(large), &n, &negative, &first));
  cr_assert(n == 2 && !negative && first == 5);
}

Test(etf, truncated_or_foreign_terms_are_refused) {
  static const struct {
    unsigned char b[8];
    size_t len;
  } bad[] = {
      {{131, 110, 2, 0, 1}, 5}, /* a digit short */
      {{131, 110, 1, 0}, 4},    /* no digit at all */
      {{131, 110, 0}, 3},       /* no sign byte */
      {{131, 111, 0, 0, 0}, 5}, /* a short count */
      {{131, 97, 5}, 3},        /* SMALL_INTEGER_EXT */
      {{130, 110, 1, 0, 1}, 5}, /* not version 131 */
      {{131}, 1},               /* nothing */
  };
  size_t n;
  int negative;
  unsigned char first;

  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
    cr_assert_not(bignum(bad[i].b, bad[i].len, &n, &negative, &first),
                  "case %zu", i);
}

Test(etf, utf8_atoms_small_and_large) {
  static const unsigned char small[] = {131, 119, 3, 0xE2, 0x82, 0xAC};
  static const unsigned char large[] = {131, 118, 0, 2, 'o', 'k'};
  static const unsigned char cut[] = {131, 119, 3, 'o', 'k'};
  static const unsigned char latin1[] = {131, 100, 0, 2, 'o', 'k'};
  const unsigned char *name;
  size_t n;

  cr_assert(etf_atom_utf8(small, sizeof(small), &name, &n));
  cr_assert(n == 3 && memcmp(name, "\xE2\x82\xAC", 3) == 0);
  cr_assert(etf_atom_utf8(large, sizeof(large), &name, &n));
  cr_assert(n == 2 && memcmp(name, "ok", 2) == 0);
  cr_assert_not(etf_atom_utf8(cut, sizeof(cut), &name, &n));
  cr_assert_not(etf_atom_utf8(latin1, sizeof(latin1), &name, &n),
                "ATOM_EXT is not read: enif_get_atom covers Latin-1");
}

Test(etf, latin1_becomes_utf8) {
  unsigned char out[8];

  cr_assert_eq(etf_latin1_to_utf8("a\xE9\xFF", 3, out), 5);
  cr_assert_eq(memcmp(out, "a\xC3\xA9\xC3\xBF", 5), 0);
  cr_assert_eq(etf_latin1_to_utf8("", 0, out), 0);
}
