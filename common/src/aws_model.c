/* SPDX-License-Identifier: Apache-2.0 */
/* Requests checked and replies serialised against the AWS Batch model:
 * see drover/aws_model.h. */
#include "drover/aws_model.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "drover/err.h"
#include "drover/util.h"

/*
 * The members of the model Drover does not honour: a request that sets
 * one is refused by name, never accepted and ignored. Each is an AWS
 * feature with no meaning on Drover's infrastructure (IAM roles, ECS,
 * EKS, Fargate, multi-node parallel jobs, EFS) or one not built yet. The
 * README's "AWS members" table is this list.
 */
/* A member of a shape. */
typedef struct pair {
    const char *shape, *member;
} pair_t;

static const pair_t unsupported[] = {
    {"SubmitJobRequest", "nodeOverrides"},
    {"SubmitJobRequest", "eksPropertiesOverride"},
    {"SubmitJobRequest", "ecsPropertiesOverride"},
    {"ContainerOverrides", "instanceType"},
    {"RegisterJobDefinitionRequest", "nodeProperties"},
    {"RegisterJobDefinitionRequest", "eksProperties"},
    {"RegisterJobDefinitionRequest", "ecsProperties"},
    {"ContainerProperties", "jobRoleArn"},
    {"ContainerProperties", "executionRoleArn"},
    {"ContainerProperties", "instanceType"},
    {"ContainerProperties", "logConfiguration"},
    {"ContainerProperties", "networkConfiguration"},
    {"ContainerProperties", "fargatePlatformConfiguration"},
    {"ContainerProperties", "enableExecuteCommand"},
    {"ContainerProperties", "ephemeralStorage"},
    {"ContainerProperties", "runtimePlatform"},
    {"ContainerProperties", "repositoryCredentials"},
    {"Volume", "efsVolumeConfiguration"},
    {"Volume", "s3filesVolumeConfiguration"},
    {"LinuxParameters", "devices"},
    {"CreateComputeEnvironmentRequest", "eksConfiguration"},
    {"CreateComputeEnvironmentRequest", "context"},
    {"UpdateComputeEnvironmentRequest", "updatePolicy"},
    {"UpdateComputeEnvironmentRequest", "context"},
    {"CreateJobQueueRequest", "serviceEnvironmentOrder"},
    {"CreateJobQueueRequest", "jobQueueType"},
    {"UpdateJobQueueRequest", "serviceEnvironmentOrder"},
    {"ListJobsRequest", "multiNodeJobId"},
    {"CreateSchedulingPolicyRequest", "quotaSharePolicy"},
    {"UpdateSchedulingPolicyRequest", "quotaSharePolicy"},
};

/*
 * Drover's own members, beside the model's: accepted in requests (the
 * operation checks them) and kept in replies. The README documents them.
 */
static const pair_t extensions[] = {
    {"CreateComputeEnvironmentRequest", "containerPolicy"},
    {"ComputeEnvironmentDetail", "containerPolicy"},
    {"ComputeEnvironmentDetail", "capacity"}, /* workers, vCPUs, memory
                                                 offered and in use */
    {"ComputeResource", "maxMemoryMiB"},
    {"JobDependency", "jobName"}, /* a dependency by name: resolved to
                                     its id before the job is sent */
};

/* The list and map members AWS returns even when empty (as its example
 * replies and the SDKs' recorded responses show them), filled in by
 * drv_model_serialize when a reply leaves them out. */
static const pair_t always[] = {
    {"JobDetail", "attempts"},
    {"JobDetail", "dependsOn"},
    {"JobDetail", "parameters"},
    {"JobDetail", "tags"},
    {"JobDetail", "platformCapabilities"},
    {"ContainerDetail", "command"},
    {"ContainerDetail", "volumes"},
    {"ContainerDetail", "environment"},
    {"ContainerDetail", "mountPoints"},
    {"ContainerDetail", "ulimits"},
    {"ContainerDetail", "resourceRequirements"},
    {"ContainerDetail", "secrets"},
    {"ContainerDetail", "networkInterfaces"},
    {"JobDefinition", "parameters"},
    {"JobDefinition", "tags"},
    {"JobDefinition", "platformCapabilities"},
    {"ContainerProperties", "command"},
    {"ContainerProperties", "volumes"},
    {"ContainerProperties", "environment"},
    {"ContainerProperties", "mountPoints"},
    {"ContainerProperties", "ulimits"},
    {"ContainerProperties", "resourceRequirements"},
    {"ContainerProperties", "secrets"},
    {"JobQueueDetail", "tags"},
    {"JobQueueDetail", "jobStateTimeLimitActions"},
    {"ComputeEnvironmentDetail", "tags"},
    {"ListTagsForResourceResponse", "tags"},
};

/* Members the model marks required that AWS itself leaves out of some
 * replies: JobDetail.startedAt before the job has started. */
static const pair_t optional_out[] = {
    {"JobDetail", "startedAt"},
};

/* Enums AWS compares without case ("The values aren't case sensitive",
 * EvaluateOnExit.action). */
static const char *const caseless_enums[] = {"RetryAction"};

static bool caseless(const drv_model_shape_t *t)
{
    for (size_t i = 0; i < DRV_ARRAY_SIZE(caseless_enums); i++) {
        if (!strcmp(caseless_enums[i], t->name)) {
            return true;
        }
    }
    return false;
}

static int by_name(const void *key, const void *elem)
{
    return strcmp(key, *(const char *const *)elem);
}

const drv_model_op_t *drv_model_op(const char *name)
{
    return bsearch(name, drv_model_ops, drv_model_nops, sizeof(*drv_model_ops),
                   by_name);
}

const drv_model_shape_t *drv_model_shape(const char *name)
{
    return bsearch(name, drv_model_shapes, drv_model_nshapes,
                   sizeof(*drv_model_shapes), by_name);
}

static bool listed(const pair_t *t, size_t n, const char *shape,
                   const char *member)
{
    for (size_t i = 0; i < n; i++) {
        if (!strcmp(t[i].shape, shape) && !strcmp(t[i].member, member)) {
            return true;
        }
    }
    return false;
}

static const char *type_name(drv_mtype_t t)
{
    static const char *const names[] = {
        "an object", "a list",    "a map",    "a string",
        "an integer", "an integer", "a boolean", "a number",
        "a number",  "a number (epoch time)", "a string"};
    return names[t];
}

/* The walk's state: where it is, for messages. */
typedef struct walk {
    char path[512];
    size_t len;
    char *errstr;
    size_t errstr_size;
    int dropped;
    bool strict; /* responses: required members too */
} walk_t;

/* The path one step deeper: ".member" (s, not a key), "[i]" (s NULL) or
 * a map entry "[\"k\"]" (s, key); returns where to pop back to. A step
 * that does not fit is left out: the prefix still names the place. */
static size_t push_step(walk_t *w, const char *s, size_t i, bool key)
{
    size_t was = w->len, room = sizeof(w->path) - w->len;
    char *at = w->path + w->len;
    int n = !s   ? snprintf(at, room, "[%zu]", i)
            : key ? snprintf(at, room, "[\"%s\"]", s)
                  : snprintf(at, room, "%s%s", w->len ? "." : "", s);
    if (n > 0 && (size_t)n < room) {
        w->len += (size_t)n;
    } else {
        w->path[w->len] = '\0';
    }
    return was;
}

static size_t push(walk_t *w, const char *s, size_t i)
{
    return push_step(w, s, i, false);
}

static size_t push_key(walk_t *w, const char *k)
{
    return push_step(w, k, 0, true);
}

/* Shape t's member of that name, or NULL. */
static const drv_model_member_t *member_of(const drv_model_shape_t *t,
                                           const char *name)
{
    for (int m = 0; m < t->count; m++) {
        if (!strcmp(drv_model_members[t->first + m].name, name)) {
            return &drv_model_members[t->first + m];
        }
    }
    return NULL;
}

static void pop(walk_t *w, size_t was)
{
    w->len = was;
    w->path[was] = '\0';
}

static int fail(walk_t *w, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int fail(walk_t *w, const char *fmt, ...)
{
    char what[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);
    drv_errstr_set(w->errstr, w->errstr_size, "%s%s%s",
                   w->len ? w->path : "", w->len ? " " : "", what);
    return -1;
}

static size_t utf8_chars(const char *s, size_t n)
{
    size_t c = 0;
    for (size_t i = 0; i < n; i++) {
        c += ((unsigned char)s[i] & 0xC0) != 0x80;
    }
    return c;
}

/* Whether j has the JSON type of shape t. */
static bool type_ok(const drv_model_shape_t *t, json_t *j)
{
    switch (t->type) {
    case DRV_MT_STRUCTURE:
        return json_is_object(j);
    case DRV_MT_LIST:
        return json_is_array(j);
    case DRV_MT_MAP:
        return json_is_object(j);
    case DRV_MT_STRING:
    case DRV_MT_BLOB:
        return json_is_string(j);
    case DRV_MT_INTEGER:
        return json_is_integer(j) && json_integer_value(j) >= INT32_MIN &&
               json_integer_value(j) <= INT32_MAX;
    case DRV_MT_LONG:
        return json_is_integer(j);
    case DRV_MT_BOOLEAN:
        return json_is_boolean(j);
    case DRV_MT_DOUBLE:
    case DRV_MT_FLOAT:
    case DRV_MT_TIMESTAMP:
        return json_is_number(j);
    }
    return false;
}

static int check(walk_t *w, int shape, json_t *j, bool request);

static bool out_of(const drv_model_shape_t *t, long long n)
{
    return (t->has_min && n < t->min) || (t->has_max && n > t->max);
}

/* "from 1 to 50", "at least 1", "at most 50" */
static const char *bounds(const drv_model_shape_t *t, char out[64])
{
    if (t->has_min && t->has_max) {
        snprintf(out, 64, "from %lld to %lld", t->min, t->max);
    } else if (t->has_min) {
        snprintf(out, 64, "at least %lld", t->min);
    } else {
        snprintf(out, 64, "at most %lld", t->max);
    }
    return out;
}

/* Limits and enums. The model's lengths and ranges bound what a caller
 * may send (AWS itself returns tags: {} where 1..50 are allowed in), so
 * replies are checked for their enums only. */
static int check_value(walk_t *w, const drv_model_shape_t *t, json_t *j,
                       bool request)
{
    if (t->type == DRV_MT_STRING) {
        const char *s = json_string_value(j);
        size_t n = utf8_chars(s, json_string_length(j));
        if (request && t->has_min && n < (size_t)t->min) {
            return fail(w, "must be at least %lld characters long", t->min);
        }
        if (request && t->has_max && n > (size_t)t->max) {
            return fail(w, "must be at most %lld characters long", t->max);
        }
        if (t->count) {
            for (int i = 0; i < t->count; i++) {
                if (!(caseless(t) ? strcasecmp : strcmp)(
                        drv_model_enums[t->first + i], s)) {
                    return 0;
                }
            }
            char vals[200] = "";
            size_t len = 0;
            for (int i = 0; i < t->count && len < sizeof(vals); i++) {
                int n2 = snprintf(vals + len, sizeof(vals) - len, "%s%s",
                                  i ? ", " : "",
                                  drv_model_enums[t->first + i]);
                len += n2 > 0 ? (size_t)n2 : 0;
            }
            return fail(w, "must be one of: %s", vals);
        }
    } else if (request &&
               (t->type == DRV_MT_INTEGER || t->type == DRV_MT_LONG)) {
        long long v = json_integer_value(j);
        char range[64];
        if (out_of(t, v)) {
            return fail(w, "must be %s", bounds(t, range));
        }
    }
    return 0;
}

static int check_struct(walk_t *w, const drv_model_shape_t *t, json_t *j,
                        bool request)
{
    const char *k;
    json_t *v;
    json_object_foreach(j, k, v)
    {
        const drv_model_member_t *mb = member_of(t, k);
        size_t was = push(w, k, 0);
        if (!mb && listed(extensions, DRV_ARRAY_SIZE(extensions), t->name, k)) {
            pop(w, was);
            continue;
        }
        if (!mb) {
            return fail(w, "is not a member of %s", t->name);
        }
        if (request &&
            listed(unsupported, DRV_ARRAY_SIZE(unsupported), t->name, k)) {
            return fail(w, "is not supported by Drover");
        }
        if (check(w, mb->shape, v, request) != 0) {
            return -1;
        }
        pop(w, was);
    }
    if (!request && !w->strict) {
        return 0;
    }
    for (int m = 0; m < t->count; m++) {
        const drv_model_member_t *mb = &drv_model_members[t->first + m];
        if (mb->required && !json_object_get(j, mb->name) &&
            (request || !listed(optional_out,
                                DRV_ARRAY_SIZE(optional_out), t->name,
                                mb->name))) {
            size_t was = push(w, mb->name, 0);
            fail(w, "is required");
            pop(w, was);
            return -1;
        }
    }
    return 0;
}

static int check(walk_t *w, int shape, json_t *j, bool request)
{
    const drv_model_shape_t *t = &drv_model_shapes[shape];
    if (!type_ok(t, j)) {
        return fail(w, "must be %s", type_name(t->type));
    }
    size_t i;
    json_t *v;
    char range[64];
    switch (t->type) {
    case DRV_MT_STRUCTURE:
        return check_struct(w, t, j, request);
    case DRV_MT_LIST:
        if (request && out_of(t, (long long)json_array_size(j))) {
            return fail(w, "must have %s items", bounds(t, range));
        }
        json_array_foreach(j, i, v)
        {
            size_t was = push(w, NULL, i);
            if (check(w, t->elem, v, request) != 0) {
                return -1;
            }
            pop(w, was);
        }
        return 0;
    case DRV_MT_MAP: {
        if (request && out_of(t, (long long)json_object_size(j))) {
            return fail(w, "must have %s entries", bounds(t, range));
        }
        const char *k;
        json_object_foreach(j, k, v)
        {
            json_t *key = json_string(k);
            size_t was = push_key(w, k);
            int rc = key ? check(w, t->key, key, request) : -1;
            json_decref(key);
            if (rc != 0 || check(w, t->elem, v, request) != 0) {
                return -1;
            }
            pop(w, was);
        }
        return 0;
    }
    default:
        return check_value(w, t, j, request);
    }
}

int drv_model_check_request(const drv_model_op_t *op, json_t *req,
                            char *errstr, size_t errstr_size)
{
    walk_t w = {.errstr = errstr, .errstr_size = errstr_size};
    if (op->input < 0) {
        return json_object_size(req) ? fail(&w, "%s takes no members",
                                            op->name)
                                     : 0;
    }
    return check(&w, op->input, req, true);
}

int drv_model_check_response(const drv_model_op_t *op, json_t *resp,
                             char *errstr, size_t errstr_size)
{
    walk_t w = {.errstr = errstr, .errstr_size = errstr_size, .strict = true};
    if (op->output < 0) {
        return json_object_size(resp) ? fail(&w, "%s returns no members",
                                             op->name)
                                      : 0;
    }
    return check(&w, op->output, resp, false);
}

/* ---- serialisation ------------------------------------------------------- */

static json_t *serialize(walk_t *w, int shape, json_t *j);

static json_t *dropped(walk_t *w, const char *why)
{
    if (!w->dropped++) {
        fail(w, "%s", why);
    }
    return NULL;
}

static json_t *empty_of(const drv_model_shape_t *t)
{
    return t->type == DRV_MT_LIST ? json_array() : json_object();
}

static json_t *serialize_struct(walk_t *w, const drv_model_shape_t *t,
                                json_t *j)
{
    json_t *out = json_object();
    const char *k;
    json_t *v;
    json_object_foreach(j, k, v)
    {
        const drv_model_member_t *mb = member_of(t, k);
        size_t was = push(w, k, 0);
        json_t *o =
            json_is_null(v) ? NULL
            : mb ? serialize(w, mb->shape, v)
            : listed(extensions, DRV_ARRAY_SIZE(extensions), t->name, k)
                ? json_incref(v)
                : dropped(w, "is not in the model");
        if (o) {
            json_object_set_new(out, k, o);
        }
        pop(w, was);
    }
    for (size_t a = 0; a < DRV_ARRAY_SIZE(always); a++) {
        if (strcmp(always[a].shape, t->name) ||
            json_object_get(out, always[a].member)) {
            continue;
        }
        const drv_model_member_t *mb = member_of(t, always[a].member);
        if (mb) {
            json_object_set_new(out, mb->name,
                                empty_of(&drv_model_shapes[mb->shape]));
        }
    }
    return out;
}

static json_t *serialize(walk_t *w, int shape, json_t *j)
{
    const drv_model_shape_t *t = &drv_model_shapes[shape];
    size_t i;
    json_t *v;
    switch (t->type) {
    case DRV_MT_STRUCTURE:
        return json_is_object(j) ? serialize_struct(w, t, j)
                                 : dropped(w, "is not an object");
    case DRV_MT_LIST: {
        if (!json_is_array(j)) {
            return dropped(w, "is not a list");
        }
        json_t *out = json_array();
        json_array_foreach(j, i, v)
        {
            size_t was = push(w, NULL, i);
            json_t *o = serialize(w, t->elem, v);
            if (o) {
                json_array_append_new(out, o);
            }
            pop(w, was);
        }
        return out;
    }
    case DRV_MT_MAP: {
        if (!json_is_object(j)) {
            return dropped(w, "is not a map");
        }
        json_t *out = json_object();
        const char *k;
        json_object_foreach(j, k, v)
        {
            size_t was = push_key(w, k);
            json_t *o = serialize(w, t->elem, v);
            if (o) {
                json_object_set_new(out, k, o);
            }
            pop(w, was);
        }
        return out;
    }
    case DRV_MT_INTEGER:
    case DRV_MT_LONG:
    case DRV_MT_TIMESTAMP:
        if (json_is_integer(j)) {
            return json_incref(j);
        }
        /* bounds first (NaN fails them): the cast is then defined */
        if (json_is_real(j) && json_real_value(j) > -9.0e15 &&
            json_real_value(j) < 9.0e15 &&
            json_real_value(j) == (double)(json_int_t)json_real_value(j)) {
            return json_integer((json_int_t)json_real_value(j));
        }
        return t->type == DRV_MT_TIMESTAMP && json_is_real(j)
                   ? json_incref(j)
                   : dropped(w, "is not an integer");
    case DRV_MT_DOUBLE:
    case DRV_MT_FLOAT:
        return json_is_number(j) ? json_real(json_number_value(j))
                                 : dropped(w, "is not a number");
    default:
        return type_ok(t, j) ? json_incref(j)
                             : dropped(w, "has the wrong type");
    }
}

json_t *drv_model_serialize(const drv_model_op_t *op, json_t *resp,
                            int *dropped_out, char *errstr,
                            size_t errstr_size)
{
    walk_t w = {.errstr = errstr, .errstr_size = errstr_size};
    json_t *out = op->output < 0 ? json_object()
                                 : serialize(&w, op->output, resp);
    if (!out) {
        out = json_object();
    }
    if (dropped_out) {
        *dropped_out = w.dropped;
    }
    return out;
}
