/* agg_box.c - ballots gathered one at a time for agg_run (see agg_box.h). */
#include "agg_box.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"

static int is_ordering(const agg_box *b) {
  return agg_kind_ballots(b->kind) == AGG_BALLOTS_ordering;
}

int agg_box_init(agg_box *b, rl_agg_kind kind, size_t n) {
  memset(b, 0, sizeof(*b));
  b->kind = kind;
  b->n = n;
  if (agg_kind_ballots(kind) == AGG_BALLOTS_none)
    return AGG_EINVAL;
  if (n > AGG_BOX_MAX_CANDIDATES ||
      (kind == RL_AGG_CONDORCET && n > AGG_BOX_MAX_CONDORCET))
    return AGG_BOX_TOO_MANY_CANDIDATES;
  return AGG_OK;
}

int agg_box_add(agg_box *b) {
  size_t i = b->n_ballots;

  if (i == AGG_BOX_MAX_BALLOTS)
    return AGG_BOX_TOO_MANY_BALLOTS;
  if (is_ordering(b)) {
    if (buf_grow_array(&b->orderings, &b->cap_ballots, i,
                       sizeof(agg_ordering)) != 0)
      return AGG_ENOMEM;
    b->orderings[i] = (agg_ordering){.items = NULL, .len = 0, .self = -1};
  } else {
    if (buf_grow_array(&b->votes, &b->cap_ballots, i, sizeof(agg_vote)) != 0)
      return AGG_ENOMEM;
    b->votes[i] = (agg_vote){.choice = -1, .confidence = NAN};
  }
  b->n_ballots++;
  return AGG_OK;
}

int agg_box_item(agg_box *b, long item) {
  agg_ordering *o = &b->orderings[b->n_ballots - 1];

  if (buf_grow_array(&b->items, &b->cap_items, b->n_items, sizeof(long)) != 0)
    return AGG_ENOMEM;
  b->items[b->n_items++] = item;
  b->pairs += (double)o->len++; /* the new item pairs with each earlier one */
  return o->len > b->n ? AGG_BOX_FULL : AGG_OK;
}

int agg_box_check(const agg_box *b) {
  return b->n_items > AGG_BOX_MAX_ITEMS ? AGG_BOX_TOO_MANY_ITEMS : AGG_OK;
}

double agg_box_work(const agg_box *b) {
  double n = (double)b->n;
  double w = n * AGG_BOX_COST_CANDIDATE +
             (double)b->n_ballots * AGG_BOX_COST_BALLOT +
             (double)b->n_items * AGG_BOX_COST_ITEM;

  if (b->kind == RL_AGG_CONDORCET)
    w += n * n * AGG_BOX_COST_CELL + b->pairs * AGG_BOX_COST_PAIR;
  return w;
}

int agg_box_run(agg_box *b, const agg_opts *opts, agg_result *out) {
  size_t at = 0;

  /* The items array has stopped moving. */
  for (size_t i = 0; is_ordering(b) && i < b->n_ballots; i++) {
    b->orderings[i].items = b->items ? b->items + at : NULL;
    at += b->orderings[i].len;
  }
  return agg_run(b->kind, b->n, b->votes, b->orderings, b->n_ballots, opts,
                 out);
}

void agg_box_free(agg_box *b) {
  free(b->votes);
  free(b->orderings);
  free(b->items);
  memset(b, 0, sizeof(*b));
}
