/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Applying consumed messages: SubmitJob (validate, record, spawn array
 * children, evaluate dependencies), CancelJob and TerminateJob, a worker's
 * JobStatus (fenced to the current attempt; retry or finish) and
 * WorkerHeartbeat. Runs inside dispatcher.c's batch transaction.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "dispatcher_int.h"
#include "drover/catalog.h"
#include "drover/util.h"

#define EVENT_COLS DRV__EVENT_COLS
#define TERMINAL DRV__TERMINAL


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
    /* a queue found ENABLED earlier in this batch needs no second look */
    char key[300];
    snprintf(key, sizeof(key), "q\x1f%s", queue);
    if (json_object_get(disp->batch_cache, key)) {
        return DRV_OK;
    }
    drv_err_t err = drv_catalog_queue(disp->pg, queue, queue, queue_size,
                                      errstr, errstr_size);
    if (err == DRV_OK) {
        json_object_set_new(disp->batch_cache, key, json_true());
    }
    return err;
}

/* The definition a reference names, looked up once per batch. */
static json_t *lookup_definition(drv_disp_t *disp, const char *ref,
                                 char *name, size_t name_size, int *revision,
                                 drv_err_t *err, char *errstr,
                                 size_t errstr_size)
{
    char key[600];
    snprintf(key, sizeof(key), "d\x1f%s", ref ? ref : "");
    json_t *hit = json_object_get(disp->batch_cache, key);
    if (hit) {
        snprintf(name, name_size, "%s",
                 json_string_value(json_object_get(hit, "name")));
        *revision = (int)json_integer_value(json_object_get(hit, "revision"));
        *err = DRV_OK;
        return json_incref(json_object_get(hit, "def"));
    }
    json_t *def = drv_catalog_definition(disp->pg, ref, name, name_size,
                                         revision, err, errstr, errstr_size);
    if (def) {
        json_object_set_new(disp->batch_cache, key,
                            json_pack("{s:s,s:i,s:O}", "name", name,
                                      "revision", *revision, "def", def));
    }
    return def;
}

/* N_TO_N needs an existing array of the same size. 0, 1 (refused), -1. */
static int check_n_to_n(drv_disp_t *disp, json_t *sj, char *errstr,
                        size_t errstr_size)
{
    size_t i;
    json_t *d;
    int size = (int)json_integer_value(
        json_object_get(json_object_get(sj, "arrayProperties"), "size"));
    json_array_foreach(json_object_get(sj, "dependsOn"), i, d)
    {
        const char *t = json_string_value(json_object_get(d, "type"));
        const char *id = json_string_value(json_object_get(d, "jobId"));
        if (!t || strcmp(t, "N_TO_N") || !id) {
            continue;
        }
        const char *p[] = {id};
        drv_pg_res_t *r = drv_pg_query(
            disp->pg,
            "SELECT array_size FROM jobs WHERE job_id = $1 AND array_parent "
            "IS NULL",
            1, p, errstr, errstr_size);
        if (!r) {
            return -1;
        }
        int other = drv_pg_res_rows(r) ? (int)drv_pg_res_int(r, 0, 0, 0) : -1;
        drv_pg_res_free(r);
        if (other != size) {
            drv_errstr_set(errstr, errstr_size,
                           other < 0 ? "N_TO_N dependency %s does not exist"
                                     : "N_TO_N dependency %s must be an array "
                                       "job of the same size (%d)",
                           id, size);
            return 1;
        }
    }
    return 0;
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
    json_t *def = lookup_definition(
        disp, json_string_value(json_object_get(sj, "jobDefinition")),
        def_name, def_name_size, revision, &err, errstr, errstr_size);
    if (!def) {
        return is_refusal(err) ? 1 : -1;
    }
    *resolved = drv_job_resolve(def, sj, &disp->limits, errstr, errstr_size);
    json_decref(def);
    if (!*resolved) {
        return 1;
    }
    int r = check_n_to_n(disp, sj, errstr, errstr_size);
    if (r == 0) {
        err = drv_catalog_check_policy(disp->pg, queue,
                                       json_object_get(*resolved, "container"),
                                       errstr, errstr_size);
        r = err == DRV_OK ? 0 : is_refusal(err) ? 1 : -1;
    }
    if (r != 0) {
        json_decref(*resolved);
        *resolved = NULL;
    }
    return r;
}

/* A SEQUENTIAL entry without a job id makes an array's children run one
 * after another. */
static bool is_sequential(json_t *sj)
{
    size_t i;
    json_t *d;
    json_array_foreach(json_object_get(sj, "dependsOn"), i, d)
    {
        const char *t = json_string_value(json_object_get(d, "type"));
        if (t && !strcmp(t, "SEQUENTIAL") && !json_object_get(d, "jobId")) {
            return true;
        }
    }
    return false;
}

/* Whether dependsOn names any job (explicit edges). */
static bool names_a_job(json_t *sj)
{
    size_t i;
    json_t *d;
    json_array_foreach(json_object_get(sj, "dependsOn"), i, d)
    {
        if (json_object_get(d, "jobId")) {
            return true;
        }
    }
    return false;
}

/* A submission's INSERT: with the jobs recorded before it that wait for
 * it to exist (column 19, a JSON array of ids, or NULL). No row when its
 * job id is taken. */
#define SUBMIT_SQL                                                             \
    "WITH ins AS (INSERT INTO jobs (job_id, job_name, queue, "                \
    "definition_name, definition_revision, status, status_reason, "           \
    "created_at, updated_at, stopped_at, request, resolved, vcpus, "          \
    "memory_mib, max_attempts, scheduling_priority, array_size, "             \
    "array_sequential) VALUES ($1, $2, $3, $4, $5::int, $6, $7, "             \
    "$8::bigint, $8::bigint, CASE WHEN $6 = 'FAILED' THEN $8::bigint "        \
    "END, $9::jsonb, $10::jsonb, $11::float8, $12::bigint, $13::int, "        \
    "$14::int, $15::int, $16::bool) ON CONFLICT (job_id) DO NOTHING "         \
    "RETURNING " EVENT_COLS ") "                                              \
    "SELECT ins.*, (SELECT json_agg(d.job_id ORDER BY j.seq) FROM "           \
    "job_dependencies d JOIN jobs j ON j.job_id = d.job_id WHERE "            \
    "d.depends_on = $1 AND j.status = 'SUBMITTED') FROM ins"

/* A submission as SUBMIT_SQL records it: what it was resolved to, and the
 * parameters (pointing into the buffers). */
typedef struct submit_row {
    char queue[256], def_name[256];
    int revision;
    json_t *resolved; /* owned; NULL when refused, */
    char reason[DRV_ERRSTR_SIZE]; /* and why, or a database error */
    char rev[16], now[24], vcpus[32], mem[24], att[16], prio[16], size[16];
    char *req, *res;
    const char *p[16];
} submit_row_t;

/* The INSERT recording prepared submission `sj` (submit_prepare) with
 * status `status` (FAILED: refused, sr->reason says why). */
static drv_pg_stmt_t submit_stmt(submit_row_t *sr, json_t *sj,
                                 const char *status)
{
    json_t *ap = json_object_get(json_object_get(sj, "arrayProperties"),
                                 "size");
    json_t *c = json_object_get(sr->resolved, "container");
    json_t *a = json_object_get(json_object_get(sr->resolved,
                                                "retryStrategy"),
                                "attempts");
    snprintf(sr->size, sizeof(sr->size), "%d", (int)json_integer_value(ap));
    snprintf(sr->rev, sizeof(sr->rev), "%d", sr->revision);
    snprintf(sr->now, sizeof(sr->now), "%" PRId64, drv_now_ms());
    snprintf(sr->vcpus, sizeof(sr->vcpus), "%g",
             json_number_value(json_object_get(c, "vcpus")));
    snprintf(sr->mem, sizeof(sr->mem), "%" JSON_INTEGER_FORMAT,
             json_integer_value(json_object_get(c, "memory")));
    snprintf(sr->att, sizeof(sr->att), "%d",
             json_is_integer(a) ? (int)json_integer_value(a) : 1);
    snprintf(sr->prio, sizeof(sr->prio), "%d",
             (int)json_integer_value(
                 json_object_get(sj, "schedulingPriorityOverride")));
    sr->req = json_dumps(sj, JSON_COMPACT);
    sr->res = sr->resolved ? json_dumps(sr->resolved, JSON_COMPACT) : NULL;
    const char *name = json_string_value(json_object_get(sj, "jobName"));
    const char *p[] = {json_string_value(json_object_get(sj, "jobId")),
                       name ? name : "",
                       sr->queue,
                       sr->revision ? sr->def_name : NULL,
                       sr->revision ? sr->rev : NULL,
                       status,
                       sr->resolved ? NULL : sr->reason,
                       sr->now,
                       sr->req,
                       sr->res,
                       sr->vcpus,
                       sr->mem,
                       sr->att,
                       sr->prio,
                       ap ? sr->size : NULL,
                       is_sequential(sj) ? "true" : "false"};
    memcpy(sr->p, p, sizeof(p));
    return (drv_pg_stmt_t){SUBMIT_SQL, 16, sr->p};
}

static void submit_row_clear(submit_row_t *sr)
{
    free(sr->req);
    free(sr->res);
    json_decref(sr->resolved);
    sr->req = sr->res = NULL;
    sr->resolved = NULL;
}

/*
 * What SUBMIT_SQL did (r): 1 when the job id was taken (the caller looks
 * at the earlier submission), else 0 with the jobs recorded before this
 * one that wait for it to exist in *waiting (a JSON array of ids, or
 * NULL). A job recorded past SUBMITTED (RUNNABLE, or FAILED when refused)
 * gets the event and count drv__set_status would have given it.
 */
static int submit_recorded(drv_disp_t *disp, const drv_pg_res_t *r,
                           json_t **waiting)
{
    *waiting = NULL;
    if (drv_pg_res_rows(r) == 0) {
        return 1;
    }
    const char *status = drv_pg_res_get(r, 0, 5);
    if (strcmp(status, "SUBMITTED") != 0) {
        char label[64];
        snprintf(label, sizeof(label), "status=\"%s\"", status);
        drv_metrics_add(disp->metrics, "drover_transitions_total", label, 1);
        drv__emit_event(disp, r, 0, "SUBMITTED");
    }
    *waiting = drv_pg_res_json(r, 0, 19);
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

/* A job id that is already recorded: a redelivery or a client's retry
 * (the same body) is ignored, a different submission goes to the DLQ. */
static int submitted_again(drv_disp_t *disp, json_t *sj, const char *source,
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
    if (drv_pg_res_rows(r) > 0) {
        json_t *old = drv_pg_res_json(r, 0, 0);
        json_t *again = json_copy(sj); /* a client's retry: same body, later */
        json_object_del(again, "submittedAt");
        json_object_del(old, "submittedAt");
        bool same = json_equal(old, again);
        json_decref(again);
        if (!same) {
            char why[300];
            snprintf(why, sizeof(why),
                     "job id %s was already used by a different submission",
                     job_id);
            drv__disp_dlq(disp, source, key, raw, raw_len, why);
        }
        json_decref(old);
    }
    drv_pg_res_free(r);
    return 0;
}

/* Validate and resolve a submission into sr (queue, definition,
 * resolved; sr->reason when refused). 0, or -1 on a database error
 * (sr->reason says which). */
static int submit_prepare(drv_disp_t *disp, json_t *sj, const char *source,
                          submit_row_t *sr)
{
    memset(sr, 0, sizeof(*sr));
    if (prepare(disp, sj, source, sr->queue, sizeof(sr->queue), sr->def_name,
                sizeof(sr->def_name), &sr->revision, &sr->resolved,
                sr->reason, sizeof(sr->reason)) < 0) {
        return -1;
    }
    if (!sr->queue[0]) {
        snprintf(sr->queue, sizeof(sr->queue), "%s",
                 source + strlen(DRV_TOPIC_SUBMIT_PREFIX));
    }
    return 0;
}

/* The status a prepared submission is recorded with: FAILED when it is
 * refused (reason says why), RUNNABLE when it waits for nothing (no array,
 * no job named in dependsOn), else SUBMITTED, for drv__evaluate and the
 * array's children to decide. */
static const char *submit_status(json_t *sj, const submit_row_t *sr)
{
    if (!sr->resolved) {
        return "FAILED";
    }
    return json_object_get(sj, "arrayProperties") || names_a_job(sj)
               ? "SUBMITTED"
               : "RUNNABLE";
}

/* Record a prepared submission and what follows from it. */
static int submit_apply(drv_disp_t *disp, json_t *sj, submit_row_t *sr,
                        const char *source, const char *key, const void *raw,
                        size_t raw_len, char *errstr, size_t errstr_size)
{
    const char *job_id = json_string_value(json_object_get(sj, "jobId"));
    const char *status = submit_status(sj, sr);
    drv_pg_stmt_t st = submit_stmt(sr, sj, status);
    drv_pg_res_t *r = drv_pg_query(disp->pg, st.sql, st.nparams, st.params,
                                   errstr, errstr_size);
    if (!r) {
        return -1;
    }
    json_t *waiting;
    int ret = submit_recorded(disp, r, &waiting);
    drv_pg_res_free(r);
    if (ret == 1) {
        return submitted_again(disp, sj, source, key, raw, raw_len, errstr,
                               errstr_size);
    }
    json_t *ap = json_object_get(json_object_get(sj, "arrayProperties"),
                                 "size");
    if (!strcmp(status, "SUBMITTED")) {
        ret = insert_dependencies(disp, job_id,
                                  json_object_get(sj, "dependsOn"), errstr,
                                  errstr_size);
        if (ret == 0 && ap) {
            ret = drv__array_spawn(disp, job_id, (int)json_integer_value(ap),
                                   errstr, errstr_size);
        }
        if (ret == 0) {
            ret = drv__evaluate(disp, job_id, errstr, errstr_size);
        }
    }
    if (ret == 0) {
        /* jobs that arrived first and wait for this one to exist */
        ret = drv__evaluate_all(disp, waiting, errstr, errstr_size);
    }
    json_decref(waiting);
    return ret;
}

static int apply_submit(drv_disp_t *disp, json_t *sj, const char *source,
                        const char *key, const void *raw, size_t raw_len,
                        char *errstr, size_t errstr_size)
{
    submit_row_t sr;
    int ret = submit_prepare(disp, sj, source, &sr);
    if (ret < 0) {
        drv_errstr_set(errstr, errstr_size, "%s", sr.reason);
    } else {
        ret = submit_apply(disp, sj, &sr, source, key, raw, raw_len, errstr,
                           errstr_size);
    }
    submit_row_clear(&sr);
    return ret;
}

/* ---- CancelJob / TerminateJob ---------------------------------------------- */

/* Ask the workers of the job's compute environment to stop an attempt;
 * with `worker`, only that worker acts on it. */
void drv__send_stop(drv_disp_t *disp, const char *job_id, int attempt,
                    const char *ce, const char *reason, const char *worker)
{
    char topic[300], e[DRV_ERRSTR_SIZE];
    void *buf;
    size_t len;
    json_t *m = json_pack("{s:s,s:i,s:s,s:I,s:s?}", "jobId", job_id,
                          "attempt", attempt, "reason", reason,
                          "requestedAt", (json_int_t)drv_now_ms(), "worker",
                          worker);
    snprintf(topic, sizeof(topic), DRV_TOPIC_CONTROL_PREFIX "%s", ce);
    if (drv_codec_encode(disp->codec, "StopAttempt", m, &buf, &len, e,
                         sizeof(e)) == 0) {
        drv__disp_emit(disp, topic, job_id, buf, len);
    }
    json_decref(m);
}

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
    if (drv_pg_res_rows(r) == 1) {
        const char *st = drv_pg_res_get(r, 0, 0);
        bool released = drv_pg_res_get(r, 0, 1)[0] == 't';
        bool waiting = !strcmp(st, "SUBMITTED") || !strcmp(st, "PENDING") ||
                       (!strcmp(st, "RUNNABLE") && !released);
        bool live = released || !strcmp(st, "STARTING") ||
                    !strcmp(st, "RUNNING");
        if (waiting) {
            ret = drv__set_status(disp, job_id, "FAILED", c, errstr,
                                  errstr_size) < 0
                      ? -1
                      : 0;
        } else if (c->terminated && live) {
            ret = drv_pg_exec(disp->pg,
                              "UPDATE jobs SET is_terminated = true, "
                              "status_reason = $2 WHERE job_id = $1",
                              2, p, errstr, errstr_size);
            if (ret == 0) {
                drv__send_stop(disp, job_id, (int)drv_pg_res_int(r, 0, 2, 0),
                               drv_pg_res_get(r, 0, 3), c->status_reason,
                               NULL);
            }
        } else if (live) {
            json_t *f = drv_log_job(job_id);
            drv_log(disp->log, DRV_LOG_INFO, "job.cancel_ignored", f,
                    "cancel of a %s job has no effect (AWS Batch: use "
                    "terminate)",
                    st);
            json_decref(f);
        }
    }
    drv_pg_res_free(r);
    return ret;
}

/* Cancel or terminate a job; on an array parent, every child. */
static int apply_cancel(drv_disp_t *disp, json_t *cj, bool terminate,
                        char *errstr, size_t errstr_size)
{
    const char *job_id = json_string_value(json_object_get(cj, "jobId"));
    drv__change_t c = {
        .status_reason = json_string_value(json_object_get(cj, "reason")),
        .exit_code = -1,
        .cancelled = !terminate,
        .terminated = terminate};
    const char *p[] = {job_id, c.status_reason, terminate ? "true" : "false"};
    /* an array parent records the request; its children carry it out */
    drv_pg_res_t *r = drv_pg_query(
        disp->pg,
        "UPDATE jobs SET status_reason = $2, is_cancelled = is_cancelled OR "
        "NOT $3::bool, is_terminated = is_terminated OR $3::bool WHERE "
        "job_id = $1 AND array_size IS NOT NULL AND array_parent IS NULL "
        "AND status NOT IN " TERMINAL " RETURNING job_id",
        3, p, errstr, errstr_size);
    if (!r) {
        return -1;
    }
    int ret = 0;
    if (drv_pg_res_rows(r) == 0) {
        ret = cancel_one(disp, job_id, &c, errstr, errstr_size);
    } else {
        drv_pg_res_t *kids = drv_pg_query(
            disp->pg,
            "SELECT job_id FROM jobs WHERE array_parent = $1 AND status NOT "
            "IN " TERMINAL " ORDER BY array_index",
            1, p, errstr, errstr_size);
        ret = kids ? 0 : -1;
        for (int i = 0; ret == 0 && i < drv_pg_res_rows(kids); i++) {
            ret = cancel_one(disp, drv_pg_res_get(kids, i, 0), &c, errstr,
                             errstr_size);
        }
        drv_pg_res_free(kids);
    }
    drv_pg_res_free(r);
    return ret;
}

/* ---- JobStatus --------------------------------------------------------- */

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
    drv__change_t c = {
        .status_reason = json_string_value(json_object_get(js, "statusReason")),
        .exit_code = ec ? (int)json_integer_value(ec) : -1,
        .reason = reason};
    if (!strcmp(status, "SUCCEEDED")) {
        return drv__set_status(disp, job_id, "SUCCEEDED", &c, errstr,
                               errstr_size) < 0
                   ? -1
                   : 0;
    }
    if (stopped_by_user) {
        c.status_reason = NULL; /* keep the terminate request's reason */
    }
    bool timed_out = c.status_reason &&
                     !strcmp(c.status_reason, DRV_REASON_TIMEOUT);
    if (!stopped_by_user && !timed_out &&
        drv_job_should_retry(retry, attempts, c.exit_code, c.reason,
                             c.status_reason)) {
        return drv__set_status(disp, job_id, "RUNNABLE", &c, errstr,
                               errstr_size) < 0
                   ? -1
                   : 0;
    }
    return drv__set_status(disp, job_id, "FAILED", &c, errstr, errstr_size) <
                   0
               ? -1
               : 0;
}

/* A report about attempt `js` from a worker process that does not own it
 * (the attempt is `owner`'s): logged, and a run it starts or runs is
 * stopped. */
static void refuse_duplicate(drv_disp_t *disp, json_t *js, const char *owner,
                             const char *ce)
{
    const char *job_id = json_string_value(json_object_get(js, "jobId"));
    const char *worker = json_string_value(json_object_get(js, "worker"));
    const char *st = json_string_value(json_object_get(js, "status"));
    int attempt = (int)json_integer_value(json_object_get(js, "attempt"));
    json_t *f = drv_log_job(job_id);
    json_object_set_new(f, "worker", json_string(worker));
    drv_log(disp->log, DRV_LOG_WARN, "job.duplicate_run", f,
            "attempt %d is %s's; the duplicate run on %s is stopped", attempt,
            owner, worker);
    json_decref(f);
    if (ce && (!strcmp(st, "STARTING") || !strcmp(st, "RUNNING"))) {
        drv__send_stop(disp, job_id, attempt, ce,
                       "Duplicate run of an attempt claimed by another "
                       "worker",
                       worker);
    }
}

/*
 * Who owns the attempt: the first worker process (worker id and its start
 * time) whose report arrived claims it. Returns 1 if `js` comes from the
 * owner (claiming it if nobody has), 0 if from anyone else (that worker is
 * told to stop its duplicate run), -1 on a database error.
 */
static int check_owner(drv_disp_t *disp, json_t *js, const char *ce,
                       char *errstr, size_t errstr_size)
{
    const char *job_id = json_string_value(json_object_get(js, "jobId"));
    const char *worker = json_string_value(json_object_get(js, "worker"));
    int attempt = (int)json_integer_value(json_object_get(js, "attempt"));
    char att[16], inc[24];
    snprintf(att, sizeof(att), "%d", attempt);
    snprintf(inc, sizeof(inc), "%" JSON_INTEGER_FORMAT,
             json_integer_value(json_object_get(js, "workerStartedAt")));
    const char *p[] = {job_id, att, worker, inc};
    drv_pg_res_t *r = drv_pg_query(
        disp->pg,
        "UPDATE attempts SET worker = COALESCE(worker, $3), "
        "worker_started_at = COALESCE(worker_started_at, $4::bigint) "
        "WHERE job_id = $1 AND attempt = $2::int RETURNING worker = $3 AND "
        "worker_started_at = $4::bigint, worker",
        4, p, errstr, errstr_size);
    if (!r) {
        return -1;
    }
    int owner = drv_pg_res_rows(r) == 1 && drv_pg_res_get(r, 0, 0)[0] == 't';
    if (!owner && drv_pg_res_rows(r) == 1) {
        refuse_duplicate(disp, js, drv_pg_res_get(r, 0, 1), ce);
    }
    drv_pg_res_free(r);
    return owner;
}

/* What routine statements share. Parameters: $1 job id, $2 attempt, $3
 * worker, $4 container id, $5 the report's timestamp, $6 log stream, $7
 * the worker process's start, $9 now. The job's row is locked if this is
 * its current released attempt (j); the report is recorded on the attempt
 * if its sender owns it, claiming it if nobody does (a, with `sets`); the
 * statement ends with u's row (if the job moved), the attempt's owner,
 * the job's compute environment and whether j and a found their rows.
 * "released IS NOT FALSE" (the column is NOT NULL) keeps the generic plan
 * on the primary key: with plain "released" it walked the jobs_in_flight
 * partial index, whose dead entries (every job that ever ran, until a
 * vacuum) made this 0.7 ms on 30,000 jobs. */
#define ROUTINE_LOCK                                                           \
    "WITH j AS (SELECT job_id, status FROM jobs WHERE job_id = $1 AND "       \
    "attempts = $2::int AND released IS NOT FALSE FOR UPDATE), "
#define ROUTINE_RECORD(sets)                                                   \
    "a AS (UPDATE attempts SET worker = COALESCE(worker, $3), "               \
    "worker_started_at = COALESCE(worker_started_at, $7::bigint), "           \
    "container_id = COALESCE($4, container_id), "                             \
    "log_stream = COALESCE($6, log_stream), " sets " FROM j WHERE "           \
    "attempts.job_id = j.job_id AND attempts.attempt = $2::int AND "          \
    "COALESCE(attempts.worker, $3) = $3 AND "                                 \
    "COALESCE(attempts.worker_started_at, $7::bigint) = $7::bigint "          \
    "RETURNING attempts.job_id), "
#define ROUTINE_RESULT                                                         \
    "SELECT u.*, (SELECT worker FROM attempts WHERE job_id = $1 AND "         \
    "attempt = $2::int), (SELECT compute_environment FROM jobs WHERE "        \
    "job_id = $1), (SELECT count(*) FROM j), (SELECT count(*) FROM a) "       \
    "FROM (SELECT 1) one LEFT JOIN u ON true"

/*
 * STARTING or RUNNING from the attempt's owner, the common case, in one
 * statement: lock the job if this is its current released attempt, record
 * the report on the attempt if the sender owns it (claiming it if nobody
 * does), move the job.
 */
#define PROGRESS_SQL                                                           \
    ROUTINE_LOCK ROUTINE_RECORD(                                              \
        "started_at = COALESCE($5::bigint, started_at)")                      \
    "u AS (UPDATE jobs SET status = $8, updated_at = $9::bigint, "            \
    "started_at = CASE WHEN $8 = 'RUNNING' THEN $9::bigint ELSE "             \
    "jobs.started_at END FROM a, j WHERE jobs.job_id = a.job_id AND "         \
    "jobs.status NOT IN " TERMINAL " AND jobs.status <> $8 RETURNING "        \
    EVENT_COLS ", j.status AS prev_status) " ROUTINE_RESULT

/*
 * SUCCEEDED from the attempt's owner, in one statement: as PROGRESS_SQL,
 * recording the outcome on the attempt ($8 exit code, $10 reason, $11
 * status reason) and finishing the job ($12: the reason, bounded),
 * returning what drv__set_status returns (the event, capacity to give
 * back, what drv__drain needs). A FAILED report goes the general way: the
 * retry strategy decides what it means.
 */
#define SUCCEEDED_SQL                                                          \
    ROUTINE_LOCK ROUTINE_RECORD(                                              \
        "stopped_at = COALESCE($5::bigint, stopped_at), "                     \
        "exit_code = COALESCE($8::int, exit_code), "                          \
        "reason = COALESCE($10, reason), "                                    \
        "status_reason = COALESCE($11, status_reason)")                       \
    "u AS (UPDATE jobs SET status = 'SUCCEEDED', status_reason = "            \
    "COALESCE($11, jobs.status_reason), updated_at = $9::bigint, "            \
    "stopped_at = $9::bigint, released = false, "                             \
    "exit_code = COALESCE($8::int, jobs.exit_code), "                         \
    "reason = COALESCE($12, jobs.reason) FROM a, j WHERE "                    \
    "jobs.job_id = a.job_id AND jobs.status NOT IN " TERMINAL " RETURNING "   \
    EVENT_COLS ", j.status AS prev_status, true AS freed, "                   \
    "jobs.compute_environment, jobs.vcpus, jobs.memory_mib, "                 \
    "jobs.array_parent, " DRV__WAITING_DEPENDENTS(                            \
        "$1") " AS deps) " ROUTINE_RESULT

/* A routine report's statement and parameters (pointing into `js` and
 * into the buffers). */
typedef struct routine_params {
    char att[16], ts[24], inc[24], now[24], code[16];
    char reason[DRV_CONTAINER_REASON_MAX + 1];
    const char *p[12];
} routine_params_t;

static drv_pg_stmt_t routine_stmt(routine_params_t *rp, json_t *js)
{
    const char *status = json_string_value(json_object_get(js, "status"));
    json_t *ec = json_object_get(js, "exitCode");
    snprintf(rp->att, sizeof(rp->att), "%d",
             (int)json_integer_value(json_object_get(js, "attempt")));
    snprintf(rp->ts, sizeof(rp->ts), "%" JSON_INTEGER_FORMAT,
             json_integer_value(json_object_get(js, "timestamp")));
    snprintf(rp->inc, sizeof(rp->inc), "%" JSON_INTEGER_FORMAT,
             json_integer_value(json_object_get(js, "workerStartedAt")));
    snprintf(rp->now, sizeof(rp->now), "%" PRId64, drv_now_ms());
    snprintf(rp->code, sizeof(rp->code), "%d", (int)json_integer_value(ec));
    const char *job_id = json_string_value(json_object_get(js, "jobId"));
    const char *worker = json_string_value(json_object_get(js, "worker"));
    const char *cid = json_string_value(json_object_get(js, "containerId"));
    const char *log = json_string_value(json_object_get(js, "logStreamName"));
    if (strcmp(status, "SUCCEEDED") != 0) {
        const char *p[] = {job_id, rp->att, worker, cid,
                           !strcmp(status, "RUNNING") ? rp->ts : NULL,
                           log, rp->inc, status, rp->now};
        memcpy(rp->p, p, sizeof(p));
        return (drv_pg_stmt_t){PROGRESS_SQL, 9, rp->p};
    }
    const char *reason = json_string_value(json_object_get(js, "reason"));
    if (reason) { /* the job keeps a bounded copy, the attempt all of it */
        snprintf(rp->reason, sizeof(rp->reason), "%s", reason);
    }
    const char *p[] = {job_id, rp->att, worker, cid, rp->ts, log, rp->inc,
                       ec ? rp->code : NULL, rp->now, reason,
                       json_string_value(json_object_get(js, "statusReason")),
                       reason ? rp->reason : NULL};
    memcpy(rp->p, p, sizeof(p));
    return (drv_pg_stmt_t){SUCCEEDED_SQL, 12, rp->p};
}

/* Act on what a routine statement did for report `js`, as its turn came:
 * a report for an attempt that is not current is ignored, one from a
 * worker process that does not own the attempt is refused (either worker
 * is told to stop a run it starts), the owner's moved the job. */
static void routine_done(drv_disp_t *disp, json_t *js, drv_pg_res_t *r)
{
    const char *job_id = json_string_value(json_object_get(js, "jobId"));
    const char *status = json_string_value(json_object_get(js, "status"));
    int ncols = drv_pg_res_cols(r);
    const char *owner = drv_pg_res_get(r, 0, ncols - 4);
    const char *ce = drv_pg_res_get(r, 0, ncols - 3);
    int locked = (int)drv_pg_res_int(r, 0, ncols - 2, 0);
    int owned = (int)drv_pg_res_int(r, 0, ncols - 1, 0);
    if (!locked) {
        int attempt = (int)json_integer_value(json_object_get(js, "attempt"));
        json_t *f = drv_log_job(job_id);
        drv_log(disp->log, DRV_LOG_DEBUG, "job.status_fenced", f,
                "ignored %s for attempt %d: not the current attempt", status,
                attempt);
        json_decref(f);
        /* a run that starts after its attempt ended (a RunJob delivered
         * twice, claimed after the job finished) must not go on */
        if (ce && strcmp(status, "SUCCEEDED") != 0) {
            drv__send_stop(disp, job_id, attempt, ce,
                           "Run of an attempt that is no longer current",
                           json_string_value(json_object_get(js, "worker")));
        }
        return;
    }
    if (!owned) {
        refuse_duplicate(disp, js, owner ? owner : "nobody", ce);
        return;
    }
    if (!drv_pg_res_get(r, 0, 0)) { /* the job was there already */
        return;
    }
    char label[64];
    snprintf(label, sizeof(label), "status=\"%s\"", status);
    drv_metrics_add(disp->metrics, "drover_transitions_total", label, 1);
    drv__emit_event(disp, r, 0, drv_pg_res_get(r, 0, 19));
    if (!strcmp(status, "SUCCEEDED")) { /* as drv__set_status */
        if (drv_pg_res_get(r, 0, 21)) {
            drv__usage_add(disp, drv_pg_res_get(r, 0, 21),
                           strtod(drv_pg_res_get(r, 0, 22), NULL),
                           strtod(drv_pg_res_get(r, 0, 23), NULL), -1);
        }
        json_t *deps = drv_pg_res_json(r, 0, 25);
        json_array_append_new(
            disp->done,
            json_pack("{s:s,s:b,s:s?,s:I,s:b,s:o}", "id", job_id, "ok", 1,
                      "parent", drv_pg_res_get(r, 0, 24), "index",
                      (json_int_t)drv_pg_res_int(r, 0, 15, 0), "array",
                      drv_pg_res_get(r, 0, 16) != NULL, "deps",
                      deps ? deps : json_array()));
    }
}

bool drv__pipelined(const char *type, json_t *msg)
{
    if (!strcmp(type, "JobRequest")) {
        return json_object_get(json_object_get(msg, "request"),
                               "SubmitJob") != NULL;
    }
    const char *st = json_string_value(json_object_get(msg, "status"));
    return !strcmp(type, "JobStatus") && st &&
           (!strcmp(st, "STARTING") || !strcmp(st, "RUNNING") ||
            !strcmp(st, "SUCCEEDED"));
}

/* One message of a run and its statement. */
typedef struct run_item {
    const drv__msg_t *msg;
    bool submit;
    drv_pg_stmt_t st;
    routine_params_t rp;
    submit_row_t sr;
} run_item_t;

static json_t *submit_body(const drv__msg_t *m)
{
    return json_object_get(json_object_get(m->obj, "request"), "SubmitJob");
}

/*
 * Send the run's statements in one round trip, then act on their results
 * in order; each result says what its statement found when its turn came.
 * What needs more statements follows the run, in order: a job id submitted
 * again, jobs that waited for a submitted one to exist, and what finished
 * jobs set off (dependents, array parents: none of the run's reports
 * concern a job that was waiting, and array parents count their
 * children).
 */
static int run_flush(drv_disp_t *disp, run_item_t *it, size_t n,
                     char *errstr, size_t errstr_size)
{
    drv_pg_stmt_t st[DRV_PG_PIPELINE_MAX];
    drv_pg_res_t *res[DRV_PG_PIPELINE_MAX];
    bool more[DRV_PG_PIPELINE_MAX];
    json_t *waiting[DRV_PG_PIPELINE_MAX];
    int ret = 0;
    for (size_t i = 0; i < n; i++) {
        st[i] = it[i].st;
        waiting[i] = NULL;
    }
    if (n > 0 &&
        drv_pg_pipeline(disp->pg, (int)n, st, res, errstr, errstr_size) !=
            0) {
        ret = -1;
        n = 0;
    }
    for (size_t i = 0; i < n; i++) {
        more[i] = it[i].submit &&
                  submit_recorded(disp, res[i], &waiting[i]) == 1;
        if (!it[i].submit) {
            routine_done(disp, it[i].msg->obj, res[i]);
        }
        drv_pg_res_free(res[i]);
    }
    for (size_t i = 0; i < n && ret == 0; i++) {
        const drv__msg_t *m = it[i].msg;
        if (more[i]) {
            ret = submitted_again(disp, submit_body(m), m->source, m->key,
                                  m->raw, m->raw_len, errstr, errstr_size);
        } else if (waiting[i]) {
            ret = drv__evaluate_all(disp, waiting[i], errstr, errstr_size);
        }
    }
    for (size_t i = 0; i < n; i++) {
        json_decref(waiting[i]);
    }
    if (ret == 0) {
        ret = drv__drain(disp, errstr, errstr_size);
    }
    return ret;
}

static void run_clear(run_item_t *it, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (it[i].submit) {
            submit_row_clear(&it[i].sr);
        }
    }
}

int drv__apply_run(drv_disp_t *disp, const drv__msg_t *msgs, size_t n,
                   char *errstr, size_t errstr_size)
{
    run_item_t *it = drv_calloc(DRV_PG_PIPELINE_MAX, sizeof(*it));
    size_t k = 0;
    int ret = 0;
    for (size_t i = 0; i < n && ret == 0; i++) {
        const drv__msg_t *m = &msgs[i];
        run_item_t *item = &it[k];
        item->msg = m;
        item->submit = strcmp(m->type, "JobStatus") != 0;
        if (!item->submit) {
            item->st = routine_stmt(&item->rp, m->obj);
            k++;
        } else {
            json_t *sj = submit_body(m);
            submit_row_t *sr = &item->sr;
            if (submit_prepare(disp, sj, m->source, sr) < 0) {
                drv_errstr_set(errstr, errstr_size, "%s", sr->reason);
                submit_row_clear(sr);
                ret = -1;
            } else if (strcmp(submit_status(sj, sr), "SUBMITTED") != 0) {
                /* its INSERT is all it takes (RUNNABLE, or refused) */
                item->st = submit_stmt(sr, sj, submit_status(sj, sr));
                k++; /* the run owns sr now */
            } else { /* an array, or waits for jobs: on its own */
                ret = run_flush(disp, it, k, errstr, errstr_size);
                run_clear(it, k); /* item is it[k]: not cleared */
                k = 0;
                if (ret == 0) {
                    ret = submit_apply(disp, sj, sr, m->source, m->key,
                                       m->raw, m->raw_len, errstr,
                                       errstr_size);
                }
                if (ret == 0) {
                    ret = drv__drain(disp, errstr, errstr_size);
                }
                submit_row_clear(sr);
            }
        }
        if (ret == 0 && k == DRV_PG_PIPELINE_MAX) {
            ret = run_flush(disp, it, k, errstr, errstr_size);
            run_clear(it, k);
            k = 0;
        }
    }
    if (ret == 0 && k > 0) {
        ret = run_flush(disp, it, k, errstr, errstr_size);
    }
    run_clear(it, k);
    free(it);
    return ret;
}

/* Any report from any sender, a statement or two at a time: what
 * drv__apply_run does not take (FAILED, whose meaning the retry strategy
 * decides), and what a caller of drv__state_apply hands over. */
static int apply_status(drv_disp_t *disp, json_t *js, char *errstr,
                        size_t errstr_size)
{
    const char *job_id = json_string_value(json_object_get(js, "jobId"));
    const char *status = json_string_value(json_object_get(js, "status"));
    int attempt = (int)json_integer_value(json_object_get(js, "attempt"));
    /* lock the job and, if this is its current released attempt and the
     * sender owns it (or nobody does yet), record the report on it: one
     * statement, fenced by the locked row */
    char att[16], ts[24], code[16], inc[24];
    json_t *ec = json_object_get(js, "exitCode");
    snprintf(inc, sizeof(inc), "%" JSON_INTEGER_FORMAT,
             json_integer_value(json_object_get(js, "workerStartedAt")));
    snprintf(att, sizeof(att), "%d", attempt);
    snprintf(ts, sizeof(ts), "%" JSON_INTEGER_FORMAT,
             json_integer_value(json_object_get(js, "timestamp")));
    snprintf(code, sizeof(code), "%d", (int)json_integer_value(ec));
    bool running = !strcmp(status, "RUNNING");
    bool done = !strcmp(status, "SUCCEEDED") || !strcmp(status, "FAILED");
    const char *p[] = {
        job_id,
        att,
        json_string_value(json_object_get(js, "worker")),
        json_string_value(json_object_get(js, "containerId")),
        running ? ts : NULL,
        done ? ts : NULL,
        ec ? code : NULL,
        json_string_value(json_object_get(js, "reason")),
        json_string_value(json_object_get(js, "statusReason")),
        json_string_value(json_object_get(js, "logStreamName")),
        inc};
    drv_pg_res_t *r = drv_pg_query(
        disp->pg,
        "WITH j AS (SELECT j.job_id, j.status, j.attempts, j.released, "
        "COALESCE(j.resolved, p.resolved)->'retryStrategy' AS retry, "
        "j.is_cancelled OR j.is_terminated AS stopped, "
        "j.compute_environment FROM jobs j LEFT JOIN jobs p ON p.job_id = "
        "j.array_parent WHERE j.job_id = $1 FOR UPDATE OF j), "
        "a AS (UPDATE attempts SET worker = COALESCE(worker, $3), "
        "worker_started_at = COALESCE(worker_started_at, $11::bigint), "
        "container_id = COALESCE($4, container_id), "
        "started_at = COALESCE($5::bigint, started_at), "
        "stopped_at = COALESCE($6::bigint, stopped_at), "
        "exit_code = COALESCE($7::int, exit_code), "
        "reason = COALESCE($8, reason), "
        "status_reason = COALESCE($9, status_reason), "
        "log_stream = COALESCE($10, log_stream) FROM j "
        "WHERE attempts.job_id = j.job_id AND attempts.attempt = $2::int "
        "AND j.attempts = $2::int AND j.released AND "
        "COALESCE(attempts.worker, $3) = $3 AND "
        "COALESCE(attempts.worker_started_at, $11::bigint) = $11::bigint "
        "RETURNING attempts.job_id) "
        "SELECT j.status, j.attempts, j.released, j.retry, j.stopped, "
        "j.compute_environment, (SELECT count(*) FROM a) FROM j",
        11, p, errstr, errstr_size);
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
    /* the owner's report is recorded; anyone else's is refused
     * (check_owner says whose it is and stops the duplicate) */
    int owner = drv_pg_res_int(r, 0, 6, 0) == 1;
    if (owner == 0) {
        owner = check_owner(disp, js, drv_pg_res_get(r, 0, 5), errstr,
                            errstr_size);
    }
    if (owner <= 0) {
        ret = owner;
        goto out;
    }
    if (!strcmp(status, "STARTING") || !strcmp(status, "RUNNING")) {
        drv__change_t c = {.exit_code = -1};
        ret = drv__set_status(disp, job_id, status, &c, errstr, errstr_size) <
                      0
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

/*
 * Fail the live attempts a worker held (all of them, or those claimed by
 * its processes started before `before`): the host is lost, the retry
 * strategy decides. The worker is also told to stop them, in case it is
 * alive but was cut off.
 */
static int lose_attempts(drv_disp_t *disp, const char *worker,
                         const char *before, char *errstr, size_t errstr_size)
{
    const char *p[] = {worker, before};
    drv_pg_res_t *r = drv_pg_query(
        disp->pg,
        "SELECT a.job_id, a.attempt, a.worker_started_at, "
        "j.compute_environment FROM attempts a JOIN jobs j ON j.job_id = "
        "a.job_id AND j.attempts = a.attempt AND j.released WHERE a.worker = "
        "$1 AND a.stopped_at IS NULL AND ($2::bigint IS NULL OR "
        "COALESCE(a.worker_started_at, 0) < $2::bigint) AND j.status NOT IN "
        DRV__TERMINAL,
        2, p, errstr, errstr_size);
    if (!r) {
        return -1;
    }
    int ret = 0;
    char reason[400];
    snprintf(reason, sizeof(reason), DRV_REASON_HOST_LOST_FMT, worker);
    for (int i = 0; ret == 0 && i < drv_pg_res_rows(r); i++) {
        const char *job_id = drv_pg_res_get(r, i, 0);
        int attempt = (int)drv_pg_res_int(r, i, 1, 0);
        json_t *f = drv_log_job(job_id);
        json_object_set_new(f, "worker", json_string(worker));
        drv_log(disp->log, DRV_LOG_WARN, "job.host_lost", f,
                "attempt %d lost with its worker", attempt);
        json_decref(f);
        json_t *js = json_pack("{s:s,s:i,s:s,s:s,s:s,s:I,s:I}", "jobId",
                               job_id, "attempt", attempt, "status", "FAILED",
                               "worker", worker, "statusReason", reason,
                               "timestamp", (json_int_t)drv_now_ms(),
                               "workerStartedAt",
                               (json_int_t)drv_pg_res_int(r, i, 2, 0));
        ret = apply_status(disp, js, errstr, errstr_size);
        json_decref(js);
        drv__send_stop(disp, job_id, attempt, drv_pg_res_get(r, i, 3), reason,
                       worker);
    }
    drv_pg_res_free(r);
    return ret;
}

int drv__lose_silent_workers(drv_disp_t *disp, char *errstr,
                             size_t errstr_size)
{
    int64_t lease = drv_conf_get_int(disp->conf, "dispatcher.worker.lease.ms");
    int64_t now = drv_now_ms();
    if (now - disp->active_since < lease) {
        return 0; /* heartbeats sent while no dispatcher was active are not
                     applied yet: give every worker one lease first */
    }
    /* silent for a lease as of the last time this dispatcher had read
     * everything: one that lags behind its input (a burst) sees heartbeats
     * late and must not take that for silence */
    int64_t seen_up_to = disp->caught_up_at < now ? disp->caught_up_at : now;
    char cut[24];
    snprintf(cut, sizeof(cut), "%" PRId64, seen_up_to - lease);
    const char *p[] = {cut};
    drv_pg_res_t *r = drv_pg_query(
        disp->pg,
        "UPDATE workers SET lost = true WHERE NOT lost AND seen_at < "
        "$1::bigint RETURNING worker_id",
        1, p, errstr, errstr_size);
    if (!r) {
        return -1;
    }
    int ret = 0;
    for (int i = 0; ret == 0 && i < drv_pg_res_rows(r); i++) {
        json_t *f = json_pack("{s:s}", "worker", drv_pg_res_get(r, i, 0));
        drv_log(disp->log, DRV_LOG_WARN, "worker.lost", f,
                "no heartbeat for %" PRId64 " ms: its attempts are lost",
                lease);
        json_decref(f);
        ret = lose_attempts(disp, drv_pg_res_get(r, i, 0), NULL, errstr,
                            errstr_size);
    }
    drv_pg_res_free(r);
    return ret;
}

static int apply_heartbeat(drv_disp_t *disp, json_t *hb, char *errstr,
                           size_t errstr_size)
{
    char vt[32], vf[32], mt[24], mf[24], st[24], ts[24], seen[24];
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
    snprintf(seen, sizeof(seen), "%" PRId64, drv_now_ms());
    const char *worker = json_string_value(json_object_get(hb, "worker"));
    const char *p[] = {worker,
                       json_string_value(json_object_get(hb,
                                                         "computeEnvironment")),
                       vt, vf, mt, mf, st, ts,
                       json_is_true(json_object_get(hb, "draining")) ? "true"
                                                                     : "false",
                       seen};
    /* a heartbeat older than the last one applied changes nothing */
    drv_pg_res_t *r = drv_pg_query(
        disp->pg,
        "INSERT INTO workers (worker_id, compute_environment, vcpus_total, "
        "vcpus_free, memory_total_mib, memory_free_mib, started_at, "
        "last_heartbeat, draining, seen_at) VALUES ($1, $2, $3::float8, "
        "$4::float8, $5::bigint, $6::bigint, $7::bigint, $8::bigint, "
        "$9::bool, $10::bigint) "
        "ON CONFLICT (worker_id) DO UPDATE SET compute_environment = $2, "
        "vcpus_total = $3::float8, vcpus_free = $4::float8, "
        "memory_total_mib = $5::bigint, memory_free_mib = $6::bigint, "
        "started_at = $7::bigint, draining = $9::bool, "
        "last_heartbeat = $8::bigint, seen_at = $10::bigint, lost = false "
        "WHERE workers.last_heartbeat <= $8::bigint RETURNING "
        "(SELECT started_at FROM workers w WHERE w.worker_id = $1)",
        10, p, errstr, errstr_size);
    if (!r) {
        return -1;
    }
    /* the worker came back as a new process: what the old one held is
     * gone (it removed the old containers when it started) */
    bool restarted = drv_pg_res_rows(r) == 1 &&
                     drv_pg_res_get(r, 0, 0) && /* NULL: a new worker */
                     drv_pg_res_int(r, 0, 0, 0) <
                         json_integer_value(json_object_get(hb, "startedAt"));
    drv_pg_res_free(r);
    return restarted ? lose_attempts(disp, worker, st, errstr, errstr_size)
                     : 0;
}

static int apply_one(drv_disp_t *disp, const char *type, json_t *msg,
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


int drv__state_apply(drv_disp_t *disp, const char *type, json_t *msg,
                     const char *source, const char *key, const void *raw,
                     size_t raw_len, char *errstr, size_t errstr_size)
{
    if (apply_one(disp, type, msg, source, key, raw, raw_len, errstr,
                  errstr_size) != 0) {
        json_array_clear(disp->done);
        return -1;
    }
    return drv__drain(disp, errstr, errstr_size);
}
