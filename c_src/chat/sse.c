/* sse.c - an incremental Server-Sent Events parser.
 *
 * The rules, from WHATWG HTML "9.2.6 Interpreting an event stream":
 *   - a line ends at CRLF, LF or CR; a UTF-8 BOM at the very start is
 *     skipped;
 *   - a line starting with ':' is a comment;
 *   - "name:value" sets a field, one space after the colon is dropped; a
 *     line without a colon is a field with an empty value;
 *   - `data` appends its value to the event's data, lines joined with LF;
 *     `event` sets the event name; `id`, `retry` and unknown fields are
 *     ignored (no provider relies on reconnection);
 *   - a blank line dispatches the event, unless it had no data line.
 * Bytes are passed through as they are: checking the encoding is left to
 * whoever reads the data.
 *
 * A CR is acted on at once, when it arrives: it always ends a line, and
 * after_cr remembers it so a LF that follows (maybe in the next chunk) is
 * taken as the rest of that CRLF, not as a blank line. This gives the same
 * events as holding the CR back until the next byte, without delaying the
 * event a lone CR ends. */
#include "sse.h"

#include <string.h>

static const unsigned char bom_bytes[3] = {0xEF, 0xBB, 0xBF};

void sse_init(sse_parser *p, size_t max_event, sse_event_cb cb, void *ud) {
  p->cb = cb;
  p->ud = ud;
  p->max_event = max_event;
  buf_init(&p->line, 0);
  buf_init(&p->name, 0);
  buf_init(&p->data, 0);
  p->has_data = 0;
  p->after_cr = 0;
  p->in_comment = 0;
  p->bom = 0;
  p->error = SSE_OK;
}

void sse_free(sse_parser *p) {
  buf_free(&p->line);
  buf_free(&p->name);
  buf_free(&p->data);
}

static int fail(sse_parser *p, sse_error e) {
  if (p->error == SSE_OK)
    p->error = e;
  return -1;
}

/* 1 when n bytes would take a buffer already holding `have` past the cap. */
static int too_large(const sse_parser *p, size_t have, size_t n) {
  return p->max_event > 0 && (have > p->max_event || n > p->max_event - have);
}

static void clear_event(sse_parser *p) {
  buf_free(&p->name);
  buf_free(&p->data);
  p->has_data = 0;
}

/* Hands the pending event to the callback and starts a new one. */
static int dispatch(sse_parser *p) {
  const char *name = p->name.len > 0 ? p->name.data : NULL;
  const char *data = p->data.len > 0 ? p->data.data : "";
  int rc;

  if (!p->has_data) { /* no data line: nothing to dispatch */
    clear_event(p);
    return 0;
  }
  rc = p->cb(p->ud, name, data, p->data.len);
  clear_event(p);
  return rc != 0 ? fail(p, SSE_STOPPED) : 0;
}

static int is_field(const char *s, size_t n, const char *field) {
  return n == strlen(field) && memcmp(s, field, n) == 0;
}

static int add_data(sse_parser *p, const char *value, size_t n) {
  size_t sep = p->has_data ? 1 : 0;

  if (too_large(p, p->data.len, sep + n))
    return fail(p, SSE_TOO_LARGE);
  if ((sep && buf_append(&p->data, "\n", 1) != 0) ||
      buf_append(&p->data, value, n) != 0)
    return fail(p, SSE_NO_MEMORY);
  p->has_data = 1;
  return 0;
}

/* A name is handed out as a C string, so a NUL inside it would cut it
 * short and could make it look like another, known name. */
static int set_name(sse_parser *p, const char *value, size_t n) {
  if (memchr(value, '\0', n) != NULL)
    return fail(p, SSE_BAD_NAME);
  buf_free(&p->name);
  if (buf_append(&p->name, value, n) != 0)
    return fail(p, SSE_NO_MEMORY);
  return 0;
}

/* Acts on one complete line, without its line end. */
static int process_line(sse_parser *p, const char *s, size_t n) {
  const char *colon, *value;
  size_t name_len, value_len;

  if (n == 0)
    return dispatch(p);
  if (s[0] == ':')
    return 0;
  colon = memchr(s, ':', n);
  name_len = colon != NULL ? (size_t)(colon - s) : n;
  value = colon != NULL ? colon + 1 : s + n;
  value_len = n - (size_t)(value - s);
  if (value_len > 0 && value[0] == ' ') {
    value++;
    value_len--;
  }
  if (is_field(s, name_len, "data"))
    return add_data(p, value, value_len);
  if (is_field(s, name_len, "event"))
    return set_name(p, value, value_len);
  return 0;
}

/* A line ended: its start may wait in p->line, s[0..n) is the rest. */
static int end_line(sse_parser *p, const char *s, size_t n) {
  int rc;

  if (p->in_comment) {
    p->in_comment = 0;
    return 0;
  }
  if (p->line.len == 0) {
    if (n > 0 && s[0] != ':' && too_large(p, 0, n))
      return fail(p, SSE_TOO_LARGE);
    return process_line(p, s, n);
  }
  if (too_large(p, p->line.len, n))
    return fail(p, SSE_TOO_LARGE);
  if (buf_append(&p->line, s, n) != 0)
    return fail(p, SSE_NO_MEMORY);
  rc = process_line(p, p->line.data, p->line.len);
  buf_free(&p->line);
  return rc;
}

/* The chunk ended inside a line: keep s[0..n) for later. Comments are not
 * kept (nor capped): only their end matters. */
static int keep_partial(sse_parser *p, const char *s, size_t n) {
  if (p->in_comment)
    return 0;
  if (p->line.len == 0 && s[0] == ':') {
    p->in_comment = 1;
    return 0;
  }
  if (too_large(p, p->line.len, n))
    return fail(p, SSE_TOO_LARGE);
  if (buf_append(&p->line, s, n) != 0)
    return fail(p, SSE_NO_MEMORY);
  return 0;
}

/* Offset of the first CR or LF in s[0..n), or n. */
static size_t find_eol(const char *s, size_t n) {
  size_t i;

  for (i = 0; i < n; i++) {
    if (s[i] == '\n' || s[i] == '\r')
      break;
  }
  return i;
}

/* Cuts s[0..n) into lines (the BOM is already handled). */
static int consume(sse_parser *p, const char *s, size_t n) {
  size_t i = 0, eol;

  while (i < n) {
    if (p->after_cr) {
      p->after_cr = 0;
      if (s[i] == '\n') {
        i++;
        continue;
      }
    }
    eol = find_eol(s + i, n - i);
    if (eol == n - i)
      return keep_partial(p, s + i, n - i);
    if (end_line(p, s + i, eol) != 0)
      return -1;
    p->after_cr = s[i + eol] == '\r';
    i += eol + 1;
  }
  return 0;
}

int sse_feed(sse_parser *p, const char *data, size_t len) {
  const unsigned char *u = (const unsigned char *)data;
  size_t i = 0;

  if (p->error != SSE_OK)
    return -1;
  if (len == 0)
    return 0;
  if (data == NULL) /* a caller bug; refuse rather than crash */
    return fail(p, SSE_STOPPED);
  /* The BOM may itself arrive split across chunks. When the start turns
   * out not to be one, the bytes matched so far are ordinary text. */
  while (p->bom < 3 && i < len) {
    int matched = p->bom;

    if (u[i] == bom_bytes[matched]) {
      p->bom++;
      i++;
      continue;
    }
    p->bom = 3;
    if (matched > 0 &&
        consume(p, (const char *)bom_bytes, (size_t)matched) != 0)
      return -1;
  }
  return consume(p, data + i, len - i);
}

/* The WHATWG rules drop an event the body ends in before its blank line.
 * We dispatch it when the body ended right after a line end: every line
 * of it arrived whole, only the blank line is missing, and some servers
 * and proxies do end a body that way. A body that ends inside a line was
 * cut, so the event is dropped with that line: its data can't be trusted,
 * and a dialect's end marker that is lost with it turns into
 * "truncated_stream" rather than a half event. */
int sse_finish(sse_parser *p) {
  int mid_line = p->line.len > 0 || p->in_comment || (p->bom > 0 && p->bom < 3);
  int rc = 0;

  if (p->error != SSE_OK)
    return -1;
  if (!mid_line)
    rc = dispatch(p);
  buf_free(&p->line);
  clear_event(p);
  p->in_comment = 0;
  p->after_cr = 0;
  return rc;
}
