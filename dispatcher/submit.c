/* SPDX-License-Identifier: Apache-2.0 */
/* SubmitJob (submit.h). */
#include "submit.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "arrays.h"
#include "deps.h"
#include "drover/util.h"
#include "outbox.h"
#include "transition.h"

/* How the submission check finds an N_TO_N dependency: an array parent
 * already recorded, or one a client submitted (its receipt) that this
 * dispatcher has not consumed yet. */
static drv_err_t find_array(void *opaque, const char *job_id,
                            int64_t *array_size, char *errstr,
                            size_t errstr_size)
{
    drv_disp_t *disp = opaque;
    const char *p[] = {job_id};
    drv_pg_res_t *r = drv_pg_query(
        disp->pg,
        "SELECT array_size FROM jobs WHERE job_id = $1 AND array_parent IS "
        "NULL UNION ALL SELECT array_size FROM job_receipts WHERE job_id = $1 "
        "LIMIT 1",
        1, p, errstr, errstr_size);
    if (!r) {
        return drv_pg_last_err(disp->pg);
    }
    drv_err_t err = drv_pg_res_rows(r) ? DRV_OK : DRV_ERR_NOTFOUND;
    *array_size = drv_pg_res_int(r, 0, 0, -1);
    drv_pg_res_free(r);
    return err;
}

/* The queue the request names must be its topic's. */
static bool on_its_topic(json_t *sj, const char *source, char *errstr,
                         size_t errstr_size)
{
    char queue[256];
    drv_arn_name(json_string_value(json_object_get(sj, "jobQueue")), queue,
                 sizeof(queue));
    const char *topic_q = source + strlen(DRV_TOPIC_SUBMIT_PREFIX);
    if (strcmp(queue, topic_q) != 0) {
        drv_errstr_set(errstr, errstr_size,
                       "jobQueue %s does not match the topic's queue %s",
                       queue, topic_q);
        return false;
    }
    return true;
}

/* The submission check (drover/submission.h) into s->ck. 0 (resolved), 1
 * (refused: the reason is in errstr) or -1 (database error). */
static int resolve(drv_disp_t *disp, drv__submission_t *s, const char *source,
                   char *errstr, size_t errstr_size)
{
    if (!on_its_topic(s->sj, source, errstr, errstr_size)) {
        return 1;
    }
    drv_err_t err = drv_submission_check(disp->pg, s->sj, &disp->limits,
                                         disp->cache, false, find_array, disp,
                                         &s->ck, errstr, errstr_size);
    return err == DRV_OK ? 0 : drv_submission_refused(err) ? 1 : -1;
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
    if (!s->ck.queue[0]) {
        snprintf(s->ck.queue, sizeof(s->ck.queue), "%s",
                 source + strlen(DRV_TOPIC_SUBMIT_PREFIX));
    }
    s->status = !s->ck.resolved ? DRV_JOB_FAILED
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
    s->req = s->res = NULL;
    drv_submission_clear(&s->ck);
}

bool drv__submit_is_simple(const drv__submission_t *s)
{
    return s->status != DRV_JOB_SUBMITTED;
}

/* A submission's INSERT, returning the transition columns (wake: the jobs
 * recorded before it that wait for it to exist). No row when its job id
 * is taken. The client's receipt goes (migrations/008_receipts.sql), and
 * the job keeps its arrival order. */
#define SUBMIT_SQL                                                             \
    "WITH gone AS (DELETE FROM job_receipts WHERE job_id = $1 RETURNING "    \
    "seq, submitted_at) INSERT INTO jobs (job_id, job_name, queue, "           \
    "definition_name, "                                                       \
    "definition_revision, status, status_reason, created_at, updated_at, "    \
    "stopped_at, request, resolved, vcpus, memory_mib, max_attempts, "        \
    "scheduling_priority, array_size, array_sequential, share_identifier, "  \
    "consumables, gpus, seq) VALUES ($1, "                                   \
    "$2, $3, $4, $5::int, $6, $7, COALESCE((SELECT submitted_at FROM gone), " \
    "$8::bigint), $8::bigint, CASE WHEN $6 = "                                \
    "'FAILED' THEN $8::bigint END, $9::jsonb, $10::jsonb, $11::float8, "      \
    "$12::bigint, $13::int, $14::int, $15::int, $16::bool, $17, "           \
    "$10::jsonb->'consumableResourceProperties'->'consumableResourceList', " \
    "COALESCE(($10::jsonb->'container'->>'gpus')::int, 0), COALESCE(("        \
    "SELECT seq FROM gone), nextval('jobs_seq_seq'))) ON CONFLICT "           \
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
    json_t *c = json_object_get(s->ck.resolved, "container");
    json_t *a = json_object_get(json_object_get(s->ck.resolved, "retryStrategy"),
                                "attempts");
    snprintf(s->size, sizeof(s->size), "%d", (int)json_integer_value(ap));
    snprintf(s->rev, sizeof(s->rev), "%d", s->ck.revision);
    snprintf(s->now, sizeof(s->now), "%" PRId64, drv_now_ms());
    snprintf(s->vcpus, sizeof(s->vcpus), "%g",
             json_number_value(json_object_get(c, "vcpus")));
    snprintf(s->mem, sizeof(s->mem), "%" JSON_INTEGER_FORMAT,
             json_integer_value(json_object_get(c, "memory")));
    snprintf(s->att, sizeof(s->att), "%d",
             json_is_integer(a) ? (int)json_integer_value(a) : 1);
    snprintf(s->prio, sizeof(s->prio), "%d", s->ck.scheduling_priority);
    free(s->req);
    free(s->res);
    s->req = json_dumps(sj, JSON_COMPACT);
    s->res = s->ck.resolved ? json_dumps(s->ck.resolved, JSON_COMPACT) : NULL;
    const char *name = json_string_value(json_object_get(sj, "jobName"));
    const char *p[] = {json_string_value(json_object_get(sj, "jobId")),
                       name ? name : "",
                       s->ck.queue,
                       s->ck.revision ? s->ck.def_name : NULL,
                       s->ck.revision ? s->rev : NULL,
                       drv_job_status_name(s->status),
                       s->ck.resolved ? NULL : s->reason,
                       s->now,
                       s->req,
                       s->res,
                       s->vcpus,
                       s->mem,
                       s->att,
                       s->prio,
                       ap ? s->size : NULL,
                       has_dependency(sj, "SEQUENTIAL") ? "true" : "false",
                       s->ck.fair_share ? json_string_value(json_object_get(
                                              sj, "shareIdentifier"))
                                        : NULL};
    memcpy(s->p, p, sizeof(p));
    return (drv_pg_stmt_t){SUBMIT_SQL, 17, s->p};
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
