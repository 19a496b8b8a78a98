/* app_sha256.c - see app_sha256.h: imgcrypto's SHA-256 (mbedtls) behind the application's names, and the parse
 * of the build's hex digest. */
#include "app_sha256.h"

#include <string.h>

void app_sha256_init(app_sha256_t *s)
{
    imgcrypto_sha256_init(&s->h);
}

void app_sha256_update(app_sha256_t *s, const uint8_t *data, size_t len)
{
    imgcrypto_sha256_update(&s->h, data, len);
}

void app_sha256_final(app_sha256_t *s, uint8_t digest[APP_SHA256_SIZE])
{
    imgcrypto_sha256_finish(&s->h, digest);
}

void app_sha256(const uint8_t *data, size_t len, uint8_t digest[APP_SHA256_SIZE])
{
    app_sha256_t s;
    app_sha256_init(&s);
    app_sha256_update(&s, data, len);
    app_sha256_final(&s, digest);
}

static int hex_value(char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

bool app_sha256_from_hex(const char *hex, uint8_t out[APP_SHA256_SIZE])
{
    uint8_t tmp[APP_SHA256_SIZE];
    if (hex == NULL) {
        return false;
    }
    for (unsigned i = 0; i < APP_SHA256_SIZE; i++) {
        int hi = hex_value(hex[2u * i]);
        int lo = hi < 0 ? -1 : hex_value(hex[2u * i + 1u]);
        if (hi < 0 || lo < 0) {
            return false;
        }
        tmp[i] = (uint8_t)(hi * 16 + lo);
    }
    if (hex[2u * APP_SHA256_SIZE] != '\0') {
        return false;
    }
    memcpy(out, tmp, sizeof tmp);
    return true;
}
