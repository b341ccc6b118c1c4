/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Where a retry is decided: what an attempt's end means for its job, from
 * the report, the job's retry strategy (attempts, evaluateOnExit) and
 * whether a user stopped it. Decides only; the caller makes the change.
 */
#ifndef DRV_DISP_RETRY_H
#define DRV_DISP_RETRY_H

#include "dispatcher_int.h"
#include "transition.h"

/* An attempt's outcome as its worker reported it. */
typedef struct drv__outcome {
    bool succeeded;
    int exit_code;              /* -1: none */
    const char *reason;         /* container reason, nullable */
    const char *status_reason;  /* nullable */
} drv__outcome_t;

/*
 * The job's next status after attempt number `attempts` ended with `o`:
 * SUCCEEDED; RUNNABLE when the strategy retries it (never when a user
 * cancelled or terminated it, or it timed out); else FAILED. Fills *c with
 * what the change records (a user's stop keeps its own reason).
 */
drv_job_status_t drv__retry_decide(const drv__outcome_t *o,
                                   json_t *retry_strategy, int attempts,
                                   bool stopped_by_user, drv__change_t *c);

#endif
