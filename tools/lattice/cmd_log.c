/* The log commands (core:logstore): append, read, follow. */
#include "commands.h"

#include <inttypes.h>
#include <string.h>

int lt_cli_cmd_append(lt_cli_t *cli, const lt_cli_call_t *call)
{
    const lt_cli_arg_t *text = &call->pos[0];
    int rc = 0;
    lt_client_t *c = lt_cli_client(cli, &rc);
    if (!c)
        return rc;
    lt_client_hash_t hash;
    lt_err_t err = lt_client_append(c, &call->store, text->s, text->len, &hash);
    if (err != LT_OK)
        return lt_cli_fail(cli, err, "append to %s", call->store_label);
    lt_cli_print_written(call, &hash);
    return LT_CLI_EXIT_OK;
}

static void s_entry_json(lt_json_t *j, const lt_client_log_entry_t *e, const uint8_t *store)
{
    char time[48];
    lt_cli_time(time, sizeof time, e->wall_ms, true);
    lt_json_begin_object(j);
    if (store)
        lt_json_field_hex(j, "store", store, 16);
    lt_json_field_u64(j, "wall_ms", e->wall_ms);
    lt_json_field_u64(j, "counter", e->counter);
    lt_json_field_str(j, "time", time);
    lt_json_field_hex(j, "author", e->author.b, sizeof e->author.b);
    lt_json_field_hex(j, "hash", e->hash.b, sizeof e->hash.b);
    lt_json_field_bytes(j, "text", e->text, e->text_len);
    lt_json_end_object(j);
}

static void s_entry_line(const lt_client_log_entry_t *e)
{
    char time[48], as[9];
    lt_cli_time(time, sizeof time, e->wall_ms, false);
    lt_cli_short(as, e->author.b);
    printf("%s  %s  ", time, as);
    lt_cli_show(stdout, e->text, e->text_len, LT_CLI_SHOW_LINE);
    putchar('\n');
}

int lt_cli_check_read(const lt_cli_t *cli, const lt_cli_call_t *call)
{
    uint64_t tail;
    if (call->opt[0] && !lt_cli_parse_u64(call->opt[0], &tail))
        return lt_cli_usage(cli, call->cmd, "--tail needs a whole number, not \"%s\"",
                            call->opt[0]);
    return LT_CLI_EXIT_OK;
}

int lt_cli_cmd_read(lt_cli_t *cli, const lt_cli_call_t *call)
{
    uint64_t tail = 0;
    if (call->opt[0] && !lt_cli_parse_u64(call->opt[0], &tail))
        tail = 0; /* checked before */
    int rc = 0;
    lt_client_t *c = lt_cli_client(cli, &rc);
    if (!c)
        return rc;
    lt_client_log_entry_t *entries = NULL;
    size_t n = 0;
    lt_err_t err = lt_client_read(c, &call->store, tail, &entries, &n);
    if (err != LT_OK)
        return lt_cli_fail(cli, err, "read %s", call->store_label);
    /* --tail 0 means none here, while the protocol's 0 means all. */
    size_t from = call->opt[0] && tail == 0 ? n : 0;
    lt_json_t j;
    lt_json_init(&j, stdout);
    if (call->json)
        lt_json_begin_array(&j);
    for (size_t i = from; i < n; i++) {
        if (call->json)
            s_entry_json(&j, &entries[i], NULL);
        else
            s_entry_line(&entries[i]);
    }
    if (call->json) {
        lt_json_end_array(&j);
        lt_json_end_line(&j);
    }
    lt_client_log_entries_free(entries, n);
    return LT_CLI_EXIT_OK;
}

static lt_err_t s_follow_start(lt_client_t *c, const lt_cli_call_t *call, uint64_t *stream)
{
    return lt_client_follow(c, &call->store, stream);
}

static void s_print_entry(const lt_cli_call_t *call, const lt_client_event_t *ev)
{
    if (call->json) {
        lt_json_t j;
        lt_json_init(&j, stdout);
        s_entry_json(&j, &ev->entry, ev->store.b);
        lt_json_end_line(&j);
        return;
    }
    s_entry_line(&ev->entry);
    fflush(stdout);
}

int lt_cli_cmd_follow(lt_cli_t *cli, const lt_cli_call_t *call)
{
    static const lt_cli_stream_t spec = {"follow", s_follow_start, s_print_entry};
    return lt_cli_stream_run(cli, call, &spec);
}
