/* fuzz_reply_json.c - finding the JSON document in a model's reply
 * (reply_json.c: json_extract_reply, json_extract_reply_if,
 * json_fence_next) on any text: every span inside the text, the three
 * entry points agreeing, and the span returned the one accept took.
 *
 * Input: an accept byte (0: take anything; else take a candidate whose
 * length % (byte % 7 + 2) is 0, or that opens with '{' when bit 7 is
 * set), then the reply. */
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"
#include "reply_json.h"
#include "str.h"

typedef struct picker {
  const char *text;
  size_t len;
  unsigned rule;
  size_t calls;
  const char *took; /* the last candidate taken */
  size_t took_len;
} picker;

static int pick(const char *doc, size_t len, void *ctx) {
  picker *p = ctx;
  int take;

  FUZZ_CHECK(doc >= p->text && len <= p->len &&
                 (size_t)(doc - p->text) <= p->len - len,
             "a candidate [%td, +%zu) outside the %zu bytes", doc - p->text,
             len, p->len);
  p->calls++;
  take = p->rule == 0 || len % (p->rule % 7 + 2) == 0 ||
         (p->rule & 0x80 && len > 0 && doc[0] == '{');
  if (take) {
    p->took = doc;
    p->took_len = len;
  }
  return take;
}

static void check_span(int rc, size_t start, size_t end, const char *text,
                       size_t len) {
  size_t a = 0, b = len;

  FUZZ_CHECK(rc == 0 || rc == -1, "rc %d", rc);
  FUZZ_CHECK(start <= end && end <= len, "span [%zu, %zu) of %zu", start, end,
             len);
  str_trim(text, &a, &b);
  if (rc == -1)
    FUZZ_CHECK(start == a && end == b,
               "nothing found: [%zu, %zu), trimmed "
               "[%zu, %zu)",
               start, end, a, b);
}

static void check_fences(const char *text, size_t len) {
  size_t pos = 0, last = 0, n = 0;
  json_fence f;

  while (json_fence_next(text, len, &pos, &f)) {
    FUZZ_CHECK(f.start >= last && f.start <= f.content &&
                   f.content <= f.content_end && f.content_end <= f.end &&
                   f.end <= len,
               "fence %zu: %zu %zu %zu %zu of %zu", n, f.start, f.content,
               f.content_end, f.end, len);
    FUZZ_CHECK(pos > f.start && pos <= len, "pos %zu after a fence at %zu", pos,
               f.start);
    FUZZ_CHECK(f.start == 0 || text[f.start - 1] == '\n',
               "a fence opens a line");
    last = pos;
    n++;
  }
  FUZZ_CHECK(pos == len, "the walk ends at the end: %zu of %zu", pos, len);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  fuzz_in in = fuzz_in_make(data, size);
  unsigned rule = fuzz_byte(&in);
  char *text = fuzz_exact(in.p, in.n);
  size_t s1, e1, s2, e2, s3, e3, s4, e4;
  picker all = {text, in.n, 0, 0, NULL, 0},
         some = {text, in.n, rule, 0, NULL, 0};
  int r1 = json_extract_reply(text, in.n, &s1, &e1);
  int r2 = json_extract_reply_if(text, in.n, NULL, NULL, &s2, &e2);
  int r3 = json_extract_reply_if(text, in.n, pick, &all, &s3, &e3);
  int r4 = json_extract_reply_if(text, in.n, pick, &some, &s4, &e4);

  check_span(r1, s1, e1, text, in.n);
  check_span(r4, s4, e4, text, in.n);
  FUZZ_CHECK(r1 == r2 && s1 == s2 && e1 == e2, "NULL accept differs");
  FUZZ_CHECK(r1 == r3 && s1 == s3 && e1 == e3,
             "an accept taking all differs: %d [%zu, %zu) / %d [%zu, %zu)", r1,
             s1, e1, r3, s3, e3);
  FUZZ_CHECK(r3 != 0 || all.calls == 1, "taking all stops at the first");
  if (r4 == 0)
    FUZZ_CHECK(some.took == text + s4 && some.took_len == e4 - s4,
               "returned [%zu, %zu), the last taken was [%td, +%zu)", s4, e4,
               some.took - text, some.took_len);
  else
    FUZZ_CHECK(some.took == NULL, "a candidate was taken, none returned");
  check_fences(text, in.n);
  free(text);
  return 0;
}
