/* ranking.c - reads a judge's ranking out of its reply text.
 *
 * The reply must hold a `FINAL RANKING:` header (any case, markdown around
 * it allowed) at the start of a line, followed by a numbered list:
 *
 *   **Final ranking:**
 *   1. **Response C** - the most complete
 *   2) `Response A`
 *
 * Sections run from one header to the next; the last section with a list
 * naming at least one label is used. The list is the first run of numbered
 * lines in the section that names a label: blank and indented lines may sit
 * inside it, any other line ends it. Items are read in textual order (the
 * numbers themselves are not checked, as in llm-council). A label matches
 * whole: "Response AB" is never "Response A". Without such a list the
 * reply may hold JSON instead ({"ranking": [labels]} or [labels], in a
 * ```json fence or as the whole reply); anything else is unparseable.
 * Every step is linear in the text, so a huge reply costs little. */
#include "ranking.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>

#include "buf.h"
#include "chat.h"
#include "reason.h"

/* One label, for lookup by its bytes. */
typedef struct label_ref {
  const char *s;
  size_t len;
  size_t idx;
} label_ref;

/* The labels sorted by bytes, so a candidate is found by binary search. */
typedef struct label_set {
  label_ref *sorted;
  size_t n;
  size_t max_len;
} label_set;

/* A growable list of label indices, in the order they were read. */
typedef struct idx_vec {
  size_t *v;
  size_t n;
  size_t cap;
} idx_vec;

/* What a section or JSON value yielded. */
typedef struct found {
  idx_vec labels;
  size_t unknown;
} found;

static int vec_push(idx_vec *v, size_t x) {
  if (buf_grow_array(&v->v, &v->cap, v->n, sizeof(*v->v)) != 0)
    return -1;
  v->v[v->n++] = x;
  return 0;
}

/* --- Labels -------------------------------------------------------------- */

size_t ranking_label(size_t index, char *out, size_t out_len) {
  char tmp[RANKING_LABEL_MAX];
  size_t n = 0, i;

  /* Bijective base 26: after each digit, one is taken off what remains,
   * so 26 is "AA" rather than "BA". */
  for (;;) {
    tmp[n++] = (char)('A' + index % 26);
    index /= 26;
    if (index == 0)
      break;
    index--;
  }
  if (out == NULL || out_len < n + 1)
    return 0;
  for (i = 0; i < n; i++)
    out[i] = tmp[n - 1 - i];
  out[n] = '\0';
  return n;
}

static int bytes_cmp(const char *a, size_t alen, const char *b, size_t blen) {
  int c = memcmp(a, b, alen < blen ? alen : blen);

  if (c != 0)
    return c;
  return (alen > blen) - (alen < blen);
}

static int label_cmp(const void *pa, const void *pb) {
  const label_ref *a = pa, *b = pb;

  return bytes_cmp(a->s, a->len, b->s, b->len);
}

/* Sorts the labels; -1 when one is NULL, empty or not UTF-8, or two are
 * equal; -2 on out of memory. */
static int labels_init(label_set *set, const char *const *labels, size_t n) {
  size_t i;

  memset(set, 0, sizeof(*set));
  if (labels == NULL || n == 0)
    return -1;
  set->sorted = calloc(n, sizeof(*set->sorted));
  if (set->sorted == NULL)
    return -2;
  set->n = n;
  for (i = 0; i < n; i++) {
    label_ref *r = &set->sorted[i];

    if (labels[i] == NULL || labels[i][0] == '\0')
      return -1;
    r->s = labels[i];
    r->len = strlen(labels[i]);
    r->idx = i;
    if (!chat_utf8_valid(r->s, r->len))
      return -1;
    if (r->len > set->max_len)
      set->max_len = r->len;
  }
  qsort(set->sorted, n, sizeof(*set->sorted), label_cmp);
  for (i = 1; i < n; i++) {
    if (label_cmp(&set->sorted[i - 1], &set->sorted[i]) == 0)
      return -1;
  }
  return 0;
}

/* The index of the label that is exactly s[0..len), or -1. */
static long label_exact(const label_set *set, const char *s, size_t len) {
  label_ref key = {.s = s, .len = len};
  const label_ref *r;

  r = bsearch(&key, set->sorted, set->n, sizeof(key), label_cmp);
  return r != NULL ? (long)r->idx : -1;
}

static int is_alnum(unsigned char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
         (c >= '0' && c <= '9');
}

/* 1 when a label may end just before p (left bytes remain): at the end,
 * at ASCII that is not a letter or digit ("_" too, which closes markdown
 * emphasis), or at punctuation from U+2000 to U+207F (dashes, curly
 * quotes: "Response A—best"). Other non-ASCII characters may be letters,
 * so they do not end a label. */
static int label_boundary(const unsigned char *p, size_t left) {
  if (left == 0)
    return 1;
  if (p[0] < 0x80)
    return !is_alnum(p[0]);
  return left >= 2 && p[0] == 0xE2 && (p[1] == 0x80 || p[1] == 0x81);
}

/* The longest label that s starts with and that ends on a boundary, or
 * -1. Tries only boundary positions, each by binary search. */
static long label_at(const label_set *set, const char *s, size_t len) {
  const unsigned char *p = (const unsigned char *)s;
  size_t e, max = len < set->max_len ? len : set->max_len;
  long best = -1;

  for (e = 1; e <= max; e++) {
    if (label_boundary(p + e, len - e)) {
      long idx = label_exact(set, s, e);

      if (idx >= 0)
        best = idx;
    }
  }
  return best;
}

/* --- Lines --------------------------------------------------------------- */

static size_t skip_set(const char *s, size_t len, size_t i, const char *set) {
  while (i < len && s[i] != '\0' && strchr(set, s[i]) != NULL)
    i++;
  return i;
}

/* 1 when s[i..len) starts with word (lower case ASCII), ignoring case. */
static int starts_ci(const char *s, size_t len, size_t i, const char *word) {
  size_t k, n = strlen(word);

  if (len - i < n)
    return 0;
  for (k = 0; k < n; k++) {
    char c = s[i + k];

    if (c >= 'A' && c <= 'Z')
      c = (char)(c - 'A' + 'a');
    if (c != word[k])
      return 0;
  }
  return 1;
}

int ranking_header_line(const char *s, size_t len, const char *const *words,
                        size_t n_words, size_t *after) {
  size_t i, k;

  if (s == NULL || words == NULL || n_words == 0)
    return 0;
  i = skip_set(s, len, 0, " \t#>*_`");
  for (k = 0; k < n_words; k++) {
    if (k > 0) {
      size_t j = skip_set(s, len, i, " \t");

      if (j == i)
        return 0;
      i = j;
    }
    if (!starts_ci(s, len, i, words[k]))
      return 0;
    i += strlen(words[k]);
  }
  i = skip_set(s, len, i, " \t*_`");
  if (i == len || s[i] != ':')
    return 0;
  *after = skip_set(s, len, i + 1, "*_`");
  return 1;
}

/* 1 when the line is a FINAL RANKING header; *after as above. */
static int header_line(const char *s, size_t len, size_t *after) {
  static const char *const words[] = {"final", "ranking"};

  return ranking_header_line(s, len, words, 2, after);
}

typedef enum line_kind {
  LINE_BLANK,
  LINE_ITEM,     /* a numbered line; *label says which label, or -1 */
  LINE_INDENTED, /* starts with whitespace: a continuation */
  LINE_OTHER
} line_kind;

/* Reads "1. x", "2) x", "**3.** x". After the number and its markdown
 * come optional spaces and opening marks (** ` " ' [ (), then the label.
 * "1.5" or "1.Foo" is not a list line, but "1.Response A" is. */
static int numbered_line(const label_set *set, const char *s, size_t len,
                         long *label) {
  size_t i = skip_set(s, len, 0, " \t*_"), start = i, j, k;

  while (i < len && s[i] >= '0' && s[i] <= '9')
    i++;
  if (i == start || i - start > 9 || i == len || (s[i] != '.' && s[i] != ')'))
    return 0;
  i = skip_set(s, len, i + 1, "*_");
  j = skip_set(s, len, i, " \t");
  k = skip_set(s, len, j, "*_`\"'[(");
  *label = label_at(set, s + k, len - k);
  return *label >= 0 || j > i;
}

static line_kind classify(const label_set *set, const char *s, size_t len,
                          long *label) {
  if (skip_set(s, len, 0, " \t\r") == len)
    return LINE_BLANK;
  if (numbered_line(set, s, len, label))
    return LINE_ITEM;
  if (s[0] == ' ' || s[0] == '\t')
    return LINE_INDENTED;
  return LINE_OTHER;
}

static size_t line_end(const char *s, size_t to, size_t pos) {
  const char *nl = memchr(s + pos, '\n', to - pos);

  return nl != NULL ? (size_t)(nl - s) : to;
}

/* Reads the list of the section s[from..to). Returns 1 when it names a
 * label (f holds it), 0 when not, -1 on out of memory. */
static int read_list(const label_set *set, const char *s, size_t from,
                     size_t to, found *f) {
  size_t pos = from, named = 0;
  int in_run = 0;

  f->labels.n = 0;
  f->unknown = 0;
  while (pos < to) {
    size_t end = line_end(s, to, pos);
    long label = -1;

    switch (classify(set, s + pos, end - pos, &label)) {
    case LINE_ITEM:
      in_run = 1;
      if (label < 0)
        f->unknown++;
      else if (vec_push(&f->labels, (size_t)label) != 0)
        return -1;
      else
        named++;
      break;
    case LINE_BLANK:
    case LINE_INDENTED:
      break;
    case LINE_OTHER:
      if (in_run && named > 0)
        return 1;
      /* A run naming no label (a list of criteria, say) is not it. */
      in_run = 0;
      f->labels.n = 0;
      f->unknown = 0;
      break;
    }
    pos = end + 1;
  }
  return named > 0;
}

/* Finds every header and reads the sections from the last one back.
 * Returns as read_list. */
static int from_headers(const label_set *set, const char *s, size_t len,
                        found *f) {
  idx_vec starts = {0}, afters = {0};
  size_t pos = 0, k;
  int rc = 0;

  while (pos < len) {
    size_t end = line_end(s, len, pos), after;

    if (header_line(s + pos, end - pos, &after) &&
        (vec_push(&starts, pos) != 0 || vec_push(&afters, pos + after) != 0)) {
      rc = -1;
      goto done;
    }
    pos = end + 1;
  }
  for (k = starts.n; k > 0 && rc == 0; k--) {
    size_t to = k < starts.n ? starts.v[k] : len;

    rc = read_list(set, s, afters.v[k - 1], to, f);
  }

done:
  free(starts.v);
  free(afters.v);
  return rc;
}

/* --- JSON fallback ------------------------------------------------------- */

static int is_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* Reads s[0..len) as one JSON value (surrounding whitespace allowed): an
 * array of labels, or an object whose "ranking" (or "ordering") is one. Returns
 * as read_list; items that are not label strings count as unknown. */
static int from_json(const label_set *set, const char *s, size_t len,
                     found *f) {
  const char *end = NULL;
  const cJSON *list, *item;
  cJSON *root;
  size_t named = 0;
  int rc = 0;

  while (len > 0 && is_space(s[0])) {
    s++;
    len--;
  }
  while (len > 0 && is_space(s[len - 1]))
    len--;
  /* cJSON would take a raw NUL for the end of the text. */
  if (len == 0 || (s[0] != '{' && s[0] != '[') || memchr(s, '\0', len) != NULL)
    return 0;
  root = cJSON_ParseWithLengthOpts(s, len, &end, 0);
  if (root == NULL)
    return 0;
  list = root;
  if (cJSON_IsObject(root)) {
    list = cJSON_GetObjectItemCaseSensitive(root, "ranking");
    if (list == NULL) /* the Ranking round's own key */
      list = cJSON_GetObjectItemCaseSensitive(root, "ordering");
  }
  if (end != s + len || !cJSON_IsArray(list))
    goto done;

  f->labels.n = 0;
  f->unknown = 0;
  cJSON_ArrayForEach(item, list) {
    long idx = -1;

    if (cJSON_IsString(item) && item->valuestring != NULL)
      idx = label_exact(set, item->valuestring, strlen(item->valuestring));
    if (idx < 0) {
      f->unknown++;
    } else if (vec_push(&f->labels, (size_t)idx) != 0) {
      rc = -1;
      goto done;
    } else {
      named++;
    }
  }
  rc = named > 0;

done:
  cJSON_Delete(root);
  return rc;
}

/* 1 when the line opens or closes a code fence; *json is set when its
 * info string is empty or "json". */
static int fence_line(const char *s, size_t len, int *json) {
  size_t i = skip_set(s, len, 0, " \t"), j;

  if (len - i < 3 || memcmp(s + i, "```", 3) != 0)
    return 0;
  i = skip_set(s, len, i + 3, "`");
  j = len;
  while (j > i && is_space(s[j - 1]))
    j--;
  *json = j == i || (j - i == 4 && starts_ci(s, j, i, "json"));
  return 1;
}

/* Tries each ```json (or bare ```) fence, the last one first, then the
 * whole text. An unclosed fence runs to the end. Returns as read_list. */
static int from_fences_or_json(const label_set *set, const char *s, size_t len,
                               found *f) {
  idx_vec spans = {0}; /* start, end pairs of fence contents */
  size_t pos = 0, open_at = 0, k;
  int open = 0, open_json = 0, rc = 0;

  while (pos < len && rc == 0) {
    size_t end = line_end(s, len, pos);
    int json;

    if (fence_line(s + pos, end - pos, &json)) {
      if (open && open_json &&
          (vec_push(&spans, open_at) != 0 || vec_push(&spans, pos) != 0))
        rc = -1;
      open_json = !open && json;
      open = !open;
      open_at = end < len ? end + 1 : len;
    }
    pos = end + 1;
  }
  if (rc == 0 && open && open_json &&
      (vec_push(&spans, open_at) != 0 || vec_push(&spans, len) != 0))
    rc = -1;
  for (k = spans.n; k >= 2 && rc == 0; k -= 2)
    rc = from_json(set, s + spans.v[k - 2], spans.v[k - 1] - spans.v[k - 2], f);
  if (rc == 0)
    rc = from_json(set, s, len, f);
  free(spans.v);
  return rc;
}

/* --- Result -------------------------------------------------------------- */

void ranking_result_free(ranking_result *r) {
  if (r == NULL)
    return;
  free(r->order);
  free(r->missing);
  memset(r, 0, sizeof(*r));
}

/* Keeps each label's first place, drops labels outside expected, and lists
 * the expected labels never named. Returns -1 on out of memory. */
static int settle(const found *f, size_t n_labels, const size_t *expected,
                  size_t n_expected, ranking_result *out) {
  /* state per label: bit 1 expected, bit 2 seen, bit 4 listed missing */
  unsigned char *state = calloc(n_labels, 1);
  size_t i;

  if (state == NULL)
    return -1;
  for (i = 0; i < (expected ? n_expected : n_labels); i++)
    state[expected ? expected[i] : i] |= 1;
  out->order = calloc(f->labels.n + 1, sizeof(*out->order));
  out->missing = calloc(n_labels, sizeof(*out->missing));
  if (out->order == NULL || out->missing == NULL) {
    free(state);
    return -1;
  }
  out->unknown = f->unknown;
  for (i = 0; i < f->labels.n; i++) {
    size_t idx = f->labels.v[i];

    if (state[idx] & 2)
      out->duplicates++;
    else if (!(state[idx] & 1))
      out->unexpected++;
    else
      out->order[out->n_order++] = idx;
    state[idx] |= 2;
  }
  for (i = 0; i < (expected ? n_expected : n_labels); i++) {
    size_t idx = expected ? expected[i] : i;

    if (!(state[idx] & 6))
      out->missing[out->n_missing++] = idx;
    state[idx] |= 4;
  }
  free(state);
  return 0;
}

static int fail_with(ranking_result *out, const char *reason) {
  ranking_result_free(out);
  out->reason = reason;
  return -1;
}

int ranking_parse(const char *text, size_t len, const char *const *labels,
                  size_t n_labels, const size_t *expected, size_t n_expected,
                  ranking_result *out) {
  label_set set;
  found f = {0};
  size_t i;
  int rc;

  if (out == NULL)
    return -1;
  memset(out, 0, sizeof(*out));
  rc = labels_init(&set, labels, n_labels);
  for (i = 0; rc == 0 && expected != NULL && i < n_expected; i++) {
    if (expected[i] >= n_labels)
      rc = -1;
  }
  if (rc != 0) {
    free(set.sorted);
    return fail_with(out, rc == -2 ? CX_REASON_WORD(out_of_memory)
                                   : CX_REASON_WORD(bad_labels));
  }
  if (text == NULL)
    len = 0;
  if (!chat_utf8_valid(text, len)) {
    free(set.sorted);
    return fail_with(out, CX_REASON_WORD(invalid_utf8));
  }

  out->source = RANKING_FROM_LIST;
  rc = from_headers(&set, text, len, &f);
  if (rc == 0) {
    out->source = RANKING_FROM_JSON;
    rc = from_fences_or_json(&set, text, len, &f);
  }
  if (rc == 1 && settle(&f, n_labels, expected, n_expected, out) != 0)
    rc = -1;
  free(set.sorted);
  free(f.labels.v);

  if (rc < 0)
    return fail_with(out, CX_REASON_WORD(out_of_memory));
  if (rc == 0)
    return fail_with(out, CX_REASON_WORD(unparseable));
  if (out->n_missing > 0) {
    out->reason = CX_REASON_WORD(incomplete);
    return -1;
  }
  return 0;
}
