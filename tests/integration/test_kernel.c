/* latticed with real processes: the kernel's own requests, routing to the
 * real lattice-store, the LTK/1 rules with raw connections, supervision
 * (crashes, backoff, restart intensity, hung services, re-adoption after a
 * kernel crash), --attach, the home's lock and modes, and the ordered stop.
 * Every wait is a polled condition with a deadline (tests/support/node.h). */
#define _GNU_SOURCE /* setresuid */
#include "ipc/frame.h"
#include "support/node.h"
#include "support/testutil.h"

#include "store/ops_codec.h"
#include "store/system_table.h"
#include "weaver/identity.h"
#include "weaver/intention.h"

#include "kernel.pb.h"
#include "store.pb.h"

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <pb_decode.h>
#include <pb_encode.h>
#include <poll.h>
#include <signal.h>
#include <time.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <sodium.h>
#include <unistd.h>
#include <zmq.h>

/* What a test started, for the cleanup after it (pass or fail). */
static lt_node_t *s_node;
static lt_node_t *s_node2;
static lt_node_t *s_node3;
static pid_t s_hand;
static char *s_libexec;
static char *s_open_dir;
static int s_gate_fd = -1;

static void s_fini(void)
{
    if (s_gate_fd >= 0)
        close(s_gate_fd);
    if (s_hand > 0) {
        kill(s_hand, SIGKILL);
        waitpid(s_hand, NULL, 0);
    }
    lt_node_destroy(&s_node3);
    lt_node_destroy(&s_node2);
    lt_node_destroy(&s_node);
    lt_test_rmtree(&s_libexec);
    lt_test_rmtree(&s_open_dir);
}

TestSuite(kernel, .fini = s_fini, .timeout = 120);

static const char *const s_store_only[] = {"store", NULL};
/* For tests that count the store's requests in flight or queued: the sync
 * and gossip services would send it requests of their own as they start. */
static const char *const s_run_store_only[] = {"--services", "store", NULL};

static lt_node_t *s_start_store(const char *const *args, const char *const *env)
{
    lt_node_opts_t o = {.args = args, .env = env, .ready = s_store_only};
    return lt_node_start(&o);
}

static const char *s_state(int st)
{
    static const char *const names[] = {"none",   "starting", "ready",  "backoff",
                                        "failed", "stopped",  "waiting"};
    return st >= 0 && st <= 6 ? names[st] : "?";
}

/* A request that must be answered; returns the status, fills reply. */
static uint32_t s_call(lt_node_t *n, const char *to, uint32_t type, const void *body, size_t len,
                       lt_node_frame_t *reply)
{
    lt_err_t rc = lt_node_request(n, to, type, body, len, 0, reply);
    cr_assert(rc == LT_OK, "no reply from %s (type %u): %s", to, type, lt_errname(rc));
    return reply->status;
}

static void s_node_info_ok(lt_node_t *n)
{
    lt_node_frame_t r;
    uint32_t st = s_call(n, "store", lattice_store_StoreMsgType_NODE_INFO, NULL, 0, &r);
    char line[256];
    lt_node_error_text(&r, line, sizeof line);
    cr_assert_eq(st, LT_OK, "NODE_INFO: %s: %s", lt_errname((lt_err_t)st), line);
    cr_assert_str_eq(r.addr, "store");
    lt_node_frame_clear(&r);
}

static void s_write_file(const char *path, const char *text, mode_t mode)
{
    FILE *f = fopen(path, "w");
    cr_assert(f, "create %s: %s", path, strerror(errno));
    fputs(text, f);
    fclose(f);
    cr_assert(chmod(path, mode) == 0);
}

/* A libexec directory whose lattice-store is the given shell script. */
static const char *s_libexec_with(const char *script)
{
    s_libexec = lt_test_tmpdir("libexec");
    char path[512];
    snprintf(path, sizeof path, "%s/lattice-store", s_libexec);
    s_write_file(path, script, 0755);
    return s_libexec;
}

/* Starts a node whose lattice-store is the given script (NULL: a libexec
 * folder without one), with extra latticed arguments (may be NULL). */
static void s_start_with_script(const char *script, const char *const *args)
{
    const char *libexec = script ? s_libexec_with(script) : (s_libexec = lt_test_tmpdir("empty"));
    char env[600];
    snprintf(env, sizeof env, "LATTICE_LIBEXEC=%s", libexec);
    const char *envs[] = {env, NULL};
    lt_node_opts_t o = {.args = args, .env = envs};
    s_node = lt_node_start(&o);
}

/* ---- the kernel's own requests ---- */

Test(kernel, ping_status_and_services_have_their_shapes)
{
    static const char *const store_only[] = {"--services", "store", NULL};
    s_node = s_start_store(store_only, NULL);
    cr_assert_eq(lt_node_ping(s_node, 0), LT_OK);

    lt_node_frame_t r;
    cr_assert_eq(s_call(s_node, "kernel", lattice_kernel_KernelMsgType_KERNEL_PING, NULL, 0, &r),
                 LT_OK);
    cr_assert_eq(r.len, 0);
    cr_assert_str_eq(r.addr, "kernel");
    lt_node_frame_clear(&r);

    cr_assert_eq(s_call(s_node, "kernel", lattice_kernel_KernelMsgType_KERNEL_STATUS, NULL, 0, &r),
                 LT_OK);
    lattice_kernel_NodeStatus st = lattice_kernel_NodeStatus_init_zero;
    pb_istream_t is = pb_istream_from_buffer(r.body, r.len);
    cr_assert(pb_decode(&is, lattice_kernel_NodeStatus_fields, &st));
    lt_node_frame_clear(&r);
    /* The node key is the one in <home>/identity.key. */
    char keypath[512];
    snprintf(keypath, sizeof keypath, "%s/identity.key", s_node->home);
    lt_identity_t id;
    lt_errbuf_t eb;
    cr_assert_eq(lt_crypto_init(), LT_OK);
    cr_assert_eq(lt_identity_load_or_create(keypath, &id, &eb), LT_OK, "%s", eb.msg);
    cr_assert_eq(st.node_key.size, 32);
    cr_assert(memcmp(st.node_key.bytes, id.pk.b, 32) == 0);
    char real[4096];
    cr_assert(realpath(s_node->home, real));
    cr_assert_str_eq(st.home, real);
    cr_assert_eq(st.pid, (uint32_t)s_node->pid);
    cr_assert_str_eq(st.version, "0.1.0");
    cr_assert_gt(st.uptime_ms, 0);
    cr_assert_eq(st.services_count, 1);
    cr_assert_str_eq(st.services[0].name, "store");
    cr_assert_eq(st.services[0].state, lattice_kernel_ServiceState_SERVICE_READY);

    lt_node_service_t svc[16];
    cr_assert_eq(lt_node_services(s_node, svc, 16), 1);
    cr_assert_str_eq(svc[0].name, "store");
    cr_assert_eq(svc[0].state, LT_NODE_READY);
    cr_assert_gt(svc[0].pid, 0);
    cr_assert(lt_test_alive((pid_t)svc[0].pid));
    cr_assert_eq(svc[0].restarts, 0);
    cr_assert_eq(svc[0].attached, false);
    cr_assert_geq(svc[0].proto, 1);
    cr_assert_gt(svc[0].since_ms, 0);
    cr_assert_str_eq(svc[0].last_exit, "");

    /* The store and the kernel share the node key. */
    cr_assert_eq(s_call(s_node, "store", lattice_store_StoreMsgType_NODE_INFO, NULL, 0, &r), LT_OK);
    lattice_store_NodeInfo ni = lattice_store_NodeInfo_init_zero;
    is = pb_istream_from_buffer(r.body, r.len);
    cr_assert(pb_decode(&is, lattice_store_NodeInfo_fields, &ni));
    cr_assert(memcmp(ni.node_key.bytes, id.pk.b, 32) == 0);
    lt_node_frame_clear(&r);

    /* A kernel request type that does not exist. */
    cr_assert_eq(s_call(s_node, "kernel", 999, NULL, 0, &r), LT_EINVAL);
    char line[256];
    lt_node_error_text(&r, line, sizeof line);
    cr_assert(strstr(line, "no request of type 999"), "%s", line);
    lt_node_frame_clear(&r);
    cr_assert_eq(lt_node_stop(s_node), 0);
}

Test(kernel, help_version_and_bad_options)
{
    const char *latticed = lt_test_env_path("LT_LATTICED");
    lt_test_run_t r;
    const char *help[] = {latticed, "--help", NULL};
    lt_test_run(help, NULL, NULL, 0, &r);
    cr_assert_eq(r.status, 0);
    cr_assert(strstr(r.out, "--max-restarts"));
    lt_test_run_free(&r);

    const char *version[] = {latticed, "--version", NULL};
    lt_test_run(version, NULL, NULL, 0, &r);
    cr_assert_eq(r.status, 0);
    cr_assert_str_eq(r.out, "latticed 0.1.0\n");
    lt_test_run_free(&r);

    const char *bad_service[] = {latticed, "--services", "store,bogus", NULL};
    lt_test_run(bad_service, NULL, NULL, 0, &r);
    cr_assert_eq(r.status, 2);
    cr_assert_str_eq(r.err, "latticed: no service named 'bogus' (known: store, sync, gossip)\n");
    lt_test_run_free(&r);

    const char *bad_attach[] = {latticed, "--attach", "nope", NULL};
    lt_test_run(bad_attach, NULL, NULL, 0, &r);
    cr_assert_eq(r.status, 2);
    cr_assert(strstr(r.err, "no service named 'nope'"), "%s", r.err);
    lt_test_run_free(&r);

    const char *bad_number[] = {latticed, "--max-restarts", "-1", NULL};
    lt_test_run(bad_number, NULL, NULL, 0, &r);
    cr_assert_eq(r.status, 2);
    cr_assert(strstr(r.err, "--max-restarts needs a whole number"), "%s", r.err);
    lt_test_run_free(&r);
}

/* ---- routing to the real store ---- */

Test(kernel, requests_reach_the_real_store)
{
    s_node = s_start_store(NULL, NULL);
    s_node_info_ok(s_node);

    lattice_store_StoreCreate req = lattice_store_StoreCreate_init_zero;
    req.type = lattice_store_StoreType_STORE_TYPE_KV;
    snprintf(req.name, sizeof req.name, "routed");
    uint8_t buf[512];
    pb_ostream_t os = pb_ostream_from_buffer(buf, sizeof buf);
    cr_assert(pb_encode(&os, lattice_store_StoreCreate_fields, &req));
    lt_node_frame_t r;
    cr_assert_eq(
        s_call(s_node, "store", lattice_store_StoreMsgType_STORE_CREATE, buf, os.bytes_written, &r),
        LT_OK);
    lattice_store_StoreCreated created = lattice_store_StoreCreated_init_zero;
    pb_istream_t is = pb_istream_from_buffer(r.body, r.len);
    cr_assert(pb_decode(&is, lattice_store_StoreCreated_fields, &created));
    cr_assert_eq(created.store.size, 16);
    lt_node_frame_clear(&r);

    lattice_store_StoreRef ref = lattice_store_StoreRef_init_zero;
    ref.store.size = created.store.size;
    memcpy(ref.store.bytes, created.store.bytes, created.store.size);
    os = pb_ostream_from_buffer(buf, sizeof buf);
    cr_assert(pb_encode(&os, lattice_store_StoreRef_fields, &ref));
    cr_assert_eq(
        s_call(s_node, "store", lattice_store_StoreMsgType_STORE_INFO, buf, os.bytes_written, &r),
        LT_OK);
    lattice_store_StoreInfo info = lattice_store_StoreInfo_init_zero;
    is = pb_istream_from_buffer(r.body, r.len);
    cr_assert(pb_decode(&is, lattice_store_StoreInfo_fields, &info));
    cr_assert_str_eq(info.name, "routed");
    lt_node_frame_clear(&r);
    cr_assert_eq(lt_node_stop(s_node), 0);
}

Test(kernel, unknown_and_remote_addresses_are_answered_by_the_kernel)
{
    s_node = s_start_store(NULL, NULL);
    lt_node_frame_t r;
    char line[256];
    cr_assert_eq(s_call(s_node, "nosuch", 7, "x", 1, &r), LT_ENOTFOUND);
    cr_assert_str_eq(r.addr, "nosuch");
    cr_assert_eq(r.type, 7);
    lt_node_error_text(&r, line, sizeof line);
    cr_assert_str_eq(line, "no service named nosuch on this node");
    lt_node_frame_clear(&r);

    char remote[LT_ADDR_MAX];
    snprintf(remote, sizeof remote, "store@%064d", 0);
    cr_assert_eq(s_call(s_node, remote, 40, NULL, 0, &r), LT_EUNAVAILABLE);
    cr_assert_str_eq(r.addr, remote);
    lt_node_error_text(&r, line, sizeof line);
    cr_assert(strstr(line, "no link to that node"), "%s", line);
    lt_node_frame_clear(&r);

    /* A client address that is not connected. */
    cr_assert_eq(s_call(s_node, "client:0011223344", 1, NULL, 0, &r), LT_ENOTFOUND);
    lt_node_frame_clear(&r);
    cr_assert_eq(lt_node_stop(s_node), 0);
}

Test(kernel, services_option_selects_what_runs)
{
    const char *none[] = {"--services", "none", NULL};
    lt_node_opts_t o = {.args = none};
    s_node = lt_node_start(&o);
    lt_node_service_t svc[16];
    cr_assert_eq(lt_node_services(s_node, svc, 16), 0);
    lt_node_frame_t r;
    cr_assert_eq(s_call(s_node, "store", 40, NULL, 0, &r), LT_ENOTFOUND);
    lt_node_frame_clear(&r);
    cr_assert_eq(lt_node_stop(s_node), 0);
    lt_node_destroy(&s_node);

    const char *empty[] = {"--services", "", NULL};
    o.args = empty;
    s_node = lt_node_start(&o);
    cr_assert_eq(lt_node_services(s_node, svc, 16), 0);
    cr_assert_eq(lt_node_stop(s_node), 0);
    lt_node_destroy(&s_node);

    const char *store[] = {"--services", "store", NULL};
    s_node = s_start_store(store, NULL);
    cr_assert_eq(lt_node_services(s_node, svc, 16), 1);
    s_node_info_ok(s_node);
    cr_assert_eq(lt_node_stop(s_node), 0);
}

/* ---- the LTK/1 rules, with raw connections as a fake service ---- */

Test(kernel, addresses_are_rewritten_to_the_sender)
{
    /* The store alone: the sync and gossip services would ask it things
     * of their own as they start. */
    const char *attach[] = {"--services", "store", "--attach", "store", NULL};
    lt_node_opts_t o = {.args = attach};
    s_node = lt_node_start(&o);

    lt_node_conn_t *svc = lt_node_conn_open(s_node->home);
    lt_node_conn_ready(svc, "store", 7, (uint32_t)getpid());
    lt_node_want_t ready = {.state = LT_NODE_READY};
    lt_node_service_t info;
    cr_assert(lt_node_wait_service(s_node, "store", &ready, 0, &info));
    cr_assert_eq(info.proto, 7);
    cr_assert(info.attached);
    /* The kernel heartbeats a new registration at once. */
    lt_node_frame_t f;
    cr_assert_eq(lt_node_conn_recv(svc, 0, &f), LT_OK);
    cr_assert_eq(f.cmd, LT_FRAME_HEARTBEAT);
    lt_node_frame_clear(&f);

    lt_node_conn_t *client = lt_node_conn_open(s_node->home);
    lt_frame_t req = {.cmd = LT_FRAME_REQUEST,
                      .corr = 0x0102030405060708ull,
                      .type = 9,
                      .body = (const uint8_t *)"hi",
                      .len = 2};
    snprintf(req.addr, sizeof req.addr, "store");
    lt_node_conn_send(client, &req);
    do {
        lt_node_frame_clear(&f);
        cr_assert_eq(lt_node_conn_recv(svc, 0, &f), LT_OK);
    } while (f.cmd == LT_FRAME_HEARTBEAT);
    cr_assert_eq(f.cmd, LT_FRAME_REQUEST);
    cr_assert(lt_frame_client_addr_valid(f.addr), "%s", f.addr);
    cr_assert_eq(f.corr, 0x0102030405060708ull);
    cr_assert_eq(f.type, 9);
    cr_assert_eq(f.len, 2);
    cr_assert(memcmp(f.body, "hi", 2) == 0);
    char client_addr[LT_ADDR_MAX];
    snprintf(client_addr, sizeof client_addr, "%s", f.addr);
    lt_node_frame_clear(&f);
    cr_assert(lt_node_wait_service(s_node, "store", &ready, 0, &info));
    cr_assert_eq(info.inflight, 1);

    /* An event and the reply go back to the client address and arrive
     * from "store". */
    lt_frame_t ev = {.cmd = LT_FRAME_EVENT, .corr = req.corr, .type = 100};
    snprintf(ev.addr, sizeof ev.addr, "%s", client_addr);
    lt_node_conn_send(svc, &ev);
    lt_frame_t rep = {.cmd = LT_FRAME_REPLY,
                      .corr = req.corr,
                      .type = 9,
                      .status = LT_EEXIST,
                      .body = (const uint8_t *)"ok",
                      .len = 2};
    snprintf(rep.addr, sizeof rep.addr, "%s", client_addr);
    lt_node_conn_send(svc, &rep);
    cr_assert_eq(lt_node_conn_recv(client, 0, &f), LT_OK);
    cr_assert_eq(f.cmd, LT_FRAME_EVENT);
    cr_assert_str_eq(f.addr, "store");
    lt_node_frame_clear(&f);
    cr_assert_eq(lt_node_conn_recv(client, 0, &f), LT_OK);
    cr_assert_eq(f.cmd, LT_FRAME_REPLY);
    cr_assert_str_eq(f.addr, "store");
    cr_assert_eq(f.corr, req.corr);
    cr_assert_eq(f.status, LT_EEXIST);
    cr_assert_eq(f.len, 2);
    lt_node_frame_clear(&f);
    cr_assert(lt_node_wait_service(s_node, "store", &ready, 0, &info));
    cr_assert_eq(info.inflight, 0);

    /* A request in flight when the service says DISCONNECT is answered
     * unavailable at once, and the attached slot waits again. */
    req.corr++;
    lt_node_conn_send(client, &req);
    do {
        lt_node_frame_clear(&f);
        cr_assert_eq(lt_node_conn_recv(svc, 0, &f), LT_OK);
    } while (f.cmd != LT_FRAME_REQUEST);
    lt_node_frame_clear(&f);
    lt_frame_t bye = {.cmd = LT_FRAME_DISCONNECT};
    lt_node_conn_send(svc, &bye);
    cr_assert_eq(lt_node_conn_recv(client, 0, &f), LT_OK);
    cr_assert_eq(f.cmd, LT_FRAME_REPLY);
    cr_assert_eq(f.corr, req.corr);
    cr_assert_eq(f.status, LT_EUNAVAILABLE);
    char line[256];
    lt_node_error_text(&f, line, sizeof line);
    cr_assert(strstr(line, "went away before answering"), "%s", line);
    lt_node_frame_clear(&f);
    lt_node_want_t waiting = {.state = LT_NODE_WAITING};
    cr_assert(lt_node_wait_service(s_node, "store", &waiting, 0, NULL));

    lt_node_conn_close(&client);
    lt_node_conn_close(&svc);
    cr_assert_eq(lt_node_stop(s_node), 0);
}

Test(kernel, newest_ready_wins_and_unknown_heartbeats_get_disconnect)
{
    const char *attach[] = {"--services", "none", "--attach", "store", NULL};
    lt_node_opts_t o = {.args = attach};
    s_node = lt_node_start(&o);

    lt_node_conn_t *stranger = lt_node_conn_open(s_node->home);
    lt_frame_t hb = {.cmd = LT_FRAME_HEARTBEAT};
    lt_node_conn_send(stranger, &hb);
    lt_node_frame_t f;
    cr_assert_eq(lt_node_conn_recv(stranger, 0, &f), LT_OK);
    cr_assert_eq(f.cmd, LT_FRAME_DISCONNECT);
    lt_node_frame_clear(&f);

    lt_node_conn_t *a = lt_node_conn_open(s_node->home);
    lt_node_conn_t *b = lt_node_conn_open(s_node->home);
    lt_node_conn_ready(a, "store", 1, 0);
    lt_node_want_t ready = {.state = LT_NODE_READY};
    cr_assert(lt_node_wait_service(s_node, "store", &ready, 0, NULL));
    lt_node_conn_ready(b, "store", 2, 0);
    /* a is told to go; b holds the name. */
    do {
        lt_node_frame_clear(&f);
        cr_assert_eq(lt_node_conn_recv(a, 0, &f), LT_OK);
    } while (f.cmd == LT_FRAME_HEARTBEAT);
    cr_assert_eq(f.cmd, LT_FRAME_DISCONNECT);
    lt_node_frame_clear(&f);
    lt_node_service_t info;
    cr_assert(lt_node_wait_service(s_node, "store", &ready, 0, &info));
    cr_assert_eq(info.proto, 2);

    /* A READY for a service this node does not run is ignored. */
    lt_node_conn_ready(stranger, "sync", 1, 0);
    lt_node_conn_ready(stranger, "kernel", 1, 0);
    lt_node_service_t all[16];
    cr_assert_eq(lt_node_services(s_node, all, 16), 1);
    cr_assert(lt_node_wait_log(s_node, "READY from 'sync'", 0));

    lt_node_conn_close(&a);
    lt_node_conn_close(&b);
    lt_node_conn_close(&stranger);
    cr_assert_eq(lt_node_stop(s_node), 0);
}

Test(kernel, malformed_messages_leave_the_kernel_serving)
{
    s_node = s_start_store(NULL, NULL);
    lt_node_conn_t *bad = lt_node_conn_open(s_node->home);
    uint8_t noise[64];
    for (size_t i = 0; i < sizeof noise; i++)
        noise[i] = (uint8_t)(i * 37 + 11);
    const uint8_t ltk2[] = {'L', 'T', 'K', '2'};
    const uint8_t ltk1[] = {'L', 'T', 'K', '1'};
    const uint8_t req[] = {0x02};
    const uint8_t bogus_cmd[] = {0x09};
    const uint8_t corr[8] = {1};
    const uint8_t u32[4] = {0};
    const uint8_t bad_status[4] = {1};
    lt_frame_part_t cases[][8] = {
        {{noise, sizeof noise}},
        {{noise, 4}, {noise, 1}},
        {{ltk2, 4}, {req, 1}},
        {{ltk1, 4}, {bogus_cmd, 1}},
        {{ltk1, 4}, {req, 1}, {(const uint8_t *)"store", 5}},
        {{ltk1, 4},
         {req, 1},
         {(const uint8_t *)"store", 5},
         {corr, 7},
         {u32, 4},
         {u32, 4},
         {noise, 1}},
        {{ltk1, 4},
         {req, 1},
         {(const uint8_t *)"STORE!", 6},
         {corr, 8},
         {u32, 4},
         {u32, 4},
         {noise, 1}},
        {{ltk1, 4},
         {req, 1},
         {(const uint8_t *)"store", 5},
         {corr, 8},
         {u32, 4},
         {bad_status, 4},
         {noise, 1}},
        {{ltk1, 4},
         {req, 1},
         {(const uint8_t *)"store", 5},
         {corr, 8},
         {u32, 4},
         {u32, 4},
         {noise, 1},
         {noise, 1}},
    };
    const size_t counts[] = {1, 2, 2, 2, 3, 7, 7, 7, 8};
    for (size_t i = 0; i < sizeof counts / sizeof counts[0]; i++)
        lt_node_conn_send_parts(bad, cases[i], counts[i]);
    /* A part past ZMQ_MAXMSGSIZE: libzmq drops that connection. */
    size_t big_len = LT_FRAME_MAX_PART + 1;
    uint8_t *big = calloc(1, big_len);
    lt_frame_part_t huge[] = {{ltk1, 4},     {req, 1}, {(const uint8_t *)"store", 5},
                              {corr, 8},     {u32, 4}, {u32, 4},
                              {big, big_len}};
    lt_node_conn_send_parts(bad, huge, 7);
    free(big);

    /* Nothing of it was answered... */
    lt_node_frame_t f;
    cr_assert_eq(lt_node_conn_recv(bad, 300, &f), LT_ETIMEDOUT);
    /* ...and the kernel and the store still serve. */
    cr_assert_eq(lt_node_ping(s_node, 0), LT_OK);
    s_node_info_ok(s_node);
    cr_assert(lt_node_wait_log(s_node, "dropped", 0));
    lt_node_conn_close(&bad);
    cr_assert_eq(lt_node_stop(s_node), 0);
}

/* ---- the home ---- */

Test(kernel, home_socket_and_pid_file_are_private)
{
    s_node = s_start_store(NULL, NULL);
    struct stat st;
    cr_assert(stat(s_node->home, &st) == 0);
    cr_assert_eq(st.st_mode & 0777, 0700, "home mode %o", st.st_mode & 0777);
    char path[512];
    snprintf(path, sizeof path, "%s/kernel.sock", s_node->home);
    cr_assert(stat(path, &st) == 0);
    cr_assert(S_ISSOCK(st.st_mode));
    cr_assert_eq(st.st_mode & 0777, 0600, "socket mode %o", st.st_mode & 0777);
    snprintf(path, sizeof path, "%s/latticed.pid", s_node->home);
    FILE *f = fopen(path, "r");
    cr_assert(f);
    int pid = 0;
    cr_assert_eq(fscanf(f, "%d", &pid), 1);
    fclose(f);
    cr_assert_eq(pid, s_node->pid);
    cr_assert_eq(lt_node_stop(s_node), 0);

    /* A home open to others is refused, not fixed. */
    char *wide = lt_test_tmpdir("wide");
    cr_assert(chmod(wide, 0755) == 0);
    const char *argv[] = {lt_test_env_path("LT_LATTICED"), "--home", wide, NULL};
    lt_test_run_t r;
    lt_test_run(argv, NULL, NULL, 0, &r);
    cr_assert_eq(r.status, 1);
    cr_assert(strstr(r.err, "mode 0755") && strstr(r.err, "chmod 700"), "%s", r.err);
    lt_test_run_free(&r);
    snprintf(path, sizeof path, "%s/kernel.sock", wide);
    cr_assert(access(path, F_OK) != 0);
    lt_test_rmtree(&wide);
}

Test(kernel, a_second_kernel_on_the_same_home_is_refused_at_once)
{
    s_node = s_start_store(NULL, NULL);
    uint32_t store_pid = lt_node_service_pid(s_node, "store");
    const char *argv[] = {lt_test_env_path("LT_LATTICED"), "--home", s_node->home, NULL};
    lt_test_run_t r;
    lt_test_run(argv, NULL, NULL, 5000, &r);
    cr_assert_not(r.timed_out);
    cr_assert_eq(r.status, 1);
    char want[256];
    snprintf(want, sizeof want, "another latticed (pid %d) is running on home", s_node->pid);
    cr_assert(strstr(r.err, want), "%s", r.err);
    /* One line, nothing else. */
    cr_assert_eq(strchr(r.err, '\n'), r.err + r.err_len - 1, "%s", r.err);
    lt_test_run_free(&r);
    /* Without --home, $LATTICE_HOME names the same home: refused alike. */
    const char *bare[] = {lt_test_env_path("LT_LATTICED"), NULL};
    char env[600];
    snprintf(env, sizeof env, "LATTICE_HOME=%s", s_node->home);
    const char *by_env[] = {env, NULL};
    lt_test_run(bare, by_env, NULL, 5000, &r);
    cr_assert_eq(r.status, 1);
    cr_assert(strstr(r.err, want), "%s", r.err);
    lt_test_run_free(&r);

    /* The first kernel still serves, with the same store. */
    cr_assert_eq(lt_node_ping(s_node, 0), LT_OK);
    s_node_info_ok(s_node);
    cr_assert_eq(lt_node_service_pid(s_node, "store"), store_pid);
    cr_assert_eq(lt_node_stop(s_node), 0);
}

Test(kernel, the_socket_refuses_other_users)
{
    if (getuid() != 0)
        cr_skip_test("needs root to connect as another user");
    /* A home another user can reach, so only the uid filter stands (the
     * suite's own temporary directory is private). */
    char tmpl[] = "/tmp/lt-uid-XXXXXX";
    cr_assert(mkdtemp(tmpl));
    s_open_dir = strdup(tmpl);
    char home[600];
    snprintf(home, sizeof home, "%s/home", s_open_dir);
    lt_node_opts_t o = {.home = home, .ready = s_store_only};
    s_node = lt_node_start(&o);
    cr_assert(chmod(s_open_dir, 0711) == 0);
    cr_assert(chmod(home, 0711) == 0);
    char sock[700];
    snprintf(sock, sizeof sock, "%s/kernel.sock", home);
    cr_assert(chmod(sock, 0666) == 0);

    /* Connects raw and reports whether libzmq greeted (1) or closed (0). */
    int results[2];
    for (int as_nobody = 0; as_nobody < 2; as_nobody++) {
        int fds[2];
        cr_assert(pipe(fds) == 0);
        pid_t pid = fork();
        cr_assert(pid >= 0);
        if (pid == 0) {
            if (as_nobody && setresuid(65534, 65534, 65534) != 0)
                _exit(3);
            int s = socket(AF_UNIX, SOCK_STREAM, 0);
            struct sockaddr_un sa = {.sun_family = AF_UNIX};
            memcpy(sa.sun_path, sock, strlen(sock) + 1);
            if (connect(s, (struct sockaddr *)&sa, sizeof sa) != 0)
                _exit(4);
            struct pollfd p = {s, POLLIN, 0};
            char b[16];
            char verdict = '?';
            if (poll(&p, 1, 5000) == 1)
                verdict = read(s, b, sizeof b) > 0 ? 'G' : 'C';
            if (write(fds[1], &verdict, 1) != 1)
                _exit(5);
            _exit(0);
        }
        close(fds[1]);
        char v = 0;
        ssize_t got = read(fds[0], &v, 1);
        close(fds[0]);
        int status = 0;
        waitpid(pid, &status, 0);
        cr_assert_eq(got, 1, "the probe failed (exit %d)", WEXITSTATUS(status));
        results[as_nobody] = v;
    }
    cr_assert_eq(results[0], 'G', "the owner's connection was not greeted");
    cr_assert_eq(results[1], 'C', "another user's connection was not closed");
    cr_assert_eq(lt_node_ping(s_node, 0), LT_OK);
    cr_assert_eq(lt_node_stop(s_node), 0);
}

/* ---- supervision ---- */

Test(kernel, a_killed_store_is_restarted_and_serves_again)
{
    s_node = s_start_store(NULL, NULL);
    uint32_t pid = lt_node_service_pid(s_node, "store");
    lt_test_kill9((pid_t)pid);
    lt_node_want_t want = {.state = LT_NODE_READY, .pid_not = pid, .min_restarts = 1};
    lt_node_service_t info;
    cr_assert(lt_node_wait_service(s_node, "store", &want, 0, &info), "state %s",
              s_state(info.state));
    cr_assert_eq(info.restarts, 1);
    cr_assert_str_eq(info.last_exit, "signal 9");
    s_node_info_ok(s_node);
    cr_assert(lt_node_log_contains(s_node, "down (signal 9); restarting"));
    cr_assert_eq(lt_node_stop(s_node), 0);
}

Test(kernel, restart_intensity_exceeded_fails_the_service)
{
    const char *args[] = {"--max-restarts", "2", "--restart-window", "60", NULL};
    s_node = s_start_store(args, NULL);
    lt_node_service_t info;
    for (uint32_t i = 1; i <= 2; i++) {
        uint32_t pid = lt_node_service_pid(s_node, "store");
        lt_test_kill9((pid_t)pid);
        lt_node_want_t want = {.state = LT_NODE_READY, .pid_not = pid, .min_restarts = i};
        cr_assert(lt_node_wait_service(s_node, "store", &want, 0, &info), "restart %u", i);
    }
    uint32_t pid = lt_node_service_pid(s_node, "store");
    lt_test_kill9((pid_t)pid);
    lt_node_want_t failed = {.state = LT_NODE_FAILED};
    cr_assert(lt_node_wait_service(s_node, "store", &failed, 0, &info), "state %s",
              s_state(info.state));
    cr_assert_eq(info.pid, 0);
    cr_assert_eq(info.restarts, 2);
    cr_assert(lt_node_log_contains(s_node, "failed: more than 2 restarts in 60 s"));

    /* Failed at once, and the kernel still answers. */
    lt_node_frame_t r;
    cr_assert_eq(s_call(s_node, "store", 40, NULL, 0, &r), LT_EFAILED);
    char line[256];
    lt_node_error_text(&r, line, sizeof line);
    cr_assert(strstr(line, "service store has failed"), "%s", line);
    lt_node_frame_clear(&r);
    cr_assert_eq(lt_node_ping(s_node, 0), LT_OK);
    cr_assert_eq(s_call(s_node, "kernel", lattice_kernel_KernelMsgType_KERNEL_STATUS, NULL, 0, &r),
                 LT_OK);
    lt_node_frame_clear(&r);

    /* RESTART gives a failed service a fresh start. */
    lattice_kernel_ServiceRef ref = {"store"};
    uint8_t buf[64];
    pb_ostream_t os = pb_ostream_from_buffer(buf, sizeof buf);
    cr_assert(pb_encode(&os, lattice_kernel_ServiceRef_fields, &ref));
    cr_assert_eq(s_call(s_node, "kernel", lattice_kernel_KernelMsgType_KERNEL_RESTART, buf,
                        os.bytes_written, &r),
                 LT_OK);
    lt_node_frame_clear(&r);
    lt_node_want_t ready = {.state = LT_NODE_READY};
    cr_assert(lt_node_wait_service(s_node, "store", &ready, 0, &info));
    s_node_info_ok(s_node);
    cr_assert_eq(lt_node_stop(s_node), 0);
}

Test(kernel, a_service_that_always_crashes_fails_after_backoff)
{
    const char *args[] = {"--max-restarts", "3", NULL};
    s_start_with_script("#!/bin/sh\nexit 1\n", args);
    lt_node_want_t failed = {.state = LT_NODE_FAILED};
    lt_node_service_t info;
    cr_assert(lt_node_wait_service(s_node, "store", &failed, 0, &info), "state %s",
              s_state(info.state));
    cr_assert_eq(info.restarts, 3);
    cr_assert_str_eq(info.last_exit, "exit 1");
    /* First restart at once, then 10 ms and 20 ms of backoff. */
    cr_assert(lt_node_log_contains(s_node, "down (exit 1); restarting in 10 ms"));
    cr_assert(lt_node_log_contains(s_node, "down (exit 1); restarting in 20 ms"));
    cr_assert_eq(lt_node_ping(s_node, 0), LT_OK);
    cr_assert_eq(lt_node_stop(s_node), 0);
}

Test(kernel, a_service_that_never_registers_is_killed_as_hung)
{
    /* exec: the kernel accepts READY only from the pid it spawned, and a
     * sleep never sends one. */
    const char *args[] = {"--start-timeout", "200", "--max-restarts", "1", NULL};
    s_start_with_script("#!/bin/sh\nexec sleep 600\n", args);
    lt_node_want_t failed = {.state = LT_NODE_FAILED};
    lt_node_service_t info;
    cr_assert(lt_node_wait_service(s_node, "store", &failed, 0, &info), "state %s",
              s_state(info.state));
    cr_assert_eq(info.restarts, 1);
    cr_assert_str_eq(info.last_exit, "no READY in time");
    cr_assert(lt_node_log_contains(s_node, "did not register within 200 ms"));
    cr_assert_eq(lt_node_ping(s_node, 0), LT_OK);
    cr_assert_eq(lt_node_stop(s_node), 0);
}

Test(kernel, exit_100_is_permanent)
{
    s_start_with_script("#!/bin/sh\nexit 100\n", NULL);
    lt_node_want_t failed = {.state = LT_NODE_FAILED};
    lt_node_service_t info;
    cr_assert(lt_node_wait_service(s_node, "store", &failed, 0, &info));
    cr_assert_eq(info.restarts, 0);
    cr_assert_str_eq(info.last_exit, "exit 100");
    lt_node_frame_t r;
    cr_assert_eq(s_call(s_node, "store", 40, NULL, 0, &r), LT_EFAILED);
    char line[256];
    lt_node_error_text(&r, line, sizeof line);
    cr_assert(strstr(line, "permanent"), "%s", line);
    lt_node_frame_clear(&r);
    cr_assert_eq(lt_node_stop(s_node), 0);
}

Test(kernel, a_missing_program_fails_with_its_path)
{
    s_start_with_script(NULL, NULL);
    lt_node_want_t failed = {.state = LT_NODE_FAILED};
    cr_assert(lt_node_wait_service(s_node, "store", &failed, 0, NULL));
    cr_assert(lt_node_log_contains(s_node, "cannot run"));
    cr_assert_eq(lt_node_stop(s_node), 0);
}

/* A lattice-store that waits at a gate (a FIFO) when a "hold" file exists,
 * then execs the real one (same pid). */
static void s_gated_store(char *env, size_t cap, char *hold, char *gate, size_t pcap)
{
    s_libexec = lt_test_tmpdir("gate");
    snprintf(hold, pcap, "%s/hold", s_libexec);
    snprintf(gate, pcap, "%s/gate", s_libexec);
    cr_assert(mkfifo(gate, 0600) == 0);
    char script[2048];
    snprintf(script, sizeof script,
             "#!/bin/sh\nif [ -e '%s' ]; then read _ < '%s'; fi\nexec '%s' \"$@\"\n", hold, gate,
             lt_test_env_path("LT_LATTICE_STORE"));
    char path[600];
    snprintf(path, sizeof path, "%s/lattice-store", s_libexec);
    s_write_file(path, script, 0755);
    snprintf(env, cap, "LATTICE_LIBEXEC=%s", s_libexec);
}

/* Opens the gate: the fd stays open until cleanup so the line waits in the
 * FIFO even when the script has not opened it yet. */
static void s_open_gate(const char *hold, const char *gate)
{
    cr_assert(unlink(hold) == 0);
    s_gate_fd = open(gate, O_RDWR);
    cr_assert(s_gate_fd >= 0);
    cr_assert_eq(write(s_gate_fd, "go\n", 3), 3);
}

Test(kernel, requests_queued_while_the_store_restarts_are_delivered_in_order)
{
    char env[700], hold[600], gate[600];
    s_gated_store(env, sizeof env, hold, gate, sizeof hold);
    const char *envs[] = {env, NULL};
    s_node = s_start_store(s_run_store_only, envs);
    uint32_t pid = lt_node_service_pid(s_node, "store");

    s_write_file(hold, "", 0600);
    lt_test_kill9((pid_t)pid);
    lt_node_want_t starting = {.state = LT_NODE_STARTING, .pid_not = pid};
    cr_assert(lt_node_wait_service(s_node, "store", &starting, 0, NULL));

    lt_node_conn_t *c = lt_node_conn_open(s_node->home);
    for (uint64_t i = 1; i <= 5; i++) {
        lt_frame_t req = {.cmd = LT_FRAME_REQUEST, .corr = i, .type = 40};
        snprintf(req.addr, sizeof req.addr, "store");
        lt_node_conn_send(c, &req);
    }
    lt_node_frame_t f;
    cr_assert_eq(lt_node_conn_recv(c, 200, &f), LT_ETIMEDOUT, "answered while restarting");
    lt_node_service_t info;
    cr_assert(lt_node_service(s_node, "store", &info));
    cr_assert_eq(info.queued, 5);

    s_open_gate(hold, gate);
    for (uint64_t i = 1; i <= 5; i++) {
        cr_assert_eq(lt_node_conn_recv(c, 0, &f), LT_OK, "reply %llu", (unsigned long long)i);
        cr_assert_eq(f.cmd, LT_FRAME_REPLY);
        cr_assert_eq(f.corr, i, "out of order");
        cr_assert_eq(f.status, LT_OK);
        lt_node_frame_clear(&f);
    }
    lt_node_conn_close(&c);
    cr_assert_eq(lt_node_stop(s_node), 0);
}

Test(kernel, the_restart_queue_is_bounded_in_size_and_time)
{
    char env[700], hold[600], gate[600];
    s_gated_store(env, sizeof env, hold, gate, sizeof hold);
    const char *envs[] = {env, NULL};
    const char *args[] = {"--services",       "store", "--queue-max", "2",
                          "--queue-deadline", "300",   NULL};
    s_node = s_start_store(args, envs);
    uint32_t pid = lt_node_service_pid(s_node, "store");
    s_write_file(hold, "", 0600);
    lt_test_kill9((pid_t)pid);
    lt_node_want_t starting = {.state = LT_NODE_STARTING, .pid_not = pid};
    cr_assert(lt_node_wait_service(s_node, "store", &starting, 0, NULL));

    lt_node_conn_t *c = lt_node_conn_open(s_node->home);
    for (uint64_t i = 1; i <= 3; i++) {
        lt_frame_t req = {.cmd = LT_FRAME_REQUEST, .corr = i, .type = 40};
        snprintf(req.addr, sizeof req.addr, "store");
        lt_node_conn_send(c, &req);
    }
    /* The third does not fit: unavailable at once... */
    lt_node_frame_t f;
    char line[256];
    cr_assert_eq(lt_node_conn_recv(c, 0, &f), LT_OK);
    cr_assert_eq(f.corr, 3);
    cr_assert_eq(f.status, LT_EUNAVAILABLE);
    lt_node_error_text(&f, line, sizeof line);
    cr_assert_str_eq(line, "service store is restarting and its queue is full; retry later");
    lt_node_frame_clear(&f);
    /* ...the first two at the deadline. */
    for (uint64_t i = 1; i <= 2; i++) {
        cr_assert_eq(lt_node_conn_recv(c, 0, &f), LT_OK);
        cr_assert_eq(f.corr, i);
        cr_assert_eq(f.status, LT_EUNAVAILABLE);
        lt_node_error_text(&f, line, sizeof line);
        cr_assert(strstr(line, "waited 300 ms"), "%s", line);
        lt_node_frame_clear(&f);
    }
    s_open_gate(hold, gate);
    lt_node_want_t ready = {.state = LT_NODE_READY};
    cr_assert(lt_node_wait_service(s_node, "store", &ready, 0, NULL));
    s_node_info_ok(s_node);
    lt_node_conn_close(&c);
    cr_assert_eq(lt_node_stop(s_node), 0);
}

Test(kernel, requests_in_flight_are_answered_when_the_store_dies)
{
    /* The store alone: a request of the sync service's in flight would let
     * the kill below come before this one reaches the store. */
    s_node = s_start_store(s_run_store_only, NULL);
    uint32_t pid = lt_node_service_pid(s_node, "store");
    cr_assert(kill((pid_t)pid, SIGSTOP) == 0);
    lt_node_conn_t *c = lt_node_conn_open(s_node->home);
    lt_frame_t req = {.cmd = LT_FRAME_REQUEST, .corr = 77, .type = 40};
    snprintf(req.addr, sizeof req.addr, "store");
    lt_node_conn_send(c, &req);
    lt_node_service_t info;
    lt_node_want_t ready = {.state = LT_NODE_READY};
    do
        cr_assert(lt_node_wait_service(s_node, "store", &ready, 0, &info));
    while (info.inflight == 0);
    lt_test_kill9((pid_t)pid);
    lt_node_frame_t f;
    char why[256];
    cr_assert_eq(lt_node_conn_recv(c, 0, &f), LT_OK);
    cr_assert_eq(f.corr, 77);
    lt_node_error_text(&f, why, sizeof why);
    cr_assert_eq(f.status, LT_EUNAVAILABLE, "%s: %s",
                 f.status < LT_ECOUNT ? lt_errname((lt_err_t)f.status) : "?", why);
    cr_assert_str_eq(f.addr, "store");
    lt_node_frame_clear(&f);
    lt_node_want_t back = {.state = LT_NODE_READY, .pid_not = pid};
    cr_assert(lt_node_wait_service(s_node, "store", &back, 0, NULL));
    s_node_info_ok(s_node);
    lt_node_conn_close(&c);
    cr_assert_eq(lt_node_stop(s_node), 0);
}

Test(kernel, a_hung_store_is_killed_and_restarted)
{
    s_node = s_start_store(NULL, NULL);
    uint32_t pid = lt_node_service_pid(s_node, "store");
    cr_assert(kill((pid_t)pid, SIGSTOP) == 0);
    lt_node_want_t back = {.state = LT_NODE_READY, .pid_not = pid};
    lt_node_service_t info;
    cr_assert(lt_node_wait_service(s_node, "store", &back, 0, &info));
    cr_assert_str_eq(info.last_exit, "heartbeat lost");
    cr_assert_eq(info.restarts, 1);
    cr_assert(lt_test_wait_gone((pid_t)pid, 0));
    s_node_info_ok(s_node);
    cr_assert_eq(lt_node_stop(s_node), 0);
}

Test(kernel, restart_command_respawns_without_counting)
{
    const char *args[] = {"--max-restarts", "0", NULL};
    s_node = s_start_store(args, NULL);
    uint32_t pid = lt_node_service_pid(s_node, "store");
    lattice_kernel_ServiceRef ref = {"store"};
    uint8_t buf[64];
    pb_ostream_t os = pb_ostream_from_buffer(buf, sizeof buf);
    cr_assert(pb_encode(&os, lattice_kernel_ServiceRef_fields, &ref));
    lt_node_frame_t r;
    for (uint32_t i = 1; i <= 2; i++) {
        cr_assert_eq(s_call(s_node, "kernel", lattice_kernel_KernelMsgType_KERNEL_RESTART, buf,
                            os.bytes_written, &r),
                     LT_OK);
        lt_node_frame_clear(&r);
        /* With --max-restarts 0 a single crash would fail it. */
        lt_node_want_t want = {.state = LT_NODE_READY, .pid_not = pid, .min_restarts = i};
        lt_node_service_t info;
        cr_assert(lt_node_wait_service(s_node, "store", &want, 0, &info), "state %s",
                  s_state(info.state));
        cr_assert_eq(info.restarts, i);
        cr_assert(lt_test_wait_gone((pid_t)pid, 0));
        pid = info.pid;
    }
    s_node_info_ok(s_node);

    lattice_kernel_ServiceRef nosuch = {"nosuch"};
    os = pb_ostream_from_buffer(buf, sizeof buf);
    cr_assert(pb_encode(&os, lattice_kernel_ServiceRef_fields, &nosuch));
    cr_assert_eq(s_call(s_node, "kernel", lattice_kernel_KernelMsgType_KERNEL_RESTART, buf,
                        os.bytes_written, &r),
                 LT_ENOTFOUND);
    lt_node_frame_clear(&r);
    cr_assert_eq(lt_node_stop(s_node), 0);
}

/* ---- --attach ---- */

Test(kernel, an_attached_store_is_served_and_waited_for_again)
{
    const char *attach[] = {"--attach", "store", NULL};
    lt_node_opts_t o = {.args = attach};
    s_node = lt_node_start(&o);
    lt_node_service_t info;
    cr_assert(lt_node_service(s_node, "store", &info));
    cr_assert_eq(info.state, LT_NODE_WAITING);
    cr_assert(info.attached);
    cr_assert_eq(info.pid, 0);

    /* A request waits for the hand-started store. */
    lt_node_conn_t *c = lt_node_conn_open(s_node->home);
    lt_frame_t req = {.cmd = LT_FRAME_REQUEST, .corr = 5, .type = 40};
    snprintf(req.addr, sizeof req.addr, "store");
    lt_node_conn_send(c, &req);

    const char *store = lt_test_env_path("LT_LATTICE_STORE");
    char out[600];
    snprintf(out, sizeof out, "%s/store.out", s_node->dir);
    int fd = open(out, O_WRONLY | O_CREAT | O_APPEND, 0600);
    cr_assert(fd >= 0);
    s_hand = fork();
    cr_assert(s_hand >= 0);
    if (s_hand == 0) {
        dup2(fd, 1);
        dup2(fd, 2);
        execl(store, store, "--home", s_node->home, (char *)NULL);
        _exit(127);
    }
    close(fd);
    lt_node_frame_t f;
    cr_assert_eq(lt_node_conn_recv(c, 0, &f), LT_OK);
    cr_assert_eq(f.corr, 5);
    cr_assert_eq(f.status, LT_OK);
    lt_node_frame_clear(&f);
    cr_assert(lt_node_service(s_node, "store", &info));
    cr_assert_eq(info.state, LT_NODE_READY);
    cr_assert_eq(info.pid, (uint32_t)s_hand);

    /* RESTART is for the developer to do. */
    lattice_kernel_ServiceRef ref = {"store"};
    uint8_t buf[64];
    pb_ostream_t os = pb_ostream_from_buffer(buf, sizeof buf);
    cr_assert(pb_encode(&os, lattice_kernel_ServiceRef_fields, &ref));
    cr_assert_eq(s_call(s_node, "kernel", lattice_kernel_KernelMsgType_KERNEL_RESTART, buf,
                        os.bytes_written, &f),
                 LT_EINVAL);
    lt_node_frame_clear(&f);

    /* It exits: the slot waits again, nothing is restarted. */
    kill(s_hand, SIGTERM);
    int status;
    cr_assert_eq(waitpid(s_hand, &status, 0), s_hand);
    s_hand = 0;
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    lt_node_want_t waiting = {.state = LT_NODE_WAITING};
    cr_assert(lt_node_wait_service(s_node, "store", &waiting, 0, &info));
    cr_assert_eq(info.pid, 0);
    cr_assert_eq(info.restarts, 0);
    lt_node_conn_close(&c);
    cr_assert_eq(lt_node_stop(s_node), 0);
}

/* ---- kernel restarts and stops ---- */

Test(kernel, a_new_kernel_re_adopts_the_running_store)
{
    s_node = s_start_store(NULL, NULL);
    uint32_t pid = lt_node_service_pid(s_node, "store");
    lt_node_kill9(s_node);
    cr_assert(lt_test_alive((pid_t)pid), "the store died with the kernel");

    lt_node_opts_t o = {.ready = s_store_only};
    s_node2 = lt_node_start_on(s_node, &o);
    lt_node_service_t info;
    cr_assert(lt_node_service(s_node2, "store", &info));
    cr_assert_eq(info.pid, pid, "not re-adopted: pid %u, was %u", info.pid, pid);
    cr_assert_eq(info.restarts, 0);
    cr_assert(lt_node_log_contains(s_node2, "re-adopted pid"));
    s_node_info_ok(s_node2);

    /* It is watched although it is not the kernel's child. */
    lt_test_kill9((pid_t)pid);
    lt_node_want_t back = {.state = LT_NODE_READY, .pid_not = pid};
    cr_assert(lt_node_wait_service(s_node2, "store", &back, 0, &info));
    s_node_info_ok(s_node2);
    uint32_t child = info.pid;
    cr_assert_eq(lt_node_stop(s_node2), 0);
    cr_assert(lt_test_wait_gone((pid_t)child, 0));
}

Test(kernel, sigterm_stops_the_services_and_cleans_up)
{
    s_node = s_start_store(NULL, NULL);
    uint32_t pid = lt_node_service_pid(s_node, "store");
    cr_assert_eq(lt_node_stop(s_node), 0);
    cr_assert_not(lt_test_alive((pid_t)pid), "the store outlived the kernel");
    char path[512];
    snprintf(path, sizeof path, "%s/kernel.sock", s_node->home);
    cr_assert(access(path, F_OK) != 0, "socket left behind");
    snprintf(path, sizeof path, "%s/latticed.pid", s_node->home);
    cr_assert(access(path, F_OK) != 0, "pid file left behind");
    snprintf(path, sizeof path, "%s/services/store.pid", s_node->home);
    cr_assert(access(path, F_OK) != 0, "service pid file left behind");
    cr_assert(lt_node_log_contains(s_node, "store: stopped (exit 0)"));

    /* The home is free again for the next kernel. */
    lt_node_opts_t o = {.ready = s_store_only};
    s_node2 = lt_node_start_on(s_node, &o);
    s_node_info_ok(s_node2);

    /* KERNEL_STOP: answered, then the same ordered stop. */
    lt_node_frame_t r;
    cr_assert_eq(s_call(s_node2, "kernel", lattice_kernel_KernelMsgType_KERNEL_STOP, NULL, 0, &r),
                 LT_OK);
    lt_node_frame_clear(&r);
    cr_assert_eq(lt_node_wait_exit(s_node2, 0), 0);
}

/* ---- peer links (latticed --listen) ---- */

/* The node's status: its key and its first listen address. */
static void s_link_info(lt_node_t *n, uint8_t key[32], char *addr, size_t cap)
{
    lt_node_frame_t r;
    cr_assert_eq(s_call(n, "kernel", lattice_kernel_KernelMsgType_KERNEL_STATUS, NULL, 0, &r),
                 LT_OK);
    lattice_kernel_NodeStatus st = lattice_kernel_NodeStatus_init_zero;
    pb_istream_t is = pb_istream_from_buffer(r.body, r.len);
    cr_assert(pb_decode(&is, lattice_kernel_NodeStatus_fields, &st));
    lt_node_frame_clear(&r);
    cr_assert_eq(st.listen_count, 1);
    memcpy(key, st.node_key.bytes, 32);
    snprintf(addr, cap, "%s", st.listen[0]);
}

/* Connects a client to addr and waits for the handshake's outcome: the
 * monitor event (HANDSHAKE_SUCCEEDED or HANDSHAKE_FAILED_*). With curve,
 * the server key is the X25519 form of node_key and the client's key pair
 * that of `as` (NULL: a fresh random pair); rid (may be NULL) is its
 * routing id. */
static int s_link_attempt(const uint8_t node_key[32], const char *addr, bool curve,
                          const lt_identity_t *as, const uint8_t *rid, size_t rid_len)
{
    void *ctx = zmq_ctx_new();
    void *d = zmq_socket(ctx, ZMQ_DEALER);
    int zero = 0;
    zmq_setsockopt(d, ZMQ_LINGER, &zero, sizeof zero);
    if (rid)
        zmq_setsockopt(d, ZMQ_ROUTING_ID, rid, rid_len);
    if (curve) {
        uint8_t server[32], pub[32], sec[32];
        cr_assert_eq(crypto_sign_ed25519_pk_to_curve25519(server, node_key), 0);
        if (as) {
            cr_assert_eq(crypto_sign_ed25519_pk_to_curve25519(pub, as->pk.b), 0);
            cr_assert_eq(crypto_sign_ed25519_sk_to_curve25519(sec, as->sk), 0);
        } else {
            crypto_box_keypair(pub, sec);
        }
        zmq_setsockopt(d, ZMQ_CURVE_SERVERKEY, server, 32);
        zmq_setsockopt(d, ZMQ_CURVE_PUBLICKEY, pub, 32);
        zmq_setsockopt(d, ZMQ_CURVE_SECRETKEY, sec, 32);
    }
    cr_assert_eq(zmq_socket_monitor(d, "inproc://attempt", ZMQ_EVENT_ALL), 0);
    void *mon = zmq_socket(ctx, ZMQ_PAIR);
    cr_assert_eq(zmq_connect(mon, "inproc://attempt"), 0);
    cr_assert_eq(zmq_connect(d, addr), 0);
    int event = 0;
    for (;;) {
        zmq_pollitem_t it = {.socket = mon, .events = ZMQ_POLLIN};
        cr_assert_eq(zmq_poll(&it, 1, 15000), 1, "no handshake outcome within 15 s");
        zmq_msg_t m;
        zmq_msg_init(&m);
        cr_assert(zmq_msg_recv(&m, mon, 0) >= 6);
        uint16_t ev;
        memcpy(&ev, zmq_msg_data(&m), sizeof ev);
        zmq_msg_close(&m);
        zmq_msg_init(&m);
        (void)zmq_msg_recv(&m, mon, 0); /* the endpoint */
        zmq_msg_close(&m);
        if (ev == ZMQ_EVENT_HANDSHAKE_SUCCEEDED || ev == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH ||
            ev == ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL ||
            ev == ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL) {
            event = ev;
            break;
        }
    }
    zmq_close(mon);
    zmq_close(d);
    zmq_ctx_term(ctx);
    return event;
}

static int s_curve_attempt(const uint8_t node_key[32], const char *addr, bool curve)
{
    return s_link_attempt(node_key, addr, curve, NULL, NULL, 0);
}

/* Writes bytes at the TCP port of addr (tcp://127.0.0.1:PORT) and closes. */
static void s_tcp_garbage(const char *addr, size_t n)
{
    const char *colon = strrchr(addr, ':');
    cr_assert(colon);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(colon + 1))};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    cr_assert(fd >= 0);
    cr_assert_eq(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0, "%s", strerror(errno));
    uint8_t *junk = malloc(n);
    cr_assert(junk);
    randombytes_buf(junk, n);
    junk[0] = 0xff; /* a ZMTP signature start, then nonsense */
    size_t off = 0;
    while (off < n) {
        ssize_t w = send(fd, junk + off, n - off, MSG_NOSIGNAL);
        if (w <= 0)
            break; /* the kernel may close on us: that is the point */
        off += (size_t)w;
    }
    free(junk);
    close(fd);
}

Test(kernel, listen_refuses_unknown_keys_and_survives_garbage)
{
    static const char *const args[] = {"--services", "store", "--listen", "tcp://127.0.0.1:0",
                                       NULL};
    s_node = s_start_store(args, NULL);
    uint8_t key[32];
    char addr[128];
    s_link_info(s_node, key, addr, sizeof addr);
    cr_assert_eq(strncmp(addr, "tcp://127.0.0.1:", 16), 0, "%s", addr);
    cr_assert_gt(atoi(addr + 16), 0, "port 0 was resolved: %s", addr);

    /* A CURVE client whose key is no peer of any store: refused by ZAP. */
    cr_assert_eq(s_curve_attempt(key, addr, true), ZMQ_EVENT_HANDSHAKE_FAILED_AUTH);
    cr_assert(lt_node_wait_log(s_node, "refused a link from", 10000));
    /* A client without CURVE does not get through either. */
    int plain = s_curve_attempt(key, addr, false);
    cr_assert_neq(plain, ZMQ_EVENT_HANDSHAKE_SUCCEEDED);
    /* Random bytes, small and large: the kernel keeps serving, and keeps
     * answering ZAP. */
    s_tcp_garbage(addr, 16);
    s_tcp_garbage(addr, 4 << 20);
    cr_assert_eq(lt_node_ping(s_node, 0), LT_OK);
    s_node_info_ok(s_node);
    cr_assert_eq(s_curve_attempt(key, addr, true), ZMQ_EVENT_HANDSHAKE_FAILED_AUTH);
    cr_assert_eq(lt_node_stop(s_node), 0);
}

Test(kernel, listen_errors_are_one_clear_line)
{
    const char *bad[] = {"127.0.0.1:7000", "tcp://:7000", "tcp://host:70000", "tcp://host:x",
                         "ipc:///tmp/x"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        const char *argv[] = {lt_test_env_path("LT_LATTICED"), "--listen", bad[i], NULL};
        lt_test_run_t r;
        lt_test_run(argv, NULL, NULL, 5000, &r);
        cr_assert_eq(r.status, 2, "%s: exit %d: %s", bad[i], r.status, r.err);
        cr_assert(strstr(r.err, "--listen"), "%s", r.err);
        cr_assert_eq(strchr(r.err, '\n'), r.err + r.err_len - 1, "one line: %s", r.err);
        lt_test_run_free(&r);
    }
    /* A port someone else holds: exit 1, naming it. */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    cr_assert_eq(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    cr_assert_eq(listen(fd, 1), 0);
    socklen_t sl = sizeof sa;
    cr_assert_eq(getsockname(fd, (struct sockaddr *)&sa, &sl), 0);
    char want[64], home_arg[600];
    snprintf(want, sizeof want, "tcp://127.0.0.1:%d", ntohs(sa.sin_port));
    char *dir = lt_test_tmpdir("busy");
    snprintf(home_arg, sizeof home_arg, "%s/home", dir);
    const char *argv[] = {lt_test_env_path("LT_LATTICED"),
                          "--home",
                          home_arg,
                          "--services",
                          "",
                          "--listen",
                          want,
                          NULL};
    lt_test_run_t r;
    lt_test_run(argv, NULL, NULL, 10000, &r);
    cr_assert_eq(r.status, 1, "exit %d: %s", r.status, r.err);
    cr_assert(strstr(r.err, "cannot listen on"), "%s", r.err);
    cr_assert(strstr(r.err, want), "%s", r.err);
    lt_test_run_free(&r);
    close(fd);
    free(dir);
}

/* A store request that must succeed; the reply body into *reply. */
static void s_store_ok(lt_node_t *n, uint32_t type, const pb_msgdesc_t *fields, const void *msg,
                       lt_node_frame_t *reply)
{
    uint8_t buf[4096];
    pb_ostream_t os = pb_ostream_from_buffer(buf, sizeof buf);
    cr_assert(pb_encode(&os, fields, msg));
    uint32_t st = s_call(n, "store", type, buf, os.bytes_written, reply);
    char line[256];
    lt_node_error_text(reply, line, sizeof line);
    cr_assert_eq(st, LT_OK, "store request %u: %s", type, line);
}

/* Ingests, into store sid, `who` writing itself in as an active peer. */
static void s_ingest_peer(lt_node_t *n, const uint8_t sid[16], const lt_identity_t *who)
{
    lattice_SystemOp op = lattice_SystemOp_init_zero;
    op.which_op = lattice_SystemOp_peer_tag;
    op.op.peer.key.size = 32;
    memcpy(op.op.peer.key.bytes, who->pk.b, 32);
    op.op.peer.status = lattice_PeerStatus_PEER_ACTIVE;
    lt_buf_t ops = LT_BUF_INIT, signed_b = LT_BUF_INIT;
    cr_assert_eq(lt_uop_encode_system(&op, &ops), LT_OK);
    lt_intention_t in = {.version = 1,
                         .author = who->pk,
                         .hlc = {(uint64_t)time(NULL) * 1000, 0},
                         .ops_len = (uint32_t)ops.len,
                         .ops = ops.data};
    memcpy(in.store_id.b, sid, 16);
    lt_hash_t h;
    cr_assert_eq(lt_intention_sign(&in, who, &signed_b, &h), LT_OK);
    lattice_store_Ingest m = lattice_store_Ingest_init_zero;
    m.store.size = 16;
    memcpy(m.store.bytes, sid, 16);
    lt_view_t sv = {signed_b.data, signed_b.len};
    lt_pb_bind_write(&m.signed_bytes, &sv);
    lt_node_frame_t r;
    s_store_ok(n, lattice_store_StoreMsgType_INGEST, lattice_store_Ingest_fields, &m, &r);
    lt_node_frame_clear(&r);
    lt_buf_free(&ops);
    lt_buf_free(&signed_b);
}

/* A link as the node `as` opens one: a DEALER, CURVE client, its routing id
 * its Ed25519 key. */
static void *s_link_open(void *ctx, const uint8_t node_key[32], const char *addr,
                         const lt_identity_t *as)
{
    void *d = zmq_socket(ctx, ZMQ_DEALER);
    uint8_t server[32], pub[32], sec[32];
    cr_assert_eq(crypto_sign_ed25519_pk_to_curve25519(server, node_key), 0);
    cr_assert_eq(crypto_sign_ed25519_pk_to_curve25519(pub, as->pk.b), 0);
    cr_assert_eq(crypto_sign_ed25519_sk_to_curve25519(sec, as->sk), 0);
    int zero = 0;
    zmq_setsockopt(d, ZMQ_LINGER, &zero, sizeof zero);
    zmq_setsockopt(d, ZMQ_ROUTING_ID, as->pk.b, 32);
    zmq_setsockopt(d, ZMQ_CURVE_SERVERKEY, server, 32);
    zmq_setsockopt(d, ZMQ_CURVE_PUBLICKEY, pub, 32);
    zmq_setsockopt(d, ZMQ_CURVE_SECRETKEY, sec, 32);
    cr_assert_eq(zmq_connect(d, addr), 0);
    return d;
}

/* Sends, over a link, a request from client:01 there to `to` here. */
static void s_link_request(void *d, const char *to, uint32_t type, const uint8_t *body, size_t len,
                           uint64_t corr)
{
    lt_frame_t f = {.cmd = LT_FRAME_REQUEST, .corr = corr, .type = type, .body = body, .len = len};
    snprintf(f.addr, sizeof f.addr, "%s", to);
    lt_frame_part_t parts[LT_FRAME_MAX_PARTS];
    size_t n = 0;
    lt_frame_scratch_t scratch;
    lt_errbuf_t eb;
    cr_assert_eq(lt_frame_encode(&f, parts, &n, &scratch, &eb), LT_OK);
    cr_assert(zmq_send(d, "client:01", 9, ZMQ_SNDMORE) == 9);
    for (size_t i = 0; i < n; i++)
        cr_assert(zmq_send(d, parts[i].p, parts[i].len, i + 1 < n ? ZMQ_SNDMORE : 0) >= 0);
}

/* The reply to it: [SRC] [LTK frame to client:01]; its status. */
static lt_err_t s_link_reply(void *d, uint64_t corr)
{
    zmq_pollitem_t it = {.socket = d, .events = ZMQ_POLLIN};
    cr_assert_eq(zmq_poll(&it, 1, 10000), 1, "no reply over the link within 10 s");
    zmq_msg_t m[8];
    size_t n = 0;
    for (;;) {
        cr_assert_lt(n, 8);
        zmq_msg_init(&m[n]);
        cr_assert(zmq_msg_recv(&m[n], d, 0) >= 0);
        bool more = zmq_msg_more(&m[n]);
        n++;
        if (!more)
            break;
    }
    cr_assert_eq(zmq_msg_size(&m[0]), 5);
    cr_assert_eq(memcmp(zmq_msg_data(&m[0]), "store", 5), 0, "from the store");
    lt_frame_part_t parts[8];
    for (size_t i = 1; i < n; i++)
        parts[i - 1] = (lt_frame_part_t){zmq_msg_data(&m[i]), zmq_msg_size(&m[i])};
    lt_frame_t f;
    cr_assert_eq(lt_frame_decode(parts, n - 1, &f, NULL, NULL), LT_OK);
    cr_assert_eq(f.cmd, LT_FRAME_REPLY);
    cr_assert_str_eq(f.addr, "client:01");
    cr_assert_eq(f.corr, corr);
    lt_err_t status = (lt_err_t)f.status;
    for (size_t i = 0; i < n; i++)
        zmq_msg_close(&m[i]);
    return status;
}

Test(kernel, links_admit_active_peers_and_joins_with_an_open_invite)
{
    static const char *const args[] = {"--services", "store", "--listen", "tcp://127.0.0.1:0",
                                       NULL};
    s_node = s_start_store(args, NULL);
    uint8_t key[32];
    char addr[128];
    s_link_info(s_node, key, addr, sizeof addr);
    cr_assert(lt_node_wait_log(s_node, "admitting 0 peers and 0 open invites", 10000),
              "the store tells the kernel once it registers");

    lt_node_frame_t r;
    lattice_store_StoreCreate sc = lattice_store_StoreCreate_init_zero;
    s_store_ok(s_node, lattice_store_StoreMsgType_STORE_CREATE, lattice_store_StoreCreate_fields,
               &sc, &r);
    lattice_store_StoreCreated created = lattice_store_StoreCreated_init_zero;
    pb_istream_t is = pb_istream_from_buffer(r.body, r.len);
    cr_assert(pb_decode(&is, lattice_store_StoreCreated_fields, &created));
    lt_node_frame_clear(&r);
    uint8_t sid[16];
    memcpy(sid, created.store.bytes, 16);

    lt_identity_t joiner, other;
    lt_test_identity(&joiner, 21);
    lt_test_identity(&other, 22);
    /* No open invite: an unknown key is refused. */
    cr_assert_eq(s_link_attempt(key, addr, true, &joiner, NULL, 0),
                 ZMQ_EVENT_HANDSHAKE_FAILED_AUTH);
    /* With one, it links, for the join exchange alone. */
    lattice_store_PeerInvite pi = lattice_store_PeerInvite_init_zero;
    pi.store.size = 16;
    memcpy(pi.store.bytes, sid, 16);
    s_store_ok(s_node, lattice_store_StoreMsgType_PEER_INVITE, lattice_store_PeerInvite_fields, &pi,
               &r);
    lt_node_frame_clear(&r);
    cr_assert(lt_node_wait_log(s_node, "admitting 0 peers and 1 open invites", 10000));
    cr_assert_eq(s_link_attempt(key, addr, true, &joiner, NULL, 0), ZMQ_EVENT_HANDSHAKE_SUCCEEDED);
    cr_assert(lt_node_wait_log(s_node, "joiner", 10000));
    /* An active peer links with its own key, until it is revoked. */
    s_ingest_peer(s_node, sid, &other);
    cr_assert(lt_node_wait_log(s_node, "admitting 1 peers and 1 open invites", 10000));
    cr_assert_eq(s_link_attempt(key, addr, true, &other, NULL, 0), ZMQ_EVENT_HANDSHAKE_SUCCEEDED);
    /* Over its link, the store answers it: not served to other nodes, yet. */
    void *lctx = zmq_ctx_new();
    void *link = s_link_open(lctx, key, addr, &other);
    uint8_t ref[2 + 16] = {0x0a, 16};
    memcpy(ref + 2, sid, 16);
    s_link_request(link, "store", lattice_store_StoreMsgType_PEER_LIST, ref, sizeof ref, 1);
    cr_assert_eq(s_link_reply(link, 1), LT_EREFUSED);
    /* The kernel itself is not reachable over a link. */
    s_link_request(link, "kernel", lattice_kernel_KernelMsgType_KERNEL_STOP, NULL, 0, 2);
    cr_assert(lt_node_wait_log(s_node, "a request to something other than a service", 10000));
    lattice_store_PeerRef pr = lattice_store_PeerRef_init_zero;
    pr.store.size = 16;
    memcpy(pr.store.bytes, sid, 16);
    pr.key.size = 32;
    memcpy(pr.key.bytes, other.pk.b, 32);
    s_store_ok(s_node, lattice_store_StoreMsgType_PEER_REVOKE, lattice_store_PeerRef_fields, &pr,
               &r);
    lt_node_frame_clear(&r);
    cr_assert(lt_node_wait_log(s_node, "admitting 0 peers and 1 open invites (1 revoked)", 10000));
    /* Its link is dropped: what it still sends on it goes nowhere. */
    s_link_request(link, "store", lattice_store_StoreMsgType_PEER_LIST, ref, sizeof ref, 3);
    cr_assert(lt_node_wait_log(s_node, "a node revoked since it linked", 10000));
    zmq_close(link);
    zmq_ctx_term(lctx);
    /* Revoked: refused, even as a joiner while an invite is open. */
    cr_assert_eq(s_link_attempt(key, addr, true, &other, NULL, 0), ZMQ_EVENT_HANDSHAKE_FAILED_AUTH);

    /* At most 10 joins a minute (the joiner above was the first). */
    for (int i = 1; i < 10; i++)
        cr_assert_eq(s_link_attempt(key, addr, true, NULL, NULL, 0), ZMQ_EVENT_HANDSHAKE_SUCCEEDED,
                     "join %d", i + 1);
    cr_assert_eq(s_link_attempt(key, addr, true, NULL, NULL, 0), ZMQ_EVENT_HANDSHAKE_FAILED_AUTH);

    /* Only the store says who may link. */
    cr_assert_eq(s_call(s_node, "kernel", lattice_kernel_KernelMsgType_KERNEL_ADMIT, NULL, 0, &r),
                 LT_EINVAL);
    lt_node_frame_clear(&r);
    cr_assert_eq(lt_node_stop(s_node), 0);
}

/* ---- links kept across restarts, and the link-up event ---- */

/* Creates a store on n; its id into sid. */
static void s_store_create(lt_node_t *n, uint8_t sid[16])
{
    lt_node_frame_t r;
    lattice_store_StoreCreate sc = lattice_store_StoreCreate_init_zero;
    s_store_ok(n, lattice_store_StoreMsgType_STORE_CREATE, lattice_store_StoreCreate_fields, &sc,
               &r);
    lattice_store_StoreCreated created = lattice_store_StoreCreated_init_zero;
    pb_istream_t is = pb_istream_from_buffer(r.body, r.len);
    cr_assert(pb_decode(&is, lattice_store_StoreCreated_fields, &created));
    lt_node_frame_clear(&r);
    memcpy(sid, created.store.bytes, 16);
}

/* The node's own identity, read from its home as its services read it. */
static void s_node_identity(const lt_node_t *n, lt_identity_t *id)
{
    char path[512];
    snprintf(path, sizeof path, "%s/identity.key", n->home);
    lt_errbuf_t eb = {{0}};
    cr_assert_eq(lt_identity_load_or_create(path, id, &eb), LT_OK, "%s", eb.msg);
}

/* Asks n's kernel for a link to node key at addr (KERNEL_LINK); renew as
 * `peer join` does once the node is a peer. */
static void s_link_to(lt_node_t *n, const uint8_t key[32], const char *addr, bool renew)
{
    lattice_kernel_LinkTo m = lattice_kernel_LinkTo_init_zero;
    m.key.size = 32;
    memcpy(m.key.bytes, key, 32);
    m.addrs_count = 1;
    snprintf(m.addrs[0], sizeof m.addrs[0], "%s", addr);
    m.renew = renew;
    uint8_t buf[512];
    pb_ostream_t os = pb_ostream_from_buffer(buf, sizeof buf);
    cr_assert(pb_encode(&os, lattice_kernel_LinkTo_fields, &m));
    lt_node_frame_t r;
    uint32_t st =
        s_call(n, "kernel", lattice_kernel_KernelMsgType_KERNEL_LINK, buf, os.bytes_written, &r);
    char line[256];
    lt_node_error_text(&r, line, sizeof line);
    cr_assert_eq(st, LT_OK, "KERNEL_LINK: %s", line);
    lt_node_frame_clear(&r);
}

/* Whether node status lists a connected link to key in that direction. */
static bool s_link_connected(lt_node_t *n, const uint8_t key[32], bool outbound)
{
    lt_node_frame_t r;
    cr_assert_eq(s_call(n, "kernel", lattice_kernel_KernelMsgType_KERNEL_STATUS, NULL, 0, &r),
                 LT_OK);
    lattice_kernel_NodeStatus st = lattice_kernel_NodeStatus_init_zero;
    pb_istream_t is = pb_istream_from_buffer(r.body, r.len);
    cr_assert(pb_decode(&is, lattice_kernel_NodeStatus_fields, &st));
    lt_node_frame_clear(&r);
    for (pb_size_t i = 0; i < st.links_count; i++)
        if (st.links[i].outbound == outbound && st.links[i].key.size == 32 &&
            memcmp(st.links[i].key.bytes, key, 32) == 0)
            return st.links[i].connected;
    return false;
}

/* Polls node status until the link to key is connected; false at the
 * deadline. */
static bool s_wait_link(lt_node_t *n, const uint8_t key[32], bool outbound, uint32_t timeout_ms)
{
    for (uint32_t waited = 0; waited < timeout_ms; waited += 50) {
        if (s_link_connected(n, key, outbound))
            return true;
        struct timespec ts = {0, 50 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    return s_link_connected(n, key, outbound);
}

/* The text of <home>/links ("" when there is none). */
static void s_read_links(const lt_node_t *n, char *out, size_t cap)
{
    char path[512];
    snprintf(path, sizeof path, "%s/links", n->home);
    out[0] = '\0';
    FILE *f = fopen(path, "r");
    if (!f)
        return;
    size_t len = fread(out, 1, cap - 1, f);
    out[len] = '\0';
    fclose(f);
    struct stat st;
    cr_assert_eq(stat(path, &st), 0);
    cr_assert_eq(st.st_mode & 0777, 0600, "links has mode %o", st.st_mode & 0777);
}

/* An inviter (a store, listening) and a node it admits as a peer of that
 * store (no store of its own, not listening: it cannot be dialled). */
static void s_two_nodes(const char *const *inviter_args, const char *const *peer_args,
                        uint8_t inviter_key[32], char *inviter_addr, size_t cap,
                        lt_identity_t *peer)
{
    s_node = s_start_store(inviter_args, NULL);
    s_link_info(s_node, inviter_key, inviter_addr, cap);
    cr_assert(lt_node_wait_log(s_node, "admitting 0 peers and 0 open invites", 10000));
    uint8_t sid[16];
    s_store_create(s_node, sid);
    lt_node_opts_t o = {.args = peer_args};
    s_node2 = lt_node_start(&o);
    s_node_identity(s_node2, peer);
    s_ingest_peer(s_node, sid, peer);
    cr_assert(lt_node_wait_log(s_node, "admitting 1 peers and 0 open invites", 10000));
}

Test(kernel, a_peer_link_is_opened_again_after_a_restart_and_forgotten_when_revoked)
{
    static const char *const inviter[] = {"--services", "store", "--listen", "tcp://127.0.0.1:0",
                                          NULL};
    static const char *const joiner[] = {"--services", "none", "--attach", "store", NULL};
    uint8_t key[32];
    char addr[128];
    lt_identity_t peer;
    s_two_nodes(inviter, joiner, key, addr, sizeof addr, &peer);
    char want[256], text[4096], hex[65];
    lt_hex(key, 32, hex);
    snprintf(want, sizeof want, "lattice-links 1\n%s %s\n", hex, addr);

    /* The join link (no renew) is not recorded; the peer's link is. */
    s_link_to(s_node2, key, addr, false);
    cr_assert(s_wait_link(s_node2, key, true, 10000), "the join link did not come up");
    s_read_links(s_node2, text, sizeof text);
    cr_assert_str_eq(text, "");
    s_link_to(s_node2, key, addr, true);
    cr_assert(s_wait_link(s_node2, key, true, 10000), "the peer's link did not come up");
    s_read_links(s_node2, text, sizeof text);
    cr_assert_str_eq(text, want);

    /* Stopped and started on the same home, it links to the inviter by
     * itself (the inviter cannot dial it). */
    cr_assert_eq(lt_node_stop(s_node2), 0);
    lt_node_opts_t o = {.args = joiner};
    s_node3 = lt_node_start_on(s_node2, &o);
    cr_assert(lt_node_wait_log(s_node3, "re-linking to 1 peer", 10000));
    cr_assert(s_wait_link(s_node3, key, true, 15000), "the link was not opened again");
    lt_identity_t again;
    s_node_identity(s_node3, &again);
    cr_assert(s_wait_link(s_node, again.pk.b, false, 15000), "the inviter does not hear it");
    s_read_links(s_node3, text, sizeof text);
    cr_assert_str_eq(text, want);

    /* Its store revokes the inviter: the link is closed and forgotten. */
    lt_node_conn_t *store = lt_node_conn_open(s_node3->home);
    lt_node_conn_ready(store, "store", 1, 0);
    uint8_t set[2 + 32] = {0x1a, 32}; /* AdmitSet.revoked = [the inviter] */
    memcpy(set + 2, key, 32);
    lt_node_frame_t r;
    cr_assert_eq(lt_node_conn_request(store, "kernel", lattice_kernel_KernelMsgType_KERNEL_ADMIT,
                                      set, sizeof set, 0, &r),
                 LT_OK);
    cr_assert_eq(r.status, LT_OK);
    lt_node_frame_clear(&r);
    cr_assert(lt_node_wait_log(s_node3, "forgetting the link to", 10000));
    cr_assert_not(s_link_connected(s_node3, key, true));
    s_read_links(s_node3, text, sizeof text);
    cr_assert_str_eq(text, "lattice-links 1\n");
    lt_node_conn_close(&store);
    cr_assert_eq(lt_node_stop(s_node3), 0);
    cr_assert_eq(lt_node_stop(s_node), 0);
}

/* Writes len bytes to <home>/links of a stopped node. */
static void s_write_links(const lt_node_t *n, const void *p, size_t len)
{
    char path[512];
    snprintf(path, sizeof path, "%s/links", n->home);
    FILE *f = fopen(path, "w");
    cr_assert(f);
    cr_assert_eq(fwrite(p, 1, len, f), len);
    fclose(f);
    cr_assert(chmod(path, 0600) == 0);
}

Test(kernel, a_garbage_links_file_is_one_warning_and_the_node_serves)
{
    static const char *const args[] = {"--services", "store", NULL};
    s_node = s_start_store(args, NULL);
    cr_assert_eq(lt_node_stop(s_node), 0);
    lt_node_opts_t o = {.args = args, .ready = s_store_only};

    /* Random bytes: not a links file at all. */
    uint8_t junk[4096];
    randombytes_buf(junk, sizeof junk);
    s_write_links(s_node, junk, sizeof junk);
    s_node2 = lt_node_start_on(s_node, &o);
    s_node_info_ok(s_node2);
    cr_assert(lt_node_log_contains(s_node2, "not a links file"));
    cr_assert(lt_node_log_contains(s_node2, "not re-linking to any peer"));
    cr_assert_eq(lt_node_stop(s_node2), 0);
    lt_node_destroy(&s_node2);

    /* Too large to be one: refused unread. */
    static char big[100 * 1024];
    memset(big, 'a', sizeof big);
    s_write_links(s_node, big, sizeof big);
    s_node2 = lt_node_start_on(s_node, &o);
    s_node_info_ok(s_node2);
    cr_assert(lt_node_log_contains(s_node2, "links is larger than"));
    cr_assert_eq(lt_node_stop(s_node2), 0);
    lt_node_destroy(&s_node2);

    /* A links file with bad lines: they are skipped, the good one used. */
    lt_identity_t other;
    lt_test_identity(&other, 31);
    char hex[65];
    lt_hex(other.pk.b, 32, hex);
    static char text[8192];
    int len = snprintf(text, sizeof text, "lattice-links 1\n%s", hex);
    for (int i = 0; i < 100; i++) /* one over-long line */
        len += snprintf(text + len, sizeof text - (size_t)len, " tcp://127.0.0.1:%d", 1000 + i);
    len += snprintf(text + len, sizeof text - (size_t)len,
                    "\nnot-a-key tcp://127.0.0.1:9\n%s\n%s tcp://127.0.0.1:9\n%s tcp://x:1\n", hex,
                    hex, hex);
    s_write_links(s_node, text, (size_t)len);
    s_node2 = lt_node_start_on(s_node, &o);
    s_node_info_ok(s_node2);
    cr_assert(lt_node_log_contains(s_node2, "skipped 4 lines (line 2: longer than 1200 bytes)"));
    cr_assert(lt_node_log_contains(s_node2, "re-linking to 1 peer"));
    char linking[128];
    snprintf(linking, sizeof linking, "linking to %.16s at tcp://127.0.0.1:9", hex);
    cr_assert(lt_node_log_contains(s_node2, linking));
    cr_assert_eq(lt_node_ping(s_node2, 0), LT_OK);
    cr_assert_eq(lt_node_stop(s_node2), 0);
}

/* A fake `sync` service on n's kernel socket. */
static lt_node_conn_t *s_fake_sync(lt_node_t *n)
{
    lt_node_conn_t *c = lt_node_conn_open(n->home);
    lt_node_conn_ready(c, "sync", 1, 0);
    lt_node_want_t ready = {.state = LT_NODE_READY};
    cr_assert(lt_node_wait_service(n, "sync", &ready, 0, NULL));
    return c;
}

/* Waits on a fake sync service for KERNEL_LINK_UP naming key, heartbeating
 * its kernel meanwhile (a silent service is taken for dead), and `also`'s
 * (another fake service, may be NULL); false at the deadline. */
static bool s_wait_link_up(lt_node_conn_t *c, const uint8_t key[32], lt_node_conn_t *also)
{
    for (uint32_t waited = 0; waited < 15000; waited += 200) {
        lt_frame_t beat = {.cmd = LT_FRAME_HEARTBEAT};
        lt_node_conn_send(c, &beat);
        if (also)
            lt_node_conn_send(also, &beat);
        lt_node_frame_t f;
        if (lt_node_conn_recv(c, 200, &f) != LT_OK)
            continue;
        bool match = false;
        if (f.cmd == LT_FRAME_EVENT && f.type == lattice_kernel_KernelMsgType_KERNEL_LINK_UP) {
            cr_assert_str_eq(f.addr, "kernel");
            lattice_kernel_LinkUp m = lattice_kernel_LinkUp_init_zero;
            pb_istream_t is = pb_istream_from_buffer(f.body, f.len);
            cr_assert(pb_decode(&is, lattice_kernel_LinkUp_fields, &m));
            cr_assert_eq(m.key.size, 32);
            match = memcmp(m.key.bytes, key, 32) == 0;
        }
        lt_node_frame_clear(&f);
        if (match)
            return true;
    }
    return false;
}

Test(kernel, sync_hears_of_each_link_to_a_peer_that_comes_up)
{
    static const char *const inviter[] = {
        "--services", "store", "--attach", "sync", "--listen", "tcp://127.0.0.1:0", NULL};
    static const char *const joiner[] = {"--services", "none", "--attach", "sync", NULL};
    uint8_t key[32];
    char addr[128];
    lt_identity_t peer;
    s_two_nodes(inviter, joiner, key, addr, sizeof addr, &peer);
    lt_node_conn_t *a = s_fake_sync(s_node);
    lt_node_conn_t *b = s_fake_sync(s_node2);

    /* The peer's outbound link comes up (its handshake), and the inviter
     * hears from it: each side's sync is told the other's key. */
    s_link_to(s_node2, key, addr, true);
    cr_assert(s_wait_link_up(b, key, a), "the joiner's sync was not told");
    cr_assert(s_wait_link_up(a, peer.pk.b, b), "the inviter's sync was not told");
    /* Again for a new connection. */
    s_link_to(s_node2, key, addr, true);
    cr_assert(s_wait_link_up(b, key, a), "not told of the renewed link");
    cr_assert(s_wait_link_up(a, peer.pk.b, b), "not told of the reconnection");
    /* A sync that registers later hears of the links up at that moment. */
    lt_node_conn_t *b2 = s_fake_sync(s_node2);
    cr_assert(s_wait_link_up(b2, key, a), "a new sync was not told of the link up");
    lt_node_conn_close(&b2);
    lt_node_conn_close(&b);
    lt_node_conn_close(&a);
    cr_assert_eq(lt_node_stop(s_node2), 0);
    cr_assert_eq(lt_node_stop(s_node), 0);
}

/* ---- lattice-nano: services hosted in the kernel's thread ---- */

Test(kernel, nano_answers_a_burst_far_past_its_mailboxes_in_full)
{
    static const char *const ready[] = {"store", "sync", "gossip", NULL};
    lt_node_opts_t o = {.ready = ready, .program = lt_test_env_path("LT_LATTICE_NANO")};
    s_node = lt_node_start(&o);
    /* 600 requests at once: the store's mailbox holds 32, its overflow the
     * rest; every one is answered, and in order. */
    lt_node_conn_t *c = lt_node_conn_open(s_node->home);
    enum { N = 600 };
    for (uint64_t i = 1; i <= N; i++) {
        lt_frame_t req = {
            .cmd = LT_FRAME_REQUEST, .corr = i, .type = lattice_store_StoreMsgType_NODE_INFO};
        snprintf(req.addr, sizeof req.addr, "store");
        lt_node_conn_send(c, &req);
    }
    for (uint64_t i = 1; i <= N; i++) {
        lt_node_frame_t f;
        cr_assert_eq(lt_node_conn_recv(c, 0, &f), LT_OK, "reply %llu of %d never came",
                     (unsigned long long)i, N);
        cr_assert_eq(f.cmd, LT_FRAME_REPLY);
        cr_assert_eq(f.corr, i, "reply %llu came as %llu", (unsigned long long)i,
                     (unsigned long long)f.corr);
        cr_assert_eq(f.status, LT_OK);
        lt_node_frame_clear(&f);
    }
    lt_node_conn_close(&c);
}
