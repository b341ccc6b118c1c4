/* SPDX-License-Identifier: Apache-2.0 */
/*
 * GPUs: the worker's devices (worker.gpus, else what `nvidia-smi -L`
 * lists) and which attempt holds which. An attempt gets exactly the
 * devices it asked for, never one another attempt holds; they are given
 * back when it ends. @thread main at load; the rest under wrk->lock
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "drover/util.h"
#include "worker_int.h"

/* A device id as Docker's DeviceIDs and NVIDIA_VISIBLE_DEVICES take it:
 * an index or a UUID (GPU-..., MIG-...). */
static bool id_valid(const char *id, size_t len)
{
    if (len == 0 || len > DRV_GPU_ID_MAX) {
        return false;
    }
    for (size_t i = 0; i < len; i++) {
        char c = id[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || c == '-' || c == ':' || c == '/')) {
            return false;
        }
    }
    return true;
}

static int add_id(char ids[][DRV_GPU_ID_MAX + 1], int n, const char *id,
                  size_t len, char *errstr, size_t errstr_size)
{
    if (!id_valid(id, len)) {
        drv_errstr_set(errstr, errstr_size,
                       "worker.gpus: \"%.*s\" is not a GPU id (an index or a "
                       "UUID: letters, digits, '-', ':' and '/', at most %d)",
                       (int)(len > 80 ? 80 : len), id, DRV_GPU_ID_MAX);
        return -1;
    }
    if (n >= DRV_GPUS_MAX) {
        drv_errstr_set(errstr, errstr_size,
                       "worker.gpus: at most %d GPUs per worker",
                       DRV_GPUS_MAX);
        return -1;
    }
    for (int i = 0; i < n; i++) {
        if (strlen(ids[i]) == len && !memcmp(ids[i], id, len)) {
            drv_errstr_set(errstr, errstr_size,
                           "worker.gpus: GPU %s is listed twice", ids[i]);
            return -1;
        }
    }
    memcpy(ids[n], id, len);
    ids[n][len] = '\0';
    return n + 1;
}

int drv__gpus_parse_list(const char *list, char ids[][DRV_GPU_ID_MAX + 1],
                         char *errstr, size_t errstr_size)
{
    int n = 0;
    const char *p = list;
    while (*p) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        while (len > 0 && *p == ' ') {
            p++, len--;
        }
        while (len > 0 && p[len - 1] == ' ') {
            len--;
        }
        if ((n = add_id(ids, n, p, len, errstr, errstr_size)) < 0) {
            return -1;
        }
        if (!end) {
            break;
        }
        p = end + 1;
    }
    return n;
}

int drv__gpus_parse_smi(const char *text, char ids[][DRV_GPU_ID_MAX + 1],
                        char *errstr, size_t errstr_size)
{
    /* "GPU 0: NVIDIA A100-SXM4-40GB (UUID: GPU-5f1a...)": the UUID, else
     * the index; anything else on a line is not a GPU */
    int n = 0;
    for (const char *line = text; line && *line;) {
        const char *eol = strchr(line, '\n');
        size_t len = eol ? (size_t)(eol - line) : strlen(line);
        char buf[512];
        snprintf(buf, sizeof(buf), "%.*s", (int)(len < 511 ? len : 511), line);
        const char *u = strstr(buf, "(UUID: ");
        int index;
        if (u && strchr(u, ')')) {
            u += 7;
            if ((n = add_id(ids, n, u, (size_t)(strchr(u, ')') - u), errstr,
                            errstr_size)) < 0) {
                return -1;
            }
        } else if (sscanf(buf, "GPU %d:", &index) == 1 && index >= 0) {
            char num[16];
            snprintf(num, sizeof(num), "%d", index);
            if ((n = add_id(ids, n, num, strlen(num), errstr, errstr_size)) <
                0) {
                return -1;
            }
        }
        line = eol ? eol + 1 : NULL;
    }
    return n;
}

int drv__gpus_load(drv_wrk_t *wrk, char *errstr, size_t errstr_size)
{
    const char *conf = drv_conf_get(wrk->conf, "worker.gpus");
    const char *how = drv_conf_get(wrk->conf, "worker.gpu.request");
    wrk->gpus_total = 0;
    wrk->gpus_busy = 0;
    if (how && strcmp(how, "docker") && strcmp(how, "cdi")) {
        drv_errstr_set(errstr, errstr_size,
                       "worker.gpu.request must be docker or cdi");
        return -1;
    }
    if (conf && !strcmp(conf, "none")) {
        return 0;
    }
    if (conf && *conf) {
        int n = drv__gpus_parse_list(conf, wrk->gpu_ids, errstr, errstr_size);
        if (n < 0) {
            return -1;
        }
        wrk->gpus_total = n;
        return 0;
    }
    /* none configured: what the NVIDIA driver lists, if it is here */
    FILE *f = popen("command -v nvidia-smi >/dev/null 2>&1 && "
                    "nvidia-smi -L 2>/dev/null",
                    "r");
    if (!f) {
        return 0;
    }
    char text[16384];
    size_t got = fread(text, 1, sizeof(text) - 1, f);
    text[got] = '\0';
    pclose(f);
    char e[DRV_ERRSTR_SIZE];
    int n = drv__gpus_parse_smi(text, wrk->gpu_ids, e, sizeof(e));
    if (n < 0) {
        drv_log(wrk->log, DRV_LOG_WARN, "worker.gpus", NULL,
                "nvidia-smi -L: %s; this worker offers no GPUs", e);
        return 0;
    }
    wrk->gpus_total = n;
    return 0;
}

int drv__gpus_free(const drv_wrk_t *wrk)
{
    return wrk->gpus_total - __builtin_popcountll(wrk->gpus_busy);
}

void drv__gpus_take(drv_wrk_t *wrk, drv__job_t *job)
{
    size_t at = 0;
    job->gpu_mask = 0;
    job->gpu_devices[0] = '\0';
    for (int i = 0, got = 0; i < wrk->gpus_total && got < job->gpus; i++) {
        uint64_t bit = 1ULL << i;
        if (wrk->gpus_busy & bit) {
            continue;
        }
        wrk->gpus_busy |= bit;
        job->gpu_mask |= bit;
        at += (size_t)snprintf(job->gpu_devices + at,
                               sizeof(job->gpu_devices) - at, "%s%s",
                               got ? "," : "", wrk->gpu_ids[i]);
        got++;
    }
}

void drv__gpus_give(drv_wrk_t *wrk, const drv__job_t *job)
{
    wrk->gpus_busy &= ~job->gpu_mask;
}
