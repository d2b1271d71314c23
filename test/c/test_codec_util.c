/* test_codec_util.c - unit tests for codec_util.c, the request checks,
 * body pieces and parsing frames the dialect codecs share. Most of it is
 * exercised through the codecs' own tests; this pins down the edges they
 * rely on. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>
#include <criterion/criterion.h>

#include "buf.h"
#include "chat.h"
#include "chat_stream.h"
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
  chat_tool_call ok = {
      .id = "c", .name = "f", .arguments = "{\"a\":\"\xc3\xa9\"}"};
  chat_tool_call bad = {
      .id = "c", .name = "f", .arguments = "{\"a\":\"\xe9\"}"};
  chat_tool_call cut = {
      .id = "c", .name = "f", .arguments = "\xc3\xa9", .arguments_len = 1};
  chat_message m = {.role = "assistant", .tool_calls = &ok, .n_tool_calls = 1};
  chat_request req = {.model = "m", .messages = &m, .n_messages = 1};

  cr_assert(codec_request_check(&req));
  m.tool_calls = &bad;
  cr_assert_not(codec_request_check(&req));
  /* arguments_len counts: half a character is not UTF-8. */
  m.tool_calls = &cut;
  cr_assert_not(codec_request_check(&req));
}

Test(codec_util, bearer_header) {
  codec_headers h;

  codec_headers_init(&h);
  cr_assert_eq(codec_add_bearer(&h, NULL), 0);
  cr_assert_eq(codec_add_bearer(&h, ""), 0);
  cr_assert_eq(h.n, 0);
  cr_assert_eq(codec_add_bearer(&h, "k-1"), 0);
  cr_assert_eq(h.n, 1);
  cr_assert_str_eq(h.lines[0], "Authorization: Bearer k-1");
  cr_assert_eq(codec_add_bearer(&h, "k\nX: y"), -1);
  codec_headers_free(&h);
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

Test(codec_util, request_basics) {
  chat_message user = {.role = "user", .content = "x", .content_len = 1};
  chat_request req = {.model = "m", .messages = &user, .n_messages = 1};

  cr_assert(codec_request_basics(&req));
  req.has_temperature = 1;
  req.temperature = NAN;
  cr_assert_not(codec_request_basics(&req));
  req.temperature = INFINITY;
  cr_assert_not(codec_request_basics(&req));
  req.temperature = 0.5;
  cr_assert(codec_request_basics(&req));
  req.n_messages = 0;
  cr_assert_not(codec_request_basics(&req));
  req.n_messages = 1;
  req.model = "";
  cr_assert_not(codec_request_basics(&req));
  /* Only the full check looks at the encoding. */
  req.model = "\xff";
  cr_assert(codec_request_basics(&req));
  cr_assert_not(codec_request_check(&req));
  cr_assert_not(codec_request_basics(NULL));
}

Test(codec_util, call_args_and_ids) {
  chat_tool_call none = {.id = "c", .name = "f"};
  chat_tool_call empty = {.id = "c", .name = "f", .arguments = ""};
  chat_tool_call cut = {
      .id = "c", .name = "f", .arguments = "{}xyz", .arguments_len = 2};
  const char *args;
  size_t len;
  char *id;

  args = codec_call_args(&none, &len);
  cr_assert_eq(len, 2);
  cr_assert_eq(memcmp(args, "{}", 2), 0);
  args = codec_call_args(&empty, &len);
  cr_assert_eq(len, 2);
  cr_assert_eq(memcmp(args, "{}", 2), 0);
  args = codec_call_args(&cut, &len);
  cr_assert_eq(args, cut.arguments);
  cr_assert_eq(len, 2);

  id = codec_call_id(NULL, 3);
  cr_assert_str_eq(id, "call_3");
  free(id);
  id = codec_call_id("", 0);
  cr_assert_str_eq(id, "call_0");
  free(id);
  id = codec_call_id("toolu_1", 7);
  cr_assert_str_eq(id, "toolu_1");
  free(id);
}

Test(codec_util, add_tool_call) {
  chat_response r;

  chat_response_init(&r);
  cr_assert_null(codec_add_tool_call(&r, NULL, 4, "f", strdup("{\"a\":1}")));
  cr_assert_null(codec_add_tool_call(&r, "id-2", 5, "g", strdup("{}")));
  cr_assert_str_eq(codec_add_tool_call(&r, "x", 6, "h", NULL), "out_of_memory");
  cr_assert_eq(r.n_tool_calls, 2);
  cr_assert_str_eq(r.tool_calls[0].id, "call_4");
  cr_assert_str_eq(r.tool_calls[0].name, "f");
  cr_assert_str_eq(r.tool_calls[0].arguments, "{\"a\":1}");
  cr_assert_eq(r.tool_calls[0].arguments_len, 7);
  cr_assert_str_eq(r.tool_calls[1].id, "id-2");
  chat_response_free(&r);
}

Test(codec_util, tool_head_and_schema) {
  chat_tool plain = {.name = "now"};
  chat_tool full = {.name = "w",
                    .description = "Weather",
                    .parameters = "{ \"type\": \"object\" }"};
  chat_tool listed = {.name = "w", .parameters = "[]"};
  buf b;

  buf_init(&b, 0);
  cr_assert_eq(codec_put_tool_head(&b, &plain), 0);
  cr_assert_eq(buf_puts(&b, "|"), 0);
  cr_assert_eq(codec_put_tool_schema(&b, &plain), 0);
  cr_assert_str_eq(b.data, "\"name\":\"now\"|{\"type\":\"object\"}");
  buf_free(&b);

  buf_init(&b, 0);
  cr_assert_eq(codec_put_tool_head(&b, &full), 0);
  cr_assert_eq(buf_puts(&b, "|"), 0);
  cr_assert_eq(codec_put_tool_schema(&b, &full), 0);
  cr_assert_str_eq(b.data, "\"name\":\"w\",\"description\":\"Weather\"|"
                           "{\"type\":\"object\"}");
  buf_free(&b);

  buf_init(&b, 0);
  cr_assert_eq(codec_put_tool_schema(&b, &listed), -1);
  buf_free(&b);
}

/* Turn writers that name what they got, for codec_put_turns. */
static int put_tag(buf *b, const char *tag, const chat_message *m) {
  return buf_printf(b, "%s:%.*s", tag, (int)m->content_len, m->content);
}

static int put_u(buf *b, const chat_message *m) { return put_tag(b, "u", m); }

static int put_a(buf *b, const chat_message *m) { return put_tag(b, "a", m); }

static int put_r(buf *b, const chat_message *m) { return put_tag(b, "r", m); }

static const codec_turns tagged = {.results_open = "R[",
                                   .put_user = put_u,
                                   .put_assistant = put_a,
                                   .put_result = put_r};

static chat_message turn(const char *role, const char *content) {
  chat_message m = {
      .role = role, .content = content, .content_len = strlen(content)};

  return m;
}

Test(codec_util, turns_group_tool_results) {
  chat_message msgs[] = {turn("system", "s"),    turn("user", "1"),
                         turn("assistant", "2"), turn("tool", "3"),
                         turn("tool", "4"),      turn("system", "s2"),
                         turn("user", "5"),      turn("tool", "6")};
  chat_request req = {.model = "m", .messages = msgs, .n_messages = 8};
  buf b;

  buf_init(&b, 0);
  cr_assert_eq(codec_put_turns(&b, &req, &tagged), 0);
  cr_assert_str_eq(b.data, "u:1,a:2,R[r:3,r:4]},u:5,R[r:6]}");
  buf_free(&b);
}

Test(codec_util, turns_refuse_what_they_cannot_send) {
  chat_message only_system[] = {turn("system", "s")};
  chat_message odd_role[] = {turn("user", "1"), turn("developer", "2")};
  chat_request req = {.model = "m", .messages = only_system, .n_messages = 1};
  buf b;

  buf_init(&b, 0);
  cr_assert_eq(codec_put_turns(&b, &req, &tagged), -1);
  buf_free(&b);
  req.messages = odd_role;
  req.n_messages = 2;
  cr_assert_eq(codec_put_turns(&b, &req, &tagged), -1);
  buf_free(&b);
}

/* A dialect for the parse frames: {"err": "..."} is its error object, and
 * an answer is {"text": "..."}. */
static int stub_body_error(const cJSON *root, chat_error *err) {
  const cJSON *e = cJSON_GetObjectItemCaseSensitive(root, "err");

  if (!cJSON_IsString(e))
    return 0;
  chat_error_set(err, CHAT_ERR_TRANSIENT, "provider_error", e->valuestring);
  return 1;
}

static const char *stub_read(const cJSON *root, chat_response *resp) {
  const cJSON *text = cJSON_GetObjectItemCaseSensitive(root, "text");

  resp->model = strdup("partial"); /* freed by the frame on failure */
  if (resp->model == NULL)
    return "out_of_memory";
  if (!cJSON_IsString(text))
    return "missing_field";
  resp->content = strdup(text->valuestring);
  if (resp->content == NULL)
    return "out_of_memory";
  resp->content_len = strlen(resp->content);
  return NULL;
}

static void stub_parse(const char *body, size_t len, int want_rc,
                       const char *reason, chat_error_kind kind) {
  chat_response r;
  chat_error e;

  chat_error_init(&e);
  cr_assert_eq(
      codec_parse_response(body, len, 0, &r, &e, stub_body_error, stub_read),
      want_rc, "%.*s", (int)len, body);
  if (want_rc == 0) {
    cr_assert_null(e.reason);
    cr_assert_str_eq(r.content, "hi");
    cr_assert_eq(r.content_len, 2);
    chat_response_free(&r);
  } else {
    cr_assert_str_eq(e.reason, reason, "%.*s", (int)len, body);
    cr_assert_eq(e.kind, kind);
    cr_assert_null(r.content);
    cr_assert_null(r.model);
  }
  chat_error_free(&e);
}

#define STUB_FAILS(lit, reason, kind)                                          \
  stub_parse((lit), sizeof(lit) - 1, -1, (reason), (kind))

Test(codec_util, parse_response_frame) {
  stub_parse("{\"text\":\"hi\"}", 13, 0, NULL, CHAT_OK);
  stub_parse(NULL, 0, -1, "invalid_json", CHAT_ERR_PERMANENT);
  STUB_FAILS("", "invalid_json", CHAT_ERR_PERMANENT);
  STUB_FAILS("{\"text\":\"\xff\"}", "invalid_utf8", CHAT_ERR_PERMANENT);
  STUB_FAILS("{\"text\":\"hi\"} x", "invalid_json", CHAT_ERR_PERMANENT);
  STUB_FAILS("{\"err\":\"down\"}", "provider_error", CHAT_ERR_TRANSIENT);
  STUB_FAILS("{\"text\":7}", "missing_field", CHAT_ERR_PERMANENT);
}

/* Every dialect's non-streamed reader stops at the first tool call past
 * max_tool_calls: the reply fails, permanently, naming the cap, and
 * nothing of it is kept. bodies[d] holds 3 calls in dialect d's shape. */
Test(codec_util, every_dialect_stops_at_max_tool_calls) {
  static const struct {
    const char *codec, *body;
  } bodies[] = {
      {"openai",
       "{\"model\":\"m\",\"choices\":[{\"message\":{\"content\":null,"
       "\"tool_calls\":["
       "{\"id\":\"a\",\"type\":\"function\",\"function\":{\"name\":\"f\","
       "\"arguments\":\"{}\"}},"
       "{\"id\":\"b\",\"type\":\"function\",\"function\":{\"name\":\"f\","
       "\"arguments\":\"{}\"}},"
       "{\"id\":\"c\",\"type\":\"function\",\"function\":{\"name\":\"f\","
       "\"arguments\":\"{}\"}}]},\"finish_reason\":\"tool_calls\"}]}"},
      {"anthropic",
       "{\"type\":\"message\",\"role\":\"assistant\",\"model\":\"m\","
       "\"content\":["
       "{\"type\":\"tool_use\",\"id\":\"a\",\"name\":\"f\",\"input\":{}},"
       "{\"type\":\"tool_use\",\"id\":\"b\",\"name\":\"f\",\"input\":{}},"
       "{\"type\":\"tool_use\",\"id\":\"c\",\"name\":\"f\",\"input\":{}}],"
       "\"stop_reason\":\"tool_use\"}"},
      {"gemini", "{\"candidates\":[{\"content\":{\"role\":\"model\","
                 "\"parts\":["
                 "{\"functionCall\":{\"name\":\"f\",\"args\":{}}},"
                 "{\"functionCall\":{\"name\":\"f\",\"args\":{}}},"
                 "{\"functionCall\":{\"name\":\"f\",\"args\":{}}}]},"
                 "\"finishReason\":\"STOP\"}]}"},
      {"ollama", "{\"model\":\"m\",\"message\":{\"role\":\"assistant\","
                 "\"content\":\"\",\"tool_calls\":["
                 "{\"function\":{\"name\":\"f\",\"arguments\":{}}},"
                 "{\"function\":{\"name\":\"f\",\"arguments\":{}}},"
                 "{\"function\":{\"name\":\"f\",\"arguments\":{}}}]},"
                 "\"done\":true,\"done_reason\":\"stop\"}"},
  };

  for (size_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
    const chat_codec *codec = codec_find(bodies[i].codec);
    size_t len = strlen(bodies[i].body);
    chat_response r;
    chat_error e;

    cr_assert_not_null(codec);
    chat_error_init(&e);
    /* The cap itself, and the ceiling (0), take all three. */
    for (size_t cap = 0; cap <= 3; cap += 3) {
      cr_assert_eq(codec->parse_response(bodies[i].body, len, cap, &r, &e), 0,
                   "%s: %s", bodies[i].codec, e.reason ? e.reason : "");
      cr_assert_eq(r.n_tool_calls, 3, "%s", bodies[i].codec);
      chat_response_free(&r);
    }
    cr_assert_eq(codec->parse_response(bodies[i].body, len, 2, &r, &e), -1,
                 "%s", bodies[i].codec);
    cr_assert_eq(e.kind, CHAT_ERR_PERMANENT);
    cr_assert_str_eq(e.reason, "too_many_tool_calls", "%s", bodies[i].codec);
    cr_assert_not_null(strstr(e.message, "more than 2 tool calls"), "%s",
                       e.message);
    cr_assert_eq(r.n_tool_calls, 0);
    cr_assert_null(r.tool_calls);
    cr_assert_null(r.content);
    chat_error_free(&e);
  }
}

/* What the frame hands the dialect's reader, and a rule of its own. */
static void stub_read_error(const cJSON *root, long status, chat_error *err) {
  const cJSON *msg = cJSON_GetObjectItemCaseSensitive(root, "message");

  if (cJSON_IsString(msg))
    err->message = strdup(msg->valuestring);
  if (status == 418)
    err->retry_after_ms = 42;
}

Test(codec_util, parse_error_frame) {
  static const char json[] = "{\"message\":\"busy\"}";
  static const char html[] = "<html>Bad gateway</html>";
  chat_error e;

  chat_error_init(&e);
  codec_parse_error(503, json, sizeof(json) - 1, 1000, &e, stub_read_error);
  cr_assert_str_eq(e.reason, "http_error");
  cr_assert_eq(e.kind, CHAT_ERR_TRANSIENT);
  cr_assert_eq(e.http_status, 503);
  cr_assert_eq(e.retry_after_ms, 1000);
  cr_assert_str_eq(e.message, "busy");

  /* The old strings go; a body without a message gives its start. */
  codec_parse_error(502, html, sizeof(html) - 1, -1, &e, stub_read_error);
  cr_assert_str_eq(e.message, "<html>Bad gateway</html>");
  cr_assert_eq(e.retry_after_ms, -1);

  codec_parse_error(418, NULL, 0, -1, &e, stub_read_error);
  cr_assert_eq(e.kind, CHAT_ERR_PERMANENT);
  cr_assert_str_eq(e.message, "HTTP 418 with an empty body");
  cr_assert_eq(e.retry_after_ms, 42);

  /* A status below 400 is still an error here: permanent. */
  codec_parse_error(200, json, sizeof(json) - 1, -1, &e, stub_read_error);
  cr_assert_eq(e.kind, CHAT_ERR_PERMANENT);
  chat_error_free(&e);
}

static int stub_apply(chat_stream *st, const cJSON *root) {
  const cJSON *text = cJSON_GetObjectItemCaseSensitive(root, "t");

  if (!cJSON_IsString(text))
    return codec_malformed(st, "missing_field");
  return chat_stream_text(st, text->valuestring, strlen(text->valuestring));
}

static int stub_event(chat_stream *st, const char *event, const char *data,
                      size_t len) {
  (void)event;
  return codec_stream_json(st, data, len, stub_apply);
}

static const chat_codec stub_codec = {
    .name = "stub", .framing = CHAT_FRAMING_NDJSON, .stream_event = stub_event};

/* Hands data to a fresh stream as one event; the reason it failed with,
 * or NULL when it did not. */
static const char *stream_reason(const char *data, size_t len, int *rc) {
  static char reason[32];
  chat_stream *st = chat_stream_new(&stub_codec, 0, 0, NULL, NULL);
  chat_response r;
  chat_error e;

  cr_assert_not_null(st);
  chat_error_init(&e);
  *rc = stub_event(st, NULL, data, len);
  reason[0] = '\0';
  /* Without an end marker finish fails (truncated_stream) either way; the
   * reason counts only when the event itself failed. */
  if (chat_stream_finish(st, &r, &e) != 0 && *rc != 0)
    snprintf(reason, sizeof(reason), "%s", e.reason);
  chat_response_free(&r);
  chat_error_free(&e);
  chat_stream_free(st);
  return reason[0] != '\0' ? reason : NULL;
}

Test(codec_util, stream_json_frame) {
  int rc;

  cr_assert_null(stream_reason("", 0, &rc));
  cr_assert_eq(rc, 0);
  cr_assert_null(stream_reason("{\"t\":\"x\"}", 9, &rc));
  cr_assert_eq(rc, 0);
  cr_assert_str_eq(stream_reason("{\"t\":\"\xff\"}", 9, &rc), "invalid_utf8");
  cr_assert_eq(rc, -1);
  cr_assert_str_eq(stream_reason("{\"t\":", 5, &rc), "invalid_json");
  cr_assert_eq(rc, -1);
  cr_assert_str_eq(stream_reason("{\"t\":1}", 7, &rc), "missing_field");
  cr_assert_eq(rc, -1);
}

Test(codec_util, stop_with_calls) {
  cr_assert_eq(chat_stop_with_calls(CHAT_STOP_END, 1), CHAT_STOP_TOOL_CALLS);
  cr_assert_eq(chat_stop_with_calls(CHAT_STOP_NONE, 1), CHAT_STOP_TOOL_CALLS);
  cr_assert_eq(chat_stop_with_calls(CHAT_STOP_LENGTH, 1), CHAT_STOP_LENGTH);
  cr_assert_eq(chat_stop_with_calls(CHAT_STOP_END, 0), CHAT_STOP_END);
  cr_assert_eq(chat_stop_with_calls(CHAT_STOP_NONE, 0), CHAT_STOP_NONE);
}

static int put_role(buf *b, const chat_message *m) {
  return buf_printf(b, "<%s>", m->role);
}

static int put_call_name(buf *b, const chat_tool_call *c) {
  return buf_printf(b, "<%s>", c->name);
}

Test(codec_util, messages_and_tool_calls_lists) {
  chat_tool_call calls[] = {{.id = "1", .name = "f"}, {.id = "2", .name = "g"}};
  chat_message msgs[] = {turn("user", "q"), turn("assistant", "")};
  chat_request req = {.model = "m\"1", .messages = msgs, .n_messages = 2};
  buf b;

  buf_init(&b, 0);
  cr_assert_eq(codec_put_messages(&b, &req, put_role), 0);
  cr_assert_str_eq(b.data, "{\"model\":\"m\\\"1\",\"messages\":[<user>,"
                           "<assistant>]");
  buf_free(&b);

  cr_assert_eq(codec_put_tool_calls(&b, &msgs[0], put_call_name), 0);
  cr_assert_eq(b.len, 0);
  msgs[1].tool_calls = calls;
  msgs[1].n_tool_calls = 2;
  cr_assert_eq(codec_put_tool_calls(&b, &msgs[1], put_call_name), 0);
  cr_assert_str_eq(b.data, ",\"tool_calls\":[<f>,<g>]");
  buf_free(&b);
}

/* codec_call_fn: an entry is a name; "bad" is malformed. */
static const char *read_named(const cJSON *item, size_t pos,
                              chat_response *resp) {
  if (!cJSON_IsString(item) || strcmp(item->valuestring, "bad") == 0)
    return "missing_field";
  return codec_add_tool_call(resp, NULL, pos, item->valuestring, strdup("{}"));
}

/* codec_read_message on the message given as JSON text (NULL: none). */
static const char *read_message(const char *json, chat_response *r) {
  cJSON *message = json != NULL ? cJSON_Parse(json) : NULL;
  const char *reason;

  cr_assert(json == NULL || message != NULL, "not JSON: %s", json);
  chat_response_init(r);
  reason = codec_read_message(message, r, read_named);
  cJSON_Delete(message);
  return reason;
}

Test(codec_util, read_message_content) {
  static const char *const empty[] = {"{}", "{\"content\":null}",
                                      "{\"content\":\"\"}"};
  static const char *const bad[] = {"{\"content\":7}", "{\"content\":[]}", "[]",
                                    "\"x\"", "null"};
  chat_response r;
  size_t i;

  cr_assert_null(read_message("{\"content\":\"a\\u00e9\"}", &r));
  cr_assert_str_eq(r.content, "a\xc3\xa9");
  cr_assert_eq(r.content_len, 3);
  chat_response_free(&r);
  for (i = 0; i < sizeof(empty) / sizeof(empty[0]); i++) {
    cr_assert_null(read_message(empty[i], &r), "%s", empty[i]);
    cr_assert_str_eq(r.content, "");
    cr_assert_eq(r.content_len, 0);
    chat_response_free(&r);
  }
  for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    cr_assert_str_eq(read_message(bad[i], &r), "missing_field", "%s", bad[i]);
    chat_response_free(&r);
  }
  cr_assert_str_eq(read_message(NULL, &r), "missing_field");
}

Test(codec_util, read_message_tool_calls) {
  chat_response r;

  cr_assert_null(read_message("{\"tool_calls\":null}", &r));
  cr_assert_eq(r.n_tool_calls, 0);
  chat_response_free(&r);
  cr_assert_null(read_message("{\"tool_calls\":[\"f\",\"g\"]}", &r));
  cr_assert_eq(r.n_tool_calls, 2);
  cr_assert_str_eq(r.tool_calls[1].id, "call_1");
  cr_assert_str_eq(r.tool_calls[1].name, "g");
  chat_response_free(&r);
  cr_assert_str_eq(read_message("{\"tool_calls\":{\"f\":1}}", &r),
                   "missing_field");
  chat_response_free(&r);
  cr_assert_str_eq(read_message("{\"tool_calls\":[\"f\",\"bad\",\"g\"]}", &r),
                   "missing_field");
  cr_assert_eq(r.n_tool_calls, 1); /* the caller frees what was read */
  chat_response_free(&r);
}
