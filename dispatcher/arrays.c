/* SPDX-License-Identifier: Apache-2.0 */
/* Array children (arrays.h). */
#include "arrays.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "drover/util.h"
#include "transition.h"

int drv__arrays_spawn(drv_disp_t *disp, const char *parent, int size,
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
        "array_index, array_size, share_identifier, consumables, gpus) SELECT "
        "p.job_id || ':' || "
        "i, p.job_name, "
        "p.queue, p.definition_name, p.definition_revision, 'PENDING', "
        "p.created_at, p.created_at, '{}'::jsonb, p.vcpus, p.memory_mib, "
        "p.max_attempts, p.scheduling_priority, p.job_id, i, p.array_size, "
        "p.share_identifier, p.consumables, p.gpus "
        "FROM jobs p, generate_series(0, $2::int) i WHERE p.job_id = $1",
        2, p, errstr, errstr_size);
}

/* Columns of EVAL_CHILDREN_SQL: the child's index, its and its parent's
 * status, the parent's unmet dependencies, the child's first failed
 * prerequisite, how many of its prerequisites have not succeeded. */
enum { EC_INDEX, EC_CHILD, EC_PARENT, EC_DEPS_PENDING, EC_FAILED_PRE,
       EC_UNMET };

/* The children of array $1 at the indexes $2 (a JSON array of numbers,
 * through drover_rows), each with its prerequisites: child i-1 of a
 * SEQUENTIAL array, and child i of every N_TO_N dependency. */
#define EVAL_CHILDREN_SQL                                                      \
    "WITH r AS (SELECT (e #>> '{}')::int AS idx FROM drover_rows($2::jsonb) " \
    "e), c AS (SELECT p.status AS ps, p.deps_pending, p.array_sequential "    \
    "FROM jobs p WHERE p.job_id = $1) SELECT r.idx, j.status, c.ps, "        \
    "c.deps_pending, f.failed_pre, f.unmet FROM r CROSS JOIN c JOIN jobs j " \
    "ON j.job_id = $1 || ':' || r.idx CROSS JOIN LATERAL (SELECT "           \
    "min(pre.id) FILTER (WHERE x.status = 'FAILED') AS failed_pre, "        \
    "count(*) FILTER (WHERE x.status IS DISTINCT FROM 'SUCCEEDED') AS "     \
    "unmet FROM (SELECT $1 || ':' || (r.idx - 1) AS id WHERE "              \
    "c.array_sequential AND r.idx > 0 UNION ALL SELECT d.depends_on || ':' " \
    "|| r.idx FROM job_dependencies d WHERE d.job_id = $1 AND d.type = "     \
    "'N_TO_N') pre LEFT JOIN jobs x ON x.job_id = pre.id) f ORDER BY r.idx"

/*
 * The PENDING children of `parent` at index[0..n-1], none a prerequisite
 * of another: each may run once its parent's own dependencies succeeded,
 * child i-1 succeeded (SEQUENTIAL) and child i of every N_TO_N dependency
 * succeeded; it fails when one of those failed. One statement reads them
 * all, one more moves them (drv__transition_many).
 */
static int eval_children(drv_disp_t *disp, const char *parent,
                         const int *index, size_t n, char *errstr,
                         size_t errstr_size)
{
    if (n == 0) {
        return 0;
    }
    json_t *idx = json_array();
    for (size_t i = 0; i < n; i++) {
        json_array_append_new(idx, json_integer(index[i]));
    }
    char *idx_json = json_dumps(idx, JSON_COMPACT);
    json_decref(idx);
    const char *p[] = {parent, idx_json};
    drv_pg_res_t *r = drv_pg_query(disp->pg, EVAL_CHILDREN_SQL, 2, p, errstr,
                                   errstr_size);
    free(idx_json);
    if (!r) {
        return -1;
    }
    int rows = drv_pg_res_rows(r);
    drv__move_t *mv = drv_calloc(rows ? (size_t)rows : 1, sizeof(*mv));
    char(*ids)[300] = drv_calloc(rows ? (size_t)rows : 1, sizeof(*ids));
    char(*why)[400] = drv_calloc(rows ? (size_t)rows : 1, sizeof(*why));
    size_t m = 0;
    for (int i = 0; i < rows; i++) {
        if (strcmp(drv_pg_res_get(r, i, EC_CHILD), "PENDING") ||
            strcmp(drv_pg_res_get(r, i, EC_PARENT), "PENDING") ||
            drv_pg_res_int(r, i, EC_DEPS_PENDING, 1) != 0) {
            continue;
        }
        const char *failed = drv_pg_res_get(r, i, EC_FAILED_PRE);
        if (!failed && drv_pg_res_int(r, i, EC_UNMET, 1) != 0) {
            continue;
        }
        snprintf(ids[m], sizeof(ids[m]), "%s:%d", parent,
                 (int)drv_pg_res_int(r, i, EC_INDEX, 0));
        mv[m] = (drv__move_t){.job_id = ids[m],
                              .to = DRV_JOB_RUNNABLE,
                              .c = {.exit_code = -1}};
        if (failed) {
            snprintf(why[m], sizeof(why[m]), DRV_REASON_DEPENDENCY ": %s",
                     failed);
            mv[m].to = DRV_JOB_FAILED;
            mv[m].c.status_reason = why[m];
        }
        m++;
    }
    drv_pg_res_free(r);
    int ret = drv__transition_many(disp, mv, m, errstr, errstr_size) < 0
                  ? -1
                  : 0;
    free(why);
    free(ids);
    free(mv);
    return ret;
}

/* Children that wait for nothing else (no SEQUENTIAL order, no N_TO_N
 * dependency) all become RUNNABLE in one statement. Returns how many, or
 * -1. */
static int release_unordered(drv_disp_t *disp, const char *parent,
                             char *errstr, size_t errstr_size)
{
    char now[24];
    snprintf(now, sizeof(now), "%" PRId64, drv_now_ms());
    const char *p[] = {parent, now};
    drv_pg_res_t *r = drv_pg_query( /* taken by drv__transition_rows */
        disp->pg,
        "UPDATE jobs SET status = 'RUNNABLE', updated_at = $2::bigint FROM "
        "jobs p WHERE jobs.array_parent = $1 AND jobs.status = 'PENDING' "
        "AND p.job_id = $1 AND p.status = 'PENDING' AND p.deps_pending = 0 "
        "AND NOT p.array_sequential AND NOT EXISTS (SELECT 1 FROM "
        "job_dependencies d WHERE d.job_id = $1 AND d.type = 'N_TO_N') "
        "RETURNING " DRV__TRANSITION_RETURNING("'PENDING'", "false",
                                               "NULL::json"),
        2, p, errstr, errstr_size);
    return drv__transition_rows(disp, r);
}

int drv__arrays_release(drv_disp_t *disp, const char *parent, char *errstr,
                        size_t errstr_size)
{
    int moved = release_unordered(disp, parent, errstr, errstr_size);
    if (moved != 0) {
        return moved < 0 ? -1 : 0;
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
    size_t n = (size_t)drv_pg_res_rows(r);
    int *index = drv_calloc(n ? n : 1, sizeof(*index));
    for (size_t i = 0; i < n; i++) {
        index[i] = (int)drv_pg_res_int(r, (int)i, 0, 0);
    }
    drv_pg_res_free(r);
    int ret = eval_children(disp, parent, index, n, errstr, errstr_size);
    free(index);
    return ret;
}

/* Columns of the parent's count UPDATE. */
enum { CC_SUCCEEDED, CC_FAILED, CC_SIZE, CC_SEQUENTIAL, CC_STOPPED };

/* Count `ok` succeeded and `bad` failed children on their parent; finish
 * the parent after the last one. Sets *sequential and *size for what
 * follows (*size 0: no such parent). */
static int count_children(drv_disp_t *disp, const char *parent, int64_t ok_n,
                          int64_t bad_n, bool *sequential, int64_t *size,
                          char *errstr, size_t errstr_size)
{
    char okv[24], badv[24];
    snprintf(okv, sizeof(okv), "%" PRId64, ok_n);
    snprintf(badv, sizeof(badv), "%" PRId64, bad_n);
    const char *p[] = {parent, okv, badv};
    drv_pg_res_t *r = drv_pg_query(
        disp->pg,
        "UPDATE jobs SET children_succeeded = children_succeeded + $2::int, "
        "children_failed = children_failed + $3::int WHERE job_id = $1 "
        "RETURNING children_succeeded, children_failed, array_size, "
        "array_sequential, is_cancelled OR is_terminated",
        3, p, errstr, errstr_size);
    if (!r || drv_pg_res_rows(r) != 1) {
        drv_pg_res_free(r);
        *size = 0;
        return r ? 0 : -1;
    }
    int64_t ok = drv_pg_res_int(r, 0, CC_SUCCEEDED, 0);
    int64_t bad = drv_pg_res_int(r, 0, CC_FAILED, 0);
    *size = drv_pg_res_int(r, 0, CC_SIZE, 0);
    *sequential = drv_pg_res_get(r, 0, CC_SEQUENTIAL)[0] == 't';
    bool stopped = drv_pg_res_get(r, 0, CC_STOPPED)[0] == 't';
    drv_pg_res_free(r);
    if (ok + bad != *size) {
        return 0;
    }
    char reason[200];
    snprintf(reason, sizeof(reason),
             "%" PRId64 " of %" PRId64 " child jobs failed", bad, *size);
    drv__change_t c = {.status_reason = bad && !stopped ? reason : NULL,
                       .exit_code = -1};
    return drv__transition(disp, parent,
                           bad ? DRV_JOB_FAILED : DRV_JOB_SUCCEEDED, &c,
                           errstr, errstr_size) < 0
               ? -1
               : 0;
}

static int cmp_int(const void *a, const void *b)
{
    int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}

int drv__arrays_children_done(drv_disp_t *disp, const char *parent,
                              int *index, size_t n, int64_t succeeded,
                              char *errstr, size_t errstr_size)
{
    bool sequential = false;
    int64_t size = 0;
    int ret = count_children(disp, parent, succeeded,
                             (int64_t)n - succeeded, &sequential, &size,
                             errstr, errstr_size);
    if (ret != 0 || size == 0) {
        return ret;
    }
    qsort(index, n, sizeof(*index), cmp_int);
    /* the next SEQUENTIAL sibling of each, unless it finished too */
    int *next = drv_calloc(n ? n : 1, sizeof(*next));
    size_t nn = 0;
    for (size_t i = 0; sequential && i < n; i++) {
        bool next_done = i + 1 < n && index[i + 1] == index[i] + 1;
        if (!next_done && index[i] + 1 < size) {
            next[nn++] = index[i] + 1;
        }
    }
    ret = eval_children(disp, parent, next, nn, errstr, errstr_size);
    free(next);
    if (ret != 0) {
        return ret;
    }
    const char *p[] = {parent};
    drv_pg_res_t *d = drv_pg_query(
        disp->pg,
        "SELECT job_id FROM job_dependencies WHERE depends_on = $1 AND "
        "type = 'N_TO_N'",
        1, p, errstr, errstr_size);
    if (!d) {
        return -1;
    }
    for (int k = 0; ret == 0 && k < drv_pg_res_rows(d); k++) {
        ret = eval_children(disp, drv_pg_res_get(d, k, 0), index, n, errstr,
                            errstr_size);
    }
    drv_pg_res_free(d);
    return ret;
}

int drv__arrays_fail_children(drv_disp_t *disp, const char *parent,
                              char *errstr, size_t errstr_size)
{
    const char *p[] = {parent};
    return drv__transition_fail_listed(
        disp,
        "SELECT c.job_id, p.status_reason, p.is_cancelled, p.is_terminated "
        "FROM jobs c JOIN jobs p ON p.job_id = c.array_parent WHERE "
        "c.array_parent = $1 AND c.status IN ('SUBMITTED','PENDING') "
        "OR (c.array_parent = $1 AND c.status = 'RUNNABLE' AND NOT "
        "c.released) ORDER BY c.array_index",
        1, p, errstr, errstr_size);
}
