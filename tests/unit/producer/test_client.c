/* SPDX-License-Identifier: Apache-2.0 */
/* drv_client_call's checks that come before any connection: how deep a
 * request may nest and how large a reply may grow. */
#include <check.h>
#include <string.h>

#include "check_main.h"
#include "client_int.h"
#include "drover/err.h"

/* {"a":{"a":...{}}} with `depth` objects. */
static json_t *nested(int depth)
{
    json_t *j = json_object();
    for (int i = 1; i < depth; i++) {
        j = json_pack("{s:o}", "a", j);
    }
    return j;
}

START_TEST(test_client_depth_limit)
{
    char e[DRV_ERRSTR_SIZE];
    drv_err_t err = DRV_OK;
    drv_conf_t *conf = drv_conf_new();
    drv_client_t *client = drv_client_new(conf, NULL);
    /* an unknown operation: answered after the checks, with no database */
    json_t *ok = nested(DRV_CLIENT_DEPTH_MAX);
    ck_assert_ptr_null(drv_client_call(client, "NoSuchOp", ok, &err, e,
                                       sizeof(e)));
    ck_assert_msg(strstr(e, "unknown operation"), "%s", e);
    /* 2,000 levels inside an unknown key: what broke every SDK's listing */
    const int depths[] = {DRV_CLIENT_DEPTH_MAX + 1, 2000};
    for (size_t i = 0; i < 2; i++) {
        json_t *deep = json_pack("{s:s,s:o}", "jobDefinitionName", "d", "x",
                                 nested(depths[i]));
        ck_assert_ptr_null(drv_client_call(client, "RegisterJobDefinition",
                                           deep, &err, e, sizeof(e)));
        ck_assert_int_eq(err, DRV_ERR_INVALID);
        ck_assert_str_eq(e, "the request is nested deeper than 32 levels");
        json_decref(deep);
    }
    /* arrays count as levels too; the batch path checks each request */
    json_t *arr = json_array();
    json_t *a = arr;
    for (int i = 1; i < DRV_CLIENT_DEPTH_MAX; i++) {
        json_t *inner = json_array();
        json_array_append_new(a, inner);
        a = inner;
    }
    json_t *batch = json_pack("[{s:o}]", "x", arr);
    ck_assert_ptr_null(drv_client_submit_jobs(client, batch, &err, e,
                                              sizeof(e)));
    ck_assert_int_eq(err, DRV_ERR_INVALID);
    ck_assert_str_eq(e, "request 0: the request is nested deeper than 32 "
                        "levels");
    json_decref(batch);
    json_decref(ok);
    drv_client_destroy(client);
    drv_conf_destroy(conf);
}
END_TEST

START_TEST(test_client_reply_bound)
{
    char e[DRV_ERRSTR_SIZE] = "";
    size_t used = 0;
    size_t big = 5 * 1024 * 1024;
    char *s = malloc(big + 1);
    memset(s, 'x', big);
    s[big] = '\0';
    json_t *item = json_pack("{s:s}", "command", s);
    free(s);
    /* three 5 MiB items fit in 16 MiB, a fourth does not */
    for (int i = 0; i < 3; i++) {
        ck_assert(drv__reply_fits(&used, item, e, sizeof(e)));
    }
    ck_assert(!drv__reply_fits(&used, item, e, sizeof(e)));
    ck_assert_msg(strstr(e, "exceed 16 MiB"), "%s", e);
    json_decref(item);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("client");
    TCase *tc = tcase_create("checks");
    tcase_add_test(tc, test_client_depth_limit);
    tcase_add_test(tc, test_client_reply_bound);
    suite_add_tcase(s, tc);
    return drv_test_run(s);
}
