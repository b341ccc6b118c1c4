/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The `process` provisioner (provision.h): each worker a drover-worker
 * process on this host, in a session of its own (it outlives the
 * dispatcher that started it; the next provisioner finds it by its
 * handle), its output appended to <provisioner.dir>/<id>.log and its pid
 * in <id>.pid. The handle is "pid:start time" (/proc/<pid>/stat, in clock
 * ticks since boot), so a reused pid is never taken for the worker.
 */
#define _GNU_SOURCE /* close_range */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "drover/err.h"
#include "drover/util.h"
#include "provision.h"

/* Field 22 of /proc/<pid>/stat: when the process started; 0 if it does
 * not exist. */
static unsigned long long start_time(pid_t pid)
{
    char path[64], buf[1024];
    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    FILE *fp = fopen(path, "re");
    if (!fp) {
        return 0;
    }
    size_t n = fread(buf, 1, sizeof(buf) - 1, fp);
    fclose(fp);
    buf[n] = '\0';
    char *p = strrchr(buf, ')'); /* the command may hold spaces */
    if (!p) {
        return 0;
    }
    unsigned long long t = 0;
    /* after ")": state (3) ... starttime (22) */
    for (int field = 2; p && field < 22; field++) {
        p = strchr(p + 1, ' ');
    }
    if (p && sscanf(p + 1, "%llu", &t) != 1) {
        t = 0;
    }
    return t;
}

static bool parse_handle(const char *h, pid_t *pid, unsigned long long *t)
{
    long long p;
    return h && sscanf(h, "%lld:%llu", &p, t) == 2 && p > 1 &&
           p < INT_MAX && ((*pid = (pid_t)p), true);
}

/* The drover-worker to run: provisioner.process.command, else the one
 * beside this executable. */
static void command(const drv_conf_t *conf, char *out, size_t size)
{
    const char *c = drv_conf_get(conf, "provisioner.process.command");
    if (c && *c) {
        snprintf(out, size, "%s", c);
        return;
    }
    char self[PATH_MAX - 32];
    ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
    self[n > 0 ? n : 0] = '\0';
    char *slash = strrchr(self, '/');
    if (slash) {
        *slash = '\0';
    }
    snprintf(out, size, "%s/drover-worker", n > 0 ? self : ".");
}

static int p_start(drv__prov_ctx_t *ctx, const drv__pworker_t *w,
                   const char *conf, char *handle, size_t handle_size,
                   char *errstr, size_t errstr_size)
{
    char cmd[PATH_MAX], log[PATH_MAX], pidf[PATH_MAX];
    command(ctx->conf, cmd, sizeof(cmd));
    if (access(cmd, X_OK) != 0) {
        drv_errstr_set(errstr, errstr_size, "cannot run %s: %s", cmd,
                       strerror(errno));
        return -1;
    }
    snprintf(log, sizeof(log), "%s/%s.log", ctx->dir, w->id);
    snprintf(pidf, sizeof(pidf), "%s/%s.pid", ctx->dir, w->id);
    int logfd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    int nullfd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (logfd < 0 || nullfd < 0) {
        drv_errstr_set(errstr, errstr_size, "cannot open %s: %s", log,
                       strerror(errno));
        if (logfd >= 0) {
            close(logfd);
        }
        if (nullfd >= 0) {
            close(nullfd);
        }
        return -1;
    }
    char opt[] = "--config", cpath[PATH_MAX];
    snprintf(cpath, sizeof(cpath), "%s", conf);
    char *const argv[] = {cmd, opt, cpath, NULL};
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    pid_t pid = fork();
    if (pid == 0) {
        /* only async-signal-safe calls until exec */
        drv_child_default_signals();
        setsid();
        dup2(nullfd, 0);
        dup2(logfd, 1);
        dup2(logfd, 2);
        close_range(3, ~0U, 0);
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        execv(cmd, argv);
        static const char msg[] = "drover provisioner: exec failed\n";
        (void)!write(2, msg, sizeof(msg) - 1);
        _exit(127);
    }
    int err = errno;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    close(logfd);
    close(nullfd);
    if (pid < 0) {
        drv_errstr_set(errstr, errstr_size, "fork: %s", strerror(err));
        return -1;
    }
    unsigned long long t = start_time(pid);
    snprintf(handle, handle_size, "%d:%llu", (int)pid, t);
    FILE *fp = fopen(pidf, "we");
    if (fp) {
        fprintf(fp, "%d\n", (int)pid);
        fclose(fp);
    }
    return 0;
}

static int p_alive(drv__prov_ctx_t *ctx, const drv__pworker_t *w, char *why,
                   size_t why_size)
{
    (void)ctx;
    pid_t pid;
    unsigned long long t;
    if (!parse_handle(w->handle, &pid, &t)) {
        snprintf(why, why_size, "no process recorded");
        return 0;
    }
    int st;
    pid_t r = waitpid(pid, &st, WNOHANG);
    if (r == pid) { /* a child of this dispatcher */
        if (WIFEXITED(st)) {
            snprintf(why, why_size, "exited with status %d", WEXITSTATUS(st));
        } else if (WIFSIGNALED(st)) {
            snprintf(why, why_size, "killed by signal %d", WTERMSIG(st));
        } else {
            snprintf(why, why_size, "ended");
        }
        return 0;
    }
    if (r == 0) {
        return 1;
    }
    /* another dispatcher's child: the same process while its start time
     * is (a zombie of no one's is reaped by init) */
    if (start_time(pid) != t || t == 0) {
        snprintf(why, why_size, "process %d is no longer running", (int)pid);
        return 0;
    }
    return 1;
}

static void p_stop(drv__prov_ctx_t *ctx, const drv__pworker_t *w, bool kill_it)
{
    (void)ctx;
    pid_t pid;
    unsigned long long t;
    if (parse_handle(w->handle, &pid, &t) && start_time(pid) == t) {
        kill(pid, kill_it ? SIGKILL : SIGTERM);
    }
}

const drv__prov_ops_t drv__prov_process = {"process", "", p_start, p_alive,
                                           p_stop, NULL, NULL};
