/*
 * boot_image.h - the check of an MCUboot image in a slot, read through the
 * flash ops: its structure, its SHA-256, the key that signed it, its
 * signature, its target and its security counter (docs/ota.md, "Image format
 * and keys"). Hashing and signature verification go through the caller's
 * crypto ops (boot_crypto_ops_t: imgcrypto on the device, a stub in the
 * structure tests).
 *
 * The format, as MCUboot's docs/design.md ("Image Format") defines it and
 * imgtool 2.5.0 (imgtool/image.py, the version pinned in pyproject.toml)
 * writes it; all fields little endian:
 *
 *   header (ih_hdr_size bytes, of which the first 32 are struct image_header):
 *      0  u32 ih_magic            0x96f3b83d (IMAGE_MAGIC)
 *      4  u32 ih_load_addr        where a RAM-load image is copied (imgtool --load-addr)
 *      8  u16 ih_hdr_size         the payload starts here
 *     10  u16 ih_protect_tlv_size the protected TLV area's size, its info included
 *     12  u32 ih_img_size         the payload's size
 *     16  u32 ih_flags            IMAGE_F_RAM_LOAD 0x20 (set by imgtool with a load address)
 *     20  u8 major, u8 minor, u16 revision, u32 build_num
 *     28  u32 _pad1
 *   payload (ih_img_size bytes)
 *   protected TLV area (ih_protect_tlv_size bytes): struct image_tlv_info
 *      { u16 it_magic 0x6908 (TLV_PROT_INFO_MAGIC), u16 it_tlv_tot: the area's size, info included }
 *      then TLVs { u16 it_type, u16 it_len, value }: SEC_CNT 0x50 (u32), and ours, target 0xA0
 *      (ASCII, 1..16 bytes) and model sha256 0xA1 (32 bytes). imgtool writes its own TLV types as a byte
 *      and a zero pad byte ('BBH') and custom ones (0x00a0..0xfffe) as a u16 ('HH'): both read as a u16.
 *   TLV area: struct image_tlv_info { u16 0x6907 (TLV_INFO_MAGIC), u16 it_tlv_tot }, then SHA256 0x10
 *      (32 bytes: SHA-256 of header + payload + protected TLV area), KEYHASH 0x01 (32 bytes: SHA-256 of
 *      the signing public key, DER SubjectPublicKeyInfo) and ECDSASIG 0x22 (DER ECDSA P-256 signature of
 *      that SHA-256, at most 72 bytes).
 *
 * The check, in this order, stops at the first problem and names it
 * (boot_image_info_t: a verdict and a one-line detail):
 *   1. structure (no signature can vouch for a layout that leads the reads
 *      astray): every offset and size is checked against the slot before it
 *      is read (64-bit sums: a hostile header cannot wrap them), a slot that
 *      reads 0xFF where the magic is holds NO_IMAGE; BAD_HEADER: magic, header
 *      size below 32, header + payload past the slot, flags other than
 *      RAM_LOAD (encrypted, compressed, non-bootable... are not ours), a load
 *      address other than the policy's, a whole image (TLVs included: the
 *      bootloader copies it all, to check the copy) larger than the RAM there;
 *      BAD_TLV: an area past the
 *      slot, a wrong info magic, a protected size the info disagrees with, a
 *      TLV past its area, a TLV unknown, twice, of a wrong length, or missing
 *      (each of the six above is required);
 *   2. BAD_HASH: the SHA-256 of header + payload + protected TLVs against SHA256;
 *   3. BAD_KEY: KEYHASH against the SHA-256 of the built-in key;
 *   4. BAD_SIGNATURE: the signature against the built-in key;
 *   5. WRONG_TARGET: the target TLV against the policy's target;
 *   6. COUNTER_LOW: SEC_CNT below the caller's minimum (the confirmed floor).
 * A flash read that fails is FLASH_ERROR; missing checker parts BAD_ARGUMENT.
 */
#ifndef BOOT_IMAGE_H
#define BOOT_IMAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "boot_decide.h"
#include "boot_flash.h"
#include "boot_reason.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- the format's numbers (see above) ---- */
#define BOOT_IMAGE_MAGIC 0x96F3B83Du
#define BOOT_IMAGE_HEADER_STRUCT_SIZE 32u
#define BOOT_IMAGE_F_RAM_LOAD 0x00000020u
#define BOOT_IMAGE_TLV_INFO_MAGIC 0x6907u
#define BOOT_IMAGE_TLV_PROT_INFO_MAGIC 0x6908u
#define BOOT_IMAGE_TLV_INFO_SIZE 4u
#define BOOT_IMAGE_TLV_HEADER_SIZE 4u
#define BOOT_IMAGE_TLV_KEYHASH 0x01u
#define BOOT_IMAGE_TLV_SHA256 0x10u
#define BOOT_IMAGE_TLV_ECDSA_SIG 0x22u
#define BOOT_IMAGE_TLV_SEC_CNT 0x50u
#define BOOT_IMAGE_TLV_TARGET 0xA0u       /* ours: the target's name, ASCII */
#define BOOT_IMAGE_TLV_MODEL_SHA256 0xA1u /* ours: the sha256 of the model's .tflite */

#define BOOT_SHA256_BYTES 32u
#define BOOT_IMAGE_TARGET_MAX 16u /* the longest target name */
#define BOOT_IMAGE_SIG_MAX 72u    /* the longest DER ECDSA P-256 signature */

/* Hash and signature, the caller's (the device: imgcrypto's functions). */
typedef struct boot_crypto_ops {
    /* streaming SHA-256 over `sha256_ctx` (the caller's state) */
    void (*sha256_init)(void *ctx);
    void (*sha256_update)(void *ctx, const uint8_t *data, size_t len);
    void (*sha256_finish)(void *ctx, uint8_t digest[BOOT_SHA256_BYTES]);
    /* true only when `sig` is an ECDSA P-256 signature of `digest` by `pubkey` */
    bool (*verify_p256)(const uint8_t *pubkey, size_t pubkey_len, const uint8_t digest[BOOT_SHA256_BYTES],
                        const uint8_t *sig, size_t sig_len);
    void *sha256_ctx;
} boot_crypto_ops_t;

/* What an image must be to run here. */
typedef struct boot_image_policy {
    const uint8_t *pubkey; /* the built-in public key, as the crypto ops take it (DER SubjectPublicKeyInfo) */
    size_t pubkey_len;
    const char *target;     /* this device's target name ("qemu", "nrf52840") */
    uint32_t load_address;  /* the RAM-load address images are linked for (ih_load_addr) */
    uint32_t load_capacity; /* bytes of RAM from there: the whole image (header, payload, TLVs) is copied */
} boot_image_policy_t;

/* Everything a check needs; the caller's. */
typedef struct boot_image_checker {
    const boot_flash_ops_t *flash;
    const boot_crypto_ops_t *crypto;
    const boot_image_policy_t *policy;
    uint8_t *buf; /* a work buffer for hashing the slot (any size; bigger is fewer reads) */
    size_t buf_len;
} boot_image_checker_t;

/* What a check found. The fields are filled as far as the check got: they
 * are the image's own word (unauthenticated) unless the verdict is NONE,
 * WRONG_TARGET or COUNTER_LOW. */
typedef struct boot_image_info {
    boot_reason_t verdict; /* BOOT_REASON_NONE: a valid image */
    const char *detail;    /* what was wrong, one line ("ok" when valid) */
    uint32_t load_address;
    uint32_t flags;
    uint16_t header_size;
    uint16_t protected_size;
    uint32_t payload_size;
    uint32_t tlv_size;   /* the unprotected TLV area, its info included */
    uint32_t image_size; /* header + payload + both TLV areas: the bytes of the slot the image fills */
    boot_version_t version;
    uint32_t security_counter;
    char target[BOOT_IMAGE_TARGET_MAX + 1]; /* NUL-terminated */
    uint8_t model_sha256[BOOT_SHA256_BYTES];
    uint8_t image_sha256[BOOT_SHA256_BYTES]; /* the SHA256 TLV */
} boot_image_info_t;

/* Checks the image in the slot at `slot_offset` (`slot_size` bytes) against
 * the checker's policy, refusing a security counter below
 * `min_security_counter`. Fills `out` and returns its verdict. Reads the
 * flash only inside the slot. */
boot_reason_t boot_image_check(const boot_image_checker_t *checker, uint32_t slot_offset, uint32_t slot_size,
                               uint32_t min_security_counter, boot_image_info_t *out);

/* The view boot_decide() takes, from a check's result. */
void boot_image_view(const boot_image_info_t *info, boot_slot_view_t *view);

#ifdef __cplusplus
}
#endif

#endif /* BOOT_IMAGE_H */
