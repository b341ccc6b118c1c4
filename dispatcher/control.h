/* SPDX-License-Identifier: Apache-2.0 */
/*
 * CancelJob and TerminateJob, and the StopAttempt messages the dispatcher
 * sends workers (drover.control.<compute environment>).
 */
#ifndef DRV_DISP_CONTROL_H
#define DRV_DISP_CONTROL_H

#include "dispatcher_int.h"

/* A CancelJob or TerminateJob, decoded (strings borrowed). */
typedef struct drv__stop_req {
    const char *job_id;
    const char *reason;
    bool terminate;
} drv__stop_req_t;

/* Ask the workers of compute environment `ce` to stop an attempt; with
 * `worker`, only that worker acts on it. */
void drv__control_send_stop(drv_disp_t *disp, const char *job_id,
                            int attempt, const char *ce, const char *reason,
                            const char *worker);
/* Cancel or terminate a job; on an array parent, every child. */
int drv__control_apply(drv_disp_t *disp, const drv__stop_req_t *req,
                       char *errstr, size_t errstr_size);

#endif
