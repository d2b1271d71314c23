/* codec_util.h - checks and small helpers shared by the OpenAI-shaped
 * codecs (openai_codec.c, ollama_codec.c): what a chat_request must hold
 * before a body is built from it, the tool tool_choice names, the Bearer
 * header and trimming a stream event. JSON itself is json_in.h/json_out.h.
 * Pure C, no erl_nif. */
#ifndef CX_CODEC_UTIL_H
#define CX_CODEC_UTIL_H

#include <stddef.h>

#include "chat.h"
#include "codec.h"

/* 1 when s is a non-empty UTF-8 string. */
int codec_valid_name(const char *s);

/* 1 when req can be sent: a model; at least one message, each with a role
 * and UTF-8 content; a finite temperature; tool calls only on assistant
 * turns, each with an id, a name and UTF-8 arguments; tools with names;
 * and a tool_choice that is NULL, "auto", "none", "required" (with tools)
 * or the name of one of the tools. JSON texts (schemas, arguments) are
 * checked when they are written. */
int codec_request_check(const chat_request *req);

/* The tool named by req->tool_choice, or NULL when it is unset or one of
 * the keywords "auto", "none" and "required". */
const chat_tool *codec_forced_tool(const chat_request *req);

/* "Authorization: Bearer <api_key>", nothing when api_key is NULL or
 * empty. -1 on out-of-memory or a CR/LF in the key. */
int codec_add_bearer(chat_headers *h, const char *api_key);

/* base (dflt when NULL or empty, see chat_url_put_base) and then path.
 * -1 on out-of-memory or a space or control character in base. */
int codec_url(buf *out, const char *base, const char *dflt, const char *path);

/* Moves *data and *len past the JSON whitespace around an event. */
void codec_trim(const char **data, size_t *len);

#endif
