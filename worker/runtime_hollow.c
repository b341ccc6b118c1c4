/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The hollow runtime: every protocol step (claim, RUNNING, the outcome)
 * and no work - each attempt "exits 0" at once, or 1 when its command is
 * just `false` (benchmarks of failing work). For control-plane benchmarks
 * only; it must stay as cheap as the protocol itself.
 */
#include <stdio.h>
#include <string.h>

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
    (void)timeout_ms;
    (void)errstr;
    (void)errstr_size;
    json_t *cmd = json_object_get(ra->run, "command");
    const char *c0 = json_string_value(json_array_get(cmd, 0));
    *exit_code = json_array_size(cmd) == 1 && c0 && !strcmp(c0, "false");
    return DRV__RT_EXITED;
}

const drv__rt_ops_t drv__rt_hollow = {
    .name = "hollow",
    .times_start = false,
    .mounts = true, /* runs nothing; its policy check is a container's */
    .start = hollow_start,
    .wait = hollow_wait,
};
