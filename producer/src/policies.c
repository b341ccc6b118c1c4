/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fair-share scheduling policies: CreateSchedulingPolicy,
 * DescribeSchedulingPolicies, ListSchedulingPolicies,
 * UpdateSchedulingPolicy and DeleteSchedulingPolicy, with AWS's rules: a
 * policy's fairsharePolicy is checked by drv_fairshare_validate, and a
 * policy a job queue uses cannot be deleted. The dispatcher reads the
 * policy of each fair-share queue on every scheduling pass, so an update
 * applies to the next pass.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "client_int.h"
#include "drover/fairshare.h"
#include "drover/limits.h"
#include "drover/util.h"

/* The policy's current tags: those it was created with, as TagResource
 * and UntagResource changed them (resource_tags, value NULL: removed). */
#define POLICY_TAGS                                                            \
    "(SELECT CASE WHEN jsonb_typeof(p.spec->'tags') = 'object' THEN "        \
    "p.spec->'tags' ELSE '{}'::jsonb END || COALESCE((SELECT "                \
    "jsonb_object_agg(t.key, t.value) FROM resource_tags t WHERE t.arn = "    \
    "'scheduling-policy/' || p.name AND t.value IS NOT NULL), '{}'::jsonb) " \
    "- COALESCE((SELECT array_agg(t.key) FROM resource_tags t WHERE t.arn = " \
    "'scheduling-policy/' || p.name AND t.value IS NULL), '{}'::text[]))"

static int check_policy(json_t *req, char *errstr, size_t errstr_size)
{
    json_t *fp = json_object_get(req, "fairsharePolicy");
    return fp ? drv_fairshare_validate(fp, errstr, errstr_size) : 0;
}

json_t *drv__op_create_scheduling_policy(drv_client_t *client, json_t *req,
                                         drv_err_t *err, char *errstr,
                                         size_t errstr_size)
{
    const char *name = json_string_value(json_object_get(req, "name"));
    json_t *resp = NULL;
    char now[24], arn[512], *spec = NULL;
    drv_pg_t *pg = drv__client_pg(client, err, errstr, errstr_size);
    if (!pg) {
        return NULL;
    }
    if (!name || !drv_resource_name_valid(name)) {
        FAIL(DRV_ERR_INVALID, "name must be 1 to 128 letters, digits, "
                              "hyphens or underscores");
    }
    if (check_policy(req, errstr, errstr_size) != 0) {
        *err = DRV_ERR_INVALID;
        return NULL;
    }
    json_t *doc = json_object(); /* only what was given: no nulls */
    const char *keys[] = {"fairsharePolicy", "tags"};
    for (size_t i = 0; i < DRV_ARRAY_SIZE(keys); i++) {
        json_t *v = json_object_get(req, keys[i]);
        if (v) {
            json_object_set(doc, keys[i], v);
        }
    }
    spec = json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(doc);
    snprintf(now, sizeof(now), "%" PRId64, drv_now_ms());
    const char *p[] = {name, spec, now};
    if (drv_pg_exec(pg,
                    "INSERT INTO scheduling_policies (name, spec, created_at) "
                    "VALUES ($1, $2::jsonb, $3::bigint)",
                    3, p, errstr, errstr_size) != 0) {
        *err = drv_pg_last_err(pg);
        drv__explain_constraint(pg, "scheduling policy", name, NULL, errstr,
                                errstr_size);
        goto out;
    }
    drv__client_arn(client, arn, sizeof(arn), "scheduling-policy", name);
    resp = json_pack("{s:s,s:s}", "name", name, "arn", arn);
out:
    free(spec);
    return resp;
}

json_t *drv__op_describe_scheduling_policies(drv_client_t *client,
                                             json_t *req, drv_err_t *err,
                                             char *errstr, size_t errstr_size)
{
    json_t *arns = json_object_get(req, "arns"), *a;
    size_t i;
    drv_pg_t *pg = drv__client_pg(client, err, errstr, errstr_size);
    if (!pg) {
        return NULL;
    }
    if (json_array_size(arns) > 100) {
        *err = DRV_ERR_INVALID;
        drv_errstr_set(errstr, errstr_size,
                       "arns: at most 100 scheduling policies");
        return NULL;
    }
    json_t *names = json_array();
    json_array_foreach(arns, i, a)
    {
        char n[300];
        drv_arn_name(json_string_value(a), n, sizeof(n));
        json_array_append_new(names, json_string(n));
    }
    char *names_s = json_dumps(names, JSON_COMPACT);
    json_decref(names);
    const char *p[] = {names_s};
    drv_pg_res_t *r = drv_pg_query(
        pg,
        "SELECT p.name, p.spec->'fairsharePolicy', " POLICY_TAGS " FROM "
        "scheduling_policies p WHERE p.name IN (SELECT "
        "jsonb_array_elements_text($1::jsonb)) ORDER BY p.name",
        1, p, errstr, errstr_size);
    free(names_s);
    if (!r) {
        *err = drv_pg_last_err(pg);
        return NULL;
    }
    json_t *list = json_array();
    for (int row = 0; row < drv_pg_res_rows(r); row++) {
        char arn[512];
        drv__client_arn(client, arn, sizeof(arn), "scheduling-policy",
                        drv_pg_res_get(r, row, 0));
        json_t *d = json_pack("{s:s,s:s,s:o}", "name",
                              drv_pg_res_get(r, row, 0), "arn", arn, "tags",
                              drv_pg_res_json(r, row, 2));
        json_t *fp = drv_pg_res_json(r, row, 1);
        if (json_is_object(fp)) {
            json_object_set_new(d, "fairsharePolicy", fp);
        } else {
            json_decref(fp);
        }
        json_array_append_new(list, d);
    }
    drv_pg_res_free(r);
    return json_pack("{s:o}", "schedulingPolicies", list);
}

json_t *drv__op_list_scheduling_policies(drv_client_t *client, json_t *req,
                                         drv_err_t *err, char *errstr,
                                         size_t errstr_size)
{
    int limit;
    char after[300], lim[16];
    drv_pg_t *pg = drv__client_pg(client, err, errstr, errstr_size);
    if (!pg) {
        return NULL;
    }
    if (drv__page(req, 100, 100, &limit, after, sizeof(after), errstr,
                  errstr_size) != 0) {
        *err = DRV_ERR_INVALID;
        return NULL;
    }
    snprintf(lim, sizeof(lim), "%d", limit + 1);
    const char *p[] = {lim, after[0] ? after : NULL};
    drv_pg_res_t *r = drv_pg_query(
        pg,
        "SELECT name FROM scheduling_policies WHERE $2::text IS NULL OR name "
        "> $2 ORDER BY name LIMIT $1::int",
        2, p, errstr, errstr_size);
    if (!r) {
        *err = drv_pg_last_err(pg);
        return NULL;
    }
    json_t *list = json_array();
    for (int row = 0; row < drv_pg_res_rows(r) && row < limit; row++) {
        char arn[512];
        drv__client_arn(client, arn, sizeof(arn), "scheduling-policy",
                        drv_pg_res_get(r, row, 0));
        json_array_append_new(list, json_pack("{s:s}", "arn", arn));
    }
    json_t *resp = json_pack("{s:o}", "schedulingPolicies", list);
    drv__next_token(resp, drv_pg_res_rows(r), limit,
                    drv_pg_res_rows(r) > limit
                        ? drv_pg_res_get(r, limit - 1, 0)
                        : NULL);
    drv_pg_res_free(r);
    return resp;
}

json_t *drv__op_update_scheduling_policy(drv_client_t *client, json_t *req,
                                         drv_err_t *err, char *errstr,
                                         size_t errstr_size)
{
    const char *ref = json_string_value(json_object_get(req, "arn"));
    json_t *fp = json_object_get(req, "fairsharePolicy");
    char name[300], *text = NULL;
    json_t *resp = NULL;
    drv_pg_t *pg = drv__client_pg(client, err, errstr, errstr_size);
    if (!pg) {
        return NULL;
    }
    if (check_policy(req, errstr, errstr_size) != 0) {
        *err = DRV_ERR_INVALID;
        return NULL;
    }
    drv_arn_name(ref ? ref : "", name, sizeof(name));
    text = fp ? json_dumps(fp, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    const char *p[] = {name, text};
    drv_pg_res_t *r = drv_pg_query(
        pg,
        "UPDATE scheduling_policies SET spec = CASE WHEN $2::jsonb IS NULL "
        "THEN spec ELSE jsonb_set(spec, '{fairsharePolicy}', $2::jsonb) END "
        "WHERE name = $1 RETURNING name",
        2, p, errstr, errstr_size);
    if (!r) {
        *err = drv_pg_last_err(pg);
        goto out;
    }
    int rows = drv_pg_res_rows(r);
    drv_pg_res_free(r);
    if (rows == 0) {
        FAIL(DRV_ERR_NOTFOUND, "SchedulingPolicy %s does not exist", name);
    }
    resp = json_object();
out:
    free(text);
    return resp;
}

json_t *drv__op_delete_scheduling_policy(drv_client_t *client, json_t *req,
                                         drv_err_t *err, char *errstr,
                                         size_t errstr_size)
{
    const char *ref = json_string_value(json_object_get(req, "arn"));
    char name[300];
    json_t *resp = NULL;
    drv_pg_t *pg = drv__client_pg(client, err, errstr, errstr_size);
    if (!pg) {
        return NULL;
    }
    drv_arn_name(ref ? ref : "", name, sizeof(name));
    const char *p[] = {name};
    /* one statement: the lookup of a queue using it and the delete */
    drv_pg_res_t *r = drv_pg_query(
        pg,
        "WITH used AS (SELECT min(name) AS q FROM job_queues WHERE "
        "scheduling_policy = $1), t AS (DELETE FROM resource_tags WHERE arn "
        "= 'scheduling-policy/' || $1 AND (SELECT q FROM used) IS NULL), d AS "
        "(DELETE FROM scheduling_policies WHERE name = $1 AND (SELECT q FROM "
        "used) IS NULL RETURNING name) SELECT (SELECT q FROM used), EXISTS "
        "(SELECT 1 FROM scheduling_policies WHERE name = $1)",
        1, p, errstr, errstr_size);
    if (!r) {
        *err = drv_pg_last_err(pg);
        if (!strcmp(drv_pg_last_sqlstate(pg), "23503")) {
            /* a queue took it up between the lookup and the delete */
            *err = DRV_ERR_INVALID;
            drv_errstr_set(errstr, errstr_size,
                           "Cannot delete scheduling policy %s: a job queue "
                           "uses it",
                           name);
        }
        return NULL;
    }
    if (drv_pg_res_get(r, 0, 0)) {
        *err = DRV_ERR_INVALID;
        drv_errstr_set(errstr, errstr_size,
                       "Cannot delete scheduling policy %s: job queue %s uses "
                       "it (a job queue's policy can be replaced, never "
                       "removed)",
                       name, drv_pg_res_get(r, 0, 0));
    } else if (drv_pg_res_get(r, 0, 1)[0] != 't') {
        *err = DRV_ERR_NOTFOUND;
        drv_errstr_set(errstr, errstr_size,
                       "SchedulingPolicy %s does not exist", name);
    } else {
        resp = json_object();
    }
    drv_pg_res_free(r);
    return resp;
}
