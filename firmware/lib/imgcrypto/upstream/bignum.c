/* mbedtls 2.28.3 library/bignum.c (fetched by scripts/fetch_crypto.sh), built with imgcrypto's configuration. */
#include "imgcrypto_mbedtls.h"

#include "../library/bignum.c"
