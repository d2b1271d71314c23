/* json_in.c - strict parsing and type-checked lookups over cJSON for the
 * dialect codecs (see json_in.h). */
#include "json_in.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "chat.h"
#include "str.h"

/* How much of a non-JSON error body is kept as the message. */
#define SNIPPET_MAX 512

cJSON *json_parse_body(const char *text, size_t len) {
  const char *end = NULL, *stop = text + len;
  cJSON *root;

  /* cJSON would skip a raw NUL as whitespace. */
  if (text == NULL || len == 0 || memchr(text, '\0', len) != NULL)
    return NULL;
  root = cJSON_ParseWithLengthOpts(text, len, &end, 0);
  if (root == NULL)
    return NULL;
  while (end < stop && str_is_space(*end))
    end++;
  if (end != stop) {
    cJSON_Delete(root);
    return NULL;
  }
  return root;
}

const cJSON *json_get(const cJSON *obj, const char *name) {
  if (!cJSON_IsObject(obj))
    return NULL;
  return cJSON_GetObjectItemCaseSensitive(obj, name);
}

const char *json_get_string(const cJSON *obj, const char *name) {
  const cJSON *v = json_get(obj, name);

  return cJSON_IsString(v) ? v->valuestring : NULL;
}

char *json_dup_string(const cJSON *item) {
  if (!cJSON_IsString(item) || item->valuestring == NULL)
    return NULL;
  return strdup(item->valuestring);
}

int json_copy_string(const cJSON *item, char **out) {
  *out = json_dup_string(item);
  return (*out == NULL && cJSON_IsString(item)) ? -1 : 0;
}

long json_get_count(const cJSON *obj, const char *name) {
  const cJSON *v = json_get(obj, name);
  double d;

  if (!cJSON_IsNumber(v))
    return -1;
  d = v->valuedouble;
  if (!(d >= 0 && d < (double)LONG_MAX))
    return -1;
  return (long)d;
}

int json_get_true(const cJSON *obj, const char *name) {
  return cJSON_IsTrue(json_get(obj, name));
}

char *json_body_snippet(const char *body, size_t len) {
  const char *nul;
  size_t start = 0;

  if (body == NULL)
    return NULL;
  if (len > SNIPPET_MAX) {
    len = SNIPPET_MAX;
    /* body[len] is inside the body here; step back over continuation
     * bytes so no character is cut in half. */
    while (len > 0 && ((unsigned char)body[len] & 0xC0) == 0x80)
      len--;
  }
  nul = memchr(body, '\0', len);
  if (nul != NULL)
    len = (size_t)(nul - body);
  while (start < len && str_is_space(body[start]))
    start++;
  while (len > start && str_is_space(body[len - 1]))
    len--;
  if (len == start || !chat_utf8_valid(body + start, len - start))
    return NULL;
  return strndup(body + start, len - start);
}
