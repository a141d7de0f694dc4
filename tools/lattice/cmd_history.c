/* Looking at intentions: `history` draws the DAG (layout in dag.c), `debug`
 * prints one intention as an S-expression with its ops decoded. */
#include "commands.h"
#include "dag.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

/* How far back `debug` looks for an intention named by a hash prefix. */
#define S_PREFIX_WINDOW 1000

/* Server-made text (a summary) on one line: control characters become '?'. */
static void s_put_line_text(const char *s)
{
    for (; *s; s++)
        putchar((unsigned char)*s < 0x20 || *s == 0x7F ? '?' : *s);
}

/* store_prev (when not zero) then deps: the parents the graph follows. */
static size_t s_parents(const lt_client_history_item_t *it, uint8_t *out)
{
    size_t n = 0;
    if (!lt_cli_is_zero(it->store_prev.b, sizeof it->store_prev.b))
        memcpy(out + 32 * n++, it->store_prev.b, 32);
    for (size_t d = 0; d < it->ndeps && d < 16; d++)
        memcpy(out + 32 * n++, it->deps[d].b, 32);
    return n;
}

static void s_history_json(const lt_client_history_item_t *items, size_t n)
{
    lt_json_t j;
    lt_json_init(&j, stdout);
    lt_json_begin_array(&j);
    for (size_t i = 0; i < n; i++) {
        const lt_client_history_item_t *it = &items[i];
        char time[48];
        lt_cli_time(time, sizeof time, it->wall_ms, true);
        lt_json_begin_object(&j);
        lt_json_field_u64(&j, "seq", it->seq);
        lt_json_field_hex(&j, "hash", it->hash.b, 32);
        lt_json_field_hex(&j, "author", it->author.b, 32);
        lt_json_field_u64(&j, "wall_ms", it->wall_ms);
        lt_json_field_u64(&j, "counter", it->counter);
        lt_json_field_str(&j, "time", time);
        lt_json_key(&j, "store_prev");
        if (lt_cli_is_zero(it->store_prev.b, 32))
            lt_json_null(&j);
        else
            lt_json_hex(&j, it->store_prev.b, 32);
        lt_json_key(&j, "deps");
        lt_json_begin_array(&j);
        for (size_t d = 0; d < it->ndeps && d < 16; d++)
            lt_json_hex(&j, it->deps[d].b, 32);
        lt_json_end_array(&j);
        lt_json_field_str(&j, "summary", it->summary);
        lt_json_end_object(&j);
    }
    lt_json_end_array(&j);
    lt_json_end_line(&j);
}

int lt_cli_check_history(const lt_cli_t *cli, const lt_cli_call_t *call)
{
    uint32_t limit;
    if (call->opt[0] && (!lt_cli_parse_u32(call->opt[0], &limit) || limit == 0))
        return lt_cli_usage(cli, call->cmd, "--limit needs a whole number above 0, not \"%s\"",
                            call->opt[0]);
    return LT_CLI_EXIT_OK;
}

int lt_cli_cmd_history(lt_cli_t *cli, const lt_cli_call_t *call)
{
    uint32_t limit = 50;
    if (call->opt[0] && !lt_cli_parse_u32(call->opt[0], &limit))
        limit = 50; /* checked before */
    int rc = 0;
    lt_client_t *c = lt_cli_client(cli, &rc);
    if (!c)
        return rc;
    lt_client_history_item_t *items = NULL;
    size_t n = 0;
    lt_err_t err = lt_client_history(c, &call->store, limit, &items, &n);
    if (err != LT_OK)
        return lt_cli_fail(cli, err, "history %s", call->store_label);
    if (call->json) {
        s_history_json(items, n);
        lt_client_free(items);
        return LT_CLI_EXIT_OK;
    }
    lt_dag_node_t *nodes = calloc(n ? n : 1, sizeof *nodes);
    uint8_t *parents = malloc((n ? n : 1) * 17 * 32);
    lt_dag_row_t *rows = NULL;
    for (size_t i = 0; nodes && parents && i < n; i++) {
        nodes[i].hash = items[i].hash.b;
        nodes[i].parents = parents + i * 17 * 32;
        nodes[i].nparents = s_parents(&items[i], parents + i * 17 * 32);
    }
    if (!nodes || !parents || lt_dag_layout(nodes, n, &rows) != LT_OK) {
        free(nodes);
        free(parents);
        lt_client_free(items);
        return lt_cli_say(LT_CLI_EXIT_FAILED, "history: out of memory");
    }
    for (size_t i = 0; i < n; i++) {
        const lt_client_history_item_t *it = &items[i];
        char hs[9], as[9], time[48];
        lt_cli_short(hs, it->hash.b);
        lt_cli_short(as, it->author.b);
        lt_cli_time(time, sizeof time, it->wall_ms, false);
        printf("%s%s %s %s #%" PRIu32 "  ", rows[i].node, hs, as, time, it->counter);
        s_put_line_text(it->summary);
        putchar('\n');
        if (rows[i].after)
            printf("%s\n", rows[i].after);
    }
    lt_dag_rows_free(&rows, n);
    free(nodes);
    free(parents);
    lt_client_free(items);
    return LT_CLI_EXIT_OK;
}

/* ---- debug ---- */

static bool s_all_hex(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!isxdigit((unsigned char)s[i]))
            return false;
    return true;
}

/* HASH as typed -> a full hash: 64 hex digits, or a unique prefix among the
 * last S_PREFIX_WINDOW intentions. Returns an exit code. */
int lt_cli_check_debug(const lt_cli_t *cli, const lt_cli_call_t *call)
{
    const lt_cli_arg_t *a = &call->pos[0];
    if (a->len < 4 || a->len > 64 || !s_all_hex(a->s, a->len))
        return lt_cli_usage(cli, call->cmd,
                            "HASH must be 64 hex digits or a prefix of at least 4 of them");
    return LT_CLI_EXIT_OK;
}

static int s_find_hash(lt_cli_t *cli, const lt_cli_call_t *call, lt_client_hash_t *out)
{
    const lt_cli_arg_t *a = &call->pos[0];
    char want[65];
    for (size_t i = 0; i < a->len; i++)
        want[i] = (char)tolower((unsigned char)a->s[i]);
    want[a->len] = '\0';
    if (a->len == 64) {
        lt_err_t err = lt_client_unhex(want, out->b, sizeof out->b);
        return err == LT_OK ? LT_CLI_EXIT_OK
                            : lt_cli_usage(cli, call->cmd, "HASH is not valid hex");
    }
    int rc = 0;
    lt_client_t *c = lt_cli_client(cli, &rc);
    if (!c)
        return rc;
    lt_client_history_item_t *items = NULL;
    size_t n = 0;
    lt_err_t err = lt_client_history(c, &call->store, S_PREFIX_WINDOW, &items, &n);
    if (err != LT_OK)
        return lt_cli_fail(cli, err, "debug %s in %s", want, call->store_label);
    size_t found = 0;
    for (size_t i = 0; i < n; i++) {
        char hex[65];
        lt_client_hex(items[i].hash.b, 32, hex);
        if (strncmp(hex, want, a->len) == 0 && found++ == 0)
            *out = items[i].hash;
    }
    lt_client_free(items);
    if (found == 0)
        return lt_cli_say(LT_CLI_EXIT_NOTFOUND,
                          "debug %s in %s: no intention among the last %d starts with it "
                          "(give the full hash)",
                          want, call->store_label, S_PREFIX_WINDOW);
    if (found > 1)
        return lt_cli_say(LT_CLI_EXIT_USAGE,
                          "debug %s in %s: %zu intentions start with it; give more digits", want,
                          call->store_label, found);
    return LT_CLI_EXIT_OK;
}

static void s_sx_hex(const char *name, const uint8_t *b, size_t n)
{
    char hex[129];
    lt_client_hex(b, n, hex);
    printf("  (%s \"%s\")\n", name, hex);
}

static void s_debug_json(const lt_client_intention_t *in, const char *ops)
{
    char time[48];
    lt_cli_time(time, sizeof time, in->wall_ms, true);
    lt_json_t j;
    lt_json_init(&j, stdout);
    lt_json_begin_object(&j);
    lt_json_field_hex(&j, "hash", in->hash.b, 32);
    lt_json_field_u64(&j, "version", in->version);
    lt_json_field_hex(&j, "author", in->author.b, 32);
    lt_json_field_u64(&j, "wall_ms", in->wall_ms);
    lt_json_field_u64(&j, "counter", in->counter);
    lt_json_field_str(&j, "time", time);
    lt_json_field_hex(&j, "store", in->store.b, 16);
    lt_json_key(&j, "store_prev");
    if (lt_cli_is_zero(in->store_prev.b, 32))
        lt_json_null(&j);
    else
        lt_json_hex(&j, in->store_prev.b, 32);
    lt_json_key(&j, "deps");
    lt_json_begin_array(&j);
    for (size_t d = 0; d < in->ndeps && d < 16; d++)
        lt_json_hex(&j, in->deps[d].b, 32);
    lt_json_end_array(&j);
    lt_json_field_u64(&j, "seq", in->seq);
    lt_json_field_str(&j, "summary", in->summary);
    lt_json_field_hex(&j, "signature", in->signature, sizeof in->signature);
    lt_json_key(&j, "ops");
    if (ops)
        lt_json_string(&j, ops);
    else
        lt_json_null(&j);
    lt_json_field_hex(&j, "ops_hex", in->ops, in->ops_len);
    lt_json_end_object(&j);
    lt_json_end_line(&j);
}

int lt_cli_cmd_debug(lt_cli_t *cli, const lt_cli_call_t *call)
{
    lt_client_hash_t hash;
    int rc = s_find_hash(cli, call, &hash);
    if (rc != LT_CLI_EXIT_OK)
        return rc;
    lt_client_t *c = lt_cli_client(cli, &rc);
    if (!c)
        return rc;
    char hex[65];
    lt_client_hex(hash.b, 32, hex);
    lt_client_intention_t in;
    memset(&in, 0, sizeof in);
    lt_err_t err = lt_client_debug(c, &call->store, &hash, &in);
    if (err != LT_OK)
        return lt_cli_fail(cli, err, "debug %s in %s", hex, call->store_label);
    char *ops = NULL;
    if (lt_client_ops_sexpr(in.ops, in.ops_len, in.store_type, &ops) != LT_OK) {
        free(ops);
        ops = NULL;
        lt_cli_say(0, "debug %.8s: note: the ops payload does not decode; shown as bytes", hex);
    }
    if (call->json) {
        s_debug_json(&in, ops);
    } else {
        printf("(intention\n");
        s_sx_hex("hash", in.hash.b, 32);
        printf("  (version %" PRIu32 ")\n", in.version);
        s_sx_hex("author", in.author.b, 32);
        printf("  (hlc %" PRIu64 " %" PRIu32 ")\n", in.wall_ms, in.counter);
        s_sx_hex("store", in.store.b, 16);
        if (lt_cli_is_zero(in.store_prev.b, 32))
            printf("  (store-prev nil)\n");
        else
            s_sx_hex("store-prev", in.store_prev.b, 32);
        printf("  (deps");
        for (size_t d = 0; d < in.ndeps && d < 16; d++) {
            char dh[65];
            lt_client_hex(in.deps[d].b, 32, dh);
            printf(" \"%s\"", dh);
        }
        printf(")\n");
        printf("  (seq %" PRIu64 ")\n", in.seq);
        printf("  (summary ");
        lt_cli_show(stdout, in.summary, strlen(in.summary), LT_CLI_SHOW_QUOTED);
        printf(")\n");
        s_sx_hex("signature", in.signature, sizeof in.signature);
        printf("  (ops ");
        if (ops) {
            s_put_line_text(ops);
        } else {
            fputs("#x", stdout);
            for (size_t i = 0; i < in.ops_len; i++)
                printf("%02x", in.ops[i]);
        }
        printf("))\n");
    }
    free(ops);
    lt_client_intention_clear(&in);
    return LT_CLI_EXIT_OK;
}
