/*
 * boot_bytes.h - inside the boot_core library only: little-endian fields in
 * byte arrays (the boot state records and the MCUboot image format are both
 * little endian).
 */
#ifndef BOOT_BYTES_H
#define BOOT_BYTES_H

#include <stdint.h>

static inline uint16_t boot_get_u16(const uint8_t *p)
{
    return (uint16_t)(p[0] | (uint16_t)(p[1] << 8));
}

static inline uint32_t boot_get_u32(const uint8_t *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

static inline void boot_put_u16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v & 0xFFu);
    p[1] = (uint8_t)(v >> 8);
}

static inline void boot_put_u32(uint8_t *p, uint32_t v)
{
    for (unsigned i = 0; i < 4u; i++) {
        p[i] = (uint8_t)(v >> (8u * i));
    }
}

#endif /* BOOT_BYTES_H */
