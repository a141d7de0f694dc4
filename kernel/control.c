/* The control endpoint (kernel/control.h): the kernel's own protocol,
 * schemas/kernel.proto, encoded with nanopb. Bodies are small and bounded
 * (kernel.options), so everything is built on the stack. */
#include "kernel/control.h"

#include "kernel/router.h"
#include "kernel/supervisor.h"

#include "kernel.pb.h"

#include <pb_decode.h>
#include <pb_encode.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define S_TAG "kernel"

const char *lt_control_version(void)
{
    return LT_VERSION;
}

size_t lt_control_error_body(const char *line, uint8_t *buf, size_t cap)
{
    lattice_kernel_Error e = lattice_kernel_Error_init_zero;
    snprintf(e.message, sizeof e.message, "%s", line);
    pb_ostream_t os = pb_ostream_from_buffer(buf, cap);
    if (!pb_encode(&os, lattice_kernel_Error_fields, &e))
        return 0;
    return os.bytes_written;
}

static void s_info(const lt_ksvc_t *s, lattice_kernel_ServiceInfo *out)
{
    memset(out, 0, sizeof *out);
    snprintf(out->name, sizeof out->name, "%s", s->name);
    out->state = (lattice_kernel_ServiceState)lt_sup_public_state(s);
    /* A hosted service runs in the kernel's own process, while it runs. */
    if (s->inproc)
        out->pid = s->state == LT_KSVC_READY ? (uint32_t)getpid() : 0;
    else
        out->pid = s->pid > 0 ? (uint32_t)s->pid : 0;
    out->restarts = s->restarts;
    out->proto = s->proto;
    out->attached = s->attached;
    out->in_process = s->inproc;
    out->since_ms = s->since_ms;
    out->queued = (uint32_t)s->queue.count;
    out->inflight = (uint32_t)s->inflight.count;
    snprintf(out->last_exit, sizeof out->last_exit, "%s", s->last_exit);
    if (out->state == lattice_kernel_ServiceState_SERVICE_FAILED)
        snprintf(out->fail_reason, sizeof out->fail_reason, "%s", s->fail_reason);
}

static void s_reply_msg(lt_kernel_t *k, const char *from, const lt_frame_t *req,
                        const pb_msgdesc_t *fields, const void *msg)
{
    /* NodeStatus is the largest: 16 services and a 1 KiB home. */
    static uint8_t buf[32768]; /* one thread: the kernel's */
    pb_ostream_t os = pb_ostream_from_buffer(buf, sizeof buf);
    if (!pb_encode(&os, fields, msg)) {
        lt_log_error(&k->log, S_TAG, "cannot encode a reply: %s", PB_GET_ERROR(&os));
        lt_router_reply_error(k, from, LT_FRAME_KERNEL_ADDR, req->corr, req->type, LT_EIO,
                              "the kernel could not encode its reply");
        return;
    }
    lt_router_reply(k, from, LT_FRAME_KERNEL_ADDR, req->corr, req->type, LT_OK, buf,
                    os.bytes_written);
}

static void s_status(lt_kernel_t *k, const char *from, const lt_frame_t *req)
{
    lattice_kernel_NodeStatus st = lattice_kernel_NodeStatus_init_zero;
    st.node_key.size = sizeof k->node_key.b;
    memcpy(st.node_key.bytes, k->node_key.b, sizeof k->node_key.b);
    snprintf(st.home, sizeof st.home, "%s", k->home->dir);
    st.uptime_ms = lt_kernel_mono_ms() - k->started_mono_ms;
    st.pid = (uint32_t)getpid();
    snprintf(st.version, sizeof st.version, "%s", LT_VERSION);
    for (size_t i = 0; i < k->nsvcs; i++)
        s_info(&k->svcs[i], &st.services[st.services_count++]);
    for (size_t i = 0; i < k->links.nbound && st.listen_count < 8; i++)
        snprintf(st.listen[st.listen_count++], sizeof st.listen[0], "%s", k->links.bound[i]);
    st.links_count = (pb_size_t)lt_links_info(k, st.links, sizeof st.links / sizeof st.links[0]);
    s_reply_msg(k, from, req, lattice_kernel_NodeStatus_fields, &st);
}

static void s_services(lt_kernel_t *k, const char *from, const lt_frame_t *req)
{
    lattice_kernel_ServiceList list = lattice_kernel_ServiceList_init_zero;
    for (size_t i = 0; i < k->nsvcs; i++)
        s_info(&k->svcs[i], &list.services[list.services_count++]);
    s_reply_msg(k, from, req, lattice_kernel_ServiceList_fields, &list);
}

static void s_restart(lt_kernel_t *k, const char *from, const lt_frame_t *req)
{
    lattice_kernel_ServiceRef ref = lattice_kernel_ServiceRef_init_zero;
    pb_istream_t is = pb_istream_from_buffer(req->body, req->len);
    if (!pb_decode(&is, lattice_kernel_ServiceRef_fields, &ref)) {
        lt_router_reply_error(k, from, LT_FRAME_KERNEL_ADDR, req->corr, req->type, LT_EINVAL,
                              "malformed restart request: %s", PB_GET_ERROR(&is));
        return;
    }
    lt_ksvc_t *s = lt_kernel_service(k, ref.name);
    if (!s) {
        lt_router_reply_error(k, from, LT_FRAME_KERNEL_ADDR, req->corr, req->type, LT_ENOTFOUND,
                              "no service named %s on this node", ref.name);
        return;
    }
    lt_errbuf_t eb = {{0}};
    lt_err_t rc = lt_sup_restart(k, s, &eb);
    if (rc) {
        lt_router_reply_error(k, from, LT_FRAME_KERNEL_ADDR, req->corr, req->type, rc, "%s",
                              eb.msg);
        return;
    }
    lt_router_reply(k, from, LT_FRAME_KERNEL_ADDR, req->corr, req->type, LT_OK, NULL, 0);
}

void lt_control_request(lt_kernel_t *k, const char *from, const lt_frame_t *req)
{
    switch (req->type) {
    case lattice_kernel_KernelMsgType_KERNEL_PING:
        lt_router_reply(k, from, LT_FRAME_KERNEL_ADDR, req->corr, req->type, LT_OK, NULL, 0);
        return;
    case lattice_kernel_KernelMsgType_KERNEL_STATUS:
        s_status(k, from, req);
        return;
    case lattice_kernel_KernelMsgType_KERNEL_SERVICES:
        s_services(k, from, req);
        return;
    case lattice_kernel_KernelMsgType_KERNEL_RESTART:
        s_restart(k, from, req);
        return;
    case lattice_kernel_KernelMsgType_KERNEL_ADMIT: {
        if (strcmp(from, LT_LINKS_ADMIT_SERVICE) != 0) {
            lt_router_reply_error(k, from, LT_FRAME_KERNEL_ADDR, req->corr, req->type, LT_EINVAL,
                                  "only the %s service says who may open peer links",
                                  LT_LINKS_ADMIT_SERVICE);
            return;
        }
        lt_errbuf_t eb = {{0}};
        lt_err_t rc = lt_links_set_admitted(k, req->body, req->len, &eb);
        if (rc)
            lt_router_reply_error(k, from, LT_FRAME_KERNEL_ADDR, req->corr, req->type, rc, "%s",
                                  eb.msg);
        else
            lt_router_reply(k, from, LT_FRAME_KERNEL_ADDR, req->corr, req->type, LT_OK, NULL, 0);
        return;
    }
    case lattice_kernel_KernelMsgType_KERNEL_LINK: {
        lattice_kernel_LinkTo m = lattice_kernel_LinkTo_init_zero;
        pb_istream_t is = pb_istream_from_buffer(req->body, req->len);
        lt_errbuf_t eb = {{0}};
        lt_err_t rc = LT_OK;
        if (!pb_decode(&is, lattice_kernel_LinkTo_fields, &m) || m.key.size != LT_KEY_LEN)
            rc = lt_fail(&eb, LT_EINVAL, "malformed link request");
        lt_pubkey_t key;
        char addrs[8][LT_KCONFIG_ADDR_MAX];
        size_t n = 0;
        if (rc == LT_OK) {
            memcpy(key.b, m.key.bytes, LT_KEY_LEN);
            for (pb_size_t i = 0; i < m.addrs_count && n < 8; i++)
                if (strlen(m.addrs[i]) < LT_KCONFIG_ADDR_MAX)
                    snprintf(addrs[n++], LT_KCONFIG_ADDR_MAX, "%s", m.addrs[i]);
            rc = lt_links_connect(k, &key, (const char(*)[LT_KCONFIG_ADDR_MAX])addrs, n, m.renew,
                                  &eb);
        }
        if (rc)
            lt_router_reply_error(k, from, LT_FRAME_KERNEL_ADDR, req->corr, req->type, rc, "%s",
                                  eb.msg);
        else
            lt_router_reply(k, from, LT_FRAME_KERNEL_ADDR, req->corr, req->type, LT_OK, NULL, 0);
        return;
    }
    case lattice_kernel_KernelMsgType_KERNEL_STOP:
        /* Replied first: the node may be gone before a later reply. */
        lt_router_reply(k, from, LT_FRAME_KERNEL_ADDR, req->corr, req->type, LT_OK, NULL, 0);
        lt_log_info(&k->log, S_TAG, "stop requested by %s", from);
        lt_sup_stop(k);
        return;
    default:
        lt_router_reply_error(k, from, LT_FRAME_KERNEL_ADDR, req->corr, req->type, LT_EINVAL,
                              "the kernel has no request of type %u", req->type);
        return;
    }
}
