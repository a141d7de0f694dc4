/* The reconciliation message codec (services/sync/wire.h, schemas/sync.md):
 * a hand-assembled message decodes to what the format says, what the writer
 * writes reads back byte for byte, and every kind of malformed input is
 * refused with an error: truncation anywhere, bad varints, bounds out of
 * order, absurd counts, stray bits, a wrong version. */
#include "sync/wire.h"

#include <criterion/criterion.h>
#include <string.h>

typedef struct {
    uint8_t b[4096];
    size_t n;
} bytes_t;

static void put(bytes_t *m, const void *p, size_t n)
{
    cr_assert_leq(m->n + n, sizeof m->b);
    if (n)
        memcpy(m->b + m->n, p, n);
    m->n += n;
}

static void put_u8(bytes_t *m, uint8_t v)
{
    put(m, &v, 1);
}

static void put_varint(bytes_t *m, uint64_t v)
{
    do {
        put_u8(m, (uint8_t)((v & 0x7f) | (v >= 0x80 ? 0x80 : 0)));
        v >>= 7;
    } while (v);
}

/* A bound: timestamp delta (+1) from the previous bound, prefix. */
static void put_bound(bytes_t *m, uint64_t delta, const uint8_t *prefix, uint8_t len)
{
    put_varint(m, delta + 1);
    put_u8(m, len);
    put(m, prefix, len);
}

static void put_id(bytes_t *m, uint8_t fill)
{
    uint8_t id[32];
    memset(id, fill, sizeof id);
    put(m, id, sizeof id);
}

/* Reads a whole message, returning the first error or LT_OK; *n ranges. */
static lt_err_t read_all(const uint8_t *p, size_t len, lt_sync_range_t *out, size_t cap, size_t *n)
{
    lt_sync_reader_t r;
    lt_errbuf_t eb = {{0}};
    *n = 0;
    lt_err_t rc = lt_sync_reader_init(&r, p, len, &eb);
    if (rc)
        return rc;
    lt_sync_range_t tmp;
    bool got;
    while ((rc = lt_sync_reader_next(&r, *n < cap ? &out[*n] : &tmp, &got, &eb)) == LT_OK && got)
        (*n)++;
    if (rc)
        cr_assert(eb.msg[0], "an error comes with a message");
    return rc;
}

/* A message with one range of every mode:
 *   [0, (1000, ""))          FINGERPRINT 0x11 x 16
 *   [.., (1005, ab cd))      IDLIST 2 ids (0x01.., 0x02..)
 *   [.., (1005, ab ce 07))   IDRESP 1 id (0x03..), 3 bits 0b101
 *   [.., (2000, ""))         IDRESP_PART 1 id (0x04..), 2 bits 0b10, cont (1500, 42)
 *   [.., (2001, ""))         SKIP
 *   [.., infinity)           IDLIST 0 ids */
static void golden(bytes_t *m)
{
    static const uint8_t p1[] = {0xab, 0xcd}, p2[] = {0xab, 0xce, 0x07}, p3[] = {0x42};
    uint8_t fp[16];
    memset(fp, 0x11, sizeof fp);
    m->n = 0;
    put_u8(m, LT_SYNC_VERSION);
    put_bound(m, 1000, NULL, 0);
    put_u8(m, LT_SYNC_FINGERPRINT);
    put(m, fp, 16);
    put_bound(m, 5, p1, 2);
    put_u8(m, LT_SYNC_IDLIST);
    put_varint(m, 2);
    put_id(m, 1);
    put_id(m, 2);
    put_bound(m, 0, p2, 3);
    put_u8(m, LT_SYNC_IDRESP);
    put_varint(m, 1);
    put_id(m, 3);
    put_varint(m, 3);
    put_u8(m, 0x05);
    put_bound(m, 995, NULL, 0);
    put_u8(m, LT_SYNC_IDRESP_PART);
    put_varint(m, 1);
    put_id(m, 4);
    put_varint(m, 2);
    put_u8(m, 0x02);
    put_bound(m, 1500 - 1005, p3, 1); /* cont: a delta from the range's lower bound */
    put_bound(m, 1, NULL, 0);
    put_u8(m, LT_SYNC_SKIP);
    put_varint(m, 0); /* infinity */
    put_u8(m, LT_SYNC_IDLIST);
    put_varint(m, 0);
}

Test(sync_wire, a_hand_assembled_message_reads_as_the_format_says)
{
    bytes_t m;
    golden(&m);
    lt_sync_range_t r[8];
    size_t n;
    cr_assert_eq(read_all(m.b, m.n, r, 8, &n), LT_OK);
    cr_assert_eq(n, 6);
    cr_assert_eq(r[0].mode, LT_SYNC_FINGERPRINT);
    cr_assert_eq(r[0].upper.ts, 1000);
    cr_assert_eq(r[0].upper.len, 0);
    cr_assert_eq(r[0].fp.b[15], 0x11);
    cr_assert_eq(r[1].mode, LT_SYNC_IDLIST);
    cr_assert_eq(r[1].upper.ts, 1005);
    cr_assert_eq(r[1].upper.len, 2);
    cr_assert_eq(r[1].upper.prefix[1], 0xcd);
    cr_assert_eq(r[1].n_ids, 2);
    cr_assert_eq(r[1].ids[32], 2);
    cr_assert_eq(r[1].lower.ts, 1000);
    cr_assert_eq(r[2].mode, LT_SYNC_IDRESP);
    cr_assert_eq(r[2].upper.ts, 1005);
    cr_assert_eq(r[2].n_ids, 1);
    cr_assert_eq(r[2].n_bits, 3);
    cr_assert_eq(r[2].bitmap[0], 0x05);
    cr_assert_eq(r[3].mode, LT_SYNC_IDRESP_PART);
    cr_assert_eq(r[3].upper.ts, 2000);
    cr_assert_eq(r[3].cont.ts, 1500);
    cr_assert_eq(r[3].cont.prefix[0], 0x42);
    cr_assert_eq(r[4].mode, LT_SYNC_SKIP);
    cr_assert_eq(r[4].upper.ts, 2001);
    cr_assert_eq(r[5].mode, LT_SYNC_IDLIST);
    cr_assert(lt_sync_bound_is_inf(&r[5].upper));
    bool reply = false;
    lt_errbuf_t eb = {{0}};
    cr_assert_eq(lt_sync_msg_check(m.b, m.n, &reply, &eb), LT_OK);
    cr_assert(reply);
}

Test(sync_wire, what_the_writer_writes_reads_back_byte_for_byte)
{
    bytes_t m;
    golden(&m);
    lt_sync_range_t r[8];
    size_t n;
    cr_assert_eq(read_all(m.b, m.n, r, 8, &n), LT_OK);
    lt_buf_t out = LT_BUF_INIT;
    lt_sync_writer_t w;
    cr_assert_eq(lt_sync_writer_begin(&w, &out), LT_OK);
    for (size_t i = 0; i < n; i++)
        cr_assert_eq(lt_sync_write_range(&w, &r[i]), LT_OK);
    cr_assert_eq(out.len, m.n);
    cr_assert(memcmp(out.data, m.b, m.n) == 0);
    lt_buf_free(&out);
}

Test(sync_wire, a_message_of_only_the_version_is_final_and_empty)
{
    uint8_t v = LT_SYNC_VERSION;
    bool reply = true;
    lt_errbuf_t eb = {{0}};
    cr_assert_eq(lt_sync_msg_check(&v, 1, &reply, &eb), LT_OK);
    cr_assert_not(reply);
}

Test(sync_wire, empty_input_and_a_wrong_version_are_refused)
{
    uint8_t v[2] = {LT_SYNC_VERSION + 1, 0};
    lt_errbuf_t eb = {{0}};
    cr_assert_eq(lt_sync_msg_check(v, 0, NULL, &eb), LT_ETRUNCATED);
    cr_assert_eq(lt_sync_msg_check(NULL, 0, NULL, &eb), LT_ETRUNCATED);
    cr_assert_eq(lt_sync_msg_check(v, 2, NULL, &eb), LT_EVERSION);
    v[0] = 0x61; /* Negentropy's version byte */
    cr_assert_eq(lt_sync_msg_check(v, 1, NULL, &eb), LT_EVERSION);
}

Test(sync_wire, every_truncation_is_refused_or_ends_at_a_range_boundary)
{
    bytes_t m;
    golden(&m);
    /* the offsets where a range ends */
    size_t ends[8], n_ends = 0;
    {
        lt_sync_reader_t r;
        lt_errbuf_t eb = {{0}};
        cr_assert_eq(lt_sync_reader_init(&r, m.b, m.n, &eb), LT_OK);
        ends[n_ends++] = 1;
        lt_sync_range_t x;
        bool got;
        while (lt_sync_reader_next(&r, &x, &got, &eb) == LT_OK && got)
            ends[n_ends++] = (size_t)(r.p - m.b);
    }
    for (size_t len = 1; len < m.n; len++) {
        lt_errbuf_t eb = {{0}};
        bool boundary = false;
        for (size_t i = 0; i < n_ends; i++)
            boundary |= ends[i] == len;
        lt_err_t rc = lt_sync_msg_check(m.b, len, NULL, &eb);
        cr_assert_eq(rc, boundary ? LT_OK : LT_ETRUNCATED, "prefix of %zu bytes: %s", len,
                     lt_errname(rc));
    }
}

static lt_err_t check(const bytes_t *m)
{
    lt_errbuf_t eb = {{0}};
    lt_err_t rc = lt_sync_msg_check(m->b, m->n, NULL, &eb);
    if (rc)
        cr_assert(eb.msg[0]);
    return rc;
}

Test(sync_wire, bad_varints_are_refused)
{
    bytes_t m = {.n = 0};
    put_u8(&m, LT_SYNC_VERSION);
    put_u8(&m, 0x81); /* 1, not minimally encoded */
    put_u8(&m, 0x00);
    put_u8(&m, 0);
    put_u8(&m, LT_SYNC_SKIP);
    cr_assert_eq(check(&m), LT_EINVAL);

    m.n = 1; /* eleven bytes */
    for (int i = 0; i < 10; i++)
        put_u8(&m, 0xff);
    put_u8(&m, 0x01);
    cr_assert_eq(check(&m), LT_EINVAL);

    m.n = 1; /* past 64 bits in the tenth byte */
    for (int i = 0; i < 9; i++)
        put_u8(&m, 0xff);
    put_u8(&m, 0x02);
    cr_assert_eq(check(&m), LT_EINVAL);

    m.n = 1; /* 2^64 - 1 encoded: the largest timestamp, allowed */
    for (int i = 0; i < 9; i++)
        put_u8(&m, 0xff);
    put_u8(&m, 0x01);
    put_u8(&m, 0);
    put_u8(&m, LT_SYNC_SKIP);
    cr_assert_eq(check(&m), LT_OK);

    m.n = 1; /* timestamps that add up past the largest */
    put_bound(&m, UINT64_MAX - 10, NULL, 0);
    put_u8(&m, LT_SYNC_SKIP);
    cr_assert_eq(check(&m), LT_OK);
    put_bound(&m, 20, NULL, 0);
    put_u8(&m, LT_SYNC_SKIP);
    cr_assert_eq(check(&m), LT_EINVAL);
}

Test(sync_wire, ranges_out_of_order_are_refused)
{
    static const uint8_t hi[] = {0x80}, lo[] = {0x10};
    bytes_t m = {.n = 0};
    put_u8(&m, LT_SYNC_VERSION);
    put_bound(&m, 0, NULL, 0); /* the zero bound: an empty first range */
    put_u8(&m, LT_SYNC_SKIP);
    cr_assert_eq(check(&m), LT_EINVAL);

    m.n = 1; /* the same bound twice */
    put_bound(&m, 7, hi, 1);
    put_u8(&m, LT_SYNC_SKIP);
    put_bound(&m, 0, hi, 1);
    put_u8(&m, LT_SYNC_SKIP);
    cr_assert_eq(check(&m), LT_EINVAL);

    m.n = 1; /* a smaller prefix at the same timestamp */
    put_bound(&m, 7, hi, 1);
    put_u8(&m, LT_SYNC_SKIP);
    put_bound(&m, 0, lo, 1);
    put_u8(&m, LT_SYNC_SKIP);
    cr_assert_eq(check(&m), LT_EINVAL);

    m.n = 1; /* equal once padded: 80 and 80 00 */
    static const uint8_t hi0[] = {0x80, 0x00};
    put_bound(&m, 7, hi, 1);
    put_u8(&m, LT_SYNC_SKIP);
    put_bound(&m, 0, hi0, 2);
    put_u8(&m, LT_SYNC_SKIP);
    cr_assert_eq(check(&m), LT_EINVAL);

    m.n = 1; /* anything after infinity */
    put_varint(&m, 0);
    put_u8(&m, LT_SYNC_SKIP);
    cr_assert_eq(check(&m), LT_OK);
    put_varint(&m, 0);
    put_u8(&m, LT_SYNC_SKIP);
    cr_assert_eq(check(&m), LT_EINVAL);
}

Test(sync_wire, unknown_modes_and_long_prefixes_are_refused)
{
    bytes_t m = {.n = 0};
    put_u8(&m, LT_SYNC_VERSION);
    put_bound(&m, 3, NULL, 0);
    put_u8(&m, LT_SYNC_MODE_COUNT);
    cr_assert_eq(check(&m), LT_EINVAL);
    m.n = 1;
    put_bound(&m, 3, NULL, 0);
    put_u8(&m, 0xff);
    cr_assert_eq(check(&m), LT_EINVAL);
    m.n = 1;
    put_varint(&m, 4);
    put_u8(&m, 33);
    for (int i = 0; i < 33; i++)
        put_u8(&m, 1);
    put_u8(&m, LT_SYNC_SKIP);
    cr_assert_eq(check(&m), LT_EINVAL);
}

Test(sync_wire, absurd_counts_are_refused)
{
    bytes_t m = {.n = 0};
    put_u8(&m, LT_SYNC_VERSION);
    put_bound(&m, 3, NULL, 0);
    put_u8(&m, LT_SYNC_IDLIST);
    put_varint(&m, LT_SYNC_MAX_IDLIST + 1);
    cr_assert_eq(check(&m), LT_EINVAL, "an id list longer than the protocol allows");

    m.n = 1;
    put_bound(&m, 3, NULL, 0);
    put_u8(&m, LT_SYNC_IDLIST);
    put_varint(&m, 3);
    put_id(&m, 1);
    put_id(&m, 2);
    cr_assert_eq(check(&m), LT_ETRUNCATED, "three ids announced, two sent");

    m.n = 1;
    put_bound(&m, 3, NULL, 0);
    put_u8(&m, LT_SYNC_IDRESP);
    put_varint(&m, UINT64_MAX);
    cr_assert_eq(check(&m), LT_ETRUNCATED, "2^64-1 ids announced");

    m.n = 1;
    put_bound(&m, 3, NULL, 0);
    put_u8(&m, LT_SYNC_IDRESP);
    put_varint(&m, 0);
    put_varint(&m, LT_SYNC_MAX_IDLIST + 1);
    cr_assert_eq(check(&m), LT_EINVAL, "a bitmap longer than any id list");

    m.n = 1;
    put_bound(&m, 3, NULL, 0);
    put_u8(&m, LT_SYNC_IDRESP);
    put_varint(&m, 0);
    put_varint(&m, 20);
    put_u8(&m, 0xff);
    put_u8(&m, 0xff);
    cr_assert_eq(check(&m), LT_ETRUNCATED, "20 bits announced, 16 sent");
}

Test(sync_wire, bitmap_bits_past_the_length_are_refused)
{
    bytes_t m = {.n = 0};
    put_u8(&m, LT_SYNC_VERSION);
    put_bound(&m, 3, NULL, 0);
    put_u8(&m, LT_SYNC_IDRESP);
    put_varint(&m, 0);
    put_varint(&m, 3);
    put_u8(&m, 0x07);
    cr_assert_eq(check(&m), LT_OK);
    m.b[m.n - 1] = 0x0f;
    cr_assert_eq(check(&m), LT_EINVAL);
}

Test(sync_wire, a_cont_bound_outside_its_range_is_refused)
{
    static const uint8_t p[] = {0x42};
    bytes_t m = {.n = 0};
    for (int kind = 0; kind < 4; kind++) {
        m.n = 0;
        put_u8(&m, LT_SYNC_VERSION);
        put_bound(&m, 100, NULL, 0);
        put_u8(&m, LT_SYNC_SKIP);
        put_bound(&m, 100, NULL, 0); /* the range [100, 200) */
        put_u8(&m, LT_SYNC_IDRESP_PART);
        put_varint(&m, 0);
        put_varint(&m, 0);
        if (kind == 0)
            put_bound(&m, 50, p, 1); /* 150: inside */
        else if (kind == 1)
            put_bound(&m, 0, NULL, 0); /* 100: the lower bound itself */
        else if (kind == 2)
            put_bound(&m, 100, NULL, 0); /* 200: the upper bound */
        else
            put_varint(&m, 0); /* infinity */
        cr_assert_eq(check(&m), kind == 0 ? LT_OK : LT_EINVAL, "cont kind %d", kind);
    }
}

Test(sync_wire, varints_and_bounds_have_the_lengths_they_are_written_with)
{
    static const uint64_t vs[] = {0, 1, 127, 128, 16383, 16384, UINT64_MAX / 2, UINT64_MAX};
    for (size_t i = 0; i < sizeof vs / sizeof vs[0]; i++) {
        lt_buf_t b = LT_BUF_INIT;
        cr_assert_eq(lt_sync_put_varint(&b, vs[i]), LT_OK);
        cr_assert_eq(b.len, lt_sync_varint_len(vs[i]));
        lt_buf_free(&b);
    }
    lt_sync_bound_t bd;
    lt_sync_bound_inf(&bd);
    cr_assert_eq(lt_sync_bound_len(5, &bd), 1);
    lt_sync_bound_zero(&bd);
    bd.ts = 300;
    bd.len = 2;
    cr_assert_eq(lt_sync_bound_len(100, &bd), 2 + 1 + 2);
}
