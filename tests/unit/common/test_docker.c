/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests for drover/docker.h against a fake Docker engine: a
 * libmicrohttpd server on a unix socket answering the calls the worker
 * makes, as the Docker Engine API documents them.
 */
#include <check.h>
#include <microhttpd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "drover/docker.h"
#include "check_main.h"

static struct MHD_Daemon *mhd;
static char sock_path[108];
static char errstr[DRV_ERRSTR_SIZE];
static char last_body[4096];
static int libpod_calls; /* requests to the Podman-only wait endpoint */

typedef struct {
    char *data;
    size_t len;
} upload_t;

static enum MHD_Result reply(struct MHD_Connection *c, unsigned status,
                             const void *body, size_t len)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(
        len, (void *)(uintptr_t)body, MHD_RESPMEM_MUST_COPY);
    enum MHD_Result ret = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return ret;
}

#define REPLY(c, s, str) reply(c, s, str, strlen(str))

static enum MHD_Result route(struct MHD_Connection *c, const char *method,
                             const char *url)
{
    if (!strcmp(url, "/v1.41/_ping")) {
        return REPLY(c, 200, "OK");
    }
    if (!strcmp(url, "/v1.41/containers/create")) {
        if (strstr(last_body, "\"missing:latest\"")) {
            return REPLY(c, 404, "{\"message\":\"no such image\"}");
        }
        return REPLY(c, 201, "{\"Id\":\"abc123\",\"Warnings\":[]}");
    }
    if (!strcmp(url, "/v1.41/images/create")) {
        return REPLY(c, 200, "{\"status\":\"Pulling\"}\n{\"error\":\"pull "
                             "access denied\"}\n");
    }
    if (!strcmp(url, "/v1.41/containers/abc123/start")) {
        return REPLY(c, 204, "");
    }
    if (!strncmp(url, "/v1.41/libpod/", 14)) {
        libpod_calls++;
    }
    /* Podman: its own wait answers the bare exit code */
    if (!strcmp(url, "/v1.41/libpod/containers/pod1/wait")) {
        return REPLY(c, 200, "7\n");
    }
    /* Docker: no libpod routes at all */
    if (!strncmp(url, "/v1.41/libpod/containers/dock", 29)) {
        return REPLY(c, 404, "{\"message\":\"page not found\"}");
    }
    if (!strcmp(url, "/v1.41/containers/dock1/wait") ||
        !strcmp(url, "/v1.41/containers/dock2/wait")) {
        return REPLY(c, 200, "{\"StatusCode\":5}");
    }
    if (!strcmp(url, "/v1.41/containers/abc123/wait")) {
        return REPLY(c, 200, "{\"StatusCode\":3}");
    }
    if (!strcmp(url, "/v1.41/containers/slow/wait")) {
        sleep(2);
        return REPLY(c, 200, "{\"StatusCode\":0}");
    }
    if (!strcmp(url, "/v1.41/containers/abc123/json")) {
        return REPLY(c, 200, "{\"State\":{\"ExitCode\":3,\"OOMKilled\":false}}");
    }
    if (!strcmp(url, "/v1.41/containers/abc123/logs")) {
        static const unsigned char frames[] = {
            1, 0, 0, 0, 0, 0, 0, 6, 'h', 'e', 'l', 'l', 'o', '\n',
            2, 0, 0, 0, 0, 0, 0, 4, 'e', 'r', 'r', '\n'};
        return reply(c, 200, frames, sizeof(frames));
    }
    if (!strcmp(url, "/v1.41/containers/abc123") && !strcmp(method, "DELETE")) {
        return REPLY(c, 204, "");
    }
    return REPLY(c, 404, "{\"message\":\"no such container\"}");
}

static enum MHD_Result handler(void *cls, struct MHD_Connection *c,
                               const char *url, const char *method,
                               const char *version, const char *data,
                               size_t *size, void **state)
{
    (void)cls;
    (void)version;
    upload_t *u = *state;
    if (!u) {
        *state = calloc(1, sizeof(upload_t));
        return MHD_YES;
    }
    if (*size) {
        u->data = realloc(u->data, u->len + *size + 1);
        memcpy(u->data + u->len, data, *size);
        u->len += *size;
        u->data[u->len] = '\0';
        *size = 0;
        return MHD_YES;
    }
    snprintf(last_body, sizeof(last_body), "%s", u->data ? u->data : "");
    return route(c, method, url);
}

static void completed(void *cls, struct MHD_Connection *c, void **state,
                      enum MHD_RequestTerminationCode code)
{
    (void)cls;
    (void)c;
    (void)code;
    upload_t *u = *state;
    if (u) {
        free(u->data);
        free(u);
    }
}

static void setup(void)
{
    snprintf(sock_path, sizeof(sock_path), "/tmp/drv-fake-docker-%d.sock",
             (int)getpid());
    unlink(sock_path);
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", sock_path);
    ck_assert_int_eq(bind(fd, (struct sockaddr *)&addr, sizeof(addr)), 0);
    ck_assert_int_eq(listen(fd, 16), 0);
    mhd = MHD_start_daemon(MHD_USE_THREAD_PER_CONNECTION |
                               MHD_USE_INTERNAL_POLLING_THREAD,
                           0, NULL, NULL, handler, NULL,
                           MHD_OPTION_LISTEN_SOCKET, fd,
                           MHD_OPTION_NOTIFY_COMPLETED, completed, NULL,
                           MHD_OPTION_END);
    ck_assert_ptr_nonnull(mhd);
    drv_docker_global_init();
}

static void teardown(void)
{
    MHD_stop_daemon(mhd);
    unlink(sock_path);
    drv_docker_global_cleanup();
}

START_TEST(test_docker_container_lifecycle)
{
    drv_docker_t *dk = drv_docker_new(sock_path, "v1.41");
    char id[80];
    ck_assert_msg(drv_docker_ping(dk, errstr, sizeof(errstr)) == 0, "%s",
                  errstr);
    json_t *spec = json_pack("{s:s,s:[s]}", "Image", "busybox", "Cmd", "true");
    ck_assert_int_eq(drv_docker_create(dk, "drover-x-1", spec, id, sizeof(id),
                                       errstr, sizeof(errstr)),
                     DRV_OK);
    ck_assert_str_eq(id, "abc123");
    ck_assert_msg(strstr(last_body, "\"Image\":\"busybox\""), "%s", last_body);
    ck_assert_int_eq(drv_docker_start(dk, id, errstr, sizeof(errstr)), 0);
    int code = -1;
    ck_assert_int_eq(drv_docker_wait(dk, id, 0, &code, errstr, sizeof(errstr)),
                     0);
    ck_assert_int_eq(code, 3);
    json_t *info = drv_docker_inspect(dk, id, errstr, sizeof(errstr));
    ck_assert_int_eq(json_integer_value(json_object_get(
                         json_object_get(info, "State"), "ExitCode")),
                     3);
    size_t len;
    int truncated;
    char *logs = drv_docker_logs(dk, id, 1024, false, &len, &truncated, errstr,
                                 sizeof(errstr));
    ck_assert_ptr_nonnull(logs);
    ck_assert_str_eq(logs, "hello\nerr\n");
    ck_assert_int_eq(truncated, 0);
    free(logs);
    logs = drv_docker_logs(dk, id, 4, false, &len, &truncated, errstr,
                           sizeof(errstr));
    ck_assert_int_eq(len, 4);
    ck_assert_int_eq(truncated, 1);
    free(logs);
    ck_assert_int_eq(drv_docker_remove(dk, id, errstr, sizeof(errstr)), 0);
    json_decref(info);
    json_decref(spec);
    drv_docker_destroy(dk);
}
END_TEST

START_TEST(test_docker_errors)
{
    drv_docker_t *dk = drv_docker_new(sock_path, "v1.41");
    char id[80];
    json_t *spec = json_pack("{s:s}", "Image", "missing:latest");
    ck_assert_int_eq(drv_docker_create(dk, "n", spec, id, sizeof(id), errstr,
                                       sizeof(errstr)),
                     DRV_ERR_NOTFOUND);
    ck_assert_msg(strstr(errstr, "HTTP 404: no such image"), "%s", errstr);
    ck_assert_int_eq(drv_docker_pull(dk, "missing:latest", errstr,
                                     sizeof(errstr)),
                     -1);
    ck_assert_int_eq(drv_docker_start(dk, "nope", errstr, sizeof(errstr)), -1);
    ck_assert_msg(strstr(errstr, "no such container"), "%s", errstr);
    int code;
    ck_assert_int_eq(drv_docker_wait(dk, "slow", 300, &code, errstr,
                                     sizeof(errstr)),
                     1);
    json_decref(spec);
    drv_docker_destroy(dk);

    dk = drv_docker_new("/nonexistent/docker.sock", "v1.41");
    ck_assert_int_eq(drv_docker_ping(dk, errstr, sizeof(errstr)), -1);
    ck_assert_msg(strstr(errstr, "/nonexistent/docker.sock"), "%s", errstr);
    drv_docker_destroy(dk);
}
END_TEST

/* Podman's own wait is used when the engine has it (the compatible one
 * notices an exit late); an engine without it is asked once. */
START_TEST(test_docker_wait_engines)
{
    drv_docker_t *dk = drv_docker_new(sock_path, "v1.41");
    int code = -1;
    libpod_calls = 0;
    ck_assert_int_eq(drv_docker_wait(dk, "pod1", 0, &code, errstr,
                                     sizeof(errstr)),
                     0);
    ck_assert_int_eq(code, 7);
    ck_assert_int_eq(libpod_calls, 1);
    drv_docker_destroy(dk);

    dk = drv_docker_new(sock_path, "v1.41");
    libpod_calls = 0;
    code = -1;
    ck_assert_int_eq(drv_docker_wait(dk, "dock1", 0, &code, errstr,
                                     sizeof(errstr)),
                     0);
    ck_assert_int_eq(code, 5);
    code = -1;
    ck_assert_int_eq(drv_docker_wait(dk, "dock2", 0, &code, errstr,
                                     sizeof(errstr)),
                     0);
    ck_assert_int_eq(code, 5);
    ck_assert_int_eq(libpod_calls, 1); /* not asked again */
    drv_docker_destroy(dk);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("docker");
    TCase *tc = tcase_create("fake_engine");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_docker_container_lifecycle);
    tcase_add_test(tc, test_docker_errors);
    tcase_add_test(tc, test_docker_wait_engines);
    suite_add_tcase(s, tc);
    return drv_test_run(s);
}
