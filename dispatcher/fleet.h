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

/* A WorkerHeartbeat, decoded (strings borrowed). */
typedef struct drv__heartbeat {
    const char *worker;
    const char *compute_environment;
    double vcpus_total, vcpus_free;
    int64_t memory_total_mib, memory_free_mib;
    int64_t started_at, timestamp;
    bool draining;
} drv__heartbeat_t;

/* Record a heartbeat; a worker seen as a new process loses what its
 * previous process held. */
int drv__fleet_heartbeat(drv_disp_t *disp, const drv__heartbeat_t *hb,
                         char *errstr, size_t errstr_size);
/* Fail the attempts of workers silent for longer than their lease. */
int drv__fleet_lose_silent(drv_disp_t *disp, char *errstr,
                           size_t errstr_size);

#endif
