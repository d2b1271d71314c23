/* openai_codec.c - OpenAI chat-completions bodies: builds the request JSON,
 * turns success and error responses into chat_response / chat_error,
 * decodes streamed chunks, and fills the "openai" and "openrouter" codec
 * tables. Pure C over cJSON, no erl_nif. Bodies come from the network:
 * every length, type and encoding is checked, and nothing here aborts. */
#include "openai_codec.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <cJSON.h>

#include "buf.h"
#include "chat_stream.h"
#include "codec_util.h"
#include "json_in.h"
#include "json_out.h"
#include "reason.h"

#define OPENAI_BASE "https://api.openai.com/v1"
#define OPENROUTER_BASE "https://openrouter.ai/api/v1"

/* --- Request ------------------------------------------------------------- */

/* {"id":..,"type":"function","function":{"name":..,"arguments":"<JSON as a
 * string>"}}: OpenAI wants the arguments as text, not as an object. */
static int put_tool_call(buf *b, const chat_tool_call *c) {
  size_t len;
  const char *args = codec_call_args(c, &len);

  if (buf_puts(b, "{\"id\":") != 0 || json_put_cstr(b, c->id) != 0 ||
      buf_puts(b, ",\"type\":\"function\",\"function\":{\"name\":") != 0 ||
      json_put_cstr(b, c->name) != 0 || buf_puts(b, ",\"arguments\":") != 0 ||
      json_put_string(b, args, len) != 0)
    return -1;
  return buf_puts(b, "}}");
}

/* An assistant turn that only called tools has content null. */
static int put_message(buf *b, const chat_message *m) {
  if (buf_puts(b, "{\"role\":") != 0 || json_put_cstr(b, m->role) != 0 ||
      buf_puts(b, ",\"content\":") != 0)
    return -1;
  if (m->content == NULL && m->n_tool_calls > 0) {
    if (buf_puts(b, "null") != 0)
      return -1;
  } else if (json_put_string(b, m->content ? m->content : "", m->content_len) !=
             0)
    return -1;
  if (codec_put_tool_calls(b, m, put_tool_call) != 0)
    return -1;
  if (strcmp(m->role, "tool") == 0 && (buf_puts(b, ",\"tool_call_id\":") != 0 ||
                                       json_put_cstr(b, m->tool_call_id) != 0))
    return -1;
  return buf_puts(b, "}");
}

int openai_put_tools(buf *b, const chat_tool *tools, size_t n) {
  size_t i;

  if (buf_puts(b, "[") != 0)
    return -1;
  for (i = 0; i < n; i++) {
    const chat_tool *t = &tools[i];

    if ((i > 0 && buf_puts(b, ",") != 0) ||
        buf_puts(b, "{\"type\":\"function\",\"function\":{") != 0 ||
        codec_put_tool_head(b, t) != 0 ||
        buf_puts(b, ",\"parameters\":") != 0 ||
        codec_put_tool_schema(b, t) != 0 || buf_puts(b, "}}") != 0)
      return -1;
  }
  return buf_puts(b, "]");
}

/* tool_choice goes out only with tools: OpenAI refuses it without them,
 * and "auto"/"none" are what it means then anyway. */
static int put_tool_choice(buf *b, const chat_request *req) {
  const chat_tool *forced;

  if (req->tool_choice == NULL || req->n_tools == 0)
    return 0;
  if (buf_puts(b, ",\"tool_choice\":") != 0)
    return -1;
  forced = codec_forced_tool(req);
  if (forced == NULL)
    return json_put_cstr(b, req->tool_choice);
  if (buf_puts(b, "{\"type\":\"function\",\"function\":{\"name\":") != 0 ||
      json_put_cstr(b, forced->name) != 0)
    return -1;
  return buf_puts(b, "}}");
}

static int put_response_format(buf *b, const chat_request *req) {
  const char *name = req->output_schema_name;

  if (req->output_schema == NULL)
    return 0;
  if (buf_puts(b, ",\"response_format\":{\"type\":\"json_schema\","
                  "\"json_schema\":{\"name\":") != 0 ||
      json_put_cstr(b, name ? name : "output") != 0 ||
      buf_puts(b, ",\"schema\":") != 0 ||
      json_put_json_text(b, req->output_schema, strlen(req->output_schema),
                         1) != 0)
    return -1;
  return buf_puts(b, ",\"strict\":true}}");
}

/* OpenAI requires the id of the call a tool message answers. */
static int tool_messages_valid(const chat_request *req) {
  size_t i;

  for (i = 0; i < req->n_messages; i++) {
    const chat_message *m = &req->messages[i];

    if (strcmp(m->role, "tool") == 0 && !codec_valid_name(m->tool_call_id))
      return 0;
  }
  return 1;
}

static int put_body(buf *b, const chat_request *req,
                    openai_max_field max_field) {
  if (codec_put_messages(b, req, put_message) != 0)
    return -1;
  if (req->has_temperature && (buf_puts(b, ",\"temperature\":") != 0 ||
                               json_put_number(b, req->temperature) != 0))
    return -1;
  if (req->max_tokens > 0 &&
      buf_printf(b, ",\"%s\":%ld",
                 max_field == OPENAI_MAX_COMPLETION_TOKENS
                     ? "max_completion_tokens"
                     : "max_tokens",
                 req->max_tokens) != 0)
    return -1;
  if (req->n_tools > 0 && (buf_puts(b, ",\"tools\":") != 0 ||
                           openai_put_tools(b, req->tools, req->n_tools) != 0))
    return -1;
  if (put_tool_choice(b, req) != 0 || put_response_format(b, req) != 0)
    return -1;
  if (req->logprobs && buf_puts(b, ",\"logprobs\":true") != 0)
    return -1;
  if (req->stream)
    return buf_puts(b, ",\"stream\":true,"
                       "\"stream_options\":{\"include_usage\":true}}");
  return buf_puts(b, ",\"stream\":false}");
}

char *openai_build_body(const chat_request *req, openai_max_field max_field,
                        size_t *len) {
  buf b;

  if (len != NULL)
    *len = 0;
  if (!codec_request_check(req) || !tool_messages_valid(req))
    return NULL;
  buf_init(&b, 0);
  if (put_body(&b, req, max_field) != 0) {
    buf_free(&b);
    return NULL;
  }
  return buf_detach(&b, len);
}

char *openai_build_request(const chat_request *req, size_t *len) {
  return openai_build_body(req, OPENAI_MAX_TOKENS, len);
}

static char *build_request_openai(const chat_request *req, size_t *len) {
  return openai_build_body(req, OPENAI_MAX_COMPLETION_TOKENS, len);
}

/* --- Error objects -------------------------------------------------------- */

/* An error code as text: strings as they are, numbers in decimal
 * (OpenRouter sends {"code": 402}). */
static char *code_text(const cJSON *code) {
  char tmp[40];
  int n;

  if (code == NULL)
    return NULL;
  if (cJSON_IsString(code))
    return json_dup_string(code);
  if (!cJSON_IsNumber(code) || !isfinite(code->valuedouble))
    return NULL;
  n = snprintf(tmp, sizeof(tmp), "%.15g", code->valuedouble);
  if (n <= 0 || (size_t)n >= sizeof(tmp))
    return NULL;
  return strdup(tmp);
}

/* Copies message, type and code out of an "error" value into err, whose
 * strings must be NULL: an OpenAI object {"message","type","code"}, or a
 * bare string as Ollama sends. */
static void read_error_value(const cJSON *error, chat_error *err) {
  if (cJSON_IsString(error)) {
    err->message = json_dup_string(error);
    return;
  }
  err->message = json_dup_string(json_get(error, "message"));
  err->type = json_dup_string(json_get(error, "type"));
  err->code = code_text(json_get(error, "code"));
}

static int is_error_value(const cJSON *error) {
  return cJSON_IsObject(error) || cJSON_IsString(error);
}

/* The kind of an error object found inside a 200 body (a provider failing
 * mid-way). A numeric code is read as an HTTP status (OpenRouter uses
 * them); otherwise a code or type naming a rate limit, server error,
 * overload, timeout or unavailability is transient, and the rest is
 * permanent. */
static chat_error_kind provider_error_kind(const char *type, const char *code) {
  static const char *const transient[] = {
      "rate_limit", "server_error", "overloaded", "timeout", "unavailable"};
  size_t i;

  if (code != NULL && code[0] != '\0') {
    char *end;
    long n;

    errno = 0;
    n = strtol(code, &end, 10);
    if (errno == 0 && *end == '\0' && n >= 400)
      return chat_status_kind(n);
  }
  for (i = 0; i < sizeof(transient) / sizeof(transient[0]); i++) {
    if ((code != NULL && strstr(code, transient[i]) != NULL) ||
        (type != NULL && strstr(type, transient[i]) != NULL))
      return CHAT_ERR_TRANSIENT;
  }
  return CHAT_ERR_PERMANENT;
}

/* Sets err from an error value in a 200 body or stream chunk. */
static void provider_error(const cJSON *error, chat_error *err) {
  chat_error_set(err, CHAT_ERR_PERMANENT, CX_REASON_WORD(provider_error), NULL);
  read_error_value(error, err);
  err->kind = provider_error_kind(err->type, err->code);
}

/* --- Success bodies ------------------------------------------------------ */

chat_stop openai_stop_reason(const char *raw) {
  if (raw == NULL)
    return CHAT_STOP_NONE;
  if (strcmp(raw, "stop") == 0)
    return CHAT_STOP_END;
  if (strcmp(raw, "length") == 0)
    return CHAT_STOP_LENGTH;
  if (strcmp(raw, "tool_calls") == 0 || strcmp(raw, "function_call") == 0)
    return CHAT_STOP_TOOL_CALLS;
  if (strcmp(raw, "content_filter") == 0)
    return CHAT_STOP_CONTENT_FILTER;
  return CHAT_STOP_OTHER;
}

/* Tool-call arguments as JSON text: a string as it is ("" meaning none),
 * an object printed (some compatible servers send one), missing or null
 * as "{}". NULL with *bad set for any other type; NULL alone on
 * out-of-memory. */
static char *arguments_text(const cJSON *args, int *bad) {
  *bad = 0;
  if (args == NULL || cJSON_IsNull(args) ||
      (cJSON_IsString(args) && args->valuestring[0] == '\0'))
    return strdup("{}");
  if (cJSON_IsString(args))
    return json_dup_string(args);
  if (cJSON_IsObject(args))
    return json_object_text(args);
  *bad = 1;
  return NULL;
}

/* One entry of message.tool_calls (the pos'th) appended to resp. Entries of
 * a type other than "function" (e.g. "custom") are skipped. Returns NULL or
 * the failure reason. */
static const char *read_tool_call(const cJSON *item, size_t pos,
                                  chat_response *resp) {
  const cJSON *type = json_get(item, "type");
  const cJSON *fn = json_get(item, "function");
  const char *name = json_get_string(fn, "name");
  char *args;
  int bad;

  if (!cJSON_IsObject(item))
    return CX_REASON_WORD(missing_field);
  if (cJSON_IsString(type) && strcmp(type->valuestring, "function") != 0)
    return NULL;
  if (name == NULL || name[0] == '\0')
    return CX_REASON_WORD(missing_field);
  args = arguments_text(json_get(fn, "arguments"), &bad);
  if (bad)
    return CX_REASON_WORD(missing_field);
  return codec_add_tool_call(resp, json_get_string(item, "id"), pos, name,
                             args);
}

/* The mean of choices[0].logprobs.content[].logprob, when there is one. */
static void read_logprob(const cJSON *choice, chat_response *resp) {
  const cJSON *list = json_get(json_get(choice, "logprobs"), "content");
  const cJSON *tok;
  double sum = 0.0;
  size_t n = 0;

  if (!cJSON_IsArray(list))
    return;
  cJSON_ArrayForEach(tok, list) {
    const cJSON *lp = json_get(tok, "logprob");

    if (cJSON_IsNumber(lp) && isfinite(lp->valuedouble)) {
      sum += lp->valuedouble;
      n++;
    }
  }
  if (n > 0 && isfinite(sum)) {
    resp->has_logprob = 1;
    resp->logprob = sum / (double)n;
  }
}

/* OpenRouter's usage.cost: a finite, non-negative number, or -1. */
static double usage_cost(const cJSON *usage) {
  const cJSON *cost = json_get(usage, "cost");

  if (!cJSON_IsNumber(cost) || !isfinite(cost->valuedouble) ||
      cost->valuedouble < 0)
    return -1;
  return cost->valuedouble;
}

/* Fills resp from a parsed body. Returns NULL, or the failure reason
 * (resp may then hold part of the result; the caller frees it). */
static const char *read_response(const cJSON *root, chat_response *resp) {
  const cJSON *choice, *usage;
  const char *reason;
  double cost;

  /* content is null when the model only called tools: that is an empty
   * answer, not a broken body. Any other non-string is. */
  choice = cJSON_GetArrayItem(json_get(root, "choices"), 0);
  reason =
      codec_read_message(json_get(choice, "message"), resp, read_tool_call);
  if (reason != NULL)
    return reason;

  if (json_copy_string(json_get(choice, "finish_reason"),
                       &resp->finish_reason) != 0 ||
      json_copy_string(json_get(root, "model"), &resp->model) != 0)
    return CX_REASON_WORD(out_of_memory);
  /* Some compatible servers say "stop" after calling tools. */
  resp->stop = chat_stop_with_calls(openai_stop_reason(resp->finish_reason),
                                    resp->n_tool_calls > 0);

  usage = json_get(root, "usage");
  resp->input_tokens = json_get_count(usage, "prompt_tokens");
  resp->output_tokens = json_get_count(usage, "completion_tokens");
  cost = usage_cost(usage);
  if (cost >= 0) {
    resp->has_cost = 1;
    resp->cost = cost;
  }
  read_logprob(choice, resp);
  return NULL;
}

/* resp is treated as output only: it is overwritten, not freed. err is
 * only touched on failure (its old strings are freed). Every failure is
 * permanent except "provider_error", whose kind follows the error's code
 * (see provider_error_kind). Content holding an escaped \u0000 is cut
 * there: content_len is the C string length. */
static int body_error(const cJSON *root, chat_error *err) {
  const cJSON *error = json_get(root, "error");

  if (!is_error_value(error))
    return 0;
  provider_error(error, err);
  return 1;
}

int openai_parse_response(const char *body, size_t len, size_t max_tool_calls,
                          chat_response *resp, chat_error *err) {
  return codec_parse_response(body, len, max_tool_calls, resp, err, body_error,
                              read_response);
}

/* --- Error bodies -------------------------------------------------------- */

static int is_quota(const char *s) {
  return s != NULL && strcmp(s, "insufficient_quota") == 0;
}

static double now_ms(void) {
  struct timespec ts;

  if (clock_gettime(CLOCK_REALTIME, &ts) != 0)
    return -1;
  return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

/* OpenRouter puts the rate-limit headers of a 429 inside the body, under
 * error.metadata.headers; X-RateLimit-Reset is when the limit resets, in
 * epoch milliseconds (a value too small for that is read as seconds).
 * Returns the wait in ms, or -1 when there is no reset in the future. */
static long reset_hint(const cJSON *error) {
  const cJSON *headers = json_get(json_get(error, "metadata"), "headers");
  const cJSON *h, *value = NULL;
  double reset, now, wait;

  if (!cJSON_IsObject(headers))
    return -1;
  cJSON_ArrayForEach(h, headers) {
    if (h->string != NULL && strcasecmp(h->string, "X-RateLimit-Reset") == 0)
      value = h;
  }
  if (cJSON_IsNumber(value)) {
    reset = value->valuedouble;
  } else if (cJSON_IsString(value) && value->valuestring[0] >= '0' &&
             value->valuestring[0] <= '9') {
    char *end;

    reset = strtod(value->valuestring, &end);
    if (*end != '\0')
      return -1;
  } else {
    return -1;
  }
  if (!isfinite(reset) || reset <= 0)
    return -1;
  if (reset < 1e11)
    reset *= 1000.0;
  now = now_ms();
  if (now < 0 || reset <= now)
    return -1;
  wait = reset - now;
  return wait >= (double)LONG_MAX ? LONG_MAX : (long)wait;
}

static void read_http_error(const cJSON *root, long status, chat_error *err) {
  const cJSON *error = json_get(root, "error");

  if (is_error_value(error))
    read_error_value(error, err);
  /* An exhausted quota comes as 429 but waiting will not refill it. */
  if (status == 429 && (is_quota(err->code) || is_quota(err->type)))
    err->kind = CHAT_ERR_PERMANENT;
  if (status == 429 && err->kind == CHAT_ERR_TRANSIENT &&
      err->retry_after_ms < 0)
    err->retry_after_ms = reset_hint(error);
}

/* err's old strings are freed. When the body holds no error message (not
 * JSON, or JSON without one), the start of the body is used instead. */
void openai_parse_error(long status, const char *body, size_t len,
                        long retry_after_ms, chat_error *err) {
  codec_parse_error(status, body, len, retry_after_ms, err, read_http_error);
}

/* --- Streaming ------------------------------------------------------------ */

/* An error object inside the 200 stream (OpenRouter fails mid-way this
 * way). chat_stream_fail carries no code, so a code stands in for a
 * missing type: OpenRouter sends {"code":"server_error","message":..}. */
static int stream_error(chat_stream *st, const cJSON *error) {
  chat_error e;
  int rc;

  chat_error_init(&e);
  provider_error(error, &e);
  rc = chat_stream_fail(st, e.kind, CX_REASON_WORD(provider_error),
                        e.type != NULL ? e.type : e.code, e.message);
  chat_error_free(&e);
  return rc;
}

/* A streamed call's index: a whole number from 0 that a double holds
 * exactly, or -1. An index is only a key (chat_stream_tool_call): how many
 * calls a stream may hold is the stream's cap (max_tool_calls), not this
 * reader's. */
static long tool_index(const cJSON *v) {
  double d;

  if (!cJSON_IsNumber(v))
    return -1;
  d = v->valuedouble;
  if (!(d >= 0 && d <= 9007199254740992.0 && d <= (double)LONG_MAX) ||
      d != floor(d))
    return -1;
  return (long)d;
}

/* item's text when it is a non-empty string, else NULL: some compatible
 * servers repeat "id": "" on later fragments. */
static const char *nonempty(const cJSON *item) {
  if (!cJSON_IsString(item) || item->valuestring[0] == '\0')
    return NULL;
  return item->valuestring;
}

/* One entry of delta.tool_calls: only index is required. The first
 * fragment of a call carries id and name, later ones pieces of the
 * arguments string. */
static int stream_tool_delta(chat_stream *st, const cJSON *item) {
  const cJSON *fn = json_get(item, "function");
  const cJSON *id = json_get(item, "id"), *name = json_get(fn, "name");
  const cJSON *args = json_get(fn, "arguments");
  long index = tool_index(json_get(item, "index"));

  if (index < 0)
    return codec_malformed(st, CX_REASON_WORD(missing_field));
  if ((id != NULL && !cJSON_IsString(id) && !cJSON_IsNull(id)) ||
      (fn != NULL && !cJSON_IsObject(fn) && !cJSON_IsNull(fn)) ||
      (name != NULL && !cJSON_IsString(name) && !cJSON_IsNull(name)) ||
      (args != NULL && !cJSON_IsString(args) && !cJSON_IsNull(args)))
    return codec_malformed(st, CX_REASON_WORD(missing_field));
  if (chat_stream_tool_call(st, (size_t)index, nonempty(id), nonempty(name)) !=
      0)
    return -1;
  if (cJSON_IsString(args) && args->valuestring[0] != '\0')
    return chat_stream_tool_args(st, (size_t)index, args->valuestring,
                                 strlen(args->valuestring));
  return 0;
}

/* choices[0] of a chunk: the text delta, tool-call deltas, finish_reason. */
static int stream_choice(chat_stream *st, const cJSON *choice) {
  const cJSON *delta = json_get(choice, "delta");
  const cJSON *content = json_get(delta, "content");
  const cJSON *calls = json_get(delta, "tool_calls");
  const cJSON *finish = json_get(choice, "finish_reason");
  const cJSON *item;

  if (!cJSON_IsObject(choice) ||
      (delta != NULL && !cJSON_IsObject(delta) && !cJSON_IsNull(delta)) ||
      (content != NULL && !cJSON_IsString(content) && !cJSON_IsNull(content)) ||
      (calls != NULL && !cJSON_IsArray(calls) && !cJSON_IsNull(calls)) ||
      (finish != NULL && !cJSON_IsString(finish) && !cJSON_IsNull(finish)))
    return codec_malformed(st, CX_REASON_WORD(missing_field));

  if (cJSON_IsString(content) && content->valuestring[0] != '\0' &&
      chat_stream_text(st, content->valuestring,
                       strlen(content->valuestring)) != 0)
    return -1;
  if (cJSON_IsArray(calls)) {
    cJSON_ArrayForEach(item, calls) {
      if (stream_tool_delta(st, item) != 0)
        return -1;
    }
  }
  if (cJSON_IsString(finish) && finish->valuestring[0] != '\0')
    return chat_stream_stop(st, openai_stop_reason(finish->valuestring),
                            finish->valuestring);
  return 0;
}

/* The usage-only chunk that include_usage adds before [DONE] ("usage":
 * null on every other chunk). */
static void stream_usage(chat_stream *st, const cJSON *usage) {
  double cost;

  if (!cJSON_IsObject(usage))
    return;
  chat_stream_usage(st, json_get_count(usage, "prompt_tokens"),
                    json_get_count(usage, "completion_tokens"));
  cost = usage_cost(usage);
  if (cost >= 0)
    chat_stream_cost(st, cost);
}

static int stream_chunk(chat_stream *st, const cJSON *root) {
  const cJSON *error = json_get(root, "error");
  const cJSON *model = json_get(root, "model");
  const cJSON *choices = json_get(root, "choices");

  if (!cJSON_IsObject(root))
    return codec_malformed(st, CX_REASON_WORD(missing_field));
  if (is_error_value(error))
    return stream_error(st, error);
  if (cJSON_IsString(model) && model->valuestring[0] != '\0' &&
      chat_stream_model(st, model->valuestring) != 0)
    return -1;
  /* The usage chunk has "choices": [] (vLLM: null, or no key at all). */
  if (choices != NULL && !cJSON_IsArray(choices) && !cJSON_IsNull(choices))
    return codec_malformed(st, CX_REASON_WORD(missing_field));
  if (cJSON_GetArraySize(choices) > 0 &&
      stream_choice(st, cJSON_GetArrayItem(choices, 0)) != 0)
    return -1;
  stream_usage(st, json_get(root, "usage"));
  return 0;
}

int openai_stream_event(chat_stream *st, const char *event, const char *data,
                        size_t len) {
  (void)event; /* OpenAI streams have no event names */
  codec_trim(&data, &len);
  if (len == 6 && memcmp(data, "[DONE]", 6) == 0) {
    chat_stream_end(st);
    return 0;
  }
  return codec_stream_json(st, data, len, stream_chunk);
}

/* --- Endpoints and the codec tables --------------------------------------- */

static int openai_build_url(const chat_endpoint *ep, buf *out) {
  return codec_url(out, ep != NULL ? ep->base_url : NULL, OPENAI_BASE,
                   "/chat/completions");
}

static int openrouter_build_url(const chat_endpoint *ep, buf *out) {
  return codec_url(out, ep != NULL ? ep->base_url : NULL, OPENROUTER_BASE,
                   "/chat/completions");
}

static int openai_build_headers(const chat_endpoint *ep, codec_headers *out) {
  if (codec_add_bearer(out, ep != NULL ? ep->api_key : NULL) != 0)
    return -1;
  return codec_headers_add(out, "Content-Type", "application/json");
}

/* OpenRouter's app attribution headers are optional. */
static int openrouter_build_headers(const chat_endpoint *ep,
                                    codec_headers *out) {
  if (openai_build_headers(ep, out) != 0)
    return -1;
  if (ep == NULL)
    return 0;
  if (ep->referer != NULL && ep->referer[0] != '\0' &&
      codec_headers_add(out, "HTTP-Referer", ep->referer) != 0)
    return -1;
  if (ep->title != NULL && ep->title[0] != '\0' &&
      codec_headers_add(out, "X-Title", ep->title) != 0)
    return -1;
  return 0;
}

const chat_codec chat_codec_openai = {
    .name = "openai",
    .framing = CHAT_FRAMING_SSE,
    .build_url = openai_build_url,
    .build_headers = openai_build_headers,
    .build_request = build_request_openai,
    .parse_response = openai_parse_response,
    .parse_error = openai_parse_error,
    .stream_event = openai_stream_event,
};

const chat_codec chat_codec_openrouter = {
    .name = "openrouter",
    .framing = CHAT_FRAMING_SSE,
    .build_url = openrouter_build_url,
    .build_headers = openrouter_build_headers,
    .build_request = openai_build_request,
    .parse_response = openai_parse_response,
    .parse_error = openai_parse_error,
    .stream_event = openai_stream_event,
};
