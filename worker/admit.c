/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Admission: a RunJob from the run topic is decoded, its fields read once
 * into a drv__job_t, and taken while it fits the worker's free capacity;
 * the claim then makes the admitted attempts durable (STARTING delivered,
 * offsets committed) before their threads start. @thread main
 */
#include <stdio.h>
#include <string.h>

#include "drover/messages.h"
#include "drover/util.h"
#include "worker_int.h"

json_t *drv__admit_decode(drv_wrk_t *wrk, drv_kmsg_t *msg)
{
    size_t len;
    const void *val = drv_kmsg_value(msg, &len);
    drv_msg_t m;
    char e[DRV_ERRSTR_SIZE];
    if (drv_msg_decode(wrk->codec, val ? val : "", val ? len : 0, &m, e,
                       sizeof(e)) == DRV_OK) {
        if (m.type == DRV_MSG_RUN_JOB) {
            json_t *run = json_incref(m.obj);
            drv_msg_clear(&m);
            return run;
        }
        snprintf(e, sizeof(e), "a %s message does not belong on a run topic",
                 drv_msg_type_name(m.type));
        drv_msg_clear(&m);
    }
    drv_kheader_t h[] = {{"drover.error", e},
                         {"drover.source.topic", drv_kmsg_topic(msg)}};
    drv_kprod_send(wrk->kprod, DRV_TOPIC_DLQ, -1, drv_kmsg_key(msg),
                   val ? val : "", val ? len : 0, h, 2, NULL, 0);
    drv_log(wrk->log, DRV_LOG_WARN, "worker.dlq", NULL,
            "unusable message sent to " DRV_TOPIC_DLQ ": %s", e);
    return NULL;
}

/* The lifecycle's RunJob fields, as drover/messages.h reads them. */
static void job_from_run(json_t *run, drv__job_t *job)
{
    drv_msg_t m;
    memset(job, 0, sizeof(*job));
    if (drv_msg_from_record("RunJob", json_incref(run), &m, NULL, 0) !=
        DRV_OK) {
        return; /* admit_decode let only usable ones in */
    }
    const drv_msg_run_t *r = &m.u.run;
    snprintf(job->id, sizeof(job->id), "%s", r->job_id);
    job->attempt = r->attempt;
    job->vcpus = r->vcpus;
    job->memory_mib = r->memory_mib;
    job->timeout_s = r->timeout_s;
    snprintf(job->queue, sizeof(job->queue), "%s", r->job_queue);
    job->is_array_child = r->is_array_child;
    job->array_index = r->array_index;
    job->array_size = r->array_size;
    job->gpus = (int)r->gpus;
    drv_msg_clear(&m);
}

bool drv__admit(drv_wrk_t *wrk, json_t *run)
{
    drv__job_t job;
    char key[300];
    job_from_run(run, &job);
    snprintf(key, sizeof(key), "%s#%d", job.id, job.attempt);
    pthread_mutex_lock(&wrk->lock);
    if (drv_strset_has(wrk->seen, key)) { /* delivered again: ignore */
        pthread_mutex_unlock(&wrk->lock);
        drv_log(wrk->log, DRV_LOG_INFO, "worker.duplicate_run", NULL,
                "attempt %s was already taken here", key);
        json_decref(run);
        return true;
    }
    if (drv_strset_del(wrk->stopped, key)) { /* terminated before it came */
        pthread_mutex_unlock(&wrk->lock);
        wrk->report(wrk, job.id, job.attempt, "FAILED",
                    json_pack("{s:s}", "statusReason",
                              DRV__REASON_TERMINATED_EARLY));
        json_decref(run);
        return true;
    }
    if (job.gpus > wrk->gpus_total) { /* never here: say so, hold nothing */
        pthread_mutex_unlock(&wrk->lock);
        char why[160];
        snprintf(why, sizeof(why),
                 "CannotStartContainerError: the job needs %d GPUs and this "
                 "worker has %d",
                 job.gpus, wrk->gpus_total);
        wrk->report(wrk, job.id, job.attempt, "FAILED",
                    json_pack("{s:s,s:s}", "statusReason",
                              DRV_REASON_START_FAILED, "reason", why));
        json_decref(run);
        return true;
    }
    /* an idle worker takes any vCPUs and memory, but GPUs only as it has
     * them free: two attempts never share one */
    bool fits = ((job.vcpus <= wrk->vcpus_free &&
                  job.memory_mib <= wrk->memory_free) ||
                 wrk->running_cnt == 0) &&
                job.gpus <= drv__gpus_free(wrk);
    if (!fits) {
        pthread_mutex_unlock(&wrk->lock);
        return false;
    }
    drv__gpus_take(wrk, &job);
    if (drv_strset_size(wrk->seen) >= 100000) {
        drv_strset_clear(wrk->seen);
    }
    drv_strset_add(wrk->seen, key);
    drv__attempt_t *a = drv__attempt_new(wrk, run, &job);
    a->next_claim = wrk->claims;
    wrk->claims = a;
    pthread_mutex_unlock(&wrk->lock);
    return true;
}

/*
 * Claim the admitted attempts, then start them: their STARTING reports
 * (worker id and process start: the claim the dispatcher keeps, first one
 * wins) are delivered, and only then are the offsets of the consumed
 * messages stored and committed, and attempt threads started. A worker
 * killed before the commit has claimed nothing that runs (the RunJob goes
 * to another worker, whose claim the dispatcher fences if ours got there
 * first); one killed after it has claims that its restart or its silent
 * lease turns into host-lost failures.
 */
void drv__admit_claim(drv_wrk_t *wrk, drv_kmsg_t **msgs, size_t n,
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
        wrk->report(wrk, a->job.id, a->job.attempt, "STARTING", NULL);
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
    for (drv__attempt_t *a = list, *next; a; a = next) {
        next = a->next_claim; /* `a` may be gone once started */
        drv__attempt_start(a);
    }
}
