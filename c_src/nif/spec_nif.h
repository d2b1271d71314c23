/* spec_nif.h - the run spec map (built by CouncilEx.Engine) to rl_spec. */
#ifndef CX_SPEC_NIF_H
#define CX_SPEC_NIF_H

#include <erl_nif.h>

#include "round_loop.h"

/* Makes the atoms; call from the library's load. */
void spec_nif_load(ErlNifEnv *env);

/* Builds an rl_spec from the map, checked with rl_spec_check. Returns NULL
 * and a message in why on a malformed map. */
rl_spec *spec_nif_decode(ErlNifEnv *env, ERL_NIF_TERM map, char *why,
                         size_t why_len);

/* Term helpers shared with the other glue. A binary (or iodata) without
 * NUL bytes copied as a C string (nil gives NULL when allow_nil); a map's
 * binary field (missing or nil gives NULL when allow_nil); a map's integer
 * field (missing or nil gives dflt). 0, or -1 on a malformed term. */
int nif_copy_str(ErlNifEnv *env, ERL_NIF_TERM v, int allow_nil, char **out,
                 size_t *len);
int nif_get_str(ErlNifEnv *env, ERL_NIF_TERM map, ERL_NIF_TERM key,
                int allow_nil, char **out, size_t *len);
int nif_get_long(ErlNifEnv *env, ERL_NIF_TERM map, ERL_NIF_TERM key, long dflt,
                 long *out);

#endif
