/* codec_util.c - request checks, shared pieces of request bodies and the
 * frames of response, error and stream-event parsing that the dialect
 * codecs have in common (see codec_util.h). Pure C, no erl_nif. */
#include "codec_util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "chat_stream.h"
#include "json_in.h"
#include "json_out.h"
#include "reason.h"
#include "str.h"

/* --- Requests ------------------------------------------------------------ */

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
  args = codec_tool_call_args(c, &len);
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
         codec_request_has_tool(req, req->tool_choice);
}

int codec_request_basics(const chat_request *req) {
  if (req == NULL || req->model == NULL || req->model[0] == '\0')
    return 0;
  if (req->n_messages == 0 || req->messages == NULL)
    return 0;
  return !req->has_temperature || isfinite(req->temperature);
}

int codec_request_check(const chat_request *req) {
  size_t i;

  if (!codec_request_basics(req) || !codec_valid_name(req->model))
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
  size_t i;

  if (req->tool_choice == NULL || is_choice_keyword(req->tool_choice))
    return NULL;
  for (i = 0; i < req->n_tools; i++) {
    if (strcmp(req->tools[i].name, req->tool_choice) == 0)
      return &req->tools[i];
  }
  return NULL;
}

int codec_is_role(const chat_message *m, const char *role) {
  return m->role != NULL && strcmp(m->role, role) == 0;
}

/* --- Writing request bodies ---------------------------------------------- */

const char *codec_call_args(const chat_tool_call *c, size_t *len) {
  const char *args = codec_tool_call_args(c, len);

  if (args == NULL || *len == 0) {
    *len = 2;
    return "{}";
  }
  return args;
}

int codec_put_tool_head(buf *b, const chat_tool *t) {
  if (buf_puts(b, "\"name\":") != 0 || json_put_cstr(b, t->name) != 0)
    return -1;
  if (t->description != NULL && (buf_puts(b, ",\"description\":") != 0 ||
                                 json_put_cstr(b, t->description) != 0))
    return -1;
  return 0;
}

int codec_put_tool_schema(buf *b, const chat_tool *t) {
  if (t->parameters == NULL)
    return buf_puts(b, "{\"type\":\"object\"}");
  return json_put_json_text(b, t->parameters, strlen(t->parameters), 1);
}

int codec_put_messages(buf *b, const chat_request *req,
                       int (*put_message)(buf *b, const chat_message *m)) {
  size_t i;

  if (buf_puts(b, "{\"model\":") != 0 || json_put_cstr(b, req->model) != 0 ||
      buf_puts(b, ",\"messages\":[") != 0)
    return -1;
  for (i = 0; i < req->n_messages; i++) {
    if ((i > 0 && buf_puts(b, ",") != 0) ||
        put_message(b, &req->messages[i]) != 0)
      return -1;
  }
  return buf_puts(b, "]");
}

int codec_put_tool_calls(buf *b, const chat_message *m,
                         int (*put_call)(buf *b, const chat_tool_call *c)) {
  size_t i;

  if (m->n_tool_calls == 0)
    return 0;
  if (buf_puts(b, ",\"tool_calls\":[") != 0)
    return -1;
  for (i = 0; i < m->n_tool_calls; i++) {
    if ((i > 0 && buf_puts(b, ",") != 0) || put_call(b, &m->tool_calls[i]) != 0)
      return -1;
  }
  return buf_puts(b, "]");
}

int codec_put_turns(buf *b, const chat_request *req, const codec_turns *t) {
  size_t i, n = 0;
  int in_results = 0;

  for (i = 0; i < req->n_messages; i++) {
    const chat_message *m = &req->messages[i];

    if (codec_is_role(m, "system"))
      continue;
    if (codec_is_role(m, "tool")) {
      if (in_results) {
        if (buf_puts(b, ",") != 0)
          return -1;
      } else if ((n++ > 0 && buf_puts(b, ",") != 0) ||
                 buf_puts(b, t->results_open) != 0) {
        return -1;
      }
      in_results = 1;
      if (t->put_result(b, m) != 0)
        return -1;
      continue;
    }
    if (in_results && buf_puts(b, "]}") != 0)
      return -1;
    in_results = 0;
    if (n++ > 0 && buf_puts(b, ",") != 0)
      return -1;
    if (codec_is_role(m, "user")) {
      if (t->put_user(b, m) != 0)
        return -1;
    } else if (!codec_is_role(m, "assistant") || t->put_assistant(b, m) != 0) {
      return -1;
    }
  }
  if (in_results && buf_puts(b, "]}") != 0)
    return -1;
  return n > 0 ? 0 : -1; /* only system messages: nothing to answer */
}

/* --- Reading responses and stream events --------------------------------- */

int codec_parse_response(const char *body, size_t len, size_t max_tool_calls,
                         chat_response *resp, chat_error *err,
                         codec_body_error_fn body_error,
                         codec_read_fn read_answer) {
  cJSON *root = NULL;
  const char *reason;
  int rc = -1;

  chat_response_init(resp);
  resp->max_tool_calls = chat_tool_call_cap(max_tool_calls);
  if (body == NULL || len == 0) {
    chat_error_set(err, CHAT_ERR_PERMANENT, CX_REASON_WORD(invalid_json), NULL);
    goto done;
  }
  if (!chat_utf8_valid(body, len)) {
    chat_error_set(err, CHAT_ERR_PERMANENT, CX_REASON_WORD(invalid_utf8), NULL);
    goto done;
  }
  root = json_parse_body(body, len);
  if (root == NULL) {
    chat_error_set(err, CHAT_ERR_PERMANENT, CX_REASON_WORD(invalid_json), NULL);
    goto done;
  }
  if (body_error(root, err))
    goto done;
  reason = read_answer(root, resp);
  if (reason != NULL) {
    size_t cap = resp->max_tool_calls;

    chat_response_free(resp);
    if (strcmp(reason, CX_REASON_WORD(too_many_tool_calls)) == 0)
      chat_error_too_many_tool_calls(err, cap);
    else
      chat_error_set(err, CHAT_ERR_PERMANENT, reason, NULL);
    goto done;
  }
  rc = 0;

done:
  cJSON_Delete(root);
  return rc;
}

/* A reply that says nothing readable about itself still says what
 * happened. */
static void status_message(long status, const char *body, size_t len,
                           chat_error *err) {
  char text[160];
  size_t a = 0, b = len;

  if (body)
    str_trim(body, &a, &b);
  if (status >= 300 && status < 400)
    snprintf(text, sizeof(text),
             "HTTP %ld: the provider redirected the request, and redirects "
             "are not followed (check the provider's base_url)",
             status);
  else if (body == NULL || a == b)
    snprintf(text, sizeof(text), "HTTP %ld with an empty body", status);
  else
    snprintf(text, sizeof(text), "HTTP %ld with a body that is not text",
             status);
  free(err->message);
  err->message = strdup(text);
}

void codec_parse_error(long status, const char *body, size_t len,
                       long retry_after_ms, chat_error *err,
                       codec_error_fn read_error) {
  chat_error_kind kind = CHAT_ERR_PERMANENT;
  cJSON *root = NULL;

  if (status >= 400)
    kind = chat_status_kind(status);
  chat_error_set(err, kind, CX_REASON_WORD(http_error), NULL);
  err->http_status = status;
  err->retry_after_ms = retry_after_ms;

  if (body != NULL && chat_utf8_valid(body, len))
    root = json_parse_body(body, len);
  read_error(root, status, err);
  if (err->message == NULL)
    err->message = json_body_snippet(body, len);
  if (err->message == NULL || err->message[0] == '\0')
    status_message(status, body, len, err);
  cJSON_Delete(root);
}

int codec_malformed(chat_stream *st, const char *reason) {
  return chat_stream_fail(st, CHAT_ERR_PERMANENT, reason, NULL, NULL);
}

int codec_stream_json(chat_stream *st, const char *data, size_t len,
                      codec_apply_fn apply) {
  cJSON *root;
  int rc;

  if (len == 0)
    return 0;
  if (!chat_utf8_valid(data, len))
    return codec_malformed(st, CX_REASON_WORD(invalid_utf8));
  root = json_parse_body(data, len);
  if (root == NULL)
    return codec_malformed(st, CX_REASON_WORD(invalid_json));
  rc = apply(st, root);
  cJSON_Delete(root);
  return rc;
}

/* message.content: a string, or "" when null or absent. */
static const char *read_content(const cJSON *content, chat_response *resp) {
  if (cJSON_IsString(content))
    resp->content = json_dup_string(content);
  else if (content == NULL || cJSON_IsNull(content))
    resp->content = strdup("");
  else
    return CX_REASON_WORD(missing_field);
  if (resp->content == NULL)
    return CX_REASON_WORD(out_of_memory);
  resp->content_len = strlen(resp->content);
  return NULL;
}

static const char *read_tool_calls(const cJSON *list, chat_response *resp,
                                   codec_call_fn read_call) {
  const cJSON *item;
  size_t pos = 0;

  if (list == NULL || cJSON_IsNull(list))
    return NULL;
  if (!cJSON_IsArray(list))
    return CX_REASON_WORD(missing_field);
  cJSON_ArrayForEach(item, list) {
    const char *reason = read_call(item, pos++, resp);

    if (reason != NULL)
      return reason;
  }
  return NULL;
}

const char *codec_read_message(const cJSON *message, chat_response *resp,
                               codec_call_fn read_call) {
  const char *reason;

  if (!cJSON_IsObject(message))
    return CX_REASON_WORD(missing_field);
  reason = read_content(json_get(message, "content"), resp);
  if (reason != NULL)
    return reason;
  return read_tool_calls(json_get(message, "tool_calls"), resp, read_call);
}

char *codec_call_id(const char *given, size_t index) {
  char tmp[32];

  if (given != NULL && given[0] != '\0')
    return strdup(given);
  snprintf(tmp, sizeof(tmp), "call_%zu", index);
  return strdup(tmp);
}

const char *codec_add_tool_call(chat_response *resp, const char *id,
                                size_t index, const char *name, char *args) {
  chat_tool_call *call;

  if (args == NULL)
    return CX_REASON_WORD(out_of_memory);
  if (resp->n_tool_calls >= chat_tool_call_cap(resp->max_tool_calls)) {
    free(args);
    return CX_REASON_WORD(too_many_tool_calls);
  }
  call = chat_response_add_tool_call(resp);
  if (call == NULL) {
    free(args);
    return CX_REASON_WORD(out_of_memory);
  }
  call->arguments = args;
  call->arguments_len = strlen(args);
  call->id = codec_call_id(id, index);
  call->name = strdup(name);
  if (call->id == NULL || call->name == NULL)
    return CX_REASON_WORD(out_of_memory);
  return NULL;
}

/* --- Endpoints ----------------------------------------------------------- */

int codec_add_bearer(codec_headers *h, const char *api_key) {
  buf value;
  int rc;

  if (api_key == NULL || api_key[0] == '\0')
    return 0;
  buf_init(&value, 0);
  rc = buf_printf(&value, "Bearer %s", api_key);
  if (rc == 0)
    rc = codec_headers_add(h, "Authorization", value.data);
  buf_free(&value);
  return rc;
}

int codec_url(buf *out, const char *base, const char *dflt, const char *path) {
  if (codec_url_put_base(out, base, dflt) != 0)
    return -1;
  return buf_puts(out, path);
}

static int is_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

void codec_trim(const char **data, size_t *len) {
  if (*data == NULL) {
    *len = 0;
    return;
  }
  while (*len > 0 && is_space((*data)[0])) {
    (*data)++;
    (*len)--;
  }
  while (*len > 0 && is_space((*data)[*len - 1]))
    (*len)--;
}
