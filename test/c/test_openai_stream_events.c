/* test_openai_stream_events.c - unit tests for openai_stream_event: the
 * spec's stream vectors (test/fixtures/stream), OpenRouter's mid-stream
 * error and hostile variants are handed to the codec one event at a time
 * on a real chat_stream, and the result is read back through
 * chat_stream_finish and the on_text callback. The whole vectors also go
 * through chat_stream_feed under every chunking (stream_split.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "buf.h"
#include "chat.h"
#include "chat_stream.h"
#include "codec_test_util.h"
#include "fixtures.h"
#include "openai_codec.h"
#include "stream_split.h"

/* --- Helpers ------------------------------------------------------------- */

/* Feeds each "data: " payload of an SSE fixture (events are separated by
 * a blank line; the vectors have one data line per event). The SSE parser
 * is tested on its own; this hands the codec exactly the events. */
static void feed_sse_fixture(event_run *r, const char *path) {
  size_t len;
  char *text, *p, *end;

  text = fixture_load(path, &len);
  for (p = text; p < text + len; p = end + 2) {
    end = strstr(p, "\n\n");
    if (end == NULL)
      end = text + len;
    cr_assert_eq(strncmp(p, "data: ", 6), 0, "%s: %.20s", path, p);
    cr_assert_eq(run_event_n(r, p + 6, (size_t)(end - p - 6)), 0, "%s: %.*s",
                 path, (int)(end - p), p);
    if (end == text + len)
      break;
  }
  free(text);
}

/* A stream of the given event that must fail with reason. */
static void stream_fails(const char *data, const char *reason) {
  run_fails(&chat_codec_openai, data, "[DONE]", reason);
}

/* --- The reference vectors ----------------------------------------------- */

Test(openai_stream, three_chunk_vector) {
  event_run r;

  run_start(&r, &chat_codec_openai);
  feed_sse_fixture(&r, "stream/openai_text.sse");
  cr_assert_eq(run_finish(&r), 0);
  cr_assert_str_eq(r.resp.content, "Hello");
  cr_assert_eq(r.resp.content_len, 5);
  cr_assert_str_eq(r.resp.model, "gpt-4o-mini");
  cr_assert_str_eq(r.resp.finish_reason, "stop");
  cr_assert_eq(r.resp.stop, CHAT_STOP_END);
  cr_assert_eq(r.resp.input_tokens, -1);
  cr_assert_eq(r.resp.output_tokens, -1);
  cr_assert_eq(r.resp.n_tool_calls, 0);
  cr_assert_eq(r.resp.has_cost, 0);
  /* The role chunk's "" is not a delta. */
  cr_assert_eq(r.calls, 1);
  cr_assert_str_eq(r.text.data, "Hello");
  run_free(&r);
}

Test(openai_stream, usage_tail_before_done) {
  static const char done[] = "[DONE]";
  size_t len;
  char *text = fixture_load("stream/openai_text.sse", &len);
  char *tail;
  event_run r;

  /* The vector's chunks, then the include_usage tail, then [DONE]. */
  tail = strstr(text, "data: [DONE]");
  cr_assert_not_null(tail);
  *tail = '\0';
  run_start(&r, &chat_codec_openai);
  {
    char *p = text, *end;

    while ((end = strstr(p, "\n\n")) != NULL) {
      cr_assert_eq(run_event_n(&r, p + 6, (size_t)(end - p - 6)), 0);
      p = end + 2;
    }
  }
  feed_sse_fixture(&r, "stream/openai_usage_tail.sse");
  cr_assert_eq(run_event_n(&r, done, sizeof(done) - 1), 0);
  cr_assert_eq(run_finish(&r), 0);
  cr_assert_str_eq(r.resp.content, "Hello");
  cr_assert_eq(r.resp.input_tokens, 9);
  cr_assert_eq(r.resp.output_tokens, 2);
  cr_assert_eq(r.resp.stop, CHAT_STOP_END);
  run_free(&r);
  free(text);
}

Test(openai_stream, tool_call_vector) {
  event_run r;

  run_start(&r, &chat_codec_openai);
  feed_sse_fixture(&r, "stream/openai_tool_call.sse");
  cr_assert_eq(run_finish(&r), 0);
  cr_assert_str_eq(r.resp.content, "");
  cr_assert_eq(r.calls, 0);
  cr_assert_eq(r.resp.n_tool_calls, 1);
  cr_assert_str_eq(r.resp.tool_calls[0].id, "call_abc123");
  cr_assert_str_eq(r.resp.tool_calls[0].name, "get_current_weather");
  cr_assert_str_eq(r.resp.tool_calls[0].arguments,
                   "{\"location\": \"Boston, MA\"}");
  cr_assert_eq(r.resp.tool_calls[0].arguments_len,
               strlen("{\"location\": \"Boston, MA\"}"));
  cr_assert_str_eq(r.resp.finish_reason, "tool_calls");
  cr_assert_eq(r.resp.stop, CHAT_STOP_TOOL_CALLS);
  cr_assert_str_eq(r.resp.model, "m");
  run_free(&r);
}

Test(openai_stream, openrouter_midstream_error_fails_the_stream) {
  size_t len;
  char *chunk = fixture_load("openai/openrouter_midstream_error.json", &len);
  event_run r;

  run_start(&r, &chat_codec_openrouter);
  cr_assert_eq(run_event(&r, "{\"choices\":[{\"index\":0,\"delta\":"
                             "{\"content\":\"par\"}}]}"),
               0);
  cr_assert_eq(chat_codec_openrouter.stream_event(r.st, NULL, chunk, len), -1);
  cr_assert_eq(run_finish(&r), -1);
  cr_assert_str_eq(r.err.reason, "provider_error");
  cr_assert_eq(r.err.kind, CHAT_ERR_TRANSIENT);
  /* The code stands in for the missing type. */
  cr_assert_str_eq(r.err.type, "server_error");
  cr_assert_str_eq(r.err.message, "Provider disconnected unexpectedly");
  cr_assert_null(r.resp.content);
  run_free(&r);
  free(chunk);
}

Test(openai_stream, every_prefix_of_every_chunk_is_handled) {
  static const char *names[] = {"openai_text.sse", "openai_tool_call.sse",
                                "openai_usage_tail.sse"};
  size_t n;

  for (n = 0; n < sizeof(names) / sizeof(names[0]); n++) {
    char path[256];
    size_t len, cut;
    char *text;
    const char *p;

    snprintf(path, sizeof(path), "stream/%s", names[n]);
    text = fixture_load(path, &len);
    for (p = text; (p = strstr(p, "data: {")) != NULL; p++) {
      size_t chunk = strcspn(p + 6, "\n");

      for (cut = 0; cut < chunk; cut++) {
        event_run r;
        int rc;

        run_start(&r, &chat_codec_openai);
        rc = run_event_n(&r, p + 6, cut);
        run_event(&r, "[DONE]");
        if (cut == 0) {
          cr_assert_eq(rc, 0); /* an empty event is skipped */
          cr_assert_eq(run_finish(&r), 0);
        } else {
          cr_assert_eq(rc, -1, "%s prefix %zu accepted", names[n], cut);
          cr_assert_eq(run_finish(&r), -1);
          cr_assert_str_eq(r.err.reason, "invalid_json");
        }
        run_free(&r);
      }
    }
    free(text);
  }
}

/* --- Whole bodies through chat_stream_feed, under every chunking -------- */

Test(openai_stream, text_vector_under_every_chunking) {
  size_t len;
  char *body = fixture_load("stream/openai_text.sse", &len);
  stream_outcome o;

  stream_split_check(&chat_codec_openai, 0, body, len, &o);
  cr_assert_eq(o.rc, 0);
  cr_assert_str_eq(o.resp.content, "Hello");
  cr_assert_str_eq(o.resp.model, "gpt-4o-mini");
  cr_assert_eq(o.resp.stop, CHAT_STOP_END);
  cr_assert_str_eq(o.resp.finish_reason, "stop");
  cr_assert_eq(o.n_deltas, 1);
  stream_outcome_free(&o);
  free(body);
}

Test(openai_stream, usage_tail_under_every_chunking) {
  size_t len, tail_len;
  char *text = fixture_load("stream/openai_text.sse", &len);
  char *tail = fixture_load("stream/openai_usage_tail.sse", &tail_len);
  char *done = strstr(text, "data: [DONE]");
  stream_outcome o;
  buf body;

  cr_assert_not_null(done);
  buf_init(&body, 0);
  cr_assert_eq(buf_append(&body, text, (size_t)(done - text)), 0);
  cr_assert_eq(buf_append(&body, tail, tail_len), 0);
  cr_assert_eq(buf_puts(&body, "data: [DONE]\n\n"), 0);
  stream_split_check(&chat_codec_openai, 0, body.data, body.len, &o);
  cr_assert_eq(o.rc, 0);
  cr_assert_str_eq(o.resp.content, "Hello");
  cr_assert_eq(o.resp.input_tokens, 9);
  cr_assert_eq(o.resp.output_tokens, 2);
  stream_outcome_free(&o);
  buf_free(&body);
  free(tail);
  free(text);
}

Test(openai_stream, tool_call_vector_under_every_chunking) {
  size_t len;
  char *body = fixture_load("stream/openai_tool_call.sse", &len);
  stream_outcome o;

  stream_split_check(&chat_codec_openai, 0, body, len, &o);
  cr_assert_eq(o.rc, 0);
  cr_assert_eq(o.resp.n_tool_calls, 1);
  cr_assert_str_eq(o.resp.tool_calls[0].id, "call_abc123");
  cr_assert_str_eq(o.resp.tool_calls[0].name, "get_current_weather");
  cr_assert_str_eq(o.resp.tool_calls[0].arguments,
                   "{\"location\": \"Boston, MA\"}");
  cr_assert_eq(o.resp.stop, CHAT_STOP_TOOL_CALLS);
  cr_assert_eq(o.n_deltas, 0);
  stream_outcome_free(&o);
  free(body);
}

Test(openai_stream, openrouter_midstream_error_under_every_chunking) {
  size_t len;
  char *chunk = fixture_load("stream/openrouter_midstream_error.sse", &len);
  stream_outcome o;
  buf body;

  /* A keep-alive comment and some text come first, as they would. */
  buf_init(&body, 0);
  cr_assert_eq(buf_puts(&body, ": OPENROUTER PROCESSING\n\n"
                               "data: {\"choices\":[{\"index\":0,\"delta\":"
                               "{\"content\":\"par\"}}]}\n\n"),
               0);
  cr_assert_eq(buf_append(&body, chunk, len), 0);
  cr_assert_eq(buf_puts(&body, "\n"), 0); /* the vector ends one line short */
  stream_split_check(&chat_codec_openrouter, 0, body.data, body.len, &o);
  cr_assert_eq(o.rc, -1);
  cr_assert_str_eq(o.err.reason, "provider_error");
  cr_assert_eq(o.err.kind, CHAT_ERR_TRANSIENT);
  cr_assert_str_eq(o.err.type, "server_error");
  cr_assert_str_eq(o.err.message, "Provider disconnected unexpectedly");
  cr_assert_str_eq(o.text.data, "par");
  stream_outcome_free(&o);
  buf_free(&body);
  free(chunk);
}

Test(openai_stream, body_cut_before_done_is_truncated) {
  size_t len;
  char *text = fixture_load("stream/openai_text.sse", &len);
  char *done = strstr(text, "data: [DONE]");
  stream_outcome o;

  stream_split_check(&chat_codec_openai, 0, text, (size_t)(done - text), &o);
  cr_assert_eq(o.rc, -1);
  cr_assert_str_eq(o.err.reason, "truncated_stream");
  cr_assert_eq(o.err.kind, CHAT_ERR_TRANSIENT);
  stream_outcome_free(&o);
  free(text);
}

/* --- Pieces of the format ------------------------------------------------- */

Test(openai_stream, done_with_whitespace_and_empty_events) {
  event_run r;

  run_start(&r, &chat_codec_openai);
  cr_assert_eq(run_event(&r, ""), 0);
  cr_assert_eq(run_event(&r, " \r\n\t"), 0);
  cr_assert_eq(chat_codec_openai.stream_event(r.st, NULL, NULL, 0), 0);
  cr_assert_eq(run_event(&r, "{\"choices\":[{\"delta\":{\"content\":\"a\"}}]}"),
               0);
  cr_assert_eq(run_event(&r, " [DONE] \n"), 0);
  cr_assert_eq(run_finish(&r), 0);
  cr_assert_str_eq(r.resp.content, "a");
  cr_assert_eq(r.resp.stop, CHAT_STOP_NONE);
  cr_assert_null(r.resp.finish_reason);
  run_free(&r);
}

Test(openai_stream, no_done_is_a_truncated_stream) {
  event_run r;

  run_start(&r, &chat_codec_openai);
  cr_assert_eq(run_event(&r, "{\"choices\":[{\"delta\":{\"content\":\"a\"},"
                             "\"finish_reason\":\"stop\"}]}"),
               0);
  cr_assert_eq(run_finish(&r), -1);
  cr_assert_str_eq(r.err.reason, "truncated_stream");
  run_free(&r);
}

Test(openai_stream, near_misses_of_done_are_not_done) {
  static const char *const cases[] = {"[DONE", "DONE", "[done]", "[DONE]]",
                                      "data: [DONE]"};
  size_t i;

  for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
    stream_fails(cases[i], "invalid_json");
}

Test(openai_stream, text_deltas_arrive_in_order) {
  static const char *const parts[] = {"Hel", "lo, ", "w\xc3\xb6rld",
                                      " \xf0\x9f\x98\x80", "\\n"};
  event_run r;
  size_t i;

  run_start(&r, &chat_codec_openai);
  for (i = 0; i < sizeof(parts) / sizeof(parts[0]); i++) {
    char chunk[128];

    snprintf(chunk, sizeof(chunk),
             "{\"choices\":[{\"index\":0,\"delta\":{\"content\":\"%s\"},"
             "\"finish_reason\":null}],\"usage\":null}",
             parts[i]);
    cr_assert_eq(run_event(&r, chunk), 0);
  }
  cr_assert_eq(run_event(&r, "{\"choices\":[{\"delta\":{},\"finish_reason\":"
                             "\"length\"}]}"),
               0);
  cr_assert_eq(run_event(&r, "[DONE]"), 0);
  cr_assert_eq(run_finish(&r), 0);
  cr_assert_str_eq(r.resp.content, "Hello, w\xc3\xb6rld \xf0\x9f\x98\x80\n");
  cr_assert_eq(r.calls, 5);
  cr_assert_str_eq(r.text.data, r.resp.content);
  cr_assert_eq(r.resp.stop, CHAT_STOP_LENGTH);
  cr_assert_str_eq(r.resp.finish_reason, "length");
  run_free(&r);
}

Test(openai_stream, finish_reasons_are_normalized) {
  static const struct {
    const char *raw;
    chat_stop stop;
  } cases[] = {{"stop", CHAT_STOP_END},
               {"length", CHAT_STOP_LENGTH},
               {"tool_calls", CHAT_STOP_TOOL_CALLS},
               {"function_call", CHAT_STOP_TOOL_CALLS},
               {"content_filter", CHAT_STOP_CONTENT_FILTER},
               {"error", CHAT_STOP_OTHER},
               {"something_new", CHAT_STOP_OTHER}};
  size_t i;

  for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    char chunk[128];
    event_run r;

    snprintf(chunk, sizeof(chunk),
             "{\"choices\":[{\"delta\":{},\"finish_reason\":\"%s\"}]}",
             cases[i].raw);
    run_start(&r, &chat_codec_openai);
    cr_assert_eq(run_event(&r, chunk), 0);
    cr_assert_eq(run_event(&r, "[DONE]"), 0);
    cr_assert_eq(run_finish(&r), 0);
    cr_assert_eq(r.resp.stop, cases[i].stop, "%s", cases[i].raw);
    cr_assert_str_eq(r.resp.finish_reason, cases[i].raw);
    run_free(&r);
  }
}

Test(openai_stream, parallel_tool_calls_interleaved_by_index) {
  static const char *const chunks[] = {
      "{\"choices\":[{\"delta\":{\"tool_calls\":[{\"index\":0,\"id\":\"c0\","
      "\"type\":\"function\",\"function\":{\"name\":\"a\",\"arguments\":\"\"}"
      "}]}}]}",
      "{\"choices\":[{\"delta\":{\"tool_calls\":[{\"index\":1,\"id\":\"c1\","
      "\"type\":\"function\",\"function\":{\"name\":\"b\",\"arguments\":"
      "\"{\\\"y\\\":\"}}]}}]}",
      "{\"choices\":[{\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":"
      "{\"arguments\":\"{\\\"x\\\":1}\"}},{\"index\":1,\"function\":"
      "{\"arguments\":\"2}\"}}]}}]}",
      "{\"choices\":[{\"delta\":{},\"finish_reason\":\"tool_calls\"}]}",
      "[DONE]"};
  event_run r;
  size_t i;

  run_start(&r, &chat_codec_openai);
  for (i = 0; i < sizeof(chunks) / sizeof(chunks[0]); i++)
    cr_assert_eq(run_event(&r, chunks[i]), 0, "chunk %zu", i);
  cr_assert_eq(run_finish(&r), 0);
  cr_assert_eq(r.resp.n_tool_calls, 2);
  cr_assert_str_eq(r.resp.tool_calls[0].id, "c0");
  cr_assert_str_eq(r.resp.tool_calls[0].name, "a");
  cr_assert_str_eq(r.resp.tool_calls[0].arguments, "{\"x\":1}");
  cr_assert_str_eq(r.resp.tool_calls[1].id, "c1");
  cr_assert_str_eq(r.resp.tool_calls[1].name, "b");
  cr_assert_str_eq(r.resp.tool_calls[1].arguments, "{\"y\":2}");
  cr_assert_eq(r.resp.stop, CHAT_STOP_TOOL_CALLS);
  run_free(&r);
}

Test(openai_stream, usage_chunk_shapes_and_cost) {
  static const char *const tails[] = {
      "{\"choices\":[],\"usage\":{\"prompt_tokens\":9,\"completion_tokens\":2,"
      "\"cost\":0.00042}}",
      "{\"choices\":null,\"usage\":{\"prompt_tokens\":9,\"completion_tokens\":"
      "2,\"cost\":0.00042}}",
      "{\"usage\":{\"prompt_tokens\":9,\"completion_tokens\":2,"
      "\"cost\":0.00042}}"};
  size_t i;

  for (i = 0; i < sizeof(tails) / sizeof(tails[0]); i++) {
    event_run r;

    run_start(&r, &chat_codec_openrouter);
    cr_assert_eq(run_event(&r, "{\"choices\":[{\"delta\":{\"content\":\"x\"},"
                               "\"finish_reason\":\"stop\"}],\"usage\":null}"),
                 0);
    cr_assert_eq(run_event(&r, tails[i]), 0, "%s", tails[i]);
    cr_assert_eq(run_event(&r, "[DONE]"), 0);
    cr_assert_eq(run_finish(&r), 0);
    cr_assert_eq(r.resp.input_tokens, 9);
    cr_assert_eq(r.resp.output_tokens, 2);
    cr_assert_eq(r.resp.has_cost, 1);
    cr_assert_eq(r.resp.cost, 0.00042);
    run_free(&r);
  }
}

Test(openai_stream, odd_usage_and_cost_are_ignored) {
  event_run r;

  run_start(&r, &chat_codec_openai);
  cr_assert_eq(run_event(&r, "{\"choices\":[],\"usage\":{\"prompt_tokens\":"
                             "\"9\",\"completion_tokens\":-2,"
                             "\"cost\":\"0.1\"}}"),
               0);
  cr_assert_eq(run_event(&r, "{\"choices\":[],\"usage\":{\"cost\":-1}}"), 0);
  cr_assert_eq(run_event(&r, "{\"choices\":[],\"usage\":[1,2]}"), 0);
  cr_assert_eq(run_event(&r, "[DONE]"), 0);
  cr_assert_eq(run_finish(&r), 0);
  cr_assert_eq(r.resp.input_tokens, -1);
  cr_assert_eq(r.resp.output_tokens, -1);
  cr_assert_eq(r.resp.has_cost, 0);
  run_free(&r);
}

Test(openai_stream, only_the_first_choice_counts) {
  event_run r;

  run_start(&r, &chat_codec_openai);
  cr_assert_eq(run_event(&r, "{\"choices\":[{\"index\":0,\"delta\":"
                             "{\"content\":\"one\"}},{\"index\":1,"
                             "\"delta\":{\"content\":\"two\"}}]}"),
               0);
  cr_assert_eq(run_event(&r, "[DONE]"), 0);
  cr_assert_eq(run_finish(&r), 0);
  cr_assert_str_eq(r.resp.content, "one");
  run_free(&r);
}

Test(openai_stream, model_follows_the_chunks) {
  event_run r;

  run_start(&r, &chat_codec_openai);
  cr_assert_eq(run_event(&r, "{\"model\":\"\",\"choices\":[]}"), 0);
  cr_assert_eq(run_event(&r, "{\"model\":42,\"choices\":[]}"), 0);
  cr_assert_eq(run_event(&r, "{\"model\":\"openai/gpt-4o\",\"choices\":[]}"),
               0);
  cr_assert_eq(run_event(&r, "[DONE]"), 0);
  cr_assert_eq(run_finish(&r), 0);
  cr_assert_str_eq(r.resp.model, "openai/gpt-4o");
  run_free(&r);
}

Test(openai_stream, escaped_nul_cuts_a_delta) {
  event_run r;

  run_start(&r, &chat_codec_openai);
  cr_assert_eq(run_event(&r, "{\"choices\":[{\"delta\":{\"content\":"
                             "\"ab\\u0000cd\"}}]}"),
               0);
  cr_assert_eq(run_event(&r, "[DONE]"), 0);
  cr_assert_eq(run_finish(&r), 0);
  cr_assert_str_eq(r.resp.content, "ab");
  run_free(&r);
}

Test(openai_stream, one_megabyte_delta) {
  size_t n = 1024 * 1024, i;
  buf chunk;
  event_run r;

  buf_init(&chunk, 0);
  cr_assert_eq(buf_puts(&chunk, "{\"choices\":[{\"delta\":{\"content\":\""), 0);
  for (i = 0; i < n; i++)
    cr_assert_eq(buf_append(&chunk, "x", 1), 0);
  cr_assert_eq(buf_puts(&chunk, "\"}}]}"), 0);
  run_start(&r, &chat_codec_openai);
  cr_assert_eq(run_event_n(&r, chunk.data, chunk.len), 0);
  cr_assert_eq(run_event(&r, "[DONE]"), 0);
  cr_assert_eq(run_finish(&r), 0);
  cr_assert_eq(r.resp.content_len, n);
  run_free(&r);
  buf_free(&chunk);
}

/* --- Errors inside the stream --------------------------------------------- */

Test(openai_stream, error_objects_fail_with_their_kind) {
  static const struct {
    const char *chunk;
    chat_error_kind kind;
    const char *type, *message;
  } cases[] = {
      {"{\"error\":{\"code\":429,\"message\":\"slow down\"}}",
       CHAT_ERR_TRANSIENT, "429", "slow down"},
      {"{\"error\":{\"code\":502,\"message\":\"down\"}}", CHAT_ERR_TRANSIENT,
       "502", "down"},
      {"{\"error\":{\"code\":400,\"message\":\"bad\"}}", CHAT_ERR_PERMANENT,
       "400", "bad"},
      {"{\"error\":{\"message\":\"bad\",\"type\":\"invalid_request_error\","
       "\"code\":\"x\"}}",
       CHAT_ERR_PERMANENT, "invalid_request_error", "bad"},
      {"{\"error\":{\"type\":\"overloaded_error\"}}", CHAT_ERR_TRANSIENT,
       "overloaded_error", NULL},
      {"{\"error\":\"model 'x' not found\"}", CHAT_ERR_PERMANENT, NULL,
       "model 'x' not found"},
      {"{\"error\":{}}", CHAT_ERR_PERMANENT, NULL, NULL},
  };
  size_t i;

  for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    event_run r;

    run_start(&r, &chat_codec_openai);
    cr_assert_eq(run_event(&r, cases[i].chunk), -1);
    cr_assert_eq(run_finish(&r), -1);
    cr_assert_str_eq(r.err.reason, "provider_error");
    cr_assert_eq(r.err.kind, cases[i].kind, "%s", cases[i].chunk);
    if (cases[i].type == NULL)
      cr_assert_null(r.err.type, "%s", cases[i].chunk);
    else
      cr_assert_str_eq(r.err.type, cases[i].type, "%s", cases[i].chunk);
    if (cases[i].message == NULL)
      cr_assert_null(r.err.message, "%s", cases[i].chunk);
    else
      cr_assert_str_eq(r.err.message, cases[i].message);
    run_free(&r);
  }
}

Test(openai_stream, null_error_is_no_error) {
  event_run r;

  run_start(&r, &chat_codec_openai);
  cr_assert_eq(run_event(&r, "{\"error\":null,\"choices\":[{\"delta\":"
                             "{\"content\":\"ok\"}}]}"),
               0);
  cr_assert_eq(run_event(&r, "[DONE]"), 0);
  cr_assert_eq(run_finish(&r), 0);
  cr_assert_str_eq(r.resp.content, "ok");
  run_free(&r);
}

/* --- Malformed chunks ----------------------------------------------------- */

Test(openai_stream, malformed_json_fails) {
  stream_fails("{", "invalid_json");
  stream_fails("not json", "invalid_json");
  stream_fails("{\"choices\":[]} {}", "invalid_json");
  stream_fails("{\"choices\":[{\"delta\":{\"content\":\"\\ud800\"}}]}",
               "invalid_json");
  stream_fails(": OPENROUTER PROCESSING", "invalid_json");
}

Test(openai_stream, non_utf8_and_nul_fail) {
  static const char nul[] =
      "{\"choices\":[{\"delta\":{\"content\":\"a\0b\"}}]}";
  event_run r;

  stream_fails("{\"choices\":[{\"delta\":{\"content\":\"\xff\"}}]}",
               "invalid_utf8");
  stream_fails("{\"choices\":[{\"delta\":{\"content\":\"\xc0\xaf\"}}]}",
               "invalid_utf8");
  run_start(&r, &chat_codec_openai);
  cr_assert_eq(run_event_n(&r, nul, sizeof(nul) - 1), -1);
  cr_assert_eq(run_finish(&r), -1);
  cr_assert_str_eq(r.err.reason, "invalid_json");
  run_free(&r);
}

Test(openai_stream, wrong_types_fail) {
  static const char *const cases[] = {
      "[]",
      "42",
      "\"text\"",
      "null",
      "{\"choices\":\"x\"}",
      "{\"choices\":{}}",
      "{\"choices\":[null]}",
      "{\"choices\":[\"x\"]}",
      "{\"choices\":[{\"delta\":5}]}",
      "{\"choices\":[{\"delta\":{\"content\":5}}]}",
      "{\"choices\":[{\"delta\":{\"content\":[\"a\"]}}]}",
      "{\"choices\":[{\"delta\":{},\"finish_reason\":1}]}",
      "{\"choices\":[{\"delta\":{\"tool_calls\":{}}}]}",
      "{\"choices\":[{\"delta\":{\"tool_calls\":[{}]}}]}",
      "{\"choices\":[{\"delta\":{\"tool_calls\":[{\"index\":\"0\"}]}}]}",
      "{\"choices\":[{\"delta\":{\"tool_calls\":[{\"index\":-1}]}}]}",
      "{\"choices\":[{\"delta\":{\"tool_calls\":[{\"index\":1.5}]}}]}",
      "{\"choices\":[{\"delta\":{\"tool_calls\":[{\"index\":1e300}]}}]}",
      "{\"choices\":[{\"delta\":{\"tool_calls\":[{\"index\":0,\"id\":7}]}}]}",
      "{\"choices\":[{\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":"
      "\"f\"}]}}]}",
      "{\"choices\":[{\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":"
      "{\"name\":[]}}]}}]}",
      "{\"choices\":[{\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":"
      "{\"arguments\":{\"x\":1}}}]}}]}",
      "{\"choices\":[{\"delta\":{\"tool_calls\":[null]}}]}",
  };
  size_t i;

  for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
    stream_fails(cases[i], "missing_field");
}

Test(openai_stream, tolerated_nulls) {
  event_run r;

  run_start(&r, &chat_codec_openai);
  cr_assert_eq(run_event(&r, "{\"choices\":[{\"delta\":null,\"finish_reason\":"
                             "null}]}"),
               0);
  cr_assert_eq(run_event(&r, "{\"choices\":[{\"delta\":{\"content\":null,"
                             "\"tool_calls\":null}}]}"),
               0);
  cr_assert_eq(run_event(&r, "{\"choices\":[{}]}"), 0);
  cr_assert_eq(run_event(&r, "{\"choices\":[{\"delta\":{\"tool_calls\":[{"
                             "\"index\":0,\"id\":null,\"function\":{\"name\":"
                             "\"f\",\"arguments\":null}}]}}]}"),
               0);
  cr_assert_eq(run_event(&r, "[DONE]"), 0);
  cr_assert_eq(run_finish(&r), 0);
  cr_assert_str_eq(r.resp.content, "");
  cr_assert_eq(r.resp.n_tool_calls, 1);
  cr_assert_str_eq(r.resp.tool_calls[0].name, "f");
  run_free(&r);
}

Test(openai_stream, every_single_byte_corruption_is_handled) {
  static const char bytes[] = {'"', '{',  '}',  '[', ']',    ',',
                               ':', '\\', '\0', 'x', '\xff', '\x80'};
  static const char chunk[] =
      "{\"id\":\"chatcmpl-9\",\"model\":\"m\",\"choices\":[{\"index\":0,"
      "\"delta\":{\"content\":\"hi\",\"tool_calls\":[{\"index\":0,\"id\":"
      "\"call_1\",\"function\":{\"name\":\"f\",\"arguments\":\"{}\"}}]},"
      "\"finish_reason\":\"stop\"}],\"usage\":{\"prompt_tokens\":1}}";
  size_t pos, k;

  for (pos = 0; pos < sizeof(chunk) - 1; pos++) {
    for (k = 0; k < sizeof(bytes); k++) {
      char copy[sizeof(chunk)];
      event_run r;
      int rc;

      memcpy(copy, chunk, sizeof(chunk));
      copy[pos] = bytes[k];
      run_start(&r, &chat_codec_openai);
      rc = run_event_n(&r, copy, sizeof(chunk) - 1);
      run_event(&r, "[DONE]");
      if (run_finish(&r) == 0) {
        cr_assert_eq(rc, 0);
        cr_assert_not_null(r.resp.content);
      } else {
        cr_assert_not_null(r.err.reason);
        cr_assert_null(r.resp.content);
      }
      run_free(&r);
    }
  }
}
