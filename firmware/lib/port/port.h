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

#ifdef __cplusplus
}
#endif

#endif /* PORT_H */
