/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for drover/messages.h: records into structs, required fields
 * and statuses checked at the edge. */
#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check_main.h"
#include "drover/messages.h"

static drv_codec_t *codec;

static void setup(void)
{
    char e[DRV_ERRSTR_SIZE];
    codec = drv_codec_new(e, sizeof(e));
    ck_assert_msg(codec != NULL, "%s", e);
}

static void teardown(void)
{
    drv_codec_destroy(codec);
}

/* Encode obj (taken over) as schema and decode it into *m. */
static drv_err_t roundtrip(const char *schema, json_t *obj, drv_msg_t *m,
                           char *e, size_t esize)
{
    void *buf;
    size_t len;
    ck_assert_msg(drv_codec_encode(codec, schema, obj, &buf, &len, e,
                                   esize) == 0,
                  "%s", e);
    json_decref(obj);
    drv_err_t err = drv_msg_decode(codec, buf, len, m, e, esize);
    free(buf);
    return err;
}

static json_t *status(const char *st)
{
    return json_pack("{s:s,s:i,s:s,s:s,s:i,s:s,s:I,s:I}", "jobId", "j",
                     "attempt", 2, "status", st, "worker", "w", "exitCode", 3,
                     "reason", "r", "timestamp", (json_int_t)10,
                     "workerStartedAt", (json_int_t)7);
}

START_TEST(test_messages_job_status)
{
    char e[DRV_ERRSTR_SIZE];
    drv_msg_t m;
    ck_assert_int_eq(roundtrip("JobStatus", status("FAILED"), &m, e,
                               sizeof(e)),
                     DRV_OK);
    ck_assert_int_eq(m.type, DRV_MSG_JOB_STATUS);
    const drv_msg_status_t *s = &m.u.status;
    ck_assert_str_eq(s->job_id, "j");
    ck_assert_int_eq(s->attempt, 2);
    ck_assert_int_eq(s->status, DRV_JOB_FAILED);
    ck_assert(s->has_exit_code);
    ck_assert_int_eq(s->exit_code, 3);
    ck_assert_str_eq(s->reason, "r");
    ck_assert_ptr_null(s->status_reason);
    ck_assert_int_eq(s->worker_started_at, 7);
    drv_msg_clear(&m);
    /* a status no worker reports, and one that is no status at all */
    const char *bad[] = {"RUNNABLE", "CANCELLED"};
    for (int i = 0; i < 2; i++) {
        ck_assert_int_eq(roundtrip("JobStatus", status(bad[i]), &m, e,
                                   sizeof(e)),
                         DRV_ERR_INVALID);
        ck_assert_ptr_null(m.obj);
        ck_assert_msg(strstr(e, "JobStatus"), "%s", e);
    }
}
END_TEST

START_TEST(test_messages_requests)
{
    char e[DRV_ERRSTR_SIZE];
    drv_msg_t m;
    ck_assert_int_eq(
        roundtrip("JobRequest",
                  json_pack("{s:{s:{s:s,s:s,s:I}}}", "request",
                            "TerminateJob", "jobId", "j", "reason", "why",
                            "requestedAt", (json_int_t)1),
                  &m, e, sizeof(e)),
        DRV_OK);
    ck_assert_int_eq(m.type, DRV_MSG_TERMINATE_JOB);
    ck_assert_str_eq(m.u.stop.job_id, "j");
    ck_assert_str_eq(m.u.stop.reason, "why");
    ck_assert_str_eq(drv_msg_type_name(m.type), "JobRequest");
    drv_msg_clear(&m);
    ck_assert_int_eq(
        roundtrip("JobRequest",
                  json_pack("{s:{s:{s:s,s:s,s:s,s:s,s:I}}}", "request",
                            "SubmitJob", "jobId", "s", "jobName", "n",
                            "jobQueue", "q", "jobDefinition", "d",
                            "submittedAt", (json_int_t)1),
                  &m, e, sizeof(e)),
        DRV_OK);
    ck_assert_int_eq(m.type, DRV_MSG_SUBMIT_JOB);
    ck_assert_str_eq(json_string_value(json_object_get(m.u.submit, "jobId")),
                     "s");
    drv_msg_clear(&m);
}
END_TEST

START_TEST(test_messages_worker_side)
{
    char e[DRV_ERRSTR_SIZE];
    drv_msg_t m;
    ck_assert_int_eq(
        roundtrip("StopAttempt",
                  json_pack("{s:s,s:i,s:s,s:I}", "jobId", "j", "attempt", 3,
                            "reason", "stop", "requestedAt", (json_int_t)1),
                  &m, e, sizeof(e)),
        DRV_OK);
    ck_assert_int_eq(m.type, DRV_MSG_STOP_ATTEMPT);
    ck_assert_int_eq(m.u.stop.attempt, 3);
    ck_assert_ptr_null(m.u.stop.worker); /* whichever runs it */
    drv_msg_clear(&m);
    json_t *run = json_pack("{s:s,s:i,s:s,s:s,s:s,s:s,s:s,s:f,s:I,s:i,s:i,"
                            "s:i,s:I}",
                            "jobId", "j:1", "attempt", 1, "jobName", "n",
                            "jobQueue", "q", "computeEnvironment", "ce",
                            "jobDefinition", "d:1", "image", "busybox",
                            "vcpus", 0.5, "memoryMiB", (json_int_t)64,
                            "timeoutSeconds", 60, "arrayIndex", 1,
                            "arraySize", 2, "releasedAt", (json_int_t)1);
    ck_assert_int_eq(roundtrip("RunJob", run, &m, e, sizeof(e)), DRV_OK);
    ck_assert_int_eq(m.type, DRV_MSG_RUN_JOB);
    ck_assert_str_eq(m.u.run.job_id, "j:1");
    ck_assert(m.u.run.is_array_child);
    ck_assert_int_eq(m.u.run.array_index, 1);
    ck_assert_int_eq(m.u.run.timeout_s, 60);
    ck_assert_int_eq(m.u.run.memory_mib, 64);
    drv_msg_clear(&m);
    /* a record decoded elsewhere, read the same way; ownership taken even
     * when refused */
    ck_assert_int_eq(drv_msg_from_record("RunJob",
                                         json_pack("{s:s}", "jobId", "x"), &m,
                                         e, sizeof(e)),
                     DRV_ERR_INVALID);
    ck_assert_msg(strstr(e, "a RunJob needs a job id, jobQueue and image"), "%s",
                  e);
    /* the worker multiplies vcpus and memory into nanoCPUs and bytes: a
     * value that would overflow is refused here (fuzz_run_job found 5e127
     * vCPUs overflowing a long long) */
    const double bad_vcpus[] = {0, -1, 4097, 5e127};
    for (size_t i = 0; i < sizeof(bad_vcpus) / sizeof(bad_vcpus[0]); i++) {
        ck_assert_int_eq(
            drv_msg_from_record(
                "RunJob",
                json_pack("{s:s,s:i,s:s,s:s,s:f,s:I}", "jobId", "j", "attempt",
                          1, "jobQueue", "q", "image", "i", "vcpus",
                          bad_vcpus[i], "memoryMiB", (json_int_t)64),
                &m, e, sizeof(e)),
            DRV_ERR_INVALID);
        ck_assert_msg(strstr(e, "vcpus must be over 0"), "%s", e);
    }
    ck_assert_int_eq(
        drv_msg_from_record("RunJob",
                            json_pack("{s:s,s:i,s:s,s:s,s:f,s:I}", "jobId", "j",
                                      "attempt", 1, "jobQueue", "q", "image",
                                      "i", "vcpus", 1.0, "memoryMiB",
                                      (json_int_t)INT64_MAX),
                            &m, e, sizeof(e)),
        DRV_ERR_INVALID);
}
END_TEST

/* Heartbeats are bounded: the dispatcher sums what workers offer, and a
 * forged 1e308 vCPUs overflowed that sum (the integration suite's hostile
 * record generator found it) and halted every scheduling pass. */
START_TEST(test_messages_heartbeat_bounds)
{
    char e[DRV_ERRSTR_SIZE];
    drv_msg_t m;
    const double vcpus[] = {2.0, 4096, 4097, -1, 1e308};
    const drv_err_t want[] = {DRV_OK, DRV_OK, DRV_ERR_INVALID, DRV_ERR_INVALID,
                              DRV_ERR_INVALID};
    for (size_t i = 0; i < sizeof(vcpus) / sizeof(vcpus[0]); i++) {
        drv_err_t got = drv_msg_from_record(
            "WorkerHeartbeat",
            json_pack("{s:s,s:s,s:f,s:f,s:I,s:I}", "worker", "w",
                      "computeEnvironment", "ce", "vcpusTotal", vcpus[i],
                      "vcpusFree", 1.0, "memoryTotalMiB", (json_int_t)64,
                      "memoryFreeMiB", (json_int_t)64),
            &m, e, sizeof(e));
        ck_assert_msg(got == want[i], "%g vCPUs: %s", vcpus[i], e);
        if (got == DRV_OK) {
            drv_msg_clear(&m);
        } else {
            ck_assert_msg(strstr(e, "0 to 4096 vCPUs"), "%s", e);
        }
    }
    ck_assert_int_eq(
        drv_msg_from_record(
            "WorkerHeartbeat",
            json_pack("{s:s,s:s,s:f,s:f,s:I,s:I}", "worker", "w",
                      "computeEnvironment", "ce", "vcpusTotal", 1.0,
                      "vcpusFree", 1.0, "memoryTotalMiB",
                      (json_int_t)INT64_MAX, "memoryFreeMiB", (json_int_t)1),
            &m, e, sizeof(e)),
        DRV_ERR_INVALID);
}
END_TEST

/* GPUs and partitions a heartbeat or RunJob states are bounded where they
 * enter: at most 64 GPUs, no more free than there are, partitions 0 to
 * 2^20 - 1 and at most 1024 of them; a RunJob asks for 0 to 64. */
START_TEST(test_messages_gpus_and_partitions_bounded)
{
    char e[DRV_ERRSTR_SIZE];
    drv_msg_t m;
    struct {
        int total, free;
        json_t *parts;
        const char *want; /* NULL: accepted */
    } hb[] = {
        {2, 1, json_pack("[i,i]", 0, 5), NULL},
        {65, 0, NULL, "0 to 64 GPUs"},
        {1, 2, NULL, "at most all of them free"},
        {0, 0, json_pack("[i]", -1), "partitions are 0 to 2^20 - 1"},
        {0, 0, json_pack("[i]", 1 << 20), "partitions are 0 to 2^20 - 1"},
        {0, 0, json_pack("[s]", "0"), "partitions are 0 to 2^20 - 1"},
    };
    for (size_t i = 0; i < sizeof(hb) / sizeof(hb[0]); i++) {
        json_t *o = json_pack("{s:s,s:s,s:f,s:f,s:I,s:I,s:i,s:i}", "worker",
                              "w", "computeEnvironment", "ce", "vcpusTotal",
                              1.0, "vcpusFree", 1.0, "memoryTotalMiB",
                              (json_int_t)64, "memoryFreeMiB", (json_int_t)64,
                              "gpusTotal", hb[i].total, "gpusFree",
                              hb[i].free);
        if (hb[i].parts) {
            json_object_set_new(o, "partitions", hb[i].parts);
        }
        drv_err_t got = drv_msg_from_record("WorkerHeartbeat", o, &m, e,
                                            sizeof(e));
        if (!hb[i].want) {
            ck_assert_msg(got == DRV_OK, "%s", e);
            ck_assert_int_eq(m.u.heartbeat.gpus_total, 2);
            ck_assert_int_eq(json_array_size(m.u.heartbeat.partitions), 2);
            drv_msg_clear(&m);
        } else {
            ck_assert_int_eq(got, DRV_ERR_INVALID);
            ck_assert_msg(strstr(e, hb[i].want), "%zu: %s", i, e);
        }
    }
    json_t *many = json_array();
    for (int i = 0; i < 1025; i++) {
        json_array_append_new(many, json_integer(i));
    }
    ck_assert_int_eq(
        drv_msg_from_record("WorkerHeartbeat",
                            json_pack("{s:s,s:s,s:f,s:f,s:I,s:I,s:o}",
                                      "worker", "w", "computeEnvironment",
                                      "ce", "vcpusTotal", 1.0, "vcpusFree",
                                      1.0, "memoryTotalMiB", (json_int_t)64,
                                      "memoryFreeMiB", (json_int_t)64,
                                      "partitions", many),
                            &m, e, sizeof(e)),
        DRV_ERR_INVALID);
    ck_assert_msg(strstr(e, "at most 1024 partitions"), "%s", e);
    ck_assert_int_eq(
        drv_msg_from_record("RunJob",
                            json_pack("{s:s,s:i,s:s,s:s,s:f,s:I,s:i}",
                                      "jobId", "j", "attempt", 1, "jobQueue",
                                      "q", "image", "i", "vcpus", 1.0,
                                      "memoryMiB", (json_int_t)4, "gpus", 65),
                            &m, e, sizeof(e)),
        DRV_ERR_INVALID);
    ck_assert_msg(strstr(e, "gpus 0 to 64"), "%s", e);
}
END_TEST

START_TEST(test_messages_job_ids_checked)
{
    /* a job id names files and containers on workers: only letters,
     * digits, - and _ (an array child's ":index" where a child may be
     * named) */
    static const struct {
        const char *id;
        bool ok, child_ok;
    } cases[] = {
        {"7c1b2a9e-0d5f-4c3a-9a8e-1f2e3d4c5b6a", true, true},
        {"job_1", true, true},
        {"p:17", false, true},
        {"../../etc/cron.d/x", false, false},
        {"a/b", false, false},
        {".", false, false},
        {"", false, false},
        {"p:", false, false},
        {"p:1:2", false, false},
        {"p:123456", false, false},
        {"a b", false, false},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        ck_assert_msg(drv_job_id_valid(cases[i].id, false) == cases[i].ok,
                      "%s", cases[i].id);
        ck_assert_msg(drv_job_id_valid(cases[i].id, true) ==
                          cases[i].child_ok,
                      "%s (child)", cases[i].id);
    }
    char long_id[130];
    memset(long_id, 'a', 129);
    long_id[129] = '\0';
    ck_assert(!drv_job_id_valid(long_id, true));
    long_id[128] = '\0';
    ck_assert(drv_job_id_valid(long_id, false));
    /* at the edge: a SubmitJob, a RunJob, a report with a path for an id */
    char e[DRV_ERRSTR_SIZE];
    drv_msg_t m;
    ck_assert_int_eq(
        roundtrip("JobRequest",
                  json_pack("{s:{s:{s:s,s:s,s:s,s:s,s:I}}}", "request",
                            "SubmitJob", "jobId", "../x", "jobName", "n",
                            "jobQueue", "q", "jobDefinition", "d",
                            "submittedAt", (json_int_t)1),
                  &m, e, sizeof(e)),
        DRV_ERR_INVALID);
    ck_assert_msg(strstr(e, "jobId must be 1 to 128 letters"), "%s", e);
    ck_assert_int_eq(
        roundtrip("RunJob",
                  json_pack("{s:s,s:i,s:s,s:s,s:s,s:s,s:s,s:f,s:I,s:I}",
                            "jobId", "x/../../y", "attempt", 1, "jobName",
                            "n", "jobQueue", "q", "computeEnvironment", "ce",
                            "jobDefinition", "d:1", "image", "busybox",
                            "vcpus", 1.0, "memoryMiB", (json_int_t)64,
                            "releasedAt", (json_int_t)1),
                  &m, e, sizeof(e)),
        DRV_ERR_INVALID);
    json_t *st = status("FAILED");
    json_object_set_new(st, "jobId", json_string("a/b"));
    ck_assert_int_eq(roundtrip("JobStatus", st, &m, e, sizeof(e)),
                     DRV_ERR_INVALID);
    /* a report's names and reasons are bounded (a forged sender cannot
     * store 64 KiB per attempt) */
    char big[DRV_REASON_MAX + 2];
    memset(big, 'r', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    st = status("FAILED");
    json_object_set_new(st, "statusReason", json_string(big));
    ck_assert_int_eq(roundtrip("JobStatus", st, &m, e, sizeof(e)),
                     DRV_ERR_INVALID);
    ck_assert_msg(strstr(e, "reasons at most 1024"), "%s", e);
    big[DRV_REASON_MAX] = '\0'; /* exactly the bound */
    st = status("FAILED");
    json_object_set_new(st, "statusReason", json_string(big));
    ck_assert_int_eq(roundtrip("JobStatus", st, &m, e, sizeof(e)), DRV_OK);
    drv_msg_clear(&m);
    big[256] = '\0';
    st = status("RUNNING");
    json_object_set_new(st, "worker", json_string(big));
    ck_assert_int_eq(roundtrip("JobStatus", st, &m, e, sizeof(e)),
                     DRV_ERR_INVALID);
}
END_TEST

static Suite *messages_suite(void)
{
    Suite *s = suite_create("messages");
    TCase *tc = tcase_create("decode");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_messages_job_status);
    tcase_add_test(tc, test_messages_requests);
    tcase_add_test(tc, test_messages_worker_side);
    tcase_add_test(tc, test_messages_job_ids_checked);
    tcase_add_test(tc, test_messages_heartbeat_bounds);
    tcase_add_test(tc, test_messages_gpus_and_partitions_bounded);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return drv_test_run(messages_suite());
}
