/* fixtures.c - reads test fixture files and makes exact-size copies of
 * bodies for the C unit tests. */
#include "fixtures.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "chat.h"

char *fixture_read(const char *name, size_t *len) {
  char path[512];
  char *data = NULL;
  FILE *f = NULL;
  long size;
  int n;

  n = snprintf(path, sizeof(path), "test/fixtures/%s", name);
  if (n < 0 || (size_t)n >= sizeof(path))
    return NULL;
  f = fopen(path, "rb");
  if (f == NULL)
    goto err;
  if (fseek(f, 0, SEEK_END) != 0)
    goto err;
  size = ftell(f);
  if (size < 0 || fseek(f, 0, SEEK_SET) != 0)
    goto err;
  data = malloc((size_t)size + 1);
  if (data == NULL)
    goto err;
  if (fread(data, 1, (size_t)size, f) != (size_t)size)
    goto err;
  data[size] = '\0';
  fclose(f);
  *len = (size_t)size;
  return data;

err:
  free(data);
  if (f != NULL)
    fclose(f);
  return NULL;
}

char *fixture_load(const char *name, size_t *len) {
  char *data = fixture_read(name, len);

  cr_assert_not_null(data,
                     "cannot read test/fixtures/%s (cwd must be the "
                     "repository root)",
                     name);
  return data;
}

char *fixture_exact_copy(const char *s, size_t len) {
  /* malloc(0) may return NULL, so an empty copy gets one unused byte. */
  char *p = malloc(len > 0 ? len : 1);

  if (p == NULL)
    cr_assert_fail("out of memory copying %zu bytes", len);
  if (len > 0)
    memcpy(p, s, len);
  return p;
}

void assert_response_empty(const chat_response *r) {
  cr_assert_null(r->content);
  cr_assert_null(r->model);
  cr_assert_null(r->finish_reason);
  cr_assert_eq(r->content_len, 0);
  cr_assert_eq(r->input_tokens, -1);
  cr_assert_eq(r->output_tokens, -1);
}

/* n bytes of printable junk from a fixed xorshift, with '{', '[', '`',
 * quotes and newlines among them but no header words. Malloc'd. */
char *fixture_junk(size_t n, uint64_t seed) {
  static const char alphabet[] =
      "abcdefghijklmnopqrstuvwxyz  {}[]\"':,.0123456789`\n";
  char *s = malloc(n);
  size_t i;

  cr_assert_not_null(s);
  for (i = 0; i < n; i++) {
    seed ^= seed << 13;
    seed ^= seed >> 7;
    seed ^= seed << 17;
    s[i] = alphabet[seed % (sizeof(alphabet) - 1)];
  }
  return s;
}

char *fixture_junk_then(size_t n, const char *tail, size_t *len) {
  size_t t = strlen(tail);
  char *s = fixture_junk(n + t, 99);

  memcpy(s + n, tail, t);
  *len = n + t;
  return s;
}
