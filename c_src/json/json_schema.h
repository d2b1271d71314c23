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

/* Parses and checks a schema. Returns the compiled schema (free it with
 * json_schema_free) or NULL; then why (when not NULL) holds a message such
 * as "/properties/age/minimum: must be a number", cut to why_len bytes. */
json_schema *json_schema_compile(const char *schema_json, size_t len, char *why,
                                 size_t why_len);
void json_schema_free(json_schema *s);

/* Validates one JSON document, instance_json[0..len), which need not be
 * NUL-terminated. errs must have been initialised; what it held is freed
 * first. Returns 0 when the document is valid (errs empty), -1 when it is
 * not (errs says why: invalid JSON or UTF-8 is one error at path ""), and
 * -2 when memory ran out or s is NULL (errs holds one error saying so if
 * it could). Every array element and object member is checked, duplicates
 * included, so whichever duplicate a later decoder keeps is valid. */
int json_schema_validate(const json_schema *s, const char *instance_json,
                         size_t len, json_schema_errors *errs);

/* Finds the JSON document in a model's reply, trying in order:
 *   1. the whole text, less surrounding whitespace, if it is one JSON value;
 *   2. the first fenced code block (a line opening with ``` or ~~~, up to
 *      three spaces indented) whose info string is empty or "json" (any
 *      case): its content, less surrounding whitespace. The block ends at
 *      a closing fence line of the same character at least as long, or at
 *      the end of the text (CommonMark's rule), and is taken even if it
 *      does not hold valid JSON, so the error names the real problem;
 *   3. the first '{' or '[' from which a whole JSON object or array
 *      parses; at most 32 start positions are tried.
 * Returns 0 with the document at text[*start, *end), or -1 when nothing
 * was found, with [*start, *end) the whole text less surrounding
 * whitespace (so validating it reports why it is not JSON). */
int json_extract_reply(const char *text, size_t len, size_t *start,
                       size_t *end);

/* Decides whether a candidate document doc[0..len) is the one wanted
 * (nonzero: take it). ctx is the caller's. */
typedef int (*json_accept_fn)(const char *doc, size_t len, void *ctx);

/* json_extract_reply for callers that want a document of a certain shape
 * (an object holding "choice", say): the same three steps in the same
 * order, but every candidate is offered to accept and the first one it
 * takes is returned. Step 2 then goes on to later json fences, step 3 to
 * later '{' / '[' (stepping over a refused value whole, so nothing nested
 * in it is offered alone; still at most 32 start positions). Returns as
 * json_extract_reply; accept NULL takes the first candidate, which is
 * json_extract_reply itself. */
int json_extract_reply_if(const char *text, size_t len, json_accept_fn accept,
                          void *ctx, size_t *start, size_t *end);

/* One fenced code block, as json_extract_reply reads fences (offsets into
 * the text). */
typedef struct json_fence {
  size_t start;       /* the opening fence line */
  size_t content;     /* the lines between the fences: [content, */
  size_t content_end; /*   content_end), untrimmed */
  size_t end;         /* the end of the closing fence line (before its
                         newline), or the text's length when unclosed */
  int closed;
  int json; /* the info string is empty or "json", any case */
} json_fence;

/* Finds the first fenced code block whose opening line starts at or after
 * *pos, which must be the start of a line (0 to begin). Returns 1 with *f
 * filled and *pos moved past the block, or 0 when there is none. Walking
 * from 0 visits the blocks in order, each closed as CommonMark closes it
 * (or running to the end of the text), so a fence line inside a block is
 * never taken for an opening one. */
int json_fence_next(const char *text, size_t len, size_t *pos, json_fence *f);

/* json_extract_reply then json_schema_validate on what it found; byte
 * offsets in messages count from the start of what was found. */
int json_schema_validate_reply(const json_schema *s, const char *text,
                               size_t len, json_schema_errors *errs);

#endif
