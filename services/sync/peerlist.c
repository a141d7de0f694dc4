#include "sync/peerlist.h"

#include "store/ops_codec.h"

#include "store.pb.h"

#include <stdlib.h>
#include <string.h>

lt_err_t lt_peerlist_active(const uint8_t *body, size_t len, lt_pubkey_t **keys, size_t *n)
{
    *keys = NULL;
    *n = 0;
    lt_pb_input_t in = lt_pb_input(body, len);
    lt_pb_views_t views = {.in = &in};
    lattice_store_PeerList pl = lattice_store_PeerList_init_zero;
    lt_pb_bind_views(&pl.peers, &views);
    lt_err_t rc = lt_pb_decode_static(lattice_store_PeerList_fields, &pl, body, len);
    lt_pubkey_t *out = NULL;
    size_t count = 0;
    if (rc == LT_OK && views.n && !(out = malloc(views.n * sizeof *out)))
        rc = LT_ENOMEM;
    for (size_t i = 0; rc == LT_OK && i < views.n; i++) {
        lattice_store_PeerItem it = lattice_store_PeerItem_init_zero;
        rc = lt_pb_decode_static(lattice_store_PeerItem_fields, &it, views.v[i].p, views.v[i].len);
        if (rc == LT_OK && it.key.size != LT_KEY_LEN)
            rc = LT_EINVAL;
        if (rc == LT_OK && it.state == lattice_store_PeerState_PEER_STATE_ACTIVE)
            memcpy(out[count++].b, it.key.bytes, LT_KEY_LEN);
    }
    lt_pb_views_free(&views);
    if (rc == LT_EPAYLOAD)
        rc = LT_EINVAL;
    if (rc) {
        free(out);
        return rc;
    }
    *keys = out;
    *n = count;
    return LT_OK;
}
