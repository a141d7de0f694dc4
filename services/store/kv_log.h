/* The log backend: the storage a node without RocksDB keeps (lattice-nano;
 * the shape a flash backend takes). Reads are the in-memory backend's; every
 * batch is first appended to one file, and the file is replayed into memory
 * when the backend opens. A wrapper (kv_wrap.h) around lt_kv_mem.
 *
 * The file: a 16-byte header ("LTKVLOG1", the family count u32 LE, 0 u32),
 * then records, each
 *     payload_len u32 LE | payload | BLAKE2b-256 of (payload_len | payload)
 * and a payload is one batch: kind u8 (1), nops u32 LE, then per op
 *     cf u8 | del u8 (0/1) | klen u32 LE | key | vlen u32 LE | value
 * (vlen 0 for a delete). All integers are bounds-checked on replay.
 *
 * Crashes. A record is appended whole or, after a crash in the middle of
 * an append, not at all: a last record that is cut short or fails its hash
 * is a torn write and is cut off at open (the batch was never acknowledged
 * as synced). A record that fails its hash with more data after it is
 * damage, not a torn write: the open fails with LT_ECORRUPT and nothing is
 * changed.
 *
 * Compaction. When what was appended since the last compaction passes the
 * live data's size (and 4 MiB), the live data is written to "<path>.tmp"
 * as batches of about 1 MiB (a compaction holds one in memory, not a copy
 * of the store), synced, and renamed over the file: the file stays within
 * about twice the live data. A failed compaction leaves the old file in use
 * and is tried again after as much again has been appended.
 *
 * A lock on "<path>.lock" keeps a second process out (LT_ELOCKED). */
#ifndef LT_KV_LOG_H
#define LT_KV_LOG_H

#include "store/kv.h"

typedef struct {
    bool create_if_missing;
} lt_kv_log_opts_t;

/* Opens (or creates) the log at path with ncf column families: LT_ENOTFOUND
 * without it and create_if_missing false, LT_ELOCKED, LT_ECORRUPT (damage, a
 * header not ours, another family count), LT_EIO; eb (may be NULL) says
 * more. */
LT_NODISCARD lt_err_t lt_kv_log_open(const char *path, unsigned ncf, const lt_kv_log_opts_t *opts,
                                     lt_errbuf_t *eb, lt_kv_t **out);

/* Replays the records of a log image (without its header) into `into`:
 * *good is the length of the valid prefix (shorter than n after a torn
 * write). LT_ECORRUPT for damage before the last record or an op the
 * families do not allow; the records before it are applied. Pure: the
 * fuzz target's entry. */
LT_NODISCARD lt_err_t lt_kv_log_replay(const uint8_t *p, size_t n, unsigned ncf, lt_kv_t *into,
                                       size_t *good, lt_errbuf_t *eb);

/* What the open found and what the log did since (a log backend only). */
typedef struct {
    uint64_t torn_bytes_cut; /* at open */
    uint64_t compactions;
    uint64_t file_bytes;
} lt_kv_log_stats_t;
void lt_kv_log_stats(const lt_kv_t *kv, lt_kv_log_stats_t *out);

#endif
