/* fuzz_etf.c - the external term format readers the JSON encoder uses
 * (etf.c: etf_bignum, etf_atom_utf8, etf_latin1_to_utf8) on any bytes, and
 * what the encoder does with what they find: a big integer printed in
 * decimal (json_out.c: json_format_bignum, checked against
 * json_format_uint when it fits 64 bits), an atom's Latin-1 name turned
 * into UTF-8. Nothing found may point outside the input.
 *
 * Input: the term's bytes (131, tag, payload) as enif_term_to_binary
 * writes them. */
#include <stdlib.h>
#include <string.h>

#include "chat.h"
#include "etf.h"
#include "fuzz_util.h"
#include "json_out.h"

static void check_bignum(const unsigned char *ext, size_t len) {
  const unsigned char *mag = NULL;
  size_t nbytes = 0, room, n;
  int negative = -1;
  char *out;

  if (!etf_bignum(ext, len, &mag, &nbytes, &negative))
    return;
  FUZZ_CHECK(mag > ext && mag + nbytes <= ext + len && negative >= 0,
             "digits [%td, +%zu) of %zu", mag - ext, nbytes, len);
  room = json_bignum_size(nbytes);
  out = malloc(room ? room : 1);
  FUZZ_CHECK(out != NULL, "out of memory");
  n = json_format_bignum(out, mag, nbytes, negative);
  FUZZ_CHECK(n > 0 && n <= room, "wrote %zu of room %zu", n, room);
  for (size_t i = out[0] == '-' ? 1 : 0; i < n; i++)
    FUZZ_CHECK(out[i] >= '0' && out[i] <= '9', "a digit at %zu", i);
  FUZZ_CHECK(n == 1 || out[out[0] == '-'] != '0' || n == 2,
             "no leading zero: %.*s", (int)n, out);
  if (nbytes <= 8) {
    uint64_t v = 0;
    char want[JSON_NUMBER_MAX + 1];
    size_t wn;

    for (size_t i = nbytes; i > 0; i--)
      v = v << 8 | mag[i - 1];
    /* A zero magnitude (which Erlang never writes) may keep its sign. */
    want[0] = '-';
    wn = json_format_uint(want + (negative ? 1 : 0), v) + (negative ? 1 : 0);
    FUZZ_CHECK(fuzz_same(out, n, want, wn) ||
                   (v == 0 && fuzz_same(out, n, "0", 1)),
               "%.*s, want %.*s", (int)n, out, (int)wn, want);
  }
  free(out);
}

static void check_atom(const unsigned char *ext, size_t len) {
  const unsigned char *name = NULL;
  size_t n = 0, wrote, high = 0;
  unsigned char *utf8;

  if (!etf_atom_utf8(ext, len, &name, &n))
    return;
  FUZZ_CHECK(name > ext && name + n <= ext + len, "name [%td, +%zu) of %zu",
             name - ext, n, len);
  /* The encoder also reads Latin-1 names this way. */
  utf8 = malloc(2 * n + 1);
  FUZZ_CHECK(utf8 != NULL, "out of memory");
  wrote = etf_latin1_to_utf8((const char *)name, n, utf8);
  for (size_t i = 0; i < n; i++)
    high += name[i] >= 0x80;
  FUZZ_CHECK(wrote == n + high, "wrote %zu for %zu bytes, %zu high", wrote, n,
             high);
  FUZZ_CHECK(chat_utf8_valid((const char *)utf8, wrote), "not UTF-8");
  free(utf8);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  unsigned char *ext = (unsigned char *)fuzz_exact(data, size);

  check_bignum(ext, size);
  check_atom(ext, size);
  free(ext);
  return 0;
}
