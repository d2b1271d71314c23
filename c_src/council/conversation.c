/* conversation.c - a member's tool conversation (see conversation.h). */
#include "conversation.h"

#include <stdlib.h>
#include <string.h>

void conversation_init(conversation *c) {
  c->turns = NULL;
  c->n_turns = 0;
}

static void turn_free(conv_turn *t) {
  free(t->content);
  for (size_t i = 0; i < t->n_calls; i++) {
    chat_tool_call_free(&t->calls[i]);
    if (t->results)
      free(t->results[i]);
  }
  free(t->calls);
  free(t->results);
  free(t->result_lens);
}

void conversation_free(conversation *c) {
  for (size_t i = 0; i < c->n_turns; i++)
    turn_free(&c->turns[i]);
  free(c->turns);
  conversation_init(c);
}

int conversation_add_calls(conversation *c, chat_response *resp) {
  conv_turn *turns;

  if (resp->n_tool_calls == 0)
    return -1;
  turns = realloc(c->turns, (c->n_turns + 1) * sizeof(*turns));
  if (turns == NULL)
    return -1;
  c->turns = turns;
  turns[c->n_turns++] = (conv_turn){
      .content = resp->content,
      .content_len = resp->content_len,
      .calls = resp->tool_calls,
      .n_calls = resp->n_tool_calls,
  };
  resp->content = NULL;
  resp->content_len = 0;
  resp->tool_calls = NULL;
  resp->n_tool_calls = 0;
  return 0;
}

const conv_turn *conversation_pending(const conversation *c) {
  if (c->n_turns == 0 || c->turns[c->n_turns - 1].results != NULL)
    return NULL;
  return &c->turns[c->n_turns - 1];
}

int conversation_answer(conversation *c, const char *const *results,
                        const size_t *lens, size_t n) {
  conv_turn *t = (conv_turn *)conversation_pending(c);
  char **copies;
  size_t *sizes;

  if (t == NULL || n != t->n_calls)
    return -1;
  for (size_t i = 0; i < n; i++) {
    if (!chat_utf8_valid(results[i], lens[i]))
      return -1;
  }
  copies = calloc(n, sizeof(*copies));
  sizes = calloc(n, sizeof(*sizes));
  if (copies == NULL || sizes == NULL)
    goto oom;
  for (size_t i = 0; i < n; i++) {
    copies[i] = malloc(lens[i] + 1);
    if (copies[i] == NULL)
      goto oom;
    if (lens[i])
      memcpy(copies[i], results[i], lens[i]);
    copies[i][lens[i]] = '\0';
    sizes[i] = lens[i];
  }
  t->results = copies;
  t->result_lens = sizes;
  return 0;

oom:
  for (size_t i = 0; copies && i < n; i++)
    free(copies[i]);
  free(copies);
  free(sizes);
  return -1;
}

chat_message *conversation_messages(const conversation *c,
                                    const chat_message *base, size_t n_base,
                                    size_t *n_out) {
  size_t n = n_base, k = 0;
  chat_message *msgs;

  for (size_t i = 0; i < c->n_turns; i++) {
    if (c->turns[i].results)
      n += 1 + c->turns[i].n_calls;
  }
  msgs = calloc(n ? n : 1, sizeof(*msgs));
  if (msgs == NULL)
    return NULL;
  for (; k < n_base; k++)
    msgs[k] = base[k];
  for (size_t i = 0; i < c->n_turns; i++) {
    const conv_turn *t = &c->turns[i];
    if (t->results == NULL)
      continue; /* still pending: nothing to replay yet */
    msgs[k++] = (chat_message){.role = "assistant",
                               .content = t->content,
                               .content_len = t->content_len,
                               .tool_calls = t->calls,
                               .n_tool_calls = t->n_calls};
    for (size_t j = 0; j < t->n_calls; j++)
      msgs[k++] = (chat_message){.role = "tool",
                                 .content = t->results[j],
                                 .content_len = t->result_lens[j],
                                 .tool_call_id = t->calls[j].id,
                                 .tool_name = t->calls[j].name};
  }
  *n_out = k;
  return msgs;
}
