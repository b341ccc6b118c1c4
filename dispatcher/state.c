/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The job state machine. Every function runs inside a transaction opened
 * by dispatcher.c; events are queued with drv__disp_emit and published
 * after the commit.
 *
 * Dependencies: explicit edges (dependsOn with a job id) are rows of
 * job_dependencies. Array edges are derived, never stored per child:
 * child i of a SEQUENTIAL array waits for child i-1, and child i of an
 * array with an N_TO_N dependency on array X waits for X:i. Whatever
 * becomes terminal is queued on disp->done and drv__drain works out the
 * consequences, each an O(1) lookup by primary key.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dispatcher_int.h"
#include "drover/util.h"

#define EVENT_COLS DRV__EVENT_COLS
#define TERMINAL DRV__TERMINAL

void drv__emit_event(drv_disp_t *disp, const drv_pg_res_t *r, int row,
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
        drv_pg_res_json_str(r, row, 6), "attempt",
        (int)drv_pg_res_int(r, row, 7, 0), "exitCode", drv_pg_res_json_int(r, row, 8),
        "reason", drv_pg_res_json_str(r, row, 9), "createdAt",
        (json_int_t)drv_pg_res_int(r, row, 10, 0), "startedAt",
        drv_pg_res_json_int(r, row, 11), "stoppedAt", drv_pg_res_json_int(r, row, 12),
        "isCancelled", drv_pg_res_get(r, row, 13)[0] == 't', "isTerminated",
        drv_pg_res_get(r, row, 14)[0] == 't', "arrayIndex",
        drv_pg_res_json_int(r, row, 15), "arraySize", drv_pg_res_json_int(r, row, 16), "time",
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
    if (drv_log_enabled(disp->log, DRV_LOG_DEBUG)) {
        json_t *f = drv_log_job(job_id);
        json_object_set_new(f, "status",
                            json_string(drv_pg_res_get(r, row, 5)));
        drv_log(disp->log, DRV_LOG_DEBUG, "job.transition", f, "%s -> %s",
                prev ? prev : "-", drv_pg_res_get(r, row, 5));
        json_decref(f);
    }
    json_decref(ev);
}

int drv__set_status(drv_disp_t *disp, const char *job_id, const char *to,
                    const drv__change_t *c, char *errstr, size_t errstr_size)
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
    /* the last column tests the row's status, not $2: a parameter would
     * be folded into each custom plan and PostgreSQL would plan every
     * call instead of keeping the generic plan (0.15 ms per call) */
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
        "FROM (SELECT job_id, status AS prev, released AS was_released FROM "
        "jobs WHERE job_id = $1 FOR UPDATE) old WHERE jobs.job_id = "
        "old.job_id AND jobs.status NOT IN " TERMINAL " AND jobs.status <> "
        "$2 RETURNING " EVENT_COLS ", old.prev, old.was_released AND NOT "
        "jobs.released, jobs.compute_environment, jobs.vcpus, "
        "jobs.memory_mib, jobs.array_parent, CASE WHEN jobs.status IN "
        TERMINAL " THEN " DRV__WAITING_DEPENDENTS("$1") " END",
        8, p, errstr, errstr_size);
    if (!r) {
        return -1;
    }
    int changed = drv_pg_res_rows(r) > 0;
    if (changed) {
        char label[64];
        snprintf(label, sizeof(label), "status=\"%s\"", to);
        drv_metrics_add(disp->metrics, "drover_transitions_total", label, 1);
        drv__emit_event(disp, r, 0, drv_pg_res_get(r, 0, 19));
        if (drv_pg_res_get(r, 0, 20)[0] == 't' && drv_pg_res_get(r, 0, 21)) {
            drv__usage_add(disp, drv_pg_res_get(r, 0, 21),
                           strtod(drv_pg_res_get(r, 0, 22), NULL),
                           strtod(drv_pg_res_get(r, 0, 23), NULL), -1);
        }
        if (!strcmp(to, "SUCCEEDED") || !strcmp(to, "FAILED")) {
            /* what drv__drain needs, read with the change */
            json_t *deps = drv_pg_res_json(r, 0, 25);
            json_array_append_new(
                disp->done,
                json_pack("{s:s,s:b,s:s?,s:I,s:b,s:o}", "id", job_id, "ok",
                          !strcmp(to, "SUCCEEDED"), "parent",
                          drv_pg_res_get(r, 0, 24), "index",
                          (json_int_t)drv_pg_res_int(r, 0, 15, 0), "array",
                          drv_pg_res_get(r, 0, 16) != NULL, "deps",
                          deps ? deps : json_array()));
        }
    }
    drv_pg_res_free(r);
    return changed;
}

static int fail_dependent(drv_disp_t *disp, const char *job_id,
                          const char *failed_dep, char *errstr,
                          size_t errstr_size)
{
    char reason[400];
    snprintf(reason, sizeof(reason), DRV_REASON_DEPENDENCY ": %s", failed_dep);
    drv__change_t c = {.status_reason = reason, .exit_code = -1};
    return drv__set_status(disp, job_id, "FAILED", &c, errstr, errstr_size) <
                   0
               ? -1
               : 0;
}

/* ---- arrays ---------------------------------------------------------------- */

int drv__array_spawn(drv_disp_t *disp, const char *parent, int size,
                     char *errstr, size_t errstr_size)
{
    char n[16];
    snprintf(n, sizeof(n), "%d", size - 1);
    const char *p[] = {parent, n};
    return drv_pg_exec(
        disp->pg,
        "INSERT INTO jobs (job_id, job_name, queue, definition_name, "
        "definition_revision, status, created_at, updated_at, request, "
        "vcpus, memory_mib, max_attempts, scheduling_priority, array_parent, "
        "array_index, array_size) SELECT p.job_id || ':' || i, p.job_name, "
        "p.queue, p.definition_name, p.definition_revision, 'PENDING', "
        "p.created_at, p.created_at, '{}'::jsonb, p.vcpus, p.memory_mib, "
        "p.max_attempts, p.scheduling_priority, p.job_id, i, p.array_size "
        "FROM jobs p, generate_series(0, $2::int) i WHERE p.job_id = $1",
        2, p, errstr, errstr_size);
}

/*
 * A PENDING child may run once its parent's own dependencies succeeded,
 * child i-1 succeeded (SEQUENTIAL) and child i of every N_TO_N dependency
 * succeeded; it fails when one of those failed.
 */
static int eval_child(drv_disp_t *disp, const char *parent, int index,
                      char *errstr, size_t errstr_size)
{
    char child[300], idx[16], prev[16];
    snprintf(child, sizeof(child), "%s:%d", parent, index);
    snprintf(idx, sizeof(idx), "%d", index);
    snprintf(prev, sizeof(prev), "%d", index - 1);
    const char *p[] = {parent, child, idx, prev, index > 0 ? "true" : "false"};
    /* the prerequisites with their status (NULL: not recorded) */
    drv_pg_res_t *r = drv_pg_query(
        disp->pg,
        "WITH c AS (SELECT j.status AS cs, p.status AS ps, p.deps_pending, "
        "p.array_sequential FROM jobs j JOIN jobs p ON p.job_id = "
        "j.array_parent WHERE j.job_id = $2), pre AS ("
        "SELECT $1 || ':' || $4 AS id FROM c WHERE c.array_sequential AND "
        "$5::bool UNION ALL SELECT d.depends_on || ':' || $3 FROM "
        "job_dependencies d WHERE d.job_id = $1 AND d.type = 'N_TO_N') "
        "SELECT c.cs, c.ps, c.deps_pending, (SELECT min(pre.id) FROM pre "
        "LEFT JOIN jobs x ON x.job_id = pre.id WHERE x.status = 'FAILED'), "
        "(SELECT count(*) FROM pre LEFT JOIN jobs x ON x.job_id = pre.id "
        "WHERE x.status IS DISTINCT FROM 'SUCCEEDED') FROM c",
        5, p, errstr, errstr_size);
    if (!r) {
        return -1;
    }
    int ret = 0;
    if (drv_pg_res_rows(r) == 1 && !strcmp(drv_pg_res_get(r, 0, 0), "PENDING") &&
        !strcmp(drv_pg_res_get(r, 0, 1), "PENDING") &&
        drv_pg_res_int(r, 0, 2, 1) == 0) {
        if (drv_pg_res_get(r, 0, 3)) {
            ret = fail_dependent(disp, child, drv_pg_res_get(r, 0, 3), errstr,
                                 errstr_size);
        } else if (drv_pg_res_int(r, 0, 4, 1) == 0) {
            ret = drv__set_status(disp, child, "RUNNABLE", NULL, errstr,
                                  errstr_size) < 0
                      ? -1
                      : 0;
        }
    }
    drv_pg_res_free(r);
    return ret;
}

/* The parent's dependencies are met: let its children go. Children that
 * wait for nothing else (no SEQUENTIAL order, no N_TO_N dependency) all
 * become RUNNABLE in one statement. */
static int release_children(drv_disp_t *disp, const char *parent,
                            char *errstr, size_t errstr_size)
{
    char now[24];
    snprintf(now, sizeof(now), "%" PRId64, drv_now_ms());
    const char *pn[] = {parent, now};
    drv_pg_res_t *all = drv_pg_query(
        disp->pg,
        "UPDATE jobs SET status = 'RUNNABLE', updated_at = $2::bigint FROM "
        "jobs p WHERE jobs.array_parent = $1 AND jobs.status = 'PENDING' "
        "AND p.job_id = $1 AND p.status = 'PENDING' AND p.deps_pending = 0 "
        "AND NOT p.array_sequential AND NOT EXISTS (SELECT 1 FROM "
        "job_dependencies d WHERE d.job_id = $1 AND d.type = 'N_TO_N') "
        "RETURNING " EVENT_COLS,
        2, pn, errstr, errstr_size);
    if (!all) {
        return -1;
    }
    int moved = drv_pg_res_rows(all);
    for (int i = 0; i < moved; i++) {
        drv__emit_event(disp, all, i, "PENDING");
    }
    if (moved > 0) {
        drv_metrics_add(disp->metrics, "drover_transitions_total",
                        "status=\"RUNNABLE\"", moved);
    }
    drv_pg_res_free(all);
    if (moved > 0) {
        return 0;
    }
    const char *p[] = {parent};
    drv_pg_res_t *r = drv_pg_query(
        disp->pg,
        "SELECT c.array_index FROM jobs c JOIN jobs p ON p.job_id = "
        "c.array_parent WHERE c.array_parent = $1 AND c.status = 'PENDING' "
        "AND (NOT p.array_sequential OR c.array_index = 0) "
        "ORDER BY c.array_index",
        1, p, errstr, errstr_size);
    if (!r) {
        return -1;
    }
    int ret = 0;
    for (int i = 0; ret == 0 && i < drv_pg_res_rows(r); i++) {
        ret = eval_child(disp, parent, (int)drv_pg_res_int(r, i, 0, 0), errstr,
                         errstr_size);
    }
    drv_pg_res_free(r);
    return ret;
}

/* ---- dependencies ---------------------------------------------------------- */

int drv__evaluate(drv_disp_t *disp, const char *job_id, char *errstr,
                  size_t errstr_size)
{
    const char *p[] = {job_id};
    /* N_TO_N rows are per child (eval_child), not the parent's own */
    drv_pg_res_t *r = drv_pg_query(
        disp->pg,
        "SELECT count(*) FILTER (WHERE j.job_id IS NULL), "
        "count(*) FILTER (WHERE j.status IS DISTINCT FROM 'SUCCEEDED'), "
        "min(d.depends_on) FILTER (WHERE j.status = 'FAILED'), "
        "(SELECT array_size IS NOT NULL AND array_parent IS NULL FROM jobs "
        "WHERE job_id = $1) FROM job_dependencies d LEFT JOIN jobs j ON "
        "j.job_id = d.depends_on WHERE d.job_id = $1 AND d.type IS "
        "DISTINCT FROM 'N_TO_N'",
        1, p, errstr, errstr_size);
    if (!r) {
        return -1;
    }
    int64_t missing = drv_pg_res_int(r, 0, 0, 0);
    int64_t waiting = drv_pg_res_int(r, 0, 1, 0);
    bool is_array = drv_pg_res_get(r, 0, 3) &&
                    drv_pg_res_get(r, 0, 3)[0] == 't';
    int ret = 0;
    if (drv_pg_res_get(r, 0, 2)) {
        ret = fail_dependent(disp, job_id, drv_pg_res_get(r, 0, 2), errstr,
                             errstr_size);
    } else if (missing == 0) { /* else: wait for it to be recorded */
        char pending[24];
        snprintf(pending, sizeof(pending), "%" PRId64, waiting);
        const char *p2[] = {job_id, pending};
        /* an array parent is never RUNNABLE: PENDING while children run */
        const char *to = waiting || is_array ? "PENDING" : "RUNNABLE";
        if (drv_pg_exec(disp->pg,
                        "UPDATE jobs SET deps_pending = $2::int "
                        "WHERE job_id = $1",
                        2, p2, errstr, errstr_size) != 0 ||
            drv__set_status(disp, job_id, to, NULL, errstr, errstr_size) < 0 ||
            (is_array && !waiting &&
             release_children(disp, job_id, errstr, errstr_size) != 0)) {
            ret = -1;
        }
    }
    drv_pg_res_free(r);
    return ret;
}

int drv__evaluate_all(drv_disp_t *disp, json_t *ids, char *errstr,
                      size_t errstr_size)
{
    int ret = 0;
    size_t i;
    json_t *id;
    json_array_foreach(ids, i, id)
    {
        if (ret == 0 && json_is_string(id)) {
            ret = drv__evaluate(disp, json_string_value(id), errstr,
                                errstr_size);
        }
    }
    return ret;
}

/* A child finished: count it on the parent, finish the parent when all
 * are done, and let the next SEQUENTIAL sibling and N_TO_N counterparts
 * move. */
static int done_child(drv_disp_t *disp, const char *parent, int index,
                      bool succeeded, char *errstr, size_t errstr_size)
{
    const char *p[] = {parent, succeeded ? "1" : "0", succeeded ? "0" : "1"};
    drv_pg_res_t *r = drv_pg_query(
        disp->pg,
        "UPDATE jobs SET children_succeeded = children_succeeded + $2::int, "
        "children_failed = children_failed + $3::int WHERE job_id = $1 "
        "RETURNING children_succeeded, children_failed, array_size, "
        "array_sequential, is_cancelled OR is_terminated",
        3, p, errstr, errstr_size);
    if (!r || drv_pg_res_rows(r) != 1) {
        drv_pg_res_free(r);
        return r ? 0 : -1;
    }
    int64_t ok = drv_pg_res_int(r, 0, 0, 0), bad = drv_pg_res_int(r, 0, 1, 0);
    int64_t size = drv_pg_res_int(r, 0, 2, 0);
    bool sequential = drv_pg_res_get(r, 0, 3)[0] == 't';
    bool stopped = drv_pg_res_get(r, 0, 4)[0] == 't';
    drv_pg_res_free(r);
    int ret = 0;
    if (ok + bad == size) {
        char reason[200];
        snprintf(reason, sizeof(reason),
                 "%" PRId64 " of %" PRId64 " child jobs failed", bad, size);
        drv__change_t c = {.status_reason = bad && !stopped ? reason : NULL,
                           .exit_code = -1};
        ret = drv__set_status(disp, parent, bad ? "FAILED" : "SUCCEEDED", &c,
                              errstr, errstr_size) < 0
                  ? -1
                  : 0;
    }
    if (ret == 0 && sequential && index + 1 < size) {
        ret = eval_child(disp, parent, index + 1, errstr, errstr_size);
    }
    if (ret == 0) {
        drv_pg_res_t *d = drv_pg_query(
            disp->pg,
            "SELECT job_id FROM job_dependencies WHERE depends_on = $1 AND "
            "type = 'N_TO_N'",
            1, p, errstr, errstr_size);
        if (!d) {
            return -1;
        }
        for (int i = 0; ret == 0 && i < drv_pg_res_rows(d); i++) {
            ret = eval_child(disp, drv_pg_res_get(d, i, 0), index, errstr,
                             errstr_size);
        }
        drv_pg_res_free(d);
    }
    return ret;
}

/* An array parent failed before its children ran (a dependency failed, or
 * it was cancelled): its waiting children fail with it. */
static int fail_children(drv_disp_t *disp, const char *parent, char *errstr,
                         size_t errstr_size)
{
    const char *p[] = {parent};
    drv_pg_res_t *r = drv_pg_query(
        disp->pg,
        "SELECT c.job_id, p.status_reason, p.is_cancelled, p.is_terminated "
        "FROM jobs c JOIN jobs p ON p.job_id = c.array_parent WHERE "
        "c.array_parent = $1 AND c.status IN ('SUBMITTED','PENDING') "
        "OR (c.array_parent = $1 AND c.status = 'RUNNABLE' AND NOT "
        "c.released) ORDER BY c.array_index",
        1, p, errstr, errstr_size);
    if (!r) {
        return -1;
    }
    int ret = 0;
    for (int i = 0; ret == 0 && i < drv_pg_res_rows(r); i++) {
        drv__change_t c = {.status_reason = drv_pg_res_get(r, i, 1),
                           .exit_code = -1,
                           .cancelled = drv_pg_res_get(r, i, 2)[0] == 't',
                           .terminated = drv_pg_res_get(r, i, 3)[0] == 't'};
        ret = drv__set_status(disp, drv_pg_res_get(r, i, 0), "FAILED", &c,
                              errstr, errstr_size) < 0
                  ? -1
                  : 0;
    }
    drv_pg_res_free(r);
    return ret;
}

/* A job that became terminal (an entry of disp->done, see set_status):
 * its waiting dependents, its array parent, its waiting children. */
static int done_one(drv_disp_t *disp, json_t *d, char *errstr,
                    size_t errstr_size)
{
    const char *job_id = json_string_value(json_object_get(d, "id"));
    const char *parent = json_string_value(json_object_get(d, "parent"));
    bool ok = json_is_true(json_object_get(d, "ok"));
    /* explicit dependents that still wait, read with the change */
    int ret = drv__evaluate_all(disp, json_object_get(d, "deps"), errstr,
                                errstr_size);
    if (ret == 0 && parent) {
        ret = done_child(disp, parent,
                         (int)json_integer_value(json_object_get(d, "index")),
                         ok, errstr, errstr_size);
    } else if (ret == 0 && !ok && json_is_true(json_object_get(d, "array"))) {
        ret = fail_children(disp, job_id, errstr, errstr_size);
    }
    return ret;
}

int drv__drain(drv_disp_t *disp, char *errstr, size_t errstr_size)
{
    int ret = 0;
    /* done_one may append: the loop reads the growing array by index */
    for (size_t i = 0; ret == 0 && i < json_array_size(disp->done); i++) {
        json_t *d = json_incref(json_array_get(disp->done, i));
        ret = done_one(disp, d, errstr, errstr_size);
        json_decref(d);
    }
    json_array_clear(disp->done);
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
        drv__change_t c = {.status_reason = reason, .exit_code = -1};
        ret = drv__set_status(disp, drv_pg_res_get(r, i, 0), "FAILED", &c,
                              errstr, errstr_size) < 0
                  ? -1
                  : 0;
    }
    drv_pg_res_free(r);
    if (ret == 0) {
        ret = drv__lose_silent_workers(disp, errstr, errstr_size);
    }
    return ret == 0 ? drv__drain(disp, errstr, errstr_size) : -1;
}
