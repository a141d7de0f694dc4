/* liblattice-client against a real node (latticed and lattice-store in a
 * temporary home, tests/support/node.h): every call of ipc/client.h, the
 * errors a user sees, timeouts, streams across a store restart, and the
 * crash test — the store is killed with SIGKILL again and again while a
 * client writes, and every write the client saw succeed is there after.
 * Every wait has a deadline and waits on an event (a reply, a state the
 * kernel reports, a condition variable), never on a fixed sleep. */
#include "ipc/client.h"
#include "support/node.h"
#include "support/testutil.h"

#include <criterion/criterion.h>
#include <criterion/logging.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define assert_rc(c, expr, want)                                                                   \
    do {                                                                                           \
        lt_err_t rc_ = (expr);                                                                     \
        cr_assert_eq(rc_, (want), "%s: got %s, want %s (%s)", #expr, lt_errname(rc_),              \
                     lt_errname(want), (c) ? lt_client_errmsg(c) : "");                            \
    } while (0)

static lt_node_t *s_node;
static lt_client_t *s_client;
static char *s_dir;

static void s_fini(void)
{
    lt_client_close(&s_client);
    lt_node_destroy(&s_node);
    lt_test_rmtree(&s_dir);
}

TestSuite(client, .fini = s_fini, .timeout = 180);

static const char *const s_store_only[] = {"store", NULL};

/* A node with its store ready, and a client of it. */
static lt_client_t *s_start(void)
{
    lt_node_opts_t o = {.ready = s_store_only};
    s_node = lt_node_start(&o);
    lt_client_opts_t co = {.home = s_node->home};
    lt_errbuf_t eb = {""};
    lt_err_t rc = lt_client_connect(&co, &s_client, &eb);
    cr_assert_eq(rc, LT_OK, "connect: %s", eb.msg);
    cr_assert_str_eq(lt_client_home(s_client), s_node->home);
    return s_client;
}

static lt_client_store_id_t s_create(lt_client_t *c, lt_client_store_type_t type, const char *name)
{
    lt_client_store_id_t id;
    assert_rc(c, lt_client_store_create(c, type, name, NULL, &id), LT_OK);
    return id;
}

static void s_put(lt_client_t *c, const lt_client_store_id_t *st, const char *k, const char *v,
                  lt_client_hash_t *h)
{
    lt_client_hash_t tmp;
    assert_rc(c, lt_client_put(c, st, k, strlen(k), v, strlen(v), h ? h : &tmp), LT_OK);
}

static void s_expect_value(lt_client_t *c, const lt_client_store_id_t *st, const char *k,
                           const char *v)
{
    lt_client_item_t it;
    assert_rc(c, lt_client_get(c, st, k, strlen(k), &it), LT_OK);
    cr_assert_eq(it.value_len, strlen(v), "%s: %zu bytes", k, it.value_len);
    cr_assert_str_eq((const char *)it.value, v);
    cr_assert_str_eq((const char *)it.key, k);
    lt_client_item_clear(&it);
}

static bool s_zero(const uint8_t *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (b[i])
            return false;
    return true;
}

/* ---- stores ---- */

Test(client, stores_are_created_listed_resolved_and_removed)
{
    lt_client_t *c = s_start();
    lt_client_store_t *list;
    size_t n0, n;
    assert_rc(c, lt_client_store_list(c, &list, &n0), LT_OK);
    lt_client_free(list);

    lt_client_store_id_t docs = s_create(c, LT_CLIENT_STORE_KV, "docs");
    lt_client_store_id_t journal = s_create(c, LT_CLIENT_STORE_LOG, "journal");
    lt_client_store_id_t child;
    assert_rc(c, lt_client_store_create(c, LT_CLIENT_STORE_KV, "child", &docs, &child), LT_OK);
    lt_client_store_id_t anon = s_create(c, LT_CLIENT_STORE_KV, NULL);

    assert_rc(c, lt_client_store_list(c, &list, &n), LT_OK);
    cr_assert_eq(n, n0 + 4);
    int seen = 0;
    for (size_t i = 0; i < n; i++) {
        if (memcmp(list[i].id.b, docs.b, 16) == 0) {
            cr_assert_str_eq(list[i].name, "docs");
            cr_assert_eq(list[i].type, LT_CLIENT_STORE_KV);
            seen++;
        } else if (memcmp(list[i].id.b, journal.b, 16) == 0) {
            cr_assert_str_eq(list[i].name, "journal");
            cr_assert_eq(list[i].type, LT_CLIENT_STORE_LOG);
            seen++;
        } else if (memcmp(list[i].id.b, anon.b, 16) == 0) {
            cr_assert_str_eq(list[i].name, "");
            seen++;
        }
    }
    cr_assert_eq(seen, 3);
    lt_client_free(list);

    lt_client_store_info_t info;
    assert_rc(c, lt_client_store_info(c, &docs, &info), LT_OK);
    cr_assert_arr_eq(info.id.b, docs.b, 16);
    cr_assert_eq(info.type, LT_CLIENT_STORE_KV);
    cr_assert_str_eq(info.name, "docs");
    cr_assert_eq(info.children, 1, "the child is declared in the parent");
    assert_rc(c, lt_client_store_info(c, &journal, &info), LT_OK);
    cr_assert_eq(info.type, LT_CLIENT_STORE_LOG);

    /* resolve: by name, full id, prefix */
    lt_client_store_id_t got;
    assert_rc(c, lt_client_store_resolve(c, "docs", &got), LT_OK);
    cr_assert_arr_eq(got.b, docs.b, 16);
    char hex[33];
    lt_client_hex(journal.b, 16, hex);
    assert_rc(c, lt_client_store_resolve(c, hex, &got), LT_OK);
    cr_assert_arr_eq(got.b, journal.b, 16);
    hex[12] = '\0';
    assert_rc(c, lt_client_store_resolve(c, hex, &got), LT_OK);
    cr_assert_arr_eq(got.b, journal.b, 16);
    assert_rc(c, lt_client_store_resolve(c, "no-such-store", &got), LT_ENOTFOUND);
    cr_assert(strstr(lt_client_errmsg(c), "no-such-store"), "%s", lt_client_errmsg(c));
    (void)s_create(c, LT_CLIENT_STORE_KV, "dup");
    (void)s_create(c, LT_CLIENT_STORE_KV, "dup");
    assert_rc(c, lt_client_store_resolve(c, "dup", &got), LT_EEXIST);
    cr_assert(strstr(lt_client_errmsg(c), "'dup'"), "%s", lt_client_errmsg(c));

    /* remove */
    assert_rc(c, lt_client_store_remove(c, &journal), LT_OK);
    assert_rc(c, lt_client_store_list(c, &list, &n), LT_OK);
    cr_assert_eq(n, n0 + 5);
    for (size_t i = 0; i < n; i++)
        cr_assert(memcmp(list[i].id.b, journal.b, 16) != 0, "the removed store is listed");
    lt_client_free(list);
    assert_rc(c, lt_client_store_info(c, &journal, &info), LT_ENOTFOUND);
    lt_client_hex(journal.b, 16, hex);
    cr_assert(strstr(lt_client_errmsg(c), hex), "the message names the store: %s",
              lt_client_errmsg(c));
    assert_rc(c, lt_client_store_remove(c, &journal), LT_ENOTFOUND);
}

/* ---- core:kvstore ---- */

Test(client, kv_put_get_del_list_batch_and_inspect)
{
    lt_client_t *c = s_start();
    lt_client_store_id_t st = s_create(c, LT_CLIENT_STORE_KV, "kv");
    lt_client_hash_t h1, h2;
    s_put(c, &st, "a", "1", &h1);
    cr_assert_not(s_zero(h1.b, 32));
    s_expect_value(c, &st, "a", "1");
    s_put(c, &st, "a", "2", &h2);
    cr_assert(memcmp(h1.b, h2.b, 32) != 0);
    s_expect_value(c, &st, "a", "2");

    /* binary keys and values, NUL included, come back whole */
    static const uint8_t bk[] = {0x00, 0xff, 0x01}, bv[] = {'x', 0x00, 'y', 0x00};
    lt_client_hash_t h;
    assert_rc(c, lt_client_put(c, &st, bk, sizeof bk, bv, sizeof bv, &h), LT_OK);
    lt_client_item_t it;
    assert_rc(c, lt_client_get(c, &st, bk, sizeof bk, &it), LT_OK);
    cr_assert_eq(it.value_len, sizeof bv);
    cr_assert_arr_eq(it.value, bv, sizeof bv);
    cr_assert_eq(it.value[it.value_len], 0, "NUL-terminated");
    cr_assert_not(it.conflicted);
    lt_client_item_clear(&it);
    /* an empty value is a value */
    assert_rc(c, lt_client_put(c, &st, "empty", 5, NULL, 0, &h), LT_OK);
    s_expect_value(c, &st, "empty", "");

    /* missing and deleted keys */
    assert_rc(c, lt_client_get(c, &st, "nope", 4, &it), LT_ENOTFOUND);
    char want[64], sid[33];
    lt_client_hex(st.b, 16, sid);
    snprintf(want, sizeof want, "store %.8s: no such key", sid);
    cr_assert_str_eq(lt_client_errmsg(c), want);
    assert_rc(c, lt_client_del(c, &st, "a", 1, &h), LT_OK);
    assert_rc(c, lt_client_get(c, &st, "a", 1, &it), LT_ENOTFOUND);

    /* one batch, one intention */
    lt_client_batch_entry_t e[] = {
        {(const uint8_t *)"p/1", 3, (const uint8_t *)"one", 3, false},
        {(const uint8_t *)"p/2", 3, (const uint8_t *)"two", 3, false},
        {(const uint8_t *)"p/3", 3, (const uint8_t *)"three", 5, false},
        {(const uint8_t *)"p/2", 3, NULL, 0, true},
    };
    lt_client_hash_t hb;
    assert_rc(c, lt_client_batch(c, &st, e, 4, &hb), LT_OK);
    lt_client_item_t *items;
    size_t n;
    assert_rc(c, lt_client_list(c, &st, "p/", 2, &items, &n), LT_OK);
    cr_assert_eq(n, 2, "p/2's last op in the batch is its delete");
    cr_assert_str_eq((const char *)items[0].key, "p/1");
    cr_assert_str_eq((const char *)items[0].value, "one");
    cr_assert_str_eq((const char *)items[1].key, "p/3");
    cr_assert_str_eq((const char *)items[1].value, "three");
    lt_client_items_free(items, n);
    assert_rc(c, lt_client_list(c, &st, NULL, 0, &items, &n), LT_OK);
    cr_assert_eq(n, 4, "everything: the binary key, empty, p/1, p/3");
    lt_client_items_free(items, n);
    assert_rc(c, lt_client_list(c, &st, "zzz", 3, &items, &n), LT_OK);
    cr_assert_eq(n, 0);
    lt_client_items_free(items, n);

    /* inspect: one head, the batch's intention */
    lt_client_head_t *heads;
    assert_rc(c, lt_client_inspect(c, &st, "p/3", 3, &heads, &n), LT_OK);
    cr_assert_eq(n, 1);
    cr_assert_arr_eq(heads[0].hash.b, hb.b, 32);
    cr_assert_not(s_zero(heads[0].author.b, 32));
    cr_assert_gt(heads[0].wall_ms, 0);
    cr_assert_not(heads[0].tombstone);
    cr_assert_str_eq((const char *)heads[0].value, "three");
    lt_client_heads_free(heads, n);
    assert_rc(c, lt_client_inspect(c, &st, "never", 5, &heads, &n), LT_ENOTFOUND);

    /* the wrong state machine, an unknown store */
    lt_client_store_id_t log = s_create(c, LT_CLIENT_STORE_LOG, NULL);
    assert_rc(c, lt_client_get(c, &log, "a", 1, &it), LT_ETYPE);
    cr_assert(strstr(lt_client_errmsg(c), "log store"), "%s", lt_client_errmsg(c));
    lt_client_store_id_t unknown = {{0x42}};
    assert_rc(c, lt_client_put(c, &unknown, "a", 1, "b", 1, &h), LT_ENOTFOUND);
    cr_assert(strstr(lt_client_errmsg(c), "no store 42000000"), "%s", lt_client_errmsg(c));
}

/* ---- core:logstore ---- */

Test(client, log_append_and_read_with_tail)
{
    lt_client_t *c = s_start();
    lt_client_store_id_t st = s_create(c, LT_CLIENT_STORE_LOG, "log");
    lt_client_hash_t hs[5];
    const char *texts[5] = {"first", "second", "third \"quoted\"", "", "fifth"};
    for (int i = 0; i < 5; i++)
        assert_rc(c, lt_client_append(c, &st, texts[i], strlen(texts[i]), &hs[i]), LT_OK);
    lt_client_log_entry_t *v;
    size_t n;
    assert_rc(c, lt_client_read(c, &st, 0, &v, &n), LT_OK);
    cr_assert_eq(n, 5);
    for (size_t i = 0; i < n; i++) {
        cr_assert_str_eq((const char *)v[i].text, texts[i]);
        cr_assert_eq(v[i].text_len, strlen(texts[i]));
        cr_assert_arr_eq(v[i].hash.b, hs[i].b, 32);
        cr_assert_not(s_zero(v[i].author.b, 32));
        if (i)
            cr_assert(v[i].wall_ms > v[i - 1].wall_ms ||
                      (v[i].wall_ms == v[i - 1].wall_ms && v[i].counter > v[i - 1].counter));
    }
    lt_client_log_entries_free(v, n);
    assert_rc(c, lt_client_read(c, &st, 2, &v, &n), LT_OK);
    cr_assert_eq(n, 2);
    cr_assert_str_eq((const char *)v[0].text, "");
    cr_assert_str_eq((const char *)v[1].text, "fifth");
    lt_client_log_entries_free(v, n);
    assert_rc(c, lt_client_read(c, &st, 100, &v, &n), LT_OK);
    cr_assert_eq(n, 5);
    lt_client_log_entries_free(v, n);
}

/* ---- intentions ---- */

Test(client, history_and_debug_show_the_intentions)
{
    lt_client_t *c = s_start();
    lt_client_store_id_t st = s_create(c, LT_CLIENT_STORE_KV, "hist");
    lt_client_hash_t h[3];
    s_put(c, &st, "x", "1", &h[0]);
    s_put(c, &st, "x", "2", &h[1]);
    s_put(c, &st, "x", "3", &h[2]);

    lt_client_history_item_t *items;
    size_t n;
    assert_rc(c, lt_client_history(c, &st, 0, &items, &n), LT_OK);
    cr_assert_geq(n, 3);
    cr_assert_arr_eq(items[0].hash.b, h[2].b, 32, "newest first");
    cr_assert_arr_eq(items[1].hash.b, h[1].b, 32);
    cr_assert_arr_eq(items[2].hash.b, h[0].b, 32);
    cr_assert_eq(items[0].seq, items[1].seq + 1);
    cr_assert_str_eq(items[0].summary, "put x (1 bytes)");
    cr_assert_arr_eq(items[0].store_prev.b, h[1].b, 32, "the author's previous intention");
    for (size_t i = 0; i + 1 < n; i++)
        cr_assert_gt(items[i].seq, items[i + 1].seq);
    lt_client_history_item_t oldest = items[n - 1];
    lt_client_free(items);
    assert_rc(c, lt_client_history(c, &st, 2, &items, &n), LT_OK);
    cr_assert_eq(n, 2);
    lt_client_free(items);

    lt_client_intention_t in;
    assert_rc(c, lt_client_debug(c, &st, &h[2], &in), LT_OK);
    cr_assert_arr_eq(in.hash.b, h[2].b, 32);
    cr_assert_arr_eq(in.store.b, st.b, 16);
    cr_assert_arr_eq(in.store_prev.b, h[1].b, 32);
    cr_assert_gt(in.seq, 0);
    cr_assert_eq(in.store_type, LT_CLIENT_STORE_KV);
    cr_assert_not(s_zero(in.signature, 64));
    char *sx = NULL;
    assert_rc(c, lt_client_ops_sexpr(in.ops, in.ops_len, in.store_type, &sx), LT_OK);
    cr_assert_str_eq(sx, "(kv (put \"x\" \"3\"))");
    free(sx);
    lt_client_intention_clear(&in);

    /* The store's name is a system op: the oldest intention, here. */
    assert_rc(c, lt_client_debug(c, &st, &oldest.hash, &in), LT_OK);
    assert_rc(c, lt_client_ops_sexpr(in.ops, in.ops_len, in.store_type, &sx), LT_OK);
    cr_assert_str_eq(sx, "(system (name \"hist\"))", "%s (%s)", sx, oldest.summary);
    free(sx);
    lt_client_intention_clear(&in);

    lt_client_hash_t none = {{0x99}};
    assert_rc(c, lt_client_debug(c, &st, &none, &in), LT_ENOTFOUND);
}

/* ---- streams ---- */

/* The next event within the deadline; fails the test otherwise. */
static void s_next(lt_client_t *c, lt_client_event_t *ev)
{
    assert_rc(c, lt_client_next_event(c, LT_NODE_TIMEOUT_MS, ev), LT_OK);
}

Test(client, watch_and_follow_deliver_events_until_stopped)
{
    lt_client_t *c = s_start();
    lt_client_store_id_t kv = s_create(c, LT_CLIENT_STORE_KV, "w");
    lt_client_store_id_t log = s_create(c, LT_CLIENT_STORE_LOG, "f");
    uint64_t w, f;
    assert_rc(c, lt_client_watch(c, &kv, "w/", 2, &w), LT_OK);
    assert_rc(c, lt_client_follow(c, &log, &f), LT_OK);
    cr_assert_neq(w, f);

    lt_client_hash_t h1, h2, h3;
    s_put(c, &kv, "x/1", "not watched", NULL);
    s_put(c, &kv, "w/1", "one", &h1);
    assert_rc(c, lt_client_del(c, &kv, "w/1", 3, &h2), LT_OK);
    assert_rc(c, lt_client_append(c, &log, "hello", 5, &h3), LT_OK);

    lt_client_event_t ev;
    s_next(c, &ev);
    cr_assert_eq(ev.kind, LT_CLIENT_EV_KV_CHANGE);
    cr_assert_eq(ev.stream, w);
    cr_assert_arr_eq(ev.store.b, kv.b, 16);
    cr_assert_str_eq((const char *)ev.key, "w/1");
    cr_assert_str_eq((const char *)ev.value, "one");
    cr_assert_not(ev.deleted);
    cr_assert_arr_eq(ev.hash.b, h1.b, 32);
    lt_client_event_clear(&ev);
    s_next(c, &ev);
    cr_assert_eq(ev.stream, w);
    cr_assert_str_eq((const char *)ev.key, "w/1");
    cr_assert(ev.deleted);
    cr_assert_eq(ev.value_len, 0);
    cr_assert_arr_eq(ev.hash.b, h2.b, 32);
    lt_client_event_clear(&ev);
    s_next(c, &ev);
    cr_assert_eq(ev.kind, LT_CLIENT_EV_LOG_ENTRY);
    cr_assert_eq(ev.stream, f);
    cr_assert_arr_eq(ev.store.b, log.b, 16);
    cr_assert_str_eq((const char *)ev.entry.text, "hello");
    cr_assert_arr_eq(ev.entry.hash.b, h3.b, 32);
    cr_assert_arr_eq(ev.hash.b, h3.b, 32);
    lt_client_event_clear(&ev);
    /* The store sends a commit's events before its replies: whatever these
     * writes caused is here already. */
    assert_rc(c, lt_client_next_event(c, 0, &ev), LT_ETIMEDOUT);

    assert_rc(c, lt_client_stream_stop(c, w), LT_OK);
    assert_rc(c, lt_client_stream_stop(c, f), LT_OK);
    assert_rc(c, lt_client_stream_stop(c, f), LT_ENOTFOUND);
    s_put(c, &kv, "w/2", "after", NULL);
    assert_rc(c, lt_client_append(c, &log, "after", 5, &h3), LT_OK);
    assert_rc(c, lt_client_next_event(c, 0, &ev), LT_ETIMEDOUT);
    cr_assert_geq(lt_client_fd(c), 0);
}

/* ---- the node ---- */

static const lt_client_service_t *s_find(const lt_client_service_t *v, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(v[i].name, name) == 0)
            return &v[i];
    return NULL;
}

Test(client, node_status_services_and_restart)
{
    lt_client_t *c = s_start();
    assert_rc(c, lt_client_ping(c), LT_OK);
    lt_client_node_status_t *st = calloc(1, sizeof *st);
    assert_rc(c, lt_client_node_status(c, st), LT_OK);
    cr_assert_eq(st->pid, (uint32_t)s_node->pid);
    cr_assert_str_eq(st->home, s_node->home);
    cr_assert_neq(st->version[0], '\0');
    cr_assert_not(s_zero(st->node_key.b, 32));
    const lt_client_service_t *store = s_find(st->services, st->nservices, "store");
    cr_assert_not_null(store);
    cr_assert_eq(store->state, LT_SERVICE_READY);
    cr_assert_str_eq(lt_client_service_state_name(store->state), "ready");
    uint32_t pid = store->pid;
    cr_assert_eq(pid, lt_node_service_pid(s_node, "store"));

    lt_client_service_t sv[16];
    size_t n;
    assert_rc(c, lt_client_node_services(c, sv, 16, &n), LT_OK);
    cr_assert_geq(n, 1);
    cr_assert_eq(s_find(sv, n, "store")->pid, pid);
    assert_rc(c, lt_client_node_services(c, sv, 0, &n), LT_OK);
    cr_assert_geq(n, 1, "the count, even past cap");

    /* A watch started before a restart is reported gone after it. */
    lt_client_store_id_t kv = s_create(c, LT_CLIENT_STORE_KV, NULL);
    uint64_t w;
    assert_rc(c, lt_client_watch(c, &kv, "", 0, &w), LT_OK);

    assert_rc(c, lt_client_node_restart(c, "store"), LT_OK);
    lt_node_want_t want = {.state = LT_NODE_READY, .pid_not = pid};
    cr_assert(lt_node_wait_service(s_node, "store", &want, 0, NULL), "the store came back");
    s_put(c, &kv, "k", "v", NULL);
    s_expect_value(c, &kv, "k", "v");
    lt_client_event_t ev;
    assert_rc(c, lt_client_next_event(c, LT_NODE_TIMEOUT_MS, &ev), LT_EUNAVAILABLE);
    cr_assert(strstr(lt_client_errmsg(c), "restarted"), "%s", lt_client_errmsg(c));
    assert_rc(c, lt_client_stream_stop(c, w), LT_ENOTFOUND);
    assert_rc(c, lt_client_watch(c, &kv, "", 0, &w), LT_OK);
    s_put(c, &kv, "k", "again", NULL);
    s_next(c, &ev);
    cr_assert_str_eq((const char *)ev.value, "again");
    lt_client_event_clear(&ev);

    assert_rc(c, lt_client_node_restart(c, "nosuch"), LT_ENOTFOUND);
    cr_assert(strstr(lt_client_errmsg(c), "nosuch"), "%s", lt_client_errmsg(c));
    free(st);
}

Test(client, node_stop_ends_the_node)
{
    lt_client_t *c = s_start();
    assert_rc(c, lt_client_node_stop(c), LT_OK);
    cr_assert_eq(lt_node_wait_exit(s_node, 0), 0);
    lt_client_set_timeout(c, 300);
    assert_rc(c, lt_client_ping(c), LT_ETIMEDOUT);
    lt_client_opts_t o = {.home = s_node->home, .timeout_ms = 1000};
    lt_client_t *c2 = NULL;
    lt_errbuf_t eb = {""};
    assert_rc(NULL, lt_client_connect(&o, &c2, &eb), LT_ENOTFOUND);
    cr_assert(strstr(eb.msg, "no node is running at "), "%s", eb.msg);
}

/* ---- errors ---- */

Test(client, connecting_to_a_home_without_a_node_says_how_to_start_one)
{
    s_dir = lt_test_tmpdir("client-nonode");
    lt_client_opts_t o = {.home = s_dir};
    lt_client_t *c = NULL;
    lt_errbuf_t eb = {""};
    assert_rc(NULL, lt_client_connect(&o, &c, &eb), LT_ENOTFOUND);
    cr_assert_null(c);
    char want[1024];
    snprintf(want, sizeof want, "no node is running at %s (start it with: latticed --home %s)",
             s_dir, s_dir);
    cr_assert_str_eq(eb.msg, want);
}

Test(client, a_silent_service_or_kernel_is_a_timeout)
{
    lt_client_t *c = s_start();
    lt_client_store_id_t st = s_create(c, LT_CLIENT_STORE_KV, NULL);
    s_put(c, &st, "k", "v", NULL);
    lt_client_set_timeout(c, 300);

    /* A stopped store: the kernel forwards, nobody answers. */
    pid_t store = (pid_t)lt_node_service_pid(s_node, "store");
    cr_assert_eq(kill(store, SIGSTOP), 0);
    lt_client_item_t it;
    lt_err_t rc = lt_client_get(c, &st, "k", 1, &it);
    cr_assert_eq(kill(store, SIGCONT), 0);
    cr_assert_eq(rc, LT_ETIMEDOUT, "%s: %s", lt_errname(rc), lt_client_errmsg(c));
    cr_assert_str_eq(lt_client_errmsg(c), "no reply from the store service within 300 ms");

    /* A stopped kernel. */
    cr_assert_eq(kill(s_node->pid, SIGSTOP), 0);
    rc = lt_client_ping(c);
    cr_assert_eq(kill(s_node->pid, SIGCONT), 0);
    cr_assert_eq(rc, LT_ETIMEDOUT, "%s", lt_errname(rc));
    char want[512];
    snprintf(want, sizeof want, "no reply from the node at %s within 300 ms", s_node->home);
    cr_assert_str_eq(lt_client_errmsg(c), want);

    /* Both answer again; the late replies to the calls above are dropped. */
    lt_client_set_timeout(c, 0);
    s_expect_value(c, &st, "k", "v");
    assert_rc(c, lt_client_ping(c), LT_OK);
}

/* ---- the crash test ---- */

#define S_CRASH_ROUNDS     3
#define S_CRASH_MAX_WRITES 200000
#define S_WRITES_PER_ROUND 30

typedef struct {
    lt_client_t *c;
    lt_client_store_id_t st;
    pthread_mutex_t mu;
    pthread_cond_t progress;
    atomic_bool stop;
    /* guarded by mu */
    size_t nwrites;
    lt_err_t rc[S_CRASH_MAX_WRITES];
    size_t acked;
    size_t unavailable;
    size_t other; /* anything but LT_OK and LT_EUNAVAILABLE: the test fails */
    char other_msg[256];
    uint64_t slowest_ms; /* the longest write: those that waited out a restart */
} s_crash_t;

static uint64_t s_mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void s_crash_key(size_t i, char *k, size_t kn, char *v, size_t vn)
{
    snprintf(k, kn, "crash/%06zu", i);
    snprintf(v, vn, "value of write %zu", i);
}

/* The writer: put after put on its own handle until told to stop. */
static void *s_writer(void *arg)
{
    s_crash_t *w = arg;
    for (size_t i = 0; i < S_CRASH_MAX_WRITES && !atomic_load(&w->stop); i++) {
        char k[32], v[64];
        s_crash_key(i, k, sizeof k, v, sizeof v);
        lt_client_hash_t h;
        uint64_t t0 = s_mono_ms();
        lt_err_t rc = lt_client_put(w->c, &w->st, k, strlen(k), v, strlen(v), &h);
        uint64_t took = s_mono_ms() - t0;
        pthread_mutex_lock(&w->mu);
        if (took > w->slowest_ms)
            w->slowest_ms = took;
        w->rc[i] = rc;
        w->nwrites = i + 1;
        if (rc == LT_OK) {
            w->acked++;
        } else if (rc == LT_EUNAVAILABLE) {
            w->unavailable++;
        } else if (w->other++ == 0) {
            snprintf(w->other_msg, sizeof w->other_msg, "write %zu: %s: %s", i, lt_errname(rc),
                     lt_client_errmsg(w->c));
        }
        pthread_cond_broadcast(&w->progress);
        pthread_mutex_unlock(&w->mu);
    }
    return NULL;
}

/* Waits until the writer has acknowledged `target` writes in total. */
static bool s_wait_acked(s_crash_t *w, size_t target)
{
    struct timespec dl;
    clock_gettime(CLOCK_REALTIME, &dl);
    dl.tv_sec += LT_NODE_TIMEOUT_MS / 1000;
    pthread_mutex_lock(&w->mu);
    int e = 0;
    while (w->acked < target && w->other == 0 && e != ETIMEDOUT)
        e = pthread_cond_timedwait(&w->progress, &w->mu, &dl);
    bool ok = w->acked >= target;
    pthread_mutex_unlock(&w->mu);
    return ok;
}

Test(client, killing_the_store_loses_no_acknowledged_write)
{
    lt_client_t *c = s_start();
    s_crash_t *w = calloc(1, sizeof *w);
    cr_assert_not_null(w);
    w->st = s_create(c, LT_CLIENT_STORE_KV, "crash");
    lt_client_store_info_t before;
    assert_rc(c, lt_client_store_info(c, &w->st, &before), LT_OK);
    lt_client_opts_t o = {.home = s_node->home};
    lt_errbuf_t eb = {""};
    assert_rc(NULL, lt_client_connect(&o, &w->c, &eb), LT_OK);
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->progress, NULL);
    pthread_t writer;
    cr_assert_eq(pthread_create(&writer, NULL, s_writer, w), 0);

    for (int round = 0; round < S_CRASH_ROUNDS; round++) {
        /* The writer is busy (writes are in flight) when the store dies. */
        pthread_mutex_lock(&w->mu);
        size_t target = w->acked + S_WRITES_PER_ROUND;
        pthread_mutex_unlock(&w->mu);
        if (!s_wait_acked(w, target))
            break; /* the restart count below says which round stalled */
        uint32_t pid = lt_node_service_pid(s_node, "store");
        lt_test_kill9((pid_t)pid);
        lt_node_want_t want = {.state = LT_NODE_READY, .pid_not = pid};
        cr_assert(lt_node_wait_service(s_node, "store", &want, 0, NULL),
                  "round %d: the store did not come back", round + 1);
    }
    /* And writes succeed after the last restart too. */
    pthread_mutex_lock(&w->mu);
    size_t target = w->acked + S_WRITES_PER_ROUND;
    pthread_mutex_unlock(&w->mu);
    bool after = s_wait_acked(w, target);
    atomic_store(&w->stop, true);
    pthread_join(writer, NULL);
    lt_client_close(&w->c);

    cr_assert_eq(w->other, 0, "every write succeeds or is unavailable: %s", w->other_msg);
    cr_assert(after, "writes succeed after the restarts (%zu acknowledged of %zu)", w->acked,
              w->nwrites);
    lt_node_service_t svc;
    cr_assert(lt_node_service(s_node, "store", &svc));
    cr_assert_geq(svc.restarts, S_CRASH_ROUNDS);

    /* Every acknowledged write is there. */
    size_t checked = 0;
    for (size_t i = 0; i < w->nwrites; i++) {
        if (w->rc[i] != LT_OK)
            continue;
        char k[32], v[64];
        s_crash_key(i, k, sizeof k, v, sizeof v);
        s_expect_value(c, &w->st, k, v);
        checked++;
    }
    cr_assert_eq(checked, w->acked);
    /* Each write is one intention, applied at most once however often the
     * client resent it: every acknowledged one, and at most the others. */
    lt_client_store_info_t after_info;
    assert_rc(c, lt_client_store_info(c, &w->st, &after_info), LT_OK);
    uint64_t made = after_info.witnessed - before.witnessed;
    cr_assert(made >= w->acked && made <= w->nwrites,
              "%llu intentions for %zu writes (%zu acknowledged): a retry was applied twice",
              (unsigned long long)made, w->nwrites, w->acked);
    cr_log_info("crash test: %zu writes, %zu acknowledged and present, %zu unavailable; the "
                "slowest took %llu ms",
                w->nwrites, w->acked, w->unavailable, (unsigned long long)w->slowest_ms);
    pthread_cond_destroy(&w->progress);
    pthread_mutex_destroy(&w->mu);
    free(w);
}
