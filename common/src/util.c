/* SPDX-License-Identifier: Apache-2.0 */
/* Clocks, ids, parsing and allocation helpers: see drover/util.h. */
#include "drover/util.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "drover/err.h"

void drv_child_default_signals(void)
{
    for (int sig = 1; sig < NSIG; sig++) {
        struct sigaction sa;
        if (sigaction(sig, NULL, &sa) == 0 && sa.sa_handler != SIG_DFL &&
            sa.sa_handler != SIG_IGN) {
            memset(&sa, 0, sizeof(sa));
            sa.sa_handler = SIG_DFL;
            sigaction(sig, &sa, NULL);
        }
    }
}

int64_t drv_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t drv_mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int drv_uuid4(char out[37])
{
    unsigned char b[16];
    int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return -1;
    }
    ssize_t n = read(fd, b, sizeof(b));
    close(fd);
    if (n != (ssize_t)sizeof(b)) {
        return -1;
    }
    b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
    snprintf(out, 37,
             "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-"
             "%02x%02x%02x%02x%02x%02x",
             b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10],
             b[11], b[12], b[13], b[14], b[15]);
    return 0;
}

int drv_parse_int64(const char *s, int64_t min, int64_t max, int64_t *out)
{
    if (!s || !*s) {
        return -1;
    }
    char *end = NULL;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || *end != '\0' || v < min || v > max) {
        return -1;
    }
    *out = (int64_t)v;
    return 0;
}

int drv_parse_double(const char *s, double min, double max, double *out)
{
    if (!s || !*s) {
        return -1;
    }
    char *end = NULL;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || *end != '\0' || isnan(v) || v < min || v > max) {
        return -1;
    }
    *out = v;
    return 0;
}

void *drv_malloc(size_t size)
{
    void *p = malloc(size ? size : 1);
    if (!p) {
        fputs("drover: out of memory\n", stderr);
        abort();
    }
    return p;
}

void *drv_realloc(void *ptr, size_t size)
{
    void *p = realloc(ptr, size ? size : 1);
    if (!p) {
        fputs("drover: out of memory\n", stderr);
        abort();
    }
    return p;
}

void *drv_calloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (!p) {
        fputs("drover: out of memory\n", stderr);
        abort();
    }
    return p;
}

char *drv_strdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *p = drv_malloc(n);
    memcpy(p, s, n);
    return p;
}

bool drv_str_has_prefix(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

bool drv_path_is_clean(const char *path)
{
    if (!path || path[0] != '/' || strlen(path) >= 4096) {
        return false;
    }
    if (path[1] == '\0') {
        return true; /* "/" */
    }
    for (const char *c = path + 1;; c++) { /* c: a component's start */
        size_t n = strcspn(c, "/");
        if (n == 0 || (n == 1 && c[0] == '.') ||
            (n == 2 && c[0] == '.' && c[1] == '.')) {
            return false;
        }
        c += n;
        if (*c == '\0') {
            return true;
        }
    }
}

bool drv_path_under(const char *path, const char *root)
{
    size_t n = strlen(root);
    while (n > 1 && root[n - 1] == '/') {
        n--;
    }
    return !strncmp(path, root, n) && (path[n] == '\0' || path[n] == '/' ||
                                       (n == 1 && root[0] == '/'));
}

char *drv_read_file(const char *path, size_t *len_out, char *errstr,
                    size_t errstr_size)
{
    char *buf = NULL;
    FILE *fp = fopen(path, "rb");
    if (!fp) {
        drv_errstr_set(errstr, errstr_size, "could not open \"%s\": %s", path,
                       strerror(errno));
        return NULL;
    }
    size_t cap = 4096, len = 0;
    buf = drv_malloc(cap);
    for (;;) {
        size_t n = fread(buf + len, 1, cap - len - 1, fp);
        len += n;
        if (n == 0) {
            break;
        }
        if (len + 1 == cap) {
            cap *= 2;
            char *nb = realloc(buf, cap);
            if (!nb) {
                abort();
            }
            buf = nb;
        }
    }
    if (ferror(fp)) {
        drv_errstr_set(errstr, errstr_size, "could not read \"%s\": %s", path,
                       strerror(errno));
        fclose(fp);
        free(buf);
        return NULL;
    }
    fclose(fp);
    buf[len] = '\0';
    if (len_out) {
        *len_out = len;
    }
    return buf;
}

void drv_hostname(char *out, size_t size)
{
    if (gethostname(out, size) != 0 || !*out) {
        snprintf(out, size, "localhost");
    }
    out[size - 1] = '\0';
}

/* The length of the valid UTF-8 sequence at s (at most n bytes), or 0.
 * RFC 3629: no overlong forms, no surrogates, nothing above U+10FFFF. */
static size_t utf8_seq_len(const unsigned char *s, size_t n)
{
    unsigned char c = s[0];
    size_t len;
    unsigned char lo = 0x80, hi = 0xbf; /* range of the second byte */
    if (c >= 0x01 && c <= 0x7f) {
        return 1;
    } else if (c >= 0xc2 && c <= 0xdf) {
        len = 2;
    } else if (c >= 0xe0 && c <= 0xef) {
        len = 3;
        lo = c == 0xe0 ? 0xa0 : 0x80;
        hi = c == 0xed ? 0x9f : 0xbf;
    } else if (c >= 0xf0 && c <= 0xf4) {
        len = 4;
        lo = c == 0xf0 ? 0x90 : 0x80;
        hi = c == 0xf4 ? 0x8f : 0xbf;
    } else {
        return 0; /* NUL, a continuation byte, 0xc0, 0xc1, 0xf5-0xff */
    }
    if (n < len || s[1] < lo || s[1] > hi) {
        return 0;
    }
    for (size_t i = 2; i < len; i++) {
        if (s[i] < 0x80 || s[i] > 0xbf) {
            return 0;
        }
    }
    return len;
}

size_t drv_utf8_copy(char *dst, size_t dst_size, const char *src,
                     size_t src_len)
{
    static const char replacement[] = "\xef\xbf\xbd"; /* U+FFFD */
    size_t o = 0;
    if (dst_size == 0) {
        return 0;
    }
    for (size_t i = 0; i < src_len;) {
        size_t n = utf8_seq_len((const unsigned char *)src + i, src_len - i);
        const char *from = n ? src + i : replacement;
        size_t len = n ? n : sizeof(replacement) - 1;
        if (o + len > dst_size - 1) {
            break; /* cut before a character that does not fit */
        }
        memcpy(dst + o, from, len);
        o += len;
        i += n ? n : 1;
    }
    dst[o] = '\0';
    return o;
}
