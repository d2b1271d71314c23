/* codec_test_util.h - what the dialect codec tests share: building a
 * request and parsing the body back, parsing responses that must succeed
 * or fail, error bodies, the hostile sweeps every codec gets (every prefix
 * of a vector, every single-byte corruption, a 5 MB text), URL and header
 * checks, and a stream fed one event at a time.
 *
 * Each takes the codec under test as its table: the helpers call its
 * build_request, parse_response, parse_error, build_url, build_headers and
 * stream_event. Bodies go to the codec from exact-size copies
 * (fixture_exact_copy), so AddressSanitizer catches a read past the end. */
#ifndef CX_TEST_CODEC_TEST_UTIL_H
#define CX_TEST_CODEC_TEST_UTIL_H

#include <stddef.h>

#include <cJSON.h>

#include "buf.h"
#include "chat.h"
#include "chat_stream.h"
#include "codec.h"

/* --- Requests ------------------------------------------------------------ */

/* A message with NUL-terminated content (NULL: none). */
chat_message msg(const char *role, const char *content);

/* codec->build_request(req), asserted to succeed with the length it says,
 * parsed back. The caller deletes the result. */
cJSON *build_and_parse(const chat_codec *codec, const chat_request *req);

/* --- Reading JSON back --------------------------------------------------- */

/* obj[name] (case-sensitive), or NULL. */
const cJSON *field(const cJSON *obj, const char *name);

/* obj[name]'s text, asserted to be a string. */
const char *str_field(const cJSON *obj, const char *name);

/* Asserts that v is there and prints (compactly) as exactly json. */
void assert_prints(const cJSON *v, const char *json);

/* --- Responses ----------------------------------------------------------- */

/* Parses body expecting success: err untouched, content set and
 * content_len its C string length. The caller frees r. */
void parse_ok(const chat_codec *codec, const char *body, size_t len,
              chat_response *r);

#define PARSE_OK(codec, lit, r) parse_ok((codec), (lit), sizeof(lit) - 1, (r))

/* parse_ok on test/fixtures/<path>. */
void parse_vector(const chat_codec *codec, const char *path, chat_response *r);

/* Parses body expecting failure with reason and kind; the response must
 * be left empty. */
void parse_fails_as(const chat_codec *codec, const char *body, size_t len,
                    const char *reason, chat_error_kind kind);

/* parse_fails_as for a permanent failure: a body that is broken, not a
 * provider's error. */
void parse_fails(const chat_codec *codec, const char *body, size_t len,
                 const char *reason);

#define PARSE_FAILS(codec, lit, reason)                                        \
  parse_fails((codec), (lit), sizeof(lit) - 1, (reason))

/* Every proper prefix of test/fixtures/<path> up to its last '}' fails
 * with invalid_json; from there on (only whitespace is left) it parses. */
void every_prefix_fails(const chat_codec *codec, const char *path);

/* test/fixtures/<path> with each byte in turn replaced by each of a set of
 * JSON-breaking bytes (quotes, brackets, NUL, 0xFF, a lone continuation
 * byte...): each either parses into a well-formed response or fails with
 * a reason and an empty one. */
void every_corruption_is_handled(const chat_codec *codec, const char *path);

/* A body of about 5 MB: head, then text with a two-byte character and
 * escapes repeated, then tail; asserted to parse with all of the text
 * decoded. The caller checks the rest of r and frees it. */
void parse_big_text(const chat_codec *codec, const char *head, const char *tail,
                    chat_response *r);

/* Each of the n requests gives NULL, with the length set to 0; so does a
 * NULL request. */
void build_refuses(const chat_codec *codec, const chat_request *reqs, size_t n);

#define BUILD_REFUSES(codec, reqs)                                             \
  build_refuses((codec), (reqs), sizeof(reqs) / sizeof((reqs)[0]))

/* A request whose one user message holds 5 MB of text goes out whole:
 * messages[0].content of the body is that text. */
void big_content_round_trips(const chat_codec *codec);

/* --- Error bodies -------------------------------------------------------- */

/* codec->parse_error on a fresh e. */
void parse_error(const chat_codec *codec, long status, const char *body,
                 size_t len, long retry_after_ms, chat_error *e);

#define PARSE_ERROR(codec, status, lit, retry, e)                              \
  parse_error((codec), (status), (lit), sizeof(lit) - 1, (retry), (e))

/* parse_error on test/fixtures/<path>, asserting what holds for every
 * error body: reason http_error, the status kept, and a retry hint that
 * was given (>= 0) kept. */
void error_vector(const chat_codec *codec, const char *path, long status,
                  long retry_after_ms, chat_error *e);

/* Every prefix of test/fixtures/<path> (the empty one and the whole body
 * included) as an error body with status: http_error, and a message, if
 * any, that is UTF-8. kind is what each must give; CHAT_OK leaves the
 * kind unchecked. */
void every_error_prefix_is_handled(const chat_codec *codec, const char *path,
                                   long status, chat_error_kind kind);

/* --- Endpoints ----------------------------------------------------------- */

/* Asserts codec->build_url(ep) gives want, or fails when want is NULL. */
void assert_url(const chat_codec *codec, const chat_endpoint *ep,
                const char *want);

/* Asserts codec->build_headers(ep) gives exactly the n lines of want, in
 * order; or fails when want is NULL. */
void assert_headers(const chat_codec *codec, const chat_endpoint *ep,
                    const char *const *want, size_t n);

#define ASSERT_HEADERS(codec, ep, ...)                                         \
  do {                                                                         \
    static const char *const want_[] = {__VA_ARGS__};                          \
    assert_headers((codec), (ep), want_, sizeof(want_) / sizeof(want_[0]));    \
  } while (0)

/* --- Stream events one at a time ----------------------------------------- */

/* A chat_stream whose events go straight to codec->stream_event, with no
 * framing in between, and what came out of it. */
typedef struct event_run {
  const chat_codec *codec;
  chat_stream *st;
  buf text;           /* everything on_text got, in order */
  size_t calls;       /* how many times on_text was called */
  chat_response resp; /* after run_finish */
  chat_error err;
  int rc; /* the last non-zero stream_event result, else 0 */
} event_run;

void run_start(event_run *r, const chat_codec *codec);

/* Hands data[0..len) to the codec as one unnamed event, from an
 * exact-size copy. Returns what stream_event returned. */
int run_event_n(event_run *r, const char *data, size_t len);

/* The same for a NUL-terminated event. */
int run_event(event_run *r, const char *data);

/* Finishes the stream into r->resp / r->err and frees it. */
int run_finish(event_run *r);

void run_free(event_run *r);

/* A stream of the event data, then the end event, must fail with reason:
 * permanent, the event refused when it came, and no response. */
void run_fails(const chat_codec *codec, const char *data, const char *end,
               const char *reason);

#endif
