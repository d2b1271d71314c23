/* agg_box.h - ballots gathered one at a time for agg_run (aggregate.h), by
 * a caller that reads them from outside, one by one, without knowing their
 * number or length in advance (the NIF reads them from Erlang terms). The
 * box grows as they come, holds the input limits, keeps an ordering's
 * first n + 1 items only (the rest cannot change its status: those already
 * name a candidate twice or one out of range, and a hostile ballot cannot
 * make the box copy more), and estimates the work so far, so that a
 * caller with a time budget knows when to stop. Pure C, no erl_nif. */
#ifndef CX_AGG_BOX_H
#define CX_AGG_BOX_H

#include <stddef.h>

#include "aggregate.h"

/* Limits on any input. Condorcet's matrix is n*n 32-bit counts. */
#define AGG_BOX_MAX_CANDIDATES 100000
#define AGG_BOX_MAX_CONDORCET 2048
#define AGG_BOX_MAX_BALLOTS 1000000
#define AGG_BOX_MAX_ITEMS 10000000

/* Returns besides AGG_OK, AGG_EINVAL and AGG_ENOMEM. */
#define AGG_BOX_FULL 1 /* agg_box_item: the ordering is full, read no more */
#define AGG_BOX_TOO_MANY_CANDIDATES (-3)
#define AGG_BOX_TOO_MANY_BALLOTS (-4)
#define AGG_BOX_TOO_MANY_ITEMS (-5)

/* The cost of one call from outside, in units of about a nanosecond: a
 * ballot, an ordering item, a candidate and (Condorcet) a matrix cell and
 * an item pair, each read in, counted and written out (its share of the
 * result), as measured through the NIF on OTP 25 / x86-64. */
#define AGG_BOX_COST_BALLOT 80
#define AGG_BOX_COST_ITEM 18
#define AGG_BOX_COST_CANDIDATE 120
#define AGG_BOX_COST_CELL 12
#define AGG_BOX_COST_PAIR 2

typedef struct agg_box {
  rl_agg_kind kind;
  size_t n;                /* candidates */
  agg_vote *votes;         /* vote kinds: one per ballot */
  agg_ordering *orderings; /* ordering kinds: one per ballot; their items
                              are set by agg_box_run */
  size_t n_ballots;
  /* private */
  long *items; /* every ordering's items, back to back */
  size_t n_items, cap_items, cap_ballots;
  double pairs; /* item pairs within orderings */
} agg_box;

/* Starts an empty box for aggregator kind over n candidates. AGG_OK;
 * AGG_EINVAL for RL_AGG_NONE or an unknown kind; AGG_BOX_TOO_MANY_CANDIDATES
 * past the limits. Whatever it returns, the box can be freed. */
int agg_box_init(agg_box *b, rl_agg_kind kind, size_t n);

/* Adds a ballot, the last one (b->n_ballots - 1), for the caller to fill
 * in: a vote's choice and confidence (choice -1 and confidence NaN until
 * then), or an ordering's self (-1 until then) and its items through
 * agg_box_item. AGG_OK; AGG_ENOMEM; AGG_BOX_TOO_MANY_BALLOTS when the box
 * holds AGG_BOX_MAX_BALLOTS already (nothing added). */
int agg_box_add(agg_box *b);

/* Appends item to the last ballot, an ordering. AGG_OK; AGG_BOX_FULL when
 * it is kept and the ordering now holds n + 1 items (read no more of it);
 * AGG_ENOMEM (nothing appended). */
int agg_box_item(agg_box *b, long item);

/* AGG_BOX_TOO_MANY_ITEMS once the orderings hold more than
 * AGG_BOX_MAX_ITEMS items in all, else AGG_OK. */
int agg_box_check(const agg_box *b);

/* The estimated work of a call over what the box holds (AGG_BOX_COST_*). */
double agg_box_work(const agg_box *b);

/* agg_run over the box's ballots; the box is unchanged but for the
 * orderings' items, and must still be freed. */
int agg_box_run(agg_box *b, const agg_opts *opts, agg_result *out);

void agg_box_free(agg_box *b);

#endif
