/*
 * update_rx.h - the device's side of an image transfer (docs/protocol.md 3.6, docs/ota.md "The device receives an
 * update"): UPDATE_BEGIN, UPDATE_CHUNK, UPDATE_END, UPDATE_INSTALL and UPDATE_ABORT in, one UPDATE_STATE out for
 * each. Transport-free and host-testable: the flash, the crypto and the image policy are the caller's.
 *
 *   BEGIN    checks the size against a slot, refuses BUSY while the running image is on trial (newest record
 *            TRIED) or an install is recorded (PENDING), SECURITY_COUNTER below the state's floor; the same image
 *            again (all five fields) resumes: next_offset is what is held. Erases nothing.
 *   CHUNK    in order, 4-byte aligned; a chunk already held is not written again, one beyond next_offset is
 *            OUT_OF_ORDER. Bytes go to the inactive slot only, each page erased when the transfer first reaches
 *            it (one chunk: at most one page erase and one write of at most 256 bytes). The bytes are hashed as
 *            they arrive.
 *   END      the whole image's sha256 against BEGIN's (TRANSFER_HASH), then boot_image_check() on the slot with
 *            the state's floor (structure, SHA256 TLV, key, signature, target, counter), its size against BEGIN's
 *            (BAD_IMAGE), its signed version and counter against BEGIN's (MANIFEST_MISMATCH).
 *   INSTALL  only after a successful END: appends PENDING(slot) through boot_state; the caller then resets.
 *   ABORT    forgets the transfer (the slot's bytes are never installed).
 *
 * The running image and the state pages are never written by a transfer: the slot written is the other one than
 * boot_decide_running_slot() of the newest record (slot 1 when there is none: a device flashed without the
 * bootloader runs slot 0's image by convention). The transfer lives in RAM: a reset forgets it.
 */
#ifndef UPDATE_RX_H
#define UPDATE_RX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "boot_flash.h"
#include "boot_image.h"
#include "boot_layout.h"
#include "boot_state.h"
#include "imgcrypto.h"
#include "wire.h"

#ifdef __cplusplus
extern "C" {
#endif

/* What a transfer needs; the caller's, and it must outlive the update_rx_t. */
typedef struct update_rx_config {
    const boot_flash_ops_t *flash;
    boot_layout_t layout;
    const boot_crypto_ops_t *crypto;   /* for the image check (the device: boot_crypto_imgcrypto_bind) */
    const boot_image_policy_t *policy; /* the built-in key, the target, the load address */
    uint8_t *buf;                      /* work buffer of the image check (>= 4 bytes; 256 is a good size) */
    size_t buf_len;
} update_rx_config_t;

/* One transfer's state, caller-owned. */
typedef struct update_rx {
    update_rx_config_t cfg;
    uint8_t state;               /* WIRE_XFER_* */
    uint8_t refusal;             /* WIRE_UPD_*: why, in WIRE_XFER_REFUSED */
    uint8_t slot;                /* the slot being written */
    wire_update_begin_t begin;   /* what UPDATE_BEGIN announced */
    uint32_t next;               /* bytes 0 .. next - 1 are held */
    uint32_t erased_to;          /* the slot's pages below this offset are erased for this transfer */
    uint32_t floor;              /* the security counter floor of the state, read at BEGIN */
    imgcrypto_sha256_t transfer; /* the bytes 0 .. next - 1, hashed as they came */
    boot_state_t boot;           /* the boot state, opened at BEGIN and INSTALL */
    boot_image_info_t info;      /* the last image check */
    uint8_t chunk_pad[WIRE_CHUNK_MAX + BOOT_FLASH_WRITE_UNIT]; /* a last chunk padded to whole write units */
} update_rx_t;

/* Idle, nothing held. */
void update_rx_init(update_rx_t *u, const update_rx_config_t *cfg);

/* Each handles one request and fills `out` (its host_seq is left for the caller). */
void update_rx_begin(update_rx_t *u, const wire_update_begin_t *req, wire_update_state_t *out);
void update_rx_chunk(update_rx_t *u, const wire_update_chunk_t *req, wire_update_state_t *out);
void update_rx_end(update_rx_t *u, wire_update_state_t *out);
void update_rx_install(update_rx_t *u, wire_update_state_t *out);
void update_rx_abort(update_rx_t *u, wire_update_state_t *out);

/* The slot a transfer writes, given the newest boot record (NULL: none): the one not running. */
uint8_t update_rx_target_slot(const boot_record_t *current);

/* The image check of the last UPDATE_END (its verdict and one-line detail). */
const boot_image_info_t *update_rx_last_check(const update_rx_t *u);

#ifdef __cplusplus
}
#endif

#endif /* UPDATE_RX_H */
