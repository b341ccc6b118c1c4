/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target: a RunJob as a worker turns it into a container. The
 * input is JSON, encoded under the RunJob schema (what does not fit is
 * dropped, as no dispatcher could send it) and decoded as admission does,
 * then checked against the worker's own policy (worker/policy.c) and, where
 * that allows it, built into the Docker Engine create body
 * (worker/runtime_container.c). No engine is needed.
 *
 * The host: worker.allowed.host.paths is /tmp/drv-fuzz-run-job/root (ok/
 * a directory, file a file, link -> /, in -> ok), privileged not allowed.
 * What must hold: a refusal says why (CannotStartContainerError: ...); an
 * accepted RunJob always has a body, never privileged, with every bind's
 * source the canonical path below the root and no symlink in it.
 */
#define _GNU_SOURCE
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "drover/avro_codec.h"
#include "drover/conf.h"
#include "drover/err.h"
#include "drover/messages.h"
#include "drover/util.h"
#include "runtime.h"

#define TOP "/tmp/drv-fuzz-run-job"
#define ROOT TOP "/root"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static drv_codec_t *codec;
static drv_conf_t *conf;
static drv__rt_host_t host;
static char real_root[PATH_MAX];

static void init(void)
{
    char e[DRV_ERRSTR_SIZE] = "";
    FILE *fp;
    (void)mkdir(TOP, 0755);
    (void)mkdir(ROOT, 0755);
    (void)mkdir(ROOT "/ok", 0755);
    (void)mkdir(ROOT "/ok/sub", 0755);
    if ((fp = fopen(ROOT "/file", "w"))) {
        fclose(fp);
    }
    (void)symlink("/", ROOT "/link");
    (void)symlink(ROOT "/ok", ROOT "/in");
    conf = drv_conf_new();
    if (!(codec = drv_codec_new(e, sizeof(e))) || !realpath(ROOT, real_root) ||
        drv_conf_set(conf, "worker.allowed.host.paths", ROOT, e, sizeof(e)) ||
        drv_conf_set(conf, "worker.capabilities", "CHOWN", e, sizeof(e))) {
        fprintf(stderr, "fuzz_run_job: cannot set up: %s\n", e);
        abort();
    }
    host = (drv__rt_host_t){
        .conf = conf, .log = NULL, .worker_id = "w1", .ce = "local"};
}

/* The invariants of an accepted RunJob's create body. */
static void check_spec(json_t *spec)
{
    json_t *hc = json_object_get(spec, "HostConfig"), *b;
    size_t i, n = strlen(real_root);
    if (!spec || json_is_true(json_object_get(hc, "Privileged")) ||
        !json_is_array(json_object_get(hc, "CapDrop"))) {
        abort();
    }
    json_array_foreach(json_object_get(hc, "Binds"), i, b)
    {
        const char *s = json_string_value(b);
        char src[PATH_MAX + 8];
        if (!s || strncmp(s, real_root, n) != 0 ||
            (s[n] != '/' && s[n] != ':')) {
            abort();
        }
        snprintf(src, sizeof(src), "%.*s", (int)strcspn(s, ":"), s);
        char *real = realpath(src, NULL); /* canonical: no link in it */
        if (!real || strcmp(real, src) != 0) {
            abort();
        }
        free(real);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char e[DRV_ERRSTR_SIZE] = "";
    if (!codec) {
        init();
    }
    json_t *in = json_loadb((const char *)data, size, 0, NULL);
    void *buf = NULL;
    size_t len = 0;
    if (!in || drv_codec_encode(codec, "RunJob", in, &buf, &len, e,
                                sizeof(e)) != 0) {
        json_decref(in);
        return 0; /* no dispatcher could send it */
    }
    json_decref(in);
    drv_msg_t m;
    if (drv_msg_decode(codec, buf, len, &m, e, sizeof(e)) != DRV_OK) {
        free(buf);
        return 0; /* parked at decoding (a bad job id, too long) */
    }
    free(buf);
    drv__job_t job = {0};
    const drv_msg_run_t *r = &m.u.run;
    snprintf(job.id, sizeof(job.id), "%s", r->job_id);
    job.attempt = r->attempt;
    job.vcpus = r->vcpus;
    job.memory_mib = r->memory_mib;
    snprintf(job.queue, sizeof(job.queue), "%s", r->job_queue);
    job.is_array_child = r->is_array_child;
    job.array_index = r->array_index;
    job.array_size = r->array_size;
    drv__rt_attempt_t ra = {.host = &host, .job = &job, .run = m.obj};
    e[0] = '\0';
    ra.host_paths = drv__policy_check(&host, m.obj, true, e, sizeof(e));
    if (!ra.host_paths) {
        if (!drv_str_has_prefix(e, "CannotStartContainerError: ")) {
            abort(); /* refused without saying why */
        }
    } else {
        json_t *spec = drv__container_spec(&ra);
        check_spec(spec);
        json_decref(spec);
        /* a runtime that mounts nothing takes no host volume */
        json_t *none = drv__policy_check(&host, m.obj, false, e, sizeof(e));
        json_t *p;
        size_t i;
        json_array_foreach(none, i, p)
        {
            if (!json_is_null(p)) {
                abort();
            }
        }
        json_decref(none);
    }
    json_decref(ra.host_paths);
    drv_msg_clear(&m);
    return 0;
}
