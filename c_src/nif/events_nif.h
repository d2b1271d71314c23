/* events_nif.h - the round loop's events as the terms the owner receives
 * (shapes in events_nif.c). */
#ifndef CX_EVENTS_NIF_H
#define CX_EVENTS_NIF_H

#include <erl_nif.h>

#include "round_loop.h"

/* The event as a term in env (the run's message env, on the engine
 * thread). Allocates only terms in env. */
ERL_NIF_TERM events_make(ErlNifEnv *env, const rl_run *run, const rl_event *ev);

/* {call, Step, Index, Seat, Body, TimeoutMs}: an external seat's rendered
 * request (OpenAI-style JSON) and how long this attempt may take (the
 * transport's timeout_ms; 0: unbounded), answered with run_reply/5. */
ERL_NIF_TERM events_make_call(ErlNifEnv *env, const rl_call *call,
                              const http_request *req);

#endif
