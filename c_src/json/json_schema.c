/* json_schema.c - compiles a JSON Schema subset into a tree of nodes and
 * validates replies against it, collecting errors with JSON Pointer paths.
 * See json_schema.h for the keywords. Pure C over cJSON, no erl_nif.
 *
 * Recursion: compiling and validating recurse along the schema, which is
 * at most JSON_SCHEMA_MAX_DEPTH deep; the reply's own depth only matters
 * to cJSON, and json_strict caps it at JSON_REPLY_MAX_DEPTH first. Without
 * $ref every (schema node, reply value) pair is visited at most once, so
 * anyOf can't blow up either. */
#include "json_schema.h"

#include <math.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cJSON.h>

#include "buf.h"
#include "str.h"
#include "chat.h"
#include "json_strict.h"
#include "reply_json.h"

/* Type bits; the order is the one messages list them in. */
enum {
  T_OBJECT = 1 << 0,
  T_ARRAY = 1 << 1,
  T_STRING = 1 << 2,
  T_NUMBER = 1 << 3,
  T_INTEGER = 1 << 4,
  T_BOOLEAN = 1 << 5,
  T_NULL = 1 << 6
};

static const struct {
  const char *name;
  unsigned bit;
} type_names[] = {
    {"object", T_OBJECT}, {"array", T_ARRAY},     {"string", T_STRING},
    {"number", T_NUMBER}, {"integer", T_INTEGER}, {"boolean", T_BOOLEAN},
    {"null", T_NULL},
};

#define N_TYPES (sizeof(type_names) / sizeof(type_names[0]))

/* Which number bounds a node has. */
enum { HAS_MIN = 1, HAS_MAX = 2, HAS_EXCL_MIN = 4, HAS_EXCL_MAX = 8 };

typedef struct js_node js_node;

/* A name from `properties` and/or `required`. */
typedef struct js_prop {
  const char *name; /* points into the schema's cJSON tree */
  js_node *schema;  /* NULL when only `required` names it */
  int required;
  size_t required_ix; /* its bit in the seen-bitmap, when required */
} js_prop;

struct js_node {
  int never;      /* the schema `false`: nothing is valid */
  unsigned types; /* T_* bits; 0: any type */
  js_prop *props; /* sorted by name (strcmp) */
  size_t n_props;
  size_t n_required;
  js_node *additional;           /* NULL: additional properties are fine */
  js_node *items;                /* NULL: any element */
  size_t min_items, max_items;   /* 0 and SIZE_MAX when absent */
  size_t min_length, max_length; /* in code points */
  unsigned bounds;               /* HAS_* */
  double minimum, maximum, excl_min, excl_max;
  const cJSON *enum_values; /* an array in the schema tree, or NULL */
  const cJSON *const_value; /* NULL when absent */
  js_node **any_of;
  size_t n_any_of;
};

struct json_schema {
  cJSON *root; /* the parsed schema; nodes point into it */
  js_node *node;
  char *text;       /* the source, NUL-terminated (sent to providers) */
  atomic_uint refs; /* json_schema_ref / json_schema_free */
};

/* --- Paths and messages -------------------------------------------------- */

/* One step of a path. Steps live on the C stack and link back to the root,
 * so a path costs nothing until an error needs it written out. */
typedef struct seg {
  const struct seg *up;
  const char *key; /* a property name or keyword; NULL: use index */
  size_t index;
} seg;

/* Appends the JSON Pointer of p ("" for the root) to b. The recursion is
 * as deep as the path, which follows the schema. */
static int put_path(buf *b, const seg *p) {
  const char *k;

  if (p == NULL)
    return 0;
  if (put_path(b, p->up) != 0 || buf_append(b, "/", 1) != 0)
    return -1;
  if (p->key == NULL)
    return buf_printf(b, "%zu", p->index);
  for (k = p->key; *k != '\0'; k++) {
    int rc = *k == '~'   ? buf_append(b, "~0", 2)
             : *k == '/' ? buf_append(b, "~1", 2)
                         : buf_append(b, k, 1);
    if (rc != 0)
      return -1;
  }
  return 0;
}

/* Code points of a name shown in a message before it is cut with "...". */
#define NAME_SHOWN_MAX 64
/* Room for a quoted name: 6 bytes per code point at worst (\u001f). */
#define QUOTED_MAX (NAME_SHOWN_MAX * 6 + 8)

/* Writes s, valid UTF-8, into out as a quoted name for a message: '"' and
 * '\' escaped, control characters as \u00XX, cut after NAME_SHOWN_MAX code
 * points. */
static void quote_name(char out[QUOTED_MAX], const char *s) {
  const unsigned char *p = (const unsigned char *)s;
  size_t o = 0, shown = 0;

  out[o++] = '"';
  while (*p != '\0' && shown < NAME_SHOWN_MAX) {
    if (*p < 0x20) {
      o += (size_t)snprintf(out + o, QUOTED_MAX - o, "\\u%04x", *p);
      p++;
    } else if (*p == '"' || *p == '\\') {
      out[o++] = '\\';
      out[o++] = (char)*p++;
    } else {
      do
        out[o++] = (char)*p++;
      while ((*p & 0xC0) == 0x80);
    }
    shown++;
  }
  if (*p != '\0') {
    memcpy(out + o, "...", 3);
    o += 3;
  }
  out[o++] = '"';
  out[o] = '\0';
}

/* Writes d in the shortest of %.15g / %.17g that reads back as d. */
static void fmt_number(char out[32], double d) {
  char *c;

  snprintf(out, 32, "%.15g", d);
  if (strtod(out, NULL) != d)
    snprintf(out, 32, "%.17g", d);
  for (c = out; *c != '\0'; c++) {
    if (*c == ',') /* a locale with a decimal comma */
      *c = '.';
  }
}

/* Describes a json_strict failure: "<what> is not usable JSON at byte 3:
 * unexpected character". */
static void describe_json_error(char *out, size_t n, const char *what,
                                size_t at, const char *err, int limit) {
  if (strcmp(err, JSON_STRICT_OOM) == 0)
    snprintf(out, n, "out of memory");
  else if (strcmp(err, JSON_STRICT_BAD_UTF8) == 0)
    snprintf(out, n, "%s is not valid UTF-8", what);
  else if (strcmp(err, JSON_STRICT_TOO_DEEP) == 0)
    snprintf(out, n, "%s is nested deeper than %d levels (at byte %zu)", what,
             limit, at);
  else
    snprintf(out, n, "%s is not usable JSON at byte %zu: %s", what, at, err);
}

static int is_integral(double d) { return isfinite(d) && floor(d) == d; }

/* --- Errors -------------------------------------------------------------- */

void json_schema_errors_init(json_schema_errors *errs) {
  memset(errs, 0, sizeof(*errs));
}

void json_schema_errors_free(json_schema_errors *errs) {
  size_t i;

  for (i = 0; i < errs->count; i++) {
    free(errs->items[i].path);
    free(errs->items[i].message);
  }
  json_schema_errors_init(errs);
}

/* Counts an error and keeps it while there is room. Out of memory, it is
 * counted but not kept. */
static void errors_add(json_schema_errors *errs, const seg *at,
                       const char *message) {
  json_schema_error *e;
  buf path;
  size_t n = strlen(message);

  errs->total++;
  if (errs->count >= JSON_SCHEMA_MAX_ERRORS)
    return;
  e = &errs->items[errs->count];
  buf_init(&path, 0);
  if (put_path(&path, at) != 0) {
    buf_free(&path);
    return;
  }
  e->path = buf_detach(&path, NULL);
  e->message = malloc(n + 1);
  if (e->path == NULL || e->message == NULL) {
    free(e->path);
    free(e->message);
    e->path = e->message = NULL;
    return;
  }
  memcpy(e->message, message, n + 1);
  errs->count++;
}

/* --- Compiling ----------------------------------------------------------- */

typedef struct compiler {
  char *why;
  size_t why_len;
} compiler;

/* Writes "<schema path>: <message>" into why; returns -1 for the caller to
 * pass up. */
static int compile_fail(compiler *c, const seg *at, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int compile_fail(compiler *c, const seg *at, const char *fmt, ...) {
  char msg[512];
  buf path;
  va_list ap;

  if (c->why == NULL || c->why_len == 0)
    return -1;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  buf_init(&path, 0);
  if (at != NULL && put_path(&path, at) == 0 && path.len > 0)
    snprintf(c->why, c->why_len, "%s: %s", path.data, msg);
  else
    snprintf(c->why, c->why_len, "%s", msg);
  buf_free(&path);
  return -1;
}

static int compile_node(compiler *c, const cJSON *js, const seg *at,
                        js_node **out);

static void node_free(js_node *n) {
  size_t i;

  if (n == NULL)
    return;
  for (i = 0; i < n->n_props; i++)
    node_free(n->props[i].schema);
  free(n->props);
  node_free(n->additional);
  node_free(n->items);
  for (i = 0; i < n->n_any_of; i++)
    node_free(n->any_of[i]);
  free(n->any_of);
  free(n);
}

/* Reads a non-negative integer (1.0 counts); values past SIZE_MAX clamp. */
static int get_count(compiler *c, const cJSON *v, const seg *at, size_t *out) {
  double d;

  if (!cJSON_IsNumber(v) || !is_integral(v->valuedouble) || v->valuedouble < 0)
    return compile_fail(c, at, "must be a non-negative integer");
  d = v->valuedouble;
  *out = d >= (double)SIZE_MAX ? SIZE_MAX : (size_t)d;
  return 0;
}

static int get_bound(compiler *c, const cJSON *v, const seg *at, double *out) {
  if (cJSON_IsBool(v))
    return compile_fail(c, at,
                        "must be a number (the boolean form of "
                        "draft 4 is not supported)");
  if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble))
    return compile_fail(c, at, "must be a finite number");
  *out = v->valuedouble;
  return 0;
}

static unsigned type_bit(const char *name) {
  size_t i;

  for (i = 0; i < N_TYPES; i++) {
    if (strcmp(type_names[i].name, name) == 0)
      return type_names[i].bit;
  }
  return 0;
}

static int kw_type(compiler *c, js_node *n, const cJSON *v, const seg *at) {
  char q[QUOTED_MAX];
  const cJSON *t;
  unsigned bit;

  if (cJSON_IsString(v)) {
    n->types = type_bit(v->valuestring);
    if (n->types == 0) {
      quote_name(q, v->valuestring);
      return compile_fail(c, at, "unknown type %s", q);
    }
    return 0;
  }
  if (!cJSON_IsArray(v) || v->child == NULL)
    return compile_fail(c, at,
                        "must be a type name or a non-empty array "
                        "of them");
  for (t = v->child; t != NULL; t = t->next) {
    if (!cJSON_IsString(t))
      return compile_fail(c, at,
                          "must be a type name or a non-empty array "
                          "of them");
    quote_name(q, t->valuestring);
    bit = type_bit(t->valuestring);
    if (bit == 0)
      return compile_fail(c, at, "unknown type %s", q);
    if (n->types & bit)
      return compile_fail(c, at, "type %s is listed twice", q);
    n->types |= bit;
  }
  return 0;
}

/* Orders props by name, those with a schema first among equals. */
static int prop_cmp(const void *a, const void *b) {
  const js_prop *x = a, *y = b;
  int r = strcmp(x->name, y->name);

  if (r != 0)
    return r;
  return (y->schema != NULL) - (x->schema != NULL);
}

/* Merges the entries of a sorted props array that share a name: a name in
 * both `properties` and `required` becomes one entry; a name twice in
 * either is an error. Every duplicate is looked for before any entry
 * moves: the node frees the schemas of all n_props entries, so on failure
 * each must still sit in exactly one of them. */
static int merge_props(compiler *c, js_node *n, const seg *at) {
  char q[QUOTED_MAX];
  size_t i, o = 0;

  for (i = 1; i < n->n_props; i++) {
    const js_prop *prev = &n->props[i - 1], *p = &n->props[i];

    if (strcmp(prev->name, p->name) != 0)
      continue;
    quote_name(q, p->name);
    /* Among equal names those with a schema sort first, so a schema here
     * means prev has one too, and a required prev means required listed
     * the name before. */
    if (p->schema != NULL)
      return compile_fail(c, at, "property %s is defined twice", q);
    if (prev->required)
      return compile_fail(c, at, "required lists %s twice", q);
  }
  for (i = 0; i < n->n_props; i++) {
    const js_prop *p = &n->props[i];

    if (o > 0 && strcmp(n->props[o - 1].name, p->name) == 0) {
      n->props[o - 1].required = 1; /* in properties and in required */
      continue;
    }
    n->props[o++] = *p;
  }
  n->n_props = o;
  for (i = 0; i < n->n_props; i++) {
    if (n->props[i].required)
      n->props[i].required_ix = n->n_required++;
  }
  return 0;
}

/* Builds the sorted name table from `properties` and `required` (either
 * may be NULL; both were type-checked). */
static int build_props(compiler *c, js_node *n, const cJSON *properties,
                       const cJSON *required, const seg *at) {
  seg props_at = {.up = at, .key = "properties"};
  size_t cap = 0;
  const cJSON *m;

  for (m = properties ? properties->child : NULL; m != NULL; m = m->next)
    cap++;
  for (m = required ? required->child : NULL; m != NULL; m = m->next)
    cap++;
  if (cap == 0)
    return 0;
  n->props = calloc(cap, sizeof(*n->props));
  if (n->props == NULL)
    return compile_fail(c, NULL, "out of memory");
  for (m = properties ? properties->child : NULL; m != NULL; m = m->next) {
    seg name_at = {.up = &props_at, .key = m->string};
    js_prop *p = &n->props[n->n_props++];

    p->name = m->string;
    if (compile_node(c, m, &name_at, &p->schema) != 0)
      return -1;
  }
  for (m = required ? required->child : NULL; m != NULL; m = m->next) {
    js_prop *p = &n->props[n->n_props++];

    p->name = m->valuestring;
    p->required = 1;
  }
  qsort(n->props, n->n_props, sizeof(*n->props), prop_cmp);
  return merge_props(c, n, at);
}

static int check_properties(compiler *c, const cJSON *v, const seg *at) {
  if (!cJSON_IsObject(v))
    return compile_fail(c, at, "must be an object of schemas");
  return 0;
}

static int check_required(compiler *c, const cJSON *v, const seg *at) {
  const cJSON *r;

  if (!cJSON_IsArray(v))
    return compile_fail(c, at, "must be an array of property names");
  for (r = v->child; r != NULL; r = r->next) {
    if (!cJSON_IsString(r))
      return compile_fail(c, at, "must be an array of property names");
  }
  return 0;
}

static int kw_items(compiler *c, js_node *n, const cJSON *v, const seg *at) {
  if (cJSON_IsArray(v))
    return compile_fail(c, at,
                        "must be a schema (the array form is not "
                        "supported)");
  return compile_node(c, v, at, &n->items);
}

static int kw_any_of(compiler *c, js_node *n, const cJSON *v, const seg *at) {
  const cJSON *b;
  size_t count = 0;

  if (!cJSON_IsArray(v) || v->child == NULL)
    return compile_fail(c, at, "must be a non-empty array of schemas");
  for (b = v->child; b != NULL; b = b->next)
    count++;
  n->any_of = calloc(count, sizeof(*n->any_of));
  if (n->any_of == NULL)
    return compile_fail(c, NULL, "out of memory");
  for (b = v->child; b != NULL; b = b->next) {
    seg branch_at = {.up = at, .index = n->n_any_of};

    if (compile_node(c, b, &branch_at, &n->any_of[n->n_any_of++]) != 0)
      return -1;
  }
  return 0;
}

/* Keywords a node may hold; annotations have no `id`. */
enum kw_id {
  KW_ANNOTATION,
  KW_TYPE,
  KW_PROPERTIES,
  KW_REQUIRED,
  KW_ADDITIONAL,
  KW_ITEMS,
  KW_MIN_ITEMS,
  KW_MAX_ITEMS,
  KW_MIN_LENGTH,
  KW_MAX_LENGTH,
  KW_MINIMUM,
  KW_MAXIMUM,
  KW_EXCL_MIN,
  KW_EXCL_MAX,
  KW_ENUM,
  KW_CONST,
  KW_ANY_OF
};

static const struct {
  const char *name;
  enum kw_id id;
} keywords[] = {
    {"type", KW_TYPE},
    {"properties", KW_PROPERTIES},
    {"required", KW_REQUIRED},
    {"additionalProperties", KW_ADDITIONAL},
    {"items", KW_ITEMS},
    {"minItems", KW_MIN_ITEMS},
    {"maxItems", KW_MAX_ITEMS},
    {"minLength", KW_MIN_LENGTH},
    {"maxLength", KW_MAX_LENGTH},
    {"minimum", KW_MINIMUM},
    {"maximum", KW_MAXIMUM},
    {"exclusiveMinimum", KW_EXCL_MIN},
    {"exclusiveMaximum", KW_EXCL_MAX},
    {"enum", KW_ENUM},
    {"const", KW_CONST},
    {"anyOf", KW_ANY_OF},
    {"title", KW_ANNOTATION},
    {"description", KW_ANNOTATION},
    {"default", KW_ANNOTATION},
    {"examples", KW_ANNOTATION},
    {"format", KW_ANNOTATION},
    {"$schema", KW_ANNOTATION},
    {"$id", KW_ANNOTATION},
    {"$comment", KW_ANNOTATION},
    {"deprecated", KW_ANNOTATION},
    {"readOnly", KW_ANNOTATION},
    {"writeOnly", KW_ANNOTATION},
    {"$defs", KW_ANNOTATION},
    {"definitions", KW_ANNOTATION},
};

#define N_KEYWORDS (sizeof(keywords) / sizeof(keywords[0]))

/* JSON Schema keywords refused by name, so the message says "not
 * supported" rather than "unknown". */
static const char *const unsupported[] = {
    "allOf",
    "oneOf",
    "not",
    "if",
    "then",
    "else",
    "dependentSchemas",
    "dependencies",
    "dependentRequired",
    "minProperties",
    "maxProperties",
    "patternProperties",
    "propertyNames",
    "unevaluatedProperties",
    "prefixItems",
    "additionalItems",
    "unevaluatedItems",
    "contains",
    "minContains",
    "maxContains",
    "uniqueItems",
    "multipleOf",
    "contentEncoding",
    "contentMediaType",
    "contentSchema",
    "$anchor",
    "$dynamicRef",
    "$dynamicAnchor",
    "$recursiveRef",
    "$recursiveAnchor",
    "$vocabulary",
    "nullable",
};

#define N_UNSUPPORTED (sizeof(unsupported) / sizeof(unsupported[0]))

/* The index of name in keywords[], or -1 with why set. */
static int find_keyword(compiler *c, const char *name, const seg *at) {
  char q[QUOTED_MAX];
  size_t i;

  for (i = 0; i < N_KEYWORDS; i++) {
    if (strcmp(keywords[i].name, name) == 0)
      return (int)i;
  }
  if (strcmp(name, "$ref") == 0)
    return compile_fail(c, at,
                        "$ref is not supported (inline the schema "
                        "it points to)");
  if (strcmp(name, "pattern") == 0)
    return compile_fail(c, at,
                        "pattern is not supported (no regular "
                        "expression engine)");
  quote_name(q, name);
  for (i = 0; i < N_UNSUPPORTED; i++) {
    if (strcmp(unsupported[i], name) == 0)
      return compile_fail(c, at, "keyword %s is not supported", q);
  }
  return compile_fail(c, at, "unknown keyword %s", q);
}

/* What compile_keyword saves for after the loop. */
typedef struct pending {
  const cJSON *properties, *required;
} pending;

static int compile_keyword(compiler *c, js_node *n, enum kw_id id,
                           const cJSON *v, const seg *at, pending *pend) {
  switch (id) {
  case KW_ANNOTATION:
    return 0;
  case KW_TYPE:
    return kw_type(c, n, v, at);
  case KW_PROPERTIES:
    pend->properties = v;
    return check_properties(c, v, at);
  case KW_REQUIRED:
    pend->required = v;
    return check_required(c, v, at);
  case KW_ADDITIONAL:
    return compile_node(c, v, at, &n->additional);
  case KW_ITEMS:
    return kw_items(c, n, v, at);
  case KW_MIN_ITEMS:
    return get_count(c, v, at, &n->min_items);
  case KW_MAX_ITEMS:
    return get_count(c, v, at, &n->max_items);
  case KW_MIN_LENGTH:
    return get_count(c, v, at, &n->min_length);
  case KW_MAX_LENGTH:
    return get_count(c, v, at, &n->max_length);
  case KW_MINIMUM:
    n->bounds |= HAS_MIN;
    return get_bound(c, v, at, &n->minimum);
  case KW_MAXIMUM:
    n->bounds |= HAS_MAX;
    return get_bound(c, v, at, &n->maximum);
  case KW_EXCL_MIN:
    n->bounds |= HAS_EXCL_MIN;
    return get_bound(c, v, at, &n->excl_min);
  case KW_EXCL_MAX:
    n->bounds |= HAS_EXCL_MAX;
    return get_bound(c, v, at, &n->excl_max);
  case KW_ENUM:
    n->enum_values = v;
    if (!cJSON_IsArray(v) || v->child == NULL)
      return compile_fail(c, at, "must be a non-empty array");
    return 0;
  case KW_CONST:
    n->const_value = v;
    return 0;
  case KW_ANY_OF:
    return kw_any_of(c, n, v, at);
  }
  return 0;
}

/* Refuses bounds that no value could meet: surely a mistake. */
static int check_ranges(compiler *c, const js_node *n, const seg *at) {
  if (n->min_items > n->max_items)
    return compile_fail(c, at, "minItems is greater than maxItems");
  if (n->min_length > n->max_length)
    return compile_fail(c, at, "minLength is greater than maxLength");
  if ((n->bounds & (HAS_MIN | HAS_MAX)) == (HAS_MIN | HAS_MAX) &&
      n->minimum > n->maximum)
    return compile_fail(c, at, "minimum is greater than maximum");
  return 0;
}

static int compile_object(compiler *c, const cJSON *js, const seg *at,
                          js_node *n) {
  pending pend = {0};
  uint64_t seen = 0;
  const cJSON *m;

  for (m = js->child; m != NULL; m = m->next) {
    seg kw_at = {.up = at, .key = m->string};
    int k = find_keyword(c, m->string, &kw_at);

    if (k < 0)
      return -1;
    if (seen & ((uint64_t)1 << k))
      return compile_fail(c, &kw_at, "keyword appears twice");
    seen |= (uint64_t)1 << k;
    if (compile_keyword(c, n, keywords[k].id, m, &kw_at, &pend) != 0)
      return -1;
  }
  if (build_props(c, n, pend.properties, pend.required, at) != 0)
    return -1;
  return check_ranges(c, n, at);
}

/* Compiles one schema (an object, true or false) into *out. On failure
 * *out may hold a partial node for the caller to free. */
static int compile_node(compiler *c, const cJSON *js, const seg *at,
                        js_node **out) {
  js_node *n;

  if (!cJSON_IsObject(js) && !cJSON_IsBool(js))
    return compile_fail(c, at, "a schema must be an object or a boolean");
  n = calloc(1, sizeof(*n));
  if (n == NULL)
    return compile_fail(c, NULL, "out of memory");
  *out = n;
  n->max_items = SIZE_MAX;
  n->max_length = SIZE_MAX;
  if (cJSON_IsBool(js)) {
    n->never = cJSON_IsFalse(js);
    return 0;
  }
  return compile_object(c, js, at, n);
}

json_schema *json_schema_compile(const char *schema_json, size_t len, char *why,
                                 size_t why_len) {
  compiler c = {.why = why, .why_len = why_len};
  json_schema *s;
  const char *err;
  size_t err_at;

  if (why != NULL && why_len > 0)
    why[0] = '\0';
  s = calloc(1, sizeof(*s));
  if (s == NULL || (s->text = str_ndup(schema_json ? schema_json : "",
                                       schema_json ? len : 0)) == NULL) {
    free(s);
    compile_fail(&c, NULL, "out of memory");
    return NULL;
  }
  atomic_init(&s->refs, 1);
  s->root =
      json_strict_parse(schema_json, len, JSON_SCHEMA_MAX_DEPTH, &err_at, &err);
  if (s->root == NULL) {
    char msg[160];

    describe_json_error(msg, sizeof(msg), "schema", err_at, err,
                        JSON_SCHEMA_MAX_DEPTH);
    compile_fail(&c, NULL, "%s", msg);
    free(s->text);
    free(s);
    return NULL;
  }
  if (compile_node(&c, s->root, NULL, &s->node) != 0) {
    json_schema_free(s);
    return NULL;
  }
  return s;
}

json_schema *json_schema_ref(json_schema *s) {
  if (s != NULL)
    atomic_fetch_add_explicit(&s->refs, 1, memory_order_relaxed);
  return s;
}

/* The last holder frees: acq_rel so its frees come after every other
 * holder's last use. */
void json_schema_free(json_schema *s) {
  if (s == NULL ||
      atomic_fetch_sub_explicit(&s->refs, 1, memory_order_acq_rel) != 1)
    return;
  node_free(s->node);
  cJSON_Delete(s->root);
  free(s->text);
  free(s);
}

const char *json_schema_text(const json_schema *s) {
  return s != NULL ? s->text : NULL;
}

/* --- Validating ---------------------------------------------------------- */

typedef struct validator {
  json_schema_errors *errs; /* NULL when probing */
  int failed;               /* probing: an error was found */
} validator;

/* Records an error at `at`; when probing (inside anyOf) only notes it. */
static void report(validator *v, const seg *at, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void report(validator *v, const seg *at, const char *fmt, ...) {
  char msg[QUOTED_MAX + 128];
  va_list ap;

  v->failed = 1;
  if (v->errs == NULL)
    return;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  errors_add(v->errs, at, msg);
}

/* A probe stops at its first error; a full validation goes on. */
static int stop(const validator *v) { return v->errs == NULL && v->failed; }

static const char *kind_name(const cJSON *x) {
  if (cJSON_IsObject(x))
    return "object";
  if (cJSON_IsArray(x))
    return "array";
  if (cJSON_IsString(x))
    return "string";
  if (cJSON_IsNumber(x))
    return "number";
  if (cJSON_IsBool(x))
    return "boolean";
  return "null";
}

static int type_ok(unsigned types, const cJSON *x) {
  if (cJSON_IsNumber(x))
    return (types & T_NUMBER) ||
           ((types & T_INTEGER) && is_integral(x->valuedouble));
  if (cJSON_IsObject(x))
    return types & T_OBJECT;
  if (cJSON_IsArray(x))
    return types & T_ARRAY;
  if (cJSON_IsString(x))
    return types & T_STRING;
  if (cJSON_IsBool(x))
    return types & T_BOOLEAN;
  return types & T_NULL;
}

/* Reports "expected string or null, got number". */
static void report_type(validator *v, const seg *at, unsigned types,
                        const cJSON *x) {
  char list[128];
  size_t i, o = 0, left = 0;

  for (i = 0; i < N_TYPES; i++)
    left += (types & type_names[i].bit) != 0;
  list[0] = '\0';
  for (i = 0; i < N_TYPES; i++) {
    if (!(types & type_names[i].bit))
      continue;
    left--;
    o +=
        (size_t)snprintf(list + o, sizeof(list) - o, "%s%s", type_names[i].name,
                         left > 1    ? ", "
                         : left == 1 ? " or "
                                     : "");
  }
  report(v, at, "expected %s, got %s", list, kind_name(x));
}

/* Deep equality of two JSON values; numbers compare by value. Recurses
 * only while both sides are containers, so no deeper than the schema. */
static int json_equal(const cJSON *a, const cJSON *b);

static int object_in(const cJSON *a, const cJSON *b) {
  const cJSON *m;

  for (m = a->child; m != NULL; m = m->next) {
    const cJSON *o = cJSON_GetObjectItemCaseSensitive(b, m->string);

    if (o == NULL || !json_equal(m, o))
      return 0;
  }
  return 1;
}

/* 1 when two arrays or objects have as many children; a huge reply
 * object against a small enum one fails here, cheaply. */
static int same_size(const cJSON *a, const cJSON *b) {
  const cJSON *x = a->child, *y = b->child;

  while (x != NULL && y != NULL) {
    x = x->next;
    y = y->next;
  }
  return x == NULL && y == NULL;
}

static int json_equal(const cJSON *a, const cJSON *b) {
  const cJSON *x, *y;

  if ((a->type & 0xFF) != (b->type & 0xFF))
    return 0;
  if (cJSON_IsNumber(a))
    return a->valuedouble == b->valuedouble;
  if (cJSON_IsString(a))
    return strcmp(a->valuestring, b->valuestring) == 0;
  if (cJSON_IsObject(a))
    return same_size(a, b) && object_in(a, b) && object_in(b, a);
  if (cJSON_IsArray(a)) {
    if (!same_size(a, b))
      return 0;
    for (x = a->child, y = b->child; x != NULL; x = x->next, y = y->next) {
      if (!json_equal(x, y))
        return 0;
    }
  }
  return 1; /* equal arrays, true, false, null */
}

static void validate_node(validator *v, const js_node *n, const cJSON *x,
                          const seg *at);

static void check_number(validator *v, const js_node *n, double d,
                         const seg *at) {
  char a[32], b[32];

  fmt_number(a, d);
  if ((n->bounds & HAS_MIN) && d < n->minimum) {
    fmt_number(b, n->minimum);
    report(v, at, "%s is less than minimum %s", a, b);
  }
  if ((n->bounds & HAS_MAX) && d > n->maximum) {
    fmt_number(b, n->maximum);
    report(v, at, "%s is greater than maximum %s", a, b);
  }
  if ((n->bounds & HAS_EXCL_MIN) && d <= n->excl_min) {
    fmt_number(b, n->excl_min);
    report(v, at, "%s is not greater than exclusiveMinimum %s", a, b);
  }
  if ((n->bounds & HAS_EXCL_MAX) && d >= n->excl_max) {
    fmt_number(b, n->excl_max);
    report(v, at, "%s is not less than exclusiveMaximum %s", a, b);
  }
}

/* Code points in a valid UTF-8 string: the bytes that start one. */
static size_t utf8_length(const char *s) {
  size_t n = 0;

  for (; *s != '\0'; s++)
    n += ((unsigned char)*s & 0xC0) != 0x80;
  return n;
}

static void check_string(validator *v, const js_node *n, const char *s,
                         const seg *at) {
  size_t len;

  if (n->min_length == 0 && n->max_length == SIZE_MAX)
    return;
  len = utf8_length(s);
  if (len < n->min_length)
    report(v, at,
           "string is %zu characters long, shorter than minLength "
           "%zu",
           len, n->min_length);
  if (len > n->max_length)
    report(v, at, "string is %zu characters long, longer than maxLength %zu",
           len, n->max_length);
}

static void check_array(validator *v, const js_node *n, const cJSON *x,
                        const seg *at) {
  const cJSON *e;
  size_t count = 0;

  for (e = x->child; e != NULL; e = e->next) {
    seg el_at = {.up = at, .index = count++};

    if (n->items != NULL && !stop(v))
      validate_node(v, n->items, e, &el_at);
  }
  if (count < n->min_items)
    report(v, at, "array has %zu item%s, fewer than minItems %zu", count,
           count == 1 ? "" : "s", n->min_items);
  if (count > n->max_items)
    report(v, at, "array has %zu items, more than maxItems %zu", count,
           n->max_items);
}

static int prop_key_cmp(const void *key, const void *p) {
  return strcmp(key, ((const js_prop *)p)->name);
}

static const js_prop *find_prop(const js_node *n, const char *name) {
  if (n->n_props == 0)
    return NULL;
  return bsearch(name, n->props, n->n_props, sizeof(*n->props), prop_key_cmp);
}

/* Checks one member against properties / additionalProperties. */
static void check_member(validator *v, const js_node *n, const cJSON *m,
                         const seg *obj_at) {
  const js_prop *p = find_prop(n, m->string);
  seg m_at = {.up = obj_at, .key = m->string};
  char q[QUOTED_MAX];

  if (p != NULL && p->schema != NULL) {
    validate_node(v, p->schema, m, &m_at);
  } else if (n->additional != NULL && n->additional->never) {
    quote_name(q, m->string);
    report(v, obj_at, "%s is not allowed (additionalProperties)", q);
  } else if (n->additional != NULL) {
    validate_node(v, n->additional, m, &m_at);
  }
}

/* Reports each required name not in x. seen has a bit per required name,
 * or is NULL (out of memory) and names are looked up one by one. */
static void report_missing(validator *v, const js_node *n, const cJSON *x,
                           const unsigned char *seen, const seg *at) {
  char q[QUOTED_MAX];
  size_t i;

  for (i = 0; i < n->n_props && !stop(v); i++) {
    const js_prop *p = &n->props[i];
    int found;

    if (!p->required)
      continue;
    if (seen != NULL)
      found = (seen[p->required_ix / 8] >> (p->required_ix % 8)) & 1;
    else
      found = cJSON_GetObjectItemCaseSensitive(x, p->name) != NULL;
    if (!found) {
      quote_name(q, p->name);
      report(v, at, "missing required property %s", q);
    }
  }
}

/* The members go by once, each name found by binary search, so a huge
 * object costs O(members * log(names in the schema)). */
static void check_object(validator *v, const js_node *n, const cJSON *x,
                         const seg *at) {
  unsigned char stack_seen[128];
  unsigned char *seen = stack_seen;
  size_t bytes = (n->n_required + 7) / 8;
  const cJSON *m;

  if (bytes > sizeof(stack_seen))
    seen = calloc(bytes, 1);
  else
    memset(stack_seen, 0, sizeof(stack_seen));
  for (m = x->child; m != NULL && !stop(v); m = m->next) {
    const js_prop *p = find_prop(n, m->string);

    if (p != NULL && p->required && seen != NULL)
      seen[p->required_ix / 8] |= (unsigned char)(1u << (p->required_ix % 8));
    check_member(v, n, m, at);
  }
  report_missing(v, n, x, seen, at);
  if (seen != stack_seen)
    free(seen);
}

static void check_any_of(validator *v, const js_node *n, const cJSON *x,
                         const seg *at) {
  size_t i;

  for (i = 0; i < n->n_any_of; i++) {
    validator probe = {.errs = NULL};

    validate_node(&probe, n->any_of[i], x, at);
    if (!probe.failed)
      return;
  }
  report(v, at, "value does not match any schema in anyOf");
}

static int has_constraints(const js_node *n) {
  return n->types != 0 || n->bounds != 0 || n->enum_values != NULL ||
         n->const_value != NULL || n->n_any_of > 0;
}

static void check_enum(validator *v, const js_node *n, const cJSON *x,
                       const seg *at) {
  const cJSON *e;

  if (n->const_value != NULL && !json_equal(x, n->const_value))
    report(v, at, "value is not the const value");
  if (n->enum_values == NULL)
    return;
  for (e = n->enum_values->child; e != NULL; e = e->next) {
    if (json_equal(x, e))
      return;
  }
  report(v, at, "value is not one of the enum");
}

static void validate_node(validator *v, const js_node *n, const cJSON *x,
                          const seg *at) {
  if (n->never) {
    report(v, at, "no value is allowed here (schema false)");
    return;
  }
  /* cJSON reads 1e400 as infinity: nothing numeric can be said of it. */
  if (cJSON_IsNumber(x) && !isfinite(x->valuedouble) && has_constraints(n)) {
    report(v, at, "number is out of range");
    return;
  }
  if (n->types != 0 && !type_ok(n->types, x)) {
    report_type(v, at, n->types, x);
    return;
  }
  check_enum(v, n, x, at);
  if (stop(v))
    return;
  if (cJSON_IsNumber(x))
    check_number(v, n, x->valuedouble, at);
  else if (cJSON_IsString(x))
    check_string(v, n, x->valuestring, at);
  else if (cJSON_IsArray(x))
    check_array(v, n, x, at);
  else if (cJSON_IsObject(x))
    check_object(v, n, x, at);
  if (n->n_any_of > 0 && !stop(v))
    check_any_of(v, n, x, at);
}

int json_schema_validate(const json_schema *s, const char *instance_json,
                         size_t len, json_schema_errors *errs) {
  return json_schema_validate_tree(s, instance_json, len, errs, NULL);
}

int json_schema_validate_tree(const json_schema *s, const char *instance_json,
                              size_t len, json_schema_errors *errs,
                              cJSON **tree) {
  validator v = {.errs = errs};
  char msg[160];
  const char *err;
  size_t err_at;
  cJSON *root;

  if (tree != NULL)
    *tree = NULL;
  json_schema_errors_free(errs);
  if (s == NULL) {
    errors_add(errs, NULL, "no schema");
    return -2;
  }
  root = json_strict_parse(instance_json, len, JSON_REPLY_MAX_DEPTH, &err_at,
                           &err);
  if (root == NULL) {
    describe_json_error(msg, sizeof(msg), "reply", err_at, err,
                        JSON_REPLY_MAX_DEPTH);
    errors_add(errs, NULL, msg);
    return strcmp(err, JSON_STRICT_OOM) == 0 ? -2 : -1;
  }
  validate_node(&v, s->node, root, NULL);
  if (errs->total == 0 && tree != NULL)
    *tree = root; /* handed over */
  else
    cJSON_Delete(root);
  return errs->total > 0 ? -1 : 0;
}

int json_schema_validate_reply(const json_schema *s, const char *text,
                               size_t len, json_schema_errors *errs) {
  size_t a, b;

  json_extract_reply(text, len, &a, &b);
  return json_schema_validate(s, text != NULL ? text + a : NULL, b - a, errs);
}
