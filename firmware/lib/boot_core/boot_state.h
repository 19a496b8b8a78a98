/*
 * boot_state.h - the boot state records (docs/ota.md, "Boot state records"):
 * which slot is pending, on trial, confirmed or reverted, kept as append-only
 * 16-byte records in two flash pages used in turn (ping-pong).
 *
 * A record (little endian; one write of four write units):
 *
 *   offset  size  field
 *        0     2  magic 0xB007
 *        2     1  kind: PENDING 1, TRIED 2, CONFIRMED 3, REVERTED 4
 *        3     1  slot: 0 or 1
 *        4     4  sequence number: the newest record is the valid one with the highest
 *        8     4  security counter floor: the security counter of the newest confirmed image
 *                 (an image whose counter is below it is refused); carried by every record
 *       12     1  reason (boot_reason.h): why a REVERTED slot was reverted; why a fallback
 *                 image runs on trial (TRIED); NONE otherwise
 *       13     1  format: 1
 *       14     2  CRC-16/CCITT-FALSE (wire_crc16 of firmware/lib/wire) of bytes 0..13
 *
 * A record is valid when its magic, format, kind, slot, reason and CRC are. A
 * power cut during a write leaves a prefix of its write units programmed and
 * the rest 0xFF; the last unit holds the format and the CRC, so a torn record
 * is never valid; a unit left half programmed fails the CRC (every change
 * within 16 consecutive bits is caught, any other but 1 in 65536): every
 * record is written whole or not at all. Every record carries the whole state (kind,
 * slot, reason, floor), so the newest valid one is the state.
 *
 * Appending writes the next free record slot of the active page (the one that
 * holds the newest record); a slot that holds anything but 0xFF is never
 * written again, valid or not. When the active page is full, it is compacted,
 * each step safe against a power cut:
 *   1. the other page is erased, unless it already reads all 0xFF (a cut here:
 *      the newest record is still in the full page);
 *   2. the newest record is copied to the other page's first slot with the next
 *      sequence number (a cut here: the copy is torn, so invalid);
 *   3. the full page is erased (a cut here: the copy is the newest record; what
 *      is left of the full page is older and is erased by the next compaction).
 * Then the record is appended to the new page.
 *
 * State is the caller's (boot_state_t); flash through boot_flash_ops_t.
 */
#ifndef BOOT_STATE_H
#define BOOT_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "boot_flash.h"
#include "boot_reason.h"

#ifdef __cplusplus
extern "C" {
#endif

#define BOOT_STATE_RECORD_SIZE 16u
#define BOOT_STATE_PAGES 2u
#define BOOT_STATE_RECORDS_PER_PAGE (BOOT_FLASH_PAGE_SIZE / BOOT_STATE_RECORD_SIZE)
#define BOOT_STATE_MAGIC 0xB007u
#define BOOT_STATE_FORMAT 1u

_Static_assert(BOOT_STATE_RECORD_SIZE % BOOT_FLASH_WRITE_UNIT == 0u, "a record is whole write units");
_Static_assert(BOOT_FLASH_PAGE_SIZE % BOOT_STATE_RECORD_SIZE == 0u, "a page holds whole records");

typedef enum boot_kind {
    BOOT_KIND_PENDING = 1,   /* an image was installed in `slot`: try it at the next boot */
    BOOT_KIND_TRIED = 2,     /* `slot` is being tried: a boot that finds this reverts it */
    BOOT_KIND_CONFIRMED = 3, /* `slot` passed its self-test: it runs from now on */
    BOOT_KIND_REVERTED = 4,  /* `slot` was reverted (`reason`): the other slot runs */
} boot_kind_t;

/* What a record says (its sequence number is boot_state's business). */
typedef struct boot_record {
    boot_kind_t kind;
    uint8_t slot;
    boot_reason_t reason;
    uint32_t sec_floor;
} boot_record_t;

typedef enum boot_state_status {
    BOOT_STATE_OK = 0,
    BOOT_STATE_ERR_ARG, /* a NULL pointer, a base not on a page, or a record with a kind, slot or reason out of range */
    BOOT_STATE_ERR_FLASH, /* a flash operation failed (or read back otherwise): open the state again */
    BOOT_STATE_ERR_STALE, /* an earlier call failed on the flash: open the state again first */
} boot_state_status_t;

/* The state as read from the flash; owned by the caller, filled by boot_state_open(). */
typedef struct boot_state {
    const boot_flash_ops_t *flash;
    uint32_t base;         /* offset of the first of the two pages */
    bool has_current;      /* a valid record was found */
    boot_record_t current; /* the newest valid record */
    uint32_t seq;          /* its sequence number (0: none) */
    uint8_t active_page;   /* the page appends go to (0 or 1) */
    uint16_t next;         /* the next free record slot there; BOOT_STATE_RECORDS_PER_PAGE: the page is full */
    bool stale;            /* a flash operation failed since the last open */
} boot_state_t;

/* Reads both pages at `base` (page aligned) through `flash` (kept: it must
 * outlive `bs`): the newest valid record and where the next one goes. Torn
 * and invalid records are skipped. Changes nothing on the flash. */
boot_state_status_t boot_state_open(boot_state_t *bs, const boot_flash_ops_t *flash, uint32_t base);

/* The newest valid record, or NULL when there is none (a new device). */
const boot_record_t *boot_state_current(const boot_state_t *bs);

/* Appends `record` with the next sequence number, compacting first when the
 * active page is full; on BOOT_STATE_OK it is the current record. On
 * BOOT_STATE_ERR_FLASH the flash holds either the old state or the new one
 * (never a mix) and `bs` must be opened again. */
boot_state_status_t boot_state_append(boot_state_t *bs, const boot_record_t *record);

/* The 16 bytes of a record with sequence number `seq`. */
void boot_state_encode(const boot_record_t *record, uint32_t seq, uint8_t out[BOOT_STATE_RECORD_SIZE]);

/* Decodes 16 bytes: true and the record and its sequence number when they are
 * a valid record, false otherwise (erased, torn or corrupt). */
bool boot_state_decode(const uint8_t in[BOOT_STATE_RECORD_SIZE], boot_record_t *record, uint32_t *seq);

/* "pending", "tried", "confirmed", "reverted"; "unknown" otherwise. */
const char *boot_kind_name(boot_kind_t kind);

/* "ok", "bad argument", "flash error", "stale"; "unknown" otherwise. */
const char *boot_state_status_name(boot_state_status_t status);

#ifdef __cplusplus
}
#endif

#endif /* BOOT_STATE_H */
