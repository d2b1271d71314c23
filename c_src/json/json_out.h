/* json_out.h - writing JSON request bodies into a buf for the dialect
 * codecs. Every function returns 0, or -1 when memory runs out or the
 * input can't be written as valid JSON; on -1 the buffer may hold part of
 * the value, so callers discard the whole body. Pure C, no erl_nif. */
#ifndef CX_JSON_OUT_H
#define CX_JSON_OUT_H

#include <stddef.h>

#include <cJSON.h>

#include "buf.h"

/* Appends s[0..len) as a quoted JSON string. -1 unless s is valid UTF-8
 * (NULL with len 0 is the empty string). An embedded NUL becomes \u0000;
 * U+2028 and U+2029 are escaped too. */
int json_put_string(buf *b, const char *s, size_t len);

/* The same for a NUL-terminated s; -1 when s is NULL. */
int json_put_cstr(buf *b, const char *s);

/* Appends d in the shortest of %.15g / %.17g that reads back as d (0.2
 * goes out as 0.2). -1 for NaN and infinities. */
int json_put_number(buf *b, double d);

/* Appends the JSON value held as text in text[0..len) (a schema, a tool's
 * arguments), checked and re-printed compactly so nothing malformed or
 * unescaped reaches the wire. -1 when it is not one valid UTF-8 JSON value,
 * or when object_only is set and it is not an object; unlike the functions
 * above, nothing has been appended then. */
int json_put_json_text(buf *b, const char *text, size_t len, int object_only);

/* item (a tool call's arguments object) printed as compact JSON text, or
 * "{}" when item is NULL; in memory from malloc, so free() releases it
 * whatever allocator cJSON was given. NULL on out-of-memory. */
char *json_object_text(const cJSON *item);

#endif
