/* SPDX-License-Identifier: Apache-2.0 */
/* The dispatcher's top layer (loop.c): its public API is dispatcher.h;
 * this adds what tests need. */
#ifndef DRV_DISP_LOOP_H
#define DRV_DISP_LOOP_H

#include "dispatcher_int.h"

/* A dispatcher handle with its database, codec and metrics but no Kafka
 * and no HTTP listener: for driving the handlers directly (tests). What
 * it would publish stays in its outbox queue (disp->out). */
drv_disp_t *drv__disp_new_offline(const drv_conf_t *conf, drv_log_t *log,
                                  char *errstr, size_t errstr_size);

#endif
