/* openai_codec.c - OpenAI chat-completions bodies: builds the request JSON
 * and turns success and error responses into chat_response / chat_error.
 * Pure C over cJSON, no erl_nif. Bodies come from the network: every
 * length, type and encoding is checked, and nothing here aborts. */
#include "openai_codec.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>

#include "buf.h"

/* How much of a non-JSON error body is kept as the message. */
#define ERROR_SNIPPET_MAX 512

/* --- Request ------------------------------------------------------------- */

/* The escape for the character at p (left bytes remain), or NULL when it
 * goes out as is. *used is set to the bytes the escape replaces. U+2028 and
 * U+2029 are legal raw in JSON but not in JavaScript source, so they are
 * escaped too. */
static const char *json_escape(const unsigned char *p, size_t left,
                               char tmp[8], size_t *used) {
  *used = 1;
  switch (p[0]) {
  case '"':
    return "\\\"";
  case '\\':
    return "\\\\";
  case '\n':
    return "\\n";
  case '\r':
    return "\\r";
  case '\t':
    return "\\t";
  case '\b':
    return "\\b";
  case '\f':
    return "\\f";
  }
  if (p[0] < 0x20) {
    snprintf(tmp, 8, "\\u%04x", (unsigned)p[0]);
    return tmp;
  }
  if (p[0] == 0xE2 && left >= 3 && p[1] == 0x80 &&
      (p[2] == 0xA8 || p[2] == 0xA9)) {
    *used = 3;
    return p[2] == 0xA8 ? "\\u2028" : "\\u2029";
  }
  return NULL;
}

/* Appends s[0..len) as a quoted JSON string. s must be valid UTF-8; an
 * embedded NUL becomes \u0000. */
static int put_json_string(buf *b, const char *s, size_t len) {
  const unsigned char *p = (const unsigned char *)s;
  size_t i = 0, start = 0, used;
  char tmp[8];

  if (buf_append(b, "\"", 1) != 0)
    return -1;
  while (i < len) {
    const char *esc = json_escape(p + i, len - i, tmp, &used);

    if (esc != NULL) {
      if (buf_append(b, s + start, i - start) != 0 || buf_puts(b, esc) != 0)
        return -1;
      start = i + used;
    }
    i += used;
  }
  if (buf_append(b, s + start, len - start) != 0)
    return -1;
  return buf_append(b, "\"", 1);
}

/* Appends d in the shortest of %.15g / %.17g that reads back as d, like
 * cJSON does, so 0.2 goes out as 0.2. */
static int put_number(buf *b, double d) {
  char tmp[40];
  char *c;
  int n;

  if (!isfinite(d))
    return -1;
  n = snprintf(tmp, sizeof(tmp), "%.15g", d);
  if (n > 0 && (size_t)n < sizeof(tmp) && strtod(tmp, NULL) != d)
    n = snprintf(tmp, sizeof(tmp), "%.17g", d);
  if (n <= 0 || (size_t)n >= sizeof(tmp))
    return -1;
  /* A locale with a decimal comma would print 0,2; JSON wants 0.2. */
  for (c = tmp; *c != '\0'; c++) {
    if (*c == ',')
      *c = '.';
  }
  return buf_append(b, tmp, (size_t)n);
}

static int valid_name(const char *s) {
  return s != NULL && s[0] != '\0' && chat_utf8_valid(s, strlen(s));
}

static int request_valid(const chat_request *req) {
  size_t i;

  if (req == NULL || !valid_name(req->model))
    return 0;
  if (req->n_messages == 0 || req->messages == NULL)
    return 0;
  if (req->has_temperature && !isfinite(req->temperature))
    return 0;
  for (i = 0; i < req->n_messages; i++) {
    const chat_message *m = &req->messages[i];

    if (!valid_name(m->role))
      return 0;
    if (m->content == NULL && m->content_len > 0)
      return 0;
    if (!chat_utf8_valid(m->content, m->content_len))
      return 0;
  }
  return 1;
}

static int put_message(buf *b, const chat_message *m) {
  if (buf_puts(b, "{\"role\":") != 0 ||
      put_json_string(b, m->role, strlen(m->role)) != 0 ||
      buf_puts(b, ",\"content\":") != 0 ||
      put_json_string(b, m->content ? m->content : "", m->content_len) != 0)
    return -1;
  return buf_puts(b, "}");
}

char *openai_build_request(const chat_request *req, size_t *len) {
  buf b;
  size_t i;

  if (len != NULL)
    *len = 0;
  if (!request_valid(req))
    return NULL;
  buf_init(&b, 0);

  if (buf_puts(&b, "{\"model\":") != 0 ||
      put_json_string(&b, req->model, strlen(req->model)) != 0 ||
      buf_puts(&b, ",\"messages\":[") != 0)
    goto err;
  for (i = 0; i < req->n_messages; i++) {
    if (i > 0 && buf_puts(&b, ",") != 0)
      goto err;
    if (put_message(&b, &req->messages[i]) != 0)
      goto err;
  }
  if (buf_puts(&b, "]") != 0)
    goto err;
  if (req->has_temperature && (buf_puts(&b, ",\"temperature\":") != 0 ||
                               put_number(&b, req->temperature) != 0))
    goto err;
  if (req->max_tokens > 0 &&
      buf_printf(&b, ",\"max_tokens\":%ld", req->max_tokens) != 0)
    goto err;
  if (buf_puts(&b, ",\"stream\":false}") != 0)
    goto err;
  return buf_detach(&b, len);

err:
  buf_free(&b);
  return NULL;
}

/* --- Reading bodies ------------------------------------------------------ */

static int is_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* Parses a whole body as one JSON value. Stricter than cJSON alone: a raw
 * NUL byte (which cJSON would skip as whitespace) and anything but
 * whitespace after the value are refused. NULL when the body is not JSON. */
static cJSON *parse_body(const char *body, size_t len) {
  const char *end = NULL, *stop = body + len;
  cJSON *root;

  if (body == NULL || len == 0 || memchr(body, '\0', len) != NULL)
    return NULL;
  root = cJSON_ParseWithLengthOpts(body, len, &end, 0);
  if (root == NULL)
    return NULL;
  while (end < stop && is_space(*end))
    end++;
  if (end != stop) {
    cJSON_Delete(root);
    return NULL;
  }
  return root;
}

/* obj[name] when obj is an object, else NULL. */
static const cJSON *obj_get(const cJSON *obj, const char *name) {
  if (!cJSON_IsObject(obj))
    return NULL;
  return cJSON_GetObjectItemCaseSensitive(obj, name);
}

static char *dup_string(const cJSON *item) {
  if (item == NULL || !cJSON_IsString(item) || item->valuestring == NULL)
    return NULL;
  return strdup(item->valuestring);
}

/* *out = copy of item when it is a string, else NULL. -1 on out of
 * memory. */
static int copy_optional(const cJSON *item, char **out) {
  *out = dup_string(item);
  return (*out == NULL && cJSON_IsString(item)) ? -1 : 0;
}

/* An error code as text: strings as they are, numbers in decimal
 * (OpenRouter sends {"code": 402}). */
static char *code_text(const cJSON *code) {
  char tmp[40];
  int n;

  if (code == NULL)
    return NULL;
  if (cJSON_IsString(code))
    return dup_string(code);
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
    err->message = dup_string(error);
    return;
  }
  err->message = dup_string(obj_get(error, "message"));
  err->type = dup_string(obj_get(error, "type"));
  err->code = code_text(obj_get(error, "code"));
}

static int is_error_value(const cJSON *error) {
  return cJSON_IsObject(error) || cJSON_IsString(error);
}

/* The kind of an error object found inside a 200 body (a provider failing
 * mid-way). A numeric code is read as an HTTP status (OpenRouter uses
 * them); otherwise a code or type naming a rate limit, server error,
 * overload, timeout or unavailability is transient, and the rest is
 * permanent. */
static chat_error_kind provider_error_kind(const char *type,
                                           const char *code) {
  static const char *const transient[] = {"rate_limit", "server_error",
                                          "overloaded", "timeout",
                                          "unavailable"};
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

/* --- Success bodies ------------------------------------------------------ */

/* A token count: a finite non-negative number, else -1. */
static long token_count(const cJSON *usage, const char *name) {
  const cJSON *v = obj_get(usage, name);
  double d;

  if (v == NULL || !cJSON_IsNumber(v))
    return -1;
  d = v->valuedouble;
  if (!(d >= 0 && d < (double)LONG_MAX))
    return -1;
  return (long)d;
}

/* Fills resp from a parsed body. Returns NULL, or the failure reason
 * (resp may then hold part of the result; the caller frees it). */
static const char *read_response(const cJSON *root, chat_response *resp) {
  const cJSON *choice, *message, *content, *usage;

  choice = cJSON_GetArrayItem(obj_get(root, "choices"), 0);
  message = obj_get(choice, "message");
  if (!cJSON_IsObject(message))
    return "missing_field";

  /* content is null when the model only called tools: that is an empty
   * answer, not a broken body. Any other non-string is. */
  content = obj_get(message, "content");
  if (cJSON_IsString(content))
    resp->content = dup_string(content);
  else if (content == NULL || cJSON_IsNull(content))
    resp->content = strdup("");
  else
    return "missing_field";
  if (resp->content == NULL)
    return "out_of_memory";
  resp->content_len = strlen(resp->content);

  if (copy_optional(obj_get(choice, "finish_reason"),
                    &resp->finish_reason) != 0 ||
      copy_optional(obj_get(root, "model"), &resp->model) != 0)
    return "out_of_memory";

  usage = obj_get(root, "usage");
  resp->input_tokens = token_count(usage, "prompt_tokens");
  resp->output_tokens = token_count(usage, "completion_tokens");
  return NULL;
}

/* resp is treated as output only: it is overwritten, not freed. err is
 * only touched on failure (its old strings are freed). Every failure is
 * permanent except "provider_error", whose kind follows the error's code
 * (see provider_error_kind). Content holding an escaped \u0000 is cut
 * there: content_len is the C string length. */
int openai_parse_response(const char *body, size_t len, chat_response *resp,
                          chat_error *err) {
  cJSON *root = NULL;
  const cJSON *error;
  const char *reason;
  int rc = -1;

  chat_response_init(resp);
  if (body == NULL || len == 0) {
    chat_error_set(err, CHAT_ERR_PERMANENT, "invalid_json", NULL);
    goto done;
  }
  if (!chat_utf8_valid(body, len)) {
    chat_error_set(err, CHAT_ERR_PERMANENT, "invalid_utf8", NULL);
    goto done;
  }
  root = parse_body(body, len);
  if (root == NULL) {
    chat_error_set(err, CHAT_ERR_PERMANENT, "invalid_json", NULL);
    goto done;
  }

  error = obj_get(root, "error");
  if (is_error_value(error)) {
    chat_error_set(err, CHAT_ERR_PERMANENT, "provider_error", NULL);
    read_error_value(error, err);
    err->kind = provider_error_kind(err->type, err->code);
    goto done;
  }

  reason = read_response(root, resp);
  if (reason != NULL) {
    chat_response_free(resp);
    chat_error_set(err, CHAT_ERR_PERMANENT, reason, NULL);
    goto done;
  }
  rc = 0;

done:
  cJSON_Delete(root);
  return rc;
}

/* --- Error bodies -------------------------------------------------------- */

/* The start of a body that is not JSON (an HTML page from a proxy, plain
 * text), trimmed, as a message: at most ERROR_SNIPPET_MAX bytes, cut on a
 * character boundary and at a NUL. NULL when empty or not UTF-8. */
static char *body_snippet(const char *body, size_t len) {
  const char *nul;
  size_t start = 0;

  if (body == NULL)
    return NULL;
  if (len > ERROR_SNIPPET_MAX) {
    len = ERROR_SNIPPET_MAX;
    /* body[len] is inside the body here; step back over continuation
     * bytes so no character is cut in half. */
    while (len > 0 && ((unsigned char)body[len] & 0xC0) == 0x80)
      len--;
  }
  nul = memchr(body, '\0', len);
  if (nul != NULL)
    len = (size_t)(nul - body);
  while (start < len && is_space(body[start]))
    start++;
  while (len > start && is_space(body[len - 1]))
    len--;
  if (len == start || !chat_utf8_valid(body + start, len - start))
    return NULL;
  return strndup(body + start, len - start);
}

static int is_quota(const char *s) {
  return s != NULL && strcmp(s, "insufficient_quota") == 0;
}

/* err's old strings are freed. When the body holds no error message (not
 * JSON, or JSON without one), the start of the body is used instead. */
void openai_parse_error(long status, const char *body, size_t len,
                        long retry_after_ms, chat_error *err) {
  chat_error_kind kind = CHAT_ERR_PERMANENT;
  cJSON *root = NULL;
  const cJSON *error;

  if (status >= 400)
    kind = chat_status_kind(status);
  chat_error_set(err, kind, "http_error", NULL);
  err->http_status = status;
  err->retry_after_ms = retry_after_ms;

  if (chat_utf8_valid(body, len))
    root = parse_body(body, len);
  error = obj_get(root, "error");
  if (is_error_value(error))
    read_error_value(error, err);
  if (err->message == NULL)
    err->message = body_snippet(body, len);

  /* An exhausted quota comes as 429 but waiting will not refill it. */
  if (status == 429 && (is_quota(err->code) || is_quota(err->type)))
    err->kind = CHAT_ERR_PERMANENT;
  cJSON_Delete(root);
}
