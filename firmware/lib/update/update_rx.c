/* update_rx.c - see update_rx.h; docs/protocol.md 3.6 is the table this follows. */
#include "update_rx.h"

#include <string.h>

#include "boot_decide.h"
#include "boot_reason.h"

static void answer(wire_update_state_t *out, uint8_t state, uint8_t result, uint32_t next_offset)
{
    out->state = state;
    out->result = result;
    out->next_offset = next_offset;
}

/* The answer of a state that a request leaves as it is. */
static void answer_unchanged(const update_rx_t *u, uint8_t result, wire_update_state_t *out)
{
    switch (u->state) {
    case WIRE_XFER_RECEIVING:
        answer(out, WIRE_XFER_RECEIVING, result, u->next);
        break;
    case WIRE_XFER_VERIFIED:
        answer(out, WIRE_XFER_VERIFIED, result, u->begin.image_size);
        break;
    case WIRE_XFER_INSTALLING:
        answer(out, WIRE_XFER_INSTALLING, WIRE_UPD_BUSY, u->begin.image_size);
        break;
    case WIRE_XFER_REFUSED:
        answer(out, WIRE_XFER_REFUSED, u->refusal, 0u);
        break;
    default:
        answer(out, WIRE_XFER_IDLE, result, 0u);
        break;
    }
}

static void refuse(update_rx_t *u, uint8_t code, wire_update_state_t *out)
{
    u->state = WIRE_XFER_REFUSED;
    u->refusal = code;
    answer(out, WIRE_XFER_REFUSED, code, 0u);
}

uint8_t update_rx_target_slot(const boot_record_t *current)
{
    int running = boot_decide_running_slot(current);
    if (running < 0 && current != NULL && current->kind == BOOT_KIND_PENDING) {
        return current->slot; /* written by this image, which runs from the other slot */
    }
    return running == 1 ? 0u : 1u;
}

static bool same_image(const wire_update_begin_t *a, const wire_update_begin_t *b)
{
    return a->image_size == b->image_size && memcmp(a->image_sha256, b->image_sha256, WIRE_SHA256_SIZE) == 0 &&
           a->version_major == b->version_major && a->version_minor == b->version_minor &&
           a->version_revision == b->version_revision && a->version_build == b->version_build &&
           a->security_counter == b->security_counter;
}

void update_rx_init(update_rx_t *u, const update_rx_config_t *cfg)
{
    memset(u, 0, sizeof *u);
    u->cfg = *cfg;
    u->state = WIRE_XFER_IDLE;
}

void update_rx_begin(update_rx_t *u, const wire_update_begin_t *req, wire_update_state_t *out)
{
    bool going = u->state == WIRE_XFER_RECEIVING || u->state == WIRE_XFER_VERIFIED;
    if (u->state == WIRE_XFER_INSTALLING || (going && same_image(&u->begin, req))) {
        answer_unchanged(u, WIRE_UPD_OK, out); /* resumes: what is held stays held */
        return;
    }
    u->begin = *req;
    if (req->image_size == 0u || req->image_size > u->cfg.layout.slot_size) {
        refuse(u, WIRE_UPD_BAD_SIZE, out);
        return;
    }
    if (boot_state_open(&u->boot, u->cfg.flash, u->cfg.layout.state_offset) != BOOT_STATE_OK) {
        refuse(u, WIRE_UPD_FLASH, out);
        return;
    }
    const boot_record_t *current = boot_state_current(&u->boot);
    if (current != NULL && (current->kind == BOOT_KIND_TRIED || current->kind == BOOT_KIND_PENDING)) {
        refuse(u, WIRE_UPD_BUSY, out); /* the other slot is the fallback, or an install waits for a boot */
        return;
    }
    u->floor = current != NULL ? current->sec_floor : 0u;
    if (req->security_counter < u->floor) {
        refuse(u, WIRE_UPD_SECURITY_COUNTER, out);
        return;
    }
    u->slot = update_rx_target_slot(current);
    u->next = 0u;
    u->erased_to = 0u;
    imgcrypto_sha256_init(&u->transfer);
    u->state = WIRE_XFER_RECEIVING;
    answer(out, WIRE_XFER_RECEIVING, WIRE_UPD_OK, 0u);
}

/* Erases the slot's pages the bytes up to `end` reach that this transfer has not erased yet. */
static bool erase_up_to(update_rx_t *u, uint32_t slot_offset, uint32_t end)
{
    while (u->erased_to < end) {
        if (!u->cfg.flash->erase_page(u->cfg.flash->user, slot_offset + u->erased_to)) {
            return false;
        }
        u->erased_to += BOOT_FLASH_PAGE_SIZE;
    }
    return true;
}

void update_rx_chunk(update_rx_t *u, const wire_update_chunk_t *req, wire_update_state_t *out)
{
    if (u->state == WIRE_XFER_IDLE) {
        answer(out, WIRE_XFER_IDLE, WIRE_UPD_NO_TRANSFER, 0u);
        return;
    }
    uint64_t end = (uint64_t)req->offset + req->length;
    if (u->state == WIRE_XFER_VERIFIED) {
        answer_unchanged(u, end <= u->begin.image_size ? WIRE_UPD_OK : WIRE_UPD_BAD_OFFSET, out);
        return;
    }
    if (u->state != WIRE_XFER_RECEIVING) {
        answer_unchanged(u, WIRE_UPD_OK, out);
        return;
    }
    uint32_t size = u->begin.image_size;
    uint8_t result = WIRE_UPD_OK;
    if (end > size) {
        result = WIRE_UPD_BAD_OFFSET;
    } else if (req->offset > u->next) {
        result = WIRE_UPD_OUT_OF_ORDER;
    } else if (req->length % BOOT_FLASH_WRITE_UNIT != 0u && end < size) {
        result = WIRE_UPD_BAD_LENGTH;
    } else if (req->length == 0u || req->length > WIRE_CHUNK_MAX || req->offset % BOOT_FLASH_WRITE_UNIT != 0u) {
        result = WIRE_UPD_BAD_LENGTH; /* the decoder refuses these already: never trusted here */
    }
    if (result != WIRE_UPD_OK || end <= u->next) {
        answer(out, WIRE_XFER_RECEIVING, result, u->next); /* refused, or already held: nothing written */
        return;
    }
    uint32_t skip = u->next - req->offset; /* bytes of the chunk already held: whole write units */
    uint32_t count = (uint32_t)end - u->next;
    uint32_t padded = (count + BOOT_FLASH_WRITE_UNIT - 1u) / BOOT_FLASH_WRITE_UNIT * BOOT_FLASH_WRITE_UNIT;
    memcpy(u->chunk_pad, req->data + skip, count);
    memset(u->chunk_pad + count, BOOT_FLASH_ERASED_BYTE, padded - count);
    uint32_t slot_offset = u->cfg.layout.slot_offset[u->slot];
    if (!erase_up_to(u, slot_offset, u->next + padded) ||
        !u->cfg.flash->write(u->cfg.flash->user, slot_offset + u->next, u->chunk_pad, padded)) {
        refuse(u, WIRE_UPD_FLASH, out);
        return;
    }
    imgcrypto_sha256_update(&u->transfer, req->data + skip, count);
    u->next = (uint32_t)end;
    answer(out, WIRE_XFER_RECEIVING, WIRE_UPD_OK, u->next);
}

/* The whole image is held: its hash against BEGIN's, then the check the bootloader makes, then BEGIN's facts. */
static uint8_t verify(update_rx_t *u)
{
    uint8_t digest[IMGCRYPTO_SHA256_BYTES];
    imgcrypto_sha256_finish(&u->transfer, digest);
    if (memcmp(digest, u->begin.image_sha256, sizeof digest) != 0) {
        return WIRE_UPD_TRANSFER_HASH;
    }
    /* the check reads only the bytes received: an image whose TLVs run past them is truncated (BAD_IMAGE) */
    const boot_image_checker_t checker = {u->cfg.flash, u->cfg.crypto, u->cfg.policy, u->cfg.buf, u->cfg.buf_len};
    boot_reason_t verdict =
        boot_image_check(&checker, u->cfg.layout.slot_offset[u->slot], u->begin.image_size, u->floor, &u->info);
    if (verdict != BOOT_REASON_NONE) {
        return boot_reason_wire_code(verdict);
    }
    if (u->info.image_size != u->begin.image_size) {
        u->info.verdict = BOOT_REASON_BAD_TLV;
        u->info.detail = "bytes after the image's TLV area";
        return WIRE_UPD_BAD_IMAGE;
    }
    const boot_version_t *v = &u->info.version;
    if (v->major != u->begin.version_major || v->minor != u->begin.version_minor ||
        v->revision != u->begin.version_revision || v->build != u->begin.version_build ||
        u->info.security_counter != u->begin.security_counter) {
        return WIRE_UPD_MANIFEST_MISMATCH;
    }
    return WIRE_UPD_OK;
}

void update_rx_end(update_rx_t *u, wire_update_state_t *out)
{
    if (u->state == WIRE_XFER_IDLE) {
        answer(out, WIRE_XFER_IDLE, WIRE_UPD_NO_TRANSFER, 0u);
        return;
    }
    if (u->state != WIRE_XFER_RECEIVING) {
        answer_unchanged(u, WIRE_UPD_OK, out);
        return;
    }
    if (u->next < u->begin.image_size) {
        answer(out, WIRE_XFER_RECEIVING, WIRE_UPD_INCOMPLETE, u->next);
        return;
    }
    uint8_t result = verify(u);
    if (result != WIRE_UPD_OK) {
        refuse(u, result, out);
        return;
    }
    u->state = WIRE_XFER_VERIFIED;
    answer(out, WIRE_XFER_VERIFIED, WIRE_UPD_OK, u->begin.image_size);
}

void update_rx_install(update_rx_t *u, wire_update_state_t *out)
{
    if (u->state != WIRE_XFER_VERIFIED) {
        answer_unchanged(u, WIRE_UPD_NOT_VERIFIED, out);
        return;
    }
    if (boot_state_open(&u->boot, u->cfg.flash, u->cfg.layout.state_offset) != BOOT_STATE_OK) {
        answer(out, WIRE_XFER_VERIFIED, WIRE_UPD_FLASH, u->begin.image_size); /* nothing written: may be repeated */
        return;
    }
    const boot_record_t *current = boot_state_current(&u->boot);
    if (current != NULL && (current->kind == BOOT_KIND_TRIED || current->kind == BOOT_KIND_PENDING)) {
        answer(out, WIRE_XFER_VERIFIED, WIRE_UPD_BUSY, u->begin.image_size);
        return;
    }
    boot_record_t pending = {BOOT_KIND_PENDING, u->slot, BOOT_REASON_NONE, current != NULL ? current->sec_floor : 0u};
    if (boot_state_append(&u->boot, &pending) != BOOT_STATE_OK) {
        /* the flash holds the old state or PENDING, never a mix: the next boot shows which */
        answer(out, WIRE_XFER_VERIFIED, WIRE_UPD_FLASH, u->begin.image_size);
        return;
    }
    u->state = WIRE_XFER_INSTALLING;
    answer(out, WIRE_XFER_INSTALLING, WIRE_UPD_OK, u->begin.image_size);
}

void update_rx_abort(update_rx_t *u, wire_update_state_t *out)
{
    if (u->state == WIRE_XFER_INSTALLING) {
        answer_unchanged(u, WIRE_UPD_BUSY, out);
        return;
    }
    u->state = WIRE_XFER_IDLE;
    u->next = 0u;
    answer(out, WIRE_XFER_IDLE, WIRE_UPD_OK, 0u);
}

const boot_image_info_t *update_rx_last_check(const update_rx_t *u)
{
    return &u->info;
}
