/* The active peers in a store service's PeerList reply (schemas/store.proto),
 * as the sync and gossip actors need them. */
#ifndef LT_SYNC_PEERLIST_H
#define LT_SYNC_PEERLIST_H

#include "weaver/errors.h"
#include "weaver/types.h"

#include <stddef.h>
#include <stdint.h>

/* Decodes body (a PeerList) strictly: *keys is a malloc'd array of the *n
 * keys whose state is active (NULL when none). LT_EINVAL for a body that
 * does not decode or a key that is not 32 bytes, LT_ENOMEM; nothing is held
 * on failure. */
LT_NODISCARD lt_err_t lt_peerlist_active(const uint8_t *body, size_t len, lt_pubkey_t **keys,
                                         size_t *n);

#endif
