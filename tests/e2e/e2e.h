/* SPDX-License-Identifier: Apache-2.0 */
/* Helpers for the end-to-end suites: they run against the stack that
 * tests/e2e/run starts (DROVER_CONFIG points at it). */
#ifndef DRV_E2E_H
#define DRV_E2E_H

#include <check.h>
#include <jansson.h>

#include "drover/conf.h"
#include "drover/kafka.h"
#include "drover/origin.h"
#include "drover/producer.h"

extern drv_conf_t *e2e_conf;
extern drv_client_t *e2e_client;

void e2e_setup(void);
void e2e_teardown(void);

/* The configuration of one of the stack's Kafka roles (admin, dispatcher,
 * observer, or a worker's file name "worker-<id>"): the caller destroys. */
drv_conf_t *e2e_role_conf(const char *role);
/* Headers signing buf as worker `worker` of compute environment `ce`
 * would, with the stack's master secret; origin and sig are the storage
 * (DRV_ORIGIN_NAME_SIZE and DRV_ORIGIN_SIG_HEX_SIZE bytes). */
void e2e_sign(const char *ce, const char *worker, const void *buf,
              size_t len, char *origin, char *sig, drv_kheader_t h[2]);

/* Call an operation; fails the test if it is refused. */
json_t *e2e_call(const char *op, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Register a definition running `command` (a JSON array) in busybox. */
void e2e_register(const char *name, const char *command_json, int memory_mib);
/* Submit to queue "default"; returns the job id (static buffer per call). */
const char *e2e_submit(const char *name, const char *definition,
                       const char *extra_json);
/* Submit to any queue with extra members (JSON text without braces). */
const char *e2e_submit_to(const char *queue, const char *name,
                          const char *definition, const char *extra_json);
/* Register a definition from its containerProperties JSON and extra
 * top-level members (nullable). */
void e2e_register_full(const char *name, const char *container_json,
                       const char *extra_json);
/* A job's field as an integer (0 when absent). */
json_int_t e2e_int(json_t *job, const char *key);
/* Read a job attempt's output kept by the workers (caller frees). */
char *e2e_job_log(const char *job_id, int attempt);
/* Wait (up to timeout_s) until the job is SUCCEEDED or FAILED. */
json_t *e2e_wait(const char *job_id, int timeout_s);
/* Wait until the job reaches `status` (or any later state). */
json_t *e2e_wait_status(const char *job_id, const char *status,
                        int timeout_s);
/* Run the drover CLI; returns its exit status, stderr in err_out. */
int e2e_cli(const char *args, char *err_out, size_t err_size);

#endif
