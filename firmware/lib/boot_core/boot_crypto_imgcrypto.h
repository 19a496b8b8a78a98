/*
 * boot_crypto_imgcrypto.h - the boot chain's crypto ops (boot_crypto_ops_t, boot_image.h) bound to imgcrypto:
 * SHA-256 and ECDSA P-256 verification from mbedtls 2.28.3 (firmware/lib/imgcrypto, docs/ota.md). What the
 * bootloader and the application's update path check images with; the structure tests use a stand-in instead.
 */
#ifndef BOOT_CRYPTO_IMGCRYPTO_H
#define BOOT_CRYPTO_IMGCRYPTO_H

#include "boot_image.h"
#include "imgcrypto.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Fills `ops` with imgcrypto's functions hashing in `sha256` (caller-owned: it must outlive `ops`). */
void boot_crypto_imgcrypto_bind(boot_crypto_ops_t *ops, imgcrypto_sha256_t *sha256);

#ifdef __cplusplus
}
#endif

#endif /* BOOT_CRYPTO_IMGCRYPTO_H */
