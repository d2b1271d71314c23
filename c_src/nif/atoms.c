/* atoms.c - the glue's atom table (see atoms.h) and enums/0. */
#include "atoms.h"

#include "terms.h"

#define CX_ATOM_DEFINE(name) ERL_NIF_TERM am_##name;
#define CX_NAMED_ATOM_DEFINE(name, text) ERL_NIF_TERM am_##name;
CX_ATOMS(CX_ATOM_DEFINE)
CX_NAMED_ATOMS(CX_NAMED_ATOM_DEFINE)
#undef CX_ATOM_DEFINE
#undef CX_NAMED_ATOM_DEFINE

ERL_NIF_TERM ea_round_kind[RL_ROUND_COUNT], ea_order[RL_ORDER_COUNT],
    ea_aggregator[RL_AGG_COUNT], ea_tie[AGG_TIE_COUNT],
    ea_confidence[RL_CONF_COUNT], ea_error_kind[CHAT_ERROR_KIND_COUNT],
    ea_stop[CHAT_STOP_COUNT], ea_reason[CX_R_COUNT],
    ea_ballot_status[EA_BALLOT_STATUSES];

void atoms_load(ErlNifEnv *env) {
#define CX_ATOM_MAKE(name) am_##name = enif_make_atom(env, #name);
#define CX_NAMED_ATOM_MAKE(name, text) am_##name = enif_make_atom(env, text);
  CX_ATOMS(CX_ATOM_MAKE)
  CX_NAMED_ATOMS(CX_NAMED_ATOM_MAKE)
#undef CX_ATOM_MAKE
#undef CX_NAMED_ATOM_MAKE
#define CX_ROUND_KIND(e, name, flags, agg) ea_round_kind[e] = am(name);
#define CX_ORDER(e, name) ea_order[e] = am(name);
#define CX_AGGREGATOR(e, name, ballot) ea_aggregator[e] = am(name);
#define CX_TIE(e, name) ea_tie[e] = am(name);
#define CX_CONFIDENCE(e, name) ea_confidence[e] = am(name);
#define CX_ERROR_KIND(e, name) ea_error_kind[e] = am(name);
#define CX_STOP(e, name) ea_stop[e] = am(name);
#define CX_REASON(name, message) ea_reason[CX_R_##name] = am(name);
#define am(name) enif_make_atom(env, #name)
#include "enums.def"
#undef am
  for (int s = 0; s < EA_BALLOT_STATUSES; s++)
    ea_ballot_status[s] =
        enif_make_atom(env, agg_ballot_status_name((agg_ballot_status)s));
}

int atom_index(ERL_NIF_TERM v, const ERL_NIF_TERM *atoms, int n) {
  for (int i = 0; i < n; i++) {
    if (enif_is_identical(v, atoms[i]))
      return i;
  }
  return -1;
}

ERL_NIF_TERM enums_nif(ErlNifEnv *env, int argc, const ERL_NIF_TERM argv[]) {
  ERL_NIF_TERM limit_keys[] = {
#define CX_LIMIT(e, name, value) am(name),
#define am(name) enif_make_atom(env, #name)
#include "enums.def"
#undef am
  };
  ERL_NIF_TERM limit_vals[] = {
#define CX_LIMIT(e, name, value) enif_make_long(env, e),
#include "enums.def"
  };
  ERL_NIF_TERM keys[] = {am_round_kinds, am_orders,      am_ties,
                         am_aggregators, am_confidences, am_error_kinds,
                         am_stops,       am_reasons,     am_limits};
  ERL_NIF_TERM vals[] = {
      enif_make_list_from_array(env, ea_round_kind, RL_ROUND_COUNT),
      enif_make_list_from_array(env, ea_order, RL_ORDER_COUNT),
      enif_make_list_from_array(env, ea_tie, AGG_TIE_COUNT),
      enif_make_list_from_array(env, ea_aggregator, RL_AGG_COUNT),
      enif_make_list_from_array(env, ea_confidence, RL_CONF_COUNT),
      enif_make_list_from_array(env, ea_error_kind, CHAT_ERROR_KIND_COUNT),
      enif_make_list_from_array(env, ea_stop, CHAT_STOP_COUNT),
      enif_make_list_from_array(env, ea_reason, CX_R_COUNT),
      NIF_MAP(env, limit_keys, limit_vals)};
  (void)argc;
  (void)argv;

  return NIF_MAP(env, keys, vals);
}
