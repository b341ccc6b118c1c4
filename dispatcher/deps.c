/* SPDX-License-Identifier: Apache-2.0 */
/* Dependencies and what follows a job's change (deps.h). */
#include "deps.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arrays.h"
#include "drover/util.h"
#include "transition.h"

/* Columns of the evaluation: dependencies not recorded, those (not
 * N_TO_N) not succeeded, the first that failed (an N_TO_N one: failed with
 * no children, its submission refused), whether the job
 * is an array parent, its size, and the first N_TO_N dependency that is
 * not an array parent of that size. */
enum { EV_MISSING, EV_WAITING, EV_FAILED, EV_IS_ARRAY, EV_SIZE,
       EV_MISMATCHED };

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
    /* an N_TO_N dependency is only waited for until it is recorded: its
     * rows are per child (arrays.c), not the parent's own */
    drv_pg_res_t *r = drv_pg_query(
        disp->pg,
        "WITH me AS (SELECT array_size, array_parent FROM jobs WHERE job_id "
        "= $1) SELECT count(*) FILTER (WHERE j.job_id IS NULL), "
        "count(*) FILTER (WHERE d.type IS DISTINCT FROM 'N_TO_N' AND "
        "j.status IS DISTINCT FROM 'SUCCEEDED'), "
        "min(d.depends_on) FILTER (WHERE j.status = 'FAILED' AND (d.type "
        "IS DISTINCT FROM 'N_TO_N' OR NOT EXISTS (SELECT 1 FROM jobs c "
        "WHERE c.array_parent = j.job_id))), "
        "(SELECT array_size IS NOT NULL AND array_parent IS NULL FROM me), "
        "(SELECT array_size FROM me), "
        "min(d.depends_on) FILTER (WHERE d.type = 'N_TO_N' AND j.job_id IS "
        "NOT NULL AND (j.array_parent IS NOT NULL OR j.array_size IS "
        "DISTINCT FROM (SELECT array_size FROM me))) "
        "FROM job_dependencies d LEFT JOIN jobs j ON j.job_id = "
        "d.depends_on WHERE d.job_id = $1",
        1, p, errstr, errstr_size);
    if (!r) {
        return -1;
    }
    int64_t missing = drv_pg_res_int(r, 0, EV_MISSING, 0);
    int64_t waiting = drv_pg_res_int(r, 0, EV_WAITING, 0);
    const char *arr = drv_pg_res_get(r, 0, EV_IS_ARRAY);
    const char *mismatched = drv_pg_res_get(r, 0, EV_MISMATCHED);
    int ret = 0;
    if (mismatched) { /* recorded after this job: checked now */
        char why[400];
        snprintf(why, sizeof(why),
                 "N_TO_N dependency %s must be an array job of the same "
                 "size (%" PRId64 ")",
                 mismatched, drv_pg_res_int(r, 0, EV_SIZE, 0));
        drv__change_t c = {.status_reason = why, .exit_code = -1};
        ret = drv__transition(disp, job_id, DRV_JOB_FAILED, &c, errstr,
                              errstr_size) < 0
                  ? -1
                  : 0;
    } else if (drv_pg_res_get(r, 0, EV_FAILED)) {
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

/* One follow-up: the jobs it wakes, then, for a failed array parent, its
 * waiting children (finished children are counted per parent, below). */
static int follow(drv_disp_t *disp, const drv__followup_t *f, char *errstr,
                  size_t errstr_size)
{
    int ret = drv__deps_evaluate_all(disp, &f->wake, errstr, errstr_size);
    if (ret == 0 && f->finished && !f->parent && f->is_array &&
        !f->succeeded) {
        ret = drv__arrays_fail_children(disp, f->job_id, errstr, errstr_size);
    }
    return ret;
}

static int cmp_child(const void *a, const void *b)
{
    const drv__followup_t *x = *(drv__followup_t *const *)a;
    const drv__followup_t *y = *(drv__followup_t *const *)b;
    return strcmp(x->parent, y->parent);
}

/* The finished array children among fu[0..n-1], one change per parent:
 * a cascade of 10,000 children counts them on their parent once. */
static int children_done(drv_disp_t *disp, drv__followup_t *fu, size_t n,
                         char *errstr, size_t errstr_size)
{
    drv__followup_t **kids = drv_calloc(n ? n : 1, sizeof(*kids));
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (fu[i].finished && fu[i].parent) {
            kids[k++] = &fu[i];
        }
    }
    qsort(kids, k, sizeof(*kids), cmp_child);
    int *index = drv_calloc(k ? k : 1, sizeof(*index));
    int ret = 0;
    for (size_t i = 0; ret == 0 && i < k;) {
        size_t j = i, m = 0;
        int64_t ok = 0;
        for (; j < k && !strcmp(kids[j]->parent, kids[i]->parent); j++) {
            index[m++] = kids[j]->index;
            ok += kids[j]->succeeded;
        }
        ret = drv__arrays_children_done(disp, kids[i]->parent, index, m, ok,
                                        errstr, errstr_size);
        i = j;
    }
    free(index);
    free(kids);
    return ret;
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
        if (ret == 0) {
            ret = children_done(disp, fu, n, errstr, errstr_size);
        }
        drv__followups_free(fu, n);
    }
    if (ret != 0) {
        drv__followups_discard(disp);
    }
    return ret;
}

/*
 * Whether every submission appended before now has been consumed (and so
 * recorded): the consumer holds every queue's submit topic and its
 * position is at the brokers' high watermark on each. Without a consumer
 * (the integration suite drives the handlers directly) nothing is in
 * flight. 1, 0, or -1 (errstr set).
 */
static int all_consumed(drv_disp_t *disp, char *errstr, size_t errstr_size)
{
    if (!disp->kcons) {
        return 1;
    }
    drv_pg_res_t *r = drv_pg_query(
        disp->pg,
        "SELECT '" DRV_TOPIC_SUBMIT_PREFIX "' || name FROM job_queues", 0,
        NULL, errstr, errstr_size);
    if (!r) {
        return -1;
    }
    int n = drv_pg_res_rows(r);
    const char **topics = drv_calloc((size_t)n + 1, sizeof(*topics));
    for (int i = 0; i < n; i++) {
        topics[i] = drv_pg_res_get(r, i, 0);
    }
    int ret = drv_kcons_caught_up(disp->kcons, DRV_TOPIC_SUBMIT_PREFIX,
                                  topics, (size_t)n, 2000, errstr,
                                  errstr_size);
    free(topics);
    drv_pg_res_free(r);
    return ret;
}

/* Jobs recorded waiting for a dependency neither recorded nor submitted
 * through a client (no receipt): the jobs with what they fail with
 * (transition.h, enum drv__fcol), those recorded before $1. */
#define GHOSTS_SQL                                                             \
    "SELECT d.job_id, '" DRV_REASON_DEPENDENCY ": dependency ' || "          \
    "min(d.depends_on) || ' does not exist', false, false FROM jobs j JOIN "  \
    "job_dependencies d ON d.job_id = j.job_id LEFT JOIN jobs x ON "          \
    "x.job_id = d.depends_on WHERE j.status = 'SUBMITTED' AND "              \
    "j.updated_at < $1::bigint AND x.job_id IS NULL AND NOT EXISTS (SELECT " \
    "1 FROM job_receipts rc WHERE rc.job_id = d.depends_on) GROUP BY "       \
    "d.job_id LIMIT 1000"

int drv__deps_sweep(drv_disp_t *disp, char *errstr, size_t errstr_size)
{
    /* receipts written after the dispatcher recorded their jobs (their
     * clients delete those they see; this catches a client that died):
     * once a minute, since it reads every receipt, and there are many
     * exactly when the dispatcher is behind */
    if (drv_mono_ms() - disp->receipts_swept_ms > 60000) {
        disp->receipts_swept_ms = drv_mono_ms();
        if (drv_pg_exec(disp->pg,
                        "DELETE FROM job_receipts WHERE job_id IN (SELECT "
                        "r.job_id FROM job_receipts r JOIN jobs j ON "
                        "j.job_id = r.job_id LIMIT 1000)",
                        0, NULL, errstr, errstr_size) != 0) {
            return -1;
        }
    }
    /*
     * A job waiting for a dependency nobody recorded is failed once that
     * is certain, not after a timer. A dependency submitted through a
     * client has a receipt, so it is in Kafka and will be recorded: the
     * job waits. One without: a raw producer's job appended before the
     * dependent was (it must have been, to be named) is recorded once
     * everything appended before now is consumed; if it is still missing
     * then, it does not exist. Records a producer had in flight together
     * may land out of order, so the job must also be older than
     * dispatcher.dependency.grace.ms.
     */
    char before[24];
    snprintf(before, sizeof(before), "%" PRId64,
             drv_now_ms() - disp->dep_grace_ms);
    const char *p[] = {before};
    drv_pg_res_t *r = drv_pg_query(
        disp->pg, "SELECT 1 FROM (" GHOSTS_SQL ") g LIMIT 1", 1, p, errstr,
        errstr_size);
    if (!r) {
        return -1;
    }
    int waiting = drv_pg_res_rows(r);
    drv_pg_res_free(r);
    if (!waiting) {
        return 0;
    }
    char why[DRV_ERRSTR_SIZE];
    int consumed = all_consumed(disp, why, sizeof(why));
    if (consumed < 0) {
        drv_log(disp->log, DRV_LOG_WARN, "deps.unsure", NULL,
                "cannot tell whether every submission is consumed yet (%s): "
                "jobs waiting for unknown dependencies keep waiting",
                why);
    }
    if (consumed != 1) {
        return 0;
    }
    return drv__transition_fail_listed(disp, GHOSTS_SQL, 1, p, errstr,
                                       errstr_size);
}
