/* The interactive shell: `lattice` with no command. It reads lines with
 * libedit (line editing, history kept in <home>/.lattice_history, else
 * $HOME/.lattice_history), splits them like a shell (args.h) and runs them
 * through the same command table as the one-shot mode. `store use STORE`
 * selects a store: the prompt shows it and commands may leave STORE out.
 *
 * When stdin is not a terminal (a script piped in) there is no prompt, no
 * editing and no history file: lines are read as they come, so
 * `lattice < script` runs a script. The exit status is that of the last
 * command run (0 if none), like a shell's. */
#include "cli.h"

#include <editline/readline.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define S_HISTORY_MAX 1000

typedef struct {
    bool interactive;
    char histfile[1200]; /* "" when history is not kept */
} s_repl_t;

static char *s_read(void *ctx, const char *prompt)
{
    s_repl_t *r = ctx;
    if (!r->interactive)
        return lt_cli_read_stdin(NULL, NULL);
    for (;;) {
        /* Ctrl-C discards the line being typed and asks again. libedit's
         * own signal handling is off (rl_catch_signals): it would re-raise
         * the signal, which the REPL ignores between prompts. */
        lt_cli_sigsave_t save;
        lt_cli_signals_begin_int(&save);
        char *line = readline(prompt);
        bool interrupted = lt_cli_interrupted();
        lt_cli_signals_end(&save);
        if (interrupted) {
            free(line);
            fputs("^C\n", stdout);
            fflush(stdout);
            continue;
        }
        if (line && !lt_cli_line_is_blank(line))
            add_history(line);
        return line;
    }
}

/* <home>/.lattice_history when the home is a writable directory, else
 * $HOME/.lattice_history, else none. */
static void s_history_path(const lt_cli_t *cli, s_repl_t *r)
{
    char home[1024];
    r->histfile[0] = '\0';
    if (cli->home[0])
        snprintf(home, sizeof home, "%s", cli->home);
    else if (lt_client_default_home(home, sizeof home) != LT_OK)
        home[0] = '\0';
    if (home[0] && access(home, W_OK | X_OK) == 0) {
        snprintf(r->histfile, sizeof r->histfile, "%s/.lattice_history", home);
        return;
    }
    const char *user = getenv("HOME");
    if (user && user[0])
        snprintf(r->histfile, sizeof r->histfile, "%s/.lattice_history", user);
}

static bool s_is_word(const lt_cli_arg_t *a, const char *w)
{
    return a->len == strlen(w) && memcmp(a->s, w, a->len) == 0;
}

int lt_cli_repl(lt_cli_t *cli)
{
    /* On the heap: cli keeps a pointer to it while the REPL runs. */
    s_repl_t *r = calloc(1, sizeof *r);
    if (!r)
        return lt_cli_say(LT_CLI_EXIT_FAILED, "out of memory");
    r->interactive = isatty(STDIN_FILENO) == 1;
    cli->repl = true;
    cli->read_line = s_read;
    cli->read_ctx = r;
    struct sigaction ign, old_int;
    memset(&ign, 0, sizeof ign);
    if (r->interactive) {
        s_history_path(cli, r);
        using_history();
        stifle_history(S_HISTORY_MAX);
        if (r->histfile[0])
            read_history(r->histfile); /* a missing file is the normal first run */
        /* Ctrl-C does not leave the REPL: ignored while a command runs
         * (streams catch it to stop), it discards the line at the prompt. */
        rl_catch_signals = 0;
        ign.sa_handler = SIG_IGN;
        sigemptyset(&ign.sa_mask);
        sigaction(SIGINT, &ign, &old_int);
        printf("lattice %s: type `help` for the commands, `quit` to leave.\n", LT_VERSION);
    }
    int status = LT_CLI_EXIT_OK;
    for (;;) {
        char prompt[LT_CLI_LABEL_MAX + 16];
        if (cli->has_store)
            snprintf(prompt, sizeof prompt, "lattice:%s> ", cli->store_label);
        else
            snprintf(prompt, sizeof prompt, "lattice> ");
        char *line = s_read(r, prompt);
        if (!line) {
            if (r->interactive)
                putchar('\n');
            break;
        }
        if (lt_cli_line_is_blank(line)) {
            free(line);
            continue;
        }
        lt_cli_words_t w = {0};
        lt_errbuf_t eb = {{0}};
        lt_err_t err = lt_cli_split(line, &w, &eb);
        free(line);
        if (err != LT_OK) {
            status = lt_cli_say(LT_CLI_EXIT_USAGE, "%s", eb.msg);
            continue;
        }
        if (w.n == 1 && (s_is_word(&w.v[0], "quit") || s_is_word(&w.v[0], "exit"))) {
            lt_cli_words_clear(&w);
            break;
        }
        status = lt_cli_run(cli, w.n, w.v);
        lt_cli_words_clear(&w);
        fflush(stdout);
    }
    if (r->interactive) {
        if (r->histfile[0])
            write_history(r->histfile);
        sigaction(SIGINT, &old_int, NULL);
    }
    cli->read_line = lt_cli_read_stdin;
    cli->read_ctx = NULL;
    free(r);
    return status;
}
