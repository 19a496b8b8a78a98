/* mbedtls 2.28.3 library/constant_time.c (fetched by scripts/fetch_crypto.sh), built with imgcrypto's configuration. */
#include "imgcrypto_mbedtls.h"

#include "../library/constant_time.c"
