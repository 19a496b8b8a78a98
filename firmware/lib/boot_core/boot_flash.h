/*
 * boot_flash.h - the boot chain's seam to the flash: a small ops struct the
 * caller owns (read, write, erase function pointers and a user pointer), so
 * that every module above it runs on the device's flash (port.h, through
 * boot_flash_port_bind) or, in host tests, on a flash that can be cut off in
 * the middle of a write (the tests' boot_cutflash, firmware/test/).
 *
 * The semantics are port.h's (NOR flash): offsets are from the start of the
 * flash region; a page (BOOT_FLASH_PAGE_SIZE) erases to 0xFF; a write programs
 * whole write units (BOOT_FLASH_WRITE_UNIT) that were erased, in order, so a
 * power cut leaves a prefix of it done. Every function returns true when the
 * operation was done in full, false otherwise (the flash may then hold a
 * prefix of it).
 */
#ifndef BOOT_FLASH_H
#define BOOT_FLASH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "port.h"

#ifdef __cplusplus
extern "C" {
#endif

#define BOOT_FLASH_PAGE_SIZE PORT_FLASH_PAGE_SIZE
#define BOOT_FLASH_WRITE_UNIT PORT_FLASH_WRITE_UNIT
#define BOOT_FLASH_ERASED_BYTE PORT_FLASH_ERASED_BYTE

typedef struct boot_flash_ops {
    /* copies `len` bytes at `offset` into `out` */
    bool (*read)(void *user, uint32_t offset, void *out, size_t len);
    /* programs `len` bytes (a multiple of the write unit) at `offset` (aligned to it) */
    bool (*write)(void *user, uint32_t offset, const void *data, size_t len);
    /* erases the page that starts at `offset` */
    bool (*erase_page)(void *user, uint32_t offset);
    /* passed to the three functions unchanged */
    void *user;
} boot_flash_ops_t;

/* Fills `ops` with the flash of port.h (port_flash_read, _write, _erase_page);
 * `user` is unused. */
void boot_flash_port_bind(boot_flash_ops_t *ops);

#ifdef __cplusplus
}
#endif

#endif /* BOOT_FLASH_H */
