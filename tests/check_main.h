/* SPDX-License-Identifier: Apache-2.0 */
/* The one way every Check suite runs: CK_NORMAL output, exit status 0 only
 * when no test failed. */
#ifndef DRV_CHECK_MAIN_H
#define DRV_CHECK_MAIN_H

#include <check.h>
#include <stdlib.h>

static inline int drv_test_run(Suite *s)
{
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

#endif
