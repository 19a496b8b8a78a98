/*
 * boot_select.h - one boot's decision, start to end: the bootloader calls it
 * once per boot with the state opened (boot_state_open) and then acts on the
 * result (runs `slot`, after copying its header and payload to the load
 * address, or stays in recovery).
 *
 *   1. asks boot_decide() what to do, checking each image it asks about with
 *      boot_image_check() (the floor: the newest record's; 0 on a new device),
 *      so a normal boot checks one image;
 *   2. appends the record the decision says to write first, before anything
 *      runs (TRIED is on the flash before a new image starts: a reset before it
 *      confirms itself reverts it);
 *   3. when that write fails and the decision was to run an image on trial,
 *      runs nothing: recovery, FLASH_ERROR (an image on trial must not run
 *      without its TRIED record). Any other decision stands: the record not
 *      written, the next boot decides the same again.
 */
#ifndef BOOT_SELECT_H
#define BOOT_SELECT_H

#include <stdbool.h>
#include <stdint.h>

#include "boot_decide.h"
#include "boot_image.h"
#include "boot_layout.h"
#include "boot_state.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct boot_selection {
    boot_decision_t decision;                 /* RUN or RECOVERY, and what was written */
    bool written;                             /* decision.record is on the flash (false: none, or it failed) */
    bool checked[BOOT_SLOT_COUNT];            /* the slot's image was checked this boot */
    boot_image_info_t image[BOOT_SLOT_COUNT]; /* what the check found, where checked */
} boot_selection_t;

/* Decides this boot: fills `out` (decision.action is RUN or RECOVERY). A
 * state whose open failed on the flash (stale) decides nothing: recovery,
 * FLASH_ERROR. */
void boot_select_run(boot_state_t *state, const boot_layout_t *layout, const boot_image_checker_t *checker,
                     boot_selection_t *out);

#ifdef __cplusplus
}
#endif

#endif /* BOOT_SELECT_H */
