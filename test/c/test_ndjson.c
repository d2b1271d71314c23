/* test_ndjson.c - unit tests for ndjson.c. Every body is split under every
 * chunking (split_each) and must give the same lines and the same error
 * each time: LF and CRLF cut between CR and LF, blank lines, a last line
 * without LF, the line cap at its exact edge, NULs, and the Ollama vectors
 * in test/fixtures/stream. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>
#include <criterion/criterion.h>

#include "buf.h"
#include "fixtures.h"
#include "ndjson.h"
#include "stream_split.h"

/* --- Recording lines ----------------------------------------------------- */

/* An expected line; NULL ends a list. */
typedef struct line {
  const char *s;
  size_t len;
} line;

#define L(lit)                                                                 \
  { (lit), sizeof(lit) - 1 }
#define END                                                                    \
  { NULL, 0 }

/* The lines one run delivered, written out as "len:line\n". */
typedef struct nd_run {
  buf log;
  size_t n;
  size_t stop_at; /* > 0: the callback stops the splitter at line n */
  ndjson_error error;
} nd_run;

static void log_line(buf *log, const char *s, size_t len) {
  cr_assert_eq(buf_printf(log, "%zu:", len), 0);
  cr_assert_eq(buf_append(log, s, len), 0);
  cr_assert_eq(buf_append(log, "\n", 1), 0);
}

/* ndjson_line_cb */
static int record(void *ud, const char *s, size_t len) {
  nd_run *r = ud;

  cr_assert_eq(s[len], '\0', "line is not NUL-terminated");
  cr_assert_gt(len, 0, "empty lines must be skipped");
  log_line(&r->log, s, len);
  r->n++;
  return r->stop_at > 0 && r->n == r->stop_at;
}

/* feed_fn */
static int feed_nd(void *ctx, const char *chunk, size_t n) {
  return ndjson_feed(ctx, chunk, n);
}

static void run_nd(const char *body, size_t len, size_t max, const size_t *cuts,
                   size_t n_cuts, nd_run *r) {
  ndjson_parser p;

  buf_init(&r->log, 0);
  r->n = 0;
  ndjson_init(&p, max, record, r);
  if (split_feed(body, len, cuts, n_cuts, feed_nd, &p) == 0)
    ndjson_finish(&p);
  r->error = p.error;
  ndjson_free(&p);
}

typedef struct expect_ctx {
  const char *body;
  size_t len, max;
  const buf *want;
  ndjson_error want_error;
} expect_ctx;

/* split_fn */
static void expect_one(void *ctx, const char *how, const size_t *cuts,
                       size_t n_cuts) {
  expect_ctx *c = ctx;
  nd_run r = {.stop_at = 0};

  run_nd(c->body, c->len, c->max, cuts, n_cuts, &r);
  cr_assert_eq(r.error, c->want_error, "%s: error %d, want %d", how, r.error,
               c->want_error);
  split_assert_same_log(&r.log, c->want, how);
  buf_free(&r.log);
}

static void expect_nd(const char *body, size_t len, size_t max,
                      ndjson_error want_error, const line *lines) {
  buf want;
  expect_ctx c = {.body = body,
                  .len = len,
                  .max = max,
                  .want = &want,
                  .want_error = want_error};

  buf_init(&want, 0);
  for (; lines->s != NULL; lines++)
    log_line(&want, lines->s, lines->len);
  split_each(len, expect_one, &c);
  buf_free(&want);
}

#define EXPECT_ND(lit, max, error, ...)                                        \
  do {                                                                         \
    const line lines_[] = {__VA_ARGS__};                                       \
    expect_nd((lit), sizeof(lit) - 1, (max), (error), lines_);                 \
  } while (0)

/* --- Lines --------------------------------------------------------------- */

Test(ndjson, lf_lines) {
  EXPECT_ND("{\"a\":1}\n{\"b\":2}\n", 0, NDJSON_OK, L("{\"a\":1}"),
            L("{\"b\":2}"), END);
}

Test(ndjson, crlf_lines) {
  EXPECT_ND("{\"a\":1}\r\n{\"b\":2}\r\n", 0, NDJSON_OK, L("{\"a\":1}"),
            L("{\"b\":2}"), END);
}

Test(ndjson, lone_cr_stays_in_the_line) {
  /* Only LF ends a line; a CR elsewhere is JSON whitespace. */
  EXPECT_ND("{\"a\":\r1}\n{}\r\r\n", 0, NDJSON_OK, L("{\"a\":\r1}"), L("{}\r"),
            END);
}

Test(ndjson, blank_lines_are_skipped) {
  EXPECT_ND("\n\r\n{}\n \t\n\r\n\n[]\n  \r\n", 0, NDJSON_OK, L("{}"), L("[]"),
            END);
  EXPECT_ND("", 0, NDJSON_OK, END);
  EXPECT_ND("\n\n\n", 0, NDJSON_OK, END);
}

Test(ndjson, spaces_around_a_value_are_kept) {
  EXPECT_ND("  {} \n", 0, NDJSON_OK, L("  {} "), END);
}

Test(ndjson, last_line_without_lf_comes_at_finish) {
  EXPECT_ND("{\"a\":1}\n{\"done\":true}", 0, NDJSON_OK, L("{\"a\":1}"),
            L("{\"done\":true}"), END);
  EXPECT_ND("{\"a\":1}\r", 0, NDJSON_OK, L("{\"a\":1}"), END);
  EXPECT_ND("{\"a\":1}\n  ", 0, NDJSON_OK, L("{\"a\":1}"), END);
}

Test(ndjson, line_comes_as_soon_as_its_lf_arrives) {
  nd_run r = {.stop_at = 0};
  ndjson_parser p;

  buf_init(&r.log, 0);
  ndjson_init(&p, 0, record, &r);
  cr_assert_eq(ndjson_feed(&p, "{\"a\"", 4), 0);
  cr_assert_eq(r.n, 0);
  cr_assert_eq(ndjson_feed(&p, ":1}\r", 4), 0);
  cr_assert_eq(r.n, 0);
  cr_assert_eq(ndjson_feed(&p, "\n{", 2), 0);
  cr_assert_eq(r.n, 1);
  cr_assert_str_eq(r.log.data, "7:{\"a\":1}\n");
  cr_assert_eq(ndjson_finish(&p), 0);
  cr_assert_eq(r.n, 2);
  cr_assert_eq(ndjson_finish(&p), 0);
  cr_assert_eq(r.n, 2, "a second finish delivers nothing");
  ndjson_free(&p);
  buf_free(&r.log);
}

/* --- Line cap ------------------------------------------------------------ */

Test(ndjson, line_at_the_cap_passes) {
  /* The CR of a CRLF does not count, wherever the chunk is cut. */
  EXPECT_ND("12345678\n12345678\r\n12345678", 8, NDJSON_OK, L("12345678"),
            L("12345678"), L("12345678"), END);
}

Test(ndjson, line_over_the_cap_fails) {
  EXPECT_ND("{}\n123456789\n{}\n", 8, NDJSON_TOO_LARGE, L("{}"), END);
  EXPECT_ND("{}\n123456789\r\n", 8, NDJSON_TOO_LARGE, L("{}"), END);
  EXPECT_ND("{}\n12345678\r\r\n", 8, NDJSON_TOO_LARGE, L("{}"), END);
  EXPECT_ND("123456789", 8, NDJSON_TOO_LARGE, END);
  EXPECT_ND("1234567890123456789012345678901234567890", 8, NDJSON_TOO_LARGE,
            END);
  /* Blank lines count too: the cap bounds the memory held. */
  EXPECT_ND("                \n{}\n", 8, NDJSON_TOO_LARGE, END);
}

Test(ndjson, splitter_stays_failed) {
  nd_run r = {.stop_at = 0};
  ndjson_parser p;

  buf_init(&r.log, 0);
  ndjson_init(&p, 2, record, &r);
  cr_assert_eq(ndjson_feed(&p, "{\"a\":1}\n", 8), -1);
  cr_assert_eq(p.error, NDJSON_TOO_LARGE);
  cr_assert_eq(ndjson_feed(&p, "{}\n", 3), -1);
  cr_assert_eq(ndjson_feed(&p, "", 0), -1);
  cr_assert_eq(ndjson_finish(&p), -1);
  cr_assert_eq(r.n, 0);
  ndjson_free(&p);
  buf_free(&r.log);
}

/* --- Hostile bytes and the callback -------------------------------------- */

Test(ndjson, nul_and_invalid_utf8_are_passed_with_the_length) {
  /* Refusing them is the JSON reader's job. */
  EXPECT_ND("{\"a\":\"\0\"}\n\xFF\xFE\n", 0, NDJSON_OK, L("{\"a\":\"\0\"}"),
            L("\xFF\xFE"), END);
}

Test(ndjson, callback_can_stop_the_splitter) {
  nd_run r = {.stop_at = 1};

  run_nd("{}\n[]\n1\n", 8, 0, NULL, 0, &r);
  cr_assert_eq(r.error, NDJSON_STOPPED);
  cr_assert_eq(r.n, 1);
  buf_free(&r.log);
}

Test(ndjson, empty_and_null_chunks) {
  nd_run r = {.stop_at = 0};
  ndjson_parser p;

  buf_init(&r.log, 0);
  ndjson_init(&p, 0, record, &r);
  cr_assert_eq(ndjson_feed(&p, NULL, 0), 0);
  cr_assert_eq(ndjson_feed(&p, "", 0), 0);
  cr_assert_eq(ndjson_feed(&p, NULL, 2), -1);
  ndjson_free(&p);
  buf_free(&r.log);
}

/* --- Ollama vectors ------------------------------------------------------ */

/* The vector's lines, each checked to be a JSON object, under every
 * chunking and with LF or CRLF line ends. */
static void check_vector(const char *file, size_t n_lines) {
  char path[128];
  size_t len, i, pass;
  char *body = NULL;

  snprintf(path, sizeof(path), "stream/%s", file);
  for (pass = 0; pass < 2; pass++) {
    nd_run whole = {.stop_at = 0};
    expect_ctx c = {.max = 0, .want_error = NDJSON_OK};
    const char *s;

    body = fixture_load(path, &len);
    if (pass == 1) { /* LF -> CRLF */
      buf b;

      buf_init(&b, 0);
      for (i = 0; i < len; i++)
        cr_assert_eq(body[i] == '\n' ? buf_puts(&b, "\r\n")
                                     : buf_append(&b, &body[i], 1),
                     0);
      free(body);
      body = buf_detach(&b, &len);
    }
    run_nd(body, len, 0, NULL, 0, &whole);
    cr_assert_eq(whole.n, n_lines);
    for (s = whole.log.data, i = 0; i < n_lines; i++) {
      char *end;
      size_t n = strtoul(s, &end, 10);
      cJSON *root = cJSON_ParseWithLength(end + 1, n);

      cr_assert(cJSON_IsObject(root), "line %zu is not an object", i);
      cJSON_Delete(root);
      s = end + 1 + n + 1;
    }
    c.body = body;
    c.len = len;
    c.want = &whole.log;
    split_each(len, expect_one, &c);
    buf_free(&whole.log);
    free(body);
  }
}

Test(ndjson_vectors, ollama_basic) { check_vector("ollama_basic.ndjson", 3); }

Test(ndjson_vectors, ollama_midstream_error) {
  check_vector("ollama_midstream_error.ndjson", 2);
}
