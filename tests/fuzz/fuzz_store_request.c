/* Fuzz target: the store actor's request decoder (store_proto.h). The first
 * byte picks the message type (any value, known or not), the rest is the
 * body. A decoded request must only hold views inside the body, and what the
 * decoder promises (non-empty keys, the 32-byte hashes of Fetch and
 * ChainRead and their bounds, a witness seq of at least 1, no body for
 * WitnessWatch) must hold; nothing may crash or leak. */
#include "store/store_proto.h"

#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void s_check_view(const lt_view_t *v, const uint8_t *lo, const uint8_t *hi)
{
    if (v->len && (!v->p || v->p < lo || v->p + v->len > hi))
        abort();
    volatile uint8_t sink = 0;
    for (size_t i = 0; i < v->len; i++)
        sink ^= v->p[i];
    (void)sink;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    uint32_t type = data[0];
    const uint8_t *body = data + 1, *end = data + size;
    lt_store_req_t r;
    lt_errbuf_t eb;
    if (lt_store_req_decode(type, body, size - 1, &r, &eb) != LT_OK)
        return 0;
    s_check_view(&r.key, body, end);
    s_check_view(&r.value, body, end);
    for (size_t i = 0; i < r.nentries; i++) {
        if (r.entries[i].key.len == 0 || (r.entries[i].del && r.entries[i].value.len))
            abort();
        s_check_view(&r.entries[i].key, body, end);
        s_check_view(&r.entries[i].value, body, end);
    }
    for (size_t i = 0; i < r.nviews; i++)
        s_check_view(&r.views[i], body, end);
    if ((type == lattice_store_StoreMsgType_KV_PUT || type == lattice_store_StoreMsgType_KV_GET) &&
        r.key.len == 0)
        abort();
    if (type == lattice_store_StoreMsgType_FETCH || type == lattice_store_StoreMsgType_CHAIN_READ) {
        size_t max =
            type == lattice_store_StoreMsgType_FETCH ? LT_STORE_FETCH_MAX : LT_STORE_CHAIN_READ_MAX;
        if (r.nviews == 0 || r.nviews > max || !r.has_store)
            abort();
        for (size_t i = 0; i < r.nviews; i++)
            if (r.views[i].len != LT_HASH_LEN)
                abort();
    }
    if (type == lattice_store_StoreMsgType_WITNESS_WATCH && size != 1)
        abort(); /* takes no body */
    if ((type == lattice_store_StoreMsgType_SYNC_ITEMS ||
         type == lattice_store_StoreMsgType_CLONE_READ) &&
        r.num == 0)
        abort();
    lt_store_req_free(&r);
    return 0;
}
