/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Workers: their heartbeats (capacity, partitions, running attempts) and
 * leases. A worker silent for dispatcher.worker.lease.ms, or seen again
 * as a new process, loses its live attempts: they fail with AWS's
 * host-lost reason and the retry strategy decides (report.h).
 */
#ifndef DRV_DISP_FLEET_H
#define DRV_DISP_FLEET_H

#include "dispatcher_int.h"
#include "drover/messages.h"

/* A WorkerHeartbeat, decoded at intake (drover/messages.h). */
typedef drv_msg_heartbeat_t drv__heartbeat_t;

/* Record a heartbeat; a worker seen as a new process loses what its
 * previous process held. */
int drv__fleet_heartbeat(drv_disp_t *disp, const drv__heartbeat_t *hb,
                         char *errstr, size_t errstr_size);
/* Fail the attempts of workers silent for longer than their lease. */
int drv__fleet_lose_silent(drv_disp_t *disp, char *errstr,
                           size_t errstr_size);

#endif
