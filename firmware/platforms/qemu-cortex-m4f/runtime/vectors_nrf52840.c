/*
 * Vector table of the nRF52840 (Cortex-M4F, 48 external interrupts; see the
 * nRF52840 Product Specification, "Instantiation"). Every handler is a weak
 * alias of Default_Handler that a port or module may define for real.
 */
#include <stdint.h>

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

WEAK_HANDLER(POWER_CLOCK_IRQHandler);  /* IRQ 0 */
WEAK_HANDLER(UARTE0_UART0_IRQHandler); /* IRQ 2 */
WEAK_HANDLER(GPIOTE_IRQHandler);       /* IRQ 6 */
WEAK_HANDLER(SAADC_IRQHandler);        /* IRQ 7 */
WEAK_HANDLER(TIMER0_IRQHandler);       /* IRQ 8 */
WEAK_HANDLER(RTC0_IRQHandler);         /* IRQ 11 */

#define EXTERNAL_IRQS 48

typedef void (*vector_t)(void);

__attribute__((section(".isr_vector"), used))
const vector_t g_vector_table[16 + EXTERNAL_IRQS] = {
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
    [16 + 0] = POWER_CLOCK_IRQHandler,
    [16 + 1] = Default_Handler,
    [16 + 2] = UARTE0_UART0_IRQHandler,
    [16 + 3 ... 16 + 5] = Default_Handler,
    [16 + 6] = GPIOTE_IRQHandler,
    [16 + 7] = SAADC_IRQHandler,
    [16 + 8] = TIMER0_IRQHandler,
    [16 + 9 ... 16 + 10] = Default_Handler,
    [16 + 11] = RTC0_IRQHandler,
    [16 + 12 ... 16 + EXTERNAL_IRQS - 1] = Default_Handler,
};
