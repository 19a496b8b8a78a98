/* boot_flash_port.c - boot_flash_ops_t over the flash API of port.h (see boot_flash.h). */
#include "boot_flash.h"

#include "port.h"

static bool port_read(void *user, uint32_t offset, void *out, size_t len)
{
    (void)user;
    return port_flash_read(offset, out, len) == PORT_FLASH_OK;
}

static bool port_write(void *user, uint32_t offset, const void *data, size_t len)
{
    (void)user;
    return port_flash_write(offset, data, len) == PORT_FLASH_OK;
}

static bool port_erase_page(void *user, uint32_t offset)
{
    (void)user;
    return port_flash_erase_page(offset) == PORT_FLASH_OK;
}

void boot_flash_port_bind(boot_flash_ops_t *ops)
{
    ops->read = port_read;
    ops->write = port_write;
    ops->erase_page = port_erase_page;
    ops->user = NULL;
}
