/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The worker: joins its compute environment's consumer group on
 * drover.run.<ce>, takes RunJob requests only while it has free vCPU and
 * memory (pausing its partitions otherwise), runs each attempt in its own
 * thread through the runtime worker.runtime names (container, process or
 * hollow), reports STARTING/RUNNING/exit on drover.status, and heartbeats
 * its capacity.
 *
 * Ownership: drv_wrk_new borrows conf and log (until drv_wrk_destroy).
 * Thread safety: new, run and destroy are @thread main; attempt threads
 * share the handle under its mutex (see worker_int.h).
 */
#ifndef DRV_WORKER_H
#define DRV_WORKER_H

#include <signal.h>
#include <stddef.h>

#include "drover/conf.h"
#include "drover/log.h"

typedef struct drv_wrk drv_wrk_t;

drv_wrk_t *drv_wrk_new(const drv_conf_t *conf, drv_log_t *log, char *errstr,
                       size_t errstr_size);
/** @brief Run until *stop; then stop taking jobs and wait for running ones. */
int drv_wrk_run(drv_wrk_t *wrk, volatile sig_atomic_t *stop, char *errstr,
                size_t errstr_size);
void drv_wrk_destroy(drv_wrk_t *wrk);

#endif
