/* codec.c - the table of dialect codecs and the header list they fill. */
#include "codec.h"

#include <stdlib.h>
#include <string.h>

#include "anthropic_codec.h"
#include "buf.h"
#include "gemini_codec.h"
#include "ollama_codec.h"
#include "openai_codec.h"

/* Each dialect's codec file defines one of these; add it here as well. */
static const chat_codec *const codecs[] = {
    &chat_codec_openai, &chat_codec_openrouter, &chat_codec_anthropic,
    &chat_codec_gemini, &chat_codec_ollama,     NULL,
};

const chat_codec *codec_find(const char *name) {
  if (!name)
    return NULL;
  for (size_t i = 0; codecs[i]; i++) {
    if (strcmp(codecs[i]->name, name) == 0)
      return codecs[i];
  }
  return NULL;
}

void codec_headers_init(codec_headers *h) {
  h->lines = NULL;
  h->n = 0;
}

void codec_headers_free(codec_headers *h) {
  for (size_t i = 0; i < h->n; i++)
    free(h->lines[i]);
  free(h->lines);
  codec_headers_init(h);
}

static int has_crlf(const char *s) { return strpbrk(s, "\r\n") != NULL; }

int codec_headers_add(codec_headers *h, const char *name, const char *value) {
  buf line;
  char **lines;

  if (!name || !value || has_crlf(name) || has_crlf(value))
    return -1;
  lines = realloc(h->lines, (h->n + 1) * sizeof(*lines));
  if (!lines)
    return -1;
  h->lines = lines;
  buf_init(&line, 0);
  if (buf_printf(&line, "%s: %s", name, value) != 0) {
    buf_free(&line);
    return -1;
  }
  h->lines[h->n++] = buf_detach(&line, NULL);
  return 0;
}

int codec_url_put_base(buf *out, const char *base_url, const char *fallback) {
  const char *base =
      (base_url != NULL && base_url[0] != '\0') ? base_url : fallback;
  size_t len, i;

  if (base == NULL)
    return -1;
  len = strlen(base);
  for (i = 0; i < len; i++) {
    unsigned char c = (unsigned char)base[i];

    if (c <= 0x20 || c == 0x7F)
      return -1;
  }
  while (len > 0 && base[len - 1] == '/')
    len--;
  return buf_append(out, base, len);
}

const char *codec_tool_call_args(const chat_tool_call *c, size_t *len) {
  *len = 0;
  if (c->arguments == NULL)
    return NULL;
  *len = c->arguments_len > 0 ? c->arguments_len : strlen(c->arguments);
  return c->arguments;
}

int codec_request_has_tool(const chat_request *req, const char *name) {
  for (size_t i = 0; i < req->n_tools && req->tools != NULL; i++) {
    if (req->tools[i].name != NULL && strcmp(req->tools[i].name, name) == 0)
      return 1;
  }
  return 0;
}
