/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The provisioner: capacity for MANAGED compute environments, following
 * the jobs that could run there. It runs in a thread of its own, on a
 * PostgreSQL session of its own holding a lock of its own (one provisioner
 * acts in a cluster of dispatchers, whichever leads), and every
 * provisioner.interval.ms:
 *
 *   1. computes each MANAGED environment's desired capacity: its released
 *      jobs and the RUNNABLE jobs its queues would send it, packed into
 *      workers of its sizes (instanceTypes in provisioner.sizes), never
 *      past maxvCpus nor below minvCpus (nor, for one idle period, below a
 *      desiredvCpus the API set); desiredvCpus is the packed workers'
 *      vCPUs (compute_environments.desired_vcpus, the metric
 *      drover_ce_desired_vcpus);
 *   2. makes the workers match through the environment's provisioner (the
 *      tag drover:provisioner, else provisioner.default): starts the
 *      missing ones, each with a stable id, a signing key and its size;
 *      replaces one that died; kills one that never sent a heartbeat;
 *      drains (SIGTERM) one that has been idle for provisioner.idle.seconds
 *      and is no longer needed. A worker with a job is never stopped.
 *
 * Provisioners are behind drv__prov_ops_t: `process` (drover-worker
 * processes on this host), `container` (drover-worker containers of
 * Drover's image through the Docker Engine API), `kubernetes` (the
 * replicas of a Deployment, through the scale subresource) and `external`
 * (desired capacity only).
 */
#ifndef DRV_DISP_PROVISION_H
#define DRV_DISP_PROVISION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "drover/conf.h"
#include "drover/log.h"
#include "drover/metrics.h"
#include "drover/origin.h"

#define DRV_PROVISIONER_TAG "drover:provisioner"
#define DRV_SIZE_NAME_MAX 64
#define DRV_SIZES_MAX 64

/* A worker size of provisioner.sizes. */
typedef struct drv__size {
    char name[DRV_SIZE_NAME_MAX + 1];
    double vcpus;
    int64_t mib;
    int gpus;
} drv__size_t;

/* Parse provisioner.sizes (NAME=VCPUS/MEMORY_MIB[/GPUS],...). 0, or -1
 * with errstr naming the entry. */
int drv__sizes_parse(const char *spec, drv__size_t *sizes, size_t *n,
                     char *errstr, size_t errstr_size);

/* A worker of a plan: its size (an index into the plan's sizes) and the
 * room the jobs packed into it left. */
typedef struct drv__bin {
    size_t size;
    double free_v, free_m;
    int free_g;
} drv__bin_t;

/* The workers one environment needs: jobs packed first fit into workers,
 * a new one of the smallest size that holds the job when none has room,
 * while the total stays within max_v vCPUs and max_workers workers. */
typedef struct drv__plan {
    const drv__size_t *sizes; /* the environment's, borrowed */
    size_t nsizes;
    double max_v;
    size_t max_workers;
    drv__bin_t *bins;
    size_t nbins, cap;
    double vcpus; /* the bins' sizes' vCPUs, summed */
} drv__plan_t;

/* 1 packed, 0 no room left within the maximum, -1 no size holds it. */
int drv__plan_add(drv__plan_t *p, double v, double m, int g);
/* Add workers of size `size` while the plan has less than min_v vCPUs
 * (and room within its maximum). */
void drv__plan_floor(drv__plan_t *p, double min_v, size_t size);
/* How many workers of each size (counts: nsizes entries). */
void drv__plan_counts(const drv__plan_t *p, int *counts);
void drv__plan_free(drv__plan_t *p);

typedef struct drv__prov drv__prov_t;

/* What a provisioner's operations are given: the configuration and the
 * directory of the workers' files (provisioner.dir). */
typedef struct drv__prov_ctx {
    const drv_conf_t *conf;
    const char *dir;
    void *engine; /* the container provisioner's engine client (its own,
                     made on first use, freed with the provisioner) */
} drv__prov_ctx_t;

/* A provisioned worker as the provisioner knows it. */
typedef struct drv__pworker {
    const char *id, *ce;
    const char *handle; /* what start() returned; NULL before */
    const drv__size_t *size;
} drv__pworker_t;

/* One way of running workers. */
typedef struct drv__prov_ops {
    const char *name;
    /* lines its workers' configuration ends with (may be "") */
    const char *conf_lines;
    /* Start worker w with configuration file `conf`; how to find it again
     * goes to handle. 0, or -1 with errstr. */
    int (*start)(drv__prov_ctx_t *ctx, const drv__pworker_t *w,
                 const char *conf, char *handle, size_t handle_size,
                 char *errstr, size_t errstr_size);
    /* 1 while it runs, 0 once gone (why: how it ended). */
    int (*alive)(drv__prov_ctx_t *ctx, const drv__pworker_t *w, char *why,
                 size_t why_size);
    /* SIGTERM (it drains, then exits) or, with kill, SIGKILL. */
    void (*stop)(drv__prov_ctx_t *ctx, const drv__pworker_t *w, bool kill);
    /* Instead of the three above, for a provisioner whose platform keeps
     * the workers (Kubernetes): how many environment ce has (replicas),
     * and set that to `next`, the workers `idle` (n_idle, marked draining)
     * to be the ones removed when it is fewer. 0, or -1 with errstr. */
    int (*replicas)(drv__prov_ctx_t *ctx, const char *ce, int *cur,
                    char *errstr, size_t errstr_size);
    int (*scale)(drv__prov_ctx_t *ctx, const char *ce, int next,
                 const char *const *idle, int n_idle, char *errstr,
                 size_t errstr_size);
} drv__prov_ops_t;

extern const drv__prov_ops_t drv__prov_process;
extern const drv__prov_ops_t drv__prov_container;
extern const drv__prov_ops_t drv__prov_kubernetes;
/* The engine client a container provisioner made, freed. */
void drv__prov_container_free(drv__prov_ctx_t *ctx);

/* What the provisioner needs; conf, log, metrics and master are borrowed
 * for its life (master NULL: workers get no signing key). NULL with
 * errstr naming the key when its configuration is wrong. */
drv__prov_t *drv__prov_new(const drv_conf_t *conf, drv_log_t *log,
                           drv_metrics_t *metrics,
                           const drv_origin_key_t *master, char *errstr,
                           size_t errstr_size);
/* Start its thread (0, or -1 with errstr). */
int drv__prov_start(drv__prov_t *prov, char *errstr, size_t errstr_size);
/* Stop its thread and free it; the workers it started keep running (a
 * provisioner that takes over finds them). */
void drv__prov_destroy(drv__prov_t *prov);
/* One round, on the provisioner's own connection (the thread's work; for
 * tests). 0, or -1 with errstr. */
int drv__prov_round(drv__prov_t *prov, char *errstr, size_t errstr_size);

#endif
