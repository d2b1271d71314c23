/* round_internal.h - what the round loop's files share: round_loop.c (the
 * state machine), round_prompt.c (what each call is sent) and
 * round_tally.c (reading ballots and aggregating them). Not for the NIF. */
#ifndef CX_ROUND_INTERNAL_H
#define CX_ROUND_INTERNAL_H

#include "buf.h"
#include "reason.h"
#include "round_loop.h"

/* The run's random stream (labels shuffles, tie-breaks, jitter). */
uint64_t rl_run_random(rl_run *run);

/* "Response A", "Response B", ...: the label of position i. */
void rl_label(size_t i, char *out, size_t out_len);

/* Renders the user message of a call into out. 0, or -1 on no memory. */
int rl_prompt_user(const rl_run *run, const rl_step *step, const rl_call *call,
                   buf *out);
/* The system prompt a call is sent: the seat's own (the chair's for a
 * synthesis taken over by a fallback seat), a default for chair and judge
 * roles, plus the confidence instruction. malloc'd, or NULL (none) with
 * *oom set on out-of-memory. */
char *rl_prompt_system(const rl_run *run, const rl_step *step,
                       const rl_call *call, int *oom);

/* Reads the confidence an answer reports into the call, and cuts a
 * self-reported trailer off its content (the trailer is not part of the
 * answer). The round loop calls it as the answer arrives, before it looks
 * for the answer's JSON, so a span found in the content stays inside it. */
void rl_tally_confidence(const rl_run *run, const rl_step *step, rl_call *call);
/* Reads the ballot an answer holds into the call. A ballot that cannot be
 * read sets call->ballot_error; returns -1 then. */
int rl_tally_call(const rl_run *run, const rl_step *step, rl_call *call);
/* Aggregates a finished step's ballots into step->agg/winner, and for a
 * pairwise step fills step->alive. 0, or -1 on no memory. */
int rl_tally_step(rl_run *run, rl_step *step);
void rl_tally_free(rl_step *step);
/* The built-in convergence rule of an iterated round. */
int rl_tally_converged(const rl_run *run, const rl_step *step);

#endif
