/* fuzz_confidence.c - reading a member's confidence (confidence.c):
 * confidence_self_report on any reply, confidence_read on any JSON value
 * and confidence_from_logprobs on any doubles, holding to confidence.h.
 *
 * Input: a mode byte (0-1: self report, 2: confidence_read of the rest as
 * JSON, 3: the rest as doubles for confidence_from_logprobs), then the
 * text. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>

#include "chat.h"
#include "confidence.h"
#include "fuzz_util.h"
#include "json_strict.h"

static int in_unit(double v) { return v >= 0 && v <= 1; }

static void check_self_report(const char *text, size_t len) {
  double v = 7;
  size_t keep = (size_t)-1;
  int rc = confidence_self_report(text, len, &v, &keep);
  double v2;
  int rc2;

  FUZZ_CHECK(rc == 0 || rc == -1 || rc == -2, "rc %d", rc);
  if (rc == 0)
    FUZZ_CHECK(in_unit(v) && !signbit(v), "value %g", v);
  else
    FUZZ_CHECK(isnan(v), "rc %d, value %g", rc, v);
  if (rc == -1)
    FUZZ_CHECK(keep == len, "no trailer keeps all: %zu of %zu", keep, len);
  else
    FUZZ_CHECK(keep < len && chat_utf8_valid(text, keep),
               "rc %d keeps %zu of %zu", rc, keep, len);
  /* What is kept ends before the trailer, less the whitespace before it. */
  FUZZ_CHECK(rc == -1 || keep == 0 ||
                 (text[keep - 1] != ' ' && text[keep - 1] != '\n' &&
                  text[keep - 1] != '\t' && text[keep - 1] != '\r'),
             "kept %zu bytes ending in whitespace", keep);
  /* content_len may be NULL. */
  rc2 = confidence_self_report(text, len, &v2, NULL);
  FUZZ_CHECK(rc2 == rc, "rc %d with content_len, %d without", rc, rc2);
}

static void check_read(const char *text, size_t len) {
  size_t at;
  const char *err;
  cJSON *root = json_strict_parse(text, len, 64, &at, &err);
  double out = 7;

  if (root == NULL)
    return;
  if (confidence_read(root, &out) == 0)
    FUZZ_CHECK(in_unit(out) && !signbit(out), "read %g", out);
  else
    FUZZ_CHECK(out == 7, "a failed read leaves *out");
  cJSON_Delete(root);
}

static void check_logprobs(const uint8_t *p, size_t len) {
  size_t n = len / sizeof(double);
  double *lp = malloc((n ? n : 1) * sizeof(double)), c;

  FUZZ_CHECK(lp != NULL, "out of memory");
  memcpy(lp, p, n * sizeof(double));
  c = confidence_from_logprobs(n ? lp : NULL, n);
  FUZZ_CHECK(isnan(c) || in_unit(c), "confidence %g", c);
  for (size_t i = 0; i < n; i++) {
    if (isnan(lp[i]) || isinf(lp[i]) || lp[i] > 0)
      FUZZ_CHECK(isnan(c), "a bad logprob %g gives %g", lp[i], c);
  }
  free(lp);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  fuzz_in in = fuzz_in_make(data, size);
  unsigned mode = fuzz_byte(&in) % 4;
  char *text = fuzz_exact(in.p, in.n);

  if (mode < 2)
    check_self_report(text, in.n);
  else if (mode == 2)
    check_read(text, in.n);
  else
    check_logprobs(in.p, in.n);
  free(text);
  return 0;
}
