/* The handlers behind the command table (commands.c), one file per area:
 * cmd_node.c, cmd_store.c, cmd_kv.c, cmd_log.c, cmd_history.c. Each takes
 * a parsed call (STORE already resolved) and returns the exit code. */
#ifndef LT_CLI_COMMANDS_H
#define LT_CLI_COMMANDS_H

#include "cli.h"
#include "json.h"

int lt_cli_help_command(lt_cli_t *cli, size_t argc, const lt_cli_arg_t *argv);
int lt_cli_cmd_help(lt_cli_t *cli, const lt_cli_call_t *call);

/* Argument checks (lt_cli_cmd_t.check). */
int lt_cli_check_key(const lt_cli_t *cli, const lt_cli_call_t *call);
int lt_cli_check_node_restart(const lt_cli_t *cli, const lt_cli_call_t *call);
int lt_cli_check_store_create(const lt_cli_t *cli, const lt_cli_call_t *call);
int lt_cli_check_store_use(const lt_cli_t *cli, const lt_cli_call_t *call);
int lt_cli_check_read(const lt_cli_t *cli, const lt_cli_call_t *call);
int lt_cli_check_history(const lt_cli_t *cli, const lt_cli_call_t *call);
int lt_cli_check_debug(const lt_cli_t *cli, const lt_cli_call_t *call);
int lt_cli_check_peer_invite(const lt_cli_t *cli, const lt_cli_call_t *call);
int lt_cli_check_peer_revoke(const lt_cli_t *cli, const lt_cli_call_t *call);
int lt_cli_check_peer_join(const lt_cli_t *cli, const lt_cli_call_t *call);

int lt_cli_cmd_node_status(lt_cli_t *cli, const lt_cli_call_t *call);
int lt_cli_cmd_node_services(lt_cli_t *cli, const lt_cli_call_t *call);
int lt_cli_cmd_node_restart(lt_cli_t *cli, const lt_cli_call_t *call);
int lt_cli_cmd_node_stop(lt_cli_t *cli, const lt_cli_call_t *call);

int lt_cli_cmd_store_create(lt_cli_t *cli, const lt_cli_call_t *call);
int lt_cli_cmd_store_list(lt_cli_t *cli, const lt_cli_call_t *call);
int lt_cli_cmd_store_info(lt_cli_t *cli, const lt_cli_call_t *call);
int lt_cli_cmd_store_remove(lt_cli_t *cli, const lt_cli_call_t *call);
int lt_cli_cmd_store_verify(lt_cli_t *cli, const lt_cli_call_t *call);
int lt_cli_cmd_store_use(lt_cli_t *cli, const lt_cli_call_t *call);

int lt_cli_cmd_put(lt_cli_t *cli, const lt_cli_call_t *call);
int lt_cli_cmd_get(lt_cli_t *cli, const lt_cli_call_t *call);
int lt_cli_cmd_del(lt_cli_t *cli, const lt_cli_call_t *call);
int lt_cli_cmd_list(lt_cli_t *cli, const lt_cli_call_t *call);
int lt_cli_cmd_batch(lt_cli_t *cli, const lt_cli_call_t *call);
int lt_cli_cmd_inspect(lt_cli_t *cli, const lt_cli_call_t *call);
int lt_cli_cmd_watch(lt_cli_t *cli, const lt_cli_call_t *call);

int lt_cli_cmd_append(lt_cli_t *cli, const lt_cli_call_t *call);
int lt_cli_cmd_read(lt_cli_t *cli, const lt_cli_call_t *call);
int lt_cli_cmd_follow(lt_cli_t *cli, const lt_cli_call_t *call);

int lt_cli_cmd_history(lt_cli_t *cli, const lt_cli_call_t *call);
int lt_cli_cmd_debug(lt_cli_t *cli, const lt_cli_call_t *call);

int lt_cli_cmd_peer_invite(lt_cli_t *cli, const lt_cli_call_t *call);
int lt_cli_cmd_peer_list(lt_cli_t *cli, const lt_cli_call_t *call);
int lt_cli_cmd_peer_revoke(lt_cli_t *cli, const lt_cli_call_t *call);
int lt_cli_cmd_peer_join(lt_cli_t *cli, const lt_cli_call_t *call);
int lt_cli_cmd_sync(lt_cli_t *cli, const lt_cli_call_t *call);

/* Shared by the handlers: prints {"hash": HEX} or the hex of a write's
 * intention hash. */
void lt_cli_print_written(const lt_cli_call_t *call, const lt_client_hash_t *hash);
/* A stream command (watch, follow): how to start its stream, again after
 * the store restarted, and how to print one event. */
typedef struct {
    const char *what; /* "watch", "follow" */
    lt_err_t (*start)(lt_client_t *c, const lt_cli_call_t *call, uint64_t *stream);
    void (*print)(const lt_cli_call_t *call, const lt_client_event_t *ev);
} lt_cli_stream_t;

/* Runs the stream until SIGINT or SIGTERM (exit 0 then) or a failure
 * (stream.c). */
int lt_cli_stream_run(lt_cli_t *cli, const lt_cli_call_t *call, const lt_cli_stream_t *spec);

/* A service's JSON object (node status, node services). */
void lt_cli_json_service(lt_json_t *j, const lt_client_service_t *s);

#endif
