/* Fuzz target: the reader of <home>/links (kernel/links_file.h), over the
 * bytes of a file as lt_links_file_read hands them to the parser. It either
 * refuses the whole file (and keeps nothing) or keeps at most
 * LT_LINKS_FILE_MAX_PEERS distinct keys with 1..LT_LINKS_FILE_MAX_ADDRS
 * addresses each, every one NUL-terminated inside its slot and made of
 * printable bytes with no space. What it keeps the writer can record (put)
 * and write out (format), and that text reads back as the same table with
 * nothing skipped and formats to the same bytes. */
#include "kernel/links_file.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static lt_links_file_t s_f, s_back, s_put;
static char s_text[LT_LINKS_FILE_MAX_BYTES], s_again[LT_LINKS_FILE_MAX_BYTES];

static void s_check_peer(const lt_links_file_peer_t *p)
{
    if (p->naddrs < 1 || p->naddrs > LT_LINKS_FILE_MAX_ADDRS)
        abort();
    for (size_t j = 0; j < p->naddrs; j++) {
        size_t n = strnlen(p->addrs[j], LT_KCONFIG_ADDR_MAX);
        if (n == 0 || n == LT_KCONFIG_ADDR_MAX)
            abort();
        for (size_t i = 0; i < n; i++)
            if (p->addrs[j][i] <= ' ' || p->addrs[j][i] > '~')
                abort();
    }
}

static bool s_same(const lt_links_file_t *a, const lt_links_file_t *b)
{
    if (a->npeers != b->npeers)
        return false;
    for (size_t i = 0; i < a->npeers; i++) {
        const lt_links_file_peer_t *x = &a->peers[i], *y = &b->peers[i];
        if (lt_pubkey_cmp(&x->key, &y->key) != 0 || x->naddrs != y->naddrs)
            return false;
        for (size_t j = 0; j < x->naddrs; j++)
            if (strcmp(x->addrs[j], y->addrs[j]) != 0)
                return false;
    }
    return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    lt_errbuf_t eb = {{0}};
    lt_err_t rc = lt_links_file_parse((const char *)data, size, &s_f, &eb);
    if (rc != LT_OK) {
        if (rc != LT_EINVAL || s_f.npeers || s_f.skipped || !eb.msg[0])
            abort();
        return 0;
    }
    if (s_f.npeers > LT_LINKS_FILE_MAX_PEERS)
        abort();
    if (strnlen(s_f.skip_why, sizeof s_f.skip_why) == sizeof s_f.skip_why ||
        (s_f.skipped != 0) != (s_f.skip_why[0] != '\0'))
        abort();
    if (s_f.skipped && strncmp(s_f.skip_why, "line ", 5) != 0)
        abort();
    /* Not more entries than lines. */
    size_t lines = 0;
    for (size_t i = 0; i < size; i++)
        lines += data[i] == '\n';
    if (s_f.npeers + s_f.skipped > lines)
        abort();
    memset(&s_put, 0, sizeof s_put);
    for (size_t i = 0; i < s_f.npeers; i++) {
        const lt_links_file_peer_t *p = &s_f.peers[i];
        s_check_peer(p);
        for (size_t k = 0; k < i; k++)
            if (lt_pubkey_cmp(&s_f.peers[k].key, &p->key) == 0)
                abort();
        if (lt_links_file_find(&s_f, &p->key) != p)
            abort();
        if (lt_links_file_put(&s_put, &p->key, (const char(*)[LT_KCONFIG_ADDR_MAX])p->addrs,
                              p->naddrs) != LT_OK)
            abort();
    }
    if (!s_same(&s_f, &s_put))
        abort();
    size_t len = lt_links_file_format(&s_f, s_text, sizeof s_text);
    if (len == 0 || s_text[len] != '\0')
        abort();
    if (lt_links_file_parse(s_text, len, &s_back, &eb) != LT_OK || s_back.skipped ||
        !s_same(&s_f, &s_back))
        abort();
    if (lt_links_file_format(&s_back, s_again, sizeof s_again) != len ||
        memcmp(s_text, s_again, len) != 0)
        abort();
    return 0;
}
