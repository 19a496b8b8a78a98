/*
 * boot_cutflash.h - a flash that loses power: boot_flash_ops_t over another
 * one (the native port's flash, in the tests) that stops in the middle of a
 * write or an erase after a given number of write units, as a power cut does.
 *
 *   boot_cutflash_t cut;
 *   boot_cutflash_init(&cut, &port_ops);
 *   boot_cutflash_arm(&cut, k);       // the power goes after k more write units
 *   ... the module under test uses &cut.ops: the unit k+1 is left torn, every
 *       later operation fails (false) ...
 *   boot_cutflash_power_on(&cut);     // power back, no cut armed: reboot
 *
 * Write units are counted across writes and erases (an erase is its page's
 * units, erased in order), so a scenario's operations can be cut at every
 * unit by counting them once (`units`) and then arming 0, 1, ... in turn.
 * The unit at the cut is left half done: a write programs only the bits of
 * `torn_mask` it would have cleared, an erase sets only the bits of
 * `torn_mask` (torn_mask 0: the unit is left as it was).
 */
#ifndef BOOT_CUTFLASH_H
#define BOOT_CUTFLASH_H

#include <stdbool.h>
#include <stdint.h>

#include "boot_flash.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct boot_cutflash {
    boot_flash_ops_t ops;               /* what the module under test uses (ops.user is this struct) */
    const boot_flash_ops_t *inner;      /* the flash underneath */
    bool armed;                         /* a cut is set */
    uint32_t budget;                    /* armed: write units still done in full before the cut */
    bool cut;                           /* the power is off: every operation fails */
    uint32_t torn_mask;                 /* the bits of the torn unit that change */
    uint32_t units;                     /* write units written or erased in full since init */
    uint8_t page[BOOT_FLASH_PAGE_SIZE]; /* a torn erase's copy of its page */
} boot_cutflash_t;

void boot_cutflash_init(boot_cutflash_t *f, const boot_flash_ops_t *inner);

/* The power goes after `units` more write units (0: at the next one). */
void boot_cutflash_arm(boot_cutflash_t *f, uint32_t units);

/* Power back on, no cut armed (what a reboot sees). */
void boot_cutflash_power_on(boot_cutflash_t *f);

#ifdef __cplusplus
}
#endif

#endif /* BOOT_CUTFLASH_H */
