/* test_anthropic_codec.c - unit tests for anthropic_codec.c (all but the
 * stream events, which test_anthropic_gemini_streams.c covers):
 * request bodies are parsed back with cJSON and checked field by field;
 * responses and error bodies come from test/fixtures/anthropic (vectors
 * from the provider docs) plus hostile variants: truncated, wrong types,
 * non-UTF-8, NULs, huge. */
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>
#include <criterion/criterion.h>

#include "anthropic_codec.h"
#include "buf.h"
#include "chat.h"
#include "codec.h"
#include "codec_test_util.h"
#include "fixtures.h"

/* The codec under test, for the shared helpers (codec_test_util.h). */
static const chat_codec *const anthropic = &chat_codec_anthropic;

/* --- Table, URL and headers ---------------------------------------------- */

Test(anthropic_codec, is_registered) {
  const chat_codec *c = codec_find("anthropic");

  cr_assert_eq(c, &chat_codec_anthropic);
  cr_assert_str_eq(c->name, "anthropic");
  cr_assert_eq(c->framing, CHAT_FRAMING_SSE);
  cr_assert_eq(c->build_url, anthropic_build_url);
  cr_assert_eq(c->build_headers, anthropic_build_headers);
  cr_assert_eq(c->build_request, anthropic_build_request);
  cr_assert_eq(c->parse_response, anthropic_parse_response);
  cr_assert_eq(c->parse_error, anthropic_parse_error);
  cr_assert_eq(c->stream_event, anthropic_stream_event);
}

Test(anthropic_codec, url) {
  static const struct {
    const char *base;
    const char *url;
  } cases[] = {
      {NULL, "https://api.anthropic.com/v1/messages"},
      {"", "https://api.anthropic.com/v1/messages"},
      {"http://127.0.0.1:8080/v1", "http://127.0.0.1:8080/v1/messages"},
      {"http://proxy/anthropic/v1//", "http://proxy/anthropic/v1/messages"},
  };
  size_t i;

  for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    chat_endpoint ep = {.base_url = cases[i].base, .model = "m"};

    assert_url(anthropic, &ep, cases[i].url);
  }
}

Test(anthropic_codec, url_refuses_a_base_with_spaces_or_controls) {
  static const char *const bad[] = {"http://a b/v1", "http://a/v1\r\nX: y",
                                    "http://a/\tv1"};
  size_t i;

  for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    chat_endpoint ep = {.base_url = bad[i]};

    assert_url(anthropic, &ep, NULL);
  }
}

Test(anthropic_codec, headers) {
  chat_endpoint ep = {.api_key = "sk-ant-123", .model = "m"};

  ASSERT_HEADERS(anthropic, &ep, "x-api-key: sk-ant-123",
                 "anthropic-version: 2023-06-01",
                 "content-type: application/json");
  ep.api_key = NULL; /* a local proxy that adds the key itself */
  ASSERT_HEADERS(anthropic, &ep, "anthropic-version: 2023-06-01",
                 "content-type: application/json");
  ep.api_key = "sk\r\nX-Evil: 1";
  assert_headers(anthropic, &ep, NULL, 0);
}

/* --- Request building ---------------------------------------------------- */

Test(anthropic_request, matches_the_reference_vector) {
  size_t len;
  char *text = fixture_load("anthropic/request.json", &len);
  cJSON *ref = cJSON_ParseWithLength(text, len);
  const cJSON *m0;
  chat_message msgs[2];
  chat_request req = {0};
  cJSON *built;

  cr_assert_not_null(ref);
  m0 = cJSON_GetArrayItem(field(ref, "messages"), 0);
  msgs[0] = msg("system", str_field(ref, "system"));
  msgs[1] = msg(str_field(m0, "role"), str_field(m0, "content"));
  req.model = str_field(ref, "model");
  req.messages = msgs;
  req.n_messages = 2;
  req.has_temperature = 1;
  req.temperature = field(ref, "temperature")->valuedouble;
  req.max_tokens = (long)field(ref, "max_tokens")->valuedouble;
  built = build_and_parse(anthropic, &req);
  /* The same fields, and no other. */
  cr_assert(cJSON_Compare(built, ref, 1), "built %s",
            cJSON_PrintUnformatted(built));
  cJSON_Delete(built);
  cJSON_Delete(ref);
  free(text);
}

Test(anthropic_request, exact_text_for_a_small_request) {
  chat_message msgs[] = {msg("user", "hi")};
  chat_request req = {.model = "m",
                      .messages = msgs,
                      .n_messages = 1,
                      .has_temperature = 1,
                      .temperature = 0.2,
                      .max_tokens = 16,
                      .stream = 1};
  char *body = anthropic_build_request(&req, NULL);

  cr_assert_not_null(body);
  cr_assert_str_eq(body, "{\"model\":\"m\",\"max_tokens\":16,\"messages\":"
                         "[{\"role\":\"user\",\"content\":\"hi\"}],"
                         "\"temperature\":0.2,\"stream\":true}");
  free(body);
}

Test(anthropic_request, max_tokens_defaults_to_4096) {
  static const long given[] = {0, -1, LONG_MIN};
  chat_message msgs[] = {msg("user", "x")};
  size_t i;

  for (i = 0; i < 3; i++) {
    chat_request req = {.model = "m",
                        .messages = msgs,
                        .n_messages = 1,
                        .max_tokens = given[i]};
    cJSON *root = build_and_parse(anthropic, &req);

    cr_assert_eq(field(root, "max_tokens")->valuedouble, 4096.0);
    /* model, max_tokens, messages; no temperature, no stream */
    cr_assert_eq(cJSON_GetArraySize(root), 3);
    cJSON_Delete(root);
  }
}

Test(anthropic_request, system_messages_go_to_the_top) {
  chat_message one[] = {msg("system", "Be terse."), msg("user", "q")};
  chat_message two[] = {msg("system", "A"), msg("user", "q"), msg("system", ""),
                        msg("assistant", "r"), msg("system", "B\n")};
  chat_message empty[] = {msg("system", ""), msg("user", "q")};
  chat_request req = {.model = "m", .messages = one, .n_messages = 2};
  cJSON *root = build_and_parse(anthropic, &req);

  cr_assert_str_eq(str_field(root, "system"), "Be terse.");
  assert_prints(field(root, "messages"),
                "[{\"role\":\"user\",\"content\":\"q\"}]");
  cJSON_Delete(root);

  /* Several: text blocks in order, the empty one left out, none joined. */
  req.messages = two;
  req.n_messages = 5;
  root = build_and_parse(anthropic, &req);
  assert_prints(field(root, "system"),
                "[{\"type\":\"text\",\"text\":\"A\"},"
                "{\"type\":\"text\",\"text\":\"B\\n\"}]");
  assert_prints(field(root, "messages"),
                "[{\"role\":\"user\",\"content\":\"q\"},"
                "{\"role\":\"assistant\",\"content\":\"r\"}]");
  cJSON_Delete(root);

  req.messages = empty;
  req.n_messages = 2;
  root = build_and_parse(anthropic, &req);
  cr_assert_null(field(root, "system"));
  cJSON_Delete(root);
}

Test(anthropic_request, tools_and_tool_choice) {
  chat_tool tools[] = {
      {.name = "get_weather",
       .description = "Weather for a place",
       .parameters = "{ \"type\": \"object\", \"properties\": {\"location\":"
                     " {\"type\": \"string\"}}, \"required\": [\"location\"]}"},
      {.name = "now"},
  };
  static const struct {
    const char *choice;
    const char *json; /* NULL: no tool_choice */
  } choices[] = {
      {NULL, NULL},
      {"auto", "{\"type\":\"auto\"}"},
      {"required", "{\"type\":\"any\"}"},
      {"none", "{\"type\":\"none\"}"},
      {"now", "{\"type\":\"tool\",\"name\":\"now\"}"},
  };
  chat_message msgs[] = {msg("user", "weather?")};
  size_t i;

  for (i = 0; i < sizeof(choices) / sizeof(choices[0]); i++) {
    chat_request req = {.model = "m",
                        .messages = msgs,
                        .n_messages = 1,
                        .tools = tools,
                        .n_tools = 2,
                        .tool_choice = choices[i].choice};
    cJSON *root = build_and_parse(anthropic, &req);

    assert_prints(field(root, "tools"),
                  "[{\"name\":\"get_weather\",\"description\":\"Weather for "
                  "a place\",\"input_schema\":{\"type\":\"object\","
                  "\"properties\":{\"location\":{\"type\":\"string\"}},"
                  "\"required\":[\"location\"]}},"
                  "{\"name\":\"now\",\"input_schema\":{\"type\":\"object\"}}]");
    if (choices[i].json == NULL)
      cr_assert_null(field(root, "tool_choice"));
    else
      assert_prints(field(root, "tool_choice"), choices[i].json);
    cJSON_Delete(root);
  }
}

Test(anthropic_request, tool_choice_without_tools) {
  chat_message msgs[] = {msg("user", "x")};
  chat_request req = {.model = "m", .messages = msgs, .n_messages = 1};
  cJSON *root;

  /* auto and none ask for nothing the API could refuse: left out. */
  req.tool_choice = "auto";
  root = build_and_parse(anthropic, &req);
  cr_assert_null(field(root, "tool_choice"));
  cr_assert_null(field(root, "tools"));
  cJSON_Delete(root);
  req.tool_choice = "none";
  root = build_and_parse(anthropic, &req);
  cr_assert_null(field(root, "tool_choice"));
  cJSON_Delete(root);
  /* A call that can't be made is an invalid request. */
  req.tool_choice = "required";
  cr_assert_null(anthropic_build_request(&req, NULL));
  req.tool_choice = "get_weather";
  cr_assert_null(anthropic_build_request(&req, NULL));
}

Test(anthropic_request, tool_calls_and_results) {
  chat_tool_call calls[] = {
      {.id = "toolu_1",
       .name = "get_weather",
       .arguments = "{\"location\": \"Paris\"}",
       .arguments_len = strlen("{\"location\": \"Paris\"}")},
      {.id = "toolu_2", .name = "now", .arguments = NULL},
      /* only the pointer set: the C string is used */
      {.id = "toolu_3", .name = "now", .arguments = "{\"tz\":\"UTC\"}"},
  };
  chat_message msgs[] = {
      msg("user", "Weather and time in Paris?"),
      {.role = "assistant",
       .content = "Checking.",
       .content_len = 9,
       .tool_calls = calls,
       .n_tool_calls = 3},
      {.role = "tool",
       .content = "18C",
       .content_len = 3,
       .tool_call_id = "toolu_1",
       .tool_name = "get_weather"},
      {.role = "tool",
       .content = "12:00",
       .content_len = 5,
       .tool_call_id = "toolu_2",
       .tool_name = "now"},
      {.role = "system", .content = "between results", .content_len = 15},
      {.role = "tool",
       .content = "",
       .content_len = 0,
       .tool_call_id = "toolu_3",
       .tool_name = "now"},
      {.role = "assistant",
       .content = NULL,
       .content_len = 0,
       .tool_calls = calls,
       .n_tool_calls = 1},
      {.role = "tool",
       .content = "again",
       .content_len = 5,
       .tool_call_id = "toolu_1"},
      msg("user", "thanks"),
  };
  chat_request req = {.model = "m", .messages = msgs, .n_messages = 9};
  cJSON *root = build_and_parse(anthropic, &req);

  assert_prints(
      field(root, "messages"),
      "[{\"role\":\"user\",\"content\":\"Weather and time in Paris?\"},"
      "{\"role\":\"assistant\",\"content\":["
      "{\"type\":\"text\",\"text\":\"Checking.\"},"
      "{\"type\":\"tool_use\",\"id\":\"toolu_1\",\"name\":\"get_weather\","
      "\"input\":{\"location\":\"Paris\"}},"
      "{\"type\":\"tool_use\",\"id\":\"toolu_2\",\"name\":\"now\","
      "\"input\":{}},"
      "{\"type\":\"tool_use\",\"id\":\"toolu_3\",\"name\":\"now\","
      "\"input\":{\"tz\":\"UTC\"}}]},"
      "{\"role\":\"user\",\"content\":["
      "{\"type\":\"tool_result\",\"tool_use_id\":\"toolu_1\","
      "\"content\":\"18C\"},"
      "{\"type\":\"tool_result\",\"tool_use_id\":\"toolu_2\","
      "\"content\":\"12:00\"},"
      "{\"type\":\"tool_result\",\"tool_use_id\":\"toolu_3\","
      "\"content\":\"\"}]},"
      "{\"role\":\"assistant\",\"content\":["
      "{\"type\":\"tool_use\",\"id\":\"toolu_1\",\"name\":\"get_weather\","
      "\"input\":{\"location\":\"Paris\"}}]},"
      "{\"role\":\"user\",\"content\":["
      "{\"type\":\"tool_result\",\"tool_use_id\":\"toolu_1\","
      "\"content\":\"again\"}]},"
      "{\"role\":\"user\",\"content\":\"thanks\"}]");
  cr_assert_str_eq(str_field(root, "system"), "between results");
  cJSON_Delete(root);
}

Test(anthropic_request, only_a_tool_result) {
  chat_message msgs[] = {
      {.role = "tool", .content = "42", .content_len = 2, .tool_call_id = "t"}};
  chat_request req = {.model = "m", .messages = msgs, .n_messages = 1};
  cJSON *root = build_and_parse(anthropic, &req);

  assert_prints(field(root, "messages"),
                "[{\"role\":\"user\",\"content\":[{\"type\":\"tool_result\","
                "\"tool_use_id\":\"t\",\"content\":\"42\"}]}]");
  cJSON_Delete(root);
}

Test(anthropic_request, structured_output) {
  chat_message msgs[] = {msg("user", "x")};
  chat_request req = {.model = "m",
                      .messages = msgs,
                      .n_messages = 1,
                      .output_schema = "{\"type\":\"object\",\"properties\":"
                                       "{\"answer\":{\"type\":\"string\"}}}",
                      .output_schema_name = "ignored"};
  cJSON *root = build_and_parse(anthropic, &req);

  assert_prints(field(root, "output_config"),
                "{\"format\":{\"type\":\"json_schema\",\"schema\":{\"type\":"
                "\"object\",\"properties\":{\"answer\":{\"type\":"
                "\"string\"}}}}}");
  cr_assert_null(field(root, "output_format")); /* the old beta form */
  cJSON_Delete(root);
}

Test(anthropic_request, embedded_json_is_checked_and_reprinted) {
  /* A raw control character inside a schema string is accepted by cJSON
   * but is not JSON: it goes out escaped. */
  chat_tool tools[] = {{.name = "t",
                        .parameters = "{\"description\":\"a\tb\","
                                      "\"type\":\"object\"}"}};
  chat_message msgs[] = {msg("user", "x")};
  chat_request req = {.model = "m",
                      .messages = msgs,
                      .n_messages = 1,
                      .tools = tools,
                      .n_tools = 1};
  char *body = anthropic_build_request(&req, NULL);

  cr_assert_not_null(body);
  cr_assert_null(strchr(body, '\t'));
  cr_assert_not_null(strstr(body, "\"a\\tb\""));
  free(body);
}

Test(anthropic_request, escapes_and_nul) {
  static const char text[] = "q\"\\\n\x01 \xe2\x80\xa8 \xf0\x9f\x98\x80\0z";
  chat_message msgs[] = {
      {.role = "user", .content = text, .content_len = sizeof(text) - 1}};
  chat_request req = {.model = "m", .messages = msgs, .n_messages = 1};
  size_t len;
  char *body = anthropic_build_request(&req, &len);

  cr_assert_not_null(body);
  cr_assert_eq(strlen(body), len);
  cr_assert_not_null(strstr(body, "\"q\\\"\\\\\\n\\u0001 \\u2028 "
                                  "\xf0\x9f\x98\x80\\u0000z\""),
                     "%s", body);
  free(body);
}

Test(anthropic_request, content_is_pointer_and_length) {
  char *raw = fixture_exact_copy("hello world", 5);
  chat_message msgs[] = {{.role = "user", .content = raw, .content_len = 5}};
  chat_request req = {.model = "m", .messages = msgs, .n_messages = 1};
  cJSON *root = build_and_parse(anthropic, &req);

  cr_assert_str_eq(
      str_field(cJSON_GetArrayItem(field(root, "messages"), 0), "content"),
      "hello");
  cJSON_Delete(root);
  free(raw);
}

Test(anthropic_request, invalid_requests_give_null) {
  chat_message good[] = {msg("user", "x")};
  chat_message only_system[] = {msg("system", "x")};
  chat_message bad_utf8[] = {msg("user", "caf\xc3")};
  chat_message bad_system[] = {msg("system", "\xff"), msg("user", "x")};
  chat_message bad_role[] = {msg("developer", "x")};
  chat_message no_role[] = {msg(NULL, "x")};
  chat_message null_content[] = {{.role = "user", .content_len = 3}};
  chat_tool_call no_id[] = {{.name = "f", .arguments = "{}"}};
  chat_tool_call no_name[] = {{.id = "i", .arguments = "{}"}};
  chat_tool_call array_args[] = {{.id = "i", .name = "f", .arguments = "[1]"}};
  chat_tool_call bad_args[] = {
      {.id = "i", .name = "f", .arguments = "{\"a\":"}};
  chat_tool_call text_args[] = {{.id = "i", .name = "f", .arguments = "Paris"}};
  chat_tool_call utf8_args[] = {
      {.id = "i", .name = "f", .arguments = "{\"a\":\"\xff\"}"}};
  chat_tool_call utf8_name[] = {
      {.id = "i", .name = "f\xff", .arguments = "{}"}};
  chat_message call_no_id[] = {
      {.role = "assistant", .tool_calls = no_id, .n_tool_calls = 1}};
  chat_message call_no_name[] = {
      {.role = "assistant", .tool_calls = no_name, .n_tool_calls = 1}};
  chat_message call_array[] = {
      {.role = "assistant", .tool_calls = array_args, .n_tool_calls = 1}};
  chat_message call_bad[] = {
      {.role = "assistant", .tool_calls = bad_args, .n_tool_calls = 1}};
  chat_message call_text[] = {
      {.role = "assistant", .tool_calls = text_args, .n_tool_calls = 1}};
  chat_message call_utf8[] = {
      {.role = "assistant", .tool_calls = utf8_args, .n_tool_calls = 1}};
  chat_message call_utf8_name[] = {
      {.role = "assistant", .tool_calls = utf8_name, .n_tool_calls = 1}};
  chat_message calls_null[] = {{.role = "assistant", .n_tool_calls = 2}};
  chat_message result_no_id[] = {
      {.role = "tool", .content = "x", .content_len = 1, .tool_name = "f"}};
  chat_tool no_tool_name[] = {{.name = NULL}};
  chat_tool bad_schema[] = {{.name = "t", .parameters = "{\"type\":"}};
  chat_tool array_schema[] = {{.name = "t", .parameters = "[]"}};
  chat_tool bad_desc[] = {{.name = "t", .description = "\xc0\xaf"}};
  chat_tool fine[] = {{.name = "t"}};
  const chat_request cases[] = {
      {.model = NULL, .messages = good, .n_messages = 1},
      {.model = "", .messages = good, .n_messages = 1},
      {.model = "m\xfe", .messages = good, .n_messages = 1},
      {.model = "m", .messages = good, .n_messages = 0},
      {.model = "m", .messages = NULL, .n_messages = 1},
      {.model = "m", .messages = only_system, .n_messages = 1},
      {.model = "m", .messages = bad_utf8, .n_messages = 1},
      {.model = "m", .messages = bad_system, .n_messages = 2},
      {.model = "m", .messages = bad_role, .n_messages = 1},
      {.model = "m", .messages = no_role, .n_messages = 1},
      {.model = "m", .messages = null_content, .n_messages = 1},
      {.model = "m", .messages = call_no_id, .n_messages = 1},
      {.model = "m", .messages = call_no_name, .n_messages = 1},
      {.model = "m", .messages = call_array, .n_messages = 1},
      {.model = "m", .messages = call_bad, .n_messages = 1},
      {.model = "m", .messages = call_text, .n_messages = 1},
      {.model = "m", .messages = call_utf8, .n_messages = 1},
      {.model = "m", .messages = call_utf8_name, .n_messages = 1},
      {.model = "m", .messages = calls_null, .n_messages = 1},
      {.model = "m", .messages = result_no_id, .n_messages = 1},
      {.model = "m",
       .messages = good,
       .n_messages = 1,
       .tools = no_tool_name,
       .n_tools = 1},
      {.model = "m",
       .messages = good,
       .n_messages = 1,
       .tools = bad_schema,
       .n_tools = 1},
      {.model = "m",
       .messages = good,
       .n_messages = 1,
       .tools = array_schema,
       .n_tools = 1},
      {.model = "m",
       .messages = good,
       .n_messages = 1,
       .tools = bad_desc,
       .n_tools = 1},
      {.model = "m",
       .messages = good,
       .n_messages = 1,
       .tools = NULL,
       .n_tools = 1},
      {.model = "m",
       .messages = good,
       .n_messages = 1,
       .tools = fine,
       .n_tools = 1,
       .tool_choice = "other"},
      {.model = "m",
       .messages = good,
       .n_messages = 1,
       .output_schema = "\"string\""},
      {.model = "m",
       .messages = good,
       .n_messages = 1,
       .output_schema = "{\"type\":\"object\"} x"},
      {.model = "m",
       .messages = good,
       .n_messages = 1,
       .has_temperature = 1,
       .temperature = NAN},
      {.model = "m",
       .messages = good,
       .n_messages = 1,
       .has_temperature = 1,
       .temperature = -INFINITY},
  };

  BUILD_REFUSES(anthropic, cases);
}

Test(anthropic_request, five_megabyte_content) {
  big_content_round_trips(anthropic);
}

/* --- Response parsing ---------------------------------------------------- */

Test(anthropic_response, text_vector) {
  chat_response r;

  parse_vector(anthropic, "anthropic/text_response.json", &r);
  cr_assert_str_eq(r.content, "Hi! My name is Claude.");
  cr_assert_str_eq(r.model, "claude-3-7-sonnet-20250219");
  cr_assert_str_eq(r.finish_reason, "end_turn");
  cr_assert_eq(r.stop, CHAT_STOP_END);
  cr_assert_eq(r.input_tokens, 2095);
  cr_assert_eq(r.output_tokens, 503);
  cr_assert_eq(r.n_tool_calls, 0);
  cr_assert_null(r.tool_calls);
  cr_assert_not(r.has_cost);
  cr_assert_not(r.has_logprob);
  chat_response_free(&r);
}

Test(anthropic_response, tool_use_vector) {
  chat_response r;

  parse_vector(anthropic, "anthropic/tool_use_response.json", &r);
  cr_assert_str_eq(r.content, "Okay, let's check the weather.");
  cr_assert_str_eq(r.model, "claude-sonnet-4-5");
  cr_assert_str_eq(r.finish_reason, "tool_use");
  cr_assert_eq(r.stop, CHAT_STOP_TOOL_CALLS);
  cr_assert_eq(r.input_tokens, 472);
  cr_assert_eq(r.output_tokens, 89);
  cr_assert_eq(r.n_tool_calls, 1);
  cr_assert_str_eq(r.tool_calls[0].id, "toolu_01T1x1fJ34qAmk2tNTrN7Up6");
  cr_assert_str_eq(r.tool_calls[0].name, "get_weather");
  cr_assert_str_eq(r.tool_calls[0].arguments,
                   "{\"location\":\"San Francisco, CA\"}");
  cr_assert_eq(r.tool_calls[0].arguments_len,
               strlen(r.tool_calls[0].arguments));
  chat_response_free(&r);
}

Test(anthropic_response, err_is_untouched_on_success) {
  size_t len;
  char *body = fixture_load("anthropic/text_response.json", &len);
  chat_response r;
  chat_error e;

  chat_error_init(&e);
  e.http_status = 7;
  cr_assert_eq(anthropic_parse_response(body, len, 0, &r, &e), 0);
  cr_assert_eq(e.http_status, 7);
  cr_assert_null(e.reason);
  chat_response_free(&r);
  free(body);
}

Test(anthropic_response, blocks_joined_and_skipped) {
  chat_response r;

  PARSE_OK(anthropic,
           "{\"content\":[{\"type\":\"thinking\",\"thinking\":\"hmm\","
           "\"signature\":\"x\"},{\"type\":\"text\",\"text\":\"a\"},"
           "{\"type\":\"redacted_thinking\",\"data\":\"zz\"},"
           "{\"type\":\"tool_use\",\"id\":\"t1\",\"name\":\"f\"},"
           "{\"type\":\"text\",\"text\":\"\"},"
           "{\"type\":\"text\",\"text\":\"b\\u00e9\"},"
           "{\"type\":\"tool_use\",\"id\":\"t2\",\"name\":\"g\","
           "\"input\":{\"n\":[1,2.5,null,true],\"s\":\"\\\"\"}},"
           "{\"type\":\"server_tool_use\",\"id\":\"s\",\"name\":\"web\"}],"
           "\"stop_reason\":\"tool_use\"}",
           &r);
  cr_assert_str_eq(r.content, "ab\xc3\xa9");
  cr_assert_eq(r.n_tool_calls, 2);
  cr_assert_str_eq(r.tool_calls[0].arguments, "{}"); /* no input */
  cr_assert_str_eq(r.tool_calls[1].id, "t2");
  cr_assert_str_eq(r.tool_calls[1].arguments,
                   "{\"n\":[1,2.5,null,true],\"s\":\"\\\"\"}");
  cr_assert_null(r.model);
  cr_assert_eq(r.input_tokens, -1);
  cr_assert_eq(r.output_tokens, -1);
  chat_response_free(&r);
}

Test(anthropic_response, empty_content_is_empty_text) {
  chat_response r;

  PARSE_OK(anthropic, "{\"content\":[],\"stop_reason\":\"end_turn\"}", &r);
  cr_assert_str_eq(r.content, "");
  cr_assert_eq(r.content_len, 0);
  chat_response_free(&r);
}

Test(anthropic_response, stop_reasons) {
  static const struct {
    const char *body;
    chat_stop stop;
  } cases[] = {
      {"{\"content\":[],\"stop_reason\":\"end_turn\"}", CHAT_STOP_END},
      {"{\"content\":[],\"stop_reason\":\"stop_sequence\"}", CHAT_STOP_END},
      {"{\"content\":[],\"stop_reason\":\"max_tokens\"}", CHAT_STOP_LENGTH},
      {"{\"content\":[],\"stop_reason\":\"model_context_window_exceeded\"}",
       CHAT_STOP_LENGTH},
      {"{\"content\":[],\"stop_reason\":\"tool_use\"}", CHAT_STOP_TOOL_CALLS},
      {"{\"content\":[],\"stop_reason\":\"refusal\"}",
       CHAT_STOP_CONTENT_FILTER},
      {"{\"content\":[],\"stop_reason\":\"pause_turn\"}", CHAT_STOP_OTHER},
      {"{\"content\":[],\"stop_reason\":\"brand_new\"}", CHAT_STOP_OTHER},
      {"{\"content\":[],\"stop_reason\":null}", CHAT_STOP_NONE},
      {"{\"content\":[],\"stop_reason\":5}", CHAT_STOP_NONE},
      {"{\"content\":[]}", CHAT_STOP_NONE},
  };
  size_t i;

  for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    chat_response r;

    parse_ok(anthropic, cases[i].body, strlen(cases[i].body), &r);
    cr_assert_eq(r.stop, cases[i].stop, "case %zu", i);
    chat_response_free(&r);
  }
}

Test(anthropic_response, usage_with_cache_counts) {
  chat_response r;

  PARSE_OK(anthropic,
           "{\"content\":[],\"usage\":{\"input_tokens\":10,"
           "\"cache_creation_input_tokens\":200,"
           "\"cache_read_input_tokens\":3000,\"output_tokens\":4,"
           "\"service_tier\":\"standard\"}}",
           &r);
  cr_assert_eq(r.input_tokens, 3210);
  cr_assert_eq(r.output_tokens, 4);
  chat_response_free(&r);

  /* Odd values are "not said", never garbage. */
  PARSE_OK(anthropic,
           "{\"content\":[],\"usage\":{\"input_tokens\":-1,"
           "\"output_tokens\":\"4\"}}",
           &r);
  cr_assert_eq(r.input_tokens, -1);
  cr_assert_eq(r.output_tokens, -1);
  chat_response_free(&r);
  PARSE_OK(anthropic,
           "{\"content\":[],\"usage\":{\"input_tokens\":1e300,"
           "\"output_tokens\":1e18}}",
           &r);
  cr_assert_eq(r.input_tokens, -1);
  cr_assert_eq(r.output_tokens, 1000000000000000000L);
  chat_response_free(&r);
  PARSE_OK(anthropic,
           "{\"content\":[],\"usage\":{\"input_tokens\":9e18,"
           "\"cache_read_input_tokens\":9e18}}",
           &r);
  cr_assert_eq(r.input_tokens, -1); /* the sum would overflow */
  chat_response_free(&r);
  PARSE_OK(anthropic, "{\"content\":[],\"usage\":[1,2]}", &r);
  cr_assert_eq(r.input_tokens, -1);
  chat_response_free(&r);
}

Test(anthropic_response, missing_structure_is_missing_field) {
  PARSE_FAILS(anthropic, "{}", "missing_field");
  PARSE_FAILS(anthropic, "[]", "missing_field");
  PARSE_FAILS(anthropic, "\"message\"", "missing_field");
  PARSE_FAILS(anthropic, "{\"content\":\"Hi\"}", "missing_field");
  PARSE_FAILS(anthropic, "{\"content\":{\"type\":\"text\",\"text\":\"x\"}}",
              "missing_field");
  PARSE_FAILS(anthropic, "{\"content\":[1]}", "missing_field");
  PARSE_FAILS(anthropic, "{\"content\":[{\"text\":\"no type\"}]}",
              "missing_field");
  PARSE_FAILS(anthropic, "{\"content\":[{\"type\":\"text\"}]}",
              "missing_field");
  PARSE_FAILS(anthropic, "{\"content\":[{\"type\":\"text\",\"text\":null}]}",
              "missing_field");
  PARSE_FAILS(anthropic,
              "{\"content\":[{\"type\":\"tool_use\",\"name\":\"f\"}]}",
              "missing_field");
  PARSE_FAILS(anthropic, "{\"content\":[{\"type\":\"tool_use\",\"id\":\"t\"}]}",
              "missing_field");
  PARSE_FAILS(anthropic,
              "{\"content\":[{\"type\":\"tool_use\",\"id\":\"t\","
              "\"name\":\"\"}]}",
              "missing_field");
  PARSE_FAILS(anthropic,
              "{\"content\":[{\"type\":\"tool_use\",\"id\":\"t\","
              "\"name\":\"f\",\"input\":\"{}\"}]}",
              "missing_field");
  /* a good tool call before a bad block is not leaked */
  PARSE_FAILS(anthropic,
              "{\"content\":[{\"type\":\"tool_use\",\"id\":\"t\","
              "\"name\":\"f\",\"input\":{}},{\"type\":\"text\"}]}",
              "missing_field");
}

Test(anthropic_response, malformed_bodies) {
  PARSE_FAILS(anthropic, "", "invalid_json");
  PARSE_FAILS(anthropic, "   ", "invalid_json");
  PARSE_FAILS(anthropic, "{\"content\":[]", "invalid_json");
  PARSE_FAILS(anthropic, "{\"content\":[]}}", "invalid_json");
  PARSE_FAILS(anthropic, "{\"content\":[]} {}", "invalid_json");
  PARSE_FAILS(anthropic, "<html>502</html>", "invalid_json");
  PARSE_FAILS(anthropic, "{\"content\":[]}\0", "invalid_json");
  PARSE_FAILS(anthropic,
              "{\"content\":[{\"type\":\"text\",\"text\":\"\xff\"}]}",
              "invalid_utf8");
  PARSE_FAILS(anthropic,
              "{\"content\":[{\"type\":\"text\",\"text\":\"\xed\xbf\xbf\"}]}",
              "invalid_utf8");
  parse_fails(anthropic, NULL, 0, "invalid_json");
}

Test(anthropic_response, escaped_nul_cuts_content) {
  chat_response r;

  PARSE_OK(anthropic,
           "{\"content\":[{\"type\":\"text\",\"text\":\"ab\\u0000cd\"},"
           "{\"type\":\"text\",\"text\":\"ef\"}]}",
           &r);
  cr_assert_str_eq(r.content, "abef");
  cr_assert_eq(r.content_len, 4);
  chat_response_free(&r);
}

Test(anthropic_response, error_in_200_is_provider_error) {
  static const struct {
    const char *body;
    chat_error_kind kind;
  } cases[] = {
      {"{\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\","
       "\"message\":\"Overloaded\"}}",
       CHAT_ERR_TRANSIENT},
      {"{\"type\":\"error\",\"error\":{\"type\":\"api_error\","
       "\"message\":\"x\"}}",
       CHAT_ERR_TRANSIENT},
      {"{\"type\":\"error\",\"error\":{\"type\":\"invalid_request_error\","
       "\"message\":\"x\"}}",
       CHAT_ERR_PERMANENT},
      {"{\"error\":{}}", CHAT_ERR_PERMANENT},
  };
  size_t i;

  for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
    parse_fails_as(anthropic, cases[i].body, strlen(cases[i].body),
                   "provider_error", cases[i].kind);
}

Test(anthropic_response, provider_error_fields) {
  static const char body[] = "{\"type\":\"error\",\"error\":{\"type\":"
                             "\"overloaded_error\",\"message\":"
                             "\"Overloaded\"}}";
  chat_response r;
  chat_error e;

  chat_error_init(&e);
  e.message = strdup("old"); /* freed, not leaked */
  cr_assert_eq(anthropic_parse_response(body, sizeof(body) - 1, 0, &r, &e), -1);
  cr_assert_str_eq(e.type, "overloaded_error");
  cr_assert_str_eq(e.message, "Overloaded");
  cr_assert_null(e.code);
  chat_error_free(&e);
}

Test(anthropic_response, every_prefix_fails_cleanly) {
  every_prefix_fails(anthropic, "anthropic/text_response.json");
  every_prefix_fails(anthropic, "anthropic/tool_use_response.json");
}

Test(anthropic_response, every_single_byte_corruption_is_handled) {
  every_corruption_is_handled(anthropic, "anthropic/tool_use_response.json");
}

Test(anthropic_response, five_megabyte_text) {
  chat_response r;

  parse_big_text(anthropic, "{\"content\":[{\"type\":\"text\",\"text\":\"",
                 "\"}],\"stop_reason\":\"max_tokens\"}", &r);
  cr_assert_eq(r.stop, CHAT_STOP_LENGTH);
  chat_response_free(&r);
}

/* --- Error bodies -------------------------------------------------------- */

Test(anthropic_error, not_found_404_vector) {
  chat_error e;

  error_vector(anthropic, "anthropic/error_404.json", 404, -1, &e);
  cr_assert_eq(e.kind, CHAT_ERR_PERMANENT);
  cr_assert_str_eq(e.reason, "http_error");
  cr_assert_eq(e.http_status, 404);
  cr_assert_str_eq(e.type, "not_found_error");
  cr_assert_str_eq(e.message, "The requested resource could not be found.");
  cr_assert_null(e.code);
  cr_assert_eq(e.retry_after_ms, -1);
  chat_error_free(&e);
}

Test(anthropic_error, overloaded_529_vector_is_transient) {
  chat_error e;

  error_vector(anthropic, "anthropic/error_529.json", 529, 2000, &e);
  cr_assert_eq(e.kind, CHAT_ERR_TRANSIENT);
  cr_assert_eq(e.http_status, 529);
  cr_assert_str_eq(e.type, "overloaded_error");
  cr_assert_str_eq(e.message, "Overloaded");
  cr_assert_eq(e.retry_after_ms, 2000);
  chat_error_free(&e);
}

Test(anthropic_error, rate_limit_429_is_transient) {
  static const char body[] = "{\"type\":\"error\",\"error\":{\"type\":"
                             "\"rate_limit_error\",\"message\":\"slow down\"}}";
  chat_error e;

  parse_error(anthropic, 429, body, sizeof(body) - 1, 30000, &e);
  cr_assert_eq(e.kind, CHAT_ERR_TRANSIENT);
  cr_assert_str_eq(e.type, "rate_limit_error");
  cr_assert_eq(e.retry_after_ms, 30000);
  chat_error_free(&e);
}

Test(anthropic_error, spend_limit_429_is_permanent) {
  static const char top[] =
      "{\"type\":\"error\",\"error\":{\"type\":\"rate_limit_error\","
      "\"message\":\"spend limit\"},\"details\":{\"error_code\":"
      "\"enforced_spend_limit_reached\"}}";
  static const char inner[] =
      "{\"type\":\"error\",\"error\":{\"type\":\"rate_limit_error\","
      "\"message\":\"spend limit\",\"details\":{\"error_code\":"
      "\"enforced_spend_limit_reached\"}}}";
  chat_error e;

  parse_error(anthropic, 429, top, sizeof(top) - 1, -1, &e);
  cr_assert_eq(e.kind, CHAT_ERR_PERMANENT);
  cr_assert_str_eq(e.code, "enforced_spend_limit_reached");
  chat_error_free(&e);
  parse_error(anthropic, 429, inner, sizeof(inner) - 1, -1, &e);
  cr_assert_eq(e.kind, CHAT_ERR_PERMANENT);
  cr_assert_str_eq(e.code, "enforced_spend_limit_reached");
  chat_error_free(&e);
}

Test(anthropic_error, status_table) {
  static const struct {
    long status;
    chat_error_kind kind;
  } cases[] = {
      {400, CHAT_ERR_PERMANENT}, {401, CHAT_ERR_PERMANENT},
      {402, CHAT_ERR_PERMANENT}, {403, CHAT_ERR_PERMANENT},
      {404, CHAT_ERR_PERMANENT}, {409, CHAT_ERR_TRANSIENT},
      {413, CHAT_ERR_PERMANENT}, {429, CHAT_ERR_TRANSIENT},
      {500, CHAT_ERR_TRANSIENT}, {504, CHAT_ERR_TRANSIENT},
      {529, CHAT_ERR_TRANSIENT}, {200, CHAT_ERR_PERMANENT},
      {0, CHAT_ERR_PERMANENT},
  };
  size_t i;

  for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    chat_error e;

    parse_error(anthropic, cases[i].status, "{}", 2, -1, &e);
    cr_assert_eq(e.kind, cases[i].kind, "status %ld", cases[i].status);
    cr_assert_str_eq(e.reason, "http_error");
    chat_error_free(&e);
  }
}

Test(anthropic_error, bodies_without_an_error_object) {
  static const char html[] = "  <html><body>Bad gateway</body></html>\n";
  static const char nul[] = "upstream\0hidden";
  static const char bad_utf8[] = "{\"error\":{\"type\":\"x\xff\"}}";
  chat_error e;
  char *big;

  parse_error(anthropic, 502, html, sizeof(html) - 1, -1, &e);
  cr_assert_str_eq(e.message, "<html><body>Bad gateway</body></html>");
  cr_assert_null(e.type);
  chat_error_free(&e);
  parse_error(anthropic, 413, "{\"type\":\"error\"}", 16, -1, &e);
  cr_assert_str_eq(e.message, "{\"type\":\"error\"}");
  chat_error_free(&e);
  parse_error(anthropic, 500, "", 0, -1, &e);
  cr_assert_str_eq(e.message, "HTTP 500 with an empty body");
  chat_error_free(&e);
  chat_error_init(&e);
  anthropic_parse_error(500, NULL, 0, -1, &e);
  cr_assert_str_eq(e.message, "HTTP 500 with an empty body");
  cr_assert_eq(e.kind, CHAT_ERR_TRANSIENT);
  chat_error_free(&e);
  parse_error(anthropic, 500, "\xff\xfe", 2, -1, &e);
  cr_assert_str_eq(e.message, "HTTP 500 with a body that is not text");
  chat_error_free(&e);
  parse_error(anthropic, 500, nul, sizeof(nul) - 1, -1, &e);
  cr_assert_str_eq(e.message, "upstream");
  chat_error_free(&e);
  /* A JSON error with invalid UTF-8 inside is not trusted as JSON. */
  parse_error(anthropic, 400, bad_utf8, sizeof(bad_utf8) - 1, -1, &e);
  cr_assert_null(e.type);
  cr_assert_str_eq(e.message, "HTTP 400 with a body that is not text");
  chat_error_free(&e);
  big = malloc(100000);
  cr_assert_not_null(big);
  memset(big, 'x', 100000);
  parse_error(anthropic, 500, big, 100000, -1, &e);
  cr_assert_eq(strlen(e.message), 512);
  chat_error_free(&e);
  free(big);
}

Test(anthropic_error, frees_what_err_held) {
  size_t len;
  char *body = fixture_load("anthropic/error_404.json", &len);
  chat_error e;

  chat_error_init(&e);
  e.type = strdup("a");
  e.code = strdup("b");
  e.message = strdup("c");
  anthropic_parse_error(404, body, len, -1, &e);
  cr_assert_str_eq(e.type, "not_found_error");
  chat_error_free(&e);
  free(body);
}

Test(anthropic_error, every_prefix_of_every_vector_is_handled) {
  every_error_prefix_is_handled(anthropic, "anthropic/error_404.json", 529,
                                CHAT_ERR_TRANSIENT);
  every_error_prefix_is_handled(anthropic, "anthropic/error_529.json", 529,
                                CHAT_ERR_TRANSIENT);
}
