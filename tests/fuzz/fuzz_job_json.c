/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target: JSON job definitions and submissions as the CLI, the
 * producer library and the dispatcher read them. The input is parsed with
 * jansson, validated as a RegisterJobDefinition and as a SubmitJob, and,
 * where both are valid, resolved into the job the worker would run.
 * Invalid input must be refused with a message.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "drover/err.h"
#include "drover/job.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *base_definition =
    "{\"jobDefinitionName\":\"d\",\"type\":\"container\",\"parameters\":"
    "{\"p\":\"x\"},\"containerProperties\":{\"image\":\"busybox\","
    "\"command\":[\"echo\",\"Ref::p\"],\"resourceRequirements\":[{\"type\":"
    "\"VCPU\",\"value\":\"1\"},{\"type\":\"MEMORY\",\"value\":\"64\"}]}}";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char e[DRV_ERRSTR_SIZE];
    drv_job_limits_t limits = {.timeout_min_seconds = 60};
    json_t *in = json_loadb((const char *)data, size, JSON_DECODE_ANY, NULL);
    if (!in) {
        return 0;
    }
    e[0] = '\0';
    int def_ok = drv_job_validate_definition(in, &limits, e, sizeof(e)) == 0;
    if (!def_ok && !e[0]) {
        abort(); /* refused without saying why */
    }
    e[0] = '\0';
    int sub_ok = drv_job_validate_submit(in, &limits, e, sizeof(e)) == 0;
    if (!sub_ok && !e[0]) {
        abort();
    }
    json_t *def = json_loads(base_definition, 0, NULL);
    if (sub_ok) { /* the submission against a fixed definition */
        e[0] = '\0';
        json_t *job = drv_job_resolve(def, in, &limits, e, sizeof(e));
        if (!job && !e[0]) {
            abort();
        }
        json_decref(job);
    }
    if (def_ok) { /* the definition with a minimal submission */
        json_t *sub = json_pack("{s:s,s:s,s:s}", "jobName", "j", "jobQueue",
                                "q", "jobDefinition", "d");
        json_t *job = drv_job_resolve(in, sub, &limits, e, sizeof(e));
        json_decref(job);
        json_decref(sub);
    }
    json_decref(def);
    json_decref(in);
    return 0;
}
