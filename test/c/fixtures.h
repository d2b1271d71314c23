/* fixtures.h - loads test fixture files for the C unit tests. Paths are
 * relative to the repository root, where the tests run. */
#ifndef CX_TEST_FIXTURES_H
#define CX_TEST_FIXTURES_H

#include <stddef.h>
#include <stdint.h>

/* Reads test/fixtures/<name> whole. Returns a malloc'd buffer (the caller
 * frees it) with a NUL added after the *len bytes, or NULL when the file
 * can't be read. */
char *fixture_read(const char *name, size_t *len);

/* fixture_read that fails the test when the file can't be read: never
 * NULL. */
char *fixture_load(const char *name, size_t *len);

/* Copies s[0..len) into a malloc'd buffer of exactly len bytes (no NUL),
 * so AddressSanitizer catches any read past the end. Never NULL: it aborts
 * the test on out-of-memory. */
char *fixture_exact_copy(const char *s, size_t len);

/* n bytes of printable junk from a fixed xorshift, with '{', '[', '`',
 * quotes and newlines among them but no header words. Malloc'd, never
 * NULL (fails the test on out-of-memory). */
char *fixture_junk(size_t n, uint64_t seed);
/* fixture_junk(n) followed by tail; *len is the total. */
char *fixture_junk_then(size_t n, const char *tail, size_t *len);

struct chat_response;
/* Asserts r holds nothing: as chat_response_init leaves it. */
void assert_response_empty(const struct chat_response *r);

#endif
