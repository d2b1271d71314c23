/* codec_test_util.c - the helpers the dialect codec tests share (see
 * codec_test_util.h). */
#include "codec_test_util.h"

#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "fixtures.h"

/* --- Requests ------------------------------------------------------------ */

chat_message msg(const char *role, const char *content) {
  chat_message m = {.role = role,
                    .content = content,
                    .content_len = content ? strlen(content) : 0};

  return m;
}

cJSON *build_and_parse(const chat_codec *codec, const chat_request *req) {
  size_t len = 0;
  char *body = codec->build_request(req, &len);
  cJSON *root;

  cr_assert_not_null(body);
  cr_assert_eq(len, strlen(body));
  root = cJSON_ParseWithLength(body, len);
  cr_assert_not_null(root, "built body is not JSON: %s", body);
  free(body);
  return root;
}

/* --- Reading JSON back --------------------------------------------------- */

const cJSON *field(const cJSON *obj, const char *name) {
  return cJSON_GetObjectItemCaseSensitive(obj, name);
}

const char *str_field(const cJSON *obj, const char *name) {
  const cJSON *v = field(obj, name);

  cr_assert(cJSON_IsString(v), "field %s is not a string", name);
  return v->valuestring;
}

void assert_prints(const cJSON *v, const char *json) {
  char *s;

  cr_assert_not_null(v, "missing value, expected %s", json);
  s = cJSON_PrintUnformatted(v);
  cr_assert_str_eq(s, json);
  free(s);
}

/* --- Responses ----------------------------------------------------------- */

void parse_ok(const chat_codec *codec, const char *body, size_t len,
              chat_response *r) {
  char *copy = fixture_exact_copy(body, len);
  chat_error e;
  int rc;

  chat_error_init(&e);
  rc = codec->parse_response(copy, len, 0, r, &e);
  cr_assert_eq(rc, 0, "parse failed: %s for %.*s", e.reason ? e.reason : "?",
               (int)len, body);
  cr_assert_eq(e.kind, CHAT_OK);
  cr_assert_null(e.reason);
  cr_assert_not_null(r->content);
  cr_assert_eq(r->content_len, strlen(r->content));
  free(copy);
  chat_error_free(&e);
}

void parse_vector(const chat_codec *codec, const char *path, chat_response *r) {
  size_t len;
  char *body = fixture_load(path, &len);

  parse_ok(codec, body, len, r);
  free(body);
}

/* Asserts r is as a failed parse leaves it. */
static void assert_failed_response_empty(const chat_response *r) {
  assert_response_empty(r);
  cr_assert_null(r->tool_calls);
  cr_assert_eq(r->n_tool_calls, 0);
}

void parse_fails_as(const chat_codec *codec, const char *body, size_t len,
                    const char *reason, chat_error_kind kind) {
  char *copy = fixture_exact_copy(body, len);
  chat_response r;
  chat_error e;

  chat_error_init(&e);
  cr_assert_eq(codec->parse_response(copy, len, 0, &r, &e), -1,
               "expected %s for %.*s", reason, (int)len, body);
  cr_assert_not_null(e.reason);
  cr_assert_str_eq(e.reason, reason, "body: %.*s", (int)len, body);
  cr_assert_eq(e.kind, kind, "kind %s for %.*s", chat_error_kind_name(e.kind),
               (int)len, body);
  assert_failed_response_empty(&r);
  free(copy);
  chat_error_free(&e);
}

void parse_fails(const chat_codec *codec, const char *body, size_t len,
                 const char *reason) {
  parse_fails_as(codec, body, len, reason, CHAT_ERR_PERMANENT);
}

void every_prefix_fails(const chat_codec *codec, const char *path) {
  size_t len, cut, end;
  char *body = fixture_load(path, &len);

  end = len;
  while (end > 0 && body[end - 1] != '}')
    end--;
  cr_assert_gt(end, 0, "%s holds no object", path);
  for (cut = 0; cut < end; cut++)
    parse_fails(codec, body, cut, "invalid_json");
  for (cut = end; cut <= len; cut++) {
    chat_response r;

    parse_ok(codec, body, cut, &r);
    chat_response_free(&r);
  }
  free(body);
}

void every_corruption_is_handled(const chat_codec *codec, const char *path) {
  static const char bytes[] = {'"', '{',  '}',  '[', ']',    ',',
                               ':', '\\', '\0', 'x', '\xff', '\x80'};
  size_t len, pos, k, i;
  char *body = fixture_load(path, &len);

  for (pos = 0; pos < len; pos++) {
    for (k = 0; k < sizeof(bytes); k++) {
      char *copy = fixture_exact_copy(body, len);
      chat_response r;
      chat_error e;

      copy[pos] = bytes[k];
      chat_error_init(&e);
      if (codec->parse_response(copy, len, 0, &r, &e) == 0) {
        cr_assert_not_null(r.content);
        cr_assert_eq(r.content_len, strlen(r.content));
        for (i = 0; i < r.n_tool_calls; i++) {
          cr_assert_not_null(r.tool_calls[i].id);
          cr_assert_not_null(r.tool_calls[i].name);
          cr_assert_not_null(r.tool_calls[i].arguments);
        }
      } else {
        cr_assert_not_null(e.reason);
        assert_failed_response_empty(&r);
      }
      chat_response_free(&r);
      chat_error_free(&e);
      free(copy);
    }
  }
  free(body);
}

void parse_big_text(const chat_codec *codec, const char *head, const char *tail,
                    chat_response *r) {
  /* A unit with a multi-byte character and two escapes. */
  static const char unit[] = "abc\xc3\xa9\\n\\\"xyz";
  static const char decoded[] = "abc\xc3\xa9\n\"xyz";
  const size_t unit_len = sizeof(unit) - 1, text_len = sizeof(decoded) - 1;
  size_t units = 5 * 1024 * 1024 / unit_len, i;
  buf b;

  buf_init(&b, 0);
  cr_assert_eq(buf_puts(&b, head), 0);
  for (i = 0; i < units; i++)
    cr_assert_eq(buf_append(&b, unit, unit_len), 0);
  cr_assert_eq(buf_puts(&b, tail), 0);
  cr_assert_gt(b.len, 5 * 1000 * 1000);
  parse_ok(codec, b.data, b.len, r);
  cr_assert_eq(r->content_len, units * text_len);
  cr_assert_eq(memcmp(r->content, decoded, text_len), 0);
  cr_assert_eq(
      memcmp(r->content + r->content_len - text_len, decoded, text_len), 0);
  buf_free(&b);
}

void build_refuses(const chat_codec *codec, const chat_request *reqs,
                   size_t n) {
  size_t i;

  for (i = 0; i < n; i++) {
    size_t len = 77;

    cr_assert_null(codec->build_request(&reqs[i], &len), "request %zu", i);
    cr_assert_eq(len, 0);
  }
  cr_assert_null(codec->build_request(NULL, NULL));
}

void big_content_round_trips(const chat_codec *codec) {
  size_t n = 5 * 1024 * 1024, i;
  char *big = malloc(n);
  chat_message user = {.role = "user", .content = big, .content_len = n};
  chat_request req = {.model = "m", .messages = &user, .n_messages = 1};
  const char *got;
  cJSON *root;

  cr_assert_not_null(big);
  for (i = 0; i < n; i++)
    big[i] = (i % 100 == 99) ? '\n' : (char)('a' + i % 26);
  root = build_and_parse(codec, &req);
  got = str_field(cJSON_GetArrayItem(field(root, "messages"), 0), "content");
  cr_assert_eq(strlen(got), n);
  cr_assert_eq(memcmp(got, big, n), 0);
  cJSON_Delete(root);
  free(big);
}

/* --- Error bodies -------------------------------------------------------- */

void parse_error(const chat_codec *codec, long status, const char *body,
                 size_t len, long retry_after_ms, chat_error *e) {
  char *copy = fixture_exact_copy(body, len);

  chat_error_init(e);
  codec->parse_error(status, copy, len, retry_after_ms, e);
  free(copy);
}

void error_vector(const chat_codec *codec, const char *path, long status,
                  long retry_after_ms, chat_error *e) {
  size_t len;
  char *body = fixture_load(path, &len);

  parse_error(codec, status, body, len, retry_after_ms, e);
  cr_assert_str_eq(e->reason, "http_error");
  cr_assert_eq(e->http_status, status);
  if (retry_after_ms >= 0)
    cr_assert_eq(e->retry_after_ms, retry_after_ms);
  free(body);
}

void every_error_prefix_is_handled(const chat_codec *codec, const char *path,
                                   long status, chat_error_kind kind) {
  size_t len, cut;
  char *body = fixture_load(path, &len);

  for (cut = 0; cut <= len; cut++) {
    chat_error e;

    parse_error(codec, status, body, cut, -1, &e);
    cr_assert_str_eq(e.reason, "http_error", "%s cut at %zu", path, cut);
    cr_assert_eq(e.http_status, status);
    if (kind != CHAT_OK)
      cr_assert_eq(e.kind, kind, "%s cut at %zu", path, cut);
    if (e.message != NULL)
      cr_assert(chat_utf8_valid(e.message, strlen(e.message)));
    chat_error_free(&e);
  }
  free(body);
}

/* --- Endpoints ----------------------------------------------------------- */

void assert_url(const chat_codec *codec, const chat_endpoint *ep,
                const char *want) {
  const char *base = ep->base_url != NULL ? ep->base_url : "NULL";
  buf b;

  buf_init(&b, 0);
  if (want == NULL) {
    cr_assert_eq(codec->build_url(ep, &b), -1, "base %s", base);
  } else {
    cr_assert_eq(codec->build_url(ep, &b), 0, "base %s", base);
    cr_assert_str_eq(b.data, want);
  }
  buf_free(&b);
}

void assert_headers(const chat_codec *codec, const chat_endpoint *ep,
                    const char *const *want, size_t n) {
  codec_headers h;
  size_t i;

  codec_headers_init(&h);
  if (want == NULL) {
    cr_assert_eq(codec->build_headers(ep, &h), -1);
  } else {
    cr_assert_eq(codec->build_headers(ep, &h), 0);
    cr_assert_eq(h.n, n, "%zu headers, expected %zu", h.n, n);
    for (i = 0; i < n; i++)
      cr_assert_str_eq(h.lines[i], want[i]);
  }
  codec_headers_free(&h);
}

/* --- Stream events one at a time ----------------------------------------- */

static void on_text(void *ud, const char *text, size_t len) {
  event_run *r = ud;

  cr_assert_gt(len, 0, "empty text delta");
  cr_assert_eq(buf_append(&r->text, text, len), 0);
  r->calls++;
}

void run_start(event_run *r, const chat_codec *codec) {
  r->codec = codec;
  buf_init(&r->text, 0);
  r->calls = 0;
  r->st = chat_stream_new(codec, 0, 0, on_text, r);
  cr_assert_not_null(r->st);
  chat_error_init(&r->err);
  chat_response_init(&r->resp);
  r->rc = 0;
}

int run_event_n(event_run *r, const char *data, size_t len) {
  char *copy = fixture_exact_copy(data, len);
  int rc = r->codec->stream_event(r->st, NULL, copy, len);

  free(copy);
  if (rc != 0)
    r->rc = rc;
  return rc;
}

int run_event(event_run *r, const char *data) {
  return run_event_n(r, data, strlen(data));
}

int run_finish(event_run *r) {
  int rc = chat_stream_finish(r->st, &r->resp, &r->err);

  chat_stream_free(r->st);
  r->st = NULL;
  return rc;
}

void run_free(event_run *r) {
  chat_stream_free(r->st);
  chat_response_free(&r->resp);
  chat_error_free(&r->err);
  buf_free(&r->text);
}

void run_fails(const chat_codec *codec, const char *data, const char *end,
               const char *reason) {
  event_run r;

  run_start(&r, codec);
  cr_assert_eq(run_event(&r, data), -1, "accepted: %s", data);
  run_event(&r, end);
  cr_assert_eq(run_finish(&r), -1);
  cr_assert_str_eq(r.err.reason, reason, "%s", data);
  cr_assert_eq(r.err.kind, CHAT_ERR_PERMANENT);
  cr_assert_null(r.resp.content);
  run_free(&r);
}
