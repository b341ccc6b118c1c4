/* SPDX-License-Identifier: Apache-2.0 */
/* Status changes and their side effects (transition.h). */
#include "transition.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "capacity.h"
#include "drover/util.h"
#include "outbox.h"
#include "rows.h"

void drv__ids_add(drv__ids_t *ids, const char *id)
{
    ids->v = drv_realloc(ids->v, (ids->n + 1) * sizeof(*ids->v));
    ids->v[ids->n++] = drv_strdup(id);
}

void drv__ids_clear(drv__ids_t *ids)
{
    for (size_t i = 0; i < ids->n; i++) {
        free(ids->v[i]);
    }
    free(ids->v);
    ids->v = NULL;
    ids->n = 0;
}

/* The ids of a json_agg column (NULL: none). */
static void ids_from_json(drv__ids_t *ids, const char *text)
{
    json_t *arr = text ? json_loads(text, 0, NULL) : NULL, *id;
    size_t i;
    json_array_foreach(arr, i, id)
    {
        if (json_is_string(id)) {
            drv__ids_add(ids, json_string_value(id));
        }
    }
    json_decref(arr);
}

/* Column tc of a transition row, read through as (NULL: the row's). */
static const char *col(const drv_pg_res_t *r, int row, int c0,
                       const drv__event_as_t *as, int tc)
{
    return as && as->set[tc] ? as->v[tc] : drv_pg_res_get(r, row, c0 + tc);
}

/* A JobStateChange for a transition row. */
static json_t *event(drv_disp_t *disp, const drv_pg_res_t *r, int row,
                     int c0, const drv__event_as_t *as)
{
    char job_arn[512], queue_arn[512], def_arn[512], def[300];
    const char *job_id = drv_pg_res_get(r, row, c0 + DRV__TC_JOB_ID);
    const char *prev = col(r, row, c0, as, DRV__TC_PREV);
    drv_arn(job_arn, sizeof(job_arn), disp->region, disp->account, "job",
            job_id);
    drv_arn(queue_arn, sizeof(queue_arn), disp->region, disp->account,
            "job-queue", drv_pg_res_get(r, row, c0 + DRV__TC_QUEUE));
    json_t *ev = json_pack(
        "{s:s,s:s,s:s,s:s,s:s,s:o,s:o,s:i,s:o,s:o,s:I,s:o,s:o,s:b,s:b,s:o,"
        "s:o,s:I}",
        "jobId", job_id, "jobArn", job_arn, "jobName",
        drv_pg_res_get(r, row, c0 + DRV__TC_JOB_NAME), "jobQueue", queue_arn,
        "status", col(r, row, c0, as, DRV__TC_STATUS), "previousStatus",
        drv_pg_text_json_str(prev), "statusReason",
        drv_pg_text_json_str(col(r, row, c0, as, DRV__TC_STATUS_REASON)),
        "attempt", (int)drv_pg_res_int(r, row, c0 + DRV__TC_ATTEMPTS, 0),
        "exitCode",
        drv_pg_text_json_int(col(r, row, c0, as, DRV__TC_EXIT_CODE)),
        "reason", drv_pg_text_json_str(col(r, row, c0, as, DRV__TC_REASON)),
        "createdAt",
        (json_int_t)drv_pg_res_int(r, row, c0 + DRV__TC_CREATED_AT, 0),
        "startedAt",
        drv_pg_text_json_int(col(r, row, c0, as, DRV__TC_STARTED_AT)),
        "stoppedAt",
        drv_pg_text_json_int(col(r, row, c0, as, DRV__TC_STOPPED_AT)),
        "isCancelled",
        drv_pg_res_get(r, row, c0 + DRV__TC_IS_CANCELLED)[0] == 't',
        "isTerminated",
        drv_pg_res_get(r, row, c0 + DRV__TC_IS_TERMINATED)[0] == 't',
        "arrayIndex", drv_pg_res_json_int(r, row, c0 + DRV__TC_ARRAY_INDEX),
        "arraySize", drv_pg_res_json_int(r, row, c0 + DRV__TC_ARRAY_SIZE),
        "time", (json_int_t)drv_pg_res_int(r, row, c0 + DRV__TC_UPDATED_AT, 0));
    const char *dname = drv_pg_res_get(r, row, c0 + DRV__TC_DEF_NAME);
    if (dname) {
        const char *rev = drv_pg_res_get(r, row, c0 + DRV__TC_DEF_REVISION);
        snprintf(def, sizeof(def), "%s:%s", dname, rev ? rev : "0");
        drv_arn(def_arn, sizeof(def_arn), disp->region, disp->account,
                "job-definition", def);
        json_object_set_new(ev, "jobDefinition", json_string(def_arn));
    }
    json_t *deps = drv_pg_res_json(r, row, c0 + DRV__TC_DEPENDS_ON);
    if (json_is_array(deps)) {
        json_object_set_new(ev, "dependsOn", deps);
    } else {
        json_decref(deps);
    }
    return ev;
}

static void announce(drv_disp_t *disp, const drv_pg_res_t *r, int row,
                     int c0, const drv__event_as_t *as)
{
    char e[DRV_ERRSTR_SIZE], label[64];
    const char *job_id = drv_pg_res_get(r, row, c0 + DRV__TC_JOB_ID);
    const char *status = col(r, row, c0, as, DRV__TC_STATUS);
    const char *prev = col(r, row, c0, as, DRV__TC_PREV);
    snprintf(label, sizeof(label), "status=\"%s\"", status);
    drv_metrics_add(disp->metrics, "drover_transitions_total", label, 1);
    json_t *ev = event(disp, r, row, c0, as);
    (void)drv__outbox_emit_json(disp, "JobStateChange", DRV_TOPIC_EVENTS,
                                job_id, ev, e, sizeof(e));
    json_decref(ev);
    if (drv_log_enabled(disp->log, DRV_LOG_DEBUG)) {
        json_t *f = drv_log_job(job_id);
        json_object_set_new(f, "status", json_string(status));
        drv_log(disp->log, DRV_LOG_DEBUG, "job.transition", f, "%s -> %s",
                prev ? prev : "-", status);
        json_decref(f);
    }
}

void drv__transition_passed(drv_disp_t *disp, const drv_pg_res_t *r,
                            int row, int c0, const drv__event_as_t *as)
{
    announce(disp, r, row, c0, as);
}

static void follow(drv_disp_t *disp, const drv_pg_res_t *r, int row, int c0,
                   bool finished)
{
    const char *wake = drv_pg_res_get(r, row, c0 + DRV__TC_WAKE);
    if (!finished && !wake) {
        return;
    }
    if (disp->fu_cnt == disp->fu_cap) {
        disp->fu_cap = disp->fu_cap ? disp->fu_cap * 2 : 64;
        disp->fu = drv_realloc(disp->fu, disp->fu_cap * sizeof(*disp->fu));
    }
    drv__followup_t *f = &disp->fu[disp->fu_cnt++];
    memset(f, 0, sizeof(*f));
    const char *parent = drv_pg_res_get(r, row, c0 + DRV__TC_PARENT);
    f->job_id = drv_strdup(drv_pg_res_get(r, row, c0 + DRV__TC_JOB_ID));
    f->finished = finished;
    f->succeeded = !strcmp(drv_pg_res_get(r, row, c0 + DRV__TC_STATUS),
                           "SUCCEEDED");
    f->parent = parent ? drv_strdup(parent) : NULL;
    f->index = (int)drv_pg_res_int(r, row, c0 + DRV__TC_ARRAY_INDEX, 0);
    f->is_array = !parent &&
                  drv_pg_res_get(r, row, c0 + DRV__TC_ARRAY_SIZE) != NULL;
    ids_from_json(&f->wake, wake);
}

void drv__transition_done(drv_disp_t *disp, const drv_pg_res_t *r, int row,
                          int c0)
{
    drv__transition_done_as(disp, r, row, c0, NULL);
}

void drv__transition_done_as(drv_disp_t *disp, const drv_pg_res_t *r,
                             int row, int c0, const drv__event_as_t *as)
{
    const char *status = col(r, row, c0, as, DRV__TC_STATUS);
    const char *prev = col(r, row, c0, as, DRV__TC_PREV);
    drv_job_status_t st = DRV_JOB_SUBMITTED;
    drv_job_status_parse(status, &st);
    bool moved = !prev || strcmp(prev, status) != 0;
    if (moved) {
        announce(disp, r, row, c0, as);
    }
    const char *freed = drv_pg_res_get(r, row, c0 + DRV__TC_FREED);
    const char *ce = drv_pg_res_get(r, row, c0 + DRV__TC_CE);
    if (freed && freed[0] == 't' && ce) {
        drv__capacity_add(disp, ce,
                          strtod(drv_pg_res_get(r, row, c0 + DRV__TC_VCPUS),
                                 NULL),
                          strtod(drv_pg_res_get(r, row, c0 + DRV__TC_MEMORY),
                                 NULL),
                          -1);
    }
    if (freed && freed[0] == 't') {
        drv__capacity_worker_add(
            disp, drv_pg_res_get(r, row, c0 + DRV__TC_HOLDER),
            strtod(drv_pg_res_get(r, row, c0 + DRV__TC_VCPUS), NULL),
            strtod(drv_pg_res_get(r, row, c0 + DRV__TC_MEMORY), NULL),
            strtod(drv_pg_res_get(r, row, c0 + DRV__TC_GPUS), NULL), -1);
    }
    follow(disp, r, row, c0, moved && drv_job_status_is_terminal(st));
}

int drv__transition_rows(drv_disp_t *disp, drv_pg_res_t *r)
{
    if (!r) {
        return -1;
    }
    int moved = drv_pg_res_rows(r);
    for (int i = 0; i < moved; i++) {
        drv__transition_done(disp, r, i, 0);
    }
    drv_pg_res_free(r);
    return moved;
}

/* What a change sets, each argument an SQL expression: the status, its
 * reason, the time, the exit code and container reason, cancelled and
 * terminated (NULL: keep). The wake column of the statements below tests
 * the row's status, not the parameter: a parameter would be folded into
 * each custom plan and PostgreSQL would plan every call instead of
 * keeping the generic plan (0.15 ms per call). */
#define TRANSITION_SETS(to, sreason, now, code, reason, cancelled, terminated) \
    "status = " to ", status_reason = COALESCE(" sreason ", "                 \
    "jobs.status_reason), updated_at = " now ", started_at = CASE WHEN " to  \
    " = 'RUNNING' THEN " now " ELSE jobs.started_at END, stopped_at = CASE " \
    "WHEN " to " IN " DRV__TERMINAL " THEN " now " ELSE jobs.stopped_at "    \
    "END, released = CASE WHEN " to " IN ('SUCCEEDED','FAILED','RUNNABLE') " \
    "THEN false ELSE jobs.released END, exit_code = COALESCE(" code ", "     \
    "jobs.exit_code), reason = COALESCE(" reason ", jobs.reason), "          \
    "is_cancelled = jobs.is_cancelled OR COALESCE(" cancelled ", false), "    \
    "is_terminated = jobs.is_terminated OR COALESCE(" terminated ", false) "

int drv__transition(drv_disp_t *disp, const char *job_id,
                    drv_job_status_t to, const drv__change_t *c, char *errstr,
                    size_t errstr_size)
{
    char now[24], code[16];
    snprintf(now, sizeof(now), "%" PRId64, drv_now_ms());
    snprintf(code, sizeof(code), "%d", c ? c->exit_code : -1);
    const char *p[] = {job_id,
                       drv_job_status_name(to),
                       c ? c->status_reason : NULL,
                       now,
                       c && c->exit_code >= 0 ? code : NULL,
                       c ? c->reason : NULL,
                       c && c->cancelled ? "true" : "false",
                       c && c->terminated ? "true" : "false"};
    drv_pg_res_t *r = drv_pg_query(
        disp->pg,
        "UPDATE jobs SET " TRANSITION_SETS("$2", "$3", "$4::bigint",
                                           "$5::int", "$6", "$7::bool",
                                           "$8::bool")
        "FROM (SELECT job_id, status AS prev, released AS was_released FROM "
        "jobs WHERE job_id = $1 FOR UPDATE) old WHERE jobs.job_id = "
        "old.job_id AND jobs.status NOT IN " DRV__TERMINAL " AND "
        "jobs.status <> $2 RETURNING " DRV__TRANSITION_RETURNING(
            "old.prev", "old.was_released AND NOT jobs.released",
            "CASE WHEN jobs.status IN " DRV__TERMINAL
            " THEN " DRV__WAITING_DEPENDENTS("$1") " END"),
        8, p, errstr, errstr_size);
    if (!r) {
        return -1;
    }
    int changed = drv_pg_res_rows(r) > 0;
    if (changed) {
        drv__transition_done(disp, r, 0, 0);
    }
    drv_pg_res_free(r);
    return changed;
}

/* drv__transition for many jobs ($1: rows of drv__transition_many, $2
 * now), its rows in their order. */
#define TRANSITION_MANY_SQL                                                    \
    "WITH r AS (SELECT r.* FROM drover_rows($1::jsonb) e, jsonb_to_record(e) " \
    "AS r(i int, job_id text, st text, sreason text, code int, reason text, " \
    "cancelled bool, terminated bool)), old AS MATERIALIZED (SELECT r.*, "    \
    "c.status AS prev, c.released AS was_released FROM r JOIN jobs c ON "     \
    "c.job_id = r.job_id), u AS (UPDATE jobs SET " TRANSITION_SETS(           \
        "old.st", "old.sreason", "$2::bigint", "old.code", "old.reason",      \
        "old.cancelled", "old.terminated")                                    \
    "FROM old WHERE jobs.job_id = old.job_id AND jobs.status NOT IN "         \
    DRV__TERMINAL " AND jobs.status <> old.st RETURNING "                     \
    DRV__TRANSITION_RETURNING(                                                \
        "old.prev", "old.was_released AND NOT jobs.released",                 \
        "CASE WHEN jobs.status IN " DRV__TERMINAL " THEN "                    \
        DRV__WAITING_DEPENDENTS("jobs.job_id") " END") ", old.i AS ri) "      \
    "SELECT * FROM u ORDER BY ri"

int drv__transition_many(drv_disp_t *disp, const drv__move_t *mv, size_t n,
                         char *errstr, size_t errstr_size)
{
    if (n == 0) {
        return 0;
    }
    json_t *rows = json_array();
    for (size_t i = 0; i < n; i++) {
        const drv__change_t *c = &mv[i].c;
        json_t *row = json_pack("{s:I,s:s,s:s,s:o,s:o,s:b,s:b}", "i",
                                (json_int_t)i, "job_id", mv[i].job_id, "st",
                                drv_job_status_name(mv[i].to), "sreason",
                                drv__rows_str(c->status_reason), "reason",
                                drv__rows_str(c->reason), "cancelled",
                                c->cancelled, "terminated", c->terminated);
        if (c->exit_code >= 0) {
            json_object_set_new(row, "code", json_integer(c->exit_code));
        }
        json_array_append_new(rows, row);
    }
    drv__rows_t rs;
    drv_pg_stmt_t st = drv__rows_stmt(&rs, TRANSITION_MANY_SQL, rows);
    drv_pg_res_t *r = drv_pg_query(disp->pg, st.sql, st.nparams, st.params,
                                   errstr, errstr_size);
    drv__rows_clear(&rs);
    return drv__transition_rows(disp, r);
}

int drv__transition_dependency_failed(drv_disp_t *disp, const char *job_id,
                                      const char *failed_dep, char *errstr,
                                      size_t errstr_size)
{
    char reason[400];
    snprintf(reason, sizeof(reason), DRV_REASON_DEPENDENCY ": %s", failed_dep);
    drv__change_t c = {.status_reason = reason, .exit_code = -1};
    return drv__transition(disp, job_id, DRV_JOB_FAILED, &c, errstr,
                           errstr_size) < 0
               ? -1
               : 0;
}

/* Fails every listed job in one statement, their rows in the list's
 * order: `%s` is the listing query, whose columns are named here; the
 * time is the parameter after the listing's. The old row (o) gives prev
 * and what the job held; a listed job that finished already is left. */
#define FAIL_LISTED_SQL                                                        \
    "WITH l AS MATERIALIZED (SELECT x.*, row_number() OVER () AS ord FROM "  \
    "(%s) x(job_id, status_reason, cancelled, terminated)), u AS (UPDATE "    \
    "jobs SET status = 'FAILED', status_reason = COALESCE(l.status_reason, " \
    "jobs.status_reason), updated_at = $%d::bigint, stopped_at = "           \
    "$%d::bigint, released = false, is_cancelled = jobs.is_cancelled OR "     \
    "COALESCE(l.cancelled, false), is_terminated = jobs.is_terminated OR "    \
    "COALESCE(l.terminated, false) FROM l, jobs o WHERE jobs.job_id = "       \
    "l.job_id AND o.job_id = l.job_id AND jobs.status NOT IN " DRV__TERMINAL \
    " RETURNING " DRV__TRANSITION_RETURNING(                                  \
        "o.status", "o.released",                                              \
        DRV__WAITING_DEPENDENTS("jobs.job_id")) ", l.ord) "                   \
    "SELECT * FROM u ORDER BY ord"

int drv__transition_fail_listed(drv_disp_t *disp, const char *sql,
                                int nparams, const char *const *params,
                                char *errstr, size_t errstr_size)
{
    char now[24];
    snprintf(now, sizeof(now), "%" PRId64, drv_now_ms());
    const char **p = drv_calloc((size_t)nparams + 1, sizeof(*p));
    for (int i = 0; i < nparams; i++) {
        p[i] = params[i];
    }
    p[nparams] = now;
    size_t qlen = sizeof(FAIL_LISTED_SQL) + strlen(sql) + 32;
    char *q = drv_malloc(qlen);
    snprintf(q, qlen, FAIL_LISTED_SQL, sql, nparams + 1, nparams + 1);
    drv_pg_res_t *r = drv_pg_query(disp->pg, q, nparams + 1, p, errstr,
                                   errstr_size);
    free(q);
    free(p);
    return drv__transition_rows(disp, r) < 0 ? -1 : 0;
}

drv__followup_t *drv__followups_take(drv_disp_t *disp, size_t *n)
{
    drv__followup_t *fu = disp->fu;
    *n = disp->fu_cnt;
    disp->fu = NULL;
    disp->fu_cnt = disp->fu_cap = 0;
    return fu;
}

void drv__followups_free(drv__followup_t *fu, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(fu[i].job_id);
        free(fu[i].parent);
        drv__ids_clear(&fu[i].wake);
    }
    free(fu);
}

void drv__followups_discard(drv_disp_t *disp)
{
    size_t n;
    drv__followup_t *fu = drv__followups_take(disp, &n);
    drv__followups_free(fu, n);
}
