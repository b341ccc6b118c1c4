/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target: every message a Drover process consumes goes through
 * drv_codec_decode first, then drv_msg_from_record (drover/messages.h).
 * Any bytes must give a decoded record or a clear error (never a crash, a
 * leak or an error without a message).
 */
#include <stdint.h>
#include <stdlib.h>

#include "drover/avro_codec.h"
#include "drover/err.h"
#include "drover/messages.h"

static drv_codec_t *codec;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char e[DRV_ERRSTR_SIZE] = "";
    if (!codec && !(codec = drv_codec_new(e, sizeof(e)))) {
        abort();
    }
    const char *type = NULL;
    json_t *obj = NULL;
    drv_err_t r = drv_codec_decode(codec, data, size, &type, &obj, e,
                                   sizeof(e));
    if (r == DRV_OK) {
        if (!obj || !type) {
            abort();
        }
        /* what decodes must encode again under its own schema */
        void *buf = NULL;
        size_t len = 0;
        if (drv_codec_encode(codec, type, obj, &buf, &len, e, sizeof(e)) ==
            0) {
            free(buf);
        }
        /* and the struct of its type is read, or refused with a reason */
        drv_msg_t m;
        e[0] = '\0';
        if (drv_msg_from_record(type, obj, &m, e, sizeof(e)) == DRV_OK) {
            if (!m.obj) {
                abort();
            }
            drv_msg_clear(&m);
        } else if (m.obj || !e[0]) {
            abort();
        }
    } else if (obj || !e[0]) {
        abort();
    }
    return 0;
}
