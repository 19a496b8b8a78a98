/* alerts.c - see alerts.h. */
#include "alerts.h"

#include <string.h>

#define NOT_COUNTED 0xFFu /* a history entry that no longer counts (before a RUN alert) */

bool alerts_config_valid(const alerts_config_t *cfg)
{
    if (cfg == NULL || (cfg->enabled & ALERTS_RESERVED) != 0u) {
        return false;
    }
    if ((cfg->enabled & ALERTS_RUN_RULE) != 0u && (cfg->k < 1u || cfg->k > cfg->window)) {
        return false;
    }
    return true;
}

bool alerts_init(alerts_t *a, const alerts_config_t *defaults)
{
    if (a == NULL) {
        return false;
    }
    memset(a, 0, sizeof *a);
    memset(a->classes, NOT_COUNTED, sizeof a->classes);
    if (!alerts_config_valid(defaults)) {
        return false;
    }
    a->config = *defaults;
    return true;
}

bool alerts_configure(alerts_t *a, const alerts_config_t *cfg)
{
    if (a == NULL || !alerts_config_valid(cfg)) {
        return false;
    }
    a->config = *cfg;
    return true;
}

static bool is_abnormal(const alerts_config_t *cfg, uint8_t beat_class)
{
    return beat_class < ALERTS_NUM_CLASSES && (cfg->enabled & ALERTS_CLASS_BIT(beat_class)) != 0u;
}

/* Abnormal beats among the last `window` counted entries (the newest at head - 1). */
static uint32_t abnormal_in_window(const alerts_t *a, uint32_t window)
{
    uint32_t n = window < a->counted ? window : a->counted;
    uint32_t count = 0;
    uint32_t idx = a->head;
    for (uint32_t i = 0; i < n; i++) {
        idx = idx == 0u ? ALERTS_MAX_WINDOW - 1u : idx - 1u;
        if (is_abnormal(&a->config, a->classes[idx])) {
            count++;
        }
    }
    return count;
}

alerts_rule_t alerts_on_beat(alerts_t *a, uint8_t beat_class, const int8_t scores[ALERTS_NUM_CLASSES],
                             alerts_result_t *out)
{
    if (a == NULL || scores == NULL) {
        return ALERTS_NONE;
    }
    const alerts_config_t *cfg = &a->config;
    a->beats++;
    a->classes[a->head] = beat_class < ALERTS_NUM_CLASSES ? beat_class : NOT_COUNTED;
    a->head = (uint8_t)(a->head + 1u == ALERTS_MAX_WINDOW ? 0u : a->head + 1u);
    if (a->counted < ALERTS_MAX_WINDOW) {
        a->counted++;
    }
    if (!is_abnormal(cfg, beat_class)) {
        return ALERTS_NONE;
    }

    int8_t score = scores[beat_class];
    uint32_t level = (uint32_t)((int32_t)score + 128);
    bool threshold = (cfg->enabled & ALERTS_THRESHOLD_RULE) != 0u && level >= cfg->thresholds[beat_class];
    bool run = (cfg->enabled & ALERTS_RUN_RULE) != 0u && cfg->k >= 1u && abnormal_in_window(a, cfg->window) >= cfg->k;
    if (run) {
        /* count afresh: what came before this alert does not count towards the next one */
        a->counted = 0;
    }
    if (!threshold && !run) {
        return ALERTS_NONE;
    }
    a->fired++;
    if (out != NULL) {
        out->rule = threshold ? ALERTS_RULE_THRESHOLD : ALERTS_RULE_RUN;
        out->beat_class = beat_class;
        out->score = score;
        out->threshold = threshold ? cfg->thresholds[beat_class] : cfg->k;
    }
    return threshold ? ALERTS_RULE_THRESHOLD : ALERTS_RULE_RUN;
}
