/* SPDX-License-Identifier: Apache-2.0 */
/*
 * drover-bench: runs one scenario against a running stack and prints one
 * JSON line of figures. Timings come from the JobStateChange events the
 * dispatcher publishes (their `time`), read from drover.events while the
 * scenario runs, so they are the system's own clock, not the harness's.
 *
 *   drover-bench [--config FILE] SCENARIO [N] [--runtime NAME]
 *   scenarios: independent N, array N, sequential-array N, chain N,
 *              single N (N jobs one after another, each submitted once
 *              the one before SUCCEEDED: p50/p99 of submit to SUCCEEDED),
 *              fanout N (1 -> N -> 1), cascade N (an array of N waits
 *              for a job that is then cancelled: the parent and every
 *              child fail through the cascade; seconds from the cancelled
 *              job's FAILED to the last child's), mixed N (three
 *              queues of different priority, N jobs each), backlog N
 *              (N jobs released to a compute environment no worker
 *              serves: they stay queued;
 *              the dispatcher's memory with N jobs waiting, then
 *              head_p50_ms/head_p99_ms: RUNNABLE to STARTING of
 *              HEAD_PROBES jobs on a served queue, one at a time, beside
 *              them),
 *              n-to-n N (an array of N, and an array of N whose child i
 *              waits for child i of the first: N_TO_N),
 *              failing N (N jobs that fail twice: two attempts each, a
 *              command of `false`, which the hollow runtime exits 1 for),
 *              gateway N (N concurrent SigV4 clients through drover-gateway:
 *              SubmitJob and DescribeJobs rates and latencies, and
 *              DescribeJobQueues latency beside a slow call; bench/gateway.c)
 */
#include <dirent.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

/* backlog: jobs that time the head of a served queue beside it */
#define HEAD_PROBES 20

#include "drover/avro_codec.h"
#include "drover/kafka.h"
#include "drover/producer.h"
#include "drover/util.h"
#include "bench.h"

typedef struct bench {
    drv_conf_t *conf;
    drv_client_t *client;
    drv_codec_t *codec;
    drv_kcons_t *events;
    json_t *times;   /* job id -> {status: time ms} */
    json_t *created; /* job id -> submit time ms (plain jobs and parents) */
    json_t *links;   /* [ [dependency, dependent], ... ] */
    json_t *finals;  /* ids whose terminal state ends the run */
    json_t *pending; /* SubmitJob requests not sent yet */
    int64_t first_submit;
    int64_t last_seen; /* when the newest event was read (local clock) */
} bench_t;

#define SUBMIT_BATCH 500

static void die(const char *msg)
{
    fprintf(stderr, "drover-bench: %s\n", msg);
    exit(1);
}

static json_t *call(bench_t *b, const char *op, json_t *req)
{
    char e[DRV_ERRSTR_SIZE];
    drv_err_t err;
    json_t *r = drv_client_call(b->client, op, req, &err, e, sizeof(e));
    json_decref(req);
    if (!r) {
        die(e);
    }
    return r;
}

static void read_events(bench_t *b, int timeout_ms)
{
    char e[DRV_ERRSTR_SIZE];
    for (drv_kmsg_t *m; (m = drv_kcons_poll(b->events, timeout_ms));
         timeout_ms = 0) {
        size_t len;
        const void *v = drv_kmsg_value(m, &len);
        const char *type;
        json_t *ev = NULL;
        if (v && drv_codec_decode(b->codec, v, len, &type, &ev, e, sizeof(e)) ==
                     DRV_OK) {
            const char *id = json_string_value(json_object_get(ev, "jobId"));
            const char *st = json_string_value(json_object_get(ev, "status"));
            json_t *t = json_object_get(b->times, id);
            if (!t) {
                t = json_object();
                json_object_set_new(b->times, id, t);
            }
            b->last_seen = drv_now_ms();
            if (!json_object_get(t, st)) { /* first occurrence counts */
                json_object_set(t, st, json_object_get(ev, "time"));
            }
        }
        json_decref(ev);
        drv_kmsg_destroy(m);
    }
}

/* Send the queued submissions as one batch (drv_client_submit_jobs). */
static void flush_submits(bench_t *b)
{
    char e[DRV_ERRSTR_SIZE];
    if (json_array_size(b->pending) == 0) {
        return;
    }
    json_t *r = drv_client_submit_jobs(b->client, b->pending, NULL, e,
                                       sizeof(e));
    if (!r) {
        die(e);
    }
    json_decref(r);
    json_array_clear(b->pending);
    read_events(b, 0); /* keep up while submitting */
}

/* Queue one submission (sent in batches of SUBMIT_BATCH); returns its id. */
static const char *submit(bench_t *b, const char *queue, const char *name,
                          json_t *extra)
{
    static char id[37];
    if (drv_uuid4(id) != 0) {
        die("no randomness for a job id");
    }
    json_t *req = json_pack("{s:s,s:s,s:s,s:s}", "jobId", id, "jobName", name,
                            "jobQueue", queue, "jobDefinition", "bench");
    if (extra) {
        json_object_update(req, extra);
        json_decref(extra);
    }
    int64_t t = drv_now_ms();
    if (!b->first_submit) {
        b->first_submit = t;
    }
    json_array_append_new(b->pending, req);
    json_object_set_new(b->created, id, json_integer(t));
    if (json_array_size(b->pending) >= SUBMIT_BATCH) {
        flush_submits(b);
    }
    return id;
}

/* A compute environment with room for everything and no worker. */
static void ensure_parked_ce(bench_t *b)
{
    json_t *r = call(b, "DescribeComputeEnvironments",
                     json_pack("{s:[s]}", "computeEnvironments",
                               "bench-parked"));
    size_t n = json_array_size(json_object_get(r, "computeEnvironments"));
    json_decref(r);
    if (n == 0) {
        json_decref(call(b, "CreateComputeEnvironment",
                         json_pack("{s:s,s:s,s:i}",
                                   "computeEnvironmentName", "bench-parked",
                                   "type", "UNMANAGED", "unmanagedvCpus",
                                   1000000)));
    }
}

static void ensure_queue_on(bench_t *b, const char *name, int priority,
                            const char *ce)
{
    json_t *r = call(b, "DescribeJobQueues",
                     json_pack("{s:[s]}", "jobQueues", name));
    size_t n = json_array_size(json_object_get(r, "jobQueues"));
    json_decref(r);
    if (n == 0) {
        json_decref(call(b, "CreateJobQueue",
                         json_pack("{s:s,s:i,s:[{s:i,s:s}]}", "jobQueueName",
                                   name, "priority", priority,
                                   "computeEnvironmentOrder", "order", 1,
                                   "computeEnvironment", ce)));
    }
}

static void ensure_queue(bench_t *b, const char *name, int priority)
{
    ensure_queue_on(b, name, priority, "local");
}

static int cmp_i64(const void *x, const void *y)
{
    int64_t a = *(const int64_t *)x, c = *(const int64_t *)y;
    return (a > c) - (a < c);
}

static double pct(int64_t *v, size_t n, double p)
{
    if (n == 0) {
        return 0;
    }
    qsort(v, n, sizeof(*v), cmp_i64);
    size_t i = (size_t)(p * (double)(n - 1) + 0.5);
    return (double)v[i];
}

static int64_t t_of(bench_t *b, const char *id, const char *status)
{
    return json_integer_value(json_object_get(json_object_get(b->times, id),
                                              status));
}

static bool all_done(bench_t *b)
{
    size_t i;
    json_t *id;
    json_array_foreach(b->finals, i, id)
    {
        json_t *t = json_object_get(b->times, json_string_value(id));
        if (!json_object_get(t, "SUCCEEDED") && !json_object_get(t, "FAILED")) {
            return false;
        }
    }
    return true;
}

/* VmRSS of the daemon whose pid file is run/<name>.pid, -1 if unknown. */
/* Every job of the run has reached `status`. */
static bool all_reached(bench_t *b, const char *status)
{
    size_t i;
    json_t *id;
    json_array_foreach(b->finals, i, id)
    {
        if (!json_object_get(json_object_get(b->times, json_string_value(id)),
                             status)) {
            return false;
        }
    }
    return true;
}

static double rss_mb(const char *name)
{
    const char *dir = getenv("DROVER_STACK_DIR");
    char path[1024], line[256];
    snprintf(path, sizeof(path), "%s/run/%s.pid", dir ? dir : ".stack", name);
    FILE *fp = fopen(path, "r");
    int pid = 0;
    if (!fp || fscanf(fp, "%d", &pid) != 1) {
        if (fp) {
            fclose(fp);
        }
        return -1;
    }
    fclose(fp);
    snprintf(path, sizeof(path), "/proc/%d/status", pid);
    fp = fopen(path, "r");
    double kb = -1;
    while (fp && fgets(line, sizeof(line), fp)) {
        if (!strncmp(line, "VmRSS:", 6)) {
            kb = atof(line + 6);
        }
    }
    if (fp) {
        fclose(fp);
    }
    return kb < 0 ? -1 : kb / 1024.0;
}

/* A process's /proc/PID/stat figures: its parent, its own CPU ticks
 * (utime + stime) and those of its children that ended (cutime +
 * cstime). false when it is gone. */
static bool proc_ticks(int pid, int *ppid, unsigned long long *own,
                       unsigned long long *reaped)
{
    char path[64], line[1024];
    snprintf(path, sizeof(path), "/proc/%d/stat", pid);
    FILE *fp = fopen(path, "r");
    bool ok = false;
    if (fp && fgets(line, sizeof(line), fp)) {
        /* after the ")" that ends comm: state, ppid, ... utime (14),
         * stime, cutime, cstime */
        const char *p = strrchr(line, ')');
        unsigned long long ut, st, cut, cst;
        ok = p && sscanf(p + 2, "%*c %d %*d %*d %*d %*d %*u %*u %*u %*u %*u "
                                "%llu %llu %llu %llu",
                         ppid, &ut, &st, &cut, &cst) == 5;
        if (ok) {
            *own = ut + st;
            *reaped = cut + cst;
        }
    }
    if (fp) {
        fclose(fp);
    }
    return ok;
}

/* The first number of a file (a pid file), or 0. */
static int pid_in(const char *path)
{
    FILE *fp = fopen(path, "r");
    int pid = 0;
    if (fp) {
        if (fscanf(fp, "%d", &pid) != 1) {
            pid = 0;
        }
        fclose(fp);
    }
    return pid;
}

/* CPU seconds (user + system) a stack daemon used so far (its pid file
 * under DROVER_STACK_DIR/run), or -1. */
static double daemon_cpu_s(const char *name)
{
    const char *dir = getenv("DROVER_STACK_DIR");
    char path[1024];
    snprintf(path, sizeof(path), "%s/run/%s.pid", dir ? dir : ".stack", name);
    int pid = pid_in(path), ppid;
    unsigned long long own, reaped;
    if (pid <= 0 || !proc_ticks(pid, &ppid, &own, &reaped)) {
        return -1;
    }
    return (double)own / (double)sysconf(_SC_CLK_TCK);
}

/* CPU seconds PostgreSQL used so far: the postmaster (DROVER_STACK_DIR/pg
 * /data/postmaster.pid), its live backends and those that ended; -1 when
 * it is not this stack's. */
static double postgres_cpu_s(void)
{
    const char *dir = getenv("DROVER_STACK_DIR");
    char path[1024];
    snprintf(path, sizeof(path), "%s/pg/data/postmaster.pid",
             dir ? dir : ".stack");
    int pm = pid_in(path), ppid;
    unsigned long long own, reaped, total = 0;
    if (pm <= 0 || !proc_ticks(pm, &ppid, &own, &reaped)) {
        return -1;
    }
    total = own + reaped;
    DIR *d = opendir("/proc");
    struct dirent *e;
    while (d && (e = readdir(d))) {
        int pid = atoi(e->d_name);
        if (pid > 0 && pid != pm && proc_ticks(pid, &ppid, &own, &reaped) &&
            ppid == pm) {
            total += own + reaped;
        }
    }
    if (d) {
        closedir(d);
    }
    return (double)total / (double)sysconf(_SC_CLK_TCK);
}

/* CPU seconds this process (the benchmark's clients) used so far. */
static double self_cpu_s(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
           (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

/* CPU seconds the whole machine spent busy so far (user, nice, system,
 * irq, softirq, steal: /proc/stat), or -1: PostgreSQL and Kafka too. */
static double machine_cpu_s(void)
{
    FILE *fp = fopen("/proc/stat", "r");
    unsigned long long v[8] = {0};
    int n = fp ? fscanf(fp, "cpu %llu %llu %llu %llu %llu %llu %llu %llu",
                        &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &v[6],
                        &v[7])
               : 0;
    if (fp) {
        fclose(fp);
    }
    if (n != 8) {
        return -1;
    }
    return (double)(v[0] + v[1] + v[2] + v[5] + v[6] + v[7]) /
           (double)sysconf(_SC_CLK_TCK);
}

/* CPU used by the dispatcher, the workers, PostgreSQL, Kafka, the
 * benchmark's own clients and the whole machine. */
typedef struct cpu {
    double disp, workers, machine, pg, kafka, bench;
} cpu_t;

static cpu_t cpu_now(void)
{
    cpu_t c = {daemon_cpu_s("dispatcher"), 0, machine_cpu_s(),
               postgres_cpu_s(), daemon_cpu_s("kafka"), self_cpu_s()};
    for (int w = 1; w <= 16; w++) {
        char name[32];
        snprintf(name, sizeof(name), "worker-%d", w);
        double s = daemon_cpu_s(name);
        c.workers += s > 0 ? s : 0;
    }
    return c;
}

int main(int argc, char **argv)
{
    const char *config = NULL, *runtime = "hollow", *scenario = NULL;
    long n = 1000;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--config") && i + 1 < argc) {
            config = argv[++i];
        } else if (!strcmp(argv[i], "--runtime") && i + 1 < argc) {
            runtime = argv[++i];
        } else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            puts("usage: drover-bench [--config FILE] [--runtime NAME] "
                 "SCENARIO [N]\n\nscenarios: independent, array, "
                 "sequential-array, chain, single, fanout, cascade, mixed, "
                 "n-to-n, failing, backlog, gateway\n--runtime only "
                 "labels the output: the workers' worker.runtime decides.");
            return 0;
        } else if (!scenario) {
            scenario = argv[i];
        } else {
            n = strtol(argv[i], NULL, 10);
        }
    }
    if (!scenario || n < 2) {
        fprintf(stderr, "usage: drover-bench [--config FILE] SCENARIO [N>=2] "
                        "(drover-bench --help)\n");
        return 2;
    }
    char e[DRV_ERRSTR_SIZE], group[64];
    bench_t b = {0};
    if (!(b.conf = drv_conf_load(config, e, sizeof(e))) ||
        !(b.codec = drv_codec_from_conf(b.conf, e, sizeof(e)))) {
        die(e);
    }
    b.client = drv_client_new(b.conf, NULL);
    b.times = json_object();
    b.created = json_object();
    b.links = json_array();
    b.finals = json_array();
    b.pending = json_array();
    drv_conf_t *cc = drv_conf_dup(b.conf);
    drv_conf_set(cc, "kafka.auto.offset.reset", "latest", NULL, 0);
    snprintf(group, sizeof(group), "drover-watch-bench-%d", (int)getpid());
    b.events = drv_kcons_new(cc, NULL, group, NULL, NULL, e, sizeof(e));
    const char *topics[] = {DRV_TOPIC_EVENTS};
    if (!b.events || drv_kcons_subscribe(b.events, topics, 1, e, sizeof(e))) {
        die(e);
    }
    int32_t parts[64];
    for (int i = 0; i < 200 && !drv_kcons_assignment(b.events, parts, 64);
         i++) {
        drv_kmsg_destroy(drv_kcons_poll(b.events, 100));
    }
    json_decref(call(&b, "RegisterJobDefinition",
                     json_pack("{s:s,s:s,s:{s:s,s:[s],s:[{s:s,s:s},{s:s,s:s}]}}",
                               "jobDefinitionName", "bench", "type",
                               "container", "containerProperties", "image",
                               "localhost/drover/busybox:latest", "command",
                               "true", "resourceRequirements", "type", "VCPU",
                               "value", "0.25", "type", "MEMORY", "value",
                               "16")));
    bool linked = false, backlog = false, single = false;
    char cascade_root[64] = "";
    int64_t cancelled_at = 0;
    long jobs = n;
    cpu_t cpu0 = cpu_now();
    char prev[64] = "", root[64];
    if (!strcmp(scenario, "independent")) {
        for (long i = 0; i < n; i++) {
            json_array_append_new(b.finals,
                                  json_string(submit(&b, "default", "ind",
                                                     NULL)));
        }
    } else if (!strcmp(scenario, "n-to-n")) {
        char first[64];
        snprintf(first, sizeof(first), "%s",
                 submit(&b, "default", "n-to-n-a",
                        json_pack("{s:{s:i}}", "arrayProperties", "size",
                                  (int)n)));
        const char *second = submit(
            &b, "default", "n-to-n-b",
            json_pack("{s:{s:i},s:[{s:s,s:s}]}", "arrayProperties", "size",
                      (int)n, "dependsOn", "jobId", first, "type", "N_TO_N"));
        json_array_append_new(b.finals, json_string(second));
        jobs = 2 * n;
    } else if (!strcmp(scenario, "failing")) {
        for (long i = 0; i < n; i++) {
            json_array_append_new(
                b.finals,
                json_string(submit(
                    &b, "default", "failing",
                    json_pack("{s:{s:[s]},s:{s:i}}", "containerOverrides",
                              "command", "false", "retryStrategy",
                              "attempts", 2))));
        }
    } else if (!strcmp(scenario, "array") ||
               !strcmp(scenario, "sequential-array")) {
        linked = scenario[0] == 's';
        const char *id = submit(
            &b, "default", scenario,
            json_pack("{s:{s:i},s:o}", "arrayProperties", "size", (int)n,
                      "dependsOn",
                      linked ? json_pack("[{s:s}]", "type", "SEQUENTIAL")
                             : json_array()));
        json_array_append_new(b.finals, json_string(id));
        for (long i = 1; linked && i < n; i++) { /* child i-1 -> i */
            json_array_append_new(
                b.links, json_pack("[o,o]", json_sprintf("%s:%ld", id, i - 1),
                                   json_sprintf("%s:%ld", id, i)));
        }
    } else if (!strcmp(scenario, "chain")) {
        linked = true;
        for (long i = 0; i < n; i++) {
            const char *id = submit(&b, "default", "chain",
                                    prev[0] ? json_pack("{s:[{s:s}]}",
                                                        "dependsOn", "jobId",
                                                        prev)
                                            : NULL);
            if (prev[0]) {
                json_array_append_new(b.links, json_pack("[s,s]", prev, id));
            }
            snprintf(prev, sizeof(prev), "%s", id);
        }
        json_array_append_new(b.finals, json_string(prev));
    } else if (!strcmp(scenario, "fanout")) {
        snprintf(root, sizeof(root), "%s", submit(&b, "default", "root", NULL));
        char arr[64];
        snprintf(arr, sizeof(arr), "%s",
                 submit(&b, "default", "fan",
                        json_pack("{s:{s:i},s:[{s:s}]}", "arrayProperties",
                                  "size", (int)n, "dependsOn", "jobId", root)));
        const char *sink = submit(&b, "default", "sink",
                                  json_pack("{s:[{s:s}]}", "dependsOn", "jobId",
                                            arr));
        json_array_append_new(b.finals, json_string(sink));
        jobs = n + 2;
    } else if (!strcmp(scenario, "single")) {
        single = true;
        int64_t until = drv_mono_ms() + 600 * 1000;
        for (long i = 0; i < n && drv_mono_ms() < until; i++) {
            char id[64];
            snprintf(id, sizeof(id), "%s", submit(&b, "default", "one", NULL));
            json_array_append_new(b.finals, json_string(id));
            flush_submits(&b);
            while (!t_of(&b, id, "SUCCEEDED") && !t_of(&b, id, "FAILED") &&
                   drv_mono_ms() < until) {
                read_events(&b, 20);
            }
        }
    } else if (!strcmp(scenario, "cascade")) {
        /* the root waits for a job on a compute environment no worker
         * serves, then is cancelled */
        ensure_parked_ce(&b);
        ensure_queue_on(&b, "bench-parked", 1, "bench-parked");
        char parked[64];
        snprintf(parked, sizeof(parked), "%s",
                 submit(&b, "bench-parked", "parked", NULL));
        snprintf(cascade_root, sizeof(cascade_root), "%s",
                 submit(&b, "default", "doomed",
                        json_pack("{s:[{s:s}]}", "dependsOn", "jobId",
                                  parked)));
        char arr[64];
        snprintf(arr, sizeof(arr), "%s",
                 submit(&b, "default", "cascade",
                        json_pack("{s:{s:i},s:[{s:s}]}", "arrayProperties",
                                  "size", (int)n, "dependsOn", "jobId",
                                  cascade_root)));
        json_array_append_new(b.finals, json_string(arr));
        for (long i = 0; i < n; i++) {
            json_array_append_new(b.finals, json_sprintf("%s:%ld", arr, i));
        }
        flush_submits(&b);
        /* once the array is recorded (PENDING), its dependency fails */
        int64_t until = drv_mono_ms() + 60 * 1000;
        while (!t_of(&b, arr, "PENDING") && drv_mono_ms() < until) {
            read_events(&b, 200);
        }
        cancelled_at = drv_now_ms();
        json_decref(call(&b, "CancelJob",
                         json_pack("{s:s,s:s}", "jobId", cascade_root,
                                   "reason", "bench cascade")));
    } else if (!strcmp(scenario, "mixed")) {
        ensure_queue(&b, "bench-high", 100);
        ensure_queue(&b, "bench-low", 1);
        const char *queues[] = {"bench-low", "default", "bench-high"};
        for (long i = 0; i < n; i++) {
            for (int q = 0; q < 3; q++) {
                json_array_append_new(b.finals,
                                      json_string(submit(&b, queues[q],
                                                         queues[q], NULL)));
            }
        }
        jobs = 3 * n;
    } else if (!strcmp(scenario, "gateway")) {
        /* N concurrent SigV4 clients through drover-gateway (gateway.c) */
        ensure_parked_ce(&b);
        ensure_queue_on(&b, "bench-parked", 1, "bench-parked");
        const char *secs = getenv("DROVER_BENCH_SECONDS");
        return drv_bench_gateway(b.conf, "bench-parked", (int)n,
                                 secs ? atoi(secs) : 10);
    } else if (!strcmp(scenario, "backlog")) {
        ensure_parked_ce(&b);
        ensure_queue_on(&b, "bench-parked", 1, "bench-parked");
        for (long i = 0; i < n; i++) {
            json_array_append_new(b.finals, json_string(submit(
                                                &b, "bench-parked", "parked",
                                                NULL)));
        }
        backlog = true;
    } else {
        die("unknown scenario (drover-bench --help lists them)");
    }
    flush_submits(&b);
    int64_t deadline = drv_mono_ms() + 3600 * 1000;
    while (!backlog && !all_done(&b) && drv_mono_ms() < deadline) {
        read_events(&b, 200);
    }
    while (backlog && !all_reached(&b, "RUNNABLE") && drv_mono_ms() < deadline) {
        read_events(&b, 200);
    }
    if (backlog) { /* then the scheduling passes that release them */
        for (int i = 0; i < 50; i++) {
            read_events(&b, 100);
        }
    }
    cpu_t cpu1 = cpu_now();
    double rss = rss_mb("dispatcher"), wrss = -1;
    for (int w = 1; w <= 16; w++) {
        char name[32];
        snprintf(name, sizeof(name), "worker-%d", w);
        double r = rss_mb(name);
        wrss = r > wrss ? r : wrss;
    }
    /* with the backlog waiting, the head of a served queue: HEAD_PROBES
     * jobs one after another, each from RUNNABLE to STARTING (released,
     * handed off, claimed), after the CPU figures */
    json_t *probes = json_object();
    int64_t head[HEAD_PROBES];
    size_t nhead = 0;
    for (int i = 0; backlog && i < HEAD_PROBES; i++) {
        char id[64];
        int64_t until = drv_mono_ms() + 60 * 1000;
        snprintf(id, sizeof(id), "%s", submit(&b, "default", "head", NULL));
        json_object_set_new(probes, id, json_true());
        flush_submits(&b);
        while (!t_of(&b, id, "SUCCEEDED") && !t_of(&b, id, "FAILED") &&
               drv_mono_ms() < until) {
            read_events(&b, 20);
        }
        if (t_of(&b, id, "STARTING") && t_of(&b, id, "RUNNABLE")) {
            head[nhead++] = t_of(&b, id, "STARTING") - t_of(&b, id, "RUNNABLE");
        }
    }
    /* figures */
    int64_t last = 0;
    const char *key;
    json_t *t;
    json_object_foreach(b.times, key, t)
    {
        int64_t s = json_integer_value(json_object_get(t, "SUCCEEDED"));
        int64_t f = json_integer_value(json_object_get(t, "FAILED"));
        last = s > last ? s : last;
        last = f > last ? f : last;
    }
    if (backlog) { /* until the last job was queued */
        json_object_foreach(b.times, key, t)
        {
            if (json_object_get(probes, key)) {
                continue;
            }
            int64_t r1 = json_integer_value(json_object_get(t, "RUNNABLE"));
            last = r1 > last ? r1 : last;
        }
    }
    int64_t from = cascade_root[0] ? t_of(&b, cascade_root, "FAILED")
                                   : b.first_submit;
    double seconds = (double)(last - from) / 1000.0;
    size_t cap = json_object_size(b.times) + 1;
    int64_t *lat = drv_calloc(cap, sizeof(*lat));
    size_t nl = 0;
    if (linked) { /* dependency stop -> dependent start */
        size_t i;
        json_t *pair;
        json_array_foreach(b.links, i, pair)
        {
            int64_t stop = t_of(&b, json_string_value(json_array_get(pair, 0)),
                                "SUCCEEDED");
            int64_t start = t_of(&b, json_string_value(json_array_get(pair, 1)),
                                 "RUNNING");
            if (stop && start && nl < cap) {
                lat[nl++] = start - stop;
            }
        }
    } else if (single) { /* the client's submit -> SUCCEEDED */
        json_object_foreach(b.created, key, t)
        {
            int64_t done = t_of(&b, key, "SUCCEEDED");
            if (done && nl < cap) {
                lat[nl++] = done - json_integer_value(t);
            }
        }
    } else { /* RUNNABLE -> RUNNING of every job that ran */
        json_object_foreach(b.times, key, t)
        {
            int64_t r1 = json_integer_value(json_object_get(t, "RUNNABLE"));
            int64_t r2 = json_integer_value(json_object_get(t, "RUNNING"));
            if (r1 && r2 && nl < cap) {
                lat[nl++] = r2 - r1;
            }
        }
    }
    double sum = 0;
    for (size_t i = 0; i < nl; i++) {
        sum += (double)lat[i];
    }
    json_t *out = json_pack("{s:s,s:s,s:s,s:I,s:f,s:f}", "system", "drover",
                            "scenario", scenario, "runtime", runtime, "jobs",
                            (json_int_t)jobs, "seconds", seconds, "jobs_per_s",
                            seconds > 0 ? (double)jobs / seconds : 0.0);
    if (cancelled_at) { /* the cancel call to the last event read */
        json_object_set_new(out, "seen_s",
                            json_real((double)(b.last_seen - cancelled_at) /
                                      1000.0));
    }
    if (linked && nl) {
        json_object_set_new(out, "ms_per_link", json_real(sum / (double)nl));
    }
    if (nl > 0) {
        json_object_set_new(out, "p50_ms", json_real(pct(lat, nl, 0.50)));
        json_object_set_new(out, "p99_ms", json_real(pct(lat, nl, 0.99)));
    }
    if (nhead > 0) {
        json_object_set_new(out, "head_p50_ms",
                            json_real(pct(head, nhead, 0.50)));
        json_object_set_new(out, "head_p99_ms",
                            json_real(pct(head, nhead, 0.99)));
    }
    if (rss >= 0) {
        json_object_set_new(out, "dispatcher_rss_mb", json_real(rss));
    }
    /* CPU seconds spent on the scenario (steadier than wall time on a
     * shared machine): the dispatcher, the workers, the whole machine */
    if (cpu0.disp >= 0 && cpu1.disp >= 0) {
        json_object_set_new(out, "dispatcher_cpu_s",
                            json_real(cpu1.disp - cpu0.disp));
    }
    json_object_set_new(out, "workers_cpu_s",
                        json_real(cpu1.workers - cpu0.workers));
    if (cpu0.machine >= 0 && cpu1.machine >= 0) {
        json_object_set_new(out, "machine_cpu_s",
                            json_real(cpu1.machine - cpu0.machine));
    }
    if (wrss >= 0) {
        json_object_set_new(out, "worker_rss_mb", json_real(wrss));
    }
    if (cpu0.pg >= 0 && cpu1.pg >= 0) {
        json_object_set_new(out, "postgres_cpu_s",
                            json_real(cpu1.pg - cpu0.pg));
    }
    if (cpu0.kafka >= 0 && cpu1.kafka >= 0) {
        json_object_set_new(out, "kafka_cpu_s",
                            json_real(cpu1.kafka - cpu0.kafka));
    }
    json_object_set_new(out, "bench_cpu_s", json_real(cpu1.bench - cpu0.bench));
    /* where each job's CPU goes, in milliseconds */
    if (jobs > 0) {
        const struct {
            const char *key;
            double a, b;
        } per[] = {{"dispatcher", cpu0.disp, cpu1.disp},
                   {"postgres", cpu0.pg, cpu1.pg},
                   {"kafka", cpu0.kafka, cpu1.kafka},
                   {"workers", cpu0.workers, cpu1.workers},
                   {"bench", cpu0.bench, cpu1.bench},
                   {"machine", cpu0.machine, cpu1.machine}};
        json_t *ms = json_object();
        for (size_t i = 0; i < sizeof(per) / sizeof(per[0]); i++) {
            if (per[i].a >= 0 && per[i].b >= 0) {
                json_object_set_new(ms, per[i].key,
                                    json_real((per[i].b - per[i].a) * 1000.0 /
                                              (double)jobs));
            }
        }
        json_object_set_new(out, "cpu_ms_per_job", ms);
    }
    bool complete = backlog ? all_reached(&b, "RUNNABLE") &&
                                  nhead == HEAD_PROBES
                            : all_done(&b);
    json_decref(probes);
    if (!complete) {
        json_object_set_new(out, "incomplete", json_true());
    }
    char *line = json_dumps(out, JSON_COMPACT | JSON_PRESERVE_ORDER |
                                     JSON_REAL_PRECISION(6));
    puts(line);
    free(line);
    json_decref(out);
    free(lat);
    drv_kcons_destroy(b.events);
    drv_conf_destroy(cc);
    drv_codec_destroy(b.codec);
    drv_client_destroy(b.client);
    json_decref(b.times);
    json_decref(b.created);
    json_decref(b.links);
    json_decref(b.finals);
    json_decref(b.pending);
    drv_conf_destroy(b.conf);
    return complete ? 0 : 1;
}
