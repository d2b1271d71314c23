/* fuzz_json_strict.c - the strict JSON reader (json_strict.c:
 * json_strict_read, json_strict_scan, json_strict_parse, the notes and
 * json_strict_number_at / json_strict_unescape) and the tree walk over its
 * notes (json_walk.c), checked against each other and against cJSON: text
 * the reader accepts, cJSON must parse to the same end.
 *
 * Input: a flags byte (bits 0-2: JSON_STRICT_NUL, _LONG_NUMBERS, _WHOLE;
 * bit 3: keep notes), a depth byte (255: past the limit), a start byte
 * (pos = it % (len + 1)), then the text. */
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>

#include "chat.h"
#include "fuzz_util.h"
#include "json_strict.h"
#include "json_walk.h"

static int is_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* The read as the flags ask, checked against the scan and against cJSON. */
static void check_read(const char *text, size_t len, size_t pos, unsigned flags,
                       int depth, int keep_notes) {
  json_strict_notes notes;
  json_strict_opts opts = {.max_depth = depth, .flags = flags};
  size_t end = (size_t)-1, at = (size_t)-1, end2 = 0, at2 = 0;
  const char *err = NULL, *err2 = NULL;
  int rc, rc2;

  memset(&notes, 0, sizeof(notes));
  if (keep_notes)
    opts.notes = &notes;
  rc = json_strict_read(text, len, pos, &opts, &end, &at, &err);
  FUZZ_CHECK(rc == JSON_STRICT_OK || rc == JSON_STRICT_INVALID ||
                 rc == JSON_STRICT_DEEP || rc == JSON_STRICT_NOMEM,
             "rc %d", rc);
  if (rc == JSON_STRICT_OK) {
    FUZZ_CHECK(end > pos && end <= len, "end %zu, pos %zu, len %zu", end, pos,
               len);
    FUZZ_CHECK(!(flags & JSON_STRICT_WHOLE) || end == len, "whole: end %zu",
               end);
    FUZZ_CHECK(!keep_notes || notes.nodes >= 1, "a value is a node");
    FUZZ_CHECK(!keep_notes || notes.numbers + notes.strings <= notes.nodes,
               "numbers %zu, strings %zu, nodes %zu", notes.numbers,
               notes.strings, notes.nodes);
  } else {
    FUZZ_CHECK(err != NULL && at <= len, "error %s at %zu of %zu", err, at,
               len);
  }
  /* The plain scan is the read without flags or notes. */
  if (flags == 0) {
    rc2 = json_strict_scan(text, len, pos, depth, &end2, &at2, &err2);
    FUZZ_CHECK((rc2 == 0) == (rc == JSON_STRICT_OK), "scan %d, read %d", rc2,
               rc);
    FUZZ_CHECK(rc2 != 0 || end2 == end, "scan end %zu, read end %zu", end2,
               end);
  }
  /* What the reader takes without the flags cJSON can't follow, cJSON
   * parses, ending at the same byte. */
  if (rc == JSON_STRICT_OK && !(flags & JSON_STRICT_NUL) &&
      !(flags & JSON_STRICT_LONG_NUMBERS)) {
    const char *stop = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(text + pos, end - pos, &stop, 0);
    size_t value_end = end;

    while (value_end > pos && is_space(text[value_end - 1]))
      value_end--;
    FUZZ_CHECK(root != NULL, "cJSON refuses what the reader took [%zu, %zu)",
               pos, end);
    FUZZ_CHECK(stop == text + value_end, "cJSON stops at %td, reader at %zu",
               stop - text, value_end);
    cJSON_Delete(root);
  }
  json_strict_notes_free(&notes);
}

/* The whole text with notes, parsed by cJSON and walked: the walk lines up
 * with the notes token for token. */
static void check_walk(const char *text, size_t len, unsigned flags) {
  json_strict_notes notes;
  json_strict_opts opts = {.max_depth = JSON_STRICT_DEPTH_LIMIT,
                           .flags = JSON_STRICT_WHOLE | flags,
                           .notes = &notes};
  size_t end, at, nodes = 0, numbers = 0, strings_with_nul = 0;
  const char *err;
  cJSON *root;
  json_walk w;
  int step;

  memset(&notes, 0, sizeof(notes));
  if (!chat_utf8_valid(text, len) ||
      json_strict_read(text, len, 0, &opts, &end, &at, &err) != 0) {
    json_strict_notes_free(&notes);
    return;
  }
  root = cJSON_ParseWithLength(text, len);
  FUZZ_CHECK(root != NULL, "cJSON refuses a text the reader took whole");
  json_walk_init(&w, root, &notes);
  while ((step = json_walk_next(&w)) != JSON_WALK_END) {
    FUZZ_CHECK(step != JSON_WALK_NOMEM, "walk out of memory");
    if (step == JSON_WALK_CLOSE)
      continue;
    nodes++;
    if (step == JSON_WALK_SCALAR && cJSON_IsNumber(w.item)) {
      size_t off = json_strict_number_at(text, len, w.number);

      FUZZ_CHECK(w.number == numbers, "number %zu is ordinal %zu", numbers,
                 w.number);
      FUZZ_CHECK(off < len && (text[off] == '-' ||
                               (text[off] >= '0' && text[off] <= '9')),
                 "number %zu at %zu", w.number, off);
      FUZZ_CHECK(w.is_int == json_strict_is_int(&notes, w.number),
                 "is_int differs for number %zu", w.number);
      numbers++;
    }
    if ((step == JSON_WALK_KEY ||
         (step == JSON_WALK_SCALAR && cJSON_IsString(w.item))) &&
        w.nul_at != (size_t)-1) {
      size_t n, n2;
      char *out;

      FUZZ_CHECK(w.nul_at < len && text[w.nul_at] == '"', "nul_at %zu",
                 w.nul_at);
      n = json_strict_unescape(text, len, w.nul_at, NULL);
      out = malloc(n ? n : 1);
      FUZZ_CHECK(out != NULL, "out of memory");
      n2 = json_strict_unescape(text, len, w.nul_at, out);
      FUZZ_CHECK(n == n2, "measured %zu, wrote %zu", n, n2);
      FUZZ_CHECK(memchr(out, '\0', n) != NULL, "a noted string holds a NUL");
      FUZZ_CHECK(chat_utf8_valid(out, n), "the decoded string is UTF-8");
      free(out);
      strings_with_nul++;
    }
  }
  FUZZ_CHECK(nodes == notes.nodes, "walked %zu nodes, noted %zu", nodes,
             notes.nodes);
  FUZZ_CHECK(numbers == notes.numbers, "walked %zu numbers, noted %zu", numbers,
             notes.numbers);
  FUZZ_CHECK(strings_with_nul == notes.nnul,
             "walked %zu NUL strings, noted %zu", strings_with_nul, notes.nnul);
  json_walk_free(&w);
  cJSON_Delete(root);
  json_strict_notes_free(&notes);
}

/* json_strict_parse: a tree exactly when the text is UTF-8 and read whole
 * without flags. */
static void check_parse(const char *text, size_t len, int depth) {
  json_strict_opts opts = {.max_depth = depth, .flags = JSON_STRICT_WHOLE};
  size_t at = (size_t)-1, end, at2;
  const char *err = NULL, *err2;
  cJSON *root = json_strict_parse(text, len, depth, &at, &err);
  int good = chat_utf8_valid(text, len) &&
             json_strict_read(text, len, 0, &opts, &end, &at2, &err2) == 0;

  if (root == NULL)
    FUZZ_CHECK(err != NULL && at <= len, "error %s at %zu", err, at);
  FUZZ_CHECK((root != NULL) == good, "parse %s but the text is %s",
             root ? "succeeded" : err, good ? "good" : "bad");
  cJSON_Delete(root);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  fuzz_in in = fuzz_in_make(data, size);
  unsigned flags = fuzz_byte(&in), depth_byte = fuzz_byte(&in);
  unsigned start = fuzz_byte(&in);
  int depth = depth_byte == 255 ? JSON_STRICT_DEPTH_LIMIT + 7 : (int)depth_byte;
  char *text = fuzz_exact(in.p, in.n);

  check_read(text, in.n, start % (in.n + 1), flags & 7, depth, flags & 8);
  check_walk(text, in.n, flags & (JSON_STRICT_NUL | JSON_STRICT_LONG_NUMBERS));
  check_parse(text, in.n, depth);
  free(text);
  return 0;
}
