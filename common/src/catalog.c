/* SPDX-License-Identifier: Apache-2.0 */
/* Control-plane lookups shared by producers and the dispatcher: see
 * drover/catalog.h. */
#include "drover/catalog.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "drover/job.h"
#include "drover/util.h"

json_t *drv_catalog_definition(drv_pg_t *pg, const char *ref, char *name_out,
                               size_t name_size, int *revision, drv_err_t *err,
                               char *errstr, size_t errstr_size)
{
    char copy[512];
    snprintf(copy, sizeof(copy), "%s", ref); /* ref may alias name_out */
    drv_arn_name(copy, name_out, name_size);
    char *colon = strchr(name_out, ':');
    const char *rev = NULL;
    int64_t rv;
    if (colon) {
        *colon = '\0';
        rev = colon + 1;
    }
    if (!rev || drv_parse_int64(rev, 1, INT32_MAX, &rv) == 0) {
        const char *p[] = {name_out, rev};
        drv_pg_res_t *r = drv_pg_query(
            pg,
            "SELECT revision, spec FROM job_definitions WHERE name = $1 AND "
            "status = 'ACTIVE' AND ($2::int IS NULL OR revision = $2::int) "
            "ORDER BY revision DESC LIMIT 1",
            2, p, errstr, errstr_size);
        if (!r) {
            *err = drv_pg_last_err(pg);
            return NULL;
        }
        json_t *def = NULL;
        if (drv_pg_res_rows(r) == 1) {
            *revision = (int)drv_pg_res_int(r, 0, 0, 0);
            def = drv_pg_res_json(r, 0, 1);
        }
        drv_pg_res_free(r);
        if (def) {
            return def;
        }
    }
    *err = DRV_ERR_NOTFOUND;
    drv_errstr_set(errstr, errstr_size,
                   "JobDefinition name %s does not exist or is not in ACTIVE "
                   "status",
                   copy);
    return NULL;
}

drv_err_t drv_catalog_queue(drv_pg_t *pg, const char *ref,
                            const char *job_id, char *queue_out,
                            size_t queue_size, bool *fair_share,
                            char *errstr, size_t errstr_size)
{
    char copy[512];
    snprintf(copy, sizeof(copy), "%s", ref); /* ref may alias queue_out */
    drv_arn_name(copy, queue_out, queue_size);
    const char *p[] = {queue_out, job_id};
    drv_pg_res_t *r = drv_pg_query(
        pg,
        "SELECT CASE WHEN status <> 'DELETING' AND EXISTS (SELECT 1 FROM "
        "job_receipts WHERE job_id = $2::text AND queue = $1) THEN 'ENABLED' "
        "ELSE state END, scheduling_policy IS NOT NULL, status = 'DELETING' AND "
        "EXISTS (SELECT 1 FROM job_receipts WHERE job_id = $2::text AND queue "
        "= $1) FROM job_queues WHERE name = $1",
        2, p, errstr, errstr_size);
    drv_err_t ret = DRV_OK;
    if (!r) {
        return drv_pg_last_err(pg);
    }
    if (drv_pg_res_rows(r) == 0) {
        ret = DRV_ERR_NOTFOUND;
        drv_errstr_set(errstr, errstr_size, "JobQueue %s does not exist",
                       queue_out);
    } else if (drv_pg_res_get(r, 0, 2)[0] == 't') {
        /* accepted, then its queue was deleted before the dispatcher
         * recorded it: as the queue's other jobs end (control.c) */
        ret = DRV_ERR_INVALID;
        drv_errstr_set(errstr, errstr_size, "The job queue was deleted");
    } else if (strcmp(drv_pg_res_get(r, 0, 0), "ENABLED") != 0) {
        ret = DRV_ERR_INVALID;
        drv_errstr_set(errstr, errstr_size,
                       "JobQueue %s is not in ENABLED state", queue_out);
    }
    if (fair_share && drv_pg_res_rows(r) > 0) {
        *fair_share = drv_pg_res_get(r, 0, 1)[0] == 't';
    }
    drv_pg_res_free(r);
    return ret;
}

drv_err_t drv_catalog_policy_allows(const char *ce, json_t *policy,
                                   json_t *container, char *errstr,
                                   size_t errstr_size)
{
    size_t i, k;
    json_t *v, *root;
    if (json_is_true(json_object_get(container, "privileged")) &&
        !json_is_true(json_object_get(policy, "allowPrivileged"))) {
        drv_errstr_set(errstr, errstr_size,
                       "privileged containers are not allowed by compute "
                       "environment %s (containerPolicy.allowPrivileged)",
                       ce);
        return DRV_ERR_INVALID;
    }
    json_array_foreach(json_object_get(container, "volumes"), i, v)
    {
        json_t *host = json_object_get(v, "host");
        json_t *jsrc = json_object_get(host, "sourcePath");
        if (!jsrc || json_is_null(jsrc)) {
            continue; /* an anonymous volume (no host) is always fine */
        }
        const char *src = json_string_value(jsrc);
        /* lexical first: "<root>/.." is under <root> by its letters */
        if (!drv_path_is_clean(src)) {
            drv_errstr_set(errstr, errstr_size,
                           "containerProperties.volumes[%zu].host.sourcePath "
                           "must be an absolute path without \".\", \"..\" "
                           "or empty components",
                           i);
            return DRV_ERR_INVALID;
        }
        bool ok = false;
        json_array_foreach(json_object_get(policy, "allowedHostPaths"), k,
                           root)
        {
            ok |= json_is_string(root) &&
                  drv_path_under(src, json_string_value(root));
        }
        if (!ok) {
            drv_errstr_set(errstr, errstr_size,
                           "host path %s is not allowed by compute "
                           "environment %s (containerPolicy.allowedHostPaths)",
                           src, ce);
            return DRV_ERR_INVALID;
        }
    }
    return DRV_OK;
}

drv_err_t drv_catalog_check_policy(drv_pg_t *pg, const char *queue,
                                   json_t *container, char *errstr,
                                   size_t errstr_size)
{
    if (!json_is_true(json_object_get(container, "privileged")) &&
        json_array_size(json_object_get(container, "volumes")) == 0) {
        return DRV_OK; /* nothing to ask the compute environments */
    }
    const char *p[] = {queue};
    drv_pg_res_t *r = drv_pg_query(
        pg,
        "SELECT c.name, c.spec->'containerPolicy' FROM "
        "job_queue_compute_environments qc JOIN compute_environments c ON "
        "c.name = qc.compute_environment WHERE qc.queue = $1 ORDER BY qc.ord",
        1, p, errstr, errstr_size);
    if (!r) {
        return drv_pg_last_err(pg);
    }
    drv_err_t ret = DRV_OK;
    for (int i = 0; ret == DRV_OK && i < drv_pg_res_rows(r); i++) {
        json_t *policy = drv_pg_res_json(r, i, 1);
        ret = drv_catalog_policy_allows(drv_pg_res_get(r, i, 0), policy,
                                        container, errstr, errstr_size);
        json_decref(policy);
    }
    drv_pg_res_free(r);
    return ret;
}

drv_err_t drv_catalog_check_policy_ce(drv_pg_t *pg, const char *ce,
                                      json_t *container, char *errstr,
                                      size_t errstr_size)
{
    if (!json_is_true(json_object_get(container, "privileged")) &&
        json_array_size(json_object_get(container, "volumes")) == 0) {
        return DRV_OK;
    }
    const char *p[] = {ce};
    drv_pg_res_t *r = drv_pg_query(
        pg,
        "SELECT spec->'containerPolicy' FROM compute_environments WHERE "
        "name = $1",
        1, p, errstr, errstr_size);
    if (!r) {
        return drv_pg_last_err(pg);
    }
    json_t *policy = drv_pg_res_rows(r) == 1 ? drv_pg_res_json(r, 0, 0) : NULL;
    drv_pg_res_free(r);
    drv_err_t ret = drv_catalog_policy_allows(ce, policy, container, errstr,
                                     errstr_size);
    json_decref(policy);
    return ret;
}

drv_err_t drv_catalog_check_consumables(drv_pg_t *pg, json_t *list,
                                        char *errstr, size_t errstr_size)
{
    if (json_array_size(list) == 0) {
        return DRV_OK;
    }
    char *text = json_dumps(list, JSON_COMPACT);
    const char *p[] = {text};
    /* an ARN's name is what follows its last '/' */
    drv_pg_res_t *r = drv_pg_query(
        pg,
        "SELECT n FROM (SELECT substring(e->>'consumableResource' FROM "
        "'[^/]*$') AS n FROM jsonb_array_elements($1::jsonb) e) x WHERE NOT "
        "EXISTS (SELECT 1 FROM consumable_resources WHERE name = x.n) LIMIT 1",
        1, p, errstr, errstr_size);
    free(text);
    if (!r) {
        return drv_pg_last_err(pg);
    }
    drv_err_t ret = DRV_OK;
    if (drv_pg_res_rows(r) > 0) {
        drv_errstr_set(errstr, errstr_size,
                       "consumable resource %s does not exist",
                       drv_pg_res_get(r, 0, 0));
        ret = DRV_ERR_INVALID;
    }
    drv_pg_res_free(r);
    return ret;
}
