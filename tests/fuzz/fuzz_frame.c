/* Fuzz target: the kernel framing decoder (ipc/frame.h). The input is split
 * into parts: one byte gives the part count (0..8), then each part is a
 * 2-byte little-endian length and that many bytes (a length running past the
 * end takes what is left; bytes after the last part are ignored). Whatever
 * decodes must re-encode to identical parts, and every rejection must carry
 * a known reason and its documented code. */
#include "ipc/frame.h"

#include <stdlib.h>
#include <string.h>

#define MAX_PARTS 8

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const lt_err_t s_codes[LT_FRAME_R_COUNT] = {
    [LT_FRAME_ACCEPTED] = LT_OK,        [LT_FRAME_R_NOPARTS] = LT_ETRUNCATED,
    [LT_FRAME_R_SIGNATURE] = LT_EINVAL, [LT_FRAME_R_VERSION] = LT_EVERSION,
    [LT_FRAME_R_COMMAND] = LT_EINVAL,   [LT_FRAME_R_MISSING] = LT_ETRUNCATED,
    [LT_FRAME_R_EXTRA] = LT_ETRAILING,  [LT_FRAME_R_FIELD_SIZE] = LT_EINVAL,
    [LT_FRAME_R_ADDRESS] = LT_EINVAL,   [LT_FRAME_R_NAME] = LT_EINVAL,
    [LT_FRAME_R_STATUS] = LT_EINVAL,    [LT_FRAME_R_BODY_SIZE] = LT_EINVAL,
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    size_t nparts = data[0] % (MAX_PARTS + 1);
    size_t off = 1;
    lt_frame_part_t parts[MAX_PARTS];
    for (size_t i = 0; i < nparts; i++) {
        size_t len = 0;
        if (off + 2 <= size)
            len = (size_t)data[off] | (size_t)data[off + 1] << 8;
        off = off + 2 <= size ? off + 2 : size;
        if (len > size - off)
            len = size - off;
        parts[i] = (lt_frame_part_t){data + off, len};
        off += len;
    }

    lt_frame_t f;
    lt_frame_reject_t why;
    lt_errbuf_t eb = {{0}};
    lt_err_t rc = lt_frame_decode(parts, nparts, &f, &why, &eb);
    if ((unsigned)why >= LT_FRAME_R_COUNT || rc != s_codes[why])
        abort();
    if (rc != LT_OK) {
        if (strncmp(eb.msg, "frame: ", 7) != 0)
            abort();
        return 0;
    }

    lt_frame_part_t again[LT_FRAME_MAX_PARTS];
    size_t n = 0;
    lt_frame_scratch_t scratch;
    if (lt_frame_encode(&f, again, &n, &scratch, NULL) != LT_OK || n != nparts)
        abort();
    for (size_t i = 0; i < n; i++)
        if (again[i].len != parts[i].len || memcmp(again[i].p, parts[i].p, parts[i].len) != 0)
            abort();

    lt_msg_t m;
    if (lt_frame_to_msg(&f, &m) == LT_OK) {
        lt_frame_t g;
        if (lt_frame_from_msg(&g, m.from, &m) != LT_OK || g.cmd != f.cmd || g.corr != f.corr ||
            g.len != f.len || g.body != f.body)
            abort();
    }
    return 0;
}
