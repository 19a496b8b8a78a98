/*
 * port_flash_native.h - the host port's flash (port_flash_native.c): the
 * flash API of port.h over memory the caller attaches, either its own buffer
 * or a file mapped into memory (which then keeps the contents across runs,
 * like the emulated device's flash file). Same semantics as on the targets;
 * for host unit tests of the modules that use flash.
 *
 *   static uint8_t mem[16 * PORT_FLASH_PAGE_SIZE];
 *   port_flash_native_t flash;
 *   port_flash_native_use_buffer(&flash, mem, sizeof mem);   // contents as they are
 *   ... port_flash_erase_page(0) ...
 *   port_flash_native_release(&flash);
 *
 * The port keeps a pointer to the attached struct until it is released; one
 * at a time (attaching another replaces it).
 */
#ifndef PORT_FLASH_NATIVE_H
#define PORT_FLASH_NATIVE_H

#include <stdint.h>

#include "port.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct port_flash_native {
    uint8_t *mem;  /* the region */
    uint32_t size; /* its size in bytes, a whole number of pages */
    int fd;        /* the mapped file, or -1 for a caller's buffer */
} port_flash_native_t;

/* Attaches the caller's `mem` (`size` bytes, a non-zero multiple of
 * PORT_FLASH_PAGE_SIZE, aligned to the write unit) as the flash, contents
 * as they are. PORT_FLASH_ERR_ARG for a NULL buffer, PORT_FLASH_ERR_ALIGN for
 * a size or an address that does not fit. */
port_flash_status_t port_flash_native_use_buffer(port_flash_native_t *flash, void *mem, uint32_t size);

/* Attaches the file at `path` as the flash, mapped shared (every write is in
 * the file at once): an empty or missing file is made `size` bytes of 0xFF
 * (mode 0600); a file of another size is refused (PORT_FLASH_ERR_BOUNDS),
 * one that cannot be opened or mapped too (PORT_FLASH_ERR_NO_DEVICE). */
port_flash_status_t port_flash_native_open_file(port_flash_native_t *flash, const char *path, uint32_t size);

/* Detaches `flash` (unmaps and closes its file); the flash calls then report
 * PORT_FLASH_ERR_NO_DEVICE until something is attached again. */
void port_flash_native_release(port_flash_native_t *flash);

#ifdef __cplusplus
}
#endif

#endif /* PORT_FLASH_NATIVE_H */
