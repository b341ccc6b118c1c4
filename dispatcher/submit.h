/* SPDX-License-Identifier: Apache-2.0 */
/*
 * SubmitJob: validated again here (any Kafka client may produce), resolved
 * against its definition, and recorded by one INSERT that gives the job
 * its status (one INSERT for many: a consumed run's submissions that need
 * nothing more): FAILED when refused (with the reason), RUNNABLE when it
 * waits for nothing, SUBMITTED when it is an array or names jobs in
 * dependsOn (its edges, children and evaluation follow). A job id
 * recorded before is a redelivery or a client's retry (the same body: a
 * no-op) or a different submission (drover.dlq).
 */
#ifndef DRV_DISP_SUBMIT_H
#define DRV_DISP_SUBMIT_H

#include "dispatcher_int.h"
#include "drover/submission.h"
#include "rows.h"

/* A submission prepared for its INSERT: what it was resolved to and its
 * status. */
typedef struct drv__submission {
    json_t *sj; /* the SubmitJob (borrowed from the message) */
    drv_submission_t ck; /* what it resolved to: nothing when refused, */
    char reason[DRV_ERRSTR_SIZE]; /* and why, or a database error */
    drv_job_status_t status;
} drv__submission_t;

/* Validate and resolve SubmitJob `sj`, which came on topic `source`, into
 * *s. 0 (s->resolved, or s->reason when refused), or -1 on a database
 * error (s->reason says which). drv__submit_clear frees *s either way.
 * The check is drover/submission.h's, as the producer's; here the queue
 * must also be the topic's, and a job named in dependsOn may not be
 * recorded yet (the job waits for it), except an N_TO_N one. */
int drv__submit_prepare(drv_disp_t *disp, json_t *sj, const char *source,
                        drv__submission_t *s);
void drv__submit_clear(drv__submission_t *s);
/* Whether its INSERT is all a prepared submission needs (refused, or
 * RUNNABLE): such submissions are recorded many at a time. */
bool drv__submit_is_simple(const drv__submission_t *s);
/* The INSERT recording prepared submissions subs[0..n-1], in their order
 * (its parameters in ss; free them with drv__rows_clear). Of two with one
 * job id, the first is recorded. */
drv_pg_stmt_t drv__submits_stmt(drv__rows_t *ss,
                                const drv__submission_t *const *subs,
                                size_t n);
/* Act on the INSERT's result r: taken[i] says whether the job id of
 * subs[i] was taken (the caller then calls drv__submit_again). */
void drv__submits_recorded(drv_disp_t *disp,
                           const drv__submission_t *const *subs, size_t n,
                           const drv_pg_res_t *r, bool *taken);
/* The job id of `s` was taken: ignore a redelivery, send a different
 * submission to the DLQ. */
int drv__submit_again(drv_disp_t *disp, const drv__submission_t *s,
                      const drv__origin_t *from, char *errstr,
                      size_t errstr_size);
/* Record a prepared submission and everything that follows from it. */
int drv__submit_apply(drv_disp_t *disp, drv__submission_t *s,
                      const drv__origin_t *from, char *errstr,
                      size_t errstr_size);

#endif
