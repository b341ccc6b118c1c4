/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The dispatcher: the only writer of job state. It consumes the submit
 * topics and drover.status, applies each batch of messages in one
 * PostgreSQL transaction together with the consumed offsets, releases
 * runnable jobs to the run topics of their compute environments within
 * capacity, and publishes a JobStateChange for every transition.
 *
 * Ownership: drv_disp_new borrows conf and log for the handle's life.
 * Thread safety: @thread main only.
 */
#ifndef DRV_DISPATCHER_H
#define DRV_DISPATCHER_H

#include <signal.h>
#include <stddef.h>

#include "drover/conf.h"
#include "drover/log.h"

typedef struct drv_disp drv_disp_t;

drv_disp_t *drv_disp_new(const drv_conf_t *conf, drv_log_t *log, char *errstr,
                         size_t errstr_size);
void drv_disp_destroy(drv_disp_t *disp);

/** @brief Run until *stop is set; returns 0, or -1 on a fatal error. */
int drv_disp_run(drv_disp_t *disp, volatile sig_atomic_t *stop, char *errstr,
                 size_t errstr_size);

#endif
