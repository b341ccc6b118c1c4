/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The worker's loop: poll the run topic, admit attempts within free
 * capacity (holding one message and pausing the partitions when full),
 * heartbeat, and drain on stop.
 */
#include <inttypes.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "drover/docker.h"

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

void drv__wrk_report(drv_wrk_t *wrk, const char *job_id, int attempt,
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
    void *buf;
    size_t len;
    if (drv_codec_encode(wrk->codec, "JobStatus", msg, &buf, &len, e,
                         sizeof(e)) != 0 ||
        drv_kprod_send(wrk->kprod, DRV_TOPIC_STATUS, -1, job_id, buf, len,
                       NULL, 0, e, sizeof(e)) != 0) {
        json_t *f = drv_log_job(job_id);
        drv_log(wrk->log, DRV_LOG_ERROR, "worker.report_failed", f,
                "could not report %s: %s", status, e);
        json_decref(f);
    } else {
        free(buf);
    }
    json_decref(msg);
}

static bool health(void *opaque, char *text, size_t size)
{
    drv_wrk_t *wrk = opaque;
    int64_t age = drv_now_ms() - wrk->loop_ok_ms;
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
        json_array_append_new(rl, json_pack("{s:s,s:i}", "jobId", a->job_id,
                                            "attempt", a->attempt));
    }
    json_t *hb = json_pack(
        "{s:s,s:s,s:f,s:f,s:I,s:I,s:o,s:o,s:I,s:I,s:b}", "worker", wrk->id,
        "computeEnvironment", wrk->ce, "vcpusTotal", wrk->vcpus_total,
        "vcpusFree", wrk->vcpus_free, "memoryTotalMiB",
        (json_int_t)wrk->memory_total, "memoryFreeMiB",
        (json_int_t)wrk->memory_free, "running", rl, "partitions", pl,
        "startedAt", (json_int_t)wrk->started_at, "timestamp",
        (json_int_t)drv_now_ms(), "draining", draining);
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
        drv_kprod_send(wrk->kprod, DRV_TOPIC_STATUS, -1, wrk->id, buf, len,
                       NULL, 0, e, sizeof(e));
        free(buf);
    }
    json_decref(hb);
}

drv_wrk_t *drv_wrk_new(const drv_conf_t *conf, drv_log_t *log, char *errstr,
                       size_t errstr_size)
{
    char group[300];
    drv_wrk_t *wrk = drv_calloc(1, sizeof(*wrk));
    pthread_mutex_init(&wrk->lock, NULL);
    pthread_cond_init(&wrk->cond, NULL);
    wrk->conf = conf;
    wrk->log = log;
    wrk->ce = drv_conf_get(conf, "worker.compute.environment");
    const char *rt = drv_conf_get(conf, "worker.runtime");
    if (strcmp(rt, "container") != 0 && strcmp(rt, "hollow") != 0 &&
        strcmp(rt, "process") != 0) {
        drv_errstr_set(errstr, errstr_size,
                       "worker.runtime \"%s\": expected container, process "
                       "or hollow",
                       rt);
        pthread_mutex_destroy(&wrk->lock);
        pthread_cond_destroy(&wrk->cond);
        free(wrk);
        return NULL;
    }
    wrk->started_at = drv_now_ms();
    const char *id = drv_conf_get(conf, "worker.id");
    if (id && *id) {
        snprintf(wrk->id, sizeof(wrk->id), "%s", id);
    } else {
        char host[200];
        drv_hostname(host, sizeof(host));
        snprintf(wrk->id, sizeof(wrk->id), "%s-%d", host, (int)getpid());
    }
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
    wrk->stopped = json_object();
    wrk->seen = json_object();
    wrk->loop_ok_ms = drv_now_ms();
    wrk->metrics = drv_metrics_new();
    drv_metrics_declare(wrk->metrics, "drover_worker_running_attempts",
                        "gauge", "attempts running on this worker");
    drv_metrics_declare(wrk->metrics, "drover_worker_free_vcpus", "gauge",
                        "vCPUs this worker can still give");
    drv_metrics_declare(wrk->metrics, "drover_worker_free_memory_mib", "gauge",
                        "memory (MiB) this worker can still give");
    drv_metrics_declare(wrk->metrics, "drover_attempts_total", "counter",
                        "attempts finished here, by status");
    drv_metrics_declare(wrk->metrics, "drover_container_start_seconds_sum",
                        "counter", "container create+start time, summed");
    drv_metrics_declare(wrk->metrics, "drover_container_start_seconds_count",
                        "counter", "containers started");
    drv_metrics_declare(wrk->metrics, "drover_kafka_consumer_lag", "gauge",
                        "run requests not yet consumed, by partition");
    const char *listen = drv_conf_get(conf, "metrics.listen");
    if (listen && *listen &&
        !(wrk->http = drv_http_start(listen, wrk->metrics, health, wrk,
                                     errstr, errstr_size))) {
        drv_wrk_destroy(wrk);
        return NULL;
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
    json_decref(wrk->stopped);
    json_decref(wrk->seen);
    drv_kprod_destroy(wrk->kprod);
    drv_codec_destroy(wrk->codec);
    drv_metrics_destroy(wrk->metrics);
    pthread_cond_destroy(&wrk->cond);
    pthread_mutex_destroy(&wrk->lock);
    free(wrk);
}

/* Decode a RunJob; NULL (logged, sent to the DLQ) if it is unusable. */
static json_t *decode_run(drv_wrk_t *wrk, drv_kmsg_t *msg)
{
    size_t len;
    const void *val = drv_kmsg_value(msg, &len);
    const char *type = NULL;
    json_t *run = NULL;
    char e[DRV_ERRSTR_SIZE];
    if (drv_codec_decode(wrk->codec, val ? val : "", val ? len : 0, &type,
                         &run, e, sizeof(e)) == DRV_OK &&
        !strcmp(type, "RunJob")) {
        return run;
    }
    if (run) {
        snprintf(e, sizeof(e), "a %s message does not belong on a run topic",
                 type);
        json_decref(run);
    }
    drv_kheader_t h[] = {{"drover.error", e},
                         {"drover.source.topic", drv_kmsg_topic(msg)}};
    drv_kprod_send(wrk->kprod, DRV_TOPIC_DLQ, -1, drv_kmsg_key(msg),
                   val ? val : "", val ? len : 0, h, 2, NULL, 0);
    drv_log(wrk->log, DRV_LOG_WARN, "worker.dlq", NULL,
            "unusable message sent to " DRV_TOPIC_DLQ ": %s", e);
    return NULL;
}

/* A StopAttempt: stop the container if the attempt runs here, else
 * remember it so the attempt never starts here. */
static void handle_control(drv_wrk_t *wrk, drv_kmsg_t *msg)
{
    size_t len;
    const void *val = drv_kmsg_value(msg, &len);
    const char *type = NULL;
    json_t *m = NULL;
    char e[DRV_ERRSTR_SIZE], key[300];
    if (drv_codec_decode(wrk->codec, val ? val : "", val ? len : 0, &type, &m,
                         e, sizeof(e)) != DRV_OK ||
        strcmp(type, "StopAttempt") != 0) {
        drv_log(wrk->log, DRV_LOG_WARN, "worker.control_ignored", NULL,
                "unusable control message: %s", m ? type : e);
        json_decref(m);
        return;
    }
    const char *job_id = json_string_value(json_object_get(m, "jobId"));
    int attempt = (int)json_integer_value(json_object_get(m, "attempt"));
    const char *target = json_string_value(json_object_get(m, "worker"));
    if (target && strcmp(target, wrk->id) != 0) {
        json_decref(m); /* meant for another worker */
        return;
    }
    snprintf(key, sizeof(key), "%s#%d", job_id, attempt);
    pthread_mutex_lock(&wrk->lock);
    drv__attempt_t *a = wrk->running;
    while (a && (strcmp(a->job_id, job_id) || a->attempt != attempt)) {
        a = a->next;
    }
    if (a) {
        drv__wrk_stop_container(wrk, a);
    } else if (json_object_size(wrk->stopped) < 10000) {
        json_object_set(wrk->stopped, key, json_object_get(m, "reason"));
    }
    pthread_mutex_unlock(&wrk->lock);
    json_t *f = drv_log_job(job_id);
    drv_log(wrk->log, DRV_LOG_INFO, "worker.stop_requested", f,
            "terminate requested for attempt %d%s", attempt,
            a ? "" : " (not running here)");
    json_decref(f);
    json_decref(m);
}

/* Take the attempt if it fits (an idle worker takes any size): it joins
 * wrk->claims and starts once claim() has made its claim durable. Returns
 * false when there is no room yet. */
static bool try_admit(drv_wrk_t *wrk, json_t *run)
{
    double v = json_number_value(json_object_get(run, "vcpus"));
    int64_t m = json_integer_value(json_object_get(run, "memoryMiB"));
    char key[300];
    snprintf(key, sizeof(key), "%s#%d",
             json_string_value(json_object_get(run, "jobId")),
             (int)json_integer_value(json_object_get(run, "attempt")));
    pthread_mutex_lock(&wrk->lock);
    if (json_object_get(wrk->seen, key)) { /* delivered again: ignore */
        pthread_mutex_unlock(&wrk->lock);
        drv_log(wrk->log, DRV_LOG_INFO, "worker.duplicate_run", NULL,
                "attempt %s was already taken here", key);
        return true;
    }
    if (json_object_get(wrk->stopped, key)) { /* terminated before it came */
        json_object_del(wrk->stopped, key);
        pthread_mutex_unlock(&wrk->lock);
        drv__wrk_report(wrk, json_string_value(json_object_get(run, "jobId")),
                        (int)json_integer_value(json_object_get(run,
                                                                "attempt")),
                        "FAILED",
                        json_pack("{s:s}", "statusReason",
                                  "Terminated before the container started"));
        return true;
    }
    bool fits = (v <= wrk->vcpus_free && m <= wrk->memory_free) ||
                wrk->running_cnt == 0;
    if (!fits) {
        pthread_mutex_unlock(&wrk->lock);
        return false;
    }
    if (json_object_size(wrk->seen) >= 100000) {
        json_object_clear(wrk->seen);
    }
    json_object_set_new(wrk->seen, key, json_true());
    drv__attempt_t *a = drv_calloc(1, sizeof(*a));
    a->wrk = wrk;
    a->run = json_incref(run);
    snprintf(a->job_id, sizeof(a->job_id), "%s",
             json_string_value(json_object_get(run, "jobId")));
    a->attempt = (int)json_integer_value(json_object_get(run, "attempt"));
    a->vcpus = v;
    a->memory_mib = m;
    wrk->vcpus_free -= v;
    wrk->memory_free -= m;
    a->next = wrk->running;
    wrk->running = a;
    wrk->running_cnt++;
    a->next_claim = wrk->claims;
    wrk->claims = a;
    pthread_mutex_unlock(&wrk->lock);
    return true;
}

/*
 * Claim the admitted attempts, then start them: their STARTING reports
 * (worker id and process start: the claim the dispatcher keeps, first one
 * wins) are delivered, and only then are the offsets of the consumed
 * messages stored and committed, and containers created. A worker killed
 * before the commit has claimed nothing that runs (the RunJob goes to
 * another worker, whose claim the dispatcher fences if ours got there
 * first); one killed after it has claims that its restart or its silent
 * lease turns into host-lost failures. `msgs` are destroyed.
 */
static void claim(drv_wrk_t *wrk, drv_kmsg_t **msgs, size_t n,
                  volatile sig_atomic_t *stop)
{
    char e[DRV_ERRSTR_SIZE];
    pthread_mutex_lock(&wrk->lock);
    drv__attempt_t *list = wrk->claims;
    wrk->claims = NULL;
    pthread_mutex_unlock(&wrk->lock);
    if (!list && n == 0) {
        return;
    }
    for (drv__attempt_t *a = list; a; a = a->next_claim) {
        drv__wrk_report(wrk, a->job_id, a->attempt, "STARTING", NULL);
    }
    while (list && drv_kprod_flush(wrk->kprod, 5000, e, sizeof(e)) != 0 &&
           !*stop) {
        drv_log(wrk->log, DRV_LOG_WARN, "worker.claim_waiting", NULL,
                "claims not delivered yet: %s", e);
    }
    for (size_t i = 0; i < n; i++) {
        drv_kcons_store(wrk->kcons, msgs[i]);
        drv_kmsg_destroy(msgs[i]);
    }
    if (drv_kcons_commit(wrk->kcons, e, sizeof(e)) != 0) {
        /* the partition may have moved: a worker that gets the RunJob
         * again finds our claim first and is told to stop */
        drv_log(wrk->log, DRV_LOG_WARN, "worker.commit_failed", NULL, "%s",
                e);
    }
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    for (drv__attempt_t *a = list, *next; a; a = next) {
        next = a->next_claim;
        pthread_t t;
        pthread_create(&t, &attr, drv__attempt_main, a);
    }
    pthread_attr_destroy(&attr);
}

/* Remove the containers an earlier process with this worker id left: the
 * dispatcher fails their attempts as host lost when it sees this process's
 * first heartbeat. */
static void reap_orphans(drv_wrk_t *wrk)
{
    char e[DRV_ERRSTR_SIZE], label[300];
    drv_docker_t *dk = drv_docker_new(drv_conf_get(wrk->conf, "docker.socket"),
                                      drv_conf_get(wrk->conf,
                                                   "docker.api.version"));
    if (!dk) {
        return;
    }
    snprintf(label, sizeof(label), "drover.worker=%s", wrk->id);
    json_t *list = drv_docker_list(dk, label, e, sizeof(e));
    if (!list) {
        drv_log(wrk->log, DRV_LOG_WARN, "worker.orphans_unknown", NULL,
                "could not list containers left by an earlier %s: %s",
                wrk->id, e);
    }
    size_t i;
    json_t *c;
    json_array_foreach(list, i, c) {
        const char *cid = json_string_value(json_object_get(c, "Id"));
        const char *ce = json_string_value(json_object_get(
            json_object_get(c, "Labels"), "drover.compute-environment"));
        if (!ce || strcmp(ce, wrk->ce) != 0) {
            continue; /* the same id in another compute environment */
        }
        json_t *f = drv_log_job(json_string_value(json_object_get(
            json_object_get(c, "Labels"), "drover.job-id")));
        if (cid && drv_docker_remove(dk, cid, e, sizeof(e)) == 0) {
            drv_log(wrk->log, DRV_LOG_WARN, "worker.orphan_removed", f,
                    "removed container %.12s left by an earlier process", cid);
        } else {
            drv_log(wrk->log, DRV_LOG_WARN, "worker.orphan_kept", f,
                    "could not remove container %.12s: %s", cid ? cid : "?",
                    e);
        }
        json_decref(f);
    }
    json_decref(list);
    drv_docker_destroy(dk);
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
            for (drv__attempt_t *a = wrk->running; a; a = a->next) {
                a->handed_back = true;
                drv__wrk_stop_container(wrk, a);
            }
            drv_log(wrk->log, DRV_LOG_WARN, "worker.drain_timeout", NULL,
                    "drain timeout: %d attempt(s) stopped and handed back",
                    wrk->running_cnt);
            handed = true;
        }
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += 1;
        pthread_cond_timedwait(&wrk->cond, &wrk->lock, &ts);
    }
    pthread_mutex_unlock(&wrk->lock);
}

int drv_wrk_run(drv_wrk_t *wrk, volatile sig_atomic_t *stop, char *errstr,
                size_t errstr_size)
{
    char topic[300];
    snprintf(topic, sizeof(topic), DRV_TOPIC_RUN_PREFIX "%s", wrk->ce);
    const char *topics[] = {topic};
    if (drv_kcons_subscribe(wrk->kcons, topics, 1, errstr, errstr_size) != 0) {
        return -1;
    }
    char ctl_topic[300];
    snprintf(ctl_topic, sizeof(ctl_topic), DRV_TOPIC_CONTROL_PREFIX "%s",
             wrk->ce);
    const char *ctl_topics[] = {ctl_topic};
    if (drv_kcons_subscribe(wrk->kctl, ctl_topics, 1, errstr, errstr_size)) {
        return -1;
    }
    const char *runtime = drv_conf_get(wrk->conf, "worker.runtime");
    if (!strcmp(runtime, "container")) {
        reap_orphans(wrk);
    } else if (!strcmp(runtime, "process")) {
        drv__process_reap(wrk);
    }
    json_t *f = json_pack("{s:s,s:s,s:f,s:I}", "worker", wrk->id, "topic",
                          topic, "vcpus", wrk->vcpus_total, "memory_mib",
                          (json_int_t)wrk->memory_total);
    drv_log(wrk->log, DRV_LOG_INFO, "worker.started", f, "worker running");
    json_decref(f);
    int64_t hb_ms = drv_conf_get_int(wrk->conf, "worker.heartbeat.ms");
    int64_t next_hb = 0;
    drv_kmsg_t *held = NULL; /* a RunJob waiting for room */
    json_t *held_run = NULL;
    int64_t held_since = 0;
    bool paused = false;
    while (!*stop) {
        wrk->loop_ok_ms = drv_now_ms();
        if (drv_mono_ms() >= next_hb) {
            heartbeat(wrk, false);
            next_hb = drv_mono_ms() + hb_ms;
        }
        for (drv_kmsg_t *c; (c = drv_kcons_poll(wrk->kctl, 0));) {
            handle_control(wrk, c);
            drv_kmsg_destroy(c);
        }
        drv_kmsg_t *batch[CLAIM_BATCH];
        size_t n = 0;
        if (held) {
            pthread_mutex_lock(&wrk->lock);
            unsigned long ended = wrk->ended;
            pthread_mutex_unlock(&wrk->lock);
            if (!try_admit(wrk, held_run)) {
                /* woken at once when an attempt ends and frees room; the
                 * paused consumer is still polled for its callbacks */
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
                /* a short wait leaves the consumer alone (a resumed
                 * partition fetches again only after about a second); a
                 * long one pauses it, so that it is polled for the
                 * group's rebalances without taking messages */
                if (!paused && drv_mono_ms() - held_since >= HOLD_PAUSE_MS) {
                    drv_kcons_pause(wrk->kcons, 1);
                    paused = true;
                }
                if (paused) {
                    drv_kmsg_t *m = drv_kcons_poll(wrk->kcons, 0);
                    if (m) { /* a partition assigned since the pause */
                        drv_kcons_pause(wrk->kcons, 1);
                        drv_kcons_rewind(wrk->kcons, m);
                        drv_kmsg_destroy(m);
                    }
                }
                drv_kprod_poll(wrk->kprod);
                continue;
            }
            json_decref(held_run);
            held_run = NULL;
            batch[n++] = held; /* claimed with whatever else fits now */
            held = NULL;
            if (paused) {
                drv_kcons_pause(wrk->kcons, 0);
                paused = false;
            }
        }
        /* take what is there (up to a batch), then claim it in one go */
        while (n < CLAIM_BATCH && !held) {
            drv_kmsg_t *msg = drv_kcons_poll(wrk->kcons, n ? 0 : 100);
            if (!msg) {
                break;
            }
            json_t *run = decode_run(wrk, msg);
            if (!run || try_admit(wrk, run)) {
                batch[n++] = msg;
                json_decref(run);
                continue;
            }
            held = msg; /* its offset is stored once it is admitted */
            held_run = run;
            held_since = drv_mono_ms();
        }
        claim(wrk, batch, n, stop);
        drv_kprod_poll(wrk->kprod);
    }
    /* drain: take nothing new, let running attempts finish */
    drv_kmsg_destroy(held);
    json_decref(held_run);
    heartbeat(wrk, true);
    drain(wrk);
    drv_kprod_flush(wrk->kprod, 10000, errstr, errstr_size);
    drv_log(wrk->log, DRV_LOG_INFO, "worker.stopped", NULL, "worker stopped");
    return 0;
}
