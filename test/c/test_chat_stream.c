/* test_chat_stream.c - unit tests for chat_stream.c, through a test-only
 * codec whose stream_event reads a made-up JSON event format (below) and
 * makes every chat_stream_* call. Each body goes through
 * stream_split_check, so besides the values asserted here every result is
 * also checked to be the same under every chunking. */
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
#include "fixtures.h"
#include "stream_split.h"

/* --- The test codec ------------------------------------------------------ */

/* One event is one JSON object; its members are applied in this order:
 *   "model": "m"                        chat_stream_model
 *   "text": "..."                       chat_stream_text
 *   "bytes": "e282"                     chat_stream_text of raw bytes (hex),
 *                                       to cut a character between deltas
 *   "call": {"index", "id", "name"}     chat_stream_tool_call (id and name
 *                                       optional)
 *   "args": {"index", "frag"|"hex"}     chat_stream_tool_args
 *   "usage": [in, out]                  chat_stream_usage
 *   "cost": 0.5                         chat_stream_cost
 *   "stop": ["length", "raw"|null]      chat_stream_stop (chat_stop_name)
 *   "error": {"kind", "reason", "type", "message"}  chat_stream_fail
 *   "end": true                         chat_stream_end
 * Besides: SSE data "[DONE]" ends the stream, an SSE event named "ping" is
 * skipped, and anything else that is not a JSON object makes stream_event
 * return -1 without giving a reason. */

static const cJSON *get(const cJSON *obj, const char *name) {
  return cJSON_GetObjectItemCaseSensitive(obj, name);
}

static const char *get_str(const cJSON *obj, const char *name) {
  const cJSON *v = get(obj, name);

  return cJSON_IsString(v) ? v->valuestring : NULL;
}

static int hex_digit(char c) {
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  return -1;
}

/* Decodes a lower-case hex string into b. */
static int unhex(const char *hex, buf *b) {
  size_t i, n = strlen(hex);

  if (n % 2 != 0)
    return -1;
  for (i = 0; i < n; i += 2) {
    int hi = hex_digit(hex[i]), lo = hex_digit(hex[i + 1]);
    char c;

    if (hi < 0 || lo < 0)
      return -1;
    c = (char)(hi << 4 | lo);
    if (buf_append(b, &c, 1) != 0)
      return -1;
  }
  return 0;
}

static int apply_bytes(chat_stream *st, const char *hex, int as_args,
                       size_t index) {
  buf b;
  int rc;

  buf_init(&b, 0);
  rc = unhex(hex, &b);
  if (rc == 0)
    rc = as_args ? chat_stream_tool_args(st, index, b.data, b.len)
                 : chat_stream_text(st, b.data, b.len);
  buf_free(&b);
  return rc;
}

static chat_stop stop_named(const char *name) {
  int s;

  for (s = CHAT_STOP_NONE; s <= CHAT_STOP_OTHER; s++) {
    if (name != NULL && strcmp(chat_stop_name((chat_stop)s), name) == 0)
      return (chat_stop)s;
  }
  return CHAT_STOP_OTHER;
}

static chat_error_kind kind_named(const char *name) {
  int k;

  for (k = CHAT_OK; k <= CHAT_ERR_CANCELLED; k++) {
    if (name != NULL &&
        strcmp(chat_error_kind_name((chat_error_kind)k), name) == 0)
      return (chat_error_kind)k;
  }
  return CHAT_ERR_PERMANENT;
}

/* The reason words are static in real codecs; these stand in for them. */
static const char *static_reason(const char *reason) {
  static const char *const known[] = {"provider_error", "overloaded",
                                      "rate_limited"};
  size_t i;

  for (i = 0; reason != NULL && i < sizeof(known) / sizeof(known[0]); i++) {
    if (strcmp(reason, known[i]) == 0)
      return known[i];
  }
  return reason == NULL ? NULL : "other_reason";
}

static int apply_call(chat_stream *st, const cJSON *call) {
  const cJSON *index = get(call, "index");

  if (!cJSON_IsNumber(index))
    return -1;
  return chat_stream_tool_call(st, (size_t)index->valuedouble,
                               get_str(call, "id"), get_str(call, "name"));
}

static int apply_args(chat_stream *st, const cJSON *args) {
  const cJSON *index = get(args, "index");
  const char *frag = get_str(args, "frag"), *hex = get_str(args, "hex");
  size_t i;

  if (!cJSON_IsNumber(index))
    return -1;
  i = (size_t)index->valuedouble;
  if (hex != NULL)
    return apply_bytes(st, hex, 1, i);
  return chat_stream_tool_args(st, i, frag, frag ? strlen(frag) : 0);
}

static int apply_object(chat_stream *st, const cJSON *ev) {
  const cJSON *v;
  const char *s;

  if ((s = get_str(ev, "model")) != NULL && chat_stream_model(st, s) != 0)
    return -1;
  if ((s = get_str(ev, "text")) != NULL &&
      chat_stream_text(st, s, strlen(s)) != 0)
    return -1;
  if ((s = get_str(ev, "bytes")) != NULL && apply_bytes(st, s, 0, 0) != 0)
    return -1;
  if ((v = get(ev, "call")) != NULL && apply_call(st, v) != 0)
    return -1;
  if ((v = get(ev, "args")) != NULL && apply_args(st, v) != 0)
    return -1;
  if ((v = get(ev, "usage")) != NULL)
    chat_stream_usage(st, (long)cJSON_GetArrayItem(v, 0)->valuedouble,
                      (long)cJSON_GetArrayItem(v, 1)->valuedouble);
  if ((v = get(ev, "cost")) != NULL)
    chat_stream_cost(st, v->valuedouble);
  if ((v = get(ev, "stop")) != NULL &&
      chat_stream_stop(st, stop_named(cJSON_GetArrayItem(v, 0)->valuestring),
                       cJSON_GetArrayItem(v, 1)->valuestring) != 0)
    return -1;
  if ((v = get(ev, "error")) != NULL)
    return chat_stream_fail(st, kind_named(get_str(v, "kind")),
                            static_reason(get_str(v, "reason")),
                            get_str(v, "type"), get_str(v, "message"));
  if (cJSON_IsTrue(get(ev, "end")))
    chat_stream_end(st);
  return 0;
}

/* chat_codec.stream_event */
static int test_stream_event(chat_stream *st, const char *event,
                             const char *data, size_t len) {
  cJSON *ev;
  int rc;

  if (len == 6 && memcmp(data, "[DONE]", 6) == 0) {
    chat_stream_end(st);
    return 0;
  }
  if (event != NULL && strcmp(event, "ping") == 0)
    return 0;
  ev = cJSON_ParseWithLength(data, len);
  if (!cJSON_IsObject(ev)) {
    cJSON_Delete(ev);
    return -1;
  }
  rc = apply_object(st, ev);
  cJSON_Delete(ev);
  return rc;
}

static const chat_codec sse_codec = {
    .name = "test_sse",
    .framing = CHAT_FRAMING_SSE,
    .stream_event = test_stream_event,
};

static const chat_codec ndjson_codec = {
    .name = "test_ndjson",
    .framing = CHAT_FRAMING_NDJSON,
    .stream_event = test_stream_event,
};

/* --- Helpers ------------------------------------------------------------- */

/* One SSE event holding a JSON literal. */
#define D(json) "data: " json "\n\n"

#define CHECK_SSE(lit, o) STREAM_SPLIT_CHECK(&sse_codec, lit, o)
#define CHECK_ND(lit, o) STREAM_SPLIT_CHECK(&ndjson_codec, lit, o)

/* --- Text and metadata --------------------------------------------------- */

Test(chat_stream, text_deltas_assemble_like_a_whole_response) {
  stream_outcome o;

  CHECK_SSE(
      D("{\"model\":\"gpt-4o-mini\",\"text\":\"\"}")
          D("{\"text\":\"Hello\"}") ": OPENROUTER PROCESSING\n\n" D(
              "{\"text\":\", wörld\"}") "event: ping\ndata: {}\n\n" D("{\"text"
                                                                      "\":\" "
                                                                      "✓\"}")
              D("{\"stop\":[\"stop\",\"stop\"]}")
                  D("{\"usage\":[9,3]}") "data: [DONE]\n\n",
      &o);
  expect_ok(&o);
  expect_content(&o, "Hello, wörld ✓");
  cr_assert_eq(o.n_deltas, 3, "the empty delta is not handed on");
  cr_assert_str_eq(o.resp.model, "gpt-4o-mini");
  cr_assert_str_eq(o.resp.finish_reason, "stop");
  cr_assert_eq(o.resp.stop, CHAT_STOP_END);
  cr_assert_eq(o.resp.input_tokens, 9);
  cr_assert_eq(o.resp.output_tokens, 3);
  cr_assert_eq(o.resp.n_tool_calls, 0);
  cr_assert_null(o.resp.tool_calls);
  cr_assert_eq(o.resp.has_cost, 0);
  cr_assert_eq(o.resp.has_logprob, 0);
  stream_outcome_free(&o);
}

Test(chat_stream, nothing_reported_gives_empty_defaults) {
  stream_outcome o;

  CHECK_SSE("data: [DONE]\n\n", &o);
  expect_ok(&o);
  expect_content(&o, "");
  cr_assert_eq(o.n_deltas, 0);
  cr_assert_null(o.resp.model);
  cr_assert_null(o.resp.finish_reason);
  cr_assert_eq(o.resp.stop, CHAT_STOP_NONE);
  cr_assert_eq(o.resp.input_tokens, -1);
  cr_assert_eq(o.resp.output_tokens, -1);
  stream_outcome_free(&o);
}

Test(chat_stream, ndjson_framing) {
  stream_outcome o;

  CHECK_ND("{\"model\":\"llama3.2\",\"text\":\"The\"}\n"
           "\r\n"
           "{\"text\":\" sky\"}\r\n"
           "  \n"
           "{\"stop\":[\"stop\",\"stop\"],\"usage\":[26,282],\"end\":true}",
           &o);
  expect_ok(&o);
  expect_content(&o, "The sky");
  cr_assert_eq(o.n_deltas, 2);
  cr_assert_str_eq(o.resp.model, "llama3.2");
  cr_assert_eq(o.resp.input_tokens, 26);
  cr_assert_eq(o.resp.output_tokens, 282);
  stream_outcome_free(&o);
}

Test(chat_stream, usage_and_cost_last_wins_model_first_wins) {
  stream_outcome o;

  CHECK_SSE(D("{\"model\":\"\",\"usage\":[25,1]}")
                D("{\"model\":\"first\",\"cost\":0.5}")
                    D("{\"model\":\"second\",\"usage\":[-1,15]}")
                        D("{\"usage\":[0,-1],\"cost\":0.00125}")
                            D("{\"end\":true}"),
            &o);
  expect_ok(&o);
  cr_assert_str_eq(o.resp.model, "first");
  cr_assert_eq(o.resp.input_tokens, 0);
  cr_assert_eq(o.resp.output_tokens, 15);
  cr_assert_eq(o.resp.has_cost, 1);
  cr_assert(o.resp.cost == 0.00125);
  stream_outcome_free(&o);
}

Test(chat_stream, stop_is_replaced_with_its_raw_word) {
  stream_outcome o;

  CHECK_SSE(D("{\"stop\":[\"length\",\"max_tokens\"]}")
                D("{\"stop\":[\"content_filter\",\"refusal\"]}")
                    D("{\"end\":true}"),
            &o);
  expect_ok(&o);
  cr_assert_eq(o.resp.stop, CHAT_STOP_CONTENT_FILTER);
  cr_assert_str_eq(o.resp.finish_reason, "refusal");
  stream_outcome_free(&o);

  CHECK_SSE(D("{\"stop\":[\"length\",\"length\"]}")
                D("{\"stop\":[\"stop\",null],\"end\":true}"),
            &o);
  expect_ok(&o);
  cr_assert_eq(o.resp.stop, CHAT_STOP_END);
  cr_assert_null(o.resp.finish_reason);
  stream_outcome_free(&o);
}

Test(chat_stream, events_after_the_end_still_count) {
  stream_outcome o;

  CHECK_SSE(D("{\"text\":\"a\"}") "data: [DONE]\n\n" D("{\"usage\":[1,2]}"),
            &o);
  expect_ok(&o);
  expect_content(&o, "a");
  cr_assert_eq(o.resp.output_tokens, 2);
  stream_outcome_free(&o);
}

Test(chat_stream, last_event_without_its_blank_line) {
  stream_outcome o;

  /* Cut after a line end: the [DONE] counts. */
  CHECK_SSE(D("{\"text\":\"a\"}") "data: [DONE]\n", &o);
  expect_ok(&o);
  stream_outcome_free(&o);
  /* Cut inside the line: it does not. */
  CHECK_SSE(D("{\"text\":\"a\"}") "data: [DONE]", &o);
  expect_fail(&o, CHAT_ERR_TRANSIENT, "truncated_stream");
  stream_outcome_free(&o);
}

/* --- Tool calls ---------------------------------------------------------- */

Test(chat_stream, tool_calls_assemble_by_index) {
  stream_outcome o;

  /* Two calls under indexes 3 and 1, fragments interleaved; ids and names
   * repeated (differently) later are ignored; index 1 starts with a
   * fragment and gets its name and id afterwards. */
  CHECK_SSE(
      D("{\"call\":{\"index\":3,\"id\":\"call_abc\","
        "\"name\":\"get_weather\"},\"args\":{\"index\":3,\"frag\":\"\"}}")
          D("{\"args\":{\"index\":1,\"frag\":\"{\\\"q\\\":\"}}") D(
              "{\"args\":{\"index\":3,\"frag\":\"{\\\"location\\\": "
              "\\\"Bos\"}}")
              D("{\"call\":{\"index\":1,\"id\":\"\",\"name\":\"search\"}}") D(
                  "{\"call\":{\"index\":1,\"id\":\"call_xyz\"},"
                  "\"args\":{\"index\":1,\"frag\":\"1}\"}}")
                  D("{\"call\":{\"index\":3,\"id\":\"other\",\"name\":"
                    "\"other\"},"
                    "\"args\":{\"index\":3,\"frag\":\"ton, MA\\\"}\"}}")
                      D("{\"stop\":[\"tool_calls\",\"tool_calls\"]}") "data: "
                                                                      "[DONE]"
                                                                      "\n\n",
      &o);
  expect_ok(&o);
  expect_content(&o, "");
  cr_assert_eq(o.resp.n_tool_calls, 2);
  expect_call(&o.resp.tool_calls[0], "call_xyz", "search", "{\"q\":1}");
  expect_call(&o.resp.tool_calls[1], "call_abc", "get_weather",
              "{\"location\": \"Boston, MA\"}");
  cr_assert_eq(o.resp.stop, CHAT_STOP_TOOL_CALLS);
  cr_assert_str_eq(o.resp.finish_reason, "tool_calls");
  stream_outcome_free(&o);
}

Test(chat_stream, tool_call_defaults) {
  stream_outcome o;

  /* No arguments, blank arguments, no id; a "stop" with tool calls is
   * reported as tool_calls (the raw word stays). */
  CHECK_ND("{\"text\":\"Let me check.\"}\n"
           "{\"call\":{\"index\":0,\"name\":\"now\"}}\n"
           "{\"call\":{\"index\":1,\"name\":\"today\"},"
           "\"args\":{\"index\":1,\"frag\":\" \\n \"}}\n"
           "{\"call\":{\"index\":1000000000000000,\"name\":\"far\"},"
           "\"args\":{\"index\":1000000000000000,\"frag\":\"[1, 2]\"}}\n"
           "{\"stop\":[\"stop\",\"stop\"],\"end\":true}\n",
           &o);
  expect_ok(&o);
  expect_content(&o, "Let me check.");
  cr_assert_eq(o.resp.n_tool_calls, 3);
  expect_call(&o.resp.tool_calls[0], "call_0", "now", "{}");
  expect_call(&o.resp.tool_calls[1], "call_1", "today", "{}");
  expect_call(&o.resp.tool_calls[2], "call_2", "far", "[1, 2]");
  cr_assert_eq(o.resp.stop, CHAT_STOP_TOOL_CALLS);
  cr_assert_str_eq(o.resp.finish_reason, "stop");
  stream_outcome_free(&o);
}

Test(chat_stream, length_stop_with_tool_calls_stays_length) {
  stream_outcome o;

  CHECK_SSE(D("{\"call\":{\"index\":0,\"id\":\"c\",\"name\":\"f\"}}")
                D("{\"stop\":[\"length\",\"length\"],\"end\":true}"),
            &o);
  expect_ok(&o);
  cr_assert_eq(o.resp.stop, CHAT_STOP_LENGTH);
  stream_outcome_free(&o);
}

Test(chat_stream, tool_arguments_must_be_json) {
  static const char *const bad[] = {
      D("{\"call\":{\"index\":0,\"name\":\"f\"},"
        "\"args\":{\"index\":0,\"frag\":\"{\\\"a\\\":\"}}"),
      D("{\"call\":{\"index\":0,\"name\":\"f\"},"
        "\"args\":{\"index\":0,\"frag\":\"{} x\"}}"),
      D("{\"call\":{\"index\":0,\"name\":\"f\"},"
        "\"args\":{\"index\":0,\"frag\":\"{}{}\"}}"),
      D("{\"call\":{\"index\":0,\"name\":\"f\"},"
        "\"args\":{\"index\":0,\"frag\":\"nul\"}}"),
      /* a raw NUL inside, which cJSON alone would take as the end */
      D("{\"call\":{\"index\":0,\"name\":\"f\"},"
        "\"args\":{\"index\":0,\"hex\":\"7b7d00\"}}"),
      /* not UTF-8 inside a string */
      D("{\"call\":{\"index\":0,\"name\":\"f\"},"
        "\"args\":{\"index\":0,\"hex\":\"7b2261223a22ff227d\"}}"),
  };
  size_t i;

  for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    buf body;
    stream_outcome o;

    buf_init(&body, 0);
    cr_assert_eq(buf_puts(&body, bad[i]), 0);
    cr_assert_eq(buf_puts(&body, "data: [DONE]\n\n"), 0);
    stream_split_check(&sse_codec, 0, body.data, body.len, &o);
    expect_fail(&o, CHAT_ERR_PERMANENT, "invalid_tool_arguments");
    stream_outcome_free(&o);
    buf_free(&body);
  }
}

/* Arguments are checked as CouncilEx.JSON.decode reads them (the strict
 * reader), not as cJSON does: what cJSON alone takes (a raw control
 * character in a string, "01", "1.") used to pass here, and the owner's
 * decoder then refused it and ran the tool with no arguments at all. What
 * the owner reads (\u0000, numbers past 63 digits) still passes. Found by
 * fuzz_stream_anthropic. */
Test(chat_stream, tool_arguments_are_read_as_strictly_as_the_owner_reads_them) {
  static const char *const bad[] = {
      /* {"a":"<0x17>"} */
      D("{\"call\":{\"index\":0,\"name\":\"f\"},"
        "\"args\":{\"index\":0,\"hex\":\"7b2261223a2217227d\"}}"),
      D("{\"call\":{\"index\":0,\"name\":\"f\"},"
        "\"args\":{\"index\":0,\"frag\":\"{\\\"a\\\":01}\"}}"),
      D("{\"call\":{\"index\":0,\"name\":\"f\"},"
        "\"args\":{\"index\":0,\"frag\":\"[1.]\"}}"),
  };
  static const char good[] =
      D("{\"call\":{\"index\":0,\"name\":\"f\"},"
        "\"args\":{\"index\":0,\"frag\":\"{\\\"a\\\":\\\"x\\\\u0000y\\\","
        "\\\"n\\\":1234567890123456789012345678901234567890123456789012345678"
        "901234567890}\"}}") "data: [DONE]\n\n";
  stream_outcome o;

  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    buf body;

    buf_init(&body, 0);
    cr_assert_eq(buf_puts(&body, bad[i]), 0);
    cr_assert_eq(buf_puts(&body, "data: [DONE]\n\n"), 0);
    stream_split_check(&sse_codec, 0, body.data, body.len, &o);
    expect_fail(&o, CHAT_ERR_PERMANENT, "invalid_tool_arguments");
    stream_outcome_free(&o);
    buf_free(&body);
  }
  stream_split_check(&sse_codec, 0, good, sizeof(good) - 1, &o);
  expect_ok(&o);
  cr_assert_eq(o.resp.n_tool_calls, 1);
  cr_assert_not_null(strstr(o.resp.tool_calls[0].arguments, "x\\u0000y"));
  stream_outcome_free(&o);
}

Test(chat_stream, tool_call_without_a_name_fails) {
  stream_outcome o;

  CHECK_SSE(D("{\"call\":{\"index\":0,\"id\":\"c\",\"name\":\"\"},"
              "\"args\":{\"index\":0,\"frag\":\"{}\"}}") "data: [DONE]\n\n",
            &o);
  expect_fail(&o, CHAT_ERR_PERMANENT, "missing_field");
  stream_outcome_free(&o);
}

Test(chat_stream, too_many_tool_calls_fail) {
  stream_outcome o;
  buf body;
  size_t i;

  buf_init(&body, 0);
  for (i = 0; i <= 1024; i++)
    cr_assert_eq(
        buf_printf(&body, D("{\"call\":{\"index\":%zu,\"name\":\"f\"}}"), i),
        0);
  cr_assert_eq(buf_puts(&body, "data: [DONE]\n\n"), 0);
  /* Too long for every 2-way split: fed whole only. */
  stream_run(&sse_codec, 0, body.data, body.len, NULL, 0, &o);
  expect_fail(&o, CHAT_ERR_PERMANENT, "too_many_tool_calls");
  cr_assert(o.feed_failed);
  stream_outcome_free(&o);
  buf_free(&body);
}

/* --- UTF-8 --------------------------------------------------------------- */

Test(chat_stream, character_cut_between_deltas_is_fine) {
  stream_outcome o;

  /* "€" is E2 82 AC, "😀" is F0 9F 98 80. */
  CHECK_SSE(D("{\"bytes\":\"41e2\"}") D("{\"bytes\":\"82\"}")
                D("{\"bytes\":\"acf09f\"}")
                    D("{\"bytes\":\"9880\"}") "data: [DONE]\n\n",
            &o);
  expect_ok(&o);
  expect_content(&o, "A€😀");
  cr_assert_eq(o.n_deltas, 4);
  stream_outcome_free(&o);
}

Test(chat_stream, text_left_cut_at_the_end_fails) {
  stream_outcome o;

  CHECK_SSE(D("{\"bytes\":\"41e282\"}") "data: [DONE]\n\n", &o);
  expect_fail(&o, CHAT_ERR_PERMANENT, "invalid_utf8");
  stream_outcome_free(&o);
  /* Well-formed pieces that make an overlong or a surrogate are refused
   * too: the whole text is checked. */
  CHECK_SSE(D("{\"bytes\":\"c0\"}") D("{\"bytes\":\"af\"}") "data: [DONE]\n\n",
            &o);
  expect_fail(&o, CHAT_ERR_PERMANENT, "invalid_utf8");
  stream_outcome_free(&o);
  CHECK_SSE(
      D("{\"bytes\":\"eda0\"}") D("{\"bytes\":\"80\"}") "data: [DONE]\n\n", &o);
  expect_fail(&o, CHAT_ERR_PERMANENT, "invalid_utf8");
  stream_outcome_free(&o);
}

Test(chat_stream, event_that_is_not_utf8_fails) {
  stream_outcome o;

  CHECK_SSE(D("{\"text\":\"a\"}") D("{\"text\":\"\xFF\"}")
                D("{\"text\":\"b\"}") "data: [DONE]\n\n",
            &o);
  expect_fail(&o, CHAT_ERR_PERMANENT, "invalid_utf8");
  cr_assert_eq(o.text.len, 1, "\"a\" went out before");
  stream_outcome_free(&o);

  CHECK_SSE("event: \xC3(\ndata: {}\n\ndata: [DONE]\n\n", &o);
  expect_fail(&o, CHAT_ERR_PERMANENT, "invalid_utf8");
  stream_outcome_free(&o);

  CHECK_ND("{\"text\":\"\xED\xA0\x80\"}\n{\"end\":true}\n", &o);
  expect_fail(&o, CHAT_ERR_PERMANENT, "invalid_utf8");
  stream_outcome_free(&o);
}

/* Events are checked as UTF-8 before the codec reads them, so a codec can
 * only pass a bad name or id by a bug of its own; it is still refused. */
static void expect_bad_call(const char *id, const char *name) {
  chat_stream *st = chat_stream_new(&sse_codec, 0, 0, NULL, NULL);
  chat_response r;
  chat_error e;

  chat_error_init(&e);
  cr_assert_eq(chat_stream_tool_call(st, 0, id, name), 0);
  chat_stream_end(st);
  cr_assert_eq(chat_stream_finish(st, &r, &e), -1);
  cr_assert_str_eq(e.reason, "invalid_utf8");
  assert_response_empty(&r);
  chat_error_free(&e);
  chat_stream_free(st);
}

Test(chat_stream_api, tool_call_name_or_id_not_utf8_fails) {
  expect_bad_call("call_1", "f\xFF");
  expect_bad_call("call_\xC3", "f");
}

/* A stream's own max_tool_calls: that many calls are fine, the next one
 * fails the stream at once (later feeds are refused) with a message that
 * names the cap; 0 and anything above the ceiling mean the ceiling. */
Test(chat_stream_api, max_tool_calls_caps_the_calls_of_one_stream) {
  chat_stream *st = chat_stream_new(&sse_codec, 0, 3, NULL, NULL);
  chat_response r;
  chat_error e;

  chat_error_init(&e);
  for (size_t i = 0; i < 3; i++)
    cr_assert_eq(chat_stream_tool_call(st, i, NULL, "f"), 0);
  cr_assert_eq(chat_stream_tool_call(st, 2, "again", NULL), 0,
               "a known index is no new call");
  cr_assert_eq(chat_stream_tool_args(st, 7, "{}", 2), -1, "call 4 of 3");
  cr_assert_eq(chat_stream_tool_count(st), 3);
  cr_assert_eq(chat_stream_feed(st, "data: [DONE]\n\n", 14), -1);
  cr_assert_eq(chat_stream_finish(st, &r, &e), -1);
  cr_assert_eq(e.kind, CHAT_ERR_PERMANENT);
  cr_assert_str_eq(e.reason, "too_many_tool_calls");
  cr_assert_not_null(strstr(e.message, "more than 3 tool calls"), "%s",
                     e.message);
  cr_assert_not_null(strstr(e.message, "max_tool_calls"));
  assert_response_empty(&r);
  chat_error_free(&e);
  chat_stream_free(st);

  cr_assert_eq(chat_tool_call_cap(0), CHAT_MAX_TOOL_CALLS);
  cr_assert_eq(chat_tool_call_cap(CHAT_MAX_TOOL_CALLS + 1),
               CHAT_MAX_TOOL_CALLS);
  cr_assert_eq(chat_tool_call_cap(1), 1);
}

/* --- Failures ------------------------------------------------------------ */

Test(chat_stream, error_event_fails_the_stream) {
  stream_outcome o;

  CHECK_SSE(
      D("{\"text\":\"partial\"}") D(
          "{\"error\":{\"kind\":\"transient\",\"reason\":\"overloaded\","
          "\"type\":\"overloaded_error\",\"message\":\"Overloaded\"}}")
          D("{\"text\":\" more\"}") D(
              "{\"error\":{\"kind\":\"permanent\",\"reason\":"
              "\"provider_error\",\"message\":\"second\"}}") "data: [DONE]\n\n",
      &o);
  expect_fail(&o, CHAT_ERR_TRANSIENT, "overloaded");
  cr_assert_str_eq(o.err.type, "overloaded_error");
  cr_assert_str_eq(o.err.message, "Overloaded");
  cr_assert_null(o.err.code);
  cr_assert(o.feed_failed);
  /* Only what came before the error reached on_text. */
  cr_assert_eq(o.text.len, 7);
  cr_assert(memcmp(o.text.data, "partial", 7) == 0);
  stream_outcome_free(&o);
}

Test(chat_stream, error_without_type_or_message) {
  stream_outcome o;

  CHECK_ND("{\"error\":{\"kind\":\"ok\",\"reason\":\"provider_error\"}}\n", &o);
  /* CHAT_OK is no failure kind: it becomes permanent. */
  expect_fail(&o, CHAT_ERR_PERMANENT, "provider_error");
  cr_assert_null(o.err.type);
  cr_assert_null(o.err.message);
  stream_outcome_free(&o);

  CHECK_ND("{\"error\":{\"kind\":\"transient\"}}\n", &o);
  expect_fail(&o, CHAT_ERR_TRANSIENT, "provider_error");
  stream_outcome_free(&o);
}

Test(chat_stream, stream_without_end_marker_is_truncated) {
  stream_outcome o;

  CHECK_SSE(D("{\"text\":\"Hel\"}") D("{\"text\":\"lo\"}"), &o);
  expect_fail(&o, CHAT_ERR_TRANSIENT, "truncated_stream");
  cr_assert_null(o.err.message);
  cr_assert_not(o.feed_failed);
  cr_assert_eq(o.text.len, 5, "the deltas went out as they came");
  stream_outcome_free(&o);

  CHECK_SSE("", &o);
  expect_fail(&o, CHAT_ERR_TRANSIENT, "truncated_stream");
  stream_outcome_free(&o);

  CHECK_ND("{\"text\":\"x\"}\n{\"end\":tr", &o);
  cr_assert_eq(o.rc, -1);
  stream_outcome_free(&o);
}

Test(chat_stream, event_the_codec_refuses_without_reason) {
  stream_outcome o;

  CHECK_SSE(D("{\"text\":\"a\"}") "data: not json\n\n"
                                  "data: [DONE]\n\n",
            &o);
  expect_fail(&o, CHAT_ERR_PERMANENT, "invalid_stream");
  stream_outcome_free(&o);

  CHECK_ND("{\"text\":\"a\"}\n[1]\n{\"end\":true}\n", &o);
  expect_fail(&o, CHAT_ERR_PERMANENT, "invalid_stream");
  stream_outcome_free(&o);
}

Test(chat_stream, nul_in_sse_event_name_fails) {
  stream_outcome o;

  CHECK_SSE("event: ping\0x\ndata: {\"text\":\"a\"}\n\ndata: [DONE]\n\n", &o);
  expect_fail(&o, CHAT_ERR_PERMANENT, "invalid_stream");
  stream_outcome_free(&o);
}

/* --- Size caps ----------------------------------------------------------- */

Test(chat_stream, text_cap) {
  stream_outcome o;
  /* Every line is at most 29 bytes, under the cap of 32; the text is 32
   * bytes, or 33. */
  static const char at_cap[] =
      D("{\"text\":\"123456789012\"}") D("{\"text\":\"123456789012\"}")
          D("{\"text\":\"12345678\"}") "data: [DONE]\n\n";
  static const char over[] =
      D("{\"text\":\"123456789012\"}") D("{\"text\":\"123456789012\"}")
          D("{\"text\":\"123456789\"}") "data: [DONE]\n\n";

  stream_split_check(&sse_codec, 32, at_cap, sizeof(at_cap) - 1, &o);
  expect_ok(&o);
  cr_assert_eq(o.resp.content_len, 32);
  stream_outcome_free(&o);

  stream_split_check(&sse_codec, 32, over, sizeof(over) - 1, &o);
  expect_fail(&o, CHAT_ERR_PERMANENT, "response_too_large");
  cr_assert(o.feed_failed);
  cr_assert_eq(o.text.len, 24, "the deltas under the cap went out");
  stream_outcome_free(&o);
}

Test(chat_stream, text_and_arguments_share_the_cap) {
  stream_outcome o;
  /* 10 bytes of text, 12 of arguments: 22 in all. Events are < 60. */
  static const char body[] = D("{\"text\":\"0123456789\"}") D(
      "{\"call\":{\"index\":0,\"name\":\"f\"}}")
      D("{\"args\":{\"index\":0,\"frag\":\"[1,2,\"}}") D(
          "{\"args\":{\"index\":0,\"frag\":\"3,4,5,6]\"}}") "data: [DONE]\n\n";

  stream_split_check(&sse_codec, 60, body, sizeof(body) - 1, &o);
  expect_ok(&o);
  cr_assert_str_eq(o.resp.tool_calls[0].arguments, "[1,2,3,4,5,6]");
  stream_outcome_free(&o);
  /* 40 bytes of text and 11 + 11 of arguments: over 60. */
  {
    static const char big[] = D(
        "{\"text\":\"0123456789012345678901234567890123456789\"}")
        D("{\"call\":{\"index\":0,\"name\":\"f\"}}") D(
            "{\"args\":{\"index\":0,\"frag\":\"[1,2,3,4,5,\"}}")
            D("{\"args\":{\"index\":0,\"frag\":\"6,7,8,9,10]\"}}") "data: "
                                                                   "[DONE]\n\n";

    stream_split_check(&sse_codec, 60, big, sizeof(big) - 1, &o);
    expect_fail(&o, CHAT_ERR_PERMANENT, "response_too_large");
    cr_assert_eq(o.text.len, 40, "the text before the cap went out");
    stream_outcome_free(&o);
  }
}

Test(chat_stream, oversized_event_or_line_fails) {
  /* The text is 2 bytes, well under the cap of 16; the event is not. */
  static const char sse[] = D("{\"text\":\"ok\"}") "data: [DONE]\n\n";
  static const char nd[] = "{\"text\":\"ok\"}\n{\"end\":true}\n";
  stream_outcome o;

  stream_split_check(&sse_codec, 16, sse, sizeof(sse) - 1, &o);
  expect_fail(&o, CHAT_ERR_PERMANENT, "response_too_large");
  cr_assert(o.feed_failed);
  cr_assert_eq(o.n_deltas, 0);
  stream_outcome_free(&o);

  /* The first line is 13 bytes. */
  stream_split_check(&ndjson_codec, 12, nd, sizeof(nd) - 1, &o);
  expect_fail(&o, CHAT_ERR_PERMANENT, "response_too_large");
  stream_outcome_free(&o);
  stream_split_check(&ndjson_codec, 13, nd, sizeof(nd) - 1, &o);
  expect_ok(&o);
  stream_outcome_free(&o);
}

/* --- The API itself ------------------------------------------------------ */

Test(chat_stream_api, new_refuses_a_codec_without_stream_event) {
  chat_codec no_stream = {.name = "x", .framing = CHAT_FRAMING_SSE};

  cr_assert_null(chat_stream_new(NULL, 0, 0, NULL, NULL));
  cr_assert_null(chat_stream_new(&no_stream, 0, 0, NULL, NULL));
}

Test(chat_stream_api, works_without_on_text) {
  chat_stream *st = chat_stream_new(&sse_codec, 0, 0, NULL, NULL);
  static const char body[] = D("{\"text\":\"hi\"}") "data: [DONE]\n\n";
  chat_response r;
  chat_error e;

  cr_assert_not_null(st);
  chat_error_init(&e);
  cr_assert_eq(chat_stream_feed(st, body, sizeof(body) - 1), 0);
  cr_assert_eq(chat_stream_finish(st, &r, &e), 0);
  cr_assert_str_eq(r.content, "hi");
  cr_assert_null(e.reason);
  chat_response_free(&r);
  chat_stream_free(st);
  chat_stream_free(NULL);
}

Test(chat_stream_api, finish_twice_gives_the_same_and_feed_after_is_refused) {
  chat_stream *st = chat_stream_new(&ndjson_codec, 0, 0, NULL, NULL);
  static const char body[] =
      "{\"text\":\"hi\",\"call\":{\"index\":2,\"name\":\"b\"}}\n"
      "{\"call\":{\"index\":1,\"name\":\"a\"},\"end\":true}";
  chat_response r1, r2;
  chat_error e;

  chat_error_init(&e);
  cr_assert_eq(chat_stream_feed(st, body, sizeof(body) - 1), 0);
  cr_assert_eq(chat_stream_finish(st, &r1, &e), 0);
  cr_assert_eq(chat_stream_feed(st, "{}\n", 3), -1);
  cr_assert_eq(chat_stream_finish(st, &r2, &e), 0);
  cr_assert_str_eq(r2.content, r1.content);
  cr_assert_eq(r2.n_tool_calls, 2);
  cr_assert_str_eq(r2.tool_calls[0].name, "a");
  cr_assert_str_eq(r2.tool_calls[0].id, r1.tool_calls[0].id);
  cr_assert_str_eq(r2.tool_calls[1].name, "b");
  chat_response_free(&r1);
  chat_response_free(&r2);
  chat_stream_free(st);
}

Test(chat_stream_api, failure_is_kept_and_later_calls_do_nothing) {
  chat_stream *st = chat_stream_new(&sse_codec, 0, 0, NULL, NULL);
  chat_response r;
  chat_error e;

  chat_error_init(&e);
  e.http_status = 200;
  cr_assert_eq(chat_stream_text(st, "a", 1), 0);
  cr_assert_eq(chat_stream_fail(st, CHAT_ERR_TIMEOUT, "first", "t", "m"), -1);
  cr_assert_eq(chat_stream_fail(st, CHAT_ERR_PERMANENT, "second", NULL, NULL),
               -1);
  cr_assert_eq(chat_stream_text(st, "b", 1), -1);
  cr_assert_eq(chat_stream_tool_call(st, 0, "i", "n"), -1);
  cr_assert_eq(chat_stream_tool_args(st, 0, "{}", 2), -1);
  cr_assert_eq(chat_stream_stop(st, CHAT_STOP_END, "stop"), -1);
  cr_assert_eq(chat_stream_model(st, "m"), -1);
  chat_stream_usage(st, 1, 2);
  chat_stream_cost(st, 1.0);
  chat_stream_end(st);
  cr_assert_eq(chat_stream_feed(st, "data: [DONE]\n\n", 14), -1);
  cr_assert_eq(chat_stream_finish(st, &r, &e), -1);
  cr_assert_str_eq(e.reason, "first");
  cr_assert_eq(e.kind, CHAT_ERR_TIMEOUT);
  cr_assert_str_eq(e.type, "t");
  cr_assert_str_eq(e.message, "m");
  cr_assert_eq(e.http_status, 200, "http_status is the caller's");
  assert_response_empty(&r);
  /* Finishing again replaces err's strings without leaking them. */
  cr_assert_eq(chat_stream_finish(st, &r, &e), -1);
  cr_assert_str_eq(e.message, "m");
  chat_error_free(&e);
  chat_stream_free(st);
}

Test(chat_stream_api, direct_calls_and_null_pieces) {
  chat_stream *st = chat_stream_new(&sse_codec, 0, 0, NULL, NULL);
  chat_response r;
  chat_error e;

  chat_error_init(&e);
  cr_assert_eq(chat_stream_text(st, NULL, 0), 0);
  cr_assert_eq(chat_stream_tool_call(st, 7, NULL, NULL), 0);
  cr_assert_eq(chat_stream_tool_args(st, 7, NULL, 0), 0);
  cr_assert_eq(chat_stream_tool_call(st, 7, NULL, "f"), 0);
  cr_assert_eq(chat_stream_model(st, NULL), 0);
  cr_assert_eq(chat_stream_stop(st, CHAT_STOP_OTHER, NULL), 0);
  chat_stream_cost(st, INFINITY);
  chat_stream_cost(st, NAN);
  chat_stream_end(st);
  cr_assert_eq(chat_stream_finish(st, &r, &e), 0);
  cr_assert_eq(r.n_tool_calls, 1);
  expect_call(&r.tool_calls[0], "call_0", "f", "{}");
  cr_assert_eq(r.stop, CHAT_STOP_OTHER);
  cr_assert_null(r.finish_reason);
  cr_assert_null(r.model);
  cr_assert_eq(r.has_cost, 0, "a non-finite cost is ignored");
  chat_response_free(&r);

  chat_stream_free(st);

  /* A NULL text with a length is a codec bug: the stream fails. */
  st = chat_stream_new(&sse_codec, 0, 0, NULL, NULL);
  cr_assert_eq(chat_stream_text(st, NULL, 3), -1);
  chat_stream_end(st);
  cr_assert_eq(chat_stream_finish(st, &r, &e), -1);
  cr_assert_str_eq(e.reason, "invalid_stream");
  chat_error_free(&e);
  chat_stream_free(st);
}

/* --- A longer mixed stream ----------------------------------------------- */

Test(chat_stream, long_mixed_stream_with_crlf) {
  stream_outcome o;

  CHECK_SSE(
      "\xEF\xBB\xBF: hello\r\n\r\n"
      "event: message_start\r\n"
      "data: {\"model\":\"claude\",\"usage\":[25,1]}\r\n\r\n"
      /* not JSON: only skipped if the name survives every cut */
      "event: ping\r\ndata: ping\r\n\r\n"
      /* one event in three data lines */
      "data: {\"text\":\r\ndata: \"Grüße, \"\r\ndata: }\r\n\r\n"
      "data: {\"bytes\":\"e697a5\"}\r\r"
      "data: {\"bytes\":\"e69c\"}\n\n"
      "data: {\"bytes\":\"ac\"}\r\n\r\n"
      "data: {\"call\":{\"index\":1,\"id\":\"toolu_01\",\"name\":\"get\"}}\r\r"
      "data: {\"args\":{\"index\":1,\"frag\":\"\"}}\r\n\r\n"
      "data: {\"args\":{\"index\":1,\"frag\":\"{\\\"city\\\":\"}}\n\n"
      ": keep-alive\r\n"
      "data: {\"args\":{\"index\":1,\"frag\":\" \\\"Tōkyō\\\"}\"}}\r\n\r\n"
      "event: message_delta\r\n"
      "data: {\"stop\":[\"tool_calls\",\"tool_use\"],\"usage\":[-1,89]}"
      "\r\n\r\n"
      "event: message_stop\r\ndata: {\"end\":true}\r\n\r\n",
      &o);
  expect_ok(&o);
  expect_content(&o, "Grüße, 日本");
  cr_assert_eq(o.n_deltas, 4);
  cr_assert_str_eq(o.resp.model, "claude");
  cr_assert_eq(o.resp.input_tokens, 25);
  cr_assert_eq(o.resp.output_tokens, 89);
  cr_assert_eq(o.resp.n_tool_calls, 1);
  expect_call(&o.resp.tool_calls[0], "toolu_01", "get",
              "{\"city\": \"Tōkyō\"}");
  cr_assert_eq(o.resp.stop, CHAT_STOP_TOOL_CALLS);
  cr_assert_str_eq(o.resp.finish_reason, "tool_use");
  stream_outcome_free(&o);
}
