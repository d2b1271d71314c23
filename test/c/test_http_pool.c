/* test_http_pool.c - the pool of engine threads: bounds, round-robin
 * dealing, and a clean stop. */
#include <criterion/criterion.h>

#include "http_pool.h"

Test(http_pool, deals_round_robin_and_stops) {
  http_engine *a, *b;

  cr_assert_eq(http_pool_start(2, 4), 0);
  a = http_pool_next();
  b = http_pool_next();
  cr_assert_not_null(a);
  cr_assert_not_null(b);
  cr_assert_neq(a, b);
  cr_assert_eq(http_pool_next(), a);
  cr_assert_eq(http_pool_in_flight(), 0);
  http_pool_stop();
  cr_assert_null(http_pool_next());
  cr_assert_eq(http_pool_in_flight(), 0);
  http_pool_stop(); /* twice is harmless */
}

Test(http_pool, refuses_bad_sizes) {
  cr_assert_eq(http_pool_start(0, 0), -1);
  cr_assert_eq(http_pool_start(HTTP_POOL_MAX + 1, 0), -1);
  cr_assert_eq(http_pool_start(1, -1), -1);
  cr_assert_null(http_pool_next());
}
