/* The fixed-size values of the Weaver data model (DESIGN.md §4). */
#ifndef LT_TYPES_H
#define LT_TYPES_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#define LT_HASH_LEN     32
#define LT_KEY_LEN      32 /* Ed25519 public key */
#define LT_SECRET_LEN   64 /* Ed25519 secret key (seed + public key) */
#define LT_SEED_LEN     32
#define LT_SIG_LEN      64
#define LT_STORE_ID_LEN 16

typedef struct {
    uint8_t b[LT_HASH_LEN];
} lt_hash_t;

typedef struct {
    uint8_t b[LT_KEY_LEN];
} lt_pubkey_t;

typedef struct {
    uint8_t b[LT_STORE_ID_LEN];
} lt_store_id_t;

typedef struct {
    uint8_t b[LT_SIG_LEN];
} lt_sig_t;

/* Hybrid logical clock timestamp: compared by wall_ms, then counter. */
typedef struct {
    uint64_t wall_ms;
    uint32_t counter;
} lt_hlc_t;

static inline int lt_hash_cmp(const lt_hash_t *a, const lt_hash_t *b)
{
    return memcmp(a->b, b->b, LT_HASH_LEN);
}
static inline bool lt_hash_eq(const lt_hash_t *a, const lt_hash_t *b)
{
    return memcmp(a->b, b->b, LT_HASH_LEN) == 0;
}
static inline bool lt_hash_is_zero(const lt_hash_t *h)
{
    static const lt_hash_t zero;
    return memcmp(h->b, zero.b, LT_HASH_LEN) == 0;
}
static inline int lt_pubkey_cmp(const lt_pubkey_t *a, const lt_pubkey_t *b)
{
    return memcmp(a->b, b->b, LT_KEY_LEN);
}
static inline bool lt_store_id_eq(const lt_store_id_t *a, const lt_store_id_t *b)
{
    return memcmp(a->b, b->b, LT_STORE_ID_LEN) == 0;
}

/* Lowercase hex of n bytes into out (2n+1 bytes, NUL-terminated). */
void lt_hex(const uint8_t *p, size_t n, char *out);
/* Parses exactly 2n hex digits into p; false on any other input. */
bool lt_unhex(const char *s, uint8_t *p, size_t n);

#endif
