/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The one check of a SubmitJob request, used by the producer library
 * before it sends a submission and by the dispatcher when it records one
 * (any Kafka client may produce): the request's shape and limits, its
 * queue (ENABLED), its definition (ACTIVE) and what the two resolve to,
 * the compute environments' container policy, and its dependencies.
 *
 * Ownership: a cache is owned by its creator; a checked submission's
 * resolved document is owned by it until drv_submission_clear. Thread
 * safety: a cache belongs to one thread at a time.
 */
#ifndef DRV_SUBMISSION_H
#define DRV_SUBMISSION_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "drover/err.h"
#include "drover/job.h"
#include "drover/pg.h"

/* Queues and definitions found so far (a batch, a transaction): the one
 * lookup cache of submission checks. */
typedef struct drv_submission_cache drv_submission_cache_t;

drv_submission_cache_t *drv_submission_cache_new(void);
/** @brief Forget everything (catalog rows may have changed). */
void drv_submission_cache_clear(drv_submission_cache_t *cache);
void drv_submission_cache_destroy(drv_submission_cache_t *cache);

/* What a checked submission resolved to. */
typedef struct drv_submission {
    char queue[256];    /* the queue's name, from a name or an ARN */
    char def_name[256]; /* the definition's name and revision */
    int revision;
    bool fair_share;    /* its queue has a fair-share scheduling policy */
    int scheduling_priority; /* within its share (fair share), else 0 */
    json_t *resolved;   /* owned: container, retryStrategy, timeout */
} drv_submission_t;

/**
 * @brief How the check finds a job named in dependsOn.
 * @returns DRV_OK with *array_size (-1: not an array parent),
 *          DRV_ERR_NOTFOUND, or another error (errstr says which).
 */
typedef drv_err_t (*drv_submission_find_cb)(void *opaque, const char *job_id,
                                            int64_t *array_size, char *errstr,
                                            size_t errstr_size);

/**
 * @brief Check SubmitJob `sj` and resolve it into *out.
 * @param cache nullable: lookups made once per cache.
 * @param deps_must_exist every job named in dependsOn must be found (the
 *        producer); else only N_TO_N ones (the dispatcher, where a job may
 *        wait for a dependency still in Kafka).
 * @returns DRV_OK; DRV_ERR_INVALID or DRV_ERR_NOTFOUND when the request is
 *          refused, with AWS's reason in errstr; another error when a
 *          lookup failed (retry). *out holds nothing but on DRV_OK.
 */
drv_err_t drv_submission_check(drv_pg_t *pg, json_t *sj,
                               const drv_job_limits_t *limits,
                               drv_submission_cache_t *cache,
                               bool deps_must_exist,
                               drv_submission_find_cb find, void *opaque,
                               drv_submission_t *out, char *errstr,
                               size_t errstr_size);

/** @brief Whether an error of drv_submission_check refuses the request. */
bool drv_submission_refused(drv_err_t err);

void drv_submission_clear(drv_submission_t *s);

#endif
