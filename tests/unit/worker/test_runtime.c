/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests for what the worker's runtimes share (worker/runtime.c: name
 * sanitiser, environment, the log bound and its marker), for the worker's
 * own policy (worker/policy.c: privileged, host paths resolved beneath
 * worker.allowed.host.paths through no symlink) and for the container
 * runtime's spec builder (worker/runtime_container.c). Nothing running is
 * needed.
 */
#define _GNU_SOURCE /* O_PATH */
#include <check.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "drover/job.h"
#include "drover/util.h"
#include "check_main.h"
#include "runtime.h"

static drv_conf_t *conf;
static drv__rt_host_t rt_host;

static void setup(void)
{
    conf = drv_conf_new();
    rt_host = (drv__rt_host_t){
        .conf = conf, .log = NULL, .worker_id = "w1", .ce = "local"};
}

static void teardown(void)
{
    drv_conf_destroy(conf);
}

static drv__rt_attempt_t attempt_of(json_t *run, drv__job_t *job)
{
    snprintf(job->id, sizeof(job->id), "job-1x");
    job->attempt = 2;
    job->vcpus = 0.5;
    job->memory_mib = 64;
    snprintf(job->queue, sizeof(job->queue), "q1");
    return (drv__rt_attempt_t){.host = &rt_host, .job = job, .run = run};
}

START_TEST(test_runtime_names_are_sanitised)
{
    char name[64];
    drv__job_t job = {0};
    drv__rt_attempt_t ra = attempt_of(NULL, &job);
    drv__rt_name(&ra, name, sizeof(name));
    ck_assert_str_eq(name, "job-1x-2");
    snprintf(job.id, sizeof(job.id), "p:1");
    drv__rt_name(&ra, name, sizeof(name));
    ck_assert_str_eq(name, "p_1-2");
    ck_assert_int_eq(drv__rt_sanitize(name, 4, "a.b.c"), 3);
    ck_assert_str_eq(name, "a_b");
}
END_TEST

START_TEST(test_runtime_log_is_bounded_with_marker)
{
    char dir[] = "/tmp/drv-test-logs-XXXXXX", path[128], want[80];
    char e[DRV_ERRSTR_SIZE];
    ck_assert_ptr_nonnull(mkdtemp(dir));
    ck_assert_int_eq(drv_conf_set(conf, "worker.log.dir", dir, e, sizeof(e)),
                     DRV_CONF_OK);
    drv__job_t job = {0};
    drv__rt_attempt_t ra = attempt_of(NULL, &job);
    size_t big = DRV__RT_LOG_MAX + 100;
    char *buf = calloc(1, big);
    memset(buf, 'x', big);
    drv__rt_log_keep(&ra, buf, big, false, false); /* then bounded */
    free(buf);
    snprintf(path, sizeof(path), "%s/job-1x/2.log", dir);
    int fd = open(path, O_WRONLY);
    ck_assert_int_ge(fd, 0);
    drv__rt_log_bound(fd);
    close(fd);
    size_t len;
    char *text = drv_read_file(path, &len, e, sizeof(e));
    ck_assert_msg(text != NULL, "%s", e);
    snprintf(want, sizeof(want), "\n[drover: output truncated at %d bytes]\n",
             DRV__RT_LOG_MAX);
    ck_assert_int_eq(len, DRV__RT_LOG_MAX + strlen(want));
    ck_assert_str_eq(text + DRV__RT_LOG_MAX, want);
    free(text);
    unlink(path);
    snprintf(path, sizeof(path), "%s/job-1x", dir);
    rmdir(path);
    rmdir(dir);
}
END_TEST

/* The engine's timestamps=1 prefix: parsed to epoch ms, refused when it
 * is anything else. */
START_TEST(test_runtime_rfc3339_prefix)
{
    size_t used = 0;
    const char *a = "2026-12-07T15:00:01.123456789Z hello\n";
    ck_assert_int_eq(drv__rt_rfc3339_ms(a, strlen(a), &used),
                     1796655601123LL); /* date -d 2026-12-07T15:00:01Z +%s */
    ck_assert_uint_eq(used, 31);
    const char *b = "2026-12-07T15:00:01Z x";
    ck_assert_int_eq(drv__rt_rfc3339_ms(b, strlen(b), &used),
                     1796655601000LL);
    ck_assert_uint_eq(used, 21);
    const char *bad[] = {"hello world, no time here", "2026-12-07 15:00:01Z x",
                         "2026-12-07T15:00:01.5Zx", "2026-1a-07T15:00:01Z x",
                         ""};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ck_assert_int_eq(drv__rt_rfc3339_ms(bad[i], strlen(bad[i]), &used),
                         -1);
    }
}
END_TEST

static char *read_at(const char *dir, const char *name)
{
    char path[256], e[DRV_ERRSTR_SIZE];
    snprintf(path, sizeof(path), "%s/job-1x/%s", dir, name);
    char *text = drv_read_file(path, NULL, e, sizeof(e));
    ck_assert_msg(text != NULL, "%s", e);
    return text;
}

/* Kept output with the engine's stamps: the log holds the text without
 * them, the times file each line's offset and time (a line without a
 * stamp gets the time it was kept). Output stamped as it grows: each new
 * line once, with the time it was first seen. */
START_TEST(test_runtime_times_of_lines)
{
    char dir[] = "/tmp/drv-test-logs-XXXXXX", e[DRV_ERRSTR_SIZE];
    ck_assert_ptr_nonnull(mkdtemp(dir));
    ck_assert_int_eq(drv_conf_set(conf, "worker.log.dir", dir, e, sizeof(e)),
                     DRV_CONF_OK);
    drv__job_t job = {0};
    drv__rt_attempt_t ra = attempt_of(NULL, &job);
    const char *out = "2026-12-07T15:00:01.100Z one\n"
                      "2026-12-07T15:00:02.200Z two\n";
    drv__rt_log_keep(&ra, out, strlen(out), false, true);
    char *log = read_at(dir, "2.log"), *times = read_at(dir, "2.times");
    ck_assert_str_eq(log, "one\ntwo\n");
    ck_assert_str_eq(times, "0 1796655601100\n4 1796655602200\n");
    free(log);
    free(times);
    /* as it grows */
    int fd = drv__rt_log_open(&ra);
    ck_assert_int_ge(fd, 0);
    drv__rt_stamps_t st;
    drv__rt_stamps_open(&st, &ra, fd);
    ck_assert_int_eq(write(fd, "ab\nc", 4), 4);
    drv__rt_stamps_take(&st, 1000);
    ck_assert_int_eq(write(fd, "d\ne\n", 4), 4);
    drv__rt_stamps_take(&st, 2000);
    drv__rt_stamps_take(&st, 3000); /* nothing new */
    drv__rt_stamps_close(&st, 4000);
    close(fd);
    times = read_at(dir, "2.times");
    ck_assert_str_eq(times, "0 1000\n3 1000\n6 2000\n");
    free(times);
    char path[256];
    snprintf(path, sizeof(path), "%s/job-1x/2.log", dir);
    unlink(path);
    snprintf(path, sizeof(path), "%s/job-1x/2.times", dir);
    unlink(path);
    snprintf(path, sizeof(path), "%s/job-1x", dir);
    rmdir(path);
    rmdir(dir);
}
END_TEST

/* The log file is made beneath worker.log.dir through no symlink: a job
 * directory someone made a link to elsewhere is not written through. */
START_TEST(test_runtime_log_never_follows_a_symlink)
{
    char dir[] = "/tmp/drv-test-logs-XXXXXX", away[] = "/tmp/drv-away-XXXXXX";
    char link[128], path[160], e[DRV_ERRSTR_SIZE];
    ck_assert_ptr_nonnull(mkdtemp(dir));
    ck_assert_ptr_nonnull(mkdtemp(away));
    ck_assert_int_eq(drv_conf_set(conf, "worker.log.dir", dir, e, sizeof(e)),
                     DRV_CONF_OK);
    snprintf(link, sizeof(link), "%s/job-1x", dir);
    ck_assert_int_eq(symlink(away, link), 0);
    drv__job_t job = {0};
    drv__rt_attempt_t ra = attempt_of(NULL, &job);
    ck_assert_int_lt(drv__rt_log_open(&ra), 0);
    drv__rt_log_keep(&ra, "x", 1, false, false);
    snprintf(path, sizeof(path), "%s/2.log", away);
    ck_assert_int_ne(access(path, F_OK), 0); /* nothing written there */
    unlink(link);
    /* an id that is no job id names no file at all */
    snprintf(job.id, sizeof(job.id), "..");
    ck_assert_int_lt(drv__rt_log_open(&ra), 0);
    rmdir(away);
    rmdir(dir);
}
END_TEST

START_TEST(test_runtime_container_spec_long_tmpfs_options)
{
    char *a = malloc(1101), *b = malloc(4001);
    memset(a, 'A', 1100);
    a[1100] = '\0';
    memset(b, 'B', 4000);
    b[4000] = '\0';
    json_t *run = json_pack(
        "{s:s,s:s,s:{s:[{s:s,s:i,s:[s,s]}]}}", "jobId", "job-1x", "image",
        "busybox", "linuxParameters", "tmpfs", "containerPath", "/scratch",
        "size", 16, "mountOptions", a, b);
    drv__job_t job = {0};
    drv__rt_attempt_t ra = attempt_of(run, &job);
    json_t *spec = drv__container_spec(&ra);
    json_t *host = json_object_get(spec, "HostConfig");
    const char *opts = json_string_value(
        json_object_get(json_object_get(host, "Tmpfs"), "/scratch"));
    ck_assert_ptr_nonnull(opts);
    ck_assert_int_eq(strlen(opts), strlen("size=16m") + 2 + 1100 + 4000);
    ck_assert(!strncmp(opts, "size=16m,AAAA", 13));
    ck_assert(!strcmp(opts + strlen(opts) - 5, "BBBBB"));
    ck_assert_str_eq(json_string_value(json_array_get(
                         json_object_get(host, "CapDrop"), 0)),
                     "ALL");
    ck_assert_str_eq(json_string_value(json_array_get(
                         json_object_get(host, "SecurityOpt"), 0)),
                     "no-new-privileges");
    json_t *labels = json_object_get(spec, "Labels");
    ck_assert_str_eq(json_string_value(json_object_get(labels,
                                                       "drover.job-id")),
                     "job-1x");
    ck_assert_str_eq(json_string_value(json_object_get(labels,
                                                       "drover.worker")),
                     "w1");
    json_decref(spec);
    json_decref(run);
    free(a);
    free(b);
}
END_TEST

/* propagateTags: the RunJob's tags are the container's labels; Drover's
 * own labels cannot be overridden by a tag. */
START_TEST(test_runtime_container_labels_carry_tags)
{
    json_t *run = json_pack("{s:s,s:s,s:{s:s,s:s}}", "jobId", "job-1x",
                            "image", "busybox", "tags", "team", "data",
                            "drover.job-id", "forged");
    drv__job_t job = {0};
    drv__rt_attempt_t ra = attempt_of(run, &job);
    json_t *spec = drv__container_spec(&ra);
    json_t *labels = json_object_get(spec, "Labels");
    ck_assert_str_eq(json_string_value(json_object_get(labels, "team")),
                     "data");
    ck_assert_str_eq(json_string_value(json_object_get(labels,
                                                       "drover.job-id")),
                     job.id);
    json_decref(spec);
    json_decref(run);
}
END_TEST

START_TEST(test_runtime_env_carries_the_batch_variables)
{
    json_t *run = json_pack("{s:[{s:s,s:s}]}", "environment", "name", "A",
                            "value", "1");
    drv__job_t job = {0};
    drv__rt_attempt_t ra = attempt_of(run, &job);
    job.is_array_child = true;
    job.array_index = 3;
    job.array_size = 10;
    json_t *env = drv__rt_env(&ra);
    char *text = json_dumps(env, 0);
    const char *want[] = {"\"A=1\"", "\"AWS_BATCH_JOB_ID=job-1x\"",
                          "\"DROVER_JOB_ATTEMPT=2\"", "\"AWS_BATCH_JQ_NAME=q1\"",
                          "\"AWS_BATCH_CE_NAME=local\"",
                          "\"AWS_BATCH_JOB_ARRAY_INDEX=3\"",
                          "\"DROVER_JOB_ARRAY_SIZE=10\""};
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        ck_assert_msg(strstr(text, want[i]), "%s not in %s", want[i], text);
    }
    free(text);
    json_decref(env);
    json_decref(run);
}
END_TEST

/* Issue 15: the attempt's GPUs in the create request (Docker's
 * DeviceRequests by id, or CDI devices) and in its environment; a job
 * without GPUs gets NVIDIA_VISIBLE_DEVICES=void whatever it or its image
 * says, and no device request. */
START_TEST(test_runtime_container_spec_gpus)
{
    char e[DRV_ERRSTR_SIZE];
    json_t *run = json_pack("{s:s,s:s,s:[{s:s,s:s}]}", "jobId", "job-1x",
                            "image", "cuda", "environment", "name",
                            "NVIDIA_VISIBLE_DEVICES", "value", "all");
    drv__job_t job = {0};
    drv__rt_attempt_t ra = attempt_of(run, &job);
    json_t *spec = drv__container_spec(&ra);
    char *text = json_dumps(spec, JSON_COMPACT);
    ck_assert_msg(strstr(text, "\"NVIDIA_VISIBLE_DEVICES=void\"") &&
                      !strstr(text, "=all") && !strstr(text, "DeviceRequests"),
                  "%s", text);
    free(text);
    json_decref(spec);
    job.gpus = 2;
    snprintf(job.gpu_devices, sizeof(job.gpu_devices), "GPU-a,GPU-b");
    spec = drv__container_spec(&ra);
    json_t *want = json_pack("[{s:s,s:[s,s],s:[[s]]}]", "Driver", "nvidia",
                             "DeviceIDs", "GPU-a", "GPU-b", "Capabilities",
                             "gpu");
    ck_assert(json_equal(json_object_get(json_object_get(spec, "HostConfig"),
                                         "DeviceRequests"),
                         want));
    json_decref(want);
    text = json_dumps(json_object_get(spec, "Env"), 0);
    ck_assert_msg(strstr(text, "\"NVIDIA_VISIBLE_DEVICES=GPU-a,GPU-b\""),
                  "%s", text);
    free(text);
    json_decref(spec);
    ck_assert_int_eq(drv_conf_set(conf, "worker.gpu.request", "cdi", e,
                                  sizeof(e)),
                     DRV_CONF_OK);
    spec = drv__container_spec(&ra);
    json_t *host = json_object_get(spec, "HostConfig");
    ck_assert_ptr_null(json_object_get(host, "DeviceRequests"));
    want = json_pack("[{s:s,s:s,s:s},{s:s,s:s,s:s}]", "PathOnHost",
                     "nvidia.com/gpu=GPU-a", "PathInContainer",
                     "nvidia.com/gpu=GPU-a", "CgroupPermissions", "rwm",
                     "PathOnHost", "nvidia.com/gpu=GPU-b", "PathInContainer",
                     "nvidia.com/gpu=GPU-b", "CgroupPermissions", "rwm");
    ck_assert(json_equal(json_object_get(host, "Devices"), want));
    json_decref(want);
    json_decref(spec);
    json_decref(run);
}
END_TEST

/* Secrets come from worker.secrets.dir, a file each; refusals name the
 * secret, never a value. */
START_TEST(test_runtime_secrets_are_read_and_refused_by_name)
{
    char dir[] = "/tmp/drv-test-secrets-XXXXXX", path[64], e[DRV_ERRSTR_SIZE];
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/db", dir);
    FILE *fp = fopen(path, "w");
    fputs("s3cret\n", fp);
    fclose(fp);
    drv__job_t job = {0};
    json_t *run = json_pack("{s:[{s:s,s:s}]}", "secrets", "name", "DB",
                            "valueFrom", "arn:aws:secretsmanager:r:1:secret:db");
    drv__rt_attempt_t ra = attempt_of(run, &job);
    json_t *env = json_array();
    ck_assert_int_eq(drv__rt_secrets(&ra, env, e, sizeof(e)), -1);
    ck_assert_msg(strstr(e, "no secret store"), "%s", e);
    ck_assert_int_eq(drv_conf_set(conf, "worker.secrets.dir", dir, e,
                                  sizeof(e)),
                     DRV_CONF_OK);
    ck_assert_int_eq(drv__rt_secrets(&ra, env, e, sizeof(e)), 0);
    ck_assert_str_eq(json_string_value(json_array_get(env, 0)), "DB=s3cret");
    /* a secret that is a link out of the store is not read */
    char outside[] = "/tmp/drv-test-outside-XXXXXX", link[80];
    int ofd = mkstemp(outside);
    ck_assert_int_ge(ofd, 0);
    ck_assert_int_eq(write(ofd, "stolen", 6), 6);
    close(ofd);
    snprintf(link, sizeof(link), "%s/evil", dir);
    ck_assert_int_eq(symlink(outside, link), 0);
    const char *bad[] = {"../db", "nope", "evil", "/etc/passwd", ""};
    for (size_t i = 0; i < 5; i++) {
        json_string_set(json_object_get(json_array_get(json_object_get(
                                            run, "secrets"),
                                        0),
                                        "valueFrom"),
                        bad[i]);
        ck_assert_int_eq(drv__rt_secrets(&ra, env, e, sizeof(e)), -1);
        ck_assert(drv_str_has_prefix(e, DRV_REASON_SECRETS));
        ck_assert_msg(strstr(e, bad[i]) && !strstr(e, "s3cret") &&
                          !strstr(e, "stolen"),
                      "%s", e);
    }
    ck_assert_uint_eq(json_array_size(env), 1); /* only DB, read before */
    unlink(link);
    unlink(outside);
    unlink(path);
    rmdir(dir);
    json_decref(env);
    json_decref(run);
}
END_TEST

/* A privileged job keeps its capabilities; every other one drops them
 * all but those worker.capabilities keeps. */
START_TEST(test_runtime_container_spec_privileges)
{
    char e[DRV_ERRSTR_SIZE];
    ck_assert_int_eq(drv_conf_set(conf, "worker.capabilities", "CHOWN,SETUID",
                                  e, sizeof(e)),
                     DRV_CONF_OK);
    drv__job_t job = {0};
    json_t *run = json_pack("{s:s,s:b}", "image", "busybox", "privileged", 0);
    drv__rt_attempt_t ra = attempt_of(run, &job);
    json_t *spec = drv__container_spec(&ra);
    json_t *host_config = json_object_get(spec, "HostConfig");
    char *caps = json_dumps(json_object_get(host_config, "CapAdd"), 0);
    ck_assert_str_eq(caps, "[\"CHOWN\", \"SETUID\"]");
    free(caps);
    json_decref(spec);
    json_object_set_new(run, "privileged", json_true());
    spec = drv__container_spec(&ra);
    host_config = json_object_get(spec, "HostConfig");
    ck_assert(json_is_true(json_object_get(host_config, "Privileged")));
    ck_assert_ptr_null(json_object_get(host_config, "CapDrop"));
    ck_assert_ptr_null(json_object_get(host_config, "SecurityOpt"));
    json_decref(spec);
    json_decref(run);
}
END_TEST


/* ---- The worker's policy ------------------------------------------------ */

/* A scratch tree for host paths:
 *   <top>/root/ok/        a directory      <top>/root/file    a file
 *   <top>/root/link -> /  (an earlier job's planted link)
 *   <top>/root/sub/in -> <top>/root/ok     (a link that stays inside)
 *   <top>/root/fifo       neither          <top>/alias -> <top>/root
 *   <top>/root/a:b/       a ':' in a name
 */
static char top[64], root[96], alias[96];

static void mkpath(const char *rel, char kind, const char *target)
{
    char p[256];
    snprintf(p, sizeof(p), "%s/%s", top, rel);
    if (kind == 'd') {
        ck_assert_int_eq(mkdir(p, 0755), 0);
    } else if (kind == 'f') {
        FILE *fp = fopen(p, "w");
        ck_assert_ptr_nonnull(fp);
        fclose(fp);
    } else if (kind == 'p') {
        ck_assert_int_eq(mkfifo(p, 0644), 0);
    } else {
        ck_assert_int_eq(symlink(target, p), 0);
    }
}

static void tree_setup(void)
{
    char in[128];
    setup();
    snprintf(top, sizeof(top), "/tmp/drv-test-hostpaths-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(top));
    snprintf(root, sizeof(root), "%s/root", top);
    snprintf(alias, sizeof(alias), "%s/alias", top);
    snprintf(in, sizeof(in), "%s/ok", root);
    mkpath("root", 'd', NULL);
    mkpath("root/ok", 'd', NULL);
    mkpath("root/file", 'f', NULL);
    mkpath("root/link", 'l', "/");
    mkpath("root/sub", 'd', NULL);
    mkpath("root/sub/in", 'l', in);
    mkpath("root/fifo", 'p', NULL);
    mkpath("root/a:b", 'd', NULL);
    mkpath("alias", 'l', root);
}

static void tree_teardown(void)
{
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", top);
    ck_assert_int_eq(system(cmd), 0);
    teardown();
}

static void allow_roots(const char *roots)
{
    char e[DRV_ERRSTR_SIZE];
    ck_assert_msg(drv_conf_set(conf, "worker.allowed.host.paths", roots, e,
                               sizeof(e)) == DRV_CONF_OK,
                  "%s", e);
}

/* A RunJob with an anonymous volume and one at host path `src`, mounted
 * read-only at /data. */
static json_t *run_with_host_path(const char *src)
{
    return json_pack("{s:s,s:[{s:s},{s:s,s:{s:s}}],s:[{s:s,s:s,s:b},"
                     "{s:s,s:s}]}",
                     "image", "busybox", "volumes", "name", "scratch", "name",
                     "d", "host", "sourcePath", src, "mountPoints",
                     "sourceVolume", "d", "containerPath", "/data",
                     "readOnly", 1, "sourceVolume", "scratch",
                     "containerPath", "/scratch");
}

/* drv__policy_check on host path `rel` below `base`: the canonical path of
 * volume 1, or NULL with the reason in e. The caller frees it. */
static char *check_path(const char *base, const char *rel, char *e,
                        size_t size)
{
    char src[512];
    snprintf(src, sizeof(src), "%s%s%s", base, *rel ? "/" : "", rel);
    json_t *run = run_with_host_path(src);
    e[0] = '\0';
    json_t *paths = drv__policy_check(&rt_host, run, true, e, size);
    char *canon = NULL;
    if (paths) {
        ck_assert_uint_eq(json_array_size(paths), 2);
        ck_assert(json_is_null(json_array_get(paths, 0)));
        canon = drv_strdup(json_string_value(json_array_get(paths, 1)));
    } else {
        ck_assert_msg(drv_str_has_prefix(e, "CannotStartContainerError: "),
                      "%s", e);
    }
    json_decref(paths);
    json_decref(run);
    return canon;
}

START_TEST(test_runtime_policy_privileged_needs_the_operator)
{
    char e[DRV_ERRSTR_SIZE];
    json_t *run = json_pack("{s:s,s:b}", "image", "busybox", "privileged", 1);
    ck_assert_ptr_null(drv__policy_check(&rt_host, run, true, e, sizeof(e)));
    ck_assert_str_eq(e, "CannotStartContainerError: privileged containers "
                        "are not allowed on this host "
                        "(worker.allow.privileged)");
    ck_assert_int_eq(drv_conf_set(conf, "worker.allow.privileged", "true", e,
                                  sizeof(e)),
                     DRV_CONF_OK);
    json_t *paths = drv__policy_check(&rt_host, run, true, e, sizeof(e));
    ck_assert_ptr_nonnull(paths);
    ck_assert_uint_eq(json_array_size(paths), 0);
    json_decref(paths);
    json_decref(run);
}
END_TEST

/* issue 13: the planted link, "..", a missing path, a path under no root:
 * each refused, naming the field and the key; what passes comes back
 * canonical (an allowed root that is itself a link is the operator's). */
START_TEST(test_runtime_policy_host_paths_through_no_symlink)
{
    char e[DRV_ERRSTR_SIZE], want[PATH_MAX + 64];
    char *canon = check_path(root, "ok", e, sizeof(e));
    ck_assert_ptr_null(canon); /* no root allowed: none */
    ck_assert_msg(strstr(e, "is not under worker.allowed.host.paths") &&
                      strstr(e, "containerProperties.volumes[1].host."
                                "sourcePath"),
                  "%s", e);
    allow_roots(alias);
    char real[PATH_MAX];
    ck_assert_ptr_nonnull(realpath(root, real));
    const char *good[] = {"ok", "file", "", "sub"};
    for (size_t i = 0; i < DRV_ARRAY_SIZE(good); i++) {
        canon = check_path(alias, good[i], e, sizeof(e));
        snprintf(want, sizeof(want), "%s%s%s", real, *good[i] ? "/" : "",
                 good[i]);
        ck_assert_msg(canon && !strcmp(canon, want), "%s: %s (%s)", good[i],
                      canon ? canon : "refused", e);
        free(canon);
    }
    const struct {
        const char *rel, *why;
    } bad[] = {
        {"link", "passes through a symlink"},
        {"link/etc", "passes through a symlink"},
        {"sub/in", "passes through a symlink"}, /* even one that stays in */
        {"sub/in/x", "passes through a symlink"},
        {"nope", "does not exist"},
        {"file/x", "not a directory"},
        {"fifo", "neither a directory nor a regular file"},
        {"a:b", "holds a ':'"},
        {"..", "not an absolute path without"},
        {"ok/../..", "not an absolute path without"},
        {"ok/", "not an absolute path without"},
    };
    for (size_t i = 0; i < DRV_ARRAY_SIZE(bad); i++) {
        canon = check_path(alias, bad[i].rel, e, sizeof(e));
        ck_assert_msg(!canon && strstr(e, bad[i].why), "%s: %s", bad[i].rel,
                      canon ? canon : e);
    }
    /* a path under no root; a second root helps */
    canon = check_path("/etc", "", e, sizeof(e));
    ck_assert_msg(!canon && strstr(e, "host path /etc "), "%s", e);
    snprintf(want, sizeof(want), "/nonexistent/x,%s", root);
    allow_roots(want);
    canon = check_path(root, "ok", e, sizeof(e));
    ck_assert_ptr_nonnull(canon);
    free(canon);
}
END_TEST

/* The walk the policy falls back on where openat2 is missing refuses the
 * same links; a final link comes back as itself (O_PATH), never followed. */
START_TEST(test_runtime_policy_fallback_walk_refuses_links)
{
    int rfd = open(root, O_PATH | O_DIRECTORY);
    ck_assert_int_ge(rfd, 0);
    const char *refused[] = {"link/etc", "sub/in/x", "../root/ok", "nope"};
    for (size_t i = 0; i < DRV_ARRAY_SIZE(refused); i++) {
        int fd = drv__rt_openat_beneath(rfd, refused[i], O_PATH, 0);
        ck_assert_msg(fd < 0, "%s", refused[i]);
    }
    struct stat st;
    int fd = drv__rt_openat_beneath(rfd, "link", O_PATH, 0);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(fstat(fd, &st), 0);
    ck_assert(S_ISLNK(st.st_mode));
    close(fd);
    fd = drv__rt_openat_beneath(rfd, "sub/../ok", O_PATH, 0);
    ck_assert_int_lt(fd, 0);
    fd = drv__rt_openat_beneath(rfd, "ok", O_PATH, 0);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(fstat(fd, &st), 0);
    ck_assert(S_ISDIR(st.st_mode));
    close(fd);
    close(rfd);
}
END_TEST

/* A runtime that mounts nothing (process) refuses any host volume. */
START_TEST(test_runtime_policy_without_mounts_refuses_host_volumes)
{
    char e[DRV_ERRSTR_SIZE], src[128];
    allow_roots(root);
    snprintf(src, sizeof(src), "%s/ok", root);
    json_t *run = run_with_host_path(src);
    ck_assert_ptr_null(drv__policy_check(&rt_host, run, false, e, sizeof(e)));
    ck_assert_msg(strstr(e, "containerProperties.volumes[1] is a host path") &&
                      strstr(e, "(worker.runtime)"),
                  "%s", e);
    json_decref(run);
    run = json_pack("{s:s,s:[{s:s}]}", "image", "x", "volumes", "name", "a");
    json_t *paths = drv__policy_check(&rt_host, run, false, e, sizeof(e));
    ck_assert_ptr_nonnull(paths); /* an anonymous volume is no host path */
    json_decref(paths);
    json_decref(run);
}
END_TEST

/* The create body carries the canonical path the policy resolved, never
 * the RunJob's spelling; without a checked path there is no body. */
START_TEST(test_runtime_container_spec_binds_the_canonical_path)
{
    char e[DRV_ERRSTR_SIZE], src[128], real[PATH_MAX], want[PATH_MAX + 16];
    allow_roots(alias);
    snprintf(src, sizeof(src), "%s/ok", alias);
    ck_assert_ptr_nonnull(realpath(root, real));
    json_t *run = run_with_host_path(src);
    drv__job_t job = {0};
    drv__rt_attempt_t ra = attempt_of(run, &job);
    ck_assert_ptr_null(drv__container_spec(&ra));
    ra.host_paths = drv__policy_check(&rt_host, run, true, e, sizeof(e));
    ck_assert_msg(ra.host_paths != NULL, "%s", e);
    json_t *spec = drv__container_spec(&ra);
    ck_assert_ptr_nonnull(spec);
    json_t *host = json_object_get(spec, "HostConfig");
    snprintf(want, sizeof(want), "[\"%s/ok:/data:ro\"]", real);
    char *binds = json_dumps(json_object_get(host, "Binds"), 0);
    ck_assert_str_eq(binds, want);
    free(binds);
    ck_assert(json_is_object(json_object_get(
        json_object_get(spec, "Volumes"), "/scratch")));
    char *all = json_dumps(spec, 0);
    ck_assert_msg(!strstr(all, src), "%s", all); /* the alias never */
    free(all);
    json_decref(spec);
    json_decref(ra.host_paths);
    json_decref(run);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("runtime");
    TCase *tc = tcase_create("helpers");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_runtime_names_are_sanitised);
    tcase_add_test(tc, test_runtime_log_is_bounded_with_marker);
    tcase_add_test(tc, test_runtime_log_never_follows_a_symlink);
    tcase_add_test(tc, test_runtime_rfc3339_prefix);
    tcase_add_test(tc, test_runtime_times_of_lines);
    tcase_add_test(tc, test_runtime_env_carries_the_batch_variables);
    tcase_add_test(tc, test_runtime_secrets_are_read_and_refused_by_name);
    suite_add_tcase(s, tc);

    tc = tcase_create("container_spec");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_runtime_container_spec_long_tmpfs_options);
    tcase_add_test(tc, test_runtime_container_labels_carry_tags);
    tcase_add_test(tc, test_runtime_container_spec_gpus);
    tcase_add_test(tc, test_runtime_container_spec_privileges);
    suite_add_tcase(s, tc);

    tc = tcase_create("policy");
    tcase_add_checked_fixture(tc, tree_setup, tree_teardown);
    tcase_add_test(tc, test_runtime_policy_privileged_needs_the_operator);
    tcase_add_test(tc, test_runtime_policy_host_paths_through_no_symlink);
    tcase_add_test(tc, test_runtime_policy_fallback_walk_refuses_links);
    tcase_add_test(tc, test_runtime_policy_without_mounts_refuses_host_volumes);
    tcase_add_test(tc, test_runtime_container_spec_binds_the_canonical_path);
    suite_add_tcase(s, tc);
    return drv_test_run(s);
}
