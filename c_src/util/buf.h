/* buf.h - a growable byte buffer, and the one growable array (pure C, no
 * erl_nif).
 *
 * Every function returns 0 on success and -1 when memory runs out or a
 * length limit is hit; on error the buffer is left as it was. */
#ifndef CX_BUF_H
#define CX_BUF_H

#include <stddef.h>

typedef struct buf {
  char *data; /* NUL-terminated whenever len > 0 */
  size_t len;
  size_t cap;
  size_t limit; /* 0 = no limit; appends past it fail */
} buf;

void buf_init(buf *b, size_t limit);

/* Makes room for `extra` more bytes at once (e.g. a known body size). */
int buf_reserve(buf *b, size_t extra);
int buf_append(buf *b, const void *data, size_t len);
int buf_puts(buf *b, const char *s);
/* Appends a formatted string (vsnprintf underneath). */
int buf_printf(buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Hands the data to the caller (who frees it) and resets the buffer. */
char *buf_detach(buf *b, size_t *len);
void buf_free(buf *b);

/* Makes room for element number len of the array *items (*cap elements of
 * size bytes; NULL while *cap is 0): nothing when len < *cap, else a
 * realloc to twice *cap (16 at first), *items and *cap updated. 0, or -1
 * (nothing changed) when memory runs out or the size would overflow. */
int buf_grow_array(void *items, size_t *cap, size_t len, size_t size);

#endif
