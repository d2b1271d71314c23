/* json_in.h - reading provider JSON for the dialect codecs: a strict
 * whole-body parse and lookups that check every type, since bodies come
 * from the network. Pure C over cJSON, no erl_nif. */
#ifndef CX_JSON_IN_H
#define CX_JSON_IN_H

#include <stddef.h>

#include <cJSON.h>

/* Parses text[0..len) as exactly one JSON value. Stricter than cJSON
 * alone: a raw NUL byte and anything but whitespace after the value are
 * refused. NULL when it is not JSON (or memory runs out). Does not check
 * UTF-8: callers do that first with chat_utf8_valid. */
cJSON *json_parse_body(const char *text, size_t len);

/* obj[name] when obj is an object, else NULL. */
const cJSON *json_get(const cJSON *obj, const char *name);

/* obj[name]'s text when it is a string, else NULL. */
const char *json_get_string(const cJSON *obj, const char *name);

/* A copy of item's text when it is a string, else NULL (also NULL on
 * out-of-memory). */
char *json_dup_string(const cJSON *item);

/* *out = a copy of item when it is a string, else NULL. -1 when the copy
 * could not be made. */
int json_copy_string(const cJSON *item, char **out);

/* obj[name] as a token count: a finite number in [0, LONG_MAX), truncated;
 * -1 for anything else or when absent. */
long json_get_count(const cJSON *obj, const char *name);

/* obj[name] is the JSON literal true. */
int json_get_true(const cJSON *obj, const char *name);

/* The start of an error body that holds no usable JSON (an HTML page from a
 * proxy, plain text), trimmed: at most 512 bytes, cut on a character
 * boundary and at a NUL. Malloc'd; NULL when empty or not UTF-8. */
char *json_body_snippet(const char *body, size_t len);

#endif
