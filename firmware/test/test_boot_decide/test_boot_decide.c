/*
 * test_boot_decide - the bootloader's decision table (firmware/lib/boot_core/boot_decide), on the host and
 * in QEMU: the newest state record (none, PENDING, TRIED, CONFIRMED, REVERTED: "confirmation" is whether
 * the tried image wrote CONFIRMED before the reset) x each slot's image validity x the record's slot ->
 * what boots and which record is written first.
 *
 * Every row of TABLE below is run for both slots as the record's slot, and each "X" (not valid) is run
 * with every verdict the image check gives (no image, bad header, bad TLV, bad hash, bad key, bad
 * signature, wrong target, counter below the floor), so that the reasons written are seen to be the
 * slot's own. The lazy checking (a normal boot checks one image) has its own cases.
 */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "boot_decide.h"
#include "hbtest.h"
#include "port.h"

#define FLOOR 3u     /* the record's security counter floor */
#define COUNTER_A 5u /* the valid images' counters */
#define COUNTER_B 7u

/* the verdicts of a slot that is not valid */
static const boot_reason_t k_invalid[] = {
    BOOT_REASON_NO_IMAGE, BOOT_REASON_BAD_HEADER,    BOOT_REASON_BAD_TLV,      BOOT_REASON_BAD_HASH,
    BOOT_REASON_BAD_KEY,  BOOT_REASON_BAD_SIGNATURE, BOOT_REASON_WRONG_TARGET, BOOT_REASON_COUNTER_LOW,
};
#define N_INVALID (sizeof k_invalid / sizeof k_invalid[0])

/* roles: b is the record's slot, a the other one (no record: a is slot 0, b slot 1) */
typedef enum { V, X } validity_t;
typedef enum { GO_A, GO_B, GO_RECOVERY } go_t;
typedef enum { W_NONE = 0, W_PENDING = BOOT_KIND_PENDING, W_TRIED, W_CONFIRMED, W_REVERTED } write_t;
typedef enum { ON_A, ON_B } on_t;
typedef enum { R_NONE, R_NOT_CONFIRMED, R_VERDICT_A, R_VERDICT_B } why_t;
typedef enum { NEWER_A = 1, NEWER_B = -1, SAME = 0 } order_t;

typedef struct row {
    int kind; /* 0: no record */
    validity_t a, b;
    order_t order; /* no record, both valid: which version is newer */
    go_t go;
    bool trial;
    write_t write;
    on_t write_on;
    why_t write_why;
    why_t why; /* the decision's reason */
} row_t;

// clang-format off
static const row_t TABLE[] = {
    /* record       a  b  order    boots        trial  write first  on    its reason        decision's reason */
    /* a new device adopts its best valid image */
    {0,                   V, V, NEWER_A, GO_A,        false, W_CONFIRMED, ON_A, R_NONE,          R_NONE},
    {0,                   V, V, NEWER_B, GO_B,        false, W_CONFIRMED, ON_B, R_NONE,          R_NONE},
    {0,                   V, V, SAME,    GO_A,        false, W_CONFIRMED, ON_A, R_NONE,          R_NONE},
    {0,                   V, X, SAME,    GO_A,        false, W_CONFIRMED, ON_A, R_NONE,          R_NONE},
    {0,                   X, V, SAME,    GO_B,        false, W_CONFIRMED, ON_B, R_NONE,          R_NONE},
    {0,                   X, X, SAME,    GO_RECOVERY, false, W_NONE,      ON_A, R_NONE,          R_VERDICT_A},
    /* PENDING(b): a valid b is tried; an invalid one is reverted with its verdict */
    {BOOT_KIND_PENDING,   V, V, SAME,    GO_B,        true,  W_TRIED,     ON_B, R_NONE,          R_NONE},
    {BOOT_KIND_PENDING,   X, V, SAME,    GO_B,        true,  W_TRIED,     ON_B, R_NONE,          R_NONE},
    {BOOT_KIND_PENDING,   V, X, SAME,    GO_A,        false, W_REVERTED,  ON_B, R_VERDICT_B,     R_VERDICT_B},
    {BOOT_KIND_PENDING,   X, X, SAME,    GO_RECOVERY, false, W_REVERTED,  ON_B, R_VERDICT_B,     R_VERDICT_B},
    /* TRIED(b) found at boot: b reset before confirming; reverted, whatever its image */
    {BOOT_KIND_TRIED,     V, V, SAME,    GO_A,        false, W_REVERTED,  ON_B, R_NOT_CONFIRMED, R_NOT_CONFIRMED},
    {BOOT_KIND_TRIED,     V, X, SAME,    GO_A,        false, W_REVERTED,  ON_B, R_NOT_CONFIRMED, R_NOT_CONFIRMED},
    {BOOT_KIND_TRIED,     X, V, SAME,    GO_RECOVERY, false, W_REVERTED,  ON_B, R_NOT_CONFIRMED, R_NOT_CONFIRMED},
    {BOOT_KIND_TRIED,     X, X, SAME,    GO_RECOVERY, false, W_REVERTED,  ON_B, R_NOT_CONFIRMED, R_NOT_CONFIRMED},
    /* CONFIRMED(b): b runs; if it no longer verifies, a valid a runs on trial */
    {BOOT_KIND_CONFIRMED, V, V, SAME,    GO_B,        false, W_NONE,      ON_A, R_NONE,          R_NONE},
    {BOOT_KIND_CONFIRMED, X, V, SAME,    GO_B,        false, W_NONE,      ON_A, R_NONE,          R_NONE},
    {BOOT_KIND_CONFIRMED, V, X, SAME,    GO_A,        true,  W_TRIED,     ON_A, R_VERDICT_B,     R_VERDICT_B},
    {BOOT_KIND_CONFIRMED, X, X, SAME,    GO_RECOVERY, false, W_NONE,      ON_A, R_NONE,          R_VERDICT_B},
    /* REVERTED(b): a runs; b is never retried */
    {BOOT_KIND_REVERTED,  V, V, SAME,    GO_A,        false, W_NONE,      ON_A, R_NONE,          R_NONE},
    {BOOT_KIND_REVERTED,  V, X, SAME,    GO_A,        false, W_NONE,      ON_A, R_NONE,          R_NONE},
    {BOOT_KIND_REVERTED,  X, V, SAME,    GO_RECOVERY, false, W_NONE,      ON_A, R_NONE,          R_VERDICT_A},
    {BOOT_KIND_REVERTED,  X, X, SAME,    GO_RECOVERY, false, W_NONE,      ON_A, R_NONE,          R_VERDICT_A},
};
// clang-format on
#define N_ROWS (sizeof TABLE / sizeof TABLE[0])

static boot_slot_view_t view(validity_t v, boot_reason_t invalid, uint32_t counter, uint8_t major)
{
    boot_slot_view_t out;
    memset(&out, 0, sizeof out);
    out.checked = true;
    out.verdict = v == V ? BOOT_REASON_NONE : invalid;
    out.security_counter = counter;
    out.version.major = major;
    out.version.minor = 4u;
    out.version.revision = 2u;
    out.version.build = 9u;
    return out;
}

static boot_reason_t expected_reason(why_t why, boot_reason_t verdict_a, boot_reason_t verdict_b)
{
    switch (why) {
    case R_NOT_CONFIRMED:
        return BOOT_REASON_NOT_CONFIRMED;
    case R_VERDICT_A:
        return verdict_a;
    case R_VERDICT_B:
        return verdict_b;
    case R_NONE:
        break;
    }
    return BOOT_REASON_NONE;
}

static void print_row(unsigned i, unsigned b, boot_reason_t va, boot_reason_t vb)
{
    hbtest_print("  row ");
    hbtest_print_u32(i);
    hbtest_print(" with the record's slot ");
    hbtest_print_u32(b);
    hbtest_print(", a: ");
    hbtest_print(boot_reason_name(va));
    hbtest_print(", b: ");
    hbtest_print(boot_reason_name(vb));
    hbtest_print("\n");
}

/* One row with b = slot `b`, the invalid verdicts va and vb. False (and a message) when it decides otherwise. */
static bool row_holds(hbtest_t *t, unsigned i, uint8_t b, boot_reason_t va, boot_reason_t vb)
{
    const row_t *r = &TABLE[i];
    uint8_t a = r->kind == 0 ? 0u : (uint8_t)(1u - b);
    if (r->kind == 0) {
        b = 1u;
    }
    uint8_t major_a = r->order == NEWER_A ? 3u : 2u;
    uint8_t major_b = r->order == NEWER_B ? 3u : 2u;
    boot_slot_view_t views[BOOT_SLOT_COUNT];
    views[a] = view(r->a, va, COUNTER_A, major_a);
    views[b] = view(r->b, vb, COUNTER_B, major_b);
    boot_record_t current = {(boot_kind_t)r->kind, b, BOOT_REASON_NONE, FLOOR};
    boot_decision_t d;
    boot_decide(r->kind == 0 ? NULL : &current, views, &d);
    boot_reason_t verdict_a = views[a].verdict, verdict_b = views[b].verdict;

    bool ok = true;
    switch (r->go) {
    case GO_A:
        ok = ok && d.action == BOOT_ACTION_RUN && d.slot == a && d.trial == r->trial;
        break;
    case GO_B:
        ok = ok && d.action == BOOT_ACTION_RUN && d.slot == b && d.trial == r->trial;
        break;
    case GO_RECOVERY:
        ok = ok && d.action == BOOT_ACTION_RECOVERY;
        break;
    }
    ok = ok && d.reason == expected_reason(r->why, verdict_a, verdict_b);
    ok = ok && d.write == (r->write != W_NONE);
    if (r->write != W_NONE) {
        uint8_t on = r->write_on == ON_A ? a : b;
        /* every record keeps the floor, except the CONFIRMED of a new device: its image's counter */
        uint32_t floor = r->kind == 0 ? (on == a ? COUNTER_A : COUNTER_B) : FLOOR;
        ok = ok && d.record.kind == (boot_kind_t)r->write && d.record.slot == on &&
             d.record.reason == expected_reason(r->write_why, verdict_a, verdict_b) && d.record.sec_floor == floor;
    }
    /* never an image that is not valid */
    ok = ok && (d.action != BOOT_ACTION_RUN || views[d.slot].verdict == BOOT_REASON_NONE);
    if (!HBTEST_CHECK(t, ok)) {
        print_row(i, b, verdict_a, verdict_b);
        return false;
    }
    return true;
}

static void test_every_row_of_the_table_for_both_slots_and_every_verdict(hbtest_t *t)
{
    unsigned runs = 0;
    for (unsigned i = 0; i < N_ROWS; i++) {
        unsigned na = TABLE[i].a == X ? N_INVALID : 1u;
        unsigned nb = TABLE[i].b == X ? N_INVALID : 1u;
        for (uint8_t b = 0; b < BOOT_SLOT_COUNT; b++) {
            for (unsigned ia = 0; ia < na; ia++) {
                for (unsigned ib = 0; ib < nb; ib++) {
                    if (!row_holds(t, i, b, k_invalid[ia], k_invalid[ib])) {
                        return;
                    }
                    runs++;
                }
            }
        }
    }
    /* 22 rows: 7 with (V,V), 10 with one X (8 verdicts), 5 with (X,X) (8 x 8), each for both slots */
    HBTEST_CHECK(t, N_ROWS == 22u);
    HBTEST_CHECK(t, runs == 2u * (7u + 10u * N_INVALID + 5u * N_INVALID * N_INVALID));
}

static void test_the_table_covers_every_record_kind_and_validity(hbtest_t *t)
{
    /* each record kind (and none) with each of the four validity pairs */
    for (int kind = 0; kind <= (int)BOOT_KIND_REVERTED; kind++) {
        for (int a = 0; a < 2; a++) {
            for (int b = 0; b < 2; b++) {
                bool found = false;
                for (unsigned i = 0; i < N_ROWS; i++) {
                    found = found || (TABLE[i].kind == kind && (int)TABLE[i].a == a && (int)TABLE[i].b == b);
                }
                HBTEST_CHECK(t, found);
            }
        }
    }
}

/* The slots boot_decide asks about, in order, until it decides; the views given as `full` when asked. */
static unsigned asked(const boot_record_t *current, const boot_slot_view_t full[BOOT_SLOT_COUNT], uint8_t order[4],
                      boot_decision_t *d)
{
    boot_slot_view_t views[BOOT_SLOT_COUNT];
    memset(views, 0, sizeof views);
    unsigned n = 0;
    for (;;) {
        boot_decide(current, views, d);
        if (d->action != BOOT_ACTION_CHECK || n == 4u) {
            return n;
        }
        order[n++] = d->slot;
        views[d->slot] = full[d->slot];
    }
}

static void test_a_normal_boot_checks_one_image_only(hbtest_t *t)
{
    boot_slot_view_t both_valid[2] = {view(V, BOOT_REASON_NONE, 5u, 1u), view(V, BOOT_REASON_NONE, 5u, 1u)};
    uint8_t order[4];
    boot_decision_t d;
    for (uint8_t b = 0; b < 2u; b++) {
        uint8_t a = (uint8_t)(1u - b);
        boot_record_t confirmed = {BOOT_KIND_CONFIRMED, b, BOOT_REASON_NONE, 1u};
        HBTEST_CHECK(t, asked(&confirmed, both_valid, order, &d) == 1u && order[0] == b);
        HBTEST_CHECK(t, d.action == BOOT_ACTION_RUN && d.slot == b);
        boot_record_t pending = {BOOT_KIND_PENDING, b, BOOT_REASON_NONE, 1u};
        HBTEST_CHECK(t, asked(&pending, both_valid, order, &d) == 1u && order[0] == b);
        boot_record_t tried = {BOOT_KIND_TRIED, b, BOOT_REASON_NONE, 1u};
        HBTEST_CHECK(t, asked(&tried, both_valid, order, &d) == 1u && order[0] == a);
        boot_record_t reverted = {BOOT_KIND_REVERTED, b, BOOT_REASON_NOT_CONFIRMED, 1u};
        HBTEST_CHECK(t, asked(&reverted, both_valid, order, &d) == 1u && order[0] == a);
    }
    /* a new device compares both */
    HBTEST_CHECK(t, asked(NULL, both_valid, order, &d) == 2u && order[0] == 0u && order[1] == 1u);
}

static void test_the_fallback_is_checked_only_when_needed(hbtest_t *t)
{
    boot_slot_view_t full[2] = {view(V, BOOT_REASON_NONE, 5u, 1u), view(X, BOOT_REASON_BAD_HASH, 5u, 1u)};
    uint8_t order[4];
    boot_decision_t d;
    /* slot 1 confirmed but damaged: slot 0 is checked second and runs on trial */
    boot_record_t confirmed = {BOOT_KIND_CONFIRMED, 1u, BOOT_REASON_NONE, 1u};
    HBTEST_CHECK(t, asked(&confirmed, full, order, &d) == 2u && order[0] == 1u && order[1] == 0u);
    HBTEST_CHECK(t, d.action == BOOT_ACTION_RUN && d.slot == 0u && d.trial);
    /* slot 1 pending but bad: reverted, slot 0 checked second */
    boot_record_t pending = {BOOT_KIND_PENDING, 1u, BOOT_REASON_NONE, 1u};
    HBTEST_CHECK(t, asked(&pending, full, order, &d) == 2u && order[0] == 1u && order[1] == 0u);
    HBTEST_CHECK(t, d.action == BOOT_ACTION_RUN && d.slot == 0u && !d.trial);
}

static void test_never_runs_an_unchecked_slot(hbtest_t *t)
{
    boot_slot_view_t none[2];
    memset(none, 0, sizeof none);
    for (int kind = 0; kind <= (int)BOOT_KIND_REVERTED; kind++) {
        for (uint8_t b = 0; b < 2u; b++) {
            boot_record_t r = {(boot_kind_t)kind, b, BOOT_REASON_NONE, 1u};
            boot_decision_t d;
            boot_decide(kind == 0 ? NULL : &r, none, &d);
            HBTEST_CHECK(t, d.action == BOOT_ACTION_CHECK && !d.write);
        }
    }
}

static void test_the_running_slot_follows_from_the_newest_record(hbtest_t *t)
{
    for (uint8_t b = 0; b < 2u; b++) {
        boot_record_t r = {BOOT_KIND_TRIED, b, BOOT_REASON_NONE, 1u};
        HBTEST_CHECK(t, boot_decide_running_slot(&r) == b);
        r.kind = BOOT_KIND_CONFIRMED;
        HBTEST_CHECK(t, boot_decide_running_slot(&r) == b);
        r.kind = BOOT_KIND_REVERTED;
        HBTEST_CHECK(t, boot_decide_running_slot(&r) == 1 - b);
        r.kind = BOOT_KIND_PENDING;
        HBTEST_CHECK(t, boot_decide_running_slot(&r) == -1);
    }
    HBTEST_CHECK(t, boot_decide_running_slot(NULL) == -1);
}

static void test_versions_compare_major_minor_revision_then_build(hbtest_t *t)
{
    boot_version_t v = {1u, 2u, 3u, 4u};
    boot_version_t w = v;
    HBTEST_CHECK(t, boot_version_compare(&v, &w) == 0);
    w.build = 5u;
    HBTEST_CHECK(t, boot_version_compare(&v, &w) < 0);
    w = v;
    w.revision = 2u;
    w.build = 99u;
    HBTEST_CHECK(t, boot_version_compare(&v, &w) > 0);
    w = v;
    w.minor = 3u;
    w.revision = 0u;
    HBTEST_CHECK(t, boot_version_compare(&v, &w) < 0);
    w = v;
    w.major = 0u;
    w.minor = 255u;
    HBTEST_CHECK(t, boot_version_compare(&v, &w) > 0);
}

int main(void)
{
    hbtest_t t;
    port_init();
    hbtest_begin(&t);
    hbtest_run(&t, "every_row_of_the_table_for_both_slots_and_every_verdict",
               test_every_row_of_the_table_for_both_slots_and_every_verdict);
    hbtest_run(&t, "the_table_covers_every_record_kind_and_validity",
               test_the_table_covers_every_record_kind_and_validity);
    hbtest_run(&t, "a_normal_boot_checks_one_image_only", test_a_normal_boot_checks_one_image_only);
    hbtest_run(&t, "the_fallback_is_checked_only_when_needed", test_the_fallback_is_checked_only_when_needed);
    hbtest_run(&t, "never_runs_an_unchecked_slot", test_never_runs_an_unchecked_slot);
    hbtest_run(&t, "the_running_slot_follows_from_the_newest_record",
               test_the_running_slot_follows_from_the_newest_record);
    hbtest_run(&t, "versions_compare_major_minor_revision_then_build",
               test_versions_compare_major_minor_revision_then_build);
    port_exit(hbtest_end(&t));
}
