/* boot_select.c - one boot's decision: check what is asked, write the record, say what runs (boot_select.h). */
#include "boot_select.h"

#include <string.h>

/* boot_decide() asks for at most one check per slot; one more round decides */
#define MAX_ROUNDS (BOOT_SLOT_COUNT + 1u)

void boot_select_run(boot_state_t *state, const boot_layout_t *layout, const boot_image_checker_t *checker,
                     boot_selection_t *out)
{
    memset(out, 0, sizeof *out);
    boot_decision_t *d = &out->decision;
    if (state == NULL || state->flash == NULL || state->stale || layout == NULL) {
        /* the state could not be read: what it says is unknown, so nothing runs */
        d->action = BOOT_ACTION_RECOVERY;
        d->reason = state == NULL || layout == NULL ? BOOT_REASON_BAD_ARGUMENT : BOOT_REASON_FLASH_ERROR;
        return;
    }
    const boot_record_t *current = boot_state_current(state);
    uint32_t floor = current != NULL ? current->sec_floor : 0u;
    boot_slot_view_t views[BOOT_SLOT_COUNT];
    memset(views, 0, sizeof views);
    for (unsigned round = 0; round < MAX_ROUNDS; round++) {
        boot_decide(current, views, d);
        if (d->action != BOOT_ACTION_CHECK) {
            break;
        }
        uint8_t s = d->slot;
        if (views[s].checked) {
            break; /* asked twice: not boot_decide's contract; the guard below stops it */
        }
        boot_image_check(checker, layout->slot_offset[s], layout->slot_size, floor, &out->image[s]);
        boot_image_view(&out->image[s], &views[s]);
        out->checked[s] = true;
    }
    if (d->action == BOOT_ACTION_CHECK) {
        memset(d, 0, sizeof *d);
        d->action = BOOT_ACTION_RECOVERY;
        d->reason = BOOT_REASON_BAD_ARGUMENT;
        return;
    }
    if (d->write) {
        if (boot_state_append(state, &d->record) == BOOT_STATE_OK) {
            out->written = true;
        } else if (d->action == BOOT_ACTION_RUN && d->trial) {
            d->action = BOOT_ACTION_RECOVERY;
            d->trial = false;
            d->reason = BOOT_REASON_FLASH_ERROR;
        }
    }
}
