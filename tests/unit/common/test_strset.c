/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for drover/strset.h. */
#include <check.h>
#include <stdio.h>

#include "check_main.h"
#include "drover/strset.h"

START_TEST(test_strset_add_has_del)
{
    drv_strset_t *set = drv_strset_new();
    ck_assert(drv_strset_add(set, "job#1"));
    ck_assert(!drv_strset_add(set, "job#1")); /* there already */
    ck_assert(drv_strset_has(set, "job#1"));
    ck_assert(!drv_strset_has(set, "job#2"));
    ck_assert(!drv_strset_has(set, ""));
    ck_assert_uint_eq(drv_strset_size(set), 1);
    ck_assert(drv_strset_del(set, "job#1"));
    ck_assert(!drv_strset_del(set, "job#1"));
    ck_assert_uint_eq(drv_strset_size(set), 0);
    drv_strset_destroy(set);
    drv_strset_destroy(NULL);
}
END_TEST

START_TEST(test_strset_many_then_clear)
{
    drv_strset_t *set = drv_strset_new();
    char key[32];
    for (int i = 0; i < 20000; i++) { /* several per bucket */
        snprintf(key, sizeof(key), "j-%d#%d", i, i % 3);
        ck_assert(drv_strset_add(set, key));
    }
    ck_assert_uint_eq(drv_strset_size(set), 20000);
    ck_assert(drv_strset_has(set, "j-19999#1"));
    ck_assert(drv_strset_del(set, "j-777#0"));
    ck_assert(!drv_strset_has(set, "j-777#0"));
    ck_assert(drv_strset_has(set, "j-778#1"));
    drv_strset_clear(set);
    ck_assert_uint_eq(drv_strset_size(set), 0);
    ck_assert(!drv_strset_has(set, "j-19999#1"));
    ck_assert(drv_strset_add(set, "j-19999#1"));
    drv_strset_destroy(set);
}
END_TEST

static Suite *strset_suite(void)
{
    Suite *s = suite_create("strset");
    TCase *tc = tcase_create("set");
    tcase_add_test(tc, test_strset_add_has_del);
    tcase_add_test(tc, test_strset_many_then_clear);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return drv_test_run(strset_suite());
}
