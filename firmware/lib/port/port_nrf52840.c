/*
 * port_nrf52840.c - the port for the nRF52840 (Cortex-M4F, 64 MHz).
 *
 * STATUS: builds and links; not yet run on a board.
 *
 *   UART:  UARTE0 at 0x40002000, 115200 8N1, no flow control, TXD on P0.06
 *          and RXD on P0.08 (the nRF52840-DK's interface-MCU UART).
 *          Transmission is blocking through EasyDMA, which can only read
 *          RAM, so data is staged through a small RAM buffer.
 *          Reception is not implemented yet: port_uart_read() waits out its
 *          timeout and returns 0.
 *   Tick:  SysTick from the 64 MHz CPU clock, one interrupt per ms.
 *   Exit:  no host to report to: interrupts off, the core sleeps.
 *
 * Register offsets: nRF52840 Product Specification v1.x, UARTE chapter.
 */
#include "port.h"

#include <stdint.h>
#include <string.h>

#define REG32(addr) (*(volatile uint32_t *)(addr))

#define UARTE0_BASE 0x40002000u
#define UARTE_TASKS_STARTTX REG32(UARTE0_BASE + 0x008u)
#define UARTE_TASKS_STOPTX REG32(UARTE0_BASE + 0x00Cu)
#define UARTE_EVENTS_ENDTX REG32(UARTE0_BASE + 0x120u)
#define UARTE_EVENTS_TXSTOPPED REG32(UARTE0_BASE + 0x158u)
#define UARTE_ENABLE REG32(UARTE0_BASE + 0x500u)
#define UARTE_PSEL_RTS REG32(UARTE0_BASE + 0x508u)
#define UARTE_PSEL_TXD REG32(UARTE0_BASE + 0x50Cu)
#define UARTE_PSEL_CTS REG32(UARTE0_BASE + 0x510u)
#define UARTE_PSEL_RXD REG32(UARTE0_BASE + 0x514u)
#define UARTE_BAUDRATE REG32(UARTE0_BASE + 0x524u)
#define UARTE_TXD_PTR REG32(UARTE0_BASE + 0x544u)
#define UARTE_TXD_MAXCNT REG32(UARTE0_BASE + 0x548u)
#define UARTE_CONFIG REG32(UARTE0_BASE + 0x56Cu)

#define UARTE_ENABLE_ENABLED 8u
#define UARTE_BAUDRATE_115200 0x01D7E000u
#define PSEL_DISCONNECTED 0xFFFFFFFFu
#define PIN_TXD 6u /* P0.06 */
#define PIN_RXD 8u /* P0.08 */

#define SYST_CSR REG32(0xE000E010u)
#define SYST_RVR REG32(0xE000E014u)
#define SYST_CVR REG32(0xE000E018u)
#define SYST_CSR_ENABLE (1u << 0)
#define SYST_CSR_TICKINT (1u << 1)
#define SYST_CSR_CLKSOURCE_CPU (1u << 2)

#define CPU_HZ 64000000u
#define TX_CHUNK 64u

static volatile uint32_t s_ms;
static uint8_t s_tx_buf[TX_CHUNK]; /* EasyDMA source: must be in RAM */

void SysTick_Handler(void);

void SysTick_Handler(void)
{
    s_ms++;
}

void port_init(void)
{
    UARTE_ENABLE = 0;
    UARTE_PSEL_TXD = PIN_TXD;
    UARTE_PSEL_RXD = PIN_RXD;
    UARTE_PSEL_RTS = PSEL_DISCONNECTED;
    UARTE_PSEL_CTS = PSEL_DISCONNECTED;
    UARTE_BAUDRATE = UARTE_BAUDRATE_115200;
    UARTE_CONFIG = 0; /* no parity, no hardware flow control, one stop bit */
    UARTE_ENABLE = UARTE_ENABLE_ENABLED;

    s_ms = 0;
    SYST_RVR = CPU_HZ / 1000u - 1u;
    SYST_CVR = 0;
    SYST_CSR = SYST_CSR_CLKSOURCE_CPU | SYST_CSR_TICKINT | SYST_CSR_ENABLE;
}

size_t port_uart_write(const void *data, size_t len)
{
    const uint8_t *p = data;
    size_t done = 0;
    while (done < len) {
        size_t n = len - done < TX_CHUNK ? len - done : TX_CHUNK;
        memcpy(s_tx_buf, p + done, n);
        UARTE_EVENTS_ENDTX = 0;
        UARTE_TXD_PTR = (uint32_t)(uintptr_t)s_tx_buf;
        UARTE_TXD_MAXCNT = n;
        UARTE_TASKS_STARTTX = 1;
        while (UARTE_EVENTS_ENDTX == 0) {
        }
        UARTE_EVENTS_TXSTOPPED = 0;
        UARTE_TASKS_STOPTX = 1;
        while (UARTE_EVENTS_TXSTOPPED == 0) {
        }
        done += n;
    }
    return done;
}

size_t port_uart_read(void *buf, size_t cap, uint32_t timeout_ms)
{
    (void)buf;
    (void)cap;
    uint32_t start = port_tick_ms();
    while ((uint32_t)(port_tick_ms() - start) < timeout_ms) {
    }
    return 0;
}

uint32_t port_tick_ms(void)
{
    return s_ms;
}

void port_exit(int code)
{
    (void)code;
    __asm__ volatile("cpsid i" ::: "memory");
    for (;;) {
        __asm__ volatile("wfi");
    }
}
