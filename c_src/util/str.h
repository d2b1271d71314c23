/* str.h - small string helpers shared by the core and the glue. Pure C. */
#ifndef CX_STR_H
#define CX_STR_H

#include <stddef.h>

/* A malloc'd copy of s[0..len) with a NUL added (s may hold NULs; the copy
 * keeps them). NULL when memory runs out. */
char *str_ndup(const char *s, size_t len);

/* JSON's whitespace: space, tab, LF, CR. */
int str_is_space(char c);
/* Narrows [*a, *b) of s past JSON whitespace at both ends. */
void str_trim(const char *s, size_t *a, size_t *b);

/* s with every occurrence of secret replaced by "[REDACTED]", as a new
 * malloc'd string; NULL when s holds none (or memory runs out: then the
 * caller drops s rather than keep the secret, see str_redact_in). */
char *str_redact(const char *s, const char *secret);
/* Redacts *s in place (freeing the old string). When memory runs out the
 * string is replaced by "[REDACTED]" itself, or NULL. */
void str_redact_in(char **s, const char *secret);

#endif
