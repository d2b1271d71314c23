/* conversation.h - a member's tool conversation within one round.
 *
 * When a model answers with tool calls, its turn (text and calls) is kept
 * here until the owner sends the tools' results; both are then replayed,
 * after the round's own messages, on every request that follows, so the
 * model sees what it asked and what came back. Pure C, no erl_nif. */
#ifndef CX_CONVERSATION_H
#define CX_CONVERSATION_H

#include <stddef.h>

#include "chat.h"

typedef struct conv_turn {
  char *content; /* the assistant's text beside its calls, or NULL */
  size_t content_len;
  chat_tool_call *calls; /* what it asked for */
  size_t n_calls;
  char **results; /* one per call once answered; NULL before */
  size_t *result_lens;
} conv_turn;

typedef struct conversation {
  conv_turn *turns;
  size_t n_turns;
} conversation;

void conversation_init(conversation *c);
void conversation_free(conversation *c);

/* Moves resp's text and tool calls into a new turn awaiting results (resp
 * keeps the rest). 0, or -1 on out-of-memory or a response without calls. */
int conversation_add_calls(conversation *c, chat_response *resp);

/* The last turn when it still awaits results, else NULL. */
const conv_turn *conversation_pending(const conversation *c);

/* Answers the pending turn: results[i] (lens[i] bytes, UTF-8) for call i.
 * Copies them. 0, or -1 when nothing is pending, n differs from the number
 * of calls, a result is not UTF-8, or memory runs out. */
int conversation_answer(conversation *c, const char *const *results,
                        const size_t *lens, size_t n);

/* The messages of a request: base[0..n_base) then, per answered turn, the
 * assistant's turn and one "tool" message per result. A malloc'd array
 * (the caller frees it; strings point into base and c), count in *n_out;
 * NULL on out-of-memory. */
chat_message *conversation_messages(const conversation *c,
                                    const chat_message *base, size_t n_base,
                                    size_t *n_out);

#endif
