/* SPDX-License-Identifier: Apache-2.0 */
/* SigV4 verification against AWS's published test suite vector
 * (get-vanilla) and the ways a request can be wrongly signed. */
#include <check.h>
#include <string.h>

#include "check_main.h"
#include "drover/err.h"
#include "sigv4.h"

static const char *hdr(void *opaque, const char *name)
{
    (void)opaque;
    if (!strcmp(name, "host")) {
        return "example.amazonaws.com";
    }
    if (!strcmp(name, "x-amz-date")) {
        return "20150830T123600Z";
    }
    return NULL;
}

static const char *secret(void *opaque, const char *key)
{
    (void)opaque;
    return !strcmp(key, "AKIDEXAMPLE")
               ? "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
               : NULL;
}

#define AUTH                                                                   \
    "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/"     \
    "aws4_request, SignedHeaders=host;x-amz-date, Signature="
#define GOOD "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"
#define WHEN 1440938160 /* 2015-08-30T12:36:00Z */

static int verify_as(const char *auth, const char *date, const char *sha,
                     const char *service, long now, const char **code,
                     char *e, size_t n)
{
    drv_sigv4_req_t r = {.method = "GET",
                         .raw_path = "/",
                         .raw_query = "",
                         .authorization = auth,
                         .amz_date = date,
                         .content_sha256 = sha,
                         .header = hdr};
    return drv_sigv4_verify(&r, service, now, secret, NULL, code, e, n);
}

static int verify(const char *auth, const char *service, long now,
                  const char **code, char *e, size_t n)
{
    return verify_as(auth, "20150830T123600Z", NULL, service, now, code, e,
                     n);
}

START_TEST(test_sigv4_vector)
{
    char e[DRV_ERRSTR_SIZE];
    const char *code = NULL;
    ck_assert_msg(verify(AUTH GOOD, "service", WHEN, &code, e, sizeof(e)) == 0,
                  "%s: %s", code, e);
}
END_TEST

START_TEST(test_sigv4_refusals)
{
    char e[DRV_ERRSTR_SIZE];
    const char *code = NULL;
    /* one hex digit off */
    ck_assert_int_eq(verify(AUTH "5fa00fa31553b73ebf1942676e86291e8372ff2a2260"
                                 "956d9b8aae1d763fbf30",
                            "service", WHEN, &code, e, sizeof(e)),
                     -1);
    ck_assert_str_eq(code, "InvalidSignatureException");
    ck_assert_msg(strstr(e, "does not match"), "%s", e);
    ck_assert_int_eq(verify(NULL, "service", WHEN, &code, e, sizeof(e)), -1);
    ck_assert_str_eq(code, "MissingAuthenticationTokenException");
    ck_assert_int_eq(verify(AUTH GOOD, "batch", WHEN, &code, e, sizeof(e)),
                     -1);
    ck_assert_msg(strstr(e, "correct service"), "%s", e);
    ck_assert_int_eq(verify(AUTH GOOD, "service", WHEN + 3600, &code, e,
                            sizeof(e)),
                     -1);
    ck_assert_msg(strstr(e, "Signature expired"), "%s", e);
    ck_assert_int_eq(verify("AWS4-HMAC-SHA256 Credential=NOBODY/20150830/"
                            "us-east-1/service/aws4_request, SignedHeaders="
                            "host;x-amz-date, Signature=" GOOD,
                            "service", WHEN, &code, e, sizeof(e)),
                     -1);
    ck_assert_str_eq(code, "UnrecognizedClientException");
    ck_assert_int_eq(verify("Basic dXNlcjpwdw==", "service", WHEN, &code, e,
                            sizeof(e)),
                     -1);
    ck_assert_str_eq(code, "IncompleteSignatureException");
}
END_TEST

#define EMPTY_SHA256                                                           \
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

/* The payload is the body's: UNSIGNED-PAYLOAD is S3's, not this service's. */
START_TEST(test_sigv4_payload_is_signed)
{
    char e[DRV_ERRSTR_SIZE];
    const char *code = NULL;
    ck_assert_msg(verify_as(AUTH GOOD, "20150830T123600Z", EMPTY_SHA256,
                            "service", WHEN, &code, e, sizeof(e)) == 0,
                  "%s: %s", code, e);
    ck_assert_int_eq(verify_as(AUTH GOOD, "20150830T123600Z",
                               "UNSIGNED-PAYLOAD", "service", WHEN, &code, e,
                               sizeof(e)),
                     -1);
    ck_assert_str_eq(code, "InvalidSignatureException");
    ck_assert_msg(strstr(e, "UNSIGNED-PAYLOAD"), "%s", e);
    ck_assert_int_eq(verify_as(AUTH GOOD, "20150830T123600Z",
                               "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b"
                               "934ca495991b7852b856",
                               "service", WHEN, &code, e, sizeof(e)),
                     -1);
    ck_assert_str_eq(code, "InvalidSignatureException");
    ck_assert_msg(strstr(e, "does not match"), "%s", e);
}
END_TEST

START_TEST(test_sigv4_host_must_be_signed)
{
    char e[DRV_ERRSTR_SIZE];
    const char *code = NULL;
    ck_assert_int_eq(verify("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/"
                            "us-east-1/service/aws4_request, SignedHeaders="
                            "x-amz-date;hostx, Signature=" GOOD,
                            "service", WHEN, &code, e, sizeof(e)),
                     -1);
    ck_assert_str_eq(code, "IncompleteSignatureException");
    ck_assert_msg(strstr(e, "'Host'"), "%s", e);
}
END_TEST

/* X-Amz-Date is read whole, and its day is the credential scope's. */
START_TEST(test_sigv4_date_whole)
{
    static const char *bad[] = {"20150830T123600Zjunk", "20150830T123600",
                                "2015-08-30T12:36:00Z", "20150231T123600Z",
                                "20150830T253600Z",     " 0150830T123600Z",
                                "\xff\xfe",             ""};
    char e[DRV_ERRSTR_SIZE];
    const char *code = NULL;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ck_assert_int_eq(verify_as(AUTH GOOD, bad[i], NULL, "service", WHEN,
                                   &code, e, sizeof(e)),
                         -1);
        ck_assert_str_eq(code, "IncompleteSignatureException");
        ck_assert_msg(strstr(e, "ISO-8601"), "%s", e);
    }
    ck_assert_int_eq(verify_as("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/"
                               "20150831/us-east-1/service/aws4_request, "
                               "SignedHeaders=host;x-amz-date, Signature=" GOOD,
                               "20150830T123600Z", NULL, "service", WHEN,
                               &code, e, sizeof(e)),
                     -1);
    ck_assert_str_eq(code, "InvalidSignatureException");
    ck_assert_msg(strstr(e, "Credential scope"), "%s", e);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("sigv4");
    TCase *tc = tcase_create("sigv4");
    tcase_add_test(tc, test_sigv4_vector);
    tcase_add_test(tc, test_sigv4_refusals);
    tcase_add_test(tc, test_sigv4_payload_is_signed);
    tcase_add_test(tc, test_sigv4_host_must_be_signed);
    tcase_add_test(tc, test_sigv4_date_whole);
    suite_add_tcase(s, tc);
    return drv_test_run(s);
}
