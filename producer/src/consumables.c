/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Consumable resources (AWS's resource-aware scheduling): licences,
 * connections, API quotas a job needs besides vCPUs and memory.
 * CreateConsumableResource, DescribeConsumableResource,
 * ListConsumableResources, UpdateConsumableResource (SET, ADD, REMOVE,
 * with clientToken), DeleteConsumableResource and
 * ListJobsByConsumableResource. The dispatcher never releases a job
 * unless there is enough of every resource it needs (dispatcher/
 * schedule.c): a REPLENISHABLE resource's quantity is held while the job
 * is released and given back when it stops; a NON_REPLENISHABLE one's is
 * taken off its total as the job starts.
 */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "client_int.h"
#include "drover/limits.h"
#include "drover/util.h"

/* What released jobs hold of resource c (the scheduler's own figure). */
#define IN_USE                                                                 \
    "COALESCE((SELECT sum((e->>'quantity')::bigint) FROM jobs j, "           \
    "jsonb_array_elements(j.consumables) e WHERE j.released AND "             \
    "j.consumables IS NOT NULL AND e->>'consumableResource' = c.name), 0)"

/* The resource's current tags: those it was created with, as TagResource
 * and UntagResource changed them (resource_tags, value NULL: removed). */
#define RESOURCE_TAGS                                                          \
    "(c.tags || COALESCE((SELECT jsonb_object_agg(t.key, t.value) FROM "     \
    "resource_tags t WHERE t.arn = 'consumable-resource/' || c.name AND "     \
    "t.value IS NOT NULL), '{}'::jsonb) - COALESCE((SELECT array_agg(t.key) " \
    "FROM resource_tags t WHERE t.arn = 'consumable-resource/' || c.name "    \
    "AND t.value IS NULL), '{}'::text[]))"

static void not_found(drv_err_t *err, const char *name, char *errstr,
                      size_t errstr_size)
{
    *err = DRV_ERR_NOTFOUND;
    drv_errstr_set(errstr, errstr_size, "consumable resource %s does not exist",
                   name);
}

#define CLIENT_TOKEN_MS ((int64_t)8 * 3600 * 1000) /* AWS: a token lasts 8 hours */

/* The resource a request names (a name or an ARN) into name[]; false,
 * errstr set, when it is not a resource name. */
static bool resource_ref(json_t *req, const char *member, char *name,
                         size_t size, char *errstr, size_t errstr_size)
{
    const char *ref = json_string_value(json_object_get(req, member));
    if (ref && strlen(ref) <= DRV_ARN_MAX) {
        drv_arn_name(ref, name, size);
        if (drv_resource_name_valid(name)) {
            return true;
        }
    }
    drv_errstr_set(errstr, errstr_size,
                   "%s must be the name (1 to 128 letters, digits, hyphens "
                   "or underscores) or ARN of a consumable resource",
                   member);
    return false;
}

/* The database, and the resource the request's consumableResource names
 * (a name or an ARN) into name[]; NULL with *err and errstr when there is
 * no database or no such name. */
static drv_pg_t *named(drv_client_t *client, json_t *req, char *name,
                       size_t size, drv_err_t *err, char *errstr,
                       size_t errstr_size)
{
    drv_pg_t *pg = drv__client_pg(client, err, errstr, errstr_size);
    if (pg && !resource_ref(req, "consumableResource", name, size, errstr,
                            errstr_size)) {
        *err = DRV_ERR_INVALID;
        return NULL;
    }
    return pg;
}

/* A quantity member: absent (*q untouched), or 0..2^53 - 1. */
static bool quantity(json_t *req, const char *member, json_int_t *q,
                     char *errstr, size_t errstr_size)
{
    json_t *v = json_object_get(req, member);
    if (!v) {
        return true;
    }
    if (!json_is_integer(v) || json_integer_value(v) < 0 ||
        json_integer_value(v) > DRV_CONSUMABLE_QUANTITY_MAX) {
        drv_errstr_set(errstr, errstr_size,
                       "%s must be an integer from 0 to %lld", member,
                       DRV_CONSUMABLE_QUANTITY_MAX);
        return false;
    }
    *q = json_integer_value(v);
    return true;
}

/*
 * A List request's filters: each {name, values} with a name from `names`
 * (NULL-terminated) and 1 to 100 values of at most 128 characters, as
 * {name: [values]}; NULL with errstr set when one is not.
 */
static json_t *filters(json_t *req, const char *const *names, char *errstr,
                       size_t errstr_size)
{
    json_t *out = json_object(), *f;
    size_t i, k;
    json_array_foreach(json_object_get(req, "filters"), i, f)
    {
        const char *name = json_string_value(json_object_get(f, "name"));
        json_t *values = json_object_get(f, "values"), *v;
        size_t n = 0;
        while (names[n] && (!name || strcmp(names[n], name))) {
            n++;
        }
        if (!names[n]) {
            drv_errstr_set(errstr, errstr_size,
                           "filters[%zu].name must be %s%s%s", i, names[0],
                           names[1] ? " or " : "", names[1] ? names[1] : "");
            goto bad;
        }
        if (json_array_size(values) < 1 || json_array_size(values) > 100) {
            drv_errstr_set(errstr, errstr_size,
                           "filters[%zu].values must list 1 to 100 values", i);
            goto bad;
        }
        json_array_foreach(values, k, v)
        {
            if (!json_is_string(v) || json_string_length(v) < 1 ||
                json_string_length(v) > DRV_NAME_MAX + 1) {
                drv_errstr_set(errstr, errstr_size,
                               "filters[%zu].values[%zu] must be 1 to 129 "
                               "characters",
                               i, k);
                goto bad;
            }
        }
        json_t *all = json_object_get(out, name);
        if (!all) {
            json_object_set_new(out, name, all = json_array());
        }
        json_array_extend(all, values);
    }
    return out;
bad:
    json_decref(out);
    return NULL;
}

/* SQL: whether `col` matches one of the JSON list $n of AWS's name
 * patterns (without case; a trailing '*' matches any rest). */
#define NAME_MATCHES(col, n)                                                   \
    "EXISTS (SELECT 1 FROM jsonb_array_elements_text(" n "::jsonb) f(v) "    \
    "WHERE CASE WHEN right(f.v, 1) = '*' THEN starts_with(lower(" col "), "   \
    "lower(left(f.v, -1))) ELSE lower(" col ") = lower(f.v) END)"

json_t *drv__op_create_consumable_resource(drv_client_t *client, json_t *req,
                                           drv_err_t *err, char *errstr,
                                           size_t errstr_size)
{
    const char *name =
        json_string_value(json_object_get(req, "consumableResourceName"));
    const char *type = json_string_value(json_object_get(req, "resourceType"));
    json_int_t total = 0;
    json_t *resp = NULL;
    char now[24], q[24], arn[512], max[24], *tags = NULL;
    drv_pg_t *pg = drv__client_pg(client, err, errstr, errstr_size);
    if (!pg) {
        return NULL;
    }
    if (!name || !drv_resource_name_valid(name)) {
        FAIL(DRV_ERR_INVALID, "consumableResourceName must be 1 to 128 "
                              "letters, digits, hyphens or underscores");
    }
    if (!type) {
        type = "REPLENISHABLE";
    }
    if (strcmp(type, "REPLENISHABLE") && strcmp(type, "NON_REPLENISHABLE")) {
        FAIL(DRV_ERR_INVALID,
             "resourceType must be REPLENISHABLE or NON_REPLENISHABLE");
    }
    if (!quantity(req, "totalQuantity", &total, errstr, errstr_size)) {
        *err = DRV_ERR_INVALID;
        goto out;
    }
    json_t *t = json_object_get(req, "tags");
    tags = json_dumps(t ? t : json_object(), JSON_COMPACT);
    snprintf(now, sizeof(now), "%" PRId64, drv_now_ms());
    snprintf(q, sizeof(q), "%" JSON_INTEGER_FORMAT, total);
    snprintf(max, sizeof(max), "%d", DRV_CONSUMABLE_RESOURCES_MAX);
    const char *p[] = {name, type, q, tags, now, max};
    drv_pg_res_t *r = drv_pg_query(
        pg,
        "INSERT INTO consumable_resources (name, resource_type, "
        "total_quantity, tags, created_at) SELECT $1, $2, $3::bigint, "
        "$4::jsonb, $5::bigint WHERE (SELECT count(*) FROM "
        "consumable_resources) < $6::int RETURNING name",
        6, p, errstr, errstr_size);
    if (!r) {
        *err = drv_pg_last_err(pg);
        drv__explain_constraint(pg, "consumable resource", name, NULL, errstr,
                                errstr_size);
        goto out;
    }
    int rows = drv_pg_res_rows(r);
    drv_pg_res_free(r);
    if (rows == 0) {
        FAIL(DRV_ERR_INVALID, "at most %d consumable resources",
             DRV_CONSUMABLE_RESOURCES_MAX);
    }
    drv__client_arn(client, arn, sizeof(arn), "consumable-resource", name);
    resp = json_pack("{s:s,s:s}", "consumableResourceName", name,
                     "consumableResourceArn", arn);
out:
    free(tags);
    return resp;
}

/* Columns of DESCRIBE_SQL. */
enum { DC_NAME, DC_TYPE, DC_TOTAL, DC_IN_USE, DC_CREATED, DC_TAGS };

#define DESCRIBE_COLS                                                          \
    "c.name, c.resource_type, c.total_quantity, " IN_USE ", c.created_at, "  \
    RESOURCE_TAGS

/* A resource's quantities as AWS shows them: a REPLENISHABLE one's
 * available is its total less what released jobs hold (never below 0);
 * a NON_REPLENISHABLE one's total is already less what they took. */
static json_t *quantities(const drv_pg_res_t *r, int row, bool available)
{
    json_int_t total = drv_pg_res_int(r, row, DC_TOTAL, 0);
    json_int_t in_use = drv_pg_res_int(r, row, DC_IN_USE, 0);
    bool repl = !strcmp(drv_pg_res_get(r, row, DC_TYPE), "REPLENISHABLE");
    json_t *o = json_pack("{s:I,s:I,s:s}", "totalQuantity", total,
                          "inUseQuantity", in_use, "resourceType",
                          drv_pg_res_get(r, row, DC_TYPE));
    if (available) {
        json_int_t a = repl ? total - in_use : total;
        json_object_set_new(o, "availableQuantity",
                            json_integer(a < 0 ? 0 : a));
    }
    return o;
}

json_t *drv__op_describe_consumable_resource(drv_client_t *client,
                                             json_t *req, drv_err_t *err,
                                             char *errstr, size_t errstr_size)
{
    char name[DRV_NAME_MAX + 2], arn[512];
    json_t *resp = NULL;
    drv_pg_t *pg = named(client, req, name, sizeof(name), err, errstr,
                         errstr_size);
    if (!pg) {
        return NULL;
    }
    const char *p[] = {name};
    drv_pg_res_t *r = drv_pg_query(
        pg,
        "SELECT " DESCRIBE_COLS " FROM consumable_resources c WHERE c.name = "
        "$1",
        1, p, errstr, errstr_size);
    if (!r) {
        *err = drv_pg_last_err(pg);
        return NULL;
    }
    if (drv_pg_res_rows(r) == 0) {
        not_found(err, name, errstr, errstr_size);
    } else {
        drv__client_arn(client, arn, sizeof(arn), "consumable-resource",
                        name);
        resp = quantities(r, 0, true);
        json_object_set_new(resp, "consumableResourceName",
                            json_string(name));
        json_object_set_new(resp, "consumableResourceArn", json_string(arn));
        json_object_set_new(resp, "createdAt",
                            drv_pg_res_json_int(r, 0, DC_CREATED));
        json_object_set_new(resp, "tags", drv_pg_res_json(r, 0, DC_TAGS));
    }
    drv_pg_res_free(r);
    return resp;
}

json_t *drv__op_list_consumable_resources(drv_client_t *client, json_t *req,
                                          drv_err_t *err, char *errstr,
                                          size_t errstr_size)
{
    static const char *const names[] = {"CONSUMABLE_RESOURCE_NAME", NULL};
    int limit;
    char after[300], lim[16];
    drv_pg_t *pg = drv__client_pg(client, err, errstr, errstr_size);
    if (!pg) {
        return NULL;
    }
    json_t *f = filters(req, names, errstr, errstr_size);
    if (!f || drv__page(req, 100, 100, &limit, after, sizeof(after), errstr,
                        errstr_size) != 0) {
        json_decref(f);
        *err = DRV_ERR_INVALID;
        return NULL;
    }
    json_t *pats = json_object_get(f, "CONSUMABLE_RESOURCE_NAME");
    char *pats_s = pats ? json_dumps(pats, JSON_COMPACT) : NULL;
    json_decref(f);
    snprintf(lim, sizeof(lim), "%d", limit + 1);
    const char *p[] = {lim, after[0] ? after : NULL, pats_s};
    drv_pg_res_t *r = drv_pg_query(
        pg,
        "SELECT " DESCRIBE_COLS " FROM consumable_resources c WHERE ($2::text "
        "IS NULL OR c.name > $2) AND ($3::jsonb IS NULL OR " NAME_MATCHES(
            "c.name", "$3") ") ORDER BY c.name LIMIT $1::int",
        3, p, errstr, errstr_size);
    free(pats_s);
    if (!r) {
        *err = drv_pg_last_err(pg);
        return NULL;
    }
    json_t *list = json_array();
    for (int row = 0; row < drv_pg_res_rows(r) && row < limit; row++) {
        char arn[512];
        const char *name = drv_pg_res_get(r, row, DC_NAME);
        drv__client_arn(client, arn, sizeof(arn), "consumable-resource",
                        name);
        json_t *s = quantities(r, row, false);
        json_object_set_new(s, "consumableResourceName", json_string(name));
        json_object_set_new(s, "consumableResourceArn", json_string(arn));
        json_array_append_new(list, s);
    }
    json_t *resp = json_pack("{s:o}", "consumableResources", list);
    drv__next_token(resp, drv_pg_res_rows(r), limit,
                    drv_pg_res_rows(r) > limit
                        ? drv_pg_res_get(r, limit - 1, DC_NAME)
                        : NULL);
    drv_pg_res_free(r);
    return resp;
}

/*
 * The new total of an UpdateConsumableResource: SET, ADD or REMOVE
 * `q` from `total`; -1 (errstr set) when it would leave 0..2^53 - 1.
 */
static json_int_t new_total(const char *op, json_int_t total, json_int_t q,
                            const char *name, char *errstr,
                            size_t errstr_size)
{
    json_int_t t = !strcmp(op, "SET") ? q
                   : !strcmp(op, "ADD") ? total + q
                                        : total - q;
    if (t < 0 || t > DRV_CONSUMABLE_QUANTITY_MAX) {
        drv_errstr_set(errstr, errstr_size,
                       "%s %" JSON_INTEGER_FORMAT " would leave consumable "
                       "resource %s with a totalQuantity of %" JSON_INTEGER_FORMAT
                       " (0 to %lld)",
                       op, q, name, t, DRV_CONSUMABLE_QUANTITY_MAX);
        return -1;
    }
    return t;
}

json_t *drv__op_update_consumable_resource(drv_client_t *client, json_t *req,
                                           drv_err_t *err, char *errstr,
                                           size_t errstr_size)
{
    const char *op = json_string_value(json_object_get(req, "operation"));
    const char *token = json_string_value(json_object_get(req, "clientToken"));
    json_int_t q = -1;
    char name[DRV_NAME_MAX + 2], arn[512], now[24], since[24], tq[24];
    char *req_s = NULL, *resp_s = NULL;
    json_t *resp = NULL;
    drv_pg_res_t *r = NULL;
    drv_pg_t *pg = named(client, req, name, sizeof(name), err, errstr,
                         errstr_size);
    if (!pg) {
        return NULL;
    }
    if (!quantity(req, "quantity", &q, errstr, errstr_size)) {
        *err = DRV_ERR_INVALID;
        return NULL;
    }
    if (!op) {
        op = "SET";
    }
    if (strcmp(op, "SET") && strcmp(op, "ADD") && strcmp(op, "REMOVE")) {
        FAIL(DRV_ERR_INVALID, "operation must be SET, ADD or REMOVE");
    }
    if (q < 0) {
        FAIL(DRV_ERR_INVALID, "quantity is required (the new totalQuantity, "
                              "or how much to add or remove)");
    }
    if (token && (strlen(token) < 1 || strlen(token) > DRV_CLIENT_TOKEN_MAX)) {
        FAIL(DRV_ERR_INVALID, "clientToken must be 1 to %d characters",
             DRV_CLIENT_TOKEN_MAX);
    }
    /* the request as a retry would send it again: by name, not ARN */
    json_t *again = json_pack("{s:s,s:s,s:I}", "consumableResource", name,
                              "operation", op, "quantity", q);
    req_s = json_dumps(again, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(again);
    int64_t t = drv_now_ms();
    snprintf(now, sizeof(now), "%" PRId64, t);
    snprintf(since, sizeof(since), "%" PRId64, t - CLIENT_TOKEN_MS);
    *err = DRV_ERR_TRANSIENT;
    if (drv_pg_begin(pg, errstr, errstr_size) != 0) {
        goto out;
    }
    if (token) {
        /* one request per token at a time; a token older than 8 hours is
         * forgotten */
        const char *tp[] = {token, since};
        if (drv_pg_exec(pg, "SELECT pg_advisory_xact_lock(hashtext("
                            "'consumable-update:' || $1))",
                        1, tp, errstr, errstr_size) != 0 ||
            drv_pg_exec(pg, "DELETE FROM consumable_updates WHERE at < "
                            "$1::bigint",
                        1, tp + 1, errstr, errstr_size) != 0 ||
            !(r = drv_pg_query(pg,
                               "SELECT request, response FROM "
                               "consumable_updates WHERE client_token = $1",
                               1, tp, errstr, errstr_size))) {
            *err = drv_pg_last_err(pg);
            goto fail;
        }
        if (drv_pg_res_rows(r) == 1) {
            json_t *was = drv_pg_res_json(r, 0, 0);
            json_t *now_req = json_loads(req_s, 0, NULL);
            bool same = json_equal(was, now_req);
            json_decref(was);
            json_decref(now_req);
            if (!same) {
                *err = DRV_ERR_INVALID;
                drv_errstr_set(errstr, errstr_size,
                               "clientToken %s was used for a different "
                               "UpdateConsumableResource request",
                               token);
                goto fail;
            }
            resp = drv_pg_res_json(r, 0, 1); /* done once already */
            drv_pg_res_free(r);
            r = NULL;
            if (drv_pg_commit(pg, errstr, errstr_size) != 0) {
                json_decref(resp);
                resp = NULL;
            }
            goto out;
        }
        drv_pg_res_free(r);
    }
    const char *p[] = {name};
    r = drv_pg_query(pg,
                     "SELECT total_quantity FROM consumable_resources WHERE "
                     "name = $1 FOR UPDATE",
                     1, p, errstr, errstr_size);
    if (!r) {
        *err = drv_pg_last_err(pg);
        goto fail;
    }
    if (drv_pg_res_rows(r) == 0) {
        not_found(err, name, errstr, errstr_size);
        goto fail;
    }
    json_int_t total = new_total(op, drv_pg_res_int(r, 0, 0, 0), q, name,
                                 errstr, errstr_size);
    drv_pg_res_free(r);
    r = NULL;
    if (total < 0) {
        *err = DRV_ERR_INVALID;
        goto fail;
    }
    drv__client_arn(client, arn, sizeof(arn), "consumable-resource", name);
    resp = json_pack("{s:s,s:s,s:I}", "consumableResourceName", name,
                     "consumableResourceArn", arn, "totalQuantity", total);
    resp_s = json_dumps(resp, JSON_COMPACT);
    snprintf(tq, sizeof(tq), "%" JSON_INTEGER_FORMAT, total);
    const char *up[] = {name, tq, token, req_s, resp_s, now};
    if (drv_pg_exec(pg,
                    "UPDATE consumable_resources SET total_quantity = "
                    "$2::bigint WHERE name = $1",
                    2, up, errstr, errstr_size) != 0 ||
        (token && drv_pg_exec(pg,
                              "INSERT INTO consumable_updates (client_token, "
                              "request, response, at) VALUES ($1, $2::jsonb, "
                              "$3::jsonb, $4::bigint)",
                              4, up + 2, errstr, errstr_size) != 0) ||
        drv_pg_commit(pg, errstr, errstr_size) != 0) {
        *err = drv_pg_last_err(pg);
        json_decref(resp);
        resp = NULL;
        goto fail;
    }
    goto out;
fail:
    drv_pg_res_free(r);
    drv_pg_rollback(pg);
out:
    free(req_s);
    free(resp_s);
    return resp;
}

json_t *drv__op_delete_consumable_resource(drv_client_t *client, json_t *req,
                                           drv_err_t *err, char *errstr,
                                           size_t errstr_size)
{
    char name[DRV_NAME_MAX + 2], *needle = NULL;
    json_t *resp = NULL;
    drv_pg_t *pg = named(client, req, name, sizeof(name), err, errstr,
                         errstr_size);
    if (!pg) {
        return NULL;
    }
    json_t *n = json_pack("[{s:s}]", "consumableResource", name);
    needle = json_dumps(n, JSON_COMPACT);
    json_decref(n);
    const char *p[] = {name, needle};
    /* one statement: the lookup of an unfinished job needing it, and the
     * delete only when there is none (a job submitted meanwhile waits,
     * saying the resource does not exist) */
    drv_pg_res_t *r = drv_pg_query(
        pg,
        "WITH used AS (SELECT min(job_id) AS j FROM jobs WHERE consumables "
        "@> $2::jsonb AND status NOT IN ('SUCCEEDED', 'FAILED')), t AS "
        "(DELETE FROM resource_tags WHERE arn = 'consumable-resource/' || $1 "
        "AND (SELECT j FROM used) IS NULL), d AS (DELETE FROM "
        "consumable_resources WHERE name = $1 AND (SELECT j FROM used) IS "
        "NULL RETURNING name) SELECT (SELECT j FROM used), EXISTS (SELECT 1 "
        "FROM consumable_resources WHERE name = $1)",
        2, p, errstr, errstr_size);
    free(needle);
    if (!r) {
        *err = drv_pg_last_err(pg);
        return NULL;
    }
    if (drv_pg_res_get(r, 0, 0)) {
        *err = DRV_ERR_INVALID;
        drv_errstr_set(errstr, errstr_size,
                       "Cannot delete consumable resource %s: job %s needs "
                       "it and has not finished",
                       name, drv_pg_res_get(r, 0, 0));
    } else if (drv_pg_res_get(r, 0, 1)[0] != 't') {
        not_found(err, name, errstr, errstr_size);
    } else {
        resp = json_object();
    }
    drv_pg_res_free(r);
    return resp;
}

/* Columns of ListJobsByConsumableResource's SELECT. */
enum { LJ_ID, LJ_QUEUE, LJ_NAME, LJ_DEF, LJ_REV, LJ_SHARE, LJ_STATUS,
       LJ_QUANTITY, LJ_REASON, LJ_STARTED, LJ_CREATED, LJ_LIST, LJ_SEQ };

json_t *drv__op_list_jobs_by_consumable_resource(drv_client_t *client,
                                                 json_t *req, drv_err_t *err,
                                                 char *errstr,
                                                 size_t errstr_size)
{
    static const char *const names[] = {"JOB_STATUS", "JOB_NAME", NULL};
    char name[DRV_NAME_MAX + 2], after[64], lim[16];
    char *needle = NULL, *st_s = NULL, *nm_s = NULL;
    int limit;
    json_t *resp = NULL, *f = NULL;
    drv_pg_t *pg = named(client, req, name, sizeof(name), err, errstr,
                         errstr_size);
    if (!pg) {
        return NULL;
    }
    if (!(f = filters(req, names, errstr, errstr_size)) ||
        drv__page(req, 100, 100, &limit, after, sizeof(after), errstr,
                  errstr_size) != 0) {
        json_decref(f);
        *err = DRV_ERR_INVALID;
        return NULL;
    }
    int64_t seq = 0;
    if (after[0] && drv_parse_int64(after, 1, INT64_MAX, &seq) != 0) {
        json_decref(f);
        *err = DRV_ERR_INVALID;
        drv_errstr_set(errstr, errstr_size, "Invalid nextToken");
        return NULL;
    }
    size_t i;
    json_t *v, *st = json_object_get(f, "JOB_STATUS");
    json_array_foreach(st, i, v)
    {
        drv_job_status_t s;
        if (drv_job_status_parse(json_string_value(v), &s) != 0) {
            json_decref(f);
            FAIL(DRV_ERR_INVALID,
                 "JOB_STATUS values must be SUBMITTED, PENDING, RUNNABLE, "
                 "STARTING, RUNNING, SUCCEEDED or FAILED");
        }
    }
    st_s = st ? json_dumps(st, JSON_COMPACT) : NULL;
    nm_s = json_object_get(f, "JOB_NAME")
               ? json_dumps(json_object_get(f, "JOB_NAME"), JSON_COMPACT)
               : NULL;
    json_decref(f);
    json_t *nd = json_pack("[{s:s}]", "consumableResource", name);
    needle = json_dumps(nd, JSON_COMPACT);
    json_decref(nd);
    snprintf(lim, sizeof(lim), "%d", limit + 1);
    const char *p[] = {name, needle, lim, after[0] ? after : NULL, st_s, nm_s};
    /* newest first; the resource must exist */
    drv_pg_res_t *r = drv_pg_query(
        pg,
        "SELECT j.job_id, j.queue, j.job_name, j.definition_name, "
        "j.definition_revision, j.share_identifier, j.status, (SELECT "
        "(e->>'quantity')::bigint FROM jsonb_array_elements(j.consumables) e "
        "WHERE e->>'consumableResource' = $1), j.status_reason, j.started_at, "
        "j.created_at, j.consumables, j.seq FROM jobs j WHERE EXISTS (SELECT "
        "1 FROM consumable_resources WHERE name = $1) AND j.consumables @> "
        "$2::jsonb AND ($4::bigint IS NULL OR j.seq < $4::bigint) AND "
        "($5::jsonb IS NULL OR j.status IN (SELECT "
        "jsonb_array_elements_text($5::jsonb))) AND ($6::jsonb IS NULL OR "
        NAME_MATCHES("j.job_name", "$6") ") ORDER BY j.seq DESC LIMIT "
        "$3::int",
        6, p, errstr, errstr_size);
    if (!r) {
        *err = drv_pg_last_err(pg);
        goto out;
    }
    int rows = drv_pg_res_rows(r);
    if (rows == 0) {
        /* nothing: say so if the resource itself is missing */
        drv_pg_res_t *e = drv_pg_query(pg,
                                       "SELECT 1 FROM consumable_resources "
                                       "WHERE name = $1",
                                       1, p, errstr, errstr_size);
        bool looked = e != NULL, exists = e && drv_pg_res_rows(e) == 1;
        drv_pg_res_free(e);
        if (!looked) {
            drv_pg_res_free(r);
            *err = drv_pg_last_err(pg);
            goto out;
        }
        if (!exists) {
            drv_pg_res_free(r);
            not_found(err, name, errstr, errstr_size);
            goto out;
        }
    }
    json_t *list = json_array();
    for (int row = 0; row < rows && row < limit; row++) {
        char arn[512], qarn[512], def[300], darn[512];
        drv__client_arn(client, arn, sizeof(arn), "job",
                        drv_pg_res_get(r, row, LJ_ID));
        drv__client_arn(client, qarn, sizeof(qarn), "job-queue",
                        drv_pg_res_get(r, row, LJ_QUEUE));
        json_t *s = json_pack(
            "{s:s,s:s,s:s,s:s,s:I,s:o,s:{s:o}}", "jobArn", arn, "jobQueueArn",
            qarn, "jobName", drv_pg_res_get(r, row, LJ_NAME), "jobStatus",
            drv_pg_res_get(r, row, LJ_STATUS), "quantity",
            (json_int_t)drv_pg_res_int(r, row, LJ_QUANTITY, 0), "createdAt",
            drv_pg_res_json_int(r, row, LJ_CREATED),
            "consumableResourceProperties", "consumableResourceList",
            drv_pg_res_json(r, row, LJ_LIST));
        if (drv_pg_res_get(r, row, LJ_DEF)) {
            snprintf(def, sizeof(def), "%s:%s", drv_pg_res_get(r, row, LJ_DEF),
                     drv_pg_res_get(r, row, LJ_REV));
            drv__client_arn(client, darn, sizeof(darn), "job-definition", def);
            json_object_set_new(s, "jobDefinitionArn", json_string(darn));
        }
        const char *opt[][2] = {{"shareIdentifier", NULL},
                                {"statusReason", NULL}};
        opt[0][1] = drv_pg_res_get(r, row, LJ_SHARE);
        opt[1][1] = drv_pg_res_get(r, row, LJ_REASON);
        for (size_t k = 0; k < DRV_ARRAY_SIZE(opt); k++) {
            if (opt[k][1]) {
                json_object_set_new(s, opt[k][0], json_string(opt[k][1]));
            }
        }
        if (drv_pg_res_get(r, row, LJ_STARTED)) {
            json_object_set_new(s, "startedAt",
                                drv_pg_res_json_int(r, row, LJ_STARTED));
        }
        json_array_append_new(list, s);
    }
    resp = json_pack("{s:o}", "jobs", list);
    drv__next_token(resp, rows, limit,
                    rows > limit ? drv_pg_res_get(r, limit - 1, LJ_SEQ)
                                 : NULL);
    drv_pg_res_free(r);
out:
    free(needle);
    free(st_s);
    free(nm_s);
    return resp;
}
