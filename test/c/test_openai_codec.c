/* test_openai_codec.c - unit tests for openai_codec.c: request bodies are
 * parsed back with cJSON and checked field by field; responses and error
 * bodies come from test/fixtures/openai (vectors from the provider docs)
 * plus hostile variants: truncated, wrong types, non-UTF-8, NULs, huge. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>
#include <criterion/criterion.h>

#include "buf.h"
#include "chat.h"
#include "fixtures.h"
#include "openai_codec.h"

/* --- Helpers ------------------------------------------------------------- */

static char *load(const char *name, size_t *len) {
  char path[256];
  char *data;

  snprintf(path, sizeof(path), "openai/%s", name);
  data = fixture_read(path, len);
  cr_assert_not_null(data, "cannot read test/fixtures/%s (cwd must be the "
                           "repository root)", path);
  return data;
}

static chat_message msg(const char *role, const char *content) {
  chat_message m = {.role = role, .content = content,
                    .content_len = content ? strlen(content) : 0};

  return m;
}

/* Builds a request and parses it back; the caller deletes the result. */
static cJSON *build_and_parse(const chat_request *req) {
  size_t len = 0;
  char *body = openai_build_request(req, &len);
  cJSON *root;

  cr_assert_not_null(body);
  cr_assert_eq(len, strlen(body));
  root = cJSON_ParseWithLength(body, len);
  cr_assert_not_null(root, "built body is not JSON: %s", body);
  free(body);
  return root;
}

static const char *str_field(const cJSON *obj, const char *name) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, name);

  cr_assert(cJSON_IsString(v), "field %s is not a string", name);
  return v->valuestring;
}

/* Parses body (through an exact-size copy) expecting success. */
static void parse_ok(const char *body, size_t len, chat_response *r) {
  char *copy = fixture_exact_copy(body, len);
  chat_error e;
  int rc;

  chat_error_init(&e);
  rc = openai_parse_response(copy, len, r, &e);
  cr_assert_eq(rc, 0, "parse failed: %s", e.reason ? e.reason : "?");
  cr_assert_eq(e.kind, CHAT_OK);
  cr_assert_null(e.reason);
  cr_assert_not_null(r->content);
  free(copy);
  chat_error_free(&e);
}

/* Parses body expecting failure with `reason`; checks resp stays empty. */
static void parse_fails(const char *body, size_t len, const char *reason) {
  char *copy = fixture_exact_copy(body, len);
  chat_response r;
  chat_error e;
  int rc;

  chat_error_init(&e);
  rc = openai_parse_response(copy, len, &r, &e);
  cr_assert_eq(rc, -1, "expected %s for %.*s", reason, (int)len, body);
  cr_assert_not_null(e.reason);
  cr_assert_str_eq(e.reason, reason, "body: %.*s", (int)len, body);
  assert_response_empty(&r);
  if (strcmp(reason, "provider_error") != 0)
    cr_assert_eq(e.kind, CHAT_ERR_PERMANENT);
  free(copy);
  chat_error_free(&e);
}

#define PARSE_FAILS(lit, reason) parse_fails(lit, sizeof(lit) - 1, reason)

static void parse_error_str(long status, const char *body, size_t len,
                            chat_error *e) {
  char *copy = fixture_exact_copy(body, len);

  chat_error_init(e);
  openai_parse_error(status, copy, len, -1, e);
  free(copy);
}

/* --- Request building ---------------------------------------------------- */

Test(openai_request, every_field_round_trips) {
  chat_message msgs[] = {msg("system", "You are terse."),
                         msg("user", "Hello?"),
                         msg("assistant", "Hi."),
                         msg("user", "Again")};
  chat_request req = {.model = "gpt-4o-mini", .messages = msgs, .n_messages = 4, .has_temperature = 1, .temperature = 0.2, .max_tokens = 256};
  cJSON *root = build_and_parse(&req);
  const cJSON *messages, *temp, *max, *stream;
  size_t i;

  cr_assert_str_eq(str_field(root, "model"), "gpt-4o-mini");
  messages = cJSON_GetObjectItemCaseSensitive(root, "messages");
  cr_assert(cJSON_IsArray(messages));
  cr_assert_eq(cJSON_GetArraySize(messages), 4);
  for (i = 0; i < 4; i++) {
    const cJSON *m = cJSON_GetArrayItem(messages, (int)i);

    cr_assert(cJSON_IsObject(m));
    cr_assert_eq(cJSON_GetArraySize(m), 2);
    cr_assert_str_eq(str_field(m, "role"), msgs[i].role);
    cr_assert_str_eq(str_field(m, "content"), msgs[i].content);
  }
  temp = cJSON_GetObjectItemCaseSensitive(root, "temperature");
  cr_assert(cJSON_IsNumber(temp));
  cr_assert_eq(temp->valuedouble, 0.2);
  max = cJSON_GetObjectItemCaseSensitive(root, "max_tokens");
  cr_assert(cJSON_IsNumber(max));
  cr_assert_eq(max->valuedouble, 256.0);
  stream = cJSON_GetObjectItemCaseSensitive(root, "stream");
  cr_assert(cJSON_IsFalse(stream));
  /* model, messages, temperature, max_tokens, stream and nothing else */
  cr_assert_eq(cJSON_GetArraySize(root), 5);
  cJSON_Delete(root);
}

Test(openai_request, exact_text_for_a_small_request) {
  chat_message msgs[] = {msg("user", "hi")};
  chat_request req = {.model = "m", .messages = msgs, .n_messages = 1, .has_temperature = 1, .temperature = 0.2, .max_tokens = 16};
  size_t len;
  char *body = openai_build_request(&req, &len);

  cr_assert_not_null(body);
  cr_assert_str_eq(body, "{\"model\":\"m\",\"messages\":[{\"role\":\"user\","
                         "\"content\":\"hi\"}],\"temperature\":0.2,"
                         "\"max_tokens\":16,\"stream\":false}");
  free(body);
}

Test(openai_request, matches_the_reference_vector) {
  size_t len;
  char *text = load("request.json", &len);
  cJSON *ref = cJSON_ParseWithLength(text, len);
  const cJSON *ref_msgs, *item;
  chat_message msgs[8];
  chat_request req;
  cJSON *built;
  size_t n = 0;

  cr_assert_not_null(ref);
  ref_msgs = cJSON_GetObjectItemCaseSensitive(ref, "messages");
  cJSON_ArrayForEach(item, ref_msgs) {
    cr_assert_lt(n, 8);
    msgs[n++] = msg(str_field(item, "role"), str_field(item, "content"));
  }
  req.model = str_field(ref, "model");
  req.messages = msgs;
  req.n_messages = n;
  req.has_temperature = 1;
  req.temperature =
      cJSON_GetObjectItemCaseSensitive(ref, "temperature")->valuedouble;
  req.max_tokens = 0;
  built = build_and_parse(&req);
  cr_assert(cJSON_Compare(cJSON_GetObjectItemCaseSensitive(built, "model"),
                          cJSON_GetObjectItemCaseSensitive(ref, "model"), 1));
  cr_assert(cJSON_Compare(cJSON_GetObjectItemCaseSensitive(built, "messages"),
                          ref_msgs, 1));
  cr_assert(cJSON_Compare(
      cJSON_GetObjectItemCaseSensitive(built, "temperature"),
      cJSON_GetObjectItemCaseSensitive(ref, "temperature"), 1));
  cr_assert(cJSON_Compare(cJSON_GetObjectItemCaseSensitive(built, "stream"),
                          cJSON_GetObjectItemCaseSensitive(ref, "stream"), 1));
  cJSON_Delete(built);
  cJSON_Delete(ref);
  free(text);
}

Test(openai_request, temperature_omitted_when_unset) {
  chat_message msgs[] = {msg("user", "x")};
  chat_request req = {.model = "m", .messages = msgs, .n_messages = 1, .has_temperature = 0, .temperature = 0.7, .max_tokens = 10};
  cJSON *root = build_and_parse(&req);

  cr_assert_null(cJSON_GetObjectItemCaseSensitive(root, "temperature"));
  cr_assert_not_null(cJSON_GetObjectItemCaseSensitive(root, "max_tokens"));
  cJSON_Delete(root);
}

Test(openai_request, zero_temperature_is_sent) {
  chat_message msgs[] = {msg("user", "x")};
  chat_request req = {.model = "m", .messages = msgs, .n_messages = 1, .has_temperature = 1, .temperature = 0.0, .max_tokens = 0};
  size_t len;
  char *body = openai_build_request(&req, &len);

  cr_assert_not_null(body);
  cr_assert_not_null(strstr(body, "\"temperature\":0,"));
  free(body);
}

Test(openai_request, max_tokens_omitted_when_not_positive) {
  chat_message msgs[] = {msg("user", "x")};
  chat_request req = {.model = "m", .messages = msgs, .n_messages = 1, .has_temperature = 0, .temperature = 0, .max_tokens = 0};
  cJSON *root = build_and_parse(&req);

  cr_assert_null(cJSON_GetObjectItemCaseSensitive(root, "max_tokens"));
  cr_assert_eq(cJSON_GetArraySize(root), 3); /* model, messages, stream */
  cJSON_Delete(root);
  req.max_tokens = -5;
  root = build_and_parse(&req);
  cr_assert_null(cJSON_GetObjectItemCaseSensitive(root, "max_tokens"));
  cJSON_Delete(root);
}

Test(openai_request, temperatures_round_trip_exactly) {
  static const double temps[] = {0.0, 0.1, 0.2, 0.3, 0.7, 1.0, 1.5, 2.0,
                                 0.30000000000000004, 1e-7, 1.0 / 3.0,
                                 -0.0, 123456.789};
  chat_message msgs[] = {msg("user", "x")};
  size_t i;

  for (i = 0; i < sizeof(temps) / sizeof(temps[0]); i++) {
    chat_request req = {.model = "m", .messages = msgs, .n_messages = 1, .has_temperature = 1, .temperature = temps[i], .max_tokens = 0};
    cJSON *root = build_and_parse(&req);
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(root, "temperature");

    cr_assert(cJSON_IsNumber(t));
    cr_assert_eq(t->valuedouble, temps[i], "%.17g came back as %.17g",
                 temps[i], t->valuedouble);
    cJSON_Delete(root);
  }
}

Test(openai_request, short_decimals_print_short) {
  chat_message msgs[] = {msg("user", "x")};
  chat_request req = {.model = "m", .messages = msgs, .n_messages = 1, .has_temperature = 1, .temperature = 0.7, .max_tokens = 0};
  char *body = openai_build_request(&req, NULL);

  cr_assert_not_null(body);
  cr_assert_not_null(strstr(body, "\"temperature\":0.7,"), "%s", body);
  free(body);
}

Test(openai_request, escapes_json_specials) {
  static const char text[] =
      "He said \"hi\"\\ then\nnew line\r\ttab \b\f \x01\x1f \x7f "
      "</script> \xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 "
      "\xe2\x80\xa8 \xe2\x80\xa9 end";
  chat_message msgs[] = {msg("user", text)};
  chat_request req = {.model = "m\"odel", .messages = msgs, .n_messages = 1, .has_temperature = 0, .temperature = 0, .max_tokens = 0};
  size_t len;
  char *body = openai_build_request(&req, &len);
  cJSON *root;
  const cJSON *m;

  cr_assert_not_null(body);
  /* Controls and the JS line separators never appear raw. */
  cr_assert_null(memchr(body, '\n', len));
  cr_assert_null(memchr(body, '\x01', len));
  cr_assert_null(strstr(body, "\xe2\x80\xa8"));
  cr_assert_null(strstr(body, "\xe2\x80\xa9"));
  cr_assert_not_null(strstr(body, "\\u2028"));
  cr_assert_not_null(strstr(body, "\\u2029"));
  cr_assert_not_null(strstr(body, "\\u0001"));
  cr_assert_not_null(strstr(body, "\\u001f"));
  cr_assert_not_null(strstr(body, "\\\"hi\\\"\\\\ then\\nnew line\\r\\t"));
  cr_assert_not_null(strstr(body, "\\b\\f"));

  root = cJSON_ParseWithLength(body, len);
  cr_assert_not_null(root);
  cr_assert_str_eq(str_field(root, "model"), "m\"odel");
  m = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(root, "messages"),
                         0);
  cr_assert_str_eq(str_field(m, "content"), text);
  cJSON_Delete(root);
  free(body);
}

Test(openai_request, embedded_nul_is_escaped) {
  static const char text[] = "a\0b";
  chat_message msgs[] = {{.role = "user", .content = text, .content_len = 3}};
  chat_request req = {.model = "m", .messages = msgs, .n_messages = 1, .has_temperature = 0, .temperature = 0, .max_tokens = 0};
  size_t len;
  char *body = openai_build_request(&req, &len);

  cr_assert_not_null(body);
  cr_assert_eq(strlen(body), len);
  cr_assert_not_null(strstr(body, "\"content\":\"a\\u0000b\""), "%s", body);
  free(body);
}

Test(openai_request, content_is_pointer_and_length) {
  /* Only the first 5 bytes belong to the message; no NUL follows them. */
  char *raw = fixture_exact_copy("hello world", 5);
  chat_message msgs[] = {{.role = "user", .content = raw, .content_len = 5}};
  chat_request req = {.model = "m", .messages = msgs, .n_messages = 1, .has_temperature = 0, .temperature = 0, .max_tokens = 0};
  cJSON *root = build_and_parse(&req);
  const cJSON *list = cJSON_GetObjectItemCaseSensitive(root, "messages");
  const cJSON *m = cJSON_GetArrayItem(list, 0);

  cr_assert_str_eq(str_field(m, "content"), "hello");
  cJSON_Delete(root);
  free(raw);
}

Test(openai_request, empty_content_is_allowed) {
  chat_message msgs[] = {{.role = "user", .content = NULL, .content_len = 0}, {.role = "user", .content = "", .content_len = 0}};
  chat_request req = {.model = "m", .messages = msgs, .n_messages = 2, .has_temperature = 0, .temperature = 0, .max_tokens = 0};
  cJSON *root = build_and_parse(&req);
  const cJSON *list = cJSON_GetObjectItemCaseSensitive(root, "messages");

  cr_assert_str_eq(str_field(cJSON_GetArrayItem(list, 0), "content"), "");
  cr_assert_str_eq(str_field(cJSON_GetArrayItem(list, 1), "content"), "");
  cJSON_Delete(root);
}

Test(openai_request, invalid_requests_give_null) {
  chat_message good[] = {msg("user", "x")};
  chat_message bad_utf8[] = {msg("user", "caf\xc3")};
  chat_message surrogate[] = {msg("user", "\xed\xa0\x80")};
  chat_message overlong[] = {msg("user", "\xc0\xaf")};
  chat_message no_role[] = {msg(NULL, "x")};
  chat_message empty_role[] = {msg("", "x")};
  chat_message bad_role[] = {msg("us\xff", "x")};
  chat_message null_content[] = {{.role = "user", .content = NULL, .content_len = 3}};
  chat_message second_bad[] = {msg("user", "ok"), msg("user", "\xff")};
  const chat_request cases[] = {
      {.model = NULL, .messages = good, .n_messages = 1},
      {.model = "", .messages = good, .n_messages = 1},
      {.model = "m\xfe", .messages = good, .n_messages = 1},
      {.model = "m", .messages = good, .n_messages = 0},
      {.model = "m", .messages = NULL, .n_messages = 1},
      {.model = "m", .messages = bad_utf8, .n_messages = 1},
      {.model = "m", .messages = surrogate, .n_messages = 1},
      {.model = "m", .messages = overlong, .n_messages = 1},
      {.model = "m", .messages = no_role, .n_messages = 1},
      {.model = "m", .messages = empty_role, .n_messages = 1},
      {.model = "m", .messages = bad_role, .n_messages = 1},
      {.model = "m", .messages = null_content, .n_messages = 1},
      {.model = "m", .messages = second_bad, .n_messages = 2},
      {.model = "m", .messages = good, .n_messages = 1, .has_temperature = 1, .temperature = NAN},
      {.model = "m", .messages = good, .n_messages = 1, .has_temperature = 1, .temperature = INFINITY},
  };
  size_t i;

  for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    size_t len = 77;

    cr_assert_null(openai_build_request(&cases[i], &len), "case %zu", i);
    cr_assert_eq(len, 0);
  }
  cr_assert_null(openai_build_request(NULL, NULL));
}

Test(openai_request, five_megabyte_content) {
  size_t n = 5 * 1024 * 1024, i;
  char *big = malloc(n);
  chat_message msgs[1];
  chat_request req = {.model = "m", .messages = msgs, .n_messages = 1, .has_temperature = 0, .temperature = 0, .max_tokens = 0};
  cJSON *root;
  const cJSON *m;

  cr_assert_not_null(big);
  for (i = 0; i < n; i++)
    big[i] = (i % 100 == 99) ? '\n' : (char)('a' + i % 26);
  msgs[0].role = "user";
  msgs[0].content = big;
  msgs[0].content_len = n;
  root = build_and_parse(&req);
  m = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(root, "messages"),
                         0);
  cr_assert_eq(strlen(str_field(m, "content")), n);
  cr_assert_eq(memcmp(str_field(m, "content"), big, n), 0);
  cJSON_Delete(root);
  free(big);
}

/* Appends code point cp to b as UTF-8. */
static void put_utf8(buf *b, unsigned long cp) {
  unsigned char s[4];
  size_t n;

  if (cp < 0x80) {
    s[0] = (unsigned char)cp;
    n = 1;
  }
  else if (cp < 0x800) {
    s[0] = (unsigned char)(0xC0 | (cp >> 6));
    s[1] = (unsigned char)(0x80 | (cp & 0x3F));
    n = 2;
  }
  else if (cp < 0x10000) {
    s[0] = (unsigned char)(0xE0 | (cp >> 12));
    s[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
    s[2] = (unsigned char)(0x80 | (cp & 0x3F));
    n = 3;
  }
  else {
    s[0] = (unsigned char)(0xF0 | (cp >> 18));
    s[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
    s[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
    s[3] = (unsigned char)(0x80 | (cp & 0x3F));
    n = 4;
  }
  cr_assert_eq(buf_append(b, s, n), 0);
}

Test(openai_request, random_unicode_round_trips) {
  unsigned long seed = 12345;
  int round;

  for (round = 0; round < 200; round++) {
    chat_message msgs[1];
    chat_request req = {.model = "m", .messages = msgs, .n_messages = 1, .has_temperature = 0, .temperature = 0, .max_tokens = 0};
    cJSON *root;
    const cJSON *m;
    buf b;
    int i;

    buf_init(&b, 0);
    for (i = 0; i < 64; i++) {
      unsigned long cp;

      seed = seed * 6364136223846793005UL + 1442695040888963407UL;
      cp = (seed >> 33) % 0x110000;
      if (cp == 0 || (cp >= 0xD800 && cp <= 0xDFFF))
        cp = '"';
      put_utf8(&b, cp);
    }
    msgs[0].role = "user";
    msgs[0].content = b.data;
    msgs[0].content_len = b.len;
    root = build_and_parse(&req);
    m = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(root, "messages"),
                           0);
    cr_assert_str_eq(str_field(m, "content"), b.data, "round %d", round);
    cJSON_Delete(root);
    buf_free(&b);
  }
}

/* --- Response parsing ---------------------------------------------------- */

Test(openai_response, text_vector) {
  size_t len;
  char *body = load("text_response.json", &len);
  chat_response r;

  parse_ok(body, len, &r);
  cr_assert_str_eq(r.content, "Hello! How can I assist you today?");
  cr_assert_eq(r.content_len, strlen("Hello! How can I assist you today?"));
  cr_assert_str_eq(r.model, "gpt-5.4");
  cr_assert_str_eq(r.finish_reason, "stop");
  cr_assert_eq(r.input_tokens, 19);
  cr_assert_eq(r.output_tokens, 10);
  chat_response_free(&r);
  free(body);
}

Test(openai_response, tool_call_vector_has_empty_content) {
  size_t len;
  char *body = load("tool_call_response.json", &len);
  chat_response r;

  parse_ok(body, len, &r);
  cr_assert_str_eq(r.content, "");
  cr_assert_eq(r.content_len, 0);
  cr_assert_str_eq(r.model, "gpt-4o-mini");
  cr_assert_str_eq(r.finish_reason, "tool_calls");
  cr_assert_eq(r.input_tokens, 82);
  cr_assert_eq(r.output_tokens, 17);
  chat_response_free(&r);
  free(body);
}

Test(openai_response, err_is_untouched_on_success) {
  static const char body[] =
      "{\"choices\":[{\"message\":{\"content\":\"x\"}}]}";
  chat_response r;
  chat_error e;

  chat_error_init(&e);
  e.http_status = 200;
  cr_assert_eq(openai_parse_response(body, sizeof(body) - 1, &r, &e), 0);
  cr_assert_eq(e.http_status, 200);
  cr_assert_null(e.reason);
  cr_assert_null(e.message);
  chat_response_free(&r);
}

Test(openai_response, minimal_body_leaves_optional_fields_empty) {
  static const char body[] =
      "{\"choices\":[{\"message\":{\"content\":\"hi\"}}]}";
  chat_response r;

  parse_ok(body, sizeof(body) - 1, &r);
  cr_assert_str_eq(r.content, "hi");
  cr_assert_null(r.model);
  cr_assert_null(r.finish_reason);
  cr_assert_eq(r.input_tokens, -1);
  cr_assert_eq(r.output_tokens, -1);
  chat_response_free(&r);
}

Test(openai_response, missing_and_null_content_are_empty) {
  static const char *bodies[] = {
      "{\"choices\":[{\"message\":{\"role\":\"assistant\"}}]}",
      "{\"choices\":[{\"message\":{\"content\":null}}]}",
  };
  size_t i;

  for (i = 0; i < 2; i++) {
    chat_response r;

    parse_ok(bodies[i], strlen(bodies[i]), &r);
    cr_assert_str_eq(r.content, "");
    cr_assert_eq(r.content_len, 0);
    chat_response_free(&r);
  }
}

Test(openai_response, odd_optional_fields_are_ignored) {
  static const char body[] =
      "{\"model\":42,\"choices\":[{\"message\":{\"content\":\"ok\"},"
      "\"finish_reason\":null}],\"usage\":{\"prompt_tokens\":\"19\","
      "\"completion_tokens\":-3}}";
  chat_response r;

  parse_ok(body, sizeof(body) - 1, &r);
  cr_assert_str_eq(r.content, "ok");
  cr_assert_null(r.model);
  cr_assert_null(r.finish_reason);
  cr_assert_eq(r.input_tokens, -1);
  cr_assert_eq(r.output_tokens, -1);
  chat_response_free(&r);
}

Test(openai_response, usage_shapes) {
  static const struct {
    const char *usage;
    long in, out;
  } cases[] = {
      {"{\"prompt_tokens\":5,\"completion_tokens\":7}", 5, 7},
      {"{\"prompt_tokens\":5}", 5, -1},
      {"{\"completion_tokens\":7}", -1, 7},
      {"{}", -1, -1},
      {"null", -1, -1},
      {"[5,7]", -1, -1},
      {"\"lots\"", -1, -1},
      {"{\"prompt_tokens\":null,\"completion_tokens\":true}", -1, -1},
      {"{\"prompt_tokens\":1e300,\"completion_tokens\":-1e300}", -1, -1},
      {"{\"prompt_tokens\":12.9,\"completion_tokens\":0}", 12, 0},
      {"{\"prompt_tokens\":{},\"completion_tokens\":[]}", -1, -1},
  };
  size_t i;

  for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    chat_response r;
    char body[256];
    int n = snprintf(body, sizeof(body),
                     "{\"choices\":[{\"message\":{\"content\":\"x\"}}],"
                     "\"usage\":%s}", cases[i].usage);

    cr_assert(n > 0 && (size_t)n < sizeof(body));
    parse_ok(body, (size_t)n, &r);
    cr_assert_eq(r.input_tokens, cases[i].in, "usage %s", cases[i].usage);
    cr_assert_eq(r.output_tokens, cases[i].out, "usage %s", cases[i].usage);
    chat_response_free(&r);
  }
}

Test(openai_response, unicode_escapes_are_decoded) {
  static const char body[] =
      "{\"choices\":[{\"message\":{\"content\":"
      "\"caf\\u00e9 \\ud83d\\ude00 \\\"q\\\" \\n\"}}]}";
  chat_response r;

  parse_ok(body, sizeof(body) - 1, &r);
  cr_assert_str_eq(r.content, "caf\xc3\xa9 \xf0\x9f\x98\x80 \"q\" \n");
  cr_assert_eq(r.content_len, strlen(r.content));
  chat_response_free(&r);
}

Test(openai_response, surrounding_whitespace_and_bom_are_fine) {
  static const char body[] =
      "\xef\xbb\xbf \r\n{\"choices\":[{\"message\":{\"content\":\"x\"}}]}"
      " \n\t\r\n";
  chat_response r;

  parse_ok(body, sizeof(body) - 1, &r);
  cr_assert_str_eq(r.content, "x");
  chat_response_free(&r);
}

Test(openai_response, wrong_content_types_are_missing_field) {
  PARSE_FAILS("{\"choices\":[{\"message\":{\"content\":42}}]}",
              "missing_field");
  PARSE_FAILS("{\"choices\":[{\"message\":{\"content\":true}}]}",
              "missing_field");
  PARSE_FAILS("{\"choices\":[{\"message\":{\"content\":{}}}]}",
              "missing_field");
  PARSE_FAILS("{\"choices\":[{\"message\":{\"content\":[\"a\"]}}]}",
              "missing_field");
}

Test(openai_response, missing_structure_is_missing_field) {
  PARSE_FAILS("{}", "missing_field");
  PARSE_FAILS("{\"choices\":null}", "missing_field");
  PARSE_FAILS("{\"choices\":[]}", "missing_field");
  PARSE_FAILS("{\"choices\":{}}", "missing_field");
  PARSE_FAILS("{\"choices\":\"yes\"}", "missing_field");
  PARSE_FAILS("{\"choices\":7}", "missing_field");
  PARSE_FAILS("{\"choices\":[null]}", "missing_field");
  PARSE_FAILS("{\"choices\":[\"x\"]}", "missing_field");
  PARSE_FAILS("{\"choices\":[[{\"message\":{\"content\":\"x\"}}]]}",
              "missing_field");
  PARSE_FAILS("{\"choices\":[{}]}", "missing_field");
  PARSE_FAILS("{\"choices\":[{\"message\":null}]}", "missing_field");
  PARSE_FAILS("{\"choices\":[{\"message\":\"hi\"}]}", "missing_field");
  PARSE_FAILS("{\"choices\":[{\"delta\":{\"content\":\"x\"}}]}",
              "missing_field");
  PARSE_FAILS("{\"Choices\":[{\"message\":{\"content\":\"x\"}}]}",
              "missing_field");
  PARSE_FAILS("[]", "missing_field");
  PARSE_FAILS("[{\"choices\":[{\"message\":{\"content\":\"x\"}}]}]",
              "missing_field");
  PARSE_FAILS("42", "missing_field");
  PARSE_FAILS("\"text\"", "missing_field");
  PARSE_FAILS("null", "missing_field");
  PARSE_FAILS("{\"error\":null}", "missing_field");
}

Test(openai_response, malformed_json_is_invalid_json) {
  PARSE_FAILS("", "invalid_json");
  PARSE_FAILS("   ", "invalid_json");
  PARSE_FAILS("{", "invalid_json");
  PARSE_FAILS("}", "invalid_json");
  PARSE_FAILS("not json", "invalid_json");
  PARSE_FAILS("<html><body>502 Bad Gateway</body></html>", "invalid_json");
  PARSE_FAILS("{\"choices\":[{\"message\":{\"content\":\"x\"}}]}x",
              "invalid_json");
  PARSE_FAILS("{\"choices\":[{\"message\":{\"content\":\"x\"}}]} {}",
              "invalid_json");
  PARSE_FAILS("{\"choices\":[{\"message\":{\"content\":\"x}}]}",
              "invalid_json");
  PARSE_FAILS("{\"a\":1,}", "invalid_json");
  PARSE_FAILS("{'a':1}", "invalid_json");
  PARSE_FAILS("{\"a\":\"\\x41\"}", "invalid_json");
  PARSE_FAILS("{\"a\":\"\\u12\"}", "invalid_json");
  PARSE_FAILS("{\"a\":\"\\", "invalid_json");
  PARSE_FAILS("{\"a\":\"\\u", "invalid_json");
  PARSE_FAILS("{\"a\":1e", "invalid_json");
  PARSE_FAILS("data: {\"choices\":[]}", "invalid_json");
  /* Lone surrogate escapes cannot become UTF-8: cJSON refuses them. */
  PARSE_FAILS("{\"choices\":[{\"message\":{\"content\":\"\\ud800\"}}]}",
              "invalid_json");
  PARSE_FAILS("{\"choices\":[{\"message\":{\"content\":\"\\udc00x\"}}]}",
              "invalid_json");
}

Test(openai_response, null_body_is_invalid_json) {
  chat_response r;
  chat_error e;

  chat_error_init(&e);
  cr_assert_eq(openai_parse_response(NULL, 0, &r, &e), -1);
  cr_assert_str_eq(e.reason, "invalid_json");
  chat_error_free(&e);
}

Test(openai_response, non_utf8_body_is_invalid_utf8) {
  PARSE_FAILS("{\"choices\":[{\"message\":{\"content\":\"\xff\"}}]}",
              "invalid_utf8");
  PARSE_FAILS("{\"choices\":[{\"message\":{\"content\":\"\xc0\xaf\"}}]}",
              "invalid_utf8");
  PARSE_FAILS("{\"choices\":[{\"message\":{\"content\":\"\xed\xa0\x80\"}}]}",
              "invalid_utf8");
  PARSE_FAILS("{\"choices\":[{\"message\":{\"content\":\"caf\xe9\"}}]}",
              "invalid_utf8");
  PARSE_FAILS("{\"model\":\"\xf4\x90\x80\x80\",\"choices\":[]}",
              "invalid_utf8");
  PARSE_FAILS("\x80{}", "invalid_utf8");
  PARSE_FAILS("{}\xe2\x82", "invalid_utf8");
}

Test(openai_response, raw_nul_bytes_are_invalid_json) {
  /* cJSON on its own would skip a NUL between tokens as whitespace. */
  PARSE_FAILS("{\"choices\":[{\"message\":{\"content\":\"a\0b\"}}]}",
              "invalid_json");
  PARSE_FAILS("{\0\"choices\":[{\"message\":{\"content\":\"x\"}}]}",
              "invalid_json");
  PARSE_FAILS("{\"choices\":[{\"message\":{\"content\":\"x\"}}]}\0",
              "invalid_json");
  PARSE_FAILS("\0", "invalid_json");
}

Test(openai_response, escaped_nul_cuts_content) {
  static const char body[] =
      "{\"choices\":[{\"message\":{\"content\":\"ab\\u0000cd\"}}]}";
  chat_response r;

  parse_ok(body, sizeof(body) - 1, &r);
  cr_assert_str_eq(r.content, "ab");
  cr_assert_eq(r.content_len, 2);
  chat_response_free(&r);
}

Test(openai_response, deep_nesting_fails_cleanly) {
  size_t depth = 200000, i;
  char *body = malloc(2 * depth);

  cr_assert_not_null(body);
  for (i = 0; i < depth; i++) {
    body[i] = '[';
    body[2 * depth - 1 - i] = ']';
  }
  parse_fails(body, 2 * depth, "invalid_json");
  memset(body, '[', 2 * depth);
  parse_fails(body, 2 * depth, "invalid_json");
  free(body);
}

/* Every proper prefix of a valid body must fail cleanly, each parsed from
 * an exact-size buffer so ASan sees any over-read. */
static void every_prefix_fails(const char *name) {
  size_t len, cut, end;
  char *body = load(name, &len);

  end = len;
  while (end > 0 && body[end - 1] != '}')
    end--;
  cr_assert_gt(end, 0);
  for (cut = 0; cut < end; cut++) {
    char *copy = fixture_exact_copy(body, cut);
    chat_response r;
    chat_error e;

    chat_error_init(&e);
    cr_assert_eq(openai_parse_response(copy, cut, &r, &e), -1,
                 "%s prefix %zu parsed", name, cut);
    cr_assert_str_eq(e.reason, "invalid_json", "%s prefix %zu", name, cut);
    cr_assert_null(r.content);
    chat_error_free(&e);
    free(copy);
  }
  /* From the closing brace on, only whitespace is left: it parses. */
  for (cut = end; cut <= len; cut++) {
    char *copy = fixture_exact_copy(body, cut);
    chat_response r;
    chat_error e;

    chat_error_init(&e);
    cr_assert_eq(openai_parse_response(copy, cut, &r, &e), 0);
    chat_response_free(&r);
    free(copy);
  }
  free(body);
}

Test(openai_response, every_prefix_of_text_vector_fails_cleanly) {
  every_prefix_fails("text_response.json");
}

Test(openai_response, every_prefix_of_tool_call_vector_fails_cleanly) {
  every_prefix_fails("tool_call_response.json");
}

Test(openai_response, every_single_byte_corruption_is_handled) {
  static const char bytes[] = {'"', '{', '}', '[', ']', ',', ':', '\\',
                               '\0', 'x', '\xff', '\x80'};
  size_t len, pos, k;
  char *body = load("text_response.json", &len);

  for (pos = 0; pos < len; pos++) {
    for (k = 0; k < sizeof(bytes); k++) {
      char *copy = fixture_exact_copy(body, len);
      chat_response r;
      chat_error e;

      copy[pos] = bytes[k];
      chat_error_init(&e);
      if (openai_parse_response(copy, len, &r, &e) == 0) {
        cr_assert_not_null(r.content);
        cr_assert_eq(r.content_len, strlen(r.content));
      }
      else {
        cr_assert_not_null(e.reason);
        cr_assert_null(r.content);
      }
      chat_response_free(&r);
      chat_error_free(&e);
      free(copy);
    }
  }
  free(body);
}

Test(openai_response, five_megabyte_content) {
  static const char head[] = "{\"model\":\"big\",\"choices\":[{\"message\":"
                             "{\"content\":\"";
  static const char tail[] = "\"},\"finish_reason\":\"length\"}]}";
  /* A unit with a multi-byte character and an escape. */
  static const char unit[] = "abc\xc3\xa9\\n\\\"xyz";
  static const char decoded[] = "abc\xc3\xa9\n\"xyz";
  size_t units = 5 * 1024 * 1024 / (sizeof(unit) - 1), i;
  chat_response r;
  buf b;

  buf_init(&b, 0);
  cr_assert_eq(buf_append(&b, head, sizeof(head) - 1), 0);
  for (i = 0; i < units; i++)
    cr_assert_eq(buf_append(&b, unit, sizeof(unit) - 1), 0);
  cr_assert_eq(buf_append(&b, tail, sizeof(tail) - 1), 0);
  cr_assert_gt(b.len, 5 * 1000 * 1000);

  parse_ok(b.data, b.len, &r);
  cr_assert_eq(r.content_len, units * (sizeof(decoded) - 1));
  cr_assert_eq(memcmp(r.content, decoded, sizeof(decoded) - 1), 0);
  cr_assert_eq(memcmp(r.content + r.content_len - (sizeof(decoded) - 1),
                      decoded, sizeof(decoded) - 1),
               0);
  cr_assert_str_eq(r.model, "big");
  cr_assert_str_eq(r.finish_reason, "length");
  chat_response_free(&r);
  buf_free(&b);
}

Test(openai_response, error_in_200_is_provider_error) {
  size_t len;
  char *body = load("openrouter_midstream_error.json", &len);
  chat_response r;
  chat_error e;

  chat_error_init(&e);
  cr_assert_eq(openai_parse_response(body, len, &r, &e), -1);
  cr_assert_str_eq(e.reason, "provider_error");
  cr_assert_eq(e.kind, CHAT_ERR_TRANSIENT);
  cr_assert_str_eq(e.code, "server_error");
  cr_assert_str_eq(e.message, "Provider disconnected unexpectedly");
  cr_assert_null(e.type);
  cr_assert_null(r.content);
  chat_error_free(&e);
  free(body);
}

Test(openai_response, provider_error_kinds) {
  static const struct {
    const char *body;
    chat_error_kind kind;
    const char *code, *type, *message;
  } cases[] = {
      {"{\"error\":{\"code\":429,\"message\":\"slow down\"}}",
       CHAT_ERR_TRANSIENT, "429", NULL, "slow down"},
      {"{\"error\":{\"code\":\"429\",\"type\":\"rate_limit_error\"}}",
       CHAT_ERR_TRANSIENT, "429", "rate_limit_error", NULL},
      {"{\"error\":{\"code\":502,\"message\":\"down\"}}", CHAT_ERR_TRANSIENT,
       "502", NULL, "down"},
      {"{\"error\":{\"code\":400,\"message\":\"bad\"}}", CHAT_ERR_PERMANENT,
       "400", NULL, "bad"},
      {"{\"error\":{\"type\":\"overloaded_error\",\"message\":\"busy\"}}",
       CHAT_ERR_TRANSIENT, NULL, "overloaded_error", "busy"},
      {"{\"error\":{\"code\":\"rate_limit_exceeded\"}}", CHAT_ERR_TRANSIENT,
       "rate_limit_exceeded", NULL, NULL},
      {"{\"error\":{\"message\":\"bad\",\"type\":\"invalid_request_error\","
       "\"param\":null,\"code\":null}}",
       CHAT_ERR_PERMANENT, NULL, "invalid_request_error", "bad"},
      {"{\"error\":{\"code\":\"insufficient_quota\"}}", CHAT_ERR_PERMANENT,
       "insufficient_quota", NULL, NULL},
      {"{\"error\":\"model 'x' not found\"}", CHAT_ERR_PERMANENT, NULL, NULL,
       "model 'x' not found"},
      {"{\"error\":{}}", CHAT_ERR_PERMANENT, NULL, NULL, NULL},
      {"{\"error\":{\"message\":7,\"type\":[],\"code\":{}}}",
       CHAT_ERR_PERMANENT, NULL, NULL, NULL},
      {"{\"error\":{\"code\":\"99999999999999999999999\"}}",
       CHAT_ERR_PERMANENT, "99999999999999999999999", NULL, NULL},
  };
  size_t i;

  for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    chat_response r;
    chat_error e;

    chat_error_init(&e);
    cr_assert_eq(openai_parse_response(cases[i].body, strlen(cases[i].body),
                                       &r, &e),
                 -1);
    cr_assert_str_eq(e.reason, "provider_error");
    cr_assert_eq(e.kind, cases[i].kind, "%s", cases[i].body);
#define CHECK_STR(field)                                                     \
  if (cases[i].field == NULL)                                                \
    cr_assert_null(e.field, "%s", cases[i].body);                            \
  else                                                                       \
    cr_assert_str_eq(e.field, cases[i].field, "%s", cases[i].body);
    CHECK_STR(code)
    CHECK_STR(type)
    CHECK_STR(message)
#undef CHECK_STR
    chat_error_free(&e);
  }
}

Test(openai_response, failure_frees_what_err_held) {
  chat_response r;
  chat_error e;

  chat_error_init(&e);
  chat_error_set(&e, CHAT_ERR_TRANSIENT, "http_error", "old message");
  e.type = strdup("old type");
  e.code = strdup("old code");
  cr_assert_eq(openai_parse_response("{", 1, &r, &e), -1);
  cr_assert_str_eq(e.reason, "invalid_json");
  cr_assert_null(e.message);
  cr_assert_null(e.type);
  cr_assert_null(e.code);
  chat_error_free(&e);
}

/* --- Error bodies -------------------------------------------------------- */

static void error_vector(const char *name, long status, chat_error *e) {
  size_t len;
  char *body = load(name, &len);

  chat_error_init(e);
  openai_parse_error(status, body, len, 6, e);
  cr_assert_str_eq(e->reason, "http_error");
  cr_assert_eq(e->http_status, status);
  cr_assert_eq(e->retry_after_ms, 6);
  free(body);
}

Test(openai_error, rate_limit_429_is_transient) {
  chat_error e;

  error_vector("error_429_rate_limit.json", 429, &e);
  cr_assert_eq(e.kind, CHAT_ERR_TRANSIENT);
  cr_assert_str_eq(e.type, "tokens");
  cr_assert_str_eq(e.code, "rate_limit_exceeded");
  cr_assert_not_null(e.message);
  cr_assert_eq(strncmp(e.message, "Rate limit reached for gpt-4", 28), 0);
  chat_error_free(&e);
}

Test(openai_error, insufficient_quota_429_is_permanent) {
  chat_error e;

  error_vector("error_429_insufficient_quota.json", 429, &e);
  cr_assert_eq(e.kind, CHAT_ERR_PERMANENT);
  cr_assert_str_eq(e.type, "insufficient_quota");
  cr_assert_str_eq(e.code, "insufficient_quota");
  cr_assert_eq(strncmp(e.message, "You exceeded your current quota", 31), 0);
  chat_error_free(&e);
}

Test(openai_error, quota_named_only_by_type_is_permanent) {
  static const char body[] = "{\"error\":{\"message\":\"m\","
                             "\"type\":\"insufficient_quota\",\"code\":null}}";
  chat_error e;

  parse_error_str(429, body, sizeof(body) - 1, &e);
  cr_assert_eq(e.kind, CHAT_ERR_PERMANENT);
  cr_assert_null(e.code);
  chat_error_free(&e);
}

Test(openai_error, invalid_api_key_401_is_permanent) {
  chat_error e;

  error_vector("error_401_invalid_api_key.json", 401, &e);
  cr_assert_eq(e.kind, CHAT_ERR_PERMANENT);
  cr_assert_str_eq(e.type, "invalid_request_error");
  cr_assert_str_eq(e.code, "invalid_api_key");
  cr_assert_eq(strncmp(e.message, "Incorrect API key provided: sk-abc.", 35),
               0);
  chat_error_free(&e);
}

Test(openai_error, openrouter_402_numeric_code) {
  chat_error e;

  error_vector("openrouter_402.json", 402, &e);
  cr_assert_eq(e.kind, CHAT_ERR_PERMANENT);
  cr_assert_str_eq(e.code, "402");
  cr_assert_null(e.type);
  cr_assert_eq(strncmp(e.message, "This request requires more credits", 34),
               0);
  chat_error_free(&e);
}

Test(openai_error, openrouter_429_daily_limit) {
  chat_error e;

  error_vector("openrouter_429_daily_limit.json", 429, &e);
  cr_assert_eq(e.kind, CHAT_ERR_TRANSIENT);
  cr_assert_str_eq(e.code, "429");
  cr_assert_null(e.type);
  cr_assert_eq(strncmp(e.message, "Rate limit exceeded: free-models-per-day",
                       40),
               0);
  chat_error_free(&e);
}

Test(openai_error, openrouter_error_chunk_with_server_error) {
  chat_error e;

  error_vector("openrouter_midstream_error.json", 502, &e);
  cr_assert_eq(e.kind, CHAT_ERR_TRANSIENT);
  cr_assert_str_eq(e.code, "server_error");
  cr_assert_str_eq(e.message, "Provider disconnected unexpectedly");
  chat_error_free(&e);
}

Test(openai_error, ollama_v1_404_with_null_code) {
  chat_error e;

  error_vector("ollama_v1_404.json", 404, &e);
  cr_assert_eq(e.kind, CHAT_ERR_PERMANENT);
  cr_assert_str_eq(e.type, "not_found_error");
  cr_assert_null(e.code);
  cr_assert_str_eq(e.message,
                   "model \"nope\" not found, try pulling it first");
  chat_error_free(&e);
}

Test(openai_error, ollama_string_error) {
  static const char body[] = "{\"error\":\"model 'llama9' not found\"}";
  chat_error e;

  parse_error_str(404, body, sizeof(body) - 1, &e);
  cr_assert_eq(e.kind, CHAT_ERR_PERMANENT);
  cr_assert_str_eq(e.message, "model 'llama9' not found");
  cr_assert_null(e.type);
  cr_assert_null(e.code);
  chat_error_free(&e);
}

Test(openai_error, code_forms) {
  static const struct {
    const char *body;
    const char *code;
  } cases[] = {
      {"{\"error\":{\"code\":402}}", "402"},
      {"{\"error\":{\"code\":-1}}", "-1"},
      {"{\"error\":{\"code\":1.5}}", "1.5"},
      {"{\"error\":{\"code\":1e300}}", "1e+300"},
      {"{\"error\":{\"code\":\"\"}}", ""},
      {"{\"error\":{\"code\":null}}", NULL},
      {"{\"error\":{\"code\":true}}", NULL},
      {"{\"error\":{\"code\":{\"n\":1}}}", NULL},
      {"{\"error\":{\"code\":[402]}}", NULL},
  };
  size_t i;

  for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    chat_error e;

    parse_error_str(400, cases[i].body, strlen(cases[i].body), &e);
    if (cases[i].code == NULL)
      cr_assert_null(e.code, "%s", cases[i].body);
    else
      cr_assert_str_eq(e.code, cases[i].code, "%s", cases[i].body);
    chat_error_free(&e);
  }
}

Test(openai_error, non_json_body_becomes_the_message) {
  static const char body[] = "\r\n  <html>502 Bad Gateway</html>\n\n";
  chat_error e;

  parse_error_str(502, body, sizeof(body) - 1, &e);
  cr_assert_eq(e.kind, CHAT_ERR_TRANSIENT);
  cr_assert_str_eq(e.reason, "http_error");
  cr_assert_str_eq(e.message, "<html>502 Bad Gateway</html>");
  cr_assert_null(e.type);
  cr_assert_null(e.code);
  chat_error_free(&e);
}

Test(openai_error, json_without_error_object_becomes_the_message) {
  static const char body[] = "{\"detail\":\"Not Found\"}";
  chat_error e;

  parse_error_str(404, body, sizeof(body) - 1, &e);
  cr_assert_str_eq(e.message, body);
  cr_assert_null(e.type);
  chat_error_free(&e);
}

Test(openai_error, error_object_without_message_uses_the_body) {
  static const char body[] = "{\"error\":{\"type\":\"server_error\"}}";
  chat_error e;

  parse_error_str(500, body, sizeof(body) - 1, &e);
  cr_assert_str_eq(e.type, "server_error");
  cr_assert_str_eq(e.message, body);
  chat_error_free(&e);
}

Test(openai_error, empty_and_null_bodies) {
  chat_error e;

  parse_error_str(503, "", 0, &e);
  cr_assert_eq(e.kind, CHAT_ERR_TRANSIENT);
  cr_assert_str_eq(e.reason, "http_error");
  cr_assert_eq(e.http_status, 503);
  cr_assert_null(e.message);
  chat_error_free(&e);

  parse_error_str(400, " \r\n\t ", 5, &e);
  cr_assert_null(e.message);
  chat_error_free(&e);

  chat_error_init(&e);
  openai_parse_error(500, NULL, 0, 2500, &e);
  cr_assert_null(e.message);
  cr_assert_eq(e.retry_after_ms, 2500);
  chat_error_free(&e);
}

Test(openai_error, long_body_is_cut_to_512_bytes) {
  char body[2000];
  chat_error e;

  memset(body, 'x', sizeof(body));
  parse_error_str(500, body, sizeof(body), &e);
  cr_assert_not_null(e.message);
  cr_assert_eq(strlen(e.message), 512);
  chat_error_free(&e);
}

Test(openai_error, cut_never_splits_a_character) {
  char body[600];
  size_t start;

  /* Put a 4-byte character at every offset around the 512 cut. */
  for (start = 505; start <= 512; start++) {
    chat_error e;

    memset(body, 'a', sizeof(body));
    memcpy(body + start, "\xf0\x9f\x98\x80", 4);
    parse_error_str(500, body, sizeof(body), &e);
    cr_assert_not_null(e.message, "start %zu", start);
    cr_assert(chat_utf8_valid(e.message, strlen(e.message)));
    cr_assert_leq(strlen(e.message), 512);
    cr_assert_geq(strlen(e.message), 509);
    chat_error_free(&e);
  }
}

Test(openai_error, non_utf8_body_gives_no_message) {
  static const char body[] = "Bad \xff\xfe gateway";
  chat_error e;

  parse_error_str(502, body, sizeof(body) - 1, &e);
  cr_assert_null(e.message);
  cr_assert_eq(e.kind, CHAT_ERR_TRANSIENT);
  chat_error_free(&e);
}

Test(openai_error, error_json_with_invalid_utf8_is_not_trusted) {
  static const char body[] =
      "{\"error\":{\"message\":\"bad \xc0\xaf\",\"code\":\"c\"}}";
  chat_error e;

  parse_error_str(400, body, sizeof(body) - 1, &e);
  cr_assert_null(e.code);
  cr_assert_null(e.message);
  chat_error_free(&e);
}

Test(openai_error, body_with_nul_is_cut_at_the_nul) {
  static const char body[] = "oops\0{\"error\":\"hidden\"}";
  chat_error e;

  parse_error_str(500, body, sizeof(body) - 1, &e);
  cr_assert_str_eq(e.message, "oops");
  chat_error_free(&e);
}

Test(openai_error, status_below_400_is_permanent_http_error) {
  static const long statuses[] = {0, 101, 200, 204, 302, 399};
  size_t i;

  for (i = 0; i < sizeof(statuses) / sizeof(statuses[0]); i++) {
    chat_error e;

    parse_error_str(statuses[i], "", 0, &e);
    cr_assert_eq(e.kind, CHAT_ERR_PERMANENT, "status %ld", statuses[i]);
    cr_assert_str_eq(e.reason, "http_error");
    cr_assert_eq(e.http_status, statuses[i]);
    chat_error_free(&e);
  }
}

Test(openai_error, status_table_follows_chat_status_kind) {
  static const char body[] = "{\"error\":{\"message\":\"m\"}}";
  long status;

  for (status = 400; status < 600; status++) {
    chat_error e;

    parse_error_str(status, body, sizeof(body) - 1, &e);
    cr_assert_eq(e.kind, chat_status_kind(status), "status %ld", status);
    cr_assert_str_eq(e.message, "m");
    chat_error_free(&e);
  }
}

Test(openai_error, frees_what_err_held) {
  chat_error e;

  chat_error_init(&e);
  chat_error_set(&e, CHAT_ERR_TIMEOUT, "timeout", "old");
  e.type = strdup("old type");
  e.code = strdup("old code");
  openai_parse_error(500, "x", 1, -1, &e);
  cr_assert_str_eq(e.message, "x");
  cr_assert_null(e.type);
  cr_assert_null(e.code);
  cr_assert_eq(e.kind, CHAT_ERR_TRANSIENT);
  chat_error_free(&e);
}

Test(openai_error, every_prefix_of_every_vector_is_handled) {
  static const char *names[] = {
      "error_429_rate_limit.json", "error_429_insufficient_quota.json",
      "error_401_invalid_api_key.json", "openrouter_402.json",
      "openrouter_429_daily_limit.json", "ollama_v1_404.json",
      "openrouter_midstream_error.json"};
  size_t n, cut, len;

  for (n = 0; n < sizeof(names) / sizeof(names[0]); n++) {
    char *body = load(names[n], &len);

    for (cut = 0; cut <= len; cut++) {
      chat_error e;

      parse_error_str(429, body, cut, &e);
      cr_assert_str_eq(e.reason, "http_error");
      if (e.message != NULL)
        cr_assert(chat_utf8_valid(e.message, strlen(e.message)));
      chat_error_free(&e);
    }
    free(body);
  }
}
