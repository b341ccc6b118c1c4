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
    drv_submission_clear(&s->ck);
}

bool drv__submit_is_simple(const drv__submission_t *s)
{
    return s->status != DRV_JOB_SUBMITTED;
}

/*
 * Submissions' INSERT ($1: a JSON array of rows, drv__submits_stmt; $2
 * now), returning the transition columns of each job recorded (wake: the
 * jobs recorded before it that wait for it to exist); none for a job id
 * taken. The client's receipt goes (migrations/008_receipts.sql) and the
 * job keeps its arrival order: its receipt's place, else the next ones
 * in the rows' order.
 */
#define SUBMITS_SQL                                                            \
    "WITH s AS MATERIALIZED (SELECT s.* FROM drover_rows($1::jsonb) e, "     \
    "jsonb_to_record(e) AS s(i int, job_id text, job_name text, queue text, " \
    "def_name text, "                                                         \
    "def_rev int, status text, sreason text, req jsonb, res jsonb, vcpus "   \
    "float8, mem bigint, att int, prio int, size int, seq_arr bool, share "  \
    "text)), "                                                                \
    "gone AS (DELETE FROM job_receipts g USING s WHERE g.job_id = s.job_id " \
    "RETURNING g.job_id, g.seq, g.submitted_at), "                           \
    "n AS (SELECT x.i, nextval('jobs_seq_seq') AS seq FROM (SELECT s.i FROM " \
    "s WHERE NOT EXISTS (SELECT 1 FROM gone WHERE gone.job_id = s.job_id) "  \
    "ORDER BY s.i) x) "                                                       \
    "INSERT INTO jobs (job_id, job_name, queue, definition_name, "            \
    "definition_revision, status, status_reason, created_at, updated_at, "    \
    "stopped_at, request, resolved, vcpus, memory_mib, max_attempts, "        \
    "scheduling_priority, array_size, array_sequential, share_identifier, "  \
    "consumables, gpus, seq) SELECT s.job_id, s.job_name, s.queue, "          \
    "s.def_name, s.def_rev, s.status, s.sreason, COALESCE(g.submitted_at, "   \
    "$2::bigint), $2::bigint, CASE WHEN s.status = 'FAILED' THEN $2::bigint " \
    "END, s.req, s.res, s.vcpus, s.mem, s.att, s.prio, s.size, s.seq_arr, "   \
    "s.share, s.res->'consumableResourceProperties'->"                        \
    "'consumableResourceList', COALESCE((s.res->'container'->>'gpus')::int, " \
    "0), COALESCE(g.seq, n.seq) FROM s LEFT JOIN gone g ON g.job_id = "       \
    "s.job_id LEFT JOIN n ON n.i = s.i ORDER BY s.i ON CONFLICT (job_id) DO " \
    "NOTHING RETURNING " DRV__TRANSITION_RETURNING(                           \
        "'SUBMITTED'", "false",                                               \
        "(SELECT json_agg(d.job_id ORDER BY w.seq) FROM job_dependencies d "  \
        "JOIN jobs w ON w.job_id = d.job_id WHERE d.depends_on = "            \
        "jobs.job_id AND w.status = 'SUBMITTED')")

/* A submission's row of SUBMITS_SQL's $1 (its ordinal i). */
static json_t *submit_row(const drv__submission_t *s, size_t i)
{
    json_t *sj = s->sj;
    json_t *ap = json_object_get(json_object_get(sj, "arrayProperties"),
                                 "size");
    json_t *c = json_object_get(s->ck.resolved, "container");
    json_t *a = json_object_get(
        json_object_get(s->ck.resolved, "retryStrategy"), "attempts");
    const char *name = json_string_value(json_object_get(sj, "jobName"));
    json_t *row = json_pack(
        "{s:I,s:o,s:o,s:o,s:s,s:o,s:o,s:f,s:I,s:i,s:i,s:b}", "i",
        (json_int_t)i, "job_id",
        drv__rows_str(json_string_value(json_object_get(sj, "jobId"))),
        "job_name", drv__rows_str(name ? name : ""), "queue",
        drv__rows_str(s->ck.queue), "status", drv_job_status_name(s->status),
        "sreason", drv__rows_str(s->ck.resolved ? NULL : s->reason), "req",
        json_incref(sj), "vcpus",
        json_number_value(json_object_get(c, "vcpus")), "mem",
        (json_int_t)json_integer_value(json_object_get(c, "memory")), "att",
        json_is_integer(a) ? (int)json_integer_value(a) : 1, "prio",
        s->ck.scheduling_priority, "seq_arr", has_dependency(sj, "SEQUENTIAL"));
    if (s->ck.revision) {
        json_object_set_new(row, "def_name", drv__rows_str(s->ck.def_name));
        json_object_set_new(row, "def_rev", json_integer(s->ck.revision));
    }
    if (s->ck.resolved) {
        json_object_set(row, "res", s->ck.resolved);
    }
    if (ap) {
        json_object_set_new(row, "size",
                            json_integer((int)json_integer_value(ap)));
    }
    if (s->ck.fair_share) {
        json_object_set_new(row, "share",
                            drv__rows_str(json_string_value(json_object_get(
                                sj, "shareIdentifier"))));
    }
    return row;
}

drv_pg_stmt_t drv__submits_stmt(drv__rows_t *ss,
                                const drv__submission_t *const *subs,
                                size_t n)
{
    json_t *rows = json_array();
    for (size_t i = 0; i < n; i++) {
        json_array_append_new(rows, submit_row(subs[i], i));
    }
    return drv__rows_stmt(ss, SUBMITS_SQL, rows);
}

/* A submission's job id and place, to find it by the id. */
typedef struct by_id {
    const char *id;
    size_t i;
} by_id_t;

static int by_id_cmp(const void *a, const void *b)
{
    const by_id_t *x = a, *y = b;
    int c = strcmp(x->id, y->id);
    return c ? c : x->i < y->i ? -1 : x->i > y->i;
}

void drv__submits_recorded(drv_disp_t *disp,
                           const drv__submission_t *const *subs, size_t n,
                           const drv_pg_res_t *r, bool *taken)
{
    by_id_t *ids = drv_calloc(n ? n : 1, sizeof(*ids));
    for (size_t i = 0; i < n; i++) {
        const char *id = json_string_value(json_object_get(subs[i]->sj,
                                                           "jobId"));
        ids[i] = (by_id_t){id ? id : "", i};
        taken[i] = true;
    }
    qsort(ids, n, sizeof(*ids), by_id_cmp);
    for (int row = 0; row < drv_pg_res_rows(r); row++) {
        /* the first of the submissions with its id is the one recorded:
         * the lowest place among equal ids, which sort first */
        by_id_t key = {drv_pg_res_get(r, row, DRV__TC_JOB_ID), 0};
        size_t lo = 0, hi = n;
        while (lo < hi) {
            size_t mid = lo + (hi - lo) / 2;
            if (by_id_cmp(&ids[mid], &key) < 0) {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        if (lo < n && !strcmp(ids[lo].id, key.id)) {
            taken[ids[lo].i] = false;
        }
        drv__transition_done(disp, r, row, 0);
    }
    free(ids);
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
    const drv__submission_t *one[] = {s};
    drv__rows_t ss;
    drv_pg_stmt_t st = drv__submits_stmt(&ss, one, 1);
    drv_pg_res_t *r = drv_pg_query(disp->pg, st.sql, st.nparams, st.params,
                                   errstr, errstr_size);
    drv__rows_clear(&ss);
    if (!r) {
        return -1;
    }
    bool taken;
    drv__submits_recorded(disp, one, 1, r, &taken);
    drv_pg_res_free(r);
    if (taken) {
        return drv__submit_again(disp, s, from, errstr, errstr_size);
    }
    if (s->status != DRV_JOB_SUBMITTED) {
        return 0;
    }
    json_t *ap = json_object_get(json_object_get(s->sj, "arrayProperties"),
                                 "size");
    int ret = insert_dependencies(disp, job_id,
                                json_object_get(s->sj, "dependsOn"), errstr,
                                errstr_size);
    if (ret == 0 && ap) {
        ret = drv__arrays_spawn(disp, job_id, (int)json_integer_value(ap),
                                errstr, errstr_size);
    }
    return ret == 0 ? drv__deps_evaluate(disp, job_id, errstr, errstr_size)
                    : ret;
}
