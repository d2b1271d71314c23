/* test_codec_util.c - unit tests for codec_util.c, the helpers the dialect
 * codecs share. Most of it is exercised through the codecs' own tests; this
 * pins down the edges a codec relies on. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>
#include <criterion/criterion.h>

#include "buf.h"
#include "chat.h"
#include "codec_util.h"

static void assert_json_out(const char *text, size_t len, int object,
                            const char *want) {
  buf b;
  int rc;

  buf_init(&b, 0);
  rc = json_put_json(&b, text, len, object);
  if (want == NULL) {
    cr_assert_eq(rc, -1, "accepted: %.*s", (int)len, text);
    cr_assert_eq(b.len, 0);
  }
  else {
    cr_assert_eq(rc, 0, "refused: %.*s", (int)len, text);
    cr_assert_str_eq(b.data, want);
  }
  buf_free(&b);
}

#define JSON_OUT(lit, object, want) \
  assert_json_out(lit, sizeof(lit) - 1, object, want)

Test(codec_util, json_put_json_checks_and_copies) {
  /* As given, but for the whitespace around the value. */
  JSON_OUT(" { \"a\" : [ 1 , 2.5 , \"x\" ] } \n", 1,
           "{ \"a\" : [ 1 , 2.5 , \"x\" ] }");
  JSON_OUT("{\"s\":\"\\u00e9\\t\xc3\xa9\"}", 1,
           "{\"s\":\"\\u00e9\\t\xc3\xa9\"}");
  /* Past 2^53: cJSON would round it, the copy does not. */
  JSON_OUT("{\"max\":9007199254740993}", 1, "{\"max\":9007199254740993}");
  /* What cJSON alone would let through is refused. */
  JSON_OUT("{\"n\":01}", 1, NULL);
  JSON_OUT("{\"n\":+1}", 1, NULL);
  JSON_OUT("{\"s\":\"a\tb\"}", 1, NULL);
  JSON_OUT("{\"s\":\"\\u0000\"}", 1, NULL);
  JSON_OUT("[1]", 0, "[1]");
  JSON_OUT("true", 0, "true");
  JSON_OUT("[1]", 1, NULL);
  JSON_OUT("\"x\"", 1, NULL);
  JSON_OUT("{", 1, NULL);
  JSON_OUT("{}{}", 1, NULL);
  JSON_OUT("{} x", 1, NULL);
  JSON_OUT("", 0, NULL);
  JSON_OUT("  ", 0, NULL);
  JSON_OUT("{\"a\":\"\xff\"}", 1, NULL);
  JSON_OUT("{\"a\":\"\\ud800\"}", 1, NULL);
  JSON_OUT("{\"a\":1}\0", 1, NULL);
  /* Only len bytes count. */
  assert_json_out("{}garbage", 2, 1, "{}");
  assert_json_out(NULL, 0, 0, NULL);
}

Test(codec_util, call_args) {
  chat_tool_call with_len = {.arguments = "{\"a\":1}xyz", .arguments_len = 7};
  chat_tool_call c_string = {.arguments = "{\"b\":2}"};
  chat_tool_call none = {.arguments = NULL};
  chat_tool_call empty = {.arguments = ""};
  size_t len;
  const char *s;

  s = codec_call_args(&with_len, &len);
  cr_assert_eq(len, 7);
  cr_assert_eq(memcmp(s, "{\"a\":1}", 7), 0);
  s = codec_call_args(&c_string, &len);
  cr_assert_eq(len, 7);
  cr_assert_str_eq(s, "{\"b\":2}");
  s = codec_call_args(&none, &len);
  cr_assert_eq(len, 2);
  cr_assert_str_eq(s, "{}");
  s = codec_call_args(&empty, &len);
  cr_assert_str_eq(s, "{}");
}

Test(codec_util, request_check) {
  chat_message user = {.role = "user", .content = "x", .content_len = 1};
  chat_tool tools[] = {{.name = "a"}};
  chat_request req = {.model = "m", .messages = &user, .n_messages = 1};

  cr_assert(codec_request_check(&req));
  req.tool_choice = "auto";
  cr_assert(codec_request_check(&req));
  cr_assert_null(codec_forced_tool(&req));
  req.tool_choice = "required";
  cr_assert_not(codec_request_check(&req));
  req.tools = tools;
  req.n_tools = 1;
  cr_assert(codec_request_check(&req));
  req.tool_choice = "a";
  cr_assert(codec_request_check(&req));
  cr_assert_eq(codec_forced_tool(&req), &tools[0]);
  req.tool_choice = "A";
  cr_assert_not(codec_request_check(&req));
  cr_assert_null(codec_forced_tool(&req));
  req.tool_choice = NULL;
  req.output_schema_name = "";
  cr_assert_not(codec_request_check(&req));
  cr_assert_not(codec_request_check(NULL));
}

Test(codec_util, body_snippet_and_count) {
  static const char body[] = "{\"n\":3,\"f\":2.9,\"neg\":-1,\"s\":\"3\"}";
  cJSON *root = cJSON_Parse(body);
  char *s = codec_body_snippet("  hi\n", 5);

  cr_assert_str_eq(s, "hi");
  free(s);
  cr_assert_null(codec_body_snippet(NULL, 3));
  cr_assert_null(codec_body_snippet("\xff", 1));
  cr_assert_eq(json_count(root, "n"), 3);
  cr_assert_eq(json_count(root, "f"), 2);
  cr_assert_eq(json_count(root, "neg"), -1);
  cr_assert_eq(json_count(root, "s"), -1);
  cr_assert_eq(json_count(root, "missing"), -1);
  cr_assert_eq(json_count(NULL, "n"), -1);
  cJSON_Delete(root);
}

Test(codec_util, json_put_string_and_number_refuse_bad_input) {
  buf b;

  buf_init(&b, 0);
  cr_assert_eq(json_put_string(&b, NULL, 1), -1);
  cr_assert_eq(json_put_cstr(&b, NULL), -1);
  cr_assert_eq(json_put_number(&b, INFINITY), -1);
  cr_assert_eq(json_put_number(&b, NAN), -1);
  cr_assert_eq(b.len, 0);
  cr_assert_eq(json_put_string(&b, NULL, 0), 0);
  cr_assert_str_eq(b.data, "\"\"");
  buf_free(&b);
}
