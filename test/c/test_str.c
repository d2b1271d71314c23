/* test_str.c - unit tests for str.c: redacting a secret from text a
 * provider sent back. */
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "str.h"

Test(str, redact_replaces_every_occurrence) {
  char *out = str_redact("key sk-abcdefgh, again sk-abcdefghsk-abcdefgh.",
                         "sk-abcdefgh");

  cr_assert_str_eq(out, "key [REDACTED], again [REDACTED][REDACTED].");
  free(out);
  cr_assert_null(str_redact("nothing here", "sk-abcdefgh"));
  cr_assert_null(str_redact("anything", ""));
}

Test(str, redact_in_place) {
  char *s = strdup("sk-abcdefgh");
  char *none = NULL;
  char *keep = strdup("fine");
  char *before = keep;

  str_redact_in(&s, "sk-abcdefgh");
  cr_assert_str_eq(s, "[REDACTED]");
  str_redact_in(&none, "sk-abcdefgh");
  cr_assert_null(none);
  str_redact_in(&keep, "sk-abcdefgh");
  cr_assert_eq(keep, before, "a string without the secret is left alone");
  str_redact_in(&keep, NULL);
  cr_assert_str_eq(keep, "fine");
  free(s);
  free(keep);
}
