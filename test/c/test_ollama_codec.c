/* test_ollama_codec.c - unit tests for ollama_codec.c's non-streamed side:
 * request bodies are parsed back with cJSON and checked field by field
 * (and against api.md's request vector); responses and error bodies come
 * from test/fixtures/ollama plus hostile variants: truncated, wrong types,
 * non-UTF-8, NULs. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>
#include <criterion/criterion.h>

#include "buf.h"
#include "chat.h"
#include "codec.h"
#include "codec_test_util.h"
#include "fixtures.h"
#include "ollama_codec.h"

/* The codec under test, for the shared helpers (codec_test_util.h). */
static const chat_codec *const ollama = &chat_codec_ollama;

/* --- Request building ---------------------------------------------------- */

Test(ollama_request, matches_the_reference_vector) {
  size_t len;
  char *text = fixture_load("ollama/request.json", &len);
  cJSON *ref = cJSON_ParseWithLength(text, len);
  const cJSON *item, *options;
  chat_message msgs[4];
  size_t n = 0;
  cJSON *built;

  cr_assert_not_null(ref);
  cJSON_ArrayForEach(item, field(ref, "messages")) {
    cr_assert_lt(n, 4);
    msgs[n++] = msg(str_field(item, "role"), str_field(item, "content"));
  }
  options = field(ref, "options");
  chat_request req = {
      .model = str_field(ref, "model"),
      .messages = msgs,
      .n_messages = n,
      .has_temperature = 1,
      .temperature = field(options, "temperature")->valuedouble,
      .max_tokens = (long)field(options, "num_predict")->valuedouble,
  };
  built = build_and_parse(ollama, &req);
  cr_assert(cJSON_Compare(built, ref, 1));
  cJSON_Delete(built);
  cJSON_Delete(ref);
  free(text);
}

Test(ollama_request, exact_text_for_a_small_request) {
  chat_message msgs[] = {msg("user", "hi")};
  chat_request req = {.model = "m", .messages = msgs, .n_messages = 1};
  char *body = ollama_build_request(&req, NULL);

  cr_assert_not_null(body);
  /* No options at all when neither is set; stream false spelled out, since
   * Ollama streams by default. */
  cr_assert_str_eq(body, "{\"model\":\"m\",\"messages\":[{\"role\":\"user\","
                         "\"content\":\"hi\"}],\"stream\":false}");
  free(body);
}

Test(ollama_request, options_each_alone) {
  chat_message msgs[] = {msg("user", "x")};
  chat_request req = {.model = "m",
                      .messages = msgs,
                      .n_messages = 1,
                      .has_temperature = 1,
                      .temperature = 0.0};
  char *body = ollama_build_request(&req, NULL);

  cr_assert_not_null(body);
  cr_assert_not_null(strstr(body, ",\"options\":{\"temperature\":0},"), "%s",
                     body);
  free(body);
  req.has_temperature = 0;
  req.max_tokens = 77;
  body = ollama_build_request(&req, NULL);
  cr_assert_not_null(body);
  cr_assert_not_null(strstr(body, ",\"options\":{\"num_predict\":77},"), "%s",
                     body);
  free(body);
}

Test(ollama_request, stream_true) {
  chat_message msgs[] = {msg("user", "x")};
  chat_request req = {.model = "m",
                      .messages = msgs,
                      .n_messages = 1,
                      .stream = 1,
                      .logprobs = 1};
  cJSON *root = build_and_parse(ollama, &req);

  cr_assert(cJSON_IsTrue(field(root, "stream")));
  cr_assert_null(field(root, "stream_options"));
  cr_assert_null(field(root, "logprobs"));
  cJSON_Delete(root);
}

Test(ollama_request, tools_tool_calls_and_tool_results) {
  static const char params[] =
      "{\"type\":\"object\",\"properties\":{\"city\":{\"type\":\"string\"}}}";
  chat_tool tools[] = {
      {.name = "get_weather", .description = "Weather", .parameters = params}};
  chat_tool_call calls[] = {
      {.id = "call_0",
       .name = "get_weather",
       .arguments = " {\"city\": \"Tokyo\"} ",
       .arguments_len = strlen(" {\"city\": \"Tokyo\"} ")},
      {.id = "call_1", .name = "get_weather"},
  };
  chat_message msgs[] = {
      msg("system", "Be brief."),
      msg("user", "Weather in Tokyo?"),
      {.role = "assistant", .tool_calls = calls, .n_tool_calls = 2},
      {.role = "tool",
       .content = "22C",
       .content_len = 3,
       .tool_call_id = "call_0",
       .tool_name = "get_weather"},
      {.role = "tool", .content = "?", .content_len = 1},
  };
  chat_request req = {.model = "llama3.2",
                      .messages = msgs,
                      .n_messages = 5,
                      .tools = tools,
                      .n_tools = 1};
  cJSON *root = build_and_parse(ollama, &req);
  const cJSON *list = field(root, "messages");
  const cJSON *a = cJSON_GetArrayItem(list, 2);
  const cJSON *t = cJSON_GetArrayItem(list, 3);
  const cJSON *c0, *c1, *tool;
  cJSON *want;

  cr_assert_eq(cJSON_GetArraySize(list), 5);
  cr_assert_str_eq(str_field(a, "content"), "");
  c0 = cJSON_GetArrayItem(field(a, "tool_calls"), 0);
  c1 = cJSON_GetArrayItem(field(a, "tool_calls"), 1);
  cr_assert_str_eq(str_field(c0, "id"), "call_0");
  cr_assert_str_eq(str_field(field(c0, "function"), "name"), "get_weather");
  /* The arguments go out as an object, not as a string. */
  cr_assert(cJSON_IsObject(field(field(c0, "function"), "arguments")));
  cr_assert_str_eq(str_field(field(field(c0, "function"), "arguments"), "city"),
                   "Tokyo");
  cr_assert(cJSON_IsObject(field(field(c1, "function"), "arguments")));
  cr_assert_eq(cJSON_GetArraySize(field(field(c1, "function"), "arguments")),
               0);
  cr_assert_null(field(c0, "type"));

  cr_assert_str_eq(str_field(t, "tool_name"), "get_weather");
  cr_assert_str_eq(str_field(t, "tool_call_id"), "call_0");
  cr_assert_str_eq(str_field(t, "content"), "22C");
  cr_assert_eq(cJSON_GetArraySize(cJSON_GetArrayItem(list, 4)), 2);

  tool = cJSON_GetArrayItem(field(root, "tools"), 0);
  cr_assert_str_eq(str_field(tool, "type"), "function");
  cr_assert_str_eq(str_field(field(tool, "function"), "name"), "get_weather");
  cr_assert_str_eq(str_field(field(tool, "function"), "description"),
                   "Weather");
  want = cJSON_Parse(params);
  cr_assert(
      cJSON_Compare(field(field(tool, "function"), "parameters"), want, 1));
  cJSON_Delete(want);
  cJSON_Delete(root);
}

Test(ollama_request, tool_choice_as_far_as_ollama_can) {
  chat_tool tools[] = {{.name = "a"}, {.name = "b"}};
  chat_message msgs[] = {msg("user", "x")};
  chat_request req = {.model = "m",
                      .messages = msgs,
                      .n_messages = 1,
                      .tools = tools,
                      .n_tools = 2};
  static const char *const all[] = {NULL, "auto", "required"};
  cJSON *root;
  size_t i;

  for (i = 0; i < 3; i++) {
    req.tool_choice = all[i];
    root = build_and_parse(ollama, &req);
    cr_assert_eq(cJSON_GetArraySize(field(root, "tools")), 2);
    cr_assert_null(field(root, "tool_choice"));
    cJSON_Delete(root);
  }
  req.tool_choice = "none";
  root = build_and_parse(ollama, &req);
  cr_assert_null(field(root, "tools"));
  cJSON_Delete(root);
  req.tool_choice = "b";
  root = build_and_parse(ollama, &req);
  cr_assert_eq(cJSON_GetArraySize(field(root, "tools")), 1);
  cr_assert_str_eq(
      str_field(field(cJSON_GetArrayItem(field(root, "tools"), 0), "function"),
                "name"),
      "b");
  cJSON_Delete(root);
}

Test(ollama_request, output_schema_is_format) {
  static const char schema[] =
      "{\"type\": \"object\", \"properties\": {\"answer\": {\"type\": "
      "\"string\"}}, \"required\": [\"answer\"]}";
  chat_message msgs[] = {msg("user", "x")};
  chat_request req = {.model = "m",
                      .messages = msgs,
                      .n_messages = 1,
                      .output_schema = schema,
                      .output_schema_name = "v"};
  cJSON *root = build_and_parse(ollama, &req);
  cJSON *want = cJSON_Parse(schema);

  cr_assert(cJSON_Compare(field(root, "format"), want, 1));
  cr_assert_null(field(root, "response_format"));
  cJSON_Delete(want);
  cJSON_Delete(root);
}

Test(ollama_request, escapes_and_pointer_length_content) {
  static const char text[] = "q\"\\\n\x01 \xe2\x80\xa8 \xf0\x9f\x98\x80";
  char *raw = fixture_exact_copy("hello world", 5);
  chat_message msgs[] = {msg("user", text),
                         {.role = "user", .content = raw, .content_len = 5},
                         {.role = "user", .content = "a\0b", .content_len = 3}};
  chat_request req = {.model = "m", .messages = msgs, .n_messages = 3};
  size_t len;
  char *body = ollama_build_request(&req, &len);
  cJSON *root;

  cr_assert_not_null(body);
  cr_assert_null(memchr(body, '\n', len));
  cr_assert_not_null(strstr(body, "a\\u0000b"));
  root = cJSON_ParseWithLength(body, len);
  cr_assert_str_eq(
      str_field(cJSON_GetArrayItem(field(root, "messages"), 0), "content"),
      text);
  cr_assert_str_eq(
      str_field(cJSON_GetArrayItem(field(root, "messages"), 1), "content"),
      "hello");
  cJSON_Delete(root);
  free(body);
  free(raw);
}

Test(ollama_request, five_megabyte_content) { big_content_round_trips(ollama); }

Test(ollama_request, invalid_requests_give_null) {
  chat_message good[] = {msg("user", "x")};
  chat_message bad_utf8[] = {msg("user", "caf\xc3")};
  chat_tool_call not_json[] = {
      {.id = "c", .name = "f", .arguments = "{\"a\":"}};
  chat_tool_call not_object[] = {{.id = "c", .name = "f", .arguments = "[1]"}};
  chat_tool_call string_args[] = {
      {.id = "c", .name = "f", .arguments = "\"{}\""}};
  chat_tool_call no_id[] = {{.id = NULL, .name = "f"}};
  chat_message m_not_json[] = {
      {.role = "assistant", .tool_calls = not_json, .n_tool_calls = 1}};
  chat_message m_not_object[] = {
      {.role = "assistant", .tool_calls = not_object, .n_tool_calls = 1}};
  chat_message m_string_args[] = {
      {.role = "assistant", .tool_calls = string_args, .n_tool_calls = 1}};
  chat_message m_no_id[] = {
      {.role = "assistant", .tool_calls = no_id, .n_tool_calls = 1}};
  chat_tool bad_params[] = {{.name = "f", .parameters = "nope"}};
  chat_tool good_tool[] = {{.name = "f"}};
  const chat_request cases[] = {
      {.model = NULL, .messages = good, .n_messages = 1},
      {.model = "", .messages = good, .n_messages = 1},
      {.model = "m", .messages = good, .n_messages = 0},
      {.model = "m", .messages = bad_utf8, .n_messages = 1},
      {.model = "m", .messages = m_not_json, .n_messages = 1},
      {.model = "m", .messages = m_not_object, .n_messages = 1},
      {.model = "m", .messages = m_string_args, .n_messages = 1},
      {.model = "m", .messages = m_no_id, .n_messages = 1},
      {.model = "m",
       .messages = good,
       .n_messages = 1,
       .tools = bad_params,
       .n_tools = 1},
      {.model = "m",
       .messages = good,
       .n_messages = 1,
       .tools = good_tool,
       .n_tools = 1,
       .tool_choice = "g"},
      {.model = "m", .messages = good, .n_messages = 1, .output_schema = "[]"},
      {.model = "m",
       .messages = good,
       .n_messages = 1,
       .output_schema = "{\"a\":"},
  };

  BUILD_REFUSES(ollama, cases);
}

/* --- Response parsing ---------------------------------------------------- */

Test(ollama_response, reference_vector) {
  chat_response r;

  parse_vector(ollama, "ollama/response.json", &r);
  cr_assert_str_eq(r.content, "Hello! How are you today?");
  cr_assert_eq(r.content_len, strlen("Hello! How are you today?"));
  cr_assert_str_eq(r.model, "llama3.2");
  cr_assert_null(r.finish_reason); /* the vector has no done_reason */
  cr_assert_eq(r.stop, CHAT_STOP_NONE);
  cr_assert_eq(r.input_tokens, 26);
  cr_assert_eq(r.output_tokens, 298);
  cr_assert_eq(r.n_tool_calls, 0);
  cr_assert_eq(r.has_cost, 0);
  chat_response_free(&r);
}

Test(ollama_response, tool_call_vector) {
  chat_response r;

  parse_vector(ollama, "ollama/stream_tool_call.json", &r);
  cr_assert_str_eq(r.content, "");
  cr_assert_eq(r.n_tool_calls, 1);
  cr_assert_str_eq(r.tool_calls[0].id, "call_0");
  cr_assert_str_eq(r.tool_calls[0].name, "get_weather");
  cr_assert_str_eq(r.tool_calls[0].arguments, "{\"city\":\"Tokyo\"}");
  cr_assert_eq(r.tool_calls[0].arguments_len, strlen("{\"city\":\"Tokyo\"}"));
  cr_assert_eq(r.stop, CHAT_STOP_TOOL_CALLS);
  /* done is false here: no counts. */
  cr_assert_eq(r.input_tokens, -1);
  cr_assert_eq(r.output_tokens, -1);
  chat_response_free(&r);
}

Test(ollama_response, done_reasons_and_counts) {
  static const struct {
    const char *tail;
    const char *raw;
    chat_stop stop;
    long in, out;
  } cases[] = {
      {"\"done\":true,\"done_reason\":\"stop\",\"prompt_eval_count\":5,"
       "\"eval_count\":6",
       "stop", CHAT_STOP_END, 5, 6},
      {"\"done\":true,\"done_reason\":\"length\"", "length", CHAT_STOP_LENGTH,
       0, 0},
      {"\"done\":true,\"done_reason\":\"load\"", "load", CHAT_STOP_OTHER, 0, 0},
      {"\"done\":true,\"done_reason\":\"unload\",\"eval_count\":3", "unload",
       CHAT_STOP_OTHER, 0, 3},
      {"\"done\":true,\"done_reason\":null,\"eval_count\":\"3\"", NULL,
       CHAT_STOP_NONE, 0, -1},
      {"\"done\":false,\"eval_count\":2", NULL, CHAT_STOP_NONE, -1, 2},
      {"\"done\":\"yes\"", NULL, CHAT_STOP_NONE, -1, -1},
  };
  size_t i;

  for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    char body[256];
    chat_response r;
    int n = snprintf(body, sizeof(body),
                     "{\"model\":\"m\",\"message\":{\"role\":\"assistant\","
                     "\"content\":\"x\"},%s}",
                     cases[i].tail);

    parse_ok(ollama, body, (size_t)n, &r);
    if (cases[i].raw == NULL)
      cr_assert_null(r.finish_reason, "%s", cases[i].tail);
    else
      cr_assert_str_eq(r.finish_reason, cases[i].raw);
    cr_assert_eq(r.stop, cases[i].stop, "%s", cases[i].tail);
    cr_assert_eq(r.input_tokens, cases[i].in, "%s", cases[i].tail);
    cr_assert_eq(r.output_tokens, cases[i].out, "%s", cases[i].tail);
    chat_response_free(&r);
  }
}

Test(ollama_response, several_tool_calls) {
  static const char body[] =
      "{\"message\":{\"role\":\"assistant\",\"content\":\"\",\"tool_calls\":["
      "{\"id\":\"call_x\",\"function\":{\"index\":0,\"name\":\"a\","
      "\"arguments\":{\"n\":[1,{\"k\":\"\\u00e9\"}]}}},"
      "{\"function\":{\"index\":1,\"name\":\"b\"}},"
      "{\"function\":{\"name\":\"c\",\"arguments\":\"{\\\"s\\\":1}\"}}"
      "]},\"done\":true,\"done_reason\":\"stop\"}";
  chat_response r;

  parse_ok(ollama, body, sizeof(body) - 1, &r);
  cr_assert_eq(r.n_tool_calls, 3);
  cr_assert_str_eq(r.tool_calls[0].id, "call_x");
  cr_assert_str_eq(r.tool_calls[0].arguments,
                   "{\"n\":[1,{\"k\":\"\xc3\xa9\"}]}");
  cr_assert_str_eq(r.tool_calls[1].id, "call_1");
  cr_assert_str_eq(r.tool_calls[1].arguments, "{}");
  cr_assert_str_eq(r.tool_calls[2].id, "call_2");
  cr_assert_str_eq(r.tool_calls[2].arguments, "{\"s\":1}");
  cr_assert_eq(r.stop, CHAT_STOP_TOOL_CALLS);
  cr_assert_str_eq(r.finish_reason, "stop");
  chat_response_free(&r);
}

Test(ollama_response, error_in_200_is_transient_provider_error) {
  size_t len;
  char *body = fixture_load("ollama/error_404.json", &len);
  chat_response r;
  chat_error e;

  chat_error_init(&e);
  cr_assert_eq(ollama_parse_response(body, len, 0, &r, &e), -1);
  cr_assert_str_eq(e.reason, "provider_error");
  cr_assert_eq(e.kind, CHAT_ERR_TRANSIENT);
  cr_assert_str_eq(e.message, "model 'llama3.2' not found");
  assert_response_empty(&r);
  chat_error_free(&e);
  free(body);
}

Test(ollama_response, missing_structure_is_missing_field) {
  PARSE_FAILS(ollama, "{}", "missing_field");
  PARSE_FAILS(ollama, "{\"done\":true}", "missing_field");
  PARSE_FAILS(ollama, "{\"message\":null}", "missing_field");
  PARSE_FAILS(ollama, "{\"message\":\"hi\"}", "missing_field");
  PARSE_FAILS(ollama, "{\"message\":[]}", "missing_field");
  PARSE_FAILS(ollama, "{\"response\":\"hi\",\"done\":true}", "missing_field");
  PARSE_FAILS(ollama, "{\"message\":{\"content\":5}}", "missing_field");
  PARSE_FAILS(ollama, "{\"message\":{\"content\":[\"a\"]}}", "missing_field");
  PARSE_FAILS(ollama, "{\"message\":{\"tool_calls\":{}}}", "missing_field");
  PARSE_FAILS(ollama, "{\"message\":{\"tool_calls\":[1]}}", "missing_field");
  PARSE_FAILS(ollama, "{\"message\":{\"tool_calls\":[{\"function\":{}}]}}",
              "missing_field");
  PARSE_FAILS(ollama,
              "{\"message\":{\"tool_calls\":[{\"function\":{\"name\":\"f\","
              "\"arguments\":[]}}]}}",
              "missing_field");
  PARSE_FAILS(ollama, "[]", "missing_field");
  PARSE_FAILS(ollama, "null", "missing_field");
  PARSE_FAILS(ollama, "{\"error\":null}", "missing_field");
}

Test(ollama_response, missing_and_null_content_are_empty) {
  static const char *bodies[] = {"{\"message\":{\"role\":\"assistant\"}}",
                                 "{\"message\":{\"content\":null}}"};
  size_t i;

  for (i = 0; i < 2; i++) {
    chat_response r;

    parse_ok(ollama, bodies[i], strlen(bodies[i]), &r);
    cr_assert_str_eq(r.content, "");
    chat_response_free(&r);
  }
}

Test(ollama_response, bad_bodies) {
  chat_response r;
  chat_error e;

  PARSE_FAILS(ollama, "", "invalid_json");
  PARSE_FAILS(ollama, "{", "invalid_json");
  PARSE_FAILS(ollama, "{\"message\":{\"content\":\"a\"}}\n{\"done\":true}",
              "invalid_json");
  PARSE_FAILS(ollama, "{\"message\":{\"content\":\"a\0\"}}", "invalid_json");
  PARSE_FAILS(ollama, "{\"message\":{\"content\":\"\\ud800\"}}",
              "invalid_json");
  PARSE_FAILS(ollama, "{\"message\":{\"content\":\"\xff\"}}", "invalid_utf8");
  PARSE_FAILS(ollama, "{\"message\":{\"content\":\"\xe2\x82\"}}",
              "invalid_utf8");
  chat_error_init(&e);
  cr_assert_eq(ollama_parse_response(NULL, 0, 0, &r, &e), -1);
  cr_assert_str_eq(e.reason, "invalid_json");
  chat_error_free(&e);
}

Test(ollama_response, every_prefix_of_the_vector_fails_cleanly) {
  every_prefix_fails(ollama, "ollama/response.json");
}

Test(ollama_response, every_single_byte_corruption_is_handled) {
  every_corruption_is_handled(ollama, "ollama/stream_tool_call.json");
}

/* --- Error bodies (through the table) ------------------------------------ */

Test(ollama_error, not_found_vector) {
  chat_error e;

  error_vector(ollama, "ollama/error_404.json", 404, -1, &e);
  cr_assert_eq(e.kind, CHAT_ERR_PERMANENT);
  cr_assert_str_eq(e.message, "model 'llama3.2' not found");
  cr_assert_null(e.type);
  cr_assert_null(e.code);
  cr_assert_eq(e.retry_after_ms, -1);
  chat_error_free(&e);
}

Test(ollama_error, statuses_from_errors_mdx) {
  static const struct {
    long status;
    chat_error_kind kind;
  } cases[] = {{400, CHAT_ERR_PERMANENT},
               {404, CHAT_ERR_PERMANENT},
               {429, CHAT_ERR_TRANSIENT},
               {500, CHAT_ERR_TRANSIENT},
               {502, CHAT_ERR_TRANSIENT}};
  static const char body[] = "{\"error\":\"boom\"}";
  size_t i;

  for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    chat_error e;

    parse_error(ollama, cases[i].status, body, sizeof(body) - 1, -1, &e);
    cr_assert_eq(e.kind, cases[i].kind, "status %ld", cases[i].status);
    cr_assert_str_eq(e.message, "boom");
    chat_error_free(&e);
  }
}

Test(ollama_error, plain_text_body) {
  static const char body[] = "404 page not found\n";
  chat_error e;

  parse_error(ollama, 404, body, sizeof(body) - 1, -1, &e);
  cr_assert_str_eq(e.message, "404 page not found");
  chat_error_free(&e);
}

/* --- Endpoint and table --------------------------------------------------- */

Test(ollama_endpoint, url_headers_and_table) {
  static const struct {
    const char *base, *url;
  } urls[] = {{NULL, "http://localhost:11434/api/chat"},
              {"", "http://localhost:11434/api/chat"},
              {"http://gpu-box:11434/", "http://gpu-box:11434/api/chat"},
              {"https://ollama.com", "https://ollama.com/api/chat"}};
  chat_endpoint ep = {0};
  size_t i;

  for (i = 0; i < sizeof(urls) / sizeof(urls[0]); i++) {
    ep.base_url = urls[i].base;
    assert_url(ollama, &ep, urls[i].url);
  }
  ep.base_url = "http://x\n";
  assert_url(ollama, &ep, NULL);

  ASSERT_HEADERS(ollama, &ep, "Content-Type: application/json");
  ep.api_key = "ok-key";
  ep.referer = "https://example.com";
  ASSERT_HEADERS(ollama, &ep, "Authorization: Bearer ok-key",
                 "Content-Type: application/json");

  cr_assert_eq(codec_find("ollama"), &chat_codec_ollama);
  cr_assert_eq(chat_codec_ollama.framing, CHAT_FRAMING_NDJSON);
  cr_assert_eq(chat_codec_ollama.build_request, ollama_build_request);
  cr_assert_eq(chat_codec_ollama.parse_response, ollama_parse_response);
  cr_assert_eq(chat_codec_ollama.stream_event, ollama_stream_event);
}
