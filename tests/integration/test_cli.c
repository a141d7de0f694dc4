/* The lattice CLI against a real node: every command run as the real
 * binary ($LT_LATTICE_CLI) on a latticed in a temporary home
 * (tests/support/node.h), checking what it prints, its --json shapes (parsed
 * by a strict JSON reader below), its exit codes (0 ok, 1 not found,
 * 2 usage, 3 node, 4 failed) and that every error is one line on stderr.
 * watch and follow run as child processes on a pipe and must show a change
 * made by another invocation; history must draw a merge, made by ingesting
 * an intention signed by a second author. Waits poll a pipe or the kernel
 * with deadlines, never a fixed sleep. */
#include "support/node.h"
#include "support/testutil.h"

#include "ipc/client.h"
#include "store/ops_codec.h"
#include "weaver/buf.h"
#include "weaver/identity.h"
#include "weaver/intention.h"

#include "store.pb.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static lt_node_t *s_node;
static lt_node_t *s_joiner, *s_third; /* the other nodes of the join tests */

static void s_fini(void)
{
    lt_node_destroy(&s_node);
    lt_node_destroy(&s_joiner);
    lt_node_destroy(&s_third);
}

TestSuite(cli, .fini = s_fini, .timeout = 240);

static const char *const s_store_only[] = {"store", NULL};

static void s_start(void)
{
    lt_node_opts_t o = {.ready = s_store_only};
    s_node = lt_node_start(&o);
}

/* ---- running the CLI ---- */

#define S_MAX_ARGS 32

/* Runs lattice [--home HOME] args... (NULL-ended) with stdin `in`. */
static void s_run(lt_test_run_t *r, const char *home, const char *in, const char *const *args)
{
    const char *argv[S_MAX_ARGS];
    size_t n = 0;
    argv[n++] = lt_test_env_path("LT_LATTICE_CLI");
    if (home) {
        argv[n++] = "--home";
        argv[n++] = home;
    }
    for (; *args; args++) {
        cr_assert_lt(n, S_MAX_ARGS - 1);
        argv[n++] = *args;
    }
    argv[n] = NULL;
    lt_test_run(argv, NULL, in, 0, r);
    cr_assert_not(r->timed_out, "lattice %s timed out", n > 3 ? argv[3] : "");
}

/* lattice --home <the node's home> ARGS... (an argument that is NULL ends
 * the list early); _IN with stdin; _HOME with another home (NULL: none);
 * S_REPL runs the REPL with stdin. */
#define S_CLI(r, ...)            s_run(r, s_node->home, NULL, (const char *const[]){__VA_ARGS__, NULL})
#define S_CLI_IN(r, in, ...)     s_run(r, s_node->home, in, (const char *const[]){__VA_ARGS__, NULL})
#define S_CLI_HOME(r, home, ...) s_run(r, home, NULL, (const char *const[]){__VA_ARGS__, NULL})
#define S_REPL(r, in)            s_run(r, s_node->home, in, (const char *const[]){NULL})

static size_t s_count_lines(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        n += *s == '\n';
    return n;
}

/* The i-th line (0-based) of s into out, without its newline. */
static void s_line(const char *s, size_t i, char *out, size_t cap)
{
    for (; i > 0 && *s; s++)
        if (*s == '\n')
            i--;
    size_t n = strcspn(s, "\n");
    cr_assert_lt(n, cap);
    memcpy(out, s, n);
    out[n] = '\0';
}

static void s_expect_ok(const lt_test_run_t *r)
{
    cr_assert_eq(r->status, 0, "exit %d, stderr: %s", r->status, r->err);
}

/* A failure: the exit code, nothing on stdout, one line on stderr. */
static void s_expect_fail(const lt_test_run_t *r, int code)
{
    cr_assert_eq(r->status, code, "exit %d, want %d; stdout: %s; stderr: %s", r->status, code,
                 r->out, r->err);
    cr_assert_eq(r->out_len, 0, "stdout of a failure: %s", r->out);
    cr_assert_eq(s_count_lines(r->err), 1, "not one line on stderr: [%s]", r->err);
    cr_assert_eq(strncmp(r->err, "lattice: ", 9), 0, "stderr: %s", r->err);
    cr_assert_eq(r->err[r->err_len - 1], '\n');
}

static bool s_is_hex(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return false;
    return true;
}

/* stdout is exactly one lowercase hex string of `digits` and a newline. */
static void s_expect_hex_line(const lt_test_run_t *r, size_t digits, char *out)
{
    s_expect_ok(r);
    cr_assert_eq(r->out_len, digits + 1, "not %zu hex digits: [%s]", digits, r->out);
    cr_assert(s_is_hex(r->out, digits), "not hex: %s", r->out);
    cr_assert_eq(r->out[digits], '\n');
    if (out) {
        memcpy(out, r->out, digits);
        out[digits] = '\0';
    }
}

/* store create [--name NAME] [--type TYPE]; returns the id's hex. */
static void s_create(const char *name, const char *type, char id[33])
{
    lt_test_run_t r;
    if (type)
        S_CLI(&r, "store", "create", "--name", name, "--type", type);
    else
        S_CLI(&r, "store", "create", "--name", name);
    s_expect_hex_line(&r, 32, id);
    lt_test_run_free(&r);
}

static void s_put(const char *store, const char *key, const char *value, char hash[65])
{
    lt_test_run_t r;
    S_CLI(&r, "put", store, key, value);
    s_expect_hex_line(&r, 64, hash);
    lt_test_run_free(&r);
}

/* ---- a strict JSON reader, to check the --json shapes ---- */

typedef enum { J_NULL, J_BOOL, J_NUM, J_STR, J_ARR, J_OBJ } s_jt_t;

typedef struct s_jv {
    s_jt_t t;
    bool b;
    double num;
    char *s; /* J_STR: decoded, NUL-terminated */
    size_t slen;
    size_t n;       /* J_ARR, J_OBJ: members */
    char **keys;    /* J_OBJ */
    struct s_jv *v; /* members */
} s_jv_t;

typedef struct {
    const char *p, *end;
    char why[128];
} s_jp_t;

static bool s_jfail(s_jp_t *p, const char *why)
{
    if (!p->why[0])
        snprintf(p->why, sizeof p->why, "%s at [%.20s]", why, p->p);
    return false;
}

static void s_jws(s_jp_t *p)
{
    while (p->p < p->end && (*p->p == ' ' || *p->p == '\t' || *p->p == '\n' || *p->p == '\r'))
        p->p++;
}

static void s_jpush(char **buf, size_t *len, size_t *cap, const void *b, size_t n)
{
    if (*len + n + 1 > *cap) {
        *cap = (*len + n + 1) * 2;
        *buf = realloc(*buf, *cap);
        cr_assert_not_null(*buf);
    }
    memcpy(*buf + *len, b, n);
    *len += n;
    (*buf)[*len] = '\0';
}

static size_t s_utf8_len(const unsigned char *b, size_t n)
{
    if (b[0] < 0x80)
        return 1;
    size_t len = b[0] >= 0xF0 && b[0] <= 0xF4 ? 4 : b[0] >= 0xE0 ? 3 : b[0] >= 0xC2 ? 2 : 0;
    if (len == 0 || b[0] > 0xF4 || n < len)
        return 0;
    for (size_t i = 1; i < len; i++)
        if ((b[i] & 0xC0) != 0x80)
            return 0;
    return len;
}

static void s_put_utf8(char **buf, size_t *len, size_t *cap, unsigned cp)
{
    unsigned char u[4];
    size_t n;
    if (cp < 0x80) {
        u[0] = (unsigned char)cp;
        n = 1;
    } else if (cp < 0x800) {
        u[0] = (unsigned char)(0xC0 | cp >> 6);
        u[1] = (unsigned char)(0x80 | (cp & 0x3F));
        n = 2;
    } else if (cp < 0x10000) {
        u[0] = (unsigned char)(0xE0 | cp >> 12);
        u[1] = (unsigned char)(0x80 | (cp >> 6 & 0x3F));
        u[2] = (unsigned char)(0x80 | (cp & 0x3F));
        n = 3;
    } else {
        u[0] = (unsigned char)(0xF0 | cp >> 18);
        u[1] = (unsigned char)(0x80 | (cp >> 12 & 0x3F));
        u[2] = (unsigned char)(0x80 | (cp >> 6 & 0x3F));
        u[3] = (unsigned char)(0x80 | (cp & 0x3F));
        n = 4;
    }
    s_jpush(buf, len, cap, u, n);
}

static bool s_jhex4(s_jp_t *p, unsigned *out)
{
    if (p->end - p->p < 4)
        return s_jfail(p, "short \\u escape");
    *out = 0;
    for (int i = 0; i < 4; i++) {
        char c = *p->p++;
        int d = c >= '0' && c <= '9'   ? c - '0'
                : c >= 'a' && c <= 'f' ? c - 'a' + 10
                : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                       : -1;
        if (d < 0)
            return s_jfail(p, "bad \\u escape");
        *out = *out * 16 + (unsigned)d;
    }
    return true;
}

static bool s_jstring(s_jp_t *p, char **out, size_t *outlen)
{
    char *buf = NULL;
    size_t len = 0, cap = 0;
    s_jpush(&buf, &len, &cap, "", 0);
    p->p++; /* the opening quote */
    for (;;) {
        if (p->p >= p->end) {
            free(buf);
            return s_jfail(p, "unterminated string");
        }
        unsigned char c = (unsigned char)*p->p;
        if (c == '"') {
            p->p++;
            break;
        }
        if (c < 0x20) {
            free(buf);
            return s_jfail(p, "raw control character in a string");
        }
        if (c == '\\') {
            p->p++;
            char e = p->p < p->end ? *p->p++ : '\0';
            const char *simple = strchr("\"\\/bfnrt", e);
            if (e && simple) {
                static const char map[] = "\"\\/\b\f\n\r\t";
                s_jpush(&buf, &len, &cap, &map[simple - "\"\\/bfnrt"], 1);
                continue;
            }
            unsigned cp, lo;
            if (e != 'u' || !s_jhex4(p, &cp)) {
                free(buf);
                return s_jfail(p, "bad escape");
            }
            if (cp >= 0xD800 && cp <= 0xDBFF) {
                if (p->end - p->p < 6 || p->p[0] != '\\' || p->p[1] != 'u') {
                    free(buf);
                    return s_jfail(p, "lone high surrogate");
                }
                p->p += 2;
                if (!s_jhex4(p, &lo) || lo < 0xDC00 || lo > 0xDFFF) {
                    free(buf);
                    return s_jfail(p, "bad low surrogate");
                }
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
                free(buf);
                return s_jfail(p, "lone low surrogate");
            }
            s_put_utf8(&buf, &len, &cap, cp);
            continue;
        }
        size_t n = s_utf8_len((const unsigned char *)p->p, (size_t)(p->end - p->p));
        if (n == 0) {
            free(buf);
            return s_jfail(p, "invalid UTF-8 in a string");
        }
        s_jpush(&buf, &len, &cap, p->p, n);
        p->p += n;
    }
    *out = buf;
    *outlen = len;
    return true;
}

static bool s_jvalue(s_jp_t *p, s_jv_t *v, int depth);

static bool s_jmembers(s_jp_t *p, s_jv_t *v, bool object, int depth)
{
    char close = object ? '}' : ']';
    p->p++;
    s_jws(p);
    if (p->p < p->end && *p->p == close) {
        p->p++;
        return true;
    }
    for (;;) {
        v->v = realloc(v->v, (v->n + 1) * sizeof *v->v);
        cr_assert_not_null(v->v);
        memset(&v->v[v->n], 0, sizeof *v->v);
        if (object) {
            v->keys = realloc(v->keys, (v->n + 1) * sizeof *v->keys);
            cr_assert_not_null(v->keys);
            v->keys[v->n] = NULL;
            s_jws(p);
            size_t klen;
            if (p->p >= p->end || *p->p != '"' || !s_jstring(p, &v->keys[v->n], &klen))
                return s_jfail(p, "expected a key");
            v->n++; /* the key is owned by v now, whatever follows */
            s_jws(p);
            if (p->p >= p->end || *p->p != ':')
                return s_jfail(p, "expected ':'");
            p->p++;
        } else {
            v->n++;
        }
        if (!s_jvalue(p, &v->v[v->n - 1], depth + 1))
            return false;
        s_jws(p);
        if (p->p < p->end && *p->p == ',') {
            p->p++;
            continue;
        }
        if (p->p < p->end && *p->p == close) {
            p->p++;
            return true;
        }
        return s_jfail(p, "expected ',' or a close");
    }
}

static bool s_jnumber(s_jp_t *p, s_jv_t *v)
{
    const char *s = p->p;
    if (*s == '-')
        s++;
    if (s >= p->end || !(*s >= '0' && *s <= '9'))
        return s_jfail(p, "bad number");
    if (*s == '0' && s + 1 < p->end && s[1] >= '0' && s[1] <= '9')
        return s_jfail(p, "leading zero");
    char *end;
    v->t = J_NUM;
    v->num = strtod(p->p, &end);
    p->p = end;
    return true;
}

static bool s_jvalue(s_jp_t *p, s_jv_t *v, int depth)
{
    if (depth > 32)
        return s_jfail(p, "too deep");
    s_jws(p);
    if (p->p >= p->end)
        return s_jfail(p, "expected a value");
    switch (*p->p) {
    case '{':
        v->t = J_OBJ;
        return s_jmembers(p, v, true, depth);
    case '[':
        v->t = J_ARR;
        return s_jmembers(p, v, false, depth);
    case '"':
        v->t = J_STR;
        return s_jstring(p, &v->s, &v->slen);
    case 't':
    case 'f':
    case 'n': {
        const char *words[] = {"true", "false", "null"};
        for (int i = 0; i < 3; i++) {
            size_t n = strlen(words[i]);
            if ((size_t)(p->end - p->p) >= n && memcmp(p->p, words[i], n) == 0) {
                p->p += n;
                v->t = i == 2 ? J_NULL : J_BOOL;
                v->b = i == 0;
                return true;
            }
        }
        return s_jfail(p, "bad literal");
    }
    default:
        return s_jnumber(p, v);
    }
}

static void s_jfree_members(s_jv_t *v)
{
    for (size_t i = 0; i < v->n; i++) {
        s_jfree_members(&v->v[i]);
        if (v->keys)
            free(v->keys[i]);
    }
    free(v->v);
    free(v->keys);
    free(v->s);
}

static void s_jfree(s_jv_t **v_p)
{
    if (*v_p) {
        s_jfree_members(*v_p);
        free(*v_p);
        *v_p = NULL;
    }
}

/* Parses text: exactly one JSON value and a newline. */
static s_jv_t *s_json(const char *text)
{
    s_jv_t *v = calloc(1, sizeof *v);
    s_jp_t p = {.p = text, .end = text + strlen(text)};
    cr_assert_not_null(v);
    cr_assert(s_jvalue(&p, v, 0), "invalid JSON (%s): %s", p.why, text);
    cr_assert(p.p < p.end && *p.p == '\n' && p.p + 1 == p.end,
              "not one JSON value and a newline: [%s]", text);
    return v;
}

static const s_jv_t *s_jget(const s_jv_t *o, const char *key, s_jt_t t)
{
    cr_assert_eq(o->t, J_OBJ, "not an object (looking for %s)", key);
    for (size_t i = 0; i < o->n; i++) {
        if (strcmp(o->keys[i], key) == 0) {
            cr_assert_eq(o->v[i].t, t, "\"%s\" has JSON type %d, not %d", key, o->v[i].t, t);
            return &o->v[i];
        }
    }
    cr_assert_fail("no \"%s\" in the object", key);
    return NULL;
}

static bool s_jhas(const s_jv_t *o, const char *key)
{
    for (size_t i = 0; i < o->n; i++)
        if (strcmp(o->keys[i], key) == 0)
            return true;
    return false;
}

static const char *s_jstr(const s_jv_t *o, const char *key)
{
    return s_jget(o, key, J_STR)->s;
}

static double s_jnum(const s_jv_t *o, const char *key)
{
    return s_jget(o, key, J_NUM)->num;
}

static bool s_jbool(const s_jv_t *o, const char *key)
{
    return s_jget(o, key, J_BOOL)->b;
}

static void s_expect_hexstr(const s_jv_t *o, const char *key, size_t digits)
{
    const char *s = s_jstr(o, key);
    cr_assert_eq(strlen(s), digits, "\"%s\": %s", key, s);
    cr_assert(s_is_hex(s, digits), "\"%s\": %s", key, s);
}

/* Runs the command (stdout must be one JSON value) and parses it. */
static s_jv_t *s_cli_json(const char *a0, const char *a1, const char *a2, const char *a3)
{
    lt_test_run_t r;
    S_CLI(&r, "--json", a0, a1, a2, a3);
    s_expect_ok(&r);
    s_jv_t *v = s_json(r.out);
    lt_test_run_free(&r);
    return v;
}

Test(cli, the_json_checker_refuses_what_is_not_json)
{
    const char *good[] = {"{\"a\":[1,-2.5e3,true,null,\"\\u00e9\\ud83d\\ude00\"]}\n", "[]\n"};
    for (size_t i = 0; i < 2; i++) {
        s_jv_t *v = s_json(good[i]);
        s_jfree(&v);
    }
    s_jv_t *v = s_json("{\"s\":\"\\u00e9\\ud83d\\ude00\"}\n");
    cr_assert_str_eq(s_jstr(v, "s"), "\xc3\xa9\xf0\x9f\x98\x80");
    s_jfree(&v);
    const char *bad[] = {"{a:1}", "[1,]", "\"\x01\"", "\"\xff\"", "[01]", "{\"a\" 1}", "\"\\x\""};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        s_jv_t w = {0};
        s_jp_t p = {.p = bad[i], .end = bad[i] + strlen(bad[i])};
        bool ok = s_jvalue(&p, &w, 0) && p.p == p.end;
        s_jfree_members(&w);
        cr_assert_not(ok, "accepted %s", bad[i]);
    }
}

/* ---- help and usage: no node needed ---- */

Test(cli, help_is_shown_for_every_command_and_exits_0)
{
    lt_test_run_t r;
    S_CLI_HOME(&r, NULL, "--help");
    s_expect_ok(&r);
    cr_assert(strstr(r.out, "usage: lattice"), "%s", r.out);
    cr_assert(strstr(r.out, "exit codes"), "%s", r.out);
    lt_test_run_free(&r);
    const char *cmds[][2] = {
        {"node", "status"},  {"node", "services"}, {"node", "restart"}, {"node", "stop"},
        {"store", "create"}, {"store", "list"},    {"store", "info"},   {"store", "remove"},
        {"put", NULL},       {"get", NULL},        {"del", NULL},       {"list", NULL},
        {"batch", NULL},     {"inspect", NULL},    {"watch", NULL},     {"append", NULL},
        {"read", NULL},      {"follow", NULL},     {"history", NULL},   {"debug", NULL},
        {"help", NULL},      {"peer", "invite"},   {"peer", "list"},    {"peer", "revoke"},
    };
    for (size_t i = 0; i < sizeof cmds / sizeof *cmds; i++) {
        char want[64];
        snprintf(want, sizeof want, "usage: lattice %s%s%s", cmds[i][0], cmds[i][1] ? " " : "",
                 cmds[i][1] ? cmds[i][1] : "");
        if (cmds[i][1])
            S_CLI_HOME(&r, "/nonexistent", cmds[i][0], cmds[i][1], "--help");
        else
            S_CLI_HOME(&r, "/nonexistent", cmds[i][0], "--help");
        s_expect_ok(&r);
        cr_assert_eq(strncmp(r.out, want, strlen(want)), 0, "%s: %s", want, r.out);
        cr_assert_eq(r.err_len, 0);
        lt_test_run_free(&r);
    }
    S_CLI_HOME(&r, NULL, "store", "--help");
    s_expect_ok(&r);
    cr_assert(strstr(r.out, "store create"));
    lt_test_run_free(&r);
    S_CLI_HOME(&r, NULL, "help", "store", "create");
    s_expect_ok(&r);
    cr_assert_eq(strncmp(r.out, "usage: lattice store create", 27), 0);
    lt_test_run_free(&r);
}

Test(cli, usage_errors_exit_2_before_any_connection)
{
    /* The home has no node: a usage error must still be a usage error. */
    const char *cases[][6] = {
        {"frob"},
        {"node"},
        {"node", "frob"},
        {"--timeout", "0", "node", "status"},
        {"--frob"},
        {"put", "s", "k"},
        {"put", "s", "k", "v", "extra"},
        {"put", "--frob", "s", "k", "v"},
        {"get", "s", ""},
        {"read", "s", "--tail", "x"},
        {"history", "s", "--limit", "0"},
        {"store", "create", "--type", "tree"},
        {"store", "use", "s"},
        {"debug", "s", "xyz"},
        {"node", "restart"},
        {"--home"},
        {"peer", "invite", "s", "--ttl", "0"},
        {"peer", "invite", "s", "--ttl", "2y"},
        {"peer", "revoke", "s", "xyz"},
        {"peer", "revoke", "s"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        const char **c = cases[i];
        lt_test_run_t r;
        S_CLI_HOME(&r, "/nonexistent", c[0], c[1], c[2], c[3], c[4], c[5]);
        cr_assert_eq(r.status, 2, "case %zu (%s %s): exit %d: %s", i, c[0], c[1] ? c[1] : "",
                     r.status, r.err);
        s_expect_fail(&r, 2);
        lt_test_run_free(&r);
    }
}

Test(cli, a_home_without_a_node_exits_3_with_one_line)
{
    char *dir = lt_test_tmpdir("cli-nonode");
    lt_test_run_t r;
    S_CLI_HOME(&r, dir, "node", "status");
    s_expect_fail(&r, 3);
    cr_assert(strstr(r.err, "no node"), "%s", r.err);
    lt_test_run_free(&r);
    S_CLI_HOME(&r, dir, "get", "s", "k");
    s_expect_fail(&r, 3);
    lt_test_run_free(&r);
    lt_test_rmtree(&dir);
}

/* ---- the node ---- */

static void s_expect_service(const s_jv_t *s)
{
    cr_assert_eq(s->t, J_OBJ);
    cr_assert_gt(strlen(s_jstr(s, "name")), 0);
    const char *state = s_jstr(s, "state");
    const char *states[] = {"starting", "ready", "backoff", "failed", "stopped", "waiting"};
    bool known = false;
    for (size_t i = 0; i < 6; i++)
        known = known || strcmp(state, states[i]) == 0;
    cr_assert(known, "state %s", state);
    s_jnum(s, "pid");
    s_jnum(s, "restarts");
}

Test(cli, node_status_and_services_in_text_and_json)
{
    s_start();
    lt_test_run_t r;
    S_CLI(&r, "node", "status");
    s_expect_ok(&r);
    cr_assert(strstr(r.out, "home "), "%s", r.out);
    cr_assert(strstr(r.out, "store"), "%s", r.out);
    cr_assert(strstr(r.out, "ready"), "%s", r.out);
    lt_test_run_free(&r);

    s_jv_t *st = s_cli_json("node", "status", NULL, NULL);
    s_expect_hexstr(st, "node_key", 64);
    char *want_home = realpath(s_node->home, NULL), *got_home = realpath(s_jstr(st, "home"), NULL);
    cr_assert(want_home && got_home);
    cr_assert_str_eq(got_home, want_home);
    free(want_home);
    free(got_home);
    cr_assert_gt(strlen(s_jstr(st, "version")), 0);
    cr_assert_eq((pid_t)s_jnum(st, "pid"), s_node->pid);
    cr_assert_geq(s_jnum(st, "uptime_ms"), 0);
    const s_jv_t *svcs = s_jget(st, "services", J_ARR);
    cr_assert_geq(svcs->n, 1);
    for (size_t i = 0; i < svcs->n; i++)
        s_expect_service(&svcs->v[i]);
    s_jfree(&st);

    s_jv_t *list = s_cli_json("node", "services", NULL, NULL);
    cr_assert_eq(list->t, J_ARR);
    bool store_ready = false;
    for (size_t i = 0; i < list->n; i++) {
        s_expect_service(&list->v[i]);
        if (strcmp(s_jstr(&list->v[i], "name"), "store") == 0) {
            store_ready = strcmp(s_jstr(&list->v[i], "state"), "ready") == 0;
            cr_assert_eq((uint32_t)s_jnum(&list->v[i], "pid"),
                         lt_node_service_pid(s_node, "store"));
        }
    }
    cr_assert(store_ready);
    s_jfree(&list);

    S_CLI(&r, "node", "services");
    s_expect_ok(&r);
    cr_assert_eq(strncmp(r.out, "store", 5), 0, "%s", r.out);
    lt_test_run_free(&r);
}

Test(cli, node_restart_restarts_the_service)
{
    s_start();
    uint32_t pid = lt_node_service_pid(s_node, "store");
    lt_test_run_t r;
    S_CLI(&r, "node", "restart", "store");
    s_expect_ok(&r);
    cr_assert_eq(r.out_len, 0);
    lt_test_run_free(&r);
    lt_node_want_t want = {.state = LT_NODE_READY, .pid_not = pid, .min_restarts = 1};
    cr_assert(lt_node_wait_service(s_node, "store", &want, 0, NULL));
    S_CLI(&r, "node", "restart", "nosuch");
    s_expect_fail(&r, 1);
    lt_test_run_free(&r);
}

Test(cli, node_stop_stops_the_node)
{
    s_start();
    lt_test_run_t r;
    S_CLI(&r, "node", "stop");
    s_expect_ok(&r);
    lt_test_run_free(&r);
    cr_assert_eq(lt_node_wait_exit(s_node, 0), 0);
    S_CLI(&r, "node", "status");
    s_expect_fail(&r, 3);
    lt_test_run_free(&r);
}

/* ---- stores ---- */

Test(cli, stores_are_created_listed_described_and_removed)
{
    s_start();
    char notes[33], journal[33];
    s_create("notes", NULL, notes);

    s_jv_t *created = s_cli_json("store", "create", "--type=log", "--name=journal");
    s_expect_hexstr(created, "id", 32);
    cr_assert_str_eq(s_jstr(created, "type"), "log");
    cr_assert_str_eq(s_jstr(created, "name"), "journal");
    snprintf(journal, sizeof journal, "%s", s_jstr(created, "id"));
    s_jfree(&created);

    lt_test_run_t r;
    S_CLI(&r, "store", "list");
    s_expect_ok(&r);
    cr_assert_eq(s_count_lines(r.out), 2, "%s", r.out);
    cr_assert(strstr(r.out, notes) && strstr(r.out, journal), "%s", r.out);
    lt_test_run_free(&r);

    s_jv_t *list = s_cli_json("store", "list", NULL, NULL);
    cr_assert_eq(list->t, J_ARR);
    cr_assert_eq(list->n, 2);
    for (size_t i = 0; i < 2; i++) {
        const s_jv_t *s = &list->v[i];
        s_expect_hexstr(s, "id", 32);
        bool is_notes = strcmp(s_jstr(s, "id"), notes) == 0;
        cr_assert_str_eq(s_jstr(s, "name"), is_notes ? "notes" : "journal");
        cr_assert_str_eq(s_jstr(s, "type"), is_notes ? "kv" : "log");
    }
    s_jfree(&list);

    /* by name, by full id, by a prefix of the id */
    char prefix[9];
    snprintf(prefix, sizeof prefix, "%.8s", notes);
    const char *refs[] = {"notes", notes, prefix};
    for (size_t i = 0; i < 3; i++) {
        s_jv_t *info = s_cli_json("store", "info", refs[i], NULL);
        cr_assert_str_eq(s_jstr(info, "id"), notes);
        cr_assert_str_eq(s_jstr(info, "name"), "notes");
        cr_assert_str_eq(s_jstr(info, "type"), "kv");
        const char *counts[] = {"witnessed", "floating", "forks", "peers", "children"};
        for (size_t k = 0; k < 5; k++)
            cr_assert_geq(s_jnum(info, counts[k]), 0);
        s_jfree(&info);
    }
    S_CLI(&r, "store", "info", "notes");
    s_expect_ok(&r);
    cr_assert(strstr(r.out, notes) && strstr(r.out, "witnessed"), "%s", r.out);
    lt_test_run_free(&r);

    /* a child store is declared in its parent */
    S_CLI(&r, "store", "create", "--name", "child", "--parent", "notes");
    s_expect_hex_line(&r, 32, NULL);
    lt_test_run_free(&r);
    s_jv_t *info = s_cli_json("store", "info", "notes", NULL);
    cr_assert_eq(s_jnum(info, "children"), 1);
    s_jfree(&info);

    S_CLI(&r, "store", "remove", "journal");
    s_expect_ok(&r);
    cr_assert_eq(r.out_len, 0);
    lt_test_run_free(&r);
    S_CLI(&r, "store", "info", journal);
    s_expect_fail(&r, 1);
    lt_test_run_free(&r);
    S_CLI(&r, "get", "nosuch", "k");
    s_expect_fail(&r, 1);
    cr_assert(strstr(r.err, "nosuch"), "%s", r.err);
    lt_test_run_free(&r);
}

Test(cli, store_verify_checks_every_record_in_text_and_json)
{
    s_start();
    char id[33], h[65];
    s_create("checked", NULL, id);
    for (int i = 0; i < 5; i++) {
        char k[8];
        snprintf(k, sizeof k, "k%d", i);
        s_put("checked", k, "v", h);
    }
    lt_test_run_t r;
    S_CLI(&r, "store", "verify", "checked");
    s_expect_ok(&r);
    char want[128];
    snprintf(want, sizeof want, "%s: 6 witness records verified", id);
    cr_assert(strncmp(r.out, want, strlen(want)) == 0, "%s", r.out);
    lt_test_run_free(&r);
    s_jv_t *v = s_cli_json("store", "verify", "checked", NULL);
    cr_assert_str_eq(s_jstr(v, "id"), id);
    cr_assert_eq(s_jnum(v, "records"), 6);
    cr_assert(s_jbool(v, "ok"));
    s_jfree(&v);
    S_CLI(&r, "store", "verify", "no-such-store");
    s_expect_fail(&r, 1);
    lt_test_run_free(&r);
}

Test(cli, an_ambiguous_id_prefix_is_a_usage_error)
{
    s_start();
    /* 17 stores: two share their first hex digit. */
    char ids[17][33];
    for (int i = 0; i < 17; i++) {
        lt_test_run_t r;
        S_CLI(&r, "store", "create");
        s_expect_hex_line(&r, 32, ids[i]);
        lt_test_run_free(&r);
    }
    for (int i = 0; i < 17; i++)
        for (int j = i + 1; j < 17; j++)
            if (ids[i][0] == ids[j][0]) {
                char p[2] = {ids[i][0], '\0'};
                lt_test_run_t r;
                S_CLI(&r, "store", "info", p);
                s_expect_fail(&r, 2);
                cr_assert(strstr(r.err, "is a prefix of"), "%s", r.err);
                lt_test_run_free(&r);
                return;
            }
    cr_assert_fail("no two ids share a first digit");
}

/* ---- core:kvstore ---- */

Test(cli, put_get_del_list_round_trip)
{
    s_start();
    char id[33], h[65];
    s_create("kv", NULL, id);
    s_put("kv", "hello", "world", h);
    s_put("kv", "a", "1", NULL);
    s_put("kv", "b", "two words", NULL);

    lt_test_run_t r;
    S_CLI(&r, "get", "kv", "hello");
    s_expect_ok(&r);
    cr_assert_str_eq(r.out, "world\n");
    lt_test_run_free(&r);

    /* --json before or after the command */
    S_CLI(&r, "get", "kv", "hello", "--json");
    s_expect_ok(&r);
    s_jv_t *item = s_json(r.out);
    cr_assert_str_eq(s_jstr(item, "key"), "hello");
    cr_assert_str_eq(s_jstr(item, "value"), "world");
    cr_assert_not(s_jbool(item, "conflicted"));
    cr_assert_not(s_jhas(item, "value_hex"));
    s_jfree(&item);
    lt_test_run_free(&r);

    S_CLI(&r, "get", "kv", "absent");
    s_expect_fail(&r, 1);
    lt_test_run_free(&r);
    S_CLI(&r, "--json", "get", "kv", "absent");
    s_expect_fail(&r, 1);
    lt_test_run_free(&r);

    S_CLI(&r, "list", "kv");
    s_expect_ok(&r);
    cr_assert_str_eq(r.out, "a = 1\nb = two words\nhello = world\n");
    lt_test_run_free(&r);
    S_CLI(&r, "list", "kv", "h");
    s_expect_ok(&r);
    cr_assert_str_eq(r.out, "hello = world\n");
    lt_test_run_free(&r);

    s_jv_t *list = s_cli_json("list", "kv", NULL, NULL);
    cr_assert_eq(list->t, J_ARR);
    cr_assert_eq(list->n, 3);
    cr_assert_str_eq(s_jstr(&list->v[1], "key"), "b");
    cr_assert_str_eq(s_jstr(&list->v[1], "value"), "two words");
    cr_assert_not(s_jbool(&list->v[1], "conflicted"));
    cr_assert_not(s_jbool(&list->v[1], "deleted"));
    s_jfree(&list);

    S_CLI(&r, "del", "kv", "hello");
    s_expect_hex_line(&r, 64, NULL);
    lt_test_run_free(&r);
    S_CLI(&r, "get", "kv", "hello");
    s_expect_fail(&r, 1);
    lt_test_run_free(&r);

    s_jv_t *w = s_cli_json("put", "kv", "c", "3");
    s_expect_hexstr(w, "hash", 64);
    s_jfree(&w);

    /* a value that looks like an option, after -- */
    S_CLI(&r, "put", "kv", "--", "dash", "--value");
    s_expect_hex_line(&r, 64, NULL);
    lt_test_run_free(&r);
    S_CLI(&r, "get", "kv", "dash");
    cr_assert_str_eq(r.out, "--value\n");
    lt_test_run_free(&r);

    /* a KV command on a log store is refused */
    char log[33];
    s_create("lg", "log", log);
    S_CLI(&r, "put", "lg", "k", "v");
    s_expect_fail(&r, 4);
    lt_test_run_free(&r);
}

Test(cli, bytes_that_are_not_utf8_are_shown_as_hex)
{
    s_start();
    char id[33];
    s_create("bin", NULL, id);
    s_put("bin", "raw", "\xff\x01", NULL);
    s_put("bin", "t\xc3\xa9xt", "h\xc3\xa9llo \xe2\x97\x8f", NULL);

    lt_test_run_t r;
    S_CLI(&r, "get", "bin", "raw");
    s_expect_ok(&r);
    cr_assert_str_eq(r.out, "#xff01\n");
    lt_test_run_free(&r);

    s_jv_t *v = s_cli_json("get", "bin", "raw", NULL);
    cr_assert_str_eq(s_jstr(v, "value_hex"), "ff01");
    s_jstr(v, "value");
    s_jfree(&v);

    v = s_cli_json("get", "bin", "t\xc3\xa9xt", NULL);
    cr_assert_str_eq(s_jstr(v, "key"), "t\xc3\xa9xt");
    cr_assert_str_eq(s_jstr(v, "value"), "h\xc3\xa9llo \xe2\x97\x8f");
    cr_assert_not(s_jhas(v, "value_hex"));
    s_jfree(&v);

    S_CLI(&r, "list", "bin");
    s_expect_ok(&r);
    cr_assert_str_eq(r.out, "raw = #xff01\nt\xc3\xa9xt = h\xc3\xa9llo \xe2\x97\x8f\n");
    lt_test_run_free(&r);
}

static double s_witnessed(const char *store)
{
    s_jv_t *info = s_cli_json("store", "info", store, NULL);
    double n = s_jnum(info, "witnessed");
    s_jfree(&info);
    return n;
}

Test(cli, batch_writes_stdin_as_one_intention)
{
    s_start();
    char id[33];
    s_create("b", NULL, id);
    s_put("b", "gone", "soon", NULL);
    double before = s_witnessed("b");

    lt_test_run_t r;
    S_CLI_IN(&r, "put a 1\n# a comment\n\nput \"b c\" 'x y'\ndel gone\nput a 2\n", "batch", "b");
    s_expect_hex_line(&r, 64, NULL);
    lt_test_run_free(&r);
    cr_assert_eq(s_witnessed("b"), before + 1);
    S_CLI(&r, "list", "b");
    cr_assert_str_eq(r.out, "a = 2\n\"b c\" = x y\n");
    lt_test_run_free(&r);

    /* a malformed line: its number, exit 2, nothing written */
    S_CLI_IN(&r, "put z 1\nput y\n", "batch", "b");
    s_expect_fail(&r, 2);
    cr_assert(strstr(r.err, "line 2"), "%s", r.err);
    lt_test_run_free(&r);
    S_CLI_IN(&r, "put z 1\nput \"y 1\n", "batch", "b");
    s_expect_fail(&r, 2);
    cr_assert(strstr(r.err, "line 2"), "%s", r.err);
    lt_test_run_free(&r);
    S_CLI_IN(&r, "", "batch", "b");
    s_expect_fail(&r, 2);
    lt_test_run_free(&r);
    cr_assert_eq(s_witnessed("b"), before + 1);
    S_CLI(&r, "get", "b", "z");
    s_expect_fail(&r, 1);
    lt_test_run_free(&r);

    S_CLI_IN(&r, "put j 1\ndel a\n", "--json", "batch", "b");
    s_expect_ok(&r);
    s_jv_t *v = s_json(r.out);
    s_expect_hexstr(v, "hash", 64);
    cr_assert_eq(s_jnum(v, "entries"), 2);
    s_jfree(&v);
    lt_test_run_free(&r);
}

Test(cli, inspect_shows_the_heads_of_a_key)
{
    s_start();
    char id[33], h[65];
    s_create("i", NULL, id);
    s_put("i", "k", "v1", NULL);
    s_put("i", "k", "v2", h);
    lt_test_run_t r;
    S_CLI(&r, "inspect", "i", "k");
    s_expect_ok(&r);
    cr_assert_eq(s_count_lines(r.out), 1, "%s", r.out);
    cr_assert_eq(strncmp(r.out, "* ", 2), 0, "%s", r.out);
    cr_assert_eq(strncmp(r.out + 2, h, 8), 0, "%s", r.out);
    cr_assert(strstr(r.out, "v2"), "%s", r.out);
    lt_test_run_free(&r);

    s_jv_t *v = s_cli_json("inspect", "i", "k", NULL);
    cr_assert_str_eq(s_jstr(v, "key"), "k");
    cr_assert_not(s_jbool(v, "conflicted"));
    const s_jv_t *heads = s_jget(v, "heads", J_ARR);
    cr_assert_eq(heads->n, 1);
    cr_assert_str_eq(s_jstr(&heads->v[0], "hash"), h);
    s_expect_hexstr(&heads->v[0], "author", 64);
    cr_assert_gt(s_jnum(&heads->v[0], "wall_ms"), 0);
    s_jnum(&heads->v[0], "counter");
    s_jstr(&heads->v[0], "time");
    cr_assert_not(s_jbool(&heads->v[0], "tombstone"));
    cr_assert_str_eq(s_jstr(&heads->v[0], "value"), "v2");
    s_jfree(&v);

    S_CLI(&r, "inspect", "i", "never");
    s_expect_fail(&r, 1);
    lt_test_run_free(&r);
}

/* ---- streams: a child process on a pipe ---- */

typedef struct {
    pid_t pid;
    int fd;
    char buf[8192];
    size_t len;
} s_proc_t;

/* Starts lattice --home HOME args... with stdout on a pipe. */
static void s_spawn(s_proc_t *p, const char *a0, const char *a1, const char *a2, const char *a3)
{
    const char *argv[] = {
        lt_test_env_path("LT_LATTICE_CLI"), "--home", s_node->home, a0, a1, a2, a3, NULL};
    int fds[2];
    cr_assert_eq(pipe(fds), 0);
    memset(p, 0, sizeof *p);
    p->pid = fork();
    cr_assert_geq(p->pid, 0);
    if (p->pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        dup2(fds[1], STDOUT_FILENO);
        close(fds[0]);
        close(fds[1]);
        int nul = open("/dev/null", O_RDONLY);
        dup2(nul, STDIN_FILENO);
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    close(fds[1]);
    p->fd = fds[0];
}

static uint64_t s_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* The next line the child prints, waiting up to timeout_ms on the pipe. */
static bool s_next_line(s_proc_t *p, char *line, size_t cap, uint32_t timeout_ms)
{
    uint64_t deadline = s_now_ms() + timeout_ms;
    for (;;) {
        char *nl = memchr(p->buf, '\n', p->len);
        if (nl) {
            size_t n = (size_t)(nl - p->buf);
            cr_assert_lt(n, cap);
            memcpy(line, p->buf, n);
            line[n] = '\0';
            memmove(p->buf, nl + 1, p->len - n - 1);
            p->len -= n + 1;
            return true;
        }
        uint64_t now = s_now_ms();
        if (now >= deadline)
            return false;
        struct pollfd pfd = {.fd = p->fd, .events = POLLIN};
        int rc = poll(&pfd, 1, (int)(deadline - now));
        if (rc < 0 && errno == EINTR)
            continue;
        if (rc <= 0)
            return false;
        cr_assert_lt(p->len, sizeof p->buf - 1, "the child printed too much without a newline");
        ssize_t got = read(p->fd, p->buf + p->len, sizeof p->buf - 1 - p->len);
        if (got <= 0)
            return false; /* it exited */
        p->len += (size_t)got;
    }
}

/* Sends sig and returns the exit status: waits on a pidfd (readable when
 * the child exits) with a deadline, then reaps it. */
static int s_stop(s_proc_t *p, int sig)
{
    int pfd_fd = (int)syscall(SYS_pidfd_open, p->pid, 0);
    cr_assert_geq(pfd_fd, 0, "pidfd_open: %s", strerror(errno));
    cr_assert_eq(kill(p->pid, sig), 0);
    struct pollfd pfd = {.fd = pfd_fd, .events = POLLIN};
    int rc;
    do
        rc = poll(&pfd, 1, LT_NODE_TIMEOUT_MS);
    while (rc < 0 && errno == EINTR);
    close(pfd_fd);
    cr_assert_eq(rc, 1, "lattice did not stop on signal %d", sig);
    int st = 0;
    cr_assert_eq(waitpid(p->pid, &st, 0), p->pid);
    close(p->fd);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* Writes with `write_one(i)` until the stream shows a line (the stream may
 * not be registered when the first write lands). */
static void s_until_line(s_proc_t *p, void (*write_one)(int i), char *line, size_t cap)
{
    for (int i = 0; i < 100; i++) {
        write_one(i);
        if (s_next_line(p, line, cap, 300))
            return;
    }
    cr_assert_fail("the stream showed nothing");
}

static void s_put_w(int i)
{
    char v[16];
    snprintf(v, sizeof v, "v%d", i);
    s_put("w", "a1", v, NULL);
}

Test(cli, watch_prints_changes_made_by_another_invocation)
{
    s_start();
    char id[33];
    s_create("w", NULL, id);
    s_proc_t p;
    s_spawn(&p, "watch", "w", "a", NULL);
    char line[1024];
    s_until_line(&p, s_put_w, line, sizeof line);
    cr_assert_eq(strncmp(line, "put a1 = v", 10), 0, "%s", line);
    /* a key outside the prefix is not shown; the next change is */
    s_put("w", "b", "no", NULL);
    s_put("w", "a2", "two words", NULL);
    lt_test_run_t r;
    S_CLI(&r, "del", "w", "a1");
    s_expect_ok(&r);
    lt_test_run_free(&r);
    cr_assert(s_next_line(&p, line, sizeof line, LT_NODE_TIMEOUT_MS));
    cr_assert_str_eq(line, "put a2 = two words");
    cr_assert(s_next_line(&p, line, sizeof line, LT_NODE_TIMEOUT_MS));
    cr_assert_str_eq(line, "del a1");
    cr_assert_eq(s_stop(&p, SIGINT), 0);
}

Test(cli, watch_json_prints_one_object_per_line)
{
    s_start();
    char id[33];
    s_create("w", NULL, id);
    s_proc_t p;
    s_spawn(&p, "--json", "watch", "w", NULL);
    char line[2048];
    s_until_line(&p, s_put_w, line, sizeof line);
    strcat(line, "\n");
    s_jv_t *v = s_json(line);
    cr_assert_str_eq(s_jstr(v, "store"), id);
    cr_assert_str_eq(s_jstr(v, "key"), "a1");
    cr_assert_eq(strncmp(s_jstr(v, "value"), "v", 1), 0);
    cr_assert_not(s_jbool(v, "deleted"));
    cr_assert_not(s_jbool(v, "conflicted"));
    s_expect_hexstr(v, "hash", 64);
    s_jfree(&v);
    cr_assert_eq(s_stop(&p, SIGTERM), 0);
}

Test(cli, watch_goes_on_after_the_store_restarts)
{
    s_start();
    char id[33];
    s_create("w", NULL, id);
    s_proc_t p;
    s_spawn(&p, "watch", "w", NULL, NULL);
    char line[1024];
    s_until_line(&p, s_put_w, line, sizeof line);
    uint32_t pid = lt_node_service_pid(s_node, "store");
    lt_test_run_t r;
    S_CLI(&r, "node", "restart", "store");
    s_expect_ok(&r);
    lt_test_run_free(&r);
    lt_node_want_t want = {.state = LT_NODE_READY, .pid_not = pid, .min_restarts = 1};
    cr_assert(lt_node_wait_service(s_node, "store", &want, 0, NULL));
    /* the watch learns of the restart and starts again: writes show up */
    s_until_line(&p, s_put_w, line, sizeof line);
    cr_assert_eq(strncmp(line, "put a1 = v", 10), 0, "%s", line);
    cr_assert_eq(s_stop(&p, SIGINT), 0);
}

static void s_append_f(int i)
{
    char t[32];
    snprintf(t, sizeof t, "entry %d", i);
    lt_test_run_t r;
    S_CLI(&r, "append", "f", t);
    s_expect_hex_line(&r, 64, NULL);
    lt_test_run_free(&r);
}

Test(cli, follow_prints_entries_appended_by_another_invocation)
{
    s_start();
    char id[33];
    s_create("f", "log", id);
    s_proc_t p;
    s_spawn(&p, "follow", "f", NULL, NULL);
    char line[1024];
    s_until_line(&p, s_append_f, line, sizeof line);
    cr_assert(strstr(line, "  entry "), "%s", line);
    s_append_f(1000);
    cr_assert(s_next_line(&p, line, sizeof line, LT_NODE_TIMEOUT_MS));
    cr_assert(strstr(line, "  entry 1000"), "%s", line);
    cr_assert_eq(s_stop(&p, SIGINT), 0);

    s_spawn(&p, "--json", "follow", "f", NULL);
    s_until_line(&p, s_append_f, line, sizeof line);
    strcat(line, "\n");
    s_jv_t *v = s_json(line);
    cr_assert_str_eq(s_jstr(v, "store"), id);
    cr_assert_eq(strncmp(s_jstr(v, "text"), "entry ", 6), 0);
    s_expect_hexstr(v, "author", 64);
    s_expect_hexstr(v, "hash", 64);
    cr_assert_gt(s_jnum(v, "wall_ms"), 0);
    s_jfree(&v);
    cr_assert_eq(s_stop(&p, SIGTERM), 0);
}

/* ---- core:logstore ---- */

Test(cli, append_and_read_a_log)
{
    s_start();
    char id[33];
    s_create("j", "log", id);
    lt_test_run_t r;
    S_CLI(&r, "append", "j", "first entry");
    s_expect_hex_line(&r, 64, NULL);
    lt_test_run_free(&r);
    S_CLI(&r, "append", "j", "second");
    s_expect_hex_line(&r, 64, NULL);
    lt_test_run_free(&r);

    S_CLI(&r, "read", "j");
    s_expect_ok(&r);
    cr_assert_eq(s_count_lines(r.out), 2, "%s", r.out);
    char l0[256], l1[256];
    s_line(r.out, 0, l0, sizeof l0);
    s_line(r.out, 1, l1, sizeof l1);
    cr_assert(strstr(l0, "  first entry"), "%s", l0);
    cr_assert(strstr(l1, "  second"), "%s", l1);
    lt_test_run_free(&r);

    S_CLI(&r, "read", "j", "--tail", "1");
    s_expect_ok(&r);
    cr_assert_eq(s_count_lines(r.out), 1, "%s", r.out);
    cr_assert(strstr(r.out, "  second\n"), "%s", r.out);
    lt_test_run_free(&r);

    s_jv_t *v = s_cli_json("read", "j", NULL, NULL);
    cr_assert_eq(v->t, J_ARR);
    cr_assert_eq(v->n, 2);
    cr_assert_str_eq(s_jstr(&v->v[0], "text"), "first entry");
    cr_assert_str_eq(s_jstr(&v->v[1], "text"), "second");
    for (size_t i = 0; i < 2; i++) {
        cr_assert_gt(s_jnum(&v->v[i], "wall_ms"), 0);
        s_jnum(&v->v[i], "counter");
        s_jstr(&v->v[i], "time");
        s_expect_hexstr(&v->v[i], "author", 64);
        s_expect_hexstr(&v->v[i], "hash", 64);
    }
    s_jfree(&v);

    S_CLI(&r, "get", "j", "k");
    s_expect_fail(&r, 4);
    lt_test_run_free(&r);
    char kv[33];
    s_create("kv", NULL, kv);
    S_CLI(&r, "append", "kv", "x");
    s_expect_fail(&r, 4);
    lt_test_run_free(&r);
}

/* ---- history and debug ---- */

Test(cli, history_draws_one_authors_chain_as_one_lane)
{
    s_start();
    char id[33], h[3][65];
    s_create("h", NULL, id); /* its name is the first intention */
    s_put("h", "a", "1", h[0]);
    s_put("h", "b", "2", h[1]);
    s_put("h", "a", "3", h[2]);

    lt_test_run_t r;
    S_CLI(&r, "history", "h");
    s_expect_ok(&r);
    cr_assert_eq(s_count_lines(r.out), 4, "%s", r.out);
    for (size_t i = 0; i < 4; i++) {
        char line[512];
        s_line(r.out, i, line, sizeof line);
        cr_assert_eq(strncmp(line, "● ", strlen("● ")), 0, "%s", line);
        if (i < 3)
            cr_assert_eq(strncmp(line + strlen("● "), h[2 - i], 8), 0, "%s", line);
    }
    cr_assert(strstr(r.out, "put a"), "%s", r.out);
    lt_test_run_free(&r);

    S_CLI(&r, "history", "h", "--limit", "2");
    s_expect_ok(&r);
    cr_assert_eq(s_count_lines(r.out), 2, "%s", r.out);
    lt_test_run_free(&r);

    s_jv_t *v = s_cli_json("history", "h", NULL, NULL);
    cr_assert_eq(v->t, J_ARR);
    cr_assert_eq(v->n, 4);
    cr_assert_str_eq(s_jstr(&v->v[0], "hash"), h[2]);
    cr_assert_str_eq(s_jstr(&v->v[0], "store_prev"), h[1]);
    cr_assert_eq(s_jget(&v->v[3], "store_prev", J_NULL)->t, J_NULL);
    for (size_t i = 0; i < v->n; i++) {
        const s_jv_t *it = &v->v[i];
        cr_assert_eq(s_jnum(it, "seq"), (double)(v->n - i));
        s_expect_hexstr(it, "author", 64);
        cr_assert_gt(s_jnum(it, "wall_ms"), 0);
        s_jnum(it, "counter");
        s_jstr(it, "time");
        s_jget(it, "deps", J_ARR);
        s_jstr(it, "summary");
    }
    s_jfree(&v);
}

/* Ingests, as a second author, a put of key=value with no deps: concurrent
 * with everything this node wrote. Returns its hash. */
static void s_ingest_other(const char *store_hex, const char *key, const char *value,
                           lt_identity_t *other, char hash_hex[65])
{
    lt_store_id_t sid;
    memset(&sid, 0, sizeof sid);
    cr_assert_eq(lt_client_unhex(store_hex, sid.b, sizeof sid.b), LT_OK);
    cr_assert_eq(lt_crypto_init(), LT_OK);
    lt_kv_entry_t e = {
        {(const uint8_t *)key, strlen(key)}, {(const uint8_t *)value, strlen(value)}, false};
    lt_buf_t kvop = LT_BUF_INIT, ops = LT_BUF_INIT, signed_b = LT_BUF_INIT, body = LT_BUF_INIT;
    cr_assert_eq(lt_kvop_encode(&e, 1, &kvop), LT_OK);
    cr_assert_eq(lt_uop_encode_app(kvop.data, kvop.len, &ops), LT_OK);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    lt_intention_t in = {.version = LT_INTENTION_VERSION,
                         .author = other->pk,
                         .hlc = {(uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u, 0},
                         .store_id = sid,
                         .ops_len = (uint32_t)ops.len,
                         .ops = ops.data};
    lt_hash_t h;
    cr_assert_eq(lt_intention_sign(&in, other, &signed_b, &h), LT_OK);
    cr_assert_eq(lt_pb_append_bytes(&body, 1, sid.b, sizeof sid.b), LT_OK);
    cr_assert_eq(lt_pb_append_bytes(&body, 2, signed_b.data, signed_b.len), LT_OK);
    lt_node_frame_t reply;
    memset(&reply, 0, sizeof reply);
    cr_assert_eq(lt_node_request(s_node, "store", lattice_store_StoreMsgType_INGEST, body.data,
                                 body.len, 0, &reply),
                 LT_OK);
    char why[256];
    lt_node_error_text(&reply, why, sizeof why);
    cr_assert_eq(reply.status, LT_OK, "ingest: %s", why);
    lt_node_frame_clear(&reply);
    lt_client_hex(h.b, sizeof h.b, hash_hex);
    lt_buf_free(&kvop);
    lt_buf_free(&ops);
    lt_buf_free(&signed_b);
    lt_buf_free(&body);
}

Test(cli, a_second_author_makes_a_conflict_and_history_draws_the_merge)
{
    s_start();
    char id[33], mine[65], theirs[65], merge[65];
    s_create("m", NULL, id);
    s_put("m", "k", "mine", mine);
    lt_identity_t other;
    lt_test_identity(&other, 7);
    s_ingest_other(id, "k", "theirs", &other, theirs);

    /* the conflict is visible */
    lt_test_run_t r;
    S_CLI(&r, "get", "m", "k");
    s_expect_ok(&r);
    cr_assert(strcmp(r.out, "mine\n") == 0 || strcmp(r.out, "theirs\n") == 0, "%s", r.out);
    cr_assert(strstr(r.err, "concurrent"), "%s", r.err);
    lt_test_run_free(&r);
    s_jv_t *v = s_cli_json("get", "m", "k", NULL);
    cr_assert(s_jbool(v, "conflicted"));
    s_jfree(&v);
    S_CLI(&r, "list", "m");
    cr_assert(strstr(r.out, "(conflicted)"), "%s", r.out);
    lt_test_run_free(&r);
    S_CLI(&r, "inspect", "m", "k");
    s_expect_ok(&r);
    cr_assert_eq(s_count_lines(r.out), 2, "%s", r.out);
    cr_assert(strstr(r.out, "mine") && strstr(r.out, "theirs"), "%s", r.out);
    lt_test_run_free(&r);
    v = s_cli_json("inspect", "m", "k", NULL);
    cr_assert(s_jbool(v, "conflicted"));
    cr_assert_eq(s_jget(v, "heads", J_ARR)->n, 2);
    s_jfree(&v);

    /* a write that saw both heads resolves it: a merge in the DAG */
    s_put("m", "k", "merged", merge);
    S_CLI(&r, "get", "m", "k");
    cr_assert_str_eq(r.out, "merged\n");
    cr_assert_eq(r.err_len, 0, "%s", r.err);
    lt_test_run_free(&r);

    S_CLI(&r, "history", "m");
    s_expect_ok(&r);
    /* merged, its two parents (theirs on a lane of its own), the name op */
    cr_assert_eq(s_count_lines(r.out), 5, "%s", r.out);
    char line[512];
    s_line(r.out, 0, line, sizeof line);
    cr_assert_eq(strncmp(line, "●   ", strlen("●   ")), 0, "%s", r.out);
    cr_assert_eq(strncmp(line + strlen("●   "), merge, 8), 0, "%s", r.out);
    s_line(r.out, 1, line, sizeof line);
    cr_assert_str_eq(line, "├─┐", "%s", r.out);
    s_line(r.out, 2, line, sizeof line);
    cr_assert_eq(strncmp(line, "│ ● ", strlen("│ ● ")), 0, "%s", r.out);
    cr_assert_eq(strncmp(line + strlen("│ ● "), theirs, 8), 0, "%s", r.out);
    char author[9];
    lt_client_hex(other.pk.b, 4, author);
    cr_assert(strstr(line, author), "%s", r.out);
    s_line(r.out, 3, line, sizeof line);
    cr_assert_eq(strncmp(line, "●   ", strlen("●   ")), 0, "%s", r.out);
    cr_assert_eq(strncmp(line + strlen("●   "), mine, 8), 0, "%s", r.out);
    s_line(r.out, 4, line, sizeof line);
    cr_assert_eq(strncmp(line, "●   ", strlen("●   ")), 0, "%s", r.out);
    lt_test_run_free(&r);

    /* debug of the other author's intention */
    S_CLI(&r, "debug", "m", theirs);
    s_expect_ok(&r);
    cr_assert(strstr(r.out, "(store-prev nil)"), "%s", r.out);
    cr_assert(strstr(r.out, "(deps)"), "%s", r.out);
    cr_assert(strstr(r.out, "(ops (kv (put \"k\" \"theirs\")))"), "%s", r.out);
    lt_test_run_free(&r);
}

Test(cli, debug_prints_an_intention_as_an_s_expression)
{
    s_start();
    char id[33], h1[65], h2[65];
    s_create("d", NULL, id);
    s_put("d", "k", "v", h1);
    s_put("d", "k", "w x", h2);

    lt_test_run_t r;
    S_CLI(&r, "debug", "d", h2);
    s_expect_ok(&r);
    char want[256];
    cr_assert_eq(strncmp(r.out, "(intention\n", 11), 0, "%s", r.out);
    snprintf(want, sizeof want, "(hash \"%s\")", h2);
    cr_assert(strstr(r.out, want), "%s", r.out);
    snprintf(want, sizeof want, "(store-prev \"%s\")", h1);
    cr_assert(strstr(r.out, want), "%s", r.out);
    snprintf(want, sizeof want, "(store \"%s\")", id);
    cr_assert(strstr(r.out, want), "%s", r.out);
    cr_assert(strstr(r.out, "(hlc "), "%s", r.out);
    cr_assert(strstr(r.out, "(seq 3)"), "%s", r.out);
    cr_assert(strstr(r.out, "(ops (kv (put \"k\" \"w x\")))"), "%s", r.out);
    /* balanced parentheses outside strings */
    int depth = 0;
    bool in_str = false;
    for (const char *c = r.out; *c; c++) {
        if (in_str && *c == '\\' && c[1])
            c++;
        else if (*c == '"')
            in_str = !in_str;
        else if (!in_str)
            depth += *c == '(' ? 1 : *c == ')' ? -1 : 0;
        cr_assert_geq(depth, 0);
    }
    cr_assert_eq(depth, 0, "%s", r.out);
    char *full = strdup(r.out);
    lt_test_run_free(&r);

    /* a unique prefix names the same intention */
    char prefix[9];
    snprintf(prefix, sizeof prefix, "%.8s", h2);
    S_CLI(&r, "debug", "d", prefix);
    s_expect_ok(&r);
    cr_assert_str_eq(r.out, full);
    lt_test_run_free(&r);
    free(full);

    s_jv_t *v = s_cli_json("debug", "d", h2, NULL);
    cr_assert_str_eq(s_jstr(v, "hash"), h2);
    cr_assert_str_eq(s_jstr(v, "store"), id);
    cr_assert_str_eq(s_jstr(v, "store_prev"), h1);
    s_expect_hexstr(v, "author", 64);
    s_expect_hexstr(v, "signature", 128);
    cr_assert_eq(s_jnum(v, "seq"), 3);
    cr_assert_eq(s_jnum(v, "version"), 1);
    cr_assert_gt(s_jnum(v, "wall_ms"), 0);
    s_jget(v, "deps", J_ARR);
    cr_assert_str_eq(s_jstr(v, "ops"), "(kv (put \"k\" \"w x\"))");
    s_jstr(v, "ops_hex");
    s_jfree(&v);

    char zeros[65];
    memset(zeros, '0', 64);
    zeros[64] = '\0';
    S_CLI(&r, "debug", "d", zeros);
    s_expect_fail(&r, 1);
    lt_test_run_free(&r);
}

/* ---- the REPL, driven through stdin ---- */

Test(cli, the_repl_runs_commands_on_the_selected_store)
{
    s_start();
    char id[33];
    s_create("r", NULL, id);
    lt_test_run_t r;
    S_REPL(&r, "store use r\n"
               "put k \"a value\"\n"
               "get k\n"
               "# a comment\n"
               "\n"
               "get nosuch\n"
               "frob\n"
               "list\n"
               "get r k\n"
               "quit\n"
               "get k\n");
    s_expect_ok(&r);
    cr_assert_eq(s_count_lines(r.out), 4, "%s", r.out);
    char line[256];
    s_line(r.out, 0, line, sizeof line);
    cr_assert_eq(strlen(line), 64, "%s", r.out);
    s_line(r.out, 1, line, sizeof line);
    cr_assert_str_eq(line, "a value");
    s_line(r.out, 2, line, sizeof line);
    cr_assert_str_eq(line, "k = a value");
    s_line(r.out, 3, line, sizeof line);
    cr_assert_str_eq(line, "a value");
    /* the two failures, one line each, and the REPL went on */
    cr_assert_eq(s_count_lines(r.err), 2, "%s", r.err);
    lt_test_run_free(&r);

    /* end of input ends it too, with the last command's status */
    S_REPL(&r, "store use r\nget nosuch\n");
    cr_assert_eq(r.status, 1, "%s", r.err);
    lt_test_run_free(&r);
    S_REPL(&r, "store use nosuch\n");
    cr_assert_eq(r.status, 1, "%s", r.err);
    lt_test_run_free(&r);

    /* batch in the REPL reads the lines up to `end` */
    S_REPL(&r, "store use r\nbatch\nput x 1\nput y 2\nend\nlist\n");
    s_expect_ok(&r);
    cr_assert(strstr(r.out, "x = 1\ny = 2\n"), "%s", r.out);
    lt_test_run_free(&r);
}

Test(cli, peer_invite_prints_a_token_for_this_node_and_store)
{
    s_start();
    char id[33];
    s_create("shared", NULL, id);
    s_jv_t *st = s_cli_json("node", "status", NULL, NULL);
    cr_assert(st);
    const char *node_key = s_jstr(st, "node_key");

    lt_test_run_t r;
    S_CLI(&r, "peer", "invite", "shared", "--ttl", "2h");
    s_expect_ok(&r);
    cr_assert_eq(s_count_lines(r.out), 1, "%s", r.out);
    char tok[LT_CLIENT_INVITE_TOKEN_MAX];
    s_line(r.out, 0, tok, sizeof tok);
    cr_assert(strstr(r.err, "works once"), "%s", r.err);
    lt_client_invite_t inv;
    char msg[160];
    cr_assert_eq(lt_client_invite_token_decode(tok, &inv, msg, sizeof msg), LT_OK, "%s", msg);
    char hex[65];
    lt_client_hex(inv.store.b, sizeof inv.store.b, hex);
    cr_assert_str_eq(hex, id);
    lt_client_hex(inv.inviter.b, sizeof inv.inviter.b, hex);
    cr_assert_str_eq(hex, node_key);
    cr_assert_eq(inv.naddrs, 0);
    cr_assert(strstr(r.err, "listens on no address"), "%s", r.err);
    lt_test_run_free(&r);

    /* JSON: the same fields; another secret each time. */
    s_jv_t *j = s_cli_json("peer", "invite", id, NULL);
    cr_assert(j);
    cr_assert_neq(strcmp(s_jstr(j, "token"), tok), 0);
    cr_assert_str_eq(s_jstr(j, "store"), id);
    cr_assert_str_eq(s_jstr(j, "inviter"), node_key);
    cr_assert(s_jnum(j, "expires_ms") > inv.expires_ms, "the default (24h) outlives 2h");
    cr_assert(s_jget(j, "addresses", J_ARR));
    s_jfree(&j);
    s_jfree(&st);

    /* The history shows the invites by the hash of their secret. */
    S_CLI(&r, "history", "shared");
    s_expect_ok(&r);
    cr_assert(strstr(r.out, "system: invite"), "%s", r.out);
    cr_assert(strstr(r.out, " open"), "%s", r.out);
    lt_test_run_free(&r);
}

Test(cli, a_listening_node_puts_its_address_in_status_and_tokens)
{
    static const char *const args[] = {"--listen", "tcp://127.0.0.1:0", NULL};
    lt_node_opts_t o = {.ready = s_store_only, .args = args};
    s_node = lt_node_start(&o);
    char id[33];
    s_create("reachable", NULL, id);
    s_jv_t *st = s_cli_json("node", "status", NULL, NULL);
    const s_jv_t *listen = s_jget(st, "listen", J_ARR);
    cr_assert(listen && listen->n == 1);
    cr_assert_eq(listen->v[0].t, J_STR);
    const char *addr = listen->v[0].s;
    cr_assert_eq(strncmp(addr, "tcp://127.0.0.1:", 16), 0, "%s", addr);
    lt_test_run_t r;
    S_CLI(&r, "peer", "invite", "reachable");
    s_expect_ok(&r);
    cr_assert_null(strstr(r.err, "listens on no address"), "%s", r.err);
    char tok[LT_CLIENT_INVITE_TOKEN_MAX], msg[160];
    s_line(r.out, 0, tok, sizeof tok);
    lt_client_invite_t inv;
    cr_assert_eq(lt_client_invite_token_decode(tok, &inv, msg, sizeof msg), LT_OK, "%s", msg);
    cr_assert_eq(inv.naddrs, 1);
    cr_assert_str_eq(inv.addrs[0], addr);
    lt_test_run_free(&r);
    S_CLI(&r, "node", "status");
    s_expect_ok(&r);
    cr_assert(strstr(r.out, addr), "%s", r.out);
    lt_test_run_free(&r);
    s_jfree(&st);
}

Test(cli, peer_list_and_revoke_name_what_is_missing)
{
    s_start();
    char id[33];
    s_create("alone", NULL, id);
    lt_test_run_t r;
    S_CLI(&r, "peer", "list", "alone");
    s_expect_ok(&r);
    cr_assert_eq(r.out_len, 0, "%s", r.out);
    lt_test_run_free(&r);
    s_jv_t *j = s_cli_json("peer", "list", "alone", NULL);
    cr_assert(j && j->t == J_ARR && j->n == 0);
    s_jfree(&j);
    /* Not a peer: exit 1, by whole key or by prefix. */
    const char *stranger = "77777777777777777777777777777777"
                           "77777777777777777777777777777777";
    S_CLI(&r, "peer", "revoke", "alone", stranger);
    s_expect_fail(&r, 1);
    cr_assert(strstr(r.err, "not a peer"), "%s", r.err);
    lt_test_run_free(&r);
    S_CLI(&r, "peer", "revoke", "alone", "7777");
    s_expect_fail(&r, 1);
    cr_assert(strstr(r.err, "no peer of it starts with 7777"), "%s", r.err);
    lt_test_run_free(&r);
    /* The node itself: refused. */
    s_jv_t *st = s_cli_json("node", "status", NULL, NULL);
    S_CLI(&r, "peer", "revoke", "alone", s_jstr(st, "node_key"));
    s_expect_fail(&r, 4);
    cr_assert(strstr(r.err, "cannot revoke itself"), "%s", r.err);
    lt_test_run_free(&r);
    s_jfree(&st);
    /* No such store. */
    S_CLI(&r, "peer", "list", "nosuchstore");
    s_expect_fail(&r, 1);
    lt_test_run_free(&r);
}

/* The one line a command printed (an id, a token), into out. */
static void s_out_line(lt_test_run_t *r, int want, char *out, size_t cap)
{
    cr_assert_eq(r->status, want, "exit %d, want %d: %s", r->status, want, r->err);
    if (want == 0) {
        cr_assert_eq(s_count_lines(r->out), 1, "%s", r->out);
        s_line(r->out, 0, out, cap);
    }
    lt_test_run_free(r);
}

/* Whether the peer list of store id on home shows peer `key` (NULL: any
 * peer but the node itself) online, polled for at most 300 CLI runs: the
 * wait is on the state, bounded by the tries. */
static bool s_wait_online(const char *home, const char *id, const char *key)
{
    for (int i = 0; i < 300; i++) {
        lt_test_run_t r;
        S_CLI_HOME(&r, home, "--json", "peer", "list", id);
        s_expect_ok(&r);
        s_jv_t *pl = s_json(r.out);
        lt_test_run_free(&r);
        bool online = false;
        for (size_t k = 0; pl && k < pl->n; k++) {
            const s_jv_t *p = &pl->v[k];
            bool which = key ? strcmp(s_jstr(p, "key"), key) == 0 : !s_jbool(p, "self");
            online = online || (which && s_jbool(p, "online"));
        }
        s_jfree(&pl);
        if (online)
            return true;
    }
    return false;
}

Test(cli, peer_join_makes_both_nodes_peers_and_a_token_works_once)
{
    static const char *const listen[] = {"--listen", "tcp://127.0.0.1:0", NULL};
    lt_node_opts_t o = {.ready = s_store_only, .args = listen};
    s_node = lt_node_start(&o);
    lt_node_opts_t plain = {.ready = s_store_only};
    s_joiner = lt_node_start(&plain);
    s_third = lt_node_start(&plain);
    char id[33], tok[LT_CLIENT_INVITE_TOKEN_MAX], got[64];
    s_create("shared", NULL, id);
    char h[65];
    s_put("shared", "greeting", "hello", h);
    lt_test_run_t r;
    S_CLI(&r, "peer", "invite", "shared");
    s_out_line(&r, 0, tok, sizeof tok);

    /* The joiner links, presents the secret, holds the store, and clones
     * its history. */
    S_CLI_HOME(&r, s_joiner->home, "peer", "join", tok);
    s_out_line(&r, 0, got, sizeof got);
    cr_assert_str_eq(got, id);
    S_CLI_HOME(&r, s_joiner->home, "get", id, "greeting");
    s_out_line(&r, 0, got, sizeof got);
    cr_assert_str_eq(got, "hello");
    S_CLI_HOME(&r, s_joiner->home, "get", "shared", "greeting");
    s_out_line(&r, 0, got, sizeof got);
    cr_assert_str_eq(got, "hello", "the store's name came with the clone");
    s_jv_t *a = s_cli_json("node", "status", NULL, NULL);
    lt_test_run_t jr;
    S_CLI_HOME(&jr, s_joiner->home, "--json", "node", "status");
    s_expect_ok(&jr);
    s_jv_t *b = s_json(jr.out);
    lt_test_run_free(&jr);
    /* Each side lists the other as an active peer of the store. (The
     * inviter may list itself too, once the joiner's record of it has come
     * back by gossip or sync.) */
    s_jv_t *pa = s_cli_json("peer", "list", "shared", NULL);
    cr_assert(pa && pa->t == J_ARR && (pa->n == 1 || pa->n == 2));
    const s_jv_t *joiner_row = NULL;
    for (size_t i = 0; i < pa->n; i++)
        if (s_jbool(&pa->v[i], "self"))
            cr_assert_str_eq(s_jstr(&pa->v[i], "key"), s_jstr(a, "node_key"));
        else
            joiner_row = &pa->v[i];
    cr_assert(joiner_row, "the joiner is not a peer on the inviter");
    cr_assert_str_eq(s_jstr(joiner_row, "key"), s_jstr(b, "node_key"));
    cr_assert_str_eq(s_jstr(joiner_row, "status"), "active");
    S_CLI_HOME(&jr, s_joiner->home, "--json", "peer", "list", id);
    s_expect_ok(&jr);
    s_jv_t *pb = s_json(jr.out);
    lt_test_run_free(&jr);
    /* The joiner's copy has both: the inviter, which it wrote itself, and
     * itself, which came with the clone of the inviter's system table. */
    cr_assert(pb && pb->t == J_ARR && pb->n == 2);
    const s_jv_t *inviter_row = NULL;
    for (size_t i = 0; i < pb->n; i++)
        if (strcmp(s_jstr(&pb->v[i], "key"), s_jstr(a, "node_key")) == 0)
            inviter_row = &pb->v[i];
        else
            cr_assert_str_eq(s_jstr(&pb->v[i], "key"), s_jstr(b, "node_key"));
    cr_assert(inviter_row, "the inviter is a peer on the joiner");
    cr_assert_str_eq(s_jstr(inviter_row, "status"), "active");
    cr_assert(lt_node_wait_log(s_node, "admitting 1 peers and 0 open invites", 10000),
              "the inviter's kernel now admits the joiner by key");
    /* The joiner opened its link again, and is let in as a peer now. */
    char want[64];
    snprintf(want, sizeof want, "peer %.16s linked", s_jstr(b, "node_key"));
    cr_assert(lt_node_wait_log(s_node, want, 10000), "%s", want);
    S_CLI_HOME(&jr, s_joiner->home, "--json", "node", "status");
    s_expect_ok(&jr);
    s_jv_t *bs = s_json(jr.out);
    lt_test_run_free(&jr);
    const s_jv_t *links = s_jget(bs, "links", J_ARR);
    cr_assert(links && links->n == 1, "%s", jr.out);
    cr_assert_str_eq(s_jstr(&links->v[0], "peer"), s_jstr(a, "node_key"));
    cr_assert_str_eq(s_jstr(&links->v[0], "direction"), "out");
    s_jfree(&bs);
    /* The joiner's peer list says the inviter is online once the renewed
     * link's handshake is through. */
    cr_assert(s_wait_online(s_joiner->home, id, s_jstr(a, "node_key")),
              "the inviter never showed online in the joiner's peer list");

    /* The same token again: from the joiner, it holds the store already;
     * from a third node, the inviter refuses the link (no invite is open),
     * and with another invite open, its store refuses the used one. */
    S_CLI_HOME(&r, s_joiner->home, "peer", "join", tok);
    s_expect_fail(&r, 4);
    cr_assert(strstr(r.err, "holds the store already"), "%s", r.err);
    lt_test_run_free(&r);
    S_CLI_HOME(&r, s_third->home, "peer", "join", tok);
    s_expect_fail(&r, 4);
    cr_assert(strstr(r.err, "refused this node's link"), "%s", r.err);
    lt_test_run_free(&r);
    /* The refused link is gone; a request to that node just after gets the
     * refusal too, not "no link" (a request that reaches the kernel after
     * the refusal, as a join's may, is told the same). */
    char to[LT_ADDR_MAX];
    snprintf(to, sizeof to, "store@%s", s_jstr(a, "node_key"));
    lt_node_frame_t fr;
    cr_assert_eq(
        lt_node_request(s_third, to, lattice_store_StoreMsgType_NODE_INFO, NULL, 0, 0, &fr), LT_OK);
    cr_assert_eq(fr.status, LT_EREFUSED, "status %u", fr.status);
    lt_node_frame_clear(&fr);
    char tok2[LT_CLIENT_INVITE_TOKEN_MAX];
    S_CLI(&r, "peer", "invite", "shared");
    s_out_line(&r, 0, tok2, sizeof tok2);
    S_CLI_HOME(&r, s_third->home, "peer", "join", tok);
    s_expect_fail(&r, 4);
    cr_assert(strstr(r.err, "used already"), "%s", r.err);
    lt_test_run_free(&r);

    /* A token that does not parse is a usage error before any link. */
    S_CLI_HOME(&r, s_third->home, "peer", "join", "lt1.nonsense");
    s_expect_fail(&r, 2);
    lt_test_run_free(&r);
    s_jfree(&a);
    s_jfree(&b);
    s_jfree(&pa);
    s_jfree(&pb);
}

/* Two real nodes: after a join, writes made on either side reach the other
 * by `lattice sync` (the sync services of both, over the peer link). */
Test(cli, sync_brings_writes_made_on_either_node_to_the_other)
{
    /* No gossip: what crosses is sync's doing alone. */
    static const char *const listen[] = {"--listen", "tcp://127.0.0.1:0", "--services",
                                         "store,sync", NULL};
    static const char *const plain_args[] = {"--services", "store,sync", NULL};
    static const char *const with_sync[] = {"store", "sync", NULL};
    lt_node_opts_t o = {.ready = with_sync, .args = listen};
    s_node = lt_node_start(&o);
    lt_node_opts_t plain = {.ready = with_sync, .args = plain_args};
    s_joiner = lt_node_start(&plain);
    char id[33], tok[LT_CLIENT_INVITE_TOKEN_MAX], got[256], h[65];
    s_create("shared", NULL, id);
    s_put("shared", "before", "the join", h);
    lt_test_run_t r;
    S_CLI(&r, "peer", "invite", "shared");
    s_out_line(&r, 0, tok, sizeof tok);
    S_CLI_HOME(&r, s_joiner->home, "peer", "join", tok);
    s_out_line(&r, 0, got, sizeof got);
    cr_assert_str_eq(got, id);

    /* A write on each side; neither has the other's. */
    s_put("shared", "on-inviter", "one", h);
    S_CLI_HOME(&r, s_joiner->home, "put", id, "on-joiner", "two");
    s_expect_ok(&r);
    lt_test_run_free(&r);
    S_CLI_HOME(&r, s_joiner->home, "get", id, "on-inviter");
    s_expect_fail(&r, 1);
    lt_test_run_free(&r);

    /* The joiner syncs: the session runs over its link to the inviter
     * (once the renewed link is admitted: each try is one CLI run). */
    bool synced = false;
    for (int i = 0; i < 200 && !synced; i++) {
        S_CLI_HOME(&r, s_joiner->home, "sync", id);
        synced = r.status == 0;
        if (!synced)
            cr_assert_eq(r.status, 3, "sync: exit %d: %s%s", r.status, r.out, r.err);
        else
            cr_assert(strstr(r.out, "received "), "%s", r.out);
        lt_test_run_free(&r);
    }
    cr_assert(synced, "the joiner never reached the inviter");
    S_CLI_HOME(&r, s_joiner->home, "get", id, "on-inviter");
    s_out_line(&r, 0, got, sizeof got);
    cr_assert_str_eq(got, "one");
    /* The inviter, the responder, fetched what it lacked in the same round. */
    S_CLI(&r, "get", "shared", "on-joiner");
    s_out_line(&r, 0, got, sizeof got);
    cr_assert_str_eq(got, "two");

    /* The other way: the inviter reaches the joiner over the joiner's link. */
    S_CLI_HOME(&r, s_joiner->home, "put", id, "later", "three");
    s_expect_ok(&r);
    lt_test_run_free(&r);
    s_jv_t *rep = s_cli_json("sync", "shared", NULL, NULL);
    cr_assert(rep && rep->t == J_ARR && rep->n == 1);
    cr_assert(s_jbool(&rep->v[0], "reached"), "%s", s_jstr(&rep->v[0], "error"));
    cr_assert_str_eq(s_jstr(&rep->v[0], "error"), "");
    s_jfree(&rep);
    S_CLI(&r, "get", "shared", "later");
    s_out_line(&r, 0, got, sizeof got);
    cr_assert_str_eq(got, "three");
}

/* Two real nodes running no sync service at all: a write on either side
 * reaches the other by gossip alone, the first one through a chain read
 * (the joiner's clone was taken before it). */
/* The sync service runs too (it makes the join's clone) but reconciles only
 * when a link comes up and every 60 s: writes made after the link is up and
 * seen within a few seconds came by gossip. */
Test(cli, gossip_carries_writes_between_real_nodes_between_syncs)
{
    static const char *const listen[] = {"--listen", "tcp://127.0.0.1:0", NULL};
    static const char *const ready[] = {"store", "sync", "gossip", NULL};
    lt_node_opts_t o = {.ready = ready, .args = listen};
    s_node = lt_node_start(&o);
    lt_node_opts_t plain = {.ready = ready};
    s_joiner = lt_node_start(&plain);
    char id[33], tok[LT_CLIENT_INVITE_TOKEN_MAX], got[256], h[65];
    s_create("shared", NULL, id);
    lt_test_run_t r;
    S_CLI(&r, "peer", "invite", "shared");
    s_out_line(&r, 0, tok, sizeof tok);
    S_CLI_HOME(&r, s_joiner->home, "peer", "join", tok);
    s_out_line(&r, 0, got, sizeof got);
    cr_assert_str_eq(got, id);

    /* Gossip has no retry (reconciliation is what catches up): wait until
     * the joiner's renewed link is up, as its peer list shows. */
    cr_assert(s_wait_online(s_joiner->home, id, NULL),
              "the joiner's link to the inviter never came up");
    s_put("shared", "on-inviter", "one", h);
    bool seen = false;
    for (int i = 0; i < 300 && !seen; i++) {
        S_CLI_HOME(&r, s_joiner->home, "get", id, "on-inviter");
        seen = r.status == 0 && strcmp(r.out, "one\n") == 0;
        lt_test_run_free(&r);
    }
    cr_assert(seen, "the inviter's write never reached the joiner");

    S_CLI_HOME(&r, s_joiner->home, "put", id, "on-joiner", "two");
    s_expect_ok(&r);
    lt_test_run_free(&r);
    seen = false;
    for (int i = 0; i < 300 && !seen; i++) {
        S_CLI(&r, "get", "shared", "on-joiner");
        seen = r.status == 0 && strcmp(r.out, "two\n") == 0;
        lt_test_run_free(&r);
    }
    cr_assert(seen, "the joiner's write never reached the inviter");
}

/* ---- replication between real nodes (issue: peers, sync, gossip) ---- */

static const char *const s_all_services[] = {"store", "sync", "gossip", NULL};

/* A TCP port on 127.0.0.1 free a moment ago (a node that restarts must come
 * back at the address its peers recorded). */
static unsigned s_free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    cr_assert_geq(fd, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof sa;
    cr_assert_eq(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0, "bind: %s", strerror(errno));
    cr_assert_eq(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
    close(fd);
    return ntohs(sa.sin_port);
}

/* Node `home` joins the store `id` with an invite made on `inviter_home`. */
static void s_join_from(const char *inviter_home, const char *home, const char *id)
{
    char tok[LT_CLIENT_INVITE_TOKEN_MAX], got[64];
    lt_test_run_t r;
    S_CLI_HOME(&r, inviter_home, "peer", "invite", id);
    s_out_line(&r, 0, tok, sizeof tok);
    S_CLI_HOME(&r, home, "peer", "join", tok);
    s_out_line(&r, 0, got, sizeof got);
    cr_assert_str_eq(got, id);
}

/* Polls `lattice --json get` on home until key has the value want (and,
 * when conflicted is not NULL, that conflicted state), for at most 60 s of
 * CLI runs: the wait is on the state. */
static void s_wait_value(const char *home, const char *id, const char *key, const char *want,
                         const bool *conflicted)
{
    char last[256] = "(absent)";
    for (int i = 0; i < 3000; i++) {
        lt_test_run_t r;
        S_CLI_HOME(&r, home, "--json", "get", id, key);
        if (r.status == 0) {
            s_jv_t *v = s_json(r.out);
            bool ok = v && strcmp(s_jstr(v, "value"), want) == 0 &&
                      (!conflicted || s_jbool(v, "conflicted") == *conflicted);
            snprintf(last, sizeof last, "%s%s", v ? s_jstr(v, "value") : "?",
                     v && s_jbool(v, "conflicted") ? " (conflicted)" : "");
            s_jfree(&v);
            if (ok) {
                lt_test_run_free(&r);
                return;
            }
        }
        lt_test_run_free(&r);
    }
    cr_assert_fail("%s never showed %s = %s%s (last: %s)", home, key, want,
                   conflicted && *conflicted ? " (conflicted)" : "", last);
}

Test(cli, three_real_nodes_in_a_line_converge_through_the_middle)
{
    /* A - B - C: C knows only B, A knows only B. */
    static const char *const listen[] = {"--listen", "tcp://127.0.0.1:0", NULL};
    lt_node_opts_t lo = {.ready = s_all_services, .args = listen};
    lt_node_opts_t po = {.ready = s_all_services};
    s_node = lt_node_start(&lo);
    s_joiner = lt_node_start(&lo);
    s_third = lt_node_start(&po);
    char id[33], h[65];
    s_create("line", NULL, id);
    s_join_from(s_node->home, s_joiner->home, id);
    s_join_from(s_joiner->home, s_third->home, id);
    s_put("line", "from-a", "one", h);
    s_wait_value(s_third->home, id, "from-a", "one", NULL);
    lt_test_run_t r;
    S_CLI_HOME(&r, s_third->home, "put", id, "from-c", "three");
    s_expect_ok(&r);
    lt_test_run_free(&r);
    s_wait_value(s_node->home, id, "from-c", "three", NULL);
}

Test(cli, a_conflict_made_apart_shows_one_winner_on_both_and_a_later_write_settles_it)
{
    /* A listens on a fixed port: B recorded that address, and finds A there
     * again after both restarted. */
    char addr[64];
    snprintf(addr, sizeof addr, "tcp://127.0.0.1:%u", s_free_port());
    const char *const listen[] = {"--listen", addr, NULL};
    lt_node_opts_t lo = {.ready = s_all_services, .args = listen};
    lt_node_opts_t po = {.ready = s_all_services};
    s_node = lt_node_start(&lo);
    s_joiner = lt_node_start(&po);
    char id[33], h[65];
    s_create("apart", NULL, id);
    s_join_from(s_node->home, s_joiner->home, id);
    s_put("apart", "k", "base", h);
    s_wait_value(s_joiner->home, id, "k", "base", NULL);

    /* Apart: B stops, A writes and stops, B starts alone and writes. */
    cr_assert_eq(lt_node_stop(s_joiner), 0);
    s_put("apart", "k", "from a", h);
    for (int i = 0; i < 30; i++) {
        char k[16];
        snprintf(k, sizeof k, "only-a-%d", i);
        s_put("apart", k, "x", h);
    }
    cr_assert_eq(lt_node_stop(s_node), 0);
    lt_node_t *b = lt_node_start_on(s_joiner, &po);
    lt_test_run_t r;
    S_CLI_HOME(&r, b->home, "put", id, "k", "from b");
    s_expect_ok(&r);
    lt_test_run_free(&r);

    /* Together again: B links to A by itself (its links file), and the
     * link coming up reconciles both ways. Whichever write wins, both nodes
     * show the same one, and show the conflict. */
    lt_node_t *a = lt_node_start_on(s_node, &lo);
    s_wait_value(b->home, id, "only-a-29", "x", NULL);
    char va[256] = "", vb[256] = "";
    bool ca = false, cb = false;
    for (int i = 0; i < 3000 && !(ca && cb && va[0] && strcmp(va, vb) == 0); i++) {
        const char *homes[2] = {a->home, b->home};
        for (int n = 0; n < 2; n++) {
            S_CLI_HOME(&r, homes[n], "--json", "get", id, "k");
            s_jv_t *v = r.status == 0 ? s_json(r.out) : NULL;
            snprintf(n ? vb : va, sizeof va, "%s", v ? s_jstr(v, "value") : "");
            *(n ? &cb : &ca) = v && s_jbool(v, "conflicted");
            s_jfree(&v);
            lt_test_run_free(&r);
        }
    }
    cr_assert(ca && cb, "the conflict is not visible on both (A: %s, B: %s)", va, vb);
    cr_assert_str_eq(va, vb, "the nodes show different winners");
    cr_assert(strcmp(va, "from a") == 0 || strcmp(va, "from b") == 0, "winner: %s", va);

    /* A later write on either side settles it everywhere. */
    bool no = false;
    S_CLI_HOME(&r, b->home, "put", id, "k", "settled");
    s_expect_ok(&r);
    lt_test_run_free(&r);
    s_wait_value(a->home, id, "k", "settled", &no);
    s_wait_value(b->home, id, "k", "settled", &no);
    lt_node_destroy(&a);
    lt_node_destroy(&b);
}

Test(cli, killing_gossip_or_sync_does_not_stop_convergence)
{
    static const char *const listen[] = {"--listen", "tcp://127.0.0.1:0", NULL};
    lt_node_opts_t lo = {.ready = s_all_services, .args = listen};
    lt_node_opts_t po = {.ready = s_all_services};
    s_node = lt_node_start(&lo);
    s_joiner = lt_node_start(&po);
    char id[33], h[65], k[32];
    s_create("kill", NULL, id);
    s_join_from(s_node->home, s_joiner->home, id);
    s_put("kill", "before", "1", h);
    s_wait_value(s_joiner->home, id, "before", "1", NULL);

    /* A's gossip dies while A writes: the writes it could not push reach B
     * once the supervisor has restarted it (it hands every store to sync). */
    lt_node_service_t g;
    cr_assert(lt_node_service(s_node, "gossip", &g));
    lt_test_kill9((pid_t)g.pid);
    for (int i = 0; i < 20; i++) {
        snprintf(k, sizeof k, "during-gossip-%d", i);
        s_put("kill", k, "x", h);
    }
    lt_node_want_t back = {.state = LT_NODE_READY, .min_restarts = 1};
    cr_assert(lt_node_wait_service(s_node, "gossip", &back, 0, NULL), "gossip never came back");
    s_wait_value(s_joiner->home, id, "during-gossip-19", "x", NULL);
    s_wait_value(s_joiner->home, id, "during-gossip-0", "x", NULL);

    /* B's sync dies: gossip carries on, and sync is back to serve. */
    lt_node_service_t sy;
    cr_assert(lt_node_service(s_joiner, "sync", &sy));
    lt_test_kill9((pid_t)sy.pid);
    s_put("kill", "during-sync", "y", h);
    s_wait_value(s_joiner->home, id, "during-sync", "y", NULL);
    cr_assert(lt_node_wait_service(s_joiner, "sync", &back, 0, NULL), "sync never came back");
    lt_test_run_t r;
    S_CLI_HOME(&r, s_joiner->home, "sync", id);
    for (int i = 0; i < 200 && r.status != 0; i++) {
        lt_test_run_free(&r);
        S_CLI_HOME(&r, s_joiner->home, "sync", id);
    }
    s_expect_ok(&r);
    lt_test_run_free(&r);
}

Test(cli, a_revoked_peer_receives_nothing_new)
{
    static const char *const listen[] = {"--listen", "tcp://127.0.0.1:0", NULL};
    lt_node_opts_t lo = {.ready = s_all_services, .args = listen};
    lt_node_opts_t po = {.ready = s_all_services};
    s_node = lt_node_start(&lo);
    s_joiner = lt_node_start(&po);
    char id[33], h[65];
    s_create("rev", NULL, id);
    s_join_from(s_node->home, s_joiner->home, id);
    s_put("rev", "before", "shared", h);
    s_wait_value(s_joiner->home, id, "before", "shared", NULL);
    s_jv_t *b = NULL;
    lt_test_run_t r;
    S_CLI_HOME(&r, s_joiner->home, "--json", "node", "status");
    s_expect_ok(&r);
    b = s_json(r.out);
    lt_test_run_free(&r);
    S_CLI(&r, "peer", "revoke", "rev", s_jstr(b, "node_key"));
    s_expect_ok(&r);
    lt_test_run_free(&r);
    s_jfree(&b);
    s_put("rev", "after", "not for b", h);
    /* B asks for it: its link is refused, and nothing arrives. */
    S_CLI_HOME(&r, s_joiner->home, "sync", id);
    cr_assert_neq(r.status, 0, "a revoked peer synced: %s", r.out);
    lt_test_run_free(&r);
    S_CLI_HOME(&r, s_joiner->home, "get", id, "after");
    s_expect_fail(&r, 1);
    lt_test_run_free(&r);
    /* The inviter kept what B wrote before and still serves its own reads. */
    S_CLI(&r, "get", "rev", "after");
    s_expect_ok(&r);
    lt_test_run_free(&r);
}

/* ---- lattice-nano: a whole node in one thread, no RocksDB ---- */

static lt_node_opts_t s_nano_opts(const char *const *args)
{
    return (lt_node_opts_t){
        .ready = s_all_services, .args = args, .program = lt_test_env_path("LT_LATTICE_NANO")};
}

/* Runs `lattice --home home ARGS` and expects it to succeed. */
#define S_CLI_OK(home, ...)                                                                        \
    do {                                                                                           \
        lt_test_run_t r_;                                                                          \
        S_CLI_HOME(&r_, home, __VA_ARGS__);                                                        \
        s_expect_ok(&r_);                                                                          \
        lt_test_run_free(&r_);                                                                     \
    } while (0)

/* The output of `lattice --home home ARGS` (one line, no newline). */
static void s_cli_line(const char *home, const char *a0, const char *a1, const char *a2, char *out,
                       size_t cap)
{
    lt_test_run_t r;
    S_CLI_HOME(&r, home, a0, a1, a2);
    s_out_line(&r, 0, out, cap);
}

static bool s_file_exists(const char *dir, const char *name)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return access(path, F_OK) == 0;
}

Test(cli, nano_runs_every_service_in_the_node_process_and_keeps_writes_in_its_log)
{
    static const char *const none[] = {NULL};
    lt_node_opts_t o = s_nano_opts(none);
    s_node = lt_node_start(&o);
    /* One process: every service is in-process, with the node's pid. */
    s_jv_t *list = s_cli_json("node", "services", NULL, NULL);
    cr_assert_eq(list->n, 3);
    for (size_t i = 0; i < list->n; i++) {
        s_expect_service(&list->v[i]);
        cr_assert_str_eq(s_jstr(&list->v[i], "state"), "ready");
        cr_assert(s_jbool(&list->v[i], "in_process"));
        cr_assert_eq((pid_t)s_jnum(&list->v[i], "pid"), s_node->pid);
    }
    s_jfree(&list);

    char id[33], h[65], got[128];
    s_create("nano", NULL, id);
    s_put("nano", "k", "before", h);
    /* A restart of the store is a restart of its actor: what it committed
     * is read back from the log. */
    S_CLI_OK(s_node->home, "node", "restart", "store");
    lt_node_want_t again = {.state = LT_NODE_READY, .min_restarts = 1};
    cr_assert(lt_node_wait_service(s_node, "store", &again, 0, NULL));
    s_cli_line(s_node->home, "get", "nano", "k", got, sizeof got);
    cr_assert_str_eq(got, "before");

    s_put("nano", "k", "after", h);
    cr_assert_eq(lt_node_stop(s_node), 0);
    cr_assert(s_file_exists(s_node->home, "store.log"));
    cr_assert_not(s_file_exists(s_node->home, "store.rdb"), "lattice-nano made a RocksDB database");
    lt_node_t *again_node = lt_node_start_on(s_node, &o);
    s_cli_line(again_node->home, "get", id, "k", got, sizeof got);
    cr_assert_str_eq(got, "after");
    lt_node_destroy(&again_node);
}

Test(cli, nano_in_memory_keeps_nothing_past_its_run)
{
    static const char *const mem[] = {"--storage", "memory", NULL};
    lt_node_opts_t o = s_nano_opts(mem);
    s_node = lt_node_start(&o);
    char id[33], h[65];
    s_create("gone", NULL, id);
    s_put("gone", "k", "v", h);
    cr_assert_eq(lt_node_stop(s_node), 0);
    cr_assert_not(s_file_exists(s_node->home, "store.log"));
    lt_node_t *n = lt_node_start_on(s_node, &o);
    lt_test_run_t r;
    S_CLI_HOME(&r, n->home, "store", "list");
    s_expect_ok(&r);
    cr_assert_eq(r.out_len, 0, "a memory node kept: %s", r.out);
    lt_test_run_free(&r);
    lt_node_destroy(&n);
}

Test(cli, nano_and_latticed_each_refuse_the_others_home)
{
    /* A latticed home (store.rdb) under lattice-nano: its store fails with
     * the reason, the kernel keeps serving. */
    lt_node_opts_t po = {.ready = s_store_only};
    s_node = lt_node_start(&po);
    cr_assert_eq(lt_node_stop(s_node), 0);
    static const char *const none[] = {NULL};
    lt_node_opts_t no = s_nano_opts(none);
    no.ready = NULL;
    lt_node_t *n = lt_node_start_on(s_node, &no);
    lt_node_want_t failed = {.state = LT_NODE_FAILED};
    cr_assert(lt_node_wait_service(n, "store", &failed, 0, NULL));
    lt_test_run_t r;
    S_CLI_HOME(&r, n->home, "node", "services");
    s_expect_ok(&r);
    cr_assert(strstr(r.out, "holds a latticed node (store.rdb)"), "%s", r.out);
    lt_test_run_free(&r);
    cr_assert_eq(lt_node_stop(n), 0);
    lt_node_destroy(&n);

    /* A lattice-nano home (store.log) under latticed: lattice-store
     * refuses it as needing a person (exit 100: failed, not restarted). */
    s_joiner = lt_node_start(&no);
    cr_assert_eq(lt_node_stop(s_joiner), 0);
    n = lt_node_start_on(s_joiner, &(lt_node_opts_t){.ready = NULL});
    cr_assert(lt_node_wait_service(n, "store", &failed, 0, NULL));
    cr_assert_not(s_file_exists(s_joiner->home, "store.rdb"));
    cr_assert_eq(lt_node_stop(n), 0);
    lt_node_destroy(&n);
}

Test(cli, a_nano_node_joins_a_latticed_node_and_they_replicate_both_ways)
{
    /* B (nano) listens on a fixed port: A finds it there again after B was
     * killed and restarted. */
    static const char *const alisten[] = {"--listen", "tcp://127.0.0.1:0", NULL};
    lt_node_opts_t lo = {.ready = s_all_services, .args = alisten};
    s_node = lt_node_start(&lo);
    char addr[64];
    snprintf(addr, sizeof addr, "tcp://127.0.0.1:%u", s_free_port());
    const char *const blisten[] = {"--listen", addr, NULL};
    lt_node_opts_t bo = s_nano_opts(blisten);
    s_joiner = lt_node_start(&bo);

    char id[33], h[65];
    s_create("mixed", NULL, id);
    for (int i = 0; i < 20; i++) {
        char k[16];
        snprintf(k, sizeof k, "a-%d", i);
        s_put("mixed", k, "from a", h);
    }
    /* The join clones the store into B's log. */
    s_join_from(s_node->home, s_joiner->home, id);
    s_wait_value(s_joiner->home, id, "a-19", "from a", NULL);
    s_wait_value(s_joiner->home, id, "a-0", "from a", NULL);
    cr_assert(s_wait_online(s_joiner->home, id, NULL), "B's link to A never came up");
    s_put("mixed", "later", "gossiped", h);
    s_wait_value(s_joiner->home, id, "later", "gossiped", NULL);
    S_CLI_OK(s_joiner->home, "put", id, "b", "from nano");
    s_wait_value(s_node->home, id, "b", "from nano", NULL);

    /* kill -9 of B right after its writes were acknowledged: each one is in
     * its log, and after the restart A has them all and B has what A wrote
     * meanwhile. */
    for (int i = 0; i < 10; i++) {
        char k[16];
        snprintf(k, sizeof k, "b-%d", i);
        S_CLI_OK(s_joiner->home, "put", id, k, "acked");
    }
    lt_node_kill9(s_joiner);
    s_put("mixed", "while-b-was-down", "caught up", h);
    lt_node_t *b = lt_node_start_on(s_joiner, &bo);
    for (int i = 0; i < 10; i++) {
        char k[16];
        snprintf(k, sizeof k, "b-%d", i);
        char got[64];
        s_cli_line(b->home, "get", id, k, got, sizeof got);
        cr_assert_str_eq(got, "acked", "an acknowledged write was lost: %s", k);
        s_wait_value(s_node->home, id, k, "acked", NULL);
    }
    s_wait_value(b->home, id, "while-b-was-down", "caught up", NULL);
    lt_node_destroy(&b);
}
