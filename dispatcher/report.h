/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Worker reports (JobStatus): fenced to the job's current released
 * attempt, claimed by the first worker process that reports it (worker id
 * and process start), refused from anyone else (who is told to stop).
 * STARTING, RUNNING and SUCCEEDED are one statement each and run in
 * pipelined runs (intake.c); FAILED locks and records the same way, then
 * the retry strategy decides (retry.h).
 */
#ifndef DRV_DISP_REPORT_H
#define DRV_DISP_REPORT_H

#include "dispatcher_int.h"
#include "drover/messages.h"

/* A JobStatus, decoded at intake (drover/messages.h). */
typedef drv_msg_status_t drv__report_t;

/* The parameters of a report's statement (text, pointing into the report
 * and into the buffers). */
typedef struct drv__report_params {
    char att[16], ts[24], inc[24], now[24], code[16];
    char reason[DRV_CONTAINER_REASON_MAX + 1];
    const char *p[13];
} drv__report_params_t;

/* STARTING, RUNNING and SUCCEEDED: one statement that needs nothing after
 * it but drv__report_done. */
bool drv__report_is_routine(const drv__report_t *rep);
/* The statement of a routine report (parameters in rp). */
drv_pg_stmt_t drv__report_stmt(drv__report_params_t *rp,
                               const drv__report_t *rep);
/* Act on what a routine report's statement did (its result r). */
void drv__report_done(drv_disp_t *disp, const drv__report_t *rep,
                      const drv_pg_res_t *r);
/* A FAILED report: lock, record, and the job's next status. 0, or -1 on a
 * database error. */
int drv__report_failed(drv_disp_t *disp, const drv__report_t *rep,
                       char *errstr, size_t errstr_size);

#endif
