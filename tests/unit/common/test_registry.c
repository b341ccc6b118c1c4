/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests for the Confluent wire format with a schema registry: a fake
 * registry (libmicrohttpd, the two REST calls Drover makes) stands in for
 * Confluent Schema Registry / Apicurio ccompat / Karapace.
 */
#include <check.h>
#include <microhttpd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "drover/avro_codec.h"
#include "drover/schemas.h"
#include "check_main.h"

static struct MHD_Daemon *mhd;
static json_t *schemas;  /* "id" -> schema text */
static int registrations; /* POSTs seen */
static char last_subject[256];
static char url[64];
static char errstr[DRV_ERRSTR_SIZE];

typedef struct upload {
    char data[65536];
    size_t len;
} upload_t;

static enum MHD_Result answer(struct MHD_Connection *c, unsigned code,
                              json_t *body)
{
    char *text = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    struct MHD_Response *r = MHD_create_response_from_buffer(
        strlen(text), text, MHD_RESPMEM_MUST_FREE);
    MHD_add_response_header(r, "Content-Type",
                            "application/vnd.schemaregistry.v1+json");
    enum MHD_Result ret = MHD_queue_response(c, code, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c,
                              const char *path, const char *method,
                              const char *version, const char *data,
                              size_t *size, void **state)
{
    (void)cls, (void)version;
    if (!strcmp(method, "POST")) {
        if (!*state) {
            *state = calloc(1, sizeof(upload_t));
            return MHD_YES;
        }
        upload_t *u = *state;
        if (*size) {
            memcpy(u->data + u->len, data, *size);
            u->len += *size;
            *size = 0;
            return MHD_YES;
        }
        json_t *req = json_loadb(u->data, u->len, 0, NULL);
        free(u);
        *state = NULL;
        const char *text = json_string_value(json_object_get(req, "schema"));
        sscanf(path, "/subjects/%255[^/]/versions", last_subject);
        registrations++;
        const char *key;
        json_t *v;
        int id = 0;
        json_object_foreach(schemas, key, v)
        {
            if (text && !strcmp(json_string_value(v), text)) {
                id = atoi(key);
            }
        }
        if (!id && text) {
            char k[16];
            id = 100 + (int)json_object_size(schemas);
            snprintf(k, sizeof(k), "%d", id);
            json_object_set_new(schemas, k, json_string(text));
        }
        json_decref(req);
        return answer(c, text ? 200 : 422,
                      text ? json_pack("{s:i}", "id", id)
                           : json_pack("{s:i,s:s}", "error_code", 42201,
                                       "message", "Invalid schema"));
    }
    int id;
    if (sscanf(path, "/schemas/ids/%d", &id) == 1) {
        char k[16];
        snprintf(k, sizeof(k), "%d", id);
        json_t *s = json_object_get(schemas, k);
        if (s) {
            return answer(c, 200, json_pack("{s:O}", "schema", s));
        }
        return answer(c, 404, json_pack("{s:i,s:s}", "error_code", 40403,
                                         "message", "Schema not found"));
    }
    return answer(c, 404, json_pack("{s:s}", "message", "no such path"));
}

static void setup(void)
{
    schemas = json_object();
    registrations = 0;
    for (int i = 0; i < 20 && !mhd; i++) {
        int port = 20000 + (getpid() * 13 + i * 97) % 30000;
        mhd = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD,
                               (uint16_t)port, NULL, NULL, handle, NULL,
                               MHD_OPTION_END);
        snprintf(url, sizeof(url), "http://127.0.0.1:%d/", port);
    }
    ck_assert_ptr_nonnull(mhd);
}

static void teardown(void)
{
    MHD_stop_daemon(mhd);
    mhd = NULL;
    json_decref(schemas);
}

static json_t *sample_status(void)
{
    return json_pack("{s:s,s:i,s:s,s:s,s:n,s:i,s:n,s:s,s:n,s:I,s:I}", "jobId",
                     "job-1", "attempt", 2, "status", "FAILED", "worker",
                     "w-1", "containerId", "exitCode", 3, "reason",
                     "statusReason", "Essential container in task exited",
                     "logStreamName", "timestamp", (json_int_t)1700000000000,
                     "workerStartedAt", (json_int_t)17);
}

START_TEST(test_registry_roundtrip)
{
    drv_codec_t *w = drv_codec_new(errstr, sizeof(errstr));
    drv_codec_t *r = drv_codec_new(errstr, sizeof(errstr));
    drv_codec_use_registry(w, url, NULL);
    drv_codec_use_registry(r, url, "user:pw");
    json_t *in = sample_status();
    void *buf;
    size_t len;
    for (int i = 0; i < 2; i++) {
        ck_assert_msg(drv_codec_encode(w, "JobStatus", in, &buf, &len, errstr,
                                       sizeof(errstr)) == 0,
                      "%s", errstr);
        unsigned char *p = buf;
        ck_assert_int_eq(p[0], 0); /* magic byte, then the id */
        ck_assert_int_eq(p[1] << 24 | p[2] << 16 | p[3] << 8 | p[4], 100);
        if (i == 0) {
            free(buf);
        }
    }
    ck_assert_int_eq(registrations, 1); /* the id is cached */
    ck_assert_str_eq(last_subject, "io.drover.JobStatus");
    const char *type;
    json_t *out = NULL;
    ck_assert_msg(drv_codec_decode(r, buf, len, &type, &out, errstr,
                                   sizeof(errstr)) == DRV_OK,
                  "%s", errstr);
    ck_assert_str_eq(type, "JobStatus");
    /* nulls decode as absent members; everything else as written */
    const char *key;
    json_t *v;
    json_object_foreach(in, key, v)
    {
        ck_assert_msg(json_is_null(v) ? !json_object_get(out, key)
                                      : json_equal(v, json_object_get(out, key)),
                      "member %s differs", key);
    }
    json_decref(out);
    free(buf);
    json_decref(in);
    drv_codec_destroy(w);
    drv_codec_destroy(r);
}
END_TEST

/* A message written with an older schema version (JobStatus v1: fields
 * fewer) and registered under its own id is read by the current reader. */
START_TEST(test_registry_older_writer)
{
    const char *v1 = NULL;
    for (const drv_schema_file_t *f = drv_schema_files; f->path; f++) {
        if (strstr(f->path, "history/JobStatus.v1")) {
            v1 = f->text;
        }
    }
    ck_assert_ptr_nonnull(v1);
    json_object_set_new(schemas, "42", json_string(v1));
    drv_codec_t *c = drv_codec_new(errstr, sizeof(errstr));
    drv_codec_use_registry(c, url, NULL);
    json_t *old = json_pack("{s:s,s:i,s:s,s:s,s:n,s:n,s:n,s:n,s:I}", "jobId",
                            "job-2", "attempt", 1, "status", "RUNNING",
                            "worker", "w-old", "containerId", "exitCode",
                            "reason", "statusReason", "timestamp",
                            (json_int_t)5);
    void *single;
    size_t slen;
    ck_assert_msg(drv_codec_encode_with(c, v1, old, &single, &slen, errstr,
                                        sizeof(errstr)) == 0,
                  "%s", errstr);
    /* reframe: Confluent header with id 42, the same Avro body */
    unsigned char *msg = malloc(slen - 10 + 5);
    msg[0] = 0;
    msg[1] = msg[2] = msg[3] = 0;
    msg[4] = 42;
    memcpy(msg + 5, (unsigned char *)single + 10, slen - 10);
    const char *type;
    json_t *out = NULL;
    ck_assert_msg(drv_codec_decode(c, msg, slen - 5, &type, &out, errstr,
                                   sizeof(errstr)) == DRV_OK,
                  "%s", errstr);
    ck_assert_str_eq(json_string_value(json_object_get(out, "worker")),
                     "w-old");
    ck_assert_ptr_null(json_object_get(out, "logStreamName")); /* default */
    ck_assert_int_eq(json_integer_value(json_object_get(out,
                                                        "workerStartedAt")),
                     0);
    json_decref(out);
    free(msg);
    free(single);
    json_decref(old);
    drv_codec_destroy(c);
}
END_TEST

START_TEST(test_registry_errors)
{
    unsigned char msg[] = {0, 0, 0, 0, 99, 2, 'x'};
    const char *type;
    json_t *out = NULL;
    drv_codec_t *plain = drv_codec_new(errstr, sizeof(errstr));
    ck_assert_int_eq(drv_codec_decode(plain, msg, sizeof(msg), &type, &out,
                                      errstr, sizeof(errstr)),
                     DRV_ERR_INVALID);
    ck_assert_msg(strstr(errstr, "no schema.registry.url"), "%s", errstr);
    drv_codec_t *c = drv_codec_new(errstr, sizeof(errstr));
    drv_codec_use_registry(c, url, NULL);
    ck_assert_int_eq(drv_codec_decode(c, msg, sizeof(msg), &type, &out,
                                      errstr, sizeof(errstr)),
                     DRV_ERR_INVALID);
    ck_assert_msg(strstr(errstr, "schema id 99") &&
                      strstr(errstr, "Schema not found"),
                  "%s", errstr);
    ck_assert_ptr_null(out);
    /* a schema the registry has but Drover has no current version of */
    json_object_set_new(schemas, "7",
                        json_string("{\"type\":\"record\",\"name\":\"Other\","
                                    "\"fields\":[]}"));
    msg[4] = 7;
    ck_assert_int_eq(drv_codec_decode(c, msg, sizeof(msg), &type, &out,
                                      errstr, sizeof(errstr)),
                     DRV_ERR_INVALID);
    ck_assert_msg(strstr(errstr, "no current version"), "%s", errstr);
    drv_codec_destroy(c);
    drv_codec_destroy(plain);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("registry");
    TCase *tc = tcase_create("registry");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_registry_roundtrip);
    tcase_add_test(tc, test_registry_older_writer);
    tcase_add_test(tc, test_registry_errors);
    suite_add_tcase(s, tc);
    return drv_test_run(s);
}
