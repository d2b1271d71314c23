/* fuzz_schema.h - what the two JSON Schema harnesses (fuzz_schema_reply.c,
 * fuzz_schema_compile.c) check of one validation: the three validate
 * entry points agree with each other and with json_schema.h's promises. */
#ifndef CX_FUZZ_SCHEMA_H
#define CX_FUZZ_SCHEMA_H

#include <string.h>

#include <cJSON.h>

#include "chat.h"
#include "fuzz_util.h"
#include "json_schema.h"
#include "json_strict.h"
#include "reply_json.h"

static inline void schema_check_errors(int rc, const json_schema_errors *e) {
  FUZZ_CHECK(rc == 0 || rc == -1, "rc %d (out of memory?)", rc);
  FUZZ_CHECK(e->count <= JSON_SCHEMA_MAX_ERRORS && e->count <= e->total,
             "count %zu, total %zu", e->count, e->total);
  FUZZ_CHECK((rc == 0) == (e->total == 0), "rc %d with %zu errors", rc,
             e->total);
  FUZZ_CHECK(rc == 0 || e->count > 0, "a failure keeps at least one error");
  for (size_t i = 0; i < e->count; i++) {
    const char *p = e->items[i].path, *m = e->items[i].message;

    FUZZ_CHECK(p != NULL && m != NULL && m[0] != '\0', "error %zu is empty", i);
    FUZZ_CHECK(p[0] == '\0' || p[0] == '/', "path %s", p);
    FUZZ_CHECK(chat_utf8_valid(p, strlen(p)) && chat_utf8_valid(m, strlen(m)),
               "error %zu is not UTF-8", i);
  }
}

/* Validates text[0..len) against s every way there is. */
static inline void schema_check_validate(const json_schema *s, const char *text,
                                         size_t len) {
  json_schema_errors e1, e2, e3, e4;
  cJSON *tree = (cJSON *)1, *want;
  size_t start, end, at;
  const char *err;
  int rc1, rc2, rc3, rc4;

  json_schema_errors_init(&e1);
  json_schema_errors_init(&e2);
  json_schema_errors_init(&e3);
  json_schema_errors_init(&e4);
  rc1 = json_schema_validate(s, text, len, &e1);
  schema_check_errors(rc1, &e1);
  rc2 = json_schema_validate_tree(s, text, len, &e2, &tree);
  schema_check_errors(rc2, &e2);
  FUZZ_CHECK(rc1 == rc2 && e1.total == e2.total, "validate %d, _tree %d", rc1,
             rc2);
  FUZZ_CHECK((rc2 == 0) == (tree != NULL), "rc %d with tree %p", rc2,
             (void *)tree);
  if (tree != NULL) {
    want = json_strict_parse(text, len, JSON_REPLY_MAX_DEPTH, &at, &err);
    FUZZ_CHECK(want != NULL && fuzz_same_tree(tree, want),
               "the tree is not the text's");
    cJSON_Delete(want);
    cJSON_Delete(tree);
  }
  /* validate_reply is extract, then validate what was found. */
  rc3 = json_schema_validate_reply(s, text, len, &e3);
  schema_check_errors(rc3, &e3);
  json_extract_reply(text, len, &start, &end);
  rc4 = json_schema_validate(s, text + start, end - start, &e4);
  FUZZ_CHECK(rc3 == rc4 && e3.total == e4.total,
             "validate_reply %d (%zu), on the extract %d (%zu)", rc3, e3.total,
             rc4, e4.total);
  /* Validating again frees what errs held. */
  rc4 = json_schema_validate(s, text, len, &e4);
  FUZZ_CHECK(rc4 == rc1, "again: %d, then %d", rc1, rc4);
  json_schema_errors_free(&e1);
  json_schema_errors_free(&e2);
  json_schema_errors_free(&e3);
  json_schema_errors_free(&e4);
}

#endif
