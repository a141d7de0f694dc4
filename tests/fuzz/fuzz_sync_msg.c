/* Fuzz target: reconciliation messages (services/sync/wire.h, recon.h).
 * Whatever the codec accepts must re-encode to exactly the same bytes; then
 * the same bytes go to three sessions over a small fixed set (a responder, a
 * responder under the smallest frame limit, and an initiator waiting for its
 * first answer), which must either answer or refuse with a decoding or
 * protocol error, and answer within their frame limit. */
#include "sync/recon.h"
#include "sync/wire.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define S_ITEMS 16

/* 16 items, two per timestamp (10, 10, 11, 11, ...), so that bounds with
 * hash prefixes matter; hashes from a fixed splitmix64 stream. */
static void s_items(lt_sync_item_t v[S_ITEMS])
{
    uint64_t s = 42;
    for (int i = 0; i < S_ITEMS; i++) {
        v[i].ts = 10 + (uint64_t)i / 2;
        for (int j = 0; j < 4; j++) {
            uint64_t z = (s += 0x9e3779b97f4a7c15ull);
            z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
            z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
            lt_put_u64le(v[i].hash.b + 8 * j, z ^ (z >> 31));
        }
    }
    for (int i = 0; i < S_ITEMS; i += 2) /* same timestamp: order by hash */
        if (memcmp(v[i].hash.b, v[i + 1].hash.b, LT_HASH_LEN) > 0) {
            lt_sync_item_t t = v[i];
            v[i] = v[i + 1];
            v[i + 1] = t;
        }
}

static void s_check_rc(lt_err_t rc)
{
    if (rc != LT_OK && rc != LT_EINVAL && rc != LT_ETRUNCATED && rc != LT_EVERSION)
        abort();
}

static void s_session(const lt_fpindex_t *x, uint32_t frame, bool initiate, const uint8_t *data,
                      size_t size)
{
    lt_recon_config_t cfg;
    lt_recon_config_default(&cfg);
    cfg.frame_limit = frame;
    lt_recon_t *r = NULL;
    if (lt_recon_new(x, &cfg, &r) != LT_OK)
        abort();
    lt_buf_t out = LT_BUF_INIT;
    if (initiate && lt_recon_initiate(r, &out) != LT_OK)
        abort();
    lt_err_t rc = lt_recon_receive(r, data, size, &out);
    s_check_rc(rc);
    if (rc == LT_OK) {
        if (frame && out.len > frame)
            abort();
        /* our own answer must read back */
        if (out.len && lt_sync_msg_check(out.data, out.len, NULL, NULL) != LT_OK)
            abort();
    } else if (lt_recon_state(r) != LT_RECON_FAILED || out.len) {
        abort();
    }
    lt_buf_free(&out);
    lt_recon_destroy(&r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    lt_errbuf_t eb;
    lt_err_t rc = lt_sync_msg_check(data, size, NULL, &eb);
    s_check_rc(rc);
    if (rc == LT_OK) {
        lt_sync_reader_t rd;
        lt_sync_writer_t w;
        lt_buf_t again = LT_BUF_INIT;
        if (lt_sync_reader_init(&rd, data, size, NULL) || lt_sync_writer_begin(&w, &again))
            abort();
        lt_sync_range_t range;
        bool got;
        while (lt_sync_reader_next(&rd, &range, &got, NULL) == LT_OK && got)
            if (lt_sync_write_range(&w, &range))
                abort();
        if (again.len != size || memcmp(again.data, data, size) != 0)
            abort();
        lt_buf_free(&again);
    }
    lt_sync_item_t v[S_ITEMS];
    s_items(v);
    lt_fpindex_t *x = lt_fpindex_new();
    if (!x || lt_fpindex_build(x, v, S_ITEMS) != LT_OK)
        abort();
    s_session(x, 0, false, data, size);
    s_session(x, LT_RECON_MIN_FRAME, false, data, size);
    s_session(x, 0, true, data, size);
    lt_fpindex_destroy(&x);
    return 0;
}
