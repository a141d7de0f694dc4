/* Fuzz target: the reply and event decoders of liblattice-client
 * (ipc/client_decode.h). The first byte picks the decoder (and, for those
 * that answer a request, what was asked), the rest is the body. A decoder
 * must reject what does not decode with LT_EINVAL and a "malformed" line,
 * hand back nothing on failure, and on success results whose lengths match
 * their owned, NUL-terminated copies; nothing may crash or leak. */
#include "ipc/client_decode.h"

#include "store.pb.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The key and the intention hash the fuzzed replies answer for (the seeds
 * in corpus/client_reply/ use them). */
#define S_KEY       "key"
#define S_HASH_BYTE 0xab

enum {
    S_NODE_STATUS,
    S_SERVICES,
    S_PIDS,
    S_ERROR,
    S_STORE_CREATED,
    S_STORE_REF,
    S_STORE_LIST,
    S_STORE_INFO,
    S_WRITTEN,
    S_ITEM,
    S_ITEMS,
    S_HEADS,
    S_LOG_ENTRIES,
    S_LOG_TAIL,
    S_EV_CHANGE,
    S_EV_LOG,
    S_EV_MISMATCH,
    S_HISTORY,
    S_HISTORY_LIMIT,
    S_INTENTION,
    S_INVITED,
    S_PEER_LIST,
    S_INVITE_TOKEN,
    S_SYNC_REPORT,
    S_STORE_VERIFIED,
    S_DECODERS
};

/* Reads every byte of an owned copy, and its terminating NUL. */
static void s_check_copy(const uint8_t *p, size_t len)
{
    if (!p || p[len] != '\0')
        abort();
    volatile uint8_t sink = 0;
    for (size_t i = 0; i < len; i++)
        sink ^= p[i];
    (void)sink;
}

static void s_check_str(const char *s, size_t cap)
{
    if (strnlen(s, cap) >= cap)
        abort();
}

/* The contract of a failure: LT_EINVAL with a line saying so, or LT_ENOMEM. */
static void s_check_failure(lt_err_t rc, const lt_errbuf_t *eb)
{
    s_check_str(eb->msg, sizeof eb->msg);
    if (rc == LT_ENOMEM)
        return;
    if (rc != LT_EINVAL || !strstr(eb->msg, "malformed"))
        abort();
}

static void s_check_service(const lt_client_service_t *s)
{
    s_check_str(s->name, sizeof s->name);
    s_check_str(s->last_exit, sizeof s->last_exit);
    if (s->name[0] == '\0')
        abort();
}

static void s_check_log_entry(const lt_client_log_entry_t *e)
{
    s_check_copy(e->text, e->text_len);
}

static lt_err_t s_node(const uint8_t *body, size_t len, lt_errbuf_t *eb)
{
    lt_client_node_status_t st;
    lt_err_t rc = lt_client_decode_node_status(body, len, &st, eb);
    if (rc)
        return rc;
    s_check_str(st.home, sizeof st.home);
    s_check_str(st.version, sizeof st.version);
    if (st.nservices > sizeof st.services / sizeof st.services[0])
        abort();
    for (size_t i = 0; i < st.nservices; i++)
        s_check_service(&st.services[i]);
    return LT_OK;
}

static lt_err_t s_services(const uint8_t *body, size_t len, lt_errbuf_t *eb)
{
    /* Fewer slots than a list may hold, so the cap is exercised. */
    lt_client_service_t sv[4];
    size_t n = 99;
    lt_err_t rc = lt_client_decode_services(body, len, sv, 4, &n, eb);
    if (rc) {
        if (n != 0)
            abort();
        return rc;
    }
    for (size_t i = 0; i < n && i < 4; i++)
        s_check_service(&sv[i]);
    return LT_OK;
}

static void s_error(const uint8_t *body, size_t len)
{
    /* Smaller than a message may be, so truncation is exercised. */
    char msg[16];
    bool has = lt_client_decode_error(body, len, msg, sizeof msg);
    s_check_str(msg, sizeof msg);
    if (has != (msg[0] != '\0'))
        abort();
}

static lt_err_t s_store_list(const uint8_t *body, size_t len, lt_errbuf_t *eb)
{
    lt_client_store_t *v = (lt_client_store_t *)1;
    size_t n = 99;
    lt_err_t rc = lt_client_decode_store_list(body, len, &v, &n, eb);
    if (rc) {
        if (v || n)
            abort();
        return rc;
    }
    if ((n == 0) != (v == NULL))
        abort();
    for (size_t i = 0; i < n; i++) {
        s_check_str(v[i].name, sizeof v[i].name);
        if (v[i].type != LT_CLIENT_STORE_KV && v[i].type != LT_CLIENT_STORE_LOG)
            abort();
    }
    lt_client_free(v);
    return LT_OK;
}

static lt_err_t s_store_info(const uint8_t *body, size_t len, lt_errbuf_t *eb)
{
    lt_client_store_info_t info;
    lt_err_t rc = lt_client_decode_store_info(body, len, &info, eb);
    if (rc)
        return rc;
    s_check_str(info.name, sizeof info.name);
    if (info.type != LT_CLIENT_STORE_KV && info.type != LT_CLIENT_STORE_LOG)
        abort();
    return LT_OK;
}

static void s_check_item(const lt_client_item_t *it)
{
    if (it->key_len == 0)
        abort();
    s_check_copy(it->key, it->key_len);
    s_check_copy(it->value, it->value_len);
}

static lt_err_t s_item(const uint8_t *body, size_t len, lt_errbuf_t *eb)
{
    lt_client_item_t it;
    lt_err_t rc = lt_client_decode_item(body, len, &it, eb);
    if (rc) {
        if (it.key || it.value)
            abort();
        return rc;
    }
    s_check_item(&it);
    lt_client_item_clear(&it);
    return LT_OK;
}

static lt_err_t s_items(const uint8_t *body, size_t len, lt_errbuf_t *eb)
{
    lt_client_item_t *v = (lt_client_item_t *)1;
    size_t n = 99;
    lt_err_t rc = lt_client_decode_items(body, len, &v, &n, eb);
    if (rc) {
        if (v || n)
            abort();
        return rc;
    }
    if ((n == 0) != (v == NULL))
        abort();
    for (size_t i = 0; i < n; i++)
        s_check_item(&v[i]);
    lt_client_items_free(v, n);
    return LT_OK;
}

static lt_err_t s_heads(const uint8_t *body, size_t len, lt_errbuf_t *eb)
{
    lt_client_head_t *v = (lt_client_head_t *)1;
    size_t n = 99;
    lt_err_t rc = lt_client_decode_heads(body, len, S_KEY, strlen(S_KEY), &v, &n, eb);
    if (rc) {
        if (v || n)
            abort();
        return rc;
    }
    if (n == 0 || !v)
        abort();
    for (size_t i = 0; i < n; i++)
        s_check_copy(v[i].value, v[i].value_len);
    lt_client_heads_free(v, n);
    return LT_OK;
}

static lt_err_t s_log_entries(const uint8_t *body, size_t len, uint64_t tail, lt_errbuf_t *eb)
{
    lt_client_log_entry_t *v = (lt_client_log_entry_t *)1;
    size_t n = 99;
    lt_err_t rc = lt_client_decode_log_entries(body, len, tail, &v, &n, eb);
    if (rc) {
        if (v || n)
            abort();
        return rc;
    }
    if ((n == 0) != (v == NULL) || (tail && n > tail))
        abort();
    for (size_t i = 0; i < n; i++)
        s_check_log_entry(&v[i]);
    lt_client_log_entries_free(v, n);
    return LT_OK;
}

static lt_err_t s_event(uint32_t type, int kind, const uint8_t *body, size_t len, lt_errbuf_t *eb)
{
    lt_client_event_t ev;
    lt_err_t rc = lt_client_decode_event(type, kind, body, len, &ev, eb);
    if (rc) {
        if (ev.key || ev.value || ev.entry.text || ev.kind)
            abort();
        return rc;
    }
    if (ev.kind != kind || ev.stream != 0)
        abort();
    if (kind == LT_CLIENT_EV_KV_CHANGE) {
        if (ev.key_len == 0 || ev.entry.text)
            abort();
        s_check_copy(ev.key, ev.key_len);
        s_check_copy(ev.value, ev.value_len);
    } else {
        if (ev.key || ev.value || memcmp(ev.hash.b, ev.entry.hash.b, sizeof ev.hash.b) != 0)
            abort();
        s_check_log_entry(&ev.entry);
    }
    lt_client_event_clear(&ev);
    return LT_OK;
}

static lt_err_t s_history(const uint8_t *body, size_t len, uint32_t limit, lt_errbuf_t *eb)
{
    lt_client_history_item_t *v = (lt_client_history_item_t *)1;
    size_t n = 99;
    lt_err_t rc = lt_client_decode_history(body, len, limit, &v, &n, eb);
    if (rc) {
        if (v || n)
            abort();
        return rc;
    }
    if ((n == 0) != (v == NULL) || (limit && n > limit))
        abort();
    for (size_t i = 0; i < n; i++) {
        s_check_str(v[i].summary, sizeof v[i].summary);
        if (v[i].ndeps > sizeof v[i].deps / sizeof v[i].deps[0])
            abort();
    }
    lt_client_free(v);
    return LT_OK;
}

static lt_err_t s_intention(const uint8_t *body, size_t len, lt_errbuf_t *eb)
{
    lt_client_hash_t hash;
    memset(hash.b, S_HASH_BYTE, sizeof hash.b);
    lt_client_intention_t in;
    lt_err_t rc = lt_client_decode_intention(body, len, &hash, &in, eb);
    if (rc) {
        if (in.ops)
            abort();
        return rc;
    }
    if (memcmp(in.hash.b, hash.b, sizeof hash.b) != 0 || in.store_type != 0 ||
        in.ndeps > sizeof in.deps / sizeof in.deps[0])
        abort();
    s_check_str(in.summary, sizeof in.summary);
    s_check_copy(in.ops, in.ops_len);
    lt_client_intention_clear(&in);
    return LT_OK;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    const uint8_t *body = data + 1;
    size_t len = size - 1;
    lt_errbuf_t eb = {""};
    lt_err_t rc = LT_OK;
    lt_client_store_id_t id;
    uint32_t pid, service_pid;
    switch (data[0] % S_DECODERS) {
    case S_NODE_STATUS:
        rc = s_node(body, len, &eb);
        break;
    case S_SERVICES:
        rc = s_services(body, len, &eb);
        break;
    case S_PIDS:
        (void)lt_client_decode_pids(body, len, "store", &pid, &service_pid);
        break;
    case S_ERROR:
        s_error(body, len);
        break;
    case S_STORE_CREATED:
        rc = lt_client_decode_store_created(body, len, &id, &eb);
        break;
    case S_STORE_REF:
        rc = lt_client_decode_store_ref(body, len, &id, &eb);
        break;
    case S_STORE_LIST:
        rc = s_store_list(body, len, &eb);
        break;
    case S_STORE_INFO:
        rc = s_store_info(body, len, &eb);
        break;
    case S_STORE_VERIFIED: {
        uint64_t records;
        rc = lt_client_decode_store_verified(body, len, &records, &eb);
        break;
    }
    case S_WRITTEN: {
        lt_client_hash_t hash;
        rc = lt_client_decode_written(body, len, len % 2 ? &hash : NULL, &eb);
        break;
    }
    case S_ITEM:
        rc = s_item(body, len, &eb);
        break;
    case S_ITEMS:
        rc = s_items(body, len, &eb);
        break;
    case S_HEADS:
        rc = s_heads(body, len, &eb);
        break;
    case S_LOG_ENTRIES:
        rc = s_log_entries(body, len, 0, &eb);
        break;
    case S_LOG_TAIL:
        rc = s_log_entries(body, len, 2, &eb);
        break;
    case S_EV_CHANGE:
        rc = s_event(lattice_store_StoreMsgType_KV_CHANGE, LT_CLIENT_EV_KV_CHANGE, body, len, &eb);
        break;
    case S_EV_LOG:
        rc = s_event(lattice_store_StoreMsgType_LOG_ENTRY, LT_CLIENT_EV_LOG_ENTRY, body, len, &eb);
        break;
    case S_EV_MISMATCH:
        /* An event of the other kind than its stream: always refused. */
        rc = s_event(lattice_store_StoreMsgType_LOG_ENTRY, LT_CLIENT_EV_KV_CHANGE, body, len, &eb);
        if (rc == LT_OK)
            abort();
        break;
    case S_HISTORY:
        rc = s_history(body, len, 0, &eb);
        break;
    case S_HISTORY_LIMIT:
        rc = s_history(body, len, 2, &eb);
        break;
    case S_INTENTION:
        rc = s_intention(body, len, &eb);
        break;
    case S_INVITED: {
        lt_client_invite_t inv;
        memset(&inv, 0, sizeof inv);
        rc = lt_client_decode_invited(body, len, &inv, &eb);
        break;
    }
    case S_PEER_LIST: {
        lt_client_peer_t *peers = NULL;
        size_t n = 0;
        rc = lt_client_decode_peer_list(body, len, &peers, &n, &eb);
        if (rc == LT_OK) {
            for (size_t i = 0; i < n; i++)
                if (peers[i].state < LT_CLIENT_PEER_UNSET ||
                    peers[i].state > LT_CLIENT_PEER_DORMANT)
                    abort();
        } else if (peers || n) {
            abort();
        }
        lt_client_free(peers);
        break;
    }
    case S_SYNC_REPORT: {
        lt_client_sync_peer_t *v = NULL;
        size_t n = 0;
        rc = lt_client_decode_sync_report(body, len, &v, &n, &eb);
        if (rc == LT_OK) {
            for (size_t i = 0; i < n; i++)
                s_check_str(v[i].error, sizeof v[i].error);
        } else if (v || n) {
            abort();
        }
        lt_client_free(v);
        break;
    }
    case S_INVITE_TOKEN: {
        /* A token is text: the body up to its first NUL. A decoded token
         * encodes back to the same text (one form per invite). */
        char *text = malloc(len + 1), msg[160], again[LT_CLIENT_INVITE_TOKEN_MAX];
        if (!text)
            return 0;
        memcpy(text, body, len);
        text[len] = '\0';
        lt_client_invite_t inv;
        lt_err_t trc = lt_client_invite_token_decode(text, &inv, msg, sizeof msg);
        if (trc == LT_OK) {
            if (inv.naddrs > LT_CLIENT_INVITE_MAX_ADDRS ||
                lt_client_invite_token_encode(&inv, again, sizeof again) != LT_OK ||
                strcmp(again, text) != 0)
                abort();
        } else if (trc != LT_EINVAL || !strstr(msg, "not a valid invite token")) {
            abort();
        }
        free(text);
        return 0;
    }
    default:
        abort();
    }
    if (rc)
        s_check_failure(rc, &eb);
    return 0;
}
