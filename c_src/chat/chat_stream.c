/* chat_stream.c - assembles a streamed response from a codec's events.
 *
 * The body goes through the codec's framing parser (sse.c or ndjson.c);
 * each event goes, checked for UTF-8, to the codec's stream_event, which
 * reports text, tool calls, the stop reason, usage, cost and model through
 * the chat_stream_* calls below. chat_stream_finish turns what was
 * gathered into the chat_response the non-streamed parse would give.
 * Nothing here depends on where the chunks were cut: the parsers keep
 * unfinished lines inside, and everything else sees whole events. */
#include "chat_stream.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "json_strict.h"
#include "ndjson.h"
#include "sse.h"
#include "reason.h"

#define STREAM_DEFAULT_MAX ((size_t)8 << 20)

/* A tool call being assembled, under the index its dialect gave it. */
typedef struct stream_call {
  size_t index;
  char *id;   /* the first non-empty id seen, or NULL */
  char *name; /* the first non-empty name seen, or NULL */
  buf args;   /* the argument fragments so far */
} stream_call;

struct chat_stream {
  const chat_codec *codec;
  chat_stream_text_cb on_text;
  void *ud;
  size_t max_bytes;
  size_t used; /* text and argument bytes, against max_bytes */
  /* Each new index costs memory without costing text, so the number of
   * tool calls has its own cap (chat_tool_call_cap). */
  size_t max_calls;
  sse_parser sse;
  ndjson_parser ndjson;
  buf text;
  stream_call *calls; /* in order of first appearance */
  size_t n_calls, cap_calls;
  char *model;
  char *finish_reason;
  chat_stop stop;
  long input_tokens, output_tokens;
  int has_cost;
  double cost;
  int ended;    /* the dialect's end marker was seen */
  int finished; /* the framing parser was finished */
  int failed;
  chat_error err; /* why, when failed */
};

/* --- Failing ------------------------------------------------------------- */

/* Records the first failure only: what comes after it is a consequence. */
static int stream_fail(chat_stream *st, chat_error_kind kind,
                       const char *reason, const char *type,
                       const char *message) {
  if (st->failed)
    return -1;
  st->failed = 1;
  if (kind == CHAT_OK)
    kind = CHAT_ERR_PERMANENT;
  chat_error_set(&st->err, kind,
                 reason ? reason : CX_REASON_WORD(provider_error), message);
  if (type != NULL)
    st->err.type = strdup(type);
  return -1;
}

static int fail_permanent(chat_stream *st, const char *reason) {
  return stream_fail(st, CHAT_ERR_PERMANENT, reason, NULL, NULL);
}

/* One tool call more than max_calls: the stream stops there. */
static int fail_too_many_calls(chat_stream *st) {
  if (st->failed)
    return -1;
  st->failed = 1;
  chat_error_too_many_tool_calls(&st->err, st->max_calls);
  return -1;
}

int chat_stream_fail(chat_stream *st, chat_error_kind kind, const char *reason,
                     const char *type, const char *message) {
  return stream_fail(st, kind, reason, type, message);
}

/* 1 when n more text or argument bytes would pass the cap. */
static int over_cap(const chat_stream *st, size_t n) {
  return n > st->max_bytes - st->used;
}

/* --- Events from the framing parser -------------------------------------- */

/* One whole event to the codec. The non-streamed parse refuses a body
 * that is not UTF-8; here each event is checked the same way, before the
 * codec reads it. */
static int apply_event(chat_stream *st, const char *event, const char *data,
                       size_t len) {
  if (st->failed)
    return -1;
  if (!chat_utf8_valid(data, len) ||
      (event != NULL && !chat_utf8_valid(event, strlen(event))))
    return fail_permanent(st, CX_REASON_WORD(invalid_utf8));
  if (st->codec->stream_event(st, event, data, len) != 0 && !st->failed)
    fail_permanent(
        st, CX_REASON_WORD(invalid_stream)); /* the codec gave no reason */
  return st->failed ? -1 : 0;
}

/* sse_event_cb */
static int on_sse_event(void *ud, const char *event, const char *data,
                        size_t len) {
  return apply_event(ud, event, data, len);
}

/* ndjson_line_cb */
static int on_ndjson_line(void *ud, const char *line, size_t len) {
  return apply_event(ud, NULL, line, len);
}

/* Turns a framing parser's failure into the stream's (a callback that
 * stopped it has recorded its own already). */
static void framing_failed(chat_stream *st) {
  int too_large, no_memory;

  if (st->codec->framing == CHAT_FRAMING_SSE) {
    too_large = st->sse.error == SSE_TOO_LARGE;
    no_memory = st->sse.error == SSE_NO_MEMORY;
  } else {
    too_large = st->ndjson.error == NDJSON_TOO_LARGE;
    no_memory = st->ndjson.error == NDJSON_NO_MEMORY;
  }
  if (too_large)
    fail_permanent(st, CX_REASON_WORD(response_too_large));
  else if (no_memory)
    fail_permanent(st, CX_REASON_WORD(out_of_memory));
  else
    fail_permanent(
        st, CX_REASON_WORD(invalid_stream)); /* an event name with a NUL */
}

/* --- Life cycle ---------------------------------------------------------- */

chat_stream *chat_stream_new(const chat_codec *codec, size_t max_bytes,
                             size_t max_tool_calls, chat_stream_text_cb on_text,
                             void *ud) {
  chat_stream *st;

  if (codec == NULL || codec->stream_event == NULL)
    return NULL;
  st = calloc(1, sizeof(*st));
  if (st == NULL)
    return NULL;
  st->codec = codec;
  st->on_text = on_text;
  st->ud = ud;
  st->max_bytes = max_bytes > 0 ? max_bytes : STREAM_DEFAULT_MAX;
  st->max_calls = chat_tool_call_cap(max_tool_calls);
  sse_init(&st->sse, st->max_bytes, on_sse_event, st);
  ndjson_init(&st->ndjson, st->max_bytes, on_ndjson_line, st);
  buf_init(&st->text, 0);
  st->stop = CHAT_STOP_NONE;
  st->input_tokens = -1;
  st->output_tokens = -1;
  chat_error_init(&st->err);
  return st;
}

void chat_stream_free(chat_stream *st) {
  size_t i;

  if (st == NULL)
    return;
  sse_free(&st->sse);
  ndjson_free(&st->ndjson);
  buf_free(&st->text);
  for (i = 0; i < st->n_calls; i++) {
    free(st->calls[i].id);
    free(st->calls[i].name);
    buf_free(&st->calls[i].args);
  }
  free(st->calls);
  free(st->model);
  free(st->finish_reason);
  chat_error_free(&st->err);
  free(st);
}

int chat_stream_feed(chat_stream *st, const char *data, size_t len) {
  int rc;

  if (st->failed || st->finished)
    return -1;
  if (st->codec->framing == CHAT_FRAMING_SSE)
    rc = sse_feed(&st->sse, data, len);
  else
    rc = ndjson_feed(&st->ndjson, data, len);
  if (rc != 0)
    framing_failed(st);
  return st->failed ? -1 : 0;
}

/* --- Called by codecs ---------------------------------------------------- */

int chat_stream_text(chat_stream *st, const char *text, size_t len) {
  if (st->failed)
    return -1;
  if (len == 0)
    return 0;
  if (text == NULL)
    return fail_permanent(st, CX_REASON_WORD(invalid_stream));
  if (over_cap(st, len))
    return fail_permanent(st, CX_REASON_WORD(response_too_large));
  if (buf_append(&st->text, text, len) != 0)
    return fail_permanent(st, CX_REASON_WORD(out_of_memory));
  st->used += len;
  if (st->on_text != NULL)
    st->on_text(st->ud, text, len);
  return 0;
}

/* The call under `index`, made when new. NULL when the stream failed. */
static stream_call *find_call(chat_stream *st, size_t index) {
  stream_call *c;
  size_t i;

  if (st->failed)
    return NULL;
  for (i = st->n_calls; i > 0; i--) { /* the newest is the likeliest */
    if (st->calls[i - 1].index == index)
      return &st->calls[i - 1];
  }
  if (st->n_calls == st->max_calls) {
    fail_too_many_calls(st);
    return NULL;
  }
  if (st->n_calls == st->cap_calls) {
    size_t cap = st->cap_calls > 0 ? st->cap_calls * 2 : 4;
    stream_call *calls = realloc(st->calls, cap * sizeof(*calls));

    if (calls == NULL) {
      fail_permanent(st, CX_REASON_WORD(out_of_memory));
      return NULL;
    }
    st->calls = calls;
    st->cap_calls = cap;
  }
  c = &st->calls[st->n_calls++];
  c->index = index;
  c->id = NULL;
  c->name = NULL;
  buf_init(&c->args, 0);
  return c;
}

/* Sets *slot to a copy of s unless it is already set or s is empty:
 * dialects repeat ids and names in later chunks, or send "" there. */
static int set_once(chat_stream *st, char **slot, const char *s) {
  if (*slot != NULL || s == NULL || s[0] == '\0')
    return 0;
  *slot = strdup(s);
  return *slot == NULL ? fail_permanent(st, CX_REASON_WORD(out_of_memory)) : 0;
}

int chat_stream_tool_call(chat_stream *st, size_t index, const char *id,
                          const char *name) {
  stream_call *c = find_call(st, index);

  if (c == NULL)
    return -1;
  if (set_once(st, &c->id, id) != 0 || set_once(st, &c->name, name) != 0)
    return -1;
  return 0;
}

size_t chat_stream_tool_count(const chat_stream *st) { return st->n_calls; }

int chat_stream_tool_args(chat_stream *st, size_t index, const char *frag,
                          size_t len) {
  stream_call *c = find_call(st, index);

  if (c == NULL)
    return -1;
  if (len == 0)
    return 0;
  if (frag == NULL)
    return fail_permanent(st, CX_REASON_WORD(invalid_stream));
  if (over_cap(st, len))
    return fail_permanent(st, CX_REASON_WORD(response_too_large));
  if (buf_append(&c->args, frag, len) != 0)
    return fail_permanent(st, CX_REASON_WORD(out_of_memory));
  st->used += len;
  return 0;
}

int chat_stream_stop(chat_stream *st, chat_stop stop, const char *raw) {
  char *copy = NULL;

  if (st->failed)
    return -1;
  if (raw != NULL && (copy = strdup(raw)) == NULL)
    return fail_permanent(st, CX_REASON_WORD(out_of_memory));
  free(st->finish_reason);
  st->finish_reason = copy;
  st->stop = stop;
  return 0;
}

void chat_stream_usage(chat_stream *st, long input_tokens, long output_tokens) {
  if (st->failed)
    return;
  if (input_tokens >= 0)
    st->input_tokens = input_tokens;
  if (output_tokens >= 0)
    st->output_tokens = output_tokens;
}

void chat_stream_cost(chat_stream *st, double cost) {
  if (st->failed || !isfinite(cost))
    return;
  st->has_cost = 1;
  st->cost = cost;
}

int chat_stream_model(chat_stream *st, const char *model) {
  if (st->failed)
    return -1;
  return set_once(st, &st->model, model);
}

void chat_stream_end(chat_stream *st) { st->ended = 1; }

/* --- Finishing ----------------------------------------------------------- */

static int is_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* 1 when s[0..n) is exactly one JSON value (whitespace around it allowed)
 * and UTF-8, read as the owner reads a tool call's arguments
 * (CouncilEx.JSON.decode: the strict reader, \u0000 and long numbers
 * allowed, its default depth). cJSON alone takes more ("01", raw control
 * characters in strings), which the owner would then refuse. */
static int json_valid(const char *s, size_t n) {
  json_strict_opts opts = {
      .max_depth = JSON_DEFAULT_MAX_DEPTH, /* as the owner decodes them */
      .flags = JSON_STRICT_WHOLE | JSON_STRICT_NUL | JSON_STRICT_LONG_NUMBERS};
  size_t end, err_at;
  const char *err;

  return chat_utf8_valid(s, n) &&
         json_strict_read(s, n, 0, &opts, &end, &err_at, &err) ==
             JSON_STRICT_OK;
}

static int all_space(const char *s, size_t n) {
  size_t i;

  for (i = 0; i < n; i++) {
    if (!is_space(s[i]))
      return 0;
  }
  return 1;
}

/* A malloc'd NUL-terminated copy of s[0..n) (s may hold NULs). */
static char *copy_bytes(const char *s, size_t n) {
  char *p = malloc(n + 1);

  if (p == NULL)
    return NULL;
  if (n > 0)
    memcpy(p, s, n);
  p[n] = '\0';
  return p;
}

static char *copy_opt(const char *s, int *oom) {
  char *p;

  if (s == NULL)
    return NULL;
  p = strdup(s);
  if (p == NULL)
    *oom = 1;
  return p;
}

static int by_index(const void *a, const void *b) {
  size_t x = ((const stream_call *)a)->index;
  size_t y = ((const stream_call *)b)->index;

  return x < y ? -1 : x > y;
}

/* Fills out from call c, the pos'th in index order. NULL, or the reason it
 * can't. Arguments that are empty (or blank) become "{}", as a
 * non-streamed body without them gives; a call without an id gets
 * "call_<pos>", as codecs do for dialects without ids. */
static const char *build_call(const stream_call *c, size_t pos,
                              chat_tool_call *out) {
  const char *args = c->args.len > 0 ? c->args.data : "";
  size_t args_len = c->args.len;
  char tmp[32];

  if (c->name == NULL)
    return CX_REASON_WORD(missing_field);
  if (!chat_utf8_valid(c->name, strlen(c->name)) ||
      (c->id != NULL && !chat_utf8_valid(c->id, strlen(c->id))))
    return CX_REASON_WORD(invalid_utf8);
  if (all_space(args, args_len)) {
    args = "{}";
    args_len = 2;
  } else if (!json_valid(args, args_len)) {
    return CX_REASON_WORD(invalid_tool_arguments);
  }
  snprintf(tmp, sizeof(tmp), "call_%zu", pos);
  out->id = strdup(c->id != NULL ? c->id : tmp);
  out->name = strdup(c->name);
  out->arguments = copy_bytes(args, args_len);
  out->arguments_len = args_len;
  if (out->id == NULL || out->name == NULL || out->arguments == NULL)
    return CX_REASON_WORD(out_of_memory);
  return NULL;
}

/* Fills resp (initialised and empty) from what the stream gathered. NULL,
 * or the reason it can't (resp may then hold part; the caller frees it).
 * The stream itself is only reordered, so finishing again gives the same. */
static const char *build_response(chat_stream *st, chat_response *resp) {
  const char *text = st->text.len > 0 ? st->text.data : "";
  int oom = 0;
  size_t i;

  /* Deltas may cut a character in two; only the whole text must be
   * valid. */
  if (!chat_utf8_valid(text, st->text.len))
    return CX_REASON_WORD(invalid_utf8);
  resp->content = copy_bytes(text, st->text.len);
  resp->content_len = st->text.len;
  resp->model = copy_opt(st->model, &oom);
  resp->finish_reason = copy_opt(st->finish_reason, &oom);
  if (resp->content == NULL || oom)
    return CX_REASON_WORD(out_of_memory);
  resp->stop = st->stop;
  resp->input_tokens = st->input_tokens;
  resp->output_tokens = st->output_tokens;
  resp->has_cost = st->has_cost;
  resp->cost = st->cost;

  if (st->n_calls > 0)
    qsort(st->calls, st->n_calls, sizeof(*st->calls), by_index);
  for (i = 0; i < st->n_calls; i++) {
    chat_tool_call *out = chat_response_add_tool_call(resp);
    const char *reason;

    if (out == NULL)
      return CX_REASON_WORD(out_of_memory);
    reason = build_call(&st->calls[i], i, out);
    if (reason != NULL)
      return reason;
  }
  resp->stop = chat_stop_with_calls(resp->stop, resp->n_tool_calls);
  return NULL;
}

/* Copies the recorded failure into err (its old strings are freed). */
static void copy_error(const chat_stream *st, chat_error *err) {
  chat_error_set(err, st->err.kind, st->err.reason, st->err.message);
  if (st->err.type != NULL)
    err->type = strdup(st->err.type);
}

int chat_stream_finish(chat_stream *st, chat_response *resp, chat_error *err) {
  const char *reason;
  int rc;

  chat_response_init(resp);
  if (!st->finished && !st->failed) {
    if (st->codec->framing == CHAT_FRAMING_SSE)
      rc = sse_finish(&st->sse);
    else
      rc = ndjson_finish(&st->ndjson);
    if (rc != 0)
      framing_failed(st);
  }
  st->finished = 1;
  if (!st->failed && !st->ended) {
    chat_error_set(err, CHAT_ERR_TRANSIENT, CX_REASON_WORD(truncated_stream),
                   NULL);
    return -1;
  }
  if (!st->failed) {
    reason = build_response(st, resp);
    if (reason == NULL)
      return 0;
    chat_response_free(resp);
    fail_permanent(st, reason);
  }
  copy_error(st, err);
  return -1;
}
