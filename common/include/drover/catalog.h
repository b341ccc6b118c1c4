/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Lookups of the control-plane objects a submission names, shared by the
 * producer library (before producing) and the dispatcher (after consuming)
 * so both refuse a job for the same reason with the same message.
 *
 * Ownership: returned JSON is a new reference; a reference may alias the
 * output buffer. Thread safety: as the pg
 * connection passed in.
 */
#ifndef DRV_CATALOG_H
#define DRV_CATALOG_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "drover/err.h"
#include "drover/pg.h"

/**
 * @brief The ACTIVE job definition a reference names: name (latest ACTIVE
 * revision), name:revision, or an ARN.
 * @param name_out receives the definition's name; *revision its revision.
 * @returns the definition (RegisterJobDefinition JSON), or NULL with
 *          *err = DRV_ERR_NOTFOUND and AWS's message, or a database error.
 */
json_t *drv_catalog_definition(drv_pg_t *pg, const char *ref, char *name_out,
                               size_t name_size, int *revision, drv_err_t *err,
                               char *errstr, size_t errstr_size);

/**
 * @brief Check that the queue a reference (name or ARN) names exists and is
 * ENABLED; its name goes to queue_out. A job a client was told it
 * submitted (job_id, nullable, has a receipt) is queued even if the queue
 * was DISABLED since, as AWS runs what a disabled queue already holds;
 * not on a queue being deleted.
 * @param fair_share nullable: whether the queue has a fair-share
 *        scheduling policy.
 * @returns DRV_OK, DRV_ERR_NOTFOUND, DRV_ERR_INVALID (disabled) or a
 *          database error class, with errstr set.
 */
drv_err_t drv_catalog_queue(drv_pg_t *pg, const char *ref,
                            const char *job_id, char *queue_out,
                            size_t queue_size, bool *fair_share,
                            char *errstr, size_t errstr_size);

/**
 * @brief One compute environment's containerPolicy against a resolved
 *        job's container: privileged only with allowPrivileged, every host
 *        volume's sourcePath clean (drv_path_is_clean: absolute, no ".",
 *        ".." or empty component) and lexically under one of
 *        allowedHostPaths. No database: drv_catalog_check_policy applies it
 *        to each environment of a queue.
 * @param ce the environment's name, for the message
 * @param policy its containerPolicy (borrowed; NULL: nothing allowed)
 * @param container the resolved job's container (borrowed)
 * @returns DRV_OK or DRV_ERR_INVALID with errstr naming the field.
 * @remark Lexical only; a symlink below an allowed root is the worker's to
 *         refuse (worker.allowed.host.paths). @thread any
 */
drv_err_t drv_catalog_policy_allows(const char *ce, json_t *policy,
                                    json_t *container, char *errstr,
                                    size_t errstr_size);

/**
 * @brief Check a resolved container against the containerPolicy of every
 * compute environment of the queue: host paths only under its
 * allowedHostPaths, privileged only with allowPrivileged (both default to
 * nothing allowed).
 * @returns DRV_OK, DRV_ERR_INVALID (refused, errstr says why) or a
 *          database error class.
 */
drv_err_t drv_catalog_check_policy(drv_pg_t *pg, const char *queue,
                                   json_t *container, char *errstr,
                                   size_t errstr_size);

/**
 * @brief The same check against the one compute environment `ce` a job is
 * released to (the dispatcher, at release: a queue may have been pointed
 * at another environment since the job was submitted).
 * @returns as drv_catalog_check_policy; an environment that no longer
 *          exists refuses anything the policy would have to allow.
 */
drv_err_t drv_catalog_check_policy_ce(drv_pg_t *pg, const char *ce,
                                   json_t *container, char *errstr,
                                   size_t errstr_size);

/**
 * @brief Check that every consumable resource a consumableResourceList
 * names (by name or ARN; already validated by drover/job.h) exists.
 * @param list borrowed; NULL or empty: nothing to check.
 * @returns DRV_OK, DRV_ERR_INVALID ("consumable resource X does not
 *          exist") or a lookup's error.
 */
drv_err_t drv_catalog_check_consumables(drv_pg_t *pg, json_t *list,
                                        char *errstr, size_t errstr_size);

#endif
