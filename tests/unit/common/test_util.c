/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for drover/util.h: the UTF-8 copy every echoed text takes. */
#include <check.h>
#include <jansson.h>
#include <string.h>

#include "check_main.h"
#include "drover/job.h"
#include "drover/token.h"
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

/* nextToken: a key round-trips; anything not made by drv_token_encode
 * (garbage, another prefix, a NUL inside, too long) is refused. */
START_TEST(test_util_token_round_trip_and_refusals)
{
    char key[64];
    char *t = drv_token_encode("default:42");
    ck_assert_int_eq(drv_token_decode(t, key, sizeof(key)), 0);
    ck_assert_str_eq(key, "default:42");
    ck_assert_int_eq(drv_token_decode(t, key, 5), -1); /* does not fit */
    free(t);
    const char *bad[] = {"", "garbage", "====", "AAAA",
                         "eHl6OmFiYw==", /* "xyz:abc": another prefix */
                         "ZHJ2MTphAGI=", /* "drv1:a\0b": a NUL inside */
                         "ZHJ2MTo\xff"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ck_assert_msg(drv_token_decode(bad[i], key, sizeof(key)) == -1, "%s",
                      bad[i]);
    }
    char huge[2000];
    memset(huge, 'A', sizeof(huge) - 1);
    huge[sizeof(huge) - 1] = '\0';
    ck_assert_int_eq(drv_token_decode(huge, key, sizeof(key)), -1);
}
END_TEST

/* ARNs identify resources of this Drover only. */
START_TEST(test_util_arn_parse)
{
    char kind[32], name[64], e[256];
    ck_assert_int_eq(drv_arn_parse("arn:aws:batch:r:1:job-definition/d:3", "r",
                                   "1", kind, sizeof(kind), name, sizeof(name),
                                   e, sizeof(e)),
                     0);
    ck_assert_str_eq(kind, "job-definition");
    ck_assert_str_eq(name, "d:3");
    struct {
        const char *arn, *why;
    } bad[] = {
        {"arn:aws:batch:us-west-2:1:job-queue/q", "names region us-west-2"},
        {"arn:aws:batch:r:2:job-queue/q", "account 2"},
        {"arn:aws:s3:r:1:job-queue/q", "not a valid AWS Batch ARN"},
        {"arn:aws:batch:r:1:job-queue/", "not a valid AWS Batch ARN"},
        {"arn:aws:batch:r:1", "not a valid ARN"},
        {"job-queue/q", "not a valid ARN"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ck_assert_int_eq(drv_arn_parse(bad[i].arn, "r", "1", kind,
                                       sizeof(kind), name, sizeof(name), e,
                                       sizeof(e)),
                         -1);
        ck_assert_msg(strstr(e, bad[i].why), "%s: %s", bad[i].arn, e);
    }
    char long_name[200];
    memset(long_name, 'n', sizeof(long_name) - 1);
    long_name[sizeof(long_name) - 1] = '\0';
    char arn[300];
    snprintf(arn, sizeof(arn), "arn:aws:batch:r:1:job/%s", long_name);
    ck_assert_int_eq(drv_arn_parse(arn, "r", "1", kind, sizeof(kind), name,
                                   sizeof(name), e, sizeof(e)),
                     -1);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("util");
    TCase *tc = tcase_create("utf8");
    tcase_add_test(tc, test_util_utf8_valid_kept);
    tcase_add_test(tc, test_util_utf8_invalid_replaced);
    tcase_add_test(tc, test_util_utf8_cut_at_boundary);
    tcase_add_test(tc, test_util_token_round_trip_and_refusals);
    tcase_add_test(tc, test_util_arn_parse);
    suite_add_tcase(s, tc);
    return drv_test_run(s);
}
