/* json_walk.h - a cJSON tree in document order, without recursion, with
 * the notes json_strict_read kept for its text lined up with its nodes:
 * what a converter needs to rebuild each value exactly (integer or float,
 * strings holding \u0000). Pure C, no erl_nif. */
#ifndef CX_JSON_WALK_H
#define CX_JSON_WALK_H

#include <stddef.h>

#include <cJSON.h>

#include "json_strict.h"

/* What json_walk_next found. */
enum {
  JSON_WALK_END = 0,   /* the whole tree was visited */
  JSON_WALK_KEY,       /* an object member's key (item->string) */
  JSON_WALK_SCALAR,    /* a string, number, true, false or null */
  JSON_WALK_OPEN,      /* an array or object; its children come next */
  JSON_WALK_CLOSE,     /* the array or object item, after its children */
  JSON_WALK_NOMEM = -1 /* the walk could not go on */
};

typedef struct json_walk_frame {
  const cJSON *node, *next;
  size_t count;
} json_walk_frame;

typedef struct json_walk {
  const cJSON *item; /* the node of the step */
  size_t count;      /* CLOSE: how many children it had */
  size_t number;     /* SCALAR number: its ordinal, for json_strict_number_at */
  int is_int;        /* SCALAR number: json_strict_is_int for it */
  size_t nul_at;     /* KEY, SCALAR string: offset of the token's opening quote
                      * when it holds \u0000 (cJSON cut it there: decode it with
                      * json_strict_unescape), else (size_t)-1 */
  /* private */
  const json_strict_notes *notes;
  const cJSON *pending; /* the value to visit after its key */
  size_t numbers, strings, nuls;
  json_walk_frame *stack; /* open containers, innermost last */
  size_t depth, cap;
} json_walk;

/* Starts a walk of root, which cJSON parsed from a text json_strict_read
 * accepted with notes (NULL when it kept none: then numbers are never
 * integers and no string holds \u0000). Allocates nothing yet. */
void json_walk_init(json_walk *w, const cJSON *root,
                    const json_strict_notes *notes);

/* The next step, with w->item and the fields above set for it. Every key
 * comes right before its value; a container's CLOSE comes after the last
 * step inside it. */
int json_walk_next(json_walk *w);

void json_walk_free(json_walk *w);

#endif
