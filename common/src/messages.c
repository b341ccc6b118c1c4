/* SPDX-License-Identifier: Apache-2.0 */
/* Records into structs (messages.h): each schema's fields are read here,
 * once. */
#include "drover/messages.h"

#include <string.h>

#include "drover/limits.h"
#include "drover/util.h"

static const char *str(json_t *o, const char *name)
{
    return json_string_value(json_object_get(o, name));
}

static int64_t num(json_t *o, const char *name)
{
    return (int64_t)json_integer_value(json_object_get(o, name));
}

/* Whether string s (nullable) has at most max bytes. */
static bool fits(const char *s, size_t max)
{
    return !s || strlen(s) <= max;
}

/* Longest worker id, container id or log stream name a report may carry;
 * reasons are bounded by DRV_REASON_MAX (the worker writes no longer). */
#define NAME_MAX_BYTES DRV_WORKER_FIELD_MAX

static const char *decode_status(json_t *o, drv_msg_status_t *st)
{
    json_t *ec = json_object_get(o, "exitCode");
    *st = (drv_msg_status_t){.job_id = str(o, "jobId"),
                             .attempt = (int)num(o, "attempt"),
                             .worker = str(o, "worker"),
                             .worker_started_at = num(o, "workerStartedAt"),
                             .timestamp = num(o, "timestamp"),
                             .has_exit_code = json_is_integer(ec),
                             .exit_code = (int)json_integer_value(ec),
                             .reason = str(o, "reason"),
                             .status_reason = str(o, "statusReason"),
                             .container_id = str(o, "containerId"),
                             .log_stream = str(o, "logStreamName")};
    const char *s = str(o, "status");
    if (!drv_job_id_valid(st->job_id, true) || !st->worker || !s ||
        drv_job_status_parse(s, &st->status) != 0) {
        return "a JobStatus needs a job id, worker and a status";
    }
    if (!fits(st->worker, NAME_MAX_BYTES) ||
        !fits(st->container_id, NAME_MAX_BYTES) ||
        !fits(st->log_stream, NAME_MAX_BYTES) ||
        !fits(st->reason, DRV_REASON_MAX) ||
        !fits(st->status_reason, DRV_REASON_MAX)) {
        return "a JobStatus's worker, containerId and logStreamName have at "
               "most 255 bytes, its reasons at most 1024";
    }
    if (st->status != DRV_JOB_STARTING && st->status != DRV_JOB_RUNNING &&
        st->status != DRV_JOB_SUCCEEDED && st->status != DRV_JOB_FAILED) {
        return "a worker reports STARTING, RUNNING, SUCCEEDED or FAILED";
    }
    return NULL;
}

static const char *decode_heartbeat(json_t *o, drv_msg_heartbeat_t *hb)
{
    *hb = (drv_msg_heartbeat_t){
        .worker = str(o, "worker"),
        .compute_environment = str(o, "computeEnvironment"),
        .vcpus_total = json_number_value(json_object_get(o, "vcpusTotal")),
        .vcpus_free = json_number_value(json_object_get(o, "vcpusFree")),
        .memory_total_mib = num(o, "memoryTotalMiB"),
        .memory_free_mib = num(o, "memoryFreeMiB"),
        .started_at = num(o, "startedAt"),
        .timestamp = num(o, "timestamp"),
        .draining = json_is_true(json_object_get(o, "draining")),
        .gpus_total = num(o, "gpusTotal"),
        .gpus_free = num(o, "gpusFree"),
        .partitions = json_object_get(o, "partitions")};
    if (!hb->worker || !*hb->worker || !fits(hb->worker, NAME_MAX_BYTES) ||
        !hb->compute_environment ||
        !drv_resource_name_valid(hb->compute_environment)) {
        return "a WorkerHeartbeat needs a worker (at most 255 bytes) and a "
               "compute environment name";
    }
    /* the dispatcher sums what workers offer (an environment without a
     * budget): 1e308 vCPUs overflowed that sum and halted every pass */
    if (!(hb->vcpus_total >= 0 && hb->vcpus_total <= DRV_VCPUS_MAX) ||
        !(hb->vcpus_free >= -DRV_VCPUS_MAX &&
          hb->vcpus_free <= DRV_VCPUS_MAX) ||
        hb->memory_total_mib < 0 ||
        hb->memory_total_mib > DRV_MEMORY_MIB_MAX ||
        hb->memory_free_mib < -DRV_MEMORY_MIB_MAX ||
        hb->memory_free_mib > DRV_MEMORY_MIB_MAX) {
        return "a WorkerHeartbeat offers 0 to 4096 vCPUs and 0 to 2^30 MiB";
    }
    if (hb->gpus_total < 0 || hb->gpus_total > DRV_GPUS_MAX ||
        hb->gpus_free < 0 || hb->gpus_free > hb->gpus_total) {
        return "a WorkerHeartbeat has 0 to 64 GPUs, at most all of them free";
    }
    size_t i;
    json_t *p;
    if (json_array_size(hb->partitions) > DRV_HEARTBEAT_PARTITIONS_MAX) {
        return "a WorkerHeartbeat lists at most 1024 partitions";
    }
    json_array_foreach(hb->partitions, i, p)
    {
        if (!json_is_integer(p) || json_integer_value(p) < 0 ||
            json_integer_value(p) >= DRV_PARTITION_MAX) {
            return "a WorkerHeartbeat's partitions are 0 to 2^20 - 1";
        }
    }
    return NULL;
}

static const char *decode_request(json_t *o, drv_msg_t *m)
{
    json_t *req = json_object_get(o, "request"), *v;
    if ((v = json_object_get(req, "SubmitJob"))) {
        m->type = DRV_MSG_SUBMIT_JOB;
        m->u.submit = v;
        /* the id names the job's files and containers: refused here, not
         * recorded as a failed job under a name that is no job id */
        return drv_job_id_valid(str(v, "jobId"), false)
                   ? NULL
                   : "a SubmitJob's jobId must be 1 to 128 letters, digits, "
                     "- and _";
    }
    bool terminate = (v = json_object_get(req, "TerminateJob")) != NULL;
    if (terminate || (v = json_object_get(req, "CancelJob"))) {
        m->type = terminate ? DRV_MSG_TERMINATE_JOB : DRV_MSG_CANCEL_JOB;
        m->u.stop = (drv_msg_stop_t){.job_id = str(v, "jobId"),
                                     .reason = str(v, "reason")};
        return drv_job_id_valid(m->u.stop.job_id, true)
                   ? NULL
                   : "a cancel or terminate needs a job id";
    }
    return "a JobRequest with no request";
}

static const char *decode_stop_attempt(json_t *o, drv_msg_stop_t *st)
{
    *st = (drv_msg_stop_t){.job_id = str(o, "jobId"),
                           .reason = str(o, "reason"),
                           .attempt = (int)num(o, "attempt"),
                           .worker = str(o, "worker")};
    return drv_job_id_valid(st->job_id, true) ? NULL
                                              : "a StopAttempt needs a job id";
}

static const char *decode_run(json_t *o, drv_msg_run_t *run)
{
    json_t *to = json_object_get(o, "timeoutSeconds");
    json_t *index = json_object_get(o, "arrayIndex");
    *run = (drv_msg_run_t){
        .job_id = str(o, "jobId"),
        .attempt = (int)num(o, "attempt"),
        .job_name = str(o, "jobName"),
        .job_queue = str(o, "jobQueue"),
        .compute_environment = str(o, "computeEnvironment"),
        .job_definition = str(o, "jobDefinition"),
        .image = str(o, "image"),
        .vcpus = json_number_value(json_object_get(o, "vcpus")),
        .memory_mib = num(o, "memoryMiB"),
        .timeout_s = json_is_integer(to) ? json_integer_value(to) : 0,
        .is_array_child = json_is_integer(index),
        .array_index = json_integer_value(index),
        .array_size = num(o, "arraySize"),
        .gpus = num(o, "gpus")};
    if (!drv_job_id_valid(run->job_id, true) || !run->job_queue ||
        !run->image) {
        return "a RunJob needs a job id, jobQueue and image";
    }
    /* the worker multiplies them into nanoCPUs and bytes: bounded first
     * (a NaN fails every comparison) */
    if (!(run->vcpus > 0 && run->vcpus <= DRV_VCPUS_MAX) ||
        run->memory_mib < 0 || run->memory_mib > DRV_MEMORY_MIB_MAX ||
        run->attempt < 1 || run->timeout_s < 0 || run->gpus < 0 ||
        run->gpus > DRV_GPUS_MAX) {
        return "a RunJob's vcpus must be over 0 and at most 4096, its "
               "memoryMiB 0 to 2^30, its attempt at least 1, its "
               "timeoutSeconds not negative and its gpus 0 to 64";
    }
    return NULL;
}

static const struct {
    const char *name;
    drv_msg_type_t type;
} types[] = {{"JobRequest", DRV_MSG_SUBMIT_JOB},
             {"JobStatus", DRV_MSG_JOB_STATUS},
             {"WorkerHeartbeat", DRV_MSG_HEARTBEAT},
             {"RunJob", DRV_MSG_RUN_JOB},
             {"StopAttempt", DRV_MSG_STOP_ATTEMPT},
             {"JobStateChange", DRV_MSG_STATE_CHANGE}};

const char *drv_msg_type_name(drv_msg_type_t type)
{
    if (type == DRV_MSG_CANCEL_JOB || type == DRV_MSG_TERMINATE_JOB) {
        return "JobRequest";
    }
    for (size_t i = 0; i < DRV_ARRAY_SIZE(types); i++) {
        if (types[i].type == type) {
            return types[i].name;
        }
    }
    return "?";
}

/* The struct for the record's type; NULL, or why it is unusable. */
static const char *decode_fields(drv_msg_t *m)
{
    switch (m->type) {
    case DRV_MSG_SUBMIT_JOB:
    case DRV_MSG_CANCEL_JOB:
    case DRV_MSG_TERMINATE_JOB:
        return decode_request(m->obj, m);
    case DRV_MSG_JOB_STATUS:
        return decode_status(m->obj, &m->u.status);
    case DRV_MSG_HEARTBEAT:
        return decode_heartbeat(m->obj, &m->u.heartbeat);
    case DRV_MSG_RUN_JOB:
        return decode_run(m->obj, &m->u.run);
    case DRV_MSG_STOP_ATTEMPT:
        return decode_stop_attempt(m->obj, &m->u.stop);
    case DRV_MSG_STATE_CHANGE:
        return NULL; /* read by status consumers as the document it is */
    }
    return "an unknown record";
}

drv_err_t drv_msg_from_record(const char *name, json_t *obj, drv_msg_t *m,
                              char *errstr, size_t errstr_size)
{
    memset(m, 0, sizeof(*m));
    m->obj = obj;
    const char *why = "an unknown record";
    for (size_t i = 0; i < DRV_ARRAY_SIZE(types); i++) {
        if (!strcmp(types[i].name, name)) {
            m->type = types[i].type;
            why = decode_fields(m);
            break;
        }
    }
    if (why) {
        drv_errstr_set(errstr, errstr_size, "unusable %s message: %s", name,
                       why);
        drv_msg_clear(m);
        return DRV_ERR_INVALID;
    }
    return DRV_OK;
}

drv_err_t drv_msg_decode(drv_codec_t *codec, const void *buf, size_t len,
                         drv_msg_t *m, char *errstr, size_t errstr_size)
{
    const char *name = NULL;
    json_t *obj = NULL;
    memset(m, 0, sizeof(*m));
    if (drv_codec_decode(codec, buf, len, &name, &obj, errstr,
                         errstr_size) != DRV_OK) {
        return DRV_ERR_INVALID;
    }
    return drv_msg_from_record(name, obj, m, errstr, errstr_size);
}

void drv_msg_clear(drv_msg_t *m)
{
    json_decref(m->obj);
    memset(m, 0, sizeof(*m));
}
