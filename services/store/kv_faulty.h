/* A storage backend that wraps another and fails on command, for tests that
 * inject write failures the way SQLite's test VFS injects I/O errors: run a
 * scenario with the n-th write failing, for every n, and check that the store
 * above recovers. Everything but write() passes straight through. */
#ifndef LT_KV_FAULTY_H
#define LT_KV_FAULTY_H

#include "store/kv.h"

/* Wraps inner. On success the wrapper owns inner: lt_kv_close() on the wrapper
 * closes inner too, and *out starts with failures disabled. On failure
 * (LT_ENOMEM) the caller still owns inner. */
LT_NODISCARD lt_err_t lt_kv_faulty_wrap(lt_kv_t *inner, lt_kv_t **out);

/* After n more successful write() calls, every write() fails with code and
 * applies nothing; n = 0 fails the next one. n < 0 disables failures. code is
 * an error (not LT_OK). faulty must come from lt_kv_faulty_wrap(). */
void lt_kv_faulty_fail_writes_after(lt_kv_t *faulty, long n, lt_err_t code);

/* Number of write() calls seen since wrapping, failed ones included. */
long lt_kv_faulty_writes(const lt_kv_t *faulty);

#endif
