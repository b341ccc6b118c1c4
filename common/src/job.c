/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Job states, ARNs, request validation and resolution: see drover/job.h.
 * Error strings copy AWS Batch's where AWS has one (../shared/AWS-BATCH.md).
 */
#include "drover/job.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "drover/fairshare.h"
#include "drover/err.h"
#include "drover/util.h"

static const char *status_names[DRV_JOB_STATUS_COUNT] = {
    "SUBMITTED", "PENDING", "RUNNABLE", "STARTING",
    "RUNNING",   "SUCCEEDED", "FAILED"};

const char *drv_job_status_name(drv_job_status_t st)
{
    return (unsigned)st < DRV_JOB_STATUS_COUNT ? status_names[st] : "UNKNOWN";
}

int drv_job_status_parse(const char *name, drv_job_status_t *out)
{
    for (int i = 0; i < DRV_JOB_STATUS_COUNT; i++) {
        if (strcmp(name, status_names[i]) == 0) {
            *out = (drv_job_status_t)i;
            return 0;
        }
    }
    return -1;
}

bool drv_job_status_is_terminal(drv_job_status_t st)
{
    return st == DRV_JOB_SUCCEEDED || st == DRV_JOB_FAILED;
}

static bool name_chars_valid(const char *s, size_t max)
{
    size_t n = strlen(s);
    if (n == 0 || n > max) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        if (!isalnum((unsigned char)s[i]) && s[i] != '_' && s[i] != '-') {
            return false;
        }
    }
    return true;
}

bool drv_job_name_valid(const char *name)
{
    return name_chars_valid(name, DRV_NAME_MAX) && isalnum((unsigned char)name[0]);
}

bool drv_resource_name_valid(const char *name)
{
    return name_chars_valid(name, DRV_NAME_MAX);
}

bool drv_job_id_valid(const char *id, bool child)
{
    if (!id) {
        return false;
    }
    const char *colon = child ? strchr(id, ':') : NULL;
    size_t n = colon ? (size_t)(colon - id) : strlen(id);
    if (n == 0 || n > DRV_JOB_ID_MAX) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        if (!isalnum((unsigned char)id[i]) && id[i] != '_' && id[i] != '-') {
            return false;
        }
    }
    if (!colon) {
        return true;
    }
    const char *d = colon + 1; /* an index: 1 to 5 digits */
    size_t k = strlen(d);
    if (k == 0 || k > 5) {
        return false;
    }
    for (size_t i = 0; i < k; i++) {
        if (!isdigit((unsigned char)d[i])) {
            return false;
        }
    }
    return true;
}

void drv_arn(char *out, size_t size, const char *region, const char *account,
             const char *kind, const char *name)
{
    snprintf(out, size, "arn:aws:batch:%s:%s:%s/%s", region, account, kind,
             name);
}

void drv_arn_name(const char *ref, char *out, size_t size)
{
    const char *slash = drv_str_has_prefix(ref, "arn:") ? strrchr(ref, '/')
                                                        : NULL;
    const char *name = slash ? slash + 1 : ref;
    size_t n = strlen(name);
    if (size == 0) {
        return;
    }
    if (n >= size) {
        n = size - 1;
    }
    memmove(out, name, n); /* ref and out may be the same buffer */
    out[n] = '\0';
}

int drv_arn_parse(const char *arn, const char *region, const char *account,
                  char *kind, size_t kind_size, char *name, size_t name_size,
                  char *errstr, size_t errstr_size)
{
    /* arn : partition : service : region : account : resource */
    const char *f[6];
    size_t len[6];
    const char *at = arn;
    for (int i = 0; i < 6; i++) {
        const char *end = i < 5 ? strchr(at, ':') : at + strlen(at);
        if (!end) {
            drv_errstr_set(errstr, errstr_size, "%s is not a valid ARN", arn);
            return -1;
        }
        f[i] = at;
        len[i] = (size_t)(end - at);
        at = end + 1;
    }
    const char *slash = memchr(f[5], '/', len[5]);
    if (len[0] != 3 || memcmp(f[0], "arn", 3) || len[2] != 5 ||
        memcmp(f[2], "batch", 5) || !slash || slash == f[5] ||
        !slash[1]) {
        drv_errstr_set(errstr, errstr_size,
                       "%s is not a valid AWS Batch ARN (arn:aws:batch:REGION:"
                       "ACCOUNT:TYPE/NAME)",
                       arn);
        return -1;
    }
    if (len[3] != strlen(region) || memcmp(f[3], region, len[3]) ||
        len[4] != strlen(account) || memcmp(f[4], account, len[4])) {
        drv_errstr_set(errstr, errstr_size,
                       "%s names region %.*s, account %.*s: this endpoint "
                       "serves region %s, account %s",
                       arn, (int)len[3], f[3], (int)len[4], f[4], region,
                       account);
        return -1;
    }
    size_t klen = (size_t)(slash - f[5]);
    if (klen >= kind_size || strlen(slash + 1) >= name_size) {
        drv_errstr_set(errstr, errstr_size, "%s is not a valid ARN", arn);
        return -1;
    }
    memcpy(kind, f[5], klen);
    kind[klen] = '\0';
    snprintf(name, name_size, "%s", slash + 1);
    return 0;
}

/* ---- validation helpers ---------------------------------------------- */

#define FAIL(...)                                                              \
    do {                                                                       \
        drv_errstr_set(errstr, errstr_size, __VA_ARGS__);                      \
        return -1;                                                             \
    } while (0)

static bool env_name_reserved(const char *name)
{
    return drv_str_has_prefix(name, "AWS_BATCH") ||
           drv_str_has_prefix(name, "DROVER_");
}

static int check_environment(json_t *env, const char *where, char *errstr,
                             size_t errstr_size)
{
    size_t i;
    json_t *e;
    if (!env) {
        return 0;
    }
    if (!json_is_array(env)) {
        FAIL("%s.environment must be a list of {name, value}", where);
    }
    json_array_foreach(env, i, e)
    {
        const char *n = json_string_value(json_object_get(e, "name"));
        if (!n || !*n || !json_is_string(json_object_get(e, "value"))) {
            FAIL("%s.environment[%zu] needs a name and a string value", where,
                 i);
        }
        if (!strcmp(n, "NVIDIA_VISIBLE_DEVICES") ||
            !strcmp(n, "CUDA_VISIBLE_DEVICES")) {
            FAIL("environment variable %s is set by Drover: the GPUs a job "
                 "sees are those it asked for (resourceRequirements GPU)",
                 n);
        }
        if (env_name_reserved(n)) {
            FAIL("environment variable %s is reserved: names starting with "
                 "AWS_BATCH or DROVER_ cannot be set",
                 n);
        }
    }
    return 0;
}

const char *drv_job_secret_ref(const char *value_from)
{
    /* arn:aws:secretsmanager:<region>:<account>:secret:<name> and
     * arn:aws:ssm:<region>:<account>:parameter/<name>: the store's name */
    if (drv_str_has_prefix(value_from, "arn:")) {
        const char *p = strstr(value_from, ":secret:");
        if (p) {
            return p + strlen(":secret:");
        }
        p = strstr(value_from, ":parameter/");
        if (p) {
            return p + strlen(":parameter/");
        }
    }
    return value_from;
}

static int check_secrets(json_t *secrets, char *errstr, size_t errstr_size)
{
    size_t i;
    json_t *e;
    if (!secrets) {
        return 0;
    }
    if (!json_is_array(secrets)) {
        FAIL("containerProperties.secrets must be a list of {name, "
             "valueFrom}");
    }
    json_array_foreach(secrets, i, e)
    {
        const char *n = json_string_value(json_object_get(e, "name"));
        const char *v = json_string_value(json_object_get(e, "valueFrom"));
        if (!n || !*n || !v || !*v) {
            FAIL("containerProperties.secrets[%zu] needs a name and a "
                 "valueFrom",
                 i);
        }
        if (!strcmp(n, "NVIDIA_VISIBLE_DEVICES") ||
            !strcmp(n, "CUDA_VISIBLE_DEVICES")) {
            FAIL("environment variable %s is set by Drover: the GPUs a job "
                 "sees are those it asked for (resourceRequirements GPU)",
                 n);
        }
        if (env_name_reserved(n)) {
            FAIL("environment variable %s is reserved: names starting with "
                 "AWS_BATCH or DROVER_ cannot be set",
                 n);
        }
        const char *ref = drv_job_secret_ref(v);
        bool ok = *ref && *ref != '/' && strlen(ref) <= 512 &&
                  !strstr(ref, "..");
        for (const char *c = ref; ok && *c; c++) {
            ok = isalnum((unsigned char)*c) || strchr("/_+=.@-", *c);
        }
        if (!ok) {
            FAIL("containerProperties.secrets[%zu].valueFrom: %s is not a "
                 "secret name (letters, digits and /_+=.@-, no ..) or the "
                 "ARN of one",
                 i, v);
        }
    }
    return 0;
}

static int check_command(json_t *cmd, char *errstr, size_t errstr_size)
{
    size_t i;
    json_t *a;
    if (!cmd) {
        return 0;
    }
    if (!json_is_array(cmd)) {
        FAIL("command must be a list of strings");
    }
    if (json_array_size(cmd) == 0) {
        FAIL("Command cannot be empty");
    }
    json_array_foreach(cmd, i, a)
    {
        if (!json_is_string(a)) {
            FAIL("command must be a list of strings");
        }
        if (json_string_length(a) == 0) {
            FAIL("Command field cannot have empty strings");
        }
    }
    return 0;
}

/* resourceRequirements: VCPU (>0, number), MEMORY (>=4 MiB), GPU (whole
 * GPUs, 0..64). */
static int check_resources(json_t *rr, char *errstr, size_t errstr_size)
{
    size_t i;
    json_t *r;
    if (!rr) {
        return 0;
    }
    if (!json_is_array(rr)) {
        FAIL("resourceRequirements must be a list of {type, value}");
    }
    json_array_foreach(rr, i, r)
    {
        const char *t = json_string_value(json_object_get(r, "type"));
        const char *v = json_string_value(json_object_get(r, "value"));
        double d;
        if (!t || !v) {
            FAIL("resourceRequirements[%zu] needs a type and a string value",
                 i);
        }
        if (!strcmp(t, "VCPU")) {
            if (drv_parse_double(v, 0.01, DRV_VCPUS_MAX, &d) != 0) {
                FAIL("resourceRequirements VCPU value \"%s\" must be a number "
                     "greater than 0",
                     v);
            }
        } else if (!strcmp(t, "MEMORY")) {
            if (drv_parse_double(v, 4, 1e9, &d) != 0) { /* < DRV_MEMORY_MIB_MAX */
                FAIL("resourceRequirements MEMORY value \"%s\" must be at "
                     "least 4 (MiB)",
                     v);
            }
        } else if (!strcmp(t, "GPU")) {
            int64_t g;
            if (drv_parse_int64(v, 0, DRV_GPUS_MAX, &g) != 0) {
                FAIL("resourceRequirements GPU value \"%s\" must be a whole "
                     "number of GPUs from 0 to %d",
                     v, DRV_GPUS_MAX);
            }
        } else {
            FAIL("resourceRequirements type \"%s\" must be VCPU, MEMORY or "
                 "GPU",
                 t);
        }
    }
    return 0;
}

static int check_glob(json_t *p, const char *what, const char *allowed,
                      char *errstr, size_t errstr_size)
{
    if (!p) {
        return 0;
    }
    const char *s = json_string_value(p);
    size_t n = s ? strlen(s) : 0;
    if (!s || n == 0 || n > DRV_EOE_PATTERN_MAX) {
        FAIL("retryStrategy.evaluateOnExit.%s must be 1 to 512 characters",
             what);
    }
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '*' && i == n - 1) {
            break;
        }
        if (!strchr(allowed, s[i]) && !(allowed[0] == 'A' && isalnum((unsigned char)s[i]))) {
            FAIL("retryStrategy.evaluateOnExit.%s \"%s\" is not a valid "
                 "pattern (a * is allowed only at the end)",
                 what, s);
        }
    }
    return 0;
}

static int check_retry(json_t *rs, char *errstr, size_t errstr_size)
{
    if (!rs) {
        return 0;
    }
    json_t *att = json_object_get(rs, "attempts");
    json_t *eoe = json_object_get(rs, "evaluateOnExit");
    if (att && (!json_is_integer(att) || json_integer_value(att) < 1 ||
                json_integer_value(att) > DRV_RETRY_ATTEMPTS_MAX)) {
        FAIL("retryStrategy.attempts must be from 1 to 10");
    }
    if (!eoe || json_array_size(eoe) == 0) {
        return 0;
    }
    if (!att) {
        FAIL("retryStrategy.attempts must be set when evaluateOnExit is");
    }
    if (json_array_size(eoe) > 5) {
        FAIL("retryStrategy.evaluateOnExit can have at most 5 entries");
    }
    size_t i;
    json_t *r;
    json_array_foreach(eoe, i, r)
    {
        const char *a = json_string_value(json_object_get(r, "action"));
        if (!a || (strcasecmp(a, "RETRY") && strcasecmp(a, "EXIT"))) {
            FAIL("retryStrategy.evaluateOnExit[%zu].action must be RETRY or "
                 "EXIT",
                 i);
        }
        if (check_glob(json_object_get(r, "onExitCode"), "onExitCode",
                       "0123456789", errstr, errstr_size) ||
            check_glob(json_object_get(r, "onReason"), "onReason",
                       "A.: \t\n", errstr, errstr_size) ||
            check_glob(json_object_get(r, "onStatusReason"), "onStatusReason",
                       "A.: \t\n", errstr, errstr_size)) {
            return -1;
        }
    }
    return 0;
}

static int check_timeout(json_t *t, const drv_job_limits_t *limits,
                         char *errstr, size_t errstr_size)
{
    json_t *s = t ? json_object_get(t, "attemptDurationSeconds") : NULL;
    if (s && (!json_is_integer(s) ||
              json_integer_value(s) < limits->timeout_min_seconds)) {
        FAIL("timeout.attemptDurationSeconds must be at least %d",
             limits->timeout_min_seconds);
    }
    return 0;
}

static int check_string_map(json_t *m, const char *what, size_t max,
                            char *errstr, size_t errstr_size)
{
    const char *k;
    json_t *v;
    if (!m) {
        return 0;
    }
    if (!json_is_object(m)) {
        FAIL("%s must be an object of strings", what);
    }
    if (json_object_size(m) > max) {
        FAIL("%s can have at most %zu entries", what, max);
    }
    json_object_foreach(m, k, v)
    {
        if (!json_is_string(v)) {
            FAIL("%s.%s must be a string", what, k);
        }
    }
    return 0;
}

static int check_depends_on(json_t *deps, bool is_array, char *errstr,
                            size_t errstr_size)
{
    size_t i;
    json_t *d;
    if (!deps) {
        return 0;
    }
    if (!json_is_array(deps)) {
        FAIL("dependsOn must be a list of {jobId, type}");
    }
    if (json_array_size(deps) > DRV_MAX_DEPENDS_ON) {
        FAIL("Job cannot have more than 20 dependencies");
    }
    json_array_foreach(deps, i, d)
    {
        json_t *id = json_object_get(d, "jobId");
        const char *type = json_string_value(json_object_get(d, "type"));
        if (type && strcmp(type, "N_TO_N") && strcmp(type, "SEQUENTIAL")) {
            FAIL("dependsOn[%zu].type \"%s\" must be N_TO_N or SEQUENTIAL", i,
                 type);
        }
        if (id && !drv_job_id_valid(json_string_value(id), true)) {
            FAIL("dependsOn[%zu].jobId must be a job id", i);
        }
        if (!id && !(type && !strcmp(type, "SEQUENTIAL") && is_array)) {
            FAIL("dependsOn[%zu] needs a jobId (only an array job's "
                 "SEQUENTIAL entry may omit it)",
                 i);
        }
        if (type && (!strcmp(type, "N_TO_N") || !strcmp(type, "SEQUENTIAL")) &&
            !is_array) {
            FAIL("dependsOn[%zu]: type %s needs an array job", i, type);
        }
    }
    return 0;
}

static const char *submit_keys[] = {
    "jobId", "jobName", "jobQueue", "jobDefinition", "submittedAt",
    "arrayProperties", "dependsOn", "parameters", "containerOverrides",
    "retryStrategy", "timeout", "tags", "propagateTags",
    "schedulingPriorityOverride", "shareIdentifier",
    "consumableResourcePropertiesOverride"};

static int check_known_keys(json_t *o, const char **keys, size_t n,
                            const char *what, char *errstr, size_t errstr_size)
{
    const char *k;
    json_t *v;
    json_object_foreach(o, k, v)
    {
        size_t i = 0;
        while (i < n && strcmp(keys[i], k)) {
            i++;
        }
        if (i == n) {
            FAIL("%s: unknown or unsupported field \"%s\"", what, k);
        }
    }
    return 0;
}

/* The name a consumableResource names, a name or a consumable-resource
 * ARN (its region and account are the client's to check): false when it
 * is neither. */
static bool consumable_name(const char *ref, char *name, size_t size)
{
    if (!ref || strlen(ref) > DRV_ARN_MAX) {
        return false;
    }
    if (drv_str_has_prefix(ref, "arn:")) {
        const char *k = strstr(ref, ":consumable-resource/");
        if (!k || strchr(k + 21, '/')) {
            return false;
        }
        ref = k + 21;
    }
    if (strlen(ref) >= size || !drv_resource_name_valid(ref)) {
        return false;
    }
    snprintf(name, size, "%s", ref);
    return true;
}

/* consumableResourceProperties (a definition's) or
 * consumableResourcePropertiesOverride (a submission's): 1 to 5 distinct
 * resources by name or ARN, each with a quantity from 1 to 2^53 - 1. */
static int check_consumables(json_t *crp, const char *what, char *errstr,
                             size_t errstr_size)
{
    static const char *keys[] = {"consumableResourceList"};
    static const char *item_keys[] = {"consumableResource", "quantity"};
    if (!crp) {
        return 0;
    }
    json_t *list = json_object_get(crp, "consumableResourceList");
    if (!json_is_object(crp) ||
        check_known_keys(crp, keys, DRV_ARRAY_SIZE(keys), what, errstr,
                         errstr_size)) {
        FAIL("%s must be an object with a consumableResourceList", what);
    }
    if (!json_is_array(list) || json_array_size(list) < 1 ||
        json_array_size(list) > DRV_CONSUMABLES_PER_JOB_MAX) {
        FAIL("%s.consumableResourceList must list 1 to %d consumable "
             "resources",
             what, DRV_CONSUMABLES_PER_JOB_MAX);
    }
    size_t i, k;
    json_t *e, *o;
    json_array_foreach(list, i, e)
    {
        char name[DRV_NAME_MAX + 1], other[DRV_NAME_MAX + 1];
        json_t *q = json_object_get(e, "quantity");
        if (check_known_keys(e, item_keys, DRV_ARRAY_SIZE(item_keys), what,
                             errstr, errstr_size)) {
            return -1;
        }
        if (!json_is_object(e) ||
            !consumable_name(json_string_value(json_object_get(
                                 e, "consumableResource")),
                             name, sizeof(name))) {
            FAIL("%s.consumableResourceList[%zu].consumableResource must be "
                 "the name (1 to 128 letters, digits, hyphens or "
                 "underscores) or ARN of a consumable resource",
                 what, i);
        }
        if (!json_is_integer(q) || json_integer_value(q) < 1 ||
            json_integer_value(q) > DRV_CONSUMABLE_QUANTITY_MAX) {
            FAIL("%s.consumableResourceList[%zu].quantity must be an integer "
                 "from 1 to %lld",
                 what, i, DRV_CONSUMABLE_QUANTITY_MAX);
        }
        json_array_foreach(list, k, o)
        {
            if (k < i && consumable_name(json_string_value(json_object_get(
                                             o, "consumableResource")),
                                         other, sizeof(other)) &&
                !strcmp(name, other)) {
                FAIL("%s.consumableResourceList names consumable resource %s "
                     "twice",
                     what, name);
            }
        }
    }
    return 0;
}

static int check_overrides(json_t *co, char *errstr, size_t errstr_size)
{
    static const char *keys[] = {"command", "environment", "vcpus", "memory",
                                 "resourceRequirements", "instanceType"};
    if (!co) {
        return 0;
    }
    if (!json_is_object(co)) {
        FAIL("containerOverrides must be an object");
    }
    json_t *v = json_object_get(co, "vcpus"), *m = json_object_get(co, "memory");
    if (check_known_keys(co, keys, DRV_ARRAY_SIZE(keys), "containerOverrides",
                         errstr, errstr_size) ||
        check_command(json_object_get(co, "command"), errstr, errstr_size) ||
        check_environment(json_object_get(co, "environment"),
                          "containerOverrides", errstr, errstr_size) ||
        check_resources(json_object_get(co, "resourceRequirements"), errstr,
                        errstr_size)) {
        return -1;
    }
    if (v && (!json_is_integer(v) || json_integer_value(v) < 1 ||
              json_integer_value(v) > DRV_VCPUS_MAX)) {
        FAIL("containerOverrides.vcpus must be an integer from 1 to 4096");
    }
    if (m && (!json_is_integer(m) || json_integer_value(m) < 4 ||
              json_integer_value(m) > DRV_MEMORY_MIB_MAX)) {
        FAIL("containerOverrides.memory must be from 4 to 2^30 (MiB)");
    }
    return 0;
}

int drv_job_validate_submit(json_t *req, const drv_job_limits_t *limits,
                            char *errstr, size_t errstr_size)
{
    if (!json_is_object(req)) {
        FAIL("the submission must be a JSON object");
    }
    const char *name = json_string_value(json_object_get(req, "jobName"));
    json_t *ap = json_object_get(req, "arrayProperties");
    json_t *prio = json_object_get(req, "schedulingPriorityOverride");
    if (check_known_keys(req, submit_keys, DRV_ARRAY_SIZE(submit_keys),
                         "SubmitJob", errstr, errstr_size)) {
        return -1;
    }
    if (!name) {
        FAIL("jobName is required");
    }
    json_t *id = json_object_get(req, "jobId");
    if (id && !drv_job_id_valid(json_string_value(id), false)) {
        FAIL("jobId must be 1 to 128 letters, digits, - and _");
    }
    if (!drv_job_name_valid(name)) {
        FAIL("Job name should match valid pattern");
    }
    if (!json_string_value(json_object_get(req, "jobQueue"))) {
        FAIL("jobQueue is required");
    }
    if (!json_string_value(json_object_get(req, "jobDefinition"))) {
        FAIL("jobDefinition is required");
    }
    if (ap) {
        json_t *sz = json_object_get(ap, "size");
        if (!json_is_integer(sz) || json_integer_value(sz) < DRV_ARRAY_SIZE_MIN ||
            json_integer_value(sz) > DRV_ARRAY_SIZE_MAX) {
            FAIL("arrayProperties.size must be from 2 to 10000");
        }
    }
    if (prio && (!json_is_integer(prio) || json_integer_value(prio) < 0 ||
                 json_integer_value(prio) > DRV_PRIORITY_MAX)) {
        FAIL("schedulingPriorityOverride must be from 0 to 9999");
    }
    json_t *share = json_object_get(req, "shareIdentifier");
    if (share && !drv_share_id_valid(json_string_value(share), true)) {
        FAIL("shareIdentifier must be 1 to 255 letters and digits, "
             "optionally followed by *");
    }
    return check_depends_on(json_object_get(req, "dependsOn"), ap != NULL,
                            errstr, errstr_size) ||
                   check_string_map(json_object_get(req, "parameters"),
                                    "parameters", 1000, errstr, errstr_size) ||
                   check_string_map(json_object_get(req, "tags"), "tags", 50,
                                    errstr, errstr_size) ||
                   check_overrides(json_object_get(req, "containerOverrides"),
                                   errstr, errstr_size) ||
                   check_consumables(
                       json_object_get(req,
                                       "consumableResourcePropertiesOverride"),
                       "consumableResourcePropertiesOverride", errstr,
                       errstr_size) ||
                   check_retry(json_object_get(req, "retryStrategy"), errstr,
                               errstr_size) ||
                   check_timeout(json_object_get(req, "timeout"), limits,
                                 errstr, errstr_size)
               ? -1
               : 0;
}

/* vCPU and memory of containerProperties (resourceRequirements first). */
static void container_resources(json_t *cp, double *vcpus, double *memory)
{
    size_t i;
    json_t *r;
    *vcpus = json_is_integer(json_object_get(cp, "vcpus"))
                 ? (double)json_integer_value(json_object_get(cp, "vcpus"))
                 : 0;
    *memory = json_is_integer(json_object_get(cp, "memory"))
                  ? (double)json_integer_value(json_object_get(cp, "memory"))
                  : 0;
    json_array_foreach(json_object_get(cp, "resourceRequirements"), i, r)
    {
        const char *t = json_string_value(json_object_get(r, "type"));
        const char *v = json_string_value(json_object_get(r, "value"));
        if (t && v && !strcmp(t, "VCPU")) {
            drv_parse_double(v, 0, 1e9, vcpus);
        } else if (t && v && !strcmp(t, "MEMORY")) {
            drv_parse_double(v, 0, 1e12, memory);
        }
    }
}

static const char *ulimit_names[] = {
    "core",   "cpu",  "data",   "fsize",  "locks", "memlock",    "msgqueue",
    "nice",   "nofile", "nproc", "rss",   "rtprio", "rttime", "sigpending",
    "stack"};

static bool abs_path(json_t *p)
{
    const char *s = json_string_value(p);
    return s && s[0] == '/' && !strstr(s, "/../") && strlen(s) < 4096;
}

/* volumes + mountPoints: every mount names a volume; paths absolute. */
static int check_mounts(json_t *cp, char *errstr, size_t errstr_size)
{
    size_t i, k;
    json_t *v, *m;
    static const char *vol_keys[] = {"name", "host"};
    json_array_foreach(json_object_get(cp, "volumes"), i, v)
    {
        const char *n = json_string_value(json_object_get(v, "name"));
        if (check_known_keys(v, vol_keys, 2, "volumes", errstr, errstr_size)) {
            return -1;
        }
        json_t *src = json_object_get(json_object_get(v, "host"), "sourcePath");
        if (!n || !drv_resource_name_valid(n)) {
            FAIL("volumes[%zu].name must be letters, digits, hyphens or "
                 "underscores",
                 i);
        }
        if (src && !drv_path_is_clean(json_string_value(src))) {
            FAIL("containerProperties.volumes[%zu].host.sourcePath must be "
                 "an absolute path without \".\", \"..\" or empty "
                 "components",
                 i);
        }
    }
    json_array_foreach(json_object_get(cp, "mountPoints"), i, m)
    {
        const char *sv = json_string_value(json_object_get(m, "sourceVolume"));
        bool found = false;
        json_array_foreach(json_object_get(cp, "volumes"), k, v)
        {
            found |= sv && !strcmp(sv, json_string_value(json_object_get(
                                           v, "name")));
        }
        if (!found) {
            FAIL("mountPoints[%zu].sourceVolume must name one of volumes", i);
        }
        if (!abs_path(json_object_get(m, "containerPath"))) {
            FAIL("mountPoints[%zu].containerPath must be an absolute path", i);
        }
    }
    return 0;
}

static int check_linux(json_t *cp, char *errstr, size_t errstr_size)
{
    size_t i, k;
    json_t *u, *t;
    json_array_foreach(json_object_get(cp, "ulimits"), i, u)
    {
        const char *n = json_string_value(json_object_get(u, "name"));
        json_t *soft = json_object_get(u, "softLimit");
        json_t *hard = json_object_get(u, "hardLimit");
        bool known = false;
        for (k = 0; n && k < DRV_ARRAY_SIZE(ulimit_names); k++) {
            known |= !strcmp(n, ulimit_names[k]);
        }
        if (!known || !json_is_integer(soft) || !json_is_integer(hard) ||
            json_integer_value(soft) > json_integer_value(hard)) {
            FAIL("ulimits[%zu] needs a known name and integer softLimit <= "
                 "hardLimit",
                 i);
        }
    }
    json_t *lp = json_object_get(cp, "linuxParameters");
    json_t *shm = json_object_get(lp, "sharedMemorySize");
    static const char *lp_keys[] = {"sharedMemorySize", "tmpfs",
                                    "initProcessEnabled", "maxSwap",
                                    "swappiness"};
    if (lp && check_known_keys(lp, lp_keys, DRV_ARRAY_SIZE(lp_keys),
                               "linuxParameters", errstr, errstr_size)) {
        return -1;
    }
    if (shm && (!json_is_integer(shm) || json_integer_value(shm) < 1)) {
        FAIL("linuxParameters.sharedMemorySize must be a positive number of "
             "MiB");
    }
    json_array_foreach(json_object_get(lp, "tmpfs"), i, t)
    {
        json_t *size = json_object_get(t, "size");
        if (!abs_path(json_object_get(t, "containerPath")) ||
            !json_is_integer(size) || json_integer_value(size) < 1) {
            FAIL("linuxParameters.tmpfs[%zu] needs an absolute containerPath "
                 "and a size in MiB",
                 i);
        }
    }
    if (json_object_get(cp, "user") && !json_is_string(json_object_get(cp,
                                                                       "user"))) {
        FAIL("user must be a string");
    }
    return 0;
}

/* RegisterJobDefinition's members and ContainerProperties', as AWS's API
 * has them (2016-08-10): anything else is a typo or a smuggled payload,
 * stored and echoed verbatim if let in. */
static const char *definition_keys[] = {
    "jobDefinitionName", "type", "parameters", "schedulingPriority",
    "containerProperties", "nodeProperties", "retryStrategy",
    "propagateTags", "timeout", "tags", "platformCapabilities",
    "eksProperties", "ecsProperties", "consumableResourceProperties"};

static const char *container_keys[] = {
    "image", "vcpus", "memory", "command", "jobRoleArn", "executionRoleArn",
    "volumes", "environment", "mountPoints", "readonlyRootFilesystem",
    "privileged", "ulimits", "user", "instanceType", "resourceRequirements",
    "linuxParameters", "logConfiguration", "secrets", "networkConfiguration",
    "fargatePlatformConfiguration", "enableExecuteCommand",
    "ephemeralStorage", "runtimePlatform", "repositoryCredentials"};

int drv_job_validate_definition(json_t *req, const drv_job_limits_t *limits,
                                char *errstr, size_t errstr_size)
{
    if (!json_is_object(req)) {
        FAIL("the job definition must be a JSON object");
    }
    if (check_known_keys(req, definition_keys,
                         DRV_ARRAY_SIZE(definition_keys), "job definition",
                         errstr, errstr_size) ||
        check_known_keys(json_object_get(req, "containerProperties"),
                         container_keys, DRV_ARRAY_SIZE(container_keys),
                         "containerProperties", errstr, errstr_size)) {
        return -1;
    }
    const char *name =
        json_string_value(json_object_get(req, "jobDefinitionName"));
    const char *type = json_string_value(json_object_get(req, "type"));
    json_t *cp = json_object_get(req, "containerProperties");
    size_t pi;
    json_t *pc;
    json_array_foreach(json_object_get(req, "platformCapabilities"), pi, pc)
    {
        if (!json_is_string(pc) || strcmp(json_string_value(pc), "EC2")) {
            FAIL("platformCapabilities: FARGATE is not supported by Drover "
                 "(EC2: containers on the compute environment's workers)");
        }
    }
    if (!name || !drv_resource_name_valid(name)) {
        FAIL("jobDefinitionName must be 1 to 128 letters, digits, hyphens or "
             "underscores");
    }
    json_t *sp = json_object_get(req, "schedulingPriority");
    if (sp && (!json_is_integer(sp) || json_integer_value(sp) < 0 ||
               json_integer_value(sp) > DRV_PRIORITY_MAX)) {
        FAIL("schedulingPriority must be from 0 to 9999");
    }
    if (!type || strcmp(type, "container")) {
        FAIL("type must be \"container\" (multinode is not supported yet)");
    }
    if (!json_is_object(cp)) {
        FAIL("containerProperties is required");
    }
    const char *image = json_string_value(json_object_get(cp, "image"));
    if (!image || !*image || strlen(image) > DRV_IMAGE_MAX) {
        FAIL("containerProperties.image is required (at most 255 "
             "characters)");
    }
    double vcpus, memory;
    container_resources(cp, &vcpus, &memory);
    if (check_command(json_object_get(cp, "command"), errstr, errstr_size) ||
        check_environment(json_object_get(cp, "environment"),
                          "containerProperties", errstr, errstr_size) ||
        check_resources(json_object_get(cp, "resourceRequirements"), errstr,
                        errstr_size) ||
        check_string_map(json_object_get(req, "parameters"), "parameters",
                         1000, errstr, errstr_size) ||
        check_string_map(json_object_get(req, "tags"), "tags", 50, errstr,
                         errstr_size) ||
        check_retry(json_object_get(req, "retryStrategy"), errstr,
                    errstr_size) ||
        check_timeout(json_object_get(req, "timeout"), limits, errstr,
                      errstr_size) ||
        check_mounts(cp, errstr, errstr_size) ||
        check_linux(cp, errstr, errstr_size) ||
        check_secrets(json_object_get(cp, "secrets"), errstr, errstr_size) ||
        check_consumables(json_object_get(req, "consumableResourceProperties"),
                          "consumableResourceProperties", errstr,
                          errstr_size)) {
        return -1;
    }
    if (vcpus <= 0 || memory < 4) {
        FAIL("containerProperties must give VCPU and MEMORY in "
             "resourceRequirements (or vcpus and memory)");
    }
    if (vcpus > DRV_VCPUS_MAX || memory > (double)DRV_MEMORY_MIB_MAX) {
        FAIL("containerProperties may ask for at most 4096 vCPUs and 2^30 "
             "MiB (no worker would take more)");
    }
    return 0;
}

/* ---- resolution ------------------------------------------------------- */

static const char *param_value(const char *name, json_t *params,
                               json_t *defaults)
{
    const char *v = json_string_value(json_object_get(params, name));
    return v ? v : json_string_value(json_object_get(defaults, name));
}

/* Replace every Ref::name in s; the name runs over [A-Za-z0-9_-]. At
 * most *budget bytes come out (it is decremented). */
static json_t *substitute_one(const char *s, json_t *params, json_t *defaults,
                              size_t *budget, char *errstr,
                              size_t errstr_size)
{
    size_t cap = strlen(s) + 64, len = 0;
    char *out = drv_malloc(cap);
    const char *p = s;
    while (*p) {
        const char *ref = strstr(p, "Ref::");
        size_t lit = ref ? (size_t)(ref - p) : strlen(p);
        const char *val = NULL;
        size_t nlen = 0;
        if (ref) {
            const char *n = ref + 5;
            while (isalnum((unsigned char)n[nlen]) || n[nlen] == '_' ||
                   n[nlen] == '-') {
                nlen++;
            }
            char name[256];
            snprintf(name, sizeof(name), "%.*s", (int)nlen, n);
            val = nlen ? param_value(name, params, defaults) : NULL;
            if (nlen && !val) {
                drv_errstr_set(errstr, errstr_size,
                               "Unable to substitute value. No parameter "
                               "found for reference %s",
                               name);
                free(out);
                return NULL;
            }
        }
        size_t need = len + lit + (val ? strlen(val) : 5) + 1;
        if (need > *budget) {
            drv_errstr_set(errstr, errstr_size,
                           "containerProperties.command: after parameter "
                           "substitution the command is over %d bytes",
                           DRV_JOB_RESOLVED_MAX);
            free(out);
            return NULL;
        }
        if (need > cap) {
            cap = need * 2;
            char *n2 = realloc(out, cap);
            if (!n2) {
                abort();
            }
            out = n2;
        }
        memcpy(out + len, p, lit);
        len += lit;
        if (!ref) {
            break;
        }
        if (val) {
            memcpy(out + len, val, strlen(val));
            len += strlen(val);
        } else { /* a bare "Ref::" stays as it is */
            memcpy(out + len, "Ref::", 5);
            len += 5;
        }
        p = ref + 5 + nlen;
    }
    json_t *r = json_stringn(out, len);
    *budget -= len;
    free(out);
    return r;
}

json_t *drv_job_substitute(json_t *command, json_t *params, json_t *defaults,
                           char *errstr, size_t errstr_size)
{
    json_t *out = json_array(), *a;
    size_t i, budget = DRV_JOB_RESOLVED_MAX;
    json_array_foreach(command, i, a)
    {
        json_t *s = substitute_one(json_string_value(a), params, defaults,
                                   &budget, errstr, errstr_size);
        if (!s) {
            json_decref(out);
            return NULL;
        }
        json_array_append_new(out, s);
    }
    return out;
}

/* Definition environment, then overrides replacing by name. */
static json_t *merge_environment(json_t *def_env, json_t *over_env)
{
    json_t *out = json_array(), *e;
    size_t i;
    json_array_foreach(def_env, i, e)
    {
        json_array_append(out, e);
    }
    json_array_foreach(over_env, i, e)
    {
        const char *n = json_string_value(json_object_get(e, "name"));
        size_t j;
        json_t *x;
        int replaced = 0;
        json_array_foreach(out, j, x)
        {
            if (!strcmp(json_string_value(json_object_get(x, "name")), n)) {
                json_array_set(out, j, e);
                replaced = 1;
                break;
            }
        }
        if (!replaced) {
            json_array_append(out, e);
        }
    }
    return out;
}

static void override_resources(json_t *cp, json_t *co, double *vcpus,
                               double *memory)
{
    size_t i;
    json_t *r;
    bool def_rr_vcpu = false, def_rr_mem = false;
    json_array_foreach(json_object_get(cp, "resourceRequirements"), i, r)
    {
        const char *t = json_string_value(json_object_get(r, "type"));
        def_rr_vcpu |= t && !strcmp(t, "VCPU");
        def_rr_mem |= t && !strcmp(t, "MEMORY");
    }
    /* legacy vcpus/memory overrides only apply to legacy definitions */
    if (json_is_integer(json_object_get(co, "vcpus")) && !def_rr_vcpu) {
        *vcpus = (double)json_integer_value(json_object_get(co, "vcpus"));
    }
    if (json_is_integer(json_object_get(co, "memory")) && !def_rr_mem) {
        *memory = (double)json_integer_value(json_object_get(co, "memory"));
    }
    json_array_foreach(json_object_get(co, "resourceRequirements"), i, r)
    {
        const char *t = json_string_value(json_object_get(r, "type"));
        const char *v = json_string_value(json_object_get(r, "value"));
        if (!strcmp(t, "VCPU")) {
            drv_parse_double(v, 0, 1e9, vcpus);
        } else if (!strcmp(t, "MEMORY")) {
            drv_parse_double(v, 0, 1e12, memory);
        }
    }
}

/* The resourceRequirements a job runs with, as AWS shows them: the
 * definition's, each replaced by an override of the same type. NULL when
 * neither has any (a definition with the legacy vcpus and memory). */
static json_t *merge_requirements(json_t *def, json_t *over)
{
    if (!json_array_size(def) && !json_array_size(over)) {
        return NULL;
    }
    json_t *out = json_array();
    size_t i, k;
    json_t *r, *o;
    json_array_foreach(def, i, r)
    {
        json_t *pick = r;
        json_array_foreach(over, k, o)
        {
            if (json_equal(json_object_get(o, "type"),
                           json_object_get(r, "type"))) {
                pick = o;
            }
        }
        json_array_append(out, pick);
    }
    json_array_foreach(over, k, o)
    {
        bool known = false;
        json_array_foreach(def, i, r)
        {
            known |= json_equal(json_object_get(o, "type"),
                                json_object_get(r, "type"));
        }
        if (!known) {
            json_array_append(out, o);
        }
    }
    return out;
}

/*
 * What the job needs of consumable resources (AWS: an override changes
 * the quantity of a resource its definition needs, never the list): the
 * definition's list by name, each quantity replaced by the override's.
 * NULL with errstr empty when it needs none; NULL with errstr set when
 * the override names a resource the definition does not need.
 */
static json_t *merge_consumables(json_t *definition, json_t *submit,
                                 char *errstr, size_t errstr_size)
{
    json_t *def = json_object_get(
        json_object_get(definition, "consumableResourceProperties"),
        "consumableResourceList");
    json_t *over = json_object_get(
        json_object_get(submit, "consumableResourcePropertiesOverride"),
        "consumableResourceList");
    size_t i, k;
    json_t *e, *o;
    errstr[0] = '\0';
    json_array_foreach(over, k, o)
    {
        char on[DRV_NAME_MAX + 1], dn[DRV_NAME_MAX + 1];
        bool known = false;
        consumable_name(json_string_value(json_object_get(
                            o, "consumableResource")),
                        on, sizeof(on));
        json_array_foreach(def, i, e)
        {
            known |= consumable_name(json_string_value(json_object_get(
                                         e, "consumableResource")),
                                     dn, sizeof(dn)) &&
                     !strcmp(on, dn);
        }
        if (!known) {
            drv_errstr_set(errstr, errstr_size,
                           "consumableResourcePropertiesOverride: the job "
                           "definition does not need consumable resource %s "
                           "(an override changes quantities only)",
                           on);
            return NULL;
        }
    }
    if (!json_array_size(def)) {
        return NULL;
    }
    json_t *out = json_array();
    json_array_foreach(def, i, e)
    {
        char dn[DRV_NAME_MAX + 1], on[DRV_NAME_MAX + 1];
        consumable_name(json_string_value(json_object_get(
                            e, "consumableResource")),
                        dn, sizeof(dn));
        json_t *q = json_object_get(e, "quantity");
        json_array_foreach(over, k, o)
        {
            if (consumable_name(json_string_value(json_object_get(
                                    o, "consumableResource")),
                                on, sizeof(on)) &&
                !strcmp(on, dn)) {
                q = json_object_get(o, "quantity");
            }
        }
        json_array_append_new(out, json_pack("{s:s,s:O}", "consumableResource",
                                             dn, "quantity", q));
    }
    return out;
}

/* containerProperties fields carried to the worker unchanged. */
static const char *passthrough_keys[] = {
    "mountPoints", "volumes", "readonlyRootFilesystem", "privileged",
    "ulimits", "user", "linuxParameters", "logConfiguration", "secrets"};

json_t *drv_job_resolve(json_t *definition, json_t *submit,
                        const drv_job_limits_t *limits, char *errstr,
                        size_t errstr_size)
{
    json_t *cp = json_object_get(definition, "containerProperties");
    json_t *co = json_object_get(submit, "containerOverrides");
    if (drv_job_validate_submit(submit, limits, errstr, errstr_size) != 0) {
        return NULL;
    }
    json_t *cmd = json_object_get(co, "command");
    if (!cmd) {
        cmd = json_object_get(cp, "command");
    }
    json_t *empty = json_array();
    json_t *command = drv_job_substitute(cmd ? cmd : empty,
                                         json_object_get(submit, "parameters"),
                                         json_object_get(definition,
                                                         "parameters"),
                                         errstr, errstr_size);
    json_decref(empty);
    if (!command) {
        return NULL;
    }
    double vcpus, memory;
    container_resources(cp, &vcpus, &memory);
    override_resources(cp, co, &vcpus, &memory);

    json_t *container = json_pack(
        "{s:O?,s:o,s:o,s:f,s:I}", "image", json_object_get(cp, "image"),
        "command", command, "environment",
        merge_environment(json_object_get(cp, "environment"),
                          json_object_get(co, "environment")),
        "vcpus", vcpus, "memory", (json_int_t)memory);
    json_t *rr = merge_requirements(json_object_get(cp, "resourceRequirements"),
                                    json_object_get(co,
                                                    "resourceRequirements"));
    if (rr) {
        json_object_set_new(container, "resourceRequirements", rr);
    }
    /* whole GPUs (checked: 0..64), the override's if it gives one */
    size_t ri;
    json_t *rq;
    json_array_foreach(rr, ri, rq)
    {
        int64_t g;
        if (!strcmp(json_string_value(json_object_get(rq, "type")), "GPU") &&
            drv_parse_int64(json_string_value(json_object_get(rq, "value")),
                            1, DRV_GPUS_MAX, &g) == 0) {
            json_object_set_new(container, "gpus", json_integer(g));
        }
    }
    for (size_t i = 0; i < DRV_ARRAY_SIZE(passthrough_keys); i++) {
        json_t *v = json_object_get(cp, passthrough_keys[i]);
        if (v) {
            json_object_set(container, passthrough_keys[i], v);
        }
    }
    /* propagateTags (the job's, else its definition's): the definition's
     * and the job's tags, the job's winning, go with the container as
     * labels; more than 50 together fail the job, as on AWS */
    json_t *prop = json_object_get(submit, "propagateTags");
    if (!prop) {
        prop = json_object_get(definition, "propagateTags");
    }
    if (json_is_true(prop)) {
        json_t *tags = json_object();
        json_object_update(tags, json_object_get(definition, "tags"));
        json_object_update(tags, json_object_get(submit, "tags"));
        if (json_object_size(tags) > DRV_TAGS_MAX) {
            drv_errstr_set(errstr, errstr_size,
                           "The job and its job definition have %zu tags "
                           "together: propagateTags allows at most %d",
                           json_object_size(tags), DRV_TAGS_MAX);
            json_decref(tags);
            json_decref(container);
            return NULL;
        }
        json_object_set_new(container, "tags", tags);
    }
    json_t *out = json_pack("{s:o}", "container", container);
    json_t *cons = merge_consumables(definition, submit, errstr, errstr_size);
    if (!cons && errstr[0]) {
        json_decref(out);
        return NULL;
    }
    if (cons) {
        json_object_set_new(out, "consumableResourceProperties",
                            json_pack("{s:o}", "consumableResourceList",
                                      cons));
    }
    /* the parameters it ran with, as AWS's DescribeJobs shows them: the
     * definition's defaults, each replaced by the submission's */
    json_t *params = json_deep_copy(json_object_get(definition, "parameters"));
    if (!json_is_object(params)) {
        json_decref(params);
        params = json_object();
    }
    json_object_update(params, json_object_get(submit, "parameters"));
    json_object_set_new(out, "parameters", params);
    json_t *rs = json_object_get(submit, "retryStrategy");
    json_t *to = json_object_get(submit, "timeout");
    rs = rs ? rs : json_object_get(definition, "retryStrategy");
    to = to ? to : json_object_get(definition, "timeout");
    if (rs) {
        json_object_set(out, "retryStrategy", rs);
    }
    if (to) {
        json_object_set(out, "timeout", to);
    }
    size_t size = json_dumpb(out, NULL, 0, JSON_COMPACT);
    if (size > DRV_JOB_RESOLVED_MAX) {
        drv_errstr_set(errstr, errstr_size,
                       "the job resolves to %zu bytes (definition, overrides "
                       "and parameters together); at most %d",
                       size, DRV_JOB_RESOLVED_MAX);
        json_decref(out);
        return NULL;
    }
    return out;
}

/* AWS's patterns: exact, or a prefix when the last character is '*'. */
static bool glob_match(const char *pat, const char *s)
{
    size_t n = strlen(pat);
    if (n > 0 && pat[n - 1] == '*') {
        return strncmp(pat, s, n - 1) == 0;
    }
    return strcmp(pat, s) == 0;
}

bool drv_job_should_retry(json_t *retry_strategy, int attempts_made,
                          int exit_code, const char *reason,
                          const char *status_reason)
{
    json_t *att = json_object_get(retry_strategy, "attempts");
    int max = json_is_integer(att) ? (int)json_integer_value(att) : 1;
    if (attempts_made >= max) {
        return false;
    }
    char code[16] = "";
    if (exit_code >= 0) {
        snprintf(code, sizeof(code), "%d", exit_code);
    }
    size_t i;
    json_t *r;
    json_array_foreach(json_object_get(retry_strategy, "evaluateOnExit"), i, r)
    {
        const char *oc = json_string_value(json_object_get(r, "onExitCode"));
        const char *orr = json_string_value(json_object_get(r, "onReason"));
        const char *osr =
            json_string_value(json_object_get(r, "onStatusReason"));
        if ((oc && (exit_code < 0 || !glob_match(oc, code))) ||
            (orr && !glob_match(orr, reason ? reason : "")) ||
            (osr && !glob_match(osr, status_reason ? status_reason : ""))) {
            continue;
        }
        return strcasecmp(json_string_value(json_object_get(r, "action")),
                          "RETRY") == 0;
    }
    return true;
}
