/*
 * test_boot_image - the check of an MCUboot image in a slot (firmware/lib/boot_core/boot_image), on the
 * port's flash, with the crypto stand-in (boot_stubcrypto: a checksum, not cryptography) so that the
 * structure, the bytes hashed and the order of the checks can be tested without a signing key: every
 * refusal of a hostile or broken image by name (magic, sizes past the slot, flags, load address, TLV areas
 * out of bounds or malformed, missing, unknown or repeated TLVs, hash, key, signature, target, security
 * counter), every single-bit flip of a valid image refused, and no read ever outside the slot.
 */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "boot_image.h"
#include "boot_stubcrypto.h"
#include "boot_testflash.h"
#include "boot_testimage.h"
#include "hbtest.h"
#include "port.h"

#define SLOT_OFFSET 0x3000u /* a small slot between other data, so that a read outside it shows */
#define SLOT_SIZE 0x2000u
#define LOAD_ADDRESS 0x00010000u
#define PAYLOAD 300u

static const uint8_t KEY[] = "the built-in key (stand-in)";
static const uint8_t OTHER_KEY[] = "another key";

static boot_testflash_t g_tf;
static uint8_t g_img[SLOT_SIZE + 64u];
static boot_testimage_layout_t g_layout;
static uint32_t g_len;
static uint8_t g_work[4096];

/* the flash the checker reads, counting reads outside the slot */
typedef struct spy {
    boot_flash_ops_t ops;
    uint32_t reads;
    uint32_t outside;
} spy_t;

static spy_t g_spy;
static boot_stubcrypto_hash_t g_hash;
static boot_crypto_ops_t g_crypto;
static boot_image_policy_t g_policy;
static boot_image_checker_t g_checker;
static boot_image_info_t g_info;

static bool spy_read(void *user, uint32_t offset, void *out, size_t len)
{
    spy_t *s = user;
    s->reads++;
    if (offset < SLOT_OFFSET || (uint64_t)offset + len > (uint64_t)SLOT_OFFSET + SLOT_SIZE) {
        s->outside++;
    }
    return g_tf.cut.ops.read(g_tf.cut.ops.user, offset, out, len);
}

static bool spy_write(void *user, uint32_t offset, const void *data, size_t len)
{
    (void)user;
    return g_tf.cut.ops.write(g_tf.cut.ops.user, offset, data, len);
}

static bool spy_erase(void *user, uint32_t offset)
{
    (void)user;
    return g_tf.cut.ops.erase_page(g_tf.cut.ops.user, offset);
}

static void setup_checker(void)
{
    g_spy.ops.read = spy_read;
    g_spy.ops.write = spy_write;
    g_spy.ops.erase_page = spy_erase;
    g_spy.ops.user = &g_spy;
    boot_stubcrypto_bind(&g_crypto, &g_hash);
    g_policy.pubkey = KEY;
    g_policy.pubkey_len = sizeof KEY;
    g_policy.target = "qemu";
    g_policy.load_address = LOAD_ADDRESS;
    g_policy.load_capacity = 0x40000u;
    g_checker.flash = &g_spy.ops;
    g_checker.crypto = &g_crypto;
    g_checker.policy = &g_policy;
    g_checker.buf = g_work;
    g_checker.buf_len = 256u;
}

static boot_testimage_spec_t spec(void)
{
    boot_testimage_spec_t s;
    memset(&s, 0, sizeof s);
    s.load_address = LOAD_ADDRESS;
    s.header_size = 0x200u;
    s.payload_size = PAYLOAD;
    s.payload_seed = 0x31u;
    s.flags = BOOT_IMAGE_F_RAM_LOAD;
    s.version.major = 1u;
    s.version.minor = 2u;
    s.version.revision = 3u;
    s.version.build = 4u;
    s.security_counter = 5u;
    s.target = "qemu";
    s.key = KEY;
    s.key_len = sizeof KEY;
    return s;
}

static bool build(const boot_testimage_spec_t *s)
{
    g_len = boot_testimage_build(s, g_img, sizeof g_img, &g_layout);
    return g_len != 0u;
}

/* Puts g_img (g_len bytes) into the erased slot; the bytes around the slot hold a pattern. */
static bool install(void)
{
    static uint8_t pattern[BOOT_FLASH_PAGE_SIZE];
    memset(pattern, 0x96, sizeof pattern);
    if (!boot_testflash_erase_all(&g_tf) ||
        port_flash_write(SLOT_OFFSET - BOOT_FLASH_PAGE_SIZE, pattern, sizeof pattern) != PORT_FLASH_OK ||
        port_flash_write(SLOT_OFFSET + SLOT_SIZE, pattern, sizeof pattern) != PORT_FLASH_OK) {
        return false;
    }
    uint32_t padded = (g_len + 3u) & ~3u;
    for (uint32_t i = g_len; i < padded; i++) {
        g_img[i] = 0xFFu;
    }
    return padded <= SLOT_SIZE && port_flash_write(SLOT_OFFSET, g_img, padded) == PORT_FLASH_OK;
}

/* Rewrites g_img into the slot's pages it covers (quicker than install(): nothing else changes). */
static bool rewrite_slot(void)
{
    uint32_t padded = (g_len + 3u) & ~3u;
    for (uint32_t i = g_len; i < padded; i++) {
        g_img[i] = 0xFFu;
    }
    for (uint32_t at = 0; at < padded; at += BOOT_FLASH_PAGE_SIZE) {
        if (port_flash_erase_page(SLOT_OFFSET + at) != PORT_FLASH_OK) {
            return false;
        }
    }
    return port_flash_write(SLOT_OFFSET, g_img, padded) == PORT_FLASH_OK;
}

static boot_reason_t check_with(uint32_t min_counter)
{
    g_spy.outside = 0u;
    return boot_image_check(&g_checker, SLOT_OFFSET, SLOT_SIZE, min_counter, &g_info);
}

static boot_reason_t check(void)
{
    return check_with(0u);
}

static bool detail_has(const char *words)
{
    return g_info.detail != NULL && strstr(g_info.detail, words) != NULL;
}

static void put16(uint32_t at, uint16_t v)
{
    g_img[at] = (uint8_t)v;
    g_img[at + 1u] = (uint8_t)(v >> 8);
}

static void put32(uint32_t at, uint32_t v)
{
    put16(at, (uint16_t)v);
    put16(at + 2u, (uint16_t)(v >> 16));
}

static uint16_t get16(uint32_t at)
{
    return (uint16_t)(g_img[at] | (g_img[at + 1u] << 8));
}

static void report(const char *what)
{
    hbtest_print("  ");
    hbtest_print(what);
    hbtest_print(": verdict ");
    hbtest_print(boot_reason_name(g_info.verdict));
    hbtest_print(", detail: ");
    hbtest_print(g_info.detail != NULL ? g_info.detail : "(none)");
    hbtest_print("\n");
}

/* ---- a valid image ---- */

static void test_a_valid_image_passes_and_says_what_it_is(hbtest_t *t)
{
    boot_testimage_spec_t s = spec();
    HBTEST_CHECK(t, build(&s) && install());
    uint32_t hashed_before = g_hash.hashed;
    HBTEST_CHECK(t, check_with(5u) == BOOT_REASON_NONE);
    HBTEST_CHECK(t, strcmp(g_info.detail, "ok") == 0);
    HBTEST_CHECK(t, g_info.load_address == LOAD_ADDRESS && g_info.flags == BOOT_IMAGE_F_RAM_LOAD);
    HBTEST_CHECK(t, g_info.header_size == 0x200u && g_info.payload_size == PAYLOAD);
    HBTEST_CHECK(t, g_info.protected_size == g_layout.tlv_at - g_layout.protected_at);
    HBTEST_CHECK(t, g_info.tlv_size == g_len - g_layout.tlv_at);
    HBTEST_CHECK(t, g_info.image_size == g_len);
    HBTEST_CHECK(t, g_info.version.major == 1u && g_info.version.minor == 2u && g_info.version.revision == 3u &&
                        g_info.version.build == 4u);
    HBTEST_CHECK(t, g_info.security_counter == 5u);
    HBTEST_CHECK(t, strcmp(g_info.target, "qemu") == 0);
    HBTEST_CHECK(t, g_info.model_sha256[0] == 0xA1u && g_info.model_sha256[31] == (uint8_t)(0xA1u + 31u));
    HBTEST_CHECK(t, memcmp(g_info.image_sha256, g_img + g_layout.sha256_at + 4u, 32u) == 0);
    /* hashed: header + payload + protected TLVs (the signed part), then the built-in key for KEYHASH */
    HBTEST_CHECK(t, g_hash.hashed - hashed_before == g_layout.tlv_at + sizeof KEY);
    HBTEST_CHECK(t, g_spy.outside == 0u);
}

static void test_the_work_buffer_size_does_not_change_the_verdict(hbtest_t *t)
{
    boot_testimage_spec_t s = spec();
    HBTEST_CHECK(t, build(&s) && install());
    static const size_t sizes[] = {1u, 3u, 64u, 1000u, sizeof g_work};
    for (unsigned i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        g_checker.buf_len = sizes[i];
        HBTEST_CHECK(t, check() == BOOT_REASON_NONE);
    }
    g_img[0x200u + 17u] ^= 0x40u; /* and a changed payload byte is found whatever the pieces */
    HBTEST_CHECK(t, install());
    for (unsigned i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        g_checker.buf_len = sizes[i];
        HBTEST_CHECK(t, check() == BOOT_REASON_BAD_HASH);
    }
    g_checker.buf_len = 256u;
}

static void test_an_image_that_fills_the_slot_to_its_last_byte_passes(hbtest_t *t)
{
    boot_testimage_spec_t s = spec();
    s.payload_size = 0u;
    HBTEST_CHECK(t, build(&s));
    s.payload_size = SLOT_SIZE - g_len; /* the rest of the slot */
    HBTEST_CHECK(t, build(&s) && g_len == SLOT_SIZE && install());
    HBTEST_CHECK(t, check() == BOOT_REASON_NONE);
    HBTEST_CHECK(t, g_spy.outside == 0u);
}

static void test_an_erased_slot_holds_no_image(hbtest_t *t)
{
    HBTEST_CHECK(t, boot_testflash_erase_all(&g_tf));
    HBTEST_CHECK(t, check() == BOOT_REASON_NO_IMAGE);
    HBTEST_CHECK(t, detail_has("erased"));
}

/* ---- structure: each refusal by name ---- */

typedef struct mutation {
    const char *name;
    void (*apply)(void);
    boot_reason_t verdict;
    const char *detail; /* words the detail contains */
} mutation_t;

static void m_magic(void)
{
    g_img[3] ^= 0x01u;
}
static void m_header_size_31(void)
{
    put16(8u, 31u);
}
static void m_header_size_max(void)
{
    put16(8u, 0xFFFFu);
}
static void m_payload_to_slot_end(void)
{
    put32(12u, SLOT_SIZE - 0x200u + 1u);
}
static void m_payload_wraps(void)
{
    put32(12u, 0xFFFFFFFFu);
}
static void m_flag_encrypted(void)
{
    put32(16u, BOOT_IMAGE_F_RAM_LOAD | 0x4u);
}
static void m_flag_non_bootable(void)
{
    put32(16u, BOOT_IMAGE_F_RAM_LOAD | 0x10u);
}
static void m_no_ram_load(void)
{
    put32(16u, 0u);
}
static void m_load_address(void)
{
    put32(4u, LOAD_ADDRESS + 0x100u);
}
static void m_protected_size_0(void)
{
    put16(10u, 0u);
}
static void m_protected_size_disagrees(void)
{
    put16(10u, (uint16_t)(get16(10u) + 4u));
}
static void m_protected_past_slot(void)
{
    put16(10u, 0xFFFFu);
    put16(g_layout.protected_at + 2u, 0xFFFFu);
}
static void m_protected_magic(void)
{
    put16(g_layout.protected_at, BOOT_IMAGE_TLV_INFO_MAGIC);
}
static void m_protected_too_small(void)
{
    put16(10u, 2u);
    put16(g_layout.protected_at + 2u, 2u);
}
static void m_tlv_magic(void)
{
    put16(g_layout.tlv_at, BOOT_IMAGE_TLV_PROT_INFO_MAGIC);
}
static void m_tlv_past_slot(void)
{
    put16(g_layout.tlv_at + 2u, 0xFFFFu);
}
static void m_tlv_too_small(void)
{
    put16(g_layout.tlv_at + 2u, 3u);
}
static void m_value_past_area(void)
{
    put16(g_layout.sec_cnt_at + 2u, 0x0100u);
}
static void m_value_past_area_u16_max(void)
{
    put16(g_layout.sig_at + 2u, 0xFFFFu);
}
static void m_header_past_area(void)
{
    /* the area ends 2 bytes into the signature's TLV header */
    put16(g_layout.tlv_at + 2u, (uint16_t)(g_layout.sig_at + 2u - g_layout.tlv_at));
}
static void m_unknown_protected(void)
{
    put16(g_layout.model_at, 0xA2u);
}
static void m_unknown_unprotected(void)
{
    put16(g_layout.keyhash_at, 0x02u); /* PUBKEY: not ours */
}
static void m_known_in_wrong_area(void)
{
    put16(g_layout.model_at, BOOT_IMAGE_TLV_SHA256); /* 32 bytes, but SHA256 belongs to the other area */
}
static void m_twice(void)
{
    put16(g_layout.keyhash_at, BOOT_IMAGE_TLV_SHA256);
}
static void m_pad_byte(void)
{
    g_img[g_layout.sha256_at + 1u] = 0x01u; /* imgtool's zero pad byte of a standard type */
}
static void m_trailing_tlv_in_area(void)
{
    /* the area grows by 4 bytes that the slot holds erased: a TLV 0xFFFF of length 0xFFFF */
    put16(g_layout.tlv_at + 2u, (uint16_t)(get16(g_layout.tlv_at + 2u) + 4u));
}

// clang-format off
static const mutation_t k_structure[] = {
    {"magic",                       m_magic,                    BOOT_REASON_BAD_HEADER, "magic"},
    {"header size 31",              m_header_size_31,           BOOT_REASON_BAD_HEADER, "below the header's own 32"},
    {"header size 65535",           m_header_size_max,          BOOT_REASON_BAD_HEADER, "past the end of the slot"},
    {"payload past the slot",       m_payload_to_slot_end,      BOOT_REASON_BAD_HEADER, "past the end of the slot"},
    {"payload size 0xffffffff",     m_payload_wraps,            BOOT_REASON_BAD_HEADER, "past the end of the slot"},
    {"encrypted flag",              m_flag_encrypted,           BOOT_REASON_BAD_HEADER, "flags"},
    {"non-bootable flag",           m_flag_non_bootable,        BOOT_REASON_BAD_HEADER, "flags"},
    {"no RAM_LOAD flag",            m_no_ram_load,              BOOT_REASON_BAD_HEADER, "RAM-load"},
    {"another load address",        m_load_address,             BOOT_REASON_BAD_HEADER, "load address"},
    {"no protected TLVs",           m_protected_size_0,         BOOT_REASON_BAD_TLV,    "no security counter"},
    {"protected size disagrees",    m_protected_size_disagrees, BOOT_REASON_BAD_TLV,    "disagrees"},
    {"protected area past slot",    m_protected_past_slot,      BOOT_REASON_BAD_TLV,    "protected TLV area: runs past the end of the slot"},
    {"protected info magic",        m_protected_magic,          BOOT_REASON_BAD_TLV,    "0x6908"},
    {"protected area below 4",      m_protected_too_small,      BOOT_REASON_BAD_TLV,    "below its own 4-byte info"},
    {"TLV info magic",              m_tlv_magic,                BOOT_REASON_BAD_TLV,    "0x6907"},
    {"TLV area past slot",          m_tlv_past_slot,            BOOT_REASON_BAD_TLV,    "TLV area: runs past the end of the slot"},
    {"TLV area below 4",            m_tlv_too_small,            BOOT_REASON_BAD_TLV,    "below its own 4-byte info"},
    {"a value past its area",       m_value_past_area,          BOOT_REASON_BAD_TLV,    "value runs past the area's end"},
    {"a length of 65535",           m_value_past_area_u16_max,  BOOT_REASON_BAD_TLV,    "value runs past the area's end"},
    {"a TLV header past its area",  m_header_past_area,         BOOT_REASON_BAD_TLV,    "TLV header runs past"},
    {"unknown protected TLV",       m_unknown_protected,        BOOT_REASON_BAD_TLV,    "do not carry there"},
    {"unknown TLV",                 m_unknown_unprotected,      BOOT_REASON_BAD_TLV,    "do not carry there"},
    {"SHA256 among protected TLVs", m_known_in_wrong_area,      BOOT_REASON_BAD_TLV,    "do not carry there"},
    {"a TLV twice",                 m_twice,                    BOOT_REASON_BAD_TLV,    "twice"},
    {"a standard type's pad byte",  m_pad_byte,                 BOOT_REASON_BAD_TLV,    "do not carry there"},
    {"an erased TLV in the area",   m_trailing_tlv_in_area,     BOOT_REASON_BAD_TLV,    "value runs past the area's end"},
};
// clang-format on

static void test_each_broken_structure_is_refused_by_name_without_reading_outside(hbtest_t *t)
{
    for (unsigned i = 0; i < sizeof k_structure / sizeof k_structure[0]; i++) {
        boot_testimage_spec_t s = spec();
        HBTEST_CHECK(t, build(&s));
        k_structure[i].apply();
        HBTEST_CHECK(t, install());
        boot_reason_t got = check();
        if (!HBTEST_CHECK(t,
                          got == k_structure[i].verdict && detail_has(k_structure[i].detail) && g_spy.outside == 0u)) {
            report(k_structure[i].name);
            return;
        }
    }
}

static void test_a_load_larger_than_the_ram_is_refused(hbtest_t *t)
{
    boot_testimage_spec_t s = spec();
    HBTEST_CHECK(t, build(&s) && install());
    g_policy.load_capacity = g_len - 1u; /* the whole image is copied: header, payload and TLVs */
    HBTEST_CHECK(t, check() == BOOT_REASON_BAD_HEADER && detail_has("larger than the RAM"));
    g_policy.load_capacity = g_len;
    HBTEST_CHECK(t, check() == BOOT_REASON_NONE);
    g_policy.load_capacity = 0x40000u;
}

static void test_each_missing_tlv_is_named(hbtest_t *t)
{
    static const struct {
        uint32_t omit;
        const char *words;
    } cases[] = {
        {BOOT_TESTIMAGE_OMIT_SEC_CNT, "no security counter (SEC_CNT 0x50)"},
        {BOOT_TESTIMAGE_OMIT_TARGET, "no target (0xA0)"},
        {BOOT_TESTIMAGE_OMIT_MODEL, "no model sha256 (0xA1)"},
        {BOOT_TESTIMAGE_OMIT_SHA256, "no SHA256 (0x10)"},
        {BOOT_TESTIMAGE_OMIT_KEYHASH, "no KEYHASH (0x01)"},
        {BOOT_TESTIMAGE_OMIT_SIG, "no signature (ECDSASIG 0x22)"},
    };
    for (unsigned i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        boot_testimage_spec_t s = spec();
        s.omit = cases[i].omit;
        HBTEST_CHECK(t, build(&s) && install());
        if (!HBTEST_CHECK(t, check() == BOOT_REASON_BAD_TLV && detail_has(cases[i].words))) {
            report(cases[i].words);
            return;
        }
    }
}

static void test_a_target_longer_than_16_bytes_is_refused(hbtest_t *t)
{
    boot_testimage_spec_t s = spec();
    s.target = "qemu-but-much-longer";
    HBTEST_CHECK(t, build(&s) && install());
    HBTEST_CHECK(t, check() == BOOT_REASON_BAD_TLV && detail_has("target (0xA0) is not 1 to 16 bytes"));
}

/* ---- hash, key, signature, target, counter ---- */

static void test_a_changed_byte_anywhere_in_the_signed_part_is_a_bad_hash(hbtest_t *t)
{
    boot_testimage_spec_t s = spec();
    HBTEST_CHECK(t, build(&s));
    const uint32_t places[] = {
        21u,                          /* the version's minor */
        100u,                         /* the header's padding */
        0x200u,                       /* the payload's first byte */
        0x200u + PAYLOAD - 1u,        /* its last */
        g_layout.sec_cnt_at + 4u,     /* the security counter's value */
        g_layout.target_at + 4u,      /* the target */
        g_layout.model_at + 4u + 31u, /* the model's sha256 */
        g_layout.sha256_at + 4u + 7u, /* the SHA256 TLV itself */
    };
    for (unsigned i = 0; i < sizeof places / sizeof places[0]; i++) {
        HBTEST_CHECK(t, build(&s));
        g_img[places[i]] ^= 0x10u;
        HBTEST_CHECK(t, install());
        if (!HBTEST_CHECK(t, check() == BOOT_REASON_BAD_HASH)) {
            report("a changed byte");
            hbtest_print("  at ");
            hbtest_print_u32(places[i]);
            hbtest_print("\n");
            return;
        }
    }
}

static void test_another_key_is_refused(hbtest_t *t)
{
    boot_testimage_spec_t s = spec();
    HBTEST_CHECK(t, build(&s));
    g_img[g_layout.keyhash_at + 4u] ^= 0x01u;
    HBTEST_CHECK(t, install());
    HBTEST_CHECK(t, check() == BOOT_REASON_BAD_KEY && detail_has("another key"));
    /* signed with another key: its KEYHASH names that key */
    s.key = OTHER_KEY;
    s.key_len = sizeof OTHER_KEY;
    HBTEST_CHECK(t, build(&s) && install());
    HBTEST_CHECK(t, check() == BOOT_REASON_BAD_KEY);
}

static void test_a_signature_that_does_not_verify_is_refused(hbtest_t *t)
{
    boot_testimage_spec_t s = spec();
    HBTEST_CHECK(t, build(&s));
    g_img[g_layout.sig_at + 4u + 5u] ^= 0x80u;
    HBTEST_CHECK(t, install());
    HBTEST_CHECK(t, check() == BOOT_REASON_BAD_SIGNATURE && detail_has("signature"));
    /* another key's signature under our KEYHASH */
    s.key = OTHER_KEY;
    s.key_len = sizeof OTHER_KEY;
    HBTEST_CHECK(t, build(&s));
    uint8_t ours[BOOT_SHA256_BYTES];
    boot_stubcrypto_digest(KEY, sizeof KEY, ours);
    memcpy(g_img + g_layout.keyhash_at + 4u, ours, sizeof ours);
    HBTEST_CHECK(t, install());
    HBTEST_CHECK(t, check() == BOOT_REASON_BAD_SIGNATURE);
}

static void test_a_valid_image_for_the_other_target_is_refused(hbtest_t *t)
{
    boot_testimage_spec_t s = spec();
    s.target = "nrf52840";
    HBTEST_CHECK(t, build(&s) && install());
    HBTEST_CHECK(t, check() == BOOT_REASON_WRONG_TARGET);
    HBTEST_CHECK(t, strcmp(g_info.target, "nrf52840") == 0);
    s.target = "qemu2"; /* a prefix is not the name */
    HBTEST_CHECK(t, build(&s) && install());
    HBTEST_CHECK(t, check() == BOOT_REASON_WRONG_TARGET);
}

static void test_a_security_counter_below_the_floor_is_refused(hbtest_t *t)
{
    boot_testimage_spec_t s = spec();
    HBTEST_CHECK(t, build(&s) && install());
    HBTEST_CHECK(t, check_with(6u) == BOOT_REASON_COUNTER_LOW && g_info.security_counter == 5u);
    HBTEST_CHECK(t, check_with(5u) == BOOT_REASON_NONE);
    HBTEST_CHECK(t, check_with(0u) == BOOT_REASON_NONE);
}

static void test_the_checks_come_in_order_structure_hash_key_signature_target_counter(hbtest_t *t)
{
    /* an image wrong in every way the crypto sees is reported by the first check only */
    boot_testimage_spec_t s = spec();
    s.target = "nrf52840";
    s.security_counter = 1u;
    s.key = OTHER_KEY;
    s.key_len = sizeof OTHER_KEY;
    HBTEST_CHECK(t, build(&s));
    g_img[0x200u] ^= 1u;
    HBTEST_CHECK(t, install());
    HBTEST_CHECK(t, check_with(9u) == BOOT_REASON_BAD_HASH);
    HBTEST_CHECK(t, build(&s) && install());
    HBTEST_CHECK(t, check_with(9u) == BOOT_REASON_BAD_KEY);
    s.key = KEY;
    s.key_len = sizeof KEY;
    HBTEST_CHECK(t, build(&s) && install());
    HBTEST_CHECK(t, check_with(9u) == BOOT_REASON_WRONG_TARGET);
    s.target = "qemu";
    HBTEST_CHECK(t, build(&s) && install());
    HBTEST_CHECK(t, check_with(9u) == BOOT_REASON_COUNTER_LOW);
}

/* ---- properties ---- */

static void test_every_single_bit_flip_of_a_valid_image_is_refused(hbtest_t *t)
{
    boot_testimage_spec_t s = spec();
    s.payload_size = 40u;
    HBTEST_CHECK(t, build(&s) && install());
    HBTEST_CHECK(t, check() == BOOT_REASON_NONE);
    uint32_t flips = 0u;
    for (uint32_t byte = 0; byte < g_len; byte++) {
        for (unsigned bit = 0; bit < 8u; bit++) {
            g_img[byte] ^= (uint8_t)(1u << bit);
            bool written = rewrite_slot();
            boot_reason_t got = check();
            g_img[byte] ^= (uint8_t)(1u << bit);
            flips++;
            if (!HBTEST_CHECK(t, written && got != BOOT_REASON_NONE && g_spy.outside == 0u)) {
                report("a flipped bit");
                hbtest_print("  at byte ");
                hbtest_print_u32(byte);
                hbtest_print(" bit ");
                hbtest_print_u32(bit);
                hbtest_print("\n");
                return;
            }
        }
    }
    HBTEST_CHECK(t, flips == 8u * g_len);
}

/* a linear congruential generator: the same hostile headers on every run */
static uint32_t next_random(uint32_t *state)
{
    *state = *state * 1664525u + 1013904223u;
    return *state;
}

static void test_random_hostile_headers_and_tlv_infos_never_read_outside_the_slot(hbtest_t *t)
{
    static uint8_t original[SLOT_SIZE];
    boot_testimage_spec_t s = spec();
    s.payload_size = 40u;
    HBTEST_CHECK(t, build(&s) && install());
    memcpy(original, g_img, g_len);
    /* the sizes, the TLV infos' sizes and the TLV lengths, some at extreme values */
    static const uint32_t extremes[] = {0u, 1u, 3u, 4u, 31u, 32u, 0x7FFFu, 0x8000u, 0xFFFCu, 0xFFFFu};
    const uint32_t fields[] = {8u,
                               10u,
                               12u,
                               14u,
                               g_layout.protected_at + 2u,
                               g_layout.tlv_at + 2u,
                               g_layout.sec_cnt_at + 2u,
                               g_layout.target_at + 2u,
                               g_layout.model_at + 2u,
                               g_layout.sha256_at + 2u,
                               g_layout.keyhash_at + 2u,
                               g_layout.sig_at + 2u};
    const unsigned n = sizeof fields / sizeof fields[0];
    uint32_t seed = 0x5EEDu;
    unsigned tried = 0u;
    for (unsigned i = 0; i < 1500u; i++) {
        memcpy(g_img, original, g_len);
        uint32_t r = next_random(&seed);
        uint16_t v = (r & 1u) ? (uint16_t)extremes[(r >> 1) % 10u] : (uint16_t)(r >> 8);
        put16(fields[(r >> 20) % n], v);
        if ((r & 0x100u) != 0u) {
            put16(fields[(r >> 12) % n], (uint16_t)next_random(&seed));
        }
        if (memcmp(g_img, original, g_len) == 0) {
            continue; /* the same value as before: not hostile */
        }
        tried++;
        HBTEST_CHECK(t, rewrite_slot());
        boot_reason_t got = check();
        if (!HBTEST_CHECK(t, got != BOOT_REASON_NONE && g_spy.outside == 0u)) {
            report("a hostile header");
            return;
        }
    }
    HBTEST_CHECK(t, tried > 1000u);
}

static void test_a_checker_without_its_parts_is_refused_not_crashed(hbtest_t *t)
{
    boot_image_checker_t c = g_checker;
    c.buf = NULL;
    HBTEST_CHECK(t, boot_image_check(&c, SLOT_OFFSET, SLOT_SIZE, 0u, &g_info) == BOOT_REASON_BAD_ARGUMENT);
    c = g_checker;
    c.crypto = NULL;
    HBTEST_CHECK(t, boot_image_check(&c, SLOT_OFFSET, SLOT_SIZE, 0u, &g_info) == BOOT_REASON_BAD_ARGUMENT);
    HBTEST_CHECK(t, boot_image_check(NULL, SLOT_OFFSET, SLOT_SIZE, 0u, &g_info) == BOOT_REASON_BAD_ARGUMENT);
    HBTEST_CHECK(t, boot_image_check(&g_checker, 0xFFFFF000u, SLOT_SIZE, 0u, &g_info) == BOOT_REASON_BAD_ARGUMENT);
    HBTEST_CHECK(t, boot_image_check(&g_checker, SLOT_OFFSET, SLOT_SIZE, 0u, NULL) == BOOT_REASON_BAD_ARGUMENT);
}

static void test_a_flash_that_cannot_be_read_is_a_flash_error(hbtest_t *t)
{
    boot_testimage_spec_t s = spec();
    HBTEST_CHECK(t, build(&s) && install());
    g_tf.cut.cut = true; /* the flash is gone */
    HBTEST_CHECK(t, check() == BOOT_REASON_FLASH_ERROR);
    boot_cutflash_power_on(&g_tf.cut);
    HBTEST_CHECK(t, check() == BOOT_REASON_NONE);
}

int main(void)
{
    hbtest_t t;
    port_init();
    hbtest_begin(&t);
    if (!boot_testflash_open(&g_tf)) {
        hbtest_print("test_boot_image: no flash to test on\n");
        port_exit(1);
    }
    setup_checker();
    hbtest_run(&t, "a_valid_image_passes_and_says_what_it_is", test_a_valid_image_passes_and_says_what_it_is);
    hbtest_run(&t, "the_work_buffer_size_does_not_change_the_verdict",
               test_the_work_buffer_size_does_not_change_the_verdict);
    hbtest_run(&t, "an_image_that_fills_the_slot_to_its_last_byte_passes",
               test_an_image_that_fills_the_slot_to_its_last_byte_passes);
    hbtest_run(&t, "an_erased_slot_holds_no_image", test_an_erased_slot_holds_no_image);
    hbtest_run(&t, "each_broken_structure_is_refused_by_name_without_reading_outside",
               test_each_broken_structure_is_refused_by_name_without_reading_outside);
    hbtest_run(&t, "a_load_larger_than_the_ram_is_refused", test_a_load_larger_than_the_ram_is_refused);
    hbtest_run(&t, "each_missing_tlv_is_named", test_each_missing_tlv_is_named);
    hbtest_run(&t, "a_target_longer_than_16_bytes_is_refused", test_a_target_longer_than_16_bytes_is_refused);
    hbtest_run(&t, "a_changed_byte_anywhere_in_the_signed_part_is_a_bad_hash",
               test_a_changed_byte_anywhere_in_the_signed_part_is_a_bad_hash);
    hbtest_run(&t, "another_key_is_refused", test_another_key_is_refused);
    hbtest_run(&t, "a_signature_that_does_not_verify_is_refused", test_a_signature_that_does_not_verify_is_refused);
    hbtest_run(&t, "a_valid_image_for_the_other_target_is_refused", test_a_valid_image_for_the_other_target_is_refused);
    hbtest_run(&t, "a_security_counter_below_the_floor_is_refused", test_a_security_counter_below_the_floor_is_refused);
    hbtest_run(&t, "the_checks_come_in_order_structure_hash_key_signature_target_counter",
               test_the_checks_come_in_order_structure_hash_key_signature_target_counter);
    hbtest_run(&t, "every_single_bit_flip_of_a_valid_image_is_refused",
               test_every_single_bit_flip_of_a_valid_image_is_refused);
    hbtest_run(&t, "random_hostile_headers_and_tlv_infos_never_read_outside_the_slot",
               test_random_hostile_headers_and_tlv_infos_never_read_outside_the_slot);
    hbtest_run(&t, "a_checker_without_its_parts_is_refused_not_crashed",
               test_a_checker_without_its_parts_is_refused_not_crashed);
    hbtest_run(&t, "a_flash_that_cannot_be_read_is_a_flash_error", test_a_flash_that_cannot_be_read_is_a_flash_error);
    port_exit(hbtest_end(&t));
}
