/*
 * test_update_rx - the device's side of an image transfer (firmware/lib/update: update_rx) on the port's flash
 * (host: a buffer; the default layout: two 256 KiB slots and the state pages) with the real crypto (imgcrypto:
 * mbedtls SHA-256 and ECDSA P-256) and real images: update_vectors.h, signed by imgtool at build time with a key
 * made and dropped by firmware/test/gen_update_vectors.py (never committed).
 *
 * Every answer is checked against docs/protocol.md 3.6 (state, result, next_offset), and the flash against the
 * design: a transfer writes only the inactive slot (erasing its pages as it reaches them), never the running
 * slot, never the state pages; only an install writes the state (one PENDING record).
 */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "boot_crypto_imgcrypto.h"
#include "boot_layout.h"
#include "boot_state.h"
#include "boot_testflash.h"
#include "hbtest.h"
#include "port.h"
#include "update_rx.h"
#include "update_vectors.h"

#define SLOT0 BOOT_LAYOUT_SLOT0_OFFSET
#define SLOT1 BOOT_LAYOUT_SLOT1_OFFSET
#define PAGE BOOT_FLASH_PAGE_SIZE
#define IMAGE_CAP (UV_VALID_LEN + 16u)

/* The flash the module gets: the test flash, with every write and erase counted and its range kept. */
typedef struct rec_flash {
    const boot_flash_ops_t *inner;
    uint32_t writes;
    uint32_t erases;
    uint32_t lo; /* the lowest offset written or erased (UINT32_MAX: none) */
    uint32_t hi; /* one past the highest */
} rec_flash_t;

static boot_testflash_t g_tf;
static rec_flash_t g_rec;
static boot_flash_ops_t g_flash;
static imgcrypto_sha256_t g_sha;
static boot_crypto_ops_t g_crypto;
static boot_image_policy_t g_policy;
static uint8_t g_work[256];
static update_rx_t g_u;
static wire_update_state_t g_st;
static uint8_t g_img[IMAGE_CAP];
static uint32_t g_len;
static uint8_t g_page[PAGE];

static void touch(uint32_t offset, uint32_t len)
{
    if (offset < g_rec.lo) {
        g_rec.lo = offset;
    }
    if (offset + len > g_rec.hi) {
        g_rec.hi = offset + len;
    }
}

static bool rec_read(void *user, uint32_t offset, void *out, size_t len)
{
    (void)user;
    return g_rec.inner->read(g_rec.inner->user, offset, out, len);
}

static bool rec_write(void *user, uint32_t offset, const void *data, size_t len)
{
    (void)user;
    g_rec.writes++;
    touch(offset, (uint32_t)len);
    return g_rec.inner->write(g_rec.inner->user, offset, data, len);
}

static bool rec_erase(void *user, uint32_t offset)
{
    (void)user;
    g_rec.erases++;
    touch(offset, PAGE);
    return g_rec.inner->erase_page(g_rec.inner->user, offset);
}

static void rec_reset(void)
{
    g_rec.writes = 0;
    g_rec.erases = 0;
    g_rec.lo = UINT32_MAX;
    g_rec.hi = 0;
}

/* A fresh device: the boot chain's flash erased, slot 0 holding a pattern (the running image), no record. */
static bool fresh(void)
{
    if (!boot_testflash_erase_all(&g_tf)) {
        return false;
    }
    memset(g_page, 0x5A, sizeof g_page);
    for (uint32_t at = 0; at < 4u * PAGE; at += PAGE) {
        if (port_flash_write(SLOT0 + at, g_page, PAGE) != PORT_FLASH_OK) {
            return false;
        }
    }
    g_rec.inner = &g_tf.cut.ops;
    g_flash.read = rec_read;
    g_flash.write = rec_write;
    g_flash.erase_page = rec_erase;
    g_flash.user = &g_rec;
    boot_crypto_imgcrypto_bind(&g_crypto, &g_sha);
    g_policy.pubkey = UV_PUBKEY;
    g_policy.pubkey_len = UV_PUBKEY_LEN;
    g_policy.target = "qemu";
    g_policy.load_address = UV_LOAD_ADDRESS;
    g_policy.load_capacity = BOOT_LAYOUT_SLOT_SIZE;
    const update_rx_config_t cfg = {&g_flash, BOOT_LAYOUT_DEFAULT, &g_crypto, &g_policy, g_work, sizeof g_work};
    update_rx_init(&g_u, &cfg);
    rec_reset();
    return true;
}

static bool slot0_untouched(void)
{
    for (uint32_t at = 0; at < 4u * PAGE; at += PAGE) {
        if (port_flash_read(SLOT0 + at, g_page, PAGE) != PORT_FLASH_OK) {
            return false;
        }
        for (uint32_t i = 0; i < PAGE; i++) {
            if (g_page[i] != 0x5A) {
                return false;
            }
        }
    }
    return true;
}

/* The records on the flash: has_record and its kind, slot, floor. */
static bool record_is(bool has, boot_kind_t kind, uint8_t slot)
{
    boot_state_t bs;
    if (boot_state_open(&bs, &g_tf.cut.ops, BOOT_LAYOUT_STATE_OFFSET) != BOOT_STATE_OK) {
        return false;
    }
    const boot_record_t *r = boot_state_current(&bs);
    if (!has) {
        return r == NULL;
    }
    return r != NULL && r->kind == kind && r->slot == slot;
}

static bool put_record(boot_kind_t kind, uint8_t slot, uint32_t floor)
{
    boot_state_t bs;
    boot_record_t r = {kind, slot, BOOT_REASON_NONE, floor};
    return boot_state_open(&bs, &g_tf.cut.ops, BOOT_LAYOUT_STATE_OFFSET) == BOOT_STATE_OK &&
           boot_state_append(&bs, &r) == BOOT_STATE_OK;
}

static void use_image(const uint8_t *bytes, uint32_t len)
{
    memcpy(g_img, bytes, len);
    g_len = len;
}

static wire_update_begin_t begin_for(const uint8_t *bytes, uint32_t len, uint32_t counter)
{
    wire_update_begin_t b;
    memset(&b, 0, sizeof b);
    b.image_size = len;
    imgcrypto_sha256_t h;
    imgcrypto_sha256_init(&h);
    imgcrypto_sha256_update(&h, bytes, len);
    imgcrypto_sha256_finish(&h, b.image_sha256);
    b.version_major = UV_VERSION_MAJOR;
    b.version_minor = UV_VERSION_MINOR;
    b.version_revision = UV_VERSION_REVISION;
    b.version_build = UV_VERSION_BUILD;
    b.security_counter = counter;
    return b;
}

static bool is(uint8_t state, uint8_t result, uint32_t next)
{
    return g_st.state == state && g_st.result == result && g_st.next_offset == next;
}

static void chunk(uint32_t offset, uint32_t len)
{
    wire_update_chunk_t c;
    c.offset = offset;
    c.length = (uint16_t)len;
    memcpy(c.data, g_img + offset, len);
    update_rx_chunk(&g_u, &c, &g_st);
}

/* Sends g_img from `from` in 256-byte chunks (the last shorter); true when each was taken in order. */
static bool send_from(uint32_t from)
{
    for (uint32_t at = from; at < g_len; at += WIRE_CHUNK_MAX) {
        uint32_t n = g_len - at < WIRE_CHUNK_MAX ? g_len - at : WIRE_CHUNK_MAX;
        chunk(at, n);
        if (!is(WIRE_XFER_RECEIVING, WIRE_UPD_OK, at + n)) {
            return false;
        }
    }
    return true;
}

/* BEGIN + every chunk + END of g_img announced as `b`; the END's answer is in g_st. */
static bool transfer(const wire_update_begin_t *b)
{
    update_rx_begin(&g_u, b, &g_st);
    if (!is(WIRE_XFER_RECEIVING, WIRE_UPD_OK, 0u) || !send_from(0u)) {
        return false;
    }
    update_rx_end(&g_u, &g_st);
    return true;
}

static bool slot_holds(uint32_t slot_offset, const uint8_t *bytes, uint32_t len)
{
    uint8_t buf[256];
    for (uint32_t at = 0; at < len; at += sizeof buf) {
        uint32_t n = len - at < sizeof buf ? len - at : (uint32_t)sizeof buf;
        if (port_flash_read(slot_offset + at, buf, n) != PORT_FLASH_OK || memcmp(buf, bytes + at, n) != 0) {
            return false;
        }
    }
    return true;
}

/* ---- the whole path ---- */

static void test_a_valid_image_is_received_verified_and_installed(hbtest_t *t)
{
    HBTEST_CHECK(t, fresh());
    use_image(UV_VALID, UV_VALID_LEN);
    wire_update_begin_t b = begin_for(g_img, g_len, UV_COUNTER);
    HBTEST_CHECK(t, transfer(&b));
    HBTEST_CHECK(t, is(WIRE_XFER_VERIFIED, WIRE_UPD_OK, g_len));
    HBTEST_CHECK(t, update_rx_last_check(&g_u)->verdict == BOOT_REASON_NONE);
    HBTEST_CHECK(t, update_rx_last_check(&g_u)->security_counter == UV_COUNTER);
    HBTEST_CHECK(t, slot_holds(SLOT1, g_img, g_len));
    /* only slot 1's pages the image reaches were erased, each once; nothing else was written */
    uint32_t pages = (g_len + PAGE - 1u) / PAGE;
    HBTEST_CHECK(t, g_rec.erases == pages);
    HBTEST_CHECK(t, g_rec.lo == SLOT1 && g_rec.hi == SLOT1 + pages * PAGE);
    HBTEST_CHECK(t, record_is(false, BOOT_KIND_PENDING, 0u) && slot0_untouched());
    /* END and a chunk again: verified already */
    update_rx_end(&g_u, &g_st);
    HBTEST_CHECK(t, is(WIRE_XFER_VERIFIED, WIRE_UPD_OK, g_len));
    chunk(0u, 256u);
    HBTEST_CHECK(t, is(WIRE_XFER_VERIFIED, WIRE_UPD_OK, g_len));
    /* the install writes one record, PENDING(1), in the state pages only */
    rec_reset();
    update_rx_install(&g_u, &g_st);
    HBTEST_CHECK(t, is(WIRE_XFER_INSTALLING, WIRE_UPD_OK, g_len));
    HBTEST_CHECK(t, record_is(true, BOOT_KIND_PENDING, 1u));
    HBTEST_CHECK(t, g_rec.lo >= BOOT_LAYOUT_STATE_OFFSET && g_rec.hi <= BOOT_LAYOUT_END && g_rec.erases == 0u);
    /* then everything is BUSY, nothing changes */
    rec_reset();
    update_rx_install(&g_u, &g_st);
    HBTEST_CHECK(t, is(WIRE_XFER_INSTALLING, WIRE_UPD_BUSY, g_len));
    update_rx_begin(&g_u, &b, &g_st);
    HBTEST_CHECK(t, is(WIRE_XFER_INSTALLING, WIRE_UPD_OK, g_len) || is(WIRE_XFER_INSTALLING, WIRE_UPD_BUSY, g_len));
    update_rx_abort(&g_u, &g_st);
    HBTEST_CHECK(t, is(WIRE_XFER_INSTALLING, WIRE_UPD_BUSY, g_len));
    chunk(0u, 256u);
    HBTEST_CHECK(t, is(WIRE_XFER_INSTALLING, WIRE_UPD_BUSY, g_len));
    HBTEST_CHECK(t, g_rec.writes == 0u && g_rec.erases == 0u);
}

static void test_the_transfer_goes_to_the_slot_not_running(hbtest_t *t)
{
    /* CONFIRMED(1): slot 1 runs, slot 0 is written; REVERTED(0): slot 1 runs too */
    const boot_kind_t kinds[2] = {BOOT_KIND_CONFIRMED, BOOT_KIND_REVERTED};
    const uint8_t slots[2] = {1u, 0u};
    for (unsigned i = 0; i < 2u; i++) {
        HBTEST_CHECK(t, fresh() && put_record(kinds[i], slots[i], 0u));
        use_image(UV_VALID, UV_VALID_LEN);
        wire_update_begin_t b = begin_for(g_img, g_len, UV_COUNTER);
        HBTEST_CHECK(t, transfer(&b) && is(WIRE_XFER_VERIFIED, WIRE_UPD_OK, g_len));
        HBTEST_CHECK(t, slot_holds(SLOT0, g_img, g_len));
        HBTEST_CHECK(t, g_rec.lo == SLOT0 && g_rec.hi <= SLOT1);
        update_rx_install(&g_u, &g_st);
        HBTEST_CHECK(t, is(WIRE_XFER_INSTALLING, WIRE_UPD_OK, g_len) && record_is(true, BOOT_KIND_PENDING, 0u));
    }
    HBTEST_CHECK(t, update_rx_target_slot(NULL) == 1u);
}

/* ---- resume and repeats ---- */

static void test_a_transfer_resumes_from_what_is_held(hbtest_t *t)
{
    HBTEST_CHECK(t, fresh());
    use_image(UV_VALID, UV_VALID_LEN);
    wire_update_begin_t b = begin_for(g_img, g_len, UV_COUNTER);
    update_rx_begin(&g_u, &b, &g_st);
    HBTEST_CHECK(t, is(WIRE_XFER_RECEIVING, WIRE_UPD_OK, 0u));
    for (uint32_t at = 0; at < 20u * 256u; at += 256u) {
        chunk(at, 256u);
    }
    HBTEST_CHECK(t, is(WIRE_XFER_RECEIVING, WIRE_UPD_OK, 20u * 256u));
    /* the same image begun again (a disconnect): nothing is lost, nothing erased again */
    uint32_t erases = g_rec.erases;
    update_rx_begin(&g_u, &b, &g_st);
    HBTEST_CHECK(t, is(WIRE_XFER_RECEIVING, WIRE_UPD_OK, 20u * 256u));
    HBTEST_CHECK(t, send_from(20u * 256u));
    HBTEST_CHECK(t, g_rec.erases == erases + 1u); /* only the third page, when the transfer reached it */
    update_rx_end(&g_u, &g_st);
    HBTEST_CHECK(t, is(WIRE_XFER_VERIFIED, WIRE_UPD_OK, g_len));
    /* verified: the same BEGIN again keeps it verified */
    update_rx_begin(&g_u, &b, &g_st);
    HBTEST_CHECK(t, is(WIRE_XFER_VERIFIED, WIRE_UPD_OK, g_len));
    /* another image (one field differs) starts over at 0 */
    wire_update_begin_t other = b;
    other.version_build++;
    update_rx_begin(&g_u, &other, &g_st);
    HBTEST_CHECK(t, is(WIRE_XFER_RECEIVING, WIRE_UPD_OK, 0u));
    update_rx_install(&g_u, &g_st);
    HBTEST_CHECK(t, is(WIRE_XFER_RECEIVING, WIRE_UPD_NOT_VERIFIED, 0u));
    HBTEST_CHECK(t, record_is(false, BOOT_KIND_PENDING, 0u));
}

static void test_chunks_are_idempotent_and_in_order(hbtest_t *t)
{
    HBTEST_CHECK(t, fresh());
    use_image(UV_VALID, UV_VALID_LEN);
    wire_update_begin_t b = begin_for(g_img, g_len, UV_COUNTER);
    update_rx_begin(&g_u, &b, &g_st);
    chunk(0u, 256u);
    chunk(256u, 256u);
    HBTEST_CHECK(t, is(WIRE_XFER_RECEIVING, WIRE_UPD_OK, 512u));
    /* a held chunk: the same next_offset, nothing written */
    uint32_t writes = g_rec.writes;
    chunk(0u, 256u);
    HBTEST_CHECK(t, is(WIRE_XFER_RECEIVING, WIRE_UPD_OK, 512u) && g_rec.writes == writes);
    chunk(256u, 256u);
    HBTEST_CHECK(t, is(WIRE_XFER_RECEIVING, WIRE_UPD_OK, 512u) && g_rec.writes == writes);
    /* one beyond next_offset: OUT_OF_ORDER with the offset needed */
    chunk(768u, 256u);
    HBTEST_CHECK(t, is(WIRE_XFER_RECEIVING, WIRE_UPD_OUT_OF_ORDER, 512u) && g_rec.writes == writes);
    /* past the image: BAD_OFFSET (checked first) */
    chunk(g_len - 4u, 8u);
    HBTEST_CHECK(t, is(WIRE_XFER_RECEIVING, WIRE_UPD_BAD_OFFSET, 512u));
    /* a length not a multiple of 4 that does not end the image: BAD_LENGTH */
    chunk(512u, 255u);
    HBTEST_CHECK(t, is(WIRE_XFER_RECEIVING, WIRE_UPD_BAD_LENGTH, 512u) && g_rec.writes == writes);
    /* a chunk overlapping what is held: only the new bytes are written */
    chunk(384u, 256u);
    HBTEST_CHECK(t, is(WIRE_XFER_RECEIVING, WIRE_UPD_OK, 640u) && g_rec.writes == writes + 1u);
    HBTEST_CHECK(t, send_from(640u));
    update_rx_end(&g_u, &g_st);
    HBTEST_CHECK(t, is(WIRE_XFER_VERIFIED, WIRE_UPD_OK, g_len) && slot_holds(SLOT1, g_img, g_len));
}

static void test_end_before_every_byte_is_incomplete(hbtest_t *t)
{
    HBTEST_CHECK(t, fresh());
    use_image(UV_VALID, UV_VALID_LEN);
    wire_update_begin_t b = begin_for(g_img, g_len, UV_COUNTER);
    update_rx_begin(&g_u, &b, &g_st);
    chunk(0u, 256u);
    update_rx_end(&g_u, &g_st);
    HBTEST_CHECK(t, is(WIRE_XFER_RECEIVING, WIRE_UPD_INCOMPLETE, 256u));
    HBTEST_CHECK(t, send_from(256u));
    update_rx_end(&g_u, &g_st);
    HBTEST_CHECK(t, is(WIRE_XFER_VERIFIED, WIRE_UPD_OK, g_len));
}

/* ---- refusals at BEGIN ---- */

static void test_begin_refuses_sizes_busy_states_and_low_counters(hbtest_t *t)
{
    HBTEST_CHECK(t, fresh());
    use_image(UV_VALID, UV_VALID_LEN);
    wire_update_begin_t b = begin_for(g_img, g_len, UV_COUNTER);
    wire_update_begin_t bad = b;
    bad.image_size = 0u;
    update_rx_begin(&g_u, &bad, &g_st);
    HBTEST_CHECK(t, is(WIRE_XFER_REFUSED, WIRE_UPD_BAD_SIZE, 0u));
    bad.image_size = BOOT_LAYOUT_SLOT_SIZE + 1u;
    update_rx_begin(&g_u, &bad, &g_st);
    HBTEST_CHECK(t, is(WIRE_XFER_REFUSED, WIRE_UPD_BAD_SIZE, 0u));
    /* the refusal stands for the other requests */
    chunk(0u, 256u);
    HBTEST_CHECK(t, is(WIRE_XFER_REFUSED, WIRE_UPD_BAD_SIZE, 0u));
    update_rx_end(&g_u, &g_st);
    HBTEST_CHECK(t, is(WIRE_XFER_REFUSED, WIRE_UPD_BAD_SIZE, 0u));
    update_rx_install(&g_u, &g_st);
    HBTEST_CHECK(t, is(WIRE_XFER_REFUSED, WIRE_UPD_BAD_SIZE, 0u));
    HBTEST_CHECK(t, g_rec.writes == 0u && g_rec.erases == 0u);
    /* a slot's worth is fine */
    bad.image_size = BOOT_LAYOUT_SLOT_SIZE;
    update_rx_begin(&g_u, &bad, &g_st);
    HBTEST_CHECK(t, is(WIRE_XFER_RECEIVING, WIRE_UPD_OK, 0u));

    /* the running image on trial, or an install waiting for a boot: BUSY */
    HBTEST_CHECK(t, fresh() && put_record(BOOT_KIND_TRIED, 0u, 0u));
    update_rx_begin(&g_u, &b, &g_st);
    HBTEST_CHECK(t, is(WIRE_XFER_REFUSED, WIRE_UPD_BUSY, 0u));
    HBTEST_CHECK(t, fresh() && put_record(BOOT_KIND_PENDING, 1u, 0u));
    update_rx_begin(&g_u, &b, &g_st);
    HBTEST_CHECK(t, is(WIRE_XFER_REFUSED, WIRE_UPD_BUSY, 0u));
    HBTEST_CHECK(t, g_rec.writes == 0u && g_rec.erases == 0u);

    /* an announced counter below the floor: refused before anything is erased */
    HBTEST_CHECK(t, fresh() && put_record(BOOT_KIND_CONFIRMED, 0u, UV_COUNTER + 1u));
    update_rx_begin(&g_u, &b, &g_st);
    HBTEST_CHECK(t, is(WIRE_XFER_REFUSED, WIRE_UPD_SECURITY_COUNTER, 0u));
    HBTEST_CHECK(t, g_rec.writes == 0u && g_rec.erases == 0u);
    HBTEST_CHECK(t, record_is(true, BOOT_KIND_CONFIRMED, 0u));
}

/* ---- refusals at END: each with its code, nothing installed, the state pages and slot 0 untouched ---- */

/* Transfers `bytes` announced as `b` (a NULL b: announced truthfully with `counter`) and expects the END to
 * be refused with `code`; then INSTALL is refused too and no record was written. */
static bool refused_at_end(const uint8_t *bytes, uint32_t len, const wire_update_begin_t *b, uint8_t code)
{
    use_image(bytes, len);
    wire_update_begin_t own = begin_for(g_img, g_len, UV_COUNTER);
    if (!transfer(b != NULL ? b : &own)) {
        return false;
    }
    bool ok = is(WIRE_XFER_REFUSED, code, 0u);
    update_rx_install(&g_u, &g_st);
    ok = ok && is(WIRE_XFER_REFUSED, code, 0u);
    return ok && g_rec.hi <= BOOT_LAYOUT_STATE_OFFSET && slot0_untouched() && record_is(false, BOOT_KIND_PENDING, 0u);
}

static uint8_t g_bad[IMAGE_CAP];

static const uint8_t *flipped(uint32_t at)
{
    memcpy(g_bad, UV_VALID, UV_VALID_LEN);
    g_bad[at] ^= 0x01u;
    return g_bad;
}

static void test_end_refuses_each_fault_with_its_code(hbtest_t *t)
{
    /* the bytes received are not the ones announced */
    HBTEST_CHECK(t, fresh());
    wire_update_begin_t lie = begin_for(UV_VALID, UV_VALID_LEN, UV_COUNTER);
    lie.image_sha256[0] ^= 1u;
    HBTEST_CHECK(t, refused_at_end(UV_VALID, UV_VALID_LEN, &lie, WIRE_UPD_TRANSFER_HASH));
    /* a byte flipped in the payload, in the header (the version), in the protected TLVs (the counter's value) */
    HBTEST_CHECK(t,
                 fresh() && refused_at_end(flipped(UV_PAYLOAD_OFFSET + 100u), UV_VALID_LEN, NULL, WIRE_UPD_IMAGE_HASH));
    HBTEST_CHECK(t, fresh() && refused_at_end(flipped(20u), UV_VALID_LEN, NULL, WIRE_UPD_IMAGE_HASH));
    HBTEST_CHECK(t, fresh() && refused_at_end(flipped(UV_PROT_OFFSET + 8u), UV_VALID_LEN, NULL, WIRE_UPD_IMAGE_HASH));
    /* in the header's magic, in a TLV area's magic: not an image of ours */
    HBTEST_CHECK(t, fresh() && refused_at_end(flipped(0u), UV_VALID_LEN, NULL, WIRE_UPD_BAD_IMAGE));
    HBTEST_CHECK(t, fresh() && refused_at_end(flipped(UV_TLV_OFFSET), UV_VALID_LEN, NULL, WIRE_UPD_BAD_IMAGE));
    /* in the unprotected TLVs: the SHA256 TLV, the signature */
    HBTEST_CHECK(t, fresh() && refused_at_end(flipped(UV_TLV_OFFSET + 8u), UV_VALID_LEN, NULL, WIRE_UPD_IMAGE_HASH));
    HBTEST_CHECK(t,
                 fresh() && refused_at_end(flipped(UV_SIG_OFFSET + 20u), UV_VALID_LEN, NULL, WIRE_UPD_BAD_SIGNATURE));
    /* truncated: the TLV area runs past the bytes sent */
    HBTEST_CHECK(t, fresh() && refused_at_end(UV_VALID, UV_VALID_LEN - 16u, NULL, WIRE_UPD_BAD_IMAGE));
    /* signed with another key, for the other target */
    HBTEST_CHECK(t, fresh() && refused_at_end(UV_OTHER_KEY, UV_OTHER_KEY_LEN, NULL, WIRE_UPD_UNKNOWN_KEY));
    HBTEST_CHECK(t, fresh() && refused_at_end(UV_OTHER_TARGET, UV_OTHER_TARGET_LEN, NULL, WIRE_UPD_WRONG_TARGET));
    /* the signed version or counter is not what BEGIN announced */
    wire_update_begin_t other = begin_for(UV_VALID, UV_VALID_LEN, UV_COUNTER);
    other.version_minor++;
    HBTEST_CHECK(t, fresh() && refused_at_end(UV_VALID, UV_VALID_LEN, &other, WIRE_UPD_MANIFEST_MISMATCH));
    other = begin_for(UV_VALID, UV_VALID_LEN, UV_COUNTER + 1u);
    HBTEST_CHECK(t, fresh() && refused_at_end(UV_VALID, UV_VALID_LEN, &other, WIRE_UPD_MANIFEST_MISMATCH));
}

static void test_a_signed_counter_below_the_floor_is_refused(hbtest_t *t)
{
    /* floor 3: the image signed with counter 2 but announced as 5 passes BEGIN and is refused at END */
    HBTEST_CHECK(t, fresh() && put_record(BOOT_KIND_CONFIRMED, 0u, UV_LOW_COUNTER + 1u));
    use_image(UV_LOW_COUNTER_IMAGE, UV_LOW_COUNTER_IMAGE_LEN);
    wire_update_begin_t b = begin_for(g_img, g_len, UV_COUNTER);
    HBTEST_CHECK(t, transfer(&b) && is(WIRE_XFER_REFUSED, WIRE_UPD_SECURITY_COUNTER, 0u));
    HBTEST_CHECK(t, record_is(true, BOOT_KIND_CONFIRMED, 0u));
    /* announced truthfully: refused at BEGIN, before anything is erased */
    HBTEST_CHECK(t, fresh() && put_record(BOOT_KIND_CONFIRMED, 0u, UV_LOW_COUNTER + 1u));
    b = begin_for(g_img, g_len, UV_LOW_COUNTER);
    update_rx_begin(&g_u, &b, &g_st);
    HBTEST_CHECK(t, is(WIRE_XFER_REFUSED, WIRE_UPD_SECURITY_COUNTER, 0u) && g_rec.erases == 0u);
    /* the valid image (counter 5) over the same floor is taken */
    HBTEST_CHECK(t, fresh() && put_record(BOOT_KIND_CONFIRMED, 0u, UV_LOW_COUNTER + 1u));
    use_image(UV_VALID, UV_VALID_LEN);
    b = begin_for(g_img, g_len, UV_COUNTER);
    HBTEST_CHECK(t, transfer(&b) && is(WIRE_XFER_VERIFIED, WIRE_UPD_OK, g_len));
}

static void test_a_refused_image_can_be_followed_by_a_good_one(hbtest_t *t)
{
    HBTEST_CHECK(t, fresh() && refused_at_end(UV_OTHER_KEY, UV_OTHER_KEY_LEN, NULL, WIRE_UPD_UNKNOWN_KEY));
    /* the same image again: refused again (a new transfer, the same verdict) */
    HBTEST_CHECK(t, refused_at_end(UV_OTHER_KEY, UV_OTHER_KEY_LEN, NULL, WIRE_UPD_UNKNOWN_KEY));
    use_image(UV_VALID, UV_VALID_LEN);
    wire_update_begin_t b = begin_for(g_img, g_len, UV_COUNTER);
    HBTEST_CHECK(t, transfer(&b) && is(WIRE_XFER_VERIFIED, WIRE_UPD_OK, g_len));
    HBTEST_CHECK(t, slot_holds(SLOT1, g_img, g_len));
}

/* ---- abort and the requests without a transfer ---- */

static void test_abort_forgets_the_transfer(hbtest_t *t)
{
    HBTEST_CHECK(t, fresh());
    chunk(0u, 4u);
    HBTEST_CHECK(t, is(WIRE_XFER_IDLE, WIRE_UPD_NO_TRANSFER, 0u));
    update_rx_end(&g_u, &g_st);
    HBTEST_CHECK(t, is(WIRE_XFER_IDLE, WIRE_UPD_NO_TRANSFER, 0u));
    update_rx_install(&g_u, &g_st);
    HBTEST_CHECK(t, is(WIRE_XFER_IDLE, WIRE_UPD_NOT_VERIFIED, 0u));
    update_rx_abort(&g_u, &g_st);
    HBTEST_CHECK(t, is(WIRE_XFER_IDLE, WIRE_UPD_OK, 0u));

    use_image(UV_VALID, UV_VALID_LEN);
    wire_update_begin_t b = begin_for(g_img, g_len, UV_COUNTER);
    update_rx_begin(&g_u, &b, &g_st);
    chunk(0u, 256u);
    update_rx_abort(&g_u, &g_st);
    HBTEST_CHECK(t, is(WIRE_XFER_IDLE, WIRE_UPD_OK, 0u));
    update_rx_abort(&g_u, &g_st);
    HBTEST_CHECK(t, is(WIRE_XFER_IDLE, WIRE_UPD_OK, 0u));
    chunk(256u, 256u);
    HBTEST_CHECK(t, is(WIRE_XFER_IDLE, WIRE_UPD_NO_TRANSFER, 0u));
    /* after an abort the same image begins again from 0 */
    update_rx_begin(&g_u, &b, &g_st);
    HBTEST_CHECK(t, is(WIRE_XFER_RECEIVING, WIRE_UPD_OK, 0u));
    /* an abort after verification: nothing can be installed */
    HBTEST_CHECK(t, send_from(0u));
    update_rx_end(&g_u, &g_st);
    HBTEST_CHECK(t, is(WIRE_XFER_VERIFIED, WIRE_UPD_OK, g_len));
    update_rx_abort(&g_u, &g_st);
    update_rx_install(&g_u, &g_st);
    HBTEST_CHECK(t, is(WIRE_XFER_IDLE, WIRE_UPD_NOT_VERIFIED, 0u) && record_is(false, BOOT_KIND_PENDING, 0u));
    /* a refusal is cleared by an abort too */
    update_rx_begin(&g_u, &(wire_update_begin_t){0}, &g_st);
    HBTEST_CHECK(t, is(WIRE_XFER_REFUSED, WIRE_UPD_BAD_SIZE, 0u));
    update_rx_abort(&g_u, &g_st);
    HBTEST_CHECK(t, is(WIRE_XFER_IDLE, WIRE_UPD_OK, 0u));
}

static void test_an_install_needs_a_verified_image(hbtest_t *t)
{
    HBTEST_CHECK(t, fresh());
    use_image(UV_VALID, UV_VALID_LEN);
    wire_update_begin_t b = begin_for(g_img, g_len, UV_COUNTER);
    update_rx_begin(&g_u, &b, &g_st);
    HBTEST_CHECK(t, send_from(0u));
    /* every byte held but END not sent: not verified */
    update_rx_install(&g_u, &g_st);
    HBTEST_CHECK(t, is(WIRE_XFER_RECEIVING, WIRE_UPD_NOT_VERIFIED, g_len));
    HBTEST_CHECK(t, record_is(false, BOOT_KIND_PENDING, 0u));
    update_rx_end(&g_u, &g_st);
    /* the running image went on trial meanwhile (another writer): BUSY, nothing written */
    HBTEST_CHECK(t, put_record(BOOT_KIND_TRIED, 0u, 0u));
    update_rx_install(&g_u, &g_st);
    HBTEST_CHECK(t, is(WIRE_XFER_VERIFIED, WIRE_UPD_BUSY, g_len) && record_is(true, BOOT_KIND_TRIED, 0u));
    HBTEST_CHECK(t, put_record(BOOT_KIND_CONFIRMED, 0u, 0u));
    update_rx_install(&g_u, &g_st);
    HBTEST_CHECK(t, is(WIRE_XFER_INSTALLING, WIRE_UPD_OK, g_len) && record_is(true, BOOT_KIND_PENDING, 1u));
}

int main(void)
{
    hbtest_t t;
    port_init();
    hbtest_begin(&t);
    if (!boot_testflash_open(&g_tf)) {
        hbtest_print("test_update_rx: no flash to test on\n");
        port_exit(1);
    }
    hbtest_run(&t, "a_valid_image_is_received_verified_and_installed",
               test_a_valid_image_is_received_verified_and_installed);
    hbtest_run(&t, "the_transfer_goes_to_the_slot_not_running", test_the_transfer_goes_to_the_slot_not_running);
    hbtest_run(&t, "a_transfer_resumes_from_what_is_held", test_a_transfer_resumes_from_what_is_held);
    hbtest_run(&t, "chunks_are_idempotent_and_in_order", test_chunks_are_idempotent_and_in_order);
    hbtest_run(&t, "end_before_every_byte_is_incomplete", test_end_before_every_byte_is_incomplete);
    hbtest_run(&t, "begin_refuses_sizes_busy_states_and_low_counters",
               test_begin_refuses_sizes_busy_states_and_low_counters);
    hbtest_run(&t, "end_refuses_each_fault_with_its_code", test_end_refuses_each_fault_with_its_code);
    hbtest_run(&t, "a_signed_counter_below_the_floor_is_refused", test_a_signed_counter_below_the_floor_is_refused);
    hbtest_run(&t, "a_refused_image_can_be_followed_by_a_good_one", test_a_refused_image_can_be_followed_by_a_good_one);
    hbtest_run(&t, "abort_forgets_the_transfer", test_abort_forgets_the_transfer);
    hbtest_run(&t, "an_install_needs_a_verified_image", test_an_install_needs_a_verified_image);
    port_exit(hbtest_end(&t));
}
