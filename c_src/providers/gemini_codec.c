/* gemini_codec.c - Google Gemini generateContent bodies: builds the
 * request JSON, turns GenerateContentResponse and error bodies into
 * chat_response / chat_error, and decodes `alt=sse` stream chunks. Pure C
 * over cJSON, no erl_nif. Bodies come from the network: every length,
 * type and encoding is checked, and nothing here aborts. */
#include "gemini_codec.h"

#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>

#include "chat_stream.h"
#include "codec_util.h"
#include "json_in.h"
#include "json_out.h"
#include "reason.h"

#define DEFAULT_BASE_URL "https://generativelanguage.googleapis.com/v1beta"
#define RETRY_INFO_TYPE "type.googleapis.com/google.rpc.RetryInfo"
#define ERROR_INFO_TYPE "type.googleapis.com/google.rpc.ErrorInfo"

static int nonempty(const char *s) { return s != NULL && s[0] != '\0'; }

/* --- URL and headers ----------------------------------------------------- */

/* RFC 3986 unreserved characters: the only bytes a model name keeps as
 * they are. '/', '?', '#', ':', '%' and spaces would all change the URL. */
static int unreserved(unsigned char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
         (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' || c == '~';
}

static int put_model_segment(buf *out, const char *model) {
  static const char hex[] = "0123456789ABCDEF";
  const unsigned char *p;

  if (model != NULL && strncmp(model, "models/", 7) == 0)
    model += 7; /* the resource name form: models/gemini-2.0-flash */
  if (!nonempty(model))
    return -1;
  for (p = (const unsigned char *)model; *p != '\0'; p++) {
    char esc[3] = {'%', hex[*p >> 4], hex[*p & 15]};

    if (unreserved(*p) ? buf_append(out, p, 1) != 0
                       : buf_append(out, esc, 3) != 0)
      return -1;
  }
  return 0;
}

int gemini_build_url(const chat_endpoint *ep, buf *out) {
  if (codec_url_put_base(out, ep->base_url, DEFAULT_BASE_URL) != 0 ||
      buf_puts(out, "/models/") != 0 || put_model_segment(out, ep->model) != 0)
    return -1;
  return buf_puts(out, ep->stream ? ":streamGenerateContent?alt=sse"
                                  : ":generateContent");
}

int gemini_build_headers(const chat_endpoint *ep, codec_headers *out) {
  if (ep->api_key != NULL &&
      codec_headers_add(out, "x-goog-api-key", ep->api_key) != 0)
    return -1;
  return codec_headers_add(out, "content-type", "application/json");
}

/* --- Request ------------------------------------------------------------- */

static int put_text_part(buf *b, const char *text, size_t len) {
  if (buf_puts(b, "{\"text\":") != 0 || json_put_string(b, text, len) != 0)
    return -1;
  return buf_puts(b, "}");
}

/* "systemInstruction":{"parts":[...]}, one text part per non-empty system
 * message, followed by a comma; nothing when there are none. */
static int put_system_instruction(buf *b, const chat_request *req) {
  size_t i, n = 0;

  for (i = 0; i < req->n_messages; i++) {
    const chat_message *m = &req->messages[i];

    if (!codec_is_role(m, "system") || m->content_len == 0)
      continue;
    if (buf_puts(b, n++ == 0 ? "\"systemInstruction\":{\"parts\":[" : ",") !=
            0 ||
        put_text_part(b, m->content, m->content_len) != 0)
      return -1;
  }
  return n > 0 ? buf_puts(b, "]},") : 0;
}

/* {"functionCall":{"name":...,"args":{...}}}. Our made-up ids are not
 * sent back: Gemini matches calls and responses by name and order. */
static int put_function_call(buf *b, const chat_tool_call *c) {
  const char *args;
  size_t len;

  if (!nonempty(c->name))
    return -1;
  args = codec_call_args(c, &len);
  if (buf_puts(b, "{\"functionCall\":{\"name\":") != 0 ||
      json_put_cstr(b, c->name) != 0 || buf_puts(b, ",\"args\":") != 0 ||
      json_put_json_text(b, args, len, 1) != 0)
    return -1;
  return buf_puts(b, "}}");
}

/* An assistant turn as role "model": its text part (kept even when empty
 * if there is nothing else, as a turn needs a part), then its calls. */
static int put_model_turn(buf *b, const chat_message *m) {
  size_t i;
  int n = 0;

  if (m->n_tool_calls > 0 && m->tool_calls == NULL)
    return -1;
  if (buf_puts(b, "{\"role\":\"model\",\"parts\":[") != 0)
    return -1;
  if (m->content_len > 0 || m->n_tool_calls == 0) {
    if (put_text_part(b, m->content, m->content_len) != 0)
      return -1;
    n++;
  }
  for (i = 0; i < m->n_tool_calls; i++) {
    if ((n++ > 0 && buf_puts(b, ",") != 0) ||
        put_function_call(b, &m->tool_calls[i]) != 0)
      return -1;
  }
  return buf_puts(b, "]}");
}

/* {"functionResponse":{"name":...,"response":{...}}}. response must be an
 * object: a result that is one goes as it is, any other text as
 * {"output": text} (the key the API documents for a function's output). */
static int put_function_response(buf *b, const chat_message *m) {
  if (!nonempty(m->tool_name))
    return -1;
  if (buf_puts(b, "{\"functionResponse\":{\"name\":") != 0 ||
      json_put_cstr(b, m->tool_name) != 0 || buf_puts(b, ",\"response\":") != 0)
    return -1;
  if (m->content_len == 0 ||
      json_put_json_text(b, m->content, m->content_len, 1) != 0) {
    if (buf_puts(b, "{\"output\":") != 0 ||
        json_put_string(b, m->content, m->content_len) != 0 ||
        buf_puts(b, "}") != 0)
      return -1;
  }
  return buf_puts(b, "}}");
}

static int put_user_turn(buf *b, const chat_message *m) {
  if (buf_puts(b, "{\"role\":\"user\",\"parts\":[") != 0 ||
      put_text_part(b, m->content, m->content_len) != 0)
    return -1;
  return buf_puts(b, "]}");
}

/* The `contents` array. System messages went to systemInstruction; a run
 * of tool results is one user turn of functionResponse parts. */
static int put_contents(buf *b, const chat_request *req) {
  static const codec_turns turns = {
      .results_open = "{\"role\":\"user\",\"parts\":[",
      .put_user = put_user_turn,
      .put_assistant = put_model_turn,
      .put_result = put_function_response,
  };

  if (buf_puts(b, "\"contents\":[") != 0 ||
      codec_put_turns(b, req, &turns) != 0)
    return -1;
  return buf_puts(b, "]");
}

/* Writes "," (after the first field) and "key": . */
static int put_key(buf *b, int *n, const char *key) {
  if ((*n)++ > 0 && buf_puts(b, ",") != 0)
    return -1;
  return buf_printf(b, "\"%s\":", key);
}

static int put_generation_config(buf *b, const chat_request *req) {
  int n = 0;

  if (!req->has_temperature && req->max_tokens <= 0 &&
      req->output_schema == NULL && !req->logprobs)
    return 0;
  if (buf_puts(b, ",\"generationConfig\":{") != 0)
    return -1;
  if (req->has_temperature && (put_key(b, &n, "temperature") != 0 ||
                               json_put_number(b, req->temperature) != 0))
    return -1;
  if (req->max_tokens > 0 && (put_key(b, &n, "maxOutputTokens") != 0 ||
                              buf_printf(b, "%ld", req->max_tokens) != 0))
    return -1;
  if (req->output_schema != NULL &&
      (put_key(b, &n, "responseMimeType") != 0 ||
       buf_puts(b, "\"application/json\"") != 0 ||
       put_key(b, &n, "responseJsonSchema") != 0 ||
       json_put_json_text(b, req->output_schema, strlen(req->output_schema),
                          1) != 0))
    return -1;
  if (req->logprobs &&
      (put_key(b, &n, "responseLogprobs") != 0 || buf_puts(b, "true") != 0))
    return -1;
  return buf_puts(b, "}");
}

/* One functionDeclarations list. The parameters are JSON Schema, so they
 * go as parametersJsonSchema (`parameters` takes an OpenAPI subset that
 * refuses parts of JSON Schema); none means a function without arguments. */
static int put_tools(buf *b, const chat_request *req) {
  size_t i;

  if (req->n_tools == 0)
    return 0;
  if (req->tools == NULL ||
      buf_puts(b, ",\"tools\":[{\"functionDeclarations\":[") != 0)
    return -1;
  for (i = 0; i < req->n_tools; i++) {
    const chat_tool *t = &req->tools[i];

    if (!nonempty(t->name))
      return -1;
    if ((i > 0 && buf_puts(b, ",") != 0) || buf_puts(b, "{") != 0 ||
        codec_put_tool_head(b, t) != 0)
      return -1;
    if (t->parameters != NULL &&
        (buf_puts(b, ",\"parametersJsonSchema\":") != 0 ||
         json_put_json_text(b, t->parameters, strlen(t->parameters), 1) != 0))
      return -1;
    if (buf_puts(b, "}") != 0)
      return -1;
  }
  return buf_puts(b, "]}]");
}

/* auto -> AUTO, required -> ANY, none -> NONE, a tool's name -> ANY limited
 * to it by allowedFunctionNames. Without tools, auto and none are left
 * out and anything else is an invalid request. */
static int put_tool_config(buf *b, const chat_request *req) {
  const char *tc = req->tool_choice;
  const char *mode;

  if (tc == NULL)
    return 0;
  if (req->n_tools == 0)
    return (strcmp(tc, "auto") == 0 || strcmp(tc, "none") == 0) ? 0 : -1;
  if (strcmp(tc, "auto") == 0)
    mode = "AUTO";
  else if (strcmp(tc, "required") == 0)
    mode = "ANY";
  else if (strcmp(tc, "none") == 0)
    mode = "NONE";
  else if (codec_request_has_tool(req, tc))
    mode = NULL;
  else
    return -1;
  if (mode != NULL)
    return buf_printf(b,
                      ",\"toolConfig\":{\"functionCallingConfig\":"
                      "{\"mode\":\"%s\"}}",
                      mode);
  if (buf_puts(b, ",\"toolConfig\":{\"functionCallingConfig\":{\"mode\":"
                  "\"ANY\",\"allowedFunctionNames\":[") != 0 ||
      json_put_cstr(b, tc) != 0)
    return -1;
  return buf_puts(b, "]}}");
}

char *gemini_build_request(const chat_request *req, size_t *len) {
  buf b;

  if (len != NULL)
    *len = 0;
  if (!codec_request_basics(req))
    return NULL;
  buf_init(&b, 0);

  if (buf_puts(&b, "{") != 0 || put_system_instruction(&b, req) != 0 ||
      put_contents(&b, req) != 0 || put_generation_config(&b, req) != 0 ||
      put_tools(&b, req) != 0 || put_tool_config(&b, req) != 0 ||
      buf_puts(&b, "}") != 0) {
    buf_free(&b);
    return NULL;
  }
  return buf_detach(&b, len);
}

/* --- Shared by responses, errors and stream chunks ----------------------- */

/* finishReason words. Gemini has no tool-call reason: STOP with function
 * calls means the model wants them run. */
static chat_stop stop_of(const char *raw, int has_calls) {
  static const char *const filtered[] = {"SAFETY",
                                         "RECITATION",
                                         "BLOCKLIST",
                                         "PROHIBITED_CONTENT",
                                         "SPII",
                                         "IMAGE_SAFETY",
                                         "IMAGE_PROHIBITED_CONTENT",
                                         "IMAGE_RECITATION"};
  size_t i;

  if (raw == NULL)
    return CHAT_STOP_NONE;
  if (strcmp(raw, "STOP") == 0)
    return has_calls ? CHAT_STOP_TOOL_CALLS : CHAT_STOP_END;
  if (strcmp(raw, "MAX_TOKENS") == 0)
    return CHAT_STOP_LENGTH;
  for (i = 0; i < sizeof(filtered) / sizeof(*filtered); i++) {
    if (strcmp(raw, filtered[i]) == 0)
      return CHAT_STOP_CONTENT_FILTER;
  }
  return CHAT_STOP_OTHER; /* OTHER, LANGUAGE, MALFORMED_FUNCTION_CALL, ... */
}

/* promptTokenCount, and the output as candidatesTokenCount plus
 * thoughtsTokenCount: thinking is billed as output, as OpenAI's
 * completion_tokens and Anthropic's output_tokens count it. Protobuf JSON
 * leaves out zero counts, so one present and one absent sums to the one;
 * both absent (intermediate stream chunks) is -1. */
static void read_usage(const cJSON *usage, long *in, long *out) {
  long cand = json_get_count(usage, "candidatesTokenCount");
  long thoughts = json_get_count(usage, "thoughtsTokenCount");

  *in = json_get_count(usage, "promptTokenCount");
  if (cand < 0 && thoughts < 0)
    *out = -1;
  else if (cand < 0 || thoughts < 0)
    *out = cand < 0 ? thoughts : cand;
  else
    *out = thoughts > LONG_MAX - cand ? -1 : cand + thoughts;
}

/* What one content part holds: answer text (NULL for none or a thought)
 * and/or a function call. */
typedef struct part {
  const char *text;
  const char *call_name;
  const char *call_id; /* the provider's, when it sends one */
  const cJSON *call_args;
} part;

/* Reads one part; NULL, or the reason it is malformed. Parts of other
 * kinds (inlineData, executableCode, a bare thoughtSignature) are empty. */
static const char *read_part(const cJSON *p, part *out) {
  const cJSON *text = json_get(p, "text");
  const cJSON *call = json_get(p, "functionCall");

  memset(out, 0, sizeof(*out));
  if (!cJSON_IsObject(p))
    return CX_REASON_WORD(missing_field);
  if (text != NULL) {
    if (!cJSON_IsString(text))
      return CX_REASON_WORD(missing_field);
    if (!json_get_true(p, "thought"))
      out->text = text->valuestring;
  }
  if (call != NULL) {
    out->call_name = json_get_string(call, "name");
    out->call_id = json_get_string(call, "id");
    out->call_args = json_get(call, "args");
    if (!nonempty(out->call_name))
      return CX_REASON_WORD(missing_field);
    if (out->call_args != NULL && !cJSON_IsObject(out->call_args))
      return CX_REASON_WORD(missing_field);
  }
  return NULL;
}

/* candidates[0], or NULL when there is none. *bad is set when
 * `candidates` is there but not an array. */
static const cJSON *first_candidate(const cJSON *root, int *bad) {
  const cJSON *candidates = json_get(root, "candidates");

  *bad = candidates != NULL && !cJSON_IsArray(candidates);
  return *bad ? NULL : cJSON_GetArrayItem(candidates, 0);
}

/* candidates[0].content.parts, or NULL for none. *bad is set when a
 * candidate, its content or its parts have the wrong type. */
static const cJSON *parts_of(const cJSON *candidate, int *bad) {
  const cJSON *content = json_get(candidate, "content");
  const cJSON *parts = json_get(content, "parts");

  *bad = !cJSON_IsObject(candidate) ||
         (content != NULL && !cJSON_IsObject(content)) ||
         (parts != NULL && !cJSON_IsArray(parts));
  return *bad ? NULL : parts;
}

/* The error object of a body, which may come wrapped in a JSON array
 * ([{"error": {...}}], as the non-SSE stream form sends it). */
static const cJSON *error_of(const cJSON *root) {
  const cJSON *error;

  if (cJSON_IsArray(root))
    root = cJSON_GetArrayItem(root, 0);
  error = json_get(root, "error");
  return cJSON_IsObject(error) ? error : NULL;
}

/* An error's numeric code as text, when it is a whole number. */
static char *code_text(const cJSON *code) {
  char tmp[32];
  long long n;
  double d;

  if (!cJSON_IsNumber(code))
    return NULL;
  d = code->valuedouble;
  if (!(d >= 0 && d < 1e15))
    return NULL;
  n = (long long)d;
  if ((double)n != d)
    return NULL;
  snprintf(tmp, sizeof(tmp), "%lld", n);
  return strdup(tmp);
}

/* The first details[] entry of the given @type, or NULL. */
static const cJSON *detail_of(const cJSON *error, const char *type) {
  const cJSON *details = json_get(error, "details");
  const cJSON *d;

  if (!cJSON_IsArray(details))
    return NULL;
  cJSON_ArrayForEach(d, details) {
    const char *t = json_get_string(d, "@type");

    if (t != NULL && strcmp(t, type) == 0)
      return d;
  }
  return NULL;
}

/* Fills err's type (the status word), code (ErrorInfo reason, else the
 * number) and message from an error object; err's strings are NULL. */
static void read_error(const cJSON *error, chat_error *err) {
  const char *reason =
      json_get_string(detail_of(error, ERROR_INFO_TYPE), "reason");

  err->type = json_dup_string(json_get(error, "status"));
  err->message = json_dup_string(json_get(error, "message"));
  err->code =
      reason != NULL ? strdup(reason) : code_text(json_get(error, "code"));
}

/* The kind of an error object met in a 200 body or stream: its code read
 * as an HTTP status, else its status word. */
static chat_error_kind error_kind(const cJSON *error) {
  static const char *const transient[] = {"RESOURCE_EXHAUSTED", "UNAVAILABLE",
                                          "INTERNAL", "DEADLINE_EXCEEDED",
                                          "ABORTED"};
  const cJSON *code = json_get(error, "code");
  const char *status = json_get_string(error, "status");
  size_t i;

  if (cJSON_IsNumber(code) && code->valuedouble >= 400 &&
      code->valuedouble < 600)
    return chat_status_kind((long)code->valuedouble);
  for (i = 0; status != NULL && i < sizeof(transient) / sizeof(*transient);
       i++) {
    if (strcmp(status, transient[i]) == 0)
      return CHAT_ERR_TRANSIENT;
  }
  return CHAT_ERR_PERMANENT;
}

/* A protobuf Duration as JSON gives it ("27s", "1.5s", "3.957525076s")
 * in milliseconds, rounded up so a retry never comes early. -1 unless it
 * is digits, at most 9 decimals and "s", and below 10^12 seconds. */
static long duration_ms(const char *s) {
  long sec = 0, ms = 0, scale = 100;
  int digits = 0, rest = 0;

  if (s == NULL)
    return -1;
  for (; *s >= '0' && *s <= '9'; s++) {
    if (++digits > 12 || sec > (LONG_MAX - 9) / 10)
      return -1;
    sec = sec * 10 + (*s - '0');
  }
  if (digits == 0)
    return -1;
  if (*s == '.') {
    for (s++, digits = 0; *s >= '0' && *s <= '9'; s++) {
      if (++digits > 9)
        return -1;
      if (scale > 0)
        ms += (*s - '0') * scale;
      else if (*s != '0')
        rest = 1;
      scale /= 10;
    }
    if (digits == 0)
      return -1;
  }
  if (s[0] != 's' || s[1] != '\0' || sec > (LONG_MAX - 1000) / 1000)
    return -1;
  return sec * 1000 + ms + rest;
}

/* --- Success bodies ------------------------------------------------------ */

/* The first candidate's parts: text joined, function calls collected. */
static const char *read_parts(const cJSON *parts, chat_response *resp) {
  const cJSON *p;
  const char *reason = NULL;
  buf text;

  buf_init(&text, 0);
  cJSON_ArrayForEach(p, parts) {
    part pt;

    reason = read_part(p, &pt);
    if (reason == NULL && pt.text != NULL && buf_puts(&text, pt.text) != 0)
      reason = CX_REASON_WORD(out_of_memory);
    if (reason == NULL && pt.call_name != NULL)
      reason =
          codec_add_tool_call(resp, pt.call_id, resp->n_tool_calls,
                              pt.call_name, json_object_text(pt.call_args));
    if (reason != NULL) {
      buf_free(&text);
      return reason;
    }
  }
  resp->content = buf_detach(&text, &resp->content_len);
  return resp->content == NULL ? CX_REASON_WORD(out_of_memory) : NULL;
}

static const char *read_response(const cJSON *root, chat_response *resp) {
  const cJSON *candidate, *logprob, *parts, *finish;
  const char *reason;
  int bad;

  candidate = first_candidate(root, &bad);
  if (bad)
    return CX_REASON_WORD(missing_field);
  logprob = json_get(candidate, "avgLogprobs");
  if (candidate == NULL) {
    /* The prompt itself was blocked: no candidate at all. */
    const cJSON *block =
        json_get(json_get(root, "promptFeedback"), "blockReason");

    if (!cJSON_IsString(block))
      return CX_REASON_WORD(missing_field);
    finish = block;
    resp->content = strdup("");
    if (resp->content == NULL)
      return CX_REASON_WORD(out_of_memory);
  } else {
    parts = parts_of(candidate, &bad);
    if (bad)
      return CX_REASON_WORD(missing_field);
    reason = read_parts(parts, resp);
    if (reason != NULL)
      return reason;
    finish = json_get(candidate, "finishReason");
  }
  if (json_copy_string(finish, &resp->finish_reason) != 0 ||
      json_copy_string(json_get(root, "modelVersion"), &resp->model) != 0)
    return CX_REASON_WORD(out_of_memory);
  resp->stop = candidate == NULL
                   ? CHAT_STOP_CONTENT_FILTER
                   : stop_of(resp->finish_reason, resp->n_tool_calls > 0);
  read_usage(json_get(root, "usageMetadata"), &resp->input_tokens,
             &resp->output_tokens);
  if (cJSON_IsNumber(logprob) && isfinite(logprob->valuedouble)) {
    resp->has_logprob = 1;
    resp->logprob = logprob->valuedouble;
  }
  return NULL;
}

static int body_error(const cJSON *root, chat_error *err) {
  const cJSON *error = error_of(root);

  if (error == NULL)
    return 0;
  chat_error_set(err, error_kind(error), CX_REASON_WORD(provider_error), NULL);
  read_error(error, err);
  return 1;
}

/* resp is treated as output only: it is overwritten, not freed. err is
 * only touched on failure (its old strings are freed). Text holding an
 * escaped \u0000 is cut there: content_len is the C string length. */
int gemini_parse_response(const char *body, size_t len, size_t max_tool_calls,
                          chat_response *resp, chat_error *err) {
  return codec_parse_response(body, len, max_tool_calls, resp, err, body_error,
                              read_response);
}

/* --- Error bodies -------------------------------------------------------- */

static void read_http_error(const cJSON *root, long status, chat_error *err) {
  const cJSON *error = error_of(root);

  (void)status;
  if (error != NULL)
    read_error(error, err);
  /* Gemini sends no retry headers; its hint is in the body. */
  if (err->retry_after_ms < 0)
    err->retry_after_ms = duration_ms(
        json_get_string(detail_of(error, RETRY_INFO_TYPE), "retryDelay"));
}

void gemini_parse_error(long status, const char *body, size_t len,
                        long retry_after_ms, chat_error *err) {
  codec_parse_error(status, body, len, retry_after_ms, err, read_http_error);
}

/* --- Stream chunks ------------------------------------------------------- */

/* Hands one function call to st as the next tool call, whole. */
static int stream_call(chat_stream *st, const part *pt) {
  size_t index = chat_stream_tool_count(st);
  char *id = codec_call_id(pt->call_id, index);
  char *args = json_object_text(pt->call_args);
  int rc = -1;

  if (id == NULL || args == NULL)
    rc = chat_stream_fail(st, CHAT_ERR_PERMANENT, CX_REASON_WORD(out_of_memory),
                          NULL, NULL);
  else if (chat_stream_tool_call(st, index, id, pt->call_name) == 0)
    rc = chat_stream_tool_args(st, index, args, strlen(args));
  free(id);
  free(args);
  return rc;
}

static int stream_parts(chat_stream *st, const cJSON *parts) {
  const cJSON *p;

  cJSON_ArrayForEach(p, parts) {
    const char *reason;
    part pt;

    reason = read_part(p, &pt);
    if (reason != NULL)
      return codec_malformed(st, reason);
    if (pt.text != NULL && pt.text[0] != '\0' &&
        chat_stream_text(st, pt.text, strlen(pt.text)) != 0)
      return -1;
    if (pt.call_name != NULL && stream_call(st, &pt) != 0)
      return -1;
  }
  return 0;
}

/* The stop (and the end: Gemini has no end marker) from a finishReason,
 * or from a prompt blocked before any candidate. */
static int stream_finish(chat_stream *st, const char *raw, int blocked) {
  chat_stop stop = blocked ? CHAT_STOP_CONTENT_FILTER
                           : stop_of(raw, chat_stream_tool_count(st) > 0);

  if (chat_stream_stop(st, stop, raw) != 0)
    return -1;
  chat_stream_end(st);
  return 0;
}

static int apply_chunk(chat_stream *st, const cJSON *root) {
  const cJSON *error = error_of(root);
  const cJSON *usage = json_get(root, "usageMetadata");
  const cJSON *candidate, *parts;
  const char *model, *raw;
  long in, out;
  int bad;

  if (error != NULL)
    return chat_stream_fail(
        st, error_kind(error), CX_REASON_WORD(provider_error),
        json_get_string(error, "status"), json_get_string(error, "message"));
  if (!cJSON_IsObject(root))
    return codec_malformed(st, CX_REASON_WORD(missing_field));
  model = json_get_string(root, "modelVersion");
  if (model != NULL && chat_stream_model(st, model) != 0)
    return -1;
  if (cJSON_IsObject(usage)) {
    read_usage(usage, &in, &out);
    chat_stream_usage(st, in, out);
  }

  candidate = first_candidate(root, &bad);
  if (bad)
    return codec_malformed(st, CX_REASON_WORD(missing_field));
  if (candidate == NULL) {
    raw = json_get_string(json_get(root, "promptFeedback"), "blockReason");
    return raw != NULL ? stream_finish(st, raw, 1) : 0;
  }
  parts = parts_of(candidate, &bad);
  if (bad)
    return codec_malformed(st, CX_REASON_WORD(missing_field));
  if (stream_parts(st, parts) != 0)
    return -1;
  raw = json_get_string(candidate, "finishReason");
  return raw != NULL ? stream_finish(st, raw, 0) : 0;
}

int gemini_stream_event(chat_stream *st, const char *event, const char *data,
                        size_t len) {
  (void)event; /* alt=sse sends no event names */
  return codec_stream_json(st, data, len, apply_chunk);
}

const chat_codec chat_codec_gemini = {
    .name = "gemini",
    .framing = CHAT_FRAMING_SSE,
    .build_url = gemini_build_url,
    .build_headers = gemini_build_headers,
    .build_request = gemini_build_request,
    .parse_response = gemini_parse_response,
    .parse_error = gemini_parse_error,
    .stream_event = gemini_stream_event,
};
