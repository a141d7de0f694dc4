/* The identity key on disk: 32 bytes of seed in a 0600 file. The file is
 * written under a unique temporary name, synced, and linked into place, so a
 * crash never leaves a half-written key and two processes racing to create
 * it end up with the same one (link() fails for the loser, which loads it). */
#include "weaver/identity.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* LT_EEXIST when another process created the key first. */
static lt_err_t s_create(const char *path, lt_identity_t *id, lt_errbuf_t *eb)
{
    uint8_t seed[LT_SEED_LEN];
    randombytes_buf(seed, sizeof seed);
    char tmp[4096];
    if (snprintf(tmp, sizeof tmp, "%s.XXXXXX", path) >= (int)sizeof tmp)
        return lt_fail(eb, LT_EINVAL, "identity path too long: %s", path);
    int fd = mkstemp(tmp);
    if (fd < 0)
        return lt_fail(eb, LT_EIO, "cannot create %s: %s", tmp, strerror(errno));
    if (fchmod(fd, 0600) != 0) {
        int e = errno;
        close(fd);
        unlink(tmp);
        return lt_fail(eb, LT_EIO, "cannot chmod %s: %s", tmp, strerror(e));
    }
    ssize_t n = write(fd, seed, sizeof seed);
    if (n != (ssize_t)sizeof seed || fsync(fd) != 0) {
        int e = errno;
        close(fd);
        unlink(tmp);
        return lt_fail(eb, LT_EIO, "cannot write %s: %s", tmp, strerror(e));
    }
    close(fd);
    int linked = link(tmp, path);
    int e = errno;
    unlink(tmp);
    if (linked != 0 && e == EEXIST) {
        sodium_memzero(seed, sizeof seed);
        return LT_EEXIST;
    }
    if (linked != 0)
        return lt_fail(eb, LT_EIO, "cannot link %s to %s: %s", tmp, path, strerror(e));
    lt_identity_from_seed(id, seed);
    sodium_memzero(seed, sizeof seed);
    return LT_OK;
}

lt_err_t lt_identity_load_or_create(const char *path, lt_identity_t *id, lt_errbuf_t *eb)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT) {
            lt_err_t rc = s_create(path, id, eb);
            /* Lost a race to another process: use the key it made. */
            return rc == LT_EEXIST ? lt_identity_load_or_create(path, id, eb) : rc;
        }
        return lt_fail(eb, LT_EIO, "cannot open identity key %s: %s", path, strerror(errno));
    }
    struct stat st;
    if (fstat(fd, &st) != 0) {
        close(fd);
        return lt_fail(eb, LT_EIO, "cannot stat %s: %s", path, strerror(errno));
    }
    if (st.st_mode & 077) {
        close(fd);
        return lt_fail(eb, LT_EINVAL,
                       "identity key %s is readable by others (mode %03o); run chmod 600 on it",
                       path, (unsigned)(st.st_mode & 0777));
    }
    uint8_t seed[LT_SEED_LEN + 1];
    ssize_t n = read(fd, seed, sizeof seed);
    int read_errno = errno;
    close(fd);
    if (n < 0)
        return lt_fail(eb, LT_EIO, "cannot read identity key %s: %s", path, strerror(read_errno));
    if (n != LT_SEED_LEN) {
        sodium_memzero(seed, sizeof seed);
        return lt_fail(eb, LT_ECORRUPT, "identity key %s has %zd bytes, expected %d", path, n,
                       LT_SEED_LEN);
    }
    lt_identity_from_seed(id, seed);
    sodium_memzero(seed, sizeof seed);
    return LT_OK;
}
