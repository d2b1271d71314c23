/* fuzz_ranking.c - the ranking parser (ranking.c: ranking_parse, and
 * ranking_header_line through it) on any reply, against label sets the
 * input chooses, holding to what ranking.h promises of a result.
 *
 * Input: a labels byte (bits 0-2: 1 + that many labels; bit 3: member ids
 * "alpha".. instead of "Response A"..; bit 4: all expected), an expected
 * mask byte (the labels a judge must rank, when bit 4 is clear), then the
 * reply. */
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"
#include "ranking.h"

#define MAX_LABELS 8

static const char *const IDS[MAX_LABELS] = {
    "alpha", "beta", "gamma", "delta", "gpt-4o", "claude", "m1", "m10"};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  fuzz_in in = fuzz_in_make(data, size);
  unsigned shape = fuzz_byte(&in), mask = fuzz_byte(&in);
  size_t n = 1 + (shape & 7), expected[MAX_LABELS], n_expected = 0;
  char names[MAX_LABELS][32];
  const char *labels[MAX_LABELS];
  unsigned char seen[MAX_LABELS] = {0}, want[MAX_LABELS] = {0};
  ranking_result r;
  char *text;
  int rc;

  for (size_t i = 0; i < n; i++) {
    char tag[RANKING_LABEL_MAX];

    FUZZ_CHECK(ranking_label(i, tag, sizeof(tag)) > 0, "label %zu", i);
    snprintf(names[i], sizeof(names[i]), "Response %s", tag);
    labels[i] = shape & 8 ? IDS[i] : names[i];
    if (shape & 16 || mask & (1u << i)) {
      expected[n_expected++] = i;
      want[i] = 1;
    }
  }
  text = fuzz_exact(in.p, in.n);
  rc = ranking_parse(text, in.n, labels, n,
                     shape & 16 || n_expected == 0 ? NULL : expected,
                     shape & 16 ? 0 : n_expected, &r);
  if (shape & 16 || n_expected == 0) {
    memset(want, 1, sizeof(want));
    n_expected = n;
  }
  FUZZ_CHECK(rc == 0 || rc == -1, "rc %d", rc);
  FUZZ_CHECK((rc == 0) == (r.reason == NULL), "rc %d with reason %s", rc,
             r.reason);
  FUZZ_CHECK(r.n_order <= n && r.n_missing <= n, "%zu ranked, %zu missing",
             r.n_order, r.n_missing);
  for (size_t k = 0; k < r.n_order; k++) {
    FUZZ_CHECK(r.order[k] < n && !seen[r.order[k]] && want[r.order[k]],
               "order[%zu] = %zu: out of range, repeated or not expected", k,
               r.order[k]);
    seen[r.order[k]] = 1;
  }
  for (size_t k = 0; k < r.n_missing; k++) {
    FUZZ_CHECK(r.missing[k] < n && want[r.missing[k]] && !seen[r.missing[k]],
               "missing[%zu] = %zu: out of range, not expected or ranked", k,
               r.missing[k]);
    seen[r.missing[k]] = 2;
  }
  if (rc == 0) {
    FUZZ_CHECK(r.n_order == n_expected && r.n_missing == 0,
               "success ranks every expected label (%zu of %zu)", r.n_order,
               n_expected);
    FUZZ_CHECK(r.source == RANKING_FROM_LIST || r.source == RANKING_FROM_JSON,
               "source %d", (int)r.source);
  } else if (strcmp(r.reason, "incomplete") == 0) {
    FUZZ_CHECK(r.n_missing > 0 && r.n_order + r.n_missing == n_expected,
               "a partial ballot: %zu ranked + %zu missing of %zu", r.n_order,
               r.n_missing, n_expected);
  } else {
    FUZZ_CHECK(strcmp(r.reason, "unparseable") == 0 ||
                   strcmp(r.reason, "invalid_utf8") == 0,
               "reason %s", r.reason);
  }
  ranking_result_free(&r);
  free(text);
  return 0;
}
