/* fuzz_schema_reply.c - JSON Schema validation (json_schema.c:
 * json_schema_validate, _validate_tree, _validate_reply) of any reply
 * against a few fixed schemas covering every supported keyword (see
 * fuzz_schema.h for what is checked).
 *
 * Input: a schema byte (modulo the number of schemas below), then the
 * reply. */
#include <stdlib.h>
#include <string.h>

#include "fuzz_schema.h"

static const char *const SCHEMAS[] = {
    /* 0 */
    "{\"$schema\":\"https://json-schema.org/draft/2020-12/schema\","
    "\"title\":\"Council vote\","
    "\"description\":\"What a council member returns when asked to rank the "
    "answers.\","
    "\"type\":\"object\",\"properties\":{\"ranking\":{\"type\":\"array\","
    "\"description\":\"Answer labels, best first.\","
    "\"items\":{\"type\":\"string\",\"enum\":[\"A\",\"B\",\"C\",\"D\"]},"
    "\"minItems\":1,\"maxItems\":4},\"confidence\":{\"type\":\"number\","
    "\"minimum\":0,\"maximum\":1},\"rationale\":{\"type\":\"string\","
    "\"minLength\":1,\"maxLength\":280},\"flags\":{\"type\":\"array\","
    "\"items\":{\"type\":\"object\","
    "\"properties\":{\"label\":{\"type\":\"string\",\"enum\":[\"A\",\"B\","
    "\"C\",\"D\"]},\"reason\":{\"type\":\"string\"},"
    "\"severity\":{\"type\":\"integer\",\"minimum\":1,\"maximum\":3}},"
    "\"required\":[\"label\",\"reason\"],\"additionalProperties\":false}},"
    "\"abstain\":{\"anyOf\":[{\"const\":false},{\"type\":\"string\","
    "\"minLength\":1}]}},\"required\":[\"ranking\",\"confidence\"],"
    "\"additionalProperties\":false}",
    /* 1 */
    "{\"type\":\"object\"}",
    /* 2 */
    "{\"type\":\"array\",\"items\":{\"type\":[\"integer\",\"null\"]},"
    "\"minItems\":1,\"maxItems\":5}",
    /* 3 */
    "{\"anyOf\":[{\"type\":\"string\",\"minLength\":2,\"maxLength\":4},"
    "{\"enum\":[1,\"a\",[1,2],{\"x\":null}]},{\"const\":{\"k\":[true]}}]}",
    /* 4 */
    "{\"type\":\"object\",\"properties\":{\"verdict\":{\"enum\":[\"yes\","
    "\"no\"]},\"score\":{\"type\":\"number\",\"exclusiveMinimum\":0,"
    "\"maximum\":10}},\"required\":[\"verdict\"],"
    "\"additionalProperties\":{\"type\":\"string\"}}",
    /* 5 */
    "false",
};
#define N_SCHEMAS (sizeof(SCHEMAS) / sizeof(SCHEMAS[0]))

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static json_schema *compiled[N_SCHEMAS];
  fuzz_in in = fuzz_in_make(data, size);
  size_t which = fuzz_byte(&in) % N_SCHEMAS;
  char *text;

  if (compiled[which] == NULL) { /* once: kept for the process's life */
    char why[200];

    compiled[which] = json_schema_compile(
        SCHEMAS[which], strlen(SCHEMAS[which]), why, sizeof(why));
    FUZZ_CHECK(compiled[which] != NULL, "schema %zu: %s", which, why);
  }
  text = fuzz_exact(in.p, in.n);
  schema_check_validate(compiled[which], text, in.n);
  free(text);
  return 0;
}
