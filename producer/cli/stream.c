/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The verbs that are not AWS requests: `watch` (JobStateChange events from
 * drover.events as JSON lines), `wait` (block until a job is terminal; exit
 * 0 only if it SUCCEEDED) and `logs` (an attempt's output).
 *
 * Logs: the worker keeps each attempt's stdout and stderr, bounded with a
 * truncation marker, as worker.log.dir/<job id>/<attempt>.log once the
 * container is gone; that directory is meant to be shared by the workers
 * and the machines that read logs (the local stack's .stack/joblogs; in a
 * cluster a shared volume such as NFS or EFS). While an attempt runs, its
 * output is read from the container engine (docker.socket) where that
 * engine is reachable.
 */
#include "stream.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "drover/avro_codec.h"
#include "drover/docker.h"
#include "drover/kafka.h"
#include "drover/producer.h"
#include "drover/util.h"

static volatile sig_atomic_t interrupted;

static void on_signal(int sig)
{
    (void)sig;
    interrupted = 1;
}

static const char *flag_value(int argc, char **argv, const char *flag)
{
    for (int i = 0; i + 1 < argc; i++) {
        if (!strcmp(argv[i], flag)) {
            return argv[i + 1];
        }
    }
    return NULL;
}

static bool has_flag(int argc, char **argv, const char *flag)
{
    for (int i = 0; i < argc; i++) {
        if (!strcmp(argv[i], flag)) {
            return true;
        }
    }
    return false;
}

/* Refuse flags the verb does not know: a typo must not widen a filter. */
static int check_flags(const char *verb, int argc, char **argv,
                       const char *const *with_value,
                       const char *const *switches)
{
    for (int i = 0; i < argc; i++) {
        bool ok = false;
        for (const char *const *f = with_value; *f && !ok; f++) {
            if (!strcmp(argv[i], *f) && i + 1 < argc) {
                ok = true;
                i++;
            }
        }
        for (const char *const *f = switches; *f && !ok; f++) {
            ok = !strcmp(argv[i], *f);
        }
        if (!ok) {
            fprintf(stderr,
                    "drover: %s: unknown or incomplete argument \"%s\" (see "
                    "drover %s --help)\n",
                    verb, argv[i], verb);
            return -1;
        }
    }
    return 0;
}

/* ---- watch ------------------------------------------------------------- */

static bool matches(json_t *ev, const char *job, const char *queue,
                    const char *status)
{
    const char *id = json_string_value(json_object_get(ev, "jobId"));
    const char *q = json_string_value(json_object_get(ev, "jobQueue"));
    const char *st = json_string_value(json_object_get(ev, "status"));
    if (job) { /* a job, and the children of an array job */
        size_t n = strlen(job);
        if (!id || strncmp(id, job, n) != 0 || (id[n] && id[n] != ':')) {
            return false;
        }
    }
    if (queue && q) {
        const char *slash = strrchr(q, '/');
        if (strcmp(q, queue) != 0 && (!slash || strcmp(slash + 1, queue))) {
            return false;
        }
    }
    return !status || (st && !strcmp(st, status));
}

int drv_cli_watch(const drv_conf_t *conf, int argc, char **argv)
{
    static const char *const vals[] = {"--job-id", "--job-queue", "--status",
                                       NULL};
    static const char *const sw[] = {"--from-beginning", NULL};
    if (check_flags("watch", argc, argv, vals, sw) != 0) {
        return 2;
    }
    const char *job = flag_value(argc, argv, "--job-id");
    const char *queue = flag_value(argc, argv, "--job-queue");
    const char *status = flag_value(argc, argv, "--status");
    char e[DRV_ERRSTR_SIZE], group[128];
    drv_conf_t *c = drv_conf_dup(conf);
    drv_conf_set(c, "kafka.auto.offset.reset",
                 has_flag(argc, argv, "--from-beginning") ? "earliest"
                                                          : "latest",
                 NULL, 0);
    /* a group of its own: every watcher sees every event */
    snprintf(group, sizeof(group), "drover-watch-%d-%lld", (int)getpid(),
             (long long)drv_now_ms());
    drv_log_t *log = drv_log_new("drover", 2);
    drv_log_set_level(log, DRV_LOG_ERROR);
    drv_codec_t *codec = drv_codec_from_conf(conf, e, sizeof(e));
    drv_kcons_t *kc = codec ? drv_kcons_new(c, log, group, NULL, NULL, e,
                                            sizeof(e))
                            : NULL;
    const char *topics[] = {DRV_TOPIC_EVENTS};
    int rc = 0;
    if (!kc || drv_kcons_subscribe(kc, topics, 1, e, sizeof(e)) != 0) {
        fprintf(stderr, "drover: watch: %s\n", e);
        rc = 1;
        goto out;
    }
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    signal(SIGPIPE, SIG_IGN);
    while (!interrupted) {
        drv_kmsg_t *m = drv_kcons_poll(kc, 200);
        if (!m) {
            continue;
        }
        size_t len;
        const void *v = drv_kmsg_value(m, &len);
        const char *type;
        json_t *ev = NULL;
        if (v && drv_codec_decode(codec, v, len, &type, &ev, e, sizeof(e)) ==
                     DRV_OK &&
            !strcmp(type, "JobStateChange") &&
            matches(ev, job, queue, status)) {
            char *line = json_dumps(ev, JSON_COMPACT | JSON_PRESERVE_ORDER);
            if (puts(line) == EOF || fflush(stdout) == EOF) {
                interrupted = 1; /* the reader went away */
            }
            free(line);
        }
        json_decref(ev);
        drv_kmsg_destroy(m);
    }
out:
    drv_kcons_destroy(kc);
    drv_codec_destroy(codec);
    drv_log_destroy(log);
    drv_conf_destroy(c);
    return rc;
}

/* ---- wait -------------------------------------------------------------- */

/* How long a job that is not (yet) recorded is asked for again: a
 * submission a moment old may still be in Kafka, before the dispatcher (or
 * behind a consumer-group rebalance). Blocking verbs (wait, logs --follow)
 * give it as long as the dispatcher gives a dependency
 * (dispatcher.dependency.grace.ms); `logs` of a finished job gives it as
 * long as cancel and terminate do. */
#define UNKNOWN_BLOCKING_MS 30000
#define UNKNOWN_MS 5000

/* The job's JobDetail, asked again every 200 ms while it is not recorded,
 * until `deadline` (drv_mono_ms); NULL with e set when it never appears or
 * the request fails. */
/* --job-id takes a job's id or its name (the newest job of it): the id,
 * or (nothing known by that name yet) ref as given. */
static const char *job_ref(drv_client_t *client, const char *ref, char *buf,
                           size_t size)
{
    char e[DRV_ERRSTR_SIZE];
    drv_err_t err = drv_client_job_id(client, ref, buf, size, e, sizeof(e));
    if (err == DRV_ERR_INVALID) {
        fprintf(stderr, "drover: %s\n", e);
        return NULL;
    }
    return err == DRV_OK ? buf : ref;
}

static json_t *describe(drv_client_t *client, const char *id,
                        int64_t deadline, char *e, size_t esize)
{
    for (;;) {
        drv_err_t err;
        json_t *req = json_pack("{s:[s]}", "jobs", id);
        json_t *r = drv_client_call(client, "DescribeJobs", req, &err, e,
                                    esize);
        json_decref(req);
        json_t *j = json_incref(json_array_get(json_object_get(r, "jobs"),
                                               0));
        json_decref(r);
        if (j || !r) {
            return j;
        }
        if (interrupted || drv_mono_ms() >= deadline) {
            drv_errstr_set(e, esize, "job %s does not exist", id);
            return NULL;
        }
        usleep(200 * 1000);
    }
}

/* One line of progress: a bar on a terminal, plain text otherwise. */
static void progress(json_t *j, bool tty, char *last, size_t last_size)
{
    const char *st = json_string_value(json_object_get(j, "status"));
    json_t *sum = json_object_get(json_object_get(j, "arrayProperties"),
                                  "statusSummary");
    char line[512];
    if (sum) {
        json_int_t size = json_integer_value(json_object_get(
            json_object_get(j, "arrayProperties"), "size"));
        json_int_t ok = json_integer_value(json_object_get(sum, "SUCCEEDED"));
        json_int_t bad = json_integer_value(json_object_get(sum, "FAILED"));
        json_int_t run = json_integer_value(json_object_get(sum, "RUNNING")) +
                         json_integer_value(json_object_get(sum, "STARTING"));
        if (tty) {
            char bar[41];
            int done = size ? (int)(40 * (ok + bad) / size) : 0;
            for (int i = 0; i < 40; i++) {
                bar[i] = i < done ? '#' : '.';
            }
            bar[40] = '\0';
            snprintf(line, sizeof(line),
                     "\r[%s] %lld/%lld done (%lld failed), %lld running  %s",
                     bar, (long long)(ok + bad), (long long)size,
                     (long long)bad, (long long)run, st);
        } else {
            snprintf(line, sizeof(line),
                     "%s: %lld of %lld children done (%lld succeeded, %lld "
                     "failed), %lld running\n",
                     st, (long long)(ok + bad), (long long)size,
                     (long long)ok, (long long)bad, (long long)run);
        }
    } else {
        snprintf(line, sizeof(line), "%s%s%s", tty ? "\r" : "", st,
                 tty ? "          " : "\n");
    }
    if (strcmp(line, last) != 0) { /* print changes only */
        fputs(line, stdout);
        fflush(stdout);
        snprintf(last, last_size, "%s", line);
    }
}

int drv_cli_wait(const drv_conf_t *conf, int argc, char **argv)
{
    static const char *const vals[] = {"--job-id", "--timeout", NULL};
    static const char *const sw[] = {"--quiet", NULL};
    if (check_flags("wait", argc, argv, vals, sw) != 0) {
        return 2;
    }
    const char *id = flag_value(argc, argv, "--job-id");
    const char *to = flag_value(argc, argv, "--timeout");
    int64_t timeout_s = 0;
    if (!id || (to && drv_parse_int64(to, 1, 1LL << 31, &timeout_s) != 0)) {
        fprintf(stderr, "drover: wait: usage: drover wait --job-id ID "
                        "[--timeout SECONDS] [--quiet]\n");
        return 2;
    }
    bool quiet = has_flag(argc, argv, "--quiet");
    bool tty = isatty(STDOUT_FILENO);
    char e[DRV_ERRSTR_SIZE], last[512] = "";
    drv_log_t *log = drv_log_new("drover", 2);
    drv_log_set_level(log, DRV_LOG_ERROR);
    drv_client_t *client = drv_client_new(conf, log);
    char idbuf[256];
    if (!(id = job_ref(client, id, idbuf, sizeof(idbuf)))) {
        drv_client_destroy(client);
        drv_log_destroy(log);
        return 2;
    }
    signal(SIGINT, on_signal);
    int64_t start = drv_mono_ms();
    int64_t deadline = timeout_s ? start + timeout_s * 1000 : 0;
    int64_t unknown = start + UNKNOWN_BLOCKING_MS;
    if (deadline && deadline < unknown) {
        unknown = deadline;
    }
    int rc = 3;
    while (!interrupted) {
        json_t *j = describe(client, id, unknown, e, sizeof(e));
        if (!j) {
            fprintf(stderr, "%sdrover: wait: %s\n", tty && last[0] ? "\n" : "",
                    e);
            rc = 1;
            break;
        }
        if (!quiet) {
            progress(j, tty, last, sizeof(last));
        }
        const char *st = json_string_value(json_object_get(j, "status"));
        bool done = !strcmp(st, "SUCCEEDED") || !strcmp(st, "FAILED");
        if (done) {
            if (tty && !quiet) {
                putchar('\n');
            }
            const char *why = json_string_value(json_object_get(j,
                                                                "statusReason"));
            if (!strcmp(st, "FAILED")) {
                fprintf(stderr, "drover: wait: job %s FAILED%s%s\n", id,
                        why ? ": " : "", why ? why : "");
            }
            rc = !strcmp(st, "SUCCEEDED") ? 0 : 1;
            json_decref(j);
            break;
        }
        json_decref(j);
        if (deadline && drv_mono_ms() >= deadline) {
            fprintf(stderr, "%sdrover: wait: job %s not finished after %lld "
                            "s\n",
                    tty && !quiet ? "\n" : "", id, (long long)timeout_s);
            break;
        }
        usleep(500 * 1000);
    }
    drv_client_destroy(client);
    drv_log_destroy(log);
    return interrupted ? 130 : rc;
}

/* ---- logs -------------------------------------------------------------- */

/* Follow a running container's output through the engine; 0 when it ended
 * (or there is no engine to ask), -1 if the output was lost. */
static int follow_engine(const drv_conf_t *conf, const char *cid)
{
    char e[DRV_ERRSTR_SIZE];
    drv_docker_t *dk = drv_docker_new(drv_conf_get(conf, "docker.socket"),
                                      drv_conf_get(conf, "docker.api.version"));
    if (!dk || drv_docker_ping(dk, e, sizeof(e)) != 0) {
        drv_docker_destroy(dk);
        return 0;
    }
    int r = drv_docker_follow_logs(dk, cid, stdout, &interrupted, e,
                                   sizeof(e));
    drv_docker_destroy(dk);
    return r;
}

int drv_cli_logs(const drv_conf_t *conf, int argc, char **argv)
{
    static const char *const vals[] = {"--job-id", "--attempt", NULL};
    static const char *const sw[] = {"--follow", NULL};
    if (check_flags("logs", argc, argv, vals, sw) != 0) {
        return 2;
    }
    const char *id = flag_value(argc, argv, "--job-id");
    const char *at = flag_value(argc, argv, "--attempt");
    int64_t attempt = 0;
    if (!id || (at && drv_parse_int64(at, 1, 10, &attempt) != 0)) {
        fprintf(stderr, "drover: logs: usage: drover logs --job-id ID "
                        "[--attempt N] [--follow]\n");
        return 2;
    }
    bool follow = has_flag(argc, argv, "--follow");
    char e[DRV_ERRSTR_SIZE];
    drv_log_t *log = drv_log_new("drover", 2);
    drv_log_set_level(log, DRV_LOG_ERROR);
    drv_client_t *client = drv_client_new(conf, log);
    char idbuf[256];
    if (!(id = job_ref(client, id, idbuf, sizeof(idbuf)))) {
        drv_client_destroy(client);
        drv_log_destroy(log);
        return 2;
    }
    signal(SIGINT, on_signal);
    int rc = 0;
    int64_t unknown = drv_mono_ms() +
                      (follow ? UNKNOWN_BLOCKING_MS : UNKNOWN_MS);
    json_t *j = describe(client, id, unknown, e, sizeof(e));
    if (!j) {
        fprintf(stderr, "drover: logs: %s\n", e);
        rc = 1;
        goto out;
    }
    /* follow: wait for the attempt to start, stream it while it runs */
    while (follow && !interrupted) {
        const char *st = json_string_value(json_object_get(j, "status"));
        if (!strcmp(st, "SUCCEEDED") || !strcmp(st, "FAILED")) {
            break;
        }
        if (!strcmp(st, "RUNNING") && !at) {
            const char *cid = json_string_value(json_object_get(
                json_object_get(j, "container"), "taskArn"));
            if (cid && follow_engine(conf, cid) == 0) {
                goto out; /* streamed to the end */
            }
        }
        usleep(500 * 1000);
        json_decref(j);
        if (!(j = describe(client, id, unknown, e, sizeof(e)))) {
            fprintf(stderr, "drover: logs: %s\n", e);
            rc = 1;
            goto out;
        }
    }
    size_t n = json_array_size(json_object_get(j, "attempts"));
    if (!attempt) {
        attempt = (int64_t)n;
    }
    if (attempt == 0) {
        fprintf(stderr, "drover: logs: job %s has not run yet (%s)\n", id,
                json_string_value(json_object_get(j, "status")));
        rc = 1;
        goto out;
    }
    const char *dir = drv_conf_get(conf, "worker.log.dir");
    char path[2048];
    snprintf(path, sizeof(path), "%s/%s/%lld.log", dir, id,
             (long long)attempt);
    size_t len;
    char *text = dir && *dir ? drv_read_file(path, &len, e, sizeof(e)) : NULL;
    if (!text) {
        fprintf(stderr,
                "drover: logs: no output kept for attempt %lld of job %s "
                "(%s)\n",
                (long long)attempt, id,
                dir && *dir ? e
                            : "worker.log.dir is not set: it must name the "
                              "directory the workers keep output in");
        rc = 1;
        goto out;
    }
    fwrite(text, 1, len, stdout);
    free(text);
out:
    json_decref(j);
    drv_client_destroy(client);
    drv_log_destroy(log);
    return rc;
}
