/*
 * irqs_mps2_an386.h - the device interrupts of the QEMU mps2-an386 (Cortex-M4, 32 external interrupts;
 * numbering from Arm AN386 / QEMU hw/arm/mps2.c), for the shared vector table
 * (firmware/platforms/cortex-m-common/runtime/vectors_cm4f.c). Lines not listed go to Default_Handler.
 */
#ifndef IRQS_MPS2_AN386_H
#define IRQS_MPS2_AN386_H

#define BOARD_EXTERNAL_IRQS 32

#define BOARD_IRQS(IRQ)           \
    IRQ(0, UART0_RX_IRQHandler)   \
    IRQ(1, UART0_TX_IRQHandler)   \
    IRQ(8, TIMER0_IRQHandler)     \
    IRQ(9, TIMER1_IRQHandler)     \
    IRQ(10, DUALTIMER_IRQHandler) \
    IRQ(12, UART_OVF_IRQHandler) /* UART 0-2 overflow */

#endif /* IRQS_MPS2_AN386_H */
