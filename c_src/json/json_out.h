/* json_out.h - the one JSON writer: a string escaper and a number formatter,
 * used by the dialect codecs (the json_put_* functions, into a buf) and by
 * json_nif's encoder (json_write_string and json_format_*, which write in
 * place into the caller's own growing output). Pure C, no erl_nif.
 *
 * The json_put_* functions return 0, or -1 when memory runs out or the input
 * can't be written as valid JSON; on -1 the buffer may hold part of the
 * value, so callers discard the whole body. */
#ifndef CX_JSON_OUT_H
#define CX_JSON_OUT_H

#include <stddef.h>
#include <stdint.h>

#include <cJSON.h>

#include "buf.h"

/* Flags for the escaper and the number formatter. */
enum {
  /* Escape U+2028 and U+2029 too: legal raw in JSON, but not in JavaScript
   * source (request bodies may be read as such). */
  JSON_OUT_JS = 1u << 0,
  /* Numbers: give an integral value a ".0", so the text reads back as a
   * float, and write integral values up to 2^53 as plain digits. */
  JSON_OUT_FLOAT = 1u << 1,
};

/* Room json_format_double and json_format_int need. */
#define JSON_NUMBER_MAX 32

/* Writes s[0..len) as a quoted JSON string into out[0..cap) and returns
 * its length: one pass when it fits. When the length is more than cap,
 * out[0..cap) holds nothing usable: call again with that much room (out may
 * be NULL when cap is 0, to measure). s must be valid UTF-8
 * (chat_utf8_valid): non-ASCII bytes are copied as they are.
 * '"', '\\' and control characters are escaped (\n style where JSON has
 * one, else \u00xx in lower case, NUL included); nothing else is, unless
 * JSON_OUT_JS. No NUL is written after the string. */
size_t json_write_string(char *out, size_t cap, const char *s, size_t len,
                         unsigned flags);

/* Writes d in the shortest "%.Ng" form (N <= 17) that reads back as the
 * same double, bit for bit (0.2 is "0.2", -0.0 is "-0"). With JSON_OUT_FLOAT
 * an integral value gets ".0" ("-0.0", "100.0", 1e300 stays "1e+300").
 * Returns the length (< JSON_NUMBER_MAX, no NUL written), or 0 for NaN and
 * infinities. Independent of the C locale's decimal point. */
size_t json_format_double(char out[JSON_NUMBER_MAX], double d, unsigned flags);

/* Writes v in decimal; returns the length (no NUL written). */
size_t json_format_int(char out[JSON_NUMBER_MAX], int64_t v);
size_t json_format_uint(char out[JSON_NUMBER_MAX], uint64_t v);

/* Room json_format_bignum needs for a magnitude of nbytes bytes. */
size_t json_bignum_size(size_t nbytes);

/* Writes the integer whose magnitude is mag[0..nbytes) (little-endian base
 * 256, as in the external term format) and whose sign is negative, in
 * decimal, at out (room for json_bignum_size(nbytes) bytes). Returns the
 * length, or 0 when scratch memory runs out. Quadratic in nbytes. */
size_t json_format_bignum(char *out, const unsigned char *mag, size_t nbytes,
                          int negative);

/* Appends s[0..len) as a quoted JSON string, escaping U+2028 and U+2029 as
 * well (JSON_OUT_JS). -1 unless s is valid UTF-8 (NULL with len 0 is the
 * empty string). An embedded NUL becomes \u0000. */
int json_put_string(buf *b, const char *s, size_t len);

/* The same for a NUL-terminated s; -1 when s is NULL. */
int json_put_cstr(buf *b, const char *s);

/* Appends d as json_format_double writes it without flags (0.2 goes out as
 * 0.2, 3.0 as 3). -1 for NaN and infinities. */
int json_put_number(buf *b, double d);

/* Appends the JSON value held as text in text[0..len) (a schema, a tool's
 * arguments), checked and re-printed compactly so nothing malformed or
 * unescaped reaches the wire. -1 when it is not one valid UTF-8 JSON value,
 * or when object_only is set and it is not an object; unlike the functions
 * above, nothing has been appended then. */
int json_put_json_text(buf *b, const char *text, size_t len, int object_only);

/* item (a tool call's arguments object) printed as compact JSON text, or
 * "{}" when item is NULL; in memory from malloc, so free() releases it
 * whatever allocator cJSON was given. NULL on out-of-memory. */
char *json_object_text(const cJSON *item);

#endif
