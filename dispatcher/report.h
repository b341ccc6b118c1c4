/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Worker reports (JobStatus): fenced to the job's current released
 * attempt, claimed by the first worker process that reports it (worker id
 * and process start), refused from anyone else (who is told to stop).
 * STARTING, RUNNING and SUCCEEDED are applied set-wise, one statement
 * for the reports of a run that name distinct jobs (intake.c); FAILED
 * locks and records the same way, one at a time, then the retry strategy
 * decides (retry.h).
 */
#ifndef DRV_DISP_REPORT_H
#define DRV_DISP_REPORT_H

#include "dispatcher_int.h"
#include "drover/messages.h"
#include "rows.h"

/* A JobStatus, decoded at intake (drover/messages.h). */
typedef drv_msg_status_t drv__report_t;

/* STARTING, RUNNING and SUCCEEDED: applied many at a time, by one
 * statement that needs nothing after it but drv__report_done. */
bool drv__report_is_routine(const drv__report_t *rep);
/* The statement applying routine reports reps[0..n-1], no two of the
 * same job (its parameters in rs; free them with drv__rows_clear). Its
 * result has one row per report, in their order. */
drv_pg_stmt_t drv__reports_stmt(drv__rows_t *rs,
                                const drv__report_t *const *reps, size_t n);
/* Act on what the statement did for report `rep` (row `row` of r). */
void drv__report_done(drv_disp_t *disp, const drv__report_t *rep,
                      const drv_pg_res_t *r, int row);
/* A FAILED report: lock, record, and the job's next status. 0, or -1 on a
 * database error. */
int drv__report_failed(drv_disp_t *disp, const drv__report_t *rep,
                       char *errstr, size_t errstr_size);

#endif
