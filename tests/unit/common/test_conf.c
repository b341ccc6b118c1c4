/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for drover/conf.h: defaults, validation, file, environment. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "drover/conf.h"
#include "drover/err.h"
#include "check_main.h"

static char errstr[DRV_ERRSTR_SIZE];

START_TEST(test_conf_defaults_and_set)
{
    drv_conf_t *conf = drv_conf_new();
    ck_assert_str_eq(drv_conf_get(conf, "worker.compute.environment"), "local");
    ck_assert_int_eq(drv_conf_get_int(conf, "worker.pids.limit"), 1024);
    ck_assert_int_eq(drv_conf_set(conf, "worker.pids.limit", "64", errstr,
                                  sizeof(errstr)),
                     DRV_CONF_OK);
    ck_assert_int_eq(drv_conf_get_int(conf, "worker.pids.limit"), 64);
    ck_assert_int_eq(drv_conf_set(conf, "worker.pids.limit", "lots", errstr,
                                  sizeof(errstr)),
                     DRV_CONF_INVALID);
    ck_assert_msg(strstr(errstr, "worker.pids.limit"), "%s", errstr);
    ck_assert_int_eq(drv_conf_get_int(conf, "worker.pids.limit"), 64);
    ck_assert_int_eq(drv_conf_set(conf, "no.such.key", "1", errstr,
                                  sizeof(errstr)),
                     DRV_CONF_UNKNOWN);
    ck_assert_int_eq(drv_conf_set(conf, "kafka.linger.ms", "5", errstr,
                                  sizeof(errstr)),
                     DRV_CONF_OK);
    ck_assert_str_eq(drv_conf_get(conf, "kafka.linger.ms"), "5");
    /* the worker's allowed roots: clean absolute paths only */
    ck_assert_str_eq(drv_conf_get(conf, "worker.allowed.host.paths"), "");
    ck_assert(!drv_conf_get_bool(conf, "worker.allow.privileged"));
    ck_assert_int_eq(drv_conf_set(conf, "worker.allowed.host.paths",
                                  "/srv/a, /srv/b", errstr, sizeof(errstr)),
                     DRV_CONF_OK);
    const char *bad[] = {"/srv/a/..", "/srv/a,data", "/srv//a", "/srv/a/"};
    for (size_t i = 0; i < 4; i++) {
        ck_assert_int_eq(drv_conf_set(conf, "worker.allowed.host.paths",
                                      bad[i], errstr, sizeof(errstr)),
                         DRV_CONF_INVALID);
        ck_assert_msg(strstr(errstr, "worker.allowed.host.paths"), "%s",
                      errstr);
    }
    ck_assert_str_eq(drv_conf_get(conf, "worker.allowed.host.paths"),
                     "/srv/a, /srv/b");
    drv_conf_t *dup = drv_conf_dup(conf);
    ck_assert_str_eq(drv_conf_get(dup, "kafka.linger.ms"), "5");
    drv_conf_destroy(dup);
    drv_conf_destroy(conf);
}
END_TEST

START_TEST(test_conf_file_and_env)
{
    char path[] = "/tmp/drv-conf-XXXXXX";
    int fd = mkstemp(path);
    FILE *fp = fdopen(fd, "w");
    fputs("# comment\nworker.vcpus = 2.5\n\nkafka.client.id=x # trailing\n",
          fp);
    fclose(fp);
    setenv("DRV_WORKER_VCPUS", "3", 1);
    drv_conf_t *conf = drv_conf_load(path, errstr, sizeof(errstr));
    ck_assert_msg(conf != NULL, "%s", errstr);
    ck_assert_double_eq(drv_conf_get_double(conf, "worker.vcpus"), 3.0);
    ck_assert_str_eq(drv_conf_get(conf, "kafka.client.id"), "x");
    drv_conf_destroy(conf);
    unsetenv("DRV_WORKER_VCPUS");

    fp = fopen(path, "w");
    fputs("worker.vcpus = 1\nthis line is wrong\n", fp);
    fclose(fp);
    ck_assert_ptr_null(drv_conf_load(path, errstr, sizeof(errstr)));
    char want[600];
    snprintf(want, sizeof(want), "%s:2: expected", path);
    ck_assert_msg(strstr(errstr, want), "%s", errstr);
    unlink(path);
}
END_TEST

START_TEST(test_conf_include)
{
    char dir[] = "/tmp/drv-conf-inc-XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    char common[600], role[600], loop[600];
    snprintf(common, sizeof(common), "%s/common.conf", dir);
    snprintf(role, sizeof(role), "%s/role.conf", dir);
    snprintf(loop, sizeof(loop), "%s/loop.conf", dir);
    FILE *fp = fopen(common, "w");
    fputs("worker.pids.limit = 64\nworker.id = common\n", fp);
    fclose(fp);
    fp = fopen(role, "w");
    fputs("include = common.conf\nworker.id = role\n", fp);
    fclose(fp);
    drv_conf_t *conf = drv_conf_load(role, errstr, sizeof(errstr));
    ck_assert_msg(conf != NULL, "%s", errstr);
    ck_assert_int_eq(drv_conf_get_int(conf, "worker.pids.limit"), 64);
    ck_assert_str_eq(drv_conf_get(conf, "worker.id"), "role");
    drv_conf_destroy(conf);
    fp = fopen(loop, "w"); /* includes itself: refused, not a stack overflow */
    fputs("include = loop.conf\n", fp);
    fclose(fp);
    ck_assert_ptr_null(drv_conf_load(loop, errstr, sizeof(errstr)));
    ck_assert_msg(strstr(errstr, "nest deeper"), "%s", errstr);
    fp = fopen(role, "w");
    fputs("include = missing.conf\n", fp);
    fclose(fp);
    ck_assert_ptr_null(drv_conf_load(role, errstr, sizeof(errstr)));
    ck_assert_msg(strstr(errstr, "role.conf:1:"), "%s", errstr);
    unlink(common);
    unlink(role);
    unlink(loop);
    rmdir(dir);
}
END_TEST

START_TEST(test_conf_dump_masks_secrets)
{
    drv_conf_t *conf = drv_conf_new();
    drv_conf_set(conf, "pg.conninfo", "postgresql://u:hunter2@h/db", NULL, 0);
    drv_conf_set(conf, "kafka.sasl.password", "hunter2", NULL, 0);
    drv_conf_set(conf, "worker.key", "hunter2", NULL, 0);
    drv_conf_set(conf, "dispatcher.worker.key.master", "hunter2", NULL, 0);
    char *buf = NULL;
    size_t len = 0;
    FILE *fp = open_memstream(&buf, &len);
    drv_conf_dump(conf, fp);
    drv_conf_print_help(fp);
    fclose(fp);
    ck_assert_ptr_null(strstr(buf, "hunter2"));
    ck_assert_ptr_nonnull(strstr(buf, "pg.conninfo = ********"));
    free(buf);
    drv_conf_destroy(conf);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("conf");
    TCase *tc = tcase_create("conf");
    tcase_add_test(tc, test_conf_defaults_and_set);
    tcase_add_test(tc, test_conf_file_and_env);
    tcase_add_test(tc, test_conf_include);
    tcase_add_test(tc, test_conf_dump_masks_secrets);
    suite_add_tcase(s, tc);
    return drv_test_run(s);
}
