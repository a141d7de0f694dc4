/* The loop behind watch and follow: start the stream, print each event as
 * it comes (flushed, so a pipe sees it at once), start it again when the
 * store restarts, and stop cleanly with exit 0 on SIGINT or SIGTERM. */
#include "commands.h"

#include <string.h>

/* How long one wait for an event lasts before the stop flag is looked at
 * again (a signal usually cuts the wait short anyway). */
#define S_EVENT_POLL_MS 200

int lt_cli_stream_run(lt_cli_t *cli, const lt_cli_call_t *call, const lt_cli_stream_t *spec)
{
    int rc = 0;
    lt_client_t *c = lt_cli_client(cli, &rc);
    if (!c)
        return rc;
    uint64_t stream = 0;
    lt_err_t err = spec->start(c, call, &stream);
    if (err != LT_OK)
        return lt_cli_fail(cli, err, "%s %s", spec->what, call->store_label);
    lt_cli_sigsave_t save;
    lt_cli_signals_begin(&save);
    rc = LT_CLI_EXIT_OK;
    while (!lt_cli_interrupted()) {
        lt_client_event_t ev;
        memset(&ev, 0, sizeof ev);
        err = lt_client_next_event(c, S_EVENT_POLL_MS, &ev);
        if (lt_cli_interrupted()) {
            if (err == LT_OK)
                lt_client_event_clear(&ev);
            break;
        }
        if (err == LT_ETIMEDOUT)
            continue;
        if (err == LT_EUNAVAILABLE) {
            /* The store went away and took the stream with it. */
            lt_cli_say(0,
                       "%s %s: the store restarted; started again (what happened "
                       "meanwhile is not shown)",
                       spec->what, call->store_label);
            err = spec->start(c, call, &stream);
            if (err != LT_OK && !lt_cli_interrupted()) {
                rc = lt_cli_fail(cli, err, "%s %s", spec->what, call->store_label);
                break;
            }
            continue;
        }
        if (err == LT_EFULL) {
            lt_cli_say(0, "%s %s: events came faster than they were read; some were dropped",
                       spec->what, call->store_label);
            continue;
        }
        if (err == LT_EINVAL) {
            lt_cli_say(0, "%s %s: an event did not decode; skipped", spec->what, call->store_label);
            continue;
        }
        if (err != LT_OK) {
            rc = lt_cli_fail(cli, err, "%s %s", spec->what, call->store_label);
            break;
        }
        if (ev.stream == stream)
            spec->print(call, &ev);
        lt_client_event_clear(&ev);
    }
    lt_cli_signals_end(&save);
    if (rc == LT_CLI_EXIT_OK) {
        lt_err_t stop = lt_client_stream_stop(c, stream);
        (void)stop; /* best effort: the node drops it when the client goes */
    }
    return rc;
}
