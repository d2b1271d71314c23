/* codec_util.c - request checks and small helpers shared by the
 * OpenAI-shaped codecs (see codec_util.h). Pure C, no erl_nif. */
#include "codec_util.h"

#include <math.h>
#include <string.h>

#include "buf.h"

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
  args = chat_tool_call_args(c, &len);
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
         chat_request_has_tool(req, req->tool_choice);
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
  size_t i;

  if (req->tool_choice == NULL || is_choice_keyword(req->tool_choice))
    return NULL;
  for (i = 0; i < req->n_tools; i++) {
    if (strcmp(req->tools[i].name, req->tool_choice) == 0)
      return &req->tools[i];
  }
  return NULL;
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

int codec_url(buf *out, const char *base, const char *dflt, const char *path) {
  if (chat_url_put_base(out, base, dflt) != 0)
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
