/* fuzz_json_roundtrip.c - the JSON writer (json_out.c) read back by the
 * strict reader: any UTF-8 text written as a string
 * (json_write_string, json_put_string) reads back, unescaped, as the same
 * bytes; any double formatted (json_format_double) reads back bit for bit;
 * and any text re-printed as a JSON value (json_put_json_text, as the
 * codecs send schemas and tool arguments) is one strict JSON value equal
 * to the original.
 *
 * Input: a mode byte (0: string, 1: double from the next 8 bytes, else
 * json_put_json_text; bit 7 sets JSON_OUT_JS, bit 6 JSON_OUT_FLOAT or
 * object_only), then the text. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>

#include "buf.h"
#include "chat.h"
#include "fuzz_util.h"
#include "json_out.h"
#include "json_strict.h"

static const json_strict_opts WHOLE = {.max_depth = JSON_STRICT_DEPTH_LIMIT,
                                       .flags =
                                           JSON_STRICT_WHOLE | JSON_STRICT_NUL};

static void check_string(const char *s, size_t len, unsigned flags) {
  size_t n = json_write_string(NULL, 0, s, len, flags), n2, end, at, dn;
  char *out = malloc(n ? n : 1), *back;
  const char *err;
  buf b;

  FUZZ_CHECK(out != NULL, "out of memory");
  n2 = json_write_string(out, n, s, len, flags);
  FUZZ_CHECK(n2 == n && n >= 2 && out[0] == '"' && out[n - 1] == '"',
             "measured %zu, wrote %zu", n, n2);
  FUZZ_CHECK(json_strict_read(out, n, 0, &WHOLE, &end, &at, &err) == 0,
             "written string refused: %s at %zu", err, at);
  FUZZ_CHECK(chat_utf8_valid(out, n), "written string is not UTF-8");
  dn = json_strict_unescape(out, n, 0, NULL);
  back = malloc(dn ? dn : 1);
  FUZZ_CHECK(back != NULL, "out of memory");
  FUZZ_CHECK(json_strict_unescape(out, n, 0, back) == dn, "unescape length");
  FUZZ_CHECK(fuzz_same(back, dn, len ? s : back, len),
             "the string does not read back: %zu bytes, %zu back", len, dn);
  if (flags & JSON_OUT_JS)
    FUZZ_CHECK(memmem(out, n, "\xe2\x80\xa8", 3) == NULL &&
                   memmem(out, n, "\xe2\x80\xa9", 3) == NULL,
               "U+2028 or U+2029 left raw");
  /* json_put_string is the JS flavour, into a buf. */
  buf_init(&b, 0);
  FUZZ_CHECK(json_put_string(&b, s, len) == 0, "json_put_string refused");
  FUZZ_CHECK(json_strict_read(b.data, b.len, 0, &WHOLE, &end, &at, &err) == 0,
             "put string refused: %s", err);
  buf_free(&b);
  free(back);
  free(out);
}

static void check_double(const uint8_t *p, size_t len, unsigned flags) {
  char out[JSON_NUMBER_MAX + 1];
  double d = 0, back;
  size_t n, end, at;
  const char *err;

  memcpy(&d, p, len < sizeof(d) ? len : sizeof(d));
  n = json_format_double(out, d, flags);
  if (isnan(d) || isinf(d)) {
    FUZZ_CHECK(n == 0, "a non-finite number written");
    return;
  }
  FUZZ_CHECK(n > 0 && n < JSON_NUMBER_MAX, "length %zu", n);
  out[n] = '\0';
  FUZZ_CHECK(json_strict_read(out, n, 0, &WHOLE, &end, &at, &err) == 0,
             "%s refused: %s", out, err);
  back = strtod(out, NULL);
  FUZZ_CHECK(memcmp(&back, &d, sizeof(d)) == 0, "%s reads back as %.17g", out,
             back);
  FUZZ_CHECK(!(flags & JSON_OUT_FLOAT) || d != floor(d) || fabs(d) > 1e300 ||
                 strpbrk(out, ".eE") != NULL,
             "an integral float %s reads back as an integer", out);
}

/* json_put_json_text reads with cJSON (json_parse_body), which takes more
 * than the strict reader ("01", raw control characters in strings): what
 * it writes must still be strict JSON, and what the strict reader takes it
 * must take and write back unchanged. */
static void check_json_text(const char *s, size_t len, int object_only) {
  buf b;
  size_t at;
  const char *err;
  cJSON *want, *got;
  int rc;

  buf_init(&b, 0);
  FUZZ_CHECK(buf_append(&b, "[", 1) == 0, "out of memory");
  rc = json_put_json_text(&b, s, len, object_only);
  FUZZ_CHECK(rc == 0 || rc == -1, "rc %d", rc);
  want = json_strict_parse(s, len, JSON_STRICT_DEPTH_LIMIT, &at, &err);
  if (rc != 0) {
    FUZZ_CHECK(b.len == 1, "a refused text appended %zu bytes", b.len - 1);
    FUZZ_CHECK(want == NULL || (object_only && !cJSON_IsObject(want)),
               "a good value refused");
  } else {
    FUZZ_CHECK(!object_only || b.data[1] == '{', "not an object");
    got = json_strict_parse(b.data + 1, b.len - 1, JSON_STRICT_DEPTH_LIMIT, &at,
                            &err);
    FUZZ_CHECK(got != NULL, "the re-printed value is not JSON: %s at %zu", err,
               at);
    /* Compared as printed: cJSON prints an infinite number (1e999) as
     * null, on both sides. */
    FUZZ_CHECK(want == NULL || fuzz_same_tree(want, got),
               "the re-printed value differs");
    cJSON_Delete(got);
  }
  cJSON_Delete(want);
  buf_free(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  fuzz_in in = fuzz_in_make(data, size);
  unsigned mode = fuzz_byte(&in);
  unsigned flags =
      (mode & 0x80 ? JSON_OUT_JS : 0) | (mode & 0x40 ? JSON_OUT_FLOAT : 0);
  char *text = fuzz_exact(in.p, in.n);

  switch (mode & 0x3F) {
  case 0:
    if (chat_utf8_valid(text, in.n))
      check_string(text, in.n, flags);
    break;
  case 1:
    check_double(in.p, in.n, flags);
    break;
  default:
    check_json_text(text, in.n, (mode & 0x40) != 0);
  }
  free(text);
  return 0;
}
