/*
 * port_qemu.c - the port for QEMU's mps2-an386 (Cortex-M4, 25 MHz).
 *
 *   UART:  CMSDK APB UART0 at 0x40004000, polled. QEMU connects it to the
 *          -serial backend (stdio for tests, a TCP socket for `upload`).
 *   Tick:  SysTick from the 25 MHz processor clock, one interrupt per ms.
 *          Under `-icount shift=0` one instruction is one ns of virtual
 *          time, so the tick counts executed instructions, not wall time.
 *   Exit:  Arm semihosting SYS_EXIT_EXTENDED (0x20) with
 *          ADP_Stopped_ApplicationExit (0x20026) and the status: QEMU, run
 *          with `-semihosting-config enable=on,target=native`, exits with
 *          that status. (Plain SYS_EXIT can only report 0 or 1.)
 */
#include "port.h"

#include <stdint.h>

#define REG32(addr) (*(volatile uint32_t *)(addr))

/* CMSDK APB UART (Arm DDI 0479) */
#define UART0_BASE 0x40004000u
#define UART_DATA REG32(UART0_BASE + 0x00u)
#define UART_STATE REG32(UART0_BASE + 0x04u)
#define UART_CTRL REG32(UART0_BASE + 0x08u)
#define UART_BAUDDIV REG32(UART0_BASE + 0x10u)
#define UART_STATE_TX_FULL (1u << 0)
#define UART_STATE_RX_FULL (1u << 1)
#define UART_CTRL_TX_EN (1u << 0)
#define UART_CTRL_RX_EN (1u << 1)

/* SysTick (Armv7-M ARM, B3.3) */
#define SYST_CSR REG32(0xE000E010u)
#define SYST_RVR REG32(0xE000E014u)
#define SYST_CVR REG32(0xE000E018u)
#define SYST_CSR_ENABLE (1u << 0)
#define SYST_CSR_TICKINT (1u << 1)
#define SYST_CSR_CLKSOURCE_CPU (1u << 2)

#define CPU_HZ 25000000u
#define UART_BAUD 115200u

/* semihosting */
#define SEMIHOST_SYS_EXIT_EXTENDED 0x20u
#define ADP_STOPPED_APPLICATION_EXIT 0x20026u

/* Polls of the UART status while waiting for input are spaced out by this
 * many idle loop turns (a few hundred instructions, well under 1 us): under
 * QEMU -icount every device access ends a translation block, and polling
 * the register back to back runs the emulation about 20 times slower. */
#define RX_POLL_SPACING 128u

static volatile uint32_t s_ms;

static void spin(uint32_t turns)
{
    for (volatile uint32_t i = 0; i < turns; i++) {
    }
}

void SysTick_Handler(void);
void HardFault_Handler(void);
void _exit(int code) __attribute__((noreturn));

void SysTick_Handler(void)
{
    s_ms++;
}

void port_init(void)
{
    UART_BAUDDIV = CPU_HZ / UART_BAUD; /* QEMU ignores dividers below 16 */
    UART_CTRL = UART_CTRL_TX_EN | UART_CTRL_RX_EN;

    s_ms = 0;
    SYST_RVR = CPU_HZ / 1000u - 1u;
    SYST_CVR = 0;
    SYST_CSR = SYST_CSR_CLKSOURCE_CPU | SYST_CSR_TICKINT | SYST_CSR_ENABLE;
}

size_t port_uart_write(const void *data, size_t len)
{
    const uint8_t *p = data;
    for (size_t i = 0; i < len; i++) {
        while (UART_STATE & UART_STATE_TX_FULL) {
            /* QEMU holds TX full while its backend applies back-pressure */
        }
        UART_DATA = p[i];
    }
    return len;
}

size_t port_uart_read(void *buf, size_t cap, uint32_t timeout_ms)
{
    uint8_t *out = buf;
    size_t n = 0;
    if (cap == 0) {
        return 0;
    }
    uint32_t start = port_tick_ms();
    while (!(UART_STATE & UART_STATE_RX_FULL)) {
        if ((uint32_t)(port_tick_ms() - start) >= timeout_ms) {
            return 0;
        }
        spin(RX_POLL_SPACING);
    }
    while (n < cap && (UART_STATE & UART_STATE_RX_FULL)) {
        out[n++] = (uint8_t)UART_DATA;
    }
    return n;
}

uint32_t port_tick_ms(void)
{
    return s_ms;
}

void port_exit(int code)
{
    /* parameter block of SYS_EXIT_EXTENDED: reason, subcode */
    volatile uint32_t block[2] = {ADP_STOPPED_APPLICATION_EXIT, (uint32_t)code};
    register uint32_t r0 __asm__("r0") = SEMIHOST_SYS_EXIT_EXTENDED;
    register volatile uint32_t *r1 __asm__("r1") = block;
    __asm__ volatile("bkpt 0xAB" : "+r"(r0) : "r"(r1) : "memory");
    /* only reached without semihosting: stop the core */
    __asm__ volatile("cpsid i" ::: "memory");
    for (;;) {
        __asm__ volatile("wfi");
    }
}

/* newlib's exit() and the runtime's return from main() end up here */
void _exit(int code)
{
    port_exit(code);
}

/* A fault in a test must end the run with a status, not hang QEMU. */
void HardFault_Handler(void)
{
    static const char msg[] = "\r\n*** HardFault\r\n";
    port_uart_write(msg, sizeof msg - 1);
    port_exit(0x7F);
}
