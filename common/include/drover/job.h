/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The job model shared by producers and the dispatcher: states, ARNs,
 * validation of AWS-shaped requests (the same code runs in the CLI before
 * producing and in the dispatcher after consuming), and resolution of a
 * submission against its job definition into the container to run.
 *
 * Requests and results are jansson objects shaped like the AWS Batch API
 * (camelCase members). Ownership: functions returning json_t* return a new
 * reference owned by the caller; parameters are borrowed.
 * Thread safety: every function is reentrant.
 */
#ifndef DRV_JOB_H
#define DRV_JOB_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "drover/limits.h"

typedef enum drv_job_status {
    DRV_JOB_SUBMITTED = 0,
    DRV_JOB_PENDING,
    DRV_JOB_RUNNABLE,
    DRV_JOB_STARTING,
    DRV_JOB_RUNNING,
    DRV_JOB_SUCCEEDED,
    DRV_JOB_FAILED,
} drv_job_status_t;

#define DRV_JOB_STATUS_COUNT 7

/** AWS's status reasons that other components match on. */
#define DRV_REASON_EXITED "Essential container in task exited"
#define DRV_REASON_DEPENDENCY "Dependent Job failed"
#define DRV_REASON_TIMEOUT "Job attempt duration exceeded timeout"
#define DRV_REASON_OOM "OutOfMemoryError: Container killed due to memory usage"
#define DRV_REASON_START_FAILED "Task failed to start"
/* a worker stopped heartbeating or restarted (AWS: the EC2 host is gone) */
/* AWS's message when a secret cannot be read */
#define DRV_REASON_SECRETS "ResourceInitializationError: unable to pull secrets or registry auth"
#define DRV_REASON_HOST_LOST_FMT "Host EC2 (instance %s) terminated."

const char *drv_job_status_name(drv_job_status_t st);
/** @returns 0 and sets *out, or -1 for an unknown name. */
int drv_job_status_parse(const char *name, drv_job_status_t *out);
bool drv_job_status_is_terminal(drv_job_status_t st);

/** Limits that differ between AWS and a test stack. */
typedef struct drv_job_limits {
    int timeout_min_seconds; /**< AWS: 60 */
} drv_job_limits_t;

/** @brief true when name matches AWS's job name pattern (<=128). */
bool drv_job_name_valid(const char *name);
/** @brief Names of definitions, queues, CEs: [A-Za-z0-9_-]{1,128}. */
bool drv_resource_name_valid(const char *name);

/* A job id: 1 to 128 letters, digits, '-' and '_' (the producer's are
 * UUIDs); with `child`, also an array child's "<parent>:<index>". It names
 * files and containers on workers, so nothing else is one. */
bool drv_job_id_valid(const char *id, bool child);

/**
 * @brief Build an ARN: arn:aws:batch:<region>:<account>:<kind>/<name>.
 * @param kind "job", "job-queue", "job-definition", "compute-environment".
 */
void drv_arn(char *out, size_t size, const char *region, const char *account,
             const char *kind, const char *name);

/**
 * @brief The resource name of a name-or-ARN reference ("q" from
 * "arn:...:job-queue/q"); writes into out, which may be ref itself.
 */
void drv_arn_name(const char *ref, char *out, size_t size);

/*
 * An AWS Batch ARN, arn:aws:batch:REGION:ACCOUNT:KIND/NAME, parsed to the
 * resource it identifies: kind ("job-queue", "job", "job-definition",
 * "compute-environment") and name (a definition's with ":revision" when
 * it has one). One naming another region or account than this Drover's
 * (aws.region, aws.account) identifies nothing here. 0, or -1 with errstr
 * saying what is wrong.
 */
int drv_arn_parse(const char *arn, const char *region, const char *account,
                  char *kind, size_t kind_size, char *name, size_t name_size,
                  char *errstr, size_t errstr_size);

/**
 * @brief Validate a SubmitJob request (AWS shape plus a jobId).
 * @returns 0, or -1 with AWS's message (or a clear one) in errstr.
 */
int drv_job_validate_submit(json_t *req, const drv_job_limits_t *limits,
                            char *errstr, size_t errstr_size);

/** @brief Validate a RegisterJobDefinition request. */
/* The secret store's name in a secrets[].valueFrom: the value itself, or
 * the name inside a Secrets Manager or SSM parameter ARN. */
const char *drv_job_secret_ref(const char *value_from);

int drv_job_validate_definition(json_t *req, const drv_job_limits_t *limits,
                                char *errstr, size_t errstr_size);

/**
 * @brief Replace Ref::name argv elements (and Ref::name inside longer
 * elements) with parameter values; params override defaults.
 * @returns a new array, or NULL with AWS's "Unable to substitute value"
 *          message.
 */
json_t *drv_job_substitute(json_t *command, json_t *params, json_t *defaults,
                           char *errstr, size_t errstr_size);

/**
 * @brief Resolve a submission against its definition: the container to run
 * {image, command, environment, vcpus, memory, ...}, the retry strategy and
 * the timeout, submission values winning over the definition's.
 * @returns {"container":{...}, "retryStrategy":{...}?, "timeout":{...}?},
 *          or NULL with errstr set.
 */
json_t *drv_job_resolve(json_t *definition, json_t *submit,
                        const drv_job_limits_t *limits, char *errstr,
                        size_t errstr_size);

/**
 * @brief Should a failed attempt be retried? Applies AWS's rules: attempts
 * left, evaluateOnExit entries in order (conditions ANDed, glob with a
 * trailing '*'), first match decides, no match means retry.
 * @param exit_code the attempt's exit code, or -1 when there is none.
 * @param reason container reason (nullable); status_reason nullable.
 */
bool drv_job_should_retry(json_t *retry_strategy, int attempts_made,
                          int exit_code, const char *reason,
                          const char *status_reason);

#endif
