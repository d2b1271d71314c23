/* test_gemini_codec.c - unit tests for gemini_codec.c (all but the stream
 * chunks, which test_anthropic_gemini_streams.c covers): request
 * bodies are parsed back with cJSON and compared; responses and error
 * bodies come from test/fixtures/gemini (vectors from the provider docs and
 * Google's SDK test data) plus hostile variants. */
#include <math.h>
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
#include "gemini_codec.h"

/* The codec under test, for the shared helpers (codec_test_util.h). */
static const chat_codec *const gemini = &chat_codec_gemini;

/* --- Table, URL and headers ---------------------------------------------- */

Test(gemini_codec, is_registered) {
  const chat_codec *c = codec_find("gemini");

  cr_assert_eq(c, &chat_codec_gemini);
  cr_assert_str_eq(c->name, "gemini");
  cr_assert_eq(c->framing, CHAT_FRAMING_SSE);
  cr_assert_eq(c->build_url, gemini_build_url);
  cr_assert_eq(c->build_headers, gemini_build_headers);
  cr_assert_eq(c->build_request, gemini_build_request);
  cr_assert_eq(c->parse_response, gemini_parse_response);
  cr_assert_eq(c->parse_error, gemini_parse_error);
  cr_assert_eq(c->stream_event, gemini_stream_event);
  cr_assert_null(codec_find("Gemini"));
}

Test(gemini_codec, urls) {
  static const struct {
    const char *base, *model;
    int stream;
    const char *url;
  } cases[] = {
      {NULL, "gemini-2.0-flash", 0,
       "https://generativelanguage.googleapis.com/v1beta/models/"
       "gemini-2.0-flash:generateContent"},
      {NULL, "gemini-2.0-flash", 1,
       "https://generativelanguage.googleapis.com/v1beta/models/"
       "gemini-2.0-flash:streamGenerateContent?alt=sse"},
      {"http://127.0.0.1:9/v1beta/", "models/gemini-2.5-pro", 0,
       "http://127.0.0.1:9/v1beta/models/gemini-2.5-pro:generateContent"},
      {"http://h", "a/b?c#d e:f%g~h_i.j", 0,
       "http://h/models/a%2Fb%3Fc%23d%20e%3Af%25g~h_i.j:generateContent"},
      {"http://h", "../x", 1,
       "http://h/models/..%2Fx:streamGenerateContent?alt=sse"},
      {"http://h", "caf\xc3\xa9\r\n", 0,
       "http://h/models/caf%C3%A9%0D%0A:generateContent"},
  };
  size_t i;

  for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    chat_endpoint ep = {.base_url = cases[i].base,
                        .model = cases[i].model,
                        .stream = cases[i].stream};

    assert_url(gemini, &ep, cases[i].url);
  }
}

Test(gemini_codec, url_needs_a_model_and_a_clean_base) {
  static const struct {
    const char *base, *model;
  } cases[] = {
      {NULL, NULL},        {NULL, ""},          {NULL, "models/"},
      {"http://a b", "m"}, {"http://a\n", "m"},
  };
  size_t i;

  for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    chat_endpoint ep = {.base_url = cases[i].base, .model = cases[i].model};

    assert_url(gemini, &ep, NULL);
  }
}

Test(gemini_codec, headers) {
  chat_endpoint ep = {.api_key = "AIza-key", .model = "m"};

  ASSERT_HEADERS(gemini, &ep, "x-goog-api-key: AIza-key",
                 "content-type: application/json");
  ep.api_key = NULL;
  ASSERT_HEADERS(gemini, &ep, "content-type: application/json");
  ep.api_key = "k\nx";
  assert_headers(gemini, &ep, NULL, 0);
}

/* --- Request building ---------------------------------------------------- */

Test(gemini_request, matches_the_reference_vector) {
  size_t len;
  char *text = fixture_load("gemini/request.json", &len);
  cJSON *ref = cJSON_ParseWithLength(text, len);
  const cJSON *sys, *user, *gen;
  chat_message msgs[2];
  chat_request req = {0};
  char *schema;
  cJSON *built;

  cr_assert_not_null(ref);
  sys = cJSON_GetArrayItem(field(field(ref, "systemInstruction"), "parts"), 0);
  user = cJSON_GetArrayItem(
      field(cJSON_GetArrayItem(field(ref, "contents"), 0), "parts"), 0);
  gen = field(ref, "generationConfig");
  msgs[0] = msg("system", field(sys, "text")->valuestring);
  msgs[1] = msg("user", field(user, "text")->valuestring);
  schema = cJSON_PrintUnformatted(field(gen, "responseJsonSchema"));
  req.model = "gemini-2.5-flash";
  req.messages = msgs;
  req.n_messages = 2;
  req.has_temperature = 1;
  req.temperature = field(gen, "temperature")->valuedouble;
  req.max_tokens = (long)field(gen, "maxOutputTokens")->valuedouble;
  req.output_schema = schema;
  built = build_and_parse(gemini, &req);
  /* The whole body: the model is in the URL, not here. */
  cr_assert(cJSON_Compare(built, ref, 1));
  cJSON_Delete(built);
  cJSON_Delete(ref);
  free(schema);
  free(text);
}

Test(gemini_request, exact_text_for_a_small_request) {
  chat_message msgs[] = {msg("user", "hi")};
  chat_request req = {.model = "m", .messages = msgs, .n_messages = 1};
  char *body = gemini_build_request(&req, NULL);

  cr_assert_not_null(body);
  cr_assert_str_eq(body, "{\"contents\":[{\"role\":\"user\",\"parts\":"
                         "[{\"text\":\"hi\"}]}]}");
  free(body);
}

Test(gemini_request, generation_config_fields) {
  chat_message msgs[] = {msg("user", "x")};
  chat_request req = {.model = "m",
                      .messages = msgs,
                      .n_messages = 1,
                      .has_temperature = 1,
                      .temperature = 0.0,
                      .max_tokens = 100,
                      .logprobs = 1,
                      .stream = 1};
  cJSON *root = build_and_parse(gemini, &req);

  assert_prints(field(root, "generationConfig"),
                "{\"temperature\":0,\"maxOutputTokens\":100,"
                "\"responseLogprobs\":true}");
  /* streaming is chosen by the URL, not the body */
  cr_assert_null(field(root, "stream"));
  cJSON_Delete(root);

  req.has_temperature = 0;
  req.max_tokens = -3;
  req.logprobs = 0;
  root = build_and_parse(gemini, &req);
  cr_assert_null(field(root, "generationConfig"));
  cr_assert_eq(cJSON_GetArraySize(root), 1);
  cJSON_Delete(root);
}

Test(gemini_request, system_instruction_parts) {
  chat_message msgs[] = {msg("system", "A"), msg("user", "q"),
                         msg("system", ""), msg("system", "B")};
  chat_message no_sys[] = {msg("system", ""), msg("user", "q")};
  chat_request req = {.model = "m", .messages = msgs, .n_messages = 4};
  cJSON *root = build_and_parse(gemini, &req);

  assert_prints(field(root, "systemInstruction"),
                "{\"parts\":[{\"text\":\"A\"},{\"text\":\"B\"}]}");
  assert_prints(field(root, "contents"),
                "[{\"role\":\"user\",\"parts\":[{\"text\":\"q\"}]}]");
  cJSON_Delete(root);
  req.messages = no_sys;
  req.n_messages = 2;
  root = build_and_parse(gemini, &req);
  cr_assert_null(field(root, "systemInstruction"));
  cJSON_Delete(root);
}

Test(gemini_request, turns_calls_and_results) {
  chat_tool_call calls[] = {
      {.id = "call_0",
       .name = "get_weather",
       .arguments = "{ \"city\" : \"Paris\" }",
       .arguments_len = strlen("{ \"city\" : \"Paris\" }")},
      {.id = "call_1", .name = "now"},
  };
  chat_message msgs[] = {
      msg("user", "Weather and time?"),
      {.role = "assistant", .tool_calls = calls, .n_tool_calls = 2},
      {.role = "tool",
       .content = "{\"temp\": 18, \"unit\": \"C\"}",
       .content_len = strlen("{\"temp\": 18, \"unit\": \"C\"}"),
       .tool_name = "get_weather",
       .tool_call_id = "call_0"},
      {.role = "tool",
       .content = "12:00",
       .content_len = 5,
       .tool_name = "now"},
      msg("assistant", "18C at noon."),
      msg("user", "And tomorrow?"),
      {.role = "assistant",
       .content = "Let me see.",
       .content_len = 11,
       .tool_calls = calls,
       .n_tool_calls = 1},
      {.role = "tool",
       .content = "[1,2]",
       .content_len = 5,
       .tool_name = "get_weather"},
      {.role = "tool", .content = "", .content_len = 0, .tool_name = "now"},
      msg("assistant", ""),
  };
  chat_request req = {.model = "m", .messages = msgs, .n_messages = 10};
  cJSON *root = build_and_parse(gemini, &req);

  assert_prints(
      field(root, "contents"),
      "[{\"role\":\"user\",\"parts\":[{\"text\":\"Weather and time?\"}]},"
      "{\"role\":\"model\",\"parts\":["
      "{\"functionCall\":{\"name\":\"get_weather\",\"args\":"
      "{\"city\":\"Paris\"}}},"
      "{\"functionCall\":{\"name\":\"now\",\"args\":{}}}]},"
      "{\"role\":\"user\",\"parts\":["
      "{\"functionResponse\":{\"name\":\"get_weather\",\"response\":"
      "{\"temp\":18,\"unit\":\"C\"}}},"
      "{\"functionResponse\":{\"name\":\"now\",\"response\":"
      "{\"output\":\"12:00\"}}}]},"
      "{\"role\":\"model\",\"parts\":[{\"text\":\"18C at noon.\"}]},"
      "{\"role\":\"user\",\"parts\":[{\"text\":\"And tomorrow?\"}]},"
      "{\"role\":\"model\",\"parts\":[{\"text\":\"Let me see.\"},"
      "{\"functionCall\":{\"name\":\"get_weather\",\"args\":"
      "{\"city\":\"Paris\"}}}]},"
      "{\"role\":\"user\",\"parts\":["
      "{\"functionResponse\":{\"name\":\"get_weather\",\"response\":"
      "{\"output\":\"[1,2]\"}}},"
      "{\"functionResponse\":{\"name\":\"now\",\"response\":"
      "{\"output\":\"\"}}}]},"
      "{\"role\":\"model\",\"parts\":[{\"text\":\"\"}]}]");
  cJSON_Delete(root);
}

Test(gemini_request, tools_and_tool_config) {
  chat_tool tools[] = {
      {.name = "get_weather",
       .description = "Weather",
       .parameters = "{\"type\":\"object\",\"properties\":{\"city\":"
                     "{\"type\":\"string\"}},\"additionalProperties\":false}"},
      {.name = "now"},
  };
  static const struct {
    const char *choice;
    const char *json; /* NULL: no toolConfig */
  } choices[] = {
      {NULL, NULL},
      {"auto", "{\"functionCallingConfig\":{\"mode\":\"AUTO\"}}"},
      {"required", "{\"functionCallingConfig\":{\"mode\":\"ANY\"}}"},
      {"none", "{\"functionCallingConfig\":{\"mode\":\"NONE\"}}"},
      {"now", "{\"functionCallingConfig\":{\"mode\":\"ANY\","
              "\"allowedFunctionNames\":[\"now\"]}}"},
  };
  chat_message msgs[] = {msg("user", "x")};
  size_t i;

  for (i = 0; i < sizeof(choices) / sizeof(choices[0]); i++) {
    chat_request req = {.model = "m",
                        .messages = msgs,
                        .n_messages = 1,
                        .tools = tools,
                        .n_tools = 2,
                        .tool_choice = choices[i].choice};
    cJSON *root = build_and_parse(gemini, &req);

    assert_prints(field(root, "tools"),
                  "[{\"functionDeclarations\":["
                  "{\"name\":\"get_weather\",\"description\":\"Weather\","
                  "\"parametersJsonSchema\":{\"type\":\"object\","
                  "\"properties\":{\"city\":{\"type\":\"string\"}},"
                  "\"additionalProperties\":false}},"
                  "{\"name\":\"now\"}]}]");
    if (choices[i].json == NULL)
      cr_assert_null(field(root, "toolConfig"));
    else
      assert_prints(field(root, "toolConfig"), choices[i].json);
    cJSON_Delete(root);
  }
}

Test(gemini_request, tool_choice_without_tools) {
  chat_message msgs[] = {msg("user", "x")};
  chat_request req = {
      .model = "m", .messages = msgs, .n_messages = 1, .tool_choice = "none"};
  cJSON *root = build_and_parse(gemini, &req);

  cr_assert_null(field(root, "toolConfig"));
  cJSON_Delete(root);
  req.tool_choice = "required";
  cr_assert_null(gemini_build_request(&req, NULL));
}

Test(gemini_request, escapes_and_nul) {
  static const char text[] = "a\"\\\n\x1f\xe2\x80\xa9\0b";
  chat_message msgs[] = {
      {.role = "user", .content = text, .content_len = sizeof(text) - 1}};
  chat_request req = {.model = "m", .messages = msgs, .n_messages = 1};
  size_t len;
  char *body = gemini_build_request(&req, &len);

  cr_assert_not_null(body);
  cr_assert_eq(strlen(body), len);
  cr_assert_not_null(strstr(body, "{\"text\":\"a\\\"\\\\\\n\\u001f\\u2029"
                                  "\\u0000b\"}"),
                     "%s", body);
  free(body);
}

Test(gemini_request, invalid_requests_give_null) {
  chat_message good[] = {msg("user", "x")};
  chat_message only_system[] = {msg("system", "x"), msg("system", "y")};
  chat_message bad_utf8[] = {msg("user", "\xe0\x80\x80")};
  chat_message bad_role[] = {msg("model", "x")};
  chat_tool_call no_name[] = {{.id = "i", .arguments = "{}"}};
  chat_tool_call bad_args[] = {{.name = "f", .arguments = "[]"}};
  chat_message call_no_name[] = {
      {.role = "assistant", .tool_calls = no_name, .n_tool_calls = 1}};
  chat_message call_bad[] = {
      {.role = "assistant", .tool_calls = bad_args, .n_tool_calls = 1}};
  chat_message calls_null[] = {{.role = "assistant", .n_tool_calls = 1}};
  chat_message result_no_name[] = {{.role = "tool",
                                    .content = "x",
                                    .content_len = 1,
                                    .tool_call_id = "call_0"}};
  chat_message result_bad[] = {
      {.role = "tool", .content = "\xff", .content_len = 1, .tool_name = "f"}};
  chat_tool bad_schema[] = {{.name = "t", .parameters = "{"}};
  chat_tool no_name_tool[] = {{.name = ""}};
  chat_tool fine[] = {{.name = "t"}};
  const chat_request cases[] = {
      {.model = NULL, .messages = good, .n_messages = 1},
      {.model = "", .messages = good, .n_messages = 1},
      {.model = "m", .messages = good, .n_messages = 0},
      {.model = "m", .messages = only_system, .n_messages = 2},
      {.model = "m", .messages = bad_utf8, .n_messages = 1},
      {.model = "m", .messages = bad_role, .n_messages = 1},
      {.model = "m", .messages = call_no_name, .n_messages = 1},
      {.model = "m", .messages = call_bad, .n_messages = 1},
      {.model = "m", .messages = calls_null, .n_messages = 1},
      {.model = "m", .messages = result_no_name, .n_messages = 1},
      {.model = "m", .messages = result_bad, .n_messages = 1},
      {.model = "m",
       .messages = good,
       .n_messages = 1,
       .tools = bad_schema,
       .n_tools = 1},
      {.model = "m",
       .messages = good,
       .n_messages = 1,
       .tools = no_name_tool,
       .n_tools = 1},
      {.model = "m",
       .messages = good,
       .n_messages = 1,
       .tools = fine,
       .n_tools = 1,
       .tool_choice = "missing"},
      {.model = "m", .messages = good, .n_messages = 1, .output_schema = "[]"},
      {.model = "m",
       .messages = good,
       .n_messages = 1,
       .has_temperature = 1,
       .temperature = INFINITY},
  };

  BUILD_REFUSES(gemini, cases);
}

/* --- Response parsing ---------------------------------------------------- */

Test(gemini_response, text_vector) {
  chat_response r;

  parse_vector(gemini, "gemini/text_response.json", &r);
  cr_assert_str_eq(r.content, "Google's headquarters, also known as the "
                              "Googleplex, is located in **Mountain View, "
                              "California**.\n");
  cr_assert_str_eq(r.model, "gemini-2.0-flash");
  cr_assert_str_eq(r.finish_reason, "STOP");
  cr_assert_eq(r.stop, CHAT_STOP_END);
  cr_assert_eq(r.input_tokens, 7);
  cr_assert_eq(r.output_tokens, 22);
  cr_assert(r.has_logprob);
  cr_assert_float_eq(r.logprob, -0.048741644079034981, 1e-15);
  cr_assert_eq(r.n_tool_calls, 0);
  chat_response_free(&r);
}

Test(gemini_response, function_call_vector) {
  chat_response r;

  parse_vector(gemini, "gemini/function_call_response.json", &r);
  cr_assert_str_eq(r.content, ""); /* the thought summary is left out */
  cr_assert_str_eq(r.model, "gemini-2.5-pro");
  cr_assert_str_eq(r.finish_reason, "STOP");
  cr_assert_eq(r.stop, CHAT_STOP_TOOL_CALLS);
  cr_assert_eq(r.n_tool_calls, 1);
  cr_assert_str_eq(r.tool_calls[0].id, "call_0");
  cr_assert_str_eq(r.tool_calls[0].name, "now");
  cr_assert_str_eq(r.tool_calls[0].arguments, "{}");
  cr_assert_eq(r.tool_calls[0].arguments_len, 2);
  cr_assert_eq(r.input_tokens, 38);
  cr_assert_eq(r.output_tokens, 8 + 501); /* thoughts count as output */
  cr_assert_not(r.has_logprob);
  chat_response_free(&r);
}

Test(gemini_response, text_and_several_calls) {
  chat_response r;

  PARSE_OK(gemini,
           "{\"candidates\":[{\"content\":{\"role\":\"model\",\"parts\":["
           "{\"text\":\"Let me \"},{\"text\":\"check.\"},"
           "{\"functionCall\":{\"name\":\"a\",\"args\":{\"q\":[1,\"x\"]}}},"
           "{\"functionCall\":{\"name\":\"b\",\"id\":\"fc-9\"}},"
           "{\"inlineData\":{\"mimeType\":\"image/png\",\"data\":\"AA==\"}},"
           "{\"functionCall\":{\"name\":\"c\",\"args\":{}}}]},"
           "\"finishReason\":\"STOP\"},{\"content\":{\"parts\":"
           "[{\"text\":\"second candidate\"}]}}]}",
           &r);
  cr_assert_str_eq(r.content, "Let me check.");
  cr_assert_eq(r.stop, CHAT_STOP_TOOL_CALLS);
  cr_assert_eq(r.n_tool_calls, 3);
  cr_assert_str_eq(r.tool_calls[0].id, "call_0");
  cr_assert_str_eq(r.tool_calls[0].arguments, "{\"q\":[1,\"x\"]}");
  cr_assert_str_eq(r.tool_calls[1].id, "fc-9");
  cr_assert_str_eq(r.tool_calls[1].arguments, "{}");
  cr_assert_str_eq(r.tool_calls[2].id, "call_2");
  cr_assert_str_eq(r.tool_calls[2].name, "c");
  cr_assert_null(r.model);
  cr_assert_eq(r.input_tokens, -1);
  cr_assert_eq(r.output_tokens, -1);
  chat_response_free(&r);
}

Test(gemini_response, finish_reasons) {
  static const struct {
    const char *reason;
    chat_stop stop;
  } cases[] = {
      {"STOP", CHAT_STOP_END},
      {"MAX_TOKENS", CHAT_STOP_LENGTH},
      {"SAFETY", CHAT_STOP_CONTENT_FILTER},
      {"RECITATION", CHAT_STOP_CONTENT_FILTER},
      {"BLOCKLIST", CHAT_STOP_CONTENT_FILTER},
      {"PROHIBITED_CONTENT", CHAT_STOP_CONTENT_FILTER},
      {"SPII", CHAT_STOP_CONTENT_FILTER},
      {"IMAGE_SAFETY", CHAT_STOP_CONTENT_FILTER},
      {"LANGUAGE", CHAT_STOP_OTHER},
      {"OTHER", CHAT_STOP_OTHER},
      {"MALFORMED_FUNCTION_CALL", CHAT_STOP_OTHER},
      {"FINISH_REASON_UNSPECIFIED", CHAT_STOP_OTHER},
      {"stop", CHAT_STOP_OTHER}, /* the words are uppercase */
  };
  size_t i;

  for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    char body[256];
    chat_response r;

    snprintf(body, sizeof(body),
             "{\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"x\"}]},"
             "\"finishReason\":\"%s\"}]}",
             cases[i].reason);
    parse_ok(gemini, body, strlen(body), &r);
    cr_assert_eq(r.stop, cases[i].stop, "%s", cases[i].reason);
    cr_assert_str_eq(r.finish_reason, cases[i].reason);
    chat_response_free(&r);
  }
}

Test(gemini_response, safety_stop_without_content) {
  chat_response r;

  PARSE_OK(gemini,
           "{\"candidates\":[{\"finishReason\":\"SAFETY\",\"index\":0,"
           "\"safetyRatings\":[{\"category\":\"HARM_CATEGORY_HATE_SPEECH\","
           "\"probability\":\"HIGH\",\"blocked\":true}]}],"
           "\"usageMetadata\":{\"promptTokenCount\":9,\"totalTokenCount\":9},"
           "\"modelVersion\":\"gemini-2.0-flash\"}",
           &r);
  cr_assert_str_eq(r.content, "");
  cr_assert_eq(r.stop, CHAT_STOP_CONTENT_FILTER);
  cr_assert_eq(r.input_tokens, 9);
  cr_assert_eq(r.output_tokens, -1);
  chat_response_free(&r);
}

Test(gemini_response, blocked_prompt_is_a_content_filter_stop) {
  chat_response r;

  parse_vector(gemini, "gemini/stream_blocked_chunk.json", &r);
  cr_assert_str_eq(r.content, "");
  cr_assert_eq(r.stop, CHAT_STOP_CONTENT_FILTER);
  cr_assert_str_eq(r.finish_reason, "SAFETY");
  cr_assert_eq(r.n_tool_calls, 0);
  chat_response_free(&r);
  PARSE_OK(gemini,
           "{\"candidates\":[],\"promptFeedback\":{\"blockReason\":"
           "\"PROHIBITED_CONTENT\"},\"usageMetadata\":{\"promptTokenCount\":"
           "4}}",
           &r);
  cr_assert_eq(r.stop, CHAT_STOP_CONTENT_FILTER);
  cr_assert_str_eq(r.finish_reason, "PROHIBITED_CONTENT");
  cr_assert_eq(r.input_tokens, 4);
  chat_response_free(&r);
}

Test(gemini_response, usage_counts) {
  chat_response r;

  PARSE_OK(gemini,
           "{\"candidates\":[{\"content\":{\"parts\":[]}}],"
           "\"usageMetadata\":{\"promptTokenCount\":3,"
           "\"thoughtsTokenCount\":40}}",
           &r);
  cr_assert_eq(r.input_tokens, 3);
  cr_assert_eq(r.output_tokens, 40); /* no candidate tokens: zero omitted */
  chat_response_free(&r);
  PARSE_OK(gemini,
           "{\"candidates\":[{}],\"usageMetadata\":{\"promptTokenCount\":"
           "\"3\",\"candidatesTokenCount\":-2,\"thoughtsTokenCount\":1e300}}",
           &r);
  cr_assert_eq(r.input_tokens, -1);
  cr_assert_eq(r.output_tokens, -1);
  cr_assert_str_eq(r.content, "");
  cr_assert_null(r.finish_reason);
  cr_assert_eq(r.stop, CHAT_STOP_NONE);
  chat_response_free(&r);
  PARSE_OK(gemini,
           "{\"candidates\":[{\"avgLogprobs\":\"x\"}],"
           "\"usageMetadata\":{\"candidatesTokenCount\":9e18,"
           "\"thoughtsTokenCount\":9e18}}",
           &r);
  cr_assert_eq(r.output_tokens, -1); /* the sum would overflow */
  cr_assert_not(r.has_logprob);
  chat_response_free(&r);
}

Test(gemini_response, malformed_structure_is_missing_field) {
  PARSE_FAILS(gemini, "{}", "missing_field");
  PARSE_FAILS(gemini, "{\"candidates\":[]}", "missing_field");
  PARSE_FAILS(gemini, "{\"candidates\":{\"0\":{}}}", "missing_field");
  PARSE_FAILS(gemini, "{\"candidates\":[null]}", "missing_field");
  PARSE_FAILS(gemini, "{\"candidates\":[{\"content\":\"x\"}]}",
              "missing_field");
  PARSE_FAILS(gemini, "{\"candidates\":[{\"content\":{\"parts\":{}}}]}",
              "missing_field");
  PARSE_FAILS(gemini, "{\"candidates\":[{\"content\":{\"parts\":[7]}}]}",
              "missing_field");
  PARSE_FAILS(gemini,
              "{\"candidates\":[{\"content\":{\"parts\":[{\"text\":null}]}}]}",
              "missing_field");
  PARSE_FAILS(gemini,
              "{\"candidates\":[{\"content\":{\"parts\":[{\"functionCall\":"
              "{}}]}}]}",
              "missing_field");
  PARSE_FAILS(gemini,
              "{\"candidates\":[{\"content\":{\"parts\":[{\"functionCall\":"
              "{\"name\":\"f\",\"args\":\"{}\"}}]}}]}",
              "missing_field");
  PARSE_FAILS(gemini,
              "{\"candidates\":[{\"content\":{\"parts\":[{\"functionCall\":"
              "{\"name\":\"f\"}},{\"text\":1}]}}]}",
              "missing_field");
  PARSE_FAILS(gemini, "{\"promptFeedback\":{\"blockReason\":1}}",
              "missing_field");
  PARSE_FAILS(gemini, "[{\"candidates\":[]}]", "missing_field");
}

Test(gemini_response, malformed_bodies) {
  PARSE_FAILS(gemini, "", "invalid_json");
  PARSE_FAILS(gemini, "{\"candidates\":[", "invalid_json");
  PARSE_FAILS(gemini, "data: {}", "invalid_json");
  PARSE_FAILS(gemini, "{}\0", "invalid_json");
  PARSE_FAILS(gemini,
              "{\"candidates\":[{\"content\":{\"parts\":[{\"text\":"
              "\"\xf4\x90\x80\x80\"}]}}]}",
              "invalid_utf8");
  parse_fails(gemini, NULL, 0, "invalid_json");
}

Test(gemini_response, error_objects_in_200_bodies) {
  static const struct {
    const char *body;
    chat_error_kind kind;
  } cases[] = {
      {"{\"error\":{\"code\":503,\"message\":\"overloaded\",\"status\":"
       "\"UNAVAILABLE\"}}",
       CHAT_ERR_TRANSIENT},
      {"[{\"error\":{\"code\":429,\"message\":\"q\",\"status\":"
       "\"RESOURCE_EXHAUSTED\"}}]",
       CHAT_ERR_TRANSIENT},
      {"{\"error\":{\"code\":400,\"message\":\"bad\",\"status\":"
       "\"INVALID_ARGUMENT\"}}",
       CHAT_ERR_PERMANENT},
      {"{\"error\":{\"status\":\"DEADLINE_EXCEEDED\"}}", CHAT_ERR_TRANSIENT},
      {"{\"error\":{\"code\":\"503\",\"status\":\"NOT_FOUND\"}}",
       CHAT_ERR_PERMANENT},
      {"{\"error\":{}}", CHAT_ERR_PERMANENT},
  };
  size_t i;

  for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
    parse_fails_as(gemini, cases[i].body, strlen(cases[i].body),
                   "provider_error", cases[i].kind);
}

Test(gemini_response, every_prefix_fails_cleanly) {
  every_prefix_fails(gemini, "gemini/text_response.json");
  every_prefix_fails(gemini, "gemini/function_call_response.json");
}

Test(gemini_response, every_single_byte_corruption_is_handled) {
  every_corruption_is_handled(gemini, "gemini/function_call_response.json");
}

/* --- Error bodies -------------------------------------------------------- */

Test(gemini_error, bad_api_key_400_vector) {
  chat_error e;

  error_vector(gemini, "gemini/error_400_api_key.json", 400, -1, &e);
  cr_assert_eq(e.kind, CHAT_ERR_PERMANENT);
  cr_assert_str_eq(e.reason, "http_error");
  cr_assert_eq(e.http_status, 400);
  cr_assert_str_eq(e.type, "INVALID_ARGUMENT");
  cr_assert_str_eq(e.code, "API_KEY_INVALID");
  cr_assert_str_eq(e.message,
                   "API key not valid. Please pass a valid API key.");
  cr_assert_eq(e.retry_after_ms, -1);
  chat_error_free(&e);
}

Test(gemini_error, quota_429_vector_uses_retry_info) {
  chat_error e;

  error_vector(gemini, "gemini/error_429.json", 429, -1, &e);
  cr_assert_eq(e.kind, CHAT_ERR_TRANSIENT);
  cr_assert_str_eq(e.type, "RESOURCE_EXHAUSTED");
  cr_assert_str_eq(e.code, "429");
  cr_assert_eq(strncmp(e.message, "You exceeded your current quota", 31), 0);
  cr_assert_eq(e.retry_after_ms, 27000);
  chat_error_free(&e);
  /* A retry-after header, when there was one, wins. */
  error_vector(gemini, "gemini/error_429.json", 429, 5000, &e);
  cr_assert_eq(e.retry_after_ms, 5000);
  chat_error_free(&e);
}

Test(gemini_error, unknown_model_404_plain_and_array_wrapped) {
  static const char *const names[] = {"gemini/error_404_unknown_model.json",
                                      "gemini/error_404_array_wrapped.json"};
  size_t i;

  for (i = 0; i < 2; i++) {
    chat_error e;

    error_vector(gemini, names[i], 404, -1, &e);
    cr_assert_eq(e.kind, CHAT_ERR_PERMANENT);
    cr_assert_str_eq(e.type, "NOT_FOUND");
    cr_assert_str_eq(e.code, "404");
    cr_assert_eq(strncmp(e.message, "models/gemini-5.0-flash is not found", 36),
                 0, "%s", names[i]);
    chat_error_free(&e);
  }
}

Test(gemini_error, unavailable_503_is_transient) {
  chat_error e;

  PARSE_ERROR(gemini, 503,
              "{\"error\":{\"code\":503,\"message\":\"The model is "
              "overloaded. Please try again later.\",\"status\":"
              "\"UNAVAILABLE\"}}",
              -1, &e);
  cr_assert_eq(e.kind, CHAT_ERR_TRANSIENT);
  cr_assert_str_eq(e.type, "UNAVAILABLE");
  cr_assert_eq(e.retry_after_ms, -1);
  chat_error_free(&e);
  PARSE_ERROR(gemini, 402,
              "{\"error\":{\"code\":402,\"status\":"
              "\"RESOURCE_EXHAUSTED\"}}",
              -1, &e);
  cr_assert_eq(e.kind, CHAT_ERR_PERMANENT); /* prepaid credits used up */
  chat_error_free(&e);
}

Test(gemini_error, retry_delay_forms) {
  static const struct {
    const char *delay;
    long ms;
  } cases[] = {
      {"27s", 27000},
      {"1.5s", 1500},
      {"3.957525076s", 3958},
      {"0s", 0},
      {"0.0001s", 1},
      {"0.001s", 1},
      {"0.000000000s", 0},
      {"999999999999s", 999999999999000L},
      {"9999999999999s", -1},
      {"1.1234567891s", -1},
      {"27", -1},
      {"s", -1},
      {".5s", -1},
      {"1.s", -1},
      {"-1s", -1},
      {"1e3s", -1},
      {"1s ", -1},
      {" 1s", -1},
      {"", -1},
  };
  size_t i;

  for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    char body[512];
    chat_error e;

    snprintf(body, sizeof(body),
             "{\"error\":{\"code\":429,\"status\":\"RESOURCE_EXHAUSTED\","
             "\"details\":[{\"@type\":\"type.googleapis.com/google.rpc."
             "QuotaFailure\"},{\"@type\":\"type.googleapis.com/google.rpc."
             "RetryInfo\",\"retryDelay\":\"%s\"}]}}",
             cases[i].delay);
    parse_error(gemini, 429, body, strlen(body), -1, &e);
    cr_assert_eq(e.retry_after_ms, cases[i].ms, "%s gave %ld", cases[i].delay,
                 e.retry_after_ms);
    chat_error_free(&e);
  }
}

Test(gemini_error, odd_details_are_ignored) {
  chat_error e;

  PARSE_ERROR(gemini, 429,
              "{\"error\":{\"code\":429,\"details\":{\"@type\":"
              "\"type.googleapis.com/google.rpc.RetryInfo\","
              "\"retryDelay\":\"5s\"}}}",
              -1, &e);
  cr_assert_eq(e.retry_after_ms, -1);
  chat_error_free(&e);
  PARSE_ERROR(gemini, 429,
              "{\"error\":{\"code\":429,\"details\":[1,null,"
              "{\"@type\":7},{\"@type\":\"type.googleapis.com/google."
              "rpc.RetryInfo\",\"retryDelay\":{\"seconds\":5}}]}}",
              -1, &e);
  cr_assert_eq(e.retry_after_ms, -1);
  cr_assert_str_eq(e.code, "429");
  chat_error_free(&e);
  PARSE_ERROR(gemini, 400, "{\"error\":{\"code\":4.5,\"message\":7}}", -1, &e);
  cr_assert_null(e.code);
  cr_assert_str_eq(e.message, "{\"error\":{\"code\":4.5,\"message\":7}}");
  chat_error_free(&e);
}

Test(gemini_error, bodies_without_an_error_object) {
  chat_error e;

  PARSE_ERROR(gemini, 502, "<html>Bad Gateway</html>", -1, &e);
  cr_assert_eq(e.kind, CHAT_ERR_TRANSIENT);
  cr_assert_str_eq(e.message, "<html>Bad Gateway</html>");
  cr_assert_null(e.type);
  cr_assert_null(e.code);
  chat_error_free(&e);
  PARSE_ERROR(gemini, 500, "[]", -1, &e);
  cr_assert_str_eq(e.message, "[]");
  chat_error_free(&e);
  PARSE_ERROR(gemini, 500, "\x80", -1, &e);
  cr_assert_str_eq(e.message, "HTTP 500 with a body that is not text");
  chat_error_free(&e);
  chat_error_init(&e);
  gemini_parse_error(503, NULL, 0, 100, &e);
  cr_assert_str_eq(e.message, "HTTP 503 with an empty body");
  cr_assert_eq(e.retry_after_ms, 100);
  chat_error_free(&e);
}

Test(gemini_error, every_prefix_of_every_vector_is_handled) {
  static const char *const names[] = {"gemini/error_400_api_key.json",
                                      "gemini/error_429.json",
                                      "gemini/error_404_unknown_model.json",
                                      "gemini/error_404_array_wrapped.json"};
  size_t n;

  for (n = 0; n < sizeof(names) / sizeof(names[0]); n++)
    every_error_prefix_is_handled(gemini, names[n], 429, CHAT_ERR_TRANSIENT);
}
