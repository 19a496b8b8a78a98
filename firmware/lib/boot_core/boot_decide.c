/* boot_decide.c - what to boot and which record to write first (see boot_decide.h). */
#include "boot_decide.h"

#include <string.h>

static uint8_t other_slot(uint8_t slot)
{
    return (uint8_t)(1u - slot);
}

static bool is_valid(const boot_slot_view_t *view)
{
    return view->checked && view->verdict == BOOT_REASON_NONE;
}

static void check(boot_decision_t *out, uint8_t slot)
{
    out->action = BOOT_ACTION_CHECK;
    out->slot = slot;
}

static void run(boot_decision_t *out, uint8_t slot, bool trial, boot_reason_t reason)
{
    out->action = BOOT_ACTION_RUN;
    out->slot = slot;
    out->trial = trial;
    out->reason = reason;
}

static void recovery(boot_decision_t *out, boot_reason_t reason)
{
    out->action = BOOT_ACTION_RECOVERY;
    out->reason = reason;
}

static void write_first(boot_decision_t *out, boot_kind_t kind, uint8_t slot, boot_reason_t reason, uint32_t floor)
{
    out->write = true;
    out->record.kind = kind;
    out->record.slot = slot;
    out->record.reason = reason;
    out->record.sec_floor = floor;
}

/* No record: a new device runs its best valid image and confirms it (the image it was flashed with). */
static void decide_new_device(const boot_slot_view_t views[BOOT_SLOT_COUNT], boot_decision_t *out)
{
    for (uint8_t s = 0; s < BOOT_SLOT_COUNT; s++) {
        if (!views[s].checked) {
            check(out, s);
            return;
        }
    }
    int best = -1;
    for (uint8_t s = 0; s < BOOT_SLOT_COUNT; s++) {
        if (is_valid(&views[s]) && (best < 0 || boot_version_compare(&views[s].version, &views[best].version) > 0)) {
            best = s;
        }
    }
    if (best < 0) {
        recovery(out, views[0].verdict);
        return;
    }
    write_first(out, BOOT_KIND_CONFIRMED, (uint8_t)best, BOOT_REASON_NONE, views[best].security_counter);
    run(out, (uint8_t)best, false, BOOT_REASON_NONE);
}

/* Runs the fallback slot `a` if it is valid, else recovery; `reason`: why not the slot the state named. */
static void fall_back(const boot_slot_view_t views[BOOT_SLOT_COUNT], uint8_t a, boot_reason_t reason,
                      boot_decision_t *out)
{
    if (is_valid(&views[a])) {
        run(out, a, false, reason);
    } else {
        recovery(out, reason);
    }
}

void boot_decide(const boot_record_t *current, const boot_slot_view_t views[BOOT_SLOT_COUNT], boot_decision_t *out)
{
    memset(out, 0, sizeof *out);
    if (current == NULL) {
        decide_new_device(views, out);
        return;
    }
    uint8_t b = current->slot;
    uint8_t a = other_slot(b);
    uint32_t floor = current->sec_floor;
    switch (current->kind) {
    case BOOT_KIND_PENDING:
        if (!views[b].checked) {
            check(out, b);
        } else if (is_valid(&views[b])) {
            write_first(out, BOOT_KIND_TRIED, b, BOOT_REASON_NONE, floor);
            run(out, b, true, BOOT_REASON_NONE);
        } else if (!views[a].checked) {
            check(out, a);
        } else {
            write_first(out, BOOT_KIND_REVERTED, b, views[b].verdict, floor);
            fall_back(views, a, views[b].verdict, out);
        }
        return;
    case BOOT_KIND_TRIED:
        if (!views[a].checked) {
            check(out, a);
        } else {
            write_first(out, BOOT_KIND_REVERTED, b, BOOT_REASON_NOT_CONFIRMED, floor);
            fall_back(views, a, BOOT_REASON_NOT_CONFIRMED, out);
        }
        return;
    case BOOT_KIND_CONFIRMED:
        if (!views[b].checked) {
            check(out, b);
        } else if (is_valid(&views[b])) {
            run(out, b, false, BOOT_REASON_NONE);
        } else if (!views[a].checked) {
            check(out, a);
        } else if (is_valid(&views[a])) {
            write_first(out, BOOT_KIND_TRIED, a, views[b].verdict, floor);
            run(out, a, true, views[b].verdict);
        } else {
            recovery(out, views[b].verdict);
        }
        return;
    case BOOT_KIND_REVERTED:
        if (!views[a].checked) {
            check(out, a);
        } else if (is_valid(&views[a])) {
            run(out, a, false, BOOT_REASON_NONE);
        } else {
            recovery(out, views[a].verdict);
        }
        return;
    }
    /* a kind boot_state never returns (it decodes none): run nothing rather than guess */
    recovery(out, BOOT_REASON_NONE);
}

int boot_decide_running_slot(const boot_record_t *current)
{
    if (current == NULL) {
        return -1;
    }
    switch (current->kind) {
    case BOOT_KIND_TRIED:
    case BOOT_KIND_CONFIRMED:
        return current->slot;
    case BOOT_KIND_REVERTED:
        return other_slot(current->slot);
    case BOOT_KIND_PENDING:
        break;
    }
    return -1;
}

int boot_version_compare(const boot_version_t *a, const boot_version_t *b)
{
    if (a->major != b->major) {
        return a->major < b->major ? -1 : 1;
    }
    if (a->minor != b->minor) {
        return a->minor < b->minor ? -1 : 1;
    }
    if (a->revision != b->revision) {
        return a->revision < b->revision ? -1 : 1;
    }
    if (a->build != b->build) {
        return a->build < b->build ? -1 : 1;
    }
    return 0;
}
