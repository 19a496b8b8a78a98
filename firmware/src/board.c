/* board.c - see board.h. */
#include "board.h"

#include "port.h"

#if defined(__arm__)

#define REG32(addr) (*(volatile uint32_t *)(addr))
#define SYST_RVR REG32(0xE000E014u)
#define SYST_CVR REG32(0xE000E018u)
#define SCB_ICSR REG32(0xE000ED04u)
#define ICSR_PENDSTSET (1u << 26)

uint32_t board_cycles(void)
{
    uint32_t reload = (SYST_RVR & 0x00FFFFFFu) + 1u;
    uint32_t ms, cvr, pending;
    do {
        ms = port_tick_ms();
        cvr = SYST_CVR;
        pending = SCB_ICSR & ICSR_PENDSTSET;
    } while (ms != port_tick_ms());
    /* SysTick wrapped but its interrupt has not run yet: that millisecond is over */
    if (pending != 0u && cvr > reload / 2u) {
        ms++;
    }
    return ms * reload + (reload - 1u - cvr);
}

#if defined(BOARD_MPS2_AN386)

#define SEMIHOST_SYS_TIME 0x11u
#define SEMIHOST_SYS_ELAPSED 0x30u

static uint32_t semihost(uint32_t op, volatile uint32_t *block)
{
    register uint32_t r0 __asm__("r0") = op;
    register volatile uint32_t *r1 __asm__("r1") = block;
    __asm__ volatile("bkpt 0xAB" : "+r"(r0) : "r"(r1) : "memory");
    return r0;
}

uint32_t board_entropy(void)
{
    volatile uint32_t elapsed[2] = {0u, 0u};
    uint32_t seconds = semihost(SEMIHOST_SYS_TIME, NULL);
    if (semihost(SEMIHOST_SYS_ELAPSED, elapsed) != 0u) {
        elapsed[0] = elapsed[1] = 0u;
    }
    return elapsed[0] ^ (elapsed[1] * 0x9E3779B9u) ^ (seconds * 0x85EBCA6Bu);
}

#elif defined(BOARD_NRF52840)

#define RNG_BASE 0x4000D000u
#define RNG_TASKS_START REG32(RNG_BASE + 0x000u)
#define RNG_TASKS_STOP REG32(RNG_BASE + 0x004u)
#define RNG_EVENTS_VALRDY REG32(RNG_BASE + 0x100u)
#define RNG_CONFIG REG32(RNG_BASE + 0x504u)
#define RNG_VALUE REG32(RNG_BASE + 0x508u)

uint32_t board_entropy(void)
{
    uint32_t v = 0;
    RNG_CONFIG = 1u; /* DERCEN: bias correction */
    RNG_TASKS_START = 1u;
    for (unsigned i = 0; i < 4u; i++) {
        while (RNG_EVENTS_VALRDY == 0u) {
        }
        RNG_EVENTS_VALRDY = 0u;
        v = (v << 8) | (RNG_VALUE & 0xFFu);
    }
    RNG_TASKS_STOP = 1u;
    return v;
}

#else

uint32_t board_entropy(void)
{
    return 0u;
}

#endif

extern uint32_t __stack_limit__[];

/* Runs on the stack it paints: leaves a margin below its own frame. */
__attribute__((noinline)) void board_paint_stack(void)
{
    uint32_t here;
    volatile uint32_t *p = __stack_limit__;
    volatile uint32_t *end = (volatile uint32_t *)((uintptr_t)&here - 256u);
    while (p < end) {
        *p++ = BOARD_STACK_PAINT;
    }
}

#else

uint32_t board_cycles(void)
{
    return 0u;
}

uint32_t board_entropy(void)
{
    return 0u;
}

void board_paint_stack(void)
{
}

#endif
