/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The container runtime, through the Docker Engine API (Docker, or
 * Podman's compatible service): create the attempt's container (pulling
 * the image if the engine lacks it), start it, wait for it, inspect it,
 * keep its output, remove it. Stops go through the engine (SIGTERM, then
 * SIGKILL after the grace period). At the worker's start, containers an
 * earlier process of this worker left are removed.
 */
#include <stdio.h>
#include <string.h>

#include "drover/docker.h"
#include "drover/util.h"
#include "runtime.h"

/* while the container runs, its output is kept every LIVE_MS (the Logs
 * API reads it as it grows) */
#define LIVE_MS 2000

typedef struct ctr {
    drv_docker_t *dk;    /* the attempt thread's own handle */
    drv__rt_keep_t keep; /* its output kept so far */
    bool keeping;
} ctr_t;

static drv_docker_t *docker_new(const drv__rt_host_t *host)
{
    return drv_docker_new(drv_conf_get(host->conf, "docker.socket"),
                          drv_conf_get(host->conf, "docker.api.version"));
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
            const char *name = json_string_value(json_object_get(u, "name"));
            given |= name && !strcmp(name, defaults[d]);
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

/* mountPoints over volumes: host paths become binds of their canonical
 * paths (ra->host_paths, from the worker's policy: never the RunJob's
 * spelling), the rest anonymous volumes. -1 when a host volume has no
 * checked path. */
static int mounts(json_t *run, json_t *paths, json_t *host, json_t *spec)
{
    json_t *binds = json_array(), *anon = json_object(), *m, *v;
    size_t i, k;
    int ret = 0;
    json_array_foreach(json_object_get(run, "mountPoints"), i, m)
    {
        const char *sv = json_string_value(json_object_get(m, "sourceVolume"));
        const char *dst = json_string_value(json_object_get(m,
                                                            "containerPath"));
        json_array_foreach(json_object_get(run, "volumes"), k, v)
        {
            const char *name = json_string_value(json_object_get(v, "name"));
            if (!sv || !dst || !name || strcmp(sv, name) != 0) {
                continue;
            }
            json_t *src = json_object_get(json_object_get(v, "host"),
                                          "sourcePath");
            const char *canon = json_string_value(json_array_get(paths, k));
            bool ro = json_is_true(json_object_get(m, "readOnly"));
            if (src && !json_is_null(src) && !canon) {
                ret = -1;
            } else if (canon) {
                json_array_append_new(binds, json_sprintf("%s:%s%s", canon,
                                                          dst,
                                                          ro ? ":ro" : ""));
            } else {
                json_object_set_new(anon, dst, json_object());
            }
        }
    }
    json_object_set_new(host, "Binds", binds);
    json_object_set_new(spec, "Volumes", anon);
    return ret;
}

/* One tmpfs's options, "size=<n>m[,option]...", as long as its options
 * are: a fixed buffer here once overflowed on long mountOptions. */
static json_t *tmpfs_options(json_t *t)
{
    json_t *o;
    size_t k, cap = 64; /* "size=" and a 64-bit number */
    json_array_foreach(json_object_get(t, "mountOptions"), k, o)
    {
        cap += json_string_length(o) + 1;
    }
    char *buf = drv_malloc(cap);
    size_t len = (size_t)snprintf(
        buf, cap, "size=%" JSON_INTEGER_FORMAT "m",
        json_integer_value(json_object_get(t, "size")));
    json_array_foreach(json_object_get(t, "mountOptions"), k, o)
    {
        if (!json_is_string(o)) {
            continue;
        }
        buf[len++] = ',';
        memcpy(buf + len, json_string_value(o), json_string_length(o));
        len += json_string_length(o);
    }
    json_t *opts = json_stringn(buf, len);
    free(buf);
    return opts;
}

/* linuxParameters: shm size, tmpfs, init, swap. */
static void linux_params(json_t *run, json_t *host, json_int_t mem)
{
    json_t *lp = json_object_get(run, "linuxParameters"), *t;
    size_t i;
    json_t *shm = json_object_get(lp, "sharedMemorySize");
    if (json_is_integer(shm)) {
        json_object_set_new(host, "ShmSize",
                            json_integer(json_integer_value(shm) << 20));
    }
    json_t *tmpfs = json_object();
    json_array_foreach(json_object_get(lp, "tmpfs"), i, t)
    {
        const char *path = json_string_value(json_object_get(t,
                                                             "containerPath"));
        if (path) {
            json_object_set_new(tmpfs, path, tmpfs_options(t));
        }
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

/* No capabilities unless the operator lists some to keep, and no gaining
 * privileges through setuid binaries. */
static void drop_privileges(const drv_conf_t *conf, json_t *host)
{
    json_t *keep = json_array();
    const char *list = drv_conf_get(conf, "worker.capabilities");
    char *caps = drv_strdup(list ? list : "");
    for (char *sv, *c = strtok_r(caps, ", ", &sv); c;
         c = strtok_r(NULL, ", ", &sv)) {
        json_array_append_new(keep, json_string(c));
    }
    free(caps);
    json_object_set_new(host, "CapDrop", json_pack("[s]", "ALL"));
    json_object_set_new(host, "CapAdd", keep);
    json_object_set_new(host, "SecurityOpt",
                        json_pack("[s]", "no-new-privileges"));
}

/* The attempt's GPUs and only those: Docker's DeviceRequests (the nvidia
 * driver, by device id), or CDI devices (nvidia.com/gpu=ID) for engines
 * that take those, as Podman does (worker.gpu.request). */
static void gpu_devices(const drv__rt_attempt_t *ra, json_t *host)
{
    if (ra->job->gpus <= 0) {
        return;
    }
    const char *how = drv_conf_get(ra->host->conf, "worker.gpu.request");
    bool cdi = how && !strcmp(how, "cdi");
    json_t *ids = json_array();
    char *list = drv_strdup(ra->job->gpu_devices);
    for (char *sv, *id = strtok_r(list, ",", &sv); id;
         id = strtok_r(NULL, ",", &sv)) {
        if (cdi) {
            json_t *dev = json_pack("{s:s+,s:s+,s:s}", "PathOnHost",
                                    "nvidia.com/gpu=", id, "PathInContainer",
                                    "nvidia.com/gpu=", id, "CgroupPermissions",
                                    "rwm");
            json_array_append_new(ids, dev);
        } else {
            json_array_append_new(ids, json_string(id));
        }
    }
    free(list);
    if (cdi) {
        json_t *devs = json_object_get(host, "Devices");
        if (json_is_array(devs)) {
            json_array_extend(devs, ids);
            json_decref(ids);
        } else {
            json_object_set_new(host, "Devices", ids);
        }
        return;
    }
    json_object_set_new(
        host, "DeviceRequests",
        json_pack("[{s:s,s:o,s:[[s]]}]", "Driver", "nvidia", "DeviceIDs", ids,
                  "Capabilities", "gpu"));
}

json_t *drv__container_spec(const drv__rt_attempt_t *ra)
{
    const drv__rt_host_t *h = ra->host;
    json_t *run = ra->run;
    json_int_t mem = (json_int_t)ra->job->memory_mib * 1024 * 1024;
    bool privileged = json_is_true(json_object_get(run, "privileged"));
    json_t *host = json_pack(
        "{s:I,s:I,s:I,s:I,s:o,s:b,s:b}", "Memory", mem, "MemorySwap", mem,
        "NanoCpus", (json_int_t)(ra->job->vcpus * 1e9), "PidsLimit",
        (json_int_t)drv_conf_get_int(h->conf, "worker.pids.limit"),
        "Ulimits", ulimits(run), "ReadonlyRootfs",
        json_is_true(json_object_get(run, "readonlyRootFilesystem")),
        "Privileged", privileged);
    if (!privileged) {
        drop_privileges(h->conf, host);
    }
    linux_params(run, host, mem);
    gpu_devices(ra, host);
    /* propagated tags as labels; Drover's own labels win over a tag */
    json_t *labels = json_deep_copy(json_object_get(run, "tags"));
    if (!json_is_object(labels)) {
        json_decref(labels);
        labels = json_object();
    }
    json_t *own = json_pack("{s:s,s:s,s:s}", "drover.job-id", ra->job->id,
                            "drover.worker", h->worker_id,
                            "drover.compute-environment", h->ce);
    json_object_update(labels, own);
    json_decref(own);
    json_t *spec = json_pack("{s:O,s:o,s:o,s:o,s:b}", "Image",
                             json_object_get(run, "image"), "Env",
                             drv__rt_env(ra), "HostConfig", host, "Labels",
                             labels, "Tty", 0);
    json_t *cmd = json_object_get(run, "command");
    if (json_array_size(cmd) > 0) {
        json_object_set(spec, "Cmd", cmd);
    }
    if (json_is_string(json_object_get(run, "user"))) {
        json_object_set(spec, "User", json_object_get(run, "user"));
    }
    if (mounts(run, ra->host_paths, host, spec) != 0) {
        json_decref(spec);
        return NULL;
    }
    return spec;
}

/* Create the container, pulling its image once if the engine lacks it. */
static int create(drv__rt_attempt_t *ra, drv_docker_t *dk, json_t *spec,
                  char *errstr, size_t errstr_size)
{
    char name[256], attempt[200], e[DRV_ERRSTR_SIZE];
    drv__rt_name(ra, attempt, sizeof(attempt));
    snprintf(name, sizeof(name), "drover-%s", attempt);
    drv_err_t r = drv_docker_create(dk, name, spec, ra->cid, sizeof(ra->cid),
                                    e, sizeof(e));
    if (r == DRV_ERR_NOTFOUND) {
        const char *image = json_string_value(json_object_get(spec, "Image"));
        r = drv_docker_pull(dk, image ? image : "", e, sizeof(e)) != 0
                ? DRV_ERR_NOTFOUND
                : drv_docker_create(dk, name, spec, ra->cid, sizeof(ra->cid),
                                    e, sizeof(e));
    }
    if (r == DRV_ERR_EXISTS) {
        drv_errstr_set(errstr, errstr_size,
                       "CannotCreateContainerError: this attempt's container "
                       "exists already (the run request was delivered "
                       "twice)");
    } else if (r != DRV_OK) {
        drv_errstr_set(errstr, errstr_size, "%s: %.200s",
                       r == DRV_ERR_NOTFOUND ? "CannotPullContainerError"
                                             : "CannotCreateContainerError",
                       e);
    }
    if (r != DRV_OK) {
        ra->cid[0] = '\0';
        return -1;
    }
    return 0;
}

static int ctr_prepare(drv__rt_attempt_t *ra, char *errstr,
                       size_t errstr_size)
{
    ctr_t *c = drv_calloc(1, sizeof(*c));
    ra->state = c;
    if (!(c->dk = docker_new(ra->host))) {
        drv_errstr_set(errstr, errstr_size,
                       "CannotCreateContainerError: no Docker Engine API "
                       "client");
        return -1;
    }
    json_t *spec = drv__container_spec(ra);
    int ret = -1;
    if (!spec) {
        drv_errstr_set(errstr, errstr_size,
                       "CannotCreateContainerError: a host path was not "
                       "checked against worker.allowed.host.paths");
        goto out;
    }
    if (drv__rt_secrets(ra, json_object_get(spec, "Env"), errstr,
                        errstr_size) != 0 ||
        create(ra, c->dk, spec, errstr, errstr_size) != 0) {
        goto out;
    }
    ret = 0;
out:
    json_decref(spec);
    return ret;
}

/*
 * The engine resolves each bind's path again when it mounts it, at the
 * start. A symlink put in place of a directory of a host path since the
 * policy's check (by a job writing below the same allowed root) is caught
 * here, just before the start; one put there during the engine's own start
 * is not (README, "Security").
 */
static int recheck_host_paths(drv__rt_attempt_t *ra, char *errstr,
                              size_t errstr_size)
{
    json_t *again = drv__policy_check(ra->host, ra->run, true, errstr,
                                      errstr_size);
    bool same = again && json_equal(again, ra->host_paths);
    if (again && !same) {
        drv_errstr_set(errstr, errstr_size,
                       "CannotStartContainerError: a host path resolved "
                       "elsewhere at the start than when it was checked");
    }
    json_decref(again);
    return same ? 0 : -1;
}

static int ctr_start(drv__rt_attempt_t *ra, char *errstr, size_t errstr_size)
{
    ctr_t *c = ra->state;
    char e[DRV_ERRSTR_SIZE];
    if (recheck_host_paths(ra, errstr, errstr_size) != 0) {
        return -1;
    }
    if (drv_docker_start(c->dk, ra->cid, e, sizeof(e)) != 0) {
        drv_errstr_set(errstr, errstr_size,
                       "CannotStartContainerError: %.200s", e);
        return -1;
    }
    snprintf(ra->log_stream, sizeof(ra->log_stream), "%s", ra->cid);
    return 0;
}

/* The engine's output so far, each line stamped, into the kept log:
 * `final` once the container has exited. */
static void keep_output(drv__rt_attempt_t *ra, bool final)
{
    ctr_t *c = ra->state;
    char e[DRV_ERRSTR_SIZE];
    size_t len;
    int truncated = 0;
    const char *dir = drv_conf_get(ra->host->conf, "worker.log.dir");
    if (!dir || !*dir) {
        return;
    }
    char *out = drv_docker_logs(c->dk, ra->cid, DRV__RT_LOG_MAX, true, &len,
                                &truncated, e, sizeof(e));
    if (!out) {
        drv_log(ra->host->log, DRV_LOG_WARN, "worker.logs_failed", NULL,
                "%s: %s", ra->job->id, e);
        return;
    }
    if (!c->keeping) {
        drv__rt_keep_open(&c->keep, ra, true);
        c->keeping = true;
    }
    drv__rt_keep_more(&c->keep, out, len, final, truncated != 0);
    free(out);
}

/* Wait in slices of LIVE_MS, keeping the output between them. */
static drv__rt_wait_t ctr_wait(drv__rt_attempt_t *ra, int64_t timeout_ms,
                               int *exit_code, char *errstr,
                               size_t errstr_size)
{
    ctr_t *c = ra->state;
    int64_t deadline = timeout_ms > 0 ? drv_mono_ms() + timeout_ms : 0;
    for (;;) {
        int64_t left = deadline ? deadline - drv_mono_ms() : LIVE_MS + 1;
        int64_t slice = left < LIVE_MS ? (left > 0 ? left : 1) : LIVE_MS;
        int r = drv_docker_wait(c->dk, ra->cid, slice, exit_code, errstr,
                                errstr_size);
        if (r != 1) {
            return r == 0 ? DRV__RT_EXITED : DRV__RT_ERROR;
        }
        if (left <= LIVE_MS) {
            return DRV__RT_TIMEOUT;
        }
        keep_output(ra, false);
    }
}

/* Any thread: a handle of its own (a handle serves one thread). */
static void ctr_stop(drv__rt_attempt_t *ra)
{
    char e[DRV_ERRSTR_SIZE];
    drv_docker_t *dk = docker_new(ra->host);
    if (dk && drv_docker_stop(dk, ra->cid, drv__rt_grace_s(ra->host), e,
                              sizeof(e)) != 0) {
        drv_log(ra->host->log, DRV_LOG_WARN, "worker.stop_failed", NULL,
                "could not stop container %s: %s", ra->cid, e);
    }
    drv_docker_destroy(dk);
}

static bool ctr_oom_killed(drv__rt_attempt_t *ra, int exit_code, bool stopped)
{
    ctr_t *c = ra->state;
    char e[DRV_ERRSTR_SIZE];
    json_t *info = drv_docker_inspect(c->dk, ra->cid, e, sizeof(e));
    bool oom = json_is_true(json_object_get(json_object_get(info, "State"),
                                            "OOMKilled"));
    json_decref(info);
    /* podman 4.3 on cgroup v1 reports 137 without OOMKilled: a SIGKILL we
     * did not send is taken as the memory limit's */
    return oom || (exit_code == 137 && !stopped);
}

/* Keep the attempt's output under worker.log.dir/<job>/<attempt>.log:
 * the rest of it. */
static void ctr_collect(drv__rt_attempt_t *ra)
{
    ctr_t *c = ra->state;
    keep_output(ra, true);
    if (c->keeping) {
        drv__rt_keep_close(&c->keep);
        c->keeping = false;
    }
}

/* Removed once the outcome is reported: nobody waits for that. */
static void ctr_cleanup(drv__rt_attempt_t *ra)
{
    ctr_t *c = ra->state;
    char e[DRV_ERRSTR_SIZE];
    if (!c) {
        return;
    }
    if (c->keeping) {
        drv__rt_keep_close(&c->keep);
    }
    if (c->dk && ra->cid[0] &&
        drv_docker_remove(c->dk, ra->cid, e, sizeof(e)) != 0) {
        drv_log(ra->host->log, DRV_LOG_WARN, "worker.remove_failed", NULL,
                "could not remove container %s: %s", ra->cid, e);
    }
    drv_docker_destroy(c->dk);
    DRV_FREE(ra->state);
}

/* Remove one container an earlier process left, if it is ours. */
static void reap_one(const drv__rt_host_t *host, drv_docker_t *dk, json_t *c)
{
    char e[DRV_ERRSTR_SIZE] = "";
    json_t *labels = json_object_get(c, "Labels");
    const char *cid = json_string_value(json_object_get(c, "Id"));
    const char *ce = json_string_value(
        json_object_get(labels, "drover.compute-environment"));
    if (!ce || strcmp(ce, host->ce) != 0 ||
        !json_object_get(labels, "drover.job-id")) {
        return; /* the same worker id in another compute environment, or
                   not a job's container */
    }
    json_t *f = drv_log_job(
        json_string_value(json_object_get(labels, "drover.job-id")));
    if (cid && drv_docker_remove(dk, cid, e, sizeof(e)) == 0) {
        drv_log(host->log, DRV_LOG_WARN, "worker.orphan_removed", f,
                "removed container %.12s left by an earlier process", cid);
    } else {
        drv_log(host->log, DRV_LOG_WARN, "worker.orphan_kept", f,
                "could not remove container %.12s: %s", cid ? cid : "?", e);
    }
    json_decref(f);
}

/* The dispatcher fails the attempts of the removed containers as host
 * lost when it sees this process's first heartbeat. */
static void ctr_reap(const drv__rt_host_t *host)
{
    char e[DRV_ERRSTR_SIZE], label[300];
    drv_docker_t *dk = docker_new(host);
    if (!dk) {
        return;
    }
    snprintf(label, sizeof(label), "drover.worker=%s", host->worker_id);
    json_t *list = drv_docker_list(dk, label, e, sizeof(e));
    if (!list) {
        drv_log(host->log, DRV_LOG_WARN, "worker.orphans_unknown", NULL,
                "could not list containers left by an earlier %s: %s",
                host->worker_id, e);
    }
    size_t i;
    json_t *c;
    json_array_foreach(list, i, c)
    {
        reap_one(host, dk, c);
    }
    json_decref(list);
    drv_docker_destroy(dk);
}

const drv__rt_ops_t drv__rt_container = {
    .name = "container",
    .times_start = true,
    .mounts = true,
    .reap = ctr_reap,
    .prepare = ctr_prepare,
    .start = ctr_start,
    .wait = ctr_wait,
    .stop = ctr_stop,
    .oom_killed = ctr_oom_killed,
    .collect = ctr_collect,
    .cleanup = ctr_cleanup,
};
