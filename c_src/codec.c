/* codec.c - the table of dialect codecs and the header list they fill. */
#include "codec.h"

#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "ollama_codec.h"
#include "openai_codec.h"

/* Each dialect's codec file defines one of these; add it here as well. */
static const chat_codec *const codecs[] = {
    &chat_codec_openai,
    &chat_codec_openrouter,
    &chat_codec_ollama,
    NULL,
};

const chat_codec *chat_codec_find(const char *name) {
  if(!name)
    return NULL;
  for(size_t i = 0; codecs[i]; i++) {
    if(strcmp(codecs[i]->name, name) == 0)
      return codecs[i];
  }
  return NULL;
}

void chat_headers_init(chat_headers *h) {
  h->lines = NULL;
  h->n = 0;
}

void chat_headers_free(chat_headers *h) {
  for(size_t i = 0; i < h->n; i++)
    free(h->lines[i]);
  free(h->lines);
  chat_headers_init(h);
}

static int has_crlf(const char *s) {
  return strpbrk(s, "\r\n") != NULL;
}

int chat_headers_add(chat_headers *h, const char *name, const char *value) {
  buf line;
  char **lines;

  if(!name || !value || has_crlf(name) || has_crlf(value))
    return -1;
  lines = realloc(h->lines, (h->n + 1) * sizeof(*lines));
  if(!lines)
    return -1;
  h->lines = lines;
  buf_init(&line, 0);
  if(buf_printf(&line, "%s: %s", name, value) != 0) {
    buf_free(&line);
    return -1;
  }
  h->lines[h->n++] = buf_detach(&line, NULL);
  return 0;
}
