/* test_json_out.c - unit tests for json_out.c's writer: the string escaper
 * (every control byte, quote and backslash, U+2028/2029, invalid UTF-8,
 * the room contract of json_write_string on exact-size buffers), the
 * number formatter (shortest round-trip over a few hundred thousand random
 * doubles, subnormals, extremes, -0.0, the float form), integers and
 * bignums, and the json_put_* wrappers the codecs use. */
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "buf.h"
#include "fixtures.h"
#include "json_out.h"

/* json_write_string of s[0..len) into a malloc'd, NUL-terminated string,
 * checked against every smaller room on exact-size buffers: each call
 * returns the same length and writes nothing past its room. */
static char *write_string(const char *s, size_t len, unsigned flags) {
  char *in = fixture_exact_copy(s, len);
  size_t need = json_write_string(NULL, 0, in, len, flags);
  char *out = malloc(need + 1);

  cr_assert_not_null(out);
  for (size_t cap = 1; cap < need && cap < 64; cap++) {
    char *small = malloc(cap);
    cr_assert_not_null(small);
    cr_assert_eq(json_write_string(small, cap, in, len, flags), need,
                 "room %zu", cap);
    free(small);
  }
  char *exact = malloc(need);
  cr_assert_not_null(exact);
  cr_assert_eq(json_write_string(exact, need, in, len, flags), need);
  memcpy(out, exact, need);
  out[need] = '\0';
  free(exact);
  free(in);
  return out;
}

/* Asserts s (NUL-terminated) is written exactly as want. */
static void escapes(const char *s, unsigned flags, const char *want) {
  char *got = write_string(s, strlen(s), flags);

  cr_assert_str_eq(got, want);
  free(got);
}

Test(json_write_string, escapes_every_control_byte) {
  static const char *short_form[32] = {['\b'] = "\\b",
                                       ['\f'] = "\\f",
                                       ['\n'] = "\\n",
                                       ['\r'] = "\\r",
                                       ['\t'] = "\\t"};

  for (unsigned c = 0; c < 0x20; c++) {
    char in[3] = {'a', (char)c, 'z'}, want[16];
    char *got = write_string(in, 3, 0);

    if (short_form[c] != NULL)
      snprintf(want, sizeof(want), "\"a%sz\"", short_form[c]);
    else
      snprintf(want, sizeof(want), "\"a\\u%04xz\"", c);
    cr_assert_str_eq(got, want, "byte %#x", c);
    free(got);
  }
}

Test(json_write_string, escapes_quote_and_backslash_only) {
  char all[0x80 - 0x20 + 1];
  char *got;

  escapes("say \"hi\" \\ there", 0, "\"say \\\"hi\\\" \\\\ there\"");
  for (unsigned c = 0x20; c < 0x80; c++)
    all[c - 0x20] = (char)c;
  all[0x60] = '\0';
  got = write_string(all, 0x60, 0);
  /* 96 printable bytes, two escaped, plus the quotes */
  cr_assert_eq(strlen(got), 96 + 2 + 2);
  cr_assert_not_null(strstr(got, "!\\\"#"));
  cr_assert_not_null(strstr(got, "[\\\\]"));
  cr_assert_not_null(strstr(got, "/0"), "'/' is not escaped");
  cr_assert_not_null(strstr(got, "}~\x7f"), "DEL is not escaped");
  free(got);
}

Test(json_write_string, nul_and_empty) {
  char *got = write_string("a\0b", 3, 0);

  cr_assert_str_eq(got, "\"a\\u0000b\"");
  free(got);
  got = write_string("", 0, JSON_OUT_JS);
  cr_assert_str_eq(got, "\"\"");
  free(got);
}

Test(json_write_string, js_separators_only_with_the_flag) {
  const char *s = "a\xe2\x80\xa8"
                  "b\xe2\x80\xa9"
                  "c";

  escapes(s, JSON_OUT_JS, "\"a\\u2028b\\u2029c\"");
  escapes(s, 0,
          "\"a\xe2\x80\xa8"
          "b\xe2\x80\xa9"
          "c\"");
  /* neighbours and other E2 characters stay raw */
  escapes("\xe2\x80\xa7\xe2\x80\xaa\xe2\x82\xac \xe2\x80\x94", JSON_OUT_JS,
          "\"\xe2\x80\xa7\xe2\x80\xaa\xe2\x82\xac \xe2\x80\x94\"");
  /* in the 8-byte fast path and across its edges */
  escapes("0123456\xe2\x80\xa8"
          "89abcdef\xe2\x80\xa9",
          JSON_OUT_JS,
          "\"0123456\\u2028"
          "89abcdef\\u2029\"");
}

Test(json_write_string, long_text_in_every_alignment) {
  char text[100], want[200];

  for (size_t pos = 0; pos < 40; pos++) {
    size_t n = 0;

    memset(text, 'x', sizeof(text));
    text[pos] = '"';
    text[pos + 20] = '\n';
    want[n++] = '"';
    for (size_t i = 0; i < sizeof(text); i++) {
      if (text[i] == '"' || text[i] == '\n')
        want[n++] = '\\';
      want[n++] = text[i] == '\n' ? 'n' : text[i];
    }
    want[n++] = '"';
    want[n] = '\0';
    char *got = write_string(text, sizeof(text), 0);
    cr_assert_str_eq(got, want, "quote at %zu", pos);
    free(got);
  }
}

Test(json_write_string, fits_exactly_even_when_escapes_use_the_slack) {
  /* Room is len + 2 at least; escapes past the slack are measured first. */
  const char *s = "\x01\x02\x03\x04\x05\x06\x07\x08\x0b\x0e";
  size_t need = json_write_string(NULL, 0, s, 10, 0);
  char *out = malloc(need);

  cr_assert_eq(need, 2 + 10 * 6 - 4); /* \b is short */
  cr_assert_not_null(out);
  cr_assert_eq(json_write_string(out, need, s, 10, 0), need);
  cr_assert_eq(memcmp(out, "\"\\u0001", 7), 0);
  cr_assert_eq(out[need - 1], '"');
  free(out);
}

/* --- json_put_string / json_put_cstr ------------------------------------ */

Test(json_put_string, refuses_invalid_utf8_and_appends_nothing) {
  const char *bad[] = {
      "\xff",      "a\xc3", "\xc0\xaf", "\xed\xa0\x80", "\xf4\x90\x80\x80",
      "ab\xe2\x82"};
  buf b;

  buf_init(&b, 0);
  cr_assert_eq(buf_puts(&b, "x"), 0);
  for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
    cr_assert_eq(json_put_string(&b, bad[i], strlen(bad[i])), -1, "%zu", i);
    cr_assert_eq(b.len, 1);
  }
  buf_free(&b);
}

Test(json_put_string, escapes_for_javascript_and_keeps_the_nul) {
  buf b;

  buf_init(&b, 0);
  cr_assert_eq(json_put_string(&b, "a\0\xe2\x80\xa8\"", 6), 0);
  cr_assert_eq(json_put_string(&b, NULL, 0), 0);
  cr_assert_eq(json_put_cstr(&b, "\xc3\xa9\t"), 0);
  cr_assert_eq(json_put_cstr(&b, NULL), -1);
  cr_assert_str_eq(b.data, "\"a\\u0000\\u2028\\\"\"\"\"\"\xc3\xa9\\t\"");
  buf_free(&b);
}

Test(json_put_string, grows_the_buffer_and_respects_its_limit) {
  char big[3000];
  buf b;

  memset(big, '\n', sizeof(big)); /* every byte doubles */
  buf_init(&b, 0);
  cr_assert_eq(json_put_string(&b, big, sizeof(big)), 0);
  cr_assert_eq(b.len, 2 + 2 * sizeof(big));
  cr_assert_eq(b.data[b.len], '\0');
  buf_free(&b);
  buf_init(&b, 100);
  cr_assert_eq(json_put_string(&b, big, 60), -1, "120 escaped bytes > 100");
  cr_assert_eq(json_put_string(&b, big, 40), 0);
  cr_assert_eq(b.len, 82);
  buf_free(&b);
}

/* --- Doubles ------------------------------------------------------------- */

static void formats(double d, unsigned flags, const char *want) {
  char out[JSON_NUMBER_MAX + 1];
  size_t n = json_format_double(out, d, flags);

  out[n] = '\0';
  cr_assert_str_eq(out, want, "%.17g (flags %u)", d, flags);
}

Test(json_format_double, known_values) {
  formats(0.2, 0, "0.2");
  formats(0.1, 0, "0.1");
  formats(0.1 + 0.2, 0, "0.30000000000000004");
  formats(1.0 / 3, 0, "0.3333333333333333");
  formats(-2.5, 0, "-2.5");
  formats(1e300, 0, "1e+300");
  formats(1e308, 0, "1e+308");
  formats(1e-7, 0, "1e-07");
  formats(DBL_MAX, 0, "1.7976931348623157e+308");
  formats(DBL_MIN, 0, "2.2250738585072014e-308");
  formats(5e-324, 0, "5e-324");
  formats(1e-320, 0, "1e-320");
  formats(3.0, 0, "3");
  formats(0.0, 0, "0");
  formats(-0.0, 0, "-0");
  formats(1e15, 0, "1e+15");
  formats(123456789012345.0, 0, "123456789012345");
  formats(1e22, 0, "1e+22");
}

Test(json_format_double, float_form_marks_integral_values) {
  formats(0.0, JSON_OUT_FLOAT, "0.0");
  formats(-0.0, JSON_OUT_FLOAT, "-0.0");
  formats(100.0, JSON_OUT_FLOAT, "100.0");
  formats(1e15, JSON_OUT_FLOAT, "1000000000000000.0");
  formats(9007199254740992.0, JSON_OUT_FLOAT, "9007199254740992.0");
  formats(9007199254740994.0, JSON_OUT_FLOAT, "9007199254740994.0");
  formats(1e300, JSON_OUT_FLOAT, "1e+300");
  formats(0.5, JSON_OUT_FLOAT, "0.5");
  formats(-1e-7, JSON_OUT_FLOAT, "-1e-07");
}

Test(json_format_double, refuses_nan_and_infinities) {
  char out[JSON_NUMBER_MAX];

  cr_assert_eq(json_format_double(out, NAN, 0), 0);
  cr_assert_eq(json_format_double(out, INFINITY, JSON_OUT_FLOAT), 0);
  cr_assert_eq(json_format_double(out, -INFINITY, 0), 0);
}

/* A random finite double from a 64-bit generator's bits. */
static double random_double(uint64_t *state) {
  double d;

  do {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    memcpy(&d, state, sizeof(d));
  } while (!isfinite(d));
  return d;
}

/* The shortest "%.Ng" that reads back as d, found the slow way. */
static int shortest_digits(double d) {
  char tmp[40];

  for (int p = 1; p < 17; p++) {
    snprintf(tmp, sizeof(tmp), "%.*g", p, d);
    if (strtod(tmp, NULL) == d)
      return p;
  }
  return 17;
}

/* Significant digits in a %g-style text. */
static int digits_of(const char *s) {
  int n = 0, leading = 1;

  for (; *s != '\0' && *s != 'e'; s++) {
    if (*s < '0' || *s > '9')
      continue;
    if (leading && *s == '0')
      continue;
    leading = 0;
    n++;
  }
  return n == 0 ? 1 : n;
}

Test(json_format_double, random_doubles_read_back_bit_exact) {
  uint64_t state = 0x9e3779b97f4a7c15ULL;

  for (int i = 0; i < 300000; i++) {
    double d = random_double(&state), back;
    char out[JSON_NUMBER_MAX + 1];
    unsigned flags = i % 2 ? JSON_OUT_FLOAT : 0;
    size_t n = json_format_double(out, d, flags);

    cr_assert_gt(n, 0);
    out[n] = '\0';
    back = strtod(out, NULL);
    cr_assert(memcmp(&back, &d, sizeof(d)) == 0, "%a wrote %s", d, out);
    if (flags)
      cr_assert(strpbrk(out, ".e") != NULL, "%s reads as a float", out);
  }
}

Test(json_format_double, random_doubles_are_the_shortest) {
  uint64_t state = 0x2545f4914f6cdd1dULL;

  for (int i = 0; i < 20000; i++) {
    /* decimal-looking values too, where shorter forms exist */
    double d = i % 2 ? random_double(&state)
                     : (double)(state % 100000) / 1000.0 *
                           pow(10, (int)(state >> 60) - 8);
    char out[JSON_NUMBER_MAX + 1];
    size_t n = json_format_double(out, d, 0);

    out[n] = '\0';
    if (i % 2 == 0)
      random_double(&state);
    if (fabs(d) < 1e15 && d == floor(d))
      continue; /* plain digits, the same as %.15g */
    cr_assert_eq(digits_of(out), shortest_digits(d), "%.17g wrote %s", d, out);
  }
}

/* --- json_put_number (the codecs) ---------------------------------------- */

Test(json_put_number, writes_what_the_codecs_always_wrote) {
  const double in[] = {0.2, 0.7, 1.0, 0.0, 1.5, 2.0, 0.95, 1e-3};
  const char *want = "0.2,0.7,1,0,1.5,2,0.95,0.001,";
  buf b;

  buf_init(&b, 0);
  for (size_t i = 0; i < sizeof(in) / sizeof(*in); i++)
    cr_assert(json_put_number(&b, in[i]) == 0 && buf_puts(&b, ",") == 0);
  cr_assert_str_eq(b.data, want);
  cr_assert_eq(json_put_number(&b, NAN), -1);
  cr_assert_eq(json_put_number(&b, INFINITY), -1);
  buf_free(&b);
}

/* --- Integers ------------------------------------------------------------ */

Test(json_format_int, extremes) {
  char out[JSON_NUMBER_MAX + 1];
  size_t n;

  n = json_format_int(out, INT64_MIN);
  out[n] = '\0';
  cr_assert_str_eq(out, "-9223372036854775808");
  n = json_format_int(out, INT64_MAX);
  out[n] = '\0';
  cr_assert_str_eq(out, "9223372036854775807");
  n = json_format_int(out, 0);
  out[n] = '\0';
  cr_assert_str_eq(out, "0");
  n = json_format_int(out, -1);
  out[n] = '\0';
  cr_assert_str_eq(out, "-1");
  n = json_format_uint(out, UINT64_MAX);
  out[n] = '\0';
  cr_assert_str_eq(out, "18446744073709551615");
}

/* json_format_bignum of mag[0..n) into a fresh string. */
static char *bignum(const unsigned char *mag, size_t n, int negative) {
  size_t cap = json_bignum_size(n);
  char *out = malloc(cap + 1);
  size_t len;

  cr_assert_not_null(out);
  len = json_format_bignum(out, mag, n, negative);
  cr_assert_gt(len, 0);
  cr_assert_leq(len, cap);
  out[len] = '\0';
  return out;
}

Test(json_format_bignum, known_values) {
  const unsigned char two64[] = {0, 0, 0, 0, 0, 0, 0, 0, 1};
  /* 2^200 + 12345: 12345 = 0x3039 */
  unsigned char big[26] = {0x39, 0x30};
  char *s;

  big[25] = 1;
  s = bignum(two64, sizeof(two64), 0);
  cr_assert_str_eq(s, "18446744073709551616");
  free(s);
  s = bignum(two64, sizeof(two64), 1);
  cr_assert_str_eq(s, "-18446744073709551616");
  free(s);
  s = bignum(big, sizeof(big), 0);
  cr_assert_str_eq(s, "16069380442589902755419620923411626025222029937827928"
                      "35313721");
  free(s);
  s = bignum(NULL, 0, 0);
  cr_assert_str_eq(s, "0");
  free(s);
}

/* Decimal text of a 128-bit value, the slow way. */
static void u128_text(unsigned __int128 v, char *out) {
  char tmp[64];
  size_t n = 0;

  do {
    tmp[n++] = (char)('0' + (int)(v % 10));
    v /= 10;
  } while (v != 0);
  for (size_t i = 0; i < n; i++)
    out[i] = tmp[n - 1 - i];
  out[n] = '\0';
}

Test(json_format_bignum, random_128_bit_values) {
  uint64_t state = 0x0123456789abcdefULL;

  for (int i = 0; i < 20000; i++) {
    unsigned char mag[16];
    unsigned __int128 v = 0;
    char want[64], *got;
    size_t n = 9 + (size_t)(i % 8);

    for (size_t k = 0; k < n; k++) {
      state ^= state << 13;
      state ^= state >> 7;
      state ^= state << 17;
      mag[k] = (unsigned char)state;
      v |= (unsigned __int128)mag[k] << (8 * k);
    }
    u128_text(v, want);
    got = bignum(mag, n, 0);
    cr_assert_str_eq(got, want);
    free(got);
  }
}

Test(json_format_bignum, thousand_digit_numbers_fit_their_room) {
  unsigned char mag[512];
  char *s;

  memset(mag, 0xFF, sizeof(mag)); /* 2^4096 - 1: 1234 digits */
  s = bignum(mag, sizeof(mag), 1);
  cr_assert_eq(strlen(s), 1 + 1234);
  cr_assert_eq(strncmp(s,
                       "-1044388881413152506691752710716624382579964249047383"
                       "7803842334832839539",
                       20),
               0);
  cr_assert_eq(s[1234], '5', "2^4096 - 1 ends in 5");
  free(s);
}
