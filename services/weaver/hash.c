/* Personalized BLAKE2b-256 and hex helpers. */
#include "weaver/hash.h"

#include <sodium.h>

void lt_hash_personal(const char personal[16], const void *data, size_t len, lt_hash_t *out)
{
    /* Cannot fail for these sizes: outlen 32 and no key are within limits. */
    int rc = crypto_generichash_blake2b_salt_personal(out->b, LT_HASH_LEN, data, len, NULL, 0, NULL,
                                                      (const unsigned char *)personal);
    (void)rc;
}

void lt_hex(const uint8_t *p, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[p[i] >> 4];
        out[2 * i + 1] = digits[p[i] & 15];
    }
    out[2 * n] = '\0';
}

static int s_nibble(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

bool lt_unhex(const char *s, uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        int hi = s_nibble(s[2 * i]);
        if (hi < 0)
            return false;
        int lo = s_nibble(s[2 * i + 1]);
        if (lo < 0)
            return false;
        p[i] = (uint8_t)(hi << 4 | lo);
    }
    return s[2 * n] == '\0';
}
