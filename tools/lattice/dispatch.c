/* Finds a command in the table, parses its options and arguments the same
 * way for the one-shot mode and the REPL, answers --help, resolves STORE and
 * runs it (cli.h). Usage errors are found before any connection is made, so
 * they exit 2 whether a node runs or not. */
#include "commands.h"

#include <stdlib.h>
#include <string.h>

static bool s_is(const lt_cli_arg_t *a, const char *word)
{
    return a->len == strlen(word) && memcmp(a->s, word, a->len) == 0;
}

/* The length of a command name's first word. */
static size_t s_first_len(const char *name)
{
    const char *sp = strchr(name, ' ');
    return sp ? (size_t)(sp - name) : strlen(name);
}

static bool s_first_is(const char *name, const lt_cli_arg_t *a)
{
    size_t n = s_first_len(name);
    return a->len == n && memcmp(a->s, name, n) == 0;
}

/* The command named by the first one or two words; *used gets how many. */
static const lt_cli_cmd_t *s_find(size_t argc, const lt_cli_arg_t *argv, size_t *used)
{
    size_t n;
    const lt_cli_cmd_t *cmds = lt_cli_commands(&n);
    for (size_t i = 0; i < n && argc > 0; i++) {
        const char *name = cmds[i].name;
        if (!s_first_is(name, &argv[0]))
            continue;
        if (name[s_first_len(name)] == '\0') {
            *used = 1;
            return &cmds[i];
        }
        if (argc > 1 && s_is(&argv[1], name + s_first_len(name) + 1)) {
            *used = 2;
            return &cmds[i];
        }
    }
    return NULL;
}

static bool s_is_group(const lt_cli_arg_t *word)
{
    size_t n;
    const lt_cli_cmd_t *cmds = lt_cli_commands(&n);
    for (size_t i = 0; i < n; i++)
        if (s_first_is(cmds[i].name, word) && cmds[i].name[s_first_len(cmds[i].name)] == ' ')
            return true;
    return false;
}

static bool s_available(const lt_cli_t *cli, const lt_cli_cmd_t *cmd)
{
    return cli->repl || !(cmd->flags & LT_CLI_REPL_ONLY);
}

static const char *s_prog(const lt_cli_t *cli)
{
    return cli->repl ? "" : "lattice ";
}

void lt_cli_synopsis(FILE *f, const lt_cli_t *cli, const lt_cli_cmd_t *cmd)
{
    fprintf(f, "%s%s", s_prog(cli), cmd->name);
    if (cmd->flags & LT_CLI_STORE)
        fputs(cli->repl && cli->has_store ? " [STORE]" : " STORE", f);
    if (cmd->args && cmd->args[0])
        fprintf(f, " %s", cmd->args);
    for (size_t i = 0; i < LT_CLI_MAX_OPTS && cmd->opts[i].name; i++) {
        if (cmd->opts[i].metavar)
            fprintf(f, " [%s %s]", cmd->opts[i].name, cmd->opts[i].metavar);
        else
            fprintf(f, " [%s]", cmd->opts[i].name);
    }
}

static void s_help_cmd(FILE *f, const lt_cli_t *cli, const lt_cli_cmd_t *cmd)
{
    fputs("usage: ", f);
    lt_cli_synopsis(f, cli, cmd);
    fprintf(f, "\n\n%s\n", cmd->help);
    fputs("\noptions:\n", f);
    for (size_t i = 0; i < LT_CLI_MAX_OPTS && cmd->opts[i].name; i++) {
        char left[64];
        snprintf(left, sizeof left, "%s%s%s", cmd->opts[i].name, cmd->opts[i].metavar ? " " : "",
                 cmd->opts[i].metavar ? cmd->opts[i].metavar : "");
        fprintf(f, "  %-18s %s\n", left, cmd->opts[i].help);
    }
    fprintf(f, "  %-18s %s\n", "--json", "print JSON instead of text (see: lattice --help)");
    fprintf(f, "  %-18s %s\n", "-h, --help", "show this help");
    if (cmd->flags & LT_CLI_STORE) {
        fputs("\nSTORE is a store id (hex), a unique prefix of one, or a store name.\n", f);
        if (cli->repl)
            fputs("In the REPL it may be left out once `store use STORE` selected one.\n", f);
    }
    fputs("\nexit: 0 ok, 1 not found, 2 usage error, 3 node not running or unavailable,\n"
          "4 failed (see: lattice --help)\n",
          f);
}

static void s_help_group(FILE *f, const lt_cli_t *cli, const lt_cli_arg_t *group)
{
    size_t n;
    const lt_cli_cmd_t *cmds = lt_cli_commands(&n);
    fprintf(f, "usage: %s%.*s COMMAND ...\n\ncommands:\n", s_prog(cli), (int)group->len, group->s);
    for (size_t i = 0; i < n; i++) {
        if (!s_first_is(cmds[i].name, group) || !s_available(cli, &cmds[i]))
            continue;
        char *syn = NULL;
        size_t len = 0;
        FILE *m = open_memstream(&syn, &len);
        if (!m)
            continue;
        lt_cli_synopsis(m, cli, &cmds[i]);
        fclose(m);
        fprintf(f, "  %s\n      %s\n", syn, cmds[i].summary);
        free(syn);
    }
    fprintf(f, "\nSee `%s%.*s COMMAND --help` for one command.\n", s_prog(cli), (int)group->len,
            group->s);
}

/* The subcommands of a group as "status, services, ...". */
static void s_group_list(char *out, size_t cap, const lt_cli_arg_t *group)
{
    size_t n, o = 0;
    const lt_cli_cmd_t *cmds = lt_cli_commands(&n);
    out[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        if (!s_first_is(cmds[i].name, group))
            continue;
        int w = snprintf(out + o, cap - o, "%s%s", o ? ", " : "",
                         cmds[i].name + s_first_len(cmds[i].name) + 1);
        if (w < 0 || (size_t)w >= cap - o)
            break;
        o += (size_t)w;
    }
}

void lt_cli_help_main(FILE *f, const lt_cli_t *cli)
{
    size_t n;
    const lt_cli_cmd_t *cmds = lt_cli_commands(&n);
    if (cli->repl) {
        fputs("Commands (the same as `lattice COMMAND`; STORE may be left out after\n"
              "`store use STORE`). Words split like a shell: \"a b\", 'c d', and backslash\n"
              "escapes (\\n \\t \\xHH \\\" \\\\). `quit` or end of input leaves.\n\n",
              f);
    } else {
        fputs("usage: lattice [--home DIR] [--json] [--timeout MS] [COMMAND [ARGS...]]\n\n"
              "The command-line client of a Lattice node. With no COMMAND it starts an\n"
              "interactive shell (REPL) that runs the same commands.\n\n"
              "options:\n"
              "  --home DIR     the node's home (default: $LATTICE_HOME, else\n"
              "                 $XDG_DATA_HOME/lattice, else ~/.local/share/lattice)\n"
              "  --json         print JSON instead of text (also after the command)\n"
              "  --timeout MS   wait at most MS milliseconds for each reply (default 10000)\n"
              "  --version      print the version\n"
              "  -h, --help     show this help; `lattice COMMAND --help` for one command\n\n",
              f);
    }
    fputs("commands:\n", f);
    for (size_t i = 0; i < n; i++) {
        if (!s_available(cli, &cmds[i]))
            continue;
        char *syn = NULL;
        size_t len = 0;
        FILE *m = open_memstream(&syn, &len);
        if (!m)
            continue;
        lt_cli_synopsis(m, cli, &cmds[i]);
        fclose(m);
        fprintf(f, "  %s\n      %s\n", syn, cmds[i].summary);
        free(syn);
    }
    if (cli->repl) {
        fputs("  quit\n      leave the REPL (also: exit, end of input)\n", f);
        return;
    }
    fputs("\nIn the REPL also: store use STORE (then commands may leave STORE out), quit.\n"
          "Command options may come anywhere after the command; after `--` every word is\n"
          "an argument (for a VALUE that starts with --).\n"
          "\nSTORE is a store id (32 hex digits), a unique prefix of one, or a store name.\n\n"
          "Output: text for people, JSON with --json: one JSON value per command, one\n"
          "object per line for watch and follow. Keys, values and log text are JSON\n"
          "strings; when the bytes are not UTF-8 the string shows them with U+FFFD and a\n"
          "sibling field NAME_hex (e.g. value_hex) holds the exact bytes in hex. In\n"
          "text, such bytes print as #x<hex>, and text that could be misread is quoted\n"
          "with the REPL's escapes. Hashes and ids are lowercase hex; times are UTC.\n\n"
          "Errors print one line on stderr, `lattice: <what>: <why>`.\n"
          "exit codes:\n"
          "  0  success (watch and follow: stopped by SIGINT or SIGTERM)\n"
          "  1  not found: no such store, key, intention or service\n"
          "  2  usage: unknown command or option, bad or missing argument, malformed\n"
          "     batch line, ambiguous store or hash prefix\n"
          "  3  node: no node runs at the home, the service is unavailable, or no reply\n"
          "     came in time\n"
          "  4  failed: the node refused the request (wrong store type, storage error)\n",
          f);
}

int lt_cli_help_command(lt_cli_t *cli, size_t argc, const lt_cli_arg_t *argv)
{
    if (argc == 0) {
        lt_cli_help_main(stdout, cli);
        return LT_CLI_EXIT_OK;
    }
    size_t used = 0;
    const lt_cli_cmd_t *cmd = s_find(argc, argv, &used);
    if (cmd && used == argc && s_available(cli, cmd)) {
        s_help_cmd(stdout, cli, cmd);
        return LT_CLI_EXIT_OK;
    }
    if (argc == 1 && s_is_group(&argv[0])) {
        s_help_group(stdout, cli, &argv[0]);
        return LT_CLI_EXIT_OK;
    }
    char q[LT_CLI_LABEL_MAX];
    lt_cli_quote(q, sizeof q, argv[0].s, argv[0].len);
    return lt_cli_say(LT_CLI_EXIT_USAGE, "help: no command %s (see: %s)", q,
                      cli->repl ? "help" : "lattice --help");
}

/* Options and arguments after the command's words into call. Returns
 * -1 to go on, or an exit code (help shown, usage error). */
static int s_parse(lt_cli_t *cli, const lt_cli_cmd_t *cmd, size_t argc, const lt_cli_arg_t *argv,
                   lt_cli_call_t *call, lt_cli_arg_t *pos, size_t *npos)
{
    bool options = true;
    *npos = 0;
    for (size_t i = 0; i < argc; i++) {
        const lt_cli_arg_t *a = &argv[i];
        if (options && s_is(a, "--")) {
            options = false;
            continue;
        }
        if (options && (s_is(a, "-h") || s_is(a, "--help"))) {
            s_help_cmd(stdout, cli, cmd);
            return LT_CLI_EXIT_OK;
        }
        if (options && a->len > 2 && a->s[0] == '-' && a->s[1] == '-') {
            const char *eq = memchr(a->s, '=', a->len);
            size_t nlen = eq ? (size_t)(eq - a->s) : a->len;
            if (nlen == 6 && memcmp(a->s, "--json", 6) == 0) {
                if (eq)
                    return lt_cli_usage(cli, cmd, "--json takes no value");
                call->json = true;
                continue;
            }
            size_t k = 0;
            while (
                k < LT_CLI_MAX_OPTS && cmd->opts[k].name &&
                !(strlen(cmd->opts[k].name) == nlen && memcmp(cmd->opts[k].name, a->s, nlen) == 0))
                k++;
            if (k == LT_CLI_MAX_OPTS || !cmd->opts[k].name)
                return lt_cli_usage(cli, cmd, "unknown option %.*s", (int)nlen, a->s);
            const lt_cli_opt_t *o = &cmd->opts[k];
            if (!o->metavar) {
                if (eq)
                    return lt_cli_usage(cli, cmd, "%s takes no value", o->name);
                call->opt[k] = "";
            } else if (eq) {
                call->opt[k] = eq + 1;
            } else if (i + 1 < argc) {
                call->opt[k] = argv[++i].s;
            } else {
                return lt_cli_usage(cli, cmd, "%s needs a value %s", o->name, o->metavar);
            }
            continue;
        }
        if (*npos == LT_CLI_MAX_POS + 1)
            return lt_cli_usage(cli, cmd, "too many arguments");
        pos[(*npos)++] = *a;
    }
    return -1;
}

int lt_cli_run(lt_cli_t *cli, size_t argc, const lt_cli_arg_t *argv)
{
    if (argc == 0)
        return LT_CLI_EXIT_OK;
    size_t used = 0;
    const lt_cli_cmd_t *cmd = s_find(argc, argv, &used);
    char q[LT_CLI_LABEL_MAX];
    if (!cmd || !s_available(cli, cmd)) {
        if (cmd)
            return lt_cli_say(LT_CLI_EXIT_USAGE,
                              "%s: only in the REPL (start it with: lattice, no command)",
                              cmd->name);
        char list[256];
        if (s_is_group(&argv[0])) {
            s_group_list(list, sizeof list, &argv[0]);
            if (argc > 1 && (s_is(&argv[1], "--help") || s_is(&argv[1], "-h"))) {
                s_help_group(stdout, cli, &argv[0]);
                return LT_CLI_EXIT_OK;
            }
            if (argc == 1)
                return lt_cli_say(
                    LT_CLI_EXIT_USAGE, "%.*s: a subcommand is needed: %s (see: %s%.*s --help)",
                    (int)argv[0].len, argv[0].s, list, s_prog(cli), (int)argv[0].len, argv[0].s);
            lt_cli_quote(q, sizeof q, argv[1].s, argv[1].len);
            return lt_cli_say(LT_CLI_EXIT_USAGE, "%.*s: no subcommand %s (one of: %s)",
                              (int)argv[0].len, argv[0].s, q, list);
        }
        lt_cli_quote(q, sizeof q, argv[0].s, argv[0].len);
        return lt_cli_say(LT_CLI_EXIT_USAGE, "no command %s (see: %s)", q,
                          cli->repl ? "help" : "lattice --help");
    }

    lt_cli_call_t call;
    memset(&call, 0, sizeof call);
    call.cmd = cmd;
    call.json = cli->json;
    lt_cli_arg_t pos[LT_CLI_MAX_POS + 1];
    size_t npos = 0;
    int rc = s_parse(cli, cmd, argc - used, argv + used, &call, pos, &npos);
    if (rc >= 0)
        return rc;

    /* STORE: the first argument, or the REPL's selection. */
    const lt_cli_arg_t *store_arg = NULL;
    size_t first = 0;
    if (cmd->flags & LT_CLI_STORE) {
        if (!(cli->repl && cli->has_store && npos <= cmd->max_pos)) {
            if (npos == 0)
                return lt_cli_usage(cli, cmd, "STORE is missing");
            store_arg = &pos[0];
            first = 1;
        }
    }
    if (npos - first < cmd->min_pos)
        return lt_cli_usage(cli, cmd, "missing argument%s", cmd->min_pos > 1 ? "s" : "");
    if (npos - first > cmd->max_pos)
        return lt_cli_usage(cli, cmd, "too many arguments");
    for (size_t i = first; i < npos; i++)
        call.pos[call.npos++] = pos[i];
    if (store_arg && memchr(store_arg->s, '\0', store_arg->len))
        return lt_cli_usage(cli, cmd, "STORE holds a NUL byte");
    if (cmd->check && (rc = cmd->check(cli, &call)) != LT_CLI_EXIT_OK)
        return rc;

    if (cmd->flags & LT_CLI_STORE) {
        if (store_arg) {
            rc = lt_cli_resolve(cli, store_arg->s, &call.store);
            if (rc != LT_CLI_EXIT_OK)
                return rc;
            lt_cli_label(call.store_label, sizeof call.store_label, store_arg->s);
        } else {
            call.store = cli->store;
            lt_cli_label(call.store_label, sizeof call.store_label, cli->store_label);
        }
    }
    rc = cmd->run(cli, &call);
    fflush(stdout);
    return rc;
}
