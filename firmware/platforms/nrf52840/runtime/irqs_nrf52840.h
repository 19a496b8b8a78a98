/*
 * irqs_nrf52840.h - the device interrupts of the nRF52840 (Cortex-M4F, 48 external interrupts; see the
 * nRF52840 Product Specification, "Instantiation"), for the shared vector table
 * (firmware/platforms/cortex-m-common/runtime/vectors_cm4f.c). Lines not listed go to Default_Handler.
 */
#ifndef IRQS_NRF52840_H
#define IRQS_NRF52840_H

#define BOARD_EXTERNAL_IRQS 48

#define BOARD_IRQS(IRQ)             \
    IRQ(0, POWER_CLOCK_IRQHandler)  \
    IRQ(2, UARTE0_UART0_IRQHandler) \
    IRQ(6, GPIOTE_IRQHandler)       \
    IRQ(7, SAADC_IRQHandler)        \
    IRQ(8, TIMER0_IRQHandler)       \
    IRQ(11, RTC0_IRQHandler)

#endif /* IRQS_NRF52840_H */
