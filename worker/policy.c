/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The worker's own policy (see runtime.h): what a job may have on this
 * host is the host operator's word (worker.allow.privileged,
 * worker.allowed.host.paths), checked against every RunJob before anything
 * is made for its attempt, whatever the dispatcher checked at submission
 * (a queue may since point at another compute environment, and the
 * submission check is lexical). Host paths are resolved here, beneath the
 * allowed root, through no symlink; the runtime is given the canonical
 * path, never the job's spelling.
 *
 * What is left open (README, "Security"): the engine resolves the
 * canonical path again when it mounts it. A job, or anyone, with write
 * access below an allowed root can replace a directory of the path by a
 * symlink between this check and the mount: the container runtime checks
 * once more right before it starts the container, which narrows that
 * window to the engine's own start, and does not close it.
 */
#define _GNU_SOURCE /* O_PATH, syscall */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "drover/util.h"
#include "runtime.h"

#define REFUSED "CannotStartContainerError: "

/* Open `rest` (relative, clean) beneath `rootfd` as O_PATH through no
 * symlink and without leaving it: openat2 where the kernel has it (Linux
 * 5.6), else one component at a time with O_NOFOLLOW. */
static int open_beneath(int rootfd, const char *rest)
{
    struct open_how how = {
        .flags = O_PATH | O_CLOEXEC,
        .resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS |
                   RESOLVE_NO_MAGICLINKS,
    };
    long fd = syscall(SYS_openat2, rootfd, rest, &how, sizeof(how));
    if (fd >= 0 || (errno != ENOSYS && errno != EPERM)) {
        return (int)fd;
    }
    /* ENOSYS: an older kernel; EPERM: a seccomp filter that hides it (O_PATH
     * checks no permission, so EPERM means the call was not made) */
    return drv__rt_openat_beneath(rootfd, rest, O_PATH, 0);
}

static const char *why_not(int err)
{
    switch (err) {
    case ELOOP:
        return "passes through a symlink";
    case ENOTDIR:
        return "passes through a symlink or a file that is not a directory";
    case EXDEV:
        return "leaves its allowed root";
    case ENOENT:
        return "does not exist (a missing bind source is not made)";
    default:
        return strerror(err);
    }
}

/* Resolve clean `path`, lexically under `root`, beneath it: 0 with the
 * canonical path in `out`, or -1 with the reason in `why` (static or in
 * `buf`). */
static int resolve(const char *root, const char *path, char *out,
                   size_t out_size, const char **why)
{
    size_t n = strlen(root);
    while (n > 1 && root[n - 1] == '/') {
        n--;
    }
    const char *rest = path + (n == 1 ? 1 : n);
    rest += *rest == '/';
    int rootfd = -1, fd = -1, ret = -1;
    char real[PATH_MAX];
    struct stat st;
    /* the root is the operator's and may itself be a link */
    if ((rootfd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC)) < 0 ||
        !realpath(root, real)) {
        *why = errno == ENOENT ? "has an allowed root that does not exist"
                               : "has an allowed root that cannot be opened";
        goto out;
    }
    fd = *rest ? open_beneath(rootfd, rest) : fcntl(rootfd, F_DUPFD_CLOEXEC, 0);
    if (fd < 0) {
        *why = why_not(errno);
        goto out;
    }
    if (fstat(fd, &st) != 0) {
        *why = why_not(errno);
        goto out;
    }
    if (S_ISLNK(st.st_mode)) { /* the walk's O_PATH | O_NOFOLLOW */
        *why = why_not(ELOOP);
        goto out;
    }
    if (!S_ISDIR(st.st_mode) && !S_ISREG(st.st_mode)) {
        *why = "is neither a directory nor a regular file";
        goto out;
    }
    bool at_top = !strcmp(real, "/");
    if (snprintf(out, out_size, "%s%s%s", at_top ? "" : real,
                 *rest || at_top ? "/" : "", rest) >= (int)out_size) {
        *why = why_not(ENAMETOOLONG);
        goto out;
    }
    if (strchr(out, ':')) {
        *why = "holds a ':', which a Docker bind cannot carry";
        goto out;
    }
    ret = 0;
out:
    if (fd >= 0) {
        close(fd);
    }
    if (rootfd >= 0) {
        close(rootfd);
    }
    return ret;
}

/* One host volume's canonical path beneath one of worker.allowed.host.paths
 * (a new string), or NULL with the reason. */
static json_t *host_path(const drv_conf_t *conf, size_t i, const char *src,
                         char *errstr, size_t errstr_size)
{
    if (!drv_path_is_clean(src)) {
        drv_errstr_set(errstr, errstr_size,
                       REFUSED "containerProperties.volumes[%zu].host."
                               "sourcePath is not an absolute path without "
                               "\".\", \"..\" or empty components",
                       i);
        return NULL;
    }
    const char *list = drv_conf_get(conf, "worker.allowed.host.paths");
    char *roots = drv_strdup(list ? list : "");
    char canon[PATH_MAX + 8];
    const char *why = NULL, *why_root = NULL;
    json_t *found = NULL;
    for (char *sv, *r = strtok_r(roots, ", ", &sv); r && !found;
         r = strtok_r(NULL, ", ", &sv)) {
        const char *w = NULL;
        if (!drv_path_under(src, r)) {
            continue;
        }
        if (resolve(r, src, canon, sizeof(canon), &w) == 0) {
            found = json_string(canon);
        } else if (!why) { /* the first root it is under says why */
            why = w;
            why_root = r;
        }
    }
    if (!found && !why) {
        drv_errstr_set(errstr, errstr_size,
                       REFUSED "host path %s (containerProperties.volumes"
                               "[%zu].host.sourcePath) is not under "
                               "worker.allowed.host.paths",
                       src, i);
    } else if (!found) {
        drv_errstr_set(errstr, errstr_size,
                       REFUSED "host path %s (containerProperties.volumes"
                               "[%zu].host.sourcePath) %s below %s "
                               "(worker.allowed.host.paths)",
                       src, i, why, why_root);
    }
    free(roots);
    return found;
}

json_t *drv__policy_check(const drv__rt_host_t *host, json_t *run,
                          bool mounts, char *errstr, size_t errstr_size)
{
    if (json_is_true(json_object_get(run, "privileged")) &&
        !drv_conf_get_bool(host->conf, "worker.allow.privileged")) {
        drv_errstr_set(errstr, errstr_size,
                       REFUSED "privileged containers are not allowed on "
                               "this host (worker.allow.privileged)");
        return NULL;
    }
    json_t *paths = json_array(), *v;
    size_t i;
    json_array_foreach(json_object_get(run, "volumes"), i, v)
    {
        json_t *src = json_object_get(json_object_get(v, "host"),
                                      "sourcePath");
        if (!src || json_is_null(src)) {
            json_array_append_new(paths, json_null()); /* anonymous */
            continue;
        }
        json_t *canon = NULL;
        if (!mounts) {
            drv_errstr_set(errstr, errstr_size,
                           REFUSED "containerProperties.volumes[%zu] is a "
                                   "host path, and this worker's runtime "
                                   "mounts nothing (worker.runtime)",
                           i);
        } else {
            canon = host_path(host->conf, i, json_string_value(src), errstr,
                              errstr_size);
        }
        if (!canon) {
            json_decref(paths);
            return NULL;
        }
        json_array_append_new(paths, canon);
    }
    return paths;
}
