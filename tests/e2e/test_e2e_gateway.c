/* SPDX-License-Identifier: Apache-2.0 */
/*
 * End-to-end: drover-gateway driven by unmodified boto3, AWS SDK for
 * JavaScript v3 and AWS SDK for Java v2 programs and by the aws command
 * line, as they would drive AWS Batch (only the endpoint
 * and the credentials differ); jobs really run on the stack's workers.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "e2e.h"
#include "check_main.h"

static char out[65536];

static int sh(const char *cmd)
{
    FILE *p = popen(cmd, "r");
    ck_assert(p);
    size_t n = fread(out, 1, sizeof(out) - 1, p);
    out[n] = '\0';
    int rc = pclose(p);
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

static const char *endpoint(void)
{
    static char url[64];
    const char *port = getenv("DROVER_GATEWAY_PORT");
    ck_assert_msg(port, "DROVER_GATEWAY_PORT is not set: run tests/e2e/run");
    snprintf(url, sizeof(url), "http://127.0.0.1:%s", port);
    return url;
}

/* A scenario program: exit 0 and its "checks passed" line (with
 * `marker`, which names the client, when given). */
static void scenario(const char *cmd, const char *marker)
{
    int rc = sh(cmd);
    /* the end of the output: Check's messages are bounded */
    size_t len = strlen(out);
    const char *tail = len > 3000 ? out + len - 3000 : out;
    ck_assert_msg(rc == 0, "%s", tail);
    ck_assert_msg((!marker || strstr(out, marker)) &&
                      strstr(out, "checks passed"),
                  "%s", tail);
}

START_TEST(test_e2e_gateway_boto3)
{
    char cmd[1024];
    snprintf(cmd, sizeof(cmd),
             "/usr/bin/python3 %s/tests/gateway/boto3_batch.py %s 2>&1",
             getenv("DROVER_SOURCE_DIR"), endpoint());
    scenario(cmd, NULL);
}
END_TEST

/* A job's output through the CloudWatch Logs API: boto3's logs client
 * and `aws logs get-log-events`, while the job runs and after. */
START_TEST(test_e2e_gateway_logs)
{
    char cmd[1024];
    snprintf(cmd, sizeof(cmd),
             "/usr/bin/python3 %s/tests/gateway/boto3_logs.py %s 2>&1",
             getenv("DROVER_SOURCE_DIR"), endpoint());
    scenario(cmd, "logs:");
}
END_TEST

/* The web console in headless chromium (selenium): log in, a job's page
 * following its log, the jobs page, cancel with a reason, a phone's
 * width, log out. Screenshots go to build/console-screenshots/. */
START_TEST(test_e2e_gateway_console_browser)
{
    char cmd[1024];
    snprintf(cmd, sizeof(cmd),
             "/usr/bin/python3 %s/tests/gateway/console_browser.py %s "
             "%s/build/console-screenshots 2>&1",
             getenv("DROVER_SOURCE_DIR"), endpoint(),
             getenv("DROVER_SOURCE_DIR"));
    scenario(cmd, "console:");
}
END_TEST

/* The same scenario with the AWS SDK for JavaScript v3 and the AWS SDK
 * for Java v2 (tests/gateway/sdk-setup installed them into caches); the
 * Java SDK checks each reply's types itself. */
static const char *sdk_cache(void)
{
    const char *cache = getenv("DROVER_SDK_CACHE");
    ck_assert_msg(cache, "DROVER_SDK_CACHE is not set: run tests/e2e/run");
    return cache;
}

START_TEST(test_e2e_gateway_js_sdk)
{
    char cmd[2048];
    snprintf(cmd, sizeof(cmd),
             "cp %s/tests/gateway/js/scenario.mjs %s/js/ && "
             "node %s/js/scenario.mjs %s 2>&1",
             getenv("DROVER_SOURCE_DIR"), sdk_cache(), sdk_cache(),
             endpoint());
    scenario(cmd, "js: ");
}
END_TEST

START_TEST(test_e2e_gateway_java_sdk)
{
    char cmd[2048];
    snprintf(cmd, sizeof(cmd),
             "java -cp \"$(cat %s/java/classpath)\" "
             "%s/tests/gateway/java/Scenario.java %s 2>&1",
             sdk_cache(), getenv("DROVER_SOURCE_DIR"), endpoint());
    scenario(cmd, "java: ");
}
END_TEST

/* Issue 13's findings against the gateway, sent as an attacker would
 * (tests/gateway/hostile.py): each refused, the gateway serving after. */
START_TEST(test_e2e_gateway_hostile_clients)
{
    char cmd[1024];
    snprintf(cmd, sizeof(cmd),
             "/usr/bin/python3 %s/tests/gateway/hostile.py %s 2>&1",
             getenv("DROVER_SOURCE_DIR"), endpoint());
    scenario(cmd, NULL);
}
END_TEST

#define AWS                                                                    \
    "AWS_ACCESS_KEY_ID=local AWS_SECRET_ACCESS_KEY=local-secret "              \
    "AWS_DEFAULT_REGION=us-east-1 AWS_PAGER= aws --endpoint-url %s batch "

START_TEST(test_e2e_gateway_aws_cli)
{
    char cmd[2048];
    e2e_register("e2e-awscli", "[\"sh\",\"-c\",\"echo from-aws-cli\"]", 32);
    snprintf(cmd, sizeof(cmd), AWS "describe-job-queues --job-queues default",
             endpoint());
    ck_assert_msg(sh(cmd) == 0, "%s", out);
    ck_assert_msg(strstr(out, "\"jobQueueName\": \"default\""), "%s", out);
    snprintf(cmd, sizeof(cmd),
             AWS "submit-job --job-name cli --job-queue default "
                 "--job-definition e2e-awscli --query jobId --output text",
             endpoint());
    ck_assert_msg(sh(cmd) == 0, "%s", out);
    char id[64];
    ck_assert_int_eq(sscanf(out, "%63s", id), 1);
    json_t *j = e2e_wait(id, 120);
    ck_assert_str_eq(json_string_value(json_object_get(j, "status")),
                     "SUCCEEDED");
    json_decref(j);
    snprintf(cmd, sizeof(cmd),
             AWS "describe-jobs --jobs %s --query 'jobs[0].status' "
                 "--output text",
             endpoint(), id);
    ck_assert_msg(sh(cmd) == 0 && !strcmp(out, "SUCCEEDED\n"), "%s", out);
    /* the CLI's own paging (page size 1: every page through nextToken),
     * over jobs of its own (the suite may run alone) */
    for (int k = 0; k < 2; k++) {
        char more[64];
        snprintf(more, sizeof(more), "%s", e2e_submit("cli", "e2e-awscli",
                                                      NULL));
        json_decref(e2e_wait(more, 120));
    }
    snprintf(cmd, sizeof(cmd),
             AWS "list-jobs --job-queue default --job-status SUCCEEDED "
                 "--page-size 1 --max-items 3 --query 'jobSummaryList[].jobId' "
                 "--output json | grep -c '^    \"'",
             endpoint());
    ck_assert_msg(sh(cmd) == 0 && !strcmp(out, "3\n"), "%s", out);
    /* tags through the job's ARN; refusals as the CLI prints them */
    snprintf(cmd, sizeof(cmd),
             AWS "tag-resource --resource-arn "
                 "\"$(" AWS "describe-jobs --jobs %s --query 'jobs[0].jobArn' "
                 "--output text)\" --tags cli=yes && " AWS "describe-jobs "
                 "--jobs %s --query 'jobs[0].tags.cli' --output text",
             endpoint(), endpoint(), id, endpoint(), id);
    ck_assert_msg(sh(cmd) == 0 && !strcmp(out, "yes\n"), "%s", out);
    snprintf(cmd, sizeof(cmd),
             AWS "submit-job --job-name cli --job-queue default "
                 "--job-definition e2e-awscli --scheduling-priority-override "
                 "3 2>&1",
             endpoint());
    ck_assert_int_ne(sh(cmd), 0);
    ck_assert_msg(strstr(out, "ClientException") &&
                      strstr(out, "schedulingPriorityOverride applies only"),
                  "%s", out);
    /* unsigned and wrongly signed requests are refused */
    snprintf(cmd, sizeof(cmd),
             "AWS_DEFAULT_REGION=us-east-1 aws --no-sign-request "
             "--endpoint-url %s batch describe-job-queues 2>&1",
             endpoint());
    ck_assert_int_ne(sh(cmd), 0);
    ck_assert_msg(strstr(out, "MissingAuthenticationToken"), "%s", out);
    snprintf(cmd, sizeof(cmd),
             "AWS_ACCESS_KEY_ID=local AWS_SECRET_ACCESS_KEY=nope "
             "AWS_DEFAULT_REGION=us-east-1 aws --endpoint-url %s batch "
             "describe-job-queues 2>&1",
             endpoint());
    ck_assert_int_ne(sh(cmd), 0);
    ck_assert_msg(strstr(out, "InvalidSignatureException"), "%s", out);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("gateway");
    TCase *tc = tcase_create("gateway");
    tcase_add_checked_fixture(tc, e2e_setup, e2e_teardown);
    tcase_set_timeout(tc, 400);
    tcase_add_test(tc, test_e2e_gateway_boto3);
    tcase_add_test(tc, test_e2e_gateway_logs);
    tcase_add_test(tc, test_e2e_gateway_console_browser);
    tcase_add_test(tc, test_e2e_gateway_js_sdk);
    tcase_add_test(tc, test_e2e_gateway_java_sdk);
    tcase_add_test(tc, test_e2e_gateway_hostile_clients);
    tcase_add_test(tc, test_e2e_gateway_aws_cli);
    suite_add_tcase(s, tc);
    return drv_test_run(s);
}
