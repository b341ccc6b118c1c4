/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for drover/fairshare.h: policy rules, weights, reservation
 * and the order in which shares take turns. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "check_main.h"
#include "drover/fairshare.h"

static int validate(const char *text, char *why, size_t why_size)
{
    json_t *p = json_loads(text, 0, NULL);
    ck_assert_msg(p != NULL, "bad test JSON %s", text);
    int rc = drv_fairshare_validate(p, why, why_size);
    json_decref(p);
    return rc;
}

static void refused(const char *text, const char *want)
{
    char why[512] = "";
    ck_assert_msg(validate(text, why, sizeof(why)) == -1, "%s accepted",
                  text);
    ck_assert_msg(strstr(why, want), "%s: \"%s\", not \"%s\"", text, why,
                  want);
}

START_TEST(test_fairshare_policy_rules)
{
    char why[512];
    ck_assert_int_eq(validate("{}", why, sizeof(why)), 0);
    ck_assert_int_eq(
        validate("{\"shareDecaySeconds\": 604800, \"computeReservation\": 99, "
                 "\"shareDistribution\": [{\"shareIdentifier\": \"UserA*\", "
                 "\"weightFactor\": 0.0001}, {\"shareIdentifier\": \"UserB1\", "
                 "\"weightFactor\": 999.9999}, {\"shareIdentifier\": "
                 "\"User\"}]}",
                 why, sizeof(why)),
        0);
    refused("{\"shareDecaySeconds\": 604801}", "shareDecaySeconds");
    refused("{\"shareDecaySeconds\": -1}", "shareDecaySeconds");
    refused("{\"computeReservation\": 100}", "computeReservation");
    refused("{\"shareDistribution\": {}}", "must be a list");
    refused("{\"shareDistribution\": [{\"weightFactor\": 1}]}",
            "shareDistribution[0].shareIdentifier");
    refused("{\"shareDistribution\": [{\"shareIdentifier\": \"a-b\"}]}",
            "letters and digits");
    refused("{\"shareDistribution\": [{\"shareIdentifier\": \"*\"}]}",
            "letters and digits");
    refused("{\"shareDistribution\": [{\"shareIdentifier\": \"a\", "
            "\"weightFactor\": 0}]}",
            "weightFactor");
    refused("{\"shareDistribution\": [{\"shareIdentifier\": \"a\", "
            "\"weightFactor\": 1000}]}",
            "weightFactor");
    /* AWS's own example of an overlap, both ways round, and duplicates */
    refused("{\"shareDistribution\": [{\"shareIdentifier\": \"UserA*\"}, "
            "{\"shareIdentifier\": \"UserA1\"}]}",
            "overlaps shareDistribution[0]");
    refused("{\"shareDistribution\": [{\"shareIdentifier\": \"UserA1\"}, "
            "{\"shareIdentifier\": \"User*\"}]}",
            "overlaps");
    refused("{\"shareDistribution\": [{\"shareIdentifier\": \"A*\"}, "
            "{\"shareIdentifier\": \"AB*\"}]}",
            "overlaps");
    refused("{\"shareDistribution\": [{\"shareIdentifier\": \"x\"}, "
            "{\"shareIdentifier\": \"x\"}]}",
            "overlaps");
    char longid[300];
    memset(longid, 'a', 256);
    longid[256] = '\0';
    ck_assert(!drv_share_id_valid(longid, false));
    longid[255] = '\0';
    ck_assert(drv_share_id_valid(longid, false));
    ck_assert(!drv_share_id_valid("ab*", false));
    ck_assert(drv_share_id_valid("ab*", true));
    ck_assert(!drv_share_id_valid("", true));
    ck_assert(!drv_share_id_valid(NULL, true));
    ck_assert(!drv_share_id_valid("caf\xc3\xa9", true));
}
END_TEST

START_TEST(test_fairshare_weights_and_reservation)
{
    json_t *p = json_loads(
        "{\"computeReservation\": 50, \"shareDistribution\": ["
        "{\"shareIdentifier\": \"gpu*\", \"weightFactor\": 0.25}, "
        "{\"shareIdentifier\": \"ops\", \"weightFactor\": 2}]}",
        0, NULL);
    ck_assert(fabs(drv_fairshare_weight(p, "ops") - 2) < 1e-9);
    ck_assert(fabs(drv_fairshare_weight(p, "gpu7") - 0.25) < 1e-9);
    ck_assert(fabs(drv_fairshare_weight(p, "gpu") - 0.25) < 1e-9);
    ck_assert(fabs(drv_fairshare_weight(p, "other") - 1) < 1e-9);
    ck_assert(fabs(drv_fairshare_weight(p, "op") - 1) < 1e-9);
    /* AWS's figures: 50% for one active share, 25% for two, 12.5% */
    ck_assert(fabs(drv_fairshare_reserved(p, 1) - 0.5) < 1e-9);
    ck_assert(fabs(drv_fairshare_reserved(p, 2) - 0.25) < 1e-9);
    ck_assert(fabs(drv_fairshare_reserved(p, 3) - 0.125) < 1e-9);
    ck_assert(fabs(drv_fairshare_half_life(p) - 600) < 1e-9);
    json_object_set_new(p, "shareDecaySeconds", json_integer(60));
    ck_assert(fabs(drv_fairshare_half_life(p) - 60) < 1e-9);
    json_object_del(p, "computeReservation");
    ck_assert(drv_fairshare_reserved(p, 1) == 0);
    json_decref(p);
}
END_TEST

static void add_share(drv_fairshare_t *fs, const char *id, double usage,
                      double weight, int jobs)
{
    drv_share_t *s = &fs->shares[fs->n++];
    memset(s, 0, sizeof(*s));
    snprintf(s->id, sizeof(s->id), "%s", id);
    s->usage = usage;
    s->weight = weight;
    s->jobs = json_array();
    for (int i = 0; i < jobs; i++) {
        char jid[32];
        snprintf(jid, sizeof(jid), "%s-%d", id, i);
        json_array_append_new(s->jobs, json_pack("[s,f,i,i]", jid, 1.0, 128,
                                                 0));
    }
}

/* Taking turns: with equal usage, weight 0.5 takes two of every three
 * jobs of 1 vCPU; a job given back is not charged; a share without jobs
 * left is passed over. */
START_TEST(test_fairshare_turns_follow_weights)
{
    drv_share_t shares[3];
    drv_fairshare_t fs = {.shares = shares};
    add_share(&fs, "A", 0, 0.5, 30);
    add_share(&fs, "B", 0, 1.0, 30);
    int taken[2] = {0, 0};
    for (int k = 0; k < 30; k++) {
        int i = drv_fairshare_pick(&fs);
        ck_assert_int_ge(i, 0);
        drv_fairshare_take(&fs, i);
        taken[i]++;
    }
    ck_assert_int_eq(taken[0], 20);
    ck_assert_int_eq(taken[1], 10);
    ck_assert_int_eq(fs.active, 2);
    int i = drv_fairshare_pick(&fs);
    double before = fs.shares[i].held;
    drv_fairshare_take(&fs, i);
    drv_fairshare_untake(&fs, i);
    ck_assert(fabs(fs.shares[i].held - before) < 1e-9);
    /* usage on record counts: B far behind takes every turn */
    add_share(&fs, "C", 1e6, 0.001, 1);
    fs.shares[1].usage = 0;
    fs.shares[0].usage = 1e6;
    ck_assert_int_eq(drv_fairshare_pick(&fs), 1);
    for (size_t s = 0; s < fs.n; s++) {
        json_decref(fs.shares[s].jobs);
    }
}
END_TEST

static Suite *fairshare_suite(void)
{
    Suite *s = suite_create("fairshare");
    TCase *tc = tcase_create("policy");
    tcase_add_test(tc, test_fairshare_policy_rules);
    tcase_add_test(tc, test_fairshare_weights_and_reservation);
    tcase_add_test(tc, test_fairshare_turns_follow_weights);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return drv_test_run(fairshare_suite());
}
