/* test_confidence.c - unit tests for confidence.c: the self-reported
 * confidence trailer (bare, fenced, never from the middle, hostile text)
 * and confidence from logprobs. Every text is read from an exact-size
 * copy so overreads are caught. */
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <criterion/criterion.h>

#include "confidence.h"
#include "fixtures.h"

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))
#define S(lit) lit, sizeof(lit) - 1
#define MB (1024 * 1024)

static double seconds_since(const struct timespec *t0) {
  struct timespec t1;

  clock_gettime(CLOCK_MONOTONIC, &t1);
  return (double)(t1.tv_sec - t0->tv_sec) +
         (double)(t1.tv_nsec - t0->tv_nsec) / 1e9;
}

/* confidence_self_report on an exact copy. */
static int self_n(const char *text, size_t len, double *value,
                  size_t *content_len) {
  char *copy = fixture_exact_copy(text, len);
  int rc = confidence_self_report(copy, len, value, content_len);

  free(copy);
  return rc;
}

/* Expects a trailer with value want, the content being its first
 * content_len bytes. */
static void expect_self(const char *text, double want, size_t content_len) {
  size_t len = strlen(text), got_len = 0;
  double v = -1;
  int rc = self_n(text, len, &v, &got_len);

  cr_assert_eq(rc, 0, "rc %d for: %s", rc, text);
  cr_assert_float_eq(v, want, 1e-15, "value %g for: %s", v, text);
  cr_assert_eq(got_len, content_len, "content_len %zu, want %zu for: %s",
               got_len, content_len, text);
}

/* Expects no trailer: -1, NaN, content_len = len. */
static void expect_no_self(const char *text, size_t len) {
  size_t got_len = 0;
  double v = 0;

  cr_assert_eq(self_n(text, len, &v, &got_len), -1, "for: %.*s", (int)len,
               text);
  cr_assert(isnan(v));
  cr_assert_eq(got_len, len);
}

/* --- Self-reported confidence -------------------------------------------- */

Test(self_report, instruction_names_the_trailer) {
  cr_assert_not_null(
      strstr(CONFIDENCE_SELF_REPORT_INSTRUCTION, "{\"confidence\": c}"));
  cr_assert_not_null(strstr(CONFIDENCE_SELF_REPORT_INSTRUCTION, "0 and 1"));
}

Test(self_report, bare_last_line) {
  expect_self("The answer is 42.\n{\"confidence\": 0.8}", 0.8, 17);
  expect_self("The answer is 42.\n\n{\"confidence\":0.8}\n\n  \t\n", 0.8, 17);
  expect_self("The answer is 42.\r\n{\"confidence\": 1}\r\n", 1.0, 17);
  expect_self("The answer is 42.\n   {\"confidence\": 0}", 0.0, 17);
  expect_self("{\"confidence\": 0.5}", 0.5, 0);
  /* Spread over lines. */
  expect_self("Answer.\n{\n  \"confidence\": 0.3\n}\n", 0.3, 7);
  /* A string holding a number, as for votes. */
  expect_self("Answer.\n{\"confidence\": \"0.75\"}", 0.75, 7);
}

Test(self_report, fenced) {
  expect_self("Answer.\n\n```json\n{\"confidence\": 0.9}\n```\n", 0.9, 7);
  expect_self("Answer.\n```\n{\"confidence\": 0.9}\n```", 0.9, 7);
  expect_self("Answer.\n~~~JSON\n{\"confidence\": 0.9}\n~~~~\n", 0.9, 7);
  /* Left open. */
  expect_self("Answer.\n```json\n{\"confidence\": 0.9}\n", 0.9, 7);
  /* A code block earlier in the answer stays in it. */
  expect_self("Use this:\n```python\nx = {}\n```\n{\"confidence\": 0.6}", 0.6,
              30);
  expect_self("Use this:\n```python\nx = {}\n```\n```json\n"
              "{\"confidence\": 0.6}\n```",
              0.6, 30);
}

Test(self_report, object_in_the_middle_is_not_the_trailer) {
  static const char *const texts[] = {
      "{\"confidence\": 0.9}\nBut then I reconsidered.",
      "Here: {\"confidence\": 0.9} is what you asked.\n",
      "```json\n{\"confidence\": 0.9}\n```\nMore text after the block.",
  };
  size_t i;

  for (i = 0; i < COUNT(texts); i++)
    expect_no_self(texts[i], strlen(texts[i]));
}

Test(self_report, not_on_its_own_line) {
  expect_no_self(S("I am fairly sure. {\"confidence\": 0.9}"));
  expect_no_self(S("Confidence: {\"confidence\": 0.9}"));
}

Test(self_report, objects_that_are_not_trailers) {
  /* An answer in JSON that happens to hold a confidence is kept whole. */
  expect_no_self(S("{\"answer\": 42, \"confidence\": 0.7}"));
  expect_no_self(S("Answer.\n{\"x\": {\"confidence\": 0.5}}"));
  expect_no_self(S("Answer.\n{}"));
  expect_no_self(S("Answer.\n[{\"confidence\": 0.5}]"));
  expect_no_self(S("Answer.\n{\"confidence\": 0.5"));
  expect_no_self(S("Answer.\n{\"confidence\": 0.5}}"));
  /* Inside a block of another language. */
  expect_no_self(S("Code:\n```python\n{\"confidence\": 0.5}\n```"));
  expect_no_self(S("Code:\n```python\n{\"confidence\": 0.5}\n"));
  /* A block holding more than the object. */
  expect_no_self(S("```json\n{\"a\": 1}\n{\"confidence\": 0.5}\n```"));
  /* A closing fence that opens an empty block at the end: the object sits
   * between two blocks and the text ends inside the last one. */
  expect_no_self(S("```\ncode\n```\n{\"confidence\": 0.8}\n```"));
}

Test(self_report, unusable_values_are_minus_two_but_still_cut) {
  static const char *const values[] = {"1.5",   "80",   "\"80%\"",  "-0.1",
                                       "true",  "null", "\"high\"", "[0.5]",
                                       "1e999", "\"\""};
  size_t i;

  for (i = 0; i < COUNT(values); i++) {
    char text[128];
    size_t got_len = 0;
    double v = 0;
    int n = snprintf(text, sizeof(text), "Answer.\n{\"confidence\": %s}\n",
                     values[i]);

    cr_assert_eq(self_n(text, (size_t)n, &v, &got_len), -2, "%s", values[i]);
    cr_assert(isnan(v), "%s", values[i]);
    cr_assert_eq(got_len, 7, "%s", values[i]);
  }
  {
    size_t got_len = 0;
    double v = 0;

    cr_assert_eq(self_n(S("Answer.\n{\"confidence\": 0.2, \"confidence\": "
                          "0.9}"),
                        &v, &got_len),
                 -2);
    cr_assert(isnan(v));
  }
}

Test(self_report, hostile_text) {
  double v;
  size_t got_len = 7, len, i;
  char *big, *braces;
  struct timespec t0;

  expect_no_self("", 0);
  expect_no_self(S(" \n\t\r\n"));
  expect_no_self(S("}"));
  expect_no_self(S("{"));
  cr_assert_eq(confidence_self_report(NULL, 0, &v, &got_len), -1);
  cr_assert_eq(got_len, 0);
  cr_assert_eq(
      confidence_self_report(S("{\"confidence\": 0.5}"), NULL, &got_len), -1);
  /* content_len may be NULL. */
  cr_assert_eq(confidence_self_report(S("{\"confidence\": 0.5}"), &v, NULL), 0);
  expect_no_self(S("Answer \xff\n{\"confidence\": 0.5}"));
  expect_no_self(S("Answer.\n{\"confidence\": 0.5}\xe2\x80"));
  /* A NUL inside the trailer spoils it; one before it does not. */
  expect_no_self(S("Answer.\n{\"confidence\": 0.5\0}"));
  {
    static const char text[] = "Ans\0wer.\n{\"confidence\": 0.5}";

    cr_assert_eq(self_n(S(text), &v, &got_len), 0);
    cr_assert_eq(got_len, 8);
  }

  big = fixture_junk_then(MB, "\n{\"confidence\": 0.25}\n", &len);
  braces = malloc(MB);
  cr_assert_not_null(braces);
  memset(braces, '{', MB);
  braces[MB - 1] = '}';
  clock_gettime(CLOCK_MONOTONIC, &t0);
  cr_assert_eq(self_n(big, len, &v, &got_len), 0);
  cr_assert_float_eq(v, 0.25, 0);
  for (i = MB; i > 0 && (big[i - 1] == ' ' || big[i - 1] == '\n'); i--)
    ;
  cr_assert_eq(got_len, i);
  expect_no_self(big, MB);
  expect_no_self(braces, MB);
  cr_assert(seconds_since(&t0) < 1.0, "took %.3f s", seconds_since(&t0));
  free(big);
  free(braces);
}

/* --- Confidence from logprobs -------------------------------------------- */

Test(logprobs, geometric_mean_probability) {
  static const double certain[] = {0.0, -0.0};
  static const double one[] = {-1.0};
  double halves[] = {log(0.5), log(0.125)};

  cr_assert_float_eq(confidence_from_logprobs(certain, 2), 1.0, 0);
  cr_assert_float_eq(confidence_from_logprobs(one, 1), exp(-1.0), 1e-15);
  /* exp((ln 1/2 + ln 1/8) / 2) = 1/4. */
  cr_assert_float_eq(confidence_from_logprobs(halves, 2), 0.25, 1e-15);
}

Test(logprobs, chat_response_mean_converts_alone) {
  /* Gemini's avgLogprobs from the provider notes' response. */
  double mean = -0.048741644079034981;

  cr_assert_float_eq(confidence_from_logprobs(&mean, 1), exp(mean), 0);
}

Test(logprobs, refused_values) {
  static const double pos[] = {-0.1, 0.1};
  double nan_in[] = {-0.1, NAN}, ninf[] = {-INFINITY}, pinf[] = {INFINITY};
  static const double ok[] = {-0.1};

  cr_assert(isnan(confidence_from_logprobs(ok, 0)));
  cr_assert(isnan(confidence_from_logprobs(NULL, 3)));
  cr_assert(isnan(confidence_from_logprobs(pos, 2)));
  cr_assert(isnan(confidence_from_logprobs(nan_in, 2)));
  cr_assert(isnan(confidence_from_logprobs(ninf, 1)));
  cr_assert(isnan(confidence_from_logprobs(pinf, 1)));
}

Test(logprobs, extremes_do_not_overflow) {
  static const double huge[] = {-DBL_MAX, -DBL_MAX, -DBL_MAX};
  size_t n = 100000, i;
  double *many = malloc(n * sizeof(*many)), c;

  cr_assert_float_eq(confidence_from_logprobs(huge, 3), 0.0, 0);
  cr_assert_not_null(many);
  for (i = 0; i < n; i++)
    many[i] = i % 2 ? -0.2 : -0.4;
  c = confidence_from_logprobs(many, n);
  cr_assert_float_eq(c, exp(-0.3), 1e-12);
  cr_assert(c >= 0.0 && c <= 1.0);
  free(many);
}
