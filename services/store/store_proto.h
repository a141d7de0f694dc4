/* The store service protocol (schemas/store.proto) in C: the strict decoder
 * of requests the store actor serves, and the nanopb helpers its replies and
 * its clients use.
 *
 * Large byte fields are nanopb callbacks bound to zero-copy views with the
 * helpers of ops_codec.h. Views live as long as the body. */
#ifndef LT_STORE_PROTO_H
#define LT_STORE_PROTO_H

#include "store/ops_codec.h"
#include "store/store.h"

#include "store.pb.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- requests ---- */

/* Fetch: the most hashes one request may ask for. */
#define LT_STORE_FETCH_MAX 4096
/* ChainRead: the most hashes one request may name. */
#define LT_STORE_CHAIN_READ_MAX 64
/* IngestedBatch: the most missing hashes one reply names. */
#define LT_STORE_MISSING_MAX 64
/* SyncItems: bytes of one record (wall_ms u64 LE | counter u32 LE | hash). */
#define LT_STORE_SYNC_ITEM_LEN (8 + 4 + LT_HASH_LEN)

/* A decoded request: the fields its type uses, flattened. Views point into
 * the body given to lt_store_req_decode. */
typedef struct {
    lattice_store_StoreMsgType type;
    bool has_store; /* every request but StoreCreate/StoreList/StoreResolve/NodeInfo/Unwatch */
    lt_store_id_t store;
    bool has_request_id; /* writes: optional */
    uint8_t request_id[LT_REQUEST_ID_LEN];
    lattice_store_StoreType store_type; /* StoreCreate, Joined: KV or LOG (DEFAULT: KV) */
    char name[257];                     /* StoreCreate, Joined: name; StoreResolve: query */
    bool has_parent;                    /* StoreCreate */
    lt_store_id_t parent;
    lt_view_t key;   /* KvPut/KvGet/KvDel/KvInspect: key (non-empty); KvList/KvWatch: prefix */
    lt_view_t value; /* KvPut: value; LogAppend: text; Ingest: signed intention */
    lt_kv_entry_t *entries; /* KvBatch (at least one; owned: lt_store_req_free) */
    lt_view_t *views;       /* IngestBatch: the signed intentions; Fetch, ChainRead: the
                               hashes, each LT_HASH_LEN bytes, 1..LT_STORE_FETCH_MAX (Fetch)
                               or 1..LT_STORE_CHAIN_READ_MAX (ChainRead) (owned array) */
    size_t nviews;
    size_t nentries;
    uint32_t verified;  /* IngestBatch: the first `verified` views were verified by the sender */
    bool quiet;         /* IngestBatch: not told to witness watches */
    uint64_t num;       /* LogRead: tail; History: limit; the Unwatch of KvUnwatch,
                           LogUnfollow, WitnessUnwatch: corr; ChainRead: max (0: no limit);
                           PeerInvite: ttl_ms (0: the default); CloneRead: from_seq (>= 1);
                           SyncItems: from_seq (>= 1: 0 in the body is made 1) */
    lt_hash_t hash;     /* Debug */
    lt_pubkey_t peer;   /* PeerRevoke; Joined: the inviter */
    uint8_t secret[32]; /* PeerJoin */
} lt_store_req_t;

/* Strictly decodes the body of a request of `type`. LT_EINVAL for an unknown
 * type, a body that does not decode, or a field of the wrong size or
 * missing, with the reason in eb (may be NULL). On success release with
 * lt_store_req_free; on failure nothing is held. */
LT_NODISCARD lt_err_t lt_store_req_decode(uint32_t type, const uint8_t *body, size_t len,
                                          lt_store_req_t *req, lt_errbuf_t *eb);
void lt_store_req_free(lt_store_req_t *req);

/* Whether requests of this type write (their replies wait for the commit and
 * they take a request id). */
bool lt_store_msg_is_write(uint32_t type);

/* Encodes an Error body. */
LT_NODISCARD lt_err_t lt_store_error_encode(const char *message, lt_buf_t *out);

#endif
