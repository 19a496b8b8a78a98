/*
 * boot_testflash.h - the flash the boot chain's tests run on: the port's own
 * flash (port.h, through boot_flash_port_bind), wrapped in a boot_cutflash_t
 * so that any test can cut the power. On the host the port's flash is the
 * caller's buffer here (port_flash_native.h); in QEMU it is the port's region
 * (the PSRAM at 0x21000000).
 *
 *   static boot_testflash_t tf;
 *   boot_testflash_open(&tf);      // attached, the boot chain's bytes erased
 *   ... boot_state_open(&bs, &tf.cut.ops, BOOT_LAYOUT_STATE_OFFSET) ...
 */
#ifndef BOOT_TESTFLASH_H
#define BOOT_TESTFLASH_H

#include <stdbool.h>
#include <stdint.h>

#include "boot_cutflash.h"
#include "boot_flash.h"
#include "boot_layout.h"

#if !defined(__arm__)
#include "port_flash_native.h"
#endif

#ifdef __cplusplus
extern "C" {
#endif

typedef struct boot_testflash {
    boot_flash_ops_t port; /* the port's flash */
    boot_cutflash_t cut;   /* over it: what the tests hand to the modules */
#if !defined(__arm__)
    port_flash_native_t native;
    uint8_t mem[BOOT_LAYOUT_END] __attribute__((aligned(BOOT_FLASH_WRITE_UNIT)));
#endif
} boot_testflash_t;

/* Attaches the flash (host: `tf->mem`), erases the first BOOT_LAYOUT_END
 * bytes and powers it on without a cut armed. False when the port refuses. */
bool boot_testflash_open(boot_testflash_t *tf);

/* Erases the first BOOT_LAYOUT_END bytes (through the port, no cut). */
bool boot_testflash_erase_all(boot_testflash_t *tf);

#ifdef __cplusplus
}
#endif

#endif /* BOOT_TESTFLASH_H */
