/* SPDX-License-Identifier: Apache-2.0 */
/*
 * CancelJob and TerminateJob, and the StopAttempt messages the dispatcher
 * sends workers (drover.control.<compute environment>).
 */
#ifndef DRV_DISP_CONTROL_H
#define DRV_DISP_CONTROL_H

#include "dispatcher_int.h"
#include "drover/messages.h"

/* Ask the workers of compute environment `ce` to stop an attempt; with
 * `worker`, only that worker acts on it. */
void drv__control_send_stop(drv_disp_t *disp, const char *job_id,
                            int attempt, const char *ce, const char *reason,
                            const char *worker);
/* Cancel (or, with `terminate`, terminate) a job; on an array parent,
 * every child. */
int drv__control_apply(drv_disp_t *disp, const drv_msg_stop_t *req,
                       bool terminate, char *errstr, size_t errstr_size);

/* Queues being deleted (DeleteJobQueue: status DELETING): their jobs are
 * terminated, and a queue none of whose jobs is unfinished is removed. */
int drv__control_deleted_queues(drv_disp_t *disp, char *errstr,
                                size_t errstr_size);

/* Queues' jobStateTimeLimitActions: the job at the head of a queue,
 * RUNNABLE (not released) for over an action's maxTimeSeconds with the
 * action's reason as its statusReason, is cancelled (AWS's CANCEL). */
int drv__control_time_limits(drv_disp_t *disp, char *errstr,
                             size_t errstr_size);

#endif
