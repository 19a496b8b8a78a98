/*
 * port_nrf52840.c - the port for the nRF52840 (Cortex-M4F, 64 MHz). Register level, no vendor SDK.
 *
 * STATUS: builds and links; not yet run on a board.
 *
 *   Clock: port_init() starts the 64 MHz crystal oscillator (HFXO) so that the UART baud rate and the
 *          ADC sample rate are crystal accurate (falls back to the internal RC if it never reports ready).
 *   UART:  UARTE0 at 0x40002000, 115200 8N1, no flow control, TXD on P0.06 and RXD on P0.08 (the
 *          nRF52840-DK's interface-MCU UART).
 *          TX is blocking through EasyDMA, which can only read RAM, so data is staged through a RAM buffer.
 *          RX is continuous EasyDMA reception into two one-byte buffers used in turn: the ENDRX->STARTRX
 *          shortcut restarts reception in hardware, the UARTE0 interrupt points RXD.PTR at the other buffer
 *          on RXSTARTED and, on ENDRX, moves the byte just received into a software ring (RX_RING bytes)
 *          that port_uart_read() drains. One-byte buffers make every byte visible at once (no partial
 *          DMA buffer to flush with STOPRX/FLUSHRX). Bytes arriving while the ring is full are counted
 *          and dropped (the host must respect the protocol's back-pressure).
 *   Tick:  SysTick from the 64 MHz CPU clock, one interrupt per ms (board_cycles() in firmware/src/board.c
 *          reads SysTick too). No TIMER is used for it: the vector table gives TIMER1/TIMER2 no weak
 *          handlers, and SysTick's interrupt keeps the 32-bit ms count going for 49.7 days.
 *   ADC:   SAADC channel 0, AIN0 (P0.02) single-ended against ground, 12 bit, no oversampling, internal
 *          reference VDD/4 with gain 1/4: input range 0..VDD, ratiometric with a front end (e.g. an
 *          AD8232-class ECG amplifier) powered from the same VDD and biased at VDD/2; acquisition time
 *          10 us (source impedance up to 100 kOhm). TIMER1 runs free at 16 MHz (32 bit); its COMPARE[0]
 *          event triggers SAADC SAMPLE through PPI channel 0, so the sampling instant is set by hardware.
 *          16 MHz / 360 Hz = 44444.44 ticks is not an integer: the SAADC interrupt (END, one result per
 *          EasyDMA buffer, two buffers used in turn) advances CC[0] by 44444 or 44445 ticks, carrying the
 *          remainder, so the average rate is exactly rate_hz (period error below one 62.5 ns tick).
 *          Results go into a software ring (ADC_RING samples) that port_adc_read() drains.
 *   Exit:  no host to report to: interrupts off, the core sleeps.
 *
 * Register addresses and bit fields: nRF52840 Product Specification v1.x (CLOCK, UARTE, SAADC, TIMER,
 * PPI chapters; peripheral IDs from "Instantiation").
 */
#include "port.h"

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#define REG32(addr) (*(volatile uint32_t *)(addr))

/* ---- CLOCK ---- */
#define CLOCK_BASE 0x40000000u
#define CLOCK_TASKS_HFCLKSTART REG32(CLOCK_BASE + 0x000u)
#define CLOCK_EVENTS_HFCLKSTARTED REG32(CLOCK_BASE + 0x100u)

/* ---- UARTE0 ---- */
#define UARTE0_BASE 0x40002000u
#define UARTE_TASKS_STARTRX REG32(UARTE0_BASE + 0x000u)
#define UARTE_TASKS_STOPRX REG32(UARTE0_BASE + 0x004u)
#define UARTE_TASKS_STARTTX REG32(UARTE0_BASE + 0x008u)
#define UARTE_TASKS_STOPTX REG32(UARTE0_BASE + 0x00Cu)
#define UARTE_EVENTS_ENDRX REG32(UARTE0_BASE + 0x110u)
#define UARTE_EVENTS_ENDTX REG32(UARTE0_BASE + 0x120u)
#define UARTE_EVENTS_ERROR REG32(UARTE0_BASE + 0x124u)
#define UARTE_EVENTS_RXTO REG32(UARTE0_BASE + 0x144u)
#define UARTE_EVENTS_RXSTARTED REG32(UARTE0_BASE + 0x14Cu)
#define UARTE_EVENTS_TXSTOPPED REG32(UARTE0_BASE + 0x158u)
#define UARTE_SHORTS REG32(UARTE0_BASE + 0x200u)
#define UARTE_INTENSET REG32(UARTE0_BASE + 0x304u)
#define UARTE_INTENCLR REG32(UARTE0_BASE + 0x308u)
#define UARTE_ERRORSRC REG32(UARTE0_BASE + 0x480u)
#define UARTE_ENABLE REG32(UARTE0_BASE + 0x500u)
#define UARTE_PSEL_RTS REG32(UARTE0_BASE + 0x508u)
#define UARTE_PSEL_TXD REG32(UARTE0_BASE + 0x50Cu)
#define UARTE_PSEL_CTS REG32(UARTE0_BASE + 0x510u)
#define UARTE_PSEL_RXD REG32(UARTE0_BASE + 0x514u)
#define UARTE_BAUDRATE REG32(UARTE0_BASE + 0x524u)
#define UARTE_RXD_PTR REG32(UARTE0_BASE + 0x534u)
#define UARTE_RXD_MAXCNT REG32(UARTE0_BASE + 0x538u)
#define UARTE_RXD_AMOUNT REG32(UARTE0_BASE + 0x53Cu)
#define UARTE_TXD_PTR REG32(UARTE0_BASE + 0x544u)
#define UARTE_TXD_MAXCNT REG32(UARTE0_BASE + 0x548u)
#define UARTE_CONFIG REG32(UARTE0_BASE + 0x56Cu)

#define UARTE_SHORTS_ENDRX_STARTRX (1u << 5)
#define UARTE_INT_ENDRX (1u << 4)
#define UARTE_INT_ERROR (1u << 9)
#define UARTE_INT_RXTO (1u << 17)
#define UARTE_INT_RXSTARTED (1u << 19)
#define UARTE_ENABLE_ENABLED 8u
#define UARTE_BAUDRATE_115200 0x01D7E000u
#define PSEL_DISCONNECTED 0xFFFFFFFFu
#define PIN_TXD 6u /* P0.06 */
#define PIN_RXD 8u /* P0.08 */
#define UARTE0_IRQN 2u

/* ---- SAADC ---- */
#define SAADC_BASE 0x40007000u
#define SAADC_TASKS_START REG32(SAADC_BASE + 0x000u)
#define SAADC_TASKS_STOP REG32(SAADC_BASE + 0x008u)
#define SAADC_TASKS_CALIBRATEOFFSET REG32(SAADC_BASE + 0x00Cu)
#define SAADC_EVENTS_STARTED REG32(SAADC_BASE + 0x100u)
#define SAADC_EVENTS_END REG32(SAADC_BASE + 0x104u)
#define SAADC_EVENTS_CALIBRATEDONE REG32(SAADC_BASE + 0x110u)
#define SAADC_EVENTS_STOPPED REG32(SAADC_BASE + 0x114u)
#define SAADC_INTENSET REG32(SAADC_BASE + 0x304u)
#define SAADC_INTENCLR REG32(SAADC_BASE + 0x308u)
#define SAADC_ENABLE REG32(SAADC_BASE + 0x500u)
#define SAADC_CH0_PSELP REG32(SAADC_BASE + 0x510u)
#define SAADC_CH0_PSELN REG32(SAADC_BASE + 0x514u)
#define SAADC_CH0_CONFIG REG32(SAADC_BASE + 0x518u)
#define SAADC_RESOLUTION REG32(SAADC_BASE + 0x5F0u)
#define SAADC_OVERSAMPLE REG32(SAADC_BASE + 0x5F4u)
#define SAADC_SAMPLERATE REG32(SAADC_BASE + 0x5F8u)
#define SAADC_RESULT_PTR REG32(SAADC_BASE + 0x62Cu)
#define SAADC_RESULT_MAXCNT REG32(SAADC_BASE + 0x630u)
#define SAADC_TASKS_SAMPLE_ADDR (SAADC_BASE + 0x004u)

#define SAADC_INT_END (1u << 1)
#define SAADC_PSEL_AIN0 1u
#define SAADC_PSEL_NC 0u
/* CH[0].CONFIG: RESP/RESN bypass (0), GAIN 1/4 (2 << 8), REFSEL VDD/4 (1 << 12), TACQ 10 us (2 << 16),
 * MODE single-ended (0 << 20), BURST off (0 << 24) */
#define SAADC_CH_CONFIG_ECG ((2u << 8) | (1u << 12) | (2u << 16))
#define SAADC_RESOLUTION_12BIT 2u
#define SAADC_IRQN 7u

/* ---- TIMER1 ---- */
#define TIMER1_BASE 0x40009000u
#define TIMER1_TASKS_START REG32(TIMER1_BASE + 0x000u)
#define TIMER1_TASKS_STOP REG32(TIMER1_BASE + 0x004u)
#define TIMER1_TASKS_CLEAR REG32(TIMER1_BASE + 0x00Cu)
#define TIMER1_TASKS_CAPTURE1 REG32(TIMER1_BASE + 0x044u)
#define TIMER1_EVENTS_COMPARE0 REG32(TIMER1_BASE + 0x140u)
#define TIMER1_SHORTS REG32(TIMER1_BASE + 0x200u)
#define TIMER1_MODE REG32(TIMER1_BASE + 0x504u)
#define TIMER1_BITMODE REG32(TIMER1_BASE + 0x508u)
#define TIMER1_PRESCALER REG32(TIMER1_BASE + 0x510u)
#define TIMER1_CC0 REG32(TIMER1_BASE + 0x540u)
#define TIMER1_CC1 REG32(TIMER1_BASE + 0x544u)
#define TIMER1_EVENTS_COMPARE0_ADDR (TIMER1_BASE + 0x140u)
#define TIMER_BITMODE_32 3u
#define TIMER_HZ 16000000u

/* ---- PPI ---- */
#define PPI_BASE 0x4001F000u
#define PPI_CHENSET REG32(PPI_BASE + 0x504u)
#define PPI_CHENCLR REG32(PPI_BASE + 0x508u)
#define PPI_CH0_EEP REG32(PPI_BASE + 0x510u)
#define PPI_CH0_TEP REG32(PPI_BASE + 0x514u)
#define PPI_CH_ADC 0u

/* ---- Cortex-M ---- */
#define SYST_CSR REG32(0xE000E010u)
#define SYST_RVR REG32(0xE000E014u)
#define SYST_CVR REG32(0xE000E018u)
#define SYST_CSR_ENABLE (1u << 0)
#define SYST_CSR_TICKINT (1u << 1)
#define SYST_CSR_CLKSOURCE_CPU (1u << 2)
#define NVIC_ISER0 REG32(0xE000E100u)
#define NVIC_ICER0 REG32(0xE000E180u)
#define NVIC_ICPR0 REG32(0xE000E280u)

#define CPU_HZ 64000000u
#define TX_CHUNK 64u
#define RX_RING 1024u /* power of two */
#define ADC_RING 256u /* power of two: 0.7 s at 360 Hz */
#define ADC_RATE_MAX 16000u
#define SPIN_LIMIT 2000000u /* bounded waits on events that should come within microseconds */

_Static_assert((RX_RING & (RX_RING - 1u)) == 0u, "RX_RING must be a power of two");
_Static_assert((ADC_RING & (ADC_RING - 1u)) == 0u, "ADC_RING must be a power of two");

static inline void dmb(void)
{
    __asm__ volatile("dmb" ::: "memory");
}

static volatile uint32_t s_ms;
static uint8_t s_tx_buf[TX_CHUNK]; /* EasyDMA source: must be in RAM */

/* UART receive: two one-byte EasyDMA buffers and a ring (interrupt writes head, reader writes tail) */
static volatile uint8_t s_rx_dma[2];
static volatile uint32_t s_rx_active; /* the EasyDMA buffer being filled */
static volatile uint8_t s_rx_ring[RX_RING];
static volatile uint32_t s_rx_head, s_rx_tail;
static volatile uint32_t s_rx_dropped;

/* ADC: two one-result EasyDMA buffers, the sample clock and a ring */
static volatile int16_t s_adc_dma[2];
static volatile uint32_t s_adc_active;
static volatile int16_t s_adc_ring[ADC_RING];
static volatile uint32_t s_adc_head, s_adc_tail;
static volatile uint32_t s_adc_overruns;
static uint32_t s_adc_rate, s_adc_period, s_adc_rem, s_adc_acc;

void SysTick_Handler(void);
void UARTE0_UART0_IRQHandler(void);
void SAADC_IRQHandler(void);

void SysTick_Handler(void)
{
    s_ms++;
}

static void wait_event(volatile uint32_t *event)
{
    for (uint32_t i = 0; i < SPIN_LIMIT && *event == 0u; i++) {
    }
}

/* ------------------------------------------------------------------ UART */

void UARTE0_UART0_IRQHandler(void)
{
    if (UARTE_EVENTS_ENDRX != 0u) {
        UARTE_EVENTS_ENDRX = 0u;
        uint32_t done = s_rx_active;
        s_rx_active = done ^ 1u;
        if (UARTE_RXD_AMOUNT != 0u) {
            uint32_t head = s_rx_head;
            if (head - s_rx_tail < RX_RING) {
                s_rx_ring[head & (RX_RING - 1u)] = s_rx_dma[done];
                dmb();
                s_rx_head = head + 1u;
            } else {
                s_rx_dropped++;
            }
        }
    }
    if (UARTE_EVENTS_RXSTARTED != 0u) {
        UARTE_EVENTS_RXSTARTED = 0u;
        /* RXD.PTR is double-buffered: this is where the next STARTRX (the shortcut) writes */
        UARTE_RXD_PTR = (uint32_t)(uintptr_t)&s_rx_dma[s_rx_active ^ 1u];
    }
    if (UARTE_EVENTS_ERROR != 0u) {
        UARTE_EVENTS_ERROR = 0u;
        UARTE_ERRORSRC = UARTE_ERRORSRC; /* write 1 to clear: framing, parity, overrun, break */
    }
    if (UARTE_EVENTS_RXTO != 0u) { /* receiver stopped (should not happen): start it again */
        UARTE_EVENTS_RXTO = 0u;
        UARTE_RXD_PTR = (uint32_t)(uintptr_t)&s_rx_dma[s_rx_active];
        UARTE_TASKS_STARTRX = 1u;
    }
}

static void uart_rx_start(void)
{
    s_rx_head = s_rx_tail = 0u;
    s_rx_dropped = 0u;
    s_rx_active = 0u;
    UARTE_EVENTS_ENDRX = 0u;
    UARTE_EVENTS_RXSTARTED = 0u;
    UARTE_EVENTS_ERROR = 0u;
    UARTE_EVENTS_RXTO = 0u;
    UARTE_RXD_PTR = (uint32_t)(uintptr_t)&s_rx_dma[0];
    UARTE_RXD_MAXCNT = 1u;
    UARTE_SHORTS = UARTE_SHORTS_ENDRX_STARTRX;
    UARTE_INTENSET = UARTE_INT_ENDRX | UARTE_INT_RXSTARTED | UARTE_INT_ERROR | UARTE_INT_RXTO;
    NVIC_ICPR0 = 1u << UARTE0_IRQN;
    NVIC_ISER0 = 1u << UARTE0_IRQN;
    UARTE_TASKS_STARTRX = 1u;
}

void port_init(void)
{
    CLOCK_EVENTS_HFCLKSTARTED = 0u;
    CLOCK_TASKS_HFCLKSTART = 1u;
    wait_event(&CLOCK_EVENTS_HFCLKSTARTED);

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

    uart_rx_start();
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
    uint8_t *out = buf;
    uint32_t start = port_tick_ms();
    while (s_rx_head == s_rx_tail) {
        if ((uint32_t)(port_tick_ms() - start) >= timeout_ms) {
            return 0;
        }
        __asm__ volatile("wfi"); /* SysTick or UARTE0 wakes the core */
    }
    dmb();
    uint32_t tail = s_rx_tail;
    uint32_t avail = s_rx_head - tail;
    size_t n = avail < cap ? avail : cap;
    for (size_t i = 0; i < n; i++) {
        out[i] = s_rx_ring[(tail + i) & (RX_RING - 1u)];
    }
    dmb();
    s_rx_tail = tail + (uint32_t)n;
    return n;
}

uint32_t port_tick_ms(void)
{
    return s_ms;
}

/* ------------------------------------------------------------------- ADC */

/* ticks to the next sample: period, plus one whenever the carried remainder reaches a whole tick */
static uint32_t adc_next_period(void)
{
    uint32_t p = s_adc_period;
    s_adc_acc += s_adc_rem;
    if (s_adc_acc >= s_adc_rate) {
        s_adc_acc -= s_adc_rate;
        p++;
    }
    return p;
}

void SAADC_IRQHandler(void)
{
    if (SAADC_EVENTS_END == 0u) {
        return;
    }
    SAADC_EVENTS_END = 0u;
    TIMER1_EVENTS_COMPARE0 = 0u;
    uint32_t done = s_adc_active;
    s_adc_active = done ^ 1u;

    /* next sampling instant; a late interrupt (the count already past it) resynchronises */
    uint32_t next = TIMER1_CC0 + adc_next_period();
    TIMER1_TASKS_CAPTURE1 = 1u;
    if ((int32_t)(next - TIMER1_CC1) <= 16) {
        next = TIMER1_CC1 + s_adc_period;
        s_adc_overruns++;
    }
    TIMER1_CC0 = next;

    /* re-arm the converter on the other buffer before the next SAMPLE */
    SAADC_RESULT_PTR = (uint32_t)(uintptr_t)&s_adc_dma[s_adc_active];
    SAADC_TASKS_START = 1u;

    uint32_t head = s_adc_head;
    if (head - s_adc_tail < ADC_RING) {
        s_adc_ring[head & (ADC_RING - 1u)] = s_adc_dma[done];
        dmb();
        s_adc_head = head + 1u;
    } else {
        s_adc_overruns++;
    }
}

static void adc_stop(void)
{
    NVIC_ICER0 = 1u << SAADC_IRQN;
    PPI_CHENCLR = 1u << PPI_CH_ADC;
    TIMER1_TASKS_STOP = 1u;
    SAADC_INTENCLR = 0xFFFFFFFFu;
    if (SAADC_ENABLE != 0u) {
        SAADC_EVENTS_STOPPED = 0u;
        SAADC_TASKS_STOP = 1u;
        wait_event(&SAADC_EVENTS_STOPPED);
    }
}

bool port_adc_start(uint32_t rate_hz)
{
    if (rate_hz == 0u || rate_hz > ADC_RATE_MAX) {
        return false;
    }
    adc_stop();

    s_adc_rate = rate_hz;
    s_adc_period = TIMER_HZ / rate_hz;
    s_adc_rem = TIMER_HZ % rate_hz;
    s_adc_acc = 0u;
    s_adc_head = s_adc_tail = 0u;
    s_adc_overruns = 0u;
    s_adc_active = 0u;

    SAADC_ENABLE = 0u;
    SAADC_RESOLUTION = SAADC_RESOLUTION_12BIT;
    SAADC_OVERSAMPLE = 0u; /* bypass */
    SAADC_SAMPLERATE = 0u; /* MODE task: SAMPLE comes from TIMER1 through PPI */
    SAADC_CH0_PSELP = SAADC_PSEL_AIN0;
    SAADC_CH0_PSELN = SAADC_PSEL_NC;
    SAADC_CH0_CONFIG = SAADC_CH_CONFIG_ECG;
    SAADC_ENABLE = 1u;

    SAADC_EVENTS_CALIBRATEDONE = 0u;
    SAADC_TASKS_CALIBRATEOFFSET = 1u;
    wait_event(&SAADC_EVENTS_CALIBRATEDONE);

    SAADC_RESULT_PTR = (uint32_t)(uintptr_t)&s_adc_dma[0];
    SAADC_RESULT_MAXCNT = 1u; /* one 16-bit result per buffer */
    SAADC_EVENTS_END = 0u;
    SAADC_EVENTS_STARTED = 0u;
    SAADC_TASKS_START = 1u;
    wait_event(&SAADC_EVENTS_STARTED);
    SAADC_INTENSET = SAADC_INT_END;
    NVIC_ICPR0 = 1u << SAADC_IRQN;
    NVIC_ISER0 = 1u << SAADC_IRQN;

    /* TIMER1: 16 MHz, 32 bit, free running; COMPARE[0] -> PPI channel 0 -> SAADC SAMPLE */
    TIMER1_TASKS_STOP = 1u;
    TIMER1_TASKS_CLEAR = 1u;
    TIMER1_MODE = 0u; /* timer */
    TIMER1_BITMODE = TIMER_BITMODE_32;
    TIMER1_PRESCALER = 0u; /* 16 MHz / 2^0 */
    TIMER1_SHORTS = 0u;
    TIMER1_EVENTS_COMPARE0 = 0u;
    TIMER1_CC0 = adc_next_period();
    PPI_CH0_EEP = TIMER1_EVENTS_COMPARE0_ADDR;
    PPI_CH0_TEP = SAADC_TASKS_SAMPLE_ADDR;
    PPI_CHENSET = 1u << PPI_CH_ADC;
    TIMER1_TASKS_START = 1u;
    return true;
}

size_t port_adc_read(int16_t *out, size_t cap)
{
    uint32_t tail = s_adc_tail;
    uint32_t avail = s_adc_head - tail;
    dmb();
    size_t n = avail < cap ? avail : cap;
    for (size_t i = 0; i < n; i++) {
        out[i] = s_adc_ring[(tail + i) & (ADC_RING - 1u)];
    }
    dmb();
    s_adc_tail = tail + (uint32_t)n;
    return n;
}

uint32_t port_adc_overruns(void)
{
    return s_adc_overruns;
}

void port_exit(int code)
{
    (void)code;
    __asm__ volatile("cpsid i" ::: "memory");
    for (;;) {
        __asm__ volatile("wfi");
    }
}
