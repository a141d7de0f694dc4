/* The identity key on disk: 32 bytes of seed in a 0600 file. The file is
 * written to a temporary name, synced and renamed, so a crash never leaves a
 * half-written key. */
#include "weaver/identity.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static lt_err_t s_create(const char *path, lt_identity_t *id, lt_errbuf_t *eb)
{
    uint8_t seed[LT_SEED_LEN];
    randombytes_buf(seed, sizeof seed);
    char tmp[4096];
    if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp)
        return lt_fail(eb, LT_EINVAL, "identity path too long: %s", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return lt_fail(eb, LT_EIO, "cannot create %s: %s", tmp, strerror(errno));
    ssize_t n = write(fd, seed, sizeof seed);
    if (n != (ssize_t)sizeof seed || fsync(fd) != 0) {
        int e = errno;
        close(fd);
        unlink(tmp);
        return lt_fail(eb, LT_EIO, "cannot write %s: %s", tmp, strerror(e));
    }
    close(fd);
    if (rename(tmp, path) != 0) {
        int e = errno;
        unlink(tmp);
        return lt_fail(eb, LT_EIO, "cannot rename %s to %s: %s", tmp, path, strerror(e));
    }
    lt_identity_from_seed(id, seed);
    sodium_memzero(seed, sizeof seed);
    return LT_OK;
}

lt_err_t lt_identity_load_or_create(const char *path, lt_identity_t *id, lt_errbuf_t *eb)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT)
            return s_create(path, id, eb);
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
