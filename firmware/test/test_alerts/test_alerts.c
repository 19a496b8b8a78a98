/*
 * test_alerts - the alert rule (firmware/lib/alerts), on the host and in QEMU.
 */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "alerts.h"
#include "hbtest.h"
#include "port.h"

#define N 0u
#define S 1u
#define V 2u
#define F 3u
#define Q 4u

static alerts_t g_a;

static alerts_config_t config(uint8_t enabled, uint8_t k, uint8_t window, uint8_t threshold)
{
    alerts_config_t c;
    memset(&c, 0, sizeof c);
    for (unsigned i = 0; i < ALERTS_NUM_CLASSES; i++) {
        c.thresholds[i] = threshold;
    }
    c.enabled = enabled;
    c.k = k;
    c.window = window;
    return c;
}

/* scores with `level` (0..255 scale) for class c and the rest shared out low */
static void scores_for(int8_t scores[ALERTS_NUM_CLASSES], uint8_t c, uint32_t level)
{
    for (unsigned i = 0; i < ALERTS_NUM_CLASSES; i++) {
        scores[i] = -128;
    }
    scores[c] = (int8_t)((int32_t)level - 128);
}

static alerts_rule_t beat(uint8_t c, uint32_t level, alerts_result_t *out)
{
    int8_t scores[ALERTS_NUM_CLASSES];
    scores_for(scores, c, level);
    return alerts_on_beat(&g_a, c, scores, out);
}

static void test_config_validity(hbtest_t *t)
{
    alerts_config_t c = config(ALERTS_CLASS_BIT(V) | ALERTS_THRESHOLD_RULE, 0, 0, 200);
    HBTEST_CHECK(t, alerts_config_valid(&c)); /* rule 2 off: k and window are not looked at */
    c.enabled |= ALERTS_RESERVED;
    HBTEST_CHECK(t, !alerts_config_valid(&c));
    c = config(ALERTS_CLASS_BIT(V) | ALERTS_RUN_RULE, 0, 8, 200);
    HBTEST_CHECK(t, !alerts_config_valid(&c)); /* k = 0 */
    c.k = 9;
    HBTEST_CHECK(t, !alerts_config_valid(&c)); /* k > window */
    c.k = 8;
    HBTEST_CHECK(t, alerts_config_valid(&c));
    c.k = 1;
    c.window = 1;
    HBTEST_CHECK(t, alerts_config_valid(&c));
    c.k = 255;
    c.window = 255;
    HBTEST_CHECK(t, alerts_config_valid(&c));
    HBTEST_CHECK(t, !alerts_config_valid(NULL));
}

static void test_init_refuses_invalid_defaults(hbtest_t *t)
{
    alerts_config_t bad = config(ALERTS_RUN_RULE | ALERTS_CLASS_BIT(V), 5, 4, 0);
    HBTEST_CHECK(t, !alerts_init(&g_a, &bad));
    HBTEST_CHECK(t, !alerts_init(&g_a, NULL));
    HBTEST_CHECK(t, !alerts_init(NULL, &bad));
    alerts_config_t good = config(ALERTS_RUN_RULE | ALERTS_CLASS_BIT(V), 4, 4, 0);
    HBTEST_CHECK(t, alerts_init(&g_a, &good));
    HBTEST_CHECK(t, g_a.beats == 0u && g_a.fired == 0u);
}

static void test_threshold_fires_at_the_threshold_and_not_below(hbtest_t *t)
{
    alerts_config_t c = config(ALERTS_CLASS_BIT(V) | ALERTS_THRESHOLD_RULE, 0, 0, 0);
    c.thresholds[V] = 204; /* probability 0.8 */
    HBTEST_CHECK(t, alerts_init(&g_a, &c));
    alerts_result_t r;
    memset(&r, 0, sizeof r);
    HBTEST_CHECK(t, beat(V, 203, &r) == ALERTS_NONE);
    HBTEST_CHECK(t, beat(V, 204, &r) == ALERTS_RULE_THRESHOLD);
    HBTEST_CHECK(t, r.rule == ALERTS_RULE_THRESHOLD && r.beat_class == V);
    HBTEST_CHECK(t, r.score == 204 - 128 && r.threshold == 204);
    HBTEST_CHECK(t, beat(V, 255, NULL) == ALERTS_RULE_THRESHOLD);
    HBTEST_CHECK(t, g_a.beats == 3u && g_a.fired == 2u);
}

static void test_threshold_only_for_enabled_classes(hbtest_t *t)
{
    alerts_config_t c = config(ALERTS_CLASS_BIT(S) | ALERTS_CLASS_BIT(F) | ALERTS_THRESHOLD_RULE, 0, 0, 0);
    HBTEST_CHECK(t, alerts_init(&g_a, &c));
    HBTEST_CHECK(t, beat(N, 255, NULL) == ALERTS_NONE);
    HBTEST_CHECK(t, beat(V, 255, NULL) == ALERTS_NONE);
    HBTEST_CHECK(t, beat(Q, 255, NULL) == ALERTS_NONE);
    HBTEST_CHECK(t, beat(S, 0, NULL) == ALERTS_RULE_THRESHOLD); /* threshold 0: any score */
    HBTEST_CHECK(t, beat(F, 0, NULL) == ALERTS_RULE_THRESHOLD);
    /* the class's own score decides, not another class's */
    int8_t scores[ALERTS_NUM_CLASSES] = {127, -128, -128, -128, -128};
    c.thresholds[S] = 1;
    HBTEST_CHECK(t, alerts_configure(&g_a, &c));
    HBTEST_CHECK(t, alerts_on_beat(&g_a, S, scores, NULL) == ALERTS_NONE);
    /* the rule switched off: nothing */
    c.enabled = ALERTS_CLASS_BIT(S) | ALERTS_CLASS_BIT(F);
    HBTEST_CHECK(t, alerts_configure(&g_a, &c));
    HBTEST_CHECK(t, beat(S, 255, NULL) == ALERTS_NONE);
}

static void test_run_fires_on_k_of_window_then_counts_afresh(hbtest_t *t)
{
    alerts_config_t c = config(ALERTS_CLASS_BIT(V) | ALERTS_CLASS_BIT(S) | ALERTS_RUN_RULE, 3, 5, 0);
    HBTEST_CHECK(t, alerts_init(&g_a, &c));
    alerts_result_t r;
    memset(&r, 0, sizeof r);
    HBTEST_CHECK(t, beat(V, 100, NULL) == ALERTS_NONE); /* 1 of 1 */
    HBTEST_CHECK(t, beat(N, 250, NULL) == ALERTS_NONE);
    HBTEST_CHECK(t, beat(S, 100, NULL) == ALERTS_NONE); /* 2 of 3 */
    HBTEST_CHECK(t, beat(N, 250, NULL) == ALERTS_NONE);
    HBTEST_CHECK(t, beat(V, 90, &r) == ALERTS_RULE_RUN); /* 3 of the last 5 */
    HBTEST_CHECK(t, r.rule == ALERTS_RULE_RUN && r.threshold == 3 && r.beat_class == V && r.score == 90 - 128);
    /* afresh: the next two abnormal beats are not enough */
    HBTEST_CHECK(t, beat(V, 90, NULL) == ALERTS_NONE);
    HBTEST_CHECK(t, beat(V, 90, NULL) == ALERTS_NONE);
    HBTEST_CHECK(t, beat(V, 90, NULL) == ALERTS_RULE_RUN);
    HBTEST_CHECK(t, g_a.fired == 2u);
}

static void test_run_forgets_beats_that_left_the_window(hbtest_t *t)
{
    alerts_config_t c = config(ALERTS_CLASS_BIT(V) | ALERTS_RUN_RULE, 2, 3, 0);
    HBTEST_CHECK(t, alerts_init(&g_a, &c));
    HBTEST_CHECK(t, beat(V, 200, NULL) == ALERTS_NONE);
    HBTEST_CHECK(t, beat(N, 200, NULL) == ALERTS_NONE);
    HBTEST_CHECK(t, beat(N, 200, NULL) == ALERTS_NONE);
    HBTEST_CHECK(t, beat(V, 200, NULL) == ALERTS_NONE); /* the first V is 4 beats back: outside 3 */
    HBTEST_CHECK(t, beat(N, 200, NULL) == ALERTS_NONE);
    HBTEST_CHECK(t, beat(V, 200, NULL) == ALERTS_RULE_RUN); /* V N V */
    /* a normal beat never fires the rule, even when k abnormal beats are in the window */
    c = config(ALERTS_CLASS_BIT(V) | ALERTS_RUN_RULE, 1, 1, 0);
    HBTEST_CHECK(t, alerts_init(&g_a, &c));
    HBTEST_CHECK(t, beat(N, 200, NULL) == ALERTS_NONE);
    HBTEST_CHECK(t, beat(V, 0, NULL) == ALERTS_RULE_RUN); /* k = window = 1: every abnormal beat */
    HBTEST_CHECK(t, beat(V, 0, NULL) == ALERTS_RULE_RUN);
}

static void test_both_rules_give_one_threshold_alert_and_reset_the_run(hbtest_t *t)
{
    alerts_config_t c = config(ALERTS_CLASS_BIT(V) | ALERTS_RUN_RULE | ALERTS_THRESHOLD_RULE, 2, 4, 250);
    HBTEST_CHECK(t, alerts_init(&g_a, &c));
    alerts_result_t r;
    HBTEST_CHECK(t, beat(V, 10, NULL) == ALERTS_NONE);
    HBTEST_CHECK(t, beat(V, 251, &r) == ALERTS_RULE_THRESHOLD); /* both fire */
    HBTEST_CHECK(t, r.rule == ALERTS_RULE_THRESHOLD && r.threshold == 250);
    HBTEST_CHECK(t, g_a.fired == 1u);
    HBTEST_CHECK(t, beat(V, 10, NULL) == ALERTS_NONE); /* the run restarted with the alert */
    HBTEST_CHECK(t, beat(V, 10, &r) == ALERTS_RULE_RUN && r.threshold == 2);
}

static void test_configure_rejects_invalid_and_keeps_the_old_rule(hbtest_t *t)
{
    alerts_config_t c = config(ALERTS_CLASS_BIT(V) | ALERTS_THRESHOLD_RULE, 1, 1, 128);
    HBTEST_CHECK(t, alerts_init(&g_a, &c));
    alerts_config_t bad = config(ALERTS_CLASS_BIT(N) | ALERTS_RESERVED | ALERTS_THRESHOLD_RULE, 1, 1, 0);
    HBTEST_CHECK(t, !alerts_configure(&g_a, &bad));
    HBTEST_CHECK(t, !alerts_configure(&g_a, NULL));
    HBTEST_CHECK(t, memcmp(&g_a.config, &c, sizeof c) == 0);
    HBTEST_CHECK(t, beat(N, 255, NULL) == ALERTS_NONE);
    HBTEST_CHECK(t, beat(V, 128, NULL) == ALERTS_RULE_THRESHOLD);
    /* a new rule applies from the next beat */
    alerts_config_t newer = config(ALERTS_CLASS_BIT(N) | ALERTS_THRESHOLD_RULE, 0, 0, 255);
    HBTEST_CHECK(t, alerts_configure(&g_a, &newer));
    HBTEST_CHECK(t, beat(V, 255, NULL) == ALERTS_NONE);
    HBTEST_CHECK(t, beat(N, 255, NULL) == ALERTS_RULE_THRESHOLD);
}

static void test_out_of_range_class_never_alerts(hbtest_t *t)
{
    alerts_config_t c = config(ALERTS_CLASS_MASK | ALERTS_THRESHOLD_RULE | ALERTS_RUN_RULE, 1, 1, 0);
    HBTEST_CHECK(t, alerts_init(&g_a, &c));
    int8_t scores[ALERTS_NUM_CLASSES] = {127, 127, 127, 127, 127};
    HBTEST_CHECK(t, alerts_on_beat(&g_a, 5, scores, NULL) == ALERTS_NONE);
    HBTEST_CHECK(t, alerts_on_beat(&g_a, 0xFF, scores, NULL) == ALERTS_NONE);
    HBTEST_CHECK(t, alerts_on_beat(&g_a, 0, NULL, NULL) == ALERTS_NONE);
    HBTEST_CHECK(t, alerts_on_beat(NULL, 0, scores, NULL) == ALERTS_NONE);
    HBTEST_CHECK(t, g_a.fired == 0u);
}

/* An independent statement of the rule: every beat kept in a plain array, the run counted from the
 * beat after the last RUN alert, compared with the library on long pseudo-random sequences. */
#define REF_BEATS 3000u
static uint8_t g_ref_class[REF_BEATS];

static uint32_t lcg(uint32_t *state)
{
    *state = *state * 1664525u + 1013904223u;
    return *state >> 8;
}

static void test_matches_a_plain_reference_on_random_streams(hbtest_t *t)
{
    uint32_t rng = 12345u;
    uint32_t mismatches = 0;
    uint32_t fired = 0;
    for (unsigned trial = 0; trial < 24; trial++) {
        alerts_config_t c;
        do {
            c = config((uint8_t)(lcg(&rng) & 0x7Fu), (uint8_t)(lcg(&rng) % 12u), (uint8_t)(lcg(&rng) % 12u), 0);
            if (trial % 6u == 5u) {
                c.window = (uint8_t)(200u + lcg(&rng) % 56u);
                c.k = (uint8_t)(1u + lcg(&rng) % c.window);
            }
            for (unsigned i = 0; i < ALERTS_NUM_CLASSES; i++) {
                c.thresholds[i] = (uint8_t)lcg(&rng);
            }
        } while (!alerts_config_valid(&c));
        HBTEST_CHECK(t, alerts_init(&g_a, &c));
        uint32_t run_start = 0; /* first beat that counts for RUN */
        for (uint32_t b = 0; b < REF_BEATS; b++) {
            uint8_t cls = (uint8_t)(lcg(&rng) % 5u);
            if (lcg(&rng) % 3u != 0u) {
                cls = 0; /* mostly normal beats */
            }
            uint32_t level = lcg(&rng) & 0xFFu;
            g_ref_class[b] = cls;

            alerts_rule_t want = ALERTS_NONE;
            bool abnormal = (c.enabled >> cls) & 1u;
            if (abnormal) {
                bool thr = (c.enabled & ALERTS_THRESHOLD_RULE) && level >= c.thresholds[cls];
                bool run = false;
                if (c.enabled & ALERTS_RUN_RULE) {
                    uint32_t from = b + 1u >= c.window ? b + 1u - c.window : 0u;
                    if (from < run_start) {
                        from = run_start;
                    }
                    uint32_t count = 0;
                    for (uint32_t j = from; j <= b; j++) {
                        count += (c.enabled >> g_ref_class[j]) & 1u;
                    }
                    run = count >= c.k;
                }
                if (run) {
                    run_start = b + 1u;
                }
                want = thr ? ALERTS_RULE_THRESHOLD : run ? ALERTS_RULE_RUN : ALERTS_NONE;
            }
            alerts_result_t r;
            alerts_rule_t got = beat(cls, level, &r);
            if (got != want || (got != ALERTS_NONE && r.rule != got)) {
                mismatches++;
            }
            fired += got != ALERTS_NONE;
        }
    }
    HBTEST_CHECK(t, mismatches == 0u);
    HBTEST_CHECK(t, fired > 100u); /* the streams did exercise the rules */
}

int main(void)
{
    hbtest_t t;
    port_init();
    hbtest_begin(&t);
    hbtest_run(&t, "config_validity", test_config_validity);
    hbtest_run(&t, "init_refuses_invalid_defaults", test_init_refuses_invalid_defaults);
    hbtest_run(&t, "threshold_fires_at_the_threshold_and_not_below",
               test_threshold_fires_at_the_threshold_and_not_below);
    hbtest_run(&t, "threshold_only_for_enabled_classes", test_threshold_only_for_enabled_classes);
    hbtest_run(&t, "run_fires_on_k_of_window_then_counts_afresh", test_run_fires_on_k_of_window_then_counts_afresh);
    hbtest_run(&t, "run_forgets_beats_that_left_the_window", test_run_forgets_beats_that_left_the_window);
    hbtest_run(&t, "both_rules_give_one_threshold_alert_and_reset_the_run",
               test_both_rules_give_one_threshold_alert_and_reset_the_run);
    hbtest_run(&t, "configure_rejects_invalid_and_keeps_the_old_rule",
               test_configure_rejects_invalid_and_keeps_the_old_rule);
    hbtest_run(&t, "out_of_range_class_never_alerts", test_out_of_range_class_never_alerts);
    hbtest_run(&t, "matches_a_plain_reference_on_random_streams", test_matches_a_plain_reference_on_random_streams);
    port_exit(hbtest_end(&t));
}
