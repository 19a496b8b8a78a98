/* boot_state.c - the boot state records in two pages used in turn (see boot_state.h). */
#include "boot_state.h"

#include <string.h>

#include "boot_bytes.h"
#include "wire.h"

#define OFF_MAGIC 0u
#define OFF_KIND 2u
#define OFF_SLOT 3u
#define OFF_SEQ 4u
#define OFF_FLOOR 8u
#define OFF_REASON 12u
#define OFF_FORMAT 13u
#define OFF_CRC 14u
#define CRC_INIT 0xFFFFu /* CRC-16/CCITT-FALSE's initial value, as on the wire */

static bool kind_valid(uint32_t kind)
{
    return kind >= (uint32_t)BOOT_KIND_PENDING && kind <= (uint32_t)BOOT_KIND_REVERTED;
}

static bool record_valid(const boot_record_t *r)
{
    return kind_valid((uint32_t)r->kind) && r->slot < 2u && (uint32_t)r->reason < (uint32_t)BOOT_REASON_COUNT;
}

void boot_state_encode(const boot_record_t *record, uint32_t seq, uint8_t out[BOOT_STATE_RECORD_SIZE])
{
    boot_put_u16(out + OFF_MAGIC, (uint16_t)BOOT_STATE_MAGIC);
    out[OFF_KIND] = (uint8_t)record->kind;
    out[OFF_SLOT] = record->slot;
    boot_put_u32(out + OFF_SEQ, seq);
    boot_put_u32(out + OFF_FLOOR, record->sec_floor);
    out[OFF_REASON] = (uint8_t)record->reason;
    out[OFF_FORMAT] = (uint8_t)BOOT_STATE_FORMAT;
    boot_put_u16(out + OFF_CRC, wire_crc16(CRC_INIT, out, OFF_CRC));
}

bool boot_state_decode(const uint8_t in[BOOT_STATE_RECORD_SIZE], boot_record_t *record, uint32_t *seq)
{
    if (boot_get_u16(in + OFF_MAGIC) != BOOT_STATE_MAGIC || in[OFF_FORMAT] != BOOT_STATE_FORMAT ||
        boot_get_u16(in + OFF_CRC) != wire_crc16(CRC_INIT, in, OFF_CRC)) {
        return false;
    }
    boot_record_t r;
    if (!kind_valid(in[OFF_KIND])) {
        return false;
    }
    r.kind = (boot_kind_t)in[OFF_KIND];
    r.slot = in[OFF_SLOT];
    r.reason = (boot_reason_t)in[OFF_REASON];
    r.sec_floor = boot_get_u32(in + OFF_FLOOR);
    if (!record_valid(&r)) {
        return false;
    }
    *record = r;
    *seq = boot_get_u32(in + OFF_SEQ);
    return true;
}

static uint32_t page_offset(const boot_state_t *bs, unsigned page)
{
    return bs->base + (uint32_t)page * BOOT_FLASH_PAGE_SIZE;
}

static uint32_t slot_offset(const boot_state_t *bs, unsigned page, unsigned index)
{
    return page_offset(bs, page) + (uint32_t)index * BOOT_STATE_RECORD_SIZE;
}

static bool bytes_erased(const uint8_t *p, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        if (p[i] != BOOT_FLASH_ERASED_BYTE) {
            return false;
        }
    }
    return true;
}

static bool read_slot(const boot_state_t *bs, unsigned page, unsigned index, uint8_t raw[BOOT_STATE_RECORD_SIZE])
{
    return bs->flash->read(bs->flash->user, slot_offset(bs, page, index), raw, BOOT_STATE_RECORD_SIZE);
}

/* *erased: every byte of `page` reads 0xFF */
static bool page_erased(const boot_state_t *bs, unsigned page, bool *erased)
{
    uint8_t raw[BOOT_STATE_RECORD_SIZE];
    for (unsigned i = 0; i < BOOT_STATE_RECORDS_PER_PAGE; i++) {
        if (!read_slot(bs, page, i, raw)) {
            return false;
        }
        if (!bytes_erased(raw, sizeof raw)) {
            *erased = false;
            return true;
        }
    }
    *erased = true;
    return true;
}

boot_state_status_t boot_state_open(boot_state_t *bs, const boot_flash_ops_t *flash, uint32_t base)
{
    if (bs == NULL || flash == NULL || flash->read == NULL || flash->write == NULL || flash->erase_page == NULL ||
        base % BOOT_FLASH_PAGE_SIZE != 0u) {
        return BOOT_STATE_ERR_ARG;
    }
    memset(bs, 0, sizeof *bs);
    bs->flash = flash;
    bs->base = base;
    /* per page: one past the last slot that is not erased (0: the page is empty) */
    uint16_t used[BOOT_STATE_PAGES] = {0u, 0u};
    for (unsigned page = 0; page < BOOT_STATE_PAGES; page++) {
        for (unsigned i = 0; i < BOOT_STATE_RECORDS_PER_PAGE; i++) {
            uint8_t raw[BOOT_STATE_RECORD_SIZE];
            if (!read_slot(bs, page, i, raw)) {
                bs->stale = true;
                return BOOT_STATE_ERR_FLASH;
            }
            if (bytes_erased(raw, sizeof raw)) {
                continue;
            }
            used[page] = (uint16_t)(i + 1u);
            boot_record_t r;
            uint32_t seq;
            if (boot_state_decode(raw, &r, &seq) && (!bs->has_current || seq > bs->seq)) {
                bs->has_current = true;
                bs->current = r;
                bs->seq = seq;
                bs->active_page = (uint8_t)page;
            }
        }
    }
    bs->next = used[bs->active_page];
    return BOOT_STATE_OK;
}

const boot_record_t *boot_state_current(const boot_state_t *bs)
{
    return (bs != NULL && bs->has_current) ? &bs->current : NULL;
}

/* Writes `record` with `seq` at `index` of `page` and reads it back. */
static bool write_record(boot_state_t *bs, unsigned page, unsigned index, const boot_record_t *record, uint32_t seq)
{
    uint8_t raw[BOOT_STATE_RECORD_SIZE];
    uint8_t back[BOOT_STATE_RECORD_SIZE];
    boot_state_encode(record, seq, raw);
    uint32_t offset = slot_offset(bs, page, index);
    return bs->flash->write(bs->flash->user, offset, raw, sizeof raw) &&
           bs->flash->read(bs->flash->user, offset, back, sizeof back) && memcmp(raw, back, sizeof raw) == 0;
}

static bool erase_page(boot_state_t *bs, unsigned page)
{
    return bs->flash->erase_page(bs->flash->user, page_offset(bs, page));
}

/* The full active page's state moves to the other page (the three steps of boot_state.h). */
static bool compact(boot_state_t *bs)
{
    unsigned full = bs->active_page;
    unsigned target = 1u - full;
    bool erased = false;
    if (!page_erased(bs, target, &erased) || (!erased && !erase_page(bs, target))) {
        return false;
    }
    if (bs->has_current) {
        if (!write_record(bs, target, 0u, &bs->current, bs->seq + 1u)) {
            return false;
        }
        bs->seq++;
    }
    bs->active_page = (uint8_t)target;
    bs->next = bs->has_current ? 1u : 0u;
    return erase_page(bs, full);
}

boot_state_status_t boot_state_append(boot_state_t *bs, const boot_record_t *record)
{
    if (bs == NULL || bs->flash == NULL || record == NULL || !record_valid(record)) {
        return BOOT_STATE_ERR_ARG;
    }
    if (bs->stale) {
        return BOOT_STATE_ERR_STALE;
    }
    if (bs->next >= BOOT_STATE_RECORDS_PER_PAGE && !compact(bs)) {
        bs->stale = true;
        return BOOT_STATE_ERR_FLASH;
    }
    unsigned index = bs->next;
    bs->next++; /* a slot written to is used, whether the write succeeds or not */
    uint32_t seq = bs->seq + 1u;
    if (!write_record(bs, bs->active_page, index, record, seq)) {
        bs->stale = true;
        return BOOT_STATE_ERR_FLASH;
    }
    bs->has_current = true;
    bs->current = *record;
    bs->seq = seq;
    return BOOT_STATE_OK;
}

const char *boot_kind_name(boot_kind_t kind)
{
    switch (kind) {
    case BOOT_KIND_PENDING:
        return "pending";
    case BOOT_KIND_TRIED:
        return "tried";
    case BOOT_KIND_CONFIRMED:
        return "confirmed";
    case BOOT_KIND_REVERTED:
        return "reverted";
    }
    return "unknown";
}

const char *boot_state_status_name(boot_state_status_t status)
{
    switch (status) {
    case BOOT_STATE_OK:
        return "ok";
    case BOOT_STATE_ERR_ARG:
        return "bad argument";
    case BOOT_STATE_ERR_FLASH:
        return "flash error";
    case BOOT_STATE_ERR_STALE:
        return "stale";
    }
    return "unknown";
}
