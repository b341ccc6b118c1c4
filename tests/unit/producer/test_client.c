/* SPDX-License-Identifier: Apache-2.0 */
/* drv_client_call's checks that come before any connection: how deep a
 * request may nest and how large a reply may grow. */
#include <check.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

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

/* An attempt's events (the Logs API): one per non-empty line, timed by
 * the stamp at or before its start (malformed and out-of-range stamps
 * ignored, a line before any stamp gets the fallback), a line longer than
 * an event may be split. */
START_TEST(test_client_log_events)
{
    const char *text = "one\n\ntwo\nthree";
    const char *times = "5 2000\n0 1000\nbad line\n9 x\n99 5000\n";
    size_t n = 0;
    drv__log_event_t *ev = drv__log_events(text, strlen(text), times, 7, &n);
    ck_assert_uint_eq(n, 3);
    ck_assert(ev[0].off == 0 && ev[0].len == 3 && ev[0].ms == 1000);
    ck_assert(ev[1].off == 5 && ev[1].len == 3 && ev[1].ms == 2000);
    ck_assert(ev[2].off == 9 && ev[2].len == 5 && ev[2].ms == 2000);
    free(ev);
    ev = drv__log_events(text, strlen(text), NULL, 7, &n);
    ck_assert_uint_eq(n, 3);
    ck_assert_int_eq(ev[2].ms, 7);
    free(ev);
    size_t big = 600 * 1024;
    char *line = malloc(big);
    memset(line, 'x', big);
    ev = drv__log_events(line, big, "0 42\n", 7, &n);
    ck_assert_uint_eq(n, 3); /* 256 KiB less 26 bytes each at most */
    ck_assert_uint_eq(ev[0].len, 256 * 1024 - 26);
    ck_assert_uint_eq(ev[0].len + ev[1].len + ev[2].len, big);
    ck_assert(ev[2].ms == 42 && ev[2].off == 2 * (256 * 1024 - 26));
    free(ev);
    free(line);
    ev = drv__log_events("", 0, "0 1\n", 7, &n);
    ck_assert_uint_eq(n, 0);
    free(ev);
}
END_TEST

/* The Logs API reads kept output through no symlink: a job directory or
 * a log file linked elsewhere is not read, nor a job id that is a path. */
START_TEST(test_client_log_read_kept_no_symlink)
{
    char dir[] = "/tmp/drv-logs-XXXXXX", away[] = "/tmp/drv-away-XXXXXX";
    char p[256], q[256];
    size_t len;
    ck_assert_ptr_nonnull(mkdtemp(dir));
    ck_assert_ptr_nonnull(mkdtemp(away));
    snprintf(p, sizeof(p), "%s/secret.log", away);
    FILE *f = fopen(p, "w");
    fputs("not yours\n", f);
    fclose(f);
    snprintf(p, sizeof(p), "%s/job-a", dir);
    ck_assert_int_eq(mkdir(p, 0755), 0);
    snprintf(q, sizeof(q), "%s/job-a/1.log", dir);
    f = fopen(q, "w");
    fputs("mine\n", f);
    fclose(f);
    char *text = drv__log_read_kept(dir, "job-a", "1.log", &len);
    ck_assert_str_eq(text, "mine\n");
    free(text);
    snprintf(p, sizeof(p), "%s/secret.log", away);
    snprintf(q, sizeof(q), "%s/job-a/2.log", dir);
    ck_assert_int_eq(symlink(p, q), 0); /* a file linked elsewhere */
    ck_assert_ptr_null(drv__log_read_kept(dir, "job-a", "2.log", &len));
    snprintf(q, sizeof(q), "%s/job-b", dir);
    ck_assert_int_eq(symlink(away, q), 0); /* a job directory linked */
    ck_assert_ptr_null(drv__log_read_kept(dir, "job-b", "secret.log", &len));
    ck_assert_ptr_null(drv__log_read_kept(dir, "..", "1.log", &len));
    unlink(q);
    snprintf(q, sizeof(q), "%s/job-a/2.log", dir);
    unlink(q);
    snprintf(q, sizeof(q), "%s/job-a/1.log", dir);
    unlink(q);
    snprintf(q, sizeof(q), "%s/job-a", dir);
    rmdir(q);
    unlink(p);
    rmdir(away);
    rmdir(dir);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("client");
    TCase *tc = tcase_create("checks");
    tcase_add_test(tc, test_client_depth_limit);
    tcase_add_test(tc, test_client_reply_bound);
    tcase_add_test(tc, test_client_log_events);
    tcase_add_test(tc, test_client_log_read_kept_no_symlink);
    suite_add_tcase(s, tc);
    return drv_test_run(s);
}
