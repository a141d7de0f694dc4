/* The store service protocol (schemas/store.proto) in C: the strict decoder
 * of requests the store actor serves, and the nanopb helpers its replies and
 * its clients use.
 *
 * Large byte fields are nanopb callbacks. On decode a callback records a
 * zero-copy view of the field inside the body and checks that the view lies
 * in that body (nanopb copies fields that arrive with a varint or fixed wire
 * type to its own stack: a view of that copy would dangle, so such a field is
 * malformed). Views live as long as the body. */
#ifndef LT_STORE_PROTO_H
#define LT_STORE_PROTO_H

#include "store/ops_codec.h"
#include "store/store.h"

#include "store.pb.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- nanopb helpers (shared with clients and tests) ---- */

/* The bytes a decode reads from: views must lie inside. */
typedef struct {
    uintptr_t lo, hi;
} lt_pb_input_t;

lt_pb_input_t lt_pb_input(const uint8_t *buf, size_t len);

/* Binds a bytes/string callback field for decoding into a view. `v` and `in`
 * must outlive the pb_decode call. A present field sets v->p (non-NULL even
 * when empty). */
typedef struct {
    lt_view_t *view;
    const lt_pb_input_t *in;
} lt_pb_view_arg_t;
void lt_pb_bind_view(pb_callback_t *cb, lt_pb_view_arg_t *arg);

/* Binds a repeated callback field for decoding: collects a view of each
 * element (a submessage's bytes, or a bytes value), in order. Free with
 * lt_pb_views_free. */
typedef struct {
    lt_view_t *v;
    size_t n, cap;
    const lt_pb_input_t *in;
} lt_pb_views_t;
void lt_pb_bind_views(pb_callback_t *cb, lt_pb_views_t *views);
void lt_pb_views_free(lt_pb_views_t *views);

/* Binds a bytes callback field for encoding from a view (not written when
 * empty, as proto3 does). */
void lt_pb_bind_write(pb_callback_t *cb, const lt_view_t *v);

/* Appends `msg` to out as field `field` (a length-delimited submessage):
 * builds a repeated field one element at a time, since a message is the
 * concatenation of its fields. */
LT_NODISCARD lt_err_t lt_pb_append_field(lt_buf_t *out, uint32_t field, const pb_msgdesc_t *fields,
                                         const void *msg);
/* Appends a bytes value as field `field` (repeated bytes, one at a time). */
LT_NODISCARD lt_err_t lt_pb_append_bytes(lt_buf_t *out, uint32_t field, const uint8_t *p,
                                         size_t len);

/* ---- requests ---- */

/* A decoded request: the fields its type uses, flattened. Views point into
 * the body given to lt_store_req_decode. */
typedef struct {
    lattice_store_StoreMsgType type;
    bool has_store; /* every request but StoreCreate/StoreList/StoreResolve/NodeInfo/Unwatch */
    lt_store_id_t store;
    bool has_request_id; /* writes: optional */
    uint8_t request_id[LT_REQUEST_ID_LEN];
    lattice_store_StoreType store_type; /* StoreCreate: KV or LOG (DEFAULT mapped to KV) */
    char name[257];                     /* StoreCreate: name; StoreResolve: query */
    bool has_parent;                    /* StoreCreate */
    lt_store_id_t parent;
    lt_view_t key;   /* KvPut/KvGet/KvDel/KvInspect: key (non-empty); KvList/KvWatch: prefix */
    lt_view_t value; /* KvPut: value; LogAppend: text; Ingest: signed intention */
    lt_kv_entry_t *entries; /* KvBatch (at least one; owned: lt_store_req_free) */
    size_t nentries;
    uint64_t num;   /* LogRead: tail; History: limit; KvUnwatch/LogUnfollow: corr */
    lt_hash_t hash; /* Debug */
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
