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

/* Columns of EVAL_CHILD_SQL: the child's and the parent's status, the
 * parent's unmet dependencies, the first failed prerequisite, how many
 * prerequisites have not succeeded. */
enum { EC_CHILD, EC_PARENT, EC_DEPS_PENDING, EC_FAILED_PRE, EC_UNMET };

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
    if (drv_pg_res_rows(r) == 1 &&
        !strcmp(drv_pg_res_get(r, 0, EC_CHILD), "PENDING") &&
        !strcmp(drv_pg_res_get(r, 0, EC_PARENT), "PENDING") &&
        drv_pg_res_int(r, 0, EC_DEPS_PENDING, 1) == 0) {
        if (drv_pg_res_get(r, 0, EC_FAILED_PRE)) {
            ret = drv__transition_dependency_failed(disp, child,
                                 drv_pg_res_get(r, 0, EC_FAILED_PRE), errstr,
                                 errstr_size);
        } else if (drv_pg_res_int(r, 0, EC_UNMET, 1) == 0) {
            ret = drv__transition(disp, child, DRV_JOB_RUNNABLE, NULL, errstr,
                                  errstr_size) < 0
                      ? -1
                      : 0;
        }
    }
    drv_pg_res_free(r);
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
    drv_pg_res_t *r = drv_pg_query(
        disp->pg,
        "UPDATE jobs SET status = 'RUNNABLE', updated_at = $2::bigint FROM "
        "jobs p WHERE jobs.array_parent = $1 AND jobs.status = 'PENDING' "
        "AND p.job_id = $1 AND p.status = 'PENDING' AND p.deps_pending = 0 "
        "AND NOT p.array_sequential AND NOT EXISTS (SELECT 1 FROM "
        "job_dependencies d WHERE d.job_id = $1 AND d.type = 'N_TO_N') "
        "RETURNING " DRV__TRANSITION_RETURNING("'PENDING'", "false",
                                               "NULL::json"),
        2, p, errstr, errstr_size);
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
    int ret = 0;
    for (int i = 0; ret == 0 && i < drv_pg_res_rows(r); i++) {
        ret = eval_child(disp, parent, (int)drv_pg_res_int(r, i, 0, 0), errstr,
                         errstr_size);
    }
    drv_pg_res_free(r);
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
    for (size_t i = 0; ret == 0 && sequential && i < n; i++) {
        bool next_done = i + 1 < n && index[i + 1] == index[i] + 1;
        if (!next_done && index[i] + 1 < size) {
            ret = eval_child(disp, parent, index[i] + 1, errstr, errstr_size);
        }
    }
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
        for (size_t i = 0; ret == 0 && i < n; i++) {
            ret = eval_child(disp, drv_pg_res_get(d, k, 0), index[i], errstr,
                             errstr_size);
        }
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
