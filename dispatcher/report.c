/* SPDX-License-Identifier: Apache-2.0 */
/* Worker reports (report.h). */
#include "report.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "capacity.h"
#include "control.h"
#include "drover/util.h"
#include "retry.h"
#include "transition.h"

/*
 * What the report statements share: their rows r ($1, a JSON array read
 * through drover_rows) with job_id, attempt, worker, inc (the worker
 * process's start), cid, stopped, code, reason, sreason and ce (the
 * signed origin's compute environment, NULL where origins are not
 * checked). REPORT_FENCE reads each row with its job (c) and attempt (o),
 * once: whether it is for the job's current released attempt on that
 * compute environment (locked), and whether its sender owns the attempt
 * or nobody does (owned); `cols` and `joins` add to it. REPORT_RECORD
 * records an owned report on the attempt (a), claiming it if nobody has
 * (`sets` adds to it); not its log stream, which the dispatcher named.
 * The later parts of a statement read only j and a table's primary key,
 * never another part (a join of two of them was planned as a nested loop
 * on their 1-row estimates: 0.4 ms per report). j takes no row lock: the
 * active dispatcher is the only writer of jobs and attempts.
 */
#define REPORT_FENCE(cols, joins)                                              \
    "k AS (SELECT r.*, c.compute_environment AS job_ce, c.placed_worker AS " \
    "held_by, o.worker AS owner, COALESCE(c.attempts = r.attempt AND "       \
    "c.released AND (r.ce IS NULL OR c.compute_environment = r.ce), false) " \
    "AS locked, o.job_id IS NOT NULL AND COALESCE(o.worker, r.worker) = "    \
    "r.worker AND COALESCE(o.worker_started_at, r.inc) = r.inc AS claims"    \
    cols " FROM r LEFT JOIN jobs c ON c.job_id = r.job_id LEFT JOIN "        \
    "attempts o ON o.job_id = r.job_id AND o.attempt = r.attempt" joins      \
    "), j AS MATERIALIZED (SELECT *, locked AND claims AS owned FROM k), "
#define REPORT_RECORD(sets)                                                    \
    "a AS (UPDATE attempts t SET worker = COALESCE(t.worker, j.worker), "    \
    "worker_started_at = COALESCE(t.worker_started_at, j.inc), "             \
    "container_id = COALESCE(j.cid, t.container_id), " sets                  \
    "stopped_at = COALESCE(j.stopped, t.stopped_at), "                       \
    "exit_code = COALESCE(j.code, t.exit_code), "                            \
    "reason = COALESCE(j.reason, t.reason), "                                \
    "status_reason = COALESCE(j.sreason, t.status_reason) FROM j WHERE "     \
    "j.owned AND t.job_id = j.job_id AND t.attempt = j.attempt)"
/* The columns every report statement's result has after its own (enum
 * rtail): the attempt's owner, the job's compute environment, locked,
 * owned, and the worker that held the job before. */
#define REPORT_TAIL "j.owner, j.job_ce, j.locked::int, j.owned::int, j.held_by"
enum rtail { RT_OWNER, RT_CE, RT_LOCKED, RT_OWNED, RT_HELD_BY, RT_COUNT };

/*
 * STARTING, RUNNING and SUCCEEDED reports, one statement for many, at most
 * one row per job ($1: a JSON array of rows, drv__reports_stmt; $2 now).
 * A row may be a fold of a job's reports (drv__report_fold_t): the last
 * one's status and outcome, the times of each (started: RUNNING's, which
 * alone sets the job's started_at; stopped: SUCCEEDED's).
 * An owned report is recorded on the attempt (a) and moves the job (u):
 * STARTING or RUNNING to that status, the owner holding it now whichever
 * worker it was sent to (placement counts what each worker holds from
 * placed_worker); SUCCEEDED records the outcome and finishes the job,
 * giving back its capacity and waking its dependents. A terminated job
 * ends FAILED whatever its exit code, with the caller's reason (AWS: a
 * container that ignored SIGTERM and exited 0 inside the stop grace was
 * terminated all the same); its dependents then fail in turn. One result
 * row per report, in their order: u's columns (NULLs when the job did not
 * move), its ordinal, the REPORT_TAIL columns, then the rstail ones.
 */
#define REPORTS_SQL                                                            \
    "WITH r AS (SELECT r.* FROM drover_rows($1::jsonb) e, jsonb_to_record(e) " \
    "AS r(i int, job_id text, attempt int, worker text, cid text, started "  \
    "bigint, stopped bigint, inc bigint, status text, code int, "            \
    "reason text, jreason text, sreason text, ce text)), "                   \
    REPORT_FENCE(", c.status AS was, c.started_at AS o_started, "            \
                 "c.stopped_at AS o_stopped, c.exit_code AS o_code, "        \
                 "c.reason AS o_reason, c.status_reason AS o_sreason", "")   \
    REPORT_RECORD("started_at = COALESCE(j.started, t.started_at), ") ", "  \
    "u AS (UPDATE jobs SET status = CASE WHEN j.status <> 'SUCCEEDED' THEN " \
    "j.status WHEN jobs.is_terminated THEN 'FAILED' ELSE 'SUCCEEDED' END, "   \
    "status_reason = CASE WHEN j.status = 'SUCCEEDED' AND NOT "              \
    "jobs.is_terminated THEN COALESCE(j.sreason, jobs.status_reason) ELSE "  \
    "jobs.status_reason END, updated_at = $2::bigint, "                      \
    "started_at = CASE WHEN j.started IS NOT NULL THEN $2::bigint ELSE "     \
    "jobs.started_at END, stopped_at = CASE WHEN j.status = 'SUCCEEDED' "    \
    "THEN $2::bigint ELSE jobs.stopped_at END, "                             \
    "released = j.status <> 'SUCCEEDED', "                                   \
    "exit_code = CASE WHEN j.status = 'SUCCEEDED' THEN COALESCE(j.code, "    \
    "jobs.exit_code) ELSE jobs.exit_code END, "                              \
    "reason = CASE WHEN j.status = 'SUCCEEDED' THEN COALESCE(j.jreason, "    \
    "jobs.reason) ELSE jobs.reason END, placed_worker = j.worker "           \
    "FROM j WHERE j.owned AND jobs.job_id = j.job_id AND jobs.status NOT "   \
    "IN " DRV__TERMINAL " AND jobs.status <> j.status RETURNING "            \
    DRV__TRANSITION_RETURNING(                                               \
        "j.was", "j.status = 'SUCCEEDED'",                                   \
        "CASE WHEN j.status = 'SUCCEEDED' THEN " DRV__WAITING_DEPENDENTS(    \
            "jobs.job_id") " END") ", j.i AS ri) "                           \
    "SELECT u.*, " REPORT_TAIL ", j.o_started, j.o_stopped, j.o_code, "      \
    "j.o_reason, j.o_sreason FROM j LEFT JOIN u ON u.ri = j.i ORDER BY j.i"
/* Where REPORTS_SQL's REPORT_TAIL columns start. */
#define REPORTS_TAIL (DRV__TC_COUNT + 1)
/* ... and after them the job's columns as they were (enum rstail): what
 * the events of the statuses a fold passed through show. */
enum rstail { RS_STARTED = RT_COUNT, RS_STOPPED, RS_CODE, RS_REASON,
              RS_SREASON };

/*
 * FAILED reports, one statement for many, no two of the same job ($1: a
 * JSON array of rows, its only parameter): fenced and recorded on the
 * attempt as the routine ones; what a report means for its job is decided
 * after, from the retry strategy (the job's, else its array parent's) and
 * whether a user stopped it. One row per report, in their order: the REPORT_TAIL
 * columns, then enum ftail's.
 */
#define FAILED_SQL                                                             \
    "WITH r AS (SELECT r.* FROM drover_rows($1::jsonb) e, jsonb_to_record(e) " \
    "AS r(i int, job_id text, attempt int, worker text, cid text, stopped "  \
    "bigint, inc bigint, code int, reason text, sreason text, ce text)), "  \
    REPORT_FENCE(", COALESCE(c.resolved, p.resolved)->'retryStrategy' AS "   \
                 "retry, c.is_cancelled OR c.is_terminated AS by_user",      \
                 " LEFT JOIN jobs p ON p.job_id = c.array_parent")           \
    REPORT_RECORD("") " SELECT " REPORT_TAIL ", j.retry, j.by_user, j.i "    \
    "FROM j ORDER BY j.i"
enum ftail { FT_RETRY = RT_COUNT, FT_STOPPED, FT_I };

bool drv__report_is_routine(const drv__report_t *rep)
{
    return rep->status == DRV_JOB_STARTING ||
           rep->status == DRV_JOB_RUNNING || rep->status == DRV_JOB_SUCCEEDED;
}

bool drv__report_folds(const drv__report_t *a, const drv__report_t *b)
{
    return drv__report_is_routine(a) && drv__report_is_routine(b) &&
           a->status < b->status && a->attempt == b->attempt &&
           a->worker_started_at == b->worker_started_at && a->worker &&
           b->worker && !strcmp(a->worker, b->worker) &&
           (a->origin_ce ? b->origin_ce && !strcmp(a->origin_ce, b->origin_ce)
                         : !b->origin_ce);
}

/* The latest container id of a fold's reports. */
static const char *fold_cid(const drv__report_fold_t *f)
{
    for (size_t k = f->nvia + 1; k-- > 0;) {
        const drv__report_t *x = k == f->nvia ? f->last : f->via[k];
        if (x->container_id) {
            return x->container_id;
        }
    }
    return NULL;
}

/* A fold's row of REPORTS_SQL's $1 (its ordinal i). */
static json_t *report_row(const drv__report_fold_t *f, size_t i)
{
    const drv__report_t *rep = f->last;
    bool done = rep->status == DRV_JOB_SUCCEEDED;
    json_t *row = json_object();
    json_object_set_new(row, "i", json_integer((json_int_t)i));
    json_object_set_new(row, "job_id", drv__rows_str(rep->job_id));
    json_object_set_new(row, "attempt", json_integer(rep->attempt));
    json_object_set_new(row, "worker", drv__rows_str(rep->worker));
    json_object_set_new(row, "cid", drv__rows_str(fold_cid(f)));
    for (size_t k = 0; k <= f->nvia; k++) { /* STARTING: no time */
        const drv__report_t *x = k < f->nvia ? f->via[k] : rep;
        if (x->status == DRV_JOB_RUNNING || x->status == DRV_JOB_SUCCEEDED) {
            json_object_set_new(row,
                                x->status == DRV_JOB_RUNNING ? "started"
                                                             : "stopped",
                                json_integer(x->timestamp));
        }
    }
    json_object_set_new(row, "inc", json_integer(rep->worker_started_at));
    json_object_set_new(row, "status",
                        json_string(drv_job_status_name(rep->status)));
    json_object_set_new(row, "ce", drv__rows_str(rep->origin_ce));
    if (done) { /* what a finished attempt records */
        if (rep->has_exit_code) {
            json_object_set_new(row, "code", json_integer(rep->exit_code));
        }
        if (rep->reason) { /* the job keeps a bounded copy, the attempt all */
            char bounded[DRV_CONTAINER_REASON_MAX + 1];
            drv_utf8_copy(bounded, sizeof(bounded), rep->reason,
                          strlen(rep->reason));
            json_object_set_new(row, "reason", drv__rows_str(rep->reason));
            json_object_set_new(row, "jreason", drv__rows_str(bounded));
        }
        json_object_set_new(row, "sreason", drv__rows_str(rep->status_reason));
    }
    return row;
}

drv_pg_stmt_t drv__reports_stmt(drv__rows_t *rs,
                                const drv__report_fold_t *folds, size_t n)
{
    json_t *rows = json_array();
    for (size_t i = 0; i < n; i++) {
        json_array_append_new(rows, report_row(&folds[i], i));
    }
    return drv__rows_stmt(rs, REPORTS_SQL, rows);
}

/* A report from a worker process that does not own its attempt (it is
 * `owner`'s): logged, and a run it starts or runs is stopped. */
static void refuse_duplicate(drv_disp_t *disp, const drv__report_t *rep,
                             const char *owner, const char *ce)
{
    json_t *f = drv_log_job(rep->job_id);
    json_object_set_new(f, "worker", json_string(rep->worker));
    drv_log(disp->log, DRV_LOG_WARN, "job.duplicate_run", f,
            "attempt %d is %s's; the duplicate run on %s is stopped",
            rep->attempt, owner ? owner : "nobody", rep->worker);
    json_decref(f);
    if (ce && (rep->status == DRV_JOB_STARTING ||
               rep->status == DRV_JOB_RUNNING)) {
        drv__control_send_stop(disp, rep->job_id, rep->attempt, ce,
                               "Duplicate run of an attempt claimed by "
                               "another worker",
                               rep->worker);
    }
}

/* The tail says whether the report counts: 1 if it comes from the owner
 * of the current attempt; else 0, after the fencing or the refusal. */
static int admitted(drv_disp_t *disp, const drv__report_t *rep,
                    const drv_pg_res_t *r, int row, int t0)
{
    const char *ce = drv_pg_res_get(r, row, t0 + RT_CE);
    if (drv_pg_res_int(r, row, t0 + RT_LOCKED, 0) == 0) {
        json_t *f = drv_log_job(rep->job_id);
        drv_log(disp->log, DRV_LOG_DEBUG, "job.status_fenced", f,
                "ignored %s for attempt %d: not the current attempt",
                drv_job_status_name(rep->status), rep->attempt);
        json_decref(f);
        /* a run that starts after its attempt ended (a RunJob delivered
         * twice, claimed after the job finished) must not go on */
        if (ce && (rep->status == DRV_JOB_STARTING ||
                   rep->status == DRV_JOB_RUNNING)) {
            drv__control_send_stop(disp, rep->job_id, rep->attempt, ce,
                                   "Run of an attempt that is no longer "
                                   "current",
                                   rep->worker);
        }
        return 0;
    }
    if (drv_pg_res_int(r, row, t0 + RT_OWNED, 0) == 0) {
        refuse_duplicate(disp, rep, drv_pg_res_get(r, row, t0 + RT_OWNER),
                         ce);
        return 0;
    }
    return 1;
}

/* The events of the statuses fold f passed through before its last
 * (those past the job's status before the statement): each shows the job
 * as it was then - its old times and outcome, startedAt from RUNNING on.
 * The status the last event came from goes to *prev. */
static void fold_passed(drv_disp_t *disp, const drv__report_fold_t *f,
                        const drv_pg_res_t *r, int row, const char **prev)
{
    drv_job_status_t was = DRV_JOB_SUBMITTED;
    if (*prev) {
        drv_job_status_parse(*prev, &was);
    }
    static const int old[][2] = {{DRV__TC_STOPPED_AT, RS_STOPPED},
                                 {DRV__TC_EXIT_CODE, RS_CODE},
                                 {DRV__TC_REASON, RS_REASON},
                                 {DRV__TC_STATUS_REASON, RS_SREASON}};
    for (size_t k = 0; k < f->nvia; k++) {
        drv_job_status_t st = f->via[k]->status;
        if (st <= was) {
            continue;
        }
        drv__event_as_t as;
        memset(&as, 0, sizeof(as));
        as.set[DRV__TC_STATUS] = as.set[DRV__TC_PREV] = true;
        as.v[DRV__TC_STATUS] = drv_job_status_name(st);
        as.v[DRV__TC_PREV] = *prev;
        as.set[DRV__TC_STARTED_AT] = true;
        as.v[DRV__TC_STARTED_AT] =
            drv_pg_res_get(r, row, st == DRV_JOB_RUNNING
                                       ? DRV__TC_STARTED_AT
                                       : REPORTS_TAIL + RS_STARTED);
        for (size_t c = 0; c < sizeof(old) / sizeof(old[0]); c++) {
            as.set[old[c][0]] = true;
            as.v[old[c][0]] = drv_pg_res_get(r, row, REPORTS_TAIL + old[c][1]);
        }
        drv__transition_passed(disp, r, row, 0, &as);
        *prev = as.v[DRV__TC_STATUS];
    }
}

/* Whether fold f counts (admitted); if not, each of its reports is
 * refused as it would have been on its own: logged, and a run it starts
 * or runs told to stop. */
static bool fold_admitted(drv_disp_t *disp, const drv__report_fold_t *f,
                          const drv_pg_res_t *r, int row)
{
    if (drv_pg_res_int(r, row, REPORTS_TAIL + RT_LOCKED, 0) != 0 &&
        drv_pg_res_int(r, row, REPORTS_TAIL + RT_OWNED, 0) != 0) {
        return true;
    }
    for (size_t k = 0; k < f->nvia; k++) {
        (void)admitted(disp, f->via[k], r, row, REPORTS_TAIL);
    }
    (void)admitted(disp, f->last, r, row, REPORTS_TAIL);
    return false;
}

void drv__report_done(drv_disp_t *disp, const drv__report_fold_t *f,
                      const drv_pg_res_t *r, int row)
{
    const drv__report_t *rep = f->last;
    if (fold_admitted(disp, f, r, row) &&
        drv_pg_res_get(r, row, DRV__TC_JOB_ID)) { /* NULL: no change */
        const char *prev = drv_pg_res_get(r, row, DRV__TC_PREV);
        fold_passed(disp, f, r, row, &prev);
        drv__event_as_t as;
        memset(&as, 0, sizeof(as));
        as.set[DRV__TC_PREV] = true;
        as.v[DRV__TC_PREV] = prev;
        drv__transition_done_as(disp, r, row, 0, &as);
        /* its claimer holds it now: what it asks for moves from the
         * worker it was sent to (a rebalance moved the partition); a
         * finished job gave it back from the claimer just now */
        const char *was = drv_pg_res_get(r, row, REPORTS_TAIL + RT_HELD_BY);
        if (!was || strcmp(was, rep->worker)) {
            double v = strtod(drv_pg_res_get(r, row, DRV__TC_VCPUS), NULL);
            double m = strtod(drv_pg_res_get(r, row, DRV__TC_MEMORY), NULL);
            double g = strtod(drv_pg_res_get(r, row, DRV__TC_GPUS), NULL);
            drv__capacity_worker_add(disp, was, v, m, g, -1);
            drv__capacity_worker_add(disp, rep->worker, v, m, g, 1);
        }
    }
}

/* A FAILED report's row of FAILED_SQL's $1 (its ordinal i). */
static json_t *failed_row(const drv__report_t *rep, size_t i)
{
    json_t *row = json_pack(
        "{s:I,s:s,s:i,s:o,s:o,s:I,s:I,s:o,s:o,s:o}", "i", (json_int_t)i,
        "job_id", rep->job_id, "attempt", rep->attempt, "worker",
        drv__rows_str(rep->worker), "cid", drv__rows_str(rep->container_id),
        "stopped", (json_int_t)rep->timestamp, "inc",
        (json_int_t)rep->worker_started_at, "reason",
        drv__rows_str(rep->reason), "sreason",
        drv__rows_str(rep->status_reason), "ce",
        drv__rows_str(rep->origin_ce));
    if (rep->has_exit_code) {
        json_object_set_new(row, "code", json_integer(rep->exit_code));
    }
    return row;
}

int drv__reports_failed(drv_disp_t *disp, const drv__report_t *const *reps,
                        size_t n, char *errstr, size_t errstr_size)
{
    if (n == 0) {
        return 0;
    }
    json_t *rows = json_array();
    for (size_t i = 0; i < n; i++) {
        json_array_append_new(rows, failed_row(reps[i], i));
    }
    drv__rows_t rs;
    drv_pg_stmt_t st = drv__rows_stmt(&rs, FAILED_SQL, rows);
    st.nparams = 1; /* no time: the report's own is recorded */
    drv_pg_res_t *r = drv_pg_query(disp->pg, st.sql, st.nparams, st.params,
                                   errstr, errstr_size);
    drv__rows_clear(&rs);
    if (!r) {
        return -1;
    }
    drv__move_t *mv = drv_calloc(n, sizeof(*mv));
    /* the job keeps a bounded copy of the reason, the attempt all of it */
    char(*bounded)[DRV_CONTAINER_REASON_MAX + 1] =
        drv_calloc(n, sizeof(*bounded));
    size_t m = 0;
    for (int row = 0; row < drv_pg_res_rows(r); row++) {
        int64_t i = drv_pg_res_int(r, row, FT_I, -1); /* its report's */
        if (i < 0 || (size_t)i >= n) {
            continue;
        }
        const drv__report_t *rep = reps[i];
        if (!admitted(disp, rep, r, row, 0)) {
            continue;
        }
        if (rep->reason) {
            drv_utf8_copy(bounded[m], sizeof(bounded[m]), rep->reason,
                          strlen(rep->reason));
        }
        drv__outcome_t o = {
            .succeeded = false,
            .exit_code = rep->has_exit_code ? rep->exit_code : -1,
            .reason = rep->reason ? bounded[m] : NULL,
            .status_reason = rep->status_reason};
        json_t *retry = drv_pg_res_json(r, row, FT_RETRY);
        const char *stopped = drv_pg_res_get(r, row, FT_STOPPED);
        mv[m].job_id = rep->job_id;
        mv[m].to = drv__retry_decide(&o, retry, rep->attempt,
                                     stopped && stopped[0] == 't', &mv[m].c);
        json_decref(retry);
        m++;
    }
    drv_pg_res_free(r);
    int ret = drv__transition_many(disp, mv, m, errstr, errstr_size) < 0
                  ? -1
                  : 0;
    free(bounded);
    free(mv);
    return ret;
}
