/*
 * port_flash_native.c - the host port's flash (port_flash_native.h): the
 * region is the buffer or the shared file mapping of the attached
 * port_flash_native_t; programming and erasing are port_flash_mem.c's, as on
 * the emulated device.
 */
#define _POSIX_C_SOURCE 200809L

#include "port_flash_native.h"
#include "port_flash_hw.h"

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/* the attached flash (caller-owned), like the one UART of the other ports */
static port_flash_native_t *s_attached;

static bool size_fits(uint32_t size)
{
    return size != 0u && size % PORT_FLASH_PAGE_SIZE == 0u;
}

port_flash_status_t port_flash_native_use_buffer(port_flash_native_t *flash, void *mem, uint32_t size)
{
    if (flash == NULL || mem == NULL) {
        return PORT_FLASH_ERR_ARG;
    }
    if (!size_fits(size) || (uintptr_t)mem % PORT_FLASH_WRITE_UNIT != 0u) {
        return PORT_FLASH_ERR_ALIGN;
    }
    flash->mem = mem;
    flash->size = size;
    flash->fd = -1;
    s_attached = flash;
    return PORT_FLASH_OK;
}

/* Writes 0xFF over the `size` bytes of the empty file `fd`. */
static bool fill_erased(int fd, uint32_t size)
{
    uint8_t page[PORT_FLASH_PAGE_SIZE];
    memset(page, PORT_FLASH_ERASED_BYTE, sizeof page);
    for (uint32_t done = 0; done < size; done += PORT_FLASH_PAGE_SIZE) {
        size_t put = 0;
        while (put < sizeof page) {
            ssize_t n = pwrite(fd, page + put, sizeof page - put, (off_t)done + (off_t)put);
            if (n < 0 && errno == EINTR) {
                continue;
            }
            if (n <= 0) {
                return false;
            }
            put += (size_t)n;
        }
    }
    return true;
}

port_flash_status_t port_flash_native_open_file(port_flash_native_t *flash, const char *path, uint32_t size)
{
    if (flash == NULL || path == NULL) {
        return PORT_FLASH_ERR_ARG;
    }
    if (!size_fits(size)) {
        return PORT_FLASH_ERR_ALIGN;
    }
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) {
        return PORT_FLASH_ERR_NO_DEVICE;
    }
    struct stat st;
    if (fstat(fd, &st) != 0) {
        close(fd);
        return PORT_FLASH_ERR_NO_DEVICE;
    }
    if (st.st_size == 0) {
        if (!fill_erased(fd, size)) {
            close(fd);
            return PORT_FLASH_ERR_NO_DEVICE;
        }
    } else if (st.st_size != (off_t)size) {
        close(fd);
        return PORT_FLASH_ERR_BOUNDS;
    }
    void *mem = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (mem == MAP_FAILED) {
        close(fd);
        return PORT_FLASH_ERR_NO_DEVICE;
    }
    flash->mem = mem;
    flash->size = size;
    flash->fd = fd;
    s_attached = flash;
    return PORT_FLASH_OK;
}

void port_flash_native_release(port_flash_native_t *flash)
{
    if (flash == NULL) {
        return;
    }
    if (flash->fd >= 0) {
        munmap(flash->mem, flash->size);
        close(flash->fd);
    }
    flash->mem = NULL;
    flash->size = 0;
    flash->fd = -1;
    if (s_attached == flash) {
        s_attached = NULL;
    }
}

bool port_flash_hw_region(port_flash_region_t *out)
{
    if (s_attached == NULL || s_attached->mem == NULL) {
        return false;
    }
    out->base = s_attached->mem;
    out->size = s_attached->size;
    return true;
}
