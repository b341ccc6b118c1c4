/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The worker's runtime interface: how one attempt is run - as a container
 * (the Docker Engine API), as a plain process (cgroup limits, no engine),
 * or hollow (every protocol step, no work; for benchmarks) - behind one
 * struct of function pointers, as curl's vtls back-ends are. The attempt
 * lifecycle (attempt.c) is written once over it and calls, from the
 * attempt's own thread unless said otherwise:
 *
 *   (the worker's policy: drv__policy_check) -> prepare
 *     -> (stop requested: end) -> start -> wait
 *     (timeout: stop, wait again) -> oom_killed -> collect
 *     -> the outcome is reported -> cleanup
 *
 * Layers: each uses only those below it, nothing calls upwards.
 *
 *   main.c -> loop.c -> admit.c, control.c -> attempt.c -> runtime.h
 *   attempt.c, runtime_container.c -> policy.c -> runtime.c
 *   runtime_container.c, runtime_process.c, runtime_hollow.c -> runtime.c
 *
 * loop.c holds the table of runtimes (name -> ops). A runtime file
 * includes this header and drover/ headers only: it never sees the worker
 * handle or the lifecycle's state. Everything it needs comes through
 * drv__rt_attempt_t: the job, the RunJob, the worker's conf, log and
 * names, and an atomic stop flag.
 *
 * Ownership: ops tables are static and const. A drv__rt_attempt_t is owned
 * by the lifecycle; `state` is the runtime's, made by prepare or start and
 * freed by cleanup. Threads: every op runs on the attempt's thread except
 * `stop` (any thread, also while `wait` runs), `reap` (main thread, at
 * the worker's start) and `release` (main thread, at its end).
 */
#ifndef DRV_WORKER_RUNTIME_H
#define DRV_WORKER_RUNTIME_H

#include <jansson.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "drover/conf.h"
#include "drover/err.h"
#include "drover/limits.h"
#include "drover/log.h"

/* The RunJob fields the lifecycle and the runtimes use, read once at
 * admission (admit.c). Immutable afterwards. */
typedef struct drv__job {
    char id[160];
    int attempt;
    double vcpus;
    int64_t memory_mib;
    int64_t timeout_s; /* timeoutSeconds; 0: none */
    char queue[256];
    bool is_array_child;
    int64_t array_index, array_size;
    int gpus;          /* whole GPUs it asked for */
    uint64_t gpu_mask; /* which of the worker's it holds (bit i: device i) */
    /* their ids, comma-separated, as NVIDIA_VISIBLE_DEVICES takes them */
    char gpu_devices[DRV_GPUS_MAX * (DRV_GPU_ID_MAX + 1)];
} drv__job_t;

/* The worker as runtimes see it; fixed from drv_wrk_new to destroy. */
typedef struct drv__rt_host {
    const drv_conf_t *conf; /* borrowed */
    drv_log_t *log;         /* borrowed; thread-safe */
    const char *worker_id;
    const char *ce; /* compute environment */
} drv__rt_host_t;

/* One attempt as its runtime sees it. */
typedef struct drv__rt_attempt {
    const drv__rt_host_t *host;
    const drv__job_t *job;
    json_t *run; /* the RunJob (borrowed, read only): image, command, ... */
    /* Set (never cleared) by the lifecycle before it calls `stop`, for a
     * stop request or the timeout: a runtime without `stop` watches it in
     * `wait`. @thread any */
    atomic_bool stop;
    /* drv__policy_check's answer, made by the lifecycle before prepare and
     * freed by it: for each of the RunJob's volumes, in order, its canonical
     * host path (a string) or null (an anonymous volume). Runtimes mount
     * these paths, never the RunJob's sourcePath. */
    json_t *host_paths;
    char cid[80];        /* containerId once known (prepare or start) */
    char log_stream[80]; /* logStreamName for RUNNING; "" for none */
    void *state;         /* the runtime's own */
} drv__rt_attempt_t;

typedef enum drv__rt_wait {
    DRV__RT_ERROR = -1,
    DRV__RT_EXITED = 0,
    DRV__RT_TIMEOUT = 1,
} drv__rt_wait_t;

/*
 * A runtime. Only `name`, `start` and `wait` are required; a NULL op does
 * nothing (and `oom_killed` NULL means never). Failing ops write the
 * attempt's `reason` in AWS's words (CannotStartContainerError: ...) to
 * errstr; the lifecycle reports it with DRV_REASON_START_FAILED.
 */
typedef struct drv__rt_ops {
    const char *name; /* worker.runtime */
    /* false: nothing is really started (hollow), so no start metrics */
    bool times_start;
    /* true: host volumes are mounted (and checked against
     * worker.allowed.host.paths); false: a job with one is refused, since
     * nothing could confine it to the path */
    bool mounts;
    /* End what an earlier process of this worker left (containers,
     * cgroups). @thread main, before the first attempt */
    void (*reap)(const drv__rt_host_t *host);
    /* Give back what the runtime keeps between attempts (cgroups, stacks).
     * @thread main, once every attempt has ended */
    void (*release)(const drv__rt_host_t *host);
    /* Make everything short of running: spec, secrets, container. */
    int (*prepare)(drv__rt_attempt_t *ra, char *errstr, size_t errstr_size);
    /* Start it and set ra->cid (and ra->log_stream). */
    int (*start)(drv__rt_attempt_t *ra, char *errstr, size_t errstr_size);
    /* Wait at most timeout_ms (<= 0: no limit) for the exit. DRV__RT_ERROR
     * with errstr when its state cannot be known. */
    drv__rt_wait_t (*wait)(drv__rt_attempt_t *ra, int64_t timeout_ms,
                           int *exit_code, char *errstr, size_t errstr_size);
    /* SIGTERM, then SIGKILL after worker.stop.grace.seconds. May block
     * until then. @thread any, concurrently with wait and with itself */
    void (*stop)(drv__rt_attempt_t *ra);
    /* After the exit: did the memory limit kill it? `stopped`: the
     * lifecycle stopped it (a SIGKILL may be ours). */
    bool (*oom_killed)(drv__rt_attempt_t *ra, int exit_code, bool stopped);
    /* After wait, whatever it said: keep the output (bounded) in the
     * attempt's log file and end what is left of the work. */
    void (*collect)(drv__rt_attempt_t *ra);
    /* After the outcome is reported, whenever prepare was called (also
     * when it failed): remove what was made, free ra->state. */
    void (*cleanup)(drv__rt_attempt_t *ra);
} drv__rt_ops_t;

extern const drv__rt_ops_t drv__rt_container; /* runtime_container.c */
extern const drv__rt_ops_t drv__rt_process;   /* runtime_process.c */
extern const drv__rt_ops_t drv__rt_hollow;    /* runtime_hollow.c */

/* ---- Helpers every runtime shares (runtime.c). @thread any ---- */

/* The one bound on kept output, and the marker that says it was hit. */
#define DRV__RT_LOG_MAX (1024 * 1024)

/* Copy `in` to `out` (always terminated) with every character outside
 * [A-Za-z0-9-] replaced by '_': container and cgroup names. Returns the
 * length written. */
size_t drv__rt_sanitize(char *out, size_t size, const char *in);

/* "<sanitised job id>-<attempt>": the attempt's name in names. */
void drv__rt_name(const drv__rt_attempt_t *ra, char *out, size_t size);

/* The job's environment plus the AWS_BATCH_* and DROVER_* variables, as
 * "NAME=value" strings (new reference). NVIDIA_VISIBLE_DEVICES is the
 * worker's: the attempt's GPUs, or "void" (none, whatever the image says);
 * the job's own value for it or for CUDA_VISIBLE_DEVICES is dropped. */
json_t *drv__rt_env(const drv__rt_attempt_t *ra);

/* Append the job's secrets (worker.secrets.dir, a file each) to env; -1
 * with the AWS reason in errstr when one cannot be read. Values are never
 * logged nor put in errstr. */
int drv__rt_secrets(const drv__rt_attempt_t *ra, json_t *env, char *errstr,
                    size_t errstr_size);

/* Open `rel` beneath directory `dir` (open(2) flags and mode) one
 * component at a time with O_NOFOLLOW: through no symlink, and no "." or
 * "..", so never outside `dir` (`dir` itself is the operator's and may be
 * a link). The fd, or -1 with errno (ELOOP or ENOTDIR for a symlink,
 * EXDEV for a "." or ".." component). */
int drv__rt_open_beneath(const char *dir, const char *rel, int flags,
                         mode_t mode);

/* The same beneath an open directory `dirfd` (borrowed; O_PATH will do).
 * With O_PATH in `flags` a final symlink is not refused but opened itself
 * (O_PATH | O_NOFOLLOW): the caller checks what it got with fstat. */
int drv__rt_openat_beneath(int dirfd, const char *rel, int flags,
                           mode_t mode);

/* Open worker.log.dir/<job>/<attempt>.log to write and read (made,
 * truncated), making the job's directory; -1 when there is no log directory or it
 * cannot be opened beneath it without a symlink. */
int drv__rt_log_open(const drv__rt_attempt_t *ra);

/* Write `len` bytes of output to the attempt's log file, with the
 * truncation marker when `truncated`; `stamped`: each line starts with
 * the engine's timestamp (drv__rt_rfc3339_ms), which goes to the times
 * file instead. */
void drv__rt_log_keep(const drv__rt_attempt_t *ra, const char *buf,
                      size_t len, bool truncated, bool stamped);

/* The same as output grows: the attempt's log (and times) opened once,
 * then each call given the whole output so far (which only grows) keeps
 * the complete lines past what it kept before; `final` keeps the rest,
 * and the marker when `truncated`. */
typedef struct drv__rt_keep {
    int fd, tfd;  /* the log, the times; -1: none */
    bool stamped; /* lines start with the engine's timestamps */
    size_t used;  /* bytes of the output kept (stamps included) */
    int64_t out;  /* bytes written to the log */
} drv__rt_keep_t;
void drv__rt_keep_open(drv__rt_keep_t *k, const drv__rt_attempt_t *ra,
                       bool stamped);
void drv__rt_keep_more(drv__rt_keep_t *k, const char *buf, size_t len,
                       bool final, bool truncated);
void drv__rt_keep_close(drv__rt_keep_t *k);

/* Cut the log file open as `fd` to DRV__RT_LOG_MAX bytes plus the marker. */
void drv__rt_log_bound(int fd);

/*
 * When each line of output was written, for the Logs API's event times:
 * worker.log.dir/<job>/<attempt>.times beside the log, a line "OFFSET MS"
 * for each line of the log, its first byte's offset and the time in epoch
 * milliseconds it was seen (the Logs API, producer/src/logs.c, reads it).
 */
typedef struct drv__rt_stamps {
    int logfd, fd; /* the log (read), the times (written); -1: none */
    int64_t seen;  /* bytes of the log stamped */
    bool line_start;
} drv__rt_stamps_t;
/* Open the times file of the attempt whose log is open as `logfd`. */
void drv__rt_stamps_open(drv__rt_stamps_t *st, const drv__rt_attempt_t *ra,
                         int logfd);
/* Stamp the lines written to the log since the last call with now_ms
 * (within DRV__RT_LOG_MAX). */
void drv__rt_stamps_take(drv__rt_stamps_t *st, int64_t now_ms);
/* The last stamps (the log bounded already: its marker's line too), and
 * close the times file. */
void drv__rt_stamps_close(drv__rt_stamps_t *st, int64_t now_ms);
/* Parse "YYYY-MM-DDTHH:MM:SS[.frac]Z " (the engine's timestamps=1 prefix)
 * at s (n bytes): its epoch milliseconds, and the prefix length in *used;
 * -1 when s does not start with one. */
int64_t drv__rt_rfc3339_ms(const char *s, size_t n, size_t *used);

/* worker.stop.grace.seconds. */
int drv__rt_grace_s(const drv__rt_host_t *host);

/* ---- The worker's own policy (policy.c). @thread any ---- */

/*
 * The RunJob against this host's policy, the operator's word: privileged
 * only with worker.allow.privileged; each host volume's sourcePath clean
 * (drv_path_is_clean), lexically under one of worker.allowed.host.paths,
 * and resolved beneath that root through no symlink and no "..": openat2
 * with RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS, or
 * drv__rt_openat_beneath where the kernel lacks it; it must exist and be a
 * directory or a regular file. `mounts` false: any host volume is refused.
 * Returns the canonical host path of each volume in order (null for an
 * anonymous one) as a new array, or NULL with the attempt's reason
 * (CannotStartContainerError: ..., naming the field and the key) in
 * errstr. Called before anything is made for the attempt.
 */
json_t *drv__policy_check(const drv__rt_host_t *host, json_t *run,
                          bool mounts, char *errstr, size_t errstr_size);

/* ---- The container runtime's spec builder, for its tests ---- */

/* The Docker container-create body for the attempt (new reference),
 * without its secrets; its binds are ra->host_paths' canonical paths. NULL
 * when a host volume has none there (the policy was not checked). */
json_t *drv__container_spec(const drv__rt_attempt_t *ra);

#endif
