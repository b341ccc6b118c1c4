/* SPDX-License-Identifier: Apache-2.0 */
/* SubmitJob (submit.h). */
#include "submit.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "arrays.h"
#include "deps.h"
#include "drover/catalog.h"
#include "drover/util.h"
#include "outbox.h"
#include "transition.h"

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

/* Validate and resolve into s->resolved. 0 (resolved), 1 (refused: the
 * reason is in errstr) or -1 (database error). */
static int resolve(drv_disp_t *disp, drv__submission_t *s, const char *source,
                   char *errstr, size_t errstr_size)
{
    drv_err_t err;
    json_t *sj = s->sj;
    if (drv_job_validate_submit(sj, &disp->limits, errstr, errstr_size) != 0) {
        return 1;
    }
    if ((err = check_queue(disp, sj, source, s->queue, sizeof(s->queue),
                           errstr, errstr_size)) != DRV_OK) {
        return is_refusal(err) ? 1 : -1;
    }
    json_t *def = lookup_definition(
        disp, json_string_value(json_object_get(sj, "jobDefinition")),
        s->def_name, sizeof(s->def_name), &s->revision, &err, errstr,
        errstr_size);
    if (!def) {
        return is_refusal(err) ? 1 : -1;
    }
    s->resolved = drv_job_resolve(def, sj, &disp->limits, errstr, errstr_size);
    json_decref(def);
    if (!s->resolved) {
        return 1;
    }
    int r = check_n_to_n(disp, sj, errstr, errstr_size);
    if (r == 0) {
        err = drv_catalog_check_policy(disp->pg, s->queue,
                                       json_object_get(s->resolved,
                                                       "container"),
                                       errstr, errstr_size);
        r = err == DRV_OK ? 0 : is_refusal(err) ? 1 : -1;
    }
    if (r != 0) {
        json_decref(s->resolved);
        s->resolved = NULL;
    }
    return r;
}

/* Whether dependsOn has an entry of `type` without a job id (SEQUENTIAL:
 * the array's children run one after another), or (type NULL) an entry
 * naming a job. */
static bool has_dependency(json_t *sj, const char *type)
{
    size_t i;
    json_t *d;
    json_array_foreach(json_object_get(sj, "dependsOn"), i, d)
    {
        const char *t = json_string_value(json_object_get(d, "type"));
        bool named = json_object_get(d, "jobId") != NULL;
        if (type ? t && !strcmp(t, type) && !named : named) {
            return true;
        }
    }
    return false;
}

int drv__submit_prepare(drv_disp_t *disp, json_t *sj, const char *source,
                        drv__submission_t *s)
{
    memset(s, 0, sizeof(*s));
    s->sj = sj;
    int r = resolve(disp, s, source, s->reason, sizeof(s->reason));
    if (r < 0) {
        return -1;
    }
    if (!s->queue[0]) {
        snprintf(s->queue, sizeof(s->queue), "%s",
                 source + strlen(DRV_TOPIC_SUBMIT_PREFIX));
    }
    s->status = !s->resolved ? DRV_JOB_FAILED
                : json_object_get(sj, "arrayProperties") ||
                        has_dependency(sj, NULL)
                    ? DRV_JOB_SUBMITTED
                    : DRV_JOB_RUNNABLE;
    return 0;
}

void drv__submit_clear(drv__submission_t *s)
{
    free(s->req);
    free(s->res);
    json_decref(s->resolved);
    s->req = s->res = NULL;
    s->resolved = NULL;
}

bool drv__submit_is_simple(const drv__submission_t *s)
{
    return s->status != DRV_JOB_SUBMITTED;
}

/* A submission's INSERT, returning the transition columns (wake: the jobs
 * recorded before it that wait for it to exist). No row when its job id
 * is taken. */
#define SUBMIT_SQL                                                             \
    "INSERT INTO jobs (job_id, job_name, queue, definition_name, "            \
    "definition_revision, status, status_reason, created_at, updated_at, "    \
    "stopped_at, request, resolved, vcpus, memory_mib, max_attempts, "        \
    "scheduling_priority, array_size, array_sequential) VALUES ($1, $2, "     \
    "$3, $4, $5::int, $6, $7, $8::bigint, $8::bigint, CASE WHEN $6 = "        \
    "'FAILED' THEN $8::bigint END, $9::jsonb, $10::jsonb, $11::float8, "      \
    "$12::bigint, $13::int, $14::int, $15::int, $16::bool) ON CONFLICT "      \
    "(job_id) DO NOTHING RETURNING " DRV__TRANSITION_RETURNING(               \
        "'SUBMITTED'", "false",                                               \
        "(SELECT json_agg(d.job_id ORDER BY w.seq) FROM job_dependencies d "  \
        "JOIN jobs w ON w.job_id = d.job_id WHERE d.depends_on = $1 AND "     \
        "w.status = 'SUBMITTED')")

drv_pg_stmt_t drv__submit_stmt(drv__submission_t *s)
{
    json_t *sj = s->sj;
    json_t *ap = json_object_get(json_object_get(sj, "arrayProperties"),
                                 "size");
    json_t *c = json_object_get(s->resolved, "container");
    json_t *a = json_object_get(json_object_get(s->resolved, "retryStrategy"),
                                "attempts");
    snprintf(s->size, sizeof(s->size), "%d", (int)json_integer_value(ap));
    snprintf(s->rev, sizeof(s->rev), "%d", s->revision);
    snprintf(s->now, sizeof(s->now), "%" PRId64, drv_now_ms());
    snprintf(s->vcpus, sizeof(s->vcpus), "%g",
             json_number_value(json_object_get(c, "vcpus")));
    snprintf(s->mem, sizeof(s->mem), "%" JSON_INTEGER_FORMAT,
             json_integer_value(json_object_get(c, "memory")));
    snprintf(s->att, sizeof(s->att), "%d",
             json_is_integer(a) ? (int)json_integer_value(a) : 1);
    snprintf(s->prio, sizeof(s->prio), "%d",
             (int)json_integer_value(
                 json_object_get(sj, "schedulingPriorityOverride")));
    free(s->req);
    free(s->res);
    s->req = json_dumps(sj, JSON_COMPACT);
    s->res = s->resolved ? json_dumps(s->resolved, JSON_COMPACT) : NULL;
    const char *name = json_string_value(json_object_get(sj, "jobName"));
    const char *p[] = {json_string_value(json_object_get(sj, "jobId")),
                       name ? name : "",
                       s->queue,
                       s->revision ? s->def_name : NULL,
                       s->revision ? s->rev : NULL,
                       drv_job_status_name(s->status),
                       s->resolved ? NULL : s->reason,
                       s->now,
                       s->req,
                       s->res,
                       s->vcpus,
                       s->mem,
                       s->att,
                       s->prio,
                       ap ? s->size : NULL,
                       has_dependency(sj, "SEQUENTIAL") ? "true" : "false"};
    memcpy(s->p, p, sizeof(p));
    return (drv_pg_stmt_t){SUBMIT_SQL, 16, s->p};
}

int drv__submit_recorded(drv_disp_t *disp, const drv_pg_res_t *r)
{
    if (drv_pg_res_rows(r) == 0) {
        return 1;
    }
    drv__transition_done(disp, r, 0, 0);
    return 0;
}

int drv__submit_again(drv_disp_t *disp, const drv__submission_t *s,
                      const drv__origin_t *from, char *errstr,
                      size_t errstr_size)
{
    const char *job_id = json_string_value(json_object_get(s->sj, "jobId"));
    const char *p[] = {job_id};
    drv_pg_res_t *r = drv_pg_query(disp->pg,
                                   "SELECT request FROM jobs WHERE job_id = $1",
                                   1, p, errstr, errstr_size);
    if (!r) {
        return -1;
    }
    if (drv_pg_res_rows(r) > 0) {
        json_t *old = drv_pg_res_json(r, 0, 0);
        json_t *again = json_copy(s->sj); /* a client's retry: same body */
        json_object_del(again, "submittedAt");
        json_object_del(old, "submittedAt");
        bool same = json_equal(old, again);
        json_decref(again);
        if (!same) {
            char why[300];
            snprintf(why, sizeof(why),
                     "job id %s was already used by a different submission",
                     job_id);
            drv__outbox_dlq(disp, from->source, from->key, from->raw,
                            from->raw_len, why);
        }
        json_decref(old);
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

int drv__submit_apply(drv_disp_t *disp, drv__submission_t *s,
                      const drv__origin_t *from, char *errstr,
                      size_t errstr_size)
{
    const char *job_id = json_string_value(json_object_get(s->sj, "jobId"));
    drv_pg_stmt_t st = drv__submit_stmt(s);
    drv_pg_res_t *r = drv_pg_query(disp->pg, st.sql, st.nparams, st.params,
                                   errstr, errstr_size);
    if (!r) {
        return -1;
    }
    int ret = drv__submit_recorded(disp, r);
    drv_pg_res_free(r);
    if (ret == 1) {
        return drv__submit_again(disp, s, from, errstr, errstr_size);
    }
    if (s->status != DRV_JOB_SUBMITTED) {
        return 0;
    }
    json_t *ap = json_object_get(json_object_get(s->sj, "arrayProperties"),
                                 "size");
    ret = insert_dependencies(disp, job_id,
                              json_object_get(s->sj, "dependsOn"), errstr,
                              errstr_size);
    if (ret == 0 && ap) {
        ret = drv__arrays_spawn(disp, job_id, (int)json_integer_value(ap),
                                errstr, errstr_size);
    }
    return ret == 0 ? drv__deps_evaluate(disp, job_id, errstr, errstr_size)
                    : ret;
}
