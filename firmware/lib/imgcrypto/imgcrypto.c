/*
 * imgcrypto.c - SHA-256 and ECDSA P-256 verification of firmware images over
 * mbedtls 2.28.3 (see imgcrypto.h). The arithmetic is all mbedtls's; this
 * file only unwraps the key and the signature (with mbedtls's ASN.1 parser)
 * and names what it refuses.
 */
#include "imgcrypto.h"

#include <stdbool.h>
#include <string.h>

#include "mbedtls/asn1.h"
#include "mbedtls/bignum.h"
#include "mbedtls/ecdsa.h"
#include "mbedtls/ecp.h"
#include "mbedtls/oid.h"

/* A DER header of a P-256 signature or key element: one tag byte and a
 * short-form length (every length here is below 128). */
#define DER_SHORT_HEADER 2

void imgcrypto_sha256_init(imgcrypto_sha256_t *h)
{
    mbedtls_sha256_init(&h->ctx);
    (void)mbedtls_sha256_starts_ret(&h->ctx, 0); /* 0: SHA-256, not SHA-224 */
}

void imgcrypto_sha256_update(imgcrypto_sha256_t *h, const uint8_t *data, size_t len)
{
    if (len != 0u) {
        (void)mbedtls_sha256_update_ret(&h->ctx, data, len);
    }
}

void imgcrypto_sha256_finish(imgcrypto_sha256_t *h, uint8_t digest[IMGCRYPTO_SHA256_BYTES])
{
    (void)mbedtls_sha256_finish_ret(&h->ctx, digest);
    mbedtls_sha256_free(&h->ctx);
}

/* mbedtls's parser takes non-const pointers; it never writes through them */
static unsigned char *mutable_bytes(const uint8_t *p)
{
    return (unsigned char *)(uintptr_t)p;
}

static bool oid_is(const mbedtls_asn1_buf *oid, const char *want, size_t want_len)
{
    return oid->tag == MBEDTLS_ASN1_OID && oid->len == want_len && memcmp(oid->p, want, want_len) == 0;
}

/* The uncompressed point in `key`: the key itself (65 bytes), or the
 * subjectPublicKey of a SubjectPublicKeyInfo
 *   SEQUENCE { SEQUENCE { OID id-ecPublicKey, OID prime256v1 }, BIT STRING point }
 * with nothing after it. */
static imgcrypto_status_t key_point(const uint8_t *key, size_t key_len, const uint8_t **point)
{
    if (key_len == IMGCRYPTO_P256_POINT_BYTES && key[0] == 0x04u) {
        *point = key;
        return IMGCRYPTO_OK;
    }
    unsigned char *p = mutable_bytes(key);
    const unsigned char *end = key + key_len;
    size_t len = 0;
    if (mbedtls_asn1_get_tag(&p, end, &len, MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SEQUENCE) != 0 || p + len != end) {
        return IMGCRYPTO_ERR_KEY_FORMAT;
    }
    mbedtls_asn1_buf alg;
    mbedtls_asn1_buf params;
    if (mbedtls_asn1_get_alg(&p, end, &alg, &params) != 0) {
        return IMGCRYPTO_ERR_KEY_FORMAT;
    }
    if (!oid_is(&alg, MBEDTLS_OID_EC_ALG_UNRESTRICTED, MBEDTLS_OID_SIZE(MBEDTLS_OID_EC_ALG_UNRESTRICTED)) ||
        !oid_is(&params, MBEDTLS_OID_EC_GRP_SECP256R1, MBEDTLS_OID_SIZE(MBEDTLS_OID_EC_GRP_SECP256R1))) {
        return IMGCRYPTO_ERR_KEY_CURVE;
    }
    if (mbedtls_asn1_get_bitstring_null(&p, end, &len) != 0 || p + len != end || len != IMGCRYPTO_P256_POINT_BYTES ||
        p[0] != 0x04u) {
        return IMGCRYPTO_ERR_KEY_FORMAT;
    }
    *point = p;
    return IMGCRYPTO_OK;
}

/* One DER INTEGER at *p: short-form length, positive, minimal. */
static imgcrypto_status_t read_integer(unsigned char **p, const unsigned char *end, mbedtls_mpi *x)
{
    const unsigned char *start = *p;
    size_t len = 0;
    if (mbedtls_asn1_get_tag(p, end, &len, MBEDTLS_ASN1_INTEGER) != 0 || *p - start != DER_SHORT_HEADER || len == 0u) {
        return IMGCRYPTO_ERR_SIG_FORMAT;
    }
    const unsigned char *v = *p;
    bool negative = (v[0] & 0x80u) != 0u;
    bool padded = len > 1u && v[0] == 0x00u && (v[1] & 0x80u) == 0u;
    if (negative || padded) {
        return IMGCRYPTO_ERR_SIG_FORMAT;
    }
    int rc = mbedtls_mpi_read_binary(x, v, len);
    *p += len;
    if (rc == MBEDTLS_ERR_MPI_ALLOC_FAILED) {
        return IMGCRYPTO_ERR_NO_MEMORY;
    }
    return rc == 0 ? IMGCRYPTO_OK : IMGCRYPTO_ERR_SIG_FORMAT;
}

/* SEQUENCE { INTEGER r, INTEGER s } filling exactly sig_len bytes. */
static imgcrypto_status_t read_signature(const uint8_t *sig, size_t sig_len, mbedtls_mpi *r, mbedtls_mpi *s)
{
    unsigned char *p = mutable_bytes(sig);
    const unsigned char *end = sig + sig_len;
    size_t len = 0;
    if (mbedtls_asn1_get_tag(&p, end, &len, MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SEQUENCE) != 0 ||
        p - sig != DER_SHORT_HEADER || p + len != end) {
        return IMGCRYPTO_ERR_SIG_FORMAT;
    }
    imgcrypto_status_t status = read_integer(&p, end, r);
    if (status == IMGCRYPTO_OK) {
        status = read_integer(&p, end, s);
    }
    if (status == IMGCRYPTO_OK && p != end) {
        status = IMGCRYPTO_ERR_SIG_FORMAT;
    }
    return status;
}

static bool in_range(const mbedtls_mpi *x, const mbedtls_mpi *n)
{
    return mbedtls_mpi_cmp_int(x, 1) >= 0 && mbedtls_mpi_cmp_mpi(x, n) < 0;
}

/* an mbedtls error met after the inputs were checked */
static imgcrypto_status_t status_of(int rc)
{
    if (rc == MBEDTLS_ERR_MPI_ALLOC_FAILED || rc == MBEDTLS_ERR_ECP_ALLOC_FAILED) {
        return IMGCRYPTO_ERR_NO_MEMORY;
    }
    return IMGCRYPTO_ERR_INTERNAL;
}

imgcrypto_status_t imgcrypto_verify_p256(const uint8_t *pubkey, size_t pubkey_len,
                                         const uint8_t digest[IMGCRYPTO_SHA256_BYTES], const uint8_t *sig_der,
                                         size_t sig_len)
{
    if (pubkey == NULL || digest == NULL || sig_der == NULL) {
        return IMGCRYPTO_ERR_ARGUMENT;
    }
    const uint8_t *point = NULL;
    imgcrypto_status_t status = key_point(pubkey, pubkey_len, &point);
    if (status != IMGCRYPTO_OK) {
        return status;
    }

    mbedtls_ecp_group grp;
    mbedtls_ecp_point q;
    mbedtls_mpi r;
    mbedtls_mpi s;
    mbedtls_ecp_group_init(&grp);
    mbedtls_ecp_point_init(&q);
    mbedtls_mpi_init(&r);
    mbedtls_mpi_init(&s);

    int rc = mbedtls_ecp_group_load(&grp, MBEDTLS_ECP_DP_SECP256R1);
    if (rc != 0) {
        status = status_of(rc);
        goto done;
    }
    rc = mbedtls_ecp_point_read_binary(&grp, &q, point, IMGCRYPTO_P256_POINT_BYTES);
    if (rc == 0) {
        rc = mbedtls_ecp_check_pubkey(&grp, &q);
    }
    if (rc != 0) {
        status = rc == MBEDTLS_ERR_ECP_INVALID_KEY || rc == MBEDTLS_ERR_ECP_BAD_INPUT_DATA ? IMGCRYPTO_ERR_KEY_POINT
                                                                                           : status_of(rc);
        goto done;
    }
    status = read_signature(sig_der, sig_len, &r, &s);
    if (status != IMGCRYPTO_OK) {
        goto done;
    }
    if (!in_range(&r, &grp.N) || !in_range(&s, &grp.N)) {
        status = IMGCRYPTO_ERR_SIG_RANGE;
        goto done;
    }
    rc = mbedtls_ecdsa_verify(&grp, digest, IMGCRYPTO_SHA256_BYTES, &q, &r, &s);
    if (rc == MBEDTLS_ERR_ECP_VERIFY_FAILED) {
        status = IMGCRYPTO_ERR_SIG_MISMATCH;
    } else {
        status = rc == 0 ? IMGCRYPTO_OK : status_of(rc);
    }

done:
    mbedtls_mpi_free(&s);
    mbedtls_mpi_free(&r);
    mbedtls_ecp_point_free(&q);
    mbedtls_ecp_group_free(&grp);
    return status;
}

const char *imgcrypto_status_name(imgcrypto_status_t status)
{
    switch (status) {
    case IMGCRYPTO_OK:
        return "ok";
    case IMGCRYPTO_ERR_ARGUMENT:
        return "argument";
    case IMGCRYPTO_ERR_KEY_FORMAT:
        return "key_format";
    case IMGCRYPTO_ERR_KEY_CURVE:
        return "key_curve";
    case IMGCRYPTO_ERR_KEY_POINT:
        return "key_point";
    case IMGCRYPTO_ERR_SIG_FORMAT:
        return "sig_format";
    case IMGCRYPTO_ERR_SIG_RANGE:
        return "sig_range";
    case IMGCRYPTO_ERR_SIG_MISMATCH:
        return "sig_mismatch";
    case IMGCRYPTO_ERR_NO_MEMORY:
        return "no_memory";
    case IMGCRYPTO_ERR_INTERNAL:
        return "internal";
    }
    return "unknown";
}
