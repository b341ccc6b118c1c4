/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests for the submission-time container policy
 * (drv_catalog_policy_allows in common/src/catalog.c) and the lexical path
 * helpers it stands on (drv_path_is_clean, drv_path_under). No database:
 * the query that fetches each environment's policy is not exercised.
 */
#include <check.h>
#include <string.h>

#include "drover/catalog.h"
#include "drover/err.h"
#include "drover/util.h"
#include "check_main.h"

static char errstr[DRV_ERRSTR_SIZE];

static json_t *J(const char *text)
{
    json_error_t e;
    json_t *j = json_loads(text, 0, &e);
    ck_assert_msg(j != NULL, "bad test JSON: %s", e.text);
    return j;
}

START_TEST(test_catalog_paths_are_clean_or_not)
{
    const char *clean[] = {"/", "/data", "/data/x", "/a/.b/..c/..."};
    const char *unclean[] = {"",        "data",    "/data/",  "/data//x",
                             "/data/.", "/data/..", "/./data", "//",
                             "/data/../etc", "./x"};
    for (size_t i = 0; i < DRV_ARRAY_SIZE(clean); i++) {
        ck_assert_msg(drv_path_is_clean(clean[i]), "%s", clean[i]);
    }
    for (size_t i = 0; i < DRV_ARRAY_SIZE(unclean); i++) {
        ck_assert_msg(!drv_path_is_clean(unclean[i]), "%s", unclean[i]);
    }
    ck_assert(!drv_path_is_clean(NULL));
    ck_assert(drv_path_under("/data/x", "/data"));
    ck_assert(drv_path_under("/data", "/data/"));
    ck_assert(drv_path_under("/etc", "/"));
    ck_assert(!drv_path_under("/database", "/data"));
    ck_assert(!drv_path_under("/dat", "/data"));
}
END_TEST

/* issue 13: "<root>/.." is under <root> by its letters; refused before
 * the roots are looked at, with the field named. */
START_TEST(test_catalog_policy_refuses_dot_dot_under_a_root)
{
    json_t *policy = J("{\"allowedHostPaths\":[\"/srv/shared\"]}");
    const char *bad[] = {"/srv/shared/..", "/srv/shared/../..",
                         "/srv/shared/./x", "/srv/shared//x", "/srv/shared/",
                         "srv/shared"};
    for (size_t i = 0; i < DRV_ARRAY_SIZE(bad); i++) {
        json_t *c = json_pack("{s:[{s:s},{s:s,s:{s:s}}]}", "volumes", "name",
                              "anon", "name", "v", "host", "sourcePath",
                              bad[i]);
        ck_assert_int_eq(drv_catalog_policy_allows("ce1", policy, c, errstr,
                                                   sizeof(errstr)),
                         DRV_ERR_INVALID);
        ck_assert_msg(strstr(errstr, "containerProperties.volumes[1].host."
                                     "sourcePath must be an absolute path"),
                      "%s: %s", bad[i], errstr);
        json_decref(c);
    }
    json_decref(policy);
}
END_TEST

START_TEST(test_catalog_policy_roots_and_privileged)
{
    json_t *policy = J("{\"allowedHostPaths\":[\"/srv/shared\", 7]}");
    json_t *c = J("{\"volumes\":[{\"name\":\"a\"},{\"name\":\"b\",\"host\":"
                  "{\"sourcePath\":\"/srv/shared/x\"}}]}");
    ck_assert_int_eq(drv_catalog_policy_allows("ce1", policy, c, errstr,
                                               sizeof(errstr)),
                     DRV_OK);
    json_decref(c);
    c = J("{\"volumes\":[{\"name\":\"b\",\"host\":{\"sourcePath\":"
          "\"/srv/sharedx\"}}]}");
    ck_assert_int_eq(drv_catalog_policy_allows("ce1", policy, c, errstr,
                                               sizeof(errstr)),
                     DRV_ERR_INVALID);
    ck_assert_str_eq(errstr, "host path /srv/sharedx is not allowed by "
                             "compute environment ce1 "
                             "(containerPolicy.allowedHostPaths)");
    json_decref(c);
    c = J("{\"privileged\":true}");
    ck_assert_int_eq(drv_catalog_policy_allows("ce1", policy, c, errstr,
                                               sizeof(errstr)),
                     DRV_ERR_INVALID);
    ck_assert_msg(strstr(errstr, "containerPolicy.allowPrivileged"), "%s",
                  errstr);
    /* no policy at all: nothing allowed but plain containers */
    ck_assert_int_eq(drv_catalog_policy_allows("ce1", NULL, c, errstr,
                                               sizeof(errstr)),
                     DRV_ERR_INVALID);
    json_decref(c);
    c = J("{\"image\":\"x\"}");
    ck_assert_int_eq(drv_catalog_policy_allows("ce1", NULL, c, errstr,
                                               sizeof(errstr)),
                     DRV_OK);
    json_decref(c);
    json_decref(policy);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("catalog");
    TCase *tc = tcase_create("policy");
    tcase_add_test(tc, test_catalog_paths_are_clean_or_not);
    tcase_add_test(tc, test_catalog_policy_refuses_dot_dot_under_a_root);
    tcase_add_test(tc, test_catalog_policy_roots_and_privileged);
    suite_add_tcase(s, tc);
    return drv_test_run(s);
}
