/* confidence.c - how sure a member says it is: the self-report trailer
 * ({"confidence": c} ending its reply) and the mean token probability from
 * logprobs. Votes read their "confidence" with confidence_read too. Pure C
 * over cJSON, no erl_nif. */
#include "confidence.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "chat.h"
#include "json_schema.h"
#include "json_strict.h"
#include "reply_json.h"
#include "str.h"

const char CONFIDENCE_SELF_REPORT_INSTRUCTION[] =
    "End your reply with a line containing only a JSON object "
    "{\"confidence\": c}, where c, between 0 and 1, is how confident you "
    "are that your answer is correct.";

/* How many '{' the self-report trailer search tries, from the end. */
#define TRAILER_MAX_TRIES 32

int confidence_read(const cJSON *item, double *out) {
  double v;

  if (cJSON_IsNumber(item)) {
    v = item->valuedouble;
  } else if (cJSON_IsString(item) && item->valuestring != NULL) {
    const char *s = item->valuestring;
    size_t n = strlen(s), end, err_at;
    const char *err;
    char *stop;

    if (n == 0 || !(s[0] == '-' || (s[0] >= '0' && s[0] <= '9')) ||
        json_strict_scan(s, n, 0, 1, &end, &err_at, &err) != 0 || end != n)
      return -1;
    v = strtod(s, &stop);
    if (stop != s + n)
      return -1;
  } else {
    return -1;
  }
  /* Written so that NaN fails too. */
  if (!(v >= 0.0 && v <= 1.0))
    return -1;
  *out = v + 0.0; /* -0.0 becomes 0.0 */
  return 0;
}

/* --- The self-report trailer --------------------------------------------- */

/* Reads t[a, b) as a trailer: an object whose members are all called
 * "confidence" (at least one). 0 with *value set; -1 when it is not a
 * trailer; -2 when it is but the value is unusable (or repeated). */
static int read_trailer(const char *t, size_t a, size_t b, double *value) {
  size_t err_at;
  const char *err;
  const cJSON *item;
  cJSON *root;
  size_t n = 0;
  int rc = -1;

  root = json_strict_parse(t + a, b - a, JSON_REPLY_MAX_DEPTH, &err_at, &err);
  if (!cJSON_IsObject(root))
    goto done;
  cJSON_ArrayForEach(item, root) {
    if (item->string == NULL || strcmp(item->string, "confidence") != 0)
      goto done;
    n++;
  }
  if (n == 1 && confidence_read(root->child, value) == 0)
    rc = 0;
  else if (n > 0)
    rc = -2;

done:
  cJSON_Delete(root);
  return rc;
}

/* 1 when only spaces and tabs sit between the line's start and t[i]. */
static int opens_line(const char *t, size_t i) {
  while (i > 0 && (t[i - 1] == ' ' || t[i - 1] == '\t'))
    i--;
  return i == 0 || t[i - 1] == '\n';
}

/* The bare trailer: the last '{' that opens a line and starts a JSON
 * value ending exactly at e. 1 with its offset in *a, else 0. */
static int bare_trailer(const char *t, size_t e, size_t *a) {
  size_t p = e, tries = 0, end, err_at;
  const char *err;

  if (e == 0 || t[e - 1] != '}')
    return 0;
  while (p > 0 && tries < TRAILER_MAX_TRIES) {
    p--;
    if (t[p] != '{')
      continue;
    tries++;
    if (opens_line(t, p) &&
        json_strict_scan(t, e, p, JSON_REPLY_MAX_DEPTH, &end, &err_at, &err) ==
            0 &&
        end == e) {
      *a = p;
      return 1;
    }
  }
  return 0;
}

int confidence_self_report(const char *text, size_t len, double *value,
                           size_t *content_len) {
  size_t e = len, a = 0, b, cut, pos = 0;
  json_fence f, last = {0};
  int have_fence = 0, rc;

  if (value != NULL)
    *value = NAN;
  if (content_len != NULL)
    *content_len = len;
  if (text == NULL || value == NULL || !chat_utf8_valid(text, len))
    return -1;
  str_trim(text, &a, &e);
  if (a == e)
    return -1;

  while (json_fence_next(text, len, &pos, &f)) {
    last = f;
    have_fence = 1;
  }
  if (have_fence && (!last.closed || last.end >= e)) {
    /* The text ends inside or with a fenced block: the trailer can only
     * be all of its content. */
    if (!last.json)
      return -1;
    a = last.content;
    b = last.content_end;
    str_trim(text, &a, &b);
    if (a == b || text[a] != '{')
      return -1;
    cut = last.start;
  } else {
    if (!bare_trailer(text, e, &a))
      return -1;
    b = e;
    cut = a;
  }

  rc = read_trailer(text, a, b, value);
  if (rc == -1)
    return -1;
  if (rc == -2)
    *value = NAN;
  while (cut > 0 && str_is_space(text[cut - 1]))
    cut--;
  if (content_len != NULL)
    *content_len = cut;
  return rc;
}

double confidence_from_logprobs(const double *logprobs, size_t n) {
  double mean = 0.0;
  size_t i;

  if (logprobs == NULL || n == 0)
    return NAN;
  for (i = 0; i < n; i++) {
    double x = logprobs[i];

    /* Written so that NaN fails too. */
    if (!(x <= 0.0) || isinf(x))
      return NAN;
    /* A running mean: both terms are <= 0, so it cannot overflow. */
    mean += (x - mean) / (double)(i + 1);
  }
  return exp(mean);
}
