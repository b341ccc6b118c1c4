/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for the provisioner's pure parts (dispatcher/provision.h):
 * worker sizes as configured, and how jobs pack into workers. */
#include <check.h>
#include <stdio.h>
#include <string.h>

#include "check_main.h"
#include "provision.h"

static drv__size_t sizes[DRV_SIZES_MAX];
static size_t nsizes;

static void parse_ok(const char *spec)
{
    char e[512] = "";
    ck_assert_msg(drv__sizes_parse(spec, sizes, &nsizes, e, sizeof(e)) == 0,
                  "%s: %s", spec, e);
}

static void parse_refused(const char *spec, const char *says)
{
    char e[512] = "";
    drv__size_t z[DRV_SIZES_MAX];
    size_t n;
    ck_assert_msg(drv__sizes_parse(spec, z, &n, e, sizeof(e)) == -1,
                  "%s accepted", spec);
    ck_assert_msg(strstr(e, "provisioner.sizes") && strstr(e, says),
                  "%s: \"%s\" does not say \"%s\"", spec, e, says);
}

START_TEST(test_sizes_parse)
{
    parse_ok("small=1/1024,large=4/8192/2");
    ck_assert_uint_eq(nsizes, 2);
    ck_assert_str_eq(sizes[0].name, "small");
    ck_assert(sizes[0].vcpus == 1 && sizes[0].mib == 1024 &&
              sizes[0].gpus == 0);
    ck_assert(sizes[1].vcpus == 4 && sizes[1].mib == 8192 &&
              sizes[1].gpus == 2);
    parse_ok("m5.large=2/8192,half=0.5/512");
    ck_assert(sizes[1].vcpus == 0.5);
    parse_refused("", "at least one");
    parse_refused("small", "NAME=VCPUS");
    parse_refused("small=0/1024", "NAME=VCPUS");
    parse_refused("small=1/2", "MEMORY_MIB");
    parse_refused("small=1/1024/-1", "GPUS");
    parse_refused("small=1/1024x", "NAME=VCPUS");
    parse_refused("sm all=1/1024", "NAME=VCPUS");
    parse_refused("a=1/1024,a=2/2048", "twice");
    parse_refused("big=5000/1024", "NAME=VCPUS");
    char many[4096] = "";
    for (int i = 0; i < DRV_SIZES_MAX + 1; i++) {
        char one[32];
        snprintf(one, sizeof(one), "%ss%d=1/64", i ? "," : "", i);
        strcat(many, one);
    }
    parse_refused(many, "at most");
}
END_TEST

static drv__plan_t plan(double max_v, size_t max_workers)
{
    return (drv__plan_t){.sizes = sizes, .nsizes = nsizes, .max_v = max_v,
                         .max_workers = max_workers};
}

/* 12 one-vCPU jobs, 1-vCPU workers, maxvCpus 4: 4 workers, the rest wait
 * (0: no room within the maximum). */
START_TEST(test_plan_stops_at_max)
{
    parse_ok("small=1/2048");
    drv__plan_t p = plan(4, 100);
    int placed = 0, waiting = 0;
    for (int i = 0; i < 12; i++) {
        int rc = drv__plan_add(&p, 1, 256, 0);
        placed += rc == 1;
        waiting += rc == 0;
    }
    ck_assert_int_eq(placed, 4);
    ck_assert_int_eq(waiting, 8);
    ck_assert(p.vcpus == 4);
    ck_assert_uint_eq(p.nbins, 4);
    drv__plan_free(&p);
    /* the worker count is capped too (the run topic's partitions) */
    p = plan(100, 3);
    for (int i = 0; i < 12; i++) {
        drv__plan_add(&p, 1, 256, 0);
    }
    ck_assert_uint_eq(p.nbins, 3);
    drv__plan_free(&p);
}
END_TEST

/* Jobs fill a worker before another starts; a job takes the smallest size
 * that holds it; what no size holds is -1. */
START_TEST(test_plan_packs_smallest_fit)
{
    parse_ok("small=1/1024,medium=2/4096,gpu=4/8192/1");
    drv__plan_t p = plan(64, 100);
    ck_assert_int_eq(drv__plan_add(&p, 0.5, 256, 0), 1);
    ck_assert_int_eq(drv__plan_add(&p, 0.5, 256, 0), 1); /* the same one */
    ck_assert_uint_eq(p.nbins, 1);
    ck_assert_int_eq(drv__plan_add(&p, 1, 3000, 0), 1); /* memory: medium */
    ck_assert_uint_eq(p.nbins, 2);
    ck_assert_int_eq(drv__plan_add(&p, 1, 512, 1), 1); /* a GPU: gpu */
    ck_assert_int_eq(drv__plan_add(&p, 8, 512, 0), -1);
    ck_assert_int_eq(drv__plan_add(&p, 1, 9000, 0), -1);
    ck_assert_int_eq(drv__plan_add(&p, 1, 512, 2), -1);
    int counts[DRV_SIZES_MAX];
    drv__plan_counts(&p, counts);
    ck_assert_int_eq(counts[0], 1);
    ck_assert_int_eq(counts[1], 1);
    ck_assert_int_eq(counts[2], 1);
    ck_assert(p.vcpus == 7);
    /* the medium worker had 1 vCPU left: the next 1-vCPU job goes there */
    ck_assert_int_eq(drv__plan_add(&p, 1, 512, 0), 1);
    ck_assert_uint_eq(p.nbins, 3);
    drv__plan_free(&p);
}
END_TEST

/* The floor (minvCpus, or a desiredvCpus set) adds workers of the given
 * size up to it, never past the maximum. */
START_TEST(test_plan_floor)
{
    parse_ok("small=1/1024,big=4/4096");
    drv__plan_t p = plan(6, 100);
    drv__plan_floor(&p, 3, 0);
    ck_assert(p.vcpus == 3);
    ck_assert_uint_eq(p.nbins, 3);
    drv__plan_floor(&p, 2, 0); /* already past it */
    ck_assert_uint_eq(p.nbins, 3);
    drv__plan_free(&p);
    p = plan(6, 100);
    drv__plan_floor(&p, 6, 1); /* 4, then another 4 would pass 6 */
    ck_assert(p.vcpus == 4);
    drv__plan_free(&p);
    p = plan(6, 100);
    drv__plan_floor(&p, 0, 0);
    ck_assert_uint_eq(p.nbins, 0);
    drv__plan_free(&p);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("provision");
    TCase *tc = tcase_create("plan");
    tcase_add_test(tc, test_sizes_parse);
    tcase_add_test(tc, test_plan_stops_at_max);
    tcase_add_test(tc, test_plan_packs_smallest_fit);
    tcase_add_test(tc, test_plan_floor);
    suite_add_tcase(s, tc);
    return drv_test_run(s);
}
