/* SPDX-License-Identifier: Apache-2.0 */
/* Retry decisions (retry.h). */
#include "retry.h"

#include <string.h>

drv_job_status_t drv__retry_decide(const drv__outcome_t *o,
                                   json_t *retry_strategy, int attempts,
                                   bool stopped_by_user, drv__change_t *c)
{
    *c = (drv__change_t){.status_reason = o->status_reason,
                         .exit_code = o->exit_code,
                         .reason = o->reason};
    if (o->succeeded) {
        return DRV_JOB_SUCCEEDED;
    }
    if (stopped_by_user) {
        c->status_reason = NULL; /* keep the terminate request's reason */
        return DRV_JOB_FAILED;
    }
    bool timed_out = o->status_reason &&
                     !strcmp(o->status_reason, DRV_REASON_TIMEOUT);
    if (!timed_out &&
        drv_job_should_retry(retry_strategy, attempts, o->exit_code,
                             o->reason, o->status_reason)) {
        return DRV_JOB_RUNNABLE;
    }
    return DRV_JOB_FAILED;
}
