/* test_conversation.c - unit tests for conversation.c: turns kept and
 * answered, and the messages replayed in order. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "conversation.h"

/* A response asking for n calls, as a codec would leave it. */
static chat_response asking(size_t n) {
  chat_response r;

  chat_response_init(&r);
  r.content = strdup("Let me check.");
  r.content_len = strlen(r.content);
  for (size_t i = 0; i < n; i++) {
    chat_tool_call *c = chat_response_add_tool_call(&r);
    char id[32];
    cr_assert_not_null(c);
    snprintf(id, sizeof(id), "call_%zu", i);
    c->id = strdup(id);
    c->name = strdup("lookup");
    c->arguments = strdup("{}");
    c->arguments_len = 2;
  }
  return r;
}

Test(conversation, turns_are_kept_answered_and_replayed) {
  conversation c;
  chat_response r = asking(2);
  const char *results[] = {"one", "two"};
  size_t lens[] = {3, 3};
  chat_message base[] = {{.role = "user", .content = "q", .content_len = 1}};
  chat_message *msgs;
  size_t n;

  conversation_init(&c);
  cr_assert_null(conversation_pending(&c));
  cr_assert_eq(conversation_add_calls(&c, &r), 0);
  cr_assert_null(r.tool_calls, "the calls moved into the turn");
  cr_assert_null(r.content);
  chat_response_free(&r);
  cr_assert_eq(conversation_pending(&c)->n_calls, 2);

  /* A pending turn is not replayed. */
  msgs = conversation_messages(&c, base, 1, &n);
  cr_assert_eq(n, 1);
  free(msgs);

  cr_assert_eq(conversation_answer(&c, results, lens, 1), -1, "one per call");
  cr_assert_eq(conversation_answer(&c, results, lens, 2), 0);
  cr_assert_null(conversation_pending(&c));
  cr_assert_eq(conversation_answer(&c, results, lens, 2), -1,
               "nothing pending");

  msgs = conversation_messages(&c, base, 1, &n);
  cr_assert_eq(n, 4);
  cr_assert_str_eq(msgs[1].role, "assistant");
  cr_assert_eq(msgs[1].n_tool_calls, 2);
  cr_assert_str_eq(msgs[1].content, "Let me check.");
  cr_assert_str_eq(msgs[2].role, "tool");
  cr_assert_str_eq(msgs[2].tool_call_id, "call_0");
  cr_assert_str_eq(msgs[3].tool_name, "lookup");
  cr_assert_eq(strncmp(msgs[3].content, "two", msgs[3].content_len), 0);
  free(msgs);
  conversation_free(&c);
}

Test(conversation, bad_results_and_responses_without_calls_are_refused) {
  conversation c;
  chat_response none, r = asking(1);
  const char *bad[] = {"caf\xc3"};
  size_t lens[] = {4};

  conversation_init(&c);
  chat_response_init(&none);
  cr_assert_eq(conversation_add_calls(&c, &none), -1);
  cr_assert_eq(conversation_add_calls(&c, &r), 0);
  cr_assert_eq(conversation_answer(&c, bad, lens, 1), -1, "not UTF-8");
  cr_assert_not_null(conversation_pending(&c), "still waiting");
  chat_response_free(&r);
  conversation_free(&c);
}
