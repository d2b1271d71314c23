/* json_strict.h - the one strict RFC 8259 reader in front of cJSON.
 *
 * cJSON is lax: it skips any byte <= 0x20 (NUL included) as whitespace,
 * takes raw control characters inside strings, leading zeros ("01"), "1.",
 * any trailing data, and no UTF-8 check. It also cuts a string at "\u0000"
 * and (upstream 1.7.15) stops reading a number after 63 characters. The
 * reader here refuses all of that, with the byte offset of the problem, and
 * bounds nesting without recursion, so cJSON only ever parses text known to
 * be good. Pure C, no erl_nif. */
#ifndef CX_JSON_STRICT_H
#define CX_JSON_STRICT_H

#include <stddef.h>

#include <cJSON.h>

/* Messages a caller may want to tell apart from plain bad JSON. */
#define JSON_STRICT_OOM "out of memory" /* cJSON or the notes failed */
#define JSON_STRICT_BAD_UTF8 "invalid UTF-8"
#define JSON_STRICT_TOO_DEEP "nested too deeply" /* past max_depth */

/* The deepest max_depth honoured (larger ones are clamped to it): cJSON's
 * own CJSON_NESTING_LIMIT, so whatever is read here cJSON can parse. */
#define JSON_STRICT_DEPTH_LIMIT 1000

/* Flags for json_strict_read. Without any, it refuses what the core's
 * cJSON-based callers cannot use. */
enum {
  /* Accept \u0000 in strings and keys. cJSON cuts such strings at the NUL,
   * so the notes list them for json_strict_unescape. */
  JSON_STRICT_NUL = 1u << 0,
  /* Accept numbers longer than 63 characters. Only for a cJSON that reads
   * them whole (Debian's 1.7.15-1+deb12u4 does; test_json_strict.c checks
   * the one linked here). */
  JSON_STRICT_LONG_NUMBERS = 1u << 1,
  /* The value must be the whole text: nothing but whitespace after it. */
  JSON_STRICT_WHOLE = 1u << 2,
};

/* What json_strict_read returns. */
enum {
  JSON_STRICT_OK = 0,
  JSON_STRICT_INVALID = -1, /* bad JSON at *err_at */
  JSON_STRICT_DEEP = -2,    /* past max_depth; *err_at is the '[' or '{' */
  JSON_STRICT_NOMEM = -3,   /* the notes could not grow */
};

/* A string token holding \u0000 (JSON_STRICT_NUL). */
typedef struct json_strict_nul {
  size_t string; /* its ordinal among the string tokens */
  size_t at;     /* offset of its opening quote */
} json_strict_nul;

/* Per-token notes of one read, for walking the cJSON tree of the same text
 * in document order (an object key is a string token, read before its
 * value). Zero-initialise, pass to json_strict_read, then
 * json_strict_notes_free. */
typedef struct json_strict_notes {
  size_t nodes;             /* values plus object keys */
  size_t strings;           /* string tokens, keys included */
  size_t numbers;           /* number tokens */
  unsigned char *int_bits;  /* see json_strict_is_int */
  json_strict_nul *nul;     /* strings holding \u0000, in order */
  size_t nnul;              /* entries in nul */
  size_t bits_cap, nul_cap; /* allocated sizes, private */
} json_strict_notes;

typedef struct json_strict_opts {
  int max_depth;            /* nested arrays and objects allowed, >= 0 */
  unsigned flags;           /* JSON_STRICT_* above */
  json_strict_notes *notes; /* NULL: keep none (and allocate nothing) */
} json_strict_opts;

/* Reads one JSON value starting at text[pos] (whitespace before it is
 * skipped). Returns JSON_STRICT_OK with the offset just past the value (or,
 * with JSON_STRICT_WHOLE, len) in *end; otherwise an error code with the
 * offset of the problem in *err_at and a static message in *err. Running
 * out of input is reported at len. Bytes >= 0x80 inside strings are not
 * checked: run chat_utf8_valid as well. Stops at the first problem, so the
 * notes then cover the text before it only. */
int json_strict_read(const char *text, size_t len, size_t pos,
                     const json_strict_opts *opts, size_t *end, size_t *err_at,
                     const char **err);

/* json_strict_read without flags or notes; 0 or -1 (any error). */
int json_strict_scan(const char *text, size_t len, size_t pos, int max_depth,
                     size_t *end, size_t *err_at, const char **err);

/* Parses text[0..len) as exactly one JSON value, with whitespace around it
 * allowed: valid UTF-8, read as above, then parsed by cJSON. Returns the
 * tree (free it with cJSON_Delete) or NULL with *err_at and *err set; err
 * is JSON_STRICT_OOM when cJSON failed on good text. */
cJSON *json_strict_parse(const char *text, size_t len, int max_depth,
                         size_t *err_at, const char **err);

/* 1 when number token `number` (0-based) is written without fraction or
 * exponent and its magnitude is at most 2^53, so a double holds it exactly
 * and it decodes as an integer; else 0. */
int json_strict_is_int(const json_strict_notes *notes, size_t number);

/* Offset of number token `number` (0-based) in a text json_strict_read
 * accepted, or len when there are fewer numbers. Reads the text again: for
 * error reports. */
size_t json_strict_number_at(const char *text, size_t len, size_t number);

/* Decodes the string token whose opening quote is at text[at], in a text
 * json_strict_read accepted, into out (room for at least the token's length
 * in bytes; NULL only measures). Returns the decoded length. This is how a
 * string holding \u0000 is read back. */
size_t json_strict_unescape(const char *text, size_t len, size_t at, char *out);

void json_strict_notes_free(json_strict_notes *notes);

#endif
