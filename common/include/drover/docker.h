/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A client of the Docker Engine API over a unix socket (Docker, or Podman's
 * compatible service), with libcurl. The only module that includes
 * <curl/curl.h>. Call drv_docker_global_init() once from main first.
 *
 * Ownership: a handle is owned by its creator; returned JSON and buffers
 * are owned by the caller. Thread safety: one handle per thread (a handle
 * wraps one curl easy handle); several handles may run in parallel.
 */
#ifndef DRV_DOCKER_H
#define DRV_DOCKER_H

#include <jansson.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdint.h>

#include "drover/err.h"

typedef struct drv_docker drv_docker_t;

/** @brief curl_global_init; @thread main, before any thread starts. */
int drv_docker_global_init(void);
void drv_docker_global_cleanup(void);

drv_docker_t *drv_docker_new(const char *socket_path, const char *api_version);
void drv_docker_destroy(drv_docker_t *dk);

/** @brief GET /_ping. */
int drv_docker_ping(drv_docker_t *dk, char *errstr, size_t errstr_size);

/**
 * @brief POST /containers/create. A missing image gives DRV_ERR_NOTFOUND.
 * @param id_out receives the container id (at least 65 bytes).
 */
drv_err_t drv_docker_create(drv_docker_t *dk, const char *name, json_t *spec,
                            char *id_out, size_t id_size, char *errstr,
                            size_t errstr_size);

/** @brief POST /images/create?fromImage=...: pull an image. */
int drv_docker_pull(drv_docker_t *dk, const char *image, char *errstr,
                    size_t errstr_size);

int drv_docker_start(drv_docker_t *dk, const char *id, char *errstr,
                     size_t errstr_size);

/**
 * @brief POST /containers/{id}/wait, for at most timeout_ms (<=0: forever).
 * @returns 0 with *exit_code when it exited, 1 on timeout, -1 on error.
 */
int drv_docker_wait(drv_docker_t *dk, const char *id, int64_t timeout_ms,
                    int *exit_code, char *errstr, size_t errstr_size);

/** @brief POST /containers/{id}/stop?t=grace: SIGTERM, SIGKILL later. */
/** @brief Send a container's main process `signal` ("SIGTERM"); 0, or -1
 * with errstr (a container that is not running is not an error). */
int drv_docker_kill(drv_docker_t *dk, const char *id, const char *signal,
                    char *errstr, size_t errstr_size);

int drv_docker_stop(drv_docker_t *dk, const char *id, int grace_s,
                    char *errstr, size_t errstr_size);

/** @brief GET /containers/{id}/json. */
json_t *drv_docker_inspect(drv_docker_t *dk, const char *id, char *errstr,
                           size_t errstr_size);

/**
 * @brief GET /containers/{id}/logs (stdout and stderr, demultiplexed),
 * keeping at most `max` bytes; *truncated says whether more existed;
 * `timestamps`: each line starts with the time the engine read it
 * (RFC 3339, nanoseconds, then a space).
 */
char *drv_docker_logs(drv_docker_t *dk, const char *id, size_t max,
                      bool timestamps, size_t *len_out, int *truncated,
                      char *errstr, size_t errstr_size);

/** @brief DELETE /containers/{id}?force=1. */
/* Containers (running or not) carrying `label` ("key=value"): the
 * engine's JSON array, or NULL on error. */
json_t *drv_docker_list(drv_docker_t *dk, const char *label, char *errstr,
                        size_t errstr_size);

/* Copy a container's output to `out` as it is written, until the container
 * stops or *stop is set. Returns 0, or -1 with errstr. */
int drv_docker_follow_logs(drv_docker_t *dk, const char *id, FILE *out,
                           volatile sig_atomic_t *stop, char *errstr,
                           size_t errstr_size);

int drv_docker_remove(drv_docker_t *dk, const char *id, char *errstr,
                      size_t errstr_size);

#endif
