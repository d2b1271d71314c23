/* etf.h - the two shapes of Erlang's external term format (as
 * enif_term_to_binary writes them: 131, a tag, its payload) that the JSON
 * encoder reads: an integer beyond 64 bits and an atom whose name is past
 * Latin-1. Pure C, no erl_nif: the glue passes the bytes. */
#ifndef CX_ETF_H
#define CX_ETF_H

#include <stddef.h>

/* ext[0..len) is a big integer: SMALL_BIG_EXT (110, a 1-byte digit count)
 * or LARGE_BIG_EXT (111, a 4-byte one), then a sign byte and the digits,
 * little-endian base 256. 1 with *mag (the digits, inside ext), *nbytes
 * and *negative set; 0 for any other term or a truncated one. */
int etf_bignum(const unsigned char *ext, size_t len, const unsigned char **mag,
               size_t *nbytes, int *negative);

/* ext[0..len) is an atom with a UTF-8 name: SMALL_ATOM_UTF8_EXT (119, a
 * 1-byte length) or ATOM_UTF8_EXT (118, a 2-byte one). 1 with *name
 * (inside ext) and *n set; 0 for any other term or a truncated one. */
int etf_atom_utf8(const unsigned char *ext, size_t len,
                  const unsigned char **name, size_t *n);

/* Writes Latin-1 s[0..len) as UTF-8 into out (room for 2 * len bytes) and
 * returns its length. */
size_t etf_latin1_to_utf8(const char *s, size_t len, unsigned char *out);

#endif
