/* Reading and writing reconciliation messages (wire.h, schemas/sync.md). */
#include "sync/wire.h"

#include <string.h>

/* ---- reading ---- */

/* LEB128, at most 10 bytes, minimal: a final byte of 0 after other bytes is
 * refused, so that every value has one encoding. */
static lt_err_t s_get_varint(lt_sync_reader_t *r, uint64_t *v, const char *what, lt_errbuf_t *eb)
{
    uint64_t x = 0;
    for (int i = 0; i < 10; i++) {
        if (r->p >= r->end)
            return lt_fail(eb, LT_ETRUNCATED, "sync message: ends inside %s", what);
        uint8_t byte = *r->p++;
        if (i == 9 && byte > 1)
            return lt_fail(eb, LT_EINVAL, "sync message: %s overflows 64 bits", what);
        x |= (uint64_t)(byte & 0x7f) << (7 * i);
        if (!(byte & 0x80)) {
            if (byte == 0 && i > 0)
                return lt_fail(eb, LT_EINVAL, "sync message: %s is not minimally encoded", what);
            *v = x;
            return LT_OK;
        }
    }
    return lt_fail(eb, LT_EINVAL, "sync message: %s is longer than 10 bytes", what);
}

static lt_err_t s_get_bytes(lt_sync_reader_t *r, size_t n, const uint8_t **out, const char *what,
                            lt_errbuf_t *eb)
{
    if ((size_t)(r->end - r->p) < n)
        return lt_fail(eb, LT_ETRUNCATED, "sync message: ends inside %s", what);
    *out = r->p;
    r->p += n;
    return LT_OK;
}

/* A bound whose timestamp is a delta from base (0 = infinity, when allowed). */
static lt_err_t s_get_bound(lt_sync_reader_t *r, uint64_t base, bool inf_ok, lt_sync_bound_t *b,
                            lt_errbuf_t *eb)
{
    uint64_t v;
    lt_err_t rc = s_get_varint(r, &v, "a bound's timestamp", eb);
    if (rc)
        return rc;
    if (v == 0) {
        if (!inf_ok)
            return lt_fail(eb, LT_EINVAL, "sync message: a cont bound is infinity");
        lt_sync_bound_inf(b);
        return LT_OK;
    }
    if (v - 1 > LT_SYNC_TS_MAX - base)
        return lt_fail(eb, LT_EINVAL, "sync message: a bound's timestamp overflows");
    memset(b, 0, sizeof *b);
    b->ts = base + (v - 1);
    const uint8_t *len = NULL, *prefix = NULL;
    if ((rc = s_get_bytes(r, 1, &len, "a bound's prefix length", eb)))
        return rc;
    if (*len > LT_HASH_LEN)
        return lt_fail(eb, LT_EINVAL, "sync message: a bound's prefix is %u bytes, at most %d",
                       (unsigned)*len, LT_HASH_LEN);
    if ((rc = s_get_bytes(r, *len, &prefix, "a bound's prefix", eb)))
        return rc;
    b->len = *len;
    memcpy(b->prefix, prefix, *len);
    return LT_OK;
}

lt_err_t lt_sync_reader_init(lt_sync_reader_t *r, const uint8_t *msg, size_t len, lt_errbuf_t *eb)
{
    memset(r, 0, sizeof *r);
    if (len == 0 || !msg)
        return lt_fail(eb, LT_ETRUNCATED, "sync message: empty");
    if (msg[0] != LT_SYNC_VERSION)
        return lt_fail(eb, LT_EVERSION, "sync message: version %u, this node speaks %d",
                       (unsigned)msg[0], LT_SYNC_VERSION);
    r->p = msg + 1;
    r->end = msg + len;
    lt_sync_bound_zero(&r->lower);
    return LT_OK;
}

static lt_err_t s_get_ids(lt_sync_reader_t *r, lt_sync_range_t *out, size_t max, lt_errbuf_t *eb)
{
    uint64_t n;
    lt_err_t rc = s_get_varint(r, &n, "an id count", eb);
    if (rc)
        return rc;
    if (n > max)
        return lt_fail(eb, LT_EINVAL, "sync message: %llu ids in one id list, at most %zu",
                       (unsigned long long)n, max);
    if (n > (uint64_t)(r->end - r->p) / LT_HASH_LEN)
        return lt_fail(eb, LT_ETRUNCATED, "sync message: %llu ids announced, fewer follow",
                       (unsigned long long)n);
    out->n_ids = (size_t)n;
    return s_get_bytes(r, out->n_ids * LT_HASH_LEN, &out->ids, "an id list", eb);
}

static lt_err_t s_get_bitmap(lt_sync_reader_t *r, lt_sync_range_t *out, lt_errbuf_t *eb)
{
    uint64_t n;
    lt_err_t rc = s_get_varint(r, &n, "a bitmap length", eb);
    if (rc)
        return rc;
    if (n > LT_SYNC_MAX_IDLIST)
        return lt_fail(eb, LT_EINVAL, "sync message: a bitmap of %llu bits, at most %d",
                       (unsigned long long)n, LT_SYNC_MAX_IDLIST);
    out->n_bits = (size_t)n;
    size_t bytes = (out->n_bits + 7) / 8;
    if ((rc = s_get_bytes(r, bytes, &out->bitmap, "a bitmap", eb)))
        return rc;
    if (out->n_bits % 8 && (out->bitmap[bytes - 1] >> (out->n_bits % 8)))
        return lt_fail(eb, LT_EINVAL, "sync message: bitmap bits set past its length");
    return LT_OK;
}

lt_err_t lt_sync_reader_next(lt_sync_reader_t *r, lt_sync_range_t *out, bool *got, lt_errbuf_t *eb)
{
    *got = false;
    if (r->p >= r->end)
        return LT_OK;
    if (r->at_inf)
        return lt_fail(eb, LT_EINVAL, "sync message: a range follows the one ending at infinity");
    memset(out, 0, sizeof *out);
    out->lower = r->lower;
    lt_err_t rc = s_get_bound(r, r->prev_ts, true, &out->upper, eb);
    if (rc)
        return rc;
    if (lt_sync_bound_cmp(&out->upper, &r->lower) <= 0)
        return lt_fail(eb, LT_EINVAL, "sync message: ranges are not in ascending order");
    const uint8_t *mode = NULL;
    if ((rc = s_get_bytes(r, 1, &mode, "a range's mode", eb)))
        return rc;
    if (*mode >= LT_SYNC_MODE_COUNT)
        return lt_fail(eb, LT_EINVAL, "sync message: unknown range mode %u", (unsigned)*mode);
    out->mode = (lt_sync_mode_t)*mode;
    switch (out->mode) {
    case LT_SYNC_SKIP:
        break;
    case LT_SYNC_FINGERPRINT: {
        const uint8_t *fp = NULL;
        if ((rc = s_get_bytes(r, LT_SYNC_FP_LEN, &fp, "a fingerprint", eb)))
            return rc;
        memcpy(out->fp.b, fp, LT_SYNC_FP_LEN);
        break;
    }
    case LT_SYNC_IDLIST:
        if ((rc = s_get_ids(r, out, LT_SYNC_MAX_IDLIST, eb)))
            return rc;
        break;
    case LT_SYNC_IDRESP:
    case LT_SYNC_IDRESP_PART:
        if ((rc = s_get_ids(r, out, SIZE_MAX, eb)) || (rc = s_get_bitmap(r, out, eb)))
            return rc;
        if (out->mode == LT_SYNC_IDRESP_PART) {
            if ((rc = s_get_bound(r, out->lower.ts, false, &out->cont, eb)))
                return rc;
            if (lt_sync_bound_cmp(&out->cont, &out->lower) <= 0 ||
                lt_sync_bound_cmp(&out->cont, &out->upper) >= 0)
                return lt_fail(eb, LT_EINVAL, "sync message: cont bound outside its range");
        }
        break;
    default:
        return lt_fail(eb, LT_EINVAL, "sync message: unknown range mode %u", (unsigned)*mode);
    }
    if (lt_sync_bound_is_inf(&out->upper))
        r->at_inf = true;
    else
        r->prev_ts = out->upper.ts;
    r->lower = out->upper;
    *got = true;
    return LT_OK;
}

lt_err_t lt_sync_msg_check(const uint8_t *msg, size_t len, bool *needs_reply, lt_errbuf_t *eb)
{
    lt_sync_reader_t r;
    lt_err_t rc = lt_sync_reader_init(&r, msg, len, eb);
    if (rc)
        return rc;
    bool reply = false, got;
    lt_sync_range_t range;
    while ((rc = lt_sync_reader_next(&r, &range, &got, eb)) == LT_OK && got)
        reply |= range.mode == LT_SYNC_FINGERPRINT || range.mode == LT_SYNC_IDLIST ||
                 range.mode == LT_SYNC_IDRESP_PART;
    if (rc)
        return rc;
    if (needs_reply)
        *needs_reply = reply;
    return LT_OK;
}

/* ---- writing ---- */

size_t lt_sync_varint_len(uint64_t v)
{
    size_t n = 1;
    while (v >= 0x80) {
        v >>= 7;
        n++;
    }
    return n;
}

lt_err_t lt_sync_put_varint(lt_buf_t *b, uint64_t v)
{
    uint8_t tmp[10];
    size_t n = 0;
    do {
        uint8_t byte = v & 0x7f;
        v >>= 7;
        tmp[n++] = byte | (v ? 0x80 : 0);
    } while (v);
    return lt_buf_append(b, tmp, n);
}

size_t lt_sync_bound_len(uint64_t prev_ts, const lt_sync_bound_t *b)
{
    if (lt_sync_bound_is_inf(b))
        return 1;
    return lt_sync_varint_len(b->ts - prev_ts + 1) + 1 + b->len;
}

/* The bound as a delta from base; the caller ensures base <= b->ts. */
static lt_err_t s_put_bound(lt_buf_t *out, uint64_t base, const lt_sync_bound_t *b)
{
    if (lt_sync_bound_is_inf(b))
        return lt_sync_put_varint(out, 0);
    lt_err_t rc = lt_sync_put_varint(out, b->ts - base + 1);
    if (!rc)
        rc = lt_buf_put_u8(out, b->len);
    if (!rc)
        rc = lt_buf_append(out, b->prefix, b->len);
    return rc;
}

lt_err_t lt_sync_writer_begin(lt_sync_writer_t *w, lt_buf_t *out)
{
    w->out = out;
    w->prev_ts = 0;
    lt_buf_reset(out);
    return lt_buf_put_u8(out, LT_SYNC_VERSION);
}

lt_err_t lt_sync_write_head(lt_sync_writer_t *w, const lt_sync_bound_t *upper, lt_sync_mode_t mode)
{
    lt_err_t rc = s_put_bound(w->out, w->prev_ts, upper);
    if (!rc)
        rc = lt_buf_put_u8(w->out, (uint8_t)mode);
    if (!rc && !lt_sync_bound_is_inf(upper))
        w->prev_ts = upper->ts;
    return rc;
}

lt_err_t lt_sync_write_range(lt_sync_writer_t *w, const lt_sync_range_t *r)
{
    lt_err_t rc = lt_sync_write_head(w, &r->upper, r->mode);
    switch (r->mode) {
    case LT_SYNC_FINGERPRINT:
        if (!rc)
            rc = lt_buf_append(w->out, r->fp.b, LT_SYNC_FP_LEN);
        break;
    case LT_SYNC_IDLIST:
    case LT_SYNC_IDRESP:
    case LT_SYNC_IDRESP_PART:
        if (!rc)
            rc = lt_sync_put_varint(w->out, r->n_ids);
        if (!rc)
            rc = lt_buf_append(w->out, r->ids, r->n_ids * LT_HASH_LEN);
        if (r->mode == LT_SYNC_IDLIST)
            break;
        if (!rc)
            rc = lt_sync_put_varint(w->out, r->n_bits);
        if (!rc)
            rc = lt_buf_append(w->out, r->bitmap, (r->n_bits + 7) / 8);
        if (!rc && r->mode == LT_SYNC_IDRESP_PART)
            rc = s_put_bound(w->out, r->lower.ts, &r->cont);
        break;
    default:
        break;
    }
    return rc;
}
