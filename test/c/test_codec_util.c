/* test_codec_util.c - unit tests for codec_util.c, the request checks and
 * helpers the OpenAI and Ollama codecs share. Most of it is exercised
 * through the codecs' own tests; this pins down the edges they rely on. */
#include <string.h>

#include <criterion/criterion.h>

#include "buf.h"
#include "chat.h"
#include "codec.h"
#include "codec_util.h"

Test(codec_util, request_check_and_forced_tool) {
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

Test(codec_util, tool_call_arguments_must_be_utf8) {
  chat_tool_call ok = {.id = "c", .name = "f",
                       .arguments = "{\"a\":\"\xc3\xa9\"}"};
  chat_tool_call bad = {.id = "c", .name = "f",
                        .arguments = "{\"a\":\"\xe9\"}"};
  chat_tool_call cut = {.id = "c", .name = "f", .arguments = "\xc3\xa9",
                        .arguments_len = 1};
  chat_message m = {.role = "assistant", .tool_calls = &ok,
                    .n_tool_calls = 1};
  chat_request req = {.model = "m", .messages = &m, .n_messages = 1};

  cr_assert(codec_request_check(&req));
  m.tool_calls = &bad;
  cr_assert_not(codec_request_check(&req));
  /* arguments_len counts: half a character is not UTF-8. */
  m.tool_calls = &cut;
  cr_assert_not(codec_request_check(&req));
}

Test(codec_util, bearer_header) {
  chat_headers h;

  chat_headers_init(&h);
  cr_assert_eq(codec_add_bearer(&h, NULL), 0);
  cr_assert_eq(codec_add_bearer(&h, ""), 0);
  cr_assert_eq(h.n, 0);
  cr_assert_eq(codec_add_bearer(&h, "k-1"), 0);
  cr_assert_eq(h.n, 1);
  cr_assert_str_eq(h.lines[0], "Authorization: Bearer k-1");
  cr_assert_eq(codec_add_bearer(&h, "k\nX: y"), -1);
  chat_headers_free(&h);
}

Test(codec_util, url_and_trim) {
  const char *data = " \r\n\t[DONE] \n";
  size_t len = strlen(data);
  buf b;

  buf_init(&b, 0);
  cr_assert_eq(codec_url(&b, "http://h:1//", "http://d", "/p"), 0);
  cr_assert_str_eq(b.data, "http://h:1/p");
  buf_free(&b);
  cr_assert_eq(codec_url(&b, NULL, "http://d/", "/p"), 0);
  cr_assert_str_eq(b.data, "http://d/p");
  buf_free(&b);
  cr_assert_eq(codec_url(&b, "http://h\t", "http://d", "/p"), -1);
  buf_free(&b);

  codec_trim(&data, &len);
  cr_assert_eq(len, 6);
  cr_assert_eq(memcmp(data, "[DONE]", 6), 0);
  data = NULL;
  len = 9;
  codec_trim(&data, &len);
  cr_assert_eq(len, 0);
  data = "   ";
  len = 3;
  codec_trim(&data, &len);
  cr_assert_eq(len, 0);
}
