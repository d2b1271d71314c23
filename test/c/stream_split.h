/* stream_split.h - runs a streamed body under every way of cutting it
 * into chunks and checks the result never changes.
 *
 * A stream's result must not depend on where the network cut the body.
 * stream_split_check feeds a body to a fresh chat_stream whole, then at
 * every 2-way split, byte at a time and in random chunkings (empty chunks
 * included), and asserts that the chat_response or chat_error and the
 * text handed to on_text are the same each time. Each chunk is fed from an
 * exact-size copy, so AddressSanitizer catches a read past its end.
 *
 * Dialect tests use it as:
 *   stream_outcome o;
 *   stream_split_check(&openai_codec, 0, body, len, &o);
 *   cr_assert_eq(o.rc, 0);
 *   cr_assert_str_eq(o.resp.content, "Hello");
 *   stream_outcome_free(&o);
 *
 * expect_ok, expect_fail, expect_content and expect_call assert what an
 * outcome holds. split_each and split_feed are the chunking underneath,
 * for tests of the framing parsers on their own. */
#ifndef CX_TEST_STREAM_SPLIT_H
#define CX_TEST_STREAM_SPLIT_H

#include <stddef.h>

#include "buf.h"
#include "chat.h"
#include "chat_stream.h"

/* How many random chunkings stream_split_check and split_each try. */
#define SPLIT_RANDOM_RUNS 24

/* What one run of a body through a stream gave. */
typedef struct stream_outcome {
  int rc;             /* chat_stream_finish's result */
  chat_response resp; /* filled when rc == 0 */
  chat_error err;     /* set when rc == -1 */
  buf text;           /* everything on_text got, in order */
  size_t n_deltas;    /* how many times on_text was called */
  int feed_failed;    /* some chat_stream_feed returned -1 */
} stream_outcome;

void stream_outcome_free(stream_outcome *o);

/* Feeds body to a fresh chat_stream(codec, max_bytes) cut at the offsets
 * cuts[0..n_cuts) (ascending; equal offsets give empty chunks), finishes
 * it, and stores the result in *out. Asserts that once a feed failed every
 * later one does too. */
void stream_run(const chat_codec *codec, size_t max_bytes, const char *body,
                size_t len, const size_t *cuts, size_t n_cuts,
                stream_outcome *out);

/* Asserts that got equals want in every field; `how` names the chunking
 * in the failure message. */
void stream_assert_same(const stream_outcome *want, const stream_outcome *got,
                        const char *how);

/* The outcome of feeding body whole, in *out (free it with
 * stream_outcome_free), after asserting every other chunking gives the
 * same. */
void stream_split_check(const chat_codec *codec, size_t max_bytes,
                        const char *body, size_t len, stream_outcome *out);

#define STREAM_SPLIT_CHECK(codec, lit, out)                                    \
  stream_split_check((codec), 0, (lit), sizeof(lit) - 1, (out))

/* --- Asserting an outcome ------------------------------------------------ */

/* The stream succeeded and no feed failed. */
void expect_ok(const stream_outcome *o);

/* The stream failed with reason and kind, and without an HTTP status or a
 * retry hint: the body itself came with a 200. */
void expect_fail(const stream_outcome *o, chat_error_kind kind,
                 const char *reason);

/* The assembled text is text, and on_text saw exactly it. */
void expect_content(const stream_outcome *o, const char *text);

/* c has the id, the name and exactly the arguments text args. */
void expect_call(const chat_tool_call *c, const char *id, const char *name,
                 const char *args);

/* --- Chunkings ----------------------------------------------------------- */

/* Called per chunking of a len-byte body: the cut offsets, and a name for
 * messages ("whole", "split at 17", "byte at a time", "random #3"). */
typedef void (*split_fn)(void *ctx, const char *how, const size_t *cuts,
                         size_t n_cuts);

/* Calls fn for: no cut, each 2-way cut (offsets 0..len), a cut after every
 * byte, and SPLIT_RANDOM_RUNS random chunkings (seeded from len, so a
 * failure repeats). */
void split_each(size_t len, split_fn fn, void *ctx);

/* Asserts that got holds the same text as want (a log of what a parser
 * called back with); how names the chunking, and a failure shows both. */
void split_assert_same_log(const buf *got, const buf *want, const char *how);

/* Called per chunk; returns what the parser's feed returned. */
typedef int (*feed_fn)(void *ctx, const char *chunk, size_t n);

/* Feeds body[0..len) cut at cuts through feed, each chunk from an
 * exact-size copy. Returns -1 when any feed did. */
int split_feed(const char *body, size_t len, const size_t *cuts, size_t n_cuts,
               feed_fn feed, void *ctx);

#endif
