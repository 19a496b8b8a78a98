/*
 * Vector table of the QEMU mps2-an386 (Cortex-M4, 32 external interrupts;
 * numbering from Arm AN386 / QEMU hw/arm/mps2.c). Every handler is a weak
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

WEAK_HANDLER(UART0_RX_IRQHandler);   /* IRQ 0 */
WEAK_HANDLER(UART0_TX_IRQHandler);   /* IRQ 1 */
WEAK_HANDLER(TIMER0_IRQHandler);     /* IRQ 8 */
WEAK_HANDLER(TIMER1_IRQHandler);     /* IRQ 9 */
WEAK_HANDLER(DUALTIMER_IRQHandler);  /* IRQ 10 */
WEAK_HANDLER(UART_OVF_IRQHandler);   /* IRQ 12: UART 0-2 overflow */

#define EXTERNAL_IRQS 32

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
    [16 + 0] = UART0_RX_IRQHandler,
    [16 + 1] = UART0_TX_IRQHandler,
    [16 + 2 ... 16 + 7] = Default_Handler,
    [16 + 8] = TIMER0_IRQHandler,
    [16 + 9] = TIMER1_IRQHandler,
    [16 + 10] = DUALTIMER_IRQHandler,
    [16 + 11] = Default_Handler,
    [16 + 12] = UART_OVF_IRQHandler,
    [16 + 13 ... 16 + EXTERNAL_IRQS - 1] = Default_Handler,
};
