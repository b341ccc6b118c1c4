/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The `container` provisioner (provision.h): each worker a container of
 * Drover's image (provisioner.container.image) running drover-worker,
 * made through the Docker Engine API (docker.socket: Docker, or Podman's
 * service), named drover-<worker id> and labelled with its environment
 * and id. It gets, read-only, its configuration at
 * /etc/drover/worker.conf and the environment's worker configuration at
 * the same path as on this host (so it must need no other file), and the
 * engine's socket at /run/drover/engine.sock, through which it runs its
 * jobs' containers beside itself. It runs as this dispatcher's user, who
 * owns the 0600 configuration. The handle is the container's id.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "drover/docker.h"
#include "drover/err.h"
#include "provision.h"

#define ENGINE_SOCK "/run/drover/engine.sock"

static drv_docker_t *engine(drv__prov_ctx_t *ctx)
{
    if (!ctx->engine) {
        ctx->engine = drv_docker_new(drv_conf_get(ctx->conf, "docker.socket"),
                                     drv_conf_get(ctx->conf,
                                                  "docker.api.version"));
    }
    return ctx->engine;
}

void drv__prov_container_free(drv__prov_ctx_t *ctx)
{
    drv_docker_destroy(ctx->engine);
    ctx->engine = NULL;
}

/* The include line of a worker's configuration: the file it names. */
static int included(const char *conf, char *out, size_t size)
{
    FILE *fp = fopen(conf, "re");
    char line[2048];
    int ret = -1;
    while (fp && ret != 0 && fgets(line, sizeof(line), fp)) {
        if (!strncmp(line, "include = ", 10)) {
            line[strcspn(line, "\n")] = '\0';
            snprintf(out, size, "%s", line + 10);
            ret = 0;
        }
    }
    if (fp) {
        fclose(fp);
    }
    return ret;
}

static int c_start(drv__prov_ctx_t *ctx, const drv__pworker_t *w,
                   const char *conf, char *handle, size_t handle_size,
                   char *errstr, size_t errstr_size)
{
    drv_docker_t *dk = engine(ctx);
    char base[2048];
    if (!dk || included(conf, base, sizeof(base)) != 0) {
        drv_errstr_set(errstr, errstr_size,
                       dk ? "%s names no worker configuration"
                          : "no engine client for %s",
                       conf);
        return -1;
    }
    json_t *binds = json_array();
    json_array_append_new(binds, json_sprintf("%s:/etc/drover/worker.conf:ro",
                                              conf));
    json_array_append_new(binds, json_sprintf("%s:%s:ro", base, base));
    json_array_append_new(binds,
                          json_sprintf("%s:" ENGINE_SOCK,
                                       drv_conf_get(ctx->conf,
                                                    "docker.socket")));
    const char *more = drv_conf_get(ctx->conf, "provisioner.container.binds");
    while (more && *more) {
        const char *end = strchr(more, ',');
        size_t len = end ? (size_t)(end - more) : strlen(more);
        if (len > 0) {
            json_array_append_new(binds, json_stringn(more, len));
        }
        more = end ? end + 1 : NULL;
    }
    char user[48], name[300];
    snprintf(user, sizeof(user), "%u:%u", (unsigned)getuid(),
             (unsigned)getgid());
    snprintf(name, sizeof(name), "drover-%s", w->id);
    json_t *host = json_pack("{s:o,s:{s:s}}", "Binds", binds,
                             "RestartPolicy", "Name", "no");
    const char *net = drv_conf_get(ctx->conf, "provisioner.container.network");
    if (net && *net) {
        json_object_set_new(host, "NetworkMode", json_string(net));
    }
    json_t *spec = json_pack(
        "{s:s,s:[s,s,s],s:s,s:{s:s,s:s,s:s},s:o}", "Image",
        drv_conf_get(ctx->conf, "provisioner.container.image"), "Cmd",
        "drover-worker", "--config", "/etc/drover/worker.conf", "User", user,
        /* not the labels of job containers (drover.worker,
         * drover.compute-environment): a worker removes those its id
         * left when it starts */
        "Labels", "drover.provisioner", "container", "drover.provisioned",
        w->ce, "drover.provisioned-worker", w->id,
        "HostConfig", host);
    char id[128] = "";
    drv_err_t rc = drv_docker_create(dk, name, spec, id, sizeof(id), errstr,
                                     errstr_size);
    json_decref(spec);
    if (rc != DRV_OK) {
        return -1;
    }
    if (drv_docker_start(dk, id, errstr, errstr_size) != 0) {
        char e[DRV_ERRSTR_SIZE];
        drv_docker_remove(dk, id, e, sizeof(e));
        return -1;
    }
    snprintf(handle, handle_size, "%s", id);
    return 0;
}

/* The last 64 KiB a worker container wrote, into <dir>/<id>.log before
 * the container is removed (why it ended). */
static void keep_output(drv__prov_ctx_t *ctx, drv_docker_t *dk,
                        const drv__pworker_t *w)
{
    char e[DRV_ERRSTR_SIZE], path[4096];
    size_t len = 0;
    int cut = 0;
    char *out = drv_docker_logs(dk, w->handle, 64 * 1024, false, &len, &cut,
                                e, sizeof(e));
    snprintf(path, sizeof(path), "%s/%s.log", ctx->dir, w->id);
    FILE *fp = out ? fopen(path, "ae") : NULL;
    if (fp) {
        fwrite(out, 1, len, fp);
        fclose(fp);
    }
    free(out);
}

static int c_alive(drv__prov_ctx_t *ctx, const drv__pworker_t *w, char *why,
                   size_t why_size)
{
    drv_docker_t *dk = engine(ctx);
    char e[DRV_ERRSTR_SIZE] = "";
    json_t *j = dk ? drv_docker_inspect(dk, w->handle, e, sizeof(e)) : NULL;
    if (!j) {
        if (strstr(e, "HTTP 404")) {
            snprintf(why, why_size, "container %.64s no longer exists",
                     w->handle);
            return 0;
        }
        return 1; /* the engine cannot say: nothing is replaced */
    }
    json_t *st = json_object_get(j, "State");
    bool running = json_is_true(json_object_get(st, "Running"));
    if (!running) {
        snprintf(why, why_size,
                 "container exited with status %" JSON_INTEGER_FORMAT,
                 json_integer_value(json_object_get(st, "ExitCode")));
        keep_output(ctx, dk, w);
        drv_docker_remove(dk, w->handle, e, sizeof(e));
    }
    json_decref(j);
    return running ? 1 : 0;
}

static void c_stop(drv__prov_ctx_t *ctx, const drv__pworker_t *w,
                   bool kill_it)
{
    drv_docker_t *dk = engine(ctx);
    char e[DRV_ERRSTR_SIZE];
    if (dk && w->handle) {
        drv_docker_kill(dk, w->handle, kill_it ? "SIGKILL" : "SIGTERM", e,
                        sizeof(e));
    }
}

const drv__prov_ops_t drv__prov_container = {
    "container", "docker.socket = " ENGINE_SOCK "\n", c_start, c_alive,
    c_stop, NULL, NULL};
