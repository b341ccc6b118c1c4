/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What released jobs hold, per compute environment (vCPUs and MiB) and
 * per worker (vCPUs, MiB and GPUs, for placement): read
 * from the database when this dispatcher starts leading, after a rollback
 * and once a minute; in between moved by the releases and finishes this
 * dispatcher makes, so a scheduling pass needs no scan.
 */
#ifndef DRV_DISP_CAPACITY_H
#define DRV_DISP_CAPACITY_H

#include "dispatcher_int.h"

/* The open transaction released (sign 1) or let go of (-1) a job's vCPUs
 * and memory on compute environment `ce`. */
void drv__capacity_add(drv_disp_t *disp, const char *ce, double vcpus,
                       double mib, int sign);
/* The transaction committed (true) or rolled back (false). */
void drv__capacity_end(drv_disp_t *disp, bool committed);
/* Forget what is known: it is read again at the next drv__capacity_held
 * (another dispatcher may have led in between). */
void drv__capacity_reset(drv_disp_t *disp);
/* What environment `ce` holds now (committed plus the open transaction's
 * changes), reading it from the database first when due. */
int drv__capacity_held(drv_disp_t *disp, const char *ce, double *vcpus,
                       double *mib, char *errstr, size_t errstr_size);
/* The same per worker: what the jobs a worker holds (placed_worker: the
 * one a job was sent to, then the one that claimed it) ask for, GPUs
 * too. A NULL worker (a job sent by its key, unclaimed) is no one's. */
void drv__capacity_worker_add(drv_disp_t *disp, const char *worker,
                              double vcpus, double mib, double gpus,
                              int sign);
int drv__capacity_worker_held(drv_disp_t *disp, const char *worker,
                              double *vcpus, double *mib, double *gpus,
                              char *errstr, size_t errstr_size);
/* Free what the module holds. */
void drv__capacity_free(drv_disp_t *disp);

#endif
