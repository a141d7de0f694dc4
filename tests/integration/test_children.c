/* Child stores between real nodes (DESIGN.md §7; store.proto StoreCreate):
 * three latticed processes with store, sync and gossip; A invites B and C
 * to a root, creates a child of it, and the child appears on B and C by
 * itself, replicates through the root's peers (nobody joins it), and closes
 * everywhere when A removes it. Driven through the CLI; every wait polls the
 * state with CLI runs against a deadline, never a fixed sleep. */
#include "support/node.h"
#include "support/testutil.h"

#include "ipc/client.h"

#include <criterion/criterion.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static lt_node_t *s_a, *s_b, *s_c;

static void s_fini(void)
{
    lt_node_destroy(&s_a);
    lt_node_destroy(&s_b);
    lt_node_destroy(&s_c);
}

TestSuite(children, .fini = s_fini, .timeout = 240);

/* How long a replication may take (generous: sanitizer builds are slow). */
#define S_WAIT_MS 60000

static const char *const s_services[] = {"store", "sync", "gossip", NULL};

/* ---- running the CLI ---- */

#define S_MAX_ARGS 16

/* Runs lattice --home HOME args... (NULL-ended). */
static void s_run(lt_test_run_t *r, const char *home, const char *const *args)
{
    const char *argv[S_MAX_ARGS];
    size_t n = 0;
    argv[n++] = lt_test_env_path("LT_LATTICE_CLI");
    argv[n++] = "--home";
    argv[n++] = home;
    for (; *args; args++) {
        cr_assert_lt(n, S_MAX_ARGS - 1);
        argv[n++] = *args;
    }
    argv[n] = NULL;
    lt_test_run(argv, NULL, NULL, 0, r);
    cr_assert_not(r->timed_out, "lattice %s timed out", argv[3]);
}

#define S_CLI(r, home, ...) s_run(r, home, (const char *const[]){__VA_ARGS__, NULL})

static void s_expect_ok(const lt_test_run_t *r)
{
    cr_assert_eq(r->status, 0, "exit %d, stderr: %s", r->status, r->err);
}

/* The first line of a successful run's stdout into out. */
static void s_first_line(lt_test_run_t *r, char *out, size_t cap)
{
    s_expect_ok(r);
    size_t n = strcspn(r->out, "\n");
    cr_assert_lt(n, cap, "line too long: %s", r->out);
    memcpy(out, r->out, n);
    out[n] = '\0';
    lt_test_run_free(r);
}

static uint64_t s_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Node `home` joins store `id` with an invite made on `inviter`. */
static void s_join(const char *inviter, const char *home, const char *id)
{
    char tok[LT_CLIENT_INVITE_TOKEN_MAX], got[64];
    lt_test_run_t r;
    S_CLI(&r, inviter, "peer", "invite", id);
    s_first_line(&r, tok, sizeof tok);
    S_CLI(&r, home, "peer", "join", tok);
    s_first_line(&r, got, sizeof got);
    cr_assert_str_eq(got, id);
}

/* The line of `store list` on home that starts with id ("" when none). */
static void s_listed(const char *home, const char *id, char *line, size_t cap)
{
    lt_test_run_t r;
    S_CLI(&r, home, "store", "list");
    s_expect_ok(&r);
    line[0] = '\0';
    for (const char *p = r.out; *p;) {
        size_t n = strcspn(p, "\n");
        if (strncmp(p, id, strlen(id)) == 0 && n < cap) {
            memcpy(line, p, n);
            line[n] = '\0';
        }
        p += n + (p[n] == '\n');
    }
    lt_test_run_free(&r);
}

/* Polls `store list` on home until the store id is listed (or not, when
 * `want` is false); the last line seen into line (may be NULL). */
static void s_wait_listed(const char *home, const char *id, bool want, char *line, size_t cap)
{
    char got[256] = "";
    uint64_t end = s_now_ms() + S_WAIT_MS;
    do {
        s_listed(home, id, got, sizeof got);
        if ((got[0] != '\0') == want)
            break;
    } while (s_now_ms() < end);
    cr_assert_eq(got[0] != '\0', want, "%s: store %s %s listed", home, id,
                 want ? "never" : "still");
    if (line)
        snprintf(line, cap, "%s", got);
}

/* Polls `get` on home until key has the value want. */
static void s_wait_value(const char *home, const char *id, const char *key, const char *want)
{
    char expect[256], last[256] = "(absent)";
    snprintf(expect, sizeof expect, "%s\n", want);
    uint64_t end = s_now_ms() + S_WAIT_MS;
    do {
        lt_test_run_t r;
        S_CLI(&r, home, "get", id, key);
        bool ok = r.status == 0 && strcmp(r.out, expect) == 0;
        if (r.status == 0)
            snprintf(last, sizeof last, "%s", r.out);
        lt_test_run_free(&r);
        if (ok)
            return;
    } while (s_now_ms() < end);
    cr_assert_fail("%s never showed %s = %s (last: %s)", home, key, want, last);
}

static void s_put(const char *home, const char *id, const char *key, const char *value)
{
    lt_test_run_t r;
    S_CLI(&r, home, "put", id, key, value);
    s_expect_ok(&r);
    lt_test_run_free(&r);
}

/* `peer list` of store id on home names key (hex) on a line that ends
 * with "inherited". */
static bool s_lists_inherited(const char *home, const char *id, const char *key)
{
    lt_test_run_t r;
    S_CLI(&r, home, "peer", "list", id);
    s_expect_ok(&r);
    bool found = false;
    for (const char *p = r.out; *p && !found;) {
        size_t n = strcspn(p, "\n");
        found =
            strncmp(p, key, strlen(key)) == 0 && n >= 9 && strncmp(p + n - 9, "inherited", 9) == 0;
        p += n + (p[n] == '\n');
    }
    lt_test_run_free(&r);
    return found;
}

static void s_node_key(const char *home, char key[65])
{
    lt_test_run_t r;
    S_CLI(&r, home, "node", "status");
    s_expect_ok(&r);
    cr_assert_eq(strncmp(r.out, "node ", 5), 0, "node status: %s", r.out);
    const char *p = r.out + 5 + strspn(r.out + 5, " ");
    cr_assert_eq(strspn(p, "0123456789abcdef"), 64, "node status: %s", r.out);
    memcpy(key, p, 64);
    key[64] = '\0';
    lt_test_run_free(&r);
}

Test(children, a_child_created_on_a_appears_on_b_and_c_replicates_and_closes_when_removed)
{
    static const char *const listen[] = {"--listen", "tcp://127.0.0.1:0", NULL};
    lt_node_opts_t lo = {.ready = s_services, .args = listen};
    lt_node_opts_t po = {.ready = s_services};
    s_a = lt_node_start(&lo);
    s_b = lt_node_start(&po);
    s_c = lt_node_start(&po);
    const char *a = s_a->home, *b = s_b->home, *c = s_c->home;

    char root[33], child[33];
    lt_test_run_t r;
    S_CLI(&r, a, "store", "create", "--name", "root");
    s_first_line(&r, root, sizeof root);
    s_join(a, b, root);
    s_join(a, c, root);

    /* The child: declared in the root's system table on A; B and C open it
     * by themselves, under the name A gave it. */
    S_CLI(&r, a, "store", "create", "--name", "kid", "--parent", root);
    s_first_line(&r, child, sizeof child);
    char line[256];
    s_wait_listed(b, child, true, line, sizeof line);
    cr_assert(strstr(line, "kid"), "B lists the child as: %s", line);
    s_wait_listed(c, child, true, line, sizeof line);
    cr_assert(strstr(line, "kid"), "C lists the child as: %s", line);

    /* Nobody joined the child: its peers are the root's. */
    char akey[65];
    s_node_key(a, akey);
    cr_assert(s_lists_inherited(b, child, akey), "B's child does not list A as inherited");

    /* It replicates: A's write reaches B and C; B's reaches A and C. */
    s_put(a, child, "from-a", "one");
    s_wait_value(b, child, "from-a", "one");
    s_wait_value(c, child, "from-a", "one");
    s_put(b, child, "from-b", "two");
    s_wait_value(a, child, "from-b", "two");
    s_wait_value(c, child, "from-b", "two");

    /* Removed on A: B and C close it; the root stays everywhere. */
    S_CLI(&r, a, "store", "remove", child);
    s_expect_ok(&r);
    lt_test_run_free(&r);
    s_wait_listed(a, child, false, NULL, 0);
    s_wait_listed(b, child, false, NULL, 0);
    s_wait_listed(c, child, false, NULL, 0);
    const char *homes[] = {a, b, c};
    for (int i = 0; i < 3; i++) {
        s_listed(homes[i], root, line, sizeof line);
        cr_assert(line[0], "%s lost the root", homes[i]);
    }
}
