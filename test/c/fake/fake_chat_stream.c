/* fake_chat_stream.c - a test-only stand-in for c_src/chat_stream.c, so the
 * codecs' stream_event functions can be tested before (and without) the
 * real stream assembly. It implements chat_stream.h plainly: the calls a
 * codec makes are assembled into a chat_response, and chat_stream_finish
 * hands it over as documented in the header. It does no framing:
 * chat_stream_feed is not supported (tests call codec->stream_event
 * directly, which works the same against the real chat_stream.c).
 *
 * It lives outside test/c/ itself on purpose: the default test build links
 * the real chat_stream.c instead. See test/c/test_openai_stream_events.c
 * for how the stream tests are built with it. */
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "chat.h"
#include "chat_stream.h"

#define FAKE_DEFAULT_MAX (8u * 1024 * 1024)

typedef struct fake_call {
  size_t index;
  char *id;
  char *name;
  buf args;
} fake_call;

struct chat_stream {
  const chat_codec *codec;
  chat_stream_text_cb on_text;
  void *ud;
  buf text;
  fake_call *calls; /* in order of first appearance */
  size_t n_calls;
  char *model;
  char *raw_stop;
  chat_stop stop;
  long input_tokens, output_tokens;
  int has_cost;
  double cost;
  int ended, failed;
  chat_error err;
};

chat_stream *chat_stream_new(const chat_codec *codec, size_t max_bytes,
                             chat_stream_text_cb on_text, void *ud) {
  chat_stream *st = calloc(1, sizeof(*st));

  if (st == NULL)
    return NULL;
  st->codec = codec;
  st->on_text = on_text;
  st->ud = ud;
  buf_init(&st->text, max_bytes ? max_bytes : FAKE_DEFAULT_MAX);
  st->input_tokens = -1;
  st->output_tokens = -1;
  chat_error_init(&st->err);
  return st;
}

void chat_stream_free(chat_stream *st) {
  size_t i;

  if (st == NULL)
    return;
  for (i = 0; i < st->n_calls; i++) {
    free(st->calls[i].id);
    free(st->calls[i].name);
    buf_free(&st->calls[i].args);
  }
  free(st->calls);
  buf_free(&st->text);
  free(st->model);
  free(st->raw_stop);
  chat_error_free(&st->err);
  free(st);
}

int chat_stream_feed(chat_stream *st, const char *data, size_t len) {
  (void)data;
  (void)len;
  return chat_stream_fail(st, CHAT_ERR_PERMANENT, "fake_has_no_framing",
                          NULL, NULL);
}

int chat_stream_fail(chat_stream *st, chat_error_kind kind,
                     const char *reason, const char *type,
                     const char *message) {
  if (st->failed)
    return -1;
  st->failed = 1;
  chat_error_set(&st->err, kind, reason, message);
  st->err.type = type ? strdup(type) : NULL;
  return -1;
}

int chat_stream_text(chat_stream *st, const char *text, size_t len) {
  if (st->failed)
    return -1;
  if (buf_append(&st->text, text, len) != 0)
    return chat_stream_fail(st, CHAT_ERR_PERMANENT, "too_large", NULL, NULL);
  if (st->on_text != NULL)
    st->on_text(st->ud, text, len);
  return 0;
}

static fake_call *find_call(chat_stream *st, size_t index) {
  fake_call *calls;
  size_t i;

  for (i = 0; i < st->n_calls; i++) {
    if (st->calls[i].index == index)
      return &st->calls[i];
  }
  calls = realloc(st->calls, (st->n_calls + 1) * sizeof(*calls));
  if (calls == NULL)
    return NULL;
  st->calls = calls;
  memset(&calls[st->n_calls], 0, sizeof(*calls));
  calls[st->n_calls].index = index;
  buf_init(&calls[st->n_calls].args, 0);
  return &calls[st->n_calls++];
}

int chat_stream_tool_call(chat_stream *st, size_t index, const char *id,
                          const char *name) {
  fake_call *c;

  if (st->failed)
    return -1;
  c = find_call(st, index);
  if (c == NULL)
    return chat_stream_fail(st, CHAT_ERR_PERMANENT, "out_of_memory", NULL,
                            NULL);
  if (id != NULL && c->id == NULL && (c->id = strdup(id)) == NULL)
    return chat_stream_fail(st, CHAT_ERR_PERMANENT, "out_of_memory", NULL,
                            NULL);
  if (name != NULL && c->name == NULL && (c->name = strdup(name)) == NULL)
    return chat_stream_fail(st, CHAT_ERR_PERMANENT, "out_of_memory", NULL,
                            NULL);
  return 0;
}

int chat_stream_tool_args(chat_stream *st, size_t index, const char *frag,
                          size_t len) {
  fake_call *c;

  if (st->failed)
    return -1;
  c = find_call(st, index);
  if (c == NULL || buf_append(&c->args, frag, len) != 0)
    return chat_stream_fail(st, CHAT_ERR_PERMANENT, "out_of_memory", NULL,
                            NULL);
  return 0;
}

int chat_stream_stop(chat_stream *st, chat_stop stop, const char *raw) {
  if (st->failed)
    return -1;
  free(st->raw_stop);
  st->raw_stop = raw ? strdup(raw) : NULL;
  st->stop = stop;
  return 0;
}

void chat_stream_usage(chat_stream *st, long input_tokens,
                       long output_tokens) {
  if (input_tokens >= 0)
    st->input_tokens = input_tokens;
  if (output_tokens >= 0)
    st->output_tokens = output_tokens;
}

void chat_stream_cost(chat_stream *st, double cost) {
  st->has_cost = 1;
  st->cost = cost;
}

int chat_stream_model(chat_stream *st, const char *model) {
  char *copy;

  if (st->failed)
    return -1;
  copy = strdup(model);
  if (copy == NULL)
    return chat_stream_fail(st, CHAT_ERR_PERMANENT, "out_of_memory", NULL,
                            NULL);
  free(st->model);
  st->model = copy;
  return 0;
}

void chat_stream_end(chat_stream *st) {
  st->ended = 1;
}

static char *dup_or_null(const char *s) {
  return s ? strdup(s) : NULL;
}

static int by_index(const void *a, const void *b) {
  const fake_call *x = a, *y = b;

  return (x->index > y->index) - (x->index < y->index);
}

int chat_stream_finish(chat_stream *st, chat_response *resp,
                       chat_error *err) {
  size_t i;

  chat_response_init(resp);
  if (st->failed || !st->ended) {
    const chat_error *e = &st->err;

    if (!st->failed)
      chat_error_set(err, CHAT_ERR_TRANSIENT, "truncated_stream", NULL);
    else {
      chat_error_set(err, e->kind, e->reason, e->message);
      err->type = dup_or_null(e->type);
    }
    return -1;
  }
  resp->content = strdup(st->text.data ? st->text.data : "");
  resp->content_len = st->text.len;
  resp->model = dup_or_null(st->model);
  resp->finish_reason = dup_or_null(st->raw_stop);
  resp->stop = st->stop;
  resp->input_tokens = st->input_tokens;
  resp->output_tokens = st->output_tokens;
  resp->has_cost = st->has_cost;
  resp->cost = st->cost;
  if (st->n_calls > 0)
    qsort(st->calls, st->n_calls, sizeof(*st->calls), by_index);
  for (i = 0; i < st->n_calls; i++) {
    chat_tool_call *c = chat_response_add_tool_call(resp);
    const buf *a = &st->calls[i].args;

    if (c == NULL)
      abort(); /* test code: out of memory is not a case under test */
    c->id = dup_or_null(st->calls[i].id);
    c->name = dup_or_null(st->calls[i].name);
    c->arguments = strdup(a->len > 0 ? a->data : "{}");
    c->arguments_len = a->len > 0 ? a->len : 2;
  }
  return 0;
}
