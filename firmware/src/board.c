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

void board_paint_stack(void)
{
}

#endif
