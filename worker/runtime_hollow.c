/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The hollow runtime: every protocol step (claim, RUNNING, the outcome)
 * and no work - each attempt "exits 0" at once. For control-plane
 * benchmarks only; it must stay as cheap as the protocol itself.
 */
#include <stdio.h>

#include "runtime.h"

static int hollow_start(drv__rt_attempt_t *ra, char *errstr,
                        size_t errstr_size)
{
    (void)errstr;
    (void)errstr_size;
    snprintf(ra->cid, sizeof(ra->cid), "hollow");
    return 0;
}

static drv__rt_wait_t hollow_wait(drv__rt_attempt_t *ra, int64_t timeout_ms,
                                  int *exit_code, char *errstr,
                                  size_t errstr_size)
{
    (void)ra;
    (void)timeout_ms;
    (void)errstr;
    (void)errstr_size;
    *exit_code = 0;
    return DRV__RT_EXITED;
}

const drv__rt_ops_t drv__rt_hollow = {
    .name = "hollow",
    .times_start = false,
    .mounts = true, /* runs nothing; its policy check is a container's */
    .start = hollow_start,
    .wait = hollow_wait,
};
