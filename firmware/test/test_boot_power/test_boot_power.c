/*
 * test_boot_power - the boot chain under power cuts (firmware/lib/boot_core: boot_state, boot_decide,
 * boot_image, boot_select), on the port's flash with the default layout (two 256 KiB slots, the state
 * pages after them) and the crypto stand-in.
 *
 * An update is a sequence of steps, each of which writes the flash: the transfer of the new image into the
 * inactive slot, its install (PENDING), the first boot (TRIED), its confirmation (CONFIRMED) or its
 * failed self-test (REVERTED). For every step and every k, the power is cut after k write units of that
 * step (the unit at the cut left half programmed): the next boot must run a valid image, the old one or
 * the new one, never neither, and which one it runs is the one the design says (docs/ota.md); then the
 * update, retried by the host as often as it takes, completes. The state pages are filled beforehand to
 * every level that puts a compaction (with its erases) inside one of the steps.
 */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "boot_decide.h"
#include "boot_image.h"
#include "boot_layout.h"
#include "boot_select.h"
#include "boot_state.h"
#include "boot_stubcrypto.h"
#include "boot_testflash.h"
#include "boot_testimage.h"
#include "hbtest.h"
#include "port.h"

#define PAGE BOOT_FLASH_PAGE_SIZE
#define IMAGE_CAP (2u * PAGE) /* an image spans two pages: its transfer erases two */
#define PAYLOAD 5000u
#define CHUNK 256u /* bytes per write, as UPDATE_CHUNK carries them */
#define LOAD_ADDRESS 0x00010000u
#define MAX_STEPS 6u
/* every k on the host; in QEMU (the same code, slower) every 7th, so that the suite stays within its time */
#if defined(__arm__)
#define K_STRIDE 7u
#else
#define K_STRIDE 1u
#endif

static const uint8_t KEY[] = "the built-in key (stand-in)";

static boot_testflash_t g_tf;
static const boot_layout_t g_layout = BOOT_LAYOUT_DEFAULT;
static boot_stubcrypto_hash_t g_hash;
static boot_crypto_ops_t g_crypto;
static boot_image_policy_t g_policy;
static boot_image_checker_t g_checker;
static uint8_t g_work[512];

typedef struct image {
    uint8_t bytes[IMAGE_CAP];
    uint32_t len;
    uint8_t major; /* version major.0.0: which image it is */
    uint32_t counter;
} image_t;

static image_t g_v1, g_v2, g_v3, g_v2_bad_sig, g_v0_low;

/* the scenario under test */
static uint8_t g_old, g_new;   /* slots */
static const image_t *g_image; /* what the transfer writes into g_new */
static const image_t *g_in[2]; /* the image each slot holds once the update is done */
static boot_state_t g_bs;
static boot_selection_t g_sel;

/* ---- the device and the host, one flash operation at a time ---- */

static bool open_state(void)
{
    return boot_state_open(&g_bs, &g_tf.cut.ops, g_layout.state_offset) == BOOT_STATE_OK;
}

/* a boot: the bootloader's decision (and its record) */
static bool dev_boot(void)
{
    if (!open_state()) {
        return false;
    }
    boot_select_run(&g_bs, &g_layout, &g_checker, &g_sel);
    return true;
}

/* the host's chunks into the inactive slot: its pages erased, then the image written in order */
static bool host_transfer(void)
{
    const boot_flash_ops_t *f = &g_tf.cut.ops;
    uint32_t base = g_layout.slot_offset[g_new];
    for (uint32_t at = 0; at < g_image->len; at += PAGE) {
        if (!f->erase_page(f->user, base + at)) {
            return false;
        }
    }
    for (uint32_t at = 0; at < g_image->len; at += CHUNK) {
        uint32_t n = g_image->len - at < CHUNK ? g_image->len - at : CHUNK;
        if (!f->write(f->user, base + at, g_image->bytes + at, (n + 3u) & ~3u)) {
            return false;
        }
    }
    return true;
}

/* UPDATE_INSTALL: the device checks the received image (hash, signature, target, counter) and writes PENDING */
static bool dev_install(void)
{
    boot_image_info_t info;
    if (!open_state()) {
        return false;
    }
    const boot_record_t *cur = boot_state_current(&g_bs);
    uint32_t floor = cur != NULL ? cur->sec_floor : 0u;
    if (boot_image_check(&g_checker, g_layout.slot_offset[g_new], g_layout.slot_size, floor, &info) !=
        BOOT_REASON_NONE) {
        return false;
    }
    boot_record_t pending = {BOOT_KIND_PENDING, g_new, BOOT_REASON_NONE, floor};
    return boot_state_append(&g_bs, &pending) == BOOT_STATE_OK;
}

/* PENDING written without the device's check (the bootloader must refuse the image itself) */
static bool dev_install_unchecked(void)
{
    if (!open_state()) {
        return false;
    }
    const boot_record_t *cur = boot_state_current(&g_bs);
    boot_record_t pending = {BOOT_KIND_PENDING, g_new, BOOT_REASON_NONE, cur != NULL ? cur->sec_floor : 0u};
    return boot_state_append(&g_bs, &pending) == BOOT_STATE_OK;
}

/* the running image's self-test passed: CONFIRMED, the floor raised to its counter */
static bool dev_confirm(void)
{
    if (!open_state() || boot_state_current(&g_bs) == NULL) {
        return false;
    }
    boot_record_t cur = *boot_state_current(&g_bs);
    int running = boot_decide_running_slot(&cur);
    if (running < 0) {
        return false;
    }
    boot_image_info_t info;
    if (boot_image_check(&g_checker, g_layout.slot_offset[running], g_layout.slot_size, cur.sec_floor, &info) !=
        BOOT_REASON_NONE) {
        return false;
    }
    uint32_t floor = info.security_counter > cur.sec_floor ? info.security_counter : cur.sec_floor;
    boot_record_t confirmed = {BOOT_KIND_CONFIRMED, (uint8_t)running, BOOT_REASON_NONE, floor};
    return boot_state_append(&g_bs, &confirmed) == BOOT_STATE_OK;
}

/* the running image's self-test failed: it reverts itself */
static bool dev_self_test_fails(void)
{
    if (!open_state() || boot_state_current(&g_bs) == NULL) {
        return false;
    }
    boot_record_t cur = *boot_state_current(&g_bs);
    int running = boot_decide_running_slot(&cur);
    if (running < 0) {
        return false;
    }
    boot_record_t reverted = {BOOT_KIND_REVERTED, (uint8_t)running, BOOT_REASON_SELF_TEST_FAILED, cur.sec_floor};
    return boot_state_append(&g_bs, &reverted) == BOOT_STATE_OK;
}

/* ---- what a boot ran ---- */

typedef enum { RAN_OLD, RAN_NEW_ON_TRIAL, RAN_NEW_CONFIRMED, RAN_OTHER } ran_t;

/* The boot just made ran a valid image: which one. RAN_OTHER: nothing, or not a valid image we know. */
static ran_t what_ran(void)
{
    const boot_decision_t *d = &g_sel.decision;
    if (d->action != BOOT_ACTION_RUN || !g_sel.checked[d->slot] || g_sel.image[d->slot].verdict != BOOT_REASON_NONE) {
        return RAN_OTHER;
    }
    uint8_t major = g_sel.image[d->slot].version.major;
    if (d->slot == g_old && major == g_in[g_old]->major) {
        return RAN_OLD;
    }
    if (d->slot == g_new && major == g_in[g_new]->major) {
        return d->trial ? RAN_NEW_ON_TRIAL : RAN_NEW_CONFIRMED;
    }
    return RAN_OTHER;
}

static void say_ran(const char *scenario, unsigned step, uint32_t k)
{
    hbtest_print("  ");
    hbtest_print(scenario);
    hbtest_print(": after a cut at unit ");
    hbtest_print_u32(k);
    hbtest_print(" of step ");
    hbtest_print_u32(step);
    hbtest_print(" the boot did ");
    hbtest_print(g_sel.decision.action == BOOT_ACTION_RUN ? "run slot " : "recovery, slot ");
    hbtest_print_u32(g_sel.decision.slot);
    hbtest_print(" (");
    hbtest_print(boot_reason_name(g_sel.decision.reason));
    hbtest_print(")\n");
}

/* ---- snapshots of the flash the steps write: the new slot's image pages and the state pages ---- */

typedef struct snapshot {
    uint8_t slot[IMAGE_CAP];
    uint8_t state[BOOT_STATE_PAGES * PAGE];
} snapshot_t;

static snapshot_t g_snap[MAX_STEPS];

static bool snapshot_save(snapshot_t *s)
{
    return port_flash_read(g_layout.slot_offset[g_new], s->slot, sizeof s->slot) == PORT_FLASH_OK &&
           port_flash_read(g_layout.state_offset, s->state, sizeof s->state) == PORT_FLASH_OK;
}

static bool put_back(uint32_t offset, const uint8_t *bytes, uint32_t len)
{
    for (uint32_t at = 0; at < len; at += PAGE) {
        if (port_flash_erase_page(offset + at) != PORT_FLASH_OK) {
            return false;
        }
    }
    return port_flash_write(offset, bytes, len) == PORT_FLASH_OK;
}

static bool snapshot_restore(const snapshot_t *s)
{
    boot_cutflash_power_on(&g_tf.cut);
    return put_back(g_layout.slot_offset[g_new], s->slot, sizeof s->slot) &&
           put_back(g_layout.state_offset, s->state, sizeof s->state);
}

/* ---- setup ---- */

static bool make_image(image_t *img, uint8_t major, uint32_t counter, uint8_t seed)
{
    boot_testimage_spec_t s;
    boot_testimage_layout_t layout;
    memset(&s, 0, sizeof s);
    s.load_address = LOAD_ADDRESS;
    s.header_size = 0x200u;
    s.payload_size = PAYLOAD;
    s.payload_seed = seed;
    s.flags = BOOT_IMAGE_F_RAM_LOAD;
    s.version.major = major;
    s.security_counter = counter;
    s.target = "qemu";
    s.key = KEY;
    s.key_len = sizeof KEY;
    memset(img->bytes, 0xFF, sizeof img->bytes);
    img->len = boot_testimage_build(&s, img->bytes, sizeof img->bytes, &layout);
    img->major = major;
    img->counter = counter;
    return img->len > PAGE && img->len <= IMAGE_CAP;
}

static bool setup_images(void)
{
    boot_stubcrypto_bind(&g_crypto, &g_hash);
    g_policy.pubkey = KEY;
    g_policy.pubkey_len = sizeof KEY;
    g_policy.target = "qemu";
    g_policy.load_address = LOAD_ADDRESS;
    g_policy.load_capacity = 0x40000u;
    g_checker.flash = &g_tf.cut.ops;
    g_checker.crypto = &g_crypto;
    g_checker.policy = &g_policy;
    g_checker.buf = g_work;
    g_checker.buf_len = sizeof g_work;
    if (!make_image(&g_v1, 1u, 1u, 0x10u) || !make_image(&g_v2, 2u, 2u, 0x20u) || !make_image(&g_v3, 3u, 3u, 0x30u) ||
        !make_image(&g_v2_bad_sig, 2u, 2u, 0x40u) || !make_image(&g_v0_low, 9u, 0u, 0x50u)) {
        return false;
    }
    g_v2_bad_sig.bytes[g_v2_bad_sig.len - 3u] ^= 0x01u; /* a byte of the signature */
    return true;
}

/* A device as it leaves the bench: v1 in slot 0 adopted at its first boot, then (the update under test
 * going from `old` to `new`) already updated once when old is slot 1. The state page is filled so that
 * `free_slots` records fit before the next compaction (-1: no filling). */
static bool setup_device(uint8_t old, int free_slots)
{
    if (!boot_testflash_erase_all(&g_tf)) {
        return false;
    }
    g_old = 1u;
    g_new = 0u;
    g_image = &g_v1;
    if (!host_transfer() || !dev_boot() || g_sel.decision.action != BOOT_ACTION_RUN || g_sel.decision.slot != 0u) {
        return false;
    }
    if (old == 1u) { /* v2 into slot 1, confirmed */
        g_old = 0u;
        g_new = 1u;
        g_image = &g_v2;
        if (!host_transfer() || !dev_install() || !dev_boot() || !dev_confirm() || !dev_boot() ||
            g_sel.decision.slot != 1u || g_sel.decision.trial) {
            return false;
        }
    }
    if (free_slots >= 0) {
        if (!open_state() || boot_state_current(&g_bs) == NULL) {
            return false;
        }
        boot_record_t same = *boot_state_current(&g_bs); /* the state again: nothing changes but the fill */
        while (g_bs.next < BOOT_STATE_RECORDS_PER_PAGE - (uint32_t)free_slots) {
            if (boot_state_append(&g_bs, &same) != BOOT_STATE_OK) {
                return false;
            }
        }
    }
    return true;
}

/* ---- the property ---- */

typedef enum { EXPECT_OLD, EXPECT_NEW_ON_TRIAL, EXPECT_NEW_CONFIRMED } expect_t;

typedef struct step {
    const char *name;
    bool (*run)(void);
    expect_t after_cut; /* what the next boot runs after a cut inside this step */
    bool writes_state;  /* false: it writes the slot only (cut once, not at every fill level of the state) */
} step_t;

typedef struct scenario {
    const char *name;
    uint8_t old_slot;
    const image_t *image; /* the update */
    step_t steps[MAX_STEPS];
    unsigned n_steps;
    bool completes; /* true: retried, the update ends confirmed; false: the old image stays */
} scenario_t;

/* The host retries until the device runs the new image confirmed (or gives up after a few rounds). */
static bool drive_to_completion(void)
{
    for (unsigned round = 0; round < 8u; round++) {
        if (!dev_boot()) {
            return false;
        }
        switch (what_ran()) {
        case RAN_NEW_CONFIRMED:
            return true;
        case RAN_NEW_ON_TRIAL:
            if (!dev_confirm()) {
                return false;
            }
            break;
        case RAN_OLD:
            if (!host_transfer() || !dev_install()) {
                return false;
            }
            break;
        case RAN_OTHER:
            return false;
        }
    }
    return false;
}

/* The new image fails its self-test whenever it runs: the device ends running the old one, and stays. */
static bool drive_to_revert(void)
{
    for (unsigned round = 0; round < 4u; round++) {
        if (!dev_boot()) {
            return false;
        }
        switch (what_ran()) {
        case RAN_OLD:
            return dev_boot() && what_ran() == RAN_OLD && !g_sel.written;
        case RAN_NEW_ON_TRIAL:
            if (!dev_self_test_fails()) {
                return false;
            }
            break;
        case RAN_NEW_CONFIRMED:
        case RAN_OTHER:
            return false;
        }
    }
    return false;
}

static bool expectation_met(expect_t e, ran_t ran)
{
    return (e == EXPECT_OLD && ran == RAN_OLD) || (e == EXPECT_NEW_ON_TRIAL && ran == RAN_NEW_ON_TRIAL) ||
           (e == EXPECT_NEW_CONFIRMED && ran == RAN_NEW_CONFIRMED);
}

/* Runs `sc` with the state filled to `free_slots`; returns the number of cuts made (0 on a failure). */
static uint32_t cut_everywhere(hbtest_t *t, const scenario_t *sc, int free_slots)
{
    if (!HBTEST_CHECK(t, setup_device(sc->old_slot, free_slots))) {
        return 0u;
    }
    g_old = sc->old_slot;
    g_new = (uint8_t)(1u - sc->old_slot);
    g_image = sc->image;
    g_in[g_old] = g_old == 0u ? &g_v1 : &g_v2;
    g_in[g_new] = sc->image;
    /* once without a cut: the flash before each step, and each step's write units */
    uint32_t units[MAX_STEPS];
    for (unsigned i = 0; i < sc->n_steps; i++) {
        HBTEST_CHECK(t, snapshot_save(&g_snap[i]));
        uint32_t before = g_tf.cut.units;
        if (!HBTEST_CHECK(t, sc->steps[i].run())) {
            hbtest_print("  the step failed without a cut: ");
            hbtest_print(sc->steps[i].name);
            hbtest_print("\n");
            return 0u;
        }
        units[i] = g_tf.cut.units - before;
    }
    uint32_t cuts = 0u;
    for (unsigned i = 0; i < sc->n_steps; i++) {
        if (free_slots >= 0 && !sc->steps[i].writes_state) {
            continue; /* the fill level of the state changes nothing in this step */
        }
        for (uint32_t k = 0; k < units[i]; k += K_STRIDE) {
            HBTEST_CHECK(t, snapshot_restore(&g_snap[i]));
            g_tf.cut.torn_mask = 0x33CC33CCu ^ k; /* the torn unit half programmed, differently each time */
            boot_cutflash_arm(&g_tf.cut, k);
            (void)sc->steps[i].run();
            if (!HBTEST_CHECK(t, g_tf.cut.cut)) {
                return 0u;
            }
            boot_cutflash_power_on(&g_tf.cut);
            cuts++;
            /* the next boot runs a valid image, the old or the new, and the one the design says */
            bool booted = dev_boot();
            ran_t ran = what_ran();
            if (!HBTEST_CHECK(t, booted && ran != RAN_OTHER && expectation_met(sc->steps[i].after_cut, ran))) {
                say_ran(sc->name, i, k);
                return 0u;
            }
            if (sc->completes) {
                if (!HBTEST_CHECK(t, drive_to_completion())) {
                    hbtest_print("  the update did not complete after the cut: ");
                    say_ran(sc->name, i, k);
                    return 0u;
                }
                const boot_record_t *cur = boot_state_current(&g_bs);
                HBTEST_CHECK(t, cur != NULL && cur->kind == BOOT_KIND_CONFIRMED && cur->slot == g_new &&
                                    cur->sec_floor == sc->image->counter);
            } else if (!HBTEST_CHECK(t, drive_to_revert())) {
                hbtest_print("  the device did not settle on the old image after the cut: ");
                say_ran(sc->name, i, k);
                return 0u;
            }
        }
    }
    return cuts;
}

static void run_scenario_at_every_fill(hbtest_t *t, const scenario_t *sc)
{
    static const int fills[] = {-1, 0, 1, 2, 3};
    uint32_t total = 0u;
    for (unsigned f = 0; f < sizeof fills / sizeof fills[0]; f++) {
        uint32_t cuts = cut_everywhere(t, sc, fills[f]);
        if (!HBTEST_CHECK(t, cuts > 0u)) {
            hbtest_print("  at the fill level ");
            hbtest_print_i64(fills[f]);
            hbtest_print("\n");
            return;
        }
        total += cuts;
    }
    hbtest_print("  ");
    hbtest_print(sc->name);
    hbtest_print(": ");
    hbtest_print_u32(total);
    hbtest_print(" power cuts, each followed by a boot of a valid image, then the update's designed end\n");
}

/* ---- the scenarios ---- */

static void test_an_update_survives_a_cut_at_every_unit_of_every_step(hbtest_t *t)
{
    scenario_t sc = {"update v1 -> v2",
                     0u,
                     &g_v2,
                     {{"transfer", host_transfer, EXPECT_OLD, false},
                      {"install (PENDING)", dev_install, EXPECT_OLD, true},
                      {"first boot (TRIED)", dev_boot, EXPECT_NEW_ON_TRIAL, true},
                      {"self-test passed (CONFIRMED)", dev_confirm, EXPECT_OLD, true},
                      {"next boot", dev_boot, EXPECT_NEW_CONFIRMED, true}},
                     5u,
                     true};
    run_scenario_at_every_fill(t, &sc);
}

static void test_the_next_update_back_into_slot_0_survives_the_same(hbtest_t *t)
{
    scenario_t sc = {"update v2 -> v3",
                     1u,
                     &g_v3,
                     {{"transfer", host_transfer, EXPECT_OLD, false},
                      {"install (PENDING)", dev_install, EXPECT_OLD, true},
                      {"first boot (TRIED)", dev_boot, EXPECT_NEW_ON_TRIAL, true},
                      {"self-test passed (CONFIRMED)", dev_confirm, EXPECT_OLD, true}},
                     4u,
                     true};
    run_scenario_at_every_fill(t, &sc);
}

static void test_a_failed_self_test_reverts_under_every_cut(hbtest_t *t)
{
    scenario_t sc = {"self-test fails",
                     0u,
                     &g_v2,
                     {{"transfer", host_transfer, EXPECT_OLD, false},
                      {"install (PENDING)", dev_install, EXPECT_OLD, true},
                      {"first boot (TRIED)", dev_boot, EXPECT_NEW_ON_TRIAL, true},
                      {"self-test failed (REVERTED)", dev_self_test_fails, EXPECT_OLD, true},
                      {"boot after the revert", dev_boot, EXPECT_OLD, true}},
                     5u,
                     false};
    run_scenario_at_every_fill(t, &sc);
    /* the reason on the flash is the self-test's */
    HBTEST_CHECK(t, setup_device(0u, -1));
    g_old = 0u;
    g_new = 1u;
    g_image = &g_v2;
    HBTEST_CHECK(t, host_transfer() && dev_install() && dev_boot() && g_sel.decision.trial);
    HBTEST_CHECK(t, dev_self_test_fails() && dev_boot() && g_sel.decision.slot == 0u && !g_sel.written);
    const boot_record_t *cur = boot_state_current(&g_bs);
    HBTEST_CHECK(t, cur != NULL && cur->kind == BOOT_KIND_REVERTED && cur->slot == 1u &&
                        cur->reason == BOOT_REASON_SELF_TEST_FAILED && cur->sec_floor == 1u);
}

static void test_an_image_installed_without_its_check_is_refused_by_the_bootloader(hbtest_t *t)
{
    scenario_t sc = {"bad signature installed",
                     0u,
                     &g_v2_bad_sig,
                     {{"transfer", host_transfer, EXPECT_OLD, false},
                      {"install (PENDING, unchecked)", dev_install_unchecked, EXPECT_OLD, true},
                      {"boot (REVERTED)", dev_boot, EXPECT_OLD, true}},
                     3u,
                     false};
    run_scenario_at_every_fill(t, &sc);
    const boot_record_t *cur = boot_state_current(&g_bs);
    HBTEST_CHECK(t, cur != NULL && cur->kind == BOOT_KIND_REVERTED && cur->slot == 1u &&
                        cur->reason == BOOT_REASON_BAD_SIGNATURE);
    /* the device's own check refuses it before anything is written */
    HBTEST_CHECK(t, setup_device(0u, -1));
    g_new = 1u;
    g_image = &g_v2_bad_sig;
    uint32_t before = g_tf.cut.units;
    HBTEST_CHECK(t, host_transfer());
    uint32_t transfer_units = g_tf.cut.units - before;
    HBTEST_CHECK(t, !dev_install() && g_tf.cut.units - before == transfer_units);
}

static void test_a_lower_security_counter_is_refused_at_install_and_at_boot(hbtest_t *t)
{
    /* the floor is 2 once v2 is confirmed; an image with counter 0 and a higher version */
    HBTEST_CHECK(t, setup_device(1u, -1));
    g_old = 1u;
    g_new = 0u;
    g_image = &g_v0_low;
    g_in[0] = &g_v0_low;
    g_in[1] = &g_v2;
    HBTEST_CHECK(t, host_transfer());
    HBTEST_CHECK(t, !dev_install());
    HBTEST_CHECK(t, dev_install_unchecked() && dev_boot());
    HBTEST_CHECK(t, what_ran() == RAN_OLD && g_sel.written);
    HBTEST_CHECK(t, g_sel.decision.reason == BOOT_REASON_COUNTER_LOW);
    const boot_record_t *cur = boot_state_current(&g_bs);
    HBTEST_CHECK(t, cur != NULL && cur->kind == BOOT_KIND_REVERTED && cur->reason == BOOT_REASON_COUNTER_LOW &&
                        cur->sec_floor == 2u);
}

static void test_an_image_on_trial_never_runs_without_its_tried_record(hbtest_t *t)
{
    HBTEST_CHECK(t, setup_device(0u, -1));
    g_old = 0u;
    g_new = 1u;
    g_image = &g_v2;
    HBTEST_CHECK(t, host_transfer() && dev_install() && open_state());
    g_tf.cut.cut = true; /* writes fail (and reads, which the state has done already) */
    g_checker.flash = &g_tf.port;
    boot_select_run(&g_bs, &g_layout, &g_checker, &g_sel);
    g_checker.flash = &g_tf.cut.ops;
    boot_cutflash_power_on(&g_tf.cut);
    HBTEST_CHECK(t, g_sel.decision.action == BOOT_ACTION_RECOVERY && !g_sel.written);
    HBTEST_CHECK(t, g_sel.decision.reason == BOOT_REASON_FLASH_ERROR);
    /* with a working flash, the next boot tries it */
    HBTEST_CHECK(t, dev_boot() && g_sel.decision.action == BOOT_ACTION_RUN && g_sel.decision.slot == 1u &&
                        g_sel.decision.trial && g_sel.written);
}

static void test_a_state_that_cannot_be_read_runs_nothing(hbtest_t *t)
{
    HBTEST_CHECK(t, setup_device(0u, -1));
    g_tf.cut.cut = true; /* every read fails */
    HBTEST_CHECK(t, boot_state_open(&g_bs, &g_tf.cut.ops, g_layout.state_offset) == BOOT_STATE_ERR_FLASH);
    boot_cutflash_power_on(&g_tf.cut);
    boot_select_run(&g_bs, &g_layout, &g_checker, &g_sel);
    HBTEST_CHECK(t, g_sel.decision.action == BOOT_ACTION_RECOVERY && !g_sel.written);
    HBTEST_CHECK(t, g_sel.decision.reason == BOOT_REASON_FLASH_ERROR);
    HBTEST_CHECK(t, !g_sel.checked[0] && !g_sel.checked[1]);
    /* read again: the confirmed slot 0 runs */
    HBTEST_CHECK(t, dev_boot() && g_sel.decision.action == BOOT_ACTION_RUN && g_sel.decision.slot == 0u &&
                        !g_sel.decision.trial);
}

static void test_a_device_without_a_valid_image_stays_in_recovery(hbtest_t *t)
{
    HBTEST_CHECK(t, boot_testflash_erase_all(&g_tf));
    HBTEST_CHECK(t, dev_boot());
    HBTEST_CHECK(t, g_sel.decision.action == BOOT_ACTION_RECOVERY && !g_sel.written);
    HBTEST_CHECK(t, g_sel.decision.reason == BOOT_REASON_NO_IMAGE);
    HBTEST_CHECK(t, g_sel.checked[0] && g_sel.checked[1]);
    /* a confirmed image that no longer verifies, and nothing else: recovery, nothing written */
    HBTEST_CHECK(t, setup_device(0u, -1));
    uint8_t zero[4] = {0u, 0u, 0u, 0u};
    HBTEST_CHECK(t, port_flash_write(g_layout.slot_offset[0] + 0x200u + 64u, zero, sizeof zero) == PORT_FLASH_OK);
    HBTEST_CHECK(t, dev_boot() && g_sel.decision.action == BOOT_ACTION_RECOVERY && !g_sel.written);
    HBTEST_CHECK(t, g_sel.decision.reason == BOOT_REASON_BAD_HASH);
}

int main(void)
{
    hbtest_t t;
    port_init();
    hbtest_begin(&t);
    if (!boot_testflash_open(&g_tf) || !setup_images()) {
        hbtest_print("test_boot_power: no flash to test on, or the test images do not fit\n");
        port_exit(1);
    }
    hbtest_run(&t, "an_update_survives_a_cut_at_every_unit_of_every_step",
               test_an_update_survives_a_cut_at_every_unit_of_every_step);
    hbtest_run(&t, "the_next_update_back_into_slot_0_survives_the_same",
               test_the_next_update_back_into_slot_0_survives_the_same);
    hbtest_run(&t, "a_failed_self_test_reverts_under_every_cut", test_a_failed_self_test_reverts_under_every_cut);
    hbtest_run(&t, "an_image_installed_without_its_check_is_refused_by_the_bootloader",
               test_an_image_installed_without_its_check_is_refused_by_the_bootloader);
    hbtest_run(&t, "a_lower_security_counter_is_refused_at_install_and_at_boot",
               test_a_lower_security_counter_is_refused_at_install_and_at_boot);
    hbtest_run(&t, "an_image_on_trial_never_runs_without_its_tried_record",
               test_an_image_on_trial_never_runs_without_its_tried_record);
    hbtest_run(&t, "a_state_that_cannot_be_read_runs_nothing", test_a_state_that_cannot_be_read_runs_nothing);
    hbtest_run(&t, "a_device_without_a_valid_image_stays_in_recovery",
               test_a_device_without_a_valid_image_stays_in_recovery);
    port_exit(hbtest_end(&t));
}
