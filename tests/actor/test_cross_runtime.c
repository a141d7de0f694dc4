/* One actor, two runtimes, the same behaviour (DESIGN.md §2.1): the store
 * actor driven by one scripted sequence of requests in the cooperative
 * runtime (boards/coop.h) and in the process runtime (ipc/process.h, in a
 * forked child, with the test playing the kernel on an ipc:// ROUTER) must
 * answer every request with byte-identical replies and leave byte-identical
 * RocksDB databases behind.
 *
 * Both runs use the same node key, the same seeded random source and the
 * same deterministic clock (one millisecond further at every read): the HLC
 * stamps, the store ids and thus every intention hash come from those, so
 * any difference in what a runtime feeds the actor, or in how often it reads
 * the clock, changes the replies. The control test proves it: a clock one
 * millisecond off is caught.
 *
 * The script is written once, against the cooperative run: later requests
 * use the store ids and hashes of earlier replies. The process run replays
 * the recorded request bodies byte for byte. */
#include "boards/coop.h"
#include "fake_kernel.h"
#include "ipc/process.h"
#include "store/store_actor.h"
#include "store/store_proto.h"
#include "store/tables.h"
#include "support/testutil.h"

#include <criterion/criterion.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_MAX_STEPS 64
#define S_T0        1700000000000ull
#define S_SEED      42
#define S_KEY_SEED  1
#define S_COOP_FROM "ext:cli"
/* Deadlines say when to give up on a broken run, not how long a run takes
 * (about a second here; much more under sanitizers on a loaded machine). */
#define S_DEADLINE_MS 30000
#define S_PROC_FROM   "client:0a1b2c3d"

typedef struct {
    uint32_t type;
    lt_err_t status;
    uint8_t *body;
    size_t len;
} s_reply_t;

typedef struct {
    char what[64];
    uint32_t type;
    uint8_t *body;
    size_t len;
    s_reply_t coop; /* what the cooperative runtime answered */
    s_reply_t proc; /* what the process runtime answered */
} s_step_t;

typedef struct {
    s_step_t steps[S_MAX_STEPS];
    size_t n;
} s_script_t;

static s_script_t *s_script;

/* ---- deterministic clock and randomness (the same in both runtimes) ------- */

static uint64_t s_tick(void *ctx)
{
    uint64_t *t = ctx;
    return (*t)++;
}

static void s_prng(void *state, void *buf, size_t n)
{
    uint64_t *x = state;
    uint8_t *out = buf;
    for (size_t i = 0; i < n; i++) {
        *x ^= *x >> 12;
        *x ^= *x << 25;
        *x ^= *x >> 27;
        out[i] = (uint8_t)((*x * 0x2545F4914F6CDD1DULL) >> 56);
    }
}

static void s_reply_set(s_reply_t *r, uint32_t type, lt_err_t status, const uint8_t *body,
                        size_t len)
{
    r->type = type;
    r->status = status;
    r->len = len;
    r->body = malloc(len + 1);
    cr_assert_not_null(r->body);
    if (len)
        memcpy(r->body, body, len);
}

static void s_script_free(void)
{
    if (!s_script)
        return;
    for (size_t i = 0; i < s_script->n; i++) {
        free(s_script->steps[i].body);
        free(s_script->steps[i].coop.body);
        free(s_script->steps[i].proc.body);
    }
    free(s_script);
    s_script = NULL;
}

/* ---- the cooperative run ----------------------------------------------------- */

typedef struct {
    lt_coop_t *rt;
    uint64_t clock, seed;
    uint64_t corr;   /* of the request in flight */
    s_reply_t *into; /* where its reply goes */
    unsigned replies;
} s_coop_t;

static lt_err_t s_external(void *ctx, const char *to, const lt_msg_t *m)
{
    s_coop_t *c = ctx;
    cr_assert_str_eq(to, S_COOP_FROM);
    cr_assert_eq(m->kind, LT_MSG_REPLY, "the script sends no watch: kind %d", (int)m->kind);
    cr_assert_eq(m->corr, c->corr);
    cr_assert_eq(c->replies, 0, "two replies to one request");
    c->replies++;
    s_reply_set(c->into, m->type, m->status, m->body, m->len);
    return LT_OK;
}

/* Sends one request of the script through the cooperative runtime and
 * records it with its reply. */
static s_step_t *s_call(s_coop_t *c, const char *what, uint32_t type, const lt_buf_t *body)
{
    cr_assert_lt(s_script->n, S_MAX_STEPS);
    s_step_t *st = &s_script->steps[s_script->n++];
    snprintf(st->what, sizeof st->what, "%s", what);
    st->type = type;
    st->len = body ? body->len : 0;
    st->body = malloc(st->len + 1);
    cr_assert_not_null(st->body);
    if (st->len)
        memcpy(st->body, body->data, st->len);
    c->corr = s_script->n; /* the step number: the process run uses it too */
    c->into = &st->coop;
    c->replies = 0;
    lt_msg_t m = {
        .kind = LT_MSG_REQUEST, .corr = c->corr, .type = type, .body = st->body, .len = st->len};
    cr_assert_eq(lt_coop_inject(c->rt, "store", &m, S_COOP_FROM), LT_OK);
    while (lt_coop_run(c->rt, 1000))
        ;
    cr_assert_eq(c->replies, 1, "%s: no reply", what);
    return st;
}

static s_step_t *s_call_expect(s_coop_t *c, const char *what, uint32_t type, const lt_buf_t *body,
                               lt_err_t want)
{
    s_step_t *st = s_call(c, what, type, body);
    cr_assert_eq(st->coop.status, want, "%s: %s, not %s", what, lt_errname(st->coop.status),
                 lt_errname(want));
    return st;
}

#define S_SETB(field, p, n)                                                                        \
    do {                                                                                           \
        (field).size = (pb_size_t)(n);                                                             \
        memcpy((field).bytes, (p), (n));                                                           \
    } while (0)

static void s_enc(const pb_msgdesc_t *f, const void *m, lt_buf_t *b)
{
    lt_buf_reset(b);
    cr_assert_eq(lt_pb_encode_static(f, m, b), LT_OK);
}

static lt_store_id_t s_create(s_coop_t *c, lattice_store_StoreType type, const char *name)
{
    lattice_store_StoreCreate m = lattice_store_StoreCreate_init_zero;
    m.type = type;
    snprintf(m.name, sizeof m.name, "%s", name);
    lt_buf_t b = LT_BUF_INIT;
    s_enc(lattice_store_StoreCreate_fields, &m, &b);
    s_step_t *st =
        s_call_expect(c, "store create", lattice_store_StoreMsgType_STORE_CREATE, &b, LT_OK);
    lattice_store_StoreCreated r = lattice_store_StoreCreated_init_zero;
    cr_assert_eq(
        lt_pb_decode_static(lattice_store_StoreCreated_fields, &r, st->coop.body, st->coop.len),
        LT_OK);
    cr_assert_eq(r.store.size, LT_STORE_ID_LEN);
    lt_store_id_t id;
    memcpy(id.b, r.store.bytes, LT_STORE_ID_LEN);
    lt_buf_free(&b);
    return id;
}

static lt_hash_t s_put(s_coop_t *c, const char *what, const lt_store_id_t *sid, const char *k,
                       const char *v, const uint8_t *rid)
{
    lattice_store_KvPut m = lattice_store_KvPut_init_zero;
    lt_view_t kv = {(const uint8_t *)k, strlen(k)}, vv = {(const uint8_t *)v, strlen(v)};
    S_SETB(m.store, sid->b, LT_STORE_ID_LEN);
    lt_pb_bind_write(&m.key, &kv);
    lt_pb_bind_write(&m.value, &vv);
    if (rid)
        S_SETB(m.request_id, rid, LT_REQUEST_ID_LEN);
    lt_buf_t b = LT_BUF_INIT;
    s_enc(lattice_store_KvPut_fields, &m, &b);
    s_step_t *st = s_call_expect(c, what, lattice_store_StoreMsgType_KV_PUT, &b, LT_OK);
    lattice_store_Written w = lattice_store_Written_init_zero;
    cr_assert_eq(lt_pb_decode_static(lattice_store_Written_fields, &w, st->coop.body, st->coop.len),
                 LT_OK);
    lt_hash_t h;
    memcpy(h.b, w.hash.bytes, LT_HASH_LEN);
    lt_buf_free(&b);
    return h;
}

static void s_key_req(s_coop_t *c, const char *what, uint32_t type, const lt_store_id_t *sid,
                      const char *k, lt_err_t want)
{
    lattice_store_KvKey m = lattice_store_KvKey_init_zero;
    lt_view_t kv = {(const uint8_t *)k, strlen(k)};
    S_SETB(m.store, sid->b, LT_STORE_ID_LEN);
    lt_pb_bind_write(&m.key, &kv);
    lt_buf_t b = LT_BUF_INIT;
    s_enc(lattice_store_KvKey_fields, &m, &b);
    s_call_expect(c, what, type, &b, want);
    lt_buf_free(&b);
}

static void s_ref_req(s_coop_t *c, const char *what, uint32_t type, const lt_store_id_t *sid)
{
    lattice_store_StoreRef m = lattice_store_StoreRef_init_zero;
    S_SETB(m.store, sid->b, LT_STORE_ID_LEN);
    lt_buf_t b = LT_BUF_INIT;
    s_enc(lattice_store_StoreRef_fields, &m, &b);
    s_call_expect(c, what, type, &b, LT_OK);
    lt_buf_free(&b);
}

static void s_resolve(s_coop_t *c, const char *q, lt_err_t want)
{
    lattice_store_StoreResolve m = lattice_store_StoreResolve_init_zero;
    snprintf(m.query, sizeof m.query, "%s", q);
    lt_buf_t b = LT_BUF_INIT;
    s_enc(lattice_store_StoreResolve_fields, &m, &b);
    s_call_expect(c, "store resolve", lattice_store_StoreMsgType_STORE_RESOLVE, &b, want);
    lt_buf_free(&b);
}

static void s_append(s_coop_t *c, const lt_store_id_t *sid, const char *text)
{
    lattice_store_LogAppend m = lattice_store_LogAppend_init_zero;
    lt_view_t t = {(const uint8_t *)text, strlen(text)};
    S_SETB(m.store, sid->b, LT_STORE_ID_LEN);
    lt_pb_bind_write(&m.text, &t);
    lt_buf_t b = LT_BUF_INIT;
    s_enc(lattice_store_LogAppend_fields, &m, &b);
    s_call_expect(c, "log append", lattice_store_StoreMsgType_LOG_APPEND, &b, LT_OK);
    lt_buf_free(&b);
}

/* The script: every kind of request the store serves to a client, with a
 * missing key, malformed bodies and a retried request id among them. */
static void s_write_script(s_coop_t *c)
{
    lt_buf_t b = LT_BUF_INIT;
    s_call_expect(c, "node info (empty)", lattice_store_StoreMsgType_NODE_INFO, NULL, LT_OK);
    lt_store_id_t kv = s_create(c, lattice_store_StoreType_STORE_TYPE_KV, "main");
    lt_store_id_t log = s_create(c, lattice_store_StoreType_STORE_TYPE_LOG, "journal");

    lt_hash_t h1 = s_put(c, "kv put", &kv, "a1", "one", NULL);
    uint8_t rid[LT_REQUEST_ID_LEN];
    memset(rid, 0x5c, sizeof rid);
    lt_hash_t first = s_put(c, "kv put with a request id", &kv, "a2", "two", rid);
    lt_hash_t retry = s_put(c, "the same request id again", &kv, "a2", "other", rid);
    cr_assert(lt_hash_eq(&first, &retry), "the retry was applied again");
    s_put(c, "kv put", &kv, "b1", "three", NULL);
    s_key_req(c, "kv get", lattice_store_StoreMsgType_KV_GET, &kv, "a1", LT_OK);
    s_key_req(c, "kv get of a missing key", lattice_store_StoreMsgType_KV_GET, &kv, "zz",
              LT_ENOTFOUND);
    s_key_req(c, "kv del", lattice_store_StoreMsgType_KV_DEL, &kv, "b1", LT_OK);
    s_key_req(c, "kv get of a deleted key", lattice_store_StoreMsgType_KV_GET, &kv, "b1",
              LT_ENOTFOUND);

    lattice_store_KvPrefix pm = lattice_store_KvPrefix_init_zero;
    lt_view_t pv = {(const uint8_t *)"a", 1};
    S_SETB(pm.store, kv.b, LT_STORE_ID_LEN);
    lt_pb_bind_write(&pm.prefix, &pv);
    s_enc(lattice_store_KvPrefix_fields, &pm, &b);
    s_call_expect(c, "kv list", lattice_store_StoreMsgType_KV_LIST, &b, LT_OK);

    lt_buf_reset(&b);
    lattice_store_KvBatchEntry be = lattice_store_KvBatchEntry_init_zero;
    lt_view_t c1 = {(const uint8_t *)"c1", 2}, cv = {(const uint8_t *)"cee", 3},
              a2 = {(const uint8_t *)"a2", 2}, none = {NULL, 0};
    lt_pb_bind_write(&be.key, &c1);
    lt_pb_bind_write(&be.value, &cv);
    cr_assert_eq(lt_pb_append_field(&b, lattice_store_KvBatch_entries_tag,
                                    lattice_store_KvBatchEntry_fields, &be),
                 LT_OK);
    lt_pb_bind_write(&be.key, &a2);
    lt_pb_bind_write(&be.value, &none);
    be.delete = true;
    cr_assert_eq(lt_pb_append_field(&b, lattice_store_KvBatch_entries_tag,
                                    lattice_store_KvBatchEntry_fields, &be),
                 LT_OK);
    cr_assert_eq(lt_pb_append_bytes(&b, lattice_store_KvBatch_store_tag, kv.b, LT_STORE_ID_LEN),
                 LT_OK);
    s_call_expect(c, "kv batch", lattice_store_StoreMsgType_KV_BATCH, &b, LT_OK);
    s_key_req(c, "kv inspect", lattice_store_StoreMsgType_KV_INSPECT, &kv, "a1", LT_OK);
    s_key_req(c, "kv inspect of a deleted key", lattice_store_StoreMsgType_KV_INSPECT, &kv, "a2",
              LT_OK);

    static const uint8_t junk[] = {0xff, 0xff, 0xff, 0xff, 0x0f, 0x12};
    cr_assert_eq(lt_buf_set(&b, junk, sizeof junk), LT_OK);
    s_call_expect(c, "kv get, malformed", lattice_store_StoreMsgType_KV_GET, &b, LT_EINVAL);
    s_call_expect(c, "kv put, malformed", lattice_store_StoreMsgType_KV_PUT, &b, LT_EINVAL);
    s_key_req(c, "kv put of an empty key", lattice_store_StoreMsgType_KV_PUT, &kv, "", LT_EINVAL);
    s_key_req(c, "kv get on a log store", lattice_store_StoreMsgType_KV_GET, &log, "a1", LT_ETYPE);

    s_append(c, &log, "first");
    s_append(c, &log, "second");
    s_append(c, &log, "third");
    lattice_store_LogRead lr = lattice_store_LogRead_init_zero;
    S_SETB(lr.store, log.b, LT_STORE_ID_LEN);
    lr.tail = 2;
    s_enc(lattice_store_LogRead_fields, &lr, &b);
    s_call_expect(c, "log read", lattice_store_StoreMsgType_LOG_READ, &b, LT_OK);

    lattice_store_History hq = lattice_store_History_init_zero;
    S_SETB(hq.store, kv.b, LT_STORE_ID_LEN);
    hq.limit = 10;
    s_enc(lattice_store_History_fields, &hq, &b);
    s_call_expect(c, "history", lattice_store_StoreMsgType_HISTORY, &b, LT_OK);

    lattice_store_Debug dq = lattice_store_Debug_init_zero;
    S_SETB(dq.store, kv.b, LT_STORE_ID_LEN);
    S_SETB(dq.hash, h1.b, LT_HASH_LEN);
    s_enc(lattice_store_Debug_fields, &dq, &b);
    s_call_expect(c, "debug", lattice_store_StoreMsgType_DEBUG, &b, LT_OK);
    dq.hash.bytes[0] ^= 1;
    s_enc(lattice_store_Debug_fields, &dq, &b);
    s_call_expect(c, "debug of an unknown hash", lattice_store_StoreMsgType_DEBUG, &b,
                  LT_ENOTFOUND);

    s_ref_req(c, "store info kv", lattice_store_StoreMsgType_STORE_INFO, &kv);
    s_ref_req(c, "store info log", lattice_store_StoreMsgType_STORE_INFO, &log);
    s_call_expect(c, "store list", lattice_store_StoreMsgType_STORE_LIST, NULL, LT_OK);
    s_resolve(c, "main", LT_OK);
    s_resolve(c, "journal", LT_OK);
    s_resolve(c, "nope", LT_ENOTFOUND);
    s_call_expect(c, "node info", lattice_store_StoreMsgType_NODE_INFO, NULL, LT_OK);
    s_call_expect(c, "an unknown type", 4242, NULL, LT_EINVAL);
    lt_buf_free(&b);
}

static const lt_logger_t s_quiet = {.sink = lt_log_stderr_sink, .max_level = LT_LOG_WARN};

static lt_kv_t *s_rocksdb(const char *path, bool create)
{
    lt_kv_rocksdb_opts_t o = {.create_if_missing = create};
    lt_kv_t *kv;
    lt_errbuf_t eb = {""};
    lt_err_t rc = lt_kv_rocksdb_open(path, lt_cf_names, LT_CF_COUNT, &o, &eb, &kv);
    cr_assert_eq(rc, LT_OK, "open %s: %s", path, eb.msg);
    return kv;
}

/* Writes the script by running it in the cooperative runtime over a
 * RocksDB database at dbpath. */
static void s_run_coop(const char *dbpath)
{
    s_coop_t c = {.clock = S_T0, .seed = S_SEED};
    lt_coop_config_t cc = {.now = s_tick,
                           .now_ctx = &c.clock,
                           .random = s_prng,
                           .random_ctx = &c.seed,
                           .log = &s_quiet,
                           .max_body = LT_FRAME_MAX_BODY,
                           .external = s_external,
                           .external_ctx = &c};
    cr_assert_eq(lt_coop_new(&cc, &c.rt), LT_OK);
    lt_store_actor_config_t cfg = {.kv = s_rocksdb(dbpath, true)};
    lt_test_identity(&cfg.identity, S_KEY_SEED);
    cr_assert_eq(lt_coop_add(c.rt, &lt_store_actor, &cfg), LT_OK);
    s_write_script(&c);
    lt_coop_destroy(&c.rt); /* stops the actor: it closes RocksDB */
}

/* ---- the process run ------------------------------------------------------------ */

typedef struct {
    char dbpath[4096];
    char home[4096];
    char endpoint[256];
    uint64_t t0;
} s_child_arg_t;

/* The service process: what lattice-store does, with the test's clock,
 * randomness, key and kernel endpoint. */
static int s_store_child(void *arg)
{
    const s_child_arg_t *a = arg;
    lt_kv_rocksdb_opts_t o = {.create_if_missing = true};
    lt_store_actor_config_t cfg = {.kv = NULL};
    if (lt_kv_rocksdb_open(a->dbpath, lt_cf_names, LT_CF_COUNT, &o, NULL, &cfg.kv) != LT_OK)
        return 90;
    lt_test_identity(&cfg.identity, S_KEY_SEED);
    uint64_t clock = a->t0, seed = S_SEED;
    lt_process_opts_t opts = {.home = a->home,
                              .endpoint = a->endpoint,
                              .log = &s_quiet,
                              .now = s_tick,
                              .now_ctx = &clock,
                              .random = s_prng,
                              .random_ctx = &seed,
                              .proto = 1,
                              .orphan_ms = 2 * S_DEADLINE_MS};
    int rc = lt_process_run(&lt_store_actor, &cfg, &opts);
    if (rc == LT_PROCESS_EXIT_CONFIG)
        lt_kv_close(&cfg.kv);
    return rc;
}

/* Replays the script against a store process on dbpath whose clock starts
 * at t0; the replies go to each step's proc. */
static void s_run_process(const char *home, const char *dbpath, uint64_t t0)
{
    s_child_arg_t a = {.t0 = t0};
    snprintf(a.dbpath, sizeof a.dbpath, "%s", dbpath);
    snprintf(a.home, sizeof a.home, "%s", home);
    snprintf(a.endpoint, sizeof a.endpoint, "ipc://%s/kernel.sock", home);
    lt_test_child_t child;
    lt_test_child_spawn(&child, s_store_child, &a);
    lt_test_kernel_t k = {.answer_heartbeats = true};
    lt_test_kernel_bind(&k, a.endpoint);
    lt_test_kmsg_t m = {0};
    cr_assert(lt_test_kernel_expect(&k, LT_FRAME_READY, S_DEADLINE_MS, &m),
              "no READY from the store");
    cr_assert_str_eq(m.f.name, "store");
    cr_assert_eq(m.f.proto, 1);
    cr_assert_eq(m.f.pid, (uint32_t)child.pid);
    uint8_t rid[LT_TEST_RID_MAX];
    size_t rid_len = m.rid_len;
    memcpy(rid, m.rid, rid_len);

    for (size_t i = 0; i < s_script->n; i++) {
        s_step_t *st = &s_script->steps[i];
        lt_frame_t f = {.cmd = LT_FRAME_REQUEST,
                        .corr = i + 1,
                        .type = st->type,
                        .body = st->body,
                        .len = st->len};
        snprintf(f.addr, sizeof f.addr, "%s", S_PROC_FROM);
        lt_test_kernel_send(&k, rid, rid_len, &f);
        cr_assert(lt_test_kernel_expect(&k, LT_FRAME_REPLY, S_DEADLINE_MS, &m),
                  "step %zu (%s): no reply", i + 1, st->what);
        cr_assert_str_eq(m.f.addr, S_PROC_FROM);
        cr_assert_eq(m.f.corr, i + 1);
        s_reply_set(&st->proc, m.f.type, (lt_err_t)m.f.status, m.f.body, m.f.len);
    }

    cr_assert_eq(kill(child.pid, SIGTERM), 0);
    cr_assert(lt_test_kernel_expect(&k, LT_FRAME_DISCONNECT, S_DEADLINE_MS, &m), "no DISCONNECT");
    cr_assert_eq(lt_test_child_wait(&child, S_DEADLINE_MS), LT_PROCESS_EXIT_OK);
    lt_test_kmsg_free(&m);
    lt_test_kernel_destroy(&k);
}

/* ---- comparing ------------------------------------------------------------------- */

/* The first step whose replies differ, or 0. */
static size_t s_first_difference(void)
{
    for (size_t i = 0; i < s_script->n; i++) {
        const s_reply_t *a = &s_script->steps[i].coop, *b = &s_script->steps[i].proc;
        if (a->type != b->type || a->status != b->status || a->len != b->len ||
            memcmp(a->body, b->body, a->len) != 0)
            return i + 1;
    }
    return 0;
}

/* Whether both databases hold the same keys and values in every column
 * family; why says where they first differ. */
static bool s_same_db(const char *pa, const char *pb, size_t *rows, char *why, size_t n)
{
    lt_kv_t *a = s_rocksdb(pa, false), *b = s_rocksdb(pb, false);
    bool same = true;
    *rows = 0;
    for (unsigned cf = 0; cf < LT_CF_COUNT && same; cf++) {
        lt_kv_iter_t *ia, *ib;
        cr_assert_eq(lt_kv_iter_new(a, cf, &ia), LT_OK);
        cr_assert_eq(lt_kv_iter_new(b, cf, &ib), LT_OK);
        a->ops->iter_seek_first(ia);
        b->ops->iter_seek_first(ib);
        for (;;) {
            bool va = a->ops->iter_valid(ia), vb = b->ops->iter_valid(ib);
            if (!va || !vb) {
                if (va != vb) {
                    snprintf(why, n, "%s: one database has more rows", lt_cf_names[cf]);
                    same = false;
                }
                break;
            }
            size_t kla, klb, vla, vlb;
            const uint8_t *ka = a->ops->iter_key(ia, &kla), *kb = b->ops->iter_key(ib, &klb);
            const uint8_t *xa = a->ops->iter_value(ia, &vla), *xb = b->ops->iter_value(ib, &vlb);
            if (kla != klb || memcmp(ka, kb, kla) != 0) {
                snprintf(why, n, "%s: row %zu has another key", lt_cf_names[cf], *rows);
                same = false;
                break;
            }
            if (vla != vlb || memcmp(xa, xb, vla) != 0) {
                snprintf(why, n, "%s: row %zu has another value", lt_cf_names[cf], *rows);
                same = false;
                break;
            }
            (*rows)++;
            a->ops->iter_next(ia);
            b->ops->iter_next(ib);
        }
        cr_assert_eq(a->ops->iter_status(ia), LT_OK);
        cr_assert_eq(b->ops->iter_status(ib), LT_OK);
        a->ops->iter_free(ia);
        b->ops->iter_free(ib);
    }
    lt_kv_close(&a);
    lt_kv_close(&b);
    return same;
}

/* ---- tests ------------------------------------------------------------------------ */

typedef struct {
    char *dir;
    char coop_db[4096];
    char proc_db[4096];
} s_dirs_t;

static void s_dirs(s_dirs_t *d)
{
    d->dir = lt_test_tmpdir("cross");
    snprintf(d->coop_db, sizeof d->coop_db, "%s/coop.rdb", d->dir);
    snprintf(d->proc_db, sizeof d->proc_db, "%s/proc.rdb", d->dir);
}

static void s_setup(void)
{
    s_script = calloc(1, sizeof *s_script);
    cr_assert_not_null(s_script);
}

TestSuite(cross_runtime, .init = s_setup, .fini = s_script_free);

Test(cross_runtime, the_store_answers_and_writes_the_same_in_both_runtimes)
{
    s_dirs_t d;
    s_dirs(&d);
    s_run_coop(d.coop_db);
    s_run_process(d.dir, d.proc_db, S_T0);
    for (size_t i = 0; i < s_script->n; i++) {
        const s_step_t *st = &s_script->steps[i];
        cr_assert_eq(st->proc.type, st->coop.type, "step %zu (%s): type", i + 1, st->what);
        cr_assert_eq(st->proc.status, st->coop.status, "step %zu (%s): %s in a process, %s in coop",
                     i + 1, st->what, lt_errname(st->proc.status), lt_errname(st->coop.status));
        cr_assert_eq(st->proc.len, st->coop.len, "step %zu (%s): body of %zu bytes, not %zu", i + 1,
                     st->what, st->proc.len, st->coop.len);
        cr_assert_eq(memcmp(st->proc.body, st->coop.body, st->coop.len), 0,
                     "step %zu (%s): another body", i + 1, st->what);
    }
    cr_assert_eq(s_first_difference(), 0);
    size_t rows;
    char why[256] = "";
    cr_assert(s_same_db(d.coop_db, d.proc_db, &rows, why, sizeof why), "%s", why);
    cr_assert_gt(rows, 20, "only %zu rows: did anything get written?", rows);
    lt_test_rmtree(&d.dir);
}

/* The comparison has teeth: the same script with the process's clock one
 * millisecond ahead gives other intentions, so other replies and rows. */
Test(cross_runtime, a_different_clock_is_caught)
{
    s_dirs_t d;
    s_dirs(&d);
    s_run_coop(d.coop_db);
    s_run_process(d.dir, d.proc_db, S_T0 + 1);
    size_t step = s_first_difference();
    cr_assert_neq(step, 0, "a clock 1 ms off went unnoticed");
    size_t rows;
    char why[256] = "";
    cr_assert_not(s_same_db(d.coop_db, d.proc_db, &rows, why, sizeof why));
    lt_test_rmtree(&d.dir);
}
