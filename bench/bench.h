/* SPDX-License-Identifier: Apache-2.0 */
/* drover-bench's scenarios beside main.c's. */
#ifndef DRV_BENCH_H
#define DRV_BENCH_H

#include "drover/conf.h"

/* The gateway scenario (gateway.c): n concurrent SigV4 clients for
 * `seconds` per phase, submitting to `queue` (whose environment no worker
 * serves). Prints one JSON line; 0, or 1 when a request failed. */
int drv_bench_gateway(const drv_conf_t *conf, const char *queue, int n,
                      int seconds);

#endif
