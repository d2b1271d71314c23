/* fuzz_util.h - what the libFuzzer harnesses share: reading parameters off
 * the front of the input, cutting the rest into chunks, exact-size copies
 * (so AddressSanitizer sees a read past any piece) and failing loudly.
 *
 * Header only: each harness is one file, linked alone against the core.
 * Harnesses take their parameters from the first bytes of the input and
 * treat the rest as the text under test, so a seed is a few parameter
 * bytes followed by a real body (see test/fuzz/corpus/). */
#ifndef CX_FUZZ_UTIL_H
#define CX_FUZZ_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* An invariant of the code under test: a broken one is a crash, with the
 * condition and a message in the report. */
#define FUZZ_CHECK(cond, ...)                                                  \
  do {                                                                         \
    if (!(cond)) {                                                             \
      fprintf(stderr, "fuzz invariant broken at %s:%d: %s\n  ", __FILE__,      \
              __LINE__, #cond);                                                \
      fprintf(stderr, __VA_ARGS__);                                            \
      fputc('\n', stderr);                                                     \
      abort();                                                                 \
    }                                                                          \
  } while (0)

/* The input, consumed from the front. */
typedef struct fuzz_in {
  const uint8_t *p;
  size_t n;
} fuzz_in;

static inline fuzz_in fuzz_in_make(const uint8_t *data, size_t size) {
  fuzz_in in = {data, size};
  return in;
}

/* The next byte, or 0 once the input is used up. */
static inline unsigned fuzz_byte(fuzz_in *in) {
  if (in->n == 0)
    return 0;
  in->n--;
  return *in->p++;
}

/* The next two bytes, big-endian. */
static inline unsigned fuzz_u16(fuzz_in *in) {
  unsigned hi = fuzz_byte(in);
  return hi << 8 | fuzz_byte(in);
}

/* A malloc'd copy of s[0..len) of exactly len bytes (at least 1 allocated,
 * never read), so a read past the end is an ASan report. Aborts on
 * out-of-memory: that is not what is being tested. */
static inline char *fuzz_exact(const void *s, size_t len) {
  char *p = malloc(len ? len : 1);

  FUZZ_CHECK(p != NULL, "out of memory");
  if (len)
    memcpy(p, s, len);
  return p;
}

/* The same with a NUL after the bytes, for parsers that promise to read no
 * further than len but whose callers hand NUL-terminated text anyway. */
static inline char *fuzz_strndup(const void *s, size_t len) {
  char *p = malloc(len + 1);

  FUZZ_CHECK(p != NULL, "out of memory");
  if (len)
    memcpy(p, s, len);
  p[len] = '\0';
  return p;
}

/* Cuts for a streamed body: up to FUZZ_MAX_CUTS offsets. */
#define FUZZ_MAX_CUTS 16

typedef struct fuzz_cuts {
  size_t at[FUZZ_MAX_CUTS];
  size_t n;
  int bytewise; /* feed one byte at a time instead */
} fuzz_cuts;

/* Reads the cuts off the front of in: a count byte (255: byte at a time;
 * else count % 17 cuts), then two bytes per cut, each taken modulo the
 * length of what is left (the body) plus one, then sorted: equal offsets
 * make empty chunks, which parsers must take too. */
static inline fuzz_cuts fuzz_read_cuts(fuzz_in *in) {
  fuzz_cuts c;
  unsigned raw[FUZZ_MAX_CUTS];
  unsigned count = fuzz_byte(in);

  memset(&c, 0, sizeof(c));
  c.bytewise = count == 255;
  c.n = c.bytewise ? 0 : count % (FUZZ_MAX_CUTS + 1);
  for (size_t i = 0; i < c.n; i++)
    raw[i] = fuzz_u16(in);
  for (size_t i = 0; i < c.n; i++) {
    size_t v = raw[i] % (in->n + 1), j = i;

    for (; j > 0 && c.at[j - 1] > v; j--)
      c.at[j] = c.at[j - 1];
    c.at[j] = v;
  }
  return c;
}

/* Called per chunk; returns what the parser's feed returned. */
typedef int (*fuzz_feed_fn)(void *ctx, const char *chunk, size_t n);

/* Feeds body[0..len) through feed in the chunks c describes (c NULL: whole),
 * each from an exact-size copy. Checks that a feed only ever answers 0 or
 * -1 and that once one failed every later one does too. -1 when any feed
 * failed. */
static inline int fuzz_feed(const char *body, size_t len, const fuzz_cuts *c,
                            fuzz_feed_fn feed, void *ctx) {
  size_t start = 0, chunks = c == NULL ? 1 : c->bytewise ? len : c->n + 1;
  int failed = 0;

  for (size_t i = 0; i < chunks; i++) {
    size_t end = c == NULL || i + 1 == chunks ? len
                 : c->bytewise                ? start + 1
                                              : c->at[i];
    char *chunk = fuzz_exact(body + start, end - start);
    int rc = feed(ctx, chunk, end - start);

    free(chunk);
    FUZZ_CHECK(rc == 0 || rc == -1, "feed returned %d", rc);
    FUZZ_CHECK(!(failed && rc == 0), "a feed succeeded after one failed");
    failed |= rc != 0;
    start = end;
  }
  return failed ? -1 : 0;
}

/* 1 when a and b hold the same bytes (NULL only equals NULL). */
static inline int fuzz_same(const char *a, size_t alen, const char *b,
                            size_t blen) {
  if (a == NULL || b == NULL)
    return a == b && alen == blen;
  return alen == blen && (alen == 0 || memcmp(a, b, alen) == 0);
}

/* The same for C strings. */
static inline int fuzz_same_str(const char *a, const char *b) {
  if (a == NULL || b == NULL)
    return a == b;
  return strcmp(a, b) == 0;
}

/* 1 when two cJSON trees print the same. Not cJSON_Compare: it looks
 * object members up by name, so a tree with a duplicate key never equals
 * itself. */
static inline int fuzz_same_tree(const cJSON *a, const cJSON *b) {
  char *pa = cJSON_PrintUnformatted(a), *pb = cJSON_PrintUnformatted(b);
  int same;

  FUZZ_CHECK(pa != NULL && pb != NULL, "out of memory");
  same = strcmp(pa, pb) == 0;
  cJSON_free(pa);
  cJSON_free(pb);
  return same;
}

#endif
