/* boot_testimage.c - MCUboot-format test images signed by the crypto stand-in (see boot_testimage.h). */
#include "boot_testimage.h"

#include <string.h>

#include "boot_image.h"
#include "boot_stubcrypto.h"

static void put_u16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

static void put_u32(uint8_t *p, uint32_t v)
{
    put_u16(p, (uint16_t)v);
    put_u16(p + 2, (uint16_t)(v >> 16));
}

/* Appends a TLV at `*at`; returns the offset of its header. */
static uint32_t put_tlv(uint8_t *out, uint32_t *at, uint16_t type, const void *value, uint16_t len)
{
    uint32_t header_at = *at;
    put_u16(out + *at, type);
    put_u16(out + *at + 2, len);
    memcpy(out + *at + BOOT_IMAGE_TLV_HEADER_SIZE, value, len);
    *at += BOOT_IMAGE_TLV_HEADER_SIZE + len;
    return header_at;
}

/* the size a TLV adds unless it is left out */
static uint32_t tlv_bytes(const boot_testimage_spec_t *spec, uint32_t omit_bit, uint32_t value_len)
{
    return (spec->omit & omit_bit) != 0u ? 0u : BOOT_IMAGE_TLV_HEADER_SIZE + value_len;
}

uint32_t boot_testimage_build(const boot_testimage_spec_t *spec, uint8_t *out, size_t cap,
                              boot_testimage_layout_t *layout)
{
    uint16_t target_len = (uint16_t)strlen(spec->target);
    uint32_t protected_size = BOOT_IMAGE_TLV_INFO_SIZE + tlv_bytes(spec, BOOT_TESTIMAGE_OMIT_SEC_CNT, 4u) +
                              tlv_bytes(spec, BOOT_TESTIMAGE_OMIT_TARGET, target_len) +
                              tlv_bytes(spec, BOOT_TESTIMAGE_OMIT_MODEL, BOOT_SHA256_BYTES);
    uint32_t tlv_size = BOOT_IMAGE_TLV_INFO_SIZE + tlv_bytes(spec, BOOT_TESTIMAGE_OMIT_SHA256, BOOT_SHA256_BYTES) +
                        tlv_bytes(spec, BOOT_TESTIMAGE_OMIT_KEYHASH, BOOT_SHA256_BYTES) +
                        tlv_bytes(spec, BOOT_TESTIMAGE_OMIT_SIG, BOOT_STUBCRYPTO_SIG_BYTES);
    uint64_t size = (uint64_t)spec->header_size + spec->payload_size + protected_size + tlv_size;
    if (size > cap || spec->header_size < BOOT_IMAGE_HEADER_STRUCT_SIZE) {
        return 0u;
    }
    memset(layout, 0, sizeof *layout);
    /* header: imgtool --pad-header fills it with the erased value, then writes struct image_header */
    memset(out, 0xFF, spec->header_size);
    put_u32(out + 0, BOOT_IMAGE_MAGIC);
    put_u32(out + 4, spec->load_address);
    put_u16(out + 8, spec->header_size);
    put_u16(out + 10, (uint16_t)protected_size);
    put_u32(out + 12, spec->payload_size);
    put_u32(out + 16, spec->flags);
    out[20] = spec->version.major;
    out[21] = spec->version.minor;
    put_u16(out + 22, spec->version.revision);
    put_u32(out + 24, spec->version.build);
    put_u32(out + 28, 0u);
    uint32_t at = spec->header_size;
    for (uint32_t i = 0; i < spec->payload_size; i++) {
        out[at + i] = (uint8_t)(spec->payload_seed + i * 7u);
    }
    at += spec->payload_size;
    /* protected TLVs, in imgtool's order: SEC_CNT, then the custom ones */
    layout->protected_at = at;
    put_u16(out + at, (uint16_t)BOOT_IMAGE_TLV_PROT_INFO_MAGIC);
    put_u16(out + at + 2, (uint16_t)protected_size);
    at += BOOT_IMAGE_TLV_INFO_SIZE;
    uint8_t counter[4];
    put_u32(counter, spec->security_counter);
    if ((spec->omit & BOOT_TESTIMAGE_OMIT_SEC_CNT) == 0u) {
        layout->sec_cnt_at = put_tlv(out, &at, BOOT_IMAGE_TLV_SEC_CNT, counter, sizeof counter);
    }
    if ((spec->omit & BOOT_TESTIMAGE_OMIT_TARGET) == 0u) {
        layout->target_at = put_tlv(out, &at, BOOT_IMAGE_TLV_TARGET, spec->target, target_len);
    }
    uint8_t model[BOOT_SHA256_BYTES];
    for (uint32_t i = 0; i < sizeof model; i++) {
        model[i] = (uint8_t)(0xA1u + i);
    }
    if ((spec->omit & BOOT_TESTIMAGE_OMIT_MODEL) == 0u) {
        layout->model_at = put_tlv(out, &at, BOOT_IMAGE_TLV_MODEL_SHA256, model, sizeof model);
    }
    /* what is signed: everything so far */
    uint8_t digest[BOOT_SHA256_BYTES];
    uint8_t keyhash[BOOT_SHA256_BYTES];
    uint8_t sig[BOOT_STUBCRYPTO_SIG_BYTES];
    boot_stubcrypto_digest(out, at, digest);
    boot_stubcrypto_digest(spec->key, spec->key_len, keyhash);
    boot_stubcrypto_sign(spec->key, spec->key_len, digest, sig);
    /* the TLV area, in imgtool's order: SHA256, KEYHASH, the signature */
    layout->tlv_at = at;
    put_u16(out + at, (uint16_t)BOOT_IMAGE_TLV_INFO_MAGIC);
    put_u16(out + at + 2, (uint16_t)tlv_size);
    at += BOOT_IMAGE_TLV_INFO_SIZE;
    if ((spec->omit & BOOT_TESTIMAGE_OMIT_SHA256) == 0u) {
        layout->sha256_at = put_tlv(out, &at, BOOT_IMAGE_TLV_SHA256, digest, sizeof digest);
    }
    if ((spec->omit & BOOT_TESTIMAGE_OMIT_KEYHASH) == 0u) {
        layout->keyhash_at = put_tlv(out, &at, BOOT_IMAGE_TLV_KEYHASH, keyhash, sizeof keyhash);
    }
    if ((spec->omit & BOOT_TESTIMAGE_OMIT_SIG) == 0u) {
        layout->sig_at = put_tlv(out, &at, BOOT_IMAGE_TLV_ECDSA_SIG, sig, sizeof sig);
    }
    layout->size = at;
    return at;
}
