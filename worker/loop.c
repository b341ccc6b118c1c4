/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The worker handle and its main loop: poll the control and run topics,
 * admit attempts within free capacity (holding one message and pausing
 * the partitions when full), claim them, heartbeat, and drain on stop.
 * Also the real status reporter and the table of runtimes.
 */
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "drover/util.h"
#include "worker_int.h"

#define MAX_PARTS 256
#define CLAIM_BATCH 64
/* a RunJob held this long for room pauses the consumer (see the loop) */
#define HOLD_PAUSE_MS 1000

static int64_t host_memory_mib(void)
{
    long pages = sysconf(_SC_PHYS_PAGES), size = sysconf(_SC_PAGESIZE);
    return pages > 0 && size > 0 ? (int64_t)pages * size / (1024 * 1024) : 1024;
}

/* worker.runtime -> its ops, chosen once by drv__wrk_alloc. */
static const drv__rt_ops_t *const runtimes[] = {
    &drv__rt_container,
    &drv__rt_process,
    &drv__rt_hollow,
};

/* A record on drover.status, signed with worker.key when it is set. */
static int send_status(drv_wrk_t *wrk, const char *key, const void *buf,
                       size_t len, char *errstr, size_t errstr_size)
{
    char sig[DRV_ORIGIN_SIG_HEX_SIZE];
    drv_kheader_t h[2] = {{DRV_ORIGIN_HEADER, wrk->origin},
                          {DRV_ORIGIN_SIG_HEADER, sig}};
    if (wrk->signs) {
        drv_origin_sign(&wrk->key, wrk->origin, buf, len, sig);
    }
    return drv_kprod_send(wrk->kprod, DRV_TOPIC_STATUS, -1, key, buf, len,
                          wrk->signs ? h : NULL, wrk->signs ? 2 : 0, errstr,
                          errstr_size);
}

/* The real drv__report_fn: a JobStatus on drover.status. */
static void report(drv_wrk_t *wrk, const char *job_id, int attempt,
                   const char *status, json_t *extra)
{
    char e[DRV_ERRSTR_SIZE];
    json_t *msg = json_pack("{s:s,s:i,s:s,s:s,s:I,s:I}", "jobId", job_id,
                            "attempt", attempt, "status", status, "worker",
                            wrk->id, "timestamp", (json_int_t)drv_now_ms(),
                            "workerStartedAt",
                            (json_int_t)wrk->started_at);
    if (extra) {
        json_object_update(msg, extra);
        json_decref(extra);
    }
    void *buf = NULL;
    size_t len;
    if (drv_codec_encode(wrk->codec, "JobStatus", msg, &buf, &len, e,
                         sizeof(e)) != 0 ||
        send_status(wrk, job_id, buf, len, e, sizeof(e)) != 0) {
        json_t *f = drv_log_job(job_id);
        drv_log(wrk->log, DRV_LOG_ERROR, "worker.report_failed", f,
                "could not report %s: %s", status, e);
        json_decref(f);
    }
    free(buf);
    json_decref(msg);
}

static bool health(void *opaque, char *text, size_t size)
{
    drv_wrk_t *wrk = opaque;
    int64_t age = drv_now_ms() - atomic_load(&wrk->loop_ok_ms);
    if (age > 30000) {
        snprintf(text, size, "unhealthy: main loop stuck for %lld s",
                 (long long)(age / 1000));
        return false;
    }
    snprintf(text, size, "ok");
    return true;
}

static void heartbeat(drv_wrk_t *wrk, bool draining)
{
    char e[DRV_ERRSTR_SIZE];
    int32_t parts[MAX_PARTS];
    size_t np = drv_kcons_assignment(wrk->kcons, parts, MAX_PARTS);
    json_t *pl = json_array(), *rl = json_array();
    for (size_t i = 0; i < np; i++) {
        json_array_append_new(pl, json_integer(parts[i]));
    }
    pthread_mutex_lock(&wrk->lock);
    for (drv__attempt_t *a = wrk->running; a; a = a->next) {
        json_array_append_new(rl, json_pack("{s:s,s:i}", "jobId", a->job.id,
                                            "attempt", a->job.attempt));
    }
    json_t *hb = json_pack(
        "{s:s,s:s,s:f,s:f,s:I,s:I,s:o,s:o,s:I,s:I,s:b}", "worker", wrk->id,
        "computeEnvironment", wrk->ce, "vcpusTotal", wrk->vcpus_total,
        "vcpusFree", wrk->vcpus_free, "memoryTotalMiB",
        (json_int_t)wrk->memory_total, "memoryFreeMiB",
        (json_int_t)wrk->memory_free, "running", rl, "partitions", pl,
        "startedAt", (json_int_t)wrk->started_at, "timestamp",
        (json_int_t)drv_now_ms(), "draining", draining);
    json_object_set_new(hb, "gpusTotal", json_integer(wrk->gpus_total));
    json_object_set_new(hb, "gpusFree", json_integer(drv__gpus_free(wrk)));
    drv_metrics_set(wrk->metrics, "drover_worker_running_attempts", NULL,
                    wrk->running_cnt);
    drv_metrics_set(wrk->metrics, "drover_worker_free_vcpus", NULL,
                    wrk->vcpus_free);
    drv_metrics_set(wrk->metrics, "drover_worker_free_memory_mib", NULL,
                    (double)wrk->memory_free);
    pthread_mutex_unlock(&wrk->lock);
    drv_metrics_kafka_lag(wrk->metrics, wrk->kcons);
    void *buf;
    size_t len;
    if (drv_codec_encode(wrk->codec, "WorkerHeartbeat", hb, &buf, &len, e,
                         sizeof(e)) == 0) {
        send_status(wrk, wrk->id, buf, len, e, sizeof(e));
        free(buf);
    }
    json_decref(hb);
}

/* The worker's metric families. */
static const drv_metric_family_t families[] = {
    {"drover_worker_running_attempts", "gauge", "attempts running on this worker"},
    {"drover_worker_free_vcpus", "gauge", "vCPUs this worker can still give"},
    {"drover_worker_free_memory_mib", "gauge",
     "memory (MiB) this worker can still give"},
    {"drover_attempts_total", "counter", "attempts finished here, by status"},
    {"drover_container_start_seconds_sum", "counter",
     "container create+start time, summed"},
    {"drover_container_start_seconds_count", "counter", "containers started"},
    {"drover_kafka_consumer_lag", "gauge",
     "run requests not yet consumed, by partition"},
};

static const drv__rt_ops_t *find_runtime(const char *name)
{
    for (size_t i = 0; name && i < DRV_ARRAY_SIZE(runtimes); i++) {
        if (!strcmp(name, runtimes[i]->name)) {
            return runtimes[i];
        }
    }
    return NULL;
}

drv_wrk_t *drv__wrk_alloc(const drv_conf_t *conf, drv_log_t *log,
                          char *errstr, size_t errstr_size)
{
    const char *name = drv_conf_get(conf, "worker.runtime");
    const drv__rt_ops_t *rt = find_runtime(name);
    if (!rt) {
        drv_errstr_set(errstr, errstr_size,
                       "worker.runtime \"%s\": expected container, process "
                       "or hollow",
                       name ? name : "");
        return NULL;
    }
    const char *scratch = drv_conf_get(conf, "worker.scratch.dir");
    struct stat st;
    if (scratch && *scratch &&
        (scratch[0] != '/' || strlen(scratch) > 255 ||
         stat(scratch, &st) != 0 || !S_ISDIR(st.st_mode))) {
        drv_errstr_set(errstr, errstr_size,
                       "worker.scratch.dir \"%.255s\": expected an existing "
                       "directory, as an absolute path of at most 255 bytes",
                       scratch);
        return NULL;
    }
    drv_origin_key_t key = {{0}};
    const char *key_hex = drv_conf_get(conf, "worker.key");
    bool signs = key_hex && *key_hex;
    if (signs && drv_origin_key_parse(key_hex, "worker.key", &key, errstr,
                                      errstr_size) != 0) {
        return NULL;
    }
    drv_wrk_t *wrk = drv_calloc(1, sizeof(*wrk));
    wrk->signs = signs;
    wrk->key = key;
    pthread_mutex_init(&wrk->lock, NULL);
    pthread_cond_init(&wrk->cond, NULL);
    wrk->conf = conf;
    wrk->log = log;
    wrk->ce = drv_conf_get(conf, "worker.compute.environment");
    wrk->rt = rt;
    wrk->report = report;
    wrk->thread_create = pthread_create;
    wrk->started_at = drv_now_ms();
    const char *id = drv_conf_get(conf, "worker.id");
    if (id && *id) {
        snprintf(wrk->id, sizeof(wrk->id), "%s", id);
    } else {
        char host[200];
        drv_hostname(host, sizeof(host));
        snprintf(wrk->id, sizeof(wrk->id), "%s-%d", host, (int)getpid());
    }
    if (!drv_origin_name(wrk->ce, wrk->id, wrk->origin,
                         sizeof(wrk->origin))) {
        drv_errstr_set(errstr, errstr_size,
                       "worker.id and worker.compute.environment must be "
                       "at most 255 bytes each");
        drv_wrk_destroy(wrk);
        return NULL;
    }
    wrk->rt_host = (drv__rt_host_t){
        .conf = conf, .log = log, .worker_id = wrk->id, .ce = wrk->ce};
    wrk->vcpus_total = drv_conf_get_double(conf, "worker.vcpus");
    if (wrk->vcpus_total <= 0) {
        wrk->vcpus_total = (double)sysconf(_SC_NPROCESSORS_ONLN);
    }
    wrk->memory_total = drv_conf_get_int(conf, "worker.memory.mib");
    if (wrk->memory_total <= 0) {
        wrk->memory_total = host_memory_mib();
    }
    wrk->vcpus_free = wrk->vcpus_total;
    wrk->memory_free = wrk->memory_total;
    if (drv__gpus_load(wrk, errstr, errstr_size) != 0) {
        drv_wrk_destroy(wrk);
        return NULL;
    }
    wrk->stopped = drv_strset_new();
    wrk->seen = drv_strset_new();
    atomic_init(&wrk->loop_ok_ms, drv_now_ms());
    wrk->metrics = drv_metrics_new();
    drv_metrics_declare_all(wrk->metrics, families,
                            DRV_ARRAY_SIZE(families));
    return wrk;
}

drv_wrk_t *drv_wrk_new(const drv_conf_t *conf, drv_log_t *log, char *errstr,
                       size_t errstr_size)
{
    char group[300];
    drv_wrk_t *wrk = drv__wrk_alloc(conf, log, errstr, errstr_size);
    if (!wrk) {
        return NULL;
    }
    const char *listen = drv_conf_get(conf, "metrics.listen");
    if (listen && *listen &&
        !(wrk->http = drv_http_start(listen, wrk->metrics, health, wrk,
                                     errstr, errstr_size))) {
        drv_wrk_destroy(wrk);
        return NULL;
    }
    if (!wrk->signs) {
        drv_log(log, DRV_LOG_WARN, "worker.unsigned", NULL,
                "worker.key is not set: this worker's reports are unsigned, "
                "and a dispatcher that checks origins will refuse them");
    }
    snprintf(group, sizeof(group), "drover-worker.%s", wrk->ce);
    if (!(wrk->codec = drv_codec_from_conf(conf, errstr, errstr_size)) ||
        !(wrk->kprod = drv_kprod_new(conf, log,
                                     DRV_KPROD_DURABLE | DRV_KPROD_PROMPT,
                                     errstr, errstr_size)) ||
        !(wrk->kcons = drv_kcons_new(conf, log, group, NULL, NULL, errstr,
                                     errstr_size))) {
        drv_wrk_destroy(wrk);
        return NULL;
    }
    /* every worker hears every stop request: a group of its own, from now */
    drv_conf_t *ctl = drv_conf_dup(conf);
    drv_conf_set(ctl, "kafka.auto.offset.reset", "latest", NULL, 0);
    snprintf(group, sizeof(group), "drover-worker-control.%s.%s.%lld", wrk->ce,
             wrk->id, (long long)wrk->started_at);
    wrk->kctl = drv_kcons_new(ctl, log, group, NULL, NULL, errstr, errstr_size);
    drv_conf_destroy(ctl);
    if (!wrk->kctl) {
        drv_wrk_destroy(wrk);
        return NULL;
    }
    return wrk;
}

void drv_wrk_destroy(drv_wrk_t *wrk)
{
    if (!wrk) {
        return;
    }
    drv_http_stop(wrk->http);
    drv_kcons_destroy(wrk->kctl);
    drv_kcons_destroy(wrk->kcons);
    drv_strset_destroy(wrk->stopped);
    drv_strset_destroy(wrk->seen);
    drv_kprod_destroy(wrk->kprod);
    drv_codec_destroy(wrk->codec);
    drv_metrics_destroy(wrk->metrics);
    pthread_cond_destroy(&wrk->cond);
    pthread_mutex_destroy(&wrk->lock);
    free(wrk);
}

/* SIGTERM: wait for running attempts; after worker.drain.timeout.seconds
 * (0: no limit) stop the rest and hand them back to the dispatcher. */
static void drain(drv_wrk_t *wrk)
{
    int64_t limit = drv_conf_get_int(wrk->conf, "worker.drain.timeout.seconds");
    int64_t deadline = drv_mono_ms() + limit * 1000;
    bool handed = false;
    pthread_mutex_lock(&wrk->lock);
    while (wrk->running_cnt > 0) {
        if (limit > 0 && !handed && drv_mono_ms() >= deadline) {
            int n = drv__attempt_hand_back_all(wrk);
            drv_log(wrk->log, DRV_LOG_WARN, "worker.drain_timeout", NULL,
                    "drain timeout: %d attempt(s) stopped and handed back",
                    n);
            handed = true;
        }
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += 1;
        pthread_cond_timedwait(&wrk->cond, &wrk->lock, &ts);
    }
    pthread_mutex_unlock(&wrk->lock);
}

/* A RunJob held for room, and whether the consumer is paused for it. */
typedef struct hold {
    drv_kmsg_t *msg;
    json_t *run;
    int64_t since;
    bool paused;
} hold_t;

/* Try the held RunJob again: true once admitted (its message then joins
 * the claim), false after a short wait for room. */
static bool retry_held(drv_wrk_t *wrk, hold_t *h)
{
    pthread_mutex_lock(&wrk->lock);
    unsigned long ended = wrk->ended;
    pthread_mutex_unlock(&wrk->lock);
    if (drv__admit(wrk, h->run)) {
        h->run = NULL;
        if (h->paused) {
            drv_kcons_pause(wrk->kcons, 0);
            h->paused = false;
        }
        return true;
    }
    /* woken at once when an attempt ends and frees room; the paused
     * consumer is still polled for its callbacks */
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_nsec += 50 * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&wrk->lock);
    if (wrk->ended == ended) {
        pthread_cond_timedwait(&wrk->cond, &wrk->lock, &ts);
    }
    pthread_mutex_unlock(&wrk->lock);
    /* a short wait leaves the consumer alone (a resumed partition fetches
     * again only after about a second); a long one pauses it, so that it
     * is polled for the group's rebalances without taking messages */
    if (!h->paused && drv_mono_ms() - h->since >= HOLD_PAUSE_MS) {
        drv_kcons_pause(wrk->kcons, 1);
        h->paused = true;
    }
    if (h->paused) {
        drv_kmsg_t *m = drv_kcons_poll(wrk->kcons, 0);
        if (m) { /* a partition assigned since the pause */
            drv_kcons_pause(wrk->kcons, 1);
            drv_kcons_rewind(wrk->kcons, m);
            drv_kmsg_destroy(m);
        }
    }
    return false;
}

/* Take what is there (up to a batch), admitting it; the first RunJob with
 * no room is held. Returns the batch's new size. */
static size_t take(drv_wrk_t *wrk, hold_t *h, drv_kmsg_t **batch, size_t n)
{
    while (n < CLAIM_BATCH && !h->msg) {
        drv_kmsg_t *msg = drv_kcons_poll(wrk->kcons, n ? 0 : 100);
        if (!msg) {
            break;
        }
        json_t *run = drv__admit_decode(wrk, msg);
        if (!run || drv__admit(wrk, run)) {
            batch[n++] = msg;
            continue;
        }
        h->msg = msg; /* its offset is stored once it is admitted */
        h->run = run;
        h->since = drv_mono_ms();
    }
    return n;
}

static int subscribe(drv_wrk_t *wrk, char *topic, size_t topic_size,
                     char *errstr, size_t errstr_size)
{
    char ctl_topic[300];
    snprintf(topic, topic_size, DRV_TOPIC_RUN_PREFIX "%s", wrk->ce);
    snprintf(ctl_topic, sizeof(ctl_topic), DRV_TOPIC_CONTROL_PREFIX "%s",
             wrk->ce);
    const char *topics[] = {topic}, *ctl_topics[] = {ctl_topic};
    if (drv_kcons_subscribe(wrk->kcons, topics, 1, errstr, errstr_size) != 0 ||
        drv_kcons_subscribe(wrk->kctl, ctl_topics, 1, errstr, errstr_size)) {
        return -1;
    }
    return 0;
}

int drv_wrk_run(drv_wrk_t *wrk, volatile sig_atomic_t *stop, char *errstr,
                size_t errstr_size)
{
    char topic[300];
    if (subscribe(wrk, topic, sizeof(topic), errstr, errstr_size) != 0) {
        return -1;
    }
    if (wrk->rt->reap) {
        wrk->rt->reap(&wrk->rt_host);
    }
    json_t *f = json_pack("{s:s,s:s,s:f,s:I}", "worker", wrk->id, "topic",
                          topic, "vcpus", wrk->vcpus_total, "memory_mib",
                          (json_int_t)wrk->memory_total);
    drv_log(wrk->log, DRV_LOG_INFO, "worker.started", f, "worker running");
    json_decref(f);
    int64_t hb_ms = drv_conf_get_int(wrk->conf, "worker.heartbeat.ms");
    int64_t next_hb = 0;
    hold_t h = {0};
    while (!*stop) {
        atomic_store(&wrk->loop_ok_ms, drv_now_ms());
        if (drv_mono_ms() >= next_hb) {
            heartbeat(wrk, false);
            next_hb = drv_mono_ms() + hb_ms;
        }
        for (drv_kmsg_t *c; (c = drv_kcons_poll(wrk->kctl, 0));) {
            drv__control_handle(wrk, c);
            drv_kmsg_destroy(c);
        }
        drv_kmsg_t *batch[CLAIM_BATCH];
        size_t n = 0;
        if (h.msg) {
            if (!retry_held(wrk, &h)) {
                drv_kprod_poll(wrk->kprod);
                continue;
            }
            batch[n++] = h.msg; /* claimed with whatever else fits now */
            h.msg = NULL;
        }
        n = take(wrk, &h, batch, n);
        drv__admit_claim(wrk, batch, n, stop);
        drv_kprod_poll(wrk->kprod);
    }
    /* drain: take nothing new, let running attempts finish */
    drv_kmsg_destroy(h.msg);
    json_decref(h.run);
    heartbeat(wrk, true);
    drain(wrk);
    if (wrk->rt->release) {
        wrk->rt->release(&wrk->rt_host);
    }
    drv_kprod_flush(wrk->kprod, 10000, errstr, errstr_size);
    drv_log(wrk->log, DRV_LOG_INFO, "worker.stopped", NULL, "worker stopped");
    return 0;
}
