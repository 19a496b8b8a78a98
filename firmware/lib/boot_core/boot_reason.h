/*
 * boot_reason.h - why an image is not run, or was reverted: one code for the
 * image check's verdicts (boot_image), the reasons kept in REVERTED records
 * (boot_state, where the numbers are stored: never renumber them) and the
 * bootloader's report of its decision (boot_decide).
 */
#ifndef BOOT_REASON_H
#define BOOT_REASON_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum boot_reason {
    /* nothing wrong: a valid image, or a record without a reason */
    BOOT_REASON_NONE = 0,
    /* the image was tried and the device reset before it confirmed itself */
    BOOT_REASON_NOT_CONFIRMED = 1,
    /* the image ran its self-test and the test failed (written by the image itself) */
    BOOT_REASON_SELF_TEST_FAILED = 2,
    /* the image check's refusals (boot_image.h says what each one covers) */
    BOOT_REASON_NO_IMAGE = 3,      /* the slot is erased: no header magic */
    BOOT_REASON_BAD_HEADER = 4,    /* header magic, sizes, flags or load address */
    BOOT_REASON_BAD_TLV = 5,       /* a TLV area out of bounds, malformed, or a TLV missing, twice or unknown */
    BOOT_REASON_BAD_HASH = 6,      /* the SHA-256 of header, payload and protected TLVs is not the SHA256 TLV */
    BOOT_REASON_BAD_KEY = 7,       /* KEYHASH names another key than the one built in */
    BOOT_REASON_BAD_SIGNATURE = 8, /* the signature does not verify with the built-in key */
    BOOT_REASON_WRONG_TARGET = 9,  /* a valid image for another target */
    BOOT_REASON_COUNTER_LOW = 10,  /* a valid image whose security counter is below the confirmed one's */
    BOOT_REASON_FLASH_ERROR = 11,  /* the flash could not be read or written */
    BOOT_REASON_BAD_ARGUMENT = 12, /* a check called without what it needs (a NULL, no work buffer): a bug */
    BOOT_REASON_COUNT = 13,        /* not a reason: the number of codes */
} boot_reason_t;

/* The reason's name, lower case ("bad_signature"), for logs and reports;
 * "unknown" for a value outside the enum. */
const char *boot_reason_name(boot_reason_t reason);

/* The reason as the wire's *update result* (firmware/lib/wire/wire.h,
 * WIRE_UPD_*; docs/protocol.md 2.3), for BOOT_REPORT.reason and
 * UPDATE_STATE.result: NONE is OK; an erased slot, a bad header or TLVs are
 * BAD_IMAGE; FLASH_ERROR is FLASH; BAD_ARGUMENT (a bug) BAD_IMAGE. The flash
 * keeps boot_reason_t (its own numbers), the wire these. */
uint8_t boot_reason_wire_code(boot_reason_t reason);

#ifdef __cplusplus
}
#endif

#endif /* BOOT_REASON_H */
