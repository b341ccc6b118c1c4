/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Dependencies: explicit edges (dependsOn with a job id) are rows of
 * job_dependencies; what a job's change sets off is worked off here, in
 * order (drv__deps_drain): dependents of a finished job, its array parent
 * or its waiting children, jobs that waited for a job to be recorded.
 */
#ifndef DRV_DISP_DEPS_H
#define DRV_DISP_DEPS_H

#include "dispatcher_int.h"

/* Decide a SUBMITTED or PENDING job's fate from its dependencies: wait
 * (a dependency not recorded yet, or not finished), fail (one failed), or
 * go on (RUNNABLE; an array parent PENDING with its children released). */
int drv__deps_evaluate(drv_disp_t *disp, const char *job_id, char *errstr,
                       size_t errstr_size);
/* drv__deps_evaluate for each id, in order. */
int drv__deps_evaluate_all(drv_disp_t *disp, const drv__ids_t *ids,
                           char *errstr, size_t errstr_size);
/* Work off every queued follow-up (transition.h), those it queues too. */
int drv__deps_drain(drv_disp_t *disp, char *errstr, size_t errstr_size);
/* Fail SUBMITTED jobs whose dependencies never appeared within
 * dispatcher.dependency.grace.ms. */
int drv__deps_sweep(drv_disp_t *disp, char *errstr, size_t errstr_size);

#endif
