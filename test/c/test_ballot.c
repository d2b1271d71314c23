/* test_ballot.c - unit tests for ballot.c: votes (JSON anywhere in the
 * reply, FINAL VOTE: / VOTE: lines, option matching, confidences),
 * pairwise picks (JSON, WINNER: lines, letters, ids, replies naming both);
 * and hostile text throughout:
 * invalid UTF-8, NUL bytes, empty and 1 MB replies. Every text is parsed
 * from an exact-size copy so overreads are caught. */
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <criterion/criterion.h>

#include <cJSON.h>

#include "ballot.h"
#include "confidence.h"
#include "fixtures.h"

/* --- Helpers ------------------------------------------------------------- */

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))
#define S(lit) lit, sizeof(lit) - 1

static const char *const abc[] = {"A", "B", "C"};

/* ballot_parse_vote on an exact copy of text[0..len). */
static int vote_n(const char *text, size_t len, const char *const *options,
                  size_t n, ballot_vote *v) {
  char *copy = fixture_exact_copy(text, len);
  int rc = ballot_parse_vote(copy, len, options, n, v);

  free(copy);
  return rc;
}

/* Parses a NUL-terminated text against A, B, C; expects success with
 * want, and returns nothing (the vote is freed). */
static void expect_vote(const char *text, long want, ballot_source source) {
  ballot_vote v;
  int rc = vote_n(text, strlen(text), abc, COUNT(abc), &v);

  cr_assert_eq(rc, 0, "rc %d (%s) for: %s", rc, v.reason ? v.reason : "", text);
  cr_assert_null(v.reason);
  cr_assert_eq(v.choice, want, "choice %ld, want %ld for: %s", v.choice, want,
               text);
  cr_assert_eq(v.source, source, "source for: %s", text);
  ballot_vote_free(&v);
}

/* Expects failure with reason and choice -1. */
static void expect_vote_fail(const char *text, size_t len, const char *reason) {
  ballot_vote v;
  int rc = vote_n(text, len, abc, COUNT(abc), &v);

  cr_assert_eq(rc, -1, "rc %d for: %.*s", rc, (int)len, text);
  cr_assert_not_null(v.reason);
  cr_assert_str_eq(v.reason, reason, "reason for: %.*s", (int)len, text);
  cr_assert_eq(v.choice, -1);
  cr_assert_null(v.rationale);
  ballot_vote_free(&v);
}

/* The confidence a JSON vote for B with the given "confidence" member
 * text yields; *invalid gets the flag. */
static double vote_confidence(const char *conf_json, int *invalid) {
  char text[256];
  ballot_vote v;
  double c;
  int n = snprintf(text, sizeof(text), "{\"choice\": \"B\"%s%s}",
                   conf_json ? ", \"confidence\": " : "",
                   conf_json ? conf_json : "");

  cr_assert(n > 0 && (size_t)n < sizeof(text));
  cr_assert_eq(vote_n(text, (size_t)n, abc, COUNT(abc), &v), 0, "%s", text);
  cr_assert_eq(v.choice, 1);
  *invalid = v.confidence_invalid;
  c = v.confidence;
  ballot_vote_free(&v);
  return c;
}

/* ballot_parse_pair on an exact copy; returns rc, *winner starts at 42. */
static int pair_n(const char *text, size_t len, const char *a, const char *b,
                  int *winner) {
  char *copy = fixture_exact_copy(text, len);
  int rc;

  *winner = 42;
  rc = ballot_parse_pair(copy, len, a, b, winner);
  free(copy);
  if (rc != 0)
    cr_assert_eq(*winner, 42, "winner changed on failure");
  return rc;
}

static void expect_pair(const char *text, const char *a, const char *b,
                        int want) {
  int w;

  cr_assert_eq(pair_n(text, strlen(text), a, b, &w), 0, "for: %s", text);
  cr_assert_eq(w, want, "winner %d, want %d for: %s", w, want, text);
}

static void expect_no_pair(const char *text, const char *a, const char *b) {
  int w;

  cr_assert_eq(pair_n(text, strlen(text), a, b, &w), -1, "for: %s", text);
}

static double seconds_since(const struct timespec *t0) {
  struct timespec t1;

  clock_gettime(CLOCK_MONOTONIC, &t1);
  return (double)(t1.tv_sec - t0->tv_sec) +
         (double)(t1.tv_nsec - t0->tv_nsec) / 1e9;
}

#define MB (1024 * 1024)

/* --- Votes: JSON --------------------------------------------------------- */

Test(vote_json, whole_reply_with_every_field) {
  static const char text[] =
      "{\"choice\": \"B\", \"rationale\": \"B cites its sources.\", "
      "\"confidence\": 0.8}";
  ballot_vote v;

  cr_assert_eq(vote_n(S(text), abc, 3, &v), 0);
  cr_assert_null(v.reason);
  cr_assert_eq(v.source, BALLOT_FROM_JSON);
  cr_assert_eq(v.choice, 1);
  cr_assert_float_eq(v.confidence, 0.8, 1e-15);
  cr_assert_eq(v.confidence_invalid, 0);
  cr_assert_str_eq(v.rationale, "B cites its sources.");
  ballot_vote_free(&v);
  cr_assert_null(v.rationale);
  cr_assert_eq(v.choice, -1);
}

Test(vote_json, fenced_with_prose_around) {
  expect_vote("Having read all three answers:\n\n```json\n{\"choice\": \"C\"}"
              "\n```\n\nC is the only one that handles the edge case.",
              2, BALLOT_FROM_JSON);
  expect_vote("```JSON\n{\"choice\": \"A\"}\n```", 0, BALLOT_FROM_JSON);
  expect_vote("~~~\n{\"choice\": \"B\"}\n~~~\n", 1, BALLOT_FROM_JSON);
  /* An unclosed fence runs to the end. */
  expect_vote("My vote:\n```json\n{\"choice\": \"B\"}\n", 1, BALLOT_FROM_JSON);
}

Test(vote_json, bare_object_in_prose) {
  expect_vote("I compared them. {\"choice\": \"A\", \"confidence\": 0.6} "
              "That is my vote.",
              0, BALLOT_FROM_JSON);
}

Test(vote_json, citations_and_other_json_before_it_are_skipped) {
  /* "[1]" parses as a JSON array and {"score": 3} as an object; neither
   * holds a choice. */
  expect_vote("As [1] and [2] show, {\"score\": 3} is wrong.\n"
              "{\"choice\": \"C\"}",
              2, BALLOT_FROM_JSON);
  /* A fence without a choice, then one with it. */
  expect_vote("```json\n{\"draft\": true}\n```\n\n```json\n"
              "{\"choice\": \"B\"}\n```",
              1, BALLOT_FROM_JSON);
  /* An invalid fence is passed over too. */
  expect_vote("```json\n{\"choice\": \"A\",}\n```\n{\"choice\": \"C\"}", 2,
              BALLOT_FROM_JSON);
}

Test(vote_json, nested_choice_is_not_a_vote) {
  /* The choice sits inside another object: the object is stepped over
   * whole, so the line decides. */
  expect_vote("{\"example\": {\"choice\": \"A\"}}\nFINAL VOTE: B", 1,
              BALLOT_FROM_LINE);
  expect_vote_fail(S("{\"example\": {\"choice\": \"A\"}}"), "unparseable");
  /* An array holding the object is not a vote either. */
  expect_vote_fail(S("[{\"choice\": \"A\"}]"), "unparseable");
}

Test(vote_json, json_wins_over_a_line) {
  expect_vote("VOTE: B\n{\"choice\": \"A\"}", 0, BALLOT_FROM_JSON);
  expect_vote("{\"choice\": \"A\"}\nFINAL VOTE: C", 0, BALLOT_FROM_JSON);
}

Test(vote_json, unknown_choice_does_not_fall_back_to_the_line) {
  expect_vote_fail(S("{\"choice\": \"D\"}\nFINAL VOTE: B"), "unknown_choice");
  expect_vote_fail(S("{\"choice\": \"\"}"), "unknown_choice");
  expect_vote_fail(S("{\"choice\": \"B because it is right\"}"),
                   "unknown_choice");
}

Test(vote_json, choice_of_another_type) {
  expect_vote_fail(S("{\"choice\": 1}"), "unknown_choice");
  expect_vote_fail(S("{\"choice\": null}"), "unknown_choice");
  expect_vote_fail(S("{\"choice\": [\"A\"]}"), "unknown_choice");
  expect_vote_fail(S("{\"choice\": {\"id\": \"A\"}}"), "unknown_choice");
  expect_vote_fail(S("{\"choice\": true}"), "unknown_choice");
}

Test(vote_json, repeated_choice_is_refused) {
  /* Decoders disagree on which duplicate counts. */
  expect_vote_fail(S("{\"choice\": \"A\", \"choice\": \"B\"}"),
                   "unknown_choice");
  expect_vote_fail(S("{\"choice\": \"A\", \"choice\": \"A\"}"),
                   "unknown_choice");
}

Test(vote_json, choice_matched_loosely) {
  expect_vote("{\"choice\": \"  b. \"}", 1, BALLOT_FROM_JSON);
  expect_vote("{\"choice\": \"**C**\"}", 2, BALLOT_FROM_JSON);
  expect_vote("{\"choice\": \"'a'\"}", 0, BALLOT_FROM_JSON);
  /* Escapes decode before matching. */
  expect_vote("{\"choice\": \"\\u0042\"}", 1, BALLOT_FROM_JSON);
}

Test(vote_json, confidences) {
  int bad = -1;

  cr_assert_float_eq(vote_confidence("0", &bad), 0.0, 0);
  cr_assert_eq(bad, 0);
  cr_assert_float_eq(vote_confidence("1", &bad), 1.0, 0);
  cr_assert_float_eq(vote_confidence("1.0", &bad), 1.0, 0);
  cr_assert_float_eq(vote_confidence("0.25", &bad), 0.25, 0);
  cr_assert_float_eq(vote_confidence("5e-1", &bad), 0.5, 0);
  cr_assert_eq(bad, 0);
  /* A string holding a number is taken. */
  cr_assert_float_eq(vote_confidence("\"0.8\"", &bad), 0.8, 1e-15);
  cr_assert_eq(bad, 0);
  cr_assert_float_eq(vote_confidence("\"1\"", &bad), 1.0, 0);
  /* -0 is 0, with a positive sign. */
  cr_assert(!signbit(vote_confidence("-0.0", &bad)));
  cr_assert_eq(bad, 0);
}

Test(vote_json, confidence_absent_or_null) {
  int bad = -1;

  cr_assert(isnan(vote_confidence(NULL, &bad)));
  cr_assert_eq(bad, 0);
  cr_assert(isnan(vote_confidence("null", &bad)));
  cr_assert_eq(bad, 0);
}

Test(vote_json, unusable_confidence_is_nan_and_flagged) {
  static const char *const bad_values[] = {
      "80",       "\"80%\"",   "\"80\"",     "-0.1",         "1.0000001",
      "1e400",    "-1e400",    "true",       "false",        "\"\"",
      "\" 0.8\"", "\"0.8 \"",  "\"0x1p-1\"", "\"inf\"",      "\"NaN\"",
      "\".5\"",   "\"0.8.1\"", "[0.8]",      "{\"v\": 0.8}", "\"high\""};
  size_t i;

  for (i = 0; i < COUNT(bad_values); i++) {
    int bad = 0;
    double c = vote_confidence(bad_values[i], &bad);

    cr_assert(isnan(c), "%s gave %g", bad_values[i], c);
    cr_assert_eq(bad, 1, "%s not flagged", bad_values[i]);
  }
}

Test(vote_json, repeated_confidence_is_flagged) {
  static const char text[] =
      "{\"choice\": \"A\", \"confidence\": 0.2, \"confidence\": 0.9}";
  ballot_vote v;

  cr_assert_eq(vote_n(S(text), abc, 3, &v), 0);
  cr_assert(isnan(v.confidence));
  cr_assert_eq(v.confidence_invalid, 1);
  ballot_vote_free(&v);
}

Test(vote_json, rationale_only_as_a_string) {
  ballot_vote v;

  cr_assert_eq(vote_n(S("{\"choice\": \"A\", \"rationale\": 42}"), abc, 3, &v),
               0);
  cr_assert_null(v.rationale);
  ballot_vote_free(&v);
  cr_assert_eq(vote_n(S("{\"choice\": \"A\", \"rationale\": "
                        "\"line\\nbreak \\u00e9\"}"),
                      abc, 3, &v),
               0);
  cr_assert_str_eq(v.rationale, "line\nbreak \xc3\xa9");
  ballot_vote_free(&v);
}

Test(vote_json, raw_nul_inside_the_object_is_not_json) {
  static const char text[] = "{\"choice\": \"A\0\"}\nVOTE: C";

  expect_vote_fail(S("{\"choice\": \"A\0\"}"), "unparseable");
  {
    ballot_vote v;

    cr_assert_eq(vote_n(S(text), abc, 3, &v), 0);
    cr_assert_eq(v.choice, 2);
    cr_assert_eq(v.source, BALLOT_FROM_LINE);
    ballot_vote_free(&v);
  }
}

/* --- Votes: lines -------------------------------------------------------- */

Test(vote_line, header_variants) {
  static const char *const texts[] = {
      "FINAL VOTE: B",
      "final vote: b",
      "Final Vote: B.",
      "VOTE: B",
      "vote:B",
      "**FINAL VOTE:** **B**",
      "**Final vote**: B",
      "## Final Vote: `B`",
      "> VOTE: [B]",
      "FINAL VOTE: \"B\"",
      "FINAL VOTE: 'B'",
      "FINAL VOTE: \xe2\x80\x9c"
      "B\xe2\x80\x9d",
      "FINAL  VOTE:   B   ",
      "FINAL VOTE: B\r",
      "   FINAL VOTE: *B*",
  };
  size_t i;

  for (i = 0; i < COUNT(texts); i++)
    expect_vote(texts[i], 1, BALLOT_FROM_LINE);
}

Test(vote_line, after_prose_with_trailing_text) {
  expect_vote("All three answers are close.\n\nA misses the edge case; C "
              "is verbose.\n\nFINAL VOTE: B\n\nThanks for reading!",
              1, BALLOT_FROM_LINE);
}

Test(vote_line, last_header_wins) {
  expect_vote("VOTE: A\nOn reflection...\nFINAL VOTE: C\n", 2,
              BALLOT_FROM_LINE);
  expect_vote("FINAL VOTE: C\nVOTE: A", 0, BALLOT_FROM_LINE);
  /* The last one with a value: an empty header at the end is passed. */
  expect_vote("VOTE: A\nVOTE:", 0, BALLOT_FROM_LINE);
  expect_vote("VOTE: A\nVOTE: **", 0, BALLOT_FROM_LINE);
  /* But an unknown last value is not: the last vote is the vote. */
  expect_vote_fail(S("VOTE: A\nVOTE: D"), "unknown_choice");
}

Test(vote_line, value_on_the_next_line) {
  expect_vote("FINAL VOTE:\n\n   **C**\nbecause it is complete", 2,
              BALLOT_FROM_LINE);
  expect_vote("**Final vote:**\nA", 0, BALLOT_FROM_LINE);
  /* A header right after is its own vote, not the first one's value. */
  expect_vote("VOTE:\nVOTE: B", 1, BALLOT_FROM_LINE);
}

Test(vote_line, not_headers) {
  expect_vote_fail(S("I vote: B"), "unparseable");
  expect_vote_fail(S("VOTE B"), "unparseable");
  expect_vote_fail(S("VOTES: B"), "unparseable");
  expect_vote_fail(S("FINALVOTE: B"), "unparseable");
  expect_vote_fail(S("FINAL RANKING: B"), "unparseable");
  expect_vote_fail(S("VOTE:"), "unparseable");
  expect_vote_fail(S("VOTE:\n\n\n"), "unparseable");
  expect_vote_fail(S("I prefer B, it is the best answer."), "unparseable");
}

Test(vote_line, extra_words_are_unknown) {
  expect_vote_fail(S("FINAL VOTE: B, because it is right"), "unknown_choice");
  expect_vote_fail(S("FINAL VOTE: Response B"), "unknown_choice");
  expect_vote_fail(S("FINAL VOTE: D"), "unknown_choice");
  expect_vote_fail(S("FINAL VOTE: A or B"), "unknown_choice");
  expect_vote_fail(S("FINAL VOTE: ."), "unparseable");
}

Test(vote_line, member_ids_as_options) {
  static const char *const ids[] = {"gpt-4o", "claude-3.5-sonnet", "gemini"};
  ballot_vote v;

  cr_assert_eq(vote_n(S("FINAL VOTE: Claude-3.5-Sonnet."), ids, 3, &v), 0);
  cr_assert_eq(v.choice, 1);
  ballot_vote_free(&v);
  cr_assert_eq(vote_n(S("VOTE: `GPT-4O`"), ids, 3, &v), 0);
  cr_assert_eq(v.choice, 0);
  ballot_vote_free(&v);
  cr_assert_eq(vote_n(S("VOTE: gpt-4"), ids, 3, &v), -1);
  cr_assert_str_eq(v.reason, "unknown_choice");
  ballot_vote_free(&v);
}

Test(vote_line, exact_before_case_and_ambiguity) {
  static const char *const opts[] = {"yes", "Yes", "no"};
  static const char *const dotted[] = {"Plan B.", "Plan B"};
  ballot_vote v;

  cr_assert_eq(vote_n(S("VOTE: Yes"), opts, 3, &v), 0);
  cr_assert_eq(v.choice, 1);
  ballot_vote_free(&v);
  cr_assert_eq(vote_n(S("VOTE: yes"), opts, 3, &v), 0);
  cr_assert_eq(v.choice, 0);
  ballot_vote_free(&v);
  /* Without case, YES names two options: no match. */
  cr_assert_eq(vote_n(S("VOTE: YES"), opts, 3, &v), -1);
  cr_assert_str_eq(v.reason, "unknown_choice");
  ballot_vote_free(&v);
  cr_assert_eq(vote_n(S("VOTE: NO"), opts, 3, &v), 0);
  cr_assert_eq(v.choice, 2);
  ballot_vote_free(&v);
  /* Exact matches come first, before the period is stripped. */
  cr_assert_eq(vote_n(S("VOTE: Plan B."), dotted, 2, &v), 0);
  cr_assert_eq(v.choice, 0);
  ballot_vote_free(&v);
  cr_assert_eq(vote_n(S("VOTE: Plan B"), dotted, 2, &v), 0);
  cr_assert_eq(v.choice, 1);
  ballot_vote_free(&v);
  cr_assert_eq(vote_n(S("VOTE: plan b"), dotted, 2, &v), -1);
  ballot_vote_free(&v);
}

Test(vote_line, non_ascii_options) {
  static const char *const opts[] = {"\xc3\xa9t\xc3\xa9", "hiver"};
  ballot_vote v;

  cr_assert_eq(vote_n(S("VOTE: \xc3\xa9t\xc3\xa9."), opts, 2, &v), 0);
  cr_assert_eq(v.choice, 0);
  ballot_vote_free(&v);
  /* Case folding is ASCII only. */
  cr_assert_eq(vote_n(S("VOTE: \xc3\x89T\xc3\x89"), opts, 2, &v), -1);
  ballot_vote_free(&v);
}

/* --- Votes: bad input ---------------------------------------------------- */

Test(vote_bad, empty_and_null_text) {
  ballot_vote v;

  expect_vote_fail("", 0, "unparseable");
  expect_vote_fail(S("   \n\t "), "unparseable");
  cr_assert_eq(ballot_parse_vote(NULL, 0, abc, 3, &v), -1);
  cr_assert_str_eq(v.reason, "unparseable");
  ballot_vote_free(&v);
  cr_assert_eq(ballot_parse_vote(NULL, 10, abc, 3, &v), -1);
  cr_assert_str_eq(v.reason, "unparseable");
  ballot_vote_free(&v);
  cr_assert_eq(ballot_parse_vote(S("VOTE: A"), abc, 3, NULL), -1);
  ballot_vote_free(NULL);
}

Test(vote_bad, bad_options) {
  static const char *const with_null[] = {"A", NULL};
  static const char *const with_empty[] = {"A", ""};
  static const char *const repeated[] = {"A", "B", "A"};
  static const char *const not_utf8[] = {"A", "\xff"};
  ballot_vote v;

  cr_assert_eq(vote_n(S("VOTE: A"), NULL, 3, &v), -1);
  cr_assert_str_eq(v.reason, "bad_options");
  cr_assert_eq(vote_n(S("VOTE: A"), abc, 0, &v), -1);
  cr_assert_str_eq(v.reason, "bad_options");
  cr_assert_eq(vote_n(S("VOTE: A"), with_null, 2, &v), -1);
  cr_assert_str_eq(v.reason, "bad_options");
  cr_assert_eq(vote_n(S("VOTE: A"), with_empty, 2, &v), -1);
  cr_assert_str_eq(v.reason, "bad_options");
  cr_assert_eq(vote_n(S("VOTE: A"), repeated, 3, &v), -1);
  cr_assert_str_eq(v.reason, "bad_options");
  cr_assert_eq(vote_n(S("VOTE: A"), not_utf8, 2, &v), -1);
  cr_assert_str_eq(v.reason, "bad_options");
  ballot_vote_free(&v);
}

Test(vote_bad, invalid_utf8) {
  expect_vote_fail(S("FINAL VOTE: B \xff"), "invalid_utf8");
  expect_vote_fail(S("{\"choice\": \"B\"} \xc0\xaf"), "invalid_utf8");
  /* A truncated sequence at the very end of the buffer. */
  expect_vote_fail(S("VOTE: B\n\xe2\x80"), "invalid_utf8");
  /* An encoded surrogate. */
  expect_vote_fail(S("VOTE: \xed\xa0\x80"), "invalid_utf8");
}

Test(vote_bad, nul_bytes) {
  /* A NUL in the value is part of it: no option matches. */
  expect_vote_fail(S("VOTE: B\0"), "unknown_choice");
  expect_vote_fail(S("VOTE: B\0C"), "unknown_choice");
  /* Elsewhere it changes nothing. */
  {
    static const char text[] = "\0\0prose\0\nVOTE: B";
    ballot_vote v;

    cr_assert_eq(vote_n(S(text), abc, 3, &v), 0);
    cr_assert_eq(v.choice, 1);
    ballot_vote_free(&v);
  }
}

Test(vote_bad, megabyte_of_junk) {
  struct timespec t0;
  ballot_vote v;
  size_t len;
  char *text = fixture_junk_then(MB, "\nFINAL VOTE: C\n", &len);
  char *plain = fixture_junk(MB, 7);

  clock_gettime(CLOCK_MONOTONIC, &t0);
  cr_assert_eq(vote_n(text, len, abc, 3, &v), 0);
  cr_assert_eq(v.choice, 2);
  ballot_vote_free(&v);
  cr_assert_eq(vote_n(plain, MB, abc, 3, &v), -1);
  cr_assert_str_eq(v.reason, "unparseable");
  ballot_vote_free(&v);
  cr_assert(seconds_since(&t0) < 1.0, "took %.3f s", seconds_since(&t0));
  free(text);
  free(plain);
}

Test(vote_bad, megabyte_one_line_and_unclosed_braces) {
  /* One huge line with no newline and a thousand unclosed '{': the JSON
   * search gives up after its bounded tries. */
  size_t n = MB, i;
  char *text = malloc(n);
  struct timespec t0;
  ballot_vote v;

  cr_assert_not_null(text);
  for (i = 0; i < n; i++)
    text[i] = i % 1000 == 0 ? '{' : (i % 1000 == 1 ? '"' : 'x');
  clock_gettime(CLOCK_MONOTONIC, &t0);
  cr_assert_eq(vote_n(text, n, abc, 3, &v), -1);
  cr_assert_str_eq(v.reason, "unparseable");
  ballot_vote_free(&v);
  memcpy(text, "VOTE: ", 6);
  cr_assert_eq(vote_n(text, n, abc, 3, &v), -1);
  cr_assert_str_eq(v.reason, "unknown_choice");
  ballot_vote_free(&v);
  cr_assert(seconds_since(&t0) < 1.0, "took %.3f s", seconds_since(&t0));
  free(text);
}

Test(vote_bad, many_options) {
  /* 300 options named o0..o299: the last one and one by case. */
  char names[300][8];
  const char *opts[300];
  ballot_vote v;
  size_t i;

  for (i = 0; i < 300; i++) {
    snprintf(names[i], sizeof(names[i]), "o%zu", i);
    opts[i] = names[i];
  }
  cr_assert_eq(vote_n(S("{\"choice\": \"o299\"}"), opts, 300, &v), 0);
  cr_assert_eq(v.choice, 299);
  ballot_vote_free(&v);
  cr_assert_eq(vote_n(S("VOTE: O42"), opts, 300, &v), 0);
  cr_assert_eq(v.choice, 42);
  ballot_vote_free(&v);
}

static void *failing_malloc(size_t n) {
  (void)n;
  return NULL;
}

Test(vote_bad, out_of_memory_in_cjson) {
  cJSON_Hooks hooks = {.malloc_fn = failing_malloc, .free_fn = free};
  ballot_vote v;
  double c;
  int w = 42;

  /* Criterion runs each test in its own process: the hooks stay here. */
  cJSON_InitHooks(&hooks);
  cr_assert_eq(vote_n(S("{\"choice\": \"A\"}"), abc, 3, &v), -1);
  cr_assert_str_eq(v.reason, "out_of_memory");
  ballot_vote_free(&v);
  cr_assert_eq(ballot_parse_pair(S("{\"winner\": \"A\"}"), "x", "y", &w), -1);
  cr_assert_eq(w, 42);
  cr_assert_eq(confidence_self_report(S("{\"confidence\": 0.5}"), &c, NULL),
               -1);
  /* Lines need no cJSON. */
  cr_assert_eq(vote_n(S("VOTE: C"), abc, 3, &v), 0);
  cr_assert_eq(v.choice, 2);
  ballot_vote_free(&v);
  cJSON_InitHooks(NULL);
}

/* --- Pairwise picks ------------------------------------------------------ */

Test(pair, json_forms) {
  expect_pair("{\"choice\": \"A\"}", "gpt-4o", "claude", 0);
  expect_pair("{\"choice\": \"b\"}", "gpt-4o", "claude", 1);
  expect_pair("{\"winner\": \"B\"}", "gpt-4o", "claude", 1);
  expect_pair("{\"winner\": \"claude\"}", "gpt-4o", "claude", 1);
  expect_pair("{\"choice\": \"GPT-4o\"}", "gpt-4o", "claude", 0);
  expect_pair("Verdict:\n```json\n{\"winner\": \"A\", \"reason\": \"x\"}\n"
              "```\nDone.",
              "gpt-4o", "claude", 0);
  /* Both keys, agreeing. */
  expect_pair("{\"choice\": \"B\", \"winner\": \"claude\"}", "gpt-4o", "claude",
              1);
  /* A value naming one side only. */
  expect_pair("{\"winner\": \"Response B\"}", "gpt-4o", "claude", 1);
}

Test(pair, json_that_cannot_be_read_is_final) {
  expect_no_pair("{\"choice\": \"A\", \"winner\": \"B\"}", "x", "y");
  expect_no_pair("{\"choice\": \"C\"}\nWINNER: A", "x", "y");
  expect_no_pair("{\"choice\": 0}\nWINNER: A", "x", "y");
  expect_no_pair("{\"winner\": null}", "x", "y");
  expect_no_pair("{\"choice\": \"A\", \"choice\": \"A\"}", "x", "y");
  expect_no_pair("{\"winner\": \"A or B\"}", "x", "y");
  /* A readable choice with an unreadable winner is still refused. */
  expect_no_pair("{\"choice\": \"A\", \"winner\": 1}", "x", "y");
}

Test(pair, lines) {
  expect_pair("WINNER: B", "gpt-4o", "claude", 1);
  expect_pair("winner: a", "gpt-4o", "claude", 0);
  expect_pair("After comparing both...\n\n**Winner:** Response A\n", "gpt-4o",
              "claude", 0);
  expect_pair("FINAL WINNER: claude", "gpt-4o", "claude", 1);
  expect_pair("## Winner: `gpt-4o`.", "gpt-4o", "claude", 0);
  expect_pair("WINNER: gpt-4o, clearly the more careful answer", "gpt-4o",
              "claude", 0);
  expect_pair("WINNER:\n\nB\n", "gpt-4o", "claude", 1);
  expect_pair("WINNER: \xe2\x80\x9c"
              "CLAUDE\xe2\x80\x9d",
              "gpt-4o", "claude", 1);
  /* An em dash ends a word. */
  expect_pair("WINNER: claude\xe2\x80\x94it cites sources", "gpt-4o", "claude",
              1);
}

Test(pair, last_header_wins) {
  expect_pair("WINNER: A\nHmm, wait.\nWINNER: B\nThat's final.", "x", "y", 1);
  expect_pair("FINAL WINNER: y\nWINNER: x", "x", "y", 0);
}

Test(pair, naming_both_or_neither_is_unreadable) {
  expect_no_pair("WINNER: A or B", "x", "y");
  expect_no_pair("WINNER: A, not B", "x", "y");
  expect_no_pair("WINNER: gpt-4o over claude", "gpt-4o", "claude");
  expect_no_pair("WINNER: both", "gpt-4o", "claude");
  expect_no_pair("WINNER: tie", "gpt-4o", "claude");
  expect_no_pair("WINNER: C", "x", "y");
  /* Lower-case letters count only as the whole value. */
  expect_no_pair("WINNER: response a", "x", "y");
}

Test(pair, whole_words_only) {
  /* gpt-4 inside gpt-4-turbo or gpt-4o is not gpt-4. */
  expect_pair("WINNER: gpt-4-turbo is best", "gpt-4", "gpt-4-turbo", 1);
  expect_pair("WINNER: gpt-4, not the turbo", "gpt-4", "gpt-4-turbo", 0);
  expect_no_pair("WINNER: gpt-4o", "gpt-4", "claude");
  /* "a" inside a word is no letter. */
  expect_no_pair("WINNER: Alpha", "x", "y");
  expect_pair("WINNER: vendor/model-a", "vendor/model-a", "vendor/model-b", 0);
}

Test(pair, ids_before_letters) {
  /* The ids are the letters, swapped: the ids win. */
  expect_pair("WINNER: A", "B", "A", 1);
  expect_pair("{\"choice\": \"B\"}", "B", "A", 0);
}

Test(pair, not_found_and_bad_arguments) {
  int w;

  expect_no_pair("", "x", "y");
  expect_no_pair("I liked the first one better.", "x", "y");
  expect_no_pair("WINNER:", "x", "y");
  expect_no_pair("WINNERS: A", "x", "y");
  expect_no_pair("VOTE: A", "x", "y");
  cr_assert_eq(pair_n(S("WINNER: A"), "x", "x", &w), -1);
  cr_assert_eq(pair_n(S("WINNER: A"), "", "y", &w), -1);
  cr_assert_eq(pair_n(S("WINNER: A"), NULL, "y", &w), -1);
  cr_assert_eq(pair_n(S("WINNER: A"), "x", NULL, &w), -1);
  cr_assert_eq(pair_n(S("WINNER: A"), "x", "\xff", &w), -1);
  cr_assert_eq(ballot_parse_pair(S("WINNER: A"), "x", "y", NULL), -1);
  cr_assert_eq(ballot_parse_pair(NULL, 5, "x", "y", &w), -1);
}

Test(pair, hostile_text) {
  size_t len;
  char *big = fixture_junk_then(MB, "\nWINNER: B\n", &len);
  int w;

  cr_assert_eq(pair_n(S("WINNER: A \xff"), "x", "y", &w), -1);
  cr_assert_eq(pair_n(S("WINNER: A\0B"), "x", "y", &w), -1);
  cr_assert_eq(pair_n(S("\0\nWINNER: A\0"), "x", "y", &w), 0);
  cr_assert_eq(w, 0);
  cr_assert_eq(pair_n(big, len, "x", "y", &w), 0);
  cr_assert_eq(w, 1);
  cr_assert_eq(pair_n(big, MB, "x", "y", &w), -1);
  free(big);
}
