/* SPDX-License-Identifier: Apache-2.0 */
/* Error-string helpers: see drover/err.h. */
#include "drover/err.h"

#include <stdarg.h>
#include <stdio.h>

void drv_errstr_set(char *errstr, size_t errstr_size, const char *fmt, ...)
{
    if (!errstr || errstr_size == 0) {
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(errstr, errstr_size, fmt, ap);
    va_end(ap);
}

const char *drv_err_name(drv_err_t err)
{
    switch (err) {
    case DRV_OK:
        return "ok";
    case DRV_ERR_TRANSIENT:
        return "transient";
    case DRV_ERR_FATAL:
        return "fatal";
    case DRV_ERR_INVALID:
        return "invalid";
    case DRV_ERR_NOTFOUND:
        return "not_found";
    case DRV_ERR_EXISTS:
        return "exists";
    }
    return "unknown";
}
