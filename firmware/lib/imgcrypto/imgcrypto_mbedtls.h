/*
 * imgcrypto_mbedtls.h - mbedtls as imgcrypto builds it: included before any
 * mbedtls header, by imgcrypto.h and by each file in upstream/.
 *
 * Sets MBEDTLS_CONFIG_FILE to imgcrypto_mbedtls_config.h (so every file that
 * sees an mbedtls header sees the same configuration), and stops the build
 * with a clear message when the fetched source tree is missing or is not
 * mbedtls 2.28.3.
 */
#ifndef IMGCRYPTO_MBEDTLS_H
#define IMGCRYPTO_MBEDTLS_H

#ifndef MBEDTLS_CONFIG_FILE
#define MBEDTLS_CONFIG_FILE "imgcrypto_mbedtls_config.h"
#endif
/* Named here too, as a literal: the build's dependency scanner cannot follow
 * mbedtls's `#include MBEDTLS_CONFIG_FILE`, and a change of the configuration
 * must rebuild every file that sees it. (Included once: it has a guard.) */
#include "imgcrypto_mbedtls_config.h"

#if defined(__has_include)
#if !__has_include("mbedtls/version.h")
#error \
    "mbedtls 2.28.3 is missing (.state/third_party/mbedtls-2.28.3): run `bash scripts/setup.sh` (scripts/fetch_crypto.sh fetches it)"
#endif
#endif

#include "mbedtls/version.h"

#if MBEDTLS_VERSION_NUMBER != 0x021C0300
#error "imgcrypto is built and tested with mbedtls 2.28.3 only (scripts/fetch_crypto.sh)"
#endif
#ifndef IMGCRYPTO_MBEDTLS_CONFIG
#error "mbedtls is configured by another MBEDTLS_CONFIG_FILE than imgcrypto_mbedtls_config.h"
#endif

#endif /* IMGCRYPTO_MBEDTLS_H */
