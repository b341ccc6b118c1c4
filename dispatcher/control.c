/* SPDX-License-Identifier: Apache-2.0 */
/* Cancel, terminate and stop requests (control.h). */
#include "control.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "drover/fairshare.h"
#include "drover/util.h"
#include "outbox.h"
#include "transition.h"

void drv__control_send_stop(drv_disp_t *disp, const char *job_id,
                            int attempt, const char *ce, const char *reason,
                            const char *worker)
{
    char topic[300], e[DRV_ERRSTR_SIZE];
    json_t *m = json_pack("{s:s,s:i,s:s,s:I,s:s?}", "jobId", job_id,
                          "attempt", attempt, "reason", reason,
                          "requestedAt", (json_int_t)drv_now_ms(), "worker",
                          worker);
    snprintf(topic, sizeof(topic), DRV_TOPIC_CONTROL_PREFIX "%s", ce);
    (void)drv__outbox_emit_json(disp, "StopAttempt", topic, job_id, m, e,
                                sizeof(e));
    json_decref(m);
}

/* Columns of the lock in cancel_one. */
enum { CO_STATUS, CO_RELEASED, CO_ATTEMPTS, CO_CE };

/*
 * Cancel (or terminate) one job that is not an array parent: one not yet
 * handed to a worker fails now; terminate also stops a STARTING or RUNNING
 * one (or one released but not yet started) through its workers, and the
 * worker's FAILED report then ends it with the caller's reason.
 */
static int cancel_one(drv_disp_t *disp, const char *job_id,
                      const drv__change_t *c, char *errstr,
                      size_t errstr_size)
{
    const char *p[] = {job_id, c->status_reason};
    drv_pg_res_t *r = drv_pg_query(
        disp->pg,
        "SELECT status, released, attempts, compute_environment FROM jobs "
        "WHERE job_id = $1 FOR UPDATE",
        1, p, errstr, errstr_size);
    if (!r) {
        return -1;
    }
    int ret = 0;
    drv_job_status_t st;
    if (drv_pg_res_rows(r) == 1 &&
        drv_job_status_parse(drv_pg_res_get(r, 0, CO_STATUS), &st) == 0) {
        bool released = drv_pg_res_get(r, 0, CO_RELEASED)[0] == 't';
        bool waiting = st == DRV_JOB_SUBMITTED || st == DRV_JOB_PENDING ||
                       (st == DRV_JOB_RUNNABLE && !released);
        bool live = released || st == DRV_JOB_STARTING ||
                    st == DRV_JOB_RUNNING;
        if (waiting) {
            ret = drv__transition(disp, job_id, DRV_JOB_FAILED, c, errstr,
                                  errstr_size) < 0
                      ? -1
                      : 0;
        } else if (c->terminated && live) {
            ret = drv_pg_exec(disp->pg,
                              "UPDATE jobs SET is_terminated = true, "
                              "status_reason = $2 WHERE job_id = $1",
                              2, p, errstr, errstr_size);
            if (ret == 0) {
                drv__control_send_stop(
                    disp, job_id, (int)drv_pg_res_int(r, 0, CO_ATTEMPTS, 0),
                    drv_pg_res_get(r, 0, CO_CE), c->status_reason, NULL);
            }
        } else if (live) {
            json_t *f = drv_log_job(job_id);
            drv_log(disp->log, DRV_LOG_INFO, "job.cancel_ignored", f,
                    "cancel of a %s job has no effect (AWS Batch: use "
                    "terminate)",
                    drv_job_status_name(st));
            json_decref(f);
        }
    }
    drv_pg_res_free(r);
    return ret;
}

/* An array parent's children: those still waiting fail in one statement,
 * then each one a worker has is terminated (or its cancel ignored). */
static int cancel_children(drv_disp_t *disp, const char *parent,
                           const drv__change_t *c, char *errstr,
                           size_t errstr_size)
{
    const char *w[] = {parent, c->status_reason,
                       c->terminated ? "true" : "false"};
    if (drv__transition_fail_listed(
            disp,
            "SELECT job_id, $2::text, NOT $3::bool, $3::bool FROM jobs WHERE "
            "array_parent = $1 AND (status IN ('SUBMITTED','PENDING') OR "
            "(status = 'RUNNABLE' AND NOT released)) ORDER BY array_index",
            3, w, errstr, errstr_size) != 0) {
        return -1;
    }
    const char *p[] = {parent};
    drv_pg_res_t *kids = drv_pg_query(
        disp->pg,
        "SELECT job_id FROM jobs WHERE array_parent = $1 AND status NOT "
        "IN " DRV__TERMINAL " ORDER BY array_index",
        1, p, errstr, errstr_size);
    if (!kids) {
        return -1;
    }
    int ret = 0;
    for (int i = 0; ret == 0 && i < drv_pg_res_rows(kids); i++) {
        ret = cancel_one(disp, drv_pg_res_get(kids, i, 0), c, errstr,
                         errstr_size);
    }
    drv_pg_res_free(kids);
    return ret;
}

int drv__control_apply(drv_disp_t *disp, const drv_msg_stop_t *req,
                       bool terminate, char *errstr, size_t errstr_size)
{
    drv__change_t c = {.status_reason = req->reason,
                       .exit_code = -1,
                       .cancelled = !terminate,
                       .terminated = terminate};
    const char *p[] = {req->job_id, req->reason, terminate ? "true" : "false"};
    /* an array parent records the request; its children carry it out */
    drv_pg_res_t *r = drv_pg_query(
        disp->pg,
        "UPDATE jobs SET status_reason = $2, is_cancelled = is_cancelled OR "
        "NOT $3::bool, is_terminated = is_terminated OR $3::bool WHERE "
        "job_id = $1 AND array_size IS NOT NULL AND array_parent IS NULL "
        "AND status NOT IN " DRV__TERMINAL " RETURNING job_id",
        3, p, errstr, errstr_size);
    if (!r) {
        return -1;
    }
    int ret = drv_pg_res_rows(r) == 0
                  ? cancel_one(disp, req->job_id, &c, errstr, errstr_size)
                  : cancel_children(disp, req->job_id, &c, errstr,
                                    errstr_size);
    drv_pg_res_free(r);
    return ret;
}

/* AWS's reason for the jobs of a deleted queue. */
#define REASON_QUEUE_DELETED "The job queue was deleted"

int drv__control_deleted_queues(drv_disp_t *disp, char *errstr,
                                size_t errstr_size)
{
    drv_pg_res_t *q = drv_pg_query(
        disp->pg, "SELECT name FROM job_queues WHERE status = 'DELETING'", 0,
        NULL, errstr, errstr_size);
    if (!q) {
        return -1;
    }
    int ret = 0;
    for (int i = 0; ret == 0 && i < drv_pg_res_rows(q); i++) {
        const char *p[] = {drv_pg_res_get(q, i, 0)};
        /* a bounded number a pass, as AWS terminates them over time; those
         * asked already last, so 500 still stopping block no others */
        drv_pg_res_t *r = drv_pg_query(
            disp->pg,
            "SELECT job_id, is_terminated FROM jobs WHERE queue = $1 AND "
            "array_parent IS NULL AND status NOT IN " DRV__TERMINAL " ORDER "
            "BY is_terminated, seq LIMIT 500",
            1, p, errstr, errstr_size);
        if (!r) {
            ret = -1;
            break;
        }
        for (int k = 0; ret == 0 && k < drv_pg_res_rows(r); k++) {
            if (drv_pg_res_get(r, k, 1)[0] == 't') {
                continue; /* asked already: its worker is stopping it */
            }
            drv_msg_stop_t stop = {.job_id = drv_pg_res_get(r, k, 0),
                                   .reason = REASON_QUEUE_DELETED};
            ret = drv__control_apply(disp, &stop, true, errstr, errstr_size);
        }
        bool empty = drv_pg_res_rows(r) == 0;
        drv_pg_res_free(r);
        if (ret == 0 && empty) {
            /* its tags go with it: a new queue of the name starts bare */
            ret = drv_pg_exec(disp->pg,
                              "WITH t AS (DELETE FROM resource_tags WHERE "
                              "arn = 'job-queue/' || $1) DELETE FROM "
                              "job_queues WHERE name = $1 AND status = "
                              "'DELETING'",
                              1, p, errstr, errstr_size);
        }
    }
    drv_pg_res_free(q);
    return ret;
}

int drv__control_time_limits(drv_disp_t *disp, char *errstr,
                             size_t errstr_size)
{
    char now[24];
    snprintf(now, sizeof(now), "%" PRId64, drv_now_ms());
    const char *p[] = {now};
    /* the head of each queue (its next job in dispatch order), as AWS
     * applies the actions; the next one is the head at the next sweep. A
     * fair-share queue has a head per share (a skip scan of its shares).
     * blocked_since: when the scheduler first gave it its current reason
     * (schedule.c), so an action counts from the block. A queue's actions
     * were checked when set; one stored before that may be anything, and only
     * well-formed ones are read (a cast error would stop every sweep). */
    drv_pg_res_t *r = drv_pg_query(
        disp->pg,
        "SELECT j.job_id, a.reason, a.max_s FROM job_queues q CROSS JOIN "
        "LATERAL (SELECT x->>'reason' AS reason, x->>'action' AS action, "
        "x->>'state' AS state, CASE WHEN jsonb_typeof(x->'maxTimeSeconds') = "
        "'number' THEN (x->>'maxTimeSeconds')::numeric END AS max_s FROM "
        "jsonb_array_elements(CASE WHEN jsonb_typeof(q.spec->"
        "'jobStateTimeLimitActions') = 'array' THEN q.spec->"
        "'jobStateTimeLimitActions' ELSE '[]' END) x WHERE jsonb_typeof(x) = "
        "'object') a CROSS JOIN LATERAL ((SELECT job_id, status_reason, "
        "blocked_since FROM jobs WHERE queue = q.name AND q.scheduling_policy "
        "IS NULL AND status = 'RUNNABLE' AND NOT released ORDER BY "
        "scheduling_priority DESC, seq LIMIT 1) UNION ALL ("
        DRV_SHARES_CTE("q.name", "q.scheduling_policy IS NOT NULL AND "
                       DRV_SHARES_RUNNABLE)
        "SELECT h.* FROM s CROSS JOIN LATERAL (SELECT "
        "job_id, status_reason, blocked_since FROM jobs WHERE queue = q.name "
        "AND share_identifier = s.id AND status = 'RUNNABLE' AND NOT "
        "released ORDER BY scheduling_priority DESC, seq LIMIT 1) h)) j "
        "WHERE starts_with(j.status_reason, a.reason) AND "
        "j.blocked_since < $1::bigint - a.max_s * 1000 AND a.action = "
        "'CANCEL' AND a.state = 'RUNNABLE' LIMIT 500",
        1, p, errstr, errstr_size);
    if (!r) {
        return -1;
    }
    int ret = 0;
    for (int i = 0; ret == 0 && i < drv_pg_res_rows(r); i++) {
        char why[512];
        snprintf(why, sizeof(why),
                 "Cancelled by the job queue's jobStateTimeLimitActions: "
                 "RUNNABLE for over %s s with %s",
                 drv_pg_res_get(r, i, 2), drv_pg_res_get(r, i, 1));
        drv_msg_stop_t stop = {.job_id = drv_pg_res_get(r, i, 0),
                               .reason = why};
        ret = drv__control_apply(disp, &stop, false, errstr, errstr_size);
    }
    drv_pg_res_free(r);
    return ret;
}
