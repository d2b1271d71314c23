/* codec_util.h - checks and small helpers shared by the dialect codecs:
 * what a chat_request must hold before a body is built from it, the parts
 * of a request body more than one dialect writes the same way, the frame
 * of parsing a response, an error body and a stream event, the tool
 * tool_choice names, the Bearer header and trimming a stream event. JSON
 * itself is json_in.h/json_out.h. Pure C, no erl_nif. */
#ifndef CX_CODEC_UTIL_H
#define CX_CODEC_UTIL_H

#include <stddef.h>

#include <cJSON.h>

#include "buf.h"
#include "chat.h"
#include "codec.h"

/* --- Requests ------------------------------------------------------------ */

/* 1 when s is a non-empty UTF-8 string. */
int codec_valid_name(const char *s);

/* 1 when req has a model, at least one message and, if it sets one, a
 * finite temperature: what every dialect needs to build a body at all. */
int codec_request_basics(const chat_request *req);

/* 1 when req can be sent: codec_request_basics with a UTF-8 model; each
 * message with a role and UTF-8 content; tool calls only on assistant
 * turns, each with an id, a name and UTF-8 arguments; tools with names;
 * and a tool_choice that is NULL, "auto", "none", "required" (with tools)
 * or the name of one of the tools. JSON texts (schemas, arguments) are
 * checked when they are written. */
int codec_request_check(const chat_request *req);

/* The tool named by req->tool_choice, or NULL when it is unset or one of
 * the keywords "auto", "none" and "required". */
const chat_tool *codec_forced_tool(const chat_request *req);

/* 1 when m's role is role. */
int codec_is_role(const chat_message *m, const char *role);

/* --- Writing request bodies ---------------------------------------------- */

/* c's arguments as JSON text, length in *len: "{}" when it has none. */
const char *codec_call_args(const chat_tool_call *c, size_t *len);

/* The members a tool starts with in every dialect: "name":..., then
 * ,"description":... when it has one. -1 when they are not UTF-8 or
 * memory runs out. */
int codec_put_tool_head(buf *b, const chat_tool *t);

/* t's parameters schema (an object), {"type":"object"} when it has none.
 * -1 when it is not a JSON object or memory runs out. */
int codec_put_tool_schema(buf *b, const chat_tool *t);

/* {"model":...,"messages":[...] of an OpenAI-shaped body (OpenAI, Ollama),
 * each message written by put_message; the caller closes the object. */
int codec_put_messages(buf *b, const chat_request *req,
                       int (*put_message)(buf *b, const chat_message *m));

/* ,"tool_calls":[...] of an OpenAI-shaped assistant message, each call
 * written by put_call; nothing when m called no tools. */
int codec_put_tool_calls(buf *b, const chat_message *m,
                         int (*put_call)(buf *b, const chat_tool_call *c));

/* How a dialect whose turns hold typed blocks (Anthropic `messages`,
 * Gemini `contents`) writes one turn. */
typedef struct codec_turns {
  /* Opens the user turn that carries a run of tool results, up to the
   * array of its blocks, e.g. {"role":"user","content":[ */
  const char *results_open;
  int (*put_user)(buf *b, const chat_message *m);
  int (*put_assistant)(buf *b, const chat_message *m);
  int (*put_result)(buf *b, const chat_message *m); /* one tool result */
} codec_turns;

/* req's messages as turns, separated by commas (the caller writes the
 * brackets). System messages are left out: those dialects send them
 * apart. A run of tool results becomes one user turn of result blocks,
 * as the answers to parallel calls go together. -1 for any other role,
 * when a writer fails, or when only system messages were left. */
int codec_put_turns(buf *b, const chat_request *req, const codec_turns *t);

/* --- Reading responses and stream events --------------------------------- */

/* Reads the error object a 2xx body may hold instead of an answer into
 * err (reason provider_error, the dialect's kind, type, code, message):
 * 1 when there was one, 0 when root is no error. */
typedef int (*codec_body_error_fn)(const cJSON *root, chat_error *err);

/* Fills resp from a parsed body: NULL, or the reason it is malformed
 * (resp may then hold part of the result). */
typedef const char *(*codec_read_fn)(const cJSON *root, chat_response *resp);

/* The frame of every parse_response. resp is output only: it is
 * initialized, not freed, with max_tool_calls set from max_tool_calls (as
 * chat_tool_call_cap reads it). A body that is empty or not one JSON value
 * is invalid_json, one that is not UTF-8 invalid_utf8; an error object in
 * it (see body_error) fails as the dialect read it; else read_answer fills
 * resp, and its failure leaves resp empty (too_many_tool_calls with a
 * message naming the cap). All but provider_error are permanent. 0, or -1
 * with err set (its old strings are freed). */
int codec_parse_response(const char *body, size_t len, size_t max_tool_calls,
                         chat_response *resp, chat_error *err,
                         codec_body_error_fn body_error,
                         codec_read_fn read_answer);

/* Reads what a non-2xx body says into err: type, code, message, and any
 * rule of the dialect on the kind or the retry hint. root is the body
 * parsed, or NULL when it is not UTF-8 JSON. */
typedef void (*codec_error_fn)(const cJSON *root, long status, chat_error *err);

/* The frame of every parse_error: err becomes http_error, of the kind
 * status implies (permanent below 400), with the status and
 * retry_after_ms (-1: none); read_error adds what the body says; a body
 * without a message gives its start instead (json_body_snippet). Can't
 * fail. */
void codec_parse_error(long status, const char *body, size_t len,
                       long retry_after_ms, chat_error *err,
                       codec_error_fn read_error);

/* A malformed stream event: st fails, permanently, with reason. -1. */
int codec_malformed(struct chat_stream *st, const char *reason);

/* Applies one stream event held as a JSON text to st. */
typedef int (*codec_apply_fn)(struct chat_stream *st, const cJSON *root);

/* The frame of a JSON stream event: an empty one says nothing (0); one
 * that is not UTF-8 or not one JSON value fails st (invalid_utf8,
 * invalid_json); else apply's result. */
int codec_stream_json(struct chat_stream *st, const char *data, size_t len,
                      codec_apply_fn apply);

/* Reads one entry of a tool_calls list, the pos'th, into resp: NULL, or
 * the reason it is malformed. */
typedef const char *(*codec_call_fn)(const cJSON *item, size_t pos,
                                     chat_response *resp);

/* The message of an OpenAI-shaped answer (OpenAI, Ollama) into resp. It
 * must be an object. Its content is a string, or null or absent for an
 * empty answer (a turn that only called tools). Its tool_calls are absent,
 * null, or an array whose entries read_call reads. NULL, or
 * "missing_field" / "out_of_memory" / read_call's reason. */
const char *codec_read_message(const cJSON *message, chat_response *resp,
                               codec_call_fn read_call);

/* A copy of given when it is non-empty, else a made-up id "call_<index>"
 * (as chat_stream_finish names a streamed call without one). NULL on
 * out-of-memory. */
char *codec_call_id(const char *given, size_t index);

/* Appends a tool call to resp: id (or codec_call_id's made-up one for
 * index), name, and args, malloc'd JSON text that it takes over (and
 * frees on failure; NULL means memory ran out). NULL, "out_of_memory", or
 * "too_many_tool_calls" when resp holds resp->max_tool_calls already: the
 * reader stops at the first call past the cap. */
const char *codec_add_tool_call(chat_response *resp, const char *id,
                                size_t index, const char *name, char *args);

/* --- Endpoints ----------------------------------------------------------- */

/* "Authorization: Bearer <api_key>", nothing when api_key is NULL or
 * empty. -1 on out-of-memory or a CR/LF in the key. */
int codec_add_bearer(codec_headers *h, const char *api_key);

/* base (dflt when NULL or empty, see codec_url_put_base) and then path.
 * -1 on out-of-memory or a space or control character in base. */
int codec_url(buf *out, const char *base, const char *dflt, const char *path);

/* Moves *data and *len past the JSON whitespace around an event. */
void codec_trim(const char **data, size_t *len);

#endif
