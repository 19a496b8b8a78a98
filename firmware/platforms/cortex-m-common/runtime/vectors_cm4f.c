/*
 * vectors_cm4f.c - the vector table of the Cortex-M4F boards: the core's exceptions (the same on every
 * Cortex-M4, Armv7-M ARM B1.5.2) defined here once, followed by the board's device interrupts, which the
 * board's header lists (irqs_<board>.h, named by the board manifest's build.irqs; the builder passes it
 * as CM4F_BOARD_IRQS). The header defines
 *
 *   BOARD_EXTERNAL_IRQS       the number of device interrupt lines
 *   BOARD_IRQS(IRQ)           IRQ(number, handler) for each line a port or module may handle
 *
 * Every handler is a weak alias of Default_Handler that a port or module may define for real; lines the
 * board's list leaves out go straight to Default_Handler. Reset_Handler is in startup_cm4f.c.
 */
#include <stdint.h>

#ifndef CM4F_BOARD_IRQS
#error "CM4F_BOARD_IRQS must name the board's interrupt list (the builder sets it from build.irqs)"
#endif
#include CM4F_BOARD_IRQS

extern uint32_t __stack_top__[];
void Reset_Handler(void);
void Default_Handler(void);

/* Unhandled exception or interrupt: stop here, where a debugger can see it. */
void Default_Handler(void)
{
    for (;;) {
    }
}

#define WEAK_HANDLER(name) void name(void) __attribute__((weak, alias("Default_Handler")))

WEAK_HANDLER(NMI_Handler);
WEAK_HANDLER(HardFault_Handler);
WEAK_HANDLER(MemManage_Handler);
WEAK_HANDLER(BusFault_Handler);
WEAK_HANDLER(UsageFault_Handler);
WEAK_HANDLER(SVC_Handler);
WEAK_HANDLER(DebugMon_Handler);
WEAK_HANDLER(PendSV_Handler);
WEAK_HANDLER(SysTick_Handler);

#define DECLARE_IRQ(number, name) WEAK_HANDLER(name);
BOARD_IRQS(DECLARE_IRQ)

typedef void (*vector_t)(void);

/* Every device line starts as Default_Handler and the board's list then names its handlers: a designated
 * initializer may override an earlier one, which is what -Woverride-init warns about. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Woverride-init"
#define IRQ_ENTRY(number, name) [16 + (number)] = name,

__attribute__((section(".isr_vector"), used)) const vector_t g_vector_table[16 + BOARD_EXTERNAL_IRQS] = {
    [0] = (vector_t)(uintptr_t)__stack_top__,
    [1] = Reset_Handler,
    [2] = NMI_Handler,
    [3] = HardFault_Handler,
    [4] = MemManage_Handler,
    [5] = BusFault_Handler,
    [6] = UsageFault_Handler,
    [11] = SVC_Handler,
    [12] = DebugMon_Handler,
    [14] = PendSV_Handler,
    [15] = SysTick_Handler,
    [16 ... 16 + BOARD_EXTERNAL_IRQS - 1] = Default_Handler,
    BOARD_IRQS(IRQ_ENTRY) /* the board's device interrupts */
};

#pragma GCC diagnostic pop
