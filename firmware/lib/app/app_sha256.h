/*
 * app_sha256.h - SHA-256 of a buffer, for the start-up check of the model array against the sha256 the build
 * recorded (HB_MODEL_SHA256). The hashing is imgcrypto's (mbedtls 2.28.3, docs/ota.md): never written here.
 */
#ifndef APP_SHA256_H
#define APP_SHA256_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "imgcrypto.h"

#ifdef __cplusplus
extern "C" {
#endif

#define APP_SHA256_SIZE 32u

_Static_assert(APP_SHA256_SIZE == IMGCRYPTO_SHA256_BYTES, "one SHA-256 size");

/* A SHA-256 in progress (imgcrypto's), caller-owned. */
typedef struct {
    imgcrypto_sha256_t h;
} app_sha256_t;

void app_sha256_init(app_sha256_t *s);
void app_sha256_update(app_sha256_t *s, const uint8_t *data, size_t len);
void app_sha256_final(app_sha256_t *s, uint8_t digest[APP_SHA256_SIZE]);

/* The digest of `len` bytes in one call. */
void app_sha256(const uint8_t *data, size_t len, uint8_t digest[APP_SHA256_SIZE]);

/* Parses 64 hex digits (either case) into 32 bytes; false (and *out untouched) otherwise. */
bool app_sha256_from_hex(const char *hex, uint8_t out[APP_SHA256_SIZE]);

#ifdef __cplusplus
}
#endif

#endif /* APP_SHA256_H */
