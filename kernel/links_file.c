/* <home>/links, the peers a kernel links to again when it starts
 * (links_file.h). */
#include "kernel/links_file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define S_STR_(x) #x
#define S_STR(x)  S_STR_(x)
#define S_KEY_HEX (2 * LT_KEY_LEN)
_Static_assert(S_KEY_HEX == 64, "the messages say 64 hex digits");

const lt_links_file_peer_t *lt_links_file_find(const lt_links_file_t *f, const lt_pubkey_t *key)
{
    for (size_t i = 0; i < f->npeers; i++)
        if (lt_pubkey_cmp(&f->peers[i].key, key) == 0)
            return &f->peers[i];
    return NULL;
}

/* Whether n bytes at p make an address the file can hold: printable, no
 * space, shorter than LT_KCONFIG_ADDR_MAX. What it means is checked when
 * the link is opened. */
static bool s_addr_ok(const char *p, size_t n)
{
    if (n == 0 || n >= LT_KCONFIG_ADDR_MAX)
        return false;
    for (size_t i = 0; i < n; i++)
        if (p[i] <= ' ' || p[i] > '~')
            return false;
    return true;
}

/* One line (n bytes at p, without its newline) into out; NULL, or why it
 * is skipped. */
static const char *s_parse_line(const char *p, size_t n, lt_links_file_peer_t *out)
{
    if (n > LT_LINKS_FILE_LINE_MAX)
        return "longer than " S_STR(LT_LINKS_FILE_LINE_MAX) " bytes";
    for (size_t i = 0; i < n; i++)
        if (p[i] < ' ' || p[i] > '~')
            return "a byte that is not printable text";
    memset(out, 0, sizeof *out);
    bool keyed = false;
    size_t i = 0;
    while (i < n) {
        if (p[i] == ' ') {
            i++;
            continue;
        }
        size_t start = i;
        while (i < n && p[i] != ' ')
            i++;
        size_t len = i - start;
        if (!keyed) {
            char hex[S_KEY_HEX + 1];
            if (len != S_KEY_HEX)
                return "a key that is not 64 hex digits";
            memcpy(hex, p + start, len);
            hex[len] = '\0';
            if (!lt_unhex(hex, out->key.b, LT_KEY_LEN))
                return "a key that is not 64 hex digits";
            keyed = true;
            continue;
        }
        if (out->naddrs == LT_LINKS_FILE_MAX_ADDRS)
            return "more than " S_STR(LT_LINKS_FILE_MAX_ADDRS) " addresses";
        if (!s_addr_ok(p + start, len))
            return "an address longer than the kernel takes";
        memcpy(out->addrs[out->naddrs], p + start, len);
        out->addrs[out->naddrs++][len] = '\0';
    }
    if (!keyed)
        return "no key";
    if (out->naddrs == 0)
        return "no address";
    return NULL;
}

lt_err_t lt_links_file_parse(const char *text, size_t len, lt_links_file_t *f, lt_errbuf_t *eb)
{
    memset(f, 0, sizeof *f);
    static const char magic[] = LT_LINKS_FILE_MAGIC;
    const size_t ml = sizeof magic - 1;
    const char *nl = len ? memchr(text, '\n', len) : NULL;
    size_t hl = nl ? (size_t)(nl - text) : len;
    if (hl != ml || memcmp(text, magic, ml) != 0) {
        /* The version is the number after the name; say so when only it
         * differs (a newer kernel wrote the file). */
        if (hl > ml - 1 && memcmp(text, magic, ml - 1) == 0)
            return lt_fail(eb, LT_EINVAL, "a links file of another version (not \"%s\")", magic);
        return lt_fail(eb, LT_EINVAL, "not a links file (its first line is not \"%s\")", magic);
    }
    const char *end = text + len;
    const char *p = nl ? nl + 1 : end;
    size_t lineno = 1;
    while (p < end) {
        lineno++;
        const char *e = memchr(p, '\n', (size_t)(end - p));
        size_t n = e ? (size_t)(e - p) : (size_t)(end - p);
        if (n > 0) {
            lt_links_file_peer_t peer;
            const char *why = s_parse_line(p, n, &peer);
            if (!why && lt_links_file_find(f, &peer.key))
                why = "the same key as an earlier line";
            if (!why && f->npeers == LT_LINKS_FILE_MAX_PEERS)
                why = "more than " S_STR(LT_LINKS_FILE_MAX_PEERS) " peers";
            if (!why)
                f->peers[f->npeers++] = peer;
            else if (f->skipped++ == 0)
                snprintf(f->skip_why, sizeof f->skip_why, "line %zu: %s", lineno, why);
        }
        p = e ? e + 1 : end;
    }
    return LT_OK;
}

size_t lt_links_file_format(const lt_links_file_t *f, char *out, size_t cap)
{
    size_t len = 0;
    int n = snprintf(out, cap, "%s\n", LT_LINKS_FILE_MAGIC);
    if (n < 0 || (size_t)n >= cap)
        return 0;
    len = (size_t)n;
    for (size_t i = 0; i < f->npeers; i++) {
        const lt_links_file_peer_t *p = &f->peers[i];
        char hex[S_KEY_HEX + 1];
        lt_hex(p->key.b, LT_KEY_LEN, hex);
        n = snprintf(out + len, cap - len, "%s", hex);
        if (n < 0 || (size_t)n >= cap - len)
            return 0;
        len += (size_t)n;
        for (size_t j = 0; j < p->naddrs; j++) {
            n = snprintf(out + len, cap - len, " %s", p->addrs[j]);
            if (n < 0 || (size_t)n >= cap - len)
                return 0;
            len += (size_t)n;
        }
        if (len + 1 >= cap)
            return 0;
        out[len++] = '\n';
        out[len] = '\0';
    }
    return len;
}

lt_err_t lt_links_file_read(const char *path, lt_links_file_t *f, lt_errbuf_t *eb)
{
    memset(f, 0, sizeof *f);
    /* O_NONBLOCK: a FIFO put there must not hold the start up (it is
     * refused below as not a regular file). */
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) {
        if (errno == ENOENT)
            return LT_ENOTFOUND;
        return lt_fail(eb, LT_EIO, "cannot open %s: %s", path, strerror(errno));
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return lt_fail(eb, LT_EIO, "%s is not a regular file", path);
    }
    if (st.st_size > LT_LINKS_FILE_MAX_BYTES) {
        close(fd);
        return lt_fail(eb, LT_EINVAL, "%s is larger than %d bytes", path, LT_LINKS_FILE_MAX_BYTES);
    }
    char *buf = malloc(LT_LINKS_FILE_MAX_BYTES + 1);
    if (!buf) {
        close(fd);
        return lt_fail(eb, LT_ENOMEM, "out of memory reading %s", path);
    }
    /* Up to one byte more than the bound: the file may have grown since
     * the fstat. */
    size_t len = 0;
    for (;;) {
        ssize_t r = read(fd, buf + len, LT_LINKS_FILE_MAX_BYTES + 1 - len);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            int e = errno;
            close(fd);
            free(buf);
            return lt_fail(eb, LT_EIO, "cannot read %s: %s", path, strerror(e));
        }
        if (r == 0 || (len += (size_t)r) > LT_LINKS_FILE_MAX_BYTES)
            break;
    }
    close(fd);
    lt_err_t rc = LT_OK;
    if (len > LT_LINKS_FILE_MAX_BYTES) {
        rc = lt_fail(eb, LT_EINVAL, "%s is larger than %d bytes", path, LT_LINKS_FILE_MAX_BYTES);
    } else {
        lt_errbuf_t why = {{0}};
        if (lt_links_file_parse(buf, len, f, &why) != LT_OK)
            rc = lt_fail(eb, LT_EINVAL, "%s: %s", path, why.msg);
    }
    free(buf);
    return rc;
}

/* fsync of the directory holding path, so the rename itself is durable. */
static void s_sync_dir(const char *path)
{
    char dir[LT_KCONFIG_PATH_MAX];
    const char *slash = strrchr(path, '/');
    if (!slash) {
        snprintf(dir, sizeof dir, ".");
    } else {
        size_t n = (size_t)(slash - path);
        if (n >= sizeof dir)
            return;
        memcpy(dir, path, n ? n : 1);
        dir[n ? n : 1] = '\0';
    }
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        (void)fsync(fd);
        close(fd);
    }
}

lt_err_t lt_links_file_write(const char *path, const lt_links_file_t *f, lt_errbuf_t *eb)
{
    char tmp[LT_KCONFIG_PATH_MAX + 8];
    if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp)
        return lt_fail(eb, LT_EINVAL, "path too long: %s", path);
    char *text = malloc(LT_LINKS_FILE_MAX_BYTES);
    if (!text)
        return lt_fail(eb, LT_ENOMEM, "out of memory writing %s", path);
    size_t len = lt_links_file_format(f, text, LT_LINKS_FILE_MAX_BYTES);
    if (len == 0) {
        free(text);
        return lt_fail(eb, LT_EINVAL, "the links do not fit %s", path);
    }
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
        int e = errno;
        free(text);
        return lt_fail(eb, LT_EIO, "cannot create %s: %s", tmp, strerror(e));
    }
    bool ok = fchmod(fd, 0600) == 0;
    for (size_t off = 0; ok && off < len;) {
        ssize_t w = write(fd, text + off, len - off);
        if (w < 0 && errno == EINTR)
            continue;
        ok = w > 0;
        if (ok)
            off += (size_t)w;
    }
    ok = ok && fsync(fd) == 0;
    int e = errno;
    free(text);
    if (close(fd) != 0 && ok) {
        ok = false;
        e = errno;
    }
    if (!ok) {
        unlink(tmp);
        return lt_fail(eb, LT_EIO, "cannot write %s: %s", tmp, strerror(e));
    }
    if (rename(tmp, path) != 0) {
        e = errno;
        unlink(tmp);
        return lt_fail(eb, LT_EIO, "cannot rename %s to %s: %s", tmp, path, strerror(e));
    }
    s_sync_dir(path);
    return LT_OK;
}

lt_err_t lt_links_file_put(lt_links_file_t *f, const lt_pubkey_t *key,
                           const char (*addrs)[LT_KCONFIG_ADDR_MAX], size_t naddrs)
{
    lt_links_file_peer_t p;
    memset(&p, 0, sizeof p);
    p.key = *key;
    for (size_t i = 0; i < naddrs && p.naddrs < LT_LINKS_FILE_MAX_ADDRS; i++) {
        size_t n = strnlen(addrs[i], LT_KCONFIG_ADDR_MAX);
        if (s_addr_ok(addrs[i], n))
            memcpy(p.addrs[p.naddrs++], addrs[i], n + 1);
    }
    if (p.naddrs == 0)
        return LT_EINVAL;
    lt_links_file_peer_t *have = (lt_links_file_peer_t *)lt_links_file_find(f, key);
    if (have) {
        *have = p;
        return LT_OK;
    }
    if (f->npeers == LT_LINKS_FILE_MAX_PEERS)
        return LT_EFULL;
    f->peers[f->npeers++] = p;
    return LT_OK;
}

bool lt_links_file_remove(lt_links_file_t *f, const lt_pubkey_t *key)
{
    const lt_links_file_peer_t *have = lt_links_file_find(f, key);
    if (!have)
        return false;
    size_t i = (size_t)(have - f->peers);
    memmove(&f->peers[i], &f->peers[i + 1], (f->npeers - i - 1) * sizeof f->peers[0]);
    f->npeers--;
    return true;
}
