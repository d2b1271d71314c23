/* buf.c - a growable byte buffer with an optional length limit.
 *
 * The data is kept NUL-terminated (the NUL is not counted in len) so it can
 * be handed to C string functions. Pure C, no erl_nif. */
#include "buf.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Request bodies and replies are rarely smaller: fewer reallocs. */
#define BUF_MIN_CAP 512

void buf_init(buf *b, size_t limit) {
  b->data = NULL;
  b->len = 0;
  b->cap = 0;
  b->limit = limit;
}

/* Makes room for `extra` more bytes plus the NUL. On failure nothing
 * changes. */
int buf_reserve(buf *b, size_t extra) {
  size_t need, cap;
  char *p;

  if (extra > SIZE_MAX - 1 - b->len)
    return -1;
  need = b->len + extra;
  if (b->limit > 0 && need > b->limit)
    return -1;
  if (need + 1 <= b->cap)
    return 0;

  /* A first reservation larger than the minimum is a known size (a reply's
   * Content-Length): exactly that, no doubling. */
  cap = b->cap == 0 ? need + 1 : b->cap;
  if (cap < BUF_MIN_CAP)
    cap = BUF_MIN_CAP;
  while (cap < need + 1) {
    if (cap > SIZE_MAX / 2) {
      cap = need + 1;
      break;
    }
    cap *= 2;
  }
  p = realloc(b->data, cap);
  if (p == NULL)
    return -1;
  b->data = p;
  b->cap = cap;
  return 0;
}

int buf_append(buf *b, const void *data, size_t len) {
  if (len == 0)
    return 0;
  if (data == NULL || buf_reserve(b, len) != 0)
    return -1;
  memcpy(b->data + b->len, data, len);
  b->len += len;
  b->data[b->len] = '\0';
  return 0;
}

int buf_puts(buf *b, const char *s) {
  if (s == NULL)
    return -1;
  return buf_append(b, s, strlen(s));
}

int buf_printf(buf *b, const char *fmt, ...) {
  va_list ap;
  int n;

  /* First pass: learn the length. Second pass: write into reserved room,
   * so a failure leaves the buffer as it was. */
  va_start(ap, fmt);
  n = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  if (n < 0)
    return -1;
  if (n == 0)
    return 0;
  if (buf_reserve(b, (size_t)n) != 0)
    return -1;

  va_start(ap, fmt);
  n = vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
  va_end(ap);
  if (n < 0) {
    b->data[b->len] = '\0';
    return -1;
  }
  b->len += (size_t)n;
  return 0;
}

char *buf_detach(buf *b, size_t *len) {
  char *data = b->data;

  /* An empty buffer may own no memory yet; the caller still gets a
   * string it can free. */
  if (data == NULL) {
    data = malloc(1);
    if (data == NULL)
      return NULL;
    data[0] = '\0';
  }
  if (len != NULL)
    *len = b->len;
  buf_init(b, b->limit);
  return data;
}

void buf_free(buf *b) {
  free(b->data);
  buf_init(b, b->limit);
}

int buf_grow_array(void *items, size_t *cap, size_t len, size_t size) {
  void **p = items, *q;
  size_t n = *cap ? *cap * 2 : 16;

  if (len < *cap)
    return 0;
  if (n < *cap || n > SIZE_MAX / size || (q = realloc(*p, n * size)) == NULL)
    return -1;
  *p = q;
  *cap = n;
  return 0;
}
