/* The peer commands: open an invite (printing its token), list a store's
 * peers, revoke one (DESIGN.md §7). */
#include "commands.h"

#include <sodium.h>

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#define S_TTL_MAX_MS (365ull * 24 * 3600 * 1000) /* the store's bound */

/* A duration: N with a unit s, m, h or d ("30m", "24h", "7d"); a bare N is
 * seconds. False for anything else, zero, or past a year. */
static bool s_parse_ttl(const char *s, uint64_t *ms)
{
    size_t len = strlen(s);
    if (len == 0)
        return false;
    uint64_t unit = 1000;
    char num[32];
    switch (s[len - 1]) {
    case 's':
        len--;
        break;
    case 'm':
        unit = 60 * 1000;
        len--;
        break;
    case 'h':
        unit = 3600 * 1000;
        len--;
        break;
    case 'd':
        unit = 24 * 3600 * 1000;
        len--;
        break;
    default:
        break;
    }
    if (len == 0 || len >= sizeof num)
        return false;
    memcpy(num, s, len);
    num[len] = '\0';
    uint64_t n;
    if (!lt_cli_parse_u64(num, &n) || n == 0 || n > S_TTL_MAX_MS / unit)
        return false;
    *ms = n * unit;
    return true;
}

int lt_cli_check_peer_invite(const lt_cli_t *cli, const lt_cli_call_t *call)
{
    uint64_t ms;
    if (call->opt[0] && !s_parse_ttl(call->opt[0], &ms))
        return lt_cli_usage(cli, call->cmd,
                            "--ttl needs a duration from 1s to 365d such as 30m, 24h or 7d, "
                            "not \"%s\"",
                            call->opt[0]);
    return LT_CLI_EXIT_OK;
}

int lt_cli_cmd_peer_invite(lt_cli_t *cli, const lt_cli_call_t *call)
{
    uint64_t ttl_ms = 0;
    if (call->opt[0] && !s_parse_ttl(call->opt[0], &ttl_ms))
        ttl_ms = 0; /* checked before */
    int rc = 0;
    lt_client_t *c = lt_cli_client(cli, &rc);
    if (!c)
        return rc;
    lt_client_invite_t inv;
    lt_err_t err = lt_client_peer_invite(c, &call->store, ttl_ms, &inv);
    if (err != LT_OK)
        return lt_cli_fail(cli, err, "peer invite %s", call->store_label);
    char token[LT_CLIENT_INVITE_TOKEN_MAX], when[64], hex[33];
    err = lt_client_invite_token_encode(&inv, token, sizeof token);
    if (err != LT_OK) {
        sodium_memzero(&inv, sizeof inv);
        return lt_cli_say(LT_CLI_EXIT_NODE, "peer invite %s: the token cannot be made: %s",
                          call->store_label, lt_strerror(err));
    }
    lt_cli_time(when, sizeof when, inv.expires_ms, call->json);
    if (call->json) {
        lt_client_hex(inv.store.b, sizeof inv.store.b, hex);
        lt_json_t j;
        lt_json_init(&j, stdout);
        lt_json_begin_object(&j);
        lt_json_field_str(&j, "token", token);
        lt_json_field_str(&j, "store", hex);
        lt_json_field_hex(&j, "inviter", inv.inviter.b, sizeof inv.inviter.b);
        lt_json_field_u64(&j, "expires_ms", inv.expires_ms);
        lt_json_field_str(&j, "expires", when);
        lt_json_key(&j, "addresses");
        lt_json_begin_array(&j);
        for (size_t i = 0; i < inv.naddrs; i++)
            lt_json_string(&j, inv.addrs[i]);
        lt_json_end_array(&j);
        lt_json_end_object(&j);
        lt_json_end_line(&j);
    } else {
        printf("%s\n", token);
        fprintf(stderr,
                "lattice: the token works once, until %s UTC; give it to the joining "
                "node only (it is a secret)\n",
                when);
    }
    if (inv.naddrs == 0)
        fprintf(stderr, "lattice: note: this node listens on no address, so a joiner cannot "
                        "reach it: run latticed with --listen tcp://HOST:PORT\n");
    sodium_memzero(&inv, sizeof inv);
    sodium_memzero(token, sizeof token);
    return LT_CLI_EXIT_OK;
}

/* Whether the node has a connected link to key, and when it last heard
 * from it (0: never), from the links in its status. */
static void s_link_state(const lt_client_node_status_t *st, const lt_client_key_t *key,
                         bool *online, uint64_t *last_seen)
{
    *online = false;
    *last_seen = 0;
    for (size_t i = 0; st && i < st->nlinks; i++) {
        const lt_client_link_t *l = &st->links[i];
        if (memcmp(l->key.b, key->b, sizeof key->b) != 0)
            continue;
        *online = *online || l->connected;
        if (l->last_seen_ms > *last_seen)
            *last_seen = l->last_seen_ms;
    }
}

int lt_cli_cmd_peer_list(lt_cli_t *cli, const lt_cli_call_t *call)
{
    int rc = 0;
    lt_client_t *c = lt_cli_client(cli, &rc);
    if (!c)
        return rc;
    lt_client_peer_t *peers = NULL;
    size_t n = 0;
    lt_err_t err = lt_client_peer_list(c, &call->store, &peers, &n);
    if (err != LT_OK)
        return lt_cli_fail(cli, err, "peer list %s", call->store_label);
    static lt_client_node_status_t st; /* large; the CLI runs one command at a time */
    bool have_st = n > 0 && lt_client_node_status(c, &st) == LT_OK;
    char hex[2 * 32 + 1], when[64];
    if (call->json) {
        lt_json_t j;
        lt_json_init(&j, stdout);
        lt_json_begin_array(&j);
        for (size_t i = 0; i < n; i++) {
            bool online;
            uint64_t seen;
            s_link_state(have_st ? &st : NULL, &peers[i].key, &online, &seen);
            lt_json_begin_object(&j);
            lt_json_field_hex(&j, "key", peers[i].key.b, sizeof peers[i].key.b);
            lt_json_field_str(&j, "status", lt_client_peer_state_name(peers[i].state));
            lt_json_field_bool(&j, "online", online);
            lt_json_field_bool(&j, "inherited", peers[i].inherited);
            lt_json_field_bool(
                &j, "self",
                have_st && memcmp(st.node_key.b, peers[i].key.b, sizeof st.node_key.b) == 0);
            lt_json_key(&j, "last_seen_ms");
            if (seen)
                lt_json_u64(&j, seen);
            else
                lt_json_null(&j);
            lt_json_end_object(&j);
        }
        lt_json_end_array(&j);
        lt_json_end_line(&j);
    } else {
        for (size_t i = 0; i < n; i++) {
            bool online;
            uint64_t seen;
            s_link_state(have_st ? &st : NULL, &peers[i].key, &online, &seen);
            lt_client_hex(peers[i].key.b, sizeof peers[i].key.b, hex);
            snprintf(when, sizeof when, "never seen");
            if (seen) {
                char t[48];
                lt_cli_time(t, sizeof t, seen, false);
                snprintf(when, sizeof when, "last seen %s", t);
            }
            bool self = have_st && memcmp(st.node_key.b, peers[i].key.b, sizeof st.node_key.b) == 0;
            /* A child store's peer through its parent says so at the end. */
            const char *inh = peers[i].inherited ? "  inherited" : "";
            if (self)
                printf("%s  %-8s this node%s\n", hex, lt_client_peer_state_name(peers[i].state),
                       inh);
            else
                printf("%s  %-8s %-8s %s%s\n", hex, lt_client_peer_state_name(peers[i].state),
                       online ? "online" : "offline", when, inh);
        }
    }
    lt_client_free(peers);
    return LT_CLI_EXIT_OK;
}

int lt_cli_check_peer_revoke(const lt_cli_t *cli, const lt_cli_call_t *call)
{
    const lt_cli_arg_t *p = &call->pos[0];
    bool hex = p->len >= 4 && p->len <= 2 * 32;
    for (size_t i = 0; hex && i < p->len; i++)
        hex = strchr("0123456789abcdefABCDEF", p->s[i]) && p->s[i] != '\0';
    if (!hex)
        return lt_cli_usage(cli, call->cmd,
                            "PEER must be a node key: 64 hex digits, or a unique prefix of at "
                            "least 4");
    return LT_CLI_EXIT_OK;
}

/* PEER as typed: a whole key, or a prefix unique among the store's peers. */
static int s_resolve_peer(lt_cli_t *cli, lt_client_t *c, const lt_cli_call_t *call,
                          lt_client_key_t *out)
{
    const lt_cli_arg_t *p = &call->pos[0];
    if (p->len == 2 * 32 && lt_client_unhex(p->s, out->b, 32) == 0)
        return LT_CLI_EXIT_OK;
    lt_client_peer_t *peers = NULL;
    size_t n = 0, found = 0;
    lt_err_t err = lt_client_peer_list(c, &call->store, &peers, &n);
    if (err != LT_OK)
        return lt_cli_fail(cli, err, "peer revoke %s", call->store_label);
    char hex[2 * 32 + 1];
    for (size_t i = 0; i < n; i++) {
        lt_client_hex(peers[i].key.b, sizeof peers[i].key.b, hex);
        /* (a key may be listed twice: its own row and an inherited one) */
        if (strncasecmp(hex, p->s, p->len) == 0 &&
            (found == 0 || memcmp(out->b, peers[i].key.b, sizeof out->b) != 0)) {
            if (found++ == 0)
                *out = peers[i].key;
        }
    }
    lt_client_free(peers);
    if (found == 0)
        return lt_cli_say(LT_CLI_EXIT_NOTFOUND, "peer revoke %s: no peer of it starts with %.*s",
                          call->store_label, (int)p->len, p->s);
    if (found > 1)
        return lt_cli_say(LT_CLI_EXIT_USAGE,
                          "peer revoke %s: %zu peers start with %.*s: give more digits",
                          call->store_label, found, (int)p->len, p->s);
    return LT_CLI_EXIT_OK;
}

int lt_cli_cmd_peer_revoke(lt_cli_t *cli, const lt_cli_call_t *call)
{
    int rc = 0;
    lt_client_t *c = lt_cli_client(cli, &rc);
    if (!c)
        return rc;
    lt_client_key_t key;
    rc = s_resolve_peer(cli, c, call, &key);
    if (rc != LT_CLI_EXIT_OK)
        return rc;
    lt_client_hash_t hash;
    lt_err_t err = lt_client_peer_revoke(c, &call->store, &key, &hash);
    if (err != LT_OK) {
        char hex[2 * 32 + 1];
        lt_client_hex(key.b, sizeof key.b, hex);
        return lt_cli_fail(cli, err, "peer revoke %s %.16s", call->store_label, hex);
    }
    lt_cli_print_written(call, &hash);
    return LT_CLI_EXIT_OK;
}

int lt_cli_check_peer_join(const lt_cli_t *cli, const lt_cli_call_t *call)
{
    lt_client_invite_t inv;
    char msg[160];
    const lt_cli_arg_t *t = &call->pos[0];
    int rc = LT_CLI_EXIT_OK;
    if (memchr(t->s, '\0', t->len) ||
        lt_client_invite_token_decode(t->s, &inv, msg, sizeof msg) != LT_OK)
        rc = lt_cli_usage(cli, call->cmd, "%s",
                          memchr(t->s, '\0', t->len) ? "not a valid invite token" : msg);
    sodium_memzero(&inv, sizeof inv);
    return rc;
}

/* "cloning: 1200 / 5000 intentions" on one line of a terminal. */
static void s_clone_progress(void *ctx, uint64_t done, uint64_t total)
{
    (void)ctx;
    fprintf(stderr, "\rlattice: cloning: %" PRIu64 " / %" PRIu64 " intentions", done, total);
    fflush(stderr);
}

int lt_cli_cmd_peer_join(lt_cli_t *cli, const lt_cli_call_t *call)
{
    lt_client_invite_t inv;
    if (lt_client_invite_token_decode(call->pos[0].s, &inv, NULL, 0) != LT_OK)
        return lt_cli_usage(cli, call->cmd, "not a valid invite token"); /* checked before */
    int rc = 0;
    lt_client_t *c = lt_cli_client(cli, &rc);
    if (!c) {
        sodium_memzero(&inv, sizeof inv);
        return rc;
    }
    char store[33], inviter[65];
    lt_client_hex(inv.store.b, sizeof inv.store.b, store);
    lt_client_hex(inv.inviter.b, sizeof inv.inviter.b, inviter);
    if (!call->json && isatty(STDERR_FILENO)) /* progress for a person, not a script */
        fprintf(stderr, "lattice: joining store %.8s at node %.8s (%s)...\n", store, inviter,
                inv.addrs[0]);
    lt_client_store_id_t id;
    lt_client_key_t from = inv.inviter;
    lt_err_t err = lt_client_peer_join(c, &inv, &id);
    sodium_memzero(&inv, sizeof inv);
    if (err != LT_OK)
        return lt_cli_fail(cli, err, "peer join (store %.8s at node %.8s)", store, inviter);
    /* The store's history, from the inviter. */
    bool tty = !call->json && isatty(STDERR_FILENO);
    uint64_t n = 0;
    err = lt_client_clone(c, &id, &from, tty ? s_clone_progress : NULL, NULL, &n);
    if (tty)
        fputc('\n', stderr);
    if (err == LT_ENOTFOUND) /* no sync service on this node */
        return lt_cli_fail(cli, err,
                           "peer join: joined store %.8s, but nothing cloned it (the clone and "
                           "'lattice sync' are the sync service's: run latticed with it)",
                           store);
    if (err != LT_OK)
        return lt_cli_fail(cli, err,
                           "peer join: joined store %.8s, but its clone stopped after %" PRIu64
                           " intentions ('lattice sync %.8s' fetches the rest)",
                           store, n, store);
    if (call->json) {
        lt_json_t j;
        lt_json_init(&j, stdout);
        lt_json_begin_object(&j);
        lt_json_field_str(&j, "store", store);
        lt_json_field_str(&j, "inviter", inviter);
        lt_json_field_u64(&j, "intentions", n);
        lt_json_end_object(&j);
        lt_json_end_line(&j);
    } else {
        printf("%s\n", store);
    }
    return LT_CLI_EXIT_OK;
}

int lt_cli_cmd_sync(lt_cli_t *cli, const lt_cli_call_t *call)
{
    int rc = 0;
    lt_client_t *c = lt_cli_client(cli, &rc);
    if (!c)
        return rc;
    lt_client_sync_peer_t *peers = NULL;
    size_t n = 0, reached = 0;
    lt_err_t err = lt_client_sync(c, &call->store, &peers, &n);
    if (err != LT_OK)
        return lt_cli_fail(cli, err, "sync %s", call->store_label);
    char hex[2 * 32 + 1];
    if (call->json) {
        lt_json_t j;
        lt_json_init(&j, stdout);
        lt_json_begin_array(&j);
        for (size_t i = 0; i < n; i++) {
            lt_json_begin_object(&j);
            lt_json_field_hex(&j, "peer", peers[i].peer.b, sizeof peers[i].peer.b);
            lt_json_field_bool(&j, "reached", peers[i].reached);
            lt_json_field_str(&j, "error", peers[i].error);
            lt_json_key(&j, "received");
            lt_json_u64(&j, peers[i].received);
            lt_json_key(&j, "peer_lacks");
            lt_json_u64(&j, peers[i].peer_lacks);
            lt_json_key(&j, "rounds");
            lt_json_u64(&j, peers[i].rounds);
            lt_json_key(&j, "bytes");
            lt_json_u64(&j, peers[i].bytes);
            lt_json_end_object(&j);
        }
        lt_json_end_array(&j);
        lt_json_end_line(&j);
    }
    for (size_t i = 0; i < n; i++) {
        reached += peers[i].reached && !peers[i].error[0];
        if (call->json)
            continue;
        lt_client_hex(peers[i].peer.b, sizeof peers[i].peer.b, hex);
        if (peers[i].reached && !peers[i].error[0])
            printf("%s  received %llu, peer lacked %llu (%u rounds, %llu bytes)\n", hex,
                   (unsigned long long)peers[i].received, (unsigned long long)peers[i].peer_lacks,
                   (unsigned)peers[i].rounds, (unsigned long long)peers[i].bytes);
        else
            printf("%s  not synced: %s\n", hex, peers[i].error);
    }
    if (!call->json && n == 0)
        printf("no other peer holds this store\n");
    lt_client_free(peers);
    if (n > 0 && reached == 0)
        return lt_cli_say(LT_CLI_EXIT_NODE, "sync %s: no peer could be reached", call->store_label);
    return LT_CLI_EXIT_OK;
}
