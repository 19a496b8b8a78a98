/* boot_cutflash.c - a flash that loses power after N write units (see boot_cutflash.h). */
#include "boot_cutflash.h"

#include <string.h>

#define UNIT BOOT_FLASH_WRITE_UNIT
#define PAGE BOOT_FLASH_PAGE_SIZE

static uint32_t load_unit(const uint8_t *p)
{
    uint32_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

/* true when the unit about to be done is the one the power is cut in */
static bool cut_now(boot_cutflash_t *f)
{
    return f->armed && f->budget == 0u;
}

static void unit_done(boot_cutflash_t *f)
{
    f->units++;
    if (f->armed) {
        f->budget--;
    }
}

static bool cf_read(void *user, uint32_t offset, void *out, size_t len)
{
    boot_cutflash_t *f = user;
    return !f->cut && f->inner->read(f->inner->user, offset, out, len);
}

static bool cf_write(void *user, uint32_t offset, const void *data, size_t len)
{
    boot_cutflash_t *f = user;
    if (f->cut || len % UNIT != 0u || offset % UNIT != 0u) {
        return false;
    }
    const uint8_t *bytes = data;
    for (size_t at = 0; at < len; at += UNIT) {
        if (cut_now(f)) {
            uint32_t old;
            if (f->inner->read(f->inner->user, offset + (uint32_t)at, &old, UNIT)) {
                /* only the bits of the mask that the write would clear are cleared */
                uint32_t torn = old & (load_unit(bytes + at) | ~f->torn_mask);
                if (torn != old) {
                    (void)f->inner->write(f->inner->user, offset + (uint32_t)at, &torn, UNIT);
                }
            }
            f->cut = true;
            return false;
        }
        if (!f->inner->write(f->inner->user, offset + (uint32_t)at, bytes + at, UNIT)) {
            return false;
        }
        unit_done(f);
    }
    return true;
}

static bool cf_erase_page(void *user, uint32_t offset)
{
    boot_cutflash_t *f = user;
    if (f->cut) {
        return false;
    }
    if (!f->armed || f->budget >= PAGE / UNIT) {
        if (!f->inner->erase_page(f->inner->user, offset)) {
            return false;
        }
        for (uint32_t i = 0; i < PAGE / UNIT; i++) {
            unit_done(f);
        }
        return true;
    }
    /* torn: the first `budget` units erased, the next one partly (the mask's bits set), the rest as they were */
    uint8_t *old = f->page;
    uint32_t done = f->budget;
    if (!f->inner->read(f->inner->user, offset, old, PAGE) || !f->inner->erase_page(f->inner->user, offset)) {
        return false;
    }
    for (uint32_t i = 0; i < done; i++) {
        unit_done(f);
    }
    uint32_t torn = load_unit(old + done * UNIT) | f->torn_mask;
    memcpy(old + done * UNIT, &torn, UNIT);
    uint32_t keep_from = done * UNIT;
    (void)f->inner->write(f->inner->user, offset + keep_from, old + keep_from, PAGE - keep_from);
    f->cut = true;
    return false;
}

void boot_cutflash_init(boot_cutflash_t *f, const boot_flash_ops_t *inner)
{
    memset(f, 0, sizeof *f);
    f->inner = inner;
    f->ops.read = cf_read;
    f->ops.write = cf_write;
    f->ops.erase_page = cf_erase_page;
    f->ops.user = f;
}

void boot_cutflash_arm(boot_cutflash_t *f, uint32_t units)
{
    f->armed = true;
    f->budget = units;
}

void boot_cutflash_power_on(boot_cutflash_t *f)
{
    f->armed = false;
    f->budget = 0u;
    f->cut = false;
}
