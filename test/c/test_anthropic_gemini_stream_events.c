/* test_anthropic_gemini_stream_events.c - unit tests for the stream_event
 * functions of anthropic_codec.c and gemini_codec.c.
 *
 * The real stream assembly (chat_stream.c) is written separately, so this
 * file holds a recording fake of the chat_stream_* calls the codecs make:
 * every call is logged as one line ("text Hello", "tool 0 id name",
 * "stop stop end_turn", "end", "fail transient provider_error ...") and
 * also applied to a small assembled state, and the tests compare both.
 * Events come from the .sse files in test/fixtures/anthropic and gemini, cut into
 * events by a minimal reader of the fixtures' `event:`/`data:` lines.
 *
 * Once chat_stream.c exists this file can't be linked with it (the fake
 * defines the same functions); see the report that came with it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>
#include <criterion/criterion.h>

#include "anthropic_codec.h"
#include "buf.h"
#include "chat.h"
#include "chat_stream.h"
#include "fixtures.h"
#include "gemini_codec.h"

/* --- Recording fake of the chat_stream_* calls --------------------------- */

#define FAKE_MAX_TOOLS 8

struct chat_stream {
  buf log;                    /* one line per call */
  buf text;                   /* text deltas joined */
  buf args[FAKE_MAX_TOOLS];   /* each tool call's argument fragments */
  size_t n_tools;
  long input_tokens, output_tokens;
  chat_stop stop;
  int ended, failed;
  chat_error_kind fail_kind;
  int refuse; /* make the int-returning calls fail, as a size cap would */
};

static void fake_init(chat_stream *st) {
  size_t i;

  memset(st, 0, sizeof(*st));
  buf_init(&st->log, 0);
  buf_init(&st->text, 0);
  for (i = 0; i < FAKE_MAX_TOOLS; i++)
    buf_init(&st->args[i], 0);
  st->input_tokens = -1;
  st->output_tokens = -1;
}

static void fake_free(chat_stream *st) {
  size_t i;

  buf_free(&st->log);
  buf_free(&st->text);
  for (i = 0; i < FAKE_MAX_TOOLS; i++)
    buf_free(&st->args[i]);
}

/* The log so far ("" when empty). */
static const char *fake_log(const chat_stream *st) {
  return st->log.len > 0 ? st->log.data : "";
}

static const char *or_dash(const char *s) {
  return s != NULL ? s : "-";
}

int chat_stream_text(chat_stream *st, const char *text, size_t len) {
  cr_assert_not_null(text);
  cr_assert_gt(len, 0, "codecs should not send empty deltas");
  cr_assert(chat_utf8_valid(text, len));
  buf_printf(&st->log, "text %.*s\n", (int)len, text);
  if (st->refuse)
    return -1;
  buf_append(&st->text, text, len);
  return 0;
}

int chat_stream_tool_call(chat_stream *st, size_t index, const char *id,
                          const char *name) {
  buf_printf(&st->log, "tool %zu %s %s\n", index, or_dash(id), or_dash(name));
  /* Codecs number calls densely: the next one, or one already open. */
  cr_assert_leq(index, st->n_tools, "tool index %zu skips ahead", index);
  cr_assert_lt(index, FAKE_MAX_TOOLS);
  if (st->refuse)
    return -1;
  if (index == st->n_tools)
    st->n_tools++;
  return 0;
}

size_t chat_stream_tool_count(const chat_stream *st) {
  return st->n_tools;
}

int chat_stream_tool_args(chat_stream *st, size_t index, const char *frag,
                          size_t len) {
  buf_printf(&st->log, "args %zu %.*s\n", index, (int)len, frag);
  cr_assert_lt(index, st->n_tools, "args for unopened tool %zu", index);
  if (st->refuse)
    return -1;
  buf_append(&st->args[index], frag, len);
  return 0;
}

int chat_stream_stop(chat_stream *st, chat_stop stop, const char *raw) {
  buf_printf(&st->log, "stop %s %s\n", chat_stop_name(stop), or_dash(raw));
  if (st->refuse)
    return -1;
  st->stop = stop;
  return 0;
}

void chat_stream_usage(chat_stream *st, long input_tokens,
                       long output_tokens) {
  buf_printf(&st->log, "usage %ld %ld\n", input_tokens, output_tokens);
  if (input_tokens >= 0)
    st->input_tokens = input_tokens;
  if (output_tokens >= 0)
    st->output_tokens = output_tokens;
}

void chat_stream_cost(chat_stream *st, double cost) {
  buf_printf(&st->log, "cost %g\n", cost);
}

int chat_stream_model(chat_stream *st, const char *model) {
  buf_printf(&st->log, "model %s\n", or_dash(model));
  return st->refuse ? -1 : 0;
}

void chat_stream_end(chat_stream *st) {
  buf_puts(&st->log, "end\n");
  st->ended = 1;
}

int chat_stream_fail(chat_stream *st, chat_error_kind kind,
                     const char *reason, const char *type,
                     const char *message) {
  buf_printf(&st->log, "fail %s %s %s %s\n", chat_error_kind_name(kind),
             or_dash(reason), or_dash(type), or_dash(message));
  st->failed = 1;
  st->fail_kind = kind;
  return -1;
}

/* --- Feeding events ------------------------------------------------------ */

typedef int (*event_fn)(chat_stream *st, const char *event, const char *data,
                        size_t len);

/* Calls fn with data copied to an exact-size buffer, so ASan catches any
 * read past len. */
static int send_event(event_fn fn, chat_stream *st, const char *event,
                      const char *data, size_t len) {
  char *copy = fixture_exact_copy(data, len);
  int rc = fn(st, event, copy, len);

  free(copy);
  return rc;
}

#define SEND(fn, st, event, lit) send_event(fn, st, event, lit, sizeof(lit) - 1)

/* Reads test/fixtures/<name>, an SSE fixture whose events are `event:`
 * and `data:` lines ended by a blank line, and sends each event to fn.
 * Returns how many events returned -1. */
static int send_fixture(event_fn fn, chat_stream *st, const char *name) {
  size_t len;
  char *text = fixture_read(name, &len);
  char *line, *save = NULL;
  char event[64] = "";
  buf data;
  int failures = 0, have = 0;

  cr_assert_not_null(text, "cannot read test/fixtures/%s", name);
  buf_init(&data, 0);
  /* strtok_r would merge blank lines; walk line by line instead. */
  for (line = text; line != NULL; line = save) {
    char *nl = strchr(line, '\n');

    save = nl != NULL ? nl + 1 : NULL;
    if (nl != NULL)
      *nl = '\0';
    if (line[0] == '\0') {
      if (have && send_event(fn, st, event[0] ? event : NULL,
                             data.len ? data.data : "", data.len) != 0)
        failures++;
      event[0] = '\0';
      buf_free(&data);
      have = 0;
    }
    else if (strncmp(line, "event: ", 7) == 0) {
      snprintf(event, sizeof(event), "%s", line + 7);
      have = 1;
    }
    else if (strncmp(line, "data: ", 6) == 0) {
      if (data.len > 0)
        buf_puts(&data, "\n");
      buf_puts(&data, line + 6);
      have = 1;
    }
  }
  if (have && send_event(fn, st, event[0] ? event : NULL,
                         data.len ? data.data : "", data.len) != 0)
    failures++;
  buf_free(&data);
  free(text);
  return failures;
}

/* The assembled arguments of tool call i, as a C string. */
static const char *fake_args(const chat_stream *st, size_t i) {
  return st->args[i].len > 0 ? st->args[i].data : "";
}

static void assert_json_eq(const char *text, const char *expected) {
  cJSON *a = cJSON_Parse(text), *b = cJSON_Parse(expected);

  cr_assert_not_null(a, "not JSON: %s", text);
  cr_assert_not_null(b);
  cr_assert(cJSON_Compare(a, b, 1), "%s != %s", text, expected);
  cJSON_Delete(a);
  cJSON_Delete(b);
}

/* --- Anthropic ----------------------------------------------------------- */

Test(anthropic_stream, basic_vector) {
  chat_stream st;

  fake_init(&st);
  cr_assert_eq(send_fixture(anthropic_stream_event, &st,
                            "anthropic/stream_basic.sse"),
               0);
  cr_assert_str_eq(fake_log(&st), "model claude-sonnet-4-5-20250929\n"
                                  "usage 25 1\n"
                                  "text Hello\n"
                                  "text !\n"
                                  "stop stop end_turn\n"
                                  "usage -1 15\n"
                                  "end\n");
  cr_assert_str_eq(st.text.data, "Hello!");
  cr_assert_eq(st.input_tokens, 25);
  cr_assert_eq(st.output_tokens, 15);
  cr_assert_eq(st.stop, CHAT_STOP_END);
  cr_assert(st.ended);
  cr_assert_not(st.failed);
  fake_free(&st);
}

Test(anthropic_stream, tool_use_vector) {
  chat_stream st;

  fake_init(&st);
  cr_assert_eq(send_fixture(anthropic_stream_event, &st,
                            "anthropic/stream_tool_use.sse"),
               0);
  cr_assert_eq(st.n_tools, 1);
  cr_assert_str_eq(fake_args(&st, 0),
                   "{\"location\": \"San Francisco, CA\", \"unit\": "
                   "\"fahrenheit\"}");
  assert_json_eq(fake_args(&st, 0),
                 "{\"location\":\"San Francisco, CA\",\"unit\":"
                 "\"fahrenheit\"}");
  cr_assert_not_null(strstr(fake_log(&st), "tool 0 "
                                           "toolu_01T1x1fJ34qAmk2tNTrN7Up6 "
                                           "get_weather\n"));
  /* The empty first fragment is not passed on. */
  cr_assert_null(strstr(fake_log(&st), "args 0 \n"));
  cr_assert_eq(st.stop, CHAT_STOP_TOOL_CALLS);
  cr_assert_eq(st.output_tokens, 89);
  cr_assert(st.ended);
  cr_assert_eq(st.text.len, 0);
  fake_free(&st);
}

Test(anthropic_stream, error_vector_fails_the_stream) {
  chat_stream st;

  fake_init(&st);
  cr_assert_eq(send_fixture(anthropic_stream_event, &st,
                            "anthropic/stream_error.sse"),
               1);
  cr_assert_str_eq(fake_log(&st), "fail transient provider_error "
                                  "overloaded_error Overloaded\n");
  cr_assert_eq(st.fail_kind, CHAT_ERR_TRANSIENT);
  fake_free(&st);
}

Test(anthropic_stream, error_kinds_follow_the_type) {
  static const struct {
    const char *data;
    const char *line;
  } cases[] = {
      {"{\"type\":\"error\",\"error\":{\"type\":\"api_error\",\"message\":"
       "\"boom\"}}",
       "fail transient provider_error api_error boom\n"},
      {"{\"type\":\"error\",\"error\":{\"type\":\"rate_limit_error\","
       "\"message\":\"slow\"}}",
       "fail transient provider_error rate_limit_error slow\n"},
      {"{\"type\":\"error\",\"error\":{\"type\":\"invalid_request_error\","
       "\"message\":\"bad\"}}",
       "fail permanent provider_error invalid_request_error bad\n"},
      /* No message: the data itself stands in, as for HTTP bodies. */
      {"{\"type\":\"error\"}",
       "fail permanent provider_error - {\"type\":\"error\"}\n"},
      /* Unreadable data is still an error event: it fails, with the text
       * as the message. */
      {"upstream connect error", "fail permanent provider_error - "
                                 "upstream connect error\n"},
  };
  size_t i;

  for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    chat_stream st;

    fake_init(&st);
    cr_assert_eq(send_event(anthropic_stream_event, &st, "error",
                            cases[i].data, strlen(cases[i].data)),
                 -1);
    cr_assert_str_eq(fake_log(&st), cases[i].line, "case %zu", i);
    fake_free(&st);
  }
}

Test(anthropic_stream, non_utf8_error_event_has_no_message) {
  chat_stream st;

  fake_init(&st);
  cr_assert_eq(SEND(anthropic_stream_event, &st, "error", "\xff\xfe"), -1);
  cr_assert_str_eq(fake_log(&st), "fail permanent provider_error - -\n");
  fake_free(&st);
}

Test(anthropic_stream, text_block_then_two_tool_blocks) {
  /* Content block indexes count text blocks too; tool calls are numbered
   * on their own, in the order their blocks start. */
  chat_stream st;

  fake_init(&st);
  cr_assert_eq(SEND(anthropic_stream_event, &st, "content_block_start",
                    "{\"type\":\"content_block_start\",\"index\":0,"
                    "\"content_block\":{\"type\":\"text\",\"text\":\"\"}}"),
               0);
  cr_assert_eq(SEND(anthropic_stream_event, &st, "content_block_delta",
                    "{\"type\":\"content_block_delta\",\"index\":0,\"delta\":"
                    "{\"type\":\"text_delta\",\"text\":\"Checking.\"}}"),
               0);
  cr_assert_eq(SEND(anthropic_stream_event, &st, "content_block_stop",
                    "{\"type\":\"content_block_stop\",\"index\":0}"),
               0);
  cr_assert_eq(SEND(anthropic_stream_event, &st, "content_block_start",
                    "{\"type\":\"content_block_start\",\"index\":1,"
                    "\"content_block\":{\"type\":\"tool_use\",\"id\":\"t1\","
                    "\"name\":\"a\",\"input\":{}}}"),
               0);
  cr_assert_eq(SEND(anthropic_stream_event, &st, "content_block_delta",
                    "{\"type\":\"content_block_delta\",\"index\":1,\"delta\":"
                    "{\"type\":\"input_json_delta\",\"partial_json\":"
                    "\"{\\\"x\\\":1}\"}}"),
               0);
  cr_assert_eq(SEND(anthropic_stream_event, &st, "content_block_start",
                    "{\"type\":\"content_block_start\",\"index\":2,"
                    "\"content_block\":{\"type\":\"tool_use\",\"id\":\"t2\","
                    "\"name\":\"b\",\"input\":{}}}"),
               0);
  cr_assert_eq(SEND(anthropic_stream_event, &st, "content_block_delta",
                    "{\"type\":\"content_block_delta\",\"index\":2,\"delta\":"
                    "{\"type\":\"input_json_delta\",\"partial_json\":"
                    "\"{\\\"y\\\":\"}}"),
               0);
  cr_assert_eq(SEND(anthropic_stream_event, &st, "content_block_delta",
                    "{\"type\":\"content_block_delta\",\"index\":2,\"delta\":"
                    "{\"type\":\"input_json_delta\",\"partial_json\":"
                    "\"2}\"}}"),
               0);
  cr_assert_str_eq(fake_log(&st), "text Checking.\n"
                                  "tool 0 t1 a\n"
                                  "args 0 {\"x\":1}\n"
                                  "tool 1 t2 b\n"
                                  "args 1 {\"y\":\n"
                                  "args 1 2}\n");
  cr_assert_str_eq(fake_args(&st, 1), "{\"y\":2}");
  fake_free(&st);
}

Test(anthropic_stream, ignored_events) {
  static const char *const names[] = {"ping", "content_block_stop",
                                      "future_event", "message"};
  chat_stream st;
  size_t i;

  fake_init(&st);
  for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
    /* Their data is not even looked at. */
    cr_assert_eq(SEND(anthropic_stream_event, &st, names[i], "{not json"), 0);
    cr_assert_eq(SEND(anthropic_stream_event, &st, names[i], "\xff"), 0);
    cr_assert_eq(send_event(anthropic_stream_event, &st, names[i], "", 0), 0);
  }
  /* Unnamed and typed as something unknown, or empty. */
  cr_assert_eq(SEND(anthropic_stream_event, &st, NULL,
                    "{\"type\":\"future_event\",\"x\":1}"),
               0);
  cr_assert_eq(send_event(anthropic_stream_event, &st, NULL, "", 0), 0);
  cr_assert_eq(SEND(anthropic_stream_event, &st, "", "{\"type\":\"ping\"}"),
               0);
  cr_assert_str_eq(fake_log(&st), "");
  fake_free(&st);
}

Test(anthropic_stream, thinking_blocks_are_skipped) {
  chat_stream st;

  fake_init(&st);
  cr_assert_eq(SEND(anthropic_stream_event, &st, "content_block_start",
                    "{\"type\":\"content_block_start\",\"index\":0,"
                    "\"content_block\":{\"type\":\"thinking\",\"thinking\":"
                    "\"\"}}"),
               0);
  cr_assert_eq(SEND(anthropic_stream_event, &st, "content_block_delta",
                    "{\"type\":\"content_block_delta\",\"index\":0,\"delta\":"
                    "{\"type\":\"thinking_delta\",\"thinking\":\"hmm\"}}"),
               0);
  cr_assert_eq(SEND(anthropic_stream_event, &st, "content_block_delta",
                    "{\"type\":\"content_block_delta\",\"index\":0,\"delta\":"
                    "{\"type\":\"signature_delta\",\"signature\":\"EqQB\"}}"),
               0);
  cr_assert_str_eq(fake_log(&st), "");
  fake_free(&st);
}

Test(anthropic_stream, unnamed_events_dispatch_on_type) {
  /* A gateway that sends only data: lines. */
  chat_stream st;

  fake_init(&st);
  cr_assert_eq(SEND(anthropic_stream_event, &st, NULL,
                    "{\"type\":\"message_start\",\"message\":{\"model\":"
                    "\"m\",\"usage\":{\"input_tokens\":3}}}"),
               0);
  cr_assert_eq(SEND(anthropic_stream_event, &st, NULL,
                    "{\"type\":\"content_block_delta\",\"index\":0,"
                    "\"delta\":{\"type\":\"text_delta\",\"text\":\"hi\"}}"),
               0);
  cr_assert_eq(SEND(anthropic_stream_event, &st, NULL,
                    "{\"type\":\"message_delta\",\"delta\":{\"stop_reason\":"
                    "\"max_tokens\"},\"usage\":{\"output_tokens\":9}}"),
               0);
  cr_assert_eq(SEND(anthropic_stream_event, &st, NULL,
                    "{\"type\":\"message_stop\"}"),
               0);
  cr_assert_str_eq(fake_log(&st), "model m\n"
                                  "usage 3 -1\n"
                                  "text hi\n"
                                  "stop length max_tokens\n"
                                  "usage -1 9\n"
                                  "end\n");
  fake_free(&st);
  fake_init(&st);
  cr_assert_eq(SEND(anthropic_stream_event, &st, NULL,
                    "{\"type\":\"error\",\"error\":{\"type\":"
                    "\"overloaded_error\",\"message\":\"Overloaded\"}}"),
               -1);
  cr_assert_str_eq(fake_log(&st), "fail transient provider_error "
                                  "overloaded_error Overloaded\n");
  fake_free(&st);
}

Test(anthropic_stream, message_stop_needs_no_data) {
  chat_stream st;

  fake_init(&st);
  cr_assert_eq(send_event(anthropic_stream_event, &st, "message_stop", "", 0),
               0);
  cr_assert_eq(SEND(anthropic_stream_event, &st, "message_stop", "garbage"),
               0);
  cr_assert_str_eq(fake_log(&st), "end\nend\n");
  fake_free(&st);
}

Test(anthropic_stream, usage_from_a_gateway_and_cache_counts) {
  chat_stream st;

  fake_init(&st);
  /* message_start says 0 input tokens; message_delta has the real count
   * (plus cache reads), which wins. */
  cr_assert_eq(SEND(anthropic_stream_event, &st, "message_start",
                    "{\"type\":\"message_start\",\"message\":{\"usage\":"
                    "{\"input_tokens\":0,\"output_tokens\":1}}}"),
               0);
  cr_assert_eq(SEND(anthropic_stream_event, &st, "message_delta",
                    "{\"type\":\"message_delta\",\"delta\":{\"stop_reason\":"
                    "null},\"usage\":{\"input_tokens\":10,"
                    "\"cache_read_input_tokens\":90,"
                    "\"cache_creation_input_tokens\":5,"
                    "\"output_tokens\":7}}"),
               0);
  cr_assert_str_eq(fake_log(&st), "usage 0 1\nusage 105 7\n");
  cr_assert_eq(st.input_tokens, 105);
  cr_assert_eq(st.output_tokens, 7);
  fake_free(&st);
}

Test(anthropic_stream, stop_reasons) {
  static const struct {
    const char *raw;
    const char *line;
  } cases[] = {
      {"end_turn", "stop stop end_turn\n"},
      {"stop_sequence", "stop stop stop_sequence\n"},
      {"max_tokens", "stop length max_tokens\n"},
      {"tool_use", "stop tool_calls tool_use\n"},
      {"refusal", "stop content_filter refusal\n"},
      {"pause_turn", "stop other pause_turn\n"},
      {"something_new", "stop other something_new\n"},
  };
  size_t i;

  for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    char data[256];
    chat_stream st;

    snprintf(data, sizeof(data),
             "{\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"%s\"}}",
             cases[i].raw);
    fake_init(&st);
    cr_assert_eq(send_event(anthropic_stream_event, &st, "message_delta",
                            data, strlen(data)),
                 0);
    cr_assert_str_eq(fake_log(&st), cases[i].line);
    fake_free(&st);
  }
}

Test(anthropic_stream, malformed_events_fail) {
  static const struct {
    const char *event;
    const char *data;
    const char *line;
  } cases[] = {
      {"content_block_delta", "{\"type\":\"content_block_delta\",",
       "fail permanent invalid_json - -\n"},
      {"content_block_delta", "[1,2]", "fail permanent missing_field - -\n"},
      {"content_block_delta", "{\"delta\":{}}",
       "fail permanent missing_field - -\n"},
      {"content_block_delta", "{\"delta\":{\"type\":\"text_delta\"}}",
       "fail permanent missing_field - -\n"},
      {"content_block_delta",
       "{\"delta\":{\"type\":\"text_delta\",\"text\":5}}",
       "fail permanent missing_field - -\n"},
      /* arguments for a tool call that never started */
      {"content_block_delta",
       "{\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"{\"}}",
       "fail permanent missing_field - -\n"},
      {"content_block_start", "{\"content_block\":{\"type\":\"tool_use\","
                              "\"name\":\"x\"}}",
       "fail permanent missing_field - -\n"},
      {"content_block_start", "{\"content_block\":{\"type\":\"tool_use\","
                              "\"id\":\"t\",\"name\":\"\"}}",
       "fail permanent missing_field - -\n"},
      {"content_block_start", "{\"content_block\":{\"type\":\"text\","
                              "\"text\":[]}}",
       "fail permanent missing_field - -\n"},
      {"content_block_start", "{}", "fail permanent missing_field - -\n"},
      {"message_start", "{\"type\":\"message_start\"}",
       "fail permanent missing_field - -\n"},
      {"message_delta", "{\"delta\":{\"stop_reason\":7}}",
       "fail permanent missing_field - -\n"},
      {NULL, "{\"no_type\":1}", "fail permanent missing_field - -\n"},
      {NULL, "not json", "fail permanent invalid_json - -\n"},
      {NULL, "\"\xc3\"", "fail permanent invalid_utf8 - -\n"},
      {"content_block_delta", "{\"delta\":{\"type\":\"text_delta\","
                              "\"text\":\"\xed\xa0\x80\"}}",
       "fail permanent invalid_utf8 - -\n"},
  };
  size_t i;

  for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    size_t len = strlen(cases[i].data);
    chat_stream st;

    fake_init(&st);
    cr_assert_eq(send_event(anthropic_stream_event, &st, cases[i].event,
                            cases[i].data, len),
                 -1, "case %zu", i);
    cr_assert_str_eq(fake_log(&st), cases[i].line, "case %zu", i);
    cr_assert_eq(st.fail_kind, CHAT_ERR_PERMANENT);
    fake_free(&st);
  }
}

Test(anthropic_stream, raw_nul_in_data_fails) {
  static const char data[] = "{\"message\":{}}\0";
  chat_stream st;

  fake_init(&st);
  cr_assert_eq(send_event(anthropic_stream_event, &st, "message_start", data,
                          sizeof(data) - 1),
               -1);
  cr_assert_str_eq(fake_log(&st), "fail permanent invalid_json - -\n");
  fake_free(&st);
}

Test(anthropic_stream, refusals_from_the_stream_propagate) {
  static const struct {
    const char *event;
    const char *data;
  } cases[] = {
      {"content_block_delta", "{\"delta\":{\"type\":\"text_delta\","
                              "\"text\":\"x\"}}"},
      {"content_block_start", "{\"content_block\":{\"type\":\"text\","
                              "\"text\":\"x\"}}"},
      {"content_block_start", "{\"content_block\":{\"type\":\"tool_use\","
                              "\"id\":\"t\",\"name\":\"n\"}}"},
      {"message_delta", "{\"delta\":{\"stop_reason\":\"end_turn\"}}"},
      {"message_start", "{\"message\":{\"model\":\"m\"}}"},
  };
  size_t i;

  for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    chat_stream st;

    fake_init(&st);
    st.refuse = 1;
    cr_assert_eq(send_event(anthropic_stream_event, &st, cases[i].event,
                            cases[i].data, strlen(cases[i].data)),
                 -1, "case %zu", i);
    fake_free(&st);
  }
}

Test(anthropic_stream, every_prefix_of_every_event_is_handled) {
  static const char *const files[] = {"anthropic/stream_basic.sse",
                                      "anthropic/stream_tool_use.sse"};
  size_t f;

  /* Each event's data cut short must fail cleanly or (for events whose
   * data is not read) be ignored: never crash or read past the end. */
  for (f = 0; f < 2; f++) {
    size_t len;
    char *text = fixture_read(files[f], &len);
    char *p = text;

    cr_assert_not_null(text);
    while ((p = strstr(p, "event: ")) != NULL) {
      char name[64];
      char *data = strstr(p, "data: "), *end;
      size_t n, cut;

      cr_assert_not_null(data);
      snprintf(name, sizeof(name), "%.*s", (int)strcspn(p + 7, "\n"), p + 7);
      data += 6;
      end = strchr(data, '\n');
      n = (size_t)(end - data);
      for (cut = 0; cut <= n; cut++) {
        chat_stream st;
        int rc;

        fake_init(&st);
        if (strcmp(name, "content_block_delta") == 0 ||
            strcmp(name, "message_delta") == 0) {
          /* deltas refer to an open tool call */
          st.n_tools = 2;
        }
        rc = send_event(anthropic_stream_event, &st, name, data, cut);
        cr_assert(rc == 0 || st.failed, "%s cut at %zu", name, cut);
        if (cut < n && strcmp(name, "ping") != 0 &&
            strcmp(name, "content_block_stop") != 0 &&
            strcmp(name, "message_stop") != 0)
          cr_assert_eq(rc, -1, "%s cut at %zu parsed", name, cut);
        fake_free(&st);
      }
      p = end;
    }
    free(text);
  }
}

/* --- Gemini -------------------------------------------------------------- */

Test(gemini_stream, basic_vector) {
  chat_stream st;

  fake_init(&st);
  cr_assert_eq(send_fixture(gemini_stream_event, &st, "gemini/stream_basic.sse"),
               0);
  cr_assert_str_eq(fake_log(&st), "model gemini-3.1-flash-lite\n"
                                  "usage 7 -1\n"
                                  "text The\n"
                                  "model gemini-3.1-flash-lite\n"
                                  "usage 7 -1\n"
                                  "text  capital of Wyoming\n"
                                  "model gemini-3.1-flash-lite\n"
                                  "usage 7 10\n"
                                  "text  is **Cheyenne**.\n\n"
                                  "stop stop STOP\n"
                                  "end\n");
  cr_assert_str_eq(st.text.data, "The capital of Wyoming is **Cheyenne**.\n");
  cr_assert_eq(st.input_tokens, 7);
  cr_assert_eq(st.output_tokens, 10);
  cr_assert_eq(st.stop, CHAT_STOP_END);
  cr_assert(st.ended);
  fake_free(&st);
}

Test(gemini_stream, blocked_prompt_chunk_ends_with_content_filter) {
  size_t len;
  char *data = fixture_read("gemini/stream_blocked_chunk.json", &len);
  chat_stream st;

  cr_assert_not_null(data);
  fake_init(&st);
  cr_assert_eq(send_event(gemini_stream_event, &st, NULL, data, len), 0);
  cr_assert_str_eq(fake_log(&st), "stop content_filter SAFETY\n"
                                  "end\n");
  cr_assert_eq(st.stop, CHAT_STOP_CONTENT_FILTER);
  fake_free(&st);
  free(data);
}

Test(gemini_stream, function_call_chunk) {
  /* The unary function-call vector is also a valid single stream chunk. */
  size_t len;
  char *data = fixture_read("gemini/function_call_response.json", &len);
  chat_stream st;

  cr_assert_not_null(data);
  fake_init(&st);
  cr_assert_eq(send_event(gemini_stream_event, &st, NULL, data, len), 0);
  /* the thought part is not text */
  cr_assert_str_eq(fake_log(&st), "model gemini-2.5-pro\n"
                                  "usage 38 509\n"
                                  "tool 0 call_0 now\n"
                                  "args 0 {}\n"
                                  "stop tool_calls STOP\n"
                                  "end\n");
  fake_free(&st);
  free(data);
}

Test(gemini_stream, calls_across_chunks_are_numbered_in_order) {
  chat_stream st;

  fake_init(&st);
  cr_assert_eq(SEND(gemini_stream_event, &st, NULL,
                    "{\"candidates\":[{\"content\":{\"parts\":[{"
                    "\"functionCall\":{\"name\":\"a\",\"args\":{\"q\":\"x\"}}},"
                    "{\"functionCall\":{\"name\":\"b\",\"id\":\"given\"}}],"
                    "\"role\":\"model\"}}]}"),
               0);
  cr_assert_eq(SEND(gemini_stream_event, &st, NULL,
                    "{\"candidates\":[{\"content\":{\"parts\":[{"
                    "\"functionCall\":{\"name\":\"c\",\"args\":{}}}]}}]}"),
               0);
  /* The last chunk has no call of its own, but calls were made. */
  cr_assert_eq(SEND(gemini_stream_event, &st, NULL,
                    "{\"candidates\":[{\"finishReason\":\"STOP\"}]}"),
               0);
  cr_assert_str_eq(fake_log(&st), "tool 0 call_0 a\n"
                                  "args 0 {\"q\":\"x\"}\n"
                                  "tool 1 given b\n"
                                  "args 1 {}\n"
                                  "tool 2 call_2 c\n"
                                  "args 2 {}\n"
                                  "stop tool_calls STOP\n"
                                  "end\n");
  cr_assert_eq(st.n_tools, 3);
  fake_free(&st);
}

Test(gemini_stream, finish_reasons) {
  static const struct {
    const char *raw;
    const char *line;
  } cases[] = {
      {"STOP", "stop stop STOP\n"},
      {"MAX_TOKENS", "stop length MAX_TOKENS\n"},
      {"SAFETY", "stop content_filter SAFETY\n"},
      {"RECITATION", "stop content_filter RECITATION\n"},
      {"PROHIBITED_CONTENT", "stop content_filter PROHIBITED_CONTENT\n"},
      {"BLOCKLIST", "stop content_filter BLOCKLIST\n"},
      {"SPII", "stop content_filter SPII\n"},
      {"MALFORMED_FUNCTION_CALL", "stop other MALFORMED_FUNCTION_CALL\n"},
      {"OTHER", "stop other OTHER\n"},
      {"LANGUAGE", "stop other LANGUAGE\n"},
  };
  size_t i;

  for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    char data[256], want[128];
    chat_stream st;

    snprintf(data, sizeof(data),
             "{\"candidates\":[{\"finishReason\":\"%s\"}]}", cases[i].raw);
    snprintf(want, sizeof(want), "%send\n", cases[i].line);
    fake_init(&st);
    cr_assert_eq(
        send_event(gemini_stream_event, &st, NULL, data, strlen(data)), 0);
    cr_assert_str_eq(fake_log(&st), want);
    fake_free(&st);
  }
}

Test(gemini_stream, error_chunks_fail_the_stream) {
  static const struct {
    const char *data;
    const char *line;
  } cases[] = {
      {"{\"error\":{\"code\":503,\"message\":\"The model is overloaded.\","
       "\"status\":\"UNAVAILABLE\"}}",
       "fail transient provider_error UNAVAILABLE The model is overloaded.\n"},
      {"{\"error\":{\"code\":400,\"message\":\"bad\",\"status\":"
       "\"INVALID_ARGUMENT\"}}",
       "fail permanent provider_error INVALID_ARGUMENT bad\n"},
      {"{\"error\":{\"message\":\"later\",\"status\":\"RESOURCE_EXHAUSTED\"}}",
       "fail transient provider_error RESOURCE_EXHAUSTED later\n"},
      {"[{\"error\":{\"code\":500,\"message\":\"x\",\"status\":"
       "\"INTERNAL\"}}]",
       "fail transient provider_error INTERNAL x\n"},
      {"{\"error\":{}}", "fail permanent provider_error - -\n"},
  };
  size_t i;

  for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    chat_stream st;

    fake_init(&st);
    cr_assert_eq(send_event(gemini_stream_event, &st, NULL, cases[i].data,
                            strlen(cases[i].data)),
                 -1, "case %zu", i);
    cr_assert_str_eq(fake_log(&st), cases[i].line, "case %zu", i);
    fake_free(&st);
  }
}

Test(gemini_stream, malformed_chunks_fail) {
  static const struct {
    const char *data;
    const char *line;
  } cases[] = {
      {"{\"candidates\":[", "fail permanent invalid_json - -\n"},
      {"data: {}", "fail permanent invalid_json - -\n"},
      {"\"\xf0\x9f\x98\"", "fail permanent invalid_utf8 - -\n"},
      {"[1]", "fail permanent missing_field - -\n"},
      {"{\"candidates\":{}}", "fail permanent missing_field - -\n"},
      {"{\"candidates\":[7]}", "fail permanent missing_field - -\n"},
      {"{\"candidates\":[{\"content\":[]}]}",
       "fail permanent missing_field - -\n"},
      {"{\"candidates\":[{\"content\":{\"parts\":{}}}]}",
       "fail permanent missing_field - -\n"},
      {"{\"candidates\":[{\"content\":{\"parts\":[{\"text\":1}]}}]}",
       "fail permanent missing_field - -\n"},
      {"{\"candidates\":[{\"content\":{\"parts\":[\"x\"]}}]}",
       "fail permanent missing_field - -\n"},
      {"{\"candidates\":[{\"content\":{\"parts\":[{\"functionCall\":"
       "{\"args\":{}}}]}}]}",
       "fail permanent missing_field - -\n"},
      {"{\"candidates\":[{\"content\":{\"parts\":[{\"functionCall\":"
       "{\"name\":\"f\",\"args\":[1]}}]}}]}",
       "fail permanent missing_field - -\n"},
  };
  size_t i;

  for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    chat_stream st;

    fake_init(&st);
    cr_assert_eq(send_event(gemini_stream_event, &st, NULL, cases[i].data,
                            strlen(cases[i].data)),
                 -1, "case %zu", i);
    cr_assert_str_eq(fake_log(&st), cases[i].line, "case %zu", i);
    fake_free(&st);
  }
}

Test(gemini_stream, quiet_chunks) {
  chat_stream st;

  fake_init(&st);
  cr_assert_eq(send_event(gemini_stream_event, &st, NULL, "", 0), 0);
  cr_assert_eq(SEND(gemini_stream_event, &st, "message", "{}"), 0);
  /* thought text and empty text are not deltas */
  cr_assert_eq(SEND(gemini_stream_event, &st, NULL,
                    "{\"candidates\":[{\"content\":{\"parts\":[{\"text\":"
                    "\"hmm\",\"thought\":true},{\"text\":\"\"},"
                    "{\"thoughtSignature\":\"abc\"}]}}]}"),
               0);
  cr_assert_str_eq(fake_log(&st), "");
  fake_free(&st);
}

Test(gemini_stream, refusals_from_the_stream_propagate) {
  static const char *const cases[] = {
      "{\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"x\"}]}}]}",
      "{\"candidates\":[{\"content\":{\"parts\":[{\"functionCall\":"
      "{\"name\":\"f\"}}]}}]}",
      "{\"candidates\":[{\"finishReason\":\"STOP\"}]}",
      "{\"modelVersion\":\"m\"}",
  };
  size_t i;

  for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    chat_stream st;

    fake_init(&st);
    st.refuse = 1;
    cr_assert_eq(send_event(gemini_stream_event, &st, NULL, cases[i],
                            strlen(cases[i])),
                 -1, "case %zu", i);
    cr_assert_not(st.ended);
    fake_free(&st);
  }
}

Test(gemini_stream, every_prefix_of_every_chunk_fails_cleanly) {
  size_t len;
  char *text = fixture_read("gemini/stream_basic.sse", &len);
  char *p = text;

  cr_assert_not_null(text);
  while ((p = strstr(p, "data: ")) != NULL) {
    char *data = p + 6, *end = strchr(data, '\n');
    size_t n = (size_t)(end - data), cut;

    for (cut = 1; cut < n; cut++) {
      chat_stream st;

      fake_init(&st);
      cr_assert_eq(send_event(gemini_stream_event, &st, NULL, data, cut), -1,
                   "cut at %zu", cut);
      cr_assert(st.failed);
      cr_assert_not(st.ended);
      fake_free(&st);
    }
    p = end;
  }
  free(text);
}
