/* SPDX-License-Identifier: Apache-2.0 */
/* The submission check (submission.h). */
#include "drover/submission.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "drover/catalog.h"
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

static drv_err_t find_queue(drv_pg_t *pg, const char *ref,
                            const char *job_id, drv_submission_cache_t *cache,
                            char *queue, size_t queue_size, char *errstr,
                            size_t errstr_size)
{
    json_t *hit = cache && ref ? json_object_get(cache->queues, ref) : NULL;
    if (hit) {
        snprintf(queue, queue_size, "%s", json_string_value(hit));
        return DRV_OK;
    }
    drv_err_t err = drv_catalog_queue(pg, ref ? ref : "", NULL, queue,
                                      queue_size, errstr, errstr_size);
    if (err == DRV_OK && cache && ref) {
        json_object_set_new(cache->queues, ref, json_string(queue));
    } else if (err == DRV_ERR_INVALID && job_id) {
        /* DISABLED since the job was accepted: its receipt says so (never
         * cached: the next job may have none) */
        err = drv_catalog_queue(pg, ref ? ref : "", job_id, queue, queue_size,
                                errstr, errstr_size);
    }
    return err;
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

/* Each job dependsOn names must be found (or, without deps_must_exist,
 * only N_TO_N ones); an N_TO_N one must be an array of the same size. */
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
                     out->queue, sizeof(out->queue), errstr, errstr_size);
    if (err != DRV_OK) {
        return err;
    }
    /* AWS: both only on a queue with a fair-share scheduling policy, which
     * no Drover queue has yet (CreateJobQueue refuses schedulingPolicyArn) */
    if (json_object_get(sj, "shareIdentifier")) {
        drv_errstr_set(errstr, errstr_size,
                       "shareIdentifier applies only to job queues with a "
                       "fair-share scheduling policy: job queue %s has none",
                       out->queue);
        return DRV_ERR_INVALID;
    }
    if (json_object_get(sj, "schedulingPriorityOverride")) {
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
    out->resolved = drv_job_resolve(def, sj, limits, errstr, errstr_size);
    json_decref(def);
    if (!out->resolved) {
        return DRV_ERR_INVALID;
    }
    err = drv_catalog_check_policy(pg, out->queue,
                                   json_object_get(out->resolved, "container"),
                                   errstr, errstr_size);
    if (err == DRV_OK) {
        err = check_dependencies(sj, deps_must_exist, find, opaque, errstr,
                                 errstr_size);
    }
    if (err != DRV_OK) {
        drv_submission_clear(out);
    }
    return err;
}
