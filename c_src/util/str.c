/* str.c - small string helpers shared by the core and the glue. */
#include "str.h"

#include <stdlib.h>
#include <string.h>

char *str_ndup(const char *s, size_t len) {
  char *p = malloc(len + 1);
  if (!p)
    return NULL;
  if (len)
    memcpy(p, s, len);
  p[len] = '\0';
  return p;
}

int str_is_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

void str_trim(const char *s, size_t *a, size_t *b) {
  while (*a < *b && str_is_space(s[*a]))
    (*a)++;
  while (*b > *a && str_is_space(s[*b - 1]))
    (*b)--;
}

#define REDACTED "[REDACTED]"

char *str_redact(const char *s, const char *secret) {
  size_t n = strlen(secret), count = 0, out_len;
  const char *p, *at;
  char *out, *o;

  if (n == 0)
    return NULL;
  for (p = s; (at = strstr(p, secret)) != NULL; p = at + n)
    count++;
  if (count == 0)
    return NULL;
  out_len = strlen(s) - count * n + count * (sizeof(REDACTED) - 1);
  if ((out = malloc(out_len + 1)) == NULL)
    return NULL;
  for (o = out, p = s; (at = strstr(p, secret)) != NULL; p = at + n) {
    memcpy(o, p, (size_t)(at - p));
    o += at - p;
    memcpy(o, REDACTED, sizeof(REDACTED) - 1);
    o += sizeof(REDACTED) - 1;
  }
  strcpy(o, p);
  return out;
}

void str_redact_in(char **s, const char *secret) {
  char *red;

  if (*s == NULL || secret == NULL || strstr(*s, secret) == NULL)
    return;
  red = str_redact(*s, secret);
  free(*s);
  *s = red ? red : strdup(REDACTED);
}
