/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libdrover's client API: what the `drover` CLI uses, and what a C service
 * links to submit and inspect jobs without shelling out.
 *
 * Every operation takes a request and returns a response shaped like the
 * AWS Batch API's (camelCase JSON, as in botocore's batch service model).
 * Control-plane operations (definitions, queues, compute environments)
 * write PostgreSQL in one transaction; jobs only ever enter through Kafka
 * (SubmitJob, CancelJob and TerminateJob are validated here, then produced
 * to the queue's submit topic with an idempotent producer); reads come
 * from PostgreSQL.
 *
 * Ownership: the client borrows conf and log for its life; responses are
 * new references owned by the caller; requests are borrowed.
 * Thread safety: one client per thread.
 */
#ifndef DRV_PRODUCER_H
#define DRV_PRODUCER_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "drover/conf.h"
#include "drover/err.h"
#include "drover/limits.h"
#include "drover/log.h"

typedef struct drv_client drv_client_t;

/** Deepest nesting a request may have (the top-level object is 1). AWS's
 *  shapes are never deeper than about 10; the aws CLI, boto3 and the Java
 *  SDK cannot read JSON deeper than 1,000, so a definition stored deeper
 *  would break every listing. */
#define DRV_CLIENT_DEPTH_MAX DRV_JSON_DEPTH_MAX

/** Largest reply drv_client_call builds, serialized (16 MiB): an operation
 *  whose reply would be larger is refused (DRV_ERR_INVALID) instead. */
#define DRV_CLIENT_REPLY_MAX DRV_REPLY_MAX

/** @brief A client; connections are opened on first use. */
drv_client_t *drv_client_new(const drv_conf_t *conf, drv_log_t *log);
void drv_client_destroy(drv_client_t *client);

/**
 * @brief Run one operation by its AWS name: "SubmitJob", "DescribeJobs",
 * "ListJobs", "CancelJob", "TerminateJob", "RegisterJobDefinition",
 * "DescribeJobDefinitions", "DeregisterJobDefinition",
 * "CreateComputeEnvironment", "DescribeComputeEnvironments",
 * "CreateJobQueue", "UpdateJobQueue", "DescribeJobQueues".
 * @param err_out set to DRV_ERR_INVALID / DRV_ERR_NOTFOUND for the caller's
 *        mistakes (AWS's ClientException), DRV_ERR_TRANSIENT or
 *        DRV_ERR_FATAL for infrastructure trouble (ServerException).
 * @remark Every request is refused (DRV_ERR_INVALID) when nested deeper
 *         than DRV_CLIENT_DEPTH_MAX, and every reply when it would exceed
 *         DRV_CLIENT_REPLY_MAX serialized; these checks come before any
 *         connection is opened.
 * @returns the response, or NULL with errstr set.
 */
json_t *drv_client_call(drv_client_t *client, const char *operation,
                        json_t *request, drv_err_t *err_out, char *errstr,
                        size_t errstr_size);

/**
 * @brief SubmitJob for many jobs at once: every request is completed and
 * checked as drv_client_call's SubmitJob does (queue and definition looked
 * up once per distinct pair; a dependency may name a job earlier in the
 * same batch), then all are produced and acknowledged by Kafka together.
 * Nothing is sent unless every request passes; errstr then names the
 * failing request's index. Jobs of one batch reach the dispatcher in no
 * particular order (a dependent waits for its dependency to be recorded).
 * @returns an array of SubmitJob responses in request order, or NULL.
 *          After a Kafka failure some jobs may have been sent: requests
 *          that carry their own jobId can simply be retried (an identical
 *          resubmission is a no-op).
 */
json_t *drv_client_submit_jobs(drv_client_t *client, json_t *requests,
                               drv_err_t *err_out, char *errstr,
                               size_t errstr_size);

/**
 * @brief The id of a job named by its id or by its name (AWS: "Jobs can
 * reference other jobs by name or by ID"): a job's id first; else the
 * newest job of that name, recorded or submitted and not recorded yet. A
 * name used in more than one job queue is ambiguous.
 * @returns DRV_OK with the id in out, DRV_ERR_NOTFOUND, DRV_ERR_INVALID
 *          (ambiguous) or another error; errstr says which.
 */
drv_err_t drv_client_job_id(drv_client_t *client, const char *ref,
                            char *out, size_t out_size, char *errstr,
                            size_t errstr_size);

/** @brief Whether drv_client_call serves `operation` (its ops table). */
bool drv_client_serves(const char *operation);

#endif
