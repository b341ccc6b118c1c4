/* SPDX-License-Identifier: Apache-2.0 */
/* Fair-share scheduling policies (fairshare.h). */
#include "drover/fairshare.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "drover/limits.h"
#include "drover/util.h"

bool drv_share_id_valid(const char *s, bool prefix_ok)
{
    size_t n = s ? strlen(s) : 0;
    if (n && prefix_ok && s[n - 1] == '*') {
        n--;
    }
    if (n == 0 || n > DRV_SHARE_ID_MAX) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        if (!isalnum((unsigned char)s[i])) {
            return false;
        }
    }
    return true;
}

/* Whether rule a (an identifier or a prefix ending in '*') matches every
 * share rule b matches, or the two name one share: they overlap. */
static bool overlap(const char *a, const char *b)
{
    size_t na = strlen(a), nb = strlen(b);
    bool pa = a[na - 1] == '*', pb = b[nb - 1] == '*';
    if (!pa && !pb) {
        return !strcmp(a, b);
    }
    if (pa && (pb ? nb >= na : nb + 1 >= na) && !strncmp(a, b, na - 1)) {
        return true;
    }
    return pb && (pa ? na >= nb : na + 1 >= nb) && !strncmp(a, b, nb - 1);
}

#define FAIL(...)                                                              \
    do {                                                                       \
        drv_errstr_set(errstr, errstr_size, __VA_ARGS__);                      \
        return -1;                                                             \
    } while (0)

int drv_fairshare_validate(const json_t *policy, char *errstr,
                           size_t errstr_size)
{
    if (!json_is_object(policy)) {
        FAIL("fairsharePolicy must be an object");
    }
    json_t *decay = json_object_get(policy, "shareDecaySeconds");
    json_t *cr = json_object_get(policy, "computeReservation");
    json_t *dist = json_object_get(policy, "shareDistribution");
    if (decay && (!json_is_integer(decay) || json_integer_value(decay) < 0 ||
                  json_integer_value(decay) > DRV_SHARE_DECAY_MAX)) {
        FAIL("fairsharePolicy.shareDecaySeconds must be from 0 to %d",
             DRV_SHARE_DECAY_MAX);
    }
    if (cr && (!json_is_integer(cr) || json_integer_value(cr) < 0 ||
               json_integer_value(cr) > DRV_COMPUTE_RESERVATION_MAX)) {
        FAIL("fairsharePolicy.computeReservation must be from 0 to %d",
             DRV_COMPUTE_RESERVATION_MAX);
    }
    if (dist && !json_is_array(dist)) {
        FAIL("fairsharePolicy.shareDistribution must be a list");
    }
    if (json_array_size(dist) > DRV_SHARE_RULES_MAX) {
        FAIL("fairsharePolicy.shareDistribution: at most %d entries",
             DRV_SHARE_RULES_MAX);
    }
    size_t i;
    json_t *rule;
    json_array_foreach(dist, i, rule)
    {
        const char *id = json_string_value(json_object_get(rule,
                                                           "shareIdentifier"));
        json_t *w = json_object_get(rule, "weightFactor");
        if (!drv_share_id_valid(id, true)) {
            FAIL("fairsharePolicy.shareDistribution[%zu].shareIdentifier must "
                 "be 1 to %d letters and digits, optionally followed by *",
                 i, DRV_SHARE_ID_MAX);
        }
        /* 4 decimals, as AWS documents; compared with a little slack for
         * the binary form of the given decimal */
        if (w && (!json_is_number(w) ||
                  json_number_value(w) < DRV_WEIGHT_MIN - 1e-9 ||
                  json_number_value(w) > DRV_WEIGHT_MAX + 1e-9)) {
            FAIL("fairsharePolicy.shareDistribution[%zu].weightFactor must be "
                 "from 0.0001 to 999.9999",
                 i);
        }
        for (size_t k = 0; k < i; k++) {
            const char *other = json_string_value(json_object_get(
                json_array_get(dist, k), "shareIdentifier"));
            if (overlap(id, other)) {
                FAIL("fairsharePolicy.shareDistribution[%zu].shareIdentifier "
                     "%s overlaps shareDistribution[%zu] (%s): share "
                     "identifiers can't overlap",
                     i, id, k, other);
            }
        }
    }
    return 0;
}

double drv_fairshare_weight(const json_t *policy, const char *share)
{
    size_t i;
    json_t *rule;
    double prefix_w = -1;
    json_array_foreach(json_object_get(policy, "shareDistribution"), i, rule)
    {
        const char *id = json_string_value(json_object_get(rule,
                                                           "shareIdentifier"));
        json_t *w = json_object_get(rule, "weightFactor");
        size_t n = id ? strlen(id) : 0;
        double wv = json_is_number(w) ? json_number_value(w) : 1.0;
        if (!n) {
            continue;
        }
        if (!strcmp(id, share)) {
            return wv;
        }
        if (id[n - 1] == '*' && !strncmp(id, share, n - 1)) {
            prefix_w = wv;
        }
    }
    return prefix_w > 0 ? prefix_w : 1.0;
}

double drv_fairshare_half_life(const json_t *policy)
{
    json_int_t d = json_integer_value(json_object_get(policy,
                                                      "shareDecaySeconds"));
    return d > 0 ? (double)d : DRV_SHARE_DECAY_DEFAULT;
}

double drv_fairshare_reserved(const json_t *policy, int active)
{
    json_int_t cr = json_integer_value(json_object_get(policy,
                                                       "computeReservation"));
    if (cr <= 0) {
        return 0;
    }
    return pow((double)cr / 100.0, active < 0 ? 0 : active);
}

/* Columns of LOAD_SQL. */
enum { FS_ID, FS_USAGE, FS_HELD, FS_JOBS };

/*
 * A queue's shares: those with RUNNABLE jobs (a skip scan of
 * jobs_share_release, one probe a share) and those whose released jobs
 * hold capacity; each with its usage decayed to now ($3; half-life $2 s)
 * and its first $4 RUNNABLE jobs.
 */
#define LOAD_SQL                                                               \
    DRV_SHARES_CTE("$1", DRV_SHARES_RUNNABLE) ", held AS (SELECT share_identifier AS id, sum(vcpus) AS v FROM jobs WHERE queue "  \
    "= $1 AND released AND share_identifier IS NOT NULL GROUP BY 1) SELECT "  \
    "x.id, COALESCE(u.usage * power(0.5, least(greatest($3::bigint - "        \
    "u.updated_at, 0) / 1000.0 / $2::float8, 1000)), 0), COALESCE(h.v, 0), "  \
    "(SELECT "                                                                \
    "json_agg(json_build_array(c.job_id, c.vcpus, c.memory_mib, "             \
    "c.updated_at, c.consumables, c.gpus) ORDER BY c.scheduling_priority "  \
    "DESC, c.seq) FROM (SELECT job_id, vcpus, memory_mib, updated_at, "      \
    "consumables, gpus, scheduling_priority, seq FROM "                       \
    "jobs WHERE queue = $1 AND share_identifier = x.id AND status = "         \
    "'RUNNABLE' AND NOT released ORDER BY scheduling_priority DESC, seq "     \
    "LIMIT $4::int) c) FROM (SELECT id FROM s WHERE id IS NOT NULL UNION "    \
    "SELECT id FROM held) x LEFT JOIN share_usage u ON u.queue = $1 AND "     \
    "u.share = x.id LEFT JOIN held h ON h.id = x.id ORDER BY x.id"

int drv_fairshare_load(drv_pg_t *pg, const char *queue, const json_t *policy,
                       int per_share, int64_t now_ms, drv_fairshare_t *out,
                       char *errstr, size_t errstr_size)
{
    char half[32], now[24], lim[16];
    memset(out, 0, sizeof(*out));
    snprintf(half, sizeof(half), "%g", drv_fairshare_half_life(policy));
    snprintf(now, sizeof(now), "%lld", (long long)now_ms);
    snprintf(lim, sizeof(lim), "%d", per_share);
    const char *p[] = {queue, half, now, lim};
    drv_pg_res_t *r = drv_pg_query(pg, LOAD_SQL, 4, p, errstr, errstr_size);
    if (!r) {
        return -1;
    }
    int rows = drv_pg_res_rows(r);
    out->shares = drv_calloc((size_t)rows + 1, sizeof(*out->shares));
    for (int i = 0; i < rows; i++) {
        drv_share_t *s = &out->shares[out->n++];
        snprintf(s->id, sizeof(s->id), "%s", drv_pg_res_get(r, i, FS_ID));
        s->usage = strtod(drv_pg_res_get(r, i, FS_USAGE), NULL);
        s->held = strtod(drv_pg_res_get(r, i, FS_HELD), NULL);
        s->weight = drv_fairshare_weight(policy, s->id);
        s->jobs = drv_pg_res_json(r, i, FS_JOBS);
        if (!json_is_array(s->jobs)) {
            json_decref(s->jobs);
            s->jobs = json_array();
        }
        out->active += s->held > 0;
        out->held += s->held;
    }
    drv_pg_res_free(r);
    return 0;
}

void drv_fairshare_free(drv_fairshare_t *fs)
{
    for (size_t i = 0; i < fs->n; i++) {
        json_decref(fs->shares[i].jobs);
    }
    free(fs->shares);
    memset(fs, 0, sizeof(*fs));
}

int drv_fairshare_pick(const drv_fairshare_t *fs)
{
    int best = -1;
    double best_m = 0;
    for (size_t i = 0; i < fs->n; i++) {
        const drv_share_t *s = &fs->shares[i];
        if (s->next >= json_array_size(s->jobs)) {
            continue;
        }
        /* ties: the share entitled to more (the lower weight), then the
         * first by identifier (they ascend) */
        double m = (s->usage + s->held) * s->weight;
        if (best < 0 || m < best_m ||
            (m == best_m && s->weight < fs->shares[best].weight)) {
            best = (int)i;
            best_m = m;
        }
    }
    return best;
}

json_t *drv_fairshare_take(drv_fairshare_t *fs, int i)
{
    drv_share_t *s = &fs->shares[i];
    json_t *job = json_array_get(s->jobs, s->next++);
    double v = json_number_value(json_array_get(job, 1));
    if (s->held == 0) {
        fs->active++;
    }
    s->held += v;
    fs->held += v;
    return job;
}

void drv_fairshare_untake(drv_fairshare_t *fs, int i)
{
    drv_share_t *s = &fs->shares[i];
    json_t *job = json_array_get(s->jobs, s->next - 1);
    double v = json_number_value(json_array_get(job, 1));
    s->held -= v;
    fs->held -= v;
    if (s->held <= 1e-9) { /* it held nothing before */
        s->held = 0;
        fs->active--;
    }
}
