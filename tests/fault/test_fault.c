/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The fault suite's workload and invariant checker. tests/fault/run starts
 * a stack with two dispatchers and three workers and, while this test
 * runs, SIGKILLs them at random and restarts Kafka and PostgreSQL once.
 *
 * Every container run of a job leaves a record in a directory the jobs
 * mount: "<job>.<attempt>.<start-us>.<pid>" holding "S <us>" and, if the
 * run was not killed, "E <us> <exit code>". With those, PostgreSQL's rows
 * and the events topic, the checker asserts: every job terminal, none
 * lost, no attempt run twice at once, no job started before its
 * dependencies stopped, SEQUENTIAL and N_TO_N order kept, and statuses that
 * agree with the exit codes the jobs returned.
 */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "drover/avro_codec.h"
#include "drover/kafka.h"
#include "drover/pg.h"
#include "drover/util.h"
#include "e2e.h"
#include "check_main.h"

#define NONE INT64_MAX

/* What the test expects of each job it submitted (or whose children it
 * knows), keyed by job id. */
static json_t *expect;   /* id -> {"status": S, "code": C, "kind": K} */
static json_t *deps;     /* id -> [dependency ids] (job must start after) */
static char rec_dir[1024];

/* t() prints the wall clock in microseconds (busybox has no date +%N).
 * adjtimex's tv_usec holds nanoseconds when the kernel's clock status
 * has STA_NANO (0x2000): printed as microseconds they lost their leading
 * zeros' worth of digits, and a start could compare as earlier than a
 * dependency's end (a false "started before its dependency stopped"). */
static const char *job_sh =
    "t() { adjtimex | awk '/status/{st=$2} /tv_sec/{s=$2} /tv_usec/{u=$2} "
    "END{if (int(st/8192)%2) u=int(u/1000); printf \"%d%06d\", s, u}'; }\n"
    "code=$2\n"
    "if [ -n \"$AWS_BATCH_JOB_ARRAY_INDEX\" ] && [ \"$3\" -gt 0 ] && "
    "[ $((AWS_BATCH_JOB_ARRAY_INDEX % $3)) -eq 7 ]; then code=3; fi\n"
    "s=$(t)\n"
    "f=/rec/$AWS_BATCH_JOB_ID.$AWS_BATCH_JOB_ATTEMPT.$s.$$\n"
    "echo \"S $s\" > \"$f\"\n"
    "sleep \"$1\"\n"
    "echo \"E $(t) $code\" >> \"$f\"\n"
    "exit $code\n";

/* ---- the workload ------------------------------------------------------ */

static void want(const char *id, const char *status, int code,
                 const char *kind)
{
    json_object_set_new(expect, id,
                        json_pack("{s:s,s:i,s:s}", "status", status, "code",
                                  code, "kind", kind));
}

static void after(const char *id, const char *dep)
{
    json_t *l = json_object_get(deps, id);
    if (!l) {
        l = json_array();
        json_object_set_new(deps, id, l);
    }
    json_array_append_new(l, json_string(dep));
}

/* Submit with an id of our own, retrying while the stack is being
 * broken: the same id and body again is a no-op, never a second job. */
static void submit(const char *id, const char *name, const char *extra)
{
    char text[8192], e[DRV_ERRSTR_SIZE] = "";
    snprintf(text, sizeof(text),
             "{\"jobId\":\"%s\",\"jobName\":\"%s\",\"jobQueue\":\"default\","
             "\"jobDefinition\":\"fault-job\"%s%s}",
             id, name, extra ? "," : "", extra ? extra : "");
    json_t *one = json_loads(text, 0, NULL);
    ck_assert_msg(one, "bad request %s", text);
    json_t *req = json_pack("[o]", one); /* the library's API: own ids */
    for (int i = 0; i < 240; i++) {
        drv_err_t err;
        json_t *r = drv_client_submit_jobs(e2e_client, req, &err, e,
                                           sizeof(e));
        if (r) {
            json_decref(r);
            json_decref(req);
            return;
        }
        ck_assert_msg(err != DRV_ERR_INVALID, "submit %s refused: %s", id, e);
        sleep(1); /* broker or database down, or a dependency not yet
                     recorded by a dispatcher that was killed */
    }
    ck_abort_msg("could not submit %s in 4 minutes: %s", id, e);
}

static void new_id(char *id)
{
    ck_assert_int_eq(drv_uuid4(id), 0);
}

static const char *params(char *buf, size_t size, const char *sleep_s,
                          int code, int failmod)
{
    snprintf(buf, size,
             "\"parameters\":{\"sleep\":\"%s\",\"code\":\"%d\","
             "\"failmod\":\"%d\"}",
             sleep_s, code, failmod);
    return buf;
}

static int submit_workload(bool quick)
{
    int n_indep = quick ? 60 : 300, chains = quick ? 4 : 10,
        chain_len = quick ? 5 : 10, fan = quick ? 30 : 100,
        fanin = quick ? 10 : 20, arr = quick ? 50 : 200, seq = quick ? 30 : 100;
    char id[40], extra[2048], p[256];
    int total = 0;

    /* independent jobs: every tenth exits 3 and must fail without retry */
    for (int i = 0; i < n_indep; i++) {
        new_id(id);
        int code = i % 10 == 9 ? 3 : 0;
        submit(id, "indep", params(p, sizeof(p), "0.2", code, 0));
        want(id, code ? "FAILED" : "SUCCEEDED", code, "plain");
        total++;
    }
    /* chains: job i depends on job i-1 */
    for (int c = 0; c < chains; c++) {
        char prev[40] = "";
        for (int i = 0; i < chain_len; i++) {
            new_id(id);
            if (prev[0]) {
                snprintf(extra, sizeof(extra), "%s,\"dependsOn\":[{\"jobId\":"
                         "\"%s\"}]", params(p, sizeof(p), "0.1", 0, 0), prev);
                after(id, prev);
            } else {
                snprintf(extra, sizeof(extra), "%s",
                         params(p, sizeof(p), "0.1", 0, 0));
            }
            submit(id, "chain", extra);
            want(id, "SUCCEEDED", 0, "plain");
            snprintf(prev, sizeof(prev), "%s", id);
            total++;
        }
    }
    /* fan-out and fan-in: root -> array of `fan` children -> sink */
    char root[40], fanarr[40], sink[40];
    new_id(root);
    submit(root, "fan-root", params(p, sizeof(p), "0.2", 0, 0));
    want(root, "SUCCEEDED", 0, "plain");
    new_id(fanarr);
    snprintf(extra, sizeof(extra),
             "%s,\"arrayProperties\":{\"size\":%d},\"dependsOn\":[{\"jobId\":"
             "\"%s\"}]",
             params(p, sizeof(p), "0.1", 0, 0), fan, root);
    submit(fanarr, "fan-out", extra);
    want(fanarr, "SUCCEEDED", 0, "parent");
    for (int i = 0; i < fan; i++) {
        char child[64];
        snprintf(child, sizeof(child), "%s:%d", fanarr, i);
        want(child, "SUCCEEDED", 0, "plain");
        after(child, root);
    }
    new_id(sink);
    snprintf(extra, sizeof(extra), "%s,\"dependsOn\":[{\"jobId\":\"%s\"}]",
             params(p, sizeof(p), "0.1", 0, 0), fanarr);
    submit(sink, "fan-sink", extra);
    want(sink, "SUCCEEDED", 0, "plain");
    after(sink, fanarr);
    total += 3 + fan;
    /* fan-in through dependsOn: one job after `fanin` others */
    char ins[20][40];
    for (int i = 0; i < fanin; i++) {
        new_id(ins[i]);
        submit(ins[i], "fan-in", params(p, sizeof(p), "0.3", 0, 0));
        want(ins[i], "SUCCEEDED", 0, "plain");
        total++;
    }
    new_id(id);
    int n = snprintf(extra, sizeof(extra), "%s,\"dependsOn\":[",
                     params(p, sizeof(p), "0.1", 0, 0));
    for (int i = 0; i < fanin; i++) {
        n += snprintf(extra + n, sizeof(extra) - (size_t)n,
                      "%s{\"jobId\":\"%s\"}", i ? "," : "", ins[i]);
        after(id, ins[i]);
    }
    snprintf(extra + n, sizeof(extra) - (size_t)n, "]");
    submit(id, "fan-in-sink", extra);
    want(id, "SUCCEEDED", 0, "plain");
    total++;
    /* N_TO_N: B:i after A:i; A:i fails when i % 50 == 7, and so does B:i */
    char a[40], b[40];
    new_id(a);
    snprintf(extra, sizeof(extra), "%s,\"arrayProperties\":{\"size\":%d}",
             params(p, sizeof(p), "0.1", 0, 50), arr);
    submit(a, "n2n-a", extra);
    new_id(b);
    snprintf(extra, sizeof(extra),
             "%s,\"arrayProperties\":{\"size\":%d},\"dependsOn\":[{\"jobId\":"
             "\"%s\",\"type\":\"N_TO_N\"}]",
             params(p, sizeof(p), "0.1", 0, 0), arr, a);
    submit(b, "n2n-b", extra);
    for (int i = 0; i < arr; i++) {
        char ca[64], cb[64];
        snprintf(ca, sizeof(ca), "%s:%d", a, i);
        snprintf(cb, sizeof(cb), "%s:%d", b, i);
        bool bad = i % 50 == 7;
        want(ca, bad ? "FAILED" : "SUCCEEDED", bad ? 3 : 0, "plain");
        want(cb, bad ? "FAILED" : "SUCCEEDED", 0,
             bad ? "dependency" : "plain");
        after(cb, ca);
    }
    want(a, "FAILED", 0, "parent");
    want(b, "FAILED", 0, "parent");
    total += 2 + 2 * arr;
    /* SEQUENTIAL: S:i after S:i-1 */
    char s[40];
    new_id(s);
    snprintf(extra, sizeof(extra),
             "%s,\"arrayProperties\":{\"size\":%d},\"dependsOn\":[{\"type\":"
             "\"SEQUENTIAL\"}]",
             params(p, sizeof(p), "0.05", 0, 0), seq);
    submit(s, "sequential", extra);
    want(s, "SUCCEEDED", 0, "parent");
    for (int i = 0; i < seq; i++) {
        char c[64], prev[64];
        snprintf(c, sizeof(c), "%s:%d", s, i);
        want(c, "SUCCEEDED", 0, "plain");
        if (i > 0) {
            snprintf(prev, sizeof(prev), "%s:%d", s, i - 1);
            after(c, prev);
        }
    }
    total += 1 + seq;
    return total;
}

/* ---- reading what happened -------------------------------------------- */

/* The container runs recorded in rec_dir: "<job>#<attempt>" -> [{s, e, code}] */
static json_t *read_records(int *count)
{
    json_t *runs = json_object();
    DIR *d = opendir(rec_dir);
    ck_assert_msg(d, "cannot read %s: %s", rec_dir, strerror(errno));
    struct dirent *de;
    *count = 0;
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.' || !strcmp(de->d_name, "job.sh")) {
            continue;
        }
        /* <job>.<attempt>.<start>.<pid>: the job id has no dots */
        char name[256], path[2048], key[300];
        snprintf(name, sizeof(name), "%s", de->d_name);
        char *dot = strchr(name, '.');
        ck_assert_msg(dot, "unexpected record %s", name);
        *dot = '\0';
        int attempt = atoi(dot + 1);
        snprintf(key, sizeof(key), "%s#%d", name, attempt);
        snprintf(path, sizeof(path), "%s/%s", rec_dir, de->d_name);
        FILE *fp = fopen(path, "r");
        ck_assert(fp);
        long long s = 0, e = 0;
        int code = -1;
        char line[128];
        while (fgets(line, sizeof(line), fp)) {
            if (line[0] == 'S') {
                sscanf(line, "S %lld", &s);
            } else if (line[0] == 'E') {
                sscanf(line, "E %lld %d", &e, &code);
            }
        }
        fclose(fp);
        json_t *l = json_object_get(runs, key);
        if (!l) {
            l = json_array();
            json_object_set_new(runs, key, l);
        }
        json_array_append_new(l, json_pack("{s:I,s:I,s:i}", "s",
                                           (json_int_t)s, "e",
                                           (json_int_t)(e ? e : NONE), "code",
                                           code));
        (*count)++;
    }
    closedir(d);
    return runs;
}

/* Last event status per job from drover.events, read to its end. */
static json_t *read_events(int *count)
{
    char e[DRV_ERRSTR_SIZE], group[64];
    drv_conf_t *c = drv_conf_dup(e2e_conf);
    drv_conf_set(c, "kafka.auto.offset.reset", "earliest", NULL, 0);
    snprintf(group, sizeof(group), "drover-watch-fault-%d", (int)getpid());
    drv_kcons_t *kc = drv_kcons_new(c, NULL, group, NULL, NULL, e, sizeof(e));
    ck_assert_msg(kc, "%s", e);
    const char *topics[] = {DRV_TOPIC_EVENTS};
    ck_assert_int_eq(drv_kcons_subscribe(kc, topics, 1, e, sizeof(e)), 0);
    drv_codec_t *codec = drv_codec_new(e, sizeof(e));
    ck_assert(codec);
    json_t *last = json_object();
    *count = 0;
    int64_t idle_until = drv_mono_ms() + 20000;
    while (drv_mono_ms() < idle_until) {
        drv_kmsg_t *m = drv_kcons_poll(kc, 200);
        if (!m) {
            continue;
        }
        size_t len;
        const void *v = drv_kmsg_value(m, &len);
        const char *type;
        json_t *ev = NULL;
        if (v && drv_codec_decode(codec, v, len, &type, &ev, e, sizeof(e)) ==
                     DRV_OK) {
            json_t *detail = json_object_get(ev, "detail");
            json_t *src = detail ? detail : ev;
            const char *id = json_string_value(json_object_get(src, "jobId"));
            const char *st = json_string_value(json_object_get(src, "status"));
            if (id && st) {
                json_object_set_new(last, id, json_string(st));
                (*count)++;
            }
        }
        json_decref(ev);
        drv_kmsg_destroy(m);
        idle_until = drv_mono_ms() + 5000; /* the end: 5 s without one */
    }
    drv_codec_destroy(codec);
    drv_kcons_destroy(kc);
    drv_conf_destroy(c);
    return last;
}

/* Earliest start of any run of a job, and end of its last attempt's
 * finished run (NONE if none). */
static void job_span(json_t *runs, const char *id, int last_attempt,
                     int64_t *first_start, int64_t *last_end, int *last_code)
{
    *first_start = NONE;
    *last_end = NONE;
    *last_code = -1;
    for (int a = 1; a <= last_attempt; a++) {
        char key[256];
        snprintf(key, sizeof(key), "%s#%d", id, a);
        size_t i;
        json_t *r;
        json_array_foreach(json_object_get(runs, key), i, r)
        {
            int64_t s = json_integer_value(json_object_get(r, "s"));
            int64_t e = json_integer_value(json_object_get(r, "e"));
            if (s < *first_start) {
                *first_start = s;
            }
            if (a == last_attempt && e != NONE) {
                *last_end = e;
                *last_code = (int)json_integer_value(json_object_get(r,
                                                                     "code"));
            }
        }
    }
}

START_TEST(test_fault_invariants)
{
    bool quick = getenv("DROVER_FAULT_SCALE") &&
                 !strcmp(getenv("DROVER_FAULT_SCALE"), "quick");
    const char *stack = getenv("DROVER_STACK_DIR");
    ck_assert_msg(stack, "DROVER_STACK_DIR is not set: run tests/fault/run");
    snprintf(rec_dir, sizeof(rec_dir), "%s/shared/fault", stack);
    mkdir(rec_dir, 0777);
    chmod(rec_dir, 01777);
    char path[1200];
    snprintf(path, sizeof(path), "%s/job.sh", rec_dir);
    FILE *fp = fopen(path, "w");
    ck_assert(fp);
    fputs(job_sh, fp);
    fclose(fp);
    expect = json_object();
    deps = json_object();
    json_decref(e2e_call(
        "RegisterJobDefinition",
        "{\"jobDefinitionName\":\"fault-job\",\"type\":\"container\","
        "\"parameters\":{\"sleep\":\"0.1\",\"code\":\"0\",\"failmod\":\"0\"},"
        "\"retryStrategy\":{\"attempts\":10,\"evaluateOnExit\":[{"
        "\"onExitCode\":\"3\",\"action\":\"EXIT\"}]},"
        "\"containerProperties\":{\"image\":\"localhost/drover/busybox:latest\","
        "\"command\":[\"sh\",\"/rec/job.sh\",\"Ref::sleep\",\"Ref::code\","
        "\"Ref::failmod\"],\"resourceRequirements\":[{\"type\":\"VCPU\","
        "\"value\":\"0.25\"},{\"type\":\"MEMORY\",\"value\":\"32\"}],"
        "\"volumes\":[{\"name\":\"rec\",\"host\":{\"sourcePath\":\"%s\"}}],"
        "\"mountPoints\":[{\"sourceVolume\":\"rec\",\"containerPath\":"
        "\"/rec\"}]}}",
        rec_dir));

    int64_t t0 = drv_mono_ms();
    int submitted = submit_workload(quick);
    printf("fault: submitted %d jobs (%zu with children) in %.1f s\n",
           submitted, json_object_size(expect),
           (double)(drv_mono_ms() - t0) / 1000);
    fflush(stdout);

    /* wait until every job is terminal */
    char e[DRV_ERRSTR_SIZE];
    drv_pg_t *pg = NULL;
    int64_t deadline = drv_mono_ms() + (quick ? 600 : 1500) * 1000LL;
    long open = -1;
    while (drv_mono_ms() < deadline) {
        if (!pg) {
            pg = drv_pg_connect(drv_conf_get(e2e_conf, "pg.conninfo"), NULL,
                                e, sizeof(e));
        }
        drv_pg_res_t *r = pg ? drv_pg_query(pg,
                                            "SELECT count(*) FILTER (WHERE "
                                            "status NOT IN ('SUCCEEDED', "
                                            "'FAILED')), count(*) FROM jobs",
                                            0, NULL, e, sizeof(e))
                             : NULL;
        if (r) {
            open = (long)drv_pg_res_int(r, 0, 0, -1);
            long all = (long)drv_pg_res_int(r, 0, 1, 0);
            drv_pg_res_free(r);
            if (open == 0 && all >= (long)json_object_size(expect)) {
                break;
            }
        } else if (pg) {
            drv_pg_ensure(pg, e, sizeof(e));
        }
        sleep(2);
    }
    printf("fault: all terminal after %.1f s\n",
           (double)(drv_mono_ms() - t0) / 1000);
    /* stop the chaos; it restarts whatever it killed before it says so */
    char flag[1200];
    snprintf(flag, sizeof(flag), "%s/chaos.stop", stack);
    fclose(fopen(flag, "w"));
    snprintf(flag, sizeof(flag), "%s/chaos.stopped", stack);
    for (int i = 0; i < 600 && access(flag, F_OK) != 0; i++) {
        usleep(100 * 1000);
    }
    ck_assert_msg(access(flag, F_OK) == 0, "the chaos loop did not stop");
    ck_assert_msg(open == 0, "%ld jobs still not terminal", open);
    ck_assert_int_eq(drv_pg_ensure(pg, e, sizeof(e)), 0);

    /* what PostgreSQL holds */
    drv_pg_res_t *r = drv_pg_query(
        pg,
        "SELECT j.job_id, j.status, j.attempts, j.exit_code, "
        "j.status_reason, j.array_size IS NOT NULL AND j.array_index IS "
        "NULL, (SELECT count(*) FROM attempts a WHERE a.job_id = j.job_id "
        "AND a.status_reason LIKE 'Host EC2%%') FROM jobs j",
        0, NULL, e, sizeof(e));
    ck_assert_msg(r, "%s", e);
    int records = 0, events = 0;
    json_t *runs = read_records(&records);
    json_t *last_event = read_events(&events);
    json_t *spans = json_object(); /* id -> [first start, last end] */
    json_t *status = json_object();
    long succeeded = 0, failed = 0, host_lost = 0, dependency_failed = 0;
    for (int i = 0; i < drv_pg_res_rows(r); i++) {
        const char *id = drv_pg_res_get(r, i, 0);
        const char *st = drv_pg_res_get(r, i, 1);
        int attempts = (int)drv_pg_res_int(r, i, 2, 0);
        bool parent = drv_pg_res_get(r, i, 5)[0] == 't';
        host_lost += (long)drv_pg_res_int(r, i, 6, 0);
        json_object_set_new(status, id, json_string(st));
        json_t *x = json_object_get(expect, id);
        ck_assert_msg(x, "job %s was never submitted by this test", id);
        ck_assert_msg(!strcmp(st, json_string_value(json_object_get(x,
                                                                    "status"))),
                      "job %s (%s) is %s, expected %s (%s)", id,
                      json_string_value(json_object_get(x, "kind")), st,
                      json_string_value(json_object_get(x, "status")),
                      drv_pg_res_get(r, i, 4) ? drv_pg_res_get(r, i, 4) : "");
        !strcmp(st, "SUCCEEDED") ? succeeded++ : failed++;
        /* the last event of every job is its final status */
        const char *ev = json_string_value(json_object_get(last_event, id));
        ck_assert_msg(ev && !strcmp(ev, st),
                      "job %s is %s but its last event says %s", id, st,
                      ev ? ev : "nothing");
        if (parent) {
            continue;
        }
        int64_t first, end;
        int code;
        job_span(runs, id, attempts, &first, &end, &code);
        json_object_set_new(spans, id, json_pack("[I,I]", (json_int_t)first,
                                                 (json_int_t)end));
        const char *kind = json_string_value(json_object_get(x, "kind"));
        if (!strcmp(kind, "dependency")) {
            ck_assert_msg(first == NONE,
                          "job %s ran although a dependency failed", id);
            dependency_failed++;
            continue;
        }
        /* the status agrees with the code the container returned */
        int want_code = (int)json_integer_value(json_object_get(x, "code"));
        ck_assert_msg(end != NONE,
                      "job %s is %s but its last attempt %d left no finished "
                      "run",
                      id, st, attempts);
        ck_assert_msg(code == want_code && drv_pg_res_int(r, i, 3, -1) == code,
                      "job %s: container exited %d, PostgreSQL says %s, "
                      "expected %d",
                      id, code,
                      drv_pg_res_get(r, i, 3) ? drv_pg_res_get(r, i, 3)
                                              : "none",
                      want_code);
    }
    ck_assert_int_eq(drv_pg_res_rows(r), (int)json_object_size(expect));
    drv_pg_res_free(r);

    /* no attempt ran twice at the same time */
    long twice = 0, overlapping = 0;
    const char *key;
    json_t *l;
    json_object_foreach(runs, key, l)
    {
        twice += json_array_size(l) > 1;
        for (size_t i = 0; i < json_array_size(l); i++) {
            for (size_t k = i + 1; k < json_array_size(l); k++) {
                json_t *p = json_array_get(l, i), *q = json_array_get(l, k);
                int64_t ps = json_integer_value(json_object_get(p, "s"));
                int64_t pe = json_integer_value(json_object_get(p, "e"));
                int64_t qs = json_integer_value(json_object_get(q, "s"));
                int64_t qe = json_integer_value(json_object_get(q, "e"));
                overlapping += ps < qe && qs < pe;
            }
        }
    }
    ck_assert_msg(overlapping == 0, "%ld attempts ran twice at the same time",
                  overlapping);

    /* no job started before each of its dependencies stopped (this covers
     * SEQUENTIAL and N_TO_N children, chains, fan-out and fan-in) */
    long order_checked = 0;
    json_object_foreach(deps, key, l)
    {
        json_t *sp = json_object_get(spans, key);
        int64_t start = json_integer_value(json_array_get(sp, 0));
        if (!sp || start == NONE) {
            continue; /* did not run: a dependency failed (checked above) */
        }
        size_t i;
        json_t *d;
        json_array_foreach(l, i, d)
        {
            const char *dep = json_string_value(d);
            int64_t dep_end = 0;
            json_t *ds = json_object_get(spans, dep);
            if (ds) {
                dep_end = json_integer_value(json_array_get(ds, 1));
            } else { /* an array parent: its last child's end */
                const char *ck;
                json_t *cs;
                size_t dl = strlen(dep);
                json_object_foreach(spans, ck, cs)
                {
                    int64_t ce = json_integer_value(json_array_get(cs, 1));
                    if (!strncmp(ck, dep, dl) && ck[dl] == ':' &&
                        ce > dep_end) {
                        dep_end = ce;
                    }
                }
            }
            ck_assert_msg(!strcmp(json_string_value(json_object_get(status,
                                                                    dep)),
                                  "SUCCEEDED"),
                          "job %s ran although dependency %s did not succeed",
                          key, dep);
            ck_assert_msg(start >= dep_end,
                          "job %s started %" PRId64 " us before its "
                          "dependency %s stopped",
                          key, dep_end - start, dep);
            order_checked++;
        }
    }
    printf("fault: checked %zu jobs (%ld succeeded, %ld failed, %ld failed "
           "by a failed dependency), %d container runs, %d events, "
           "%ld dependency orderings; %ld attempts lost with their worker "
           "and retried; %ld attempts with more than one run record, none "
           "overlapping\n",
           json_object_size(expect), succeeded, failed, dependency_failed,
           records, events, order_checked, host_lost, twice);
    json_decref(runs);
    json_decref(last_event);
    json_decref(spans);
    json_decref(status);
    json_decref(expect);
    json_decref(deps);
    drv_pg_destroy(pg);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("fault");
    TCase *tc = tcase_create("invariants");
    tcase_add_checked_fixture(tc, e2e_setup, e2e_teardown);
    tcase_set_timeout(tc, 1800);
    tcase_add_test(tc, test_fault_invariants);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return drv_test_run(suite());
}
