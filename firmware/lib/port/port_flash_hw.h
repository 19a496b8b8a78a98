/*
 * port_flash_hw.h - inside the port library only: what each target's
 * port_flash_<target>.c gives port_flash.c, which implements the flash API of
 * port.h (the checks and NOR semantics) once for every target on top of it.
 *
 * The flash region is memory mapped on every target (QEMU: the PSRAM; host:
 * a buffer or a mapped file; nRF52840: the internal flash), so reads are
 * plain loads; only programming and erasing differ.
 */
#ifndef PORT_FLASH_HW_H
#define PORT_FLASH_HW_H

#include <stdbool.h>
#include <stdint.h>

typedef struct port_flash_region {
    volatile uint8_t *base; /* the region's first byte, aligned to the write unit */
    uint32_t size;          /* a whole number of pages */
} port_flash_region_t;

/* Fills `out` with the target's flash region; false when there is none. */
bool port_flash_hw_region(port_flash_region_t *out);

/* Programs one write unit: afterwards `*word` holds its old bits AND `value`
 * (the caller has checked that no bit goes from 0 to 1). */
void port_flash_hw_program_word(volatile uint32_t *word, uint32_t value);

/* Erases the page starting at `page` (PORT_FLASH_PAGE_SIZE bytes) to 0xFF. */
void port_flash_hw_erase_page(volatile uint32_t *page);

#endif /* PORT_FLASH_HW_H */
