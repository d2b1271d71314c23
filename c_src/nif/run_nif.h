/* run_nif.h - runs as NIF resources: the engine threads, the run resource
 * owned and monitored by its RunServer, and the run_* NIFs. */
#ifndef CX_RUN_NIF_H
#define CX_RUN_NIF_H

#include <stdint.h>

#include <erl_nif.h>

/* Opens the run resource type; on the library's first load (first) also
 * starts the engine threads, configured by info (#{engines => 1..16,
 * max_host_connections => N >= 0}, both optional). 0, or -1. */
int run_nif_load(ErlNifEnv *env, ERL_NIF_TERM info, int first);
/* Stops the engine threads (the library's last unload). */
void run_nif_unload(void);

/* The NIFs; their contracts are at their definitions in run_nif.c. */
ERL_NIF_TERM run_start_nif(ErlNifEnv *env, int argc, const ERL_NIF_TERM argv[]);
ERL_NIF_TERM run_cancel_nif(ErlNifEnv *env, int argc,
                            const ERL_NIF_TERM argv[]);
ERL_NIF_TERM run_reply_nif(ErlNifEnv *env, int argc, const ERL_NIF_TERM argv[]);
ERL_NIF_TERM run_tool_results_nif(ErlNifEnv *env, int argc,
                                  const ERL_NIF_TERM argv[]);
ERL_NIF_TERM run_answer_nif(ErlNifEnv *env, int argc,
                            const ERL_NIF_TERM argv[]);
ERL_NIF_TERM stats_nif(ErlNifEnv *env, int argc, const ERL_NIF_TERM argv[]);

/* The longest a NIF call held its normal scheduler (thread CPU time, µs)
 * and how many calls passed 1 ms, since load (council_nif.c). */
void nif_normal_times(uint64_t *max_us, uint64_t *over_1ms);

/* The rule's decisions since load, by NIF (council_nif.c): a map of NIF
 * name to the number of calls kept on a normal scheduler, or with dirty
 * set, moved to a dirty one. */
ERL_NIF_TERM nif_decisions(ErlNifEnv *env, int dirty);

#endif
