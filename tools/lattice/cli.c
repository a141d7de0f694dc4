/* The CLI's shared context (cli.h): the lazily opened connection, the one
 * place that turns client errors into an error line and an exit code, and
 * how bytes and times are shown to a person. */
#include "cli.h"

#include "json.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* The only mutable global: set by the signal handler, read by streams. */
static volatile sig_atomic_t s_interrupt;

void lt_cli_init(lt_cli_t *cli)
{
    memset(cli, 0, sizeof *cli);
    cli->timeout_ms = LT_CLIENT_DEFAULT_TIMEOUT_MS;
    cli->read_line = lt_cli_read_stdin;
}

void lt_cli_fini(lt_cli_t *cli)
{
    lt_client_close(&cli->client);
}

lt_client_t *lt_cli_client(lt_cli_t *cli, int *status)
{
    if (cli->client)
        return cli->client;
    lt_errbuf_t eb = {{0}};
    lt_client_opts_t opts = {
        .home = cli->home[0] ? cli->home : NULL,
        .timeout_ms = cli->timeout_ms,
    };
    lt_err_t err = lt_client_connect(&opts, &cli->client, &eb);
    if (err != LT_OK) {
        cli->client = NULL;
        const char *home = cli->home[0] ? cli->home : "the default home";
        if (eb.msg[0])
            lt_cli_say(0, "node at %s: %s", home, eb.msg);
        else
            lt_cli_say(0, "node at %s: %s (start it with: latticed --home %s)", home,
                       lt_strerror(err), home);
        *status = LT_CLI_EXIT_NODE;
        return NULL;
    }
    return cli->client;
}

void lt_cli_disconnect(lt_cli_t *cli)
{
    lt_client_close(&cli->client);
}

int lt_cli_exit_code(lt_err_t err)
{
    switch (err) {
    case LT_OK:
        return LT_CLI_EXIT_OK;
    case LT_ENOTFOUND:
        return LT_CLI_EXIT_NOTFOUND;
    case LT_EUNAVAILABLE:
    case LT_EFAILED:
    case LT_ETIMEDOUT:
        return LT_CLI_EXIT_NODE;
    default:
        return LT_CLI_EXIT_FAILED;
    }
}

/* Prints "lattice: " + a formatted message as one line: control characters
 * (a newline inside a service's message) become spaces. */
static void s_line(const char *what, const char *why)
{
    char buf[1024];
    snprintf(buf, sizeof buf, "%s%s%s", what, why && why[0] ? ": " : "", why ? why : "");
    for (char *p = buf; *p; p++)
        if ((unsigned char)*p < 0x20)
            *p = ' ';
    fprintf(stderr, "lattice: %s\n", buf);
    fflush(stderr);
}

int lt_cli_fail(lt_cli_t *cli, lt_err_t err, const char *what_fmt, ...)
{
    char what[512];
    va_list ap;
    va_start(ap, what_fmt);
    vsnprintf(what, sizeof what, what_fmt, ap);
    va_end(ap);
    const char *why = cli->client ? lt_client_errmsg(cli->client) : "";
    if (!why || !why[0])
        why = lt_strerror(err);
    char full[768];
    if (err == LT_EUNAVAILABLE || err == LT_EFAILED || err == LT_ETIMEDOUT)
        snprintf(full, sizeof full, "%s (check the node: lattice node services)", why);
    else
        snprintf(full, sizeof full, "%s", why);
    s_line(what, full);
    return lt_cli_exit_code(err);
}

int lt_cli_say(int code, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    s_line(msg, NULL);
    return code;
}

int lt_cli_usage(const lt_cli_t *cli, const lt_cli_cmd_t *cmd, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    char *syn = NULL;
    size_t synlen = 0;
    FILE *f = open_memstream(&syn, &synlen);
    if (f) {
        lt_cli_synopsis(f, cli, cmd);
        fclose(f);
    }
    lt_cli_say(LT_CLI_EXIT_USAGE, "%s: %s (usage: %s; see: %s%s --help)", cmd->name, msg,
               syn ? syn : cmd->name, cli->repl ? "" : "lattice ", cmd->name);
    free(syn);
    return LT_CLI_EXIT_USAGE;
}

int lt_cli_resolve(lt_cli_t *cli, const char *query, lt_client_store_id_t *id)
{
    if (query[0] == '\0')
        return lt_cli_say(LT_CLI_EXIT_USAGE, "store \"\": a store id, prefix or name is needed");
    int status = 0;
    lt_client_t *c = lt_cli_client(cli, &status);
    if (!c)
        return status;
    char q[LT_CLI_LABEL_MAX];
    lt_cli_quote(q, sizeof q, query, strlen(query));
    lt_err_t err = lt_client_store_resolve(c, query, id);
    switch (err) {
    case LT_OK:
        return LT_CLI_EXIT_OK;
    case LT_ENOTFOUND:
        return lt_cli_say(LT_CLI_EXIT_NOTFOUND,
                          "store %s: no store has this id, prefix or name (see: lattice store "
                          "list)",
                          q);
    case LT_EEXIST:
        /* The store says which: several names, or an id prefix too short. */
        return lt_cli_say(LT_CLI_EXIT_USAGE, "store %s: %s (see: lattice store list)", q,
                          lt_client_errmsg(c));
    default:
        return lt_cli_fail(cli, err, "store %s", q);
    }
}

char *lt_cli_read_stdin(void *ctx, const char *prompt)
{
    (void)ctx;
    (void)prompt;
    char *line = NULL;
    size_t cap = 0;
    ssize_t n = getline(&line, &cap, stdin);
    if (n < 0) {
        free(line);
        return NULL;
    }
    if (n > 0 && line[n - 1] == '\n')
        line[--n] = '\0';
    if (n > 0 && line[n - 1] == '\r')
        line[--n] = '\0';
    return line;
}

/* ---- showing bytes ---- */

static bool s_needs_quotes(const uint8_t *b, size_t n, lt_cli_show_t mode)
{
    if (mode == LT_CLI_SHOW_RAW)
        return false;
    if (mode == LT_CLI_SHOW_QUOTED)
        return true;
    if (mode == LT_CLI_SHOW_RAW_LINE) {
        for (size_t i = 0; i < n; i++)
            if (b[i] < 0x20 || b[i] == 0x7F)
                return true;
        return false;
    }
    if (n == 0 || b[0] == '"' || b[0] == '\'')
        return true;
    if (mode == LT_CLI_SHOW_LINE) {
        if (b[0] == ' ' || b[n - 1] == ' ' || (n >= 2 && b[0] == '#' && b[1] == 'x'))
            return true;
        for (size_t i = 0; i < n; i++)
            if (b[i] < 0x20 || b[i] == 0x7F)
                return true;
        return false;
    }
    if (b[0] == '#')
        return true;
    for (size_t i = 0; i < n; i++)
        if (b[i] <= 0x20 || b[i] == 0x7F || b[i] == '"' || b[i] == '\'' || b[i] == '\\')
            return true;
    return false;
}

/* Quoted with the escapes the REPL reads back (args.h). */
static void s_quoted(FILE *f, const uint8_t *b, size_t n)
{
    fputc('"', f);
    for (size_t i = 0; i < n; i++) {
        uint8_t c = b[i];
        if (c == '"' || c == '\\')
            fprintf(f, "\\%c", c);
        else if (c == '\n')
            fputs("\\n", f);
        else if (c == '\t')
            fputs("\\t", f);
        else if (c == '\r')
            fputs("\\r", f);
        else if (c < 0x20 || c == 0x7F)
            fprintf(f, "\\x%02x", c);
        else
            fputc(c, f);
    }
    fputc('"', f);
}

static void s_hexform(FILE *f, const uint8_t *b, size_t n)
{
    fputs("#x", f);
    for (size_t i = 0; i < n; i++)
        fprintf(f, "%02x", b[i]);
}

void lt_cli_show(FILE *f, const void *b, size_t n, lt_cli_show_t mode)
{
    const uint8_t *p = b;
    if (!lt_utf8_valid(p, n))
        s_hexform(f, p, n);
    else if (s_needs_quotes(p, n, mode))
        s_quoted(f, p, n);
    else if (n > 0)
        fwrite(p, 1, n, f);
}

void lt_cli_quote(char *out, size_t cap, const void *b, size_t n)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f) {
        snprintf(out, cap, "\"?\"");
        return;
    }
    if (lt_utf8_valid(b, n))
        s_quoted(f, b, n);
    else
        s_hexform(f, b, n);
    fclose(f);
    if (len < cap) {
        memcpy(out, buf, len + 1);
    } else if (cap > 4) {
        /* Cut on a character boundary and say so. */
        size_t keep = cap - 4;
        while (keep > 0 && ((unsigned char)buf[keep] & 0xC0) == 0x80)
            keep--;
        memcpy(out, buf, keep);
        memcpy(out + keep, "...", 4);
    } else if (cap > 0) {
        out[0] = '\0';
    }
    free(buf);
}

void lt_cli_label(char *out, size_t cap, const char *s)
{
    size_t n = strlen(s);
    if (cap == 0)
        return;
    if (n < cap) {
        memcpy(out, s, n + 1);
        return;
    }
    size_t keep = cap > 4 ? cap - 4 : 0;
    while (keep > 0 && ((unsigned char)s[keep] & 0xC0) == 0x80)
        keep--;
    memcpy(out, s, keep);
    memcpy(out + keep, "...", cap > 4 ? 4 : 1);
    out[cap - 1] = '\0';
}

void lt_cli_time(char *out, size_t cap, uint64_t wall_ms, bool iso)
{
    time_t secs = (time_t)(wall_ms / 1000);
    struct tm tm;
    if (!gmtime_r(&secs, &tm)) {
        snprintf(out, cap, "%llu", (unsigned long long)wall_ms);
        return;
    }
    char day[64];
    strftime(day, sizeof day, iso ? "%Y-%m-%dT%H:%M:%S" : "%Y-%m-%d %H:%M:%S", &tm);
    snprintf(out, cap, "%s.%03u%s", day, (unsigned)(wall_ms % 1000), iso ? "Z" : "");
}

void lt_cli_short(char out[9], const uint8_t *b)
{
    lt_client_hex(b, 4, out);
}

bool lt_cli_is_zero(const uint8_t *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (b[i])
            return false;
    return true;
}

const char *lt_cli_type_name(int type)
{
    switch (type) {
    case LT_CLIENT_STORE_KV:
        return "kv";
    case LT_CLIENT_STORE_LOG:
        return "log";
    default:
        return "unknown";
    }
}

/* ---- signals ---- */

static void s_on_signal(int sig)
{
    (void)sig;
    s_interrupt = 1;
}

static void s_signals_begin(lt_cli_sigsave_t *save, bool term)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = s_on_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0; /* no SA_RESTART: a wait returns early */
    s_interrupt = 0;
    sigaction(SIGINT, &sa, &save->intr);
    sigaction(SIGTERM, term ? &sa : NULL, &save->term);
}

void lt_cli_signals_begin(lt_cli_sigsave_t *save)
{
    s_signals_begin(save, true);
}

void lt_cli_signals_begin_int(lt_cli_sigsave_t *save)
{
    s_signals_begin(save, false);
}

void lt_cli_signals_end(const lt_cli_sigsave_t *save)
{
    sigaction(SIGINT, &save->intr, NULL);
    sigaction(SIGTERM, &save->term, NULL);
    s_interrupt = 0;
}

bool lt_cli_interrupted(void)
{
    return s_interrupt != 0;
}
