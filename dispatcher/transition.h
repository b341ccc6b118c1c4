/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The one place a job's status changes. drv__transition writes the change;
 * statements elsewhere that change a status themselves (a submission's
 * INSERT, a worker's routine report, an array's children made RUNNABLE)
 * return the same columns, DRV__TRANSITION_RETURNING, and hand each row to
 * drv__transition_done. Either way every side effect happens here, once:
 * the JobStateChange event, the transitions metric, the capacity a
 * finished job gives back, and the follow-up (dependents, array parent)
 * that drv__deps_drain works off.
 */
#ifndef DRV_DISP_TRANSITION_H
#define DRV_DISP_TRANSITION_H

#include "dispatcher_int.h"

/* What a transition records besides the status. */
typedef struct drv__change {
    const char *status_reason; /* nullable: keep the job's */
    int exit_code;             /* -1: keep */
    const char *reason;        /* container reason; nullable: keep */
    bool cancelled, terminated;
} drv__change_t;

/*
 * The columns a status change returns, in the order of enum drv__tcol:
 * the job's row after the change (the event's fields), then
 * `prev`: the status before (SQL text expression),
 * `freed`: whether the job stopped holding capacity (boolean expression),
 * the capacity it held, its array parent, its GPUs and the worker that
 * holds it, and
 * `wake`: the ids of jobs to evaluate because of this change, as a JSON
 * array or NULL (json expression).
 */
#define DRV__TRANSITION_RETURNING(prev, freed, wake)                           \
    "jobs.job_id, jobs.job_name, jobs.queue, jobs.definition_name, "           \
    "jobs.definition_revision, jobs.status, jobs.status_reason, "              \
    "jobs.attempts, jobs.exit_code, jobs.reason, jobs.created_at, "            \
    "jobs.started_at, jobs.stopped_at, jobs.is_cancelled, "                    \
    "jobs.is_terminated, jobs.array_index, jobs.array_size, "                  \
    "jobs.request->'dependsOn' AS depends_on, jobs.updated_at, " prev          \
    " AS prev_status, " freed " AS freed, jobs.compute_environment, "         \
    "jobs.vcpus, jobs.memory_mib, jobs.array_parent, jobs.gpus, "             \
    "jobs.placed_worker, " wake " AS wake"

enum drv__tcol {
    DRV__TC_JOB_ID,
    DRV__TC_JOB_NAME,
    DRV__TC_QUEUE,
    DRV__TC_DEF_NAME,
    DRV__TC_DEF_REVISION,
    DRV__TC_STATUS,
    DRV__TC_STATUS_REASON,
    DRV__TC_ATTEMPTS,
    DRV__TC_EXIT_CODE,
    DRV__TC_REASON,
    DRV__TC_CREATED_AT,
    DRV__TC_STARTED_AT,
    DRV__TC_STOPPED_AT,
    DRV__TC_IS_CANCELLED,
    DRV__TC_IS_TERMINATED,
    DRV__TC_ARRAY_INDEX,
    DRV__TC_ARRAY_SIZE,
    DRV__TC_DEPENDS_ON,
    DRV__TC_UPDATED_AT,
    DRV__TC_PREV,
    DRV__TC_FREED,
    DRV__TC_CE,
    DRV__TC_VCPUS,
    DRV__TC_MEMORY,
    DRV__TC_PARENT,
    DRV__TC_GPUS,
    DRV__TC_HOLDER, /* placed_worker: the worker that holds it */
    DRV__TC_WAKE,
    DRV__TC_COUNT /* columns a transition row has */
};

/* The jobs that wait for job `id` (an SQL expression) through an explicit
 * dependency, as a JSON array of ids in submission order, or NULL: what a
 * job that finishes wakes. */
#define DRV__WAITING_DEPENDENTS(id)                                            \
    "(SELECT json_agg(d.job_id ORDER BY w.seq) FROM job_dependencies d "      \
    "JOIN jobs w ON w.job_id = d.job_id WHERE d.depends_on = " id " AND "     \
    "d.type IS DISTINCT FROM 'N_TO_N' AND w.status IN "                       \
    "('SUBMITTED','PENDING'))"

/*
 * Move a non-terminal job to `to` (never to the status it has) with its
 * side effects. Returns 1 if it changed, 0 if not (terminal, already
 * there, or no such job), -1 on a database error.
 */
int drv__transition(drv_disp_t *disp, const char *job_id,
                    drv_job_status_t to, const drv__change_t *c, char *errstr,
                    size_t errstr_size);

/* A move of drv__transition_many: job, status, what it records. */
typedef struct drv__move {
    const char *job_id;
    drv_job_status_t to;
    drv__change_t c;
} drv__move_t;

/* drv__transition for mv[0..n-1], no two of the same job, in one
 * statement; their side effects in their order. How many moved, or -1 on
 * a database error. */
int drv__transition_many(drv_disp_t *disp, const drv__move_t *mv, size_t n,
                         char *errstr, size_t errstr_size);

/* Fail a waiting job because its dependency `failed_dep` failed (AWS's
 * reason, naming it). 0, or -1 on a database error. */
int drv__transition_dependency_failed(drv_disp_t *disp, const char *job_id,
                                      const char *failed_dep, char *errstr,
                                      size_t errstr_size);

/* The columns of a statement that lists jobs to fail (enum drv__fcol):
 * the job, the status reason, whether it was cancelled, terminated. */
enum drv__fcol { DRV__FC_JOB_ID, DRV__FC_REASON, DRV__FC_CANCELLED,
                 DRV__FC_TERMINATED };

/* Fail every job that query `sql` lists (its columns: enum drv__fcol),
 * in one statement, their side effects in the list's order. `sql` is
 * pasted into that statement: a constant of the caller's, never input
 * (values go in params). 0, or -1 on a database error. */
int drv__transition_fail_listed(drv_disp_t *disp, const char *sql,
                                int nparams, const char *const *params,
                                char *errstr, size_t errstr_size);

/* Row `row` of r, whose DRV__TRANSITION_RETURNING columns start at column
 * `col0`, is a change another statement made: perform its side effects.
 * A row whose status equals its prev (recorded as it was) sends no event
 * and counts no transition, but its wake list is still followed. */
void drv__transition_done(drv_disp_t *disp, const drv_pg_res_t *r, int row,
                          int col0);

/* Columns an event shows in place of its row's: v[c] for each column c
 * (enum drv__tcol) that set[c] names, NULL being SQL NULL. */
typedef struct drv__event_as {
    const char *v[DRV__TC_COUNT];
    bool set[DRV__TC_COUNT];
} drv__event_as_t;

/* Every row of r (taken: freed here; NULL: the statement failed), whose
 * DRV__TRANSITION_RETURNING columns start at column 0, through
 * drv__transition_done: how many, or -1 for a NULL r. */
int drv__transition_rows(drv_disp_t *disp, drv_pg_res_t *r);

/* drv__transition_done, its event (and whether it moved) read through
 * `as` (NULL: the row as it is). */
void drv__transition_done_as(drv_disp_t *disp, const drv_pg_res_t *r,
                             int row, int col0, const drv__event_as_t *as);

/* A status the job of row `row` passed through on the way to the row's,
 * within one change (folded reports): its event and transition count,
 * the row read through `as`, and no other side effect. */
void drv__transition_passed(drv_disp_t *disp, const drv_pg_res_t *r,
                            int row, int col0, const drv__event_as_t *as);

/* Take the queued follow-ups (the caller frees them with
 * drv__followups_free); the queue is empty afterwards. */
drv__followup_t *drv__followups_take(drv_disp_t *disp, size_t *n);
void drv__followups_free(drv__followup_t *fu, size_t n);
/* The transaction rolled back: nothing it changed needs following. */
void drv__followups_discard(drv_disp_t *disp);

/* Free an id list's strings and reset it. */
void drv__ids_clear(drv__ids_t *ids);
/* Append an id. */
void drv__ids_add(drv__ids_t *ids, const char *id);

#endif
