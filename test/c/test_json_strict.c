/* test_json_strict.c - unit tests for json_strict.c (the strict reader, its
 * flags and per-token notes, json_strict_number_at, json_strict_unescape)
 * and json_walk.c (the tree walk those notes line up with). Every rule has
 * its error message and offset pinned; documents are also cut at every
 * byte; text goes through exact-size copies so ASan catches any read past
 * the end. Older json_strict_scan/json_strict_parse tests stay in
 * test_json_schema.c. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "fixtures.h"
#include "json_strict.h"
#include "json_walk.h"

#define ALL_FLAGS (JSON_STRICT_NUL | JSON_STRICT_LONG_NUMBERS)

typedef struct read_result {
  int rc;
  size_t end, at;
  const char *err;
} read_result;

/* json_strict_read of text[0..len) from pos, on an exact-size copy. */
static read_result read_len(const char *text, size_t len, size_t pos,
                            int max_depth, unsigned flags,
                            json_strict_notes *notes) {
  char *copy = fixture_exact_copy(text, len);
  json_strict_opts opts = {max_depth, flags, notes};
  read_result r = {.end = 99, .at = 99, .err = NULL};

  r.rc = json_strict_read(copy, len, pos, &opts, &r.end, &r.at, &r.err);
  free(copy);
  return r;
}

static read_result read_text(const char *text, unsigned flags) {
  return read_len(text, strlen(text), 0, 64, flags, NULL);
}

/* Asserts text reads whole (JSON_STRICT_WHOLE plus flags). */
static void ok(const char *text, unsigned flags) {
  read_result r = read_text(text, flags | JSON_STRICT_WHOLE);

  cr_assert_eq(r.rc, JSON_STRICT_OK, "%s: %s at %zu", text, r.err ? r.err : "?",
               r.at);
  cr_assert_eq(r.end, strlen(text), "%s", text);
}

/* Asserts text fails (read whole) with err at offset at. */
static void bad(const char *text, unsigned flags, size_t at, const char *err) {
  read_result r = read_text(text, flags | JSON_STRICT_WHOLE);

  cr_assert_eq(r.rc, JSON_STRICT_INVALID, "%s: rc %d", text, r.rc);
  cr_assert_str_eq(r.err, err, "%s", text);
  cr_assert_eq(r.at, at, "%s: at %zu, want %zu", text, r.at, at);
}

/* --- The RFC 8259 rules -------------------------------------------------- */

Test(json_strict_read, accepts_every_kind_of_value) {
  const char *good[] = {"0",
                        "-0",
                        "1",
                        "-1",
                        "12.5",
                        "0.5e10",
                        "1E+2",
                        "1e-2",
                        "-0.0e0",
                        "true",
                        "false",
                        "null",
                        "\"\"",
                        "\"a\\\"\\\\\\/\\b\\f\\n\\r\\t\"",
                        "\"\\u00e9\\uD83D\\uDE00\"",
                        "\"\xc3\xa9 raw UTF-8\"",
                        "[]",
                        "{}",
                        "[1,[2,[3]],{}]",
                        "{\"a\":{\"b\":[null]},\"\":0}",
                        " \t\r\n[ 1 , 2 ] ",
                        "\"\x7f\""};

  for (size_t i = 0; i < sizeof(good) / sizeof(*good); i++)
    ok(good[i], 0);
}

Test(json_strict_read, refuses_bad_numbers_where_they_go_wrong) {
  bad("01", 0, 1, "unexpected data after the JSON value");
  bad("[01]", 0, 2, "expected ',' or ']'");
  bad("1.", 0, 2, "invalid number");
  bad("[1.]", 0, 3, "invalid number");
  bad(".5", 0, 0, "unexpected character");
  bad("+1", 0, 0, "unexpected character");
  bad("-", 0, 1, "invalid number");
  bad("-a", 0, 1, "invalid number");
  bad("1e", 0, 2, "invalid number");
  bad("1e+", 0, 3, "invalid number");
  bad("1E-x", 0, 3, "invalid number");
  bad("0x10", 0, 1, "unexpected data after the JSON value");
  bad("[1.5.3]", 0, 4, "expected ',' or ']'");
  bad("NaN", 0, 0, "unexpected character");
  bad("Infinity", 0, 0, "unexpected character");
  bad("-Infinity", 0, 1, "invalid number");
}

Test(json_strict_read, refuses_bad_literals) {
  bad("tru", 0, 0, "invalid literal");
  bad("[nul]", 0, 1, "invalid literal");
  bad("True", 0, 0, "unexpected character");
  bad("truex", 0, 4, "unexpected data after the JSON value");
  bad("nullnull", 0, 4, "unexpected data after the JSON value");
  bad("undefined", 0, 0, "unexpected character");
}

Test(json_strict_read, refuses_bad_strings_at_the_offending_byte) {
  bad("\"abc", 0, 4, "unterminated string");
  bad("\"ab\\", 0, 3, "unterminated string");
  bad("\"a\tb\"", 0, 2, "control character in string");
  bad("[\"a\nb\"]", 0, 3, "control character in string");
  bad("\"a\x1f\"", 0, 2, "control character in string");
  bad("\"\\x\"", 0, 1, "invalid escape in string");
  bad("\"\\'\"", 0, 1, "invalid escape in string");
  bad("\"ab\\u12\"", 0, 3, "invalid \\u escape");
  bad("\"\\uZZZZ\"", 0, 1, "invalid \\u escape");
  bad("\"\\u00G0\"", 0, 1, "invalid \\u escape");
  bad("\"\\u12", 0, 1, "invalid \\u escape");
  bad("\"x\\ud800\"", 0, 2, "unpaired surrogate in \\u escape");
  bad("\"\\udc00\"", 0, 1, "unpaired surrogate in \\u escape");
  bad("\"\\ud800\\u0041\"", 0, 1, "unpaired surrogate in \\u escape");
  bad("\"\\ud800x\"", 0, 1, "unpaired surrogate in \\u escape");
  bad("\"\\ud800\\udbff\"", 0, 1, "unpaired surrogate in \\u escape");
}

Test(json_strict_read, refuses_bad_structure) {
  bad("", 0, 0, "unexpected end of input");
  bad(" \n ", 0, 3, "unexpected end of input");
  bad("[", 0, 1, "unexpected end of input");
  bad("[1, 2", 0, 5, "unexpected end of input");
  bad("{", 0, 1, "unexpected end of input");
  bad("{\"a\"", 0, 4, "expected ':'");
  bad("{\"a\" 1}", 0, 5, "expected ':'");
  bad("{\"a\":", 0, 5, "unexpected end of input");
  bad("{\"a\":1", 0, 6, "unexpected end of input");
  bad("[1,]", 0, 3, "unexpected character");
  bad("[1 2]", 0, 3, "expected ',' or ']'");
  bad("[1}", 0, 2, "expected ',' or ']'");
  bad("{a: 1}", 0, 1, "expected a property name");
  bad("{\"a\":1,}", 0, 7, "expected a property name");
  bad("{]", 0, 1, "expected a property name");
  bad("{\"a\":1 \"b\":2}", 0, 7, "expected ',' or '}'");
  bad("[}", 0, 1, "unexpected character");
  bad("['a']", 0, 1, "unexpected character");
  bad("/* c */ 1", 0, 0, "unexpected character");
  bad("[1]]", 0, 3, "unexpected data after the JSON value");
  bad("{} {}", 0, 3, "unexpected data after the JSON value");
  bad("1 2", 0, 2, "unexpected data after the JSON value");
}

Test(json_strict_read, only_four_bytes_are_whitespace) {
  /* cJSON skips every byte <= 0x20 and a byte order mark. */
  bad("\v1", 0, 0, "unexpected character");
  bad("\f[]", 0, 0, "unexpected character");
  bad("\xc2\xa0 1", 0, 0, "unexpected character");
  bad("[1]\xc2\xa0", 0, 3, "unexpected data after the JSON value");
  bad("\xef\xbb\xbf[1]", 0, 0, "unexpected character");
  /* A raw NUL needs an explicit length. */
  read_result r = read_len("[1,\0]", 5, 0, 8, JSON_STRICT_WHOLE, NULL);
  cr_assert_eq(r.rc, JSON_STRICT_INVALID);
  cr_assert_eq(r.at, 3);
  cr_assert_str_eq(r.err, "unexpected character");
  r = read_len("[1]\0", 4, 0, 8, JSON_STRICT_WHOLE, NULL);
  cr_assert_eq(r.rc, JSON_STRICT_INVALID);
  cr_assert_eq(r.at, 3);
}

Test(json_strict_read, without_whole_stops_after_the_value) {
  read_result r = read_text("[1] x", 0);

  cr_assert_eq(r.rc, JSON_STRICT_OK);
  cr_assert_eq(r.end, 3);
  r = read_len("xx {\"a\":1}  ", 12, 2, 8, 0, NULL);
  cr_assert_eq(r.rc, JSON_STRICT_OK);
  cr_assert_eq(r.end, 10);
  r = read_len("xx {\"a\":1}  ", 12, 2, 8, JSON_STRICT_WHOLE, NULL);
  cr_assert_eq(r.rc, JSON_STRICT_OK);
  cr_assert_eq(r.end, 12);
}

Test(json_strict_read, refuses_missing_input) {
  json_strict_opts opts = {8, 0, NULL};
  size_t end = 0, at = 99;
  const char *err = NULL;

  cr_assert_eq(json_strict_read(NULL, 0, 0, &opts, &end, &at, &err),
               JSON_STRICT_INVALID);
  cr_assert_str_eq(err, "no input");
  cr_assert_eq(json_strict_read("1", 1, 2, &opts, &end, &at, &err),
               JSON_STRICT_INVALID);
  cr_assert_eq(at, 0);
}

/* --- Flags --------------------------------------------------------------- */

Test(json_strict_read, nul_escape_needs_the_flag) {
  bad("[\"a\\u0000\"]", 0, 3, "\\u0000 in a string is not supported");
  bad("{\"\\u0000\":1}", 0, 2, "\\u0000 in a string is not supported");
  ok("[\"a\\u0000\"]", JSON_STRICT_NUL);
  ok("{\"\\u0000\":\"\\u0000\\u0000\"}", JSON_STRICT_NUL);
  /* the flag does not let anything else through */
  bad("\"\\u000\"", JSON_STRICT_NUL, 1, "invalid \\u escape");
  bad("\"\x01\"", JSON_STRICT_NUL, 1, "control character in string");
}

Test(json_strict_read, long_numbers_need_the_flag) {
  char text[300];

  memset(text, '9', 63);
  text[63] = '\0';
  ok(text, 0);
  text[63] = '9';
  text[64] = '\0';
  bad(text, 0, 0, "number longer than 63 characters is not supported");
  ok(text, JSON_STRICT_LONG_NUMBERS);
  memcpy(text, "[0.", 3);
  memset(text + 3, '1', 200);
  memcpy(text + 203, "]", 2);
  bad(text, 0, 1, "number longer than 63 characters is not supported");
  ok(text, JSON_STRICT_LONG_NUMBERS);
}

Test(json_strict_read, long_numbers_are_read_whole_by_the_linked_cjson) {
  /* JSON_STRICT_LONG_NUMBERS relies on it (upstream 1.7.15 stops at 63). */
  char text[500];
  cJSON *root;

  memcpy(text, "[0.", 3);
  memset(text + 3, '1', 200);
  memcpy(text + 203, ",1]", 4);
  root = cJSON_ParseWithLength(text, strlen(text));
  cr_assert_not_null(root);
  cr_assert_eq(cJSON_GetArraySize(root), 2);
  cr_assert_eq(cJSON_GetArrayItem(root, 0)->valuedouble, 0.1111111111111111);
  cJSON_Delete(root);
  memset(text, '0', 401);
  text[0] = '1';
  root = cJSON_ParseWithLength(text, 301);
  cr_assert_not_null(root);
  cr_assert_eq(root->valuedouble, 1e300);
  cJSON_Delete(root);
  root = cJSON_ParseWithLength(text, 401);
  cr_assert_not_null(root);
  cr_assert(isinf(root->valuedouble));
  cJSON_Delete(root);
}

/* --- Depth --------------------------------------------------------------- */

/* n '[' then n ']'; malloc'd. */
static char *nested(size_t n, char open, char close) {
  char *s = malloc(2 * n + 1);

  cr_assert_not_null(s);
  memset(s, open, n);
  memset(s + n, close, n);
  s[2 * n] = '\0';
  return s;
}

Test(json_strict_read, max_depth_counts_arrays_and_objects) {
  read_result r;

  r = read_len("[[[]]]", 6, 0, 3, 0, NULL);
  cr_assert_eq(r.rc, JSON_STRICT_OK);
  r = read_len("[[[[]]]]", 8, 0, 3, 0, NULL);
  cr_assert_eq(r.rc, JSON_STRICT_DEEP);
  cr_assert_eq(r.at, 3);
  cr_assert_str_eq(r.err, JSON_STRICT_TOO_DEEP);
  r = read_len("{\"a\":[{\"b\":[]}]}", 16, 0, 3, 0, NULL);
  cr_assert_eq(r.rc, JSON_STRICT_DEEP);
  cr_assert_eq(r.at, 11);
  r = read_len("[\"[[[{{{\"]", 10, 0, 1, 0, NULL);
  cr_assert_eq(r.rc, JSON_STRICT_OK, "brackets in strings do not count");
  r = read_len("1", 1, 0, 0, 0, NULL);
  cr_assert_eq(r.rc, JSON_STRICT_OK, "scalars need no depth");
  r = read_len("[]", 2, 0, 0, 0, NULL);
  cr_assert_eq(r.rc, JSON_STRICT_DEEP);
}

Test(json_strict_read, depth_is_capped_at_cjsons_limit) {
  char *ok1000 = nested(JSON_STRICT_DEPTH_LIMIT, '[', ']');
  char *deep = nested(JSON_STRICT_DEPTH_LIMIT + 1, '[', ']');
  read_result r;

  r = read_len(ok1000, strlen(ok1000), 0, 5000, 0, NULL);
  cr_assert_eq(r.rc, JSON_STRICT_OK);
  r = read_len(deep, strlen(deep), 0, 5000, 0, NULL);
  cr_assert_eq(r.rc, JSON_STRICT_DEEP);
  cr_assert_eq(r.at, JSON_STRICT_DEPTH_LIMIT);
  free(ok1000);
  free(deep);
}

Test(json_strict_read, hostile_nesting_stops_at_the_limit) {
  size_t n = 100000;
  char *s = malloc(n);

  cr_assert_not_null(s);
  memset(s, '[', n);
  read_result r = read_len(s, n, 0, 256, 0, NULL);
  cr_assert_eq(r.rc, JSON_STRICT_DEEP);
  cr_assert_eq(r.at, 256);
  for (size_t i = 0; i + 5 <= n; i += 5)
    memcpy(s + i, "{\"a\":", 5);
  r = read_len(s, n, 0, 1000, 0, NULL);
  cr_assert_eq(r.rc, JSON_STRICT_DEEP);
  cr_assert_eq(r.at, 5000);
  free(s);
}

Test(json_strict_read, first_problem_in_document_order_wins) {
  char s[400];
  read_result r;

  /* a structural error before the nesting goes too deep */
  memcpy(s, "[}", 2);
  memset(s + 2, '[', 300);
  r = read_len(s, 302, 0, 256, 0, NULL);
  cr_assert_eq(r.rc, JSON_STRICT_INVALID);
  cr_assert_eq(r.at, 1);
  /* trailing data before a malformed number */
  bad("9:01", 0, 1, "unexpected data after the JSON value");
}

/* --- Every truncation ---------------------------------------------------- */

static const char doc[] =
    "{\"a\": [1, -2.5e3, \"x\\u00e9\\ud83d\\ude00 \xe6\x97\xa5 \", true, "
    "false, null], \"b\": {\"c\": {}, \"d\": [[], {\"e\": \"\\\"\"}]}}";

Test(json_strict_read, every_truncation_of_a_document_fails_within_it) {
  size_t len = strlen(doc);
  read_result r = read_len(doc, len, 0, 8, ALL_FLAGS | JSON_STRICT_WHOLE, NULL);

  cr_assert_eq(r.rc, JSON_STRICT_OK);
  for (size_t n = 0; n < len; n++) {
    json_strict_notes notes = {0};

    r = read_len(doc, n, 0, 8, ALL_FLAGS | JSON_STRICT_WHOLE, &notes);
    cr_assert_eq(r.rc, JSON_STRICT_INVALID, "prefix of %zu bytes", n);
    cr_assert_leq(r.at, n, "prefix of %zu bytes", n);
    json_strict_notes_free(&notes);
  }
}

Test(json_strict_read, truncated_numbers_are_numbers_or_errors) {
  const char *num = "-12.5e+3";
  const char *valid[] = {"-1", "-12", "-12.5", "-12.5e+3"};
  size_t nvalid = 0;

  for (size_t n = 0; n <= strlen(num); n++) {
    read_result r = read_len(num, n, 0, 8, JSON_STRICT_WHOLE, NULL);

    if (r.rc == JSON_STRICT_OK) {
      cr_assert_lt(nvalid, 4);
      cr_assert_eq(n, strlen(valid[nvalid]), "prefix %zu", n);
      nvalid++;
    } else {
      cr_assert_eq(r.at, n, "prefix %zu fails at its end", n);
    }
  }
  cr_assert_eq(nvalid, 4);
}

/* --- Notes --------------------------------------------------------------- */

Test(json_strict_notes, numbers_note_whether_they_are_integers) {
  const char *text = "[0, -0, 42, 1.0, 1e2, 9007199254740992, "
                     "-9007199254740992, 9007199254740993, "
                     "12345678901234567, 0.5, -1E0]";
  const int want[] = {1, 1, 1, 0, 0, 1, 1, 0, 0, 0, 0};
  json_strict_notes notes = {0};
  read_result r = read_len(text, strlen(text), 0, 8, 0, &notes);

  cr_assert_eq(r.rc, JSON_STRICT_OK);
  cr_assert_eq(notes.numbers, 11);
  for (size_t i = 0; i < 11; i++)
    cr_assert_eq(json_strict_is_int(&notes, i), want[i], "number %zu", i);
  cr_assert_eq(json_strict_is_int(&notes, 11), 0, "past the last one");
  cr_assert_eq(notes.nodes, 12);
  cr_assert_eq(notes.strings, 0);
  json_strict_notes_free(&notes);
  cr_assert_null(notes.int_bits);
}

Test(json_strict_notes, many_numbers_grow_the_bits) {
  size_t n = 5000, len = 0;
  char *text = malloc(n * 4 + 2);
  json_strict_notes notes = {0};

  cr_assert_not_null(text);
  text[len++] = '[';
  for (size_t i = 0; i < n; i++) { /* 1 and 1.5 alternating */
    memcpy(text + len, i % 2 ? "1.5," : "1,", i % 2 ? 4 : 2);
    len += i % 2 ? 4 : 2;
  }
  text[len - 1] = ']';
  cr_assert_eq(read_len(text, len, 0, 8, 0, &notes).rc, JSON_STRICT_OK);
  cr_assert_eq(notes.numbers, n);
  for (size_t i = 0; i < n; i++)
    cr_assert_eq(json_strict_is_int(&notes, i), i % 2 == 0);
  json_strict_notes_free(&notes);
  free(text);
}

Test(json_strict_notes, strings_with_nul_are_listed_in_order) {
  const char *text = "{\"k\\u0000\": [\"plain\", \"x\\u0000y\", \"\\u0000\"],"
                     " \"k2\": \"no\"}";
  json_strict_notes notes = {0};
  read_result r = read_len(text, strlen(text), 0, 8, JSON_STRICT_NUL, &notes);

  cr_assert_eq(r.rc, JSON_STRICT_OK);
  cr_assert_eq(notes.strings, 6);
  cr_assert_eq(notes.nnul, 3);
  cr_assert_eq(notes.nul[0].string, 0);
  cr_assert_eq(notes.nul[0].at, 1);
  cr_assert_eq(notes.nul[1].string, 2);
  cr_assert_eq(notes.nul[1].at, 22);
  cr_assert_eq(notes.nul[2].string, 3);
  cr_assert_eq(notes.nul[2].at, 34);
  cr_assert_eq(notes.nodes, 8, "2 keys + object + array + 4 strings");
  json_strict_notes_free(&notes);
}

Test(json_strict_notes, nodes_count_values_and_keys) {
  struct {
    const char *text;
    size_t nodes;
  } cases[] = {{"1", 1},        {"[]", 1},        {"[1,2,3]", 4},
               {"{}", 1},       {"{\"a\":1}", 3}, {"{\"a\":[1,{}]}", 5},
               {"[[[[]]]]", 4}, {"\"s\"", 1}};

  for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
    json_strict_notes notes = {0};
    read_result r =
        read_len(cases[i].text, strlen(cases[i].text), 0, 8, 0, &notes);
    cr_assert_eq(r.rc, JSON_STRICT_OK);
    cr_assert_eq(notes.nodes, cases[i].nodes, "%s", cases[i].text);
    json_strict_notes_free(&notes);
  }
}

/* --- json_strict_number_at ----------------------------------------------- */

Test(json_strict_number_at, finds_numbers_but_not_digits_in_strings) {
  const char *text = "{\"a1\": \"1e999\", \"b\": [1, -1e999, \"-2\\\"3\", 4]}";
  size_t len = strlen(text);

  cr_assert_eq(json_strict_number_at(text, len, 0), 22);
  cr_assert_eq(json_strict_number_at(text, len, 1), 25);
  cr_assert_eq(json_strict_number_at(text, len, 2), 42);
  cr_assert_eq(json_strict_number_at(text, len, 3), len);
  cr_assert_eq(json_strict_number_at("1e400", 5, 0), 0);
}

/* --- json_strict_unescape ------------------------------------------------ */

/* Unescapes the string token at text[0] (measure, then write). */
static size_t unescape(const char *text, char *out) {
  size_t len = strlen(text);
  char *copy = fixture_exact_copy(text, len);
  size_t n = json_strict_unescape(copy, len, 0, NULL);
  size_t m = json_strict_unescape(copy, len, 0, out);

  cr_assert_eq(n, m, "measuring and writing agree for %s", text);
  free(copy);
  return n;
}

Test(json_strict_unescape, decodes_every_escape) {
  char out[64];
  size_t n;

  n = unescape("\"a\\u0000b\"", out);
  cr_assert_eq(n, 3);
  cr_assert_eq(memcmp(out, "a\0b", 3), 0);
  n = unescape("\"\\\"\\\\\\/\\b\\f\\n\\r\\t\"", out);
  cr_assert_eq(n, 8);
  cr_assert_eq(memcmp(out, "\"\\/\b\f\n\r\t", 8), 0);
  n = unescape("\"\\u00e9\\u65E5\\ud83d\\ude00\\u0041\"", out);
  cr_assert_eq(n, 2 + 3 + 4 + 1);
  cr_assert_eq(memcmp(out,
                      "\xc3\xa9\xe6\x97\xa5\xf0\x9f\x98\x80"
                      "A",
                      10),
               0);
  n = unescape("\"raw \xe6\x97\xa5\"", out);
  cr_assert_eq(n, 7);
  cr_assert_eq(unescape("\"\"", out), 0);
  n = unescape("\"\\u0000\"", out);
  cr_assert_eq(n, 1);
  cr_assert_eq(out[0], '\0');
  n = unescape("\"\\u007f\\u0080\\u07ff\\u0800\\uffff\\udbff\\udfff\"", out);
  cr_assert_eq(n, 1 + 2 + 2 + 3 + 3 + 4);
  cr_assert_eq(memcmp(out,
                      "\x7f\xc2\x80\xdf\xbf\xe0\xa0\x80\xef\xbf\xbf"
                      "\xf4\x8f\xbf\xbf",
                      n),
               0);
}

Test(json_strict_unescape, agrees_with_cjson_on_strings_it_can_hold) {
  const char *texts[] = {
      "\"plain\"",           "\"\\n\\t\\\"\"",
      "\"\\u00e9x\\u20ac\"", "\"\\ud834\\udd1e and \\uD83D\\uDE00\"",
      "\"\\/\\b\\f\"",       "\"\xf0\x9f\x98\x80 raw\""};

  for (size_t i = 0; i < sizeof(texts) / sizeof(*texts); i++) {
    char out[64];
    cJSON *root = cJSON_Parse(texts[i]);
    size_t n = unescape(texts[i], out);

    cr_assert_not_null(root);
    cr_assert_eq(n, strlen(root->valuestring), "%s", texts[i]);
    cr_assert_eq(memcmp(out, root->valuestring, n), 0, "%s", texts[i]);
    cJSON_Delete(root);
  }
}

/* --- Reader and cJSON agree ---------------------------------------------- */

/* A pseudo-random mutation of doc: deterministic, no libc rand state. */
static size_t mutate(const char *from, size_t len, char *to, uint32_t *seed) {
  static const char alphabet[] = "[]{}\",:\\/-+.eE0123456789 \ntrufalsn\x7f"
                                 "\xc3\xa9\xff";
  size_t n = len;

  memcpy(to, from, len);
  for (int k = 0; k < 3; k++) {
    *seed = *seed * 1103515245u + 12345u;
    size_t at = (*seed >> 8) % (n + 1);
    char c = alphabet[(*seed >> 20) % (sizeof(alphabet) - 1)];

    if ((*seed & 3) == 0 && at < n) {
      memmove(to + at, to + at + 1, n - at - 1);
      n--;
    } else if ((*seed & 3) == 1 && at < n) {
      to[at] = c;
    } else {
      memmove(to + at + 1, to + at, n - at);
      to[at] = c;
      n++;
    }
  }
  return n;
}

Test(json_strict_read, what_it_accepts_cjson_parses_to_the_end) {
  uint32_t seed = 12345;
  char buf[sizeof(doc) + 8];
  size_t accepted = 0;

  for (int i = 0; i < 20000; i++) {
    size_t n = mutate(doc, strlen(doc), buf, &seed);
    json_strict_notes notes = {0};
    read_result r = read_len(
        buf, n, 0, 8, JSON_STRICT_LONG_NUMBERS | JSON_STRICT_WHOLE, &notes);

    if (r.rc != JSON_STRICT_OK)
      cr_assert_leq(r.at, n);
    if (r.rc == JSON_STRICT_OK) {
      const char *end = NULL;
      char *copy = fixture_exact_copy(buf, n);
      cJSON *root = cJSON_ParseWithLengthOpts(copy, n, &end, 0);

      cr_assert_not_null(root, "%.*s", (int)n, buf);
      while (end < copy + n && strchr(" \t\r\n", *end) != NULL)
        end++;
      cr_assert_eq(end, copy + n, "%.*s", (int)n, buf);
      accepted++;
      cJSON_Delete(root);
      free(copy);
    }
    json_strict_notes_free(&notes);
  }
  cr_assert_gt(accepted, 100, "the mutations still reach good text");
}

/* --- json_walk ----------------------------------------------------------- */

/* Walks text (read with notes, parsed by cJSON) and writes one letter per
 * step into trace: K key, S scalar (i integer, f float, n holds NUL), O
 * open, C close with its count. */
static void walk_trace(const char *text, char *trace, size_t cap) {
  json_strict_notes notes = {0};
  read_result r = read_len(text, strlen(text), 0, 64,
                           JSON_STRICT_NUL | JSON_STRICT_WHOLE, &notes);
  cJSON *root = cJSON_Parse(text);
  json_walk w;
  size_t n = 0;
  int ev;

  cr_assert_eq(r.rc, JSON_STRICT_OK, "%s", text);
  cr_assert_not_null(root);
  json_walk_init(&w, root, &notes);
  while ((ev = json_walk_next(&w)) != JSON_WALK_END) {
    cr_assert_lt(n + 3, cap);
    cr_assert_neq(ev, JSON_WALK_NOMEM);
    if (ev == JSON_WALK_KEY)
      trace[n++] = w.nul_at != (size_t)-1 ? 'k' : 'K';
    else if (ev == JSON_WALK_OPEN)
      trace[n++] = cJSON_IsObject(w.item) ? '{' : '[';
    else if (ev == JSON_WALK_CLOSE)
      n += (size_t)snprintf(trace + n, cap - n, "%zu%c", w.count,
                            cJSON_IsObject(w.item) ? '}' : ']');
    else if (cJSON_IsNumber(w.item))
      trace[n++] = w.is_int ? 'i' : 'f';
    else if (cJSON_IsString(w.item))
      trace[n++] = w.nul_at != (size_t)-1 ? 'n' : 's';
    else
      trace[n++] = 'x';
  }
  trace[n] = '\0';
  cr_assert_eq(json_walk_next(&w), JSON_WALK_END, "END again");
  json_walk_free(&w);
  cJSON_Delete(root);
  json_strict_notes_free(&notes);
}

Test(json_walk, visits_in_document_order_with_notes_lined_up) {
  char trace[128];

  walk_trace("1", trace, sizeof(trace));
  cr_assert_str_eq(trace, "i");
  walk_trace("[]", trace, sizeof(trace));
  cr_assert_str_eq(trace, "[0]");
  walk_trace("[1, 1.5, \"a\", true, null, [2e0]]", trace, sizeof(trace));
  cr_assert_str_eq(trace, "[ifsxx[f1]6]");
  walk_trace("{\"a\\u0000\": {\"b\": [\"x\\u0000\", 3]}, \"c\": \"\\u0000\","
             " \"d\": {}}",
             trace, sizeof(trace));
  cr_assert_str_eq(trace, "{k{K[ni2]1}Kn"
                          "K{0}3}");
}

Test(json_walk, nul_offsets_point_at_the_tokens) {
  const char *text = "[\"ok\", {\"k\\u0000\": \"v\\u0000\"}]";
  json_strict_notes notes = {0};
  read_result r = read_len(text, strlen(text), 0, 8, JSON_STRICT_NUL, &notes);
  cJSON *root = cJSON_Parse(text);
  size_t seen[2], n = 0;
  json_walk w;
  int ev;

  cr_assert_eq(r.rc, JSON_STRICT_OK);
  json_walk_init(&w, root, &notes);
  while ((ev = json_walk_next(&w)) != JSON_WALK_END)
    if ((ev == JSON_WALK_KEY || ev == JSON_WALK_SCALAR) &&
        w.nul_at != (size_t)-1)
      seen[n++] = w.nul_at;
  cr_assert_eq(n, 2);
  cr_assert_eq(seen[0], 8);
  cr_assert_eq(seen[1], 19);
  json_walk_free(&w);
  cJSON_Delete(root);
  json_strict_notes_free(&notes);
}

Test(json_walk, without_notes_numbers_are_floats) {
  cJSON *root = cJSON_Parse("[1]");
  json_walk w;

  json_walk_init(&w, root, NULL);
  cr_assert_eq(json_walk_next(&w), JSON_WALK_OPEN);
  cr_assert_eq(json_walk_next(&w), JSON_WALK_SCALAR);
  cr_assert_eq(w.is_int, 0);
  cr_assert_eq(json_walk_next(&w), JSON_WALK_CLOSE);
  cr_assert_eq(w.count, 1);
  cr_assert_eq(json_walk_next(&w), JSON_WALK_END);
  json_walk_free(&w);
  cJSON_Delete(root);
}

Test(json_walk, walks_1000_levels_without_recursion) {
  char *text = nested(JSON_STRICT_DEPTH_LIMIT, '[', ']');
  cJSON *root = cJSON_Parse(text);
  json_walk w;
  size_t opens = 0, closes = 0, depth = 0, deepest = 0;
  int ev;

  cr_assert_not_null(root);
  json_walk_init(&w, root, NULL);
  while ((ev = json_walk_next(&w)) != JSON_WALK_END) {
    cr_assert(ev == JSON_WALK_OPEN || ev == JSON_WALK_CLOSE);
    if (ev == JSON_WALK_OPEN && ++depth > deepest)
      deepest = depth;
    if (ev == JSON_WALK_CLOSE) {
      cr_assert_eq(w.count, depth < JSON_STRICT_DEPTH_LIMIT ? 1 : 0);
      depth--;
    }
    opens += ev == JSON_WALK_OPEN;
    closes += ev == JSON_WALK_CLOSE;
  }
  cr_assert_eq(opens, JSON_STRICT_DEPTH_LIMIT);
  cr_assert_eq(closes, JSON_STRICT_DEPTH_LIMIT);
  cr_assert_eq(deepest, JSON_STRICT_DEPTH_LIMIT);
  json_walk_free(&w);
  cJSON_Delete(root);
  free(text);
}
