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
#include "fixtures.h"
#include "ollama_codec.h"

/* --- Helpers ------------------------------------------------------------- */

static char *load(const char *name, size_t *len) {
  char path[256];
  char *data;

  snprintf(path, sizeof(path), "ollama/%s", name);
  data = fixture_read(path, len);
  cr_assert_not_null(data, "cannot read test/fixtures/%s", path);
  return data;
}

static chat_message msg(const char *role, const char *content) {
  chat_message m = {.role = role, .content = content,
                    .content_len = content ? strlen(content) : 0};

  return m;
}

static const cJSON *field(const cJSON *obj, const char *name) {
  return cJSON_GetObjectItemCaseSensitive(obj, name);
}

static const char *str_field(const cJSON *obj, const char *name) {
  const cJSON *v = field(obj, name);

  cr_assert(cJSON_IsString(v), "field %s is not a string", name);
  return v->valuestring;
}

static cJSON *build_and_parse(const chat_request *req) {
  size_t len = 0;
  char *body = ollama_build_request(req, &len);
  cJSON *root;

  cr_assert_not_null(body);
  cr_assert_eq(len, strlen(body));
  root = cJSON_ParseWithLength(body, len);
  cr_assert_not_null(root, "built body is not JSON: %s", body);
  free(body);
  return root;
}

static void parse_ok(const char *body, size_t len, chat_response *r) {
  char *copy = fixture_exact_copy(body, len);
  chat_error e;

  chat_error_init(&e);
  cr_assert_eq(ollama_parse_response(copy, len, r, &e), 0, "failed: %s",
               e.reason ? e.reason : "?");
  cr_assert_null(e.reason);
  cr_assert_not_null(r->content);
  free(copy);
  chat_error_free(&e);
}

static void parse_fails(const char *body, size_t len, const char *reason) {
  char *copy = fixture_exact_copy(body, len);
  chat_response r;
  chat_error e;

  chat_error_init(&e);
  cr_assert_eq(ollama_parse_response(copy, len, &r, &e), -1, "accepted: %.*s",
               (int)len, body);
  cr_assert_str_eq(e.reason, reason, "%.*s", (int)len, body);
  cr_assert_eq(e.kind, CHAT_ERR_PERMANENT);
  assert_response_empty(&r);
  cr_assert_eq(r.n_tool_calls, 0);
  free(copy);
  chat_error_free(&e);
}

#define PARSE_FAILS(lit, reason) parse_fails(lit, sizeof(lit) - 1, reason)

/* --- Request building ---------------------------------------------------- */

Test(ollama_request, matches_the_reference_vector) {
  size_t len;
  char *text = load("request.json", &len);
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
  built = build_and_parse(&req);
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
  chat_request req = {.model = "m", .messages = msgs, .n_messages = 1,
                      .has_temperature = 1, .temperature = 0.0};
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
  chat_request req = {.model = "m", .messages = msgs, .n_messages = 1,
                      .stream = 1, .logprobs = 1};
  cJSON *root = build_and_parse(&req);

  cr_assert(cJSON_IsTrue(field(root, "stream")));
  cr_assert_null(field(root, "stream_options"));
  cr_assert_null(field(root, "logprobs"));
  cJSON_Delete(root);
}

Test(ollama_request, tools_tool_calls_and_tool_results) {
  static const char params[] =
      "{\"type\":\"object\",\"properties\":{\"city\":{\"type\":\"string\"}}}";
  chat_tool tools[] = {{.name = "get_weather", .description = "Weather",
                        .parameters = params}};
  chat_tool_call calls[] = {
      {.id = "call_0", .name = "get_weather",
       .arguments = " {\"city\": \"Tokyo\"} ",
       .arguments_len = strlen(" {\"city\": \"Tokyo\"} ")},
      {.id = "call_1", .name = "get_weather"},
  };
  chat_message msgs[] = {
      msg("system", "Be brief."),
      msg("user", "Weather in Tokyo?"),
      {.role = "assistant", .tool_calls = calls, .n_tool_calls = 2},
      {.role = "tool", .content = "22C", .content_len = 3,
       .tool_call_id = "call_0", .tool_name = "get_weather"},
      {.role = "tool", .content = "?", .content_len = 1},
  };
  chat_request req = {.model = "llama3.2", .messages = msgs, .n_messages = 5,
                      .tools = tools, .n_tools = 1};
  cJSON *root = build_and_parse(&req);
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
  cr_assert_str_eq(str_field(field(field(c0, "function"), "arguments"),
                             "city"),
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
  cr_assert(cJSON_Compare(field(field(tool, "function"), "parameters"), want,
                          1));
  cJSON_Delete(want);
  cJSON_Delete(root);
}

Test(ollama_request, tool_choice_as_far_as_ollama_can) {
  chat_tool tools[] = {{.name = "a"}, {.name = "b"}};
  chat_message msgs[] = {msg("user", "x")};
  chat_request req = {.model = "m", .messages = msgs, .n_messages = 1,
                      .tools = tools, .n_tools = 2};
  static const char *const all[] = {NULL, "auto", "required"};
  cJSON *root;
  size_t i;

  for (i = 0; i < 3; i++) {
    req.tool_choice = all[i];
    root = build_and_parse(&req);
    cr_assert_eq(cJSON_GetArraySize(field(root, "tools")), 2);
    cr_assert_null(field(root, "tool_choice"));
    cJSON_Delete(root);
  }
  req.tool_choice = "none";
  root = build_and_parse(&req);
  cr_assert_null(field(root, "tools"));
  cJSON_Delete(root);
  req.tool_choice = "b";
  root = build_and_parse(&req);
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
  chat_request req = {.model = "m", .messages = msgs, .n_messages = 1,
                      .output_schema = schema, .output_schema_name = "v"};
  cJSON *root = build_and_parse(&req);
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

Test(ollama_request, invalid_requests_give_null) {
  chat_message good[] = {msg("user", "x")};
  chat_message bad_utf8[] = {msg("user", "caf\xc3")};
  chat_tool_call not_json[] = {{.id = "c", .name = "f",
                               .arguments = "{\"a\":"}};
  chat_tool_call not_object[] = {{.id = "c", .name = "f", .arguments = "[1]"}};
  chat_tool_call string_args[] = {{.id = "c", .name = "f",
                                   .arguments = "\"{}\""}};
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
      {.model = "m", .messages = good, .n_messages = 1, .tools = bad_params,
       .n_tools = 1},
      {.model = "m", .messages = good, .n_messages = 1, .tools = good_tool,
       .n_tools = 1, .tool_choice = "g"},
      {.model = "m", .messages = good, .n_messages = 1,
       .output_schema = "[]"},
      {.model = "m", .messages = good, .n_messages = 1,
       .output_schema = "{\"a\":"},
  };
  size_t i;

  for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    size_t len = 5;

    cr_assert_null(ollama_build_request(&cases[i], &len), "case %zu", i);
    cr_assert_eq(len, 0);
  }
  cr_assert_null(ollama_build_request(NULL, NULL));
}

/* --- Response parsing ---------------------------------------------------- */

Test(ollama_response, reference_vector) {
  size_t len;
  char *body = load("response.json", &len);
  chat_response r;

  parse_ok(body, len, &r);
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
  free(body);
}

Test(ollama_response, tool_call_vector) {
  size_t len;
  char *body = load("stream_tool_call.json", &len);
  chat_response r;

  parse_ok(body, len, &r);
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
  free(body);
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

    parse_ok(body, (size_t)n, &r);
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

  parse_ok(body, sizeof(body) - 1, &r);
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
  char *body = load("error_404.json", &len);
  chat_response r;
  chat_error e;

  chat_error_init(&e);
  cr_assert_eq(ollama_parse_response(body, len, &r, &e), -1);
  cr_assert_str_eq(e.reason, "provider_error");
  cr_assert_eq(e.kind, CHAT_ERR_TRANSIENT);
  cr_assert_str_eq(e.message, "model 'llama3.2' not found");
  assert_response_empty(&r);
  chat_error_free(&e);
  free(body);
}

Test(ollama_response, missing_structure_is_missing_field) {
  PARSE_FAILS("{}", "missing_field");
  PARSE_FAILS("{\"done\":true}", "missing_field");
  PARSE_FAILS("{\"message\":null}", "missing_field");
  PARSE_FAILS("{\"message\":\"hi\"}", "missing_field");
  PARSE_FAILS("{\"message\":[]}", "missing_field");
  PARSE_FAILS("{\"response\":\"hi\",\"done\":true}", "missing_field");
  PARSE_FAILS("{\"message\":{\"content\":5}}", "missing_field");
  PARSE_FAILS("{\"message\":{\"content\":[\"a\"]}}", "missing_field");
  PARSE_FAILS("{\"message\":{\"tool_calls\":{}}}", "missing_field");
  PARSE_FAILS("{\"message\":{\"tool_calls\":[1]}}", "missing_field");
  PARSE_FAILS("{\"message\":{\"tool_calls\":[{\"function\":{}}]}}",
              "missing_field");
  PARSE_FAILS("{\"message\":{\"tool_calls\":[{\"function\":{\"name\":\"f\","
              "\"arguments\":[]}}]}}",
              "missing_field");
  PARSE_FAILS("[]", "missing_field");
  PARSE_FAILS("null", "missing_field");
  PARSE_FAILS("{\"error\":null}", "missing_field");
}

Test(ollama_response, missing_and_null_content_are_empty) {
  static const char *bodies[] = {"{\"message\":{\"role\":\"assistant\"}}",
                                 "{\"message\":{\"content\":null}}"};
  size_t i;

  for (i = 0; i < 2; i++) {
    chat_response r;

    parse_ok(bodies[i], strlen(bodies[i]), &r);
    cr_assert_str_eq(r.content, "");
    chat_response_free(&r);
  }
}

Test(ollama_response, bad_bodies) {
  chat_response r;
  chat_error e;

  PARSE_FAILS("", "invalid_json");
  PARSE_FAILS("{", "invalid_json");
  PARSE_FAILS("{\"message\":{\"content\":\"a\"}}\n{\"done\":true}",
              "invalid_json");
  PARSE_FAILS("{\"message\":{\"content\":\"a\0\"}}", "invalid_json");
  PARSE_FAILS("{\"message\":{\"content\":\"\\ud800\"}}", "invalid_json");
  PARSE_FAILS("{\"message\":{\"content\":\"\xff\"}}", "invalid_utf8");
  PARSE_FAILS("{\"message\":{\"content\":\"\xe2\x82\"}}", "invalid_utf8");
  chat_error_init(&e);
  cr_assert_eq(ollama_parse_response(NULL, 0, &r, &e), -1);
  cr_assert_str_eq(e.reason, "invalid_json");
  chat_error_free(&e);
}

Test(ollama_response, every_prefix_of_the_vector_fails_cleanly) {
  size_t len, cut, end;
  char *body = load("response.json", &len);

  end = len;
  while (end > 0 && body[end - 1] != '}')
    end--;
  for (cut = 0; cut < end; cut++)
    parse_fails(body, cut, "invalid_json");
  free(body);
}

Test(ollama_response, every_single_byte_corruption_is_handled) {
  static const char bytes[] = {'"', '{', '}', '[', ']', ',', ':', '\\',
                               '\0', 'x', '\xff', '\x80'};
  size_t len, pos, k;
  char *body = load("stream_tool_call.json", &len);

  for (pos = 0; pos < len; pos++) {
    for (k = 0; k < sizeof(bytes); k++) {
      char *copy = fixture_exact_copy(body, len);
      chat_response r;
      chat_error e;

      copy[pos] = bytes[k];
      chat_error_init(&e);
      if (ollama_parse_response(copy, len, &r, &e) == 0) {
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

/* --- Error bodies (through the table) ------------------------------------ */

Test(ollama_error, not_found_vector) {
  size_t len;
  char *body = load("error_404.json", &len);
  chat_error e;

  chat_error_init(&e);
  chat_codec_ollama.parse_error(404, body, len, -1, &e);
  cr_assert_eq(e.kind, CHAT_ERR_PERMANENT);
  cr_assert_str_eq(e.reason, "http_error");
  cr_assert_eq(e.http_status, 404);
  cr_assert_str_eq(e.message, "model 'llama3.2' not found");
  cr_assert_null(e.type);
  cr_assert_null(e.code);
  cr_assert_eq(e.retry_after_ms, -1);
  chat_error_free(&e);
  free(body);
}

Test(ollama_error, statuses_from_errors_mdx) {
  static const struct {
    long status;
    chat_error_kind kind;
  } cases[] = {{400, CHAT_ERR_PERMANENT}, {404, CHAT_ERR_PERMANENT},
               {429, CHAT_ERR_TRANSIENT}, {500, CHAT_ERR_TRANSIENT},
               {502, CHAT_ERR_TRANSIENT}};
  static const char body[] = "{\"error\":\"boom\"}";
  size_t i;

  for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    chat_error e;

    chat_error_init(&e);
    chat_codec_ollama.parse_error(cases[i].status, body, sizeof(body) - 1, -1,
                                  &e);
    cr_assert_eq(e.kind, cases[i].kind, "status %ld", cases[i].status);
    cr_assert_str_eq(e.message, "boom");
    chat_error_free(&e);
  }
}

Test(ollama_error, plain_text_body) {
  static const char body[] = "404 page not found\n";
  chat_error e;

  chat_error_init(&e);
  chat_codec_ollama.parse_error(404, body, sizeof(body) - 1, -1, &e);
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
  chat_headers h;
  size_t i;

  for (i = 0; i < sizeof(urls) / sizeof(urls[0]); i++) {
    buf b;

    buf_init(&b, 0);
    ep.base_url = urls[i].base;
    cr_assert_eq(chat_codec_ollama.build_url(&ep, &b), 0);
    cr_assert_str_eq(b.data, urls[i].url);
    buf_free(&b);
  }
  {
    buf b;

    buf_init(&b, 0);
    ep.base_url = "http://x\n";
    cr_assert_eq(chat_codec_ollama.build_url(&ep, &b), -1);
    buf_free(&b);
  }

  chat_headers_init(&h);
  cr_assert_eq(chat_codec_ollama.build_headers(&ep, &h), 0);
  cr_assert_eq(h.n, 1);
  cr_assert_str_eq(h.lines[0], "Content-Type: application/json");
  chat_headers_free(&h);
  ep.api_key = "ok-key";
  ep.referer = "https://example.com";
  cr_assert_eq(chat_codec_ollama.build_headers(&ep, &h), 0);
  cr_assert_eq(h.n, 2);
  cr_assert_str_eq(h.lines[0], "Authorization: Bearer ok-key");
  cr_assert_str_eq(h.lines[1], "Content-Type: application/json");
  chat_headers_free(&h);

  cr_assert_eq(chat_codec_find("ollama"), &chat_codec_ollama);
  cr_assert_eq(chat_codec_ollama.framing, CHAT_FRAMING_NDJSON);
  cr_assert_eq(chat_codec_ollama.build_request, ollama_build_request);
  cr_assert_eq(chat_codec_ollama.parse_response, ollama_parse_response);
  cr_assert_eq(chat_codec_ollama.stream_event, ollama_stream_event);
}
