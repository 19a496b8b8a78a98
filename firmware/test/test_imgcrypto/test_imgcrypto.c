/*
 * test_imgcrypto - the image crypto (firmware/lib/imgcrypto: mbedtls 2.28.3's
 * SHA-256 and ECDSA P-256 verification) against the vectors of
 * tests/contract/imgcrypto_vectors.json (NIST CAVP and our own, made by
 * Python's cryptography), on the host and in QEMU. The header
 * imgcrypto_vectors.h is generated before the build (prebuild_vectors.py);
 * with a table that holds an imgtool image (tests/firmware/test_imgcrypto.py
 * makes one at test time) the image's own TLVs are checked too.
 */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "hbtest.h"
#include "imgcrypto.h"
#include "imgcrypto_vectors.h"
#include "port.h"

/* piece sizes for the streaming checks: around SHA-256's 64-byte block */
static const size_t PIECES[] = {1u, 63u, 64u, 65u, 127u, 1000u, 4093u};
#define N_PIECES (sizeof PIECES / sizeof PIECES[0])

static uint8_t g_repeat[4096];

static void print_mismatch(const char *what, const char *name, const char *detail)
{
    hbtest_print(what);
    hbtest_print(" ");
    hbtest_print(name);
    hbtest_print(": ");
    hbtest_print(detail);
    hbtest_print("\n");
}

static void sha256_of(const uint8_t *msg, size_t len, uint8_t out[IMGCRYPTO_SHA256_BYTES])
{
    imgcrypto_sha256_t h;
    imgcrypto_sha256_init(&h);
    imgcrypto_sha256_update(&h, msg, len);
    imgcrypto_sha256_finish(&h, out);
}

static void test_sha256_nist_messages(hbtest_t *t)
{
    HBTEST_CHECK(t, IV_N_SHA256 >= 65u);
    for (size_t i = 0; i < IV_N_SHA256; i++) {
        uint8_t d[IMGCRYPTO_SHA256_BYTES];
        sha256_of(IV_SHA256[i].msg, IV_SHA256[i].msg_len, d);
        bool ok = memcmp(d, IV_SHA256[i].digest, sizeof d) == 0;
        if (!ok) {
            print_mismatch("sha256", IV_SHA256[i].name, "digest differs");
        }
        HBTEST_CHECK(t, ok);
    }
}

/* Every message cut in two at every offset, and fed byte by byte: the
 * digest never depends on how the bytes arrive. */
static void test_sha256_any_split_gives_the_same_digest(hbtest_t *t)
{
    for (size_t i = 0; i < IV_N_SHA256; i++) {
        const iv_sha256_t *v = &IV_SHA256[i];
        bool all = true;
        for (size_t cut = 0; cut <= v->msg_len; cut++) {
            imgcrypto_sha256_t h;
            uint8_t d[IMGCRYPTO_SHA256_BYTES];
            imgcrypto_sha256_init(&h);
            imgcrypto_sha256_update(&h, v->msg, cut);
            imgcrypto_sha256_update(&h, NULL, 0u); /* an empty piece changes nothing */
            imgcrypto_sha256_update(&h, v->msg + cut, v->msg_len - cut);
            imgcrypto_sha256_finish(&h, d);
            all = all && memcmp(d, v->digest, sizeof d) == 0;
        }
        imgcrypto_sha256_t h;
        uint8_t d[IMGCRYPTO_SHA256_BYTES];
        imgcrypto_sha256_init(&h);
        for (size_t k = 0; k < v->msg_len; k++) {
            imgcrypto_sha256_update(&h, v->msg + k, 1u);
        }
        imgcrypto_sha256_finish(&h, d);
        all = all && memcmp(d, v->digest, sizeof d) == 0;
        if (!all) {
            print_mismatch("sha256 split", v->name, "a split changed the digest");
        }
        HBTEST_CHECK(t, all);
    }
}

/* One million "a" (FIPS 180-2) in pieces of 1, 63, 64, 65, 127, 1000 and
 * 4093 bytes, in turn. */
static void test_sha256_long_message_in_uneven_pieces(hbtest_t *t)
{
    HBTEST_CHECK(t, IV_N_SHA256_REPEAT >= 1u);
    for (size_t i = 0; i < IV_N_SHA256_REPEAT; i++) {
        const iv_sha256_repeat_t *v = &IV_SHA256_REPEAT[i];
        for (size_t k = 0; k < sizeof g_repeat; k++) {
            g_repeat[k] = v->pattern[k % v->pattern_len];
        }
        uint64_t total = (uint64_t)v->count * v->pattern_len;
        uint64_t fed = 0;
        size_t turn = 0;
        imgcrypto_sha256_t h;
        imgcrypto_sha256_init(&h);
        while (fed < total) {
            /* a piece starts where the pattern repeats, so g_repeat holds its bytes */
            size_t piece = PIECES[turn++ % N_PIECES];
            piece -= piece % v->pattern_len;
            piece = piece == 0u ? v->pattern_len : piece;
            if ((uint64_t)piece > total - fed) {
                piece = (size_t)(total - fed);
            }
            imgcrypto_sha256_update(&h, g_repeat, piece);
            fed += piece;
        }
        uint8_t d[IMGCRYPTO_SHA256_BYTES];
        imgcrypto_sha256_finish(&h, d);
        bool ok = memcmp(d, v->digest, sizeof d) == 0;
        if (!ok) {
            print_mismatch("sha256", v->name, "digest differs");
        }
        HBTEST_CHECK(t, ok);
    }
}

static void test_sha256_context_is_reused_after_finish(hbtest_t *t)
{
    imgcrypto_sha256_t h;
    uint8_t d[IMGCRYPTO_SHA256_BYTES];
    imgcrypto_sha256_init(&h);
    imgcrypto_sha256_update(&h, IV_SHA256[1].msg, IV_SHA256[1].msg_len);
    imgcrypto_sha256_finish(&h, d);
    HBTEST_CHECK(t, memcmp(d, IV_SHA256[1].digest, sizeof d) == 0);
    imgcrypto_sha256_init(&h);
    imgcrypto_sha256_update(&h, IV_SHA256[2].msg, IV_SHA256[2].msg_len);
    imgcrypto_sha256_finish(&h, d);
    HBTEST_CHECK(t, memcmp(d, IV_SHA256[2].digest, sizeof d) == 0);
}

/* Every vector whose expected status is one of `wanted`; returns how many. */
static size_t check_vectors(hbtest_t *t, const imgcrypto_status_t *wanted, size_t n_wanted)
{
    size_t seen = 0;
    for (size_t i = 0; i < IV_N_ECDSA; i++) {
        const iv_ecdsa_t *v = &IV_ECDSA[i];
        bool selected = false;
        for (size_t w = 0; w < n_wanted; w++) {
            selected = selected || v->expect == wanted[w];
        }
        if (!selected) {
            continue;
        }
        seen++;
        imgcrypto_status_t got = imgcrypto_verify_p256(v->key, v->key_len, v->digest, v->sig, v->sig_len);
        if (got != v->expect) {
            hbtest_print("ecdsa ");
            hbtest_print(v->name);
            hbtest_print(": expected ");
            hbtest_print(imgcrypto_status_name(v->expect));
            hbtest_print(", got ");
            hbtest_print(imgcrypto_status_name(got));
            hbtest_print("\n");
        }
        HBTEST_CHECK(t, got == v->expect);
    }
    return seen;
}

static void test_ecdsa_good_signatures_verify(hbtest_t *t)
{
    static const imgcrypto_status_t wanted[] = {IMGCRYPTO_OK};
    HBTEST_CHECK(t, check_vectors(t, wanted, 1u) >= 5u);
}

static void test_ecdsa_flipped_bits_and_other_keys_do_not_verify(hbtest_t *t)
{
    static const imgcrypto_status_t wanted[] = {IMGCRYPTO_ERR_SIG_MISMATCH};
    HBTEST_CHECK(t, check_vectors(t, wanted, 1u) >= 10u);
}

static void test_ecdsa_r_or_s_out_of_range_refused(hbtest_t *t)
{
    static const imgcrypto_status_t wanted[] = {IMGCRYPTO_ERR_SIG_RANGE};
    HBTEST_CHECK(t, check_vectors(t, wanted, 1u) >= 4u);
}

static void test_ecdsa_malformed_der_refused(hbtest_t *t)
{
    static const imgcrypto_status_t wanted[] = {IMGCRYPTO_ERR_SIG_FORMAT};
    HBTEST_CHECK(t, check_vectors(t, wanted, 1u) >= 5u);
}

static void test_ecdsa_bad_keys_refused(hbtest_t *t)
{
    static const imgcrypto_status_t wanted[] = {IMGCRYPTO_ERR_KEY_FORMAT, IMGCRYPTO_ERR_KEY_CURVE,
                                                IMGCRYPTO_ERR_KEY_POINT};
    HBTEST_CHECK(t, check_vectors(t, wanted, 3u) >= 5u);
}

static const iv_ecdsa_t *first_good(void)
{
    for (size_t i = 0; i < IV_N_ECDSA; i++) {
        if (IV_ECDSA[i].expect == IMGCRYPTO_OK) {
            return &IV_ECDSA[i];
        }
    }
    return NULL;
}

static void test_ecdsa_null_arguments_refused(hbtest_t *t)
{
    const iv_ecdsa_t *v = first_good();
    HBTEST_CHECK(t, v != NULL);
    if (v == NULL) {
        return;
    }
    HBTEST_CHECK(t, imgcrypto_verify_p256(NULL, v->key_len, v->digest, v->sig, v->sig_len) == IMGCRYPTO_ERR_ARGUMENT);
    HBTEST_CHECK(t, imgcrypto_verify_p256(v->key, v->key_len, NULL, v->sig, v->sig_len) == IMGCRYPTO_ERR_ARGUMENT);
    HBTEST_CHECK(t, imgcrypto_verify_p256(v->key, v->key_len, v->digest, NULL, v->sig_len) == IMGCRYPTO_ERR_ARGUMENT);
    /* the same call with every argument in place verifies: the refusals above were the NULLs */
    HBTEST_CHECK(t, imgcrypto_verify_p256(v->key, v->key_len, v->digest, v->sig, v->sig_len) == IMGCRYPTO_OK);
}

static void test_status_names(hbtest_t *t)
{
    HBTEST_CHECK(t, strcmp(imgcrypto_status_name(IMGCRYPTO_OK), "ok") == 0);
    HBTEST_CHECK(t, strcmp(imgcrypto_status_name(IMGCRYPTO_ERR_ARGUMENT), "argument") == 0);
    HBTEST_CHECK(t, strcmp(imgcrypto_status_name(IMGCRYPTO_ERR_KEY_FORMAT), "key_format") == 0);
    HBTEST_CHECK(t, strcmp(imgcrypto_status_name(IMGCRYPTO_ERR_KEY_CURVE), "key_curve") == 0);
    HBTEST_CHECK(t, strcmp(imgcrypto_status_name(IMGCRYPTO_ERR_KEY_POINT), "key_point") == 0);
    HBTEST_CHECK(t, strcmp(imgcrypto_status_name(IMGCRYPTO_ERR_SIG_FORMAT), "sig_format") == 0);
    HBTEST_CHECK(t, strcmp(imgcrypto_status_name(IMGCRYPTO_ERR_SIG_RANGE), "sig_range") == 0);
    HBTEST_CHECK(t, strcmp(imgcrypto_status_name(IMGCRYPTO_ERR_SIG_MISMATCH), "sig_mismatch") == 0);
    HBTEST_CHECK(t, strcmp(imgcrypto_status_name(IMGCRYPTO_ERR_NO_MEMORY), "no_memory") == 0);
    HBTEST_CHECK(t, strcmp(imgcrypto_status_name(IMGCRYPTO_ERR_INTERNAL), "internal") == 0);
    HBTEST_CHECK(t, strcmp(imgcrypto_status_name((imgcrypto_status_t)99), "unknown") == 0);
}

#if IV_HAVE_IMAGE
/* Run only when the table holds an image, so not one of the cases every build registers (a name given as a
 * literal to hbtest_run is read as such by the tests); tests/firmware/test_imgcrypto.py checks that it ran. */
#define IMAGE_CASE "imgtool_image_signature_verifies"

static uint8_t g_image[IV_IMAGE_LEN];

/* SHA-256 of the image's hashed region (header + payload + protected TLVs), in 100-byte pieces. */
static void image_digest(const uint8_t *image, uint8_t out[IMGCRYPTO_SHA256_BYTES])
{
    imgcrypto_sha256_t h;
    imgcrypto_sha256_init(&h);
    for (size_t at = 0; at < IV_IMAGE_HASHED_LEN; at += 100u) {
        size_t n = IV_IMAGE_HASHED_LEN - at < 100u ? IV_IMAGE_HASHED_LEN - at : 100u;
        imgcrypto_sha256_update(&h, image + at, n);
    }
    imgcrypto_sha256_finish(&h, out);
}

/* An image signed by imgtool (ecdsa-p256, a key made at test time): its
 * SHA256 TLV is the digest of its hashed region, its KEYHASH TLV the
 * SHA-256 of the key `imgtool getpub` exports, its ECDSASIG TLV verifies
 * under that key; one payload byte changed and it no longer does. */
static void test_imgtool_image_signature_verifies(hbtest_t *t)
{
    uint8_t digest[IMGCRYPTO_SHA256_BYTES];
    image_digest(IV_IMAGE, digest);
    HBTEST_CHECK(t, memcmp(digest, IV_IMAGE + IV_IMAGE_SHA256_AT, sizeof digest) == 0);
    uint8_t keyhash[IMGCRYPTO_SHA256_BYTES];
    sha256_of(IV_IMAGE_PUBKEY, IV_IMAGE_PUBKEY_LEN, keyhash);
    HBTEST_CHECK(t, memcmp(keyhash, IV_IMAGE + IV_IMAGE_KEYHASH_AT, sizeof keyhash) == 0);
    HBTEST_CHECK(t, imgcrypto_verify_p256(IV_IMAGE_PUBKEY, IV_IMAGE_PUBKEY_LEN, digest,
                                          IV_IMAGE + IV_IMAGE_SIGNATURE_AT, IV_IMAGE_SIGNATURE_LEN) == IMGCRYPTO_OK);

    memcpy(g_image, IV_IMAGE, sizeof g_image);
    g_image[IV_IMAGE_PAYLOAD_AT + IV_IMAGE_PAYLOAD_LEN / 2u] ^= 0x01u;
    image_digest(g_image, digest);
    HBTEST_CHECK(t, memcmp(digest, IV_IMAGE + IV_IMAGE_SHA256_AT, sizeof digest) != 0);
    HBTEST_CHECK(t, imgcrypto_verify_p256(IV_IMAGE_PUBKEY, IV_IMAGE_PUBKEY_LEN, digest, g_image + IV_IMAGE_SIGNATURE_AT,
                                          IV_IMAGE_SIGNATURE_LEN) == IMGCRYPTO_ERR_SIG_MISMATCH);
}
#endif

int main(void)
{
    hbtest_t t;
    port_init();
    hbtest_begin(&t);
    hbtest_run(&t, "sha256_nist_messages", test_sha256_nist_messages);
    hbtest_run(&t, "sha256_any_split_gives_the_same_digest", test_sha256_any_split_gives_the_same_digest);
    hbtest_run(&t, "sha256_long_message_in_uneven_pieces", test_sha256_long_message_in_uneven_pieces);
    hbtest_run(&t, "sha256_context_is_reused_after_finish", test_sha256_context_is_reused_after_finish);
    hbtest_run(&t, "ecdsa_good_signatures_verify", test_ecdsa_good_signatures_verify);
    hbtest_run(&t, "ecdsa_flipped_bits_and_other_keys_do_not_verify",
               test_ecdsa_flipped_bits_and_other_keys_do_not_verify);
    hbtest_run(&t, "ecdsa_r_or_s_out_of_range_refused", test_ecdsa_r_or_s_out_of_range_refused);
    hbtest_run(&t, "ecdsa_malformed_der_refused", test_ecdsa_malformed_der_refused);
    hbtest_run(&t, "ecdsa_bad_keys_refused", test_ecdsa_bad_keys_refused);
    hbtest_run(&t, "ecdsa_null_arguments_refused", test_ecdsa_null_arguments_refused);
    hbtest_run(&t, "status_names", test_status_names);
#if IV_HAVE_IMAGE
    hbtest_run(&t, IMAGE_CASE, test_imgtool_image_signature_verifies);
#endif
    port_exit(hbtest_end(&t));
}
