/* ndjson.c - an incremental newline-delimited JSON line splitter.
 *
 * A line ends at LF; a CR just before the LF belongs to the line end. A
 * line holding nothing but JSON whitespace (space, tab, CR) is skipped: it
 * carries no value, and keep-alive blank lines must not fail the stream. A
 * lone CR elsewhere is left in the line (it is JSON whitespace). */
#include "ndjson.h"

#include <string.h>

void ndjson_init(ndjson_parser *p, size_t max_line, ndjson_line_cb cb,
                 void *ud) {
  p->cb = cb;
  p->ud = ud;
  p->max_line = max_line;
  buf_init(&p->line, 0);
  p->error = NDJSON_OK;
}

void ndjson_free(ndjson_parser *p) { buf_free(&p->line); }

static int fail(ndjson_parser *p, ndjson_error e) {
  if (p->error == NDJSON_OK)
    p->error = e;
  return -1;
}

/* 1 when a line of `have` + n bytes is past `cap` (0: no cap). */
static int too_large(size_t cap, size_t have, size_t n) {
  return cap > 0 && (have > cap || n > cap - have);
}

static int blank(const char *s, size_t n) {
  size_t i;

  for (i = 0; i < n; i++) {
    if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r')
      return 0;
  }
  return 1;
}

/* Delivers the line in p->line (without its LF) and empties p->line. The
 * line goes out from p->line even when it sat whole in one chunk, so the
 * callback can count on a NUL after it. */
static int deliver(ndjson_parser *p) {
  char *s = p->line.data;
  size_t n = p->line.len;
  int rc = 0;

  if (n > 0 && s[n - 1] == '\r')
    s[--n] = '\0';
  if (too_large(p->max_line, 0, n))
    rc = fail(p, NDJSON_TOO_LARGE);
  else if (!blank(s, n) && p->cb(p->ud, s, n) != 0)
    rc = fail(p, NDJSON_STOPPED);
  buf_free(&p->line);
  return rc;
}

/* A line ended: its start may wait in p->line, s[0..n) is the rest. */
static int end_line(ndjson_parser *p, const char *s, size_t n) {
  if (buf_append(&p->line, s, n) != 0)
    return fail(p, NDJSON_NO_MEMORY);
  if (p->line.len == 0) /* an empty line: nothing to deliver */
    return 0;
  return deliver(p);
}

/* Keeps the start of a line for the next chunk. The cap leaves room for a
 * CR whose LF has not arrived yet, so a line that fits passes whatever the
 * chunking; deliver() applies the exact cap. */
static int keep_partial(ndjson_parser *p, const char *s, size_t n) {
  if (p->max_line > 0 && too_large(p->max_line + 1, p->line.len, n))
    return fail(p, NDJSON_TOO_LARGE);
  if (buf_append(&p->line, s, n) != 0)
    return fail(p, NDJSON_NO_MEMORY);
  return 0;
}

int ndjson_feed(ndjson_parser *p, const char *data, size_t len) {
  size_t i = 0;

  if (p->error != NDJSON_OK)
    return -1;
  if (len == 0)
    return 0;
  if (data == NULL) /* a caller bug; refuse rather than crash */
    return fail(p, NDJSON_STOPPED);
  while (i < len) {
    const char *lf = memchr(data + i, '\n', len - i);
    size_t n;

    if (lf == NULL)
      return keep_partial(p, data + i, len - i);
    n = (size_t)(lf - (data + i));
    if (end_line(p, data + i, n) != 0)
      return -1;
    i += n + 1;
  }
  return 0;
}

int ndjson_finish(ndjson_parser *p) {
  if (p->error != NDJSON_OK)
    return -1;
  return p->line.len > 0 ? deliver(p) : 0;
}
