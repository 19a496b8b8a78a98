/*
 * port_flash_nrf52840.c - the flash of the nRF52840: its internal flash (1 MiB, 256 pages of 4 KiB,
 * memory mapped at 0x00000000), programmed and erased through the NVMC. Register level, no vendor SDK.
 *
 * STATUS: compiled by `pio run -e nrf52840` (nothing calls it yet, so the linker drops it); not yet run
 * on a board.
 *
 * The region starts after the bootloader's 32 KiB at the start of the flash (docs/ota.md: "On the
 * nRF52840 the bootloader sits at the start of the internal flash and the slots and state follow it")
 * and runs to the end of the flash. Until the boot chain moves the application (which is linked at
 * 0x00000000 today), the region overlaps the application image: nothing in the application uses it yet.
 *
 * NVMC: nRF52840 Product Specification v1.7, section 4.3 "NVMC - Non-volatile memory controller": its
 * parts "Writing to flash" and "Erasing a page in flash", its register table (the offsets below) and its
 * electrical specification (tWRITE up to 41 us per word, tERASEPAGE up to 85 ms, nWRITE: a word is written
 * at most twice between erases, so callers write each word once). Flash geometry and the memory map:
 * section 4.2 "Memory". The CPU stalls on reads of the flash while the NVMC is busy; READY is polled
 * before and after each operation, and CONFIG goes back to read-only (REN) after it, so a stray store
 * never programs the flash.
 */
#include "port.h"
#include "port_flash_hw.h"

#define REG32(addr) (*(volatile uint32_t *)(addr))

/* ---- NVMC (PS 4.3, its register table) ---- */
#define NVMC_BASE 0x4001E000u
#define NVMC_READY REG32(NVMC_BASE + 0x400u)     /* bit 0: 1 = ready, 0 = busy */
#define NVMC_CONFIG REG32(NVMC_BASE + 0x504u)    /* WEN field, bits 1..0 */
#define NVMC_ERASEPAGE REG32(NVMC_BASE + 0x508u) /* write the address of the page's first word */
#define NVMC_READY_READY 1u
#define NVMC_CONFIG_REN 0u /* read only */
#define NVMC_CONFIG_WEN 1u /* write enabled */
#define NVMC_CONFIG_EEN 2u /* erase enabled */

/* ---- the flash (PS 4.2) and our region in it ---- */
#define FLASH_SIZE (1024u * 1024u)
#define BOOTLOADER_SIZE (32u * 1024u) /* docs/ota.md: the bootloader's budget, with its crypto */
#define REGION_BASE BOOTLOADER_SIZE
#define REGION_SIZE (FLASH_SIZE - BOOTLOADER_SIZE)

_Static_assert(BOOTLOADER_SIZE % PORT_FLASH_PAGE_SIZE == 0, "the region starts on a flash page");
_Static_assert(REGION_SIZE % PORT_FLASH_PAGE_SIZE == 0, "the region is a whole number of pages");

static void nvmc_wait_ready(void)
{
    while ((NVMC_READY & NVMC_READY_READY) == 0u) {
    }
}

/* the NVMC's mode for the next operation (REN, WEN or EEN), once it is idle */
static void nvmc_set_mode(uint32_t mode)
{
    nvmc_wait_ready();
    NVMC_CONFIG = mode;
    __asm__ volatile("dsb" ::: "memory");
}

bool port_flash_hw_region(port_flash_region_t *out)
{
    out->base = (volatile uint8_t *)(uintptr_t)REGION_BASE;
    out->size = REGION_SIZE;
    return true;
}

void port_flash_hw_program_word(volatile uint32_t *word, uint32_t value)
{
    nvmc_set_mode(NVMC_CONFIG_WEN);
    *word = value; /* the flash clears the bits that are 0 in value, leaves the others */
    __asm__ volatile("dsb" ::: "memory");
    nvmc_set_mode(NVMC_CONFIG_REN);
}

void port_flash_hw_erase_page(volatile uint32_t *page)
{
    nvmc_set_mode(NVMC_CONFIG_EEN);
    NVMC_ERASEPAGE = (uint32_t)(uintptr_t)page;
    __asm__ volatile("dsb" ::: "memory");
    nvmc_set_mode(NVMC_CONFIG_REN);
}
