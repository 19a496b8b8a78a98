/* boot_image.c - the check of an MCUboot image in a slot (see boot_image.h for the format and the order). */
#include "boot_image.h"

#include <string.h>

#include "boot_bytes.h"

/* the TLVs our images carry, each exactly once */
enum { T_SEC_CNT, T_TARGET, T_MODEL, T_SHA256, T_KEYHASH, T_SIG, T_COUNT };

enum { AREA_PROTECTED, AREA_UNPROTECTED, AREA_COUNT };

typedef struct tlv_spec {
    uint16_t type;
    uint8_t area;
    uint16_t min_len;
    uint16_t max_len;
    const char *missing;   /* the detail when it is not there */
    const char *wrong_len; /* the detail when its length is out of range */
} tlv_spec_t;

// clang-format off
static const tlv_spec_t k_tlvs[T_COUNT] = {
    [T_SEC_CNT] = {BOOT_IMAGE_TLV_SEC_CNT, AREA_PROTECTED, 4u, 4u,
                   "protected TLV area: no security counter (SEC_CNT 0x50)",
                   "protected TLV area: the security counter (SEC_CNT 0x50) is not 4 bytes"},
    [T_TARGET] = {BOOT_IMAGE_TLV_TARGET, AREA_PROTECTED, 1u, BOOT_IMAGE_TARGET_MAX,
                  "protected TLV area: no target (0xA0)",
                  "protected TLV area: the target (0xA0) is not 1 to 16 bytes"},
    [T_MODEL] = {BOOT_IMAGE_TLV_MODEL_SHA256, AREA_PROTECTED, BOOT_SHA256_BYTES, BOOT_SHA256_BYTES,
                 "protected TLV area: no model sha256 (0xA1)",
                 "protected TLV area: the model sha256 (0xA1) is not 32 bytes"},
    [T_SHA256] = {BOOT_IMAGE_TLV_SHA256, AREA_UNPROTECTED, BOOT_SHA256_BYTES, BOOT_SHA256_BYTES,
                  "TLV area: no SHA256 (0x10)",
                  "TLV area: the SHA256 (0x10) is not 32 bytes"},
    [T_KEYHASH] = {BOOT_IMAGE_TLV_KEYHASH, AREA_UNPROTECTED, BOOT_SHA256_BYTES, BOOT_SHA256_BYTES,
                   "TLV area: no KEYHASH (0x01)",
                   "TLV area: the KEYHASH (0x01) is not 32 bytes"},
    [T_SIG] = {BOOT_IMAGE_TLV_ECDSA_SIG, AREA_UNPROTECTED, 1u, BOOT_IMAGE_SIG_MAX,
               "TLV area: no signature (ECDSASIG 0x22)",
               "TLV area: the signature (ECDSASIG 0x22) is empty or longer than 72 bytes"},
};

/* per area: its info magic and the details of its refusals */
typedef struct area_words {
    uint16_t magic;
    const char *past_slot;
    const char *bad_magic;
    const char *too_small;
    const char *header_past_end;
    const char *value_past_end;
    const char *unknown;
    const char *twice;
} area_words_t;

static const area_words_t k_areas[AREA_COUNT] = {
    [AREA_PROTECTED] = {BOOT_IMAGE_TLV_PROT_INFO_MAGIC,
                        "protected TLV area: runs past the end of the slot",
                        "protected TLV area: info magic is not 0x6908",
                        "protected TLV area: its size is below its own 4-byte info",
                        "protected TLV area: a TLV header runs past the area's end",
                        "protected TLV area: a TLV's value runs past the area's end",
                        "protected TLV area: a TLV of a type our images do not carry there",
                        "protected TLV area: a TLV appears twice"},
    [AREA_UNPROTECTED] = {BOOT_IMAGE_TLV_INFO_MAGIC,
                          "TLV area: runs past the end of the slot",
                          "TLV area: info magic is not 0x6907",
                          "TLV area: its size is below its own 4-byte info",
                          "TLV area: a TLV header runs past the area's end",
                          "TLV area: a TLV's value runs past the area's end",
                          "TLV area: a TLV of a type our images do not carry there",
                          "TLV area: a TLV appears twice"},
};
// clang-format on

typedef struct tlv_ref {
    bool found;
    uint32_t offset; /* of the value, from the slot's start */
    uint16_t len;
} tlv_ref_t;

/* one check in progress */
typedef struct check {
    const boot_image_checker_t *c;
    uint32_t base; /* the slot's offset in the flash */
    uint32_t size; /* the slot's size */
    boot_image_info_t *out;
    tlv_ref_t tlv[T_COUNT];
} check_t;

static boot_reason_t conclude(check_t *k, boot_reason_t verdict, const char *detail)
{
    k->out->verdict = verdict;
    k->out->detail = detail;
    return verdict;
}

/* Reads `len` bytes at `offset` of the slot; never outside it. */
static boot_reason_t read_slot(check_t *k, uint32_t offset, void *dst, size_t len)
{
    if ((uint64_t)offset + len > k->size) {
        return conclude(k, BOOT_REASON_BAD_ARGUMENT, "internal: a read outside the slot was refused");
    }
    if (!k->c->flash->read(k->c->flash->user, k->base + offset, dst, len)) {
        return conclude(k, BOOT_REASON_FLASH_ERROR, "the flash could not be read");
    }
    return BOOT_REASON_NONE;
}

static boot_reason_t read_header(check_t *k)
{
    boot_image_info_t *out = k->out;
    uint8_t h[BOOT_IMAGE_HEADER_STRUCT_SIZE];
    if (k->size < sizeof h) {
        return conclude(k, BOOT_REASON_BAD_HEADER, "header: the slot is smaller than an image header");
    }
    boot_reason_t r = read_slot(k, 0u, h, sizeof h);
    if (r != BOOT_REASON_NONE) {
        return r;
    }
    uint32_t magic = boot_get_u32(h + 0);
    out->load_address = boot_get_u32(h + 4);
    out->header_size = boot_get_u16(h + 8);
    out->protected_size = boot_get_u16(h + 10);
    out->payload_size = boot_get_u32(h + 12);
    out->flags = boot_get_u32(h + 16);
    out->version.major = h[20];
    out->version.minor = h[21];
    out->version.revision = boot_get_u16(h + 22);
    out->version.build = boot_get_u32(h + 24);
    if (magic == 0xFFFFFFFFu) {
        return conclude(k, BOOT_REASON_NO_IMAGE, "header: the slot is erased (no image)");
    }
    if (magic != BOOT_IMAGE_MAGIC) {
        return conclude(k, BOOT_REASON_BAD_HEADER, "header: magic is not 0x96f3b83d");
    }
    if (out->header_size < BOOT_IMAGE_HEADER_STRUCT_SIZE) {
        return conclude(k, BOOT_REASON_BAD_HEADER, "header: header size is below the header's own 32 bytes");
    }
    if ((uint64_t)out->header_size + out->payload_size > k->size) {
        return conclude(k, BOOT_REASON_BAD_HEADER, "header: header and payload run past the end of the slot");
    }
    if ((out->flags & ~BOOT_IMAGE_F_RAM_LOAD) != 0u) {
        return conclude(k, BOOT_REASON_BAD_HEADER, "header: flags other than RAM_LOAD (encrypted, compressed, ...)");
    }
    const boot_image_policy_t *p = k->c->policy;
    if ((out->flags & BOOT_IMAGE_F_RAM_LOAD) == 0u || out->load_address != p->load_address) {
        return conclude(k, BOOT_REASON_BAD_HEADER, "header: not a RAM-load image for this device's load address");
    }
    return BOOT_REASON_NONE;
}

/* Reads the TLVs of the area of `total` bytes at `start` (its info already checked). */
static boot_reason_t read_tlvs(check_t *k, uint8_t area, uint32_t start, uint32_t total)
{
    const area_words_t *w = &k_areas[area];
    uint32_t end = start + total; /* inside the slot: checked by the caller */
    uint32_t at = start + BOOT_IMAGE_TLV_INFO_SIZE;
    while (at < end) {
        if ((uint64_t)at + BOOT_IMAGE_TLV_HEADER_SIZE > end) {
            return conclude(k, BOOT_REASON_BAD_TLV, w->header_past_end);
        }
        uint8_t h[BOOT_IMAGE_TLV_HEADER_SIZE];
        boot_reason_t r = read_slot(k, at, h, sizeof h);
        if (r != BOOT_REASON_NONE) {
            return r;
        }
        uint16_t type = boot_get_u16(h);
        uint16_t len = boot_get_u16(h + 2);
        uint32_t value_at = at + BOOT_IMAGE_TLV_HEADER_SIZE;
        if ((uint64_t)value_at + len > end) {
            return conclude(k, BOOT_REASON_BAD_TLV, w->value_past_end);
        }
        unsigned t = 0;
        while (t < T_COUNT && !(k_tlvs[t].type == type && k_tlvs[t].area == area)) {
            t++;
        }
        if (t == T_COUNT) {
            return conclude(k, BOOT_REASON_BAD_TLV, w->unknown);
        }
        if (k->tlv[t].found) {
            return conclude(k, BOOT_REASON_BAD_TLV, w->twice);
        }
        if (len < k_tlvs[t].min_len || len > k_tlvs[t].max_len) {
            return conclude(k, BOOT_REASON_BAD_TLV, k_tlvs[t].wrong_len);
        }
        k->tlv[t].found = true;
        k->tlv[t].offset = value_at;
        k->tlv[t].len = len;
        at = value_at + len;
    }
    return BOOT_REASON_NONE;
}

/* The info of the area at `start`: its magic, its size (`*total`) within the slot. */
static boot_reason_t read_area_info(check_t *k, uint8_t area, uint32_t start, uint32_t *total)
{
    const area_words_t *w = &k_areas[area];
    if ((uint64_t)start + BOOT_IMAGE_TLV_INFO_SIZE > k->size) {
        return conclude(k, BOOT_REASON_BAD_TLV, w->past_slot);
    }
    uint8_t info[BOOT_IMAGE_TLV_INFO_SIZE];
    boot_reason_t r = read_slot(k, start, info, sizeof info);
    if (r != BOOT_REASON_NONE) {
        return r;
    }
    if (boot_get_u16(info) != w->magic) {
        return conclude(k, BOOT_REASON_BAD_TLV, w->bad_magic);
    }
    *total = boot_get_u16(info + 2);
    if (*total < BOOT_IMAGE_TLV_INFO_SIZE) {
        return conclude(k, BOOT_REASON_BAD_TLV, w->too_small);
    }
    if ((uint64_t)start + *total > k->size) {
        return conclude(k, BOOT_REASON_BAD_TLV, w->past_slot);
    }
    return BOOT_REASON_NONE;
}

static boot_reason_t read_structure(check_t *k)
{
    boot_image_info_t *out = k->out;
    boot_reason_t r = read_header(k);
    if (r != BOOT_REASON_NONE) {
        return r;
    }
    uint32_t protected_at = (uint32_t)out->header_size + out->payload_size; /* <= slot size: checked */
    if (out->protected_size == 0u) {
        return conclude(k, BOOT_REASON_BAD_TLV,
                        "protected TLV area: none (the header's size is 0): no security counter");
    }
    uint32_t total = 0u;
    r = read_area_info(k, AREA_PROTECTED, protected_at, &total);
    if (r != BOOT_REASON_NONE) {
        return r;
    }
    if (total != out->protected_size) {
        return conclude(k, BOOT_REASON_BAD_TLV, "protected TLV area: its info's size disagrees with the header's");
    }
    r = read_tlvs(k, AREA_PROTECTED, protected_at, total);
    if (r != BOOT_REASON_NONE) {
        return r;
    }
    uint32_t tlv_at = protected_at + total;
    r = read_area_info(k, AREA_UNPROTECTED, tlv_at, &out->tlv_size);
    if (r != BOOT_REASON_NONE) {
        return r;
    }
    r = read_tlvs(k, AREA_UNPROTECTED, tlv_at, out->tlv_size);
    if (r != BOOT_REASON_NONE) {
        return r;
    }
    for (unsigned t = 0; t < T_COUNT; t++) {
        if (!k->tlv[t].found) {
            return conclude(k, BOOT_REASON_BAD_TLV, k_tlvs[t].missing);
        }
    }
    out->image_size = tlv_at + out->tlv_size;
    if (out->image_size > k->c->policy->load_capacity) {
        return conclude(k, BOOT_REASON_BAD_HEADER, "header: the image is larger than the RAM it loads into");
    }
    return BOOT_REASON_NONE;
}

static boot_reason_t read_tlv_value(check_t *k, unsigned t, void *dst)
{
    return read_slot(k, k->tlv[t].offset, dst, k->tlv[t].len);
}

/* The values the checks compare and the caller reports. */
static boot_reason_t read_values(check_t *k)
{
    boot_image_info_t *out = k->out;
    uint8_t counter[4];
    boot_reason_t r = read_tlv_value(k, T_SEC_CNT, counter);
    if (r == BOOT_REASON_NONE) {
        out->security_counter = boot_get_u32(counter);
        r = read_tlv_value(k, T_TARGET, out->target);
    }
    if (r == BOOT_REASON_NONE) {
        out->target[k->tlv[T_TARGET].len] = '\0';
        r = read_tlv_value(k, T_MODEL, out->model_sha256);
    }
    if (r == BOOT_REASON_NONE) {
        r = read_tlv_value(k, T_SHA256, out->image_sha256);
    }
    return r;
}

/* SHA-256 of header + payload + protected TLV area, in pieces of the work buffer. */
static boot_reason_t hash_signed_part(check_t *k, uint8_t digest[BOOT_SHA256_BYTES])
{
    const boot_crypto_ops_t *cr = k->c->crypto;
    uint32_t end = (uint32_t)k->out->header_size + k->out->payload_size + k->out->protected_size;
    cr->sha256_init(cr->sha256_ctx);
    for (uint32_t at = 0u; at < end;) {
        size_t n = end - at < k->c->buf_len ? end - at : k->c->buf_len;
        boot_reason_t r = read_slot(k, at, k->c->buf, n);
        if (r != BOOT_REASON_NONE) {
            return r;
        }
        cr->sha256_update(cr->sha256_ctx, k->c->buf, n);
        at += (uint32_t)n;
    }
    cr->sha256_finish(cr->sha256_ctx, digest);
    return BOOT_REASON_NONE;
}

static boot_reason_t check_crypto(check_t *k, uint32_t min_security_counter)
{
    const boot_crypto_ops_t *cr = k->c->crypto;
    const boot_image_policy_t *p = k->c->policy;
    boot_image_info_t *out = k->out;
    uint8_t digest[BOOT_SHA256_BYTES];
    boot_reason_t r = hash_signed_part(k, digest);
    if (r != BOOT_REASON_NONE) {
        return r;
    }
    if (memcmp(digest, out->image_sha256, sizeof digest) != 0) {
        return conclude(k, BOOT_REASON_BAD_HASH,
                        "the SHA-256 of header, payload and protected TLVs is not the SHA256 TLV");
    }
    uint8_t keyhash[BOOT_SHA256_BYTES];
    uint8_t want[BOOT_SHA256_BYTES];
    r = read_tlv_value(k, T_KEYHASH, keyhash);
    if (r != BOOT_REASON_NONE) {
        return r;
    }
    cr->sha256_init(cr->sha256_ctx);
    cr->sha256_update(cr->sha256_ctx, p->pubkey, p->pubkey_len);
    cr->sha256_finish(cr->sha256_ctx, want);
    if (memcmp(keyhash, want, sizeof want) != 0) {
        return conclude(k, BOOT_REASON_BAD_KEY, "KEYHASH names another key than the one built in");
    }
    uint8_t sig[BOOT_IMAGE_SIG_MAX];
    r = read_tlv_value(k, T_SIG, sig);
    if (r != BOOT_REASON_NONE) {
        return r;
    }
    if (!cr->verify_p256(p->pubkey, p->pubkey_len, digest, sig, k->tlv[T_SIG].len)) {
        return conclude(k, BOOT_REASON_BAD_SIGNATURE, "the signature does not verify with the built-in key");
    }
    if (strlen(p->target) != k->tlv[T_TARGET].len || memcmp(p->target, out->target, k->tlv[T_TARGET].len) != 0) {
        return conclude(k, BOOT_REASON_WRONG_TARGET, "the image is for another target");
    }
    if (out->security_counter < min_security_counter) {
        return conclude(k, BOOT_REASON_COUNTER_LOW, "the security counter is below the confirmed image's");
    }
    return BOOT_REASON_NONE;
}

static bool checker_complete(const boot_image_checker_t *c)
{
    return c != NULL && c->flash != NULL && c->flash->read != NULL && c->crypto != NULL &&
           c->crypto->sha256_init != NULL && c->crypto->sha256_update != NULL && c->crypto->sha256_finish != NULL &&
           c->crypto->verify_p256 != NULL && c->policy != NULL && c->policy->pubkey != NULL &&
           c->policy->target != NULL && c->buf != NULL && c->buf_len != 0u;
}

boot_reason_t boot_image_check(const boot_image_checker_t *checker, uint32_t slot_offset, uint32_t slot_size,
                               uint32_t min_security_counter, boot_image_info_t *out)
{
    if (out == NULL) {
        return BOOT_REASON_BAD_ARGUMENT;
    }
    memset(out, 0, sizeof *out);
    check_t k;
    memset(&k, 0, sizeof k);
    k.c = checker;
    k.base = slot_offset;
    k.size = slot_size;
    k.out = out;
    if (!checker_complete(checker)) {
        return conclude(&k, BOOT_REASON_BAD_ARGUMENT, "the checker lacks its flash, crypto, policy or work buffer");
    }
    if ((uint64_t)slot_offset + slot_size > UINT32_MAX) {
        return conclude(&k, BOOT_REASON_BAD_ARGUMENT, "the slot runs past the end of the address space");
    }
    boot_reason_t r = read_structure(&k);
    if (r == BOOT_REASON_NONE) {
        r = read_values(&k);
    }
    if (r == BOOT_REASON_NONE) {
        r = check_crypto(&k, min_security_counter);
    }
    if (r == BOOT_REASON_NONE) {
        conclude(&k, BOOT_REASON_NONE, "ok");
    }
    return r;
}

void boot_image_view(const boot_image_info_t *info, boot_slot_view_t *view)
{
    view->checked = true;
    view->verdict = info->verdict;
    view->security_counter = info->security_counter;
    view->version = info->version;
}
