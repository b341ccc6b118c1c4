/* SPDX-License-Identifier: Apache-2.0 */
/*
 * C11 threads over POSIX threads, linked into ThreadSanitizer builds only
 * (DRV_TSAN). glibc 2.34+ implements thrd_create, mtx_lock, cnd_wait...
 * with internal calls that ThreadSanitizer does not intercept (clang 14 to
 * 19 alike), and librdkafka runs all of its threads and locks through
 * them: its first thread crashed TSan's allocator, and its locks would be
 * invisible. Defined in the executable, these interpose on libc's for
 * every shared library, and go through the intercepted pthread calls.
 * glibc lays thrd_t, mtx_t and cnd_t out as pthread_t, pthread_mutex_t
 * and pthread_cond_t (static assertions below).
 */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <threads.h>

_Static_assert(sizeof(thrd_t) == sizeof(pthread_t), "thrd_t");
_Static_assert(sizeof(mtx_t) == sizeof(pthread_mutex_t), "mtx_t");
_Static_assert(sizeof(cnd_t) == sizeof(pthread_cond_t), "cnd_t");

typedef struct start {
    thrd_start_t func;
    void *arg;
} start_t;

static int code(int err)
{
    return err == 0           ? thrd_success
           : err == ETIMEDOUT ? thrd_timedout
           : err == EBUSY     ? thrd_busy
           : err == ENOMEM    ? thrd_nomem
                              : thrd_error;
}

static void *trampoline(void *p)
{
    start_t s = *(start_t *)p;
    free(p);
    return (void *)(intptr_t)s.func(s.arg);
}

int thrd_create(thrd_t *thr, thrd_start_t func, void *arg)
{
    start_t *s = malloc(sizeof(*s));
    if (!s) {
        return thrd_nomem;
    }
    s->func = func;
    s->arg = arg;
    pthread_t t;
    int err = pthread_create(&t, NULL, trampoline, s);
    if (err != 0) {
        free(s);
        return code(err);
    }
    *thr = (thrd_t)t;
    return thrd_success;
}

int thrd_join(thrd_t thr, int *res)
{
    void *r = NULL;
    int err = pthread_join((pthread_t)thr, &r);
    if (err == 0 && res) {
        *res = (int)(intptr_t)r;
    }
    return code(err);
}

int thrd_detach(thrd_t thr)
{
    return code(pthread_detach((pthread_t)thr));
}

_Noreturn void thrd_exit(int res)
{
    pthread_exit((void *)(intptr_t)res);
}

int mtx_init(mtx_t *mtx, int type)
{
    pthread_mutexattr_t a;
    pthread_mutexattr_init(&a);
    if (type & mtx_recursive) {
        pthread_mutexattr_settype(&a, PTHREAD_MUTEX_RECURSIVE);
    }
    int err = pthread_mutex_init((pthread_mutex_t *)mtx, &a);
    pthread_mutexattr_destroy(&a);
    return code(err);
}

int mtx_lock(mtx_t *mtx)
{
    return code(pthread_mutex_lock((pthread_mutex_t *)mtx));
}

int mtx_trylock(mtx_t *mtx)
{
    return code(pthread_mutex_trylock((pthread_mutex_t *)mtx));
}

int mtx_timedlock(mtx_t *restrict mtx, const struct timespec *restrict ts)
{
    return code(pthread_mutex_timedlock((pthread_mutex_t *)mtx, ts));
}

int mtx_unlock(mtx_t *mtx)
{
    return code(pthread_mutex_unlock((pthread_mutex_t *)mtx));
}

void mtx_destroy(mtx_t *mtx)
{
    pthread_mutex_destroy((pthread_mutex_t *)mtx);
}

int cnd_init(cnd_t *cond)
{
    return code(pthread_cond_init((pthread_cond_t *)cond, NULL));
}

int cnd_signal(cnd_t *cond)
{
    return code(pthread_cond_signal((pthread_cond_t *)cond));
}

int cnd_broadcast(cnd_t *cond)
{
    return code(pthread_cond_broadcast((pthread_cond_t *)cond));
}

int cnd_wait(cnd_t *cond, mtx_t *mtx)
{
    return code(pthread_cond_wait((pthread_cond_t *)cond,
                                  (pthread_mutex_t *)mtx));
}

int cnd_timedwait(cnd_t *restrict cond, mtx_t *restrict mtx,
                  const struct timespec *restrict ts)
{
    return code(pthread_cond_timedwait((pthread_cond_t *)cond,
                                       (pthread_mutex_t *)mtx, ts));
}

void cnd_destroy(cnd_t *cond)
{
    pthread_cond_destroy((pthread_cond_t *)cond);
}
