/* boot_reason.c - the names of the reason codes (see boot_reason.h). */
#include "boot_reason.h"

#include "wire.h"

const char *boot_reason_name(boot_reason_t reason)
{
    switch (reason) {
    case BOOT_REASON_NONE:
        return "none";
    case BOOT_REASON_NOT_CONFIRMED:
        return "not_confirmed";
    case BOOT_REASON_SELF_TEST_FAILED:
        return "self_test_failed";
    case BOOT_REASON_NO_IMAGE:
        return "no_image";
    case BOOT_REASON_BAD_HEADER:
        return "bad_header";
    case BOOT_REASON_BAD_TLV:
        return "bad_tlv";
    case BOOT_REASON_BAD_HASH:
        return "bad_hash";
    case BOOT_REASON_BAD_KEY:
        return "bad_key";
    case BOOT_REASON_BAD_SIGNATURE:
        return "bad_signature";
    case BOOT_REASON_WRONG_TARGET:
        return "wrong_target";
    case BOOT_REASON_COUNTER_LOW:
        return "counter_low";
    case BOOT_REASON_FLASH_ERROR:
        return "flash_error";
    case BOOT_REASON_BAD_ARGUMENT:
        return "bad_argument";
    case BOOT_REASON_COUNT:
        break;
    }
    return "unknown";
}

uint8_t boot_reason_wire_code(boot_reason_t reason)
{
    switch (reason) {
    case BOOT_REASON_NONE:
        return WIRE_UPD_OK;
    case BOOT_REASON_NOT_CONFIRMED:
        return WIRE_UPD_NOT_CONFIRMED;
    case BOOT_REASON_SELF_TEST_FAILED:
        return WIRE_UPD_SELF_TEST_FAILED;
    case BOOT_REASON_BAD_HASH:
        return WIRE_UPD_IMAGE_HASH;
    case BOOT_REASON_BAD_KEY:
        return WIRE_UPD_UNKNOWN_KEY;
    case BOOT_REASON_BAD_SIGNATURE:
        return WIRE_UPD_BAD_SIGNATURE;
    case BOOT_REASON_WRONG_TARGET:
        return WIRE_UPD_WRONG_TARGET;
    case BOOT_REASON_COUNTER_LOW:
        return WIRE_UPD_SECURITY_COUNTER;
    case BOOT_REASON_FLASH_ERROR:
        return WIRE_UPD_FLASH;
    case BOOT_REASON_NO_IMAGE:
    case BOOT_REASON_BAD_HEADER:
    case BOOT_REASON_BAD_TLV:
    case BOOT_REASON_BAD_ARGUMENT:
    case BOOT_REASON_COUNT:
        break;
    }
    return WIRE_UPD_BAD_IMAGE;
}
