/* The decoders of liblattice-client: every reply body and event a node sends
 * a client (schemas/store.proto, schemas/kernel.proto), turned into the
 * public result structs of ipc/client.h. They are pure (bytes in, structs
 * out, no socket), so the fuzz target tests/fuzz/fuzz_client_reply.c drives
 * them directly and ipc/client.c only moves bytes.
 *
 * A reply is outside input and decoded strictly: every fixed-size field has
 * its exact size, byte fields are copied into owned NUL-terminated buffers
 * (len excludes the NUL), and a body that does not decode is LT_EINVAL with
 * eb (may be NULL) holding "malformed reply from store: ..." (or "from the
 * node", or "malformed event from store" for a stream's event). LT_ENOMEM
 * when a copy cannot be made.
 *
 * Ownership. On LT_OK the caller owns what the result holds and releases it
 * with the matching function of client.h (lt_client_free,
 * lt_client_items_free, lt_client_item_clear, lt_client_heads_free,
 * lt_client_log_entries_free, lt_client_event_clear,
 * lt_client_intention_clear). On failure the result holds nothing to
 * release (arrays are NULL and counts 0, structs are zeroed). */
#ifndef LT_CLIENT_DECODE_H
#define LT_CLIENT_DECODE_H

#include "ipc/client.h"
#include "store/ops_codec.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- the node (kernel.proto) ---- */

/* A NodeStatus (KERNEL_STATUS). Every service must have a name. */
LT_NODISCARD lt_err_t lt_client_decode_node_status(const uint8_t *body, size_t len,
                                                   lt_client_node_status_t *out, lt_errbuf_t *eb);
/* A ServiceList (KERNEL_SERVICES): services[] up to cap, *n = how many the
 * list has (may exceed cap). */
LT_NODISCARD lt_err_t lt_client_decode_services(const uint8_t *body, size_t len,
                                                lt_client_service_t *services, size_t cap,
                                                size_t *n, lt_errbuf_t *eb);
/* Leniently, from a NodeStatus: the node's pid and the pid of the service
 * named `service` (0 when absent). False when the body does not decode.
 * Used by the liveness probe of streams, which only compares pids. */
bool lt_client_decode_pids(const uint8_t *body, size_t len, const char *service, uint32_t *node_pid,
                           uint32_t *service_pid);

/* An Error body (store.proto's and kernel.proto's have the same shape): its
 * message into msg (NUL-terminated, truncated to cap). True when there is a
 * non-empty message. */
bool lt_client_decode_error(const uint8_t *body, size_t len, char *msg, size_t cap);

/* ---- stores ---- */

/* A StoreCreated (STORE_CREATE): the new store's id. */
LT_NODISCARD lt_err_t lt_client_decode_store_created(const uint8_t *body, size_t len,
                                                     lt_client_store_id_t *out, lt_errbuf_t *eb);
/* A StoreRef (STORE_RESOLVE): the resolved store's id. */
LT_NODISCARD lt_err_t lt_client_decode_store_ref(const uint8_t *body, size_t len,
                                                 lt_client_store_id_t *out, lt_errbuf_t *eb);
/* A StoreList (STORE_LIST): *out is an array of *n stores (NULL when none). */
LT_NODISCARD lt_err_t lt_client_decode_store_list(const uint8_t *body, size_t len,
                                                  lt_client_store_t **out, size_t *n,
                                                  lt_errbuf_t *eb);
/* A StoreInfo (STORE_INFO). */
LT_NODISCARD lt_err_t lt_client_decode_store_info(const uint8_t *body, size_t len,
                                                  lt_client_store_info_t *out, lt_errbuf_t *eb);

/* A StoreVerified (STORE_VERIFY). */
LT_NODISCARD lt_err_t lt_client_decode_store_verified(const uint8_t *body, size_t len,
                                                      uint64_t *records, lt_errbuf_t *eb);

/* ---- core:kvstore and core:logstore ---- */

/* A Written (every write): the intention's hash (hash may be NULL). */
LT_NODISCARD lt_err_t lt_client_decode_written(const uint8_t *body, size_t len,
                                               lt_client_hash_t *hash, lt_errbuf_t *eb);
/* A KvItem (KV_GET): the key is never empty. */
LT_NODISCARD lt_err_t lt_client_decode_item(const uint8_t *body, size_t len, lt_client_item_t *out,
                                            lt_errbuf_t *eb);
/* A KvList (KV_LIST): *out is an array of *n items (NULL when none). */
LT_NODISCARD lt_err_t lt_client_decode_items(const uint8_t *body, size_t len,
                                             lt_client_item_t **out, size_t *n, lt_errbuf_t *eb);
/* A KvHeads (KV_INSPECT) answering for `key` (key_len >= 1): the heads must
 * be of that key, and there is at least one. */
LT_NODISCARD lt_err_t lt_client_decode_heads(const uint8_t *body, size_t len, const void *key,
                                             size_t key_len, lt_client_head_t **out, size_t *n,
                                             lt_errbuf_t *eb);
/* A LogEntries (LOG_READ) answering for `tail` (0: all): at most tail
 * entries. *out is an array of *n entries (NULL when none). */
LT_NODISCARD lt_err_t lt_client_decode_log_entries(const uint8_t *body, size_t len, uint64_t tail,
                                                   lt_client_log_entry_t **out, size_t *n,
                                                   lt_errbuf_t *eb);

/* An event of type `type` (a StoreMsgType) on a stream of kind `kind`
 * (lt_client_event_kind_t): a KvChange on a watch, a LogItem with its store
 * on a follow; any other pairing is malformed. Fills everything but
 * out->stream, which the caller knows. */
LT_NODISCARD lt_err_t lt_client_decode_event(uint32_t type, int kind, const uint8_t *body,
                                             size_t len, lt_client_event_t *out, lt_errbuf_t *eb);

/* ---- intentions ---- */

/* A HistoryList (HISTORY) answering for `limit` (0: any number): at most
 * limit items. *out is an array of *n items (NULL when none; free with
 * lt_client_free). */
LT_NODISCARD lt_err_t lt_client_decode_history(const uint8_t *body, size_t len, uint32_t limit,
                                               lt_client_history_item_t **out, size_t *n,
                                               lt_errbuf_t *eb);
/* A DebugIntention (DEBUG) answering for `hash`: it must be that
 * intention. Leaves out->store_type 0 (the reply does not say it). */
LT_NODISCARD lt_err_t lt_client_decode_intention(const uint8_t *body, size_t len,
                                                 const lt_client_hash_t *hash,
                                                 lt_client_intention_t *out, lt_errbuf_t *eb);

/* ---- peers ---- */

/* An Invited (PEER_INVITE): the secret (32 bytes) and the expiry into inv. */
LT_NODISCARD lt_err_t lt_client_decode_invited(const uint8_t *body, size_t len,
                                               lt_client_invite_t *inv, lt_errbuf_t *eb);
/* A PeerList (PEER_LIST): *out is an array of *n peers (NULL when none). */
LT_NODISCARD lt_err_t lt_client_decode_peer_list(const uint8_t *body, size_t len,
                                                 lt_client_peer_t **out, size_t *n,
                                                 lt_errbuf_t *eb);

/* A SyncReport (the sync service's SYNC_NOW): *out is an array of *n
 * reports (NULL when none). */
LT_NODISCARD lt_err_t lt_client_decode_sync_report(const uint8_t *body, size_t len,
                                                   lt_client_sync_peer_t **out, size_t *n,
                                                   lt_errbuf_t *eb);

#endif
