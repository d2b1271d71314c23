/* reply_json.h - finding the JSON document in a model's reply, which may
 * hold prose, markdown fences or nothing but the document. Pure C. */
#ifndef CX_REPLY_JSON_H
#define CX_REPLY_JSON_H

#include <stddef.h>

/* Finds the JSON document in a model's reply, trying in order:
 *   1. the whole text, less surrounding whitespace, if it is one JSON value;
 *   2. the first fenced code block (a line opening with ``` or ~~~, up to
 *      three spaces indented) whose info string is empty or "json" (any
 *      case): its content, less surrounding whitespace. The block ends at
 *      a closing fence line of the same character at least as long, or at
 *      the end of the text (CommonMark's rule), and is taken even if it
 *      does not hold valid JSON, so the error names the real problem;
 *   3. the first '{' or '[' from which a whole JSON object or array
 *      parses; at most 32 start positions are tried.
 * Returns 0 with the document at text[*start, *end), or -1 when nothing
 * was found, with [*start, *end) the whole text less surrounding
 * whitespace (so validating it reports why it is not JSON). */
int json_extract_reply(const char *text, size_t len, size_t *start,
                       size_t *end);

/* Decides whether a candidate document doc[0..len) is the one wanted
 * (nonzero: take it). ctx is the caller's. */
typedef int (*json_accept_fn)(const char *doc, size_t len, void *ctx);

/* json_extract_reply for callers that want a document of a certain shape
 * (an object holding "choice", say): the same three steps in the same
 * order, but every candidate is offered to accept and the first one it
 * takes is returned. Step 2 then goes on to later json fences, step 3 to
 * later '{' / '[' (stepping over a refused value whole, so nothing nested
 * in it is offered alone; still at most 32 start positions). Returns as
 * json_extract_reply; accept NULL takes the first candidate, which is
 * json_extract_reply itself. */
int json_extract_reply_if(const char *text, size_t len, json_accept_fn accept,
                          void *ctx, size_t *start, size_t *end);

/* One fenced code block, as json_extract_reply reads fences (offsets into
 * the text). */
typedef struct json_fence {
  size_t start;       /* the opening fence line */
  size_t content;     /* the lines between the fences: [content, */
  size_t content_end; /*   content_end), untrimmed */
  size_t end;         /* the end of the closing fence line (before its
                         newline), or the text's length when unclosed */
  int closed;
  int json; /* the info string is empty or "json", any case */
} json_fence;

/* Finds the first fenced code block whose opening line starts at or after
 * *pos, which must be the start of a line (0 to begin). Returns 1 with *f
 * filled and *pos moved past the block, or 0 when there is none. Walking
 * from 0 visits the blocks in order, each closed as CommonMark closes it
 * (or running to the end of the text), so a fence line inside a block is
 * never taken for an opening one. */
int json_fence_next(const char *text, size_t len, size_t *pos, json_fence *f);

#endif
