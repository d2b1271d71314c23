/* codec.h - one provider dialect's wire format behind a common table.
 *
 * Each dialect (openai_codec.c, anthropic_codec.c, gemini_codec.c,
 * ollama_codec.c; OpenRouter is OpenAI plus headers and cost) fills one
 * chat_codec. The round loop picks a seat's codec by name and never looks
 * at a wire format itself. Pure C over cJSON, no erl_nif. */
#ifndef CX_CODEC_H
#define CX_CODEC_H

#include <stddef.h>

#include "buf.h"
#include "chat.h"

struct chat_stream;

/* Where and as whom a seat calls. Strings may be NULL where noted. */
typedef struct chat_endpoint {
  const char
      *base_url; /* e.g. "https://api.openai.com/v1"; no trailing '/' needed */
  const char *api_key; /* NULL: no auth header (local servers) */
  const char *model;
  int stream;
  const char *referer; /* OpenRouter HTTP-Referer, or NULL */
  const char *title;   /* OpenRouter X-Title, or NULL */
} chat_endpoint;

/* A growable list of "Name: value" header lines, each malloc'd. */
typedef struct codec_headers {
  char **lines;
  size_t n;
} codec_headers;

void codec_headers_init(codec_headers *h);
void codec_headers_free(codec_headers *h);
/* Appends "name: value"; -1 on out-of-memory or a CR/LF in either part. */
int codec_headers_add(codec_headers *h, const char *name, const char *value);

typedef enum chat_framing {
  CHAT_FRAMING_SSE,   /* text/event-stream */
  CHAT_FRAMING_NDJSON /* one JSON object per line (Ollama /api/chat) */
} chat_framing;

typedef struct chat_codec {
  const char
      *name; /* "openai", "openrouter", "anthropic", "gemini", "ollama" */
  chat_framing framing;
  /* The full request URL into out (Gemini puts the model and the stream
   * method in the path). 0, or -1 on out-of-memory. */
  int (*build_url)(const chat_endpoint *ep, buf *out);
  /* Auth, version and content-type headers. 0, or -1. */
  int (*build_headers)(const chat_endpoint *ep, codec_headers *out);
  /* The request body: malloc'd NUL-terminated JSON (length in *len), or
   * NULL when the request is invalid or memory runs out. */
  char *(*build_request)(const chat_request *req, size_t *len);
  /* A 2xx non-streamed body into resp: 0, or -1 with err set (see
   * openai_codec.h for the reasons). A reply with more tool calls than
   * max_tool_calls (as chat_tool_call_cap reads it) is read up to the
   * first call past the cap and fails as too_many_tool_calls. */
  int (*parse_response)(const char *body, size_t len, size_t max_tool_calls,
                        chat_response *resp, chat_error *err);
  /* A non-2xx body into err (kind from the status, provider type, code,
   * message and retry hint). Can't fail. */
  void (*parse_error)(long status, const char *body, size_t len,
                      long retry_after_ms, chat_error *err);
  /* One stream event (SSE: event name or NULL, and the joined data; NDJSON:
   * event NULL and one line) applied to st through the chat_stream_*
   * calls. 0, or -1 when the event is malformed (st records why). */
  int (*stream_event)(struct chat_stream *st, const char *event,
                      const char *data, size_t len);
} chat_codec;

/* The codec named name, or NULL. */
const chat_codec *codec_find(const char *name);

/* --- Shared by the codecs' build functions ------------------------------ */

/* Appends base_url, or fallback when it is NULL or empty, without trailing
 * '/'. -1 on out-of-memory or when the base holds a space or control
 * character. */
int codec_url_put_base(buf *out, const char *base_url, const char *fallback);

/* c's arguments as JSON text, and their length in *len (0 and NULL when
 * there are none). arguments_len is used when set; a zero length falls
 * back to the C string, which the struct promises is NUL-terminated. */
const char *codec_tool_call_args(const chat_tool_call *c, size_t *len);

/* 1 when req offers a tool named name (tool_choice may name one). */
int codec_request_has_tool(const chat_request *req, const char *name);

#endif
