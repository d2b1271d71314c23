/* json_schema.h - validates a model's reply against a member's output
 * schema: a subset of JSON Schema (2020-12 semantics) compiled once from
 * JSON text, then checked against reply text. Pure C over cJSON.
 *
 * Supported keywords:
 *   type            a name or a non-empty array of names: object, array,
 *                   string, number, integer (a number with no fractional
 *                   part), boolean, null
 *   properties, required, additionalProperties (true, false or a schema)
 *   items (one schema for every element), minItems, maxItems
 *   minLength, maxLength (in Unicode code points, not bytes)
 *   minimum, maximum, exclusiveMinimum, exclusiveMaximum (numbers)
 *   enum, const (deep equality; 1 and 1.0 are equal)
 *   anyOf
 *   true / false as a whole schema
 * Ignored (annotations): title, description, default, examples, format,
 *   $schema, $id, $comment, deprecated, readOnly, writeOnly, and $defs /
 *   definitions (unreachable without $ref).
 * Refused at compile time with a message naming the keyword: $ref,
 *   pattern (no ECMA-262 regex engine here; POSIX regcomp has different
 *   syntax and locale-dependent UTF-8 handling), every other JSON Schema
 *   validation keyword (allOf, oneOf, not, minProperties, uniqueItems, ...)
 *   and any unknown keyword, so a typo never silently weakens a schema.
 *
 * All JSON is read strictly (RFC 8259) before cJSON sees it: valid UTF-8,
 * no raw control characters in strings, no trailing data, and two limits
 * of this implementation: "\u0000" in a string and numbers longer than 63
 * characters are refused (cJSON would cut the string at the NUL, and its
 * number parser stops at 63 characters). */
#ifndef CX_JSON_SCHEMA_H
#define CX_JSON_SCHEMA_H

#include <stddef.h>

#include <cJSON.h>

/* Nesting limits, counted in arrays and objects. The schema limit also
 * bounds every recursion of the validator; the reply limit bounds cJSON's
 * recursion (its own limit is 1000). */
#define JSON_SCHEMA_MAX_DEPTH 64
#define JSON_REPLY_MAX_DEPTH 256

/* How many errors a validation keeps; it counts them all. */
#define JSON_SCHEMA_MAX_ERRORS 16

typedef struct json_schema json_schema;

/* One validation failure. Both strings are malloc'd and NUL-terminated.
 * path is a JSON Pointer (RFC 6901) into the reply, "" for the whole
 * document, e.g. "/items/2/name"; "~" and "/" in names are written "~0"
 * and "~1". */
typedef struct json_schema_error {
  char *path;
  char *message;
} json_schema_error;

typedef struct json_schema_errors {
  json_schema_error items[JSON_SCHEMA_MAX_ERRORS];
  size_t count; /* entries used in items */
  size_t total; /* errors found; more than count when some were not kept
                   (past the limit, or out of memory building them) */
} json_schema_errors;

void json_schema_errors_init(json_schema_errors *errs);
void json_schema_errors_free(json_schema_errors *errs);

/* Parses and checks a schema. Returns the compiled schema, holding one
 * reference (drop it with json_schema_free), or NULL; then why (when not
 * NULL) holds a message such as "/properties/age/minimum: must be a
 * number", cut to why_len bytes. A compiled schema is never changed, so
 * any number of threads may validate with it at once. */
json_schema *json_schema_compile(const char *schema_json, size_t len, char *why,
                                 size_t why_len);
/* Takes one more reference to s (NULL stays NULL) and returns s: a schema
 * compiled once is shared by every seat (and the NIF resource) that
 * names it. Thread-safe (atomic). */
json_schema *json_schema_ref(json_schema *s);
/* Drops one reference; the last one frees s. NULL does nothing.
 * Thread-safe (atomic). */
void json_schema_free(json_schema *s);
/* The JSON text s was compiled from, NUL-terminated (the codecs send it as
 * the provider's native structured-output schema); NULL when s is NULL. */
const char *json_schema_text(const json_schema *s);

/* Validates one JSON document, instance_json[0..len), which need not be
 * NUL-terminated. errs must have been initialised; what it held is freed
 * first. Returns 0 when the document is valid (errs empty), -1 when it is
 * not (errs says why: invalid JSON or UTF-8 is one error at path ""), and
 * -2 when memory ran out or s is NULL (errs holds one error saying so if
 * it could). Every array element and object member is checked, duplicates
 * included, so whichever duplicate a later decoder keeps is valid. */
int json_schema_validate(const json_schema *s, const char *instance_json,
                         size_t len, json_schema_errors *errs);

/* json_schema_validate that keeps the document: when it is valid (0) and
 * tree is not NULL, *tree is its cJSON tree, parsed by json_strict_parse
 * from exactly instance_json[0..len) (free it with cJSON_Delete); in every
 * other case *tree is NULL. */
int json_schema_validate_tree(const json_schema *s, const char *instance_json,
                              size_t len, json_schema_errors *errs,
                              cJSON **tree);

/* json_extract_reply then json_schema_validate on what it found; byte
 * offsets in messages count from the start of what was found. */
int json_schema_validate_reply(const json_schema *s, const char *text,
                               size_t len, json_schema_errors *errs);

#endif
