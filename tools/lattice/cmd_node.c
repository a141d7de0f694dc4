/* `lattice node ...`: the node's status, its services, restarting one,
 * stopping the node (requests to the kernel through liblattice-client). */
#include "commands.h"

#include <inttypes.h>
#include <string.h>

#define S_MAX_SERVICES 64

void lt_cli_json_service(lt_json_t *j, const lt_client_service_t *s)
{
    lt_json_begin_object(j);
    lt_json_field_str(j, "name", s->name);
    lt_json_field_str(j, "state", lt_client_service_state_name(s->state));
    lt_json_field_u64(j, "pid", s->pid);
    lt_json_field_u64(j, "restarts", s->restarts);
    lt_json_field_u64(j, "proto", s->proto);
    lt_json_field_bool(j, "attached", s->attached);
    lt_json_field_bool(j, "in_process", s->in_process);
    lt_json_field_u64(j, "since_ms", s->since_ms);
    lt_json_field_u64(j, "queued", s->queued);
    lt_json_field_str(j, "last_exit", s->last_exit);
    lt_json_field_str(j, "fail_reason", s->fail_reason);
    lt_json_end_object(j);
}

static void s_service_line(const char *indent, const lt_client_service_t *s)
{
    printf("%s%-10s %-9s pid %-8" PRIu32 " restarts %" PRIu32, indent, s->name,
           lt_client_service_state_name(s->state), s->pid, s->restarts);
    if (s->attached)
        fputs("  attached", stdout);
    if (s->in_process)
        fputs("  in-process", stdout);
    if (s->queued)
        printf("  queued %" PRIu32, s->queued);
    if (s->last_exit[0])
        printf("  last exit: %s", s->last_exit);
    if (s->fail_reason[0])
        printf("  failed: %s", s->fail_reason);
    putchar('\n');
}

static void s_duration(char *out, size_t cap, uint64_t ms)
{
    uint64_t s = ms / 1000;
    if (s < 60)
        snprintf(out, cap, "%" PRIu64 ".%03" PRIu64 "s", s, ms % 1000);
    else if (s < 3600)
        snprintf(out, cap, "%" PRIu64 "m %02" PRIu64 "s", s / 60, s % 60);
    else if (s < 86400)
        snprintf(out, cap, "%" PRIu64 "h %02" PRIu64 "m %02" PRIu64 "s", s / 3600, s / 60 % 60,
                 s % 60);
    else
        snprintf(out, cap, "%" PRIu64 "d %02" PRIu64 "h %02" PRIu64 "m", s / 86400, s / 3600 % 24,
                 s / 60 % 60);
}

int lt_cli_cmd_node_status(lt_cli_t *cli, const lt_cli_call_t *call)
{
    int status = 0;
    lt_client_t *c = lt_cli_client(cli, &status);
    if (!c)
        return status;
    lt_client_node_status_t st;
    memset(&st, 0, sizeof st);
    lt_err_t err = lt_client_node_status(c, &st);
    if (err != LT_OK)
        return lt_cli_fail(cli, err, "node status");
    char key[65];
    lt_client_hex(st.node_key.b, sizeof st.node_key.b, key);
    size_t nsvc = st.nservices < 16 ? st.nservices : 16;
    if (call->json) {
        lt_json_t j;
        lt_json_init(&j, stdout);
        lt_json_begin_object(&j);
        lt_json_field_str(&j, "node_key", key);
        lt_json_field_str(&j, "home", st.home);
        lt_json_field_str(&j, "version", st.version);
        lt_json_field_u64(&j, "pid", st.pid);
        lt_json_field_u64(&j, "uptime_ms", st.uptime_ms);
        lt_json_key(&j, "services");
        lt_json_begin_array(&j);
        for (size_t i = 0; i < nsvc; i++)
            lt_cli_json_service(&j, &st.services[i]);
        lt_json_end_array(&j);
        lt_json_key(&j, "listen");
        lt_json_begin_array(&j);
        for (size_t i = 0; i < st.nlisten; i++)
            lt_json_string(&j, st.listen[i]);
        lt_json_end_array(&j);
        lt_json_key(&j, "links");
        lt_json_begin_array(&j);
        for (size_t i = 0; i < st.nlinks; i++) {
            const lt_client_link_t *l = &st.links[i];
            lt_json_begin_object(&j);
            lt_json_field_hex(&j, "peer", l->key.b, sizeof l->key.b);
            lt_json_field_str(&j, "direction", l->outbound ? "out" : "in");
            lt_json_field_str(&j, "address", l->address);
            lt_json_field_bool(&j, "connected", l->connected);
            lt_json_field_bool(&j, "joining", l->joining);
            lt_json_field_u64(&j, "since_ms", l->since_ms);
            lt_json_field_u64(&j, "last_seen_ms", l->last_seen_ms);
            lt_json_field_u64(&j, "bytes_in", l->bytes_in);
            lt_json_field_u64(&j, "bytes_out", l->bytes_out);
            lt_json_end_object(&j);
        }
        lt_json_end_array(&j);
        lt_json_end_object(&j);
        lt_json_end_line(&j);
        return LT_CLI_EXIT_OK;
    }
    char up[64];
    s_duration(up, sizeof up, st.uptime_ms);
    printf("node      %s\n", key);
    printf("home      %s\n", st.home);
    printf("version   %s\n", st.version);
    printf("pid       %" PRIu32 "\n", st.pid);
    printf("uptime    %s\n", up);
    printf("listen   ");
    for (size_t i = 0; i < st.nlisten; i++)
        printf(" %s", st.listen[i]);
    printf("%s\n", st.nlisten ? "" : " (none: no peer links; start the node with --listen)");
    printf("links     %zu\n", st.nlinks);
    for (size_t i = 0; i < st.nlinks; i++) {
        const lt_client_link_t *l = &st.links[i];
        char when[64] = "-";
        if (l->since_ms)
            lt_cli_time(when, sizeof when, l->since_ms, false);
        char peer[9];
        lt_cli_short(peer, l->key.b);
        printf("  %s  %-3s %-10s since %s  in %" PRIu64 " B  out %" PRIu64 " B%s%s%s\n", peer,
               l->outbound ? "out" : "in",
               l->connected  ? "connected"
               : l->outbound ? "connecting"
                             : "quiet",
               when, l->bytes_in, l->bytes_out, l->joining ? "  (joining)" : "",
               l->address[0] ? "  " : "", l->address);
    }
    printf("services  %zu\n", st.nservices);
    for (size_t i = 0; i < nsvc; i++)
        s_service_line("  ", &st.services[i]);
    return LT_CLI_EXIT_OK;
}

int lt_cli_cmd_node_services(lt_cli_t *cli, const lt_cli_call_t *call)
{
    int status = 0;
    lt_client_t *c = lt_cli_client(cli, &status);
    if (!c)
        return status;
    lt_client_service_t svc[S_MAX_SERVICES];
    size_t n = 0;
    lt_err_t err = lt_client_node_services(c, svc, S_MAX_SERVICES, &n);
    if (err != LT_OK)
        return lt_cli_fail(cli, err, "node services");
    if (n > S_MAX_SERVICES)
        n = S_MAX_SERVICES;
    if (call->json) {
        lt_json_t j;
        lt_json_init(&j, stdout);
        lt_json_begin_array(&j);
        for (size_t i = 0; i < n; i++)
            lt_cli_json_service(&j, &svc[i]);
        lt_json_end_array(&j);
        lt_json_end_line(&j);
        return LT_CLI_EXIT_OK;
    }
    for (size_t i = 0; i < n; i++)
        s_service_line("", &svc[i]);
    return LT_CLI_EXIT_OK;
}

int lt_cli_check_node_restart(const lt_cli_t *cli, const lt_cli_call_t *call)
{
    const lt_cli_arg_t *name = &call->pos[0];
    if (name->len == 0 || memchr(name->s, '\0', name->len))
        return lt_cli_usage(cli, call->cmd,
                            "SERVICE must be a service name (see: lattice node services)");
    return LT_CLI_EXIT_OK;
}

int lt_cli_cmd_node_restart(lt_cli_t *cli, const lt_cli_call_t *call)
{
    const lt_cli_arg_t *name = &call->pos[0];
    int status = 0;
    lt_client_t *c = lt_cli_client(cli, &status);
    if (!c)
        return status;
    lt_err_t err = lt_client_node_restart(c, name->s);
    if (err != LT_OK) {
        char q[LT_CLI_LABEL_MAX];
        lt_cli_quote(q, sizeof q, name->s, name->len);
        return lt_cli_fail(cli, err, "node restart %s", q);
    }
    return LT_CLI_EXIT_OK;
}

int lt_cli_cmd_node_stop(lt_cli_t *cli, const lt_cli_call_t *call)
{
    (void)call;
    int status = 0;
    lt_client_t *c = lt_cli_client(cli, &status);
    if (!c)
        return status;
    lt_err_t err = lt_client_node_stop(c);
    int rc = err == LT_OK ? LT_CLI_EXIT_OK : lt_cli_fail(cli, err, "node stop");
    /* The connection is useless from now on: the REPL reconnects. */
    lt_cli_disconnect(cli);
    return rc;
}
