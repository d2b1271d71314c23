/* ollama_codec.c - Ollama native /api/chat bodies: builds the request JSON,
 * turns responses into chat_response, decodes NDJSON stream lines, and
 * fills the "ollama" codec table. Tool calls differ from OpenAI's: their
 * arguments are a JSON object, not a string, and ids are optional.
 * Pure C over cJSON, no erl_nif. Bodies come from the network: every
 * length, type and encoding is checked, and nothing here aborts. */
#include "ollama_codec.h"

#include <stdlib.h>
#include <string.h>

#include <cJSON.h>

#include "buf.h"
#include "chat_stream.h"
#include "codec_util.h"
#include "json_in.h"
#include "json_out.h"
#include "openai_codec.h"
#include "reason.h"

#define OLLAMA_BASE "http://localhost:11434"

/* --- Request ------------------------------------------------------------- */

/* {"id":..,"function":{"name":..,"arguments":{..}}}: the arguments text
 * must hold a JSON object. */
static int put_tool_call(buf *b, const chat_tool_call *c) {
  size_t len;
  const char *args = codec_call_args(c, &len);

  if (buf_puts(b, "{\"id\":") != 0 || json_put_cstr(b, c->id) != 0 ||
      buf_puts(b, ",\"function\":{\"name\":") != 0 ||
      json_put_cstr(b, c->name) != 0 || buf_puts(b, ",\"arguments\":") != 0 ||
      json_put_json_text(b, args, len, 1) != 0)
    return -1;
  return buf_puts(b, "}}");
}

static int put_optional_field(buf *b, const char *name, const char *value) {
  if (value == NULL)
    return 0;
  if (buf_printf(b, ",\"%s\":", name) != 0)
    return -1;
  return json_put_cstr(b, value);
}

/* content is always a string: Ollama's Go struct has no null for it. */
static int put_message(buf *b, const chat_message *m) {
  if (buf_puts(b, "{\"role\":") != 0 || json_put_cstr(b, m->role) != 0 ||
      buf_puts(b, ",\"content\":") != 0 ||
      json_put_string(b, m->content ? m->content : "", m->content_len) != 0 ||
      codec_put_tool_calls(b, m, put_tool_call) != 0)
    return -1;
  if (strcmp(m->role, "tool") == 0 &&
      (put_optional_field(b, "tool_name", m->tool_name) != 0 ||
       put_optional_field(b, "tool_call_id", m->tool_call_id) != 0))
    return -1;
  return buf_puts(b, "}");
}

/* The tools, as far as Ollama can follow tool_choice (see ollama_codec.h). */
static int put_tools(buf *b, const chat_request *req) {
  const chat_tool *forced = codec_forced_tool(req);

  if (req->n_tools == 0 ||
      (req->tool_choice != NULL && strcmp(req->tool_choice, "none") == 0))
    return 0;
  if (buf_puts(b, ",\"tools\":") != 0)
    return -1;
  if (forced != NULL)
    return openai_put_tools(b, forced, 1);
  return openai_put_tools(b, req->tools, req->n_tools);
}

static int put_options(buf *b, const chat_request *req) {
  if (!req->has_temperature && req->max_tokens <= 0)
    return 0;
  if (buf_puts(b, ",\"options\":{") != 0)
    return -1;
  if (req->has_temperature && (buf_puts(b, "\"temperature\":") != 0 ||
                               json_put_number(b, req->temperature) != 0))
    return -1;
  if (req->max_tokens > 0 &&
      buf_printf(b, "%s\"num_predict\":%ld", req->has_temperature ? "," : "",
                 req->max_tokens) != 0)
    return -1;
  return buf_puts(b, "}");
}

static int put_body(buf *b, const chat_request *req) {
  if (codec_put_messages(b, req, put_message) != 0 || put_tools(b, req) != 0)
    return -1;
  if (req->output_schema != NULL &&
      (buf_puts(b, ",\"format\":") != 0 ||
       json_put_json_text(b, req->output_schema, strlen(req->output_schema),
                          1) != 0))
    return -1;
  if (put_options(b, req) != 0)
    return -1;
  /* Ollama streams unless told not to. */
  return buf_puts(b, req->stream ? ",\"stream\":true}" : ",\"stream\":false}");
}

char *ollama_build_request(const chat_request *req, size_t *len) {
  buf b;

  if (len != NULL)
    *len = 0;
  if (!codec_request_check(req))
    return NULL;
  buf_init(&b, 0);
  if (put_body(&b, req) != 0) {
    buf_free(&b);
    return NULL;
  }
  return buf_detach(&b, len);
}

/* --- Reading responses and stream lines ---------------------------------- */

/* One tool call as read from message.tool_calls. Ollama sends each call
 * whole (in a stream, in one line), ids only in newer versions, and an
 * index that is not needed: calls are numbered here by their order. */
typedef struct ollama_call {
  const char *id;   /* into the parsed JSON; NULL when there is none */
  const char *name; /* into the parsed JSON */
  char *args;       /* malloc'd JSON text */
} ollama_call;

/* One entry of message.tool_calls into c. Arguments: an object is printed
 * as JSON text; missing or null is "{}"; a string (not Ollama's shape, but
 * harmless) is taken as it is. Returns NULL, or the failure reason;
 * c->args must be freed either way. */
static const char *read_call(const cJSON *item, ollama_call *c) {
  const cJSON *fn = json_get(item, "function");
  const cJSON *args = json_get(fn, "arguments");

  c->args = NULL;
  c->id = json_get_string(item, "id");
  c->name = json_get_string(fn, "name");
  if (c->id != NULL && c->id[0] == '\0')
    c->id = NULL;
  if (!cJSON_IsObject(fn) || c->name == NULL || c->name[0] == '\0')
    return CX_REASON_WORD(missing_field);
  if (args == NULL || cJSON_IsNull(args) ||
      (cJSON_IsString(args) && args->valuestring[0] == '\0'))
    c->args = strdup("{}");
  else if (cJSON_IsString(args))
    c->args = strdup(args->valuestring);
  else if (cJSON_IsObject(args))
    c->args = json_object_text(args);
  else
    return CX_REASON_WORD(missing_field);
  return c->args == NULL ? CX_REASON_WORD(out_of_memory) : NULL;
}

/* A count on a done object: Ollama omits zero counts (omitempty), so a
 * missing one is 0; one of the wrong type is -1. */
static long done_count(const cJSON *root, const char *name) {
  return json_get(root, name) == NULL ? 0 : json_get_count(root, name);
}

/* done_reason is stop, length, load or unload; "stop" after tool calls is
 * Ollama's way of saying it stopped to call them. */
static chat_stop ollama_stop(const char *raw, int called_tools) {
  return chat_stop_with_calls(openai_stop_reason(raw), called_tools);
}

/* The message of an error line or body: {"error": "..."} (or an object with
 * a message, as /v1 sends). NULL when there is none or memory runs out. */
static char *error_message(const cJSON *error) {
  if (cJSON_IsString(error))
    return json_dup_string(error);
  return json_dup_string(json_get(error, "message"));
}

static int is_error_value(const cJSON *error) {
  return cJSON_IsString(error) || cJSON_IsObject(error);
}

/* --- Success bodies ------------------------------------------------------ */

/* One entry of message.tool_calls appended to resp (codec_call_fn). */
static const char *read_tool_call(const cJSON *item, size_t pos,
                                  chat_response *resp) {
  ollama_call c;
  const char *reason = read_call(item, &c);

  if (reason != NULL) {
    free(c.args);
    return reason;
  }
  return codec_add_tool_call(resp, c.id, pos, c.name, c.args);
}

/* Fills resp from a parsed body. Returns NULL, or the failure reason
 * (resp may then hold part of the result; the caller frees it). */
static const char *read_response(const cJSON *root, chat_response *resp) {
  const char *reason =
      codec_read_message(json_get(root, "message"), resp, read_tool_call);

  if (reason != NULL)
    return reason;
  if (json_copy_string(json_get(root, "done_reason"), &resp->finish_reason) !=
          0 ||
      json_copy_string(json_get(root, "model"), &resp->model) != 0)
    return CX_REASON_WORD(out_of_memory);
  resp->stop = ollama_stop(resp->finish_reason, resp->n_tool_calls > 0);
  if (cJSON_IsTrue(json_get(root, "done"))) {
    resp->input_tokens = done_count(root, "prompt_eval_count");
    resp->output_tokens = done_count(root, "eval_count");
  } else {
    resp->input_tokens = json_get_count(root, "prompt_eval_count");
    resp->output_tokens = json_get_count(root, "eval_count");
  }
  return NULL;
}

/* An error in a 200 body: Ollama sends only a message, and a model that
 * failed while running may well work on a retry. */
static int body_error(const cJSON *root, chat_error *err) {
  const cJSON *error = json_get(root, "error");

  if (!is_error_value(error))
    return 0;
  chat_error_set(err, CHAT_ERR_TRANSIENT, CX_REASON_WORD(provider_error), NULL);
  err->message = error_message(error);
  return 1;
}

int ollama_parse_response(const char *body, size_t len, size_t max_tool_calls,
                          chat_response *resp, chat_error *err) {
  return codec_parse_response(body, len, max_tool_calls, resp, err, body_error,
                              read_response);
}

/* --- Streaming ------------------------------------------------------------ */

/* A tool call arrives whole in one line, so it goes out as one new call
 * (numbered after those the stream holds) with its arguments in one
 * fragment. A call without an id is named by chat_stream_finish. *n counts
 * the calls in this line. */
static int stream_tool_calls(chat_stream *st, const cJSON *list, size_t *n) {
  const cJSON *item;

  *n = 0;
  if (list == NULL || cJSON_IsNull(list))
    return 0;
  if (!cJSON_IsArray(list))
    return codec_malformed(st, CX_REASON_WORD(missing_field));
  cJSON_ArrayForEach(item, list) {
    ollama_call c;
    const char *reason = read_call(item, &c);
    size_t index = chat_stream_tool_count(st);
    int rc;

    if (reason != NULL) {
      free(c.args);
      return codec_malformed(st, reason);
    }
    rc = chat_stream_tool_call(st, index, c.id, c.name);
    if (rc == 0)
      rc = chat_stream_tool_args(st, index, c.args, strlen(c.args));
    free(c.args);
    if (rc != 0)
      return -1;
    (*n)++;
  }
  return 0;
}

/* The done:true line: usage, the stop reason, and the end of the stream. */
static int stream_done(chat_stream *st, const cJSON *root, int called_tools) {
  const cJSON *reason = json_get(root, "done_reason");

  if (reason != NULL && !cJSON_IsString(reason) && !cJSON_IsNull(reason))
    return codec_malformed(st, CX_REASON_WORD(missing_field));
  chat_stream_usage(st, done_count(root, "prompt_eval_count"),
                    done_count(root, "eval_count"));
  if (cJSON_IsString(reason) && reason->valuestring[0] != '\0' &&
      chat_stream_stop(st, ollama_stop(reason->valuestring, called_tools),
                       reason->valuestring) != 0)
    return -1;
  chat_stream_end(st);
  return 0;
}

static int stream_line(chat_stream *st, const cJSON *root) {
  const cJSON *error = json_get(root, "error");
  const cJSON *model = json_get(root, "model");
  const cJSON *message = json_get(root, "message");
  const cJSON *content = json_get(message, "content");
  const cJSON *done = json_get(root, "done");
  size_t n_calls;

  if (!cJSON_IsObject(root))
    return codec_malformed(st, CX_REASON_WORD(missing_field));
  if (is_error_value(error)) {
    char *msg = error_message(error);
    int rc = chat_stream_fail(st, CHAT_ERR_TRANSIENT,
                              CX_REASON_WORD(provider_error), NULL, msg);

    free(msg);
    return rc;
  }
  if ((message != NULL && !cJSON_IsObject(message) && !cJSON_IsNull(message)) ||
      (content != NULL && !cJSON_IsString(content) && !cJSON_IsNull(content)) ||
      (done != NULL && !cJSON_IsBool(done)))
    return codec_malformed(st, CX_REASON_WORD(missing_field));

  if (cJSON_IsString(model) && model->valuestring[0] != '\0' &&
      chat_stream_model(st, model->valuestring) != 0)
    return -1;
  if (cJSON_IsString(content) && content->valuestring[0] != '\0' &&
      chat_stream_text(st, content->valuestring,
                       strlen(content->valuestring)) != 0)
    return -1;
  if (stream_tool_calls(st, json_get(message, "tool_calls"), &n_calls) != 0)
    return -1;
  if (cJSON_IsTrue(done))
    return stream_done(st, root, n_calls > 0);
  return 0;
}

int ollama_stream_event(chat_stream *st, const char *event, const char *data,
                        size_t len) {
  (void)event; /* NDJSON has no event names */
  codec_trim(&data, &len);
  return codec_stream_json(st, data, len, stream_line);
}

/* --- Endpoint and the codec table ----------------------------------------- */

static int ollama_build_url(const chat_endpoint *ep, buf *out) {
  return codec_url(out, ep != NULL ? ep->base_url : NULL, OLLAMA_BASE,
                   "/api/chat");
}

static int ollama_build_headers(const chat_endpoint *ep, codec_headers *out) {
  if (codec_add_bearer(out, ep != NULL ? ep->api_key : NULL) != 0)
    return -1;
  return codec_headers_add(out, "Content-Type", "application/json");
}

const chat_codec chat_codec_ollama = {
    .name = "ollama",
    .framing = CHAT_FRAMING_NDJSON,
    .build_url = ollama_build_url,
    .build_headers = ollama_build_headers,
    .build_request = ollama_build_request,
    .parse_response = ollama_parse_response,
    .parse_error = openai_parse_error,
    .stream_event = ollama_stream_event,
};
