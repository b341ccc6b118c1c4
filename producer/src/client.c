/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The client's control plane: job definitions, compute environments and job
 * queues, each written to PostgreSQL in one transaction; and the dispatch
 * table from AWS operation names to implementations.
 */
#include <inttypes.h>
#include <string.h>

#include "client_int.h"

#include "drover/aws_model.h"
#include "drover/catalog.h"
#include "drover/limits.h"
#include "drover/token.h"
#include "drover/util.h"

drv_client_t *drv_client_new(const drv_conf_t *conf, drv_log_t *log)
{
    drv_client_t *client = drv_calloc(1, sizeof(*client));
    client->conf = conf;
    client->log = log;
    client->region = drv_conf_get(conf, "aws.region");
    client->account = drv_conf_get(conf, "aws.account");
    client->limits.timeout_min_seconds =
        (int)drv_conf_get_int(conf, "job.timeout.min.seconds");
    return client;
}

void drv_client_destroy(drv_client_t *client)
{
    if (!client) {
        return;
    }
    drv_kprod_destroy(client->kprod);
    drv_codec_destroy(client->codec);
    drv_pg_destroy(client->pg);
    free(client);
}

drv_pg_t *drv__client_pg(drv_client_t *client, drv_err_t *err, char *errstr,
                         size_t errstr_size)
{
    if (!client->pg) {
        client->pg = drv_pg_connect(drv_conf_get(client->conf, "pg.conninfo"),
                                    client->log, errstr, errstr_size);
        if (!client->pg) {
            *err = DRV_ERR_TRANSIENT;
        }
    } else if (drv_pg_ensure(client->pg, errstr, errstr_size) != 0) {
        /* a server restart or failover: reconnected on a later call */
        *err = DRV_ERR_TRANSIENT;
        return NULL;
    }
    return client->pg;
}

void drv__client_arn(const drv_client_t *client, char *out, size_t size,
                     const char *kind, const char *name)
{
    drv_arn(out, size, client->region, client->account, kind, name);
}

void drv__explain_constraint(drv_pg_t *pg, const char *kind, const char *name,
                             const char *policy, char *errstr,
                             size_t errstr_size)
{
    const char *st = drv_pg_last_sqlstate(pg);
    if (!strcmp(st, "23505")) {
        drv_errstr_set(errstr, errstr_size, "Object already exists: %s %s",
                       kind, name);
    } else if (!strcmp(st, "23503")) { /* a queue's references */
        drv_errstr_set(errstr, errstr_size,
                       strstr(errstr, "scheduling_polic")
                           ? "scheduling policy %s does not exist"
                           : "a compute environment in "
                             "computeEnvironmentOrder does not exist",
                       policy ? policy : "");
    }
}

int drv__page(json_t *req, int max_default, int max_limit, int *limit,
              char *after, size_t after_size, char *errstr,
              size_t errstr_size)
{
    json_t *mr = json_object_get(req, "maxResults");
    const char *tok = json_string_value(json_object_get(req, "nextToken"));
    *limit = max_default;
    after[0] = '\0';
    if (mr) {
        if (!json_is_integer(mr) || json_integer_value(mr) < 1 ||
            json_integer_value(mr) > max_limit) {
            drv_errstr_set(errstr, errstr_size,
                           "maxResults must be from 1 to %d", max_limit);
            return -1;
        }
        *limit = (int)json_integer_value(mr);
    }
    if (tok && drv_token_decode(tok, after, after_size) != 0) {
        drv_errstr_set(errstr, errstr_size, "Invalid nextToken");
        return -1;
    }
    return 0;
}

void drv__next_token(json_t *resp, int rows, int limit, const char *last_key)
{
    if (rows > limit && last_key) {
        char *tok = drv_token_encode(last_key);
        json_object_set_new(resp, "nextToken", json_string(tok));
        free(tok);
    }
}

/* The names (or name:revision) a request lists under `key`, ARNs reduced
 * to names, as JSON text for a query ($n::jsonb); owned by the caller. */
static char *name_list(json_t *req, const char *key)
{
    json_t *names = json_array(), *v;
    size_t i;
    json_array_foreach(json_object_get(req, key), i, v)
    {
        char n[300];
        drv_arn_name(json_string_value(v) ? json_string_value(v) : "", n,
                     sizeof(n));
        json_array_append_new(names, json_string(n));
    }
    char *text = json_dumps(names, JSON_COMPACT);
    json_decref(names);
    return text;
}

/* ---- job definitions ---------------------------------------------------- */

static json_t *op_register_job_definition(drv_client_t *client, json_t *req,
                                          drv_err_t *err, char *errstr,
                                          size_t errstr_size)
{
    json_t *resp = NULL;
    char *spec = NULL, now[24], arn[512], nr[200];
    drv_pg_t *pg = drv__client_pg(client, err, errstr, errstr_size);
    if (!pg) {
        return NULL;
    }
    if (drv_job_validate_definition(req, &client->limits, errstr,
                                    errstr_size) != 0) {
        *err = DRV_ERR_INVALID;
        return NULL;
    }
    *err = drv_catalog_check_consumables(
        pg,
        json_object_get(json_object_get(req, "consumableResourceProperties"),
                        "consumableResourceList"),
        errstr, errstr_size);
    if (*err != DRV_OK) {
        return NULL;
    }
    spec = json_dumps(req, JSON_COMPACT | JSON_SORT_KEYS);
    if (strlen(spec) > DRV_DEFINITION_MAX) {
        FAIL(DRV_ERR_INVALID, "job definition exceeds 24 KiB");
    }
    const char *name = json_string_value(json_object_get(req,
                                                         "jobDefinitionName"));
    snprintf(now, sizeof(now), "%" PRId64, drv_now_ms());
    const char *p[] = {name, spec, now};
    *err = DRV_ERR_TRANSIENT;
    if (drv_pg_begin(pg, errstr, errstr_size) != 0) {
        goto out;
    }
    /* revisions of one name are numbered under a per-name lock */
    drv_pg_res_t *r = NULL;
    if (drv_pg_exec(pg, "SELECT pg_advisory_xact_lock(hashtext($1))", 1, p,
                    errstr, errstr_size) != 0 ||
        !(r = drv_pg_query(pg,
                           "INSERT INTO job_definitions (name, revision, spec, "
                           "created_at) SELECT $1, coalesce(max(revision), 0) "
                           "+ 1, $2::jsonb, $3::bigint FROM job_definitions "
                           "WHERE name = $1 RETURNING revision",
                           3, p, errstr, errstr_size)) ||
        drv_pg_commit(pg, errstr, errstr_size) != 0) {
        drv_pg_res_free(r);
        drv_pg_rollback(pg);
        goto out;
    }
    int rev = (int)drv_pg_res_int(r, 0, 0, 0);
    drv_pg_res_free(r);
    snprintf(nr, sizeof(nr), "%s:%d", name, rev);
    drv__client_arn(client, arn, sizeof(arn), "job-definition", nr);
    resp = json_pack("{s:s,s:s,s:i}", "jobDefinitionName", name,
                     "jobDefinitionArn", arn, "revision", rev);
out:
    free(spec);
    return resp;
}

static json_t *definition_detail(drv_client_t *client, const drv_pg_res_t *r,
                                 int row)
{
    json_t *d = drv_pg_res_json(r, row, 3);
    char nr[300], arn[512];
    snprintf(nr, sizeof(nr), "%s:%s", drv_pg_res_get(r, row, 0),
             drv_pg_res_get(r, row, 1));
    drv__client_arn(client, arn, sizeof(arn), "job-definition", nr);
    json_object_set_new(d, "jobDefinitionArn", json_string(arn));
    json_object_set_new(d, "revision",
                        json_integer(drv_pg_res_int(r, row, 1, 0)));
    json_object_set_new(d, "status", json_string(drv_pg_res_get(r, row, 2)));
    if (!json_object_get(d, "platformCapabilities")) {
        json_object_set_new(d, "platformCapabilities", json_pack("[s]", "EC2"));
    }
    return d;
}

static json_t *op_describe_job_definitions(drv_client_t *client, json_t *req,
                                           drv_err_t *err, char *errstr,
                                           size_t errstr_size)
{
    int limit;
    char after[300];
    drv_pg_t *pg = drv__client_pg(client, err, errstr, errstr_size);
    if (!pg) {
        return NULL;
    }
    if (drv__page(req, 100, 100, &limit, after, sizeof(after), errstr,
                  errstr_size) != 0) {
        *err = DRV_ERR_INVALID;
        return NULL;
    }
    if (after[0]) { /* name:revision, as drv__next_token wrote it */
        char *colon = strrchr(after, ':');
        int64_t rev;
        if (!colon || drv_parse_int64(colon + 1, 1, INT32_MAX, &rev) != 0) {
            *err = DRV_ERR_INVALID;
            drv_errstr_set(errstr, errstr_size, "Invalid nextToken");
            return NULL;
        }
    }
    /* jobDefinitions: names, name:revision or ARNs */
    char *refs_s = name_list(req, "jobDefinitions");
    char lim[16];
    snprintf(lim, sizeof(lim), "%d", limit + 1);
    const char *p[] = {
        refs_s, json_string_value(json_object_get(req, "jobDefinitionName")),
        json_string_value(json_object_get(req, "status")), lim,
        after[0] ? after : NULL};
    drv_pg_res_t *r = drv_pg_query(
        pg,
        "SELECT name, revision, status, spec FROM job_definitions WHERE "
        "(jsonb_array_length($1::jsonb) = 0 OR name IN (SELECT "
        "jsonb_array_elements_text($1::jsonb)) OR name || ':' || revision IN "
        "(SELECT jsonb_array_elements_text($1::jsonb))) AND ($2::text IS "
        "NULL OR name = $2) AND ($3::text IS NULL OR status = $3) AND "
        "($5::text IS NULL OR (name, revision) > (split_part($5, ':', 1), "
        "split_part($5, ':', 2)::int)) ORDER BY name, revision LIMIT $4::int",
        5, p, errstr, errstr_size);
    free(refs_s);
    if (!r) {
        *err = drv_pg_last_err(pg);
        return NULL;
    }
    json_t *list = json_array();
    for (int row = 0; row < drv_pg_res_rows(r) && row < limit; row++) {
        json_array_append_new(list, definition_detail(client, r, row));
    }
    json_t *resp = json_pack("{s:o}", "jobDefinitions", list);
    if (drv_pg_res_rows(r) > limit) {
        char key[300];
        snprintf(key, sizeof(key), "%s:%s", drv_pg_res_get(r, limit - 1, 0),
                 drv_pg_res_get(r, limit - 1, 1));
        drv__next_token(resp, drv_pg_res_rows(r), limit, key);
    }
    drv_pg_res_free(r);
    return resp;
}

static json_t *op_deregister_job_definition(drv_client_t *client, json_t *req,
                                            drv_err_t *err, char *errstr,
                                            size_t errstr_size)
{
    const char *ref = json_string_value(json_object_get(req, "jobDefinition"));
    char name[300];
    drv_pg_t *pg = drv__client_pg(client, err, errstr, errstr_size);
    if (!pg) {
        return NULL;
    }
    if (!ref) {
        *err = DRV_ERR_INVALID;
        drv_errstr_set(errstr, errstr_size, "jobDefinition is required");
        return NULL;
    }
    drv_arn_name(ref, name, sizeof(name));
    const char *p[] = {name};
    drv_pg_res_t *r = drv_pg_query(
        pg,
        "UPDATE job_definitions SET status = 'INACTIVE' WHERE name || ':' || "
        "revision = $1",
        1, p, errstr, errstr_size);
    if (!r) {
        *err = drv_pg_last_err(pg);
        return NULL;
    }
    int64_t n = drv_pg_res_affected(r);
    drv_pg_res_free(r);
    if (n == 0) {
        *err = DRV_ERR_NOTFOUND;
        drv_errstr_set(errstr, errstr_size,
                       "job definition %s does not exist (give name:revision)",
                       ref);
        return NULL;
    }
    return json_object();
}

/* ---- compute environments and queues ------------------------------------ */

static int ensure_topic(drv_client_t *client, const char *prefix,
                        const char *name, drv_err_t *err, char *errstr,
                        size_t errstr_size)
{
    char topic[300];
    snprintf(topic, sizeof(topic), "%s%s", prefix, name);
    const char *t[] = {topic};
    if (drv_kafka_create_topics(client->conf, t, 1,
                                (int)drv_conf_get_int(client->conf,
                                                      "topic.partitions"),
                                errstr, errstr_size) != 0) {
        *err = DRV_ERR_TRANSIENT;
        return -1;
    }
    return 0;
}

static json_t *op_create_compute_environment(drv_client_t *client,
                                             json_t *req, drv_err_t *err,
                                             char *errstr, size_t errstr_size)
{
    json_t *resp = NULL;
    const char *name =
        json_string_value(json_object_get(req, "computeEnvironmentName"));
    const char *type = json_string_value(json_object_get(req, "type"));
    const char *state = json_string_value(json_object_get(req, "state"));
    json_t *cr = json_object_get(req, "computeResources");
    json_t *mv = json_object_get(cr, "maxvCpus");
    json_t *mm = json_object_get(cr, "maxMemoryMiB");
    char *spec = NULL, vc[32], mem[24], now[24], arn[512];
    drv_pg_t *pg = drv__client_pg(client, err, errstr, errstr_size);
    if (!pg) {
        return NULL;
    }
    if (!mv) {
        mv = json_object_get(req, "unmanagedvCpus");
    }
    if (!name || !drv_resource_name_valid(name)) {
        FAIL(DRV_ERR_INVALID, "computeEnvironmentName must be 1 to 128 "
                              "letters, digits, hyphens or underscores");
    }
    if (!type || (strcmp(type, "MANAGED") && strcmp(type, "UNMANAGED"))) {
        FAIL(DRV_ERR_INVALID, "type must be MANAGED or UNMANAGED");
    }
    if (state && strcmp(state, "ENABLED") && strcmp(state, "DISABLED")) {
        FAIL(DRV_ERR_INVALID, "state must be ENABLED or DISABLED");
    }
    /* MANAGED: what AWS requires of one (issue 18 provisions them);
     * UNMANAGED: the budget is optional, its workers' offer without one */
    if (!strcmp(type, "MANAGED")) {
        const char *crt = json_string_value(json_object_get(cr, "type"));
        if (!cr) {
            FAIL(DRV_ERR_INVALID, "computeResources is required for a "
                                  "MANAGED compute environment");
        }
        if ((!strcmp(crt, "EC2") || !strcmp(crt, "SPOT")) &&
            !json_object_get(cr, "instanceRole")) {
            FAIL(DRV_ERR_INVALID, "computeResources.instanceRole is required "
                                  "for a MANAGED %s compute environment",
                 crt);
        }
    }
    if (mv && json_number_value(mv) <= 0) {
        FAIL(DRV_ERR_INVALID, "computeResources.maxvCpus must be a positive "
                              "number (the pool's vCPU budget)");
    }
    if (!strcmp(type, "MANAGED") &&
        drv__managed_vcpus_check(cr, -1, -1, -1, errstr, errstr_size) != 0) {
        *err = DRV_ERR_INVALID;
        goto out;
    }
    if (drv__provisioner_tag_check(json_object_get(req, "tags"), errstr,
                                   errstr_size) != 0) {
        *err = DRV_ERR_INVALID;
        goto out;
    }
    if (!strcmp(type, "UNMANAGED")) { /* its workers are its capacity */
        const char *k;
        json_t *v;
        json_object_foreach(cr, k, v)
        {
            if (strcmp(k, "maxvCpus") && strcmp(k, "maxMemoryMiB") &&
                strcmp(k, "type") && strcmp(k, "subnets")) {
                FAIL(DRV_ERR_INVALID,
                     "computeResources.%s applies to MANAGED compute "
                     "environments",
                     k);
            }
        }
    }
    if (mm && (!json_is_integer(mm) || json_integer_value(mm) < 4)) {
        FAIL(DRV_ERR_INVALID, "computeResources.maxMemoryMiB must be an "
                              "integer of at least 4");
    }
    json_t *pol = json_object_get(req, "containerPolicy"), *root;
    size_t i;
    if (pol && (!json_is_object(pol) ||
                (json_object_get(pol, "allowPrivileged") &&
                 !json_is_boolean(json_object_get(pol, "allowPrivileged"))))) {
        FAIL(DRV_ERR_INVALID, "containerPolicy must be {allowedHostPaths: "
                              "[absolute paths], allowPrivileged: bool}");
    }
    json_array_foreach(json_object_get(pol, "allowedHostPaths"), i, root)
    {
        if (!drv_path_is_clean(json_string_value(root))) {
            FAIL(DRV_ERR_INVALID, "containerPolicy.allowedHostPaths[%zu] must "
                                  "be an absolute path without \".\", "
                                  "\"..\" or empty components", i);
        }
    }
    spec = json_dumps(req, JSON_COMPACT | JSON_SORT_KEYS);
    snprintf(vc, sizeof(vc), "%g", json_number_value(mv));
    snprintf(mem, sizeof(mem), "%" JSON_INTEGER_FORMAT,
             json_integer_value(mm));
    snprintf(now, sizeof(now), "%" PRId64, drv_now_ms());
    char minv[32], desv[32];
    json_t *mn = json_object_get(cr, "minvCpus");
    json_t *dv = json_object_get(cr, "desiredvCpus");
    snprintf(minv, sizeof(minv), "%" JSON_INTEGER_FORMAT,
             json_integer_value(mn));
    snprintf(desv, sizeof(desv), "%" JSON_INTEGER_FORMAT,
             json_integer_value(dv));
    bool managed = !strcmp(type, "MANAGED");
    const char *p[] = {name, type, state ? state : "ENABLED", mv ? vc : NULL,
                       mm ? mem : NULL, spec, now, managed ? minv : "0",
                       managed && dv ? desv : NULL};
    if (drv_pg_exec(pg,
                    "INSERT INTO compute_environments (name, type, state, "
                    "max_vcpus, max_memory_mib, spec, created_at, min_vcpus, "
                    "desired_floor, desired_floor_at) VALUES ($1, $2, $3, "
                    "$4::float8, $5::bigint, $6::jsonb, $7::bigint, "
                    "$8::float8, $9::float8, CASE WHEN $9 IS NOT NULL THEN "
                    "$7::bigint END)",
                    9, p, errstr, errstr_size) != 0) {
        *err = drv_pg_last_err(pg);
        drv__explain_constraint(pg, "compute environment", name, NULL, errstr,
                                errstr_size);
        goto out;
    }
    if (ensure_topic(client, DRV_TOPIC_RUN_PREFIX, name, err, errstr,
                     errstr_size) != 0 ||
        ensure_topic(client, DRV_TOPIC_CONTROL_PREFIX, name, err, errstr,
                     errstr_size) != 0) {
        goto out;
    }
    drv__client_arn(client, arn, sizeof(arn), "compute-environment", name);
    resp = json_pack("{s:s,s:s}", "computeEnvironmentName", name,
                     "computeEnvironmentArn", arn);
out:
    free(spec);
    return resp;
}

/* Resolve computeEnvironmentOrder into (order, name) rows as JSON text. */
static char *ce_order(json_t *req, drv_err_t *err, char *errstr,
                      size_t errstr_size)
{
    json_t *order = json_object_get(req, "computeEnvironmentOrder"), *o;
    size_t i;
    if (!json_is_array(order) || json_array_size(order) < 1 ||
        json_array_size(order) > 3) {
        *err = DRV_ERR_INVALID;
        drv_errstr_set(errstr, errstr_size,
                       "computeEnvironmentOrder needs 1 to 3 entries of "
                       "{order, computeEnvironment}");
        return NULL;
    }
    json_t *rows = json_array();
    json_array_foreach(order, i, o)
    {
        const char *ce =
            json_string_value(json_object_get(o, "computeEnvironment"));
        json_t *ord = json_object_get(o, "order");
        char name[300];
        if (!ce || !json_is_integer(ord)) {
            json_decref(rows);
            *err = DRV_ERR_INVALID;
            drv_errstr_set(errstr, errstr_size,
                           "computeEnvironmentOrder[%zu] needs an integer "
                           "order and a computeEnvironment",
                           i);
            return NULL;
        }
        drv_arn_name(ce, name, sizeof(name));
        json_array_append_new(rows, json_pack("{s:O,s:s}", "ord", ord, "ce",
                                              name));
    }
    char *s = json_dumps(rows, JSON_COMPACT);
    json_decref(rows);
    return s;
}

/* The blocking RUNNABLE reasons a jobStateTimeLimitActions entry may name
 * (AWS's). */
static const char *const time_limit_reasons[] = {
    "CAPACITY:INSUFFICIENT_INSTANCE_CAPACITY",
    "MISCONFIGURATION:COMPUTE_ENVIRONMENT_MAX_RESOURCE",
    "MISCONFIGURATION:JOB_RESOURCE_REQUIREMENT",
    "MISCONFIGURATION:SERVICE_ROLE_PERMISSIONS"};

/* jobStateTimeLimitActions as AWS takes them for an ECS queue: CANCEL a
 * job RUNNABLE for over maxTimeSeconds (600..86400) with one of AWS's
 * blocking reasons; the dispatcher enforces them (dispatcher/control.c). */
static int check_time_limits(drv_client_t *client, json_t *req,
                             char *errstr, size_t errstr_size)
{
    json_t *acts = json_object_get(req, "jobStateTimeLimitActions"), *a;
    int64_t min = drv_conf_get_int(client->conf,
                                   "queue.time.limit.min.seconds");
    size_t i;
    if (json_array_size(acts) > 5) {
        drv_errstr_set(errstr, errstr_size,
                       "jobStateTimeLimitActions: at most 5 actions");
        return -1;
    }
    json_array_foreach(acts, i, a)
    {
        const char *reason = json_string_value(json_object_get(a, "reason"));
        const char *action = json_string_value(json_object_get(a, "action"));
        json_int_t max = json_integer_value(json_object_get(a,
                                                            "maxTimeSeconds"));
        bool known = false;
        for (size_t k = 0; k < DRV_ARRAY_SIZE(time_limit_reasons); k++) {
            known |= !strcmp(reason, time_limit_reasons[k]);
        }
        if (!known) {
            drv_errstr_set(errstr, errstr_size,
                           "jobStateTimeLimitActions[%zu].reason must be one "
                           "of CAPACITY:INSUFFICIENT_INSTANCE_CAPACITY, "
                           "MISCONFIGURATION:COMPUTE_ENVIRONMENT_MAX_RESOURCE, "
                           "MISCONFIGURATION:JOB_RESOURCE_REQUIREMENT, "
                           "MISCONFIGURATION:SERVICE_ROLE_PERMISSIONS",
                           i);
            return -1;
        }
        if (strcmp(action, "CANCEL")) {
            drv_errstr_set(errstr, errstr_size,
                           "jobStateTimeLimitActions[%zu].action: TERMINATE "
                           "is only for SageMaker Training job queues; use "
                           "CANCEL",
                           i);
            return -1;
        }
        if (max < min || max > 86400) {
            drv_errstr_set(errstr, errstr_size,
                           "jobStateTimeLimitActions[%zu].maxTimeSeconds must "
                           "be from %" PRId64 " to 86400",
                           i, min);
            return -1;
        }
    }
    return 0;
}

static json_t *op_create_job_queue(drv_client_t *client, json_t *req,
                                   drv_err_t *err, char *errstr,
                                   size_t errstr_size)
{
    json_t *resp = NULL;
    const char *name = json_string_value(json_object_get(req, "jobQueueName"));
    const char *state = json_string_value(json_object_get(req, "state"));
    json_t *prio = json_object_get(req, "priority");
    char *spec = NULL, *order = NULL, pr[16], now[24], arn[512];
    drv_pg_t *pg = drv__client_pg(client, err, errstr, errstr_size);
    if (!pg) {
        return NULL;
    }
    if (!name || !drv_resource_name_valid(name)) {
        FAIL(DRV_ERR_INVALID, "jobQueueName must be 1 to 128 letters, "
                              "digits, hyphens or underscores");
    }
    if (!json_is_integer(prio)) {
        FAIL(DRV_ERR_INVALID, "priority is required (an integer; higher "
                              "runs first)");
    }
    if (json_integer_value(prio) < 0 ||
        json_integer_value(prio) > DRV_QUEUE_PRIORITY_MAX) {
        FAIL(DRV_ERR_INVALID, "priority must be 0 to %d",
             DRV_QUEUE_PRIORITY_MAX);
    }
    if (state && strcmp(state, "ENABLED") && strcmp(state, "DISABLED")) {
        FAIL(DRV_ERR_INVALID, "state must be ENABLED or DISABLED");
    }
    if (check_time_limits(client, req, errstr, errstr_size) != 0) {
        *err = DRV_ERR_INVALID;
        goto out;
    }
    if (!(order = ce_order(req, err, errstr, errstr_size))) {
        goto out;
    }
    /* a fair-share queue from its creation on (AWS: a FIFO queue never
     * gains a policy) */
    const char *sp = json_string_value(json_object_get(req,
                                                       "schedulingPolicyArn"));
    char policy[300];
    drv_arn_name(sp ? sp : "", policy, sizeof(policy));
    json_t *stored = json_deep_copy(req);
    json_object_del(stored, "schedulingPolicyArn"); /* the column's */
    spec = json_dumps(stored, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(stored);
    snprintf(pr, sizeof(pr), "%d", (int)json_integer_value(prio));
    snprintf(now, sizeof(now), "%" PRId64, drv_now_ms());
    const char *p[] = {name, state ? state : "ENABLED", pr, spec, now,
                       sp ? policy : NULL};
    drv_pg_res_t *r = NULL;
    if (drv_pg_begin(pg, errstr, errstr_size) != 0 ||
        drv_pg_exec(pg,
                    "INSERT INTO job_queues (name, state, priority, spec, "
                    "created_at, scheduling_policy) VALUES ($1, $2, $3::int, "
                    "$4::jsonb, $5::bigint, $6)",
                    6, p, errstr, errstr_size) != 0 ||
        !(r = drv_pg_query(pg,
                           "INSERT INTO job_queue_compute_environments "
                           "SELECT $1, (x->>'ord')::int, x->>'ce' FROM "
                           "jsonb_array_elements($2::jsonb) x",
                           2, (const char *[]){name, order}, errstr,
                           errstr_size)) ||
        drv_pg_commit(pg, errstr, errstr_size) != 0) {
        *err = drv_pg_last_err(pg);
        drv__explain_constraint(pg, "job queue", name, policy, errstr,
                                errstr_size);
        drv_pg_res_free(r);
        drv_pg_rollback(pg);
        goto out;
    }
    drv_pg_res_free(r);
    if (ensure_topic(client, DRV_TOPIC_SUBMIT_PREFIX, name, err, errstr,
                     errstr_size) != 0) {
        goto out;
    }
    drv__client_arn(client, arn, sizeof(arn), "job-queue", name);
    resp = json_pack("{s:s,s:s}", "jobQueueName", name, "jobQueueArn", arn);
out:
    free(spec);
    free(order);
    return resp;
}

static json_t *op_update_job_queue(drv_client_t *client, json_t *req,
                                   drv_err_t *err, char *errstr,
                                   size_t errstr_size)
{
    const char *ref = json_string_value(json_object_get(req, "jobQueue"));
    const char *state = json_string_value(json_object_get(req, "state"));
    json_t *prio = json_object_get(req, "priority");
    char name[300], pr[16], arn[512], *order = NULL, *acts = NULL;
    json_t *resp = NULL;
    drv_pg_t *pg = drv__client_pg(client, err, errstr, errstr_size);
    if (!pg) {
        return NULL;
    }
    if (!ref) {
        FAIL(DRV_ERR_INVALID, "jobQueue is required");
    }
    if (state && strcmp(state, "ENABLED") && strcmp(state, "DISABLED")) {
        FAIL(DRV_ERR_INVALID, "state must be ENABLED or DISABLED");
    }
    if (prio && (!json_is_integer(prio) || json_integer_value(prio) < 0 ||
                 json_integer_value(prio) > DRV_QUEUE_PRIORITY_MAX)) {
        FAIL(DRV_ERR_INVALID, "priority must be an integer, 0 to %d",
             DRV_QUEUE_PRIORITY_MAX);
    }
    if (check_time_limits(client, req, errstr, errstr_size) != 0) {
        *err = DRV_ERR_INVALID;
        goto out;
    }
    if (json_object_get(req, "computeEnvironmentOrder") &&
        !(order = ce_order(req, err, errstr, errstr_size))) {
        goto out;
    }
    drv_arn_name(ref, name, sizeof(name));
    snprintf(pr, sizeof(pr), "%d", (int)json_integer_value(prio));
    json_t *tla = json_object_get(req, "jobStateTimeLimitActions");
    acts = tla ? json_dumps(tla, JSON_COMPACT) : NULL;
    /* a fair-share queue's policy is replaced, never removed; a FIFO
     * queue never gains one (AWS) */
    const char *sp = json_string_value(json_object_get(req,
                                                       "schedulingPolicyArn"));
    char policy[300];
    drv_arn_name(sp ? sp : "", policy, sizeof(policy));
    const char *p[] = {name, state, prio ? pr : NULL, acts, sp ? policy : NULL};
    drv_pg_res_t *r = NULL;
    *err = DRV_ERR_TRANSIENT;
    if (drv_pg_begin(pg, errstr, errstr_size) != 0 ||
        !(r = drv_pg_query(pg,
                           "UPDATE job_queues SET state = COALESCE($2, state), "
                           "priority = COALESCE($3::int, priority), spec = "
                           "CASE WHEN $4::jsonb IS NULL THEN spec ELSE "
                           "jsonb_set(spec, '{jobStateTimeLimitActions}', "
                           "$4::jsonb) END, scheduling_policy = COALESCE($5, "
                           "scheduling_policy) WHERE name = $1 AND status <> "
                           "'DELETING' AND ($5::text IS NULL OR "
                           "scheduling_policy IS NOT NULL) RETURNING name",
                           5, p, errstr, errstr_size)) ||
        (drv_pg_res_rows(r) == 1 && order &&
         (drv_pg_exec(pg,
                      "DELETE FROM job_queue_compute_environments WHERE "
                      "queue = $1",
                      1, p, errstr, errstr_size) != 0 ||
          /* its own parameters: $2 and $3 unused here would leave
           * PostgreSQL unable to type them (every such update was a 500) */
          drv_pg_exec(pg,
                      "INSERT INTO job_queue_compute_environments SELECT "
                      "$1::text, (x->>'ord')::int, x->>'ce' FROM "
                      "jsonb_array_elements($2::jsonb) x",
                      2, (const char *[]){name, order}, errstr,
                      errstr_size) != 0)) ||
        drv_pg_commit(pg, errstr, errstr_size) != 0) {
        *err = drv_pg_last_err(pg);
        drv__explain_constraint(pg, "job queue", name, policy, errstr,
                                errstr_size);
        drv_pg_res_free(r);
        drv_pg_rollback(pg);
        goto out;
    }
    if (drv_pg_res_rows(r) == 0) {
        drv_pg_res_free(r);
        if (sp) { /* exists, but a FIFO queue? */
            drv_pg_res_t *f = drv_pg_query(
                pg,
                "SELECT 1 FROM job_queues WHERE name = $1 AND status <> "
                "'DELETING'",
                1, p, errstr, errstr_size);
            int fifo = f ? drv_pg_res_rows(f) : 0;
            drv_pg_res_free(f);
            if (fifo) {
                FAIL(DRV_ERR_INVALID,
                     "job queue %s is a FIFO queue: a scheduling policy can "
                     "only be given when a job queue is created",
                     name);
            }
        }
        FAIL(DRV_ERR_NOTFOUND, "JobQueue %s does not exist", name);
    }
    drv_pg_res_free(r);
    drv__client_arn(client, arn, sizeof(arn), "job-queue", name);
    resp = json_pack("{s:s,s:s}", "jobQueueName", name, "jobQueueArn", arn);
out:
    free(order);
    free(acts);
    return resp;
}

/* Describe queues or CEs: `sql` returns (name, spec, state, extra json). */
static json_t *describe_resources(drv_client_t *client, json_t *req,
                                  const char *filter_key, const char *sql,
                                  const char *kind, const char *list_key,
                                  const char *name_key, drv_err_t *err,
                                  char *errstr, size_t errstr_size)
{
    int limit;
    char after[300];
    drv_pg_t *pg = drv__client_pg(client, err, errstr, errstr_size);
    if (!pg) {
        return NULL;
    }
    if (drv__page(req, 100, 100, &limit, after, sizeof(after), errstr,
                  errstr_size) != 0) {
        *err = DRV_ERR_INVALID;
        return NULL;
    }
    char *names_s = name_list(req, filter_key), lim[16];
    snprintf(lim, sizeof(lim), "%d", limit + 1);
    const char *p[] = {names_s, lim, after[0] ? after : NULL};
    drv_pg_res_t *r = drv_pg_query(pg, sql, 3, p, errstr, errstr_size);
    free(names_s);
    if (!r) {
        *err = drv_pg_last_err(pg);
        return NULL;
    }
    json_t *list = json_array();
    for (int row = 0; row < drv_pg_res_rows(r) && row < limit; row++) {
        char arn[512], key[64];
        json_t *d = drv_pg_res_json(r, row, 1);
        json_t *extra = drv_pg_res_json(r, row, 3);
        drv__client_arn(client, arn, sizeof(arn), kind,
                        drv_pg_res_get(r, row, 0));
        snprintf(key, sizeof(key), "%sArn", name_key);
        json_object_set_new(d, key, json_string(arn));
        json_object_set_new(d, "state", json_string(drv_pg_res_get(r, row, 2)));
        json_object_set_new(d, "status", json_string("VALID"));
        json_object_set_new(d, "statusReason",
                            json_string(!strcmp(kind, "job-queue")
                                            ? "JobQueue Healthy"
                                            : "ComputeEnvironment Healthy"));
        json_object_update(d, extra);
        json_decref(extra);
        json_array_append_new(list, d);
    }
    json_t *resp = json_pack("{s:o}", list_key, list);
    drv__next_token(resp, drv_pg_res_rows(r), limit,
                    drv_pg_res_rows(r) > limit
                        ? drv_pg_res_get(r, limit - 1, 0)
                        : NULL);
    drv_pg_res_free(r);
    return resp;
}

static json_t *op_describe_job_queues(drv_client_t *client, json_t *req,
                                      drv_err_t *err, char *errstr,
                                      size_t errstr_size)
{
    json_t *resp = describe_resources(
        client, req, "jobQueues",
        "SELECT q.name, q.spec, q.state, jsonb_build_object('priority', "
        "q.priority, 'status', q.status, 'statusReason', CASE q.status WHEN "
        "'DELETING' THEN 'JobQueue is being deleted: its jobs are being "
        "terminated' ELSE 'JobQueue Healthy' END, 'computeEnvironmentOrder', "
        "COALESCE((SELECT jsonb_agg(jsonb_build_object('order', ord, "
        "'computeEnvironment', compute_environment) ORDER BY ord) FROM "
        "job_queue_compute_environments WHERE queue = q.name), '[]'), "
        "'schedulingPolicyArn', q.scheduling_policy) FROM "
        "job_queues q WHERE (jsonb_array_length($1::jsonb) = 0 OR q.name IN "
        "(SELECT jsonb_array_elements_text($1::jsonb))) AND ($3::text IS "
        "NULL OR q.name > $3) ORDER BY q.name LIMIT $2::int",
        "job-queue", "jobQueues", "jobQueue", err, errstr, errstr_size);
    size_t i, k;
    json_t *q, *o;
    /* compute environments appear as ARNs, as AWS shows them */
    json_array_foreach(json_object_get(resp, "jobQueues"), i, q)
    {
        const char *sp = json_string_value(json_object_get(
            q, "schedulingPolicyArn"));
        if (sp) {
            char arn[512];
            drv__client_arn(client, arn, sizeof(arn), "scheduling-policy", sp);
            json_object_set_new(q, "schedulingPolicyArn", json_string(arn));
        } else {
            json_object_del(q, "schedulingPolicyArn");
        }
        json_array_foreach(json_object_get(q, "computeEnvironmentOrder"), k, o)
        {
            char arn[512];
            drv__client_arn(client, arn, sizeof(arn), "compute-environment",
                            json_string_value(json_object_get(
                                o, "computeEnvironment")));
            json_object_set_new(o, "computeEnvironment", json_string(arn));
        }
    }
    return resp;
}

static json_t *op_describe_compute_environments(drv_client_t *client,
                                                json_t *req, drv_err_t *err,
                                                char *errstr,
                                                size_t errstr_size)
{
    json_t *resp = describe_resources(
        client, req, "computeEnvironments",
        /* Drover's `capacity`: its live workers' offer, and what the
         * jobs released to it hold (the console's dashboard); a MANAGED
         * one's vCPU figures as the provisioner keeps them (_cr, moved
         * into computeResources below), INVALID while its workers cannot
         * be provisioned */
        "SELECT c.name, c.spec, c.state, jsonb_build_object('capacity', "
        "jsonb_build_object('workers', w.n, 'vcpus', w.v, 'memoryMiB', w.m, "
        "'vcpusInUse', h.v, 'memoryMiBInUse', h.m)) || CASE WHEN c.type = "
        "'MANAGED' THEN jsonb_build_object('_cr', jsonb_build_object("
        "'minvCpus', c.min_vcpus::bigint, 'maxvCpus', c.max_vcpus::bigint, "
        "'desiredvCpus', COALESCE(c.desired_vcpus, c.min_vcpus)::bigint)) "
        "ELSE '{}' END || CASE WHEN c.provision_error IS NOT NULL THEN "
        "jsonb_build_object('status', 'INVALID', 'statusReason', "
        "c.provision_error) ELSE '{}' END FROM "
        "compute_environments c, LATERAL (SELECT count(*) n, "
        "COALESCE(sum(vcpus_total), 0) v, COALESCE(sum(memory_total_mib), 0) "
        "m FROM workers WHERE compute_environment = c.name AND NOT lost) w, "
        "LATERAL (SELECT COALESCE(sum(vcpus), 0) v, COALESCE(sum("
        "memory_mib), 0) m FROM jobs WHERE released AND compute_environment "
        "= c.name) h WHERE (jsonb_array_length($1::jsonb) = 0 OR c.name IN "
        "(SELECT jsonb_array_elements_text($1::jsonb))) AND ($3::text IS "
        "NULL OR c.name > $3) ORDER BY c.name LIMIT $2::int",
        "compute-environment", "computeEnvironments", "computeEnvironment",
        err, errstr, errstr_size);
    size_t i;
    json_t *ce;
    json_array_foreach(json_object_get(resp, "computeEnvironments"), i, ce)
    {
        json_t *cr = json_object_get(ce, "_cr");
        json_t *have = json_object_get(ce, "computeResources");
        if (cr && json_is_object(have)) {
            json_object_update(have, cr);
        }
        json_object_del(ce, "_cr");
    }
    return resp;
}

/* ---- dispatch -------------------------------------------------------------- */

static const struct op {
    const char *name;
    drv__op_fn *fn;
} ops[] = {
    {"SubmitJob", drv__op_submit_job},
    {"DescribeJobs", drv__op_describe_jobs},
    {"ListJobs", drv__op_list_jobs},
    {"CancelJob", drv__op_cancel_job},
    {"TerminateJob", drv__op_terminate_job},
    {"RegisterJobDefinition", op_register_job_definition},
    {"DescribeJobDefinitions", op_describe_job_definitions},
    {"DeregisterJobDefinition", op_deregister_job_definition},
    {"CreateComputeEnvironment", op_create_compute_environment},
    {"DescribeComputeEnvironments", op_describe_compute_environments},
    {"CreateJobQueue", op_create_job_queue},
    {"UpdateJobQueue", op_update_job_queue},
    {"DescribeJobQueues", op_describe_job_queues},
    {"DeleteJobQueue", drv__op_delete_job_queue},
    {"UpdateComputeEnvironment", drv__op_update_compute_environment},
    {"DeleteComputeEnvironment", drv__op_delete_compute_environment},
    {"TagResource", drv__op_tag_resource},
    {"UntagResource", drv__op_untag_resource},
    {"ListTagsForResource", drv__op_list_tags_for_resource},
    {"CreateSchedulingPolicy", drv__op_create_scheduling_policy},
    {"DescribeSchedulingPolicies", drv__op_describe_scheduling_policies},
    {"ListSchedulingPolicies", drv__op_list_scheduling_policies},
    {"UpdateSchedulingPolicy", drv__op_update_scheduling_policy},
    {"DeleteSchedulingPolicy", drv__op_delete_scheduling_policy},
    {"GetJobQueueSnapshot", drv__op_get_job_queue_snapshot},
    {"CreateConsumableResource", drv__op_create_consumable_resource},
    {"DescribeConsumableResource", drv__op_describe_consumable_resource},
    {"ListConsumableResources", drv__op_list_consumable_resources},
    {"UpdateConsumableResource", drv__op_update_consumable_resource},
    {"DeleteConsumableResource", drv__op_delete_consumable_resource},
    {"ListJobsByConsumableResource",
     drv__op_list_jobs_by_consumable_resource},
    {"GetLogEvents", drv__op_get_log_events},
    {"FilterLogEvents", drv__op_filter_log_events},
    {"DescribeLogStreams", drv__op_describe_log_streams},
};

bool drv_client_serves(const char *operation)
{
    for (size_t i = 0; i < DRV_ARRAY_SIZE(ops); i++) {
        if (!strcmp(ops[i].name, operation)) {
            return true;
        }
    }
    return false;
}

/* Whether j nests deeper than `limit` levels ({} and [] are 1, a scalar
 * 0). The walk stops at the limit, so its recursion is bounded by it. */
static bool deeper_than(json_t *j, int limit)
{
    if (!json_is_object(j) && !json_is_array(j)) {
        return false;
    }
    if (limit <= 0) {
        return true;
    }
    const char *k;
    json_t *v;
    size_t i;
    if (json_is_object(j)) {
        json_object_foreach(j, k, v)
        {
            if (deeper_than(v, limit - 1)) {
                return true;
            }
        }
    } else {
        json_array_foreach(j, i, v)
        {
            if (deeper_than(v, limit - 1)) {
                return true;
            }
        }
    }
    return false;
}

int drv__request_check(json_t *req, char *errstr, size_t errstr_size)
{
    if (!json_is_object(req)) {
        drv_errstr_set(errstr, errstr_size, "the request must be an object");
        return -1;
    }
    if (deeper_than(req, DRV_CLIENT_DEPTH_MAX)) {
        drv_errstr_set(errstr, errstr_size,
                       "the request is nested deeper than %d levels",
                       DRV_CLIENT_DEPTH_MAX);
        return -1;
    }
    return 0;
}

bool drv__reply_fits(size_t *used, const json_t *item, char *errstr,
                     size_t errstr_size)
{
    /* json_dumpb with no buffer measures without allocating */
    size_t n = json_dumpb(item, NULL, 0, JSON_COMPACT);
    *used += n ? n : DRV_CLIENT_REPLY_MAX;
    if (*used > DRV_CLIENT_REPLY_MAX) {
        drv_errstr_set(errstr, errstr_size,
                       "the reply would exceed %u MiB: ask for fewer items "
                       "at a time",
                       DRV_CLIENT_REPLY_MAX / (1024 * 1024));
        return false;
    }
    return true;
}

/*
 * The members that name a Batch resource by name or ARN ("list[]" a list
 * of them, "list[].member" a member of each item): an ARN there must be
 * one of this Drover's (its region and account) and of the kind the
 * member takes. resourceArn (kind NULL) must be an ARN of any kind.
 */
static const struct arn_member {
    const char *op, *path, *kind;
} arn_members[] = {
    {"SubmitJob", "jobQueue", "job-queue"},
    {"SubmitJob", "jobDefinition", "job-definition"},
    {"ListJobs", "jobQueue", "job-queue"},
    {"CreateJobQueue", "computeEnvironmentOrder[].computeEnvironment",
     "compute-environment"},
    {"UpdateJobQueue", "jobQueue", "job-queue"},
    {"UpdateJobQueue", "computeEnvironmentOrder[].computeEnvironment",
     "compute-environment"},
    {"DescribeJobQueues", "jobQueues[]", "job-queue"},
    {"DeleteJobQueue", "jobQueue", "job-queue"},
    {"DescribeComputeEnvironments", "computeEnvironments[]",
     "compute-environment"},
    {"UpdateComputeEnvironment", "computeEnvironment", "compute-environment"},
    {"DeleteComputeEnvironment", "computeEnvironment", "compute-environment"},
    {"DescribeJobDefinitions", "jobDefinitions[]", "job-definition"},
    {"DeregisterJobDefinition", "jobDefinition", "job-definition"},
    {"CreateJobQueue", "schedulingPolicyArn", "scheduling-policy"},
    {"UpdateJobQueue", "schedulingPolicyArn", "scheduling-policy"},
    {"DescribeSchedulingPolicies", "arns[]", "scheduling-policy"},
    {"UpdateSchedulingPolicy", "arn", "scheduling-policy"},
    {"DeleteSchedulingPolicy", "arn", "scheduling-policy"},
    {"GetJobQueueSnapshot", "jobQueue", "job-queue"},
    {"DescribeConsumableResource", "consumableResource",
     "consumable-resource"},
    {"UpdateConsumableResource", "consumableResource", "consumable-resource"},
    {"DeleteConsumableResource", "consumableResource", "consumable-resource"},
    {"ListJobsByConsumableResource", "consumableResource",
     "consumable-resource"},
    {"RegisterJobDefinition",
     "consumableResourceProperties.consumableResourceList[]."
     "consumableResource",
     "consumable-resource"},
    {"SubmitJob",
     "consumableResourcePropertiesOverride.consumableResourceList[]."
     "consumableResource",
     "consumable-resource"},
    {"TagResource", "resourceArn", NULL},
    {"UntagResource", "resourceArn", NULL},
    {"ListTagsForResource", "resourceArn", NULL},
};

static int check_arn(const drv_client_t *client, const char *member,
                     json_t *v, const char *kind, char *errstr,
                     size_t errstr_size)
{
    const char *s = json_string_value(v);
    char k[64], name[300], why[DRV_ERRSTR_SIZE];
    if (!s || (kind && !drv_str_has_prefix(s, "arn:"))) {
        return 0; /* a name, or not given */
    }
    if (drv_arn_parse(s, client->region, client->account, k, sizeof(k), name,
                      sizeof(name), why, sizeof(why)) != 0) {
        drv_errstr_set(errstr, errstr_size, "%s: %s", member, why);
        return -1;
    }
    if (kind && strcmp(k, kind)) {
        drv_errstr_set(errstr, errstr_size, "%s: %s is the ARN of a %s, not "
                                            "of a %s",
                       member, s, k, kind);
        return -1;
    }
    return 0;
}

static int check_arns(const drv_client_t *client, const char *operation,
                      json_t *req, char *errstr, size_t errstr_size)
{
    for (size_t i = 0; i < DRV_ARRAY_SIZE(arn_members); i++) {
        const struct arn_member *m = &arn_members[i];
        if (strcmp(m->op, operation)) {
            continue;
        }
        const char *br = strstr(m->path, "[]");
        if (!br) {
            if (check_arn(client, m->path, json_object_get(req, m->path),
                          m->kind, errstr, errstr_size) != 0) {
                return -1;
            }
            continue;
        }
        /* the list may sit in an object: "object.list[].member" */
        char list[128];
        snprintf(list, sizeof(list), "%.*s", (int)(br - m->path), m->path);
        const char *sub = br[2] == '.' ? br + 3 : NULL;
        char *dot = strchr(list, '.');
        json_t *in = req;
        if (dot) {
            *dot = '\0';
            in = json_object_get(req, list);
            memmove(list, dot + 1, strlen(dot + 1) + 1);
        }
        size_t k;
        json_t *v;
        json_array_foreach(json_object_get(in, list), k, v)
        {
            if (check_arn(client, m->path, sub ? json_object_get(v, sub) : v,
                          m->kind, errstr, errstr_size) != 0) {
                return -1;
            }
        }
    }
    return 0;
}

json_t *drv_client_call(drv_client_t *client, const char *operation,
                        json_t *request, drv_err_t *err_out, char *errstr,
                        size_t errstr_size)
{
    drv_err_t err = DRV_ERR_INVALID;
    json_t *resp = NULL;
    const drv_model_op_t *mop = drv_model_op(operation);
    if (!mop) {
        drv_errstr_set(errstr, errstr_size, "unknown operation %s", operation);
        goto out;
    }
    /* an operation Drover does not serve says so before anything else:
     * no caller fixes a request only to learn that */
    size_t served = 0;
    while (served < DRV_ARRAY_SIZE(ops) && strcmp(ops[served].name, operation)) {
        served++;
    }
    if (served < DRV_ARRAY_SIZE(ops) &&
        (drv__request_check(request, errstr, errstr_size) != 0 ||
         drv_model_check_request(mop, request, errstr, errstr_size) != 0 ||
         check_arns(client, operation, request, errstr, errstr_size) != 0)) {
        goto out;
    }
    for (size_t i = served; i < DRV_ARRAY_SIZE(ops); i++) {
        if (!strcmp(ops[i].name, operation)) {
            err = DRV_ERR_FATAL;
            json_t *raw = ops[i].fn(client, request, &err, errstr, errstr_size);
            if (!raw) {
                goto out;
            }
            /* the reply as the model has it; anything dropped is a bug */
            int dropped = 0;
            char why[DRV_ERRSTR_SIZE] = "";
            resp = drv_model_serialize(mop, raw, &dropped, why, sizeof(why));
            json_decref(raw);
            if (dropped) {
                drv_log(client->log, DRV_LOG_ERROR, "client.model", NULL,
                        "%s: %d member(s) of the reply do not fit the AWS "
                        "model and were left out; the first: %s",
                        operation, dropped, why);
            }
            size_t used = 0;
            if (!drv__reply_fits(&used, resp, errstr, errstr_size)) {
                json_decref(resp);
                resp = NULL;
                err = DRV_ERR_INVALID;
            }
            goto out;
        }
    }
    drv_errstr_set(errstr, errstr_size, "%s is not supported by Drover",
                   operation);
out:
    if (err_out) {
        *err_out = resp ? DRV_OK : err;
    }
    return resp;
}
