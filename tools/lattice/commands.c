/* The command table: every command's name, synopsis, help and handler, in
 * the order `lattice --help` lists them. The one-shot mode and the REPL both
 * dispatch through it (dispatch.c), so they cannot drift apart. */
#include "commands.h"

static const lt_cli_cmd_t s_commands[] = {
    /* ---- the node ---- */
    {
        .name = "node status",
        .summary = "the node: key, home, version, uptime, services",
        .help = "Prints the node's public key, home, version, pid, uptime, the addresses\n"
                "it accepts peer links on, its links to other nodes (peer, direction,\n"
                "state, since, bytes in and out) and each service with its state.\n"
                "--json: {\"node_key\", \"home\", \"version\", \"pid\", \"uptime_ms\",\n"
                "\"services\": [service objects as in `node services --json`],\n"
                "\"listen\": [\"tcp://HOST:PORT\"], \"links\": [{\"peer\", \"direction\"\n"
                "(in|out), \"address\", \"connected\", \"joining\", \"since_ms\",\n"
                "\"last_seen_ms\", \"bytes_in\", \"bytes_out\"}]}.",
        .run = lt_cli_cmd_node_status,
    },
    {
        .name = "node services",
        .summary = "the services the node supervises and their state",
        .help = "Prints one line per service: name, state (starting, ready, backoff,\n"
                "failed, stopped, waiting), pid, restarts, and how it last exited;\n"
                "\"in-process\" marks a service that runs in the node's own thread\n"
                "(lattice-nano), whose pid is the node's.\n"
                "--json: [{\"name\", \"state\", \"pid\", \"restarts\", \"proto\", \"attached\",\n"
                "\"in_process\", \"since_ms\", \"queued\", \"last_exit\", \"fail_reason\"}].",
        .run = lt_cli_cmd_node_services,
    },
    {
        .name = "node restart",
        .args = "SERVICE",
        .summary = "stop a service and start it again",
        .help = "Asks the node to stop SERVICE (SIGTERM) and start it again. Prints\n"
                "nothing. Exit 1 when the node has no such service.",
        .min_pos = 1,
        .max_pos = 1,
        .check = lt_cli_check_node_restart,
        .run = lt_cli_cmd_node_restart,
    },
    {
        .name = "node stop",
        .summary = "stop the node and its services",
        .help = "Asks the node to stop; returns once it acknowledged (it then stops its\n"
                "services in order). Prints nothing.",
        .run = lt_cli_cmd_node_stop,
    },
    /* ---- stores ---- */
    {
        .name = "store create",
        .summary = "create a store; prints its id",
        .help = "Creates a store and prints its id (32 hex digits). With --parent, every\n"
                "node that holds STORE opens the new store too and it inherits STORE's\n"
                "peers (nobody joins it).\n"
                "--json: {\"id\", \"type\", \"name\"}.",
        .opts =
            {
                {"--name", "NAME", "give it a name (usable wherever STORE is asked)"},
                {"--type", "kv|log", "a key-value store (default) or an append-only log"},
                {"--parent", "STORE", "declare it as a child of STORE"},
            },
        .check = lt_cli_check_store_create,
        .run = lt_cli_cmd_store_create,
    },
    {
        .name = "store list",
        .summary = "the stores of this node",
        .help = "Prints one line per store: id, type, name.\n"
                "--json: [{\"id\", \"type\", \"name\"}].",
        .run = lt_cli_cmd_store_list,
    },
    {
        .name = "store info",
        .summary = "one store: type, name, counts",
        .help = "Prints the store's id, name, type, and counts: witnessed and floating\n"
                "intentions, author forks (non-zero: a key writes from two places),\n"
                "peers and child stores.\n"
                "--json: {\"id\", \"name\", \"type\", \"witnessed\", \"floating\", \"forks\",\n"
                "\"peers\", \"children\"}.",
        .flags = LT_CLI_STORE,
        .run = lt_cli_cmd_store_info,
    },
    {
        .name = "store remove",
        .summary = "remove a store from this node",
        .help = "Removes the store and its data from this node. A child store (see\n"
                "store create --parent) whose parent this node holds is removed from every\n"
                "node that holds the parent. A parent's children stay. Prints nothing.",
        .flags = LT_CLI_STORE,
        .run = lt_cli_cmd_store_remove,
    },
    {
        .name = "store verify",
        .summary = "check a store's whole witness chain and every signature",
        .help = "Checks every witness record of the store in order (the hash chain, the\n"
                "index, the node's signatures) and the signature of every intention. A\n"
                "node checks only its newest records when it opens; this checks them all.\n"
                "Prints how many records were checked; a break exits 4 naming the record.\n"
                "It takes some 60 us a record, and waits as long as it takes (an hour at\n"
                "most, or --timeout). One verify runs at a time on a node: another waits.\n"
                "--json: {\"id\", \"records\", \"ok\": true}.",
        .flags = LT_CLI_STORE,
        .run = lt_cli_cmd_store_verify,
    },
    {
        .name = "store use",
        .summary = "select the store the next commands work on",
        .help = "Selects STORE: the commands that take STORE may then leave it out, and\n"
                "the prompt shows it.",
        .flags = LT_CLI_REPL_ONLY,
        .min_pos = 1,
        .max_pos = 1,
        .args = "STORE",
        .check = lt_cli_check_store_use,
        .run = lt_cli_cmd_store_use,
    },
    /* ---- peers ---- */
    {
        .name = "peer invite",
        .summary = "invite a node to the store; prints a one-time token",
        .help = "Opens an invite to STORE and prints its token: one line holding the\n"
                "store id, this node's key and addresses, and a random secret. Give it\n"
                "to the joining node only (`peer join TOKEN` there). Only a hash of the\n"
                "secret is written to the store. The token works once and expires\n"
                "(default 24h).\n"
                "--json: {\"token\", \"store\", \"inviter\", \"expires_ms\", \"expires\",\n"
                "\"addresses\"}.",
        .flags = LT_CLI_STORE,
        .opts = {{"--ttl", "DURATION", "how long the token works: 30m, 24h (default), 7d"}},
        .check = lt_cli_check_peer_invite,
        .run = lt_cli_cmd_peer_invite,
    },
    {
        .name = "peer join",
        .args = "TOKEN",
        .summary = "join a store with a token from `peer invite`; prints the store id",
        .help = "Links to the inviting node at the token's addresses, presents the\n"
                "token's secret there (the inviter records this node as an active peer\n"
                "and the token as used), holds the store here, clones its history from\n"
                "the inviter (progress on a terminal), and prints its id. A used or\n"
                "expired token, or a revoked node, is refused (exit 4) with the\n"
                "inviter's reason; an unreachable inviter is exit 3.\n"
                "--json: {\"store\", \"inviter\", \"intentions\" (cloned)}.",
        .min_pos = 1,
        .max_pos = 1,
        .check = lt_cli_check_peer_join,
        .run = lt_cli_cmd_peer_join,
    },
    {
        .name = "peer list",
        .summary = "the peers of a store and their status",
        .help = "Prints one line per peer in the store's system table: node key,\n"
                "status (active, revoked, dormant), online (a link to it is up) or\n"
                "offline, and when this node last heard from it (or `this node`).\n"
                "A child store then lists the peers it inherits from its parent, each\n"
                "active and marked `inherited`.\n"
                "--json: [{\"key\", \"status\", \"online\", \"inherited\", \"self\",\n"
                "\"last_seen_ms\" (null: never)}].",
        .flags = LT_CLI_STORE,
        .run = lt_cli_cmd_peer_list,
    },
    {
        .name = "peer revoke",
        .args = "PEER",
        .summary = "revoke a peer of a store; prints the intention hash",
        .help = "Revokes PEER (a node key: 64 hex digits, or a prefix of at least 4\n"
                "unique among the store's peers): it gets nothing written from now on.\n"
                "What it wrote before stays. Prints the hash of the intention that\n"
                "records the revocation. Exit 1 when PEER is not a peer of the store.\n"
                "--json: {\"hash\"}.",
        .flags = LT_CLI_STORE,
        .min_pos = 1,
        .max_pos = 1,
        .check = lt_cli_check_peer_revoke,
        .run = lt_cli_cmd_peer_revoke,
    },
    {
        .name = "sync",
        .summary = "reconcile a store with its peers now",
        .help = "Reconciles the store with each of its active peers (range-based set\n"
                "reconciliation by the sync service); each side then fetches what it\n"
                "lacks. Prints one line per peer: its key, how many intentions this node\n"
                "received and how many the peer lacked, or why it could not be reached.\n"
                "Exit 3 when no peer could be reached; a store with no other peer is\n"
                "not an error. The node syncs every store on its own too (every 60 s,\n"
                "lattice-sync --period).\n"
                "--json: [{\"peer\", \"reached\", \"error\", \"received\",\n"
                "\"peer_lacks\", \"rounds\", \"bytes\"}].",
        .flags = LT_CLI_STORE,
        .run = lt_cli_cmd_sync,
    },
    /* ---- core:kvstore ---- */
    {
        .name = "put",
        .args = "KEY VALUE",
        .summary = "write VALUE under KEY; prints the intention hash",
        .help = "Writes VALUE under KEY in a kv store and prints the hash of the\n"
                "intention that carries the write (64 hex digits). KEY must not be\n"
                "empty. --json: {\"hash\"}.",
        .flags = LT_CLI_STORE,
        .min_pos = 2,
        .max_pos = 2,
        .check = lt_cli_check_key,
        .run = lt_cli_cmd_put,
    },
    {
        .name = "get",
        .args = "KEY",
        .summary = "print the value of KEY",
        .help = "Prints the value of KEY: the winner when concurrent writes conflict\n"
                "(a note on stderr says so; see inspect). Text prints as is; bytes that\n"
                "are not UTF-8 print as #x<hex>. Exit 1 when KEY is absent or deleted.\n"
                "--json: {\"key\", \"value\", \"conflicted\"} (+ value_hex when not UTF-8).",
        .flags = LT_CLI_STORE,
        .min_pos = 1,
        .max_pos = 1,
        .check = lt_cli_check_key,
        .run = lt_cli_cmd_get,
    },
    {
        .name = "del",
        .args = "KEY",
        .summary = "delete KEY; prints the intention hash",
        .help = "Deletes KEY (writes a tombstone) and prints the hash of the intention.\n"
                "--json: {\"hash\"}.",
        .flags = LT_CLI_STORE,
        .min_pos = 1,
        .max_pos = 1,
        .check = lt_cli_check_key,
        .run = lt_cli_cmd_del,
    },
    {
        .name = "list",
        .args = "[PREFIX]",
        .summary = "the keys (starting with PREFIX) and their values",
        .help = "Prints `KEY = VALUE` for every key starting with PREFIX (default: all),\n"
                "in key order; ` (conflicted)` marks keys with concurrent heads, and a\n"
                "conflicted key whose winner is a delete prints `KEY (deleted)`.\n"
                "--json: [{\"key\", \"value\", \"conflicted\", \"deleted\"}].",
        .flags = LT_CLI_STORE,
        .max_pos = 1,
        .run = lt_cli_cmd_list,
    },
    {
        .name = "batch",
        .summary = "several puts and deletes as one intention, from stdin",
        .help = "Reads lines from standard input (in the REPL: the next lines, up to\n"
                "`end`): `put KEY VALUE` or `del KEY`, words quoted like the REPL's;\n"
                "blank lines and lines starting with # are skipped; a line `end` or end\n"
                "of input finishes. Writes them all as one intention (a key repeated\n"
                "keeps its last op) and prints its hash. A malformed line is an error\n"
                "naming its line number (exit 2) and nothing is written.\n"
                "--json: {\"hash\", \"entries\"}.",
        .flags = LT_CLI_STORE,
        .run = lt_cli_cmd_batch,
    },
    {
        .name = "inspect",
        .args = "KEY",
        .summary = "every head (concurrent value) of KEY",
        .help = "Prints each head of KEY, the winner first (marked *): intention hash,\n"
                "author, time and counter, and the value or (deleted). Exit 1 when KEY\n"
                "was never written.\n"
                "--json: {\"key\", \"conflicted\", \"heads\": [{\"hash\", \"author\",\n"
                "\"wall_ms\", \"counter\", \"time\", \"tombstone\", \"value\"}]}.",
        .flags = LT_CLI_STORE,
        .min_pos = 1,
        .max_pos = 1,
        .check = lt_cli_check_key,
        .run = lt_cli_cmd_inspect,
    },
    {
        .name = "watch",
        .args = "[PREFIX]",
        .summary = "print changes to keys (starting with PREFIX) as they come",
        .help = "Prints each committed change to a key starting with PREFIX (default:\n"
                "all) as it happens, one line each: `put KEY = VALUE` or `del KEY`,\n"
                "with ` (conflicted)` when the key has concurrent heads. Runs until\n"
                "SIGINT or SIGTERM (Ctrl-C), then exits 0. If the store restarts the\n"
                "watch starts again (a note on stderr: changes meanwhile are missed).\n"
                "--json: one object per line: {\"store\", \"key\", \"value\", \"deleted\",\n"
                "\"conflicted\", \"hash\"}.",
        .flags = LT_CLI_STORE,
        .max_pos = 1,
        .run = lt_cli_cmd_watch,
    },
    /* ---- core:logstore ---- */
    {
        .name = "append",
        .args = "TEXT",
        .summary = "append TEXT to a log store; prints the intention hash",
        .help = "Appends TEXT as one entry to a log store and prints the hash of the\n"
                "intention. --json: {\"hash\"}.",
        .flags = LT_CLI_STORE,
        .min_pos = 1,
        .max_pos = 1,
        .run = lt_cli_cmd_append,
    },
    {
        .name = "read",
        .summary = "the entries of a log store, oldest first",
        .help = "Prints the entries (all, or the last N), oldest first, one per line:\n"
                "time (UTC), author (short), text.\n"
                "--json: [{\"wall_ms\", \"counter\", \"time\", \"author\", \"hash\", \"text\"}].",
        .flags = LT_CLI_STORE,
        .opts = {{"--tail", "N", "only the last N entries"}},
        .check = lt_cli_check_read,
        .run = lt_cli_cmd_read,
    },
    {
        .name = "follow",
        .summary = "print new log entries as they come",
        .help = "Prints each entry appended from now on, as `read` does, until SIGINT or\n"
                "SIGTERM (Ctrl-C), then exits 0.\n"
                "--json: one object per line: {\"store\", \"wall_ms\", \"counter\", \"time\",\n"
                "\"author\", \"hash\", \"text\"}.",
        .flags = LT_CLI_STORE,
        .run = lt_cli_cmd_follow,
    },
    /* ---- intentions ---- */
    {
        .name = "history",
        .summary = "the intention DAG, newest first, drawn as a graph",
        .help = "Draws the witnessed intentions, newest first (default: the last 50):\n"
                "one line each, ● on its lane, then the short hash, author (short), HLC\n"
                "(UTC wall time and #counter) and a summary of its ops. Lanes follow the\n"
                "parents (store_prev and deps) with │ ├ ┤ ┐ ┘ ─; an edge that others\n"
                "imply is not drawn, and a parent older than the window is shown only\n"
                "as the lane of an intention with no shown parent running on down.\n"
                "--json: [{\"seq\", \"hash\", \"author\", \"wall_ms\", \"counter\", \"time\",\n"
                "\"store_prev\" (null for an author's first), \"deps\", \"summary\"}].",
        .flags = LT_CLI_STORE,
        .opts = {{"--limit", "N", "at most N intentions (default 50)"}},
        .check = lt_cli_check_history,
        .run = lt_cli_cmd_history,
    },
    {
        .name = "debug",
        .args = "HASH",
        .summary = "one intention as an S-expression, its ops decoded",
        .help =
            "Prints the intention HASH (64 hex digits, or a unique prefix of at least\n"
            "4 among the last 1000 intentions) as an S-expression:\n"
            "(intention (hash \"..\") (version 1) (author \"..\") (hlc WALL_MS COUNTER)\n"
            "  (store \"..\") (store-prev \"..\"|nil) (deps \"..\" ...) (seq N)\n"
            "  (summary \"..\") (signature \"..\") (ops (kv (put \"k\" \"v\"))))\n"
            "seq is 0 while the intention floats. Exit 1 when the store does not\n"
            "hold it.\n"
            "--json: {\"hash\", \"version\", \"author\", \"wall_ms\", \"counter\", \"time\",\n"
            "\"store\", \"store_prev\", \"deps\", \"seq\", \"summary\", \"signature\", \"ops\"\n"
            "(the S-expression of the ops), \"ops_hex\"}.",
        .flags = LT_CLI_STORE,
        .min_pos = 1,
        .max_pos = 1,
        .check = lt_cli_check_debug,
        .run = lt_cli_cmd_debug,
    },
    {
        .name = "help",
        .args = "[COMMAND]",
        .summary = "this list, or the help of one command",
        .help = "Prints the list of commands, or the help of COMMAND (one or two words:\n"
                "`help put`, `help store create`).",
        .max_pos = 2,
        .run = lt_cli_cmd_help,
    },
};

const lt_cli_cmd_t *lt_cli_commands(size_t *n)
{
    *n = sizeof s_commands / sizeof s_commands[0];
    return s_commands;
}

int lt_cli_cmd_help(lt_cli_t *cli, const lt_cli_call_t *call)
{
    return lt_cli_help_command(cli, call->npos, call->pos);
}
