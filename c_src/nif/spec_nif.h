/* spec_nif.h - the run spec map (built by CouncilEx.Plan) to an rl_spec,
 * and compiled output schemas as resources. */
#ifndef CX_SPEC_NIF_H
#define CX_SPEC_NIF_H

#include <erl_nif.h>

#include "round_loop.h"

/* Opens the schema resource type; call from the library's load. 0, or
 * -1. */
int spec_nif_load(ErlNifEnv *env);

/* Builds an rl_spec from the map (the contract is at the top of
 * spec_nif.c), checked with rl_spec_check. Returns NULL and a message in
 * why on a malformed map: an unknown or missing key, a value of the wrong
 * type, a size or index out of bounds. */
rl_spec *spec_nif_decode(ErlNifEnv *env, ERL_NIF_TERM map, char *why,
                         size_t why_len);

/* schema_compile(Json) -> {ok, Schema} | {error, Message}
 * Schema: a resource holding one reference to the compiled schema; a seat
 * naming it as output_schema takes its own. */
ERL_NIF_TERM schema_compile_nif(ErlNifEnv *env, int argc,
                                const ERL_NIF_TERM argv[]);

#endif
