/*
 * boot_layout.h - where the boot chain keeps its images and its state in the
 * flash region of port.h (offsets from the region's start; docs/ota.md, "Flash
 * and the boot scheme"): two image slots of 256 KiB and the two pages of the
 * boot state records after them. The same on every target: QEMU's region is
 * the file-backed PSRAM, the nRF52840's starts after the bootloader's 32 KiB.
 *
 * The image format's twin of the slot size is SLOT_SIZE in
 * heartbeat_system/firmware_image.py (imgtool --slot-size).
 */
#ifndef BOOT_LAYOUT_H
#define BOOT_LAYOUT_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define BOOT_SLOT_COUNT 2u
#define BOOT_LAYOUT_SLOT_SIZE 0x40000u     /* 256 KiB */
#define BOOT_LAYOUT_SLOT0_OFFSET 0x000000u /* slot 0 */
#define BOOT_LAYOUT_SLOT1_OFFSET 0x040000u /* slot 1 */
#define BOOT_LAYOUT_STATE_OFFSET 0x080000u /* the boot state: BOOT_STATE_PAGES pages of 4 KiB */
#define BOOT_LAYOUT_END 0x082000u          /* the bytes of flash the boot chain needs */

/* A layout: the default one above, or a smaller one in tests. */
typedef struct boot_layout {
    uint32_t slot_offset[BOOT_SLOT_COUNT];
    uint32_t slot_size;
    uint32_t state_offset; /* the first of the two state pages */
} boot_layout_t;

#define BOOT_LAYOUT_DEFAULT \
    {{BOOT_LAYOUT_SLOT0_OFFSET, BOOT_LAYOUT_SLOT1_OFFSET}, BOOT_LAYOUT_SLOT_SIZE, BOOT_LAYOUT_STATE_OFFSET}

#ifdef __cplusplus
}
#endif

#endif /* BOOT_LAYOUT_H */
