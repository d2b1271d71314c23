/* json_strict.h - a strict RFC 8259 reader in front of cJSON.
 *
 * cJSON is lax: it skips any byte <= 0x20 (NUL included) as whitespace,
 * takes raw control characters inside strings, leading zeros ("01"), "1.",
 * any trailing data, and no UTF-8 check. It also cuts a string at "\u0000"
 * and stops reading a number after 63 characters. The scanner here refuses
 * all of that, with the byte offset of the problem, and bounds nesting
 * without recursion, so cJSON only ever parses text known to be good. */
#ifndef CX_JSON_STRICT_H
#define CX_JSON_STRICT_H

#include <stddef.h>

#include <cJSON.h>

/* Messages a caller may want to tell apart from plain bad JSON. */
#define JSON_STRICT_OOM "out of memory" /* cJSON failed */
#define JSON_STRICT_BAD_UTF8 "invalid UTF-8"
#define JSON_STRICT_TOO_DEEP "nested too deeply" /* past max_depth */

/* Scans one JSON value starting at text[pos] (whitespace before it is
 * skipped) with at most max_depth nested arrays and objects (max_depth
 * <= 256). Returns 0 and the offset just past the value in *end, or -1 with
 * the offset of the problem in *err_at and a static message in *err.
 * Bytes >= 0x80 are not checked here: run chat_utf8_valid as well. */
int json_strict_scan(const char *text, size_t len, size_t pos, int max_depth,
                     size_t *end, size_t *err_at, const char **err);

/* Parses text[0..len) as exactly one JSON value, with whitespace around it
 * allowed: valid UTF-8, scanned as above, then parsed by cJSON. Returns the
 * tree (free it with cJSON_Delete) or NULL with *err_at and *err set; err
 * is "out of memory" when cJSON failed on good text. */
cJSON *json_strict_parse(const char *text, size_t len, int max_depth,
                         size_t *err_at, const char **err);

#endif
