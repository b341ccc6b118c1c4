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
 * What the report statements share. Parameters: $1 job id, $2 attempt,
 * $3 worker, $4 container id, $5 the report's timestamp, $6 log stream,
 * $7 the worker process's start; the last parameter, `ce`, is the signed
 * origin's compute environment (NULL where origins are not checked). The
 * job's row is locked if this is its current released attempt on that
 * compute environment (j); the report is recorded on the attempt if
 * its sender owns it, claiming it if nobody does (a, with `sets`); the
 * statement ends with the REPORT_TAIL columns.
 * "released IS NOT FALSE" (the column is NOT NULL) keeps the generic plan
 * on the primary key: with plain "released" it walked the jobs_in_flight
 * partial index, whose dead entries (every job that ever ran, until a
 * vacuum) made this 0.7 ms on 30,000 jobs.
 */
#define REPORT_LOCK(ce)                                                        \
    "WITH j AS (SELECT job_id, status, placed_worker FROM jobs WHERE "       \
    "job_id = $1 AND "                                                        \
    "attempts = $2::int AND released IS NOT FALSE AND (" ce "::text IS NULL " \
    "OR compute_environment = " ce ") FOR UPDATE), "
#define REPORT_RECORD(sets)                                                    \
    "a AS (UPDATE attempts SET worker = COALESCE(worker, $3), "               \
    "worker_started_at = COALESCE(worker_started_at, $7::bigint), "           \
    "container_id = COALESCE($4, container_id), "                             \
    "log_stream = COALESCE($6, log_stream), " sets " FROM j WHERE "           \
    "attempts.job_id = j.job_id AND attempts.attempt = $2::int AND "          \
    "COALESCE(attempts.worker, $3) = $3 AND "                                 \
    "COALESCE(attempts.worker_started_at, $7::bigint) = $7::bigint "          \
    "RETURNING attempts.job_id)"
/* The attempt's owner, the job's compute environment, whether j and a
 * found their rows, the worker that held the job (enum rtail). */
#define REPORT_TAIL                                                            \
    "(SELECT worker FROM attempts WHERE job_id = $1 AND attempt = $2::int), " \
    "(SELECT compute_environment FROM jobs WHERE job_id = $1), "              \
    "(SELECT count(*) FROM j), (SELECT count(*) FROM a), "                    \
    "(SELECT placed_worker FROM j)"
/* ... and the worker that held the job before (RT_HELD_BY). */
enum rtail { RT_OWNER, RT_CE, RT_LOCKED, RT_OWNED, RT_HELD_BY, RT_COUNT };
/* A routine statement: the job's change u (DRV__TRANSITION_RETURNING, or
 * NULLs when it did not move), then REPORT_TAIL. */
#define ROUTINE_RESULT                                                         \
    " SELECT u.*, " REPORT_TAIL " FROM (SELECT 1) one LEFT JOIN u ON true"
/* What a finished attempt records ($8 exit code, $9 reason, $10 status
 * reason). */
#define FINISH_SETS                                                            \
    "stopped_at = COALESCE($5::bigint, stopped_at), "                         \
    "exit_code = COALESCE($8::int, exit_code), "                              \
    "reason = COALESCE($9, reason), "                                         \
    "status_reason = COALESCE($10, status_reason)"

/* STARTING or RUNNING from the owner moves the job ($8 the status, $9
 * now, $10 ce); the owner holds it now, whichever worker it was sent to
 * (placement counts what each worker holds from placed_worker). */
#define PROGRESS_SQL                                                           \
    REPORT_LOCK("$10") REPORT_RECORD("started_at = COALESCE($5::bigint, started_at)") \
    ", u AS (UPDATE jobs SET status = $8, updated_at = $9::bigint, "          \
    "started_at = CASE WHEN $8 = 'RUNNING' THEN $9::bigint ELSE "             \
    "jobs.started_at END, placed_worker = $3 FROM a, j WHERE jobs.job_id = a.job_id AND "         \
    "jobs.status NOT IN " DRV__TERMINAL " AND jobs.status <> $8 RETURNING "   \
    DRV__TRANSITION_RETURNING("j.status", "false", "NULL::json") ")"         \
    ROUTINE_RESULT

/* SUCCEEDED from the owner records the outcome and finishes the job ($11
 * now, $12 the reason, bounded, $13 ce), giving back its capacity and
 * waking its dependents. A terminated job ends FAILED whatever its exit
 * code, with the caller's reason (AWS: a container that ignored SIGTERM
 * and exited 0 inside the stop grace was terminated all the same); its
 * dependents then fail in turn. */
#define SUCCEEDED_SQL                                                          \
    REPORT_LOCK("$13") REPORT_RECORD(FINISH_SETS)                                    \
    ", u AS (UPDATE jobs SET status = CASE WHEN jobs.is_terminated THEN "    \
    "'FAILED' ELSE 'SUCCEEDED' END, status_reason = CASE WHEN "              \
    "jobs.is_terminated THEN jobs.status_reason ELSE COALESCE($10, "          \
    "jobs.status_reason) END, updated_at = $11::bigint, "                     \
    "stopped_at = $11::bigint, released = false, "                            \
    "exit_code = COALESCE($8::int, jobs.exit_code), "                         \
    "reason = COALESCE($12, jobs.reason) FROM a, j WHERE "                    \
    "jobs.job_id = a.job_id AND jobs.status NOT IN " DRV__TERMINAL            \
    " RETURNING " DRV__TRANSITION_RETURNING(                                  \
        "j.status", "true", DRV__WAITING_DEPENDENTS("$1")) ")"              \
    ROUTINE_RESULT

/* FAILED records the outcome; what it means is decided after, from the
 * retry strategy and whether a user stopped the job (enum ftail); $11
 * ce. */
#define FAILED_SQL                                                             \
    REPORT_LOCK("$11") REPORT_RECORD(FINISH_SETS)                                    \
    " SELECT " REPORT_TAIL ", (SELECT COALESCE(x.resolved, p.resolved)->"     \
    "'retryStrategy' FROM jobs x LEFT JOIN jobs p ON p.job_id = "             \
    "x.array_parent WHERE x.job_id = $1), (SELECT is_cancelled OR "           \
    "is_terminated FROM jobs WHERE job_id = $1)"
enum ftail { FT_RETRY = RT_COUNT, FT_STOPPED };

bool drv__report_is_routine(const drv__report_t *rep)
{
    return rep->status == DRV_JOB_STARTING ||
           rep->status == DRV_JOB_RUNNING || rep->status == DRV_JOB_SUCCEEDED;
}

/* The parameters of the finishing statements, $1..$12. */
static void finish_params(drv__report_params_t *rp, const drv__report_t *rep)
{
    snprintf(rp->code, sizeof(rp->code), "%d", rep->exit_code);
    if (rep->reason) { /* the job keeps a bounded copy, the attempt all */
        snprintf(rp->reason, sizeof(rp->reason), "%s", rep->reason);
    }
    const char *p[] = {rep->job_id,     rp->att,
                       rep->worker,     rep->container_id,
                       rp->ts,          rep->log_stream,
                       rp->inc,         rep->has_exit_code ? rp->code : NULL,
                       rep->reason,     rep->status_reason,
                       rp->now,         rep->reason ? rp->reason : NULL};
    memcpy(rp->p, p, sizeof(p));
}

drv_pg_stmt_t drv__report_stmt(drv__report_params_t *rp,
                               const drv__report_t *rep)
{
    snprintf(rp->att, sizeof(rp->att), "%d", rep->attempt);
    snprintf(rp->ts, sizeof(rp->ts), "%" PRId64, rep->timestamp);
    snprintf(rp->inc, sizeof(rp->inc), "%" PRId64, rep->worker_started_at);
    snprintf(rp->now, sizeof(rp->now), "%" PRId64, drv_now_ms());
    if (rep->status == DRV_JOB_SUCCEEDED) {
        finish_params(rp, rep);
        rp->p[12] = rep->origin_ce;
        return (drv_pg_stmt_t){SUCCEEDED_SQL, 13, rp->p};
    }
    if (rep->status == DRV_JOB_FAILED) {
        finish_params(rp, rep);
        rp->p[10] = rep->origin_ce; /* FAILED has no $11 now or $12 */
        return (drv_pg_stmt_t){FAILED_SQL, 11, rp->p};
    }
    const char *p[] = {rep->job_id,
                       rp->att,
                       rep->worker,
                       rep->container_id,
                       rep->status == DRV_JOB_RUNNING ? rp->ts : NULL,
                       rep->log_stream,
                       rp->inc,
                       drv_job_status_name(rep->status),
                       rp->now,
                       rep->origin_ce};
    memcpy(rp->p, p, sizeof(p));
    return (drv_pg_stmt_t){PROGRESS_SQL, 10, rp->p};
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
                    const drv_pg_res_t *r, int t0)
{
    const char *ce = drv_pg_res_get(r, 0, t0 + RT_CE);
    if (drv_pg_res_int(r, 0, t0 + RT_LOCKED, 0) == 0) {
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
    if (drv_pg_res_int(r, 0, t0 + RT_OWNED, 0) == 0) {
        refuse_duplicate(disp, rep, drv_pg_res_get(r, 0, t0 + RT_OWNER), ce);
        return 0;
    }
    return 1;
}

void drv__report_done(drv_disp_t *disp, const drv__report_t *rep,
                      const drv_pg_res_t *r)
{
    if (admitted(disp, rep, r, DRV__TC_COUNT) &&
        drv_pg_res_get(r, 0, DRV__TC_JOB_ID)) { /* NULL: no change */
        drv__transition_done(disp, r, 0, 0);
        /* its claimer holds it now: what it asks for moves from the
         * worker it was sent to (a rebalance moved the partition) */
        const char *was = drv_pg_res_get(r, 0, DRV__TC_COUNT + RT_HELD_BY);
        if (!was || strcmp(was, rep->worker)) {
            double v = strtod(drv_pg_res_get(r, 0, DRV__TC_VCPUS), NULL);
            double m = strtod(drv_pg_res_get(r, 0, DRV__TC_MEMORY), NULL);
            double g = strtod(drv_pg_res_get(r, 0, DRV__TC_GPUS), NULL);
            drv__capacity_worker_add(disp, was, v, m, g, -1);
            drv__capacity_worker_add(disp, rep->worker, v, m, g, 1);
        }
    }
}

int drv__report_failed(drv_disp_t *disp, const drv__report_t *rep,
                       char *errstr, size_t errstr_size)
{
    drv__report_params_t rp;
    drv_pg_stmt_t st = drv__report_stmt(&rp, rep);
    drv_pg_res_t *r = drv_pg_query(disp->pg, st.sql, st.nparams, st.params,
                                   errstr, errstr_size);
    if (!r) {
        return -1;
    }
    int ret = 0;
    if (admitted(disp, rep, r, 0)) {
        drv__outcome_t o = {
            .succeeded = false,
            .exit_code = rep->has_exit_code ? rep->exit_code : -1,
            .reason = rep->reason ? rp.reason : NULL,
            .status_reason = rep->status_reason};
        json_t *retry = drv_pg_res_json(r, 0, FT_RETRY);
        const char *stopped = drv_pg_res_get(r, 0, FT_STOPPED);
        drv__change_t c;
        drv_job_status_t to = drv__retry_decide(
            &o, retry, rep->attempt, stopped && stopped[0] == 't', &c);
        json_decref(retry);
        ret = drv__transition(disp, rep->job_id, to, &c, errstr,
                              errstr_size) < 0
                  ? -1
                  : 0;
    }
    drv_pg_res_free(r);
    return ret;
}
