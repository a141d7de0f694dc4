/* lattice: the command-line client of a Lattice node (DESIGN.md §8).
 *
 *   lattice [--home DIR] [--json] [--timeout MS] [COMMAND [ARGS...]]
 *
 * This file reads the global options and hands the rest to the command
 * table (commands.c, dispatch.c), or starts the REPL (repl.c) when no
 * command is given. Exit codes are listed in cli.h and `lattice --help`.
 * Everything the CLI knows about the node comes through liblattice-client
 * (ipc/client.h). */
#include "cli.h"

#include <stdlib.h>
#include <string.h>

/* Value of a global option given as `--name VALUE` or `--name=VALUE`;
 * advances *i past it. NULL when the option is not this one. */
static const char *s_opt_value(int argc, char **argv, int *i, const char *name, bool *missing)
{
    size_t n = strlen(name);
    const char *a = argv[*i];
    if (strncmp(a, name, n) != 0)
        return NULL;
    if (a[n] == '=')
        return a + n + 1;
    if (a[n] != '\0')
        return NULL;
    if (*i + 1 >= argc) {
        *missing = true;
        return NULL;
    }
    return argv[++*i];
}

int main(int argc, char **argv)
{
    lt_cli_t cli;
    lt_cli_init(&cli);
    int i = 1;
    for (; i < argc && argv[i][0] == '-' && argv[i][1] != '\0'; i++) {
        const char *a = argv[i];
        const char *v;
        bool missing = false;
        if (strcmp(a, "--") == 0) {
            i++;
            break;
        } else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            lt_cli_help_main(stdout, &cli);
            return LT_CLI_EXIT_OK;
        } else if (strcmp(a, "--version") == 0) {
            printf("lattice %s\n", LT_VERSION);
            return LT_CLI_EXIT_OK;
        } else if (strcmp(a, "--json") == 0) {
            cli.json = true;
        } else if ((v = s_opt_value(argc, argv, &i, "--home", &missing)) != NULL) {
            if (!v[0] || strlen(v) >= sizeof cli.home)
                return lt_cli_say(LT_CLI_EXIT_USAGE, "--home: a directory path is needed "
                                                     "(see: lattice --help)");
            snprintf(cli.home, sizeof cli.home, "%s", v);
        } else if ((v = s_opt_value(argc, argv, &i, "--timeout", &missing)) != NULL) {
            if (!lt_cli_parse_u32(v, &cli.timeout_ms) || cli.timeout_ms == 0)
                return lt_cli_say(LT_CLI_EXIT_USAGE,
                                  "--timeout: milliseconds above 0 are needed, not \"%s\"", v);
            cli.timeout_given = true;
        } else if (missing) {
            return lt_cli_say(LT_CLI_EXIT_USAGE, "%s needs a value (see: lattice --help)", a);
        } else {
            return lt_cli_say(LT_CLI_EXIT_USAGE, "unknown option %s (see: lattice --help)", a);
        }
    }

    int status;
    if (i >= argc) {
        status = lt_cli_repl(&cli);
    } else {
        size_t n = (size_t)(argc - i);
        lt_cli_arg_t *args = calloc(n, sizeof *args);
        if (!args)
            return lt_cli_say(LT_CLI_EXIT_FAILED, "out of memory");
        for (size_t k = 0; k < n; k++)
            args[k] = (lt_cli_arg_t){argv[i + (int)k], strlen(argv[i + (int)k])};
        status = lt_cli_run(&cli, n, args);
        free(args);
    }
    lt_cli_fini(&cli);
    fflush(stdout);
    return status;
}
