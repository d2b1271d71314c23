/* anthropic_codec.h - Anthropic Messages wire format (POST /v1/messages):
 * request bodies, responses, error bodies and the typed SSE stream events.
 * Pure C over cJSON. */
#ifndef CX_ANTHROPIC_CODEC_H
#define CX_ANTHROPIC_CODEC_H

#include <stddef.h>

#include "buf.h"
#include "chat.h"
#include "codec.h"

struct chat_stream;

/* The codec table ("anthropic", SSE framing) over the functions below. */
extern const chat_codec chat_codec_anthropic;

/* base_url (default https://api.anthropic.com/v1) + "/messages". 0, or -1
 * on out-of-memory or a bad base. */
int anthropic_build_url(const chat_endpoint *ep, buf *out);

/* x-api-key (when ep->api_key is set), anthropic-version: 2023-06-01 and
 * content-type. 0, or -1 on out-of-memory or CR/LF in the key. */
int anthropic_build_headers(const chat_endpoint *ep, codec_headers *out);

/* Builds the request body: system messages go to the top-level `system`,
 * max_tokens defaults to 4096, tool calls become tool_use blocks and tool
 * results tool_result blocks in a user turn (consecutive results share
 * one), output_schema becomes output_config.format. Returns a malloc'd
 * NUL-terminated JSON string (length in *len), or NULL when the request
 * is invalid (no model, no non-system message, a role other than
 * system/user/assistant/tool, non-UTF-8 text, a tool call without id or
 * name or whose arguments are not a JSON object, a tool result without
 * tool_call_id, a schema that is not a JSON object, a tool_choice naming
 * no offered tool) or memory runs out. */
char *anthropic_build_request(const chat_request *req, size_t *len);

/* Parses a 2xx body into resp (at most max_tool_calls tool calls, see
 * codec.h): 0, or -1 with resp empty and err set (kind PERMANENT, reason
 * "invalid_json", "invalid_utf8", "missing_field", "too_many_tool_calls"
 * or "out_of_memory"; or reason "provider_error" for an error object in the
 * body, transient for overloaded_error, api_error, rate_limit_error and
 * timeout_error). */
int anthropic_parse_response(const char *body, size_t len,
                             size_t max_tool_calls, chat_response *resp,
                             chat_error *err);

/* Fills err for a non-2xx response: kind from the status (529 overloaded
 * is transient; a 429 whose details say enforced_spend_limit_reached is
 * permanent), reason "http_error", type and message from the error object
 * (or the start of the body), code from details.error_code. retry_after_ms
 * is copied in. This function can't fail. */
void anthropic_parse_error(long status, const char *body, size_t len,
                           long retry_after_ms, chat_error *err);

/* Applies one SSE event (name or NULL, data[0..len)) to st. Tool calls are
 * numbered in the order their tool_use blocks start. 0, or -1 after
 * failing st: an `error` event (reason "provider_error") or a malformed
 * one. ping and unknown events are ignored. */
int anthropic_stream_event(struct chat_stream *st, const char *event,
                           const char *data, size_t len);

#endif
