/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The web console's side of drover-gateway, under /console/ on the same
 * listener: its static pages (gateway/console/, embedded at build time),
 * a login with an access key pair of gateway.access.keys, and the session
 * it makes (a cookie: HttpOnly, SameSite=Strict, expiring; a CSRF token
 * every change carries), then the same operations the SDKs call, through
 * POST /console/api/<Operation> with the session instead of a signature:
 * no second path to job state.
 *
 * Sessions live in this gateway process (a fleet of gateways behind one
 * address needs sticky sessions); logging out ends one at once.
 * Thread-safe.
 */
#ifndef DRV_GATEWAY_CONSOLE_H
#define DRV_GATEWAY_CONSOLE_H

#include "gateway.h"

typedef struct drv_console drv_console_t;

/* keys: access key id -> secret (borrowed, for the console's life). */
drv_console_t *drv_console_new(json_t *keys, drv_log_t *log);
void drv_console_destroy(drv_console_t *c);

/* Whether the request is the console's (its path starts /console); if so
 * the reply is filled, calling `call` for an operation. */
bool drv_console_handle(drv_console_t *c, const drv_gw_request_t *rq,
                        int64_t now_ms, drv_gw_call_fn *call, void *opaque,
                        drv_gw_reply_t *reply);

#endif
