/* fuzz_ndjson.c - the NDJSON line splitter (ndjson.c: ndjson_feed,
 * ndjson_finish) fed whole and in the chunks the input's first bytes choose:
 * the lines, and how the split ended, must not depend on the cuts.
 *
 * Input: max_line byte (0: no cap, else 8 * it), stop-after byte (0: never,
 * else the callback stops the splitter at that line), the cuts
 * (fuzz_read_cuts), then the body. */
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "fuzz_util.h"
#include "ndjson.h"

typedef struct line_log {
  buf log;        /* every line: length, bytes */
  size_t lines;   /* delivered so far */
  size_t stop_at; /* return non-zero at this line (1-based), or 0 */
  size_t max_line;
} line_log;

static int on_line(void *ud, const char *line, size_t len) {
  line_log *l = ud;

  FUZZ_CHECK(line != NULL && line[len] == '\0', "NUL-terminated after len");
  FUZZ_CHECK(l->max_line == 0 || len <= l->max_line,
             "line of %zu bytes past the cap %zu", len, l->max_line);
  FUZZ_CHECK(memchr(line, '\n', len) == NULL, "a line holds no LF");
  if (buf_printf(&l->log, "[%zu|", len) != 0 ||
      buf_append(&l->log, line, len) != 0 || buf_append(&l->log, "]", 1) != 0)
    abort();
  l->lines++;
  return l->stop_at != 0 && l->lines == l->stop_at;
}

static int feed(void *ctx, const char *chunk, size_t n) {
  return ndjson_feed(ctx, chunk, n);
}

static ndjson_error run(const char *body, size_t len, const fuzz_cuts *c,
                        size_t max_line, size_t stop_at, line_log *l) {
  ndjson_parser p;
  int rc;

  memset(l, 0, sizeof(*l));
  buf_init(&l->log, 0);
  l->stop_at = stop_at;
  l->max_line = max_line;
  ndjson_init(&p, max_line, on_line, l);
  rc = fuzz_feed(body, len, c, feed, &p);
  if (ndjson_finish(&p) != 0)
    rc = -1;
  FUZZ_CHECK((rc == 0) == (p.error == NDJSON_OK), "return %d, error %d", rc,
             (int)p.error);
  if (p.error != NDJSON_OK)
    FUZZ_CHECK(ndjson_feed(&p, "{}\n", 3) == -1, "a dead splitter stays dead");
  ndjson_free(&p);
  return p.error;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  fuzz_in in = fuzz_in_make(data, size);
  size_t max_line = 8 * (size_t)fuzz_byte(&in);
  size_t stop_at = fuzz_byte(&in) % 8;
  fuzz_cuts cuts = fuzz_read_cuts(&in);
  char *body = fuzz_exact(in.p, in.n);
  line_log whole, split;
  ndjson_error e_whole = run(body, in.n, NULL, max_line, stop_at, &whole);
  ndjson_error e_split = run(body, in.n, &cuts, max_line, stop_at, &split);

  FUZZ_CHECK(e_whole == e_split, "error %d whole, %d split", (int)e_whole,
             (int)e_split);
  FUZZ_CHECK(
      fuzz_same(whole.log.data, whole.log.len, split.log.data, split.log.len),
      "lines differ: whole %zu, split %zu", whole.lines, split.lines);
  buf_free(&whole.log);
  buf_free(&split.log);
  free(body);
  return 0;
}
