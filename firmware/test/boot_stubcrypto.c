/* boot_stubcrypto.c - the crypto ops' stand-in for structure tests (see boot_stubcrypto.h): not cryptography. */
#include "boot_stubcrypto.h"

#include <string.h>

#define FNV_OFFSET 0x811C9DC5u
#define FNV_PRIME 0x01000193u

static void stub_init(void *ctx)
{
    boot_stubcrypto_hash_t *s = ctx;
    s->h = FNV_OFFSET;
    s->len = 0u;
}

static void stub_update(void *ctx, const uint8_t *data, size_t len)
{
    boot_stubcrypto_hash_t *s = ctx;
    for (size_t i = 0; i < len; i++) {
        s->h = (s->h ^ data[i]) * FNV_PRIME;
    }
    s->len += (uint32_t)len;
    s->hashed += (uint32_t)len;
}

static void stub_finish(void *ctx, uint8_t digest[BOOT_SHA256_BYTES])
{
    boot_stubcrypto_hash_t *s = ctx;
    for (uint32_t i = 0; i < BOOT_SHA256_BYTES / 4u; i++) {
        uint32_t w = (s->h ^ (0x9E3779B9u * (i + 1u))) * 0x85EBCA6Bu ^ s->len;
        for (uint32_t b = 0; b < 4u; b++) {
            digest[4u * i + b] = (uint8_t)(w >> (8u * b));
        }
    }
}

void boot_stubcrypto_sign(const uint8_t *key, size_t key_len, const uint8_t digest[BOOT_SHA256_BYTES],
                          uint8_t sig[BOOT_STUBCRYPTO_SIG_BYTES])
{
    for (size_t i = 0; i < BOOT_STUBCRYPTO_SIG_BYTES; i++) {
        sig[i] = (uint8_t)(digest[i] ^ key[i % key_len]);
    }
}

static bool stub_verify(const uint8_t *pubkey, size_t pubkey_len, const uint8_t digest[BOOT_SHA256_BYTES],
                        const uint8_t *sig, size_t sig_len)
{
    uint8_t want[BOOT_STUBCRYPTO_SIG_BYTES];
    if (pubkey_len == 0u || sig_len != sizeof want) {
        return false;
    }
    boot_stubcrypto_sign(pubkey, pubkey_len, digest, want);
    return memcmp(want, sig, sizeof want) == 0;
}

void boot_stubcrypto_digest(const uint8_t *data, size_t len, uint8_t digest[BOOT_SHA256_BYTES])
{
    boot_stubcrypto_hash_t s;
    memset(&s, 0, sizeof s);
    stub_init(&s);
    stub_update(&s, data, len);
    stub_finish(&s, digest);
}

void boot_stubcrypto_bind(boot_crypto_ops_t *ops, boot_stubcrypto_hash_t *state)
{
    memset(state, 0, sizeof *state);
    ops->sha256_init = stub_init;
    ops->sha256_update = stub_update;
    ops->sha256_finish = stub_finish;
    ops->verify_p256 = stub_verify;
    ops->sha256_ctx = state;
}
