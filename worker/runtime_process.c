/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The process runtime: an attempt's command runs as a plain child process
 * of the worker, with no image, in a cgroup of its own that carries the
 * job's memory and CPU limits (cgroup v2, or v1's memory and cpu
 * controllers), under the worker's own cgroup. Its output goes to the
 * attempt's log file, its working directory is a scratch directory removed
 * afterwards. No isolation beyond that: the process runs as the worker's
 * user, with no mounts, user or capability settings applied - for trusted
 * work on hosts without a container engine, and for benchmarks. A job with
 * a host volume is refused (ops.mounts false): the process sees the host's
 * whole file system, so nothing would hold it to the allowed roots.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <poll.h>
#include <pthread.h>
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

#include "drover/err.h"
#include "drover/util.h"
#include "runtime.h"

/* An attempt cgroup: a controller's directory, "" when not available, and
 * the limits last written to it (-1: none yet). */
typedef struct cg {
    char mem[1024]; /* v2: the one directory; v1: memory controller */
    char cpu[1024]; /* v1 only */
    bool v2;
    long long mem_set;
    long cpu_set;
    long oom_base; /* its oom_kill count when the attempt took it */
} cg_t;

/* The attempt's process, from prepare to cleanup (the attempt thread). */
typedef struct proc {
    cg_t cg;
    int logfd;          /* the attempt's log file; -1 for none */
    drv__rt_stamps_t stamps; /* when each of its lines was written */
    char scratch[512];  /* working directory; "/" when none was made */
    char **argv, **envp; /* from prepare until the clone */
    pid_t pid;           /* -1 until started */
    int pfd;             /* pidfd, -1 when not available */
    bool termed;         /* SIGTERM sent, at term_at */
    int64_t term_at;
} proc_t;

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
            v = strtol(line + kl + 1, NULL, 10);
        }
    }
    if (fp) {
        fclose(fp);
    }
    return v;
}

static long oom_kills(const cg_t *cg)
{
    return cg->mem[0] ? read_key(cg->mem,
                                 cg->v2 ? "memory.events"
                                        : "memory.oom_control",
                                 "oom_kill")
                      : 0;
}

/* SIGKILL what cgroup.procs of `dir` lists; how many it listed (-1: no
 * such cgroup). */
static int cg_kill(const char *dir)
{
    char path[1200];
    snprintf(path, sizeof(path), "%s/cgroup.procs", dir);
    FILE *fp = fopen(path, "r");
    if (!fp) {
        return -1;
    }
    int n = 0;
    for (int pid; fscanf(fp, "%d", &pid) == 1; n++) {
        kill(pid, SIGKILL);
    }
    fclose(fp);
    return n;
}

/* Whether `dir` has a cgroup below it (one a job made: its processes are
 * not in dir's cgroup.procs). */
static bool cg_has_child(const char *dir)
{
    DIR *d = opendir(dir);
    bool found = false;
    for (struct dirent *de; d && !found && (de = readdir(d));) {
        found = de->d_type == DT_DIR && strcmp(de->d_name, ".") &&
                strcmp(de->d_name, "..");
    }
    if (d) {
        closedir(d);
    }
    return found;
}

static int rm_cgroup_dir(const char *path, const struct stat *sb, int flag,
                         struct FTW *ftw)
{
    (void)sb;
    if (flag == FTW_DP && ftw->level > 0) {
        cg_kill(path);
        rmdir(path);
    }
    return 0;
}

/* Kill what is in a cgroup directory (and below it) and remove it,
 * trying for about a second. */
static void cg_remove(const char *dir)
{
    if (!dir[0]) {
        return;
    }
    for (int i = 0; i < 50; i++) {
        nftw(dir, rm_cgroup_dir, 8, FTW_DEPTH | FTW_PHYS);
        if (rmdir(dir) == 0 || errno == ENOENT) {
            return;
        }
        cg_kill(dir);
        usleep(20 * 1000);
    }
}

/* Kill what is in the cgroup, waiting up to a second for it to be empty:
 * true once it is, with no cgroup below it. */
static bool cg_empty(const char *dir)
{
    for (int i = 0; i < 50; i++) {
        int n = cg_kill(dir);
        if (n < 0) {
            return false;
        }
        if (n == 0) {
            return !cg_has_child(dir);
        }
        usleep(20 * 1000);
    }
    return false;
}

static void cg_discard(cg_t *cg)
{
    cg_remove(cg->mem);
    cg_remove(cg->cpu);
    cg->mem[0] = cg->cpu[0] = '\0';
}

static long long cg_usage(const cg_t *cg)
{
    char path[1200];
    snprintf(path, sizeof(path), "%s/%s", cg->mem,
             cg->v2 ? "memory.current" : "memory.usage_in_bytes");
    FILE *fp = fopen(path, "r");
    long long v = -1;
    if (fp && fscanf(fp, "%lld", &v) != 1) {
        v = -1;
    }
    if (fp) {
        fclose(fp);
    }
    return v;
}

/*
 * Attempt cgroups are kept for the next attempt: making one (mkdir, and
 * the kernel's work to set up and later tear down its controllers) and
 * removing it cost 190 us of the worker's CPU here (cgroup v1, memory and
 * cpu), against 22 us to write a kept one's limits. A kept cgroup is
 * empty, with no cgroup below it, and given back only once the attempt's
 * scratch directory is gone; what its last attempt left charged to it
 * (page cache, files on a tmpfs) must be under a quarter of the next
 * one's limit and under 16 MiB, else it is discarded for a new one, as it
 * is when the kernel refuses the limit (v1: EBUSY). Its oom_kill
 * count is taken when an attempt takes it, so only that attempt's kills
 * count. At most CG_KEPT are kept; the worker removes them when it stops,
 * and a restarted worker reaps what a killed one kept (they carry its
 * worker id).
 */
#define CG_KEPT 64
static pthread_mutex_t cgs_lock = PTHREAD_MUTEX_INITIALIZER;
static cg_t cgs[CG_KEPT];
static size_t ncgs;
static atomic_uint cg_seq;

/* Is the kept cgroup one of the worker whose names start with prefix?
 * (Tests run several workers in one process.) */
static bool cg_mine(const cg_t *cg, const char *prefix)
{
    const char *slash = strrchr(cg->mem, '/');
    return slash && !strncmp(slash + 1, prefix, strlen(prefix));
}

static bool cg_take(cg_t *cg, const char *prefix)
{
    bool got = false;
    pthread_mutex_lock(&cgs_lock);
    for (size_t i = ncgs; i-- > 0 && !got;) {
        if (cg_mine(&cgs[i], prefix)) {
            *cg = cgs[i];
            cgs[i] = cgs[--ncgs];
            got = true;
        }
    }
    pthread_mutex_unlock(&cgs_lock);
    return got;
}

/* After the attempt: empty the cgroup and keep it, or remove it. */
static void cg_give(cg_t *cg)
{
    if (!cg->mem[0]) {
        cg_discard(cg);
        return;
    }
    bool keep = cg_empty(cg->mem) && (!cg->cpu[0] || cg_empty(cg->cpu));
    pthread_mutex_lock(&cgs_lock);
    if (keep && ncgs < CG_KEPT) {
        cgs[ncgs++] = *cg;
        cg->mem[0] = cg->cpu[0] = '\0';
    }
    pthread_mutex_unlock(&cgs_lock);
    cg_discard(cg); /* nothing when kept */
}

/* Make a new cgroup, named `name` under the worker's own. */
static bool cg_new(const char *name, cg_t *cg)
{
    char base[600];
    memset(cg, 0, sizeof(*cg));
    cg->mem_set = cg->cpu_set = -1;
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
    bool ok = cg->mem[0] && mkdir(cg->mem, 0755) == 0;
    if (ok && cg->v2) {
        write_file(cg->mem, "memory.swap.max", "0");
    } else if (ok) {
        ok = cg->cpu[0] && mkdir(cg->cpu, 0755) == 0 &&
             write_file(cg->cpu, "cpu.cfs_period_us", "100000") == 0;
    }
    if (!ok) {
        int err = errno;
        cg_discard(cg);
        errno = err;
    }
    return ok;
}

/* Write the attempt's limits where they differ from the last written. */
static bool cg_limit(cg_t *cg, long long mem, long quota)
{
    char v[64];
    bool ok = true;
    if (cg->mem_set >= 0) { /* a kept one: what is still charged to it */
        long long used = cg_usage(cg);
        if (used < 0 || used > mem / 4 || used > 16LL * 1024 * 1024) {
            errno = EBUSY;
            return false;
        }
    }
    if (mem != cg->mem_set) {
        snprintf(v, sizeof(v), "%lld", mem);
        ok = write_file(cg->mem, cg->v2 ? "memory.max"
                                        : "memory.limit_in_bytes",
                        v) == 0;
        cg->mem_set = ok ? mem : -1;
    }
    if (ok && quota != cg->cpu_set) {
        if (cg->v2) {
            snprintf(v, sizeof(v), "%ld 100000", quota);
        } else {
            snprintf(v, sizeof(v), "%ld", quota);
        }
        ok = write_file(cg->v2 ? cg->mem : cg->cpu,
                        cg->v2 ? "cpu.max" : "cpu.cfs_quota_us", v) == 0;
        cg->cpu_set = ok ? quota : -1;
    }
    return ok;
}

static void cg_prefix(const drv__rt_host_t *host, char *out, size_t size);

/* The attempt's cgroup with its limits: a kept one, else a new one; on
 * failure the process runs without limits and the log says why. */
static void cg_make(const drv__rt_attempt_t *ra, cg_t *cg)
{
    long long mem = (long long)ra->job->memory_mib * 1024 * 1024;
    long quota = (long)(ra->job->vcpus * 100000);
    char prefix[200], name[240] = "";
    cg_prefix(ra->host, prefix, sizeof(prefix));
    bool ok = false;
    while (!ok && cg_take(cg, prefix)) {
        ok = cg_limit(cg, mem, quota);
        if (!ok) {
            cg_discard(cg);
        }
    }
    for (int tries = 0; !ok && tries < 8; tries++) {
        /* the pid: a restarted worker's names are new ones; one taken
         * (left by a process of the same pid) is skipped */
        snprintf(name, sizeof(name), "%s%d-%u", prefix, (int)getpid(),
                 atomic_fetch_add(&cg_seq, 1));
        if (cg_new(name, cg)) {
            ok = cg_limit(cg, mem, quota);
            break;
        }
        if (errno != EEXIST) {
            break;
        }
    }
    if (!ok) {
        int err = errno;
        json_t *f = drv_log_job(ra->job->id);
        drv_log(ra->host->log, DRV_LOG_WARN, "worker.no_cgroup", f,
                "could not make cgroup %s (%s): the process runs without "
                "memory and CPU limits",
                cg->mem[0] ? cg->mem : name, strerror(err));
        json_decref(f);
        cg_discard(cg);
    }
    cg->oom_base = oom_kills(cg);
}

/* Attempt cgroups are named for their worker id: a restarted worker finds
 * what its previous process left. */
static void cg_prefix(const drv__rt_host_t *host, char *out, size_t size)
{
    char id[191];
    drv__rt_sanitize(id, sizeof(id), host->worker_id);
    snprintf(out, size, "drover-%s.", id);
}

/* Kill what attempts of an earlier process of this worker left running. */
static void proc_reap(const drv__rt_host_t *host)
{
    char prefix[200], base[600], dir[1024];
    cg_prefix(host, prefix, sizeof(prefix));
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
        json_t *f = json_pack("{s:s}", "worker", host->worker_id);
        drv_log(host->log, DRV_LOG_INFO, "worker.orphans_removed", f,
                "removed %d attempt cgroup(s) a previous process of this "
                "worker left, killing what still ran in them",
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

/* Free a str_vector, wiping it: the environment carries secrets. */
static void str_vector_free(char **v)
{
    for (size_t i = 0; v && v[i]; i++) {
        explicit_bzero(v[i], strlen(v[i]));
        free(v[i]);
    }
    free(v);
}

/* What the child needs, prepared by the parent before the clone. */
typedef struct spawn {
    char **argv, **envp;
    const char *procs[2]; /* cgroup.procs files to join ("" if none) */
    int logfd;            /* the log file (-1: /dev/null) */
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
    drv_child_default_signals();
    setpgid(0, 0); /* its own group: a stop reaches its children */
    for (int i = 0; i < 2; i++) {
        int fd = sp->procs[i][0] ? open(sp->procs[i], O_WRONLY) : -1;
        if (fd >= 0) {
            (void)!write(fd, "0", 1);
            close(fd);
        }
    }
    int o = sp->logfd >= 0 ? sp->logfd : open("/dev/null", O_WRONLY);
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
#if defined(__SANITIZE_THREAD__)
#define DRV_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define DRV_TSAN 1
#endif
#endif

#ifndef DRV_TSAN
#if defined(__SANITIZE_ADDRESS__)
#define DRV_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define DRV_ASAN 1
#endif
#endif
#ifdef DRV_ASAN
#include <sanitizer/asan_interface.h>
#endif
#define STACKS_KEPT 64

/* Stacks for spawn_child, kept for the next spawn: mapping one for each
 * cost a page fault for each page the child touched and, at munmap, a TLB
 * shootdown on every CPU the worker runs on (CLONE_VM) - together 4-5%
 * of the machine's CPU in a profile of the process runtime. The worker
 * never holds more than STACKS_KEPT; a spawn beyond maps one more. */
static pthread_mutex_t stacks_lock = PTHREAD_MUTEX_INITIALIZER;
static char *stacks[STACKS_KEPT];
static size_t nstacks;

static char *stack_take(void)
{
    char *s = NULL;
    pthread_mutex_lock(&stacks_lock);
    if (nstacks > 0) {
        s = stacks[--nstacks];
    }
    pthread_mutex_unlock(&stacks_lock);
    if (!s) {
        s = mmap(NULL, SPAWN_STACK, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
        s = s == MAP_FAILED ? NULL : s;
    }
#ifdef DRV_ASAN /* the last child's frames left their redzones poisoned */
    if (s) {
        ASAN_UNPOISON_MEMORY_REGION(s, SPAWN_STACK);
    }
#endif
    return s;
}

static void stack_give(char *s)
{
    pthread_mutex_lock(&stacks_lock);
    if (nstacks < STACKS_KEPT) {
        stacks[nstacks++] = s;
        s = NULL;
    }
    pthread_mutex_unlock(&stacks_lock);
    if (s) {
        munmap(s, SPAWN_STACK);
    }
}
#endif

/* Start the child (see spawn_child); its pid, or -1 with errno. Under
 * ThreadSanitizer a plain fork: a child sharing the worker's memory runs
 * TSan's interceptors on the parent thread's state, which TSan cannot
 * survive (a CHECK failure in its fork handling). */
static pid_t spawn(spawn_t *sp)
{
#ifdef DRV_TSAN
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    pid_t pid = fork();
    if (pid == 0) {
        _exit(spawn_child(sp));
    }
    int err = errno;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    errno = err;
    return pid;
#else
    char *stack = stack_take();
    if (!stack) {
        return -1;
    }
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    pid_t pid = clone(spawn_child, stack + SPAWN_STACK,
                      CLONE_VM | CLONE_VFORK | SIGCHLD, sp);
    int err = errno;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    stack_give(stack); /* the child has exec'd or exited (CLONE_VFORK) */
    errno = err;
    return pid;
#endif
}


/* What the child will need, made before the clone: after it, only
 * async-signal-safe calls. */
static int proc_prepare(drv__rt_attempt_t *ra, char *errstr,
                        size_t errstr_size)
{
    char name[200];
    proc_t *p = drv_calloc(1, sizeof(*p));
    p->pid = -1;
    p->pfd = -1;
    p->logfd = -1;
    p->stamps = (drv__rt_stamps_t){.logfd = -1, .fd = -1};
    snprintf(p->scratch, sizeof(p->scratch), "/");
    ra->state = p;
    json_t *cmd = json_object_get(ra->run, "command");
    if (json_array_size(cmd) == 0) {
        drv_errstr_set(errstr, errstr_size,
                       "CannotStartContainerError: the process runtime runs "
                       "the job's command and it has none");
        return -1;
    }
    json_t *env = drv__rt_env(ra);
    /* no device isolation here: CUDA sees the attempt's GPUs only (none:
     * an empty list hides them all) */
    json_array_append_new(env, json_sprintf("CUDA_VISIBLE_DEVICES=%s",
                                            ra->job->gpus > 0
                                                ? ra->job->gpu_devices
                                                : ""));
    if (drv__rt_secrets(ra, env, errstr, errstr_size) != 0) {
        json_decref(env);
        return -1;
    }
    /* PATH for the command's lookup, as a shell would have it */
    json_array_append_new(env, json_string("PATH=/usr/local/sbin:/usr/local/"
                                           "bin:/usr/sbin:/usr/bin:/sbin:/bin"));
    drv__rt_name(ra, name, sizeof(name));
    cg_make(ra, &p->cg);
    /* opened here, beneath the log directory through no symlink; the
     * child only duplicates it (O_CLOEXEC: no other child inherits it) */
    p->logfd = drv__rt_log_open(ra);
    drv__rt_stamps_open(&p->stamps, ra, p->logfd);
    const char *tmp = drv_conf_get(ra->host->conf, "worker.scratch.dir");
    tmp = tmp && *tmp ? tmp : getenv("TMPDIR");
    tmp = tmp && *tmp && strlen(tmp) <= 255 ? tmp : "/tmp";
    snprintf(p->scratch, sizeof(p->scratch), "%.255s/drover-%.200s-XXXXXX",
             tmp, name);
    if (!mkdtemp(p->scratch)) {
        snprintf(p->scratch, sizeof(p->scratch), "/");
    }
    p->argv = str_vector(cmd);
    p->envp = str_vector(env);
    json_decref(env);
    return 0;
}

static int proc_start(drv__rt_attempt_t *ra, char *errstr, size_t errstr_size)
{
    proc_t *p = ra->state;
    char procs_mem[1200] = "", procs_cpu[1200] = "";
    if (p->cg.mem[0]) {
        snprintf(procs_mem, sizeof(procs_mem), "%s/cgroup.procs", p->cg.mem);
    }
    if (p->cg.cpu[0]) {
        snprintf(procs_cpu, sizeof(procs_cpu), "%s/cgroup.procs", p->cg.cpu);
    }
    spawn_t sp = {.argv = p->argv,
                  .envp = p->envp,
                  .procs = {procs_mem, procs_cpu},
                  .logfd = p->logfd,
                  .dir = p->scratch};
    p->pid = spawn(&sp);
    int spawn_errno = errno;
    str_vector_free(p->argv);
    str_vector_free(p->envp);
    p->argv = p->envp = NULL;
    if (p->pid < 0) {
        drv_errstr_set(errstr, errstr_size,
                       "CannotStartContainerError: clone: %s",
                       strerror(spawn_errno));
        return -1;
    }
    snprintf(ra->cid, sizeof(ra->cid), "process-%d", (int)p->pid);
    snprintf(ra->log_stream, sizeof(ra->log_stream), "%s", ra->cid);
    p->pfd = (int)syscall(SYS_pidfd_open, p->pid, 0);
    return 0;
}

/*
 * Reap the child, woken at once by its exit (pidfd), else every 100 ms to
 * see ra->stop: SIGTERM to its process group then, SIGKILL once the grace
 * period is over.
 */
static drv__rt_wait_t proc_wait(drv__rt_attempt_t *ra, int64_t timeout_ms,
                                int *exit_code, char *errstr,
                                size_t errstr_size)
{
    proc_t *p = ra->state;
    int64_t grace_ms = (int64_t)drv__rt_grace_s(ra->host) * 1000;
    int64_t deadline = timeout_ms > 0 ? drv_mono_ms() + timeout_ms : 0;
    int status = 0;
    for (;;) {
        pid_t w = waitpid(p->pid, &status, WNOHANG);
        if (w == p->pid) {
            break;
        }
        if (w < 0 && errno != EINTR) {
            drv_errstr_set(errstr, errstr_size, "waitpid %d: %s", (int)p->pid,
                           strerror(errno));
            return DRV__RT_ERROR;
        }
        int64_t now = drv_mono_ms();
        if (!p->termed && atomic_load(&ra->stop)) {
            kill(-p->pid, SIGTERM);
            p->termed = true;
            p->term_at = now;
        } else if (p->termed && now - p->term_at >= grace_ms) {
            kill(-p->pid, SIGKILL);
        }
        if (deadline && now >= deadline) {
            drv_errstr_set(errstr, errstr_size,
                           "process %d did not exit in %lld ms", (int)p->pid,
                           (long long)timeout_ms);
            return DRV__RT_TIMEOUT;
        }
        drv__rt_stamps_take(&p->stamps, drv_now_ms()); /* live, 100 ms */
        int ms = deadline && deadline - now < 100 ? (int)(deadline - now) : 100;
        if (p->pfd >= 0) {
            struct pollfd pl = {.fd = p->pfd, .events = POLLIN};
            poll(&pl, 1, ms);
        } else {
            usleep(10 * 1000);
        }
    }
    *exit_code = WIFEXITED(status)     ? WEXITSTATUS(status)
                 : WIFSIGNALED(status) ? 128 + WTERMSIG(status)
                                       : -1;
    return DRV__RT_EXITED;
}

static bool proc_oom_killed(drv__rt_attempt_t *ra, int exit_code, bool stopped)
{
    proc_t *p = ra->state;
    (void)exit_code;
    return oom_kills(&p->cg) > p->cg.oom_base && !stopped;
}

/* End what is left of the process group and the cgroup, then bound the
 * output the child wrote to its log file. */
static void proc_collect(drv__rt_attempt_t *ra)
{
    proc_t *p = ra->state;
    if (p->pid > 0) {
        kill(-p->pid, SIGKILL);
    }
    if (p->cg.mem[0]) { /* what is left ends now; the cgroup is kept or
                         * removed at cleanup, once the scratch is gone */
        cg_kill(p->cg.mem);
    }
    if (p->cg.cpu[0]) {
        cg_kill(p->cg.cpu);
    }
    if (p->logfd >= 0) {
        drv__rt_log_bound(p->logfd);
    }
    drv__rt_stamps_close(&p->stamps, drv_now_ms());
}

static void proc_cleanup(drv__rt_attempt_t *ra)
{
    proc_t *p = ra->state;
    if (!p) {
        return;
    }
    if (strcmp(p->scratch, "/") != 0) {
        nftw(p->scratch, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    }
    cg_give(&p->cg); /* after the scratch: its files were charged to it */
    str_vector_free(p->argv);
    str_vector_free(p->envp);
    if (p->pfd >= 0) {
        close(p->pfd);
    }
    drv__rt_stamps_close(&p->stamps, drv_now_ms()); /* if not collected */
    if (p->logfd >= 0) {
        close(p->logfd);
    }
    DRV_FREE(ra->state);
}

/* The worker stops: remove the kept cgroups, unmap the kept stacks. */
static void proc_release(const drv__rt_host_t *host)
{
    char prefix[200];
    cg_prefix(host, prefix, sizeof(prefix));
    for (cg_t cg; cg_take(&cg, prefix);) {
        cg_discard(&cg);
    }
#ifndef DRV_TSAN
    pthread_mutex_lock(&stacks_lock);
    while (nstacks > 0) {
        munmap(stacks[--nstacks], SPAWN_STACK);
    }
    pthread_mutex_unlock(&stacks_lock);
#endif
}

const drv__rt_ops_t drv__rt_process = {
    .name = "process",
    .mounts = false, /* host volumes are refused: nothing confines it */
    .times_start = true,
    .reap = proc_reap,
    .release = proc_release,
    .prepare = proc_prepare,
    .start = proc_start,
    .wait = proc_wait,
    .oom_killed = proc_oom_killed,
    .collect = proc_collect,
    .cleanup = proc_cleanup,
};
