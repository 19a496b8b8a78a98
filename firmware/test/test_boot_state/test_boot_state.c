/*
 * test_boot_state - the boot state records (firmware/lib/boot_core/boot_state), on the port's flash (host:
 * a buffer; QEMU: the PSRAM) behind a flash that can lose power after any write unit (boot_cutflash):
 * the record layout and its CRC, reading the newest valid record, appending, torn records, and the
 * compaction of a full page under a power cut at every write unit of every step, torn erases included.
 */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "boot_layout.h"
#include "boot_state.h"
#include "boot_testflash.h"
#include "hbtest.h"
#include "port.h"
#include "wire.h"

#define STATE BOOT_LAYOUT_STATE_OFFSET
#define PAGE BOOT_FLASH_PAGE_SIZE
#define PER_PAGE BOOT_STATE_RECORDS_PER_PAGE
#define REC BOOT_STATE_RECORD_SIZE

static boot_testflash_t g_tf;
static boot_state_t g_bs;
/* the two state pages, saved and put back around each power cut */
static uint8_t g_snapshot[2u * PAGE];
static uint8_t g_page[PAGE];

static boot_record_t rec(boot_kind_t kind, uint8_t slot, boot_reason_t reason, uint32_t floor)
{
    boot_record_t r;
    r.kind = kind;
    r.slot = slot;
    r.reason = reason;
    r.sec_floor = floor;
    return r;
}

static bool same_record(const boot_record_t *a, const boot_record_t *b)
{
    return a != NULL && b != NULL && a->kind == b->kind && a->slot == b->slot && a->reason == b->reason &&
           a->sec_floor == b->sec_floor;
}

/* the record number i of a long run: every kind, slot, reason and floor moves */
static boot_record_t nth(uint32_t i)
{
    return rec((boot_kind_t)(1u + i % 4u), (uint8_t)(i % 2u), (boot_reason_t)(i % (uint32_t)BOOT_REASON_COUNT),
               1000u + i);
}

static bool fresh(void)
{
    return boot_testflash_erase_all(&g_tf) && boot_state_open(&g_bs, &g_tf.cut.ops, STATE) == BOOT_STATE_OK;
}

static bool reopen(void)
{
    return boot_state_open(&g_bs, &g_tf.cut.ops, STATE) == BOOT_STATE_OK;
}

static bool page_all(uint32_t offset, uint8_t value)
{
    if (port_flash_read(offset, g_page, PAGE) != PORT_FLASH_OK) {
        return false;
    }
    for (uint32_t i = 0; i < PAGE; i++) {
        if (g_page[i] != value) {
            return false;
        }
    }
    return true;
}

static bool save_state_pages(void)
{
    return port_flash_read(STATE, g_snapshot, sizeof g_snapshot) == PORT_FLASH_OK;
}

static bool restore_state_pages(void)
{
    boot_cutflash_power_on(&g_tf.cut);
    return port_flash_erase_page(STATE) == PORT_FLASH_OK && port_flash_erase_page(STATE + PAGE) == PORT_FLASH_OK &&
           port_flash_write(STATE, g_snapshot, sizeof g_snapshot) == PORT_FLASH_OK;
}

/* Writes raw bytes into the state pages through the port (no cut). */
static bool poke(uint32_t offset, const uint8_t *bytes, size_t len)
{
    return port_flash_write(offset, bytes, len) == PORT_FLASH_OK;
}

/* ---- the record ---- */

static void test_a_record_is_16_bytes_laid_out_as_documented(hbtest_t *t)
{
    boot_record_t r = rec(BOOT_KIND_REVERTED, 1u, BOOT_REASON_BAD_SIGNATURE, 0x0A0B0C0Du);
    uint8_t raw[REC];
    boot_state_encode(&r, 0x11223344u, raw);
    HBTEST_CHECK(t, REC == 16u);
    HBTEST_CHECK(t, raw[0] == 0x07u && raw[1] == 0xB0u); /* magic 0xB007, little endian */
    HBTEST_CHECK(t, raw[2] == 4u);                       /* REVERTED */
    HBTEST_CHECK(t, raw[3] == 1u);                       /* slot */
    HBTEST_CHECK(t, raw[4] == 0x44u && raw[5] == 0x33u && raw[6] == 0x22u && raw[7] == 0x11u);
    HBTEST_CHECK(t, raw[8] == 0x0Du && raw[9] == 0x0Cu && raw[10] == 0x0Bu && raw[11] == 0x0Au);
    HBTEST_CHECK(t, raw[12] == (uint8_t)BOOT_REASON_BAD_SIGNATURE);
    HBTEST_CHECK(t, raw[13] == 1u); /* format */
    uint16_t crc = wire_crc16(0xFFFFu, raw, 14u);
    HBTEST_CHECK(t, raw[14] == (uint8_t)(crc & 0xFFu) && raw[15] == (uint8_t)(crc >> 8));
    boot_record_t back;
    uint32_t seq = 0u;
    HBTEST_CHECK(t, boot_state_decode(raw, &back, &seq));
    HBTEST_CHECK(t, same_record(&back, &r));
    HBTEST_CHECK(t, seq == 0x11223344u);
}

static void test_a_torn_record_is_never_valid(hbtest_t *t)
{
    boot_record_t r = rec(BOOT_KIND_TRIED, 0u, BOOT_REASON_NONE, 7u);
    uint8_t raw[REC];
    boot_state_encode(&r, 42u, raw);
    /* a prefix of its write units programmed, the rest erased */
    for (unsigned units = 0; units < REC / BOOT_FLASH_WRITE_UNIT; units++) {
        uint8_t torn[REC];
        memset(torn, 0xFF, sizeof torn);
        memcpy(torn, raw, units * BOOT_FLASH_WRITE_UNIT);
        boot_record_t back;
        uint32_t seq;
        HBTEST_CHECK(t, !boot_state_decode(torn, &back, &seq));
    }
    /* every single bit different from the record (a unit half programmed, a bit that decayed) */
    for (unsigned bit = 0; bit < REC * 8u; bit++) {
        uint8_t bad[REC];
        memcpy(bad, raw, sizeof bad);
        bad[bit / 8u] ^= (uint8_t)(1u << (bit % 8u));
        boot_record_t back;
        uint32_t seq;
        if (!HBTEST_CHECK(t, !boot_state_decode(bad, &back, &seq))) {
            hbtest_print("  accepted with bit ");
            hbtest_print_u32(bit);
            hbtest_print(" flipped\n");
            return;
        }
    }
}

static void test_a_record_out_of_range_is_invalid_even_with_its_crc(hbtest_t *t)
{
    /* kind 0 and 5, slot 2, an unknown reason, format 2: each with a CRC that matches */
    static const struct {
        unsigned at;
        uint8_t value;
    } cases[] = {{2u, 0u}, {2u, 5u}, {3u, 2u}, {12u, (uint8_t)BOOT_REASON_COUNT}, {13u, 2u}};
    for (unsigned i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        boot_record_t r = rec(BOOT_KIND_PENDING, 0u, BOOT_REASON_NONE, 1u);
        uint8_t raw[REC];
        boot_state_encode(&r, 1u, raw);
        raw[cases[i].at] = cases[i].value;
        uint16_t crc = wire_crc16(0xFFFFu, raw, 14u);
        raw[14] = (uint8_t)(crc & 0xFFu);
        raw[15] = (uint8_t)(crc >> 8);
        boot_record_t back;
        uint32_t seq;
        HBTEST_CHECK(t, !boot_state_decode(raw, &back, &seq));
    }
}

/* ---- reading and appending ---- */

static void test_an_erased_flash_has_no_record(hbtest_t *t)
{
    HBTEST_CHECK(t, fresh());
    HBTEST_CHECK(t, boot_state_current(&g_bs) == NULL);
    HBTEST_CHECK(t, g_bs.seq == 0u);
    HBTEST_CHECK(t, g_bs.active_page == 0u && g_bs.next == 0u);
}

static void test_open_refuses_a_base_off_a_page_and_changes_nothing(hbtest_t *t)
{
    HBTEST_CHECK(t, fresh());
    uint32_t before = g_tf.cut.units;
    HBTEST_CHECK(t, boot_state_open(&g_bs, &g_tf.cut.ops, STATE + 16u) == BOOT_STATE_ERR_ARG);
    HBTEST_CHECK(t, boot_state_open(NULL, &g_tf.cut.ops, STATE) == BOOT_STATE_ERR_ARG);
    HBTEST_CHECK(t, g_tf.cut.units == before);
}

static void test_each_append_is_the_newest_record_after_a_reopen(hbtest_t *t)
{
    HBTEST_CHECK(t, fresh());
    boot_record_t steps[4] = {
        rec(BOOT_KIND_CONFIRMED, 0u, BOOT_REASON_NONE, 1u), rec(BOOT_KIND_PENDING, 1u, BOOT_REASON_NONE, 1u),
        rec(BOOT_KIND_TRIED, 1u, BOOT_REASON_NONE, 1u), rec(BOOT_KIND_CONFIRMED, 1u, BOOT_REASON_NONE, 2u)};
    for (unsigned i = 0; i < 4u; i++) {
        HBTEST_CHECK(t, boot_state_append(&g_bs, &steps[i]) == BOOT_STATE_OK);
        HBTEST_CHECK(t, same_record(boot_state_current(&g_bs), &steps[i]));
        HBTEST_CHECK(t, reopen());
        HBTEST_CHECK(t, same_record(boot_state_current(&g_bs), &steps[i]));
        HBTEST_CHECK(t, g_bs.seq == i + 1u);
        HBTEST_CHECK(t, g_bs.next == i + 1u);
    }
}

static void test_append_refuses_a_record_out_of_range_and_writes_nothing(hbtest_t *t)
{
    HBTEST_CHECK(t, fresh());
    uint32_t before = g_tf.cut.units;
    boot_record_t bad[3] = {rec((boot_kind_t)0, 0u, BOOT_REASON_NONE, 0u),
                            rec(BOOT_KIND_PENDING, 2u, BOOT_REASON_NONE, 0u),
                            rec(BOOT_KIND_REVERTED, 0u, BOOT_REASON_COUNT, 0u)};
    for (unsigned i = 0; i < 3u; i++) {
        HBTEST_CHECK(t, boot_state_append(&g_bs, &bad[i]) == BOOT_STATE_ERR_ARG);
    }
    HBTEST_CHECK(t, g_tf.cut.units == before);
    HBTEST_CHECK(t, page_all(STATE, 0xFFu));
}

static void test_a_torn_append_leaves_the_old_record_and_its_slot_is_skipped(hbtest_t *t)
{
    boot_record_t old = rec(BOOT_KIND_CONFIRMED, 0u, BOOT_REASON_NONE, 3u);
    boot_record_t new_rec = rec(BOOT_KIND_PENDING, 1u, BOOT_REASON_NONE, 3u);
    static const uint32_t masks[2] = {0u, 0x00FF00FFu}; /* the torn unit left as it was, or half programmed */
    for (unsigned m = 0; m < 2u; m++) {
        for (uint32_t k = 0; k < REC / BOOT_FLASH_WRITE_UNIT; k++) {
            HBTEST_CHECK(t, fresh());
            HBTEST_CHECK(t, boot_state_append(&g_bs, &old) == BOOT_STATE_OK);
            g_tf.cut.torn_mask = masks[m];
            boot_cutflash_arm(&g_tf.cut, k);
            HBTEST_CHECK(t, boot_state_append(&g_bs, &new_rec) == BOOT_STATE_ERR_FLASH);
            HBTEST_CHECK(t, boot_state_append(&g_bs, &new_rec) == BOOT_STATE_ERR_STALE);
            boot_cutflash_power_on(&g_tf.cut);
            HBTEST_CHECK(t, reopen());
            HBTEST_CHECK(t, same_record(boot_state_current(&g_bs), &old));
            /* a slot with any bit programmed is used: only a cut before the first bit leaves it free */
            bool untouched = k == 0u && masks[m] == 0u;
            HBTEST_CHECK(t, g_bs.next == (untouched ? 1u : 2u));
            HBTEST_CHECK(t, boot_state_append(&g_bs, &new_rec) == BOOT_STATE_OK);
            HBTEST_CHECK(t, reopen());
            HBTEST_CHECK(t, same_record(boot_state_current(&g_bs), &new_rec));
            HBTEST_CHECK(t, g_bs.seq == 2u);
        }
    }
}

static void test_the_highest_sequence_wins_wherever_it_is(hbtest_t *t)
{
    HBTEST_CHECK(t, fresh());
    uint8_t raw[REC];
    boot_record_t a = rec(BOOT_KIND_CONFIRMED, 0u, BOOT_REASON_NONE, 1u);
    boot_record_t b = rec(BOOT_KIND_REVERTED, 1u, BOOT_REASON_NOT_CONFIRMED, 1u);
    boot_record_t c = rec(BOOT_KIND_TRIED, 1u, BOOT_REASON_NONE, 1u);
    boot_state_encode(&a, 9u, raw);
    HBTEST_CHECK(t, poke(STATE + 5u * REC, raw, REC));
    boot_state_encode(&b, 12u, raw); /* the newest: page 1, slot 3 */
    HBTEST_CHECK(t, poke(STATE + PAGE + 3u * REC, raw, REC));
    boot_state_encode(&c, 11u, raw);
    HBTEST_CHECK(t, poke(STATE + PAGE + 7u * REC, raw, REC));
    HBTEST_CHECK(t, reopen());
    HBTEST_CHECK(t, same_record(boot_state_current(&g_bs), &b));
    HBTEST_CHECK(t, g_bs.seq == 12u && g_bs.active_page == 1u);
    HBTEST_CHECK(t, g_bs.next == 8u); /* after the last slot that is not erased */
}

/* ---- compaction ---- */

static void test_a_long_run_of_appends_ping_pongs_between_the_pages(hbtest_t *t)
{
    HBTEST_CHECK(t, fresh());
    const uint32_t total = 3u * PER_PAGE + 17u;
    uint32_t compactions = 0u;
    for (uint32_t i = 0; i < total; i++) {
        boot_record_t r = nth(i);
        uint8_t page_before = g_bs.active_page;
        if (!HBTEST_CHECK(t, boot_state_append(&g_bs, &r) == BOOT_STATE_OK)) {
            return;
        }
        if (g_bs.active_page != page_before) {
            compactions++;
            /* the full page was erased; the new one holds the copy and the record */
            HBTEST_CHECK(t, page_all(STATE + page_before * PAGE, 0xFFu));
            HBTEST_CHECK(t, g_bs.next == 2u);
        }
        if (i % 61u == 0u || g_bs.active_page != page_before) {
            HBTEST_CHECK(t, reopen());
            HBTEST_CHECK(t, same_record(boot_state_current(&g_bs), &r));
        }
    }
    /* 256 records fill the first page; each compaction spends one slot on the copy */
    HBTEST_CHECK(t, compactions == 3u);
    HBTEST_CHECK(t, reopen());
    boot_record_t last = nth(total - 1u);
    HBTEST_CHECK(t, same_record(boot_state_current(&g_bs), &last));
    HBTEST_CHECK(t, g_bs.seq == total + compactions); /* the copies took a sequence number each */
}

/* Fills page 0 of an erased state with `count` records nth(0..count-1) (sequence numbers 1..count). */
static bool fill_page0(uint32_t count)
{
    if (!fresh()) {
        return false;
    }
    for (uint32_t i = 0; i < count; i++) {
        boot_record_t r = nth(i);
        if (boot_state_append(&g_bs, &r) != BOOT_STATE_OK) {
            return false;
        }
    }
    return g_bs.active_page == 0u;
}

/* Page 1 as a torn erase leaves it: its first `erased` slots 0xFF, then valid records older than page 0's
 * (sequence numbers 1..), and a last slot of garbage. */
static bool dirty_page1(uint32_t erased)
{
    uint8_t raw[REC];
    for (uint32_t i = erased; i + 1u < PER_PAGE; i++) {
        boot_record_t r = rec(BOOT_KIND_CONFIRMED, 1u, BOOT_REASON_NONE, 5u);
        boot_state_encode(&r, (i - erased) % 3u, raw); /* seq 0..2: older than any of page 0 */
        if (!poke(STATE + PAGE + i * REC, raw, REC)) {
            return false;
        }
    }
    memset(raw, 0x5A, sizeof raw);
    return poke(STATE + PAGE + (PER_PAGE - 1u) * REC, raw, REC);
}

/*
 * The compaction of a full page, then the append that needed it, with the power cut after k write units
 * for every k: afterwards the state is the old newest record or the new one, nothing else, and the next
 * append works and is the newest. `target_dirty`: the other page is not erased (step 1 runs).
 */
static void compaction_cut_everywhere(hbtest_t *t, bool target_dirty, uint32_t torn_mask)
{
    HBTEST_CHECK(t, fill_page0(PER_PAGE));
    /* the first record written with seq 1 is nth(0); page 0 ends with nth(255), seq 256 */
    if (target_dirty) {
        HBTEST_CHECK(t, dirty_page1(100u));
    }
    HBTEST_CHECK(t, save_state_pages());
    boot_record_t old = nth(PER_PAGE - 1u);
    boot_record_t new_rec = rec(BOOT_KIND_PENDING, 1u, BOOT_REASON_NONE, 77u);
    boot_record_t after = rec(BOOT_KIND_TRIED, 1u, BOOT_REASON_NONE, 77u);
    /* the units of the whole append, without a cut */
    HBTEST_CHECK(t, reopen());
    HBTEST_CHECK(t, g_bs.next == PER_PAGE);
    uint32_t before = g_tf.cut.units;
    HBTEST_CHECK(t, boot_state_append(&g_bs, &new_rec) == BOOT_STATE_OK);
    uint32_t units = g_tf.cut.units - before;
    /* erase the target (if dirty), the copy, erase the full page, the record */
    uint32_t page_units = PAGE / BOOT_FLASH_WRITE_UNIT, rec_units = REC / BOOT_FLASH_WRITE_UNIT;
    HBTEST_CHECK(t, units == (target_dirty ? page_units : 0u) + rec_units + page_units + rec_units);
    uint32_t saw_old = 0u, saw_new = 0u;
    for (uint32_t k = 0; k < units; k++) {
        HBTEST_CHECK(t, restore_state_pages());
        HBTEST_CHECK(t, reopen());
        g_tf.cut.torn_mask = torn_mask;
        boot_cutflash_arm(&g_tf.cut, k);
        HBTEST_CHECK(t, boot_state_append(&g_bs, &new_rec) == BOOT_STATE_ERR_FLASH);
        HBTEST_CHECK(t, g_tf.cut.cut);
        boot_cutflash_power_on(&g_tf.cut);
        if (!HBTEST_CHECK(t, reopen())) {
            return;
        }
        const boot_record_t *now = boot_state_current(&g_bs);
        bool is_old = same_record(now, &old);
        bool is_new = same_record(now, &new_rec);
        if (!HBTEST_CHECK(t, is_old || is_new)) {
            hbtest_print("  neither the old nor the new record after a cut at unit ");
            hbtest_print_u32(k);
            hbtest_print("\n");
            return;
        }
        saw_old += is_old ? 1u : 0u;
        saw_new += is_new ? 1u : 0u;
        /* the next append works whatever the cut left */
        HBTEST_CHECK(t, boot_state_append(&g_bs, &after) == BOOT_STATE_OK);
        HBTEST_CHECK(t, reopen());
        if (!HBTEST_CHECK(t, same_record(boot_state_current(&g_bs), &after))) {
            hbtest_print("  the append after a cut at unit ");
            hbtest_print_u32(k);
            hbtest_print(" is not the newest\n");
            return;
        }
    }
    /* the new record is the last unit written: a cut anywhere before it is complete keeps the old state
     * (in the new page after step 2) */
    HBTEST_CHECK(t, saw_new == 0u);
    HBTEST_CHECK(t, saw_old == units);
}

static void test_compaction_survives_a_power_cut_at_every_unit(hbtest_t *t)
{
    compaction_cut_everywhere(t, false, 0u);
}

static void test_compaction_survives_cuts_with_a_dirty_target_and_half_programmed_units(hbtest_t *t)
{
    compaction_cut_everywhere(t, true, 0x0F0F0F0Fu);
}

static void test_a_page_of_garbage_without_a_record_is_compacted_away(hbtest_t *t)
{
    HBTEST_CHECK(t, fresh());
    uint8_t raw[REC];
    memset(raw, 0x00, sizeof raw);
    for (uint32_t i = 0; i < PER_PAGE; i++) {
        HBTEST_CHECK(t, poke(STATE + i * REC, raw, REC));
    }
    HBTEST_CHECK(t, reopen());
    HBTEST_CHECK(t, boot_state_current(&g_bs) == NULL);
    HBTEST_CHECK(t, g_bs.next == PER_PAGE);
    boot_record_t r = rec(BOOT_KIND_CONFIRMED, 0u, BOOT_REASON_NONE, 1u);
    HBTEST_CHECK(t, boot_state_append(&g_bs, &r) == BOOT_STATE_OK);
    HBTEST_CHECK(t, reopen());
    HBTEST_CHECK(t, same_record(boot_state_current(&g_bs), &r));
    HBTEST_CHECK(t, g_bs.active_page == 1u && g_bs.seq == 1u && g_bs.next == 1u);
    HBTEST_CHECK(t, page_all(STATE, 0xFFu));
}

static void test_names(hbtest_t *t)
{
    HBTEST_CHECK(t, strcmp(boot_kind_name(BOOT_KIND_PENDING), "pending") == 0);
    HBTEST_CHECK(t, strcmp(boot_kind_name(BOOT_KIND_REVERTED), "reverted") == 0);
    HBTEST_CHECK(t, strcmp(boot_kind_name((boot_kind_t)9), "unknown") == 0);
    HBTEST_CHECK(t, strcmp(boot_state_status_name(BOOT_STATE_ERR_STALE), "stale") == 0);
    HBTEST_CHECK(t, strcmp(boot_reason_name(BOOT_REASON_NOT_CONFIRMED), "not_confirmed") == 0);
    HBTEST_CHECK(t, strcmp(boot_reason_name(BOOT_REASON_COUNT), "unknown") == 0);
    for (int r = 0; r < (int)BOOT_REASON_COUNT; r++) { /* every reason has a name */
        HBTEST_CHECK(t, strcmp(boot_reason_name((boot_reason_t)r), "unknown") != 0);
    }
}

static void test_reasons_map_to_the_wire_update_results(hbtest_t *t)
{
    /* docs/protocol.md 2.3: the reasons a BOOT_REPORT gives for REFUSED and REVERTED */
    HBTEST_CHECK(t, boot_reason_wire_code(BOOT_REASON_NONE) == WIRE_UPD_OK);
    HBTEST_CHECK(t, boot_reason_wire_code(BOOT_REASON_NOT_CONFIRMED) == 0x21u);
    HBTEST_CHECK(t, boot_reason_wire_code(BOOT_REASON_SELF_TEST_FAILED) == 0x20u);
    HBTEST_CHECK(t, boot_reason_wire_code(BOOT_REASON_NO_IMAGE) == 0x11u);
    HBTEST_CHECK(t, boot_reason_wire_code(BOOT_REASON_BAD_HEADER) == 0x11u);
    HBTEST_CHECK(t, boot_reason_wire_code(BOOT_REASON_BAD_TLV) == 0x11u);
    HBTEST_CHECK(t, boot_reason_wire_code(BOOT_REASON_BAD_HASH) == 0x12u);
    HBTEST_CHECK(t, boot_reason_wire_code(BOOT_REASON_BAD_KEY) == 0x13u);
    HBTEST_CHECK(t, boot_reason_wire_code(BOOT_REASON_BAD_SIGNATURE) == 0x14u);
    HBTEST_CHECK(t, boot_reason_wire_code(BOOT_REASON_WRONG_TARGET) == 0x15u);
    HBTEST_CHECK(t, boot_reason_wire_code(BOOT_REASON_COUNTER_LOW) == 0x16u);
    HBTEST_CHECK(t, boot_reason_wire_code(BOOT_REASON_FLASH_ERROR) == 0x09u);
    for (int r = 0; r < (int)BOOT_REASON_COUNT; r++) {
        HBTEST_CHECK(t, wire_update_result_known(boot_reason_wire_code((boot_reason_t)r)));
    }
}

int main(void)
{
    hbtest_t t;
    port_init();
    hbtest_begin(&t);
    if (!boot_testflash_open(&g_tf)) {
        hbtest_print("test_boot_state: no flash to test on\n");
        port_exit(1);
    }
    hbtest_run(&t, "a_record_is_16_bytes_laid_out_as_documented", test_a_record_is_16_bytes_laid_out_as_documented);
    hbtest_run(&t, "a_torn_record_is_never_valid", test_a_torn_record_is_never_valid);
    hbtest_run(&t, "a_record_out_of_range_is_invalid_even_with_its_crc",
               test_a_record_out_of_range_is_invalid_even_with_its_crc);
    hbtest_run(&t, "an_erased_flash_has_no_record", test_an_erased_flash_has_no_record);
    hbtest_run(&t, "open_refuses_a_base_off_a_page_and_changes_nothing",
               test_open_refuses_a_base_off_a_page_and_changes_nothing);
    hbtest_run(&t, "each_append_is_the_newest_record_after_a_reopen",
               test_each_append_is_the_newest_record_after_a_reopen);
    hbtest_run(&t, "append_refuses_a_record_out_of_range_and_writes_nothing",
               test_append_refuses_a_record_out_of_range_and_writes_nothing);
    hbtest_run(&t, "a_torn_append_leaves_the_old_record_and_its_slot_is_skipped",
               test_a_torn_append_leaves_the_old_record_and_its_slot_is_skipped);
    hbtest_run(&t, "the_highest_sequence_wins_wherever_it_is", test_the_highest_sequence_wins_wherever_it_is);
    hbtest_run(&t, "a_long_run_of_appends_ping_pongs_between_the_pages",
               test_a_long_run_of_appends_ping_pongs_between_the_pages);
    hbtest_run(&t, "compaction_survives_a_power_cut_at_every_unit", test_compaction_survives_a_power_cut_at_every_unit);
    hbtest_run(&t, "compaction_survives_cuts_with_a_dirty_target_and_half_programmed_units",
               test_compaction_survives_cuts_with_a_dirty_target_and_half_programmed_units);
    hbtest_run(&t, "a_page_of_garbage_without_a_record_is_compacted_away",
               test_a_page_of_garbage_without_a_record_is_compacted_away);
    hbtest_run(&t, "names", test_names);
    hbtest_run(&t, "reasons_map_to_the_wire_update_results", test_reasons_map_to_the_wire_update_results);
    port_exit(hbtest_end(&t));
}
