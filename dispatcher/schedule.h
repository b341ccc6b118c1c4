/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The scheduler: releases RUNNABLE jobs to the run topics of their queues'
 * compute environments, by queue priority, then scheduling priority, then
 * age, while each environment's released-and-unfinished jobs fit its vCPU
 * and memory budget. A released job gets a new attempt and a RunJob.
 */
#ifndef DRV_DISP_SCHEDULE_H
#define DRV_DISP_SCHEDULE_H

#include "dispatcher_int.h"

/* One scheduling pass inside the open transaction. */
int drv__schedule_pass(drv_disp_t *disp, char *errstr, size_t errstr_size);

#endif
