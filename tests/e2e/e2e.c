/* SPDX-License-Identifier: Apache-2.0 */
/* Helpers for the end-to-end suites: see e2e.h. */
#include "e2e.h"

#include "drover/origin.h"
#include "drover/util.h"

#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

drv_conf_t *e2e_conf;
drv_client_t *e2e_client;
/* what the suites' own client logs (warnings up): the stack's logs
 * directory, where tests/e2e/run looks for replies that did not fit the
 * AWS model */
static drv_log_t *e2e_log;
static int e2e_log_fd = -1;

void e2e_setup(void)
{
    char e[DRV_ERRSTR_SIZE], path[1024];
    ck_assert_msg(getenv("DROVER_CONFIG"),
                  "DROVER_CONFIG is not set: run through tests/e2e/run");
    e2e_conf = drv_conf_load(NULL, e, sizeof(e));
    ck_assert_msg(e2e_conf != NULL, "%s", e);
    const char *dir = getenv("DROVER_STACK_DIR");
    if (dir) {
        snprintf(path, sizeof(path), "%s/logs/e2e-client.log", dir);
        e2e_log_fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC,
                          0600);
    }
    e2e_log = e2e_log_fd >= 0 ? drv_log_new("e2e-client", e2e_log_fd) : NULL;
    if (e2e_log) {
        drv_log_set_level(e2e_log, DRV_LOG_WARN);
    }
    e2e_client = drv_client_new(e2e_conf, e2e_log);
}

drv_conf_t *e2e_role_conf(const char *role)
{
    char path[1024], e[DRV_ERRSTR_SIZE];
    snprintf(path, sizeof(path), "%s/conf/%s.conf",
             getenv("DROVER_STACK_DIR"), role);
    drv_conf_t *c = drv_conf_load(path, e, sizeof(e));
    ck_assert_msg(c != NULL, "%s", e);
    return c;
}

void e2e_sign(const char *ce, const char *worker, const void *buf,
              size_t len, char *origin, char *sig, drv_kheader_t h[2])
{
    char e[DRV_ERRSTR_SIZE];
    drv_conf_t *d = e2e_role_conf("dispatcher");
    drv_origin_key_t master, key;
    ck_assert_msg(drv_origin_key_parse(drv_conf_get(d, "dispatcher.worker.key"
                                                       ".master"),
                                       "master", &master, e, sizeof(e)) == 0,
                  "%s", e);
    drv_conf_destroy(d);
    drv_origin_derive(&master, ce, worker, &key);
    ck_assert(drv_origin_name(ce, worker, origin, DRV_ORIGIN_NAME_SIZE));
    drv_origin_sign(&key, origin, buf, len, sig);
    h[0] = (drv_kheader_t){DRV_ORIGIN_HEADER, origin};
    h[1] = (drv_kheader_t){DRV_ORIGIN_SIG_HEADER, sig};
}

void e2e_teardown(void)
{
    drv_client_destroy(e2e_client);
    drv_conf_destroy(e2e_conf);
    drv_log_destroy(e2e_log);
    if (e2e_log_fd >= 0) {
        close(e2e_log_fd);
    }
    e2e_client = NULL;
    e2e_conf = NULL;
    e2e_log = NULL;
    e2e_log_fd = -1;
}

json_t *e2e_call(const char *op, const char *fmt, ...)
{
    char text[8192], e[DRV_ERRSTR_SIZE];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);
    json_error_t je;
    json_t *req = json_loads(text, 0, &je);
    ck_assert_msg(req != NULL, "bad request JSON %s: %s", text, je.text);
    drv_err_t err;
    json_t *resp = drv_client_call(e2e_client, op, req, &err, e, sizeof(e));
    json_decref(req);
    ck_assert_msg(resp != NULL, "%s refused: %s", op, e);
    return resp;
}

void e2e_register(const char *name, const char *command_json, int memory_mib)
{
    json_decref(e2e_call(
        "RegisterJobDefinition",
        "{\"jobDefinitionName\":\"%s\",\"type\":\"container\","
        "\"containerProperties\":{\"image\":\"localhost/drover/busybox:latest\","
        "\"command\":%s,\"resourceRequirements\":[{\"type\":\"VCPU\","
        "\"value\":\"0.25\"},{\"type\":\"MEMORY\",\"value\":\"%d\"}]}}",
        name, command_json, memory_mib));
}

const char *e2e_submit_to(const char *queue, const char *name,
                          const char *definition, const char *extra_json)
{
    static char ids[32][40];
    static int next;
    json_t *r = e2e_call("SubmitJob",
                         "{\"jobName\":\"%s\",\"jobQueue\":\"%s\","
                         "\"jobDefinition\":\"%s\"%s%s}",
                         name, queue, definition, extra_json ? "," : "",
                         extra_json ? extra_json : "");
    char *id = ids[next++ % 32];
    snprintf(id, 40, "%s", json_string_value(json_object_get(r, "jobId")));
    json_decref(r);
    return id;
}

const char *e2e_submit(const char *name, const char *definition,
                       const char *extra_json)
{
    return e2e_submit_to("default", name, definition, extra_json);
}

void e2e_register_full(const char *name, const char *container_json,
                       const char *extra_json)
{
    json_decref(e2e_call("RegisterJobDefinition",
                         "{\"jobDefinitionName\":\"%s\",\"type\":"
                         "\"container\",\"containerProperties\":%s%s%s}",
                         name, container_json, extra_json ? "," : "",
                         extra_json ? extra_json : ""));
}

json_int_t e2e_int(json_t *job, const char *key)
{
    return json_integer_value(json_object_get(job, key));
}

char *e2e_job_log(const char *job_id, int attempt)
{
    char path[1024], e[DRV_ERRSTR_SIZE];
    snprintf(path, sizeof(path), "%s/joblogs/%s/%d.log",
             getenv("DROVER_STACK_DIR"), job_id, attempt);
    char *out = drv_read_file(path, NULL, e, sizeof(e));
    ck_assert_msg(out != NULL, "%s", e);
    return out;
}

static int rank(const char *status)
{
    static const char *order[] = {"SUBMITTED", "PENDING", "RUNNABLE",
                                  "STARTING",  "RUNNING", "SUCCEEDED"};
    for (int i = 0; i < 6; i++) {
        if (!strcmp(order[i], status)) {
            return i;
        }
    }
    return 6; /* FAILED: as late as it gets */
}

json_t *e2e_wait_status(const char *job_id, const char *status,
                        int timeout_s)
{
    for (int i = 0; i < timeout_s * 10; i++) {
        json_t *r = e2e_call("DescribeJobs", "{\"jobs\":[\"%s\"]}", job_id);
        json_t *j = json_array_get(json_object_get(r, "jobs"), 0);
        const char *st = json_string_value(json_object_get(j, "status"));
        if (st && rank(st) >= rank(status)) {
            json_incref(j);
            json_decref(r);
            return j;
        }
        json_decref(r);
        usleep(100 * 1000);
    }
    ck_abort_msg("job %s did not reach %s within %d s", job_id, status,
                 timeout_s);
    return NULL;
}

json_t *e2e_wait(const char *job_id, int timeout_s)
{
    for (int i = 0; i < timeout_s * 5; i++) {
        json_t *r = e2e_call("DescribeJobs", "{\"jobs\":[\"%s\"]}", job_id);
        json_t *j = json_array_get(json_object_get(r, "jobs"), 0);
        const char *st = json_string_value(json_object_get(j, "status"));
        if (st && (!strcmp(st, "SUCCEEDED") || !strcmp(st, "FAILED"))) {
            json_incref(j);
            json_decref(r);
            return j;
        }
        json_decref(r);
        usleep(200 * 1000);
    }
    ck_abort_msg("job %s did not finish within %d s", job_id, timeout_s);
    return NULL;
}

int e2e_cli(const char *args, char *err_out, size_t err_size)
{
    char cmd[4096], path[] = "/tmp/drv-e2e-XXXXXX";
    int fd = mkstemp(path);
    close(fd);
    snprintf(cmd, sizeof(cmd), "%s/build/bin/drover %s >/dev/null 2>%s",
             getenv("DROVER_SOURCE_DIR"), args, path);
    int rc = system(cmd);
    FILE *fp = fopen(path, "r");
    size_t n = fp ? fread(err_out, 1, err_size - 1, fp) : 0;
    err_out[n] = '\0';
    if (fp) {
        fclose(fp);
    }
    unlink(path);
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}
