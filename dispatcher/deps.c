/* SPDX-License-Identifier: Apache-2.0 */
/* Dependencies and what follows a job's change (deps.h). */
#include "deps.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "arrays.h"
#include "drover/util.h"
#include "transition.h"

/* Columns of the evaluation: dependencies not recorded, not succeeded,
 * the first failed one, whether the job is an array parent. */
enum { EV_MISSING, EV_WAITING, EV_FAILED, EV_IS_ARRAY };

/* All dependencies are recorded and none failed: `waiting` still run. */
static int go_on(drv_disp_t *disp, const char *job_id, int64_t waiting,
                 bool is_array, char *errstr, size_t errstr_size)
{
    char pending[24];
    snprintf(pending, sizeof(pending), "%" PRId64, waiting);
    const char *p[] = {job_id, pending};
    /* an array parent is never RUNNABLE: PENDING while children run */
    drv_job_status_t to = waiting || is_array ? DRV_JOB_PENDING
                                              : DRV_JOB_RUNNABLE;
    if (drv_pg_exec(disp->pg,
                    "UPDATE jobs SET deps_pending = $2::int WHERE job_id = $1",
                    2, p, errstr, errstr_size) != 0 ||
        drv__transition(disp, job_id, to, NULL, errstr, errstr_size) < 0) {
        return -1;
    }
    return is_array && !waiting
               ? drv__arrays_release(disp, job_id, errstr, errstr_size)
               : 0;
}

int drv__deps_evaluate(drv_disp_t *disp, const char *job_id, char *errstr,
                       size_t errstr_size)
{
    const char *p[] = {job_id};
    /* N_TO_N rows are per child (arrays.c), not the parent's own */
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
    int64_t missing = drv_pg_res_int(r, 0, EV_MISSING, 0);
    int64_t waiting = drv_pg_res_int(r, 0, EV_WAITING, 0);
    const char *arr = drv_pg_res_get(r, 0, EV_IS_ARRAY);
    int ret = 0;
    if (drv_pg_res_get(r, 0, EV_FAILED)) {
        ret = drv__transition_dependency_failed(
            disp, job_id, drv_pg_res_get(r, 0, EV_FAILED), errstr,
            errstr_size);
    } else if (missing == 0) { /* else: wait for it to be recorded */
        ret = go_on(disp, job_id, waiting, arr && arr[0] == 't', errstr,
                    errstr_size);
    }
    drv_pg_res_free(r);
    return ret;
}

int drv__deps_evaluate_all(drv_disp_t *disp, const drv__ids_t *ids,
                           char *errstr, size_t errstr_size)
{
    int ret = 0;
    for (size_t i = 0; ret == 0 && i < ids->n; i++) {
        ret = drv__deps_evaluate(disp, ids->v[i], errstr, errstr_size);
    }
    return ret;
}

/* One follow-up: the jobs it wakes, then, for a finished job, its array
 * parent's count or (a failed array parent) its waiting children. */
static int follow(drv_disp_t *disp, const drv__followup_t *f, char *errstr,
                  size_t errstr_size)
{
    int ret = drv__deps_evaluate_all(disp, &f->wake, errstr, errstr_size);
    if (ret != 0 || !f->finished) {
        return ret;
    }
    if (f->parent) {
        return drv__arrays_child_done(disp, f->parent, f->index, f->succeeded,
                                      errstr, errstr_size);
    }
    if (f->is_array && !f->succeeded) {
        return drv__arrays_fail_children(disp, f->job_id, errstr,
                                         errstr_size);
    }
    return 0;
}

int drv__deps_drain(drv_disp_t *disp, char *errstr, size_t errstr_size)
{
    int ret = 0;
    /* following may queue more: taken again until none is left */
    while (ret == 0 && disp->fu_cnt > 0) {
        size_t n;
        drv__followup_t *fu = drv__followups_take(disp, &n);
        for (size_t i = 0; ret == 0 && i < n; i++) {
            ret = follow(disp, &fu[i], errstr, errstr_size);
        }
        drv__followups_free(fu, n);
    }
    if (ret != 0) {
        drv__followups_discard(disp);
    }
    return ret;
}

int drv__deps_sweep(drv_disp_t *disp, char *errstr, size_t errstr_size)
{
    char before[24];
    snprintf(before, sizeof(before), "%" PRId64,
             drv_now_ms() - disp->dep_grace_ms);
    const char *p[] = {before};
    /* the jobs with what they fail with (transition.h, enum drv__fcol) */
    return drv__transition_fail_listed(
        disp,
        "SELECT d.job_id, '" DRV_REASON_DEPENDENCY ": dependency ' || "
        "min(d.depends_on) || ' does not exist', false, false FROM jobs j "
        "JOIN job_dependencies d ON d.job_id = j.job_id LEFT JOIN jobs x ON "
        "x.job_id = d.depends_on WHERE j.status = 'SUBMITTED' AND "
        "j.created_at < $1::bigint AND x.job_id IS NULL GROUP BY d.job_id "
        "LIMIT 1000",
        1, p, errstr, errstr_size);
}
