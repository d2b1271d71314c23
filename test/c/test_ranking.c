/* test_ranking.c - unit tests for ranking.c: the label alphabet, and the
 * FINAL RANKING parser against the llm-council format (provider notes
 * 7.1, test/fixtures/llm_council) and each tolerance it adds: markdown,
 * ")" numbering, trailing explanations, whole-label matching, the last
 * header winning, duplicates, expected subsets, the JSON fallback; and
 * hostile text: prose only, invalid UTF-8, NUL bytes, huge replies. Every
 * text is parsed from an exact-size copy so overreads are caught. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <criterion/criterion.h>

#include "buf.h"
#include "fixtures.h"
#include "ranking.h"

/* --- Helpers ------------------------------------------------------------- */

#define MAX_LABELS 2000

/* "Response A", "Response B", ... built with ranking_label. */
typedef struct label_list {
  char *text[MAX_LABELS];
  const char *ptr[MAX_LABELS];
  size_t n;
} label_list;

static void labels_make(label_list *l, const char *prefix, size_t n) {
  size_t i;

  cr_assert(n <= MAX_LABELS);
  l->n = n;
  for (i = 0; i < n; i++) {
    char tag[RANKING_LABEL_MAX];
    size_t len = strlen(prefix) + RANKING_LABEL_MAX;

    cr_assert_neq(ranking_label(i, tag, sizeof(tag)), 0);
    l->text[i] = malloc(len);
    cr_assert_not_null(l->text[i]);
    snprintf(l->text[i], len, "%s%s", prefix, tag);
    l->ptr[i] = l->text[i];
  }
}

static void labels_free(label_list *l) {
  size_t i;

  for (i = 0; i < l->n; i++)
    free(l->text[i]);
}

/* Parses text[0..len) against "Response A".."Response <n>", expecting
 * all labels (or the given subset). Returns ranking_parse's value. */
static int parse_n(const char *text, size_t len, size_t n,
                   const size_t *expected, size_t n_expected,
                   ranking_result *r) {
  char *copy = fixture_exact_copy(text, len);
  label_list l;
  int rc;

  labels_make(&l, "Response ", n);
  rc = ranking_parse(copy, len, l.ptr, l.n, expected, n_expected, r);
  labels_free(&l);
  free(copy);
  return rc;
}

static int parse3(const char *text, ranking_result *r) {
  return parse_n(text, strlen(text), 3, NULL, 0, r);
}

static void assert_order(const ranking_result *r, const size_t *want,
                         size_t n) {
  size_t i;

  cr_assert_eq(r->n_order, n, "n_order %zu, want %zu", r->n_order, n);
  for (i = 0; i < n; i++)
    cr_assert_eq(r->order[i], want[i], "order[%zu] = %zu, want %zu", i,
                 r->order[i], want[i]);
}

#define ASSERT_ORDER(r, ...)                                                   \
  assert_order(r, (const size_t[]){__VA_ARGS__},                               \
               sizeof((const size_t[]){__VA_ARGS__}) / sizeof(size_t))

static void assert_failed(const ranking_result *r, const char *reason) {
  cr_assert_not_null(r->reason);
  cr_assert_str_eq(r->reason, reason);
}

/* The result of a failure other than "incomplete" holds nothing. */
static void assert_empty_failure(const ranking_result *r, const char *reason) {
  assert_failed(r, reason);
  cr_assert_null(r->order);
  cr_assert_null(r->missing);
  cr_assert_eq(r->n_order, 0);
  cr_assert_eq(r->n_missing, 0);
  cr_assert_eq(r->source, RANKING_FROM_NONE);
}

/* Expects text to parse to C, A, B from a list, with nothing dropped. */
static void expect_cab(const char *text) {
  ranking_result r;

  cr_assert_eq(parse3(text, &r), 0, "%s: %s", text, r.reason ? r.reason : "");
  cr_assert_null(r.reason);
  cr_assert_eq(r.source, RANKING_FROM_LIST, "%s", text);
  ASSERT_ORDER(&r, 2, 0, 1);
  cr_assert_eq(r.n_missing, 0);
  cr_assert_eq(r.duplicates, 0);
  cr_assert_eq(r.unknown, 0);
  cr_assert_eq(r.unexpected, 0);
  ranking_result_free(&r);
}

static void expect_unparseable(const char *text, size_t len) {
  ranking_result r;

  cr_assert_eq(parse_n(text, len, 3, NULL, 0, &r), -1);
  assert_empty_failure(&r, "unparseable");
}

#define EXPECT_UNPARSEABLE(lit) expect_unparseable(lit, sizeof(lit) - 1)

static char *load(const char *name, size_t *len) {
  char path[128];

  snprintf(path, sizeof(path), "llm_council/%s", name);
  return fixture_load(path, len);
}

/* --- Labels -------------------------------------------------------------- */

static void expect_label(size_t index, const char *want) {
  char out[RANKING_LABEL_MAX];

  cr_assert_eq(ranking_label(index, out, sizeof(out)), strlen(want));
  cr_assert_str_eq(out, want, "index %zu", index);
}

Test(ranking_label, bijective_base_26) {
  expect_label(0, "A");
  expect_label(1, "B");
  expect_label(25, "Z");
  expect_label(26, "AA");
  expect_label(27, "AB");
  expect_label(51, "AZ");
  expect_label(52, "BA");
  expect_label(701, "ZZ");
  expect_label(702, "AAA");
  expect_label(18277, "ZZZ");
  expect_label(18278, "AAAA");
}

Test(ranking_label, distinct_and_in_shortlex_order) {
  char prev[RANKING_LABEL_MAX] = "", cur[RANKING_LABEL_MAX];
  size_t i, plen = 0, clen;

  for (i = 0; i < 20000; i++) {
    clen = ranking_label(i, cur, sizeof(cur));
    cr_assert(clen > plen || (clen == plen && strcmp(cur, prev) > 0),
              "%s after %s", cur, prev);
    memcpy(prev, cur, clen + 1);
    plen = clen;
  }
}

Test(ranking_label, buffer_limits) {
  char out[RANKING_LABEL_MAX];
  char small[2];

  cr_assert_eq(ranking_label(26, small, sizeof(small)), 0);
  cr_assert_eq(ranking_label(26, out, 2), 0);
  cr_assert_eq(ranking_label(26, out, 3), 2);
  cr_assert_str_eq(out, "AA");
  cr_assert_eq(ranking_label(0, NULL, 10), 0);
  cr_assert_eq(ranking_label(0, small, sizeof(small)), 1);
  cr_assert_str_eq(small, "A");
  /* The largest index still fits RANKING_LABEL_MAX. */
  cr_assert_neq(ranking_label(SIZE_MAX, out, sizeof(out)), 0);
  cr_assert(strspn(out, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") == strlen(out));
}

/* --- The llm-council format ---------------------------------------------- */

Test(ranking_parse, llm_council_example_format) {
  expect_cab("FINAL RANKING:\n1. Response C\n2. Response A\n3. Response B");
  expect_cab("Response A is weak. Response B is fine.\n\n"
             "FINAL RANKING:\n1. Response C\n2. Response A\n3. Response B\n");
}

Test(ranking_parse, llm_council_fixtures) {
  static const struct {
    const char *file;
    size_t order[3];
  } cases[] = {{"karpathy_m1.txt", {2, 0, 1}},
               {"karpathy_m2.txt", {2, 1, 0}},
               {"karpathy_m3.txt", {0, 2, 1}}};
  size_t i;

  for (i = 0; i < 3; i++) {
    ranking_result r;
    size_t len;
    char *text = load(cases[i].file, &len);

    cr_assert_eq(parse_n(text, len, 3, NULL, 0, &r), 0, "%s", cases[i].file);
    assert_order(&r, cases[i].order, 3);
    ranking_result_free(&r);
    free(text);
  }
}

Test(ranking_parse, markdown_fixture_with_ab_and_a) {
  /* Labels A..AB; the reply ranks B, A, AB and owns the rest. */
  size_t expected[] = {0, 1, 27};
  ranking_result r;
  size_t len;
  char *text = load("markdown_reply.txt", &len);

  cr_assert_eq(parse_n(text, len, 28, expected, 3, &r), 0, "%s",
               r.reason ? r.reason : "");
  ASSERT_ORDER(&r, 1, 0, 27);
  cr_assert_eq(r.source, RANKING_FROM_LIST);
  cr_assert_eq(r.unknown, 0);
  ranking_result_free(&r);
  free(text);
}

Test(ranking_parse, header_tolerances) {
  static const char *const headers[] = {
      "FINAL RANKING:",         "final ranking:",     "Final Ranking:",
      "**FINAL RANKING:**",     "**Final ranking**:", "## Final ranking:",
      "### **FINAL RANKING:**", "> FINAL RANKING:",   "  FINAL  RANKING :",
      "__FINAL RANKING:__",     "`FINAL RANKING:`",   "FINAL\tRANKING:",
  };
  size_t i;

  for (i = 0; i < sizeof(headers) / sizeof(headers[0]); i++) {
    char text[256];

    snprintf(text, sizeof(text),
             "Some evaluation.\n%s\n1. Response C\n2. Response A\n"
             "3. Response B\n",
             headers[i]);
    expect_cab(text);
  }
}

Test(ranking_parse, item_tolerances) {
  expect_cab("FINAL RANKING:\n1. **Response C**\n2. **Response A**\n"
             "3. **Response B**");
  expect_cab("FINAL RANKING:\n1. `Response C`\n2. *Response A*\n"
             "3. _Response B_");
  expect_cab("FINAL RANKING:\n1) Response C\n2) Response A\n3) Response B");
  expect_cab("FINAL RANKING:\n**1.** Response C\n**2.** Response A\n"
             "**3.** Response B");
  expect_cab("FINAL RANKING:\n1. Response C - best\n2. Response A: decent\n"
             "3. Response B (weakest)");
  expect_cab("FINAL RANKING:\n1.Response C\n2.Response A\n3.Response B");
  expect_cab("FINAL RANKING:\n1. [Response C]\n2. \"Response A\"\n"
             "3. (Response B)");
  expect_cab("FINAL RANKING:\n  1. Response C\n  2. Response A\n"
             "  3. Response B");
  expect_cab("FINAL RANKING:\r\n1. Response C\r\n2. Response A\r\n"
             "3. Response B\r\n");
  /* An em dash (U+2014) and a curly quote (U+2019) end a label. */
  expect_cab("FINAL RANKING:\n1. Response C\xe2\x80\x94the best\n"
             "2. Response A\xe2\x80\x99s answer\n3. Response B");
  expect_cab("FINAL RANKING: 1. Response C\n2. Response A\n3. Response B");
  expect_cab("FINAL RANKING:\n\n1. Response C\n\n2. Response A\n\n"
             "3. Response B\n\n");
  expect_cab("FINAL RANKING:\n10. Response C\n11. Response A\n"
             "12. Response B");
}

Test(ranking_parse, numbers_are_not_reordered) {
  /* Textual order counts, as in llm-council. */
  ranking_result r;

  cr_assert_eq(parse3("FINAL RANKING:\n2. Response A\n1. Response C\n"
                      "3. Response B",
                      &r),
               0);
  ASSERT_ORDER(&r, 0, 2, 1);
  ranking_result_free(&r);
}

Test(ranking_parse, whole_label_match) {
  /* With 28 labels, "Response AB" is AB (index 27), not A. */
  ranking_result r;
  const char *text = "FINAL RANKING:\n1. Response AB\n2. Response A\n";
  size_t expected[] = {0, 27};

  cr_assert_eq(parse_n(text, strlen(text), 28, expected, 2, &r), 0);
  ASSERT_ORDER(&r, 27, 0);
  ranking_result_free(&r);

  /* With only A..C, "Response AB" is unknown rather than A. */
  cr_assert_eq(parse3("FINAL RANKING:\n1. Response AB\n2. Response C\n"
                      "3. Response B\n",
                      &r),
               -1);
  assert_failed(&r, "incomplete");
  ASSERT_ORDER(&r, 2, 1);
  cr_assert_eq(r.unknown, 1);
  cr_assert_eq(r.n_missing, 1);
  cr_assert_eq(r.missing[0], 0);
  ranking_result_free(&r);

  /* Letters and digits glued to a label make it another word. */
  cr_assert_eq(parse3("FINAL RANKING:\n1. Response Ab\n2. Response A1\n"
                      "3. Response A\xc3\xa9\n4. response A\n"
                      "5. Response A\n",
                      &r),
               -1);
  cr_assert_eq(r.unknown, 4);
  ASSERT_ORDER(&r, 0);
  ranking_result_free(&r);
}

Test(ranking_parse, last_header_wins) {
  ranking_result r;

  cr_assert_eq(parse3("FINAL RANKING:\n1. Response A\n2. Response B\n"
                      "3. Response C\n\nOn reflection:\n\n"
                      "final ranking:\n1. Response C\n2. Response A\n"
                      "3. Response B\n",
                      &r),
               0);
  ASSERT_ORDER(&r, 2, 0, 1);
  ranking_result_free(&r);
}

Test(ranking_parse, a_later_header_without_a_list_is_passed_over) {
  /* The prose line "Final ranking: ..." is a header without a list, so
   * the list under the earlier header stands. */
  ranking_result r;

  cr_assert_eq(parse3("FINAL RANKING:\n1. Response C\n2. Response A\n"
                      "3. Response B\n\nFinal ranking: as above, C leads.\n",
                      &r),
               0);
  ASSERT_ORDER(&r, 2, 0, 1);
  ranking_result_free(&r);
}

Test(ranking_parse, sections_do_not_leak) {
  /* The first list is incomplete; the second header's list is complete
   * and is the one read, without the first one's items. */
  ranking_result r;

  cr_assert_eq(parse3("FINAL RANKING:\n1. Response B\n"
                      "FINAL RANKING:\n1. Response C\n2. Response A\n"
                      "3. Response B\n",
                      &r),
               0);
  ASSERT_ORDER(&r, 2, 0, 1);
  cr_assert_eq(r.duplicates, 0);
  ranking_result_free(&r);

  /* And the other way round: the last list is used even if incomplete. */
  cr_assert_eq(parse3("FINAL RANKING:\n1. Response C\n2. Response A\n"
                      "3. Response B\nFINAL RANKING:\n1. Response B\n",
                      &r),
               -1);
  assert_failed(&r, "incomplete");
  ASSERT_ORDER(&r, 1);
  ranking_result_free(&r);
}

Test(ranking_parse, header_must_start_a_line) {
  EXPECT_UNPARSEABLE("Here is my final ranking: 1. Response C 2. Response A "
                     "3. Response B");
  EXPECT_UNPARSEABLE("Here is my final ranking:\n- Response C\n"
                     "- Response A\n- Response B\n");
  EXPECT_UNPARSEABLE("FINALRANKING:\n1. Response C\n2. Response A\n"
                     "3. Response B\n");
  EXPECT_UNPARSEABLE("FINAL RANKING\n1. Response C\n2. Response A\n"
                     "3. Response B\n");
}

Test(ranking_parse, missing_labels_are_incomplete) {
  ranking_result r;

  cr_assert_eq(parse3("FINAL RANKING:\n1. Response C\n2. Response A\n", &r),
               -1);
  assert_failed(&r, "incomplete");
  cr_assert_eq(r.source, RANKING_FROM_LIST);
  ASSERT_ORDER(&r, 2, 0);
  cr_assert_eq(r.n_missing, 1);
  cr_assert_eq(r.missing[0], 1);
  ranking_result_free(&r);
}

Test(ranking_parse, expected_subset) {
  /* Judge B did not see its own response. */
  size_t expected[] = {0, 2, 3};
  const char *ok = "FINAL RANKING:\n1. Response C\n2. Response A\n"
                   "3. Response D\n";
  const char *with_own = "FINAL RANKING:\n1. Response B\n2. Response C\n"
                         "3. Response A\n4. Response D\n";
  const char *short_one = "FINAL RANKING:\n1. Response C\n2. Response A\n";
  ranking_result r;

  cr_assert_eq(parse_n(ok, strlen(ok), 4, expected, 3, &r), 0);
  ASSERT_ORDER(&r, 2, 0, 3);
  ranking_result_free(&r);

  cr_assert_eq(parse_n(with_own, strlen(with_own), 4, expected, 3, &r), 0);
  ASSERT_ORDER(&r, 2, 0, 3);
  cr_assert_eq(r.unexpected, 1);
  ranking_result_free(&r);

  cr_assert_eq(parse_n(short_one, strlen(short_one), 4, expected, 3, &r), -1);
  assert_failed(&r, "incomplete");
  cr_assert_eq(r.n_missing, 1);
  cr_assert_eq(r.missing[0], 3);
  ranking_result_free(&r);
}

Test(ranking_parse, duplicates_keep_the_first_place) {
  ranking_result r;

  cr_assert_eq(parse3("FINAL RANKING:\n1. Response C\n2. Response C\n"
                      "3. Response A\n4. Response C\n5. Response B\n",
                      &r),
               0);
  ASSERT_ORDER(&r, 2, 0, 1);
  cr_assert_eq(r.duplicates, 2);
  ranking_result_free(&r);
}

Test(ranking_parse, unknown_items_are_counted_not_fatal) {
  ranking_result r;

  cr_assert_eq(parse3("FINAL RANKING:\n1. Response C\n2. Response A\n"
                      "3. Response B\n4. Response Q\n5. None of them\n",
                      &r),
               0);
  ASSERT_ORDER(&r, 2, 0, 1);
  cr_assert_eq(r.unknown, 2);
  ranking_result_free(&r);
}

Test(ranking_parse, list_extent) {
  ranking_result r;

  /* Indented continuation lines and blank lines stay inside the list. */
  expect_cab("FINAL RANKING:\n1. Response C\n   Clear and complete.\n\n"
             "2. Response A\n\tGood, but terse.\n3. Response B\n");
  /* A trailing {"confidence": ...} line (self-reported confidence) ends
   * the list without harm. */
  expect_cab("FINAL RANKING:\n1. Response C\n2. Response A\n3. Response B\n"
             "{\"confidence\": 0.8}\n");
  /* Prose at the margin ends the list: the rest is not guessed. */
  cr_assert_eq(parse3("FINAL RANKING:\n1. Response C\nThen:\n"
                      "2. Response A\n3. Response B\n",
                      &r),
               -1);
  assert_failed(&r, "incomplete");
  ASSERT_ORDER(&r, 2);
  ranking_result_free(&r);
  /* A numbered list naming no label (criteria) is skipped for the next. */
  expect_cab("FINAL RANKING:\nCriteria:\n1. Accuracy\n2. Clarity\n"
             "Ranking:\n1. Response C\n2. Response A\n3. Response B\n");
  /* Decimals are not list items. */
  expect_cab("FINAL RANKING:\n1.5 points apart.\n1. Response C\n"
             "2. Response A\n3. Response B\n");
}

/* --- JSON fallback ------------------------------------------------------- */

static void expect_json_cab(const char *text) {
  ranking_result r;

  cr_assert_eq(parse3(text, &r), 0, "%s: %s", text, r.reason ? r.reason : "");
  cr_assert_eq(r.source, RANKING_FROM_JSON, "%s", text);
  ASSERT_ORDER(&r, 2, 0, 1);
  ranking_result_free(&r);
}

Test(ranking_json, object_and_array) {
  expect_json_cab("{\"ranking\": [\"Response C\", \"Response A\", "
                  "\"Response B\"]}");
  expect_json_cab("  [\"Response C\",\"Response A\",\"Response B\"]\n");
  expect_json_cab("{\"ranking\": [\"Response C\", \"Response A\", "
                  "\"Response B\"], \"confidence\": 0.7, \"why\": {}}");
}

Test(ranking_json, fenced) {
  expect_json_cab("My evaluation follows.\n```json\n{\"ranking\": "
                  "[\"Response C\", \"Response A\", \"Response B\"]}\n```\n"
                  "Thanks.");
  expect_json_cab("```\n[\"Response C\", \"Response A\", \"Response B\"]\n"
                  "```");
  expect_json_cab("```JSON\n[\"Response C\", \"Response A\", "
                  "\"Response B\"]\n```");
  /* The last fence wins; a python fence is not JSON. */
  expect_json_cab("```json\n[\"Response A\", \"Response B\", "
                  "\"Response C\"]\n```\nCorrected:\n```json\n"
                  "[\"Response C\", \"Response A\", \"Response B\"]\n```\n"
                  "```python\n[\"Response B\"]\n```\n");
  /* A reply cut off before the closing fence. */
  expect_json_cab("```json\n{\"ranking\": [\"Response C\", \"Response A\", "
                  "\"Response B\"]}\n");
}

Test(ranking_json, counts_and_incomplete) {
  ranking_result r;

  cr_assert_eq(parse3("[\"Response C\", 3, null, \"C\", \"Response C\", "
                      "\"Response A\"]",
                      &r),
               -1);
  assert_failed(&r, "incomplete");
  cr_assert_eq(r.source, RANKING_FROM_JSON);
  ASSERT_ORDER(&r, 2, 0);
  cr_assert_eq(r.unknown, 3);
  cr_assert_eq(r.duplicates, 1);
  cr_assert_eq(r.missing[0], 1);
  ranking_result_free(&r);
}

Test(ranking_json, a_list_beats_json) {
  ranking_result r;

  cr_assert_eq(parse3("[\"Response A\"]\nFINAL RANKING:\n1. Response C\n"
                      "2. Response A\n3. Response B\n",
                      &r),
               0);
  cr_assert_eq(r.source, RANKING_FROM_LIST);
  ranking_result_free(&r);
}

Test(ranking_json, not_a_ranking) {
  EXPECT_UNPARSEABLE("{\"order\": [\"Response C\"]}");
  EXPECT_UNPARSEABLE("{\"ranking\": \"Response C, Response A\"}");
  EXPECT_UNPARSEABLE("{\"ranking\": []}");
  EXPECT_UNPARSEABLE("[1, 2, 3]");
  EXPECT_UNPARSEABLE("{\"ranking\": [\"Response C\", \"Response A\"");
  EXPECT_UNPARSEABLE("[\"Response C\"] trailing words");
  EXPECT_UNPARSEABLE("I'd say [\"Response C\", \"Response A\"]");
  EXPECT_UNPARSEABLE("[\"Response C\"]\0[]");
  EXPECT_UNPARSEABLE("```json\n[\"Response C\",\0 \"Response A\"]\n```");
  EXPECT_UNPARSEABLE("```python\n[\"Response C\", \"Response A\", "
                     "\"Response B\"]\n```");
}

/* --- Hostile text -------------------------------------------------------- */

Test(ranking_hostile, prose_order_is_never_guessed) {
  EXPECT_UNPARSEABLE("Response A is good, Response B is better, "
                     "Response C is best.");
  EXPECT_UNPARSEABLE("FINAL RANKING:\nResponse C, then Response A, then "
                     "Response B.");
  EXPECT_UNPARSEABLE("FINAL RANKING:\n- Response C\n- Response A\n"
                     "- Response B\n");
  EXPECT_UNPARSEABLE("FINAL RANKING:\n");
  EXPECT_UNPARSEABLE("garbage \x01\x02\x7f ### *** ``` 1. 2. 3.");
  EXPECT_UNPARSEABLE("");
}

Test(ranking_hostile, null_or_empty_text) {
  label_list l;
  ranking_result r;

  labels_make(&l, "Response ", 3);
  cr_assert_eq(ranking_parse(NULL, 0, l.ptr, 3, NULL, 0, &r), -1);
  assert_empty_failure(&r, "unparseable");
  cr_assert_eq(ranking_parse(NULL, 10, l.ptr, 3, NULL, 0, &r), -1);
  assert_empty_failure(&r, "unparseable");
  labels_free(&l);
}

Test(ranking_hostile, invalid_utf8) {
  static const char *const bad[] = {
      "FINAL RANKING:\n1. Response C\n2. Response A\n3. Response B\xff",
      "FINAL RANKING:\n1. Response C\xc0\xaf\n2. Response A\n",
      "FINAL RANKING:\n1. Response C\n2. Response A\n3. Response B\xe2\x80",
      "\xed\xa0\x80 FINAL RANKING:\n1. Response C\n",
  };
  size_t i;

  for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    ranking_result r;

    cr_assert_eq(parse3(bad[i], &r), -1);
    assert_empty_failure(&r, "invalid_utf8");
  }
}

Test(ranking_hostile, nul_bytes) {
  static const char text[] = "FINAL RANKING:\n1. Response C\0junk\n"
                             "2. Response A\n3. Response B\0\n";
  static const char lead[] = "Intro\0\nFINAL RANKING:\n1. Response C\n"
                             "2. Response A\n3. Response B";
  ranking_result r;

  /* A NUL is an ordinary non-word byte: it ends the label. */
  cr_assert_eq(parse_n(text, sizeof(text) - 1, 3, NULL, 0, &r), 0);
  ASSERT_ORDER(&r, 2, 0, 1);
  ranking_result_free(&r);
  /* And it does not end the text early. */
  cr_assert_eq(parse_n(lead, sizeof(lead) - 1, 3, NULL, 0, &r), 0);
  ranking_result_free(&r);
}

Test(ranking_hostile, bad_labels) {
  const char *text = "FINAL RANKING:\n1. Response A\n";
  const char *const dup[] = {"Response A", "Response B", "Response A"};
  const char *const empty[] = {"Response A", ""};
  const char *const null_one[] = {"Response A", NULL};
  const char *const bad_utf8[] = {"Response \xff"};
  const char *const one[] = {"Response A"};
  size_t out_of_range[] = {0, 1};
  ranking_result r;

  cr_assert_eq(ranking_parse(text, strlen(text), NULL, 3, NULL, 0, &r), -1);
  assert_empty_failure(&r, "bad_labels");
  cr_assert_eq(ranking_parse(text, strlen(text), one, 0, NULL, 0, &r), -1);
  assert_empty_failure(&r, "bad_labels");
  cr_assert_eq(ranking_parse(text, strlen(text), dup, 3, NULL, 0, &r), -1);
  assert_empty_failure(&r, "bad_labels");
  cr_assert_eq(ranking_parse(text, strlen(text), empty, 2, NULL, 0, &r), -1);
  assert_empty_failure(&r, "bad_labels");
  cr_assert_eq(ranking_parse(text, strlen(text), null_one, 2, NULL, 0, &r), -1);
  assert_empty_failure(&r, "bad_labels");
  cr_assert_eq(ranking_parse(text, strlen(text), bad_utf8, 1, NULL, 0, &r), -1);
  assert_empty_failure(&r, "bad_labels");
  cr_assert_eq(ranking_parse(text, strlen(text), one, 1, out_of_range, 2, &r),
               -1);
  assert_empty_failure(&r, "bad_labels");
  /* A sane call for contrast; freeing twice is harmless. */
  cr_assert_eq(ranking_parse(text, strlen(text), one, 1, NULL, 0, &r), 0);
  ranking_result_free(&r);
  ranking_result_free(&r);
  ranking_result_free(NULL);
}

Test(ranking_hostile, custom_prefix_and_case) {
  const char *const labels[] = {"Candidate X", "Candidate Y"};
  const char *text = "Final Ranking:\n1. Candidate Y\n2. Candidate X\n";
  const char *lower = "Final Ranking:\n1. candidate y\n2. candidate x\n";
  ranking_result r;

  cr_assert_eq(ranking_parse(text, strlen(text), labels, 2, NULL, 0, &r), 0);
  ASSERT_ORDER(&r, 1, 0);
  ranking_result_free(&r);
  /* Labels are matched exactly; these lines name no label. */
  cr_assert_eq(ranking_parse(lower, strlen(lower), labels, 2, NULL, 0, &r), -1);
  assert_empty_failure(&r, "unparseable");
}

static double seconds_since(const struct timespec *t0) {
  struct timespec t1;

  clock_gettime(CLOCK_MONOTONIC, &t1);
  return (double)(t1.tv_sec - t0->tv_sec) +
         (double)(t1.tv_nsec - t0->tv_nsec) / 1e9;
}

/* Repeats unit until b holds at least size bytes. */
static void fill(buf *b, const char *unit, size_t size) {
  while (b->len < size)
    cr_assert_eq(buf_puts(b, unit), 0);
}

Test(ranking_hostile, huge_replies_are_linear) {
  struct timespec t0;
  ranking_result r;
  double secs;
  buf b;

  /* 8 MB of prose naming labels, then the ranking. */
  buf_init(&b, 0);
  fill(&b, "Response A beats Response B but Response AB is close. ", 8u << 20);
  cr_assert_eq(buf_puts(&b, "\nFINAL RANKING:\n1. Response C\n"
                            "2. Response A\n3. Response B\n"),
               0);
  clock_gettime(CLOCK_MONOTONIC, &t0);
  cr_assert_eq(parse_n(b.data, b.len, 3, NULL, 0, &r), 0);
  secs = seconds_since(&t0);
  ASSERT_ORDER(&r, 2, 0, 1);
  ranking_result_free(&r);
  buf_free(&b);
  cr_assert(secs < 2.0, "8 MB took %.3f s", secs);

  /* 4 MB of headers with nothing under them. */
  buf_init(&b, 0);
  fill(&b, "**FINAL RANKING:**\n", 4u << 20);
  clock_gettime(CLOCK_MONOTONIC, &t0);
  cr_assert_eq(parse_n(b.data, b.len, 3, NULL, 0, &r), -1);
  secs = seconds_since(&t0);
  assert_empty_failure(&r, "unparseable");
  buf_free(&b);
  cr_assert(secs < 2.0, "4 MB of headers took %.3f s", secs);

  /* 4 MB of list items naming no label, and of opening fences. */
  buf_init(&b, 0);
  cr_assert_eq(buf_puts(&b, "FINAL RANKING:\n"), 0);
  fill(&b, "1. Response ZZ\n", 4u << 20);
  cr_assert_eq(parse_n(b.data, b.len, 3, NULL, 0, &r), -1);
  assert_empty_failure(&r, "unparseable");
  buf_free(&b);
  buf_init(&b, 0);
  fill(&b, "```json\n[\n```\n", 4u << 20);
  clock_gettime(CLOCK_MONOTONIC, &t0);
  cr_assert_eq(parse_n(b.data, b.len, 3, NULL, 0, &r), -1);
  secs = seconds_since(&t0);
  assert_empty_failure(&r, "unparseable");
  buf_free(&b);
  cr_assert(secs < 2.0, "4 MB of fences took %.3f s", secs);
}

Test(ranking_hostile, deeply_nested_json) {
  buf b;
  ranking_result r;
  size_t i;

  buf_init(&b, 0);
  for (i = 0; i < 100000; i++)
    cr_assert_eq(buf_puts(&b, "["), 0);
  cr_assert_eq(parse_n(b.data, b.len, 3, NULL, 0, &r), -1);
  assert_empty_failure(&r, "unparseable");
  buf_free(&b);
}

Test(ranking_parse, two_thousand_labels) {
  /* A full ranking of 2000 responses, best last-labelled first. */
  label_list l;
  ranking_result r;
  buf b;
  size_t i;

  labels_make(&l, "Response ", 2000);
  buf_init(&b, 0);
  cr_assert_eq(buf_puts(&b, "## Final Ranking:\n"), 0);
  for (i = 0; i < 2000; i++)
    cr_assert_eq(buf_printf(&b, "%zu. **%s**\n", i + 1, l.ptr[1999 - i]), 0);
  cr_assert_eq(ranking_parse(b.data, b.len, l.ptr, l.n, NULL, 0, &r), 0);
  cr_assert_eq(r.n_order, 2000);
  for (i = 0; i < 2000; i++)
    cr_assert_eq(r.order[i], 1999 - i);
  ranking_result_free(&r);
  buf_free(&b);
  labels_free(&l);
}
