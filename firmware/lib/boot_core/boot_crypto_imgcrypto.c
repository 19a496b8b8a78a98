/* boot_crypto_imgcrypto.c - see boot_crypto_imgcrypto.h. */
#include "boot_crypto_imgcrypto.h"

_Static_assert(BOOT_SHA256_BYTES == IMGCRYPTO_SHA256_BYTES, "one SHA-256 size");
_Static_assert(BOOT_IMAGE_SIG_MAX == IMGCRYPTO_P256_SIG_MAX_BYTES, "one longest signature");

static void sha_init(void *ctx)
{
    imgcrypto_sha256_init((imgcrypto_sha256_t *)ctx);
}

static void sha_update(void *ctx, const uint8_t *data, size_t len)
{
    imgcrypto_sha256_update((imgcrypto_sha256_t *)ctx, data, len);
}

static void sha_finish(void *ctx, uint8_t digest[BOOT_SHA256_BYTES])
{
    imgcrypto_sha256_finish((imgcrypto_sha256_t *)ctx, digest);
}

static bool verify(const uint8_t *pubkey, size_t pubkey_len, const uint8_t digest[BOOT_SHA256_BYTES],
                   const uint8_t *sig, size_t sig_len)
{
    return imgcrypto_verify_p256(pubkey, pubkey_len, digest, sig, sig_len) == IMGCRYPTO_OK;
}

void boot_crypto_imgcrypto_bind(boot_crypto_ops_t *ops, imgcrypto_sha256_t *sha256)
{
    ops->sha256_init = sha_init;
    ops->sha256_update = sha_update;
    ops->sha256_finish = sha_finish;
    ops->verify_p256 = verify;
    ops->sha256_ctx = sha256;
}
