/* SPDX-License-Identifier: Apache-2.0 */
/*
 * One attempt of one job, run as a container through the Docker Engine
 * API: create (pulling the image if the engine lacks it), start, wait with
 * the attempt's timeout, inspect, keep the output, remove; reporting
 * STARTING, RUNNING and the outcome with AWS's reasons.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "drover/docker.h"
#include "drover/job.h"
#include "drover/util.h"
#include "worker_int.h"

#define SECRET_MAX 65536

#define LOG_MAX (1024 * 1024)

static void add_env(json_t *env, const char *name, const char *value)
{
    json_array_append_new(env, json_sprintf("AWS_BATCH_%s=%s", name, value));
    json_array_append_new(env, json_sprintf("DROVER_%s=%s", name, value));
}

/* Docker's ulimits: nofile and nproc at 1024 unless the job says. */
static json_t *ulimits(json_t *run)
{
    json_t *out = json_array(), *u;
    size_t i;
    const char *defaults[] = {"nofile", "nproc"};
    for (int d = 0; d < 2; d++) {
        bool given = false;
        json_array_foreach(json_object_get(run, "ulimits"), i, u)
        {
            given |= !strcmp(json_string_value(json_object_get(u, "name")),
                             defaults[d]);
        }
        if (!given) {
            json_array_append_new(out, json_pack("{s:s,s:i,s:i}", "Name",
                                                 defaults[d], "Soft", 1024,
                                                 "Hard", 1024));
        }
    }
    json_array_foreach(json_object_get(run, "ulimits"), i, u)
    {
        json_array_append_new(
            out, json_pack("{s:O,s:O,s:O}", "Name", json_object_get(u, "name"),
                           "Soft", json_object_get(u, "softLimit"), "Hard",
                           json_object_get(u, "hardLimit")));
    }
    return out;
}

/* mountPoints over volumes: host paths become binds, the rest anonymous
 * volumes (the dispatcher checked host paths against the environment). */
static void mounts(json_t *run, json_t *host, json_t *spec)
{
    json_t *binds = json_array(), *anon = json_object(), *m, *v;
    size_t i, k;
    json_array_foreach(json_object_get(run, "mountPoints"), i, m)
    {
        const char *sv = json_string_value(json_object_get(m, "sourceVolume"));
        const char *dst = json_string_value(json_object_get(m,
                                                            "containerPath"));
        json_array_foreach(json_object_get(run, "volumes"), k, v)
        {
            if (strcmp(sv, json_string_value(json_object_get(v, "name")))) {
                continue;
            }
            const char *src = json_string_value(json_object_get(
                json_object_get(v, "host"), "sourcePath"));
            if (src) {
                json_array_append_new(
                    binds, json_sprintf("%s:%s%s", src, dst,
                                        json_is_true(json_object_get(
                                            m, "readOnly"))
                                            ? ":ro"
                                            : ""));
            } else {
                json_object_set_new(anon, dst, json_object());
            }
        }
    }
    json_object_set_new(host, "Binds", binds);
    json_object_set_new(spec, "Volumes", anon);
}

/* linuxParameters: shm size, tmpfs, init, swap. */
static void linux_params(json_t *run, json_t *host, json_int_t mem)
{
    json_t *lp = json_object_get(run, "linuxParameters"), *t, *o;
    size_t i, k;
    json_t *shm = json_object_get(lp, "sharedMemorySize");
    if (json_is_integer(shm)) {
        json_object_set_new(host, "ShmSize",
                            json_integer(json_integer_value(shm) << 20));
    }
    json_t *tmpfs = json_object();
    json_array_foreach(json_object_get(lp, "tmpfs"), i, t)
    {
        char opts[1024];
        int n = snprintf(opts, sizeof(opts), "size=%" JSON_INTEGER_FORMAT "m",
                         json_integer_value(json_object_get(t, "size")));
        json_array_foreach(json_object_get(t, "mountOptions"), k, o)
        {
            n += snprintf(opts + n, sizeof(opts) - (size_t)n, ",%s",
                          json_string_value(o));
        }
        json_object_set_new(tmpfs,
                            json_string_value(json_object_get(t,
                                                              "containerPath")),
                            json_string(opts));
    }
    json_object_set_new(host, "Tmpfs", tmpfs);
    if (json_is_true(json_object_get(lp, "initProcessEnabled"))) {
        json_object_set_new(host, "Init", json_true());
    }
    json_t *swap = json_object_get(lp, "maxSwap");
    if (json_is_integer(swap)) { /* AWS: memory + maxSwap; 0 means none */
        json_object_set_new(host, "MemorySwap",
                            json_integer(mem + (json_integer_value(swap) << 20)));
        json_t *sw = json_object_get(lp, "swappiness");
        if (json_is_integer(sw)) {
            json_object_set(host, "MemorySwappiness", sw);
        }
    }
}

/*
 * Add the job's secrets to the environment, read from the compute
 * environment's secret store (worker.secrets.dir: a file per secret). The
 * values exist only here and in the engine's container config (removed
 * with the container); errors name the secret, never its value.
 */
int drv__attempt_secrets(drv__attempt_t *a, json_t *env, char *e,
                         size_t esize)
{
    json_t *secrets = json_object_get(a->run, "secrets"), *s;
    size_t i;
    if (json_array_size(secrets) == 0) {
        return 0;
    }
    const char *dir = drv_conf_get(a->wrk->conf, "worker.secrets.dir");
    json_array_foreach(secrets, i, s)
    {
        const char *from = json_string_value(json_object_get(s, "valueFrom"));
        const char *ref = drv_job_secret_ref(from ? from : "");
        char path[1024];
        if (!dir || !*dir) {
            drv_errstr_set(e, esize,
                           DRV_REASON_SECRETS ": compute environment %s has "
                                              "no secret store "
                                              "(worker.secrets.dir)",
                           a->wrk->ce);
            return -1;
        }
        snprintf(path, sizeof(path), "%s/%s", dir, ref);
        FILE *fp = strstr(ref, "..") ? NULL : fopen(path, "r");
        if (!fp) {
            drv_errstr_set(e, esize,
                           DRV_REASON_SECRETS ": secret %s: %s", from,
                           strstr(ref, "..") ? "not a secret name"
                                             : strerror(errno));
            return -1;
        }
        char value[SECRET_MAX + 1];
        size_t n = fread(value, 1, SECRET_MAX, fp);
        bool more = fgetc(fp) != EOF;
        fclose(fp);
        if (more) {
            drv_errstr_set(e, esize,
                           DRV_REASON_SECRETS ": secret %s is larger than %d "
                                              "bytes",
                           from, SECRET_MAX);
            return -1;
        }
        value[n] = '\0';
        if (n > 0 && value[n - 1] == '\n') { /* as `echo x > file` wrote it */
            value[--n] = '\0';
        }
        json_array_append_new(
            env, json_sprintf("%s=%s",
                              json_string_value(json_object_get(s, "name")),
                              value));
        explicit_bzero(value, sizeof(value));
    }
    return 0;
}

json_t *drv__attempt_env(drv__attempt_t *a)
{
    json_t *run = a->run, *env = json_array(), *e;
    size_t i;
    char num[32];
    json_array_foreach(json_object_get(run, "environment"), i, e)
    {
        json_array_append_new(
            env, json_sprintf("%s=%s",
                              json_string_value(json_object_get(e, "name")),
                              json_string_value(json_object_get(e, "value"))));
    }
    add_env(env, "JOB_ID", a->job_id);
    snprintf(num, sizeof(num), "%d", a->attempt);
    add_env(env, "JOB_ATTEMPT", num);
    add_env(env, "JQ_NAME", json_string_value(json_object_get(run, "jobQueue")));
    add_env(env, "CE_NAME", a->wrk->ce);
    if (json_is_integer(json_object_get(run, "arrayIndex"))) {
        snprintf(num, sizeof(num), "%" JSON_INTEGER_FORMAT,
                 json_integer_value(json_object_get(run, "arrayIndex")));
        add_env(env, "JOB_ARRAY_INDEX", num);
        snprintf(num, sizeof(num), "%" JSON_INTEGER_FORMAT,
                 json_integer_value(json_object_get(run, "arraySize")));
        add_env(env, "JOB_ARRAY_SIZE", num);
    }
    return env;
}

/* The container create body: command, environment and limits. */
static json_t *container_spec(drv__attempt_t *a)
{
    drv_wrk_t *wrk = a->wrk;
    json_t *run = a->run, *env = drv__attempt_env(a);
    json_int_t mem = (json_int_t)a->memory_mib * 1024 * 1024;
    json_t *host = json_pack(
        "{s:I,s:I,s:I,s:I,s:o,s:b,s:b}", "Memory", mem, "MemorySwap", mem,
        "NanoCpus", (json_int_t)(a->vcpus * 1e9), "PidsLimit",
        (json_int_t)drv_conf_get_int(wrk->conf, "worker.pids.limit"),
        "Ulimits", ulimits(run), "ReadonlyRootfs",
        json_is_true(json_object_get(run, "readonlyRootFilesystem")),
        "Privileged", json_is_true(json_object_get(run, "privileged")));
    if (!json_is_true(json_object_get(run, "privileged"))) {
        /* no capabilities unless the operator lists some to keep, and no
         * gaining privileges through setuid binaries */
        json_t *keep = json_array();
        char caps[512];
        snprintf(caps, sizeof(caps), "%s",
                 drv_conf_get(wrk->conf, "worker.capabilities"));
        for (char *sv, *c = strtok_r(caps, ", ", &sv); c;
             c = strtok_r(NULL, ", ", &sv)) {
            json_array_append_new(keep, json_string(c));
        }
        json_object_set_new(host, "CapDrop", json_pack("[s]", "ALL"));
        json_object_set_new(host, "CapAdd", keep);
        json_object_set_new(host, "SecurityOpt",
                            json_pack("[s]", "no-new-privileges"));
    }
    linux_params(run, host, mem);
    json_t *spec = json_pack(
        "{s:O,s:o,s:o,s:{s:s,s:s,s:s},s:b}", "Image",
        json_object_get(run, "image"), "Env", env, "HostConfig", host,
        "Labels", "drover.job-id", a->job_id, "drover.worker", wrk->id,
        "drover.compute-environment", wrk->ce, "Tty", 0);
    json_t *cmd = json_object_get(run, "command");
    if (json_array_size(cmd) > 0) {
        json_object_set(spec, "Cmd", cmd);
    }
    if (json_is_string(json_object_get(run, "user"))) {
        json_object_set(spec, "User", json_object_get(run, "user"));
    }
    mounts(run, host, spec);
    return spec;
}

/* Keep the attempt's output under worker.log.dir/<job>/<attempt>.log. */
static void keep_logs(drv__attempt_t *a, drv_docker_t *dk, const char *cid)
{
    const char *dir = drv_conf_get(a->wrk->conf, "worker.log.dir");
    char e[DRV_ERRSTR_SIZE], path[1024];
    size_t len;
    int truncated = 0;
    if (!dir || !*dir) {
        return;
    }
    char *out = drv_docker_logs(dk, cid, LOG_MAX, &len, &truncated, e,
                                sizeof(e));
    if (!out) {
        drv_log(a->wrk->log, DRV_LOG_WARN, "worker.logs_failed",
                NULL, "%s: %s", a->job_id, e);
        return;
    }
    snprintf(path, sizeof(path), "%s/%s", dir, a->job_id);
    mkdir(path, 0755);
    snprintf(path, sizeof(path), "%s/%s/%d.log", dir, a->job_id, a->attempt);
    FILE *fp = fopen(path, "w");
    if (fp) {
        fwrite(out, 1, len, fp);
        if (truncated) {
            fprintf(fp, "\n[drover: output truncated at %d bytes]\n", LOG_MAX);
        }
        fclose(fp);
    }
    free(out);
}

/* Create the container, pulling its image once if the engine lacks it. */
static drv_err_t create(drv__attempt_t *a, drv_docker_t *dk, json_t *spec,
                        char *cid, size_t cid_size, char *e, size_t esize)
{
    char name[256];
    size_t n = 0;
    for (const char *p = "drover-"; *p; p++) {
        name[n++] = *p;
    }
    for (const char *p = a->job_id; *p && n + 12 < sizeof(name); p++) {
        name[n++] = isalnum((unsigned char)*p) || *p == '-' ? *p : '_';
    }
    snprintf(name + n, sizeof(name) - n, "-%d", a->attempt);
    drv_err_t r = drv_docker_create(dk, name, spec, cid, cid_size, e, esize);
    if (r == DRV_ERR_NOTFOUND) {
        const char *image = json_string_value(json_object_get(spec, "Image"));
        if (drv_docker_pull(dk, image, e, esize) != 0) {
            return DRV_ERR_NOTFOUND;
        }
        r = drv_docker_create(dk, name, spec, cid, cid_size, e, esize);
    }
    return r;
}

/* Wait for the container; on timeout stop it (SIGTERM, SIGKILL later). */
static int wait_exit(drv__attempt_t *a, drv_docker_t *dk, const char *cid,
                     int *exit_code, bool *timed_out, char *e, size_t esize)
{
    json_t *to = json_object_get(a->run, "timeoutSeconds");
    int64_t timeout_ms = json_is_integer(to) ? json_integer_value(to) * 1000
                                             : 0;
    int r = drv_docker_wait(dk, cid, timeout_ms, exit_code, e, esize);
    if (r == 1) {
        *timed_out = true;
        int grace = (int)drv_conf_get_int(a->wrk->conf,
                                          "worker.stop.grace.seconds");
        drv_docker_stop(dk, cid, grace, e, esize);
        r = drv_docker_wait(dk, cid, (int64_t)(grace + 30) * 1000, exit_code,
                            e, esize);
    }
    return r == 0 ? 0 : -1;
}

/* Run the container; fills the outcome for the final report. */
static void run_container(drv__attempt_t *a, drv_docker_t *dk, json_t *out,
                          char *remove_cid, size_t remove_size)
{
    char e[DRV_ERRSTR_SIZE], cid[80] = "";
    json_t *spec = container_spec(a);
    if (drv__attempt_secrets(a, json_object_get(spec, "Env"), e, sizeof(e)) !=
        0) {
        json_decref(spec);
        json_object_set_new(out, "statusReason",
                            json_string(DRV_REASON_START_FAILED));
        json_object_set_new(out, "reason", json_string(e));
        return;
    }
    int64_t t0 = drv_mono_ms();
    drv_err_t cr = create(a, dk, spec, cid, sizeof(cid), e, sizeof(e));
    json_decref(spec);
    if (cr != DRV_OK) {
        json_object_set_new(out, "statusReason",
                            json_string(DRV_REASON_START_FAILED));
        json_object_set_new(out, "reason",
                            cr == DRV_ERR_EXISTS
                            ? json_string("CannotCreateContainerError: this "
                                          "attempt's container exists "
                                          "already (the run request was "
                                          "delivered twice)")
                            : json_sprintf("%s: %.200s",
                                           cr == DRV_ERR_NOTFOUND
                                               ? "CannotPullContainerError"
                                               : "CannotCreateContainerError",
                                           e));
        return;
    }
    json_object_set_new(out, "containerId", json_string(cid));
    pthread_mutex_lock(&a->wrk->lock);
    snprintf(a->cid, sizeof(a->cid), "%s", cid);
    bool stop_first = a->stop_requested;
    pthread_mutex_unlock(&a->wrk->lock);
    if (stop_first) {
        json_object_set_new(out, "statusReason",
                            json_string("Terminated before the container "
                                        "started"));
    } else if (drv_docker_start(dk, cid, e, sizeof(e)) != 0) {
        json_object_set_new(out, "statusReason",
                            json_string(DRV_REASON_START_FAILED));
        json_object_set_new(out, "reason",
                            json_sprintf("CannotStartContainerError: %.200s",
                                         e));
    } else {
        drv_metrics_add(a->wrk->metrics, "drover_container_start_seconds_sum",
                        NULL, (double)(drv_mono_ms() - t0) / 1000.0);
        drv_metrics_add(a->wrk->metrics,
                        "drover_container_start_seconds_count", NULL, 1);
        drv__wrk_report(a->wrk, a->job_id, a->attempt, "RUNNING",
                        json_pack("{s:s,s:s}", "containerId", cid,
                                  "logStreamName", cid));
        int code = -1;
        bool timed_out = false;
        json_t *info = NULL;
        if (wait_exit(a, dk, cid, &code, &timed_out, e, sizeof(e)) != 0) {
            json_object_set_new(out, "statusReason",
                                json_string("Container state unknown"));
            json_object_set_new(out, "reason",
                                json_sprintf("DockerTimeoutError: %.200s", e));
        } else {
            pthread_mutex_lock(&a->wrk->lock);
            bool stopped = a->stop_requested;
            pthread_mutex_unlock(&a->wrk->lock);
            info = drv_docker_inspect(dk, cid, e, sizeof(e));
            bool oom = json_is_true(json_object_get(
                json_object_get(info, "State"), "OOMKilled"));
            /* podman 4.3 on cgroup v1 reports 137 without OOMKilled: a
             * SIGKILL we did not send is taken as the memory limit's */
            oom = oom || (code == 137 && !timed_out && !stopped);
            json_object_set_new(out, "exitCode", json_integer(code));
            json_object_set_new(out, "statusReason",
                                json_string(timed_out ? DRV_REASON_TIMEOUT
                                                      : DRV_REASON_EXITED));
            if (oom) {
                json_object_set_new(out, "reason", json_string(DRV_REASON_OOM));
            }
        }
        json_decref(info);
        keep_logs(a, dk, cid);
    }
    /* removed once the outcome is reported: nobody waits for that */
    snprintf(remove_cid, remove_size, "%s", cid);
}

typedef struct stopper {
    drv_wrk_t *wrk;
    char cid[80];
} stopper_t;

static void *stop_main(void *arg)
{
    stopper_t *s = arg;
    char e[DRV_ERRSTR_SIZE];
    drv_docker_t *dk = drv_docker_new(drv_conf_get(s->wrk->conf,
                                                   "docker.socket"),
                                      drv_conf_get(s->wrk->conf,
                                                   "docker.api.version"));
    int grace = (int)drv_conf_get_int(s->wrk->conf,
                                      "worker.stop.grace.seconds");
    if (dk && drv_docker_stop(dk, s->cid, grace, e, sizeof(e)) != 0) {
        drv_log(s->wrk->log, DRV_LOG_WARN, "worker.stop_failed", NULL,
                "could not stop container %s: %s", s->cid, e);
    }
    drv_docker_destroy(dk);
    free(s);
    return NULL;
}

void drv__wrk_stop_container(drv_wrk_t *wrk, drv__attempt_t *a)
{
    a->stop_requested = true;
    if (!a->cid[0]) {
        return; /* not created yet: the attempt checks the flag itself */
    }
    stopper_t *s = drv_calloc(1, sizeof(*s));
    s->wrk = wrk;
    snprintf(s->cid, sizeof(s->cid), "%s", a->cid);
    pthread_t t;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_create(&t, &attr, stop_main, s);
    pthread_attr_destroy(&attr);
}

void *drv__attempt_main(void *arg)
{
    drv__attempt_t *a = arg;
    drv_wrk_t *wrk = a->wrk;
    json_t *out = json_object(); /* STARTING was reported by claim() */
    char remove_cid[80] = "", e[DRV_ERRSTR_SIZE];
    const char *runtime = drv_conf_get(wrk->conf, "worker.runtime");
    bool hollow = !strcmp(runtime, "hollow");
    bool process = !strcmp(runtime, "process");
    drv_docker_t *dk = hollow || process ? NULL
                              : drv_docker_new(drv_conf_get(wrk->conf,
                                                            "docker.socket"),
                                               drv_conf_get(wrk->conf,
                                                            "docker.api.version"));
    if (hollow) {
        /* every protocol step, no work: for control-plane benchmarks */
        drv__wrk_report(wrk, a->job_id, a->attempt, "RUNNING",
                        json_pack("{s:s}", "containerId", "hollow"));
        json_object_set_new(out, "exitCode", json_integer(0));
        json_object_set_new(out, "statusReason",
                            json_string(DRV_REASON_EXITED));
    } else if (process) {
        drv__run_process(a, out);
    } else if (!dk) {
        json_object_set_new(out, "statusReason",
                            json_string(DRV_REASON_START_FAILED));
    } else {
        run_container(a, dk, out, remove_cid, sizeof(remove_cid));
    }
    pthread_mutex_lock(&wrk->lock);
    bool handed_back = a->handed_back;
    pthread_mutex_unlock(&wrk->lock);
    if (handed_back) { /* drained: lost to this host, retried elsewhere */
        json_object_clear(out);
        json_object_set_new(out, "statusReason",
                            json_sprintf(DRV_REASON_HOST_LOST_FMT, wrk->id));
    }
    json_t *code = json_object_get(out, "exitCode");
    const char *status = json_is_integer(code) && !json_integer_value(code) &&
                                 !json_object_get(out, "reason")
                             ? "SUCCEEDED"
                             : "FAILED";
    char label[64];
    snprintf(label, sizeof(label), "status=\"%s\"", status);
    drv_metrics_add(wrk->metrics, "drover_attempts_total", label, 1);
    json_t *f = drv_log_job(a->job_id);
    json_object_set_new(f, "status", json_string(status));
    drv_log(wrk->log, DRV_LOG_INFO, "worker.attempt_done", f,
            "attempt %d %s", a->attempt, status);
    json_decref(f);
    drv__wrk_report(wrk, a->job_id, a->attempt, status, out);
    if (remove_cid[0] && drv_docker_remove(dk, remove_cid, e, sizeof(e))) {
        drv_log(wrk->log, DRV_LOG_WARN, "worker.remove_failed", NULL,
                "could not remove container %s: %s", remove_cid, e);
    }
    drv_docker_destroy(dk);

    pthread_mutex_lock(&wrk->lock);
    wrk->vcpus_free += a->vcpus;
    wrk->memory_free += a->memory_mib;
    for (drv__attempt_t **p = &wrk->running; *p; p = &(*p)->next) {
        if (*p == a) {
            *p = a->next;
            break;
        }
    }
    wrk->running_cnt--;
    wrk->ended++;
    pthread_cond_broadcast(&wrk->cond);
    pthread_mutex_unlock(&wrk->lock);
    json_decref(a->run);
    free(a);
    return NULL;
}
