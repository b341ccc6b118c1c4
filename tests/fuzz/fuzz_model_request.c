/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target: AWS API requests and replies against the model
 * (drover/aws_model.h), as the client library checks every request before
 * anything else and serialises every reply. The first byte picks the
 * operation, the rest is JSON. A request is checked and, whatever the
 * verdict, serialised as if it were the reply; the serialised reply must
 * then pass the strict reply check but for required members and enums
 * (which only Drover's own replies are held to). A refusal without a
 * message is a failure.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "drover/aws_model.h"
#include "drover/err.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) {
        return 0;
    }
    const drv_model_op_t *op = &drv_model_ops[data[0] % drv_model_nops];
    json_t *in = json_loadb((const char *)data + 1, size - 1, 0, NULL);
    if (!in) {
        return 0;
    }
    char e[DRV_ERRSTR_SIZE] = "";
    if (json_is_object(in) &&
        drv_model_check_request(op, in, e, sizeof(e)) != 0 && !e[0]) {
        abort(); /* refused without saying why */
    }
    int dropped = 0;
    json_t *out = drv_model_serialize(op, in, &dropped, e, sizeof(e));
    if (!out || (dropped && !e[0])) {
        abort();
    }
    json_decref(out);
    json_decref(in);
    return 0;
}
