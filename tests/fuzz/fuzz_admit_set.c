/* Fuzz target: the kernel's decoder of the store's AdmitSet (KERNEL_ADMIT,
 * schemas/kernel.proto), lt_links_set_admitted (kernel/links.c), called on a
 * kernel that runs nothing: no ZeroMQ context, no home, no sockets, its
 * links table set up by hand. Before each input the kernel holds a known
 * set (admitted by the same call from a fixed body), three outbound links
 * (with no socket, as a refused link waits) and three recorded peers.
 *
 * A body the decoder refuses leaves all of that as it was, down to the
 * pointers. One it takes leaves at most LT_LINKS_MAX_ADMITTED of each list,
 * sorted, every admitted key beside its X25519 form (and admitted by
 * lt_links_admits), every revoked X25519 form the form of a revoked key;
 * the outbound links and recorded peers are those before minus exactly the
 * revoked ones. */
#include "kernel/kernel.h"

#include <sodium.h>

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* What the other kernel parts take from kernel/run.c, not linked here. */
uint64_t lt_kernel_mono_ms(void)
{
    return 1000;
}

uint64_t lt_kernel_wall_ms(void)
{
    return 1700000000000ull;
}

lt_ksvc_t *lt_kernel_service(lt_kernel_t *k, const char *name)
{
    (void)k;
    (void)name;
    return NULL;
}

/* Keys 0..2 are admitted before each input, 3..5 have outbound links, 3, 4
 * and 6 are recorded in <home>/links, 7 is revoked. */
#define S_KEYS 8
static lt_pubkey_t s_keys[S_KEYS];
static lt_kernel_t s_k;

/* Lines are formatted (and dropped): the format strings run too. */
static void s_sink(void *ctx, lt_log_level_t level, const char *tag, const char *line)
{
    (void)ctx;
    (void)level;
    (void)tag;
    (void)line;
}

/* A heap copy of n bytes (the kernel frees what it replaces). */
static void *s_dup(const void *p, size_t n)
{
    void *q = malloc(n);
    if (!q)
        abort();
    memcpy(q, p, n);
    return q;
}

static void s_setup(void)
{
    /* The set before each input: the one the decoder takes from a fixed
     * body, decoded once and copied (its lists are allocated at full size:
     * decoding it for each input would double the run's cost). */
    static lt_links_t first;
    static bool done;
    lt_links_t *l = &s_k.links;
    if (!done) {
        if (lt_crypto_init() != LT_OK)
            abort();
        for (int i = 0; i < S_KEYS; i++) {
            uint8_t seed[LT_SEED_LEN];
            memset(seed, 10 + i, sizeof seed);
            lt_identity_t id;
            lt_identity_from_seed(&id, seed);
            s_keys[i] = id.pk;
        }
        uint8_t body[5 * 34], *p = body;
        for (int i = 0; i < 5; i++) {
            *p++ = i < 3 ? 0x0a : i == 3 ? 0x12 : 0x1a; /* peers, an invite, revoked */
            *p++ = 32;
            if (i == 3)
                memset(p, 0x55, 32);
            else
                memcpy(p, s_keys[i < 3 ? i : 7].b, 32);
            p += 32;
        }
        memset(l, 0, sizeof *l);
        lt_errbuf_t eb = {{0}};
        if (lt_links_set_admitted(&s_k, body, sizeof body, &eb) != LT_OK || l->nadmitted != 3 ||
            l->ninvites != 1 || l->nrevoked != 1)
            abort();
        first = *l;
        done = true;
    }
    memset(l, 0, sizeof *l);
    s_k.log = (lt_logger_t){.sink = s_sink, .max_level = LT_LOG_DEBUG};
    s_k.home = NULL; /* nothing is written */
    l->admitted = s_dup(first.admitted, 3 * sizeof *l->admitted);
    l->nadmitted = 3;
    l->invites = s_dup(first.invites, sizeof *l->invites);
    l->ninvites = 1;
    l->revoked = s_dup(first.revoked, sizeof *l->revoked);
    l->revoked_keys = s_dup(first.revoked_keys, sizeof *l->revoked_keys);
    l->nrevoked = 1;
    l->told = true;
    for (int i = 3; i <= 5; i++) {
        lt_links_out_t *o = &l->out[l->nout++];
        o->key = s_keys[i];
        o->peer = true;
    }
    static const int kept[] = {3, 4, 6};
    for (size_t i = 0; i < sizeof kept / sizeof kept[0]; i++) {
        char addr[1][LT_KCONFIG_ADDR_MAX] = {"tcp://127.0.0.1:9000"};
        if (lt_links_file_put(&l->kept, &s_keys[kept[i]], (const char(*)[LT_KCONFIG_ADDR_MAX])addr,
                              1) != LT_OK)
            abort();
    }
}

static void s_free(void)
{
    lt_links_t *l = &s_k.links;
    free(l->admitted);
    free(l->invites);
    free(l->revoked);
    free(l->revoked_keys);
    l->admitted = NULL;
    l->invites = NULL;
    l->revoked = NULL;
    l->revoked_keys = NULL;
}

static bool s_revoked(const lt_links_t *l, const lt_pubkey_t *key)
{
    for (size_t i = 0; i < l->nrevoked; i++)
        if (lt_pubkey_cmp(&l->revoked_keys[i], key) == 0)
            return true;
    return false;
}

/* Whether the keys of the outbound links and of the recorded peers are
 * those of `before` less the revoked ones, in the same order. */
static bool s_kept_less_revoked(const lt_links_t *l, const lt_links_t *before)
{
    size_t j = 0;
    for (size_t i = 0; i < before->nout; i++) {
        if (s_revoked(l, &before->out[i].key))
            continue;
        if (j >= l->nout || lt_pubkey_cmp(&l->out[j++].key, &before->out[i].key) != 0)
            return false;
    }
    if (j != l->nout)
        return false;
    j = 0;
    for (size_t i = 0; i < before->kept.npeers; i++) {
        if (s_revoked(l, &before->kept.peers[i].key))
            continue;
        if (j >= l->kept.npeers ||
            lt_pubkey_cmp(&l->kept.peers[j++].key, &before->kept.peers[i].key) != 0)
            return false;
    }
    return j == l->kept.npeers;
}

static void s_check_taken(const lt_links_t *l, const lt_links_t *before)
{
    if (!l->told || l->nadmitted > LT_LINKS_MAX_ADMITTED || l->ninvites > LT_LINKS_MAX_ADMITTED ||
        l->nrevoked > LT_LINKS_MAX_ADMITTED)
        abort();
    for (size_t i = 0; i < l->nadmitted; i++) {
        uint8_t x[32];
        if (crypto_sign_ed25519_pk_to_curve25519(x, l->admitted[i].key.b) != 0 ||
            memcmp(x, l->admitted[i].x25519, 32) != 0)
            abort();
        if (i && memcmp(l->admitted[i - 1].x25519, x, 32) > 0)
            abort();
        if (!lt_links_admits(&s_k, &l->admitted[i].key))
            abort();
    }
    for (size_t i = 1; i < l->ninvites; i++)
        if (lt_hash_cmp(&l->invites[i - 1], &l->invites[i]) > 0)
            abort();
    for (size_t i = 0; i < l->nrevoked; i++) {
        if (i && (memcmp(l->revoked[i - 1], l->revoked[i], 32) > 0 ||
                  lt_pubkey_cmp(&l->revoked_keys[i - 1], &l->revoked_keys[i]) > 0))
            abort();
        uint8_t x[32];
        if (crypto_sign_ed25519_pk_to_curve25519(x, l->revoked_keys[i].b) != 0)
            abort();
        bool found = false;
        for (size_t j = 0; j < l->nrevoked && !found; j++)
            found = memcmp(l->revoked[j], x, 32) == 0;
        if (!found)
            abort();
    }
    if (!s_kept_less_revoked(l, before))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    s_setup();
    lt_links_t *l = &s_k.links;
    /* The table before, and a copy of what its lists point to. */
    static lt_links_t before;
    memcpy(&before, l, sizeof before);
    lt_links_peer_t admitted[3];
    memcpy(admitted, l->admitted, sizeof admitted);
    lt_hash_t invite = l->invites[0];
    lt_pubkey_t revoked_key = l->revoked_keys[0];
    uint8_t revoked[32];
    memcpy(revoked, l->revoked[0], 32);

    lt_errbuf_t eb = {{0}};
    lt_err_t rc = lt_links_set_admitted(&s_k, size ? data : NULL, size, &eb);
    if (rc == LT_OK) {
        s_check_taken(l, &before);
    } else {
        if (rc != LT_EINVAL || !eb.msg[0])
            abort();
        if (memcmp(l, &before, sizeof *l) != 0 ||
            memcmp(admitted, l->admitted, sizeof admitted) != 0 ||
            lt_hash_cmp(&invite, &l->invites[0]) != 0 ||
            lt_pubkey_cmp(&revoked_key, &l->revoked_keys[0]) != 0 ||
            memcmp(revoked, l->revoked[0], 32) != 0)
            abort();
    }
    s_free();
    return 0;
}
