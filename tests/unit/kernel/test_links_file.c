/* <home>/links (kernel/links_file.h): what the kernel writes it reads back
 * the same; a line that is wrong in any way is skipped, counted and named
 * while the others are used; a file that is not a links file, is too large
 * or is not a regular file is refused whole. No kernel, no ZeroMQ. */
#include "kernel/links_file.h"
#include "support/testutil.h"

#include <criterion/criterion.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* A links file is ~70 KB: one per test, on the heap. */
static lt_links_file_t *s_f;
static char *s_dir;

static void s_init(void)
{
    s_f = calloc(1, sizeof *s_f);
    cr_assert(s_f);
    s_dir = lt_test_tmpdir("links_file");
}

static void s_fini(void)
{
    free(s_f);
    lt_test_rmtree(&s_dir);
}

TestSuite(links_file, .init = s_init, .fini = s_fini);

static lt_pubkey_t s_key(unsigned i)
{
    lt_pubkey_t k;
    for (size_t j = 0; j < LT_KEY_LEN; j++)
        k.b[j] = (uint8_t)(i * 37 + j);
    return k;
}

static void s_key_hex(unsigned i, char out[2 * LT_KEY_LEN + 1])
{
    lt_pubkey_t k = s_key(i);
    lt_hex(k.b, LT_KEY_LEN, out);
}

/* name in the test's directory; the last four paths stay valid. */
static const char *s_path(const char *name)
{
    static char paths[4][4096];
    static unsigned next;
    char *path = paths[next++ % 4];
    snprintf(path, sizeof paths[0], "%s/%s", s_dir, name);
    return path;
}

static void s_write_bytes(const char *path, const char *text, size_t len)
{
    FILE *fp = fopen(path, "wb");
    cr_assert(fp, "%s: %s", path, strerror(errno));
    cr_assert_eq(fwrite(text, 1, len, fp), len);
    cr_assert_eq(fclose(fp), 0);
}

/* Parses text as it would be read from a file, from a heap copy of exactly
 * its length (so ASan sees any read past it). */
static lt_err_t s_parse(const char *text, lt_errbuf_t *eb)
{
    size_t len = strlen(text);
    char *copy = malloc(len ? len : 1);
    cr_assert(copy);
    memcpy(copy, text, len);
    lt_err_t rc = lt_links_file_parse(copy, len, s_f, eb);
    free(copy);
    return rc;
}

/* "lattice-links 1\n" then `body`; LT_OK expected. */
static void s_parse_body(const char *body)
{
    size_t n = strlen(LT_LINKS_FILE_MAGIC) + 1 + strlen(body) + 1;
    char *text = malloc(n);
    cr_assert(text);
    snprintf(text, n, "%s\n%s", LT_LINKS_FILE_MAGIC, body);
    lt_errbuf_t eb = {{0}};
    cr_assert_eq(s_parse(text, &eb), LT_OK, "%s", eb.msg);
    free(text);
}

static void s_peer_eq(const lt_links_file_peer_t *a, const lt_links_file_peer_t *b)
{
    cr_assert_eq(lt_pubkey_cmp(&a->key, &b->key), 0);
    cr_assert_eq(a->naddrs, b->naddrs);
    for (size_t i = 0; i < a->naddrs; i++)
        cr_assert_str_eq(a->addrs[i], b->addrs[i]);
}

/* ---- round trip ---- */

Test(links_file, a_written_file_reads_back_the_same_peers)
{
    /* One address, eight, and the longest address the kernel takes. */
    char addrs[LT_LINKS_FILE_MAX_ADDRS][LT_KCONFIG_ADDR_MAX];
    for (int i = 0; i < LT_LINKS_FILE_MAX_ADDRS; i++)
        snprintf(addrs[i], sizeof addrs[i], "tcp://10.0.0.%d:7%03d", i + 1, i);
    char longest[LT_KCONFIG_ADDR_MAX];
    memset(longest, 'h', sizeof longest - 1);
    memcpy(longest, "tcp://", 6);
    memcpy(longest + sizeof longest - 6, ":9999", 5);
    longest[sizeof longest - 1] = '\0';
    lt_pubkey_t k0 = s_key(0), k1 = s_key(1), k2 = s_key(2);
    cr_assert_eq(lt_links_file_put(s_f, &k0, (const char(*)[LT_KCONFIG_ADDR_MAX])addrs, 1), LT_OK);
    cr_assert_eq(lt_links_file_put(s_f, &k1, (const char(*)[LT_KCONFIG_ADDR_MAX])addrs,
                                   LT_LINKS_FILE_MAX_ADDRS),
                 LT_OK);
    cr_assert_eq(lt_links_file_put(s_f, &k2, (const char(*)[LT_KCONFIG_ADDR_MAX]) & longest, 1),
                 LT_OK);
    cr_assert_eq(s_f->npeers, 3);

    const char *path = s_path(LT_LINKS_FILE_NAME);
    lt_errbuf_t eb = {{0}};
    cr_assert_eq(lt_links_file_write(path, s_f, &eb), LT_OK, "%s", eb.msg);
    struct stat st;
    cr_assert_eq(stat(path, &st), 0);
    cr_assert_eq(st.st_mode & 0777, 0600);
    cr_assert_neq(access(s_path(LT_LINKS_FILE_NAME ".tmp"), F_OK), 0, "the temporary file is left");

    lt_links_file_t *back = calloc(1, sizeof *back);
    cr_assert(back);
    cr_assert_eq(lt_links_file_read(path, back, &eb), LT_OK, "%s", eb.msg);
    cr_assert_eq(back->skipped, 0, "%s", back->skip_why);
    cr_assert_eq(back->npeers, s_f->npeers);
    for (size_t i = 0; i < s_f->npeers; i++)
        s_peer_eq(&back->peers[i], &s_f->peers[i]);
    cr_assert_str_eq(back->peers[2].addrs[0], longest);
    free(back);
}

Test(links_file, the_text_is_the_version_line_then_one_line_per_peer)
{
    char addrs[2][LT_KCONFIG_ADDR_MAX] = {"tcp://a:1", "tcp://b:2"};
    lt_pubkey_t k = s_key(5);
    cr_assert_eq(lt_links_file_put(s_f, &k, (const char(*)[LT_KCONFIG_ADDR_MAX])addrs, 2), LT_OK);
    char hex[2 * LT_KEY_LEN + 1], want[256], out[256];
    s_key_hex(5, hex);
    snprintf(want, sizeof want, "lattice-links 1\n%s tcp://a:1 tcp://b:2\n", hex);
    cr_assert_eq(lt_links_file_format(s_f, out, sizeof out), strlen(want));
    cr_assert_str_eq(out, want);
    /* Too small a buffer: 0, never a cut file. */
    cr_assert_eq(lt_links_file_format(s_f, out, strlen(want)), 0);
}

Test(links_file, the_full_table_of_longest_lines_fits_the_size_bound)
{
    char addrs[LT_LINKS_FILE_MAX_ADDRS][LT_KCONFIG_ADDR_MAX];
    for (int i = 0; i < LT_LINKS_FILE_MAX_ADDRS; i++) {
        memset(addrs[i], 'a' + i, LT_KCONFIG_ADDR_MAX - 1);
        addrs[i][LT_KCONFIG_ADDR_MAX - 1] = '\0';
    }
    for (unsigned i = 0; i < LT_LINKS_FILE_MAX_PEERS; i++) {
        lt_pubkey_t k = s_key(i);
        cr_assert_eq(lt_links_file_put(s_f, &k, (const char(*)[LT_KCONFIG_ADDR_MAX])addrs,
                                       LT_LINKS_FILE_MAX_ADDRS),
                     LT_OK);
    }
    const char *path = s_path(LT_LINKS_FILE_NAME);
    lt_errbuf_t eb = {{0}};
    cr_assert_eq(lt_links_file_write(path, s_f, &eb), LT_OK, "%s", eb.msg);
    lt_links_file_t *back = calloc(1, sizeof *back);
    cr_assert(back);
    cr_assert_eq(lt_links_file_read(path, back, &eb), LT_OK, "%s", eb.msg);
    cr_assert_eq(back->npeers, LT_LINKS_FILE_MAX_PEERS);
    cr_assert_eq(back->skipped, 0, "%s", back->skip_why);
    free(back);
}

/* ---- lines that are skipped ---- */

/* Parses a file of a good line, `bad`, and another good line: both good
 * ones are kept, `bad` is counted with a reason that contains `why`. */
static void s_skipped(const char *bad, const char *why)
{
    char h0[2 * LT_KEY_LEN + 1], h1[2 * LT_KEY_LEN + 1];
    s_key_hex(0, h0);
    s_key_hex(1, h1);
    size_t n = strlen(bad) + 512;
    char *body = malloc(n);
    cr_assert(body);
    snprintf(body, n, "%s tcp://a:1\n%s\n%s tcp://b:2\n", h0, bad, h1);
    s_parse_body(body);
    free(body);
    cr_assert_eq(s_f->npeers, 2, "line [%.40s]: %zu peers", bad, s_f->npeers);
    cr_assert_eq(s_f->skipped, 1, "line [%.40s] was not skipped", bad);
    cr_assert_str_eq(s_f->peers[1].addrs[0], "tcp://b:2");
    cr_assert(strncmp(s_f->skip_why, "line 3: ", 8) == 0, "%s", s_f->skip_why);
    cr_assert(strstr(s_f->skip_why, why), "line [%.40s]: \"%s\", not \"%s\"", bad, s_f->skip_why,
              why);
}

Test(links_file, an_over_long_line_is_skipped)
{
    char hex[2 * LT_KEY_LEN + 1];
    s_key_hex(9, hex);
    char line[LT_LINKS_FILE_LINE_MAX + 2];
    memset(line, 'x', sizeof line - 1);
    line[sizeof line - 1] = '\0';
    memcpy(line, hex, 64);
    line[64] = ' ';
    s_skipped(line, "longer than 1200 bytes");
}

Test(links_file, a_non_printable_byte_skips_its_line)
{
    char hex[2 * LT_KEY_LEN + 1], line[256];
    s_key_hex(9, hex);
    const char *bytes[] = {"\t", "\r", "\x7f", "\x80", "\xc3\xa9", "\x01"};
    for (size_t i = 0; i < sizeof bytes / sizeof bytes[0]; i++) {
        snprintf(line, sizeof line, "%s tcp://h%s:1", hex, bytes[i]);
        s_skipped(line, "not printable");
    }
    /* A NUL: strlen cannot carry it, so the file is built by hand. */
    char text[256];
    int n = snprintf(text, sizeof text, "%s\n%s tcp://h", LT_LINKS_FILE_MAGIC, hex);
    text[n++] = '\0';
    n += snprintf(text + n, sizeof text - (size_t)n, ":1\n");
    lt_errbuf_t eb = {{0}};
    cr_assert_eq(lt_links_file_parse(text, (size_t)n, s_f, &eb), LT_OK);
    cr_assert_eq(s_f->npeers, 0);
    cr_assert_eq(s_f->skipped, 1);
    cr_assert(strstr(s_f->skip_why, "not printable"), "%s", s_f->skip_why);
}

Test(links_file, a_bad_key_skips_its_line)
{
    char hex[2 * LT_KEY_LEN + 1], line[256];
    s_key_hex(9, hex);
    snprintf(line, sizeof line, "%.63s tcp://a:1", hex); /* 63 digits */
    s_skipped(line, "a key that is not 64 hex digits");
    snprintf(line, sizeof line, "%s0 tcp://a:1", hex); /* 65 */
    s_skipped(line, "a key that is not 64 hex digits");
    snprintf(line, sizeof line, "g%.63s tcp://a:1", hex); /* not hex */
    s_skipped(line, "a key that is not 64 hex digits");
    s_skipped("tcp://a:1", "a key that is not 64 hex digits"); /* no key at all */
    s_skipped("   ", "no key");
}

Test(links_file, a_key_without_an_address_is_skipped)
{
    char hex[2 * LT_KEY_LEN + 1], line[256];
    s_key_hex(9, hex);
    s_skipped(hex, "no address");
    snprintf(line, sizeof line, "%s  ", hex);
    s_skipped(line, "no address");
}

Test(links_file, an_address_the_kernel_cannot_hold_skips_its_line)
{
    char hex[2 * LT_KEY_LEN + 1], line[512], addr[LT_KCONFIG_ADDR_MAX + 1];
    s_key_hex(9, hex);
    memset(addr, 'a', sizeof addr - 1);
    addr[sizeof addr - 1] = '\0'; /* LT_KCONFIG_ADDR_MAX bytes: one too many */
    snprintf(line, sizeof line, "%s tcp://a:1 %s", hex, addr);
    s_skipped(line, "an address longer than the kernel takes");
}

Test(links_file, more_than_eight_addresses_skip_the_line)
{
    char hex[2 * LT_KEY_LEN + 1], line[512];
    s_key_hex(9, hex);
    int n = snprintf(line, sizeof line, "%s", hex);
    for (int i = 0; i < LT_LINKS_FILE_MAX_ADDRS + 1; i++)
        n += snprintf(line + n, sizeof line - (size_t)n, " tcp://h%d:1", i);
    s_skipped(line, "more than 8 addresses");
    /* Eight are fine. */
    char *eight = strrchr(line, ' ');
    *eight = '\0';
    s_parse_body(line);
    cr_assert_eq(s_f->npeers, 1);
    cr_assert_eq(s_f->peers[0].naddrs, LT_LINKS_FILE_MAX_ADDRS);
}

Test(links_file, a_repeated_key_keeps_the_first_line)
{
    char h0[2 * LT_KEY_LEN + 1], line[256];
    s_key_hex(0, h0);
    snprintf(line, sizeof line, "%s tcp://again:1", h0);
    s_skipped(line, "the same key as an earlier line");
    cr_assert_str_eq(s_f->peers[0].addrs[0], "tcp://a:1");
}

Test(links_file, peers_past_sixty_four_are_skipped)
{
    size_t cap = (LT_LINKS_FILE_MAX_PEERS + 2) * 128;
    char *body = malloc(cap);
    cr_assert(body);
    size_t n = 0;
    for (unsigned i = 0; i < LT_LINKS_FILE_MAX_PEERS + 2; i++) {
        char hex[2 * LT_KEY_LEN + 1];
        s_key_hex(i, hex);
        n += (size_t)snprintf(body + n, cap - n, "%s tcp://p%u:1\n", hex, i);
    }
    s_parse_body(body);
    free(body);
    cr_assert_eq(s_f->npeers, LT_LINKS_FILE_MAX_PEERS);
    cr_assert_eq(s_f->skipped, 2);
    cr_assert_str_eq(s_f->skip_why, "line 66: more than 64 peers");
    cr_assert_str_eq(s_f->peers[63].addrs[0], "tcp://p63:1");
}

Test(links_file, several_bad_lines_are_counted_and_the_first_reason_kept)
{
    char h0[2 * LT_KEY_LEN + 1], body[1024];
    s_key_hex(0, h0);
    snprintf(body, sizeof body, "\n%s\nnot a key tcp://a:1\n\n%s tcp://a:1\n%s tcp://b:1", h0, h0,
             h0);
    s_parse_body(body);
    /* Empty lines are no lines; the last line needs no newline. */
    cr_assert_eq(s_f->npeers, 1);
    cr_assert_eq(s_f->skipped, 3);
    cr_assert_str_eq(s_f->skip_why, "line 3: no address");
    cr_assert_str_eq(s_f->peers[0].addrs[0], "tcp://a:1");
}

/* ---- files that are refused whole ---- */

static void s_refused(const char *text, size_t len, const char *why)
{
    const char *path = s_path(LT_LINKS_FILE_NAME);
    s_write_bytes(path, text, len);
    s_f->npeers = 7; /* must be emptied */
    lt_errbuf_t eb = {{0}};
    cr_assert_eq(lt_links_file_read(path, s_f, &eb), LT_EINVAL);
    cr_assert_eq(s_f->npeers, 0);
    cr_assert(strstr(eb.msg, path), "%s", eb.msg);
    cr_assert(strstr(eb.msg, why), "\"%s\", not \"%s\"", eb.msg, why);
}

Test(links_file, a_file_without_the_version_line_is_refused)
{
    char hex[2 * LT_KEY_LEN + 1], text[256];
    s_key_hex(0, hex);
    snprintf(text, sizeof text, "%s tcp://a:1\n", hex);
    s_refused(text, strlen(text), "not a links file");
    s_refused("", 0, "not a links file");
    s_refused("\n", 1, "not a links file");
    s_refused("lattice-links", 13, "not a links file");
    s_refused("lattice-links 1 \n", 17, "another version");
    s_refused("lattice-links 2\n", 16, "another version");
    s_refused("lattice-links 10\n", 17, "another version");
    /* Just the version line, with or without its newline: no peers. */
    for (int nl = 0; nl < 2; nl++) {
        lt_errbuf_t eb = {{0}};
        cr_assert_eq(lt_links_file_parse(LT_LINKS_FILE_MAGIC "\n",
                                         strlen(LT_LINKS_FILE_MAGIC) + (size_t)nl, s_f, &eb),
                     LT_OK);
        cr_assert_eq(s_f->npeers, 0);
        cr_assert_eq(s_f->skipped, 0);
    }
}

Test(links_file, a_file_over_the_size_bound_is_refused_unread)
{
    size_t len = LT_LINKS_FILE_MAX_BYTES + 1;
    char *text = malloc(len);
    cr_assert(text);
    memset(text, '\n', len);
    memcpy(text, LT_LINKS_FILE_MAGIC, strlen(LT_LINKS_FILE_MAGIC));
    s_refused(text, len, "larger than");
    /* At the bound it is read (empty lines: no peers). */
    s_write_bytes(s_path(LT_LINKS_FILE_NAME), text, len - 1);
    lt_errbuf_t eb = {{0}};
    cr_assert_eq(lt_links_file_read(s_path(LT_LINKS_FILE_NAME), s_f, &eb), LT_OK, "%s", eb.msg);
    free(text);
}

Test(links_file, what_is_not_a_regular_file_is_refused)
{
    lt_errbuf_t eb = {{0}};
    const char *dir = s_path("a-directory");
    cr_assert_eq(mkdir(dir, 0700), 0);
    cr_assert_eq(lt_links_file_read(dir, s_f, &eb), LT_EIO);
    cr_assert(strstr(eb.msg, "not a regular file"), "%s", eb.msg);
    /* A FIFO with no writer: refused at once, not waited on. */
    const char *fifo = s_path("a-fifo");
    cr_assert_eq(mkfifo(fifo, 0600), 0);
    cr_assert_eq(lt_links_file_read(fifo, s_f, &eb), LT_EIO);
    cr_assert(strstr(eb.msg, "not a regular file"), "%s", eb.msg);
    cr_assert_eq(s_f->npeers, 0);
}

Test(links_file, no_file_is_not_found)
{
    lt_errbuf_t eb = {{0}};
    cr_assert_eq(lt_links_file_read(s_path("none"), s_f, &eb), LT_ENOTFOUND);
}

/* ---- the table ---- */

Test(links_file, put_replaces_in_place_and_refuses_what_it_cannot_hold)
{
    char good[2][LT_KCONFIG_ADDR_MAX] = {"tcp://a:1", "tcp://b:2"};
    char bad[3][LT_KCONFIG_ADDR_MAX] = {"", "tcp://with space:1", "tcp://\x01:1"};
    lt_pubkey_t k0 = s_key(0), k1 = s_key(1);
    cr_assert_eq(lt_links_file_put(s_f, &k0, (const char(*)[LT_KCONFIG_ADDR_MAX])bad, 3),
                 LT_EINVAL);
    cr_assert_eq(s_f->npeers, 0);
    cr_assert_eq(lt_links_file_put(s_f, &k0, (const char(*)[LT_KCONFIG_ADDR_MAX])good, 1), LT_OK);
    cr_assert_eq(lt_links_file_put(s_f, &k1, (const char(*)[LT_KCONFIG_ADDR_MAX])good, 1), LT_OK);
    cr_assert_eq(lt_links_file_put(s_f, &k0, (const char(*)[LT_KCONFIG_ADDR_MAX])good + 1, 1),
                 LT_OK);
    cr_assert_eq(s_f->npeers, 2);
    cr_assert_eq(lt_pubkey_cmp(&s_f->peers[0].key, &k0), 0, "the line moved");
    cr_assert_str_eq(s_f->peers[0].addrs[0], "tcp://b:2");
    for (unsigned i = 2; i < LT_LINKS_FILE_MAX_PEERS; i++) {
        lt_pubkey_t k = s_key(i);
        cr_assert_eq(lt_links_file_put(s_f, &k, (const char(*)[LT_KCONFIG_ADDR_MAX])good, 1),
                     LT_OK);
    }
    lt_pubkey_t extra = s_key(LT_LINKS_FILE_MAX_PEERS);
    cr_assert_eq(lt_links_file_put(s_f, &extra, (const char(*)[LT_KCONFIG_ADDR_MAX])good, 1),
                 LT_EFULL);
    /* A known key is still replaced when full. */
    cr_assert_eq(lt_links_file_put(s_f, &k1, (const char(*)[LT_KCONFIG_ADDR_MAX])good + 1, 1),
                 LT_OK);
    cr_assert(lt_links_file_remove(s_f, &k0));
    cr_assert_not(lt_links_file_remove(s_f, &k0));
    cr_assert_null(lt_links_file_find(s_f, &k0));
    cr_assert_eq(s_f->npeers, LT_LINKS_FILE_MAX_PEERS - 1);
    cr_assert_eq(lt_pubkey_cmp(&s_f->peers[0].key, &k1), 0);
}

Test(links_file, a_failed_write_leaves_the_old_file)
{
    char addrs[1][LT_KCONFIG_ADDR_MAX] = {"tcp://a:1"};
    lt_pubkey_t k = s_key(0);
    cr_assert_eq(lt_links_file_put(s_f, &k, (const char(*)[LT_KCONFIG_ADDR_MAX])addrs, 1), LT_OK);
    const char *path = s_path(LT_LINKS_FILE_NAME);
    s_write_bytes(path, "old", 3);
    /* links.tmp cannot be created: a directory is in the way. */
    cr_assert_eq(mkdir(s_path(LT_LINKS_FILE_NAME ".tmp"), 0700), 0);
    lt_errbuf_t eb = {{0}};
    cr_assert_eq(lt_links_file_write(path, s_f, &eb), LT_EIO);
    char buf[8] = "";
    FILE *fp = fopen(path, "rb");
    cr_assert(fp);
    cr_assert_eq(fread(buf, 1, sizeof buf - 1, fp), 3);
    fclose(fp);
    cr_assert_str_eq(buf, "old");
    /* And into a folder that does not exist. */
    cr_assert_eq(lt_links_file_write(s_path("none/links"), s_f, &eb), LT_EIO);
}
