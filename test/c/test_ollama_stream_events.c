/* test_ollama_stream_events.c - unit tests for ollama_stream_event: NDJSON
 * lines (api.md's stream and tool-call vectors, errors.mdx's mid-stream
 * error) and hostile variants, handed to the codec one line at a time on a
 * real chat_stream and read back through chat_stream_finish. The whole
 * vectors also go through chat_stream_feed under every chunking
 * (stream_split.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "buf.h"
#include "chat.h"
#include "chat_stream.h"
#include "codec_test_util.h"
#include "fixtures.h"
#include "ollama_codec.h"
#include "stream_split.h"

/* --- Helpers ------------------------------------------------------------- */

/* Feeds each line of an NDJSON fixture (path under test/fixtures);
 * returns the last result. */
static int feed_fixture(event_run *r, const char *path) {
  size_t len;
  char *text, *p, *end;
  int rc = 0;

  text = fixture_load(path, &len);
  for (p = text; p < text + len; p = end + 1) {
    end = memchr(p, '\n', (size_t)(text + len - p));
    if (end == NULL)
      end = text + len;
    rc = run_event_n(r, p, (size_t)(end - p));
  }
  free(text);
  return rc;
}

static const char done_line[] =
    "{\"model\":\"llama3.2\",\"message\":{\"role\":\"assistant\",\"content\":"
    "\"\"},\"done\":true,\"done_reason\":\"stop\",\"prompt_eval_count\":3,"
    "\"eval_count\":4}";

/* A stream of the given line that must fail with reason. */
static void line_fails(const char *data, const char *reason) {
  run_fails(&chat_codec_ollama, data, done_line, reason);
}

/* --- The reference vectors ----------------------------------------------- */

Test(ollama_stream, three_line_vector) {
  event_run r;

  run_start(&r, &chat_codec_ollama);
  cr_assert_eq(feed_fixture(&r, "stream/ollama_basic.ndjson"), 0);
  cr_assert_eq(run_finish(&r), 0);
  cr_assert_str_eq(r.resp.content, "The sky");
  cr_assert_str_eq(r.text.data, "The sky");
  cr_assert_str_eq(r.resp.model, "llama3.2");
  cr_assert_str_eq(r.resp.finish_reason, "stop");
  cr_assert_eq(r.resp.stop, CHAT_STOP_END);
  cr_assert_eq(r.resp.input_tokens, 26);
  cr_assert_eq(r.resp.output_tokens, 282);
  cr_assert_eq(r.resp.n_tool_calls, 0);
  run_free(&r);
}

Test(ollama_stream, tool_call_line_then_done) {
  event_run r;

  run_start(&r, &chat_codec_ollama);
  cr_assert_eq(feed_fixture(&r, "ollama/stream_tool_call.json"), 0);
  cr_assert_eq(run_event(&r, done_line), 0);
  cr_assert_eq(run_finish(&r), 0);
  cr_assert_str_eq(r.resp.content, "");
  cr_assert_eq(r.resp.n_tool_calls, 1);
  /* Ollama gave no id: the stream names the call by its position. */
  cr_assert_str_eq(r.resp.tool_calls[0].id, "call_0");
  cr_assert_str_eq(r.resp.tool_calls[0].name, "get_weather");
  cr_assert_str_eq(r.resp.tool_calls[0].arguments, "{\"city\":\"Tokyo\"}");
  cr_assert_str_eq(r.resp.finish_reason, "stop");
  /* The codec reports "stop" as it came on the done line; the tool call was
   * on an earlier line, so chat_stream_finish makes it TOOL_CALLS. */
  cr_assert_eq(r.resp.stop, CHAT_STOP_TOOL_CALLS);
  cr_assert_eq(r.resp.input_tokens, 3);
  cr_assert_eq(r.resp.output_tokens, 4);
  run_free(&r);
}

Test(ollama_stream, midstream_error_vector) {
  event_run r;

  run_start(&r, &chat_codec_ollama);
  cr_assert_eq(feed_fixture(&r, "stream/ollama_midstream_error.ndjson"), -1);
  cr_assert_eq(run_finish(&r), -1);
  cr_assert_str_eq(r.err.reason, "provider_error");
  cr_assert_eq(r.err.kind, CHAT_ERR_TRANSIENT);
  cr_assert_str_eq(r.err.message,
                   "an error was encountered while running the model");
  cr_assert_null(r.err.type);
  run_free(&r);
}

Test(ollama_stream, every_prefix_of_every_line_is_handled) {
  static const char *names[] = {"stream/ollama_basic.ndjson",
                                "ollama/stream_tool_call.json",
                                "stream/ollama_midstream_error.ndjson"};
  size_t n;

  for (n = 0; n < sizeof(names) / sizeof(names[0]); n++) {
    size_t len, cut;
    char *text, *p;

    text = fixture_load(names[n], &len);
    for (p = text; p < text + len; p += strcspn(p, "\n") + 1) {
      size_t n_line = strcspn(p, "\n");

      for (cut = 1; cut < n_line; cut++) {
        event_run r;

        run_start(&r, &chat_codec_ollama);
        cr_assert_eq(run_event_n(&r, p, cut), -1, "%s prefix %zu", names[n],
                     cut);
        cr_assert_eq(run_finish(&r), -1);
        cr_assert_str_eq(r.err.reason, "invalid_json");
        run_free(&r);
      }
    }
    free(text);
  }
}

/* --- Whole bodies through chat_stream_feed, under every chunking -------- */

Test(ollama_stream, basic_vector_under_every_chunking) {
  size_t len;
  char *body = fixture_load("stream/ollama_basic.ndjson", &len);
  stream_outcome o;

  stream_split_check(&chat_codec_ollama, 0, body, len, &o);
  cr_assert_eq(o.rc, 0);
  cr_assert_str_eq(o.resp.content, "The sky");
  cr_assert_str_eq(o.text.data, "The sky");
  cr_assert_eq(o.n_deltas, 2);
  cr_assert_eq(o.resp.stop, CHAT_STOP_END);
  cr_assert_eq(o.resp.input_tokens, 26);
  cr_assert_eq(o.resp.output_tokens, 282);
  stream_outcome_free(&o);
  free(body);
}

Test(ollama_stream, tool_call_then_done_under_every_chunking) {
  size_t len;
  char *line1 = fixture_load("ollama/stream_tool_call.json", &len);
  stream_outcome o;
  buf body;

  buf_init(&body, 0);
  cr_assert_eq(buf_append(&body, line1, len), 0); /* ends in a newline */
  cr_assert_eq(buf_puts(&body, done_line), 0);
  cr_assert_eq(buf_puts(&body, "\n"), 0);
  stream_split_check(&chat_codec_ollama, 0, body.data, body.len, &o);
  cr_assert_eq(o.rc, 0);
  cr_assert_eq(o.resp.n_tool_calls, 1);
  cr_assert_str_eq(o.resp.tool_calls[0].id, "call_0");
  cr_assert_str_eq(o.resp.tool_calls[0].name, "get_weather");
  cr_assert_str_eq(o.resp.tool_calls[0].arguments, "{\"city\":\"Tokyo\"}");
  /* "stop" on the done line, a tool call before it: the stream's rule. */
  cr_assert_eq(o.resp.stop, CHAT_STOP_TOOL_CALLS);
  cr_assert_str_eq(o.resp.finish_reason, "stop");
  stream_outcome_free(&o);
  buf_free(&body);
  free(line1);
}

Test(ollama_stream, midstream_error_under_every_chunking) {
  size_t len;
  char *body = fixture_load("stream/ollama_midstream_error.ndjson", &len);
  stream_outcome o;

  stream_split_check(&chat_codec_ollama, 0, body, len, &o);
  cr_assert_eq(o.rc, -1);
  cr_assert_str_eq(o.err.reason, "provider_error");
  cr_assert_eq(o.err.kind, CHAT_ERR_TRANSIENT);
  cr_assert_str_eq(o.err.message,
                   "an error was encountered while running the model");
  stream_outcome_free(&o);
  free(body);
}

/* --- Pieces of the format ------------------------------------------------- */

Test(ollama_stream, no_done_line_is_a_truncated_stream) {
  event_run r;

  run_start(&r, &chat_codec_ollama);
  cr_assert_eq(
      run_event(&r, "{\"message\":{\"content\":\"a\"},\"done\":false}"), 0);
  cr_assert_eq(run_finish(&r), -1);
  cr_assert_str_eq(r.err.reason, "truncated_stream");
  run_free(&r);
}

Test(ollama_stream, blank_lines_are_skipped) {
  event_run r;

  run_start(&r, &chat_codec_ollama);
  cr_assert_eq(run_event(&r, ""), 0);
  cr_assert_eq(run_event(&r, " \r"), 0);
  cr_assert_eq(chat_codec_ollama.stream_event(r.st, NULL, NULL, 0), 0);
  cr_assert_eq(
      run_event(&r, "{\"message\":{\"content\":\"a\"},\"done\":false}\r"), 0);
  cr_assert_eq(run_event(&r, done_line), 0);
  cr_assert_eq(run_finish(&r), 0);
  cr_assert_str_eq(r.resp.content, "a");
  run_free(&r);
}

Test(ollama_stream, done_without_counts_means_zero) {
  event_run r;

  run_start(&r, &chat_codec_ollama);
  cr_assert_eq(run_event(&r, "{\"message\":{\"content\":\"x\"},\"done\":true,"
                             "\"done_reason\":\"length\"}"),
               0);
  cr_assert_eq(run_finish(&r), 0);
  cr_assert_eq(r.resp.input_tokens, 0);
  cr_assert_eq(r.resp.output_tokens, 0);
  cr_assert_eq(r.resp.stop, CHAT_STOP_LENGTH);
  cr_assert_str_eq(r.resp.content, "x");
  run_free(&r);
}

Test(ollama_stream, done_reasons) {
  static const struct {
    const char *raw;
    chat_stop stop;
  } cases[] = {{"stop", CHAT_STOP_END},
               {"length", CHAT_STOP_LENGTH},
               {"load", CHAT_STOP_OTHER},
               {"unload", CHAT_STOP_OTHER}};
  size_t i;

  for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    char data[128];
    event_run r;

    snprintf(data, sizeof(data), "{\"done\":true,\"done_reason\":\"%s\"}",
             cases[i].raw);
    run_start(&r, &chat_codec_ollama);
    cr_assert_eq(run_event(&r, data), 0);
    cr_assert_eq(run_finish(&r), 0);
    cr_assert_eq(r.resp.stop, cases[i].stop, "%s", cases[i].raw);
    cr_assert_str_eq(r.resp.finish_reason, cases[i].raw);
    cr_assert_str_eq(r.resp.content, "");
    run_free(&r);
  }
}

Test(ollama_stream, tool_calls_on_the_done_line_stop_for_tools) {
  event_run r;

  run_start(&r, &chat_codec_ollama);
  cr_assert_eq(run_event(&r, "{\"message\":{\"content\":\"\",\"tool_calls\":[{"
                             "\"function\":{\"name\":\"f\",\"arguments\":"
                             "{}}}]},\"done\":true,\"done_reason\":\"stop\"}"),
               0);
  cr_assert_eq(run_finish(&r), 0);
  cr_assert_eq(r.resp.stop, CHAT_STOP_TOOL_CALLS);
  cr_assert_str_eq(r.resp.finish_reason, "stop");
  cr_assert_eq(r.resp.n_tool_calls, 1);
  cr_assert_str_eq(r.resp.tool_calls[0].arguments, "{}");
  run_free(&r);
}

Test(ollama_stream, tool_calls_across_lines_are_numbered_in_order) {
  event_run r;

  run_start(&r, &chat_codec_ollama);
  cr_assert_eq(run_event(&r, "{\"message\":{\"content\":\"\",\"tool_calls\":[{"
                             "\"id\":\"call_a\",\"function\":{\"index\":0,"
                             "\"name\":\"f\",\"arguments\":{\"n\":1}}}]},"
                             "\"done\":false}"),
               0);
  cr_assert_eq(run_event(&r, "{\"message\":{\"content\":\"\",\"tool_calls\":[{"
                             "\"function\":{\"index\":1,\"name\":\"g\","
                             "\"arguments\":{\"s\":\"\\u00e9\",\"l\":[1,2.5,"
                             "null,true]}}}]},\"done\":false}"),
               0);
  cr_assert_eq(run_event(&r, done_line), 0);
  cr_assert_eq(run_finish(&r), 0);
  cr_assert_eq(r.resp.n_tool_calls, 2);
  cr_assert_str_eq(r.resp.tool_calls[0].id, "call_a");
  cr_assert_str_eq(r.resp.tool_calls[0].name, "f");
  cr_assert_str_eq(r.resp.tool_calls[0].arguments, "{\"n\":1}");
  cr_assert_str_eq(r.resp.tool_calls[1].id, "call_1");
  cr_assert_str_eq(r.resp.tool_calls[1].name, "g");
  cr_assert_str_eq(r.resp.tool_calls[1].arguments,
                   "{\"s\":\"\xc3\xa9\",\"l\":[1,2.5,null,true]}");
  run_free(&r);
}

Test(ollama_stream, repeated_wire_indexes_do_not_merge_calls) {
  /* Two lines whose calls both say index 0 (or none): still two calls. */
  static const char *const lines[] = {
      "{\"message\":{\"tool_calls\":[{\"function\":{\"index\":0,"
      "\"name\":\"f\",\"arguments\":{\"n\":1}}}]},\"done\":false}",
      "{\"message\":{\"tool_calls\":[{\"function\":{\"index\":0,"
      "\"name\":\"f\",\"arguments\":{\"n\":2}}}]},\"done\":false}",
      "{\"message\":{\"tool_calls\":[{\"function\":{\"name\":\"g\"}},"
      "{\"function\":{\"name\":\"h\"}}]},\"done\":false}",
  };
  event_run r;
  size_t i;

  run_start(&r, &chat_codec_ollama);
  for (i = 0; i < 3; i++)
    cr_assert_eq(run_event(&r, lines[i]), 0);
  cr_assert_eq(run_event(&r, done_line), 0);
  cr_assert_eq(run_finish(&r), 0);
  cr_assert_eq(r.resp.n_tool_calls, 4);
  cr_assert_str_eq(r.resp.tool_calls[0].arguments, "{\"n\":1}");
  cr_assert_str_eq(r.resp.tool_calls[1].arguments, "{\"n\":2}");
  cr_assert_str_eq(r.resp.tool_calls[2].name, "g");
  cr_assert_str_eq(r.resp.tool_calls[3].name, "h");
  for (i = 0; i < 4; i++) {
    char want[16];

    snprintf(want, sizeof(want), "call_%zu", i);
    cr_assert_str_eq(r.resp.tool_calls[i].id, want);
  }
  run_free(&r);
}

Test(ollama_stream, thinking_and_generate_lines_add_no_text) {
  event_run r;

  run_start(&r, &chat_codec_ollama);
  cr_assert_eq(run_event(&r, "{\"message\":{\"role\":\"assistant\",\"content\":"
                             "\"\",\"thinking\":\"hmm\"},\"done\":false}"),
               0);
  cr_assert_eq(run_event(&r, "{\"response\":\"can\",\"done\":false}"), 0);
  cr_assert_eq(run_event(&r, done_line), 0);
  cr_assert_eq(run_finish(&r), 0);
  cr_assert_str_eq(r.resp.content, "");
  cr_assert_eq(r.text.len, 0);
  run_free(&r);
}

Test(ollama_stream, error_line_shapes) {
  static const struct {
    const char *data;
    const char *message;
  } cases[] = {
      {"{\"error\":\"boom\"}", "boom"},
      {"{\"error\":{\"message\":\"boom\"}}", "boom"},
      {"{\"error\":\"\"}", ""},
      {"{\"error\":{}}", NULL},
  };
  size_t i;

  for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    event_run r;

    run_start(&r, &chat_codec_ollama);
    cr_assert_eq(run_event(&r, cases[i].data), -1);
    cr_assert_eq(run_finish(&r), -1);
    cr_assert_str_eq(r.err.reason, "provider_error");
    cr_assert_eq(r.err.kind, CHAT_ERR_TRANSIENT);
    if (cases[i].message == NULL)
      cr_assert_null(r.err.message);
    else
      cr_assert_str_eq(r.err.message, cases[i].message);
    run_free(&r);
  }
}

/* --- Malformed lines ------------------------------------------------------ */

Test(ollama_stream, malformed_lines_fail) {
  static const char nul[] = "{\"message\":{\"content\":\"a\0\"}}";
  event_run r;

  line_fails("{", "invalid_json");
  line_fails("{\"done\":false}{\"done\":true}", "invalid_json");
  line_fails("data: {\"done\":true}", "invalid_json");
  line_fails("{\"message\":{\"content\":\"\xff\"}}", "invalid_utf8");
  line_fails("{\"message\":{\"content\":\"\xed\xa0\x80\"}}", "invalid_utf8");
  run_start(&r, &chat_codec_ollama);
  cr_assert_eq(run_event_n(&r, nul, sizeof(nul) - 1), -1);
  cr_assert_eq(run_finish(&r), -1);
  cr_assert_str_eq(r.err.reason, "invalid_json");
  run_free(&r);
}

Test(ollama_stream, wrong_types_fail) {
  static const char *const cases[] = {
      "[]",
      "7",
      "null",
      "{\"message\":\"x\"}",
      "{\"message\":[]}",
      "{\"message\":{\"content\":5}}",
      "{\"message\":{\"content\":{}}}",
      "{\"done\":\"yes\"}",
      "{\"done\":1}",
      "{\"done\":true,\"done_reason\":5}",
      "{\"message\":{\"tool_calls\":{}}}",
      "{\"message\":{\"tool_calls\":[{}]}}",
      "{\"message\":{\"tool_calls\":[null]}}",
      "{\"message\":{\"tool_calls\":[{\"function\":\"f\"}]}}",
      "{\"message\":{\"tool_calls\":[{\"function\":{\"name\":\"\"}}]}}",
      "{\"message\":{\"tool_calls\":[{\"function\":{\"name\":1}}]}}",
      "{\"message\":{\"tool_calls\":[{\"function\":{\"name\":\"f\","
      "\"arguments\":[1]}}]}}",
      "{\"message\":{\"tool_calls\":[{\"function\":{\"name\":\"f\","
      "\"arguments\":5}}]}}",
  };
  size_t i;

  for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
    line_fails(cases[i], "missing_field");
}

Test(ollama_stream, odd_counts_are_left_unset) {
  event_run r;

  run_start(&r, &chat_codec_ollama);
  cr_assert_eq(run_event(&r, "{\"done\":true,\"prompt_eval_count\":\"26\","
                             "\"eval_count\":-1}"),
               0);
  cr_assert_eq(run_finish(&r), 0);
  cr_assert_eq(r.resp.input_tokens, -1);
  cr_assert_eq(r.resp.output_tokens, -1);
  cr_assert_eq(r.resp.stop, CHAT_STOP_NONE);
  run_free(&r);
}

Test(ollama_stream, every_single_byte_corruption_is_handled) {
  static const char bytes[] = {'"', '{',  '}',  '[', ']',    ',',
                               ':', '\\', '\0', 'x', '\xff', '\x80'};
  static const char data[] =
      "{\"model\":\"m\",\"message\":{\"content\":\"hi\",\"tool_calls\":[{"
      "\"function\":{\"name\":\"f\",\"arguments\":{\"a\":[1]}}}]},"
      "\"done\":true,\"done_reason\":\"stop\",\"eval_count\":2}";
  size_t pos, k;

  for (pos = 0; pos < sizeof(data) - 1; pos++) {
    for (k = 0; k < sizeof(bytes); k++) {
      char copy[sizeof(data)];
      event_run r;

      memcpy(copy, data, sizeof(data));
      copy[pos] = bytes[k];
      run_start(&r, &chat_codec_ollama);
      run_event_n(&r, copy, sizeof(data) - 1);
      if (run_finish(&r) == 0)
        cr_assert_not_null(r.resp.content);
      else
        cr_assert_not_null(r.err.reason);
      run_free(&r);
    }
  }
}
