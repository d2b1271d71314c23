/* reply_json.c - finding the JSON document in a model's reply: the whole
 * text, a ```json fence (CommonMark's fence rules) or a bare object or
 * array in the prose. json_schema.c validates what it finds; ballot.c and
 * confidence.c read votes and trailers with it. Pure C, no erl_nif. */
#include "reply_json.h"

#include <string.h>

#include "json_schema.h"
#include "json_strict.h"
#include "str.h"

/* 1 when t[a, b) is exactly one JSON value. */
static int whole_value(const char *t, size_t a, size_t b) {
  size_t end, err_at;
  const char *err;

  return a < b &&
         json_strict_scan(t, b, a, JSON_REPLY_MAX_DEPTH, &end, &err_at, &err) ==
             0 &&
         end == b;
}

/* The end of the line starting at i: the offset of its '\n', or len. */
static size_t line_end(const char *t, size_t len, size_t i) {
  const char *nl = memchr(t + i, '\n', len - i);

  return nl != NULL ? (size_t)(nl - t) : len;
}

/* If the line t[i, e) is a fence (up to three spaces, then three or more
 * '`' or '~'), returns its length and sets *ch and *info_at; else 0. */
static size_t fence_at(const char *t, size_t i, size_t e, char *ch,
                       size_t *info_at) {
  size_t k = 0, n = 0;

  while (k < 3 && i + k < e && t[i + k] == ' ')
    k++;
  if (i + k >= e || (t[i + k] != '`' && t[i + k] != '~'))
    return 0;
  *ch = t[i + k];
  while (i + k + n < e && t[i + k + n] == *ch)
    n++;
  *info_at = i + k + n;
  return n >= 3 ? n : 0;
}

/* 1 when the info string t[i, e) is empty or the word json, any case. */
static int info_is_json(const char *t, size_t i, size_t e) {
  size_t a = i, b = e;

  str_trim(t, &a, &b);
  return a == b || (b - a == 4 && strncasecmp(t + a, "json", 4) == 0);
}

/* 1 when the line t[i, e) closes a fence of n characters ch. */
static int closes(const char *t, size_t i, size_t e, char ch, size_t n) {
  char c2;
  size_t info_at, m = fence_at(t, i, e, &c2, &info_at), a = info_at, b = e;

  if (m < n || c2 != ch)
    return 0;
  str_trim(t, &a, &b);
  return a == b;
}

int json_fence_next(const char *text, size_t len, size_t *pos, json_fence *f) {
  size_t i = *pos;

  while (text != NULL && i < len) {
    size_t e = line_end(text, len, i), info_at, n, j;
    char ch;

    n = fence_at(text, i, e, &ch, &info_at);
    if (n == 0 ||
        (ch == '`' && memchr(text + info_at, '`', e - info_at) != NULL)) {
      i = e + 1; /* not a fence, or an inline code span */
      continue;
    }
    for (j = e + 1; j < len && !closes(text, j, line_end(text, len, j), ch, n);)
      j = line_end(text, len, j) + 1;
    f->start = i;
    f->content = e < len ? e + 1 : len;
    f->content_end = j < len ? j : len;
    if (f->content_end < f->content)
      f->content_end = f->content;
    f->closed = j < len;
    f->end = j < len ? line_end(text, len, j) : len;
    f->json = info_is_json(text, info_at, e);
    *pos = f->end < len ? f->end + 1 : len;
    return 1;
  }
  *pos = len;
  return 0;
}

/* Finds the first fenced block tagged json or untagged that accept takes;
 * its content, trimmed, goes in [*a, *b). Blocks in other languages are
 * skipped whole. */
static int find_fence(const char *t, size_t len, json_accept_fn accept,
                      void *ctx, size_t *a, size_t *b) {
  size_t pos = 0;
  json_fence f;

  while (json_fence_next(t, len, &pos, &f)) {
    size_t fa = f.content, fb = f.content_end;

    if (!f.json)
      continue;
    str_trim(t, &fa, &fb);
    if (accept == NULL || accept(t + fa, fb - fa, ctx)) {
      *a = fa;
      *b = fb;
      return 1;
    }
  }
  return 0;
}

/* How many '{' / '[' positions rule 3 tries before giving up. */
#define EXTRACT_MAX_TRIES 32

/* The first whole object or array from a '{' or '[' that accept takes. A
 * value it refuses is stepped over whole, so nothing nested inside it is
 * taken on its own. */
static int find_braces(const char *t, size_t len, json_accept_fn accept,
                       void *ctx, size_t *a, size_t *b) {
  size_t i = 0, tries = 0, end, err_at;
  const char *err;

  while (i < len && tries < EXTRACT_MAX_TRIES) {
    if (t[i] != '{' && t[i] != '[') {
      i++;
      continue;
    }
    tries++;
    if (json_strict_scan(t, len, i, JSON_REPLY_MAX_DEPTH, &end, &err_at,
                         &err) != 0) {
      i++;
      continue;
    }
    if (accept == NULL || accept(t + i, end - i, ctx)) {
      *a = i;
      *b = end;
      return 1;
    }
    i = end;
  }
  return 0;
}

int json_extract_reply_if(const char *text, size_t len, json_accept_fn accept,
                          void *ctx, size_t *start, size_t *end) {
  size_t a = 0, b = len;

  *start = *end = 0;
  if (text == NULL)
    return -1;
  str_trim(text, &a, &b);
  *start = a;
  *end = b;
  if (whole_value(text, a, b) &&
      (accept == NULL || accept(text + a, b - a, ctx)))
    return 0;
  if (find_fence(text, len, accept, ctx, start, end) ||
      find_braces(text, len, accept, ctx, start, end))
    return 0;
  *start = a;
  *end = b;
  return -1;
}

int json_extract_reply(const char *text, size_t len, size_t *start,
                       size_t *end) {
  return json_extract_reply_if(text, len, NULL, NULL, start, end);
}
