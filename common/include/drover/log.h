/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Structured logging: one JSON object per line on a file descriptor
 * (stderr by default), written with a single write() so lines from several
 * threads never interleave. Fixed keys first: ts, level, drover, pid,
 * event, msg; then the caller's context fields (job_id, topic, ...).
 *
 * Ownership: drv_log_new() returns an owned handle; drv_log() borrows
 * `fields`. Thread safety: drv_log() is safe from any thread; set_level
 * is @thread main only.
 */
#ifndef DRV_LOG_H
#define DRV_LOG_H

#include <jansson.h>

typedef enum drv_log_level {
    DRV_LOG_DEBUG = 0,
    DRV_LOG_INFO = 1,
    DRV_LOG_WARN = 2,
    DRV_LOG_ERROR = 3,
} drv_log_level_t;

typedef struct drv_log drv_log_t;

/**
 * @brief Create a logger for program `drover` (e.g. "dispatcher").
 * @param fd where lines go (2 for stderr).
 */
drv_log_t *drv_log_new(const char *drover, int fd);
void drv_log_destroy(drv_log_t *log);

struct drv_conf;

/** @brief A stderr logger for `drover` at the conf's log.level. */
drv_log_t *drv_log_from_conf(const char *drover, const struct drv_conf *conf);

/** @brief Parse "debug|info|warn|error"; returns -1 if unknown. */
int drv_log_level_parse(const char *s, drv_log_level_t *out);
void drv_log_set_level(drv_log_t *log, drv_log_level_t level);
int drv_log_enabled(const drv_log_t *log, drv_log_level_t level);

/**
 * @brief Log one line.
 * @param log may be NULL (nothing is written).
 * @param event a stable dotted id such as "kafka.delivery_failed".
 * @param fields nullable JSON object of context fields (borrowed).
 */
void drv_log(drv_log_t *log, drv_log_level_t level, const char *event,
             json_t *fields, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

/** @brief Convenience: a fields object with job_id set (new reference). */
json_t *drv_log_job(const char *job_id);

#endif
