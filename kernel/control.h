/* The control endpoint: requests addressed to "kernel" (schemas/
 * kernel.proto), answered by the kernel itself — PING, STATUS, SERVICES,
 * RESTART, STOP — and the Error body every kernel-made failure reply
 * carries. */
#ifndef LT_KERNEL_CONTROL_H
#define LT_KERNEL_CONTROL_H

#include "ipc/frame.h"
#include "kernel/kernel.h"

#include <stddef.h>
#include <stdint.h>

/* Answers one REQUEST to "kernel" from the address `from`. */
void lt_control_request(lt_kernel_t *k, const char *from, const lt_frame_t *req);

/* Encodes a kernel.proto Error holding line (cut to its field's size) into
 * buf; returns the length (0 when it does not fit). */
size_t lt_control_error_body(const char *line, uint8_t *buf, size_t cap);

/* The latticed version string. */
const char *lt_control_version(void);

#endif
