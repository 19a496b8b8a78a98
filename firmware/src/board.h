/*
 * board.h - what main.c needs from the target beyond port.h (firmware/src only).
 *
 *   board_cycles()       free-running core clock cycle counter, from SysTick (architectural on every
 *                        Cortex-M, so the same code serves mps2-an386 and the nRF52840): the port's
 *                        millisecond count times the reload plus the current count. 25 MHz under QEMU
 *                        mps2-an386 (with -icount shift=0 one tick is 40 instructions), 64 MHz on the
 *                        nRF52840. 0 on the host build (cost not measured).
 *   board_entropy()      a value that differs from boot to boot, for the boot id: on QEMU mps2-an386 the
 *                        host's clock through semihosting (SYS_ELAPSED: nanoseconds since QEMU started,
 *                        SYS_TIME: seconds since the epoch; QEMU is always run with semihosting on), on the
 *                        nRF52840 its hardware random number generator (RNG, bias correction on); 0 on
 *                        the host build. The emulated machine itself starts identically every time.
 *   board_paint_stack()  fills the unused stack with BOARD_STACK_PAINT so that its high-water mark can be
 *                        read from memory afterwards (benchmarks/device_budget.py); no-op on the host.
 *
 * Wanted in port.h instead (port_cycles()); kept here until the port offers it.
 */
#ifndef BOARD_H
#define BOARD_H

#include <stdint.h>

#define BOARD_STACK_PAINT 0x5AC5AC5Au

uint32_t board_cycles(void);
uint32_t board_entropy(void);
void board_paint_stack(void);

#endif /* BOARD_H */
