/* SPDX-License-Identifier: Apache-2.0 */
/* Helpers for the end-to-end suites: they run against the stack that
 * tests/e2e/run starts (DROVER_CONFIG points at it). */
#ifndef DRV_E2E_H
#define DRV_E2E_H

#include <check.h>
#include <jansson.h>

#include "drover/conf.h"
#include "drover/producer.h"

extern drv_conf_t *e2e_conf;
extern drv_client_t *e2e_client;

void e2e_setup(void);
void e2e_teardown(void);

/* Call an operation; fails the test if it is refused. */
json_t *e2e_call(const char *op, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Register a definition running `command` (a JSON array) in busybox. */
void e2e_register(const char *name, const char *command_json, int memory_mib);
/* Submit to queue "default"; returns the job id (static buffer per call). */
const char *e2e_submit(const char *name, const char *definition,
                       const char *extra_json);
/* Wait (up to timeout_s) until the job is SUCCEEDED or FAILED. */
json_t *e2e_wait(const char *job_id, int timeout_s);
/* Run the drover CLI; returns its exit status, stderr in err_out. */
int e2e_cli(const char *args, char *err_out, size_t err_size);

#endif
