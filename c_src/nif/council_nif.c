/* council_nif.c - the NIF library: load, upgrade, unload and the function
 * table. Logic lives in the pure C files; the glue beside this file
 * converts terms (atoms.c, terms.c), runs councils on the engine threads
 * (run_nif.c, events_nif.c, spec_nif.c) and wraps the aggregators and the
 * JSON codec (aggregate_nif.c, json_nif.c). */
#include <erl_nif.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include "aggregate_nif.h"
#include "atoms.h"
#include "json_nif.h"
#include "run_nif.h"
#include "spec_nif.h"
#include "terms.h"

static int library_refc; /* load/upgrade calls are serialized by ERTS */

static int load(ErlNifEnv *env, void **priv, ERL_NIF_TERM info) {
  (void)priv;
  atoms_load(env);
  if (spec_nif_load(env) != 0 ||
      run_nif_load(env, info, library_refc == 0) != 0)
    return -1;
  library_refc++;
  return 0;
}

static int upgrade(ErlNifEnv *env, void **priv, void **old_priv,
                   ERL_NIF_TERM info) {
  (void)old_priv;
  return load(env, priv, info);
}

static void unload(ErlNifEnv *env, void *priv) {
  (void)env;
  (void)priv;
  if (--library_refc == 0)
    run_nif_unload();
}

/* Scheduling. Every NIF starts on the calling (normal) scheduler and keeps
 * it under about a millisecond; past its limit it reschedules itself on a
 * dirty CPU scheduler, by one rule in two forms (terms.h). Measured first
 * (schedule_if_large): run_start past 128 KiB of spec to read (its every
 * binary, plus 16 bytes a term: nif_term_cost), run_reply,
 * run_tool_results and run_answer past 128 KiB of binaries to copy (an
 * answer, tool results, a custom round's texts); schema_compile past
 * 64 KiB of schema; ranking_parse past 8 KiB of text and labels (each
 * label or index counting one byte more). Measured while working (nif_finish):
 * aggregate past a work estimate of 0.25 ms (ballots, ordering items,
 * Condorcet's matrix), json_decode past 0.2 ms estimated from its size and then
 * its values, json_encode past 0.2 ms charged as it writes. What runs on the
 * engine threads is posted there and never blocks a scheduler. Names
 * mirror CouncilEx.Native. */

/* The rule's decisions, by NIF: how many calls it kept on their normal
 * scheduler and how many it moved to a dirty one, counted where it decides
 * (terms.c). Unlike the clock below, a count cannot change with the load
 * of the machine, so tests check these (load_test.exs) and `make bench`
 * reports the clock. The names are those given to the rule, as in
 * nif_funcs[]; the last slot counts any other. */
static const char *const ruled_nifs[] = {
    "run_start",  "run_reply",      "run_tool_results",
    "run_answer", "schema_compile", "ranking_parse",
    "aggregate",  "json_decode",    "json_encode"};
#define RULED NIF_COUNT(ruled_nifs)
static atomic_uint_fast64_t decisions[RULED + 1][2];

void nif_note_decision(const char *name, int dirty) {
  size_t i = 0;

  while (i < RULED && strcmp(ruled_nifs[i], name) != 0)
    i++;
  atomic_fetch_add_explicit(&decisions[i][dirty != 0], 1, memory_order_relaxed);
}

ERL_NIF_TERM nif_decisions(ErlNifEnv *env, int dirty) {
  ERL_NIF_TERM map = enif_make_new_map(env);

  for (size_t i = 0; i <= RULED; i++)
    enif_make_map_put(
        env, map, enif_make_atom(env, i < RULED ? ruled_nifs[i] : "other"),
        enif_make_uint64(env, atomic_load(&decisions[i][dirty != 0])), &map);
  return map;
}

/* How long each call holds its normal scheduler: the thread's CPU time from
 * entry until it returns or has rescheduled itself, so a busy machine's
 * preemptions do not count (but its contention for caches and memory
 * does: under load a call within its budget can pass 1 ms). stats/0
 * reports the longest and how many passed 1 ms; `make bench` prints them. */
static atomic_uint_fast64_t normal_max_ns, normal_over_1ms;

static uint64_t thread_cpu_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void note_normal(uint64_t ns) {
  uint_fast64_t max = atomic_load(&normal_max_ns);
  while (ns > max && !atomic_compare_exchange_weak(&normal_max_ns, &max, ns))
    ;
  if (ns > 1000000u)
    atomic_fetch_add(&normal_over_1ms, 1);
}

void nif_normal_times(uint64_t *max_us, uint64_t *over_1ms) {
  *max_us = atomic_load(&normal_max_ns) / 1000u;
  *over_1ms = atomic_load(&normal_over_1ms);
}

#define TIMED(fun)                                                             \
  static ERL_NIF_TERM fun##_timed(ErlNifEnv *env, int argc,                    \
                                  const ERL_NIF_TERM argv[]) {                 \
    uint64_t t0 = thread_cpu_ns();                                             \
    ERL_NIF_TERM result = fun(env, argc, argv);                                \
    note_normal(thread_cpu_ns() - t0);                                         \
    return result;                                                             \
  }
TIMED(json_nif_decode)
TIMED(json_nif_encode)
TIMED(run_start_nif)
TIMED(run_cancel_nif)
TIMED(run_reply_nif)
TIMED(run_tool_results_nif)
TIMED(run_answer_nif)
TIMED(schema_compile_nif)
TIMED(aggregate_nif_aggregate)
TIMED(aggregate_nif_ranking_parse)
TIMED(aggregate_nif_ranking_label)

static ErlNifFunc nif_funcs[] = {
    {"json_decode", 2, json_nif_decode_timed, 0},
    {"json_encode", 2, json_nif_encode_timed, 0},
    {"run_start", 2, run_start_nif_timed, 0},
    {"run_cancel", 1, run_cancel_nif_timed, 0},
    {"run_reply", 5, run_reply_nif_timed, 0},
    {"run_tool_results", 4, run_tool_results_nif_timed, 0},
    {"run_answer", 3, run_answer_nif_timed, 0},
    {"schema_compile", 1, schema_compile_nif_timed, 0},
    {"stats", 0, stats_nif, 0},
    {"enums", 0, enums_nif, 0},
    {"aggregate", 4, aggregate_nif_aggregate_timed, 0},
    {"ranking_parse", 3, aggregate_nif_ranking_parse_timed, 0},
    {"ranking_label", 1, aggregate_nif_ranking_label_timed, 0},
};

ERL_NIF_INIT(Elixir.CouncilEx.Native, nif_funcs, load, NULL, upgrade, unload)
