/* Ed25519 identities: deterministic keys from a seed, signatures over record
 * hashes, and the identity key file (0600, exactly 32 bytes, written
 * atomically). */
#include "weaver/errors.h"
#include "weaver/identity.h"

#include "support/testutil.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define assert_rc(expr, want)                                                                      \
    do {                                                                                           \
        lt_err_t rc_ = (expr);                                                                     \
        cr_assert_eq(rc_, (want), "%s: got %s, want %s", #expr, lt_errname(rc_),                   \
                     lt_errname(want));                                                            \
    } while (0)

/* What a test created, for the teardown (each test runs in its own process). */
static char *s_dir;

static void s_init(void)
{
    cr_assert_eq(lt_crypto_init(), LT_OK);
}

static void s_fini(void)
{
    lt_test_rmtree(&s_dir);
}

TestSuite(identity, .init = s_init, .fini = s_fini);

static void s_seed(uint8_t seed[LT_SEED_LEN], uint8_t base)
{
    for (int i = 0; i < LT_SEED_LEN; i++)
        seed[i] = (uint8_t)(base + i);
}

static void s_path(char *out, size_t cap, const char *name)
{
    if (!s_dir)
        s_dir = lt_test_tmpdir("identity");
    int n = snprintf(out, cap, "%s/%s", s_dir, name);
    cr_assert(n > 0 && (size_t)n < cap);
}

/* Writes n bytes to path with the given mode (chmod'ed, whatever the umask). */
static void s_write_file(const char *path, const void *p, size_t n, mode_t mode)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    cr_assert(fd >= 0, "open %s: %s", path, strerror(errno));
    cr_assert_eq(write(fd, p, n), (ssize_t)n);
    cr_assert_eq(close(fd), 0);
    cr_assert_eq(chmod(path, mode), 0);
}

static bool s_same_key(const lt_identity_t *a, const lt_identity_t *b)
{
    return lt_pubkey_cmp(&a->pk, &b->pk) == 0 && memcmp(a->sk, b->sk, LT_SECRET_LEN) == 0;
}

Test(identity, from_seed_is_deterministic)
{
    uint8_t seed[LT_SEED_LEN];
    s_seed(seed, 1);
    lt_identity_t a, b, c;
    lt_identity_from_seed(&a, seed);
    lt_identity_from_seed(&b, seed);
    cr_assert(s_same_key(&a, &b));
    /* Ed25519 secret key = seed || public key. */
    cr_assert(memcmp(a.sk, seed, LT_SEED_LEN) == 0);
    cr_assert(memcmp(a.sk + LT_SEED_LEN, a.pk.b, LT_KEY_LEN) == 0);
    seed[LT_SEED_LEN - 1] ^= 1;
    lt_identity_from_seed(&c, seed);
    cr_assert(lt_pubkey_cmp(&a.pk, &c.pk) != 0, "another seed must give another key");
}

Test(identity, generated_keys_differ)
{
    lt_identity_t a, b;
    lt_identity_generate(&a);
    lt_identity_generate(&b);
    cr_assert(lt_pubkey_cmp(&a.pk, &b.pk) != 0);
}

Test(identity, a_signature_verifies_for_its_key_and_hash)
{
    lt_identity_t id;
    lt_test_identity(&id, 7);
    lt_hash_t h;
    memset(h.b, 0x3c, LT_HASH_LEN);
    lt_sig_t sig, again;
    lt_identity_sign(&id, &h, &sig);
    lt_identity_sign(&id, &h, &again);
    cr_assert(memcmp(sig.b, again.b, LT_SIG_LEN) == 0, "Ed25519 signing is deterministic");
    assert_rc(lt_sig_verify(&id.pk, &h, &sig), LT_OK);
}

Test(identity, a_signature_does_not_verify_for_another_key)
{
    lt_identity_t id, other;
    lt_test_identity(&id, 7);
    lt_test_identity(&other, 8);
    lt_hash_t h;
    memset(h.b, 0x3c, LT_HASH_LEN);
    lt_sig_t sig;
    lt_identity_sign(&id, &h, &sig);
    assert_rc(lt_sig_verify(&other.pk, &h, &sig), LT_ESIGNATURE);
}

Test(identity, a_signature_does_not_verify_for_another_hash_or_when_altered)
{
    lt_identity_t id;
    lt_test_identity(&id, 9);
    lt_hash_t h;
    memset(h.b, 0x3c, LT_HASH_LEN);
    lt_sig_t sig;
    lt_identity_sign(&id, &h, &sig);
    lt_hash_t h2 = h;
    h2.b[31] ^= 1;
    assert_rc(lt_sig_verify(&id.pk, &h2, &sig), LT_ESIGNATURE);
    for (int i = 0; i < LT_SIG_LEN; i++) {
        sig.b[i] ^= 0x01;
        assert_rc(lt_sig_verify(&id.pk, &h, &sig), LT_ESIGNATURE);
        sig.b[i] ^= 0x01;
    }
    lt_sig_t zero;
    memset(zero.b, 0, LT_SIG_LEN);
    assert_rc(lt_sig_verify(&id.pk, &h, &zero), LT_ESIGNATURE);
}

Test(identity, wipe_clears_the_secret)
{
    lt_identity_t id;
    lt_test_identity(&id, 10);
    lt_identity_wipe(&id);
    static const uint8_t zero[LT_SECRET_LEN];
    cr_assert(memcmp(id.sk, zero, LT_SECRET_LEN) == 0);
}

/* ---- the key file ------------------------------------------------------- */

Test(identity, a_missing_key_file_is_created_with_mode_0600)
{
    char path[4096];
    s_path(path, sizeof path, "node.key");
    lt_identity_t id;
    lt_errbuf_t eb;
    lt_errbuf_clear(&eb);
    assert_rc(lt_identity_load_or_create(path, &id, &eb), LT_OK);
    struct stat st;
    cr_assert_eq(stat(path, &st), 0);
    cr_assert(S_ISREG(st.st_mode));
    cr_assert_eq(st.st_mode & 0777, 0600, "mode is %03o", (unsigned)(st.st_mode & 0777));
    cr_assert_eq(st.st_size, LT_SEED_LEN);

    /* The file holds the seed of that key. */
    uint8_t seed[LT_SEED_LEN];
    FILE *f = fopen(path, "rb");
    cr_assert(f);
    cr_assert_eq(fread(seed, 1, sizeof seed, f), sizeof seed);
    fclose(f);
    lt_identity_t from;
    lt_identity_from_seed(&from, seed);
    cr_assert(s_same_key(&id, &from));

    /* No temporary file is left behind. */
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    cr_assert_neq(access(tmp, F_OK), 0, "%s was left behind", tmp);
}

Test(identity, a_created_key_file_reloads_to_the_same_key)
{
    char path[4096];
    s_path(path, sizeof path, "node.key");
    lt_identity_t first, second;
    assert_rc(lt_identity_load_or_create(path, &first, NULL), LT_OK);
    assert_rc(lt_identity_load_or_create(path, &second, NULL), LT_OK);
    cr_assert(s_same_key(&first, &second));
}

Test(identity, an_existing_key_file_is_loaded_not_replaced)
{
    char path[4096];
    s_path(path, sizeof path, "node.key");
    uint8_t seed[LT_SEED_LEN];
    s_seed(seed, 0x40);
    s_write_file(path, seed, sizeof seed, 0600);
    lt_identity_t id, want;
    assert_rc(lt_identity_load_or_create(path, &id, NULL), LT_OK);
    lt_identity_from_seed(&want, seed);
    cr_assert(s_same_key(&id, &want));
}

Test(identity, a_key_file_readable_by_others_is_refused)
{
    char path[4096];
    s_path(path, sizeof path, "node.key");
    uint8_t seed[LT_SEED_LEN];
    s_seed(seed, 0x50);
    static const mode_t modes[] = {0644, 0640, 0604, 0601, 0610};
    for (unsigned i = 0; i < sizeof modes / sizeof *modes; i++) {
        s_write_file(path, seed, sizeof seed, modes[i]);
        lt_identity_t id;
        lt_errbuf_t eb;
        lt_errbuf_clear(&eb);
        assert_rc(lt_identity_load_or_create(path, &id, &eb), LT_EINVAL);
        cr_assert(strstr(eb.msg, path), "the message should name the file: %s", eb.msg);
    }
    /* Owner-only modes narrower than 0600 are fine. */
    s_write_file(path, seed, sizeof seed, 0400);
    lt_identity_t id;
    assert_rc(lt_identity_load_or_create(path, &id, NULL), LT_OK);
}

Test(identity, a_key_file_of_the_wrong_size_is_refused)
{
    char path[4096];
    s_path(path, sizeof path, "node.key");
    uint8_t bytes[LT_SEED_LEN * 2];
    memset(bytes, 0x61, sizeof bytes);
    static const size_t sizes[] = {0, 1, LT_SEED_LEN - 1, LT_SEED_LEN + 1, LT_SEED_LEN * 2};
    for (unsigned i = 0; i < sizeof sizes / sizeof *sizes; i++) {
        s_write_file(path, bytes, sizes[i], 0600);
        lt_identity_t id;
        lt_errbuf_t eb;
        lt_errbuf_clear(&eb);
        assert_rc(lt_identity_load_or_create(path, &id, &eb), LT_ECORRUPT);
        cr_assert(eb.msg[0], "a refusal comes with a message");
        /* And the file is left as it was, not overwritten with a new key. */
        struct stat st;
        cr_assert_eq(stat(path, &st), 0);
        cr_assert_eq((size_t)st.st_size, sizes[i]);
    }
}

Test(identity, a_key_file_in_a_missing_directory_is_an_io_error)
{
    char path[4096];
    s_path(path, sizeof path, "no/such/dir/node.key");
    lt_identity_t id;
    lt_errbuf_t eb;
    lt_errbuf_clear(&eb);
    assert_rc(lt_identity_load_or_create(path, &id, &eb), LT_EIO);
    cr_assert(eb.msg[0], "a failure comes with a message");
}

Test(identity, a_key_path_that_is_a_directory_is_refused)
{
    char path[4096];
    s_path(path, sizeof path, "adir");
    cr_assert_eq(mkdir(path, 0700), 0);
    lt_identity_t id;
    lt_err_t rc = lt_identity_load_or_create(path, &id, NULL);
    cr_assert_neq(rc, LT_OK, "a directory is not a key file");
}
