/* SPDX-License-Identifier: Apache-2.0 */
/* The submission check (submission.h). */
#include "drover/submission.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "drover/catalog.h"
#include "drover/fairshare.h"
#include "drover/limits.h"
#include "drover/util.h"

struct drv_submission_cache {
    json_t *queues; /* reference -> queue name (found ENABLED) */
    json_t *defs;   /* reference -> {name, revision, def} (found ACTIVE) */
};

drv_submission_cache_t *drv_submission_cache_new(void)
{
    drv_submission_cache_t *cache = drv_calloc(1, sizeof(*cache));
    cache->queues = json_object();
    cache->defs = json_object();
    return cache;
}

void drv_submission_cache_clear(drv_submission_cache_t *cache)
{
    if (cache) {
        json_object_clear(cache->queues);
        json_object_clear(cache->defs);
    }
}

void drv_submission_cache_destroy(drv_submission_cache_t *cache)
{
    if (cache) {
        json_decref(cache->queues);
        json_decref(cache->defs);
        free(cache);
    }
}

bool drv_submission_refused(drv_err_t err)
{
    return err == DRV_ERR_NOTFOUND || err == DRV_ERR_INVALID;
}

void drv_submission_clear(drv_submission_t *s)
{
    json_decref(s->resolved);
    s->resolved = NULL;
}

/* The queue a reference names, ENABLED (drv_catalog_queue), and whether
 * it has a fair-share scheduling policy; cached as {name, fair}. */
static drv_err_t find_queue(drv_pg_t *pg, const char *ref,
                            const char *job_id, drv_submission_cache_t *cache,
                            char *queue, size_t queue_size, bool *fair,
                            char *errstr, size_t errstr_size)
{
    json_t *hit = cache && ref ? json_object_get(cache->queues, ref) : NULL;
    if (hit) {
        snprintf(queue, queue_size, "%s",
                 json_string_value(json_object_get(hit, "name")));
        *fair = json_is_true(json_object_get(hit, "fair"));
        return DRV_OK;
    }
    drv_err_t err = drv_catalog_queue(pg, ref ? ref : "", NULL, queue,
                                      queue_size, fair, errstr, errstr_size);
    if (err == DRV_OK && cache && ref) {
        json_object_set_new(cache->queues, ref,
                            json_pack("{s:s,s:b}", "name", queue, "fair",
                                      *fair));
    } else if (err == DRV_ERR_INVALID && job_id) {
        /* DISABLED since the job was accepted: its receipt says so (never
         * cached: the next job may have none) */
        err = drv_catalog_queue(pg, ref ? ref : "", job_id, queue, queue_size,
                                fair, errstr, errstr_size);
    }
    return err;
}

/* Shares with unfinished jobs in a queue, counted up to one past the
 * limit by a skip scan of jobs_share_active (one index probe a share). */
#define SHARE_KNOWN_SQL                                                        \
    "SELECT 1 FROM jobs WHERE queue = $1 AND share_identifier = $2 AND "      \
    DRV_SHARES_UNFINISHED " LIMIT 1"
#define ACTIVE_SHARES_SQL                                                      \
    DRV_SHARES_CTE("$1", DRV_SHARES_UNFINISHED)                               \
    "SELECT count(*) FROM (SELECT id FROM s WHERE id IS NOT NULL LIMIT "      \
    "$2::int) x"

/* A fair-share queue's rules for a submission: a share is required, and
 * at most DRV_ACTIVE_SHARES_MAX shares may have unfinished jobs. */
static drv_err_t check_share(drv_pg_t *pg, const char *queue, json_t *sj,
                             char *errstr, size_t errstr_size)
{
    const char *share = json_string_value(json_object_get(sj,
                                                          "shareIdentifier"));
    if (!share) {
        drv_errstr_set(errstr, errstr_size,
                       "shareIdentifier is required: job queue %s has a "
                       "fair-share scheduling policy",
                       queue);
        return DRV_ERR_INVALID;
    }
    /* a share with unfinished jobs: one index probe; only a new share
     * counts the others (a skip scan, one probe a share) */
    const char *p[] = {queue, share};
    drv_pg_res_t *r = drv_pg_query(pg, SHARE_KNOWN_SQL, 2, p, errstr,
                                   errstr_size);
    if (!r) {
        return drv_pg_last_err(pg);
    }
    bool known = drv_pg_res_rows(r) > 0;
    drv_pg_res_free(r);
    if (known) {
        return DRV_OK;
    }
    char lim[16];
    snprintf(lim, sizeof(lim), "%d", DRV_ACTIVE_SHARES_MAX + 1);
    const char *pc[] = {queue, lim};
    if (!(r = drv_pg_query(pg, ACTIVE_SHARES_SQL, 2, pc, errstr,
                           errstr_size))) {
        return drv_pg_last_err(pg);
    }
    int64_t active = drv_pg_res_int(r, 0, 0, 0);
    drv_pg_res_free(r);
    if (active >= DRV_ACTIVE_SHARES_MAX) {
        drv_errstr_set(errstr, errstr_size,
                       "job queue %s already has %d active share identifiers "
                       "(the most a fair-share queue may have); "
                       "shareIdentifier %s would be one more",
                       queue, DRV_ACTIVE_SHARES_MAX, share);
        return DRV_ERR_INVALID;
    }
    return DRV_OK;
}

/* The definition a reference names (new reference), or NULL with *err. */
static json_t *find_definition(drv_pg_t *pg, const char *ref,
                               drv_submission_cache_t *cache,
                               drv_submission_t *out, drv_err_t *err,
                               char *errstr, size_t errstr_size)
{
    json_t *hit = cache && ref ? json_object_get(cache->defs, ref) : NULL;
    if (hit) {
        snprintf(out->def_name, sizeof(out->def_name), "%s",
                 json_string_value(json_object_get(hit, "name")));
        out->revision =
            (int)json_integer_value(json_object_get(hit, "revision"));
        *err = DRV_OK;
        return json_incref(json_object_get(hit, "def"));
    }
    json_t *def = drv_catalog_definition(pg, ref, out->def_name,
                                         sizeof(out->def_name),
                                         &out->revision, err, errstr,
                                         errstr_size);
    if (def && cache && ref) {
        json_object_set_new(cache->defs, ref,
                            json_pack("{s:s,s:i,s:O}", "name", out->def_name,
                                      "revision", out->revision, "def", def));
    }
    return def;
}

/* Each job dependsOn names must be found; an N_TO_N one must be an array
 * of the same size. Without deps_must_exist (the dispatcher, whose input
 * from several partitions may arrive out of order) only an N_TO_N one
 * found is checked: one not recorded yet is waited for, and its size
 * checked once it is (dispatcher/deps.c). */
static drv_err_t check_dependencies(json_t *sj, bool deps_must_exist,
                                    drv_submission_find_cb find, void *opaque,
                                    char *errstr, size_t errstr_size)
{
    size_t i;
    json_t *d;
    json_int_t size = json_integer_value(
        json_object_get(json_object_get(sj, "arrayProperties"), "size"));
    json_array_foreach(json_object_get(sj, "dependsOn"), i, d)
    {
        const char *id = json_string_value(json_object_get(d, "jobId"));
        const char *type = json_string_value(json_object_get(d, "type"));
        bool n_to_n = type && !strcmp(type, "N_TO_N");
        if (!id || !find || (!n_to_n && !deps_must_exist)) {
            continue;
        }
        int64_t other = -1;
        drv_err_t err = find(opaque, id, &other, errstr, errstr_size);
        if (err == DRV_ERR_NOTFOUND && !deps_must_exist) {
            continue;
        }
        if (err == DRV_ERR_NOTFOUND) {
            drv_errstr_set(errstr, errstr_size,
                           n_to_n ? "N_TO_N dependency %s does not exist"
                                  : "dependency job %s does not exist",
                           id);
            return err;
        }
        if (err != DRV_OK) {
            return err;
        }
        if (n_to_n && other != size) {
            drv_errstr_set(errstr, errstr_size,
                           "N_TO_N dependency %s must be an array job of the "
                           "same size (%" JSON_INTEGER_FORMAT ")",
                           id, size);
            return DRV_ERR_INVALID;
        }
    }
    return DRV_OK;
}

drv_err_t drv_submission_check(drv_pg_t *pg, json_t *sj,
                               const drv_job_limits_t *limits,
                               drv_submission_cache_t *cache,
                               bool deps_must_exist,
                               drv_submission_find_cb find, void *opaque,
                               drv_submission_t *out, char *errstr,
                               size_t errstr_size)
{
    drv_err_t err;
    memset(out, 0, sizeof(*out));
    if (drv_job_validate_submit(sj, limits, errstr, errstr_size) != 0) {
        return DRV_ERR_INVALID;
    }
    err = find_queue(pg, json_string_value(json_object_get(sj, "jobQueue")),
                     json_string_value(json_object_get(sj, "jobId")), cache,
                     out->queue, sizeof(out->queue), &out->fair_share, errstr,
                     errstr_size);
    if (err != DRV_OK) {
        return err;
    }
    /* AWS: a share on a fair-share queue, required there and refused
     * elsewhere, as is schedulingPriorityOverride */
    if (out->fair_share) {
        err = check_share(pg, out->queue, sj, errstr, errstr_size);
        if (err != DRV_OK) {
            return err;
        }
    } else if (json_object_get(sj, "shareIdentifier")) {
        drv_errstr_set(errstr, errstr_size,
                       "shareIdentifier applies only to job queues with a "
                       "fair-share scheduling policy: job queue %s has none",
                       out->queue);
        return DRV_ERR_INVALID;
    }
    if (!out->fair_share && json_object_get(sj, "schedulingPriorityOverride")) {
        drv_errstr_set(errstr, errstr_size,
                       "schedulingPriorityOverride applies only to job queues "
                       "with a fair-share scheduling policy: job queue %s has "
                       "none",
                       out->queue);
        return DRV_ERR_INVALID;
    }
    json_t *def = find_definition(
        pg, json_string_value(json_object_get(sj, "jobDefinition")), cache,
        out, &err, errstr, errstr_size);
    if (!def) {
        return err;
    }
    /* within a share: the override, else the definition's (AWS) */
    json_t *prio = json_object_get(sj, "schedulingPriorityOverride");
    if (!prio) {
        prio = json_object_get(def, "schedulingPriority");
    }
    out->scheduling_priority = out->fair_share && json_is_integer(prio)
                                   ? (int)json_integer_value(prio)
                                   : 0;
    out->resolved = drv_job_resolve(def, sj, limits, errstr, errstr_size);
    json_decref(def);
    if (!out->resolved) {
        return DRV_ERR_INVALID;
    }
    err = drv_catalog_check_policy(pg, out->queue,
                                   json_object_get(out->resolved, "container"),
                                   errstr, errstr_size);
    if (err == DRV_OK) {
        err = drv_catalog_check_consumables(
            pg,
            json_object_get(json_object_get(out->resolved,
                                            "consumableResourceProperties"),
                            "consumableResourceList"),
            errstr, errstr_size);
    }
    if (err == DRV_OK) {
        err = check_dependencies(sj, deps_must_exist, find, opaque, errstr,
                                 errstr_size);
    }
    if (err != DRV_OK) {
        drv_submission_clear(out);
    }
    return err;
}
