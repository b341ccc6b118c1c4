/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Configuration: an opaque key=value object driven by one static property
 * table (name, type, default, range, description, sensitivity). The same
 * keys serve every program; each program reads the ones it needs.
 *
 * Precedence: defaults < file < environment (DRV_<KEY>, dots as '_')
 * < command line (drv_conf_set). Keys prefixed "kafka." are passed
 * unchanged to librdkafka and only checked there.
 *
 * Ownership: getters return borrowed strings valid until the next set of
 * the same key or drv_conf_destroy(). Thread safety: a conf is not
 * locked; build it on the main thread, then treat it as read-only.
 */
#ifndef DRV_CONF_H
#define DRV_CONF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

typedef struct drv_conf drv_conf_t;

typedef enum drv_conf_res {
    DRV_CONF_OK = 0,
    DRV_CONF_UNKNOWN = -1, /**< no such key */
    DRV_CONF_INVALID = -2, /**< value of the wrong type or out of range */
} drv_conf_res_t;

/** @brief A conf holding every default (owned). */
drv_conf_t *drv_conf_new(void);
drv_conf_t *drv_conf_dup(const drv_conf_t *conf);
void drv_conf_destroy(drv_conf_t *conf);

/** @brief Validate and set one key (the value is copied). */
drv_conf_res_t drv_conf_set(drv_conf_t *conf, const char *name,
                            const char *value, char *errstr,
                            size_t errstr_size);

/**
 * @brief Read "key = value" lines ('#' starts a comment). A line
 * `include = PATH` reads PATH there (relative to this file's directory;
 * at most 8 files deep), so role files can share one common file.
 * @returns 0, or -1 with errstr as "path:line: reason".
 */
int drv_conf_load_file(drv_conf_t *conf, const char *path, char *errstr,
                       size_t errstr_size);

/** @brief Apply DRV_* environment variables; -1 on an invalid value. */
int drv_conf_load_env(drv_conf_t *conf, char *errstr, size_t errstr_size);

/**
 * @brief The usual start-up sequence: defaults, then the file named by
 * `path` (nullable; else $DROVER_CONFIG when set), then the environment.
 * @returns an owned conf, or NULL with errstr set.
 */
drv_conf_t *drv_conf_load(const char *path, char *errstr, size_t errstr_size);

/**
 * @brief drv_conf_load, then "KEY=VALUE" overrides from the command line
 * (--set), the last word in precedence.
 */
drv_conf_t *drv_conf_load_sets(const char *path, char *const *sets, int nsets,
                               char *errstr, size_t errstr_size);

const char *drv_conf_get(const drv_conf_t *conf, const char *name);
int64_t drv_conf_get_int(const drv_conf_t *conf, const char *name);
double drv_conf_get_double(const drv_conf_t *conf, const char *name);
bool drv_conf_get_bool(const drv_conf_t *conf, const char *name);

/** @brief Call cb for every "kafka." key set, with the prefix removed. */
int drv_conf_foreach_kafka(const drv_conf_t *conf,
                           int (*cb)(const char *name, const char *value,
                                     void *opaque),
                           void *opaque);

/** @brief Print every key, its default and description (--help-config). */
void drv_conf_print_help(FILE *fp);

/** @brief Print the effective values, sensitive ones masked. */
void drv_conf_dump(const drv_conf_t *conf, FILE *fp);

#endif
