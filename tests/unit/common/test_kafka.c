/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for drover/kafka.h against librdkafka's mock cluster:
 * produce, consume, keys, headers, assignment, pause, bad config. */
#include <check.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "drover/kafka.h"
#include "drover/log.h"
#include "drover/util.h"
#include "check_main.h"

static rd_kafka_t *mock_rk;
static drv_conf_t *conf;
static char errstr[DRV_ERRSTR_SIZE];

static void setup(void)
{
    char e[256];
    rd_kafka_conf_t *c = rd_kafka_conf_new();
    rd_kafka_conf_set(c, "test.mock.num.brokers", "1", e, sizeof(e));
    mock_rk = rd_kafka_new(RD_KAFKA_PRODUCER, c, e, sizeof(e));
    ck_assert_ptr_nonnull(mock_rk);
    rd_kafka_mock_cluster_t *mc = rd_kafka_handle_mock_cluster(mock_rk);
    rd_kafka_mock_topic_create(mc, "t.one", 2, 1);
    conf = drv_conf_new();
    drv_conf_set(conf, "kafka.bootstrap.servers",
                 rd_kafka_mock_cluster_bootstraps(mc), NULL, 0);
}

static void teardown(void)
{
    drv_conf_destroy(conf);
    rd_kafka_destroy(mock_rk);
}

/* Send messages to t.one (partition -1: by key) and wait until the
 * cluster has them. */
static void produce(int32_t partition, const char *key,
                    const char *const *values, size_t n,
                    const drv_kheader_t *h, size_t nh)
{
    drv_kprod_t *kp = drv_kprod_new(conf, NULL, 0, errstr, sizeof(errstr));
    ck_assert_msg(kp != NULL, "%s", errstr);
    for (size_t i = 0; i < n; i++) {
        ck_assert_int_eq(drv_kprod_send(kp, "t.one", partition, key,
                                        values[i], strlen(values[i]), h, nh,
                                        errstr, sizeof(errstr)),
                         0);
    }
    ck_assert_msg(drv_kprod_flush(kp, 10000, errstr, sizeof(errstr)) == 0,
                  "%s", errstr);
    drv_kprod_destroy(kp);
}

/* A consumer of group `group` subscribed to t.one. */
static drv_kcons_t *subscribed(const char *group)
{
    drv_kcons_t *kc = drv_kcons_new(conf, NULL, group, NULL, NULL, errstr,
                                    sizeof(errstr));
    ck_assert_ptr_nonnull(kc);
    const char *topics[] = {"t.one"};
    ck_assert_int_eq(drv_kcons_subscribe(kc, topics, 1, errstr,
                                         sizeof(errstr)),
                     0);
    return kc;
}

/* The next message (the first poll waits for the group's assignment). */
static drv_kmsg_t *poll_one(drv_kcons_t *kc)
{
    drv_kmsg_t *m = NULL;
    for (int64_t end = drv_mono_ms() + 20000; !m && drv_mono_ms() < end;) {
        m = drv_kcons_poll(kc, 200);
    }
    ck_assert_ptr_nonnull(m);
    return m;
}

START_TEST(test_kafka_produce_consume_roundtrip)
{
    drv_kheader_t h[] = {{"drover.error", "why"}};
    const char *v1[] = {"payload"};
    produce(-1, "job-1", v1, 1, h, 1);

    drv_kcons_t *kc = subscribed("g1");
    drv_kmsg_t *m = poll_one(kc);
    size_t len;
    const void *v = drv_kmsg_value(m, &len);
    ck_assert_int_eq(len, 7);
    ck_assert(memcmp(v, "payload", 7) == 0);
    ck_assert_str_eq(drv_kmsg_key(m), "job-1");
    ck_assert_str_eq(drv_kmsg_topic(m), "t.one");
    ck_assert_str_eq(drv_kmsg_header(m, "drover.error"), "why");
    ck_assert_ptr_null(drv_kmsg_header(m, "absent"));
    ck_assert_int_eq(drv_kmsg_offset(m), 0);
    drv_kcons_store(kc, m);
    int32_t parts[8];
    ck_assert_int_eq(drv_kcons_assignment(kc, parts, 8), 2);
    drv_kcons_pause(kc, 1);
    drv_kcons_pause(kc, 0);
    drv_kmsg_destroy(m);
    drv_kcons_destroy(kc);
}
END_TEST

/* A message polled while paused (a partition assigned since the pause)
 * is fetched again after the resume: nothing is skipped. */
START_TEST(test_kafka_rewind_while_paused)
{
    const char *ab[] = {"a", "b"};
    produce(0, "k", ab, 2, NULL, 0);
    drv_kcons_t *kc = subscribed("g-rewind");
    drv_kmsg_t *m = poll_one(kc);
    int64_t first = drv_kmsg_offset(m);
    drv_kcons_pause(kc, 1);
    drv_kcons_rewind(kc, m);
    drv_kmsg_destroy(m);
    drv_kcons_pause(kc, 0);
    m = poll_one(kc);
    ck_assert_int_eq(drv_kmsg_offset(m), first);
    size_t len;
    ck_assert(memcmp(drv_kmsg_value(m, &len), "a", 1) == 0);
    drv_kmsg_destroy(m);
    drv_kcons_destroy(kc);
}
END_TEST

/* (CreateTopics is not served by librdkafka 2.0's mock cluster; the e2e
 * stack covers it against a real broker.) */
/* A secured cluster's settings reach librdkafka unchanged (it accepts
 * them: this build has SASL and TLS), and the password is in no log line. */
START_TEST(test_kafka_sasl_tls_passthrough)
{
    char path[] = "/tmp/drv-kafka-log-XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    drv_log_t *log = drv_log_new("test", fd);
    drv_conf_t *c = drv_conf_dup(conf);
    const char *sets[][2] = {
        {"kafka.security.protocol", "SASL_SSL"},
        {"kafka.sasl.mechanisms", "SCRAM-SHA-512"},
        {"kafka.sasl.username", "drover"},
        {"kafka.sasl.password", "pw-that-must-not-leak"},
        {"kafka.ssl.ca.location", "/etc/ssl/certs/ca-certificates.crt"},
        {"kafka.ssl.endpoint.identification.algorithm", "https"},
    };
    for (size_t i = 0; i < sizeof(sets) / sizeof(sets[0]); i++) {
        ck_assert_int_eq(drv_conf_set(c, sets[i][0], sets[i][1], errstr,
                                      sizeof(errstr)),
                         0);
    }
    drv_kprod_t *kp = drv_kprod_new(c, log, DRV_KPROD_DURABLE, errstr,
                                    sizeof(errstr));
    ck_assert_msg(kp != NULL, "%s", errstr);
    drv_kcons_t *kc = drv_kcons_new(c, log, "g-sasl", NULL, NULL, errstr,
                                    sizeof(errstr));
    ck_assert_msg(kc != NULL, "%s", errstr);
    /* the mock broker speaks plaintext: give librdkafka time to try, log */
    for (int i = 0; i < 10; i++) {
        drv_kmsg_destroy(drv_kcons_poll(kc, 100));
        drv_kprod_poll(kp);
    }
    drv_kcons_destroy(kc);
    drv_kprod_destroy(kp);
    char *text = drv_read_file(path, NULL, errstr, sizeof(errstr));
    ck_assert_ptr_nonnull(text);
    ck_assert_ptr_null(strstr(text, "pw-that-must-not-leak"));
    free(text);
    drv_log_destroy(log);
    close(fd);
    unlink(path);
    drv_conf_destroy(c);
}
END_TEST

START_TEST(test_kafka_bad_config)
{
    drv_conf_set(conf, "kafka.linger.ms", "not-a-number", NULL, 0);
    ck_assert_ptr_null(drv_kprod_new(conf, NULL, DRV_KPROD_DURABLE, errstr,
                                     sizeof(errstr)));
    ck_assert_msg(strstr(errstr, "kafka.linger.ms"), "%s", errstr);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("kafka");
    TCase *tc = tcase_create("mock");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_kafka_produce_consume_roundtrip);
    tcase_add_test(tc, test_kafka_rewind_while_paused);
    tcase_add_test(tc, test_kafka_bad_config);
    tcase_add_test(tc, test_kafka_sasl_tls_passthrough);
    suite_add_tcase(s, tc);
    return drv_test_run(s);
}
