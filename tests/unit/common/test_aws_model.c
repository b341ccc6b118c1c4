/* SPDX-License-Identifier: Apache-2.0 */
/* The AWS model's tables and the request and reply walks over them. */
#include <string.h>

#include "drover/aws_model.h"
#include "check_main.h"

static char e[256];

static int req(const char *op, const char *json)
{
    json_error_t je;
    json_t *j = json_loads(json, 0, &je);
    ck_assert_msg(j, "%s: %s", json, je.text);
    e[0] = '\0';
    int rc = drv_model_check_request(drv_model_op(op), j, e, sizeof(e));
    json_decref(j);
    return rc;
}

START_TEST(test_model_tables)
{
    ck_assert(drv_model_nops >= 19);
    const drv_model_op_t *op = drv_model_op("SubmitJob");
    ck_assert_ptr_nonnull(op);
    ck_assert_str_eq(op->method, "POST");
    ck_assert_str_eq(op->uri, "/v1/submitjob");
    ck_assert_str_eq(drv_model_shapes[op->input].name, "SubmitJobRequest");
    ck_assert_ptr_null(drv_model_op("NoSuchOperation"));
    const drv_model_shape_t *t = drv_model_shape("JobStatus");
    ck_assert_ptr_nonnull(t);
    ck_assert_int_eq(t->count, 7);
    ck_assert_str_eq(drv_model_enums[t->first], "SUBMITTED");
    t = drv_model_shape("TagKey");
    ck_assert(t->has_min && t->has_max);
    ck_assert_int_eq(t->max, 128);
    /* sorted: every shape and operation is found by its name */
    for (size_t i = 0; i < drv_model_nshapes; i++) {
        ck_assert_ptr_eq(drv_model_shape(drv_model_shapes[i].name),
                         &drv_model_shapes[i]);
    }
    for (size_t i = 0; i < drv_model_nops; i++) {
        ck_assert_ptr_eq(drv_model_op(drv_model_ops[i].name),
                         &drv_model_ops[i]);
    }
    ck_assert(strstr(drv_model_version, "batch-2016-08-10"));
}
END_TEST

START_TEST(test_model_requests)
{
    ck_assert_int_eq(req("SubmitJob", "{\"jobName\":\"a\",\"jobQueue\":\"q\","
                                      "\"jobDefinition\":\"d\"}"),
                     0);
    /* required, by name */
    ck_assert_int_eq(req("SubmitJob", "{\"jobName\":\"a\",\"jobQueue\":\"q\"}"),
                     -1);
    ck_assert_str_eq(e, "jobDefinition is required");
    /* unknown member, named with its path */
    ck_assert_int_eq(req("SubmitJob",
                         "{\"jobName\":\"a\",\"jobQueue\":\"q\","
                         "\"jobDefinition\":\"d\",\"containerOverrides\":"
                         "{\"vcpu\":1}}"),
                     -1);
    ck_assert_str_eq(e, "containerOverrides.vcpu is not a member of "
                        "ContainerOverrides");
    /* types: a real where the model says Integer, a string for a list */
    ck_assert_int_eq(req("SubmitJob",
                         "{\"jobName\":\"a\",\"jobQueue\":\"q\","
                         "\"jobDefinition\":\"d\",\"containerOverrides\":"
                         "{\"vcpus\":0.5}}"),
                     -1);
    ck_assert_str_eq(e, "containerOverrides.vcpus must be an integer");
    ck_assert_int_eq(req("DescribeJobs", "{\"jobs\":\"x\"}"), -1);
    ck_assert_str_eq(e, "jobs must be a list");
    ck_assert_int_eq(req("DescribeJobs", "{\"jobs\":[\"a\",3]}"), -1);
    ck_assert_str_eq(e, "jobs[1] must be a string");
    ck_assert_int_eq(req("CreateJobQueue", "{\"jobQueueName\":\"q\","
                                           "\"priority\":4294967296}"),
                     -1);
    ck_assert_str_eq(e, "priority must be an integer");
    ck_assert_int_eq(req("SubmitJob", "{\"jobName\":null,\"jobQueue\":\"q\","
                                      "\"jobDefinition\":\"d\"}"),
                     -1);
    ck_assert_str_eq(e, "jobName must be a string");
    /* enums */
    ck_assert_int_eq(req("ListJobs", "{\"jobStatus\":\"DONE\"}"), -1);
    ck_assert(strstr(e, "jobStatus must be one of: SUBMITTED, PENDING"));
    ck_assert_int_eq(req("SubmitJob",
                         "{\"jobName\":\"a\",\"jobQueue\":\"q\","
                         "\"jobDefinition\":\"d\",\"dependsOn\":[{\"jobId\":"
                         "\"x\",\"type\":\"ALL\"}]}"),
                     -1);
    ck_assert(strstr(e, "dependsOn[0].type must be one of: N_TO_N"));
    /* the model's limits: tag keys 1..128, at most 50 tags */
    ck_assert_int_eq(req("TagResource", "{\"resourceArn\":\"a\",\"tags\":"
                                        "{\"\":\"v\"}}"),
                     -1);
    ck_assert_str_eq(e, "tags[\"\"] must be at least 1 characters long");
    char big[4096] = "{\"resourceArn\":\"a\",\"tags\":{";
    for (int i = 0; i < 51; i++) {
        snprintf(big + strlen(big), sizeof(big) - strlen(big),
                 "%s\"k%d\":\"v\"", i ? "," : "", i);
    }
    strcat(big, "}}");
    ck_assert_int_eq(req("TagResource", big), -1);
    ck_assert_str_eq(e, "tags must have from 1 to 50 entries");
    /* members Drover does not honour are refused by name */
    ck_assert_int_eq(req("SubmitJob",
                         "{\"jobName\":\"a\",\"jobQueue\":\"q\","
                         "\"jobDefinition\":\"d\",\"containerOverrides\":"
                         "{\"instanceType\":\"p3.2xlarge\"}}"),
                     -1);
    ck_assert_str_eq(e, "containerOverrides.instanceType is not supported by "
                        "Drover");
    ck_assert_int_eq(req("RegisterJobDefinition",
                         "{\"jobDefinitionName\":\"d\",\"type\":\"container\","
                         "\"containerProperties\":{\"image\":\"i\","
                         "\"jobRoleArn\":\"arn:aws:iam::1:role/x\"}}"),
                     -1);
    ck_assert_str_eq(e, "containerProperties.jobRoleArn is not supported by "
                        "Drover");
    /* no input members at all: unknown ones are still refused */
    ck_assert_int_eq(req("DescribeJobQueues", "{\"bogus\":1}"), -1);
    ck_assert_str_eq(e, "bogus is not a member of DescribeJobQueuesRequest");
}
END_TEST

static json_t *ser(const char *op, const char *json, int *dropped)
{
    json_t *j = json_loads(json, 0, NULL);
    ck_assert_ptr_nonnull(j);
    json_t *out = drv_model_serialize(drv_model_op(op), j, dropped, e,
                                      sizeof(e));
    json_decref(j);
    return out;
}

START_TEST(test_model_serialize)
{
    int dropped = -1;
    json_t *out = ser("DescribeJobs",
                      "{\"jobs\":[{\"jobId\":\"a\",\"jobName\":\"n\","
                      "\"jobQueue\":\"q\",\"status\":\"RUNNING\","
                      "\"jobDefinition\":\"d\",\"startedAt\":1.0,"
                      "\"container\":{\"image\":\"i\",\"vcpus\":1.0,"
                      "\"memory\":64}}]}",
                      &dropped);
    ck_assert_int_eq(dropped, 0);
    json_t *job = json_array_get(json_object_get(out, "jobs"), 0);
    json_t *c = json_object_get(job, "container");
    /* an integral real becomes the Integer the model says */
    ck_assert(json_is_integer(json_object_get(c, "vcpus")));
    ck_assert(json_is_integer(json_object_get(job, "startedAt")));
    /* the lists and maps AWS always returns are there, empty */
    ck_assert(json_is_array(json_object_get(c, "command")));
    ck_assert(json_is_array(json_object_get(c, "resourceRequirements")));
    ck_assert(json_is_array(json_object_get(c, "secrets")));
    ck_assert(json_is_object(json_object_get(job, "tags")));
    ck_assert(json_is_object(json_object_get(job, "parameters")));
    ck_assert(json_is_array(json_object_get(job, "dependsOn")));
    ck_assert_msg(drv_model_check_response(drv_model_op("DescribeJobs"), out,
                                           e, sizeof(e)) == 0,
                  "%s", e);
    json_decref(out);

    /* what cannot be represented is dropped and counted, never sent */
    out = ser("DescribeJobs",
              "{\"jobs\":[{\"jobId\":\"a\",\"jobName\":\"n\","
              "\"jobQueue\":\"q\",\"status\":\"RUNNING\","
              "\"jobDefinition\":\"d\",\"internal\":1,"
              "\"container\":{\"image\":\"i\",\"vcpus\":0.25}}]}",
              &dropped);
    ck_assert_int_eq(dropped, 2);
    ck_assert_str_eq(e, "jobs[0].internal is not in the model");
    job = json_array_get(json_object_get(out, "jobs"), 0);
    ck_assert_ptr_null(json_object_get(job, "internal"));
    ck_assert_ptr_null(json_object_get(json_object_get(job, "container"),
                                       "vcpus"));
    json_decref(out);
}
END_TEST

START_TEST(test_model_check_response)
{
    const drv_model_op_t *op = drv_model_op("DescribeJobQueues");
    json_t *r = json_loads("{\"jobQueues\":[{\"jobQueueName\":\"q\","
                           "\"jobQueueArn\":\"a\",\"state\":\"ENABLED\","
                           "\"priority\":1.5,\"computeEnvironmentOrder\":[]}]}",
                           0, NULL);
    ck_assert_int_eq(drv_model_check_response(op, r, e, sizeof(e)), -1);
    ck_assert_str_eq(e, "jobQueues[0].priority must be an integer");
    json_object_set_new(json_array_get(json_object_get(r, "jobQueues"), 0),
                        "priority", json_integer(1));
    ck_assert_int_eq(drv_model_check_response(op, r, e, sizeof(e)), 0);
    json_object_del(json_array_get(json_object_get(r, "jobQueues"), 0),
                    "state");
    ck_assert_int_eq(drv_model_check_response(op, r, e, sizeof(e)), -1);
    ck_assert_str_eq(e, "jobQueues[0].state is required");
    json_decref(r);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("aws_model");
    TCase *tc = tcase_create("aws_model");
    tcase_add_test(tc, test_model_tables);
    tcase_add_test(tc, test_model_requests);
    tcase_add_test(tc, test_model_serialize);
    tcase_add_test(tc, test_model_check_response);
    suite_add_tcase(s, tc);
    return drv_test_run(s);
}
