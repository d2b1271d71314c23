/* reason.h - the words the core reports as a failure's reason
 * (chat_error.reason, rl_step.failure, rl_call.ballot_error, a run's
 * failure, ranking and ballot reasons), all from enums.def's CX_REASON.
 * The NIF turns them into atoms and the Elixir side documents them from
 * the same file, so a word is written CX_REASON_WORD(word): one missing
 * from enums.def does not compile. Pure C. */
#ifndef CX_REASON_H
#define CX_REASON_H

typedef enum cx_reason {
#define CX_REASON(name, message) CX_R_##name,
#include "enums.def"
  CX_R_COUNT
} cx_reason;

/* The static string "name", checked against enums.def at compile time. */
#define CX_REASON_WORD(name) ((void)CX_R_##name, #name)

#endif
