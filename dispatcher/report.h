/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Worker reports (JobStatus): fenced to the job's current released
 * attempt, claimed by the first worker process that reports it (worker id
 * and process start), refused from anyone else (who is told to stop).
 * STARTING, RUNNING and SUCCEEDED are applied set-wise, one statement
 * for the reports of a run that name distinct jobs (intake.c), a job's
 * reports from one worker process folded into one row change; FAILED
 * reports are fenced and recorded the same way, many at a time, then the
 * retry strategy decides each (retry.h).
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
/* A job's routine reports of one run folded into one row change: the
 * last (what the job becomes) and those before it in order (at most two,
 * STARTING and RUNNING), each of which still gets its event. A report on
 * its own has nvia 0. */
typedef struct drv__report_fold {
    const drv__report_t *last;
    const drv__report_t *via[2];
    size_t nvia;
} drv__report_fold_t;
/* Whether report b may fold onto a, the report before it of the same job:
 * both routine, for the same attempt from the same worker process and
 * compute environment, b a later status. A report from anyone else, or
 * out of order, goes in a statement after (its claim fenced as before). */
bool drv__report_folds(const drv__report_t *a, const drv__report_t *b);
/* The statement applying routine reports folds[0..n-1], no two of the
 * same job (its parameters in rs; free them with drv__rows_clear). Its
 * result has one row per fold, in their order. */
drv_pg_stmt_t drv__reports_stmt(drv__rows_t *rs,
                                const drv__report_fold_t *folds, size_t n);
/* Act on what the statement did for fold `f` (row `row` of r): the
 * events of the statuses it passed through, then its change's. */
void drv__report_done(drv_disp_t *disp, const drv__report_fold_t *f,
                      const drv_pg_res_t *r, int row);
/* FAILED reports reps[0..n-1], no two of the same job: one statement
 * fences, claims and records them as the routine ones are, the retry
 * strategy decides each job's next status (retry.h), and one more moves
 * them all (drv__transition_many). 0, or -1 on a database error. */
int drv__reports_failed(drv_disp_t *disp, const drv__report_t *const *reps,
                        size_t n, char *errstr, size_t errstr_size);

#endif
