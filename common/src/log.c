/* SPDX-License-Identifier: Apache-2.0 */
/* JSON-lines logger: see drover/log.h. */
#include "drover/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "drover/conf.h"
#include "drover/util.h"

struct drv_log {
    char *drover;
    int fd;
    drv_log_level_t level;
};

static const char *level_names[] = {"debug", "info", "warn", "error"};

drv_log_t *drv_log_new(const char *drover, int fd)
{
    drv_log_t *log = drv_calloc(1, sizeof(*log));
    log->drover = drv_strdup(drover);
    log->fd = fd;
    log->level = DRV_LOG_INFO;
    return log;
}

drv_log_t *drv_log_from_conf(const char *drover, const drv_conf_t *conf)
{
    drv_log_t *log = drv_log_new(drover, 2);
    drv_log_level_t level;
    if (drv_log_level_parse(drv_conf_get(conf, "log.level"), &level) == 0) {
        log->level = level;
    }
    return log;
}

void drv_log_destroy(drv_log_t *log)
{
    if (!log) {
        return;
    }
    free(log->drover);
    free(log);
}

int drv_log_level_parse(const char *s, drv_log_level_t *out)
{
    for (size_t i = 0; i < DRV_ARRAY_SIZE(level_names); i++) {
        if (strcmp(s, level_names[i]) == 0) {
            *out = (drv_log_level_t)i;
            return 0;
        }
    }
    return -1;
}

void drv_log_set_level(drv_log_t *log, drv_log_level_t level)
{
    log->level = level;
}

int drv_log_enabled(const drv_log_t *log, drv_log_level_t level)
{
    return log && level >= log->level;
}

static void format_ts(char *buf, size_t size)
{
    struct timeval tv;
    struct tm tm;
    gettimeofday(&tv, NULL);
    gmtime_r(&tv.tv_sec, &tm);
    size_t n = strftime(buf, size, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf + n, size - n, ".%03dZ", (int)(tv.tv_usec / 1000));
}

void drv_log(drv_log_t *log, drv_log_level_t level, const char *event,
             json_t *fields, const char *fmt, ...)
{
    if (!drv_log_enabled(log, level)) {
        return;
    }
    char ts[40], raw[2048], msg[2048];
    va_list ap;
    va_start(ap, fmt);
    int rn = vsnprintf(raw, sizeof(raw), fmt, ap);
    va_end(ap);
    /* jansson drops a message that is not valid UTF-8: an echoed header
     * or a cut in the middle of a character */
    drv_utf8_copy(msg, sizeof(msg), raw,
                  rn < 0 ? 0 : strnlen(raw, sizeof(raw)));
    format_ts(ts, sizeof(ts));

    json_t *o = json_object();
    json_object_set_new(o, "ts", json_string(ts));
    json_object_set_new(o, "level", json_string(level_names[level]));
    json_object_set_new(o, "drover", json_string(log->drover));
    json_object_set_new(o, "pid", json_integer(getpid()));
    json_object_set_new(o, "event", json_string(event));
    json_object_set_new(o, "msg", json_string(msg));
    if (fields) {
        const char *k;
        json_t *v;
        json_object_foreach(fields, k, v)
        {
            if (!json_is_null(v)) {
                json_object_set(o, k, v);
            }
        }
    }
    char *line = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(o);
    if (!line) {
        return;
    }
    size_t n = strlen(line);
    line[n] = '\n';
    ssize_t w = write(log->fd, line, n + 1);
    (void)w;
    free(line);
}

json_t *drv_log_job(const char *job_id)
{
    return json_pack("{s:s}", "job_id", job_id ? job_id : "");
}
