/*
 * port_flash_qemu.c - the flash of the emulated device (QEMU mps2-an386): the
 * 16 MiB PSRAM at 0x21000000, QEMU's "system memory" of the machine.
 *
 * heartbeat_system/emulator.py (Emulator(flash_file=...)) backs it with a
 * host file, `-object memory-backend-file,...,share=on -machine
 * memory-backend=...`, so it keeps its contents across a reset and across
 * QEMU runs (a power cycle). Every store of the guest goes straight into the
 * file's shared mapping, and port_flash_mem.c programs one word with one
 * store and erases a page word by word, so a QEMU process killed mid-write
 * leaves the page torn, as on real flash. Without a flash file the region is
 * QEMU's own RAM, zeroed at start (the unit tests erase what they use).
 *
 * Base and size come from the board manifest's "qemu.flash" section
 * (firmware/platforms/qemu-cortex-m4f/boards/mps2_an386.json), which
 * select_port.py passes in as PORT_FLASH_QEMU_BASE and PORT_FLASH_QEMU_SIZE:
 * one definition for the firmware and for the QEMU command line.
 */
#include "port.h"
#include "port_flash_hw.h"

#if !defined(PORT_FLASH_QEMU_BASE) || !defined(PORT_FLASH_QEMU_SIZE)
#error "PORT_FLASH_QEMU_BASE and PORT_FLASH_QEMU_SIZE come from the board manifest's qemu.flash (select_port.py)"
#endif

_Static_assert(PORT_FLASH_QEMU_SIZE % PORT_FLASH_PAGE_SIZE == 0, "the flash is a whole number of pages");

bool port_flash_hw_region(port_flash_region_t *out)
{
    out->base = (volatile uint8_t *)(uintptr_t)PORT_FLASH_QEMU_BASE;
    out->size = (uint32_t)PORT_FLASH_QEMU_SIZE;
    return true;
}
