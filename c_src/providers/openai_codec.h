/* openai_codec.h - OpenAI chat-completions wire format (also OpenRouter,
 * Ollama /v1 and other OpenAI-compatible servers). Pure C over cJSON. */
#ifndef CX_OPENAI_CODEC_H
#define CX_OPENAI_CODEC_H

#include "buf.h"
#include "chat.h"
#include "codec.h"

/* The "openai" codec (default base https://api.openai.com/v1; the cap on
 * output goes out as max_completion_tokens) and the "openrouter" one
 * (default base https://openrouter.ai/api/v1, HTTP-Referer and X-Title
 * headers, max_tokens). Both parse with the functions below. */
extern const chat_codec chat_codec_openai;
extern const chat_codec chat_codec_openrouter;

/* The name the output cap goes under. */
typedef enum openai_max_field {
  OPENAI_MAX_TOKENS,           /* "max_tokens": OpenRouter, most servers */
  OPENAI_MAX_COMPLETION_TOKENS /* "max_completion_tokens": api.openai.com;
                                  its o-series and gpt-5 models refuse
                                  max_tokens */
} openai_max_field;

/* Builds the request body: messages (with assistant tool_calls and tool
 * results), temperature, the output cap, tools and tool_choice,
 * response_format for an output schema, logprobs, and stream (with
 * stream_options.include_usage when streaming). Returns a malloc'd
 * NUL-terminated JSON string (length in *len) or NULL when the request is
 * invalid (see codec_request_check; also a "tool" message without
 * tool_call_id, or a tool schema or output schema that is not a JSON
 * object) or memory runs out. */
char *openai_build_body(const chat_request *req, openai_max_field max_field,
                        size_t *len);

/* openai_build_body with OPENAI_MAX_TOKENS. */
char *openai_build_request(const chat_request *req, size_t *len);

/* Parses a 2xx response body into resp: content, model, finish_reason and
 * stop, usage, tool calls (at most max_tool_calls, see codec.h), OpenRouter's
 * usage.cost and the mean token logprob. Returns 0 on success. On failure
 * returns -1, resp is left empty and err says why (kind PERMANENT, reason
 * "invalid_json", "invalid_utf8", "missing_field", "too_many_tool_calls" or
 * "out_of_memory"; or reason "provider_error" for an error object inside a
 * 200 body, whose kind follows the error's code, see openai_codec.c). */
int openai_parse_response(const char *body, size_t len, size_t max_tool_calls,
                          chat_response *resp, chat_error *err);

/* Fills err for a non-2xx response: kind from the status (a 429 whose code
 * is "insufficient_quota" is permanent), reason "http_error", and type,
 * code and message from the body when it holds an OpenAI-style error object
 * (code may be a string or a number) or an Ollama-style error string.
 * retry_after_ms is copied in; when it is -1, an OpenRouter body's
 * error.metadata.headers X-RateLimit-Reset (epoch ms) still in the future
 * gives the hint. This function can't fail. */
void openai_parse_error(long status, const char *body, size_t len,
                        long retry_after_ms, chat_error *err);

/* One SSE event of a streamed response (event names are not used): a
 * chat.completion.chunk, or [DONE]. See codec.h. */
int openai_stream_event(struct chat_stream *st, const char *event,
                        const char *data, size_t len);

/* The normalized stop for a finish_reason word (NULL: CHAT_STOP_NONE). */
chat_stop openai_stop_reason(const char *raw);

/* Appends "[{type:function,function:{name,description,parameters}},...]",
 * the tools shape OpenAI and Ollama share. -1 on out-of-memory or a
 * parameters text that is not a JSON object. */
int openai_put_tools(buf *b, const chat_tool *tools, size_t n);

#endif
