/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Drover's messages as C structs: a record is decoded once, at the edge
 * where it enters a process (drv_msg_decode: the codec's decoding, which
 * refuses strings that are not valid UTF-8 or hold a NUL, then each field
 * of the record's schema read into its struct, required ones checked, and
 * statuses as enums). Code past the edge works on these structs.
 *
 * Documents that stay JSON by design: a SubmitJob (it is stored and
 * resolved as the AWS request it is) and a RunJob's container settings
 * (turned into the runtime's own document), both borrowed from `obj`.
 *
 * Ownership: a decoded message owns its record; every string and JSON
 * value in it is borrowed from that record until drv_msg_clear.
 */
#ifndef DRV_MESSAGES_H
#define DRV_MESSAGES_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "drover/avro_codec.h"
#include "drover/err.h"
#include "drover/job.h"

typedef enum drv_msg_type {
    DRV_MSG_SUBMIT_JOB,    /* JobRequest with SubmitJob */
    DRV_MSG_CANCEL_JOB,    /* JobRequest with CancelJob */
    DRV_MSG_TERMINATE_JOB, /* JobRequest with TerminateJob */
    DRV_MSG_JOB_STATUS,
    DRV_MSG_HEARTBEAT,
    DRV_MSG_RUN_JOB,
    DRV_MSG_STOP_ATTEMPT,
    DRV_MSG_STATE_CHANGE,
} drv_msg_type_t;

/* A worker's report on an attempt (JobStatus). */
typedef struct drv_msg_status {
    const char *job_id;
    int attempt;
    drv_job_status_t status; /* STARTING, RUNNING, SUCCEEDED or FAILED */
    const char *worker;
    int64_t worker_started_at; /* the reporting process's start */
    int64_t timestamp;
    bool has_exit_code;
    int exit_code;
    const char *reason, *status_reason;    /* nullable */
    const char *container_id, *log_stream; /* nullable */
    /* set by the dispatcher, not decoded: the compute environment of the
     * signed origin (drover/origin.h), NULL where origins are not checked */
    const char *origin_ce;
} drv_msg_status_t;

/* A worker's capacity and liveness (WorkerHeartbeat). */
typedef struct drv_msg_heartbeat {
    const char *worker;
    const char *compute_environment;
    double vcpus_total, vcpus_free;
    int64_t memory_total_mib, memory_free_mib;
    int64_t started_at, timestamp;
    bool draining;
    int64_t gpus_total, gpus_free;
    json_t *partitions; /* borrowed from the record: its run topic's
                           partitions the worker consumes, [int] */
} drv_msg_heartbeat_t;

/* CancelJob, TerminateJob, and StopAttempt (the dispatcher's request to
 * workers: attempt and worker set). */
typedef struct drv_msg_stop {
    const char *job_id;
    const char *reason;
    int attempt;        /* StopAttempt */
    const char *worker; /* StopAttempt, nullable: whichever runs it */
} drv_msg_stop_t;

/* One attempt to run (RunJob). */
typedef struct drv_msg_run {
    const char *job_id;
    int attempt;
    const char *job_name, *job_queue, *compute_environment, *job_definition;
    const char *image;
    double vcpus;
    int64_t memory_mib;
    int64_t timeout_s; /* 0: none */
    bool is_array_child;
    int64_t array_index, array_size;
    int64_t gpus; /* whole GPUs, 0..64 */
} drv_msg_run_t;

typedef struct drv_msg {
    drv_msg_type_t type;
    json_t *obj; /* the decoded record (owned) */
    union {
        json_t *submit; /* DRV_MSG_SUBMIT_JOB: the SubmitJob document */
        drv_msg_status_t status;
        drv_msg_heartbeat_t heartbeat;
        drv_msg_stop_t stop; /* cancel, terminate, StopAttempt */
        drv_msg_run_t run;
    } u;
} drv_msg_t;

/**
 * @brief Decode message bytes into *m.
 * @returns DRV_OK, or DRV_ERR_INVALID with errstr (undecodable, a string
 *          that is not valid UTF-8 or holds a NUL, a required field
 *          missing, a status a worker cannot report); *m then holds
 *          nothing.
 */
drv_err_t drv_msg_decode(drv_codec_t *codec, const void *buf, size_t len,
                         drv_msg_t *m, char *errstr, size_t errstr_size);

/**
 * @brief drv_msg_decode's second half: a record already decoded (as
 * drv_codec_decode gives it, of schema `name`) into *m. Takes ownership
 * of obj, also on failure.
 */
drv_err_t drv_msg_from_record(const char *name, json_t *obj, drv_msg_t *m,
                              char *errstr, size_t errstr_size);

/** @brief Free what *m holds (safe on a cleared or failed message). */
void drv_msg_clear(drv_msg_t *m);

/** @brief The record's schema name ("JobStatus", "RunJob", ...). */
const char *drv_msg_type_name(drv_msg_type_t type);

#endif
