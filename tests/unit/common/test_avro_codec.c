/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for drover/avro_codec.h: canonical form, fingerprints,
 * single-object framing, JSON mapping, schema resolution, bad input. */
#include <check.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "drover/avro_codec.h"
#include "drover/schemas.h"
#include "check_main.h"

static drv_codec_t *codec;
static char errstr[DRV_ERRSTR_SIZE];

static void setup(void)
{
    codec = drv_codec_new(errstr, sizeof(errstr));
    ck_assert_msg(codec != NULL, "codec: %s", errstr);
}

static void teardown(void)
{
    drv_codec_destroy(codec);
    codec = NULL;
}

/* Vectors from the Avro project's share/test/data/schema-tests.txt. */
START_TEST(test_avro_codec_fingerprint_vectors)
{
    static const struct {
        const char *in, *canon;
        int64_t fp;
    } v[] = {
        {"\"null\"", "\"null\"", 7195948357588979594LL},
        {"{\"type\":\"null\"}", "\"null\"", 7195948357588979594LL},
        {"\"boolean\"", "\"boolean\"", -6970731678124411036LL},
        {"\"int\"", "\"int\"", 8247732601305521295LL},
        {"\"long\"", "\"long\"", -3434872931120570953LL},
        {"\"string\"", "\"string\"", -8142146995180207161LL},
        {"{\"type\":\"fixed\",\"name\":\"foo\",\"size\":15}",
         "{\"name\":\"foo\",\"type\":\"fixed\",\"size\":15}",
         1756455273707447556LL},
        {"{\"type\":\"record\",\"name\":\"foo\",\"fields\":[{\"name\":\"f1\","
         "\"type\":\"boolean\"}]}",
         "{\"name\":\"foo\",\"type\":\"record\",\"fields\":[{\"name\":\"f1\","
         "\"type\":\"boolean\"}]}",
         7843277075252814651LL},
        {"{\"name\":\"PigValue\",\"type\":\"record\",\"fields\":[{\"name\":"
         "\"value\",\"type\":[\"null\",\"int\",\"long\",\"PigValue\"]}]}",
         "{\"name\":\"PigValue\",\"type\":\"record\",\"fields\":[{\"name\":"
         "\"value\",\"type\":[\"null\",\"int\",\"long\",\"PigValue\"]}]}",
         -1759257747318642341LL},
    };
    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        char *c = drv_avro_canonical_form(v[i].in, errstr, sizeof(errstr));
        ck_assert_msg(c != NULL, "%s: %s", v[i].in, errstr);
        ck_assert_str_eq(c, v[i].canon);
        ck_assert_uint_eq(drv_avro_fingerprint64(c, strlen(c)),
                          (uint64_t)v[i].fp);
        free(c);
    }
}
END_TEST

START_TEST(test_avro_codec_canonical_namespaces)
{
    const char *in =
        "{\"type\":\"record\",\"name\":\"R\",\"namespace\":\"a.b\",\"doc\":"
        "\"x\",\"fields\":[{\"name\":\"e\",\"doc\":\"d\",\"type\":{\"type\":"
        "\"enum\",\"name\":\"E\",\"symbols\":[\"X\"]}},{\"name\":\"e2\","
        "\"type\":\"E\"},{\"name\":\"m\",\"type\":{\"type\":\"map\","
        "\"values\":{\"type\":\"string\"}}}]}";
    char *c = drv_avro_canonical_form(in, errstr, sizeof(errstr));
    ck_assert_ptr_nonnull(c);
    ck_assert_str_eq(
        c, "{\"name\":\"a.b.R\",\"type\":\"record\",\"fields\":[{\"name\":"
           "\"e\",\"type\":{\"name\":\"a.b.E\",\"type\":\"enum\",\"symbols\":"
           "[\"X\"]}},{\"name\":\"e2\",\"type\":\"a.b.E\"},{\"name\":\"m\","
           "\"type\":{\"type\":\"map\",\"values\":\"string\"}}]}");
    free(c);
    ck_assert_ptr_null(drv_avro_canonical_form("{not json", errstr,
                                               sizeof(errstr)));
    ck_assert_msg(strstr(errstr, "not JSON") != NULL, "%s", errstr);
}
END_TEST

/* Every schema in schemas/ gets the canonical form Debian's python3-avro
 * computes (schema.canonical_form). */
START_TEST(test_avro_codec_canonical_matches_python)
{
    int checked = 0;
    for (const drv_schema_file_t *f = drv_schema_files; f->path; f++) {
        char tmp[] = "/tmp/drv-avsc-XXXXXX";
        int fd = mkstemp(tmp);
        ck_assert_int_ge(fd, 0);
        FILE *fp = fdopen(fd, "w");
        fputs(f->text, fp);
        fclose(fp);
        char cmd[512], out[65536] = {0};
        snprintf(cmd, sizeof(cmd),
                 "/usr/bin/python3 -c 'import sys,avro.schema;"
                 "print(avro.schema.parse(open(sys.argv[1]).read())"
                 ".canonical_form, end=\"\")' %s",
                 tmp);
        FILE *p = popen(cmd, "r");
        ck_assert_ptr_nonnull(p);
        size_t n = fread(out, 1, sizeof(out) - 1, p);
        int rc = pclose(p);
        unlink(tmp);
        ck_assert_msg(rc == 0 && n > 0,
                      "python3-avro failed on %s (is python3-avro "
                      "installed?)",
                      f->path);
        char *c = drv_avro_canonical_form(f->text, errstr, sizeof(errstr));
        ck_assert_ptr_nonnull(c);
        ck_assert_msg(strcmp(c, out) == 0, "%s:\n ours %s\n python %s",
                      f->path, c, out);
        free(c);
        checked++;
    }
    ck_assert_int_ge(checked, 6);
}
END_TEST

static json_t *sample_submit(void)
{
    json_error_t jerr;
    json_t *j = json_loads(
        "{\"request\":{\"SubmitJob\":{\"jobId\":\"j-1\",\"jobName\":\"n\","
        "\"jobQueue\":\"q\",\"jobDefinition\":\"d:1\",\"submittedAt\":"
        "1700000000123,\"dependsOn\":[{\"jobId\":\"a\"},{\"type\":"
        "\"SEQUENTIAL\"}],\"parameters\":{\"p\":\"v\"},\"containerOverrides\":"
        "{\"command\":[\"echo\",\"Ref::p\"],\"environment\":[{\"name\":\"A\","
        "\"value\":\"1\"}],\"memory\":64},\"arrayProperties\":{\"size\":3},"
        "\"tags\":{}}}}",
        0, &jerr);
    ck_assert_msg(j != NULL, "%s", jerr.text);
    return j;
}

START_TEST(test_avro_codec_roundtrip)
{
    json_t *in = sample_submit();
    void *buf;
    size_t len;
    ck_assert_int_eq(drv_codec_encode(codec, "JobRequest", in, &buf, &len,
                                      errstr, sizeof(errstr)),
                     0);
    const unsigned char *b = buf;
    ck_assert_uint_eq(b[0], 0xC3);
    ck_assert_uint_eq(b[1], 0x01);
    uint64_t fp = 0, want;
    for (int i = 0; i < 8; i++) {
        fp |= (uint64_t)b[2 + i] << (8 * i);
    }
    ck_assert_int_eq(drv_codec_fingerprint(codec, "io.drover.JobRequest",
                                           &want),
                     0);
    ck_assert_uint_eq(fp, want);

    const char *name = NULL;
    json_t *out = NULL;
    ck_assert_int_eq(drv_codec_decode(codec, buf, len, &name, &out, errstr,
                                      sizeof(errstr)),
                     DRV_OK);
    ck_assert_str_eq(name, "JobRequest");
    json_t *sj = json_object_get(json_object_get(out, "request"), "SubmitJob");
    ck_assert_ptr_nonnull(sj);
    ck_assert_int_eq(json_integer_value(json_object_get(sj, "submittedAt")),
                     1700000000123LL);
    /* empty optionals are absent, given values survive */
    ck_assert_ptr_null(json_object_get(sj, "timeout"));
    ck_assert_str_eq(json_string_value(json_object_get(
                         json_object_get(sj, "parameters"), "p")),
                     "v");
    ck_assert(json_equal(json_object_get(json_object_get(sj,
                                                         "containerOverrides"),
                                         "command"),
                         json_object_get(json_object_get(json_object_get(
                                             json_object_get(in, "request"),
                                             "SubmitJob"),
                                                         "containerOverrides"),
                                         "command")));
    ck_assert_int_eq(json_array_size(json_object_get(sj, "dependsOn")), 2);
    free(buf);
    json_decref(in);
    json_decref(out);
}
END_TEST

START_TEST(test_avro_codec_encode_errors)
{
    void *buf = NULL;
    size_t len;
    json_t *bad = json_pack("{s:s,s:s}", "jobId", "x", "status", "RUNNING");
    ck_assert_int_eq(drv_codec_encode(codec, "JobStatus", bad, &buf, &len,
                                      errstr, sizeof(errstr)),
                     -1);
    ck_assert_msg(strstr(errstr, "missing required field \"attempt\""),
                  "%s", errstr);
    json_object_set_new(bad, "attempt", json_string("one"));
    ck_assert_int_eq(drv_codec_encode(codec, "JobStatus", bad, &buf, &len,
                                      errstr, sizeof(errstr)),
                     -1);
    ck_assert_msg(strstr(errstr, "\"attempt\" must be a 32-bit integer"), "%s",
                  errstr);
    json_object_set_new(bad, "attempt", json_integer(1));
    json_object_set_new(bad, "bogus", json_integer(1));
    ck_assert_int_eq(drv_codec_encode(codec, "JobStatus", bad, &buf, &len,
                                      errstr, sizeof(errstr)),
                     -1);
    ck_assert_msg(strstr(errstr, "unknown field \"bogus\""), "%s", errstr);
    ck_assert_int_eq(drv_codec_encode(codec, "NoSuch", bad, &buf, &len, errstr,
                                      sizeof(errstr)),
                     -1);
    ck_assert_ptr_null(buf);
    json_decref(bad);
}
END_TEST

START_TEST(test_avro_codec_decode_bad_input)
{
    const char *name;
    json_t *out = NULL;
    unsigned char junk[] = "not avro at all";
    ck_assert_int_eq(drv_codec_decode(codec, junk, sizeof(junk), &name, &out,
                                      errstr, sizeof(errstr)),
                     DRV_ERR_INVALID);
    ck_assert_msg(strstr(errstr, "no C3 01 header"), "%s", errstr);
    unsigned char unknown[12] = {0xC3, 0x01, 1, 2, 3, 4, 5, 6, 7, 8, 0, 0};
    ck_assert_int_eq(drv_codec_decode(codec, unknown, sizeof(unknown), &name,
                                      &out, errstr, sizeof(errstr)),
                     DRV_ERR_INVALID);
    ck_assert_msg(strstr(errstr, "unknown schema fingerprint"), "%s", errstr);

    /* a valid header with a truncated body */
    json_t *in = sample_submit();
    void *buf;
    size_t len;
    ck_assert_int_eq(drv_codec_encode(codec, "JobRequest", in, &buf, &len,
                                      errstr, sizeof(errstr)),
                     0);
    ck_assert_int_eq(drv_codec_decode(codec, buf, 14, &name, &out, errstr,
                                      sizeof(errstr)),
                     DRV_ERR_INVALID);
    ck_assert_ptr_null(out);
    free(buf);
    json_decref(in);
}
END_TEST

/* A message declaring a string of 2^40 bytes (or any length its bytes
 * cannot hold) is refused without Avro C allocating it or leaking. */
START_TEST(test_avro_codec_decode_hostile_lengths)
{
    const char *name;
    json_t *out = NULL;
    json_t *in = json_pack("{s:s,s:i,s:s,s:I}", "jobId", "j", "attempt", 1,
                           "reason", "r", "requestedAt", (json_int_t)1);
    void *buf;
    size_t len;
    ck_assert_int_eq(drv_codec_encode(codec, "StopAttempt", in, &buf, &len,
                                      errstr, sizeof(errstr)),
                     0);
    /* jobId is the first field: replace its length (zig-zag 2) with 2^40 */
    unsigned char msg[64];
    memcpy(msg, buf, 10);
    size_t n = 10;
    uint64_t zz = (uint64_t)1 << 41; /* zig-zag of 2^40 */
    while (zz >= 0x80) {
        msg[n++] = (unsigned char)(zz | 0x80);
        zz >>= 7;
    }
    msg[n++] = (unsigned char)zz;
    memcpy(msg + n, "jjjj", 4);
    n += 4;
    ck_assert_int_eq(drv_codec_decode(codec, msg, n, &name, &out, errstr,
                                      sizeof(errstr)),
                     DRV_ERR_INVALID);
    ck_assert_ptr_null(out);
    ck_assert_msg(strstr(errstr, "malformed StopAttempt"), "%s", errstr);
    /* a length that merely overruns the message: read fails, nothing kept */
    msg[10] = 100; /* zig-zag 50 */
    ck_assert_int_eq(drv_codec_decode(codec, msg, 15, &name, &out, errstr,
                                      sizeof(errstr)),
                     DRV_ERR_INVALID);
    ck_assert_ptr_null(out);
    /* and the codec still decodes good messages afterwards */
    ck_assert_int_eq(drv_codec_decode(codec, buf, len, &name, &out, errstr,
                                      sizeof(errstr)),
                     DRV_OK);
    ck_assert_str_eq(json_string_value(json_object_get(out, "jobId")), "j");
    json_decref(out);
    free(buf);
    json_decref(in);
}
END_TEST

/* A JobStatus written by an older worker (schemas/history, no
 * logStreamName) is read with the current reader schema. */
/* Avro's zigzag varint of v, appended at p; returns the new end. */
static unsigned char *put_long(unsigned char *p, int64_t v)
{
    uint64_t z = ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
    do {
        *p++ = (unsigned char)((z & 0x7f) | (z > 0x7f ? 0x80 : 0));
        z >>= 7;
    } while (z);
    return p;
}

static unsigned char *put_string(unsigned char *p, const char *s, size_t n)
{
    p = put_long(p, (int64_t)n);
    memcpy(p, s, n);
    return p + n;
}

/* A JobStatus written by hand, as a producer that checks nothing would:
 * its reason the first n bytes of `reason`. */
static unsigned char *raw_status(const char *reason, size_t n, size_t *len)
{
    uint64_t fp;
    ck_assert(drv_codec_fingerprint(codec, "JobStatus", &fp) == 0);
    unsigned char *buf = malloc(n + 128), *p = buf;
    *p++ = 0xC3;
    *p++ = 0x01;
    for (int i = 0; i < 8; i++) {
        *p++ = (unsigned char)(fp >> (8 * i));
    }
    p = put_string(p, "j", 1);      /* jobId */
    p = put_long(p, 1);             /* attempt */
    p = put_string(p, "FAILED", 6); /* status */
    p = put_string(p, "w", 1);      /* worker */
    p = put_long(p, 0);             /* containerId: null */
    p = put_long(p, 0);             /* exitCode: null */
    p = put_long(p, 1);             /* reason: the string branch */
    p = put_string(p, reason, n);
    p = put_long(p, 0);             /* statusReason: null */
    p = put_long(p, 0);             /* logStreamName: null */
    p = put_long(p, 1);             /* timestamp */
    p = put_long(p, 1);             /* workerStartedAt */
    *len = (size_t)(p - buf);
    return buf;
}

/* A JobStatus whose jobId, or a SubmitJob whose tag key, is `bytes`
 * (patched into an encoded message over a placeholder of the same length,
 * as a hostile producer would write it): refused at decode, naming the
 * field. */
static void expect_refused(const char *type, json_t *obj, const char *mark,
                           const char *bytes, const char *why)
{
    char e[DRV_ERRSTR_SIZE];
    void *buf;
    size_t len;
    ck_assert(drv_codec_encode(codec, type, obj, &buf, &len, e, sizeof(e)) ==
              0);
    json_decref(obj);
    unsigned char *p = NULL;
    for (size_t i = 0; !p && i + strlen(mark) <= len; i++) {
        p = memcmp((char *)buf + i, mark, strlen(mark)) ? NULL
                                                        : (unsigned char *)buf + i;
    }
    ck_assert_ptr_nonnull(p);
    memcpy(p, bytes, strlen(mark));
    const char *name;
    json_t *out = NULL;
    ck_assert_int_eq(drv_codec_decode(codec, buf, len, &name, &out, e,
                                      sizeof(e)),
                     DRV_ERR_INVALID);
    ck_assert_ptr_null(out);
    ck_assert_msg(strstr(e, why), "%s", e);
    free(buf);
}

START_TEST(test_avro_codec_decode_refuses_bad_strings)
{
    json_t *st = json_pack("{s:s,s:i,s:s,s:s,s:I,s:I}", "jobId", "XXXX",
                           "attempt", 1, "status", "RUNNING", "worker", "w",
                           "timestamp", (json_int_t)1, "workerStartedAt",
                           (json_int_t)1);
    expect_refused("JobStatus", json_incref(st), "XXXX", "\xff\xfe\xfd\xfc",
                   "field jobId is not valid UTF-8");
    expect_refused("JobStatus", st, "XXXX", "a\0bc",
                   "field jobId holds a NUL byte");
    json_t *sj = json_pack(
        "{s:{s:{s:s,s:s,s:s,s:s,s:I,s:{s:s}}}}", "request", "SubmitJob",
        "jobId", "j", "jobName", "n", "jobQueue", "q", "jobDefinition", "d",
        "submittedAt", (json_int_t)1, "tags", "KKKK", "v");
    expect_refused("JobRequest", sj, "KKKK", "k\xc3\x28k",
                   "field tags has a key that is not valid UTF-8");
    /* a string over the limit any string may have is not written, nor
     * read from a writer that does not check (below) */
    char *big = malloc(DRV_CODEC_MAX_STRING + 2);
    memset(big, 'x', DRV_CODEC_MAX_STRING + 1);
    big[DRV_CODEC_MAX_STRING + 1] = '\0';
    json_t *r = json_pack("{s:s,s:i,s:s,s:s,s:s,s:I,s:I}", "jobId", "j",
                          "attempt", 1, "status", "FAILED", "worker", "w",
                          "reason", big, "timestamp", (json_int_t)1,
                          "workerStartedAt", (json_int_t)1);
    char e[DRV_ERRSTR_SIZE];
    void *enc;
    size_t enc_len;
    ck_assert(drv_codec_encode(codec, "JobStatus", r, &enc, &enc_len, e,
                               sizeof(e)) != 0);
    ck_assert_msg(strstr(e, "\"reason\" must be at most"), "%s", e);
    json_decref(r);
    for (size_t n = DRV_CODEC_MAX_STRING; n <= DRV_CODEC_MAX_STRING + 1;
         n++) {
        size_t len;
        unsigned char *raw = raw_status(big, n, &len);
        const char *name;
        json_t *out = NULL;
        drv_err_t err = drv_codec_decode(codec, raw, len, &name, &out, e,
                                         sizeof(e));
        free(raw);
        if (n == DRV_CODEC_MAX_STRING) {
            ck_assert_msg(err == DRV_OK, "%s", e);
            ck_assert_uint_eq(
                strlen(json_string_value(json_object_get(out, "reason"))), n);
            json_decref(out);
        } else {
            ck_assert_int_eq(err, DRV_ERR_INVALID);
            ck_assert_msg(strstr(e, "field reason is longer than"), "%s", e);
        }
    }
    free(big);
    /* a valid multi-byte string still decodes as itself */
    void *buf;
    size_t len;
    json_t *ok = json_pack("{s:s,s:i,s:s,s:s,s:I,s:I}", "jobId",
                           "\xc3\xa9t\xc3\xa9", "attempt", 1, "status",
                           "RUNNING", "worker", "w", "timestamp",
                           (json_int_t)1, "workerStartedAt", (json_int_t)1);
    ck_assert(drv_codec_encode(codec, "JobStatus", ok, &buf, &len, e,
                               sizeof(e)) == 0);
    const char *name;
    json_t *out = NULL;
    ck_assert_int_eq(drv_codec_decode(codec, buf, len, &name, &out, e,
                                      sizeof(e)),
                     DRV_OK);
    ck_assert_str_eq(json_string_value(json_object_get(out, "jobId")),
                     "\xc3\xa9t\xc3\xa9");
    json_decref(out);
    json_decref(ok);
    free(buf);
}
END_TEST

START_TEST(test_avro_codec_resolves_older_writer)
{
    const char *old = NULL;
    for (const drv_schema_file_t *f = drv_schema_files; f->path; f++) {
        if (strstr(f->path, "history/JobStatus")) {
            old = f->text;
        }
    }
    ck_assert_ptr_nonnull(old);
    json_t *msg = json_pack("{s:s,s:i,s:s,s:s,s:i,s:I}", "jobId", "j", "attempt",
                            2, "status", "FAILED", "worker", "w1", "exitCode",
                            3, "timestamp", (json_int_t)42);
    void *buf;
    size_t len;
    ck_assert_int_eq(drv_codec_encode_with(codec, old, msg, &buf, &len, errstr,
                                           sizeof(errstr)),
                     0);
    const char *name;
    json_t *out = NULL;
    ck_assert_int_eq(drv_codec_decode(codec, buf, len, &name, &out, errstr,
                                      sizeof(errstr)),
                     DRV_OK);
    ck_assert_str_eq(name, "JobStatus");
    ck_assert(json_equal(msg, out));
    ck_assert_ptr_null(json_object_get(out, "logStreamName"));
    free(buf);
    json_decref(msg);
    json_decref(out);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("avro_codec");
    TCase *tc = tcase_create("canonical");
    tcase_add_test(tc, test_avro_codec_fingerprint_vectors);
    tcase_add_test(tc, test_avro_codec_canonical_namespaces);
    tcase_add_test(tc, test_avro_codec_canonical_matches_python);
    suite_add_tcase(s, tc);
    tc = tcase_create("codec");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_avro_codec_roundtrip);
    tcase_add_test(tc, test_avro_codec_encode_errors);
    tcase_add_test(tc, test_avro_codec_decode_bad_input);
    tcase_add_test(tc, test_avro_codec_decode_hostile_lengths);
    tcase_add_test(tc, test_avro_codec_resolves_older_writer);
    tcase_add_test(tc, test_avro_codec_decode_refuses_bad_strings);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return drv_test_run(suite());
}
