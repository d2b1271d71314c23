/* json_walk.c - document-order walk of a cJSON tree with its strict-read
 * notes (see json_walk.h). Its stack is on the heap, so hostile nesting
 * costs no C stack. Pure C, no erl_nif. */
#include "json_walk.h"

#include <stdlib.h>

#include "buf.h"

void json_walk_init(json_walk *w, const cJSON *root,
                    const json_strict_notes *notes) {
  *w = (json_walk){.notes = notes, .pending = root};
}

void json_walk_free(json_walk *w) {
  free(w->stack);
  w->stack = NULL;
  w->depth = w->cap = 0;
}

/* Sets w->nul_at for the next string token, and counts it. */
static void note_string(json_walk *w) {
  const json_strict_notes *n = w->notes;

  w->nul_at = (size_t)-1;
  if (n != NULL && w->nuls < n->nnul && n->nul[w->nuls].string == w->strings)
    w->nul_at = n->nul[w->nuls++].at;
  w->strings++;
}

/* Visits item: a scalar, or a container to open. */
static int visit(json_walk *w, const cJSON *item) {
  w->item = item;
  if (cJSON_IsArray(item) || cJSON_IsObject(item)) {
    if (buf_grow_array(&w->stack, &w->cap, w->depth, sizeof(*w->stack)) != 0)
      return JSON_WALK_NOMEM;
    w->stack[w->depth++] = (json_walk_frame){item, item->child, 0};
    return JSON_WALK_OPEN;
  }
  if (cJSON_IsNumber(item)) {
    w->number = w->numbers++;
    w->is_int = w->notes != NULL && json_strict_is_int(w->notes, w->number);
  } else if (cJSON_IsString(item)) {
    note_string(w);
  }
  return JSON_WALK_SCALAR;
}

int json_walk_next(json_walk *w) {
  const cJSON *item = w->pending;
  json_walk_frame *f;

  if (item != NULL) { /* the root, or a value after its key */
    w->pending = NULL;
    return visit(w, item);
  }
  if (w->depth == 0)
    return JSON_WALK_END;
  f = &w->stack[w->depth - 1];
  if ((item = f->next) == NULL) {
    w->item = f->node;
    w->count = f->count;
    w->depth--;
    return JSON_WALK_CLOSE;
  }
  f->next = item->next;
  f->count++;
  if (!cJSON_IsObject(f->node))
    return visit(w, item);
  w->item = item;
  w->pending = item;
  note_string(w);
  return JSON_WALK_KEY;
}
