/*
 * port_flash.c - the flash API of port.h on every target: arguments checked
 * before anything changes (device, buffer, bounds, alignment, no bit from 0
 * to 1), then the target's primitives (port_flash_hw.h) one write unit at a
 * time, in order, each read back.
 */
#include "port.h"
#include "port_flash_hw.h"

#include <string.h>

#define WORDS_PER_PAGE (PORT_FLASH_PAGE_SIZE / PORT_FLASH_WRITE_UNIT)
#define ERASED_WORD 0xFFFFFFFFu

/* [offset, offset + len) inside the region, without overflow */
static bool range_inside(const port_flash_region_t *region, uint32_t offset, size_t len)
{
    return offset <= region->size && len <= (size_t)(region->size - offset);
}

static volatile uint32_t *word_at(const port_flash_region_t *region, uint32_t offset)
{
    return (volatile uint32_t *)(volatile void *)(region->base + offset);
}

uint32_t port_flash_size(void)
{
    port_flash_region_t region;
    return port_flash_hw_region(&region) ? region.size : 0u;
}

port_flash_status_t port_flash_erase_page(uint32_t offset)
{
    port_flash_region_t region;
    if (!port_flash_hw_region(&region)) {
        return PORT_FLASH_ERR_NO_DEVICE;
    }
    if (offset >= region.size) {
        return PORT_FLASH_ERR_BOUNDS;
    }
    if (offset % PORT_FLASH_PAGE_SIZE != 0u) {
        return PORT_FLASH_ERR_ALIGN;
    }
    volatile uint32_t *page = word_at(&region, offset);
    port_flash_hw_erase_page(page);
    for (uint32_t i = 0; i < WORDS_PER_PAGE; i++) {
        if (page[i] != ERASED_WORD) {
            return PORT_FLASH_ERR_VERIFY;
        }
    }
    return PORT_FLASH_OK;
}

port_flash_status_t port_flash_write(uint32_t offset, const void *data, size_t len)
{
    port_flash_region_t region;
    if (!port_flash_hw_region(&region)) {
        return PORT_FLASH_ERR_NO_DEVICE;
    }
    if (data == NULL && len != 0u) {
        return PORT_FLASH_ERR_ARG;
    }
    if (!range_inside(&region, offset, len)) {
        return PORT_FLASH_ERR_BOUNDS;
    }
    if (offset % PORT_FLASH_WRITE_UNIT != 0u || len % PORT_FLASH_WRITE_UNIT != 0u) {
        return PORT_FLASH_ERR_ALIGN;
    }
    const uint8_t *src = data;
    volatile uint32_t *dst = word_at(&region, offset);
    size_t words = len / PORT_FLASH_WRITE_UNIT;
    /* all or nothing: a write that would need a 0 -> 1 anywhere changes nothing */
    for (size_t i = 0; i < words; i++) {
        uint32_t want;
        memcpy(&want, src + i * PORT_FLASH_WRITE_UNIT, sizeof want);
        if ((dst[i] & want) != want) {
            return PORT_FLASH_ERR_NOT_ERASED;
        }
    }
    for (size_t i = 0; i < words; i++) {
        uint32_t want;
        memcpy(&want, src + i * PORT_FLASH_WRITE_UNIT, sizeof want);
        if (dst[i] != want) { /* a word already holding its value is not programmed again */
            port_flash_hw_program_word(&dst[i], want);
        }
        if (dst[i] != want) {
            return PORT_FLASH_ERR_VERIFY;
        }
    }
    return PORT_FLASH_OK;
}

port_flash_status_t port_flash_read(uint32_t offset, void *out, size_t len)
{
    port_flash_region_t region;
    if (!port_flash_hw_region(&region)) {
        return PORT_FLASH_ERR_NO_DEVICE;
    }
    if (out == NULL && len != 0u) {
        return PORT_FLASH_ERR_ARG;
    }
    if (!range_inside(&region, offset, len)) {
        return PORT_FLASH_ERR_BOUNDS;
    }
    uint8_t *dst = out;
    const volatile uint8_t *src = region.base + offset;
    for (size_t i = 0; i < len; i++) {
        dst[i] = src[i];
    }
    return PORT_FLASH_OK;
}

const char *port_flash_status_name(port_flash_status_t status)
{
    switch (status) {
    case PORT_FLASH_OK:
        return "ok";
    case PORT_FLASH_ERR_NO_DEVICE:
        return "no device";
    case PORT_FLASH_ERR_ARG:
        return "bad argument";
    case PORT_FLASH_ERR_BOUNDS:
        return "out of bounds";
    case PORT_FLASH_ERR_ALIGN:
        return "misaligned";
    case PORT_FLASH_ERR_NOT_ERASED:
        return "not erased";
    case PORT_FLASH_ERR_VERIFY:
        return "verify failed";
    }
    return "unknown status";
}
