/* ollama_codec.h - Ollama's native POST /api/chat wire format, streamed as
 * NDJSON. (Ollama's OpenAI-compatible /v1 endpoint is the openai codec
 * with another base URL.) Pure C over cJSON. */
#ifndef CX_OLLAMA_CODEC_H
#define CX_OLLAMA_CODEC_H

#include "chat.h"
#include "codec.h"

/* The "ollama" codec: default base http://localhost:11434, URL
 * base + "/api/chat", no auth header unless an api_key is set (then
 * Bearer, as Ollama's cloud wants), NDJSON framing. Error bodies
 * ({"error": "..."}) go through openai_parse_error, which reads them. */
extern const chat_codec chat_codec_ollama;

/* Builds the request body: messages (assistant tool calls with their
 * arguments as a JSON object, tool results with tool_name and
 * tool_call_id), tools, format (the output schema), options.temperature
 * and options.num_predict, and stream. Ollama has no tool_choice:
 * "none" leaves the tools out, a tool's name sends only that tool, and
 * "required" can't be expressed (the tools go out as with "auto").
 * Returns a malloc'd NUL-terminated JSON string (length in *len) or NULL
 * when the request is invalid (see codec_request_check; also tool-call
 * arguments, a tool schema or an output schema that is not a JSON object)
 * or memory runs out. */
char *ollama_build_request(const chat_request *req, size_t *len);

/* Parses a 2xx /api/chat body (stream false) into resp: message.content,
 * tool calls (at most max_tool_calls, see codec.h; object arguments become JSON
 * text; ids are made up as "call_<position>" when Ollama gives none, as
 * chat_stream_finish does), model, done_reason as finish_reason and stop,
 * prompt_eval_count / eval_count (absent on a done object means 0: Ollama omits
 * zero counts). 0, or -1 with err set as for openai_parse_response; an
 * {"error": "..."} body is a transient "provider_error" (a model runner
 * failing, which before the response started would have been a 500). */
int ollama_parse_response(const char *body, size_t len, size_t max_tool_calls,
                          chat_response *resp, chat_error *err);

/* One NDJSON line of a streamed response (event is NULL). See codec.h.
 * Each tool call in a line is a new call, numbered after those the stream
 * holds (chat_stream_tool_count): Ollama sends calls whole, and its own
 * function.index is not relied on. */
int ollama_stream_event(struct chat_stream *st, const char *event,
                        const char *data, size_t len);

#endif
