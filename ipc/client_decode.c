/* The decoders of liblattice-client (see client_decode.h): nanopb bodies of
 * schemas/store.proto and schemas/kernel.proto, with the view helpers of
 * services/store/ops_codec.h for the callback fields, into the result
 * structs of client.h. Also the functions that release those results, so
 * that this file alone says what a result owns.
 *
 * Portable: no socket, no OS header (tools/check-portable). */
#include "ipc/client_decode.h"

#include "store/ops_codec.h"
#include "weaver/types.h"

#include "kernel.pb.h"
#include "store.pb.h"
#include "sync.pb.h"

#include <pb_decode.h>
#include <sodium.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_STORE "store"
#define S_NODE  "the node"

/* Whether a fixed-size bytes field has exactly n bytes. */
#define S_EXACT(field, n) (((const pb_bytes_array_t *)&(field))->size == (n))

static bool s_decode(const pb_msgdesc_t *fields, void *msg, const uint8_t *p, size_t len)
{
    pb_istream_t is = pb_istream_from_buffer(p ? p : (const uint8_t *)"", p ? len : 0);
    return pb_decode(&is, fields, msg);
}

static lt_err_t s_malformed(lt_errbuf_t *eb, const char *from, const char *what)
{
    return lt_fail(eb, LT_EINVAL, "malformed reply from %s: %s", from, what);
}

static lt_err_t s_nomem(lt_errbuf_t *eb)
{
    return lt_fail(eb, LT_ENOMEM, "out of memory");
}

/* An owned, NUL-terminated copy of a view. */
static lt_err_t s_dup(const lt_view_t *v, uint8_t **out, size_t *len)
{
    *out = malloc(v->len + 1);
    if (!*out)
        return LT_ENOMEM;
    if (v->len)
        memcpy(*out, v->p, v->len);
    (*out)[v->len] = '\0';
    *len = v->len;
    return LT_OK;
}

/* ---- releasing results ---- */

void lt_client_free(void *p)
{
    free(p);
}

void lt_client_item_clear(lt_client_item_t *item)
{
    if (!item)
        return;
    free(item->key);
    free(item->value);
    memset(item, 0, sizeof *item);
}

void lt_client_items_free(lt_client_item_t *items, size_t n)
{
    for (size_t i = 0; items && i < n; i++)
        lt_client_item_clear(&items[i]);
    free(items);
}

void lt_client_heads_free(lt_client_head_t *heads, size_t n)
{
    for (size_t i = 0; heads && i < n; i++)
        free(heads[i].value);
    free(heads);
}

void lt_client_log_entries_free(lt_client_log_entry_t *entries, size_t n)
{
    for (size_t i = 0; entries && i < n; i++)
        free(entries[i].text);
    free(entries);
}

void lt_client_event_clear(lt_client_event_t *ev)
{
    if (!ev)
        return;
    free(ev->key);
    free(ev->value);
    free(ev->entry.text);
    memset(ev, 0, sizeof *ev);
}

void lt_client_intention_clear(lt_client_intention_t *in)
{
    if (!in)
        return;
    free(in->ops);
    memset(in, 0, sizeof *in);
}

/* ---- the node ---- */

static lt_err_t s_service(const lattice_kernel_ServiceInfo *in, lt_client_service_t *out,
                          lt_errbuf_t *eb)
{
    memset(out, 0, sizeof *out);
    if (in->name[0] == '\0')
        return s_malformed(eb, S_NODE, "a service without a name");
    snprintf(out->name, sizeof out->name, "%s", in->name);
    out->state = (int)in->state;
    out->pid = in->pid;
    out->restarts = in->restarts;
    out->proto = in->proto;
    out->attached = in->attached;
    out->in_process = in->in_process;
    out->since_ms = in->since_ms;
    out->queued = in->queued;
    out->inflight = in->inflight;
    snprintf(out->last_exit, sizeof out->last_exit, "%s", in->last_exit);
    snprintf(out->fail_reason, sizeof out->fail_reason, "%s", in->fail_reason);
    return LT_OK;
}

lt_err_t lt_client_decode_node_status(const uint8_t *body, size_t len, lt_client_node_status_t *out,
                                      lt_errbuf_t *eb)
{
    memset(out, 0, sizeof *out);
    lattice_kernel_NodeStatus m = lattice_kernel_NodeStatus_init_zero;
    if (!s_decode(lattice_kernel_NodeStatus_fields, &m, body, len))
        return s_malformed(eb, S_NODE, "the node status does not decode");
    if (!S_EXACT(m.node_key, LT_KEY_LEN))
        return s_malformed(eb, S_NODE, "the node key is not 32 bytes");
    _Static_assert(sizeof m.services / sizeof m.services[0] <=
                       sizeof out->services / sizeof out->services[0],
                   "lt_client_node_status_t holds every service a NodeStatus can");
    memcpy(out->node_key.b, m.node_key.bytes, LT_KEY_LEN);
    snprintf(out->home, sizeof out->home, "%s", m.home);
    out->uptime_ms = m.uptime_ms;
    out->pid = m.pid;
    snprintf(out->version, sizeof out->version, "%s", m.version);
    for (pb_size_t i = 0; i < m.services_count; i++) {
        lt_err_t rc = s_service(&m.services[i], &out->services[i], eb);
        if (rc) {
            memset(out, 0, sizeof *out);
            return rc;
        }
    }
    out->nservices = m.services_count;
    _Static_assert(sizeof m.listen / sizeof m.listen[0] <=
                           sizeof out->listen / sizeof out->listen[0] &&
                       sizeof m.listen[0] <= sizeof out->listen[0],
                   "lt_client_node_status_t holds every address a NodeStatus can");
    for (pb_size_t i = 0; i < m.listen_count; i++)
        snprintf(out->listen[i], sizeof out->listen[i], "%s", m.listen[i]);
    out->nlisten = m.listen_count;
    _Static_assert(sizeof m.links / sizeof m.links[0] <= sizeof out->links / sizeof out->links[0],
                   "lt_client_node_status_t holds every link a NodeStatus can");
    for (pb_size_t i = 0; i < m.links_count; i++) {
        const lattice_kernel_LinkInfo *li = &m.links[i];
        lt_client_link_t *o = &out->links[i];
        if (!S_EXACT(li->key, LT_KEY_LEN)) {
            memset(out, 0, sizeof *out);
            return s_malformed(eb, S_NODE, "a link's key is not 32 bytes");
        }
        memcpy(o->key.b, li->key.bytes, LT_KEY_LEN);
        snprintf(o->address, sizeof o->address, "%s", li->address);
        o->outbound = li->outbound;
        o->connected = li->connected;
        o->joining = li->joining;
        o->since_ms = li->since_ms;
        o->last_seen_ms = li->last_seen_ms;
        o->bytes_in = li->bytes_in;
        o->bytes_out = li->bytes_out;
    }
    out->nlinks = m.links_count;
    return LT_OK;
}

lt_err_t lt_client_decode_services(const uint8_t *body, size_t len, lt_client_service_t *services,
                                   size_t cap, size_t *n, lt_errbuf_t *eb)
{
    *n = 0;
    lattice_kernel_ServiceList m = lattice_kernel_ServiceList_init_zero;
    if (!s_decode(lattice_kernel_ServiceList_fields, &m, body, len))
        return s_malformed(eb, S_NODE, "the service list does not decode");
    for (pb_size_t i = 0; i < m.services_count; i++) {
        lt_client_service_t s;
        lt_err_t rc = s_service(&m.services[i], &s, eb);
        if (rc)
            return rc;
        if (i < cap)
            services[i] = s;
    }
    *n = m.services_count;
    return LT_OK;
}

bool lt_client_decode_pids(const uint8_t *body, size_t len, const char *service, uint32_t *node_pid,
                           uint32_t *service_pid)
{
    *node_pid = *service_pid = 0;
    lattice_kernel_NodeStatus m = lattice_kernel_NodeStatus_init_zero;
    if (!s_decode(lattice_kernel_NodeStatus_fields, &m, body, len))
        return false;
    *node_pid = m.pid;
    for (pb_size_t i = 0; i < m.services_count; i++)
        if (strcmp(m.services[i].name, service) == 0)
            *service_pid = m.services[i].pid;
    return true;
}

bool lt_client_decode_error(const uint8_t *body, size_t len, char *msg, size_t cap)
{
    if (cap)
        msg[0] = '\0';
    lattice_store_Error e = lattice_store_Error_init_zero;
    if (len == 0 || !s_decode(lattice_store_Error_fields, &e, body, len) || !e.message[0])
        return false;
    if (cap)
        snprintf(msg, cap, "%s", e.message);
    return true;
}

/* ---- stores ---- */

static lt_err_t s_store_type_check(int type, lt_errbuf_t *eb)
{
    if (type == lattice_store_StoreType_STORE_TYPE_KV ||
        type == lattice_store_StoreType_STORE_TYPE_LOG)
        return LT_OK;
    char why[64];
    snprintf(why, sizeof why, "unknown store type %d", type);
    return s_malformed(eb, S_STORE, why);
}

lt_err_t lt_client_decode_store_created(const uint8_t *body, size_t len, lt_client_store_id_t *out,
                                        lt_errbuf_t *eb)
{
    lattice_store_StoreCreated r = lattice_store_StoreCreated_init_zero;
    if (!s_decode(lattice_store_StoreCreated_fields, &r, body, len) ||
        !S_EXACT(r.store, LT_STORE_ID_LEN))
        return s_malformed(eb, S_STORE, "the new store's id is not 16 bytes");
    memcpy(out->b, r.store.bytes, LT_STORE_ID_LEN);
    return LT_OK;
}

lt_err_t lt_client_decode_store_ref(const uint8_t *body, size_t len, lt_client_store_id_t *out,
                                    lt_errbuf_t *eb)
{
    lattice_store_StoreRef r = lattice_store_StoreRef_init_zero;
    if (!s_decode(lattice_store_StoreRef_fields, &r, body, len) ||
        !S_EXACT(r.store, LT_STORE_ID_LEN))
        return s_malformed(eb, S_STORE, "the resolved store id is not 16 bytes");
    memcpy(out->b, r.store.bytes, LT_STORE_ID_LEN);
    return LT_OK;
}

lt_err_t lt_client_decode_store_list(const uint8_t *body, size_t len, lt_client_store_t **out,
                                     size_t *n, lt_errbuf_t *eb)
{
    *out = NULL;
    *n = 0;
    lt_pb_input_t in = lt_pb_input(body, len);
    lt_pb_views_t vs = {.in = &in};
    lattice_store_StoreList m = lattice_store_StoreList_init_zero;
    lt_pb_bind_views(&m.stores, &vs);
    lt_client_store_t *v = NULL;
    lt_err_t rc = LT_OK;
    if (!s_decode(lattice_store_StoreList_fields, &m, body, len))
        rc = s_malformed(eb, S_STORE, "the store list does not decode");
    else if (vs.n && !(v = calloc(vs.n, sizeof *v)))
        rc = s_nomem(eb);
    for (size_t i = 0; rc == LT_OK && i < vs.n; i++) {
        lattice_store_StoreSummary s = lattice_store_StoreSummary_init_zero;
        if (!s_decode(lattice_store_StoreSummary_fields, &s, vs.v[i].p, vs.v[i].len) ||
            !S_EXACT(s.store, LT_STORE_ID_LEN))
            rc = s_malformed(eb, S_STORE, "a store of the list does not decode");
        else
            rc = s_store_type_check(s.type, eb);
        if (rc == LT_OK) {
            memcpy(v[i].id.b, s.store.bytes, LT_STORE_ID_LEN);
            v[i].type = (int)s.type;
            snprintf(v[i].name, sizeof v[i].name, "%s", s.name);
        }
    }
    if (rc == LT_OK) {
        *out = v;
        *n = vs.n;
    } else {
        free(v);
    }
    lt_pb_views_free(&vs);
    return rc;
}

lt_err_t lt_client_decode_store_verified(const uint8_t *body, size_t len, uint64_t *records,
                                         lt_errbuf_t *eb)
{
    lattice_store_StoreVerified m = lattice_store_StoreVerified_init_zero;
    if (!s_decode(lattice_store_StoreVerified_fields, &m, body, len))
        return s_malformed(eb, S_STORE, "the verify's result does not decode");
    *records = m.records;
    return LT_OK;
}

lt_err_t lt_client_decode_store_info(const uint8_t *body, size_t len, lt_client_store_info_t *out,
                                     lt_errbuf_t *eb)
{
    memset(out, 0, sizeof *out);
    lattice_store_StoreInfo m = lattice_store_StoreInfo_init_zero;
    if (!s_decode(lattice_store_StoreInfo_fields, &m, body, len) ||
        !S_EXACT(m.store, LT_STORE_ID_LEN))
        return s_malformed(eb, S_STORE, "the store info does not decode");
    lt_err_t rc = s_store_type_check(m.type, eb);
    if (rc)
        return rc;
    memcpy(out->id.b, m.store.bytes, LT_STORE_ID_LEN);
    out->type = (int)m.type;
    snprintf(out->name, sizeof out->name, "%s", m.name);
    out->witnessed = m.witnessed;
    out->floating = m.floating;
    out->forks = m.forks;
    out->peers = m.peers;
    out->children = m.children;
    return LT_OK;
}

/* ---- core:kvstore ---- */

lt_err_t lt_client_decode_written(const uint8_t *body, size_t len, lt_client_hash_t *hash,
                                  lt_errbuf_t *eb)
{
    lattice_store_Written m = lattice_store_Written_init_zero;
    if (!s_decode(lattice_store_Written_fields, &m, body, len) || !S_EXACT(m.hash, LT_HASH_LEN))
        return s_malformed(eb, S_STORE, "the written intention's hash is not 32 bytes");
    if (hash)
        memcpy(hash->b, m.hash.bytes, LT_HASH_LEN);
    return LT_OK;
}

lt_err_t lt_client_decode_item(const uint8_t *body, size_t len, lt_client_item_t *out,
                               lt_errbuf_t *eb)
{
    memset(out, 0, sizeof *out);
    lt_view_t k = {NULL, 0}, v = {NULL, 0};
    lt_pb_input_t in = lt_pb_input(body, len);
    lt_pb_view_arg_t ka = {&k, &in}, va = {&v, &in};
    lattice_store_KvItem m = lattice_store_KvItem_init_zero;
    lt_pb_bind_view(&m.key, &ka);
    lt_pb_bind_view(&m.value, &va);
    if (!s_decode(lattice_store_KvItem_fields, &m, body, len))
        return s_malformed(eb, S_STORE, "an item does not decode");
    if (k.len == 0)
        return s_malformed(eb, S_STORE, "an item without a key");
    if (s_dup(&k, &out->key, &out->key_len) != LT_OK ||
        s_dup(&v, &out->value, &out->value_len) != LT_OK) {
        lt_client_item_clear(out);
        return s_nomem(eb);
    }
    out->conflicted = m.conflicted;
    out->deleted = m.deleted;
    return LT_OK;
}

lt_err_t lt_client_decode_items(const uint8_t *body, size_t len, lt_client_item_t **out, size_t *n,
                                lt_errbuf_t *eb)
{
    *out = NULL;
    *n = 0;
    lt_pb_input_t in = lt_pb_input(body, len);
    lt_pb_views_t vs = {.in = &in};
    lattice_store_KvList m = lattice_store_KvList_init_zero;
    lt_pb_bind_views(&m.items, &vs);
    lt_client_item_t *v = NULL;
    lt_err_t rc = LT_OK;
    if (!s_decode(lattice_store_KvList_fields, &m, body, len))
        rc = s_malformed(eb, S_STORE, "the key list does not decode");
    else if (vs.n && !(v = calloc(vs.n, sizeof *v)))
        rc = s_nomem(eb);
    for (size_t i = 0; rc == LT_OK && i < vs.n; i++)
        rc = lt_client_decode_item(vs.v[i].p, vs.v[i].len, &v[i], eb);
    if (rc == LT_OK) {
        *out = v;
        *n = vs.n;
    } else {
        lt_client_items_free(v, v ? vs.n : 0); /* calloc'd: untouched items hold nothing */
    }
    lt_pb_views_free(&vs);
    return rc;
}

static lt_err_t s_head(const lt_view_t *h, lt_client_head_t *out, lt_errbuf_t *eb)
{
    memset(out, 0, sizeof *out);
    lt_view_t v = {NULL, 0};
    lt_pb_input_t in = lt_pb_input(h->p, h->len);
    lt_pb_view_arg_t va = {&v, &in};
    lattice_store_Head m = lattice_store_Head_init_zero;
    lt_pb_bind_view(&m.value, &va);
    if (!s_decode(lattice_store_Head_fields, &m, h->p, h->len) || !S_EXACT(m.hash, LT_HASH_LEN) ||
        !S_EXACT(m.author, LT_KEY_LEN))
        return s_malformed(eb, S_STORE, "a head does not decode");
    memcpy(out->hash.b, m.hash.bytes, LT_HASH_LEN);
    memcpy(out->author.b, m.author.bytes, LT_KEY_LEN);
    out->wall_ms = m.wall_ms;
    out->counter = m.counter;
    out->tombstone = m.tombstone;
    if (s_dup(&v, &out->value, &out->value_len) != LT_OK)
        return s_nomem(eb);
    return LT_OK;
}

lt_err_t lt_client_decode_heads(const uint8_t *body, size_t len, const void *key, size_t key_len,
                                lt_client_head_t **out, size_t *n, lt_errbuf_t *eb)
{
    *out = NULL;
    *n = 0;
    lt_pb_input_t in = lt_pb_input(body, len);
    lt_view_t k = {NULL, 0};
    lt_pb_view_arg_t ka = {&k, &in};
    lt_pb_views_t vs = {.in = &in};
    lattice_store_KvHeads m = lattice_store_KvHeads_init_zero;
    lt_pb_bind_view(&m.key, &ka);
    lt_pb_bind_views(&m.heads, &vs);
    lt_client_head_t *v = NULL;
    lt_err_t rc = LT_OK;
    if (!s_decode(lattice_store_KvHeads_fields, &m, body, len))
        rc = s_malformed(eb, S_STORE, "the heads do not decode");
    else if (k.len != key_len || (key_len && memcmp(k.p, key, key_len) != 0))
        rc = s_malformed(eb, S_STORE, "the heads are of another key");
    else if (vs.n == 0)
        rc = s_malformed(eb, S_STORE, "a key without heads");
    else if (!(v = calloc(vs.n, sizeof *v)))
        rc = s_nomem(eb);
    for (size_t i = 0; rc == LT_OK && i < vs.n; i++)
        rc = s_head(&vs.v[i], &v[i], eb);
    if (rc == LT_OK) {
        *out = v;
        *n = vs.n;
    } else {
        lt_client_heads_free(v, v ? vs.n : 0); /* calloc'd: untouched entries hold nothing */
    }
    lt_pb_views_free(&vs);
    return rc;
}

/* ---- core:logstore ---- */

/* Decodes one LogItem; an event's must name its store (into *store). */
static lt_err_t s_log_item(const uint8_t *p, size_t len, bool event, lt_client_log_entry_t *out,
                           lt_client_store_id_t *store, lt_errbuf_t *eb)
{
    memset(out, 0, sizeof *out);
    lt_view_t t = {NULL, 0};
    lt_pb_input_t in = lt_pb_input(p, len);
    lt_pb_view_arg_t ta = {&t, &in};
    lattice_store_LogItem m = lattice_store_LogItem_init_zero;
    lt_pb_bind_view(&m.text, &ta);
    if (!s_decode(lattice_store_LogItem_fields, &m, p, len) || !S_EXACT(m.author, LT_KEY_LEN) ||
        !S_EXACT(m.hash, LT_HASH_LEN) || (event && !S_EXACT(m.store, LT_STORE_ID_LEN)))
        return s_malformed(eb, S_STORE, "a log entry does not decode");
    out->wall_ms = m.wall_ms;
    out->counter = m.counter;
    memcpy(out->author.b, m.author.bytes, LT_KEY_LEN);
    memcpy(out->hash.b, m.hash.bytes, LT_HASH_LEN);
    if (store && event)
        memcpy(store->b, m.store.bytes, LT_STORE_ID_LEN);
    if (s_dup(&t, &out->text, &out->text_len) != LT_OK)
        return s_nomem(eb);
    return LT_OK;
}

lt_err_t lt_client_decode_log_entries(const uint8_t *body, size_t len, uint64_t tail,
                                      lt_client_log_entry_t **out, size_t *n, lt_errbuf_t *eb)
{
    *out = NULL;
    *n = 0;
    lt_pb_input_t in = lt_pb_input(body, len);
    lt_pb_views_t vs = {.in = &in};
    lattice_store_LogEntries r = lattice_store_LogEntries_init_zero;
    lt_pb_bind_views(&r.entries, &vs);
    lt_client_log_entry_t *v = NULL;
    lt_err_t rc = LT_OK;
    if (!s_decode(lattice_store_LogEntries_fields, &r, body, len))
        rc = s_malformed(eb, S_STORE, "the log entries do not decode");
    else if (tail && vs.n > tail)
        rc = s_malformed(eb, S_STORE, "more entries than asked for");
    else if (vs.n && !(v = calloc(vs.n, sizeof *v)))
        rc = s_nomem(eb);
    for (size_t i = 0; rc == LT_OK && i < vs.n; i++)
        rc = s_log_item(vs.v[i].p, vs.v[i].len, false, &v[i], NULL, eb);
    if (rc == LT_OK) {
        *out = v;
        *n = vs.n;
    } else {
        lt_client_log_entries_free(v, v ? vs.n : 0); /* calloc'd: untouched ones hold nothing */
    }
    lt_pb_views_free(&vs);
    return rc;
}

/* ---- events ---- */

static lt_err_t s_kv_change(const uint8_t *body, size_t len, lt_client_event_t *out,
                            lt_errbuf_t *eb)
{
    lt_view_t k = {NULL, 0}, v = {NULL, 0};
    lt_pb_input_t in = lt_pb_input(body, len);
    lt_pb_view_arg_t ka = {&k, &in}, va = {&v, &in};
    lattice_store_KvChange m = lattice_store_KvChange_init_zero;
    lt_pb_bind_view(&m.key, &ka);
    lt_pb_bind_view(&m.value, &va);
    if (!s_decode(lattice_store_KvChange_fields, &m, body, len) ||
        !S_EXACT(m.store, LT_STORE_ID_LEN) || !S_EXACT(m.hash, LT_HASH_LEN) || k.len == 0)
        return lt_fail(eb, LT_EINVAL, "malformed event from store: a change does not decode");
    memcpy(out->store.b, m.store.bytes, LT_STORE_ID_LEN);
    memcpy(out->hash.b, m.hash.bytes, LT_HASH_LEN);
    out->deleted = m.deleted;
    out->conflicted = m.conflicted;
    if (s_dup(&k, &out->key, &out->key_len) != LT_OK ||
        s_dup(&v, &out->value, &out->value_len) != LT_OK)
        return s_nomem(eb);
    return LT_OK;
}

lt_err_t lt_client_decode_event(uint32_t type, int kind, const uint8_t *body, size_t len,
                                lt_client_event_t *out, lt_errbuf_t *eb)
{
    memset(out, 0, sizeof *out);
    lt_err_t rc;
    if (type == lattice_store_StoreMsgType_LOG_ENTRY && kind == LT_CLIENT_EV_LOG_ENTRY) {
        out->kind = LT_CLIENT_EV_LOG_ENTRY;
        rc = s_log_item(body, len, true, &out->entry, &out->store, eb);
        if (rc == LT_OK)
            out->hash = out->entry.hash;
    } else if (type == lattice_store_StoreMsgType_KV_CHANGE && kind == LT_CLIENT_EV_KV_CHANGE) {
        out->kind = LT_CLIENT_EV_KV_CHANGE;
        rc = s_kv_change(body, len, out, eb);
    } else {
        rc = lt_fail(eb, LT_EINVAL, "malformed event from store: type %u on a %s stream",
                     (unsigned)type, kind == LT_CLIENT_EV_KV_CHANGE ? "watch" : "follow");
    }
    if (rc)
        lt_client_event_clear(out);
    return rc;
}

/* ---- intentions ---- */

lt_err_t lt_client_decode_history(const uint8_t *body, size_t len, uint32_t limit,
                                  lt_client_history_item_t **out, size_t *n, lt_errbuf_t *eb)
{
    *out = NULL;
    *n = 0;
    lt_pb_input_t in = lt_pb_input(body, len);
    lt_pb_views_t vs = {.in = &in};
    lattice_store_HistoryList r = lattice_store_HistoryList_init_zero;
    lt_pb_bind_views(&r.items, &vs);
    lt_client_history_item_t *v = NULL;
    lt_err_t rc = LT_OK;
    if (!s_decode(lattice_store_HistoryList_fields, &r, body, len))
        rc = s_malformed(eb, S_STORE, "the history does not decode");
    else if (limit && vs.n > limit)
        rc = s_malformed(eb, S_STORE, "more intentions than asked for");
    else if (vs.n && !(v = calloc(vs.n, sizeof *v)))
        rc = s_nomem(eb);
    for (size_t i = 0; rc == LT_OK && i < vs.n; i++) {
        lattice_store_HistoryItem h = lattice_store_HistoryItem_init_zero;
        if (!s_decode(lattice_store_HistoryItem_fields, &h, vs.v[i].p, vs.v[i].len) ||
            !S_EXACT(h.hash, LT_HASH_LEN) || !S_EXACT(h.author, LT_KEY_LEN) ||
            !S_EXACT(h.store_prev, LT_HASH_LEN)) {
            rc = s_malformed(eb, S_STORE, "an intention of the history does not decode");
            break;
        }
        _Static_assert(sizeof h.deps / sizeof h.deps[0] <= sizeof v->deps / sizeof v->deps[0],
                       "lt_client_history_item_t holds every dependency a HistoryItem can");
        lt_client_history_item_t *x = &v[i];
        x->seq = h.seq;
        memcpy(x->hash.b, h.hash.bytes, LT_HASH_LEN);
        memcpy(x->author.b, h.author.bytes, LT_KEY_LEN);
        x->wall_ms = h.wall_ms;
        x->counter = h.counter;
        memcpy(x->store_prev.b, h.store_prev.bytes, LT_HASH_LEN);
        x->ndeps = h.deps_count;
        for (pb_size_t d = 0; rc == LT_OK && d < h.deps_count; d++) {
            if (!S_EXACT(h.deps[d], LT_HASH_LEN))
                rc = s_malformed(eb, S_STORE, "a dependency is not 32 bytes");
            else
                memcpy(x->deps[d].b, h.deps[d].bytes, LT_HASH_LEN);
        }
        snprintf(x->summary, sizeof x->summary, "%s", h.summary);
    }
    if (rc == LT_OK) {
        *out = v;
        *n = vs.n;
    } else {
        free(v);
    }
    lt_pb_views_free(&vs);
    return rc;
}

lt_err_t lt_client_decode_intention(const uint8_t *body, size_t len, const lt_client_hash_t *hash,
                                    lt_client_intention_t *out, lt_errbuf_t *eb)
{
    memset(out, 0, sizeof *out);
    lt_pb_input_t in = lt_pb_input(body, len);
    lt_view_t ops = {NULL, 0};
    lt_pb_view_arg_t oa = {&ops, &in};
    lattice_store_DebugIntention r = lattice_store_DebugIntention_init_zero;
    lt_pb_bind_view(&r.ops, &oa);
    if (!s_decode(lattice_store_DebugIntention_fields, &r, body, len) ||
        !S_EXACT(r.hash, LT_HASH_LEN) || !S_EXACT(r.author, LT_KEY_LEN) ||
        !S_EXACT(r.store, LT_STORE_ID_LEN) || !S_EXACT(r.store_prev, LT_HASH_LEN) ||
        !S_EXACT(r.signature, LT_SIG_LEN))
        return s_malformed(eb, S_STORE, "the intention does not decode");
    if (memcmp(r.hash.bytes, hash->b, LT_HASH_LEN) != 0)
        return s_malformed(eb, S_STORE, "an intention with another hash than asked for");
    _Static_assert(sizeof r.deps / sizeof r.deps[0] <= sizeof out->deps / sizeof out->deps[0],
                   "lt_client_intention_t holds every dependency a DebugIntention can");
    for (pb_size_t i = 0; i < r.deps_count; i++) {
        if (!S_EXACT(r.deps[i], LT_HASH_LEN)) {
            memset(out, 0, sizeof *out);
            return s_malformed(eb, S_STORE, "a dependency is not 32 bytes");
        }
        memcpy(out->deps[i].b, r.deps[i].bytes, LT_HASH_LEN);
    }
    out->ndeps = r.deps_count;
    memcpy(out->hash.b, r.hash.bytes, LT_HASH_LEN);
    out->version = r.version;
    memcpy(out->author.b, r.author.bytes, LT_KEY_LEN);
    out->wall_ms = r.wall_ms;
    out->counter = r.counter;
    memcpy(out->store.b, r.store.bytes, LT_STORE_ID_LEN);
    memcpy(out->store_prev.b, r.store_prev.bytes, LT_HASH_LEN);
    memcpy(out->signature, r.signature.bytes, LT_SIG_LEN);
    out->seq = r.seq;
    snprintf(out->summary, sizeof out->summary, "%s", r.summary);
    if (s_dup(&ops, &out->ops, &out->ops_len) != LT_OK) {
        memset(out, 0, sizeof *out);
        return s_nomem(eb);
    }
    return LT_OK;
}

/* ---- peers ---- */

const char *lt_client_peer_state_name(int state)
{
    switch (state) {
    case LT_CLIENT_PEER_ACTIVE:
        return "active";
    case LT_CLIENT_PEER_REVOKED:
        return "revoked";
    case LT_CLIENT_PEER_DORMANT:
        return "dormant";
    default:
        return "unset";
    }
}

lt_err_t lt_client_decode_invited(const uint8_t *body, size_t len, lt_client_invite_t *inv,
                                  lt_errbuf_t *eb)
{
    lattice_store_Invited m = lattice_store_Invited_init_zero;
    if (!s_decode(lattice_store_Invited_fields, &m, body, len) ||
        !S_EXACT(m.secret, LT_CLIENT_INVITE_SECRET_LEN) || m.expires_ms == 0) {
        sodium_memzero(&m, sizeof m);
        return s_malformed(eb, S_STORE, "the invite does not decode");
    }
    memcpy(inv->secret, m.secret.bytes, LT_CLIENT_INVITE_SECRET_LEN);
    inv->expires_ms = m.expires_ms;
    sodium_memzero(&m, sizeof m);
    return LT_OK;
}

lt_err_t lt_client_decode_peer_list(const uint8_t *body, size_t len, lt_client_peer_t **out,
                                    size_t *n, lt_errbuf_t *eb)
{
    *out = NULL;
    *n = 0;
    lt_pb_input_t in = lt_pb_input(body, len);
    lt_pb_views_t vs = {.in = &in};
    lattice_store_PeerList m = lattice_store_PeerList_init_zero;
    lt_pb_bind_views(&m.peers, &vs);
    lt_client_peer_t *v = NULL;
    lt_err_t rc = LT_OK;
    if (!s_decode(lattice_store_PeerList_fields, &m, body, len))
        rc = s_malformed(eb, S_STORE, "the peer list does not decode");
    else if (vs.n && !(v = calloc(vs.n, sizeof *v)))
        rc = s_nomem(eb);
    for (size_t i = 0; rc == LT_OK && i < vs.n; i++) {
        lattice_store_PeerItem p = lattice_store_PeerItem_init_zero;
        if (!s_decode(lattice_store_PeerItem_fields, &p, vs.v[i].p, vs.v[i].len) ||
            !S_EXACT(p.key, LT_KEY_LEN) || p.state < lattice_store_PeerState_PEER_STATE_UNSET ||
            p.state > lattice_store_PeerState_PEER_STATE_DORMANT) {
            rc = s_malformed(eb, S_STORE, "a peer of the list does not decode");
        } else {
            memcpy(v[i].key.b, p.key.bytes, LT_KEY_LEN);
            v[i].state = (int)p.state;
            v[i].inherited = p.inherited;
        }
    }
    if (rc == LT_OK) {
        *out = v;
        *n = vs.n;
    } else {
        free(v);
    }
    lt_pb_views_free(&vs);
    return rc;
}

lt_err_t lt_client_decode_sync_report(const uint8_t *body, size_t len, lt_client_sync_peer_t **out,
                                      size_t *n, lt_errbuf_t *eb)
{
    *out = NULL;
    *n = 0;
    lt_pb_input_t in = lt_pb_input(body, len);
    lt_pb_views_t vs = {.in = &in};
    lattice_sync_SyncReport m = lattice_sync_SyncReport_init_zero;
    lt_pb_bind_views(&m.peers, &vs);
    lt_client_sync_peer_t *v = NULL;
    lt_err_t rc = LT_OK;
    if (!s_decode(lattice_sync_SyncReport_fields, &m, body, len))
        rc = s_malformed(eb, "sync", "the sync report does not decode");
    else if (vs.n && !(v = calloc(vs.n, sizeof *v)))
        rc = s_nomem(eb);
    for (size_t i = 0; rc == LT_OK && i < vs.n; i++) {
        lattice_sync_PeerReport p = lattice_sync_PeerReport_init_zero;
        if (!s_decode(lattice_sync_PeerReport_fields, &p, vs.v[i].p, vs.v[i].len) ||
            !S_EXACT(p.peer, LT_KEY_LEN)) {
            rc = s_malformed(eb, "sync", "a peer of the sync report does not decode");
        } else {
            memcpy(v[i].peer.b, p.peer.bytes, LT_KEY_LEN);
            v[i].reached = p.reached;
            snprintf(v[i].error, sizeof v[i].error, "%s", p.error);
            v[i].received = p.received;
            v[i].peer_lacks = p.peer_lacks;
            v[i].rounds = p.rounds;
            v[i].bytes = p.bytes;
        }
    }
    if (rc == LT_OK) {
        *out = v;
        *n = vs.n;
    } else {
        free(v);
    }
    lt_pb_views_free(&vs);
    return rc;
}

/* ---- invite tokens ----
 * "lt1." then URL-safe base64 (no padding) of:
 *   version (1 byte, 1) | store id (16) | inviter key (32) | secret (32) |
 *   expires_ms (8, little-endian) | naddrs (1, at most 8) |
 *   naddrs x (length (1, 1..127) | address bytes, printable ASCII)
 * The version byte is inside the base64 so that a token is one opaque word;
 * the "lt1." prefix says what the word is. */

#define S_TOKEN_PREFIX  "lt1."
#define S_TOKEN_VERSION 1
#define S_TOKEN_FIXED   (1 + LT_STORE_ID_LEN + LT_KEY_LEN + LT_CLIENT_INVITE_SECRET_LEN + 8 + 1)
#define S_TOKEN_BIN_MAX                                                                            \
    (S_TOKEN_FIXED + LT_CLIENT_INVITE_MAX_ADDRS * (1 + LT_CLIENT_INVITE_ADDR_MAX))

static bool s_addr_ok(const char *a, size_t len)
{
    if (len == 0 || len > LT_CLIENT_INVITE_ADDR_MAX)
        return false;
    for (size_t i = 0; i < len; i++)
        if (a[i] <= ' ' || a[i] > '~')
            return false;
    return true;
}

lt_err_t lt_client_invite_token_encode(const lt_client_invite_t *inv, char *out, size_t cap)
{
    uint8_t bin[S_TOKEN_BIN_MAX];
    size_t n = 0;
    if (inv->naddrs > LT_CLIENT_INVITE_MAX_ADDRS)
        return LT_EINVAL;
    bin[n++] = S_TOKEN_VERSION;
    memcpy(bin + n, inv->store.b, LT_STORE_ID_LEN);
    n += LT_STORE_ID_LEN;
    memcpy(bin + n, inv->inviter.b, LT_KEY_LEN);
    n += LT_KEY_LEN;
    memcpy(bin + n, inv->secret, LT_CLIENT_INVITE_SECRET_LEN);
    n += LT_CLIENT_INVITE_SECRET_LEN;
    for (int i = 0; i < 8; i++)
        bin[n++] = (uint8_t)(inv->expires_ms >> (8 * i));
    bin[n++] = (uint8_t)inv->naddrs;
    for (size_t i = 0; i < inv->naddrs; i++) {
        size_t len = strnlen(inv->addrs[i], sizeof inv->addrs[i]);
        if (!s_addr_ok(inv->addrs[i], len))
            return LT_EINVAL;
        bin[n++] = (uint8_t)len;
        memcpy(bin + n, inv->addrs[i], len);
        n += len;
    }
    size_t plen = strlen(S_TOKEN_PREFIX);
    size_t need = plen + sodium_base64_ENCODED_LEN(n, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    lt_err_t rc = LT_OK;
    if (cap < need) {
        rc = LT_EFULL;
    } else {
        memcpy(out, S_TOKEN_PREFIX, plen);
        sodium_bin2base64(out + plen, cap - plen, bin, n, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    }
    sodium_memzero(bin, sizeof bin);
    return rc;
}

static lt_err_t s_token_bad(char *msg, size_t cap, const char *why)
{
    if (msg && cap)
        snprintf(msg, cap, "not a valid invite token: %s", why);
    return LT_EINVAL;
}

lt_err_t lt_client_invite_token_decode(const char *token, lt_client_invite_t *out, char *msg,
                                       size_t msg_cap)
{
    memset(out, 0, sizeof *out);
    size_t plen = strlen(S_TOKEN_PREFIX);
    if (!token || strncmp(token, S_TOKEN_PREFIX, plen) != 0)
        return s_token_bad(msg, msg_cap, "it does not start with \"" S_TOKEN_PREFIX "\"");
    const char *b64 = token + plen;
    size_t b64len = strlen(b64);
    if (b64len >
        sodium_base64_ENCODED_LEN(S_TOKEN_BIN_MAX, sodium_base64_VARIANT_URLSAFE_NO_PADDING))
        return s_token_bad(msg, msg_cap, "it is too long");
    /* The alphabet is checked here: libsodium's decoder lets some bytes
     * above 0x7f through. */
    for (size_t i = 0; i < b64len; i++) {
        char ch = b64[i];
        if (!((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
              ch == '-' || ch == '_'))
            return s_token_bad(msg, msg_cap,
                               "it is not base64 (was it cut or copied with spaces?)");
    }
    uint8_t bin[S_TOKEN_BIN_MAX];
    size_t n = 0;
    const char *end = NULL;
    if (sodium_base642bin(bin, sizeof bin, b64, b64len, NULL, &n, &end,
                          sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0 ||
        end != b64 + b64len)
        return s_token_bad(msg, msg_cap, "it is not base64 (was it cut or copied with spaces?)");
    lt_err_t rc = LT_OK;
    size_t at = 0;
    if (n < S_TOKEN_FIXED) {
        rc = s_token_bad(msg, msg_cap, "it is too short");
    } else if (bin[0] != S_TOKEN_VERSION) {
        rc = s_token_bad(msg, msg_cap, "it is of another version");
    } else {
        at = 1;
        memcpy(out->store.b, bin + at, LT_STORE_ID_LEN);
        at += LT_STORE_ID_LEN;
        memcpy(out->inviter.b, bin + at, LT_KEY_LEN);
        at += LT_KEY_LEN;
        memcpy(out->secret, bin + at, LT_CLIENT_INVITE_SECRET_LEN);
        at += LT_CLIENT_INVITE_SECRET_LEN;
        for (int i = 0; i < 8; i++)
            out->expires_ms |= (uint64_t)bin[at++] << (8 * i);
        out->naddrs = bin[at++];
        if (out->naddrs > LT_CLIENT_INVITE_MAX_ADDRS)
            rc = s_token_bad(msg, msg_cap, "it lists too many addresses");
    }
    for (size_t i = 0; rc == LT_OK && i < out->naddrs; i++) {
        size_t len = at < n ? bin[at++] : 0;
        if (len == 0 || len > n - at || !s_addr_ok((const char *)bin + at, len)) {
            rc = s_token_bad(msg, msg_cap, "an address is cut short or not printable");
        } else {
            memcpy(out->addrs[i], bin + at, len);
            out->addrs[i][len] = '\0';
            at += len;
        }
    }
    if (rc == LT_OK && at != n)
        rc = s_token_bad(msg, msg_cap, "it has bytes after its last field");
    sodium_memzero(bin, sizeof bin);
    if (rc)
        sodium_memzero(out, sizeof *out);
    return rc;
}
