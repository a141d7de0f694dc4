/* The system table of every store (DESIGN.md §6): peers, invites (hash of the
 * secret only), child store declarations, the store name and its peer
 * strategy. Each entry is a register of heads with the same semantics as a
 * KV key: the winner is the highest (HLC, author); a write cites the heads
 * it saw. Writes go into the pending transaction (lt_db_commit). */
#ifndef LT_SYSTEM_TABLE_H
#define LT_SYSTEM_TABLE_H

#include "store/store.h"

#include "ops.pb.h"

LT_NODISCARD lt_err_t lt_system_set_peer(lt_store_t *st, const lt_pubkey_t *peer,
                                         lattice_PeerStatus status, lt_hash_t *hash_out);
/* LT_ENOTFOUND for a key never written. */
LT_NODISCARD lt_err_t lt_system_get_peer(lt_store_t *st, const lt_pubkey_t *peer,
                                         lattice_PeerStatus *status);
typedef lt_err_t (*lt_system_peer_fn)(void *ctx, const lt_pubkey_t *peer,
                                      lattice_PeerStatus status);
LT_NODISCARD lt_err_t lt_system_list_peers(lt_store_t *st, lt_system_peer_fn fn, void *ctx);

/* Records an invite by the hash of its secret (see lt_invite_secret_hash). */
LT_NODISCARD lt_err_t lt_system_set_invite(lt_store_t *st, const lattice_InviteSet *invite,
                                           lt_hash_t *hash_out);
LT_NODISCARD lt_err_t lt_system_get_invite(lt_store_t *st, const lt_hash_t *secret_hash,
                                           lattice_InviteSet *out);
/* Every invite of the store (its winning state), in secret-hash order. */
typedef lt_err_t (*lt_system_invite_fn)(void *ctx, const lattice_InviteSet *invite);
LT_NODISCARD lt_err_t lt_system_list_invites(lt_store_t *st, lt_system_invite_fn fn, void *ctx);
void lt_invite_secret_hash(const uint8_t *secret, size_t len, lt_hash_t *out);

/* Child stores (DESIGN.md §6, §7): a store declares another one its child
 * (ChildSet, status active), and every node that holds the declaring store
 * holds the child too and lets it inherit its peers; a declaration whose
 * status becomes removed closes the child on those nodes (the store actor
 * does both: store_actor.h). */
LT_NODISCARD lt_err_t lt_system_set_child(lt_store_t *st, const lattice_ChildSet *child,
                                          lt_hash_t *hash_out);
/* The winning declaration of child `id` (LT_ENOTFOUND: never declared here). */
LT_NODISCARD lt_err_t lt_system_get_child(lt_store_t *st, const lt_store_id_t *id,
                                          lattice_ChildSet *out);
/* Every declaration of the store (its winning state, removed ones
 * included), in child-id order. */
typedef lt_err_t (*lt_system_child_fn)(void *ctx, const lattice_ChildSet *child);
LT_NODISCARD lt_err_t lt_system_list_children(lt_store_t *st, lt_system_child_fn fn, void *ctx);

LT_NODISCARD lt_err_t lt_system_set_name(lt_store_t *st, const char *name, lt_hash_t *hash_out);
/* LT_ENOTFOUND when the store has no name. */
LT_NODISCARD lt_err_t lt_system_get_name(lt_store_t *st, char *out, size_t outlen);
LT_NODISCARD lt_err_t lt_system_set_strategy(lt_store_t *st, lattice_PeerStrategy s,
                                             lt_hash_t *hash_out);
LT_NODISCARD lt_err_t lt_system_get_strategy(lt_store_t *st, lattice_PeerStrategy *out);

#endif
