/*
 * boot_testimage.h - MCUboot-format images for the boot chain's tests, laid
 * out as imgtool 2.5.0 lays them out (boot_image.h: header padded with 0xFF
 * to its size, payload, protected TLVs SEC_CNT, target, model sha256, then
 * SHA256, KEYHASH and the signature) but hashed and signed with the crypto
 * stand-in (boot_stubcrypto.h). The tests corrupt them afterwards, at the
 * offsets the layout gives.
 */
#ifndef BOOT_TESTIMAGE_H
#define BOOT_TESTIMAGE_H

#include <stddef.h>
#include <stdint.h>

#include "boot_decide.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct boot_testimage_spec {
    uint32_t load_address;
    uint16_t header_size;
    uint32_t payload_size;
    uint8_t payload_seed; /* payload byte i is (seed + i * 7) & 0xFF */
    uint32_t flags;
    boot_version_t version;
    uint32_t security_counter;
    const char *target;
    const uint8_t *key; /* the stand-in's key: KEYHASH is its digest, the signature is made with it */
    size_t key_len;
    uint32_t omit; /* BOOT_TESTIMAGE_OMIT_* of the TLVs to leave out (0: all six are there) */
} boot_testimage_spec_t;

#define BOOT_TESTIMAGE_OMIT_SEC_CNT 0x01u
#define BOOT_TESTIMAGE_OMIT_TARGET 0x02u
#define BOOT_TESTIMAGE_OMIT_MODEL 0x04u
#define BOOT_TESTIMAGE_OMIT_SHA256 0x08u
#define BOOT_TESTIMAGE_OMIT_KEYHASH 0x10u
#define BOOT_TESTIMAGE_OMIT_SIG 0x20u

/* Where the parts of a built image are (offsets from its start). */
typedef struct boot_testimage_layout {
    uint32_t size;         /* the whole image */
    uint32_t protected_at; /* the protected TLV area's info */
    uint32_t tlv_at;       /* the TLV area's info */
    uint32_t sec_cnt_at;   /* the TLV header of SEC_CNT (its value 4 bytes later); 0 when left out, as below */
    uint32_t target_at;    /* the TLV header of the target */
    uint32_t model_at;     /* the TLV header of the model sha256 */
    uint32_t sha256_at;    /* the TLV header of SHA256 */
    uint32_t keyhash_at;   /* the TLV header of KEYHASH */
    uint32_t sig_at;       /* the TLV header of the signature */
} boot_testimage_layout_t;

/* Builds the image into `out` (`cap` bytes); 0 when it does not fit. */
uint32_t boot_testimage_build(const boot_testimage_spec_t *spec, uint8_t *out, size_t cap,
                              boot_testimage_layout_t *layout);

#ifdef __cplusplus
}
#endif

#endif /* BOOT_TESTIMAGE_H */
