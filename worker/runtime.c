/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What every runtime shares (see runtime.h): the name sanitiser, the job's
 * environment and secrets, and the one bound on kept output. Below the
 * runtimes: nothing here knows the worker or the lifecycle.
 */
#define _GNU_SOURCE /* O_PATH */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "drover/err.h"
#include "drover/job.h"
#include "drover/util.h"
#include "runtime.h"

#define SECRET_MAX 65536

static void log_marker(int fd)
{
    char m[80];
    int n = snprintf(m, sizeof(m), "\n[drover: output truncated at %d bytes]\n",
                     DRV__RT_LOG_MAX);
    (void)!write(fd, m, (size_t)n);
}

int drv__rt_openat_beneath(int dirfd, const char *rel, int flags,
                           mode_t mode)
{
    char copy[4096];
    if (snprintf(copy, sizeof(copy), "%s", rel) >= (int)sizeof(copy)) {
        errno = ENAMETOOLONG;
        return -1;
    }
    /* the directories on the way are opened O_PATH: only searched */
    int cur = fcntl(dirfd, F_DUPFD_CLOEXEC, 0);
    char *save = NULL, *part = strtok_r(copy, "/", &save);
    while (cur >= 0 && part) {
        char *next = strtok_r(NULL, "/", &save);
        int fd;
        if (!strcmp(part, ".") || !strcmp(part, "..")) {
            fd = -1;
            errno = EXDEV; /* would leave, or could, the directory */
        } else if (next) { /* a directory on the way: no symlink */
            fd = openat(cur, part,
                        O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        } else {
            fd = openat(cur, part, flags | O_NOFOLLOW | O_CLOEXEC, mode);
        }
        int err = errno;
        close(cur);
        errno = err;
        cur = fd;
        part = next;
        if (cur >= 0 && !part) {
            return cur;
        }
    }
    if (cur >= 0) { /* rel had no component */
        close(cur);
        errno = EINVAL;
    }
    return -1;
}

int drv__rt_open_beneath(const char *dir, const char *rel, int flags,
                         mode_t mode)
{
    int dfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0) {
        return -1;
    }
    int fd = drv__rt_openat_beneath(dfd, rel, flags, mode);
    int err = errno;
    close(dfd);
    errno = err;
    return fd;
}

size_t drv__rt_sanitize(char *out, size_t size, const char *in)
{
    size_t n = 0;
    if (size == 0) {
        return 0;
    }
    for (const char *p = in; *p && n + 1 < size; p++) {
        bool keep = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
                    (*p >= '0' && *p <= '9') || *p == '-';
        out[n++] = keep ? *p : '_';
    }
    out[n] = '\0';
    return n;
}

void drv__rt_name(const drv__rt_attempt_t *ra, char *out, size_t size)
{
    char job[sizeof(ra->job->id)];
    drv__rt_sanitize(job, sizeof(job), ra->job->id);
    snprintf(out, size, "%s-%d", job, ra->job->attempt);
}

static void add_env(json_t *env, const char *name, const char *value)
{
    json_array_append_new(env, json_sprintf("AWS_BATCH_%s=%s", name, value));
    json_array_append_new(env, json_sprintf("DROVER_%s=%s", name, value));
}

json_t *drv__rt_env(const drv__rt_attempt_t *ra)
{
    const drv__job_t *job = ra->job;
    json_t *env = json_array(), *e;
    size_t i;
    char num[32];
    json_array_foreach(json_object_get(ra->run, "environment"), i, e)
    {
        const char *n = json_string_value(json_object_get(e, "name"));
        if (n && (!strcmp(n, "NVIDIA_VISIBLE_DEVICES") ||
                  !strcmp(n, "CUDA_VISIBLE_DEVICES"))) {
            continue; /* the worker's to say (refused at submission too) */
        }
        json_array_append_new(
            env, json_sprintf("%s=%s",
                              json_string_value(json_object_get(e, "name")),
                              json_string_value(json_object_get(e, "value"))));
    }
    add_env(env, "JOB_ID", job->id);
    snprintf(num, sizeof(num), "%d", job->attempt);
    add_env(env, "JOB_ATTEMPT", num);
    add_env(env, "JQ_NAME", job->queue);
    add_env(env, "CE_NAME", ra->host->ce);
    json_array_append_new(env, json_sprintf("NVIDIA_VISIBLE_DEVICES=%s",
                                            job->gpus > 0 ? job->gpu_devices
                                                          : "void"));
    if (job->is_array_child) {
        snprintf(num, sizeof(num), "%lld", (long long)job->array_index);
        add_env(env, "JOB_ARRAY_INDEX", num);
        snprintf(num, sizeof(num), "%lld", (long long)job->array_size);
        add_env(env, "JOB_ARRAY_SIZE", num);
    }
    return env;
}

/* Read one secret into `value` (SECRET_MAX + 1 bytes); -1 with errstr.
 * The name is resolved beneath the store, through no symlink. */
static int read_secret(const char *dir, const char *from, char *value,
                       char *errstr, size_t errstr_size)
{
    const char *ref = drv_job_secret_ref(from);
    int fd = !*ref || strstr(ref, "..") ? (errno = EINVAL, -1)
                                        : drv__rt_open_beneath(dir, ref,
                                                               O_RDONLY, 0);
    if (fd < 0) {
        drv_errstr_set(errstr, errstr_size, DRV_REASON_SECRETS ": secret %s: %s",
                       from,
                       errno == EINVAL ? "not a secret name"
                       : errno == ELOOP || errno == EXDEV || errno == ENOTDIR
                           ? "not a file of the secret store"
                           : strerror(errno));
        return -1;
    }
    FILE *fp = fdopen(fd, "r");
    if (!fp) {
        close(fd);
        drv_errstr_set(errstr, errstr_size, DRV_REASON_SECRETS ": secret %s: %s",
                       from, strerror(errno));
        return -1;
    }
    size_t n = fread(value, 1, SECRET_MAX, fp);
    bool more = fgetc(fp) != EOF;
    fclose(fp);
    if (more) {
        drv_errstr_set(errstr, errstr_size,
                       DRV_REASON_SECRETS ": secret %s is larger than %d bytes",
                       from, SECRET_MAX);
        return -1;
    }
    value[n] = '\0';
    if (n > 0 && value[n - 1] == '\n') { /* as `echo x > file` wrote it */
        value[--n] = '\0';
    }
    return 0;
}

/*
 * The values exist only here and in the runtime's own copy (the engine's
 * container config, removed with the container; the child's environment);
 * errors name the secret, never its value.
 */
int drv__rt_secrets(const drv__rt_attempt_t *ra, json_t *env, char *errstr,
                    size_t errstr_size)
{
    json_t *secrets = json_object_get(ra->run, "secrets"), *s;
    size_t i;
    if (json_array_size(secrets) == 0) {
        return 0;
    }
    const char *dir = drv_conf_get(ra->host->conf, "worker.secrets.dir");
    if (!dir || !*dir) {
        drv_errstr_set(errstr, errstr_size,
                       DRV_REASON_SECRETS ": compute environment %s has no "
                                          "secret store (worker.secrets.dir)",
                       ra->host->ce);
        return -1;
    }
    char *value = drv_malloc(SECRET_MAX + 1);
    int ret = -1;
    json_array_foreach(secrets, i, s)
    {
        const char *from = json_string_value(json_object_get(s, "valueFrom"));
        if (read_secret(dir, from ? from : "", value, errstr, errstr_size)) {
            goto out;
        }
        json_array_append_new(
            env, json_sprintf("%s=%s",
                              json_string_value(json_object_get(s, "name")),
                              value));
    }
    ret = 0;
out:
    explicit_bzero(value, SECRET_MAX + 1);
    free(value);
    return ret;
}

int drv__rt_log_open(const drv__rt_attempt_t *ra)
{
    const char *dir = drv_conf_get(ra->host->conf, "worker.log.dir");
    char rel[200];
    if (!dir || !*dir || !drv_job_id_valid(ra->job->id, true)) {
        return -1; /* the id was checked at decoding; once more here */
    }
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0) {
        return -1;
    }
    (void)mkdirat(dfd, ra->job->id, 0755);
    close(dfd);
    snprintf(rel, sizeof(rel), "%s/%d.log", ra->job->id, ra->job->attempt);
    /* read too: the times file is made from it as it grows */
    return drv__rt_open_beneath(dir, rel, O_RDWR | O_CREAT | O_TRUNC, 0644);
}

static void write_all(int fd, const char *buf, size_t len)
{
    for (size_t off = 0; off < len;) {
        ssize_t w = write(fd, buf + off, len - off);
        if (w <= 0) {
            return;
        }
        off += (size_t)w;
    }
}

static int times_open(const drv__rt_attempt_t *ra)
{
    const char *dir = drv_conf_get(ra->host->conf, "worker.log.dir");
    char rel[200];
    if (!dir || !*dir || !drv_job_id_valid(ra->job->id, true)) {
        return -1;
    }
    snprintf(rel, sizeof(rel), "%s/%d.times", ra->job->id, ra->job->attempt);
    return drv__rt_open_beneath(dir, rel, O_WRONLY | O_CREAT | O_TRUNC, 0644);
}

static void stamp(int fd, int64_t offset, int64_t ms)
{
    char line[48];
    int n = snprintf(line, sizeof(line), "%" PRId64 " %" PRId64 "\n", offset,
                     ms);
    write_all(fd, line, (size_t)n);
}

int64_t drv__rt_rfc3339_ms(const char *s, size_t n, size_t *used)
{
    /* 2026-12-07T15:00:00Z at least */
    struct tm tm = {0};
    if (n < 21 || s[4] != '-' || s[7] != '-' || s[10] != 'T' ||
        s[13] != ':' || s[16] != ':') {
        return -1;
    }
    for (size_t i = 0; i < 19; i++) {
        if (i != 4 && i != 7 && i != 10 && i != 13 && i != 16 &&
            (s[i] < '0' || s[i] > '9')) {
            return -1;
        }
    }
    tm.tm_year = atoi(s) - 1900;
    tm.tm_mon = atoi(s + 5) - 1;
    tm.tm_mday = atoi(s + 8);
    tm.tm_hour = atoi(s + 11);
    tm.tm_min = atoi(s + 14);
    tm.tm_sec = atoi(s + 17);
    size_t i = 19;
    int64_t ms = 0, scale = 100;
    if (s[i] == '.') {
        for (i++; i < n && s[i] >= '0' && s[i] <= '9'; i++) {
            ms += (s[i] - '0') * scale;
            scale /= 10;
        }
    }
    if (i + 1 >= n || s[i] != 'Z' || s[i + 1] != ' ') {
        return -1;
    }
    *used = i + 2;
    time_t t = timegm(&tm);
    return t < 0 ? -1 : (int64_t)t * 1000 + ms;
}

void drv__rt_keep_open(drv__rt_keep_t *k, const drv__rt_attempt_t *ra,
                       bool stamped)
{
    *k = (drv__rt_keep_t){.fd = drv__rt_log_open(ra), .tfd = -1,
                          .stamped = stamped};
    if (k->fd >= 0 && stamped) {
        k->tfd = times_open(ra);
    }
}

void drv__rt_keep_more(drv__rt_keep_t *k, const char *buf, size_t len,
                       bool final, bool truncated)
{
    if (k->fd < 0) {
        return;
    }
    /* the engine's output only grows: what was kept is its prefix */
    for (size_t off = k->used; off < len;) {
        const char *nl = memchr(buf + off, '\n', len - off);
        if (!nl && !final) {
            break; /* a line still being written: the next call has it */
        }
        size_t end = nl ? (size_t)(nl - buf) + 1 : len, used = 0;
        int64_t ms = k->stamped
                         ? drv__rt_rfc3339_ms(buf + off, end - off, &used)
                         : -1;
        if (k->tfd >= 0) {
            stamp(k->tfd, k->out, ms >= 0 ? ms : drv_now_ms());
        }
        write_all(k->fd, buf + off + used, end - off - used);
        k->out += (int64_t)(end - off - used);
        off = k->used = end;
    }
    if (final && truncated) {
        if (k->tfd >= 0) {
            stamp(k->tfd, k->out + 1, drv_now_ms()); /* the marker's line */
        }
        log_marker(k->fd);
    }
}

void drv__rt_keep_close(drv__rt_keep_t *k)
{
    if (k->tfd >= 0) {
        close(k->tfd);
    }
    if (k->fd >= 0) {
        close(k->fd);
    }
    k->fd = k->tfd = -1;
}

void drv__rt_log_keep(const drv__rt_attempt_t *ra, const char *buf,
                      size_t len, bool truncated, bool stamped)
{
    drv__rt_keep_t k;
    drv__rt_keep_open(&k, ra, stamped);
    drv__rt_keep_more(&k, buf, len, true, truncated);
    drv__rt_keep_close(&k);
}

void drv__rt_stamps_open(drv__rt_stamps_t *st, const drv__rt_attempt_t *ra,
                         int logfd)
{
    *st = (drv__rt_stamps_t){.logfd = logfd, .fd = -1, .line_start = true};
    if (logfd >= 0) {
        st->fd = times_open(ra);
    }
}

void drv__rt_stamps_take(drv__rt_stamps_t *st, int64_t now_ms)
{
    struct stat sb;
    if (st->fd < 0 || fstat(st->logfd, &sb) != 0) {
        return;
    }
    /* past the bound nothing is kept (drv__rt_log_bound) */
    int64_t size = sb.st_size < DRV__RT_LOG_MAX ? sb.st_size : DRV__RT_LOG_MAX;
    char buf[16384];
    while (st->seen < size) {
        size_t want = size - st->seen < (int64_t)sizeof(buf)
                          ? (size_t)(size - st->seen)
                          : sizeof(buf);
        ssize_t n = pread(st->logfd, buf, want, st->seen);
        if (n <= 0) {
            return;
        }
        for (ssize_t i = 0; i < n; i++) {
            if (st->line_start) {
                stamp(st->fd, st->seen + i, now_ms);
            }
            st->line_start = buf[i] == '\n';
        }
        st->seen += n;
    }
}

void drv__rt_stamps_close(drv__rt_stamps_t *st, int64_t now_ms)
{
    struct stat sb;
    drv__rt_stamps_take(st, now_ms);
    if (st->fd >= 0 && fstat(st->logfd, &sb) == 0 &&
        sb.st_size > DRV__RT_LOG_MAX) {
        stamp(st->fd, DRV__RT_LOG_MAX + 1, now_ms); /* the marker's line */
    }
    if (st->fd >= 0) {
        close(st->fd);
    }
    st->fd = -1;
}

void drv__rt_log_bound(int fd)
{
    struct stat st;
    if (fstat(fd, &st) == 0 && st.st_size > DRV__RT_LOG_MAX &&
        ftruncate(fd, DRV__RT_LOG_MAX) == 0 &&
        lseek(fd, 0, SEEK_END) >= 0) {
        log_marker(fd);
    }
}

int drv__rt_grace_s(const drv__rt_host_t *host)
{
    return (int)drv_conf_get_int(host->conf, "worker.stop.grace.seconds");
}
