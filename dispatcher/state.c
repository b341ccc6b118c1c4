/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The job state machine and the scheduler. Every function here runs inside
 * a transaction opened by dispatcher.c; events and run requests are queued
 * with drv__disp_emit and published after the commit.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "dispatcher_int.h"
#include "drover/catalog.h"
#include "drover/util.h"

/* Columns an event is built from; RETURNING and SELECTs use this list. */
#define EVENT_COLS                                                             \
    "jobs.job_id, jobs.job_name, jobs.queue, jobs.definition_name, "           \
    "jobs.definition_revision, jobs.status, jobs.status_reason, "              \
    "jobs.attempts, jobs.exit_code, jobs.reason, jobs.created_at, "            \
    "jobs.started_at, jobs.stopped_at, jobs.is_cancelled, "                    \
    "jobs.is_terminated, jobs.array_index, jobs.array_size, "                  \
    "jobs.request->'dependsOn', jobs.updated_at"

#define TERMINAL "('SUCCEEDED','FAILED')"

static json_t *int_or_null(const drv_pg_res_t *r, int row, int col)
{
    const char *s = drv_pg_res_get(r, row, col);
    return s ? json_integer(drv_pg_res_int(r, row, col, 0)) : json_null();
}

static json_t *str_or_null(const drv_pg_res_t *r, int row, int col)
{
    const char *s = drv_pg_res_get(r, row, col);
    return s ? json_string(s) : json_null();
}

/* Queue a JobStateChange for row `row` of r (EVENT_COLS first). */
static void emit_event(drv_disp_t *disp, const drv_pg_res_t *r, int row,
                       const char *prev)
{
    char job_arn[512], queue_arn[512], def_arn[512], def[300];
    const char *job_id = drv_pg_res_get(r, row, 0);
    drv_arn(job_arn, sizeof(job_arn), disp->region, disp->account, "job",
            job_id);
    drv_arn(queue_arn, sizeof(queue_arn), disp->region, disp->account,
            "job-queue", drv_pg_res_get(r, row, 2));
    json_t *ev = json_pack(
        "{s:s,s:s,s:s,s:s,s:s,s:o,s:o,s:i,s:o,s:o,s:I,s:o,s:o,s:b,s:b,s:o,"
        "s:o,s:I}",
        "jobId", job_id, "jobArn", job_arn, "jobName",
        drv_pg_res_get(r, row, 1), "jobQueue", queue_arn, "status",
        drv_pg_res_get(r, row, 5), "previousStatus",
        prev ? json_string(prev) : json_null(), "statusReason",
        str_or_null(r, row, 6), "attempt",
        (int)drv_pg_res_int(r, row, 7, 0), "exitCode", int_or_null(r, row, 8),
        "reason", str_or_null(r, row, 9), "createdAt",
        (json_int_t)drv_pg_res_int(r, row, 10, 0), "startedAt",
        int_or_null(r, row, 11), "stoppedAt", int_or_null(r, row, 12),
        "isCancelled", drv_pg_res_get(r, row, 13)[0] == 't', "isTerminated",
        drv_pg_res_get(r, row, 14)[0] == 't', "arrayIndex",
        int_or_null(r, row, 15), "arraySize", int_or_null(r, row, 16), "time",
        (json_int_t)drv_pg_res_int(r, row, 18, 0));
    if (drv_pg_res_get(r, row, 3)) {
        snprintf(def, sizeof(def), "%s:%s", drv_pg_res_get(r, row, 3),
                 drv_pg_res_get(r, row, 4) ? drv_pg_res_get(r, row, 4) : "0");
        drv_arn(def_arn, sizeof(def_arn), disp->region, disp->account,
                "job-definition", def);
        json_object_set_new(ev, "jobDefinition", json_string(def_arn));
    }
    json_t *deps = drv_pg_res_json(r, row, 17);
    if (json_is_array(deps)) {
        json_object_set_new(ev, "dependsOn", deps);
    } else {
        json_decref(deps);
    }
    void *buf;
    size_t len;
    char e[DRV_ERRSTR_SIZE];
    if (drv_codec_encode(disp->codec, "JobStateChange", ev, &buf, &len, e,
                         sizeof(e)) == 0) {
        drv__disp_emit(disp, DRV_TOPIC_EVENTS, job_id, buf, len);
    } else {
        drv_log(disp->log, DRV_LOG_ERROR, "dispatcher.event_encode", NULL,
                "could not encode event for %s: %s", job_id, e);
    }
    json_t *f = drv_log_job(job_id);
    json_object_set_new(f, "status", json_string(drv_pg_res_get(r, row, 5)));
    drv_log(disp->log, DRV_LOG_DEBUG, "job.transition", f, "%s -> %s",
            prev ? prev : "-", drv_pg_res_get(r, row, 5));
    json_decref(f);
    json_decref(ev);
}

typedef struct change {
    const char *status_reason; /* nullable: keep */
    int exit_code;             /* -1: keep */
    const char *reason;        /* nullable: keep */
    bool cancelled, terminated;
} change_t;

/*
 * Move a non-terminal job to `to`, emitting the event.
 * Returns 1 when it changed, 0 when not (terminal or already there), -1 on a
 * database error.
 */
static int set_status(drv_disp_t *disp, const char *job_id, const char *to,
                      const change_t *c, char *errstr, size_t errstr_size)
{
    char now[24], code[16];
    snprintf(now, sizeof(now), "%" PRId64, drv_now_ms());
    snprintf(code, sizeof(code), "%d", c ? c->exit_code : -1);
    const char *p[] = {job_id,
                       to,
                       c ? c->status_reason : NULL,
                       now,
                       c && c->exit_code >= 0 ? code : NULL,
                       c ? c->reason : NULL,
                       c && c->cancelled ? "true" : "false",
                       c && c->terminated ? "true" : "false"};
    drv_pg_res_t *r = drv_pg_query(
        disp->pg,
        "UPDATE jobs SET status = $2, status_reason = COALESCE($3, "
        "jobs.status_reason), updated_at = $4::bigint, "
        "started_at = CASE WHEN $2 = 'RUNNING' THEN $4::bigint "
        "ELSE jobs.started_at END, "
        "stopped_at = CASE WHEN $2 IN " TERMINAL " THEN $4::bigint "
        "ELSE jobs.stopped_at END, "
        "released = CASE WHEN $2 IN ('SUCCEEDED','FAILED','RUNNABLE') "
        "THEN false ELSE jobs.released END, "
        "exit_code = COALESCE($5::int, jobs.exit_code), "
        "reason = COALESCE($6, jobs.reason), "
        "is_cancelled = jobs.is_cancelled OR $7::bool, "
        "is_terminated = jobs.is_terminated OR $8::bool "
        "FROM (SELECT job_id, status AS prev FROM jobs WHERE job_id = $1 "
        "FOR UPDATE) old WHERE jobs.job_id = old.job_id "
        "AND jobs.status NOT IN " TERMINAL " AND jobs.status <> $2 "
        "RETURNING " EVENT_COLS ", old.prev",
        8, p, errstr, errstr_size);
    if (!r) {
        return -1;
    }
    int changed = drv_pg_res_rows(r) > 0;
    if (changed) {
        emit_event(disp, r, 0, drv_pg_res_get(r, 0, 19));
    }
    drv_pg_res_free(r);
    return changed;
}

/* Dependents of job_id still waiting (SUBMITTED or PENDING). */
static drv_pg_res_t *waiting_dependents(drv_disp_t *disp, const char *job_id,
                                        char *errstr, size_t errstr_size)
{
    const char *p[] = {job_id};
    return drv_pg_query(disp->pg,
                        "SELECT d.job_id FROM job_dependencies d JOIN jobs j "
                        "ON j.job_id = d.job_id WHERE d.depends_on = $1 AND "
                        "j.status IN ('SUBMITTED','PENDING') ORDER BY j.seq",
                        1, p, errstr, errstr_size);
}

/* Fail job_id and, transitively, everything waiting on it. */
static int fail_cascade(drv_disp_t *disp, const char *job_id,
                        const change_t *c, char *errstr, size_t errstr_size)
{
    json_t *work = json_array();
    int ret = -1;
    int r = set_status(disp, job_id, "FAILED", c, errstr, errstr_size);
    if (r < 0) {
        goto out;
    }
    if (r > 0) {
        json_array_append_new(work, json_string(job_id));
    }
    while (json_array_size(work) > 0) {
        char failed[256], reason[400];
        snprintf(failed, sizeof(failed), "%s",
                 json_string_value(json_array_get(work, 0)));
        json_array_remove(work, 0);
        drv_pg_res_t *deps = waiting_dependents(disp, failed, errstr,
                                                errstr_size);
        if (!deps) {
            goto out;
        }
        snprintf(reason, sizeof(reason), DRV_REASON_DEPENDENCY ": %s", failed);
        change_t dc = {.status_reason = reason, .exit_code = -1};
        for (int i = 0; i < drv_pg_res_rows(deps); i++) {
            const char *dep = drv_pg_res_get(deps, i, 0);
            int s = set_status(disp, dep, "FAILED", &dc, errstr, errstr_size);
            if (s < 0) {
                drv_pg_res_free(deps);
                goto out;
            }
            if (s > 0) {
                json_array_append_new(work, json_string(dep));
            }
        }
        drv_pg_res_free(deps);
    }
    ret = 0;
out:
    json_decref(work);
    return ret;
}

/*
 * Decide a SUBMITTED or PENDING job's fate from its dependencies: FAILED if
 * one failed, SUBMITTED while one is not yet recorded, PENDING while one is
 * unfinished, else RUNNABLE.
 */
static int evaluate(drv_disp_t *disp, const char *job_id, char *errstr,
                    size_t errstr_size)
{
    const char *p[] = {job_id};
    drv_pg_res_t *r = drv_pg_query(
        disp->pg,
        "SELECT count(*) FILTER (WHERE j.job_id IS NULL), "
        "count(*) FILTER (WHERE j.status <> 'SUCCEEDED'), "
        "min(d.depends_on) FILTER (WHERE j.status = 'FAILED') "
        "FROM job_dependencies d LEFT JOIN jobs j ON j.job_id = d.depends_on "
        "WHERE d.job_id = $1",
        1, p, errstr, errstr_size);
    if (!r) {
        return -1;
    }
    int64_t missing = drv_pg_res_int(r, 0, 0, 0);
    int64_t waiting = drv_pg_res_int(r, 0, 1, 0);
    const char *failed = drv_pg_res_get(r, 0, 2);
    int ret = 0;
    if (failed) {
        char reason[400];
        snprintf(reason, sizeof(reason), DRV_REASON_DEPENDENCY ": %s", failed);
        change_t c = {.status_reason = reason, .exit_code = -1};
        ret = fail_cascade(disp, job_id, &c, errstr, errstr_size);
    } else if (missing == 0) {
        char pending[24];
        snprintf(pending, sizeof(pending), "%" PRId64, waiting);
        const char *p2[] = {job_id, pending};
        if (drv_pg_exec(disp->pg,
                        "UPDATE jobs SET deps_pending = $2::int "
                        "WHERE job_id = $1",
                        2, p2, errstr, errstr_size) != 0 ||
            set_status(disp, job_id, waiting ? "PENDING" : "RUNNABLE", NULL,
                       errstr, errstr_size) < 0) {
            ret = -1;
        }
    }
    drv_pg_res_free(r);
    return ret;
}

/* Re-evaluate everything waiting on job_id (it was recorded or finished). */
static int wake_dependents(drv_disp_t *disp, const char *job_id, char *errstr,
                           size_t errstr_size)
{
    drv_pg_res_t *deps = waiting_dependents(disp, job_id, errstr, errstr_size);
    if (!deps) {
        return -1;
    }
    int ret = 0;
    for (int i = 0; ret == 0 && i < drv_pg_res_rows(deps); i++) {
        ret = evaluate(disp, drv_pg_res_get(deps, i, 0), errstr, errstr_size);
    }
    drv_pg_res_free(deps);
    return ret;
}

/* ---- SubmitJob ----------------------------------------------------------- */

/* Lookups refuse a job (DRV_ERR_NOTFOUND / DRV_ERR_INVALID) or fail for
 * the database's reasons, which must retry the batch, not fail the job. */
static bool is_refusal(drv_err_t err)
{
    return err == DRV_ERR_NOTFOUND || err == DRV_ERR_INVALID;
}

/* Check the queue named by the request against the topic it came on. */
static drv_err_t check_queue(drv_disp_t *disp, json_t *sj, const char *source,
                             char *queue, size_t queue_size, char *errstr,
                             size_t errstr_size)
{
    drv_arn_name(json_string_value(json_object_get(sj, "jobQueue")), queue,
                 queue_size);
    const char *topic_q = source + strlen(DRV_TOPIC_SUBMIT_PREFIX);
    if (strcmp(queue, topic_q) != 0) {
        drv_errstr_set(errstr, errstr_size,
                       "jobQueue %s does not match the topic's queue %s",
                       queue, topic_q);
        return DRV_ERR_INVALID;
    }
    return drv_catalog_queue(disp->pg, queue, queue, queue_size, errstr,
                             errstr_size);
}

/*
 * Validate and resolve into *resolved. Returns 0 (resolved), 1 (the job is
 * refused: the reason is in errstr) or -1 (database error).
 */
static int prepare(drv_disp_t *disp, json_t *sj, const char *source,
                   char *queue, size_t queue_size, char *def_name,
                   size_t def_name_size, int *revision, json_t **resolved,
                   char *errstr, size_t errstr_size)
{
    drv_err_t err;
    *resolved = NULL;
    if (drv_job_validate_submit(sj, &disp->limits, errstr, errstr_size) != 0) {
        return 1;
    }
    if ((err = check_queue(disp, sj, source, queue, queue_size, errstr,
                           errstr_size)) != DRV_OK) {
        return is_refusal(err) ? 1 : -1;
    }
    json_t *def = drv_catalog_definition(
        disp->pg, json_string_value(json_object_get(sj, "jobDefinition")),
        def_name, def_name_size, revision, &err, errstr, errstr_size);
    if (!def) {
        return is_refusal(err) ? 1 : -1;
    }
    *resolved = drv_job_resolve(def, sj, &disp->limits, errstr, errstr_size);
    json_decref(def);
    return *resolved ? 0 : 1;
}

static int insert_job(drv_disp_t *disp, json_t *sj, const char *queue,
                      const char *def_name, int revision, json_t *resolved,
                      const char *fail_reason, char *errstr,
                      size_t errstr_size)
{
    char rev[16], now[24], vcpus[32], mem[24], att[16], prio[16];
    json_t *c = json_object_get(resolved, "container");
    json_t *a = json_object_get(json_object_get(resolved, "retryStrategy"),
                                "attempts");
    snprintf(rev, sizeof(rev), "%d", revision);
    snprintf(now, sizeof(now), "%" PRId64, drv_now_ms());
    snprintf(vcpus, sizeof(vcpus), "%g",
             json_number_value(json_object_get(c, "vcpus")));
    snprintf(mem, sizeof(mem), "%" JSON_INTEGER_FORMAT,
             json_integer_value(json_object_get(c, "memory")));
    snprintf(att, sizeof(att), "%d",
             json_is_integer(a) ? (int)json_integer_value(a) : 1);
    snprintf(prio, sizeof(prio), "%d",
             (int)json_integer_value(
                 json_object_get(sj, "schedulingPriorityOverride")));
    char *req = json_dumps(sj, JSON_COMPACT);
    char *res = resolved ? json_dumps(resolved, JSON_COMPACT) : NULL;
    const char *name = json_string_value(json_object_get(sj, "jobName"));
    const char *p[] = {json_string_value(json_object_get(sj, "jobId")),
                       name ? name : "",
                       queue,
                       revision ? def_name : NULL,
                       revision ? rev : NULL,
                       fail_reason ? "FAILED" : "SUBMITTED",
                       fail_reason,
                       now,
                       req,
                       res,
                       vcpus,
                       mem,
                       att,
                       prio};
    drv_pg_res_t *r = drv_pg_query(
        disp->pg,
        "INSERT INTO jobs (job_id, job_name, queue, definition_name, "
        "definition_revision, status, status_reason, created_at, updated_at, "
        "stopped_at, request, resolved, vcpus, memory_mib, max_attempts, "
        "scheduling_priority) VALUES ($1, $2, $3, $4, $5::int, $6, $7, "
        "$8::bigint, $8::bigint, CASE WHEN $6 = 'FAILED' THEN $8::bigint END, "
        "$9::jsonb, $10::jsonb, $11::float8, $12::bigint, $13::int, $14::int) "
        "RETURNING " EVENT_COLS,
        14, p, errstr, errstr_size);
    free(req);
    free(res);
    if (!r) {
        return -1;
    }
    if (fail_reason) {
        emit_event(disp, r, 0, "SUBMITTED");
    }
    drv_pg_res_free(r);
    return 0;
}

static int insert_dependencies(drv_disp_t *disp, const char *job_id,
                               json_t *deps, char *errstr, size_t errstr_size)
{
    size_t i;
    json_t *d;
    json_array_foreach(deps, i, d)
    {
        const char *dep = json_string_value(json_object_get(d, "jobId"));
        if (!dep) {
            continue; /* SEQUENTIAL without a job id: derived, not stored */
        }
        const char *p[] = {job_id, dep,
                           json_string_value(json_object_get(d, "type"))};
        if (drv_pg_exec(disp->pg,
                        "INSERT INTO job_dependencies (job_id, depends_on, "
                        "type) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
                        3, p, errstr, errstr_size) != 0) {
            return -1;
        }
    }
    return 0;
}

static int apply_submit(drv_disp_t *disp, json_t *sj, const char *source,
                        const char *key, const void *raw, size_t raw_len,
                        char *errstr, size_t errstr_size)
{
    const char *job_id = json_string_value(json_object_get(sj, "jobId"));
    const char *p[] = {job_id};
    drv_pg_res_t *r = drv_pg_query(disp->pg,
                                   "SELECT request FROM jobs WHERE job_id = $1",
                                   1, p, errstr, errstr_size);
    if (!r) {
        return -1;
    }
    if (drv_pg_res_rows(r) > 0) { /* a redelivery, or a reused id */
        json_t *old = drv_pg_res_json(r, 0, 0);
        if (!json_equal(old, sj)) {
            char why[300];
            snprintf(why, sizeof(why),
                     "job id %s was already used by a different submission",
                     job_id);
            drv__disp_dlq(disp, source, key, raw, raw_len, why);
        }
        json_decref(old);
        drv_pg_res_free(r);
        return 0;
    }
    drv_pg_res_free(r);

    char queue[256] = "", def_name[256] = "", reason[DRV_ERRSTR_SIZE];
    int revision = 0;
    json_t *resolved;
    if (prepare(disp, sj, source, queue, sizeof(queue), def_name,
                sizeof(def_name), &revision, &resolved, reason,
                sizeof(reason)) < 0) {
        drv_errstr_set(errstr, errstr_size, "%s", reason);
        return -1;
    }
    if (!queue[0]) {
        snprintf(queue, sizeof(queue), "%s",
                 source + strlen(DRV_TOPIC_SUBMIT_PREFIX));
    }
    int ret = insert_job(disp, sj, queue, def_name, revision, resolved,
                         resolved ? NULL : reason, errstr, errstr_size);
    if (ret == 0 && resolved) {
        ret = insert_dependencies(disp, job_id,
                                  json_object_get(sj, "dependsOn"), errstr,
                                  errstr_size);
        if (ret == 0) {
            ret = evaluate(disp, job_id, errstr, errstr_size);
        }
    }
    if (ret == 0) {
        /* jobs that arrived first and wait for this one to exist */
        ret = wake_dependents(disp, job_id, errstr, errstr_size);
    }
    json_decref(resolved);
    return ret;
}

/* ---- CancelJob / TerminateJob ---------------------------------------------- */

static int apply_cancel(drv_disp_t *disp, json_t *cj, bool terminate,
                        char *errstr, size_t errstr_size)
{
    const char *job_id = json_string_value(json_object_get(cj, "jobId"));
    const char *p[] = {job_id};
    drv_pg_res_t *r = drv_pg_query(
        disp->pg,
        "SELECT status, released FROM jobs WHERE job_id = $1 FOR UPDATE", 1,
        p, errstr, errstr_size);
    if (!r) {
        return -1;
    }
    int ret = 0;
    if (drv_pg_res_rows(r) == 1) {
        const char *st = drv_pg_res_get(r, 0, 0);
        bool released = drv_pg_res_get(r, 0, 1)[0] == 't';
        bool waiting = !strcmp(st, "SUBMITTED") || !strcmp(st, "PENDING") ||
                       (!strcmp(st, "RUNNABLE") && !released);
        if (waiting) {
            change_t c = {.status_reason = json_string_value(
                              json_object_get(cj, "reason")),
                          .exit_code = -1,
                          .cancelled = !terminate,
                          .terminated = terminate};
            ret = fail_cascade(disp, job_id, &c, errstr, errstr_size);
        } else {
            json_t *f = drv_log_job(job_id);
            drv_log(disp->log, DRV_LOG_INFO, "job.cancel_ignored", f,
                    "%s of a %s job has no effect yet", terminate ? "terminate"
                                                                  : "cancel",
                    st);
            json_decref(f);
        }
    }
    drv_pg_res_free(r);
    return ret;
}

/* ---- JobStatus --------------------------------------------------------- */

static int record_attempt(drv_disp_t *disp, json_t *js, const char *status,
                          char *errstr, size_t errstr_size)
{
    char att[16], ts[24], code[16];
    json_t *ec = json_object_get(js, "exitCode");
    snprintf(att, sizeof(att), "%d",
             (int)json_integer_value(json_object_get(js, "attempt")));
    snprintf(ts, sizeof(ts), "%" JSON_INTEGER_FORMAT,
             json_integer_value(json_object_get(js, "timestamp")));
    snprintf(code, sizeof(code), "%d", (int)json_integer_value(ec));
    bool running = !strcmp(status, "RUNNING");
    bool done = !strcmp(status, "SUCCEEDED") || !strcmp(status, "FAILED");
    const char *p[] = {
        json_string_value(json_object_get(js, "jobId")),
        att,
        json_string_value(json_object_get(js, "worker")),
        json_string_value(json_object_get(js, "containerId")),
        running ? ts : NULL,
        done ? ts : NULL,
        ec ? code : NULL,
        json_string_value(json_object_get(js, "reason")),
        json_string_value(json_object_get(js, "statusReason")),
        json_string_value(json_object_get(js, "logStreamName"))};
    return drv_pg_exec(
        disp->pg,
        "UPDATE attempts SET worker = COALESCE($3, worker), "
        "container_id = COALESCE($4, container_id), "
        "started_at = COALESCE($5::bigint, started_at), "
        "stopped_at = COALESCE($6::bigint, stopped_at), "
        "exit_code = COALESCE($7::int, exit_code), "
        "reason = COALESCE($8, reason), "
        "status_reason = COALESCE($9, status_reason), "
        "log_stream = COALESCE($10, log_stream) "
        "WHERE job_id = $1 AND attempt = $2::int",
        10, p, errstr, errstr_size);
}

static int finish_attempt(drv_disp_t *disp, json_t *js, const char *status,
                          json_t *retry, int attempts, bool stopped_by_user,
                          char *errstr, size_t errstr_size)
{
    const char *job_id = json_string_value(json_object_get(js, "jobId"));
    json_t *ec = json_object_get(js, "exitCode");
    char trimmed[DRV_CONTAINER_REASON_MAX + 1];
    const char *reason = json_string_value(json_object_get(js, "reason"));
    if (reason) {
        snprintf(trimmed, sizeof(trimmed), "%s", reason);
        reason = trimmed;
    }
    change_t c = {
        .status_reason = json_string_value(json_object_get(js, "statusReason")),
        .exit_code = ec ? (int)json_integer_value(ec) : -1,
        .reason = reason};
    if (!strcmp(status, "SUCCEEDED")) {
        int r = set_status(disp, job_id, "SUCCEEDED", &c, errstr, errstr_size);
        return r < 0 ? -1 : wake_dependents(disp, job_id, errstr, errstr_size);
    }
    bool timed_out = c.status_reason &&
                     !strcmp(c.status_reason, DRV_REASON_TIMEOUT);
    if (!stopped_by_user && !timed_out &&
        drv_job_should_retry(retry, attempts, c.exit_code, c.reason,
                             c.status_reason)) {
        return set_status(disp, job_id, "RUNNABLE", &c, errstr, errstr_size) <
                       0
                   ? -1
                   : 0;
    }
    return fail_cascade(disp, job_id, &c, errstr, errstr_size);
}

static int apply_status(drv_disp_t *disp, json_t *js, char *errstr,
                        size_t errstr_size)
{
    const char *job_id = json_string_value(json_object_get(js, "jobId"));
    const char *status = json_string_value(json_object_get(js, "status"));
    int attempt = (int)json_integer_value(json_object_get(js, "attempt"));
    const char *p[] = {job_id};
    drv_pg_res_t *r = drv_pg_query(
        disp->pg,
        "SELECT status, attempts, released, resolved->'retryStrategy', "
        "is_cancelled OR is_terminated FROM jobs WHERE job_id = $1 "
        "FOR UPDATE",
        1, p, errstr, errstr_size);
    if (!r) {
        return -1;
    }
    int ret = 0;
    /* fencing: only the current, released attempt of a live job counts */
    if (drv_pg_res_rows(r) == 0 ||
        drv_pg_res_int(r, 0, 1, 0) != attempt ||
        drv_pg_res_get(r, 0, 2)[0] != 't') {
        json_t *f = drv_log_job(job_id);
        drv_log(disp->log, DRV_LOG_DEBUG, "job.status_fenced", f,
                "ignored %s for attempt %d: not the current attempt", status,
                attempt);
        json_decref(f);
        goto out;
    }
    if (record_attempt(disp, js, status, errstr, errstr_size) != 0) {
        ret = -1;
        goto out;
    }
    if (!strcmp(status, "STARTING") || !strcmp(status, "RUNNING")) {
        change_t c = {.exit_code = -1};
        ret = set_status(disp, job_id, status, &c, errstr, errstr_size) < 0
                  ? -1
                  : 0;
    } else if (!strcmp(status, "SUCCEEDED") || !strcmp(status, "FAILED")) {
        json_t *retry = drv_pg_res_json(r, 0, 3);
        ret = finish_attempt(disp, js, status, retry, attempt,
                             drv_pg_res_get(r, 0, 4)[0] == 't', errstr,
                             errstr_size);
        json_decref(retry);
    }
out:
    drv_pg_res_free(r);
    return ret;
}

static int apply_heartbeat(drv_disp_t *disp, json_t *hb, char *errstr,
                           size_t errstr_size)
{
    char vt[32], vf[32], mt[24], mf[24], st[24], ts[24];
    snprintf(vt, sizeof(vt), "%g",
             json_number_value(json_object_get(hb, "vcpusTotal")));
    snprintf(vf, sizeof(vf), "%g",
             json_number_value(json_object_get(hb, "vcpusFree")));
    snprintf(mt, sizeof(mt), "%" JSON_INTEGER_FORMAT,
             json_integer_value(json_object_get(hb, "memoryTotalMiB")));
    snprintf(mf, sizeof(mf), "%" JSON_INTEGER_FORMAT,
             json_integer_value(json_object_get(hb, "memoryFreeMiB")));
    snprintf(st, sizeof(st), "%" JSON_INTEGER_FORMAT,
             json_integer_value(json_object_get(hb, "startedAt")));
    snprintf(ts, sizeof(ts), "%" JSON_INTEGER_FORMAT,
             json_integer_value(json_object_get(hb, "timestamp")));
    const char *p[] = {json_string_value(json_object_get(hb, "worker")),
                       json_string_value(json_object_get(hb,
                                                         "computeEnvironment")),
                       vt, vf, mt, mf, st, ts,
                       json_is_true(json_object_get(hb, "draining")) ? "true"
                                                                     : "false"};
    return drv_pg_exec(
        disp->pg,
        "INSERT INTO workers (worker_id, compute_environment, vcpus_total, "
        "vcpus_free, memory_total_mib, memory_free_mib, started_at, "
        "last_heartbeat, draining) VALUES ($1, $2, $3::float8, $4::float8, "
        "$5::bigint, $6::bigint, $7::bigint, $8::bigint, $9::bool) "
        "ON CONFLICT (worker_id) DO UPDATE SET compute_environment = $2, "
        "vcpus_total = $3::float8, vcpus_free = $4::float8, "
        "memory_total_mib = $5::bigint, memory_free_mib = $6::bigint, "
        "started_at = $7::bigint, draining = $9::bool, "
        "last_heartbeat = GREATEST(workers.last_heartbeat, $8::bigint)",
        9, p, errstr, errstr_size);
}

int drv__state_apply(drv_disp_t *disp, const char *type, json_t *msg,
                     const char *source, const char *key, const void *raw,
                     size_t raw_len, char *errstr, size_t errstr_size)
{
    if (!strcmp(type, "JobRequest")) {
        json_t *req = json_object_get(msg, "request");
        json_t *v;
        if ((v = json_object_get(req, "SubmitJob"))) {
            return apply_submit(disp, v, source, key, raw, raw_len, errstr,
                                errstr_size);
        }
        if ((v = json_object_get(req, "CancelJob"))) {
            return apply_cancel(disp, v, false, errstr, errstr_size);
        }
        if ((v = json_object_get(req, "TerminateJob"))) {
            return apply_cancel(disp, v, true, errstr, errstr_size);
        }
    } else if (!strcmp(type, "JobStatus")) {
        return apply_status(disp, msg, errstr, errstr_size);
    } else if (!strcmp(type, "WorkerHeartbeat")) {
        return apply_heartbeat(disp, msg, errstr, errstr_size);
    }
    char why[200];
    snprintf(why, sizeof(why), "a %s message does not belong on %s", type,
             source);
    drv__disp_dlq(disp, source, key, raw, raw_len, why);
    return 0;
}

/* ---- scheduling ------------------------------------------------------------ */

static json_t *run_request(drv_disp_t *disp, const drv_pg_res_t *r,
                           const char *job_id, const char *ce)
{
    json_t *resolved = drv_pg_res_json(r, 0, 5);
    json_t *c = json_object_get(resolved, "container");
    char def[300];
    snprintf(def, sizeof(def), "%s:%s", drv_pg_res_get(r, 0, 3),
             drv_pg_res_get(r, 0, 4));
    json_t *to = json_object_get(json_object_get(resolved, "timeout"),
                                 "attemptDurationSeconds");
    json_t *run = json_pack(
        "{s:s,s:i,s:s,s:s,s:s,s:s,s:O,s:O,s:O,s:f,s:I,s:O?,s:o,s:o,s:I}",
        "jobId", job_id, "attempt", (int)drv_pg_res_int(r, 0, 0, 1), "jobName",
        drv_pg_res_get(r, 0, 1), "jobQueue", drv_pg_res_get(r, 0, 2),
        "computeEnvironment", ce, "jobDefinition", def, "image",
        json_object_get(c, "image"), "command", json_object_get(c, "command"),
        "environment", json_object_get(c, "environment"), "vcpus",
        json_number_value(json_object_get(c, "vcpus")), "memoryMiB",
        json_integer_value(json_object_get(c, "memory")), "timeoutSeconds", to,
        "arrayIndex", int_or_null(r, 0, 6), "arraySize", int_or_null(r, 0, 7),
        "releasedAt", (json_int_t)drv_now_ms());
    json_decref(resolved);
    (void)disp;
    return run;
}

static int release(drv_disp_t *disp, const char *job_id, const char *ce,
                   char *errstr, size_t errstr_size)
{
    char now[24];
    snprintf(now, sizeof(now), "%" PRId64, drv_now_ms());
    const char *p[] = {job_id, ce, now};
    drv_pg_res_t *r = drv_pg_query(
        disp->pg,
        "UPDATE jobs SET attempts = attempts + 1, released = true, "
        "compute_environment = $2, updated_at = $3::bigint "
        "WHERE job_id = $1 AND status = 'RUNNABLE' AND NOT released "
        "RETURNING attempts, job_name, queue, definition_name, "
        "definition_revision, resolved, array_index, array_size",
        3, p, errstr, errstr_size);
    if (!r) {
        return -1;
    }
    int ret = 0;
    if (drv_pg_res_rows(r) == 1) {
        const char *p2[] = {job_id, drv_pg_res_get(r, 0, 0), now};
        if (drv_pg_exec(disp->pg,
                        "INSERT INTO attempts (job_id, attempt, released_at) "
                        "VALUES ($1, $2::int, $3::bigint)",
                        3, p2, errstr, errstr_size) != 0) {
            ret = -1;
        } else {
            json_t *run = run_request(disp, r, job_id, ce);
            void *buf;
            size_t len;
            char topic[300], e[DRV_ERRSTR_SIZE];
            snprintf(topic, sizeof(topic), DRV_TOPIC_RUN_PREFIX "%s", ce);
            if (drv_codec_encode(disp->codec, "RunJob", run, &buf, &len, e,
                                 sizeof(e)) == 0) {
                drv__disp_emit(disp, topic, job_id, buf, len);
            } else {
                drv_log(disp->log, DRV_LOG_ERROR, "dispatcher.run_encode",
                        NULL, "could not encode RunJob for %s: %s", job_id, e);
            }
            json_decref(run);
        }
    }
    drv_pg_res_free(r);
    return ret;
}

/* A job that can never fit its compute environment says so, as AWS does. */
static int mark_unfit(drv_disp_t *disp, const char *job_id, char *errstr,
                      size_t errstr_size)
{
    const char *p[] = {job_id,
                       "MISCONFIGURATION:JOB_RESOURCE_REQUIREMENT - The job "
                       "requires more vCPU or memory than its compute "
                       "environment has."};
    return drv_pg_exec(disp->pg,
                       "UPDATE jobs SET status_reason = $2 WHERE job_id = $1 "
                       "AND status_reason IS DISTINCT FROM $2",
                       2, p, errstr, errstr_size);
}

static int schedule_ce(drv_disp_t *disp, const char *ce, double max_vcpus,
                       double max_mem, char *errstr, size_t errstr_size)
{
    const char *p[] = {ce};
    drv_pg_res_t *used = drv_pg_query(
        disp->pg,
        "SELECT coalesce(sum(vcpus), 0), coalesce(sum(memory_mib), 0) "
        "FROM jobs WHERE released AND compute_environment = $1",
        1, p, errstr, errstr_size);
    if (!used) {
        return -1;
    }
    double free_v = max_vcpus - strtod(drv_pg_res_get(used, 0, 0), NULL);
    double free_m = max_mem - strtod(drv_pg_res_get(used, 0, 1), NULL);
    drv_pg_res_free(used);
    if (free_v <= 0) {
        return 0;
    }
    drv_pg_res_t *cand = drv_pg_query(
        disp->pg,
        "SELECT j.job_id, j.vcpus, j.memory_mib FROM jobs j "
        "JOIN job_queues q ON q.name = j.queue AND q.state = 'ENABLED' "
        "JOIN LATERAL (SELECT compute_environment FROM "
        "job_queue_compute_environments WHERE queue = q.name ORDER BY ord "
        "LIMIT 1) qc ON qc.compute_environment = $1 "
        "WHERE j.status = 'RUNNABLE' AND NOT j.released "
        "ORDER BY q.priority DESC, j.scheduling_priority DESC, j.seq "
        "LIMIT 1000",
        1, p, errstr, errstr_size);
    if (!cand) {
        return -1;
    }
    int ret = 0;
    for (int i = 0; ret == 0 && i < drv_pg_res_rows(cand) && free_v > 0; i++) {
        double v = strtod(drv_pg_res_get(cand, i, 1), NULL);
        double m = strtod(drv_pg_res_get(cand, i, 2), NULL);
        const char *job_id = drv_pg_res_get(cand, i, 0);
        if (v > max_vcpus || m > max_mem) {
            ret = mark_unfit(disp, job_id, errstr, errstr_size);
        } else if (v <= free_v && m <= free_m) {
            ret = release(disp, job_id, ce, errstr, errstr_size);
            free_v -= v;
            free_m -= m;
        }
    }
    drv_pg_res_free(cand);
    return ret;
}

int drv__state_schedule(drv_disp_t *disp, char *errstr, size_t errstr_size)
{
    drv_pg_res_t *ces = drv_pg_query(
        disp->pg,
        "SELECT name, max_vcpus, coalesce(max_memory_mib, 9e15) "
        "FROM compute_environments WHERE state = 'ENABLED' ORDER BY name",
        0, NULL, errstr, errstr_size);
    if (!ces) {
        return -1;
    }
    int ret = 0;
    for (int i = 0; ret == 0 && i < drv_pg_res_rows(ces); i++) {
        ret = schedule_ce(disp, drv_pg_res_get(ces, i, 0),
                          strtod(drv_pg_res_get(ces, i, 1), NULL),
                          strtod(drv_pg_res_get(ces, i, 2), NULL), errstr,
                          errstr_size);
    }
    drv_pg_res_free(ces);
    return ret;
}

int drv__state_sweep(drv_disp_t *disp, char *errstr, size_t errstr_size)
{
    char before[24];
    snprintf(before, sizeof(before), "%" PRId64,
             drv_now_ms() - disp->dep_grace_ms);
    const char *p[] = {before};
    drv_pg_res_t *r = drv_pg_query(
        disp->pg,
        "SELECT d.job_id, min(d.depends_on) FROM jobs j JOIN "
        "job_dependencies d ON d.job_id = j.job_id LEFT JOIN jobs x ON "
        "x.job_id = d.depends_on WHERE j.status = 'SUBMITTED' AND "
        "j.created_at < $1::bigint AND x.job_id IS NULL GROUP BY d.job_id "
        "LIMIT 1000",
        1, p, errstr, errstr_size);
    if (!r) {
        return -1;
    }
    int ret = 0;
    for (int i = 0; ret == 0 && i < drv_pg_res_rows(r); i++) {
        char reason[400];
        snprintf(reason, sizeof(reason),
                 DRV_REASON_DEPENDENCY ": dependency %s does not exist",
                 drv_pg_res_get(r, i, 1));
        change_t c = {.status_reason = reason, .exit_code = -1};
        ret = fail_cascade(disp, drv_pg_res_get(r, i, 0), &c, errstr,
                           errstr_size);
    }
    drv_pg_res_free(r);
    return ret;
}
