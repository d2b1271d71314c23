/* test_json_schema.c - unit tests for json_schema.c and json_strict.c:
 * every keyword passing and failing (a table of schema / reply / first
 * error), nested paths and their escaping, error counts and the keep
 * limit, compile errors with their messages, hostile replies (deep
 * nesting, huge numbers, NULs, invalid UTF-8, 10k-member objects), length
 * in code points, and finding the JSON in fenced or chatty replies. Text
 * goes through exact-size copies so ASan catches any read past the end. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "buf.h"
#include "fixtures.h"
#include "json_schema.h"
#include "json_strict.h"

/* --- Helpers ------------------------------------------------------------- */

static json_schema *compile_len(const char *schema, size_t len) {
  char why[256] = "unset";
  char *copy = fixture_exact_copy(schema, len);
  json_schema *s = json_schema_compile(copy, len, why, sizeof(why));

  free(copy);
  cr_assert_not_null(s, "schema %.*s: %s", (int)len, schema, why);
  cr_assert_str_eq(why, "", "why is cleared on success");
  return s;
}

static json_schema *compile(const char *schema) {
  return compile_len(schema, strlen(schema));
}

/* Asserts that schema[0..len) fails to compile with exactly `expect`. */
static void compile_fails_len(const char *schema, size_t len,
                              const char *expect) {
  char why[256] = "unset";
  char *copy = fixture_exact_copy(schema, len);
  json_schema *s = json_schema_compile(copy, len, why, sizeof(why));

  free(copy);
  cr_assert_null(s, "schema %.*s compiled", (int)len, schema);
  cr_assert_str_eq(why, expect, "schema %.*s", (int)len, schema);
}

#define COMPILE_FAILS(lit, expect)                                             \
  compile_fails_len(lit, sizeof(lit) - 1, expect)

/* Validates reply[0..len) through an exact-size copy. */
static int run_len(const json_schema *s, const char *reply, size_t len,
                   json_schema_errors *errs) {
  char *copy = fixture_exact_copy(reply, len);
  int rc = json_schema_validate(s, copy, len, errs);

  free(copy);
  return rc;
}

static int run(const json_schema *s, const char *reply,
               json_schema_errors *errs) {
  return run_len(s, reply, strlen(reply), errs);
}

static void assert_error(const json_schema_errors *errs, size_t i,
                         const char *path, const char *message) {
  cr_assert_lt(i, errs->count, "error %zu not kept (count %zu)", i,
               errs->count);
  cr_assert_str_eq(errs->items[i].path, path, "path of error %zu: %s", i,
                   errs->items[i].path);
  cr_assert_str_eq(errs->items[i].message, message, "message of error %zu: %s",
                   i, errs->items[i].message);
}

/* Asserts reply[0..len) fails schema with one error. */
static void one_error_len(const char *schema, const char *reply, size_t len,
                          const char *path, const char *message) {
  json_schema *s = compile(schema);
  json_schema_errors errs;

  json_schema_errors_init(&errs);
  cr_assert_eq(run_len(s, reply, len, &errs), -1, "%s accepted %.*s", schema,
               (int)len, reply);
  cr_assert_eq(errs.total, 1, "%s / %.*s: %zu errors, first %s", schema,
               (int)len, reply, errs.total,
               errs.count ? errs.items[0].message : "-");
  assert_error(&errs, 0, path, message);
  json_schema_errors_free(&errs);
  json_schema_free(s);
}

#define ONE_ERROR(schema, lit, path, message)                                  \
  one_error_len(schema, lit, sizeof(lit) - 1, path, message)

/* Asserts a reply that is not usable JSON gives exactly `message`. */
#define REPLY_REFUSED(lit, message) ONE_ERROR("true", lit, "", message)

/* --- Every keyword, passing and failing ---------------------------------- */

/* A schema, a reply, and the one error expected (path NULL: valid). */
typedef struct kcase {
  const char *schema, *reply, *path, *message;
} kcase;

#define ANY_OF_SCHEMA                                                          \
  "{\"anyOf\":[{\"type\":\"string\"},{\"type\":\"integer\",\"minimum\":0}]}"

static const kcase keyword_cases[] = {
    /* type */
    {"{\"type\":\"object\"}", "{}", NULL, NULL},
    {"{\"type\":\"object\"}", "[]", "", "expected object, got array"},
    {"{\"type\":\"array\"}", "[1]", NULL, NULL},
    {"{\"type\":\"array\"}", "{}", "", "expected array, got object"},
    {"{\"type\":\"string\"}", "\"x\"", NULL, NULL},
    {"{\"type\":\"string\"}", "1", "", "expected string, got number"},
    {"{\"type\":\"number\"}", "-1.5e3", NULL, NULL},
    {"{\"type\":\"number\"}", "\"1\"", "", "expected number, got string"},
    {"{\"type\":\"integer\"}", "3", NULL, NULL},
    {"{\"type\":\"integer\"}", "3.0", NULL, NULL},
    {"{\"type\":\"integer\"}", "1e2", NULL, NULL},
    {"{\"type\":\"integer\"}", "-0", NULL, NULL},
    {"{\"type\":\"integer\"}", "9007199254740993", NULL, NULL},
    {"{\"type\":\"integer\"}", "3.5", "", "expected integer, got number"},
    {"{\"type\":\"integer\"}", "true", "", "expected integer, got boolean"},
    {"{\"type\":\"boolean\"}", "false", NULL, NULL},
    {"{\"type\":\"boolean\"}", "null", "", "expected boolean, got null"},
    {"{\"type\":\"null\"}", "null", NULL, NULL},
    {"{\"type\":\"null\"}", "0", "", "expected null, got number"},
    {"{\"type\":[\"string\",\"null\"]}", "null", NULL, NULL},
    {"{\"type\":[\"string\",\"null\"]}", "1", "",
     "expected string or null, got number"},
    {"{\"type\":[\"null\",\"integer\",\"array\",\"object\"]}", "\"s\"", "",
     "expected object, array, integer or null, got string"},
    {"{\"type\":[\"number\",\"integer\"]}", "2.5", NULL, NULL},
    /* properties */
    {"{\"properties\":{\"a\":{\"type\":\"string\"}}}", "{\"a\":\"x\"}", NULL,
     NULL},
    {"{\"properties\":{\"a\":{\"type\":\"string\"}}}", "{\"a\":1}", "/a",
     "expected string, got number"},
    {"{\"properties\":{\"a\":{\"type\":\"string\"}}}", "{\"b\":1}", NULL, NULL},
    {"{\"properties\":{\"a\":{\"type\":\"string\"}}}", "[1]", NULL, NULL},
    /* required */
    {"{\"required\":[\"a\",\"b\"]}", "{\"b\":null,\"a\":0}", NULL, NULL},
    {"{\"required\":[\"a\",\"b\"]}", "{\"a\":1}", "",
     "missing required property \"b\""},
    {"{\"required\":[\"a\"]}", "\"not an object\"", NULL, NULL},
    {"{\"required\":[]}", "{}", NULL, NULL},
    /* additionalProperties */
    {"{\"properties\":{\"a\":{}},\"additionalProperties\":false}", "{\"a\":1}",
     NULL, NULL},
    {"{\"properties\":{\"a\":{}},\"additionalProperties\":false}",
     "{\"a\":1,\"z\":2}", "", "\"z\" is not allowed (additionalProperties)"},
    {"{\"additionalProperties\":{\"type\":\"integer\"}}", "{\"x\":1}", NULL,
     NULL},
    {"{\"additionalProperties\":{\"type\":\"integer\"}}", "{\"x\":\"s\"}", "/x",
     "expected integer, got string"},
    {"{\"additionalProperties\":true}", "{\"x\":1}", NULL, NULL},
    /* `required` alone does not make a name known to properties */
    {"{\"required\":[\"a\"],\"additionalProperties\":false}", "{\"a\":1}", "",
     "\"a\" is not allowed (additionalProperties)"},
    /* enum: deep equality, 1 == 1.0, object order does not matter */
    {"{\"enum\":[\"a\",1,null,{\"k\":[1,2]},[true]]}", "\"a\"", NULL, NULL},
    {"{\"enum\":[\"a\",1,null,{\"k\":[1,2]},[true]]}", "1.0", NULL, NULL},
    {"{\"enum\":[\"a\",1,null,{\"k\":[1,2]},[true]]}", "null", NULL, NULL},
    {"{\"enum\":[\"a\",1,null,{\"k\":[1,2]},[true]]}", "{\"k\":[1,2.0]}", NULL,
     NULL},
    {"{\"enum\":[\"a\",1,null,{\"k\":[1,2]},[true]]}", "[true]", NULL, NULL},
    {"{\"enum\":[\"a\",1,null,{\"k\":[1,2]},[true]]}", "\"A\"", "",
     "value is not one of the enum"},
    {"{\"enum\":[\"a\",1,null,{\"k\":[1,2]},[true]]}", "{\"k\":[2,1]}", "",
     "value is not one of the enum"},
    {"{\"enum\":[\"a\",1,null,{\"k\":[1,2]},[true]]}", "{\"k\":[1,2],\"x\":1}",
     "", "value is not one of the enum"},
    {"{\"enum\":[\"a\",1,null,{\"k\":[1,2]},[true]]}", "[true,true]", "",
     "value is not one of the enum"},
    {"{\"enum\":[\"a\",1,null,{\"k\":[1,2]},[true]]}", "true", "",
     "value is not one of the enum"},
    {"{\"enum\":[\"a\",1,null,{\"k\":[1,2]},[true]]}", "\"1\"", "",
     "value is not one of the enum"},
    {"{\"enum\":[{\"a\":1,\"b\":2}]}", "{\"b\":2,\"a\":1}", NULL, NULL},
    {"{\"enum\":[{\"a\":1,\"b\":2}]}", "{\"a\":1,\"c\":2}", "",
     "value is not one of the enum"},
    {"{\"enum\":[\"\\u00e9\"]}", "\"\xc3\xa9\"", NULL, NULL},
    /* const */
    {"{\"const\":{\"a\":[1,\"x\"]}}", "{\"a\":[1,\"x\"]}", NULL, NULL},
    {"{\"const\":{\"a\":[1,\"x\"]}}", "{\"a\":[1,\"y\"]}", "",
     "value is not the const value"},
    {"{\"const\":null}", "null", NULL, NULL},
    {"{\"const\":null}", "false", "", "value is not the const value"},
    {"{\"const\":0}", "-0.0", NULL, NULL},
    {"{\"const\":false}", "0", "", "value is not the const value"},
    /* items */
    {"{\"items\":{\"type\":\"integer\"}}", "[1,2,3]", NULL, NULL},
    {"{\"items\":{\"type\":\"integer\"}}", "[]", NULL, NULL},
    {"{\"items\":{\"type\":\"integer\"}}", "[1,\"x\",3]", "/1",
     "expected integer, got string"},
    {"{\"items\":{\"type\":\"integer\"}}", "{\"0\":\"x\"}", NULL, NULL},
    {"{\"items\":false}", "[]", NULL, NULL},
    {"{\"items\":false}", "[1]", "/0",
     "no value is allowed here (schema false)"},
    /* minItems, maxItems */
    {"{\"minItems\":2}", "[1,2]", NULL, NULL},
    {"{\"minItems\":2}", "[1]", "", "array has 1 item, fewer than minItems 2"},
    {"{\"minItems\":2}", "[]", "", "array has 0 items, fewer than minItems 2"},
    {"{\"maxItems\":1}", "[1]", NULL, NULL},
    {"{\"maxItems\":1}", "[1,2]", "",
     "array has 2 items, more than maxItems 1"},
    {"{\"maxItems\":0}", "\"not an array\"", NULL, NULL},
    /* minLength, maxLength: code points, not bytes */
    {"{\"minLength\":3}", "\"abc\"", NULL, NULL},
    {"{\"minLength\":3}", "\"ab\"", "",
     "string is 2 characters long, shorter than minLength 3"},
    {"{\"minLength\":3}", "\"h\xc3\xa9\xc3\xa9\"", NULL, NULL},
    {"{\"minLength\":4}", "\"h\xc3\xa9\xc3\xa9\"", "",
     "string is 3 characters long, shorter than minLength 4"},
    {"{\"maxLength\":3}", "\"\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e\"", NULL,
     NULL},
    {"{\"maxLength\":3}", "\"\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e!\"", "",
     "string is 4 characters long, longer than maxLength 3"},
    {"{\"maxLength\":1}", "\"\xf0\x9f\x98\x80\"", NULL, NULL},
    {"{\"maxLength\":1}", "\"\\ud83d\\ude00\"", NULL, NULL},
    {"{\"maxLength\":2}", "\"\\u00e9\\u00e9\\u00e9\"", "",
     "string is 3 characters long, longer than maxLength 2"},
    {"{\"maxLength\":0}", "\"\"", NULL, NULL},
    {"{\"maxLength\":0}", "12345", NULL, NULL},
    /* minimum, maximum, exclusiveMinimum, exclusiveMaximum */
    {"{\"minimum\":2}", "2", NULL, NULL},
    {"{\"minimum\":2}", "1.5", "", "1.5 is less than minimum 2"},
    {"{\"minimum\":-1e300}", "-1e301", "",
     "-1e+301 is less than minimum -1e+300"},
    {"{\"maximum\":2}", "2", NULL, NULL},
    {"{\"maximum\":2}", "2.5", "", "2.5 is greater than maximum 2"},
    {"{\"exclusiveMinimum\":2}", "2.1", NULL, NULL},
    {"{\"exclusiveMinimum\":2}", "2", "",
     "2 is not greater than exclusiveMinimum 2"},
    {"{\"exclusiveMaximum\":0.1}", "0.09", NULL, NULL},
    {"{\"exclusiveMaximum\":0.1}", "0.1", "",
     "0.1 is not less than exclusiveMaximum 0.1"},
    {"{\"minimum\":10}", "\"5\"", NULL, NULL},
    /* anyOf */
    {ANY_OF_SCHEMA, "\"x\"", NULL, NULL},
    {ANY_OF_SCHEMA, "3", NULL, NULL},
    {ANY_OF_SCHEMA, "-1", "", "value does not match any schema in anyOf"},
    {ANY_OF_SCHEMA, "1.5", "", "value does not match any schema in anyOf"},
    {"{\"anyOf\":[{\"anyOf\":[{\"const\":1},{\"const\":2}]},{\"const\":3}]}",
     "2", NULL, NULL},
    /* boolean schemas */
    {"true", "{\"anything\":[1,null]}", NULL, NULL},
    {"false", "1", "", "no value is allowed here (schema false)"},
    {"{}", "\"anything\"", NULL, NULL},
    /* annotations are ignored */
    {"{\"title\":\"t\",\"description\":\"d\",\"$schema\":\"x\",\"default\":1,"
     "\"examples\":[1],\"format\":\"date-time\",\"$comment\":\"c\","
     "\"$id\":\"u\",\"deprecated\":true,\"readOnly\":false,"
     "\"writeOnly\":false,\"$defs\":{\"x\":{\"$ref\":\"#\"}},"
     "\"definitions\":{},\"type\":\"string\"}",
     "\"not a date\"", NULL, NULL},
};

Test(json_schema_keywords, every_keyword_passes_and_fails) {
  size_t i;

  for (i = 0; i < sizeof(keyword_cases) / sizeof(keyword_cases[0]); i++) {
    const kcase *k = &keyword_cases[i];
    json_schema *s = compile(k->schema);
    json_schema_errors errs;
    int rc;

    json_schema_errors_init(&errs);
    rc = run(s, k->reply, &errs);
    if (k->path == NULL) {
      cr_assert_eq(rc, 0, "case %zu: %s rejected %s: %s", i, k->schema,
                   k->reply, errs.count ? errs.items[0].message : "?");
      cr_assert_eq(errs.total, 0);
      cr_assert_eq(errs.count, 0);
    } else {
      cr_assert_eq(rc, -1, "case %zu: %s accepted %s", i, k->schema, k->reply);
      cr_assert_eq(errs.total, 1, "case %zu: %zu errors", i, errs.total);
      cr_assert_eq(errs.count, 1);
      cr_assert_str_eq(errs.items[0].path, k->path, "case %zu", i);
      cr_assert_str_eq(errs.items[0].message, k->message, "case %zu", i);
    }
    json_schema_errors_free(&errs);
    json_schema_free(s);
  }
}

Test(json_schema_keywords, type_failure_skips_the_other_keywords) {
  ONE_ERROR("{\"type\":\"string\",\"minLength\":5,\"enum\":[\"abcdef\"]}", "7",
            "", "expected string, got number");
}

Test(json_schema_keywords, independent_keywords_each_report) {
  json_schema *s = compile("{\"minLength\":3,\"maxLength\":5,"
                           "\"enum\":[\"abc\"],\"const\":\"abc\"}");
  json_schema_errors errs;

  json_schema_errors_init(&errs);
  cr_assert_eq(run(s, "\"abc\"", &errs), 0);
  cr_assert_eq(run(s, "\"ab\"", &errs), -1);
  cr_assert_eq(errs.total, 3);
  assert_error(&errs, 0, "", "value is not the const value");
  assert_error(&errs, 1, "", "value is not one of the enum");
  assert_error(&errs, 2, "",
               "string is 2 characters long, shorter than minLength 3");
  json_schema_errors_free(&errs);
  json_schema_free(s);
}

Test(json_schema_keywords, bounds_given_as_integral_floats_are_counts) {
  json_schema *s = compile("{\"minItems\":2.0,\"maxLength\":1e1}");

  json_schema_free(s);
}

Test(json_schema_keywords, properties_and_required_on_the_same_name) {
  const char *schema = "{\"properties\":{\"a\":{\"type\":\"integer\"},"
                       "\"b\":{}},\"required\":[\"b\",\"a\",\"c\"]}";
  json_schema *s = compile(schema);
  json_schema_errors errs;

  json_schema_errors_init(&errs);
  cr_assert_eq(run(s, "{\"c\":0,\"a\":1,\"b\":2}", &errs), 0);
  cr_assert_eq(run(s, "{\"a\":\"x\"}", &errs), -1);
  cr_assert_eq(errs.total, 3);
  assert_error(&errs, 0, "/a", "expected integer, got string");
  assert_error(&errs, 1, "", "missing required property \"b\"");
  assert_error(&errs, 2, "", "missing required property \"c\"");
  json_schema_errors_free(&errs);
  json_schema_free(s);
}

/* --- Paths --------------------------------------------------------------- */

#define ITEMS_SCHEMA                                                           \
  "{\"type\":\"object\",\"properties\":{\"items\":{\"type\":\"array\","        \
  "\"items\":{\"type\":\"object\",\"properties\":{\"name\":"                   \
  "{\"type\":\"string\"}},\"required\":[\"name\"]}}}}"

Test(json_schema_paths, nested_array_and_object_steps) {
  ONE_ERROR(ITEMS_SCHEMA,
            "{\"items\":[{\"name\":\"a\"},{\"name\":\"b\"},{\"name\":3}]}",
            "/items/2/name", "expected string, got number");
  ONE_ERROR(ITEMS_SCHEMA, "{\"items\":[{\"name\":\"a\"},{}]}", "/items/1",
            "missing required property \"name\"");
  ONE_ERROR(ITEMS_SCHEMA, "{\"items\":{}}", "/items",
            "expected array, got object");
}

Test(json_schema_paths, tilde_and_slash_are_escaped) {
  json_schema *s = compile("{\"properties\":{\"a/b\":{\"type\":\"string\"},"
                           "\"m~n\":{\"type\":\"string\"},"
                           "\"~/\":{\"type\":\"string\"},"
                           "\"\":{\"type\":\"string\"}}}");
  json_schema_errors errs;

  json_schema_errors_init(&errs);
  cr_assert_eq(run(s, "{\"a/b\":1,\"m~n\":2,\"~/\":3,\"\":4}", &errs), -1);
  cr_assert_eq(errs.total, 4);
  assert_error(&errs, 0, "/a~1b", "expected string, got number");
  assert_error(&errs, 1, "/m~0n", "expected string, got number");
  assert_error(&errs, 2, "/~0~1", "expected string, got number");
  assert_error(&errs, 3, "/", "expected string, got number");
  json_schema_errors_free(&errs);
  json_schema_free(s);
}

Test(json_schema_paths, multibyte_and_escaped_names_come_out_as_utf8) {
  ONE_ERROR("{\"properties\":{\"\\u00e9t\\u00e9\":{\"type\":\"integer\"}}}",
            "{\"\xc3\xa9t\xc3\xa9\":\"x\"}", "/\xc3\xa9t\xc3\xa9",
            "expected integer, got string");
}

Test(json_schema_paths, names_in_messages_are_quoted_escaped_and_cut) {
  char reply[1100], expect[160];
  json_schema *s = compile("{\"additionalProperties\":false}");
  json_schema_errors errs;

  json_schema_errors_init(&errs);
  cr_assert_eq(run(s, "{\"a\\n\\\"b\\\\\":1}", &errs), -1);
  assert_error(&errs, 0, "",
               "\"a\\u000a\\\"b\\\\\" is not allowed (additionalProperties)");

  /* a 1000-character name: the message shows 64, a path keeps it all */
  memset(reply, 'n', sizeof(reply));
  memcpy(reply, "{\"", 2);
  memcpy(reply + 1002, "\":1}", 5);
  cr_assert_eq(run(s, reply, &errs), -1);
  snprintf(expect, sizeof(expect),
           "\"%.64s...\" is not allowed "
           "(additionalProperties)",
           reply + 2);
  cr_assert_str_eq(errs.items[0].message, expect);
  json_schema_free(s);
  s = compile("{\"additionalProperties\":{\"type\":\"string\"}}");
  cr_assert_eq(run(s, reply, &errs), -1);
  cr_assert_eq(strlen(errs.items[0].path), 1001);
  cr_assert_eq(strspn(errs.items[0].path + 1, "n"), 1000);
  json_schema_errors_free(&errs);
  json_schema_free(s);
}

Test(json_schema_paths, anyof_errors_stay_at_the_value) {
  ONE_ERROR("{\"properties\":{\"v\":{\"anyOf\":[{\"type\":\"null\"},"
            "{\"items\":{\"type\":\"integer\"}}]}}}",
            "{\"v\":[1,\"x\"]}", "/v",
            "value does not match any schema in anyOf");
}

/* --- Error counts -------------------------------------------------------- */

Test(json_schema_errors, all_counted_sixteen_kept) {
  json_schema *s = compile("{\"items\":{\"type\":\"integer\"}}");
  json_schema_errors errs;
  buf b;
  int i;

  buf_init(&b, 0);
  cr_assert_eq(buf_puts(&b, "["), 0);
  for (i = 0; i < 100; i++)
    cr_assert_eq(buf_printf(&b, "%s\"%d\"", i ? "," : "", i), 0);
  cr_assert_eq(buf_puts(&b, "]"), 0);
  json_schema_errors_init(&errs);
  cr_assert_eq(run_len(s, b.data, b.len, &errs), -1);
  cr_assert_eq(errs.total, 100);
  cr_assert_eq(errs.count, JSON_SCHEMA_MAX_ERRORS);
  assert_error(&errs, 0, "/0", "expected integer, got string");
  assert_error(&errs, 15, "/15", "expected integer, got string");
  json_schema_errors_free(&errs);
  cr_assert_eq(errs.count, 0);
  cr_assert_eq(errs.total, 0);
  buf_free(&b);
  json_schema_free(s);
}

Test(json_schema_errors, reusing_errs_frees_the_old_ones) {
  json_schema *s = compile("{\"type\":\"string\"}");
  json_schema_errors errs;

  json_schema_errors_init(&errs);
  cr_assert_eq(run(s, "1", &errs), -1);
  cr_assert_eq(run(s, "2", &errs), -1);
  cr_assert_eq(errs.total, 1);
  cr_assert_eq(run(s, "\"ok\"", &errs), 0);
  cr_assert_eq(errs.total, 0);
  cr_assert_eq(errs.count, 0);
  json_schema_errors_free(&errs);
  json_schema_free(s);
}

Test(json_schema_errors, a_valid_document_can_keep_its_tree) {
  json_schema *s = compile("{\"type\":\"object\",\"required\":[\"a\"]}");
  static const char *const bad[] = {"{}", "[1]", "{\"a\":1", "", "\"\\u0000\""};
  json_schema_errors errs;
  cJSON *tree = (cJSON *)1;
  static const char good[] = " {\"a\":[1,2.5]} ";
  char *copy = fixture_exact_copy(good, strlen(good));

  json_schema_errors_init(&errs);
  cr_assert_eq(json_schema_validate_tree(s, copy, strlen(good), &errs, &tree),
               0);
  cr_assert_not_null(tree);
  cr_assert_eq(cJSON_GetArraySize(cJSON_GetObjectItem(tree, "a")), 2);
  cJSON_Delete(tree);
  free(copy);
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    tree = (cJSON *)1;
    copy = fixture_exact_copy(bad[i], strlen(bad[i]));
    cr_assert_eq(
        json_schema_validate_tree(s, copy, strlen(bad[i]), &errs, &tree), -1,
        "%s", bad[i]);
    cr_assert_null(tree, "no tree for %s", bad[i]);
    free(copy);
  }
  cr_assert_eq(json_schema_validate_tree(NULL, "{}", 2, &errs, &tree), -2);
  cr_assert_null(tree);
  json_schema_errors_free(&errs);
  json_schema_free(s);
}

Test(json_schema_errors, fixture_vote_reply_breaks_seven_rules) {
  size_t slen, rlen;
  char *schema = fixture_load("json_schema/vote.schema.json", &slen);
  char *reply = fixture_load("json_schema/vote_reply_invalid.json", &rlen);
  json_schema *s;
  json_schema_errors errs;

  s = compile_len(schema, slen);
  json_schema_errors_init(&errs);
  cr_assert_eq(run_len(s, reply, rlen, &errs), -1);
  cr_assert_eq(errs.total, 7);
  assert_error(&errs, 0, "/ranking/1", "value is not one of the enum");
  assert_error(&errs, 1, "/confidence", "1.5 is greater than maximum 1");
  assert_error(&errs, 2, "/flags/1/severity", "expected integer, got number");
  assert_error(&errs, 3, "/flags/1",
               "\"note\" is not allowed (additionalProperties)");
  assert_error(&errs, 4, "/flags/1", "missing required property \"reason\"");
  assert_error(&errs, 5, "/abstain",
               "value does not match any schema in anyOf");
  assert_error(&errs, 6, "",
               "\"comment\" is not allowed (additionalProperties)");
  json_schema_errors_free(&errs);
  json_schema_free(s);
  free(schema);
  free(reply);
}

/* --- Compile errors ------------------------------------------------------ */

Test(json_schema_compile, refuses_bad_json) {
  COMPILE_FAILS("", "schema is not usable JSON at byte 0: unexpected end of "
                    "input");
  COMPILE_FAILS("{", "schema is not usable JSON at byte 1: unexpected end of "
                     "input");
  COMPILE_FAILS("{} x", "schema is not usable JSON at byte 3: unexpected "
                        "data after the JSON value");
  COMPILE_FAILS("{\"type\":\"string\"}\0",
                "schema is not usable JSON at "
                "byte 17: unexpected data after the JSON value");
  COMPILE_FAILS("{\0}", "schema is not usable JSON at byte 1: expected a "
                        "property name");
  COMPILE_FAILS("{\"description\":\"\xff\"}", "schema is not valid UTF-8");
  COMPILE_FAILS("{\"const\":\"a\\u0000\"}",
                "schema is not usable JSON at "
                "byte 11: \\u0000 in a string is not supported");
}

Test(json_schema_compile, refuses_non_schemas) {
  COMPILE_FAILS("[]", "a schema must be an object or a boolean");
  COMPILE_FAILS("\"string\"", "a schema must be an object or a boolean");
  COMPILE_FAILS("null", "a schema must be an object or a boolean");
}

Test(json_schema_compile, refuses_bad_types) {
  COMPILE_FAILS("{\"type\":\"strin\"}", "/type: unknown type \"strin\"");
  COMPILE_FAILS("{\"type\":\"String\"}", "/type: unknown type \"String\"");
  COMPILE_FAILS("{\"type\":3}",
                "/type: must be a type name or a non-empty array of them");
  COMPILE_FAILS("{\"type\":[]}",
                "/type: must be a type name or a non-empty array of them");
  COMPILE_FAILS("{\"type\":[\"string\",1]}",
                "/type: must be a type name or a non-empty array of them");
  COMPILE_FAILS("{\"type\":[\"string\",\"any\"]}",
                "/type: unknown type \"any\"");
  COMPILE_FAILS("{\"type\":[\"string\",\"string\"]}",
                "/type: type \"string\" is listed twice");
}

/* A duplicate found after merge_props had already moved entries down (a
 * name in both properties and required, then a name defined twice) left
 * one property's schema in two entries, and the failed compile freed it
 * twice. Found by fuzz_schema_compile. */
Test(json_schema_compile, a_duplicate_after_a_merge_frees_each_schema_once) {
  COMPILE_FAILS("{\"properties\":{\"b\":{},\"c\":{\"type\":\"string\"},"
                "\"c\":{}},\"required\":[\"b\"]}",
                "property \"c\" is defined twice");
  COMPILE_FAILS("{\"properties\":{\"a\":{\"minimum\":1},\"b\":{\"items\":{}},"
                "\"c\":{}},\"required\":[\"a\",\"b\",\"c\",\"c\"]}",
                "required lists \"c\" twice");
}

Test(json_schema_compile, refuses_wrong_keyword_values) {
  COMPILE_FAILS("{\"properties\":[]}",
                "/properties: must be an object of schemas");
  COMPILE_FAILS("{\"properties\":{\"a\":3}}",
                "/properties/a: a schema must be an object or a boolean");
  COMPILE_FAILS("{\"properties\":{\"a\":{\"properties\":{\"b\":{\"type\":"
                "\"x\"}}}}}",
                "/properties/a/properties/b/type: unknown type \"x\"");
  COMPILE_FAILS("{\"properties\":{\"a\":{},\"a\":{}}}",
                "property \"a\" is defined twice");
  COMPILE_FAILS("{\"required\":\"a\"}",
                "/required: must be an array of property names");
  COMPILE_FAILS("{\"required\":[1]}",
                "/required: must be an array of property names");
  COMPILE_FAILS("{\"required\":[\"a\",\"b\",\"a\"]}",
                "required lists \"a\" twice");
  COMPILE_FAILS("{\"additionalProperties\":1}",
                "/additionalProperties: a schema must be an object or a "
                "boolean");
  COMPILE_FAILS("{\"items\":[{}]}",
                "/items: must be a schema (the array form is not supported)");
  COMPILE_FAILS("{\"items\":\"x\"}",
                "/items: a schema must be an object or a boolean");
  COMPILE_FAILS("{\"enum\":[]}", "/enum: must be a non-empty array");
  COMPILE_FAILS("{\"enum\":\"a\"}", "/enum: must be a non-empty array");
  COMPILE_FAILS("{\"anyOf\":[]}",
                "/anyOf: must be a non-empty array of schemas");
  COMPILE_FAILS("{\"anyOf\":[{},1]}",
                "/anyOf/1: a schema must be an object or a boolean");
  COMPILE_FAILS("{\"type\":\"string\",\"type\":\"number\"}",
                "/type: keyword appears twice");
}

Test(json_schema_compile, refuses_bad_bounds) {
  COMPILE_FAILS("{\"minItems\":-1}", "/minItems: must be a non-negative "
                                     "integer");
  COMPILE_FAILS("{\"maxItems\":\"3\"}", "/maxItems: must be a non-negative "
                                        "integer");
  COMPILE_FAILS("{\"minLength\":1.5}", "/minLength: must be a non-negative "
                                       "integer");
  COMPILE_FAILS("{\"maxLength\":1e400}", "/maxLength: must be a "
                                         "non-negative integer");
  COMPILE_FAILS("{\"maxLength\":null}", "/maxLength: must be a "
                                        "non-negative integer");
  COMPILE_FAILS("{\"minimum\":\"0\"}", "/minimum: must be a finite number");
  COMPILE_FAILS("{\"maximum\":-1e400}", "/maximum: must be a finite number");
  COMPILE_FAILS("{\"exclusiveMinimum\":true}",
                "/exclusiveMinimum: must be a number (the boolean form of "
                "draft 4 is not supported)");
  COMPILE_FAILS("{\"exclusiveMaximum\":[1]}",
                "/exclusiveMaximum: must be a finite number");
  COMPILE_FAILS("{\"minItems\":3,\"maxItems\":2}",
                "minItems is greater than maxItems");
  COMPILE_FAILS("{\"items\":{\"minLength\":3,\"maxLength\":2}}",
                "/items: minLength is greater than maxLength");
  COMPILE_FAILS("{\"minimum\":1,\"maximum\":0.5}",
                "minimum is greater than maximum");
}

Test(json_schema_compile, refuses_unsupported_and_unknown_keywords) {
  COMPILE_FAILS("{\"$ref\":\"#/$defs/a\"}",
                "/$ref: $ref is not supported (inline the schema it points "
                "to)");
  COMPILE_FAILS("{\"properties\":{\"a\":{\"pattern\":\"^a\"}}}",
                "/properties/a/pattern: pattern is not supported (no regular "
                "expression engine)");
  COMPILE_FAILS("{\"oneOf\":[{}]}", "/oneOf: keyword \"oneOf\" is not "
                                    "supported");
  COMPILE_FAILS("{\"uniqueItems\":true}",
                "/uniqueItems: keyword \"uniqueItems\" is not supported");
  COMPILE_FAILS("{\"minlength\":3}", "/minlength: unknown keyword "
                                     "\"minlength\"");
  COMPILE_FAILS("{\"x-vendor\":1}", "/x-vendor: unknown keyword "
                                    "\"x-vendor\"");
}

/* {"items":{"items": ... inner}}: `depth` objects deep in all. */
static char *nested_items_schema(int depth, const char *inner, size_t *len) {
  buf b;
  int i;

  buf_init(&b, 0);
  for (i = 1; i < depth; i++)
    cr_assert_eq(buf_puts(&b, "{\"items\":"), 0);
  cr_assert_eq(buf_puts(&b, inner), 0);
  for (i = 1; i < depth; i++)
    cr_assert_eq(buf_puts(&b, "}"), 0);
  return buf_detach(&b, len);
}

Test(json_schema_compile, nesting_limit_is_64) {
  size_t len;
  char *text = nested_items_schema(JSON_SCHEMA_MAX_DEPTH, "{}", &len);

  json_schema_free(compile_len(text, len));
  free(text);
  text = nested_items_schema(JSON_SCHEMA_MAX_DEPTH + 1, "{}", &len);
  compile_fails_len(text, len,
                    "schema is nested deeper than 64 levels "
                    "(at byte 576)");
  free(text);
  text = nested_items_schema(JSON_SCHEMA_MAX_DEPTH, "{\"const\":[1]}", &len);
  compile_fails_len(text, len,
                    "schema is nested deeper than 64 levels "
                    "(at byte 576)");
  free(text);
}

Test(json_schema_compile, deepest_schema_validates_with_a_full_path) {
  size_t len;
  char *text =
      nested_items_schema(JSON_SCHEMA_MAX_DEPTH, "{\"type\":\"string\"}", &len);
  json_schema *s = compile_len(text, len);
  json_schema_errors errs;
  buf reply, path;
  int i;

  buf_init(&reply, 0);
  buf_init(&path, 0);
  for (i = 1; i < JSON_SCHEMA_MAX_DEPTH; i++) {
    cr_assert_eq(buf_puts(&reply, "["), 0);
    cr_assert_eq(buf_puts(&path, "/0"), 0);
  }
  cr_assert_eq(buf_puts(&reply, "1"), 0);
  for (i = 1; i < JSON_SCHEMA_MAX_DEPTH; i++)
    cr_assert_eq(buf_puts(&reply, "]"), 0);
  json_schema_errors_init(&errs);
  cr_assert_eq(run_len(s, reply.data, reply.len, &errs), -1);
  assert_error(&errs, 0, path.data, "expected string, got number");
  json_schema_errors_free(&errs);
  json_schema_free(s);
  buf_free(&reply);
  buf_free(&path);
  free(text);
}

Test(json_schema_compile, why_is_optional_and_cut_to_its_size) {
  char why[12];

  cr_assert_null(json_schema_compile("{\"type\":\"strin\"}", 16, NULL, 0));
  cr_assert_null(
      json_schema_compile("{\"type\":\"strin\"}", 16, why, sizeof(why)));
  cr_assert_str_eq(why, "/type: unkn");
  cr_assert_null(json_schema_compile(NULL, 0, why, sizeof(why)));
  cr_assert_null(json_schema_compile(NULL, 5, why, sizeof(why)));
  json_schema_free(NULL);
}

Test(json_schema_compile, fixture_schema_compiles_and_fenced_reply_passes) {
  size_t slen, rlen;
  char *schema = fixture_load("json_schema/vote.schema.json", &slen);
  char *reply = fixture_load("json_schema/vote_reply_fenced.md", &rlen);
  char *copy;
  json_schema *s;
  json_schema_errors errs;

  s = compile_len(schema, slen);
  json_schema_errors_init(&errs);
  copy = fixture_exact_copy(reply, rlen);
  cr_assert_eq(json_schema_validate_reply(s, copy, rlen, &errs), 0, "%s",
               errs.count ? errs.items[0].message : "?");
  /* the whole text is not JSON */
  cr_assert_eq(json_schema_validate(s, copy, rlen, &errs), -1);
  cr_assert_str_eq(errs.items[0].message, "reply is not usable JSON at "
                                          "byte 0: unexpected character");
  json_schema_errors_free(&errs);
  json_schema_free(s);
  free(copy);
  free(schema);
  free(reply);
}

/* --- Hostile replies ----------------------------------------------------- */

Test(json_schema_hostile, not_json_is_one_error_at_the_root) {
  REPLY_REFUSED("", "reply is not usable JSON at byte 0: unexpected end of "
                    "input");
  REPLY_REFUSED(" \n\t", "reply is not usable JSON at byte 3: unexpected end "
                         "of input");
  REPLY_REFUSED("{\"a\":[1,2", "reply is not usable JSON at byte 9: "
                               "unexpected end of input");
  REPLY_REFUSED("{\"a\":\"b", "reply is not usable JSON at byte 7: "
                              "unterminated string");
  REPLY_REFUSED("Sure! {\"a\":1}", "reply is not usable JSON at byte 0: "
                                   "unexpected character");
  REPLY_REFUSED("{\"a\":1} trailing", "reply is not usable JSON at byte 8: "
                                      "unexpected data after the JSON value");
}

Test(json_schema_hostile, what_cjson_would_let_through_is_refused) {
  REPLY_REFUSED("01", "reply is not usable JSON at byte 1: unexpected data "
                      "after the JSON value");
  REPLY_REFUSED("1.", "reply is not usable JSON at byte 2: invalid number");
  REPLY_REFUSED(".5", "reply is not usable JSON at byte 0: unexpected "
                      "character");
  REPLY_REFUSED("-", "reply is not usable JSON at byte 1: invalid number");
  REPLY_REFUSED("+1", "reply is not usable JSON at byte 0: unexpected "
                      "character");
  REPLY_REFUSED("1e", "reply is not usable JSON at byte 2: invalid number");
  REPLY_REFUSED("NaN", "reply is not usable JSON at byte 0: unexpected "
                       "character");
  REPLY_REFUSED("-Infinity", "reply is not usable JSON at byte 1: invalid "
                             "number");
  REPLY_REFUSED("[1,]", "reply is not usable JSON at byte 3: unexpected "
                        "character");
  REPLY_REFUSED("{\"a\":1,}", "reply is not usable JSON at byte 7: expected "
                              "a property name");
  REPLY_REFUSED("{a:1}", "reply is not usable JSON at byte 1: expected a "
                         "property name");
  REPLY_REFUSED("{\"a\" 1}", "reply is not usable JSON at byte 5: expected "
                             "':'");
  REPLY_REFUSED("[1 2]", "reply is not usable JSON at byte 3: expected ',' "
                         "or ']'");
  REPLY_REFUSED("{\"a\":1 \"b\":2}", "reply is not usable JSON at byte 7: "
                                     "expected ',' or '}'");
  REPLY_REFUSED("[1}", "reply is not usable JSON at byte 2: expected ',' or "
                       "']'");
  REPLY_REFUSED("tru", "reply is not usable JSON at byte 0: invalid "
                       "literal");
  REPLY_REFUSED("nul", "reply is not usable JSON at byte 0: invalid "
                       "literal");
  REPLY_REFUSED("'a'", "reply is not usable JSON at byte 0: unexpected "
                       "character");
  REPLY_REFUSED("\"\t\"", "reply is not usable JSON at byte 1: control "
                          "character in string");
  REPLY_REFUSED("\"\\x\"", "reply is not usable JSON at byte 1: invalid "
                           "escape in string");
  REPLY_REFUSED("\"\\u12\"", "reply is not usable JSON at byte 1: invalid "
                             "\\u escape");
  REPLY_REFUSED("\"\\ud800\"", "reply is not usable JSON at byte 1: "
                               "unpaired surrogate in \\u escape");
  REPLY_REFUSED("\"\\ud800\\u0041\"", "reply is not usable JSON at byte 1: "
                                      "unpaired surrogate in \\u escape");
  REPLY_REFUSED("\"\\udc00\"", "reply is not usable JSON at byte 1: "
                               "unpaired surrogate in \\u escape");
  REPLY_REFUSED("\xef\xbb\xbf{}", "reply is not usable JSON at byte 0: "
                                  "unexpected character");
  REPLY_REFUSED("\f{}", "reply is not usable JSON at byte 0: unexpected "
                        "character");
}

Test(json_schema_hostile, nul_bytes) {
  REPLY_REFUSED("{\"a\":1}\0", "reply is not usable JSON at byte 7: "
                               "unexpected data after the JSON value");
  REPLY_REFUSED("\0{}", "reply is not usable JSON at byte 0: unexpected "
                        "character");
  REPLY_REFUSED("[1,\0 2]", "reply is not usable JSON at byte 3: unexpected "
                            "character");
  REPLY_REFUSED("\"a\0b\"", "reply is not usable JSON at byte 2: control "
                            "character in string");
  REPLY_REFUSED("{\"a\\u0000b\":1}", "reply is not usable JSON at byte 3: "
                                     "\\u0000 in a string is not supported");
}

Test(json_schema_hostile, invalid_utf8) {
  REPLY_REFUSED("\"\xff\"", "reply is not valid UTF-8");
  REPLY_REFUSED("\"\xc0\xaf\"", "reply is not valid UTF-8");     /* overlong */
  REPLY_REFUSED("\"\xed\xa0\x80\"", "reply is not valid UTF-8"); /* U+D800 */
  REPLY_REFUSED("\"\xf4\x90\x80\x80\"", "reply is not valid UTF-8");
  REPLY_REFUSED("\"\xe6\x97\"", "reply is not valid UTF-8"); /* cut short */
  REPLY_REFUSED("{\"\x80\":1}", "reply is not valid UTF-8");
  REPLY_REFUSED("\"ok\"\xe6", "reply is not valid UTF-8");
}

/* Validates `depth` nested arrays (or objects) against schema `{}`. */
static int validate_nested(int depth, int objects, json_schema_errors *errs) {
  json_schema *s = compile("{}");
  buf b;
  int i, rc;

  buf_init(&b, 0);
  for (i = 0; i < depth; i++)
    cr_assert_eq(buf_puts(&b, objects ? "{\"a\":" : "["), 0);
  cr_assert_eq(buf_puts(&b, "1"), 0);
  for (i = 0; i < depth; i++)
    cr_assert_eq(buf_puts(&b, objects ? "}" : "]"), 0);
  rc = run_len(s, b.data, b.len, errs);
  buf_free(&b);
  json_schema_free(s);
  return rc;
}

Test(json_schema_hostile, deep_nesting_is_capped_at_256) {
  json_schema_errors errs;
  json_schema *s;
  char *deep;

  json_schema_errors_init(&errs);
  cr_assert_eq(validate_nested(JSON_REPLY_MAX_DEPTH, 0, &errs), 0);
  cr_assert_eq(validate_nested(JSON_REPLY_MAX_DEPTH, 1, &errs), 0);
  cr_assert_eq(validate_nested(JSON_REPLY_MAX_DEPTH + 1, 0, &errs), -1);
  assert_error(&errs, 0, "",
               "reply is nested deeper than 256 levels (at "
               "byte 256)");
  cr_assert_eq(validate_nested(JSON_REPLY_MAX_DEPTH + 1, 1, &errs), -1);
  assert_error(&errs, 0, "",
               "reply is nested deeper than 256 levels (at "
               "byte 1280)");

  /* a megabyte of '[' costs a scan of 257 bytes, no recursion */
  deep = malloc(1 << 20);
  cr_assert_not_null(deep);
  memset(deep, '[', 1 << 20);
  s = compile("{\"type\":\"array\"}");
  cr_assert_eq(json_schema_validate(s, deep, 1 << 20, &errs), -1);
  cr_assert_eq(errs.total, 1);
  assert_error(&errs, 0, "",
               "reply is nested deeper than 256 levels (at "
               "byte 256)");
  json_schema_errors_free(&errs);
  json_schema_free(s);
  free(deep);
}

Test(json_schema_hostile, huge_and_long_numbers) {
  char digits[80];
  json_schema_errors errs;
  json_schema *s;

  ONE_ERROR("{\"type\":\"number\"}", "1e400", "", "number is out of range");
  ONE_ERROR("{\"type\":\"integer\"}", "-1e400", "", "number is out of range");
  ONE_ERROR("{\"maximum\":0}", "-1e400", "", "number is out of range");
  ONE_ERROR("{\"enum\":[1]}", "1e400", "", "number is out of range");
  ONE_ERROR("{\"properties\":{\"n\":{\"minimum\":0}}}", "{\"n\":1e999}", "/n",
            "number is out of range");

  s = compile("{}");
  json_schema_errors_init(&errs);
  cr_assert_eq(run(s, "[1e400,-1e400,1e-400]", &errs), 0);

  /* 63 characters is the longest number cJSON reads whole */
  memset(digits, '9', 64);
  cr_assert_eq(run_len(s, digits, 63, &errs), 0);
  cr_assert_eq(run_len(s, digits, 64, &errs), -1);
  assert_error(&errs, 0, "",
               "reply is not usable JSON at byte 0: number "
               "longer than 63 characters is not supported");
  memcpy(digits, "[0.", 3);
  memset(digits + 3, '1', 70);
  memcpy(digits + 73, "]", 2);
  cr_assert_eq(run(s, digits, &errs), -1);
  assert_error(&errs, 0, "",
               "reply is not usable JSON at byte 1: number "
               "longer than 63 characters is not supported");
  json_schema_errors_free(&errs);
  json_schema_free(s);

  ONE_ERROR("{\"type\":\"integer\",\"maximum\":1e300}", "1e301", "",
            "1e+301 is greater than maximum 1e+300");
}

/* {"k0":0,"k1":1,...}: n members, values from value(i). */
static char *wide_object(int n, int strings, size_t *len) {
  buf b;
  int i;

  buf_init(&b, 0);
  cr_assert_eq(buf_puts(&b, "{"), 0);
  for (i = 0; i < n; i++)
    cr_assert_eq(buf_printf(&b, strings ? "%s\"k%d\":\"%d\"" : "%s\"k%d\":%d",
                            i ? "," : "", i, i),
                 0);
  cr_assert_eq(buf_puts(&b, "}"), 0);
  return buf_detach(&b, len);
}

Test(json_schema_hostile, ten_thousand_members) {
  json_schema_errors errs;
  json_schema *s;
  size_t len, slen;
  char *reply = wide_object(10000, 0, &len), *sreply = NULL;
  buf schema;
  int i;

  json_schema_errors_init(&errs);
  s = compile("{\"additionalProperties\":{\"type\":\"integer\"}}");
  cr_assert_eq(run_len(s, reply, len, &errs), 0);
  json_schema_free(s);

  s = compile("{\"properties\":{\"k0\":{}},\"additionalProperties\":false}");
  cr_assert_eq(run_len(s, reply, len, &errs), -1);
  cr_assert_eq(errs.total, 9999);
  cr_assert_eq(errs.count, JSON_SCHEMA_MAX_ERRORS);
  assert_error(&errs, 0, "", "\"k1\" is not allowed (additionalProperties)");
  json_schema_free(s);

  s = compile("{\"enum\":[{\"k0\":0}],\"const\":{}}");
  cr_assert_eq(run_len(s, reply, len, &errs), -1);
  cr_assert_eq(errs.total, 2);
  json_schema_free(s);

  /* a schema with 10k properties, all required, and one member missing
   * or of the wrong type */
  buf_init(&schema, 0);
  cr_assert_eq(buf_puts(&schema, "{\"properties\":{"), 0);
  for (i = 0; i < 10000; i++)
    cr_assert_eq(buf_printf(&schema, "%s\"k%d\":{\"type\":\"integer\"}",
                            i ? "," : "", i),
                 0);
  cr_assert_eq(buf_puts(&schema, "},\"required\":["), 0);
  for (i = 0; i < 10000; i++)
    cr_assert_eq(buf_printf(&schema, "%s\"k%d\"", i ? "," : "", i), 0);
  cr_assert_eq(buf_puts(&schema, "],\"additionalProperties\":false}"), 0);
  s = compile_len(schema.data, schema.len);
  cr_assert_eq(run_len(s, reply, len, &errs), 0);
  free(sreply);
  sreply = wide_object(9999, 0, &slen);
  cr_assert_eq(run_len(s, sreply, slen, &errs), -1);
  cr_assert_eq(errs.total, 1);
  assert_error(&errs, 0, "", "missing required property \"k9999\"");
  free(sreply);
  sreply = wide_object(10000, 1, &slen);
  cr_assert_eq(run_len(s, sreply, slen, &errs), -1);
  cr_assert_eq(errs.total, 10000);
  assert_error(&errs, 3, "/k3", "expected integer, got string");
  json_schema_free(s);

  json_schema_errors_free(&errs);
  buf_free(&schema);
  free(reply);
  free(sreply);
}

Test(json_schema_hostile, duplicate_members_are_each_checked) {
  json_schema *s = compile("{\"properties\":{\"a\":{\"type\":\"integer\"}},"
                           "\"required\":[\"a\"]}");
  json_schema_errors errs;

  json_schema_errors_init(&errs);
  cr_assert_eq(run(s, "{\"a\":1,\"a\":2}", &errs), 0);
  cr_assert_eq(run(s, "{\"a\":1,\"a\":\"x\"}", &errs), -1);
  cr_assert_eq(errs.total, 1);
  assert_error(&errs, 0, "/a", "expected integer, got string");
  json_schema_errors_free(&errs);
  json_schema_free(s);
}

Test(json_schema_hostile, long_strings_count_code_points) {
  json_schema *s = compile("{\"maxLength\":100000}");
  json_schema_errors errs;
  size_t n = 100001 * 3 + 2, i;
  char *reply = malloc(n);

  cr_assert_not_null(reply);
  reply[0] = '"';
  for (i = 0; i < 100001; i++)
    memcpy(reply + 1 + 3 * i, "\xe2\x82\xac", 3); /* the euro sign */
  reply[n - 1] = '"';
  json_schema_errors_init(&errs);
  cr_assert_eq(run_len(s, reply, n, &errs), -1);
  assert_error(&errs, 0, "",
               "string is 100001 characters long, longer than "
               "maxLength 100000");
  cr_assert_eq(run_len(s, reply + 3, n - 3, &errs), -1); /* not at a quote */
  reply[3] = '"';
  cr_assert_eq(run_len(s, reply + 3, n - 3, &errs), 0);
  json_schema_errors_free(&errs);
  json_schema_free(s);
  free(reply);
}

/* --- json_strict directly ------------------------------------------------ */

Test(json_strict, scan_reports_where_a_value_ends) {
  size_t end = 0, at = 0;
  const char *err = NULL;
  const char *t = "xx {\"a\":[1,{}]}  tail";

  cr_assert_eq(json_strict_scan(t, strlen(t), 2, 8, &end, &at, &err), 0);
  cr_assert_eq(end, 15);
  cr_assert_eq(json_strict_scan(t, strlen(t), 0, 8, &end, &at, &err), -1);
  cr_assert_eq(at, 0);
  cr_assert_str_eq(err, "unexpected character");
  cr_assert_eq(json_strict_scan(t, strlen(t), 3, 1, &end, &at, &err), -1);
  cr_assert_eq(at, 8);
  cr_assert_str_eq(err, "nested too deeply");
  cr_assert_eq(json_strict_scan(t, 5, 99, 8, &end, &at, &err), -1);
  cr_assert_eq(json_strict_scan(NULL, 0, 0, 8, &end, &at, &err), -1);
  cr_assert_eq(
      json_strict_scan("\"\\ud83d\\ude00\" ", 15, 0, 8, &end, &at, &err), 0);
  cr_assert_eq(end, 14);
}

Test(json_strict, parse_gives_cjson_the_exact_value) {
  size_t at = 0;
  const char *err = NULL;
  char *copy = fixture_exact_copy(" [1, \"\\u00e9\", {\"k\": null}] \n", 29);
  cJSON *root = json_strict_parse(copy, 29, 8, &at, &err);

  cr_assert_not_null(root, "%s at %zu", err ? err : "?", at);
  cr_assert_eq(cJSON_GetArraySize(root), 3);
  cr_assert_str_eq(cJSON_GetArrayItem(root, 1)->valuestring, "\xc3\xa9");
  cr_assert(cJSON_IsNull(
      cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(root, 2), "k")));
  cJSON_Delete(root);
  free(copy);
}

/* --- Validating the JSON found in a reply ------------------------------ */

Test(json_schema_reply, validate_reply_reports_inside_the_fence) {
  json_schema *s = compile(ITEMS_SCHEMA);
  json_schema_errors errs;
  const char *reply =
      "Sure!\n```json\n{\"items\":[{\"name\":\"a\"},{\"name\":null}]}\n```\n";
  char *copy = fixture_exact_copy(reply, strlen(reply));

  json_schema_errors_init(&errs);
  cr_assert_eq(json_schema_validate_reply(s, copy, strlen(reply), &errs), -1);
  cr_assert_eq(errs.total, 1);
  assert_error(&errs, 0, "/items/1/name", "expected string, got null");
  free(copy);

  reply = "I could not produce JSON, sorry.";
  copy = fixture_exact_copy(reply, strlen(reply));
  cr_assert_eq(json_schema_validate_reply(s, copy, strlen(reply), &errs), -1);
  assert_error(&errs, 0, "",
               "reply is not usable JSON at byte 0: unexpected "
               "character");
  free(copy);

  reply = "```json\n{\"items\": [\n```";
  copy = fixture_exact_copy(reply, strlen(reply));
  cr_assert_eq(json_schema_validate_reply(s, copy, strlen(reply), &errs), -1);
  assert_error(&errs, 0, "",
               "reply is not usable JSON at byte 11: "
               "unexpected end of input");
  free(copy);

  cr_assert_eq(json_schema_validate_reply(s, NULL, 0, &errs), -1);
  assert_error(&errs, 0, "", "reply is not usable JSON at byte 0: no input");
  json_schema_errors_free(&errs);
  json_schema_free(s);
}

/* --- Failures that are not the reply's fault ----------------------------- */

static void *failing_malloc(size_t n) {
  (void)n;
  return NULL;
}

Test(json_schema_internal, out_of_memory_in_cjson_is_not_invalid_output) {
  cJSON_Hooks hooks = {.malloc_fn = failing_malloc, .free_fn = free};
  json_schema *s = compile("{\"type\":\"object\"}");
  json_schema_errors errs;
  char why[64];

  /* Criterion runs each test in its own process: the hooks stay here. */
  cJSON_InitHooks(&hooks);
  json_schema_errors_init(&errs);
  cr_assert_eq(run(s, "{\"a\":1}", &errs), -2);
  cr_assert_eq(errs.total, 1);
  assert_error(&errs, 0, "", "out of memory");
  cr_assert_null(json_schema_compile("{}", 2, why, sizeof(why)));
  cr_assert_str_eq(why, "out of memory");
  cJSON_InitHooks(NULL);
  cr_assert_eq(run(s, "{\"a\":1}", &errs), 0);
  json_schema_errors_free(&errs);
  json_schema_free(s);
}

Test(json_schema_internal, null_schema) {
  json_schema_errors errs;

  json_schema_errors_init(&errs);
  cr_assert_eq(json_schema_validate(NULL, "{}", 2, &errs), -2);
  assert_error(&errs, 0, "", "no schema");
  json_schema_errors_free(&errs);
}

/* --- Sharing: references and the source text ----------------------------- */

Test(json_schema_refs, each_reference_is_dropped_once_the_last_frees) {
  static const char text[] = "{\"type\":\"object\",\"required\":[\"a\"]}";
  json_schema *s = compile(text);
  json_schema_errors errs;

  cr_assert_eq(json_schema_ref(s), s);
  cr_assert_eq(json_schema_ref(s), s);
  json_schema_free(s);
  json_schema_free(s);
  /* One reference left: still whole (ASan would see a use after free). */
  json_schema_errors_init(&errs);
  cr_assert_eq(run(s, "{\"a\":1}", &errs), 0);
  cr_assert_str_eq(json_schema_text(s), text);
  json_schema_free(s);
  /* Freed now: LeakSanitizer would report anything left. */
  cr_assert_null(json_schema_ref(NULL));
  json_schema_free(NULL);
  cr_assert_null(json_schema_text(NULL));
}

Test(json_schema_refs, text_is_the_exact_source) {
  static const char text[] = " { \"type\" : \"string\" } ";
  char *copy = fixture_exact_copy(text, sizeof(text) - 1);
  json_schema *s = json_schema_compile(copy, sizeof(text) - 1, NULL, 0);

  free(copy); /* the schema keeps its own copy */
  cr_assert_not_null(s);
  cr_assert_str_eq(json_schema_text(s), text);
  json_schema_free(s);
}

/* References taken and dropped on several threads at once: the count
 * stays exact (a lost update would free early or leak). */
static void *ref_churn(void *arg) {
  json_schema *s = arg;

  for (int i = 0; i < 20000; i++)
    json_schema_free(json_schema_ref(s));
  return NULL;
}

Test(json_schema_refs, atomic_across_threads) {
  json_schema *s = compile("{\"type\":\"number\"}");
  pthread_t t[4];

  for (int i = 0; i < 4; i++)
    cr_assert_eq(pthread_create(&t[i], NULL, ref_churn, s), 0);
  for (int i = 0; i < 4; i++)
    pthread_join(t[i], NULL);
  cr_assert_str_eq(json_schema_text(s), "{\"type\":\"number\"}");
  json_schema_free(s);
}
