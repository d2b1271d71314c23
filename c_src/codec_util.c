/* codec_util.c - JSON writing and strict reading, request checks and base
 * URLs shared by the dialect codecs (openai_codec.c, ollama_codec.c, ...).
 * Pure C over cJSON, no erl_nif. Bodies come from the network: every
 * length, type and encoding is checked, and nothing here aborts. */
#include "codec_util.h"

#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json_strict.h"

/* --- Writing JSON --------------------------------------------------------- */

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

int json_put_string(buf *b, const char *s, size_t len) {
  const unsigned char *p = (const unsigned char *)s;
  size_t i = 0, start = 0, used;
  char tmp[8];

  if (s == NULL && len > 0)
    return -1;
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

int json_put_cstr(buf *b, const char *s) {
  if (s == NULL)
    return -1;
  return json_put_string(b, s, strlen(s));
}

/* Like cJSON, so 0.2 goes out as 0.2 and still reads back exactly. */
int json_put_number(buf *b, double d) {
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

int json_put_item(buf *b, const cJSON *item) {
  char *text = cJSON_PrintUnformatted(item);
  int rc;

  if (text == NULL)
    return -1;
  rc = buf_puts(b, text);
  cJSON_free(text);
  return rc;
}

char *json_print(const cJSON *item) {
  buf b;

  buf_init(&b, 0);
  if (json_put_item(&b, item) != 0) {
    buf_free(&b);
    return NULL;
  }
  return buf_detach(&b, NULL);
}

/* The text goes out as it came, once the strict scanner has passed it:
 * re-printing through cJSON would round numbers past 2^53. */
int json_put_json(buf *b, const char *text, size_t len, int object) {
  size_t start = 0, end, err_at;
  const char *err;

  if (text == NULL || !chat_utf8_valid(text, len))
    return -1;
  if (json_strict_scan(text, len, 0, CODEC_JSON_MAX_DEPTH, &end, &err_at,
                       &err) != 0)
    return -1;
  while (start < end && json_is_space(text[start]))
    start++;
  if (object && text[start] != '{')
    return -1;
  for (size_t i = end; i < len; i++) {
    if (!json_is_space(text[i]))
      return -1;
  }
  return buf_append(b, text + start, end - start);
}

/* --- Reading JSON --------------------------------------------------------- */

int json_is_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

cJSON *json_parse_body(const char *body, size_t len) {
  const char *end = NULL, *stop = body + len;
  cJSON *root;

  if (body == NULL || len == 0 || memchr(body, '\0', len) != NULL)
    return NULL;
  root = cJSON_ParseWithLengthOpts(body, len, &end, 0);
  if (root == NULL)
    return NULL;
  while (end < stop && json_is_space(*end))
    end++;
  if (end != stop) {
    cJSON_Delete(root);
    return NULL;
  }
  return root;
}

const cJSON *json_get(const cJSON *obj, const char *name) {
  if (!cJSON_IsObject(obj))
    return NULL;
  return cJSON_GetObjectItemCaseSensitive(obj, name);
}

char *json_strdup(const cJSON *item) {
  if (item == NULL || !cJSON_IsString(item) || item->valuestring == NULL)
    return NULL;
  return strdup(item->valuestring);
}

int json_copy_optional(const cJSON *item, char **out) {
  *out = json_strdup(item);
  return (*out == NULL && cJSON_IsString(item)) ? -1 : 0;
}

long json_count(const cJSON *obj, const char *name) {
  const cJSON *v = json_get(obj, name);
  double d;

  if (v == NULL || !cJSON_IsNumber(v))
    return -1;
  d = v->valuedouble;
  if (!(d >= 0 && d < (double)LONG_MAX))
    return -1;
  return (long)d;
}

char *codec_body_snippet(const char *body, size_t len) {
  const char *nul;
  size_t start = 0;

  if (body == NULL)
    return NULL;
  if (len > CODEC_SNIPPET_MAX) {
    len = CODEC_SNIPPET_MAX;
    /* body[len] is inside the body here; step back over continuation
     * bytes so no character is cut in half. */
    while (len > 0 && ((unsigned char)body[len] & 0xC0) == 0x80)
      len--;
  }
  nul = memchr(body, '\0', len);
  if (nul != NULL)
    len = (size_t)(nul - body);
  while (start < len && json_is_space(body[start]))
    start++;
  while (len > start && json_is_space(body[len - 1]))
    len--;
  if (len == start || !chat_utf8_valid(body + start, len - start))
    return NULL;
  return strndup(body + start, len - start);
}

/* --- Requests ------------------------------------------------------------- */

int codec_valid_name(const char *s) {
  return s != NULL && s[0] != '\0' && chat_utf8_valid(s, strlen(s));
}

static int valid_optional(const char *s) {
  return s == NULL || chat_utf8_valid(s, strlen(s));
}

static int tool_call_valid(const chat_tool_call *c) {
  const char *args;
  size_t len;

  if (!codec_valid_name(c->id) || !codec_valid_name(c->name))
    return 0;
  args = codec_call_args(c, &len);
  return chat_utf8_valid(args, len);
}

static int message_valid(const chat_message *m) {
  size_t i;

  if (!codec_valid_name(m->role))
    return 0;
  if (m->content == NULL && m->content_len > 0)
    return 0;
  if (!chat_utf8_valid(m->content, m->content_len))
    return 0;
  if (m->n_tool_calls > 0) {
    if (m->tool_calls == NULL || strcmp(m->role, "assistant") != 0)
      return 0;
    for (i = 0; i < m->n_tool_calls; i++) {
      if (!tool_call_valid(&m->tool_calls[i]))
        return 0;
    }
  }
  return valid_optional(m->tool_call_id) && valid_optional(m->tool_name);
}

static int is_choice_keyword(const char *s) {
  return strcmp(s, "auto") == 0 || strcmp(s, "none") == 0 ||
         strcmp(s, "required") == 0;
}

static const chat_tool *find_tool(const chat_request *req, const char *name) {
  size_t i;

  for (i = 0; i < req->n_tools; i++) {
    if (strcmp(req->tools[i].name, name) == 0)
      return &req->tools[i];
  }
  return NULL;
}

static int tools_valid(const chat_request *req) {
  size_t i;

  if (req->n_tools > 0 && req->tools == NULL)
    return 0;
  for (i = 0; i < req->n_tools; i++) {
    const chat_tool *t = &req->tools[i];

    if (!codec_valid_name(t->name) || !valid_optional(t->description))
      return 0;
  }
  if (req->tool_choice == NULL)
    return 1;
  if (strcmp(req->tool_choice, "required") == 0)
    return req->n_tools > 0;
  return is_choice_keyword(req->tool_choice) ||
         find_tool(req, req->tool_choice) != NULL;
}

int codec_request_check(const chat_request *req) {
  size_t i;

  if (req == NULL || !codec_valid_name(req->model))
    return 0;
  if (req->n_messages == 0 || req->messages == NULL)
    return 0;
  if (req->has_temperature && !isfinite(req->temperature))
    return 0;
  for (i = 0; i < req->n_messages; i++) {
    if (!message_valid(&req->messages[i]))
      return 0;
  }
  if (req->output_schema_name != NULL &&
      !codec_valid_name(req->output_schema_name))
    return 0;
  return tools_valid(req);
}

const chat_tool *codec_forced_tool(const chat_request *req) {
  if (req->tool_choice == NULL || is_choice_keyword(req->tool_choice))
    return NULL;
  return find_tool(req, req->tool_choice);
}

const char *codec_call_args(const chat_tool_call *c, size_t *len) {
  size_t n = c->arguments_len;

  if (c->arguments != NULL && n == 0)
    n = strlen(c->arguments);
  if (c->arguments == NULL || n == 0) {
    *len = 2;
    return "{}";
  }
  *len = n;
  return c->arguments;
}

/* --- Endpoints ------------------------------------------------------------ */

int codec_url(buf *out, const char *base, const char *dflt, const char *path) {
  size_t len, i;

  if (base == NULL || base[0] == '\0')
    base = dflt;
  len = strlen(base);
  for (i = 0; i < len; i++) {
    unsigned char c = (unsigned char)base[i];

    if (c <= 0x20 || c == 0x7F)
      return -1;
  }
  while (len > 0 && base[len - 1] == '/')
    len--;
  if (len == 0)
    return -1;
  if (buf_append(out, base, len) != 0)
    return -1;
  return buf_puts(out, path);
}

int codec_add_bearer(chat_headers *h, const char *api_key) {
  buf value;
  int rc;

  if (api_key == NULL || api_key[0] == '\0')
    return 0;
  buf_init(&value, 0);
  rc = buf_printf(&value, "Bearer %s", api_key);
  if (rc == 0)
    rc = chat_headers_add(h, "Authorization", value.data);
  buf_free(&value);
  return rc;
}
