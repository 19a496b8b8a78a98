/*
 * imgcrypto.h - the signature check of firmware images: SHA-256 and ECDSA
 * P-256 verification, from mbedtls 2.28.3 (docs/ota.md, "Image format and
 * keys").
 *
 * What imgtool 2.5.0 (`imgtool sign`, key type ecdsa-p256) puts in an image
 * and what this API takes, unchanged:
 *   - the SHA256 TLV (0x10): SHA-256 of header + payload + protected TLVs;
 *     recompute it with imgcrypto_sha256_* over those bytes, in any pieces;
 *   - the ECDSASIG TLV (0x22): an ECDSA signature of that digest, DER
 *     SEQUENCE { INTEGER r, INTEGER s }, 70..72 bytes, no padding (imgtool's
 *     --pad-sig appends zero bytes; those images are refused as SIG_FORMAT);
 *   - the public key: `imgtool getpub --lang c` (or `-e raw`) gives the
 *     91-byte DER SubjectPublicKeyInfo (id-ecPublicKey, prime256v1, the
 *     uncompressed point); the KEYHASH TLV (0x01) is the SHA-256 of those 91
 *     bytes. The bare 65-byte uncompressed point (0x04 || X || Y) is taken too.
 *
 * State is the caller's: the SHA-256 context is a struct the caller owns;
 * imgcrypto_verify_p256() keeps nothing between calls. mbedtls allocates its
 * big numbers with calloc()/free() during a verification and frees them all
 * before returning (peak heap and stack: docs/ota.md).
 */
#ifndef IMGCRYPTO_H
#define IMGCRYPTO_H

#include <stddef.h>
#include <stdint.h>

#include "imgcrypto_mbedtls.h"
#include "mbedtls/sha256.h"

#ifdef __cplusplus
extern "C" {
#endif

#define IMGCRYPTO_SHA256_BYTES 32u
/* 0x04 || X || Y */
#define IMGCRYPTO_P256_POINT_BYTES 65u
/* DER SubjectPublicKeyInfo of a P-256 key, as imgtool getpub emits it */
#define IMGCRYPTO_P256_SPKI_BYTES 91u
/* the longest DER ECDSA P-256 signature (both integers 33 bytes) */
#define IMGCRYPTO_P256_SIG_MAX_BYTES 72u

/* A SHA-256 computation in progress; owned by the caller. */
typedef struct imgcrypto_sha256 {
    mbedtls_sha256_context ctx;
} imgcrypto_sha256_t;

/* What a verification found; every refusal names its reason. */
typedef enum imgcrypto_status {
    IMGCRYPTO_OK = 0,
    /* a NULL pointer */
    IMGCRYPTO_ERR_ARGUMENT,
    /* the key is neither a 65-byte uncompressed point nor a DER SubjectPublicKeyInfo */
    IMGCRYPTO_ERR_KEY_FORMAT,
    /* a SubjectPublicKeyInfo of another algorithm or curve than ECDSA P-256 */
    IMGCRYPTO_ERR_KEY_CURVE,
    /* the key's point is not a valid point of P-256 */
    IMGCRYPTO_ERR_KEY_POINT,
    /* the signature is not a DER SEQUENCE of two positive INTEGERs (short-form lengths, minimal encodings)
     * filling exactly sig_len bytes */
    IMGCRYPTO_ERR_SIG_FORMAT,
    /* r or s is 0 or not below the group order n */
    IMGCRYPTO_ERR_SIG_RANGE,
    /* a well-formed signature, but not of this digest by this key */
    IMGCRYPTO_ERR_SIG_MISMATCH,
    /* calloc() failed inside mbedtls */
    IMGCRYPTO_ERR_NO_MEMORY,
    /* any other mbedtls error (not expected) */
    IMGCRYPTO_ERR_INTERNAL,
} imgcrypto_status_t;

/* Streaming SHA-256: init, update with the bytes in any number of pieces
 * (len 0 allowed), finish writes the digest and clears the context (init it
 * again to hash something else). The software SHA-256 cannot fail. */
void imgcrypto_sha256_init(imgcrypto_sha256_t *h);
void imgcrypto_sha256_update(imgcrypto_sha256_t *h, const uint8_t *data, size_t len);
void imgcrypto_sha256_finish(imgcrypto_sha256_t *h, uint8_t digest[IMGCRYPTO_SHA256_BYTES]);

/* Is `sig_der` (sig_len bytes) an ECDSA P-256 signature of the SHA-256
 * `digest` by `pubkey` (pubkey_len bytes: the 65-byte point or the 91-byte
 * SubjectPublicKeyInfo)? IMGCRYPTO_OK only if it is; otherwise the first
 * problem found, checked in this order: arguments, key, signature encoding,
 * r and s range, the signature itself. */
imgcrypto_status_t imgcrypto_verify_p256(const uint8_t *pubkey, size_t pubkey_len,
                                         const uint8_t digest[IMGCRYPTO_SHA256_BYTES], const uint8_t *sig_der,
                                         size_t sig_len);

/* The status's name, lower case without the prefix ("sig_mismatch"), for
 * logs and reports; "unknown" for a value outside the enum. */
const char *imgcrypto_status_name(imgcrypto_status_t status);

#ifdef __cplusplus
}
#endif

#endif /* IMGCRYPTO_H */
