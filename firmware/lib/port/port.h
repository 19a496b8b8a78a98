/*
 * port.h - the one seam between the firmware and the hardware it runs on.
 *
 * Every module above this line is portable C; everything below it lives in
 * exactly one port_<target>.c, chosen per PlatformIO environment by the
 * `custom_port` option (see library.json / select_port.py):
 *
 *   port_native.c    host process: stdin/stdout stand in for the UART
 *   port_qemu.c      QEMU mps2-an386: CMSDK APB UART0, SysTick, semihosting
 *   port_nrf52840.c  nRF52840: UARTE0 (EasyDMA TX and RX), SysTick, SAADC
 *                    sampled by TIMER1 through PPI
 *   port_noadc.c     the ADC functions of the targets without one (native,
 *                    QEMU), built next to their port_<target>.c
 *
 * The port keeps its own hardware state (there is one UART); callers never
 * see it.
 */
#ifndef PORT_H
#define PORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Bring up the console UART and the millisecond tick. Call once, first. */
void port_init(void);

/* Write `len` bytes to the UART, blocking until all are accepted.
 * Returns the number of bytes written (`len` unless the link is gone). */
size_t port_uart_write(const void *data, size_t len);

/* Read up to `cap` bytes from the UART. Blocks until at least one byte has
 * arrived or `timeout_ms` milliseconds have passed, then returns what is
 * already there without waiting further. Returns 0 on timeout (the host
 * port treats the end of its input as a line gone quiet). */
size_t port_uart_read(void *buf, size_t cap, uint32_t timeout_ms);

/* Milliseconds since port_init(); wraps after about 49.7 days. */
uint32_t port_tick_ms(void);

/* End the program with `code` as its exit status (0 = success). On QEMU
 * this is the semihosting exit code QEMU itself exits with; on a board
 * without a debugger the core stops. Never returns. */
void port_exit(int code) __attribute__((noreturn));

/* Start sampling the ECG input at `rate_hz` samples per second (1..16000),
 * timed by hardware, into a small buffer that port_adc_read() drains.
 * Returns false when the target has no ADC (native, QEMU: the emulated
 * device gets its samples over the UART) or the rate is out of range.
 * Calling it again restarts sampling at the new rate. */
bool port_adc_start(uint32_t rate_hz);

/* Takes up to `cap` samples already converted (raw ADC codes, oldest first)
 * without waiting; returns how many (0 when none, or no ADC). */
size_t port_adc_read(int16_t *out, size_t cap);

/* Samples lost because port_adc_read() was not called often enough. */
uint32_t port_adc_overruns(void);

/* ---- Flash ----
 * The non-volatile memory the boot chain keeps its images and state in, with
 * NOR flash semantics on every target: it is erased in pages (every byte
 * 0xFF), and a write can only clear bits, in whole write units. Offsets are
 * relative to the start of the target's flash region (see port_flash_size()).
 * Each call checks all of its arguments before it changes anything: a refused
 * call leaves the flash as it was. Writes go one write unit at a time, in
 * order, so a power cut during a write or an erase leaves the page torn
 * (a prefix done, the rest as it was), as on real flash.
 *
 *   port_flash.c               the checks and the semantics, for every target
 *   port_flash_mem.c           programming and erasing of the flashes emulated
 *                              in memory (QEMU, host)
 *   port_flash_qemu.c          QEMU mps2-an386: the 16 MiB PSRAM at 0x21000000,
 *                              which heartbeat_system/emulator.py maps from a
 *                              host file (the emulated device's flash)
 *   port_flash_native.c        host: a caller's buffer or a file
 *                              (port_flash_native.h)
 *   port_flash_nrf52840.c      nRF52840: the internal flash through the NVMC
 */
#define PORT_FLASH_PAGE_SIZE 4096u /* bytes erased together */
#define PORT_FLASH_WRITE_UNIT 4u   /* bytes programmed together; offsets and lengths of writes are multiples */
#define PORT_FLASH_ERASED_BYTE 0xFFu

typedef enum port_flash_status {
    PORT_FLASH_OK = 0,
    PORT_FLASH_ERR_NO_DEVICE,  /* no flash (native: none attached) */
    PORT_FLASH_ERR_ARG,        /* a NULL buffer with a non-zero length */
    PORT_FLASH_ERR_BOUNDS,     /* the range does not lie inside the flash region */
    PORT_FLASH_ERR_ALIGN,      /* write: offset or length not a multiple of the write unit;
                                  erase: offset not at the start of a page */
    PORT_FLASH_ERR_NOT_ERASED, /* write: a bit would have to go from 0 to 1 (erase the page first) */
    PORT_FLASH_ERR_VERIFY,     /* the flash did not take the data: it reads back otherwise */
} port_flash_status_t;

/* Size of the flash region in bytes (a whole number of pages); 0 when there is
 * none (native: none attached). */
uint32_t port_flash_size(void);

/* Erases the page that starts at `offset`: every byte reads 0xFF after. */
port_flash_status_t port_flash_erase_page(uint32_t offset);

/* Programs `len` bytes at `offset`, both multiples of PORT_FLASH_WRITE_UNIT.
 * Refused with PORT_FLASH_ERR_NOT_ERASED, before anything is written, when a
 * bit that is 0 in the flash is 1 in `data`. `data` needs no alignment. */
port_flash_status_t port_flash_write(uint32_t offset, const void *data, size_t len);

/* Copies `len` bytes at `offset` (any alignment) into `out`. */
port_flash_status_t port_flash_read(uint32_t offset, void *out, size_t len);

/* The status's name, for messages: "ok", "no device", "bad argument",
 * "out of bounds", "misaligned", "not erased", "verify failed". */
const char *port_flash_status_name(port_flash_status_t status);

#ifdef __cplusplus
}
#endif

#endif /* PORT_H */
