/* json_out.c - JSON writing helpers for request bodies (see json_out.h).
 * Strings are escaped here rather than through cJSON because message
 * content is pointer plus length and may hold NUL bytes. */
#include "json_out.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>

#include "chat.h"
#include "json_in.h"

/* The escape for the character at p (left bytes remain), or NULL when it
 * goes out as is. *used is set to the bytes the escape replaces. U+2028 and
 * U+2029 are legal raw in JSON but not in JavaScript source, so they are
 * escaped too. */
static const char *json_escape(const unsigned char *p, size_t left, char tmp[8],
                               size_t *used) {
  *used = 1;
  switch (p[0]) {
  case '"':
    return "\\\"";
  case '\\':
    return "\\\\";
  case '\n':
    return "\\n";
  case '\r':
    return "\\r";
  case '\t':
    return "\\t";
  case '\b':
    return "\\b";
  case '\f':
    return "\\f";
  }
  if (p[0] < 0x20) {
    snprintf(tmp, 8, "\\u%04x", (unsigned)p[0]);
    return tmp;
  }
  if (p[0] == 0xE2 && left >= 3 && p[1] == 0x80 &&
      (p[2] == 0xA8 || p[2] == 0xA9)) {
    *used = 3;
    return p[2] == 0xA8 ? "\\u2028" : "\\u2029";
  }
  return NULL;
}

int json_put_string(buf *b, const char *s, size_t len) {
  const unsigned char *p = (const unsigned char *)s;
  size_t i = 0, start = 0, used;
  char tmp[8];

  if (!chat_utf8_valid(s, len))
    return -1;
  if (buf_append(b, "\"", 1) != 0)
    return -1;
  while (i < len) {
    /* Most text is plain: skip it a byte at a time, without a call. */
    if (p[i] >= 0x20 && p[i] != '"' && p[i] != '\\' && p[i] != 0xE2) {
      i++;
      continue;
    }
    const char *esc = json_escape(p + i, len - i, tmp, &used);

    if (esc != NULL) {
      if (buf_append(b, s + start, i - start) != 0 || buf_puts(b, esc) != 0)
        return -1;
      start = i + used;
    }
    i += used;
  }
  if (len > start && buf_append(b, s + start, len - start) != 0)
    return -1;
  return buf_append(b, "\"", 1);
}

int json_put_cstr(buf *b, const char *s) {
  if (s == NULL)
    return -1;
  return json_put_string(b, s, strlen(s));
}

int json_put_number(buf *b, double d) {
  char tmp[40];
  char *c;
  int n;

  if (!isfinite(d))
    return -1;
  n = snprintf(tmp, sizeof(tmp), "%.15g", d);
  if (n > 0 && (size_t)n < sizeof(tmp) && strtod(tmp, NULL) != d)
    n = snprintf(tmp, sizeof(tmp), "%.17g", d);
  if (n <= 0 || (size_t)n >= sizeof(tmp))
    return -1;
  /* A locale with a decimal comma would print 0,2; JSON wants 0.2. */
  for (c = tmp; *c != '\0'; c++) {
    if (*c == ',')
      *c = '.';
  }
  return buf_append(b, tmp, (size_t)n);
}

int json_put_json_text(buf *b, const char *text, size_t len, int object_only) {
  cJSON *root;
  char *printed;
  int rc = -1;

  if (!chat_utf8_valid(text, len))
    return -1;
  root = json_parse_strict(text, len);
  if (root == NULL)
    return -1;
  if (object_only && !cJSON_IsObject(root))
    goto done;
  /* cJSON escapes control characters that it accepted raw inside strings,
   * and prints non-finite numbers as null. */
  printed = cJSON_PrintUnformatted(root);
  if (printed == NULL)
    goto done;
  rc = buf_puts(b, printed);
  cJSON_free(printed);

done:
  cJSON_Delete(root);
  return rc;
}

char *json_object_text(const cJSON *item) {
  char *printed, *copy;

  if (item == NULL)
    return strdup("{}");
  printed = cJSON_PrintUnformatted(item);
  copy = printed != NULL ? strdup(printed) : NULL;
  cJSON_free(printed);
  return copy;
}
