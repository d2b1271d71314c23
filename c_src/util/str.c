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
