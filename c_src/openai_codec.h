/* openai_codec.h - OpenAI chat-completions wire format (also OpenRouter,
 * Ollama /v1 and other OpenAI-compatible servers). Pure C over cJSON. */
#ifndef CX_OPENAI_CODEC_H
#define CX_OPENAI_CODEC_H

#include "chat.h"

/* Builds the request body. Returns a malloc'd NUL-terminated JSON string
 * (length in *len) or NULL when the request is invalid (no model, no
 * messages, non-UTF-8 text) or memory runs out. */
char *openai_build_request(const chat_request *req, size_t *len);

/* Parses a 2xx response body into resp. Returns 0 on success. On failure
 * returns -1, resp is left empty and err says why (kind PERMANENT, reason
 * "invalid_json", "invalid_utf8", "missing_field" or "out_of_memory"; or
 * reason "provider_error" for an error object inside a 200 body, whose kind
 * follows the error's code, see openai_codec.c). */
int openai_parse_response(const char *body, size_t len, chat_response *resp,
                          chat_error *err);

/* Fills err for a non-2xx response: kind from the status (a 429 whose code
 * is "insufficient_quota" is permanent), reason "http_error", and type,
 * code and message from the body when it holds an OpenAI-style error object
 * (code may be a string or a number). retry_after_ms is copied in. This
 * function can't fail. */
void openai_parse_error(long status, const char *body, size_t len,
                        long retry_after_ms, chat_error *err);

#endif
