/* fuzz_sse.c - the SSE parser (sse.c: sse_feed, sse_finish) fed whole and in
 * the chunks the input's first bytes choose: the events, and how the parse
 * ended, must not depend on where the body was cut.
 *
 * Input: max_event byte (0: no cap, else 8 * it), stop-after byte (0: never
 * stop, else the callback stops the parser at that event), the cuts
 * (fuzz_read_cuts), then the body. */
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "fuzz_util.h"
#include "sse.h"

typedef struct sse_log {
  buf log;        /* every event: name, data length, data */
  size_t events;  /* dispatched so far */
  size_t stop_at; /* return non-zero at this event (1-based), or 0 */
  size_t max_event;
} sse_log;

static int on_event(void *ud, const char *event, const char *data, size_t len) {
  sse_log *l = ud;

  FUZZ_CHECK(data != NULL, "data is never NULL");
  FUZZ_CHECK(data[len] == '\0', "data is NUL-terminated after len");
  FUZZ_CHECK(l->max_event == 0 || len <= l->max_event,
             "event of %zu bytes past the cap %zu", len, l->max_event);
  FUZZ_CHECK(event == NULL || event[0] != '\0', "an empty name is NULL");
  if (buf_printf(&l->log, "[%s|%zu|", event ? event : "(null)", len) != 0 ||
      buf_append(&l->log, data, len) != 0 || buf_append(&l->log, "]", 1) != 0)
    abort();
  l->events++;
  return l->stop_at != 0 && l->events == l->stop_at;
}

static int feed(void *ctx, const char *chunk, size_t n) {
  return sse_feed(ctx, chunk, n);
}

/* Parses body cut as c says (NULL: whole) into *l; the parser's error. */
static sse_error run(const char *body, size_t len, const fuzz_cuts *c,
                     size_t max_event, size_t stop_at, sse_log *l) {
  sse_parser p;
  int rc;

  memset(l, 0, sizeof(*l));
  buf_init(&l->log, 0);
  l->stop_at = stop_at;
  l->max_event = max_event;
  sse_init(&p, max_event, on_event, l);
  rc = fuzz_feed(body, len, c, feed, &p);
  if (sse_finish(&p) != 0)
    rc = -1;
  FUZZ_CHECK((rc == 0) == (p.error == SSE_OK), "return %d, error %d", rc,
             (int)p.error);
  if (p.error != SSE_OK)
    FUZZ_CHECK(sse_feed(&p, "data: x\n\n", 9) == -1,
               "a dead parser stays dead");
  sse_free(&p);
  return p.error;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  fuzz_in in = fuzz_in_make(data, size);
  size_t max_event = 8 * (size_t)fuzz_byte(&in);
  size_t stop_at = fuzz_byte(&in) % 8;
  fuzz_cuts cuts = fuzz_read_cuts(&in);
  char *body = fuzz_exact(in.p, in.n);
  sse_log whole, split;
  sse_error e_whole = run(body, in.n, NULL, max_event, stop_at, &whole);
  sse_error e_split = run(body, in.n, &cuts, max_event, stop_at, &split);

  FUZZ_CHECK(e_whole == e_split, "error %d whole, %d split", (int)e_whole,
             (int)e_split);
  FUZZ_CHECK(
      fuzz_same(whole.log.data, whole.log.len, split.log.data, split.log.len),
      "events differ: whole %zu, split %zu", whole.events, split.events);
  buf_free(&whole.log);
  buf_free(&split.log);
  free(body);
  return 0;
}
