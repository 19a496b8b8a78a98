/*
 * test_qemu_imgcrypto - what one signature check costs on the emulated
 * Cortex-M4F (QEMU mps2-an386, -icount shift=0), QEMU only: the stack it
 * needs, the heap mbedtls takes (and that repeated checks take no more),
 * the instructions of one ECDSA P-256 verification and of SHA-256 per KiB. It prints two lines
 *
 *   imgcrypto cost: verify_instructions=N verify_stack_bytes=N verify_heap_bytes=N
 *   imgcrypto cost: sha256_instructions_per_kib=N
 *
 * which tests/firmware/test_imgcrypto.py reads (benchmarks may too). The
 * checks are on what must hold for the figures to mean anything, never on
 * their size.
 *
 * Instructions: under -icount shift=0 one instruction is one nanosecond of
 * virtual time and SysTick counts the 25 MHz clock, so one SysTick count is
 * 40 instructions (the same reading as the application's BEAT cost).
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "hbtest.h"
#include "imgcrypto.h"
#include "imgcrypto_vectors.h"
#include "port.h"

#define REG32(addr) (*(volatile uint32_t *)(addr))
#define SYST_RVR REG32(0xE000E014u)
#define SYST_CVR REG32(0xE000E018u)
#define SYSTICK_HZ 25000000u
#define INSTRUCTIONS_PER_COUNT 40u /* 1 GHz of instructions (icount shift=0) / 25 MHz */
#define STACK_PAINT 0xA5C3E10Fu
#define SHA_BYTES 4096u

extern uint32_t __stack_limit__[];
/* the runtime's heap break (firmware/platforms/cortex-m-common/runtime/startup_cm4f.c) */
void *_sbrk(ptrdiff_t increment);

static uint8_t g_data[SHA_BYTES];

/* SysTick counts since port_init(): the millisecond tick and the counter, read consistently. */
static uint64_t systick_counts(void)
{
    uint32_t reload = (SYST_RVR & 0x00FFFFFFu) + 1u;
    uint32_t ms;
    uint32_t cvr;
    do {
        ms = port_tick_ms();
        cvr = SYST_CVR;
    } while (ms != port_tick_ms());
    return (uint64_t)ms * (SYSTICK_HZ / 1000u) + (reload - 1u - cvr);
}

static uint32_t sp_now(void)
{
    uint32_t sp;
    __asm__ volatile("mov %0, sp" : "=r"(sp));
    return sp;
}

/* Paints the free stack below the caller's frame; returns the top of the paint. */
__attribute__((noinline)) static uint32_t *paint_stack(void)
{
    uint32_t *top = (uint32_t *)(uintptr_t)((sp_now() - 64u) & ~3u);
    for (volatile uint32_t *p = __stack_limit__; p < top; p++) {
        *p = STACK_PAINT;
    }
    return top;
}

/* The lowest stack address written since paint_stack() (the paint's top if none). */
static uint32_t *lowest_touched(uint32_t *top)
{
    uint32_t *p = __stack_limit__;
    while (p < top && *p == STACK_PAINT) {
        p++;
    }
    return p;
}

static const iv_ecdsa_t *vector_named(const char *name)
{
    for (size_t i = 0; i < IV_N_ECDSA; i++) {
        if (strcmp(IV_ECDSA[i].name, name) == 0) {
            return &IV_ECDSA[i];
        }
    }
    return NULL;
}

typedef struct {
    imgcrypto_status_t status;
    uint32_t instructions;
    uint32_t stack_bytes;
    uint32_t heap_bytes;
    bool stack_measured; /* the paint reached below what was used, and was not all used */
} verify_cost_t;

/* The heap's break: newlib-nano's malloc grows its arena with _sbrk() and keeps it, so the growth over a call
 * is the most heap the call held at once (on a fresh heap). Leaks: the host build's LeakSanitizer. */
static uintptr_t heap_break(void)
{
    return (uintptr_t)_sbrk(0);
}

__attribute__((noinline)) static void measure_verify(const iv_ecdsa_t *v, verify_cost_t *cost)
{
    uintptr_t heap0 = heap_break();
    uint32_t sp0 = sp_now();
    uint32_t *top = paint_stack();
    uint64_t t0 = systick_counts();
    cost->status = imgcrypto_verify_p256(v->key, v->key_len, v->digest, v->sig, v->sig_len);
    uint64_t t1 = systick_counts();
    uint32_t *low = lowest_touched(top);
    uintptr_t heap1 = heap_break();

    cost->instructions = (uint32_t)((t1 - t0) * INSTRUCTIONS_PER_COUNT);
    cost->stack_bytes = sp0 - (uint32_t)(uintptr_t)low;
    cost->stack_measured = low < top && low > __stack_limit__;
    cost->heap_bytes = (uint32_t)(heap1 - heap0);
}

/* The first verification of the program (the heap is fresh): the one the
 * bootloader does, with the key as imgtool exports it (SubjectPublicKeyInfo). */
static void test_verify_cost_is_measured(hbtest_t *t)
{
    const iv_ecdsa_t *v = vector_named("good_spki");
    HBTEST_CHECK(t, v != NULL);
    if (v == NULL) {
        return;
    }
    verify_cost_t cost;
    memset(&cost, 0, sizeof cost);
    measure_verify(v, &cost);
    HBTEST_CHECK(t, cost.status == IMGCRYPTO_OK);
    HBTEST_CHECK(t, cost.stack_measured);
    HBTEST_CHECK(t, cost.heap_bytes > 0u); /* mbedtls's numbers come from the heap */
    HBTEST_CHECK(t, cost.instructions > 0u);
    hbtest_print("imgcrypto cost: verify_instructions=");
    hbtest_print_u32(cost.instructions);
    hbtest_print(" verify_stack_bytes=");
    hbtest_print_u32(cost.stack_bytes);
    hbtest_print(" verify_heap_bytes=");
    hbtest_print_u32(cost.heap_bytes);
    hbtest_print("\n");
}

/* SHA-256 of 4 KiB in one update; the digest is checked against a second,
 * byte-by-byte computation so the measured code did the whole work. */
static void test_sha256_cost_is_measured(hbtest_t *t)
{
    for (size_t i = 0; i < sizeof g_data; i++) {
        g_data[i] = (uint8_t)(i * 7u + 3u);
    }
    imgcrypto_sha256_t h;
    uint8_t once[IMGCRYPTO_SHA256_BYTES];
    uint64_t t0 = systick_counts();
    imgcrypto_sha256_init(&h);
    imgcrypto_sha256_update(&h, g_data, sizeof g_data);
    imgcrypto_sha256_finish(&h, once);
    uint64_t t1 = systick_counts();
    uint8_t bytewise[IMGCRYPTO_SHA256_BYTES];
    imgcrypto_sha256_init(&h);
    for (size_t i = 0; i < sizeof g_data; i++) {
        imgcrypto_sha256_update(&h, &g_data[i], 1u);
    }
    imgcrypto_sha256_finish(&h, bytewise);
    HBTEST_CHECK(t, memcmp(once, bytewise, sizeof once) == 0);
    uint32_t per_kib = (uint32_t)((t1 - t0) * INSTRUCTIONS_PER_COUNT / (SHA_BYTES / 1024u));
    HBTEST_CHECK(t, per_kib > 0u);
    hbtest_print("imgcrypto cost: sha256_instructions_per_kib=");
    hbtest_print_u32(per_kib);
    hbtest_print("\n");
}

/* Verifications after the first, accepted or refused, fit in the heap the
 * first one grew: mbedtls frees what it takes on every path, so the heap a
 * bootloader needs does not creep up over repeated checks. */
static void test_later_checks_take_no_more_heap(hbtest_t *t)
{
    static const char *const names[] = {"good_spki",     "flip_r",     "r_equals_n",
                                        "der_truncated", "flip_key_x", "good_point_sig72"};
    const iv_ecdsa_t *first = vector_named(names[0]);
    HBTEST_CHECK(t, first != NULL);
    if (first == NULL) {
        return;
    }
    HBTEST_CHECK(t, imgcrypto_verify_p256(first->key, first->key_len, first->digest, first->sig, first->sig_len) ==
                        IMGCRYPTO_OK);
    uintptr_t heap0 = heap_break();
    for (unsigned round = 0; round < 3u; round++) {
        for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
            const iv_ecdsa_t *v = vector_named(names[i]);
            HBTEST_CHECK(t, v != NULL);
            if (v != NULL) {
                HBTEST_CHECK(t, imgcrypto_verify_p256(v->key, v->key_len, v->digest, v->sig, v->sig_len) == v->expect);
            }
        }
    }
    HBTEST_CHECK(t, heap_break() == heap0);
}

int main(void)
{
    hbtest_t t;
    port_init();
    hbtest_begin(&t);
    hbtest_run(&t, "verify_cost_is_measured", test_verify_cost_is_measured);
    hbtest_run(&t, "sha256_cost_is_measured", test_sha256_cost_is_measured);
    hbtest_run(&t, "later_checks_take_no_more_heap", test_later_checks_take_no_more_heap);
    port_exit(hbtest_end(&t));
}
