/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for drover/util.h: the UTF-8 copy every echoed text takes. */
#include <check.h>
#include <jansson.h>
#include <string.h>

#include "check_main.h"
#include "drover/util.h"

/* The copy is valid UTF-8 exactly when jansson takes it. */
static void assert_valid(const char *s)
{
    json_t *j = json_string(s);
    ck_assert_msg(j != NULL, "not valid UTF-8: %s", s);
    json_decref(j);
}

START_TEST(test_util_utf8_valid_kept)
{
    char out[64];
    const char *s = "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 ok";
    ck_assert_uint_eq(drv_utf8_copy(out, sizeof(out), s, strlen(s)),
                      strlen(s));
    ck_assert_str_eq(out, s);
}
END_TEST

START_TEST(test_util_utf8_invalid_replaced)
{
    char out[64];
    /* the X-Amz-Date that killed the gateway, a lone continuation byte,
     * an overlong '/', a surrogate, a NUL and a truncated sequence */
    const char in[] = "\xff\xfe|\x80|\xc0\xaf|\xed\xa0\x80|\0|\xe2\x82";
    drv_utf8_copy(out, sizeof(out), in, sizeof(in) - 1);
    assert_valid(out);
    ck_assert_str_eq(out, "\xef\xbf\xbd\xef\xbf\xbd|\xef\xbf\xbd|"
                          "\xef\xbf\xbd\xef\xbf\xbd|"
                          "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd|"
                          "\xef\xbf\xbd|\xef\xbf\xbd\xef\xbf\xbd");
}
END_TEST

START_TEST(test_util_utf8_cut_at_boundary)
{
    /* 260 x U+00E9 is 520 bytes: a 512-byte buffer holds 255 of them, not
     * 255 and a half */
    char in[600], out[512];
    size_t n = 0;
    for (int i = 0; i < 260; i++) {
        in[n++] = '\xc3';
        in[n++] = '\xa9';
    }
    size_t len = drv_utf8_copy(out, sizeof(out), in, n);
    ck_assert_uint_eq(len, 510);
    assert_valid(out);
    char one[2];
    ck_assert_uint_eq(drv_utf8_copy(one, sizeof(one), "\xc3\xa9", 2), 0);
    ck_assert_str_eq(one, "");
    ck_assert_uint_eq(drv_utf8_copy(one, 0, "x", 1), 0);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("util");
    TCase *tc = tcase_create("utf8");
    tcase_add_test(tc, test_util_utf8_valid_kept);
    tcase_add_test(tc, test_util_utf8_invalid_replaced);
    tcase_add_test(tc, test_util_utf8_cut_at_boundary);
    suite_add_tcase(s, tc);
    return drv_test_run(s);
}
