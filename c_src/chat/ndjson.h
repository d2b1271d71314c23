/* ndjson.h - an incremental newline-delimited JSON line splitter.
 *
 * Ollama's native /api/chat streams one JSON object per line
 * (application/x-ndjson). Bytes go in through ndjson_feed in chunks of any
 * size; every complete line comes out through the callback, and the
 * unfinished rest waits inside. The lines seen do not depend on where the
 * chunks were cut. Lines are not parsed here. Pure C. */
#ifndef CX_NDJSON_H
#define CX_NDJSON_H

#include <stddef.h>

#include "buf.h"

/* Called once per line, without its "\n" or "\r\n"; line is len bytes,
 * NUL-terminated after them, and does not outlive the call. Return 0 to go
 * on, non-zero to stop the splitter (it then fails with NDJSON_STOPPED). */
typedef int (*ndjson_line_cb)(void *ud, const char *line, size_t len);

typedef enum ndjson_error {
  NDJSON_OK = 0,
  NDJSON_TOO_LARGE, /* a line longer than max_line */
  NDJSON_NO_MEMORY,
  NDJSON_STOPPED /* the callback returned non-zero */
} ndjson_error;

typedef struct ndjson_parser {
  ndjson_line_cb cb;
  void *ud;
  size_t max_line;
  buf line;           /* the start of a line that spans chunks */
  ndjson_error error; /* the first failure; the splitter is dead after it */
} ndjson_parser;

/* Sets p up to call cb(ud, ...) per line. max_line caps a line (0: no
 * cap). Allocates nothing; can't fail. */
void ndjson_init(ndjson_parser *p, size_t max_line, ndjson_line_cb cb,
                 void *ud);

/* Splits the next chunk. 0, or -1 with p->error set; after a failure every
 * call returns -1 and no more lines are delivered. */
int ndjson_feed(ndjson_parser *p, const char *data, size_t len);

/* The body has ended: a last line without its "\n" is delivered now. 0, or
 * -1 with p->error set. Feed nothing after this. */
int ndjson_finish(ndjson_parser *p);

/* Frees what p holds; p may be initialised again. */
void ndjson_free(ndjson_parser *p);

#endif
