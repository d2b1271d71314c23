/* test_openai_codec.c - unit tests for openai_codec.c: request bodies are
 * parsed back with cJSON and checked field by field; responses and error
 * bodies come from test/fixtures/openai (vectors from the provider docs)
 * plus hostile variants: truncated, wrong types, non-UTF-8, NULs, huge. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cJSON.h>
#include <criterion/criterion.h>

#include "buf.h"
#include "chat.h"
#include "codec.h"
#include "codec_test_util.h"
#include "fixtures.h"
#include "openai_codec.h"

/* The functions under test as a table for the shared helpers
 * (codec_test_util.h). Requests go through openai_build_request, which caps
 * with max_tokens as compatible servers take it; the "openai" table itself
 * sends max_completion_tokens (see the tests through the tables below). */
static const chat_codec openai_functions = {
    .name = "openai",
    .build_request = openai_build_request,
    .parse_response = openai_parse_response,
    .parse_error = openai_parse_error,
};
static const chat_codec *const openai = &openai_functions;

/* --- Request building ---------------------------------------------------- */

Test(openai_request, every_field_round_trips) {
  chat_message msgs[] = {msg("system", "You are terse."), msg("user", "Hello?"),
                         msg("assistant", "Hi."), msg("user", "Again")};
  chat_request req = {.model = "gpt-4o-mini",
                      .messages = msgs,
                      .n_messages = 4,
                      .has_temperature = 1,
                      .temperature = 0.2,
                      .max_tokens = 256};
  cJSON *root = build_and_parse(openai, &req);
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
  chat_request req = {.model = "m",
                      .messages = msgs,
                      .n_messages = 1,
                      .has_temperature = 1,
                      .temperature = 0.2,
                      .max_tokens = 16};
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
  char *text = fixture_load("openai/request.json", &len);
  cJSON *ref = cJSON_ParseWithLength(text, len);
  const cJSON *ref_msgs, *item;
  chat_message msgs[8];
  chat_request req = {.model = NULL};
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
  built = build_and_parse(openai, &req);
  cr_assert(cJSON_Compare(cJSON_GetObjectItemCaseSensitive(built, "model"),
                          cJSON_GetObjectItemCaseSensitive(ref, "model"), 1));
  cr_assert(cJSON_Compare(cJSON_GetObjectItemCaseSensitive(built, "messages"),
                          ref_msgs, 1));
  cr_assert(
      cJSON_Compare(cJSON_GetObjectItemCaseSensitive(built, "temperature"),
                    cJSON_GetObjectItemCaseSensitive(ref, "temperature"), 1));
  cr_assert(cJSON_Compare(cJSON_GetObjectItemCaseSensitive(built, "stream"),
                          cJSON_GetObjectItemCaseSensitive(ref, "stream"), 1));
  cJSON_Delete(built);
  cJSON_Delete(ref);
  free(text);
}

Test(openai_request, temperature_omitted_when_unset) {
  chat_message msgs[] = {msg("user", "x")};
  chat_request req = {.model = "m",
                      .messages = msgs,
                      .n_messages = 1,
                      .has_temperature = 0,
                      .temperature = 0.7,
                      .max_tokens = 10};
  cJSON *root = build_and_parse(openai, &req);

  cr_assert_null(cJSON_GetObjectItemCaseSensitive(root, "temperature"));
  cr_assert_not_null(cJSON_GetObjectItemCaseSensitive(root, "max_tokens"));
  cJSON_Delete(root);
}

Test(openai_request, zero_temperature_is_sent) {
  chat_message msgs[] = {msg("user", "x")};
  chat_request req = {.model = "m",
                      .messages = msgs,
                      .n_messages = 1,
                      .has_temperature = 1,
                      .temperature = 0.0,
                      .max_tokens = 0};
  size_t len;
  char *body = openai_build_request(&req, &len);

  cr_assert_not_null(body);
  cr_assert_not_null(strstr(body, "\"temperature\":0,"));
  free(body);
}

Test(openai_request, max_tokens_omitted_when_not_positive) {
  chat_message msgs[] = {msg("user", "x")};
  chat_request req = {.model = "m",
                      .messages = msgs,
                      .n_messages = 1,
                      .has_temperature = 0,
                      .temperature = 0,
                      .max_tokens = 0};
  cJSON *root = build_and_parse(openai, &req);

  cr_assert_null(cJSON_GetObjectItemCaseSensitive(root, "max_tokens"));
  cr_assert_eq(cJSON_GetArraySize(root), 3); /* model, messages, stream */
  cJSON_Delete(root);
  req.max_tokens = -5;
  root = build_and_parse(openai, &req);
  cr_assert_null(cJSON_GetObjectItemCaseSensitive(root, "max_tokens"));
  cJSON_Delete(root);
}

Test(openai_request, temperatures_round_trip_exactly) {
  static const double temps[] = {
      0.0,  0.1,       0.2,  0.3,       0.7, 1.0, 1.5, 2.0, 0.30000000000000004,
      1e-7, 1.0 / 3.0, -0.0, 123456.789};
  chat_message msgs[] = {msg("user", "x")};
  size_t i;

  for (i = 0; i < sizeof(temps) / sizeof(temps[0]); i++) {
    chat_request req = {.model = "m",
                        .messages = msgs,
                        .n_messages = 1,
                        .has_temperature = 1,
                        .temperature = temps[i],
                        .max_tokens = 0};
    cJSON *root = build_and_parse(openai, &req);
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(root, "temperature");

    cr_assert(cJSON_IsNumber(t));
    cr_assert_eq(t->valuedouble, temps[i], "%.17g came back as %.17g", temps[i],
                 t->valuedouble);
    cJSON_Delete(root);
  }
}

Test(openai_request, short_decimals_print_short) {
  chat_message msgs[] = {msg("user", "x")};
  chat_request req = {.model = "m",
                      .messages = msgs,
                      .n_messages = 1,
                      .has_temperature = 1,
                      .temperature = 0.7,
                      .max_tokens = 0};
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
  chat_request req = {.model = "m\"odel",
                      .messages = msgs,
                      .n_messages = 1,
                      .has_temperature = 0,
                      .temperature = 0,
                      .max_tokens = 0};
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
  m = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(root, "messages"), 0);
  cr_assert_str_eq(str_field(m, "content"), text);
  cJSON_Delete(root);
  free(body);
}

Test(openai_request, embedded_nul_is_escaped) {
  static const char text[] = "a\0b";
  chat_message msgs[] = {{.role = "user", .content = text, .content_len = 3}};
  chat_request req = {.model = "m",
                      .messages = msgs,
                      .n_messages = 1,
                      .has_temperature = 0,
                      .temperature = 0,
                      .max_tokens = 0};
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
  chat_request req = {.model = "m",
                      .messages = msgs,
                      .n_messages = 1,
                      .has_temperature = 0,
                      .temperature = 0,
                      .max_tokens = 0};
  cJSON *root = build_and_parse(openai, &req);
  const cJSON *list = cJSON_GetObjectItemCaseSensitive(root, "messages");
  const cJSON *m = cJSON_GetArrayItem(list, 0);

  cr_assert_str_eq(str_field(m, "content"), "hello");
  cJSON_Delete(root);
  free(raw);
}

Test(openai_request, empty_content_is_allowed) {
  chat_message msgs[] = {{.role = "user", .content = NULL, .content_len = 0},
                         {.role = "user", .content = "", .content_len = 0}};
  chat_request req = {.model = "m",
                      .messages = msgs,
                      .n_messages = 2,
                      .has_temperature = 0,
                      .temperature = 0,
                      .max_tokens = 0};
  cJSON *root = build_and_parse(openai, &req);
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
  chat_message null_content[] = {
      {.role = "user", .content = NULL, .content_len = 3}};
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
      {.model = "m",
       .messages = good,
       .n_messages = 1,
       .has_temperature = 1,
       .temperature = NAN},
      {.model = "m",
       .messages = good,
       .n_messages = 1,
       .has_temperature = 1,
       .temperature = INFINITY},
  };

  BUILD_REFUSES(openai, cases);
}

Test(openai_request, five_megabyte_content) { big_content_round_trips(openai); }

/* Appends code point cp to b as UTF-8. */
static void put_utf8(buf *b, unsigned long cp) {
  unsigned char s[4];
  size_t n;

  if (cp < 0x80) {
    s[0] = (unsigned char)cp;
    n = 1;
  } else if (cp < 0x800) {
    s[0] = (unsigned char)(0xC0 | (cp >> 6));
    s[1] = (unsigned char)(0x80 | (cp & 0x3F));
    n = 2;
  } else if (cp < 0x10000) {
    s[0] = (unsigned char)(0xE0 | (cp >> 12));
    s[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
    s[2] = (unsigned char)(0x80 | (cp & 0x3F));
    n = 3;
  } else {
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
    chat_message msgs[1] = {{.role = NULL}};
    chat_request req = {.model = "m",
                        .messages = msgs,
                        .n_messages = 1,
                        .has_temperature = 0,
                        .temperature = 0,
                        .max_tokens = 0};
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
    root = build_and_parse(openai, &req);
    m = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(root, "messages"),
                           0);
    cr_assert_str_eq(str_field(m, "content"), b.data, "round %d", round);
    cJSON_Delete(root);
    buf_free(&b);
  }
}

/* --- Response parsing ---------------------------------------------------- */

Test(openai_response, text_vector) {
  chat_response r;

  parse_vector(openai, "openai/text_response.json", &r);
  cr_assert_str_eq(r.content, "Hello! How can I assist you today?");
  cr_assert_eq(r.content_len, strlen("Hello! How can I assist you today?"));
  cr_assert_str_eq(r.model, "gpt-5.4");
  cr_assert_str_eq(r.finish_reason, "stop");
  cr_assert_eq(r.input_tokens, 19);
  cr_assert_eq(r.output_tokens, 10);
  chat_response_free(&r);
}

Test(openai_response, tool_call_vector_has_empty_content) {
  chat_response r;

  parse_vector(openai, "openai/tool_call_response.json", &r);
  cr_assert_str_eq(r.content, "");
  cr_assert_eq(r.content_len, 0);
  cr_assert_str_eq(r.model, "gpt-4o-mini");
  cr_assert_str_eq(r.finish_reason, "tool_calls");
  cr_assert_eq(r.input_tokens, 82);
  cr_assert_eq(r.output_tokens, 17);
  chat_response_free(&r);
}

Test(openai_response, err_is_untouched_on_success) {
  static const char body[] =
      "{\"choices\":[{\"message\":{\"content\":\"x\"}}]}";
  chat_response r;
  chat_error e;

  chat_error_init(&e);
  e.http_status = 200;
  cr_assert_eq(openai_parse_response(body, sizeof(body) - 1, 0, &r, &e), 0);
  cr_assert_eq(e.http_status, 200);
  cr_assert_null(e.reason);
  cr_assert_null(e.message);
  chat_response_free(&r);
}

Test(openai_response, minimal_body_leaves_optional_fields_empty) {
  static const char body[] =
      "{\"choices\":[{\"message\":{\"content\":\"hi\"}}]}";
  chat_response r;

  parse_ok(openai, body, sizeof(body) - 1, &r);
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

    parse_ok(openai, bodies[i], strlen(bodies[i]), &r);
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

  parse_ok(openai, body, sizeof(body) - 1, &r);
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
                     "\"usage\":%s}",
                     cases[i].usage);

    cr_assert(n > 0 && (size_t)n < sizeof(body));
    parse_ok(openai, body, (size_t)n, &r);
    cr_assert_eq(r.input_tokens, cases[i].in, "usage %s", cases[i].usage);
    cr_assert_eq(r.output_tokens, cases[i].out, "usage %s", cases[i].usage);
    chat_response_free(&r);
  }
}

Test(openai_response, unicode_escapes_are_decoded) {
  static const char body[] = "{\"choices\":[{\"message\":{\"content\":"
                             "\"caf\\u00e9 \\ud83d\\ude00 \\\"q\\\" \\n\"}}]}";
  chat_response r;

  parse_ok(openai, body, sizeof(body) - 1, &r);
  cr_assert_str_eq(r.content, "caf\xc3\xa9 \xf0\x9f\x98\x80 \"q\" \n");
  cr_assert_eq(r.content_len, strlen(r.content));
  chat_response_free(&r);
}

Test(openai_response, surrounding_whitespace_and_bom_are_fine) {
  static const char body[] =
      "\xef\xbb\xbf \r\n{\"choices\":[{\"message\":{\"content\":\"x\"}}]}"
      " \n\t\r\n";
  chat_response r;

  parse_ok(openai, body, sizeof(body) - 1, &r);
  cr_assert_str_eq(r.content, "x");
  chat_response_free(&r);
}

Test(openai_response, wrong_content_types_are_missing_field) {
  PARSE_FAILS(openai, "{\"choices\":[{\"message\":{\"content\":42}}]}",
              "missing_field");
  PARSE_FAILS(openai, "{\"choices\":[{\"message\":{\"content\":true}}]}",
              "missing_field");
  PARSE_FAILS(openai, "{\"choices\":[{\"message\":{\"content\":{}}}]}",
              "missing_field");
  PARSE_FAILS(openai, "{\"choices\":[{\"message\":{\"content\":[\"a\"]}}]}",
              "missing_field");
}

Test(openai_response, missing_structure_is_missing_field) {
  PARSE_FAILS(openai, "{}", "missing_field");
  PARSE_FAILS(openai, "{\"choices\":null}", "missing_field");
  PARSE_FAILS(openai, "{\"choices\":[]}", "missing_field");
  PARSE_FAILS(openai, "{\"choices\":{}}", "missing_field");
  PARSE_FAILS(openai, "{\"choices\":\"yes\"}", "missing_field");
  PARSE_FAILS(openai, "{\"choices\":7}", "missing_field");
  PARSE_FAILS(openai, "{\"choices\":[null]}", "missing_field");
  PARSE_FAILS(openai, "{\"choices\":[\"x\"]}", "missing_field");
  PARSE_FAILS(openai, "{\"choices\":[[{\"message\":{\"content\":\"x\"}}]]}",
              "missing_field");
  PARSE_FAILS(openai, "{\"choices\":[{}]}", "missing_field");
  PARSE_FAILS(openai, "{\"choices\":[{\"message\":null}]}", "missing_field");
  PARSE_FAILS(openai, "{\"choices\":[{\"message\":\"hi\"}]}", "missing_field");
  PARSE_FAILS(openai, "{\"choices\":[{\"delta\":{\"content\":\"x\"}}]}",
              "missing_field");
  PARSE_FAILS(openai, "{\"Choices\":[{\"message\":{\"content\":\"x\"}}]}",
              "missing_field");
  PARSE_FAILS(openai, "[]", "missing_field");
  PARSE_FAILS(openai, "[{\"choices\":[{\"message\":{\"content\":\"x\"}}]}]",
              "missing_field");
  PARSE_FAILS(openai, "42", "missing_field");
  PARSE_FAILS(openai, "\"text\"", "missing_field");
  PARSE_FAILS(openai, "null", "missing_field");
  PARSE_FAILS(openai, "{\"error\":null}", "missing_field");
}

Test(openai_response, malformed_json_is_invalid_json) {
  PARSE_FAILS(openai, "", "invalid_json");
  PARSE_FAILS(openai, "   ", "invalid_json");
  PARSE_FAILS(openai, "{", "invalid_json");
  PARSE_FAILS(openai, "}", "invalid_json");
  PARSE_FAILS(openai, "not json", "invalid_json");
  PARSE_FAILS(openai, "<html><body>502 Bad Gateway</body></html>",
              "invalid_json");
  PARSE_FAILS(openai, "{\"choices\":[{\"message\":{\"content\":\"x\"}}]}x",
              "invalid_json");
  PARSE_FAILS(openai, "{\"choices\":[{\"message\":{\"content\":\"x\"}}]} {}",
              "invalid_json");
  PARSE_FAILS(openai, "{\"choices\":[{\"message\":{\"content\":\"x}}]}",
              "invalid_json");
  PARSE_FAILS(openai, "{\"a\":1,}", "invalid_json");
  PARSE_FAILS(openai, "{'a':1}", "invalid_json");
  PARSE_FAILS(openai, "{\"a\":\"\\x41\"}", "invalid_json");
  PARSE_FAILS(openai, "{\"a\":\"\\u12\"}", "invalid_json");
  PARSE_FAILS(openai, "{\"a\":\"\\", "invalid_json");
  PARSE_FAILS(openai, "{\"a\":\"\\u", "invalid_json");
  PARSE_FAILS(openai, "{\"a\":1e", "invalid_json");
  PARSE_FAILS(openai, "data: {\"choices\":[]}", "invalid_json");
  /* Lone surrogate escapes cannot become UTF-8: cJSON refuses them. */
  PARSE_FAILS(openai, "{\"choices\":[{\"message\":{\"content\":\"\\ud800\"}}]}",
              "invalid_json");
  PARSE_FAILS(openai,
              "{\"choices\":[{\"message\":{\"content\":\"\\udc00x\"}}]}",
              "invalid_json");
}

Test(openai_response, null_body_is_invalid_json) {
  chat_response r;
  chat_error e;

  chat_error_init(&e);
  cr_assert_eq(openai_parse_response(NULL, 0, 0, &r, &e), -1);
  cr_assert_str_eq(e.reason, "invalid_json");
  chat_error_free(&e);
}

Test(openai_response, non_utf8_body_is_invalid_utf8) {
  PARSE_FAILS(openai, "{\"choices\":[{\"message\":{\"content\":\"\xff\"}}]}",
              "invalid_utf8");
  PARSE_FAILS(openai,
              "{\"choices\":[{\"message\":{\"content\":\"\xc0\xaf\"}}]}",
              "invalid_utf8");
  PARSE_FAILS(openai,
              "{\"choices\":[{\"message\":{\"content\":\"\xed\xa0\x80\"}}]}",
              "invalid_utf8");
  PARSE_FAILS(openai, "{\"choices\":[{\"message\":{\"content\":\"caf\xe9\"}}]}",
              "invalid_utf8");
  PARSE_FAILS(openai, "{\"model\":\"\xf4\x90\x80\x80\",\"choices\":[]}",
              "invalid_utf8");
  PARSE_FAILS(openai, "\x80{}", "invalid_utf8");
  PARSE_FAILS(openai, "{}\xe2\x82", "invalid_utf8");
}

Test(openai_response, raw_nul_bytes_are_invalid_json) {
  /* cJSON on its own would skip a NUL between tokens as whitespace. */
  PARSE_FAILS(openai, "{\"choices\":[{\"message\":{\"content\":\"a\0b\"}}]}",
              "invalid_json");
  PARSE_FAILS(openai, "{\0\"choices\":[{\"message\":{\"content\":\"x\"}}]}",
              "invalid_json");
  PARSE_FAILS(openai, "{\"choices\":[{\"message\":{\"content\":\"x\"}}]}\0",
              "invalid_json");
  PARSE_FAILS(openai, "\0", "invalid_json");
}

Test(openai_response, escaped_nul_cuts_content) {
  static const char body[] =
      "{\"choices\":[{\"message\":{\"content\":\"ab\\u0000cd\"}}]}";
  chat_response r;

  parse_ok(openai, body, sizeof(body) - 1, &r);
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
  parse_fails(openai, body, 2 * depth, "invalid_json");
  memset(body, '[', 2 * depth);
  parse_fails(openai, body, 2 * depth, "invalid_json");
  free(body);
}

Test(openai_response, every_prefix_of_text_vector_fails_cleanly) {
  every_prefix_fails(openai, "openai/text_response.json");
}

Test(openai_response, every_prefix_of_tool_call_vector_fails_cleanly) {
  every_prefix_fails(openai, "openai/tool_call_response.json");
}

Test(openai_response, every_single_byte_corruption_is_handled) {
  every_corruption_is_handled(openai, "openai/text_response.json");
}

Test(openai_response, five_megabyte_content) {
  chat_response r;

  parse_big_text(openai,
                 "{\"model\":\"big\",\"choices\":[{\"message\":"
                 "{\"content\":\"",
                 "\"},\"finish_reason\":\"length\"}]}", &r);
  cr_assert_str_eq(r.model, "big");
  cr_assert_str_eq(r.finish_reason, "length");
  chat_response_free(&r);
}

Test(openai_response, error_in_200_is_provider_error) {
  size_t len;
  char *body = fixture_load("openai/openrouter_midstream_error.json", &len);
  chat_response r;
  chat_error e;

  chat_error_init(&e);
  cr_assert_eq(openai_parse_response(body, len, 0, &r, &e), -1);
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
      {"{\"error\":{\"code\":\"99999999999999999999999\"}}", CHAT_ERR_PERMANENT,
       "99999999999999999999999", NULL, NULL},
  };
  size_t i;

  for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    chat_response r;
    chat_error e;

    chat_error_init(&e);
    cr_assert_eq(
        openai_parse_response(cases[i].body, strlen(cases[i].body), 0, &r, &e),
        -1);
    cr_assert_str_eq(e.reason, "provider_error");
    cr_assert_eq(e.kind, cases[i].kind, "%s", cases[i].body);
#define CHECK_STR(field)                                                       \
  if (cases[i].field == NULL)                                                  \
    cr_assert_null(e.field, "%s", cases[i].body);                              \
  else                                                                         \
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
  cr_assert_eq(openai_parse_response("{", 1, 0, &r, &e), -1);
  cr_assert_str_eq(e.reason, "invalid_json");
  cr_assert_null(e.message);
  cr_assert_null(e.type);
  cr_assert_null(e.code);
  chat_error_free(&e);
}

/* --- Error bodies -------------------------------------------------------- */

Test(openai_error, rate_limit_429_is_transient) {
  chat_error e;

  error_vector(openai, "openai/error_429_rate_limit.json", 429, 6, &e);
  cr_assert_eq(e.kind, CHAT_ERR_TRANSIENT);
  cr_assert_str_eq(e.type, "tokens");
  cr_assert_str_eq(e.code, "rate_limit_exceeded");
  cr_assert_not_null(e.message);
  cr_assert_eq(strncmp(e.message, "Rate limit reached for gpt-4", 28), 0);
  chat_error_free(&e);
}

Test(openai_error, insufficient_quota_429_is_permanent) {
  chat_error e;

  error_vector(openai, "openai/error_429_insufficient_quota.json", 429, 6, &e);
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

  parse_error(openai, 429, body, sizeof(body) - 1, -1, &e);
  cr_assert_eq(e.kind, CHAT_ERR_PERMANENT);
  cr_assert_null(e.code);
  chat_error_free(&e);
}

Test(openai_error, invalid_api_key_401_is_permanent) {
  chat_error e;

  error_vector(openai, "openai/error_401_invalid_api_key.json", 401, 6, &e);
  cr_assert_eq(e.kind, CHAT_ERR_PERMANENT);
  cr_assert_str_eq(e.type, "invalid_request_error");
  cr_assert_str_eq(e.code, "invalid_api_key");
  cr_assert_eq(strncmp(e.message, "Incorrect API key provided: sk-abc.", 35),
               0);
  chat_error_free(&e);
}

Test(openai_error, openrouter_402_numeric_code) {
  chat_error e;

  error_vector(openai, "openai/openrouter_402.json", 402, 6, &e);
  cr_assert_eq(e.kind, CHAT_ERR_PERMANENT);
  cr_assert_str_eq(e.code, "402");
  cr_assert_null(e.type);
  cr_assert_eq(strncmp(e.message, "This request requires more credits", 34), 0);
  chat_error_free(&e);
}

Test(openai_error, openrouter_429_daily_limit) {
  chat_error e;

  error_vector(openai, "openai/openrouter_429_daily_limit.json", 429, 6, &e);
  cr_assert_eq(e.kind, CHAT_ERR_TRANSIENT);
  cr_assert_str_eq(e.code, "429");
  cr_assert_null(e.type);
  cr_assert_eq(
      strncmp(e.message, "Rate limit exceeded: free-models-per-day", 40), 0);
  chat_error_free(&e);
}

Test(openai_error, openrouter_error_chunk_with_server_error) {
  chat_error e;

  error_vector(openai, "openai/openrouter_midstream_error.json", 502, 6, &e);
  cr_assert_eq(e.kind, CHAT_ERR_TRANSIENT);
  cr_assert_str_eq(e.code, "server_error");
  cr_assert_str_eq(e.message, "Provider disconnected unexpectedly");
  chat_error_free(&e);
}

Test(openai_error, ollama_v1_404_with_null_code) {
  chat_error e;

  error_vector(openai, "openai/ollama_v1_404.json", 404, 6, &e);
  cr_assert_eq(e.kind, CHAT_ERR_PERMANENT);
  cr_assert_str_eq(e.type, "not_found_error");
  cr_assert_null(e.code);
  cr_assert_str_eq(e.message, "model \"nope\" not found, try pulling it first");
  chat_error_free(&e);
}

Test(openai_error, ollama_string_error) {
  static const char body[] = "{\"error\":\"model 'llama9' not found\"}";
  chat_error e;

  parse_error(openai, 404, body, sizeof(body) - 1, -1, &e);
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

    parse_error(openai, 400, cases[i].body, strlen(cases[i].body), -1, &e);
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

  parse_error(openai, 502, body, sizeof(body) - 1, -1, &e);
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

  parse_error(openai, 404, body, sizeof(body) - 1, -1, &e);
  cr_assert_str_eq(e.message, body);
  cr_assert_null(e.type);
  chat_error_free(&e);
}

Test(openai_error, error_object_without_message_uses_the_body) {
  static const char body[] = "{\"error\":{\"type\":\"server_error\"}}";
  chat_error e;

  parse_error(openai, 500, body, sizeof(body) - 1, -1, &e);
  cr_assert_str_eq(e.type, "server_error");
  cr_assert_str_eq(e.message, body);
  chat_error_free(&e);
}

Test(openai_error, empty_and_null_bodies) {
  chat_error e;

  parse_error(openai, 503, "", 0, -1, &e);
  cr_assert_eq(e.kind, CHAT_ERR_TRANSIENT);
  cr_assert_str_eq(e.reason, "http_error");
  cr_assert_eq(e.http_status, 503);
  cr_assert_str_eq(e.message, "HTTP 503 with an empty body");
  chat_error_free(&e);

  parse_error(openai, 400, " \r\n\t ", 5, -1, &e);
  cr_assert_str_eq(e.message, "HTTP 400 with an empty body");
  chat_error_free(&e);

  chat_error_init(&e);
  openai_parse_error(500, NULL, 0, 2500, &e);
  cr_assert_str_eq(e.message, "HTTP 500 with an empty body");
  cr_assert_eq(e.retry_after_ms, 2500);
  chat_error_free(&e);
}

Test(openai_error, long_body_is_cut_to_512_bytes) {
  char body[2000];
  chat_error e;

  memset(body, 'x', sizeof(body));
  parse_error(openai, 500, body, sizeof(body), -1, &e);
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
    parse_error(openai, 500, body, sizeof(body), -1, &e);
    cr_assert_not_null(e.message, "start %zu", start);
    cr_assert(chat_utf8_valid(e.message, strlen(e.message)));
    cr_assert_leq(strlen(e.message), 512);
    cr_assert_geq(strlen(e.message), 509);
    chat_error_free(&e);
  }
}

Test(openai_error, non_utf8_body_is_not_quoted) {
  static const char body[] = "Bad \xff\xfe gateway";
  chat_error e;

  parse_error(openai, 502, body, sizeof(body) - 1, -1, &e);
  cr_assert_str_eq(e.message, "HTTP 502 with a body that is not text");
  cr_assert_eq(e.kind, CHAT_ERR_TRANSIENT);
  chat_error_free(&e);
}

Test(openai_error, error_json_with_invalid_utf8_is_not_trusted) {
  static const char body[] =
      "{\"error\":{\"message\":\"bad \xc0\xaf\",\"code\":\"c\"}}";
  chat_error e;

  parse_error(openai, 400, body, sizeof(body) - 1, -1, &e);
  cr_assert_null(e.code);
  cr_assert_str_eq(e.message, "HTTP 400 with a body that is not text");
  chat_error_free(&e);
}

Test(openai_error, body_with_nul_is_cut_at_the_nul) {
  static const char body[] = "oops\0{\"error\":\"hidden\"}";
  chat_error e;

  parse_error(openai, 500, body, sizeof(body) - 1, -1, &e);
  cr_assert_str_eq(e.message, "oops");
  chat_error_free(&e);
}

Test(openai_error, status_below_400_is_permanent_http_error) {
  static const long statuses[] = {0, 101, 200, 204, 302, 399};
  size_t i;

  for (i = 0; i < sizeof(statuses) / sizeof(statuses[0]); i++) {
    chat_error e;

    parse_error(openai, statuses[i], "", 0, -1, &e);
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

    parse_error(openai, status, body, sizeof(body) - 1, -1, &e);
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
  static const char *names[] = {"openai/error_429_rate_limit.json",
                                "openai/error_429_insufficient_quota.json",
                                "openai/error_401_invalid_api_key.json",
                                "openai/openrouter_402.json",
                                "openai/openrouter_429_daily_limit.json",
                                "openai/ollama_v1_404.json",
                                "openai/openrouter_midstream_error.json"};
  size_t n;

  /* A quota 429 is permanent, its prefixes transient: kinds not checked. */
  for (n = 0; n < sizeof(names) / sizeof(names[0]); n++)
    every_error_prefix_is_handled(openai, names[n], 429, CHAT_OK);
}

/* --- Request: tools, tool calls, structured output, streaming ------------ */

static const char weather_params[] =
    "{\"type\": \"object\", \"properties\": {\"location\": {\"type\": "
    "\"string\"}}, \"required\": [\"location\"]}";

Test(openai_request, whole_reference_vector_through_the_openai_table) {
  size_t len;
  char *text = fixture_load("openai/request.json", &len);
  cJSON *ref = cJSON_ParseWithLength(text, len);
  const cJSON *ref_msgs, *item, *fn;
  chat_message msgs[8];
  chat_tool tool;
  char *params;
  cJSON *built;
  size_t n = 0;

  cr_assert_not_null(ref);
  ref_msgs = field(ref, "messages");
  cJSON_ArrayForEach(item, ref_msgs) {
    cr_assert_lt(n, 8);
    msgs[n++] = msg(str_field(item, "role"), str_field(item, "content"));
  }
  fn = field(cJSON_GetArrayItem(field(ref, "tools"), 0), "function");
  params = cJSON_PrintUnformatted(field(fn, "parameters"));
  cr_assert_not_null(params);
  tool = (chat_tool){.name = str_field(fn, "name"),
                     .description = str_field(fn, "description"),
                     .parameters = params};
  long cap = (long)field(ref, "max_completion_tokens")->valuedouble;
  chat_request req = {.model = str_field(ref, "model"),
                      .messages = msgs,
                      .n_messages = n,
                      .has_temperature = 1,
                      .temperature = field(ref, "temperature")->valuedouble,
                      .max_tokens = cap,
                      .tools = &tool,
                      .n_tools = 1,
                      .tool_choice = str_field(ref, "tool_choice")};
  built = build_and_parse(&chat_codec_openai, &req);
  /* Every field, in every detail: max_completion_tokens, tools with the
   * schema as an object, tool_choice, stream false. */
  cr_assert(cJSON_Compare(built, ref, 1));
  cJSON_Delete(built);
  cJSON_Delete(ref);
  cJSON_free(params);
  free(text);
}

Test(openai_request, openai_table_caps_with_max_completion_tokens) {
  chat_message msgs[] = {msg("user", "x")};
  chat_request req = {
      .model = "gpt-5", .messages = msgs, .n_messages = 1, .max_tokens = 64};
  cJSON *root = build_and_parse(&chat_codec_openai, &req);

  cr_assert_eq(field(root, "max_completion_tokens")->valuedouble, 64.0);
  cr_assert_null(field(root, "max_tokens"));
  cJSON_Delete(root);
  /* OpenRouter (and openai_build_request) keep max_tokens. */
  root = build_and_parse(&chat_codec_openrouter, &req);
  cr_assert_eq(field(root, "max_tokens")->valuedouble, 64.0);
  cr_assert_null(field(root, "max_completion_tokens"));
  cJSON_Delete(root);
}

Test(openai_request, structured_output_matches_the_vector) {
  size_t len;
  char *text = fixture_load("openai/structured_output_fragment.json", &len);
  cJSON *ref = cJSON_ParseWithLength(text, len);
  const cJSON *ref_format = field(ref, "response_format");
  char *schema =
      cJSON_PrintUnformatted(field(field(ref_format, "json_schema"), "schema"));
  chat_message msgs[] = {msg("user", "x")};
  chat_request req = {.model = "m",
                      .messages = msgs,
                      .n_messages = 1,
                      .output_schema = schema,
                      .output_schema_name = "verdict"};
  cJSON *root = build_and_parse(openai, &req);

  cr_assert(cJSON_Compare(field(root, "response_format"), ref_format, 1));
  cJSON_Delete(root);
  /* Without a name the schema is called "output". */
  req.output_schema_name = NULL;
  root = build_and_parse(openai, &req);
  cr_assert_str_eq(
      str_field(field(field(root, "response_format"), "json_schema"), "name"),
      "output");
  cJSON_Delete(root);
  cJSON_Delete(ref);
  cJSON_free(schema);
  free(text);
}

Test(openai_request, schemas_are_re_printed_compactly) {
  static const char schema[] =
      " {\n \"type\" : \"object\",\t\"properties\": {\"n\": {\"maximum\": "
      "1e3, \"enum\": [01, 2.50]}, \"s\": {\"pattern\": \"\\u00e9\\n\"}}}\n";
  chat_message msgs[] = {msg("user", "x")};
  chat_request req = {
      .model = "m", .messages = msgs, .n_messages = 1, .output_schema = schema};
  char *body = openai_build_request(&req, NULL);

  cr_assert_not_null(body);
  cr_assert_not_null(
      strstr(body, "\"schema\":{\"type\":\"object\",\"properties\":{\"n\":{"
                   "\"maximum\":1000,\"enum\":[1,2.5]},\"s\":{\"pattern\":"
                   "\"\xc3\xa9\\n\"}}},\"strict\":true}"),
      "%s", body);
  free(body);
}

Test(openai_request, tools_shape) {
  chat_tool tools[] = {
      {.name = "get_weather",
       .description = "Weather now",
       .parameters = weather_params},
      {.name = "ping"},
  };
  chat_message msgs[] = {msg("user", "x")};
  chat_request req = {.model = "m",
                      .messages = msgs,
                      .n_messages = 1,
                      .tools = tools,
                      .n_tools = 2};
  cJSON *root = build_and_parse(openai, &req);
  const cJSON *list = field(root, "tools"), *t0, *t1;

  cr_assert_eq(cJSON_GetArraySize(list), 2);
  t0 = cJSON_GetArrayItem(list, 0);
  t1 = cJSON_GetArrayItem(list, 1);
  cr_assert_str_eq(str_field(t0, "type"), "function");
  cr_assert_eq(cJSON_GetArraySize(t0), 2);
  cr_assert_str_eq(str_field(field(t0, "function"), "name"), "get_weather");
  cr_assert_str_eq(str_field(field(t0, "function"), "description"),
                   "Weather now");
  {
    cJSON *want = cJSON_Parse(weather_params);

    cr_assert(
        cJSON_Compare(field(field(t0, "function"), "parameters"), want, 1));
    cJSON_Delete(want);
  }
  /* No description: none sent; no schema: an empty object schema. */
  cr_assert_null(field(field(t1, "function"), "description"));
  cr_assert_str_eq(
      str_field(field(field(t1, "function"), "parameters"), "type"), "object");
  cr_assert_eq(cJSON_GetArraySize(field(field(t1, "function"), "parameters")),
               1);
  /* No tool_choice set: none sent. */
  cr_assert_null(field(root, "tool_choice"));
  cJSON_Delete(root);
}

Test(openai_request, tool_choice_forms) {
  chat_tool tools[] = {{.name = "a"}, {.name = "b"}};
  chat_message msgs[] = {msg("user", "x")};
  static const char *const words[] = {"auto", "none", "required"};
  chat_request req = {.model = "m",
                      .messages = msgs,
                      .n_messages = 1,
                      .tools = tools,
                      .n_tools = 2};
  cJSON *root;
  const cJSON *choice;
  size_t i;

  for (i = 0; i < 3; i++) {
    req.tool_choice = words[i];
    root = build_and_parse(openai, &req);
    choice = field(root, "tool_choice");
    cr_assert(cJSON_IsString(choice));
    cr_assert_str_eq(choice->valuestring, words[i]);
    cJSON_Delete(root);
  }
  req.tool_choice = "b";
  root = build_and_parse(openai, &req);
  choice = field(root, "tool_choice");
  cr_assert_str_eq(str_field(choice, "type"), "function");
  cr_assert_str_eq(str_field(field(choice, "function"), "name"), "b");
  cr_assert_eq(cJSON_GetArraySize(choice), 2);
  cJSON_Delete(root);

  /* Without tools, "auto" and "none" say what OpenAI does anyway and are
   * left out (OpenAI refuses tool_choice without tools). */
  req.tools = NULL;
  req.n_tools = 0;
  req.tool_choice = "none";
  root = build_and_parse(openai, &req);
  cr_assert_null(field(root, "tool_choice"));
  cr_assert_null(field(root, "tools"));
  cJSON_Delete(root);
}

Test(openai_request, assistant_tool_calls_and_tool_results) {
  chat_tool_call calls[] = {
      {.id = "call_1",
       .name = "get_weather",
       .arguments = "{\"location\":\"Boston\"}",
       .arguments_len = strlen("{\"location\":\"Boston\"}")},
      {.id = "call_2", .name = "ping"},
      /* arguments_len 0 with text: the C string is used */
      {.id = "call_3", .name = "ping", .arguments = "{\"x\":[1]}"},
  };
  chat_message msgs[] = {
      msg("user", "Weather?"),
      {.role = "assistant", .tool_calls = calls, .n_tool_calls = 3},
      {.role = "tool",
       .content = "sunny",
       .content_len = 5,
       .tool_call_id = "call_1",
       .tool_name = "get_weather"},
      {.role = "assistant",
       .content = "",
       .tool_calls = calls,
       .n_tool_calls = 1},
  };
  chat_request req = {.model = "m", .messages = msgs, .n_messages = 4};
  cJSON *root = build_and_parse(openai, &req);
  const cJSON *list = field(root, "messages");
  const cJSON *a = cJSON_GetArrayItem(list, 1);
  const cJSON *t = cJSON_GetArrayItem(list, 2);
  const cJSON *tc, *c0, *c1, *c2;

  cr_assert(cJSON_IsNull(field(a, "content")));
  tc = field(a, "tool_calls");
  cr_assert_eq(cJSON_GetArraySize(tc), 3);
  c0 = cJSON_GetArrayItem(tc, 0);
  c1 = cJSON_GetArrayItem(tc, 1);
  c2 = cJSON_GetArrayItem(tc, 2);
  cr_assert_str_eq(str_field(c0, "id"), "call_1");
  cr_assert_str_eq(str_field(c0, "type"), "function");
  cr_assert_str_eq(str_field(field(c0, "function"), "name"), "get_weather");
  /* The arguments go out as a string holding the JSON. */
  cr_assert_str_eq(str_field(field(c0, "function"), "arguments"),
                   "{\"location\":\"Boston\"}");
  cr_assert_str_eq(str_field(field(c1, "function"), "arguments"), "{}");
  cr_assert_str_eq(str_field(field(c2, "function"), "arguments"),
                   "{\"x\":[1]}");

  cr_assert_str_eq(str_field(t, "role"), "tool");
  cr_assert_str_eq(str_field(t, "tool_call_id"), "call_1");
  cr_assert_str_eq(str_field(t, "content"), "sunny");
  cr_assert_null(field(t, "tool_name"));
  cr_assert_eq(cJSON_GetArraySize(t), 3);
  /* Content that is there, even empty, stays a string. */
  cr_assert_str_eq(str_field(cJSON_GetArrayItem(list, 3), "content"), "");
  /* A user message gets no tool fields. */
  cr_assert_eq(cJSON_GetArraySize(cJSON_GetArrayItem(list, 0)), 2);
  cJSON_Delete(root);
}

Test(openai_request, arguments_are_sent_as_given_even_when_not_json) {
  /* A model may have produced broken JSON; it goes back as it came. */
  chat_tool_call calls[] = {
      {.id = "c", .name = "f", .arguments = "{\"a\":", .arguments_len = 5}};
  chat_message msgs[] = {
      msg("user", "x"),
      {.role = "assistant", .tool_calls = calls, .n_tool_calls = 1}};
  chat_request req = {.model = "m", .messages = msgs, .n_messages = 2};
  cJSON *root = build_and_parse(openai, &req);
  const cJSON *c = cJSON_GetArrayItem(
      field(cJSON_GetArrayItem(field(root, "messages"), 1), "tool_calls"), 0);

  cr_assert_str_eq(str_field(field(c, "function"), "arguments"), "{\"a\":");
  cJSON_Delete(root);
}

Test(openai_request, stream_and_logprobs) {
  chat_message msgs[] = {msg("user", "x")};
  chat_request req = {.model = "m",
                      .messages = msgs,
                      .n_messages = 1,
                      .stream = 1,
                      .logprobs = 1};
  char *body = openai_build_request(&req, NULL);

  cr_assert_not_null(body);
  cr_assert_str_eq(body, "{\"model\":\"m\",\"messages\":[{\"role\":\"user\","
                         "\"content\":\"x\"}],\"logprobs\":true,"
                         "\"stream\":true,\"stream_options\":"
                         "{\"include_usage\":true}}");
  free(body);
}

Test(openai_request, field_order_with_everything_set) {
  chat_tool tools[] = {{.name = "f", .parameters = "{}"}};
  chat_message msgs[] = {msg("user", "x")};
  chat_request req = {.model = "m",
                      .messages = msgs,
                      .n_messages = 1,
                      .has_temperature = 1,
                      .temperature = 0.5,
                      .max_tokens = 9,
                      .tools = tools,
                      .n_tools = 1,
                      .tool_choice = "f",
                      .output_schema = "{}",
                      .output_schema_name = "v",
                      .logprobs = 1};
  char *body = openai_build_request(&req, NULL);

  cr_assert_not_null(body);
  cr_assert_str_eq(
      body,
      "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],"
      "\"temperature\":0.5,\"max_tokens\":9,\"tools\":[{\"type\":"
      "\"function\",\"function\":{\"name\":\"f\",\"parameters\":{}}}],"
      "\"tool_choice\":{\"type\":\"function\",\"function\":{\"name\":\"f\"}},"
      "\"response_format\":{\"type\":\"json_schema\",\"json_schema\":{"
      "\"name\":\"v\",\"schema\":{},\"strict\":true}},\"logprobs\":true,"
      "\"stream\":false}");
  free(body);
}

Test(openai_request, invalid_tool_requests_give_null) {
  chat_message user[] = {msg("user", "x")};
  chat_tool good_tool[] = {{.name = "f"}};
  chat_tool no_name[] = {{.name = NULL}};
  chat_tool empty_name[] = {{.name = ""}};
  chat_tool bad_desc[] = {{.name = "f", .description = "\xff"}};
  chat_tool bad_json[] = {{.name = "f", .parameters = "{\"type\":"}};
  chat_tool not_object[] = {{.name = "f", .parameters = "[1]"}};
  chat_tool trailing[] = {{.name = "f", .parameters = "{} {}"}};
  chat_tool bad_utf8[] = {{.name = "f", .parameters = "{\"a\":\"\xc0\xaf\"}"}};
  chat_tool empty_params[] = {{.name = "f", .parameters = ""}};
  chat_tool_call no_id[] = {{.id = NULL, .name = "f"}};
  chat_tool_call no_call_name[] = {{.id = "c", .name = ""}};
  chat_tool_call bad_args[] = {{.id = "c", .name = "f", .arguments = "\xff"}};
  chat_message call_no_id[] = {
      {.role = "assistant", .tool_calls = no_id, .n_tool_calls = 1}};
  chat_message call_no_name[] = {
      {.role = "assistant", .tool_calls = no_call_name, .n_tool_calls = 1}};
  chat_message call_bad_args[] = {
      {.role = "assistant", .tool_calls = bad_args, .n_tool_calls = 1}};
  chat_message calls_null[] = {
      {.role = "assistant", .tool_calls = NULL, .n_tool_calls = 1}};
  chat_tool_call ok_call[] = {{.id = "c", .name = "f"}};
  chat_message calls_on_user[] = {
      {.role = "user", .tool_calls = ok_call, .n_tool_calls = 1}};
  chat_message tool_no_id[] = {
      {.role = "tool", .content = "r", .content_len = 1}};
  chat_message tool_bad_id[] = {{.role = "tool",
                                 .content = "r",
                                 .content_len = 1,
                                 .tool_call_id = "\xfe"}};
  const chat_request cases[] = {
      {.model = "m",
       .messages = user,
       .n_messages = 1,
       .tools = NULL,
       .n_tools = 1},
      {.model = "m",
       .messages = user,
       .n_messages = 1,
       .tools = no_name,
       .n_tools = 1},
      {.model = "m",
       .messages = user,
       .n_messages = 1,
       .tools = empty_name,
       .n_tools = 1},
      {.model = "m",
       .messages = user,
       .n_messages = 1,
       .tools = bad_desc,
       .n_tools = 1},
      {.model = "m",
       .messages = user,
       .n_messages = 1,
       .tools = bad_json,
       .n_tools = 1},
      {.model = "m",
       .messages = user,
       .n_messages = 1,
       .tools = not_object,
       .n_tools = 1},
      {.model = "m",
       .messages = user,
       .n_messages = 1,
       .tools = trailing,
       .n_tools = 1},
      {.model = "m",
       .messages = user,
       .n_messages = 1,
       .tools = bad_utf8,
       .n_tools = 1},
      {.model = "m",
       .messages = user,
       .n_messages = 1,
       .tools = empty_params,
       .n_tools = 1},
      {.model = "m",
       .messages = user,
       .n_messages = 1,
       .tools = good_tool,
       .n_tools = 1,
       .tool_choice = "g"},
      {.model = "m",
       .messages = user,
       .n_messages = 1,
       .tools = good_tool,
       .n_tools = 1,
       .tool_choice = ""},
      {.model = "m",
       .messages = user,
       .n_messages = 1,
       .tool_choice = "required"},
      {.model = "m", .messages = user, .n_messages = 1, .tool_choice = "f"},
      {.model = "m", .messages = call_no_id, .n_messages = 1},
      {.model = "m", .messages = call_no_name, .n_messages = 1},
      {.model = "m", .messages = call_bad_args, .n_messages = 1},
      {.model = "m", .messages = calls_null, .n_messages = 1},
      {.model = "m", .messages = calls_on_user, .n_messages = 1},
      {.model = "m", .messages = tool_no_id, .n_messages = 1},
      {.model = "m", .messages = tool_bad_id, .n_messages = 1},
      {.model = "m", .messages = user, .n_messages = 1, .output_schema = "{"},
      {.model = "m",
       .messages = user,
       .n_messages = 1,
       .output_schema = "\"string\""},
      {.model = "m",
       .messages = user,
       .n_messages = 1,
       .output_schema = "{}",
       .output_schema_name = ""},
      {.model = "m",
       .messages = user,
       .n_messages = 1,
       .output_schema = "{}",
       .output_schema_name = "n\xff"},
  };

  BUILD_REFUSES(openai, cases);
  BUILD_REFUSES(&chat_codec_openai, cases);
}

Test(openai_request, deeply_nested_schema_is_refused) {
  size_t depth = 5000, i;
  char *schema = malloc(2 * depth + 1);
  chat_message msgs[] = {msg("user", "x")};
  chat_request req = {.model = "m", .messages = msgs, .n_messages = 1};

  cr_assert_not_null(schema);
  for (i = 0; i < depth; i++) {
    schema[i] = '[';
    schema[2 * depth - 1 - i] = ']';
  }
  schema[0] = '{';
  schema[2 * depth - 1] = '}';
  schema[2 * depth] = '\0';
  req.output_schema = schema;
  cr_assert_null(openai_build_request(&req, NULL));
  free(schema);
}

/* --- Response: tool calls, stop, cost, logprobs -------------------------- */

Test(openai_response, tool_call_vector_tool_calls) {
  chat_response r;

  parse_vector(openai, "openai/tool_call_response.json", &r);
  cr_assert_eq(r.n_tool_calls, 1);
  cr_assert_str_eq(r.tool_calls[0].id, "call_abc123");
  cr_assert_str_eq(r.tool_calls[0].name, "get_current_weather");
  cr_assert_str_eq(r.tool_calls[0].arguments,
                   "{\n\"location\": \"Boston, MA\"\n}");
  cr_assert_eq(r.tool_calls[0].arguments_len,
               strlen("{\n\"location\": \"Boston, MA\"\n}"));
  cr_assert_eq(r.stop, CHAT_STOP_TOOL_CALLS);
  cr_assert_eq(r.has_cost, 0);
  cr_assert_eq(r.has_logprob, 0);
  chat_response_free(&r);
}

Test(openai_response, text_vector_stops_normally) {
  chat_response r;

  parse_vector(openai, "openai/text_response.json", &r);
  cr_assert_eq(r.stop, CHAT_STOP_END);
  cr_assert_eq(r.n_tool_calls, 0);
  cr_assert_null(r.tool_calls);
  cr_assert_eq(r.has_cost, 0);
  cr_assert_eq(r.has_logprob, 0);
  chat_response_free(&r);
}

Test(openai_response, finish_reasons_are_normalized) {
  static const struct {
    const char *json;
    chat_stop stop;
  } cases[] = {{"\"stop\"", CHAT_STOP_END},
               {"\"length\"", CHAT_STOP_LENGTH},
               {"\"tool_calls\"", CHAT_STOP_TOOL_CALLS},
               {"\"function_call\"", CHAT_STOP_TOOL_CALLS},
               {"\"content_filter\"", CHAT_STOP_CONTENT_FILTER},
               {"\"error\"", CHAT_STOP_OTHER},
               {"\"\"", CHAT_STOP_OTHER},
               {"null", CHAT_STOP_NONE},
               {"7", CHAT_STOP_NONE}};
  size_t i;

  for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    char body[160];
    chat_response r;
    int n = snprintf(body, sizeof(body),
                     "{\"choices\":[{\"message\":{\"content\":\"x\"},"
                     "\"finish_reason\":%s}]}",
                     cases[i].json);

    parse_ok(openai, body, (size_t)n, &r);
    cr_assert_eq(r.stop, cases[i].stop, "%s", cases[i].json);
    chat_response_free(&r);
  }
}

Test(openai_response, tool_calls_with_stop_mean_tool_calls) {
  static const char body[] =
      "{\"choices\":[{\"message\":{\"content\":\"\",\"tool_calls\":[{\"id\":"
      "\"c\",\"type\":\"function\",\"function\":{\"name\":\"f\","
      "\"arguments\":\"{}\"}}]},\"finish_reason\":\"stop\"}]}";
  chat_response r;

  parse_ok(openai, body, sizeof(body) - 1, &r);
  cr_assert_eq(r.stop, CHAT_STOP_TOOL_CALLS);
  cr_assert_str_eq(r.finish_reason, "stop");
  chat_response_free(&r);
}

Test(openai_response, tool_call_variants) {
  static const char body[] =
      "{\"choices\":[{\"message\":{\"content\":null,\"tool_calls\":["
      /* no id, no type: an id is made up from the position */
      "{\"function\":{\"name\":\"a\",\"arguments\":\"{\\\"x\\\":1}\"}},"
      /* a custom (non-function) tool call is skipped */
      "{\"id\":\"k\",\"type\":\"custom\",\"custom\":{\"name\":\"c\"}},"
      /* arguments as an object (some compatible servers) */
      "{\"id\":\"o\",\"type\":\"function\",\"function\":{\"name\":\"b\","
      "\"arguments\":{\"y\":[true,null]}}},"
      /* arguments missing, null, or "" */
      "{\"id\":\"m\",\"function\":{\"name\":\"c\"}},"
      "{\"id\":\"n\",\"function\":{\"name\":\"d\",\"arguments\":null}},"
      "{\"id\":\"\",\"function\":{\"name\":\"e\",\"arguments\":\"\"}}"
      "]},\"finish_reason\":\"tool_calls\"}]}";
  static const struct {
    const char *id, *name, *args;
  } want[] = {{"call_0", "a", "{\"x\":1}"},
              {"o", "b", "{\"y\":[true,null]}"},
              {"m", "c", "{}"},
              {"n", "d", "{}"},
              {"call_5", "e", "{}"}};
  chat_response r;
  size_t i;

  parse_ok(openai, body, sizeof(body) - 1, &r);
  cr_assert_eq(r.n_tool_calls, 5);
  for (i = 0; i < 5; i++) {
    cr_assert_str_eq(r.tool_calls[i].id, want[i].id, "call %zu", i);
    cr_assert_str_eq(r.tool_calls[i].name, want[i].name, "call %zu", i);
    cr_assert_str_eq(r.tool_calls[i].arguments, want[i].args, "call %zu", i);
    cr_assert_eq(r.tool_calls[i].arguments_len, strlen(want[i].args));
  }
  chat_response_free(&r);
}

Test(openai_response, broken_tool_calls_are_missing_field) {
  PARSE_FAILS(openai, "{\"choices\":[{\"message\":{\"tool_calls\":{}}}]}",
              "missing_field");
  PARSE_FAILS(openai, "{\"choices\":[{\"message\":{\"tool_calls\":\"x\"}}]}",
              "missing_field");
  PARSE_FAILS(openai, "{\"choices\":[{\"message\":{\"tool_calls\":[null]}}]}",
              "missing_field");
  PARSE_FAILS(openai, "{\"choices\":[{\"message\":{\"tool_calls\":[{}]}}]}",
              "missing_field");
  PARSE_FAILS(openai,
              "{\"choices\":[{\"message\":{\"tool_calls\":[{\"function\":"
              "\"f\"}]}}]}",
              "missing_field");
  PARSE_FAILS(openai,
              "{\"choices\":[{\"message\":{\"tool_calls\":[{\"function\":"
              "{\"name\":\"\"}}]}}]}",
              "missing_field");
  PARSE_FAILS(openai,
              "{\"choices\":[{\"message\":{\"tool_calls\":[{\"function\":"
              "{\"name\":7}}]}}]}",
              "missing_field");
  PARSE_FAILS(openai,
              "{\"choices\":[{\"message\":{\"tool_calls\":[{\"function\":"
              "{\"name\":\"f\",\"arguments\":5}}]}}]}",
              "missing_field");
  PARSE_FAILS(openai,
              "{\"choices\":[{\"message\":{\"tool_calls\":[{\"function\":"
              "{\"name\":\"f\",\"arguments\":[1]}}]}}]}",
              "missing_field");
  PARSE_FAILS(openai,
              "{\"choices\":[{\"message\":{\"tool_calls\":[{\"function\":"
              "{\"name\":\"f\"}},{\"function\":{}}]}}]}",
              "missing_field");
}

Test(openai_response, null_tool_calls_are_none) {
  static const char body[] =
      "{\"choices\":[{\"message\":{\"content\":\"x\",\"tool_calls\":null}}]}";
  chat_response r;

  parse_ok(openai, body, sizeof(body) - 1, &r);
  cr_assert_eq(r.n_tool_calls, 0);
  chat_response_free(&r);
}

Test(openai_response, openrouter_cost) {
  static const struct {
    const char *usage;
    int has;
    double cost;
  } cases[] = {
      {"{\"prompt_tokens\":1,\"completion_tokens\":2,\"cost\":0.000123}", 1,
       0.000123},
      {"{\"cost\":0}", 1, 0.0},
      {"{\"cost\":2.5,\"cost_details\":{\"upstream_inference_cost\":1}}", 1,
       2.5},
      {"{\"cost\":-0.1}", 0, 0},
      {"{\"cost\":\"0.1\"}", 0, 0},
      {"{\"cost\":null}", 0, 0},
      {"{\"cost\":1e999}", 0, 0},
      {"{}", 0, 0},
  };
  size_t i;

  for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    char body[256];
    chat_response r;
    int n = snprintf(body, sizeof(body),
                     "{\"choices\":[{\"message\":{\"content\":\"x\"}}],"
                     "\"usage\":%s}",
                     cases[i].usage);

    parse_ok(openai, body, (size_t)n, &r);
    cr_assert_eq(r.has_cost, cases[i].has, "%s", cases[i].usage);
    if (cases[i].has)
      cr_assert_eq(r.cost, cases[i].cost, "%s", cases[i].usage);
    chat_response_free(&r);
  }
}

Test(openai_response, logprob_is_the_mean) {
  static const struct {
    const char *logprobs;
    int has;
    double mean;
  } cases[] = {
      {"{\"content\":[{\"token\":\"a\",\"logprob\":-0.5,\"bytes\":[97],"
       "\"top_logprobs\":[]},{\"token\":\"b\",\"logprob\":-1.5}]}",
       1, -1.0},
      {"{\"content\":[{\"token\":\"a\",\"logprob\":0}]}", 1, 0.0},
      /* entries without a numeric logprob are skipped */
      {"{\"content\":[{\"logprob\":-2},{\"logprob\":\"x\"},null,7,"
       "{\"token\":\"t\"}]}",
       1, -2.0},
      {"{\"content\":[]}", 0, 0},
      {"{\"content\":null,\"refusal\":null}", 0, 0},
      {"{\"content\":{\"logprob\":-1}}", 0, 0},
      {"null", 0, 0},
      {"[]", 0, 0},
  };
  size_t i;

  for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    char body[320];
    chat_response r;
    int n = snprintf(body, sizeof(body),
                     "{\"choices\":[{\"message\":{\"content\":\"x\"},"
                     "\"logprobs\":%s}]}",
                     cases[i].logprobs);

    cr_assert(n > 0 && (size_t)n < sizeof(body));
    parse_ok(openai, body, (size_t)n, &r);
    cr_assert_eq(r.has_logprob, cases[i].has, "%s", cases[i].logprobs);
    if (cases[i].has)
      cr_assert_eq(r.logprob, cases[i].mean, "%s", cases[i].logprobs);
    chat_response_free(&r);
  }
}

Test(openai_response, huge_logprobs_do_not_overflow) {
  static const char body[] =
      "{\"choices\":[{\"message\":{\"content\":\"x\"},\"logprobs\":"
      "{\"content\":[{\"logprob\":-1e308},{\"logprob\":-1e308}]}}]}";
  chat_response r;

  parse_ok(openai, body, sizeof(body) - 1, &r);
  cr_assert_eq(r.has_logprob, 0);
  chat_response_free(&r);
}

/* --- Errors: OpenRouter's rate-limit reset inside the body --------------- */

static long epoch_ms_now(void) {
  struct timespec ts;

  clock_gettime(CLOCK_REALTIME, &ts);
  return (long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

Test(openai_error, openrouter_reset_in_the_body_is_a_retry_hint) {
  long reset = epoch_ms_now() + 60000;
  char body[300];
  chat_error e;
  int n = snprintf(body, sizeof(body),
                   "{\"error\":{\"message\":\"Rate limit exceeded\",\"code\":"
                   "429,\"metadata\":{\"headers\":{\"X-RateLimit-Limit\":"
                   "\"50\",\"X-RateLimit-Reset\":\"%ld\"}}}}",
                   reset);

  parse_error(openai, 429, body, (size_t)n, -1, &e);
  cr_assert_eq(e.kind, CHAT_ERR_TRANSIENT);
  cr_assert_gt(e.retry_after_ms, 55000);
  cr_assert_leq(e.retry_after_ms, 60000);
  chat_error_free(&e);

  /* A Retry-After header the caller read wins. */
  chat_error_init(&e);
  openai_parse_error(429, body, (size_t)n, 1500, &e);
  cr_assert_eq(e.retry_after_ms, 1500);
  chat_error_free(&e);

  /* Only a 429 reads it. */
  parse_error(openai, 503, body, (size_t)n, -1, &e);
  cr_assert_eq(e.retry_after_ms, -1);
  chat_error_free(&e);
}

Test(openai_error, openrouter_reset_forms) {
  long now = epoch_ms_now();
  struct {
    char value[64];
    int hint;
  } cases[6];
  size_t i;

  snprintf(cases[0].value, 64, "%ld", now / 1000 + 30); /* seconds */
  cases[0].hint = 1;
  snprintf(cases[1].value, 64, "\"%ld\"", now + 30000); /* any case */
  cases[1].hint = 1;
  snprintf(cases[2].value, 64, "\"1760000000000\""); /* the vector: past */
  cases[2].hint = 0;
  snprintf(cases[3].value, 64, "\"soon\"");
  cases[3].hint = 0;
  snprintf(cases[4].value, 64, "\"%ld5x\"", now);
  cases[4].hint = 0;
  snprintf(cases[5].value, 64, "-5");
  cases[5].hint = 0;
  for (i = 0; i < 6; i++) {
    char body[300];
    chat_error e;
    int n = snprintf(body, sizeof(body),
                     "{\"error\":{\"code\":429,\"metadata\":{\"headers\":{"
                     "\"%s\":%s}}}}",
                     i == 1 ? "x-ratelimit-reset" : "X-RateLimit-Reset",
                     cases[i].value);

    parse_error(openai, 429, body, (size_t)n, -1, &e);
    if (cases[i].hint) {
      cr_assert_gt(e.retry_after_ms, 20000, "%s", body);
      cr_assert_leq(e.retry_after_ms, 30000, "%s", body);
    } else {
      cr_assert_eq(e.retry_after_ms, -1, "%s", body);
    }
    chat_error_free(&e);
  }
}

Test(openai_error, daily_limit_vector_reset_is_in_the_past) {
  chat_error e;
  size_t len;
  char *body = fixture_load("openai/openrouter_429_daily_limit.json", &len);

  chat_error_init(&e);
  openai_parse_error(429, body, len, -1, &e);
  cr_assert_eq(e.kind, CHAT_ERR_TRANSIENT);
  cr_assert_eq(e.retry_after_ms, -1);
  chat_error_free(&e);
  free(body);
}

Test(openai_error, odd_metadata_is_ignored) {
  static const char *const bodies[] = {
      "{\"error\":{\"code\":429,\"metadata\":null}}",
      "{\"error\":{\"code\":429,\"metadata\":{\"headers\":[1]}}}",
      "{\"error\":{\"code\":429,\"metadata\":{\"headers\":{"
      "\"X-RateLimit-Reset\":null}}}}",
      "{\"error\":{\"code\":429,\"metadata\":{\"headers\":{"
      "\"X-RateLimit-Reset\":1e999}}}}",
      "{\"error\":\"flat\"}",
  };
  size_t i;

  for (i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
    chat_error e;

    parse_error(openai, 429, bodies[i], strlen(bodies[i]), -1, &e);
    cr_assert_eq(e.retry_after_ms, -1, "%s", bodies[i]);
    chat_error_free(&e);
  }
}

/* --- Endpoints and the tables -------------------------------------------- */

Test(openai_endpoint, urls) {
  static const struct {
    const chat_codec *codec;
    const char *base, *url; /* url NULL: refused */
  } cases[] = {
      {&chat_codec_openai, NULL, "https://api.openai.com/v1/chat/completions"},
      {&chat_codec_openai, "", "https://api.openai.com/v1/chat/completions"},
      {&chat_codec_openai, "http://localhost:11434/v1",
       "http://localhost:11434/v1/chat/completions"},
      {&chat_codec_openai, "http://localhost:11434/v1/",
       "http://localhost:11434/v1/chat/completions"},
      {&chat_codec_openai, "http://h/v1//", "http://h/v1/chat/completions"},
      {&chat_codec_openrouter, NULL,
       "https://openrouter.ai/api/v1/chat/completions"},
      {&chat_codec_openrouter, "https://gw.example/api/v1/",
       "https://gw.example/api/v1/chat/completions"},
      {&chat_codec_openai, "http://h/v1\r\nX: y", NULL},
      {&chat_codec_openai, "http://h /v1", NULL},
  };
  size_t i;

  for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    chat_endpoint ep = {.base_url = cases[i].base};

    assert_url(cases[i].codec, &ep, cases[i].url);
  }
}

Test(openai_endpoint, headers) {
  chat_endpoint ep = {
      .api_key = "sk-1", .referer = "https://example.com", .title = "MyApp"};

  /* no referer/title for OpenAI */
  ASSERT_HEADERS(&chat_codec_openai, &ep, "Authorization: Bearer sk-1",
                 "Content-Type: application/json");
  ep.api_key = NULL;
  ASSERT_HEADERS(&chat_codec_openai, &ep, "Content-Type: application/json");
  ep.api_key = "";
  ASSERT_HEADERS(&chat_codec_openai, &ep, "Content-Type: application/json");

  ep.api_key = "sk-or-1";
  ASSERT_HEADERS(&chat_codec_openrouter, &ep, "Authorization: Bearer sk-or-1",
                 "Content-Type: application/json",
                 "HTTP-Referer: https://example.com", "X-Title: MyApp");
  ep.referer = NULL;
  ep.title = "";
  ASSERT_HEADERS(&chat_codec_openrouter, &ep, "Authorization: Bearer sk-or-1",
                 "Content-Type: application/json");

  /* A key or title that would smuggle in a header is refused. */
  ep.api_key = "sk\r\nX-Evil: 1";
  assert_headers(&chat_codec_openai, &ep, NULL, 0);
  ep.api_key = "k";
  ep.title = "a\nb";
  assert_headers(&chat_codec_openrouter, &ep, NULL, 0);
}

Test(openai_endpoint, tables_are_registered) {
  cr_assert_eq(codec_find("openai"), &chat_codec_openai);
  cr_assert_eq(codec_find("openrouter"), &chat_codec_openrouter);
  cr_assert_null(codec_find("OpenAI"));
  cr_assert_null(codec_find(""));
  cr_assert_null(codec_find(NULL));
  cr_assert_eq(chat_codec_openai.framing, CHAT_FRAMING_SSE);
  cr_assert_eq(chat_codec_openrouter.framing, CHAT_FRAMING_SSE);
  cr_assert_eq(chat_codec_openrouter.parse_response, openai_parse_response);
  cr_assert_eq(chat_codec_openrouter.parse_error, openai_parse_error);
  cr_assert_eq(chat_codec_openai.stream_event, openai_stream_event);
  cr_assert_eq(chat_codec_openrouter.build_request, openai_build_request);
}
