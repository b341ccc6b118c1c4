/* SPDX-License-Identifier: Apache-2.0 */
/* Control-plane lookups shared by producers and the dispatcher: see
 * drover/catalog.h. */
#include "drover/catalog.h"

#include <stdio.h>
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

drv_err_t drv_catalog_queue(drv_pg_t *pg, const char *ref, char *queue_out,
                            size_t queue_size, char *errstr,
                            size_t errstr_size)
{
    char copy[512];
    snprintf(copy, sizeof(copy), "%s", ref); /* ref may alias queue_out */
    drv_arn_name(copy, queue_out, queue_size);
    const char *p[] = {queue_out};
    drv_pg_res_t *r = drv_pg_query(
        pg, "SELECT state FROM job_queues WHERE name = $1", 1, p, errstr,
        errstr_size);
    drv_err_t ret = DRV_OK;
    if (!r) {
        return drv_pg_last_err(pg);
    }
    if (drv_pg_res_rows(r) == 0) {
        ret = DRV_ERR_NOTFOUND;
        drv_errstr_set(errstr, errstr_size, "JobQueue %s does not exist",
                       queue_out);
    } else if (strcmp(drv_pg_res_get(r, 0, 0), "ENABLED") != 0) {
        ret = DRV_ERR_INVALID;
        drv_errstr_set(errstr, errstr_size,
                       "JobQueue %s is not in ENABLED state", queue_out);
    }
    drv_pg_res_free(r);
    return ret;
}
