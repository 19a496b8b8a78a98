/*
 * port_flash_mem.c - programming and erasing a flash that is emulated in
 * memory (QEMU's file-backed PSRAM, the host's buffer or mapped file): one
 * store per word, in order, so a process killed in the middle leaves exactly
 * the words stored so far, i.e. a torn page as on real flash.
 * select_port.py builds it next to port_flash_<target>.c for the ports listed
 * in FLASH_IN_MEMORY.
 */
#include "port.h"
#include "port_flash_hw.h"

void port_flash_hw_program_word(volatile uint32_t *word, uint32_t value)
{
    *word &= value; /* NOR programming: only the bits that are 0 in value change */
}

void port_flash_hw_erase_page(volatile uint32_t *page)
{
    for (uint32_t i = 0; i < PORT_FLASH_PAGE_SIZE / PORT_FLASH_WRITE_UNIT; i++) {
        page[i] = 0xFFFFFFFFu;
    }
}
