/*
 * test_qemu_runtime - what the platform's startup and linker script promise,
 * checked on the emulated Cortex-M4F (QEMU mps2-an386) only.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

#include "hbtest.h"
#include "port.h"

#define REG32(addr) (*(volatile uint32_t *)(addr))
#define SCB_VTOR REG32(0xE000ED08u)
#define SCB_CPACR REG32(0xE000ED88u)

extern uint32_t __stack_top__[];
extern uint8_t __heap_start__[];
extern uint8_t __heap_end__[];
void Reset_Handler(void);

/* .data: must hold these values before main() runs */
static volatile uint32_t s_data_word = 0xC0FFEE42u;
static volatile float s_data_float = 1.5f;
/* .bss: must be zero before main() runs */
static volatile uint32_t s_bss_words[64];

static void test_data_is_copied_from_flash(hbtest_t *t)
{
    HBTEST_CHECK(t, s_data_word == 0xC0FFEE42u);
    HBTEST_CHECK(t, s_data_float == 1.5f);
    s_data_word = 7u; /* .data lives in RAM: writable */
    HBTEST_CHECK(t, s_data_word == 7u);
}

static void test_bss_is_zeroed(hbtest_t *t)
{
    bool all_zero = true;
    for (size_t i = 0; i < sizeof s_bss_words / sizeof s_bss_words[0]; i++) {
        all_zero = all_zero && s_bss_words[i] == 0u;
    }
    HBTEST_CHECK(t, all_zero);
}

static void test_vector_table_is_at_zero_with_our_stack_and_reset(hbtest_t *t)
{
    const uint32_t *vectors = (const uint32_t *)(uintptr_t)SCB_VTOR;
    HBTEST_CHECK(t, SCB_VTOR == 0u);
    HBTEST_CHECK(t, vectors[0] == (uint32_t)(uintptr_t)__stack_top__);
    HBTEST_CHECK(t, vectors[1] == ((uint32_t)(uintptr_t)Reset_Handler | 1u)); /* Thumb */
    HBTEST_CHECK(t, (uint32_t)(uintptr_t)__stack_top__ == 0x20400000u);       /* end of SSRAM2/3 */
}

static void test_fpu_is_enabled_and_used(hbtest_t *t)
{
    HBTEST_CHECK(t, ((SCB_CPACR >> 20) & 0xFu) == 0xFu);
    volatile float a = 1.5f;
    volatile float b = 2.25f;
    float product = a * b; /* vmul.f32: would fault with the FPU off */
    HBTEST_CHECK(t, product == 3.375f);
    volatile float four = 4.0f;
    HBTEST_CHECK(t, __builtin_sqrtf(four) == 2.0f); /* vsqrt.f32 */
}

static void test_heap_comes_from_ram_between_bss_and_stack(hbtest_t *t)
{
    uint8_t *p = malloc(4096);
    HBTEST_CHECK(t, p != NULL);
    HBTEST_CHECK(t, p >= __heap_start__ && p + 4096 <= __heap_end__);
    free(p);
    HBTEST_CHECK(t, malloc((size_t)(__heap_end__ - __heap_start__) + 1u) == NULL);
}

int main(void)
{
    hbtest_t t;
    port_init();
    hbtest_begin(&t);
    hbtest_run(&t, "data_is_copied_from_flash", test_data_is_copied_from_flash);
    hbtest_run(&t, "bss_is_zeroed", test_bss_is_zeroed);
    hbtest_run(&t, "vector_table_is_at_zero_with_our_stack_and_reset",
               test_vector_table_is_at_zero_with_our_stack_and_reset);
    hbtest_run(&t, "fpu_is_enabled_and_used", test_fpu_is_enabled_and_used);
    hbtest_run(&t, "heap_comes_from_ram_between_bss_and_stack", test_heap_comes_from_ram_between_bss_and_stack);
    port_exit(hbtest_end(&t));
}
