/*
 * imgcrypto_mbedtls_config.h - the mbedtls 2.28.3 configuration of the
 * firmware's signature check (MBEDTLS_CONFIG_FILE, set by imgcrypto_mbedtls.h).
 *
 * Only what verifying an imgtool ECDSA-P256 image needs: SHA-256, bignum,
 * ECP on secp256r1 alone, ECDSA verification, ASN.1 parsing. No RNG, no
 * entropy, no file IO, no printf, no self-tests, no time. Small windows and
 * no precomputed tables, to save flash and RAM: verification handles public
 * data only, so speed-ups and side-channel counter-measures that cost
 * memory buy nothing here.
 *
 * mbedtls allocates its big numbers with the C library's calloc()/free()
 * (there is no other way in 2.28 short of a global allocator): the peak is
 * measured by firmware/test/test_qemu_imgcrypto and named in docs/ota.md.
 */
#ifndef IMGCRYPTO_MBEDTLS_CONFIG_H
#define IMGCRYPTO_MBEDTLS_CONFIG_H

/* marks the configuration in force (checked by imgcrypto_mbedtls.h) */
#define IMGCRYPTO_MBEDTLS_CONFIG 1

/* -- system: the compiler's inline assembly for the bignum inner loops
 *    (UMAAL on the Cortex-M4; x86-64 on the host) */
#define MBEDTLS_HAVE_ASM

/* -- modules */
#define MBEDTLS_SHA256_C
#define MBEDTLS_BIGNUM_C
#define MBEDTLS_ECP_C
#define MBEDTLS_ECDSA_C
#define MBEDTLS_ASN1_PARSE_C
/* ecdsa.c's signature writer needs it to link; --gc-sections drops it */
#define MBEDTLS_ASN1_WRITE_C

/* -- curves: secp256r1 only, with its fast NIST reduction */
#define MBEDTLS_ECP_DP_SECP256R1_ENABLED
#define MBEDTLS_ECP_NIST_OPTIM

/* -- no RNG: verification multiplies public points only, so ecp.c's
 *    internal DRBG (blinding against side channels) is not needed */
#define MBEDTLS_ECP_NO_INTERNAL_RNG

/* -- size over speed */
#define MBEDTLS_SHA256_SMALLER
#define MBEDTLS_ECP_MAX_BITS 256
#define MBEDTLS_ECP_WINDOW_SIZE 2
#define MBEDTLS_ECP_FIXED_POINT_OPTIM 0
#define MBEDTLS_MPI_WINDOW_SIZE 1
#define MBEDTLS_MPI_MAX_SIZE 64

/* -- nothing deprecated */
#define MBEDTLS_DEPRECATED_REMOVED

#include "mbedtls/check_config.h"

#endif /* IMGCRYPTO_MBEDTLS_CONFIG_H */
