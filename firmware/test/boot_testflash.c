/* boot_testflash.c - the port's flash with a power cut in reach, for the boot chain's tests (boot_testflash.h). */
#include "boot_testflash.h"

#include "port.h"

bool boot_testflash_erase_all(boot_testflash_t *tf)
{
    for (uint32_t at = 0; at < BOOT_LAYOUT_END; at += BOOT_FLASH_PAGE_SIZE) {
        if (port_flash_erase_page(at) != PORT_FLASH_OK) {
            return false;
        }
    }
    boot_cutflash_power_on(&tf->cut);
    return true;
}

bool boot_testflash_open(boot_testflash_t *tf)
{
#if !defined(__arm__)
    if (port_flash_native_use_buffer(&tf->native, tf->mem, sizeof tf->mem) != PORT_FLASH_OK) {
        return false;
    }
#endif
    if (port_flash_size() < BOOT_LAYOUT_END) {
        return false;
    }
    boot_flash_port_bind(&tf->port);
    boot_cutflash_init(&tf->cut, &tf->port);
    return boot_testflash_erase_all(tf);
}
