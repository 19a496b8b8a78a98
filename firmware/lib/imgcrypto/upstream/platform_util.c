/* mbedtls 2.28.3 library/platform_util.c (fetched by scripts/fetch_crypto.sh), built with imgcrypto's configuration. */
#include "imgcrypto_mbedtls.h"

#include "../library/platform_util.c"
