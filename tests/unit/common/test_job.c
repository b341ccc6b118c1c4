/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for drover/job.h: validation with AWS's messages, Ref::
 * substitution, resolution of a submission against its definition. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "drover/err.h"
#include "drover/job.h"
#include "check_main.h"

static char errstr[DRV_ERRSTR_SIZE];
static const drv_job_limits_t limits = {.timeout_min_seconds = 60};

static json_t *J(const char *text)
{
    json_error_t e;
    json_t *j = json_loads(text, 0, &e);
    ck_assert_msg(j != NULL, "bad test JSON: %s", e.text);
    return j;
}

static void expect_submit_error(const char *text, const char *want)
{
    json_t *j = J(text);
    ck_assert_int_eq(drv_job_validate_submit(j, &limits, errstr,
                                             sizeof(errstr)),
                     -1);
    ck_assert_msg(strstr(errstr, want), "got \"%s\", want \"%s\"", errstr,
                  want);
    json_decref(j);
}

#define BASE "\"jobQueue\":\"q\",\"jobDefinition\":\"d\""

START_TEST(test_job_validate_submit_messages)
{
    json_t *ok = J("{\"jobName\":\"a-b_1\"," BASE "}");
    ck_assert_int_eq(drv_job_validate_submit(ok, &limits, errstr,
                                             sizeof(errstr)),
                     0);
    json_decref(ok);
    expect_submit_error("{\"jobName\":\"-bad\"," BASE "}",
                        "Job name should match valid pattern");
    expect_submit_error("{\"jobName\":\"a\"," BASE
                        ",\"shareIdentifier\":\"a-b\"}",
                        "shareIdentifier must be 1 to 255 letters and digits");
    expect_submit_error("{\"jobName\":\"a\"}", "jobQueue is required");
    expect_submit_error("{\"jobName\":\"a\",\"jobId\":\"../x\"," BASE "}",
                        "jobId must be 1 to 128 letters, digits, - and _");
    expect_submit_error("{\"jobName\":\"a\"," BASE
                        ",\"dependsOn\":[{\"jobId\":\"a/b\"}]}",
                        "dependsOn[0].jobId must be a job id");
    expect_submit_error("{\"jobName\":\"a\"," BASE
                        ",\"arrayProperties\":{\"size\":1}}",
                        "arrayProperties.size must be from 2 to 10000");
    expect_submit_error("{\"jobName\":\"a\"," BASE
                        ",\"containerOverrides\":{\"command\":[\"x\",\"\"]}}",
                        "Command field cannot have empty strings");
    expect_submit_error("{\"jobName\":\"a\"," BASE
                        ",\"containerOverrides\":{\"command\":[]}}",
                        "Command cannot be empty");
    expect_submit_error(
        "{\"jobName\":\"a\"," BASE
        ",\"containerOverrides\":{\"environment\":[{\"name\":"
        "\"AWS_BATCH_JOB_ID\",\"value\":\"x\"}]}}",
        "environment variable AWS_BATCH_JOB_ID is reserved");
    expect_submit_error(
        "{\"jobName\":\"a\"," BASE
        ",\"containerOverrides\":{\"environment\":[{\"name\":"
        "\"DROVER_X\",\"value\":\"x\"}]}}",
        "environment variable DROVER_X is reserved");
    expect_submit_error("{\"jobName\":\"a\"," BASE
                        ",\"timeout\":{\"attemptDurationSeconds\":5}}",
                        "at least 60");
    expect_submit_error("{\"jobName\":\"a\"," BASE
                        ",\"retryStrategy\":{\"attempts\":11}}",
                        "attempts must be from 1 to 10");
    expect_submit_error(
        "{\"jobName\":\"a\"," BASE
        ",\"retryStrategy\":{\"attempts\":2,\"evaluateOnExit\":[{"
        "\"onExitCode\":\"1*2\",\"action\":\"retry\"}]}}",
        "not a valid pattern");
    expect_submit_error("{\"jobName\":\"a\"," BASE ",\"eksPropertiesOverride\":{}}",
                        "unsupported field \"eksPropertiesOverride\"");
    expect_submit_error("{\"jobName\":\"a\"," BASE
                        ",\"dependsOn\":[{\"type\":\"SEQUENTIAL\"}]}",
                        "needs a jobId");
}
END_TEST

START_TEST(test_job_validate_too_many_dependencies)
{
    json_t *j = J("{\"jobName\":\"a\"," BASE "}");
    json_t *deps = json_array();
    for (int i = 0; i < 21; i++) {
        json_array_append_new(deps, json_pack("{s:s}", "jobId", "x"));
    }
    json_object_set_new(j, "dependsOn", deps);
    ck_assert_int_eq(drv_job_validate_submit(j, &limits, errstr,
                                             sizeof(errstr)),
                     -1);
    ck_assert_str_eq(errstr, "Job cannot have more than 20 dependencies");
    json_array_remove(deps, 0);
    ck_assert_int_eq(drv_job_validate_submit(j, &limits, errstr,
                                             sizeof(errstr)),
                     0);
    json_decref(j);
}
END_TEST

START_TEST(test_job_substitute)
{
    json_t *cmd = J("[\"echo\",\"Ref::a\",\"--x=Ref::b\",\"Ref::\"]");
    json_t *params = J("{\"a\":\"A\"}");
    json_t *defs = J("{\"a\":\"default\",\"b\":\"B\"}");
    json_t *out = drv_job_substitute(cmd, params, defs, errstr, sizeof(errstr));
    json_t *want = J("[\"echo\",\"A\",\"--x=B\",\"Ref::\"]");
    ck_assert(json_equal(out, want));
    json_decref(out);
    json_decref(want);
    json_object_del(defs, "b");
    ck_assert_ptr_null(drv_job_substitute(cmd, params, defs, errstr,
                                          sizeof(errstr)));
    ck_assert_str_eq(errstr, "Unable to substitute value. No parameter found "
                             "for reference b");
    json_decref(cmd);
    json_decref(params);
    json_decref(defs);
}
END_TEST

/* A command of 200 x Ref::x with a 25 KB parameter would be 5 MB: the
 * substitution stops at DRV_JOB_RESOLVED_MAX and says so. */
START_TEST(test_job_substitute_amplification_refused)
{
    json_t *cmd = json_array();
    char *big = malloc(25001);
    memset(big, 'p', 25000);
    big[25000] = '\0';
    for (int i = 0; i < 200; i++) {
        json_array_append_new(cmd, json_string("Ref::x"));
    }
    json_t *params = json_pack("{s:s}", "x", big);
    ck_assert_ptr_null(drv_job_substitute(cmd, params, NULL, errstr,
                                          sizeof(errstr)));
    ck_assert_msg(strstr(errstr, "containerProperties.command: after "
                                 "parameter substitution the command is "
                                 "over 65536 bytes"),
                  "%s", errstr);
    /* two copies still fit */
    json_array_clear(cmd);
    json_array_append_new(cmd, json_string("Ref::x"));
    json_array_append_new(cmd, json_string("Ref::x"));
    json_t *out = drv_job_substitute(cmd, params, NULL, errstr,
                                     sizeof(errstr));
    ck_assert_ptr_nonnull(out);
    ck_assert_int_eq(json_string_length(json_array_get(out, 1)), 25000);
    json_decref(out);
    json_decref(cmd);
    json_decref(params);
    free(big);
}
END_TEST

/* propagateTags: the definition's and the job's tags go with the
 * container (the job's win); over 50 together fail the job (AWS). The
 * resourceRequirements shown are the definition's, overridden by type. */
START_TEST(test_job_resolve_propagates_tags)
{
    json_t *def = J("{\"jobDefinitionName\":\"d\",\"type\":\"container\","
                    "\"parameters\":{\"p\":\"default\",\"q\":\"default\"},"
                    "\"propagateTags\":true,\"tags\":{\"a\":\"def\",\"b\":"
                    "\"def\"},\"containerProperties\":{\"image\":\"busybox\","
                    "\"resourceRequirements\":[{\"type\":\"VCPU\",\"value\":"
                    "\"1\"},{\"type\":\"MEMORY\",\"value\":\"64\"}]}}");
    json_t *sub = J("{\"jobName\":\"x\"," BASE ",\"tags\":{\"b\":\"job\"},"
                    "\"parameters\":{\"q\":\"mine\"},"
                    "\"containerOverrides\":{\"resourceRequirements\":[{"
                    "\"type\":\"MEMORY\",\"value\":\"128\"}]}}");
    json_t *r = drv_job_resolve(def, sub, &limits, errstr, sizeof(errstr));
    ck_assert_msg(r != NULL, "%s", errstr);
    json_t *c = json_object_get(r, "container");
    json_t *want = J("{\"a\":\"def\",\"b\":\"job\"}");
    ck_assert(json_equal(json_object_get(c, "tags"), want));
    json_decref(want);
    want = J("{\"p\":\"default\",\"q\":\"mine\"}");
    ck_assert(json_equal(json_object_get(r, "parameters"), want));
    json_decref(want);
    want = J("[{\"type\":\"VCPU\",\"value\":\"1\"},{\"type\":\"MEMORY\","
             "\"value\":\"128\"}]");
    ck_assert(json_equal(json_object_get(c, "resourceRequirements"), want));
    json_decref(want);
    json_decref(r);
    /* the job turns it off */
    json_object_set_new(sub, "propagateTags", json_false());
    r = drv_job_resolve(def, sub, &limits, errstr, sizeof(errstr));
    ck_assert_ptr_null(json_object_get(json_object_get(r, "container"),
                                       "tags"));
    json_decref(r);
    /* 2 + 49 distinct tags: 51 together */
    json_object_set_new(sub, "propagateTags", json_true());
    json_t *many = json_object();
    for (int i = 0; i < 49; i++) {
        char k[16];
        snprintf(k, sizeof(k), "k%d", i);
        json_object_set_new(many, k, json_string("v"));
    }
    json_object_set_new(sub, "tags", many);
    ck_assert_ptr_null(drv_job_resolve(def, sub, &limits, errstr,
                                       sizeof(errstr)));
    ck_assert_msg(strstr(errstr, "51 tags together"), "%s", errstr);
    json_decref(def);
    json_decref(sub);
}
END_TEST

START_TEST(test_job_resolve_overrides)
{
    json_t *def = J(
        "{\"jobDefinitionName\":\"d\",\"type\":\"container\",\"parameters\":"
        "{\"msg\":\"hi\"},\"containerProperties\":{\"image\":\"busybox\","
        "\"command\":[\"echo\",\"Ref::msg\"],\"environment\":[{\"name\":\"A\","
        "\"value\":\"1\"},{\"name\":\"B\",\"value\":\"2\"}],"
        "\"resourceRequirements\":[{\"type\":\"VCPU\",\"value\":\"1\"},"
        "{\"type\":\"MEMORY\",\"value\":\"128\"}]},\"retryStrategy\":"
        "{\"attempts\":2}}");
    ck_assert_int_eq(drv_job_validate_definition(def, &limits, errstr,
                                                 sizeof(errstr)),
                     0);
    json_t *sub = J(
        "{\"jobName\":\"x\"," BASE ",\"parameters\":{\"msg\":\"yo\"},"
        "\"containerOverrides\":{\"environment\":[{\"name\":\"B\",\"value\":"
        "\"3\"}],\"memory\":999,\"resourceRequirements\":[{\"type\":\"VCPU\","
        "\"value\":\"0.5\"}]},\"timeout\":{\"attemptDurationSeconds\":60}}");
    /* more vCPUs than any worker offers (legacy integer fields): refused,
     * never released to wait for a worker that would refuse its RunJob */
    json_t *huge = J("{\"jobName\":\"x\"," BASE ",\"containerOverrides\":"
                     "{\"vcpus\":1000000000000}}");
    ck_assert_int_eq(drv_job_validate_submit(huge, &limits, errstr,
                                             sizeof(errstr)),
                     -1);
    ck_assert_msg(strstr(errstr, "containerOverrides.vcpus must be an "
                                 "integer from 1 to 4096"),
                  "%s", errstr);
    json_decref(huge);
    huge = J("{\"jobDefinitionName\":\"d\",\"type\":\"container\","
             "\"containerProperties\":{\"image\":\"x\",\"vcpus\":5000,"
             "\"memory\":8}}");
    ck_assert_int_eq(drv_job_validate_definition(huge, &limits, errstr,
                                                 sizeof(errstr)),
                     -1);
    ck_assert_msg(strstr(errstr, "at most 4096 vCPUs"), "%s", errstr);
    json_decref(huge);
    json_t *r = drv_job_resolve(def, sub, &limits, errstr, sizeof(errstr));
    ck_assert_msg(r != NULL, "%s", errstr);
    json_t *c = json_object_get(r, "container");
    json_t *want_cmd = J("[\"echo\",\"yo\"]");
    json_t *want_env = J("[{\"name\":\"A\",\"value\":\"1\"},{\"name\":\"B\","
                         "\"value\":\"3\"}]");
    ck_assert(json_equal(json_object_get(c, "command"), want_cmd));
    /* DescribeJobs shows the definition's defaults under the job's */
    ck_assert_str_eq(json_string_value(json_object_get(
                         json_object_get(r, "parameters"), "msg")),
                     "yo");
    ck_assert(json_equal(json_object_get(c, "environment"), want_env));
    ck_assert_double_eq(json_real_value(json_object_get(c, "vcpus")), 0.5);
    /* legacy memory override does not beat resourceRequirements MEMORY */
    ck_assert_int_eq(json_integer_value(json_object_get(c, "memory")), 128);
    ck_assert_int_eq(json_integer_value(json_object_get(
                         json_object_get(r, "retryStrategy"), "attempts")),
                     2);
    ck_assert_int_eq(json_integer_value(json_object_get(
                         json_object_get(r, "timeout"),
                         "attemptDurationSeconds")),
                     60);
    json_decref(want_cmd);
    json_decref(want_env);
    json_decref(r);
    json_decref(sub);
    json_decref(def);
}
END_TEST

START_TEST(test_job_definition_rejects)
{
    json_t *def = J("{\"jobDefinitionName\":\"d\",\"type\":\"container\","
                    "\"containerProperties\":{\"image\":\"x\"}}");
    ck_assert_int_eq(drv_job_validate_definition(def, &limits, errstr,
                                                 sizeof(errstr)),
                     -1);
    ck_assert_msg(strstr(errstr, "VCPU and MEMORY"), "%s", errstr);
    json_decref(def);
    def = J("{\"jobDefinitionName\":\"d\",\"type\":\"container\","
            "\"containerProperties\":{\"image\":\"x\",\"vcpus\":1,\"memory\":"
            "8,\"environment\":[{\"name\":\"AWS_BATCH_X\",\"value\":\"\"}]}}");
    ck_assert_int_eq(drv_job_validate_definition(def, &limits, errstr,
                                                 sizeof(errstr)),
                     -1);
    ck_assert_msg(strstr(errstr, "AWS_BATCH_X is reserved"), "%s", errstr);
    json_decref(def);
    /* issue 13: a host path that leaves its root by "..", lexically */
    def = J("{\"jobDefinitionName\":\"d\",\"type\":\"container\","
            "\"containerProperties\":{\"image\":\"x\",\"vcpus\":1,\"memory\":"
            "8,\"volumes\":[{\"name\":\"v\",\"host\":{\"sourcePath\":"
            "\"/srv/shared/..\"}}]}}");
    ck_assert_int_eq(drv_job_validate_definition(def, &limits, errstr,
                                                 sizeof(errstr)),
                     -1);
    ck_assert_msg(strstr(errstr, "containerProperties.volumes[0].host."
                                 "sourcePath must be an absolute path"),
                  "%s", errstr);
    json_decref(def);
    /* members AWS does not have are refused, not stored and echoed */
    def = J("{\"jobDefinitionName\":\"d\",\"type\":\"container\","
            "\"x\":{\"y\":[]},\"containerProperties\":{\"image\":\"x\","
            "\"vcpus\":1,\"memory\":8}}");
    ck_assert_int_eq(drv_job_validate_definition(def, &limits, errstr,
                                                 sizeof(errstr)),
                     -1);
    ck_assert_msg(strstr(errstr, "job definition: unknown or unsupported "
                                 "field \"x\""),
                  "%s", errstr);
    json_decref(def);
    def = J("{\"jobDefinitionName\":\"d\",\"type\":\"container\","
            "\"containerProperties\":{\"image\":\"x\",\"vcpus\":1,"
            "\"memory\":8,\"imageTypo\":1}}");
    ck_assert_int_eq(drv_job_validate_definition(def, &limits, errstr,
                                                 sizeof(errstr)),
                     -1);
    ck_assert_msg(strstr(errstr, "containerProperties: unknown or "
                                 "unsupported field \"imageTypo\""),
                  "%s", errstr);
    json_decref(def);
    /* issue 15: it orders jobs within a share, 0..9999 as the override */
    def = J("{\"jobDefinitionName\":\"d\",\"type\":\"container\","
            "\"schedulingPriority\":10000,\"containerProperties\":{"
            "\"image\":\"x\",\"vcpus\":1,\"memory\":8}}");
    ck_assert_int_eq(drv_job_validate_definition(def, &limits, errstr,
                                                 sizeof(errstr)),
                     -1);
    ck_assert_msg(strstr(errstr, "schedulingPriority must be from 0 to 9999"),
                  "%s", errstr);
    json_decref(def);
}
END_TEST

/* A definition's consumableResourceProperties: 1 to 5 distinct resources
 * by name or consumable-resource ARN, quantities 1..2^53 - 1. */
static void expect_definition_error(const char *crl, const char *want)
{
    char text[2048];
    snprintf(text, sizeof(text),
             "{\"jobDefinitionName\":\"d\",\"type\":\"container\","
             "\"consumableResourceProperties\":%s,\"containerProperties\":{"
             "\"image\":\"x\",\"vcpus\":1,\"memory\":8}}",
             crl);
    json_t *def = J(text);
    int rc = drv_job_validate_definition(def, &limits, errstr,
                                         sizeof(errstr));
    json_decref(def);
    if (!want) {
        ck_assert_msg(rc == 0, "%s: %s", crl, errstr);
        return;
    }
    ck_assert_int_eq(rc, -1);
    ck_assert_msg(strstr(errstr, want), "%s: got \"%s\", want \"%s\"", crl,
                  errstr, want);
}

START_TEST(test_job_consumables_validated)
{
    expect_definition_error(
        "{\"consumableResourceList\":[{\"consumableResource\":\"lic\","
        "\"quantity\":2},{\"consumableResource\":\"arn:aws:batch:us-east-1:"
        "1:consumable-resource/db\",\"quantity\":9007199254740991}]}",
        NULL);
    expect_definition_error("{\"consumableResourceList\":[]}",
                            "must list 1 to 5 consumable resources");
    expect_definition_error(
        "{\"consumableResourceList\":[{\"consumableResource\":\"a\","
        "\"quantity\":1},{\"consumableResource\":\"b\",\"quantity\":1},"
        "{\"consumableResource\":\"c\",\"quantity\":1},{\"consumableResource\""
        ":\"d\",\"quantity\":1},{\"consumableResource\":\"e\",\"quantity\":1},"
        "{\"consumableResource\":\"f\",\"quantity\":1}]}",
        "must list 1 to 5 consumable resources");
    expect_definition_error(
        "{\"consumableResourceList\":[{\"consumableResource\":\"lic\","
        "\"quantity\":1},{\"consumableResource\":\"arn:aws:batch:r:1:"
        "consumable-resource/lic\",\"quantity\":1}]}",
        "names consumable resource lic twice");
    expect_definition_error(
        "{\"consumableResourceList\":[{\"consumableResource\":\"lic\","
        "\"quantity\":0}]}",
        "consumableResourceProperties.consumableResourceList[0].quantity "
        "must be an integer from 1 to 9007199254740991");
    expect_definition_error(
        "{\"consumableResourceList\":[{\"consumableResource\":\"lic\","
        "\"quantity\":9007199254740992}]}",
        "quantity must be an integer");
    expect_definition_error(
        "{\"consumableResourceList\":[{\"consumableResource\":\"arn:aws:"
        "batch:r:1:job-queue/q\",\"quantity\":1}]}",
        "consumableResourceList[0].consumableResource must be the name");
    expect_definition_error(
        "{\"consumableResourceList\":[{\"consumableResource\":\"a b\","
        "\"quantity\":1}]}",
        "consumableResourceList[0].consumableResource must be the name");
    expect_definition_error(
        "{\"consumableResourceList\":[{\"consumableResource\":\"a\","
        "\"quantity\":1,\"x\":1}]}",
        "unknown or unsupported field \"x\"");
    expect_definition_error("[1]", "must be an object");
}
END_TEST

/* An override changes the quantity of a resource the definition needs,
 * by name or ARN; the job needs each by name. */
START_TEST(test_job_consumables_resolved)
{
    json_t *def = J("{\"jobDefinitionName\":\"d\",\"type\":\"container\","
                    "\"consumableResourceProperties\":{"
                    "\"consumableResourceList\":[{\"consumableResource\":"
                    "\"arn:aws:batch:r:1:consumable-resource/lic\","
                    "\"quantity\":1},{\"consumableResource\":\"db\","
                    "\"quantity\":3}]},\"containerProperties\":{\"image\":"
                    "\"x\",\"vcpus\":1,\"memory\":8}}");
    json_t *sj = J("{\"jobName\":\"j\"," BASE ",\"consumableResourceProperti"
                   "esOverride\":{\"consumableResourceList\":[{"
                   "\"consumableResource\":\"lic\",\"quantity\":4}]}}");
    json_t *res = drv_job_resolve(def, sj, &limits, errstr, sizeof(errstr));
    ck_assert_msg(res != NULL, "%s", errstr);
    json_t *want = J("{\"consumableResourceList\":[{\"consumableResource\":"
                     "\"lic\",\"quantity\":4},{\"consumableResource\":\"db\","
                     "\"quantity\":3}]}");
    ck_assert(json_equal(json_object_get(res, "consumableResourceProperties"),
                         want));
    json_decref(want);
    json_decref(res);
    json_decref(sj);
    sj = J("{\"jobName\":\"j\"," BASE ",\"consumableResourcePropertiesOverr"
           "ide\":{\"consumableResourceList\":[{\"consumableResource\":"
           "\"gpu\",\"quantity\":1}]}}");
    ck_assert_ptr_null(drv_job_resolve(def, sj, &limits, errstr,
                                       sizeof(errstr)));
    ck_assert_msg(strstr(errstr, "the job definition does not need "
                                 "consumable resource gpu"),
                  "%s", errstr);
    json_decref(sj);
    json_decref(def);
    /* none needed: none in what the job resolves to */
    def = J("{\"jobDefinitionName\":\"d\",\"type\":\"container\","
            "\"containerProperties\":{\"image\":\"x\",\"vcpus\":1,"
            "\"memory\":8}}");
    sj = J("{\"jobName\":\"j\"," BASE "}");
    res = drv_job_resolve(def, sj, &limits, errstr, sizeof(errstr));
    ck_assert_ptr_nonnull(res);
    ck_assert_ptr_null(json_object_get(res, "consumableResourceProperties"));
    json_decref(res);
    json_decref(sj);
    json_decref(def);
}
END_TEST

/* Whole GPUs, 0..64, from the definition or the override; the two
 * variables that pick devices are Drover's to set. */
START_TEST(test_job_gpus)
{
    json_t *def = J("{\"jobDefinitionName\":\"d\",\"type\":\"container\","
                    "\"containerProperties\":{\"image\":\"x\","
                    "\"resourceRequirements\":[{\"type\":\"VCPU\",\"value\":"
                    "\"1\"},{\"type\":\"MEMORY\",\"value\":\"64\"},{\"type\":"
                    "\"GPU\",\"value\":\"1\"}]}}");
    ck_assert_msg(drv_job_validate_definition(def, &limits, errstr,
                                              sizeof(errstr)) == 0,
                  "%s", errstr);
    json_t *sj = J("{\"jobName\":\"j\"," BASE ",\"containerOverrides\":{"
                   "\"resourceRequirements\":[{\"type\":\"GPU\",\"value\":"
                   "\"2\"}]}}");
    json_t *res = drv_job_resolve(def, sj, &limits, errstr, sizeof(errstr));
    ck_assert_msg(res != NULL, "%s", errstr);
    ck_assert_int_eq(json_integer_value(json_object_get(
                         json_object_get(res, "container"), "gpus")),
                     2);
    json_decref(res);
    json_decref(sj);
    sj = J("{\"jobName\":\"j\"," BASE ",\"containerOverrides\":{"
           "\"resourceRequirements\":[{\"type\":\"GPU\",\"value\":\"0\"}]}}");
    res = drv_job_resolve(def, sj, &limits, errstr, sizeof(errstr));
    ck_assert_ptr_null(json_object_get(json_object_get(res, "container"),
                                       "gpus"));
    json_decref(res);
    json_decref(sj);
    json_decref(def);
    expect_submit_error("{\"jobName\":\"j\"," BASE ",\"containerOverrides\":{"
                        "\"resourceRequirements\":[{\"type\":\"GPU\","
                        "\"value\":\"1.5\"}]}}",
                        "GPU value \"1.5\" must be a whole number of GPUs "
                        "from 0 to 64");
    expect_submit_error("{\"jobName\":\"j\"," BASE ",\"containerOverrides\":{"
                        "\"resourceRequirements\":[{\"type\":\"GPU\","
                        "\"value\":\"65\"}]}}",
                        "must be a whole number of GPUs");
    expect_submit_error("{\"jobName\":\"j\"," BASE ",\"containerOverrides\":{"
                        "\"environment\":[{\"name\":\"NVIDIA_VISIBLE_DEVICES\","
                        "\"value\":\"all\"}]}}",
                        "environment variable NVIDIA_VISIBLE_DEVICES is set "
                        "by Drover");
}
END_TEST

START_TEST(test_job_states_and_arns)
{
    drv_job_status_t st;
    ck_assert_int_eq(drv_job_status_parse("RUNNABLE", &st), 0);
    ck_assert_int_eq(st, DRV_JOB_RUNNABLE);
    ck_assert_int_eq(drv_job_status_parse("CANCELLED", &st), -1);
    ck_assert(drv_job_status_is_terminal(DRV_JOB_FAILED));
    ck_assert(!drv_job_status_is_terminal(DRV_JOB_RUNNING));
    char arn[256], name[128];
    drv_arn(arn, sizeof(arn), "local", "000000000000", "job-queue", "q1");
    ck_assert_str_eq(arn, "arn:aws:batch:local:000000000000:job-queue/q1");
    drv_arn_name(arn, name, sizeof(name));
    ck_assert_str_eq(name, "q1");
    drv_arn_name("plain", name, sizeof(name));
    ck_assert_str_eq(name, "plain");
    /* regression: the dispatcher passes the same buffer in and out */
    drv_arn_name(arn, arn, sizeof(arn));
    ck_assert_str_eq(arn, "q1");
    snprintf(name, sizeof(name), "same");
    drv_arn_name(name, name, sizeof(name));
    ck_assert_str_eq(name, "same");
}
END_TEST

int main(void)
{
    Suite *s = suite_create("job");
    TCase *tc = tcase_create("validate");
    tcase_add_test(tc, test_job_validate_submit_messages);
    tcase_add_test(tc, test_job_validate_too_many_dependencies);
    tcase_add_test(tc, test_job_definition_rejects);
    suite_add_tcase(s, tc);
    tc = tcase_create("resolve");
    tcase_add_test(tc, test_job_substitute);
    tcase_add_test(tc, test_job_substitute_amplification_refused);
    tcase_add_test(tc, test_job_resolve_overrides);
    tcase_add_test(tc, test_job_resolve_propagates_tags);
    tcase_add_test(tc, test_job_states_and_arns);
    tcase_add_test(tc, test_job_consumables_validated);
    tcase_add_test(tc, test_job_consumables_resolved);
    tcase_add_test(tc, test_job_gpus);
    suite_add_tcase(s, tc);
    return drv_test_run(s);
}
