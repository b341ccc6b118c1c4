/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The client's job operations. SubmitJob, CancelJob and TerminateJob are
 * validated against PostgreSQL with the dispatcher's own validation code,
 * then produced to the queue's submit topic; the dispatcher decides. Reads
 * (DescribeJobs, ListJobs) come from PostgreSQL.
 */
#include <inttypes.h>
#include <string.h>
#include <unistd.h>

#include "client_int.h"
#include "drover/submission.h"
#include "drover/limits.h"
#include "drover/util.h"

#define SUBMIT_MAX_BYTES DRV_SUBMIT_MAX

static int ensure_kafka(drv_client_t *client, drv_err_t *err, char *errstr,
                        size_t errstr_size)
{
    if (!client->codec &&
        !(client->codec = drv_codec_from_conf(client->conf, errstr,
                                              errstr_size))) {
        *err = DRV_ERR_FATAL;
        return -1;
    }
    if (!client->kprod && !(client->kprod = drv_kprod_new(
                                client->conf, client->log, 0, errstr,
                                errstr_size))) {
        *err = DRV_ERR_FATAL;
        return -1;
    }
    return 0;
}

/* Encode a JobRequest around `body` and queue it; wait for Kafka's
 * acknowledgement when `wait` (else drv_kprod_flush does, later). */
static int produce_request(drv_client_t *client, const char *queue,
                           const char *kind, json_t *body, bool wait,
                           drv_err_t *err, char *errstr, size_t errstr_size)
{
    char topic[300];
    void *buf = NULL;
    size_t len;
    if (ensure_kafka(client, err, errstr, errstr_size) != 0) {
        return -1;
    }
    json_t *msg = json_pack("{s:{s:O}}", "request", kind, body);
    int r = drv_codec_encode(client->codec, "JobRequest", msg, &buf, &len,
                             errstr, errstr_size);
    json_decref(msg);
    if (r != 0) {
        *err = DRV_ERR_INVALID;
        return -1;
    }
    snprintf(topic, sizeof(topic), DRV_TOPIC_SUBMIT_PREFIX "%s", queue);
    /* keyed by the job (an array child by its parent): a job's requests
     * share a partition, so a cancel is never read before its submission */
    char key[DRV_JOB_ID_MAX + 16];
    snprintf(key, sizeof(key), "%s",
             json_string_value(json_object_get(body, "jobId")));
    key[strcspn(key, ":")] = '\0';
    r = drv_kprod_send(client->kprod, topic, -1, key, buf, len, NULL, 0,
                       errstr, errstr_size);
    free(buf);
    if (r == 0 && wait) {
        r = drv_kprod_flush(client->kprod, 30000, errstr, errstr_size);
    }
    if (r != 0) {
        *err = DRV_ERR_TRANSIENT;
    }
    return r;
}

/*
 * Find a job: recorded by the dispatcher, or submitted and not recorded
 * yet (its receipt: migrations/008_receipts.sql). Returns the row (queue,
 * array_size; an array child's size is its parent's, so it is no N_TO_N
 * dependency), NULL with *err = DRV_ERR_NOTFOUND when neither has it, or
 * NULL on a database error. Never waits: a job a client submitted is
 * there the moment its SubmitJob returned.
 */
static drv_pg_res_t *find_submitted(drv_pg_t *pg, const char *job_id,
                                    drv_err_t *err, char *errstr,
                                    size_t errstr_size)
{
    const char *p[] = {job_id};
    /* an array child of a parent not recorded yet: its parent's receipt
     * says it will be */
    drv_pg_res_t *r = drv_pg_query(
        pg,
        "SELECT queue, CASE WHEN array_parent IS NULL THEN array_size END "
        "FROM jobs WHERE job_id = $1 UNION ALL SELECT queue, array_size FROM "
        "job_receipts WHERE job_id = $1 UNION ALL SELECT queue, NULL FROM "
        "job_receipts WHERE strpos($1, ':') > 0 AND job_id = split_part($1, "
        "':', 1) AND split_part($1, ':', 2) ~ '^[0-9]{1,5}$' AND "
        "split_part($1, ':', 2)::int < array_size LIMIT 1",
        1, p, errstr, errstr_size);
    if (!r) {
        *err = drv_pg_last_err(pg);
        return NULL;
    }
    if (drv_pg_res_rows(r) == 0) {
        drv_pg_res_free(r);
        *err = DRV_ERR_NOTFOUND;
        drv_errstr_set(errstr, errstr_size, "Job %s not found", job_id);
        return NULL;
    }
    return r;
}

/* Where the submission check finds a dependency: among the jobs earlier
 * in this batch (`seen`: job id -> array size or -1), else submitted
 * before (find_submitted). */
typedef struct finder {
    drv_pg_t *pg;
    json_t *seen; /* nullable */
} finder_t;

static drv_err_t find_job(void *opaque, const char *job_id,
                          int64_t *array_size, char *errstr,
                          size_t errstr_size)
{
    finder_t *f = opaque;
    json_t *earlier = f->seen ? json_object_get(f->seen, job_id) : NULL;
    if (earlier) {
        *array_size = json_integer_value(earlier);
        return DRV_OK;
    }
    drv_err_t err;
    drv_pg_res_t *r = find_submitted(f->pg, job_id, &err, errstr,
                                     errstr_size);
    if (!r) {
        return err;
    }
    *array_size = drv_pg_res_int(r, 0, 1, -1);
    drv_pg_res_free(r);
    return DRV_OK;
}

/*
 * Jobs named by name (AWS: "Jobs can reference other jobs by name or by
 * ID"): the newest job of that name, among the jobs recorded and those
 * submitted and not yet recorded (receipts), in `queue`, or in any queue
 * when it is NULL, where matches in several queues are refused as
 * ambiguous. `out` gets the id. DRV_OK, DRV_ERR_NOTFOUND or another error,
 * errstr saying which.
 */
static drv_err_t find_by_name(drv_pg_t *pg, const char *queue,
                              const char *name, char *out, size_t out_size,
                              char *errstr, size_t errstr_size)
{
    const char *p[] = {queue, name};
    /* the newest of each table, by the (job_name, seq) indexes */
    drv_pg_res_t *r = drv_pg_query(
        pg,
        "SELECT job_id, queue FROM ((SELECT job_id, queue, seq FROM jobs "
        "WHERE job_name = $2 AND ($1::text IS NULL OR queue = $1) AND "
        "array_parent IS NULL ORDER BY seq DESC LIMIT 1) UNION ALL (SELECT "
        "job_id, queue, seq FROM job_receipts WHERE job_name = $2 AND "
        "($1::text IS NULL OR queue = $1) ORDER BY seq DESC LIMIT 1)) x "
        "ORDER BY seq DESC LIMIT 1",
        2, p, errstr, errstr_size);
    if (!r) {
        return drv_pg_last_err(pg);
    }
    drv_err_t err = DRV_OK;
    if (drv_pg_res_rows(r) == 0) {
        err = DRV_ERR_NOTFOUND;
        drv_errstr_set(errstr, errstr_size, "Job %s not found%s%s", name,
                       queue ? " in job queue " : "", queue ? queue : "");
    } else {
        snprintf(out, out_size, "%s", drv_pg_res_get(r, 0, 0));
    }
    if (err == DRV_OK && !queue) { /* the name in another queue too? */
        const char *q[] = {name, drv_pg_res_get(r, 0, 1)};
        drv_pg_res_t *other = drv_pg_query(
            pg,
            "(SELECT 1 FROM jobs WHERE job_name = $1 AND queue <> $2 AND "
            "array_parent IS NULL LIMIT 1) UNION ALL (SELECT 1 FROM "
            "job_receipts WHERE job_name = $1 AND queue <> $2 LIMIT 1)",
            2, q, errstr, errstr_size);
        if (!other) {
            err = drv_pg_last_err(pg);
        } else if (drv_pg_res_rows(other) > 0) {
            err = DRV_ERR_INVALID;
            drv_errstr_set(errstr, errstr_size,
                           "job name %s is used in more than one job queue: "
                           "give the job's id",
                           name);
        }
        drv_pg_res_free(other);
    }
    drv_pg_res_free(r);
    return err;
}

/*
 * Each dependsOn entry names its job by id: an entry with Drover's
 * jobName, or with a jobId that is no job's id but a job's name in the
 * submission's queue, is rewritten to the id of the newest job of that
 * name (this batch's own first, `names`: name -> id). So DescribeJobs
 * shows the id, and the dispatcher only ever sees ids.
 */
static drv_err_t resolve_dependencies(drv_pg_t *pg, json_t *sj,
                                      finder_t *f, json_t *names,
                                      char *errstr, size_t errstr_size)
{
    char queue[256], id[DRV_JOB_ID_MAX + 16];
    const char *qref = json_string_value(json_object_get(sj, "jobQueue"));
    json_t *deps = json_object_get(sj, "dependsOn");
    if (!qref || !json_is_array(deps) ||
        json_array_size(deps) > DRV_MAX_DEPENDS_ON) {
        return DRV_OK; /* the submission check refuses it, with why */
    }
    drv_arn_name(qref, queue, sizeof(queue));
    size_t i;
    json_t *d;
    json_array_foreach(deps, i, d)
    {
        json_t *jn = json_object_get(d, "jobName");
        if (jn && !json_is_string(jn)) { /* Drover's member: not in the model */
            drv_errstr_set(errstr, errstr_size,
                           "dependsOn[%zu].jobName must be a string", i);
            return DRV_ERR_INVALID;
        }
        const char *by_id = json_string_value(json_object_get(d, "jobId"));
        const char *by_name = json_string_value(jn);
        if (by_id && by_name) {
            drv_errstr_set(errstr, errstr_size,
                           "dependsOn[%zu]: give jobId or jobName, not both",
                           i);
            return DRV_ERR_INVALID;
        }
        if (!by_name && by_id) {
            int64_t size;
            char why[DRV_ERRSTR_SIZE];
            drv_err_t err = find_job(f, by_id, &size, why, sizeof(why));
            if (err != DRV_ERR_NOTFOUND) {
                if (err != DRV_OK) {
                    drv_errstr_set(errstr, errstr_size, "%s", why);
                }
                continue; /* an id (or a database error) */
            }
            by_name = by_id;
        }
        if (!by_name) {
            continue; /* SEQUENTIAL without a job */
        }
        json_t *earlier = names ? json_object_get(names, by_name) : NULL;
        if (earlier) {
            snprintf(id, sizeof(id), "%s", json_string_value(earlier));
        } else {
            drv_err_t err = find_by_name(pg, queue, by_name, id, sizeof(id),
                                         errstr, errstr_size);
            if (err == DRV_ERR_NOTFOUND) {
                drv_errstr_set(errstr, errstr_size,
                               "dependency job %s does not exist (no job has "
                               "that id, nor that name in job queue %s)",
                               by_name, queue);
            }
            if (err != DRV_OK) {
                return err;
            }
        }
        json_object_del(d, "jobName");
        json_object_set_new(d, "jobId", json_string(id));
    }
    return DRV_OK;
}

/*
 * Complete and check one SubmitJob request (drover/submission.h: the
 * dispatcher's check): a copy with jobId and submittedAt set, its queue's
 * name in `queue`, its receipt (job_receipts' columns) appended to
 * `receipts`. `cache` and `seen` (nullable) hold what this batch found
 * already: queues and definitions, and the jobs submitted earlier in it
 * (job id -> array size or -1), which dependencies may name.
 */
static json_t *check_submit(drv_client_t *client, drv_pg_t *pg, json_t *req,
                            drv_submission_cache_t *cache, json_t *seen,
                            json_t *seen_names, json_t *receipts, char *queue,
                            size_t queue_size, drv_err_t *err, char *errstr,
                            size_t errstr_size)
{
    char job_id[37];
    json_t *sj = json_deep_copy(req);
    if (!json_object_get(sj, "jobId")) {
        if (drv_uuid4(job_id) != 0) {
            *err = DRV_ERR_FATAL;
            drv_errstr_set(errstr, errstr_size, "no randomness for a job id");
            goto fail;
        }
        json_object_set_new(sj, "jobId", json_string(job_id));
    }
    json_object_set_new(sj, "submittedAt", json_integer(drv_now_ms()));
    char *text = json_dumps(sj, JSON_COMPACT);
    size_t size = strlen(text);
    free(text);
    if (size > SUBMIT_MAX_BYTES) {
        *err = DRV_ERR_INVALID;
        drv_errstr_set(errstr, errstr_size,
                       "the SubmitJob request is %zu bytes; the limit is "
                       "30 KiB",
                       size);
        goto fail;
    }
    finder_t f = {pg, seen};
    if ((*err = resolve_dependencies(pg, sj, &f, seen_names, errstr,
                                     errstr_size)) != DRV_OK) {
        goto fail;
    }
    drv_submission_t ck;
    *err = drv_submission_check(pg, sj, &client->limits, cache, true, find_job,
                                &f, &ck, errstr, errstr_size);
    if (*err != DRV_OK) {
        goto fail;
    }
    snprintf(queue, queue_size, "%s", ck.queue);
    json_t *asz = json_object_get(json_object_get(sj, "arrayProperties"),
                                  "size");
    json_array_append_new(
        receipts,
        json_pack("{s:O,s:O,s:s,s:o,s:O?,s:O,s:O,s:O?}", "job_id",
                  json_object_get(sj, "jobId"), "job_name",
                  json_object_get(sj, "jobName"), "queue", ck.queue,
                  "definition", json_sprintf("%s:%d", ck.def_name,
                                             ck.revision),
                  "array_size", asz, "submitted_at",
                  json_object_get(sj, "submittedAt"), "request", sj,
                  "resolved", ck.resolved));
    drv_submission_clear(&ck);
    if (seen) {
        json_t *ap = json_object_get(json_object_get(sj, "arrayProperties"),
                                     "size");
        json_object_set_new(seen,
                            json_string_value(json_object_get(sj, "jobId")),
                            json_integer(ap ? json_integer_value(ap) : -1));
        json_object_set(seen_names,
                        json_string_value(json_object_get(sj, "jobName")),
                        json_object_get(sj, "jobId"));
    }
    return sj;
fail:
    json_decref(sj);
    return NULL;
}

static json_t *submit_response(drv_client_t *client, json_t *sj)
{
    char arn[512];
    const char *id = json_string_value(json_object_get(sj, "jobId"));
    drv__client_arn(client, arn, sizeof(arn), "job", id);
    return json_pack("{s:s,s:O,s:s}", "jobArn", arn, "jobName",
                     json_object_get(sj, "jobName"), "jobId", id);
}

/*
 * Send checked submissions (sj[i] to queues[i]) and keep their receipts:
 * the receipts are inserted in a transaction that commits only once Kafka
 * has acknowledged every record, so a receipt is never visible for a job
 * Kafka does not hold; once this returns, DescribeJobs shows the jobs and
 * a dependsOn may name them. 0, or -1 with *err (nothing is kept; a record
 * Kafka did take still runs: the dispatcher records it).
 */
static int send_submissions(drv_client_t *client, drv_pg_t *pg,
                            json_t *checked, json_t *queues, json_t *receipts,
                            drv_err_t *err, char *errstr, size_t errstr_size)
{
    char *rows = json_dumps(receipts, JSON_COMPACT);
    const char *p[] = {rows};
    size_t i;
    json_t *sj;
    int ret = -1;
    bool began = false;
    if (drv_pg_begin(pg, errstr, errstr_size) != 0) {
        *err = drv_pg_last_err(pg);
        goto out;
    }
    began = true;
    if (drv_pg_exec(pg,
                    "INSERT INTO job_receipts (job_id, job_name, queue, "
                    "definition, array_size, submitted_at, request, resolved) "
                    "SELECT x.job_id, x.job_name, x.queue, x.definition, "
                    "x.array_size, x.submitted_at, x.request, x.resolved FROM "
                    "jsonb_to_recordset($1::jsonb) AS x(job_id text, job_name "
                    "text, queue text, definition text, array_size int, "
                    "submitted_at bigint, request jsonb, resolved jsonb) ON "
                    "CONFLICT (job_id) DO NOTHING",
                    1, p, errstr, errstr_size) != 0) {
        *err = drv_pg_last_err(pg);
        goto out;
    }
    json_array_foreach(checked, i, sj)
    {
        if (produce_request(client,
                            json_string_value(json_array_get(queues, i)),
                            "SubmitJob", sj, false, err, errstr,
                            errstr_size) != 0) {
            goto out;
        }
    }
    if (drv_kprod_flush(client->kprod, 30000, errstr, errstr_size) != 0) {
        *err = DRV_ERR_TRANSIENT;
        goto out;
    }
    if (drv_pg_commit(pg, errstr, errstr_size) != 0) {
        *err = drv_pg_last_err(pg);
        goto out;
    }
    ret = 0;
out:
    if (ret != 0 && began) {
        drv_pg_rollback(pg);
    }
    free(rows);
    return ret;
}

json_t *drv__op_submit_job(drv_client_t *client, json_t *req, drv_err_t *err,
                           char *errstr, size_t errstr_size)
{
    char queue[256];
    drv_pg_t *pg = drv__client_pg(client, err, errstr, errstr_size);
    if (!pg) {
        return NULL;
    }
    json_t *receipts = json_array(), *checked = json_array();
    json_t *queues = json_array(), *resp = NULL;
    json_t *sj = check_submit(client, pg, req, NULL, NULL, NULL, receipts,
                              queue, sizeof(queue), err, errstr, errstr_size);
    if (sj) {
        json_array_append(checked, sj);
        json_array_append_new(queues, json_string(queue));
        if (send_submissions(client, pg, checked, queues, receipts, err,
                             errstr, errstr_size) == 0) {
            resp = submit_response(client, sj);
        }
    }
    json_decref(sj);
    json_decref(checked);
    json_decref(queues);
    json_decref(receipts);
    return resp;
}

json_t *drv_client_submit_jobs(drv_client_t *client, json_t *requests,
                               drv_err_t *err_out, char *errstr,
                               size_t errstr_size)
{
    drv_err_t ignored;
    drv_err_t *err = err_out ? err_out : &ignored;
    char queue[256], why[DRV_ERRSTR_SIZE];
    *err = DRV_OK;
    if (!json_is_array(requests)) {
        *err = DRV_ERR_INVALID;
        drv_errstr_set(errstr, errstr_size,
                       "submit_jobs takes an array of SubmitJob requests");
        return NULL;
    }
    size_t i;
    json_t *req;
    json_array_foreach(requests, i, req)
    {
        if (drv__request_check(req, why, sizeof(why)) != 0) {
            *err = DRV_ERR_INVALID;
            drv_errstr_set(errstr, errstr_size, "request %zu: %s", i, why);
            return NULL;
        }
    }
    drv_pg_t *pg = drv__client_pg(client, err, errstr, errstr_size);
    if (!pg) {
        return NULL;
    }
    /* every request is checked before any is sent */
    drv_submission_cache_t *cache = drv_submission_cache_new();
    json_t *seen = json_object(), *checked = json_array(), *queues = json_array();
    json_t *names = json_object(), *receipts = json_array(), *out = NULL, *sj;
    json_array_foreach(requests, i, req)
    {
        sj = check_submit(client, pg, req, cache, seen, names, receipts,
                          queue, sizeof(queue), err, why, sizeof(why));
        if (!sj) {
            drv_errstr_set(errstr, errstr_size, "request %zu: %s", i, why);
            goto out;
        }
        json_array_append_new(checked, sj);
        json_array_append_new(queues, json_string(queue));
    }
    if (json_array_size(checked) > 0 &&
        send_submissions(client, pg, checked, queues, receipts, err, errstr,
                         errstr_size) != 0) {
        goto out;
    }
    out = json_array();
    json_array_foreach(checked, i, sj)
    {
        json_array_append_new(out, submit_response(client, sj));
    }
out:
    drv_submission_cache_destroy(cache);
    json_decref(seen);
    json_decref(names);
    json_decref(checked);
    json_decref(queues);
    json_decref(receipts);
    return out;
}

drv_err_t drv_client_job_id(drv_client_t *client, const char *ref,
                            char *out, size_t out_size, char *errstr,
                            size_t errstr_size)
{
    drv_err_t err;
    drv_pg_t *pg = drv__client_pg(client, &err, errstr, errstr_size);
    if (!pg) {
        return err;
    }
    drv_pg_res_t *r = find_submitted(pg, ref, &err, errstr, errstr_size);
    if (r) {
        drv_pg_res_free(r);
        snprintf(out, out_size, "%s", ref);
        return DRV_OK;
    }
    if (err != DRV_ERR_NOTFOUND) {
        return err;
    }
    return find_by_name(pg, NULL, ref, out, out_size, errstr, errstr_size);
}

static json_t *cancel_or_terminate(drv_client_t *client, json_t *req,
                                   const char *kind, drv_err_t *err,
                                   char *errstr, size_t errstr_size)
{
    const char *job_id = json_string_value(json_object_get(req, "jobId"));
    const char *reason = json_string_value(json_object_get(req, "reason"));
    drv_pg_t *pg = drv__client_pg(client, err, errstr, errstr_size);
    if (!pg) {
        return NULL;
    }
    if (!job_id || !reason) {
        *err = DRV_ERR_INVALID;
        drv_errstr_set(errstr, errstr_size, "jobId and reason are required");
        return NULL;
    }
    if (strlen(reason) > DRV_REASON_MAX) {
        *err = DRV_ERR_INVALID;
        drv_errstr_set(errstr, errstr_size,
                       "reason must be at most 1024 characters");
        return NULL;
    }
    if (!*job_id) {
        *err = DRV_ERR_INVALID;
        drv_errstr_set(errstr, errstr_size, "jobId must not be empty");
        return NULL;
    }
    char by_name[DRV_JOB_ID_MAX + 16];
    drv_pg_res_t *r = find_submitted(pg, job_id, err, errstr, errstr_size);
    if (!r && *err == DRV_ERR_NOTFOUND) { /* a job's name, then */
        char why[DRV_ERRSTR_SIZE];
        *err = find_by_name(pg, NULL, job_id, by_name, sizeof(by_name), why,
                            sizeof(why));
        if (*err == DRV_OK) {
            job_id = by_name;
            r = find_submitted(pg, job_id, err, errstr, errstr_size);
        } else if (*err != DRV_ERR_NOTFOUND) {
            drv_errstr_set(errstr, errstr_size, "%s", why);
        }
    }
    if (!r) {
        return NULL;
    }
    char queue[256];
    snprintf(queue, sizeof(queue), "%s", drv_pg_res_get(r, 0, 0));
    drv_pg_res_free(r);
    json_t *body = json_pack("{s:s,s:s,s:I}", "jobId", job_id, "reason",
                             reason, "requestedAt", (json_int_t)drv_now_ms());
    int rc = produce_request(client, queue, kind, body, true, err, errstr,
                             errstr_size);
    json_decref(body);
    return rc == 0 ? json_object() : NULL;
}

json_t *drv__op_cancel_job(drv_client_t *client, json_t *req, drv_err_t *err,
                           char *errstr, size_t errstr_size)
{
    return cancel_or_terminate(client, req, "CancelJob", err, errstr,
                               errstr_size);
}

json_t *drv__op_terminate_job(drv_client_t *client, json_t *req,
                              drv_err_t *err, char *errstr,
                              size_t errstr_size)
{
    return cancel_or_terminate(client, req, "TerminateJob", err, errstr,
                               errstr_size);
}

/* ---- reads ----------------------------------------------------------------- */

#define JOB_COLS                                                               \
    "j.job_id, j.job_name, j.queue, j.definition_name, "                       \
    "j.definition_revision, j.status, j.status_reason, j.created_at, "         \
    "j.started_at, j.stopped_at, j.request, COALESCE(j.resolved, (SELECT "    \
    "p.resolved FROM jobs p WHERE p.job_id = j.array_parent)), j.exit_code, "         \
    "j.reason, j.is_cancelled, j.is_terminated, j.scheduling_priority, "       \
    "j.array_index, j.array_size, (SELECT coalesce(jsonb_agg("                 \
    "jsonb_strip_nulls(jsonb_build_object('container', jsonb_strip_nulls("     \
    "jsonb_build_object('exitCode', a.exit_code, 'reason', a.reason, "         \
    "'logStreamName', CASE WHEN a.started_at IS NOT NULL THEN a.log_stream "  \
    "END, 'taskArn', a.container_id, "                                         \
    "'containerInstanceArn', a.worker)), 'startedAt', a.started_at, "          \
    "'stoppedAt', a.stopped_at, 'statusReason', a.status_reason)) ORDER BY "   \
    "a.attempt), '[]') FROM attempts a WHERE a.job_id = j.job_id AND "         \
    "a.stopped_at IS NOT NULL), j.array_parent, CASE WHEN j.array_size IS "    \
    "NOT NULL AND j.array_parent IS NULL THEN (SELECT jsonb_object_agg("      \
    "s.status, s.n) FROM (SELECT c.status, count(*) n FROM jobs c WHERE "      \
    "c.array_parent = j.job_id GROUP BY c.status) s) END, (SELECT "           \
    "jsonb_strip_nulls(jsonb_build_object('logStreamName', CASE WHEN "        \
    "a.started_at IS NOT NULL THEN a.log_stream END, "                         \
    "'taskArn', a.container_id, 'containerInstanceArn', a.worker)) FROM "      \
    "attempts a WHERE a.job_id = j.job_id ORDER BY a.attempt DESC LIMIT 1), " \
    "(SELECT jsonb_object_agg(t.key, t.value) FROM resource_tags t WHERE "    \
    "t.arn = 'job/' || j.job_id), j.share_identifier"

/* JOB_COLS for a job submitted and not yet recorded (its receipt, r):
 * SUBMITTED, as the client's check resolved it. */
#define RECEIPT_COLS                                                           \
    "r.job_id, r.job_name, r.queue, split_part(r.definition, ':', 1), "        \
    "split_part(r.definition, ':', 2)::int, 'SUBMITTED', NULL, "              \
    "r.submitted_at, NULL::bigint, NULL::bigint, r.request, r.resolved, "     \
    "NULL::int, NULL, false, false, (r.request->>"                           \
    "'schedulingPriorityOverride')::int, NULL::int, r.array_size, "           \
    "'[]'::jsonb, NULL, CASE WHEN r.array_size IS NOT NULL THEN "             \
    "'{}'::jsonb END, NULL::jsonb, (SELECT jsonb_object_agg(t.key, "         \
    "t.value) FROM resource_tags t WHERE t.arn = 'job/' || r.job_id), "      \
    "r.request->>'shareIdentifier'"

/* Set k from a column, leaving it out for SQL NULL (as AWS omits it). */
static void set_col(json_t *o, const char *k, json_t *v)
{
    if (json_is_null(v)) {
        json_decref(v);
    } else {
        json_object_set_new(o, k, v);
    }
}

static json_t *job_summary(drv_client_t *client, const drv_pg_res_t *r,
                           int row)
{
    char arn[512], def[300];
    const char *id = drv_pg_res_get(r, row, 0);
    json_t *j = json_object();
    drv__client_arn(client, arn, sizeof(arn), "job", id);
    json_object_set_new(j, "jobArn", json_string(arn));
    json_object_set_new(j, "jobId", json_string(id));
    set_col(j, "jobName", drv_pg_res_json_str(r, row, 1));
    set_col(j, "createdAt", drv_pg_res_json_int(r, row, 7));
    set_col(j, "status", drv_pg_res_json_str(r, row, 5));
    set_col(j, "statusReason", drv_pg_res_json_str(r, row, 6));
    set_col(j, "startedAt", drv_pg_res_json_int(r, row, 8));
    set_col(j, "stoppedAt", drv_pg_res_json_int(r, row, 9));
    json_t *c = json_object();
    set_col(c, "exitCode", drv_pg_res_json_int(r, row, 12));
    set_col(c, "reason", drv_pg_res_json_str(r, row, 13));
    json_object_set_new(j, "container", c);
    set_col(j, "shareIdentifier", drv_pg_res_json_str(r, row, 24));
    if (drv_pg_res_get(r, row, 3)) {
        snprintf(def, sizeof(def), "%s:%s", drv_pg_res_get(r, row, 3),
                 drv_pg_res_get(r, row, 4));
        drv__client_arn(client, arn, sizeof(arn), "job-definition", def);
        json_object_set_new(j, "jobDefinition", json_string(arn));
    } else {
        /* refused before its definition was resolved: the one it named
         * (JobDetail requires one) */
        json_t *req = drv_pg_res_json(r, row, 10);
        const char *ref = json_string_value(json_object_get(req,
                                                            "jobDefinition"));
        if (ref) {
            drv_arn_name(ref, def, sizeof(def));
            drv__client_arn(client, arn, sizeof(arn), "job-definition", def);
            json_object_set_new(j, "jobDefinition", json_string(arn));
        }
        json_decref(req);
    }
    /* arrays: the parent shows its size and children per state (AWS's
     * statusSummary), a child its index */
    if (drv_pg_res_get(r, row, 20)) {
        json_object_set_new(j, "arrayProperties",
                            json_pack("{s:I}", "index",
                                      (json_int_t)drv_pg_res_int(r, row, 17,
                                                                 0)));
    } else if (drv_pg_res_get(r, row, 18)) {
        json_t *sum = drv_pg_res_json(r, row, 21);
        json_object_set_new(
            j, "arrayProperties",
            json_pack("{s:o,s:I}", "statusSummary", sum ? sum : json_object(),
                      "size", (json_int_t)drv_pg_res_int(r, row, 18, 0)));
    }
    return j;
}

/* JobDetail, as DescribeJobs returns it. */
static json_t *job_detail(drv_client_t *client, const drv_pg_res_t *r, int row)
{
    json_t *j = job_summary(client, r, row);
    json_t *req = drv_pg_res_json(r, row, 10);
    json_t *res = drv_pg_res_json(r, row, 11);
    char arn[512];
    drv__client_arn(client, arn, sizeof(arn), "job-queue",
                    drv_pg_res_get(r, row, 2));
    json_object_set_new(j, "jobQueue", json_string(arn));
    json_object_set_new(j, "attempts", drv_pg_res_json(r, row, 19));
    json_t *deps = json_object_get(req, "dependsOn");
    json_object_set_new(j, "dependsOn", deps ? json_incref(deps) : json_array());
    /* the definition's defaults with the submission's over them (the
     * resolved job's; a job recorded before it kept them: the request's) */
    json_t *params = json_object_get(res, "parameters");
    if (!params) {
        params = json_object_get(req, "parameters");
    }
    json_object_set_new(j, "parameters",
                        params ? json_incref(params) : json_object());
    json_t *c = json_object_get(j, "container");
    json_t *rc = json_object_get(res, "container");
    /* the current attempt's container, while it runs too */
    json_t *cur = drv_pg_res_json(r, row, 22);
    if (json_is_object(cur)) {
        json_object_update(c, cur);
    }
    json_decref(cur);
    if (rc) {
        json_t *exit_info = json_deep_copy(c);
        json_object_update(c, rc);
        json_object_update(c, exit_info);
        json_decref(exit_info);
        /* container.vcpus is an Integer in the model: a fractional
         * number of vCPUs is shown by resourceRequirements alone */
        double v = json_number_value(json_object_get(c, "vcpus"));
        if (v == (double)(json_int_t)v) {
            json_object_set_new(c, "vcpus", json_integer((json_int_t)v));
        } else {
            json_object_del(c, "vcpus");
        }
        /* what the worker is told, not AWS's ContainerDetail: the GPUs
         * are in resourceRequirements, the propagated tags in tags */
        json_object_del(c, "gpus");
        json_object_del(c, "tags");
    }
    const char *keys[] = {"retryStrategy", "timeout",
                          "consumableResourceProperties"};
    for (size_t i = 0; i < DRV_ARRAY_SIZE(keys); i++) {
        json_t *v = json_object_get(res, keys[i]);
        if (v) {
            json_object_set(j, keys[i], v);
        }
    }
    /* its tags: those it was submitted with, as TagResource and
     * UntagResource changed them since (a NULL value: removed) */
    json_t *tags = json_deep_copy(json_object_get(req, "tags"));
    json_t *changed = drv_pg_res_json(r, row, 23);
    const char *k;
    json_t *v;
    if (!json_is_object(tags)) {
        json_decref(tags);
        tags = json_object();
    }
    json_object_foreach(changed, k, v)
    {
        if (json_is_string(v)) {
            json_object_set(tags, k, v);
        } else {
            json_object_del(tags, k);
        }
    }
    json_decref(changed);
    json_object_set_new(j, "tags", tags);
    json_object_set_new(j, "isCancelled",
                        json_boolean(drv_pg_res_get(r, row, 14)[0] == 't'));
    json_object_set_new(j, "isTerminated",
                        json_boolean(drv_pg_res_get(r, row, 15)[0] == 't'));
    set_col(j, "schedulingPriority", drv_pg_res_json_int(r, row, 16));
    json_object_set_new(j, "platformCapabilities", json_pack("[s]", "EC2"));
    json_decref(req);
    json_decref(res);
    return j;
}

json_t *drv__op_describe_jobs(drv_client_t *client, json_t *req,
                              drv_err_t *err, char *errstr, size_t errstr_size)
{
    json_t *ids = json_object_get(req, "jobs");
    drv_pg_t *pg = drv__client_pg(client, err, errstr, errstr_size);
    if (!pg) {
        return NULL;
    }
    if (!json_is_array(ids)) {
        *err = DRV_ERR_INVALID;
        drv_errstr_set(errstr, errstr_size, "jobs (a list of job ids) is "
                                            "required");
        return NULL;
    }
    if (json_array_size(ids) > DRV_DESCRIBE_JOBS_MAX) {
        *err = DRV_ERR_INVALID;
        drv_errstr_set(errstr, errstr_size,
                       "Maximum number of jobs supported is 100");
        return NULL;
    }
    char *ids_s = json_dumps(ids, JSON_COMPACT);
    const char *p[] = {ids_s};
    drv_pg_res_t *r = drv_pg_query(
        pg,
        "WITH x AS (SELECT * FROM jsonb_array_elements_text($1::jsonb) WITH "
        "ORDINALITY x(id, n)) SELECT * FROM (SELECT " JOB_COLS ", x.n FROM "
        "jobs j JOIN x ON x.id = j.job_id UNION ALL SELECT " RECEIPT_COLS
        ", x.n FROM job_receipts r JOIN x ON x.id = r.job_id WHERE NOT "
        "EXISTS (SELECT 1 FROM jobs j WHERE j.job_id = r.job_id)) d ORDER BY "
        "d.n",
        1, p, errstr, errstr_size);
    free(ids_s);
    if (!r) {
        *err = drv_pg_last_err(pg);
        return NULL;
    }
    /* stop building once over the bound: 100 big jobs made 100 MB */
    json_t *list = json_array();
    size_t used = 0;
    for (int row = 0; row < drv_pg_res_rows(r); row++) {
        json_t *d = job_detail(client, r, row);
        if (!drv__reply_fits(&used, d, errstr, errstr_size)) {
            json_decref(d);
            json_decref(list);
            drv_pg_res_free(r);
            *err = DRV_ERR_INVALID;
            return NULL;
        }
        json_array_append_new(list, d);
    }
    drv_pg_res_free(r);
    return json_pack("{s:o}", "jobs", list);
}

/* LIKE pattern for AWS's filter values: a trailing '*' is a prefix. */
static void like_pattern(const char *val, char *like, size_t like_size)
{
    size_t n = strlen(val), o = 0;
    int prefix = n && val[n - 1] == '*';
    for (size_t i = 0; i < n - (size_t)prefix && o + 3 < like_size; i++) {
        if (val[i] == '_' || val[i] == '%' || val[i] == '\\') {
            like[o++] = '\\';
        }
        like[o++] = val[i];
    }
    if (prefix && o + 1 < like_size) {
        like[o++] = '%';
    }
    like[o] = '\0';
}

typedef struct list_filter {
    bool any;
    char name[300];    /* JOB_NAME: ILIKE pattern */
    char def[300];     /* JOB_DEFINITION: LIKE pattern on name */
    char def_rev[16];  /* ... and a revision when an ARN names one */
    char before[24];   /* BEFORE_CREATED_AT, AFTER_CREATED_AT */
    char after[24];
    char share[300];   /* SHARE_IDENTIFIER (with jobStatus, as AWS) */
    char dep[300];     /* DEPENDS_ON (Drover's): a job's dependents */
} list_filter_t;

/* AWS's ListJobs filters: one at a time (JOB_NAME case-insensitive,
 * JOB_DEFINITION by name or ARN, BEFORE/AFTER_CREATED_AT in epoch ms),
 * and Drover's DEPENDS_ON: the jobs of the queue that name a job id in
 * their dependsOn (the console's dependency graph). */
static int parse_filter(json_t *req, list_filter_t *f, char *errstr,
                        size_t errstr_size)
{
    json_t *filters = json_object_get(req, "filters");
    memset(f, 0, sizeof(*f));
    if (!filters || json_array_size(filters) == 0) {
        return 0;
    }
    json_t *x = json_array_get(filters, 0);
    const char *name = json_string_value(json_object_get(x, "name"));
    const char *val =
        json_string_value(json_array_get(json_object_get(x, "values"), 0));
    int64_t ms;
    f->any = true;
    if (json_array_size(filters) > 1 || !name || !val) {
        drv_errstr_set(errstr, errstr_size,
                       "filters: give one filter {name, values: [value]}");
        return -1;
    }
    if (!strcmp(name, "JOB_NAME")) {
        like_pattern(val, f->name, sizeof(f->name));
    } else if (!strcmp(name, "JOB_DEFINITION")) {
        char ref[300];
        drv_arn_name(val, ref, sizeof(ref));
        char *colon = strchr(ref, ':');
        if (colon && drv_str_has_prefix(val, "arn:")) {
            *colon = '\0';
            snprintf(f->def_rev, sizeof(f->def_rev), "%s", colon + 1);
        }
        like_pattern(ref, f->def, sizeof(f->def));
    } else if (!strcmp(name, "BEFORE_CREATED_AT") ||
               !strcmp(name, "AFTER_CREATED_AT")) {
        if (drv_parse_int64(val, 0, INT64_MAX, &ms) != 0) {
            drv_errstr_set(errstr, errstr_size,
                           "filters: %s takes epoch milliseconds", name);
            return -1;
        }
        snprintf(name[0] == 'B' ? f->before : f->after, 24, "%s", val);
    } else if (!strcmp(name, "DEPENDS_ON")) {
        if (!drv_job_id_valid(val, true) || strlen(val) >= sizeof(f->dep)) {
            drv_errstr_set(errstr, errstr_size,
                           "filters: DEPENDS_ON takes a job id");
            return -1;
        }
        snprintf(f->dep, sizeof(f->dep), "%s", val);
    } else if (!strcmp(name, "SHARE_IDENTIFIER")) {
        /* the one filter that keeps jobStatus (AWS) */
        snprintf(f->share, sizeof(f->share), "%s", val);
        f->any = false;
    } else {
        drv_errstr_set(errstr, errstr_size,
                       "filters: name must be JOB_NAME, JOB_DEFINITION, "
                       "BEFORE_CREATED_AT, AFTER_CREATED_AT, "
                       "SHARE_IDENTIFIER or DEPENDS_ON");
        return -1;
    }
    return 0;
}

json_t *drv__op_list_jobs(drv_client_t *client, json_t *req, drv_err_t *err,
                          char *errstr, size_t errstr_size)
{
    int limit;
    char queue[256] = "", lim[16], after[32];
    list_filter_t f;
    const char *qref = json_string_value(json_object_get(req, "jobQueue"));
    const char *array = json_string_value(json_object_get(req, "arrayJobId"));
    const char *status = json_string_value(json_object_get(req, "jobStatus"));
    drv_job_status_t st;
    int64_t key;
    drv_pg_t *pg = drv__client_pg(client, err, errstr, errstr_size);
    if (!pg) {
        return NULL;
    }
    *err = DRV_ERR_INVALID;
    if (!qref == !array) {
        drv_errstr_set(errstr, errstr_size,
                       "give exactly one of jobQueue and arrayJobId");
        return NULL;
    }
    if (status && drv_job_status_parse(status, &st) != 0) {
        drv_errstr_set(errstr, errstr_size, "jobStatus \"%s\" is not a job "
                                            "status", status);
        return NULL;
    }
    if (parse_filter(req, &f, errstr, errstr_size) != 0 ||
        drv__page(req, f.any ? 100 : 1000, f.any ? 100 : 1000, &limit, after,
                  sizeof(after), errstr, errstr_size) != 0) {
        return NULL;
    }
    if (after[0] && drv_parse_int64(after, INT64_MIN, INT64_MAX, &key) != 0) {
        drv_errstr_set(errstr, errstr_size, "Invalid nextToken");
        return NULL;
    }
    if (qref) {
        drv_arn_name(qref, queue, sizeof(queue));
    }
    snprintf(lim, sizeof(lim), "%d", limit + 1);
    /* AWS: no status and no filter lists RUNNING jobs; a filter lists every
     * status, newest first. By queue: plain jobs and array parents, and
     * the jobs submitted and not yet recorded (their receipts, SUBMITTED);
     * children by arrayJobId, in index order. Pages are keyset: the key is
     * the arrival order (seq; a receipt's is the one its job keeps) or the
     * child's index. */
    const char *wanted = f.any ? NULL : (status ? status : "RUNNING");
    const char *p[] = {qref ? queue : NULL,
                       wanted,
                       f.name[0] ? f.name : NULL,
                       lim,
                       after[0] ? after : NULL,
                       array,
                       f.def[0] ? f.def : NULL,
                       f.def_rev[0] ? f.def_rev : NULL,
                       f.before[0] ? f.before : NULL,
                       f.after[0] ? f.after : NULL,
                       f.any ? "true" : "false",
                       f.share[0] ? f.share : NULL,
                       f.dep[0] ? f.dep : NULL};
    drv_pg_res_t *r = drv_pg_query(
        pg,
        "SELECT * FROM (SELECT " JOB_COLS ", CASE WHEN $6::text IS NOT NULL "
        "THEN j.array_index::bigint ELSE j.seq END AS k FROM jobs j WHERE "
        "(($1::text IS NOT NULL AND j.queue = $1 AND j.array_parent IS NULL) "
        "OR ($6::text IS NOT NULL AND j.array_parent = $6)) AND ($2::text IS "
        "NULL OR j.status = $2) AND ($3::text IS NULL OR j.job_name ILIKE $3) "
        "AND ($7::text IS NULL OR j.definition_name LIKE $7) AND ($8::text "
        "IS NULL OR j.definition_revision::text = $8) AND ($9::bigint IS "
        "NULL OR j.created_at < $9::bigint) AND ($10::bigint IS NULL OR "
        "j.created_at > $10::bigint) AND ($12::text IS NULL OR "
        "j.share_identifier = $12) AND ($13::text IS NULL OR j.job_id IN "
        "(SELECT x.job_id FROM job_dependencies x WHERE x.depends_on = $13)) "
        "UNION ALL SELECT " RECEIPT_COLS ", r.seq "
        "FROM job_receipts r WHERE $1::text IS NOT NULL AND r.queue = $1 AND "
        "($2::text IS NULL OR $2 = 'SUBMITTED') AND ($3::text IS NULL OR "
        "r.job_name ILIKE $3) AND ($7::text IS NULL OR split_part("
        "r.definition, ':', 1) LIKE $7) AND ($8::text IS NULL OR split_part("
        "r.definition, ':', 2) = $8) AND ($9::bigint IS NULL OR "
        "r.submitted_at < $9::bigint) AND ($10::bigint IS NULL OR "
        "r.submitted_at > $10::bigint) AND ($12::text IS NULL OR r.request->>"
        "'shareIdentifier' = $12) AND ($13::text IS NULL OR r.request->"
        "'dependsOn' @> jsonb_build_array(jsonb_build_object('jobId', "
        "$13::text))) AND NOT EXISTS (SELECT 1 FROM jobs x "
        "WHERE x.job_id = r.job_id)) d WHERE $5::bigint IS NULL OR CASE WHEN "
        "$11::bool AND $6::text IS NULL THEN d.k < $5::bigint ELSE d.k > "
        "$5::bigint END ORDER BY CASE WHEN $11::bool AND $6::text IS NULL "
        "THEN -d.k ELSE d.k END LIMIT $4::int",
        13, p, errstr, errstr_size);
    if (!r) {
        *err = drv_pg_last_err(pg);
        return NULL;
    }
    json_t *list = json_array();
    for (int row = 0; row < drv_pg_res_rows(r) && row < limit; row++) {
        json_array_append_new(list, job_summary(client, r, row));
    }
    json_t *resp = json_pack("{s:o}", "jobSummaryList", list);
    drv__next_token(resp, drv_pg_res_rows(r), limit,
                    drv_pg_res_rows(r) > limit
                        ? drv_pg_res_get(r, limit - 1, 25)
                        : NULL);
    drv_pg_res_free(r);
    return resp;
}
