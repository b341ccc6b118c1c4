/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The process runtime: an attempt's command runs as a plain child process
 * of the worker, with no image, in a cgroup of its own that carries the
 * job's memory and CPU limits (cgroup v2, or v1's memory and cpu
 * controllers), under the worker's own cgroup. Its output goes to the
 * attempt's log file, its working directory is a scratch directory removed
 * afterwards. No isolation beyond that: the process runs as the worker's
 * user, with no mounts, user or capability settings applied - for trusted
 * work on hosts without a container engine, and for benchmarks.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "drover/job.h"
#include "drover/util.h"
#include "worker_int.h"

#define LOG_MAX (1024 * 1024)

/* A controller's directory for this attempt; "" when not available. */
typedef struct cg {
    char mem[1024]; /* v2: the one directory; v1: memory controller */
    char cpu[1024]; /* v1 only */
    bool v2;
} cg_t;

/* Where the worker's own cgroup of `controller` ("" for v2) is mounted. */
static bool own_cgroup(const char *controller, char *out, size_t size)
{
    FILE *fp = fopen("/proc/self/cgroup", "r");
    char line[1024];
    bool found = false;
    while (fp && !found && fgets(line, sizeof(line), fp)) {
        line[strcspn(line, "\n")] = '\0';
        char *c1 = strchr(line, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
        if (!c2) {
            continue;
        }
        *c2 = '\0';
        char *ctrls = c1 + 1;
        const char *path = c2 + 1;
        bool match = !*controller ? !strcmp(line, "0") && !*ctrls : false;
        for (char *sv, *t = *controller ? strtok_r(ctrls, ",", &sv)
                                        : NULL;
             t && !match; t = strtok_r(NULL, ",", &sv)) {
            match = !strcmp(t, controller);
        }
        if (match) {
            snprintf(out, size, "/sys/fs/cgroup%s%s%s",
                     *controller ? "/" : "", controller,
                     strcmp(path, "/") ? path : "");
            found = true;
        }
    }
    if (fp) {
        fclose(fp);
    }
    return found;
}

static int write_file(const char *dir, const char *name, const char *value)
{
    char path[1200];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0) {
        return -1;
    }
    ssize_t n = write(fd, value, strlen(value));
    close(fd);
    return n == (ssize_t)strlen(value) ? 0 : -1;
}

static long read_key(const char *dir, const char *name, const char *key)
{
    char path[1200], line[256];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *fp = fopen(path, "r");
    long v = 0;
    size_t kl = strlen(key);
    while (fp && fgets(line, sizeof(line), fp)) {
        if (!strncmp(line, key, kl) && line[kl] == ' ') {
            v = atol(line + kl + 1);
        }
    }
    if (fp) {
        fclose(fp);
    }
    return v;
}

/* Make the attempt's cgroup with its limits; on failure the process runs
 * without limits and the log says why. */
static void cg_make(drv__attempt_t *a, const char *name, cg_t *cg)
{
    char base[600], v[64];
    memset(cg, 0, sizeof(*cg));
    struct stat st;
    cg->v2 = stat("/sys/fs/cgroup/cgroup.controllers", &st) == 0;
    if (cg->v2) {
        if (own_cgroup("", base, sizeof(base))) {
            snprintf(cg->mem, sizeof(cg->mem), "%s/%s", base, name);
        }
    } else {
        if (own_cgroup("memory", base, sizeof(base))) {
            snprintf(cg->mem, sizeof(cg->mem), "%s/%s", base, name);
        }
        if (own_cgroup("cpu", base, sizeof(base))) {
            snprintf(cg->cpu, sizeof(cg->cpu), "%s/%s", base, name);
        }
    }
    long long mem = (long long)a->memory_mib * 1024 * 1024;
    long quota = (long)(a->vcpus * 100000);
    bool ok = cg->mem[0] && mkdir(cg->mem, 0755) == 0;
    if (ok && cg->v2) {
        snprintf(v, sizeof(v), "%lld", mem);
        ok = write_file(cg->mem, "memory.max", v) == 0;
        write_file(cg->mem, "memory.swap.max", "0");
        snprintf(v, sizeof(v), "%ld 100000", quota);
        ok = ok && write_file(cg->mem, "cpu.max", v) == 0;
    } else if (ok) {
        snprintf(v, sizeof(v), "%lld", mem);
        ok = write_file(cg->mem, "memory.limit_in_bytes", v) == 0;
        ok = ok && cg->cpu[0] && mkdir(cg->cpu, 0755) == 0;
        snprintf(v, sizeof(v), "%ld", quota);
        ok = ok && write_file(cg->cpu, "cpu.cfs_period_us", "100000") == 0 &&
             write_file(cg->cpu, "cpu.cfs_quota_us", v) == 0;
    }
    if (!ok) {
        json_t *f = drv_log_job(a->job_id);
        drv_log(a->wrk->log, DRV_LOG_WARN, "worker.no_cgroup", f,
                "could not make cgroup %s (%s): the process runs without "
                "memory and CPU limits",
                cg->mem[0] ? cg->mem : "(none found)", strerror(errno));
        json_decref(f);
    }
}

/* Kill whatever is left in a cgroup directory and remove it. */
static void cg_remove(const char *dir)
{
    if (!dir[0]) {
        return;
    }
    for (int i = 0; i < 50; i++) {
        if (rmdir(dir) == 0 || errno == ENOENT) {
            return;
        }
        char path[1200];
        snprintf(path, sizeof(path), "%s/cgroup.procs", dir);
        FILE *fp = fopen(path, "r");
        for (int pid; fp && fscanf(fp, "%d", &pid) == 1;) {
            kill(pid, SIGKILL);
        }
        if (fp) {
            fclose(fp);
        }
        usleep(20 * 1000);
    }
}

/* Attempt cgroups are named for their worker id: a restarted worker finds
 * what its previous process left. */
static void cg_prefix(drv_wrk_t *wrk, char *out, size_t size)
{
    size_t n = (size_t)snprintf(out, size, "drover-");
    for (const char *p = wrk->id; *p && n + 3 < size; p++) {
        out[n++] = (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
                           (*p >= 'A' && *p <= 'Z') || *p == '-'
                       ? *p
                       : '_';
    }
    out[n++] = '.';
    out[n] = '\0';
}

void drv__process_reap(drv_wrk_t *wrk)
{
    char prefix[200], base[600], dir[1024];
    cg_prefix(wrk, prefix, sizeof(prefix));
    struct stat st;
    bool v2 = stat("/sys/fs/cgroup/cgroup.controllers", &st) == 0;
    const char *ctrls[] = {v2 ? "" : "memory", v2 ? NULL : "cpu"};
    int reaped = 0;
    for (int c = 0; c < 2 && ctrls[c]; c++) {
        if (!own_cgroup(ctrls[c], base, sizeof(base))) {
            continue;
        }
        DIR *d = opendir(base);
        for (struct dirent *de; d && (de = readdir(d));) {
            if (!strncmp(de->d_name, prefix, strlen(prefix))) {
                snprintf(dir, sizeof(dir), "%s/%s", base, de->d_name);
                cg_remove(dir);
                reaped++;
            }
        }
        if (d) {
            closedir(d);
        }
    }
    if (reaped) {
        json_t *f = json_pack("{s:s}", "worker", wrk->id);
        drv_log(wrk->log, DRV_LOG_INFO, "worker.orphans_removed", f,
                "killed the processes of %d attempt cgroup(s) a previous "
                "process of this worker left",
                reaped);
        json_decref(f);
    }
}

static int rm_entry(const char *path, const struct stat *sb, int flag,
                    struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    remove(path);
    return 0;
}

/* Bound the kept output as the container runtime does. */
static void bound_log(const char *path)
{
    struct stat st;
    if (stat(path, &st) == 0 && st.st_size > LOG_MAX &&
        truncate(path, LOG_MAX) == 0) {
        FILE *fp = fopen(path, "a");
        if (fp) {
            fprintf(fp, "\n[drover: output truncated at %d bytes]\n", LOG_MAX);
            fclose(fp);
        }
    }
}

/* argv/envp: NULL-ended copies of the strings in `arr`. */
static char **str_vector(json_t *arr)
{
    char **v = drv_calloc(json_array_size(arr) + 1, sizeof(*v));
    size_t i;
    json_t *s;
    json_array_foreach(arr, i, s)
    {
        v[i] = drv_strdup(json_string_value(s) ? json_string_value(s) : "");
    }
    return v;
}

static void str_vector_free(char **v)
{
    for (size_t i = 0; v[i]; i++) {
        free(v[i]);
    }
    free(v);
}

/* What the child needs, prepared by the parent before the clone. */
typedef struct spawn {
    char **argv, **envp;
    const char *procs[2]; /* cgroup.procs files to join ("" if none) */
    const char *logpath;  /* "" for /dev/null */
    const char *dir;      /* working directory */
} spawn_t;

/*
 * The child between clone and exec. It shares the worker's memory (as
 * vfork: the worker's pages are neither copied nor made copy-on-write,
 * which is most of what a fork of a threaded worker costs) and the parent
 * thread waits until it has exec'd, so it only makes system calls and
 * writes nothing the worker reads. All signals are blocked on entry.
 */
static int spawn_child(void *arg)
{
    const spawn_t *sp = arg;
    /* no worker handler may run here: defaults, then unblock at exec */
    for (int sig = 1; sig < NSIG; sig++) {
        struct sigaction sa;
        if (sigaction(sig, NULL, &sa) == 0 && sa.sa_handler != SIG_DFL &&
            sa.sa_handler != SIG_IGN) {
            memset(&sa, 0, sizeof(sa));
            sa.sa_handler = SIG_DFL;
            sigaction(sig, &sa, NULL);
        }
    }
    setpgid(0, 0); /* its own group: a stop reaches its children */
    for (int i = 0; i < 2; i++) {
        int fd = sp->procs[i][0] ? open(sp->procs[i], O_WRONLY) : -1;
        if (fd >= 0) {
            (void)!write(fd, "0", 1);
            close(fd);
        }
    }
    int o = sp->logpath[0]
                ? open(sp->logpath, O_WRONLY | O_CREAT | O_TRUNC, 0644)
                : open("/dev/null", O_WRONLY);
    int in = open("/dev/null", O_RDONLY);
    if (o >= 0) {
        dup2(o, 1);
        dup2(o, 2);
    }
    if (in >= 0) {
        dup2(in, 0);
    }
    prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
    if (chdir(sp->dir) != 0) {
        _exit(126);
    }
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    execvpe(sp->argv[0], sp->argv, sp->envp);
    static const char msg[] = "drover: could not run the command\n";
    (void)!write(2, msg, sizeof(msg) - 1);
    _exit(127);
}

#define SPAWN_STACK (256 * 1024)

/* Start the child (see spawn_child); its pid, or -1 with errno. */
static pid_t spawn(spawn_t *sp)
{
    char *stack = mmap(NULL, SPAWN_STACK, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
    if (stack == MAP_FAILED) {
        return -1;
    }
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    pid_t pid = clone(spawn_child, stack + SPAWN_STACK,
                      CLONE_VM | CLONE_VFORK | SIGCHLD, sp);
    int err = errno;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    munmap(stack, SPAWN_STACK);
    errno = err;
    return pid;
}

void drv__run_process(drv__attempt_t *a, json_t *out)
{
    drv_wrk_t *wrk = a->wrk;
    char e[DRV_ERRSTR_SIZE], name[256], logpath[1024] = "", scratch[300];
    json_t *cmd = json_object_get(a->run, "command");
    if (json_array_size(cmd) == 0) {
        json_object_set_new(out, "statusReason",
                            json_string(DRV_REASON_START_FAILED));
        json_object_set_new(out, "reason",
                            json_string("CannotStartContainerError: the "
                                        "process runtime runs the job's "
                                        "command and it has none"));
        return;
    }
    json_t *env = drv__attempt_env(a);
    if (drv__attempt_secrets(a, env, e, sizeof(e)) != 0) {
        json_decref(env);
        json_object_set_new(out, "statusReason",
                            json_string(DRV_REASON_START_FAILED));
        json_object_set_new(out, "reason", json_string(e));
        return;
    }
    /* PATH for the command's lookup, as a shell would have it */
    json_array_append_new(env, json_string("PATH=/usr/local/sbin:/usr/local/"
                                           "bin:/usr/sbin:/usr/bin:/sbin:/bin"));
    size_t n = 0;
    for (const char *p = a->job_id; *p && n + 16 < sizeof(name); p++) {
        name[n++] = (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
                            (*p >= 'A' && *p <= 'Z') || *p == '-'
                        ? *p
                        : '_';
    }
    snprintf(name + n, sizeof(name) - n, "-%d", a->attempt);
    char cgname[420], prefix[200];
    cg_prefix(wrk, prefix, sizeof(prefix));
    snprintf(cgname, sizeof(cgname), "%s%.200s", prefix, name);
    cg_t cg;
    cg_make(a, cgname, &cg);
    const char *logdir = drv_conf_get(wrk->conf, "worker.log.dir");
    if (logdir && *logdir) {
        snprintf(logpath, sizeof(logpath), "%s/%s", logdir, a->job_id);
        mkdir(logpath, 0755);
        snprintf(logpath, sizeof(logpath), "%s/%s/%d.log", logdir, a->job_id,
                 a->attempt);
    }
    const char *tmp = getenv("TMPDIR");
    snprintf(scratch, sizeof(scratch), "%s/drover-%.200s-XXXXXX",
             tmp && *tmp ? tmp : "/tmp", name);
    if (!mkdtemp(scratch)) {
        snprintf(scratch, sizeof(scratch), "/");
    }
    /* everything the child needs is prepared before fork: after it, only
     * async-signal-safe calls */
    char **argv = str_vector(cmd), **envp = str_vector(env);
    char procs_mem[1200] = "", procs_cpu[1200] = "";
    if (cg.mem[0]) {
        snprintf(procs_mem, sizeof(procs_mem), "%s/cgroup.procs", cg.mem);
    }
    if (cg.cpu[0]) {
        snprintf(procs_cpu, sizeof(procs_cpu), "%s/cgroup.procs", cg.cpu);
    }
    int64_t t0 = drv_mono_ms();
    spawn_t sp = {.argv = argv,
                  .envp = envp,
                  .procs = {procs_mem, procs_cpu},
                  .logpath = logpath,
                  .dir = scratch};
    pid_t pid = spawn(&sp);
    int spawn_errno = errno;
    str_vector_free(argv);
    str_vector_free(envp);
    json_decref(env);
    if (pid < 0) {
        json_object_set_new(out, "statusReason",
                            json_string(DRV_REASON_START_FAILED));
        json_object_set_new(out, "reason",
                            json_sprintf("CannotStartContainerError: clone: %s",
                                         strerror(spawn_errno)));
        goto cleanup;
    }
    drv_metrics_add(wrk->metrics, "drover_container_start_seconds_sum", NULL,
                    (double)(drv_mono_ms() - t0) / 1000.0);
    drv_metrics_add(wrk->metrics, "drover_container_start_seconds_count", NULL,
                    1);
    char cid[48];
    snprintf(cid, sizeof(cid), "process-%d", (int)pid);
    drv__wrk_report(wrk, a->job_id, a->attempt, "RUNNING",
                    json_pack("{s:s,s:s}", "containerId", cid,
                              "logStreamName", cid));
    json_object_set_new(out, "containerId", json_string(cid));

    json_t *to = json_object_get(a->run, "timeoutSeconds");
    int64_t deadline = json_is_integer(to)
                           ? drv_mono_ms() + json_integer_value(to) * 1000
                           : 0;
    int grace_ms = (int)drv_conf_get_int(wrk->conf,
                                         "worker.stop.grace.seconds") *
                   1000;
    int pfd = (int)syscall(SYS_pidfd_open, pid, 0);
    int64_t term_at = 0;
    bool timed_out = false, stopped = false;
    int status = 0;
    for (;;) {
        pid_t w = waitpid(pid, &status, WNOHANG);
        if (w == pid || (w < 0 && errno != EINTR)) {
            break;
        }
        int64_t now = drv_mono_ms();
        pthread_mutex_lock(&wrk->lock);
        bool stop = a->stop_requested;
        pthread_mutex_unlock(&wrk->lock);
        if (!term_at && (stop || (deadline && now >= deadline))) {
            timed_out = !stop;
            stopped = stop;
            kill(-pid, SIGTERM);
            term_at = now;
        } else if (term_at && now - term_at >= grace_ms) {
            kill(-pid, SIGKILL);
        }
        /* woken at once by the exit (pidfd), else every 100 ms */
        if (pfd >= 0) {
            struct pollfd p = {.fd = pfd, .events = POLLIN};
            poll(&p, 1, 100);
        } else {
            usleep(10 * 1000);
        }
    }
    if (pfd >= 0) {
        close(pfd);
    }
    int code = WIFEXITED(status)     ? WEXITSTATUS(status)
               : WIFSIGNALED(status) ? 128 + WTERMSIG(status)
                                     : -1;
    long ooms = cg.mem[0] ? read_key(cg.mem, cg.v2 ? "memory.events"
                                                   : "memory.oom_control",
                                     "oom_kill")
                          : 0;
    json_object_set_new(out, "exitCode", json_integer(code));
    json_object_set_new(out, "statusReason",
                        json_string(timed_out ? DRV_REASON_TIMEOUT
                                              : DRV_REASON_EXITED));
    if (ooms > 0 && !stopped && !timed_out) {
        json_object_set_new(out, "reason", json_string(DRV_REASON_OOM));
    }
cleanup:
    if (pid > 0) {
        kill(-pid, SIGKILL); /* leftovers of the group */
    }
    cg_remove(cg.mem);
    cg_remove(cg.cpu);
    if (strcmp(scratch, "/") != 0) {
        nftw(scratch, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    }
    if (logpath[0]) {
        bound_log(logpath);
    }
}
