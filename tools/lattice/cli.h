/* The lattice CLI: its context, its command table and the helpers every
 * command shares. One table (commands.c) drives both the one-shot mode
 * (`lattice put notes k v`) and the REPL (`lattice`, then `put k v`), so the
 * two always accept the same commands, options and help.
 *
 * Exit codes, applied by every command (and listed by `lattice --help`):
 *   0  success (also: watch/follow stopped by SIGINT or SIGTERM)
 *   1  not found: the store, key, intention or service does not exist
 *      (get or inspect of an absent key)
 *   2  usage: unknown command or option, a missing, extra or malformed
 *      argument, a malformed batch line, an ambiguous store or hash prefix
 *   3  node: no node runs at the home, the service is unavailable
 *      (restarting, failed) or no reply came in time
 *   4  failed: the node refused or failed the request for another reason
 *      (a KV command on a log store, a storage error, ...)
 *
 * Errors go to stderr as one line, `lattice: <what>: <why>`; nothing else
 * of a failing command reaches stdout. */
#ifndef LT_CLI_H
#define LT_CLI_H

#include "args.h"
#include "ipc/client.h"

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

enum {
    LT_CLI_EXIT_OK = 0,
    LT_CLI_EXIT_NOTFOUND = 1,
    LT_CLI_EXIT_USAGE = 2,
    LT_CLI_EXIT_NODE = 3,
    LT_CLI_EXIT_FAILED = 4,
};

/* Command flags. */
enum {
    /* The first argument is STORE, resolved before the command runs. In the
     * REPL with a store selected (store use) it may be left out: a command
     * given one argument more than it takes without STORE reads the first
     * as STORE, otherwise it works on the selected store. */
    LT_CLI_STORE = 1u << 0,
    /* Only in the REPL (store use). */
    LT_CLI_REPL_ONLY = 1u << 1,
};

#define LT_CLI_MAX_OPTS  4
#define LT_CLI_MAX_POS   4
#define LT_CLI_LABEL_MAX 80

typedef struct lt_cli lt_cli_t;
typedef struct lt_cli_call lt_cli_call_t;

typedef struct {
    const char *name;    /* "--tail" */
    const char *metavar; /* "N"; NULL for a flag */
    const char *help;
} lt_cli_opt_t;

typedef struct {
    const char *name;    /* one or two words: "put", "store create" */
    const char *args;    /* what follows STORE in the synopsis: "KEY VALUE" */
    const char *summary; /* one line for the command list */
    const char *help;    /* the body of --help: what it does, prints, exits */
    unsigned flags;
    unsigned min_pos, max_pos; /* arguments, STORE not counted */
    lt_cli_opt_t opts[LT_CLI_MAX_OPTS];
    /* Checks the form of the arguments (may be NULL) before anything
     * connects, so a usage error is exit 2 whether a node runs or not:
     * returns 0 or the exit code after printing the error. STORE is not
     * resolved yet. */
    int (*check)(const lt_cli_t *cli, const lt_cli_call_t *call);
    int (*run)(lt_cli_t *cli, const lt_cli_call_t *call);
} lt_cli_cmd_t;

/* One parsed invocation, handed to a command's run. */
struct lt_cli_call {
    const lt_cli_cmd_t *cmd;
    bool json;
    lt_client_store_id_t store;         /* LT_CLI_STORE commands */
    char store_label[LT_CLI_LABEL_MAX]; /* STORE as the user knows it */
    lt_cli_arg_t pos[LT_CLI_MAX_POS];
    size_t npos;
    const char *opt[LT_CLI_MAX_OPTS]; /* value of cmd->opts[i]; "" for a flag; NULL: absent */
};

/* Reads one line (malloc'd, without its newline) or returns NULL at EOF. */
typedef char *(*lt_cli_reader_fn)(void *ctx, const char *prompt);

struct lt_cli {
    char home[1024]; /* "" until known: --home, else lt_client_default_home */
    uint32_t timeout_ms;
    bool timeout_given; /* --timeout: commands with long answers keep it too */
    bool json;          /* --json before the command */
    bool repl;
    lt_client_t *client; /* connected on first use */
    bool has_store;      /* the REPL's selected store */
    lt_client_store_id_t store;
    char store_label[LT_CLI_LABEL_MAX];
    lt_cli_reader_fn read_line; /* where batch reads its lines */
    void *read_ctx;
};

/* ---- the table and dispatch (commands.c, dispatch.c) ---- */

const lt_cli_cmd_t *lt_cli_commands(size_t *n);
/* Runs one command line (words after the global options). Returns the
 * exit code. */
int lt_cli_run(lt_cli_t *cli, size_t argc, const lt_cli_arg_t *argv);
/* `lattice --help`. */
void lt_cli_help_main(FILE *f, const lt_cli_t *cli);
/* The synopsis of cmd as this context would accept it. */
void lt_cli_synopsis(FILE *f, const lt_cli_t *cli, const lt_cli_cmd_t *cmd);

/* ---- context helpers (cli.c) ---- */

void lt_cli_init(lt_cli_t *cli);
void lt_cli_fini(lt_cli_t *cli);
/* The connected client, connecting on first use. On failure prints the
 * error line, sets *status (LT_CLI_EXIT_NODE) and returns NULL. */
lt_client_t *lt_cli_client(lt_cli_t *cli, int *status);
/* Drops the connection (after node stop); the next command reconnects. */
void lt_cli_disconnect(lt_cli_t *cli);
/* The exit code for a failed client call. */
int lt_cli_exit_code(lt_err_t err);
/* Prints `lattice: <what>: <why>` where why is the client's message for
 * the last failure (or lt_strerror(err)); returns lt_cli_exit_code(err). */
int lt_cli_fail(lt_cli_t *cli, lt_err_t err, const char *what_fmt, ...) LT_PRINTF(3, 4);
/* Prints `lattice: <text>` (one line) and returns code. */
int lt_cli_say(int code, const char *fmt, ...) LT_PRINTF(2, 3);
/* Prints a usage error naming cmd and its synopsis; returns
 * LT_CLI_EXIT_USAGE. */
int lt_cli_usage(const lt_cli_t *cli, const lt_cli_cmd_t *cmd, const char *fmt, ...)
    LT_PRINTF(3, 4);
/* Resolves what the user typed to a store id; on failure prints the error
 * line and returns its exit code (1 none, 2 ambiguous, 3 node). */
int lt_cli_resolve(lt_cli_t *cli, const char *query, lt_client_store_id_t *id);
/* Line reader on stdin (no prompt): the default read_line. */
char *lt_cli_read_stdin(void *ctx, const char *prompt);

/* ---- showing bytes and times ---- */

typedef enum {
    LT_CLI_SHOW_RAW,      /* UTF-8 as is (get's value) */
    LT_CLI_SHOW_LINE,     /* quoted when it has control characters or edge blanks */
    LT_CLI_SHOW_WORD,     /* quoted unless it reads back as one REPL word */
    LT_CLI_SHOW_QUOTED,   /* always quoted (S-expressions) */
    LT_CLI_SHOW_RAW_LINE, /* as is, quoted only when it has control characters (names) */
} lt_cli_show_t;

/* Writes bytes for a person: text as text; "quoted\n" with the REPL's
 * escapes when the mode asks; #x<hex> when the bytes are not UTF-8. */
void lt_cli_show(FILE *f, const void *b, size_t n, lt_cli_show_t mode);
/* The same as a string for messages, always quoted, cut at cap. */
void lt_cli_quote(char *out, size_t cap, const void *b, size_t n);
/* "2024-11-24 08:00:00.123" (UTC); iso: "2024-11-24T08:00:00.123Z". */
void lt_cli_time(char *out, size_t cap, uint64_t wall_ms, bool iso);
/* Copies text into a label of cap bytes, cut on a character boundary
 * with "..." when it does not fit. */
void lt_cli_label(char *out, size_t cap, const char *s);
/* The first 4 bytes in hex (8 digits). */
void lt_cli_short(char out[9], const uint8_t *b);
bool lt_cli_is_zero(const uint8_t *b, size_t n);
const char *lt_cli_type_name(int type);

/* ---- stopping streams on SIGINT/SIGTERM ---- */

typedef struct {
    struct sigaction intr, term;
} lt_cli_sigsave_t;

/* Catches SIGINT and SIGTERM (or SIGINT only) into a flag until
 * lt_cli_signals_end; a wait they interrupt returns early (no SA_RESTART). */
void lt_cli_signals_begin(lt_cli_sigsave_t *save);
void lt_cli_signals_begin_int(lt_cli_sigsave_t *save);
void lt_cli_signals_end(const lt_cli_sigsave_t *save);
bool lt_cli_interrupted(void);

/* ---- the REPL (repl.c) ---- */

int lt_cli_repl(lt_cli_t *cli);

#endif
