/* json_nif.h - CouncilEx.JSON: JSON to terms (read by json_strict, parsed
 * by cJSON) and terms to JSON (written through json_out, straight into a
 * binary, so binaries with NUL bytes survive). */
#ifndef CX_JSON_NIF_H
#define CX_JSON_NIF_H

#include <stddef.h>

#include <cJSON.h>
#include <erl_nif.h>

/* json_decode(Binary, MaxDepth) -> {ok, Term} | {error, Reason} */
ERL_NIF_TERM json_nif_decode(ErlNifEnv *env, int argc,
                             const ERL_NIF_TERM argv[]);
/* json_encode(Term, MaxDepth) -> {ok, Binary} | {error, Reason} */
ERL_NIF_TERM json_nif_encode(ErlNifEnv *env, int argc,
                             const ERL_NIF_TERM argv[]);

/* What CouncilEx.JSON.decode/1 returns for text[0..len), made from root:
 * the (non-NULL) tree that json_strict_parse, or cJSON after
 * json_strict_read, built from exactly that text. That is {ok, Term}, or
 * {error, Reason} with Reason {number_out_of_range, Offset} (cJSON read a
 * number as infinite) or out_of_memory; {invalid_json, Offset} only when
 * text is not root's. The text is read once more for what the tree does
 * not keep (integer or float, strings holding \u0000); root and text stay
 * the caller's, unchanged.
 *
 * Threads: any thread, once the library's load has made the atoms. env is
 * the calling NIF's env, or a process-independent env (enif_alloc_env)
 * only the calling thread uses, such as an engine thread's message env;
 * the term lives in env. It neither yields nor reschedules and costs about
 * what the parse did: on a normal scheduler, keep to texts json_nif_decode
 * would decode there (up to 16 KB and 1536 values). */
ERL_NIF_TERM json_nif_tree_to_term(ErlNifEnv *env, const cJSON *root,
                                   const char *text, size_t len);

#endif
