/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for drover/origin.h: derived keys, signatures, refusals. */
#include <check.h>
#include <string.h>

#include "drover/err.h"
#include "drover/origin.h"
#include "check_main.h"

static const char *master_hex =
    "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

static void master(drv_origin_key_t *m)
{
    char e[DRV_ERRSTR_SIZE];
    ck_assert_msg(drv_origin_key_parse(master_hex, "k", m, e, sizeof(e)) == 0,
                  "%s", e);
}

START_TEST(test_origin_key_parse_refuses_bad_keys)
{
    drv_origin_key_t k;
    char e[DRV_ERRSTR_SIZE];
    const char *bad[] = {NULL, "", "00", "zz0102030405060708090a0b0c0d0e0f"
                                         "101112131415161718191a1b1c1d1e1f",
                         "000102030405060708090a0b0c0d0e0f101112131415161718"
                         "191a1b1c1d1e1f00"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ck_assert_int_eq(drv_origin_key_parse(bad[i], "worker.key", &k, e,
                                              sizeof(e)),
                         -1);
        ck_assert_msg(strstr(e, "worker.key: expected 64 hex digits"), "%s",
                      e);
    }
    master(&k);
    char hex[DRV_ORIGIN_SIG_HEX_SIZE];
    drv_origin_key_hex(&k, hex);
    ck_assert_int_eq(strcasecmp(hex, master_hex), 0);
}
END_TEST

START_TEST(test_origin_signed_record_verifies_as_its_worker)
{
    drv_origin_key_t m, k;
    master(&m);
    drv_origin_derive(&m, "ce", "w1", &k);
    char origin[DRV_ORIGIN_NAME_SIZE], sig[DRV_ORIGIN_SIG_HEX_SIZE];
    ck_assert(drv_origin_name("ce", "w1", origin, sizeof(origin)));
    ck_assert_str_eq(origin, "ce/w1");
    drv_origin_sign(&k, origin, "record", 6, sig);
    char ce[256], w[256], e[DRV_ERRSTR_SIZE];
    ck_assert_msg(drv_origin_verify(&m, origin, sig, "record", 6, ce,
                                    sizeof(ce), w, sizeof(w), e, sizeof(e)),
                  "%s", e);
    ck_assert_str_eq(ce, "ce");
    ck_assert_str_eq(w, "w1");
    /* another record, another origin, no signature, a malformed origin */
    ck_assert(!drv_origin_verify(&m, origin, sig, "recorD", 6, ce,
                                 sizeof(ce), w, sizeof(w), e, sizeof(e)));
    ck_assert_msg(strstr(e, "not that of worker w1"), "%s", e);
    ck_assert(!drv_origin_verify(&m, "ce/w2", sig, "record", 6, ce,
                                 sizeof(ce), w, sizeof(w), e, sizeof(e)));
    ck_assert(!drv_origin_verify(&m, "cf/w1", sig, "record", 6, ce,
                                 sizeof(ce), w, sizeof(w), e, sizeof(e)));
    ck_assert(!drv_origin_verify(&m, origin, NULL, "record", 6, ce,
                                 sizeof(ce), w, sizeof(w), e, sizeof(e)));
    ck_assert_msg(strstr(e, "unsigned"), "%s", e);
    const char *malformed[] = {"w1", "/w1", "ce/", "ce/w1/x"};
    for (size_t i = 0; i < sizeof(malformed) / sizeof(malformed[0]); i++) {
        ck_assert(!drv_origin_verify(&m, malformed[i], sig, "record", 6, ce,
                                     sizeof(ce), w, sizeof(w), e,
                                     sizeof(e)));
        ck_assert_msg(strstr(e, "is not <compute environment>/<worker id>"),
                      "%s", e);
    }
    ck_assert(!drv_origin_verify(&m, origin, "xyz", "record", 6, ce,
                                 sizeof(ce), w, sizeof(w), e, sizeof(e)));
    /* keys differ per worker and per compute environment */
    drv_origin_key_t k2, k3;
    drv_origin_derive(&m, "ce", "w2", &k2);
    drv_origin_derive(&m, "cf", "w1", &k3);
    ck_assert(memcmp(k.k, k2.k, sizeof(k.k)) != 0);
    ck_assert(memcmp(k.k, k3.k, sizeof(k.k)) != 0);
    /* an origin too long for its parts is refused */
    char longname[300];
    memset(longname, 'x', sizeof(longname) - 1);
    longname[sizeof(longname) - 1] = '\0';
    ck_assert(!drv_origin_name("ce", longname, origin, sizeof(origin)));
}
END_TEST

int main(void)
{
    Suite *s = suite_create("origin");
    TCase *tc = tcase_create("origin");
    tcase_add_test(tc, test_origin_key_parse_refuses_bad_keys);
    tcase_add_test(tc, test_origin_signed_record_verifies_as_its_worker);
    suite_add_tcase(s, tc);
    return drv_test_run(s);
}
