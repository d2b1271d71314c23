/* sse.h - an incremental Server-Sent Events (text/event-stream) parser.
 *
 * Bytes go in through sse_feed in chunks of any size; every complete event
 * comes out through the callback, and the unfinished rest waits inside the
 * parser for the next chunk. The events seen do not depend on where the
 * chunks were cut. Follows the WHATWG HTML "event stream interpretation"
 * rules, narrowed to what LLM providers use (see sse.c). Pure C. */
#ifndef CX_SSE_H
#define CX_SSE_H

#include <stddef.h>

#include "buf.h"

/* Called once per dispatched event. event is the event name, or NULL when
 * the event had no (or an empty) `event:` line; data is the event's data
 * lines joined with '\n', len bytes, NUL-terminated after them, never
 * NULL. Neither pointer outlives the call. Return 0 to go on, non-zero to
 * stop the parser (it then fails with SSE_STOPPED). */
typedef int (*sse_event_cb)(void *ud, const char *event, const char *data,
                            size_t len);

typedef enum sse_error {
  SSE_OK = 0,
  SSE_TOO_LARGE, /* a line or an event's data longer than max_event */
  SSE_BAD_NAME,  /* an `event:` name holding a NUL byte */
  SSE_NO_MEMORY,
  SSE_STOPPED /* the callback returned non-zero */
} sse_error;

typedef struct sse_parser {
  sse_event_cb cb;
  void *ud;
  size_t max_event;
  buf line;        /* the start of a line that spans chunks */
  buf name;        /* the pending event's name */
  buf data;        /* the pending event's data lines, joined with '\n' */
  int has_data;    /* a data line was read: the event will be dispatched */
  int after_cr;    /* the last byte ended a line with CR: a LF next is part
                      of that line end, not a blank line */
  int in_comment;  /* inside a comment line that spans chunks */
  int bom;         /* bytes of the UTF-8 BOM matched at the stream start;
                      3 once the start is behind us */
  sse_error error; /* the first failure; the parser is dead after it */
} sse_parser;

/* Sets p up to call cb(ud, ...) per event. max_event caps a line and an
 * event's data (0: no cap). Allocates nothing; can't fail. */
void sse_init(sse_parser *p, size_t max_event, sse_event_cb cb, void *ud);

/* Parses the next chunk. 0, or -1 with p->error set; after a failure every
 * call returns -1 and nothing more is dispatched. */
int sse_feed(sse_parser *p, const char *data, size_t len);

/* The body has ended: dispatches the last event if it lacked its blank
 * line but the body ended on a line end (see sse.c), and drops whatever is
 * left. 0, or -1 with p->error set. Feed nothing after this. */
int sse_finish(sse_parser *p);

/* Frees what p holds; p may be initialised again. */
void sse_free(sse_parser *p);

#endif
