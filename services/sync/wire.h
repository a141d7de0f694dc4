/* The bytes of reconciliation messages (schemas/sync.md): a version byte, then
 * a sequence of ranges that cover the space of items from the bottom up, each
 * an upper bound, a mode and the mode's payload. The reader checks every
 * field against the end of the input and against the rules of the format and
 * returns an error for anything else; it never asserts on its input.
 *
 * A message is read range by range (lt_sync_reader_t), with no allocation:
 * the ids and bitmaps of a range point into the message. */
#ifndef LT_SYNC_WIRE_H
#define LT_SYNC_WIRE_H

#include "sync/item.h"
#include "weaver/buf.h"
#include "weaver/errors.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define LT_SYNC_VERSION 1
/* The most ids of one IDLIST, hence the most bits of one IDRESP bitmap. */
#define LT_SYNC_MAX_IDLIST 1024
/* The largest encoded bound: timestamp varint, prefix length, 32 bytes. */
#define LT_SYNC_MAX_BOUND_LEN (10 + 1 + LT_HASH_LEN)

typedef enum {
    LT_SYNC_SKIP = 0,        /* nothing to do in this range */
    LT_SYNC_FINGERPRINT = 1, /* the sender's fingerprint of the range */
    LT_SYNC_IDLIST = 2,      /* every id the sender has in the range; answer with IDRESP */
    LT_SYNC_IDRESP = 3,      /* the answer to an IDLIST: final */
    LT_SYNC_IDRESP_PART = 4, /* an IDRESP cut short at `cont`: resend the IDLIST from there */
    LT_SYNC_MODE_COUNT
} lt_sync_mode_t;

typedef struct {
    lt_sync_bound_t lower; /* the previous range's upper bound (zero for the first) */
    lt_sync_bound_t upper;
    lt_sync_mode_t mode;
    lt_sync_fp_t fp;    /* FINGERPRINT */
    const uint8_t *ids; /* IDLIST, IDRESP*: n_ids ids of 32 bytes, back to back */
    size_t n_ids;
    const uint8_t *bitmap; /* IDRESP*: bit i (byte i / 8, bit i % 8) stands for the
                              receiver's i-th item of the range */
    size_t n_bits;
    lt_sync_bound_t cont; /* IDRESP_PART: lower < cont < upper */
} lt_sync_range_t;

typedef struct {
    const uint8_t *p, *end;
    uint64_t prev_ts;      /* timestamps are deltas from the previous upper bound */
    lt_sync_bound_t lower; /* the lower bound of the next range */
    bool at_inf;           /* a range ended at infinity: nothing may follow */
} lt_sync_reader_t;

/* Checks the version byte: LT_ETRUNCATED for no bytes, LT_EVERSION for
 * another version. */
LT_NODISCARD lt_err_t lt_sync_reader_init(lt_sync_reader_t *r, const uint8_t *msg, size_t len,
                                          lt_errbuf_t *eb);
/* Reads the next range into *out and sets *got; *got false at the end of the
 * message. Errors: LT_ETRUNCATED (the input ends inside a range), LT_EINVAL
 * (anything else the format forbids: a bad varint, bounds not ascending, a
 * range after infinity, an unknown mode, an id list longer than
 * LT_SYNC_MAX_IDLIST, a bitmap with bits set past its length, a cont bound
 * outside its range). */
LT_NODISCARD lt_err_t lt_sync_reader_next(lt_sync_reader_t *r, lt_sync_range_t *out, bool *got,
                                          lt_errbuf_t *eb);
/* Reads a whole message; *needs_reply (may be NULL) tells whether it holds a
 * range that the receiver must answer (FINGERPRINT, IDLIST, IDRESP_PART). */
LT_NODISCARD lt_err_t lt_sync_msg_check(const uint8_t *msg, size_t len, bool *needs_reply,
                                        lt_errbuf_t *eb);

/* ---- writing ---- */

typedef struct {
    lt_buf_t *out;
    uint64_t prev_ts;
} lt_sync_writer_t;

/* Empties out and writes the version byte. */
LT_NODISCARD lt_err_t lt_sync_writer_begin(lt_sync_writer_t *w, lt_buf_t *out);
/* Writes a range's upper bound and mode; the caller appends the payload. */
LT_NODISCARD lt_err_t lt_sync_write_head(lt_sync_writer_t *w, const lt_sync_bound_t *upper,
                                         lt_sync_mode_t mode);
/* Writes a whole range as lt_sync_reader_next reads it (the writer must be at
 * r->lower). */
LT_NODISCARD lt_err_t lt_sync_write_range(lt_sync_writer_t *w, const lt_sync_range_t *r);

LT_NODISCARD lt_err_t lt_sync_put_varint(lt_buf_t *b, uint64_t v);
size_t lt_sync_varint_len(uint64_t v);
/* Bytes the bound takes after a bound of timestamp prev_ts. */
size_t lt_sync_bound_len(uint64_t prev_ts, const lt_sync_bound_t *b);

#endif
