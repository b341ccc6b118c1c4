/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The rest of AWS Batch's control plane: DeleteJobQueue,
 * UpdateComputeEnvironment, DeleteComputeEnvironment, and tags
 * (TagResource, UntagResource, ListTagsForResource). Rules and messages as
 * AWS Batch: a queue or compute environment is deleted only once DISABLED,
 * and a compute environment only when no queue uses it.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client_int.h"
#include "drover/job.h"
#include "drover/limits.h"
#include "drover/util.h"

/* One statement; NULL result on a database error with *err set. */
static drv_pg_res_t *query(drv_pg_t *pg, const char *sql, int n,
                           const char *const *p, drv_err_t *err, char *errstr,
                           size_t errstr_size)
{
    drv_pg_res_t *r = drv_pg_query(pg, sql, n, p, errstr, errstr_size);
    if (!r) {
        *err = drv_pg_last_err(pg);
    }
    return r;
}

/* What deleting a queue or a compute environment looks at: the request
 * field naming it, its kind in messages, a lookup of its state (and, for
 * an environment, a queue still using it) and the DELETE. */
typedef struct deletion {
    const char *field, *kind, *what;
    const char *lookup_sql, *delete_sql;
} deletion_t;

/* a queue goes DELETING: the dispatcher terminates its jobs, then removes
 * it (dispatcher/control.c), as AWS does */
static const deletion_t delete_queue = {
    "jobQueue", "JobQueue", "job queue",
    "SELECT state, NULL FROM job_queues WHERE name = $1 AND status <> "
    "'DELETING'",
    "UPDATE job_queues SET status = 'DELETING' WHERE name = $1"};
static const deletion_t delete_ce = {
    "computeEnvironment", "ComputeEnvironment", "compute environment",
    "SELECT c.state, (SELECT min(queue) FROM job_queue_compute_environments "
    "q WHERE q.compute_environment = c.name) FROM compute_environments c "
    "WHERE c.name = $1",
    "WITH t AS (DELETE FROM resource_tags WHERE arn = "
    "'compute-environment/' || $1) DELETE FROM compute_environments WHERE "
    "name = $1"};

/* Delete what the request names, as AWS does: it must exist and be
 * DISABLED, and no queue may use an environment. */
static json_t *delete_disabled(drv_client_t *client, json_t *req,
                               const deletion_t *del, drv_err_t *err,
                               char *errstr, size_t errstr_size)
{
    const char *ref = json_string_value(json_object_get(req, del->field));
    char name[300];
    json_t *resp = NULL;
    drv_pg_res_t *r = NULL;
    drv_pg_t *pg = drv__client_pg(client, err, errstr, errstr_size);
    if (!pg) {
        return NULL;
    }
    if (!ref) {
        FAIL(DRV_ERR_INVALID, "%s is required", del->field);
    }
    drv_arn_name(ref, name, sizeof(name));
    const char *p[] = {name};
    if (!(r = query(pg, del->lookup_sql, 1, p, err, errstr, errstr_size))) {
        goto out;
    }
    if (drv_pg_res_rows(r) == 0) {
        FAIL(DRV_ERR_NOTFOUND, "%s %s does not exist", del->kind, name);
    }
    if (strcmp(drv_pg_res_get(r, 0, 0), "DISABLED") != 0) {
        FAIL(DRV_ERR_INVALID, "Cannot delete %s %s: it must be DISABLED first",
             del->what, name);
    }
    if (drv_pg_res_get(r, 0, 1)) {
        FAIL(DRV_ERR_INVALID,
             "Cannot delete, found existing JobQueue relationship (%s)",
             drv_pg_res_get(r, 0, 1));
    }
    if (drv_pg_exec(pg, del->delete_sql, 1, p, errstr, errstr_size) != 0) {
        *err = drv_pg_last_err(pg);
        goto out;
    }
    resp = json_object();
out:
    drv_pg_res_free(r);
    return resp;
}

json_t *drv__op_delete_job_queue(drv_client_t *client, json_t *req,
                                 drv_err_t *err, char *errstr,
                                 size_t errstr_size)
{
    return delete_disabled(client, req, &delete_queue, err, errstr,
                           errstr_size);
}

int drv__provisioner_tag_check(json_t *tags, char *errstr,
                               size_t errstr_size)
{
    static const char *const names[] = {"process", "container", "kubernetes",
                                        "external"};
    json_t *v = json_object_get(tags, "drover:provisioner");
    const char *s = json_string_value(v);
    for (size_t i = 0; s && i < DRV_ARRAY_SIZE(names); i++) {
        if (!strcmp(s, names[i])) {
            return 0;
        }
    }
    if (!v) {
        return 0;
    }
    drv_errstr_set(errstr, errstr_size,
                   "tags.drover:provisioner must be process, container, "
                   "kubernetes or external");
    return -1;
}

/* A vCPU member: absent (*out left), or a whole number 0..max. */
static int vcpus_member(json_t *cr, const char *k, double *out, char *errstr,
                        size_t errstr_size)
{
    json_t *v = json_object_get(cr, k);
    if (!v) {
        return 0;
    }
    if (!json_is_integer(v) || json_integer_value(v) < 0 ||
        json_integer_value(v) > DRV_CE_VCPUS_MAX) {
        drv_errstr_set(errstr, errstr_size,
                       "computeResources.%s must be a whole number of vCPUs, "
                       "0 to %d",
                       k, DRV_CE_VCPUS_MAX);
        return -1;
    }
    *out = (double)json_integer_value(v);
    return 0;
}

int drv__managed_vcpus_check(json_t *cr, double cur_min, double cur_max,
                             double cur_desired, char *errstr,
                             size_t errstr_size)
{
    bool creating = cur_max < 0;
    double mn = creating ? 0 : cur_min, mx = cur_max, dv = -1;
    if (vcpus_member(cr, "minvCpus", &mn, errstr, errstr_size) != 0 ||
        vcpus_member(cr, "maxvCpus", &mx, errstr, errstr_size) != 0 ||
        vcpus_member(cr, "desiredvCpus", &dv, errstr, errstr_size) != 0) {
        return -1;
    }
    if (mx < 1) {
        drv_errstr_set(errstr, errstr_size,
                       "computeResources.maxvCpus is required: a whole "
                       "number of vCPUs, at least 1");
        return -1;
    }
    if (mn > mx) {
        drv_errstr_set(errstr, errstr_size,
                       "computeResources.minvCpus (%g) must not be more than "
                       "maxvCpus (%g)",
                       mn, mx);
        return -1;
    }
    if (dv >= 0 && (dv < mn || dv > mx)) {
        drv_errstr_set(errstr, errstr_size,
                       "computeResources.desiredvCpus (%g) must be between "
                       "minvCpus (%g) and maxvCpus (%g)",
                       dv, mn, mx);
        return -1;
    }
    if (dv >= 0 && !creating && dv < cur_desired) {
        drv_errstr_set(errstr, errstr_size,
                       "Manually scaling down compute environment is not "
                       "supported. Disconnecting job queues from compute "
                       "environment will cause it to scale-down to "
                       "minvCpus");
        return -1;
    }
    json_t *types = json_object_get(cr, "instanceTypes");
    size_t i;
    json_t *t;
    if (types && (!json_is_array(types) ||
                  json_array_size(types) > DRV_INSTANCE_TYPES_MAX)) {
        drv_errstr_set(errstr, errstr_size,
                       "computeResources.instanceTypes must be a list of at "
                       "most %d names",
                       DRV_INSTANCE_TYPES_MAX);
        return -1;
    }
    json_array_foreach(types, i, t)
    {
        if (!json_is_string(t) || json_string_length(t) == 0 ||
            json_string_length(t) > 64) {
            drv_errstr_set(errstr, errstr_size,
                           "computeResources.instanceTypes[%zu] must be a "
                           "name of 1 to 64 characters",
                           i);
            return -1;
        }
    }
    return 0;
}

json_t *drv__op_update_compute_environment(drv_client_t *client, json_t *req,
                                           drv_err_t *err, char *errstr,
                                           size_t errstr_size)
{
    const char *ref = json_string_value(json_object_get(req,
                                                        "computeEnvironment"));
    const char *state = json_string_value(json_object_get(req, "state"));
    json_t *cr = json_object_get(req, "computeResources");
    json_t *mv = json_object_get(cr, "maxvCpus");
    json_t *uv = json_object_get(req, "unmanagedvCpus");
    char name[300], mvs[32], arn[512];
    char *top_s = NULL, *cr_s = NULL;
    json_t *resp = NULL;
    drv_pg_res_t *r = NULL;
    drv_pg_t *pg = drv__client_pg(client, err, errstr, errstr_size);
    if (!pg) {
        return NULL;
    }
    if (!ref) {
        FAIL(DRV_ERR_INVALID, "computeEnvironment is required");
    }
    if (mv && uv) {
        FAIL(DRV_ERR_INVALID, "give unmanagedvCpus or computeResources."
                              "maxvCpus, not both");
    }
    if (!mv) {
        mv = uv;
    }
    if (mv && json_integer_value(mv) <= 0) {
        FAIL(DRV_ERR_INVALID, "%s must be a positive number of vCPUs",
             uv ? "unmanagedvCpus" : "computeResources.maxvCpus");
    }
    drv_arn_name(ref, name, sizeof(name));
    /* an UNMANAGED environment's capacity is its workers' (and the budget
     * Drover keeps in maxvCpus): AWS's instance settings mean nothing
     * there, so they are refused, not stored and ignored */
    const char *tp[] = {name};
    if (!(r = query(pg,
                    "SELECT type, min_vcpus, COALESCE(max_vcpus, 0), "
                    "COALESCE(desired_vcpus, desired_floor, min_vcpus) FROM "
                    "compute_environments WHERE name = $1",
                    1, tp, err, errstr, errstr_size))) {
        goto out;
    }
    if (drv_pg_res_rows(r) == 0) {
        FAIL(DRV_ERR_NOTFOUND, "ComputeEnvironment %s does not exist", name);
    }
    if (!strcmp(drv_pg_res_get(r, 0, 0), "UNMANAGED")) {
        const char *k;
        json_t *v;
        json_object_foreach(cr, k, v)
        {
            if (strcmp(k, "maxvCpus")) {
                FAIL(DRV_ERR_INVALID,
                     "computeResources.%s applies to MANAGED compute "
                     "environments; %s is UNMANAGED",
                     k, name);
            }
        }
    }
    bool managed = !strcmp(drv_pg_res_get(r, 0, 0), "MANAGED");
    if (managed &&
        drv__managed_vcpus_check(cr, strtod(drv_pg_res_get(r, 0, 1), NULL),
                                 strtod(drv_pg_res_get(r, 0, 2), NULL),
                                 strtod(drv_pg_res_get(r, 0, 3), NULL),
                                 errstr, errstr_size) != 0) {
        *err = DRV_ERR_INVALID;
        goto out;
    }
    drv_pg_res_free(r);
    r = NULL;
    /* what the environment shows from now on: the members given, merged
     * into its spec (describe returns them); the budget and state apply */
    json_t *top = json_object();
    if (uv) {
        json_object_set(top, "unmanagedvCpus", uv);
    }
    if (json_object_get(req, "serviceRole")) {
        json_object_set(top, "serviceRole", json_object_get(req,
                                                            "serviceRole"));
    }
    top_s = json_dumps(top, JSON_COMPACT);
    json_decref(top);
    cr_s = cr ? json_dumps(cr, JSON_COMPACT) : NULL;
    snprintf(mvs, sizeof(mvs), "%" JSON_INTEGER_FORMAT, json_integer_value(mv));
    char mns[32], dvs[32], now[24];
    json_t *mn = json_object_get(cr, "minvCpus");
    json_t *dv = json_object_get(cr, "desiredvCpus");
    snprintf(mns, sizeof(mns), "%" JSON_INTEGER_FORMAT, json_integer_value(mn));
    snprintf(dvs, sizeof(dvs), "%" JSON_INTEGER_FORMAT, json_integer_value(dv));
    snprintf(now, sizeof(now), "%" PRId64, drv_now_ms());
    /* desiredvCpus is a floor the provisioner keeps for one idle period
     * (AWS: Batch then moves it with the queues' demand) */
    const char *p[] = {name, state, mv ? mvs : NULL, top_s, cr_s,
                       mn ? mns : NULL, dv ? dvs : NULL, now};
    if (!(r = query(pg,
                    "UPDATE compute_environments SET state = COALESCE($2, "
                    "state), max_vcpus = COALESCE($3::float8, max_vcpus), "
                    "min_vcpus = COALESCE($6::float8, min_vcpus), "
                    "desired_floor = COALESCE($7::float8, desired_floor), "
                    "desired_floor_at = CASE WHEN $7 IS NOT NULL THEN "
                    "$8::bigint ELSE desired_floor_at END, "
                    "spec = spec || $4::jsonb || CASE WHEN $5::jsonb IS NULL "
                    "THEN '{}'::jsonb ELSE jsonb_build_object("
                    "'computeResources', COALESCE(spec->'computeResources', "
                    "'{}'::jsonb) || $5::jsonb) END WHERE name = $1 "
                    "RETURNING name",
                    8, p, err, errstr, errstr_size))) {
        goto out;
    }
    if (drv_pg_res_rows(r) == 0) {
        FAIL(DRV_ERR_NOTFOUND, "ComputeEnvironment %s does not exist", name);
    }
    drv__client_arn(client, arn, sizeof(arn), "compute-environment", name);
    resp = json_pack("{s:s,s:s}", "computeEnvironmentName", name,
                     "computeEnvironmentArn", arn);
out:
    free(top_s);
    free(cr_s);
    drv_pg_res_free(r);
    return resp;
}

json_t *drv__op_delete_compute_environment(drv_client_t *client, json_t *req,
                                           drv_err_t *err, char *errstr,
                                           size_t errstr_size)
{
    return delete_disabled(client, req, &delete_ce, err, errstr, errstr_size);
}

/*
 * The resource an ARN identifies (drv_arn_parse: this Drover's region and
 * account only), as the key its tags are kept under ("job-queue/q",
 * "job-definition/d:3"; an unversioned definition ARN means its latest
 * revision), and the tags it was created with; NULL (with *err) when the
 * ARN names nothing.
 */
static json_t *created_tags(drv_client_t *client, drv_pg_t *pg,
                            const char *arn, char *key, size_t key_size,
                            drv_err_t *err, char *errstr, size_t errstr_size)
{
    static const struct {
        const char *kind, *sql;
    } kinds[] = {
        {"job-queue",
         "SELECT spec->'tags', name FROM job_queues WHERE name = $1"},
        {"compute-environment", "SELECT spec->'tags', name FROM "
                                "compute_environments WHERE name = $1"},
        {"job-definition",
         "SELECT spec->'tags', name || ':' || revision FROM job_definitions "
         "WHERE name = split_part($1, ':', 1) AND (revision::text = "
         "split_part($1, ':', 2) OR (split_part($1, ':', 2) = '' AND "
         "revision = (SELECT max(revision) FROM job_definitions WHERE name = "
         "split_part($1, ':', 1))))"},
        {"scheduling-policy", "SELECT spec->'tags', name FROM "
                              "scheduling_policies WHERE name = $1"},
        {"consumable-resource", "SELECT tags, name FROM "
                                "consumable_resources WHERE name = $1"},
        {"job", "SELECT request->'tags', job_id FROM jobs WHERE job_id = $1 "
                "UNION ALL SELECT request->'tags', job_id FROM job_receipts "
                "WHERE job_id = $1 LIMIT 1"},
    };
    char kind[64], name[300];
    if (drv_arn_parse(arn, client->region, client->account, kind,
                      sizeof(kind), name, sizeof(name), errstr,
                      errstr_size) != 0) {
        *err = DRV_ERR_INVALID;
        return NULL;
    }
    for (size_t i = 0; i < DRV_ARRAY_SIZE(kinds); i++) {
        if (strcmp(kind, kinds[i].kind)) {
            continue;
        }
        const char *p[] = {name};
        drv_pg_res_t *r = query(pg, kinds[i].sql, 1, p, err, errstr,
                                errstr_size);
        if (!r) {
            return NULL;
        }
        json_t *t = NULL;
        if (drv_pg_res_rows(r) == 1) {
            t = drv_pg_res_json(r, 0, 0);
            if (!json_is_object(t)) {
                json_decref(t);
                t = json_object();
            }
            snprintf(key, key_size, "%s/%s", kind, drv_pg_res_get(r, 0, 1));
        }
        drv_pg_res_free(r);
        if (!t) {
            *err = DRV_ERR_NOTFOUND;
            drv_errstr_set(errstr, errstr_size, "Resource %s not found", arn);
        }
        return t;
    }
    *err = DRV_ERR_INVALID;
    drv_errstr_set(errstr, errstr_size,
                   "%s is not the ARN of a job, job definition, job queue, "
                   "compute environment, scheduling policy or consumable "
                   "resource",
                   arn);
    return NULL;
}

/* Record tag changes for an existing resource: `sql` takes its key
 * (created_tags) and the request's tags (TagResource) or keys
 * (UntagResource) as JSON. */
static json_t *write_tags(drv_client_t *client, const char *arn,
                          json_t *what, bool tagging, drv_err_t *err,
                          char *errstr, size_t errstr_size)
{
    char key[400];
    drv_pg_t *pg = drv__client_pg(client, err, errstr, errstr_size);
    json_t *old = pg ? created_tags(client, pg, arn, key, sizeof(key), err,
                                    errstr, errstr_size)
                     : NULL;
    if (!old) {
        return NULL;
    }
    char *text = json_dumps(what, JSON_COMPACT);
    char *created = json_dumps(old, JSON_COMPACT);
    json_decref(old);
    const char *p[] = {key, text, created};
    json_t *resp = NULL;
    drv_pg_res_t *r = NULL;
    if (tagging) {
        /* at most 50 on the resource (AWS), counting what it has */
        if (!(r = query(pg,
                        "SELECT count(*) FROM (SELECT k FROM jsonb_object_keys("
                        "$3::jsonb) k WHERE NOT EXISTS (SELECT 1 FROM "
                        "resource_tags t WHERE t.arn = $1 AND t.key = k AND "
                        "t.value IS NULL) UNION SELECT key FROM resource_tags "
                        "WHERE arn = $1 AND value IS NOT NULL UNION SELECT "
                        "jsonb_object_keys($2::jsonb)) x",
                        3, p, err, errstr, errstr_size))) {
            goto out;
        }
        int64_t n = drv_pg_res_int(r, 0, 0, 0);
        if (n > DRV_TAGS_MAX) {
            FAIL(DRV_ERR_INVALID,
                 "the resource would have %" PRId64 " tags; at most %d",
                 n, DRV_TAGS_MAX);
        }
    }
    /* a tag it was created with is removed by a NULL row; any other by
     * deleting its row, so keys never set leave nothing behind */
    if (drv_pg_exec(pg,
                    tagging
                        ? "INSERT INTO resource_tags SELECT $1, key, value "
                          "FROM jsonb_each_text($2::jsonb) WHERE $3::jsonb IS "
                          "NOT NULL ON CONFLICT (arn, key) DO UPDATE SET "
                          "value = EXCLUDED.value"
                        : "WITH k AS (SELECT jsonb_array_elements_text("
                          "$2::jsonb) AS key), d AS (DELETE FROM "
                          "resource_tags t USING k WHERE t.arn = $1 AND "
                          "t.key = k.key AND NOT $3::jsonb ? k.key) INSERT "
                          "INTO resource_tags SELECT $1, key, NULL FROM k "
                          "WHERE $3::jsonb ? key ON CONFLICT (arn, key) DO "
                          "UPDATE SET value = NULL",
                    3, p, errstr, errstr_size) != 0) {
        *err = drv_pg_last_err(pg);
        goto out;
    }
    resp = json_object();
out:
    drv_pg_res_free(r);
    free(text);
    free(created);
    return resp;
}

json_t *drv__op_tag_resource(drv_client_t *client, json_t *req,
                             drv_err_t *err, char *errstr, size_t errstr_size)
{
    const char *arn = json_string_value(json_object_get(req, "resourceArn"));
    json_t *tags = json_object_get(req, "tags");
    if (!arn || !json_is_object(tags) || json_object_size(tags) == 0 ||
        json_object_size(tags) > DRV_TAGS_MAX) {
        *err = DRV_ERR_INVALID;
        drv_errstr_set(errstr, errstr_size,
                       "resourceArn and 1 to 50 tags (string values) are "
                       "required");
        return NULL;
    }
    if (drv__provisioner_tag_check(tags, errstr, errstr_size) != 0) {
        *err = DRV_ERR_INVALID;
        return NULL;
    }
    return write_tags(client, arn, tags, true, err, errstr, errstr_size);
}

json_t *drv__op_untag_resource(drv_client_t *client, json_t *req,
                               drv_err_t *err, char *errstr,
                               size_t errstr_size)
{
    const char *arn = json_string_value(json_object_get(req, "resourceArn"));
    json_t *keys = json_object_get(req, "tagKeys");
    if (!arn || !json_is_array(keys) || json_array_size(keys) == 0) {
        *err = DRV_ERR_INVALID;
        drv_errstr_set(errstr, errstr_size,
                       "resourceArn and tagKeys are required");
        return NULL;
    }
    return write_tags(client, arn, keys, false, err, errstr, errstr_size);
}

json_t *drv__op_list_tags_for_resource(drv_client_t *client, json_t *req,
                                       drv_err_t *err, char *errstr,
                                       size_t errstr_size)
{
    const char *arn = json_string_value(json_object_get(req, "resourceArn"));
    drv_pg_t *pg = drv__client_pg(client, err, errstr, errstr_size);
    json_t *resp = NULL, *tags = NULL;
    if (!pg) {
        return NULL;
    }
    if (!arn) {
        FAIL(DRV_ERR_INVALID, "resourceArn is required");
    }
    char key[400];
    if (!(tags = created_tags(client, pg, arn, key, sizeof(key), err, errstr,
                              errstr_size))) {
        goto out;
    }
    const char *p[] = {key};
    drv_pg_res_t *r = query(pg,
                            "SELECT key, value FROM resource_tags WHERE arn = "
                            "$1",
                            1, p, err, errstr, errstr_size);
    if (!r) {
        goto out;
    }
    for (int i = 0; i < drv_pg_res_rows(r); i++) {
        const char *v = drv_pg_res_get(r, i, 1);
        if (v) {
            json_object_set_new(tags, drv_pg_res_get(r, i, 0), json_string(v));
        } else {
            json_object_del(tags, drv_pg_res_get(r, i, 0));
        }
    }
    drv_pg_res_free(r);
    resp = json_pack("{s:O}", "tags", tags);
out:
    json_decref(tags);
    return resp;
}
