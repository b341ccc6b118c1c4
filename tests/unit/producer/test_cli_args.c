/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for the CLI's argument parsing (producer/cli/args.h). */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"
#include "drover/err.h"
#include "drover/producer.h"
#include "check_main.h"

static char errstr[DRV_ERRSTR_SIZE];

static json_t *parse(const char *verb, int argc, const char **argv, int *rc)
{
    json_t *req = json_object();
    *rc = drv_cli_parse(drv_cli_find(verb), argc, argv, req, errstr,
                        sizeof(errstr));
    return req;
}

static json_t *J(const char *t)
{
    json_t *j = json_loads(t, 0, NULL);
    ck_assert_ptr_nonnull(j);
    return j;
}

START_TEST(test_cli_args_submit_shorthand)
{
    const char *argv[] = {"--job-name", "n", "--job-queue", "q", "--job-definition",
                    "d:2", "--array-properties", "size=10", "--depends-on",
                    "jobId=a", "jobId=b,type=N_TO_N", "--parameters",
                    "x=1,y=two", "--timeout", "attemptDurationSeconds=60",
                    "--scheduling-priority-override", "5"};
    int rc;
    json_t *req = parse("submit-job", 17, argv, &rc);
    ck_assert_msg(rc == 0, "%s", errstr);
    json_t *want = J(
        "{\"jobName\":\"n\",\"jobQueue\":\"q\",\"jobDefinition\":\"d:2\","
        "\"arrayProperties\":{\"size\":10},\"dependsOn\":[{\"jobId\":\"a\"},"
        "{\"jobId\":\"b\",\"type\":\"N_TO_N\"}],\"parameters\":{\"x\":\"1\","
        "\"y\":\"two\"},\"timeout\":{\"attemptDurationSeconds\":60},"
        "\"schedulingPriorityOverride\":5}");
    ck_assert_msg(json_equal(req, want), "got %s",
                  json_dumps(req, JSON_COMPACT));
    json_decref(want);
    json_decref(req);
}
END_TEST

START_TEST(test_cli_args_json_values)
{
    const char *argv[] = {"--container-overrides",
                    "{\"command\":[\"echo\",\"a,b=c\"]}", "--jobs", "1", "2"};
    int rc;
    json_t *req = parse("submit-job", 2, argv, &rc);
    ck_assert_int_eq(rc, 0);
    json_t *cmd = json_object_get(json_object_get(req, "containerOverrides"),
                                  "command");
    ck_assert_str_eq(json_string_value(json_array_get(cmd, 1)), "a,b=c");
    json_decref(req);
    req = parse("describe-jobs", 3, argv + 2, &rc);
    ck_assert_int_eq(json_array_size(json_object_get(req, "jobs")), 2);
    json_decref(req);
    /* filter values stay strings, even when they look like numbers */
    const char *fv[] = {"--job-queue", "q", "--filters",
                        "name=AFTER_CREATED_AT,values=0"};
    req = parse("list-jobs", 4, fv, &rc);
    ck_assert_int_eq(rc, 0);
    ck_assert_str_eq(json_string_value(json_array_get(
                         json_object_get(json_array_get(
                                             json_object_get(req, "filters"), 0),
                                         "values"),
                         0)),
                     "0");
    json_decref(req);
    req = parse("describe-jobs", 3, argv + 2, &rc);
    ck_assert_int_eq(json_array_size(json_object_get(req, "jobs")), 2);
    json_decref(req);
}
END_TEST

START_TEST(test_cli_args_errors)
{
    int rc;
    const char *a1[] = {"--no-such-flag", "x"};
    json_decref(parse("submit-job", 2, a1, &rc));
    ck_assert_int_eq(rc, -1);
    ck_assert_msg(strstr(errstr, "unknown argument \"--no-such-flag\""), "%s",
                  errstr);
    const char *a2[] = {"--priority", "high"};
    json_decref(parse("create-job-queue", 2, a2, &rc));
    ck_assert_int_eq(rc, -1);
    ck_assert_msg(strstr(errstr, "--priority needs an integer"), "%s", errstr);
    const char *a3[] = {"--timeout", "{broken"};
    json_decref(parse("submit-job", 2, a3, &rc));
    ck_assert_int_eq(rc, -1);
    ck_assert_msg(strstr(errstr, "invalid JSON"), "%s", errstr);
    const char *a4[] = {"--job-name"};
    json_decref(parse("submit-job", 1, a4, &rc));
    ck_assert_int_eq(rc, -1);
    ck_assert_msg(strstr(errstr, "needs a value"), "%s", errstr);
    ck_assert_ptr_null(drv_cli_find("no-such-verb"));
    ck_assert_ptr_null(drv_cli_input_json("file:///no/such/file", errstr,
                                          sizeof(errstr)));
    ck_assert_msg(strstr(errstr, "could not open"), "%s", errstr);
}
END_TEST

START_TEST(test_cli_args_every_verb_maps_to_an_operation)
{
    int n = 0;
    for (const drv_cli_verb_t *v = drv_cli_verbs; v->verb; v++, n++) {
        ck_assert_msg(drv_client_serves(v->op),
                      "verb %s names unknown operation %s", v->verb, v->op);
    }
    ck_assert_int_ge(n, 31);
    ck_assert(!drv_client_serves("CreateQuotaShare"));
    ck_assert(drv_client_serves("ListJobsByConsumableResource"));
    /* a Long member takes more than 32 bits */
    int rc = 0;
    const char *a[] = {"--consumable-resource-name", "lic", "--total-quantity",
                       "5000000000"};
    json_t *req = parse("create-consumable-resource", 4, a, &rc);
    ck_assert_int_eq(rc, 0);
    ck_assert(json_integer_value(json_object_get(req, "totalQuantity")) ==
              5000000000LL);
    json_decref(req);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("cli_args");
    TCase *tc = tcase_create("parse");
    tcase_add_test(tc, test_cli_args_submit_shorthand);
    tcase_add_test(tc, test_cli_args_json_values);
    tcase_add_test(tc, test_cli_args_errors);
    tcase_add_test(tc, test_cli_args_every_verb_maps_to_an_operation);
    suite_add_tcase(s, tc);
    return drv_test_run(s);
}
