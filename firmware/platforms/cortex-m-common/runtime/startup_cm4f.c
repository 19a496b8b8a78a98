/*
 * startup_cm4f.c - reset and C runtime start for the Cortex-M4F boards.
 *
 * Reset_Handler (entry 1 of the vector table, see vectors_cm4f.c):
 *   1. grants full access to the FPU (CP10/CP11): code is built with
 *      -mfloat-abi=hard, so no floating-point instruction may run before this;
 *   2. copies .data from its load image in flash to RAM and zeroes .bss;
 *   3. runs the static constructors (.preinit_array, .init_array);
 *   4. calls main() and hands its return value to _exit().
 * The initial stack pointer (entry 0) is __stack_top__ from the linker script.
 *
 * Also here: _sbrk() for newlib-nano's malloc (heap between the end of .bss
 * and the bottom of the stack) and a weak _exit(), which a port overrides.
 * The exception handlers and their Default_Handler are in vectors_cm4f.c.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>

extern uint32_t __data_load__[];
extern uint32_t __data_start__[];
extern uint32_t __data_end__[];
extern uint32_t __bss_start__[];
extern uint32_t __bss_end__[];
extern uint8_t __heap_start__[];
extern uint8_t __heap_end__[];

typedef void (*init_fn_t)(void);
extern init_fn_t __preinit_array_start[];
extern init_fn_t __preinit_array_end[];
extern init_fn_t __init_array_start[];
extern init_fn_t __init_array_end[];

int main(void);
void _exit(int code) __attribute__((noreturn));
void Reset_Handler(void) __attribute__((noreturn));
void *_sbrk(ptrdiff_t increment);

#define SCB_CPACR (*(volatile uint32_t *)0xE000ED88u)

/* Word loops written out by hand; `optimize` keeps GCC from turning them
 * into memcpy/memset calls before the C library may be used. */
__attribute__((optimize("no-tree-loop-distribute-patterns"))) void Reset_Handler(void)
{
    SCB_CPACR |= (0xFu << 20); /* CP10 and CP11: full access */
    __asm__ volatile("dsb\n\tisb" ::: "memory");

    const uint32_t *src = __data_load__;
    for (uint32_t *dst = __data_start__; dst < __data_end__;) {
        *dst++ = *src++;
    }
    for (uint32_t *dst = __bss_start__; dst < __bss_end__;) {
        *dst++ = 0u;
    }

    for (init_fn_t *fn = __preinit_array_start; fn < __preinit_array_end; ++fn) {
        (*fn)();
    }
    for (init_fn_t *fn = __init_array_start; fn < __init_array_end; ++fn) {
        (*fn)();
    }

    _exit(main());
}

/* Weak: a port replaces it (QEMU: semihosting exit with the status). */
__attribute__((weak)) void _exit(int code)
{
    (void)code;
    __asm__ volatile("cpsid i" ::: "memory");
    for (;;) {
        __asm__ volatile("wfi");
    }
}

void *_sbrk(ptrdiff_t increment)
{
    static uint8_t *brk = __heap_start__;
    uint8_t *prev = brk;
    if (increment > __heap_end__ - brk || increment < __heap_start__ - brk) {
        errno = ENOMEM;
        return (void *)-1;
    }
    brk += increment;
    return prev;
}
