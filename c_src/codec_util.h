/* codec_util.h - what every dialect codec needs: writing JSON into a buf,
 * strict reading of bodies from the network, the checks a chat_request
 * must pass before any dialect builds a body from it, and endpoint helpers
 * (base URLs, the Bearer header). Pure C over cJSON, no erl_nif. */
#ifndef CX_CODEC_UTIL_H
#define CX_CODEC_UTIL_H

#include <stddef.h>

#include <cJSON.h>

#include "buf.h"
#include "chat.h"
#include "codec.h"

/* How much of a non-JSON error body is kept as the message. */
#define CODEC_SNIPPET_MAX 512
/* The deepest JSON a caller may hand in (schemas, tool arguments). */
#define CODEC_JSON_MAX_DEPTH 128

/* --- Writing JSON (each returns 0, or -1 on out-of-memory/bad input) ---- */

/* s[0..len) as a quoted JSON string. s must be valid UTF-8; a NUL becomes
 * \u0000, and U+2028/U+2029 are escaped too (legal in JSON, not in JS). */
int json_put_string(buf *b, const char *s, size_t len);
/* A NUL-terminated string; -1 when s is NULL. */
int json_put_cstr(buf *b, const char *s);
/* d in the shortest of %.15g/%.17g that reads back as d; -1 if not finite. */
int json_put_number(buf *b, double d);
/* A parsed value, printed compactly. */
int json_put_item(buf *b, const cJSON *item);
/* The same as a malloc'd string (free() it), or NULL on out-of-memory. */
char *json_print(const cJSON *item);
/* JSON text text[0..len) from the caller (a schema, tool arguments), as
 * it is but for the whitespace around it: -1 unless it is UTF-8 holding
 * exactly one RFC 8259 value (json_strict_scan, at most
 * CODEC_JSON_MAX_DEPTH deep), and an object when `object` is set. */
int json_put_json(buf *b, const char *text, size_t len, int object);

/* --- Reading JSON --------------------------------------------------------- */

/* JSON whitespace: space, tab, CR, LF. */
int json_is_space(char c);
/* One whole JSON value from body[0..len); NULL when it is not JSON, holds a
 * raw NUL (cJSON would skip it as whitespace) or has anything but
 * whitespace after the value. The caller checks UTF-8 first. */
cJSON *json_parse_body(const char *body, size_t len);
/* obj[name] when obj is an object, else NULL. Case-sensitive. */
const cJSON *json_get(const cJSON *obj, const char *name);
/* A copy of item when it is a string, else NULL. */
char *json_strdup(const cJSON *item);
/* *out = copy of item when it is a string, else NULL; -1 on out-of-memory. */
int json_copy_optional(const cJSON *item, char **out);
/* obj[name] as a count: a finite number in [0, LONG_MAX), else -1. */
long json_count(const cJSON *obj, const char *name);
/* The start of a body that is not JSON (an HTML page from a proxy), trimmed,
 * as a message: at most CODEC_SNIPPET_MAX bytes, cut on a character
 * boundary and at a NUL. NULL when empty or not UTF-8. */
char *codec_body_snippet(const char *body, size_t len);

/* --- Requests ------------------------------------------------------------- */

/* 1 when req can go to any dialect: a model; at least one message, each
 * with a role and UTF-8 content; a finite temperature; tool calls only on
 * assistant turns, each with an id and a name; tools with names; and a
 * tool_choice that is NULL, "auto", "none", "required" (with tools) or the
 * name of one of the tools. JSON texts are checked when they are written. */
int codec_request_check(const chat_request *req);
/* 1 when s is a non-empty UTF-8 string. */
int codec_valid_name(const char *s);

/* The tool named by req->tool_choice, or NULL when it is unset or one of
 * the keywords "auto", "none" and "required". */
const chat_tool *codec_forced_tool(const chat_request *req);

/* A tool call's arguments text and its length: arguments_len bytes, or
 * the C string when arguments_len is 0, or "{}" when there are none. */
const char *codec_call_args(const chat_tool_call *c, size_t *len);

/* --- Endpoints ------------------------------------------------------------ */

/* base (dflt when NULL or empty) without its trailing slashes, then path.
 * -1 on out-of-memory, a control character or space in base, or a base
 * that is nothing but slashes. */
int codec_url(buf *out, const char *base, const char *dflt, const char *path);

/* "Authorization: Bearer <api_key>", nothing when api_key is NULL or
 * empty. -1 on out-of-memory or a CR/LF in the key. */
int codec_add_bearer(chat_headers *h, const char *api_key);

#endif
