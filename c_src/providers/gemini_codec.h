/* gemini_codec.h - Google Gemini generateContent wire format (v1beta):
 * request bodies, GenerateContentResponse bodies, error bodies and the
 * `alt=sse` stream chunks. Pure C over cJSON. */
#ifndef CX_GEMINI_CODEC_H
#define CX_GEMINI_CODEC_H

#include <stddef.h>

#include "buf.h"
#include "chat.h"
#include "codec.h"

struct chat_stream;

/* The codec table ("gemini", SSE framing) over the functions below. */
extern const chat_codec chat_codec_gemini;

/* base_url (default https://generativelanguage.googleapis.com/v1beta) +
 * "/models/" + model + ":generateContent", or
 * ":streamGenerateContent?alt=sse" when ep->stream. A leading "models/" in
 * the model is dropped; every byte of the model outside A-Z a-z 0-9 - . _ ~
 * is percent-encoded, so it stays one path segment. 0, or -1 on
 * out-of-memory, a bad base or an empty model. */
int gemini_build_url(const chat_endpoint *ep, buf *out);

/* x-goog-api-key (when ep->api_key is set) and content-type. 0, or -1 on
 * out-of-memory or CR/LF in the key. */
int gemini_build_headers(const chat_endpoint *ep, codec_headers *out);

/* Builds the request body: contents with roles user/model, system
 * messages as systemInstruction parts, generationConfig (temperature,
 * maxOutputTokens, responseMimeType + responseJsonSchema,
 * responseLogprobs), tools as functionDeclarations with
 * parametersJsonSchema, toolConfig.functionCallingConfig. Assistant tool
 * calls become functionCall parts; tool results functionResponse parts
 * (named by tool_name; consecutive results share one user turn), whose
 * response is the result when it is a JSON object, else {"output": text}.
 * Returns a malloc'd NUL-terminated JSON string (length in *len), or NULL
 * when the request is invalid (no model, no non-system message, a role
 * other than system/user/assistant/tool, non-UTF-8 text, a tool call
 * without name or whose arguments are not a JSON object, a tool result
 * without tool_name, a schema that is not a JSON object, a tool_choice
 * naming no offered tool) or memory runs out. */
char *gemini_build_request(const chat_request *req, size_t *len);

/* Parses a 2xx body into resp (at most max_tool_calls tool calls, see
 * codec.h): 0, or -1 with resp empty and err set (kind PERMANENT, reason
 * "invalid_json", "invalid_utf8", "missing_field", "too_many_tool_calls"
 * or "out_of_memory"; or reason "provider_error" for an error object in the
 * body, its kind from the error's code or status). Thought parts are left
 * out of the text; function calls get ids "call_<i>" unless they carry
 * one. A prompt blocked before any candidate (promptFeedback.blockReason)
 * is a success with empty content, stop CHAT_STOP_CONTENT_FILTER and the
 * block reason as finish_reason, like a candidate stopped for SAFETY. */
int gemini_parse_response(const char *body, size_t len, size_t max_tool_calls,
                          chat_response *resp, chat_error *err);

/* Fills err for a non-2xx response (the error object may be wrapped in a
 * JSON array): kind from the status, reason "http_error", type = the
 * error's status word ("RESOURCE_EXHAUSTED"), code = the ErrorInfo reason
 * ("API_KEY_INVALID") or else the numeric code as text, message. When
 * retry_after_ms < 0 the RetryInfo retryDelay ("27s", "1.5s") is used.
 * This function can't fail. */
void gemini_parse_error(long status, const char *body, size_t len,
                        long retry_after_ms, chat_error *err);

/* Applies one `alt=sse` chunk (a whole GenerateContentResponse holding
 * only what is new) to st; the event name is ignored. A finishReason or a
 * blocked prompt ends the stream, since Gemini sends no end marker. 0, or
 * -1 after failing st: an error object (reason "provider_error") or a
 * malformed chunk. */
int gemini_stream_event(struct chat_stream *st, const char *event,
                        const char *data, size_t len);

#endif
