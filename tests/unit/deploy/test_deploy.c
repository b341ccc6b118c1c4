/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The deployment files for real clusters (deploy/k8s, deploy/compose,
 * deploy/systemd, deploy/docker) cannot run here; tests/deploy/validate.py
 * parses them and checks every key, command, volume and selector against
 * this build. This suite runs it on the tree, and on a broken copy to show
 * that it does catch mistakes.
 */
#include <check.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check_main.h"

static char bin_dir[1024];

static int run(const char *cmd, char *out, size_t size)
{
    FILE *p = popen(cmd, "r");
    ck_assert(p);
    size_t n = fread(out, 1, size - 1, p);
    out[n] = '\0';
    int rc = pclose(p);
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

static void setup(void)
{
    char self[1024];
    ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
    ck_assert_int_gt(n, 0);
    self[n] = '\0';
    snprintf(bin_dir, sizeof(bin_dir), "%s", dirname(self));
}

START_TEST(test_deploy_files_are_valid)
{
    const char *src = getenv("DROVER_SOURCE_DIR");
    ck_assert_ptr_nonnull(src);
    char cmd[4096], out[8192];
    snprintf(cmd, sizeof(cmd),
             "%s/drover --help-config > /tmp/drv-help-%d.txt && "
             "/usr/bin/python3 %s/tests/deploy/validate.py %s "
             "/tmp/drv-help-%d.txt 2>&1; rc=$?; rm -f /tmp/drv-help-%d.txt; "
             "exit $rc",
             bin_dir, (int)getpid(), src, src, (int)getpid(), (int)getpid());
    ck_assert_msg(run(cmd, out, sizeof(out)) == 0, "%s", out);
    ck_assert_msg(strstr(out, "deploy: 0 problem(s)"), "%s", out);
}
END_TEST

START_TEST(test_deploy_validator_catches_mistakes)
{
    const char *src = getenv("DROVER_SOURCE_DIR");
    char dir[] = "/tmp/drv-deploy-XXXXXX", cmd[8192], out[8192];
    ck_assert_ptr_nonnull(mkdtemp(dir));
    /* a copy with a misspelled key, a mount without a volume and a
     * command that is not a Drover program */
    snprintf(cmd, sizeof(cmd),
             "cp -r %s/deploy %s/tests %s/ && for d in producer "
             "dispatcher worker gateway; do mkdir -p %s/$d && "
             "cp %s/$d/CMakeLists.txt %s/$d/ || exit 2; done && "
             "sed -i 's/worker.log.dir/worker.logdir/; "
             "s/- name: docker$/- name: dockr/' "
             "%s/deploy/k8s/drover.yaml && "
             "sed -i 's/verbs: \\[\"patch\"\\]/verbs: [\"get\"]/' "
             "%s/deploy/k8s/provisioner-rbac.yaml && "
             "sed -i 's/\"drover-dispatcher\", \"--set\"/\"drover-dispatch\", "
             "\"--set\"/' %s/deploy/compose/compose.yaml && "
             "%s/drover --help-config > %s/help.txt && "
             "/usr/bin/python3 %s/tests/deploy/validate.py %s %s/help.txt "
             "2>&1",
             src, src, dir, dir, src, dir, dir, dir, dir, bin_dir, dir, dir,
             dir, dir);
    ck_assert_int_eq(run(cmd, out, sizeof(out)), 1);
    ck_assert_msg(strstr(out, "unknown configuration key 'worker.logdir'"),
                  "%s", out);
    ck_assert_msg(strstr(out, "volumeMount 'docker' has no volume"), "%s",
                  out);
    ck_assert_msg(strstr(out, "runs 'drover-dispatch', not a Drover program"),
                  "%s", out);
    ck_assert_msg(strstr(out, "Role does not grant ['patch'] on ('', "
                              "'pods')"),
                  "%s", out);
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    ck_assert_int_eq(system(cmd), 0);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("deploy");
    TCase *tc = tcase_create("deploy");
    tcase_add_checked_fixture(tc, setup, NULL);
    tcase_add_test(tc, test_deploy_files_are_valid);
    tcase_add_test(tc, test_deploy_validator_catches_mistakes);
    suite_add_tcase(s, tc);
    return drv_test_run(s);
}
