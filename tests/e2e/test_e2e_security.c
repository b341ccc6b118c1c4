/* SPDX-License-Identifier: Apache-2.0 */
/*
 * End-to-end: what a job definition may reach. Secrets come from the
 * compute environment's secret store and appear nowhere but inside the
 * container; containers run without capabilities; bad input is refused
 * with a clear error and changes nothing already stored.
 */
#define _GNU_SOURCE /* memmem */
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

static const char *status_of(json_t *j)
{
    return json_string_value(json_object_get(j, "status"));
}

static void rot13(char *s)
{
    for (; *s; s++) {
        if ((*s >= 'a' && *s <= 'z')) {
            *s = (char)('a' + (*s - 'a' + 13) % 26);
        }
    }
}

/* How many times `needle` occurs in every message of every drover topic. */
static int count_in_kafka(const char *needle)
{
    char e[DRV_ERRSTR_SIZE], group[64];
    drv_conf_t *c = e2e_role_conf("admin"); /* every topic */
    drv_conf_set(c, "kafka.auto.offset.reset", "earliest", NULL, 0);
    snprintf(group, sizeof(group), "e2e-secret-scan-%d", (int)getpid());
    drv_kcons_t *kc = drv_kcons_new(c, NULL, group, NULL, NULL, e, sizeof(e));
    ck_assert_msg(kc, "%s", e);
    const char *topics[] = {"^drover\\..*"};
    ck_assert_int_eq(drv_kcons_subscribe(kc, topics, 1, e, sizeof(e)), 0);
    int hits = 0, seen = 0;
    /* heartbeats never stop: read until 4 s pass without a message, or
     * for 30 s at most (the topics hold far less than that to read) */
    int64_t idle_until = drv_mono_ms() + 15000;
    int64_t stop_at = drv_mono_ms() + 30000;
    while (drv_mono_ms() < idle_until && drv_mono_ms() < stop_at) {
        drv_kmsg_t *m = drv_kcons_poll(kc, 200);
        if (!m) {
            continue;
        }
        size_t len;
        const char *v = drv_kmsg_value(m, &len);
        hits += v && memmem(v, len, needle, strlen(needle)) != NULL;
        seen++;
        drv_kmsg_destroy(m);
        idle_until = drv_mono_ms() + 4000;
    }
    drv_kcons_destroy(kc);
    drv_conf_destroy(c);
    ck_assert_msg(seen > 0, "read no Kafka messages at all");
    return hits;
}

static int count_in_command(const char *cmd)
{
    FILE *p = popen(cmd, "r");
    ck_assert(p);
    int n = 0;
    ck_assert_int_eq(fscanf(p, "%d", &n), 1);
    pclose(p);
    return n;
}

START_TEST(test_e2e_secret_reaches_only_the_container)
{
    const char *stack = getenv("DROVER_STACK_DIR");
    char dir[1024], path[1200], secret[64], cmd[2048];
    snprintf(dir, sizeof(dir), "%s/secrets", stack);
    mkdir(dir, 0700);
    char uuid[40];
    ck_assert_int_eq(drv_uuid4(uuid), 0);
    snprintf(secret, sizeof(secret), "hunter%.8s", uuid);
    for (char *p = secret; *p; p++) { /* letters only: rot13 changes all */
        *p = (char)('a' + (unsigned char)*p % 26);
    }
    snprintf(path, sizeof(path), "%s/db-password", dir);
    FILE *fp = fopen(path, "w");
    ck_assert(fp);
    fprintf(fp, "%s\n", secret);
    fclose(fp);

    e2e_register_full(
        "e2e-secret",
        "{\"image\":\"localhost/drover/busybox:latest\",\"command\":[\"sh\","
        "\"-c\",\"echo len=${#DB_PASSWORD}; echo rot=$(echo $DB_PASSWORD | tr "
        "a-z n-za-m)\"],\"resourceRequirements\":[{\"type\":\"VCPU\",\"value\":"
        "\"0.25\"},{\"type\":\"MEMORY\",\"value\":\"32\"}],\"secrets\":[{"
        "\"name\":\"DB_PASSWORD\",\"valueFrom\":\"arn:aws:secretsmanager:"
        "local:000000000000:secret:db-password\"}]}",
        NULL);
    const char *id = e2e_submit("secret", "e2e-secret", NULL);
    char job[40];
    snprintf(job, sizeof(job), "%s", id);
    json_t *j = e2e_wait(job, 120);
    ck_assert_str_eq(status_of(j), "SUCCEEDED");
    json_decref(j);
    /* the container had it: its length and its rot13 are in the output */
    char *out = e2e_job_log(job, 1);
    char want[128];
    snprintf(want, sizeof(want), "len=%zu", strlen(secret));
    ck_assert_msg(strstr(out, want), "output: %s", out);
    char r13[64];
    snprintf(r13, sizeof(r13), "%s", secret);
    rot13(r13);
    snprintf(want, sizeof(want), "rot=%s", r13);
    ck_assert_msg(strstr(out, want), "output: %s", out);
    free(out);

    /* and nothing else did: Kafka, PostgreSQL, every log of the stack */
    ck_assert_int_eq(count_in_kafka(secret), 0);
    snprintf(cmd, sizeof(cmd),
             "pg_dump -d '%s' | grep -c '%s' || true",
             drv_conf_get(e2e_conf, "pg.conninfo"), secret);
    ck_assert_int_eq(count_in_command(cmd), 0);
    snprintf(cmd, sizeof(cmd),
             "cat %s/logs/*.log %s/joblogs/*/*.log | grep -c '%s' || true",
             stack, stack, secret);
    ck_assert_int_eq(count_in_command(cmd), 0);
    /* the check itself can find it: the store holds it */
    snprintf(cmd, sizeof(cmd), "grep -c '%s' %s", secret, path);
    ck_assert_int_eq(count_in_command(cmd), 1);

    /* a secret the store lacks: the attempt fails to start, naming it */
    e2e_register_full(
        "e2e-secret-missing",
        "{\"image\":\"localhost/drover/busybox:latest\",\"command\":[\"true\"],"
        "\"resourceRequirements\":[{\"type\":\"VCPU\",\"value\":\"0.25\"},{"
        "\"type\":\"MEMORY\",\"value\":\"32\"}],\"secrets\":[{\"name\":\"X\","
        "\"valueFrom\":\"no-such-secret\"}]}",
        NULL);
    j = e2e_wait(e2e_submit("secret-missing", "e2e-secret-missing", NULL),
                 120);
    ck_assert_str_eq(status_of(j), "FAILED");
    const char *reason = json_string_value(
        json_object_get(json_object_get(j, "container"), "reason"));
    ck_assert_msg(reason && strstr(reason, "ResourceInitializationError") &&
                      strstr(reason, "no-such-secret"),
                  "reason: %s", reason ? reason : "(none)");
    json_decref(j);
}
END_TEST

START_TEST(test_e2e_containers_have_no_capabilities)
{
    e2e_register("e2e-caps", "[\"sh\",\"-c\",\"grep CapEff /proc/self/status; "
                             "chown 1 /tmp && echo chown-allowed || echo "
                             "chown-refused\"]",
                 32);
    const char *id = e2e_submit("caps", "e2e-caps", NULL);
    char job[40];
    snprintf(job, sizeof(job), "%s", id);
    json_t *j = e2e_wait(job, 120);
    ck_assert_str_eq(status_of(j), "SUCCEEDED");
    json_decref(j);
    char *out = e2e_job_log(job, 1);
    ck_assert_msg(strstr(out, "CapEff:\t0000000000000000"), "output: %s", out);
    ck_assert_msg(strstr(out, "chown-refused"), "output: %s", out);
    free(out);
}
END_TEST

/* A submission with the caller's job id: the library's own API (the AWS
 * API assigns ids), as a producer retrying a send would use it. */
static void submit_with_id(const char *id, const char *name)
{
    char e[DRV_ERRSTR_SIZE];
    drv_err_t err;
    json_t *reqs = json_pack("[{s:s,s:s,s:s,s:s}]", "jobId", id, "jobName",
                             name, "jobQueue", "default", "jobDefinition",
                             "e2e-bad");
    json_t *out = drv_client_submit_jobs(e2e_client, reqs, &err, e, sizeof(e));
    ck_assert_msg(out != NULL, "%s", e);
    json_decref(out);
    json_decref(reqs);
}

/* Bad input: a clear error, and what was stored before is unchanged. */
START_TEST(test_e2e_bad_input_changes_nothing)
{
    char e[DRV_ERRSTR_SIZE];
    e2e_register("e2e-bad", "[\"true\"]", 32);
    json_t *before = e2e_call("DescribeJobDefinitions",
                              "{\"jobDefinitionName\":\"e2e-bad\"}");
    drv_err_t err;
    struct {
        const char *op, *json, *expect;
    } cases[] = {
        {"SubmitJob",
         "{\"jobName\":\"x\",\"jobQueue\":\"default\",\"jobDefinition\":"
         "\"e2e-bad\",\"arrayProperties\":{\"size\":10001}}",
         "10000"},
        {"SubmitJob",
         "{\"jobName\":7,\"jobQueue\":\"default\",\"jobDefinition\":"
         "\"e2e-bad\"}",
         "jobName"},
        {"SubmitJob",
         "{\"jobName\":\"x\",\"jobQueue\":\"default\",\"jobDefinition\":"
         "\"e2e-bad\",\"dependsOn\":[{\"jobId\":\"no-such-job\"}]}",
         "no-such-job"},
        {"RegisterJobDefinition",
         "{\"jobDefinitionName\":\"e2e-bad\",\"type\":\"container\","
         "\"containerProperties\":{\"image\":\"busybox\",\"vcpus\":\"many\"}}",
         "vcpus"},
        {"RegisterJobDefinition",
         "{\"jobDefinitionName\":\"e2e-bad\",\"type\":\"container\","
         "\"containerProperties\":{\"image\":\"x\",\"vcpus\":1,\"memory\":"
         "64,\"secrets\":[{\"name\":\"S\",\"valueFrom\":\"../../etc/"
         "shadow\"}]}}",
         "secret name"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        json_t *req = json_loads(cases[i].json, 0, NULL);
        ck_assert(req);
        json_t *r = drv_client_call(e2e_client, cases[i].op, req, &err, e,
                                    sizeof(e));
        ck_assert_msg(r == NULL, "case %zu was accepted", i);
        ck_assert_msg(strstr(e, cases[i].expect),
                      "case %zu: error \"%s\" does not mention %s", i, e,
                      cases[i].expect);
        json_decref(req);
    }
    /* a job id reused with a different body: the first job stays as it was */
    submit_with_id("e2e-reused-id", "first");
    json_t *j = e2e_wait("e2e-reused-id", 120);
    ck_assert_str_eq(status_of(j), "SUCCEEDED");
    json_decref(j);
    submit_with_id("e2e-reused-id", "second");
    sleep(2);
    j = e2e_wait("e2e-reused-id", 10);
    ck_assert_str_eq(json_string_value(json_object_get(j, "jobName")),
                     "first");
    ck_assert_int_eq(json_array_size(json_object_get(j, "attempts")), 1);
    json_decref(j);
    json_t *after = e2e_call("DescribeJobDefinitions",
                             "{\"jobDefinitionName\":\"e2e-bad\"}");
    ck_assert(json_equal(before, after));
    json_decref(before);
    json_decref(after);
}
END_TEST

/* Produce one record as `c` to `topic`: 0 if Kafka took it, else -1 with
 * the broker's refusal in errstr. */
static int produce_as(drv_conf_t *c, const char *topic, char *errstr,
                      size_t errstr_size)
{
    drv_conf_set(c, "kafka.message.timeout.ms", "6000", NULL, 0);
    drv_kprod_t *kp = drv_kprod_new(c, NULL, 0, errstr, errstr_size);
    ck_assert_msg(kp != NULL, "%s", errstr);
    int rc = drv_kprod_send(kp, topic, -1, "e2e-forged", "forged", 6, NULL, 0,
                            errstr, errstr_size);
    if (rc == 0) {
        rc = drv_kprod_flush(kp, 15000, errstr, errstr_size);
    }
    drv_kprod_destroy(kp);
    return rc;
}

/* Kafka is the control plane: a client without credentials is refused,
 * and each role may write only its own topics (ACLs). */
START_TEST(test_e2e_kafka_roles_are_enforced)
{
    char e[DRV_ERRSTR_SIZE];
    /* no credentials, then a wrong password */
    drv_conf_t *c = drv_conf_dup(e2e_conf);
    drv_conf_set(c, "kafka.security.protocol", "plaintext", NULL, 0);
    ck_assert_int_eq(produce_as(c, "drover.submit.default", e, sizeof(e)), -1);
    drv_conf_destroy(c);
    c = drv_conf_dup(e2e_conf);
    drv_conf_set(c, "kafka.sasl.password", "guessed", NULL, 0);
    ck_assert_int_eq(produce_as(c, "drover.submit.default", e, sizeof(e)), -1);
    drv_conf_destroy(c);
    /* the operator (submitters, the CLI, the gateway) */
    const struct {
        const char *role, *topic;
        bool allowed;
    } cases[] = {
        {NULL, "drover.submit.default", true},
        {NULL, "drover.run.local", false},   /* a RunJob of its own */
        {NULL, "drover.status", false},      /* a report */
        {NULL, "drover.control.local", false},
        {NULL, "drover.events", false},
        {"observer", "drover.submit.default", false},
        {"observer", "drover.events", false},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        c = cases[i].role ? e2e_role_conf(cases[i].role)
                          : drv_conf_dup(e2e_conf);
        int rc = produce_as(c, cases[i].topic, e, sizeof(e));
        drv_conf_destroy(c);
        if (cases[i].allowed) {
            ck_assert_msg(rc == 0, "%s to %s: %s",
                          cases[i].role ? cases[i].role : "operator",
                          cases[i].topic, e);
        } else {
            ck_assert_msg(rc == -1, "%s could write %s",
                          cases[i].role ? cases[i].role : "operator",
                          cases[i].topic);
            /* a topic ACL refuses the write; a role that may write no
             * topic at all gets no producer id, so its records are never
             * sent and are purged at the deadline */
            ck_assert_msg(strstr(e, "uthoriz") || strstr(e, "Purged"),
                          "%s to %s: %s",
                          cases[i].role ? cases[i].role : "operator",
                          cases[i].topic, e);
        }
    }
    /* a worker of compute environment "local" cannot submit or release */
    char wname[300];
    snprintf(wname, sizeof(wname), "worker-%s-worker-1",
             getenv("DROVER_STACK_ID"));
    c = e2e_role_conf(wname);
    ck_assert_int_eq(produce_as(c, "drover.submit.default", e, sizeof(e)), -1);
    ck_assert_int_eq(produce_as(c, "drover.run.local", e, sizeof(e)), -1);
    ck_assert_int_eq(produce_as(c, "drover.status", e, sizeof(e)), 0);
    drv_conf_destroy(c);
}
END_TEST

/* A report that no worker signed changes nothing: a forged SUCCEEDED for
 * a running job is parked, and the job goes on to its real end. */
START_TEST(test_e2e_unsigned_report_is_parked)
{
    char e[DRV_ERRSTR_SIZE];
    e2e_register("e2e-forge", "[\"sh\", \"-c\", \"sleep 4; exit 3\"]", 32);
    const char *id = e2e_submit("forge", "e2e-forge", NULL);
    char job[200];
    snprintf(job, sizeof(job), "%s", id);
    json_decref(e2e_wait_status(job, "RUNNING", 120));
    char wname[300];
    snprintf(wname, sizeof(wname), "worker-%s-worker-1",
             getenv("DROVER_STACK_ID"));
    drv_conf_t *c = e2e_role_conf(wname); /* a real worker's credentials */
    drv_codec_t *codec = drv_codec_new(e, sizeof(e));
    ck_assert_msg(codec != NULL, "%s", e);
    json_t *m = json_pack("{s:s,s:i,s:s,s:s,s:i,s:I,s:I}", "jobId", job,
                          "attempt", 1, "status", "SUCCEEDED", "worker",
                          "e2e-forger", "exitCode", 0, "timestamp",
                          (json_int_t)drv_now_ms(), "workerStartedAt",
                          (json_int_t)1);
    void *buf;
    size_t len;
    ck_assert(drv_codec_encode(codec, "JobStatus", m, &buf, &len, e,
                               sizeof(e)) == 0);
    json_decref(m);
    drv_kprod_t *kp = drv_kprod_new(c, NULL, 0, e, sizeof(e));
    ck_assert_msg(kp != NULL, "%s", e);
    ck_assert_int_eq(drv_kprod_send(kp, "drover.status", -1, job, buf, len,
                                    NULL, 0, e, sizeof(e)),
                     0);
    ck_assert_msg(drv_kprod_flush(kp, 15000, e, sizeof(e)) == 0, "%s", e);
    drv_kprod_destroy(kp);
    free(buf);
    drv_conf_destroy(c);
    drv_codec_destroy(codec);
    json_t *j = e2e_wait(job, 120);
    ck_assert_str_eq(status_of(j), "FAILED");
    ck_assert_int_eq(e2e_int(json_object_get(json_array_get(
                                 json_object_get(j, "attempts"), 0),
                                             "container"),
                             "exitCode"),
                     3);
    json_decref(j);
}
END_TEST

/* No message halts the dispatcher: a submission PostgreSQL refuses (here
 * a trigger refuses one tagged "poison") is retried alone, then parked in
 * drover.dlq and its job recorded FAILED with the reason, and the
 * submissions around it run. */
START_TEST(test_e2e_refused_submission_is_parked)
{
    char e[DRV_ERRSTR_SIZE];
    drv_pg_t *pg = drv_pg_connect(drv_conf_get(e2e_conf, "pg.conninfo"), NULL,
                                  e, sizeof(e));
    ck_assert_msg(pg != NULL, "%s", e);
    const char *setup[] = {
        ("CREATE OR REPLACE FUNCTION e2e_poison() RETURNS trigger AS $$ BEGIN "
         "IF NEW.request->'tags' ? 'poison' THEN RAISE EXCEPTION 'e2e: "
         "poisoned submission'; END IF; RETURN NEW; END $$ LANGUAGE plpgsql"),
        "DROP TRIGGER IF EXISTS e2e_poison ON jobs",
        ("CREATE TRIGGER e2e_poison BEFORE INSERT ON jobs FOR EACH ROW EXECUTE "
         "FUNCTION e2e_poison()")};
    for (size_t i = 0; i < sizeof(setup) / sizeof(setup[0]); i++) {
        ck_assert_msg(drv_pg_exec(pg, setup[i], 0, NULL, e, sizeof(e)) == 0,
                      "%s", e);
    }
    e2e_register("e2e-poison", "[\"true\"]", 32);
    char before[64], poison[64], after[64];
    snprintf(before, sizeof(before), "%s",
             e2e_submit("before", "e2e-poison", NULL));
    snprintf(poison, sizeof(poison), "%s",
             e2e_submit("poison", "e2e-poison",
                        "\"tags\":{\"poison\":\"yes\"}"));
    snprintf(after, sizeof(after), "%s",
             e2e_submit("after", "e2e-poison", NULL));
    json_t *j = e2e_wait(after, 120);
    ck_assert_str_eq(status_of(j), "SUCCEEDED");
    json_decref(j);
    j = e2e_wait(before, 60);
    ck_assert_str_eq(status_of(j), "SUCCEEDED");
    json_decref(j);
    j = e2e_wait(poison, 60);
    ck_assert_str_eq(status_of(j), "FAILED");
    const char *why = json_string_value(json_object_get(j, "statusReason"));
    ck_assert_msg(why && strstr(why, "The submission could not be recorded") &&
                      strstr(why, "e2e: poisoned submission"),
                  "%s", why ? why : "(no reason)");
    json_decref(j);
    ck_assert(drv_pg_exec(pg, "DROP TRIGGER e2e_poison ON jobs", 0, NULL, e,
                          sizeof(e)) == 0);
    drv_pg_destroy(pg);
}
END_TEST

/* A job's container reason (attempt 1), or "". */
static const char *container_reason(json_t *j)
{
    const char *r = json_string_value(json_object_get(
        json_object_get(json_array_get(json_object_get(j, "attempts"), 0),
                        "container"),
        "reason"));
    return r ? r : "";
}

/* Policy is checked where the job runs. A link an earlier job planted
 * under an allowed root (shared/e2e-escape -> /) does not let a later job
 * mount the host's /: the worker resolves host paths without following
 * links and refuses. A path that climbs out of its root is refused at
 * registration. A privileged job that its compute environment allows is
 * still refused by a worker whose host does not (worker.allow.privileged).
 */
START_TEST(test_e2e_policy_where_the_job_runs)
{
    char e[DRV_ERRSTR_SIZE], props[2048];
    const char *stack = getenv("DROVER_STACK_DIR");
    snprintf(props, sizeof(props),
             "{\"image\":\"localhost/drover/busybox:latest\",\"command\":["
             "\"sh\",\"-c\",\"ln -sfn / /shared/e2e-escape\"],\"vcpus\":1,"
             "\"memory\":32,\"volumes\":[{\"name\":\"s\",\"host\":{"
             "\"sourcePath\":\"%s/shared\"}}],\"mountPoints\":[{"
             "\"sourceVolume\":\"s\",\"containerPath\":\"/shared\"}]}",
             stack);
    e2e_register_full("e2e-plant", props, NULL);
    json_t *j = e2e_wait(e2e_submit("plant", "e2e-plant", NULL), 120);
    ck_assert_str_eq(status_of(j), "SUCCEEDED");
    json_decref(j);
    snprintf(props, sizeof(props),
             "{\"image\":\"localhost/drover/busybox:latest\",\"command\":["
             "\"cat\",\"/host/etc/shadow\"],\"vcpus\":1,\"memory\":32,"
             "\"volumes\":[{\"name\":\"h\",\"host\":{\"sourcePath\":"
             "\"%s/shared/e2e-escape\"}}],\"mountPoints\":[{"
             "\"sourceVolume\":\"h\",\"containerPath\":\"/host\"}]}",
             stack);
    e2e_register_full("e2e-escape", props, NULL);
    const char *id = e2e_submit("escape", "e2e-escape", NULL);
    char job[64];
    snprintf(job, sizeof(job), "%s", id);
    j = e2e_wait(job, 120);
    ck_assert_str_eq(status_of(j), "FAILED");
    ck_assert_msg(strstr(container_reason(j), "passes through a symlink") &&
                      strstr(container_reason(j),
                             "worker.allowed.host.paths"),
                  "reason: %s", container_reason(j));
    json_decref(j);

    /* <root>/.. is refused where it enters, naming the field */
    snprintf(props, sizeof(props),
             "{\"jobDefinitionName\":\"e2e-dotdot\",\"type\":\"container\","
             "\"containerProperties\":{\"image\":\"x\",\"vcpus\":1,\"memory\":"
             "32,\"volumes\":[{\"name\":\"h\",\"host\":{\"sourcePath\":"
             "\"%s/shared/..\"}}]}}",
             stack);
    json_t *req = json_loads(props, 0, NULL);
    drv_err_t err;
    ck_assert_ptr_null(drv_client_call(e2e_client, "RegisterJobDefinition",
                                       req, &err, e, sizeof(e)));
    json_decref(req);
    ck_assert_msg(strstr(e, "containerProperties.volumes[0].host.sourcePath"),
                  "%s", e);

    /* compute environment "local" allows privileged; its workers' hosts do
     * not: the worker refuses before it creates anything */
    drv_pg_t *pg = drv_pg_connect(drv_conf_get(e2e_conf, "pg.conninfo"), NULL,
                                  e, sizeof(e));
    ck_assert_msg(pg != NULL, "%s", e);
    const char *allow =
        "UPDATE compute_environments SET spec = jsonb_set(spec, "
        "'{containerPolicy,allowPrivileged}', 'true') WHERE name = 'local'";
    const char *forbid =
        "UPDATE compute_environments SET spec = spec #- "
        "'{containerPolicy,allowPrivileged}' WHERE name = 'local'";
    ck_assert_msg(drv_pg_exec(pg, allow, 0, NULL, e, sizeof(e)) == 0, "%s", e);
    e2e_register_full("e2e-privileged",
                      "{\"image\":\"localhost/drover/busybox:latest\","
                      "\"command\":[\"true\"],\"vcpus\":1,\"memory\":32,"
                      "\"privileged\":true}",
                      NULL);
    id = e2e_submit("privileged", "e2e-privileged", NULL);
    snprintf(job, sizeof(job), "%s", id);
    j = e2e_wait(job, 120);
    ck_assert_msg(drv_pg_exec(pg, forbid, 0, NULL, e, sizeof(e)) == 0, "%s",
                  e);
    drv_pg_destroy(pg);
    ck_assert_str_eq(status_of(j), "FAILED");
    ck_assert_msg(strstr(container_reason(j), "worker.allow.privileged"),
                  "reason: %s", container_reason(j));
    json_decref(j);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("security");
    TCase *tc = tcase_create("security");
    tcase_add_checked_fixture(tc, e2e_setup, e2e_teardown);
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_e2e_secret_reaches_only_the_container);
    tcase_add_test(tc, test_e2e_containers_have_no_capabilities);
    tcase_add_test(tc, test_e2e_bad_input_changes_nothing);
    tcase_add_test(tc, test_e2e_kafka_roles_are_enforced);
    tcase_add_test(tc, test_e2e_unsigned_report_is_parked);
    tcase_add_test(tc, test_e2e_refused_submission_is_parked);
    tcase_add_test(tc, test_e2e_policy_where_the_job_runs);
    suite_add_tcase(s, tc);
    return drv_test_run(s);
}
