/* The store actor (services/store/store_actor.h) in the cooperative runtime:
 * requests injected by an external client, replies and events captured
 * through the runtime's external hook, a virtual clock, seeded randomness,
 * and a memory backend behind kv_faulty (to count commits and make them
 * fail). The restart test uses RocksDB in a temporary directory. */
#include "boards/coop.h"
#include "ipc/frame.h"
#include "store/kv_faulty.h"
#include "store/store_actor.h"
#include "store/store_proto.h"
#include "store/system_table.h"
#include "store/tables.h"
#include "support/testutil.h"

#include <criterion/criterion.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_CLIENT "ext:cli"
#define S_MAX    4096
#define S_GONE   "ext:gone" /* a client that has gone: sends to it fail */

typedef struct {
    lt_msg_kind_t kind;
    char to[LT_ADDR_MAX];
    uint64_t corr;
    uint32_t type;
    lt_err_t status;
    uint8_t *body;
    size_t len;
    long commits; /* backend writes seen when it arrived */
} s_got_t;

typedef struct {
    lt_coop_t *rt;
    lt_kv_t *faulty; /* borrowed: the actor owns it */
    uint64_t clock, seed;
    s_got_t got[S_MAX];
    size_t ngot;
    uint64_t next_corr;
    int refused_events; /* events to S_GONE */
    int full_left;      /* sends to S_CLIENT refused with LT_EFULL before one passes */
    uint8_t node;       /* the node key's test identity seed (0: 1) */
} s_env_t;

static s_env_t *s_env;

static uint64_t s_clock(void *ms)
{
    return *(uint64_t *)ms;
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

static lt_err_t s_external(void *ctx, const char *to, const lt_msg_t *m)
{
    s_env_t *e = ctx;
    if (strcmp(to, S_GONE) == 0) {
        e->refused_events += m->kind == LT_MSG_EVENT;
        return LT_ENOTFOUND;
    }
    if (e->full_left > 0) {
        e->full_left--;
        return LT_EFULL;
    }
    cr_assert(e->ngot < S_MAX);
    s_got_t *g = &e->got[e->ngot++];
    g->kind = m->kind;
    snprintf(g->to, sizeof g->to, "%s", to);
    g->corr = m->corr;
    g->type = m->type;
    g->status = m->status;
    g->len = m->len;
    g->body = malloc(m->len + 1);
    cr_assert(g->body);
    if (m->len)
        memcpy(g->body, m->body, m->len);
    g->commits = e->faulty ? lt_kv_faulty_writes(e->faulty) : 0;
    return LT_OK;
}

static void s_start_actor(s_env_t *e, lt_kv_t *inner, size_t max_group)
{
    lt_store_actor_config_t cfg = {.max_group = max_group};
    cr_assert_eq(lt_kv_faulty_wrap(inner, &cfg.kv), LT_OK);
    lt_test_identity(&cfg.identity, e->node ? e->node : 1);
    e->faulty = cfg.kv;
    lt_err_t rc = lt_coop_add(e->rt, &lt_store_actor, &cfg);
    cr_assert_eq(rc, LT_OK, "start: %s", lt_errname(rc));
}

/* A node whose key is test identity `node`, on `inner`. */
static void s_setup_node_with(lt_kv_t *inner, size_t max_group, uint8_t node)
{
    s_env = calloc(1, sizeof *s_env);
    cr_assert(s_env);
    s_env->node = node;
    s_env->clock = 1700000000000ull;
    s_env->seed = 42;
    s_env->next_corr = 1;
    lt_coop_config_t cc = {.now = s_clock,
                           .now_ctx = &s_env->clock,
                           .random = s_prng,
                           .random_ctx = &s_env->seed,
                           .mailbox_cap = 512,
                           .max_body = 256 * 1024,
                           .external = s_external,
                           .external_ctx = s_env};
    cr_assert_eq(lt_coop_new(&cc, &s_env->rt), LT_OK);
    s_start_actor(s_env, inner, max_group);
}

static void s_setup_with(lt_kv_t *inner, size_t max_group)
{
    s_setup_node_with(inner, max_group, 1);
}

static void s_setup(void)
{
    lt_kv_t *mem;
    cr_assert_eq(lt_kv_mem_open(LT_CF_COUNT, &mem), LT_OK);
    s_setup_with(mem, 0);
}

static void s_clear(void)
{
    for (size_t i = 0; i < s_env->ngot; i++)
        free(s_env->got[i].body);
    s_env->ngot = 0;
}

static void s_teardown(void)
{
    if (!s_env)
        return;
    s_clear();
    lt_coop_destroy(&s_env->rt);
    free(s_env);
    s_env = NULL;
}

/* ---- requests ---- */

/* A request from the client to actor `to`; its corr. */
static uint64_t s_inject_to(const char *to, uint32_t type, const lt_buf_t *body)
{
    lt_msg_t m = {.kind = LT_MSG_REQUEST,
                  .corr = s_env->next_corr++,
                  .type = type,
                  .body = body ? body->data : NULL,
                  .len = body ? body->len : 0};
    lt_err_t rc = lt_coop_inject(s_env->rt, to, &m, S_CLIENT);
    cr_assert_eq(rc, LT_OK, "inject: %s", lt_errname(rc));
    return m.corr;
}

static uint64_t s_inject(uint32_t type, const lt_buf_t *body)
{
    return s_inject_to("store", type, body);
}

static void s_run(void)
{
    while (lt_coop_run(s_env->rt, 100000))
        ;
}

static s_got_t *s_reply_to(uint64_t corr)
{
    s_got_t *found = NULL;
    for (size_t i = 0; i < s_env->ngot; i++)
        if (s_env->got[i].kind == LT_MSG_REPLY && s_env->got[i].corr == corr) {
            cr_assert_null(found, "two replies to corr %llu", (unsigned long long)corr);
            found = &s_env->got[i];
        }
    cr_assert_not_null(found, "no reply to corr %llu", (unsigned long long)corr);
    return found;
}

/* One request, run to completion, its reply. */
static s_got_t *s_call_to(const char *to, uint32_t type, const lt_buf_t *body)
{
    uint64_t corr = s_inject_to(to, type, body);
    s_run();
    s_got_t *g = s_reply_to(corr);
    cr_assert_eq(g->type, type);
    return g;
}

static s_got_t *s_call(uint32_t type, const lt_buf_t *body)
{
    return s_call_to("store", type, body);
}

static s_got_t *s_call_ok(uint32_t type, const lt_buf_t *body)
{
    s_got_t *g = s_call(type, body);
    lattice_store_Error err = lattice_store_Error_init_zero;
    if (g->status)
        if (lt_pb_decode_static(lattice_store_Error_fields, &err, g->body, g->len) != LT_OK)
            err.message[0] = '\0';
    cr_assert_eq(g->status, LT_OK, "type %u: %s: %s", type, lt_errname(g->status), err.message);
    return g;
}

static void s_enc(const pb_msgdesc_t *f, const void *m, lt_buf_t *b)
{
    lt_buf_reset(b);
    cr_assert_eq(lt_pb_encode_static(f, m, b), LT_OK);
}

#define S_SETB(field, p, n)                                                                        \
    do {                                                                                           \
        (field).size = (pb_size_t)(n);                                                             \
        memcpy((field).bytes, (p), (n));                                                           \
    } while (0)

static lt_store_id_t s_create(lattice_store_StoreType type, const char *name,
                              const lt_store_id_t *parent)
{
    lattice_store_StoreCreate m = lattice_store_StoreCreate_init_zero;
    m.type = type;
    if (name)
        snprintf(m.name, sizeof m.name, "%s", name);
    if (parent)
        S_SETB(m.parent, parent->b, LT_STORE_ID_LEN);
    lt_buf_t b = LT_BUF_INIT;
    s_enc(lattice_store_StoreCreate_fields, &m, &b);
    s_got_t *g = s_call_ok(lattice_store_StoreMsgType_STORE_CREATE, &b);
    lattice_store_StoreCreated c = lattice_store_StoreCreated_init_zero;
    cr_assert_eq(lt_pb_decode_static(lattice_store_StoreCreated_fields, &c, g->body, g->len),
                 LT_OK);
    cr_assert_eq(c.store.size, LT_STORE_ID_LEN);
    lt_store_id_t id;
    memcpy(id.b, c.store.bytes, LT_STORE_ID_LEN);
    lt_buf_free(&b);
    return id;
}

static void s_put_body(lt_buf_t *b, const lt_store_id_t *sid, const char *k, const char *v,
                       const uint8_t *rid)
{
    lattice_store_KvPut m = lattice_store_KvPut_init_zero;
    lt_view_t kv = {(const uint8_t *)k, strlen(k)}, vv = {(const uint8_t *)v, strlen(v)};
    S_SETB(m.store, sid->b, LT_STORE_ID_LEN);
    lt_pb_bind_write(&m.key, &kv);
    lt_pb_bind_write(&m.value, &vv);
    if (rid)
        S_SETB(m.request_id, rid, LT_REQUEST_ID_LEN);
    s_enc(lattice_store_KvPut_fields, &m, b);
}

static void s_key_body(lt_buf_t *b, const lt_store_id_t *sid, const char *k)
{
    lattice_store_KvKey m = lattice_store_KvKey_init_zero;
    lt_view_t kv = {(const uint8_t *)k, strlen(k)};
    S_SETB(m.store, sid->b, LT_STORE_ID_LEN);
    lt_pb_bind_write(&m.key, &kv);
    s_enc(lattice_store_KvKey_fields, &m, b);
}

static void s_prefix_body(lt_buf_t *b, const lt_store_id_t *sid, const char *p)
{
    lattice_store_KvPrefix m = lattice_store_KvPrefix_init_zero;
    lt_view_t pv = {(const uint8_t *)p, strlen(p)};
    S_SETB(m.store, sid->b, LT_STORE_ID_LEN);
    lt_pb_bind_write(&m.prefix, &pv);
    s_enc(lattice_store_KvPrefix_fields, &m, b);
}

static void s_ref_body(lt_buf_t *b, const lt_store_id_t *sid)
{
    lattice_store_StoreRef m = lattice_store_StoreRef_init_zero;
    S_SETB(m.store, sid->b, LT_STORE_ID_LEN);
    s_enc(lattice_store_StoreRef_fields, &m, b);
}

static lt_hash_t s_written(const s_got_t *g)
{
    lattice_store_Written w = lattice_store_Written_init_zero;
    cr_assert_eq(lt_pb_decode_static(lattice_store_Written_fields, &w, g->body, g->len), LT_OK);
    cr_assert_eq(w.hash.size, LT_HASH_LEN);
    lt_hash_t h;
    memcpy(h.b, w.hash.bytes, LT_HASH_LEN);
    return h;
}

static lt_hash_t s_put(const lt_store_id_t *sid, const char *k, const char *v)
{
    lt_buf_t b = LT_BUF_INIT;
    s_put_body(&b, sid, k, v, NULL);
    lt_hash_t h = s_written(s_call_ok(lattice_store_StoreMsgType_KV_PUT, &b));
    lt_buf_free(&b);
    return h;
}

/* KvGet: the value into out (NUL-terminated), or the status. */
static lt_err_t s_get(const lt_store_id_t *sid, const char *k, char *out, size_t n, bool *confl)
{
    lt_buf_t b = LT_BUF_INIT;
    s_key_body(&b, sid, k);
    s_got_t *g = s_call(lattice_store_StoreMsgType_KV_GET, &b);
    lt_buf_free(&b);
    if (g->status)
        return g->status;
    lattice_store_KvItem m = lattice_store_KvItem_init_zero;
    lt_view_t key = {NULL, 0}, val = {NULL, 0};
    lt_pb_input_t in = lt_pb_input(g->body, g->len);
    lt_pb_view_arg_t ka = {&key, &in}, va = {&val, &in};
    lt_pb_bind_view(&m.key, &ka);
    lt_pb_bind_view(&m.value, &va);
    cr_assert_eq(lt_pb_decode_static(lattice_store_KvItem_fields, &m, g->body, g->len), LT_OK);
    cr_assert_eq(key.len, strlen(k));
    cr_assert(val.len < n);
    memcpy(out, val.p ? val.p : (const uint8_t *)"", val.len);
    out[val.len] = '\0';
    if (confl)
        *confl = m.conflicted;
    return LT_OK;
}

static const char *s_errmsg(const s_got_t *g)
{
    static lattice_store_Error err;
    memset(&err, 0, sizeof err);
    cr_assert_eq(lt_pb_decode_static(lattice_store_Error_fields, &err, g->body, g->len), LT_OK);
    return err.message;
}

/* ---- tests ---- */

TestSuite(store_actor, .init = s_setup, .fini = s_teardown);

Test(store_actor, kv_requests_round_trip)
{
    lt_store_id_t sid = s_create(lattice_store_StoreType_STORE_TYPE_KV, "main", NULL);
    lt_hash_t h1 = s_put(&sid, "a1", "one");
    s_put(&sid, "a2", "two");
    s_put(&sid, "b1", "three");
    char v[64];
    cr_assert_eq(s_get(&sid, "a1", v, sizeof v, NULL), LT_OK);
    cr_assert_str_eq(v, "one");

    lt_buf_t b = LT_BUF_INIT;
    s_key_body(&b, &sid, "a2");
    lt_hash_t hd = s_written(s_call_ok(lattice_store_StoreMsgType_KV_DEL, &b));
    cr_assert_not(lt_hash_eq(&hd, &h1));
    cr_assert_eq(s_get(&sid, "a2", v, sizeof v, NULL), LT_ENOTFOUND);

    /* list "a": a1 only (a2 deleted, not conflicted) */
    s_prefix_body(&b, &sid, "a");
    s_got_t *g = s_call_ok(lattice_store_StoreMsgType_KV_LIST, &b);
    lattice_store_KvList l = lattice_store_KvList_init_zero;
    lt_pb_input_t in = lt_pb_input(g->body, g->len);
    lt_pb_views_t items = {.in = &in};
    lt_pb_bind_views(&l.items, &items);
    cr_assert_eq(lt_pb_decode_static(lattice_store_KvList_fields, &l, g->body, g->len), LT_OK);
    cr_assert_eq(items.n, 1);
    lattice_store_KvItem it = lattice_store_KvItem_init_zero;
    lt_view_t key = {NULL, 0}, val = {NULL, 0};
    lt_pb_input_t iin = lt_pb_input(items.v[0].p, items.v[0].len);
    lt_pb_view_arg_t ka = {&key, &iin}, va = {&val, &iin};
    lt_pb_bind_view(&it.key, &ka);
    lt_pb_bind_view(&it.value, &va);
    cr_assert_eq(
        lt_pb_decode_static(lattice_store_KvItem_fields, &it, items.v[0].p, items.v[0].len), LT_OK);
    cr_assert(key.len == 2 && memcmp(key.p, "a1", 2) == 0);
    cr_assert(val.len == 3 && memcmp(val.p, "one", 3) == 0);
    lt_pb_views_free(&items);

    /* batch: put c1, del b1, one intention */
    lt_buf_t e = LT_BUF_INIT;
    lattice_store_KvBatchEntry be = lattice_store_KvBatchEntry_init_zero;
    lt_view_t c1 = {(const uint8_t *)"c1", 2}, cv = {(const uint8_t *)"cee", 3},
              b1 = {(const uint8_t *)"b1", 2}, none = {NULL, 0};
    lt_pb_bind_write(&be.key, &c1);
    lt_pb_bind_write(&be.value, &cv);
    cr_assert_eq(lt_pb_append_field(&e, lattice_store_KvBatch_entries_tag,
                                    lattice_store_KvBatchEntry_fields, &be),
                 LT_OK);
    lt_pb_bind_write(&be.key, &b1);
    lt_pb_bind_write(&be.value, &none);
    be.delete = true;
    cr_assert_eq(lt_pb_append_field(&e, lattice_store_KvBatch_entries_tag,
                                    lattice_store_KvBatchEntry_fields, &be),
                 LT_OK);
    cr_assert_eq(lt_pb_append_bytes(&e, lattice_store_KvBatch_store_tag, sid.b, LT_STORE_ID_LEN),
                 LT_OK);
    s_call_ok(lattice_store_StoreMsgType_KV_BATCH, &e);
    lt_buf_free(&e);
    cr_assert_eq(s_get(&sid, "c1", v, sizeof v, NULL), LT_OK);
    cr_assert_str_eq(v, "cee");
    cr_assert_eq(s_get(&sid, "b1", v, sizeof v, NULL), LT_ENOTFOUND);

    /* inspect a1: one head, our hash, our node key */
    s_key_body(&b, &sid, "a1");
    g = s_call_ok(lattice_store_StoreMsgType_KV_INSPECT, &b);
    lattice_store_KvHeads kh = lattice_store_KvHeads_init_zero;
    in = lt_pb_input(g->body, g->len);
    lt_pb_views_t heads = {.in = &in};
    lt_view_t hkey = {NULL, 0};
    lt_pb_view_arg_t hka = {&hkey, &in};
    lt_pb_bind_view(&kh.key, &hka);
    lt_pb_bind_views(&kh.heads, &heads);
    cr_assert_eq(lt_pb_decode_static(lattice_store_KvHeads_fields, &kh, g->body, g->len), LT_OK);
    cr_assert_eq(heads.n, 1);
    lattice_store_Head hd0 = lattice_store_Head_init_zero;
    lt_view_t hv = {NULL, 0};
    lt_pb_input_t hin = lt_pb_input(heads.v[0].p, heads.v[0].len);
    lt_pb_view_arg_t hva = {&hv, &hin};
    lt_pb_bind_view(&hd0.value, &hva);
    cr_assert_eq(lt_pb_decode_static(lattice_store_Head_fields, &hd0, heads.v[0].p, heads.v[0].len),
                 LT_OK);
    cr_assert_eq(memcmp(hd0.hash.bytes, h1.b, LT_HASH_LEN), 0);
    cr_assert_not(hd0.tombstone);
    cr_assert(hv.len == 3 && memcmp(hv.p, "one", 3) == 0);
    lt_identity_t me;
    lt_test_identity(&me, 1);
    cr_assert_eq(memcmp(hd0.author.bytes, me.pk.b, LT_KEY_LEN), 0);
    lt_pb_views_free(&heads);

    /* store info, list, node info */
    s_ref_body(&b, &sid);
    g = s_call_ok(lattice_store_StoreMsgType_STORE_INFO, &b);
    lattice_store_StoreInfo si = lattice_store_StoreInfo_init_zero;
    cr_assert_eq(lt_pb_decode_static(lattice_store_StoreInfo_fields, &si, g->body, g->len), LT_OK);
    cr_assert_str_eq(si.name, "main");
    cr_assert_eq(si.type, lattice_store_StoreType_STORE_TYPE_KV);
    cr_assert_eq(si.witnessed, 6); /* name, 3 puts, del, batch */
    cr_assert_eq(si.floating, 0);
    cr_assert_eq(si.forks, 0);

    g = s_call_ok(lattice_store_StoreMsgType_STORE_LIST, NULL);
    lattice_store_StoreList sl = lattice_store_StoreList_init_zero;
    in = lt_pb_input(g->body, g->len);
    lt_pb_views_t stores = {.in = &in};
    lt_pb_bind_views(&sl.stores, &stores);
    cr_assert_eq(lt_pb_decode_static(lattice_store_StoreList_fields, &sl, g->body, g->len), LT_OK);
    cr_assert_eq(stores.n, 1);
    lattice_store_StoreSummary ss = lattice_store_StoreSummary_init_zero;
    cr_assert_eq(
        lt_pb_decode_static(lattice_store_StoreSummary_fields, &ss, stores.v[0].p, stores.v[0].len),
        LT_OK);
    cr_assert_str_eq(ss.name, "main");
    cr_assert_eq(memcmp(ss.store.bytes, sid.b, LT_STORE_ID_LEN), 0);
    lt_pb_views_free(&stores);

    g = s_call_ok(lattice_store_StoreMsgType_NODE_INFO, NULL);
    lattice_store_NodeInfo ni = lattice_store_NodeInfo_init_zero;
    cr_assert_eq(lt_pb_decode_static(lattice_store_NodeInfo_fields, &ni, g->body, g->len), LT_OK);
    cr_assert_eq(memcmp(ni.node_key.bytes, me.pk.b, LT_KEY_LEN), 0);
    cr_assert_eq(ni.stores, 1);

    /* a KV request on a log store is refused */
    lt_store_id_t log = s_create(lattice_store_StoreType_STORE_TYPE_LOG, NULL, NULL);
    s_key_body(&b, &log, "a1");
    cr_assert_eq(s_call(lattice_store_StoreMsgType_KV_GET, &b)->status, LT_ETYPE);

    /* remove: gone afterwards */
    s_ref_body(&b, &sid);
    s_call_ok(lattice_store_StoreMsgType_STORE_REMOVE, &b);
    cr_assert_eq(s_get(&sid, "a1", v, sizeof v, NULL), LT_ENOTFOUND);
    cr_assert_eq(s_call(lattice_store_StoreMsgType_STORE_INFO, &b)->status, LT_ENOTFOUND);
    lt_buf_free(&b);
}

Test(store_actor, child_store_is_declared_in_its_parent)
{
    lt_store_id_t parent = s_create(lattice_store_StoreType_STORE_TYPE_KV, "root", NULL);
    s_create(lattice_store_StoreType_STORE_TYPE_LOG, "kid", &parent);
    lt_buf_t b = LT_BUF_INIT;
    s_ref_body(&b, &parent);
    s_got_t *g = s_call_ok(lattice_store_StoreMsgType_STORE_INFO, &b);
    lattice_store_StoreInfo si = lattice_store_StoreInfo_init_zero;
    cr_assert_eq(lt_pb_decode_static(lattice_store_StoreInfo_fields, &si, g->body, g->len), LT_OK);
    cr_assert_eq(si.children, 1);
    lt_store_id_t nope = {{0}};
    nope.b[0] = 9;
    lattice_store_StoreCreate m = lattice_store_StoreCreate_init_zero;
    S_SETB(m.parent, nope.b, LT_STORE_ID_LEN);
    s_enc(lattice_store_StoreCreate_fields, &m, &b);
    cr_assert_eq(s_call(lattice_store_StoreMsgType_STORE_CREATE, &b)->status, LT_ENOTFOUND);
    lt_buf_free(&b);
}

/* Removing a child here declares it removed in its parent first, so the
 * other nodes that hold the parent close it too; removing a parent leaves
 * its children. */
Test(store_actor, removing_a_child_declares_it_removed_in_its_parent)
{
    lt_store_id_t root = s_create(lattice_store_StoreType_STORE_TYPE_KV, "root", NULL);
    lt_store_id_t kid = s_create(lattice_store_StoreType_STORE_TYPE_KV, "kid", &root);
    lt_store_id_t other = s_create(lattice_store_StoreType_STORE_TYPE_KV, "other", &root);
    lt_buf_t b = LT_BUF_INIT;
    s_ref_body(&b, &kid);
    s_call_ok(lattice_store_StoreMsgType_STORE_REMOVE, &b);
    cr_assert_eq(s_call(lattice_store_StoreMsgType_STORE_INFO, &b)->status, LT_ENOTFOUND);
    s_ref_body(&b, &root);
    s_got_t *g = s_call_ok(lattice_store_StoreMsgType_STORE_INFO, &b);
    lattice_store_StoreInfo si = lattice_store_StoreInfo_init_zero;
    cr_assert_eq(lt_pb_decode_static(lattice_store_StoreInfo_fields, &si, g->body, g->len), LT_OK);
    cr_assert_eq(si.children, 1, "the removed child is still declared active");
    /* The declaration's last word is an intention of the root, like any. */
    lattice_store_History h = lattice_store_History_init_zero;
    S_SETB(h.store, root.b, LT_STORE_ID_LEN);
    h.limit = 1;
    s_enc(lattice_store_History_fields, &h, &b);
    g = s_call_ok(lattice_store_StoreMsgType_HISTORY, &b);
    cr_assert(g->len > 0);
    bool said = false;
    for (size_t i = 0; i + 7 <= g->len && !said; i++)
        said = memcmp(g->body + i, "removed", 7) == 0;
    cr_assert(said, "the root's last intention does not declare the child removed");

    /* The parent goes; its remaining child stays, on its own. */
    s_ref_body(&b, &root);
    s_call_ok(lattice_store_StoreMsgType_STORE_REMOVE, &b);
    s_ref_body(&b, &other);
    s_call_ok(lattice_store_StoreMsgType_STORE_INFO, &b);
    s_call_ok(lattice_store_StoreMsgType_STORE_REMOVE, &b);
    lt_buf_free(&b);
}

static void s_append(const lt_store_id_t *sid, const char *text)
{
    lattice_store_LogAppend m = lattice_store_LogAppend_init_zero;
    lt_view_t t = {(const uint8_t *)text, strlen(text)};
    S_SETB(m.store, sid->b, LT_STORE_ID_LEN);
    lt_pb_bind_write(&m.text, &t);
    lt_buf_t b = LT_BUF_INIT;
    s_enc(lattice_store_LogAppend_fields, &m, &b);
    s_call_ok(lattice_store_StoreMsgType_LOG_APPEND, &b);
    lt_buf_free(&b);
}

static size_t s_log_texts(const s_got_t *g, uint32_t field, char texts[][32], size_t max)
{
    lt_pb_input_t in = lt_pb_input(g->body, g->len);
    lt_pb_views_t es = {.in = &in};
    lattice_store_LogEntries le = lattice_store_LogEntries_init_zero;
    lt_pb_bind_views(&le.entries, &es);
    (void)field;
    cr_assert_eq(lt_pb_decode_static(lattice_store_LogEntries_fields, &le, g->body, g->len), LT_OK);
    size_t n = es.n;
    for (size_t i = 0; i < n && i < max; i++) {
        lattice_store_LogItem it = lattice_store_LogItem_init_zero;
        lt_view_t t = {NULL, 0};
        lt_pb_input_t iin = lt_pb_input(es.v[i].p, es.v[i].len);
        lt_pb_view_arg_t ta = {&t, &iin};
        lt_pb_bind_view(&it.text, &ta);
        cr_assert_eq(lt_pb_decode_static(lattice_store_LogItem_fields, &it, es.v[i].p, es.v[i].len),
                     LT_OK);
        snprintf(texts[i], 32, "%.*s", (int)t.len, t.p ? (const char *)t.p : "");
    }
    lt_pb_views_free(&es);
    return n;
}

Test(store_actor, log_append_read_and_follow)
{
    lt_store_id_t sid = s_create(lattice_store_StoreType_STORE_TYPE_LOG, "journal", NULL);
    s_append(&sid, "first");
    s_append(&sid, "second");
    s_append(&sid, "third");
    lattice_store_LogRead r = lattice_store_LogRead_init_zero;
    S_SETB(r.store, sid.b, LT_STORE_ID_LEN);
    r.tail = 2;
    lt_buf_t b = LT_BUF_INIT;
    s_enc(lattice_store_LogRead_fields, &r, &b);
    char texts[8][32];
    cr_assert_eq(s_log_texts(s_call_ok(lattice_store_StoreMsgType_LOG_READ, &b), 1, texts, 8), 2);
    cr_assert_str_eq(texts[0], "second");
    cr_assert_str_eq(texts[1], "third");

    s_ref_body(&b, &sid);
    uint64_t follow = s_call_ok(lattice_store_StoreMsgType_LOG_FOLLOW, &b)->corr;
    s_clear();
    s_append(&sid, "fourth");
    size_t events = 0;
    for (size_t i = 0; i < s_env->ngot; i++) {
        s_got_t *g = &s_env->got[i];
        if (g->kind != LT_MSG_EVENT)
            continue;
        events++;
        cr_assert_eq(g->corr, follow);
        cr_assert_eq(g->type, lattice_store_StoreMsgType_LOG_ENTRY);
        lattice_store_LogItem it = lattice_store_LogItem_init_zero;
        lt_view_t t = {NULL, 0};
        lt_pb_input_t in = lt_pb_input(g->body, g->len);
        lt_pb_view_arg_t ta = {&t, &in};
        lt_pb_bind_view(&it.text, &ta);
        cr_assert_eq(lt_pb_decode_static(lattice_store_LogItem_fields, &it, g->body, g->len),
                     LT_OK);
        cr_assert(t.len == 6 && memcmp(t.p, "fourth", 6) == 0);
        cr_assert_eq(memcmp(it.store.bytes, sid.b, LT_STORE_ID_LEN), 0);
    }
    cr_assert_eq(events, 1);

    lattice_store_Unwatch u = {.corr = follow};
    s_enc(lattice_store_Unwatch_fields, &u, &b);
    s_call_ok(lattice_store_StoreMsgType_LOG_UNFOLLOW, &b);
    cr_assert_eq(s_call(lattice_store_StoreMsgType_LOG_UNFOLLOW, &b)->status, LT_ENOTFOUND);
    s_clear();
    s_append(&sid, "fifth");
    for (size_t i = 0; i < s_env->ngot; i++)
        cr_assert_neq(s_env->got[i].kind, LT_MSG_EVENT);
    lt_buf_free(&b);
}

Test(store_actor, malformed_requests_get_error_replies)
{
    lt_store_id_t sid = s_create(lattice_store_StoreType_STORE_TYPE_KV, NULL, NULL);
    lt_buf_t b = LT_BUF_INIT;
    /* garbage for every type, an unknown type, a body where none is taken */
    static const uint8_t junk[] = {0xff, 0xff, 0xff, 0xff, 0x0f, 0x12};
    cr_assert_eq(lt_buf_set(&b, junk, sizeof junk), LT_OK);
    for (uint32_t t = 0; t < 110; t++) {
        s_got_t *g = s_call(t, &b);
        cr_assert_eq(g->status, LT_EINVAL, "type %u: %s", t, lt_errname(g->status));
        cr_assert(s_errmsg(g)[0] != '\0');
    }
    /* a store id of the wrong size */
    lattice_store_KvKey k = lattice_store_KvKey_init_zero;
    lt_view_t key = {(const uint8_t *)"k", 1};
    S_SETB(k.store, sid.b, 8);
    lt_pb_bind_write(&k.key, &key);
    s_enc(lattice_store_KvKey_fields, &k, &b);
    cr_assert_eq(s_call(lattice_store_StoreMsgType_KV_GET, &b)->status, LT_EINVAL);
    /* an empty key */
    s_key_body(&b, &sid, "");
    cr_assert_eq(s_call(lattice_store_StoreMsgType_KV_PUT, &b)->status, LT_EINVAL);
    /* the key sent as a varint: nanopb would hand over a stack copy */
    lt_buf_reset(&b);
    cr_assert_eq(lt_pb_append_bytes(&b, 1, sid.b, LT_STORE_ID_LEN), LT_OK);
    static const uint8_t varint_key[] = {0x10, 0x05};
    cr_assert_eq(lt_buf_append(&b, varint_key, sizeof varint_key), LT_OK);
    cr_assert_eq(s_call(lattice_store_StoreMsgType_KV_PUT, &b)->status, LT_EINVAL);
    /* a batch entry that deletes with a value */
    lt_buf_reset(&b);
    lattice_store_KvBatchEntry be = lattice_store_KvBatchEntry_init_zero;
    lt_view_t v = {(const uint8_t *)"v", 1};
    lt_pb_bind_write(&be.key, &key);
    lt_pb_bind_write(&be.value, &v);
    be.delete = true;
    cr_assert_eq(lt_pb_append_bytes(&b, 1, sid.b, LT_STORE_ID_LEN), LT_OK);
    cr_assert_eq(lt_pb_append_field(&b, 2, lattice_store_KvBatchEntry_fields, &be), LT_OK);
    cr_assert_eq(s_call(lattice_store_StoreMsgType_KV_BATCH, &b)->status, LT_EINVAL);
    /* an unknown store */
    lt_store_id_t nope = {{1}};
    s_key_body(&b, &nope, "k");
    cr_assert_eq(s_call(lattice_store_StoreMsgType_KV_GET, &b)->status, LT_ENOTFOUND);
    /* events and replies sent to the store are ignored */
    lt_msg_t ev = {.kind = LT_MSG_EVENT, .type = 1};
    cr_assert_eq(lt_coop_inject(s_env->rt, "store", &ev, S_CLIENT), LT_OK);
    s_clear();
    s_run();
    cr_assert_eq(s_env->ngot, 0);
    /* and the store still serves */
    s_put(&sid, "k", "v");
    lt_buf_free(&b);
}

Test(store_actor, a_burst_of_puts_commits_once_and_replies_after)
{
    lt_store_id_t sid = s_create(lattice_store_StoreType_STORE_TYPE_KV, NULL, NULL);
    s_clear();
    long before = lt_kv_faulty_writes(s_env->faulty);
    enum { N = 100 };
    uint64_t corr[N], read = 0;
    lt_buf_t b = LT_BUF_INIT;
    char k[16];
    for (int i = 0; i < N; i++) {
        snprintf(k, sizeof k, "k%03d", i);
        s_put_body(&b, &sid, k, "v", NULL);
        corr[i] = s_inject(lattice_store_StoreMsgType_KV_PUT, &b);
        if (i == N / 2) { /* a read in the middle of the burst waits too */
            s_key_body(&b, &sid, "k000");
            read = s_inject(lattice_store_StoreMsgType_KV_GET, &b);
        }
    }
    s_run();
    cr_assert_eq(lt_kv_faulty_writes(s_env->faulty), before + 1, "commits: %ld",
                 lt_kv_faulty_writes(s_env->faulty) - before);
    for (int i = 0; i < N; i++) {
        s_got_t *g = s_reply_to(corr[i]);
        cr_assert_eq(g->status, LT_OK);
        cr_assert_eq(g->commits, before + 1, "reply %d before the commit", i);
    }
    s_got_t *g = s_reply_to(read);
    cr_assert_eq(g->status, LT_OK);
    cr_assert_eq(g->commits, before + 1);
    lt_buf_free(&b);
}

Test(store_actor, a_long_burst_commits_every_max_group)
{
    s_teardown();
    lt_kv_t *mem;
    cr_assert_eq(lt_kv_mem_open(LT_CF_COUNT, &mem), LT_OK);
    s_setup_with(mem, 10);
    lt_store_id_t sid = s_create(lattice_store_StoreType_STORE_TYPE_KV, NULL, NULL);
    long before = lt_kv_faulty_writes(s_env->faulty);
    lt_buf_t b = LT_BUF_INIT;
    char k[16];
    for (int i = 0; i < 35; i++) {
        snprintf(k, sizeof k, "k%03d", i);
        s_put_body(&b, &sid, k, "v", NULL);
        (void)s_inject(lattice_store_StoreMsgType_KV_PUT, &b);
    }
    s_run();
    cr_assert_eq(lt_kv_faulty_writes(s_env->faulty) - before, 4); /* 10+10+10, then 5 at idle */
    lt_buf_free(&b);
}

Test(store_actor, reads_held_behind_a_write_bound_the_burst_too)
{
    s_teardown();
    lt_kv_t *mem;
    cr_assert_eq(lt_kv_mem_open(LT_CF_COUNT, &mem), LT_OK);
    s_setup_with(mem, 4);
    lt_store_id_t sid = s_create(lattice_store_StoreType_STORE_TYPE_KV, NULL, NULL);
    s_clear();
    lt_buf_t b = LT_BUF_INIT;
    s_put_body(&b, &sid, "k", "v", NULL);
    uint64_t put = s_inject(lattice_store_StoreMsgType_KV_PUT, &b);
    s_key_body(&b, &sid, "k");
    for (int i = 0; i < 20; i++)
        (void)s_inject(lattice_store_StoreMsgType_KV_GET, &b);
    /* One write and four reads held: the burst commits without waiting for
     * the mailbox to drain, and the write is answered. */
    cr_assert_eq(lt_coop_run(s_env->rt, 5), 5);
    s_got_t *g = s_reply_to(put);
    cr_assert_eq(g->status, LT_OK);
    cr_assert_geq(s_env->ngot, 5, "the held reads were not answered with the write");
    s_run();
    cr_assert_eq(s_env->ngot, 21);
    lt_buf_free(&b);
}

Test(store_actor, a_failed_commit_fails_every_write_of_the_burst)
{
    lt_store_id_t sid = s_create(lattice_store_StoreType_STORE_TYPE_KV, NULL, NULL);
    s_put(&sid, "keep", "1");
    lt_kv_faulty_fail_writes_after(s_env->faulty, 0, LT_EIO);
    lt_buf_t b = LT_BUF_INIT;
    uint64_t corr[20];
    char k[16];
    for (int i = 0; i < 20; i++) {
        snprintf(k, sizeof k, "k%03d", i);
        s_put_body(&b, &sid, k, "v", NULL);
        corr[i] = s_inject(lattice_store_StoreMsgType_KV_PUT, &b);
    }
    s_run();
    for (int i = 0; i < 20; i++) {
        s_got_t *g = s_reply_to(corr[i]);
        cr_assert_eq(g->status, LT_EIO, "reply %d: %s", i, lt_errname(g->status));
        cr_assert(s_errmsg(g)[0] != '\0');
    }
    lt_kv_faulty_fail_writes_after(s_env->faulty, -1, LT_EIO);
    char v[16];
    for (int i = 0; i < 20; i++) {
        snprintf(k, sizeof k, "k%03d", i);
        cr_assert_eq(s_get(&sid, k, v, sizeof v, NULL), LT_ENOTFOUND);
    }
    cr_assert_eq(s_get(&sid, "keep", v, sizeof v, NULL), LT_OK);
    /* and it writes again */
    s_put(&sid, "after", "2");
    cr_assert_eq(s_get(&sid, "after", v, sizeof v, NULL), LT_OK);
    lt_buf_free(&b);
}

Test(store_actor, watch_sends_matching_changes_after_the_commit)
{
    lt_store_id_t sid = s_create(lattice_store_StoreType_STORE_TYPE_KV, NULL, NULL);
    lt_buf_t b = LT_BUF_INIT;
    s_prefix_body(&b, &sid, "a");
    uint64_t watch = s_call_ok(lattice_store_StoreMsgType_KV_WATCH, &b)->corr;
    s_clear();
    long before = lt_kv_faulty_writes(s_env->faulty);
    s_put_body(&b, &sid, "a1", "x", NULL);
    (void)s_inject(lattice_store_StoreMsgType_KV_PUT, &b);
    s_put_body(&b, &sid, "b1", "y", NULL);
    (void)s_inject(lattice_store_StoreMsgType_KV_PUT, &b);
    s_key_body(&b, &sid, "a2");
    (void)s_inject(lattice_store_StoreMsgType_KV_DEL, &b);
    s_run();
    size_t n = 0;
    for (size_t i = 0; i < s_env->ngot; i++) {
        s_got_t *g = &s_env->got[i];
        if (g->kind != LT_MSG_EVENT)
            continue;
        cr_assert_eq(g->corr, watch);
        cr_assert_eq(g->type, lattice_store_StoreMsgType_KV_CHANGE);
        cr_assert_eq(g->commits, before + 1, "event before the commit");
        lattice_store_KvChange c = lattice_store_KvChange_init_zero;
        lt_view_t key = {NULL, 0}, val = {NULL, 0};
        lt_pb_input_t in = lt_pb_input(g->body, g->len);
        lt_pb_view_arg_t ka = {&key, &in}, va = {&val, &in};
        lt_pb_bind_view(&c.key, &ka);
        lt_pb_bind_view(&c.value, &va);
        cr_assert_eq(lt_pb_decode_static(lattice_store_KvChange_fields, &c, g->body, g->len),
                     LT_OK);
        cr_assert(key.len == 2 && key.p[0] == 'a');
        if (n == 0) {
            cr_assert(memcmp(key.p, "a1", 2) == 0 && val.len == 1 && !c.deleted);
        } else {
            cr_assert(memcmp(key.p, "a2", 2) == 0 && c.deleted);
        }
        n++;
    }
    cr_assert_eq(n, 2);
    lattice_store_Unwatch u = {.corr = watch};
    s_enc(lattice_store_Unwatch_fields, &u, &b);
    s_call_ok(lattice_store_StoreMsgType_KV_UNWATCH, &b);
    s_clear();
    s_put(&sid, "a3", "z");
    for (size_t i = 0; i < s_env->ngot; i++)
        cr_assert_neq(s_env->got[i].kind, LT_MSG_EVENT);
    lt_buf_free(&b);
}

Test(store_actor, an_unreachable_watcher_loses_its_watch)
{
    lt_store_id_t sid = s_create(lattice_store_StoreType_STORE_TYPE_KV, NULL, NULL);
    lt_buf_t b = LT_BUF_INIT;
    s_prefix_body(&b, &sid, "");
    lt_msg_t m = {.kind = LT_MSG_REQUEST,
                  .corr = 999,
                  .type = lattice_store_StoreMsgType_KV_WATCH,
                  .body = b.data,
                  .len = b.len};
    cr_assert_eq(lt_coop_inject(s_env->rt, "store", &m, S_GONE), LT_OK);
    s_run();
    s_put(&sid, "a", "1");
    cr_assert_eq(s_env->refused_events, 1);
    s_put(&sid, "b", "2");
    cr_assert_eq(s_env->refused_events, 1, "the watch was not cancelled");
    lt_buf_free(&b);
}

Test(store_actor, replies_the_transport_refuses_go_out_later_in_order)
{
    lt_store_id_t sid = s_create(lattice_store_StoreType_STORE_TYPE_KV, NULL, NULL);
    lt_buf_t b = LT_BUF_INIT;
    uint64_t corr[3];
    for (int i = 0; i < 3; i++) {
        char k[8];
        snprintf(k, sizeof k, "k%d", i);
        s_put_body(&b, &sid, k, "v", NULL);
        corr[i] = s_inject(lattice_store_StoreMsgType_KV_PUT, &b);
    }
    s_clear();
    s_env->full_left = 2; /* the first reply is refused, then its first resend */
    s_run();
    cr_assert_eq(s_env->ngot, 0, "a reply overtook the one the transport refused");
    uint64_t due;
    cr_assert(lt_coop_next_deadline(s_env->rt, &due), "no resend timer");
    s_env->clock = due;
    cr_assert_eq(lt_coop_advance(s_env->rt, s_env->clock), 1);
    cr_assert_eq(s_env->ngot, 0);
    cr_assert(lt_coop_next_deadline(s_env->rt, &due), "the resend timer was not re-armed");
    s_env->clock = due;
    cr_assert_eq(lt_coop_advance(s_env->rt, s_env->clock), 1);
    cr_assert_eq(s_env->ngot, 3);
    for (int i = 0; i < 3; i++) {
        cr_assert_eq(s_env->got[i].corr, corr[i]);
        cr_assert_eq(s_env->got[i].status, LT_OK);
    }
    cr_assert_not(lt_coop_next_deadline(s_env->rt, &due), "a timer is left after the resend");
    lt_buf_free(&b);
}

Test(store_actor, a_list_too_large_for_one_message_is_cut_and_says_so)
{
    lt_store_id_t sid = s_create(lattice_store_StoreType_STORE_TYPE_KV, NULL, NULL);
    static char big[60001];
    memset(big, 'x', sizeof big - 1);
    for (int i = 0; i < 5; i++) {
        char k[8];
        snprintf(k, sizeof k, "k%d", i);
        s_put(&sid, k, big);
    }
    lt_buf_t b = LT_BUF_INIT;
    s_prefix_body(&b, &sid, "");
    s_got_t *g = s_call_ok(lattice_store_StoreMsgType_KV_LIST, &b);
    cr_assert_leq(g->len, LT_FRAME_MAX_BODY);
    lattice_store_KvList l = lattice_store_KvList_init_zero;
    lt_pb_input_t in = lt_pb_input(g->body, g->len);
    lt_pb_views_t items = {.in = &in};
    lt_pb_bind_views(&l.items, &items);
    cr_assert_eq(lt_pb_decode_static(lattice_store_KvList_fields, &l, g->body, g->len), LT_OK);
    cr_assert(l.truncated);
    cr_assert(items.n >= 1 && items.n < 5, "%zu items", items.n);
    lt_pb_views_free(&items);
    /* A prefix that fits is whole. */
    s_prefix_body(&b, &sid, "k1");
    g = s_call_ok(lattice_store_StoreMsgType_KV_LIST, &b);
    lattice_store_KvList l1 = lattice_store_KvList_init_zero;
    cr_assert_eq(lt_pb_decode_static(lattice_store_KvList_fields, &l1, g->body, g->len), LT_OK);
    cr_assert_not(l1.truncated);
    lt_buf_free(&b);
}

Test(store_actor, removing_a_store_ends_its_watches)
{
    lt_store_id_t sid = s_create(lattice_store_StoreType_STORE_TYPE_KV, NULL, NULL);
    lt_buf_t b = LT_BUF_INIT;
    s_prefix_body(&b, &sid, "");
    uint64_t watch = s_call_ok(lattice_store_StoreMsgType_KV_WATCH, &b)->corr;
    s_ref_body(&b, &sid);
    s_call_ok(lattice_store_StoreMsgType_STORE_REMOVE, &b);
    lattice_store_Unwatch u = {.corr = watch};
    s_enc(lattice_store_Unwatch_fields, &u, &b);
    cr_assert_eq(s_call(lattice_store_StoreMsgType_KV_UNWATCH, &b)->status, LT_ENOTFOUND,
                 "the watch outlived its store");
    lt_buf_free(&b);
}

Test(store_actor, history_and_debug_show_the_intentions)
{
    lt_store_id_t sid = s_create(lattice_store_StoreType_STORE_TYPE_KV, NULL, NULL);
    lt_hash_t h[3];
    h[0] = s_put(&sid, "k1", "v1");
    h[1] = s_put(&sid, "k2", "v2");
    h[2] = s_put(&sid, "k1", "v3");
    lattice_store_History hq = lattice_store_History_init_zero;
    S_SETB(hq.store, sid.b, LT_STORE_ID_LEN);
    hq.limit = 2;
    lt_buf_t b = LT_BUF_INIT;
    s_enc(lattice_store_History_fields, &hq, &b);
    s_got_t *g = s_call_ok(lattice_store_StoreMsgType_HISTORY, &b);
    lattice_store_HistoryList hl = lattice_store_HistoryList_init_zero;
    lt_pb_input_t in = lt_pb_input(g->body, g->len);
    lt_pb_views_t items = {.in = &in};
    lt_pb_bind_views(&hl.items, &items);
    cr_assert_eq(lt_pb_decode_static(lattice_store_HistoryList_fields, &hl, g->body, g->len),
                 LT_OK);
    cr_assert_eq(items.n, 2);
    lattice_store_HistoryItem it[2];
    for (int i = 0; i < 2; i++) {
        it[i] = (lattice_store_HistoryItem)lattice_store_HistoryItem_init_zero;
        cr_assert_eq(lt_pb_decode_static(lattice_store_HistoryItem_fields, &it[i], items.v[i].p,
                                         items.v[i].len),
                     LT_OK);
    }
    cr_assert_eq(it[0].seq, 3);
    cr_assert_eq(it[1].seq, 2);
    cr_assert_eq(memcmp(it[0].hash.bytes, h[2].b, LT_HASH_LEN), 0);
    cr_assert_eq(memcmp(it[1].hash.bytes, h[1].b, LT_HASH_LEN), 0);
    cr_assert_str_eq(it[0].summary, "put k1 (2 bytes)");
    /* the third cites the first: store_prev is the second (same author),
     * and the key's head (the first) is a dep */
    cr_assert_eq(memcmp(it[0].store_prev.bytes, h[1].b, LT_HASH_LEN), 0);
    cr_assert_eq(it[0].deps_count, 1);
    cr_assert_eq(memcmp(it[0].deps[0].bytes, h[0].b, LT_HASH_LEN), 0);
    lt_pb_views_free(&items);

    lattice_store_Debug dq = lattice_store_Debug_init_zero;
    S_SETB(dq.store, sid.b, LT_STORE_ID_LEN);
    S_SETB(dq.hash, h[0].b, LT_HASH_LEN);
    s_enc(lattice_store_Debug_fields, &dq, &b);
    g = s_call_ok(lattice_store_StoreMsgType_DEBUG, &b);
    lattice_store_DebugIntention di = lattice_store_DebugIntention_init_zero;
    lt_view_t sb = {NULL, 0}, ops = {NULL, 0};
    in = lt_pb_input(g->body, g->len);
    lt_pb_view_arg_t sa = {&sb, &in}, oa = {&ops, &in};
    lt_pb_bind_view(&di.signed_bytes, &sa);
    lt_pb_bind_view(&di.ops, &oa);
    cr_assert_eq(lt_pb_decode_static(lattice_store_DebugIntention_fields, &di, g->body, g->len),
                 LT_OK);
    lt_signed_t s;
    cr_assert_eq(lt_signed_parse(sb.p, sb.len, &s), LT_OK);
    cr_assert(lt_hash_eq(&s.hash, &h[0]));
    cr_assert_eq(lt_signed_verify(&s), LT_OK);
    cr_assert_eq(di.seq, 1);
    cr_assert_eq(di.version, 1);
    cr_assert_eq(memcmp(di.store.bytes, sid.b, LT_STORE_ID_LEN), 0);
    cr_assert_eq(ops.len, s.in.ops_len);
    cr_assert_str_eq(di.summary, "put k1 (2 bytes)");
    /* an unknown hash */
    dq.hash.bytes[0] ^= 1;
    s_enc(lattice_store_Debug_fields, &dq, &b);
    cr_assert_eq(s_call(lattice_store_StoreMsgType_DEBUG, &b)->status, LT_ENOTFOUND);
    lt_buf_free(&b);
}

static s_got_t *s_resolve(const char *q)
{
    lattice_store_StoreResolve m = lattice_store_StoreResolve_init_zero;
    snprintf(m.query, sizeof m.query, "%s", q);
    lt_buf_t b = LT_BUF_INIT;
    s_enc(lattice_store_StoreResolve_fields, &m, &b);
    s_got_t *g = s_call(lattice_store_StoreMsgType_STORE_RESOLVE, &b);
    lt_buf_free(&b);
    return g;
}

static void s_resolves_to(const char *q, const lt_store_id_t *want)
{
    s_got_t *g = s_resolve(q);
    cr_assert_eq(g->status, LT_OK, "resolve %s: %s", q, lt_errname(g->status));
    lattice_store_StoreRef r = lattice_store_StoreRef_init_zero;
    cr_assert_eq(lt_pb_decode_static(lattice_store_StoreRef_fields, &r, g->body, g->len), LT_OK);
    cr_assert_eq(memcmp(r.store.bytes, want->b, LT_STORE_ID_LEN), 0, "resolve %s", q);
}

Test(store_actor, resolve_by_id_prefix_and_name)
{
    /* 17 stores: two of them share their first hex digit */
    lt_store_id_t ids[17];
    ids[0] = s_create(lattice_store_StoreType_STORE_TYPE_KV, "alpha", NULL);
    ids[1] = s_create(lattice_store_StoreType_STORE_TYPE_KV, "beta", NULL);
    ids[2] = s_create(lattice_store_StoreType_STORE_TYPE_LOG, "beta", NULL);
    for (int i = 3; i < 17; i++)
        ids[i] = s_create(lattice_store_StoreType_STORE_TYPE_KV, NULL, NULL);
    s_resolves_to("alpha", &ids[0]);
    cr_assert_eq(s_resolve("beta")->status, LT_EEXIST);
    cr_assert_eq(s_resolve("gamma")->status, LT_ENOTFOUND);
    char hex[33];
    lt_hex(ids[5].b, LT_STORE_ID_LEN, hex);
    s_resolves_to(hex, &ids[5]);
    hex[12] = '\0';
    s_resolves_to(hex, &ids[5]);
    for (int i = 0; hex[i]; i++)
        hex[i] = (char)(hex[i] >= 'a' ? hex[i] - 'a' + 'A' : hex[i]);
    s_resolves_to(hex, &ids[5]);
    bool ambiguous = false;
    for (int i = 0; i < 17 && !ambiguous; i++)
        for (int j = i + 1; j < 17 && !ambiguous; j++) {
            char a[33], c[33];
            lt_hex(ids[i].b, LT_STORE_ID_LEN, a);
            lt_hex(ids[j].b, LT_STORE_ID_LEN, c);
            if (a[0] == c[0]) {
                a[1] = '\0';
                cr_assert_eq(s_resolve(a)->status, LT_EEXIST);
                ambiguous = true;
            }
        }
    cr_assert(ambiguous);
}

Test(store_actor, ingest_accepts_an_intention_from_another_author)
{
    lt_store_id_t sid = s_create(lattice_store_StoreType_STORE_TYPE_KV, NULL, NULL);
    lt_identity_t other;
    lt_test_identity(&other, 7);
    lt_kv_entry_t e = {{(const uint8_t *)"theirs", 6}, {(const uint8_t *)"yes", 3}, false};
    lt_buf_t kvop = LT_BUF_INIT, ops = LT_BUF_INIT, signed_b = LT_BUF_INIT, b = LT_BUF_INIT;
    cr_assert_eq(lt_kvop_encode(&e, 1, &kvop), LT_OK);
    cr_assert_eq(lt_uop_encode_app(kvop.data, kvop.len, &ops), LT_OK);
    lt_intention_t in = {.version = 1,
                         .author = other.pk,
                         .hlc = {s_env->clock, 0},
                         .store_id = sid,
                         .ops_len = (uint32_t)ops.len,
                         .ops = ops.data};
    lt_hash_t h;
    cr_assert_eq(lt_intention_sign(&in, &other, &signed_b, &h), LT_OK);
    lattice_store_Ingest m = lattice_store_Ingest_init_zero;
    lt_view_t sv = {signed_b.data, signed_b.len};
    S_SETB(m.store, sid.b, LT_STORE_ID_LEN);
    lt_pb_bind_write(&m.signed_bytes, &sv);
    s_enc(lattice_store_Ingest_fields, &m, &b);
    s_got_t *g = s_call_ok(lattice_store_StoreMsgType_INGEST, &b);
    lattice_store_Ingested r = lattice_store_Ingested_init_zero;
    cr_assert_eq(lt_pb_decode_static(lattice_store_Ingested_fields, &r, g->body, g->len), LT_OK);
    cr_assert_eq(r.status, lattice_store_IngestStatus_INGEST_WITNESSED);
    cr_assert_eq(memcmp(r.hash.bytes, h.b, LT_HASH_LEN), 0);
    char v[16];
    cr_assert_eq(s_get(&sid, "theirs", v, sizeof v, NULL), LT_OK);
    cr_assert_str_eq(v, "yes");
    /* again: a duplicate */
    g = s_call_ok(lattice_store_StoreMsgType_INGEST, &b);
    cr_assert_eq(lt_pb_decode_static(lattice_store_Ingested_fields, &r, g->body, g->len), LT_OK);
    cr_assert_eq(r.status, lattice_store_IngestStatus_INGEST_DUPLICATE);
    /* a broken signature */
    signed_b.data[41] ^= 1; /* the HLC counter: another hash, a wrong signature */
    s_enc(lattice_store_Ingest_fields, &m, &b);
    cr_assert_eq(s_call(lattice_store_StoreMsgType_INGEST, &b)->status, LT_ESIGNATURE);
    lt_buf_free(&kvop);
    lt_buf_free(&ops);
    lt_buf_free(&signed_b);
    lt_buf_free(&b);
}

/* Another node writes itself in as a peer: a system intention ingested. */
static void s_ingest_peer(const lt_store_id_t *sid, const lt_identity_t *who)
{
    lattice_SystemOp op = lattice_SystemOp_init_zero;
    op.which_op = lattice_SystemOp_peer_tag;
    S_SETB(op.op.peer.key, who->pk.b, LT_KEY_LEN);
    op.op.peer.status = lattice_PeerStatus_PEER_ACTIVE;
    lt_buf_t ops = LT_BUF_INIT, signed_b = LT_BUF_INIT, b = LT_BUF_INIT;
    cr_assert_eq(lt_uop_encode_system(&op, &ops), LT_OK);
    lt_intention_t in = {.version = 1,
                         .author = who->pk,
                         .hlc = {s_env->clock, 0},
                         .store_id = *sid,
                         .ops_len = (uint32_t)ops.len,
                         .ops = ops.data};
    lt_hash_t h;
    cr_assert_eq(lt_intention_sign(&in, who, &signed_b, &h), LT_OK);
    lattice_store_Ingest m = lattice_store_Ingest_init_zero;
    lt_view_t sv = {signed_b.data, signed_b.len};
    S_SETB(m.store, sid->b, LT_STORE_ID_LEN);
    lt_pb_bind_write(&m.signed_bytes, &sv);
    s_enc(lattice_store_Ingest_fields, &m, &b);
    s_call_ok(lattice_store_StoreMsgType_INGEST, &b);
    lt_buf_free(&ops);
    lt_buf_free(&signed_b);
    lt_buf_free(&b);
}

/* The peers of a PeerList reply, keys and states, in order. */
static size_t s_peers(const s_got_t *g, lt_pubkey_t *keys, int *states, size_t max)
{
    lt_pb_input_t in = lt_pb_input(g->body, g->len);
    lt_pb_views_t vs = {.in = &in};
    lattice_store_PeerList pl = lattice_store_PeerList_init_zero;
    lt_pb_bind_views(&pl.peers, &vs);
    cr_assert_eq(lt_pb_decode_static(lattice_store_PeerList_fields, &pl, g->body, g->len), LT_OK);
    cr_assert_not(pl.truncated);
    size_t n = vs.n;
    for (size_t i = 0; i < n && i < max; i++) {
        lattice_store_PeerItem it = lattice_store_PeerItem_init_zero;
        cr_assert_eq(
            lt_pb_decode_static(lattice_store_PeerItem_fields, &it, vs.v[i].p, vs.v[i].len), LT_OK);
        cr_assert_eq(it.key.size, LT_KEY_LEN);
        memcpy(keys[i].b, it.key.bytes, LT_KEY_LEN);
        states[i] = (int)it.state;
    }
    lt_pb_views_free(&vs);
    return n;
}

static bool s_contains(const uint8_t *hay, size_t n, const uint8_t *needle, size_t m)
{
    for (size_t i = 0; i + m <= n; i++)
        if (memcmp(hay + i, needle, m) == 0)
            return true;
    return false;
}

Test(store_actor, an_invite_writes_only_the_hash_of_its_secret)
{
    lt_store_id_t sid = s_create(lattice_store_StoreType_STORE_TYPE_KV, "shared", NULL);
    lattice_store_PeerInvite m = lattice_store_PeerInvite_init_zero;
    S_SETB(m.store, sid.b, LT_STORE_ID_LEN);
    m.ttl_ms = 3600 * 1000;
    lt_buf_t b = LT_BUF_INIT;
    s_enc(lattice_store_PeerInvite_fields, &m, &b);
    s_got_t *g = s_call_ok(lattice_store_StoreMsgType_PEER_INVITE, &b);
    lattice_store_Invited inv = lattice_store_Invited_init_zero;
    cr_assert_eq(lt_pb_decode_static(lattice_store_Invited_fields, &inv, g->body, g->len), LT_OK);
    cr_assert_eq(inv.secret.size, LT_INVITE_SECRET_LEN);
    cr_assert_eq(inv.expires_ms, s_env->clock + 3600 * 1000);
    /* A second invite has another secret. */
    g = s_call_ok(lattice_store_StoreMsgType_PEER_INVITE, &b);
    lattice_store_Invited inv2 = lattice_store_Invited_init_zero;
    cr_assert_eq(lt_pb_decode_static(lattice_store_Invited_fields, &inv2, g->body, g->len), LT_OK);
    cr_assert_neq(memcmp(inv.secret.bytes, inv2.secret.bytes, LT_INVITE_SECRET_LEN), 0);
    /* The intention that recorded it holds the hash, never the secret. */
    cr_assert_eq(inv.hash.size, LT_HASH_LEN);
    lattice_store_Debug d = lattice_store_Debug_init_zero;
    S_SETB(d.store, sid.b, LT_STORE_ID_LEN);
    S_SETB(d.hash, inv.hash.bytes, LT_HASH_LEN);
    s_enc(lattice_store_Debug_fields, &d, &b);
    g = s_call_ok(lattice_store_StoreMsgType_DEBUG, &b);
    lt_hash_t sh;
    lt_invite_secret_hash(inv.secret.bytes, LT_INVITE_SECRET_LEN, &sh);
    cr_assert(s_contains(g->body, g->len, sh.b, LT_HASH_LEN), "the secret's hash is recorded");
    cr_assert_not(s_contains(g->body, g->len, inv.secret.bytes, LT_INVITE_SECRET_LEN),
                  "the secret itself is not");
    /* The default expiry is a day; past the bound is refused. */
    m.ttl_ms = 0;
    s_enc(lattice_store_PeerInvite_fields, &m, &b);
    g = s_call_ok(lattice_store_StoreMsgType_PEER_INVITE, &b);
    cr_assert_eq(lt_pb_decode_static(lattice_store_Invited_fields, &inv, g->body, g->len), LT_OK);
    cr_assert_eq(inv.expires_ms, s_env->clock + LT_INVITE_TTL_DEFAULT_MS);
    m.ttl_ms = LT_INVITE_TTL_MAX_MS + 1;
    s_enc(lattice_store_PeerInvite_fields, &m, &b);
    cr_assert_eq(s_call(lattice_store_StoreMsgType_PEER_INVITE, &b)->status, LT_EINVAL);
    lt_buf_free(&b);
}

Test(store_actor, peers_are_listed_and_revoked)
{
    lt_store_id_t sid = s_create(lattice_store_StoreType_STORE_TYPE_KV, NULL, NULL);
    lt_buf_t b = LT_BUF_INIT;
    s_ref_body(&b, &sid);
    lt_pubkey_t keys[4];
    int states[4];
    cr_assert_eq(s_peers(s_call_ok(lattice_store_StoreMsgType_PEER_LIST, &b), keys, states, 4), 0);
    lt_identity_t a, c;
    lt_test_identity(&a, 11);
    lt_test_identity(&c, 12);
    s_ingest_peer(&sid, &a);
    s_ingest_peer(&sid, &c);
    size_t n = s_peers(s_call_ok(lattice_store_StoreMsgType_PEER_LIST, &b), keys, states, 4);
    cr_assert_eq(n, 2);
    cr_assert_lt(lt_pubkey_cmp(&keys[0], &keys[1]), 0, "in key order");
    cr_assert_eq(states[0], lattice_store_PeerState_PEER_STATE_ACTIVE);
    cr_assert_eq(states[1], lattice_store_PeerState_PEER_STATE_ACTIVE);

    lattice_store_PeerRef r = lattice_store_PeerRef_init_zero;
    S_SETB(r.store, sid.b, LT_STORE_ID_LEN);
    S_SETB(r.key, a.pk.b, LT_KEY_LEN);
    s_enc(lattice_store_PeerRef_fields, &r, &b);
    s_written(s_call_ok(lattice_store_StoreMsgType_PEER_REVOKE, &b));
    s_ref_body(&b, &sid);
    n = s_peers(s_call_ok(lattice_store_StoreMsgType_PEER_LIST, &b), keys, states, 4);
    cr_assert_eq(n, 2);
    for (size_t i = 0; i < n; i++)
        cr_assert_eq(states[i], lt_pubkey_cmp(&keys[i], &a.pk) == 0
                                    ? lattice_store_PeerState_PEER_STATE_REVOKED
                                    : lattice_store_PeerState_PEER_STATE_ACTIVE);

    /* Not a peer; this node itself; a key of the wrong size. */
    lt_identity_t stranger;
    lt_test_identity(&stranger, 13);
    S_SETB(r.key, stranger.pk.b, LT_KEY_LEN);
    s_enc(lattice_store_PeerRef_fields, &r, &b);
    cr_assert_eq(s_call(lattice_store_StoreMsgType_PEER_REVOKE, &b)->status, LT_ENOTFOUND);
    lt_identity_t self;
    lt_test_identity(&self, 1); /* the actor's node identity (s_start_actor) */
    S_SETB(r.key, self.pk.b, LT_KEY_LEN);
    s_enc(lattice_store_PeerRef_fields, &r, &b);
    s_got_t *g = s_call(lattice_store_StoreMsgType_PEER_REVOKE, &b);
    cr_assert_eq(g->status, LT_EINVAL);
    cr_assert(strstr(s_errmsg(g), "itself"));
    S_SETB(r.key, a.pk.b, 31);
    s_enc(lattice_store_PeerRef_fields, &r, &b);
    cr_assert_eq(s_call(lattice_store_StoreMsgType_PEER_REVOKE, &b)->status, LT_EINVAL);
    lt_buf_free(&b);
}

/* A request from `from` (another node's sender: "ext:x@<key hex>"). */
static s_got_t *s_call_from(const char *from, uint32_t type, const lt_buf_t *body)
{
    lt_msg_t m = {.kind = LT_MSG_REQUEST,
                  .corr = s_env->next_corr++,
                  .type = type,
                  .body = body ? body->data : NULL,
                  .len = body ? body->len : 0};
    lt_err_t rc = lt_coop_inject(s_env->rt, "store", &m, from);
    cr_assert_eq(rc, LT_OK, "inject: %s", lt_errname(rc));
    s_run();
    return s_reply_to(m.corr);
}

static void s_remote(char *out, size_t cap, const lt_identity_t *id)
{
    char hex[2 * LT_KEY_LEN + 1];
    lt_hex(id->pk.b, LT_KEY_LEN, hex);
    snprintf(out, cap, "ext:n@%s", hex);
}

/* Opens an invite living ttl_ms; its secret into secret. */
static void s_invite_secret(const lt_store_id_t *sid, uint64_t ttl_ms, uint8_t secret[32])
{
    lattice_store_PeerInvite m = lattice_store_PeerInvite_init_zero;
    S_SETB(m.store, sid->b, LT_STORE_ID_LEN);
    m.ttl_ms = ttl_ms;
    lt_buf_t b = LT_BUF_INIT;
    s_enc(lattice_store_PeerInvite_fields, &m, &b);
    s_got_t *g = s_call_ok(lattice_store_StoreMsgType_PEER_INVITE, &b);
    lattice_store_Invited inv = lattice_store_Invited_init_zero;
    cr_assert_eq(lt_pb_decode_static(lattice_store_Invited_fields, &inv, g->body, g->len), LT_OK);
    memcpy(secret, inv.secret.bytes, 32);
    lt_buf_free(&b);
}

static s_got_t *s_join(const char *from, const lt_store_id_t *sid, const uint8_t secret[32])
{
    lattice_store_PeerJoin m = lattice_store_PeerJoin_init_zero;
    S_SETB(m.store, sid->b, LT_STORE_ID_LEN);
    S_SETB(m.secret, secret, 32);
    lt_buf_t b = LT_BUF_INIT;
    s_enc(lattice_store_PeerJoin_fields, &m, &b);
    s_got_t *g = s_call_from(from, lattice_store_StoreMsgType_PEER_JOIN, &b);
    lt_buf_free(&b);
    return g;
}

Test(store_actor, a_join_consumes_an_open_invite_once)
{
    lt_store_id_t sid = s_create(lattice_store_StoreType_STORE_TYPE_LOG, "shared", NULL);
    lt_identity_t j, k, self;
    lt_test_identity(&j, 31);
    lt_test_identity(&k, 32);
    lt_test_identity(&self, 1);
    char jfrom[LT_ADDR_MAX], kfrom[LT_ADDR_MAX];
    s_remote(jfrom, sizeof jfrom, &j);
    s_remote(kfrom, sizeof kfrom, &k);
    uint8_t secret[32], other[32];
    s_invite_secret(&sid, 3600 * 1000, secret);

    /* Not from another node; an unknown secret. */
    lattice_store_PeerJoin m = lattice_store_PeerJoin_init_zero;
    S_SETB(m.store, sid.b, LT_STORE_ID_LEN);
    S_SETB(m.secret, secret, 32);
    lt_buf_t b = LT_BUF_INIT;
    s_enc(lattice_store_PeerJoin_fields, &m, &b);
    cr_assert_eq(s_call(lattice_store_StoreMsgType_PEER_JOIN, &b)->status, LT_EINVAL);
    memset(other, 7, sizeof other);
    cr_assert_eq(s_join(jfrom, &sid, other)->status, LT_ENOTFOUND);

    /* The join: Joined, and the joiner is an active peer. */
    s_got_t *g = s_join(jfrom, &sid, secret);
    cr_assert_eq(g->status, LT_OK, "%s", g->status ? s_errmsg(g) : "");
    lattice_store_Joined jd = lattice_store_Joined_init_zero;
    cr_assert_eq(lt_pb_decode_static(lattice_store_Joined_fields, &jd, g->body, g->len), LT_OK);
    cr_assert_eq(memcmp(jd.store.bytes, sid.b, LT_STORE_ID_LEN), 0);
    cr_assert_eq(jd.type, lattice_store_StoreType_STORE_TYPE_LOG);
    cr_assert_str_eq(jd.name, "shared");
    cr_assert_eq(memcmp(jd.inviter.bytes, self.pk.b, LT_KEY_LEN), 0);
    s_ref_body(&b, &sid);
    lt_pubkey_t keys[4];
    int states[4];
    cr_assert_eq(s_peers(s_call_ok(lattice_store_StoreMsgType_PEER_LIST, &b), keys, states, 4), 1);
    cr_assert_eq(lt_pubkey_cmp(&keys[0], &j.pk), 0);
    cr_assert_eq(states[0], lattice_store_PeerState_PEER_STATE_ACTIVE);
    /* The same node again: the same answer; another node: used. */
    cr_assert_eq(s_join(jfrom, &sid, secret)->status, LT_OK);
    g = s_join(kfrom, &sid, secret);
    cr_assert_eq(g->status, LT_EREFUSED);
    cr_assert(strstr(s_errmsg(g), "used already"), "%s", s_errmsg(g));

    /* Expired: the clock passes the invite's end. */
    s_invite_secret(&sid, 1000, other);
    s_env->clock += 1001;
    g = s_join(kfrom, &sid, other);
    cr_assert_eq(g->status, LT_EREFUSED);
    cr_assert(strstr(s_errmsg(g), "expired"), "%s", s_errmsg(g));

    /* Revoked: no invite lets it back. */
    lattice_store_PeerRef pr = lattice_store_PeerRef_init_zero;
    S_SETB(pr.store, sid.b, LT_STORE_ID_LEN);
    S_SETB(pr.key, j.pk.b, LT_KEY_LEN);
    s_enc(lattice_store_PeerRef_fields, &pr, &b);
    s_call_ok(lattice_store_StoreMsgType_PEER_REVOKE, &b);
    s_invite_secret(&sid, 0, other);
    g = s_join(jfrom, &sid, other);
    cr_assert_eq(g->status, LT_EREFUSED);
    cr_assert(strstr(s_errmsg(g), "revoked"), "%s", s_errmsg(g));

    /* Nothing else is served to another node. */
    s_ref_body(&b, &sid);
    g = s_call_from(kfrom, lattice_store_StoreMsgType_STORE_INFO, &b);
    cr_assert_eq(g->status, LT_EREFUSED);
    s_put_body(&b, &sid, "k", "v", NULL);
    cr_assert_eq(s_call_from(jfrom, lattice_store_StoreMsgType_KV_PUT, &b)->status, LT_EREFUSED);
    lt_buf_free(&b);
}

static s_got_t *s_clone_read(const char *from, const lt_store_id_t *sid, uint64_t from_seq)
{
    lattice_store_CloneRead m = lattice_store_CloneRead_init_zero;
    S_SETB(m.store, sid->b, LT_STORE_ID_LEN);
    m.from_seq = from_seq;
    lt_buf_t b = LT_BUF_INIT;
    s_enc(lattice_store_CloneRead_fields, &m, &b);
    s_got_t *g = from ? s_call_from(from, lattice_store_StoreMsgType_CLONE_READ, &b)
                      : s_call(lattice_store_StoreMsgType_CLONE_READ, &b);
    lt_buf_free(&b);
    return g;
}

Test(store_actor, clone_reads_the_witness_log_for_active_peers_and_batches_ingest_whole)
{
    lt_store_id_t sid = s_create(lattice_store_StoreType_STORE_TYPE_KV, NULL, NULL);
    for (int i = 0; i < 5; i++) {
        char k[8];
        snprintf(k, sizeof k, "k%d", i);
        s_put(&sid, k, "v");
    }
    lt_identity_t p, q;
    lt_test_identity(&p, 51);
    lt_test_identity(&q, 52);
    s_ingest_peer(&sid, &p);
    char pfrom[LT_ADDR_MAX], qfrom[LT_ADDR_MAX];
    s_remote(pfrom, sizeof pfrom, &p);
    s_remote(qfrom, sizeof qfrom, &q);
    cr_assert_eq(s_clone_read(qfrom, &sid, 1)->status, LT_EREFUSED, "not a peer");
    cr_assert_eq(s_clone_read(NULL, &sid, 0)->status, LT_EINVAL, "sequence numbers start at 1");

    s_got_t *g = s_clone_read(pfrom, &sid, 2);
    cr_assert_eq(g->status, LT_OK);
    lt_pb_input_t in = lt_pb_input(g->body, g->len);
    lt_pb_views_t vs = {.in = &in};
    lattice_store_CloneChunk ch = lattice_store_CloneChunk_init_zero;
    lt_pb_bind_views(&ch.intentions, &vs);
    cr_assert_eq(lt_pb_decode_static(lattice_store_CloneChunk_fields, &ch, g->body, g->len), LT_OK);
    cr_assert_eq(vs.n, 5, "seq 2..6 of 6: five puts and the peer's intention");
    cr_assert_eq(ch.next_seq, 7);
    cr_assert_eq(ch.total, 6);

    /* A batch of what is held already: all duplicates, one commit. */
    lt_buf_t b = LT_BUF_INIT;
    cr_assert_eq(
        lt_pb_append_bytes(&b, lattice_store_IngestBatch_store_tag, sid.b, LT_STORE_ID_LEN), LT_OK);
    for (size_t i = 0; i < vs.n; i++)
        cr_assert_eq(lt_pb_append_bytes(&b, lattice_store_IngestBatch_intentions_tag, vs.v[i].p,
                                        vs.v[i].len),
                     LT_OK);
    g = s_call_ok(lattice_store_StoreMsgType_INGEST_BATCH, &b);
    lattice_store_IngestedBatch ib = lattice_store_IngestedBatch_init_zero;
    cr_assert_eq(lt_pb_decode_static(lattice_store_IngestedBatch_fields, &ib, g->body, g->len),
                 LT_OK);
    cr_assert_eq(ib.duplicates, 5);
    cr_assert_eq(ib.witnessed, 0);
    /* Not from another node. */
    cr_assert_eq(s_call_from(pfrom, lattice_store_StoreMsgType_INGEST_BATCH, &b)->status,
                 LT_EREFUSED);

    /* Into a new store: one bad intention and none of the batch commits. */
    lt_store_id_t other = s_create(lattice_store_StoreType_STORE_TYPE_KV, NULL, NULL);
    lt_buf_reset(&b);
    cr_assert_eq(
        lt_pb_append_bytes(&b, lattice_store_IngestBatch_store_tag, other.b, LT_STORE_ID_LEN),
        LT_OK);
    lt_identity_t w;
    lt_test_identity(&w, 53);
    s_ingest_peer(&other, &w); /* a first intention there: the count to keep */
    s_ref_body(&b, &other);
    g = s_call_ok(lattice_store_StoreMsgType_STORE_INFO, &b);
    lattice_store_StoreInfo si = lattice_store_StoreInfo_init_zero;
    cr_assert_eq(lt_pb_decode_static(lattice_store_StoreInfo_fields, &si, g->body, g->len), LT_OK);
    uint64_t before = si.witnessed;
    lt_buf_reset(&b);
    cr_assert_eq(
        lt_pb_append_bytes(&b, lattice_store_IngestBatch_store_tag, other.b, LT_STORE_ID_LEN),
        LT_OK);
    /* The chunk's intentions belong to sid: the first is refused as another
     * store's (LT_EWRONGSTORE), so the batch fails whole. */
    for (size_t i = 0; i < vs.n; i++)
        cr_assert_eq(lt_pb_append_bytes(&b, lattice_store_IngestBatch_intentions_tag, vs.v[i].p,
                                        vs.v[i].len),
                     LT_OK);
    g = s_call(lattice_store_StoreMsgType_INGEST_BATCH, &b);
    cr_assert_eq(g->status, LT_EWRONGSTORE, "%s", lt_errname(g->status));
    s_ref_body(&b, &other);
    g = s_call_ok(lattice_store_StoreMsgType_STORE_INFO, &b);
    cr_assert_eq(lt_pb_decode_static(lattice_store_StoreInfo_fields, &si, g->body, g->len), LT_OK);
    cr_assert_eq(si.witnessed, before);
    lt_pb_views_free(&vs);
    lt_buf_free(&b);
}

/* ---- sync: SYNC_ITEMS and FETCH ---- */

static s_got_t *s_sync_items(const char *from, const lt_store_id_t *sid, uint64_t from_seq)
{
    lattice_store_CloneRead m = lattice_store_CloneRead_init_zero;
    S_SETB(m.store, sid->b, LT_STORE_ID_LEN);
    m.from_seq = from_seq;
    lt_buf_t b = LT_BUF_INIT;
    s_enc(lattice_store_CloneRead_fields, &m, &b);
    s_got_t *g = from ? s_call_from(from, lattice_store_StoreMsgType_SYNC_ITEMS, &b)
                      : s_call(lattice_store_StoreMsgType_SYNC_ITEMS, &b);
    lt_buf_free(&b);
    return g;
}

/* A SyncItems reply: its records appended to recs, next_seq and total. */
static size_t s_sync_records(const s_got_t *g, lt_buf_t *recs, uint64_t *next, uint64_t *total)
{
    cr_assert_eq(g->status, LT_OK, "%s", g->status ? s_errmsg(g) : "");
    lattice_store_SyncItems m = lattice_store_SyncItems_init_zero;
    lt_view_t items = {NULL, 0};
    lt_pb_input_t in = lt_pb_input(g->body, g->len);
    lt_pb_view_arg_t ia = {&items, &in};
    lt_pb_bind_view(&m.items, &ia);
    cr_assert_eq(lt_pb_decode_static(lattice_store_SyncItems_fields, &m, g->body, g->len), LT_OK);
    cr_assert_eq(items.len % LT_STORE_SYNC_ITEM_LEN, 0, "whole records: %zu bytes", items.len);
    if (items.len)
        cr_assert_eq(lt_buf_append(recs, items.p, items.len), LT_OK);
    *next = m.next_seq;
    *total = m.total;
    return items.len / LT_STORE_SYNC_ITEM_LEN;
}

/* The signed intention sid holds under h, as DEBUG shows it: its HLC and
 * witness seq. */
static void s_debug_of(const lt_store_id_t *sid, const lt_hash_t *h, lt_hlc_t *hlc, uint64_t *seq)
{
    lattice_store_Debug dq = lattice_store_Debug_init_zero;
    S_SETB(dq.store, sid->b, LT_STORE_ID_LEN);
    S_SETB(dq.hash, h->b, LT_HASH_LEN);
    lt_buf_t b = LT_BUF_INIT;
    s_enc(lattice_store_Debug_fields, &dq, &b);
    s_got_t *g = s_call_ok(lattice_store_StoreMsgType_DEBUG, &b);
    lattice_store_DebugIntention di = lattice_store_DebugIntention_init_zero;
    cr_assert_eq(lt_pb_decode_static(lattice_store_DebugIntention_fields, &di, g->body, g->len),
                 LT_OK);
    cr_assert_eq(memcmp(di.hash.bytes, h->b, LT_HASH_LEN), 0);
    hlc->wall_ms = di.wall_ms;
    hlc->counter = di.counter;
    *seq = di.seq;
    lt_buf_free(&b);
}

/* An intention by `who` in sid stamped with its own (past) HLC: ingested. */
static lt_hash_t s_ingest_stamped(const lt_store_id_t *sid, const lt_identity_t *who, lt_hlc_t hlc)
{
    lt_kv_entry_t e = {{(const uint8_t *)"theirs", 6}, {(const uint8_t *)"old", 3}, false};
    lt_buf_t kvop = LT_BUF_INIT, ops = LT_BUF_INIT, signed_b = LT_BUF_INIT, b = LT_BUF_INIT;
    cr_assert_eq(lt_kvop_encode(&e, 1, &kvop), LT_OK);
    cr_assert_eq(lt_uop_encode_app(kvop.data, kvop.len, &ops), LT_OK);
    lt_intention_t in = {.version = 1,
                         .author = who->pk,
                         .hlc = hlc,
                         .store_id = *sid,
                         .ops_len = (uint32_t)ops.len,
                         .ops = ops.data};
    lt_hash_t h;
    cr_assert_eq(lt_intention_sign(&in, who, &signed_b, &h), LT_OK);
    lattice_store_Ingest m = lattice_store_Ingest_init_zero;
    lt_view_t sv = {signed_b.data, signed_b.len};
    S_SETB(m.store, sid->b, LT_STORE_ID_LEN);
    lt_pb_bind_write(&m.signed_bytes, &sv);
    s_enc(lattice_store_Ingest_fields, &m, &b);
    s_call_ok(lattice_store_StoreMsgType_INGEST, &b);
    lt_buf_free(&kvop);
    lt_buf_free(&ops);
    lt_buf_free(&signed_b);
    lt_buf_free(&b);
    return h;
}

/* n puts of `value` under keys prefix0, prefix1, ... sent in bursts (group
 * commits); their hashes into hs (may be NULL). Clears the replies. */
static void s_put_many(const lt_store_id_t *sid, const char *prefix, size_t n, const char *value,
                       lt_hash_t *hs)
{
    lt_buf_t b = LT_BUF_INIT;
    uint64_t corr[256];
    for (size_t i = 0; i < n;) {
        size_t burst = 0;
        for (; burst < 256 && i + burst < n; burst++) {
            char k[32];
            snprintf(k, sizeof k, "%s%zu", prefix, i + burst);
            s_put_body(&b, sid, k, value, NULL);
            corr[burst] = s_inject(lattice_store_StoreMsgType_KV_PUT, &b);
        }
        s_run();
        for (size_t j = 0; j < burst; j++) {
            s_got_t *g = s_reply_to(corr[j]);
            cr_assert_eq(g->status, LT_OK, "put %zu: %s", i + j, lt_errname(g->status));
            if (hs)
                hs[i + j] = s_written(g);
        }
        s_clear();
        i += burst;
        s_env->clock += 7; /* puts of later bursts carry later HLCs */
    }
    lt_buf_free(&b);
}

Test(store_actor, sync_items_list_every_witnessed_intention_once_in_witness_order)
{
    lt_store_id_t sid = s_create(lattice_store_StoreType_STORE_TYPE_KV, NULL, NULL);
    /* Another author's intention first, stamped a day before this node's
     * clock: a record carries the author's HLC, not the time it was
     * witnessed. Then enough puts for more than one reply (records are 44
     * bytes; a reply holds some 4400). */
    lt_identity_t other;
    lt_test_identity(&other, 61);
    lt_hlc_t past = {s_env->clock - 86400000u, 7};
    lt_hash_t first = s_ingest_stamped(&sid, &other, past);
    enum { N = 4700 };
    s_put_many(&sid, "k", N, "v", NULL);

    lt_buf_t recs = LT_BUF_INIT;
    uint64_t from = 1, next = 0, total = 0;
    unsigned chunks = 0;
    do {
        size_t n = s_sync_records(s_sync_items(NULL, &sid, from), &recs, &next, &total);
        cr_assert_gt(n, 0, "a read from %llu inside the log returns records",
                     (unsigned long long)from);
        cr_assert_eq(next, from + n, "next_seq follows the last record");
        cr_assert_eq(total, N + 1);
        from = next;
        chunks++;
        s_clear();
    } while (next <= total);
    cr_assert_gt(chunks, 1, "the log took more than one reply");
    cr_assert_eq(recs.len, (N + 1) * LT_STORE_SYNC_ITEM_LEN, "every intention exactly once");

    /* Record i is the intention DEBUG shows at witness seq i + 1, with the
     * same hash and HLC. */
    for (size_t i = 0; i <= N; i++) {
        const uint8_t *r = recs.data + i * LT_STORE_SYNC_ITEM_LEN;
        lt_hash_t h;
        memcpy(h.b, r + 12, LT_HASH_LEN);
        lt_hlc_t hlc;
        uint64_t seq;
        s_debug_of(&sid, &h, &hlc, &seq);
        cr_assert_eq(seq, i + 1, "record %zu is witness seq %llu", i, (unsigned long long)seq);
        cr_assert_eq(lt_get_u64le(r), hlc.wall_ms, "record %zu wall_ms", i);
        cr_assert_eq(lt_get_u32le(r + 8), hlc.counter, "record %zu counter", i);
        if (i % 1000 == 0)
            s_clear();
    }
    s_clear();
    cr_assert_eq(memcmp(recs.data + 12, first.b, LT_HASH_LEN), 0);
    cr_assert_eq(lt_get_u64le(recs.data), past.wall_ms, "the author's HLC");
    cr_assert_eq(lt_get_u32le(recs.data + 8), past.counter);

    /* 0 reads from the start as 1 does; past the end: nothing. */
    lt_buf_t again = LT_BUF_INIT;
    size_t n = s_sync_records(s_sync_items(NULL, &sid, 0), &again, &next, &total);
    cr_assert_gt(n, 0);
    cr_assert_eq(memcmp(again.data, recs.data, again.len), 0);
    lt_buf_reset(&again);
    cr_assert_eq(s_sync_records(s_sync_items(NULL, &sid, N + 2), &again, &next, &total), 0);
    cr_assert_eq(next, N + 2);
    cr_assert_eq(total, N + 1);
    lt_buf_free(&again);

    /* Not to another node, even an active peer; no such store. */
    lt_identity_t p;
    lt_test_identity(&p, 62);
    s_ingest_peer(&sid, &p);
    char pfrom[LT_ADDR_MAX];
    s_remote(pfrom, sizeof pfrom, &p);
    s_got_t *g = s_sync_items(pfrom, &sid, 1);
    cr_assert_eq(g->status, LT_EREFUSED);
    cr_assert(strstr(s_errmsg(g), "not served to other nodes"), "%s", s_errmsg(g));
    lt_store_id_t nosuch = sid;
    nosuch.b[0] ^= 1;
    cr_assert_eq(s_sync_items(NULL, &nosuch, 1)->status, LT_ENOTFOUND);

    /* A stored intention that does not decode is an error reply, not a
     * crash; reads that do not reach it still work. */
    lt_hash_t third;
    memcpy(third.b, recs.data + 2 * LT_STORE_SYNC_ITEM_LEN + 12, LT_HASH_LEN);
    uint8_t key[LT_STORE_ID_LEN + LT_HASH_LEN];
    size_t klen = lt_key2(key, &sid, third.b, LT_HASH_LEN, NULL, 0);
    lt_kv_op_t op = {.cf = LT_CF_INTENTIONS,
                     .key = key,
                     .klen = klen,
                     .value = (const uint8_t *)"\x01short",
                     .vlen = 6};
    lt_kv_batch_t batch = {&op, 1};
    cr_assert_eq(lt_kv_write(s_env->faulty, &batch, true), LT_OK);
    g = s_sync_items(NULL, &sid, 1);
    cr_assert_eq(g->status, LT_ECORRUPT, "%s", lt_errname(g->status));
    cr_assert(strstr(s_errmsg(g), "witness seq 3"), "%s", s_errmsg(g));
    lt_buf_reset(&recs);
    cr_assert_gt(s_sync_records(s_sync_items(NULL, &sid, 4), &recs, &next, &total), 0);
    lt_buf_free(&recs);
}

static s_got_t *s_fetch(const char *from, const lt_store_id_t *sid, const lt_hash_t *hs, size_t n)
{
    lt_buf_t b = LT_BUF_INIT;
    cr_assert_eq(lt_pb_append_bytes(&b, lattice_store_Fetch_store_tag, sid->b, LT_STORE_ID_LEN),
                 LT_OK);
    for (size_t i = 0; i < n; i++)
        cr_assert_eq(lt_pb_append_bytes(&b, lattice_store_Fetch_hashes_tag, hs[i].b, LT_HASH_LEN),
                     LT_OK);
    s_got_t *g = from ? s_call_from(from, lattice_store_StoreMsgType_FETCH, &b)
                      : s_call(lattice_store_StoreMsgType_FETCH, &b);
    lt_buf_free(&b);
    return g;
}

/* A Fetched reply: views of its intentions (free with lt_pb_views_free) and
 * `done`. The views point into g's body. */
static uint32_t s_fetched(const s_got_t *g, lt_pb_input_t *in, lt_pb_views_t *vs)
{
    cr_assert_eq(g->status, LT_OK, "%s", g->status ? s_errmsg(g) : "");
    *in = lt_pb_input(g->body, g->len);
    *vs = (lt_pb_views_t){.in = in};
    lattice_store_Fetched m = lattice_store_Fetched_init_zero;
    lt_pb_bind_views(&m.intentions, vs);
    cr_assert_eq(lt_pb_decode_static(lattice_store_Fetched_fields, &m, g->body, g->len), LT_OK);
    return m.done;
}

/* Asserts that view v is the signed intention h. */
static void s_is_intention(const lt_view_t *v, const lt_hash_t *h)
{
    lt_signed_t s;
    cr_assert_eq(lt_signed_parse(v->p, v->len, &s), LT_OK);
    cr_assert(lt_hash_eq(&s.hash, h));
    cr_assert_eq(lt_signed_verify(&s), LT_OK);
}

Test(store_actor, fetch_returns_held_intentions_in_the_order_asked_and_skips_the_rest)
{
    lt_store_id_t sid = s_create(lattice_store_StoreType_STORE_TYPE_KV, NULL, NULL);
    lt_hash_t h[5];
    s_put_many(&sid, "k", 5, "v", h);
    lt_hash_t absent = h[0], absent2 = h[1];
    absent.b[0] ^= 1;
    absent2.b[31] ^= 1;

    /* Out of witness order, with hashes this node does not hold. */
    lt_hash_t ask[6] = {h[4], absent, h[0], h[2], absent2, h[3]};
    lt_pb_input_t in;
    lt_pb_views_t vs;
    s_got_t *g = s_fetch(NULL, &sid, ask, 6);
    cr_assert_eq(s_fetched(g, &in, &vs), 6, "every hash handled, the absent ones too");
    cr_assert_eq(vs.n, 4);
    const lt_hash_t *want[4] = {&h[4], &h[0], &h[2], &h[3]};
    /* The bytes are those a clone reads (witness seq i + 1 holds h[i]). */
    lt_pb_input_t cin = lt_pb_input(NULL, 0);
    s_got_t *cg = s_clone_read(NULL, &sid, 1);
    cr_assert_eq(cg->status, LT_OK);
    cin = lt_pb_input(cg->body, cg->len);
    lt_pb_views_t cvs = {.in = &cin};
    lattice_store_CloneChunk ch = lattice_store_CloneChunk_init_zero;
    lt_pb_bind_views(&ch.intentions, &cvs);
    cr_assert_eq(lt_pb_decode_static(lattice_store_CloneChunk_fields, &ch, cg->body, cg->len),
                 LT_OK);
    cr_assert_eq(cvs.n, 5);
    for (size_t i = 0; i < vs.n; i++) {
        s_is_intention(&vs.v[i], want[i]);
        size_t seq0 = (size_t)(want[i] - h);
        cr_assert_eq(vs.v[i].len, cvs.v[seq0].len);
        cr_assert_eq(memcmp(vs.v[i].p, cvs.v[seq0].p, vs.v[i].len), 0);
    }
    lt_pb_views_free(&vs);
    lt_pb_views_free(&cvs);
    /* Nothing held: no intentions, all handled. */
    cr_assert_eq(s_fetched(s_fetch(NULL, &sid, &absent, 1), &in, &vs), 1);
    cr_assert_eq(vs.n, 0);
    lt_pb_views_free(&vs);
    s_clear();

    /* Large intentions: a reply stops short, at least one each time, and
     * asking again from `done` on completes, in order. */
    enum { N = 60, VLEN = 100 * 1024 };
    char *big = malloc(VLEN + 1);
    cr_assert(big);
    memset(big, 'x', VLEN);
    big[VLEN] = '\0';
    lt_hash_t bh[N];
    s_put_many(&sid, "big", N, big, bh);
    free(big);
    lt_hash_t all[N + 2];
    size_t nall = 0, next_held = 0;
    all[nall++] = absent;
    for (size_t i = 0; i < N; i++) {
        all[nall++] = bh[i];
        if (i == N / 2)
            all[nall++] = absent2;
    }
    size_t at = 0, rounds = 0;
    while (at < nall) {
        g = s_fetch(NULL, &sid, all + at, nall - at);
        uint32_t done = s_fetched(g, &in, &vs);
        cr_assert_gt(done, 0);
        cr_assert_leq(at + done, nall);
        cr_assert_gt(vs.n, 0, "at least one intention when one is held");
        if (rounds == 0)
            cr_assert_lt(done, nall, "the first reply stops short");
        for (size_t i = 0; i < vs.n; i++)
            s_is_intention(&vs.v[i], &bh[next_held++]);
        lt_pb_views_free(&vs);
        at += done;
        rounds++;
        s_clear();
    }
    cr_assert_eq(next_held, N, "every intention fetched once");
    cr_assert_gt(rounds, 1);

    /* Another node: refused unless an active peer of the store. */
    lt_identity_t p, q;
    lt_test_identity(&p, 63);
    lt_test_identity(&q, 64);
    char pfrom[LT_ADDR_MAX], qfrom[LT_ADDR_MAX];
    s_remote(pfrom, sizeof pfrom, &p);
    s_remote(qfrom, sizeof qfrom, &q);
    g = s_fetch(pfrom, &sid, h, 5);
    cr_assert_eq(g->status, LT_EREFUSED);
    cr_assert(strstr(s_errmsg(g), "not an active peer"), "%s", s_errmsg(g));
    s_ingest_peer(&sid, &p);
    cr_assert_eq(s_fetched(s_fetch(pfrom, &sid, h, 5), &in, &vs), 5);
    cr_assert_eq(vs.n, 5);
    for (size_t i = 0; i < vs.n; i++)
        s_is_intention(&vs.v[i], &h[i]);
    lt_pb_views_free(&vs);
    cr_assert_eq(s_fetch(qfrom, &sid, h, 5)->status, LT_EREFUSED);
    lt_store_id_t nosuch = sid;
    nosuch.b[0] ^= 1;
    cr_assert_eq(s_fetch(NULL, &nosuch, h, 1)->status, LT_ENOTFOUND);

    /* Malformed: a hash of 31 bytes, no hashes, more than 4096. */
    lt_buf_t b = LT_BUF_INIT;
    cr_assert_eq(lt_pb_append_bytes(&b, lattice_store_Fetch_store_tag, sid.b, LT_STORE_ID_LEN),
                 LT_OK);
    cr_assert_eq(lt_pb_append_bytes(&b, lattice_store_Fetch_hashes_tag, h[0].b, LT_HASH_LEN),
                 LT_OK);
    cr_assert_eq(lt_pb_append_bytes(&b, lattice_store_Fetch_hashes_tag, h[1].b, 31), LT_OK);
    g = s_call(lattice_store_StoreMsgType_FETCH, &b);
    cr_assert_eq(g->status, LT_EINVAL);
    cr_assert(strstr(s_errmsg(g), "hash 2"), "%s", s_errmsg(g));
    lt_buf_free(&b);
    g = s_fetch(NULL, &sid, h, 0);
    cr_assert_eq(g->status, LT_EINVAL);
    cr_assert(strstr(s_errmsg(g), "at least one hash"), "%s", s_errmsg(g));
    lt_hash_t *many = calloc(LT_STORE_FETCH_MAX + 1, sizeof *many);
    cr_assert(many);
    for (size_t i = 0; i <= LT_STORE_FETCH_MAX; i++)
        many[i] = absent;
    g = s_fetch(NULL, &sid, many, LT_STORE_FETCH_MAX + 1);
    cr_assert_eq(g->status, LT_EINVAL);
    cr_assert(strstr(s_errmsg(g), "at most 4096"), "%s", s_errmsg(g));
    cr_assert_eq(s_fetched(s_fetch(NULL, &sid, many, LT_STORE_FETCH_MAX), &in, &vs),
                 LT_STORE_FETCH_MAX, "4096 is allowed");
    lt_pb_views_free(&vs);
    free(many);
}

/* ---- gossip: WITNESS_WATCH, IngestedBatch.missing, CHAIN_READ ---- */

/* A put of k=v by `who` in sid, signed here with the links given: its
 * signed bytes into out, its hash returned. */
static lt_hash_t s_sign_put(const lt_identity_t *who, const lt_store_id_t *sid, uint64_t wall,
                            const lt_hash_t *prev, const lt_hash_t *deps, unsigned ndeps,
                            const char *k, const char *v, lt_buf_t *out)
{
    lt_kv_entry_t e = {{(const uint8_t *)k, strlen(k)}, {(const uint8_t *)v, strlen(v)}, false};
    lt_buf_t kvop = LT_BUF_INIT, ops = LT_BUF_INIT;
    cr_assert_eq(lt_kvop_encode(&e, 1, &kvop), LT_OK);
    cr_assert_eq(lt_uop_encode_app(kvop.data, kvop.len, &ops), LT_OK);
    lt_intention_t in = {.version = LT_INTENTION_VERSION,
                         .author = who->pk,
                         .hlc = {wall, 0},
                         .store_id = *sid,
                         .ops_len = (uint32_t)ops.len,
                         .ops = ops.data};
    if (prev)
        in.store_prev = *prev;
    for (unsigned i = 0; i < ndeps; i++)
        in.deps[i] = deps[i];
    in.ndeps = (uint8_t)ndeps;
    lt_deps_normalize(in.deps, &in.ndeps);
    lt_hash_t h;
    lt_buf_reset(out);
    cr_assert_eq(lt_intention_sign(&in, who, out, &h), LT_OK);
    lt_buf_free(&kvop);
    lt_buf_free(&ops);
    return h;
}

/* A stand-in "sync" service: passes the tester's request to the store as
 * its own and the store's reply back (one at a time). */
typedef struct {
    char from[LT_ADDR_MAX];
    uint64_t corr;
} s_proxy_t;

static s_proxy_t s_proxy;

static lt_err_t s_proxy_start(lt_ctx_t *ctx, const void *cfg, void **self)
{
    (void)ctx;
    (void)cfg;
    *self = &s_proxy;
    return LT_OK;
}

static void s_proxy_receive(void *self, lt_ctx_t *ctx, const lt_msg_t *msg)
{
    s_proxy_t *p = self;
    if (msg->kind == LT_MSG_REQUEST) {
        snprintf(p->from, sizeof p->from, "%s", msg->from);
        p->corr = msg->corr;
        uint64_t corr;
        cr_assert_eq(lt_ctx_request(ctx, "store", msg->type, msg->body, msg->len, &corr), LT_OK);
    } else if (msg->kind == LT_MSG_REPLY) {
        cr_assert_eq(
            lt_ctx_reply_to(ctx, p->from, p->corr, msg->status, msg->type, msg->body, msg->len),
            LT_OK);
    }
}

static const lt_actor_ops_t s_proxy_sync = {
    .abi = LT_ACTOR_ABI, .name = "sync", .start = s_proxy_start, .receive = s_proxy_receive};

/* An IngestBatch of its[0..n) into sid, with `verified` and `quiet`, from
 * the stand-in sync service (via_sync) or from a client. */
static s_got_t *s_ingest_batch_ex(bool via_sync, const lt_store_id_t *sid,
                                  const lt_buf_t *const *its, size_t n, uint32_t verified,
                                  bool quiet)
{
    lt_buf_t b = LT_BUF_INIT;
    cr_assert_eq(
        lt_pb_append_bytes(&b, lattice_store_IngestBatch_store_tag, sid->b, LT_STORE_ID_LEN),
        LT_OK);
    for (size_t i = 0; i < n; i++)
        cr_assert_eq(lt_pb_append_bytes(&b, lattice_store_IngestBatch_intentions_tag, its[i]->data,
                                        its[i]->len),
                     LT_OK);
    /* Varint fields by hand: verified (3), quiet (4); values below 128. */
    cr_assert_lt(verified, 128);
    uint8_t tail[4] = {(lattice_store_IngestBatch_verified_tag << 3), (uint8_t)verified,
                       (lattice_store_IngestBatch_quiet_tag << 3), quiet};
    cr_assert_eq(lt_buf_append(&b, tail, sizeof tail), LT_OK);
    s_got_t *g =
        s_call_to(via_sync ? "sync" : "store", lattice_store_StoreMsgType_INGEST_BATCH, &b);
    lt_buf_free(&b);
    return g;
}

/* INGEST_BATCH of the signed intentions its[0..n) into sid: the reply. */
static lattice_store_IngestedBatch s_ingest_batch(const lt_store_id_t *sid,
                                                  const lt_buf_t *const *its, size_t n)
{
    s_got_t *g = s_ingest_batch_ex(false, sid, its, n, 0, false);
    cr_assert_eq(g->status, LT_OK, "%s", lt_errname(g->status));
    lattice_store_IngestedBatch r = lattice_store_IngestedBatch_init_zero;
    cr_assert_eq(lt_pb_decode_static(lattice_store_IngestedBatch_fields, &r, g->body, g->len),
                 LT_OK);
    for (pb_size_t i = 0; i < r.missing_count; i++)
        cr_assert_eq(r.missing[i].size, LT_HASH_LEN);
    return r;
}

static bool s_missing_has(const lattice_store_IngestedBatch *r, const lt_hash_t *h)
{
    for (pb_size_t i = 0; i < r->missing_count; i++)
        if (memcmp(r->missing[i].bytes, h->b, LT_HASH_LEN) == 0)
            return true;
    return false;
}

/* The bytes this node serves for h (FETCH: what lt_store_get_intention
 * gives) into out. */
static void s_served(const lt_store_id_t *sid, const lt_hash_t *h, lt_buf_t *out)
{
    lt_pb_input_t in;
    lt_pb_views_t vs;
    cr_assert_eq(s_fetched(s_fetch(NULL, sid, h, 1), &in, &vs), 1);
    cr_assert_eq(vs.n, 1);
    lt_buf_reset(out);
    cr_assert_eq(lt_buf_append(out, vs.v[0].p, vs.v[0].len), LT_OK);
    lt_pb_views_free(&vs);
}

/* The WITNESSED events of watch `corr` received so far, in order. */
static size_t s_witnessed_events(uint64_t corr, s_got_t **out, size_t max)
{
    size_t n = 0;
    for (size_t i = 0; i < s_env->ngot; i++) {
        s_got_t *g = &s_env->got[i];
        if (g->kind != LT_MSG_EVENT)
            continue;
        cr_assert_eq(g->type, lattice_store_StoreMsgType_WITNESSED);
        cr_assert_eq(g->corr, corr);
        cr_assert_lt(n, max);
        out[n++] = g;
    }
    return n;
}

/* A Witnessed event: its store into sid, views of its intentions into vs
 * (free with lt_pb_views_free; they point into g's body). */
static void s_witnessed(const s_got_t *g, lt_store_id_t *sid, lt_pb_input_t *in, lt_pb_views_t *vs)
{
    cr_assert_leq(g->len, LT_FRAME_MAX_BODY);
    *in = lt_pb_input(g->body, g->len);
    *vs = (lt_pb_views_t){.in = in};
    lattice_store_Witnessed m = lattice_store_Witnessed_init_zero;
    lt_pb_bind_views(&m.intentions, vs);
    cr_assert_eq(lt_pb_decode_static(lattice_store_Witnessed_fields, &m, g->body, g->len), LT_OK);
    cr_assert_eq(m.store.size, LT_STORE_ID_LEN);
    memcpy(sid->b, m.store.bytes, LT_STORE_ID_LEN);
    cr_assert_gt(vs->n, 0, "an event tells at least one intention");
}

/* Asserts that event g tells store sid's intentions hs[0..n), in order, in
 * exactly the bytes the store serves for them. */
static void s_expect_witnessed(const s_got_t *g, const lt_store_id_t *sid, const lt_hash_t *hs,
                               size_t n)
{
    lt_store_id_t got;
    lt_pb_input_t in;
    lt_pb_views_t vs;
    s_witnessed(g, &got, &in, &vs);
    cr_assert(lt_store_id_eq(&got, sid), "the event names another store");
    cr_assert_eq(vs.n, n, "%zu intentions told, %zu expected", vs.n, n);
    lt_buf_t want = LT_BUF_INIT;
    for (size_t i = 0; i < n; i++) {
        s_is_intention(&vs.v[i], &hs[i]);
        s_served(sid, &hs[i], &want);
        cr_assert_eq(vs.v[i].len, want.len);
        cr_assert_eq(memcmp(vs.v[i].p, want.data, want.len), 0, "intention %zu: other bytes", i);
    }
    lt_buf_free(&want);
    lt_pb_views_free(&vs);
}

static s_got_t *s_witness_watch(void)
{
    return s_call_ok(lattice_store_StoreMsgType_WITNESS_WATCH, NULL);
}

Test(store_actor, a_witness_watch_gets_what_each_commit_witnessed_per_store_after_it)
{
    lt_store_id_t kv = s_create(lattice_store_StoreType_STORE_TYPE_KV, NULL, NULL);
    lt_store_id_t lg = s_create(lattice_store_StoreType_STORE_TYPE_LOG, NULL, NULL);
    uint64_t watch = s_witness_watch()->corr;
    s_clear();

    /* Local writes of both kinds, one burst: one commit, one event per
     * store (in the order first touched), sent after the commit. */
    long before = lt_kv_faulty_writes(s_env->faulty);
    lt_buf_t b = LT_BUF_INIT;
    s_put_body(&b, &kv, "a", "1", NULL);
    uint64_t c1 = s_inject(lattice_store_StoreMsgType_KV_PUT, &b);
    lattice_store_LogAppend la = lattice_store_LogAppend_init_zero;
    lt_view_t text = {(const uint8_t *)"hello", 5};
    S_SETB(la.store, lg.b, LT_STORE_ID_LEN);
    lt_pb_bind_write(&la.text, &text);
    s_enc(lattice_store_LogAppend_fields, &la, &b);
    uint64_t c2 = s_inject(lattice_store_StoreMsgType_LOG_APPEND, &b);
    s_put_body(&b, &kv, "b", "2", NULL);
    uint64_t c3 = s_inject(lattice_store_StoreMsgType_KV_PUT, &b);
    s_run();
    lt_hash_t kvh[2] = {s_written(s_reply_to(c1)), s_written(s_reply_to(c3))};
    lt_hash_t logh = s_written(s_reply_to(c2));
    s_got_t *ev[8];
    cr_assert_eq(s_witnessed_events(watch, ev, 8), 2);
    for (int i = 0; i < 2; i++)
        cr_assert_eq(ev[i]->commits, before + 1, "an event before its commit");
    s_got_t first = *ev[0], second = *ev[1];
    s_expect_witnessed(&first, &kv, kvh, 2);
    s_expect_witnessed(&second, &lg, &logh, 1);
    s_clear();

    /* Another author's chain, the child first: it floats and nothing is
     * told; its parent's batch tells both, in witness order. */
    lt_identity_t other;
    lt_test_identity(&other, 71);
    lt_buf_t p1 = LT_BUF_INIT, p2 = LT_BUF_INIT;
    lt_hash_t ph[2];
    ph[0] = s_sign_put(&other, &kv, s_env->clock, NULL, NULL, 0, "o", "1", &p1);
    ph[1] = s_sign_put(&other, &kv, s_env->clock + 1, &ph[0], NULL, 0, "o", "2", &p2);
    const lt_buf_t *child[1] = {&p2}, *parent[1] = {&p1};
    lattice_store_IngestedBatch r = s_ingest_batch(&kv, child, 1);
    cr_assert_eq(r.floating, 1);
    cr_assert_eq(s_witnessed_events(watch, ev, 8), 0, "a floating intention was told");
    s_clear();
    before = lt_kv_faulty_writes(s_env->faulty);
    r = s_ingest_batch(&kv, parent, 1);
    cr_assert_eq(r.witnessed, 2);
    cr_assert_eq(s_witnessed_events(watch, ev, 8), 1);
    cr_assert_eq(ev[0]->commits, before + 1);
    first = *ev[0];
    s_expect_witnessed(&first, &kv, ph, 2);
    s_clear();

    /* System ops: an ingested one and a local one. */
    lt_identity_t peer;
    lt_test_identity(&peer, 72);
    s_ingest_peer(&kv, &peer);
    cr_assert_eq(s_witnessed_events(watch, ev, 8), 1);
    lt_store_id_t got;
    lt_pb_input_t in;
    lt_pb_views_t vs;
    s_witnessed(ev[0], &got, &in, &vs);
    cr_assert(lt_store_id_eq(&got, &kv));
    cr_assert_eq(vs.n, 1);
    lt_pb_views_free(&vs);
    s_clear();
    uint8_t secret[32];
    s_invite_secret(&kv, 0, secret);
    cr_assert_eq(s_witnessed_events(watch, ev, 8), 1, "a local system op was not told");
    s_clear();

    /* Unwatched: nothing more; a second unwatch finds nothing. */
    lattice_store_Unwatch u = {.corr = watch};
    s_enc(lattice_store_Unwatch_fields, &u, &b);
    s_call_ok(lattice_store_StoreMsgType_WITNESS_UNWATCH, &b);
    s_put(&kv, "c", "3");
    cr_assert_eq(s_witnessed_events(watch, ev, 8), 0);
    cr_assert_eq(s_call(lattice_store_StoreMsgType_WITNESS_UNWATCH, &b)->status, LT_ENOTFOUND);
    lt_buf_free(&p1);
    lt_buf_free(&p2);
    lt_buf_free(&b);
}

Test(store_actor, a_commit_too_large_for_one_witnessed_event_is_told_in_several)
{
    lt_store_id_t sid = s_create(lattice_store_StoreType_STORE_TYPE_KV, NULL, NULL);
    uint64_t watch = s_witness_watch()->corr;
    s_clear();
    enum { N = 6, VLEN = 60 * 1024 };
    char *big = malloc(VLEN + 1);
    cr_assert(big);
    memset(big, 'w', VLEN);
    big[VLEN] = '\0';
    lt_hash_t h[N];
    uint64_t corr[N];
    lt_buf_t b = LT_BUF_INIT;
    for (int i = 0; i < N; i++) {
        char k[8];
        snprintf(k, sizeof k, "big%d", i);
        s_put_body(&b, &sid, k, big, NULL);
        corr[i] = s_inject(lattice_store_StoreMsgType_KV_PUT, &b);
    }
    long before = lt_kv_faulty_writes(s_env->faulty);
    s_run(); /* one burst: one commit */
    for (int i = 0; i < N; i++)
        h[i] = s_written(s_reply_to(corr[i]));
    lt_buf_free(&b);
    free(big);
    s_got_t *ev[8];
    size_t nev = s_witnessed_events(watch, ev, 8);
    cr_assert_gt(nev, 1, "one event of %d intentions of 60 KiB", N);
    size_t at = 0;
    for (size_t i = 0; i < nev; i++) {
        lt_store_id_t got;
        lt_pb_input_t in;
        lt_pb_views_t vs;
        s_witnessed(ev[i], &got, &in, &vs);
        cr_assert(lt_store_id_eq(&got, &sid));
        cr_assert_eq(ev[i]->commits, before + 1);
        for (size_t k = 0; k < vs.n; k++)
            s_is_intention(&vs.v[k], &h[at++]);
        lt_pb_views_free(&vs);
    }
    cr_assert_eq(at, N, "every intention told once, in witness order");
}

Test(store_actor, a_witness_watch_is_local_bounded_and_lost_when_its_watcher_is_gone)
{
    lt_store_id_t sid = s_create(lattice_store_StoreType_STORE_TYPE_KV, NULL, NULL);
    /* Not for other nodes, even active peers. */
    lt_identity_t p;
    lt_test_identity(&p, 73);
    s_ingest_peer(&sid, &p);
    char pfrom[LT_ADDR_MAX];
    s_remote(pfrom, sizeof pfrom, &p);
    s_got_t *g = s_call_from(pfrom, lattice_store_StoreMsgType_WITNESS_WATCH, NULL);
    cr_assert_eq(g->status, LT_EREFUSED);
    cr_assert(strstr(s_errmsg(g), "not served to other nodes"), "%s", s_errmsg(g));
    /* No body. */
    lt_buf_t b = LT_BUF_INIT;
    s_ref_body(&b, &sid);
    cr_assert_eq(s_call(lattice_store_StoreMsgType_WITNESS_WATCH, &b)->status, LT_EINVAL);

    /* A watcher that is gone loses its watch at the first event. */
    lt_msg_t m = {
        .kind = LT_MSG_REQUEST, .corr = 999, .type = lattice_store_StoreMsgType_WITNESS_WATCH};
    cr_assert_eq(lt_coop_inject(s_env->rt, "store", &m, S_GONE), LT_OK);
    s_run();
    s_put(&sid, "a", "1");
    cr_assert_eq(s_env->refused_events, 1);
    s_put(&sid, "b", "2");
    cr_assert_eq(s_env->refused_events, 1, "the watch was not cancelled");

    /* Its place is free again: 8 watches, not 9. */
    uint64_t corr[8];
    for (int i = 0; i < 8; i++)
        corr[i] = s_witness_watch()->corr;
    g = s_call(lattice_store_StoreMsgType_WITNESS_WATCH, NULL);
    cr_assert_eq(g->status, LT_EFULL);
    cr_assert(strstr(s_errmsg(g), "at most 8 witness watches"), "%s", s_errmsg(g));
    s_clear();
    s_put(&sid, "c", "3");
    size_t events = 0;
    for (size_t i = 0; i < s_env->ngot; i++)
        events += s_env->got[i].kind == LT_MSG_EVENT;
    cr_assert_eq(events, 8, "one event per watch");
    lattice_store_Unwatch u = {.corr = corr[3]};
    s_enc(lattice_store_Unwatch_fields, &u, &b);
    s_call_ok(lattice_store_StoreMsgType_WITNESS_UNWATCH, &b);
    s_witness_watch();
    lt_buf_free(&b);
}

Test(store_actor, an_ingest_batch_names_what_its_floating_intentions_miss)
{
    lt_store_id_t sid = s_create(lattice_store_StoreType_STORE_TYPE_KV, NULL, NULL);
    lt_identity_t a, d;
    lt_test_identity(&a, 81);
    lt_test_identity(&d, 82);
    /* a1 <- a2 <- a3 by a, a3 also citing d1 (by d). */
    lt_buf_t a1 = LT_BUF_INIT, a2 = LT_BUF_INIT, a3 = LT_BUF_INIT, d1 = LT_BUF_INIT;
    uint64_t t = s_env->clock;
    lt_hash_t ha1 = s_sign_put(&a, &sid, t, NULL, NULL, 0, "a", "1", &a1);
    lt_hash_t ha2 = s_sign_put(&a, &sid, t + 1, &ha1, NULL, 0, "a", "2", &a2);
    lt_hash_t hd1 = s_sign_put(&d, &sid, t, NULL, NULL, 0, "d", "1", &d1);
    lt_hash_t ha3 = s_sign_put(&a, &sid, t + 2, &ha2, &hd1, 1, "a", "3", &a3);

    /* a3 alone: both of its links are missing. */
    const lt_buf_t *b3[1] = {&a3};
    lattice_store_IngestedBatch r = s_ingest_batch(&sid, b3, 1);
    cr_assert_eq(r.floating, 1);
    cr_assert_eq(r.missing_count, 2);
    cr_assert(s_missing_has(&r, &ha2) && s_missing_has(&r, &hd1));
    /* a2 arrives and floats in turn: this batch misses a1. */
    const lt_buf_t *b2[1] = {&a2};
    r = s_ingest_batch(&sid, b2, 1);
    cr_assert_eq(r.floating, 1);
    cr_assert_eq(r.missing_count, 1);
    cr_assert(s_missing_has(&r, &ha1));
    /* a3 again (held, still floating): what keeps it, through a2. */
    r = s_ingest_batch(&sid, b3, 1);
    cr_assert_eq(r.duplicates, 1);
    cr_assert_eq(r.missing_count, 2);
    cr_assert(s_missing_has(&r, &ha1) && s_missing_has(&r, &hd1));
    /* The parents arrive: everything is witnessed, nothing is missing. */
    const lt_buf_t *parents[2] = {&a1, &d1};
    r = s_ingest_batch(&sid, parents, 2);
    cr_assert_eq(r.witnessed, 4);
    cr_assert_eq(r.missing_count, 0);
    (void)ha3;

    /* 70 intentions each citing a different absent one: 64 named, each
     * once. */
    enum { M = 70 };
    lt_buf_t many[M];
    const lt_buf_t *pm[M];
    for (int i = 0; i < M; i++) {
        lt_identity_t w;
        lt_test_identity(&w, (uint8_t)(100 + i));
        lt_hash_t absent;
        memset(absent.b, i + 1, LT_HASH_LEN);
        many[i] = (lt_buf_t)LT_BUF_INIT;
        s_sign_put(&w, &sid, t, NULL, &absent, 1, "m", "x", &many[i]);
        pm[i] = &many[i];
    }
    r = s_ingest_batch(&sid, pm, M);
    cr_assert_eq(r.floating, M);
    cr_assert_eq(r.missing_count, LT_STORE_MISSING_MAX);
    for (pb_size_t i = 0; i < r.missing_count; i++)
        for (pb_size_t k = 0; k < i; k++)
            cr_assert_neq(memcmp(r.missing[i].bytes, r.missing[k].bytes, LT_HASH_LEN), 0);
    for (int i = 0; i < M; i++)
        lt_buf_free(&many[i]);
    lt_buf_free(&a1);
    lt_buf_free(&a2);
    lt_buf_free(&a3);
    lt_buf_free(&d1);
}

static s_got_t *s_chain_read(const char *from, const lt_store_id_t *sid, const lt_hash_t *hs,
                             size_t n, uint32_t max)
{
    lt_buf_t b = LT_BUF_INIT;
    cr_assert_eq(lt_pb_append_bytes(&b, lattice_store_ChainRead_store_tag, sid->b, LT_STORE_ID_LEN),
                 LT_OK);
    for (size_t i = 0; i < n; i++)
        cr_assert_eq(
            lt_pb_append_bytes(&b, lattice_store_ChainRead_hashes_tag, hs[i].b, LT_HASH_LEN),
            LT_OK);
    lattice_store_ChainRead tail = lattice_store_ChainRead_init_zero;
    tail.max = max;
    lt_buf_t t = LT_BUF_INIT;
    s_enc(lattice_store_ChainRead_fields, &tail, &t);
    cr_assert_eq(lt_buf_append(&b, t.data, t.len), LT_OK);
    s_got_t *g = from ? s_call_from(from, lattice_store_StoreMsgType_CHAIN_READ, &b)
                      : s_call(lattice_store_StoreMsgType_CHAIN_READ, &b);
    lt_buf_free(&t);
    lt_buf_free(&b);
    return g;
}

/* A CloneChunk reply: views of its intentions into vs (free with
 * lt_pb_views_free), the chunk's fields returned. */
static lattice_store_CloneChunk s_chunk(const s_got_t *g, lt_pb_input_t *in, lt_pb_views_t *vs)
{
    cr_assert_eq(g->status, LT_OK, "%s", g->status ? s_errmsg(g) : "");
    cr_assert_leq(g->len, LT_FRAME_MAX_BODY);
    *in = lt_pb_input(g->body, g->len);
    *vs = (lt_pb_views_t){.in = in};
    lattice_store_CloneChunk ch = lattice_store_CloneChunk_init_zero;
    lt_pb_bind_views(&ch.intentions, vs);
    cr_assert_eq(lt_pb_decode_static(lattice_store_CloneChunk_fields, &ch, g->body, g->len), LT_OK);
    return ch;
}

Test(store_actor, a_chain_read_returns_an_intention_and_its_ancestors_nearest_first)
{
    lt_store_id_t sid = s_create(lattice_store_StoreType_STORE_TYPE_KV, NULL, NULL);
    enum { N = 20 };
    lt_hash_t h[N];
    s_put_many(&sid, "k", N, "v", h);
    lt_pb_input_t in;
    lt_pb_views_t vs;

    /* The newest: the whole chain back, newest first. */
    lattice_store_CloneChunk ch = s_chunk(s_chain_read(NULL, &sid, &h[N - 1], 1, 0), &in, &vs);
    cr_assert_eq(vs.n, N);
    cr_assert_eq(ch.next_seq, 0);
    cr_assert_eq(ch.total, N);
    for (size_t i = 0; i < N; i++)
        s_is_intention(&vs.v[i], &h[N - 1 - i]);
    lt_pb_views_free(&vs);
    /* max cuts it. */
    s_chunk(s_chain_read(NULL, &sid, &h[N - 1], 1, 5), &in, &vs);
    cr_assert_eq(vs.n, 5);
    for (size_t i = 0; i < 5; i++)
        s_is_intention(&vs.v[i], &h[N - 1 - i]);
    lt_pb_views_free(&vs);
    /* Two named, one an ancestor of the other, one not held: each once. */
    lt_hash_t absent = h[0];
    absent.b[0] ^= 1;
    lt_hash_t ask[3] = {h[4], absent, h[9]};
    s_chunk(s_chain_read(NULL, &sid, ask, 3, 0), &in, &vs);
    cr_assert_eq(vs.n, 10);
    for (size_t i = 0; i < 10; i++)
        s_is_intention(&vs.v[i], &h[9 - i]);
    lt_pb_views_free(&vs);
    /* Nothing held: an empty chunk. */
    ch = s_chunk(s_chain_read(NULL, &sid, &absent, 1, 0), &in, &vs);
    cr_assert_eq(vs.n, 0);
    cr_assert_eq(ch.total, N);
    lt_pb_views_free(&vs);
    s_clear();

    /* Another node: refused unless an active peer of the store. */
    lt_identity_t p, q;
    lt_test_identity(&p, 91);
    lt_test_identity(&q, 92);
    char pfrom[LT_ADDR_MAX], qfrom[LT_ADDR_MAX];
    s_remote(pfrom, sizeof pfrom, &p);
    s_remote(qfrom, sizeof qfrom, &q);
    s_got_t *g = s_chain_read(pfrom, &sid, &h[N - 1], 1, 0);
    cr_assert_eq(g->status, LT_EREFUSED);
    cr_assert(strstr(s_errmsg(g), "not an active peer"), "%s", s_errmsg(g));
    s_ingest_peer(&sid, &p);
    s_chunk(s_chain_read(pfrom, &sid, &h[N - 1], 1, 3), &in, &vs);
    cr_assert_eq(vs.n, 3);
    lt_pb_views_free(&vs);
    cr_assert_eq(s_chain_read(qfrom, &sid, &h[N - 1], 1, 0)->status, LT_EREFUSED);
    lt_store_id_t nosuch = sid;
    nosuch.b[0] ^= 1;
    cr_assert_eq(s_chain_read(NULL, &nosuch, h, 1, 0)->status, LT_ENOTFOUND);

    /* Malformed: no hash, 65 hashes, a hash of 31 bytes. */
    g = s_chain_read(NULL, &sid, h, 0, 0);
    cr_assert_eq(g->status, LT_EINVAL);
    cr_assert(strstr(s_errmsg(g), "at least one hash"), "%s", s_errmsg(g));
    lt_hash_t many[LT_STORE_CHAIN_READ_MAX + 1];
    for (size_t i = 0; i <= LT_STORE_CHAIN_READ_MAX; i++)
        many[i] = h[i % N];
    g = s_chain_read(NULL, &sid, many, LT_STORE_CHAIN_READ_MAX + 1, 0);
    cr_assert_eq(g->status, LT_EINVAL);
    cr_assert(strstr(s_errmsg(g), "at most 64"), "%s", s_errmsg(g));
    s_chunk(s_chain_read(NULL, &sid, many, LT_STORE_CHAIN_READ_MAX, 0), &in, &vs);
    cr_assert_eq(vs.n, N, "64 hashes are allowed, each intention sent once");
    lt_pb_views_free(&vs);
    lt_buf_t b = LT_BUF_INIT;
    cr_assert_eq(lt_pb_append_bytes(&b, lattice_store_ChainRead_store_tag, sid.b, LT_STORE_ID_LEN),
                 LT_OK);
    cr_assert_eq(lt_pb_append_bytes(&b, lattice_store_ChainRead_hashes_tag, h[0].b, 31), LT_OK);
    g = s_call(lattice_store_StoreMsgType_CHAIN_READ, &b);
    cr_assert_eq(g->status, LT_EINVAL);
    cr_assert(strstr(s_errmsg(g), "hash 1"), "%s", s_errmsg(g));
    lt_buf_free(&b);
}

Test(store_actor, a_chain_read_stops_short_of_the_message_size)
{
    lt_store_id_t sid = s_create(lattice_store_StoreType_STORE_TYPE_KV, NULL, NULL);
    enum { N = 6, VLEN = 60 * 1024 };
    char *big = malloc(VLEN + 1);
    cr_assert(big);
    memset(big, 'c', VLEN);
    big[VLEN] = '\0';
    lt_hash_t h[N];
    s_put_many(&sid, "big", N, big, h);
    free(big);
    lt_pb_input_t in;
    lt_pb_views_t vs;
    s_chunk(s_chain_read(NULL, &sid, &h[N - 1], 1, 0), &in, &vs);
    cr_assert(vs.n >= 1 && vs.n < N, "%zu intentions of 60 KiB in one reply", vs.n);
    for (size_t i = 0; i < vs.n; i++)
        s_is_intention(&vs.v[i], &h[N - 1 - i]);
    lt_pb_views_free(&vs);
}

Test(store_actor, a_chain_read_ingested_in_reverse_fills_a_gap_on_another_node)
{
    /* Node A (key 1) writes a chain of N; a node that holds its first five
     * gets the newest pushed (it floats), asks A for what it misses, and
     * ingests A's reply ancestors first. */
    enum { N = 20, HELD = 5 };
    lt_store_id_t sid = s_create(lattice_store_StoreType_STORE_TYPE_KV, NULL, NULL);
    lt_hash_t h[N];
    s_put_many(&sid, "k", N, "v", h);
    lt_buf_t all[N];
    for (size_t i = 0; i < N; i++) {
        all[i] = (lt_buf_t)LT_BUF_INIT;
        s_served(&sid, &h[i], &all[i]);
    }
    lt_pb_input_t in;
    lt_pb_views_t vs;
    s_chunk(s_chain_read(NULL, &sid, &h[N - 2], 1, 0), &in, &vs);
    cr_assert_eq(vs.n, N - 1);
    lt_buf_t reply[N - 1];
    for (size_t i = 0; i < vs.n; i++) {
        reply[i] = (lt_buf_t)LT_BUF_INIT;
        cr_assert_eq(lt_buf_append(&reply[i], vs.v[i].p, vs.v[i].len), LT_OK);
    }
    lt_pb_views_free(&vs);
    s_teardown();

    lt_kv_t *mem;
    cr_assert_eq(lt_kv_mem_open(LT_CF_COUNT, &mem), LT_OK);
    s_setup_node_with(mem, 0, 2);
    lt_identity_t a;
    lt_test_identity(&a, 1);
    lattice_store_Joined j = lattice_store_Joined_init_zero;
    S_SETB(j.store, sid.b, LT_STORE_ID_LEN);
    j.type = lattice_store_StoreType_STORE_TYPE_KV;
    S_SETB(j.inviter, a.pk.b, LT_KEY_LEN);
    lt_buf_t b = LT_BUF_INIT;
    s_enc(lattice_store_Joined_fields, &j, &b);
    s_call_ok(lattice_store_StoreMsgType_PEER_JOINED, &b);
    lattice_store_StoreInfo si = lattice_store_StoreInfo_init_zero;
    s_ref_body(&b, &sid);
    s_got_t *g = s_call_ok(lattice_store_StoreMsgType_STORE_INFO, &b);
    cr_assert_eq(lt_pb_decode_static(lattice_store_StoreInfo_fields, &si, g->body, g->len), LT_OK);
    uint64_t base = si.witnessed; /* the inviter recorded as a peer */
    const lt_buf_t *its[N];
    for (size_t i = 0; i < HELD; i++)
        its[i] = &all[i];
    cr_assert_eq(s_ingest_batch(&sid, its, HELD).witnessed, HELD);
    its[0] = &all[N - 1];
    lattice_store_IngestedBatch r = s_ingest_batch(&sid, its, 1);
    cr_assert_eq(r.floating, 1);
    cr_assert_eq(r.missing_count, 1);
    cr_assert(s_missing_has(&r, &h[N - 2]), "the pushed intention's parent is not missing");

    /* The reply reversed: what is held is a duplicate, the rest is
     * witnessed in order, and the cascade takes the pushed one. */
    for (size_t i = 0; i < N - 1; i++)
        its[i] = &reply[N - 2 - i];
    r = s_ingest_batch(&sid, its, N - 1);
    cr_assert_eq(r.duplicates, HELD);
    cr_assert_eq(r.witnessed, N - HELD);
    cr_assert_eq(r.floating, 0);
    cr_assert_eq(r.missing_count, 0);
    g = s_call_ok(lattice_store_StoreMsgType_STORE_INFO, &b);
    cr_assert_eq(lt_pb_decode_static(lattice_store_StoreInfo_fields, &si, g->body, g->len), LT_OK);
    cr_assert_eq(si.witnessed, base + N);
    cr_assert_eq(si.floating, 0);
    for (size_t i = 0; i < N; i++) {
        lt_hlc_t hlc;
        uint64_t seq;
        s_debug_of(&sid, &h[i], &hlc, &seq);
        cr_assert_eq(seq, base + i + 1, "intention %zu witnessed at %llu", i,
                     (unsigned long long)seq);
    }
    for (size_t i = 0; i < N; i++)
        lt_buf_free(&all[i]);
    for (size_t i = 0; i < N - 1; i++)
        lt_buf_free(&reply[i]);
    lt_buf_free(&b);
}

Test(store_actor, a_joined_store_is_held_empty_with_its_inviter_as_peer)
{
    lt_identity_t inviter;
    lt_test_identity(&inviter, 41);
    lt_store_id_t sid;
    memset(sid.b, 0x5a, sizeof sid.b);
    lattice_store_Joined m = lattice_store_Joined_init_zero;
    S_SETB(m.store, sid.b, LT_STORE_ID_LEN);
    m.type = lattice_store_StoreType_STORE_TYPE_KV;
    S_SETB(m.inviter, inviter.pk.b, LT_KEY_LEN);
    lt_buf_t b = LT_BUF_INIT;
    s_enc(lattice_store_Joined_fields, &m, &b);
    s_got_t *g = s_call_ok(lattice_store_StoreMsgType_PEER_JOINED, &b);
    lattice_store_StoreCreated c = lattice_store_StoreCreated_init_zero;
    cr_assert_eq(lt_pb_decode_static(lattice_store_StoreCreated_fields, &c, g->body, g->len),
                 LT_OK);
    cr_assert_eq(memcmp(c.store.bytes, sid.b, LT_STORE_ID_LEN), 0);
    cr_assert_eq(s_call(lattice_store_StoreMsgType_PEER_JOINED, &b)->status, LT_EEXIST);
    lt_buf_t r = LT_BUF_INIT;
    s_ref_body(&r, &sid);
    lt_pubkey_t keys[2];
    int states[2];
    cr_assert_eq(s_peers(s_call_ok(lattice_store_StoreMsgType_PEER_LIST, &r), keys, states, 2), 1);
    cr_assert_eq(lt_pubkey_cmp(&keys[0], &inviter.pk), 0);
    /* Another node may not make this node hold a store. */
    lt_identity_t x;
    lt_test_identity(&x, 42);
    char xfrom[LT_ADDR_MAX];
    s_remote(xfrom, sizeof xfrom, &x);
    sid.b[0] ^= 1;
    S_SETB(m.store, sid.b, LT_STORE_ID_LEN);
    s_enc(lattice_store_Joined_fields, &m, &b);
    cr_assert_eq(s_call_from(xfrom, lattice_store_StoreMsgType_PEER_JOINED, &b)->status,
                 LT_EREFUSED);
    lt_buf_free(&b);
    lt_buf_free(&r);
}

Test(store_actor, a_retried_request_id_gets_the_same_reply)
{
    lt_store_id_t sid = s_create(lattice_store_StoreType_STORE_TYPE_KV, NULL, NULL);
    uint8_t rid[LT_REQUEST_ID_LEN];
    memset(rid, 0xab, sizeof rid);
    lt_buf_t b = LT_BUF_INIT;
    s_put_body(&b, &sid, "k", "first", rid);
    /* the retry arrives in the same burst */
    uint64_t c1 = s_inject(lattice_store_StoreMsgType_KV_PUT, &b);
    s_put_body(&b, &sid, "k", "second", rid);
    uint64_t c2 = s_inject(lattice_store_StoreMsgType_KV_PUT, &b);
    s_run();
    lt_hash_t h1 = s_written(s_reply_to(c1)), h2 = s_written(s_reply_to(c2));
    cr_assert(lt_hash_eq(&h1, &h2));
    /* and later */
    lt_hash_t h3 = s_written(s_call_ok(lattice_store_StoreMsgType_KV_PUT, &b));
    cr_assert(lt_hash_eq(&h1, &h3));
    char v[16];
    cr_assert_eq(s_get(&sid, "k", v, sizeof v, NULL), LT_OK);
    cr_assert_str_eq(v, "first");
    lt_buf_free(&b);
}

TestSuite(store_actor_restart);

/* A RocksDB backend on dir, made when missing. */
static lt_kv_t *s_rocksdb_at(const char *dir)
{
    lt_kv_rocksdb_opts_t opts = {.create_if_missing = true};
    lt_kv_t *kv = NULL;
    cr_assert_eq(lt_kv_rocksdb_open(dir, lt_cf_names, LT_CF_COUNT, &opts, NULL, &kv), LT_OK);
    return kv;
}

Test(store_actor_restart, a_retried_request_id_survives_a_restart)
{
    char *dir = lt_test_tmpdir("store-actor");
    const char *path = dir;
    lt_kv_t *kv = s_rocksdb_at(path);
    s_setup_with(kv, 0);
    lt_store_id_t sid = s_create(lattice_store_StoreType_STORE_TYPE_KV, NULL, NULL);
    uint8_t rid[LT_REQUEST_ID_LEN];
    memset(rid, 0x5c, sizeof rid);
    lt_buf_t b = LT_BUF_INIT;
    s_put_body(&b, &sid, "k", "first", rid);
    lt_hash_t h1 = s_written(s_call_ok(lattice_store_StoreMsgType_KV_PUT, &b));

    /* restart: stop the actor (it closes RocksDB), start it on the same dir */
    cr_assert_eq(lt_coop_remove(s_env->rt, "store"), LT_OK);
    kv = s_rocksdb_at(path);
    s_start_actor(s_env, kv, 0);
    long before = lt_kv_faulty_writes(s_env->faulty);

    s_put_body(&b, &sid, "k", "second", rid);
    lt_hash_t h2 = s_written(s_call_ok(lattice_store_StoreMsgType_KV_PUT, &b));
    cr_assert(lt_hash_eq(&h1, &h2));
    cr_assert_eq(lt_kv_faulty_writes(s_env->faulty), before, "the retry wrote");
    char v[16];
    cr_assert_eq(s_get(&sid, "k", v, sizeof v, NULL), LT_OK);
    cr_assert_str_eq(v, "first");
    lattice_store_StoreRef r = lattice_store_StoreRef_init_zero;
    S_SETB(r.store, sid.b, LT_STORE_ID_LEN);
    s_enc(lattice_store_StoreRef_fields, &r, &b);
    s_got_t *g = s_call_ok(lattice_store_StoreMsgType_STORE_INFO, &b);
    lattice_store_StoreInfo si = lattice_store_StoreInfo_init_zero;
    cr_assert_eq(lt_pb_decode_static(lattice_store_StoreInfo_fields, &si, g->body, g->len), LT_OK);
    cr_assert_eq(si.witnessed, 1);
    lt_buf_free(&b);
    s_teardown();
    lt_test_rmtree(&dir);
}

/* Store ids come from the runtime's random source, so a simulated run
 * repeats exactly for a seed. */
static lt_store_id_t s_first_store_id(uint64_t seed)
{
    lt_kv_t *mem;
    cr_assert_eq(lt_kv_mem_open(LT_CF_COUNT, &mem), LT_OK);
    s_setup_with(mem, 0);
    s_env->seed = seed;
    lt_store_id_t id = s_create(lattice_store_StoreType_STORE_TYPE_KV, "x", NULL);
    s_teardown();
    return id;
}

Test(store_actor_restart, store_ids_follow_the_runtime_random_source)
{
    lt_store_id_t a = s_first_store_id(7), b = s_first_store_id(7), c = s_first_store_id(8);
    cr_assert(lt_store_id_eq(&a, &b), "the same seed gave two store ids");
    cr_assert_not(lt_store_id_eq(&a, &c), "different seeds gave one store id");
    cr_assert_eq(a.b[6] >> 4, 4, "not a version 4 UUID");
}

/* Whether STORE_LIST names sid. */
static bool s_listed(const lt_store_id_t *sid)
{
    s_got_t *g = s_call_ok(lattice_store_StoreMsgType_STORE_LIST, NULL);
    return lt_test_store_list_has(g->body, g->len, sid);
}

/* A child declared while the node could not open it (a crash between the
 * commit that brought the declaration and the opening), and one declared
 * removed while it was still held: the actor catches up at start. */
Test(store_actor_restart, children_declared_or_removed_while_down_are_opened_or_closed_at_start)
{
    char *dir = lt_test_tmpdir("store-actor-kids");
    lt_kv_t *kv = s_rocksdb_at(dir);
    s_setup_with(kv, 0);
    lt_store_id_t root = s_create(lattice_store_StoreType_STORE_TYPE_KV, "root", NULL);
    lt_store_id_t kid = s_create(lattice_store_StoreType_STORE_TYPE_KV, "kid", &root);
    lt_store_id_t gone = s_create(lattice_store_StoreType_STORE_TYPE_LOG, "gone", &root);
    cr_assert_eq(lt_coop_remove(s_env->rt, "store"), LT_OK);

    /* Behind the actor's back: `kid` not held, `gone` declared removed. */
    kv = s_rocksdb_at(dir);
    lt_identity_t id;
    lt_test_identity(&id, 1);
    lt_db_config_t dc = {.kv = kv, .identity = &id};
    lt_db_t *db = NULL;
    cr_assert_eq(lt_db_open(&dc, &db, NULL), LT_OK);
    cr_assert_eq(lt_store_remove(db, &kid), LT_OK);
    lattice_ChildSet c = lattice_ChildSet_init_zero;
    lt_store_t *rst = lt_db_store(db, &root);
    cr_assert_not_null(rst);
    cr_assert_eq(lt_system_get_child(rst, &gone, &c), LT_OK);
    cr_assert_str_eq(c.type, "core:logstore");
    c.status = lattice_ChildStatus_CHILD_REMOVED;
    cr_assert_eq(lt_system_set_child(rst, &c, NULL), LT_OK);
    cr_assert_eq(lt_db_commit(db), LT_OK);
    cr_assert_not_null(lt_db_store(db, &gone));
    lt_db_close(&db);

    kv = s_rocksdb_at(dir);
    s_start_actor(s_env, kv, 0);
    cr_assert(s_listed(&kid), "the declared child was not opened at start");
    cr_assert_not(s_listed(&gone), "the child declared removed is still held");
    cr_assert(s_listed(&root));
    /* Opened empty (its history comes from peers); the name its parent
     * declared shows meanwhile. */
    lt_buf_t b = LT_BUF_INIT;
    s_ref_body(&b, &kid);
    s_got_t *g = s_call_ok(lattice_store_StoreMsgType_STORE_INFO, &b);
    lattice_store_StoreInfo si = lattice_store_StoreInfo_init_zero;
    cr_assert_eq(lt_pb_decode_static(lattice_store_StoreInfo_fields, &si, g->body, g->len), LT_OK);
    cr_assert_eq(si.witnessed, 0);
    cr_assert_str_eq(si.name, "kid");
    cr_assert_eq(si.type, lattice_store_StoreType_STORE_TYPE_KV);
    lt_buf_free(&b);
    s_teardown();
    lt_test_rmtree(&dir);
}

/* Two stores that declare each other children (a peer can write any
 * declaration): who inherits what stays bounded, and every key is listed
 * once. */
Test(store_actor_restart, a_cycle_of_child_declarations_inherits_each_peer_once)
{
    char *dir = lt_test_tmpdir("store-actor-cycle");
    lt_kv_t *kv = s_rocksdb_at(dir);
    s_setup_with(kv, 0);
    lt_store_id_t root = s_create(lattice_store_StoreType_STORE_TYPE_KV, "root", NULL);
    lt_store_id_t kid = s_create(lattice_store_StoreType_STORE_TYPE_KV, "kid", &root);
    cr_assert_eq(lt_coop_remove(s_env->rt, "store"), LT_OK);

    /* The kid declares the root its child, and the root has a peer. */
    kv = s_rocksdb_at(dir);
    lt_identity_t id, peer, stranger;
    lt_test_identity(&id, 1);
    lt_test_identity(&peer, 2);
    lt_test_identity(&stranger, 3);
    lt_db_config_t dc = {.kv = kv, .identity = &id};
    lt_db_t *db = NULL;
    cr_assert_eq(lt_db_open(&dc, &db, NULL), LT_OK);
    lattice_ChildSet c = lattice_ChildSet_init_zero;
    S_SETB(c.store_id, root.b, LT_STORE_ID_LEN);
    snprintf(c.type, sizeof c.type, "core:kvstore");
    c.status = lattice_ChildStatus_CHILD_ACTIVE;
    cr_assert_eq(lt_system_set_child(lt_db_store(db, &kid), &c, NULL), LT_OK);
    cr_assert_eq(
        lt_system_set_peer(lt_db_store(db, &root), &peer.pk, lattice_PeerStatus_PEER_ACTIVE, NULL),
        LT_OK);
    cr_assert_eq(lt_db_commit(db), LT_OK);
    lt_db_close(&db);
    kv = s_rocksdb_at(dir);
    s_start_actor(s_env, kv, 0);

    const lt_store_id_t *both[2] = {&root, &kid};
    for (int i = 0; i < 2; i++) {
        lt_buf_t b = LT_BUF_INIT;
        s_ref_body(&b, both[i]);
        s_got_t *g = s_call_ok(lattice_store_StoreMsgType_PEER_LIST, &b);
        lt_pb_input_t in = lt_pb_input(g->body, g->len);
        lt_pb_views_t vs = {.in = &in};
        lattice_store_PeerList pl = lattice_store_PeerList_init_zero;
        lt_pb_bind_views(&pl.peers, &vs);
        cr_assert_eq(lt_pb_decode_static(lattice_store_PeerList_fields, &pl, g->body, g->len),
                     LT_OK);
        cr_assert_eq(vs.n, 1, "store %d lists %zu peers", i, vs.n);
        lattice_store_PeerItem it = lattice_store_PeerItem_init_zero;
        cr_assert_eq(
            lt_pb_decode_static(lattice_store_PeerItem_fields, &it, vs.v[0].p, vs.v[0].len), LT_OK);
        cr_assert_eq(memcmp(it.key.bytes, peer.pk.b, LT_KEY_LEN), 0);
        cr_assert_eq(it.inherited, i == 1, "store %d", i);
        lt_pb_views_free(&vs);
        lt_buf_free(&b);
    }
    char pfrom[LT_ADDR_MAX], sfrom[LT_ADDR_MAX];
    s_remote(pfrom, sizeof pfrom, &peer);
    s_remote(sfrom, sizeof sfrom, &stranger);
    lt_hash_t h;
    memset(h.b, 1, sizeof h.b);
    cr_assert_eq(s_fetch(pfrom, &kid, &h, 1)->status, LT_OK);
    cr_assert_eq(s_fetch(sfrom, &kid, &h, 1)->status, LT_EREFUSED);
    cr_assert_eq(s_fetch(sfrom, &root, &h, 1)->status, LT_EREFUSED);
    s_teardown();
    lt_test_rmtree(&dir);
}

static uint64_t s_witnessed_count(const lt_store_id_t *sid)
{
    lt_buf_t b = LT_BUF_INIT;
    s_ref_body(&b, sid);
    s_got_t *g = s_call_ok(lattice_store_StoreMsgType_STORE_INFO, &b);
    lattice_store_StoreInfo si = lattice_store_StoreInfo_init_zero;
    cr_assert_eq(lt_pb_decode_static(lattice_store_StoreInfo_fields, &si, g->body, g->len), LT_OK);
    lt_buf_free(&b);
    return si.witnessed;
}

Test(store_actor, a_batch_skips_the_checks_the_sync_service_made_and_a_quiet_one_is_not_told)
{
    cr_assert_eq(lt_coop_add(s_env->rt, &s_proxy_sync, NULL), LT_OK);
    lt_store_id_t kv = s_create(lattice_store_StoreType_STORE_TYPE_KV, NULL, NULL);
    lt_identity_t p;
    lt_test_identity(&p, 74);
    lt_buf_t i1 = LT_BUF_INIT, i2 = LT_BUF_INIT, i3 = LT_BUF_INIT, i4 = LT_BUF_INIT;
    lt_hash_t h1 = s_sign_put(&p, &kv, s_env->clock, NULL, NULL, 0, "a", "1", &i1);
    lt_hash_t h2 = s_sign_put(&p, &kv, s_env->clock + 1, &h1, NULL, 0, "b", "2", &i2);
    i1.data[i1.len - 1] ^= 0x01; /* the signature of the first spoilt */
    const lt_buf_t *both[2] = {&i1, &i2};
    uint64_t before = s_witnessed_count(&kv);

    /* Checked by the store: the spoilt one fails the batch, nothing commits. */
    s_got_t *g = s_ingest_batch_ex(true, &kv, both, 2, 0, false);
    cr_assert_eq(g->status, LT_ESIGNATURE, "%s", lt_errname(g->status));
    cr_assert_eq(s_witnessed_count(&kv), before);
    /* More verified than held: malformed. */
    g = s_ingest_batch_ex(true, &kv, both, 2, 3, false);
    cr_assert_eq(g->status, LT_EINVAL, "%s", lt_errname(g->status));
    cr_assert(strstr(s_errmsg(g), "verified"), "%s", s_errmsg(g));
    /* From a client, `verified` and `quiet` mean nothing. */
    g = s_ingest_batch_ex(false, &kv, both, 2, 1, false);
    cr_assert_eq(g->status, LT_ESIGNATURE, "a client was taken at its word");
    /* Vouched for by the sync service (it checked it): the store takes its
     * word for the first and checks the second. */
    g = s_ingest_batch_ex(true, &kv, both, 2, 1, false);
    cr_assert_eq(g->status, LT_OK, "%s", lt_errname(g->status));
    cr_assert_eq(s_witnessed_count(&kv), before + 2);
    /* Only the first: a spoilt second is still refused. */
    lt_hash_t h3 = s_sign_put(&p, &kv, s_env->clock + 2, &h2, NULL, 0, "c", "3", &i3);
    s_sign_put(&p, &kv, s_env->clock + 3, &h3, NULL, 0, "d", "4", &i4);
    i4.data[i4.len - 1] ^= 0x01;
    const lt_buf_t *next[2] = {&i3, &i4};
    g = s_ingest_batch_ex(true, &kv, next, 2, 1, false);
    cr_assert_eq(g->status, LT_ESIGNATURE, "%s", lt_errname(g->status));
    i4.data[i4.len - 1] ^= 0x01;

    /* A quiet batch is not told to witness watches; a loud one is. */
    uint64_t watch = s_witness_watch()->corr;
    s_clear();
    const lt_buf_t *third[1] = {&i3}, *fourth[1] = {&i4};
    cr_assert_eq(s_ingest_batch_ex(true, &kv, third, 1, 0, true)->status, LT_OK);
    cr_assert_eq(s_witnessed_count(&kv), before + 3);
    s_got_t *ev[4];
    cr_assert_eq(s_witnessed_events(watch, ev, 4), 0, "a quiet batch was told");
    cr_assert_eq(s_ingest_batch_ex(true, &kv, fourth, 1, 0, false)->status, LT_OK);
    cr_assert_eq(s_witnessed_events(watch, ev, 4), 1, "a batch was not told");
    lt_buf_free(&i1);
    lt_buf_free(&i2);
    lt_buf_free(&i3);
    lt_buf_free(&i4);
}

/* A memory backend that records the bulk hints it is given. */
static int s_bulk_on = -1; /* the last hint taken: -1 none yet */
static unsigned s_bulk_hints;
static lt_err_t s_bulk_answer; /* what the spy answers */
static lt_kv_ops_t s_bulk_spy_ops;

static lt_err_t s_bulk_spy(void *self, bool on)
{
    (void)self;
    s_bulk_hints++;
    if (s_bulk_answer == LT_OK)
        s_bulk_on = on;
    return s_bulk_answer;
}

static lt_kv_t *s_bulk_spy_mem(void)
{
    lt_kv_t *mem;
    cr_assert_eq(lt_kv_mem_open(LT_CF_COUNT, &mem), LT_OK);
    s_bulk_spy_ops = *mem->ops;
    s_bulk_spy_ops.bulk = s_bulk_spy;
    mem->ops = &s_bulk_spy_ops;
    s_bulk_on = -1;
    s_bulk_hints = 0;
    s_bulk_answer = LT_OK;
    return mem;
}

/* Sets the clock to the next timer's deadline and runs what is due. */
static void s_run_next_timer(void)
{
    uint64_t due;
    cr_assert(lt_coop_next_deadline(s_env->rt, &due), "no timer armed");
    s_env->clock = due;
    lt_coop_advance(s_env->rt, s_env->clock);
}

Test(store_actor, a_clone_s_quiet_batches_hold_the_backend_in_bulk_mode_until_they_stop)
{
    s_teardown();
    s_setup_with(s_bulk_spy_mem(), 0);
    cr_assert_eq(lt_coop_add(s_env->rt, &s_proxy_sync, NULL), LT_OK);
    lt_store_id_t kv = s_create(lattice_store_StoreType_STORE_TYPE_KV, NULL, NULL);
    lt_identity_t p;
    lt_test_identity(&p, 75);
    lt_buf_t i1 = LT_BUF_INIT, i2 = LT_BUF_INIT;
    lt_hash_t h1 = s_sign_put(&p, &kv, s_env->clock, NULL, NULL, 0, "a", "1", &i1);
    s_sign_put(&p, &kv, s_env->clock + 1, &h1, NULL, 0, "b", "2", &i2);
    const lt_buf_t *one[1] = {&i1}, *two[1] = {&i2};

    /* A loud batch, or a quiet one from a client, is no clone. */
    cr_assert_eq(s_ingest_batch_ex(true, &kv, one, 1, 0, false)->status, LT_OK);
    cr_assert_eq(s_ingest_batch_ex(false, &kv, one, 1, 0, true)->status, LT_OK);
    cr_assert_eq(s_bulk_hints, 0, "bulk mode without a clone");

    /* The sync service's quiet batches begin it once ... */
    uint64_t t0 = s_env->clock;
    cr_assert_eq(s_ingest_batch_ex(true, &kv, two, 1, 0, true)->status, LT_OK);
    cr_assert_eq(s_bulk_on, 1);
    s_env->clock = t0 + 600;
    cr_assert_eq(s_ingest_batch_ex(true, &kv, two, 1, 0, true)->status, LT_OK);
    cr_assert_eq(s_bulk_hints, 1, "begun again while on");
    /* ... and it lasts while they keep coming: the first timer finds the
     * last batch 400 ms old and waits on. */
    s_run_next_timer();
    cr_assert_lt(s_env->clock, t0 + 600 + 1000);
    cr_assert_eq(s_bulk_on, 1, "ended while batches were coming");
    s_run_next_timer();
    cr_assert_eq(s_env->clock, t0 + 600 + 1000, "not ended when they stopped");
    cr_assert_eq(s_bulk_on, 0);
    cr_assert_eq(s_bulk_hints, 2);
    cr_assert(!lt_coop_next_deadline(s_env->rt, &(uint64_t){0}), "a timer left armed");

    /* A store that stops in the middle of a clone ends it too. */
    cr_assert_eq(s_ingest_batch_ex(true, &kv, two, 1, 0, true)->status, LT_OK);
    cr_assert_eq(s_bulk_on, 1);
    s_teardown();
    cr_assert_eq(s_bulk_on, 0, "stopped in bulk mode");
    cr_assert_eq(s_bulk_hints, 4);
    lt_buf_free(&i1);
    lt_buf_free(&i2);
}

Test(store_actor, a_backend_that_refuses_bulk_mode_is_asked_once_and_the_clone_goes_on)
{
    s_teardown();
    s_setup_with(s_bulk_spy_mem(), 0);
    s_bulk_answer = LT_EIO;
    cr_assert_eq(lt_coop_add(s_env->rt, &s_proxy_sync, NULL), LT_OK);
    lt_store_id_t kv = s_create(lattice_store_StoreType_STORE_TYPE_KV, NULL, NULL);
    lt_identity_t p;
    lt_test_identity(&p, 76);
    lt_buf_t i1 = LT_BUF_INIT;
    s_sign_put(&p, &kv, s_env->clock, NULL, NULL, 0, "a", "1", &i1);
    const lt_buf_t *one[1] = {&i1};
    uint64_t before = s_witnessed_count(&kv);
    for (int i = 0; i < 3; i++)
        cr_assert_eq(s_ingest_batch_ex(true, &kv, one, 1, 0, true)->status, LT_OK);
    cr_assert_eq(s_witnessed_count(&kv), before + 1);
    cr_assert_eq(s_bulk_hints, 1, "asked %u times", s_bulk_hints);
    cr_assert(!lt_coop_next_deadline(s_env->rt, &(uint64_t){0}), "a bulk timer without bulk");
    lt_buf_free(&i1);
}

/* ---- STORE_VERIFY ---- */

static bool s_has_reply(uint64_t corr)
{
    for (size_t i = 0; i < s_env->ngot; i++)
        if (s_env->got[i].kind == LT_MSG_REPLY && s_env->got[i].corr == corr)
            return true;
    return false;
}

/* Fires due timers and runs the mail until corr is answered (at most
 * `turns` timer turns). */
static s_got_t *s_until_reply(uint64_t corr, int turns)
{
    for (int i = 0; i < turns && !s_has_reply(corr); i++) {
        lt_coop_advance(s_env->rt, s_env->clock);
        s_run();
    }
    return s_reply_to(corr);
}

/* Flips a byte of witness record seq (in its wall time) in the backend,
 * behind the actor's back. */
static void s_damage_record(const lt_store_id_t *sid, uint64_t seq)
{
    uint8_t key[LT_STORE_ID_LEN + 8];
    size_t klen = lt_key_seq(key, sid, seq);
    lt_buf_t rec = LT_BUF_INIT;
    cr_assert_eq(lt_kv_get(s_env->faulty, LT_CF_WITNESS, key, klen, &rec), LT_OK);
    rec.data[rec.len - 40] ^= 0x40;
    lt_kv_op_t op = {LT_CF_WITNESS, false, key, klen, rec.data, rec.len};
    lt_kv_batch_t batch = {&op, 1};
    cr_assert_eq(lt_kv_write(s_env->faulty, &batch, true), LT_OK);
    lt_buf_free(&rec);
}

Test(store_actor, verify_checks_every_record_a_slice_at_a_time_while_requests_go_on)
{
    lt_store_id_t sid = s_create(lattice_store_StoreType_STORE_TYPE_KV, "v", NULL);
    s_put_many(&sid, "k", 700, "x", NULL);
    lt_buf_t b = LT_BUF_INIT;
    s_ref_body(&b, &sid);
    s_got_t *g = s_call_ok(lattice_store_StoreMsgType_STORE_INFO, &b);
    lattice_store_StoreInfo info = lattice_store_StoreInfo_init_zero;
    cr_assert_eq(lt_pb_decode_static(lattice_store_StoreInfo_fields, &info, g->body, g->len),
                 LT_OK);
    cr_assert_gt(info.witnessed, 700);

    uint64_t v1 = s_inject(lattice_store_StoreMsgType_STORE_VERIFY, &b);
    s_run();
    cr_assert_not(s_has_reply(v1), "the whole verify ran in one turn");
    /* Meanwhile: a second verify waits its turn, reads and writes are
     * served. */
    g = s_call(lattice_store_StoreMsgType_STORE_VERIFY, &b);
    cr_assert_eq(g->status, LT_EUNAVAILABLE);
    cr_assert(strstr(s_errmsg(g), "is running"), "%s", s_errmsg(g));
    char got[32];
    cr_assert_eq(s_get(&sid, "k5", got, sizeof got, NULL), LT_OK);
    s_put(&sid, "during", "the verify");
    cr_assert_not(s_has_reply(v1));

    g = s_until_reply(v1, 10);
    cr_assert_eq(g->status, LT_OK, "%s", s_errmsg(g));
    lattice_store_StoreVerified vr = lattice_store_StoreVerified_init_zero;
    cr_assert_eq(lt_pb_decode_static(lattice_store_StoreVerified_fields, &vr, g->body, g->len),
                 LT_OK);
    cr_assert_eq(vr.records, info.witnessed, "checked %llu of %llu records",
                 (unsigned long long)vr.records, (unsigned long long)info.witnessed);
    /* The next one checks the write made meanwhile too. */
    uint64_t v2 = s_inject(lattice_store_StoreMsgType_STORE_VERIFY, &b);
    g = s_until_reply(v2, 10);
    cr_assert_eq(g->status, LT_OK, "%s", s_errmsg(g));
    cr_assert_eq(lt_pb_decode_static(lattice_store_StoreVerified_fields, &vr, g->body, g->len),
                 LT_OK);
    cr_assert_eq(vr.records, info.witnessed + 1);
    lt_buf_free(&b);
}

Test(store_actor, verify_names_a_damaged_record)
{
    lt_store_id_t sid = s_create(lattice_store_StoreType_STORE_TYPE_KV, "v", NULL);
    s_put_many(&sid, "k", 20, "x", NULL);
    /* Behind the store's back: one byte of witness record 9's wall time. */
    s_damage_record(&sid, 9);

    lt_buf_t b = LT_BUF_INIT;
    s_ref_body(&b, &sid);
    uint64_t v = s_inject(lattice_store_StoreMsgType_STORE_VERIFY, &b);
    s_got_t *g = s_until_reply(v, 10);
    cr_assert_eq(g->status, LT_ECORRUPT);
    cr_assert(strstr(s_errmsg(g), "witness record 9 ") || strstr(s_errmsg(g), "witness record 10 "),
              "%s", s_errmsg(g));
    lt_buf_free(&b);
}

/* The verified point of store sid, read from the backend behind the actor. */
static uint64_t s_verified_mark(const lt_store_id_t *sid)
{
    uint8_t key[LT_STORE_ID_LEN + 64];
    size_t klen = lt_key2(key, sid, "verified", strlen("verified"), NULL, 0);
    lt_buf_t b = LT_BUF_INIT;
    lt_err_t rc = lt_kv_get(s_env->faulty, LT_CF_META, key, klen, &b);
    uint64_t v = 0;
    if (rc == LT_OK && b.len == 8)
        v = lt_get_u64le(b.data);
    cr_assert(rc == LT_OK || rc == LT_ENOTFOUND, "%s", lt_errname(rc));
    lt_buf_free(&b);
    return v;
}

Test(store_actor_restart, records_an_open_passed_over_are_checked_right_after_it)
{
    char *dir = lt_test_tmpdir("store-actor-gap");
    lt_kv_t *kv = s_rocksdb_at(dir);
    s_setup_with(kv, 0);
    lt_store_id_t sid = s_create(lattice_store_StoreType_STORE_TYPE_KV, "gap", NULL);
    s_put_many(&sid, "k", LT_STORE_VERIFY_TAIL + 300, "x", NULL);
    uint64_t mark0 = s_verified_mark(&sid);
    cr_assert_lt(mark0, 300, "the store was checked while it was written");

    /* Restart: the open checks the newest records, and the rest a slice at
     * a time right after; the verified point moves only then. */
    cr_assert_eq(lt_coop_remove(s_env->rt, "store"), LT_OK);
    kv = s_rocksdb_at(dir);
    s_start_actor(s_env, kv, 0);
    cr_assert_eq(s_verified_mark(&sid), mark0, "the open moved the point over records it skipped");
    char v[8];
    cr_assert_eq(s_get(&sid, "k7", v, sizeof v, NULL), LT_OK, "the store serves meanwhile");
    for (int i = 0; i < 20 && s_verified_mark(&sid) == mark0; i++) {
        lt_coop_advance(s_env->rt, s_env->clock);
        s_run();
    }
    cr_assert_eq(s_verified_mark(&sid), LT_STORE_VERIFY_TAIL + 301, "mark %llu (was %llu)",
                 (unsigned long long)s_verified_mark(&sid), (unsigned long long)mark0);

    /* Again, with a record of the next gap damaged behind the store's
     * back: the open passes it over, the check after it finds it, and the
     * verified point stays for the next open to start from. */
    uint64_t mark1 = s_verified_mark(&sid);
    s_put_many(&sid, "m", LT_STORE_VERIFY_TAIL + 300, "y", NULL);
    s_damage_record(&sid, mark1 + 10);
    cr_assert_eq(lt_coop_remove(s_env->rt, "store"), LT_OK);
    kv = s_rocksdb_at(dir);
    s_start_actor(s_env, kv, 0);
    for (int i = 0; i < 20; i++) {
        lt_coop_advance(s_env->rt, s_env->clock);
        s_run();
    }
    cr_assert_eq(s_verified_mark(&sid), mark1, "the point moved over a damaged record");
    cr_assert_eq(s_get(&sid, "m7", v, sizeof v, NULL), LT_OK, "the store still serves");
    s_teardown();
    lt_test_rmtree(&dir);
}
