/*
 * alerts.h - the clinician-set alert rule (docs/protocol.md, CONFIG and ALERT).
 *
 * Every classified beat goes through alerts_on_beat(), which says whether an
 * ALERT must be raised for it and by which rule:
 *
 *   rule 1 THRESHOLD  the beat's class c is enabled ("abnormal") and its score
 *                     reaches the class threshold: scores[c] + 128 >= thresholds[c]
 *                     (the 0..255 scale of the int8 softmax output: probability
 *                     = (score + 128) / 256);
 *   rule 2 RUN        the beat's class is enabled and, counting it, at least k
 *                     of the last `window` beats had an enabled class; after it
 *                     fires the count starts afresh (the next RUN alert needs k
 *                     new abnormal beats).
 *
 * When both fire on one beat, one alert with rule 1 is reported. Classes are
 * the AAMI classes 0 N, 1 S, 2 V, 3 F, 4 Q. A configuration changed with
 * alerts_configure() applies from the next beat; the beats already seen stay
 * in the history and are judged by the new class mask. Defaults come from the
 * caller (the firmware passes app_config.h's).
 *
 * All state is in the caller's alerts_t; no statics, no malloc.
 */
#ifndef ALERTS_H
#define ALERTS_H

#include <stdbool.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define ALERTS_NUM_CLASSES 5u
#define ALERTS_MAX_WINDOW 255u /* `window` is a u8 on the wire */

/* `enabled` bits: 0..4 classes N, S, V, F, Q; 5 rule 1; 6 rule 2; 7 reserved (must be 0) */
#define ALERTS_CLASS_BIT(c) ((uint8_t)(1u << (c)))
#define ALERTS_CLASS_MASK 0x1Fu
#define ALERTS_THRESHOLD_RULE 0x20u
#define ALERTS_RUN_RULE 0x40u
#define ALERTS_RESERVED 0x80u

typedef struct {
    uint8_t thresholds[ALERTS_NUM_CLASSES]; /* rule 1, per class, on the 0..255 scale */
    uint8_t k;                              /* rule 2: abnormal beats ... */
    uint8_t window;                         /* ... within the last `window` beats */
    uint8_t enabled;                        /* see the bits above */
} alerts_config_t;

typedef enum {
    ALERTS_NONE = 0,
    ALERTS_RULE_THRESHOLD = 1,
    ALERTS_RULE_RUN = 2,
} alerts_rule_t;

/* What an alert says about its beat (the ALERT message's rule fields). */
typedef struct {
    alerts_rule_t rule;
    uint8_t beat_class;
    int8_t score;      /* the beat's score for its class */
    uint8_t threshold; /* rule 1: the class threshold crossed; rule 2: k */
} alerts_result_t;

typedef struct {
    alerts_config_t config;
    uint8_t classes[ALERTS_MAX_WINDOW]; /* the last beats' classes, ring */
    uint8_t head;                       /* where the next beat's class goes */
    uint8_t counted;                    /* beats in the ring that count (since the last RUN alert) */
    uint32_t beats;                     /* beats seen */
    uint32_t fired;                     /* alerts raised */
} alerts_t;

/* true when `cfg` is acceptable: reserved bit 7 clear and, with rule 2 on, 1 <= k <= window.
 * (The same rule as the protocol's CONFIG -> ACK status.) */
bool alerts_config_valid(const alerts_config_t *cfg);

/* Starts with `defaults` (which must be valid: false and nothing usable otherwise) and an empty history. */
bool alerts_init(alerts_t *a, const alerts_config_t *defaults);

/* Replaces the configuration if it is valid (returns true); otherwise changes nothing and returns false. */
bool alerts_configure(alerts_t *a, const alerts_config_t *cfg);

/* Judges one classified beat (class 0..4 and the five int8 scores). Returns the rule that fired, or
 * ALERTS_NONE; fills *out (may be NULL) when one fired. A class outside 0..4 never alerts and counts as a
 * normal beat. */
alerts_rule_t alerts_on_beat(alerts_t *a, uint8_t beat_class, const int8_t scores[ALERTS_NUM_CLASSES],
                             alerts_result_t *out);

#ifdef __cplusplus
}
#endif

#endif /* ALERTS_H */
