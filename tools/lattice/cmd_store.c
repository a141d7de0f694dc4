/* `lattice store ...`: creating, listing, describing and removing stores,
 * and the REPL's `store use`. */
#include "commands.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

int lt_cli_check_store_create(const lt_cli_t *cli, const lt_cli_call_t *call)
{
    const char *name = call->opt[0], *type_s = call->opt[1], *parent_s = call->opt[2];
    if (type_s && strcmp(type_s, "log") != 0 && strcmp(type_s, "kv") != 0)
        return lt_cli_usage(cli, call->cmd, "--type must be kv or log, not \"%s\"", type_s);
    if (name && strlen(name) > 256)
        return lt_cli_usage(cli, call->cmd, "--name is longer than 256 bytes");
    if (parent_s && !parent_s[0])
        return lt_cli_usage(cli, call->cmd, "--parent needs a STORE");
    return LT_CLI_EXIT_OK;
}

int lt_cli_cmd_store_create(lt_cli_t *cli, const lt_cli_call_t *call)
{
    const char *name = call->opt[0];
    const char *type_s = call->opt[1];
    const char *parent_s = call->opt[2];
    lt_client_store_type_t type =
        type_s && strcmp(type_s, "log") == 0 ? LT_CLIENT_STORE_LOG : LT_CLIENT_STORE_KV;
    lt_client_store_id_t parent;
    if (parent_s) {
        int rc = lt_cli_resolve(cli, parent_s, &parent);
        if (rc != LT_CLI_EXIT_OK)
            return rc;
    }
    int status = 0;
    lt_client_t *c = lt_cli_client(cli, &status);
    if (!c)
        return status;
    lt_client_store_id_t id;
    lt_err_t err = lt_client_store_create(c, type, name, parent_s ? &parent : NULL, &id);
    if (err != LT_OK)
        return lt_cli_fail(cli, err, "store create");
    char hex[33];
    lt_client_hex(id.b, sizeof id.b, hex);
    if (call->json) {
        lt_json_t j;
        lt_json_init(&j, stdout);
        lt_json_begin_object(&j);
        lt_json_field_str(&j, "id", hex);
        lt_json_field_str(&j, "type", lt_cli_type_name(type));
        lt_json_field_str(&j, "name", name ? name : "");
        lt_json_end_object(&j);
        lt_json_end_line(&j);
    } else {
        printf("%s\n", hex);
    }
    return LT_CLI_EXIT_OK;
}

int lt_cli_cmd_store_list(lt_cli_t *cli, const lt_cli_call_t *call)
{
    int status = 0;
    lt_client_t *c = lt_cli_client(cli, &status);
    if (!c)
        return status;
    lt_client_store_t *stores = NULL;
    size_t n = 0;
    lt_err_t err = lt_client_store_list(c, &stores, &n);
    if (err != LT_OK)
        return lt_cli_fail(cli, err, "store list");
    lt_json_t j;
    lt_json_init(&j, stdout);
    if (call->json)
        lt_json_begin_array(&j);
    for (size_t i = 0; i < n; i++) {
        char hex[33];
        lt_client_hex(stores[i].id.b, sizeof stores[i].id.b, hex);
        if (call->json) {
            lt_json_begin_object(&j);
            lt_json_field_str(&j, "id", hex);
            lt_json_field_str(&j, "type", lt_cli_type_name(stores[i].type));
            lt_json_field_str(&j, "name", stores[i].name);
            lt_json_end_object(&j);
        } else {
            printf("%s  %-4s ", hex, lt_cli_type_name(stores[i].type));
            lt_cli_show(stdout, stores[i].name, strlen(stores[i].name), LT_CLI_SHOW_RAW_LINE);
            putchar('\n');
        }
    }
    if (call->json) {
        lt_json_end_array(&j);
        lt_json_end_line(&j);
    }
    lt_client_free(stores);
    return LT_CLI_EXIT_OK;
}

/* How long `store verify` waits without --timeout: a verify answers only at
 * the end, some 60 us a record. */
#define S_VERIFY_TIMEOUT_MS (3600u * 1000)

int lt_cli_cmd_store_verify(lt_cli_t *cli, const lt_cli_call_t *call)
{
    int status = 0;
    lt_client_t *c = lt_cli_client(cli, &status);
    if (!c)
        return status;
    if (!cli->timeout_given)
        lt_client_set_timeout(c, S_VERIFY_TIMEOUT_MS);
    uint64_t records = 0;
    lt_err_t err = lt_client_store_verify(c, &call->store, &records);
    lt_client_set_timeout(c, cli->timeout_ms);
    if (err != LT_OK)
        return lt_cli_fail(cli, err, "store verify %s", call->store_label);
    char hex[33];
    lt_client_hex(call->store.b, sizeof call->store.b, hex);
    if (call->json) {
        lt_json_t j;
        lt_json_init(&j, stdout);
        lt_json_begin_object(&j);
        lt_json_field_str(&j, "id", hex);
        lt_json_field_u64(&j, "records", records);
        lt_json_field_bool(&j, "ok", true);
        lt_json_end_object(&j);
        lt_json_end_line(&j);
        return LT_CLI_EXIT_OK;
    }
    printf("%s: %" PRIu64 " witness records verified: the chain, the index and every "
           "signature\n",
           hex, records);
    return LT_CLI_EXIT_OK;
}

int lt_cli_cmd_store_info(lt_cli_t *cli, const lt_cli_call_t *call)
{
    int status = 0;
    lt_client_t *c = lt_cli_client(cli, &status);
    if (!c)
        return status;
    lt_client_store_info_t info;
    memset(&info, 0, sizeof info);
    lt_err_t err = lt_client_store_info(c, &call->store, &info);
    if (err != LT_OK)
        return lt_cli_fail(cli, err, "store info %s", call->store_label);
    char hex[33];
    lt_client_hex(info.id.b, sizeof info.id.b, hex);
    if (call->json) {
        lt_json_t j;
        lt_json_init(&j, stdout);
        lt_json_begin_object(&j);
        lt_json_field_str(&j, "id", hex);
        lt_json_field_str(&j, "name", info.name);
        lt_json_field_str(&j, "type", lt_cli_type_name(info.type));
        lt_json_field_u64(&j, "witnessed", info.witnessed);
        lt_json_field_u64(&j, "floating", info.floating);
        lt_json_field_u64(&j, "forks", info.forks);
        lt_json_field_u64(&j, "peers", info.peers);
        lt_json_field_u64(&j, "children", info.children);
        lt_json_end_object(&j);
        lt_json_end_line(&j);
        return LT_CLI_EXIT_OK;
    }
    printf("id         %s\n", hex);
    printf("name       ");
    lt_cli_show(stdout, info.name, strlen(info.name), LT_CLI_SHOW_RAW_LINE);
    putchar('\n');
    printf("type       %s\n", lt_cli_type_name(info.type));
    printf("witnessed  %" PRIu64 "\n", info.witnessed);
    printf("floating   %" PRIu64 "\n", info.floating);
    printf("forks      %" PRIu32 "%s\n", info.forks,
           info.forks ? "  (an author key writes from two places: shared or stolen?)" : "");
    printf("peers      %" PRIu32 "\n", info.peers);
    printf("children   %" PRIu32 "\n", info.children);
    return LT_CLI_EXIT_OK;
}

int lt_cli_cmd_store_remove(lt_cli_t *cli, const lt_cli_call_t *call)
{
    int status = 0;
    lt_client_t *c = lt_cli_client(cli, &status);
    if (!c)
        return status;
    lt_err_t err = lt_client_store_remove(c, &call->store);
    if (err != LT_OK)
        return lt_cli_fail(cli, err, "store remove %s", call->store_label);
    if (cli->has_store && memcmp(cli->store.b, call->store.b, sizeof cli->store.b) == 0)
        cli->has_store = false;
    return LT_CLI_EXIT_OK;
}

int lt_cli_check_store_use(const lt_cli_t *cli, const lt_cli_call_t *call)
{
    const lt_cli_arg_t *q = &call->pos[0];
    if (q->len == 0 || memchr(q->s, '\0', q->len))
        return lt_cli_usage(cli, call->cmd, "STORE must be a store id, prefix or name");
    return LT_CLI_EXIT_OK;
}

int lt_cli_cmd_store_use(lt_cli_t *cli, const lt_cli_call_t *call)
{
    const lt_cli_arg_t *q = &call->pos[0];
    lt_client_store_id_t id;
    int rc = lt_cli_resolve(cli, q->s, &id);
    if (rc != LT_CLI_EXIT_OK)
        return rc;
    lt_client_store_info_t info;
    memset(&info, 0, sizeof info);
    lt_err_t err = lt_client_store_info(cli->client, &id, &info);
    if (err != LT_OK)
        return lt_cli_fail(cli, err, "store use %s", q->s);
    cli->store = id;
    cli->has_store = true;
    if (info.name[0]) {
        lt_cli_label(cli->store_label, sizeof cli->store_label, info.name);
    } else {
        char hex[33];
        lt_client_hex(id.b, sizeof id.b, hex);
        snprintf(cli->store_label, sizeof cli->store_label, "%.8s", hex);
    }
    return LT_CLI_EXIT_OK;
}
