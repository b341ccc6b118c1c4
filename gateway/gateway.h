/* SPDX-License-Identifier: Apache-2.0 */
/*
 * drover-gateway: AWS Batch's REST-JSON API over HTTP (libmicrohttpd), so
 * boto3 and the aws CLI drive Drover. Every operation goes through the
 * producer library (drv_client_call): the same validation, no second path
 * to the job state. Requests are verified with SigV4 against the access
 * keys in gateway.access.keys unless gateway.auth is false.
 */
#ifndef DRV_GATEWAY_H
#define DRV_GATEWAY_H

#include <signal.h>
#include <stddef.h>

#include "drover/conf.h"
#include "drover/log.h"

typedef struct drv_gw drv_gw_t;

drv_gw_t *drv_gw_start(const drv_conf_t *conf, drv_log_t *log, char *errstr,
                       size_t errstr_size);
void drv_gw_stop(drv_gw_t *gw);

#endif
