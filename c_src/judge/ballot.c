/* ballot.c - reads votes and pairwise picks out of council members'
 * replies.
 *
 * The JSON forms are found with json_extract_reply_if (reply_json.c), so
 * a vote may sit in a ```json fence, be the whole reply, or be a bare
 * object in the prose; the line forms (VOTE:, WINNER:) are headers read
 * as ranking.c reads FINAL RANKING:, the last one winning. Choices are
 * matched strictly: a value that is not an option (give or take case,
 * quotes and markdown) is an unknown choice, never a guess from the
 * prose. The one looser reading is a pairwise pick, where a value naming
 * exactly one of the two sides is taken. */
#include "ballot.h"

#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>

#include "chat.h"
#include "confidence.h"
#include "json_in.h"
#include "json_schema.h"
#include "json_strict.h"
#include "ranking.h"
#include "reply_json.h"
#include "reason.h"
#include "str.h"

/* --- Text ---------------------------------------------------------------- */

static size_t line_end(const char *s, size_t len, size_t pos) {
  const char *nl = memchr(s + pos, '\n', len - pos);

  return nl != NULL ? (size_t)(nl - s) : len;
}

static char lower(char c) {
  return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

/* ASCII case-insensitive equality of two byte ranges. */
static int eq_ci(const char *a, size_t alen, const char *b, size_t blen) {
  size_t i;

  if (alen != blen)
    return 0;
  for (i = 0; i < alen; i++) {
    if (lower(a[i]) != lower(b[i]))
      return 0;
  }
  return 1;
}

static int eq(const char *a, size_t alen, const char *b, size_t blen) {
  return alen == blen && memcmp(a, b, alen) == 0;
}

/* 1 when s[i..b) opens with a curly quote (U+2018, U+2019, U+201C or
 * U+201D, three bytes each). */
static int curly_at(const char *s, size_t i, size_t b) {
  const unsigned char *p = (const unsigned char *)s + i;

  return b - i >= 3 && p[0] == 0xE2 && p[1] == 0x80 &&
         (p[2] == 0x98 || p[2] == 0x99 || p[2] == 0x9C || p[2] == 0x9D);
}

static int in_set(char c, const char *set) {
  return c != '\0' && strchr(set, c) != NULL;
}

/* Narrows [*a, *b) past what decorates a value: whitespace, markdown,
 * quotes (straight or curly) and brackets at either end, and trailing
 * periods. */
static void strip_value(const char *s, size_t *a, size_t *b) {
  size_t a0, b0;

  do {
    a0 = *a;
    b0 = *b;
    str_trim(s, a, b);
    while (*a < *b && in_set(s[*a], "*_`\"'[("))
      (*a)++;
    if (curly_at(s, *a, *b))
      *a += 3;
    while (*b > *a && in_set(s[*b - 1], "*_`\"')]."))
      (*b)--;
    if (*b - *a >= 3 && curly_at(s, *b - 3, *b))
      *b -= 3;
  } while (*a != a0 || *b != b0);
}

/* --- Options ------------------------------------------------------------- */

static int str_ptr_cmp(const void *pa, const void *pb) {
  return strcmp(*(const char *const *)pa, *(const char *const *)pb);
}

/* 0 when options are usable: non-empty UTF-8 strings, all different; -1
 * when not, -2 on out of memory. */
static int options_check(const char *const *options, size_t n) {
  const char **sorted;
  size_t i;
  int rc = 0;

  if (options == NULL || n == 0 || n > (size_t)LONG_MAX)
    return -1;
  for (i = 0; i < n; i++) {
    if (options[i] == NULL || options[i][0] == '\0' ||
        !chat_utf8_valid(options[i], strlen(options[i])))
      return -1;
  }
  sorted = malloc(n * sizeof(*sorted));
  if (sorted == NULL)
    return -2;
  memcpy(sorted, options, n * sizeof(*sorted));
  qsort(sorted, n, sizeof(*sorted), str_ptr_cmp);
  for (i = 1; i < n && rc == 0; i++) {
    if (strcmp(sorted[i - 1], sorted[i]) == 0)
      rc = -1;
  }
  free(sorted);
  return rc;
}

/* The option v[0..len) names: exactly, then exactly once stripped, then
 * stripped and without case (where two options matching is no match).
 * -1 when none does. */
static long match_option(const char *const *options, size_t n, const char *v,
                         size_t len) {
  size_t a = 0, b = len, i;
  long found = -1;

  str_trim(v, &a, &b);
  for (i = 0; i < n; i++) {
    if (eq(v + a, b - a, options[i], strlen(options[i])))
      return (long)i;
  }
  strip_value(v, &a, &b);
  if (a == b)
    return -1;
  for (i = 0; i < n; i++) {
    if (eq(v + a, b - a, options[i], strlen(options[i])))
      return (long)i;
  }
  for (i = 0; i < n; i++) {
    size_t oa = 0, ob = strlen(options[i]);

    strip_value(options[i], &oa, &ob);
    if (eq_ci(v + a, b - a, options[i] + oa, ob - oa)) {
      if (found >= 0)
        return -1;
      found = (long)i;
    }
  }
  return found;
}

/* --- JSON ---------------------------------------------------------------- */

/* What the JSON search looks for and what it found. */
typedef struct json_want {
  const char *key1;
  const char *key2; /* or NULL */
  cJSON *root;      /* the accepted object, owned here */
  int oom;
} json_want;

/* obj's only member called name; NULL when there is none, and when there
 * are several (*several set), since decoders disagree on which counts. */
static const cJSON *only_member(const cJSON *obj, const char *name,
                                int *several) {
  const cJSON *item, *found = NULL;

  *several = 0;
  cJSON_ArrayForEach(item, obj) {
    if (item->string != NULL && strcmp(item->string, name) == 0) {
      if (found != NULL) {
        *several = 1;
        return NULL;
      }
      found = item;
    }
  }
  return found;
}

static int has_member(const cJSON *obj, const char *name) {
  int several;

  return name != NULL && (only_member(obj, name, &several) || several);
}

/* json_accept_fn: takes an object holding one of the wanted keys. */
static int accept_object(const char *doc, size_t len, void *ctx) {
  json_want *w = ctx;
  size_t err_at;
  const char *err = NULL;
  cJSON *root;

  if (len == 0 || doc[0] != '{')
    return 0;
  root = json_strict_parse(doc, len, JSON_REPLY_MAX_DEPTH, &err_at, &err);
  if (root == NULL) {
    if (err != NULL && strcmp(err, JSON_STRICT_OOM) == 0)
      w->oom = 1;
    return 0;
  }
  if (cJSON_IsObject(root) &&
      (has_member(root, w->key1) || has_member(root, w->key2))) {
    w->root = root;
    return 1;
  }
  cJSON_Delete(root);
  return 0;
}

/* Finds the object; 1 when found (w->root set), 0 when not, -1 on out of
 * memory. */
static int find_object(const char *text, size_t len, json_want *w) {
  size_t a, b;

  if (json_extract_reply_if(text, len, accept_object, w, &a, &b) == 0)
    return 1;
  return w->oom ? -1 : 0;
}

/* --- Header lines -------------------------------------------------------- */

/* A header: one or two words before the colon. */
typedef struct header {
  const char *words[2];
  size_t n;
} header;

static const header vote_headers[] = {{{"final", "vote"}, 2},
                                      {{"vote", NULL}, 1}};
static const header winner_headers[] = {{{"final", "winner"}, 2},
                                        {{"winner", NULL}, 1}};

static int header_at(const char *s, size_t len, const header *hs, size_t nh,
                     size_t *after) {
  size_t k;

  for (k = 0; k < nh; k++) {
    if (ranking_header_line(s, len, hs[k].words, hs[k].n, after))
      return 1;
  }
  return 0;
}

/* 1 when s[a, b) holds nothing but decoration. */
static int blank_value(const char *s, size_t a, size_t b) {
  strip_value(s, &a, &b);
  return a == b;
}

/* Finds the value of the last header line with one: the rest of its line,
 * or when that is empty the next non-blank line (unless it is a header
 * itself). 1 with the value in [*va, *vb), else 0. */
static int last_header_value(const char *s, size_t len, const header *hs,
                             size_t nh, size_t *va, size_t *vb) {
  size_t pos = 0;
  int found = 0;

  while (pos < len) {
    size_t end = line_end(s, len, pos), after, a, b, p, e;

    if (!header_at(s + pos, end - pos, hs, nh, &after)) {
      pos = end + 1;
      continue;
    }
    a = pos + after;
    b = end;
    if (blank_value(s, a, b))
      a = b;
    for (p = end + 1; a == b && p < len; p = e + 1) {
      e = line_end(s, len, p);
      a = p;
      b = e;
      if (blank_value(s, a, b)) {
        a = b;
        continue;
      }
      if (header_at(s + p, e - p, hs, nh, &after))
        a = b; /* the next header: this one has no value */
      break;
    }
    if (a < b) {
      *va = a;
      *vb = b;
      found = 1;
    }
    pos = end + 1;
  }
  return found;
}

/* --- Votes --------------------------------------------------------------- */

void ballot_vote_free(ballot_vote *v) {
  if (v == NULL)
    return;
  free(v->rationale);
  memset(v, 0, sizeof(*v));
  v->choice = -1;
  v->confidence = NAN;
}

static int vote_fail(ballot_vote *out, const char *reason) {
  free(out->rationale);
  out->rationale = NULL;
  out->choice = -1;
  out->reason = reason;
  return -1;
}

/* Fills out from the accepted object. */
static int vote_from_json(const cJSON *root, const char *const *options,
                          size_t n, ballot_vote *out) {
  const cJSON *choice, *conf, *why;
  int several;

  out->source = BALLOT_FROM_JSON;
  conf = only_member(root, "confidence", &several);
  if (several || (conf != NULL && !cJSON_IsNull(conf) &&
                  confidence_read(conf, &out->confidence) != 0))
    out->confidence_invalid = 1;
  why = only_member(root, "rationale", &several);
  if (json_copy_string(why, &out->rationale) != 0)
    return vote_fail(out, CX_REASON_WORD(out_of_memory));

  choice = only_member(root, "choice", &several);
  if (!cJSON_IsString(choice) || choice->valuestring == NULL)
    return vote_fail(out, CX_REASON_WORD(unknown_choice));
  out->choice = match_option(options, n, choice->valuestring,
                             strlen(choice->valuestring));
  return out->choice >= 0 ? 0 : vote_fail(out, CX_REASON_WORD(unknown_choice));
}

int ballot_parse_vote(const char *text, size_t len, const char *const *options,
                      size_t n_options, ballot_vote *out) {
  json_want want = {.key1 = "choice"};
  size_t va, vb;
  int rc;

  if (out == NULL)
    return -1;
  memset(out, 0, sizeof(*out));
  out->choice = -1;
  out->confidence = NAN;
  if (text == NULL)
    len = 0;
  rc = options_check(options, n_options);
  if (rc != 0)
    return vote_fail(out, rc == -2 ? CX_REASON_WORD(out_of_memory)
                                   : CX_REASON_WORD(bad_options));
  if (!chat_utf8_valid(text, len))
    return vote_fail(out, CX_REASON_WORD(invalid_utf8));

  rc = find_object(text, len, &want);
  if (rc < 0)
    return vote_fail(out, CX_REASON_WORD(out_of_memory));
  if (rc > 0) {
    rc = vote_from_json(want.root, options, n_options, out);
    cJSON_Delete(want.root);
    return rc;
  }
  if (!last_header_value(text, len, vote_headers, 2, &va, &vb))
    return vote_fail(out, CX_REASON_WORD(unparseable));
  out->source = BALLOT_FROM_LINE;
  out->choice = match_option(options, n_options, text + va, vb - va);
  return out->choice >= 0 ? 0 : vote_fail(out, CX_REASON_WORD(unknown_choice));
}

/* --- Pairwise picks ------------------------------------------------------ */

/* 1 when byte c joins the bytes beside it into one word. */
static int word_byte(unsigned char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
         (c >= '0' && c <= '9') || c == '-' || c == '_' || c >= 0x80;
}

/* 1 when a word may start at s[i]: at the start, after a non-word byte,
 * or after punctuation from U+2000 to U+207F (E2 80 xx, E2 81 xx). */
static int starts_word(const char *s, size_t i) {
  const unsigned char *p = (const unsigned char *)s;

  if (i == 0 || !word_byte(p[i - 1]))
    return 1;
  return i >= 3 && p[i - 3] == 0xE2 && (p[i - 2] == 0x80 || p[i - 2] == 0x81);
}

/* 1 when a word may end just before s[i] (len bytes in all). */
static int ends_word(const char *s, size_t i, size_t len) {
  const unsigned char *p = (const unsigned char *)s;

  if (i == len || !word_byte(p[i]))
    return 1;
  return len - i >= 2 && p[i] == 0xE2 && (p[i + 1] == 0x80 || p[i + 1] == 0x81);
}

/* 1 when w[0..wlen) occurs in s[0..len) as a whole word; ci: without
 * ASCII case. */
static int has_word(const char *s, size_t len, const char *w, size_t wlen,
                    int ci) {
  size_t i;

  if (wlen == 0 || wlen > len)
    return 0;
  for (i = 0; i + wlen <= len; i++) {
    if ((ci ? eq_ci(s + i, wlen, w, wlen) : memcmp(s + i, w, wlen) == 0) &&
        starts_word(s, i) && ends_word(s, i + wlen, len))
      return 1;
  }
  return 0;
}

/* Which side v[0..len) picks: 0 (a), 1 (b) or -1 (see ballot.h). */
static int pick_side(const char *v, size_t len, const char *id_a,
                     const char *id_b) {
  static const char letters[2][2] = {"A", "B"};
  const char *ids[2] = {id_a, id_b};
  size_t a = 0, b = len;
  int named[2], k;

  str_trim(v, &a, &b);
  for (k = 0; k < 2; k++) {
    if (eq(v + a, b - a, ids[k], strlen(ids[k])))
      return k;
  }
  strip_value(v, &a, &b);
  if (a == b)
    return -1;
  for (k = 0; k < 2; k++) {
    if (eq_ci(v + a, b - a, ids[k], strlen(ids[k])))
      return k;
  }
  for (k = 0; k < 2; k++) {
    if (eq_ci(v + a, b - a, letters[k], 1))
      return k;
  }
  for (k = 0; k < 2; k++)
    named[k] = has_word(v + a, b - a, ids[k], strlen(ids[k]), 1) ||
               has_word(v + a, b - a, letters[k], 1, 0);
  if (named[0] != named[1])
    return named[0] ? 0 : 1;
  return -1;
}

/* The side a JSON value picks: a string read by pick_side. */
static int json_side(const cJSON *item, const char *id_a, const char *id_b) {
  if (!cJSON_IsString(item) || item->valuestring == NULL)
    return -1;
  return pick_side(item->valuestring, strlen(item->valuestring), id_a, id_b);
}

static int id_ok(const char *id) {
  return id != NULL && id[0] != '\0' && chat_utf8_valid(id, strlen(id));
}

int ballot_parse_pair(const char *text, size_t len, const char *id_a,
                      const char *id_b, int *winner) {
  json_want want = {.key1 = "choice", .key2 = "winner"};
  size_t va, vb;
  int side;

  if (winner == NULL || !id_ok(id_a) || !id_ok(id_b) || strcmp(id_a, id_b) == 0)
    return -1;
  if (text == NULL)
    len = 0;
  if (!chat_utf8_valid(text, len))
    return -1;

  switch (find_object(text, len, &want)) {
  case 1: {
    int s1, s2, several1, several2;
    const cJSON *c = only_member(want.root, "choice", &several1);
    const cJSON *w = only_member(want.root, "winner", &several2);

    s1 = c != NULL ? json_side(c, id_a, id_b) : -2;
    s2 = w != NULL ? json_side(w, id_a, id_b) : -2;
    cJSON_Delete(want.root);
    if (several1 || several2 || s1 == -1 || s2 == -1 ||
        (s1 >= 0 && s2 >= 0 && s1 != s2))
      return -1;
    side = s1 >= 0 ? s1 : s2;
    break;
  }
  case 0:
    if (!last_header_value(text, len, winner_headers, 2, &va, &vb))
      return -1;
    side = pick_side(text + va, vb - va, id_a, id_b);
    break;
  default:
    return -1;
  }
  if (side < 0)
    return -1;
  *winner = side;
  return 0;
}
