/* anthropic_codec.c - Anthropic Messages bodies: builds the request JSON,
 * turns success and error bodies into chat_response / chat_error, and
 * decodes the typed SSE events (message_start, content_block_*,
 * message_delta, message_stop, error). Pure C over cJSON, no erl_nif.
 * Bodies come from the network: every length, type and encoding is
 * checked, and nothing here aborts. */
#include "anthropic_codec.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>

#include "chat_stream.h"
#include "codec_util.h"
#include "json_in.h"
#include "json_out.h"
#include "reason.h"

#define DEFAULT_BASE_URL "https://api.anthropic.com/v1"
#define API_VERSION "2023-06-01"
/* max_tokens is required by the API; used when the request sets none. */
#define DEFAULT_MAX_TOKENS 4096

/* --- URL and headers ----------------------------------------------------- */

int anthropic_build_url(const chat_endpoint *ep, buf *out) {
  if (codec_url_put_base(out, ep->base_url, DEFAULT_BASE_URL) != 0)
    return -1;
  return buf_puts(out, "/messages");
}

int anthropic_build_headers(const chat_endpoint *ep, codec_headers *out) {
  if (ep->api_key != NULL &&
      codec_headers_add(out, "x-api-key", ep->api_key) != 0)
    return -1;
  if (codec_headers_add(out, "anthropic-version", API_VERSION) != 0 ||
      codec_headers_add(out, "content-type", "application/json") != 0)
    return -1;
  return 0;
}

/* --- Request ------------------------------------------------------------- */

static int nonempty(const char *s) { return s != NULL && s[0] != '\0'; }

static int put_text_block(buf *b, const char *text, size_t len) {
  if (buf_puts(b, "{\"type\":\"text\",\"text\":") != 0 ||
      json_put_string(b, text, len) != 0)
    return -1;
  return buf_puts(b, "}");
}

/* The system messages as the top-level `system`: a string when there is
 * one, text blocks when there are several (so none is altered by
 * joining). Empty ones are left out: the API refuses empty text blocks. */
static int put_system(buf *b, const chat_request *req) {
  size_t i, n = 0, seen = 0;

  for (i = 0; i < req->n_messages; i++) {
    if (codec_is_role(&req->messages[i], "system") &&
        req->messages[i].content_len > 0)
      n++;
  }
  if (n == 0)
    return 0;
  if (buf_puts(b, n == 1 ? ",\"system\":" : ",\"system\":[") != 0)
    return -1;
  for (i = 0; i < req->n_messages; i++) {
    const chat_message *m = &req->messages[i];

    if (!codec_is_role(m, "system") || m->content_len == 0)
      continue;
    if (n == 1)
      return json_put_string(b, m->content, m->content_len);
    if ((seen++ > 0 && buf_puts(b, ",") != 0) ||
        put_text_block(b, m->content, m->content_len) != 0)
      return -1;
  }
  return buf_puts(b, "]");
}

/* {"type":"tool_use","id":...,"name":...,"input":{...}}: the arguments
 * text must hold a JSON object (no text at all is {}). */
static int put_tool_use(buf *b, const chat_tool_call *c) {
  const char *args;
  size_t len;

  if (!nonempty(c->id) || !nonempty(c->name))
    return -1;
  args = codec_call_args(c, &len);
  if (buf_puts(b, "{\"type\":\"tool_use\",\"id\":") != 0 ||
      json_put_cstr(b, c->id) != 0 || buf_puts(b, ",\"name\":") != 0 ||
      json_put_cstr(b, c->name) != 0 || buf_puts(b, ",\"input\":") != 0 ||
      json_put_json_text(b, args, len, 1) != 0)
    return -1;
  return buf_puts(b, "}");
}

/* An assistant turn: plain string content, or blocks when it called
 * tools (its text, if any, first). */
static int put_assistant(buf *b, const chat_message *m) {
  size_t i;

  if (buf_puts(b, "{\"role\":\"assistant\",\"content\":") != 0)
    return -1;
  if (m->n_tool_calls == 0) {
    if (json_put_string(b, m->content, m->content_len) != 0)
      return -1;
    return buf_puts(b, "}");
  }
  if (m->tool_calls == NULL || buf_puts(b, "[") != 0)
    return -1;
  if (m->content_len > 0 &&
      (put_text_block(b, m->content, m->content_len) != 0 ||
       buf_puts(b, ",") != 0))
    return -1;
  for (i = 0; i < m->n_tool_calls; i++) {
    if ((i > 0 && buf_puts(b, ",") != 0) ||
        put_tool_use(b, &m->tool_calls[i]) != 0)
      return -1;
  }
  return buf_puts(b, "]}");
}

static int put_tool_result(buf *b, const chat_message *m) {
  if (!nonempty(m->tool_call_id))
    return -1;
  if (buf_puts(b, "{\"type\":\"tool_result\",\"tool_use_id\":") != 0 ||
      json_put_cstr(b, m->tool_call_id) != 0 ||
      buf_puts(b, ",\"content\":") != 0 ||
      json_put_string(b, m->content, m->content_len) != 0)
    return -1;
  return buf_puts(b, "}");
}

static int put_user(buf *b, const chat_message *m) {
  if (buf_puts(b, "{\"role\":\"user\",\"content\":") != 0 ||
      json_put_string(b, m->content, m->content_len) != 0)
    return -1;
  return buf_puts(b, "}");
}

/* The `messages` array. System messages went to `system`; a run of tool
 * results is one user turn of tool_result blocks. */
static int put_messages(buf *b, const chat_request *req) {
  static const codec_turns turns = {
      .results_open = "{\"role\":\"user\",\"content\":[",
      .put_user = put_user,
      .put_assistant = put_assistant,
      .put_result = put_tool_result,
  };

  if (buf_puts(b, ",\"messages\":[") != 0 ||
      codec_put_turns(b, req, &turns) != 0)
    return -1;
  return buf_puts(b, "]");
}

static int put_tools(buf *b, const chat_request *req) {
  size_t i;

  if (req->n_tools == 0)
    return 0;
  if (req->tools == NULL || buf_puts(b, ",\"tools\":[") != 0)
    return -1;
  for (i = 0; i < req->n_tools; i++) {
    const chat_tool *t = &req->tools[i];

    if (!nonempty(t->name))
      return -1;
    if ((i > 0 && buf_puts(b, ",") != 0) || buf_puts(b, "{") != 0 ||
        codec_put_tool_head(b, t) != 0 ||
        buf_puts(b, ",\"input_schema\":") != 0 ||
        codec_put_tool_schema(b, t) != 0 || buf_puts(b, "}") != 0)
      return -1;
  }
  return buf_puts(b, "]");
}

/* auto -> {"type":"auto"}, required -> any, none -> none, a tool's name ->
 * {"type":"tool","name":...}. Without tools the API refuses a tool_choice:
 * auto and none are then left out, anything else is an invalid request. */
static int put_tool_choice(buf *b, const chat_request *req) {
  const char *tc = req->tool_choice;
  int soft = 0;

  if (tc == NULL)
    return 0;
  soft = strcmp(tc, "auto") == 0 || strcmp(tc, "none") == 0;
  if (req->n_tools == 0)
    return soft ? 0 : -1;
  if (strcmp(tc, "auto") == 0)
    return buf_puts(b, ",\"tool_choice\":{\"type\":\"auto\"}");
  if (strcmp(tc, "required") == 0)
    return buf_puts(b, ",\"tool_choice\":{\"type\":\"any\"}");
  if (strcmp(tc, "none") == 0)
    return buf_puts(b, ",\"tool_choice\":{\"type\":\"none\"}");
  if (!codec_request_has_tool(req, tc))
    return -1;
  if (buf_puts(b, ",\"tool_choice\":{\"type\":\"tool\",\"name\":") != 0 ||
      json_put_cstr(b, tc) != 0)
    return -1;
  return buf_puts(b, "}");
}

/* Structured output, GA form (no beta header needed). */
static int put_output_config(buf *b, const chat_request *req) {
  if (req->output_schema == NULL)
    return 0;
  if (buf_puts(b, ",\"output_config\":{\"format\":{\"type\":\"json_schema\","
                  "\"schema\":") != 0 ||
      json_put_json_text(b, req->output_schema, strlen(req->output_schema),
                         1) != 0)
    return -1;
  return buf_puts(b, "}}");
}

char *anthropic_build_request(const chat_request *req, size_t *len) {
  long max_tokens;
  buf b;

  if (len != NULL)
    *len = 0;
  if (!codec_request_basics(req))
    return NULL;
  max_tokens = req->max_tokens > 0 ? req->max_tokens : DEFAULT_MAX_TOKENS;
  buf_init(&b, 0);

  if (buf_puts(&b, "{\"model\":") != 0 || json_put_cstr(&b, req->model) != 0 ||
      buf_printf(&b, ",\"max_tokens\":%ld", max_tokens) != 0 ||
      put_system(&b, req) != 0 || put_messages(&b, req) != 0)
    goto err;
  if (req->has_temperature && (buf_puts(&b, ",\"temperature\":") != 0 ||
                               json_put_number(&b, req->temperature) != 0))
    goto err;
  if (put_tools(&b, req) != 0 || put_tool_choice(&b, req) != 0 ||
      put_output_config(&b, req) != 0)
    goto err;
  if (req->stream && buf_puts(&b, ",\"stream\":true") != 0)
    goto err;
  if (buf_puts(&b, "}") != 0)
    goto err;
  return buf_detach(&b, len);

err:
  buf_free(&b);
  return NULL;
}

/* --- Shared by responses, errors and stream events ----------------------- */

/* The stop reason words of the Messages API. pause_turn (a server tool
 * paused a long turn) and anything new are OTHER. */
static chat_stop stop_of(const char *raw) {
  if (raw == NULL)
    return CHAT_STOP_NONE;
  if (strcmp(raw, "end_turn") == 0 || strcmp(raw, "stop_sequence") == 0)
    return CHAT_STOP_END;
  if (strcmp(raw, "max_tokens") == 0 ||
      strcmp(raw, "model_context_window_exceeded") == 0)
    return CHAT_STOP_LENGTH;
  if (strcmp(raw, "tool_use") == 0)
    return CHAT_STOP_TOOL_CALLS;
  if (strcmp(raw, "refusal") == 0)
    return CHAT_STOP_CONTENT_FILTER;
  return CHAT_STOP_OTHER;
}

/* Error types worth retrying; the SDKs retry the same set by status. */
static chat_error_kind error_type_kind(const char *type) {
  static const char *const transient[] = {"overloaded_error", "api_error",
                                          "rate_limit_error", "timeout_error"};
  size_t i;

  for (i = 0; type != NULL && i < sizeof(transient) / sizeof(*transient); i++) {
    if (strcmp(type, transient[i]) == 0)
      return CHAT_ERR_TRANSIENT;
  }
  return CHAT_ERR_PERMANENT;
}

/* Input tokens in all: input_tokens plus the cache write and read counts,
 * which input_tokens leaves out. -1 without input_tokens or on overflow. */
static long input_total(const cJSON *usage) {
  static const char *const extra[] = {"cache_creation_input_tokens",
                                      "cache_read_input_tokens"};
  long total = json_get_count(usage, "input_tokens");
  size_t i;

  if (total < 0)
    return -1;
  for (i = 0; i < 2; i++) {
    long n = json_get_count(usage, extra[i]);

    if (n < 0)
      continue;
    if (n > LONG_MAX - total)
      return -1;
    total += n;
  }
  return total;
}

/* Copies type, message and details.error_code (at the top level or inside
 * the error) from a parsed error body into err, whose strings are NULL. */
static void read_error_object(const cJSON *root, chat_error *err) {
  const cJSON *error = json_get(root, "error");
  const char *code;

  err->type = json_dup_string(json_get(error, "type"));
  err->message = json_dup_string(json_get(error, "message"));
  code = json_get_string(json_get(root, "details"), "error_code");
  if (code == NULL)
    code = json_get_string(json_get(error, "details"), "error_code");
  if (code != NULL)
    err->code = strdup(code);
}

/* --- Success bodies ------------------------------------------------------ */

static const char *read_tool_use(const cJSON *block, chat_response *resp) {
  const char *id = json_get_string(block, "id");
  const char *name = json_get_string(block, "name");
  const cJSON *input = json_get(block, "input");

  if (!nonempty(id) || !nonempty(name))
    return CX_REASON_WORD(missing_field);
  if (input != NULL && !cJSON_IsObject(input))
    return CX_REASON_WORD(missing_field);
  return codec_add_tool_call(resp, id, resp->n_tool_calls, name,
                             json_object_text(input));
}

/* The content blocks: text blocks are joined, tool_use blocks become tool
 * calls, the rest (thinking, redacted_thinking, server tools) is skipped. */
static const char *read_content(const cJSON *content, chat_response *resp) {
  const cJSON *block;
  const char *reason;
  buf text;

  if (!cJSON_IsArray(content))
    return CX_REASON_WORD(missing_field);
  buf_init(&text, 0);
  cJSON_ArrayForEach(block, content) {
    const char *type = json_get_string(block, "type");

    if (type == NULL) {
      buf_free(&text);
      return CX_REASON_WORD(missing_field);
    }
    if (strcmp(type, "text") == 0) {
      const char *t = json_get_string(block, "text");

      if (t == NULL) {
        buf_free(&text);
        return CX_REASON_WORD(missing_field);
      }
      if (buf_puts(&text, t) != 0) {
        buf_free(&text);
        return CX_REASON_WORD(out_of_memory);
      }
    } else if (strcmp(type, "tool_use") == 0) {
      reason = read_tool_use(block, resp);
      if (reason != NULL) {
        buf_free(&text);
        return reason;
      }
    }
  }
  resp->content = buf_detach(&text, &resp->content_len);
  return resp->content == NULL ? CX_REASON_WORD(out_of_memory) : NULL;
}

static const char *read_response(const cJSON *root, chat_response *resp) {
  const cJSON *usage = json_get(root, "usage");
  const char *reason = read_content(json_get(root, "content"), resp);

  if (reason != NULL)
    return reason;
  if (json_copy_string(json_get(root, "stop_reason"), &resp->finish_reason) !=
          0 ||
      json_copy_string(json_get(root, "model"), &resp->model) != 0)
    return CX_REASON_WORD(out_of_memory);
  resp->stop = stop_of(resp->finish_reason);
  resp->input_tokens = input_total(usage);
  resp->output_tokens = json_get_count(usage, "output_tokens");
  return NULL;
}

/* An error object in a 200 body: its type says whether to retry. */
static int body_error(const cJSON *root, chat_error *err) {
  if (!cJSON_IsObject(json_get(root, "error")))
    return 0;
  chat_error_set(err, CHAT_ERR_PERMANENT, CX_REASON_WORD(provider_error), NULL);
  read_error_object(root, err);
  err->kind = error_type_kind(err->type);
  return 1;
}

/* resp is treated as output only: it is overwritten, not freed. err is
 * only touched on failure (its old strings are freed). Text holding an
 * escaped \u0000 is cut there: content_len is the C string length. */
int anthropic_parse_response(const char *body, size_t len,
                             size_t max_tool_calls, chat_response *resp,
                             chat_error *err) {
  return codec_parse_response(body, len, max_tool_calls, resp, err, body_error,
                              read_response);
}

/* --- Error bodies -------------------------------------------------------- */

static void read_http_error(const cJSON *root, long status, chat_error *err) {
  if (cJSON_IsObject(json_get(root, "error")))
    read_error_object(root, err);
  /* A spend cap comes as 429 but waiting will not lift it. */
  if (status == 429 && err->code != NULL &&
      strcmp(err->code, "enforced_spend_limit_reached") == 0)
    err->kind = CHAT_ERR_PERMANENT;
}

void anthropic_parse_error(long status, const char *body, size_t len,
                           long retry_after_ms, chat_error *err) {
  codec_parse_error(status, body, len, retry_after_ms, err, read_http_error);
}

/* --- Stream events ------------------------------------------------------- */

static int on_message_start(chat_stream *st, const cJSON *root) {
  const cJSON *message = json_get(root, "message");
  const cJSON *model = json_get(message, "model");
  const cJSON *usage = json_get(message, "usage");

  if (!cJSON_IsObject(message))
    return codec_malformed(st, CX_REASON_WORD(missing_field));
  if (cJSON_IsString(model) && chat_stream_model(st, model->valuestring) != 0)
    return -1;
  if (cJSON_IsObject(usage))
    chat_stream_usage(st, input_total(usage),
                      json_get_count(usage, "output_tokens"));
  return 0;
}

/* A text block may start with text (it is usually ""); a tool_use block
 * opens the next tool call. Its `input` here is a {} placeholder: the
 * arguments follow as input_json_delta fragments. */
static int on_block_start(chat_stream *st, const cJSON *root) {
  const cJSON *block = json_get(root, "content_block");
  const char *type = json_get_string(block, "type");

  if (type == NULL)
    return codec_malformed(st, CX_REASON_WORD(missing_field));
  if (strcmp(type, "text") == 0) {
    const cJSON *text = json_get(block, "text");

    if (text != NULL && !cJSON_IsString(text))
      return codec_malformed(st, CX_REASON_WORD(missing_field));
    if (text != NULL && text->valuestring[0] != '\0')
      return chat_stream_text(st, text->valuestring, strlen(text->valuestring));
    return 0;
  }
  if (strcmp(type, "tool_use") == 0) {
    const char *id = json_get_string(block, "id");
    const char *name = json_get_string(block, "name");

    if (!nonempty(id) || !nonempty(name))
      return codec_malformed(st, CX_REASON_WORD(missing_field));
    return chat_stream_tool_call(st, chat_stream_tool_count(st), id, name);
  }
  return 0; /* thinking, redacted_thinking, ... */
}

/* text_delta adds text; input_json_delta adds to the open tool call's
 * arguments (blocks arrive one after another, so it is the last one). */
static int on_block_delta(chat_stream *st, const cJSON *root) {
  const cJSON *delta = json_get(root, "delta");
  const char *type = json_get_string(delta, "type");
  const char *s;
  size_t n;

  if (type == NULL)
    return codec_malformed(st, CX_REASON_WORD(missing_field));
  if (strcmp(type, "text_delta") == 0) {
    s = json_get_string(delta, "text");
    if (s == NULL)
      return codec_malformed(st, CX_REASON_WORD(missing_field));
    return s[0] != '\0' ? chat_stream_text(st, s, strlen(s)) : 0;
  }
  if (strcmp(type, "input_json_delta") == 0) {
    s = json_get_string(delta, "partial_json");
    n = chat_stream_tool_count(st);
    if (s == NULL || n == 0)
      return codec_malformed(st, CX_REASON_WORD(missing_field));
    return s[0] != '\0' ? chat_stream_tool_args(st, n - 1, s, strlen(s)) : 0;
  }
  return 0; /* thinking_delta, signature_delta, citations_delta, ... */
}

/* The stop reason, and usage whose counts are cumulative. A gateway may
 * send input_tokens 0 at the start and the real count here: this one
 * wins when present. */
static int on_message_delta(chat_stream *st, const cJSON *root) {
  const cJSON *usage = json_get(root, "usage");
  const cJSON *reason = json_get(json_get(root, "delta"), "stop_reason");

  if (reason != NULL && !cJSON_IsNull(reason) && !cJSON_IsString(reason))
    return codec_malformed(st, CX_REASON_WORD(missing_field));
  if (cJSON_IsString(reason) &&
      chat_stream_stop(st, stop_of(reason->valuestring), reason->valuestring) !=
          0)
    return -1;
  if (cJSON_IsObject(usage))
    chat_stream_usage(st, input_total(usage),
                      json_get_count(usage, "output_tokens"));
  return 0;
}

/* `event: error` inside a 200 stream. Its data may be anything; what can
 * be read of it goes into the failure. */
static int on_error(chat_stream *st, const cJSON *root, const char *data,
                    size_t len) {
  const cJSON *error = json_get(root, "error");
  const char *type = json_get_string(error, "type");
  const char *message = json_get_string(error, "message");
  char *snippet = NULL;
  int rc;

  if (message == NULL)
    message = snippet = json_body_snippet(data, len);
  rc = chat_stream_fail(st, error_type_kind(type),
                        CX_REASON_WORD(provider_error), type, message);
  free(snippet);
  return rc;
}

typedef int (*event_fn)(chat_stream *st, const cJSON *root);

/* The events that carry something to apply. ping and content_block_stop
 * carry nothing, and unknown types must be ignored (versioning policy). */
static event_fn handler_for(const char *name) {
  static const struct {
    const char *name;
    event_fn fn;
  } handlers[] = {
      {"message_start", on_message_start},
      {"content_block_start", on_block_start},
      {"content_block_delta", on_block_delta},
      {"message_delta", on_message_delta},
  };
  size_t i;

  for (i = 0; i < sizeof(handlers) / sizeof(*handlers); i++) {
    if (strcmp(name, handlers[i].name) == 0)
      return handlers[i].fn;
  }
  return NULL;
}

/* An unnamed event, dispatched by its JSON `type`. */
static int typed_event(chat_stream *st, const cJSON *root) {
  const char *type = json_get_string(root, "type");
  event_fn fn;

  if (type == NULL)
    return codec_malformed(st, CX_REASON_WORD(missing_field));
  if (strcmp(type, "error") == 0)
    return on_error(st, root, NULL, 0);
  if (strcmp(type, "message_stop") == 0) {
    chat_stream_end(st);
    return 0;
  }
  fn = handler_for(type);
  return fn != NULL ? fn(st, root) : 0;
}

/* The event name comes from the `event:` line, or, when a gateway leaves
 * it out, from the JSON `type` (the two are equal on the wire). Only the
 * events that need their data get it parsed. */
int anthropic_stream_event(chat_stream *st, const char *event, const char *data,
                           size_t len) {
  const char *name = nonempty(event) ? event : NULL;
  const char *bad = NULL;
  event_fn fn = NULL;
  cJSON *root = NULL;
  int is_error = 0, rc;

  if (name != NULL) {
    if (strcmp(name, "message_stop") == 0) {
      chat_stream_end(st);
      return 0;
    }
    is_error = strcmp(name, "error") == 0;
    fn = handler_for(name);
    if (!is_error && fn == NULL)
      return 0;
  } else if (len == 0) {
    return 0; /* an empty unnamed event says nothing */
  }

  if (!chat_utf8_valid(data, len)) {
    bad = CX_REASON_WORD(invalid_utf8);
  } else {
    root = json_parse_body(data, len);
    if (root == NULL)
      bad = CX_REASON_WORD(invalid_json);
  }

  if (is_error)
    rc = on_error(st, root, data, len);
  else if (bad != NULL)
    rc = codec_malformed(st, bad);
  else if (name == NULL)
    rc = typed_event(st, root);
  else if (!cJSON_IsObject(root))
    rc = codec_malformed(st, CX_REASON_WORD(missing_field));
  else
    rc = fn(st, root);
  cJSON_Delete(root);
  return rc;
}

const chat_codec chat_codec_anthropic = {
    .name = "anthropic",
    .framing = CHAT_FRAMING_SSE,
    .build_url = anthropic_build_url,
    .build_headers = anthropic_build_headers,
    .build_request = anthropic_build_request,
    .parse_response = anthropic_parse_response,
    .parse_error = anthropic_parse_error,
    .stream_event = anthropic_stream_event,
};
