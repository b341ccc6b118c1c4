/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fair-share scheduling policies (AWS Batch's fairsharePolicy): their
 * validation, shared by CreateSchedulingPolicy and UpdateSchedulingPolicy,
 * and what the scheduler reads from one (a share's weight, the usage
 * half-life, the reserved fraction).
 *
 * A share identifier is 1 to 255 letters and digits; in a policy's
 * shareDistribution one ending in '*' is a prefix rule, and no two rules
 * may overlap (AWS: "UserA*" and "UserA1" cannot both be given).
 *
 * Ownership: nothing is retained. Thread safety: pure functions.
 */
#ifndef DRV_FAIRSHARE_H
#define DRV_FAIRSHARE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "drover/pg.h"
#include "drover/limits.h"

/** @brief Whether s is a share identifier (a trailing '*' when prefix_ok). */
bool drv_share_id_valid(const char *s, bool prefix_ok);

/**
 * @brief Check a fairsharePolicy object against AWS's rules and limits
 * (drover/limits.h); errstr names the member.
 * @returns 0, or -1 with errstr set.
 */
int drv_fairshare_validate(const json_t *policy, char *errstr,
                           size_t errstr_size);

/** @brief The weightFactor of `share` under `policy` (an exact rule, else
 * the prefix rule that matches, else 1.0). */
double drv_fairshare_weight(const json_t *policy, const char *share);

/** @brief The half-life of usage, in seconds (shareDecaySeconds; 0 or
 * absent: AWS's default window of 600 s). */
double drv_fairshare_half_life(const json_t *policy);

/** @brief The fraction of an environment's vCPUs kept for shares that hold
 * none: (computeReservation / 100) ^ active, 0 without a reservation. */
double drv_fairshare_reserved(const json_t *policy, int active);

/*
 * SQL: the CTE "s(id)" of the shares of queue Q (an SQL expression) with
 * jobs matching WHERE (a condition on jobs' columns), by a skip scan: one
 * index probe a share (jobs_share_release for RUNNABLE jobs,
 * jobs_share_active for unfinished ones), never a read of every job. The
 * last row of s is NULL.
 */
#define DRV_SHARES_CTE(Q, WHERE)                                               \
    "WITH RECURSIVE s(id) AS ((SELECT share_identifier FROM jobs WHERE "      \
    "queue = " Q " AND " WHERE " AND share_identifier IS NOT NULL ORDER BY "  \
    "share_identifier LIMIT 1) UNION ALL SELECT (SELECT share_identifier "    \
    "FROM jobs WHERE queue = " Q " AND " WHERE " AND share_identifier > "     \
    "s.id ORDER BY share_identifier LIMIT 1) FROM s WHERE s.id IS NOT NULL) "
#define DRV_SHARES_RUNNABLE "status = 'RUNNABLE' AND NOT released"
#define DRV_SHARES_UNFINISHED "status NOT IN ('SUCCEEDED', 'FAILED')"

/* One share of a fair-share queue, as a scheduling pass sees it. */
typedef struct drv_share {
    char id[DRV_SHARE_ID_MAX + 2]; /* 255 and a trailing '*' */
    double usage;  /* decayed vCPU-seconds, to now */
    double held;   /* vCPUs its released jobs hold */
    double weight; /* its weightFactor */
    json_t *jobs;  /* its RUNNABLE jobs in order: [id, vcpus, MiB, since,
                      consumables (null: none), GPUs] */
    size_t next;   /* the first of them not yet taken */
} drv_share_t;

/* A fair-share queue's shares: those with RUNNABLE jobs or holding
 * capacity. */
typedef struct drv_fairshare {
    drv_share_t *shares;
    size_t n;
    int active;        /* shares holding capacity */
    double held;       /* vCPUs the queue's released jobs hold */
} drv_fairshare_t;

/**
 * @brief Read a fair-share queue's shares at `now_ms`: each with up to
 * `per_share` of its RUNNABLE jobs (scheduling priority, then age).
 * @returns 0, or -1 with errstr set (*out then holds nothing).
 */
int drv_fairshare_load(drv_pg_t *pg, const char *queue, const json_t *policy,
                       int per_share, int64_t now_ms, drv_fairshare_t *out,
                       char *errstr, size_t errstr_size);

void drv_fairshare_free(drv_fairshare_t *fs);

/**
 * @brief The share whose next job goes next: of those with a job left, the
 * lowest (usage + held x 1 s) x weight, ties to the lower weight, then
 * the first identifier; -1 if none.
 * Taking a job (drv_fairshare_take) adds its vCPUs to the share's held,
 * so one pass spreads its room as later passes would.
 */
int drv_fairshare_pick(const drv_fairshare_t *fs);

/** @brief The next job of share i (as drv_share_t.jobs holds it), taken. */
json_t *drv_fairshare_take(drv_fairshare_t *fs, int i);

/** @brief Give a taken job back uncharged (it was not placed). */
void drv_fairshare_untake(drv_fairshare_t *fs, int i);

#endif
