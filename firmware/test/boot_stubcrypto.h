/*
 * boot_stubcrypto.h - a stand-in for the crypto ops in the structure tests of
 * the boot chain: NOT cryptography. Its "digest" is FNV-1a (32-bit) of the
 * bytes mixed with their count and spread over 32 bytes, which changes when
 * any one byte changes; its "signature" of a digest by a key is the digest
 * XOR the key, 32 bytes. It lets the tests show which bytes the image check
 * hashes and that it refuses what does not match, without a signing key. The
 * real ops (imgcrypto: mbedtls's SHA-256 and ECDSA P-256) plug into the same
 * boot_crypto_ops_t.
 */
#ifndef BOOT_STUBCRYPTO_H
#define BOOT_STUBCRYPTO_H

#include <stddef.h>
#include <stdint.h>

#include "boot_image.h"

#ifdef __cplusplus
extern "C" {
#endif

#define BOOT_STUBCRYPTO_SIG_BYTES 32u

/* The stand-in's hashing state; the caller's. */
typedef struct boot_stubcrypto_hash {
    uint32_t h;
    uint32_t len;    /* bytes hashed since init */
    uint32_t hashed; /* bytes hashed by every hash since boot_stubcrypto_bind (the tests read it) */
} boot_stubcrypto_hash_t;

/* Fills `ops` with the stand-in, hashing in `state`. */
void boot_stubcrypto_bind(boot_crypto_ops_t *ops, boot_stubcrypto_hash_t *state);

/* The stand-in digest of `len` bytes. */
void boot_stubcrypto_digest(const uint8_t *data, size_t len, uint8_t digest[BOOT_SHA256_BYTES]);

/* The stand-in signature of `digest` by `key` (`key_len` >= 1). */
void boot_stubcrypto_sign(const uint8_t *key, size_t key_len, const uint8_t digest[BOOT_SHA256_BYTES],
                          uint8_t sig[BOOT_STUBCRYPTO_SIG_BYTES]);

#ifdef __cplusplus
}
#endif

#endif /* BOOT_STUBCRYPTO_H */
