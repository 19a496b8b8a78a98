/*
 * boot_decide.h - what the bootloader boots, and which record it writes
 * first (docs/ota.md, "Boot state records"): a pure function of the newest
 * boot state record and of what the image check says of each slot.
 *
 * With `b` the record's slot and `a` the other one (the fallback), and
 * "valid" meaning the image check found nothing wrong (hash, signature,
 * target, security counter not below the record's floor):
 *
 *   newest record   slot images               write first                 then
 *   none            a valid slot (the higher  CONFIRMED(it, its counter)  run it (a new device adopts
 *                   version; slot 0 on a tie)                             the image it was given)
 *   none            none valid                -                           recovery
 *   PENDING(b)      b valid                   TRIED(b)                    run b on trial
 *   PENDING(b)      b not valid               REVERTED(b, b's verdict)    run a if valid, else recovery
 *   TRIED(b)        (b never confirmed)       REVERTED(b, NOT_CONFIRMED)  run a if valid, else recovery
 *   CONFIRMED(b)    b valid                   -                           run b
 *   CONFIRMED(b)    b not valid, a valid      TRIED(a, b's verdict)       run a on trial
 *   CONFIRMED(b)    neither valid             -                           recovery
 *   REVERTED(b)     a valid                   -                           run a
 *   REVERTED(b)     a not valid               -                           recovery (b is never retried)
 *
 * Every record keeps the floor of the one before it, except CONFIRMED, whose
 * floor is the larger of the old floor and its image's counter. The images
 * are checked lazily: the function asks for the verdict of a slot it needs
 * (BOOT_ACTION_CHECK) instead of deciding without it, so a normal boot checks
 * one image only.
 */
#ifndef BOOT_DECIDE_H
#define BOOT_DECIDE_H

#include <stdbool.h>
#include <stdint.h>

#include "boot_layout.h"
#include "boot_reason.h"
#include "boot_state.h"

#ifdef __cplusplus
extern "C" {
#endif

/* An image version as in the MCUboot header: major.minor.revision+build. */
typedef struct boot_version {
    uint8_t major;
    uint8_t minor;
    uint16_t revision;
    uint32_t build;
} boot_version_t;

/* What the image check says of one slot. */
typedef struct boot_slot_view {
    bool checked;              /* false: not checked yet (the rest is meaningless) */
    boot_reason_t verdict;     /* BOOT_REASON_NONE: a valid image */
    uint32_t security_counter; /* of a valid image */
    boot_version_t version;    /* of a valid image */
} boot_slot_view_t;

typedef enum boot_action {
    BOOT_ACTION_RUN = 1,      /* run `slot` (after writing `record` when `write`) */
    BOOT_ACTION_RECOVERY = 2, /* run nothing: stay in recovery (after writing `record` when `write`) */
    BOOT_ACTION_CHECK = 3,    /* check the image in `slot`, fill its view and decide again */
} boot_action_t;

typedef struct boot_decision {
    boot_action_t action;
    uint8_t slot;         /* RUN: the slot to run; CHECK: the slot to check */
    bool trial;           /* RUN: the image runs on trial and must confirm itself */
    bool write;           /* append `record` before acting */
    boot_record_t record; /* the record to append */
    /* RUN or RECOVERY: why the slot the state names is not the one running (NONE when it is): the verdict of
     * that slot, or NOT_CONFIRMED for a tried one. The state names the slot of CONFIRMED(b) and PENDING(b)
     * (b), of TRIED(b) (b), of REVERTED(b) (the other slot), and slot 0 when there is no record. */
    boot_reason_t reason;
} boot_decision_t;

/* Decides from the newest record (`current`, NULL when there is none) and
 * the two slots' views. Never returns RUN for a slot whose view is not
 * checked and valid. */
void boot_decide(const boot_record_t *current, const boot_slot_view_t views[BOOT_SLOT_COUNT], boot_decision_t *out);

/* The slot the running application was started from, given the newest record
 * after the bootloader's decision (TRIED(b) or CONFIRMED(b): b; REVERTED(b):
 * the other slot); -1 when no record names one (none, or PENDING: the
 * bootloader has not run since it was written). The application writes its
 * updates to the other slot. */
int boot_decide_running_slot(const boot_record_t *current);

/* <0, 0, >0 as version a is older than, equal to, newer than b (major, minor,
 * revision, then build). */
int boot_version_compare(const boot_version_t *a, const boot_version_t *b);

#ifdef __cplusplus
}
#endif

#endif /* BOOT_DECIDE_H */
