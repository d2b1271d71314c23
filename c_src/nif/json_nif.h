/* json_nif.h - CouncilEx.JSON: JSON to terms (parsed by cJSON) and terms to
 * JSON (written directly, so binaries with NUL bytes survive). */
#ifndef CX_JSON_NIF_H
#define CX_JSON_NIF_H

#include <erl_nif.h>

/* Creates the module's atoms; called from the library's load. 0 on success. */
int json_nif_load(ErlNifEnv *env);

/* json_decode(Binary, MaxDepth) -> {ok, Term} | {error, Reason} */
ERL_NIF_TERM json_nif_decode(ErlNifEnv *env, int argc,
                             const ERL_NIF_TERM argv[]);
/* json_encode(Term, MaxDepth) -> {ok, Binary} | {error, Reason} */
ERL_NIF_TERM json_nif_encode(ErlNifEnv *env, int argc,
                             const ERL_NIF_TERM argv[]);

#endif
