/* SPDX-License-Identifier: Apache-2.0 */
/* Argument parsing for the drover CLI: see args.h. */
#include "args.h"

#include <ctype.h>
#include <string.h>

#include "drover/err.h"
#include "drover/util.h"

#define S DRV_ARG_STR
#define I DRV_ARG_INT
#define LG DRV_ARG_LONG
#define B DRV_ARG_BOOL
#define L DRV_ARG_STRLIST
#define T DRV_ARG_STRUCT
#define TL DRV_ARG_STRUCTLIST
#define M DRV_ARG_MAP

const drv_cli_verb_t drv_cli_verbs[] = {
    {"submit-job", "SubmitJob", "submit a job to a queue",
     {{"job-name", "jobName", S},
      {"job-queue", "jobQueue", S},
      {"job-definition", "jobDefinition", S},
      {"array-properties", "arrayProperties", T},
      {"depends-on", "dependsOn", TL},
      {"parameters", "parameters", M},
      {"container-overrides", "containerOverrides", T},
      {"retry-strategy", "retryStrategy", T},
      {"timeout", "timeout", T},
      {"tags", "tags", M},
      {"propagate-tags", "propagateTags", B},
      {"scheduling-priority-override", "schedulingPriorityOverride", I},
      {"share-identifier", "shareIdentifier", S},
      {"consumable-resource-properties-override",
       "consumableResourcePropertiesOverride", T}}},
    {"describe-jobs", "DescribeJobs", "describe jobs by id (at most 100)",
     {{"jobs", "jobs", L}}},
    {"list-jobs", "ListJobs", "list a queue's jobs (RUNNING unless told)",
     {{"job-queue", "jobQueue", S},
      {"array-job-id", "arrayJobId", S},
      {"job-status", "jobStatus", S},
      {"filters", "filters", TL},
      {"max-results", "maxResults", I},
      {"next-token", "nextToken", S}}},
    {"cancel-job", "CancelJob", "cancel a job not yet STARTING",
     {{"job-id", "jobId", S}, {"reason", "reason", S}}},
    {"terminate-job", "TerminateJob", "terminate a job",
     {{"job-id", "jobId", S}, {"reason", "reason", S}}},
    {"register-job-definition", "RegisterJobDefinition",
     "register a job definition revision",
     {{"job-definition-name", "jobDefinitionName", S},
      {"type", "type", S},
      {"parameters", "parameters", M},
      {"container-properties", "containerProperties", T},
      {"retry-strategy", "retryStrategy", T},
      {"timeout", "timeout", T},
      {"tags", "tags", M},
      {"propagate-tags", "propagateTags", B},
      {"platform-capabilities", "platformCapabilities", L},
      {"scheduling-priority", "schedulingPriority", I},
      {"consumable-resource-properties", "consumableResourceProperties", T}}},
    {"describe-job-definitions", "DescribeJobDefinitions",
     "describe job definitions",
     {{"job-definitions", "jobDefinitions", L},
      {"job-definition-name", "jobDefinitionName", S},
      {"status", "status", S},
      {"max-results", "maxResults", I},
      {"next-token", "nextToken", S}}},
    {"deregister-job-definition", "DeregisterJobDefinition",
     "make a job definition revision INACTIVE",
     {{"job-definition", "jobDefinition", S}}},
    {"create-compute-environment", "CreateComputeEnvironment",
     "create a compute environment (a worker pool and its budget)",
     {{"compute-environment-name", "computeEnvironmentName", S},
      {"type", "type", S},
      {"state", "state", S},
      {"compute-resources", "computeResources", T},
      {"unmanagedv-cpus", "unmanagedvCpus", I},
      {"container-policy", "containerPolicy", T},
      {"tags", "tags", M}}},
    {"describe-compute-environments", "DescribeComputeEnvironments",
     "describe compute environments",
     {{"compute-environments", "computeEnvironments", L},
      {"max-results", "maxResults", I},
      {"next-token", "nextToken", S}}},
    {"create-job-queue", "CreateJobQueue", "create a job queue",
     {{"job-queue-name", "jobQueueName", S},
      {"state", "state", S},
      {"priority", "priority", I},
      {"compute-environment-order", "computeEnvironmentOrder", TL},
      {"scheduling-policy-arn", "schedulingPolicyArn", S},
      {"job-state-time-limit-actions", "jobStateTimeLimitActions", TL},
      {"tags", "tags", M}}},
    {"update-job-queue", "UpdateJobQueue",
     "change a queue's state, priority, compute environments or policy",
     {{"job-queue", "jobQueue", S},
      {"state", "state", S},
      {"priority", "priority", I},
      {"compute-environment-order", "computeEnvironmentOrder", TL},
      {"scheduling-policy-arn", "schedulingPolicyArn", S},
      {"job-state-time-limit-actions", "jobStateTimeLimitActions", TL}}},
    {"get-job-queue-snapshot", "GetJobQueueSnapshot",
     "the first 100 RUNNABLE jobs in dispatch order, and capacity use",
     {{"job-queue", "jobQueue", S}}},
    {"describe-job-queues", "DescribeJobQueues", "describe job queues",
     {{"job-queues", "jobQueues", L},
      {"max-results", "maxResults", I},
      {"next-token", "nextToken", S}}},
    {"delete-job-queue", "DeleteJobQueue", "delete a DISABLED job queue",
     {{"job-queue", "jobQueue", S}}},
    {"update-compute-environment", "UpdateComputeEnvironment",
     "change a compute environment's state or maxvCpus",
     {{"compute-environment", "computeEnvironment", S},
      {"state", "state", S},
      {"compute-resources", "computeResources", T}}},
    {"delete-compute-environment", "DeleteComputeEnvironment",
     "delete a DISABLED compute environment no queue uses",
     {{"compute-environment", "computeEnvironment", S}}},
    {"create-scheduling-policy", "CreateSchedulingPolicy",
     "create a fair-share scheduling policy",
     {{"name", "name", S},
      {"fairshare-policy", "fairsharePolicy", T},
      {"tags", "tags", M}}},
    {"describe-scheduling-policies", "DescribeSchedulingPolicies",
     "describe scheduling policies by ARN or name",
     {{"arns", "arns", L}}},
    {"list-scheduling-policies", "ListSchedulingPolicies",
     "list scheduling policies",
     {{"max-results", "maxResults", I}, {"next-token", "nextToken", S}}},
    {"update-scheduling-policy", "UpdateSchedulingPolicy",
     "replace a scheduling policy's fairsharePolicy",
     {{"arn", "arn", S}, {"fairshare-policy", "fairsharePolicy", T}}},
    {"delete-scheduling-policy", "DeleteSchedulingPolicy",
     "delete a scheduling policy no job queue uses",
     {{"arn", "arn", S}}},
    {"create-consumable-resource", "CreateConsumableResource",
     "create a consumable resource (a licence, a connection pool, a quota)",
     {{"consumable-resource-name", "consumableResourceName", S},
      {"total-quantity", "totalQuantity", LG},
      {"resource-type", "resourceType", S},
      {"tags", "tags", M}}},
    {"describe-consumable-resource", "DescribeConsumableResource",
     "a consumable resource's total, in-use and available quantities",
     {{"consumable-resource", "consumableResource", S}}},
    {"list-consumable-resources", "ListConsumableResources",
     "list consumable resources",
     {{"filters", "filters", TL},
      {"max-results", "maxResults", I},
      {"next-token", "nextToken", S}}},
    {"update-consumable-resource", "UpdateConsumableResource",
     "SET, ADD or REMOVE a consumable resource's total quantity",
     {{"consumable-resource", "consumableResource", S},
      {"operation", "operation", S},
      {"quantity", "quantity", LG},
      {"client-token", "clientToken", S}}},
    {"delete-consumable-resource", "DeleteConsumableResource",
     "delete a consumable resource no unfinished job needs",
     {{"consumable-resource", "consumableResource", S}}},
    {"list-jobs-by-consumable-resource", "ListJobsByConsumableResource",
     "the jobs that need a consumable resource, newest first",
     {{"consumable-resource", "consumableResource", S},
      {"filters", "filters", TL},
      {"max-results", "maxResults", I},
      {"next-token", "nextToken", S}}},
    {"tag-resource", "TagResource",
     "tag a job, definition, queue, CE, policy or consumable resource",
     {{"resource-arn", "resourceArn", S}, {"tags", "tags", M}}},
    {"untag-resource", "UntagResource", "remove tags from a resource",
     {{"resource-arn", "resourceArn", S}, {"tag-keys", "tagKeys", L}}},
    {"list-tags-for-resource", "ListTagsForResource", "a resource's tags",
     {{"resource-arn", "resourceArn", S}}},
    {NULL, NULL, NULL, {{0}}},
};

const drv_cli_verb_t *drv_cli_find(const char *name)
{
    for (const drv_cli_verb_t *v = drv_cli_verbs; v->verb; v++) {
        if (!strcmp(v->verb, name)) {
            return v;
        }
    }
    return NULL;
}

static json_t *load_json(const char *text, const char *what, char *errstr,
                         size_t errstr_size)
{
    json_error_t e;
    json_t *j = json_loads(text, JSON_DECODE_ANY, &e);
    if (!j) {
        drv_errstr_set(errstr, errstr_size,
                       "%s: invalid JSON: %s (line %d, column %d)", what,
                       e.text, e.line, e.column);
    }
    return j;
}

json_t *drv_cli_input_json(const char *value, char *errstr,
                           size_t errstr_size)
{
    char *text = NULL;
    if (!strcmp(value, "-") || !strcmp(value, "file:///dev/stdin")) {
        text = drv_read_file("/dev/stdin", NULL, errstr, errstr_size);
    } else if (drv_str_has_prefix(value, "file://")) {
        text = drv_read_file(value + 7, NULL, errstr, errstr_size);
    } else {
        return load_json(value, "--cli-input-json", errstr, errstr_size);
    }
    if (!text) {
        return NULL;
    }
    json_t *j = load_json(text, value, errstr, errstr_size);
    free(text);
    return j;
}

/* A shorthand scalar: integers and booleans typed, the rest strings. */
static json_t *scalar(const char *s, size_t n)
{
    char buf[4096];
    snprintf(buf, sizeof(buf), "%.*s", (int)n, s);
    int64_t v;
    if (drv_parse_int64(buf, INT64_MIN, INT64_MAX, &v) == 0) {
        return json_integer(v);
    }
    if (!strcmp(buf, "true") || !strcmp(buf, "false")) {
        return json_boolean(buf[0] == 't');
    }
    return json_string(buf);
}

/* k=v,k2=v2 -> object; `typed` converts integers and booleans. */
static json_t *shorthand(const char *s, bool typed, const char *flag,
                         char *errstr, size_t errstr_size)
{
    json_t *o = json_object();
    while (*s) {
        const char *eq = strchr(s, '=');
        const char *end = strchr(s, ',');
        if (!eq || (end && end < eq)) {
            json_decref(o);
            drv_errstr_set(errstr, errstr_size,
                           "--%s: expected key=value[,key=value...] or JSON",
                           flag);
            return NULL;
        }
        size_t vlen = end ? (size_t)(end - eq - 1) : strlen(eq + 1);
        char key[256];
        snprintf(key, sizeof(key), "%.*s", (int)(eq - s), s);
        json_t *v;
        if (!strcmp(key, "values")) { /* filters: a list of strings */
            v = json_pack("[s%]", eq + 1, vlen);
        } else {
            v = typed ? scalar(eq + 1, vlen) : json_stringn(eq + 1, vlen);
        }
        json_object_set_new(o, key, v);
        s = end ? end + 1 : eq + 1 + vlen;
    }
    return o;
}

static json_t *structured(const char *value, bool typed, const char *flag,
                          char *errstr, size_t errstr_size)
{
    if (drv_str_has_prefix(value, "file://")) {
        return drv_cli_input_json(value, errstr, errstr_size);
    }
    if (value[0] == '{' || value[0] == '[') {
        return load_json(value, flag, errstr, errstr_size);
    }
    return shorthand(value, typed, flag, errstr, errstr_size);
}

static json_t *one_value(const drv_cli_arg_t *a, int argc,
                         const char *const *argv,
                         int *i, char *errstr, size_t errstr_size)
{
    if (*i + 1 >= argc) {
        drv_errstr_set(errstr, errstr_size, "--%s needs a value", a->flag);
        return NULL;
    }
    const char *v = argv[++*i];
    int64_t n;
    switch (a->kind) {
    case DRV_ARG_STR:
        return json_string(v);
    case DRV_ARG_INT:
        if (drv_parse_int64(v, INT32_MIN, INT32_MAX, &n) != 0) {
            drv_errstr_set(errstr, errstr_size, "--%s needs an integer, not "
                                                "\"%s\"", a->flag, v);
            return NULL;
        }
        return json_integer(n);
    case DRV_ARG_LONG:
        if (drv_parse_int64(v, INT64_MIN, INT64_MAX, &n) != 0) {
            drv_errstr_set(errstr, errstr_size, "--%s needs an integer, not "
                                                "\"%s\"", a->flag, v);
            return NULL;
        }
        return json_integer(n);
    case DRV_ARG_BOOL:
        return json_boolean(strcmp(v, "false") != 0);
    case DRV_ARG_STRUCT:
        return structured(v, true, a->flag, errstr, errstr_size);
    case DRV_ARG_MAP:
        return structured(v, false, a->flag, errstr, errstr_size);
    case DRV_ARG_STRLIST:
    case DRV_ARG_STRUCTLIST: {
        if (v[0] == '[' || drv_str_has_prefix(v, "file://")) {
            return structured(v, true, a->flag, errstr, errstr_size);
        }
        json_t *list = json_array();
        for (--*i; *i + 1 < argc && !drv_str_has_prefix(argv[*i + 1], "--");) {
            const char *item = argv[++*i];
            json_t *x = a->kind == DRV_ARG_STRLIST
                            ? json_string(item)
                            : structured(item, true, a->flag, errstr,
                                         errstr_size);
            if (!x) {
                json_decref(list);
                return NULL;
            }
            json_array_append_new(list, x);
        }
        return list;
    }
    }
    return NULL;
}

int drv_cli_parse(const drv_cli_verb_t *verb, int argc,
                  const char *const *argv,
                  json_t *req, char *errstr, size_t errstr_size)
{
    for (int i = 0; i < argc; i++) { /* JSON strings are UTF-8 */
        json_t *t = json_string(argv[i]);
        if (!t) {
            drv_errstr_set(errstr, errstr_size,
                           "%s: argument %d is not valid UTF-8", verb->verb,
                           i + 1);
            return -1;
        }
        json_decref(t);
    }
    for (int i = 0; i < argc; i++) {
        const char *f = argv[i];
        const drv_cli_arg_t *a = NULL;
        if (drv_str_has_prefix(f, "--")) {
            for (const drv_cli_arg_t *x = verb->args; x->flag; x++) {
                if (!strcmp(x->flag, f + 2)) {
                    a = x;
                }
            }
        }
        if (!a) {
            drv_errstr_set(errstr, errstr_size,
                           "%s: unknown argument \"%s\" (see drover %s "
                           "--help)",
                           verb->verb, f, verb->verb);
            return -1;
        }
        json_t *v = one_value(a, argc, argv, &i, errstr, errstr_size);
        if (!v) {
            return -1;
        }
        json_object_set_new(req, a->field, v);
    }
    return 0;
}

void drv_cli_print_verbs(FILE *fp)
{
    for (const drv_cli_verb_t *v = drv_cli_verbs; v->verb; v++) {
        fprintf(fp, "  %-32s %s\n", v->verb, v->summary);
    }
}

void drv_cli_print_verb_help(const drv_cli_verb_t *verb, FILE *fp)
{
    static const char *kinds[] = {"STRING", "INTEGER", "true|false",
                                  "VALUE...", "k=v,...|JSON",
                                  "k=v,... ...|JSON", "k=v,...|JSON"};
    fprintf(fp, "usage: drover %s [--cli-input-json file://PATH|-] [flags]\n"
                "\n%s (AWS Batch %s).\n\n",
            verb->verb, verb->summary, verb->op);
    for (const drv_cli_arg_t *a = verb->args; a->flag; a++) {
        fprintf(fp, "  --%-32s %s\n", a->flag, kinds[a->kind]);
    }
}
