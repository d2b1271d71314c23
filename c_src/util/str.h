/* str.h - small string helpers shared by the core and the glue. Pure C. */
#ifndef CX_STR_H
#define CX_STR_H

#include <stddef.h>

/* A malloc'd copy of s[0..len) with a NUL added (s may hold NULs; the copy
 * keeps them). NULL when memory runs out. */
char *str_ndup(const char *s, size_t len);

#endif
